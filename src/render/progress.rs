//! Progress bars on stderr (indicatif), for scans long enough to need one.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Console;

/// Journals smaller than this verify before a progress bar would help.
const VERIFY_MIN_BYTES: u64 = 64 << 20;

/// A bar, or nothing when none is drawn.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// `verify`'s bar: only on a terminal, not with `-q`, and for a large journal.
    pub fn verify(total: u64, console: &Console, quiet: bool) -> Self {
        if quiet || total < VERIFY_MIN_BYTES || !console.stderr_tty {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        // No colours in the template: it stays readable with NO_COLOR.
        if let Ok(style) = ProgressStyle::with_template(
            "verifying {bar:40} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
        ) {
            bar.set_style(style);
        }
        Progress(Some(bar))
    }

    /// `stats`' bar: when stderr is a terminal and NO_COLOR is unset.
    pub fn stats(total: u64, console: &Console) -> Self {
        if !console.stderr_tty || console.no_color {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} scanning {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        Progress(Some(bar))
    }

    /// A bar is drawn.
    pub fn is_shown(&self) -> bool {
        self.0.is_some()
    }

    pub fn inc(&self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
        }
    }

    /// Clears the bar: the report follows on a clean line.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
