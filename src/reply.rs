//! Server replies: the three-digit code, the RFC 3463 enhanced status code
//! and the text, and the bounded parser that turns received lines into them.
//!
//! This is the bottom of the crate: it depends on nothing else in smtpc.

use std::borrow::Cow;
use std::fmt;

/// Longest reply line accepted, CRLF included. RFC 5321 4.5.3.1.5 allows 512
/// octets; real servers stay far below this, so anything longer is hostile.
pub const MAX_LINE_LEN: usize = 4096;
/// Most lines in one multiline reply (an EHLO reply has a dozen or two).
pub const MAX_LINES: usize = 256;
/// Most bytes in one reply, all lines together.
pub const MAX_REPLY_LEN: usize = 64 * 1024;

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
fn decimal(digits: &[u8]) -> u16 {
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

    /// True for a reply that closes the session: 421, the server is
    /// shutting the channel down (RFC 5321 3.8), whatever it answers.
    pub fn closes_session(&self) -> bool {
        self.code == 421
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

/// Why bytes from the server are not a valid reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The line does not start with three digits and SP, '-' or end of line.
    #[error("malformed reply line {0:?}")]
    BadLine(String),
    /// A line of a multiline reply has a different code than the first.
    #[error("reply lines carry different codes ({first} then {other})")]
    MixedCodes {
        /// The code of the first line.
        first: u16,
        /// The code that differed.
        other: u16,
    },
    /// A line longer than [`MAX_LINE_LEN`].
    #[error("reply line longer than {MAX_LINE_LEN} bytes")]
    LineTooLong,
    /// More than [`MAX_LINES`] lines or [`MAX_REPLY_LEN`] bytes.
    #[error("reply longer than {MAX_LINES} lines or {MAX_REPLY_LEN} bytes")]
    TooLong,
    /// The input ended before the last line of the reply.
    #[error("reply incomplete")]
    Incomplete,
    /// Bytes follow the last line of the reply.
    #[error("data after the end of the reply")]
    TrailingData,
}

/// Builds a [`Reply`] from lines pushed one at a time, enforcing the bounds.
#[derive(Debug, Default)]
pub struct ReplyParser {
    code: Option<u16>,
    raw: Vec<String>,
    bytes: usize,
    /// Emptied lines of replies given back by [`ReplyParser::recycle`],
    /// filled again before anything new is allocated.
    spare: Vec<String>,
}

/// Lines kept for reuse: enough for the usual replies.
const SPARE_LINES: usize = 8;
/// The largest line kept for reuse (a huge EHLO reply is not kept alive).
const SPARE_LINE_CAPACITY: usize = 512;
/// The room a new line starts with: a usual reply line fits.
const SPARE_LINE_ROOM: usize = 64;

impl ReplyParser {
    /// A parser waiting for the first line.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one line (with or without its line ending). Returns the reply
    /// when this was its last line.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        if line.len() > MAX_LINE_LEN {
            return Err(ReplyError::LineTooLong);
        }
        self.bytes += line.len();
        if self.raw.len() >= MAX_LINES || self.bytes > MAX_REPLY_LEN {
            return Err(ReplyError::TooLong);
        }
        let line = match line {
            [line @ .., b'\n'] => line,
            line => line,
        };
        let line = match line {
            [line @ .., b'\r'] => line,
            line => line,
        };
        let (code, last, text) = split_line(line)?;
        match self.code {
            None => self.code = Some(code),
            Some(first) if first != code => {
                return Err(ReplyError::MixedCodes { first, other: code });
            }
            Some(_) => {}
        }
        // A new line gets room for a usual one, so that it is not regrown
        // when it is reused for a longer line.
        let mut kept = self
            .spare
            .pop()
            .unwrap_or_else(|| String::with_capacity(SPARE_LINE_ROOM));
        match std::str::from_utf8(text) {
            Ok(text) => kept.push_str(text),
            Err(_) => kept.push_str(&String::from_utf8_lossy(text)),
        }
        self.raw.push(kept);
        if !last {
            return Ok(None);
        }
        let raw = std::mem::take(&mut self.raw);
        self.bytes = 0;
        Ok(Some(build(self.code.take().unwrap_or(code), raw)))
    }

    /// True when no line of a reply has been pushed yet.
    pub fn is_idle(&self) -> bool {
        self.raw.is_empty()
    }

    /// Drops a reply that was only partly read.
    pub(crate) fn reset(&mut self) {
        self.code = None;
        self.bytes = 0;
        let raw = std::mem::take(&mut self.raw);
        self.recycle_lines(raw);
    }

    /// Takes back a reply that is no longer needed: its line list and
    /// lines hold the next replies, so that a reply that is only checked
    /// costs no allocation.
    pub(crate) fn recycle(&mut self, reply: Reply) {
        self.recycle_lines(reply.lines);
    }

    fn recycle_lines(&mut self, mut lines: Vec<String>) {
        for mut line in lines.drain(..) {
            if self.spare.len() < SPARE_LINES && line.capacity() <= SPARE_LINE_CAPACITY {
                line.clear();
                self.spare.push(line);
            }
        }
        if self.raw.capacity() == 0 && lines.capacity() <= SPARE_LINES {
            self.raw = lines;
        }
    }
}

/// Splits a line (without line ending) into code, is-last-line and text.
fn split_line(line: &[u8]) -> Result<(u16, bool, &[u8]), ReplyError> {
    let bad = || ReplyError::BadLine(String::from_utf8_lossy(&line[..line.len().min(80)]).into());
    let digits = line.get(..3).ok_or_else(bad)?;
    // RFC 5321 4.2: first digit 2-5, second 0-5, third 0-9.
    let valid = matches!(digits[0], b'2'..=b'5')
        && matches!(digits[1], b'0'..=b'5')
        && digits[2].is_ascii_digit();
    if !valid {
        return Err(bad());
    }
    let code = decimal(digits);
    match line.get(3) {
        None => Ok((code, true, &[])),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => Err(bad()),
    }
}

/// Pulls the enhanced status code off the first line, and off every other
/// line that repeats it (RFC 2034 puts it on each line).
fn build(code: u16, mut lines: Vec<String>) -> Reply {
    // The length of the code and its space at the start of `line`, when it
    // starts with `want` (any code of the reply's class, for the first).
    let prefix = |line: &str, want: Option<EnhancedCode>| {
        EnhancedCode::parse_prefix(line)
            .filter(|(e, _)| want.map_or(u16::from(e.class) == code / 100, |w| *e == w))
            .map(|(e, rest)| (e, line.len() - rest.len()))
    };
    let enhanced = lines.first().and_then(|first| prefix(first, None));
    if let Some((e, len)) = enhanced {
        // In place: a reply is built for every command.
        lines[0].drain(..len);
        for line in &mut lines[1..] {
            if let Some((_, len)) = prefix(line, Some(e)) {
                line.drain(..len);
            }
        }
    }
    Reply {
        code,
        enhanced: enhanced.map(|(e, _)| e),
        lines,
        in_reply_to: None,
    }
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
    fn bare_lf_line_endings_accepted() {
        assert_eq!(parse("250-a\n250 b\n").unwrap().lines, ["a", "b"]);
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
    fn garbage_codes_rejected() {
        for bad in [
            "25a OK\r\n",
            "2500 OK\r\n",
            "25\r\n",
            "\r\n",
            "650 x\r\n",
            "260 x\r\n",
            "abc\r\n",
            "250x\r\n",
        ] {
            assert!(matches!(parse(bad), Err(ReplyError::BadLine(_))), "{bad:?}");
        }
    }

    #[test]
    fn mixed_codes_rejected() {
        assert_eq!(
            parse("250-a\r\n251 b\r\n"),
            Err(ReplyError::MixedCodes {
                first: 250,
                other: 251
            })
        );
    }

    #[test]
    fn non_utf8_and_nul_kept_lossily() {
        let r = Reply::parse(b"250 caf\xe9 \x00 ok\r\n").unwrap();
        assert_eq!(r.lines, ["caf\u{fffd} \u{0} ok"]);
        assert_eq!(r.to_string(), "250 caf\u{fffd} \\u{0} ok");
    }

    #[test]
    fn display_escapes_terminal_controls() {
        let r = Reply::parse(b"550 \x1b[31mred\r\n").unwrap();
        assert_eq!(r.to_string(), "550 \\u{1b}[31mred");
    }

    #[test]
    fn bounds() {
        let long = format!("250 {}\r\n", "x".repeat(MAX_LINE_LEN));
        assert_eq!(parse(&long), Err(ReplyError::LineTooLong));
        let many = "250-x\r\n".repeat(MAX_LINES + 1);
        assert_eq!(parse(&many), Err(ReplyError::TooLong));
        let big_line = format!("250-{}\r\n", "y".repeat(4000));
        assert_eq!(parse(&big_line.repeat(20)), Err(ReplyError::TooLong));
    }

    #[test]
    fn parser_is_reusable() {
        let mut p = ReplyParser::new();
        assert!(p.push_line(b"250-a\r\n").unwrap().is_none());
        assert!(!p.is_idle());
        assert_eq!(
            p.push_line(b"250 b\r\n").unwrap().unwrap().lines,
            ["a", "b"]
        );
        assert!(p.is_idle());
        assert_eq!(p.push_line(b"354 go\r\n").unwrap().unwrap().code, 354);
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

    #[test]
    fn incomplete_and_trailing() {
        assert_eq!(parse("250-a\r\n"), Err(ReplyError::Incomplete));
        assert_eq!(parse("250 a\r\n250 b\r\n"), Err(ReplyError::TrailingData));
    }

    /// Feeds `text` line by line to `parser` until a reply is complete.
    fn feed(parser: &mut ReplyParser, text: &str) -> Result<Reply, ReplyError> {
        for line in text.split_inclusive('\n') {
            if let Some(reply) = parser.push_line(line.as_bytes())? {
                return Ok(reply);
            }
        }
        Err(ReplyError::Incomplete)
    }

    #[test]
    fn a_recycled_reply_leaves_nothing_of_itself_in_the_next() {
        let mut parser = ReplyParser::new();
        let long = "x".repeat(300);
        let first = feed(
            &mut parser,
            &format!("250-2.1.0 first {long}\r\n250-second\r\n250 2.1.0 third\r\n"),
        )
        .unwrap();
        parser.recycle(first);
        let next = feed(&mut parser, "550 5.1.1 no\r\n").unwrap();
        assert_eq!((next.code, next.lines.clone()), (550, vec!["no".into()]));
        assert_eq!(next.enhanced.unwrap().to_string(), "5.1.1");
        parser.recycle(next);
        let again = feed(&mut parser, "354-a\r\n354 b\r\n").unwrap();
        assert_eq!(again.lines, ["a", "b"]);
        assert_eq!(again.enhanced, None);
    }

    #[test]
    fn a_reset_drops_a_partly_read_reply() {
        let mut parser = ReplyParser::new();
        assert_eq!(parser.push_line(b"250-half\r\n"), Ok(None));
        assert!(!parser.is_idle());
        parser.reset();
        assert!(parser.is_idle());
        // A different code is no mix with the dropped line.
        let r = feed(&mut parser, "221 bye\r\n").unwrap();
        assert_eq!((r.code, r.lines), (221, vec!["bye".to_owned()]));
    }

    #[test]
    fn spare_lines_are_bounded() {
        let mut parser = ReplyParser::new();
        let many: String = (0..50).map(|i| format!("250-line {i}\r\n")).collect();
        let r = feed(&mut parser, &(many + "250 end\r\n")).unwrap();
        parser.recycle(r);
        assert!(parser.spare.len() <= SPARE_LINES);
        assert_eq!(parser.raw.capacity(), 0, "a large line list is not kept");
    }
}
