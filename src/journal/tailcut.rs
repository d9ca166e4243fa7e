//! Cutting a damaged tail, as the engine does when a writer restarts: the
//! newest segment is truncated to the end of its last complete valid line,
//! and newest segments holding no valid line at all are deleted, except that
//! when no segment holds one the newest is emptied rather than deleted, so
//! the seq floor its name carries survives. Used by
//! `repair` (default mode) and by the writer when it opens a journal.
//!
//! Every removed byte goes to quarantine first (see [`quarantine`]), the
//! quarantine is durable before the segment changes, and each step is a
//! single truncate or unlink, so a process killed at any point leaves each
//! segment as before or as after, and the quarantine complete.
//!
//! [`quarantine`]: crate::journal::quarantine

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::journal::claim::Claim;
use crate::journal::dirfd::Access;
use crate::journal::error::JournalError;
use crate::journal::lines::ReadOptions;
use crate::journal::quarantine::quarantine_range;
use crate::journal::recover::{Recovery, recover};
use crate::journal::segment::{Listing, Segment};

/// What cutting the tail will do (or did).
///
/// Only [`plan_tail_cut`] makes one (the fields are private): every path in it
/// is a segment of the listing it was planned from, so [`apply_tail_cut`]
/// never deletes or truncates anything else:
///
/// ```compile_fail
/// let forged = journal::tailcut::TailCutPlan { delete: vec!["/etc/passwd".into()],
///     truncate: None, max_seq: 0 };
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TailCutPlan {
    /// The directory of the listing it was planned from.
    #[serde(skip)]
    dir: PathBuf,
    /// Newest segments with no complete valid line, to delete (newest first).
    pub(crate) delete: Vec<PathBuf>,
    /// The segment to truncate, its new length and the bytes removed.
    pub(crate) truncate: Option<(PathBuf, u64, u64)>,
    /// The max seq before and after (the cut never removes a valid line, so they agree).
    pub(crate) max_seq: u64,
}

impl TailCutPlan {
    /// Checks that every path is a segment of `listing` and that the cut
    /// lies inside the segment as listed.
    fn new(
        listing: &Listing,
        delete: Vec<PathBuf>,
        truncate: Option<(PathBuf, u64, u64)>,
        max_seq: u64,
    ) -> Result<TailCutPlan, JournalError> {
        let listed = |path: &PathBuf| listing.segments.iter().find(|s| s.path() == *path);
        let invalid = |path: &PathBuf, why: &str| {
            JournalError::io(path, std::io::Error::other(format!("tail cut plan: {why}")))
        };
        for path in &delete {
            if listed(path).is_none() {
                return Err(invalid(path, "not a listed segment"));
            }
        }
        if let Some((path, new_len, removed)) = &truncate {
            let seg = listed(path).ok_or_else(|| invalid(path, "not a listed segment"))?;
            if new_len.checked_add(*removed) != Some(seg.len()) || *removed == 0 {
                return Err(invalid(path, "cut outside the segment"));
            }
        }
        Ok(TailCutPlan {
            dir: listing.dir.clone(),
            delete,
            truncate,
            max_seq,
        })
    }

    /// The same plan with only some of its steps (for a repair that applies
    /// them one at a time).
    pub(crate) fn steps(&self) -> impl Iterator<Item = TailCutPlan> + '_ {
        let deletes = self.delete.iter().map(|p| TailCutPlan {
            dir: self.dir.clone(),
            delete: vec![p.clone()],
            truncate: None,
            max_seq: self.max_seq,
        });
        let truncate = self.truncate.iter().map(|t| TailCutPlan {
            dir: self.dir.clone(),
            delete: Vec::new(),
            truncate: Some(t.clone()),
            max_seq: self.max_seq,
        });
        deletes.chain(truncate)
    }

    pub fn is_empty(&self) -> bool {
        self.delete.is_empty() && self.truncate.is_none()
    }

    /// Newest segments with no complete valid line, to delete (newest first).
    pub fn delete(&self) -> &[PathBuf] {
        &self.delete
    }

    /// The segment to truncate, its new length and the bytes removed.
    pub fn truncate(&self) -> Option<(&Path, u64, u64)> {
        self.truncate
            .as_ref()
            .map(|(p, new_len, removed)| (p.as_path(), *new_len, *removed))
    }

    /// The max seq before and after (the cut never removes a valid line).
    pub fn max_seq(&self) -> u64 {
        self.max_seq
    }
}

/// Plans the cut from a recovery of `listing` (a pure read).
pub(crate) fn plan_tail_cut(listing: &Listing) -> Result<(TailCutPlan, Recovery), JournalError> {
    let recovery = recover(listing, ReadOptions::default())?;
    let mut delete: Vec<PathBuf> = recovery.segments_without_valid_line.clone();
    delete.reverse();
    let mut truncate = recovery.last_valid.as_ref().and_then(|lv| {
        let seg = listing.segments.iter().find(|s| s.path() == lv.segment)?;
        (seg.len() > lv.end).then(|| (seg.path().to_path_buf(), lv.end, seg.len() - lv.end))
    });
    if recovery.last_valid.is_none()
        && let Some(newest) = listing.newest()
        && newest.start_seq > 1
        && delete.iter().any(|p| p == newest.path())
    {
        // No segment holds a valid line: the max seq is known only from the
        // newest segment's name. Deleting every segment would let the next
        // writer start again at seq 1 and reuse seqs readers may have seen,
        // so the newest segment is emptied instead of deleted: an empty
        // segment named after the next seq, as a writer creates it.
        delete.retain(|p| *p != newest.path());
        if newest.len() > 0 {
            truncate = Some((newest.path().to_path_buf(), 0, newest.len()));
        }
    }
    let plan = TailCutPlan::new(listing, delete, truncate, recovery.max_seq)?;
    Ok((plan, recovery))
}

/// The quarantine files written, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TailCutDone {
    pub quarantined: Vec<PathBuf>,
}

/// The listed segment at `path`.
fn listed<'a>(listing: &'a Listing, path: &Path) -> Result<&'a Segment, JournalError> {
    listing
        .segments
        .iter()
        .find(|s| s.path() == path)
        .ok_or_else(|| JournalError::io(path, std::io::Error::other("not in the listing")))
}

/// Applies `plan` under the claim. The segments must not have changed since
/// the plan was made (true while the claim has been held throughout); every
/// file is opened through the claim's directory descriptor and checked to be
/// the one listed, so a segment swapped for a symlink is refused.
pub(crate) fn apply_tail_cut(
    claim: &Claim,
    listing: &Listing,
    plan: &TailCutPlan,
) -> Result<TailCutDone, JournalError> {
    if plan.dir != listing.dir {
        let e = std::io::Error::other("the tail cut plan was made for another directory");
        return Err(JournalError::io(&listing.dir, e));
    }
    let mut done = TailCutDone::default();
    for path in &plan.delete {
        let seg = listed(listing, path)?;
        let len = claim
            .dir()
            .open_segment(seg, Access::Read)?
            .metadata()
            .map_err(|e| JournalError::io(path, e))?
            .len();
        // An empty segment holds no byte to keep: no 0-byte quarantine file.
        if len > 0 {
            done.quarantined.push(quarantine_range(claim, seg, 0, len)?);
        }
        claim.dir().unlink_segment(seg)?;
        claim.dir().sync()?;
    }
    if let Some((path, new_len, removed)) = &plan.truncate {
        let seg = listed(listing, path)?;
        done.quarantined
            .push(quarantine_range(claim, seg, *new_len, *removed)?);
        let file = claim.dir().open_segment(seg, Access::Write)?;
        file.set_len(*new_len)
            .map_err(|e| JournalError::io(path, e))?;
        file.sync_all().map_err(|e| JournalError::io(path, e))?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::Duration;

    #[test]
    fn cut_moves_every_removed_byte_to_quarantine() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let line = |seq: u64| {
            format!(
                "{{\"seq\":{seq},\"ts\":\"2026-11-20T09:00:00Z\",\"event\":{{\"type\":\"x\"}}}}\n"
            )
        };
        fs::write(
            dir.join("events-00000000000000000001.jsonl"),
            line(1) + &line(2),
        )
        .unwrap();
        let torn = format!("{}{{\"seq\":4,\"ts\"", line(3));
        fs::write(
            dir.join("events-00000000000000000003.jsonl"),
            format!("{torn}\0\0"),
        )
        .unwrap();
        fs::write(dir.join("events-00000000000000000005.jsonl"), "{\"seq\":5").unwrap();

        let claim = Claim::acquire(dir, Duration::ZERO).unwrap();
        let listing = Listing::read(dir).unwrap();
        let (plan, _) = plan_tail_cut(&listing).unwrap();
        assert_eq!(plan.max_seq, 3);
        assert_eq!(plan.delete, [dir.join("events-00000000000000000005.jsonl")]);
        let cut_at = line(3).len() as u64;
        assert_eq!(
            plan.truncate,
            Some((
                dir.join("events-00000000000000000003.jsonl"),
                cut_at,
                torn.len() as u64 - cut_at + 2
            ))
        );

        let done = apply_tail_cut(&claim, &listing, &plan).unwrap();
        assert_eq!(fs::read(&done.quarantined[0]).unwrap(), b"{\"seq\":5");
        assert_eq!(
            fs::read(&done.quarantined[1]).unwrap(),
            b"{\"seq\":4,\"ts\"\0\0"
        );
        assert_eq!(
            fs::read_to_string(dir.join("events-00000000000000000003.jsonl")).unwrap(),
            line(3)
        );
        assert!(!dir.join("events-00000000000000000005.jsonl").exists());
        let (again, _) = plan_tail_cut(&Listing::read(dir).unwrap()).unwrap();
        assert!(
            again.is_empty(),
            "a second cut has nothing to do: {again:?}"
        );
    }

    #[test]
    fn an_empty_segment_is_deleted_without_a_quarantine_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let line = "{\"seq\":1,\"ts\":\"2026-11-20T09:00:00Z\",\"event\":{\"type\":\"x\"}}\n";
        fs::write(dir.join("events-00000000000000000001.jsonl"), line).unwrap();
        fs::write(dir.join("events-00000000000000000002.jsonl"), "").unwrap();
        fs::write(dir.join("events-00000000000000000003.jsonl"), "{\"seq\":3").unwrap();
        let claim = Claim::acquire(dir, Duration::ZERO).unwrap();
        let listing = Listing::read(dir).unwrap();
        let (plan, _) = plan_tail_cut(&listing).unwrap();
        assert_eq!(plan.delete().len(), 2);
        let done = apply_tail_cut(&claim, &listing, &plan).unwrap();
        assert_eq!(done.quarantined.len(), 1, "{:?}", done.quarantined);
        assert_eq!(fs::read(&done.quarantined[0]).unwrap(), b"{\"seq\":3");
        let names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| !n.contains("events-00000000000000000002")),
            "{names:?}"
        );
    }
}
