//! The one reading loop every command uses: visit the lines of a listing's
//! segments oldest-first or newest-first, each segment read forwards or
//! backwards through the chunked readers, stopping as soon as the visitor says so.
//!
//! Classification of each line happens here so every command agrees on it:
//! blank lines are skipped; an unterminated last line is a torn tail (newest
//! segment) or a torn line (closed segment) and is never handed out as data.

use std::io;
use std::ops::ControlFlow;

use crate::journal::defect::{Defect, DefectKind};
use crate::journal::error::JournalError;
use crate::journal::lines::{
    BackwardLines, ForwardLines, Line, LineBody, LineReader, ReadOptions, WindowFilter,
};
use crate::journal::segment::{Listing, Segment};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    OldestFirst,
    NewestFirst,
}

/// What the scan hands the visitor.
pub enum Visit<'s, 'l> {
    /// A complete, non-blank line (not parsed yet: the visitor parses late).
    Line {
        segment: &'s Segment,
        line: Line<'l>,
    },
    /// A line that cannot be data whatever it holds (torn, too long).
    Damage(Defect),
}

/// Visits the lines of the segments at `indexes` (positions in
/// `listing.segments`, ascending) in `direction`.
///
/// A segment deleted since the listing (a concurrent prune) is passed over:
/// it is gone, not damaged.
///
/// With a `window_filter`, whole windows of complete lines it rejects are
/// passed over unseen (see [`WindowFilter`]): the visitor only meets lines that
/// may be wanted, plus every torn tail.
pub fn scan<F>(
    listing: &Listing,
    indexes: &[usize],
    direction: Direction,
    opts: ReadOptions,
    window_filter: Option<WindowFilter>,
    mut visit: F,
) -> Result<ControlFlow<()>, JournalError>
where
    F: FnMut(Visit<'_, '_>) -> ControlFlow<()>,
{
    let newest = listing.segments.len().checked_sub(1);
    let mut order: Vec<usize> = indexes.to_vec();
    if direction == Direction::NewestFirst {
        order.reverse();
    }
    for i in order {
        let seg = &listing.segments[i];
        let is_newest = Some(i) == newest;
        #[cfg(test)]
        if tests::UNREADABLE.with(|u| u.borrow().as_deref() == Some(seg.path.as_path())) {
            let e = io::Error::from(io::ErrorKind::PermissionDenied);
            if visit(Visit::Damage(unreadable(seg, &e))).is_break() {
                return Ok(ControlFlow::Break(()));
            }
            continue;
        }
        let flow = match direction {
            Direction::OldestFirst => {
                ForwardLines::open(&seg.path, seg.len(), opts).and_then(|lines| {
                    scan_segment(
                        lines.with_window_filter(window_filter.clone()),
                        seg,
                        is_newest,
                        &mut visit,
                    )
                })
            }
            Direction::NewestFirst => {
                BackwardLines::open(&seg.path, seg.len(), opts).and_then(|lines| {
                    scan_segment(
                        lines.with_window_filter(window_filter.clone()),
                        seg,
                        is_newest,
                        &mut visit,
                    )
                })
            }
        };
        match flow {
            Ok(ControlFlow::Continue(())) => {}
            Ok(ControlFlow::Break(())) => return Ok(ControlFlow::Break(())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // One segment that cannot be read is reported, like ripgrep does
            // a file, and the rest is still read; the command's exit status
            // says that something could not be read.
            Err(e) => {
                if visit(Visit::Damage(unreadable(seg, &e))).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
    }
    Ok(ControlFlow::Continue(()))
}

fn unreadable(seg: &Segment, e: &io::Error) -> Defect {
    Defect::new(
        DefectKind::Unreadable,
        &seg.path,
        0,
        seg.len(),
        format!("could not be read: {e}"),
    )
}

fn scan_segment<F>(
    mut lines: impl LineReader,
    seg: &Segment,
    is_newest: bool,
    visit: &mut F,
) -> io::Result<ControlFlow<()>>
where
    F: FnMut(Visit<'_, '_>) -> ControlFlow<()>,
{
    while let Some(line) = lines.read_line()? {
        if visit_line(seg, is_newest, line, visit).is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    Ok(ControlFlow::Continue(()))
}

fn visit_line<F>(seg: &Segment, is_newest: bool, line: Line<'_>, visit: &mut F) -> ControlFlow<()>
where
    F: FnMut(Visit<'_, '_>) -> ControlFlow<()>,
{
    if let Some(defect) = structural_defect(seg, is_newest, &line) {
        return visit(Visit::Damage(defect));
    }
    if line
        .content()
        .is_some_and(|c| c.iter().all(u8::is_ascii_whitespace))
    {
        return ControlFlow::Continue(());
    }
    visit(Visit::Line { segment: seg, line })
}

/// Damage a line has whatever its bytes: no `\n`, or too long to hold.
pub(crate) fn structural_defect(seg: &Segment, is_newest: bool, line: &Line<'_>) -> Option<Defect> {
    if !line.terminated {
        let (kind, what) = if is_newest {
            (
                DefectKind::TornTail,
                "the newest segment ends in a partial line (no newline)",
            )
        } else {
            (
                DefectKind::TornLine,
                "a closed segment ends in a partial line (no newline)",
            )
        };
        let detail = format!("{what}: {} bytes", line.len);
        return Some(Defect {
            line: line.number,
            ..Defect::new(kind, &seg.path, line.offset, line.len, detail)
        });
    }
    if let LineBody::TooLong = line.body {
        let detail = format!("line of {} bytes is longer than the reader's cap", line.len);
        return Some(Defect {
            line: line.number,
            ..Defect::new(
                DefectKind::LineTooLong,
                &seg.path,
                line.offset,
                line.len,
                detail,
            )
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::path::PathBuf;

    use super::*;

    thread_local! {
        /// A segment that reads as permission denied (tests run as root,
        /// where chmod cannot make a file unreadable).
        pub(super) static UNREADABLE: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
    }

    #[test]
    fn an_unreadable_segment_is_damage_and_the_rest_is_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        for (start, seqs) in [(1u64, 1..=2u64), (3, 3..=4), (5, 5..=6)] {
            let text: String = seqs
                .map(|n| format!("{{\"seq\":{n},\"ts\":\"2026-01-01T00:00:0{n}Z\",\"event\":{{\"type\":\"error\"}}}}\n"))
                .collect();
            std::fs::write(
                tmp.path().join(crate::segment::segment_file_name(start)),
                text,
            )
            .unwrap();
        }
        let listing = Listing::read(tmp.path()).unwrap();
        let bad = listing.segments()[1].path().to_owned();
        UNREADABLE.with(|u| *u.borrow_mut() = Some(bad.clone()));
        for direction in [Direction::OldestFirst, Direction::NewestFirst] {
            let (mut lines, mut damage) = (0, Vec::new());
            let all: Vec<usize> = (0..listing.segments().len()).collect();
            let flow = scan(
                &listing,
                &all,
                direction,
                ReadOptions::default(),
                None,
                |visit| {
                    match visit {
                        Visit::Line { .. } => lines += 1,
                        Visit::Damage(d) => damage.push(d),
                    }
                    ControlFlow::Continue(())
                },
            );
            assert!(flow.unwrap().is_continue());
            assert_eq!(lines, 4, "{direction:?}");
            assert_eq!(damage.len(), 1, "{direction:?}");
            assert_eq!(
                (damage[0].kind, &damage[0].segment),
                (DefectKind::Unreadable, &bad)
            );
            assert!(
                damage[0].detail.contains("permission denied"),
                "{:?}",
                damage[0]
            );
        }
        UNREADABLE.with(|u| *u.borrow_mut() = None);
    }
}
