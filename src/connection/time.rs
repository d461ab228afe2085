//! Time on the connection: the deadline of the call in progress, the
//! limit of each wait (its phase's timeout or the deadline, whichever
//! comes first), the writes paced within them, and the canceller.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use super::{io_error, needs_arming, Connection};
use crate::cancel::{Canceller, Watched};
use crate::error::Error;
use crate::stream::Stream;
use crate::timeouts::{Budget, Limit, Phase};

/// Time and cancel on a connection.
#[derive(Debug)]
pub(super) struct Clock {
    /// The phases' timeouts and the calls' deadlines.
    pub budget: Budget,
    /// The deadline of the call in progress.
    pub call_deadline: Option<Instant>,
    /// Checked between waits; it shuts the socket down to end a wait.
    pub cancel: Canceller,
    /// The canceller's watch on the socket, while it is open.
    pub watched: Option<Watched>,
    /// The connection was closed by a cancel.
    pub cancelled: bool,
    /// The socket's write timeout as last set (None: unknown), and
    /// whether it was the call's deadline that set it.
    pub write_timeout: Option<Duration>,
    pub write_by_deadline: bool,
}

impl Clock {
    pub fn new(budget: Budget, cancel: Canceller, watched: Option<Watched>) -> Clock {
        Clock {
            budget,
            call_deadline: None,
            cancel,
            watched,
            cancelled: false,
            write_timeout: None,
            write_by_deadline: false,
        }
    }

    /// Arms a write (see [`arm_write`]) with `set`, which sets the
    /// socket's write timeout.
    pub fn arm_write(&mut self, set: impl FnOnce(Duration) -> io::Result<()>) -> io::Result<()> {
        let timeout = self.budget.timeouts.get(Phase::DataBlock);
        let (armed, by_deadline) = (&mut self.write_timeout, &mut self.write_by_deadline);
        arm_write(set, timeout, self.call_deadline, armed, by_deadline)
    }
}

/// Sets a socket's write timeout, before a write, to what the DataBlock
/// phase's `timeout` and the call's `deadline` leave: each write (each
/// `send`) must make progress within the phase's timeout (RFC 5321
/// 4.5.3.2), and all of them end by the deadline.
fn arm_write(
    set: impl FnOnce(Duration) -> io::Result<()>,
    timeout: Duration,
    deadline: Option<Instant>,
    armed: &mut Option<Duration>,
    by_deadline: &mut bool,
) -> io::Result<()> {
    let mut wait = timeout;
    *by_deadline = false;
    if let Some(d) = deadline {
        let left = d.saturating_duration_since(Instant::now());
        if left <= timeout {
            *by_deadline = true;
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            wait = left;
        }
    }
    if needs_arming(*armed, wait) {
        set(wait)?;
        *armed = Some(wait);
    }
    Ok(())
}

/// The stream as the writes of a connection see it: each write within
/// the time [`arm_write`] gives it.
pub(super) struct Paced<'a> {
    stream: &'a mut Stream,
    clock: &'a mut Clock,
}

impl Paced<'_> {
    /// Writes all of `buf` saying that more follows at once (see
    /// [`Stream::write_more`]).
    pub fn write_all_more(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let stream = &*self.stream;
            self.clock.arm_write(|t| stream.set_write_timeout(t))?;
            match self.stream.write_more(buf) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Write for Paced<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let stream = &*self.stream;
        self.clock.arm_write(|t| stream.set_write_timeout(t))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Connection {
    /// Starts a call: its deadline is set from the budget (the earlier of
    /// the absolute deadline and the call timeout from now).
    pub fn begin_call(&mut self) {
        self.clock.call_deadline = self.clock.budget.call_deadline();
    }

    /// The absolute deadline of every call from now on (None: only the
    /// call timeout, if any).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.clock.budget.deadline = deadline;
        self.clock.call_deadline = self.clock.budget.call_deadline();
    }

    /// Sets the deadline of the call in progress, for a call that has one
    /// of its own (connect), or that must not wait long (the QUIT of a
    /// client dropped).
    pub fn set_call_deadline(&mut self, deadline: Option<Instant>) {
        self.clock.call_deadline = deadline;
    }

    /// The deadline of the call in progress.
    pub fn call_deadline(&self) -> Option<Instant> {
        self.clock.call_deadline
    }

    /// The canceller of this connection.
    pub fn canceller(&self) -> &Canceller {
        &self.clock.cancel
    }

    /// How long a wait of `phase` starting now may last.
    pub(super) fn limit(&self, phase: Phase) -> Limit {
        Limit::new(
            Instant::now(),
            self.clock.budget.timeouts.get(phase),
            self.clock.call_deadline,
        )
    }

    /// The stream as writes see it, and the write buffer.
    pub(super) fn paced(&mut self) -> (Paced<'_>, &mut Vec<u8>) {
        let Connection {
            stream,
            wbuf,
            clock,
            ..
        } = self;
        (Paced { stream, clock }, wbuf)
    }

    /// Our error for a failed write: a write that timed out because of
    /// the call's deadline is [`Error::Deadline`].
    pub(super) fn write_error(&self, e: io::Error, during: &str) -> Error {
        let timed_out = matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        );
        if timed_out && self.clock.write_by_deadline {
            return Error::Deadline {
                during: during.to_owned(),
            };
        }
        io_error(e, during, self.is_encrypted())
    }
}
