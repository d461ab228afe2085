//! LMTP's replies after the end of a message (RFC 2033 4.2): one per
//! accepted recipient, in RCPT order, each saying whether the message was
//! stored for that recipient. No I/O here: the pipe reads the replies and
//! hands them in, one at a time, for as long as [`Finals::wants_more`].
//!
//! The rule that matters: a recipient counts as delivered only by a 2yz
//! reply of its own. When the replies stop early (the connection breaks,
//! the server falls silent, or it says 421 and leaves), or one of them is
//! not a reply a recipient can get (a 3yz, or a 2yz the protocol does not
//! name), the recipients still waiting are of unknown outcome: the server
//! may have stored the message for them. When the server gives more
//! replies than there were recipients, no reply can be trusted to be whose
//! it seems: every recipient of the message is then of unknown outcome.

use crate::delivery::{Delivery, Rejection};
use crate::error::Error;
use crate::reply::{Reply, ReplyClass};
use crate::success::Step;

/// The replies after the end of one LMTP transaction.
#[derive(Debug, Default)]
pub(super) struct Finals {
    /// The recipients the message was stored for, with their replies.
    delivered: Vec<(String, Reply)>,
    /// The recipients it was refused for (4yz, 5yz), with their replies.
    refused: Vec<Rejection>,
    /// Replies taken so far: the next one is `accepted[read]`'s.
    read: usize,
    /// What stopped the replies before every recipient had its own.
    lost: Option<Error>,
    /// The server gave more replies than recipients: what came extra.
    extra: Option<Error>,
}

/// A transaction's result from its finals, with what its outcome keeps
/// on failure: the recipients of unknown outcome and the refused ones.
pub(super) struct Settled {
    pub result: Result<Delivery, Error>,
    pub unknown: Vec<String>,
    pub rejected: Vec<Rejection>,
}

impl Finals {
    /// Whether another reply is due: one per accepted recipient, until
    /// the replies stop.
    pub fn wants_more(&self, accepted: usize) -> bool {
        self.lost.is_none() && self.extra.is_none() && self.read < accepted
    }

    /// Takes in the reply for the next recipient of `accepted`. Hands the
    /// reply back when nothing keeps it.
    pub fn take(&mut self, accepted: &[String], reply: Result<Reply, Error>) -> Option<Reply> {
        let Some(recipient) = accepted.get(self.read) else {
            // Every recipient had its reply: this one is extra.
            if let Ok(reply) = reply {
                self.too_many(Error::UnexpectedReply {
                    expected: "no reply: every recipient had its own",
                    reply,
                });
            }
            return None;
        };
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                self.lost = Some(e);
                return None;
            }
        };
        self.read += 1;
        if reply.closes_session() {
            // 421: not stored for this one, and no reply will come for
            // the others.
            self.refused.push(Rejection::new(recipient, reply.clone()));
            self.lost = Some(Error::closing(reply));
            return None;
        }
        match reply.class() {
            _ if Step::EndOfData.accepts(reply.code) => {
                self.delivered.push((recipient.clone(), reply));
            }
            ReplyClass::TransientNegative | ReplyClass::PermanentNegative => {
                self.refused.push(Rejection::new(recipient, reply));
            }
            _ => {
                // Not a reply a recipient can get: the server is out of
                // step, and this recipient's fate is unknown with the
                // rest's.
                self.read -= 1;
                self.lost = Some(Error::refusal(reply, Step::EndOfData.expected()));
            }
        }
        None
    }

    /// The server said more than it owed (a reply after the last
    /// recipient's, seen in place of the next command's).
    pub fn too_many(&mut self, extra: Error) {
        if self.extra.is_none() {
            self.extra = Some(extra);
        }
    }

    /// The transaction's result: delivered when the message was stored
    /// for at least one recipient; when for none, unknown if some never
    /// had a reply, else every recipient refused.
    pub fn settle(self, accepted: Vec<String>, mut rcpt_refused: Vec<Rejection>) -> Settled {
        let Finals {
            delivered,
            refused,
            read,
            lost,
            extra,
        } = self;
        if let Some(extra) = extra {
            // No reply can be matched to its recipient any more.
            return Settled {
                result: Err(Error::OutcomeUnknown(Box::new(extra))),
                unknown: accepted,
                rejected: rcpt_refused,
            };
        }
        let unknown: Vec<String> = accepted.into_iter().skip(read).collect();
        rcpt_refused.extend(refused);
        let rejected = rcpt_refused;
        if !delivered.is_empty() {
            return Settled {
                result: Ok(Delivery::per_recipient(delivered, rejected, unknown)),
                unknown: Vec::new(),
                rejected: Vec::new(),
            };
        }
        match lost {
            Some(e) if !unknown.is_empty() => Settled {
                result: Err(Error::OutcomeUnknown(Box::new(e))),
                unknown,
                rejected,
            },
            _ => Settled {
                result: Err(Error::AllRecipientsRejected(rejected)),
                unknown: Vec::new(),
                rejected: Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &str) -> Result<Reply, Error> {
        Ok(Reply::parse(format!("{text}\r\n").as_bytes()).unwrap())
    }

    fn to(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_recipient_gets_its_own_reply() {
        let accepted = to(&["a", "b", "c"]);
        let mut f = Finals::default();
        for r in [
            "250 2.0.0 <a> Saved",
            "552 5.2.2 <b> full",
            "452 4.2.2 <c> full",
        ] {
            assert!(f.wants_more(3));
            f.take(&accepted, reply(r));
        }
        assert!(!f.wants_more(3));
        let s = f.settle(accepted, vec![]);
        let d = s.result.unwrap();
        assert_eq!(d.accepted, ["a"]);
        let refused: Vec<_> = d
            .rejected
            .iter()
            .map(|r| (&*r.recipient, r.reply.code))
            .collect();
        assert_eq!(refused, [("b", 552), ("c", 452)]);
        assert_eq!(d.recipient_replies().next().unwrap().1.code, 250);
    }

    #[test]
    fn refused_for_all_after_the_data_is_an_error_with_every_reply() {
        let accepted = to(&["a", "b"]);
        let mut f = Finals::default();
        f.take(&accepted, reply("552 5.2.2 full"));
        f.take(&accepted, reply("450 4.2.0 later"));
        let rcpt = vec![Rejection::new("x", reply("550 5.1.1 no").unwrap())];
        match f.settle(accepted, rcpt).result {
            Err(Error::AllRecipientsRejected(list)) => {
                let codes: Vec<u16> = list.iter().map(|r| r.reply.code).collect();
                assert_eq!(codes, [550, 552, 450]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn replies_that_stop_leave_the_rest_unknown() {
        let accepted = to(&["a", "b", "c"]);
        let closed = || Error::ConnectionClosed {
            during: "end of data".into(),
        };
        let mut f = Finals::default();
        f.take(&accepted, reply("250 ok"));
        f.take(&accepted, Err(closed()));
        assert!(!f.wants_more(3));
        let d = f.settle(accepted.clone(), vec![]).result.unwrap();
        assert_eq!(
            (d.accepted.as_slice(), d.unknown.as_slice()),
            (&to(&["a"])[..], &to(&["b", "c"])[..])
        );

        // A 421 refuses its own recipient and leaves the rest unknown.
        let mut f = Finals::default();
        f.take(&accepted, reply("550 no"));
        f.take(&accepted, reply("421 4.3.2 bye"));
        let s = f.settle(accepted.clone(), vec![]);
        assert!(matches!(s.result, Err(Error::OutcomeUnknown(_))));
        assert_eq!(s.unknown, ["c"]);
        assert_eq!(s.rejected.len(), 2);

        // A reply of the wrong class is no answer for its recipient.
        let mut f = Finals::default();
        f.take(&accepted, reply("250 ok"));
        f.take(&accepted, reply("354 go on"));
        assert!(!f.wants_more(3));
        let d = f.settle(accepted, vec![]).result.unwrap();
        assert_eq!(d.unknown, ["b", "c"]);
    }

    #[test]
    fn an_extra_reply_makes_every_recipient_unknown() {
        let accepted = to(&["a", "b"]);
        let mut f = Finals::default();
        f.take(&accepted, reply("250 ok"));
        f.take(&accepted, reply("250 ok"));
        f.too_many(Error::UnexpectedReply {
            expected: "221 to QUIT",
            reply: reply("550 whose?").unwrap(),
        });
        let s = f.settle(accepted, vec![]);
        assert!(matches!(s.result, Err(Error::OutcomeUnknown(_))));
        assert_eq!(s.unknown, ["a", "b"]);
    }
}
