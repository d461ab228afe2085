//! One mail transaction: the envelope (MAIL FROM, RCPT TO), the content
//! (DATA or BDAT), and the per-recipient results; and many of them in a row.
//!
//! The rule that matters most: a message is reported as sent only when the
//! reply to its end of data (or to `BDAT ... LAST`) is 2yz. After any
//! failure that leaves the connection usable, RSET clears the server's
//! state for the next message.
//!
//! How the commands are grouped depends on what the server offers:
//! - without PIPELINING, one command at a time, stopping at the first
//!   failure;
//! - with PIPELINING (RFC 2920), MAIL, every RCPT and DATA leave in one
//!   write and their replies are read in order; the content follows the
//!   354. In a batch, the end of one message and the envelope of the next
//!   share a write (RFC 2920 3.1), so a message costs one round trip;
//! - with CHUNKING (RFC 3030) too, MAIL, the RCPTs, `BDAT n LAST` and the
//!   content leave together, and a batch packs several small messages into
//!   one write. A large message goes in chunks whose replies are read while
//!   later chunks are written, a few chunks behind, so memory stays bounded
//!   and neither side can block the other.
//!
//! Every reply is matched to the command it answers through a queue of
//! pending replies, so each message, and each recipient, gets its own
//! exact result however the commands were grouped.

use std::borrow::{Borrow, Cow};
use std::collections::VecDeque;
use std::io::{self, Read};

use crate::command::{Body, Command, MailParams, RcptParams};
use crate::data::{has_8bit, DataEncoder, Piece, END_OF_DATA};
use crate::envelope::Envelope;
use crate::error::{Error, Rejection};
use crate::extensions::Extensions;
use crate::message::private::Payload;
use crate::message::{Content, MessageFile};
use crate::reply::{Reply, ReplyClass};
use crate::stream::{Connection, Direction, IO_BLOCK};

/// Most replies outstanding at once. The server writes them while the
/// client is still writing; keeping them well under a socket buffer's worth
/// means neither side can end up blocked on the other.
const MAX_PENDING: usize = 100;
// The names of pending commands are reused once their replies are read.
const _: () = assert!(MAX_PENDING <= crate::stream::SPARE_NAMES);
/// A batch of small messages over CHUNKING is written once this much is
/// queued (or MAX_PENDING replies are due).
const FLIGHT_BYTES: usize = IO_BLOCK / 2;
/// Input bytes per BDAT chunk of a message held in memory. A message up to
/// this size goes as a single `BDAT n LAST`.
const BDAT_CHUNK: usize = 1 << 20;
/// BDAT chunk size for a message file sent straight from the file: larger,
/// since it costs no memory.
const BDAT_FILE_CHUNK: u64 = 4 << 20;
/// BDAT chunks written ahead of their replies.
const BDAT_WINDOW: usize = 4;

/// The outcome of a message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The reply to the end of data (it usually names the queue id).
    pub reply: Reply,
    /// The recipients the server accepted.
    pub accepted: Vec<String>,
    /// The recipients the server refused, each with its reply. The message
    /// was not delivered to them.
    pub rejected: Vec<Rejection>,
}

impl Delivery {
    /// The server's queue id, when its reply names one.
    pub fn queue_id(&self) -> Option<&str> {
        self.reply.queue_id()
    }

    /// True when every recipient was accepted.
    pub fn is_complete(&self) -> bool {
        self.rejected.is_empty()
    }
}

/// The `MAIL FROM` parameters for this envelope on this server. Fails
/// when the envelope needs something the server does not offer.
///
/// `size` is the size of the content when known; `eight_bit` says whether
/// the content holds 8-bit bytes, `None` when only part of it was seen.
/// 8-bit content needs 8BITMIME (RFC 6152) unless the envelope declares the
/// body type itself; content of unknown kind is declared 8BITMIME when the
/// server offers it (harmless for 7-bit content, required for 8-bit).
pub(crate) fn mail_params<'e>(
    ext: &Extensions,
    envelope: &'e Envelope,
    size: Option<u64>,
    eight_bit: Option<bool>,
) -> Result<MailParams<'e>, Error> {
    let smtputf8 = envelope.needs_smtputf8();
    if smtputf8 && !ext.smtp_utf8() {
        return Err(Error::Unsupported(
            "an address is not ASCII and the server does not offer SMTPUTF8".into(),
        ));
    }
    let size = size.or(envelope.declared_size());
    if let (Some(size), Some(limit)) = (size, ext.max_size()) {
        if size > limit {
            return Err(Error::MessageTooLarge { size, limit });
        }
    }
    let body = match envelope.declared_body() {
        Some(Body::EightBitMime) if !ext.eight_bit_mime() => {
            return Err(Error::Unsupported(
                "the message is 8-bit and the server does not offer 8BITMIME".into(),
            ))
        }
        Some(Body::BinaryMime) if !(ext.binary_mime() && ext.chunking()) => {
            return Err(Error::Unsupported(
                "the message is binary and the server does not offer BINARYMIME with CHUNKING"
                    .into(),
            ))
        }
        Some(Body::SevenBit) if !ext.eight_bit_mime() => None,
        None if eight_bit != Some(false) && ext.eight_bit_mime() => Some(Body::EightBitMime),
        None if eight_bit == Some(true) => {
            return Err(Error::Unsupported(
                "the message has 8-bit bytes and the server does not offer 8BITMIME".into(),
            ))
        }
        body => body,
    };
    Ok(MailParams {
        size: size.filter(|_| ext.supports_size()),
        body,
        smtputf8,
        ret: envelope.ret_option().filter(|_| ext.dsn()),
        envid: envelope.envid_option().filter(|_| ext.dsn()),
    })
}

fn rcpt_params<'e>(ext: &Extensions, r: &'e crate::envelope::Recipient) -> RcptParams<'e> {
    if !ext.dsn() {
        return RcptParams::default();
    }
    RcptParams {
        notify: r.notify_option(),
        orcpt: r.orcpt(),
    }
}

/// Sends RSET after a failed transaction so the connection can carry the
/// next message. Its own failure is not reported: the caller reports the
/// error that made the transaction fail, and a dead connection shows on
/// the next call.
pub(crate) fn reset_after_failure(conn: &mut Connection) {
    if !conn.is_closed() {
        let _ = conn.execute(&Command::Rset);
    }
}

/// Buffers kept from message to message so that sending does not allocate
/// on the hot path: the read-ahead block of a streamed body, the plan of a
/// BDAT chunk, the queue of pending replies and a single send's result
/// list. (The connection keeps the
/// replies and command names that are done with, for reuse.)
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    block: Vec<u8>,
    plan: Vec<Piece>,
    pending: VecDeque<Pending>,
    /// The result list of a single send.
    results: Vec<Option<Result<Delivery, Error>>>,
}

/// A message's content.
enum Source<'r, B> {
    /// The whole message at hand (bytes, a prepared message or a message
    /// file): its size and 8-bit-ness are known before anything is sent.
    Ready(B),
    /// A stream whose first `head` bytes are already in the scratch block.
    Stream { head: usize, rest: &'r mut dyn Read },
}

/// What a pending reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Rset,
    Mail,
    Rcpt,
    Data,
    Bdat { last: bool },
    EndOfData,
}

/// A command on the wire whose reply has not been read yet.
#[derive(Debug)]
struct Pending {
    /// The message (its index in the batch) the reply belongs to.
    message: usize,
    expect: Expect,
    /// The command as the transcript shows it; errors name it, and so does
    /// its reply, which takes it over.
    during: Cow<'static, str>,
}

/// The state of one message's transaction, built from its replies.
#[derive(Debug)]
struct Tx<E> {
    index: usize,
    envelope: E,
    accepted: Vec<String>,
    rejected: Vec<Rejection>,
    /// RCPT replies read so far.
    rcpts: usize,
    /// The first thing that went wrong: the message is not sent.
    error: Option<Error>,
    /// Something of it went on the wire (a failure then needs RSET).
    touched: bool,
    /// DATA was answered 354: content (or at least the lone dot) is due.
    go_ahead: bool,
    /// The 2yz reply to the end of data or to `BDAT ... LAST`.
    reply: Option<Reply>,
}

impl<E: Borrow<Envelope>> Tx<E> {
    fn new(index: usize, envelope: E) -> Self {
        Tx {
            index,
            envelope,
            accepted: Vec::new(),
            rejected: Vec::new(),
            rcpts: 0,
            error: None,
            touched: false,
            go_ahead: false,
            reply: None,
        }
    }

    fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Takes in the reply to one of this message's commands. The first
    /// failure decides the message's result; later replies are still read
    /// (they are on the wire) but change nothing. Hands the reply back
    /// when nothing keeps it (a reply that only says yes), so that its
    /// memory serves the next one.
    fn absorb(&mut self, expect: Expect, reply: Result<Reply, Error>) -> Option<Reply> {
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                self.fail(e);
                return None;
            }
        };
        let spare = match expect {
            Expect::Rset if reply.code == 421 => Err(Error::Transient(reply)),
            Expect::Rset => Ok(Some(reply)),
            Expect::Mail => Error::check(reply, "2xx").map(Some),
            Expect::Rcpt => self.recipient(reply),
            Expect::Data if reply.code == 354 => {
                self.go_ahead = true;
                Ok(Some(reply))
            }
            Expect::Data => Err(Error::from_reply(reply, "354")),
            Expect::Bdat { .. } | Expect::EndOfData if self.failed() => {
                Error::check(reply, "2xx").map(Some)
            }
            // The reply to the end of the content is the message's result.
            Expect::Bdat { last: true } | Expect::EndOfData => {
                Error::check(reply, "2xx").map(|reply| {
                    self.reply = Some(reply);
                    None
                })
            }
            Expect::Bdat { last: false } => Error::check(reply, "2xx").map(Some),
        };
        spare.unwrap_or_else(|e| {
            self.fail(e);
            None
        })
    }

    /// Takes in the reply to the next RCPT: the recipient is accepted or
    /// refused (with its reply). Hands back the reply it does not keep.
    fn recipient(&mut self, reply: Reply) -> Result<Option<Reply>, Error> {
        let recipients = self.envelope.borrow().recipient_list();
        let Some(r) = recipients.get(self.rcpts) else {
            return Err(Error::UnexpectedReply {
                expected: "no reply",
                reply,
            });
        };
        self.rcpts += 1;
        if self.failed() {
            // After a refused MAIL, RCPT replies (503) mean nothing.
            return Ok(Some(reply));
        }
        let spare = sort_recipient(r.address(), reply, &mut self.accepted, &mut self.rejected)?;
        if self.rcpts == recipients.len() && self.accepted.is_empty() {
            let rejected = std::mem::take(&mut self.rejected);
            return Err(Error::AllRecipientsRejected(rejected));
        }
        Ok(spare)
    }

    fn into_result(self) -> Result<Delivery, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.reply {
            Some(reply) => Ok(Delivery {
                reply,
                accepted: self.accepted,
                rejected: self.rejected,
            }),
            // Every path reads the final reply or records an error; this
            // guard only makes sure nothing else is ever reported as sent.
            None => Err(Error::ConnectionClosed {
                during: "end of data".into(),
            }),
        }
    }
}

/// How taking in a message went.
#[derive(Debug, PartialEq, Eq)]
enum Start {
    /// MAIL and every RCPT are queued (or, in lockstep, accepted).
    Queued,
    /// It failed on the wire; its replies are read or dead.
    Failed,
    /// It failed a local check; nothing was sent.
    Refused,
}

/// The messages in flight, oldest first. A single send has one, kept
/// inline; a queue is made when a second one joins (a batch).
enum Flight<T> {
    One(Option<T>),
    Many(VecDeque<T>),
}

impl<T> Flight<T> {
    fn push_back(&mut self, t: T) {
        match self {
            Flight::One(slot @ None) => *slot = Some(t),
            Flight::One(slot) => {
                let mut queue: VecDeque<T> = slot.take().into_iter().collect();
                queue.push_back(t);
                *self = Flight::Many(queue);
            }
            Flight::Many(queue) => queue.push_back(t),
        }
    }

    fn pop_front(&mut self) -> Option<T> {
        match self {
            Flight::One(slot) => slot.take(),
            Flight::Many(queue) => queue.pop_front(),
        }
    }

    fn pop_back(&mut self) -> Option<T> {
        match self {
            Flight::One(slot) => slot.take(),
            Flight::Many(queue) => queue.pop_back(),
        }
    }

    fn front(&self) -> Option<&T> {
        match self {
            Flight::One(slot) => slot.as_ref(),
            Flight::Many(queue) => queue.front(),
        }
    }

    fn back(&self) -> Option<&T> {
        match self {
            Flight::One(slot) => slot.as_ref(),
            Flight::Many(queue) => queue.back(),
        }
    }

    fn back_mut(&mut self) -> Option<&mut T> {
        match self {
            Flight::One(slot) => slot.as_mut(),
            Flight::Many(queue) => queue.back_mut(),
        }
    }

    fn find_mut(&mut self, mut f: impl FnMut(&T) -> bool) -> Option<&mut T> {
        match self {
            Flight::One(slot) => slot.as_mut().filter(|t| f(t)),
            Flight::Many(queue) => queue.iter_mut().find(|t| f(t)),
        }
    }

    fn is_empty(&self) -> bool {
        self.front().is_none()
    }
}

/// The connection with its queue of pending replies and the transactions
/// they belong to, oldest first.
struct Pipe<'c, E> {
    conn: &'c mut Connection,
    ext: &'c Extensions,
    pending: VecDeque<Pending>,
    flight: Flight<Tx<E>>,
    /// No PIPELINING: each command alone, its reply read before the next.
    lockstep: bool,
}

fn push(
    conn: &mut Connection,
    pending: &mut VecDeque<Pending>,
    message: usize,
    expect: Expect,
    command: &Command<'_>,
) {
    let during = conn.queue(command);
    pending.push_back(Pending {
        message,
        expect,
        during: during.into(),
    });
}

impl<'c, E: Borrow<Envelope>> Pipe<'c, E> {
    /// `pending` is an empty queue, lent for its memory.
    fn new(conn: &'c mut Connection, ext: &'c Extensions, pending: VecDeque<Pending>) -> Self {
        Pipe {
            conn,
            ext,
            pending,
            flight: Flight::One(None),
            lockstep: !ext.pipelining(),
        }
    }

    /// The message taken in last.
    fn current(&mut self) -> &mut Tx<E> {
        self.flight.back_mut().expect("a message in flight")
    }

    fn queue(&mut self, message: usize, expect: Expect, command: &Command<'_>) {
        push(self.conn, &mut self.pending, message, expect, command);
    }

    /// Writes what is queued. A failure goes to the message whose reply is
    /// due first; the others then read "connection closed".
    fn flush(&mut self) {
        let Some(first) = self.pending.front() else {
            return;
        };
        let message = first.message;
        if let Err(e) = self.conn.flush(&first.during) {
            if let Some(tx) = self.flight.find_mut(|t| t.index == message) {
                tx.fail(e);
            }
        }
    }

    /// Reads the oldest pending reply into its transaction.
    fn read_one(&mut self) {
        let Some(p) = self.pending.pop_front() else {
            return;
        };
        let reply = self.conn.read_reply_to(p.during);
        if let Some(tx) = self.flight.find_mut(|t| t.index == p.message) {
            if let Some(spare) = tx.absorb(p.expect, reply) {
                self.conn.recycle(spare);
            }
        }
    }

    /// Writes what is queued and reads every pending reply.
    fn drain(&mut self) {
        self.flush();
        while !self.pending.is_empty() {
            self.read_one();
        }
    }

    /// After queuing a command: in lockstep, sends it and reads its reply.
    /// Returns true when the current message has failed, so the caller
    /// stops sending it.
    fn step(&mut self) -> bool {
        if self.lockstep {
            self.drain();
        }
        self.current().failed()
    }

    /// Keeps the replies due under MAX_PENDING.
    fn make_room(&mut self) {
        if self.pending.len() >= MAX_PENDING {
            self.flush();
            while self.pending.len() > MAX_PENDING / 2 {
                self.read_one();
            }
        }
    }

    /// Takes in a message: checks its parameters (a local failure touches
    /// nothing on the wire), then queues RSET when asked (the previous
    /// transaction may still be open), MAIL and every RCPT.
    fn start(
        &mut self,
        index: usize,
        envelope: E,
        facts: Result<Facts, Error>,
        rset: bool,
    ) -> Start {
        self.flight.push_back(Tx::new(index, envelope));
        let refused = {
            let (conn, ext, pending, env) = self.newest();
            match facts.and_then(|(size, eight_bit)| mail_params(ext, env, size, eight_bit)) {
                Err(e) => Some(e),
                Ok(_) if conn.is_closed() => Some(Error::ConnectionClosed {
                    during: format!("MAIL FROM:<{}>", env.sender()),
                }),
                Ok(params) => {
                    if rset {
                        push(conn, pending, index, Expect::Rset, &Command::Rset);
                    }
                    let from = env.sender();
                    push(
                        conn,
                        pending,
                        index,
                        Expect::Mail,
                        &Command::Mail { from, params },
                    );
                    None
                }
            }
        };
        if let Some(e) = refused {
            self.current().fail(e);
            return Start::Refused;
        }
        self.current().touched = true;
        if self.step() {
            return Start::Failed;
        }
        let count = self.current().envelope.borrow().recipient_list().len();
        for i in 0..count {
            self.make_room();
            {
                let (conn, ext, pending, env) = self.newest();
                let r = &env.recipient_list()[i];
                let rcpt = Command::Rcpt {
                    to: r.address(),
                    params: rcpt_params(ext, r),
                };
                push(conn, pending, index, Expect::Rcpt, &rcpt);
            }
            if self.step() {
                return Start::Failed;
            }
        }
        Start::Queued
    }

    /// The connection, the extensions and the pending replies, beside the
    /// envelope of the newest message in flight (one borrow of each).
    fn newest(
        &mut self,
    ) -> (
        &mut Connection,
        &Extensions,
        &mut VecDeque<Pending>,
        &Envelope,
    ) {
        let Pipe {
            conn,
            ext,
            pending,
            flight,
            ..
        } = self;
        let env = flight
            .back()
            .expect("a message in flight")
            .envelope
            .borrow();
        (conn, ext, pending, env)
    }

    /// Drops a message refused by a local check (nothing of it is pending).
    fn refuse(&mut self, results: &mut [Option<Result<Delivery, Error>>]) {
        if let Some(tx) = self.flight.pop_back() {
            let index = tx.index;
            results[index] = Some(tx.into_result());
        }
    }

    /// Writes what is queued, reads every reply and hands out the results
    /// of every message in flight. Returns whether the last of them failed
    /// after touching the wire (its transaction may still be open).
    fn settle(&mut self, results: &mut [Option<Result<Delivery, Error>>]) -> Option<bool> {
        self.drain();
        let mut last = None;
        while let Some(tx) = self.flight.pop_front() {
            last = Some(tx.failed() && tx.touched);
            let index = tx.index;
            results[index] = Some(tx.into_result());
        }
        last
    }

    /// Queues one BDAT chunk (the command, then its `size` bytes, which
    /// `content` queues) and keeps at most BDAT_WINDOW chunks ahead of
    /// their replies. Returns false once the message has failed: no more
    /// chunks then.
    fn chunk(
        &mut self,
        index: usize,
        size: u64,
        last: bool,
        content: impl FnOnce(&mut Connection, &str) -> Result<(), Error>,
    ) -> bool {
        if self.current().failed() {
            return false;
        }
        let during = self.conn.queue(&Command::Bdat { size, last });
        if let Err(e) = content(self.conn, &during) {
            self.current().fail(e);
        }
        self.pending.push_back(Pending {
            message: index,
            expect: Expect::Bdat { last },
            during: during.into(),
        });
        if self.lockstep {
            self.drain();
        } else {
            // Only a large message's non-last chunks wait: the small
            // messages of a batch each end with their only (LAST) chunk.
            let chunks = |p: &VecDeque<Pending>| {
                p.iter()
                    .filter(|p| p.expect == Expect::Bdat { last: false })
                    .count()
            };
            while chunks(&self.pending) >= BDAT_WINDOW {
                self.flush();
                self.read_one();
            }
        }
        !self.current().failed()
    }
}

/// Reads from `body` until `buf` is full or the body ends. Returns the
/// number of bytes read and whether the body ended.
fn fill(body: &mut dyn Read, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let mut n = 0;
    while n < buf.len() {
        match body.read(&mut buf[n..]) {
            Ok(0) => return Ok((n, true)),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((n, false))
}

fn reading_error(source: io::Error) -> Error {
    Error::Io {
        during: "reading the message".into(),
        source,
    }
}

/// What MAIL FROM declares of a message: its size (when known) and
/// whether its content is known to be 8-bit.
type Facts = (Option<u64>, Option<bool>);

/// The facts of a message's content. A message file that changed since it
/// was prepared is refused here, before anything of it is sent.
fn describe<B: Content>(source: &Source<'_, B>, block: &[u8]) -> Result<Facts, Error> {
    Ok(match source {
        Source::Ready(b) => match b.payload() {
            Payload::Bytes(b) => (Some(b.len() as u64), Some(has_8bit(b))),
            Payload::Prepared(m) => (Some(m.len() as u64), Some(m.is_8bit())),
            Payload::File(f) => {
                f.check()?;
                (Some(f.len()), Some(f.is_8bit()))
            }
        },
        // Only the head was seen: 8-bit bytes there are certain, their
        // absence says nothing about the rest.
        Source::Stream { head, .. } => (None, has_8bit(&block[..*head]).then_some(true)),
    })
}

/// Sends one message read from `body`. The first block is read before
/// anything is written: a message that fits in it is sent like one in
/// memory (its size and 8-bit-ness known), and a body that cannot be read
/// fails before the transaction starts.
pub(crate) fn send(
    conn: &mut Connection,
    ext: &Extensions,
    scratch: &mut Scratch,
    envelope: &Envelope,
    body: &mut dyn Read,
) -> Result<Delivery, Error> {
    let mut block = std::mem::take(&mut scratch.block);
    block.resize(IO_BLOCK, 0);
    match fill(body, &mut block) {
        Err(e) => {
            scratch.block = block;
            Err(reading_error(e))
        }
        Ok((n, true)) => {
            let message = std::iter::once((envelope, Source::Ready(&block[..n])));
            let result = run_one(conn, ext, scratch, message);
            scratch.block = block;
            result
        }
        Ok((head, false)) => {
            // The head stays in the scratch block, where `run` finds it.
            scratch.block = block;
            let source: Source<'_, &[u8]> = Source::Stream { head, rest: body };
            run_one(conn, ext, scratch, std::iter::once((envelope, source)))
        }
    }
}

/// Sends one message whose content is in memory or prepared.
pub(crate) fn send_content(
    conn: &mut Connection,
    ext: &Extensions,
    scratch: &mut Scratch,
    envelope: &Envelope,
    content: impl Content,
) -> Result<Delivery, Error> {
    let message = std::iter::once((envelope, Source::Ready(content)));
    run_one(conn, ext, scratch, message)
}

/// [`run`] for one message, with a result list kept for reuse.
fn run_one<'r, B: Content>(
    conn: &mut Connection,
    ext: &Extensions,
    scratch: &mut Scratch,
    message: std::iter::Once<(&Envelope, Source<'r, B>)>,
) -> Result<Delivery, Error> {
    let mut results = std::mem::take(&mut scratch.results);
    results.clear();
    run(conn, ext, scratch, &mut results, message);
    let result = settled(results.pop().flatten());
    scratch.results = results;
    result
}

/// Sends every message, in order, each with its own result.
pub(crate) fn send_batch<E, B>(
    conn: &mut Connection,
    ext: &Extensions,
    scratch: &mut Scratch,
    messages: impl IntoIterator<Item = (E, B)>,
) -> Vec<Result<Delivery, Error>>
where
    E: Borrow<Envelope>,
    B: Content,
{
    let messages = messages.into_iter().map(|(e, b)| (e, Source::Ready(b)));
    // Sized once where the caller's iterator says how many (within reason:
    // the hint is the caller's word, not a count).
    let mut results = Vec::with_capacity(messages.size_hint().0.min(1 << 16));
    run(conn, ext, scratch, &mut results, messages);
    results.into_iter().map(settled).collect()
}

/// A message's result; every message gets one, so `None` is only a
/// safeguard: nothing is ever reported as sent that was not.
fn settled(result: Option<Result<Delivery, Error>>) -> Result<Delivery, Error> {
    result.unwrap_or_else(|| {
        Err(Error::ConnectionClosed {
            during: "sending the message".into(),
        })
    })
}

/// The engine: sends every message and puts their results in `results`,
/// one per message in order. The scratch block holds a stream's head.
fn run<'r, E: Borrow<Envelope>, B: Content>(
    conn: &mut Connection,
    ext: &Extensions,
    scratch: &mut Scratch,
    results: &mut Vec<Option<Result<Delivery, Error>>>,
    messages: impl Iterator<Item = (E, Source<'r, B>)>,
) {
    let Scratch {
        block,
        plan,
        pending,
        ..
    } = scratch;
    let mut pipe = Pipe::new(conn, ext, std::mem::take(pending));
    if ext.chunking() {
        run_bdat(&mut pipe, plan, block, messages, results);
    } else {
        run_data(&mut pipe, block, messages, results);
    }
    // Empty by now (every reply was read); kept for its memory.
    pipe.pending.clear();
    *pending = pipe.pending;
}

/// Messages with DATA. With PIPELINING, a message's envelope and DATA
/// leave in one write; after the 354, its content, its end of data and the
/// next message's envelope and DATA leave in the next (RFC 2920 3.1: the
/// content may open a group).
fn run_data<'r, E: Borrow<Envelope>, B: Content>(
    pipe: &mut Pipe<'_, E>,
    block: &mut [u8],
    messages: impl Iterator<Item = (E, Source<'r, B>)>,
    results: &mut Vec<Option<Result<Delivery, Error>>>,
) {
    let mut messages = messages.enumerate();
    let mut next = start_data(pipe, block, &mut messages, results);
    let mut last_failed = false;
    while let Some((index, source)) = next.take() {
        pipe.drain();
        // The replies read include the previous message's end of data.
        while pipe.flight.front().is_some_and(|t| t.index != index) {
            let tx = pipe.flight.pop_front().expect("checked");
            let index = tx.index;
            results[index] = Some(tx.into_result());
        }
        if pipe.current().failed() {
            abandon(pipe, results);
            last_failed = false;
            next = start_data(pipe, block, &mut messages, results);
            continue;
        }
        if let Err(e) = queue_data_content(pipe.conn, source, block) {
            pipe.current().fail(e);
            pipe.settle(results);
            next = start_data(pipe, block, &mut messages, results);
            continue;
        }
        pipe.pending.push_back(Pending {
            message: index,
            expect: Expect::EndOfData,
            during: Cow::Borrowed("end of data"),
        });
        // Without PIPELINING the end of data is answered before anything
        // else is sent.
        if pipe.lockstep && pipe.settle(results) == Some(true) {
            reset_after_failure(pipe.conn);
        }
        next = start_data(pipe, block, &mut messages, results);
        if next.is_none() {
            last_failed = pipe.settle(results) == Some(true);
        }
    }
    if last_failed {
        reset_after_failure(pipe.conn);
    }
}

/// Takes messages until one has its envelope and DATA queued (with
/// PIPELINING; in lockstep, answered 354). A message that fails before
/// that gets its result here.
fn start_data<'r, E: Borrow<Envelope>, B: Content>(
    pipe: &mut Pipe<'_, E>,
    block: &[u8],
    messages: &mut impl Iterator<Item = (usize, (E, Source<'r, B>))>,
    results: &mut Vec<Option<Result<Delivery, Error>>>,
) -> Option<(usize, Source<'r, B>)> {
    for (index, (envelope, source)) in messages {
        results.push(None);
        let facts = describe(&source, block);
        match pipe.start(index, envelope, facts, false) {
            Start::Refused => {
                pipe.refuse(results);
                continue;
            }
            Start::Queued => {
                pipe.queue(index, Expect::Data, &Command::Data);
                if !pipe.step() {
                    pipe.flush();
                    return Some((index, source));
                }
            }
            Start::Failed => {}
        }
        abandon(pipe, results);
    }
    None
}

/// Ends a message that failed on the wire: reads every reply due, sends
/// the lone dot if DATA was answered 354 anyway (RFC 2920 3.1: the content
/// is then empty, never the body), RSET, and hands out the results.
fn abandon<E: Borrow<Envelope>>(
    pipe: &mut Pipe<'_, E>,
    results: &mut [Option<Result<Delivery, Error>>],
) {
    pipe.drain();
    if pipe.current().go_ahead {
        let index = pipe.current().index;
        let end = pipe.conn.queue_raw(END_OF_DATA, "end of data");
        pipe.conn.note(Direction::Sent, ".");
        if end.is_ok() {
            pipe.pending.push_back(Pending {
                message: index,
                expect: Expect::EndOfData,
                during: Cow::Borrowed("end of data"),
            });
        }
        pipe.drain();
    }
    reset_after_failure(pipe.conn);
    pipe.settle(results);
}

/// Queues the content for DATA, dot-stuffed, and the end of data.
fn queue_data_content<B: Content>(
    conn: &mut Connection,
    source: Source<'_, B>,
    block: &[u8],
) -> Result<(), Error> {
    let mut encoder = DataEncoder::for_data();
    match source {
        Source::Ready(body) => {
            let body = match body.payload() {
                Payload::Bytes(body) => body,
                Payload::Prepared(m) => {
                    m.data_pieces(&mut |p: &[u8]| conn.queue_raw(p, "DATA"))?;
                    conn.note_content(m.len());
                    conn.note(Direction::Sent, ".");
                    return Ok(());
                }
                Payload::File(f) => {
                    // After the 354 the server takes whatever comes as
                    // content: if the file cannot be read to its end, the
                    // connection must go (the guard in queue_body sees to it).
                    conn.queue_body(&mut f.reader(), &mut encoder, "DATA")?;
                    conn.note(Direction::Sent, ".");
                    return Ok(());
                }
            };
            conn.queue_content(body, &mut encoder, "DATA")?;
            // At most CRLF and the end-of-data mark.
            let mut end = [0u8; 8];
            let mut n = 0;
            let _ = encoder.finish(&mut |p: &[u8]| -> Result<(), ()> {
                end[n..n + p.len()].copy_from_slice(p);
                n += p.len();
                Ok(())
            });
            conn.queue_raw(&end[..n], "end of data")?;
            conn.note_content(body.len());
        }
        Source::Stream { head, rest } => {
            let mut body = (&block[..head]).chain(rest);
            conn.queue_body(&mut body, &mut encoder, "DATA")?;
        }
    }
    conn.note(Direction::Sent, ".");
    Ok(())
}

/// Messages with BDAT. With PIPELINING, a small message's MAIL, RCPTs,
/// `BDAT n LAST` and content leave together, and several small messages
/// share a write (each after the first opened by RSET, in case the one
/// before failed and left its transaction open). A large message goes
/// alone, in chunks.
fn run_bdat<'r, E: Borrow<Envelope>, B: Content>(
    pipe: &mut Pipe<'_, E>,
    plan: &mut Vec<Piece>,
    block: &mut Vec<u8>,
    messages: impl Iterator<Item = (E, Source<'r, B>)>,
    results: &mut Vec<Option<Result<Delivery, Error>>>,
) {
    let mut need_rset = false;
    for (index, (envelope, source)) in messages.enumerate() {
        results.push(None);
        let small = match &source {
            Source::Ready(b) => match b.payload() {
                Payload::Bytes(b) => b.len() <= BDAT_CHUNK,
                Payload::Prepared(m) => m.len() <= BDAT_CHUNK,
                Payload::File(_) => false,
            },
            Source::Stream { .. } => false,
        };
        let rcpts = envelope.borrow().recipient_list().len();
        let full = pipe.pending.len() + rcpts + 3 > MAX_PENDING;
        if !pipe.flight.is_empty() && (!small || pipe.lockstep || full) {
            need_rset = pipe.settle(results).unwrap_or(need_rset);
        }
        let rset = need_rset || !pipe.flight.is_empty();
        let facts = describe(&source, block);
        match pipe.start(index, envelope, facts, rset) {
            Start::Refused => {
                pipe.refuse(results);
                continue;
            }
            Start::Failed => {
                need_rset = pipe.settle(results).unwrap_or(true);
                continue;
            }
            Start::Queued => need_rset = false,
        }
        match source {
            Source::Ready(body) => {
                match body.payload() {
                    Payload::Bytes(body) => bdat_bytes(pipe, index, plan, body, false),
                    // A prepared message is sent as it is: no encoding.
                    Payload::Prepared(m) => bdat_bytes(pipe, index, plan, m.as_bytes(), true),
                    Payload::File(f) if f.is_crlf() => bdat_file(pipe, index, f),
                    Payload::File(f) => {
                        // Not CRLF text: read and encoded as a stream.
                        block.resize(IO_BLOCK, 0);
                        let mut reader = f.reader();
                        match fill(&mut reader, block) {
                            Ok((n, eof)) => {
                                bdat_stream(pipe, index, plan, block, n, eof, &mut reader)
                            }
                            Err(e) => pipe.current().fail(reading_error(e)),
                        }
                    }
                }
                // Small messages share a write until it is full.
                if !small || pipe.conn.queued_len() >= FLIGHT_BYTES || pipe.lockstep {
                    need_rset = pipe.settle(results).unwrap_or(need_rset);
                }
            }
            Source::Stream { head, rest } => {
                // The head filled the block, so it is not known to be last;
                // a stream that ends on a block boundary ends with a short
                // (often empty) `BDAT n LAST`.
                bdat_stream(pipe, index, plan, block, head, false, rest);
                need_rset = pipe.settle(results).unwrap_or(need_rset);
            }
        }
    }
    if pipe.settle(results).unwrap_or(need_rset) {
        reset_after_failure(pipe.conn);
    }
}

/// A message in memory in BDAT chunks, each encoded unless `ready` (a
/// prepared message, already in the form BDAT sends).
fn bdat_bytes<E: Borrow<Envelope>>(
    pipe: &mut Pipe<'_, E>,
    index: usize,
    plan: &mut Vec<Piece>,
    body: &[u8],
    ready: bool,
) {
    let mut encoder = DataEncoder::for_bdat();
    let mut from = 0;
    loop {
        let to = (from + BDAT_CHUNK).min(body.len());
        let last = to == body.len();
        let chunk = &body[from..to];
        let size = if ready {
            plan.clear();
            plan.push(Piece::Run(0, chunk.len()));
            chunk.len()
        } else {
            encoder.plan(chunk, last, plan)
        };
        let content = |conn: &mut Connection, during: &str| queue_plan(conn, plan, chunk, during);
        if !pipe.chunk(index, size as u64, last, content) || last {
            break;
        }
        from = to;
    }
}

/// Queues the planned pieces of `input`.
fn queue_plan(
    conn: &mut Connection,
    plan: &[Piece],
    input: &[u8],
    during: &str,
) -> Result<(), Error> {
    plan.iter()
        .try_for_each(|piece| conn.queue_raw(piece.bytes(input), during))
}

/// A message file that is CRLF text already, in BDAT chunks straight from
/// the file.
fn bdat_file<E: Borrow<Envelope>>(pipe: &mut Pipe<'_, E>, index: usize, f: &MessageFile) {
    let mut from = 0;
    loop {
        let size = (f.len() - from).min(BDAT_FILE_CHUNK);
        let last = from + size == f.len();
        // Locked and checked before the chunk is announced: a file that
        // changed fails the message with nothing of the chunk sent.
        let file = match f.at(from) {
            Ok(file) => file,
            Err(e) => {
                pipe.current().fail(e);
                return;
            }
        };
        let content =
            |conn: &mut Connection, during: &str| conn.queue_file(&file, from, size, during);
        if !pipe.chunk(index, size, last, content) || last {
            return;
        }
        from += size;
    }
}

/// A stream in BDAT chunks of one block each, encoded. The block holds
/// the first `filled` bytes already, and `ended` says whether that is all.
fn bdat_stream<E: Borrow<Envelope>>(
    pipe: &mut Pipe<'_, E>,
    index: usize,
    plan: &mut Vec<Piece>,
    block: &mut [u8],
    mut filled: usize,
    mut ended: bool,
    rest: &mut dyn Read,
) {
    let mut encoder = DataEncoder::for_bdat();
    loop {
        let size = encoder.plan(&block[..filled], ended, plan);
        let input = &block[..filled];
        let content = |conn: &mut Connection, during: &str| queue_plan(conn, plan, input, during);
        if !pipe.chunk(index, size as u64, ended, content) || ended {
            return;
        }
        match fill(rest, block) {
            Ok((n, eof)) => (filled, ended) = (n, eof),
            Err(e) => {
                // No LAST was sent: RSET abandons the chunks.
                pipe.current().fail(reading_error(e));
                return;
            }
        }
    }
}

/// Files a RCPT reply under accepted or rejected. A reply that is neither
/// (a 3yz) is an error: the server is not following the protocol.
fn sort_recipient(
    address: &str,
    reply: Reply,
    accepted: &mut Vec<String>,
    rejected: &mut Vec<Rejection>,
) -> Result<Option<Reply>, Error> {
    match reply.class() {
        ReplyClass::PositiveCompletion => {
            accepted.push(address.to_owned());
            return Ok(Some(reply));
        }
        ReplyClass::TransientNegative | ReplyClass::PermanentNegative => {
            // 421 means the server is leaving: the transaction is over.
            if reply.code == 421 {
                return Err(Error::Transient(reply));
            }
            rejected.push(Rejection {
                recipient: address.to_owned(),
                reply,
            });
        }
        ReplyClass::PositiveIntermediate => {
            return Err(Error::UnexpectedReply {
                expected: "2xx",
                reply,
            })
        }
    }
    Ok(None)
}

/// DATA, the content, and the end of data. Returns the final reply, which
/// is 2yz or an error.
pub(crate) fn data(conn: &mut Connection, body: &mut dyn Read) -> Result<Reply, Error> {
    Error::check(conn.execute(&Command::Data)?, "354")?;
    let mut encoder = DataEncoder::for_data();
    conn.queue_body(body, &mut encoder, "DATA")?;
    conn.note(crate::stream::Direction::Sent, ".");
    conn.flush("end of data")?;
    Error::check(conn.read_reply("end of data")?, "2xx")
}
