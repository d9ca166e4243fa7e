//! Generates a benchmark journal through the library's writer, so its files
//! are exactly what `journal append` (and the engine) write.
//!
//! ```text
//! cargo run --release --example gen_journal -- --size 512M --seed 1 OUT_DIR
//! cargo run --release --example gen_journal -- --size 64M --seed 7 --torn OUT_DIR
//! ```
//!
//! Deterministic: the same seed and size give the same bytes (timestamps are
//! generated, not read from the clock). The event mix is modelled on the
//! engine's own journal in `../shared/corpus/bamboo-clean`: mostly
//! `message_appended` with varied Unicode text (emoji, RTL, CRLF escapes,
//! quotes, tabs), plus every other common type with the fields
//! `engine-events.json` requires, in 8 MiB segments. Sessions as in the
//! corpus: a dozen busy ones, and now and then a short-lived one with a few
//! events close together (bamboo-clean has sessions of 2 and 6 events among
//! 2,000), which is what "a rare session" means in the benchmarks.
//! `--torn` leaves a partial last line, as a crash mid-append would.
//!
//! Lines are buffered (1 MiB) and never fsynced: this is a benchmark fixture.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use journal::segment::Listing;
use journal::writer::{DEFAULT_ROTATE_BYTES, EventJson, Writer, WriterOptions};

struct Args {
    size: u64,
    seed: u64,
    torn: bool,
    rotate_bytes: u64,
    out: PathBuf,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let mult = match s[i..]
                .to_ascii_uppercase()
                .trim_end_matches("IB")
                .trim_end_matches('B')
            {
                "" => 1,
                "K" => 1 << 10,
                "M" => 1 << 20,
                "G" => 1 << 30,
                other => return Err(format!("unknown size unit '{other}' in '{s}'")),
            };
            (&s[..i], mult)
        }
        None => (s, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a size: '{s}'"))?;
    Ok(n * mult)
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        size: 64 << 20,
        seed: 1,
        torn: false,
        rotate_bytes: DEFAULT_ROTATE_BYTES,
        out: PathBuf::new(),
    };
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--size" => args.size = parse_size(&value("--size")?)?,
            "--seed" => {
                args.seed = value("--seed")?
                    .parse()
                    .map_err(|_| "--seed: not a number")?
            }
            "--rotate-bytes" => args.rotate_bytes = parse_size(&value("--rotate-bytes")?)?,
            "--torn" => args.torn = true,
            "-h" | "--help" => {
                return Err(
                    "usage: gen_journal [--size 64M] [--seed 1] [--rotate-bytes 8M] \
                            [--torn] OUT_DIR"
                        .into(),
                );
            }
            _ if a.starts_with('-') => return Err(format!("unknown option {a}")),
            _ => out = Some(PathBuf::from(a)),
        }
    }
    args.out = out.ok_or("OUT_DIR is required")?;
    Ok(args)
}

/// splitmix64: small, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

/// Pieces of message text, as varied as the engine's corpus.
const PHRASES: &[&str] = &[
    "Done. The retention job now keeps the 64 newest segments.",
    "Mixed line endings:\r\nthis line came from a CRLF file.\r\n",
    "Tabs\tbetween\tcolumns\tare\tfine.",
    "Math: ∀x ∈ ℝ, x² ≥ 0; ∑ᵢ aᵢ ≠ ∞.",
    "Ελληνικά και Русский текст в одном сообщении.",
    "עברית מימין לשמאל mixed with English.",
    "日本語のテキストと中文文本，还有한국어.",
    "Deploy 🚀 finished in 42s ✅ — no regressions 🎉",
    "She said \"ship it\" and then 'revert it'.",
    "Tool output:\n$ ls -la\ntotal 24\n-rw-r--r-- 1 root root 4096 events-00000000000000000042.jsonl",
    "```rust\nfn main() {\n    println!(\"hello\");\n}\n```",
    "Backslashes: C:\\Users\\agent\\journal and a path /var/lib/bamboo/events.",
    "Line separator\u{2028}and paragraph separator\u{2029}inside one string.",
    "Zero width joiner family: 👩‍👩‍👧‍👦 and flags 🇫🇷🇯🇵.",
    "I'll look at the failing test first, then at the flaky retry logic.",
    "The build passed on CI but failed locally because of a stale cache.",
    "Can you summarise the last three errors and propose a fix?",
    "Refactoring the reader to use a single reused buffer with memchr.",
    "Control characters must be escaped: \u{1b}[31mred\u{1b}[0m and \u{7}bell.",
    "Combining marks: é (e + \u{301}), Å, ñ, and ǅ titlecase.",
];

const ROLES: &[&str] = &["user", "assistant", "assistant", "user", "system"];

/// Event types with weights taken from the corpus counts.
const MIX: &[(&str, u64)] = &[
    ("message_appended", 724),
    ("execution_started", 271),
    ("complete", 217),
    ("task_list_updated", 111),
    ("task_list_item_progress", 111),
    ("session_created", 62),
    ("session_title_updated", 59),
    ("plan_mode_exited", 49),
    ("session_history_committed", 48),
    ("config.changed", 48),
    ("need_clarification", 47),
    ("tool_approval_requested", 41),
    ("plan_mode_entered", 40),
    ("session_deleted", 35),
    ("cancelled", 28),
    ("session_pinned_updated", 23),
    ("session_cleared", 16),
    ("budget_exceeded", 13),
    ("sub_agent_started", 12),
    ("sub_agent_completed", 12),
    ("project_updated", 12),
    ("project_created", 7),
    ("error", 5),
    ("config.recovered", 5),
    ("config.invalid", 4),
];

/// A compact JSON object built field by field, in the order given.
struct Obj(String);

impl Obj {
    fn new(ty: &str) -> Obj {
        let mut o = Obj(String::with_capacity(512));
        o.0.push_str("{\"type\":");
        push_str_json(&mut o.0, ty);
        o
    }
    fn key(&mut self, k: &str) {
        self.0.push_str(",\"");
        self.0.push_str(k);
        self.0.push_str("\":");
    }
    fn s(mut self, k: &str, v: &str) -> Obj {
        self.key(k);
        push_str_json(&mut self.0, v);
        self
    }
    fn n(mut self, k: &str, v: u64) -> Obj {
        self.key(k);
        let _ = write!(self.0, "{v}");
        self
    }
    fn raw(mut self, k: &str, json: &str) -> Obj {
        self.key(k);
        self.0.push_str(json);
        self
    }
    fn done(mut self) -> EventJson {
        self.0.push('}');
        EventJson::from_compact_unchecked(self.0)
    }
}

fn push_str_json(out: &mut String, s: &str) {
    // serde_json's escaping, so the text is byte-identical to the engine's.
    out.push_str(&serde_json::to_string(s).expect("a string serialises"));
}

struct Gen {
    rng: Rng,
    sessions: Vec<String>,
    /// A short-lived session and how many events it has left.
    short: Option<(String, u64)>,
    now: DateTime<Utc>,
    total_weight: u64,
}

impl Gen {
    fn text(&mut self, max_phrases: u64) -> String {
        let n = 1 + self.rng.below(max_phrases);
        let mut t = String::new();
        for i in 0..n {
            if i > 0 {
                t.push_str(if self.rng.chance(20) { "\n\n" } else { " " });
            }
            t.push_str(self.rng.pick_str(PHRASES));
        }
        t
    }

    /// The next event's session: a busy one, or about one event in twenty
    /// thousand starts a short session of 2 to 6 events, each of the
    /// following events then having one chance in ten to be its next.
    fn session(&mut self) -> String {
        if self.short.is_none() && self.rng.below(20_000) == 0 {
            let events = 2 + self.rng.below(5);
            self.short = Some((self.rng.uuid(), events));
        }
        if let Some((id, left)) = self.short.as_mut()
            && self.rng.chance(10)
        {
            let id = id.clone();
            *left -= 1;
            if *left == 0 {
                self.short = None;
            }
            return id;
        }
        self.rng.pick(&self.sessions).clone()
    }

    fn ts(&mut self) -> String {
        journal::writer::format_ts(self.now)
    }

    /// The next event: its session (for the record) and its JSON.
    fn event(&mut self) -> (Option<String>, EventJson) {
        let mut r = self.rng.below(self.total_weight);
        let mut ty = MIX[0].0;
        for &(t, w) in MIX {
            if r < w {
                ty = t;
                break;
            }
            r -= w;
        }
        let session = self.session();
        let ts = self.ts();
        let id = self.rng.uuid();
        let event = match ty {
            "message_appended" => {
                let role = self.rng.pick_str(ROLES);
                // The corpus's lines are heavy-tailed (median about 300
                // bytes, mean about 740, one in a hundred over 8 KB): mostly
                // a few phrases, sometimes a long tool output or answer.
                let content = match self.rng.below(100) {
                    0..=4 => self.text(360),
                    5..=29 => self.text(64),
                    _ => self.text(8),
                };
                Obj::new(ty)
                    .s("session_id", &session)
                    .s("message_id", &id)
                    .s("role", role)
                    .s("content", &content)
                    .s("created_at", &ts)
                    .done()
            }
            "execution_started" => Obj::new(ty)
                .s("run_id", &id)
                .s("session_id", &session)
                .s("started_at", &ts)
                .done(),
            "complete" => {
                let (p, c) = (self.rng.below(5000), self.rng.below(5000));
                let usage = format!(
                    "{{\"prompt_tokens\":{p},\"completion_tokens\":{c},\"total_tokens\":{}}}",
                    p + c
                );
                Obj::new(ty).raw("usage", &usage).done()
            }
            "task_list_updated" => {
                let mut items = String::from("[");
                for i in 1..=1 + self.rng.below(4) {
                    if i > 1 {
                        items.push(',');
                    }
                    let desc = self.text(2);
                    let status = self.rng.pick_str(&["pending", "in_progress", "completed"]);
                    let _ = write!(items, "{{\"id\":\"task-{i}\",\"description\":");
                    push_str_json(&mut items, &desc);
                    let _ = write!(
                        items,
                        ",\"status\":\"{status}\",\"depends_on\":[],\"notes\":\"\",\
                         \"phase\":\"execution\",\"priority\":\"medium\"}}"
                    );
                }
                items.push(']');
                let list = format!(
                    "{{\"session_id\":\"{session}\",\"title\":\"Plan\",\"items\":{items}}}"
                );
                Obj::new(ty)
                    .raw("task_list", &list)
                    .n("version", 1 + self.rng.below(9))
                    .done()
            }
            "task_list_item_progress" => Obj::new(ty)
                .s("session_id", &session)
                .s("item_id", &format!("task-{}", 1 + self.rng.below(4)))
                .s("status", self.rng.pick_str(&["in_progress", "completed"]))
                .n("tool_calls_count", self.rng.below(20))
                .n("version", 1 + self.rng.below(9))
                .done(),
            "session_created" => {
                let title = self
                    .rng
                    .pick_str(PHRASES)
                    .chars()
                    .take(24)
                    .collect::<String>();
                Obj::new(ty)
                    .s("session_id", &session)
                    .raw("project_id", "null")
                    .s("title", &title)
                    .s("kind", "root")
                    .s("created_at", &ts)
                    .done()
            }
            "session_title_updated" => Obj::new(ty)
                .s("session_id", &session)
                .s("title", "Fix flaky journal test")
                .n("title_version", 1 + self.rng.below(5))
                .raw("title_generated", "true")
                .s("source", "auto")
                .s("updated_at", &ts)
                .done(),
            "plan_mode_exited" => {
                let plan = self.text(2);
                Obj::new(ty)
                    .s("session_id", &session)
                    .raw(
                        "approved",
                        if self.rng.chance(50) { "true" } else { "false" },
                    )
                    .s("restored_mode", "default")
                    .s("plan", &plan)
                    .done()
            }
            "need_clarification" => {
                let q = self.text(1);
                Obj::new(ty)
                    .s("question", &q)
                    .raw("options", "[\"yes\",\"no\",\"later — maybe\"]")
                    .raw("allow_custom", "true")
                    .s("source", "agentic_clarification")
                    .done()
            }
            "tool_approval_requested" => Obj::new(ty)
                .s("tool_call_id", &id)
                .s("tool_name", "bash")
                .raw(
                    "parameters",
                    "{\"command\":\"cargo test --release -- --nocapture\",\"timeout_s\":600}",
                )
                .done(),
            "plan_mode_entered" => Obj::new(ty)
                .s("session_id", &session)
                .s("reason", "complex change")
                .s("pre_permission_mode", "default")
                .s("entered_at", &ts)
                .s("status", "exploring")
                .s("plan_file_path", &format!("/tmp/plans/{session}.md"))
                .done(),
            "session_pinned_updated" => Obj::new(ty)
                .s("session_id", &session)
                .raw("pinned", if self.rng.chance(50) { "true" } else { "false" })
                .s("updated_at", &ts)
                .done(),
            "budget_exceeded" => Obj::new(ty)
                .s("session_id", &session)
                .s("kind", "tokens")
                .n("limit", 100_000)
                .n("actual", 100_000 + self.rng.below(9000))
                .done(),
            "sub_agent_started" => Obj::new(ty)
                .s("parent_session_id", &session)
                .s("child_session_id", &id)
                .s("title", "sub-agent: run the tests")
                .done(),
            "sub_agent_completed" => Obj::new(ty)
                .s("parent_session_id", &session)
                .s("child_session_id", &id)
                .s("status", "completed")
                .done(),
            "project_created" | "project_updated" => {
                let project = format!("proj-{}", &id[..8]);
                let ev = Obj::new(ty)
                    .s("project_id", &project)
                    .n("revision", 1 + self.rng.below(9))
                    .done();
                return (None, ev);
            }
            "config.changed" | "config.invalid" | "config.recovered" => {
                let section = self.rng.pick_str(&["providers", "permissions", "hooks"]);
                let ev = Obj::new(ty)
                    .s("section", section)
                    .n("revision", 1 + self.rng.below(9))
                    .done();
                return (None, ev);
            }
            "error" => Obj::new(ty)
                .s(
                    "message",
                    "provider returned 529: overloaded\n{\"retry_after\": 32}",
                )
                .done(),
            "cancelled" => Obj::new(ty)
                .s("message", "Agent execution cancelled by user")
                .done(),
            // session_history_committed, session_deleted, session_cleared
            _ => Obj::new(ty).s("session_id", &session).done(),
        };
        (Some(session), event)
    }
}

fn run(args: &Args) -> Result<(), String> {
    fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let listing = Listing::read(&args.out).map_err(|e| e.to_string())?;
    if !listing.segments().is_empty() {
        return Err(format!(
            "{}: already holds segments; give an empty or new directory",
            args.out.display()
        ));
    }
    let mut rng = Rng(args.seed);
    let sessions = (0..12).map(|_| rng.uuid()).collect();
    let mut g = Gen {
        rng,
        sessions,
        short: None,
        now: DateTime::parse_from_rfc3339("2026-11-20T09:00:00Z")
            .expect("a valid time")
            .with_timezone(&Utc),
        total_weight: MIX.iter().map(|(_, w)| w).sum(),
    };
    let opts = WriterOptions {
        rotate_bytes: args.rotate_bytes,
        fsync: false,
        wait: Duration::from_secs(5),
        buffer_bytes: 1 << 20,
    };
    let started = Instant::now();
    let mut w = Writer::open(&args.out, opts).map_err(|e| e.to_string())?;
    let mut written = 0u64;
    let mut events = 0u64;
    while written < args.size {
        // Mostly a few hundred milliseconds apart, sometimes a pause.
        let step_ns = if g.rng.chance(2) {
            g.rng.below(600_000_000_000)
        } else {
            g.rng.below(2_000_000_000)
        };
        g.now += TimeDelta::nanoseconds(step_ns as i64);
        let (session, event) = g.event();
        let appended = w
            .append_at(g.now, session.as_deref(), &event)
            .map_err(|e| e.to_string())?;
        written += appended.len;
        events += 1;
    }
    w.commit().map_err(|e| e.to_string())?;
    drop(w);
    if args.torn {
        let newest = Listing::read(&args.out)
            .map_err(|e| e.to_string())?
            .newest()
            .cloned()
            .ok_or("no segment written")?;
        let (_, event) = g.event();
        let mut partial = Vec::new();
        journal::writer::write_line(&mut partial, events + 1, g.now, None, &event);
        partial.truncate(partial.len() / 2);
        fs::OpenOptions::new()
            .append(true)
            .open(newest.path())
            .and_then(|mut f| f.write_all(&partial))
            .map_err(|e| format!("{}: {e}", newest.path().display()))?;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "gen_journal: {events} events, {written} bytes in {:.2}s ({:.0} MB/s){} -> {}",
        secs,
        written as f64 / secs / 1e6,
        if args.torn { ", torn tail" } else { "" },
        args.out.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_journal: {e}");
            ExitCode::from(2)
        }
    }
}
