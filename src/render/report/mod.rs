//! The commands' reports: text for people, one JSON object for programs.
//!
//! Every JSON report carries `schema`, a name and a version
//! (`journal-verify/1`); fields are only ever added, so a program reading
//! version 1 keeps working.

pub mod append;
pub mod family;
pub mod prune;
pub mod recover;
pub mod repair;
pub mod stats;
pub mod verify;

use std::io::{self, Write};

use serde_json::Value;

/// The schema names and versions of the JSON reports.
pub const VERIFY_SCHEMA: &str = "journal-verify/1";
pub const REPAIR_SCHEMA: &str = "journal-repair/1";
pub const STATS_SCHEMA: &str = "journal-stats/1";
pub const PRUNE_SCHEMA: &str = "journal-prune/1";
pub const RECOVER_SCHEMA: &str = "journal-recover/1";
pub const APPEND_SCHEMA: &str = "journal-append/1";
/// Every family format's reports (every format but segments; one shape for
/// all of them, saying which format was read).
pub const RECOVER_STREAMS_SCHEMA: &str = "journal-recover-streams/1";
pub const STATS_STREAMS_SCHEMA: &str = "journal-stats-streams/1";
pub const VERIFY_STREAMS_SCHEMA: &str = "journal-verify-streams/1";
pub const REPAIR_STREAMS_SCHEMA: &str = "journal-repair-streams/1";

/// Writes `value` (a JSON object) with its `schema` as one line.
pub fn write_json(out: &mut dyn Write, schema: &str, mut value: Value) -> io::Result<()> {
    if let Value::Object(map) = &mut value {
        map.insert("schema".to_owned(), Value::String(schema.to_owned()));
    }
    serde_json::to_writer(&mut *out, &value)?;
    writeln!(out)
}

/// Bytes for people: `8.0 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(8 << 20), "8.0 MiB");
    }

    #[test]
    fn schema_is_added_to_the_object() {
        let mut out = Vec::new();
        write_json(&mut out, STATS_SCHEMA, serde_json::json!({"events": 3})).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"events\":3,\"schema\":\"journal-stats/1\"}\n"
        );
    }
}
