//! Messages with DATA. With PIPELINING, a message's envelope and DATA
//! leave in one write; after the 354, its content, its end of data and the
//! next message's envelope and DATA leave in the next (RFC 2920 3.1: the
//! content may open a group). And the step-by-step `data` of a session
//! typed by hand.

use std::borrow::Cow;
use std::io::Read;

use super::pipe::{Pipe, Progress, Results, Settled, Start};
use super::tx::{Expect, Outcome, Part};
use super::{describe, reset_after_failure, Source};
use crate::command::Command;
use crate::connection::Connection;
use crate::encoder::DataEncoder;
use crate::error::Error;
use crate::message::private::Payload;
use crate::reply::{Reply, ReplyClass};
use crate::success::Step;
use crate::timeouts::Phase;
use crate::transcript::Direction;

/// Sends every message with DATA; `block` holds a stream's head.
pub(super) fn run<'e, 'r>(
    pipe: &mut Pipe<'_, 'e>,
    block: &mut Vec<u8>,
    messages: impl Iterator<Item = (Part<'e>, Source<'r>)>,
    results: &mut Vec<Option<Outcome>>,
) {
    let mut messages = messages.enumerate().peekable();
    let mut next = start(pipe, block, &mut messages, results);
    let mut last_failed = false;
    while let Some((index, source)) = next.take() {
        pipe.drain();
        // The replies read include the previous message's end of data.
        pipe.settle_before(index, results);
        if pipe.current().failed() {
            abandon(pipe, results);
            last_failed = false;
            next = start(pipe, block, &mut messages, results);
            continue;
        }
        if let Err(e) = queue_content(pipe.wire.conn, source, block) {
            pipe.current().fail(e);
            pipe.settle(results);
            next = start(pipe, block, &mut messages, results);
            continue;
        }
        pipe.end_queued();
        pipe.wire
            .expect(index, Expect::EndOfData, Cow::Borrowed("end of data"));
        // Without PIPELINING the end of data is answered before anything
        // else is sent; with LMTP, before the next message (see
        // `Pipe::fenced`), but QUIT may still join the last one.
        let fence = pipe.wire.lockstep || (pipe.fenced() && messages.peek().is_some());
        if fence && pipe.settle(results) == Settled::Open {
            reset_after_failure(pipe.wire.conn);
        }
        next = start(pipe, block, &mut messages, results);
        if next.is_none() {
            pipe.quit_after_last(index);
            last_failed = pipe.settle(results) == Settled::Open;
        }
    }
    if last_failed {
        reset_after_failure(pipe.wire.conn);
    }
}

/// Takes messages until one has its envelope and DATA queued (with
/// PIPELINING; in lockstep, answered 354). A message that fails before
/// that gets its result here.
fn start<'e, 'r>(
    pipe: &mut Pipe<'_, 'e>,
    block: &[u8],
    messages: &mut impl Iterator<Item = (usize, (Part<'e>, Source<'r>))>,
    results: &mut Vec<Option<Outcome>>,
) -> Option<(usize, Source<'r>)> {
    loop {
        // A connection the server is done with takes no more: the rest
        // wait for a new one.
        if pipe.done() {
            return None;
        }
        let (index, (part, source)) = messages.next()?;
        results.push(None);
        let facts = describe(&source, block);
        match pipe.start(index, part, facts, false) {
            Start::Refused => {
                pipe.refuse(results);
                continue;
            }
            Start::Queued => {
                pipe.wire.push(index, Expect::Data, &Command::Data);
                if pipe.step() == Progress::Going {
                    pipe.flush();
                    return Some((index, source));
                }
            }
            Start::Failed => {}
        }
        abandon(pipe, results);
    }
}

/// Ends a message that failed on the wire: reads every reply due, sends
/// the lone end of data if DATA was answered 354 anyway (RFC 2920 3.1:
/// the content is then empty, never the body), RSET, and hands out the
/// results.
fn abandon(pipe: &mut Pipe<'_, '_>, results: &mut Results) {
    pipe.drain();
    if pipe.current().go_ahead {
        let index = pipe.current().index;
        let end = pipe
            .wire
            .conn
            .queue_end(&mut DataEncoder::for_data(), "end of data");
        pipe.wire.conn.note(Direction::Sent, ".");
        if end.is_ok() {
            pipe.wire
                .expect(index, Expect::EndOfData, Cow::Borrowed("end of data"));
        }
        pipe.drain();
    }
    reset_after_failure(pipe.wire.conn);
    pipe.settle(results);
}

/// Queues the content for DATA, dot-stuffed, and the end of data.
fn queue_content(
    conn: &mut Connection,
    source: Source<'_>,
    block: &mut Vec<u8>,
) -> Result<(), Error> {
    let mut encoder = DataEncoder::for_data();
    match source {
        Source::Ready(body) => match body {
            Payload::Bytes(body) => conn.queue_content(body, &mut encoder, "DATA")?,
            Payload::Prepared(m) => {
                m.data_pieces(&mut |p: &[u8]| conn.queue_raw(p, "DATA"))?;
                conn.note_content(m.len());
            }
            Payload::File(f) => {
                // After the 354 the server takes whatever comes as
                // content: if the file cannot be read to its end, the
                // connection must go (queue_body sees to it).
                conn.queue_body(block, 0, &mut f.reader(), &mut encoder, "DATA")?;
            }
        },
        Source::Stream { head, rest } => {
            conn.queue_body(block, head, rest, &mut encoder, "DATA")?;
        }
    }
    conn.note(Direction::Sent, ".");
    Ok(())
}

/// DATA, the content, and the end of data, step by step. Returns the
/// final reply, which is 250 or an error ([`Error::OutcomeUnknown`] when
/// the connection broke after the end of data went out).
pub(crate) fn data(
    conn: &mut Connection,
    block: &mut Vec<u8>,
    body: &mut dyn Read,
) -> Result<Reply, Error> {
    send_data(conn, block, body)?;
    Error::check(read_final(conn)?, Step::EndOfData)
}

/// LMTP's DATA step by step: the content, then one reply per accepted
/// recipient (`recipients` of them, at least one), in RCPT order, each as
/// the server gave it: 2yz (stored), 4yz or 5yz (not stored for that
/// recipient). A reply that never comes is [`Error::OutcomeUnknown`].
pub(crate) fn data_lmtp(
    conn: &mut Connection,
    block: &mut Vec<u8>,
    body: &mut dyn Read,
    recipients: usize,
) -> Result<Vec<Reply>, Error> {
    send_data(conn, block, body)?;
    let mut replies = Vec::with_capacity(recipients.max(1));
    for _ in 0..recipients.max(1) {
        let reply = read_final(conn)?;
        if reply.closes_session() {
            return Err(Error::OutcomeUnknown(Box::new(Error::closing(reply))));
        }
        match reply.class() {
            _ if Step::EndOfData.accepts(reply.code) => {}
            ReplyClass::TransientNegative | ReplyClass::PermanentNegative => {}
            _ => {
                let e = Error::refusal(reply, Step::EndOfData.expected());
                return Err(Error::OutcomeUnknown(Box::new(e)));
            }
        }
        replies.push(reply);
    }
    Ok(replies)
}

/// DATA, its 354, the content and the end of data, written.
fn send_data(conn: &mut Connection, block: &mut Vec<u8>, body: &mut dyn Read) -> Result<(), Error> {
    Error::check(conn.execute(&Command::Data)?, Step::Data)?;
    conn.queue_body(block, 0, body, &mut DataEncoder::for_data(), "DATA")?;
    conn.note(Direction::Sent, ".");
    conn.flush("end of data")
}

/// A reply after the end of data: one that never comes leaves the
/// outcome unknown, since the end is out.
fn read_final(conn: &mut Connection) -> Result<Reply, Error> {
    conn.read_reply("end of data", Phase::EndOfData)
        .map_err(|e| match e {
            e if e.leaves_outcome_unknown() => Error::OutcomeUnknown(Box::new(e)),
            e => e,
        })
}
