//! Repairing a per-session store: a torn last line is cut, a glued line is
//! un-glued (the complete record kept, the fragment removed), and with
//! `drop` a line the runtime cannot parse is removed. Every removed byte is
//! first copied to a quarantine file in the events directory and made
//! durable, as for segments; a file is then truncated (a cut at the end) or
//! replaced atomically (anything else).
//!
//! The store's writer takes no lock, so a file another process holds open is
//! left alone unless forced; holders are found through `/proc/*/fd`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use serde::Serialize;

use super::sessions::{Body, SessionFile, SessionStore};
use crate::journal::atomic::replace_file;
use crate::journal::error::JournalError;
use crate::journal::holders::{Holder, holders};
use crate::journal::quarantine::{quarantine_range_unclaimed, sync_dir};
use crate::journal::segment::ser;

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Cut a torn last line.
    CutTornTail,
    /// Remove the fragment before the complete record of a glued line.
    Unglue,
    /// Remove a complete line the runtime cannot parse (`--drop-corrupt-lines`).
    DropLine,
    /// Add the `\n` a complete last record lacks (nothing removed).
    AddNewline,
}

/// One removal: bytes `[offset, offset + len)` of `file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub action: Action,
    #[serde(serialize_with = "ser::file_name")]
    pub file: PathBuf,
    pub line: u64,
    pub offset: u64,
    pub len: u64,
    /// The sequence of the record a glued line keeps.
    pub kept_sequence: Option<u64>,
    pub kept_branch: Option<String>,
    /// Where the bytes went (after a real run).
    #[serde(serialize_with = "ser::opt_file_name")]
    pub quarantine: Option<PathBuf>,
}

/// A file left alone because a process holds it open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    #[serde(serialize_with = "ser::file_name")]
    pub file: PathBuf,
    pub holders: Vec<Holder>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub refused: Vec<Refused>,
}

/// The removals `file` needs; `drop` also removes unparseable complete lines.
pub fn plan_file(file: &SessionFile, drop: bool) -> Vec<Step> {
    let step = |action, line: &super::sessions::FileLine, offset, len| Step {
        action,
        file: file.path.clone(),
        line: line.number,
        offset,
        len,
        kept_sequence: None,
        kept_branch: None,
        quarantine: None,
    };
    let mut steps = Vec::new();
    for line in &file.lines {
        match &line.body {
            Body::Torn => steps.push(step(Action::CutTornTail, line, line.offset, line.len)),
            // At the end of the file, removing nothing.
            Body::Unterminated(head) => steps.push(Step {
                kept_sequence: Some(head.sequence),
                kept_branch: Some(head.branch.clone()),
                ..step(Action::AddNewline, line, line.offset + line.len, 0)
            }),
            Body::Glued { fragment, head } => steps.push(Step {
                kept_sequence: Some(head.sequence),
                kept_branch: Some(head.branch.clone()),
                ..step(Action::Unglue, line, line.offset, *fragment)
            }),
            // The whole line and its `\n`.
            Body::Unreadable { .. } if drop => {
                steps.push(step(Action::DropLine, line, line.offset, line.len + 1))
            }
            _ => {}
        }
    }
    steps
}

/// Plans the whole store: the steps, and the files refused because held.
pub fn plan(files: &[SessionFile], drop: bool, force: bool) -> Plan {
    let mut plan = Plan::default();
    for file in files {
        let steps = plan_file(file, drop);
        if steps.is_empty() {
            continue;
        }
        let held = holders(&file.path);
        if !held.is_empty() && !force {
            plan.refused.push(Refused {
                file: file.path.clone(),
                holders: held,
            });
            continue;
        }
        plan.steps.extend(steps);
    }
    plan
}

/// Carries out `plan`: per file, every removed range quarantined (durably)
/// first, then the file cut or atomically replaced without those ranges.
pub fn apply(
    store: &SessionStore,
    files: &[SessionFile],
    plan: &mut Plan,
) -> Result<(), JournalError> {
    for file in files {
        let steps: Vec<&mut Step> = plan
            .steps
            .iter_mut()
            .filter(|s| s.file == file.path)
            .collect();
        if steps.is_empty() {
            continue;
        }
        // The file must still be what was read: a writer may have appended.
        let now = fs::read(&file.path).map_err(|e| JournalError::io(&file.path, e))?;
        if now != file.bytes {
            return Err(JournalError::io(
                &file.path,
                std::io::Error::other(
                    "changed while being repaired (a live writer?); nothing done to it",
                ),
            ));
        }
        let mut ranges = Vec::new();
        let mut add_newline = false;
        for step in steps {
            if step.action == Action::AddNewline {
                add_newline = true;
                continue;
            }
            step.quarantine = Some(quarantine_range_unclaimed(
                &store.events_dir,
                &file.path,
                step.offset,
                step.len,
            )?);
            ranges.push((step.offset, step.len));
        }
        ranges.sort();
        let only_tail = ranges.len() == 1 && ranges[0].0 + ranges[0].1 == file.bytes.len() as u64;
        if ranges.is_empty() {
            // Only the newline: appended (the file was checked unchanged).
            use std::io::Write;
            let mut f = fs::OpenOptions::new()
                .append(true)
                .open(&file.path)
                .map_err(|e| JournalError::io(&file.path, e))?;
            f.write_all(b"\n")
                .and_then(|()| f.sync_all())
                .map_err(|e| JournalError::io(&file.path, e))?;
        } else if only_tail && !add_newline {
            let f = fs::OpenOptions::new()
                .write(true)
                .open(&file.path)
                .map_err(|e| JournalError::io(&file.path, e))?;
            f.set_len(ranges[0].0)
                .and_then(|()| f.sync_all())
                .map_err(|e| JournalError::io(&file.path, e))?;
        } else {
            let mut kept = without(&file.bytes, &ranges);
            if add_newline {
                kept.push(b'\n');
            }
            let mode = fs::metadata(&file.path)
                .map_err(|e| JournalError::io(&file.path, e))?
                .permissions()
                .mode()
                & 0o777;
            replace_file(&file.path, Some(mode), |f, tmp| {
                use std::io::Write;
                f.write_all(&kept).map_err(|e| JournalError::io(tmp, e))
            })?;
        }
        sync_dir(&store.events_dir)?;
    }
    Ok(())
}

/// `bytes` without the sorted, disjoint `ranges`.
fn without(bytes: &[u8], ranges: &[(u64, u64)]) -> Vec<u8> {
    let mut kept = Vec::with_capacity(bytes.len());
    let mut at = 0usize;
    for (offset, len) in ranges {
        kept.extend_from_slice(&bytes[at..*offset as usize]);
        at = (offset + len) as usize;
    }
    kept.extend_from_slice(&bytes[at.min(bytes.len())..]);
    kept
}

/// The files as the plan leaves them, computed in memory (so a dry run
/// reports exactly what the real run leaves).
pub fn after(files: &[SessionFile], plan: &Plan) -> Vec<SessionFile> {
    files
        .iter()
        .map(|file| {
            let mine = || plan.steps.iter().filter(|s| s.file == file.path);
            if mine().next().is_none() {
                return file.clone();
            }
            let mut ranges: Vec<(u64, u64)> = mine()
                .filter(|s| s.action != Action::AddNewline)
                .map(|s| (s.offset, s.len))
                .collect();
            ranges.sort();
            let mut bytes = without(&file.bytes, &ranges);
            if mine().any(|s| s.action == Action::AddNewline) {
                bytes.push(b'\n');
            }
            SessionFile::parse(&file.path, bytes)
        })
        .collect()
}
