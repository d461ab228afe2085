//! The pipeline: commands queued on the connection, the replies they are
//! owed, and the messages in flight those replies belong to, oldest
//! first. With PIPELINING a group of commands leaves in one write and its
//! replies are read in order; without it (lockstep) each command's reply
//! is read before the next is sent. The drivers (`data`, `bdat`) say what
//! to send; the pipe matches every reply to its message.

use std::borrow::Cow;
use std::collections::VecDeque;

use super::params::{mail_params, rcpt_params, Facts};
use super::queue::Queue;
use super::tx::{Expect, Outcome, Part, Pending, Tx};
use super::Then;
use crate::command::Command;
use crate::connection::Connection;
use crate::error::Error;
use crate::extensions::Extensions;

/// Most replies outstanding at once. The server writes them while the
/// client is still writing; keeping them well under a socket buffer's worth
/// means neither side can end up blocked on the other.
pub(super) const MAX_PENDING: usize = 100;
// The names of pending commands are reused once their replies are read.
const _: () = assert!(MAX_PENDING <= crate::connection::SPARE_NAMES);
/// BDAT chunks written ahead of their replies.
const BDAT_WINDOW: usize = 4;

/// Each transaction's outcome, by its slot in the call; `None` until
/// known.
pub(super) type Results = [Option<Outcome>];

/// How taking in a message went.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Start {
    /// MAIL and every RCPT are queued (or, in lockstep, accepted).
    Queued,
    /// It failed on the wire; its replies are read or dead.
    Failed,
    /// It failed a local check; nothing was sent.
    Refused,
}

/// Whether the current message can go on after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    Going,
    /// It failed: send nothing more of it.
    Failed,
}

/// What was left when every message in flight got its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settled {
    /// No message was in flight.
    Nothing,
    /// The last message was sent, or failed before anything of it went on
    /// the wire: no transaction is open.
    Closed,
    /// The last message failed after some of it went on the wire: its
    /// transaction may still be open on the server.
    Open,
}

impl Settled {
    /// Whether RSET is due before the next transaction, given whether it
    /// was due before this settling.
    pub fn rset_due(self, before: bool) -> bool {
        match self {
            Settled::Nothing => before,
            Settled::Closed => false,
            Settled::Open => true,
        }
    }
}

/// The connection with the replies it owes, in order.
pub(super) struct Wire<'c> {
    pub conn: &'c mut Connection,
    pub ext: &'c Extensions,
    pub pending: VecDeque<Pending>,
    /// No PIPELINING: each command alone, its reply read before the next.
    pub lockstep: bool,
}

impl Wire<'_> {
    /// Queues a command whose reply belongs to `message`.
    #[inline]
    pub fn push(&mut self, message: usize, expect: Expect, command: &Command<'_>) {
        let during = self.conn.queue(command);
        self.expect(message, expect, Cow::Owned(during));
    }

    /// Notes a reply due for something queued by other means (content).
    #[inline]
    pub fn expect(&mut self, message: usize, expect: Expect, during: Cow<'static, str>) {
        self.pending.push_back(Pending {
            message,
            expect,
            during,
        });
    }

    /// BDAT chunks whose replies are still due, but for the last ones.
    fn chunks_ahead(&self) -> usize {
        self.pending
            .iter()
            .filter(|p| p.expect == Expect::Bdat { last: false })
            .count()
    }
}

/// The wire and the transactions in flight on it.
pub(super) struct Pipe<'c, 'e> {
    pub wire: Wire<'c>,
    flight: Queue<Tx<'e>>,
    /// What follows the last message.
    then: Then,
    /// A reply that closes the session was read: nothing after it was
    /// taken.
    goodbye: bool,
    /// Messages the server took on this connection (before and during
    /// this run).
    taken: usize,
    /// The server takes no more messages on this connection.
    spent: bool,
    /// Some transaction's end was queued since the last write.
    ends_queued: bool,
    /// LMTP: a reply per accepted recipient after each end, and each
    /// transaction's replies read before the next one's commands go (see
    /// [`Pipe::fenced`]).
    pub lmtp: bool,
}

impl<'c, 'e> Pipe<'c, 'e> {
    /// `pending` is an empty queue, lent for its memory.
    /// `taken` messages were taken on this connection before.
    pub fn new(
        conn: &'c mut Connection,
        ext: &'c Extensions,
        pending: VecDeque<Pending>,
        then: Then,
        taken: usize,
    ) -> Self {
        Pipe {
            wire: Wire {
                conn,
                ext,
                pending,
                lockstep: !ext.pipelining(),
            },
            flight: Queue::default(),
            then,
            goodbye: false,
            taken,
            spent: false,
            ends_queued: false,
            lmtp: false,
        }
    }

    /// Whether each transaction is settled before the next one starts.
    /// With LMTP: a server that gives a reply too many after the
    /// replies per recipient is then caught (the reply is there, with
    /// nothing left to answer), where one pipelined command more would
    /// take it for its own and shift every reply after it. It costs a
    /// round trip per message, on what is mostly a local socket.
    pub fn fenced(&self) -> bool {
        self.lmtp
    }

    /// Called once the last message's end is queued (message `index`):
    /// when the call is to end the session, QUIT joins that write (RFC
    /// 2920 3.1 lets QUIT be the last command of a group). Its reply is
    /// read with the rest but decides nothing: the message's result is
    /// its own reply's. Without PIPELINING, QUIT waits for that reply and
    /// is the caller's to send. Nor does it join when the server put
    /// recipients off, or may have (see `Tx::may_need_more`): they go in
    /// another transaction on this connection rather than a new one.
    pub fn quit_after_last(&mut self, index: usize) {
        let open = self
            .flight
            .back()
            .is_some_and(|t| !t.failed() && !t.may_need_more());
        if self.then == Then::Quit && !self.wire.lockstep && open {
            self.wire.push(index, Expect::Quit, &Command::Quit);
        }
    }

    /// The current transaction's end (the end of data, or the last
    /// chunk) is queued.
    pub fn end_queued(&mut self) {
        self.current().end_queued = true;
        self.ends_queued = true;
    }

    /// Whether the connection is done with: the server closed it, or said
    /// it takes no more messages on it. No more messages go on it then:
    /// they wait for a new one.
    pub fn done(&self) -> bool {
        self.spent || self.wire.conn.is_closed()
    }

    /// Gives back the queue of pending replies (empty by now) for reuse.
    pub fn into_pending(self) -> VecDeque<Pending> {
        let mut pending = self.wire.pending;
        pending.clear();
        pending
    }

    /// The message taken in last.
    pub fn current(&mut self) -> &mut Tx<'e> {
        self.flight.back_mut().expect("a message in flight")
    }

    /// True while some message has no result yet.
    pub fn in_flight(&self) -> bool {
        !self.flight.is_empty()
    }

    /// Hands out the results of the messages before `index`, whose
    /// replies have all been read.
    #[inline]
    pub fn settle_before(&mut self, index: usize, results: &mut Results) {
        while self.flight.front().is_some_and(|t| t.index != index) {
            let tx = self.flight.pop_front().expect("checked");
            let index = tx.index;
            results[index] = Some(tx.into_outcome());
        }
    }

    /// Writes what is queued. A failure goes to the message whose reply is
    /// due first; the others then read "connection closed".
    pub fn flush(&mut self) {
        let Some(first) = self.wire.pending.front() else {
            return;
        };
        let message = first.message;
        match self.wire.conn.flush(&first.during) {
            Err(e) => {
                if let Some(tx) = self.flight.find_mut(|t| t.index == message) {
                    tx.fail(e);
                }
            }
            // Whatever end was queued is on its way: a reply that never
            // comes now leaves the outcome unknown.
            Ok(()) if self.ends_queued => {
                self.ends_queued = false;
                self.flight.for_each(|tx| {
                    if tx.end_queued && !tx.failed() {
                        tx.end_sent = true;
                    }
                });
            }
            Ok(()) => {}
        }
    }

    /// Reads the oldest pending reply into its transaction.
    fn read_one(&mut self) {
        let Some(p) = self.wire.pending.pop_front() else {
            return;
        };
        let end = matches!(p.expect, Expect::EndOfData | Expect::Bdat { last: true });
        // LMTP: the same wait again for the next recipient's reply.
        let again = (self.lmtp && end).then(|| Pending {
            message: p.message,
            expect: p.expect,
            during: p.during.clone(),
        });
        let reply = self.wire.conn.read_reply_to(p.during, p.expect.phase());
        let goodbye = matches!(&reply, Ok(r) if r.closes_session());
        match (&reply, p.expect) {
            (Ok(r), Expect::EndOfData | Expect::Bdat { last: true }) if r.code == 250 => {
                self.taken += 1;
            }
            // "452 4.5.3 Too many messages" to MAIL once some were taken
            // here: the server takes no more on this connection.
            (Ok(r), Expect::Mail) if r.code == 452 && self.taken > 0 => self.spent = true,
            _ => {}
        }
        if let Some(tx) = self.flight.find_mut(|t| t.index == p.message) {
            if self.goodbye {
                // The server said goodbye (421, 221) before this: it took
                // nothing of it, whatever went out.
                tx.end_sent = false;
                tx.unseen |= !tx.answered;
            }
            if let Some(spare) = tx.absorb(p.expect, reply) {
                self.wire.conn.recycle(spare);
            }
            if let Some(again) = again.filter(|_| tx.wants_more_finals()) {
                self.wire.pending.push_front(again);
            }
        }
        self.goodbye |= goodbye;
    }

    /// LMTP, once every reply due was read: a byte more from the server is
    /// a reply it did not owe. The transaction whose replies per
    /// recipient came last can no longer tell whose each one was, and
    /// the connection is out of step: it is closed.
    fn check_nothing_more(&mut self) {
        let extra = self.wire.conn.buffered_input();
        if !self.lmtp || extra == 0 || self.wire.conn.is_closed() {
            return;
        }
        if let Some(tx) = self.flight.back_mut().filter(|t| t.has_finals()) {
            tx.too_many(Error::Io {
                during: "after the replies per recipient".into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{extra} bytes more than the server owed"),
                ),
            });
        }
        self.wire.conn.shutdown();
    }

    /// Writes what is queued and reads every pending reply.
    pub fn drain(&mut self) {
        self.flush();
        while !self.wire.pending.is_empty() {
            self.read_one();
        }
    }

    /// After queuing a command: in lockstep, sends it and reads its reply.
    pub fn step(&mut self) -> Progress {
        if self.wire.lockstep {
            self.drain();
        }
        self.progress()
    }

    fn progress(&mut self) -> Progress {
        if self.current().failed() {
            Progress::Failed
        } else {
            Progress::Going
        }
    }

    /// Keeps the replies due under MAX_PENDING.
    fn make_room(&mut self) {
        if self.wire.pending.len() >= MAX_PENDING {
            self.flush();
            while self.wire.pending.len() > MAX_PENDING / 2 {
                self.read_one();
            }
        }
    }

    /// Takes in a message: checks its parameters (a local failure touches
    /// nothing on the wire), then queues RSET when asked (the previous
    /// transaction may still be open), MAIL and every RCPT.
    pub fn start(
        &mut self,
        index: usize,
        part: Part<'e>,
        facts: Result<Facts, Error>,
        rset: bool,
    ) -> Start {
        let mut tx = Tx::new(index, part);
        tx.lmtp = self.lmtp;
        self.flight.push_back(tx);
        let Pipe { wire, flight, .. } = self;
        let env = flight.back().expect("just pushed").part.envelope;
        let refused = match facts.and_then(|facts| mail_params(wire.ext, env, facts)) {
            Err(e) => Some(e),
            Ok(_) if wire.conn.is_closed() => Some(Error::ConnectionClosed {
                during: format!("MAIL FROM:<{}>", env.sender()),
            }),
            Ok(params) => {
                if rset {
                    wire.push(index, Expect::Rset, &Command::Rset);
                }
                let from = env.sender();
                wire.push(index, Expect::Mail, &Command::Mail { from, params });
                None
            }
        };
        if let Some(e) = refused {
            self.current().fail(e);
            return Start::Refused;
        }
        self.current().touched = true;
        if self.step() == Progress::Failed {
            return Start::Failed;
        }
        let count = self.current().part.count();
        for i in 0..count {
            self.make_room();
            let Pipe { wire, flight, .. } = self;
            let tx = flight.back().expect("in flight");
            let (_, r) = tx.part.recipient(i).expect("i < count");
            let rcpt = Command::Rcpt {
                to: r.address(),
                params: rcpt_params(wire.ext, r),
            };
            wire.push(index, Expect::Rcpt, &rcpt);
            if self.step() == Progress::Failed {
                return Start::Failed;
            }
        }
        Start::Queued
    }

    /// Drops a message refused by a local check (nothing of it is pending).
    pub fn refuse(&mut self, results: &mut Results) {
        if let Some(tx) = self.flight.pop_back() {
            let index = tx.index;
            results[index] = Some(tx.into_outcome());
        }
    }

    /// Writes what is queued, reads every reply and hands out the results
    /// of every message in flight.
    pub fn settle(&mut self, results: &mut Results) -> Settled {
        self.drain();
        self.check_nothing_more();
        let mut last = Settled::Nothing;
        while let Some(tx) = self.flight.pop_front() {
            last = if tx.failed() && tx.touched {
                Settled::Open
            } else {
                Settled::Closed
            };
            let index = tx.index;
            results[index] = Some(tx.into_outcome());
        }
        last
    }

    /// Queues one BDAT chunk (the command, then its `size` bytes, which
    /// `content` queues) and keeps at most BDAT_WINDOW chunks ahead of
    /// their replies.
    pub fn chunk(
        &mut self,
        index: usize,
        size: u64,
        last: bool,
        content: impl FnOnce(&mut Connection, &str) -> Result<(), Error>,
    ) -> Progress {
        if self.current().failed() {
            return Progress::Failed;
        }
        let during = self.wire.conn.queue(&Command::Bdat { size, last });
        match content(self.wire.conn, &during) {
            Err(e) => self.current().fail(e),
            Ok(()) if last => self.end_queued(),
            Ok(()) => {}
        }
        self.wire
            .expect(index, Expect::Bdat { last }, Cow::Owned(during));
        if self.wire.lockstep {
            self.drain();
        } else {
            // Only a large message's non-last chunks wait: the small
            // messages of a batch each end with their only (LAST) chunk.
            while self.wire.chunks_ahead() >= BDAT_WINDOW {
                self.flush();
                self.read_one();
            }
        }
        self.progress()
    }
}
