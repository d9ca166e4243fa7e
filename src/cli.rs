//! Every clap definition, and nothing else: the one source for `--help`, the
//! shell completions in `completions/` and the man pages in `man/`.
//! Subcommands turn these into the core's plain option structs once (`cmd/`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit_codes::EXIT_CODES_HELP;

const DIR_HELP: &str = "The journal directory [default: $JOURNAL_DIR, else $BAMBOO_DATA_DIR/events, \
                        else ~/.bamboo/events]";

#[derive(Debug, Parser)]
#[command(
    name = "journal",
    version,
    about = "Read, follow, verify, repair and prune append-only event journals",
    long_about = "Read, follow, verify, repair and prune the append-only event journals that \
                  agent runtimes keep on disk: a directory of events-<seq>.jsonl segments.",
    after_long_help = EXIT_CODES_HELP,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// When to use colours: auto means on a terminal and without NO_COLOR;
    /// always beats NO_COLOR
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List events newest first, with filters, as a table or JSON
    #[command(after_long_help = INSPECT_AFTER_HELP)]
    Inspect(InspectArgs),
    /// Print the last events, then follow new ones as they are appended (-f)
    #[command(after_long_help = TAIL_AFTER_HELP)]
    Tail(TailArgs),
    /// Print the max seq a restarting writer must continue from
    #[command(after_long_help = RECOVER_AFTER_HELP)]
    Recover(RecoverArgs),
    /// Read every segment completely and name every defect exactly
    #[command(after_long_help = VERIFY_AFTER_HELP)]
    Verify(VerifyArgs),
    /// Cut a torn tail as the engine does; optionally drop corrupt lines
    #[command(after_long_help = REPAIR_AFTER_HELP)]
    Repair(RepairArgs),
    /// Summarise a journal: sizes, events per type, sessions, time range, activity
    #[command(after_long_help = STATS_AFTER_HELP)]
    Stats(StatsArgs),
    /// Append events from stdin (one JSON value per line), as the engine writes them
    #[command(after_long_help = APPEND_AFTER_HELP)]
    Append(AppendArgs),
    /// Delete the oldest segments (retention), safely, under the writer's claim
    #[command(after_long_help = PRUNE_AFTER_HELP)]
    Prune(PruneArgs),
    /// Write the shell completions and man pages (for maintainers)
    #[command(hide = true)]
    GenerateDocs(GenerateDocsArgs),
}

/// Where the journal is.
#[derive(Debug, Args)]
pub struct DirArg {
    // $JOURNAL_DIR is read in cmd::resolve_dir, not by clap: clap takes an
    // empty value as a given one and then refuses it, where an empty variable
    // means "unset" (as $BAMBOO_DATA_DIR's does).
    #[arg(value_name = "DIR", help = DIR_HELP)]
    pub dir: Option<PathBuf>,

    /// Read DIR as this journal format instead of detecting it by its shape
    #[arg(long, value_enum, value_name = "NAME")]
    pub format: Option<JournalFormat>,
}

/// The journal formats `--format` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JournalFormat {
    /// The bamboo engine's events-<seq>.jsonl segments
    Segments,
    /// The per-session store (aios-events): events/<session-id>.jsonl
    Sessions,
    /// The per-topic event log's JSONL backend (harn-vm): topics/<topic>.jsonl, consumers/
    TopicsJsonl,
    /// The per-topic event log's SQLite backend (harn-vm), read-only
    TopicsSqlite,
    /// The redb runtime journal (camel-core): a redb database file
    Redb,
}

/// How a database journal is read.
#[derive(Debug, Args)]
pub struct ReadArg {
    /// redb journal: read a copy of the database, made in a temporary
    /// directory, instead of the file itself: for a database the runtime
    /// holds open, or one not closed cleanly (redb repairs the copy; the
    /// original is never written)
    #[arg(long)]
    pub snapshot: bool,
}

/// The streams `recover` and `stats` report on (a family format's; segments
/// have one stream).
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Only this branch_id (session store; repeat for any of several)
    #[arg(long = "branch", value_name = "BRANCH")]
    pub branches: Vec<String>,

    /// Only this topic (per-topic event log; repeat for any of several)
    #[arg(long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,

    /// Only events of this route_id (redb journal; repeat for any of several)
    #[arg(long = "route", value_name = "ROUTE")]
    pub routes: Vec<String>,
}

/// Filters shared by inspect and tail. All given conditions must hold.
#[derive(Debug, Args)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Only seqs in this inclusive range: A..B, A.., ..B, or N
    #[arg(long, value_name = "RANGE")]
    pub seq: Option<String>,

    /// Only events with ts at or after TIME: RFC 3339, a date or date and time
    /// (local time, TZ), today, yesterday (local days), or a duration ago
    /// (2h, 30m, 7days). Assumes ts in seq order (to the second), as the
    /// engine's single writer stamps it: segments are bisected by their first ts and reading
    /// stops at the first event past the bound. Where a clock stepped back
    /// (verify warns: ts-backwards) that can miss events: see --exact-time
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only events with ts at or before TIME (same forms as --since, and the
    /// same assumption of ts in seq order)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// With --since/--until, read every segment and every event instead of
    /// assuming ts in seq order (slower; finds events a stepped-back clock
    /// stamped out of order)
    #[arg(long)]
    pub exact_time: bool,

    /// Only this session_id (repeat for any of several)
    #[arg(long = "session", value_name = "ID")]
    pub sessions: Vec<String>,

    /// Only this event type (repeat for any of several); in the session
    /// store, the event's kind.type
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub types: Vec<String>,

    /// Only this branch_id (session store; repeat for any of several)
    #[arg(long = "branch", value_name = "BRANCH")]
    pub branches: Vec<String>,

    /// Only this topic (per-topic event log; repeat for any of several)
    #[arg(long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Only events of this route_id (redb journal; repeat for any of several)
    #[arg(long = "route", value_name = "ROUTE")]
    pub routes: Vec<String>,

    /// Only events whose field equals VALUE (repeatable, all must hold).
    /// The path starts at the record (seq, ts, session_id, event) or else
    /// inside the event: role=user is event.role=user; items.0.id indexes arrays
    #[arg(short = 'w', long = "where", value_name = "PATH=VALUE")]
    pub fields: Vec<String>,

    /// Only lines matching this regular expression, tested on the line as stored
    /// (JSON escapes included)
    #[arg(short = 'g', long, value_name = "REGEX")]
    pub grep: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Columns for people: seq, time, session, type, summary
    Table,
    /// The stored lines, byte for byte
    Raw,
    /// One JSON array of the records
    Json,
    /// One record per line, as compact JSON (no whitespace outside strings;
    /// field order and escapes as stored)
    Jsonl,
    /// One journal-envelope/1 object per record for programs that drop
    /// repeats: source, host, id (<source id>:<position>, the same on every
    /// read), position, record; a gap is an object with "type":"gap"
    Envelope,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub dir: DirArg,

    #[command(flatten)]
    pub read: ReadArg,

    /// How many matching events to show [default: 20; with --since, --until
    /// or --seq, the whole range]
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<usize>,

    /// Show every matching event (no limit)
    #[arg(short = 'a', long, conflicts_with = "limit")]
    pub all: bool,

    /// Start from the oldest event instead of the newest
    #[arg(long)]
    pub oldest_first: bool,

    /// More journals (any format) to merge with DIR: records are merged on
    /// time, then source, then position, and labelled with their source
    #[arg(value_name = "MORE_DIRS")]
    pub more: Vec<PathBuf>,

    /// With several journals: show the journal at PATH as NAME (default: its
    /// directory's name; parents added where two would share one)
    #[arg(long, value_name = "NAME=PATH")]
    pub label: Vec<String>,

    /// Output format [default: table on a terminal, raw otherwise]
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,

    /// The source id the envelope's ids start with (-o envelope) [default:
    /// derived from the host name and the directory's canonical path]
    #[arg(long, value_name = "ID")]
    pub source_id: Option<String>,

    #[command(flatten)]
    pub filters: FilterArgs,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub dir: DirArg,

    #[command(flatten)]
    pub read: ReadArg,

    #[command(flatten)]
    pub streams: StreamArgs,

    /// Print max_seq, next_seq, oldest_seq, segment count, newest segment,
    /// last valid line and any torn tail as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GenerateDocsArgs {
    /// Where to write completions/ and man/ (the repository root)
    #[arg(value_name = "OUT_DIR")]
    pub out_dir: PathBuf,
}

const INSPECT_AFTER_HELP: &str = concat!(
    "\
Events are read newest first (segments from the newest, each backwards) and
reading stops as soon as the limit is met. Bounds of --seq, --since and --until
are inclusive. A --seq range skips whole segments by the seqs in their names
and first lines (a name that disagrees with its first line loses nothing).
Damaged lines among those read are skipped and counted on stderr. Only what is
read is counted: reading stops at the limit, and a filter passes over segments
and stretches of lines that cannot match without parsing them, so it is with
--all and no filter that every damaged line is counted. `journal verify` lists
them all.

Examples:
  journal inspect -n 50 -t error
  journal inspect --session sess-7 --seq ..300
  journal inspect --since 1h -o json
  journal inspect -w role=user -g 'deploy(ed)?'

",
    exit_codes_help!()
);

const RECOVER_AFTER_HELP: &str = concat!(
    "\
Reads only the tail of the newest segment, like the engine. Where the newest
segment holds no complete valid line (a crash right after rotation, a NUL tail,
a torn first line), falls back to the previous segments instead of answering 0;
when no segment holds one, answers one less than the newest segment's start seq.
An empty journal (no segment, or a newest segment starting at seq 1 without an
event) answers 0; a directory that is not a journal is an error (exit 2). Bytes
after the last complete valid line of the newest segment are a torn tail: noted
on stderr, and in --json.

--json prints one object (schema \"journal-recover/1\"; fields are only ever added):
  schema, dir, max_seq, max_seq_source (\"line\", \"segment-name\" or \"empty\"),
  next_seq, oldest_seq, segments, newest_segment,
  last_valid {segment, seq, offset, end}, torn_tail {segment, offset, bytes},
  segments_without_valid_line [segment]; oldest_seq, newest_segment,
  last_valid and torn_tail may be null.

Any other format (a per-session store, ...) prints the newest position of
every stream (a session and branch, ...), read from each file's end; what the
runtime cannot open as it is, met there, goes to stderr (an unreadable file:
exit 2; damage further back is `journal verify`'s). A per-session file's last
64 KiB are parsed and the rest scanned for the session and branch keys; a
branch found only by the scan is parsed back to (extra: parsed_bytes,
whole_file_parsed).
--json then prints schema \"journal-recover-streams/1\": schema, format, path,
streams [{stream, position, latest, ts, file, extra}], problems [defect].
A defect is {kind, severity, file, line, offset, len, before, after, detail}.

",
    exit_codes_help!()
);

#[derive(Debug, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub dir: DirArg,

    #[command(flatten)]
    pub read: ReadArg,

    /// How many of the last matching events to print before following
    /// [default: 10]
    #[arg(short = 'n', long, value_name = "N")]
    pub lines: Option<usize>,

    /// Keep printing new events as they are appended, across rotation,
    /// pruning and writer restarts, until interrupted
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// Start after this seq instead of with the last N events
    #[arg(long, value_name = "SEQ", conflicts_with = "lines")]
    pub from_seq: Option<u64>,

    /// More journals (any format) to follow with DIR: records are merged on
    /// time, then source, then position, and labelled with their source; a
    /// path that does not exist yet is followed once it appears
    #[arg(value_name = "MORE_DIRS")]
    pub more: Vec<PathBuf>,

    /// With several journals: show the journal at PATH as NAME (default: its
    /// directory's name; parents added where two would share one)
    #[arg(long, value_name = "NAME=PATH")]
    pub label: Vec<String>,

    /// Start after the seq stored in FILE; when FILE does not exist, where
    /// -n or --from-seq say (`-n 0`: from now), else from the oldest event.
    /// FILE is rewritten atomically with the last seq processed once its
    /// events are written to stdout
    #[arg(long, value_name = "FILE")]
    pub cursor_file: Option<PathBuf>,

    /// Check for changes every DURATION (500ms, 2s) instead of watching the
    /// directory: for file systems without change notification (network
    /// mounts); at least 10ms
    #[arg(long, value_name = "DURATION", value_parser = parse_poll, requires = "follow")]
    pub poll: Option<std::time::Duration>,

    /// Keep trying when the journal directory does not exist yet, or is
    /// removed and recreated while following (like tail -F)
    #[arg(long, requires = "follow")]
    pub retry: bool,

    /// Advance the cursor file only over records the consumer acknowledged
    /// on our stdin: a line ACK per line read (record or gap), in order, or
    /// ACK <id> for every line up to that envelope id (or its position);
    /// at-least-once across crashes, one position per source and stream.
    /// Stdin's end stops tail (exit 0). Needs --cursor-file
    #[arg(long, requires_all = ["follow", "cursor_file"])]
    pub ack_stdin: bool,

    /// With --follow: stop once everything there is was read (and, with
    /// --ack-stdin, acknowledged), for scheduled runs
    #[arg(long, requires = "follow")]
    pub stop_at_end: bool,

    /// Output format [default: table on a terminal, raw otherwise]
    #[arg(short = 'o', long, value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,

    /// The source id the envelope's ids start with (-o envelope) [default:
    /// derived from the host name and the directory's canonical path]
    #[arg(long, value_name = "ID")]
    pub source_id: Option<String>,

    #[command(flatten)]
    pub filters: FilterArgs,
}

const TAIL_AFTER_HELP: &str = concat!(
    "\
Without --follow, prints the last N matching events oldest first (or, with
--from-seq / --cursor-file, every event after the start) and exits.

With --follow, new events are printed as soon as their line is complete; a
partial line is never printed. The directory is watched (inotify); where that
is not possible the follower says so and polls. Segments are read in seq
order; a segment is closed once read and a newer one exists, so pruning frees
the space. Every seq must follow the previous one: a skip is reported on
stderr, as \"seqs A..B were pruned before they could be read\" when the
segments holding them were deleted first. SIGINT, SIGTERM and a closed stdout
end it cleanly with status 0, with the cursor file matching what was printed.

A start beyond the journal's max seq (a cursor or --from-seq from another
journal, or from this one before it was recreated) is refused with exit 2
before anything is printed, and so is a cursor file that cannot be written.
A writer restart that removes a newest segment holding no complete line and
appends to the previous one is followed without loss.

Delivery: --cursor-file alone moves once a batch is written to stdout (what
a crashed consumer held is lost: at-most-once). With --ack-stdin it moves only
over records the consumer acknowledged on stdin (ACK per record, or
ACK <id> up to a record): at-least-once; -o envelope gives each record an id
(<source id>:<seq>) the same on every read, for a sink that drops repeats.
Records pruned before they were read are a gap: a \"type\":\"gap\" envelope
object, and exit 4 with -o envelope or --ack-stdin. Both work on every
format and on several journals: one acknowledged position per source and
stream.

Several journals (DIR MORE_DIRS...): merged on time, then source, then
position, labelled (SOURCE column, \"_source\" in json/jsonl); every
journal's directory is watched (inotify; --poll to poll instead); with
--retry a path that does not exist yet is followed once it appears;
--cursor-file keeps one position per source and stream (JSON).

Examples:
  journal tail -f -t error
  journal tail -n 50 --session sess-7
  journal tail -f -o raw --cursor-file /var/lib/shipper/cursor
  journal tail -f --retry --poll 2s /mnt/nfs/events

",
    exit_codes_help!()
);

#[derive(Debug, Args)]
pub struct AppendArgs {
    #[command(flatten)]
    pub dir: DirArg,

    /// Set session_id to ID on every appended record
    #[arg(long, value_name = "ID", conflicts_with = "records")]
    pub session: Option<String>,

    /// Each input line is a whole record ({"session_id":..,"event":{..}}) whose
    /// seq and ts are replaced, instead of an event
    #[arg(long)]
    pub records: bool,

    /// Append the valid lines and report the invalid ones (default: append
    /// nothing when any line is invalid)
    #[arg(long)]
    pub skip_invalid: bool,

    /// Accept events the engine cannot read back (an unknown type, a missing
    /// required field); it skips such lines silently
    #[arg(long)]
    pub any_type: bool,

    /// Print one JSON object (schema "journal-append/1") instead of the range
    #[arg(long)]
    pub json: bool,

    /// Start a new segment once one reaches SIZE (512K, 8M, 1.5G: powers of
    /// 1024; KB, MB, GB are powers of 1000)
    #[arg(long, value_name = "SIZE", default_value = "8M")]
    pub rotate_bytes: String,

    /// Make the batch durable (fsync file data, and the directory when a
    /// segment was created) before reporting success
    #[arg(long)]
    pub fsync: bool,

    /// How long to wait for the writer's claim before giving up (exit 3)
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub wait: String,

    /// Act as USER (name or numeric uid): drop root's privileges to USER's
    /// uid and primary group before touching the journal, as logrotate's
    /// `su` does. Required as root for a directory that group or others can
    /// write to; USER should be the directory's owner
    #[arg(long, value_name = "USER")]
    pub as_user: Option<String>,
}

const APPEND_AFTER_HELP: &str = concat!(
    "\
Reads stdin to the end, checks every line, then appends the whole batch under
the writer's claim with seq = max + 1, ts = now, in the engine's field order
(the event's own field order is kept). A torn tail left by a crash is cut
first, its bytes saved to a quarantine-*.bin file. Prints the seq range
appended (FIRST..LAST) on stdout; nothing when the input held no event.
DIR must be a journal or an empty directory (a new journal); it is never created.

Each input line is an event object with a string \"type\". Events the engine
could not read back are rejected unless --any-type. An invalid line is
reported with its line number; by default nothing is appended then (exit 2).

--json prints one object instead of the range (schema \"journal-append/1\";
fields are only ever added): schema, dir, appended, first_seq, last_seq (null
when nothing was appended), skipped (invalid lines left out), max_seq_before
(null when stdin held no event), tail_cut {delete [segment], truncate
{segment, new_len, removed} or null}, quarantine [path].

Examples:
  echo '{\"type\":\"error\",\"message\":\"disk full\"}' | journal append
  journal append --session sess-7 --fsync < events.jsonl
  journal inspect -o jsonl --all --oldest-first old/ | journal append --records new/

",
    exit_codes_help!()
);

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[command(flatten)]
    pub dir: DirArg,

    /// Keep at most N segments (the engine keeps 64); at least 1
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub keep: usize,

    /// Also delete the oldest segments until the journal is at most SIZE (512M,
    /// 2G, 1.5G: powers of 1024; KB, MB, GB are powers of 1000)
    #[arg(long, value_name = "SIZE")]
    pub max_bytes: Option<String>,

    /// Also delete the oldest segments whose newest event is older than
    /// DURATION (12h, 7days)
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<String>,

    /// Also delete quarantine-*.bin files (bytes repair and append removed)
    /// last written more than DURATION ago (30days); without it they are kept
    #[arg(long, value_name = "DURATION")]
    pub quarantine_max_age: Option<String>,

    /// Print what would be deleted, delete nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Print nothing on success (for cron)
    #[arg(short = 'q', long, conflicts_with = "json")]
    pub quiet: bool,

    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,

    /// How long to wait for the writer's claim before giving up (exit 3)
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub wait: String,

    /// Never delete a segment holding a seq after the one stored in cursor
    /// FILE (a `tail --cursor-file`); repeatable, the slowest reader decides.
    /// A FILE that does not exist yet keeps every segment (that reader starts
    /// from the oldest); one that cannot be read as a cursor is refused
    #[arg(long, value_name = "FILE")]
    pub keep_unread: Vec<PathBuf>,

    /// Act as USER (name or numeric uid): drop root's privileges to USER's
    /// uid and primary group before touching the journal, as logrotate's
    /// `su` does. Required as root for a directory that group or others can
    /// write to; USER should be the directory's owner
    #[arg(long, value_name = "USER")]
    pub as_user: Option<String>,
}

const PRUNE_AFTER_HELP: &str = concat!(
    "\
Deletes a contiguous run of the oldest segments: as many as the strictest of
--keep, --max-bytes and --max-age asks for. The newest segment is never
deleted, nor anything that is not a regular file named events-<seq>.jsonl
(symlinks, the lock file, other files). Quarantine files are kept unless
--quarantine-max-age is given; --max-bytes counts segments only (stats shows
the quarantine's size). Deletion goes oldest first, the
directory fsynced after each file, so a crash never leaves a hole.
A segment's age is that of its newest event; a timestamp in the future is
warned about and the segment kept. --dry-run makes the same plan under the
same claim and stops before deleting. Nothing to delete is success.

--json prints one object (schema \"journal-prune/1\"; fields are only ever
added): schema, dir, dry_run, deleted [{segment, start_seq, last_seq, bytes}]
oldest first, bytes_freed, segments_before, segments_kept, bytes_kept,
oldest_seq (null when none is left), warnings [{segment, message}],
held_back [{cursor_file, cursor, unread_from, segments}]: per --keep-unread
cursor, the segments the limits would have deleted that it kept.

--keep-unread FILE reads FILE as tail --cursor-file writes it (one seq: the
last one processed) and keeps every segment holding a later seq. A FILE that
does not exist is a reader that has not started (tail reads it from the
oldest event): every segment is kept, with a warning. A FILE that exists but
is not a cursor (unreadable, not a seq, a directory) stops the prune with
exit 2 and nothing deleted: a reader's position that cannot be known is not
guessed.

Examples:
  journal prune                          # keep the 64 newest segments
  journal prune --keep 8 --dry-run --keep-unread shipper.cursor
  journal prune --max-bytes 2G -q        # for cron: quiet on success
  journal prune --max-age 30days --dry-run
  journal prune --quarantine-max-age 30days

",
    exit_codes_help!()
);

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub dir: DirArg,

    #[command(flatten)]
    pub read: ReadArg,

    #[command(flatten)]
    pub streams: StreamArgs,

    /// Print the stats as one JSON object
    #[arg(long)]
    pub json: bool,

    /// The rotation threshold the newest segment's fill is measured against
    #[arg(long, value_name = "SIZE", default_value = "8M")]
    pub rotate_bytes: String,

    /// Buckets in the histogram of events over time
    #[arg(long, value_name = "N", default_value_t = 40)]
    pub buckets: usize,
}

const STATS_AFTER_HELP: &str = concat!(
    "\
Reads every segment, in parallel (one worker per core), with a progress bar
on a terminal. Counts valid records; damaged lines are counted apart (run
`journal verify` for where they are) and the newest segment's torn tail is
shown on its own. The time range is the earliest and latest ts; activity is a
sparkline of events per equal slice of it.

--json prints one object (schema \"journal-stats/1\"; fields are only ever
added): schema, dir, segments, bytes, events, damaged_lines, seq {first,
last}, time {first, last}, sessions, events_without_session, newest_segment
{segment, bytes, rotate_bytes, fill}, torn_tail {segment, offset, bytes},
histogram {start, bucket_seconds, counts}, types {<type>: count}, untyped;
seq, time, newest_segment, torn_tail and histogram may be null.

Any other format: --json prints schema \"journal-stats-streams/1\": schema,
format, path, files, bytes, events, kinds {<type>: count}, first_ts, last_ts,
streams [{stream, events, kinds, first, last, first_ts, last_ts}], consumers,
errors, warnings, extra {<format-specific>: value}, problems [defect] (an
unreadable file: exit 2).

Examples:
  journal stats
  journal stats --json | jq '.types'

",
    exit_codes_help!()
);

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub dir: DirArg,

    #[command(flatten)]
    pub read: ReadArg,

    /// Print the report as one JSON object (schema below)
    #[arg(long)]
    pub json: bool,

    /// Treat warnings (torn tail, lines the engine would skip) as errors
    #[arg(long)]
    pub strict: bool,

    /// Print nothing; the exit status says it all
    #[arg(short = 'q', long, conflicts_with = "json")]
    pub quiet: bool,

    /// redb journal: also run redb's own integrity check, on a copy of the
    /// database (it may repair what it checks, so never on the original)
    #[arg(long)]
    pub deep: bool,

    /// Segments checked in parallel [default: the number of CPUs]
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    #[command(flatten)]
    pub dir: DirArg,

    /// Also rewrite segments with corrupt lines inside them, without those
    /// lines (each removed line goes to quarantine first)
    #[arg(long)]
    pub drop_corrupt_lines: bool,

    /// Print the exact plan and change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// How long to wait for the writer's claim (e.g. 500ms, 10s)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::units::duration_arg)]
    pub wait: std::time::Duration,

    /// Print the plan and the result as one JSON object
    #[arg(long)]
    pub json: bool,

    /// Act as USER (name or numeric uid): drop root's privileges to USER's
    /// uid and primary group before touching the journal, as logrotate's
    /// `su` does. Required as root for a directory that group or others can
    /// write to; USER should be the directory's owner
    #[arg(long, value_name = "USER")]
    pub as_user: Option<String>,
    /// Per-session store: repair a session file even while another process
    /// holds it open (the store takes no lock; holders are found in /proc)
    #[arg(long)]
    pub force: bool,
}

const VERIFY_AFTER_HELP: &str = concat!(
    "\
Reads every segment to the length it had when the scan started (bytes a live
writer appends meanwhile are not read) and never takes the writer's claim. A
segment pruned during the scan is counted as gone, not as damage. Segments are
checked in parallel; the report is in journal order.

Defect kinds (each with segment, line, byte offset, byte length, and the valid
seqs before and after it):
  torn-tail (warning)      the newest segment ends in a partial line
  torn-line                a closed segment ends in a partial line
  no-complete-line         the newest segment holds no complete valid line
                           (a warning when all it holds is one partial line:
                           a writer mid-append just after rotating)
  nul-bytes                a run of NUL bytes (each run on its own)
  invalid-utf8, not-json, no-seq, line-too-long
                           (no-seq also when a head key such as seq is
                           written twice: readers would disagree on it)
  seq-repeated, seq-backwards, seq-gap
                           between consecutive valid records, also across
                           neighbouring segments (last seq + 1 = next first seq)
  ts-backwards (warning)   a record's ts is in an earlier second than the
                           previous record's (a clock stepped back): --since
                           and --until assume ts in seq order to the second;
                           --exact-time reads everything
  name-mismatch            a segment's first seq differs from its file name
  empty-segment            a segment file of 0 bytes (a warning for the newest:
                           a writer about to write, or a kept seq floor)
  not-regular-file         named like a segment but a directory, FIFO, symlink
                           (or with a seq beyond 18446744073709551615)
  unreadable               a segment that could not be opened or read (the
                           rest of the journal is still checked)
  engine-unknown-type (warning), engine-missing-field (warning)
                           a valid record the engine skips: an event type it
                           does not know, or a missing required field (ts,
                           event, event.type, or a field its type requires)
--strict makes warnings errors.

Output: defects grouped by segment, then one summary line:
  <N> segments, <N> lines, <N> bytes, seq <first>..<last>: <N> errors, <N> warnings

--json prints one object (schema \"journal-verify/1\"; fields are only ever added):
  schema     \"journal-verify/1\"
  dir        the journal directory
  ok         true when there is no error
  strict     whether --strict was given
  summary    {segments, segments_gone, lines, records, bytes, first_seq,
              last_seq, errors, warnings, defects_unlisted}
  kinds      {<kind>: count} for every kind found
  engine_skipped  {<event type or \"(none)\">: {unknown_type, missing_field}}
  segments   [{segment, start_seq, bytes, lines, records, first_seq, last_seq,
              gone, errors, warnings}] oldest first
  defects    [{kind, severity, segment, line, offset, len, seq_before,
              seq_after, detail}] in journal order; line, seq_before and
              seq_after may be null. For seq-*, name-mismatch and engine-*
              the defect is the whole record's line and seq_after is its seq.
At most 10000 defects are listed (counts stay exact; defects_unlisted says how
many more there are).

Any other format (a per-session store, ...): --json prints one object
(schema \"journal-verify-streams/1\"): schema, format, path, ok, records, checked
[{name, file, bytes, records, extra}], defects [defect], notes [{kind, stream,
detail}], errors, warnings. A defect is {kind, severity, file, line, offset, len, before, after, detail}.

Examples:
  journal verify                      # the report; exit 1 on errors
  journal verify --json | jq .summary
  journal verify -q --strict && echo clean

",
    exit_codes_help!()
);

const REPAIR_AFTER_HELP: &str = concat!(
    "\
Takes the writer's claim (.account-journal.lock), waiting at most --wait, so it
never races a live writer or a prune (exit 3 when the claim stays held).

By default only the tail is repaired, as the engine does on restart: the newest
segment is cut to the end of its last complete valid line (a partial line, a NUL
tail, garbage lines), and newest segments with no complete valid line are
deleted; when no segment holds one, the newest is emptied instead, so its
name keeps the max seq and a writer never reuses seqs. Damage inside closed segments is reported and refused (exit 1) unless
--drop-corrupt-lines is given: each damaged segment is then rewritten without
its damaged lines (temporary file, fsync, rename, fsync of the directory), good
lines byte for byte unchanged; a segment left with nothing is deleted.

Every removed byte is first copied to a quarantine file in the journal directory
(quarantine-<segment>-at-<offset>-<time>.bin, same permissions, fsynced), and the
report lists them. Seq gaps, repeats and name mismatches cannot be repaired
without inventing data: they are reported and left. The report states the max
seq before and after, and the seqs the removed lines started with.

A repair killed at any point leaves each segment as before or as after and the
quarantine complete; run it again to finish.

Exit status 0: repaired (or nothing to do); 1: damage was refused (use
--drop-corrupt-lines) or a defect repair cannot touch remains (a non-regular
file named like a segment).

--json prints one object (schema \"journal-repair/1\"; fields are only ever
added): schema, dir, mode (\"tail-only\" or \"drop-corrupt\"), dry_run, repaired
(false in a dry run), would_repair (whether a real run repairs everything),
max_seq_before, max_seq_after, removed_bytes, tail {delete [{segment, bytes}],
truncate {segment, new_len, removed} or null, seq_hints}, rewrites [{segment,
old_len, new_len, delete, drop [{offset, len, first_line, lines, kinds,
seq_hints}]}], dropped_seq_hints, refused_count, refused [defect], left
[defect], quarantine [path]. A defect is as in `journal verify --json`.

Any other format (a per-session store, ...): --json prints one object
(schema \"journal-repair-streams/1\"): schema, format, path, dry_run, steps [{action,
file, line, offset, len, kept, quarantine}], refused [{file, reason, extra}],
left [defect], errors, warnings. A defect is {kind, severity, file, line, offset, len, before, after, detail}.

Examples:
  journal repair --dry-run            # what would be done, exactly
  journal repair                      # cut the torn tail
  journal repair --drop-corrupt-lines --json

",
    exit_codes_help!()
);

/// `--poll`: a duration of at least 10ms (`0s` or `1ns` would spin a core).
fn parse_poll(s: &str) -> Result<std::time::Duration, String> {
    let d = crate::units::duration_arg(s)?;
    if d < std::time::Duration::from_millis(10) {
        return Err(format!(
            "{s} is too short: polling that often would keep a core busy (10ms at least)"
        ));
    }
    Ok(d)
}

impl From<ColorChoice> for journal::render::ColorMode {
    fn from(choice: ColorChoice) -> Self {
        match choice {
            ColorChoice::Auto => Self::Auto,
            ColorChoice::Always => Self::Always,
            ColorChoice::Never => Self::Never,
        }
    }
}

impl From<JournalFormat> for journal::source::Format {
    fn from(format: JournalFormat) -> Self {
        match format {
            JournalFormat::Segments => Self::Segments,
            JournalFormat::Sessions => Self::Sessions,
            JournalFormat::TopicsJsonl => Self::TopicsJsonl,
            JournalFormat::TopicsSqlite => Self::TopicsSqlite,
            JournalFormat::Redb => Self::Redb,
        }
    }
}

impl From<OutputFormat> for journal::render::RecordFormat {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Table => Self::Table,
            OutputFormat::Raw => Self::Raw,
            OutputFormat::Json => Self::Json,
            OutputFormat::Jsonl => Self::Jsonl,
            OutputFormat::Envelope => Self::Envelope,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
