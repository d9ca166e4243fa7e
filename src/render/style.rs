//! Colours, from anstyle: the one place escape codes for colour are made.
//! Whether colours are on at all is decided once, in [`super::Console`].

use anstyle::{AnsiColor, Style};

pub(crate) const BOLD: Style = Style::new().bold();
pub(crate) const RED: Style = AnsiColor::Red.on_default();
pub(crate) const YELLOW: Style = AnsiColor::Yellow.on_default();
pub(crate) const GREEN: Style = AnsiColor::Green.on_default();

/// `text` in `style` when `on`, else as is.
pub(crate) fn paint(text: &str, style: Style, on: bool) -> String {
    if on {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_plain_sgr_ones() {
        assert_eq!(paint("error", RED, true), "\x1b[31merror\x1b[0m");
        assert_eq!(paint("warning", YELLOW, true), "\x1b[33mwarning\x1b[0m");
        assert_eq!(paint("done", GREEN, true), "\x1b[32mdone\x1b[0m");
        assert_eq!(paint("SEQ", BOLD, true), "\x1b[1mSEQ\x1b[0m");
        assert_eq!(paint("error", RED, false), "error");
    }
}
