//! Server replies: the three-digit code, the RFC 3463 enhanced status code
//! and the text; and ([`parser`]) the bounded parser that turns received
//! lines into them.
//!
//! This is the bottom of the crate: it depends on nothing else in smtpc.

mod parser;

pub use parser::{ReplyError, ReplyParser, MAX_LINES, MAX_LINE_LEN, MAX_REPLY_LEN};

use std::borrow::Cow;
use std::fmt;

/// The class of a reply, from its first digit (RFC 5321 4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyClass {
    /// 2yz: the requested action was completed.
    PositiveCompletion,
    /// 3yz: accepted, more input is needed (354 after DATA, 334 in AUTH).
    PositiveIntermediate,
    /// 4yz: not done, but the same request may succeed later.
    TransientNegative,
    /// 5yz: not done, and repeating it will not help.
    PermanentNegative,
}

/// An RFC 3463 enhanced status code such as `5.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    /// The subject, e.g. 1 for addressing status.
    pub subject: u16,
    /// The detail within the subject.
    pub detail: u16,
}

impl EnhancedCode {
    /// Parses `class.subject.detail` at the start of `text`, followed by a
    /// space or the end of the text. Returns the code and the rest of the text.
    ///
    /// ```
    /// use smtpc::EnhancedCode;
    /// let (code, rest) = EnhancedCode::parse_prefix("5.1.1 No such user").unwrap();
    /// assert_eq!(code.to_string(), "5.1.1");
    /// assert_eq!(rest, "No such user");
    /// ```
    pub fn parse_prefix(text: &str) -> Option<(EnhancedCode, &str)> {
        // Byte by byte: every reply line passes here.
        let bytes = text.as_bytes();
        let (class, at) = number(bytes, 0, 1)?;
        let (subject, at) = number(bytes, dot(bytes, at)?, 3)?;
        let (detail, end) = number(bytes, dot(bytes, at)?, 3)?;
        let rest = match bytes.get(end) {
            None => "",
            Some(b' ') => &text[end + 1..],
            Some(_) => return None,
        };
        if !matches!(class, 2 | 4 | 5) {
            return None;
        }
        let code = EnhancedCode {
            class: class as u8,
            subject,
            detail,
        };
        Some((code, rest))
    }
}

/// The position after the dot at `at`.
fn dot(bytes: &[u8], at: usize) -> Option<usize> {
    (bytes.get(at) == Some(&b'.')).then_some(at + 1)
}

/// A run of 1 to `max` ASCII digits at `from`, without a superfluous
/// leading zero, and the position after it.
fn number(bytes: &[u8], from: usize, max: usize) -> Option<(u16, usize)> {
    let digits = bytes
        .get(from..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || digits > max || (digits > 1 && bytes[from] == b'0') {
        return None;
    }
    Some((decimal(&bytes[from..from + digits]), from + digits))
}

/// The value of at most four ASCII digits (checked by the caller).
pub(crate) fn decimal(digits: &[u8]) -> u16 {
    digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'))
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// A complete server reply, possibly of several lines.
///
/// `lines` holds the text of each line without the code, the separator and,
/// when the reply carries one, the enhanced status code.
///
/// ```
/// use smtpc::{Reply, ReplyClass};
/// let reply = Reply::parse(b"550-5.1.1 No such user\r\n550 5.1.1 Try another\r\n").unwrap();
/// assert_eq!(reply.code, 550);
/// assert_eq!(reply.class(), ReplyClass::PermanentNegative);
/// assert_eq!(reply.enhanced.unwrap().to_string(), "5.1.1");
/// assert_eq!(reply.lines, ["No such user", "Try another"]);
/// assert_eq!(reply.to_string(), "550 5.1.1 No such user / Try another");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code, 200 to 559.
    pub code: u16,
    /// The enhanced status code at the start of the text, when there is one.
    pub enhanced: Option<EnhancedCode>,
    /// The text of each line (lossily decoded when it is not UTF-8).
    pub lines: Vec<String>,
    /// What this reply answered, as the transcript shows it.
    pub(crate) in_reply_to: Option<Cow<'static, str>>,
}

impl Reply {
    /// The class given by the first digit of the code.
    pub fn class(&self) -> ReplyClass {
        match self.code / 100 {
            2 => ReplyClass::PositiveCompletion,
            3 => ReplyClass::PositiveIntermediate,
            4 => ReplyClass::TransientNegative,
            _ => ReplyClass::PermanentNegative,
        }
    }

    /// True for a reply after which the server takes no more commands,
    /// whatever it answers: 421, the server is shutting the channel down
    /// (RFC 5321 3.8), and 221, it said goodbye (the answer to QUIT; to
    /// anything else, the session is over just the same).
    pub fn closes_session(&self) -> bool {
        matches!(self.code, 421 | 221)
    }

    /// True for 2yz replies.
    pub fn is_positive(&self) -> bool {
        self.class() == ReplyClass::PositiveCompletion
    }

    /// What this reply answered: the command line as sent (secrets
    /// redacted), `end of data`, or `greeting`. `None` for a reply made by
    /// [`Reply::parse`]. Errors use it to say what was being done.
    pub fn in_reply_to(&self) -> Option<&str> {
        self.in_reply_to.as_deref()
    }

    /// All lines joined with a newline.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The first line's text (empty when the reply has no text).
    pub fn first_line(&self) -> &str {
        self.lines.first().map(String::as_str).unwrap_or("")
    }

    /// Parses one complete reply from `bytes` (every line ending in LF or
    /// CRLF). Mostly useful in tests; the client parses incrementally.
    pub fn parse(bytes: &[u8]) -> Result<Reply, ReplyError> {
        let mut parser = ReplyParser::new();
        let mut rest = bytes;
        loop {
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                return Err(ReplyError::Incomplete);
            };
            let (line, tail) = rest.split_at(nl + 1);
            rest = tail;
            if let Some(reply) = parser.push_line(line)? {
                return if rest.is_empty() {
                    Ok(reply)
                } else {
                    Err(ReplyError::TrailingData)
                };
            }
        }
    }

    /// The server's queue id from the usual forms of a reply to the end of
    /// data: Postfix's `queued as ID`, Exim's `id=ID`. `None` when the text
    /// has neither.
    ///
    /// ```
    /// let r = smtpc::Reply::parse(b"250 2.0.0 Ok: queued as 4Xyz12\r\n").unwrap();
    /// assert_eq!(r.queue_id(), Some("4Xyz12"));
    /// ```
    pub fn queue_id(&self) -> Option<&str> {
        for line in &self.lines {
            for marker in ["queued as ", "id="] {
                if let Some(pos) = line.find(marker) {
                    let id = line[pos + marker.len()..]
                        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
                        .next()
                        .unwrap_or("");
                    if !id.is_empty() {
                        return Some(id);
                    }
                }
            }
        }
        None
    }
}

impl fmt::Display for Reply {
    /// `code [enhanced] text`, lines separated by ` / `, control characters
    /// escaped so that a hostile server cannot write to a terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(enhanced) = self.enhanced {
            write!(f, " {enhanced}")?;
        }
        for (i, line) in self.lines.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { " / " })?;
            write_escaped(f, line)?;
        }
        Ok(())
    }
}

/// Writes `text` with control characters shown as escapes.
pub(crate) fn write_escaped(f: &mut impl fmt::Write, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            f.write_char(c)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Reply, ReplyError> {
        Reply::parse(s.as_bytes())
    }

    #[test]
    fn single_line() {
        let r = parse("250 OK\r\n").unwrap();
        assert_eq!(
            (r.code, r.enhanced, r.lines.clone()),
            (250, None, vec!["OK".into()])
        );
        assert_eq!(r.to_string(), "250 OK");
    }

    #[test]
    fn code_without_text_is_valid() {
        let r = parse("221\r\n").unwrap();
        assert_eq!(r.code, 221);
        assert_eq!(r.lines, [""]);
        assert_eq!(r.to_string(), "221 ");
    }

    #[test]
    fn ehlo_reply_with_empty_last_line() {
        let r = parse("250-sink.example\r\n250-PIPELINING\r\n250 \r\n").unwrap();
        assert_eq!(r.lines, ["sink.example", "PIPELINING", ""]);
    }

    #[test]
    fn enhanced_code_parsed_and_stripped_from_each_line() {
        let r = parse("550-5.1.1 one\r\n550 5.1.1 two\r\n").unwrap();
        assert_eq!(
            r.enhanced,
            Some(EnhancedCode {
                class: 5,
                subject: 1,
                detail: 1
            })
        );
        assert_eq!(r.lines, ["one", "two"]);
        assert_eq!(r.to_string(), "550 5.1.1 one / two");
    }

    #[test]
    fn enhanced_code_must_match_the_class() {
        let r = parse("250 5.1.1 odd\r\n").unwrap();
        assert_eq!(r.enhanced, None);
        assert_eq!(r.lines, ["5.1.1 odd"]);
    }

    #[test]
    fn enhanced_code_alone() {
        let r = parse("250 2.0.0\r\n").unwrap();
        assert_eq!(r.enhanced.unwrap().to_string(), "2.0.0");
        assert_eq!(r.lines, [""]);
    }

    #[test]
    fn not_enhanced_codes() {
        for text in [
            "2.0", "2.0.0.0", "3.0.0", "2.1000.0", "2.01.0", "2.a.0", "2.0.0x",
        ] {
            assert!(EnhancedCode::parse_prefix(text).is_none(), "{text}");
        }
        let (c, rest) = EnhancedCode::parse_prefix("4.7.999 later").unwrap();
        assert_eq!((c.class, c.subject, c.detail, rest), (4, 7, 999, "later"));
    }

    #[test]
    fn display_escapes_terminal_controls() {
        let r = Reply::parse(b"550 \x1b[31mred\r\n").unwrap();
        assert_eq!(r.to_string(), "550 \\u{1b}[31mred");
    }

    #[test]
    fn classes() {
        let class = |s: &str| parse(s).unwrap().class();
        assert_eq!(class("220 x\r\n"), ReplyClass::PositiveCompletion);
        assert_eq!(class("354 x\r\n"), ReplyClass::PositiveIntermediate);
        assert_eq!(class("421 x\r\n"), ReplyClass::TransientNegative);
        assert_eq!(class("554 x\r\n"), ReplyClass::PermanentNegative);
    }

    #[test]
    fn queue_ids() {
        let id = |s: &str| parse(s).unwrap().queue_id().map(str::to_owned);
        assert_eq!(
            id("250 2.0.0 Ok: queued as 4ABC\r\n").as_deref(),
            Some("4ABC")
        );
        assert_eq!(
            id("250 OK id=1q2w3e-000\r\n").as_deref(),
            Some("1q2w3e-000")
        );
        assert_eq!(id("250 OK\r\n"), None);
    }
}
