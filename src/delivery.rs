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
}

impl Delivery {
    pub(crate) fn new(reply: Reply, accepted: Vec<String>, rejected: Vec<Rejection>) -> Self {
        Delivery {
            reply,
            accepted,
            rejected,
        }
    }

    /// The server's queue id, when its reply names one.
    pub fn queue_id(&self) -> Option<&str> {
        self.reply.queue_id()
    }

    /// True when every recipient was accepted.
    pub fn is_complete(&self) -> bool {
        self.rejected.is_empty()
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
