//! Generates a redb runtime journal (camel-core's layout) for benchmarks:
//! table `events`, `u64` key to the JSON of
//! `{"seq":N,"timestamp_ms":T,"event":{"<Variant>":{"route_id":"route-R"}}}`,
//! the variant mix and route count modelled on
//! `tests/corpus/camel-redb/runtime-journal.redb`.
//!
//! ```text
//! cargo run --release --example gen_redb -- --events 100000 OUT.redb
//! ```
//!
//! Deterministic (timestamps are generated, not read from the clock). Events
//! are committed 1,000 per transaction (the runtime commits one per append;
//! the table's B-tree is the same shape, the file is written much faster).

use std::path::PathBuf;
use std::process::ExitCode;

use journal::source::redb::EVENTS;
use redb::{Database, TableDefinition};

/// The runtime's second table (command ids it has applied).
const COMMAND_IDS: TableDefinition<&str, ()> = TableDefinition::new("command_ids");

const VARIANTS: [&str; 9] = [
    "RouteRegistered",
    "RouteStartRequested",
    "RouteStarted",
    "RouteStartRequested",
    "RouteStarted",
    "RouteStopped",
    "RouteReloaded",
    "RouteSuspended",
    "RouteResumed",
];

fn main() -> ExitCode {
    let mut events: u64 = 100_000;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--events" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) => events = n,
                None => return usage("--events takes a number"),
            },
            _ if a.starts_with('-') => return usage(&format!("unknown option {a}")),
            _ => out = Some(PathBuf::from(a)),
        }
    }
    let Some(out) = out else {
        return usage("no output file");
    };
    if out.exists() {
        return usage(&format!("{} exists", out.display()));
    }
    match generate(&out, events) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_redb: {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("gen_redb: {why}\nusage: gen_redb [--events N] OUT.redb");
    ExitCode::from(2)
}

fn generate(out: &PathBuf, events: u64) -> Result<(), redb::Error> {
    let db = Database::create(out)?;
    let mut key = 0u64;
    let mut ts: u64 = 1_796_132_664_240;
    // A small deterministic generator (xorshift) for the mix.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    while key < events {
        let w = db.begin_write()?;
        {
            let mut table = w.open_table(EVENTS)?;
            let _ = w.open_table(COMMAND_IDS)?;
            let end = (key + 1000).min(events);
            while key < end {
                let r = next();
                ts += r % 5;
                let route = 1 + (r >> 8) % 6;
                let value = if (r >> 16) % 40 == 0 {
                    format!(
                        r#"{{"seq":{key},"timestamp_ms":{ts},"event":{{"RouteFailed":{{"route_id":"route-{route}","error":"connection refused: amqp://broker:5672 \"retry\" exhausted\nline 2"}}}}}}"#
                    )
                } else {
                    let variant = VARIANTS[((r >> 24) % VARIANTS.len() as u64) as usize];
                    format!(
                        r#"{{"seq":{key},"timestamp_ms":{ts},"event":{{"{variant}":{{"route_id":"route-{route}"}}}}}}"#
                    )
                };
                table.insert(key, value.as_bytes())?;
                key += 1;
            }
        }
        w.commit()?;
    }
    Ok(())
}
