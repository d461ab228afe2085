//! Sends one message N times and prints msgs/s and MB/s.
//!
//! ```sh
//! cargo run --release --example bench -- --server HOST:PORT --count N --message FILE [--connections-per-message]
//! ```
//!
//! Over one connection (or one connection per message) without TLS,
//! through the fastest path the library offers: the message is prepared
//! once (checked and normalised once, so each send only writes) and sent
//! with `send_batch` (the end of one message and the next envelope in one
//! write; with CHUNKING several messages per write). A file up to 16 MiB
//! is read into a `Message`; a larger one becomes a `MessageFile`, sent
//! from the file each time in constant memory (with CHUNKING, straight
//! from the file to the socket). With `--stream` the file is instead
//! opened and streamed through `send` for each message, which is what a
//! message that is sent once costs. Every reply is checked:
//! any failure prints it and exits with status 1. MB are 10^6 bytes of
//! the file, per second of wall time from connect to QUIT.
//! `--one-at-a-time` sends each message with its own `send_message` call
//! instead (to count the round trips of a single send).

use std::fs::File;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use smtpc::{Client, Content, Envelope, Error, Message, MessageFile, Tls};

/// Larger messages are streamed from the file rather than held in memory.
const IN_MEMORY_LIMIT: u64 = 16 << 20;

struct Args {
    host: String,
    port: u16,
    count: usize,
    message: String,
    per_message: bool,
    /// `send_message` per message instead of one batch (to count the round
    /// trips of a single send).
    one_at_a_time: bool,
    /// Stream the file for each message, whatever its size.
    stream: bool,
}

const USAGE: &str = "usage: bench --server HOST:PORT --count N --message FILE \
     [--connections-per-message] [--one-at-a-time] [--stream]";

fn args() -> Result<Args, String> {
    let mut server = None;
    let mut count = None;
    let mut message = None;
    let mut per_message = false;
    let mut one_at_a_time = false;
    let mut stream = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--server" => server = it.next(),
            "--count" => count = it.next(),
            "--message" => message = it.next(),
            "--connections-per-message" => per_message = true,
            "--one-at-a-time" => one_at_a_time = true,
            "--stream" => stream = true,
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let server = server.ok_or(USAGE)?;
    let (host, port) = server
        .rsplit_once(':')
        .ok_or_else(|| format!("--server wants HOST:PORT, got {server}"))?;
    Ok(Args {
        host: host.to_owned(),
        port: port.parse().map_err(|_| format!("bad port in {server}"))?,
        count: count
            .ok_or(USAGE)?
            .parse()
            .map_err(|_| "--count wants a number")?,
        message: message.ok_or(USAGE)?,
        per_message,
        one_at_a_time,
        stream,
    })
}

fn connect(a: &Args) -> Result<Client, Error> {
    Client::builder(a.host.as_str())
        .port(a.port)
        .helo_name("bench.client.test")
        .tls(Tls::None)
        .timeout(Duration::from_secs(120))
        .connect()
}

fn run(a: &Args, envelope: &Envelope) -> Result<u64, String> {
    let size = std::fs::metadata(&a.message)
        .map_err(|e| format!("{}: {e}", a.message))?
        .len();
    let read_error = |e: std::io::Error| format!("{}: {e}", a.message);
    let body = if a.stream {
        Prepared::None
    } else if size <= IN_MEMORY_LIMIT {
        Prepared::Memory(Message::from(
            std::fs::read(&a.message).map_err(read_error)?,
        ))
    } else {
        Prepared::File(MessageFile::open(&a.message).map_err(read_error)?)
    };
    match &body {
        Prepared::Memory(m) => send_prepared(a, envelope, m)?,
        Prepared::File(m) => send_prepared(a, envelope, m)?,
        Prepared::None => {
            let open = || File::open(&a.message).map_err(read_error);
            let mut c = None;
            for i in 0..a.count {
                if c.is_none() || a.per_message {
                    c = Some(connect(a).map_err(|e| fail(i, e))?);
                }
                let client = c.as_mut().expect("connected");
                client.send(envelope, open()?).map_err(|e| fail(i, e))?;
                if a.per_message {
                    client.quit().map_err(|e| fail(i, e))?;
                }
            }
            if !a.per_message {
                if let Some(client) = c.as_mut() {
                    client.quit().map_err(|e| fail(a.count, e))?;
                }
            }
        }
    }
    Ok(size)
}

/// How the message is held: prepared once, or not at all (`--stream`).
enum Prepared {
    None,
    Memory(Message<'static>),
    File(MessageFile),
}

fn fail(i: usize, e: Error) -> String {
    format!("message {}: {e}", i + 1)
}

/// Sends a prepared message `a.count` times.
fn send_prepared(a: &Args, envelope: &Envelope, m: impl Content + Copy) -> Result<(), String> {
    if a.per_message {
        for i in 0..a.count {
            let mut c = connect(a).map_err(|e| fail(i, e))?;
            c.send_message(envelope, m).map_err(|e| fail(i, e))?;
            c.quit().map_err(|e| fail(i, e))?;
        }
        return Ok(());
    }
    let mut c = connect(a).map_err(|e| fail(0, e))?;
    if a.one_at_a_time {
        for i in 0..a.count {
            c.send_message(envelope, m).map_err(|e| fail(i, e))?;
        }
    } else {
        let results = c.send_batch((0..a.count).map(|_| (envelope, m)));
        if results.len() != a.count {
            return Err(format!(
                "{} results for {} messages",
                results.len(),
                a.count
            ));
        }
        for (i, r) in results.into_iter().enumerate() {
            r.map_err(|e| fail(i, e))?;
        }
    }
    // The server may have ended the session with the last message (a
    // limit of messages per connection): QUIT then finds it closed, which
    // costs no message anything.
    match c.quit() {
        Ok(_) | Err(Error::ConnectionClosed { .. }) => Ok(()),
        Err(e) => Err(fail(a.count, e)),
    }
}

fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let envelope = Envelope::new("bench@client.test", ["sink@bench.test"]).expect("valid envelope");
    let start = Instant::now();
    match run(&a, &envelope) {
        Ok(size) => {
            let secs = start.elapsed().as_secs_f64();
            let mb = (size as f64 * a.count as f64) / 1e6;
            println!(
                "sent {} messages of {size} bytes in {secs:.3} s: {:.1} msgs/s, {:.1} MB/s",
                a.count,
                a.count as f64 / secs,
                mb / secs
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}
