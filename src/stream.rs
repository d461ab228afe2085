//! The connection: a byte stream with a read buffer for replies, a write
//! buffer that coalesces commands into one write, deadlines, and the
//! transcript.
//!
//! Everything that touches the socket goes through [`Connection`], so the
//! bounds (line length, reply size, time) are enforced in one place.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use native_tls::{HandshakeError, TlsConnector, TlsStream};

use crate::command::Command;
use crate::data::DataEncoder;
use crate::error::Error;
use crate::reply::{Reply, ReplyError, ReplyParser, MAX_LINE_LEN};

/// Size of the blocks read from a message body and of the write buffer:
/// large enough that a big message costs few system calls.
pub(crate) const IO_BLOCK: usize = 256 * 1024;
/// Read buffer for replies; holds at least one maximal line.
const READ_BUF: usize = 4 * MAX_LINE_LEN;

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

/// A function that sees every line of the exchange.
pub type TranscriptHook = Box<dyn FnMut(Direction, &str) + Send>;

/// A stream the caller supplies instead of a TCP connection (for tunnels,
/// tests and fuzzing). Timeouts are then the stream's own business.
pub trait Transport: Read + Write + Send {}
impl<T: Read + Write + Send> Transport for T {}

pub(crate) enum Stream {
    Tcp(TcpStream),
    Custom(Box<dyn Transport>),
    /// TLS over either of the above.
    Tls(Box<TlsStream<Stream>>),
    /// Nothing: the stream was closed or is being upgraded.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}

impl Stream {
    fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            // A zero timeout means "none" to the OS; never pass it.
            Stream::Tcp(s) => s.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))),
            Stream::Tls(s) => s.get_ref().set_read_timeout(timeout),
            Stream::Custom(_) | Stream::Gone => Ok(()),
        }
    }

    fn shutdown(&self) {
        match self {
            Stream::Tcp(s) => {
                let _ = s.shutdown(Shutdown::Both);
            }
            Stream::Tls(s) => s.get_ref().shutdown(),
            Stream::Custom(_) | Stream::Gone => {}
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Custom(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => Err(gone()),
        }
    }
}

impl Write for Stream {
    // Plain `write`: on Linux std sends with MSG_NOSIGNAL, so a closed peer
    // gives EPIPE instead of killing a C host with SIGPIPE. (`writev` would
    // not; never use write_vectored here.)
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Custom(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Gone => Err(gone()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Custom(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Gone => Err(gone()),
        }
    }
}

/// Appends `piece` to the write buffer, or, when the buffer would overflow,
/// writes the buffer out and then writes a large piece straight from the
/// caller's memory. Plain `write_all` only (see [`Stream`]'s `write`).
fn put(stream: &mut Stream, wbuf: &mut Vec<u8>, piece: &[u8]) -> io::Result<()> {
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

/// Whether the socket's read timeout must be set again before a read that
/// must end within `remaining`. A timeout that fires a little early only
/// costs a loop; one that fires late would break the deadline, and one far
/// too short would wake the reader for nothing. Between those, the value
/// already set is kept, which spares a system call per reply.
fn needs_arming(armed: Option<Duration>, remaining: Duration) -> bool {
    match armed {
        None => true,
        Some(t) => t > remaining + remaining / 64 || t < remaining / 2,
    }
}

/// Copies all of `source` to `stream` through `block` (made IO_BLOCK
/// long): large writes, which TLS turns into full records.
fn copy_through(
    source: &mut impl Read,
    stream: &mut Stream,
    block: &mut Vec<u8>,
) -> io::Result<u64> {
    block.resize(IO_BLOCK, 0);
    let mut copied = 0;
    loop {
        let n = match source.read(block) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        stream.write_all(&block[..n])?;
        copied += n as u64;
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod sendfile {
    use std::fs::File;
    use std::io;
    use std::net::TcpStream;

    use nix::errno::Errno;
    use nix::sys::sendfile::sendfile64;
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};

    /// Sends `len` bytes of `file` from `offset` with `sendfile(2)`, and
    /// returns how many went (fewer if the file ended early).
    ///
    /// Unlike `send`, `sendfile` has no MSG_NOSIGNAL: writing to a
    /// connection the server has closed raises SIGPIPE, which kills a host
    /// program that has not ignored it. So SIGPIPE is blocked for this
    /// thread during the calls, and one raised meanwhile, left pending by
    /// the block, is taken back before the mask is restored. (A thread
    /// that blocks SIGPIPE itself keeps whatever is pending.)
    pub(super) fn send(tcp: &TcpStream, file: &File, offset: u64, len: u64) -> io::Result<u64> {
        let pipe = SigSet::from(Signal::SIGPIPE);
        let old = pipe.thread_swap_mask(SigmaskHow::SIG_BLOCK)?;
        let result = send_all(tcp, file, offset, len);
        if matches!(&result, Err(e) if e.raw_os_error() == Some(Errno::EPIPE as i32))
            && !old.contains(Signal::SIGPIPE)
            && sigpipe_pending()
        {
            let _ = pipe.wait();
        }
        old.thread_set_mask()?;
        result
    }

    fn send_all(tcp: &TcpStream, file: &File, offset: u64, len: u64) -> io::Result<u64> {
        let mut sent = 0;
        while sent < len {
            let mut at = i64::try_from(offset + sent).map_err(|_| Errno::EOVERFLOW)?;
            // At most 1 GiB a call (the kernel's own cap is just under 2 GiB).
            let count = (len - sent).min(1 << 30) as usize;
            match sendfile64(tcp, file, Some(&mut at), count) {
                Ok(0) => break,
                Ok(n) => sent += n as u64,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(sent)
    }

    /// Whether a SIGPIPE is pending for this thread, from procfs; true
    /// when that cannot be read, since EPIPE from a socket always raises
    /// one. (Waiting for a signal that is not pending would never end.)
    fn sigpipe_pending() -> bool {
        let Ok(status) = std::fs::read_to_string("/proc/thread-self/status") else {
            return true;
        };
        status
            .lines()
            .find_map(|l| l.strip_prefix("SigPnd:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_none_or(|mask| mask & (1 << (Signal::SIGPIPE as i32 - 1)) != 0)
    }
}

/// A connection to the server: buffered, bounded, transcribed.
pub(crate) struct Connection {
    stream: Stream,
    timeout: Duration,
    rbuf: Box<[u8]>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    /// Scratch block for reading message bodies, reused for every message.
    body_block: Vec<u8>,
    transcript: Option<TranscriptHook>,
    /// Set once the byte stream can no longer be trusted or was closed.
    closed: bool,
    /// The socket's read timeout as last set (None: unknown).
    read_timeout: Option<Duration>,
    /// Parses replies, reusing the memory of those given back.
    parser: ReplyParser,
    /// Command names given back with their replies, for reuse.
    names: Vec<String>,
}

/// Command names kept for reuse: at least as many as there can be
/// replies pending at once in a pipelined batch.
pub(crate) const SPARE_NAMES: usize = 128;
/// The largest command name kept for reuse.
const SPARE_NAME_CAPACITY: usize = 512;
/// The room a new command name starts with: a usual MAIL or RCPT line
/// fits, so that it is not regrown.
const NAME_ROOM: usize = 96;

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("timeout", &self.timeout)
            .field("buffered_reply_bytes", &(self.rend - self.rstart))
            .field("pending_write_bytes", &self.wbuf.len())
            .finish_non_exhaustive()
    }
}

/// Maps a socket error to ours: a timed-out read or write is a timeout.
/// On a TLS stream, an error that is not the socket's own is TLS talking
/// (an alert such as "certificate required", a bad record).
fn io_error(e: io::Error, during: &str, tls: bool) -> Error {
    let during = during.to_owned();
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout { during },
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Error::ConnectionClosed { during },
        io::ErrorKind::Other if tls => Error::Tls {
            during,
            source: Box::new(e),
        },
        _ => Error::Io { during, source: e },
    }
}

impl Connection {
    pub fn new(stream: Stream, timeout: Duration, transcript: Option<TranscriptHook>) -> Self {
        Connection {
            stream,
            timeout,
            rbuf: vec![0; READ_BUF].into_boxed_slice(),
            rstart: 0,
            rend: 0,
            wbuf: Vec::with_capacity(IO_BLOCK + 4096),
            body_block: Vec::new(),
            transcript,
            closed: false,
            read_timeout: None,
            parser: ReplyParser::new(),
            names: Vec::new(),
        }
    }

    /// Fails when the connection is closed; otherwise runs `f` and closes
    /// the connection if what happened leaves the stream in an unknown
    /// state (I/O error, timeout, malformed reply) or the server is leaving.
    fn guard<T>(
        &mut self,
        during: &str,
        f: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if self.closed {
            return Err(Error::ConnectionClosed {
                during: during.to_owned(),
            });
        }
        let result = f(self);
        if let Err(e) = &result {
            if e.ends_session() {
                self.shutdown();
            }
        }
        result
    }

    /// True once the connection was closed (by QUIT, the server, or an
    /// error that left the byte stream in an unknown state).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub fn note(&mut self, direction: Direction, line: &str) {
        if let Some(hook) = self.transcript.as_mut() {
            hook(direction, line);
        }
    }

    /// The transcript line for `bytes` of message content; formatted only
    /// when someone is listening (it is on every message's path).
    pub fn note_content(&mut self, bytes: impl fmt::Display) {
        if let Some(hook) = self.transcript.as_mut() {
            hook(
                Direction::Info,
                &format!("({bytes} bytes of message content)"),
            );
        }
    }

    /// Queues a command in the write buffer; nothing is sent until
    /// [`Connection::flush`]. Returns how the transcript shows it.
    pub fn queue(&mut self, command: &Command<'_>) -> String {
        let mut shown = self
            .names
            .pop()
            .unwrap_or_else(|| String::with_capacity(NAME_ROOM));
        command.encode_described(&mut self.wbuf, &mut shown);
        self.note(Direction::Sent, &shown);
        shown
    }

    /// Takes back a reply that is no longer needed, and the command name
    /// it kept, so that the next ones reuse their memory.
    pub fn recycle(&mut self, mut reply: Reply) {
        if let Some(Cow::Owned(name)) = reply.in_reply_to.take() {
            if self.names.len() < SPARE_NAMES && name.capacity() <= SPARE_NAME_CAPACITY {
                self.names.push(name);
            }
        }
        self.parser.recycle(reply);
    }

    /// Writes everything queued, in one write where the OS allows.
    pub fn flush(&mut self, during: &str) -> Result<(), Error> {
        self.guard(during, |conn| {
            if conn.wbuf.is_empty() {
                return Ok(());
            }
            let result = conn.stream.write_all(&conn.wbuf);
            conn.wbuf.clear();
            result.map_err(|e| io_error(e, during, conn.is_encrypted()))
        })
    }

    /// Sends one command and reads its reply.
    pub fn execute(&mut self, command: &Command<'_>) -> Result<Reply, Error> {
        let shown = self.queue(command);
        self.flush(&shown)?;
        self.read_reply(&shown)
    }

    /// Reads one complete reply, which must arrive within the timeout
    /// however slowly its bytes come. `during` names what it answers.
    pub fn read_reply(&mut self, during: &str) -> Result<Reply, Error> {
        self.read_reply_to(Cow::Owned(during.to_owned()))
    }

    /// [`Connection::read_reply`], keeping `during` in the reply as what
    /// it answered without copying it.
    pub fn read_reply_to(&mut self, during: Cow<'static, str>) -> Result<Reply, Error> {
        let mut reply = self.guard(&during, |conn| conn.read_reply_inner(&during))?;
        if reply.code == 421 {
            // The server is closing the channel (RFC 5321 3.8).
            self.shutdown();
        }
        reply.in_reply_to = Some(during);
        Ok(reply)
    }

    fn read_reply_inner(&mut self, during: &str) -> Result<Reply, Error> {
        let mut parser = std::mem::take(&mut self.parser);
        let result = self.parse_reply(&mut parser, during);
        if result.is_err() {
            parser.reset();
        }
        self.parser = parser;
        result
    }

    fn parse_reply(&mut self, parser: &mut ReplyParser, during: &str) -> Result<Reply, Error> {
        // Set when the reply is not all here yet: one already read costs
        // no clock reading (in a pipelined batch most are).
        let mut deadline = None;
        let malformed = |source: ReplyError| Error::MalformedReply {
            during: during.to_owned(),
            source,
        };
        loop {
            let pending = &self.rbuf[self.rstart..self.rend];
            if let Some(nl) = memchr::memchr(b'\n', pending) {
                let line = &pending[..=nl];
                self.rstart += nl + 1;
                if let Some(hook) = self.transcript.as_mut() {
                    let text = String::from_utf8_lossy(line);
                    hook(Direction::Received, text.trim_end_matches(['\r', '\n']));
                }
                if let Some(reply) = parser.push_line(line).map_err(malformed)? {
                    return Ok(reply);
                }
                continue;
            }
            if pending.len() > MAX_LINE_LEN {
                return Err(malformed(ReplyError::LineTooLong));
            }
            self.fill(&mut deadline, during)?;
        }
    }

    /// How many bytes beyond the last reply have already arrived.
    pub fn buffered_input(&self) -> usize {
        self.rend - self.rstart
    }

    /// True once TLS protects the connection.
    pub fn is_encrypted(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Runs the TLS handshake over the current stream, bounded by the
    /// timeout however the server stalls. The caller has checked that no
    /// plaintext is left unread.
    pub fn start_tls(&mut self, connector: &TlsConnector, name: &str) -> Result<(), Error> {
        let during = format!("TLS handshake with {name}");
        self.guard(&during, |conn| {
            conn.rstart = 0;
            conn.rend = 0;
            conn.read_timeout = None;
            let deadline = Instant::now() + conn.timeout;
            let plain = std::mem::replace(&mut conn.stream, Stream::Gone);
            let timed_out = || Error::Timeout {
                during: during.clone(),
            };
            let remaining = || deadline.saturating_duration_since(Instant::now());
            plain
                .set_read_timeout(remaining())
                .map_err(|e| io_error(e, &during, false))?;
            let mut attempt = connector.connect(name, plain);
            loop {
                match attempt {
                    Ok(tls) => {
                        conn.stream = Stream::Tls(Box::new(tls));
                        conn.note(Direction::Info, &format!("TLS established with {name}"));
                        return Ok(());
                    }
                    Err(HandshakeError::Failure(e)) => {
                        return Err(Error::Tls {
                            during: during.clone(),
                            source: Box::new(e),
                        })
                    }
                    // A socket timeout mid-handshake surfaces as WouldBlock.
                    Err(HandshakeError::WouldBlock(mid)) => {
                        if remaining().is_zero() {
                            return Err(timed_out());
                        }
                        mid.get_ref()
                            .set_read_timeout(remaining())
                            .map_err(|e| io_error(e, &during, false))?;
                        attempt = mid.handshake();
                    }
                }
            }
        })
    }

    /// Reads more bytes into the reply buffer before `deadline`, which the
    /// first wait sets to the timeout from now.
    fn fill(&mut self, deadline: &mut Option<Instant>, during: &str) -> Result<(), Error> {
        if self.rstart > 0 {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
        loop {
            let now = Instant::now();
            let deadline = *deadline.get_or_insert(now + self.timeout);
            if now >= deadline {
                return Err(Error::Timeout {
                    during: during.to_owned(),
                });
            }
            let tls = self.is_encrypted();
            let remaining = deadline - now;
            if needs_arming(self.read_timeout, remaining) {
                self.stream
                    .set_read_timeout(remaining)
                    .map_err(|e| io_error(e, during, tls))?;
                self.read_timeout = Some(remaining);
            }
            match self.stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => {
                    return Err(Error::ConnectionClosed {
                        during: during.to_owned(),
                    })
                }
                Ok(n) => {
                    self.rend += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The OS timeout fired: loop to check the deadline.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(io_error(e, during, tls)),
            }
        }
    }

    /// Streams a message body through `encoder`, ending with what
    /// [`DataEncoder::finish`] adds, and leaves the last piece queued (not
    /// flushed) so that it can share a write with what follows. Returns the
    /// number of bytes read from `body`.
    ///
    /// A failure to read `body` is reported as I/O on "reading the message";
    /// the connection is then unusable because the content was cut short.
    pub fn queue_body(
        &mut self,
        body: &mut dyn Read,
        encoder: &mut DataEncoder,
        during: &str,
    ) -> Result<u64, Error> {
        let mut block = std::mem::take(&mut self.body_block);
        block.resize(IO_BLOCK, 0);
        let result = self.guard(during, |conn| {
            conn.queue_body_with(body, encoder, during, &mut block)
        });
        self.body_block = block;
        result
    }

    fn queue_body_with(
        &mut self,
        body: &mut dyn Read,
        encoder: &mut DataEncoder,
        during: &str,
        block: &mut [u8],
    ) -> Result<u64, Error> {
        let mut total = 0u64;
        loop {
            let n = match body.read(block) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Io {
                        during: format!("{during}: reading the message"),
                        source,
                    })
                }
            };
            total += n as u64;
            self.queue_content_inner(&block[..n], encoder, during)?;
        }
        let wbuf = &mut self.wbuf;
        let _ = encoder.finish(&mut |p: &[u8]| -> Result<(), ()> {
            wbuf.extend_from_slice(p);
            Ok(())
        });
        self.note_content(total);
        Ok(total)
    }

    /// Encodes a block of content into the write buffer, writing it out
    /// whenever it holds a full block. Large unchanged runs of `content` go
    /// to the socket without being copied.
    pub fn queue_content(
        &mut self,
        content: &[u8],
        encoder: &mut DataEncoder,
        during: &str,
    ) -> Result<(), Error> {
        self.guard(during, |conn| {
            conn.queue_content_inner(content, encoder, during)
        })
    }

    fn queue_content_inner(
        &mut self,
        content: &[u8],
        encoder: &mut DataEncoder,
        during: &str,
    ) -> Result<(), Error> {
        let tls = self.is_encrypted();
        let Connection { stream, wbuf, .. } = self;
        encoder
            .encode(content, &mut |piece: &[u8]| put(stream, wbuf, piece))
            .map_err(|e| io_error(e, during, tls))
    }

    /// Queues bytes that are already encoded (a BDAT chunk's pieces), with
    /// the same rule as [`Connection::queue_content`]: large pieces go to
    /// the socket without being copied.
    pub fn queue_raw(&mut self, piece: &[u8], during: &str) -> Result<(), Error> {
        self.guard(during, |conn| {
            let tls = conn.is_encrypted();
            put(&mut conn.stream, &mut conn.wbuf, piece).map_err(|e| io_error(e, during, tls))
        })
    }

    /// Writes what is queued, then `len` bytes of `file` from `offset`
    /// (where the file is positioned), unchanged. Over plain TCP on Linux
    /// the kernel moves them (`sendfile(2)`), so they never pass through
    /// this process; any other way they are read and written. A file that
    /// ends early leaves the stream short of what was announced: that is
    /// an I/O error, and the connection is closed.
    pub fn queue_file(
        &mut self,
        file: &File,
        offset: u64,
        len: u64,
        during: &str,
    ) -> Result<(), Error> {
        self.flush(during)?;
        let mut block = std::mem::take(&mut self.body_block);
        let result = self.guard(during, |conn| {
            let tls = conn.is_encrypted();
            let copied = match &mut conn.stream {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                Stream::Tcp(tcp) => sendfile::send(tcp, file, offset, len),
                stream => {
                    let _ = offset;
                    copy_through(&mut file.take(len), stream, &mut block)
                }
            }
            .map_err(|e| io_error(e, during, tls))?;
            if copied < len {
                return Err(Error::Io {
                    during: during.to_owned(),
                    source: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the message file ended early",
                    ),
                });
            }
            Ok(())
        });
        self.body_block = block;
        result
    }

    /// How many bytes are queued and not yet written.
    pub fn queued_len(&self) -> usize {
        self.wbuf.len()
    }

    /// Closes the socket; any later read or write fails.
    pub fn shutdown(&mut self) {
        self.closed = true;
        self.wbuf.clear();
        self.stream.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_timeout_is_set_again_only_when_it_must_be() {
        let s = Duration::from_secs;
        assert!(needs_arming(None, s(300)));
        // The next reply has about the same time left: keep it.
        assert!(!needs_arming(
            Some(s(300)),
            s(300) - Duration::from_micros(5)
        ));
        // Later in a slow reply: the deadline is nearer than the timeout.
        assert!(needs_arming(Some(s(300)), s(100)));
        // A short timeout left from the end of a reply is too short now.
        assert!(needs_arming(Some(Duration::from_millis(1)), s(300)));
    }
}
