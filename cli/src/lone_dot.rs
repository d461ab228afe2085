//! sendmail's old rule for standard input: a line holding a lone dot ends
//! the message (unless `-i` or `-oi` is given). The dot line and anything
//! after it are not part of the message.

use std::io::{self, Read};

const BUF: usize = 64 * 1024;

/// A reader that ends at a line `.` (`.\n`, `.\r\n`, or `.` or `.\r` at
/// the very end of the input).
pub struct LoneDot<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    at_line_start: bool,
    eof: bool,
    done: bool,
}

impl<R: Read> LoneDot<R> {
    pub fn new(inner: R) -> Self {
        LoneDot {
            inner,
            buf: vec![0; BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            at_line_start: true,
            eof: false,
            done: false,
        }
    }

    /// Reads more after what is buffered, moving that to the front.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<R: Read> Read for LoneDot<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.done {
                return Ok(0);
            }
            // A line that starts with a dot: look far enough to know.
            while self.at_line_start {
                let lone = match &self.buf[self.start..self.end] {
                    [] if self.eof => return Ok(0),
                    [b'.', b'\n', ..] | [b'.', b'\r', b'\n', ..] => Some(true),
                    [b'.'] | [b'.', b'\r'] if self.eof => Some(true),
                    [] | [b'.'] | [b'.', b'\r'] => None,
                    _ => Some(false),
                };
                match lone {
                    Some(true) => {
                        self.done = true;
                        return Ok(0);
                    }
                    Some(false) => break,
                    None => self.fill()?,
                }
            }
            if self.start == self.end {
                if self.eof {
                    return Ok(0);
                }
                self.fill()?;
                continue;
            }
            // Hand out up to the end of this line.
            let avail = &self.buf[self.start..self.end];
            let n = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => avail.len(),
            }
            .min(out.len());
            out[..n].copy_from_slice(&avail[..n]);
            self.at_line_start = avail[n - 1] == b'\n';
            self.start += n;
            return Ok(n);
        }
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

    fn through(input: &[u8]) -> Vec<u8> {
        let mut whole = Vec::new();
        LoneDot::new(input).read_to_end(&mut whole).unwrap();
        for step in [1, 2, 3, 5] {
            let mut again = Vec::new();
            LoneDot::new(Trickle { data: input, step })
                .read_to_end(&mut again)
                .unwrap();
            assert_eq!(again, whole, "step {step} of {input:?}");
        }
        whole
    }

    #[test]
    fn a_lone_dot_ends_the_message() {
        assert_eq!(through(b"a\n.\nafter\n"), b"a\n");
        assert_eq!(through(b"a\r\n.\r\nafter\r\n"), b"a\r\n");
        assert_eq!(through(b".\nnothing"), b"");
        assert_eq!(through(b"a\n."), b"a\n");
        assert_eq!(through(b"a\n.\r"), b"a\n");
    }

    #[test]
    fn other_dots_are_content() {
        for text in [
            &b"a\n..\nb\n"[..],
            b"a\n.x\n",
            b"a.\n.b\n",
            b"a\n .\n",
            b"a\n.\rx\n",
            b"no newline at the end",
            b"",
            b"\n\n",
        ] {
            assert_eq!(through(text), text, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn large_input_goes_through_in_pieces() {
        let line = b"0123456789abcdef.\n.x\n";
        let text = line.repeat(20_000);
        assert_eq!(through(&text), text);
        let mut ended = text.clone();
        ended.extend_from_slice(b".\nnot this\n");
        assert_eq!(through(&ended), text);
    }
}
