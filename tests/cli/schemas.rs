//! Every `--json` report: one line of JSON on stdout, naming its schema and
//! version, with its key fields; and every schema named in `--help`.

use serde_json::Value;

use crate::common::*;

const TORN: &[u8] = b"{\"seq\":11,\"ts\":";

/// Events 1..=10 in segments of 4 (1, 5, 9), the newest ending in a torn line.
fn torn_journal() -> TestJournal {
    let j = TestJournal::with_events(10, 4);
    j.append_raw(&segment_name(9), TORN);
    j
}

/// The one JSON object `cmd` prints, after checking it is one line.
fn report_of(cmd: &mut assert_cmd::Command) -> Value {
    let out = stdout_of(cmd);
    assert_eq!(out.lines().count(), 1, "one line of JSON: {out}");
    assert!(out.ends_with('\n'), "{out:?}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn dir_of(j: &TestJournal) -> String {
    j.dir.display().to_string()
}

#[test]
fn verify_json_is_journal_verify_1() {
    let j = torn_journal();
    let v = report_of(&mut j.cmd(&["verify", "--json"]));
    assert_eq!(v["schema"], "journal-verify/1");
    assert_eq!(v["dir"], dir_of(&j));
    assert_eq!(v["ok"], true);
    assert_eq!(v["summary"]["records"], 10);
    assert_eq!(v["summary"]["warnings"], 1);
    assert_eq!(v["defects"][0]["kind"], "torn-tail");
}

#[test]
fn repair_json_is_journal_repair_1() {
    let j = torn_journal();
    let v = report_of(&mut j.cmd(&["repair", "--json", "--dry-run"]));
    assert_eq!(v["schema"], "journal-repair/1");
    assert_eq!(v["dir"], dir_of(&j));
    assert_eq!(v["mode"], "tail-only");
    assert_eq!(v["dry_run"], true);
    // Issue 16 item 12: a dry run repairs nothing, and says so.
    assert_eq!(v["repaired"], false);
    assert_eq!(v["would_repair"], true);
    assert_eq!(v["max_seq_before"], 10);
    assert_eq!(v["removed_bytes"], TORN.len());
    assert_eq!(v["tail"]["truncate"]["segment"], segment_name(9));
    assert_eq!(v["tail"]["truncate"]["removed"], TORN.len());
    assert_eq!(v["quarantine"], serde_json::json!([]));
}

#[test]
fn stats_json_is_journal_stats_1() {
    let j = torn_journal();
    let v = report_of(&mut j.cmd(&["stats", "--json"]));
    assert_eq!(v["schema"], "journal-stats/1");
    assert_eq!(v["dir"], dir_of(&j));
    assert_eq!(v["segments"], 3);
    assert_eq!(v["events"], 10);
    assert_eq!(
        (&v["seq"]["first"], &v["seq"]["last"]),
        (&1.into(), &10.into())
    );
    assert_eq!(v["torn_tail"]["bytes"], TORN.len());
    assert_eq!(v["torn_tail"]["segment"], segment_name(9));
}

#[test]
fn prune_json_is_journal_prune_1() {
    let j = torn_journal();
    let v = report_of(&mut j.cmd(&["prune", "--json", "--dry-run", "--keep", "1"]));
    assert_eq!(v["schema"], "journal-prune/1");
    assert_eq!(v["dir"], dir_of(&j));
    assert_eq!(v["dry_run"], true);
    let deleted: Vec<&str> = v["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["segment"].as_str().unwrap())
        .collect();
    assert_eq!(deleted, [segment_name(1), segment_name(5)]);
    assert_eq!(v["deleted"][1]["last_seq"], 8);
    assert_eq!(v["segments_before"], 3);
    assert_eq!(v["segments_kept"], 1);
    assert_eq!(v["oldest_seq"], 9);
    assert_eq!(j.segments().len(), 3, "a dry run deletes nothing");
}

#[test]
fn recover_json_is_journal_recover_1() {
    let j = torn_journal();
    let v = report_of(&mut j.cmd(&["recover", "--json"]));
    assert_eq!(v["schema"], "journal-recover/1");
    assert_eq!(v["dir"], dir_of(&j));
    assert_eq!(v["max_seq"], 10);
    assert_eq!(v["next_seq"], 11);
    assert_eq!(v["max_seq_source"], "line");
    assert_eq!(v["newest_segment"], segment_name(9));
    assert_eq!(v["torn_tail"]["bytes"], TORN.len());
}

#[test]
fn append_json_is_journal_append_1() {
    let j = torn_journal();
    let input = "{\"type\":\"error\",\"message\":\"x\"}\nnot json\n";
    let mut cmd = append_cmd(&j.dir, &["--json", "--skip-invalid"], input);
    let v = report_of(&mut cmd);
    assert_eq!(v["schema"], "journal-append/1");
    assert_eq!(v["dir"], dir_of(&j));
    assert_eq!(v["appended"], 1);
    assert_eq!((&v["first_seq"], &v["last_seq"]), (&11.into(), &11.into()));
    assert_eq!(v["skipped"], 1);
    assert_eq!(v["max_seq_before"], 10);
    assert_eq!(v["tail_cut"]["truncate"]["segment"], segment_name(9));
    assert_eq!(v["tail_cut"]["truncate"]["removed"], TORN.len());
    let quarantine = v["quarantine"].as_array().unwrap();
    assert_eq!(quarantine.len(), 1);
    let saved = std::fs::read(quarantine[0].as_str().unwrap()).unwrap();
    assert_eq!(
        saved, TORN,
        "the quarantine the report names holds the cut bytes"
    );
    assert!(
        all_lines(&j.dir)
            .last()
            .unwrap()
            .starts_with("{\"seq\":11,")
    );

    // Nothing on stdin: still one object, with nothing appended.
    let v = report_of(&mut append_cmd(&j.dir, &["--json"], ""));
    assert_eq!(v["schema"], "journal-append/1");
    assert_eq!(v["appended"], 0);
    assert_eq!(v["first_seq"], Value::Null);
    assert_eq!(v["max_seq_before"], Value::Null);
}

#[test]
fn every_json_report_names_its_schema_in_help() {
    for (cmd, schema) in [
        ("verify", "journal-verify/1"),
        ("repair", "journal-repair/1"),
        ("stats", "journal-stats/1"),
        ("prune", "journal-prune/1"),
        ("recover", "journal-recover/1"),
        ("append", "journal-append/1"),
        ("recover", "journal-recover-streams/1"),
        ("stats", "journal-stats-streams/1"),
        ("verify", "journal-verify-streams/1"),
        ("repair", "journal-repair-streams/1"),
    ] {
        let help = stdout_of(journal_cmd().args([cmd, "--help"]));
        assert!(
            help.contains(&format!("schema \"{schema}\"")),
            "{cmd} --help names {schema}:\n{help}"
        );
    }
}

/// Every family report (here a per-session store's) names its schema and the
/// format it read.
#[test]
fn family_reports_name_their_schema_and_format() {
    let s = crate::sessions::Store::corpus("aios-crashed");
    for (args, schema) in [
        (&["recover", "--json"][..], "journal-recover-streams/1"),
        (&["stats", "--json"], "journal-stats-streams/1"),
        (&["verify", "--json"], "journal-verify-streams/1"),
        (
            &["repair", "--json", "--dry-run"],
            "journal-repair-streams/1",
        ),
    ] {
        let out = s.cmd(args).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 1, "one line of JSON: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], schema, "{args:?}");
        assert_eq!(v["format"], "sessions", "{args:?}");
        assert_eq!(v["path"], s.root.display().to_string(), "{args:?}");
    }
}
