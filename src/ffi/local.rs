//! The options of local delivery: the protocol (SMTP or LMTP) and a UNIX
//! domain socket to connect to instead of a host and port.

use std::ffi::{c_char, c_int};

use super::args;
use super::handle::smtpc_client;
use super::options::set;
use super::result::{smtpc_result, Fail};
use crate::protocol::Protocol;

/// The protocol spoken; the values for `smtpc_set_protocol`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum smtpc_protocol {
    /// SMTP (RFC 5321), the default: EHLO (HELO when the server does not
    /// know it), one reply to the end of the message.
    SMTPC_PROTOCOL_SMTP = 0,
    /// LMTP (RFC 2033), for handing mail to a mailbox store (Dovecot,
    /// Cyrus): LHLO, and after the end of the message one reply per
    /// accepted recipient, read into `smtpc_accepted_*` (stored) and
    /// `smtpc_rejected_*` (refused at RCPT or after the message). Default
    /// port 24 over TCP.
    SMTPC_PROTOCOL_LMTP = 1,
}

c_enum! {
    /// The protocol this value names.
    fn protocol(self: smtpc_protocol) -> Protocol {
        SMTPC_PROTOCOL_SMTP => Protocol::Smtp,
        SMTPC_PROTOCOL_LMTP => Protocol::Lmtp,
    }
}

/// The protocol: `SMTPC_PROTOCOL_SMTP` (the default) or
/// `SMTPC_PROTOCOL_LMTP`. A value that is neither is
/// `SMTPC_INVALID_INPUT`.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_protocol(c: *mut smtpc_client, protocol: c_int) -> smtpc_result {
    ffi_boundary! { c => |h| {
        let protocol = smtpc_protocol::from_int(protocol)
            .ok_or_else(|| Fail::invalid(format!("{protocol} is not an smtpc_protocol")))?;
        set(h, |b| b.protocol(protocol.protocol()))
    }}
}

/// Connects to the UNIX domain socket at `path` (e.g. Dovecot's
/// "/run/dovecot/lmtp") instead of the server set by `smtpc_set_server`,
/// which then need not be set. Over a UNIX socket there is no TLS unless
/// `smtpc_set_tls` asks for it, and the client names itself "localhost"
/// unless `smtpc_set_helo_name` says otherwise. A path that is not there,
/// or where nothing listens, fails `smtpc_connect` with `SMTPC_IO`; a
/// proxy or a source address with it is `SMTPC_INVALID_ARGUMENT` there.
///
/// # Safety
/// `c` is NULL or a live handle; `path` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_unix_socket(
    c: *mut smtpc_client,
    path: *const c_char,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `path` is NULL or a NUL-terminated string.
        let path = unsafe { args::text(path, "socket path") }?;
        if path.is_empty() {
            return Err(Fail::invalid("socket path is empty"));
        }
        set(h, |b| b.unix_socket(path))
    }}
}
