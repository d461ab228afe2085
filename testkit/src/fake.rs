//! A small SMTP server that answers whatever comes (not a fixed script),
//! with the limits real servers put on clients, each one switched on by a
//! setting: so many recipients per transaction (`452 4.5.3`), so many
//! messages per connection (then a 421, a `452 4.5.3` to MAIL as OpenSMTPD
//! says it, or a silent close), a connection closed while idle, a
//! connection closed (or a server that falls silent) after the end of a
//! given message. It keeps every message it took, with the connection it
//! came over, and counts connections.
//!
//! It is bounded like the scripted servers: it accepts for at most
//! `LIFETIME`, every read times out, and it stops when dropped.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::script::LIFETIME;

/// What the server does once a connection has taken its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// `421 4.7.0` to the next MAIL, then close.
    Close421,
    /// `452 4.5.3 Too many messages` to each further MAIL (OpenSMTPD).
    Refuse452,
    /// Close without a word when the next MAIL comes (the replies already
    /// due go first).
    Vanish,
}

/// What the server does after the end of one given message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterEnd {
    /// Store it and close without answering.
    Close,
    /// Store it and say nothing (the client times out).
    Silence,
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub pipelining: bool,
    pub chunking: bool,
    /// Recipients per transaction before `452 4.5.3`; with `old_552`, the
    /// old servers' `552 5.5.3` instead.
    pub max_recipients: Option<usize>,
    pub old_552: bool,
    /// Messages per connection, and what comes after.
    pub max_messages: Option<(usize, Spent)>,
    /// Close each connection after it has been idle this long.
    pub idle_close: Option<Duration>,
    /// After the end of message number N (counting from 1 over the whole
    /// server), do this.
    pub after_end: Option<(usize, AfterEnd)>,
    /// At most this many connections; later ones are refused (closed at
    /// once).
    pub max_connections: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pipelining: true,
            chunking: false,
            max_recipients: None,
            old_552: false,
            max_messages: None,
            idle_close: None,
            after_end: None,
            max_connections: 64,
        }
    }
}

/// A message the server took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The connection it came over, from 0.
    pub connection: usize,
    pub from: String,
    pub to: Vec<String>,
    /// The content as sent, dot-stuffing undone.
    pub content: Vec<u8>,
    pub queue_id: String,
}

#[derive(Debug, Default)]
struct State {
    stored: Vec<Stored>,
    connections: usize,
    /// Every command line, with its connection.
    commands: Vec<(usize, String)>,
    /// Writes of replies after the greeting: each one answers a group of
    /// commands the client then waited on, so their count is the
    /// session's round trips.
    writes: usize,
}

/// A running fake server on 127.0.0.1.
pub struct Fake {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Fake {
    pub fn start(settings: Settings) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        let handle = thread::spawn(move || serve(listener, settings, s, st));
        Fake {
            addr,
            state,
            stop,
            handle: Some(handle),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The messages taken so far.
    pub fn stored(&self) -> Vec<Stored> {
        self.state.lock().unwrap().stored.clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Writes of replies so far (greetings not counted): the round trips
    /// the client waited on.
    pub fn reply_writes(&self) -> usize {
        self.state.lock().unwrap().writes
    }

    /// Every command line received so far, with its connection.
    pub fn commands(&self) -> Vec<(usize, String)> {
        self.state.lock().unwrap().commands.clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn serve(
    listener: TcpListener,
    settings: Settings,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
) {
    let deadline = Instant::now() + LIFETIME;
    let mut sessions = Vec::new();
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                let n = {
                    let mut s = state.lock().unwrap();
                    s.connections += 1;
                    s.connections - 1
                };
                if n >= settings.max_connections {
                    drop(stream);
                    continue;
                }
                let (settings, state, stop) = (settings.clone(), state.clone(), stop.clone());
                sessions.push(thread::spawn(move || {
                    let _ = session(stream, n, &settings, &state, &stop);
                }));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(2))
            }
            Err(_) => break,
        }
    }
    stop.store(true, Ordering::Relaxed);
    for s in sessions {
        let _ = s.join();
    }
}

/// One connection, until QUIT, a close, the stop flag or LIFETIME.
fn session(
    stream: TcpStream,
    n: usize,
    settings: &Settings,
    state: &Mutex<State>,
    stop: &AtomicBool,
) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    // Short reads, so that the stop flag and idle closes are seen.
    stream.set_read_timeout(Some(Duration::from_millis(50)))?;
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let mut replies = String::new();
    let send = |out: &mut TcpStream, replies: &mut String| -> io::Result<()> {
        if !replies.is_empty() {
            out.write_all(replies.as_bytes())?;
            replies.clear();
            state.lock().unwrap().writes += 1;
        }
        Ok(())
    };
    out.write_all(b"220 fake.test ESMTP\r\n")?;
    let mut taken = 0; // messages taken on this connection
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    let mut content = Vec::new();
    let mut idle_since = Instant::now();
    let mut line = Vec::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        line.clear();
        match read_line(&mut input, &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {
                // Nothing more is coming for now: answer what came.
                send(&mut out, &mut replies)?;
                if settings
                    .idle_close
                    .is_some_and(|idle| idle_since.elapsed() >= idle)
                {
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        }
        idle_since = Instant::now();
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        state.lock().unwrap().commands.push((n, text.clone()));
        let upper = text.to_ascii_uppercase();
        let spent = settings
            .max_messages
            .filter(|(max, _)| taken >= *max)
            .map(|(_, how)| how);
        if upper.starts_with("EHLO") {
            replies.push_str("250-fake.test\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n");
            if settings.pipelining {
                replies.push_str("250-PIPELINING\r\n");
            }
            if settings.chunking {
                replies.push_str("250-CHUNKING\r\n");
            }
            replies.push_str("250 SIZE 100000000\r\n");
        } else if upper.starts_with("MAIL FROM:") {
            match spent {
                Some(Spent::Close421) => {
                    replies.push_str("421 4.7.0 fake.test Too many messages, closing\r\n");
                    send(&mut out, &mut replies)?;
                    // Read what the client pipelined before closing: a close
                    // with unread input would reset the connection and lose
                    // the replies on their way.
                    let _ = out.shutdown(std::net::Shutdown::Write);
                    let _ = io::copy(&mut input, &mut io::sink());
                    return Ok(());
                }
                Some(Spent::Vanish) => {
                    // What was answered goes; this MAIL never is.
                    send(&mut out, &mut replies)?;
                    return Ok(());
                }
                Some(Spent::Refuse452) => {
                    replies.push_str("452 4.5.3 Too many recipients: Too many messages sent\r\n");
                }
                None => {
                    from = Some(path(&text));
                    to.clear();
                    replies.push_str("250 2.1.0 Ok\r\n");
                }
            }
        } else if upper.starts_with("RCPT TO:") {
            if from.is_none() {
                replies.push_str("503 5.5.1 need MAIL\r\n");
            } else if settings.max_recipients.is_some_and(|max| to.len() >= max) {
                replies.push_str(if settings.old_552 {
                    "552 5.5.3 Too many recipients\r\n"
                } else {
                    "452 4.5.3 Too many recipients\r\n"
                });
            } else {
                to.push(path(&text));
                replies.push_str("250 2.1.5 Ok\r\n");
            }
        } else if upper == "DATA" {
            if from.is_none() || to.is_empty() {
                replies.push_str("503 5.5.1 no valid recipients\r\n");
                send(&mut out, &mut replies)?;
                continue;
            }
            replies.push_str("354 go ahead\r\n");
            send(&mut out, &mut replies)?;
            content.clear();
            if !read_data(&mut input, &mut content, stop)? {
                return Ok(());
            }
            if let Some(after) = end(
                n,
                &mut from,
                &mut to,
                &mut content,
                settings,
                state,
                &mut replies,
                &mut taken,
            ) {
                // The replies due before this message's go out; its own never.
                send(&mut out, &mut replies)?;
                if after == AfterEnd::Silence {
                    thread::sleep(Duration::from_secs(3));
                }
                return Ok(());
            }
        } else if upper.starts_with("BDAT ") {
            let mut words = text.split_whitespace().skip(1);
            let size: usize = words.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let last = words.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST"));
            let mut chunk = vec![0; size];
            if !read_exact(&mut input, &mut chunk, stop)? {
                return Ok(());
            }
            if from.is_none() || to.is_empty() {
                replies.push_str("503 5.5.1 no valid recipients\r\n");
                if input.buffer().is_empty() {
                    send(&mut out, &mut replies)?;
                }
                continue;
            }
            content.extend_from_slice(&chunk);
            if last {
                if let Some(after) = end(
                    n,
                    &mut from,
                    &mut to,
                    &mut content,
                    settings,
                    state,
                    &mut replies,
                    &mut taken,
                ) {
                    send(&mut out, &mut replies)?;
                    if after == AfterEnd::Silence {
                        thread::sleep(Duration::from_secs(3));
                    }
                    return Ok(());
                }
                content.clear();
            } else {
                replies.push_str(&format!("250 2.0.0 {size} octets received\r\n"));
            }
        } else if upper == "RSET" {
            from = None;
            to.clear();
            content.clear();
            replies.push_str("250 2.0.0 Ok\r\n");
        } else if upper == "NOOP" {
            replies.push_str("250 2.0.0 Ok\r\n");
        } else if upper == "QUIT" {
            replies.push_str("221 2.0.0 Bye\r\n");
            send(&mut out, &mut replies)?;
            return Ok(());
        } else {
            replies.push_str("502 5.5.2 not implemented\r\n");
        }
        // Every command already here is answered before the replies go,
        // in one write, as a pipelining server does.
        if !settings.pipelining || input.buffer().is_empty() {
            send(&mut out, &mut replies)?;
        }
    }
}

/// The end of a message: store it and queue its 250, or say what
/// `after_end` asks for instead (the connection then ends).
#[allow(clippy::too_many_arguments)]
fn end(
    n: usize,
    from: &mut Option<String>,
    to: &mut Vec<String>,
    content: &mut Vec<u8>,
    settings: &Settings,
    state: &Mutex<State>,
    replies: &mut String,
    taken: &mut usize,
) -> Option<AfterEnd> {
    let mut s = state.lock().unwrap();
    let number = s.stored.len() + 1;
    let queue_id = format!("F{number}");
    s.stored.push(Stored {
        connection: n,
        from: from.take().unwrap_or_default(),
        to: std::mem::take(to),
        content: std::mem::take(content),
        queue_id: queue_id.clone(),
    });
    drop(s);
    *taken += 1;
    match settings.after_end {
        Some((at, after)) if at == number => Some(after),
        _ => {
            replies.push_str(&format!("250 2.0.0 Ok: queued as {queue_id}\r\n"));
            None
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A line up to LF; partial lines survive read timeouts.
fn read_line(input: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> io::Result<usize> {
    loop {
        match input.read_until(b'\n', line) {
            Ok(0) => return Ok(line.len()),
            Ok(_) if line.ends_with(b"\n") => return Ok(line.len()),
            Ok(_) => continue,
            Err(e) if is_timeout(&e) && !line.is_empty() => continue,
            Err(e) => return Err(e),
        }
    }
}

/// DATA content up to the lone dot, dot-stuffing undone.
fn read_data(
    input: &mut BufReader<TcpStream>,
    content: &mut Vec<u8>,
    stop: &AtomicBool,
) -> io::Result<bool> {
    let mut line = Vec::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        line.clear();
        match read_line(input, &mut line) {
            Ok(0) => return Ok(false),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => continue,
            Err(e) => return Err(e),
        }
        if line == b".\r\n" {
            return Ok(true);
        }
        let body = line.strip_prefix(b".").unwrap_or(&line);
        content.extend_from_slice(body);
    }
}

fn read_exact(
    input: &mut BufReader<TcpStream>,
    buf: &mut [u8],
    stop: &AtomicBool,
) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        match input.read(&mut buf[got..]) {
            Ok(0) => return Ok(false),
            Ok(k) => got += k,
            Err(e) if is_timeout(&e) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// The path in `MAIL FROM:<path> ...` or `RCPT TO:<path> ...`.
fn path(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_owned()
}
