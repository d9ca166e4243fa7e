//! `journal repair`: the damaged corpus in both modes, the claim, dry runs, a
//! property test (never a complete valid line removed; everything removed is
//! in quarantine byte for byte) and crash safety (a repair killed at any step
//! leaves each segment as before or as after, and loses nothing).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use predicates::prelude::*;
use proptest::prelude::*;
use serde_json::Value;

use crate::common::*;
use crate::damaged::*;

/// Segment name -> bytes.
type Segments = BTreeMap<String, Vec<u8>>;

fn segments_of(dir: &Path) -> Segments {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("events-") && n.ends_with(".jsonl"))
        .map(|n| (n.clone(), fs::read(dir.join(&n)).unwrap()))
        .collect()
}

/// Quarantine files per segment: offset -> bytes (identical duplicates merged).
fn quarantine_of(dir: &Path) -> BTreeMap<String, BTreeMap<u64, Vec<u8>>> {
    let mut out: BTreeMap<String, BTreeMap<u64, Vec<u8>>> = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("quarantine-") else {
            continue;
        };
        let (seg, rest) = rest.split_once("-at-").unwrap();
        let offset: u64 = rest.split('-').next().unwrap().parse().unwrap();
        let bytes = fs::read(dir.join(&name)).unwrap();
        let prev = out
            .entry(seg.to_owned())
            .or_default()
            .insert(offset, bytes.clone());
        if let Some(prev) = prev {
            assert_eq!(
                prev, bytes,
                "two different quarantines of {seg} at {offset}"
            );
        }
    }
    out
}

/// The `\n`-terminated lines of `bytes` that are valid records.
fn valid_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..i];
        let content = line.strip_suffix(b"\r").unwrap_or(line);
        if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(content)
            && m.get("seq").is_some_and(Value::is_u64)
        {
            out.push(line.to_vec());
        }
        rest = &rest[i + 1..];
    }
    out
}

/// No complete valid line of `before` is missing, and every segment that
/// changed can be rebuilt byte for byte from what is left and its quarantine.
fn assert_nothing_lost(before: &Segments, dir: &Path, what: &str) {
    let after = segments_of(dir);
    let quarantine = quarantine_of(dir);
    for (name, orig) in before {
        let now = after.get(name).cloned().unwrap_or_default();
        let mut kept = valid_lines(&now).into_iter();
        for line in valid_lines(orig) {
            assert!(
                kept.any(|k| k == line),
                "{what}: {name} lost a complete valid line: {}",
                String::from_utf8_lossy(&line)
            );
        }
        if after.get(name) == Some(orig) {
            continue;
        }
        let mut rebuilt = Vec::new();
        let mut pos = 0usize; // in `now`
        let mut orig_pos = 0u64;
        for (offset, bytes) in quarantine.get(name).into_iter().flatten() {
            let take = (offset - orig_pos) as usize;
            assert!(
                pos + take <= now.len(),
                "{what}: {name}: quarantine at {offset} does not fit"
            );
            rebuilt.extend_from_slice(&now[pos..pos + take]);
            pos += take;
            rebuilt.extend_from_slice(bytes);
            orig_pos = offset + bytes.len() as u64;
        }
        rebuilt.extend_from_slice(&now[pos..]);
        assert!(
            rebuilt == *orig,
            "{what}: {name} cannot be rebuilt from what is left and its quarantine"
        );
    }
    for name in after.keys() {
        assert!(before.contains_key(name), "{what}: repair created {name}");
    }
}

fn repair_json(j: &TestJournal, extra: &[&str]) -> (Value, i32) {
    let mut args = vec!["repair", "--json"];
    args.extend_from_slice(extra);
    let out = j.cmd(&args).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "repair --json printed no JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap())
}

#[test]
fn damaged_corpus_repairs_exactly_in_both_modes() {
    let mut failures = Vec::new();
    for (mode, extra) in [
        ("tail only", &[][..]),
        ("drop", &["--drop-corrupt-lines"][..]),
    ] {
        for case in corpus() {
            let j = &case.journal;
            let before = segments_of(&j.dir);
            let (verify_before, _) = verify_json(j, &[]);
            let (want_exit, want_after) = if extra.is_empty() {
                (case.repair_exit, &case.after_repair)
            } else {
                (case.drop_exit, &case.after_drop)
            };
            let (plan, _) = repair_json(j, &[extra, &["--dry-run"]].concat());
            assert_eq!(
                segments_of(&j.dir),
                before,
                "{}: dry run changed a segment",
                case.name
            );
            assert_eq!(plan["quarantine"], serde_json::json!([]));
            let (done, code) = repair_json(j, extra);
            assert_nothing_lost(&before, &j.dir, case.name);
            let (after, _) = verify_json(j, &[]);
            let got = kinds_of(&after);
            if code != want_exit || got != *want_after {
                failures.push(format!(
                    "{} ({mode}): want exit {want_exit} then {want_after:?}\n  got exit {code} then {got:?}",
                    case.name
                ));
                continue;
            }
            // The plan printed by the dry run is what was done.
            for key in [
                "tail",
                "rewrites",
                "removed_bytes",
                "refused_count",
                "max_seq_before",
            ] {
                assert_eq!(plan[key], done[key], "{} ({mode}): {key}", case.name);
            }
            assert_eq!(done["repaired"], want_exit == 0, "{}", case.name);
            // Gaps, repeats and mismatches are reported and left, never "fixed".
            let left: Vec<String> = done["left"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["kind"].as_str().unwrap().to_owned())
                .collect();
            let seq_kinds = |ks: &[String]| -> Vec<String> {
                ks.iter()
                    .filter(|k| k.starts_with("seq-") || *k == "name-mismatch")
                    .cloned()
                    .collect()
            };
            assert_eq!(
                seq_kinds(&left),
                seq_kinds(&kinds_of(&verify_before)),
                "{} ({mode}): left",
                case.name
            );
            // The max seq is unchanged and a second repair has nothing to do.
            let max_before = done["max_seq_before"].as_u64().unwrap();
            let recovered = stdout_of(&mut j.cmd(&["recover"]));
            assert_eq!(recovered, format!("{max_before}\n"), "{}", case.name);
            let (again, again_code) = repair_json(j, extra);
            assert_eq!(
                (again["removed_bytes"].as_u64(), again_code),
                (Some(0), want_exit),
                "{}",
                case.name
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn torn_engine_journal_is_cut_like_the_engine_does() {
    let j = TestJournal::corpus("bamboo-torn");
    let before = segments_of(&j.dir);
    let newest = "events-00000000000000000286.jsonl";
    let (v, code) = repair_json(&j, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        v["tail"]["truncate"],
        serde_json::json!({"segment": newest, "new_len": 7630, "removed": 279})
    );
    assert_eq!(v["tail"]["seq_hints"], serde_json::json!([301]));
    assert_eq!(
        (v["max_seq_before"].as_u64(), v["max_seq_after"].as_u64()),
        (Some(300), Some(300))
    );
    let q = v["quarantine"][0].as_str().unwrap();
    assert!(
        Path::new(q).starts_with(&j.dir)
            && Path::new(q)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("quarantine-{newest}-at-7630-")),
        "{q}"
    );
    assert_eq!(fs::read(q).unwrap(), before[newest][7630..]);
    assert_eq!(fs::metadata(j.path(newest)).unwrap().len(), 7630);
    let (after, code) = verify_json(&j, &["--strict"]);
    assert_eq!((code, after["summary"]["records"].as_u64()), (0, Some(300)));
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "300\n");
}

#[test]
fn human_report_says_what_was_removed_and_where_it_is() {
    let j = TestJournal::corpus("bamboo-torn");
    let out = stdout_of(&mut j.cmd(&["repair", "--dry-run"]));
    assert_eq!(
        out,
        format!(
            "plan (tail only) of {}:\n  would truncate events-00000000000000000286.jsonl to 7630 \
             bytes: 279 bytes after its last complete valid line, from byte 7630\n\
             max seq: 300 before, 300 after; the removed lines started with seq 301\n",
            j.dir.display()
        )
    );
    let out = stdout_of(&mut j.cmd(&["repair"]));
    assert!(
        out.contains("  truncated events-00000000000000000286.jsonl to 7630"),
        "{out}"
    );
    assert!(
        out.contains("quarantine (every removed byte):\n  "),
        "{out}"
    );
    assert_eq!(
        stdout_of(&mut j.cmd(&["repair"])),
        format!(
            "repair (tail only) of {}:\n  nothing to remove\nmax seq: 300 before, 300 after\n",
            j.dir.display()
        )
    );
}

#[test]
fn refused_damage_is_named_and_left_untouched() {
    let case = corpus()
        .into_iter()
        .find(|c| {
            c.name
                .starts_with("corrupt line in a closed segment and a torn tail")
        })
        .unwrap();
    let j = &case.journal;
    let closed = fs::read(j.path(&segment_name(11))).unwrap();
    let assert = j.cmd(&["repair"]).assert().code(1);
    let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(
        out.contains("refused (1): damage inside closed segments needs --drop-corrupt-lines")
            && out.contains(&format!(
                "  {}:3: byte {}: not-json:",
                segment_name(11),
                off(11..13)
            )),
        "{out}"
    );
    assert_eq!(fs::read(j.path(&segment_name(11))).unwrap(), closed);
    // The tail was cut all the same.
    assert_eq!(
        fs::metadata(j.path(&segment_name(21))).unwrap().len(),
        off(21..31)
    );
}

#[test]
fn a_held_claim_exits_3_naming_the_lock_and_changes_nothing() {
    let j = TestJournal::corpus("bamboo-torn");
    let before = j.snapshot();
    let _claim = journal::claim::Claim::acquire(&j.dir, Duration::ZERO).unwrap();
    j.cmd(&["repair", "--wait", "200ms"])
        .assert()
        .code(3)
        .stdout("")
        .stderr(
            predicate::str::contains(".account-journal.lock")
                .and(predicate::str::contains("held by another process")),
        );
    assert_eq!(j.snapshot(), before);
}

#[test]
fn dry_run_without_a_lock_file_creates_nothing() {
    let j = TestJournal::new();
    j.append_events(1..=5, 10);
    j.append_raw(&segment_name(1), b"{\"seq\":6");
    let before = j.snapshot();
    let (v, code) = repair_json(&j, &["--dry-run"]);
    assert_eq!(code, 0);
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["removed_bytes"], 8);
    assert_eq!(j.snapshot(), before);
    assert!(!j.path(".account-journal.lock").exists());
}

#[test]
fn repair_refuses_a_directory_that_is_not_a_journal() {
    let j = TestJournal::new();
    j.write("notes.txt", b"x");
    j.cmd(&["repair"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a journal"));
    assert!(!j.path(".account-journal.lock").exists());
}

/// A journal damaged so that a drop-corrupt repair takes 8 durable steps,
/// each on a different segment.
fn crash_journal() -> TestJournal {
    let j = TestJournal::with_events(40, 10);
    let with_bad_line = |start: u64, bad: &[u8]| {
        let mut body = lines(start..=start + 4).into_bytes();
        body.extend_from_slice(bad);
        body.extend(lines(start + 6..=start + 9).into_bytes());
        j.write(&segment_name(start), &body);
    };
    with_bad_line(1, b"not json\n");
    with_bad_line(11, b"\0\0\0\0\n");
    j.append_raw(&segment_name(21), b"{\"seq\":31,\"ts\"");
    j.append_raw(&segment_name(31), b"{\"seq\":41,\"ts\":\"2026");
    j.write(&segment_name(41), b"{\"seq\":42");
    j
}

#[test]
fn a_repair_killed_after_any_step_loses_nothing() {
    let reference = crash_journal();
    let original = segments_of(&reference.dir);
    let (done, code) = repair_json(&reference, &["--drop-corrupt-lines"]);
    assert_eq!(code, 0, "{done}");
    let fin = segments_of(&reference.dir);
    let steps = 8;
    for k in 1..=steps + 1 {
        let j = crash_journal();
        let out = j
            .cmd(&["repair", "--drop-corrupt-lines"])
            .env("JOURNAL_REPAIR_TEST_ABORT_AFTER", k.to_string())
            .output()
            .unwrap();
        assert_eq!(
            out.status.success(),
            k > steps,
            "step {k}: {:?}",
            out.status
        );
        check_before_or_after(&original, &fin, &j.dir, &format!("abort after step {k}"));
        j.cmd(&["repair", "--drop-corrupt-lines"]).assert().code(0);
        assert_eq!(
            segments_of(&j.dir),
            fin,
            "step {k}: a second repair finishes the job"
        );
        assert_nothing_lost(&original, &j.dir, &format!("step {k}, finished"));
    }
}

#[test]
fn a_repair_killed_at_random_moments_loses_nothing() {
    let reference = crash_journal();
    let original = segments_of(&reference.dir);
    repair_json(&reference, &["--drop-corrupt-lines"]);
    let fin = segments_of(&reference.dir);
    // How long a whole repair runs, from main's start to its exit: the kills
    // are spread over that time.
    let run_us = {
        let j = crash_journal();
        let started = j.tmp.path().join("started");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("journal"))
            .args(["repair", "--drop-corrupt-lines"])
            .arg(&j.dir)
            .env("JOURNAL_TEST_STARTED_FILE", &started)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        while !started.exists() {
            std::thread::sleep(Duration::from_micros(50));
        }
        let t0 = std::time::Instant::now();
        child.wait().unwrap();
        t0.elapsed().as_micros() as u64
    };
    let delays: Vec<u64> = (0..12).map(|i| run_us * i / 12).collect();
    // Kills that found the repair running after main had started, and kills
    // that left it half done (some segments as before, some as after).
    let (mut inside, mut half_done) = (0, 0);
    for &delay_us in &delays {
        let j = crash_journal();
        let started = j.tmp.path().join("started");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("journal"))
            .args(["repair", "--drop-corrupt-lines"])
            .arg(&j.dir)
            .env("JOURNAL_TEST_STARTED_FILE", &started)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The delay counts from main's start, not from the spawn (a kill in
        // the first microseconds would land before main and prove nothing).
        let t0 = std::time::Instant::now();
        while !started.exists() && t0.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_micros(50));
        }
        assert!(started.exists(), "the repair never started");
        std::thread::sleep(Duration::from_micros(delay_us));
        if child.try_wait().unwrap().is_none() {
            inside += 1;
        }
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        let now = segments_of(&j.dir);
        if now != original && now != fin {
            half_done += 1;
        }
        check_before_or_after(
            &original,
            &fin,
            &j.dir,
            &format!("killed {delay_us}µs after main started"),
        );
    }
    assert!(
        inside >= delays.len() / 2,
        "only {inside} of {} kills landed while the repair ran",
        delays.len()
    );
    assert!(half_done >= 1, "no kill left the repair half done");
    eprintln!(
        "repair kills: {inside} of {} inside the run ({run_us}µs), {half_done} half done",
        delays.len()
    );
}

/// Each segment is as before or as after, and those done are rebuildable
/// from quarantine.
fn check_before_or_after(original: &Segments, fin: &Segments, dir: &Path, what: &str) {
    let now = segments_of(dir);
    for (name, orig) in original {
        let state = now.get(name);
        assert!(
            state == Some(orig) || state == fin.get(name),
            "{what}: {name} is neither as before nor as after"
        );
    }
    assert_nothing_lost(original, dir, what);
}

#[derive(Debug, Clone)]
enum Damage {
    /// Cut the segment holding byte `at` (of the whole journal) there.
    Cut,
    /// Overwrite one byte.
    Byte(u8),
    /// Insert a run of NULs.
    Nuls(usize),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn repair_never_removes_a_valid_line_and_quarantines_every_byte(
        events in 3u64..40,
        per_segment in 2u64..12,
        at in 0.0f64..1.0,
        damage in prop_oneof![
            Just(Damage::Cut),
            prop_oneof![Just(0u8), Just(b'\n'), Just(0xff), Just(b'x'), Just(b'{'), Just(b'"')].prop_map(Damage::Byte),
            (1usize..200).prop_map(Damage::Nuls),
        ],
    ) {
        let j = TestJournal::with_events(events, per_segment);
        let segs = segments_of(&j.dir);
        let total: u64 = segs.values().map(|b| b.len() as u64).sum();
        let mut pos = (at * total as f64) as u64;
        for (name, bytes) in &segs {
            if pos < bytes.len() as u64 {
                let mut b = bytes.clone();
                let p = pos as usize;
                match &damage {
                    Damage::Cut => b.truncate(p),
                    Damage::Byte(x) => b[p] = *x,
                    Damage::Nuls(n) => { b.splice(p..p, std::iter::repeat_n(0u8, *n)); }
                }
                j.write(name, &b);
                break;
            }
            pos -= bytes.len() as u64;
        }
        let damaged = segments_of(&j.dir);
        let (_, code) = repair_json(&j, &[]);
        prop_assert!(code == 0 || code == 1, "exit {code}");
        assert_nothing_lost(&damaged, &j.dir, "tail only");
        let (_, code) = repair_json(&j, &["--drop-corrupt-lines"]);
        prop_assert_eq!(code, 0);
        assert_nothing_lost(&damaged, &j.dir, "drop corrupt");
        let (after, _) = verify_json(&j, &[]);
        for kind in kinds_of(&after) {
            prop_assert!(
                kind.starts_with("seq-") || kind.starts_with("engine-") || kind == "name-mismatch",
                "line damage left after --drop-corrupt-lines: {kind}"
            );
        }
    }
}

/// Issue 16 item 7: no segment holds a valid line. Deleting them all would
/// let the next writer start at seq 1; repair keeps the floor instead (the
/// newest segment emptied, its bytes in quarantine), so `recover` still says
/// 599 and the next append is seq 600. The report's "599 after" is true.
#[test]
fn repair_keeps_the_seq_floor_when_no_segment_holds_a_valid_line() {
    let j = TestJournal::new();
    j.touch_lock();
    j.write(&segment_name(500), b"garbage\n");
    j.write(&segment_name(600), b"xx");
    let (v, code) = repair_json(&j, &[]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["max_seq_before"], 599, "{v:#}");
    assert_eq!(v["max_seq_after"], 599, "{v:#}");
    assert_eq!(j.segments(), vec![segment_name(600)]);
    assert_eq!(fs::read(j.path(&segment_name(600))).unwrap(), b"");
    let q = quarantine_of(&j.dir);
    assert_eq!(q.len(), 2, "{q:?}");
    assert_eq!(stdout_of(&mut j.cmd(&["recover"])), "599\n");
    j.cmd(&["verify"]).assert().code(0);
    append_cmd(&j.dir, &[], "{\"type\":\"error\",\"message\":\"x\"}\n")
        .assert()
        .success()
        .stdout("600..600\n");
    // Run again: nothing left to do.
    let (v, code) = repair_json(&j, &[]);
    assert_eq!(code, 0, "{v:#}");
}

/// Issue 16 item 12: a refusal about an entry that is not a regular file
/// does not tell the user to add the --drop-corrupt-lines they already gave.
#[test]
fn a_refusal_names_only_the_reasons_that_apply() {
    let j = TestJournal::with_events(30, 10);
    fs::create_dir(j.path(&segment_name(15))).unwrap();
    let out = j.cmd(&["repair", "--drop-corrupt-lines"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("refused (1): entries that are not regular files are never touched"),
        "{text}"
    );
    assert!(!text.contains("needs --drop-corrupt-lines"), "{text}");
}

/// Issue 13 item 21: a closed segment whose only lines are damaged ones and
/// blank ones is deleted whole (every byte quarantined), not left behind as
/// a segment of blank lines that verify would not mention.
#[test]
fn a_segment_of_damage_and_blank_lines_goes_whole() {
    for content in [&b"garbage\n\n"[..], b"\ngarbage\n", b"\n\n"] {
        let j = TestJournal::new();
        j.touch_lock();
        j.write(&segment_name(1), content);
        j.write(&segment_name(5), format!("{}\n", event_line(5)).as_bytes());
        // Blank lines only are as wrong as an empty closed segment.
        let verify = j.cmd(&["verify"]).output().unwrap();
        assert_eq!(verify.status.code(), Some(1), "{content:?}");
        let (v, code) = repair_json(&j, &["--drop-corrupt-lines"]);
        assert_eq!(code, 0, "{content:?}: {v:#}");
        assert_eq!(j.segments(), vec![segment_name(5)], "{content:?}");
        let q = quarantine_of(&j.dir);
        let want = BTreeMap::from([(0, content.to_vec())]);
        assert_eq!(q.get(&segment_name(1)), Some(&want), "{content:?}: {q:?}");
        j.cmd(&["verify"]).assert().code(0);
    }
}
