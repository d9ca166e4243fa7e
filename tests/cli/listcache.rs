//! The listing cache (`journal::dircache`): a large journal's directory
//! listing is cached for read-only commands, and a cache that does not match
//! the directory (changed since, corrupt, another directory's) is never
//! believed; commands that change a journal never read it.
//!
//! A cache is written only for a directory whose ctime is at least 3 s old,
//! and ctime cannot be set back: each test builds its journals, then waits
//! that long once.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::common::*;

const SEGMENTS: u64 = 1100;

/// A journal of `SEGMENTS` one-event segments (seq i in `events-i`), with
/// the claim file, whose directory has settled (no change for over 3 s).
fn settled_journal() -> TestJournal {
    let j = big_journal();
    wait_settled(&j.dir);
    j
}

/// [`settled_journal`] before the wait (to build several, then wait once).
fn big_journal() -> TestJournal {
    let j = TestJournal::new();
    j.touch_lock();
    for seq in 1..=SEGMENTS {
        j.write(
            &segment_name(seq),
            format!("{}\n", event_line(seq)).as_bytes(),
        );
    }
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

/// Rewrites the cache file so that it leaves out its newest segment, with
/// a checksum that matches: a cache that lies. The layout is the one the
/// listing cache's module documents (version 2): the segment count is the
/// header's last u32, and the segments' 18-byte records, by seq, end the
/// body.
fn lie_about_the_newest(file: &Path) {
    const COUNT_AT: usize = 8 + 1 + 53 + 4 + 4;
    const RECORD: usize = 18;
    let mut bytes = fs::read(file).unwrap();
    assert_eq!(&bytes[..9], b"JRNLDIRC\x02", "a version 2 cache file");
    let count = u32::from_le_bytes(bytes[COUNT_AT..COUNT_AT + 4].try_into().unwrap());
    assert_eq!(u64::from(count), SEGMENTS);
    bytes[COUNT_AT..COUNT_AT + 4].copy_from_slice(&(count - 1).to_le_bytes());
    let body = bytes.len() - 8;
    let newest = &bytes[body - RECORD..body];
    assert_eq!(
        u64::from_le_bytes(newest[..8].try_into().unwrap()),
        SEGMENTS
    );
    bytes.drain(body - RECORD..body);
    let body = bytes.len() - 8;
    let sum = journal::dircache::checksum(&bytes[..body]);
    bytes[body..].copy_from_slice(&sum.to_le_bytes());
    fs::write(file, bytes).unwrap();
}

#[test]
fn read_only_commands_cache_a_settled_listing_believed_only_while_the_directory_is_unchanged() {
    let j = settled_journal();
    let cache_tmp = tempfile::tempdir().unwrap();
    let cache = &cache_tmp.path().join("cache");
    let files = j.snapshot();
    let names = names_in(&j.dir);

    // Disabled: nothing written.
    let mut cmd = cached(&j, cache, &["inspect", "-n", "3", "-o", "raw"]);
    cmd.env("JOURNAL_NO_CACHE", "1");
    assert_eq!(seqs_of(&stdout_of(&mut cmd)), [1100, 1099, 1098]);
    assert!(!cache.exists(), "JOURNAL_NO_CACHE=1 writes no cache");

    assert_eq!(newest_seqs(&j, cache, 3), [1098, 1099, 1100]);
    let written = cache_files(cache);
    let [file] = &written[..] else {
        panic!("one file for the directory: {written:?}")
    };
    // Every read-only command, from the cache now, answers as the directory.
    assert_eq!(newest_seqs(&j, cache, 3), [1098, 1099, 1100]);
    assert_eq!(recover(&j, cache), "1100\n");
    cached(&j, cache, &["verify", "-q"]).assert().success();
    let stats = stdout_of(&mut cached(&j, cache, &["stats", "--json"]));
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["segments"], SEGMENTS, "{stats}");
    assert_eq!(cache_files(cache), written);

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

    assert!(j.snapshot() == files, "a read-only command changed a file");
    assert_eq!(names_in(&j.dir), names, "a read-only command added a file");

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

/// `journal ARGS A B` with the two journals labelled `a` and `b`, the
/// cache in `cache`.
fn two(a: &TestJournal, b: &TestJournal, cache: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = journal_cmd();
    cmd.args(args)
        .arg("--label")
        .arg(format!("a={}", a.dir.display()))
        .arg("--label")
        .arg(format!("b={}", b.dir.display()))
        .arg(&a.dir)
        .arg(&b.dir)
        .env("JOURNAL_CACHE_DIR", cache);
    cmd
}

/// (label, seq) of each line of jsonl output of several journals.
fn sourced(out: &str) -> Vec<(String, u64)> {
    out.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["_source"].as_str().unwrap().to_owned(),
                v["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn pairs(want: &[(&str, u64)]) -> Vec<(String, u64)> {
    want.iter().map(|&(l, s)| (l.to_owned(), s)).collect()
}

#[test]
fn two_journals_at_once_read_a_lying_cache_only_while_each_is_unchanged_and_prune_never() {
    // Both 1..=1100 at the same times: the merge shows each journal's
    // newest side by side.
    let (a, b) = (big_journal(), big_journal());
    wait_settled(&a.dir);
    wait_settled(&b.dir);
    let cache_tmp = tempfile::tempdir().unwrap();
    let cache = cache_tmp.path();
    // Sorted: which records, not the merge's order, is the point here.
    let newest = |args: &[&str]| {
        let mut v = sourced(&stdout_of(&mut two(&a, &b, cache, args)));
        v.sort();
        v
    };
    let inspect2 = ["inspect", "-n", "2", "-o", "jsonl"];
    let truth = pairs(&[("a", 1100), ("b", 1100)]);
    assert_eq!(newest(&inspect2), truth);
    let files = cache_files(cache);
    assert_eq!(files.len(), 2, "one file per journal: {files:?}");

    // Both caches forged: each journal's listing comes from its own.
    for file in &files {
        lie_about_the_newest(file);
    }
    let lie = pairs(&[("a", 1099), ("b", 1099)]);
    assert_eq!(newest(&inspect2), lie, "inspect A B");
    assert_eq!(
        newest(&["tail", "-n", "2", "-o", "jsonl"]),
        lie,
        "tail A B (the last N)"
    );
    // tail's heads (where following would continue), in its cursor file.
    let cursor = a.tmp.path().join("cursor.json");
    let cursor_arg = format!("--cursor-file={}", cursor.display());
    two(&a, &b, cache, &["tail", "-n", "0", &cursor_arg])
        .assert()
        .success();
    let saved: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&cursor).unwrap()).unwrap();
    let heads: Vec<u64> = saved["sources"]
        .as_object()
        .unwrap()
        .values()
        .map(|s| s["positions"][""].as_u64().unwrap())
        .collect();
    assert_eq!(heads, [1099, 1099], "{saved}");
    // One journal's tail checks a start point against its max seq from the
    // cache too.
    let ahead = cached(&a, cache, &["tail", "--from-seq", "1100"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&ahead.get_output().stderr).into_owned();
    assert!(err.contains("max seq is 1099"), "{err}");
    let mut cmd = two(&a, &b, cache, &inspect2);
    cmd.env("JOURNAL_NO_CACHE", "1");
    let mut got = sourced(&stdout_of(&mut cmd));
    got.sort();
    assert_eq!(got, truth, "cache disabled");

    // One journal changed: it is read from its directory, the other still
    // from its (lying) cache.
    a.write(
        &segment_name(1101),
        format!("{}\n", event_line(1101)).as_bytes(),
    );
    assert_eq!(
        newest(&["inspect", "-n", "3", "-o", "jsonl"]),
        pairs(&[("a", 1100), ("a", 1101), ("b", 1099)])
    );
    cached(&a, cache, &["tail", "--from-seq", "1101"])
        .assert()
        .success();

    // prune never reads the cache: b's still lies (1100 left out), and
    // listing the lie prune would keep 1098 and 1099; it keeps the
    // directory's two newest.
    assert_eq!(newest_seqs(&b, cache, 1), [1099], "the lie is in place");
    cached(&b, cache, &["prune", "--keep", "2"])
        .assert()
        .success();
    assert_eq!(b.segments(), [segment_name(1099), segment_name(1100)]);
    assert_eq!(newest_seqs(&b, cache, 3), [1099, 1100]);
}

#[test]
fn a_corrupt_truncated_or_foreign_cache_file_is_ignored_silently() {
    let j = big_journal();
    // Another large journal (seqs 5001..), and a small one; then one wait.
    let other = TestJournal::new();
    for seq in 5001..=5000 + SEGMENTS {
        other.write(
            &segment_name(seq),
            format!("{}\n", event_line(seq)).as_bytes(),
        );
    }
    let small = TestJournal::with_events(20, 2);
    for dir in [&j.dir, &other.dir, &small.dir] {
        wait_settled(dir);
    }
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
