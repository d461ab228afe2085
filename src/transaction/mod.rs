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

mod bdat;
mod data;
mod params;
mod pipe;
mod tx;

pub(crate) use data::data;

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
use crate::extensions::Extensions;
use crate::message::private::Payload;
use crate::message::Content;
use params::Facts;
use pipe::Pipe;
use tx::Pending;

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
/// plan of a BDAT chunk, the queue of pending replies and a single send's
/// result list. (The connection keeps the replies and command names that
/// are done with, for reuse.)
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Content is read through it, [`IO_BLOCK`] bytes at a time.
    pub block: Vec<u8>,
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
fn describe<B: Content>(source: &Source<'_, B>, block: &[u8]) -> Result<Facts, Error> {
    let (size, eight_bit) = match source {
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
    };
    Ok(Facts { size, eight_bit })
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
            let message = std::iter::once((envelope, Source::Ready(&block[..n])));
            let result = run_one(conn, ext, scratch, message, then);
            scratch.block = block;
            result
        }
        Ok((head, false)) => {
            // The head stays in the scratch block, where `run` finds it.
            scratch.block = block;
            let source: Source<'_, &[u8]> = Source::Stream { head, rest: body };
            run_one(
                conn,
                ext,
                scratch,
                std::iter::once((envelope, source)),
                then,
            )
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
    then: Then,
) -> Result<Delivery, Error> {
    let message = std::iter::once((envelope, Source::Ready(content)));
    run_one(conn, ext, scratch, message, then)
}

/// [`run`] for one message, with a result list kept for reuse.
fn run_one<'r, B: Content>(
    conn: &mut Connection,
    ext: &Extensions,
    scratch: &mut Scratch,
    message: std::iter::Once<(&Envelope, Source<'r, B>)>,
    then: Then,
) -> Result<Delivery, Error> {
    let mut results = std::mem::take(&mut scratch.results);
    results.clear();
    run(conn, ext, scratch, &mut results, message, then);
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
    then: Then,
) -> Vec<Result<Delivery, Error>>
where
    E: Borrow<Envelope>,
    B: Content,
{
    let messages = messages.into_iter().map(|(e, b)| (e, Source::Ready(b)));
    // Sized once where the caller's iterator says how many (within reason:
    // the hint is the caller's word, not a count).
    let mut results = Vec::with_capacity(messages.size_hint().0.min(1 << 16));
    run(conn, ext, scratch, &mut results, messages, then);
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
    then: Then,
) {
    let Scratch {
        block,
        plan,
        pending,
        ..
    } = scratch;
    let mut pipe = Pipe::new(conn, ext, std::mem::take(pending), then);
    if ext.chunking() {
        bdat::run(&mut pipe, plan, block, messages, results);
    } else {
        data::run(&mut pipe, block, messages, results);
    }
    // Empty by now (every reply was read); kept for its memory.
    *pending = pipe.into_pending();
}
