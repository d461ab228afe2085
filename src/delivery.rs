//! What became of a message: the server's final reply, and each
//! recipient's fate.

use std::fmt;

use crate::reply::Reply;

/// The outcome of a message the server accepted.
///
/// Partial delivery is not an error: the recipients the server refused
/// are listed in [`Delivery::rejected`], each with its reply, and the
/// message went to the others.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The reply to the end of data (it usually names the queue id).
    pub reply: Reply,
    /// The recipients the server accepted.
    pub accepted: Vec<String>,
    /// The recipients the server refused, each with its reply. The message
    /// was not delivered to them.
    pub rejected: Vec<Rejection>,
    /// The recipients whose outcome nobody knows: the message went to them
    /// in a later transaction whose connection broke after the end of the
    /// message was sent and before the reply to it (see
    /// [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown)). Empty
    /// unless the message took several transactions.
    pub unknown: Vec<String>,
    /// The transactions after the first, when the message took several
    /// (the server took only so many recipients at a time): where each
    /// one's recipients start in `accepted`, and its reply.
    more: Vec<(usize, Reply)>,
    /// LMTP: each accepted recipient's own reply, in the order of
    /// `accepted`; empty for SMTP.
    own: Vec<Reply>,
}

impl Delivery {
    pub(crate) fn new(reply: Reply, accepted: Vec<String>, rejected: Vec<Rejection>) -> Self {
        Delivery {
            reply,
            accepted,
            rejected,
            unknown: Vec::new(),
            more: Vec::new(),
            own: Vec::new(),
        }
    }

    /// An LMTP delivery: each recipient it went to with its own reply
    /// (at least one), the refused, and those whose reply never came.
    pub(crate) fn per_recipient(
        delivered: Vec<(String, Reply)>,
        rejected: Vec<Rejection>,
        unknown: Vec<String>,
    ) -> Self {
        let (accepted, own): (Vec<String>, Vec<Reply>) = delivered.into_iter().unzip();
        Delivery {
            reply: own[0].clone(),
            accepted,
            rejected,
            unknown,
            more: Vec::new(),
            own,
        }
    }

    /// Adds what another transaction of the same message delivered.
    pub(crate) fn absorb(&mut self, other: Delivery) {
        let base = self.accepted.len();
        self.more.push((base, other.reply));
        self.more
            .extend(other.more.into_iter().map(|(at, reply)| (base + at, reply)));
        // Both LMTP, or both SMTP: a message's transactions share a
        // session's protocol.
        if self.own.len() == base && other.own.len() == other.accepted.len() {
            self.own.extend(other.own);
        }
        self.accepted.extend(other.accepted);
        self.rejected.extend(other.rejected);
        self.unknown.extend(other.unknown);
    }

    /// Each transaction that carried the message, in order: the reply to
    /// its end (with its own queue id) and the recipients it delivered to.
    /// One, unless the server took only so many recipients at a time
    /// (RFC 5321 4.5.3.1.10) or the client was told to send at most so
    /// many per transaction.
    ///
    /// ```
    /// # use smtpc::{Delivery, Reply};
    /// # fn show(delivery: &Delivery) {
    /// for (reply, recipients) in delivery.transactions() {
    ///     println!("{:?}: {} recipients", reply.queue_id(), recipients.len());
    /// }
    /// # }
    /// ```
    pub fn transactions(&self) -> impl Iterator<Item = (&Reply, &[String])> {
        let starts =
            std::iter::once((0, &self.reply)).chain(self.more.iter().map(|(at, r)| (*at, r)));
        let ends = self
            .more
            .iter()
            .map(|(at, _)| *at)
            .chain(std::iter::once(self.accepted.len()));
        starts
            .zip(ends)
            .map(|((from, reply), to)| (reply, &self.accepted[from..to]))
    }

    /// Each recipient the message went to, with the reply that says so:
    /// with LMTP the recipient's own reply after the message (RFC 2033
    /// 4.2: each one names where it was stored, or its own queue id);
    /// with SMTP the reply to the end of its transaction, which all its
    /// recipients share.
    ///
    /// ```
    /// # use smtpc::Delivery;
    /// # fn show(delivery: &Delivery) {
    /// for (recipient, reply) in delivery.recipient_replies() {
    ///     println!("<{recipient}>: {reply}");
    /// }
    /// # }
    /// ```
    pub fn recipient_replies(&self) -> impl Iterator<Item = (&str, &Reply)> {
        let own = (!self.own.is_empty()).then(|| {
            self.accepted
                .iter()
                .map(String::as_str)
                .zip(self.own.iter())
        });
        let shared = self.own.is_empty().then(|| {
            self.transactions()
                .flat_map(|(reply, to)| to.iter().map(move |r| (r.as_str(), reply)))
        });
        own.into_iter()
            .flatten()
            .chain(shared.into_iter().flatten())
    }

    /// The server's queue id, when its reply names one.
    pub fn queue_id(&self) -> Option<&str> {
        self.reply.queue_id()
    }

    /// True when the message went to every recipient: none refused, none
    /// of unknown outcome.
    pub fn is_complete(&self) -> bool {
        self.rejected.is_empty() && self.unknown.is_empty()
    }
}

/// A recipient the server refused, with the reply that refused it.
///
/// ```
/// use smtpc::{Rejection, Reply};
/// let reply = Reply::parse(b"550 5.1.1 No such user\r\n").unwrap();
/// let refused = Rejection::new("b@example.org", reply);
/// assert_eq!(refused.to_string(), "<b@example.org>: 550 5.1.1 No such user");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The forward-path as given in the envelope.
    pub recipient: String,
    /// The server's reply to `RCPT TO`.
    pub reply: Reply,
}

impl Rejection {
    /// A refusal of `recipient` by `reply` (for callers that build their
    /// own results, such as test doubles).
    pub fn new(recipient: impl Into<String>, reply: Reply) -> Self {
        Rejection {
            recipient: recipient.into(),
            reply,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>: {}", self.recipient, self.reply)
    }
}
