//! Across connections: each message's transactions, sent over the
//! session's connection and, when that goes, over a new one.
//!
//! - A message that found the connection closed before anything of it was
//!   sent, or whose transaction the server refused before accepting any
//!   command of it (it closed, said 421, or "too many messages" to MAIL
//!   after taking some on this connection), goes again on a new connection
//!   (the second time, at most once). A transaction that was under way is
//!   never sent again: its end may have reached the server.
//! - Recipients the server put off ("452 too many recipients") go in
//!   another transaction of the same message, as many times as needed;
//!   the caller may also cap the recipients per transaction.
//! - At most so many messages go over one connection when the caller says
//!   so; the next go over a new one.
//! - Two connections in a row over which the server takes no message end
//!   the call: a server that refuses every session cannot make it loop.

use super::merge::Merge;
use super::queue::Queue;
use super::tx::{More, Outcome, Part, Recipients};
use super::{run, Scratch, Source, Then};
use crate::delivery::Rejection;
use crate::error::Error;
use crate::reply::Reply;
use crate::session::Session;

/// A transaction to send: of which message, to which recipients, with
/// what content.
struct Job<'r> {
    message: usize,
    part: Part<'r>,
    source: Source<'r>,
    /// It went on the wire once and the connection went under it.
    tried: bool,
    /// What stopped it last, for when it cannot go again.
    last: Option<Box<Error>>,
}

impl<'r> Job<'r> {
    fn new(message: usize, part: Part<'r>, source: Source<'r>) -> Self {
        Job {
            message,
            part,
            source,
            tried: false,
            last: None,
        }
    }
}

/// A job handed to the engine, kept to send again.
struct Taken<'r> {
    message: usize,
    part: Part<'r>,
    /// The content again, when it can be sent again (not a stream).
    again: Option<Source<'r>>,
    tried: bool,
}

/// What to do with a transaction's outcome.
enum Verdict {
    /// It stands.
    Final,
    /// Nothing of it was sent: the connection was gone. Send it again.
    Untried,
    /// The server refused it before accepting anything of it, because the
    /// connection went (or will take no more): send it again, once.
    Refused,
}

/// How many connections in a row may carry no message before the call
/// gives up.
const FRUITLESS: usize = 2;

/// Sends the messages' transactions (`jobs` holds each message's first)
/// and merges each outcome into its message's result (`merges`, by
/// message index).
pub(super) fn deliver<'r>(
    session: &mut Session,
    scratch: &mut Scratch,
    items: impl Iterator<Item = (&'r crate::envelope::Envelope, Source<'r>)>,
    merges: &mut [Merge],
    then: Then,
) {
    let limit = session.upkeep.max_recipients;
    // Sized once from the caller's count (within reason: it is a hint).
    let mut jobs: Queue<Job<'r>> = Queue::with_capacity(items.size_hint().0.min(1 << 16));
    for (message, (envelope, source)) in items.enumerate() {
        match source.again() {
            // A stream is read once: one transaction, whatever the limit.
            None => jobs.push_back(Job::new(message, Part::whole(envelope), source)),
            Some(_) => {
                for part in parts(envelope, limit) {
                    let copy = source.again().expect("content at hand");
                    jobs.push_back(Job::new(message, part, copy));
                }
            }
        }
    }
    let mut fruitless = 0;
    let mut fresh = false;
    // A connection closed before the call (QUIT, or a failure reported
    // then) stays closed: only one that goes during the call is replaced.
    let open = !session.conn.is_closed();
    while !jobs.is_empty() {
        if let Err(e) = connection(session, open, fresh, fruitless) {
            give_up(&mut jobs, merges, e);
            return;
        }
        let room = session
            .upkeep
            .max_messages
            .map_or(usize::MAX, |max| max.saturating_sub(session.started));
        let count = jobs.len().min(room.max(1));
        let run_then = if count == jobs.len() {
            then
        } else {
            // The connection is spent after these: QUIT with the last.
            Then::Quit
        };
        let mut taken: Queue<Taken<'r>> = Queue::with_capacity(count);
        let mut handed = 0;
        let work = std::iter::from_fn(|| {
            if handed == count {
                return None;
            }
            let job = jobs.pop_front()?;
            handed += 1;
            taken.push_back(Taken {
                message: job.message,
                part: job.part.clone(),
                again: job.source.again(),
                tried: job.tried,
            });
            Some((job.part, job.source))
        });
        let mut outcomes = std::mem::take(&mut scratch.outcomes);
        outcomes.clear();
        outcomes.reserve(count);
        run(session, scratch, &mut outcomes, work, run_then);
        session.started += handed;
        // A connection makes progress when the server takes a message
        // over it: one that takes none counts towards giving up.
        let mut progress = false;
        let mut again: Queue<Job<'r>> = Queue::default();
        for outcome in outcomes.drain(..) {
            let Some(t) = taken.pop_front() else { break };
            let Some(outcome) = outcome else { continue };
            match verdict(&outcome, &t, session) {
                verdict @ (Verdict::Untried | Verdict::Refused) if t.again.is_some() => {
                    again.push_back(Job {
                        message: t.message,
                        part: t.part,
                        source: t.again.expect("checked"),
                        tried: t.tried || matches!(verdict, Verdict::Refused),
                        last: outcome.result.err().map(Box::new),
                    });
                }
                _ => {
                    progress |= outcome.result.is_ok();
                    finish(outcome, &t, &mut jobs, &mut merges[t.message], session);
                }
            }
        }
        scratch.outcomes = outcomes;
        // Taken but never started (the connection was done with first):
        // they go again as they were.
        while let Some(t) = taken.pop_front() {
            if let Some(source) = t.again {
                let mut job = Job::new(t.message, t.part, source);
                job.tried = t.tried;
                again.push_back(job);
            }
        }
        // What goes again goes first, in its order.
        while let Some(job) = again.pop_back() {
            jobs.push_front(job);
        }
        fruitless = if progress { 0 } else { fruitless + 1 };
        fresh = session.is_spent() || jobs.front().is_some_and(|j| j.last.is_some());
    }
}

/// Makes sure there is a connection to send over: the session's, looked
/// at if it sat idle, or a new one when it went during the call (it was
/// `open` when the call began), is spent, or must be replaced (`fresh`).
/// Fails when none can be had.
fn connection(
    session: &mut Session,
    open: bool,
    fresh: bool,
    fruitless: usize,
) -> Result<(), Error> {
    let replace = fresh || session.conn.is_closed() || session.is_spent();
    if !replace {
        return session.ready();
    }
    if !open || !session.can_reconnect() {
        return Err(Error::ConnectionClosed {
            during: "sending the message".into(),
        });
    }
    if fruitless >= FRUITLESS {
        return Err(Error::ConnectionClosed {
            during: format!(
                "sending the message: {FRUITLESS} connections in a row carried nothing"
            ),
        });
    }
    session.reconnect()
}

/// Whether an outcome stands or the transaction goes again.
fn verdict(outcome: &Outcome, t: &Taken<'_>, session: &Session) -> Verdict {
    let Err(e) = &outcome.result else {
        return Verdict::Final;
    };
    if outcome.under_way {
        return Verdict::Final;
    }
    if !outcome.touched || outcome.unseen {
        return match e {
            Error::ConnectionClosed { .. } => Verdict::Untried,
            _ => Verdict::Final,
        };
    }
    let gone = e.is_silence()
        || matches!(e, Error::SessionClosed(_))
        || matches!(e, Error::Transient(r) if r.code == 421);
    // "452 4.5.3 too many messages" to MAIL once the server took some on
    // this connection: it takes no more here.
    let spent = matches!(e, Error::Transient(r)
        if r.code == 452
            && session.delivered > 0
            && r.in_reply_to().is_some_and(|c| c.starts_with("MAIL FROM")));
    if spent {
        // Not this message's doing: the connection's. It goes again on a
        // new one as if it had not gone at all.
        Verdict::Untried
    } else if gone && !t.tried {
        Verdict::Refused
    } else {
        Verdict::Final
    }
}

/// Takes a transaction's final outcome into its message's result, and
/// queues another transaction for the recipients the server put off.
fn finish<'r>(
    outcome: Outcome,
    t: &Taken<'r>,
    jobs: &mut Queue<Job<'r>>,
    merge: &mut Merge,
    session: &mut Session,
) {
    let Outcome { result, more, .. } = outcome;
    if result.is_ok() {
        session.delivered += 1;
    }
    let Some(more) = more else {
        let pending = match &result {
            Ok(_) => Vec::new(),
            Err(_) => pending(&t.part, &[], &[]),
        };
        merge.add(result, pending, Vec::new());
        return;
    };
    let More {
        accepted,
        rejected,
        deferred,
    } = *more;
    let (accepted_here, pending) = match &result {
        Ok(d) => (d.accepted.len(), Vec::new()),
        Err(_) => (accepted.len(), pending(&t.part, &rejected, &deferred)),
    };
    merge.add(result, pending, rejected);
    if deferred.is_empty() {
        return;
    }
    // The server's limit, learned: later transactions (of this message
    // and the next ones) carry no more, so no RCPT goes only to be put
    // off.
    let limit = session
        .upkeep
        .max_recipients
        .map_or(accepted_here, |l| l.min(accepted_here))
        .max(1);
    session.upkeep.max_recipients = Some(limit);
    match t.again.as_ref() {
        Some(source) => {
            let rest: Vec<usize> = deferred.into_iter().map(|(at, _)| at).collect();
            for group in rest.chunks(limit) {
                let part = Part {
                    envelope: t.part.envelope,
                    recipients: Recipients::Only(group.to_vec()),
                };
                let copy = source.again().expect("content at hand");
                jobs.push_back(Job::new(t.message, part, copy));
            }
        }
        // A stream was read once: those recipients cannot get it.
        None => {
            let list = t.part.envelope.recipient_list();
            merge.refused(
                deferred
                    .into_iter()
                    .map(|(at, reply)| Rejection::new(list[at].address(), reply))
                    .collect(),
            );
        }
    }
}

/// Ends the call: every transaction still to send fails with what
/// stopped it last (a 421, say), or, if it never went, with `error` (why
/// there is no connection to send it over) for the first and a closed
/// connection for the others.
fn give_up(jobs: &mut Queue<Job<'_>>, merges: &mut [Merge], error: Error) {
    let mut error = Some(error);
    while let Some(job) = jobs.pop_front() {
        let e = job
            .last
            .map(|e| *e)
            .or_else(|| error.take())
            .unwrap_or(Error::ConnectionClosed {
                during: "sending the message".into(),
            });
        let pending = pending(&job.part, &[], &[]);
        merges[job.message].add(Err(e), pending, Vec::new());
    }
}

/// The recipients of a failed transaction whose fate its failure decides:
/// all it carried but those it refused or put off to another one.
fn pending(part: &Part<'_>, rejected: &[Rejection], deferred: &[(usize, Reply)]) -> Vec<String> {
    (0..part.count())
        .filter_map(|i| part.recipient(i))
        .filter(|(at, r)| {
            !deferred.iter().any(|(d, _)| d == at)
                && !rejected.iter().any(|x| x.recipient == r.address())
        })
        .map(|(_, r)| r.address().to_owned())
        .collect()
}

/// A message's transactions when at most `limit` recipients may go in
/// one (all in one otherwise).
fn parts(
    envelope: &crate::envelope::Envelope,
    limit: Option<usize>,
) -> impl Iterator<Item = Part<'_>> {
    let count = envelope.recipient_list().len();
    let size = limit.filter(|&l| l < count).unwrap_or(count).max(1);
    (0..count).step_by(size).map(move |from| Part {
        envelope,
        recipients: if size >= count {
            Recipients::All
        } else {
            Recipients::Only((from..(from + size).min(count)).collect())
        },
    })
}
