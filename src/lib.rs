//! `journal`: read, follow, verify, repair and prune the append-only event
//! journals of agent runtimes (the Bamboo engine's account change feed:
//! a directory of `events-<seq>.jsonl` segments, see `FORMAT.md`).
//!
//! The library knows journals; the binary knows terminals. Everything here
//! reads through one segment listing ([`journal::segment::Listing`]) and the
//! chunked line readers ([`journal::lines`]), so memory stays bounded whatever
//! the journal size, and damage is returned as values
//! ([`journal::defect::Defect`]) rather than printed.

pub mod journal;
pub mod query;

pub use journal::defect::{Defect, DefectKind, Severity};
pub use journal::error::JournalError;
pub use journal::segment::{Listing, Segment};
