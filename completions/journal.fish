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

complete -c journal -n "__fish_journal_needs_command" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_needs_command" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_needs_command" -f -a "inspect" -d 'List events newest first, with filters, as a table or JSON'
complete -c journal -n "__fish_journal_needs_command" -f -a "recover" -d 'Print the max seq a restarting writer must continue from'
complete -c journal -n "__fish_journal_needs_command" -f -a "generate-docs" -d 'Write the shell completions and man pages (for maintainers)'
complete -c journal -n "__fish_journal_needs_command" -f -a "verify" -d 'Read every segment completely and name every defect exactly'
complete -c journal -n "__fish_journal_needs_command" -f -a "repair" -d 'Cut a torn tail as the engine does; optionally drop corrupt lines'
complete -c journal -n "__fish_journal_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c journal -n "__fish_journal_using_subcommand inspect" -s n -l limit -d 'How many matching events to show' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -s o -l output -d 'Output format [default: table on a terminal, raw otherwise]' -r -f -a "table\t'Columns for people: seq, time, session, type, summary'
raw\t'The stored lines, byte for byte'
json\t'One JSON array of the records'
jsonl\t'One record per line, as compact JSON'"
complete -c journal -n "__fish_journal_using_subcommand inspect" -l seq -d 'Only seqs in this inclusive range: A..B, A.., ..B, or N' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l since -d 'Only events with ts at or after TIME: RFC 3339, a date (UTC), today, yesterday, or a duration ago (2h, 30m, 7days)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l until -d 'Only events with ts at or before TIME (same forms as --since)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l session -d 'Only this session_id (repeat for any of several)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -s t -l type -d 'Only this event type (repeat for any of several)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -s w -l where -d 'Only events whose field equals VALUE (repeatable, all must hold). The path starts at the record (seq, ts, session_id, event) or else inside the event: role=user is event.role=user; items.0.id indexes arrays' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -s g -l grep -d 'Only lines matching this regular expression, tested on the line as stored (JSON escapes included)' -r
complete -c journal -n "__fish_journal_using_subcommand inspect" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand inspect" -s a -l all -d 'Show every matching event (no limit)'
complete -c journal -n "__fish_journal_using_subcommand inspect" -l oldest-first -d 'Start from the oldest event instead of the newest'
complete -c journal -n "__fish_journal_using_subcommand inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand inspect" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand recover" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand recover" -l json -d 'Print max_seq, next_seq, oldest_seq, segment count, newest segment, last valid line and any torn tail as JSON'
complete -c journal -n "__fish_journal_using_subcommand recover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand recover" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand generate-docs" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand generate-docs" -s h -l help -d 'Print help'
complete -c journal -n "__fish_journal_using_subcommand generate-docs" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand verify" -s j -l threads -d 'Segments checked in parallel [default: the number of CPUs]' -r
complete -c journal -n "__fish_journal_using_subcommand verify" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand verify" -l json -d 'Print the report as one JSON object (schema below)'
complete -c journal -n "__fish_journal_using_subcommand verify" -l strict -d 'Treat warnings (torn tail, lines the engine would skip) as errors'
complete -c journal -n "__fish_journal_using_subcommand verify" -s q -l quiet -d 'Print nothing; the exit status says it all'
complete -c journal -n "__fish_journal_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand verify" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand repair" -l wait -d 'How long to wait for the writer\'s claim (e.g. 500ms, 10s)' -r
complete -c journal -n "__fish_journal_using_subcommand repair" -l color -d 'When to use colours: auto means on a terminal and without NO_COLOR' -r -f -a "auto\t''
always\t''
never\t''"
complete -c journal -n "__fish_journal_using_subcommand repair" -l drop-corrupt-lines -d 'Also rewrite segments with corrupt lines inside them, without those lines (each removed line goes to quarantine first)'
complete -c journal -n "__fish_journal_using_subcommand repair" -s n -l dry-run -d 'Print the exact plan and change nothing'
complete -c journal -n "__fish_journal_using_subcommand repair" -l json -d 'Print the plan and the result as one JSON object'
complete -c journal -n "__fish_journal_using_subcommand repair" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c journal -n "__fish_journal_using_subcommand repair" -s V -l version -d 'Print version'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect recover generate-docs verify repair help" -f -a "inspect" -d 'List events newest first, with filters, as a table or JSON'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect recover generate-docs verify repair help" -f -a "recover" -d 'Print the max seq a restarting writer must continue from'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect recover generate-docs verify repair help" -f -a "generate-docs" -d 'Write the shell completions and man pages (for maintainers)'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect recover generate-docs verify repair help" -f -a "verify" -d 'Read every segment completely and name every defect exactly'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect recover generate-docs verify repair help" -f -a "repair" -d 'Cut a torn tail as the engine does; optionally drop corrupt lines'
complete -c journal -n "__fish_journal_using_subcommand help; and not __fish_seen_subcommand_from inspect recover generate-docs verify repair help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
