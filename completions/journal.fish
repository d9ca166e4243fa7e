# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_journal_global_optspecs
    string join \n color= h/help V/version
end

function __fish_journal_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_journal_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_journal_using_subcommand
    set -l cmd (__fish_journal_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c journal -n "__fish_journal_needs_command" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR; always beats NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_needs_command" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_needs_command" -f -a "inspect" -d 'List events newest first, with filters, as a table or JSON'
complete -c journal -n "__fish_journal_needs_command" -f -a "tail" -d 'Print the last events, then follow new ones as they are appended (-f)'
complete -c journal -n "__fish_journal_needs_command" -f -a "recover" -d 'Print the max seq a restarting writer must continue from'
complete -c journal -n "__fish_journal_needs_command" -f -a "verify" -d 'Read every segment completely and name every defect exactly'
complete -c journal -n "__fish_journal_needs_command" -f -a "repair" -d 'Cut a torn tail as the engine does; optionally drop corrupt lines'
complete -c journal -n "__fish_journal_needs_command" -f -a "stats" -d 'Summarise a journal: sizes, events per type, sessions, time range, activity'
complete -c journal -n "__fish_journal_needs_command" -f -a "append" -d 'Append events from stdin (one JSON value per line), as the engine writes them'
complete -c journal -n "__fish_journal_needs_command" -f -a "prune" -d 'Delete the oldest segments (retention), safely, under the writer\'s claim'
complete -c journal -n "__fish_journal_needs_command" -f -a "generate-docs" -d 'Write the shell completions and man pages (for maintainers)'
complete -c journal -n "__fish_journal_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c journal -n "__fish_journal_using_subcommand inspect" -l format -d 'Read DIR as this journal format instead of detecting it by its shape' -r -f -a "segments\t'The bamboo engine\'s events-<seq>.jsonl segments'
sessions\t'The per-session store (aios-events): events/<session-id>.jsonl'
topics-jsonl\t'The per-topic event log\'s JSONL backend (harn-vm): topics/<topic>.jsonl, consumers/'
topics-sqlite\t'The per-topic event log\'s SQLite backend (harn-vm), read-only'
redb\t'The redb runtime journal (camel-core): a redb database file'"
complete -c journal -n "__fish_journal_using_subcommand inspect" -s n -l limit -d 'How many matching events to show [default: 20; with --since, --until or --seq, the whole range]' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l label -d 'With several journals: show the journal at PATH as NAME (default: its directory\'s name; parents added where two would share one)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -s o -l output -d 'Output format [default: table on a terminal, raw otherwise]' -r -f -a "table\t'Columns for people: seq, time, session, type, summary'
raw\t'The stored lines, byte for byte'
json\t'One JSON array of the records'
jsonl\t'One record per line, as compact JSON (no whitespace outside strings; field order and escapes as stored)'
envelope\t'One journal-envelope/1 object per record for programs that drop repeats: source, host, id (<source id>:<position>, the same on every read), position, record; a gap is an object with "type":"gap"'"
complete -c journal -n "__fish_journal_using_subcommand inspect" -l source-id -d 'The source id the envelope\'s ids start with (-o envelope) [default: derived from the host name and the directory\'s canonical path]' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l seq -d 'Only seqs in this inclusive range: A..B, A.., ..B, or N' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l since -d 'Only events with ts at or after TIME: RFC 3339, a date or date and time (local time, TZ), today, yesterday (local days), or a duration ago (2h, 30m, 7days). Assumes ts in seq order (to the second), as the engine\'s single writer stamps it: segments are bisected by their first ts and reading stops at the first event past the bound. Where a clock stepped back (verify warns: ts-backwards) that can miss events: see --exact-time' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l until -d 'Only events with ts at or before TIME (same forms as --since, and the same assumption of ts in seq order)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l session -d 'Only this session_id (repeat for any of several)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -s t -l type -d 'Only this event type (repeat for any of several); in the session store, the event\'s kind.type' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l branch -d 'Only this branch_id (session store; repeat for any of several)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l topic -d 'Only this topic (per-topic event log; repeat for any of several)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l route -d 'Only events of this route_id (redb journal; repeat for any of several)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -s w -l where -d 'Only events whose field equals VALUE (repeatable, all must hold). The path starts at the record (seq, ts, session_id, event) or else inside the event: role=user is event.role=user; items.0.id indexes arrays' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -s g -l grep -d 'Only lines matching this regular expression, tested on the line as stored (JSON escapes included)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR; always beats NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand inspect" -l snapshot -d 'redb journal: read a copy of the database, made in a temporary directory, instead of the file itself: for a database the runtime holds open, or one not closed cleanly (redb repairs the copy; the original is never written)'
complete -c journal -n "__fish_journal_using_subcommand inspect" -s a -l all -d 'Show every matching event (no limit)'
complete -c journal -n "__fish_journal_using_subcommand inspect" -l oldest-first -d 'Start from the oldest event instead of the newest'
complete -c journal -n "__fish_journal_using_subcommand inspect" -l exact-time -d 'With --since/--until, read every segment and every event instead of assuming ts in seq order (slower; finds events a stepped-back clock stamped out of order)'
complete -c journal -n "__fish_journal_using_subcommand inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand inspect" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand tail" -l format -d 'Read DIR as this journal format instead of detecting it by its shape' -r -f -a "segments\t'The bamboo engine\'s events-<seq>.jsonl segments'
sessions\t'The per-session store (aios-events): events/<session-id>.jsonl'
topics-jsonl\t'The per-topic event log\'s JSONL backend (harn-vm): topics/<topic>.jsonl, consumers/'
topics-sqlite\t'The per-topic event log\'s SQLite backend (harn-vm), read-only'
redb\t'The redb runtime journal (camel-core): a redb database file'"
complete -c journal -n "__fish_journal_using_subcommand tail" -s n -l lines -d 'How many of the last matching events to print before following [default: 10]' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -l from-seq -d 'Start after this seq instead of with the last N events' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -l label -d 'With several journals: show the journal at PATH as NAME (default: its directory\'s name; parents added where two would share one)' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -l cursor-file -d 'Start after the seq stored in FILE; when FILE does not exist, where -n or --from-seq say (`-n 0`: from now), else from the oldest event. FILE is rewritten atomically with the last seq processed once its events are written to stdout' -r -F
complete -c journal -n "__fish_journal_using_subcommand tail" -l poll -d 'Check for changes every DURATION (500ms, 2s) instead of watching the directory: for file systems without change notification (network mounts); at least 10ms' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -s o -l output -d 'Output format [default: table on a terminal, raw otherwise]' -r -f -a "table\t'Columns for people: seq, time, session, type, summary'
raw\t'The stored lines, byte for byte'
json\t'One JSON array of the records'
jsonl\t'One record per line, as compact JSON (no whitespace outside strings; field order and escapes as stored)'
envelope\t'One journal-envelope/1 object per record for programs that drop repeats: source, host, id (<source id>:<position>, the same on every read), position, record; a gap is an object with "type":"gap"'"
complete -c journal -n "__fish_journal_using_subcommand tail" -l source-id -d 'The source id the envelope\'s ids start with (-o envelope) [default: derived from the host name and the directory\'s canonical path]' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -l seq -d 'Only seqs in this inclusive range: A..B, A.., ..B, or N' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -l since -d 'Only events with ts at or after TIME: RFC 3339, a date or date and time (local time, TZ), today, yesterday (local days), or a duration ago (2h, 30m, 7days). Assumes ts in seq order (to the second), as the engine\'s single writer stamps it: segments are bisected by their first ts and reading stops at the first event past the bound. Where a clock stepped back (verify warns: ts-backwards) that can miss events: see --exact-time' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -l until -d 'Only events with ts at or before TIME (same forms as --since, and the same assumption of ts in seq order)' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -l session -d 'Only this session_id (repeat for any of several)' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -s t -l type -d 'Only this event type (repeat for any of several); in the session store, the event\'s kind.type' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -l branch -d 'Only this branch_id (session store; repeat for any of several)' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -l topic -d 'Only this topic (per-topic event log; repeat for any of several)' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -l route -d 'Only events of this route_id (redb journal; repeat for any of several)' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -s w -l where -d 'Only events whose field equals VALUE (repeatable, all must hold). The path starts at the record (seq, ts, session_id, event) or else inside the event: role=user is event.role=user; items.0.id indexes arrays' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -s g -l grep -d 'Only lines matching this regular expression, tested on the line as stored (JSON escapes included)' -r
complete -c journal -n "__fish_journal_using_subcommand tail" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR; always beats NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand tail" -l snapshot -d 'redb journal: read a copy of the database, made in a temporary directory, instead of the file itself: for a database the runtime holds open, or one not closed cleanly (redb repairs the copy; the original is never written)'
complete -c journal -n "__fish_journal_using_subcommand tail" -s f -l follow -d 'Keep printing new events as they are appended, across rotation, pruning and writer restarts, until interrupted'
complete -c journal -n "__fish_journal_using_subcommand tail" -l retry -d 'Keep trying when the journal directory does not exist yet, or is removed and recreated while following (like tail -F)'
complete -c journal -n "__fish_journal_using_subcommand tail" -l ack-stdin -d 'Advance the cursor file only over records the consumer acknowledged on our stdin: a line ACK per line read (record or gap), in order, or ACK <id> for every line up to that envelope id (or its position); at-least-once across crashes, one position per source and stream. Stdin\'s end stops tail (exit 0). Needs --cursor-file'
complete -c journal -n "__fish_journal_using_subcommand tail" -l stop-at-end -d 'With --follow: stop once everything there is was read (and, with --ack-stdin, acknowledged), for scheduled runs'
complete -c journal -n "__fish_journal_using_subcommand tail" -l exact-time -d 'With --since/--until, read every segment and every event instead of assuming ts in seq order (slower; finds events a stepped-back clock stamped out of order)'
complete -c journal -n "__fish_journal_using_subcommand tail" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand tail" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand recover" -l format -d 'Read DIR as this journal format instead of detecting it by its shape' -r -f -a "segments\t'The bamboo engine\'s events-<seq>.jsonl segments'
sessions\t'The per-session store (aios-events): events/<session-id>.jsonl'
topics-jsonl\t'The per-topic event log\'s JSONL backend (harn-vm): topics/<topic>.jsonl, consumers/'
topics-sqlite\t'The per-topic event log\'s SQLite backend (harn-vm), read-only'
redb\t'The redb runtime journal (camel-core): a redb database file'"
complete -c journal -n "__fish_journal_using_subcommand recover" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR; always beats NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand recover" -l snapshot -d 'redb journal: read a copy of the database, made in a temporary directory, instead of the file itself: for a database the runtime holds open, or one not closed cleanly (redb repairs the copy; the original is never written)'
complete -c journal -n "__fish_journal_using_subcommand recover" -l json -d 'Print max_seq, next_seq, oldest_seq, segment count, newest segment, last valid line and any torn tail as JSON'
complete -c journal -n "__fish_journal_using_subcommand recover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand recover" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand verify" -l format -d 'Read DIR as this journal format instead of detecting it by its shape' -r -f -a "segments\t'The bamboo engine\'s events-<seq>.jsonl segments'
sessions\t'The per-session store (aios-events): events/<session-id>.jsonl'
topics-jsonl\t'The per-topic event log\'s JSONL backend (harn-vm): topics/<topic>.jsonl, consumers/'
topics-sqlite\t'The per-topic event log\'s SQLite backend (harn-vm), read-only'
redb\t'The redb runtime journal (camel-core): a redb database file'"
complete -c journal -n "__fish_journal_using_subcommand verify" -s j -l threads -d 'Segments checked in parallel [default: the number of CPUs]' -r
complete -c journal -n "__fish_journal_using_subcommand verify" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR; always beats NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand verify" -l snapshot -d 'redb journal: read a copy of the database, made in a temporary directory, instead of the file itself: for a database the runtime holds open, or one not closed cleanly (redb repairs the copy; the original is never written)'
complete -c journal -n "__fish_journal_using_subcommand verify" -l json -d 'Print the report as one JSON object (schema below)'
complete -c journal -n "__fish_journal_using_subcommand verify" -l strict -d 'Treat warnings (torn tail, lines the engine would skip) as errors'
complete -c journal -n "__fish_journal_using_subcommand verify" -s q -l quiet -d 'Print nothing; the exit status says it all'
complete -c journal -n "__fish_journal_using_subcommand verify" -l deep -d 'redb journal: also run redb\'s own integrity check, on a copy of the database (it may repair what it checks, so never on the original)'
complete -c journal -n "__fish_journal_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand verify" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand repair" -l format -d 'Read DIR as this journal format instead of detecting it by its shape' -r -f -a "segments\t'The bamboo engine\'s events-<seq>.jsonl segments'
sessions\t'The per-session store (aios-events): events/<session-id>.jsonl'
topics-jsonl\t'The per-topic event log\'s JSONL backend (harn-vm): topics/<topic>.jsonl, consumers/'
topics-sqlite\t'The per-topic event log\'s SQLite backend (harn-vm), read-only'
redb\t'The redb runtime journal (camel-core): a redb database file'"
complete -c journal -n "__fish_journal_using_subcommand repair" -l wait -d 'How long to wait for the writer\'s claim (e.g. 500ms, 10s)' -r
complete -c journal -n "__fish_journal_using_subcommand repair" -l as-user -d 'Act as USER (name or numeric uid): drop root\'s privileges to USER\'s uid and primary group before touching the journal, as logrotate\'s `su` does. Required as root for a directory that group or others can write to; USER should be the directory\'s owner' -r
complete -c journal -n "__fish_journal_using_subcommand repair" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR; always beats NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand repair" -l drop-corrupt-lines -d 'Also rewrite segments with corrupt lines inside them, without those lines (each removed line goes to quarantine first)'
complete -c journal -n "__fish_journal_using_subcommand repair" -s n -l dry-run -d 'Print the exact plan and change nothing'
complete -c journal -n "__fish_journal_using_subcommand repair" -l json -d 'Print the plan and the result as one JSON object'
complete -c journal -n "__fish_journal_using_subcommand repair" -l force -d 'Per-session store: repair a session file even while another process holds it open (the store takes no lock; holders are found in /proc)'
complete -c journal -n "__fish_journal_using_subcommand repair" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand repair" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand stats" -l format -d 'Read DIR as this journal format instead of detecting it by its shape' -r -f -a "segments\t'The bamboo engine\'s events-<seq>.jsonl segments'
sessions\t'The per-session store (aios-events): events/<session-id>.jsonl'
topics-jsonl\t'The per-topic event log\'s JSONL backend (harn-vm): topics/<topic>.jsonl, consumers/'
topics-sqlite\t'The per-topic event log\'s SQLite backend (harn-vm), read-only'
redb\t'The redb runtime journal (camel-core): a redb database file'"
complete -c journal -n "__fish_journal_using_subcommand stats" -l rotate-bytes -d 'The rotation threshold the newest segment\'s fill is measured against' -r
complete -c journal -n "__fish_journal_using_subcommand stats" -l buckets -d 'Buckets in the histogram of events over time' -r
complete -c journal -n "__fish_journal_using_subcommand stats" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR; always beats NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand stats" -l snapshot -d 'redb journal: read a copy of the database, made in a temporary directory, instead of the file itself: for a database the runtime holds open, or one not closed cleanly (redb repairs the copy; the original is never written)'
complete -c journal -n "__fish_journal_using_subcommand stats" -l json -d 'Print the stats as one JSON object'
complete -c journal -n "__fish_journal_using_subcommand stats" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand stats" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand append" -l format -d 'Read DIR as this journal format instead of detecting it by its shape' -r -f -a "segments\t'The bamboo engine\'s events-<seq>.jsonl segments'
sessions\t'The per-session store (aios-events): events/<session-id>.jsonl'
topics-jsonl\t'The per-topic event log\'s JSONL backend (harn-vm): topics/<topic>.jsonl, consumers/'
topics-sqlite\t'The per-topic event log\'s SQLite backend (harn-vm), read-only'
redb\t'The redb runtime journal (camel-core): a redb database file'"
complete -c journal -n "__fish_journal_using_subcommand append" -l session -d 'Set session_id to ID on every appended record' -r
complete -c journal -n "__fish_journal_using_subcommand append" -l rotate-bytes -d 'Start a new segment once one reaches SIZE (512K, 8M, 1.5G: powers of 1024; KB, MB, GB are powers of 1000)' -r
complete -c journal -n "__fish_journal_using_subcommand append" -l wait -d 'How long to wait for the writer\'s claim before giving up (exit 3)' -r
complete -c journal -n "__fish_journal_using_subcommand append" -l as-user -d 'Act as USER (name or numeric uid): drop root\'s privileges to USER\'s uid and primary group before touching the journal, as logrotate\'s `su` does. Required as root for a directory that group or others can write to; USER should be the directory\'s owner' -r
complete -c journal -n "__fish_journal_using_subcommand append" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR; always beats NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand append" -l records -d 'Each input line is a whole record ({"session_id":..,"event":{..}}) whose seq and ts are replaced, instead of an event'
complete -c journal -n "__fish_journal_using_subcommand append" -l skip-invalid -d 'Append the valid lines and report the invalid ones (default: append nothing when any line is invalid)'
complete -c journal -n "__fish_journal_using_subcommand append" -l any-type -d 'Accept events the engine cannot read back (an unknown type, a missing required field); it skips such lines silently'
complete -c journal -n "__fish_journal_using_subcommand append" -l json -d 'Print one JSON object (schema "journal-append/1") instead of the range'
complete -c journal -n "__fish_journal_using_subcommand append" -l fsync -d 'Make the batch durable (fsync file data, and the directory when a segment was created) before reporting success'
complete -c journal -n "__fish_journal_using_subcommand append" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand append" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand prune" -l format -d 'Read DIR as this journal format instead of detecting it by its shape' -r -f -a "segments\t'The bamboo engine\'s events-<seq>.jsonl segments'
sessions\t'The per-session store (aios-events): events/<session-id>.jsonl'
topics-jsonl\t'The per-topic event log\'s JSONL backend (harn-vm): topics/<topic>.jsonl, consumers/'
topics-sqlite\t'The per-topic event log\'s SQLite backend (harn-vm), read-only'
redb\t'The redb runtime journal (camel-core): a redb database file'"
complete -c journal -n "__fish_journal_using_subcommand prune" -l keep -d 'Keep at most N segments (the engine keeps 64); at least 1' -r
complete -c journal -n "__fish_journal_using_subcommand prune" -l max-bytes -d 'Also delete the oldest segments until the journal is at most SIZE (512M, 2G, 1.5G: powers of 1024; KB, MB, GB are powers of 1000)' -r
complete -c journal -n "__fish_journal_using_subcommand prune" -l max-age -d 'Also delete the oldest segments whose newest event is older than DURATION (12h, 7days)' -r
complete -c journal -n "__fish_journal_using_subcommand prune" -l quarantine-max-age -d 'Also delete quarantine-*.bin files (bytes repair and append removed) last written more than DURATION ago (30days); without it they are kept' -r
complete -c journal -n "__fish_journal_using_subcommand prune" -l wait -d 'How long to wait for the writer\'s claim before giving up (exit 3)' -r
complete -c journal -n "__fish_journal_using_subcommand prune" -l keep-unread -d 'Never delete a segment holding a seq after the one stored in cursor FILE (a `tail --cursor-file`); repeatable, the slowest reader decides. A FILE that does not exist yet keeps every segment (that reader starts from the oldest); one that cannot be read as a cursor is refused' -r -F
complete -c journal -n "__fish_journal_using_subcommand prune" -l as-user -d 'Act as USER (name or numeric uid): drop root\'s privileges to USER\'s uid and primary group before touching the journal, as logrotate\'s `su` does. Required as root for a directory that group or others can write to; USER should be the directory\'s owner' -r
complete -c journal -n "__fish_journal_using_subcommand prune" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR; always beats NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand prune" -s n -l dry-run -d 'Print what would be deleted, delete nothing'
complete -c journal -n "__fish_journal_using_subcommand prune" -s q -l quiet -d 'Print nothing on success (for cron)'
complete -c journal -n "__fish_journal_using_subcommand prune" -l json -d 'Print the report as JSON'
complete -c journal -n "__fish_journal_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand prune" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand generate-docs" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR; always beats NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand generate-docs" -s h -l help -d 'Print help'
complete -c journal -n "__fish_journal_using_subcommand generate-docs" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect tail recover verify repair stats append prune generate-docs help" -f -a "inspect" -d 'List events newest first, with filters, as a table or JSON'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect tail recover verify repair stats append prune generate-docs help" -f -a "tail" -d 'Print the last events, then follow new ones as they are appended (-f)'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect tail recover verify repair stats append prune generate-docs help" -f -a "recover" -d 'Print the max seq a restarting writer must continue from'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect tail recover verify repair stats append prune generate-docs help" -f -a "verify" -d 'Read every segment completely and name every defect exactly'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect tail recover verify repair stats append prune generate-docs help" -f -a "repair" -d 'Cut a torn tail as the engine does; optionally drop corrupt lines'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect tail recover verify repair stats append prune generate-docs help" -f -a "stats" -d 'Summarise a journal: sizes, events per type, sessions, time range, activity'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect tail recover verify repair stats append prune generate-docs help" -f -a "append" -d 'Append events from stdin (one JSON value per line), as the engine writes them'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect tail recover verify repair stats append prune generate-docs help" -f -a "prune" -d 'Delete the oldest segments (retention), safely, under the writer\'s claim'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect tail recover verify repair stats append prune generate-docs help" -f -a "generate-docs" -d 'Write the shell completions and man pages (for maintainers)'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect tail recover verify repair stats append prune generate-docs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
