//! The journal core: segments, line readers, records, defects, the claim,
//! and the operations built on them. No printing, no colours, no clap.

pub mod append;
pub mod atomic;
pub mod claim;
pub mod defect;
pub mod dircache;
pub mod dirfd;
pub mod dirread;
pub mod error;
pub(crate) mod fastline;
pub mod follow;
pub mod holders;
pub mod lines;
pub mod prune;
pub(crate) mod quarantine;
pub mod record;
pub mod recover;
pub mod repair;
pub mod scan;
pub(crate) mod schema;
pub mod segment;
pub mod segname;
pub mod source;
pub mod stats;
pub mod tailcut;
pub mod verify;
pub mod writer;
