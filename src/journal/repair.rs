//! `repair`: bring a damaged journal back to what the engine expects, without
//! losing a byte.
//!
//! Two modes, chosen explicitly ([`RepairMode`], like raft-engine's
//! `RecoveryMode`):
//! - [`RepairMode::TailOnly`] (the default) does what the engine does on
//!   restart, through [`tailcut`]: the newest segment is cut to the end of its
//!   last complete valid line, newest segments without one are deleted.
//!   Damage anywhere else is *refused*: reported, left untouched.
//! - [`RepairMode::DropCorrupt`] also rewrites every other segment holding
//!   damaged lines without those lines: a temporary file in the directory
//!   (named so it never parses as a segment), fsync, rename over the segment,
//!   fsync of the directory. Good lines are copied byte for byte; a segment
//!   left with no byte is deleted instead.
//!
//! Guarantees:
//! - a line that is complete and valid is never removed, in either mode;
//! - every removed byte is first copied to a durable quarantine file
//!   ([`quarantine_range`]); only then is a segment truncated, replaced or
//!   deleted, each in one atomic step, so a repair killed at any point leaves
//!   each segment as before or as after and the quarantine complete;
//! - seq gaps, repeats and name mismatches are reported and left: repairing
//!   them would mean inventing or renumbering events;
//! - planning is a pure read ([`plan_repair`]); [`apply_repair`] needs the
//!   claim and a plan made while holding it.
//!
//! [`tailcut`]: crate::journal::tailcut

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::journal::claim::Claim;
use crate::journal::defect::{Defect, DefectKind};
use crate::journal::dirfd::Access;
use crate::journal::error::JournalError;
use crate::journal::quarantine::quarantine_range;
use crate::journal::segment::{Listing, Segment};
use crate::journal::tailcut::{TailCutPlan, apply_tail_cut, plan_tail_cut};
use crate::journal::verify::{DamagedLine, VerifyOptions, verify};

/// What repair may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RepairMode {
    /// Only the tail of the journal, as the engine does on restart.
    TailOnly,
    /// The tail, and damaged lines inside any segment.
    DropCorrupt,
}

/// Contiguous damaged lines removed from one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropRange {
    pub offset: u64,
    /// Bytes, newlines included.
    pub len: u64,
    pub first_line: u64,
    pub lines: u64,
    /// Defect kinds of the lines, in order.
    pub kinds: Vec<DefectKind>,
    /// The seqs the removed lines start with, where readable.
    pub seq_hints: Vec<u64>,
}

/// A segment rewritten without its damaged lines (or deleted if nothing stays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rewrite {
    #[serde(serialize_with = "crate::journal::segment::ser::file_name")]
    pub segment: PathBuf,
    /// The segment's length when the rewrite starts (after any tail cut).
    pub old_len: u64,
    pub new_len: u64,
    pub drop: Vec<DropRange>,
    /// Nothing stays: the segment is deleted (never the newest).
    pub delete: bool,
}

/// Everything a repair will do, and what it will not.
///
/// Only [`plan_repair`] makes one (the fields are not public): every path in
/// it is a segment of the listing it checked, so [`apply_repair`] never
/// truncates, replaces or deletes anything else:
///
/// ```compile_fail
/// let plan: journal::repair::RepairPlan = unimplemented!();
/// let _ = plan.rewrites; // not public: read it through `plan.rewrites()`
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct RepairPlan {
    pub(crate) mode: RepairMode,
    pub(crate) tail: TailCutPlan,
    /// Seqs that the lines removed by the tail cut start with, where readable.
    pub(crate) tail_seq_hints: Vec<u64>,
    pub(crate) rewrites: Vec<Rewrite>,
    /// Damage this mode leaves in place (or that no mode may touch, such as
    /// an entry that is not a regular file). Non-empty means "not repaired".
    pub(crate) refused: Vec<Defect>,
    /// Exact count of refused items (the list above is capped like verify's).
    pub(crate) refused_count: u64,
    /// Damage repair never changes: seq gaps, repeats, name mismatches, and
    /// records the engine skips.
    pub(crate) left: Vec<Defect>,
    /// The max seq (last complete valid line) before; a repair removes no
    /// valid line, so it is also the max seq after.
    pub(crate) max_seq: u64,
    /// Bytes of the segments the tail cut deletes.
    pub(crate) tail_deleted_bytes: u64,
}

impl RepairPlan {
    /// What this plan may change.
    pub fn mode(&self) -> RepairMode {
        self.mode
    }

    /// The tail cut (runs first).
    pub fn tail(&self) -> &TailCutPlan {
        &self.tail
    }

    /// Seqs that the lines removed by the tail cut start with, where readable.
    pub fn tail_seq_hints(&self) -> &[u64] {
        &self.tail_seq_hints
    }

    /// Segments rewritten without their damaged lines (drop-corrupt mode).
    pub fn rewrites(&self) -> &[Rewrite] {
        &self.rewrites
    }

    /// Damage this mode leaves in place, or that no mode may touch (capped
    /// like verify's list; see [`RepairPlan::refused_count`]).
    pub fn refused(&self) -> &[Defect] {
        &self.refused
    }

    /// Exact count of refused items.
    pub fn refused_count(&self) -> u64 {
        self.refused_count
    }

    /// Damage repair never changes: seq gaps, repeats, name mismatches, and
    /// records the engine skips.
    pub fn left(&self) -> &[Defect] {
        &self.left
    }

    /// The max seq before, and after (a repair removes no valid line).
    pub fn max_seq(&self) -> u64 {
        self.max_seq
    }

    /// Bytes of the segments the tail cut deletes.
    pub fn tail_deleted_bytes(&self) -> u64 {
        self.tail_deleted_bytes
    }

    /// Some damage stays because this mode (or any mode) may not touch it.
    pub fn is_refused(&self) -> bool {
        self.refused_count > 0
    }

    pub fn is_empty(&self) -> bool {
        self.tail.is_empty() && self.rewrites.is_empty()
    }

    /// Seqs the removed lines started with, from the middle of the journal.
    pub fn dropped_seq_hints(&self) -> Vec<u64> {
        self.rewrites
            .iter()
            .flat_map(|r| r.drop.iter().flat_map(|d| d.seq_hints.iter().copied()))
            .collect()
    }

    /// Bytes the plan removes.
    pub fn removed_bytes(&self) -> u64 {
        let tail: u64 = self.tail.truncate().map_or(0, |t| t.2);
        let rewrites: u64 = self.rewrites.iter().map(|r| r.old_len - r.new_len).sum();
        tail + rewrites + self.tail_deleted_bytes
    }
}

/// One durable change, in the order made (for logs and crash tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A tail step: segments deleted, or the newest truncated.
    TailCut,
    Quarantined(PathBuf),
    Replaced(PathBuf),
    Deleted(PathBuf),
}

/// What was done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairDone {
    /// Every quarantine file written, in order.
    pub quarantined: Vec<PathBuf>,
}

/// Plans a repair of `listing` in `mode` (reads every segment; changes nothing).
pub fn plan_repair(listing: &Listing, mode: RepairMode) -> Result<RepairPlan, JournalError> {
    let (tail, recovery) = plan_tail_cut(listing)?;
    let report = verify(
        listing,
        &VerifyOptions {
            collect_damaged_lines: true,
            ..VerifyOptions::default()
        },
        None,
    )?;
    // Where the tail starts: (segment index, offset). Everything at or after
    // it is the tail cut's; a journal without a valid line is all tail.
    let tail_start = match &recovery.last_valid {
        Some(lv) => listing
            .segments
            .iter()
            .position(|s| s.path() == lv.segment)
            .map_or((0, 0), |i| (i, lv.end)),
        None => (0, 0),
    };
    let index_of = |path: &Path| listing.segments.iter().position(|s| s.path() == path);
    let in_tail = |seg: usize, offset: u64| (seg, offset) >= tail_start;

    let mut tail_seq_hints = Vec::new();
    let mut rewrites = Vec::new();
    let mut refused_count = listing.irregular.len() as u64;
    for (i, damaged) in report.damaged_lines.iter().enumerate() {
        let seg = &listing.segments[i];
        let (tail_part, inside): (Vec<&DamagedLine>, Vec<&DamagedLine>) =
            damaged.iter().partition(|d| in_tail(i, d.offset));
        tail_seq_hints.extend(tail_part.iter().filter_map(|d| d.seq_hint));
        // Empty, or blank lines only: nothing valid and nothing damaged.
        let empty_closed = report.segments[i].records == 0 && inside.is_empty() && !in_tail(i, 0);
        if mode == RepairMode::TailOnly {
            refused_count += inside.len() as u64 + u64::from(empty_closed);
        }
        if mode != RepairMode::DropCorrupt || (inside.is_empty() && !empty_closed) {
            continue;
        }
        // The tail cut runs first: the rewrite starts from its result.
        let old_len = match tail.truncate() {
            Some((path, new_len, _)) if path == seg.path() => new_len,
            _ => seg.len(),
        };
        let mut drop = merge(&inside);
        if report.segments[i].records == 0 && old_len > 0 {
            // Nothing valid stays, only blank lines between the damage: the
            // segment goes whole (blank bytes included, into quarantine)
            // rather than stay as a segment of blank lines.
            drop = vec![DropRange {
                offset: 0,
                len: old_len,
                first_line: 1,
                lines: report.segments[i].lines,
                kinds: if inside.is_empty() {
                    vec![DefectKind::EmptySegment]
                } else {
                    inside.iter().map(|d| d.kind).collect()
                },
                seq_hints: inside.iter().filter_map(|d| d.seq_hint).collect(),
            }];
        }
        let removed: u64 = drop.iter().map(|d| d.len).sum();
        rewrites.push(Rewrite {
            segment: seg.path().to_path_buf(),
            old_len,
            new_len: old_len - removed,
            delete: old_len == removed,
            drop,
        });
    }

    let mut refused = Vec::new();
    let mut left = Vec::new();
    for d in report.defects {
        match d.kind {
            DefectKind::SeqGap
            | DefectKind::SeqRepeated
            | DefectKind::SeqBackwards
            | DefectKind::TsBackwards
            | DefectKind::NameMismatch
            | DefectKind::EngineUnknownType
            | DefectKind::EngineMissingField => left.push(d),
            DefectKind::NotRegularFile => refused.push(d),
            // Never rewritten blind: what it holds is unknown.
            DefectKind::Unreadable => {
                refused_count += 1;
                refused.push(d);
            }
            // Segment-level: the tail cut deletes such a newest segment.
            DefectKind::NoCompleteLine => {}
            _ => {
                let Some(i) = index_of(&d.segment) else {
                    refused.push(d);
                    continue;
                };
                if !in_tail(i, d.offset) && mode == RepairMode::TailOnly {
                    refused.push(d);
                }
            }
        }
    }
    let tail_deleted_bytes = tail
        .delete()
        .iter()
        .filter_map(|p| listing.segments.iter().find(|s| s.path() == *p))
        .map(|s| s.len())
        .sum();
    Ok(RepairPlan {
        mode,
        tail,
        tail_seq_hints,
        rewrites,
        refused,
        refused_count,
        left,
        max_seq: recovery.max_seq,
        tail_deleted_bytes,
    })
}

/// Merges adjacent damaged lines into ranges (one quarantine file each).
fn merge(lines: &[&DamagedLine]) -> Vec<DropRange> {
    let mut out: Vec<DropRange> = Vec::new();
    for d in lines {
        match out.last_mut() {
            Some(r) if r.offset + r.len == d.offset => {
                r.len += d.len;
                r.lines += 1;
                r.kinds.push(d.kind);
                r.seq_hints.extend(d.seq_hint);
            }
            _ => out.push(DropRange {
                offset: d.offset,
                len: d.len,
                first_line: d.line,
                lines: 1,
                kinds: vec![d.kind],
                seq_hints: d.seq_hint.into_iter().collect(),
            }),
        }
    }
    out
}

/// Carries out `plan` under `claim`; `on_step` is told after each durable change.
pub fn apply_repair(
    claim: &Claim,
    listing: &Listing,
    plan: &RepairPlan,
    on_step: &mut dyn FnMut(&Step),
) -> Result<RepairDone, JournalError> {
    let mut done = RepairDone::default();
    // The tail cut, one operation at a time so each is a step of its own.
    for step in plan.tail.steps() {
        let cut = apply_tail_cut(claim, listing, &step)?;
        done.quarantined.extend(cut.quarantined);
        on_step(&Step::TailCut);
    }
    for rewrite in &plan.rewrites {
        let seg = listing
            .segments
            .iter()
            .find(|s| s.path() == rewrite.segment)
            .ok_or_else(|| {
                JournalError::io(&rewrite.segment, io::Error::other("not in the listing"))
            })?;
        apply_rewrite(claim, seg, rewrite, &mut done, on_step)?;
    }
    Ok(done)
}

fn apply_rewrite(
    claim: &Claim,
    seg: &Segment,
    rewrite: &Rewrite,
    done: &mut RepairDone,
    on_step: &mut dyn FnMut(&Step),
) -> Result<(), JournalError> {
    let path = &rewrite.segment;
    let dir = claim.dir();
    // Opened once, through the directory descriptor, checked to be the
    // listed regular file: every later read comes from this descriptor.
    let input = dir.open_segment(seg, Access::Read)?;
    let len = input
        .metadata()
        .map_err(|e| JournalError::io(path, e))?
        .len();
    if len != rewrite.old_len {
        let e = io::Error::other(format!(
            "the segment is {len} bytes, the plan expected {}: it changed since the plan",
            rewrite.old_len
        ));
        return Err(JournalError::io(path, e));
    }
    for range in &rewrite.drop {
        let q = quarantine_range(claim, seg, range.offset, range.len)?;
        on_step(&Step::Quarantined(q.clone()));
        done.quarantined.push(q);
    }
    if rewrite.delete {
        dir.unlink_segment(seg)?;
        dir.sync()?;
        on_step(&Step::Deleted(path.clone()));
        return Ok(());
    }
    let name = seg.file_name();
    let tmp_name = format!(".repair-{name}.{}.tmp", std::process::id());
    let tmp = dir.path().join(&tmp_name);
    let result = write_without(claim, &input, path, &tmp_name, &tmp, rewrite).and_then(|()| {
        dir.rename(&tmp_name, &name)?;
        dir.sync()
    });
    if result.is_err() {
        let _ = dir.unlink(&tmp_name);
    }
    result?;
    on_step(&Step::Replaced(path.clone()));
    Ok(())
}

/// Writes `input` (the segment `src`) minus the dropped ranges to a new file
/// `tmp_name` in the directory (same permissions), durably.
fn write_without(
    claim: &Claim,
    input: &File,
    src: &Path,
    tmp_name: &str,
    tmp: &Path,
    rewrite: &Rewrite,
) -> Result<(), JournalError> {
    let mode = input
        .metadata()
        .map_err(|e| JournalError::io(src, e))?
        .permissions()
        .mode()
        & 0o777;
    let mut out = claim.dir().create_new(tmp_name, mode, false)?;
    out.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| JournalError::io(tmp, e))?;
    let mut keep = Vec::new();
    let mut at = 0;
    for d in &rewrite.drop {
        keep.push((at, d.offset));
        at = d.offset + d.len;
    }
    keep.push((at, rewrite.old_len));
    let mut buf = vec![0u8; 1 << 20];
    for (from, to) in keep {
        let mut pos = from;
        while pos < to {
            let want = ((to - pos) as usize).min(buf.len());
            let n = input
                .read_at(&mut buf[..want], pos)
                .map_err(|e| JournalError::io(src, e))?;
            if n == 0 {
                let e =
                    io::Error::new(io::ErrorKind::UnexpectedEof, "segment shrank during repair");
                return Err(JournalError::io(src, e));
            }
            out.write_all(&buf[..n])
                .map_err(|e| JournalError::io(tmp, e))?;
            pos += n as u64;
        }
    }
    out.sync_all().map_err(|e| JournalError::io(tmp, e))
}
