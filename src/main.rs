//! The `journal` binary: parse arguments, run a subcommand, map errors to exit
//! codes. Everything else is in the library (`journal::`), in `cmd/`, or in
//! `units` (the sizes and durations options take, shared by `cli` and `cmd`).

#[macro_use]
mod exit_codes;
mod cli;
mod cmd;
mod units;

use std::io;

use clap::Parser;

use crate::exit_codes::ExitCode;

/// Debug builds only: a file to create once `main` has started, so crash
/// tests kill the process inside its work, not before it began.
const STARTED_FILE_ENV: &str = "JOURNAL_TEST_STARTED_FILE";

fn main() -> std::process::ExitCode {
    if cfg!(debug_assertions)
        && let Some(path) = std::env::var_os(STARTED_FILE_ENV)
    {
        let _ = std::fs::write(path, b"started\n");
    }
    raise_open_file_limit();
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            // `journal inspect | head -1`: the reader went away; that is success.
            if is_broken_pipe(&err) {
                return ExitCode::Success.into();
            }
            journal::render::notice::error(&chain_message(&err));
            exit_code_for(&err).into()
        }
    }
}

/// A per-session store is merged with one open file per session: the soft
/// limit on open files (often 1024) is raised to the hard one, as far as the
/// system allows; failing that, the files past it are reported unreadable.
fn raise_open_file_limit() {
    // SAFETY: plain system calls on a struct owned here.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The error and its causes, `: `-separated like `{:#}`, except that a cause
/// the message already ends with is not repeated (an error that shows its
/// source in its own text, as `JournalError::Io` does, also returns it as its
/// source: `{:#}` printed it twice).
fn chain_message(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if msg.ends_with(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let io = match cause.downcast_ref::<journal::JournalError>() {
            Some(journal::JournalError::Io { source, .. }) => Some(source),
            _ => cause.downcast_ref::<io::Error>(),
        };
        io.is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    let claim_held = err.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<journal::JournalError>(),
            Some(journal::JournalError::ClaimHeld { .. })
        )
    });
    if claim_held {
        ExitCode::ClaimHeld
    } else {
        ExitCode::CouldNotRun
    }
}
