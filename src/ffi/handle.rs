//! The handle: its options (a [`Config`] and the transcript callback),
//! the session once connected, and the outcome of the last call; the
//! `ffi_boundary!` macro every `extern "C"` function runs in; and the
//! handle's life: new, reset, free.

use std::alloc::{alloc, Layout};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::callbacks::Transcript;
use super::outcome::Outcome;
use super::result::{smtpc_result, Done, Fail};
use crate::builder::ClientBuilder;
use crate::cancel::Canceller;
use crate::client::Client;
use crate::config::Config;

/// The body of every `extern "C"` function, inside the panic boundary
/// (`boundary::run`): a panic becomes `SMTPC_PANIC`, NULL, 0 or false
/// instead of unwinding into C. Three forms:
///
/// - `ffi_boundary! { body }` for a function without a handle;
/// - `ffi_boundary! { c => |h| body }` acts on the handle `c`
///   (`*mut smtpc_client`) through [`act`]: NULL is
///   `SMTPC_INVALID_ARGUMENT`, otherwise `body` gets `h: &mut
///   smtpc_client` and gives a `Result<Done, Fail>`, recorded as the
///   handle's outcome;
/// - `ffi_boundary! { c or null => |h| body }` reads the handle `c` (an
///   accessor): `body` gets `h: &smtpc_client`; NULL gives `null`.
///
/// The handle forms dereference `c`, so they belong only in `unsafe
/// extern "C"` functions whose `# Safety` says that `c` is NULL or a live
/// handle no other thread is using. `body` is outside any `unsafe` block:
/// each pointer it reads takes a block, and a SAFETY comment, of its own.
/// (cbindgen does not expand macros, so the signatures stay written out.)
macro_rules! ffi_boundary {
    ($c:ident => |$h:ident| $body:expr) => {
        $crate::ffi::boundary::run(move || {
            let action = |$h: &mut $crate::ffi::handle::smtpc_client| -> ::std::result::Result<
                $crate::ffi::result::Done,
                $crate::ffi::result::Fail,
            > { $body };
            let handle: *mut $crate::ffi::handle::smtpc_client = $c;
            // SAFETY: used only in functions whose callers promise that
            // `c` is NULL or a live handle no other thread is using.
            unsafe { $crate::ffi::handle::act(handle, action) }
        })
    };
    ($c:ident or $null:expr => |$h:ident| $body:expr) => {
        $crate::ffi::boundary::run(move || {
            let handle: *const $crate::ffi::handle::smtpc_client = $c;
            // SAFETY: used only in functions whose callers promise that
            // `c` is NULL or a live handle no other thread is using.
            match unsafe { $crate::ffi::handle::borrow(handle) } {
                ::std::option::Option::Some($h) => $body,
                ::std::option::Option::None => $null,
            }
        })
    };
    ($($body:tt)*) => {
        $crate::ffi::boundary::run(move || { $($body)* })
    };
}

/// A connection to an SMTP server and its options (opaque).
///
/// Make one with `smtpc_client_new`, set options with the `smtpc_set_*`
/// functions, then `smtpc_connect`; send with `smtpc_send` or step by step
/// (`smtpc_mail`, `smtpc_rcpt`, `smtpc_data`); end with `smtpc_quit` and
/// `smtpc_client_free`. Options take effect at the next `smtpc_connect`;
/// `smtpc_client_reset` sets them all back to their defaults.
///
/// Threads: a handle may be used by one thread at a time (it may move
/// between threads between calls); different handles may be used in
/// parallel. The one exception is `smtpc_cancel`, which any thread may
/// call at any time while the handle is not being freed.
///
/// Strings: every `const char *` argument is a NUL-terminated UTF-8
/// string that smtpc only reads during the call (it keeps copies). Every
/// string smtpc returns belongs to the handle and stays valid until the
/// next call on the same handle other than the accessors
/// (`smtpc_reply_*`, `smtpc_error_message`, `smtpc_queue_id`,
/// `smtpc_rejected_*`, `smtpc_unknown_*`, `smtpc_batch_*`, `smtpc_is_connected`,
/// `smtpc_is_encrypted`, `smtpc_has_extension`), or
/// until `smtpc_client_free`; the caller never frees them.
///
/// Every function accepts NULL for any pointer and returns
/// `SMTPC_INVALID_ARGUMENT` (or 0, false, NULL for accessors) rather than
/// crash. A pointer that is not NULL must be valid: a handle must come
/// from `smtpc_client_new` and not be freed yet.
pub struct smtpc_client {
    /// Every option but the transcript; the host is "" until
    /// `smtpc_set_server`.
    pub(crate) config: Config,
    /// Not part of [`Config`]: a callback belongs to one connection.
    pub(crate) transcript: Option<Transcript>,
    /// `smtpc_set_quit_after_send`: each send ends the session.
    pub(crate) quit_after_send: bool,
    pub(crate) session: Option<Client>,
    pub(crate) outcome: Outcome,
    /// Cancels the connect and the session's calls: the same canceller as
    /// the [`Block`]'s, which `smtpc_cancel` uses.
    pub(crate) canceller: Canceller,
}

/// What `smtpc_client_new` allocates: the handle, and beside it the
/// canceller `smtpc_cancel` reads from another thread. The handle comes
/// first, so a pointer to the block is a pointer to the handle; and the
/// canceller lies outside the handle, so a thread that holds `&mut` to
/// the handle during a call never covers the memory `smtpc_cancel`
/// reads.
#[repr(C)]
struct Block {
    handle: smtpc_client,
    cancel: Canceller,
}

impl smtpc_client {
    fn new(canceller: Canceller) -> smtpc_client {
        smtpc_client {
            config: Config::default(),
            transcript: None,
            quit_after_send: false,
            session: None,
            outcome: Outcome::default(),
            canceller,
        }
    }

    /// A builder with the options set so far.
    pub(crate) fn builder(&self) -> Result<ClientBuilder, Fail> {
        // Said here, in C's terms, rather than by the builder.
        if self.config.host().is_empty() && self.config.unix_socket().is_none() {
            return Err(Fail::invalid(
                "no server: call smtpc_set_server (or smtpc_set_unix_socket) first",
            ));
        }
        let builder = ClientBuilder::from(self.config.clone()).with_canceller(&self.canceller);
        Ok(match self.transcript {
            Some(t) => builder.transcript(t.hook()),
            None => builder,
        })
    }

    /// The session, or `SMTPC_CLOSED` when there is none.
    pub(crate) fn session(&mut self) -> Result<&mut Client, Fail> {
        self.session.as_mut().ok_or_else(|| {
            Fail::Usage(
                smtpc_result::SMTPC_CLOSED,
                "not connected: call smtpc_connect first".into(),
            )
        })
    }

    /// Runs a send on the session: as it is, or, when each send is to end
    /// the session (`smtpc_set_quit_after_send`), taken from the handle
    /// for a send that ends it.
    pub(crate) fn deliver<T>(&mut self, send: impl FnOnce(Sending<'_>) -> T) -> Result<T, Fail> {
        self.session()?;
        match self.session.take() {
            Some(session) if self.quit_after_send => Ok(send(Sending::Last(session))),
            Some(mut session) => {
                let result = send(Sending::Going(&mut session));
                self.session = Some(session);
                Ok(result)
            }
            None => Err(Fail::invalid("not connected")),
        }
    }

    /// The session while it is open (not ended by QUIT, the server or an
    /// error).
    pub(crate) fn open_session(&self) -> Option<&Client> {
        self.session.as_ref().filter(|s| !s.is_closed())
    }
}

/// The session a send runs on (see [`smtpc_client::deliver`]).
// Made once per send and moved into it, never stored: its size is moot.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Sending<'s> {
    /// The session goes on after the send.
    Going(&'s mut Client),
    /// The send is the session's last.
    Last(Client),
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
        let layout = Layout::new::<Block>();
        // SAFETY: the layout is that of Block, which is not zero-sized.
        let p = unsafe { alloc(layout) }.cast::<Block>();
        if p.is_null() {
            return std::ptr::null_mut();
        }
        let cancel = Canceller::new();
        let block = Block {
            handle: smtpc_client::new(cancel.clone()),
            cancel,
        };
        // SAFETY: `p` is not NULL and was allocated by the global allocator
        // with Block's layout, so it is valid and aligned for this write,
        // and Box::from_raw may take it over in smtpc_client_free.
        unsafe { p.write(block) };
        // The handle is the block's first field (repr(C)): same address.
        p.cast::<smtpc_client>()
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
            // SAFETY: `c` points to a Block allocated in smtpc_client_new
            // with the global allocator and Block's layout, as
            // Box::from_raw requires, and the caller promises it was not
            // freed yet.
            drop(unsafe { Box::from_raw(c.cast::<Block>()) });
        }
    }
}

/// Sets every option back to its default, as in a new handle (like
/// `curl_easy_reset`): the server and port, the timeouts, the HELO name,
/// the TLS options, the credentials and AUTH mechanisms, and the
/// transcript callback. The outcome of the last call is cleared too.
///
/// An open session stays open and usable with the options it was opened
/// with, its transcript callback included (which it still calls); the
/// defaults take effect at the next `smtpc_connect`. To end the session
/// as well, call `smtpc_quit` first.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_client_reset(c: *mut smtpc_client) -> smtpc_result {
    ffi_boundary! { c => |h| {
        h.config = Config::default();
        h.transcript = None;
        h.quit_after_send = false;
        // Recording this success clears the last outcome.
        Ok(Done::Nothing)
    }}
}

/// Cancels the call in progress on `c` from another thread: it returns
/// `SMTPC_CANCELLED` promptly (a read, write or connect blocked on the
/// network returns at once, a name being resolved is abandoned within
/// about 10 ms). When no call is in progress, the next call on `c`
/// returns `SMTPC_CANCELLED` at once. Either way the session ends: the
/// connection is closed (`smtpc_connect` starts a new one). A message
/// whose content or end of data was under way is never reported as sent;
/// if its end had gone out and its reply was not read yet, the result is
/// `SMTPC_UNKNOWN` (the server may have taken it).
///
/// This is the one function that may be called while another thread is
/// inside a call on the same handle (and from a signal handler it is
/// not safe: it takes a lock). It returns at once, and does nothing for
/// NULL.
///
/// # Safety
/// `c` is NULL or a handle from `smtpc_client_new` that no thread frees
/// before this returns.
#[no_mangle]
pub unsafe extern "C" fn smtpc_cancel(c: *const smtpc_client) {
    ffi_boundary! {
        if c.is_null() {
            return;
        }
        let block = c.cast::<Block>();
        // SAFETY: `c` points to a live Block (smtpc_client_new returns the
        // address of one, whose first field is the handle). Only its
        // `cancel` field is read, through a raw place projection: memory
        // outside the handle, which the thread in a call may hold as
        // `&mut smtpc_client`; the Canceller is Sync and never written
        // after smtpc_client_new.
        let cancel: &Canceller = unsafe { &*std::ptr::addr_of!((*block).cancel) };
        cancel.cancel();
    }
}
