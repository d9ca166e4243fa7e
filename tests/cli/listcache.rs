//! The listing cache (`journal::dircache`): a large journal's directory
//! listing is cached for read-only commands, and a cache that does not match
//! the directory (changed since, corrupt, another directory's) is never
//! believed; commands that change a journal never read it.
//!
//! A cache is written only for a directory whose ctime is at least 3 s old,
//! and ctime cannot be set back: each test waits that long once.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::common::*;

const SEGMENTS: u64 = 1100;

/// A journal of `SEGMENTS` one-event segments (seq i in `events-i`), with
/// the claim file, whose directory has settled (no change for over 3 s).
fn settled_journal() -> TestJournal {
    let j = TestJournal::new();
    j.touch_lock();
    for seq in 1..=SEGMENTS {
        j.write(
            &segment_name(seq),
            format!("{}\n", event_line(seq)).as_bytes(),
        );
    }
    wait_settled(&j.dir);
    j
}

/// Sleeps until `dir`'s ctime and mtime are more than 3 s in the past.
fn wait_settled(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(dir).unwrap();
    let newest = m.ctime().max(m.mtime()) as u64 + 1;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(newest) + Duration::from_millis(3100);
    if let Ok(wait) = at.duration_since(SystemTime::now()) {
        std::thread::sleep(wait);
    }
}

/// `journal ARGS DIR` with the cache in `cache`.
fn cached(j: &TestJournal, cache: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = j.cmd(args);
    cmd.env("JOURNAL_CACHE_DIR", cache);
    cmd
}

/// The seqs of `inspect -n N`, oldest first.
fn newest_seqs(j: &TestJournal, cache: &Path, n: usize) -> Vec<u64> {
    let n = n.to_string();
    let mut seqs = seqs_of(&stdout_of(&mut cached(
        j,
        cache,
        &["inspect", "-n", &n, "-o", "raw"],
    )));
    seqs.reverse();
    seqs
}

fn recover(j: &TestJournal, cache: &Path) -> String {
    stdout_of(&mut cached(j, cache, &["recover"]))
}

/// The cache files in `cache` (none when it does not exist).
fn cache_files(cache: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(cache)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Every name in the directory, to prove no file was added.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Rewrites the cache file so that it lists `from` as `to` (names of the
/// same length), with a checksum that matches: a cache that lies.
fn forge(file: &Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let mut bytes = fs::read(file).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("{from} not in the cache file"));
    bytes[at..at + to.len()].copy_from_slice(to.as_bytes());
    let body = bytes.len() - 8;
    let sum = journal::dircache::checksum(&bytes[..body]);
    bytes[body..].copy_from_slice(&sum.to_le_bytes());
    fs::write(file, bytes).unwrap();
}

fn lie_about_the_newest(file: &Path) {
    let newest = segment_name(SEGMENTS);
    forge(file, &newest, &newest.replacen('e', "x", 1));
}

#[test]
fn read_only_commands_cache_a_settled_listing_and_leave_the_journal_as_it_was() {
    let j = settled_journal();
    let cache_tmp = tempfile::tempdir().unwrap();
    let cache = cache_tmp.path().join("cache");
    let files = j.snapshot();
    let names = names_in(&j.dir);

    // Disabled: nothing written.
    let mut cmd = cached(&j, &cache, &["inspect", "-n", "3", "-o", "raw"]);
    cmd.env("JOURNAL_NO_CACHE", "1");
    assert_eq!(seqs_of(&stdout_of(&mut cmd)), [1100, 1099, 1098]);
    assert!(!cache.exists(), "JOURNAL_NO_CACHE=1 writes no cache");

    assert_eq!(newest_seqs(&j, &cache, 3), [1098, 1099, 1100]);
    let written = cache_files(&cache);
    assert_eq!(written.len(), 1, "one file for the directory: {written:?}");
    // Every read-only command, from the cache now, answers as the directory.
    assert_eq!(newest_seqs(&j, &cache, 3), [1098, 1099, 1100]);
    assert_eq!(recover(&j, &cache), "1100\n");
    cached(&j, &cache, &["verify", "-q"]).assert().success();
    let stats = stdout_of(&mut cached(&j, &cache, &["stats", "--json"]));
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["segments"], SEGMENTS, "{stats}");
    assert_eq!(cache_files(&cache), written);

    assert!(j.snapshot() == files, "a read-only command changed a file");
    assert_eq!(names_in(&j.dir), names, "a read-only command added a file");
}

#[test]
fn a_cache_that_lies_is_believed_only_while_the_directory_is_unchanged() {
    let j = settled_journal();
    let cache_tmp = tempfile::tempdir().unwrap();
    let cache = cache_tmp.path();
    assert_eq!(newest_seqs(&j, cache, 3), [1098, 1099, 1100]);
    let [file] = &cache_files(cache)[..] else {
        panic!("one cache file expected")
    };

    // The directory unchanged, a forged cache (the newest segment left out)
    // is read: proof that a read-only command took its listing from it.
    lie_about_the_newest(file);
    assert_eq!(newest_seqs(&j, cache, 3), [1097, 1098, 1099]);
    assert_eq!(recover(&j, cache), "1099\n");
    let tail = stdout_of(&mut cached(&j, cache, &["tail", "-n", "2", "-o", "raw"]));
    assert_eq!(seqs_of(&tail), [1098, 1099]);
    // Without detection (the format given), the listing reads it too.
    let given = stdout_of(&mut cached(
        &j,
        cache,
        &["inspect", "--format", "segments", "-n", "1", "-o", "raw"],
    ));
    assert_eq!(seqs_of(&given), [1099]);
    // ...but not with the cache disabled.
    let mut cmd = cached(&j, cache, &["recover"]);
    cmd.env("JOURNAL_NO_CACHE", "yes");
    assert_eq!(stdout_of(&mut cmd), "1100\n");

    // A segment added: the directory changed, the cache is not read.
    j.write(
        &segment_name(1101),
        format!("{}\n", event_line(1101)).as_bytes(),
    );
    assert_eq!(newest_seqs(&j, cache, 3), [1099, 1100, 1101]);
    assert_eq!(recover(&j, cache), "1101\n");

    // Segments removed: not listed.
    fs::remove_file(j.path(&segment_name(1101))).unwrap();
    fs::remove_file(j.path(&segment_name(1099))).unwrap();
    assert_eq!(newest_seqs(&j, cache, 3), [1097, 1098, 1100]);
    assert_eq!(recover(&j, cache), "1100\n");
}

#[test]
fn prune_never_reads_the_cache() {
    let j = settled_journal();
    let cache_tmp = tempfile::tempdir().unwrap();
    let cache = cache_tmp.path();
    assert_eq!(newest_seqs(&j, cache, 1), [1100]);
    let [file] = &cache_files(cache)[..] else {
        panic!("one cache file expected")
    };
    lie_about_the_newest(file);
    assert_eq!(newest_seqs(&j, cache, 1), [1099], "the lie is in place");

    // Listing the lie, prune would keep 1098 and 1099; it keeps the
    // directory's two newest.
    cached(&j, cache, &["prune", "--keep", "2"])
        .assert()
        .success();
    assert_eq!(j.segments(), [segment_name(1099), segment_name(1100)]);
    assert_eq!(newest_seqs(&j, cache, 3), [1099, 1100]);
}

#[test]
fn a_corrupt_truncated_or_foreign_cache_file_is_ignored_silently() {
    let j = settled_journal();
    // Another large journal (seqs 5001..), and a small one.
    let other = TestJournal::new();
    for seq in 5001..=5000 + SEGMENTS {
        other.write(
            &segment_name(seq),
            format!("{}\n", event_line(seq)).as_bytes(),
        );
    }
    let small = TestJournal::with_events(20, 2);
    wait_settled(&other.dir);
    wait_settled(&small.dir);
    let cache_tmp = tempfile::tempdir().unwrap();
    let cache = cache_tmp.path();

    let expect = |what: &str| {
        let out = cached(&j, cache, &["inspect", "-n", "3", "-o", "raw"])
            .assert()
            .success();
        let out = out.get_output();
        assert_eq!(
            seqs_of(&String::from_utf8_lossy(&out.stdout)),
            [1100, 1099, 1098],
            "{what}"
        );
        // Only the limit's note: nothing about the cache.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("cache"), "{what}: {err}");
        assert_eq!(recover(&j, cache), "1100\n", "{what}");
    };
    expect("no cache yet");
    let [file] = &cache_files(cache)[..] else {
        panic!("one cache file expected")
    };
    let good = fs::read(file).unwrap();

    fs::write(file, &good[..good.len() / 2]).unwrap();
    expect("truncated");
    fs::write(file, &good[..good.len() - 1]).unwrap();
    expect("one byte short");
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x20;
    fs::write(file, &bad).unwrap();
    expect("one byte flipped");
    fs::write(file, b"").unwrap();
    expect("empty");

    // The other journal's cache file, put where this one's is.
    assert_eq!(newest_seqs(&other, cache, 1), [5000 + SEGMENTS]);
    assert_eq!(cache_files(cache).len(), 2);
    let theirs = cache_files(cache).into_iter().find(|f| f != file).unwrap();
    fs::copy(&theirs, file).unwrap();
    expect("another directory's");

    // A directory where the file should be; a cache directory that is a file.
    fs::remove_file(file).unwrap();
    fs::create_dir(file).unwrap();
    expect("a directory in its place");
    let not_a_dir = cache.join("plain-file");
    fs::write(&not_a_dir, b"x").unwrap();
    let out = j
        .cmd(&["recover"])
        .env("JOURNAL_CACHE_DIR", &not_a_dir)
        .assert()
        .success();
    assert_eq!(String::from_utf8_lossy(&out.get_output().stdout), "1100\n");
    assert!(out.get_output().stderr.is_empty());

    // A small journal leaves no cache file.
    let before = cache_files(cache);
    cached(&small, cache, &["inspect", "-n", "1"])
        .assert()
        .success();
    assert_eq!(cache_files(cache), before);
}
