//! `smtpc_result`: the one result type of the C interface; [`Done`] and
//! [`Fail`], what an action on a handle gives before it becomes one; and
//! how each [`Error`] maps to it.

use std::ffi::CStr;
use std::fmt;

use super::boundary::OnPanic;
use crate::delivery::Delivery;
use crate::error::{Error, ErrorKind};
use crate::reply::Reply;

/// The result of a call. `SMTPC_OK` is 0; every other value is a failure
/// (or, for `SMTPC_PARTIAL`, a success with exceptions). After any call,
/// `smtpc_error_message` says what happened and `smtpc_reply_code` gives
/// the server's reply code when there was one.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum smtpc_result {
    /// Done: the server answered with a 2yz reply (or the option was set).
    SMTPC_OK = 0,
    /// The message was accepted for some recipients and refused for others:
    /// see `smtpc_rejected_count` and the `smtpc_rejected_*` functions.
    SMTPC_PARTIAL = 1,
    /// A 4yz reply: the server may accept the same request later. Also
    /// when every recipient was refused and at least one refusal was 4yz.
    SMTPC_TRANSIENT = 2,
    /// A 5yz reply: repeating the request will not help. Also when every
    /// recipient was refused with 5yz, and when the message is larger than
    /// the server's SIZE limit (then nothing was sent and the reply code
    /// is 0).
    SMTPC_PERMANENT = 3,
    /// The server broke the protocol: a malformed reply (the connection is
    /// then closed), or a well-formed reply that makes no sense at this
    /// point, such as a 2yz the command does not name as its success (a
    /// 250 to DATA, a 252 to MAIL: the transaction is then reset and the
    /// session goes on).
    SMTPC_PROTOCOL = 4,
    /// An I/O error on the connection, a failure to connect, or a read
    /// callback that reported an error. The connection is closed, but for
    /// one case: a read callback that failed before anything of its
    /// message was sent (`smtpc_send_stream` reads the first 256 KiB
    /// before MAIL FROM) leaves the session open and usable, as
    /// `smtpc_is_connected` then says. Once the message began, the
    /// connection is closed without an end of data: the server drops the
    /// message, it is never cut short.
    SMTPC_IO = 5,
    /// The server did not answer (or accept data) within the timeout, the
    /// call's deadline passed (`smtpc_set_call_timeout_ms`), or no address
    /// answered within the connect timeout. The connection is closed.
    SMTPC_TIMEOUT = 6,
    /// There is no session: `smtpc_connect` was not called or failed, the
    /// session ended with `smtpc_quit`, or the server closed the
    /// connection (also when it said goodbye, 221, to anything but QUIT:
    /// then the reply code is 221). Call `smtpc_connect` to start a new
    /// one.
    SMTPC_CLOSED = 7,
    /// TLS could not be set up: the handshake or certificate verification
    /// failed, STARTTLS was required but not offered or refused (then the
    /// reply code is the refusal's, or 0), or plaintext was injected after
    /// the server's 220 to STARTTLS. The connection is closed.
    SMTPC_TLS = 8,
    /// Authentication failed: the server refused the credentials (the
    /// reply code says how, e.g. 535), offers no usable mechanism, or the
    /// credentials would have gone over a connection without TLS.
    SMTPC_AUTH = 9,
    /// An argument is unacceptable: a NULL pointer, a string that is not
    /// UTF-8, an address or name with a control character, a zero timeout,
    /// no recipients... Nothing was sent.
    SMTPC_INVALID_ARGUMENT = 10,
    /// The server lacks an extension the message needs (SMTPUTF8 for a
    /// non-ASCII address, 8BITMIME for 8-bit content). Nothing was sent.
    SMTPC_UNSUPPORTED = 11,
    /// A bug in smtpc: a panic was caught at the boundary. The session, if
    /// any, was dropped; the handle can still be freed or reconnected.
    SMTPC_PANIC = 12,
    /// Nobody knows whether the message was delivered: the connection
    /// broke, or the server fell silent, after the end of the message was
    /// sent and before the reply to it. Sending it again may deliver it
    /// twice. The connection is closed. (After `smtpc_send_batch`, each
    /// message's own result says which ones; a message that went to some
    /// recipients in one transaction and to others in one whose outcome is
    /// unknown is `SMTPC_PARTIAL`, its recipients of unknown outcome
    /// listed with `smtpc_unknown_*`.)
    SMTPC_UNKNOWN = 13,
    /// The call was cancelled with `smtpc_cancel`. The connection is
    /// closed. (A cancel after the end of a message went out, before its
    /// reply, is `SMTPC_UNKNOWN`: the message may have been delivered.)
    SMTPC_CANCELLED = 14,
    /// The host name (the server's, or the proxy's) does not exist or has
    /// no address. A resolver that could not answer is `SMTPC_IO`.
    SMTPC_UNKNOWN_HOST = 15,
    /// The SOCKS5 proxy refused to connect to the server (the error
    /// message gives its reply code and what it means), refused the user
    /// name and password, or is not a SOCKS5 proxy.
    SMTPC_PROXY = 16,
    /// A call on this handle is in progress: this call was made from
    /// inside one of its callbacks (transcript, read, credentials), or,
    /// against the rules, from another thread. Nothing was done and the
    /// handle's outcome is unchanged; the call in progress is not
    /// affected. (`smtpc_cancel` is the one function meant for that
    /// moment.)
    SMTPC_BUSY = 17,
}

use smtpc_result::*;

c_enum! {
    /// A short name, NUL-terminated so it can be handed to C as it is.
    fn name(self: smtpc_result) -> &'static CStr {
        SMTPC_OK => c"ok",
        SMTPC_PARTIAL => c"some recipients rejected",
        SMTPC_TRANSIENT => c"transient failure",
        SMTPC_PERMANENT => c"permanent failure",
        SMTPC_PROTOCOL => c"protocol error",
        SMTPC_IO => c"I/O error",
        SMTPC_TIMEOUT => c"timeout",
        SMTPC_CLOSED => c"no session",
        SMTPC_TLS => c"TLS error",
        SMTPC_AUTH => c"authentication failed",
        SMTPC_INVALID_ARGUMENT => c"invalid argument",
        SMTPC_UNSUPPORTED => c"unsupported by the server",
        SMTPC_PANIC => c"internal error (panic)",
        SMTPC_UNKNOWN => c"outcome unknown: the message may have been delivered",
        SMTPC_CANCELLED => c"cancelled",
        SMTPC_UNKNOWN_HOST => c"unknown host",
        SMTPC_PROXY => c"proxy refused",
        SMTPC_BUSY => c"busy: a call on this handle is in progress",
    }
}

impl smtpc_result {
    /// The result for a failed call of the Rust API.
    pub(crate) fn of(error: &Error) -> smtpc_result {
        match error.kind() {
            ErrorKind::Transient => SMTPC_TRANSIENT,
            ErrorKind::Permanent => SMTPC_PERMANENT,
            ErrorKind::Protocol => SMTPC_PROTOCOL,
            ErrorKind::Closed => SMTPC_CLOSED,
            ErrorKind::Timeout => SMTPC_TIMEOUT,
            ErrorKind::Io => SMTPC_IO,
            ErrorKind::Tls => SMTPC_TLS,
            ErrorKind::Auth => SMTPC_AUTH,
            ErrorKind::Unsupported => SMTPC_UNSUPPORTED,
            ErrorKind::InvalidInput => SMTPC_INVALID_ARGUMENT,
            ErrorKind::Unknown => SMTPC_UNKNOWN,
            ErrorKind::Cancelled => SMTPC_CANCELLED,
            ErrorKind::UnknownHost => SMTPC_UNKNOWN_HOST,
            ErrorKind::Proxy => SMTPC_PROXY,
        }
    }
}

impl OnPanic for smtpc_result {
    fn on_panic() -> Self {
        SMTPC_PANIC
    }
}

/// What a successful action produced.
#[derive(Debug)]
pub(crate) enum Done {
    /// Nothing from the server (an option was set).
    Nothing,
    /// One reply.
    Reply(Reply),
    /// A whole message sent, perhaps with refused recipients.
    Delivery(Delivery),
    /// A batch: each message's own outcome, in order.
    Batch(Vec<Result<Delivery, Fail>>),
}

/// Why an action failed.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The Rust API said no.
    Smtp(Error),
    /// The C layer said no before reaching it (a bad argument, no session).
    Usage(smtpc_result, String),
}

impl Fail {
    /// A bad argument, said in `message`.
    pub(crate) fn invalid(message: impl Into<String>) -> Fail {
        Fail::Usage(SMTPC_INVALID_ARGUMENT, message.into())
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Smtp(e)
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Smtp(e) => e.fmt(f),
            Fail::Usage(_, message) => f.write_str(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::ffi::c_int;

    use super::*;

    #[test]
    fn values_are_distinct_and_names_unique() {
        let values: HashSet<c_int> = smtpc_result::ALL.iter().map(|&r| r as c_int).collect();
        assert_eq!(values.len(), smtpc_result::ALL.len());
        let names: HashSet<&CStr> = smtpc_result::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(names.len(), smtpc_result::ALL.len());
        for &r in smtpc_result::ALL {
            assert_eq!(smtpc_result::from_int(r as c_int), Some(r));
        }
        assert_eq!(smtpc_result::from_int(-1), None);
    }
}
