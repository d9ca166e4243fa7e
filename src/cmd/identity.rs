//! Who a record comes from, for the envelope: the host name and a source id
//! that is the same on every read of the same journal on the same host,
//! derived without writing anything into the journal's directory.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use journal::render::SourceTag;

/// The host name (`gethostname`); `unknown-host` when it cannot be read.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; the result is
    // NUL-terminated when it fits, and the last byte is kept as NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if rc != 0 {
        return "unknown-host".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    if name.is_empty() {
        "unknown-host".to_owned()
    } else {
        name
    }
}

/// A `--source-id` is spliced into ids (`<source id>:<position>`), so it
/// holds no `:` (ids split at the first one), no whitespace or control
/// character, and is not empty.
pub fn check_source_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 200
        || id
            .chars()
            .any(|c| c == ':' || c.is_whitespace() || c.is_control())
    {
        bail!(
            "--source-id {id:?}: a source id is 1 to 200 characters without ':', spaces or \
             control characters (the envelope's id is <source id>:<position>)"
        );
    }
    Ok(())
}

/// The derived source id: 16 hex digits of a 64-bit FNV-1a hash of the
/// host name, a NUL and the journal directory's canonical path (the
/// absolute path when it does not exist yet). FNV-1a is fixed by its
/// definition, so the id does not change with the compiler or the platform.
pub fn derived_source_id(host: &str, dir: &Path) -> String {
    id_of_canonical(host, &canonical(dir))
}

/// [`derived_source_id`] of a path already made [`canonical`].
fn id_of_canonical(host: &str, path: &Path) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = host
        .as_bytes()
        .iter()
        .chain(&[0u8])
        .chain(path.as_os_str().as_encoded_bytes());
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The canonical path of `dir`, also for a path that does not exist yet:
/// its nearest existing ancestor with symlinks resolved, then the rest of
/// the path with `.` dropped and `..` taken lexically. Once the path exists
/// as plain directories this is what `canonicalize` gives, so an id derived
/// while waiting for a journal (`tail -f --retry`) is the one later runs
/// derive; a missing part that later appears as a symlink is the exception,
/// and `tail` derives the id again once the path exists.
pub fn canonical(dir: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(dir) {
        return c;
    }
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    let parts: Vec<std::path::Component<'_>> = absolute.components().collect();
    for existing in (1..parts.len()).rev() {
        let Ok(mut path) = std::fs::canonicalize(parts[..existing].iter().collect::<PathBuf>())
        else {
            continue;
        };
        for part in &parts[existing..] {
            match part {
                std::path::Component::ParentDir => {
                    path.pop();
                }
                std::path::Component::Normal(name) => path.push(name),
                _ => {}
            }
        }
        return path;
    }
    absolute
}

/// The label people see: the directory's name (the merged view of several
/// journals adds the parent's where two names are the same, see `multi`).
fn label_of_canonical(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The tag of the journal at `dir`.
pub fn source_tag(dir: &Path, label: Option<&str>, source_id: Option<&str>) -> Result<SourceTag> {
    let host = host_name();
    // Resolved once (a few system calls per path component), only when
    // something is derived from it.
    let canon = std::cell::OnceCell::new();
    let canon = || canon.get_or_init(|| canonical(dir));
    let id = match source_id {
        Some(id) => {
            check_source_id(id)?;
            id.to_owned()
        }
        None => id_of_canonical(&host, canon()),
    };
    Ok(SourceTag {
        label: label.map_or_else(|| label_of_canonical(canon()), str::to_owned),
        id,
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_id_depends_on_host_and_path_only() {
        let a = derived_source_id("web-1", Path::new("/nonexistent/a/events"));
        assert_eq!(
            a,
            derived_source_id("web-1", Path::new("/nonexistent/a/events"))
        );
        assert_ne!(
            a,
            derived_source_id("web-2", Path::new("/nonexistent/a/events"))
        );
        assert_ne!(
            a,
            derived_source_id("web-1", Path::new("/nonexistent/b/events"))
        );
        assert_eq!(a.len(), 16);
        // FNV-1a of the empty input is its offset basis.
        assert_eq!(
            format!("{:016x}", 0xcbf2_9ce4_8422_2325u64),
            "cbf29ce484222325"
        );
    }

    #[test]
    fn a_missing_path_is_canonical_through_its_existing_ancestor() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let waiting = tmp.path().join("link/x/../host/./events");
        let before = canonical(&waiting);
        std::fs::create_dir_all(real.join("host/events")).unwrap();
        let after = std::fs::canonicalize(&waiting)
            .unwrap_or_else(|_| std::fs::canonicalize(real.join("host/events")).unwrap());
        assert_eq!(before, after);
        assert_eq!(
            derived_source_id("h", &tmp.path().join("link/host/events")),
            derived_source_id("h", &real.join("host/events"))
        );
    }

    #[test]
    fn a_source_id_with_a_colon_or_space_is_refused() {
        assert!(check_source_id("web-1.events").is_ok());
        for bad in ["", "a:b", "a b", "a\nb"] {
            assert!(check_source_id(bad).is_err(), "{bad:?}");
        }
    }
}
