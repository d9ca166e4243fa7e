//! Parsing of the sizes and durations options take (`512M`, `2G`, `5s`, `7days`).

use std::time::Duration;

use anyhow::{Result, bail};

/// `123`, `512K`, `8M`, `1.5G`, `1T`: K, M, G, T (and KiB, MiB, ...) are
/// powers of 1024, KB, MB, GB, TB powers of 1000 (as `ls`, `dd` and `du`
/// read them); a trailing `B` alone is bytes. A fraction is rounded down to
/// a whole byte.
pub fn parse_size(flag: &str, s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let whole = number.parse::<u64>().ok();
    let Some(value) = number.parse::<f64>().ok().filter(|v| v.is_finite()) else {
        bail!("{flag}: '{s}' is not a size (examples: 4096, 512K, 8M, 1.5G)");
    };
    let unit = unit.trim().to_ascii_uppercase();
    let factor: u64 = match unit.as_str() {
        "" | "B" => 1,
        "K" | "KIB" => 1 << 10,
        "M" | "MIB" => 1 << 20,
        "G" | "GIB" => 1 << 30,
        "T" | "TIB" => 1 << 40,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        _ => {
            bail!("{flag}: unknown unit in '{s}' (use K, M, G or T; KB, MB, GB are powers of 1000)")
        }
    };
    let too_large = || anyhow::anyhow!("{flag}: '{s}' is too large");
    match whole {
        Some(n) => n.checked_mul(factor).ok_or_else(too_large),
        None => {
            let bytes = value * factor as f64;
            if bytes >= u64::MAX as f64 {
                return Err(too_large());
            }
            Ok(bytes as u64)
        }
    }
}

/// A duration as humantime reads it (`500ms`, `5s`, `2m`, `1h 30m`, `7days`),
/// or a bare number of seconds (`5`, `0`, `1.5`).
pub fn parse_duration(flag: &str, s: &str) -> Result<Duration> {
    duration_arg(s).map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

/// [`parse_duration`] for clap's `value_parser`.
pub fn duration_arg(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Duration::try_from_secs_f64(secs).map_err(|e| format!("'{s}': {e}"));
    }
    humantime::parse_duration(t).map_err(|e| {
        format!("'{s}' is not a duration ({e}; examples: 5s, 2m, 7days, or seconds: 5)")
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
        assert_eq!(parse_size("--x", "1mb").unwrap(), 1_000_000);
        assert_eq!(parse_size("--x", "1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("--x", "1.5M").unwrap(), 3 << 19);
        assert_eq!(parse_size("--x", "0.5K").unwrap(), 512);
        assert!(parse_size("--x", "1.2.3M").is_err());
        assert!(parse_size("--x", "8X").is_err());
        assert!(parse_size("--x", "").is_err());
        assert!(parse_size("--x", "99999999999T").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("--x", "5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("--x", "0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse_duration("--x", "1.5").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            parse_duration("--x", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            parse_duration("--x", "7days").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert!(parse_duration("--x", "-1").is_err());
        assert!(parse_duration("--x", "soon").is_err());
    }
}
