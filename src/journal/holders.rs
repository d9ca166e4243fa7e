//! Which processes hold a file open, from `/proc/*/fd`: the per-session
//! store has no lock file, so repair refuses files a process holds; the
//! SQLite reader shares a live runtime's wal-index only when one holds it.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A process that holds a file open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub pid: u32,
    /// Its `comm`, when readable.
    pub process: String,
}

/// Every other process holding `path` open, from `/proc/*/fd`.
pub fn holders(path: &Path) -> Vec<Holder> {
    holders_of_any(&[path], false)
}

/// Every process holding any of `paths` open, from `/proc/*/fd` (one pass
/// over `/proc`), this one too when `include_self`. Paths that do not exist
/// are never held.
pub fn holders_of_any(paths: &[&Path], include_self: bool) -> Vec<Holder> {
    let targets: Vec<PathBuf> = paths
        .iter()
        .filter_map(|p| fs::canonicalize(p).ok())
        .collect();
    if targets.is_empty() {
        return Vec::new();
    }
    let me = std::process::id();
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me && !include_self {
            continue;
        }
        let holds = fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|l| targets.contains(&l)));
        if holds {
            let process = fs::read_to_string(entry.path().join("comm"))
                .map(|s| s.trim_end().to_owned())
                .unwrap_or_default();
            out.push(Holder { pid, process });
        }
    }
    out
}
