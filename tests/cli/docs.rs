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
