//! Heap allocations per message on the sending path, counted by a global
//! allocator on the sending thread only. A message costs what its result
//! holds (the final reply, the accepted recipients) and nothing more: the
//! commands, the replies that are only checked and the content go through
//! buffers the connection keeps.
//!
//! Counted as the difference between a long and a short run on fresh
//! clients, so that what a connection or a batch allocates once (buffers,
//! the result list) is left out.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read, Write};

use smtpc::{Client, Envelope, Message, Tls};

struct Counting;

thread_local! {
    /// Allocations made by this thread while `COUNTING` is on.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// thread-locals touched are const-initialised `Cell`s without destructors,
// so reading them never allocates or re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn note() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn count(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

/// A fake server in the transport itself: what the client writes is
/// parsed as it comes and answered as a plain ESMTP server would, so that
/// replies are due exactly when the client expects them. Its own work is
/// not counted (it runs on the client's thread, inside its writes).
struct Responder {
    extensions: &'static str,
    output: Vec<u8>,
    at: usize,
    line: Vec<u8>,
    mode: Mode,
}

enum Mode {
    Commands,
    /// In DATA content, until the lone dot.
    Data,
    /// In a BDAT chunk: this many octets to skip, and whether it is LAST.
    Chunk(usize, bool),
}

impl Responder {
    fn new(extensions: &'static str) -> Responder {
        let mut output = Vec::with_capacity(1 << 20);
        output.extend_from_slice(b"220 mem.test ESMTP\r\n");
        Responder {
            extensions,
            output,
            at: 0,
            line: Vec::with_capacity(1024),
            mode: Mode::Commands,
        }
    }

    fn reply(&mut self, text: &str) {
        if self.at == self.output.len() {
            self.output.clear();
            self.at = 0;
        }
        self.output.extend_from_slice(text.as_bytes());
        self.output.extend_from_slice(b"\r\n");
    }

    fn take(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if let Mode::Chunk(left, last) = self.mode {
                let n = left.min(bytes.len());
                bytes = &bytes[n..];
                self.mode = Mode::Chunk(left - n, last);
                if left == n {
                    self.mode = Mode::Commands;
                    self.reply(if last { QUEUED } else { "250 2.0.0 chunk ok" });
                }
                continue;
            }
            let Some(nl) = bytes.iter().position(|&b| b == b'\n') else {
                self.line.extend_from_slice(bytes);
                return;
            };
            self.line.extend_from_slice(&bytes[..=nl]);
            bytes = &bytes[nl + 1..];
            let line = std::mem::take(&mut self.line);
            self.command(&line);
            self.line = line;
            self.line.clear();
        }
    }

    fn command(&mut self, line: &[u8]) {
        let line = std::str::from_utf8(line).unwrap().trim_end();
        if let Mode::Data = self.mode {
            if line == "." {
                self.mode = Mode::Commands;
                self.reply(QUEUED);
            }
            return;
        }
        let verb = line.split(' ').next().unwrap().to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                let ehlo = format!("250-mem.test\r\n{}250 ENHANCEDSTATUSCODES", self.extensions);
                self.reply(&ehlo);
            }
            "MAIL" => self.reply("250 2.1.0 Ok"),
            "RCPT" => self.reply("250 2.1.5 Ok"),
            "RSET" => self.reply("250 2.0.0 Ok"),
            "DATA" => {
                self.mode = Mode::Data;
                self.reply("354 End data with <CR><LF>.<CR><LF>");
            }
            "BDAT" => {
                let mut words = line.split(' ').skip(1);
                let size = words.next().unwrap().parse().unwrap();
                let last = words.next() == Some("LAST");
                self.mode = Mode::Chunk(size, last);
                if size == 0 {
                    self.mode = Mode::Commands;
                    self.reply(if last { QUEUED } else { "250 2.0.0 chunk ok" });
                }
            }
            "QUIT" => self.reply("221 2.0.0 Bye"),
            _ => self.reply("500 5.5.2 what?"),
        }
    }
}

const QUEUED: &str = "250 2.0.0 Ok: queued as 4AbC12";

impl Read for Responder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.output.len() - self.at).min(buf.len());
        buf[..n].copy_from_slice(&self.output[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Responder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let counting = COUNTING.with(|c| c.replace(false));
        self.take(buf);
        COUNTING.with(|c| c.set(counting));
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const PIPELINING: &str = "250-PIPELINING\r\n";
const CHUNKING: &str = "250-PIPELINING\r\n250-CHUNKING\r\n";

/// A client of a server that offers `extensions`.
fn client(extensions: &'static str) -> Client {
    Client::builder("mem.test")
        .helo_name("c.test")
        .tls(Tls::None)
        .connect_stream(Responder::new(extensions))
        .unwrap()
}

fn envelope() -> Envelope {
    Envelope::new("sender@client.test", ["rcpt@server.test"]).unwrap()
}

fn body() -> Vec<u8> {
    let mut b = b"Subject: allocation count\r\n\r\n".to_vec();
    while b.len() < 1024 {
        b.extend_from_slice(b"a line of ordinary text, and\r\n.a line with a dot\r\n");
    }
    b
}

/// Allocations per message of `send` over `n` messages, as the difference
/// between runs of 150 and 50.
fn per_message(extensions: &'static str, send: impl Fn(&mut Client, usize)) -> f64 {
    let run = |n: usize| {
        let mut c = client(extensions);
        let allocations = count(|| send(&mut c, n));
        c.quit().unwrap();
        allocations
    };
    let (short, long) = (run(50), run(150));
    (long as f64 - short as f64) / 100.0
}

fn batch(c: &mut Client, n: usize, message: &Message<'_>) {
    let env = envelope();
    let results = c.send_batch((0..n).map(|_| (&env, message)));
    assert_eq!(results.len(), n);
    for r in results {
        assert_eq!(r.unwrap().queue_id(), Some("4AbC12"));
    }
}

fn one_at_a_time(c: &mut Client, n: usize, message: &Message<'_>) {
    let env = envelope();
    for _ in 0..n {
        let d = c.send_message(&env, message).unwrap();
        assert_eq!(d.accepted, ["rcpt@server.test"]);
    }
}

/// What a delivery holds: the final reply's line list and its one line,
/// the accepted list and its one address.
const DELIVERY: f64 = 4.0;

#[test]
fn a_batch_over_pipelining_allocates_only_its_results() {
    let body = body();
    let message = Message::new(&body);
    let a = per_message(PIPELINING, |c, n| batch(c, n, &message));
    assert!(a <= DELIVERY, "{a} allocations per message");
}

#[test]
fn a_batch_over_chunking_allocates_only_its_results() {
    let body = body();
    let message = Message::new(&body);
    let a = per_message(CHUNKING, |c, n| batch(c, n, &message));
    // And the name of the `BDAT n LAST` that the final reply answered.
    assert!(a <= DELIVERY + 1.0, "{a} allocations per message");
}

#[test]
fn a_batch_of_plain_bytes_allocates_only_its_results() {
    let body = body();
    let env = envelope();
    let a = per_message(PIPELINING, |c, n| {
        let results = c.send_batch((0..n).map(|_| (&env, body.as_slice())));
        assert!(results.iter().all(Result::is_ok));
    });
    assert!(a <= DELIVERY, "{a} allocations per message");
}

#[test]
fn single_sends_allocate_only_their_results() {
    let body = body();
    let message = Message::new(&body);
    let data = per_message(PIPELINING, |c, n| one_at_a_time(c, n, &message));
    assert!(data <= DELIVERY, "{data} allocations per message (DATA)");
    // Over BDAT, the final reply also keeps the name of the `BDAT n LAST`
    // it answered.
    let bdat = per_message(CHUNKING, |c, n| one_at_a_time(c, n, &message));
    assert!(
        bdat <= DELIVERY + 1.0,
        "{bdat} allocations per message (BDAT)"
    );
}

#[test]
fn streamed_sends_allocate_only_their_results() {
    let body = body();
    let env = envelope();
    let a = per_message(PIPELINING, |c, n| {
        for _ in 0..n {
            let d = c.send(&env, body.as_slice()).unwrap();
            assert_eq!(d.queue_id(), Some("4AbC12"));
        }
    });
    assert!(a <= DELIVERY, "{a} allocations per message");
}

#[test]
fn a_streamed_body_larger_than_a_block_allocates_only_its_result() {
    // Over 256 KiB: read and sent block by block, in BDAT chunks.
    let mut body = Vec::new();
    while body.len() < 260 * 1024 {
        body.extend_from_slice(b"a line of ordinary text, and\r\n.a line with a dot\n");
    }
    let env = envelope();
    for (ext, most) in [(PIPELINING, DELIVERY), (CHUNKING, DELIVERY + 1.0)] {
        let a = per_message(ext, |c, n| {
            for _ in 0..n {
                c.send(&env, body.as_slice()).unwrap();
            }
        });
        assert!(a <= most, "{a} allocations per message with {ext:?}");
    }
}
