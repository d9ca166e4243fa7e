//! The exit codes of every subcommand, documented once here and rendered into
//! `--help`, the man pages and the README from [`EXIT_CODES_HELP`].

use std::process;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Done; for `verify`, no error (warnings allowed).
    Success = 0,
    /// The journal has errors (`verify`; `--strict` counts warnings too), or
    /// `repair` refused to touch damage.
    JournalErrors = 1,
    /// Could not run: bad usage, I/O error, no journal at the path, a command
    /// the journal's format does not support, a file that could not be read,
    /// a redb database held open or needing repair (without `--snapshot`),
    /// or (as root) a journal directory others can write to, without
    /// `--as-user`.
    CouldNotRun = 2,
    /// The writer's claim is held by another process (prune, repair, append).
    ClaimHeld = 3,
    /// `tail` in a delivery mode (`-o envelope`, `--ack-stdin`) met a gap:
    /// records were pruned (or skipped by the journal) before they were read.
    Gap = 4,
}

impl From<ExitCode> for process::ExitCode {
    fn from(code: ExitCode) -> Self {
        process::ExitCode::from(code as u8)
    }
}

/// The exit-code table, as a literal so `concat!` can append it to each
/// subcommand's help.
macro_rules! exit_codes_help {
    () => {
        "\
Exit status:
  0  success (for verify: no error; warnings allowed)
  1  the journal has errors (verify; with --strict, warnings too), or
     repair refused to touch damage (use --drop-corrupt-lines)
  2  could not run: bad usage, an I/O error, no journal at the path, a
     command the journal's format does not support (prune and append work on
     segments only), a file that could not be read, a database another
     process holds open or that needs repair (redb, without --snapshot), or
     (as root) a directory group or others can write to, without --as-user
  3  the writer's claim (.account-journal.lock) is held by another process
     (prune, repair, append)
  4  tail -o envelope / --ack-stdin met a gap: records were pruned before
     they could be read (a \"type\":\"gap\" object on the envelope stream)"
    };
}

pub const EXIT_CODES_HELP: &str = exit_codes_help!();
