//! The handle: its options (a [`Config`] and the transcript callback),
//! the session once connected, and the outcome of the last call; the
//! `ffi_boundary!` macro every `extern "C"` function runs in; and the
//! handle's life: new, reset, free.

use std::alloc::{alloc, Layout};
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};

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
///   accessor): `body` gets `h: &smtpc_client`; NULL gives `null`, and
///   so does a handle with a call in progress (an accessor called from a
///   callback), unless a form with `, busy value` gives another value
///   for that.
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
        ffi_boundary! { $c or $null, busy $null => |$h| $body }
    };
    ($c:ident or $null:expr, busy $busy:expr => |$h:ident| $body:expr) => {
        $crate::ffi::boundary::run(move || {
            let handle: *const $crate::ffi::handle::smtpc_client = $c;
            // SAFETY: used only in functions whose callers promise that
            // `c` is NULL or a live handle no other thread is using.
            match unsafe { $crate::ffi::handle::borrow(handle) } {
                $crate::ffi::handle::Borrowed::Idle($h) => $body,
                $crate::ffi::handle::Borrowed::Null => $null,
                $crate::ffi::handle::Borrowed::Busy => $busy,
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
/// Callbacks (transcript, read, credentials) run during a call on the
/// handle, on the calling thread. From inside one, a call on the same
/// handle does nothing and does not disturb the call in progress:
/// actions and setters (and `smtpc_client_reset`) return `SMTPC_BUSY`;
/// accessors return what they return for a NULL handle (0, NULL, false,
/// "" from `smtpc_reply_text`; `smtpc_batch_result` gives `SMTPC_BUSY`
/// and `smtpc_error_message` a static text that says the handle is
/// busy); `smtpc_client_free` is deferred until the call returns;
/// `smtpc_cancel` works. Other handles may be used freely. A callback
/// must return to smtpc: it must not `longjmp` out of it, nor let a C++
/// exception (or any other unwinding) pass through smtpc's frames,
/// which would leave the handle taken and its memory in an unknown
/// state.
///
/// Strings: every `const char *` argument is a NUL-terminated UTF-8
/// string that smtpc only reads during the call (it keeps copies). Every
/// string smtpc returns belongs to the handle and stays valid until the
/// next call on the same handle other than the accessors
/// (`smtpc_reply_*`, `smtpc_error_message`, `smtpc_queue_id`,
/// `smtpc_rejected_*`, `smtpc_accepted_*`, `smtpc_unknown_*`,
/// `smtpc_batch_*`, `smtpc_is_connected`, `smtpc_is_encrypted`,
/// `smtpc_has_extension`), or until `smtpc_client_free`; the caller never
/// frees them.
///
/// Secrets: the password or token given to `smtpc_set_credentials` (or
/// by the credentials callback) is copied, and every copy smtpc makes of
/// it, and of the AUTH responses made of it, is zeroed when no longer
/// needed, at the latest by `smtpc_client_free`. Not covered: the
/// caller's own copies, and the TLS library's buffers for the records
/// that carried AUTH.
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

/// What `smtpc_client_new` allocates: the handle, and beside it what
/// may be read while a call holds the handle as `&mut`: the canceller
/// `smtpc_cancel` reads from another thread, and the state that tells a
/// call made from inside a callback that the handle is taken. The
/// handle comes first, so a pointer to the block is a pointer to the
/// handle; the other fields lie outside it, so reading them never
/// overlaps the borrow of the call in progress.
#[repr(C)]
struct Block {
    /// Dropped by hand in [`destroy`], while `state` says the handle is
    /// taken, so that callbacks run by that drop (the transcript of
    /// QUIT) find it busy.
    handle: ManuallyDrop<smtpc_client>,
    cancel: Canceller,
    /// [`IDLE`], or [`TAKEN`] with perhaps [`FREE_PENDING`].
    state: AtomicU8,
}

/// No call is in progress on the handle.
const IDLE: u8 = 0;
/// A call (or the handle's free) holds the handle.
const TAKEN: u8 = 1;
/// `smtpc_client_free` was called during the call: the call frees the
/// handle when it ends.
const FREE_PENDING: u8 = 2;

/// The state of the block whose handle is at `c`.
///
/// # Safety
/// `c` is a live handle from `smtpc_client_new` (not NULL), and stays
/// live for `'a`.
unsafe fn state<'a>(c: *const smtpc_client) -> &'a AtomicU8 {
    let block = c.cast::<Block>();
    // SAFETY: the caller's promise: `c` is the address of a live Block
    // (its first field is the handle). Only the `state` field is
    // borrowed, which lies outside the handle that a call in progress
    // may hold as `&mut`; atomics are written through `&`.
    unsafe { &(*block).state }
}

/// The handle taken for one call; given back by [`Call::leave`] (or,
/// if the call unwinds past it, by its `Drop`).
struct Call<'a>(&'a AtomicU8);

impl<'a> Call<'a> {
    /// Takes the handle, or None when a call already holds it.
    fn enter(state: &'a AtomicU8) -> Option<Call<'a>> {
        state
            .compare_exchange(IDLE, TAKEN, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Call(state))
    }

    /// Gives the handle back; true when it is to be freed now.
    fn leave(self) -> bool {
        let before = self.0.swap(IDLE, Ordering::Release);
        std::mem::forget(self);
        before & FREE_PENDING != 0
    }
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        self.0.store(IDLE, Ordering::Release);
    }
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

/// What [`borrow`] found behind a pointer.
pub(crate) enum Borrowed<'a> {
    /// NULL.
    Null,
    /// A handle that a call holds: this is a call made from inside one
    /// of its callbacks (or, against the rules, from another thread).
    Busy,
    /// A handle no call holds.
    Idle(&'a smtpc_client),
}

/// Borrows the handle behind `c` for an accessor, unless a call holds
/// it: the accessor then gets nothing, so it never reads what the call
/// is changing.
///
/// # Safety
/// `c` is NULL or a handle from `smtpc_client_new`, not yet freed, and not
/// used by another thread for `'a`.
pub(crate) unsafe fn borrow<'a>(c: *const smtpc_client) -> Borrowed<'a> {
    if c.is_null() {
        return Borrowed::Null;
    }
    // SAFETY: the caller's promise: `c` is a live handle.
    let state = unsafe { state(c) };
    if state.load(Ordering::Acquire) != IDLE {
        return Borrowed::Busy;
    }
    // SAFETY: the caller's promise: a live handle; no call holds it (the
    // state is IDLE, and only a call on this thread could take it while
    // the accessor runs), so no `&mut` to it is alive.
    Borrowed::Idle(unsafe { &*c })
}

/// Runs `action` on the handle behind `c` and records its outcome there.
/// NULL is `SMTPC_INVALID_ARGUMENT`; a handle that a call already holds
/// (a call from inside a callback) is `SMTPC_BUSY`, and nothing of it is
/// touched. A panic inside drops the session (its state is unknown) and
/// is recorded as `SMTPC_PANIC`. When `smtpc_client_free` was called
/// during the action, the handle is freed once the outcome is recorded.
///
/// # Safety
/// As for [`borrow`].
pub(crate) unsafe fn act(
    c: *mut smtpc_client,
    action: impl FnOnce(&mut smtpc_client) -> Result<Done, Fail>,
) -> smtpc_result {
    if c.is_null() {
        return smtpc_result::SMTPC_INVALID_ARGUMENT;
    }
    // SAFETY: the caller's promise: `c` is a live handle.
    let state = unsafe { state(c) };
    let Some(call) = Call::enter(state) else {
        return smtpc_result::SMTPC_BUSY;
    };
    // SAFETY: the caller's promise: a live handle. This call took it
    // (the state was IDLE), so nothing else references it until
    // `call.leave()`: calls made meanwhile from callbacks get
    // SMTPC_BUSY without touching it.
    let handle = unsafe { &mut *c };
    let result = match catch_unwind(AssertUnwindSafe(|| action(handle))) {
        Ok(step) => handle.outcome.record(step),
        Err(_) => {
            // Dropping a session says QUIT, which could panic in turn.
            if let Some(session) = handle.session.take() {
                let _ = catch_unwind(AssertUnwindSafe(|| drop(session)));
            }
            handle.outcome.panicked()
        }
    };
    if call.leave() {
        // SAFETY: `c` is live, no reference to the handle is left (the
        // borrow above ended), and its free was deferred to this point.
        unsafe { destroy(c) };
    }
    result
}

/// Drops the handle and frees its block. The handle is marked taken
/// while it is dropped: a callback that runs meanwhile (the transcript
/// of QUIT) and calls into it gets `SMTPC_BUSY`, and one that frees it
/// changes nothing.
///
/// # Safety
/// `c` is a live handle from `smtpc_client_new`, which no reference
/// covers, and which is not used again.
unsafe fn destroy(c: *mut smtpc_client) {
    let block = c.cast::<Block>();
    // SAFETY: `c` is live (the caller's promise).
    unsafe { state(c) }.store(TAKEN, Ordering::Release);
    // SAFETY: `block` is the live Block at `c`; only its handle field is
    // borrowed, and nothing else references it (the caller's promise).
    let handle = unsafe { &mut (*block).handle };
    // SAFETY: the handle is dropped once: here, and never again (the
    // Block's own drop below leaves a ManuallyDrop alone).
    unsafe { ManuallyDrop::drop(handle) };
    // SAFETY: the block was allocated in smtpc_client_new by the global
    // allocator with Block's layout, as Box::from_raw requires, and is
    // freed once.
    drop(unsafe { Box::from_raw(block) });
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
            handle: ManuallyDrop::new(smtpc_client::new(cancel.clone())),
            cancel,
            state: AtomicU8::new(IDLE),
        };
        // SAFETY: `p` is not NULL and was allocated by the global allocator
        // with Block's layout, so it is valid and aligned for this write,
        // and Box::from_raw may take it over in `destroy`.
        unsafe { p.write(block) };
        // The handle is the block's first field (repr(C), and ManuallyDrop
        // is transparent): same address.
        p.cast::<smtpc_client>()
    }
}

/// Frees a handle and everything it owns (strings returned by accessors
/// included). An open session is ended with QUIT, without waiting for the
/// reply; the transcript callback, if one is set, sees that QUIT, so its
/// `user_data` must still be valid here. NULL is a no-op. The handle must
/// not be used afterwards.
///
/// Called from a callback (transcript, read or credentials) during a call
/// on the same handle, the free is deferred: the handle is freed when
/// that call returns, after it recorded its result, which it returns as
/// usual; neither the handle nor its strings may be used after that.
///
/// # Safety
/// `c` is NULL or a handle from `smtpc_client_new` that was not freed yet.
#[no_mangle]
pub unsafe extern "C" fn smtpc_client_free(c: *mut smtpc_client) {
    ffi_boundary! {
        if c.is_null() {
            return;
        }
        // SAFETY: the caller's promise: `c` is a live handle.
        let state = unsafe { state(c) };
        match Call::enter(state) {
            Some(call) => {
                std::mem::forget(call);
                // SAFETY: `c` is live and no call holds it (it was IDLE),
                // so nothing references it; the caller will not use it
                // again.
                unsafe { destroy(c) };
            }
            // A call holds it (this is one of its callbacks): that call
            // frees it on its way out. A second free meanwhile, or one
            // during `destroy`, only sets the flag again.
            None => {
                state.fetch_or(FREE_PENDING, Ordering::AcqRel);
            }
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
        // `cancel` field is borrowed: memory outside the handle, which the
        // thread in a call may hold as `&mut smtpc_client`; the Canceller
        // is Sync and never written after smtpc_client_new.
        let cancel: &Canceller = unsafe { &(*block).cancel };
        cancel.cancel();
    }
}
