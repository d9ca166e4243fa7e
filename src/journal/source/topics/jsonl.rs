//! The JSONL backend: `<root>/topics/<topic>.jsonl`, one
//! `{"id":N,"event":{..}}` per line; the runtime's reader skips an
//! incomplete last line but fails on the first complete line it cannot
//! parse. Topic files are read a line at a time, forwards or from the end.

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};

use super::consumers::{self, Consumer};
use super::{LineBody, Place, StreamItem, TopicEvent, TopicStream, classify};
use crate::journal::defect::{Defect, DefectKind};
use crate::journal::error::JournalError;
use crate::journal::lines::{BackwardLines, ForwardLines, Line, ReadOptions};

/// A JSONL per-topic log.
#[derive(Debug, Clone)]
pub struct JsonlLog {
    pub root: PathBuf,
}

impl JsonlLog {
    pub fn open(root: &Path) -> Result<JsonlLog, JournalError> {
        let topics = root.join("topics");
        if !topics.is_dir() {
            return Err(JournalError::io(
                &topics,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no topics/ directory"),
            ));
        }
        Ok(JsonlLog {
            root: root.to_owned(),
        })
    }

    pub fn topics_dir(&self) -> PathBuf {
        self.root.join("topics")
    }

    pub fn topic_path(&self, topic: &str) -> PathBuf {
        self.topics_dir().join(format!("{topic}.jsonl"))
    }

    /// The runtime's lock for `topic`.
    pub fn lock_path(&self, topic: &str) -> PathBuf {
        self.root.join("locks").join(format!("{topic}.lock"))
    }

    /// Every topic (`topics/<topic>.jsonl`, regular files), sorted by name;
    /// listed afresh on every call so a topic created later is seen.
    pub fn topics(&self) -> Result<Vec<(String, PathBuf)>, JournalError> {
        let dir = self.topics_dir();
        let mut out: Vec<(String, PathBuf)> = fs::read_dir(&dir)
            .map_err(|e| JournalError::io(&dir, e))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let topic = name.strip_suffix(".jsonl")?;
                (!topic.is_empty()).then(|| (topic.to_owned(), e.path()))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    pub fn consumers(&self) -> Result<(Vec<Consumer>, Vec<Defect>), JournalError> {
        Ok(consumers::read_dir(&self.root.join("consumers")))
    }

    /// `topic`'s lines newest or oldest first (nothing when the file is gone).
    pub fn stream(&self, topic: &str, newest_first: bool) -> Result<JsonlStream, JournalError> {
        let path = self.topic_path(topic);
        let reader = match fs::File::open(&path) {
            Ok(f) => {
                let len = f.metadata().map_err(|e| JournalError::io(&path, e))?.len();
                Some(if newest_first {
                    Reader::Backward(BackwardLines::new(f, len, ReadOptions::default()))
                } else {
                    Reader::Forward(ForwardLines::new(f, 0, 1, len, ReadOptions::default()))
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            // Said as damage, and the other topics still read.
            Err(e) => {
                let d = Defect::new(
                    DefectKind::Unreadable,
                    &path,
                    0,
                    0,
                    format!("topic {topic} cannot be read: {e}"),
                );
                return Ok(JsonlStream {
                    topic: topic.to_owned(),
                    path,
                    reader: None,
                    queue: VecDeque::from([StreamItem::Damage(d)]),
                });
            }
        };
        Ok(JsonlStream {
            topic: topic.to_owned(),
            path,
            reader,
            queue: VecDeque::new(),
        })
    }
}

enum Reader {
    Forward(ForwardLines),
    /// With the length read to (the torn-tail check).
    Backward(BackwardLines),
}

/// One topic file, a line at a time.
pub struct JsonlStream {
    topic: String,
    path: PathBuf,
    reader: Option<Reader>,
    queue: VecDeque<StreamItem>,
}

impl TopicStream for JsonlStream {
    fn next_item(&mut self) -> Result<Option<StreamItem>, JournalError> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Ok(Some(item));
            }
            let Some(reader) = &mut self.reader else {
                return Ok(None);
            };
            let line = match reader {
                Reader::Forward(r) => r.next_line(),
                Reader::Backward(r) => r.prev_line(),
            };
            let line = match line {
                Ok(line) => line,
                Err(e) => {
                    // A read error mid-file is damage too: what was read stands.
                    let d = Defect::new(
                        DefectKind::Unreadable,
                        &self.path,
                        0,
                        0,
                        format!("topic {} could not be read to its end: {e}", self.topic),
                    );
                    self.reader = None;
                    return Ok(Some(StreamItem::Damage(d)));
                }
            };
            let Some(line) = line else {
                self.reader = None;
                return Ok(None);
            };
            let items = line_items(&self.topic, &self.path, &line);
            self.queue.extend(items);
        }
    }
}

/// What one line of a topic file yields: its event (the complete one inside
/// a glued line too) and its damage.
pub fn line_items(topic: &str, path: &Path, line: &Line<'_>) -> Vec<StreamItem> {
    let at = |kind: DefectKind, offset: u64, len: u64, detail: String| Defect {
        line: line.number,
        ..Defect::new(kind, path, offset, len, detail)
    };
    let Some(bytes) = line.raw() else {
        return vec![StreamItem::Damage(at(
            DefectKind::LineTooLong,
            line.offset,
            line.len,
            format!(
                "a {}-byte line, longer than the reader's cap; the runtime cannot open topic {topic} at all",
                line.len
            ),
        ))];
    };
    let event = |head: super::Head, start: usize| TopicEvent {
        topic: topic.to_owned(),
        id: head.id,
        kind: head.kind,
        occurred_at_ms: head.occurred_at_ms,
        session: head.session,
        raw: bytes[start..].to_vec(),
        place: Place {
            file: path.to_owned(),
            line: line.number,
            offset: line.offset + start as u64,
            len: line.len - start as u64,
        },
    };
    match classify(bytes, line.terminated) {
        LineBody::Blank => Vec::new(),
        LineBody::Event(head) if line.terminated => vec![StreamItem::Event(event(head, 0))],
        LineBody::Event(head) => vec![
            StreamItem::Damage(at(
                DefectKind::TornTail,
                line.offset + line.len,
                0,
                format!(
                    "the last event (id {}) has no newline: the runtime's next append will be \
                     glued to it",
                    head.id
                ),
            )),
            StreamItem::Event(event(head, 0)),
        ],
        LineBody::Torn => vec![StreamItem::Damage(at(
            DefectKind::TornTail,
            line.offset,
            line.len,
            format!(
                "torn last line: {} bytes with no newline (a crash mid-append); the runtime skips \
                 it, but its next append will be glued to it (journal repair cuts it)",
                line.len
            ),
        ))],
        LineBody::Glued { fragment, head } => {
            let d = at(
                DefectKind::GluedLine,
                line.offset,
                line.len,
                format!(
                    "glued line: a {fragment}-byte torn fragment, then the complete event \
                     {topic} id {} at byte {}; the runtime cannot open topic {topic} (every read \
                     fails with \"event log parse error\") until it is un-glued (journal repair)",
                    head.id,
                    line.offset + fragment
                ),
            );
            vec![
                StreamItem::Damage(d),
                StreamItem::Event(event(head, fragment as usize)),
            ]
        }
        LineBody::Unreadable { json, message } => vec![StreamItem::Damage(at(
            if json {
                DefectKind::NotEventRecord
            } else {
                DefectKind::NotJson
            },
            line.offset,
            line.len,
            format!(
                "the runtime cannot open topic {topic} at all: every read of it fails at this \
                 line (event log parse error: {message})"
            ),
        ))],
    }
}
