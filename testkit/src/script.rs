//! Scripted loopback servers that play a fixed script of replies and
//! record every byte the client sent.
//!
//! Every server here is bounded: it accepts for at most `LIFETIME`, every
//! read times out, and its thread ends with the script.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a scripted server waits for a connection or a byte.
pub const LIFETIME: Duration = Duration::from_secs(20);

/// One step of a script.
#[derive(Debug, Clone)]
pub enum Act {
    /// Write these bytes as they are.
    Send(Vec<u8>),
    /// Write these bytes one at a time, pausing between them.
    Dribble(Vec<u8>, Duration),
    /// Read one line (up to LF).
    Line,
    /// Read message content up to and including the line `.` CRLF.
    Data,
    /// Read exactly this many bytes (BDAT content).
    Bytes(usize),
    /// Read whatever arrives until the client closes (or LIFETIME).
    Drain,
    /// Wait for the client to close its side (a half-close will do), as
    /// Exim does before it answers QUIT; if it does not within
    /// `LIFETIME`, the script ends there (the client gets no answer).
    AwaitClose,
    /// Wait.
    Sleep(Duration),
    /// Close the connection now.
    Close,
    /// Read one line and answer with what the function makes of it (the
    /// line without CRLF; the answer's lines get CRLF as with [`send`]).
    Respond(Responder),
    /// Run the server side of a TLS handshake (after a 220 to STARTTLS,
    /// or first thing for implicit TLS); the script goes on over TLS. A
    /// failed handshake ends the script.
    Tls(Arc<rustls::ServerConfig>),
}

/// A function that makes a reply from the line it answers.
#[derive(Clone)]
pub struct Responder(pub Arc<dyn Fn(&str) -> String + Send + Sync>);

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Responder(..)")
    }
}

/// Read a command line, answer with what `f` makes of it.
pub fn respond(f: impl Fn(&str) -> String + Send + Sync + 'static) -> Act {
    Act::Respond(Responder(Arc::new(f)))
}

/// A reply: `text` with CRLF added to each line.
pub fn send(text: &str) -> Act {
    let mut bytes = Vec::new();
    for line in text.split('\n') {
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    Act::Send(bytes)
}

/// Read a command line, answer with `reply`.
pub fn on_line(reply: &str) -> Vec<Act> {
    vec![Act::Line, send(reply)]
}

/// The greeting and a multiline EHLO reply offering `extensions`.
pub fn greet_ehlo(extensions: &[&str]) -> Vec<Act> {
    let mut ehlo = String::from("250-test.example Hello");
    for (i, e) in extensions.iter().enumerate() {
        let sep = if i + 1 == extensions.len() { ' ' } else { '-' };
        ehlo.push_str(&format!("\n250{sep}{e}"));
    }
    if extensions.is_empty() {
        ehlo = "250 test.example Hello".into();
    }
    vec![send("220 test.example ESMTP ready"), Act::Line, send(&ehlo)]
}

/// A whole successful transaction for `rcpts` recipients, sequential.
pub fn transaction(rcpts: usize) -> Vec<Act> {
    let mut s = on_line("250 2.1.0 Ok");
    for _ in 0..rcpts {
        s.extend(on_line("250 2.1.5 Ok"));
    }
    s.extend(on_line("354 End data with <CR><LF>.<CR><LF>"));
    s.push(Act::Data);
    s.push(send("250 2.0.0 Ok: queued as ABC123"));
    s
}

/// Read QUIT, answer 221.
pub fn quit() -> Vec<Act> {
    on_line("221 2.0.0 Bye")
}

/// Joins script pieces.
pub fn script(parts: impl IntoIterator<Item = Vec<Act>>) -> Vec<Act> {
    parts.into_iter().flatten().collect()
}

/// A scripted server on 127.0.0.1 for one connection.
pub struct Server {
    pub addr: SocketAddr,
    handle: JoinHandle<Vec<u8>>,
}

impl Server {
    pub fn start(script: Vec<Act>) -> Server {
        Self::start_on("127.0.0.1:0", script)
    }

    pub fn start_on(bind: &str, script: Vec<Act>) -> Server {
        Self::start_for(bind, script, LIFETIME)
    }

    /// A server that waits at most `wait` for its connection.
    pub fn start_for(bind: &str, script: Vec<Act>, wait: Duration) -> Server {
        let listener = TcpListener::bind(bind).expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || match accept(&listener, wait) {
            Some(stream) => play(stream, script),
            None => Vec::new(),
        });
        Server { addr, handle }
    }

    /// A server for as many connections as there are scripts, one after
    /// the other, each playing its script; `received` gives the bytes of
    /// all of them, in order.
    pub fn start_sessions(scripts: Vec<Vec<Act>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let mut all = Vec::new();
            for script in scripts {
                match accept(&listener, LIFETIME) {
                    Some(stream) => all.extend(play(stream, script)),
                    None => break,
                }
            }
            all
        });
        Server { addr, handle }
    }

    /// A server for one connection on a UNIX socket it creates at `path`
    /// (`addr` is then unused).
    pub fn start_unix(path: &std::path::Path, script: Vec<Act>) -> Server {
        use std::os::unix::net::UnixListener;
        let listener = UnixListener::bind(path).expect("bind unix socket");
        listener.set_nonblocking(true).expect("non-blocking");
        let handle = thread::spawn(move || {
            let deadline = Instant::now() + LIFETIME;
            while Instant::now() < deadline {
                match listener.accept() {
                    Ok((s, _)) => {
                        // The script speaks through a TcpStream: the same
                        // socket calls serve a UNIX stream socket.
                        let tcp = TcpStream::from(std::os::fd::OwnedFd::from(s));
                        let ready = tcp.set_nonblocking(false).is_ok()
                            && tcp.set_read_timeout(Some(LIFETIME)).is_ok()
                            && tcp.set_write_timeout(Some(LIFETIME)).is_ok();
                        return if ready { play(tcp, script) } else { Vec::new() };
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2))
                    }
                    Err(_) => break,
                }
            }
            Vec::new()
        });
        Server {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            handle,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Waits for the script to end; returns every byte the client sent.
    pub fn received(self) -> Vec<u8> {
        self.handle.join().expect("server thread panicked")
    }

    /// What the client sent, as text.
    pub fn text(self) -> String {
        String::from_utf8_lossy(&self.received()).into_owned()
    }
}

fn accept(listener: &TcpListener, wait: Duration) -> Option<TcpStream> {
    listener.set_nonblocking(true).ok()?;
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).ok()?;
                s.set_read_timeout(Some(LIFETIME)).ok()?;
                s.set_write_timeout(Some(LIFETIME)).ok()?;
                return Some(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(2))
            }
            Err(_) => return None,
        }
    }
    None
}

/// The server's end of a connection: plaintext or TLS, with a read
/// buffer of its own so that nothing is lost when TLS starts.
enum Wire {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    Gone,
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.read(buf),
            Wire::Tls(s) => s.read(buf),
            Wire::Gone => Ok(0),
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(s) => s.write(buf),
            Wire::Tls(s) => s.write(buf),
            Wire::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Wire::Plain(s) => s.flush(),
            Wire::Tls(s) => s.flush(),
            Wire::Gone => Ok(()),
        }
    }
}

struct Peer {
    wire: Wire,
    buf: Vec<u8>,
}

impl Peer {
    /// Moves the next line (up to LF) into `got`.
    fn read_line(&mut self, got: &mut Vec<u8>) -> bool {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                got.extend(self.buf.drain(..=nl));
                return true;
            }
            if !self.fill() {
                got.append(&mut self.buf);
                return false;
            }
        }
    }

    fn read_exact(&mut self, n: usize, got: &mut Vec<u8>) -> bool {
        while self.buf.len() < n {
            if !self.fill() {
                got.append(&mut self.buf);
                return false;
            }
        }
        got.extend(self.buf.drain(..n));
        true
    }

    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16384];
        match self.wire.read(&mut chunk) {
            Ok(n) if n > 0 => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    fn start_tls(&mut self, config: Arc<rustls::ServerConfig>) -> bool {
        let Wire::Plain(tcp) = std::mem::replace(&mut self.wire, Wire::Gone) else {
            return false;
        };
        let Ok(conn) = rustls::ServerConnection::new(config) else {
            return false;
        };
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            if tls.conn.complete_io(&mut tls.sock).is_err() {
                return false;
            }
        }
        self.wire = Wire::Tls(Box::new(tls));
        true
    }
}

fn play(stream: TcpStream, script: Vec<Act>) -> Vec<u8> {
    let mut peer = Peer {
        wire: Wire::Plain(stream),
        buf: Vec::new(),
    };
    let mut got = Vec::new();
    for act in script {
        let ok = match act {
            Act::Send(bytes) => peer
                .wire
                .write_all(&bytes)
                .and_then(|_| peer.wire.flush())
                .is_ok(),
            Act::Dribble(bytes, pause) => bytes.iter().all(|b| {
                thread::sleep(pause);
                peer.wire
                    .write_all(&[*b])
                    .and_then(|_| peer.wire.flush())
                    .is_ok()
            }),
            Act::Line => peer.read_line(&mut got),
            Act::Data => loop {
                let start = got.len();
                if !peer.read_line(&mut got) {
                    break false;
                }
                if &got[start..] == b".\r\n" {
                    break true;
                }
            },
            Act::Respond(Responder(f)) => {
                let start = got.len();
                peer.read_line(&mut got) && {
                    let line = String::from_utf8_lossy(&got[start..]);
                    let answer = f(line.trim_end_matches(['\r', '\n']));
                    match send(&answer) {
                        Act::Send(bytes) => peer
                            .wire
                            .write_all(&bytes)
                            .and_then(|_| peer.wire.flush())
                            .is_ok(),
                        _ => false,
                    }
                }
            }
            Act::Bytes(n) => peer.read_exact(n, &mut got),
            Act::Drain => {
                got.append(&mut peer.buf);
                let _ = peer.wire.read_to_end(&mut got);
                true
            }
            Act::AwaitClose => {
                got.append(&mut peer.buf);
                // Only the end counts: a timeout or an error (a TLS
                // stream cut without close_notify is that end too).
                let mut rest = Vec::new();
                let closed = match peer.wire.read_to_end(&mut rest) {
                    Ok(_) => true,
                    Err(e) => e.kind() == io::ErrorKind::UnexpectedEof,
                };
                got.append(&mut rest);
                closed
            }
            Act::Sleep(d) => {
                thread::sleep(d);
                true
            }
            Act::Close => break,
            Act::Tls(config) => peer.start_tls(config),
        };
        if !ok {
            break;
        }
    }
    got
}

/// The command lines in what a client sent (content included).
pub fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .split_inclusive("\r\n")
        .map(|l| l.trim_end_matches("\r\n").to_owned())
        .collect()
}

/// A server offering PIPELINING, CHUNKING and a SIZE limit that takes one
/// message in two BDAT chunks of `sizes` and queues it as `queue_id`.
pub fn two_chunks(sizes: [usize; 2], queue_id: &str) -> Vec<Act> {
    script([
        greet_ehlo(&["PIPELINING", "CHUNKING", "SIZE 100000000"]),
        vec![Act::Line, Act::Line],
        vec![
            Act::Line,
            Act::Bytes(sizes[0]),
            send("250 ok\n250 ok\n250 chunk"),
        ],
        vec![
            Act::Line,
            Act::Bytes(sizes[1]),
            send(&format!("250 2.0.0 queued as {queue_id}")),
        ],
        quit(),
    ])
}

/// A server offering PIPELINING and CHUNKING that reads the envelope and
/// the BDAT line, `taken` bytes of the chunk, and closes (the rest of the
/// chunk unread, so the client gets a reset).
pub fn closes_mid_chunk(taken: usize) -> Vec<Act> {
    script([
        greet_ehlo(&["PIPELINING", "CHUNKING"]),
        vec![Act::Line, Act::Line, Act::Line],
        vec![
            Act::Bytes(taken),
            Act::Sleep(Duration::from_millis(200)),
            Act::Close,
        ],
    ])
}
