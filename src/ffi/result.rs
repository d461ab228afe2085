//! `smtpc_result`: the one result type of the C interface, and how each
//! [`Error`] maps to it.

use std::ffi::{c_char, c_int, CStr};

use crate::error::{Error, ErrorKind};

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
    /// The server broke the protocol: a malformed reply, or a well-formed
    /// reply that makes no sense at this point. The connection is closed.
    SMTPC_PROTOCOL = 4,
    /// An I/O error on the connection, a failure to connect, or a read
    /// callback that reported an error. The connection is closed.
    SMTPC_IO = 5,
    /// The server did not answer (or accept data) within the timeout. The
    /// connection is closed.
    SMTPC_TIMEOUT = 6,
    /// There is no session: `smtpc_connect` was not called or failed, the
    /// session ended with `smtpc_quit`, or the server closed the
    /// connection. Call `smtpc_connect` to start a new one.
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
}

use smtpc_result::*;

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
        }
    }

    fn from_int(value: c_int) -> Option<smtpc_result> {
        const ALL: [smtpc_result; 13] = [
            SMTPC_OK,
            SMTPC_PARTIAL,
            SMTPC_TRANSIENT,
            SMTPC_PERMANENT,
            SMTPC_PROTOCOL,
            SMTPC_IO,
            SMTPC_TIMEOUT,
            SMTPC_CLOSED,
            SMTPC_TLS,
            SMTPC_AUTH,
            SMTPC_INVALID_ARGUMENT,
            SMTPC_UNSUPPORTED,
            SMTPC_PANIC,
        ];
        ALL.into_iter().find(|r| *r as c_int == value)
    }

    /// A short name, NUL-terminated so it can be handed to C as it is.
    fn name(self) -> &'static CStr {
        match self {
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
        }
    }
}

/// A static, human-readable name for a result ("ok", "permanent failure",
/// ...); "unknown result" for a value that is not an `smtpc_result`.
/// Never NULL; the string must not be freed.
#[no_mangle]
pub extern "C" fn smtpc_result_str(result: c_int) -> *const c_char {
    ffi_boundary! {
        smtpc_result::from_int(result)
            .map_or(c"unknown result", smtpc_result::name)
            .as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_has_a_distinct_name() {
        let mut names = std::collections::HashSet::new();
        for value in -1..20 {
            // SAFETY: smtpc_result_str returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(smtpc_result_str(value)) };
            let known = smtpc_result::from_int(value).is_some();
            assert_eq!(known, (0..=12).contains(&value), "{value}");
            if known {
                assert!(names.insert(name.to_owned()), "{name:?} twice");
            } else {
                assert_eq!(name, c"unknown result");
            }
        }
    }
}
