//! Where output goes and how it may look: the one place that decides whether
//! stdout is a terminal, whether colours are on (`--color` and `NO_COLOR`,
//! decided once), and how stdout is buffered.

use std::env;
use std::io::{self, IsTerminal, Write};

/// `--color`: when to use colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorMode {
    /// On a terminal, unless `NO_COLOR` is set to a non-empty value.
    #[default]
    Auto,
    Always,
    Never,
}

/// What every command knows about where it prints.
#[derive(Debug, Clone, Copy)]
pub struct Console {
    /// stdout is a terminal.
    pub stdout_tty: bool,
    /// stderr is a terminal.
    pub stderr_tty: bool,
    /// Colours are on.
    pub color: bool,
    /// `NO_COLOR` is set to a non-empty value (it also hides stats' progress bar).
    pub no_color: bool,
}

impl Console {
    /// Looks at the real stdout/stderr and the environment, once.
    pub fn detect(mode: ColorMode) -> Self {
        let stdout_tty = io::stdout().is_terminal();
        let stderr_tty = io::stderr().is_terminal();
        let no_color = env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match mode {
            ColorMode::Always => true,
            ColorMode::Never => false,
            ColorMode::Auto => stdout_tty && !no_color,
        };
        Console {
            stdout_tty,
            stderr_tty,
            color,
            no_color,
        }
    }

    /// stdout, line-buffered on a terminal (or while following) so people see
    /// lines as they come, block-buffered otherwise for throughput.
    pub fn stdout(&self, line_buffered: bool) -> Box<dyn Write> {
        let out = io::stdout().lock();
        if self.stdout_tty || line_buffered {
            Box::new(io::LineWriter::new(out))
        } else {
            Box::new(io::BufWriter::with_capacity(64 * 1024, out))
        }
    }
}
