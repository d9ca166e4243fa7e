//! The cursor file: the last seq processed, read at start and rewritten
//! atomically (temp file, fsync, rename, fsync of the directory).

use std::fs;
use std::io;
use std::path::Path;

use anyhow::{Context as _, Result};

/// The cursor file: the last seq processed, rewritten atomically.
pub(super) struct Cursor<'a> {
    pub(super) path: &'a Path,
    pub(super) written: Option<u64>,
}

impl Cursor<'_> {
    pub(super) fn save(&mut self, seq: Option<u64>) -> Result<()> {
        let Some(seq) = seq else { return Ok(()) };
        if self.written == Some(seq) && self.path.exists() {
            return Ok(());
        }
        journal::atomic::write_file(self.path, format!("{seq}\n").as_bytes())
            .with_context(|| format!("{}: writing the cursor", self.path.display()))?;
        self.written = Some(seq);
        Ok(())
    }
}

/// Proves, before anything is printed, that the cursor file can be written:
/// a shipper that retries after a failure would otherwise send again every
/// event printed before the first save failed. An existing cursor is
/// rewritten with its own value (atomically, as every save); for a missing
/// one a temp file is created beside it and removed.
pub(super) fn check_writable(path: &Path, current: Option<u64>) -> Result<()> {
    let context = || {
        format!(
            "{}: the cursor file cannot be written; nothing was printed",
            path.display()
        )
    };
    if let Some(seq) = current {
        return journal::atomic::write_file(path, format!("{seq}\n").as_bytes())
            .with_context(context);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    let probe = dir.join(format!(".{name}.probe-{}", std::process::id()));
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .with_context(context)?;
    fs::remove_file(&probe).with_context(context)?;
    Ok(())
}

/// The seq stored in a cursor file; `None` when the file does not exist yet.
pub(crate) fn read_cursor(path: &Path) -> Result<Option<u64>> {
    // Opening a FIFO would block until a writer came; a directory or device
    // is never a cursor. Look before opening.
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() => anyhow::bail!(
            "{}: not a cursor file: it is {}, not a regular file",
            path.display(),
            describe_file_type(&meta.file_type())
        ),
        Ok(meta) if meta.len() > MAX_CURSOR_BYTES => anyhow::bail!(
            "{}: not a cursor file: {} bytes (a cursor is one seq)",
            path.display(),
            meta.len()
        ),
        _ => {}
    }
    match fs::read_to_string(path) {
        Ok(text) => text.trim().parse::<u64>().map(Some).map_err(|_| {
            anyhow::anyhow!(
                "{}: not a cursor file: expected a seq (an unsigned integer), found {:?}",
                path.display(),
                text.chars().take(40).collect::<String>()
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("{}: reading the cursor", path.display())),
    }
}

/// A cursor holds one seq and a newline; anything much longer is not one.
const MAX_CURSOR_BYTES: u64 = 4096;

fn describe_file_type(ft: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}
