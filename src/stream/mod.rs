//! The byte stream under a session: a TCP socket, a stream the caller
//! supplied, or TLS over either; and how it is set up ([`dial`]: names
//! [`resolve`]d, addresses connected by [`net`], through a [`socks`]
//! proxy), upgraded ([`handshake`]) and fed from a file ([`sendfile`]).
//!
//! Nothing here knows SMTP: the protocol's bytes are made elsewhere and
//! read through [`crate::connection::Connection`].

pub(crate) mod dial;
pub(crate) mod handshake;
pub(crate) mod net;
pub(crate) mod resolve;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) mod sendfile;
pub(crate) mod socks;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use native_tls::TlsStream;

/// A stream the caller supplies instead of a TCP connection (for tunnels,
/// tests and fuzzing). Timeouts are then the stream's own business.
pub trait Transport: Read + Write + Send {}
impl<T: Read + Write + Send> Transport for T {}

pub(crate) enum Stream {
    Tcp(TcpStream),
    Custom(Box<dyn Transport>),
    /// TLS over either of the above.
    Tls(Box<TlsStream<Stream>>),
    /// Nothing: the stream was closed or is being upgraded.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}

impl Stream {
    pub fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            // A zero timeout means "none" to the OS; never pass it.
            Stream::Tcp(s) => s.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))),
            Stream::Tls(s) => s.get_ref().set_read_timeout(timeout),
            Stream::Custom(_) | Stream::Gone => Ok(()),
        }
    }

    pub fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(Some(timeout.max(Duration::from_millis(1)))),
            Stream::Tls(s) => s.get_ref().set_write_timeout(timeout),
            Stream::Custom(_) | Stream::Gone => Ok(()),
        }
    }

    pub fn shutdown(&self) {
        match self {
            Stream::Tcp(s) => {
                let _ = s.shutdown(Shutdown::Both);
            }
            Stream::Tls(s) => s.get_ref().shutdown(),
            Stream::Custom(_) | Stream::Gone => {}
        }
    }

    /// Asks the kernel to acknowledge what arrives next at once, not ~40
    /// ms later: a server that does not set TCP_NODELAY holds the second
    /// write of a reply split in two until the first is acknowledged, and
    /// a client with nothing to send delays that ACK (Linux's
    /// TCP_QUICKACK; it clears itself, so it is set before each read).
    /// Best effort: false when the socket does not take it (a UNIX socket,
    /// another system), and there is no point asking again.
    pub fn quick_ack(&self) -> bool {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(tcp) = self.tcp() {
            return socket2::SockRef::from(tcp).set_tcp_quickack(true).is_ok();
        }
        false
    }

    /// Closes the sending side only (after QUIT): a server that waits for
    /// the client to go before it answers QUIT (Exim) answers at once, and
    /// the reply can still be read. Errors are of no consequence: the
    /// session is over either way.
    pub fn half_close(&self) {
        if let Some(tcp) = self.tcp() {
            let _ = tcp.shutdown(Shutdown::Write);
        }
    }

    /// Writes `buf` (or its start) saying that more follows at once
    /// (MSG_MORE over plain TCP on Linux: the kernel holds a partial
    /// segment for what comes next, so small commands before a body sent
    /// with `sendfile` do not go as a lone small segment). Anything but
    /// plain TCP writes as usual. The caller must write more right after.
    pub fn write_more(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Stream::Tcp(s) => {
                use nix::libc::{MSG_MORE, MSG_NOSIGNAL};
                socket2::SockRef::from(&*s).send_with_flags(buf, MSG_NOSIGNAL | MSG_MORE)
            }
            _ => self.write(buf),
        }
    }

    /// The TCP socket under this stream, if there is one.
    fn tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Tcp(s) => Some(s),
            Stream::Tls(s) => s.get_ref().tcp(),
            Stream::Custom(_) | Stream::Gone => None,
        }
    }

    /// Reads what has already arrived, without waiting: `None` when
    /// nothing has (or the stream cannot be read so: a caller's own), `0`
    /// at the end of the stream.
    pub fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let Some(tcp) = self.tcp() else {
            return Ok(None);
        };
        tcp.set_nonblocking(true)?;
        let result = self.read(buf);
        if let Some(tcp) = self.tcp() {
            tcp.set_nonblocking(false)?;
        }
        match result {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// RFC 5929 `tls-server-end-point` data: the hash of the server's
    /// certificate (SHA-256 for MD5 and SHA-1 signatures, otherwise the
    /// signature's own hash), as native-tls computes it.
    pub fn tls_server_end_point(&self) -> Option<Vec<u8>> {
        match self {
            Stream::Tls(s) => s.tls_server_end_point().ok().flatten(),
            _ => None,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Custom(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => Err(gone()),
        }
    }
}

impl Write for Stream {
    // Plain `write`: on Linux std sends with MSG_NOSIGNAL, so a closed peer
    // gives EPIPE instead of killing a C host with SIGPIPE. (`writev` would
    // not; never use write_vectored here.)
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Custom(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Gone => Err(gone()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Custom(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Gone => Err(gone()),
        }
    }
}
