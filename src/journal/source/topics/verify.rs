//! Verify for both backends: ids strictly increasing per topic (a missing
//! prefix is the runtime's own compaction: a note), the provenance chain
//! recomputed for every event, consumer cursors against their heads, and for
//! SQLite `topic_heads` and `PRAGMA quick_check`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::chain;
use super::{Opened, StreamItem, TopicEvent, TopicLog, TopicStream};
use crate::journal::defect::{Defect, DefectKind};
use crate::journal::error::JournalError;
use crate::journal::source::family::{Checked, FamilyVerify, FamilyVerifyOptions, Note};
use crate::journal::source::reader::Source;

/// What verify found in one topic.
#[derive(Debug, Clone)]
pub struct TopicCheck {
    pub topic: String,
    pub records: u64,
    pub bytes: u64,
    /// The newest id read.
    pub head: Option<u64>,
    /// The recomputed record hash of the newest event.
    pub last_hash: Option<String>,
    pub defects: Vec<Defect>,
    pub notes: Vec<Note>,
}

fn at(e: &TopicEvent, kind: DefectKind, detail: String) -> Defect {
    Defect {
        line: e.place.line,
        seq_after: Some(e.id),
        ..Defect::new(kind, &e.place.file, e.place.offset, e.place.len, detail)
    }
}

/// The defect of id `id` coming after id `prev` (repeated, backwards, or
/// skipping ids), placed where `here` is; `None` when it follows on.
fn sequence_defect(topic: &str, prev: Option<u64>, id: u64, here: &Defect) -> Option<Defect> {
    let p = prev?;
    let (kind, what) = if id == p {
        (DefectKind::SeqRepeated, format!("id {id} repeats"))
    } else if id < p {
        (
            DefectKind::SeqBackwards,
            format!("id {id} goes back after {p}"),
        )
    } else if id > p + 1 {
        (
            DefectKind::SeqGap,
            format!(
                "ids skip from {p} to {id}: events {}..={} are missing (the runtime's \
                 compaction only removes a prefix)",
                p + 1,
                id - 1
            ),
        )
    } else {
        return None;
    };
    Some(Defect {
        kind,
        severity: kind.default_severity(),
        seq_before: Some(p),
        seq_after: Some(id),
        detail: format!("topic {topic}: {what}"),
        ..here.clone()
    })
}

/// Reads one topic oldest first and checks its ids and its chain.
pub fn check_topic(topic: &str, stream: &mut dyn TopicStream) -> Result<TopicCheck, JournalError> {
    let mut c = TopicCheck {
        topic: topic.to_owned(),
        records: 0,
        bytes: 0,
        head: None,
        last_hash: None,
        defects: Vec::new(),
        notes: Vec::new(),
    };
    // The previous event's id and stored record hash.
    let mut prev: Option<(u64, Option<String>)> = None;
    let mut unchained = 0u64;
    while let Some(item) = stream.next_item()? {
        let e = match item {
            StreamItem::Damage(d) => {
                c.defects.push(d);
                continue;
            }
            // Stored but unreadable: its id takes its place in the
            // sequence and the head; its hash is unknown, so the next
            // event's link cannot be checked.
            StreamItem::DamagedEvent { id, defect } => {
                if let Some(d) = sequence_defect(topic, prev.as_ref().map(|p| p.0), id, &defect) {
                    c.defects.push(d);
                }
                c.defects.push(defect);
                c.head = Some(id);
                c.last_hash = None;
                prev = Some((id, None));
                continue;
            }
            StreamItem::Event(e) => e,
        };
        c.records += 1;
        c.bytes += e.raw.len() as u64 + 1;
        if prev.is_none() && e.id > 1 {
            c.notes.push(Note {
                kind: "compaction-gap",
                stream: topic.to_owned(),
                detail: format!(
                    "ids start at {}: events 1..={} were removed by the runtime's own \
                     compaction (normal); the first event's prev_hash cannot be checked",
                    e.id,
                    e.id - 1
                ),
            });
        }
        let here = at(&e, DefectKind::SeqGap, String::new());
        if let Some(d) = sequence_defect(topic, prev.as_ref().map(|p| p.0), e.id, &here) {
            c.defects.push(d);
        }
        let link = match chain::link(topic, &e.raw) {
            Ok(link) => link,
            Err(why) => {
                c.defects.push(at(
                    &e,
                    DefectKind::NotEventRecord,
                    format!(
                        "topic {topic} id {}: cannot recompute its hash ({why})",
                        e.id
                    ),
                ));
                prev = Some((e.id, None));
                continue;
            }
        };
        if !link.chained {
            unchained += 1;
        } else {
            if link.stored.as_deref() != Some(link.computed.as_str()) {
                c.defects.push(at(
                    &e,
                    DefectKind::ChainHash,
                    format!(
                        "topic {topic} id {}: record_hash {} does not match the hash recomputed \
                         from the event, {}: the event was changed after it was written",
                        e.id,
                        link.stored.as_deref().unwrap_or("(none)"),
                        link.computed
                    ),
                ));
            }
            match (&prev, &link.prev) {
                (Some((pid, Some(expected))), got) if got.as_ref() != Some(expected) => {
                    c.defects.push(Defect {
                        seq_before: Some(*pid),
                        ..at(
                            &e,
                            DefectKind::ChainLink,
                            format!(
                                "topic {topic} id {}: prev_hash {} is not the record_hash of the \
                                 event before it (id {pid}, {expected}): an event was removed, \
                                 replaced or reordered here",
                                e.id,
                                got.as_deref().unwrap_or("(none)"),
                            ),
                        )
                    })
                }
                (None, Some(got)) if e.id == 1 => c.defects.push(at(
                    &e,
                    DefectKind::ChainLink,
                    format!(
                        "topic {topic} id 1: the first event carries a prev_hash ({got}): \
                         events before it were removed"
                    ),
                )),
                _ => {}
            }
        }
        c.last_hash = Some(link.computed);
        c.head = Some(e.id);
        prev = Some((e.id, link.stored));
    }
    if unchained > 0 {
        c.notes.push(Note {
            kind: "unchained",
            stream: topic.to_owned(),
            detail: format!("{unchained} events carry no provenance headers: not chained"),
        });
    }
    Ok(c)
}

pub(super) fn verify(
    log: &TopicLog,
    opened: &Opened<'_>,
    opts: &FamilyVerifyOptions,
) -> Result<FamilyVerify, JournalError> {
    let mut out = FamilyVerify {
        format: log.format(),
        path: log.path().to_owned(),
        checked: Vec::new(),
        records: 0,
        defects: Vec::new(),
        notes: Vec::new(),
    };
    let mut heads: BTreeMap<String, u64> = BTreeMap::new();
    for topic in log.selected(opened)? {
        let mut stream = opened.stream(&topic, false)?;
        let c = check_topic(&topic, &mut *stream)?;
        drop(stream);
        let file: Option<PathBuf> = match opened {
            Opened::Jsonl(j) => Some(j.topic_path(&topic)),
            Opened::Sqlite(_) => None,
        };
        let bytes = match &file {
            Some(f) => std::fs::metadata(f).map(|m| m.len()).unwrap_or(c.bytes),
            None => c.bytes,
        };
        let mut extra = BTreeMap::new();
        extra.insert("head".to_owned(), serde_json::json!(c.head));
        extra.insert("last_hash".to_owned(), serde_json::json!(c.last_hash));
        out.checked.push(Checked {
            name: topic.clone(),
            file,
            bytes,
            records: c.records,
            extra,
        });
        out.records += c.records;
        out.defects.extend(c.defects);
        out.notes.extend(c.notes);
        if let Some(h) = c.head {
            heads.insert(topic, h);
        }
    }
    if let Opened::Jsonl(j) = opened {
        out.defects.extend(j.irregular());
    }
    // Consumers.
    let (consumers, defects) = opened.consumers()?;
    out.defects.extend(defects);
    for c in consumers.iter().filter(|c| log.wanted(&c.topic)) {
        let head = heads.get(&c.topic).copied().unwrap_or(0);
        if c.cursor > head {
            let place = c.file.clone().unwrap_or_else(|| log.path().to_owned());
            out.defects.push(Defect {
                seq_before: Some(head),
                seq_after: Some(c.cursor),
                ..Defect::new(
                    DefectKind::CursorBeyondHead,
                    &place,
                    0,
                    0,
                    format!(
                        "consumer {:?} on topic {}: cursor {} is beyond the topic's head {head}: \
                         it will skip events {}..={} when they are written (a compaction that \
                         empties a topic deletes it, and its ids restart at 1)",
                        c.consumer_id,
                        c.topic,
                        c.cursor,
                        head + 1,
                        c.cursor
                    ),
                )
            });
        }
    }
    if let Opened::Sqlite(db) = opened {
        let table = db.topic_heads()?;
        let mut topics: Vec<&String> = table.keys().chain(heads.keys()).collect();
        topics.sort();
        topics.dedup();
        for topic in topics.into_iter().filter(|t| log.wanted(t)) {
            // An unreadable last_id is said once, with nothing to compare.
            let last_id = match table.get(topic).map(Result::as_ref).transpose() {
                Err(d) => {
                    out.defects.push(d.clone());
                    continue;
                }
                Ok(last_id) => last_id.copied(),
            };
            if let Some(d) = super::sqlite::head_disagreement(
                &db.path,
                topic,
                last_id,
                heads.get(topic).copied(),
            ) {
                out.defects.push(d);
            }
        }
        for problem in db.quick_check()? {
            out.defects.push(Defect::new(
                DefectKind::DatabaseCheck,
                &db.path,
                0,
                0,
                format!("PRAGMA quick_check: {problem}"),
            ));
        }
    }
    if opts.strict {
        for d in &mut out.defects {
            d.severity = crate::journal::defect::Severity::Error;
        }
    }
    Ok(out)
}
