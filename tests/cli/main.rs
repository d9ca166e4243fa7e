//! CLI tests: the real binary against real files in temporary directories.
//! One module per subcommand; one test binary, so the suite links once.

mod append;
mod common;
mod crash;
mod damaged;
mod delivery;
mod docs;
mod hostile;
mod hostile_family;
mod inspect;
mod jetstream;
mod layers;
mod listcache;
mod multi;
mod prune;
mod recover;
mod redb_journal;
mod repair;
mod root_safety;
mod schemas;
mod sessions;
mod stats;
mod tail;
mod topics;
mod verify;
