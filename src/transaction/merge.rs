//! A message's result from the outcomes of its transactions: one, as a
//! rule; several when the recipients were sent in groups (the server took
//! only so many at a time, or the caller said so). One `Delivery` lists
//! every recipient's fate, with each transaction's reply.

use crate::delivery::{Delivery, Rejection};
use crate::error::Error;

/// A transaction that failed, with what it knew of its recipients.
#[derive(Debug)]
struct Failed {
    error: Error,
    /// Its recipients neither refused nor put off: accepted, or not
    /// answered (it failed first). The failure decides their fate.
    pending: Vec<String>,
    rejected: Vec<Rejection>,
}

/// What a message's transactions have come to so far.
#[derive(Debug, Default)]
pub(super) struct Merge {
    sent: Option<Delivery>,
    failed: Vec<Failed>,
}

impl Merge {
    /// Takes in one transaction's result; on failure, its recipients
    /// whose fate the failure decides (`pending`: every one it carried
    /// but those it refused or put off, whether it got to them or not)
    /// and those it refused.
    pub fn add(
        &mut self,
        result: Result<Delivery, Error>,
        pending: Vec<String>,
        rejected: Vec<Rejection>,
    ) {
        match (result, self.sent.as_mut()) {
            (Ok(d), None) => self.sent = Some(d),
            (Ok(d), Some(sent)) => sent.absorb(d),
            (Err(error), _) => self.failed.push(Failed {
                error,
                pending,
                rejected,
            }),
        }
    }

    /// Adds recipients the server put off and that cannot go in another
    /// transaction (the content was a stream, read once): refused, with
    /// the reply that put them off.
    pub fn refused(&mut self, rejected: Vec<Rejection>) {
        if rejected.is_empty() {
            return;
        }
        match self.sent.as_mut() {
            Some(sent) => sent.rejected.extend(rejected),
            None => self.failed.push(Failed {
                error: Error::AllRecipientsRejected(rejected),
                pending: Vec::new(),
                rejected: Vec::new(),
            }),
        }
    }

    /// The message's result. When some transaction delivered it, a
    /// `Delivery` in which the recipients of the failed ones are refused
    /// (with the reply that failed them) or of unknown outcome; when a
    /// failure came without a reply and without doubt (the connection
    /// went before the end of the message), `PartlySent`. When none
    /// delivered it, the first failure (the refusals of every transaction
    /// together when all were refusals of recipients).
    pub fn finish(self) -> Result<Delivery, Error> {
        let Merge { sent, mut failed } = self;
        let Some(mut sent) = sent else {
            return Err(nothing_sent(failed));
        };
        let mut lost = None;
        for f in failed.drain(..) {
            sent.rejected.extend(f.rejected);
            match f.error {
                Error::AllRecipientsRejected(list) => sent.rejected.extend(list),
                Error::OutcomeUnknown(_) => sent.unknown.extend(f.pending),
                e => match e.reply() {
                    Some(reply) => sent.rejected.extend(
                        f.pending
                            .into_iter()
                            .map(|to| Rejection::new(to, reply.clone())),
                    ),
                    None => {
                        lost.get_or_insert(e);
                    }
                },
            }
        }
        match lost {
            None => Ok(sent),
            Some(error) => Err(Error::PartlySent {
                delivery: Box::new(sent),
                error: Box::new(error),
            }),
        }
    }
}

/// The error of a message that no transaction delivered.
fn nothing_sent(mut failed: Vec<Failed>) -> Error {
    if failed.len() > 1
        && failed
            .iter()
            .all(|f| matches!(f.error, Error::AllRecipientsRejected(_)))
    {
        let all = failed
            .drain(..)
            .flat_map(|f| match f.error {
                Error::AllRecipientsRejected(list) => list,
                _ => Vec::new(),
            })
            .collect();
        return Error::AllRecipientsRejected(all);
    }
    match failed.into_iter().next() {
        Some(f) => f.error,
        None => Error::ConnectionClosed {
            during: "sending the message".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Reply;

    fn reply(text: &str) -> Reply {
        Reply::parse(format!("{text}\r\n").as_bytes()).unwrap()
    }

    fn sent(id: &str, to: &[&str]) -> Delivery {
        Delivery::new(
            reply(&format!("250 queued as {id}")),
            to.iter().map(|s| s.to_string()).collect(),
            Vec::new(),
        )
    }

    fn names(list: &[Rejection]) -> Vec<(&str, u16)> {
        list.iter()
            .map(|r| (r.recipient.as_str(), r.reply.code))
            .collect()
    }

    #[test]
    fn transactions_that_delivered_make_one_delivery() {
        let mut m = Merge::default();
        m.add(Ok(sent("A", &["a", "b"])), vec![], vec![]);
        m.add(Ok(sent("B", &["c"])), vec![], vec![]);
        let d = m.finish().unwrap();
        assert_eq!(d.accepted, ["a", "b", "c"]);
        let ids: Vec<_> = d
            .transactions()
            .map(|(r, to)| (r.queue_id().unwrap().to_owned(), to.len()))
            .collect();
        assert_eq!(ids, [("A".into(), 2), ("B".into(), 1)]);
        assert!(d.is_complete());
    }

    #[test]
    fn failed_transactions_refuse_their_recipients_or_leave_them_unknown() {
        let mut m = Merge::default();
        m.add(Ok(sent("A", &["a"])), vec![], vec![]);
        let refused = Error::Permanent(reply("554 5.6.0 content refused"));
        m.add(
            Err(refused),
            vec!["b".into()],
            vec![Rejection::new("c", reply("550 no"))],
        );
        let unknown = Error::OutcomeUnknown(Box::new(Error::Timeout {
            during: "end of data".into(),
        }));
        m.add(Err(unknown), vec!["d".into()], vec![]);
        let d = m.finish().unwrap();
        assert_eq!(d.accepted, ["a"]);
        assert_eq!(names(&d.rejected), [("c", 550), ("b", 554)]);
        assert_eq!(d.unknown, ["d"]);
        assert!(!d.is_complete());
    }

    #[test]
    fn a_failure_without_a_reply_after_a_delivery_is_partly_sent() {
        let mut m = Merge::default();
        m.add(Ok(sent("A", &["a"])), vec![], vec![]);
        let closed = Error::ConnectionClosed {
            during: "DATA".into(),
        };
        m.add(Err(closed), vec!["b".into()], vec![]);
        match m.finish() {
            Err(Error::PartlySent { delivery, error }) => {
                assert_eq!(delivery.accepted, ["a"]);
                assert!(matches!(*error, Error::ConnectionClosed { .. }));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nothing_delivered_is_the_first_error_or_every_refusal() {
        let mut m = Merge::default();
        let all =
            |to: &str| Error::AllRecipientsRejected(vec![Rejection::new(to, reply("550 no"))]);
        m.add(Err(all("a")), vec![], vec![]);
        m.add(Err(all("b")), vec![], vec![]);
        match m.finish() {
            Err(Error::AllRecipientsRejected(list)) => {
                assert_eq!(names(&list), [("a", 550), ("b", 550)])
            }
            other => panic!("{other:?}"),
        }
        let mut m = Merge::default();
        m.add(Err(Error::Permanent(reply("554 no"))), vec![], vec![]);
        m.add(Err(all("b")), vec![], vec![]);
        assert!(matches!(m.finish(), Err(Error::Permanent(_))));
        let mut m = Merge::default();
        m.add(Ok(sent("A", &["a"])), vec![], vec![]);
        m.refused(vec![Rejection::new("z", reply("452 4.5.3 too many"))]);
        assert_eq!(names(&m.finish().unwrap().rejected), [("z", 452)]);
    }
}
