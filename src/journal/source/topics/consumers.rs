//! Consumer cursors: `consumers/<topic>__<consumer>.json` in the JSONL
//! backend (pretty-printed `{"consumer_id","cursor","topic","updated_at_ms"}`;
//! the consumer id is sanitised in the name, the real one is inside), the
//! `consumers` table in SQLite.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::journal::defect::{Defect, DefectKind};

/// One consumer's cursor on one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub topic: String,
    pub consumer_id: String,
    /// The last id it processed.
    pub cursor: u64,
    pub updated_at_ms: Option<i64>,
    /// The cursor file (JSONL backend).
    pub file: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Wire {
    consumer_id: String,
    cursor: u64,
    topic: String,
    updated_at_ms: Option<i64>,
}

/// Every `*.json` in `dir` (sorted by name), and a defect for each that does
/// not parse as a cursor. An entry named `*.json` that is not a regular file
/// (a directory, a FIFO, any symlink) is never opened or followed (a FIFO
/// would block the read) and never silently left out: a `not-regular-file`
/// defect, so a lag report never looks complete without it.
pub fn read_dir(dir: &Path) -> (Vec<Consumer>, Vec<Defect>) {
    let mut files = Vec::new();
    let mut defects = Vec::new();
    for e in fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
    {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        match e.file_type() {
            Ok(t) if t.is_file() => files.push(path),
            Ok(t) => {
                let kind = crate::journal::segment::irregular_kind(&path, t);
                defects.push(Defect::new(
                    DefectKind::NotRegularFile,
                    &path,
                    0,
                    0,
                    format!(
                        "named like a consumer cursor file but is {}: not read",
                        kind.describe()
                    ),
                ));
            }
            // Gone since the directory was read.
            Err(_) => {}
        }
    }
    files.sort();
    defects.sort_by(|a, b| a.segment.cmp(&b.segment));
    let mut consumers = Vec::new();
    for file in files {
        let bytes = match fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                defects.push(Defect::new(
                    DefectKind::Unreadable,
                    &file,
                    0,
                    0,
                    format!("consumer cursor file cannot be read: {e}"),
                ));
                continue;
            }
        };
        match serde_json::from_slice::<Wire>(&bytes) {
            Ok(w) => consumers.push(Consumer {
                topic: w.topic,
                consumer_id: w.consumer_id,
                cursor: w.cursor,
                updated_at_ms: w.updated_at_ms,
                file: Some(file),
            }),
            Err(e) => defects.push(Defect::new(
                if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() {
                    DefectKind::NotEventRecord
                } else {
                    DefectKind::NotJson
                },
                &file,
                0,
                bytes.len() as u64,
                format!("not a consumer cursor ({e}): the runtime cannot load this consumer"),
            )),
        }
    }
    (consumers, defects)
}
