//! `repair`'s report: the plan or what was done, what was refused or left,
//! and where every removed byte was kept; or the `journal-repair/1` object.

use crate::render::escape::escape_name;
use std::io::{self, Write};
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::defect::{Defect, DefectKind};
use crate::render::escape::escape_text;
use crate::repair::{RepairMode, RepairPlan};
use crate::segment::{Listing, file_name_lossy};

fn mode_name(mode: RepairMode) -> &'static str {
    match mode {
        RepairMode::TailOnly => "tail only",
        RepairMode::DropCorrupt => "dropping corrupt lines",
    }
}

/// The plan (with `dry_run`) or what was done, for people.
pub fn write_text(
    out: &mut dyn Write,
    listing: &Listing,
    plan: &RepairPlan,
    dry_run: bool,
    quarantined: &[PathBuf],
) -> io::Result<()> {
    // (delete, truncate, rewrite) as planned or as done.
    let (header, [delete, truncate, rewrite]) = if dry_run {
        ("plan", ["would delete", "would truncate", "would rewrite"])
    } else {
        ("repair", ["deleted", "truncated", "rewrote"])
    };
    writeln!(
        out,
        "{header} ({}) of {}:",
        mode_name(plan.mode),
        crate::render::escape::escape_path(&listing.dir)
    )?;
    if plan.is_empty() {
        writeln!(out, "  nothing to remove")?;
    }
    for path in plan.tail.delete() {
        let bytes = listing
            .segments
            .iter()
            .find(|s| s.path() == *path)
            .map_or(0, |s| s.len());
        writeln!(
            out,
            "  {delete} {}: {bytes} bytes, no complete valid line",
            escape_name(path)
        )?;
    }
    if let Some((path, new_len, removed)) = plan.tail.truncate() {
        writeln!(
            out,
            "  {truncate} {} to {new_len} bytes: {removed} bytes after its last complete \
             valid line, from byte {new_len}",
            escape_name(path)
        )?;
    }
    for r in &plan.rewrites {
        let name = escape_name(&r.segment);
        if r.delete {
            writeln!(
                out,
                "  {delete} {name}: nothing in it but damage ({} bytes)",
                r.old_len
            )?;
        } else {
            let lines: u64 = r.drop.iter().map(|d| d.lines).sum();
            writeln!(
                out,
                "  {rewrite} {name} without {lines} damaged line{} ({} of {} bytes)",
                if lines == 1 { "" } else { "s" },
                r.old_len - r.new_len,
                r.old_len
            )?;
        }
        for d in &r.drop {
            let kinds: Vec<&str> = d.kinds.iter().map(|k| k.name()).collect();
            writeln!(
                out,
                "    line {}{}, byte {}, {} bytes: {}",
                d.first_line,
                if d.lines > 1 {
                    format!("..{}", d.first_line + d.lines - 1)
                } else {
                    String::new()
                },
                d.offset,
                d.len,
                kinds.join(", ")
            )?;
        }
    }
    let mut hints = plan.tail_seq_hints.clone();
    hints.extend(plan.dropped_seq_hints());
    write!(
        out,
        "max seq: {} before, {} after",
        plan.max_seq, plan.max_seq
    )?;
    if !hints.is_empty() {
        let hints: Vec<String> = hints.iter().map(u64::to_string).collect();
        write!(
            out,
            "; the removed lines started with seq {}",
            hints.join(", ")
        )?;
    }
    writeln!(out)?;
    if !plan.refused.is_empty() {
        // Say only the reasons that apply: --drop-corrupt-lines does nothing
        // for an entry that is not a regular file.
        let irregular = plan
            .refused
            .iter()
            .filter(|d| d.kind == DefectKind::NotRegularFile)
            .count();
        let inside = plan.mode == RepairMode::TailOnly && plan.refused_count > irregular as u64;
        let mut reasons = Vec::new();
        if inside {
            reasons.push("damage inside closed segments needs --drop-corrupt-lines");
        }
        if irregular > 0 {
            reasons.push("entries that are not regular files are never touched");
        }
        writeln!(
            out,
            "refused ({}): {}",
            plan.refused_count,
            reasons.join("; ")
        )?;
        write_defects(out, &plan.refused)?;
    }
    if !plan.left.is_empty() {
        writeln!(
            out,
            "left as is (repair never invents, renumbers or edits records):"
        )?;
        write_defects(out, &plan.left)?;
    }
    if !quarantined.is_empty() {
        writeln!(out, "quarantine (every removed byte):")?;
        for q in quarantined {
            writeln!(out, "  {}", crate::render::escape::escape_path(q))?;
        }
    }
    Ok(())
}

fn write_defects(out: &mut dyn Write, defects: &[Defect]) -> io::Result<()> {
    for d in defects {
        writeln!(
            out,
            "  {}: {}: {}",
            escape_text(&d.place()),
            d.kind.name(),
            escape_text(&d.detail)
        )?;
    }
    Ok(())
}

/// The `--json` object, schema [`REPAIR_SCHEMA`](super::REPAIR_SCHEMA)
/// ([`super::write_json`] adds it).
pub fn json(listing: &Listing, plan: &RepairPlan, dry_run: bool, quarantined: &[PathBuf]) -> Value {
    let delete: Vec<Value> = plan
        .tail
        .delete()
        .iter()
        .map(|p| {
            let bytes = listing
                .segments
                .iter()
                .find(|s| s.path() == *p)
                .map_or(0, |s| s.len());
            json!({"segment": file_name_lossy(p), "bytes": bytes})
        })
        .collect();
    let truncate = plan.tail.truncate().map(|(p, new_len, removed)| {
        json!({"segment": file_name_lossy(p), "new_len": new_len, "removed": removed})
    });
    json!({
        "dir": listing.dir.display().to_string(),
        "format": "segments",
        "mode": plan.mode,
        "dry_run": dry_run,
        // A dry run repairs nothing; it says whether a real run would.
        "repaired": !dry_run && !plan.is_refused(),
        "would_repair": !plan.is_refused(),
        "max_seq_before": plan.max_seq,
        "max_seq_after": plan.max_seq,
        "removed_bytes": plan.removed_bytes(),
        "tail": {"delete": delete, "truncate": truncate, "seq_hints": plan.tail_seq_hints},
        "rewrites": plan.rewrites,
        "dropped_seq_hints": plan.dropped_seq_hints(),
        "refused_count": plan.refused_count,
        "refused": plan.refused,
        "left": plan.left,
        "quarantine": quarantined.iter().map(|q| q.display().to_string()).collect::<Vec<_>>(),
    })
}
