//! The options of time and of reaching the server: a timeout for each
//! phase, the call timeout, the source address, the SOCKS5 proxy.

use std::ffi::{c_char, c_int};

use super::args;
use super::handle::smtpc_client;
use super::options::set;
use super::result::{smtpc_result, Done, Fail};
use crate::proxy::Proxy;
use crate::timeouts::Phase;

/// The waits of a session, each with its own timeout; the values for
/// `smtpc_set_phase_timeout_ms`. The defaults are RFC 5321 4.5.3.2's.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum smtpc_phase {
    /// The server's 220 greeting (default 5 minutes).
    SMTPC_PHASE_GREETING = 0,
    /// The reply to MAIL FROM (default 5 minutes).
    SMTPC_PHASE_MAIL = 1,
    /// The reply to each RCPT TO (default 5 minutes).
    SMTPC_PHASE_RCPT = 2,
    /// The reply to DATA, the 354 (default 2 minutes).
    SMTPC_PHASE_DATA = 3,
    /// Each write to the server, message content above all: every send
    /// must make progress within it; also the reply to a BDAT chunk that
    /// is not the last (default 3 minutes).
    SMTPC_PHASE_DATA_BLOCK = 4,
    /// The reply to the end of data or to BDAT LAST, while the server
    /// takes the message (default 10 minutes).
    SMTPC_PHASE_END_OF_DATA = 5,
    /// The TLS handshake and the reply to every other command: EHLO,
    /// HELO, STARTTLS, AUTH, RSET, NOOP, QUIT (default 5 minutes).
    SMTPC_PHASE_OTHER = 6,
}

c_enum! {
    /// The phase this value names.
    fn phase(self: smtpc_phase) -> Phase {
        SMTPC_PHASE_GREETING => Phase::Greeting,
        SMTPC_PHASE_MAIL => Phase::Mail,
        SMTPC_PHASE_RCPT => Phase::Rcpt,
        SMTPC_PHASE_DATA => Phase::Data,
        SMTPC_PHASE_DATA_BLOCK => Phase::DataBlock,
        SMTPC_PHASE_END_OF_DATA => Phase::EndOfData,
        SMTPC_PHASE_OTHER => Phase::Other,
    }
}

/// How long the waits of one phase may take, in milliseconds (see
/// `smtpc_phase` for which wait belongs to which phase). `phase` must be
/// one of `smtpc_phase`; 0 ms is `SMTPC_INVALID_ARGUMENT`.
///
/// # Safety
/// `c` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_phase_timeout_ms(
    c: *mut smtpc_client,
    phase: c_int,
    ms: u32,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        let phase = smtpc_phase::from_int(phase)
            .ok_or_else(|| Fail::invalid(format!("{phase} is not an smtpc_phase")))?;
        let timeout = args::millis(ms, "a timeout")?;
        set(h, |b| b.phase_timeout(phase.phase(), timeout))
    }}
}

/// The most any one call may take, in milliseconds, however its time is
/// spent (resolving, connecting, TLS, many slow replies): `smtpc_connect`
/// (the whole session setup), `smtpc_send`, `smtpc_send_batch` and every
/// other call return within it, with `SMTPC_TIMEOUT` ("the call's
/// deadline passed") and the connection closed when it is not done.
/// 0 removes it (the default). Reading a message through a read callback
/// is not bounded by it. Takes effect at the next `smtpc_connect`.
///
/// # Safety
/// `c` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_call_timeout_ms(c: *mut smtpc_client, ms: u32) -> smtpc_result {
    ffi_boundary! { c => |h| {
        if ms == 0 {
            h.config.call_timeout = None;
            return Ok(Done::Nothing);
        }
        let timeout = args::millis(ms, "a call timeout")?;
        set(h, |b| b.call_timeout(timeout))
    }}
}

/// Connects from this source address (an IPv4 or IPv6 address, without
/// brackets; the port is chosen by the system), for a host with several
/// addresses. Only the server's addresses of the same family are tried;
/// with a proxy, the connection to the proxy starts from it. NULL or ""
/// removes it (the default: the system chooses). An address that cannot
/// be bound fails at `smtpc_connect` (`SMTPC_IO`, the attempts listed).
///
/// # Safety
/// `c` is NULL or a live handle; `address` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_local_address(
    c: *mut smtpc_client,
    address: *const c_char,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        if address.is_null() {
            h.config.local_address = None;
            return Ok(Done::Nothing);
        }
        // SAFETY: the caller promises `address` is NULL or a NUL-terminated string.
        let text = unsafe { args::text(address, "local address") }?;
        if text.is_empty() {
            h.config.local_address = None;
            return Ok(Done::Nothing);
        }
        let bare = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
        let ip = bare
            .parse()
            .map_err(|_| Fail::invalid(format!("{text:?} is not an IP address")))?;
        set(h, |b| b.local_address(ip))
    }}
}

/// Reaches the server through a SOCKS5 proxy (RFC 1928):
/// "socks5://host:port", or "socks5://user:password@host:port" for a
/// proxy that wants a user name and password (RFC 1929; `%40` for `@`
/// and `%3A` for `:` in them). The port defaults to 1080; an IPv6 address
/// goes in brackets. The proxy resolves the server's name; STARTTLS and
/// implicit TLS run through it, the certificate checked against the
/// server's name. NULL or "" removes it. A malformed URL is
/// `SMTPC_INVALID_ARGUMENT`; a proxy that refuses fails `smtpc_connect`
/// with `SMTPC_PROXY`. The password never appears in error messages.
///
/// # Safety
/// `c` is NULL or a live handle; `url` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_proxy(c: *mut smtpc_client, url: *const c_char) -> smtpc_result {
    ffi_boundary! { c => |h| {
        if url.is_null() {
            h.config.proxy = None;
            return Ok(Done::Nothing);
        }
        // SAFETY: the caller promises `url` is NULL or a NUL-terminated string.
        let url = unsafe { args::text(url, "proxy URL") }?;
        if url.is_empty() {
            h.config.proxy = None;
            return Ok(Done::Nothing);
        }
        let proxy = Proxy::from_url(url)?;
        proxy.check()?;
        set(h, |b| b.proxy(proxy))
    }}
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn each_value_names_its_own_phase() {
        let phases: HashSet<Phase> = smtpc_phase::ALL.iter().map(|p| p.phase()).collect();
        assert_eq!(phases.len(), Phase::ALL.len());
        assert_eq!(
            smtpc_phase::from_int(4),
            Some(smtpc_phase::SMTPC_PHASE_DATA_BLOCK)
        );
        assert_eq!(smtpc_phase::from_int(7), None);
    }
}
