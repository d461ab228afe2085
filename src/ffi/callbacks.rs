//! The C callbacks: the transcript (every line of the exchange) and the
//! reader that supplies message content for the streaming calls.

use std::ffi::{c_char, c_void};
use std::io;

use super::args::c_string;
use super::result::Fail;
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
/// during the call. Message content is summarised, secrets never shown.
/// The callback runs on the thread that made the call on the handle, and
/// must not call smtpc functions on that handle.
pub type smtpc_transcript_fn = Option<
    unsafe extern "C" fn(direction: smtpc_direction, line: *const c_char, user_data: *mut c_void),
>;

/// Supplies message content: writes at most `len` bytes to `buf` and
/// returns how many it wrote; 0 at the end of the message; a negative
/// value on error (the message is then abandoned, nothing is reported as
/// sent, and the result is `SMTPC_IO`). Any byte values may be written;
/// line endings are made CRLF and lines starting with "." dot-stuffed.
pub type smtpc_read_fn =
    Option<unsafe extern "C" fn(buf: *mut c_void, len: usize, user_data: *mut c_void) -> isize>;

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
