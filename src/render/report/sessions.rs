//! The per-session store's reports: recover, stats and verify, as text and
//! as JSON. Every JSON report says `"format": "sessions"`.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{Value, json};

use super::{human_bytes, plural};
use crate::journal::defect::{Defect, Severity};
use crate::journal::segment::file_name_lossy;
use crate::journal::source::Format;
use crate::journal::source::session_repair::{Action, Plan};
use crate::journal::source::sessions::{Body, SessionFile, SessionStore};
use crate::render::escape::escape_text;

/// The latest sequence of one session and branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub session: String,
    pub branch: String,
    pub sequence: u64,
    pub file: String,
}

/// What `recover` reports: the latest sequence per session and branch, and
/// the files the runtime cannot open as they are.
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    pub latest: Vec<Latest>,
    /// File name, and why the runtime cannot read it.
    pub unreadable: Vec<(String, String)>,
}

impl Recovery {
    pub fn of(files: &[SessionFile]) -> Recovery {
        let mut r = Recovery::default();
        for f in files {
            let name = file_name_lossy(&f.path);
            let mut per: BTreeMap<(String, String), u64> = BTreeMap::new();
            for head in f.lines.iter().filter_map(|l| l.head()) {
                let e = per
                    .entry((head.session.clone(), head.branch.clone()))
                    .or_insert(0);
                *e = (*e).max(head.sequence);
            }
            r.latest
                .extend(per.into_iter().map(|((session, branch), sequence)| Latest {
                    session,
                    branch,
                    sequence,
                    file: name.clone(),
                }));
            if let Some(why) = f.lines.iter().find_map(|l| match &l.body {
                Body::Torn => Some(format!("torn last line {} at byte {}", l.number, l.offset)),
                Body::Glued { .. } => Some(format!("glued line {} at byte {}", l.number, l.offset)),
                Body::Unreadable { .. } => Some(format!(
                    "unparseable line {} at byte {}",
                    l.number, l.offset
                )),
                _ => None,
            }) {
                r.unreadable.push((name, why));
            }
        }
        r
    }
}

pub fn recover_text(out: &mut dyn Write, r: &Recovery) -> io::Result<()> {
    let sw = r
        .latest
        .iter()
        .map(|l| l.session.len())
        .max()
        .unwrap_or(0)
        .max("SESSION".len());
    let bw = r
        .latest
        .iter()
        .map(|l| l.branch.len())
        .max()
        .unwrap_or(0)
        .max("BRANCH".len());
    writeln!(out, "{:sw$}  {:bw$}  LATEST", "SESSION", "BRANCH")?;
    for l in &r.latest {
        writeln!(
            out,
            "{:sw$}  {:bw$}  {}",
            escape_text(&l.session),
            escape_text(&l.branch),
            l.sequence
        )?;
    }
    for (file, why) in &r.unreadable {
        eprintln!(
            "journal: note: {file}: {why}; the runtime cannot open this session until it is repaired (journal repair)"
        );
    }
    Ok(())
}

/// Schema `journal-recover-sessions/1`.
pub fn recover_json(store: &SessionStore, r: &Recovery) -> Value {
    json!({
        "format": Format::Sessions.name(),
        "dir": store.root.display().to_string(),
        "streams": r.latest.iter().map(|l| json!({
            "session": l.session,
            "branch": l.branch,
            "latest_sequence": l.sequence,
            "file": l.file,
        })).collect::<Vec<_>>(),
        "unreadable": r.unreadable.iter().map(|(file, why)| json!({
            "file": file,
            "reason": why,
        })).collect::<Vec<_>>(),
    })
}

/// What `stats` reports.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub files: usize,
    pub bytes: u64,
    pub sessions: usize,
    /// Session and branch pairs.
    pub branches: usize,
    pub events: u64,
    pub kinds: BTreeMap<String, u64>,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub errors: u64,
    pub warnings: u64,
}

impl Stats {
    pub fn of(files: &[SessionFile]) -> Stats {
        let mut s = Stats {
            files: files.len(),
            ..Stats::default()
        };
        let mut sessions = std::collections::BTreeSet::new();
        let mut streams = std::collections::BTreeSet::new();
        let mut first = None;
        let mut last = None;
        for f in files {
            s.bytes += f.bytes.len() as u64;
            for head in f.lines.iter().filter_map(|l| l.head()) {
                s.events += 1;
                sessions.insert(head.session.clone());
                streams.insert((head.session.clone(), head.branch.clone()));
                *s.kinds
                    .entry(head.kind.clone().unwrap_or_default())
                    .or_insert(0) += 1;
                if let Some(ts) = crate::journal::record::parse_ts(&head.timestamp) {
                    if first.as_ref().is_none_or(|(t, _)| ts < *t) {
                        first = Some((ts, head.timestamp.clone()));
                    }
                    if last.as_ref().is_none_or(|(t, _)| ts > *t) {
                        last = Some((ts, head.timestamp.clone()));
                    }
                }
            }
            for d in f.defects() {
                match d.severity {
                    Severity::Error => s.errors += 1,
                    Severity::Warning => s.warnings += 1,
                }
            }
        }
        s.sessions = sessions.len();
        s.branches = streams.len();
        s.first_ts = first.map(|(_, s)| s);
        s.last_ts = last.map(|(_, s)| s);
        s
    }
}

pub fn stats_text(out: &mut dyn Write, store: &SessionStore, s: &Stats) -> io::Result<()> {
    writeln!(out, "journal     {}", store.root.display())?;
    writeln!(
        out,
        "format      {} (per-session store)",
        Format::Sessions.name()
    )?;
    writeln!(out, "files       {} ({})", s.files, human_bytes(s.bytes))?;
    writeln!(out, "sessions    {}", s.sessions)?;
    writeln!(out, "branches    {} (session and branch pairs)", s.branches)?;
    writeln!(out, "events      {}", s.events)?;
    if let (Some(a), Some(b)) = (&s.first_ts, &s.last_ts) {
        writeln!(out, "time        {} .. {}", escape_text(a), escape_text(b))?;
    }
    writeln!(
        out,
        "damage      {} error{}, {} warning{}{}",
        s.errors,
        plural(s.errors),
        s.warnings,
        plural(s.warnings),
        if s.errors + s.warnings > 0 {
            " (journal verify lists them)"
        } else {
            ""
        }
    )?;
    writeln!(out, "kinds")?;
    let w = s.kinds.keys().map(String::len).max().unwrap_or(0);
    let mut kinds: Vec<_> = s.kinds.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (kind, n) in kinds {
        writeln!(out, "  {:w$}  {n}", escape_text(kind))?;
    }
    Ok(())
}

/// Schema `journal-stats-sessions/1`.
pub fn stats_json(store: &SessionStore, s: &Stats) -> Value {
    json!({
        "format": Format::Sessions.name(),
        "dir": store.root.display().to_string(),
        "files": s.files,
        "bytes": s.bytes,
        "sessions": s.sessions,
        "branches": s.branches,
        "events": s.events,
        "kinds": s.kinds,
        "first_ts": s.first_ts,
        "last_ts": s.last_ts,
        "errors": s.errors,
        "warnings": s.warnings,
    })
}

pub fn verify_text(
    out: &mut dyn Write,
    files: &[SessionFile],
    defects: &[Defect],
    color: bool,
) -> io::Result<()> {
    let mut current: Option<&std::path::Path> = None;
    for d in defects {
        if current != Some(d.segment.as_path()) {
            writeln!(out, "{}", file_name_lossy(&d.segment))?;
            current = Some(&d.segment);
        }
        writeln!(out, "  {}", super::verify::defect_line(d, color))?;
    }
    let (errors, warnings) = counts(defects);
    let lines: usize = files.iter().map(|f| f.lines.len()).sum();
    let events: usize = files.iter().map(|f| f.records().count()).sum();
    writeln!(
        out,
        "{} session file{}, {lines} lines, {events} events (per-session store): {errors} error{}, {warnings} warning{}",
        files.len(),
        plural(files.len() as u64),
        plural(errors),
        plural(warnings)
    )
}

fn counts(defects: &[Defect]) -> (u64, u64) {
    let errors = defects
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count() as u64;
    (errors, defects.len() as u64 - errors)
}

/// Schema `journal-verify-sessions/1`.
pub fn verify_json(store: &SessionStore, files: &[SessionFile], defects: &[Defect]) -> Value {
    let (errors, warnings) = counts(defects);
    json!({
        "format": Format::Sessions.name(),
        "dir": store.root.display().to_string(),
        "files": files.iter().map(|f| json!({
            "file": file_name_lossy(&f.path),
            "session": f.name,
            "bytes": f.bytes.len(),
            "lines": f.lines.len(),
            "events": f.records().count(),
            "latest": f.latest(),
        })).collect::<Vec<_>>(),
        "defects": defects.iter().map(defect_json).collect::<Vec<_>>(),
        "errors": errors,
        "warnings": warnings,
        "ok": errors == 0,
    })
}

fn defect_json(d: &Defect) -> Value {
    json!({
        "kind": d.kind.name(),
        "severity": d.severity,
        "file": file_name_lossy(&d.segment),
        "line": d.line,
        "offset": d.offset,
        "len": d.len,
        "sequence_before": d.seq_before,
        "sequence_after": d.seq_after,
        "detail": d.detail,
    })
}

pub fn repair_text(
    out: &mut dyn Write,
    plan: &Plan,
    left: &[Defect],
    dry_run: bool,
    color: bool,
) -> io::Result<()> {
    let would = if dry_run { "would " } else { "" };
    for r in &plan.refused {
        let who: Vec<String> = r
            .holders
            .iter()
            .map(|h| format!("pid {} ({})", h.pid, escape_text(&h.process)))
            .collect();
        writeln!(
            out,
            "{}: left alone: held open by {} (the store takes no lock; stop it, or pass --force)",
            file_name_lossy(&r.file),
            who.join(", ")
        )?;
    }
    for s in &plan.steps {
        let what = match s.action {
            Action::CutTornTail => format!(
                "{would}cut the torn last line {} ({} bytes at byte {})",
                s.line, s.len, s.offset
            ),
            Action::Unglue => format!(
                "{would}un-glue line {}: {would}keep the record {} sequence {}, {would}remove the {}-byte fragment at byte {}",
                s.line,
                s.kept_branch
                    .as_deref()
                    .map(escape_text)
                    .unwrap_or_default(),
                s.kept_sequence.unwrap_or_default(),
                s.len,
                s.offset
            ),
            Action::DropLine => format!(
                "{would}drop the unparseable line {} ({} bytes at byte {})",
                s.line, s.len, s.offset
            ),
        };
        let kept = match &s.quarantine {
            Some(q) => format!("; the bytes are in {}", file_name_lossy(q)),
            None => "; the bytes would go to a quarantine file first".to_owned(),
        };
        writeln!(out, "{}: {what}{kept}", file_name_lossy(&s.file))?;
    }
    for d in left {
        writeln!(
            out,
            "{}: left: {}",
            file_name_lossy(&d.segment),
            super::verify::defect_line(d, color)
        )?;
    }
    let (errors, warnings) = counts(left);
    writeln!(
        out,
        "{} step{}{}, {} file{} refused; left: {errors} error{}, {warnings} warning{}",
        plan.steps.len(),
        plural(plan.steps.len() as u64),
        if dry_run {
            " planned (dry run)"
        } else {
            " done"
        },
        plan.refused.len(),
        plural(plan.refused.len() as u64),
        plural(errors),
        plural(warnings)
    )
}

/// Schema `journal-repair-sessions/1`.
pub fn repair_json(store: &SessionStore, plan: &Plan, left: &[Defect], dry_run: bool) -> Value {
    let (errors, warnings) = counts(left);
    json!({
        "format": Format::Sessions.name(),
        "dir": store.root.display().to_string(),
        "dry_run": dry_run,
        "steps": plan.steps,
        "refused": plan.refused,
        "left": left.iter().map(defect_json).collect::<Vec<_>>(),
        "errors": errors,
        "warnings": warnings,
    })
}
