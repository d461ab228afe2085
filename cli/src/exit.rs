//! Exit statuses (sysexits.h, as sendmail and msmtp use them) and which
//! outcome gets which.

use smtpc::{Error, ErrorKind, ProxyFailure, Rejection, ReplyClass};

/// The exit statuses smtpc uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The message was accepted for every recipient.
    Ok = 0,
    /// EX_USAGE: the command line is wrong.
    Usage = 64,
    /// EX_DATAERR: input refused before anything was sent.
    DataErr = 65,
    /// EX_NOINPUT: the message, password or CA file cannot be read.
    NoInput = 66,
    /// EX_NOHOST: the host name does not exist.
    NoHost = 68,
    /// EX_UNAVAILABLE: a permanent failure (5yz).
    Unavailable = 69,
    /// EX_TEMPFAIL: try again later (4yz, lost connection, timeout).
    TempFail = 75,
    /// EX_PROTOCOL: the server broke the protocol, or TLS failed.
    Protocol = 76,
    /// EX_NOPERM: authentication failed or was refused.
    NoPerm = 77,
    /// EX_CONFIG: the configuration file is wrong or unsafe.
    Config = 78,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        (exit as u8).into()
    }
}

/// What the tool knew when an error came.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// The TCP connection was made (before it, a TLS error is about the
    /// local configuration, such as a CA file that is not certificates).
    pub connected: bool,
    /// Reading the message failed (the error is then the input's, not the
    /// connection's).
    pub input_failed: bool,
}

/// The exit status for an error.
pub fn for_error(error: &Error, cx: Context) -> Exit {
    if let Error::AllRecipientsRejected(list) = error {
        // As for a partial delivery: 69 when any refusal was permanent.
        return match for_refusals(list) {
            Exit::Ok => Exit::Unavailable,
            exit => exit,
        };
    }
    if let Error::Proxy { failure, .. } = error {
        return match failure {
            ProxyFailure::CredentialsRefused(_) | ProxyFailure::NoAcceptableMethod => Exit::NoPerm,
            ProxyFailure::Malformed(_) => Exit::Protocol,
            _ if error.is_permanent() => Exit::Unavailable,
            _ => Exit::TempFail,
        };
    }
    match error.kind() {
        ErrorKind::UnknownHost => Exit::NoHost,
        ErrorKind::Cancelled => Exit::TempFail,
        ErrorKind::InvalidInput => Exit::DataErr,
        ErrorKind::Io if cx.input_failed => Exit::NoInput,
        // Before the connection, a TLS error is the local configuration's
        // (a CA file that holds no certificate).
        ErrorKind::Tls if !cx.connected => Exit::DataErr,
        // 454 4.7.0 "temporary authentication failure": retrying may work.
        ErrorKind::Auth if error.is_transient() => Exit::TempFail,
        ErrorKind::Auth => Exit::NoPerm,
        // 454 4.7.0 "TLS not available due to temporary reason" (RFC
        // 3207): STARTTLS may work later; a 5yz refusal does not.
        ErrorKind::Tls if error.is_transient() => Exit::TempFail,
        ErrorKind::Protocol | ErrorKind::Tls => Exit::Protocol,
        ErrorKind::Transient | ErrorKind::Closed | ErrorKind::Timeout | ErrorKind::Io => {
            Exit::TempFail
        }
        ErrorKind::Permanent | ErrorKind::Unsupported => Exit::Unavailable,
        // The message may have been delivered: a temporary failure, which
        // the line on standard error says not to retry blindly.
        ErrorKind::Unknown => Exit::TempFail,
        // Kinds added to the library later.
        _ if error.is_permanent() => Exit::Unavailable,
        _ if error.is_transient() => Exit::TempFail,
        _ => Exit::Protocol,
    }
}

/// The exit status when these recipients were refused: 69 when any was
/// refused permanently (retrying would not reach it, and would send the
/// message again to the others), else 75.
pub fn for_refusals(rejected: &[Rejection]) -> Exit {
    if rejected.is_empty() {
        Exit::Ok
    } else if rejected
        .iter()
        .any(|r| r.reply.class() == ReplyClass::PermanentNegative)
    {
        Exit::Unavailable
    } else {
        Exit::TempFail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smtpc::Reply;
    use std::io;

    fn reply(text: &str) -> Reply {
        Reply::parse(format!("{text}\r\n").as_bytes()).unwrap()
    }

    fn refused(code: &str) -> Rejection {
        Rejection::new("b@x", reply(&format!("{code} no")))
    }

    const ONLINE: Context = Context {
        connected: true,
        input_failed: false,
    };

    #[test]
    fn replies_by_class() {
        let code = |e: Error| for_error(&e, ONLINE) as u8;
        assert_eq!(code(Error::Permanent(reply("550 5.1.1 no"))), 69);
        assert_eq!(code(Error::Transient(reply("451 4.3.0 later"))), 75);
        assert_eq!(code(Error::Transient(reply("421 bye"))), 75);
        assert_eq!(code(Error::MessageTooLarge { size: 2, limit: 1 }), 69);
        assert_eq!(code(Error::Unsupported("SMTPUTF8".into())), 69);
    }

    #[test]
    fn protocol_and_tls() {
        let code = |e: Error| for_error(&e, ONLINE) as u8;
        assert_eq!(
            code(Error::UnexpectedReply {
                expected: "354",
                reply: reply("250 ok")
            }),
            76
        );
        assert_eq!(code(Error::TlsUnavailable { reply: None }), 76);
        // 454 to STARTTLS is for now (RFC 3207); a 5yz is for good.
        assert_eq!(
            code(Error::TlsUnavailable {
                reply: Some(reply("454 4.7.0 no TLS"))
            }),
            75
        );
        assert_eq!(
            code(Error::TlsUnavailable {
                reply: Some(reply("554 5.7.3 no TLS"))
            }),
            76
        );
        assert_eq!(code(Error::StartTlsInjection { bytes: 3 }), 76);
        let tls = || Error::Tls {
            during: "x".into(),
            source: "bad".into(),
        };
        assert_eq!(code(tls()), 76);
        assert_eq!(for_error(&tls(), Context::default()) as u8, 65);
    }

    #[test]
    fn authentication() {
        let auth = |r: Option<Reply>| Error::Auth {
            reason: "AUTH PLAIN refused".into(),
            reply: r,
        };
        let code = |e: Error| for_error(&e, ONLINE) as u8;
        assert_eq!(code(auth(Some(reply("535 5.7.8 bad")))), 77);
        assert_eq!(code(auth(None)), 77);
        assert_eq!(code(auth(Some(reply("454 4.7.0 try later")))), 75);
    }

    #[test]
    fn connection_and_input() {
        let io = || Error::Io {
            during: "x".into(),
            source: io::Error::other("boom"),
        };
        assert_eq!(for_error(&io(), ONLINE) as u8, 75);
        let reading = Context {
            input_failed: true,
            ..ONLINE
        };
        assert_eq!(for_error(&io(), reading) as u8, 66);
        assert_eq!(
            for_error(&Error::Timeout { during: "x".into() }, ONLINE) as u8,
            75
        );
        assert_eq!(
            for_error(&Error::ConnectionClosed { during: "x".into() }, ONLINE) as u8,
            75
        );
        assert_eq!(
            for_error(&Error::InvalidInput("x".into()), ONLINE) as u8,
            65
        );
    }

    #[test]
    fn reaching_the_server() {
        let unknown = Error::UnknownHost {
            host: "nowhere.test".into(),
        };
        assert_eq!(for_error(&unknown, Context::default()) as u8, 68);
        let proxy = |failure| Error::Proxy {
            proxy: "127.0.0.1:1080".into(),
            target: "mail.test:25".into(),
            failure,
        };
        let code = |e: Error| for_error(&e, Context::default()) as u8;
        assert_eq!(code(proxy(ProxyFailure::Refused(2))), 69);
        assert_eq!(code(proxy(ProxyFailure::Refused(5))), 75);
        assert_eq!(code(proxy(ProxyFailure::CredentialsRefused(1))), 77);
        assert_eq!(code(proxy(ProxyFailure::NoAcceptableMethod)), 77);
        assert_eq!(code(proxy(ProxyFailure::Malformed("x"))), 76);
        let late = Error::Deadline {
            during: "greeting".into(),
        };
        assert_eq!(code(late), 75);
    }

    #[test]
    fn refusals() {
        assert_eq!(for_refusals(&[]), Exit::Ok);
        assert_eq!(for_refusals(&[refused("450")]), Exit::TempFail);
        assert_eq!(
            for_refusals(&[refused("450"), refused("550")]),
            Exit::Unavailable
        );
        let all = Error::AllRecipientsRejected(vec![refused("452"), refused("451")]);
        assert_eq!(for_error(&all, ONLINE), Exit::TempFail);
        let all = Error::AllRecipientsRejected(vec![refused("452"), refused("550")]);
        assert_eq!(for_error(&all, ONLINE), Exit::Unavailable);
    }
}
