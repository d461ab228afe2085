//! The header block of a message read from standard input: read once, in
//! a bounded buffer, so that fields can be looked up, added and removed;
//! the body that follows is not held (the caller streams it).
//!
//! Only whole header lines are added or removed here. Line endings, dots
//! and everything else about the content are the library's business.

use std::io::{self, Read};

/// The most a header block may take.
pub const MAX_HEADER: usize = 1 << 20;
/// How much is read at a time.
const CHUNK: usize = 64 * 1024;

/// Why the header block could not be read.
#[derive(Debug)]
pub enum HeadError {
    /// No end of the header block within `MAX_HEADER` bytes.
    TooLarge,
    /// Reading failed.
    Io(io::Error),
}

/// One field: where its lines are in the block, and its name.
#[derive(Debug, Clone)]
struct Field {
    /// The field's bytes, continuation lines and line endings included.
    start: usize,
    end: usize,
    name_end: usize,
}

/// A message's header block and the start of its body.
#[derive(Debug)]
pub struct Head {
    block: Vec<u8>,
    fields: Vec<Field>,
    /// What was read after the header block (the blank line excluded).
    pub rest: Vec<u8>,
}

/// A line that starts a field: a name of printable characters other
/// than ':', then ':'. `None` when more bytes are needed to tell.
fn starts_field(line: &[u8]) -> Option<bool> {
    for (i, &b) in line.iter().enumerate() {
        match b {
            b':' => return Some(i > 0),
            33..=126 => {}
            _ => return Some(false),
        }
    }
    None
}

/// Reads the header block from `input`. The block ends at a blank line
/// (which is dropped: `render` writes its own), at a line that is not a
/// field (which starts the body), or at the end of the input. An mbox
/// `From ` line before the first field is dropped, as sendmail does.
pub fn read(input: &mut dyn Read) -> Result<Head, HeadError> {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut pos = 0; // the start of the line being looked at
    let mut eof = false;
    let mut head = Head {
        block: Vec::new(),
        fields: Vec::new(),
        rest: Vec::new(),
    };
    let mut first = true;
    loop {
        // A whole line (through its LF), or what is left at the end.
        let line_end = match buf[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => Some(pos + i + 1),
            None if eof => (pos < buf.len()).then_some(buf.len()),
            None => {
                let partial = &buf[pos..];
                let undecided = partial.is_empty()
                    || partial == b"\r"
                    // A continuation line, or mbox's `From ` line.
                    || (!head.fields.is_empty() && matches!(partial[0], b' ' | b'\t'))
                    || (first && (partial.starts_with(b"From ") || b"From ".starts_with(partial)))
                    || starts_field(partial) != Some(false);
                if buf.len() >= MAX_HEADER && undecided {
                    return Err(HeadError::TooLarge);
                }
                if !undecided {
                    // A long line that cannot be a field: the body starts
                    // here, whatever its length.
                    head.rest = buf.split_off(pos);
                    head.block = buf;
                    return Ok(head);
                }
                let old = buf.len();
                buf.resize(old + CHUNK, 0);
                let n = loop {
                    match input.read(&mut buf[old..]) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other.map_err(HeadError::Io)?,
                    }
                };
                buf.truncate(old + n);
                eof = n == 0;
                continue;
            }
        };
        let Some(end) = line_end else {
            // The input ended with the header block.
            head.block = buf;
            return Ok(head);
        };
        let line = &buf[pos..end];
        let content = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(line);
        if content.is_empty() {
            head.rest = buf.split_off(end);
            buf.truncate(pos);
            head.block = buf;
            return Ok(head);
        }
        if first && content.starts_with(b"From ") {
            // mbox's separator line, not a field.
            buf.drain(pos..end);
            first = false;
            continue;
        }
        first = false;
        let continues = matches!(content[0], b' ' | b'\t');
        if continues && !head.fields.is_empty() {
            head.fields.last_mut().expect("a field").end = end;
        } else if starts_field(content) == Some(true) {
            let name_end = pos + content.iter().position(|&b| b == b':').expect("a colon");
            head.fields.push(Field {
                start: pos,
                end,
                name_end,
            });
        } else {
            // Not a field: the body starts here (no blank line before it).
            head.rest = buf.split_off(pos);
            head.block = buf;
            return Ok(head);
        }
        if end > MAX_HEADER {
            return Err(HeadError::TooLarge);
        }
        pos = end;
    }
}

impl Head {
    fn name(&self, f: &Field) -> &[u8] {
        &self.block[f.start..f.name_end]
    }

    /// Whether a field of this name is present (names compare without
    /// case).
    pub fn has(&self, name: &str) -> bool {
        self.fields
            .iter()
            .any(|f| self.name(f).eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The values of every field of this name, unfolded (line breaks
    /// removed), in order. Bytes that are not UTF-8 are replaced.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| self.name(f).eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| {
                let raw = &self.block[f.name_end + 1..f.end];
                let unfolded: Vec<u8> = raw
                    .iter()
                    .copied()
                    .filter(|&b| b != b'\r' && b != b'\n')
                    .collect();
                String::from_utf8_lossy(&unfolded).trim().to_owned()
            })
            .collect()
    }

    /// The header block to send: the fields as read, less those named in
    /// `remove`, then `add` (`Name: value` each), then the blank line.
    pub fn render(&self, remove: &[&str], add: &[(&str, String)]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.block.len() + 256);
        for f in &self.fields {
            let name = self.name(f);
            if remove
                .iter()
                .any(|r| name.eq_ignore_ascii_case(r.as_bytes()))
            {
                continue;
            }
            let field = &self.block[f.start..f.end];
            out.extend_from_slice(field);
            if !field.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
        for (name, value) in add {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.data.len().min(self.step).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// The head read from `text`, with `rest` made the whole body (what
    /// was read past the header block and what the reader still has).
    fn head(text: &[u8]) -> Head {
        let read_all = |input: &mut dyn Read| {
            let mut h = read(input).unwrap();
            input.read_to_end(&mut h.rest).unwrap();
            h
        };
        // Every way the input may arrive must give the same result.
        let whole = read_all(&mut &text[..]);
        for step in [1, 2, 3, 7] {
            let again = read_all(&mut Trickle { data: text, step });
            assert_eq!(again.block, whole.block, "step {step}");
            assert_eq!(again.rest, whole.rest, "step {step}");
        }
        whole
    }

    #[test]
    fn fields_values_and_the_body() {
        let h = head(b"From: Anne <a@x.test>\r\nTo: b@y.test,\r\n c@y.test\r\nbcc: d@y.test\r\n\r\nBody\r\n\r\nmore\r\n");
        assert!(h.has("from") && h.has("TO") && h.has("Bcc"));
        assert!(!h.has("Date"));
        assert_eq!(h.values("To"), ["b@y.test, c@y.test"]);
        assert_eq!(h.values("BCC"), ["d@y.test"]);
        assert_eq!(h.rest, b"Body\r\n\r\nmore\r\n");
        assert_eq!(
            h.render(&["Bcc"], &[("Date", "now".into())]),
            b"From: Anne <a@x.test>\r\nTo: b@y.test,\r\n c@y.test\r\nDate: now\r\n\r\n"
        );
    }

    #[test]
    fn lf_endings_and_a_folded_bcc_removed_whole() {
        let h = head(b"Subject: s\nBcc: a@x.test,\n\tb@x.test\nCc: c@x.test\n\nbody\n");
        assert_eq!(h.values("Bcc"), ["a@x.test,\tb@x.test"]);
        assert_eq!(h.render(&["bcc"], &[]), b"Subject: s\nCc: c@x.test\n\r\n");
        assert_eq!(h.rest, b"body\n");
    }

    #[test]
    fn no_blank_line_before_the_body() {
        // The first line that is not a field starts the body; a blank line
        // goes between them.
        let h = head(b"Subject: s\nthis is the body\nSecond: line\n");
        assert_eq!(h.values("Subject"), ["s"]);
        assert!(!h.has("Second"));
        assert_eq!(h.render(&[], &[]), b"Subject: s\n\r\n");
        assert_eq!(h.rest, b"this is the body\nSecond: line\n");
        // No headers at all.
        let h = head(b"just a body\n");
        assert_eq!(
            h.render(&[], &[("From", "a@x.test".into())]),
            b"From: a@x.test\r\n\r\n"
        );
        assert_eq!(h.rest, b"just a body\n");
        // A continuation line first is not a field either.
        let h = head(b" indented\n");
        assert_eq!(h.rest, b" indented\n");
    }

    #[test]
    fn headers_only_and_empty_input() {
        let h = head(b"Subject: s\nTo: a@x.test");
        assert_eq!(h.values("To"), ["a@x.test"]);
        assert_eq!(h.render(&[], &[]), b"Subject: s\nTo: a@x.test\r\n\r\n");
        assert!(h.rest.is_empty());
        let h = head(b"");
        assert_eq!(h.render(&[], &[]), b"\r\n");
    }

    #[test]
    fn an_mbox_from_line_is_dropped() {
        let h = head(b"From abc123 Mon Sep 17 00:00:00 2001\nFrom: a@x.test\n\nbody\n");
        assert_eq!(h.values("From"), ["a@x.test"]);
        assert_eq!(h.render(&[], &[]), b"From: a@x.test\n\r\n");
    }

    #[test]
    fn the_header_block_is_bounded() {
        // One field longer than the bound.
        let mut big = b"X-Big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEADER + 10));
        big.extend_from_slice(b"\n\nbody\n");
        assert!(matches!(read(&mut &big[..]), Err(HeadError::TooLarge)));
        // Many fields.
        let many = b"X-Field: some value\n".repeat(MAX_HEADER / 20 + 10);
        assert!(matches!(read(&mut &many[..]), Err(HeadError::TooLarge)));
        // Just under it is fine.
        let under = b"X-Field: some value\n".repeat(MAX_HEADER / 20 - 10);
        let h = read(&mut &under[..]).unwrap();
        assert_eq!(h.values("X-Field").len(), MAX_HEADER / 20 - 10);
        // A body line longer than the bound, with no header before it,
        // is a body, not a header block.
        let mut long_body = b"no field here ".to_vec();
        long_body.extend(std::iter::repeat_n(b'b', MAX_HEADER * 2));
        let h = read(&mut &long_body[..]).unwrap();
        assert!(h.fields.is_empty());
        assert!(h.rest.len() <= MAX_HEADER + CHUNK);
        assert!(long_body.starts_with(&h.rest));
    }
}
