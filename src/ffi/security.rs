//! The TLS and authentication options: the `smtpc_set_*` functions that
//! map the TLS and AUTH settings of the Rust builder.

use std::ffi::{c_char, c_int, c_void};
use std::path::PathBuf;

use super::args;
use super::handle::{act, borrow, smtpc_client};
use super::outcome::{Done, Fail};
use super::result::smtpc_result;
use crate::auth::Mechanism;
use crate::client::ClientBuilder;
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

impl smtpc_tls {
    /// The mode a C value names.
    fn mode(value: c_int) -> Option<Tls> {
        use smtpc_tls::*;
        [
            (SMTPC_TLS_NONE, Tls::None),
            (SMTPC_TLS_STARTTLS, Tls::StartTls),
            (SMTPC_TLS_OPPORTUNISTIC, Tls::Opportunistic),
            (SMTPC_TLS_IMPLICIT, Tls::Implicit),
        ]
        .into_iter()
        .find_map(|(c, mode)| (c as c_int == value).then_some(mode))
    }
}

impl smtpc_tls_version {
    /// The version a C value names.
    fn version(value: c_int) -> Option<TlsVersion> {
        use smtpc_tls_version::*;
        [
            (SMTPC_TLS_VERSION_1_2, TlsVersion::Tls12),
            (SMTPC_TLS_VERSION_1_3, TlsVersion::Tls13),
        ]
        .into_iter()
        .find_map(|(c, version)| (c as c_int == value).then_some(version))
    }
}

/// Where trusted roots come from.
enum Root {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// The client's certificate and key.
enum Identity {
    Pem { chain: Vec<u8>, key: Vec<u8> },
    Pkcs12 { der: Vec<u8>, password: String },
}

/// The TLS and AUTH options of a handle. No Debug: it holds secrets.
#[derive(Default)]
pub(crate) struct Security {
    tls: Option<Tls>,
    roots: Vec<Root>,
    no_system_roots: bool,
    identity: Option<Identity>,
    min_version: Option<TlsVersion>,
    server_name: Option<String>,
    accept_invalid_certs: bool,
    accept_invalid_hostnames: bool,
    credentials: Option<(String, String)>,
    mechanisms: Option<Vec<Mechanism>>,
    allow_insecure_auth: bool,
}

impl Security {
    /// `builder` with these options.
    pub(crate) fn apply(&self, mut b: ClientBuilder) -> ClientBuilder {
        if let Some(mode) = self.tls {
            b = b.tls(mode);
        }
        for root in &self.roots {
            b = match root {
                Root::File(path) => b.add_root_certificate_file(path.clone()),
                Root::Bytes(bytes) => b.add_root_certificate(bytes),
            };
        }
        if self.no_system_roots {
            b = b.disable_system_roots();
        }
        match &self.identity {
            Some(Identity::Pem { chain, key }) => b = b.identity_pem(chain, key),
            Some(Identity::Pkcs12 { der, password }) => b = b.identity_pkcs12(der, password),
            None => {}
        }
        if let Some(version) = self.min_version {
            b = b.min_tls_version(version);
        }
        if let Some(name) = &self.server_name {
            b = b.tls_server_name(name);
        }
        b = b
            .danger_accept_invalid_certs(self.accept_invalid_certs)
            .danger_accept_invalid_hostnames(self.accept_invalid_hostnames)
            .allow_insecure_auth(self.allow_insecure_auth);
        if let Some((user, secret)) = &self.credentials {
            b = b.credentials(user, secret);
        }
        if let Some(mechanisms) = &self.mechanisms {
            b = b.auth_mechanisms(mechanisms);
        }
        b
    }
}

/// Runs `set` on the security options of the handle behind `c`.
///
/// # Safety
/// As for [`act`].
unsafe fn set(
    c: *mut smtpc_client,
    set: impl FnOnce(&mut Security) -> Result<(), Fail>,
) -> smtpc_result {
    // SAFETY: the caller's promise, passed on.
    unsafe { act(c, |h| set(&mut h.security).map(|()| Done::Nothing)) }
}

/// How the connection is protected: one of `smtpc_tls` (default
/// `SMTPC_TLS_STARTTLS`). Any other value is `SMTPC_INVALID_ARGUMENT`.
/// Unless `smtpc_set_server` names a port, the port follows the mode.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_tls(c: *mut smtpc_client, mode: c_int) -> smtpc_result {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe {
            set(c, |s| {
                let tls = smtpc_tls::mode(mode)
                    .ok_or_else(|| Fail::invalid(format!("{mode} is not an smtpc_tls mode")))?;
                s.tls = Some(tls);
                Ok(())
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promises, passed on.
        unsafe {
            set(c, |s| {
                let user = args::text(user, "user")?;
                let secret = args::text(secret, "secret")?;
                s.credentials = Some((user.to_owned(), secret.to_owned()));
                Ok(())
            })
        }
    }
}

/// The SASL mechanisms AUTH may use, in order of preference, separated by
/// spaces or commas: any of "CRAM-MD5", "PLAIN", "LOGIN" (the default,
/// in that order), "XOAUTH2", "OAUTHBEARER" (for tokens), in any case.
/// An unknown name or an empty list is `SMTPC_INVALID_ARGUMENT`.
///
/// # Safety
/// `c` is NULL or a live handle; `names` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_auth_mechanisms(
    c: *mut smtpc_client,
    names: *const c_char,
) -> smtpc_result {
    ffi_boundary! {
        // SAFETY: the caller's promises, passed on.
        unsafe {
            set(c, |s| {
                let names = args::text(names, "mechanisms")?;
                let list = names
                    .split([' ', ','])
                    .filter(|n| !n.is_empty())
                    .map(|n| {
                        Mechanism::from_name(n)
                            .ok_or_else(|| Fail::invalid(format!("unknown SASL mechanism {n:?}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if list.is_empty() {
                    return Err(Fail::invalid("no SASL mechanism named"));
                }
                s.mechanisms = Some(list);
                Ok(())
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe {
            set(c, |s| {
                s.allow_insecure_auth = allow;
                Ok(())
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promises, passed on.
        unsafe {
            set(c, |s| {
                let path = args::text(path, "CA file")?;
                if path.is_empty() {
                    return Err(Fail::invalid("CA file is empty"));
                }
                s.roots.push(Root::File(path.into()));
                Ok(())
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promises, passed on.
        unsafe {
            set(c, |s| {
                let data = args::bytes(data.cast(), len, "CA data")?;
                if data.is_empty() {
                    return Err(Fail::invalid("CA data is empty"));
                }
                s.roots.push(Root::Bytes(data.to_vec()));
                Ok(())
            })
        }
    }
}

/// Whether the system's root certificates are trusted (default true).
/// With false, only those given with `smtpc_set_ca_file` and
/// `smtpc_set_ca_blob` are.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_system_roots(c: *mut smtpc_client, trust: bool) -> smtpc_result {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe {
            set(c, |s| {
                s.no_system_roots = !trust;
                Ok(())
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promises, passed on.
        unsafe {
            set(c, |s| {
                let chain = args::bytes(chain.cast(), chain_len, "certificate chain")?;
                let key = args::bytes(key.cast(), key_len, "private key")?;
                if chain.is_empty() || key.is_empty() {
                    return Err(Fail::invalid("the certificate chain and the key are required"));
                }
                s.identity = Some(Identity::Pem {
                    chain: chain.to_vec(),
                    key: key.to_vec(),
                });
                Ok(())
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promises, passed on.
        unsafe {
            set(c, |s| {
                let der = args::bytes(der.cast(), len, "PKCS#12 archive")?;
                let password = args::text(password, "password")?;
                if der.is_empty() {
                    return Err(Fail::invalid("PKCS#12 archive is empty"));
                }
                s.identity = Some(Identity::Pkcs12 {
                    der: der.to_vec(),
                    password: password.to_owned(),
                });
                Ok(())
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe {
            set(c, |s| {
                let v = smtpc_tls_version::version(version).ok_or_else(|| {
                    Fail::invalid(format!("{version} is not an smtpc_tls_version"))
                })?;
                s.min_version = Some(v);
                Ok(())
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promises, passed on.
        unsafe {
            set(c, |s| {
                s.server_name = Some(args::text(name, "TLS server name")?.to_owned());
                Ok(())
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe {
            set(c, |s| {
                s.accept_invalid_certs = accept;
                Ok(())
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe {
            set(c, |s| {
                s.accept_invalid_hostnames = accept;
                Ok(())
            })
        }
    }
}

/// True while the session runs over TLS. False for NULL or when no
/// session is open.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_is_encrypted(c: *const smtpc_client) -> bool {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        let handle = unsafe { borrow(c) };
        let session = handle.and_then(|h| h.session.as_ref()).filter(|s| !s.is_closed());
        session.is_some_and(|s| s.is_encrypted())
    }
}
