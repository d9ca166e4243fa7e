//! The layers, checked in the source beside the compiler: the core
//! (`src/journal/`, `src/query.rs`) and the printer (`src/render/`) never
//! import the command line (`crate::cli`, `crate::cmd`, clap); the core also
//! never prints nor imports the printer or a terminal crate.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(under: &Path, into: &mut Vec<PathBuf>) {
    if under.is_file() {
        into.push(under.to_owned());
        return;
    }
    for entry in fs::read_dir(under).unwrap_or_else(|e| panic!("{}: {e}", under.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// `file:line: text` for every code line (comments aside) holding a forbidden string.
fn offences(roots: &[&str], forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for r in roots {
        rust_files(&root.join(r), &mut files);
    }
    assert!(files.len() > 3, "found the sources: {files:?}");
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if forbidden.iter().any(|f| code.contains(f)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, code));
            }
        }
    }
    found
}

#[test]
fn render_and_core_never_import_the_command_line() {
    let found = offences(
        &["src/render", "src/journal", "src/query.rs"],
        &["crate::cli", "crate::cmd", "clap::", "use clap"],
    );
    assert!(
        found.is_empty(),
        "imports from the command line:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_core_never_prints_nor_imports_the_printer() {
    let found = offences(
        &["src/journal", "src/query.rs"],
        &[
            "crate::render",
            "println!",
            "print!(",
            "comfy_table",
            "indicatif",
            "anstyle",
            "notify::",
        ],
    );
    assert!(
        found.is_empty(),
        "printing in the core:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_an_offence() {
    // The scan itself: a file that does import the command line is found.
    let found = offences(&["src/cmd"], &["crate::cli"]);
    assert!(!found.is_empty());
}
