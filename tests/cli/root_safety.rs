//! Mutations run as root: a segment swapped for a symlink at the last moment
//! (the debug build's hook does the swap right before the open or unlink), a
//! claim file that is a symlink, and a directory others can write to. In
//! every case the file the symlink points to is untouched.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::PathBuf;

use crate::common::{TestJournal, segment_name};

const SWAP_ENV: &str = "JOURNAL_TEST_SWAP_SEGMENT_FOR_SYMLINK";
const PRECIOUS: &[u8] = b"root:x:0:0:precious, not a journal\n";

/// A file outside the journal that an attacker would like changed.
fn target(j: &TestJournal) -> PathBuf {
    let t = j.tmp.path().join("precious");
    fs::write(&t, PRECIOUS).unwrap();
    t
}

fn assert_refused(out: &std::process::Output, name: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(name), "names the file: {stderr}");
    assert!(stderr.contains("symbolic link"), "says why: {stderr}");
}

#[test]
fn repair_never_truncates_through_a_segment_swapped_for_a_symlink() {
    let j = TestJournal::with_events(5, 100);
    j.append_raw(&segment_name(1), b"{\"seq\":6,\"ts\":\"2026");
    let t = target(&j);
    let out = j.cmd(&["repair"]).env(SWAP_ENV, &t).output().unwrap();
    assert_refused(&out, &segment_name(1));
    assert_eq!(fs::read(&t).unwrap(), PRECIOUS);
    // The swap happened: the name is now the symlink, left as it is.
    assert!(
        fs::symlink_metadata(j.path(&segment_name(1)))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn append_never_writes_through_a_segment_swapped_for_a_symlink() {
    let j = TestJournal::with_events(3, 100);
    let t = target(&j);
    let out = j
        .cmd(&["append"])
        .env(SWAP_ENV, &t)
        .write_stdin("{\"type\":\"error\",\"message\":\"x\"}\n")
        .output()
        .unwrap();
    assert_refused(&out, &segment_name(1));
    assert_eq!(fs::read(&t).unwrap(), PRECIOUS);
}

#[test]
fn prune_never_unlinks_a_segment_swapped_for_a_symlink() {
    let j = TestJournal::with_events(6, 2);
    let t = target(&j);
    let out = j
        .cmd(&["prune", "--keep", "1"])
        .env(SWAP_ENV, &t)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(&segment_name(1)), "{stderr}");
    assert!(stderr.contains("no longer a regular file"), "{stderr}");
    assert_eq!(fs::read(&t).unwrap(), PRECIOUS);
    // Nothing after the refused one was deleted either.
    assert!(j.path(&segment_name(3)).is_file());
}

#[test]
fn a_claim_file_that_is_a_symlink_is_refused_not_followed() {
    for args in [&["repair"][..], &["prune", "--keep", "1"], &["append"]] {
        let j = TestJournal::with_events(3, 100);
        j.append_raw(&segment_name(1), b"{\"seq\":4");
        let t = target(&j);
        fs::remove_file(j.path(".account-journal.lock")).unwrap();
        symlink(&t, j.path(".account-journal.lock")).unwrap();
        let before = fs::read(j.path(&segment_name(1))).unwrap();
        let out = j
            .cmd(args)
            .write_stdin("{\"type\":\"error\",\"message\":\"m\"}\n")
            .output()
            .unwrap();
        assert_refused(&out, ".account-journal.lock");
        assert_eq!(fs::read(&t).unwrap(), PRECIOUS, "{args:?}");
        assert_eq!(
            fs::read(j.path(&segment_name(1))).unwrap(),
            before,
            "{args:?}"
        );
    }
}

#[test]
fn as_root_a_directory_others_can_write_to_is_refused_unless_told_whom_to_act_as() {
    for args in [&["repair"][..], &["prune", "--keep", "1"], &["append"]] {
        let j = TestJournal::with_events(4, 2);
        j.append_raw(&segment_name(3), b"{\"seq\":5");
        fs::set_permissions(&j.dir, fs::Permissions::from_mode(0o777)).unwrap();
        let before = j.snapshot();
        let out = j
            .cmd(args)
            .env("JOURNAL_TEST_ASSUME_ROOT", "1")
            .write_stdin("{\"type\":\"error\",\"message\":\"m\"}\n")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("writable by others (mode 0777)"),
            "{stderr}"
        );
        assert!(stderr.contains("--as-user"), "says the way out: {stderr}");
        assert_eq!(j.snapshot(), before, "{args:?} changed nothing");

        // Told to act as the directory's owner: it runs.
        let owner = fs::metadata(&j.dir).unwrap().uid().to_string();
        let mut cmd = j.cmd(args);
        cmd.env("JOURNAL_TEST_ASSUME_ROOT", "1")
            .args(["--as-user", &owner])
            .write_stdin("{\"type\":\"error\",\"message\":\"m\"}\n");
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(j.snapshot(), before, "{args:?} did its work");
    }
}

#[test]
fn as_root_a_group_writable_directory_is_refused_too() {
    let j = TestJournal::with_events(2, 1);
    fs::set_permissions(&j.dir, fs::Permissions::from_mode(0o770)).unwrap();
    let gid = fs::metadata(&j.dir).unwrap().gid();
    let out = j
        .cmd(&["prune", "--keep", "1"])
        .env("JOURNAL_TEST_ASSUME_ROOT", "1")
        .output()
        .unwrap();
    // logrotate's rule: a group-writable directory is fine when the group is root's.
    if gid == 0 {
        assert_eq!(out.status.code(), Some(0));
    } else {
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("writable by its group"));
    }
}

#[test]
fn an_unknown_user_is_a_usage_error() {
    let j = TestJournal::with_events(2, 1);
    let before = j.snapshot();
    let out = j
        .cmd(&[
            "prune",
            "--keep",
            "1",
            "--as-user",
            "no-such-user-\u{1b}[31m",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no user named"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "escaped: {stderr}");
    assert_eq!(j.snapshot(), before);
}
