//! Message content through the connection: encoded into the write
//! buffer, large runs written straight from the caller's memory, a file
//! sent from the file; every write paced within its time.

use std::fs::File;
use std::io::{self, Read, Write};

use super::Connection;
use crate::block::{fill, IO_BLOCK};
use crate::encoder::DataEncoder;
use crate::error::Error;
use crate::stream::Stream;

/// Commands and a message file that together are no larger than this
/// leave in one write (the file copied after the commands): a lone small
/// segment of commands before the content can make a server that
/// answers the commands first wait for an ACK before it answers the rest.
const ONE_WRITE: u64 = 64 * 1024;

/// Appends `piece` to the write buffer, or, when the buffer would overflow,
/// writes the buffer out and then writes a large piece straight from the
/// caller's memory. Plain `write_all` only (see [`Stream`]'s `write`).
pub(super) fn put(stream: &mut impl Write, wbuf: &mut Vec<u8>, piece: &[u8]) -> io::Result<()> {
    if wbuf.len() + piece.len() <= IO_BLOCK {
        wbuf.extend_from_slice(piece);
        return Ok(());
    }
    stream.write_all(wbuf)?;
    wbuf.clear();
    if piece.len() >= IO_BLOCK / 2 {
        stream.write_all(piece)
    } else {
        wbuf.extend_from_slice(piece);
        Ok(())
    }
}

/// Copies all of `source` to `stream` through `block`: large writes, which
/// TLS turns into full records.
fn copy_through(
    source: &mut dyn Read,
    stream: &mut impl Write,
    block: &mut [u8],
) -> io::Result<u64> {
    let mut copied = 0;
    loop {
        let (n, ended) = fill(source, block)?;
        stream.write_all(&block[..n])?;
        copied += n as u64;
        if ended {
            return Ok(copied);
        }
    }
}

impl Connection {
    /// Streams message content through `encoder`: the first `filled` bytes
    /// of `block`, then the rest of `body`, read through `block` (made
    /// [`IO_BLOCK`] long). Ends with what [`DataEncoder::finish`] adds, left
    /// queued (not flushed) so that it can share a write with what
    /// follows. Returns the number of content bytes read.
    ///
    /// A failure to read `body` is reported as I/O on "reading the
    /// message"; the connection is then unusable, since the content was
    /// cut short.
    pub fn queue_body(
        &mut self,
        block: &mut Vec<u8>,
        filled: usize,
        body: &mut dyn Read,
        encoder: &mut DataEncoder,
        during: &str,
    ) -> Result<u64, Error> {
        block.resize(IO_BLOCK.max(filled), 0);
        self.guard(during, |conn| {
            conn.encode(&block[..filled], encoder, during)?;
            let mut total = filled as u64;
            loop {
                let (n, ended) = fill(body, block).map_err(|source| Error::Io {
                    during: format!("{during}: reading the message"),
                    source,
                })?;
                total += n as u64;
                conn.encode(&block[..n], encoder, during)?;
                if ended {
                    break;
                }
            }
            conn.end(encoder);
            conn.note_content(total);
            Ok(total)
        })
    }

    /// Encodes `content`, a whole message, into the write buffer, ending
    /// it as [`Connection::queue_body`] does. Large unchanged runs go to
    /// the socket without being copied.
    pub fn queue_content(
        &mut self,
        content: &[u8],
        encoder: &mut DataEncoder,
        during: &str,
    ) -> Result<(), Error> {
        self.guard(during, |conn| {
            conn.encode(content, encoder, during)?;
            conn.end(encoder);
            conn.note_content(content.len());
            Ok(())
        })
    }

    /// Queues what `encoder` adds at the end of a message with nothing
    /// more of it to come: after a 354 to a message that failed, a lone
    /// end of data.
    pub fn queue_end(&mut self, encoder: &mut DataEncoder, during: &str) -> Result<(), Error> {
        self.guard(during, |conn| {
            conn.end(encoder);
            Ok(())
        })
    }

    /// Encodes a block of content into the write buffer, writing it out
    /// whenever it holds a full block.
    fn encode(
        &mut self,
        content: &[u8],
        encoder: &mut DataEncoder,
        during: &str,
    ) -> Result<(), Error> {
        let (mut writer, wbuf) = self.paced();
        let result = encoder.encode(content, &mut |piece: &[u8]| put(&mut writer, wbuf, piece));
        result.map_err(|e| self.write_error(e, during))
    }

    /// The encoder's end of the message, into the write buffer (a few
    /// bytes: the buffer always has room).
    fn end(&mut self, encoder: &mut DataEncoder) {
        let wbuf = &mut self.wbuf;
        let _ = encoder.finish(&mut |p: &[u8]| -> Result<(), ()> {
            wbuf.extend_from_slice(p);
            Ok(())
        });
    }

    /// Queues bytes that are already encoded (a BDAT chunk's pieces, a
    /// prepared message), with the same rule as for content: large pieces
    /// go to the socket without being copied.
    pub fn queue_raw(&mut self, piece: &[u8], during: &str) -> Result<(), Error> {
        self.guard(during, |conn| {
            let (mut writer, wbuf) = conn.paced();
            let result = put(&mut writer, wbuf, piece);
            result.map_err(|e| conn.write_error(e, during))
        })
    }

    /// Sends `len` bytes of `file` from `offset` (where the file is
    /// positioned), unchanged, after what is queued. With what is queued
    /// they fit in [`ONE_WRITE`]: they are copied into the write buffer,
    /// to leave with the rest in one write. Otherwise what is queued is
    /// written, and then over plain TCP on Linux the kernel moves the
    /// file (`sendfile(2)`, the commands written with MSG_MORE to share
    /// its first segment), so it never passes through this process; any
    /// other way it is read through `block` (made [`IO_BLOCK`] long) and
    /// written. A file that ends early leaves the stream short of what was
    /// announced: that is an I/O error, and the connection is closed.
    pub fn queue_file(
        &mut self,
        file: &File,
        offset: u64,
        len: u64,
        block: &mut Vec<u8>,
        during: &str,
    ) -> Result<(), Error> {
        if self.wbuf.len() as u64 + len <= ONE_WRITE {
            // Small: copied after the commands, to leave with them (and
            // with whatever follows) in one write.
            return self.guard(during, |conn| {
                let mut taken = (&*file).take(len);
                let copied = taken
                    .read_to_end(&mut conn.wbuf)
                    .map_err(|source| Error::Io {
                        during: format!("{during}: reading the message"),
                        source,
                    })?;
                ended_early(copied as u64, len, during)
            });
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let by_kernel = matches!(self.stream, Stream::Tcp(_));
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let by_kernel = false;
        if !by_kernel {
            self.flush(during)?;
        }
        self.guard(during, |conn| {
            let copied = match &mut conn.stream {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                Stream::Tcp(_) => {
                    // The commands before the file, held by the kernel to
                    // go with its first bytes rather than alone.
                    let (mut writer, wbuf) = conn.paced();
                    let result = writer.write_all_more(wbuf);
                    wbuf.clear();
                    result.map_err(|e| conn.write_error(e, during))?;
                    let Stream::Tcp(tcp) = &conn.stream else {
                        unreachable!("checked above")
                    };
                    let clock = &mut conn.clock;
                    let mut before = |tcp: &std::net::TcpStream| {
                        clock.arm_write(|t| tcp.set_write_timeout(Some(t)))
                    };
                    crate::stream::sendfile::send(tcp, file, offset, len, &mut before)
                }
                _ => {
                    let _ = offset;
                    block.resize(IO_BLOCK, 0);
                    let (mut writer, _) = conn.paced();
                    copy_through(&mut file.take(len), &mut writer, block)
                }
            }
            .map_err(|e| conn.write_error(e, during))?;
            ended_early(copied, len, during)
        })
    }
}

/// A file that ended before `len` bytes leaves the stream short of what
/// was announced: an I/O error (the connection is then closed).
fn ended_early(copied: u64, len: u64, during: &str) -> Result<(), Error> {
    if copied < len {
        return Err(Error::Io {
            during: during.to_owned(),
            source: io::Error::new(io::ErrorKind::UnexpectedEof, "the message file ended early"),
        });
    }
    Ok(())
}
