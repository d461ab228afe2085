//! The floor for a batch over PIPELINING alone: what a client cannot go
//! below, to judge `bench` against. Not an SMTP client.
//!
//! ```sh
//! cargo run --release --example floor -- HOST:PORT N FILE
//! ```
//!
//! The content must wait for the 354 (RFC 2920 3.1), so each message
//! costs at least one write (the previous message's content and lone dot,
//! then MAIL, RCPT and DATA) and one read of the four replies due. This
//! program does only that: every write is made in advance, replies are
//! counted by their line ends and not parsed, nothing is checked but the
//! count of messages the server says it took (the number of lines that
//! start with 250 after DATA). FILE must be CRLF text with no line that
//! starts with a dot, since nothing is encoded. Prints msgs/s from connect
//! to the reply to QUIT, as `bench` does.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Instant;

const ENVELOPE: &[u8] = b"MAIL FROM:<bench@client.test>\r\nRCPT TO:<sink@bench.test>\r\nDATA\r\n";

/// Reads until `lines` more reply lines have arrived; returns how many of
/// them start with `250`.
fn replies(s: &mut TcpStream, buf: &mut [u8], lines: usize) -> io::Result<usize> {
    let (mut seen, mut ok, mut at_start) = (0, 0, true);
    while seen < lines {
        let n = s.read(buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            if at_start && b == b'2' && buf[i..n].starts_with(b"250") {
                ok += 1;
            }
            at_start = b == b'\n';
            seen += usize::from(at_start);
        }
    }
    Ok(ok)
}

/// Reads until a line that starts with `250 ` (the end of the EHLO reply).
fn ehlo(s: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let mut all = Vec::new();
    loop {
        let n = s.read(buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        all.extend_from_slice(&buf[..n]);
        if all.ends_with(b"\r\n") && all.split(|&b| b == b'\n').any(|l| l.starts_with(b"250 ")) {
            return Ok(());
        }
    }
}

/// CRLF text ending in CRLF, with no line that starts with a dot: what
/// goes after DATA unchanged.
fn sendable_as_is(body: &[u8]) -> bool {
    let bare_lf = body
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || body[i - 1] != b'\r'));
    let dot_line = body.starts_with(b".") || body.windows(2).any(|w| w == b"\n.");
    body.ends_with(b"\r\n") && !bare_lf && !dot_line
}

fn run(server: &str, n: usize, body: &[u8]) -> io::Result<usize> {
    let mut s = TcpStream::connect(server)?;
    s.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    replies(&mut s, &mut buf, 1)?;
    s.write_all(b"EHLO floor.client.test\r\n")?;
    ehlo(&mut s, &mut buf)?;
    let next = [body, b".\r\n", ENVELOPE].concat();
    let last = [body, b".\r\nQUIT\r\n"].concat();
    s.write_all(ENVELOPE)?;
    replies(&mut s, &mut buf, 3)?;
    let mut taken = 0;
    for _ in 1..n {
        s.write_all(&next)?;
        // 250 for the content, 250 MAIL, 250 RCPT, 354 DATA.
        taken += usize::from(replies(&mut s, &mut buf, 4)? == 3);
    }
    s.write_all(&last)?;
    taken += usize::from(replies(&mut s, &mut buf, 2)? == 1);
    Ok(taken)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [server, n, file] = args.as_slice() else {
        eprintln!("usage: floor HOST:PORT N FILE");
        return ExitCode::from(2);
    };
    let (Ok(n @ 1..), Ok(body)) = (n.parse::<usize>(), std::fs::read(file)) else {
        eprintln!("floor: N must be a positive number and FILE readable");
        return ExitCode::from(2);
    };
    if !sendable_as_is(&body) {
        eprintln!("floor: FILE must be CRLF text with no line starting with a dot");
        return ExitCode::from(2);
    }
    let start = Instant::now();
    match run(server, n, &body) {
        Ok(taken) if taken == n => {
            let secs = start.elapsed().as_secs_f64();
            println!(
                "floor: {n} messages in {secs:.3} s: {:.1} msgs/s",
                n as f64 / secs
            );
            ExitCode::SUCCESS
        }
        Ok(taken) => {
            eprintln!("floor: the server took {taken} of {n} messages");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("floor: {e}");
            ExitCode::FAILURE
        }
    }
}
