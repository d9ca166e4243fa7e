//! The redb runtime journal (camel-core): every subcommand against the
//! databases the runtime's own crate wrote (`tests/corpus/camel-redb`, the
//! answers in its README), databases held open or damaged (built here with
//! the redb crate), and the promise that the file given is never written.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

use crate::common::{Spawned, corpus_dir, journal_cmd};

const CLEAN: &str = "runtime-journal.redb";
const COMPACTED: &str = "runtime-journal-compacted.redb";

/// The runtime's table: `u64` key to the JSON bytes of the event.
const EVENTS: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("events");

/// A copy of a corpus database in a temporary directory, and a temporary
/// directory of its own for `--snapshot`'s copies (`TMPDIR`), so a test can
/// see that nothing is left behind.
struct Db {
    tmp: tempfile::TempDir,
    file: PathBuf,
    scratch: PathBuf,
}

impl Db {
    fn corpus(name: &str) -> Db {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("runtime");
        fs::create_dir(&dir).unwrap();
        let file = dir.join(name);
        fs::write(
            &file,
            fs::read(corpus_dir().join("camel-redb").join(name)).unwrap(),
        )
        .unwrap();
        let scratch = tmp.path().join("scratch");
        fs::create_dir(&scratch).unwrap();
        Db { tmp, file, scratch }
    }

    /// A database written with the runtime's layout holding `values`.
    fn built(values: &[(u64, Vec<u8>)]) -> Db {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("runtime");
        fs::create_dir(&dir).unwrap();
        let file = dir.join("built.redb");
        let db = redb::Database::create(&file).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut t = w.open_table(EVENTS).unwrap();
            for (k, v) in values {
                t.insert(*k, v.as_slice()).unwrap();
            }
        }
        w.commit().unwrap();
        drop(db);
        let scratch = tmp.path().join("scratch");
        fs::create_dir(&scratch).unwrap();
        Db { tmp, file, scratch }
    }

    /// `journal <args...> FILE`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = journal_cmd();
        cmd.env("TMPDIR", &self.scratch).args(args).arg(&self.file);
        cmd
    }

    /// `(stdout, stderr, exit code)`.
    fn run(&self, args: &[&str]) -> (String, String, i32) {
        let out = self.cmd(args).output().unwrap();
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
            out.status.code().unwrap_or(-1),
        )
    }

    /// The JSON a `--json` command prints, and its exit code.
    fn json(&self, args: &[&str]) -> (Value, i32) {
        let (out, err, code) = self.run(args);
        let v = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {out}\nstderr: {err}"));
        (v, code)
    }

    /// `inspect`/`tail` output as (key, variant, route).
    fn events(&self, args: &[&str]) -> Vec<(u64, String, String)> {
        let (out, err, code) = self.run(args);
        assert_eq!(code, 0, "{err}");
        out.lines().map(event_of).collect()
    }

    fn dir_entries(&self) -> Vec<String> {
        names(self.file.parent().unwrap())
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

/// (seq, variant, route_id) of one stored value.
fn event_of(line: &str) -> (u64, String, String) {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let (variant, body) = v["event"].as_object().unwrap().iter().next().unwrap();
    (
        v["seq"].as_u64().unwrap(),
        variant.clone(),
        body["route_id"].as_str().unwrap_or("").to_owned(),
    )
}

fn ev(k: u64, variant: &str, route: &str) -> (u64, String, String) {
    (k, variant.to_owned(), route.to_owned())
}

/// The JSON the runtime stores for one event.
fn value(seq: u64, variant: &str, route: &str) -> Vec<u8> {
    format!(
        r#"{{"seq":{seq},"timestamp_ms":{},"event":{{"{variant}":{{"route_id":"{route}"}}}}}}"#,
        1_796_132_664_240u64 + seq
    )
    .into_bytes()
}

/// The runtime's own open: while a reader holds the file it fails with
/// "already open", and the runtime tries again, 40 times 250 ms apart.
fn open_like_the_runtime(path: &Path) -> redb::Database {
    for _ in 0..40 {
        match redb::Database::open(path) {
            Ok(db) => return db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("a reader held {} for 10 s", path.display());
}

fn insert(db: &redb::Database, values: &[(u64, Vec<u8>)]) {
    let w = db.begin_write().unwrap();
    {
        let mut t = w.open_table(EVENTS).unwrap();
        for (k, v) in values {
            t.insert(*k, v.as_slice()).unwrap();
        }
    }
    w.commit().unwrap();
}

#[test]
fn inspect_shows_the_newest_three_as_the_runtime_inspection_printed_them() {
    let db = Db::corpus(CLEAN);
    assert_eq!(
        db.events(&["inspect", "-n", "3", "-o", "jsonl"]),
        [
            ev(299, "RouteStopped", "route-3"),
            ev(298, "RouteRemoved", "route-5"),
            ev(297, "RouteStopped", "route-5"),
        ]
    );
    let db = Db::corpus(COMPACTED);
    assert_eq!(
        db.events(&["inspect", "-n", "3", "-o", "jsonl"]),
        [
            ev(499, "RouteStopped", "route-6"),
            ev(498, "RouteStarted", "route-4"),
            ev(497, "RouteStartRequested", "route-4"),
        ]
    );
    // The table: the key, the variant as the type, the variant's fields.
    let (out, _, code) = db.run(&["inspect", "-n", "1", "-o", "table"]);
    assert_eq!(code, 0);
    let row = out.lines().find(|l| l.contains("499")).expect(&out);
    assert!(row.contains("RouteStopped"), "{row}");
    assert!(row.contains(r#""route_id":"route-6""#), "{row}");
    // Every stored value, oldest first, keys as the README says.
    let all = db.events(&["inspect", "--all", "--oldest-first", "-o", "raw"]);
    assert_eq!(all.len(), 250);
    assert_eq!((all[0].0, all[249].0), (135, 499));
}

#[test]
fn inspect_filters_by_route_type_key_and_time() {
    let db = Db::corpus(CLEAN);
    let route5 = db.events(&["inspect", "--all", "--route", "route-5", "-o", "jsonl"]);
    assert!(!route5.is_empty());
    assert!(route5.iter().all(|e| e.2 == "route-5"), "{route5:?}");
    assert_eq!(route5[0].0, 298);
    let stopped = db.events(&[
        "inspect",
        "-n",
        "2",
        "--route",
        "route-5",
        "-t",
        "RouteStopped",
        "-o",
        "jsonl",
    ]);
    assert_eq!(stopped[0], ev(297, "RouteStopped", "route-5"));
    assert!(
        stopped
            .iter()
            .all(|e| e.1 == "RouteStopped" && e.2 == "route-5")
    );
    let two_routes = db.events(&[
        "inspect", "--all", "--route", "route-5", "--route", "route-3", "-o", "jsonl",
    ]);
    let stats: Value = db.json(&["stats", "--json"]).0;
    let count = |r: &str| {
        stats["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stream"] == r)
            .map(|s| s["events"].as_u64().unwrap())
            .unwrap()
    };
    assert_eq!(two_routes.len() as u64, count("route-5") + count("route-3"));
    // --seq is the key range.
    let db = Db::corpus(COMPACTED);
    let keys: Vec<u64> = db
        .events(&["inspect", "--seq", "136..155", "-o", "jsonl"])
        .iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(keys, [155, 143, 142, 138, 137, 136]);
    // --since/--until on timestamp_ms (RFC 3339 in UTC).
    let bound = "2026-12-01T13:44:25.700Z";
    let bound_ms = chrono::DateTime::parse_from_rfc3339(bound)
        .unwrap()
        .timestamp_millis();
    let (out, _, _) = db.run(&["inspect", "--since", bound, "-o", "jsonl"]);
    let times: Vec<(u64, i64)> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["seq"].as_u64().unwrap(),
                v["timestamp_ms"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(times.first().map(|t| t.0), Some(499));
    assert!(
        times.len() > 3 && times.iter().all(|t| t.1 >= bound_ms),
        "{times:?}"
    );
    let (all, _, _) = db.run(&["inspect", "--all", "-o", "jsonl"]);
    let expected = all
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l).unwrap()["timestamp_ms"].as_i64() >= Some(bound_ms)
        })
        .count();
    assert_eq!(times.len(), expected);
    // --until oldest first stops past the bound, and misses nothing before it.
    let (until, _, _) = db.run(&["inspect", "--until", bound, "--oldest-first", "-o", "jsonl"]);
    let before = all
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l).unwrap()["timestamp_ms"].as_i64() <= Some(bound_ms)
        })
        .count();
    assert_eq!(until.lines().count(), before);
    // --route on segments is refused.
    journal_cmd()
        .args(["inspect", "--route", "r"])
        .arg(corpus_dir().join("bamboo-clean"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--route filters a redb journal"));
}

/// The runtime's events have no session: `--session` would match nothing
/// and read as "no such events", so it is refused, naming the file and
/// what to use instead; a route filter still works.
#[test]
fn a_session_filter_is_refused_not_an_empty_answer() {
    let db = Db::corpus(CLEAN);
    for cmd in [
        &["inspect", "-n", "3"][..],
        &["tail", "-n", "3"],
        &["inspect", "--all", "-o", "json"],
    ] {
        let args: Vec<&str> = cmd
            .iter()
            .chain(&["--session", "sess-1"])
            .copied()
            .collect();
        let (out, err, code) = db.run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?} printed {out}");
        assert!(
            err.contains("--session can never match")
                && err.contains("--route")
                && err.contains(db.file.to_str().unwrap()),
            "{args:?}: {err}"
        );
    }
    let routed = db.events(&["inspect", "-n", "2", "--route", "route-1"]);
    assert_eq!(routed.len(), 2);
    assert!(
        routed.iter().all(|(_, _, route)| route == "route-1"),
        "{routed:?}"
    );
}

#[test]
fn recover_prints_the_last_key() {
    for (name, last) in [(CLEAN, 299), (COMPACTED, 499)] {
        let db = Db::corpus(name);
        let (v, code) = db.json(&["recover", "--json"]);
        assert_eq!(code, 0);
        assert_eq!(v["schema"], "journal-recover-streams/1");
        assert_eq!(v["format"], "redb");
        assert_eq!(v["streams"].as_array().unwrap().len(), 1);
        assert_eq!(v["streams"][0]["stream"], "events");
        assert_eq!(v["streams"][0]["latest"], last);
        assert_eq!(v["streams"][0]["extra"]["next_key"], last + 1);
        let (out, _, code) = db.run(&["recover"]);
        assert_eq!(code, 0);
        assert!(
            out.lines()
                .nth(1)
                .unwrap()
                .starts_with(&format!("events  {last}")),
            "{out}"
        );
    }
}

#[test]
fn stats_counts_events_per_variant_and_route_and_the_key_range() {
    for (name, events, first, last, gaps) in
        [(CLEAN, 300, 0, 299, 0), (COMPACTED, 250, 135, 499, 18)]
    {
        let db = Db::corpus(name);
        let (v, code) = db.json(&["stats", "--json"]);
        assert_eq!(code, 0);
        assert_eq!(v["schema"], "journal-stats-streams/1");
        assert_eq!(v["format"], "redb");
        assert_eq!(v["events"], events);
        assert_eq!(v["bytes"], fs::metadata(&db.file).unwrap().len());
        assert_eq!(v["extra"]["first_key"], first);
        assert_eq!(v["extra"]["last_key"], last);
        assert_eq!(v["extra"]["key_gaps"], gaps);
        let kinds: u64 = v["kinds"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(kinds, events);
        let per_route: u64 = v["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["events"].as_u64().unwrap())
            .sum();
        assert_eq!(per_route, events);
        assert!(
            v["streams"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["stream"].as_str().unwrap().starts_with("route-"))
        );
        // Free pages need a write transaction: only on the snapshot.
        assert!(v["extra"].get("free_pages").is_none());
        let (v, _) = db.json(&["stats", "--json", "--snapshot"]);
        assert!(v["extra"]["free_pages"].is_u64(), "{v}");
        let (out, _, _) = db.run(&["stats"]);
        assert!(out.contains("format      redb"), "{out}");
        assert!(out.contains(&format!("events      {events}")), "{out}");
    }
}

#[test]
fn verify_reports_compaction_gaps_as_notes_not_errors() {
    let db = Db::corpus(COMPACTED);
    let (v, code) = db.json(&["verify", "--json", "--strict"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["schema"], "journal-verify-streams/1");
    assert_eq!(v["format"], "redb");
    assert_eq!(v["ok"], true);
    assert_eq!(v["records"], 250);
    assert_eq!(v["defects"].as_array().unwrap().len(), 0);
    let notes = v["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 18);
    assert!(notes.iter().all(|n| n["kind"] == "compaction-gap"));
    let firsts: Vec<&str> = notes[..3]
        .iter()
        .map(|n| n["detail"].as_str().unwrap())
        .collect();
    assert!(firsts[0].starts_with("key 138 then 142:"), "{firsts:?}");
    assert!(firsts[1].starts_with("key 143 then 155:"), "{firsts:?}");
    assert!(firsts[2].starts_with("key 155 then 167:"), "{firsts:?}");
    assert_eq!(v["checked"][0]["extra"]["key_gaps"], 18);
    let (out, _, code) = db.run(&["verify"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("note compaction-gap"))
            .count(),
        18
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .contains("250 records, format redb: 0 errors, 0 warnings"),
        "{out}"
    );
    // The clean one: nothing to note; --deep runs redb's own check on a copy.
    let db = Db::corpus(CLEAN);
    let (v, code) = db.json(&["verify", "--json", "--deep"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["notes"].as_array().unwrap().len(), 0);
    assert_eq!(v["checked"][0]["extra"]["deep"], true);
}

#[test]
fn verify_locates_a_value_whose_seq_is_not_its_key_and_one_that_is_not_json() {
    let db = Db::built(&[
        (0, value(0, "RouteRegistered", "route-1")),
        (1, value(7, "RouteStarted", "route-1")),
        (2, b"{\"seq\":2,\"timestamp_ms\":".to_vec()),
        (3, value(3, "RouteStopped", "route-1")),
    ]);
    let (v, code) = db.json(&["verify", "--json"]);
    assert_eq!(code, 1, "{v}");
    let found: Vec<(&str, u64)> = v["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap(), d["key"].as_u64().unwrap()))
        .collect();
    assert_eq!(found, [("seq-key-mismatch", 1), ("not-json", 2)]);
    assert!(
        v["defects"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("seq is 7 but its key is 1")
    );
    let (out, _, code) = db.run(&["verify"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("error seq-key-mismatch: value at key 1"),
        "{out}"
    );
    assert!(out.contains("error not-json: value at key 2"), "{out}");
    // inspect shows the rest and says what it skipped; the mismatched value
    // is shown at its key.
    let (out, err, code) = db.run(&["inspect", "--all", "-o", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let seqs: Vec<u64> = out.lines().map(|l| event_of(l).0).collect();
    assert_eq!(seqs, [3, 7, 0]);
    assert!(
        err.contains("skipped 1 damaged value:")
            && err.contains("built.redb: value at key 2: not-json"),
        "{err}"
    );
    assert!(!err.contains("damaged line"), "{err}");
    // stats counts the parsed values and names the damaged one.
    let (v, _) = db.json(&["stats", "--json"]);
    assert_eq!(
        (v["events"].as_u64(), v["errors"].as_u64()),
        (Some(3), Some(2))
    );
}

#[test]
fn a_database_the_runtime_holds_is_refused_plainly_and_read_with_snapshot() {
    let db = Db::corpus(CLEAN);
    // The runtime: redb's writer holds the file (an exclusive lock) in this
    // test process while `journal` runs as another.
    let runtime = redb::Database::open(&db.file).unwrap();
    for args in [
        &["inspect"][..],
        &["recover"],
        &["stats"],
        &["verify"],
        &["tail"],
    ] {
        let (_, err, code) = db.run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("holds this database open"), "{err}");
        assert!(err.contains("--snapshot"), "{err}");
    }
    assert_eq!(
        db.events(&["inspect", "--snapshot", "-n", "1", "-o", "jsonl"]),
        [ev(299, "RouteStopped", "route-3")]
    );
    let (v, code) = db.json(&["recover", "--snapshot", "--json"]);
    assert_eq!((v["streams"][0]["latest"].as_u64(), code), (Some(299), 0));
    // A file copied while a writer has it open needs redb's repair: done on
    // the copy, and said (a warning).
    let (v, code) = db.json(&["verify", "--snapshot", "--deep", "--json"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["records"], 300);
    // The runtime writes on; the snapshot sees it.
    insert(&runtime, &[(300, value(300, "RouteStarted", "route-1"))]);
    assert_eq!(
        db.events(&["inspect", "--snapshot", "-n", "1", "-o", "jsonl"]),
        [ev(300, "RouteStarted", "route-1")]
    );
    drop(runtime);
    assert!(names(&db.scratch).is_empty(), "the snapshots are removed");
}

#[test]
fn a_database_not_closed_cleanly_is_refused_and_read_with_snapshot() {
    let db = Db::corpus(CLEAN);
    // What a crash leaves: the file as it is while its writer has it open.
    let runtime = redb::Database::open(&db.file).unwrap();
    let crashed = db.file.with_file_name("crashed.redb");
    fs::copy(&db.file, &crashed).unwrap();
    drop(runtime);
    let before = fs::read(&crashed).unwrap();
    let run = |args: &[&str]| {
        let out = journal_cmd()
            .env("TMPDIR", &db.scratch)
            .args(args)
            .arg(&crashed)
            .output()
            .unwrap();
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
            out.status.code(),
        )
    };
    let (_, err, code) = run(&["inspect"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not closed cleanly"), "{err}");
    assert!(err.contains("--snapshot"), "{err}");
    let (out, err, code) = run(&["verify", "--snapshot", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["defects"][0]["kind"], "not-closed-cleanly");
    assert_eq!(v["defects"][0]["severity"], "warning");
    let (out, _, code) = run(&["inspect", "--snapshot", "-n", "1", "-o", "jsonl"]);
    assert_eq!(code, Some(0));
    assert_eq!(event_of(out.trim()).0, 299);
    assert!(
        fs::read(&crashed).unwrap() == before,
        "never repaired in place"
    );
}

#[test]
fn every_read_only_command_leaves_the_database_byte_identical_with_no_new_file() {
    for name in [CLEAN, COMPACTED] {
        let db = Db::corpus(name);
        let before = fs::read(&db.file).unwrap();
        let entries = db.dir_entries();
        for args in [
            &["inspect", "--all"][..],
            &["inspect", "-o", "json", "--route", "route-4"],
            &["inspect", "-o", "table", "-t", "RouteStarted"],
            &["recover"],
            &["recover", "--json"],
            &["stats"],
            &["stats", "--json"],
            &["verify"],
            &["verify", "--json", "--deep"],
            &["tail", "-n", "5"],
            &["inspect", "--snapshot"],
            &["stats", "--snapshot", "--json"],
            &["verify", "--snapshot", "--deep"],
            &["repair"],
            &["repair", "--dry-run"],
            &["prune", "--keep", "1"],
        ] {
            let (_, err, code) = db.run(args);
            assert!(
                code == 0 || args[0] == "repair" || args[0] == "prune",
                "{args:?}: {err}"
            );
            assert!(
                fs::read(&db.file).unwrap() == before,
                "{name}: `journal {}` changed the database",
                args.join(" ")
            );
            assert_eq!(db.dir_entries(), entries, "{args:?} left a file beside it");
            assert!(names(&db.scratch).is_empty(), "{args:?} left a snapshot");
        }
    }
}

#[test]
fn repair_prune_and_append_refuse_the_redb_journal() {
    let db = Db::corpus(CLEAN);
    let (_, err, code) = db.run(&["repair"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("`journal repair` does not support the redb format"),
        "{err}"
    );
    assert!(err.contains("never written"), "{err}");
    for cmd in ["prune", "append"] {
        let out = db.cmd(&[cmd]).write_stdin("{}\n").output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains(&format!("`journal {cmd}` does not support the redb format")),
            "{err}"
        );
    }
}

/// `journal tail -f <args> FILE`, spawned.
fn follow(db: &Db, args: &[&str]) -> Spawned {
    let mut all: Vec<&std::ffi::OsStr> = vec!["tail".as_ref(), "-f".as_ref()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    all.push(db.file.as_os_str());
    Spawned::new(&all)
}

#[test]
fn tail_follows_new_keys_with_a_cursor_and_resumes_after_it() {
    let db = Db::corpus(CLEAN);
    assert_eq!(
        db.events(&["tail", "-n", "2", "-o", "jsonl"]),
        [
            ev(298, "RouteRemoved", "route-5"),
            ev(299, "RouteStopped", "route-3")
        ]
    );
    let cursor = db.tmp.path().join("cursor.json");
    let cursor_arg = cursor.to_str().unwrap();
    let all = db.events(&["tail", "-o", "jsonl", "--cursor-file", cursor_arg]);
    assert_eq!(all.len(), 300);
    let saved: Value = serde_json::from_str(&fs::read_to_string(&cursor).unwrap()).unwrap();
    assert_eq!(saved["streams"]["events"], 299);

    let tail = follow(
        &db,
        &["--poll", "50ms", "-o", "jsonl", "--cursor-file", cursor_arg],
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(tail.stdout(), "", "nothing new yet");
    // The runtime opens the file for a moment for each append (the reader
    // waits for it), as after a restart.
    for k in [300, 301] {
        let runtime = open_like_the_runtime(&db.file);
        insert(&runtime, &[(k, value(k, "RouteStarted", "route-2"))]);
        drop(runtime);
    }
    tail.wait_for("keys 300 and 301", |out, _| out.lines().count() == 2);
    tail.signal("TERM");
    let (status, out, err) = tail.wait_exit();
    assert!(status.success(), "{err}");
    let keys: Vec<u64> = out.lines().map(|l| event_of(l).0).collect();
    assert_eq!(keys, [300, 301]);
    let saved: Value = serde_json::from_str(&fs::read_to_string(&cursor).unwrap()).unwrap();
    assert_eq!(saved["streams"]["events"], 301);
    // Resuming prints nothing twice.
    assert!(
        db.events(&["tail", "-o", "jsonl", "--cursor-file", cursor_arg])
            .is_empty()
    );
}

#[test]
fn tail_follows_a_database_the_runtime_keeps_open_through_snapshots() {
    let db = Db::corpus(CLEAN);
    let runtime = redb::Database::open(&db.file).unwrap();
    let tail = follow(
        &db,
        &[
            "--snapshot",
            "--poll",
            "50ms",
            "-n",
            "1",
            "-o",
            "jsonl",
            "--route",
            "route-2",
        ],
    );
    tail.wait_for("the last route-2 event", |out, _| out.lines().count() == 1);
    insert(
        &runtime,
        &[
            (300, value(300, "RouteStarted", "route-1")),
            (301, value(301, "RouteStopped", "route-2")),
        ],
    );
    tail.wait_for("key 301", |out, _| out.lines().count() == 2);
    tail.signal("TERM");
    let (status, out, err) = tail.wait_exit();
    assert!(status.success(), "{err}");
    let got: Vec<_> = out.lines().map(event_of).collect();
    assert_eq!(got[1], ev(301, "RouteStopped", "route-2"));
    assert_eq!(got[0].2, "route-2");
    drop(runtime);
    assert!(names(&db.scratch).is_empty(), "the snapshots are removed");
}

#[test]
fn a_directory_holding_one_database_is_detected_and_one_holding_two_asks_which() {
    let db = Db::corpus(COMPACTED);
    let dir = db.file.parent().unwrap().to_owned();
    let out = journal_cmd()
        .args(["recover", "--json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["format"].as_str(), v["streams"][0]["latest"].as_u64()),
        (Some("redb"), Some(499))
    );
    // The corpus folder holds both databases: name the one to read.
    journal_cmd()
        .arg("inspect")
        .arg(corpus_dir().join("camel-redb"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "2 redb database files in this directory",
        ))
        .stderr(predicates::str::contains(COMPACTED));
}

/// `-w route_id=X` (and `event.route_id=X`) is looked up under whichever
/// variant the event is, so it selects what `--route X` does; a path that
/// names the variant is taken as written.
#[test]
fn a_where_field_inside_the_event_matches_under_its_variant() {
    let db = Db::corpus(CLEAN);
    let route = db.events(&["inspect", "--all", "--route", "route-3", "-o", "jsonl"]);
    assert!(route.len() > 3, "{route:?}");
    for w in ["route_id=route-3", "event.route_id=route-3"] {
        let got = db.events(&["inspect", "--all", "-w", w, "-o", "jsonl"]);
        assert_eq!(got, route, "-w {w}");
    }
    let started = db.events(&[
        "inspect",
        "--all",
        "-w",
        "event.RouteStarted.route_id=route-3",
        "-o",
        "jsonl",
    ]);
    let want: Vec<_> = route
        .iter()
        .filter(|e| e.1 == "RouteStarted")
        .cloned()
        .collect();
    assert!(!want.is_empty());
    assert_eq!(started, want);
    // tail goes through the same adaptation.
    let (out, err, code) = db.run(&["tail", "-n", "2", "-w", "route_id=route-3", "-o", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let tail: Vec<_> = out.lines().map(event_of).collect();
    assert_eq!(tail, [route[1].clone(), route[0].clone()]);
}

/// `--route` on recover and stats: the head and the counts of those routes
/// only (what inspect --route reads); on segments, refused.
#[test]
fn recover_and_stats_take_route() {
    let db = Db::corpus(CLEAN);
    let route = db.events(&["inspect", "--all", "--route", "route-3", "-o", "jsonl"]);
    let (rec, code) = db.json(&["recover", "--json", "--route", "route-3"]);
    assert_eq!(code, 0);
    assert_eq!(rec["streams"][0]["position"], route[0].0);
    assert_eq!(rec["streams"][0]["extra"]["route_id"], "route-3");
    let (st, code) = db.json(&["stats", "--json", "--route", "route-3"]);
    assert_eq!(code, 0);
    assert_eq!(st["events"], route.len());
    let streams: Vec<&str> = st["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"].as_str().unwrap())
        .collect();
    assert_eq!(streams, ["route-3"]);
    let (all, _) = db.json(&["stats", "--json"]);
    assert!(all["events"].as_u64().unwrap() > route.len() as u64);
    let j = crate::common::TestJournal::with_events(3, 10);
    for cmd in ["recover", "stats"] {
        j.cmd(&[cmd, "--route", "r"])
            .assert()
            .code(2)
            .stderr(predicates::str::contains("--route filters a redb journal"));
    }
}

/// A database made again (its keys started again, all below the cursor's):
/// `tail --cursor-file` reads it from its start, with a reset said, instead
/// of waiting for keys past the old cursor.
#[test]
fn tail_reads_a_database_made_again_from_its_start() {
    let db = Db::corpus(CLEAN);
    let cursor = db.tmp.path().join("cursor.json");
    let cursor_arg = cursor.to_str().unwrap();
    assert_eq!(
        db.events(&["tail", "-o", "jsonl", "--cursor-file", cursor_arg])
            .len(),
        300
    );
    let again = Db::built(&[
        (0, value(0, "RouteAdded", "route-9")),
        (1, value(1, "RouteStarted", "route-9")),
    ]);
    fs::remove_file(&db.file).unwrap();
    fs::copy(&again.file, &db.file).unwrap();
    let (out, err, code) = db.run(&["tail", "-o", "envelope", "--cursor-file", cursor_arg]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0]["type"], "reset");
    assert_eq!(lines[0]["stream"], "events");
    assert_eq!(lines[0]["after"], 299);
    assert_eq!(lines[0]["reason"], "went-back");
    assert_eq!(lines[1]["position"], 0);
    assert_eq!(lines[2]["position"], 1);
    assert!(err.contains("below 299"), "{err}");
    assert!(
        db.events(&["tail", "-o", "jsonl", "--cursor-file", cursor_arg])
            .is_empty()
    );
}
