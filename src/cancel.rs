//! Cancelling a call from another thread: a flag the session checks
//! between waits, and the sockets it waits on, which a cancel shuts down
//! so that a blocked read, write or connect returns at once.

use std::fmt;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A handle that cancels the call in progress on a [`Client`](crate::Client)
/// (or on the connect of a [`ClientBuilder`](crate::ClientBuilder)) from
/// any thread. Cheap to clone; `Send + Sync`.
///
/// [`cancel`](Canceller::cancel) makes the call in progress return
/// [`Error::Cancelled`](crate::Error::Cancelled) promptly; when no call is
/// in progress, the next call returns it at once. Either way the
/// connection is closed: every later call on that client says
/// `Cancelled`, and a new session needs a new connect. A message whose
/// content or end of data was under way is never reported as sent; when
/// its end had gone out (the reply not read yet), its error is
/// [`Error::OutcomeUnknown`](crate::Error::OutcomeUnknown) around the
/// `Cancelled`: the server may have taken it.
///
/// How promptly: over TCP (and TLS over TCP) the socket is shut down, so
/// a blocked read, write, connect or TLS handshake returns at once; a
/// name still being resolved is abandoned within about 10 ms. Over a
/// stream of your own ([`ClientBuilder::connect_stream`](crate::ClientBuilder::connect_stream))
/// the cancel takes effect when the stream's read or write returns.
///
/// One canceller serves one client at a time (a client's own, or one
/// lent with [`ClientBuilder::with_canceller`](crate::ClientBuilder::with_canceller)
/// to each connection in turn).
///
/// ```no_run
/// use std::time::Duration;
/// let builder = smtpc::Client::builder("mail.example.org");
/// let canceller = builder.canceller();
/// std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_secs(5));
///     canceller.cancel();
/// });
/// match builder.connect() {
///     Err(smtpc::Error::Cancelled { .. }) => eprintln!("gave up"),
///     other => println!("{other:?}"),
/// }
/// ```
#[derive(Clone, Default)]
pub struct Canceller(Arc<Shared>);

#[derive(Default)]
struct Shared {
    /// A cancel was asked for and no call has taken it yet.
    requested: AtomicBool,
    /// Copies of the sockets being waited on (the same sockets: shutting
    /// a copy down shuts the socket down), each with its watch's number.
    sockets: Mutex<Vec<(u64, TcpStream)>>,
    next_id: AtomicU64,
}

/// A socket watched by a canceller, until this is dropped.
pub(crate) struct Watched {
    canceller: Canceller,
    id: u64,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.canceller.sockets().retain(|(id, _)| *id != self.id);
    }
}

impl fmt::Debug for Watched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watched").field("id", &self.id).finish()
    }
}

impl fmt::Debug for Canceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Canceller")
            .field("requested", &self.0.requested.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Canceller {
    /// A canceller of its own, for
    /// [`ClientBuilder::with_canceller`](crate::ClientBuilder::with_canceller).
    pub fn new() -> Canceller {
        Canceller::default()
    }

    /// Cancels the call in progress, or the next call when none is.
    /// Returns at once; safe from any thread, any number of times.
    pub fn cancel(&self) {
        let sockets = self.sockets();
        self.0.requested.store(true, Ordering::SeqCst);
        for (_, s) in sockets.iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Whether a cancel is pending: asked for and not yet taken by a call.
    pub fn is_pending(&self) -> bool {
        self.0.requested.load(Ordering::SeqCst)
    }

    /// Takes a pending cancel: true once per [`cancel`](Self::cancel).
    pub(crate) fn take(&self) -> bool {
        if !self.is_pending() {
            return false;
        }
        let _sockets = self.sockets();
        self.0.requested.swap(false, Ordering::SeqCst)
    }

    /// Watches `socket` until the guard is dropped: a cancel shuts it
    /// down (at once, when one is pending).
    pub(crate) fn watch(&self, socket: &TcpStream) -> io::Result<Watched> {
        let copy = socket.try_clone()?;
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let mut sockets = self.sockets();
        if self.0.requested.load(Ordering::SeqCst) {
            let _ = copy.shutdown(Shutdown::Both);
        }
        sockets.push((id, copy));
        Ok(Watched {
            canceller: self.clone(),
            id,
        })
    }

    fn sockets(&self) -> MutexGuard<'_, Vec<(u64, TcpStream)>> {
        // A panic while the lock was held left nothing half done.
        self.0.sockets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    #[test]
    fn a_cancel_is_taken_once() {
        let c = Canceller::new();
        assert!(!c.take());
        c.cancel();
        assert!(c.is_pending());
        assert!(c.clone().take());
        assert!(!c.take());
    }

    #[test]
    fn a_cancel_wakes_a_blocked_read() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let _server = listener.accept().unwrap();
        let c = Canceller::new();
        let watched = c.watch(&client).unwrap();
        let remote = c.clone();
        let t = std::thread::spawn(move || remote.cancel());
        // The server never writes: only the cancel ends this read.
        let n = client.read(&mut [0; 16]).unwrap_or(0);
        assert_eq!(n, 0);
        t.join().unwrap();
        assert!(c.take());
        drop(watched);
        assert!(c.sockets().is_empty());
    }
}
