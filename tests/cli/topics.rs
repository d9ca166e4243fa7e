//! The per-topic event log (harn-vm), both backends, against the logs the
//! runtime's own crate wrote (`../shared/corpus/harn-*`; the answers are its
//! README's), always on a copy.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

use crate::common::{Spawned, journal_cmd, stdout_of};
use crate::sessions::Store;

const LLM: &str = "agent.transcript.llm";
const INBOX: &str = "triggers.inbox";
const LLM_LAST: &str = "sha256:ea138168b285e66e772e5e4c00be1dc1d5e20011c9194e1040e4c5a745031a53";
const INBOX_LAST: &str = "sha256:4a28028ec05cda0b278672019da85d5812aadeaa06dfc9984658775059619653";

fn topic_file(s: &Store, topic: &str) -> PathBuf {
    s.root.join("topics").join(format!("{topic}.jsonl"))
}

fn heads_of(v: &Value) -> BTreeMap<String, u64> {
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stream"].as_str().unwrap().to_owned(),
                s["latest"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn corpus_heads() -> BTreeMap<String, u64> {
    BTreeMap::from([(LLM.to_owned(), 144), (INBOX.to_owned(), 96)])
}

fn defect_kinds(v: &Value) -> Vec<String> {
    v["defects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// A copy of the SQLite corpus log with `sql` run on it (damage planted).
fn sqlite_corpus_after(sql: &str) -> Store {
    let s = Store::corpus("harn-sqlite");
    rusqlite::Connection::open(s.root.join("events.sqlite"))
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    s
}

/// Asserts that each of `wants` is said by some defect of `v` (a `--json`
/// report).
fn assert_defects_say(v: &Value, wants: &[&str]) {
    let details = v["defects"].to_string();
    for want in wants {
        assert!(details.contains(want), "{want}: {details}");
    }
}

/// Replaces (or with `None` removes) the line of `topic` holding event `id`.
fn rewrite_event(s: &Store, topic: &str, id: u64, f: impl FnOnce(&[u8]) -> Option<Vec<u8>>) {
    let path = topic_file(s, topic);
    let bytes = fs::read(&path).unwrap();
    let prefix = format!("{{\"id\":{id},");
    let mut f = Some(f);
    let mut out = Vec::new();
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(prefix.as_bytes()) {
            if let Some(new) = (f.take().unwrap())(line) {
                out.extend_from_slice(&new);
            }
        } else {
            out.extend_from_slice(line);
        }
    }
    assert!(f.is_none(), "no event {id} in {topic}");
    fs::write(path, out).unwrap();
}

// ---- the corpus answers, both backends ----

#[test]
fn recover_prints_each_topics_head_in_both_backends() {
    for name in ["harn-file", "harn-sqlite"] {
        let s = Store::corpus(name);
        let (v, code) = s.json(&["recover", "--json"]);
        assert_eq!(code, 0, "{name}");
        assert_eq!(v["schema"], "journal-recover-streams/1");
        assert_eq!(
            v["format"],
            if name == "harn-file" {
                "topics-jsonl"
            } else {
                "topics-sqlite"
            }
        );
        assert_eq!(heads_of(&v), corpus_heads(), "{name}");
        assert_eq!(v["streams"][0]["position"]["topic"], LLM);
        assert_eq!(v["streams"][0]["position"]["id"], 144);
        assert!(v["problems"].as_array().unwrap().is_empty(), "{name}: {v}");
        let text = stdout_of(&mut s.cmd(&["recover"]));
        assert!(text.contains(&format!("{LLM}  144")), "{text}");
        assert!(text.contains(&format!("{INBOX}        96")), "{text}");
    }
    let s = Store::corpus("harn-crashed");
    let (v, code) = s.json(&["recover", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        heads_of(&v),
        BTreeMap::from([
            (LLM.to_owned(), 74),
            ("probe.topic".to_owned(), 4),
            (INBOX.to_owned(), 46)
        ])
    );
    assert_eq!(v["problems"][0]["kind"], "glued-line");
}

#[test]
fn both_backends_print_identical_jsonl_newest_first_merged_by_time() {
    let file = Store::corpus("harn-file");
    let db = Store::corpus("harn-sqlite");
    for args in [
        &["inspect", "--all", "-o", "jsonl"][..],
        &["inspect", "-n", "20", "-o", "jsonl"],
        &["inspect", "--all", "-o", "jsonl", "--topic", INBOX],
        &[
            "inspect",
            "--all",
            "-o",
            "jsonl",
            "-t",
            "provider_call_error",
        ],
        &["tail", "-n", "7", "-o", "jsonl"],
    ] {
        let a = stdout_of(&mut file.cmd(args));
        let b = stdout_of(&mut db.cmd(args));
        assert!(!a.is_empty(), "{args:?}");
        assert_eq!(a, b, "{args:?}: the backends differ");
    }
    let all = stdout_of(&mut file.cmd(&["inspect", "--all", "-o", "jsonl"]));
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 240);
    let times: Vec<i64> = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["event"]["occurred_at_ms"].as_i64().unwrap()
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first by time"
    );
    // Each printed line is the topic file's line, byte for byte.
    let stored = fs::read_to_string(topic_file(&file, INBOX)).unwrap();
    let mut inbox: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| stored.contains(&format!("{l}\n")))
        .collect();
    inbox.reverse();
    assert_eq!(inbox.len(), 96);
    assert_eq!(inbox.concat(), stored.lines().collect::<Vec<_>>().concat());
    // --topic keeps only that topic.
    let only = stdout_of(&mut file.cmd(&["inspect", "--all", "-o", "jsonl", "--topic", INBOX]));
    assert_eq!(only.lines().count(), 96);
}

#[test]
fn stats_shows_every_consumer_with_its_lag() {
    for name in ["harn-file", "harn-sqlite"] {
        let s = Store::corpus(name);
        let (v, code) = s.json(&["stats", "--json"]);
        assert_eq!(code, 0);
        assert_eq!(v["schema"], "journal-stats-streams/1");
        assert_eq!(v["events"], 240);
        let c = &v["consumers"];
        assert_eq!(c[0]["consumer"], "portal");
        assert_eq!(c[0]["topic"], LLM);
        assert_eq!(
            (c[0]["cursor"].as_u64(), c[0]["head"].as_u64()),
            (Some(139), Some(144))
        );
        assert_eq!(c[0]["lag_events"], 5);
        assert!(c[0]["lag_ms"].as_i64().unwrap() > 0);
        assert_eq!(c[1]["consumer"], "worker/1 (retention)");
        assert_eq!(c[1]["lag_events"], 0);
        assert_eq!(c[1]["lag_ms"], 0);
        assert!(c[1]["updated_at_ms"].as_i64().is_some());
        let streams = v["streams"].as_array().unwrap();
        assert_eq!(streams[0]["stream"], LLM);
        assert_eq!(
            (streams[0]["first"].as_u64(), streams[0]["last"].as_u64()),
            (Some(1), Some(144))
        );
        let text = stdout_of(&mut s.cmd(&["stats"]));
        assert!(text.contains("consumers"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.contains("portal") && l.contains("139") && l.contains("144")),
            "{text}"
        );
        assert!(text.contains("worker/1 (retention)"), "{text}");
    }
}

#[test]
fn verify_recomputes_the_chain_to_the_runtimes_last_hashes() {
    for name in ["harn-file", "harn-sqlite"] {
        let s = Store::corpus(name);
        let (v, code) = s.json(&["verify", "--json"]);
        assert_eq!(code, 0, "{name}: {v}");
        assert_eq!(v["schema"], "journal-verify-streams/1");
        assert_eq!(v["records"], 240);
        let last: BTreeMap<String, String> = v["checked"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["extra"]["last_hash"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            last,
            BTreeMap::from([
                (LLM.to_owned(), LLM_LAST.to_owned()),
                (INBOX.to_owned(), INBOX_LAST.to_owned())
            ])
        );
    }
}

// ---- damaged copies ----

#[test]
fn a_changed_payload_byte_breaks_the_chain_at_exactly_that_event() {
    let s = Store::corpus("harn-file");
    rewrite_event(&s, LLM, 100, |line| {
        let at = memchr_find(line, b"\"payload\":{") + 13;
        let mut l = line.to_vec();
        l[at] = if l[at] == b'x' { b'y' } else { b'x' };
        Some(l)
    });
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(defect_kinds(&v), ["chain-hash"]);
    assert_eq!(v["defects"][0]["after"], 100);
    assert_eq!(v["defects"][0]["line"], 100);
    assert_eq!(v["defects"][0]["file"], format!("{LLM}.jsonl"));
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

#[test]
fn an_event_removed_from_the_middle_fails_the_link_after_it() {
    let s = Store::corpus("harn-file");
    rewrite_event(&s, INBOX, 50, |_| None);
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(defect_kinds(&v), ["seq-gap", "chain-link"]);
    assert_eq!(v["defects"][1]["after"], 51);
    assert_eq!(v["defects"][1]["before"], 49);
    let text = s.cmd(&["verify"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("id 51"), "{text}");
}

#[test]
fn a_torn_tail_is_a_warning_and_repair_cuts_it_to_quarantine() {
    let s = Store::corpus("harn-file");
    let path = topic_file(&s, INBOX);
    let good = fs::read(&path).unwrap();
    let mut torn = good.clone();
    torn.extend_from_slice(b"{\"id\":97,\"event\":{\"kin");
    fs::write(&path, &torn).unwrap();
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 0, "a torn tail is a warning: {v}");
    assert_eq!(defect_kinds(&v), ["torn-tail"]);
    assert_eq!(v["defects"][0]["offset"], good.len());
    s.cmd(&["verify", "--strict"]).assert().code(1);
    let (dry, code) = s.json(&["repair", "--dry-run", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(fs::read(&path).unwrap(), torn, "a dry run changes nothing");
    let (done, code) = s.json(&["repair", "--json"]);
    assert_eq!(code, 0, "{done}");
    assert_eq!(done["steps"][0]["action"], "cut-torn-tail");
    assert_eq!(dry["steps"][0]["offset"], done["steps"][0]["offset"]);
    assert_eq!(dry["steps"][0]["len"], done["steps"][0]["len"]);
    assert_eq!(fs::read(&path).unwrap(), good);
    let q = quarantine_files(&s.root);
    assert_eq!(q.len(), 1);
    assert_eq!(fs::read(&q[0]).unwrap(), &torn[good.len()..]);
    s.cmd(&["verify", "--strict"]).assert().success();
}

fn quarantine_files(root: &Path) -> Vec<PathBuf> {
    fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("quarantine-"))
        })
        .collect()
}

/// A topic lock that is a symlink is not followed (a lock elsewhere would
/// not exclude the runtime): repair refuses plainly and changes nothing.
#[test]
fn repair_refuses_a_topic_lock_that_is_a_symlink() {
    let s = Store::corpus("harn-crashed");
    let lock = s.root.join("locks/probe.topic.lock");
    fs::remove_file(&lock).unwrap();
    let elsewhere = s.root.join("elsewhere.lock");
    fs::write(&elsewhere, "").unwrap();
    std::os::unix::fs::symlink(&elsewhere, &lock).unwrap();
    let topic = s.root.join("topics/probe.topic.jsonl");
    let before = fs::read(&topic).unwrap();
    let out = s.cmd(&["repair"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("probe.topic.lock")
            && stderr.contains("is a symbolic link")
            && stderr.contains("nothing changed"),
        "{stderr}"
    );
    assert_eq!(fs::read(&topic).unwrap(), before);
}

#[test]
fn the_glued_line_of_harn_crashed_is_unglued_keeping_event_4_with_its_chain() {
    let s = Store::corpus("harn-crashed");
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(defect_kinds(&v), ["glued-line"]);
    let d = &v["defects"][0];
    assert_eq!(d["file"], "probe.topic.jsonl");
    assert_eq!(
        (d["line"].as_u64(), d["offset"].as_u64(), d["len"].as_u64()),
        (Some(4), Some(954), Some(382))
    );
    assert!(
        d["detail"]
            .as_str()
            .unwrap()
            .contains("event log parse error"),
        "{d}"
    );
    let (r, code) = s.json(&["repair", "--json"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["steps"].as_array().unwrap().len(), 1);
    assert_eq!(r["steps"][0]["action"], "unglue");
    assert_eq!(r["steps"][0]["offset"], 954);
    assert_eq!(r["steps"][0]["len"], 27);
    assert_eq!(r["steps"][0]["kept"]["id"], 4);
    let q = quarantine_files(&s.root);
    assert_eq!(
        fs::read(&q[0]).unwrap(),
        b"{\"id\":4,\"event\":{\"kind\":\"to"
    );
    // Every line parses again, event 4 is there, and its chain is intact.
    let probe = fs::read_to_string(topic_file(&s, "probe.topic")).unwrap();
    let ids: Vec<u64> = probe
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 0, "{v}");
    assert!(v["defects"].as_array().unwrap().is_empty(), "{v}");
    let probe = v["checked"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "probe.topic")
        .unwrap();
    assert_eq!(probe["extra"]["head"], 4);
    assert_eq!(
        probe["extra"]["last_hash"],
        "sha256:dc92639f47cca5a8d08ffc925a4c5bbdfe091c9a98fd826ba770d6984367f53b"
    );
}

#[test]
fn repair_waits_for_the_runtimes_topic_lock_then_exits_3() {
    let s = Store::corpus("harn-crashed");
    let lock = fs::File::open(s.root.join("locks/probe.topic.lock")).unwrap();
    lock.lock().unwrap();
    s.cmd(&["repair", "--wait", "100ms"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("probe.topic.lock"));
    drop(lock);
    s.cmd(&["repair"]).assert().success();
}

#[test]
fn a_consumer_cursor_past_the_head_is_an_error() {
    let s = Store::corpus("harn-file");
    let file = s.root.join("consumers/agent.transcript.llm__portal.json");
    let text = fs::read_to_string(&file)
        .unwrap()
        .replace("\"cursor\": 139", "\"cursor\": 150");
    fs::write(&file, text).unwrap();
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(defect_kinds(&v), ["cursor-beyond-head"]);
    assert_eq!(v["defects"][0]["file"], "agent.transcript.llm__portal.json");
    assert!(v["defects"][0]["detail"].as_str().unwrap().contains("skip"));
}

/// A consumer cursor file that is a directory, a FIFO or a symlink is not
/// read (a FIFO would block) and not left out silently: verify and stats
/// name it, and the real cursors are still reported.
#[test]
fn a_consumer_cursor_that_is_not_a_regular_file_is_named_never_opened() {
    let s = Store::corpus("harn-file");
    let consumers = s.root.join("consumers");
    fs::create_dir(consumers.join("triggers.inbox__dir.json")).unwrap();
    let fifo = consumers.join("triggers.inbox__fifo.json");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    std::os::unix::fs::symlink(
        consumers.join("agent.transcript.llm__portal.json"),
        consumers.join("triggers.inbox__link.json"),
    )
    .unwrap();
    // A FIFO opened for reading would block: the timeout says it was not.
    let out = s
        .cmd(&["verify", "--json"])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut irregular: Vec<&str> = v["defects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "not-regular-file")
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    irregular.sort();
    assert_eq!(
        irregular,
        [
            "triggers.inbox__dir.json",
            "triggers.inbox__fifo.json",
            "triggers.inbox__link.json"
        ]
    );
    let out = s
        .cmd(&["stats", "--json"])
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // stats counts what verify lists.
    assert_eq!(v["consumers"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["errors"], 3, "{v}");
}

/// A topic file that is a FIFO is never opened, and inspect, tail and
/// recover say so (as verify and stats do) instead of answering as if the
/// log had no such topic.
#[test]
fn a_topic_file_that_is_a_fifo_is_named_by_inspect_tail_and_recover() {
    let s = Store::corpus("harn-file");
    let st = std::process::Command::new("mkfifo")
        .arg(s.root.join("topics/x.jsonl"))
        .status()
        .unwrap();
    assert!(st.success());
    for cmd in [
        &["inspect", "-n", "2"][..],
        &["tail", "-n", "2"],
        &["recover"],
    ] {
        let out = s
            .cmd(cmd)
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {stderr}");
        assert!(
            stderr.contains("x.jsonl") && stderr.contains("not-regular-file"),
            "{cmd:?}: {stderr}"
        );
        // The real topics are still read.
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("96"), "{cmd:?}: {stdout}");
    }
}

#[test]
fn a_sqlite_topic_heads_row_that_lags_is_reported() {
    let s = Store::corpus("harn-sqlite");
    let conn = rusqlite_free_update(&s.root.join("events.sqlite"));
    assert!(conn);
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(defect_kinds(&v), ["head-mismatch"]);
    assert!(
        v["defects"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("topic_heads.last_id is 90 but the largest event_id is 96"),
        "{v}"
    );
    let out = s.cmd(&["recover"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("head-mismatch"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `topic_heads` lag for triggers.inbox with the sqlite3 shell (the
/// test binary does not link SQLite).
fn rusqlite_free_update(db: &Path) -> bool {
    std::process::Command::new("sqlite3")
        .arg(db)
        .arg("UPDATE topic_heads SET last_id = 90 WHERE topic = 'triggers.inbox';")
        .status()
        .unwrap()
        .success()
}

fn dir_state(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn reading_a_copy_of_the_sqlite_directory_leaves_it_byte_identical() {
    let s = Store::corpus("harn-sqlite");
    let before = dir_state(&s.root);
    assert_eq!(before.len(), 2, "the database and its init lock");
    for args in [
        &["inspect", "--all"][..],
        &["inspect", "-o", "jsonl", "--topic", INBOX],
        &["recover"],
        &["recover", "--json"],
        &["stats"],
        &["stats", "--json"],
        &["verify", "--json"],
        &["tail", "-n", "5"],
    ] {
        s.cmd(args).assert().success();
        assert_eq!(dir_state(&s.root), before, "{args:?} changed the directory");
    }
    // The database file named directly, too.
    journal_cmd()
        .arg("recover")
        .arg(s.root.join("events.sqlite"))
        .assert()
        .success()
        .stdout(predicate::str::contains(LLM));
    assert_eq!(dir_state(&s.root), before);
}

#[test]
fn sqlite_repair_is_left_to_sqlite_and_prune_append_refuse() {
    let s = Store::corpus("harn-sqlite");
    let before = dir_state(&s.root);
    s.cmd(&["repair"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("left to SQLite"));
    for (name, format) in [
        ("harn-sqlite", "topics-sqlite"),
        ("harn-file", "topics-jsonl"),
    ] {
        let s = Store::corpus(name);
        for args in [&["prune"][..], &["append"][..]] {
            s.cmd(args)
                .write_stdin("{}\n")
                .assert()
                .code(2)
                .stderr(predicate::str::contains(format!(
                    "does not support the {format} format"
                )));
        }
    }
    assert_eq!(dir_state(&s.root), before);
}

#[test]
fn tail_follows_every_topic_and_topics_that_appear_later() {
    use std::io::Write as _;
    let s = Store::corpus("harn-file");
    let follow = Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "-n".as_ref(),
        "0".as_ref(),
        "--poll".as_ref(),
        "50ms".as_ref(),
        "-o".as_ref(),
        "jsonl".as_ref(),
        s.root.as_os_str(),
    ]);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(follow.stdout(), "", "nothing new yet");
    // An append to an existing topic, written in two pieces.
    let stored = fs::read_to_string(topic_file(&s, INBOX)).unwrap();
    let next = stored
        .lines()
        .last()
        .unwrap()
        .replacen("{\"id\":96,", "{\"id\":97,", 1)
        + "\n";
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(topic_file(&s, INBOX))
        .unwrap();
    f.write_all(&next.as_bytes()[..40]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    f.write_all(&next.as_bytes()[40..]).unwrap();
    follow.wait_for("triggers.inbox 97", |out, _| out.lines().count() == 1);
    // A topic that appears later.
    fs::write(
        topic_file(&s, "new.topic"),
        "{\"id\":1,\"event\":{\"kind\":\"k\",\"payload\":{},\"headers\":{},\"occurred_at_ms\":1}}\n",
    )
    .unwrap();
    follow.wait_for("the new topic", |out, _| out.lines().count() == 2);
    follow.signal("TERM");
    let (status, out, err) = follow.wait_exit();
    assert!(status.success(), "{err}");
    let got: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(got, [97, 1]);
    assert_eq!(out.lines().next().unwrap(), next.trim_end());
}

#[test]
fn tail_follows_only_the_topics_named() {
    let s = Store::corpus("harn-sqlite");
    let out = stdout_of(&mut s.cmd(&["tail", "-n", "3", "-o", "jsonl", "--topic", LLM]));
    let ids: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [142, 143, 144]);
    // --topic on segments is a usage error.
    let j = crate::common::TestJournal::with_events(3, 10);
    j.cmd(&["inspect", "--topic", LLM])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--topic"));
}

#[test]
fn a_topic_compacted_away_leaves_its_consumer_beyond_the_head() {
    // The runtime's compaction deletes a topic file it empties; its ids then
    // restart at 1 while the consumer's cursor still points past them.
    let s = Store::corpus("harn-file");
    fs::remove_file(topic_file(&s, INBOX)).unwrap();
    fs::write(
        topic_file(&s, INBOX),
        "{\"id\":1,\"event\":{\"kind\":\"k\",\"payload\":{},\"headers\":{},\"occurred_at_ms\":1}}\n",
    )
    .unwrap();
    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(defect_kinds(&v), ["cursor-beyond-head"]);
    assert_eq!(v["defects"][0]["before"], 1);
    assert_eq!(v["defects"][0]["after"], 96);
    let (st, _) = s.json(&["stats", "--json"]);
    assert_eq!(st["consumers"][1]["head"], 1);
    assert_eq!(st["consumers"][1]["lag_events"], 0);
}

#[test]
fn tail_follow_with_topic_prints_only_that_topic() {
    use std::io::Write as _;
    let s = Store::corpus("harn-file");
    let follow = Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "-n".as_ref(),
        "0".as_ref(),
        "--poll".as_ref(),
        "50ms".as_ref(),
        "-o".as_ref(),
        "jsonl".as_ref(),
        "--topic".as_ref(),
        LLM.as_ref(),
        s.root.as_os_str(),
    ]);
    std::thread::sleep(Duration::from_millis(400));
    let append = |topic: &str, from: u64| {
        let stored = fs::read_to_string(topic_file(&s, topic)).unwrap();
        let next = stored.lines().last().unwrap().replacen(
            &format!("{{\"id\":{from},"),
            &format!("{{\"id\":{},", from + 1),
            1,
        ) + "\n";
        fs::OpenOptions::new()
            .append(true)
            .open(topic_file(&s, topic))
            .unwrap()
            .write_all(next.as_bytes())
            .unwrap();
    };
    append(INBOX, 96);
    append(LLM, 144);
    follow.wait_for("agent.transcript.llm 145", |out, _| {
        out.lines().count() == 1
    });
    std::thread::sleep(Duration::from_millis(300));
    follow.signal("TERM");
    let (status, out, err) = follow.wait_exit();
    assert!(status.success(), "{err}");
    let ids: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [145], "only the topic named");
}

/// A topic file of events `ids`, each at time `at + id`, renamed into place.
fn recreate_topic(s: &Store, topic: &str, ids: std::ops::RangeInclusive<u64>, at: u64) {
    let text: String = ids
        .map(|id| {
            format!(
                "{{\"id\":{id},\"event\":{{\"kind\":\"k\",\"payload\":{{}},\"headers\":{{}},\"occurred_at_ms\":{}}}}}\n",
                at + id
            )
        })
        .collect();
    let tmp = s.root.join("topics").join("recreated.tmp");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, topic_file(s, topic)).unwrap();
}

/// The runtime's compaction deletes a topic it empties and its ids start
/// again at 1: a follower reads the new events from their start, with a
/// reset said (stderr, a `"type":"reset"` envelope object), whether the new
/// topic is still below the old position or has grown past it between two
/// polls (then told by the other event at the position).
#[test]
fn tail_follow_reads_a_topic_recreated_with_ids_started_again() {
    let s = Store::corpus("harn-file");
    let follow = Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "-n".as_ref(),
        "0".as_ref(),
        "--poll".as_ref(),
        "50ms".as_ref(),
        "-o".as_ref(),
        "envelope".as_ref(),
        s.root.as_os_str(),
    ]);
    std::thread::sleep(Duration::from_millis(400));
    fs::remove_file(topic_file(&s, INBOX)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    recreate_topic(&s, INBOX, 1..=3, 1000);
    follow.wait_for("a reset and 3 events", |out, _| out.lines().count() == 4);
    // Recreated again, and past the position (3) before the next poll.
    std::thread::sleep(Duration::from_millis(200));
    recreate_topic(&s, INBOX, 1..=10, 5000);
    follow.wait_for("a reset and 10 events", |out, _| out.lines().count() == 15);
    std::thread::sleep(Duration::from_millis(200));
    follow.signal("TERM");
    let (status, out, err) = follow.wait_exit();
    assert!(status.success(), "{err}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 15, "{out}");
    for (i, after, reason) in [(0, 96, "went-back"), (4, 3, "replaced")] {
        assert_eq!(lines[i]["type"], "reset", "{out}");
        assert_eq!(lines[i]["stream"], INBOX);
        assert_eq!(lines[i]["after"], after);
        assert_eq!(lines[i]["reason"], reason);
    }
    let ids = |r: std::ops::Range<usize>| -> Vec<u64> {
        lines[r]
            .iter()
            .map(|l| l["record"]["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(1..4), [1, 2, 3]);
    assert_eq!(ids(5..15), (1..=10).collect::<Vec<_>>());
    assert!(
        err.contains(&format!("stream {INBOX}")) && err.contains("below 96"),
        "{err}"
    );
}

/// A follow without --poll on `s` sees what `append` adds well within the
/// 5 s safety rescan: the watcher is on where the format's files change.
fn follow_wakes_on(s: &Store, append: impl FnOnce(), want_id: u64) {
    let follow = Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "-n".as_ref(),
        "1".as_ref(),
        "-o".as_ref(),
        "jsonl".as_ref(),
        s.root.as_os_str(),
    ]);
    follow.wait_first_read();
    let started = std::time::Instant::now();
    append();
    follow.wait_for("the append", |out, _| out.lines().count() == 2);
    let took = started.elapsed();
    follow.signal("TERM");
    let (status, out, err) = follow.wait_exit();
    assert!(status.success(), "{err}");
    let v: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(v["id"], want_id, "{out}");
    assert!(
        took < Duration::from_millis(1500),
        "woken by the watcher, not the 5 s rescan: {took:?}"
    );
}

#[test]
fn tail_follow_without_poll_wakes_on_a_topic_append_in_both_backends() {
    use std::io::Write as _;
    let s = Store::corpus("harn-file");
    let file = topic_file(&s, INBOX);
    follow_wakes_on(
        &s,
        || {
            let stored = fs::read_to_string(&file).unwrap();
            let next = stored
                .lines()
                .last()
                .unwrap()
                .replacen("{\"id\":96,", "{\"id\":97,", 1)
                + "\n";
            fs::OpenOptions::new()
                .append(true)
                .open(&file)
                .unwrap()
                .write_all(next.as_bytes())
                .unwrap();
        },
        97,
    );
    let s = Store::corpus("harn-sqlite");
    let db = s.root.join("events.sqlite");
    follow_wakes_on(
        &s,
        || {
            let conn = rusqlite::Connection::open(&db).unwrap();
            conn.execute(
                "INSERT INTO events (topic, event_id, kind, payload, headers, occurred_at_ms) \
                 SELECT topic, event_id + 1, kind, payload, headers, occurred_at_ms + 1 \
                 FROM events WHERE topic = ?1 ORDER BY event_id DESC LIMIT 1",
                [INBOX],
            )
            .unwrap();
            conn.execute(
                "UPDATE topic_heads SET last_id = last_id + 1 WHERE topic = ?1",
                [INBOX],
            )
            .unwrap();
        },
        97,
    );
}

/// Several journals followed at once: a topic recreated in one of them is a
/// reset of that source's stream (its own object, labelled), then its new
/// events; the other journal reads on.
#[test]
fn tail_follow_of_several_journals_resets_a_recreated_topic() {
    let a = Store::corpus("harn-file");
    let b = crate::sessions::Store::corpus("aios-sessions");
    let follow = Spawned::new(&[
        "tail".as_ref(),
        "-f".as_ref(),
        "-n".as_ref(),
        "1".as_ref(),
        "--poll".as_ref(),
        "50ms".as_ref(),
        "-o".as_ref(),
        "envelope".as_ref(),
        a.root.as_os_str(),
        b.root.as_os_str(),
    ]);
    follow.wait_first_read();
    fs::remove_file(topic_file(&a, INBOX)).unwrap();
    recreate_topic(&a, INBOX, 1..=2, 1000);
    follow.wait_for("a reset and 2 events", |out, _| out.lines().count() == 4);
    std::thread::sleep(Duration::from_millis(200));
    follow.signal("TERM");
    let (status, out, err) = follow.wait_exit();
    assert!(status.success(), "{err}");
    let lines: Vec<Value> = out
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0]["type"], "reset");
    assert_eq!(lines[0]["stream"], INBOX);
    assert_eq!(lines[0]["after"], 96);
    assert_eq!(lines[0]["source"], lines[1]["source"]);
    let ids: Vec<u64> = lines[1..]
        .iter()
        .map(|l| l["record"]["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2]);
    assert!(err.contains("below 96"), "{err}");
}

/// Rows whose columns are not the runtime's (a payload that is not JSON, a
/// time stored as text, a kind stored as a blob) are damage that keeps its
/// id: the rest of each topic is read; recover names the largest id stored
/// (a writer that continued from a lower one would collide with it); stats
/// counts the consumers' lag against it; verify reports each row once, with
/// no false gap, head mismatch or cursor beyond the head.
#[test]
fn sqlite_rows_of_other_column_types_are_damage_that_keeps_its_id() {
    let s = sqlite_corpus_after(
        "UPDATE events SET payload = X'7b7b' WHERE topic = 'triggers.inbox' AND event_id = 96;
         UPDATE events SET occurred_at_ms = 'soon'
           WHERE topic = 'agent.transcript.llm' AND event_id = 144;
         UPDATE events SET kind = X'00' WHERE topic = 'agent.transcript.llm' AND event_id = 100;",
    );
    let before = dir_state(&s.root);

    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(defect_kinds(&v), ["not-event-record"; 3], "{v}");
    assert_defects_say(
        &v,
        &[
            "events row (agent.transcript.llm, 100): kind is a blob, not text",
            "events row (agent.transcript.llm, 144): occurred_at_ms is text, not an integer",
            "events row (triggers.inbox, 96): payload or headers are not the runtime's JSON",
        ],
    );

    let (r, code) = s.json(&["recover", "--json"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(heads_of(&r), corpus_heads(), "{r}");
    assert!(!r.to_string().contains("head-mismatch"), "{r}");

    let (st, _) = s.json(&["stats", "--json"]);
    assert_eq!(st["events"], 240 - 3, "{st}");
    let inbox_worker = st["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["topic"] == INBOX)
        .unwrap();
    assert_eq!(inbox_worker["head"], 96, "{st}");

    let out = s
        .cmd(&["inspect", "--all", "-o", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        240 - 3
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 3 damaged"));
    assert_eq!(dir_state(&s.root), before, "a read changed the directory");
}

/// A `topic_heads` or `consumers` row whose columns are not the runtime's
/// is a defect of that topic or consumer: every command still answers for
/// the rest (they failed with SQLite's type error, exit 2).
#[test]
fn sqlite_head_and_cursor_rows_of_other_types_are_defects_not_failures() {
    let s = sqlite_corpus_after(
        "UPDATE topic_heads SET last_id = 'x' WHERE topic = 'triggers.inbox';
         UPDATE consumers SET cursor = 'y' WHERE topic = 'agent.transcript.llm';",
    );
    let before = dir_state(&s.root);
    let head_defect =
        "topic_heads row of topic triggers.inbox: last_id is the text \\\"x\\\", not an id";
    let cursor_defect =
        "consumers row (agent.transcript.llm, portal): cursor is the text \\\"y\\\"";

    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(defect_kinds(&v), ["not-event-record"; 2], "{v}");
    assert_defects_say(&v, &[head_defect, cursor_defect]);

    let (r, code) = s.json(&["recover", "--json"]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(heads_of(&r), corpus_heads(), "{r}");
    assert!(r.to_string().contains(head_defect), "{r}");
    assert!(!r.to_string().contains("head-mismatch"), "{r}");

    let (st, code) = s.json(&["stats", "--json"]);
    assert_eq!(code, 0, "{st}");
    let consumers: Vec<&str> = st["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["topic"].as_str().unwrap())
        .collect();
    assert_eq!(
        consumers,
        [INBOX],
        "the unreadable consumer is left out: {st}"
    );
    // Both rows counted, as verify counts them.
    assert_eq!(st["errors"], 2, "{st}");
    assert_eq!(dir_state(&s.root), before, "a read changed the directory");
}

/// Rows whose `event_id` is not an integer from 0 (text, a real, a blob:
/// SQLite's INTEGER affinity keeps what does not look like one; a negative
/// number) are damage of the
/// topic, found wherever SQLite sorts them, and every other row is still
/// read once in both directions; an event at id i64::MAX is read too (a
/// first page bounded by it left that event out).
#[test]
fn sqlite_ids_that_are_not_integers_are_damage_and_no_row_is_skipped() {
    let s = sqlite_corpus_after(
        "INSERT INTO events VALUES ('agent.transcript.llm', 'abc', 'x', X'7B7D', '{}', 1);
         INSERT INTO events VALUES ('triggers.inbox', 2.5, 'x', X'7B7D', '{}', 1);
         INSERT INTO events VALUES ('triggers.inbox', X'0102', 'x', X'7B7D', '{}', 1);
         INSERT INTO events VALUES ('triggers.inbox', -7, 'x', X'7B7D', '{}', 1);
         INSERT INTO events SELECT topic, 9223372036854775807, kind, payload, headers,
           occurred_at_ms FROM events WHERE topic = 'triggers.inbox' AND event_id = 96;",
    );
    let before = dir_state(&s.root);

    let (v, code) = s.json(&["verify", "--json"]);
    assert_eq!(code, 1, "{v}");
    assert_defects_say(
        &v,
        &[
            "events row of topic agent.transcript.llm: event_id is the text \\\"abc\\\", not an id",
            "events row of topic triggers.inbox: event_id is the real 2.5, not an id",
            "events row of topic triggers.inbox: event_id is a blob of 2 bytes, not an id",
            "events row of topic triggers.inbox: event_id is the negative integer -7, not an id",
        ],
    );

    let (r, code) = s.json(&["recover", "--json"]);
    assert_eq!(code, 0, "{r}");
    let mut heads = corpus_heads();
    heads.insert(INBOX.to_owned(), i64::MAX as u64);
    assert_eq!(heads_of(&r), heads, "{r}");

    // Every readable event once, newest first and oldest first.
    for order in [&[][..], &["--oldest-first"][..]] {
        let mut args = vec!["inspect", "--all", "-o", "jsonl"];
        args.extend_from_slice(order);
        let out = s.cmd(&args).output().unwrap();
        assert!(out.status.success(), "{order:?}");
        let mut ids: Vec<u64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        ids.sort_unstable();
        // Both topics' 1..=96, the LLM topic's 97..=144, and i64::MAX.
        let mut want: Vec<u64> = (1..=96).chain(1..=144).chain([i64::MAX as u64]).collect();
        want.sort_unstable();
        assert_eq!(ids, want, "{order:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("skipped 4 damaged"), "{order:?}: {stderr}");
    }
    assert_eq!(dir_state(&s.root), before, "a read changed the directory");
}
