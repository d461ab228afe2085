//! The C callbacks: the transcript (every line of the exchange), the
//! reader that supplies message content for the streaming calls, and the
//! provider of the AUTH secret.

use std::ffi::{c_char, c_void};
use std::io;

use zeroize::Zeroizing;

use super::args::c_string;
use super::result::Fail;
use crate::auth::Secret;
use crate::transcript::Direction;

/// Which way a transcript line went.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum smtpc_direction {
    /// A line the client sent (secrets redacted).
    SMTPC_SENT = 0,
    /// A line the server sent.
    SMTPC_RECEIVED = 1,
    /// A note from smtpc, such as "connected to 192.0.2.1:25" or a summary
    /// of message content.
    SMTPC_INFO = 2,
}

impl From<Direction> for smtpc_direction {
    fn from(d: Direction) -> Self {
        match d {
            Direction::Sent => smtpc_direction::SMTPC_SENT,
            Direction::Received => smtpc_direction::SMTPC_RECEIVED,
            Direction::Info => smtpc_direction::SMTPC_INFO,
        }
    }
}

/// Sees every line of the exchange, without its CRLF. `line` is valid only
/// during the call. Message content is summarised, secrets never shown
/// (neither in the lines sent nor in a reply that echoes them). The
/// callback runs on the thread that made the call on the handle, also
/// during `smtpc_client_free` (for its QUIT). A call on the same handle
/// from inside it does nothing (`SMTPC_BUSY`, see `smtpc_client`); it
/// must return normally (no `longjmp`, no exception through smtpc).
pub type smtpc_transcript_fn = Option<
    unsafe extern "C" fn(direction: smtpc_direction, line: *const c_char, user_data: *mut c_void),
>;

/// Supplies message content: writes at most `len` bytes to `buf` and
/// returns how many it wrote; 0 at the end of the message; a negative
/// value on error (the message is then abandoned, nothing is reported as
/// sent, and the result is `SMTPC_IO`; see there whether the session
/// stays open). Any byte values may be written; line endings are made
/// CRLF and lines starting with "." dot-stuffed. It runs on the thread of
/// the call that sends the message; a call on the same handle from
/// inside it does nothing (`SMTPC_BUSY`, see `smtpc_client`), so nothing
/// can slip into the message; it must return normally (no `longjmp`, no
/// exception through smtpc).
pub type smtpc_read_fn =
    Option<unsafe extern "C" fn(buf: *mut c_void, len: usize, user_data: *mut c_void) -> isize>;

/// The size of the buffer a credentials callback writes the secret into:
/// a longer password or token cannot be given.
pub const SMTPC_SECRET_MAX: usize = 16384;

/// Supplies the secret (password or OAuth 2.0 token) for AUTH, see
/// `smtpc_set_credentials_callback`: writes it into `buf` (at most
/// `size` bytes, `SMTPC_SECRET_MAX`; UTF-8, no NUL needed) and returns
/// its length, or -1 (any negative value) when it cannot. `renew` is
/// false when AUTH first needs the secret, true when the server refused
/// the last one (refresh the token, fetch the password again). It runs
/// during `smtpc_connect`, on its thread; a call on the same handle from
/// inside it does nothing (`SMTPC_BUSY`, see `smtpc_client`); it must
/// return normally (no `longjmp`, no exception through smtpc). smtpc
/// zeroes `buf` after reading the secret, and wipes every copy it makes
/// of it when done; the caller's own copies are the caller's to wipe.
pub type smtpc_credentials_fn = Option<
    unsafe extern "C" fn(
        buf: *mut c_char,
        size: usize,
        renew: bool,
        user_data: *mut c_void,
    ) -> isize,
>;

/// A credentials callback with its user data.
pub(crate) struct Credentials {
    pub callback: unsafe extern "C" fn(*mut c_char, usize, bool, *mut c_void) -> isize,
    pub user_data: *mut c_void,
}

// SAFETY: as for `Transcript`: the callback runs on the thread calling
// into the handle, one at a time (the provider is behind a mutex), and
// the C contract makes `user_data` the caller's to keep usable there.
unsafe impl Send for Credentials {}

impl Credentials {
    /// The callback C gave, which must not be NULL.
    pub(crate) fn from_c(
        callback: smtpc_credentials_fn,
        user_data: *mut c_void,
    ) -> Result<Self, Fail> {
        let callback = callback.ok_or_else(|| Fail::invalid("the credentials callback is NULL"))?;
        Ok(Credentials {
            callback,
            user_data,
        })
    }

    /// Asks the callback for the secret. The messages never show it.
    pub(crate) fn call(&self, renew: bool) -> Result<Secret, String> {
        // Wiped when dropped, whatever the callback wrote.
        let mut buf = Zeroizing::new(vec![0u8; SMTPC_SECRET_MAX]);
        // SAFETY: `buf` is valid for `buf.len()` writable bytes for the
        // duration of the call; the callback was given by the C caller
        // for this signature, with `user_data` as its own context.
        let n =
            unsafe { (self.callback)(buf.as_mut_ptr().cast(), buf.len(), renew, self.user_data) };
        let result = match usize::try_from(n) {
            Err(_) => Err(format!("the credentials callback reported an error ({n})")),
            Ok(n) if n > buf.len() => Err(format!(
                "the credentials callback returned {n}, more than the {} bytes of its buffer",
                buf.len()
            )),
            Ok(n) if buf[..n].contains(&0) => {
                Err("the secret from the credentials callback contains a NUL byte".into())
            }
            Ok(n) => match std::str::from_utf8(&buf[..n]) {
                Ok(text) => Ok(Secret::new(text)),
                Err(_) => Err("the secret from the credentials callback is not UTF-8".into()),
            },
        };
        result
    }
}

/// A transcript callback with its user data.
#[derive(Clone, Copy)]
pub(crate) struct Transcript {
    pub callback: unsafe extern "C" fn(smtpc_direction, *const c_char, *mut c_void),
    pub user_data: *mut c_void,
}

// SAFETY: the hook runs on whichever thread is calling into the handle.
// The C contract (one thread at a time per handle, documented on
// smtpc_client) makes the C side responsible for `user_data` being usable
// from that thread; nothing here touches it but the callback.
unsafe impl Send for Transcript {}

impl Transcript {
    /// The transcript C asked for: none when `callback` is NULL.
    pub(crate) fn from_c(callback: smtpc_transcript_fn, user_data: *mut c_void) -> Option<Self> {
        callback.map(|callback| Transcript {
            callback,
            user_data,
        })
    }

    fn call(&self, direction: Direction, line: &str) {
        let line = c_string(line);
        // SAFETY: the callback was given by the C caller for exactly this
        // signature; `line` is a NUL-terminated string alive for the call.
        unsafe { (self.callback)(direction.into(), line.as_ptr(), self.user_data) }
    }

    /// The Rust transcript hook that calls this callback.
    pub(crate) fn hook(self) -> impl FnMut(Direction, &str) + Send + 'static {
        move |direction, line| self.call(direction, line)
    }
}

/// Message content read through a C callback.
pub(crate) struct Reader {
    pub callback: unsafe extern "C" fn(*mut c_void, usize, *mut c_void) -> isize,
    pub user_data: *mut c_void,
}

impl Reader {
    /// Message content read through `read`, which must not be NULL.
    pub(crate) fn new(read: smtpc_read_fn, user_data: *mut c_void) -> Result<Reader, Fail> {
        let callback = read.ok_or_else(|| Fail::invalid("the read callback is NULL"))?;
        Ok(Reader {
            callback,
            user_data,
        })
    }
}

impl io::Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` writable bytes for the
        // duration of the call; the callback was given by the C caller for
        // this signature, with `user_data` as its own context.
        let n = unsafe { (self.callback)(buf.as_mut_ptr().cast(), buf.len(), self.user_data) };
        match usize::try_from(n) {
            Ok(n) if n <= buf.len() => Ok(n),
            Ok(n) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the read callback returned {n}, more than the {} bytes asked for",
                    buf.len()
                ),
            )),
            Err(_) => Err(io::Error::other(format!(
                "the read callback reported an error ({n})"
            ))),
        }
    }
}
