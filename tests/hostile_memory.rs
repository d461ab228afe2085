//! Memory stays bounded whatever a server sends: a 10 MB line, an endless
//! multiline reply, megabytes of replies after a refusal. One test in its
//! own binary, so the process's peak RSS (VmHWM) measures this alone.

use std::time::Duration;

use smtpc::{Client, Error, Tls};
use testkit::*;

/// The peak resident set of this process in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn hostile_floods_do_not_grow_memory() {
    let Some(before) = peak_rss_kib() else {
        eprintln!("SKIPPED: no /proc/self/status here");
        return;
    };
    let ten_mb = 10 * 1024 * 1024;
    // Built one at a time: each flood's 10 MB lives in this process too.
    let flood = |i: usize| -> Vec<Act> {
        match i {
            // A 10 MB greeting line without LF.
            0 => vec![Act::Send(vec![b'2'; ten_mb]), Act::Drain],
            // An endless multiline greeting.
            1 => vec![
                Act::Send("220-more\r\n".repeat(ten_mb / 10).into_bytes()),
                Act::Drain,
            ],
            // 10 MB of well-formed replies nobody asked for.
            _ => script([
                greet_ehlo(&[]),
                vec![
                    Act::Line,
                    Act::Send("250 ok\r\n".repeat(ten_mb / 8).into_bytes()),
                    Act::Drain,
                ],
            ]),
        }
    };
    for i in 0..3 {
        let server = Server::start(flood(i));
        let result = Client::builder("127.0.0.1")
            .port(server.port())
            .tls(Tls::None)
            .timeout(Duration::from_secs(3))
            .connect()
            .and_then(|mut c| {
                // The first 250 answers NOOP; the rest are never read
                // unless asked for, and then one reply at a time.
                c.noop()?;
                c.noop()?;
                c.quit()
            });
        match (i, result) {
            (0 | 1, Err(Error::MalformedReply { .. })) => {}
            (2, Ok(_)) | (2, Err(_)) => {}
            (i, other) => panic!("flood {i}: {other:?}"),
        }
        // Wait for the server thread, so that two floods never coexist.
        server.received();
    }
    let after = peak_rss_kib().unwrap();
    // The scripted servers built their floods in this process too (10 MB
    // each, one at a time), so allow for one flood plus slack; a client
    // that buffered a flood would add at least another 10 MB.
    let grown = after.saturating_sub(before);
    eprintln!("peak RSS grew by {grown} KiB over three 10 MB floods");
    assert!(grown < 16 * 1024, "peak RSS grew by {grown} KiB");
}
