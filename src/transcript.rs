//! The transcript: every line sent and received, as a person typing the
//! session by hand would see it, handed to the caller's function.
//!
//! Lines the client sends reach it already described (secrets redacted,
//! by [`crate::command`]); message content is summarised; lines from the
//! server are decoded lossily and shown without their line ending, and,
//! while AUTH runs, with the secret and the responses made of it hidden
//! ([`crate::redact`]).

use std::fmt;

/// Which way a transcript line went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// A line the client sent (secrets redacted).
    Sent,
    /// A line the server sent.
    Received,
    /// A note from the client, such as a summary of message content.
    Info,
}

/// The caller's function that sees every line.
pub(crate) type Hook = Box<dyn FnMut(Direction, &str) + Send>;

/// Where transcript lines go: the caller's function, or nowhere.
/// Nothing is formatted when no one listens (it is on every message's
/// path).
#[derive(Default)]
pub(crate) struct Transcript(Option<Hook>);

impl fmt::Debug for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Transcript(on)"
        } else {
            "Transcript(off)"
        })
    }
}

impl Transcript {
    pub fn new(hook: Option<Hook>) -> Self {
        Transcript(hook)
    }

    /// Passes on one line.
    pub fn note(&mut self, direction: Direction, line: &str) {
        if let Some(hook) = self.0.as_mut() {
            hook(direction, line);
        }
    }

    /// The summary line for `bytes` of message content.
    pub fn content(&mut self, bytes: impl fmt::Display) {
        if let Some(hook) = self.0.as_mut() {
            hook(
                Direction::Info,
                &format!("({bytes} bytes of message content)"),
            );
        }
    }

    /// A raw line from the server, line ending included.
    pub fn received(&mut self, line: &[u8]) {
        if let Some(hook) = self.0.as_mut() {
            let text = String::from_utf8_lossy(line);
            hook(Direction::Received, text.trim_end_matches(['\r', '\n']));
        }
    }
}
