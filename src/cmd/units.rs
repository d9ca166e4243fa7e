//! Parsing of the sizes and durations options take (`512M`, `2G`, `5s`, `7days`).

use std::time::Duration;

use anyhow::{Result, bail};

/// `123`, `512K`, `8M`, `2G`, `1T` (powers of 1024; `KiB`, `MB` and a
/// trailing `B` are accepted too).
pub fn parse_size(flag: &str, s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let Ok(n) = digits.parse::<u64>() else {
        bail!("{flag}: '{s}' is not a size (examples: 4096, 512K, 8M, 2G)");
    };
    let unit = unit.trim().to_ascii_uppercase();
    let shift = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => bail!("{flag}: unknown unit in '{s}' (use K, M, G or T)"),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| anyhow::anyhow!("{flag}: '{s}' is too large"))
}

/// A duration as humantime reads it: `500ms`, `5s`, `2m`, `1h 30m`, `7days`.
pub fn parse_duration(flag: &str, s: &str) -> Result<Duration> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        anyhow::anyhow!("{flag}: '{s}' is not a duration ({e}; examples: 5s, 2m, 7days)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("--x", "4096").unwrap(), 4096);
        assert_eq!(parse_size("--x", "512K").unwrap(), 512 << 10);
        assert_eq!(parse_size("--x", "8M").unwrap(), 8 << 20);
        assert_eq!(parse_size("--x", "2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("--x", "1mb").unwrap(), 1 << 20);
        assert!(parse_size("--x", "8X").is_err());
        assert!(parse_size("--x", "").is_err());
        assert!(parse_size("--x", "99999999999T").is_err());
    }
}
