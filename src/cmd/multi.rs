//! Several journals in one view (`inspect DIR DIR...`, `tail [-f] DIR
//! DIR...`): each journal read through its format's reader, the records
//! merged on time, then source label, then position, each labelled with its
//! source (`--label NAME=PATH`, by default the directory's name).

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use journal::dirread::DirRead;
use journal::query::Matcher;
use journal::record::Record;
use journal::render::notice::DamageTally;
use journal::render::{RenderOptions, Renderer, SourceTag};
use journal::scan::Direction;
use journal::source::reader::{self, Item, OwnedRecord};
use journal::source::{Format, Position, open_family};

use crate::cli::{DirArg, FilterArgs, JournalFormat, OutputFormat};
use crate::cmd::identity::{derived_source_id, host_name};
use crate::cmd::{Context, DirReads, listing_from, resolve_source_read};
use crate::exit_codes::ExitCode;

/// One journal of a merge.
pub(crate) struct Journal {
    pub(crate) path: PathBuf,
    /// `None` while the path does not exist yet (tail -f waits for it).
    pub(crate) format: Option<Format>,
    pub(crate) tag: SourceTag,
    /// The directory read the format's detection made (segments only), for
    /// the first listing of the journal (see [`take_detected`](Journal::take_detected)).
    detected: Mutex<Option<DirRead>>,
}

/// The journals named on the command line, labelled: `--label NAME=PATH`
/// where given, else the directory's name; two that would share a name are
/// told apart by their parent (`host-a/events`, `host-b/events`). `reads`
/// says whether detection may read each directory through the listing cache
/// (read-only commands, the first read of a follower).
pub(crate) fn journals(
    paths: &[PathBuf],
    format: Option<JournalFormat>,
    labels: &[String],
    source_id: Option<&str>,
    may_be_missing: bool,
    reads: DirReads,
) -> Result<Vec<Journal>> {
    if source_id.is_some() {
        bail!(
            "--source-id names one journal; with several, each source id is derived from the host \
             and its path (read several journals with one run each to name them)"
        );
    }
    let mut given: Vec<(PathBuf, String)> = Vec::new();
    for l in labels {
        let Some((name, path)) = l.split_once('=') else {
            bail!("--label {l:?}: expected NAME=PATH");
        };
        if name.is_empty() {
            bail!("--label {l:?}: the name is empty");
        }
        let path = canonical(Path::new(path));
        if !paths.iter().any(|p| canonical(p) == path) {
            bail!(
                "--label {l:?}: {} is not one of the journals given",
                path.display()
            );
        }
        given.push((path, name.to_owned()));
    }
    let host = host_name();
    let mut out = Vec::new();
    for path in paths {
        let exists = path.exists();
        let (format, detected) = if !exists && may_be_missing {
            (None, None)
        } else {
            let arg = DirArg {
                dir: Some(path.clone()),
                format,
            };
            let (_, format, detected) = resolve_source_read(&arg, reads)?;
            (Some(format), detected)
        };
        let canon = canonical(path);
        let label = given
            .iter()
            .find(|(p, _)| *p == canon)
            .map(|(_, n)| n.clone());
        out.push((
            label.is_some(),
            Journal {
                path: path.clone(),
                format,
                tag: SourceTag {
                    label: label.unwrap_or_else(|| last_components(&canon, 1)),
                    id: derived_source_id(&host, path),
                    host: host.clone(),
                },
                detected: Mutex::new(detected),
            },
        ));
    }
    // Default labels that collide take their parent's name too.
    for depth in 2..=4 {
        let labels: Vec<String> = out.iter().map(|(_, j)| j.tag.label.clone()).collect();
        let mut changed = false;
        for (named, j) in out.iter_mut() {
            if !*named && labels.iter().filter(|l| **l == j.tag.label).count() > 1 {
                j.tag.label = last_components(&canonical(&j.path), depth);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    Ok(out.into_iter().map(|(_, j)| j).collect())
}

use crate::cmd::identity::canonical;

fn last_components(p: &Path, n: usize) -> String {
    let parts: Vec<String> = p
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        return p.display().to_string();
    }
    parts[parts.len().saturating_sub(n)..].join("/")
}

/// A record read from one journal of a merge, owned until the merge prints it.
pub(crate) struct Owned {
    pub(crate) source: usize,
    pub(crate) time: Option<DateTime<Utc>>,
    pub(crate) rec: OwnedRecord,
}

impl Journal {
    /// A copy for sorting (the path and tag; the format as known now).
    pub(crate) fn clone_tag(&self) -> Journal {
        Journal {
            path: self.path.clone(),
            format: self.format,
            tag: self.tag.clone(),
            detected: Mutex::new(None),
        }
    }

    /// The read detection made of the directory, once: a journal's first
    /// listing is made from it; later ones list the directory again.
    pub(crate) fn take_detected(&self) -> Option<DirRead> {
        self.detected.lock().map_or(None, |mut d| d.take())
    }

    /// Lists the journal for its first read (from the read detection made,
    /// else through the listing cache): readers only, never a follower's
    /// rescans.
    pub(crate) fn listing_for_reading(&self) -> Result<journal::segment::Listing> {
        listing_from(&self.path, self.take_detected())
    }
}

impl Owned {
    pub(crate) fn new(
        source: usize,
        position: Position,
        record: &Record<'_>,
        stored: &[u8],
    ) -> Self {
        Owned {
            source,
            time: record.timestamp(),
            rec: OwnedRecord::new(position, record, stored),
        }
    }
}

/// Sorts oldest first: on time (a record without one first), then the
/// source's label, then the position.
pub(crate) fn merge_sort(records: &mut [Owned], journals: &[Journal]) {
    records.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then_with(|| {
                journals[a.source]
                    .tag
                    .label
                    .cmp(&journals[b.source].tag.label)
            })
            .then_with(|| a.rec.position.number().cmp(&b.rec.position.number()))
            .then_with(|| a.rec.position.to_string().cmp(&b.rec.position.to_string()))
    });
}

/// The filter each format reads with (a family format adapts the query to
/// its records' shape).
pub(crate) fn matcher_for(
    journal: &Journal,
    format: Format,
    filters: &FilterArgs,
) -> Result<Matcher> {
    let query = filters.to_query()?;
    if format == Format::Segments {
        return Ok(query.matcher());
    }
    let source = open_family(&journal.path, format, &filters.open_options())?;
    Ok(source.adapt_query(query)?.matcher())
}

/// Reads up to `limit` matching records of journal `index` in `direction`.
pub(crate) fn read_journal(
    index: usize,
    journal: &Journal,
    filters: &FilterArgs,
    direction: Direction,
    limit: Option<usize>,
    damage: &mut DamageTally,
    into: &mut Vec<Owned>,
) -> Result<()> {
    read_journal_with(
        index,
        journal,
        filters,
        direction,
        limit,
        damage,
        &mut |r| {
            into.push(r);
            true
        },
    )
}

/// [`read_journal`], handing each record to `take` as it is read; `take`
/// returns `false` to stop the read.
pub(crate) fn read_journal_with(
    index: usize,
    journal: &Journal,
    filters: &FilterArgs,
    direction: Direction,
    limit: Option<usize>,
    damage: &mut DamageTally,
    take: &mut dyn FnMut(Owned) -> bool,
) -> Result<()> {
    let Some(format) = journal.format else {
        return Ok(());
    };
    let matcher = matcher_for(journal, format, filters)?;
    let mut taken = 0usize;
    let mut on_item = |item: Item<'_>| {
        match item {
            Item::Damage(d) => damage.note(d),
            // Only a follower's reads restart a stream.
            Item::Restart { .. } => {}
            Item::Record {
                position,
                record,
                stored,
            } => {
                if !take(Owned::new(index, position, record, stored)) {
                    return ControlFlow::Break(());
                }
                taken += 1;
                if limit.is_some_and(|l| taken >= l) {
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    };
    if limit == Some(0) {
        return Ok(());
    }
    if format == Format::Segments {
        if !filters.branches.is_empty() {
            bail!(
                "{}: --branch filters a per-session store; segments have no branches",
                journal.path.display()
            );
        }
        let listing = journal.listing_for_reading()?;
        let candidates = matcher.query().candidate_segments(&listing);
        let source = reader::Segments {
            listing: &listing,
            candidates,
        };
        source.visit_with(&matcher, direction, &mut on_item)?;
    } else {
        let source = open_family(&journal.path, format, &filters.open_options())?;
        source.visit(&matcher, direction, &mut on_item)?;
    }
    Ok(())
}

/// Records each reader may read ahead of the merge.
const READ_AHEAD: usize = 64;

/// Where a record sorts in a merge: time, then the source's label (as its
/// rank among the labels), then the position.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct MergeKey {
    time: Option<DateTime<Utc>>,
    label_rank: usize,
    number: u64,
    position: String,
}

impl MergeKey {
    fn of(r: &Owned, label_rank: &[usize]) -> Self {
        MergeKey {
            time: r.time,
            label_rank: label_rank[r.source],
            number: r.rec.position.number(),
            position: r.rec.position.to_string(),
        }
    }
}

/// `inspect DIR DIR...`: the newest (or oldest) `limit` matching records of
/// all the journals, merged as they are read: each journal is read in its
/// own thread, newest (or oldest) first, a few records ahead; a heap on
/// (time, label, position) takes the next record from whichever journal has
/// it. Memory is bounded by the number of journals, not by `-n` or `--all`
/// (the table, which sizes its columns from every row, holds its rows).
pub(crate) fn inspect(
    journals: &[Journal],
    filters: &FilterArgs,
    limit: Option<usize>,
    direction: Direction,
    format: OutputFormat,
    explicit_limit: bool,
    ctx: &Context,
) -> Result<ExitCode> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    use std::sync::mpsc;

    let mut order: Vec<usize> = (0..journals.len()).collect();
    order.sort_by(|&a, &b| journals[a].tag.label.cmp(&journals[b].tag.label));
    let mut label_rank = vec![0; journals.len()];
    for (rank, &i) in order.iter().enumerate() {
        label_rank[i] = rank;
    }
    let newest_first = direction == Direction::NewestFirst;
    let mut out = ctx.stdout(false);
    let mut renderer = Renderer::new(RenderOptions::for_console(format.into(), ctx)).labelled();
    let mut shown = 0usize;
    let mut limited = false;
    let (damages, write_error) = std::thread::scope(|scope| {
        let mut receivers = Vec::new();
        let mut readers = Vec::new();
        for (i, j) in journals.iter().enumerate() {
            let (tx, rx) = mpsc::sync_channel::<Owned>(READ_AHEAD);
            receivers.push(rx);
            readers.push(scope.spawn(move || -> Result<DamageTally> {
                let mut damage = DamageTally::default();
                if limit != Some(0) {
                    read_journal_with(i, j, filters, direction, limit, &mut damage, &mut |r| {
                        tx.send(r).is_ok()
                    })?;
                }
                Ok(damage)
            }));
        }
        // The next record of every journal, in the heap by its key (the
        // larger first when newest first).
        let mut next: Vec<Option<Owned>> = receivers.iter().map(|rx| rx.recv().ok()).collect();
        let mut heap = BinaryHeap::new();
        let key = |r: &Owned| {
            let k = MergeKey::of(r, &label_rank);
            if newest_first {
                (Some(k), None)
            } else {
                (None, Some(Reverse(k)))
            }
        };
        for (i, r) in next.iter().enumerate() {
            if let Some(r) = r {
                heap.push((key(r), Reverse(i)));
            }
        }
        let mut write_error = None;
        while let Some((_, Reverse(i))) = heap.pop() {
            if limit.is_some_and(|l| shown >= l) {
                limited = true;
                break;
            }
            let r = next[i].take().expect("a record for every heap entry");
            let tag = &journals[r.source].tag;
            if let Err(e) = renderer.record_at(
                &mut out,
                &r.rec.record(),
                r.rec.stored(),
                &r.rec.position,
                Some(tag),
            ) {
                write_error = Some(e);
                break;
            }
            shown += 1;
            if let Ok(r) = receivers[i].recv() {
                heap.push((key(&r), Reverse(i)));
                next[i] = Some(r);
            }
        }
        // The readers stop at their next record.
        drop(receivers);
        let damages: Vec<Result<DamageTally>> = readers
            .into_iter()
            .map(|h| h.join().expect("a reader thread does not panic"))
            .collect();
        (damages, write_error)
    });
    if let Some(e) = write_error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::Success);
        }
        return Err(e.into());
    }
    let mut unreadable = false;
    for (j, damage) in journals.iter().zip(damages) {
        let damage = damage?;
        damage.report(&j.path);
        unreadable |= damage.any_unreadable();
    }
    renderer.finish(&mut out)?;
    out.flush()?;
    if let Some(l) = limit
        && l > 0
        && (limited || shown == l)
    {
        journal::render::notice::limit_reached(l, explicit_limit);
    }
    if shown == 0 && limit != Some(0) && ctx.stdout_tty {
        journal::render::notice::no_match();
    }
    Ok(if unreadable {
        ExitCode::CouldNotRun
    } else {
        ExitCode::Success
    })
}
