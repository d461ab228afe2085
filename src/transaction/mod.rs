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
//!
//! A message may take several transactions (the server takes only so
//! many recipients at a time), and several connections (the server closed
//! one before the message went, or takes only so many messages on one):
//! `retry` sends each transaction over the session's connection and opens
//! a new one as needed, and `merge` makes each message's one result. A
//! transaction whose end was sent but never answered is of unknown
//! outcome, and never sent again.

mod bdat;
mod data;
mod lmtp;
mod merge;
mod params;
mod pipe;
mod queue;
mod retry;
mod tx;

pub(crate) use data::{data, data_lmtp};

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::io::{self, Read};

use crate::block::{fill, IO_BLOCK};
use crate::command::Command;
use crate::connection::Connection;
use crate::delivery::Delivery;
use crate::encoder::{has_8bit, Piece};
use crate::envelope::Envelope;
use crate::error::Error;
use crate::message::private::Payload;
use crate::message::Content;
use crate::session::Session;
use merge::Merge;
use params::Facts;
use pipe::Pipe;
use tx::{Outcome, Part, Pending};

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
/// on the hot path: the block that message content is read through, the
/// plan of a BDAT chunk, the queue of pending replies and the list of a
/// call's outcomes. (The connection keeps the replies and command names
/// that are done with, for reuse.)
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Content is read through it, [`IO_BLOCK`] bytes at a time.
    pub block: Vec<u8>,
    plan: Vec<Piece>,
    pending: VecDeque<Pending>,
    outcomes: Vec<Option<Outcome>>,
}

/// A message's content.
enum Source<'r> {
    /// The whole message at hand (bytes, a prepared message or a message
    /// file): its size and 8-bit-ness are known before anything is sent,
    /// and it can be sent again.
    Ready(Payload<'r>),
    /// A stream whose first `head` bytes are already in the scratch block;
    /// it is read once.
    Stream { head: usize, rest: &'r mut dyn Read },
}

impl<'r> Source<'r> {
    /// The same content again, when it can be sent again.
    fn again(&self) -> Option<Source<'r>> {
        match self {
            Source::Ready(p) => Some(Source::Ready(*p)),
            Source::Stream { .. } => None,
        }
    }
}

/// What follows the last message of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    /// More commands: the session goes on.
    More,
    /// QUIT, in the same write as the last message's end when the server
    /// allows pipelining (RFC 2920 lets QUIT end a group): the session is
    /// over after the call.
    Quit,
}

fn reading_error(source: io::Error) -> Error {
    Error::Io {
        during: "reading the message".into(),
        source,
    }
}

/// What `MAIL FROM` can declare of a message's content. A message file
/// that changed since it was prepared is refused here, before anything of
/// it is sent.
fn describe(source: &Source<'_>, block: &[u8]) -> Result<Facts, Error> {
    let (size, eight_bit) = match source {
        Source::Ready(b) => match b {
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
    };
    Ok(Facts { size, eight_bit })
}

/// Sends one message read from `body`. The first block is read before
/// anything is written: a message that fits in it is sent like one in
/// memory (its size and 8-bit-ness known, and it can go again on a new
/// connection), and a body that cannot be read fails before the
/// transaction starts.
pub(crate) fn send(
    session: &mut Session,
    scratch: &mut Scratch,
    envelope: &Envelope,
    body: &mut dyn Read,
    then: Then,
) -> Result<Delivery, Error> {
    let mut block = std::mem::take(&mut scratch.block);
    block.resize(IO_BLOCK, 0);
    match fill(body, &mut block) {
        Err(e) => {
            scratch.block = block;
            Err(reading_error(e))
        }
        Ok((n, true)) => {
            let source = Source::Ready(Payload::Bytes(&block[..n]));
            let result = one(session, scratch, envelope, source, then);
            scratch.block = block;
            result
        }
        Ok((head, false)) => {
            // The head stays in the scratch block, where `run` finds it.
            scratch.block = block;
            let source = Source::Stream { head, rest: body };
            one(session, scratch, envelope, source, then)
        }
    }
}

/// Sends one message whose content is in memory or prepared.
pub(crate) fn send_content(
    session: &mut Session,
    scratch: &mut Scratch,
    envelope: &Envelope,
    content: impl Content,
    then: Then,
) -> Result<Delivery, Error> {
    one(
        session,
        scratch,
        envelope,
        Source::Ready(content.payload()),
        then,
    )
}

/// One message, whatever number of transactions and connections it takes.
fn one<'r>(
    session: &mut Session,
    scratch: &mut Scratch,
    envelope: &'r Envelope,
    source: Source<'r>,
    then: Then,
) -> Result<Delivery, Error> {
    let mut merge = [Merge::default()];
    retry::deliver(
        session,
        scratch,
        std::iter::once((envelope, source)),
        &mut merge,
        then,
    );
    let [merge] = merge;
    merge.finish()
}

/// Sends every message, in order, each with its own result.
pub(crate) fn send_batch<E, B>(
    session: &mut Session,
    scratch: &mut Scratch,
    messages: impl IntoIterator<Item = (E, B)>,
    then: Then,
) -> Vec<Result<Delivery, Error>>
where
    E: Borrow<Envelope>,
    B: Content,
{
    // Held for the call: a message may go again on a new connection.
    let messages: Vec<(E, B)> = messages.into_iter().collect();
    let mut merges: Vec<Merge> = messages.iter().map(|_| Merge::default()).collect();
    let items = messages
        .iter()
        .map(|(e, b)| (e.borrow(), Source::Ready(b.payload())));
    retry::deliver(session, scratch, items, &mut merges, then);
    merges.into_iter().map(Merge::finish).collect()
}

/// The engine, over the session's connection as it is: sends every
/// transaction and puts their outcomes in `outcomes`, one per transaction
/// in order. The scratch block holds a stream's head.
fn run<'e, 'r>(
    session: &mut Session,
    scratch: &mut Scratch,
    outcomes: &mut Vec<Option<Outcome>>,
    work: impl Iterator<Item = (Part<'e>, Source<'r>)>,
    then: Then,
) {
    let Scratch {
        block,
        plan,
        pending,
        ..
    } = scratch;
    let ext = &session.info.extensions;
    let taken = session.delivered;
    let mut pipe = Pipe::new(&mut session.conn, ext, std::mem::take(pending), then, taken);
    pipe.lmtp = session.setup.protocol.reply_per_recipient();
    if ext.chunking() {
        bdat::run(&mut pipe, plan, block, work, outcomes);
    } else {
        data::run(&mut pipe, block, work, outcomes);
    }
    // Empty by now (every reply was read); kept for its memory.
    *pending = pipe.into_pending();
}
