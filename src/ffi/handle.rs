//! The handle: options set before the action, the session once connected,
//! and the outcome of the last call.

use std::alloc::{alloc, Layout};
use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use super::args;
use super::callbacks::{smtpc_transcript_fn, Transcript};
use super::outcome::{Done, Fail, Outcome};
use super::result::smtpc_result;
use super::security::Security;
use crate::client::{Client, ClientBuilder};

/// A connection to an SMTP server and its options (opaque).
///
/// Make one with `smtpc_client_new`, set options with the `smtpc_set_*`
/// functions, then `smtpc_connect`; send with `smtpc_send` or step by step
/// (`smtpc_mail`, `smtpc_rcpt`, `smtpc_data`); end with `smtpc_quit` and
/// `smtpc_client_free`. Options take effect at the next `smtpc_connect`.
///
/// Threads: a handle may be used by one thread at a time (it may move
/// between threads between calls); different handles may be used in
/// parallel.
///
/// Strings: every `const char *` argument is a NUL-terminated UTF-8
/// string that smtpc only reads during the call (it keeps copies). Every
/// string smtpc returns belongs to the handle and stays valid until the
/// next call on the same handle other than the accessors
/// (`smtpc_reply_*`, `smtpc_error_message`, `smtpc_queue_id`,
/// `smtpc_rejected_*`, `smtpc_is_connected`, `smtpc_is_encrypted`,
/// `smtpc_has_extension`), or
/// until `smtpc_client_free`; the caller never frees them.
///
/// Every function accepts NULL for any pointer and returns
/// `SMTPC_INVALID_ARGUMENT` (or 0, false, NULL for accessors) rather than
/// crash. A pointer that is not NULL must be valid: a handle must come
/// from `smtpc_client_new` and not be freed yet.
pub struct smtpc_client {
    host: Option<String>,
    port: Option<u16>,
    helo_name: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    transcript: Option<Transcript>,
    pub(crate) security: Security,
    pub(crate) session: Option<Client>,
    pub(crate) outcome: Outcome,
}

impl smtpc_client {
    /// A builder with the options set so far.
    pub(crate) fn builder(&self) -> Result<ClientBuilder, Fail> {
        let Some(host) = &self.host else {
            return Err(Fail::invalid("no server: call smtpc_set_server first"));
        };
        let mut b = Client::builder(host.as_str());
        if let Some(port) = self.port {
            b = b.port(port);
        }
        if let Some(name) = &self.helo_name {
            b = b.helo_name(name);
        }
        if let Some(t) = self.timeout {
            b = b.timeout(t);
        }
        if let Some(t) = self.connect_timeout {
            b = b.connect_timeout(t);
        }
        if let Some(t) = self.transcript {
            b = b.transcript(t.hook());
        }
        Ok(self.security.apply(b))
    }

    /// The open session, or `SMTPC_CLOSED` when there is none.
    pub(crate) fn session(&mut self) -> Result<&mut Client, Fail> {
        self.session.as_mut().ok_or_else(|| {
            Fail::Usage(
                smtpc_result::SMTPC_CLOSED,
                "not connected: call smtpc_connect first".into(),
            )
        })
    }
}

/// Borrows the handle behind `c`.
///
/// # Safety
/// `c` is NULL or a handle from `smtpc_client_new`, not yet freed, and not
/// used by another thread for `'a`.
pub(crate) unsafe fn borrow<'a>(c: *const smtpc_client) -> Option<&'a smtpc_client> {
    // SAFETY: the caller's promise: NULL (gives None) or a live handle.
    unsafe { c.as_ref() }
}

/// Runs `action` on the handle behind `c` and records its outcome there.
/// NULL is `SMTPC_INVALID_ARGUMENT`. A panic inside drops the session
/// (its state is unknown) and is recorded as `SMTPC_PANIC`.
///
/// # Safety
/// As for [`borrow`], with no other reference to the handle alive.
pub(crate) unsafe fn act(
    c: *mut smtpc_client,
    action: impl FnOnce(&mut smtpc_client) -> Result<Done, Fail>,
) -> smtpc_result {
    // SAFETY: the caller's promise: NULL (gives None) or a live handle
    // that nothing else references during this call.
    let Some(handle) = (unsafe { c.as_mut() }) else {
        return smtpc_result::SMTPC_INVALID_ARGUMENT;
    };
    match catch_unwind(AssertUnwindSafe(|| action(handle))) {
        Ok(step) => handle.outcome.record(step),
        Err(_) => {
            // Dropping a session says QUIT, which could panic in turn.
            if let Some(session) = handle.session.take() {
                let _ = catch_unwind(AssertUnwindSafe(|| drop(session)));
            }
            handle.outcome.panicked()
        }
    }
}

/// A new handle with default options, or NULL if memory ran out. Free it
/// with `smtpc_client_free`.
#[no_mangle]
pub extern "C" fn smtpc_client_new() -> *mut smtpc_client {
    ffi_boundary! {
        // Allocated by hand so that running out of memory gives NULL, as
        // C expects, where Box::new would abort.
        let layout = Layout::new::<smtpc_client>();
        // SAFETY: the layout is that of smtpc_client, which is not zero-sized.
        let p = unsafe { alloc(layout) }.cast::<smtpc_client>();
        if p.is_null() {
            return std::ptr::null_mut();
        }
        let handle = smtpc_client {
            host: None,
            port: None,
            helo_name: None,
            timeout: None,
            connect_timeout: None,
            transcript: None,
            security: Security::default(),
            session: None,
            outcome: Outcome::default(),
        };
        // SAFETY: `p` is not NULL and was allocated by the global allocator
        // with smtpc_client's layout, so it is valid and aligned for this
        // write, and Box::from_raw may take it over in smtpc_client_free.
        unsafe { p.write(handle) };
        p
    }
}

/// Frees a handle and everything it owns (strings returned by accessors
/// included). An open session is ended with QUIT, without waiting for the
/// reply. NULL is a no-op. The handle must not be used afterwards.
///
/// # Safety
/// `c` is NULL or a handle from `smtpc_client_new` that was not freed yet.
#[no_mangle]
pub unsafe extern "C" fn smtpc_client_free(c: *mut smtpc_client) {
    ffi_boundary! {
        if !c.is_null() {
            // SAFETY: `c` was allocated in smtpc_client_new with the global
            // allocator and smtpc_client's layout, as Box::from_raw
            // requires, and the caller promises it was not freed yet.
            drop(unsafe { Box::from_raw(c) });
        }
    }
}

/// The server to connect to: a host name, an IPv4 address, or an IPv6
/// address with or without brackets. `port` 0 means the default, which
/// follows the TLS mode (`smtpc_set_tls`): 587 for STARTTLS, 465 for
/// implicit TLS, 25 without TLS.
///
/// # Safety
/// `c` is NULL or a live handle; `host` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_server(
    c: *mut smtpc_client,
    host: *const c_char,
    port: u16,
) -> smtpc_result {
    ffi_boundary! {
        // SAFETY: the caller's promises, passed on.
        unsafe {
            act(c, |h| {
                let host = args::text(host, "host")?;
                if host.is_empty() {
                    return Err(Fail::invalid("host is empty"));
                }
                h.host = Some(host.to_owned());
                h.port = (port != 0).then_some(port);
                Ok(Done::Nothing)
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promises, passed on.
        unsafe {
            act(c, |h| {
                h.helo_name = Some(args::text(name, "HELO name")?.to_owned());
                Ok(Done::Nothing)
            })
        }
    }
}

fn millis(ms: u32, what: &str) -> Result<Duration, Fail> {
    if ms == 0 {
        return Err(Fail::invalid(format!("{what} of 0 ms")));
    }
    Ok(Duration::from_millis(u64::from(ms)))
}

/// How long to wait for each whole reply, and for each write to make
/// progress, in milliseconds (default 300000: 5 minutes, as RFC 5321
/// asks). 0 is `SMTPC_INVALID_ARGUMENT`.
///
/// # Safety
/// `c` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_timeout_ms(c: *mut smtpc_client, ms: u32) -> smtpc_result {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe {
            act(c, |h| {
                h.timeout = Some(millis(ms, "a timeout")?);
                Ok(Done::Nothing)
            })
        }
    }
}

/// How long to wait for the TCP connection to each address of the
/// server, in milliseconds (default 30000). 0 is `SMTPC_INVALID_ARGUMENT`.
///
/// # Safety
/// `c` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn smtpc_set_connect_timeout_ms(
    c: *mut smtpc_client,
    ms: u32,
) -> smtpc_result {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe {
            act(c, |h| {
                h.connect_timeout = Some(millis(ms, "a connect timeout")?);
                Ok(Done::Nothing)
            })
        }
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe {
            act(c, |h| {
                h.transcript = callback.map(|callback| Transcript { callback, user_data });
                Ok(Done::Nothing)
            })
        }
    }
}
