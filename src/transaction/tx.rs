//! The bookkeeping of one message's transaction: what each pending reply
//! answers, and the message's state as its replies come in. No I/O here:
//! replies are handed in, and the result is read off at the end.

use std::borrow::{Borrow, Cow};

use crate::delivery::{Delivery, Rejection};
use crate::envelope::Envelope;
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
    /// The message (its index in the batch) the reply belongs to.
    pub message: usize,
    pub expect: Expect,
    /// The command as the transcript shows it; errors name it, and so does
    /// its reply, which takes it over.
    pub during: Cow<'static, str>,
}

/// The state of one message's transaction, built from its replies.
#[derive(Debug)]
pub(super) struct Tx<E> {
    pub index: usize,
    pub envelope: E,
    accepted: Vec<String>,
    rejected: Vec<Rejection>,
    /// RCPT replies read so far.
    rcpts: usize,
    /// The first thing that went wrong: the message is not sent.
    error: Option<Error>,
    /// Something of it went on the wire (a failure then needs RSET).
    pub touched: bool,
    /// DATA was answered 354: content (or at least the lone dot) is due.
    pub go_ahead: bool,
    /// The 2yz reply to the end of data or to `BDAT ... LAST`.
    reply: Option<Reply>,
}

impl<E: Borrow<Envelope>> Tx<E> {
    pub fn new(index: usize, envelope: E) -> Self {
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
    /// and one to RSET is not a reset.
    #[inline]
    pub fn absorb(&mut self, expect: Expect, reply: Result<Reply, Error>) -> Option<Reply> {
        if expect == Expect::Quit {
            // The message's result is known by now; a lost 221 (or a
            // server that closes without one) changes nothing.
            return reply.ok();
        }
        let reply = match reply {
            Ok(reply) if !reply.closes_session() => reply,
            Ok(reply) => {
                self.fail(Error::closing(reply));
                return None;
            }
            Err(e) => {
                self.fail(e);
                return None;
            }
        };
        let spare = match expect {
            Expect::Rset => Error::check(reply, Step::Rset).map(Some),
            Expect::Mail => Error::check(reply, Step::Mail).map(Some),
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

    /// The message's result: sent (to its accepted recipients) only when
    /// its content was answered 2yz and nothing failed.
    pub fn into_result(self) -> Result<Delivery, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.reply {
            Some(reply) => Ok(Delivery::new(reply, self.accepted, self.rejected)),
            // Every path reads the final reply or records an error; this
            // guard only makes sure nothing else is ever reported as sent.
            None => Err(Error::ConnectionClosed {
                during: "end of data".into(),
            }),
        }
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

    fn tx(recipients: &[&str]) -> Tx<Envelope> {
        Tx::new(0, Envelope::new("a@x", recipients.iter().copied()).unwrap())
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
}
