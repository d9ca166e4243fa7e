//! Completions and man pages are generated from `src/cli.rs`; these tests fail
//! when the checked-in copies are stale, and check the clap definition itself.

use std::fs;
use std::path::Path;

use crate::common::*;

#[test]
fn completions_and_man_pages_are_current() {
    let tmp = tempfile::tempdir().unwrap();
    journal_cmd()
        .arg("generate-docs")
        .arg(tmp.path())
        .assert()
        .success();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["completions", "man"] {
        let fresh = tmp.path().join(sub);
        let mut names: Vec<_> = fs::read_dir(&fresh)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert!(!names.is_empty());
        for name in names {
            let want = fs::read(fresh.join(&name)).unwrap();
            let got = fs::read(root.join(sub).join(&name)).unwrap_or_default();
            assert!(
                got == want,
                "{sub}/{} is stale: regenerate with `cargo run -- generate-docs .` and commit",
                name.to_string_lossy()
            );
        }
    }
}

#[test]
fn help_and_man_page_document_the_exit_codes() {
    let out = stdout_of(journal_cmd().arg("--help"));
    for code in [
        "0  success",
        "1  the journal has errors",
        "2  could not run",
        "3  the writer's claim",
    ] {
        assert!(out.contains(code), "--help lacks '{code}':\n{out}");
    }
    let man =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/journal-inspect.1"))
            .unwrap();
    assert!(
        man.contains("could not run"),
        "journal-inspect.1 lacks the exit codes"
    );
}

#[test]
fn usage_errors_exit_2() {
    journal_cmd()
        .args(["inspect", "--no-such-flag"])
        .assert()
        .code(2);
    journal_cmd().args(["frobnicate"]).assert().code(2);
}

/// Every example in the README and in each `--help`, run on copies of
/// `samples/` with trycmd (`tests/examples/`). Outputs are snapshots:
/// `TRYCMD=overwrite cargo test --test cli examples_run` rewrites them, to be
/// reviewed like code.
#[test]
fn readme_and_help_examples_run() {
    trycmd::TestCases::new()
        .register_bin("journal", trycmd::cargo::cargo_bin("journal"))
        .env("TZ", "UTC")
        .env("HOME", "/nonexistent")
        // No JOURNAL_DIR here: the help examples set it per step (a value
        // given here would win over theirs); the README's pass DIR.
        .env("NO_COLOR", "")
        .timeout(std::time::Duration::from_secs(60))
        .case("tests/examples/*.md")
        .case("tests/examples/*.toml");
}

/// An example is a shell line in a ```sh block of the README, or a line of
/// a subcommand's `--help` after "Examples:"; its trailing `# comment` is not
/// part of it.
fn strip_comment(line: &str) -> String {
    let line = line.trim();
    match line.find(" # ") {
        Some(i) => line[..i].trim_end().to_owned(),
        None => line.to_owned(),
    }
}

/// No example in the README or a `--help` escapes the examples run by
/// `readme_and_help_examples_run`: each is quoted in `tests/examples/` above
/// its run (or above the name of the test that proves it, where it cannot
/// run there: `tail -f`, a pipe).
#[test]
fn every_readme_and_help_example_is_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut quoted = String::new();
    for entry in fs::read_dir(root.join("tests/examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            quoted += &fs::read_to_string(&path).unwrap();
        }
    }
    let mut examples = Vec::new();
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let mut in_sh = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        let example = strip_comment(line);
        // `cargo test` is the suite itself.
        if in_sh && !example.is_empty() && example != "cargo test" {
            examples.push(("README".to_owned(), example));
        }
    }
    for sub in [
        "inspect", "tail", "recover", "verify", "repair", "stats", "append", "prune",
    ] {
        let help = stdout_of(journal_cmd().args([sub, "--help"]));
        let mut in_examples = false;
        for line in help.lines() {
            if line.trim_end() == "Examples:" {
                in_examples = true;
            } else if in_examples && line.trim().is_empty() {
                in_examples = false;
            } else if in_examples {
                examples.push((format!("help ({sub})"), strip_comment(line)));
            }
        }
    }
    assert!(examples.len() > 40, "too few examples found: {examples:?}");
    let missing: Vec<String> = examples
        .iter()
        .filter(|(_, e)| !quoted.contains(&format!("`{e}`")))
        .map(|(from, e)| format!("{from}: `{e}`"))
        .collect();
    assert!(
        missing.is_empty(),
        "examples not run by tests/examples/ (quote each above its run):\n{}",
        missing.join("\n")
    );
}
