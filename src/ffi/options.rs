//! The options: every `smtpc_set_*` function, and the enums C passes to
//! them as `int`. Each reads its arguments, makes the checks that are C's
//! own (NULL, a 0 ms timeout, an empty host...), and applies the option
//! to the handle's [`Config`](crate::Config) through the public builder.

use std::ffi::{c_char, c_int, c_void};
use std::mem::take;

use super::args;
use super::callbacks::{smtpc_credentials_fn, smtpc_transcript_fn, Credentials, Transcript};
use super::handle::smtpc_client;
use super::result::{smtpc_result, Done, Fail};
use crate::builder::ClientBuilder;
use crate::tls::{Tls, TlsVersion};

/// How the connection is protected; the values for `smtpc_set_tls`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum smtpc_tls {
    /// No TLS. Credentials are then refused unless
    /// `smtpc_set_allow_insecure_auth` allows them. Default port 25.
    SMTPC_TLS_NONE = 0,
    /// STARTTLS is required (RFC 3207), the default: a server that does
    /// not offer it, or refuses it, fails `smtpc_connect` with `SMTPC_TLS`
    /// before anything else is sent. Default port 587.
    SMTPC_TLS_STARTTLS = 1,
    /// STARTTLS when the server offers it, plaintext when it does not.
    /// Once offered, any failure is an error, never a silent downgrade.
    /// Default port 587.
    SMTPC_TLS_OPPORTUNISTIC = 2,
    /// TLS from the first byte (RFC 8314). Default port 465.
    SMTPC_TLS_IMPLICIT = 3,
}

/// TLS protocol versions; the values for `smtpc_set_min_tls_version`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum smtpc_tls_version {
    /// TLS 1.2 (the default minimum).
    SMTPC_TLS_VERSION_1_2 = 12,
    /// TLS 1.3.
    SMTPC_TLS_VERSION_1_3 = 13,
}

c_enum! {
    /// The mode this value names.
    fn mode(self: smtpc_tls) -> Tls {
        SMTPC_TLS_NONE => Tls::None,
        SMTPC_TLS_STARTTLS => Tls::StartTls,
        SMTPC_TLS_OPPORTUNISTIC => Tls::Opportunistic,
        SMTPC_TLS_IMPLICIT => Tls::Implicit,
    }
}

c_enum! {
    /// The version this value names.
    fn version(self: smtpc_tls_version) -> TlsVersion {
        SMTPC_TLS_VERSION_1_2 => TlsVersion::Tls12,
        SMTPC_TLS_VERSION_1_3 => TlsVersion::Tls13,
    }
}

/// Applies one option to the handle's configuration through the builder.
pub(super) fn set(
    h: &mut smtpc_client,
    option: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Result<Done, Fail> {
    h.config = option(ClientBuilder::from(take(&mut h.config))).into_config();
    Ok(Done::Nothing)
}

/// The server to connect to: a host name, an IPv4 address, or an IPv6
/// address with or without brackets. `port` 0 means the default, which
/// follows the TLS mode (`smtpc_set_tls`): 587 for STARTTLS, 465 for
/// implicit TLS, 25 without TLS; 24 for LMTP (`smtpc_set_protocol`).
///
/// # Safety
/// `c` is NULL or a live handle; `host` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_server(
    c: *mut smtpc_client,
    host: *const c_char,
    port: u16,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `host` is NULL or a NUL-terminated string.
        let host = unsafe { args::text(host, "host") }?;
        if host.is_empty() {
            return Err(Fail::invalid("host is empty"));
        }
        // Set on the value itself: the builder takes the host only when it
        // is made, and has no way back to the default port (0 here).
        h.config.host = host.to_owned();
        h.config.port = (port != 0).then_some(port);
        Ok(Done::Nothing)
    }}
}

/// The name this client gives in EHLO/HELO: its fully qualified domain
/// name. By default the local address as an address literal
/// ("[192.0.2.1]"). Checked at `smtpc_connect`.
///
/// # Safety
/// `c` is NULL or a live handle; `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_helo_name(
    c: *mut smtpc_client,
    name: *const c_char,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `name` is NULL or a NUL-terminated string.
        let name = unsafe { args::text(name, "HELO name") }?;
        set(h, |b| b.helo_name(name))
    }}
}

/// How long to wait for each whole reply, for the TLS handshake, and for
/// each write to make progress, in milliseconds: the timeout of every
/// phase at once (by default RFC 5321's, 2 to 10 minutes by phase, see
/// `smtpc_phase`). 0 is `SMTPC_INVALID_ARGUMENT`.
///
/// # Safety
/// `c` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_timeout_ms(c: *mut smtpc_client, ms: u32) -> smtpc_result {
    ffi_boundary! { c => |h| {
        let timeout = args::millis(ms, "a timeout")?;
        set(h, |b| b.timeout(timeout))
    }}
}

/// How long to wait for the TCP connection to each address of the
/// server (or the proxy), and for the SOCKS5 proxy's handshake, in
/// milliseconds (default 30000). The addresses are tried Happy Eyeballs
/// style (RFC 8305): IPv6 and IPv4 interleaved, the next one 250 ms after
/// the one before if that has not connected. 0 is
/// `SMTPC_INVALID_ARGUMENT`.
///
/// # Safety
/// `c` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_connect_timeout_ms(
    c: *mut smtpc_client,
    ms: u32,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        let timeout = args::millis(ms, "a connect timeout")?;
        set(h, |b| b.connect_timeout(timeout))
    }}
}

/// Calls `callback(direction, line, user_data)` for every line of the
/// exchange, from the next `smtpc_connect` on. NULL `callback` turns the
/// transcript off. `user_data` is passed through untouched (it may be
/// NULL).
///
/// # Safety
/// `c` is NULL or a live handle; `callback` is NULL or a function of the
/// declared type, which must stay callable while the handle lives.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_transcript(
    c: *mut smtpc_client,
    callback: smtpc_transcript_fn,
    user_data: *mut c_void,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        h.transcript = Transcript::from_c(callback, user_data);
        Ok(Done::Nothing)
    }}
}

/// How the connection is protected: one of `smtpc_tls` (default
/// `SMTPC_TLS_STARTTLS`). Any other value is `SMTPC_INVALID_ARGUMENT`.
/// Unless `smtpc_set_server` names a port, the port follows the mode.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_tls(c: *mut smtpc_client, mode: c_int) -> smtpc_result {
    ffi_boundary! { c => |h| {
        let tls = smtpc_tls::from_int(mode)
            .ok_or_else(|| Fail::invalid(format!("{mode} is not an smtpc_tls mode")))?;
        set(h, |b| b.tls(tls.mode()))
    }}
}

/// Authenticates with AUTH (RFC 4954) as `user` with `secret` (a
/// password, or an OAuth 2.0 token with `smtpc_set_auth_mechanisms`)
/// during `smtpc_connect`, after TLS. A refusal is `SMTPC_AUTH`. Over a
/// connection without TLS the credentials are not sent, and
/// `smtpc_connect` fails with `SMTPC_AUTH`, unless
/// `smtpc_set_allow_insecure_auth` allows it. The secret never appears
/// in error messages or the transcript.
///
/// # Safety
/// `c` is NULL or a live handle; `user` and `secret` are NULL or
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_credentials(
    c: *mut smtpc_client,
    user: *const c_char,
    secret: *const c_char,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `user` is NULL or a NUL-terminated string.
        let user = unsafe { args::text(user, "user") }?;
        // SAFETY: the caller promises `secret` is NULL or a NUL-terminated string.
        let secret = unsafe { args::text(secret, "secret") }?;
        set(h, |b| b.credentials(user, secret))
    }}
}

/// Authenticates as `user` with a secret that `callback` gives when AUTH
/// needs it (see `smtpc_credentials_fn`), instead of a fixed one
/// (`smtpc_set_credentials`; the last of the two set wins). It is called
/// at each `smtpc_connect` that authenticates with `renew` false; when the
/// server refuses the secret (535, 454, or an XOAUTH2/OAUTHBEARER error),
/// once more with `renew` true, and AUTH is tried once again with its
/// answer. A callback that returns -1 makes `smtpc_connect` fail with
/// `SMTPC_AUTH` (the reply code is the refusal's, when the failure was
/// in renewing). `user_data` is passed through untouched (it may be
/// NULL). A NULL `callback` is `SMTPC_INVALID_ARGUMENT`.
///
/// # Safety
/// `c` is NULL or a live handle; `user` is NULL or a NUL-terminated
/// string; `callback` is NULL or a function of the declared type, which
/// must stay callable, with `user_data`, while the handle lives.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_credentials_callback(
    c: *mut smtpc_client,
    user: *const c_char,
    callback: smtpc_credentials_fn,
    user_data: *mut c_void,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `user` is NULL or a NUL-terminated string.
        let user = unsafe { args::text(user, "user") }?;
        let provider = Credentials::from_c(callback, user_data)?;
        set(h, |b| b.credentials_provider(user, move |renew| provider.call(renew)))
    }}
}

/// The SASL mechanisms AUTH may use, in order of preference, separated by
/// spaces or commas, in any case: any of "SCRAM-SHA-256-PLUS",
/// "SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN" (the
/// default, in that order; -PLUS only over TLS), "XOAUTH2",
/// "OAUTHBEARER" (for tokens). An unknown name or an empty list is
/// `SMTPC_INVALID_ARGUMENT`.
///
/// # Safety
/// `c` is NULL or a live handle; `names` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_auth_mechanisms(
    c: *mut smtpc_client,
    names: *const c_char,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `names` is NULL or a NUL-terminated string.
        let names = unsafe { args::text(names, "mechanisms") }?;
        let list = args::mechanisms(names)?;
        set(h, |b| b.auth_mechanisms(&list))
    }}
}

/// Allows credentials over a connection without TLS (default false, with
/// no exception for localhost: anyone who sees the traffic can read the
/// password).
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_allow_insecure_auth(
    c: *mut smtpc_client,
    allow: bool,
) -> smtpc_result {
    ffi_boundary! { c => |h| set(h, |b| b.allow_insecure_auth(allow)) }
}

/// Trusts the root certificates in the file at `path` (PEM, one or more
/// certificates; or one DER certificate) besides the system's. Each call
/// adds a file; it is read at `smtpc_connect`, where a missing or bad
/// file is `SMTPC_TLS`.
///
/// # Safety
/// `c` is NULL or a live handle; `path` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_ca_file(
    c: *mut smtpc_client,
    path: *const c_char,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `path` is NULL or a NUL-terminated string.
        let path = unsafe { args::text(path, "CA file") }?;
        if path.is_empty() {
            return Err(Fail::invalid("CA file is empty"));
        }
        set(h, |b| b.add_root_certificate_file(path))
    }}
}

/// Like `smtpc_set_ca_file`, with the certificates in memory: `len`
/// bytes of PEM or DER at `data` (copied).
///
/// # Safety
/// `c` is NULL or a live handle; `data` is NULL or points to `len`
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_ca_blob(
    c: *mut smtpc_client,
    data: *const c_void,
    len: usize,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `data` is NULL or `len` readable bytes.
        let data = unsafe { args::bytes(data.cast(), len, "CA data") }?;
        if data.is_empty() {
            return Err(Fail::invalid("CA data is empty"));
        }
        set(h, |b| b.add_root_certificate(data))
    }}
}

/// Whether the system's root certificates are trusted (default true).
/// With false, only those given with `smtpc_set_ca_file` and
/// `smtpc_set_ca_blob` are.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_system_roots(c: *mut smtpc_client, trust: bool) -> smtpc_result {
    ffi_boundary! { c => |h| {
        if trust {
            // The builder can only turn them off; C can turn them back on.
            h.config.tls_options.changed().disable_system_roots = false;
            Ok(Done::Nothing)
        } else {
            set(h, ClientBuilder::disable_system_roots)
        }
    }}
}

/// Presents a client certificate: a PEM certificate chain (`chain_len`
/// bytes) and its PEM PKCS#8 private key (`key_len` bytes), both copied.
/// Checked at `smtpc_connect` (`SMTPC_TLS` when unusable).
///
/// # Safety
/// `c` is NULL or a live handle; `chain` and `key` are NULL or point to
/// `chain_len` and `key_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_client_cert_pem(
    c: *mut smtpc_client,
    chain: *const c_void,
    chain_len: usize,
    key: *const c_void,
    key_len: usize,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `chain` is NULL or `chain_len` readable bytes.
        let chain = unsafe { args::bytes(chain.cast(), chain_len, "certificate chain") }?;
        // SAFETY: the caller promises `key` is NULL or `key_len` readable bytes.
        let key = unsafe { args::bytes(key.cast(), key_len, "private key") }?;
        if chain.is_empty() || key.is_empty() {
            return Err(Fail::invalid("the certificate chain and the key are required"));
        }
        set(h, |b| b.identity_pem(chain, key))
    }}
}

/// Presents a client certificate from a PKCS#12 archive (`len` bytes of
/// DER at `der`, copied) protected by `password`.
///
/// # Safety
/// `c` is NULL or a live handle; `der` is NULL or points to `len`
/// readable bytes; `password` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_client_cert_pkcs12(
    c: *mut smtpc_client,
    der: *const c_void,
    len: usize,
    password: *const c_char,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `der` is NULL or `len` readable bytes.
        let der = unsafe { args::bytes(der.cast(), len, "PKCS#12 archive") }?;
        // SAFETY: the caller promises `password` is NULL or a NUL-terminated string.
        let password = unsafe { args::text(password, "password") }?;
        if der.is_empty() {
            return Err(Fail::invalid("PKCS#12 archive is empty"));
        }
        set(h, |b| b.identity_pkcs12(der, password))
    }}
}

/// The lowest TLS version accepted: one of `smtpc_tls_version` (default
/// TLS 1.2). Any other value is `SMTPC_INVALID_ARGUMENT`.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_min_tls_version(
    c: *mut smtpc_client,
    version: c_int,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        let v = smtpc_tls_version::from_int(version)
            .ok_or_else(|| Fail::invalid(format!("{version} is not an smtpc_tls_version")))?;
        set(h, |b| b.min_tls_version(v.version()))
    }}
}

/// The name the server's certificate must carry, and the SNI sent, when
/// it differs from the host connected to (e.g. when connecting by IP
/// address).
///
/// # Safety
/// `c` is NULL or a live handle; `name` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_tls_server_name(
    c: *mut smtpc_client,
    name: *const c_char,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `name` is NULL or a NUL-terminated string.
        let name = unsafe { args::text(name, "TLS server name") }?;
        set(h, |b| b.tls_server_name(name))
    }}
}

/// DANGER: with true, any certificate is accepted, even expired or
/// self-signed, so anyone on the path can read and change the session.
/// For tests only. Default false.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_danger_accept_invalid_certs(
    c: *mut smtpc_client,
    accept: bool,
) -> smtpc_result {
    ffi_boundary! { c => |h| set(h, |b| b.danger_accept_invalid_certs(accept)) }
}

/// DANGER: with true, a valid certificate issued for another host name
/// is accepted. Default false.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_danger_accept_invalid_hostnames(
    c: *mut smtpc_client,
    accept: bool,
) -> smtpc_result {
    ffi_boundary! { c => |h| set(h, |b| b.danger_accept_invalid_hostnames(accept)) }
}

/// With true, each following send (`smtpc_send`, `smtpc_send_stream`,
/// `smtpc_send_file`, `smtpc_send_batch`) is the session's last: QUIT
/// leaves in the same write as the end of the (last) message, which saves
/// a round trip for a program that sends one message and exits, and the
/// session is over afterwards (`smtpc_is_connected` is false; connect
/// again for more). The message's result is read and reported exactly; a
/// server that closes without answering QUIT after taking it changes
/// nothing. Default false.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_quit_after_send(
    c: *mut smtpc_client,
    quit: bool,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        h.quit_after_send = quit;
        Ok(Done::Nothing)
    }}
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn each_value_names_its_own_mode_and_version() {
        let values: HashSet<c_int> = smtpc_tls::ALL.iter().map(|&t| t as c_int).collect();
        let modes: HashSet<Tls> = smtpc_tls::ALL.iter().map(|t| t.mode()).collect();
        assert_eq!((values.len(), modes.len()), (4, 4));
        let all = smtpc_tls_version::ALL;
        let values: HashSet<c_int> = all.iter().map(|&v| v as c_int).collect();
        let versions: HashSet<TlsVersion> = all.iter().map(|v| v.version()).collect();
        assert_eq!((values.len(), versions.len()), (2, 2));
        assert_eq!(smtpc_tls::from_int(3), Some(smtpc_tls::SMTPC_TLS_IMPLICIT));
        assert_eq!(smtpc_tls_version::from_int(14), None);
    }
}
