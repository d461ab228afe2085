//! What smtpc writes on the terminal: the trace of the exchange and the
//! error lines, with control characters escaped so that a hostile server
//! cannot drive the terminal.

use std::borrow::Cow;
use std::fmt::Display;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use smtpc::Direction;

/// `text` with every control character shown as an escape (`\u{1b}`).
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Writes one whole line at once (a failed write to a closed terminal or
/// pipe is not worth dying for).
fn line(mut out: impl Write, text: &str) {
    let mut buf = String::with_capacity(text.len() + 1);
    buf.push_str(text);
    buf.push('\n');
    let _ = out.write_all(buf.as_bytes());
}

/// An error line on standard error: `smtpc: ...`.
pub fn say(message: impl Display) {
    line(
        io::stderr(),
        &format!("smtpc: {}", escape(&message.to_string())),
    );
}

/// A line on standard output.
pub fn out(message: impl Display) {
    line(io::stdout(), &escape(&message.to_string()));
}

/// The transcript hook: with `show`, each line on standard error as typed
/// by hand (`C: ` sent, `S: ` received, indented notes). It also raises
/// `connected` at the first line, since the library reports nothing
/// before the TCP connection is made.
pub fn hook(show: bool, connected: Arc<AtomicBool>) -> impl FnMut(Direction, &str) + Send {
    move |direction, text| {
        connected.store(true, Ordering::Relaxed);
        if show {
            let mark = match direction {
                Direction::Sent => "C: ",
                Direction::Received => "S: ",
                _ => "   ",
            };
            line(io::stderr(), &format!("{mark}{}", escape(text)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert!(matches!(escape("250 plain"), Cow::Borrowed("250 plain")));
        assert_eq!(escape("220 \x1b[2Jhi\x07"), "220 \\u{1b}[2Jhi\\u{7}");
        assert_eq!(escape("a\rb\nc\u{9b}d"), "a\\rb\\nc\\u{9b}d");
        assert_eq!(escape("héllo"), "héllo");
    }
}
