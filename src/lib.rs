//! `journal`: read, follow, verify, repair and prune the append-only event
//! journals of agent runtimes (the Bamboo engine's account change feed:
//! a directory of `events-<seq>.jsonl` segments, see `docs/FORMAT.md`).
//!
//! The library knows journals; the binary knows terminals. Everything here
//! reads through one segment listing ([`Listing`]) and the chunked line
//! readers ([`lines`]), so memory stays bounded whatever the journal size,
//! and damage is returned as values ([`Defect`]) rather than printed.
//!
//! Build it without the command line (`default-features = false`) and it
//! pulls in no clap, no terminal tables, no progress bars and no file
//! watcher.
//!
//! # The newest events
//!
//! ```
//! # fn main() -> Result<(), journal::JournalError> {
//! # let tmp = tempfile::tempdir().unwrap();
//! # let dir = tmp.path();
//! # std::fs::write(dir.join("events-00000000000000000001.jsonl"),
//! #   "{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"session_id\":\"s\",\"event\":{\"type\":\"started\"}}\n\
//! #    {\"seq\":2,\"ts\":\"2026-01-01T00:00:01Z\",\"session_id\":\"s\",\"event\":{\"type\":\"error\"}}\n").unwrap();
//! use std::ops::ControlFlow;
//! use journal::Listing;
//! use journal::lines::ReadOptions;
//! use journal::record::parse_line;
//! use journal::scan::{Direction, Visit, scan};
//!
//! let listing = Listing::read_journal(dir)?;
//! let all: Vec<usize> = (0..listing.segments().len()).collect();
//! let mut newest = Vec::new();
//! scan(&listing, &all, Direction::NewestFirst, ReadOptions::default(), None, |visit| {
//!     if let Visit::Line { line, .. } = visit {
//!         if let Some(Ok(record)) = line.content().map(parse_line) {
//!             newest.push((record.seq, record.event_type.map(|t| t.into_owned())));
//!         }
//!     }
//!     if newest.len() == 20 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
//! })?;
//! assert_eq!(newest[0], (2, Some("error".to_string())));
//! assert_eq!(newest.len(), 2);
//! # Ok(()) }
//! ```
//!
//! # Verifying
//!
//! ```
//! # fn main() -> Result<(), journal::JournalError> {
//! # let tmp = tempfile::tempdir().unwrap();
//! # let dir = tmp.path();
//! # std::fs::write(dir.join("events-00000000000000000001.jsonl"),
//! #   "{\"seq\":1,\"ts\":\"2026-01-01T00:00:00Z\",\"session_id\":\"s\",\"event\":{\"type\":\"started\"}}\n{\"seq\":2,").unwrap();
//! use journal::{DefectKind, Listing, Severity};
//!
//! let listing = Listing::read_journal(dir)?;
//! let report = journal::verify::verify(&listing, &journal::verify::VerifyOptions::default(), None)?;
//! // A partial last line in the newest segment is a torn tail: a warning.
//! assert_eq!(report.errors, 0);
//! let torn = report.defects.iter().find(|d| d.kind == DefectKind::TornTail).unwrap();
//! assert_eq!((torn.severity, torn.line, torn.offset), (Severity::Warning, Some(2), 82));
//! # Ok(()) }
//! ```

mod journal;
pub mod query;
#[cfg(feature = "cli")]
pub mod render;

pub use journal::*;

pub use journal::defect::{Defect, DefectKind, Severity};
pub use journal::error::JournalError;
pub use journal::segment::{Listing, Segment};
