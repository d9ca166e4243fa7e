//! Replacing a file atomically: a temp file in the same directory, filled,
//! fsynced, renamed over the target, then the directory fsynced. A crash
//! leaves the old content or the new, never a torn file. Repair rewrites
//! segments with it; `tail --cursor-file` rewrites its cursor with it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::journal::error::JournalError;
use crate::journal::quarantine::sync_dir;

/// Replaces `path` with what `fill` writes into a fresh temp file beside it
/// (`.<name>.tmp-<pid>`, a name no reader takes for a segment). With `mode`
/// the temp file gets exactly those permissions (the umask cannot narrow
/// them); without, the usual default. On any failure the temp file is
/// removed and `path` is untouched.
pub fn replace_file(
    path: &Path,
    mode: Option<u32>,
    fill: impl FnOnce(&mut File, &Path) -> Result<(), JournalError>,
) -> Result<(), JournalError> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = write_durably(&tmp, mode, fill).and_then(|()| {
        fs::rename(&tmp, path).map_err(|e| JournalError::io(path, e))?;
        sync_dir(&dir)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// [`replace_file`] with these bytes as the new content, for a caller that
/// names the file itself in its error (the cursor file): the plain I/O error.
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_file(path, None, |f, tmp| {
        f.write_all(bytes).map_err(|e| JournalError::io(tmp, e))
    })
    .map_err(|e| match e {
        JournalError::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    })
}

fn write_durably(
    tmp: &Path,
    mode: Option<u32>,
    fill: impl FnOnce(&mut File, &Path) -> Result<(), JournalError>,
) -> Result<(), JournalError> {
    let mut open = OpenOptions::new();
    open.write(true).create_new(true);
    if let Some(mode) = mode {
        open.mode(mode);
    }
    let mut f = open.open(tmp).map_err(|e| JournalError::io(tmp, e))?;
    if let Some(mode) = mode {
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| JournalError::io(tmp, e))?;
    }
    fill(&mut f, tmp)?;
    f.sync_all().map_err(|e| JournalError::io(tmp, e))
}

/// The directory `path` is in (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("cursor");
        fs::write(&path, "old\n").unwrap();
        write_file(&path, b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("cursor")]);
    }

    #[test]
    fn a_failed_fill_keeps_the_old_file_and_removes_the_temp() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("seg");
        fs::write(&path, "old\n").unwrap();
        let err = replace_file(&path, Some(0o640), |f, t| {
            f.write_all(b"half").unwrap();
            Err(JournalError::io(t, std::io::Error::other("boom")))
        })
        .unwrap_err();
        assert!(err.to_string().ends_with("boom"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old\n");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn mode_is_set_exactly() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("seg");
        replace_file(&path, Some(0o604), |f, t| {
            f.write_all(b"x").map_err(|e| JournalError::io(t, e))
        })
        .unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o604);
    }
}
