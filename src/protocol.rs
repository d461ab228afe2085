//! The protocol spoken: SMTP (RFC 5321), or LMTP (RFC 2033), its sibling
//! for handing mail to a mailbox store (Dovecot, Cyrus, a Postfix `lmtp`
//! transport's far end).
//!
//! LMTP is SMTP with two differences that matter to a client: the session
//! opens with `LHLO` (there is no `HELO` to fall back on), and after the
//! end of the message the server gives one reply per accepted recipient,
//! in RCPT order, so that a message can be stored for some recipients and
//! refused or put off for others.

/// The protocol a client speaks.
///
/// ```
/// use smtpc::{Client, Protocol, Tls};
/// let config = Client::builder("127.0.0.1")
///     .protocol(Protocol::Lmtp)
///     .tls(Tls::None)
///     .into_config();
/// assert_eq!(config.port(), 24);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Protocol {
    /// SMTP: `EHLO` (`HELO` when the server does not know it), one reply
    /// to the end of the message.
    #[default]
    Smtp,
    /// LMTP: `LHLO`, and one reply per accepted recipient after the end of
    /// the message. Over TCP its default port is 24.
    Lmtp,
}

/// LMTP's port over TCP (RFC 2033 5).
pub(crate) const LMTP_PORT: u16 = 24;

impl Protocol {
    /// Its name, as the command line and logs say it: `smtp` or `lmtp`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Lmtp => "lmtp",
        }
    }

    /// Whether each accepted recipient gets its own reply after the end
    /// of the message.
    pub(crate) fn reply_per_recipient(self) -> bool {
        self == Protocol::Lmtp
    }
}
