//! The bookkeeping of one transaction: what each pending reply answers,
//! and the transaction's state as its replies come in. No I/O here:
//! replies are handed in, and the outcome is read off at the end.
//!
//! A transaction carries a message to some of its envelope's recipients
//! (a [`Part`]): all of them, unless the caller limits recipients per
//! transaction or the server put some off ("452 too many recipients",
//! RFC 5321 4.5.3.1.10), in which case the message goes in several.

use std::borrow::Cow;

use crate::delivery::{Delivery, Rejection};
use crate::envelope::{Envelope, Recipient};
use crate::error::Error;
use crate::reply::{Reply, ReplyClass};
use crate::success::Step;

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
        }
    }

    pub fn failed(&self) -> bool {
        self.error.is_some()
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
        if expect == Expect::Quit {
            // The message's result is known by now; a lost 221 (or a
            // server that closes without one) changes nothing.
            return reply.ok();
        }
        self.answered |= reply.is_ok();
        let reply = match reply {
            Ok(reply) if !reply.closes_session() => reply,
            Ok(reply) => {
                self.fail(Error::closing(reply));
                return None;
            }
            Err(e) if self.end_sent && self.reply.is_none() && e.is_silence() => {
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
        let (result, accepted, rejected) = match (self.error, self.reply) {
            (Some(e), _) => (Err(e), self.accepted, self.rejected),
            (None, Some(reply)) => (
                Ok(Delivery::new(reply, self.accepted, self.rejected)),
                Vec::new(),
                Vec::new(),
            ),
            // Every path reads the final reply or records an error; this
            // guard only makes sure nothing else is ever reported as sent.
            (None, None) => (
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
mod tests {
    use super::*;

    fn reply(text: &str) -> Result<Reply, Error> {
        Ok(Reply::parse(format!("{text}\r\n").as_bytes()).unwrap())
    }

    fn envelope(recipients: &[&str]) -> &'static Envelope {
        Box::leak(Box::new(
            Envelope::new("a@x", recipients.iter().copied()).unwrap(),
        ))
    }

    fn tx(recipients: &[&str]) -> Tx<'static> {
        Tx::new(0, Part::whole(envelope(recipients)))
    }

    #[test]
    fn a_message_is_sent_only_after_a_2yz_to_its_content() {
        let mut t = tx(&["b@y"]);
        t.absorb(Expect::Mail, reply("250 ok"));
        t.absorb(Expect::Rcpt, reply("250 ok"));
        t.absorb(Expect::Data, reply("354 go"));
        assert!(t.go_ahead && !t.failed());
        let unsent = tx(&["b@y"]);
        assert!(matches!(
            unsent.into_result(),
            Err(Error::ConnectionClosed { .. })
        ));
        assert!(t
            .absorb(Expect::EndOfData, reply("250 queued as Q1"))
            .is_none());
        let d = t.into_result().unwrap();
        assert_eq!((d.queue_id(), d.accepted.len()), (Some("Q1"), 1));
    }

    #[test]
    fn refused_recipients_are_kept_and_all_refused_is_an_error() {
        let mut t = tx(&["b@y", "c@y"]);
        t.absorb(Expect::Mail, reply("250 ok"));
        t.absorb(Expect::Rcpt, reply("550 5.1.1 no"));
        assert!(!t.failed());
        t.absorb(Expect::Rcpt, reply("251 forwarded"));
        t.absorb(Expect::Data, reply("354 go"));
        t.absorb(Expect::EndOfData, reply("250 ok"));
        let d = t.into_result().unwrap();
        assert_eq!(d.accepted, ["c@y"]);
        assert_eq!(d.rejected[0].recipient, "b@y");

        let mut all = tx(&["b@y", "c@y"]);
        all.absorb(Expect::Mail, reply("250 ok"));
        all.absorb(Expect::Rcpt, reply("450 later"));
        all.absorb(Expect::Rcpt, reply("550 no"));
        match all.into_result() {
            Err(Error::AllRecipientsRejected(list)) => assert_eq!(list.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_first_failure_decides_and_later_replies_are_spares() {
        let mut t = tx(&["b@y"]);
        t.absorb(Expect::Mail, reply("553 bad sender"));
        // The pipelined replies after it are read and handed back.
        assert!(t.absorb(Expect::Rcpt, reply("503 need MAIL")).is_some());
        assert!(t.absorb(Expect::Data, reply("503 need RCPT")).is_none());
        match t.into_result() {
            Err(Error::Permanent(r)) => assert_eq!(r.code, 553),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_421_fails_the_message_whatever_it_answers() {
        for expect in [Expect::Rset, Expect::Rcpt, Expect::Mail, Expect::EndOfData] {
            let mut t = tx(&["b@y"]);
            if expect == Expect::Rcpt {
                t.absorb(Expect::Mail, reply("250 ok"));
            }
            t.absorb(expect, reply("421 4.3.2 bye"));
            match t.into_result() {
                Err(Error::Transient(r)) => assert_eq!(r.code, 421, "{expect:?}"),
                other => panic!("{expect:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn wrong_classes_are_protocol_errors() {
        let mut t = tx(&["b@y"]);
        t.absorb(Expect::Mail, reply("250 ok"));
        t.absorb(Expect::Rcpt, reply("354 what"));
        assert!(matches!(
            t.into_result(),
            Err(Error::UnexpectedReply { .. })
        ));
        let mut d = tx(&["b@y"]);
        d.absorb(Expect::Mail, reply("250 ok"));
        d.absorb(Expect::Rcpt, reply("250 ok"));
        d.absorb(Expect::Data, reply("250 ok"));
        assert!(!d.go_ahead);
        assert!(matches!(
            d.into_result(),
            Err(Error::UnexpectedReply {
                expected: "354",
                ..
            })
        ));
        // More RCPT replies than recipients.
        let mut extra = tx(&["b@y"]);
        extra.absorb(Expect::Rcpt, reply("250 ok"));
        extra.absorb(Expect::Rcpt, reply("250 ok"));
        assert!(matches!(
            extra.into_result(),
            Err(Error::UnexpectedReply {
                expected: "no reply",
                ..
            })
        ));
    }

    #[test]
    fn too_many_recipients_puts_the_rest_off_and_other_refusals_stand() {
        for (code, deferred) in [
            ("452 4.5.3 Too many recipients", true),
            ("452 Too many recipients", true),
            ("552 5.5.3 Too many recipients", true),
            ("452 4.2.2 Mailbox full", false),
            ("552 5.2.2 Mailbox full", false),
            ("550 5.1.1 No such user", false),
        ] {
            let mut t = tx(&["a@y", "b@y", "c@y"]);
            t.absorb(Expect::Mail, reply("250 ok"));
            t.absorb(Expect::Rcpt, reply("250 ok"));
            t.absorb(Expect::Rcpt, reply(code));
            t.absorb(Expect::Rcpt, reply(code));
            t.absorb(Expect::Data, reply("354 go"));
            t.absorb(Expect::EndOfData, reply("250 queued"));
            let o = t.into_outcome();
            let put_off: Vec<usize> = o.deferred().iter().map(|(at, _)| *at).collect();
            let d = o.result.unwrap();
            assert_eq!(d.accepted, ["a@y"], "{code}");
            if deferred {
                assert_eq!(put_off, [1, 2], "{code}");
                assert!(d.rejected.is_empty(), "{code}");
            } else {
                assert!(put_off.is_empty(), "{code}");
                assert_eq!(d.rejected.len(), 2, "{code}");
            }
        }
        // Before any recipient was accepted, a 452 is a refusal.
        let mut t = tx(&["a@y", "b@y"]);
        t.absorb(Expect::Mail, reply("250 ok"));
        t.absorb(Expect::Rcpt, reply("452 4.5.3 Too many recipients"));
        t.absorb(Expect::Rcpt, reply("250 ok"));
        let o = t.into_outcome();
        assert!(o.deferred().is_empty());
    }

    #[test]
    fn silence_after_the_end_was_sent_is_an_unknown_outcome() {
        let closed = || Error::ConnectionClosed {
            during: "end of data".into(),
        };
        let mut t = tx(&["a@y"]);
        t.absorb(Expect::Mail, reply("250 ok"));
        t.absorb(Expect::Rcpt, reply("250 ok"));
        t.absorb(Expect::Data, reply("354 go"));
        t.end_sent = true;
        t.absorb(Expect::EndOfData, Err(closed()));
        assert!(matches!(t.into_result(), Err(Error::OutcomeUnknown(_))));
        // Before the end went out: a plain failure.
        let mut t = tx(&["a@y"]);
        t.absorb(Expect::Mail, reply("250 ok"));
        t.absorb(Expect::Rcpt, reply("250 ok"));
        t.absorb(Expect::Data, reply("354 go"));
        t.absorb(Expect::EndOfData, Err(closed()));
        assert!(matches!(
            t.into_result(),
            Err(Error::ConnectionClosed { .. })
        ));
        // A reply that is a refusal is no silence.
        let mut t = tx(&["a@y"]);
        t.end_sent = true;
        t.absorb(Expect::Mail, reply("250 ok"));
        t.absorb(Expect::Rcpt, reply("250 ok"));
        t.absorb(Expect::EndOfData, reply("554 no"));
        assert!(matches!(t.into_result(), Err(Error::Permanent(_))));
    }
}
