//! The bounded parser that turns received lines into [`Reply`] values,
//! reusing the memory of replies given back.

use super::{decimal, EnhancedCode, Reply};

/// Longest reply line accepted, CRLF included. RFC 5321 4.5.3.1.5 allows 512
/// octets; real servers stay far below this, so anything longer is hostile.
pub const MAX_LINE_LEN: usize = 4096;
/// Most lines in one multiline reply (an EHLO reply has a dozen or two).
pub const MAX_LINES: usize = 256;
/// Most bytes in one reply, all lines together.
pub const MAX_REPLY_LEN: usize = 64 * 1024;

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
    fn bare_lf_line_endings_accepted() {
        assert_eq!(parse("250-a\n250 b\n").unwrap().lines, ["a", "b"]);
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
