//! Prepared messages, `Message` (in memory) and `MessageFile`, against
//! scripted servers: the same bytes on the wire as any other way of
//! sending, the size declared, a file that changed refused before anything
//! is sent, a file that ends early breaking the connection rather than the
//! framing.

use std::io::Write;
use std::path::PathBuf;

use smtpc::{Envelope, Error, Message, MessageFile};

use crate::support::real::scratch_dir;
use crate::support::*;

/// Everything written after EHLO, as one byte string.
fn written(writes: &Writes) -> Vec<u8> {
    writes.lock().unwrap()[1..].concat()
}

fn env() -> Envelope {
    Envelope::new("a@x.test", ["b@y.test"]).unwrap()
}

/// A file with `content` in a fresh scratch directory.
fn file_with(name: &str, content: &[u8]) -> PathBuf {
    let path = scratch_dir(name).join("message.eml");
    std::fs::write(&path, content).unwrap();
    path
}

const BODY: &[u8] = b"Subject: t\n\n.dot line\nbare LF\r\ncaf\xc3\xa9\n.";
const SIZE_OFFERED: &[&str] = &["PIPELINING", "SIZE 100000", "8BITMIME"];

#[test]
fn a_prepared_message_goes_out_as_the_same_bytes_would() {
    let replies = ["250 ok\n250 ok\n354 go", "250 queued"];
    let (mut by_bytes, bytes_writes) = memory_client(SIZE_OFFERED, &replies);
    by_bytes.send_bytes(&env(), BODY).unwrap();
    let (mut by_message, message_writes) = memory_client(SIZE_OFFERED, &replies);
    let message = Message::new(BODY);
    let d = by_message.send_message(&env(), &message).unwrap();
    assert_eq!(d.reply.code, 250);
    let wire = written(&message_writes);
    // SIZE is the CRLF length of the message (RFC 1870), not the input's.
    let mail = format!(
        "MAIL FROM:<a@x.test> SIZE={} BODY=8BITMIME\r\n",
        normalised(BODY).len()
    );
    assert!(
        wire.starts_with(mail.as_bytes()),
        "{}",
        String::from_utf8_lossy(&wire)
    );
    let content = &wire[wire.windows(6).position(|w| w == b"DATA\r\n").unwrap() + 6..];
    assert_eq!(unstuff(content), (normalised(BODY), 1));
    // The content is what send_bytes sends; only SIZE (the input's length
    // there, since the bytes are not normalised first) may differ.
    let other = written(&bytes_writes);
    let other_content = &other[other.windows(6).position(|w| w == b"DATA\r\n").unwrap() + 6..];
    assert_eq!(content, other_content);
}

#[test]
fn one_message_to_many_envelopes_in_a_batch() {
    // With CHUNKING the three messages leave in one write and are answered
    // together (each after the first opened by RSET).
    let (mut c, writes) = memory_client(
        &["PIPELINING", "CHUNKING"],
        &["250 a\n250 a\n250 queued as Q1\n250 r\n250 b\n550 no such user\n554 no valid recipients\n250 r\n250 c\n250 c\n250 queued as Q3"],
    );
    let message = Message::from(b"Subject: news\n\nHello.\n".to_vec());
    let envelopes: Vec<Envelope> = ["one@y.test", "two@y.test", "three@y.test"]
        .iter()
        .map(|to| Envelope::new("news@x.test", [*to]).unwrap())
        .collect();
    let results = c.send_batch(envelopes.iter().map(|e| (e, &message)));
    assert_eq!(results[0].as_ref().unwrap().queue_id(), Some("Q1"));
    assert!(
        matches!(&results[1], Err(Error::AllRecipientsRejected(_))),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2].as_ref().unwrap().queue_id(), Some("Q3"));
    let w = writes.lock().unwrap();
    assert_eq!(w.len(), 2, "EHLO, then one write for the batch");
    let text = String::from_utf8_lossy(&w[1]);
    assert_eq!(
        text.matches("BDAT 25 LAST\r\nSubject: news\r\n\r\nHello.\r\n")
            .count(),
        3,
        "{text}"
    );
}

#[test]
fn a_message_file_over_data_is_encoded_from_the_file() {
    let path = file_with("prepared-data", BODY);
    let file = MessageFile::open(&path).unwrap();
    assert_eq!(file.len(), normalised(BODY).len() as u64);
    assert!(file.is_8bit() && !file.is_crlf());
    let (mut c, writes) = memory_client(SIZE_OFFERED, &["250 ok\n250 ok\n354 go", "250 queued"]);
    c.send_message(&env(), &file).unwrap();
    let wire = written(&writes);
    let mail = format!("MAIL FROM:<a@x.test> SIZE={} BODY=8BITMIME\r\n", file.len());
    assert!(wire.starts_with(mail.as_bytes()));
    let content = &wire[wire.windows(6).position(|w| w == b"DATA\r\n").unwrap() + 6..];
    assert_eq!(unstuff(content), (normalised(BODY), 1));
}

#[test]
fn a_message_file_that_changed_is_refused_before_anything_is_sent() {
    let path = file_with("prepared-changed", b"Subject: a\r\n\r\nfirst\r\n");
    let file = MessageFile::open(&path).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"\r\n.\r\nMAIL FROM:<evil@x.test>\r\n")
        .unwrap();
    let (mut c, writes) = memory_client(&["PIPELINING"], &["250 ok"]);
    let err = c.send_message(&env(), &file).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(m) if m.contains("changed")),
        "{err}"
    );
    assert_eq!(writes.lock().unwrap().len(), 1, "nothing after EHLO");
    assert_eq!(c.noop().unwrap().code, 250, "the session goes on");
}

/// A CRLF file larger than a chunk, over real TCP: BDAT chunks of 4 MiB
/// straight from the file, the size declared, the content exact.
#[test]
fn a_crlf_message_file_goes_in_chunks_from_the_file() {
    let line = b"0123456789abcdefghijklmnopqrstuvwxyz .dot at the end\r\n";
    let content = line.repeat(100_000);
    let path = file_with("prepared-chunks", &content);
    let file = MessageFile::open(&path).unwrap();
    assert!(file.is_crlf() && !file.is_8bit());
    let sizes = [4 << 20, content.len() - (4 << 20)];
    let server = Server::start(two_chunks(sizes, "F1"));
    let mut c = plain_client(server.port());
    let d = c.send_message(&env(), &file).unwrap();
    assert_eq!(d.queue_id(), Some("F1"));
    drop(c);
    let got = server.received();
    let head = format!(
        "EHLO client.test\r\nMAIL FROM:<a@x.test> SIZE={}\r\nRCPT TO:<b@y.test>\r\nBDAT {}\r\n",
        content.len(),
        sizes[0]
    );
    assert!(
        got.starts_with(head.as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&got[..200])
    );
    let at = got.windows(4).position(|w| w == b"BDAT").unwrap();
    let sent = &got[at..];
    let first = &sent[sent.iter().position(|&b| b == b'\n').unwrap() + 1..][..sizes[0]];
    assert_eq!(first, &content[..sizes[0]]);
    let rest = &sent[sent.iter().position(|&b| b == b'\n').unwrap() + 1 + sizes[0]..];
    let tail = format!("BDAT {} LAST\r\n", sizes[1]);
    assert!(rest.starts_with(tail.as_bytes()));
    assert_eq!(
        &rest[tail.len()..tail.len() + sizes[1]],
        &content[sizes[0]..]
    );
}

#[test]
fn a_message_file_sent_twice_reads_from_its_start_each_time() {
    let content = b"Subject: twice\r\n\r\nbody\r\n";
    let path = file_with("prepared-twice", content);
    let file = MessageFile::open(&path).unwrap();
    let (mut c, writes) = memory_client(
        &["PIPELINING", "CHUNKING"],
        &[
            "250 ok\n250 ok\n250 queued as A",
            "250 ok\n250 ok\n250 queued as B",
        ],
    );
    assert_eq!(c.send_message(&env(), &file).unwrap().queue_id(), Some("A"));
    assert_eq!(c.send_message(&env(), &file).unwrap().queue_id(), Some("B"));
    let wire = String::from_utf8_lossy(&written(&writes)).into_owned();
    let chunk = "BDAT 24 LAST\r\nSubject: twice\r\n\r\nbody\r\n";
    assert_eq!(wire.matches(chunk).count(), 2, "{wire}");
}

#[test]
fn a_message_file_with_lf_endings_is_encoded_over_bdat() {
    let content: Vec<u8> = b"lf line\n"
        .iter()
        .copied()
        .cycle()
        .take(300 << 10)
        .collect();
    let path = file_with("prepared-lf", &content);
    let file = MessageFile::open(&path).unwrap();
    assert!(!file.is_crlf());
    assert_eq!(file.len(), normalised(&content).len() as u64);
    let block = 256 << 10;
    let sizes = [
        block + block / 8,
        normalised(&content).len() - (block + block / 8),
    ];
    let (mut c, writes) = memory_client(
        &["PIPELINING", "CHUNKING", "SIZE 1000000"],
        &["250 ok\n250 ok\n250 chunk", "250 queued as L"],
    );
    assert_eq!(c.send_message(&env(), &file).unwrap().queue_id(), Some("L"));
    let wire = written(&writes);
    let text = String::from_utf8_lossy(&wire);
    // Unlike a stream, the size is known beforehand.
    let mail = format!("MAIL FROM:<a@x.test> SIZE={}\r\n", file.len());
    assert!(text.starts_with(&mail), "{}", &text[..80]);
    assert!(text.contains(&format!("BDAT {}\r\n", sizes[0])));
    assert!(text.contains(&format!("BDAT {} LAST\r\n", sizes[1])));
    let at = wire.windows(4).position(|w| w == b"BDAT").unwrap();
    let mut body = Vec::new();
    let mut rest = &wire[at..];
    for size in sizes {
        let nl = rest.iter().position(|&b| b == b'\n').unwrap();
        body.extend_from_slice(&rest[nl + 1..nl + 1 + size]);
        rest = &rest[nl + 1 + size..];
    }
    assert_eq!(body, normalised(&content));
}

#[test]
fn a_message_over_the_size_limit_fails_before_the_envelope() {
    let big = vec![b'x'; 2000];
    let message = Message::new(&big);
    let (mut c, writes) = memory_client(&["PIPELINING", "SIZE 1000"], &[]);
    let err = c.send_message(&env(), &message).unwrap_err();
    assert!(matches!(err, Error::MessageTooLarge { .. }), "{err}");
    assert_eq!(writes.lock().unwrap().len(), 1);
}

/// The thread's blocked-signal mask, from procfs (Linux).
fn blocked_signals() -> Option<String> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .map(|m| m.trim().to_owned())
}

/// A server that takes part of a large chunk and closes: the send fails
/// as a broken connection, nothing is reported sent, and the thread's
/// signal mask is what it was (SIGPIPE is blocked only during sendfile).
#[test]
fn a_server_closing_mid_file_fails_the_message_and_the_connection() {
    let content =
        b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop\r\n".repeat(20 << 14);
    let path = file_with("prepared-cut", &content);
    let file = MessageFile::open(&path).unwrap();
    for taken in [0, 64 << 10, 5 << 20] {
        let server = Server::start(closes_mid_chunk(taken));
        let mut c = plain_client(server.port());
        let mask = blocked_signals();
        let err = c.send_message(&env(), &file).unwrap_err();
        assert_eq!(blocked_signals(), mask);
        assert!(
            matches!(err, Error::ConnectionClosed { .. } | Error::Io { .. }),
            "after {taken} bytes: {err:?}"
        );
        assert!(c.is_closed());
        server.received();
    }
}

#[test]
fn a_message_file_must_be_a_regular_file() {
    let dir = scratch_dir("prepared-dir");
    let err = MessageFile::new(std::fs::File::open(&dir).unwrap()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    assert!(MessageFile::open(dir.join("missing.eml")).is_err());
}
