//! The bookkeeping of one transaction: what each pending reply answers,
//! and the transaction's state as its replies come in. No I/O here:
//! replies are handed in, and the outcome is read off at the end.
//!
//! A transaction carries a message to some of its envelope's recipients
//! (a [`Part`]): all of them, unless the caller limits recipients per
//! transaction or the server put some off ("452 too many recipients",
//! RFC 5321 4.5.3.1.10), in which case the message goes in several.

use std::borrow::Cow;

use super::lmtp::Finals;
use crate::delivery::{Delivery, Rejection};
use crate::envelope::{Envelope, Recipient};
use crate::error::Error;
use crate::reply::{Reply, ReplyClass};
use crate::success::Step;
use crate::timeouts::Phase;

/// What a pending reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expect {
    Rset,
    Mail,
    Rcpt,
    Data,
    Bdat {
        last: bool,
    },
    EndOfData,
    /// QUIT after the last message: its reply decides nothing.
    Quit,
}

impl Expect {
    /// The phase whose timeout bounds the wait for this reply.
    pub fn phase(self) -> Phase {
        match self {
            Expect::Mail => Phase::Mail,
            Expect::Rcpt => Phase::Rcpt,
            Expect::Data => Phase::Data,
            Expect::Bdat { last: false } => Phase::DataBlock,
            Expect::Bdat { last: true } | Expect::EndOfData => Phase::EndOfData,
            Expect::Rset | Expect::Quit => Phase::Other,
        }
    }
}

/// A command on the wire whose reply has not been read yet.
#[derive(Debug)]
pub(super) struct Pending {
    /// The transaction (its slot in the call) the reply belongs to.
    pub message: usize,
    pub expect: Expect,
    /// The command as the transcript shows it; errors name it, and so does
    /// its reply, which takes it over.
    pub during: Cow<'static, str>,
}

/// Which of an envelope's recipients a transaction carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recipients {
    All,
    /// These, by their index in the envelope.
    Only(Vec<usize>),
}

/// A message's envelope as one transaction carries it.
#[derive(Debug, Clone)]
pub(crate) struct Part<'e> {
    pub envelope: &'e Envelope,
    pub recipients: Recipients,
}

impl<'e> Part<'e> {
    pub fn whole(envelope: &'e Envelope) -> Self {
        Part {
            envelope,
            recipients: Recipients::All,
        }
    }

    /// How many recipients this transaction carries.
    pub fn count(&self) -> usize {
        match &self.recipients {
            Recipients::All => self.envelope.recipient_list().len(),
            Recipients::Only(list) => list.len(),
        }
    }

    /// The `i`th recipient of this transaction, and its index in the
    /// envelope.
    pub fn recipient(&self, i: usize) -> Option<(usize, &'e Recipient)> {
        let at = match &self.recipients {
            Recipients::All => i,
            Recipients::Only(list) => *list.get(i)?,
        };
        self.envelope.recipient_list().get(at).map(|r| (at, r))
    }
}

/// What became of a transaction.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub result: Result<Delivery, Error>,
    /// What else there is to know, rarely: kept apart so that the usual
    /// outcome is small to move.
    pub more: Option<Box<More>>,
    /// Something of it went on the wire.
    pub touched: bool,
    /// MAIL was accepted: the transaction was under way.
    pub under_way: bool,
    /// The server said goodbye (421, 221) before any reply of it: it took
    /// nothing of it, whatever went out.
    pub unseen: bool,
}

/// The rest of an outcome, when there is any.
#[derive(Debug, Default)]
pub(crate) struct More {
    /// On failure, the recipients it had accepted and those it refused by
    /// then (on success they are in the `Delivery`).
    pub accepted: Vec<String>,
    pub rejected: Vec<Rejection>,
    /// Recipients the server put off to another transaction, by their
    /// index in the envelope, with the reply that put them off.
    pub deferred: Vec<(usize, Reply)>,
}

#[cfg(test)]
impl Outcome {
    /// Recipients put off to another transaction.
    pub fn deferred(&self) -> &[(usize, Reply)] {
        self.more.as_ref().map_or(&[], |m| &m.deferred)
    }
}

/// The state of one transaction, built from its replies.
#[derive(Debug)]
pub(super) struct Tx<'e> {
    /// Its slot in the call.
    pub index: usize,
    pub part: Part<'e>,
    accepted: Vec<String>,
    rejected: Vec<Rejection>,
    deferred: Vec<(usize, Reply)>,
    /// RCPT replies read so far.
    rcpts: usize,
    /// The first thing that went wrong: the message is not sent.
    error: Option<Error>,
    /// Something of it went on the wire (a failure then needs RSET).
    pub touched: bool,
    /// DATA was answered 354: content (or at least the lone dot) is due.
    pub go_ahead: bool,
    /// MAIL was accepted.
    under_way: bool,
    /// The end of the content (the end of data, or `BDAT ... LAST` and its
    /// chunk) is queued.
    pub end_queued: bool,
    /// ... and was written whole: from then on, a connection that breaks
    /// before the reply leaves the outcome unknown (RFC 1047).
    pub end_sent: bool,
    /// Some reply of it was read.
    pub answered: bool,
    /// The server said goodbye before any reply of it (see
    /// [`Outcome::unseen`]).
    pub unseen: bool,
    /// The 250 to the end of data or to `BDAT ... LAST`.
    reply: Option<Reply>,
    /// LMTP: a reply per accepted recipient after the end.
    pub lmtp: bool,
    /// LMTP: those replies, once the first came.
    finals: Option<Finals>,
}

impl<'e> Tx<'e> {
    pub fn new(index: usize, part: Part<'e>) -> Self {
        Tx {
            index,
            part,
            accepted: Vec::new(),
            rejected: Vec::new(),
            deferred: Vec::new(),
            rcpts: 0,
            error: None,
            touched: false,
            go_ahead: false,
            under_way: false,
            end_queued: false,
            end_sent: false,
            answered: false,
            unseen: false,
            reply: None,
            lmtp: false,
            finals: None,
        }
    }

    /// LMTP: whether another reply per recipient is due.
    pub fn wants_more_finals(&self) -> bool {
        self.error.is_none()
            && self
                .finals
                .as_ref()
                .is_some_and(|f| f.wants_more(self.accepted.len()))
    }

    /// LMTP: whether the replies per recipient came (some of them).
    pub fn has_finals(&self) -> bool {
        self.finals.is_some()
    }

    /// LMTP: the server said more than it owed after the replies per
    /// recipient.
    pub fn too_many(&mut self, extra: Error) {
        if let Some(finals) = &mut self.finals {
            finals.too_many(extra);
        }
    }

    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Whether the server may put recipients off to another transaction
    /// on this connection: it did, or their RCPT replies are not all read
    /// yet (BDAT does not wait for them) and there are more than the 100
    /// that RFC 5321 4.5.3.1.8 obliges every server to take at once.
    pub fn may_need_more(&self) -> bool {
        !self.deferred.is_empty() || (self.rcpts < self.part.count() && self.part.count() > 100)
    }

    /// Records a failure; the first one decides the message's result.
    pub fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Takes in the reply to one of this message's commands. The first
    /// failure decides the message's result; later replies are still read
    /// (they are on the wire) but change nothing. Hands the reply back
    /// when nothing keeps it (a reply that only says yes), so that its
    /// memory serves the next one.
    ///
    /// Each reply must be the success its command names (RFC 5321
    /// 4.3.2): any other 2yz fails the message as a protocol error. A
    /// reply that closes the session (421, or 221) fails the message
    /// whatever it answers: a 421 to RCPT is not that recipient's refusal,
    /// and one to RSET is not a reset. Once the end of the content was
    /// written, a reply that never comes (the connection breaks, the
    /// server falls silent) makes the outcome unknown.
    #[inline]
    pub fn absorb(&mut self, expect: Expect, reply: Result<Reply, Error>) -> Option<Reply> {
        let end = matches!(expect, Expect::EndOfData | Expect::Bdat { last: true });
        if end && self.lmtp && self.error.is_none() {
            // One reply per accepted recipient (after a failure, the one
            // reply of a refused end).
            self.answered |= reply.is_ok();
            let finals = self.finals.get_or_insert_with(Finals::default);
            return finals.take(&self.accepted, reply);
        }
        if expect == Expect::Quit {
            // The message's result is known by now; a lost 221 (or a
            // server that closes without one) changes nothing. With LMTP,
            // anything else is a reply per recipient too many.
            match reply {
                Ok(r) if self.finals.is_some() && !r.closes_session() => {
                    self.too_many(Error::UnexpectedReply {
                        expected: "221 to QUIT",
                        reply: r,
                    });
                    return None;
                }
                reply => return reply.ok(),
            }
        }
        self.answered |= reply.is_ok();
        let reply = match reply {
            Ok(reply) if !reply.closes_session() => reply,
            Ok(reply) => {
                self.fail(Error::closing(reply));
                return None;
            }
            Err(e) if self.end_sent && self.reply.is_none() && e.leaves_outcome_unknown() => {
                self.fail(Error::OutcomeUnknown(Box::new(e)));
                return None;
            }
            Err(e) => {
                self.fail(e);
                return None;
            }
        };
        let spare = match expect {
            Expect::Rset => Error::check(reply, Step::Rset).map(Some),
            Expect::Mail => Error::check(reply, Step::Mail).map(|reply| {
                self.under_way = true;
                Some(reply)
            }),
            Expect::Rcpt => self.recipient(reply),
            Expect::Data => Error::check(reply, Step::Data).map(|reply| {
                self.go_ahead = true;
                Some(reply)
            }),
            Expect::Bdat { .. } | Expect::EndOfData if self.failed() => {
                Error::check(reply, Step::Bdat).map(Some)
            }
            // The reply to the end of the content is the message's result.
            Expect::Bdat { last: true } | Expect::EndOfData => Error::check(reply, Step::EndOfData)
                .map(|reply| {
                    self.reply = Some(reply);
                    None
                }),
            Expect::Bdat { last: false } => Error::check(reply, Step::Bdat).map(Some),
            Expect::Quit => Ok(Some(reply)),
        };
        spare.unwrap_or_else(|e| {
            self.fail(e);
            None
        })
    }

    /// Takes in the reply to the next RCPT: the recipient is accepted,
    /// refused (with its reply), or put off to another transaction.
    /// Hands back the reply it does not keep.
    fn recipient(&mut self, reply: Reply) -> Result<Option<Reply>, Error> {
        let Some((at, r)) = self.part.recipient(self.rcpts) else {
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
        if !self.accepted.is_empty() && too_many_recipients(&reply) {
            // RFC 5321 4.5.3.1.10: the server takes no more in this
            // transaction; the client sends the rest in another.
            self.deferred.push((at, reply));
            return Ok(None);
        }
        let spare = sort_recipient(r.address(), reply, &mut self.accepted, &mut self.rejected)?;
        if self.rcpts == self.part.count() && self.accepted.is_empty() {
            let rejected = std::mem::take(&mut self.rejected);
            return Err(Error::AllRecipientsRejected(rejected));
        }
        Ok(spare)
    }

    /// The transaction's outcome: the message was sent (to its accepted
    /// recipients) only when its content was answered 250 and nothing
    /// failed.
    pub fn into_outcome(self) -> Outcome {
        let (result, accepted, rejected) = match (self.error, self.reply, self.finals) {
            (None, _, Some(finals)) => {
                // LMTP: on failure, the recipients of unknown outcome are
                // kept as the accepted ones (a failed transaction's
                // accepted recipients are of unknown outcome when its
                // error is).
                let settled = finals.settle(self.accepted, self.rejected);
                (settled.result, settled.unknown, settled.rejected)
            }
            (Some(e), _, _) => (Err(e), self.accepted, self.rejected),
            (None, Some(reply), None) => (
                Ok(Delivery::new(reply, self.accepted, self.rejected)),
                Vec::new(),
                Vec::new(),
            ),
            // Every path reads the final reply or records an error; this
            // guard only makes sure nothing else is ever reported as sent.
            (None, None, None) => (
                Err(Error::ConnectionClosed {
                    during: "end of data".into(),
                }),
                self.accepted,
                self.rejected,
            ),
        };
        let more = (!accepted.is_empty() || !rejected.is_empty() || !self.deferred.is_empty())
            .then(|| {
                Box::new(More {
                    accepted,
                    rejected,
                    deferred: self.deferred,
                })
            });
        Outcome {
            result,
            more,
            touched: self.touched,
            under_way: self.under_way,
            unseen: self.unseen,
        }
    }

    /// The transaction's result alone (its outcome's `result`).
    #[cfg(test)]
    pub fn into_result(self) -> Result<Delivery, Error> {
        self.into_outcome().result
    }
}

/// "Too many recipients" (RFC 5321 4.5.3.1.10): 452, or the old servers'
/// 552, with the enhanced code X.5.3 when the server gives one (a 452
/// 4.2.2 "mailbox full" is that recipient's own refusal). A plain 452
/// counts: if it meant something else, the recipient is refused again in
/// the next transaction, with nobody else to wait for.
fn too_many_recipients(reply: &Reply) -> bool {
    let detail = reply.enhanced.map(|e| (e.subject, e.detail));
    match reply.code {
        452 => detail.is_none_or(|d| d == (5, 3)),
        552 => detail == Some((5, 3)),
        _ => false,
    }
}

/// Files a RCPT reply under accepted (250, 251) or rejected (4yz, 5yz).
/// A reply that is neither (another 2yz, a 3yz) is an error: the server is
/// not following the protocol.
fn sort_recipient(
    address: &str,
    reply: Reply,
    accepted: &mut Vec<String>,
    rejected: &mut Vec<Rejection>,
) -> Result<Option<Reply>, Error> {
    match reply.class() {
        _ if Step::Rcpt.accepts(reply.code) => {
            accepted.push(address.to_owned());
            Ok(Some(reply))
        }
        ReplyClass::TransientNegative | ReplyClass::PermanentNegative => {
            rejected.push(Rejection::new(address, reply));
            Ok(None)
        }
        _ => Err(Error::refusal(reply, Step::Rcpt.expected())),
    }
}

#[cfg(test)]
mod tests;
