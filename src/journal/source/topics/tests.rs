//! The per-topic log's readers on copies of the corpus logs the runtime's own
//! crate wrote (`tests/corpus/harn-*`), and on damaged copies of them.

use std::collections::BTreeMap;
use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::*;
use crate::journal::defect::DefectKind;
use crate::journal::record::Record;
use crate::journal::source::reader::RecordFilter;

const LLM: &str = "agent.transcript.llm";
const INBOX: &str = "triggers.inbox";
const LLM_LAST: &str = "sha256:ea138168b285e66e772e5e4c00be1dc1d5e20011c9194e1040e4c5a745031a53";
const INBOX_LAST: &str = "sha256:4a28028ec05cda0b278672019da85d5812aadeaa06dfc9984658775059619653";

struct All;
impl RecordFilter for All {
    fn matches(&self, _: &Record<'_>) -> bool {
        true
    }
}

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name)
}

/// A writable copy of a corpus log in a temp dir.
fn copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    fn walk(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for e in fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let dst = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &dst);
            } else {
                fs::write(&dst, fs::read(e.path()).unwrap()).unwrap();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join(name);
    walk(&corpus(name), &root);
    (tmp, root)
}

fn jsonl(root: &Path) -> TopicLog {
    TopicLog::jsonl(root, Vec::new()).unwrap()
}

fn sqlite(root: &Path) -> TopicLog {
    TopicLog::sqlite(root, Vec::new()).unwrap()
}

fn records(log: &TopicLog, direction: Direction) -> (Vec<(Position, Vec<u8>)>, Vec<Defect>) {
    let mut out = Vec::new();
    let mut damage = Vec::new();
    log.visit(&All, direction, &mut |item| {
        match item {
            Item::Record {
                position, stored, ..
            } => out.push((position, stored.to_vec())),
            Item::Damage(d) => damage.push(d),
            Item::Restart { .. } => panic!("visit restarts no stream"),
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    (out, damage)
}

fn head_ids(heads: &Heads) -> BTreeMap<String, u64> {
    heads
        .streams
        .iter()
        .map(|s| {
            (
                s.stream.clone(),
                s.position.as_ref().map_or(0, Position::number),
            )
        })
        .collect()
}

fn expected_heads() -> BTreeMap<String, u64> {
    BTreeMap::from([(LLM.to_owned(), 144), (INBOX.to_owned(), 96)])
}

fn last_hashes(v: &FamilyVerify) -> BTreeMap<String, String> {
    v.checked
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.extra["last_hash"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn kinds(defects: &[Defect]) -> Vec<DefectKind> {
    defects.iter().map(|d| d.kind).collect()
}

#[test]
fn both_backends_answer_the_corpus_heads() {
    let (_t, root) = copy("harn-file");
    let heads = jsonl(&root).heads().unwrap();
    assert_eq!(head_ids(&heads), expected_heads());
    assert!(heads.problems.is_empty(), "{:?}", heads.problems);
    let (_t2, db) = copy("harn-sqlite");
    let heads = sqlite(&db).heads().unwrap();
    assert_eq!(head_ids(&heads), expected_heads());
    assert!(heads.problems.is_empty(), "{:?}", heads.problems);
    assert_eq!(heads.streams[0].extra["topic_heads_last_id"], 144);
}

#[test]
fn both_backends_recompute_the_runtimes_last_hashes() {
    let expected = BTreeMap::from([
        (LLM.to_owned(), LLM_LAST.to_owned()),
        (INBOX.to_owned(), INBOX_LAST.to_owned()),
    ]);
    for log in [jsonl(&copy("harn-file").1), sqlite(&copy("harn-sqlite").1)] {
        let v = log.verify(&FamilyVerifyOptions::default()).unwrap();
        assert!(v.defects.is_empty(), "{:?}", v.defects);
        assert_eq!(v.records, 240);
        assert_eq!(last_hashes(&v), expected);
    }
}

#[test]
fn stats_shows_every_consumers_lag() {
    let (_t, root) = copy("harn-file");
    let (_t2, db) = copy("harn-sqlite");
    for log in [jsonl(&root), sqlite(&db)] {
        let s = log.stats().unwrap();
        assert_eq!(s.events, 240);
        assert_eq!(s.streams.len(), 2);
        let lag: Vec<(String, String, u64, u64, u64)> = s
            .consumers
            .iter()
            .map(|c| {
                (
                    c.topic.clone(),
                    c.consumer.clone(),
                    c.cursor,
                    c.head,
                    c.lag_events,
                )
            })
            .collect();
        assert_eq!(
            lag,
            vec![
                (LLM.to_owned(), "portal".to_owned(), 139, 144, 5),
                (
                    INBOX.to_owned(),
                    "worker/1 (retention)".to_owned(),
                    96,
                    96,
                    0
                ),
            ]
        );
        let portal = &s.consumers[0];
        assert!(portal.lag_ms.is_some_and(|ms| ms > 0), "{portal:?}");
        assert_eq!(s.consumers[1].lag_ms, Some(0));
        assert!(portal.updated_at_ms.is_some());
    }
}

#[test]
fn both_backends_hand_out_the_same_records_newest_first_by_time() {
    let (_t, root) = copy("harn-file");
    let (_t2, db) = copy("harn-sqlite");
    for direction in [Direction::NewestFirst, Direction::OldestFirst] {
        let (a, da) = records(&jsonl(&root), direction);
        let (b, db_damage) = records(&sqlite(&db), direction);
        assert!(da.is_empty() && db_damage.is_empty());
        assert_eq!(a.len(), 240);
        assert_eq!(a, b, "the backends differ ({direction:?})");
    }
    let (newest, _) = records(&jsonl(&root), Direction::NewestFirst);
    let times: Vec<i64> = newest
        .iter()
        .map(|(_, raw)| parse_event(raw).unwrap().occurred_at_ms)
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "not newest first");
    // Every stored line is the topic file's line, byte for byte.
    let file = fs::read(root.join("topics").join(format!("{INBOX}.jsonl"))).unwrap();
    let last = file[..file.len() - 1]
        .rsplit(|&b| b == b'\n')
        .next()
        .unwrap();
    let (pos, raw) = newest
        .iter()
        .find(|(p, _)| p.cursor_stream() == INBOX)
        .unwrap();
    assert_eq!(pos.number(), 96);
    assert_eq!(raw.as_slice(), last);
}

#[test]
fn a_topic_filter_keeps_only_its_topics() {
    let (_t, root) = copy("harn-file");
    let log = TopicLog::jsonl(&root, vec![INBOX.to_owned()]).unwrap();
    let (recs, _) = records(&log, Direction::NewestFirst);
    assert_eq!(recs.len(), 96);
    assert!(recs.iter().all(|(p, _)| p.cursor_stream() == INBOX));
}

fn rewrite_line(path: &Path, id: u64, f: impl FnOnce(&[u8]) -> Option<Vec<u8>>) {
    let bytes = fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut f = Some(f);
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if parse_event(line.strip_suffix(b"\n").unwrap_or(line)).is_ok_and(|h| h.id == id) {
            if let Some(new) = (f.take().unwrap())(line) {
                out.extend_from_slice(&new);
            }
        } else {
            out.extend_from_slice(line);
        }
    }
    fs::write(path, out).unwrap();
}

#[test]
fn a_changed_payload_byte_breaks_the_chain_at_exactly_that_event() {
    let (_t, root) = copy("harn-file");
    let path = root.join("topics").join(format!("{INBOX}.jsonl"));
    rewrite_line(&path, 40, |line| {
        let at = memchr::memmem::find(line, b"\"payload\":{").unwrap() + 13;
        let mut l = line.to_vec();
        l[at] = if l[at] == b'a' { b'b' } else { b'a' };
        Some(l)
    });
    let v = jsonl(&root)
        .verify(&FamilyVerifyOptions::default())
        .unwrap();
    assert_eq!(
        kinds(&v.defects),
        vec![DefectKind::ChainHash],
        "{:?}",
        v.defects
    );
    assert_eq!(v.defects[0].seq_after, Some(40));
    assert_eq!(v.defects[0].line, Some(40));
    assert!(
        v.defects[0].detail.contains("id 40"),
        "{}",
        v.defects[0].detail
    );
}

#[test]
fn an_event_removed_from_the_middle_fails_the_link_after_it() {
    let (_t, root) = copy("harn-file");
    let path = root.join("topics").join(format!("{LLM}.jsonl"));
    rewrite_line(&path, 70, |_| None);
    let v = jsonl(&root)
        .verify(&FamilyVerifyOptions::default())
        .unwrap();
    assert_eq!(
        kinds(&v.defects),
        vec![DefectKind::SeqGap, DefectKind::ChainLink],
        "{:?}",
        v.defects
    );
    assert!(v.defects.iter().all(|d| d.seq_after == Some(71)));
    assert!(
        v.defects[1].detail.contains("id 69"),
        "{}",
        v.defects[1].detail
    );
}

#[test]
fn a_compacted_prefix_is_a_note_not_an_error() {
    let (_t, root) = copy("harn-file");
    let path = root.join("topics").join(format!("{INBOX}.jsonl"));
    for id in 1..=10 {
        rewrite_line(&path, id, |_| None);
    }
    let v = jsonl(&root)
        .verify(&FamilyVerifyOptions::default())
        .unwrap();
    assert!(v.defects.is_empty(), "{:?}", v.defects);
    assert_eq!(v.notes.len(), 1);
    assert_eq!(v.notes[0].kind, "compaction-gap");
    assert!(
        v.notes[0].detail.contains("1..=10"),
        "{}",
        v.notes[0].detail
    );
}

#[test]
fn a_torn_tail_is_a_warning_and_repair_cuts_it_to_quarantine() {
    let (_t, root) = copy("harn-file");
    let path = root.join("topics").join(format!("{INBOX}.jsonl"));
    let good = fs::read(&path).unwrap();
    let mut torn = good.clone();
    torn.extend_from_slice(b"{\"id\":97,\"event\":{\"kind\":\"tri");
    fs::write(&path, &torn).unwrap();
    let log = jsonl(&root);
    let v = log.verify(&FamilyVerifyOptions::default()).unwrap();
    assert_eq!(kinds(&v.defects), vec![DefectKind::TornTail]);
    assert_eq!(v.defects[0].severity, Severity::Warning);
    assert_eq!(v.defects[0].offset, good.len() as u64);
    assert_eq!(head_ids(&log.heads().unwrap())[INBOX], 96);
    let dry = log
        .repair(&FamilyRepairOptions {
            dry_run: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(fs::read(&path).unwrap(), torn, "a dry run changes nothing");
    let done = log.repair(&FamilyRepairOptions::default()).unwrap();
    assert_eq!(dry.steps.len(), 1);
    assert_eq!(done.steps[0].action, "cut-torn-tail");
    assert_eq!(
        (dry.steps[0].offset, dry.steps[0].len),
        (done.steps[0].offset, done.steps[0].len)
    );
    assert!(done.left.is_empty(), "{:?}", done.left);
    assert_eq!(fs::read(&path).unwrap(), good);
    let q = done.steps[0].quarantine.as_ref().unwrap();
    assert_eq!(fs::read(q).unwrap(), &torn[good.len()..]);
}

#[test]
fn the_glued_probe_topic_is_unglued_keeping_event_4_with_its_chain() {
    let (_t, root) = copy("harn-crashed");
    let log = jsonl(&root);
    let v = log.verify(&FamilyVerifyOptions::default()).unwrap();
    assert_eq!(
        kinds(&v.defects),
        vec![DefectKind::GluedLine],
        "{:?}",
        v.defects
    );
    let d = &v.defects[0];
    assert_eq!((d.line, d.offset, d.len), (Some(4), 954, 27 + 382 - 27));
    assert!(d.detail.contains("probe.topic id 4"), "{}", d.detail);
    let heads = head_ids(&log.heads().unwrap());
    assert_eq!(
        heads,
        BTreeMap::from([
            (LLM.to_owned(), 74),
            ("probe.topic".to_owned(), 4),
            (INBOX.to_owned(), 46)
        ])
    );
    let path = root.join("topics/probe.topic.jsonl");
    let before = fs::read(&path).unwrap();
    let done = log.repair(&FamilyRepairOptions::default()).unwrap();
    assert_eq!(done.steps.len(), 1, "{:?}", done.steps);
    let step = &done.steps[0];
    assert_eq!(step.action, "unglue");
    assert_eq!((step.offset, step.len), (954, 27));
    assert_eq!(
        step.kept,
        Some(Position::Topic {
            topic: "probe.topic".to_owned(),
            id: 4
        })
    );
    assert_eq!(
        fs::read(step.quarantine.as_ref().unwrap()).unwrap(),
        b"{\"id\":4,\"event\":{\"kind\":\"to"
    );
    let after = fs::read(&path).unwrap();
    assert_eq!(after.len(), before.len() - 27);
    for line in after.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        parse_event(line).unwrap();
    }
    let v = log.verify(&FamilyVerifyOptions::default()).unwrap();
    assert!(v.defects.is_empty(), "{:?}", v.defects);
    assert_eq!(
        v.checked
            .iter()
            .find(|c| c.name == "probe.topic")
            .unwrap()
            .extra["head"],
        4
    );
}

#[test]
fn repair_waits_for_the_runtimes_topic_lock_then_gives_up() {
    let (_t, root) = copy("harn-crashed");
    let log = jsonl(&root);
    let held = fs::File::open(root.join("locks/probe.topic.lock")).unwrap();
    held.lock().unwrap();
    let err = log
        .repair(&FamilyRepairOptions {
            wait: Some(std::time::Duration::from_millis(50)),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        matches!(&err, JournalError::ClaimHeld { path, .. } if path.ends_with("locks/probe.topic.lock")),
        "{err}"
    );
    // Nothing changed.
    assert_eq!(
        fs::read(root.join("topics/probe.topic.jsonl")).unwrap(),
        fs::read(corpus("harn-crashed").join("topics/probe.topic.jsonl")).unwrap()
    );
}

#[test]
fn a_consumer_cursor_past_the_head_is_an_error() {
    let (_t, root) = copy("harn-file");
    let file = root.join("consumers/triggers.inbox__worker_1__retention_.json");
    let text = fs::read_to_string(&file)
        .unwrap()
        .replace("\"cursor\": 96", "\"cursor\": 120");
    fs::write(&file, text).unwrap();
    let v = jsonl(&root)
        .verify(&FamilyVerifyOptions::default())
        .unwrap();
    assert_eq!(kinds(&v.defects), vec![DefectKind::CursorBeyondHead]);
    assert_eq!(v.defects[0].segment, file);
    assert!(v.defects[0].detail.contains("worker/1 (retention)"));
    assert!(
        v.defects[0].detail.contains("97..=120"),
        "{}",
        v.defects[0].detail
    );
}

fn write_db(db: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn a_lagging_topic_heads_row_is_a_problem_for_recover_and_verify() {
    let (_t, dir) = copy("harn-sqlite");
    let db = dir.join("events.sqlite");
    write_db(
        &db,
        "UPDATE topic_heads SET last_id = 140 WHERE topic = 'agent.transcript.llm'",
    );
    let log = sqlite(&dir);
    let heads = log.heads().unwrap();
    assert_eq!(
        head_ids(&heads)[LLM],
        144,
        "the head is the largest event_id"
    );
    assert_eq!(kinds(&heads.problems), vec![DefectKind::HeadMismatch]);
    assert!(heads.problems[0].detail.contains("next event 141"));
    let v = log.verify(&FamilyVerifyOptions::default()).unwrap();
    assert_eq!(kinds(&v.defects), vec![DefectKind::HeadMismatch]);
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

#[test]
fn reading_a_copy_of_the_sqlite_directory_leaves_it_byte_identical() {
    let (_t, dir) = copy("harn-sqlite");
    let before = snapshot(&dir);
    let log = sqlite(&dir);
    log.heads().unwrap();
    log.stats().unwrap();
    log.verify(&FamilyVerifyOptions::default()).unwrap();
    records(&log, Direction::NewestFirst);
    log.visit_after(&Positions::new(), &All, &mut |_| ControlFlow::Continue(()))
        .unwrap();
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn a_wal_without_its_shm_is_read_from_a_private_copy() {
    let (_t, dir) = copy("harn-sqlite");
    let db = dir.join("events.sqlite");
    // A WAL holding one more event, and no -shm (as a copy taken while the
    // runtime ran might be).
    let wal_dir = tempfile::tempdir().unwrap();
    let live = wal_dir.path().join("events.sqlite");
    fs::copy(&db, &live).unwrap();
    let conn = rusqlite::Connection::open(&live).unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute_batch(
        "INSERT INTO events SELECT topic, 97, kind, payload, headers, occurred_at_ms + 1 \
         FROM events WHERE topic = 'triggers.inbox' AND event_id = 96; \
         UPDATE topic_heads SET last_id = 97 WHERE topic = 'triggers.inbox';",
    )
    .unwrap();
    fs::copy(
        live.with_extension("sqlite-wal"),
        dir.join("events.sqlite-wal"),
    )
    .unwrap();
    drop(conn);
    let before = snapshot(&dir);
    let heads = sqlite(&dir).heads().unwrap();
    assert_eq!(head_ids(&heads)[INBOX], 97, "the WAL's event is read");
    assert_eq!(snapshot(&dir), before, "no -shm left beside the original");
}

#[test]
fn a_wal_and_shm_no_process_holds_are_read_from_a_private_copy() {
    let (_t, dir) = copy("harn-sqlite");
    let db = dir.join("events.sqlite");
    // A copy of a live runtime's three files (or a runtime that crashed):
    // a -wal with one more event and its -shm, held by no process. An
    // ordinary read-only open would rebuild the -shm in place.
    let live_dir = tempfile::tempdir().unwrap();
    let live = live_dir.path().join("events.sqlite");
    fs::copy(&db, &live).unwrap();
    let conn = rusqlite::Connection::open(&live).unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute_batch(
        "INSERT INTO events SELECT topic, 97, kind, payload, headers, occurred_at_ms + 1 \
         FROM events WHERE topic = 'triggers.inbox' AND event_id = 96; \
         UPDATE topic_heads SET last_id = 97 WHERE topic = 'triggers.inbox';",
    )
    .unwrap();
    for suffix in ["sqlite-wal", "sqlite-shm"] {
        fs::copy(live.with_extension(suffix), db.with_extension(suffix)).unwrap();
    }
    drop(conn);
    let before = snapshot(&dir);
    let heads = sqlite(&dir).heads().unwrap();
    assert_eq!(head_ids(&heads)[INBOX], 97, "the WAL's event is read");
    assert_eq!(snapshot(&dir), before, "-wal and -shm byte-identical");
}

#[test]
fn a_live_databases_wal_and_shm_are_shared_not_removed() {
    let (_t, dir) = copy("harn-sqlite");
    let db = dir.join("events.sqlite");
    let runtime = rusqlite::Connection::open(&db).unwrap();
    runtime
        .pragma_update(None, "wal_autocheckpoint", 0)
        .unwrap();
    runtime
        .execute_batch("UPDATE topic_heads SET last_id = 96 WHERE topic = 'triggers.inbox'")
        .unwrap();
    assert!(dir.join("events.sqlite-wal").exists());
    assert!(dir.join("events.sqlite-shm").exists());
    let names = |d: &Path| {
        let mut n: Vec<_> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        n.sort();
        n
    };
    let before = names(&dir);
    let wal = fs::read(dir.join("events.sqlite-wal")).unwrap();
    let heads = sqlite(&dir).heads().unwrap();
    assert_eq!(head_ids(&heads), expected_heads());
    assert_eq!(names(&dir), before);
    assert_eq!(fs::read(dir.join("events.sqlite-wal")).unwrap(), wal);
    // The runtime still writes and checkpoints: no reader holds it up.
    runtime
        .execute_batch("PRAGMA wal_checkpoint(FULL)")
        .unwrap();
}

#[test]
fn sqlite_repair_is_left_to_sqlite() {
    let (_t, dir) = copy("harn-sqlite");
    let err = sqlite(&dir)
        .repair(&FamilyRepairOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("left to SQLite"), "{err}");
}

#[test]
fn follow_reads_what_is_new_per_topic_and_topics_that_appear_later() {
    let (_t, root) = copy("harn-file");
    let log = jsonl(&root);
    let mut after = Positions::new();
    let mut seen = Vec::new();
    let poll = |after: &mut Positions| {
        let mut got = Vec::new();
        log.visit_after(after, &All, &mut |item| {
            if let Item::Record { position, .. } = item {
                got.push(position);
            }
            ControlFlow::Continue(())
        })
        .unwrap();
        for p in &got {
            after.insert(p.cursor_stream(), p.number());
        }
        got
    };
    assert_eq!(poll(&mut after).len(), 240);
    assert!(poll(&mut after).is_empty());
    // Two appends (one torn mid-write) and a new topic.
    let inbox = root.join("topics").join(format!("{INBOX}.jsonl"));
    let mut bytes = fs::read(&inbox).unwrap();
    let last = bytes[..bytes.len() - 1]
        .rsplit(|&b| b == b'\n')
        .next()
        .unwrap()
        .to_vec();
    let next = String::from_utf8(last)
        .unwrap()
        .replacen("{\"id\":96,", "{\"id\":97,", 1);
    bytes.extend_from_slice(next.as_bytes());
    bytes.extend_from_slice(b"\n{\"id\":98,\"ev");
    fs::write(&inbox, bytes).unwrap();
    fs::write(
        root.join("topics/new.topic.jsonl"),
        "{\"id\":1,\"event\":{\"kind\":\"k\",\"payload\":{},\"headers\":{},\"occurred_at_ms\":1}}\n",
    )
    .unwrap();
    seen.extend(poll(&mut after));
    assert_eq!(
        seen,
        vec![
            Position::Topic {
                topic: "new.topic".to_owned(),
                id: 1
            },
            Position::Topic {
                topic: INBOX.to_owned(),
                id: 97
            },
        ]
    );
}

#[test]
fn a_busy_database_is_retried_for_a_bounded_time_then_said_plainly() {
    let (_t, dir) = copy("harn-sqlite");
    let db = dir.join("events.sqlite");
    // A runtime holding the database exclusively (WAL in exclusive locking
    // mode, with its -wal and -shm beside it, as a live one has).
    let runtime = rusqlite::Connection::open(&db).unwrap();
    fs::write(dir.join("events.sqlite-shm"), b"").unwrap();
    runtime
        .pragma_update(None, "locking_mode", "EXCLUSIVE")
        .unwrap();
    runtime
        .execute_batch(
            "BEGIN EXCLUSIVE; UPDATE topic_heads SET last_id = 96 WHERE topic = 'triggers.inbox';",
        )
        .unwrap();
    assert!(dir.join("events.sqlite-wal").exists());
    let mut log = sqlite(&dir);
    log.set_busy_wait(std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = log.heads().unwrap_err().to_string();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(err.contains("busy") && err.contains("try again"), "{err}");
    assert!(err.contains("events.sqlite"), "{err}");
    runtime.execute_batch("COMMIT").unwrap();
}
