//! The one error type of the crate.
//!
//! A failure is either a reply of the wrong class (4yz [`Error::Transient`],
//! 5yz [`Error::Permanent`]) or a cause on our side of the wire (I/O,
//! timeout, malformed reply, invalid input). Every message names what was
//! being done, e.g. `RCPT TO:<b@x>: 550 5.1.1 No such user`.

use std::fmt;
use std::io;

use crate::delivery::Rejection;
use crate::reply::{Reply, ReplyClass, ReplyError};
use crate::success::Step;

/// Everything that can go wrong.
///
/// Every call returns `Result<_, smtpc::Error>`. The `Display` of an error
/// names what was being done:
///
/// ```text
/// RCPT TO:<b@x>: 550 5.1.1 No such user
/// end of data: connection closed
/// greeting: timed out
/// ```
///
/// | variant | when | [`kind()`](Error::kind) |
/// |---|---|---|
/// | `Transient(Reply)` | a 4yz reply: try again later | `Transient` |
/// | `Permanent(Reply)` | a 5yz reply: do not retry | `Permanent` |
/// | `AllRecipientsRejected(Vec<Rejection>)` | every RCPT was refused; the content was not sent; each recipient's reply is kept | `Transient` if any refusal was 4yz, else `Permanent` |
/// | `UnexpectedReply { expected, reply }` | a well-formed reply that makes no sense here (250 where 354 was due) | `Protocol` |
/// | `MalformedReply { during, source }` | bytes that are not a reply, or a reply over the bounds (4 KiB a line, 256 lines, 64 KiB) | `Protocol` |
/// | `ConnectionClosed { during }` | the server closed the connection, or an earlier failure left it unusable | `Closed` |
/// | `SessionClosed(Reply)` | the server said goodbye (221) to something other than QUIT; the connection is closed | `Closed` |
/// | `OutcomeUnknown(Error)` | the connection broke, or the server fell silent, after the end of the message was sent and before its reply: it may have been delivered; sending it again may make a duplicate | `Unknown` |
/// | `PartlySent { delivery, error }` | a message that took several transactions went to some recipients, then `error` stopped the rest | the error's |
/// | `Timeout { during }` | a whole reply did not arrive within the timeout (however slowly its bytes came) | `Timeout` |
/// | `Io { during, source }` | any other I/O error, including failing to read the message | `Io` |
/// | `Tls { during, source }` | the TLS handshake failed (untrusted or expired certificate, wrong host name, not a TLS server) or a TLS alert arrived | `Tls` |
/// | `TlsUnavailable { reply }` | TLS is required but STARTTLS is not offered (`None`) or was refused (its reply) | `Tls` |
/// | `StartTlsInjection { bytes }` | plaintext arrived after the 220 to STARTTLS: the connection was dropped | `Tls` |
/// | `Auth { reason, reply }` | authentication refused (535...), no mechanism in common, or credentials that would have gone over plaintext | `Auth` |
/// | `MessageTooLarge { size, limit }` | the message is over the server's SIZE limit; nothing was sent | `Permanent` |
/// | `Unsupported(String)` | the message needs an extension the server lacks (SMTPUTF8 for a non-ASCII address) | `Unsupported` |
/// | `InvalidInput(String)` | a caller's argument is unacceptable; nothing was sent | `InvalidInput` |
///
/// A reply is success only when the protocol names it for its command
/// (RFC 5321 4.3.2, RFC 3207, 4954, 3030); any other 2yz is
/// `UnexpectedReply`, and a 221 to anything but QUIT is `SessionClosed`:
///
/// | step | success |
/// |---|---|
/// | greeting, STARTTLS | 220 |
/// | EHLO, HELO, MAIL, RSET, NOOP, each BDAT chunk, the end of data | 250 |
/// | RCPT | 250, 251 |
/// | VRFY | 250, 251, 252 |
/// | DATA | 354 |
/// | AUTH | 235 (334 asks for the next response) |
/// | QUIT | 221 |
///
/// [`Error::reply`] gives the server's reply when there is one;
/// [`Error::is_transient`] and [`Error::is_permanent`] follow its class
/// (4yz, 5yz) whatever the variant, so a 454 to STARTTLS or AUTH is
/// transient and a 535 permanent. A [`Reply`] has
/// [`code`](Reply::code), [`enhanced`](Reply::enhanced) (`Some(5.1.1)`),
/// [`lines`](Reply::lines), [`class()`](Reply::class), and a `Display`
/// that shows all three.
///
/// A message is reported as sent only when the reply to its end of data
/// is 2yz. Partial delivery is not an error: `send` returns a
/// [`Delivery`](crate::Delivery) whose `rejected` lists the refused
/// recipients. After any failed transaction the client sends RSET, so the
/// same connection carries the next message; after 421, an I/O error, a
/// timeout or a malformed reply the connection is closed and every later
/// call says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A 4yz reply: the server may accept the same request later.
    #[error("{}", WithContext(.0))]
    Transient(Reply),
    /// A 5yz reply: repeating the request will not help.
    #[error("{}", WithContext(.0))]
    Permanent(Reply),
    /// A well-formed reply that makes no sense at this point, such as 250
    /// where 354 was due.
    #[error("{}: expected {expected}, got {reply}", context(reply))]
    UnexpectedReply {
        /// What the protocol called for (e.g. `354`).
        expected: &'static str,
        /// What came instead.
        reply: Reply,
    },
    /// Every recipient was refused; the message was not sent. Each
    /// recipient's reply is kept.
    #[error("all recipients were rejected: {}", list(.0))]
    AllRecipientsRejected(Vec<Rejection>),
    /// The server sent bytes that are not a valid reply (or too many).
    #[error("{during}: {source}")]
    MalformedReply {
        /// What was being done.
        during: String,
        /// What was wrong with the reply.
        source: ReplyError,
    },
    /// The server closed the connection, or an earlier failure left it
    /// unusable.
    #[error("{during}: connection closed")]
    ConnectionClosed {
        /// What was being done.
        during: String,
    },
    /// The server closed the session with this reply, a 221 to something
    /// other than QUIT. The connection is closed; a transient failure
    /// (kind [`ErrorKind::Closed`]): a new session may succeed.
    #[error("{}: the server closed the session", WithContext(.0))]
    SessionClosed(Reply),
    /// The connection broke, or the server fell silent, after the end of
    /// the message was sent and before the reply to it: the server may or
    /// may not have taken the message (RFC 1047). Sending it again may
    /// deliver it twice. Holds what went wrong.
    #[error("{0}: the message may have been delivered")]
    OutcomeUnknown(Box<Error>),
    /// The message went to some recipients (`delivery`), then `error`
    /// stopped it for the others (only a message that took several
    /// transactions, when the server limits recipients per transaction).
    #[error("{error} (after the message went to {} recipient(s))", delivery.accepted.len())]
    PartlySent {
        /// Where the message went.
        delivery: Box<crate::delivery::Delivery>,
        /// What stopped the rest.
        error: Box<Error>,
    },
    /// The server did not answer (or accept data) within the timeout.
    #[error("{during}: timed out")]
    Timeout {
        /// What was being done.
        during: String,
    },
    /// An I/O error on the connection.
    #[error("{during}: {source}")]
    Io {
        /// What was being done.
        during: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The message is larger than the limit the server declared with SIZE
    /// (RFC 1870). Nothing of it was sent. A permanent failure.
    #[error("message of {size} bytes exceeds the server's limit of {limit} bytes")]
    MessageTooLarge {
        /// The size of the message.
        size: u64,
        /// The server's limit.
        limit: u64,
    },
    /// The message or envelope needs an extension the server does not
    /// offer (SMTPUTF8 for a non-ASCII address, 8BITMIME for 8-bit data).
    #[error("unsupported by the server: {0}")]
    Unsupported(String),
    /// The TLS handshake failed (certificate not trusted, wrong host name,
    /// no common protocol, not a TLS server...) or TLS could not be set up.
    #[error("{during}: TLS: {source}")]
    Tls {
        /// What was being done.
        during: String,
        /// What TLS said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// TLS is required but the server does not offer STARTTLS (`reply` is
    /// `None`) or refused it (`reply` is its answer).
    #[error("{}", match reply {
        Some(r) => format!("STARTTLS required but refused: {r}"),
        None => "STARTTLS required but not offered by the server".to_owned(),
    })]
    TlsUnavailable {
        /// The server's refusal of STARTTLS, when it refused.
        reply: Option<Reply>,
    },
    /// Bytes arrived after the server's 220 to STARTTLS and before the TLS
    /// handshake: someone on the path injected plaintext replies meant to
    /// be read as if they came over TLS (CVE-2011-0411 and kin). The
    /// connection was closed without using them.
    #[error("STARTTLS: {bytes} bytes of plaintext arrived after the 220 reply (response injection); connection closed")]
    StartTlsInjection {
        /// How many bytes were waiting.
        bytes: usize,
    },
    /// Authentication failed or was not attempted: the server refused the
    /// credentials (`reply` holds its answer, e.g. 535), offers no usable
    /// mechanism, or the credentials would have gone over plaintext.
    #[error("{}", match reply {
        Some(r) => format!("{reason}: {r}"),
        None => format!("AUTH: {reason}"),
    })]
    Auth {
        /// What went wrong.
        reason: String,
        /// The server's reply, when it sent one.
        reply: Option<Reply>,
    },
    /// Something the caller passed is not acceptable (a control character
    /// in an address, a name too long, an empty recipient list...). Nothing
    /// was sent.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// The class of an [`Error`], for code that acts on what kind of failure
/// it was rather than on its details: retry later, give up, fix the
/// configuration. The C interface's results and the command-line tool's
/// exit statuses are both made from it.
///
/// ```
/// use smtpc::{Error, ErrorKind, Reply};
/// let e = Error::Transient(Reply::parse(b"451 4.3.0 try later\r\n").unwrap());
/// assert_eq!(e.kind(), ErrorKind::Transient);
/// assert_eq!(Error::InvalidInput("no".into()).kind(), ErrorKind::InvalidInput);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server answered 4yz: the same request may succeed later.
    Transient,
    /// The server answered 5yz, or the message is over its size limit:
    /// repeating the request will not help.
    Permanent,
    /// The server broke the protocol: a malformed reply, or a reply that
    /// makes no sense at this point.
    Protocol,
    /// The connection is closed: the server closed it, or an earlier
    /// failure left it unusable.
    Closed,
    /// The server did not answer, or accept data, in time.
    Timeout,
    /// An I/O error on the connection, or while reading the message.
    Io,
    /// TLS could not be set up.
    Tls,
    /// Authentication failed or was not attempted.
    Auth,
    /// The server lacks an extension the message needs.
    Unsupported,
    /// Something the caller passed is unacceptable; nothing was sent.
    InvalidInput,
    /// The message may or may not have been delivered: the connection
    /// broke after its end was sent (see [`Error::OutcomeUnknown`]).
    Unknown,
}

impl Error {
    /// The class of this error (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Transient(_) => ErrorKind::Transient,
            Error::Permanent(_) | Error::MessageTooLarge { .. } => ErrorKind::Permanent,
            Error::AllRecipientsRejected(_) if self.is_transient() => ErrorKind::Transient,
            Error::AllRecipientsRejected(_) => ErrorKind::Permanent,
            Error::UnexpectedReply { .. } | Error::MalformedReply { .. } => ErrorKind::Protocol,
            Error::ConnectionClosed { .. } | Error::SessionClosed(_) => ErrorKind::Closed,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Io { .. } => ErrorKind::Io,
            Error::Tls { .. } | Error::TlsUnavailable { .. } | Error::StartTlsInjection { .. } => {
                ErrorKind::Tls
            }
            Error::Auth { .. } => ErrorKind::Auth,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::OutcomeUnknown(_) => ErrorKind::Unknown,
            Error::PartlySent { error, .. } => error.kind(),
        }
    }

    /// True when the message may or may not have been delivered: the
    /// connection broke after its end was sent and before the reply to it
    /// (for a message that took several transactions, after one of them).
    /// Sending it again may deliver it twice.
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Error::OutcomeUnknown(_) => true,
            Error::PartlySent { error, .. } => error.is_outcome_unknown(),
            _ => false,
        }
    }

    /// No reply came: the connection broke or the server fell silent.
    pub(crate) fn is_silence(&self) -> bool {
        matches!(
            self,
            Error::ConnectionClosed { .. } | Error::Timeout { .. } | Error::Io { .. }
        )
    }

    /// The server reply behind this error, when there is one (for
    /// [`Error::AllRecipientsRejected`], the first recipient's).
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Error::Transient(r) | Error::Permanent(r) | Error::SessionClosed(r) => Some(r),
            Error::UnexpectedReply { reply, .. } => Some(reply),
            Error::AllRecipientsRejected(list) => list.first().map(|r| &r.reply),
            Error::TlsUnavailable { reply } | Error::Auth { reply, .. } => reply.as_ref(),
            Error::PartlySent { error, .. } => error.reply(),
            _ => None,
        }
    }

    /// True when the server answered 4yz (trying again later may help),
    /// when all recipients were refused and at least one refusal was 4yz,
    /// and when the server closed the session with 221.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::SessionClosed(_) => true,
            Error::PartlySent { error, .. } => error.is_transient(),
            Error::AllRecipientsRejected(list) => list
                .iter()
                .any(|r| r.reply.class() == ReplyClass::TransientNegative),
            _ => self
                .reply()
                .is_some_and(|r| r.class() == ReplyClass::TransientNegative),
        }
    }

    /// True when the server answered 5yz, when all recipients were refused
    /// with 5yz, and for a message over the server's size limit.
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::PartlySent { error, .. } => error.is_permanent(),
            Error::MessageTooLarge { .. } => true,
            Error::AllRecipientsRejected(list) => {
                !list.is_empty()
                    && list
                        .iter()
                        .all(|r| r.reply.class() == ReplyClass::PermanentNegative)
            }
            _ => self
                .reply()
                .is_some_and(|r| r.class() == ReplyClass::PermanentNegative),
        }
    }

    /// The error for a reply that is not the success `expected` names:
    /// `SessionClosed` for a 221 (the server said goodbye), `Transient` for
    /// 4yz, `Permanent` for 5yz, `UnexpectedReply` for anything else (any
    /// other 2yz, a 3yz where none was due).
    pub(crate) fn refusal(reply: Reply, expected: &'static str) -> Error {
        match reply.class() {
            _ if reply.code == 221 => Error::SessionClosed(reply),
            ReplyClass::TransientNegative => Error::Transient(reply),
            ReplyClass::PermanentNegative => Error::Permanent(reply),
            _ => Error::UnexpectedReply { expected, reply },
        }
    }

    /// The error for a reply that closes the session
    /// ([`Reply::closes_session`]): 421 is transient, 221 the end of the
    /// session.
    pub(crate) fn closing(reply: Reply) -> Error {
        if reply.code == 221 {
            Error::SessionClosed(reply)
        } else {
            Error::Transient(reply)
        }
    }

    /// Passes a reply that means success at `step` (RFC 5321 4.3.2 and
    /// the extensions' RFCs: see [`Step`]) and turns any other into an
    /// error.
    pub(crate) fn check(reply: Reply, step: Step) -> Result<Reply, Error> {
        if step.accepts(reply.code) {
            Ok(reply)
        } else {
            Err(Error::refusal(reply, step.expected()))
        }
    }

    /// Whether the session cannot go on after this error: the byte stream
    /// is in an unknown state. (A reply that closes the session is seen
    /// where it is read: [`Reply::closes_session`].)
    pub(crate) fn ends_session(&self) -> bool {
        matches!(
            self,
            Error::MalformedReply { .. }
                | Error::ConnectionClosed { .. }
                | Error::Timeout { .. }
                | Error::Io { .. }
                | Error::Tls { .. }
                | Error::StartTlsInjection { .. }
        )
    }
}

fn context(reply: &Reply) -> &str {
    reply.in_reply_to().unwrap_or("reply")
}

/// Shows a reply as `what it answered: reply`.
struct WithContext<'a>(&'a Reply);

impl fmt::Display for WithContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", context(self.0), self.0)
    }
}

fn list(rejections: &[Rejection]) -> String {
    let parts: Vec<String> = rejections.iter().map(Rejection::to_string).collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(s: &str, to: &str) -> Reply {
        let mut r = Reply::parse(s.as_bytes()).unwrap();
        r.in_reply_to = Some(to.to_owned().into());
        r
    }

    #[test]
    fn display_names_the_command() {
        let e = Error::refusal(reply("550 5.1.1 No such user\r\n", "RCPT TO:<b@x>"), "250");
        assert_eq!(e.to_string(), "RCPT TO:<b@x>: 550 5.1.1 No such user");
        assert!(e.is_permanent() && !e.is_transient());
        assert_eq!(e.reply().unwrap().code, 550);
    }

    #[test]
    fn classes() {
        let t = Error::refusal(reply("451 later\r\n", "MAIL FROM:<a@x>"), "250");
        assert!(matches!(t, Error::Transient(_)) && t.is_transient());
        let u = Error::refusal(reply("250 ok\r\n", "DATA"), "354");
        assert_eq!(u.to_string(), "DATA: expected 354, got 250 ok");
        assert!(!u.is_transient() && !u.is_permanent());
    }

    #[test]
    fn all_rejected_classes() {
        let rej =
            |code: &str| Rejection::new("b@x", reply(&format!("{code} no\r\n"), "RCPT TO:<b@x>"));
        let perm = Error::AllRecipientsRejected(vec![rej("550"), rej("551")]);
        assert!(perm.is_permanent() && !perm.is_transient());
        assert_eq!(
            perm.to_string(),
            "all recipients were rejected: <b@x>: 550 no; <b@x>: 551 no"
        );
        let mixed = Error::AllRecipientsRejected(vec![rej("550"), rej("450")]);
        assert!(mixed.is_transient() && !mixed.is_permanent());
    }

    #[test]
    fn check_expectations() {
        assert!(Error::check(reply("251 fwd\r\n", "RCPT"), Step::Rcpt).is_ok());
        assert!(Error::check(reply("354 go\r\n", "DATA"), Step::Data).is_ok());
        let e = Error::check(reply("250 ok\r\n", "DATA"), Step::Data).unwrap_err();
        assert!(matches!(
            e,
            Error::UnexpectedReply {
                expected: "354",
                ..
            }
        ));
        let e = Error::check(reply("354 go\r\n", "MAIL"), Step::Mail).unwrap_err();
        assert!(matches!(
            e,
            Error::UnexpectedReply {
                expected: "250",
                ..
            }
        ));
        assert!(Error::check(reply("452 full\r\n", "RCPT"), Step::Rcpt)
            .unwrap_err()
            .is_transient());
    }

    #[test]
    fn success_is_the_reply_the_protocol_names() {
        // Another 2yz is a protocol error, never a success.
        for (code, step) in [
            ("251", Step::Mail),
            ("252", Step::Rcpt),
            ("220", Step::Hello),
        ] {
            let e = Error::check(reply(&format!("{code} odd\r\n"), "X"), step).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Protocol, "{code} to {step:?}");
        }
        // A 221 to anything but QUIT: the server closed the session.
        let e = Error::check(reply("221 2.0.0 Bye\r\n", "EHLO c"), Step::Hello).unwrap_err();
        assert!(matches!(&e, Error::SessionClosed(r) if r.code == 221));
        assert_eq!(e.kind(), ErrorKind::Closed);
        assert!(e.is_transient() && !e.is_permanent());
        assert_eq!(
            e.to_string(),
            "EHLO c: 221 2.0.0 Bye: the server closed the session"
        );
        assert!(Error::check(reply("221 Bye\r\n", "QUIT"), Step::Quit).is_ok());
    }

    #[test]
    fn session_ending_errors() {
        assert!(!Error::Transient(reply("450 busy\r\n", "RSET")).ends_session());
        assert!(Error::Timeout { during: "x".into() }.ends_session());
        assert!(!Error::InvalidInput("x".into()).ends_session());
    }
}
