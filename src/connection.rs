//! The connection: a byte stream with a read buffer for replies, a write
//! buffer that coalesces commands into one write, deadlines, and the
//! transcript.
//!
//! Everything that touches the socket goes through [`Connection`], so the
//! bounds (line length, reply size, time) are enforced in one place, and
//! so is what a reply that closes the session (421) does to it.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use native_tls::TlsConnector;
use zeroize::Zeroize;

mod content;
mod time;

use crate::block::IO_BLOCK;
use crate::cancel::{Canceller, Watched};
use crate::command::Command;
use crate::error::Error;
use crate::redact::Redactions;
use crate::reply::{Reply, ReplyError, ReplyParser, MAX_LINE_LEN};
use crate::stream::{handshake, Stream};
use crate::timeouts::{Budget, Limit, Phase};
use crate::transcript::{Direction, Transcript};
use time::Clock;

/// Read buffer for replies; holds at least one maximal line.
const READ_BUF: usize = 4 * MAX_LINE_LEN;

/// Command names kept for reuse: at least as many as there can be
/// replies pending at once in a pipelined batch.
pub(crate) const SPARE_NAMES: usize = 128;
/// The largest command name kept for reuse.
const SPARE_NAME_CAPACITY: usize = 512;
/// The room a new command name starts with: a usual MAIL or RCPT line
/// fits, so that it is not regrown.
const NAME_ROOM: usize = 96;

/// A connection to the server: buffered, bounded, transcribed.
pub(crate) struct Connection {
    stream: Stream,
    /// Timeouts, deadlines, cancel.
    clock: Clock,
    rbuf: Box<[u8]>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    transcript: Transcript,
    /// Set once the byte stream can no longer be trusted or was closed.
    closed: bool,
    /// The socket's read timeout as last set (None: unknown).
    read_timeout: Option<Duration>,
    /// Parses replies, reusing the memory of those given back.
    parser: ReplyParser,
    /// Command names given back with their replies, for reuse.
    names: Vec<String>,
    /// When bytes last went out.
    active: Instant,
    /// While set, the transcript shows 334 replies without their text.
    redact_challenges: bool,
    /// While AUTH runs: the secret and the responses made of it, hidden
    /// in every line received (a server may echo them).
    redactions: Redactions,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("clock", &self.clock)
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

impl Connection {
    /// A connection over `stream`; `watched` is the canceller's watch on
    /// its socket, if it has one.
    pub fn new(
        stream: Stream,
        budget: Budget,
        transcript: Transcript,
        cancel: Canceller,
        watched: Option<Watched>,
    ) -> Self {
        Connection {
            stream,
            clock: Clock::new(budget, cancel, watched),
            rbuf: vec![0; READ_BUF].into_boxed_slice(),
            rstart: 0,
            rend: 0,
            wbuf: Vec::with_capacity(IO_BLOCK + 4096),
            transcript,
            closed: false,
            read_timeout: None,
            parser: ReplyParser::new(),
            names: Vec::new(),
            active: Instant::now(),
            redact_challenges: false,
            redactions: Redactions::default(),
        }
    }

    /// How long the connection has been idle: nothing written (and so no
    /// reply due).
    pub fn idle(&self) -> Duration {
        self.active.elapsed()
    }

    /// Looks, without waiting, for what the server may have sent while the
    /// connection was idle: the end of the connection, or a reply nobody
    /// asked for (a 421 before it closes, say). Either way the connection
    /// is closed (what came is shown in the transcript). Returns whether
    /// it is still open. A caller's own stream cannot be looked at: it
    /// counts as open.
    pub fn look(&mut self) -> bool {
        if self.closed {
            return false;
        }
        let unasked = match self.stream.read_now(&mut self.rbuf[self.rend..]) {
            Ok(None) if self.rend == self.rstart => return true,
            Ok(None) => 0,
            Ok(Some(0)) | Err(_) => {
                self.transcript
                    .note(Direction::Info, "the server closed the idle connection");
                self.shutdown();
                return false;
            }
            Ok(Some(n)) => n,
        };
        self.rend += unasked;
        let came = &self.rbuf[self.rstart..self.rend];
        for line in came.split_inclusive(|&b| b == b'\n') {
            self.transcript.received(line);
        }
        self.transcript.note(
            Direction::Info,
            "the server spoke while the connection was idle: closing it",
        );
        self.shutdown();
        false
    }

    /// Hands the transcript over (to the connection that replaces this
    /// one); this one's goes quiet.
    pub fn take_transcript(&mut self) -> Transcript {
        std::mem::take(&mut self.transcript)
    }

    /// Fails when the connection is closed; otherwise runs `f` and closes
    /// the connection if what happened leaves the stream in an unknown
    /// state (I/O error, timeout, malformed reply).
    fn guard<T>(
        &mut self,
        during: &str,
        f: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if !self.closed && self.clock.cancel.take() {
            self.clock.cancelled = true;
            self.shutdown();
        }
        if self.closed {
            let during = during.to_owned();
            return Err(if self.clock.cancelled {
                Error::Cancelled { during }
            } else {
                Error::ConnectionClosed { during }
            });
        }
        let result = f(self);
        if let Err(e) = &result {
            // A cancel shuts the socket down: whatever error that gave is
            // the cancel's.
            if self.clock.cancel.take() || matches!(e, Error::Cancelled { .. }) {
                self.clock.cancelled = true;
                self.shutdown();
                return Err(Error::Cancelled {
                    during: during.to_owned(),
                });
            }
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

    /// True once TLS protects the connection.
    pub fn is_encrypted(&self) -> bool {
        self.stream.is_tls()
    }

    /// The server certificate's hash for `tls-server-end-point` channel
    /// binding (RFC 5929 4.1), when TLS is up and the certificate's
    /// signature algorithm names a usable hash.
    pub fn tls_server_end_point(&self) -> Option<Vec<u8>> {
        self.stream.tls_server_end_point()
    }

    /// Shows (false) or hides (true) the text of the server's 334 replies
    /// in the transcript: a SCRAM server signature is derived from the
    /// password, and with it and the exchange anyone who reads the
    /// transcript could test guesses of the password offline.
    pub fn redact_challenges(&mut self, on: bool) {
        self.redact_challenges = on;
    }

    /// Hides these strings (the secret, the AUTH responses) in the lines
    /// received from now on, until [`Connection::forget_redactions`]:
    /// from the transcript, the replies and so every error message.
    pub fn redact(&mut self, redactions: Redactions) {
        self.redactions = redactions;
    }

    /// Hides one more string (a response just made) from now on.
    pub fn redact_also(&mut self, text: &[u8]) {
        self.redactions.add(text);
    }

    /// Ends [`Connection::redact`] (and drops, so wipes, the strings).
    pub fn forget_redactions(&mut self) {
        self.redactions = Redactions::default();
    }

    /// Passes a line to the transcript.
    pub fn note(&mut self, direction: Direction, line: &str) {
        self.transcript.note(direction, line);
    }

    /// Tells the transcript that `bytes` of message content went out.
    pub fn note_content(&mut self, bytes: impl fmt::Display) {
        self.transcript.content(bytes);
    }

    /// Queues a command in the write buffer; nothing is sent until
    /// [`Connection::flush`]. Returns how the transcript shows it.
    pub fn queue(&mut self, command: &Command<'_>) -> String {
        let mut shown = self
            .names
            .pop()
            .unwrap_or_else(|| String::with_capacity(NAME_ROOM));
        command.encode_described(&mut self.wbuf, &mut shown);
        self.transcript.note(Direction::Sent, &shown);
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
            let (mut writer, wbuf) = conn.paced();
            let result = writer.write_all(wbuf);
            wbuf.clear();
            // Idle time counts from the last write: replies come within
            // the timeout of one, and a clock reading per write is cheap.
            conn.active = Instant::now();
            result.map_err(|e| conn.write_error(e, during))
        })
    }

    /// Sends one command and reads its reply.
    pub fn execute(&mut self, command: &Command<'_>) -> Result<Reply, Error> {
        let shown = self.queue(command);
        let flushed = self.flush(&shown);
        if command.carries_secret() {
            // The line is gone; the buffer it was in is wiped (the whole
            // of its memory: a few hundred KiB, once per AUTH line).
            self.wbuf.zeroize();
        }
        flushed?;
        self.read_reply(&shown, command.phase())
    }

    /// Reads one complete reply, which must arrive within the timeout of
    /// `phase` however slowly its bytes come. `during` names what it
    /// answers.
    pub fn read_reply(&mut self, during: &str, phase: Phase) -> Result<Reply, Error> {
        self.read_reply_to(Cow::Owned(during.to_owned()), phase)
    }

    /// [`Connection::read_reply`], keeping `during` in the reply as what
    /// it answered without copying it. A reply that closes the session
    /// (421) closes the connection; it is still handed back, for the
    /// caller to report.
    pub fn read_reply_to(
        &mut self,
        during: Cow<'static, str>,
        phase: Phase,
    ) -> Result<Reply, Error> {
        let mut reply = self.guard(&during, |conn| conn.read_reply_inner(&during, phase))?;
        if reply.closes_session() {
            self.shutdown();
        }
        reply.in_reply_to = Some(during);
        Ok(reply)
    }

    fn read_reply_inner(&mut self, during: &str, phase: Phase) -> Result<Reply, Error> {
        let mut parser = std::mem::take(&mut self.parser);
        let result = self.parse_reply(&mut parser, during, phase);
        if result.is_err() {
            parser.reset();
        }
        self.parser = parser;
        result
    }

    fn parse_reply(
        &mut self,
        parser: &mut ReplyParser,
        during: &str,
        phase: Phase,
    ) -> Result<Reply, Error> {
        // Set when the reply is not all here yet: one already read costs
        // no clock reading (in a pipelined batch most are).
        let mut limit = None;
        let malformed = |source: ReplyError| Error::MalformedReply {
            during: during.to_owned(),
            source,
        };
        loop {
            let pending = &self.rbuf[self.rstart..self.rend];
            if let Some(nl) = memchr::memchr(b'\n', pending) {
                let range = self.rstart..self.rstart + nl + 1;
                self.rstart += nl + 1;
                // Only while AUTH runs is there anything to hide.
                let scrubbed = match self.redactions.is_empty() {
                    true => None,
                    false => self.redactions.scrub(&self.rbuf[range.clone()]),
                };
                let original = &self.rbuf[range.clone()];
                let shown = scrubbed.as_deref().map_or(original, |s| &s[..]);
                let challenge = original.starts_with(b"334");
                if self.redact_challenges && challenge {
                    self.transcript.received(b"334 <redacted>");
                } else {
                    self.transcript.received(shown);
                }
                // A challenge is the mechanism's to read as it came (a
                // short password may happen to occur in its base64); it
                // goes into no error message. Any other reply is read as
                // shown, and the original is wiped.
                let parsed = parser.push_line(if challenge { original } else { shown });
                if scrubbed.is_some() {
                    self.rbuf[range].zeroize();
                }
                if let Some(reply) = parsed.map_err(malformed)? {
                    return Ok(reply);
                }
                continue;
            }
            if pending.len() > MAX_LINE_LEN {
                return Err(malformed(ReplyError::LineTooLong));
            }
            self.fill(&mut limit, phase, during)?;
        }
    }

    /// How many bytes beyond the last reply have already arrived.
    pub fn buffered_input(&self) -> usize {
        self.rend - self.rstart
    }

    /// Runs the TLS handshake over the current stream, bounded by the
    /// timeout of [`Phase::Other`] (and the call's deadline). The caller
    /// has checked that no plaintext is left unread.
    pub fn start_tls(&mut self, connector: &TlsConnector, name: &str) -> Result<(), Error> {
        let during = format!("TLS handshake with {name}");
        self.guard(&during, |conn| {
            conn.rstart = 0;
            conn.rend = 0;
            conn.read_timeout = None;
            conn.clock.write_timeout = None;
            let plain = std::mem::replace(&mut conn.stream, Stream::Gone);
            let limit = conn.limit(Phase::Other);
            conn.stream = handshake::run(connector, name, plain, limit, &conn.clock.cancel)?;
            conn.note(Direction::Info, &format!("TLS established with {name}"));
            Ok(())
        })
    }

    /// Reads more bytes into the reply buffer before `limit`, which the
    /// first wait sets to the phase's timeout from now (or the call's
    /// deadline, when that comes first).
    fn fill(&mut self, limit: &mut Option<Limit>, phase: Phase, during: &str) -> Result<(), Error> {
        if self.rstart > 0 {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
        loop {
            // Over a stream of the caller's, a cancel is seen here, between
            // reads (over a socket, the read itself ends).
            if self.clock.cancel.is_pending() {
                return Err(Error::Cancelled {
                    during: during.to_owned(),
                });
            }
            let now = Instant::now();
            let limit = *limit.get_or_insert_with(|| self.limit(phase));
            if now >= limit.at {
                return Err(limit.error(during));
            }
            let tls = self.is_encrypted();
            let remaining = limit.at - now;
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

    /// How many bytes are queued and not yet written.
    pub fn queued_len(&self) -> usize {
        self.wbuf.len()
    }

    /// Closes the socket; any later read or write fails.
    pub fn shutdown(&mut self) {
        self.closed = true;
        self.wbuf.clear();
        self.stream.shutdown();
        self.clock.watched = None;
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
