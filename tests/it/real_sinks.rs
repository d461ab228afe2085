//! Pipelining and chunking against real servers started on ephemeral
//! loopback ports: Postfix's smtp-sink (PIPELINING, no CHUNKING) and a
//! private Postfix smtpd (PIPELINING and CHUNKING). What they stored or
//! counted must match what was sent. A
//! missing smtp-sink or Postfix skips the test locally and fails it when
//! CI=true.

use std::path::Path;
use std::time::{Duration, Instant};

use smtpc::{Client, Envelope, Error, Message, MessageFile, Tls};

use crate::support::normalised;
use crate::support::real::{scratch_dir, smtp_sink, Postfix};

fn connect(port: u16) -> Client {
    Client::builder("127.0.0.1")
        .port(port)
        .helo_name("client.test")
        .tls(Tls::None)
        .timeout(Duration::from_secs(10))
        .connect()
        .unwrap()
}

/// The messages smtp-sink dumped: (MAIL args, RCPT args, content with LF
/// line endings as it writes them).
fn dumps(dir: &Path) -> Vec<(String, Vec<String>, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let mut mail = String::new();
        let mut rcpts = Vec::new();
        let mut rest = &bytes[..];
        // X-... lines, then its own 3-line Received header, then the message.
        let mut received = 0;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&rest[..nl]).into_owned();
            rest = &rest[nl + 1..];
            if let Some(m) = line.strip_prefix("X-Mail-Args: ") {
                mail = m.to_owned();
            } else if let Some(r) = line.strip_prefix("X-Rcpt-Args: ") {
                rcpts.push(r.to_owned());
            } else if line.starts_with("Received: ") || received > 0 {
                received += 1;
                if received == 3 {
                    break;
                }
            }
        }
        out.push((mail, rcpts, rest.to_vec()));
    }
    out
}

fn lf(crlf: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(crlf)
        .replace("\r\n", "\n")
        .into_bytes()
}

fn body(i: usize) -> Vec<u8> {
    match i % 3 {
        0 => format!("Subject: m{i}\r\n\r\n.leading dot\r\nplain {i}\r\n").into_bytes(),
        1 => format!("Subject: m{i}\n\nbare LF {i}\n.\nend").into_bytes(),
        _ => format!("Subject: m{i}\r\n\r\ncaf\u{e9} {i}\r\n").into_bytes(),
    }
}

#[test]
fn smtp_sink_stores_a_pipelined_batch_exactly() {
    let Some(sink) = smtp_sink("batch", &[]) else {
        return;
    };
    let mut c = connect(sink.port);
    assert!(c.extensions().pipelining() && !c.extensions().chunking());
    let envelope = Envelope::new("a@x.test", ["b@y.test", "c@y.test"]).unwrap();
    let bodies: Vec<Vec<u8>> = (0..30).map(body).collect();
    let results = c.send_batch(bodies.iter().map(|b| (&envelope, b)));
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // A single send, from memory and streamed (larger than one block).
    let one = body(100);
    c.send_bytes(&envelope, &one).unwrap();
    let big: Vec<u8> = b"Subject: m101\n\n"
        .iter()
        .chain(b"stream line\n".repeat(40_000).iter())
        .copied()
        .collect();
    c.send(&envelope, &big[..]).unwrap();
    // Prepared once: a Message, and a MessageFile (with DATA, encoded as
    // it is read from the file).
    let prepared = b"Subject: m102\r\n\r\n.dot\r\n..two\r\nend\r\n".to_vec();
    c.send_message(&envelope, Message::new(&prepared)).unwrap();
    let in_file: Vec<u8> = b"Subject: m103\n\n"
        .iter()
        .chain(b".file line\n".repeat(30_000).iter())
        .copied()
        .collect();
    let path = scratch_dir("sink-file").join("m103.eml");
    std::fs::write(&path, &in_file).unwrap();
    c.send_message(&envelope, MessageFile::open(&path).unwrap())
        .unwrap();
    c.quit().unwrap();

    let got = dumps(&sink.dir);
    assert_eq!(got.len(), 34);
    let all: Vec<&Vec<u8>> = bodies
        .iter()
        .chain([&one, &big, &prepared, &in_file])
        .collect();
    for (mail, rcpts, content) in &got {
        assert_eq!(rcpts, &["<b@y.test>", "<c@y.test>"]);
        let subject =
            String::from_utf8_lossy(&content[..content.iter().position(|&b| b == b'\n').unwrap()])
                .into_owned();
        let i: usize = subject.trim_start_matches("Subject: m").parse().unwrap();
        let sent = all[if i >= 100 { 30 + i - 100 } else { i }];
        // smtp-sink writes LF line endings and adds an empty last line.
        let mut want = lf(&normalised(sent));
        want.push(b'\n');
        assert_eq!(content, &want, "message {i}");
        // 8BITMIME is declared exactly for the 8-bit bodies, and for the
        // long stream (m101), whose kind is unknown when MAIL goes out; SIZE
        // is not offered by smtp-sink, so not declared.
        assert_eq!(
            mail.contains("BODY=8BITMIME"),
            smtpc::codec::has_8bit(sent) || i == 101,
            "{i}: {mail}"
        );
        assert!(!mail.contains("SIZE="));
    }
}

#[test]
fn smtp_sink_refusing_every_recipient_stores_nothing() {
    let Some(sink) = smtp_sink("refuse", &["-f", "RCPT"]) else {
        return;
    };
    let mut c = connect(sink.port);
    let envelope = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    let results = c.send_batch([(&envelope, "one\r\n"), (&envelope, "two\r\n")]);
    for r in &results {
        let Err(Error::AllRecipientsRejected(list)) = r else {
            panic!("{r:?}")
        };
        assert!(list[0].reply.code >= 500, "{}", list[0]);
    }
    // The session is still in step.
    assert_eq!(c.noop().unwrap().code, 250);
    c.quit().unwrap();
    assert!(dumps(&sink.dir).is_empty());
}

#[test]
fn smtp_sink_closing_mid_batch() {
    let Some(sink) = smtp_sink("close", &["-Q", "DATA"]) else {
        return;
    };
    let mut c = connect(sink.port);
    let envelope = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    let results = c.send_batch([(&envelope, "one\r\n"), (&envelope, "two\r\n")]);
    // Each message gets the sink's own 421: the second goes over a new
    // connection (the first was under way, so it is not sent again).
    for r in &results {
        assert!(
            matches!(r, Err(Error::Transient(r)) if r.code == 421 && r.in_reply_to() == Some("DATA")),
            "{r:?}"
        );
    }
    assert!(c.is_closed());
}

/// Processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(cmdline);
            }
        }
    }
    found
}

#[test]
fn smtp_sink_stops_when_its_test_is_done() {
    let Some(sink) = smtp_sink("stops", &[]) else {
        return;
    };
    let dir = sink.dir.to_string_lossy().into_owned();
    assert!(
        processes_with(&dir).iter().any(|p| p.contains("smtp-sink")),
        "the sink is not running"
    );
    drop(sink);
    // Not only its `timeout` wrapper: the sink itself must be gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(&dir).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_with(&dir), Vec::<String>::new());
}

/// The part of a message after its header block, with LF line endings.
fn body_part(message: &[u8]) -> Vec<u8> {
    let text = lf(message);
    let start = text
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(0, |p| p + 2);
    text[start..].to_vec()
}

/// The session's last message with QUIT in the same write as its end of
/// data: smtp-sink stores it.
#[test]
fn smtp_sink_takes_a_one_shot_send_with_quit_pipelined() {
    let Some(sink) = smtp_sink("one-shot", &[]) else {
        return;
    };
    let c = connect(sink.port);
    let envelope = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    let sent = body(7);
    let d = c.send_and_quit(&envelope, &sent[..]).unwrap();
    assert!(d.reply.is_positive(), "{}", d.reply);
    let got = dumps(&sink.dir);
    assert_eq!(got.len(), 1);
    let mut want = lf(&normalised(&sent));
    want.push(b'\n');
    assert_eq!(got[0].2, want);
}

#[test]
fn postfix_takes_bdat_batches_and_large_messages() {
    let Some(server) = Postfix::start() else {
        return;
    };
    let mut c = connect(server.port);
    let ext = c.extensions();
    assert!(ext.pipelining() && ext.chunking() && ext.supports_size());
    let envelope = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    let bodies: Vec<Vec<u8>> = (0..40).map(body).collect();
    let results = c.send_batch(bodies.iter().map(|b| (&envelope, b)));
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // 3 MiB from memory (three BDAT chunks) and 700 KiB streamed.
    let large: Vec<u8> = b"Subject: m200\n\n"
        .iter()
        .chain(b"0123456789 large line\n.dot\r\n".repeat(100_000).iter())
        .copied()
        .collect();
    c.send_bytes(&envelope, &large).unwrap();
    let streamed: Vec<u8> = b"Subject: m201\n\n"
        .iter()
        .chain(b"streamed line\n".repeat(50_000).iter())
        .copied()
        .collect();
    c.send(&envelope, &streamed[..]).unwrap();
    // Prepared once: a CRLF file of 5.5 MB (two BDAT chunks by sendfile),
    // an LF file (encoded as it is read), and a Message.
    let dir = scratch_dir("postfix-files");
    let crlf_file: Vec<u8> = b"Subject: m202\r\n\r\n"
        .iter()
        .chain(b"file line sent by sendfile\r\n".repeat(200_000).iter())
        .copied()
        .collect();
    std::fs::write(dir.join("m202.eml"), &crlf_file).unwrap();
    let f = MessageFile::open(dir.join("m202.eml")).unwrap();
    assert!(f.is_crlf());
    c.send_message(&envelope, &f).unwrap();
    let lf_file: Vec<u8> = b"Subject: m203\n\n"
        .iter()
        .chain(b".lf file line\n".repeat(30_000).iter())
        .copied()
        .collect();
    std::fs::write(dir.join("m203.eml"), &lf_file).unwrap();
    c.send_message(&envelope, MessageFile::open(dir.join("m203.eml")).unwrap())
        .unwrap();
    let prepared = b"Subject: m204\n\n.dot\nbody\n".to_vec();
    c.send_message(&envelope, Message::new(&prepared)).unwrap();
    // Over the server's SIZE limit (10 MiB): refused before the body.
    let huge = vec![b'x'; 11 << 20];
    let err = c.send_bytes(&envelope, &huge).unwrap_err();
    assert!(matches!(err, Error::MessageTooLarge { .. }), "{err}");
    c.quit().unwrap();

    let got = server.messages(45);
    assert_eq!(got.len(), 45, "{}", server.log());
    let mut seen = Vec::new();
    for m in &got {
        let text = String::from_utf8_lossy(m);
        assert!(text.contains("with ESMTP id"), "{text}");
        let subject = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: m"))
            .expect("subject");
        let i: usize = subject.parse().unwrap();
        let sent = match i {
            200 => &large,
            201 => &streamed,
            202 => &crlf_file,
            203 => &lf_file,
            204 => &prepared,
            _ => &bodies[i],
        };
        assert_eq!(body_part(m), body_part(&normalised(sent)), "message {i}");
        seen.push(i);
    }
    seen.sort_unstable();
    assert_eq!(seen.len(), 45);
    // smtpd logs its command counts at disconnect: ... bdat=N ...
    assert!(
        server.log().contains(" bdat="),
        "BDAT was used:\n{}",
        server.log()
    );
}
