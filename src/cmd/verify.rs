//! `journal verify`: the full list of defects, grouped by segment, a summary
//! line and an exit status a script can act on; `--json` for programs.

use std::io::{self, IsTerminal, Write};

use anyhow::Result;
use journal::defect::{Defect, Severity};
use journal::segment::{Listing, file_name_lossy};
use journal::verify::{VerifyOptions, VerifyReport, verify};
use serde_json::{Value, json};

use crate::cli::VerifyArgs;
use crate::cmd::{Context, resolve_dir};
use crate::exit_codes::ExitCode;
use journal::render::escape::escape_text;

/// Journals smaller than this finish before a progress bar would help.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

/// The plain options `verify` runs with.
struct VerifyCmdOptions {
    /// Print the JSON object instead of the report. Default false.
    json: bool,
    /// Print nothing. Default false.
    quiet: bool,
    /// Core options: threads (default: the CPUs), strict (default false).
    core: VerifyOptions,
}

impl VerifyCmdOptions {
    fn new(args: &VerifyArgs) -> Self {
        let mut core = VerifyOptions {
            strict: args.strict,
            ..VerifyOptions::default()
        };
        if let Some(n) = args.threads {
            core.threads = usize::from(n);
        }
        VerifyCmdOptions {
            json: args.json,
            quiet: args.quiet,
            core,
        }
    }
}

pub fn run(args: VerifyArgs, ctx: &Context) -> Result<ExitCode> {
    let opts = VerifyCmdOptions::new(&args);
    // Not `open_listing`: irregular entries are defects in the report here.
    let listing = Listing::read_journal(&resolve_dir(&args.dir)?)?;
    let bar = progress_bar(&listing, opts.quiet);
    let inc = |n: u64| {
        if let Some(bar) = &bar {
            bar.inc(n);
        }
    };
    let report = verify(&listing, &opts.core, bar.as_ref().map(|_| &inc as _))?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if !opts.quiet {
        let mut out = ctx.stdout(false);
        if opts.json {
            serde_json::to_writer(&mut out, &report_json(&report))?;
            writeln!(out)?;
        } else {
            write_report(&mut out, &report, ctx.color)?;
        }
        out.flush()?;
    }
    Ok(if report.errors > 0 {
        ExitCode::JournalErrors
    } else {
        ExitCode::Success
    })
}

/// A bar on stderr, only on a terminal and for a large journal.
fn progress_bar(listing: &Listing, quiet: bool) -> Option<indicatif::ProgressBar> {
    let total = listing.total_bytes();
    if quiet || total < PROGRESS_MIN_BYTES || !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    // No colours in the template: it stays readable with NO_COLOR.
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "verifying {bar:40} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

fn write_report(out: &mut dyn Write, report: &VerifyReport, color: bool) -> io::Result<()> {
    let mut current: Option<&std::path::Path> = None;
    for d in &report.defects {
        if current != Some(d.segment.as_path()) {
            writeln!(out, "{}", file_name_lossy(&d.segment))?;
            current = Some(&d.segment);
        }
        writeln!(out, "  {}", defect_line(d, color))?;
    }
    if report.unlisted > 0 {
        writeln!(
            out,
            "... and {} more defects not listed (counts below are exact)",
            report.unlisted
        )?;
    }
    if !report.engine_skipped.is_empty() {
        let total: u64 = report
            .engine_skipped
            .values()
            .map(|c| c.unknown_type + c.missing_field)
            .sum();
        let per_type: Vec<String> = report
            .engine_skipped
            .iter()
            .map(|(ty, c)| {
                let mut why = Vec::new();
                if c.unknown_type > 0 {
                    why.push(format!("{} unknown type", c.unknown_type));
                }
                if c.missing_field > 0 {
                    why.push(format!("{} missing field", c.missing_field));
                }
                format!("{} ({})", escape_text(ty), why.join(", "))
            })
            .collect();
        writeln!(
            out,
            "the engine would skip {total} record{}: {}",
            plural(total),
            per_type.join("; ")
        )?;
    }
    writeln!(out, "{}", summary_line(report))
}

/// `error seq-gap: line 3, byte 400, 180 bytes; between seq 5 and 8: <detail>`
fn defect_line(d: &Defect, color: bool) -> String {
    let severity = match (d.severity, color) {
        (Severity::Error, true) => "\x1b[31merror\x1b[0m",
        (Severity::Warning, true) => "\x1b[33mwarning\x1b[0m",
        (Severity::Error, false) => "error",
        (Severity::Warning, false) => "warning",
    };
    let mut place = Vec::new();
    if let Some(line) = d.line {
        place.push(format!("line {line}"));
    }
    place.push(format!("byte {}", d.offset));
    place.push(format!("{} byte{}", d.len, plural(d.len)));
    let seqs = match (d.seq_before, d.seq_after) {
        (Some(b), Some(a)) => format!("; between seq {b} and {a}"),
        (Some(b), None) => format!("; after seq {b}"),
        (None, Some(a)) => format!("; before seq {a}"),
        (None, None) => String::new(),
    };
    format!(
        "{severity} {}: {}{seqs}: {}",
        d.kind.name(),
        place.join(", "),
        escape_text(&d.detail)
    )
}

fn summary_line(report: &VerifyReport) -> String {
    let segments = report.segments.len();
    let mut s = format!(
        "{segments} segment{}, {} lines, {} bytes",
        plural(segments as u64),
        report.lines(),
        report.bytes()
    );
    match report.seq_range() {
        Some((first, last)) => s.push_str(&format!(", seq {first}..{last}")),
        None => s.push_str(", no record"),
    }
    let gone = report.gone();
    if gone > 0 {
        s.push_str(&format!(", {gone} pruned during the scan"));
    }
    s.push_str(&format!(
        ": {} error{}, {} warning{}",
        report.errors,
        plural(report.errors),
        report.warnings,
        plural(report.warnings)
    ));
    if report.strict {
        s.push_str(" (strict)");
    }
    s
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The `--json` object: schema "journal-verify/1" (documented in `--help`).
fn report_json(report: &VerifyReport) -> Value {
    let (first_seq, last_seq) = report.seq_range().unzip();
    let segments: Vec<Value> = report
        .segments
        .iter()
        .map(|s| {
            json!({
                "segment": file_name_lossy(&s.path),
                "start_seq": s.start_seq,
                "bytes": s.bytes,
                "lines": s.lines,
                "records": s.records,
                "first_seq": s.first_seq,
                "last_seq": s.last_seq,
                "gone": s.gone,
                "errors": s.errors,
                "warnings": s.warnings,
            })
        })
        .collect();
    let kinds: serde_json::Map<String, Value> = report
        .kinds
        .iter()
        .map(|(k, n)| (k.name().to_owned(), json!(n)))
        .collect();
    json!({
        "schema": "journal-verify/1",
        "dir": report.dir.display().to_string(),
        "ok": report.errors == 0,
        "strict": report.strict,
        "summary": {
            "segments": report.segments.len(),
            "segments_gone": report.gone(),
            "lines": report.lines(),
            "records": report.records(),
            "bytes": report.bytes(),
            "first_seq": first_seq,
            "last_seq": last_seq,
            "errors": report.errors,
            "warnings": report.warnings,
            "defects_unlisted": report.unlisted,
        },
        "kinds": kinds,
        "engine_skipped": report.engine_skipped,
        "segments": segments,
        "defects": report.defects,
    })
}
