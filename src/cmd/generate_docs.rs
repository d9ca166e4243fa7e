//! `journal generate-docs OUT_DIR` (hidden): writes `completions/` and `man/`
//! from the clap definitions in `src/cli.rs`. A test regenerates them into a
//! temporary directory and fails when the checked-in copies differ.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::exit_codes::ExitCode;

pub fn run(args: &crate::cli::GenerateDocsArgs) -> Result<ExitCode> {
    write_completions(&args.out_dir.join("completions"))?;
    write_man_pages(&args.out_dir.join("man"))?;
    Ok(ExitCode::Success)
}

fn write_completions(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = Cli::command();
        clap_complete::generate_to(shell, &mut cmd, "journal", dir)
            .with_context(|| format!("writing {shell} completions to {}", dir.display()))?;
    }
    Ok(())
}

fn write_man_pages(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = Cli::command();
    let mut pages = vec![("journal".to_owned(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("journal-{}", sub.get_name());
        // The page of a subcommand carries the exit codes too.
        let sub = sub
            .clone()
            .name(name.clone())
            .bin_name(name.replace('-', " "));
        pages.push((name, sub));
    }
    for (name, page) in pages {
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        let path = dir.join(format!("{name}.1"));
        fs::write(&path, buf).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
