//! Message content is read in blocks of [`IO_BLOCK`] bytes, through one
//! reading loop, [`fill`], whatever it is read from: a caller's stream, a
//! message file, a C read callback.

use std::io::{self, Read};

/// Size of the blocks read from a message body and of the write buffer:
/// large enough that a big message costs few system calls.
pub(crate) const IO_BLOCK: usize = 256 * 1024;

/// Reads from `source` until `buf` is full or the source ends, retrying
/// reads that were interrupted. Returns the number of bytes read and
/// whether the source ended.
pub(crate) fn fill(source: &mut dyn Read, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let mut n = 0;
    while n < buf.len() {
        match source.read(&mut buf[n..]) {
            Ok(0) => return Ok((n, true)),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((n, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives its bytes a few at a time, with an interruption between reads.
    struct Trickle<'a> {
        data: &'a [u8],
        interrupt: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(3).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn fills_across_short_and_interrupted_reads() {
        let mut source = Trickle {
            data: b"abcdefghij",
            interrupt: false,
        };
        let mut buf = [0u8; 8];
        assert_eq!(fill(&mut source, &mut buf).unwrap(), (8, false));
        assert_eq!(&buf, b"abcdefgh");
        assert_eq!(fill(&mut source, &mut buf).unwrap(), (2, true));
        assert_eq!(&buf[..2], b"ij");
    }
}
