//! One module per subcommand, plus what they share: where the journal is and
//! how filters become a query. Every word they print is worded in render.

mod append;
pub(crate) mod family;
mod generate_docs;
pub(crate) mod identity;
mod inspect;
pub(crate) mod multi;
mod prune;
mod recover;
mod repair;
mod stats;
mod tail;
mod verify;

use std::cell::Cell;
use std::env;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use chrono::Utc;
use journal::dircache::ListingCache;
use journal::dirread::DirRead;
use journal::query::{FieldMatch, Query, SeqRange, parse_time};
use journal::render::notice;
use journal::segment::Listing;
use journal::source::reader::Source;
use journal::source::{Format, OpenOptions, detect_reading_with, open_family};
use regex::bytes::Regex;

use crate::cli::{Command, DirArg, FilterArgs, ReadArg};
use crate::exit_codes::ExitCode;

/// What every command knows about where it prints (decided once, in render).
pub type Context = journal::render::Console;

pub fn run(cli: crate::cli::Cli) -> Result<ExitCode> {
    let ctx = Context::detect(cli.color.into());
    match cli.command {
        Command::Inspect(args) => inspect::run(args, &ctx),
        Command::Recover(args) => recover::run(args, &ctx),
        Command::Tail(args) => tail::run(args, &ctx),
        Command::Append(args) => append::run(args, &ctx),
        Command::Prune(args) => prune::run(args, &ctx),
        Command::Stats(args) => stats::run(args, &ctx),
        Command::GenerateDocs(args) => generate_docs::run(&args),
        Command::Verify(args) => verify::run(args, &ctx),
        Command::Repair(args) => repair::run(args, &ctx),
    }
}

/// DIR, else $JOURNAL_DIR, else the engine's defaults (an empty variable is unset).
pub fn resolve_dir(arg: &DirArg) -> Result<PathBuf> {
    if let Some(dir) = &arg.dir {
        return Ok(dir.clone());
    }
    if let Some(dir) = env::var_os("JOURNAL_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(data) = env::var_os("BAMBOO_DATA_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(data).join("events"));
    }
    if let Some(home) = env::var_os("HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home).join(".bamboo").join("events"));
    }
    anyhow::bail!("no journal directory: pass DIR, or set JOURNAL_DIR or BAMBOO_DATA_DIR")
}

/// Whether a command may take a directory's entries from the listing cache
/// (`journal::dircache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirReads {
    /// Read the directory itself: a command that changes the journal (its
    /// detection included: a cache must never steer a writer) or follows it.
    Fresh,
    /// A one-shot read-only command: from the cache when the directory
    /// provably has not changed since it was cached.
    MayUseCache,
}

impl DirReads {
    /// The cache to read through, if any (the environment may disable it).
    fn cache(self) -> Option<ListingCache> {
        match self {
            DirReads::Fresh => None,
            DirReads::MayUseCache => ListingCache::from_env(),
        }
    }
}

/// The journal's directory and format: `--format`, else detected by shape.
/// A format this build only detects is an error that says so (exit 2).
pub fn resolve_source(arg: &DirArg, reads: DirReads) -> Result<(PathBuf, Format)> {
    let (dir, format, read) = resolve_source_read(arg, reads)?;
    if read.is_some() {
        DETECTED.set(read);
    }
    Ok((dir, format))
}

/// [`resolve_source`], handing back the directory read detection made when
/// the journal is the engine's segments (for its listing: see
/// [`listing_from`]), instead of keeping it for [`read_listing`]. For
/// commands that read several journals.
pub(crate) fn resolve_source_read(
    arg: &DirArg,
    reads: DirReads,
) -> Result<(PathBuf, Format, Option<DirRead>)> {
    let dir = resolve_dir(arg)?;
    let mut detected = None;
    let format = match arg.format {
        Some(f) => f.into(),
        None => {
            let (format, read) = detect_reading_with(&dir, reads.cache().as_ref())?;
            if format == Format::Segments {
                detected = read;
            }
            format
        }
    };
    if !format.is_supported() {
        anyhow::bail!(
            "{}: a {} journal ({}), recognised by its shape only; reading this format \
             is not supported yet",
            dir.display(),
            format.name(),
            format.shape()
        );
    }
    Ok((dir, format, detected))
}

/// The one decision every command makes: the engine's segments (read by
/// their own engine path, as fast as before) or a family format, read only
/// through [`Source`].
pub enum Target {
    Segments,
    Family(Box<dyn Source>),
}

/// Detects (or takes `--format`) and, for a family format, opens its reader
/// with the stream filters `opts` carries.
pub fn open_target(arg: &DirArg, opts: &OpenOptions, reads: DirReads) -> Result<Target> {
    let (dir, format) = resolve_source(arg, reads)?;
    if format == Format::Segments {
        return Ok(Target::Segments);
    }
    Ok(Target::Family(open_family(&dir, format, opts)?))
}

impl crate::cli::StreamArgs {
    /// The stream filters as the family readers take them.
    pub fn open_options(&self) -> OpenOptions {
        OpenOptions {
            branches: self.branches.clone(),
            topics: self.topics.clone(),
            routes: self.routes.clone(),
            ..OpenOptions::default()
        }
    }
}

/// `recover`/`stats` on `arg`: a family format's reader with the stream
/// filters, or segments (where a stream filter is refused). Read-only: the
/// directory's entries may come from the listing cache.
pub fn open_streams(
    arg: &DirArg,
    read: &crate::cli::ReadArg,
    streams: &crate::cli::StreamArgs,
) -> Result<Target> {
    let target = open_target(
        arg,
        &read.with(streams.open_options()),
        DirReads::MayUseCache,
    )?;
    if matches!(target, Target::Segments) {
        no_stream_filter_in(&streams.branches, &streams.topics, &streams.routes)?;
    }
    Ok(target)
}

/// Stream filters (`--branch`, `--topic`) name a family format's streams;
/// segments have one stream.
pub fn no_stream_filter(filters: &FilterArgs) -> Result<()> {
    no_stream_filter_in(&filters.branches, &filters.topics, &filters.routes)
}

fn no_stream_filter_in(branches: &[String], topics: &[String], routes: &[String]) -> Result<()> {
    if !branches.is_empty() {
        anyhow::bail!(
            "--branch filters a per-session store (--format sessions); segments have no branches"
        )
    }
    if !topics.is_empty() {
        anyhow::bail!(
            "--topic filters a per-topic event log (--format topics-jsonl or topics-sqlite); \
             segments have no topics"
        )
    }
    if !routes.is_empty() {
        anyhow::bail!("--route filters a redb journal (--format redb); segments have no routes")
    }
    Ok(())
}

/// Refuses a command that only the segment format supports (exit 2):
/// the other formats' files belong to their runtime.
pub fn segments_only(arg: &DirArg, what: &'static str) -> Result<()> {
    let (dir, format) = resolve_source(arg, DirReads::Fresh)?;
    if format != Format::Segments {
        return Err(journal::JournalError::Unsupported {
            path: dir,
            format: format.name(),
            what,
            why: Some(format!(
                "it works on the bamboo engine's segments only; this journal is {}",
                format.shape()
            )),
        }
        .into());
    }
    Ok(())
}

thread_local! {
    /// The directory read format detection made ([`resolve_source`]), handed
    /// to the listing of the same directory ([`read_listing`]): a read-only
    /// command reads a journal's directory once (issue 14).
    static DETECTED: Cell<Option<DirRead>> = const { Cell::new(None) };
}

/// Lists the journal (a directory that holds no journal is an error), from
/// the read format detection made when there is one, else through the
/// listing cache ([`list_for_reading`]). For read-only commands only: that
/// read is a few moments old, which a reader does not mind (its
/// listing is the directory as it was when the command started), but a
/// command that changes the journal lists it itself, under its claim.
pub fn read_listing(arg: &DirArg) -> Result<Listing> {
    listing_from(&resolve_dir(arg)?, DETECTED.take())
}

/// Lists `dir` for a read-only command, through the listing cache when the
/// environment allows it (no journal is no error here).
pub fn list_for_reading(dir: &std::path::Path) -> Result<Listing> {
    Ok(match DirReads::MayUseCache.cache() {
        Some(cache) => Listing::read_cached(dir, &cache)?,
        None => Listing::read(dir)?,
    })
}

/// Lists the journal at `dir` for a read-only command (a directory that
/// holds no journal is an error): from `detected`, the read its format
/// detection made, when there is one, else through the listing cache.
pub(crate) fn listing_from(dir: &std::path::Path, detected: Option<DirRead>) -> Result<Listing> {
    let listing = match detected {
        Some(read) if read.dir() == dir => Listing::from_read(read)?,
        _ => list_for_reading(dir)?,
    };
    listing.require_journal()?;
    Ok(listing)
}

/// Lists the journal ([`read_listing`]) and warns about entries named like
/// segments that are not regular files (they are skipped by every reader).
pub fn open_listing(arg: &DirArg) -> Result<Listing> {
    let listing = read_listing(arg)?;
    for irr in listing.irregular() {
        notice::irregular(irr);
    }
    Ok(listing)
}

impl ReadArg {
    /// How a family format is read, without stream filters.
    pub fn open_options(&self) -> OpenOptions {
        self.with(OpenOptions::default())
    }

    /// `opts` (stream filters) read as this says.
    pub fn with(&self, opts: OpenOptions) -> OpenOptions {
        OpenOptions {
            snapshot: self.snapshot,
            ..opts
        }
    }
}

impl FilterArgs {
    /// The stream filters, for the family formats' readers.
    pub fn open_options(&self) -> OpenOptions {
        OpenOptions {
            branches: self.branches.clone(),
            topics: self.topics.clone(),
            routes: self.routes.clone(),
            ..OpenOptions::default()
        }
    }

    /// Validates the filters into the core's query. Contradictions are errors.
    pub fn to_query(&self) -> Result<Query> {
        let now = Utc::now();
        let seq = match &self.seq {
            Some(s) => s
                .parse::<SeqRange>()
                .map_err(|e| anyhow::anyhow!("--seq: {e}"))?,
            None => SeqRange::default(),
        };
        let time = |flag: &str, v: &Option<String>| -> Result<_> {
            v.as_deref()
                .map(|s| parse_time(s, now).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
                .transpose()
        };
        let fields = self
            .fields
            .iter()
            .map(|f| {
                f.parse::<FieldMatch>()
                    .map_err(|e| anyhow::anyhow!("--where: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let grep = self
            .grep
            .as_deref()
            .map(|g| {
                Regex::new(g).with_context(|| format!("--grep: invalid regular expression '{g}'"))
            })
            .transpose()?;
        let query = Query {
            seq,
            since: time("--since", &self.since)?,
            until: time("--until", &self.until)?,
            sessions: self.sessions.clone(),
            types: self.types.clone(),
            fields,
            grep,
            exact_time: self.exact_time,
        };
        query.validate().map_err(anyhow::Error::msg)?;
        Ok(query)
    }
}

/// `--as-user USER`: drop to USER's uid and primary group (as logrotate's
/// `su`) before the journal is touched, so every file is opened with that
/// user's rights; the shared-directory refusal then no longer applies (it
/// guards root only). USER root keeps root and allows a shared directory.
pub fn act_as(user: Option<&str>) -> Result<()> {
    let Some(user) = user else {
        return Ok(());
    };
    let (uid, gid) = lookup_user(user)?;
    if uid == 0 {
        journal::dirfd::allow_shared_directory();
        return Ok(());
    }
    // SAFETY: plain system calls on integers; the group list outlives the call.
    let failed = unsafe {
        (libc::geteuid() == 0 && libc::setgroups(1, &gid) != 0)
            || libc::setgid(gid) != 0
            || libc::setuid(uid) != 0
    };
    if failed {
        return Err(anyhow::Error::new(std::io::Error::last_os_error()))
            .with_context(|| format!("--as-user {user}: cannot switch to uid {uid}, gid {gid}"));
    }
    Ok(())
}

/// A user name (or numeric uid) to its uid and primary gid.
fn lookup_user(user: &str) -> Result<(libc::uid_t, libc::gid_t)> {
    let name = std::ffi::CString::new(user)
        .map_err(|_| anyhow::anyhow!("--as-user: a user name holds no NUL byte"))?;
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, `buf` is as long as said.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc == 0 && !found.is_null() {
        return Ok((pwd.pw_uid, pwd.pw_gid));
    }
    if let Ok(uid) = user.parse::<libc::uid_t>() {
        // SAFETY: as above.
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
        if rc == 0 && !found.is_null() {
            return Ok((pwd.pw_uid, pwd.pw_gid));
        }
        return Ok((uid, uid));
    }
    anyhow::bail!(
        "--as-user: no user named '{}'",
        journal::render::escape::escape_text(user)
    )
}
