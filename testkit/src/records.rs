//! A connection whose every write the server sees apart: a UNIX
//! `SOCK_SEQPACKET` socket pair, the client's end carried as a
//! `TcpStream` (the client's socket calls serve it; the TCP-only ones
//! fail, as they do over any UNIX socket). Each `write` or `send` of the
//! client is one record, read whole by [`Records::next_write`], and a
//! `shutdown(SHUT_WR)` of the client's is seen as the end (`None`), so a
//! test can pin how many writes a group of commands took and that QUIT
//! was followed by a half-close.
//!
//! Bounded like the scripted servers: every read and write of the
//! server's end times out after `LIFETIME`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::OwnedFd;

use socket2::{Domain, Socket, Type};

use crate::script::LIFETIME;

/// The largest record read (the client's writes in these tests are
/// smaller; a longer one would be cut, and the test would see it).
const RECORD: usize = 1 << 20;

/// The server's end of a record-preserving connection.
pub struct Records {
    socket: Socket,
}

impl Records {
    /// A connected pair: the server's end, and the client's as a
    /// `TcpStream` to hand to `connect_socket`.
    pub fn pair() -> (Records, TcpStream) {
        let (server, client) =
            Socket::pair(Domain::UNIX, Type::SEQPACKET, None).expect("seqpacket pair");
        server.set_read_timeout(Some(LIFETIME)).expect("timeout");
        server.set_write_timeout(Some(LIFETIME)).expect("timeout");
        // Large enough for a client's write of a small group and message.
        let _ = client.set_send_buffer_size(RECORD);
        let _ = server.set_recv_buffer_size(RECORD);
        (
            Records { socket: server },
            TcpStream::from(OwnedFd::from(client)),
        )
    }

    /// The client's next write, whole; `None` once the client closed its
    /// side; an error after `LIFETIME` without either.
    pub fn next_write(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; RECORD];
        let n = (&self.socket).read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some(buf))
    }

    /// Writes `text` with CRLF after each line, in one write.
    pub fn send(&mut self, text: &str) {
        let mut bytes = Vec::new();
        for line in text.split('\n') {
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        (&self.socket).write_all(&bytes).expect("write a reply");
    }
}
