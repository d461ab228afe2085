//! Messages with BDAT (RFC 3030). With PIPELINING, a small message's MAIL,
//! RCPTs, `BDAT n LAST` and content leave together, and several small
//! messages share a write (each after the first opened by RSET, in case
//! the one before failed and left its transaction open). A large message
//! goes alone, in chunks whose replies are read while later chunks are
//! written, a few chunks behind, so memory stays bounded and neither side
//! can block the other.

use std::io::Read;

use super::pipe::{Pipe, Progress, Start, MAX_PENDING};
use super::tx::{Outcome, Part};
use super::{describe, reading_error, reset_after_failure, Source};
use crate::block::{fill, IO_BLOCK};
use crate::connection::Connection;
use crate::encoder::{DataEncoder, Piece};
use crate::error::Error;
use crate::message::private::Payload;
use crate::message::MessageFile;

/// A batch of small messages is written once this much is queued (or
/// MAX_PENDING replies are due).
const FLIGHT_BYTES: usize = IO_BLOCK / 2;
/// Input bytes per BDAT chunk of a message held in memory. A message up to
/// this size goes as a single `BDAT n LAST`.
const BDAT_CHUNK: usize = 1 << 20;
/// BDAT chunk size for a message file sent straight from the file: larger,
/// since it costs no memory.
const BDAT_FILE_CHUNK: u64 = 4 << 20;

/// Sends every message with BDAT; `block` holds a stream's head, and
/// `plan` is room for a chunk's plan.
pub(super) fn run<'e, 'r>(
    pipe: &mut Pipe<'_, 'e>,
    plan: &mut Vec<Piece>,
    block: &mut Vec<u8>,
    messages: impl Iterator<Item = (Part<'e>, Source<'r>)>,
    results: &mut Vec<Option<Outcome>>,
) {
    let mut need_rset = false;
    let mut messages = messages.enumerate().peekable();
    // A connection the server is done with takes no more: the rest wait
    // for a new one.
    while let Some((index, (part, source))) = messages.next_if(|_| !pipe.done()) {
        let last = messages.peek().is_none();
        results.push(None);
        let small = match &source {
            Source::Ready(b) => match b {
                Payload::Bytes(b) => b.len() <= BDAT_CHUNK,
                Payload::Prepared(m) => m.len() <= BDAT_CHUNK,
                Payload::File(_) => false,
            },
            Source::Stream { .. } => false,
        };
        let rcpts = part.count();
        let full = pipe.wire.pending.len() + rcpts + 3 > MAX_PENDING;
        // With LMTP each message is settled before the next (see
        // `Pipe::fenced`).
        let alone = !small || pipe.wire.lockstep || pipe.fenced();
        if pipe.in_flight() && (alone || full) {
            need_rset = pipe.settle(results).rset_due(need_rset);
        }
        let rset = need_rset || pipe.in_flight();
        let facts = describe(&source, block);
        match pipe.start(index, part, facts, rset) {
            Start::Refused => {
                pipe.refuse(results);
                continue;
            }
            Start::Failed => {
                need_rset = pipe.settle(results).rset_due(true);
                continue;
            }
            Start::Queued => need_rset = false,
        }
        match source {
            Source::Ready(body) => {
                match body {
                    Payload::Bytes(body) => chunks_of_bytes(pipe, index, plan, body, false),
                    // A prepared message is sent as it is: no encoding.
                    Payload::Prepared(m) => chunks_of_bytes(pipe, index, plan, m.as_bytes(), true),
                    Payload::File(f) if f.is_crlf() => chunks_of_file(pipe, index, block, f),
                    Payload::File(f) => {
                        // Not CRLF text: read and encoded as a stream.
                        block.resize(IO_BLOCK, 0);
                        let mut reader = f.reader();
                        match fill(&mut reader, block) {
                            Ok((n, eof)) => {
                                chunks_of_stream(pipe, index, plan, block, n, eof, &mut reader)
                            }
                            Err(e) => pipe.current().fail(reading_error(e)),
                        }
                    }
                }
                if last {
                    pipe.quit_after_last(index);
                }
                // Small messages share a write until it is full.
                if alone || pipe.wire.conn.queued_len() >= FLIGHT_BYTES {
                    need_rset = pipe.settle(results).rset_due(need_rset);
                }
            }
            Source::Stream { head, rest } => {
                // The head filled the block, so it is not known to be last;
                // a stream that ends on a block boundary ends with a short
                // (often empty) `BDAT n LAST`.
                chunks_of_stream(pipe, index, plan, block, head, false, rest);
                if last {
                    pipe.quit_after_last(index);
                }
                need_rset = pipe.settle(results).rset_due(need_rset);
            }
        }
    }
    if pipe.settle(results).rset_due(need_rset) {
        reset_after_failure(pipe.wire.conn);
    }
}

/// A message in memory in BDAT chunks, each encoded unless `ready` (a
/// prepared message, already in the form BDAT sends).
fn chunks_of_bytes(
    pipe: &mut Pipe<'_, '_>,
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
        if pipe.chunk(index, size as u64, last, content) == Progress::Failed || last {
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
/// the file (`block` is room for copying it where the kernel cannot).
fn chunks_of_file(pipe: &mut Pipe<'_, '_>, index: usize, block: &mut Vec<u8>, f: &MessageFile) {
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
            |conn: &mut Connection, during: &str| conn.queue_file(&file, from, size, block, during);
        if pipe.chunk(index, size, last, content) == Progress::Failed || last {
            return;
        }
        from += size;
    }
}

/// A stream in BDAT chunks of one block each, encoded. The block holds
/// the first `filled` bytes already, and `ended` says whether that is all.
fn chunks_of_stream(
    pipe: &mut Pipe<'_, '_>,
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
        if pipe.chunk(index, size as u64, ended, content) == Progress::Failed || ended {
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
