//! LMTP (RFC 2033): LHLO, one reply per accepted recipient after the end
//! of the message, with DATA and with BDAT; servers that give too few
//! replies, too many, a reply of the wrong class or a 421 among them; UNIX
//! sockets; and a real Dovecot over TCP and over its UNIX socket.

use std::time::Duration;

use smtpc::{Client, Delivery, Envelope, Error, Message, Protocol, Tls};

use crate::support::real::{scratch_dir, Dovecot};
use crate::support::*;

const MSG: &str = "Subject: lmtp\r\n\r\nHello, mailbox.\r\n";

fn env(to: &[&str]) -> Envelope {
    Envelope::new("a@x.test", to.iter().copied()).unwrap()
}

/// An LMTP client over the in-memory transport: greeting, an LHLO reply
/// offering `extensions`, then `replies` (one chunk each).
fn lmtp_memory(extensions: &[&str], replies: &[&str]) -> (Client, Writes) {
    let mut lhlo = String::from("250-lmtp.test");
    for e in extensions {
        lhlo.push_str(&format!("\r\n250-{e}"));
    }
    lhlo.push_str("\r\n250 ENHANCEDSTATUSCODES\r\n");
    let mut chunks = vec!["220 lmtp.test LMTP\r\n".to_owned(), lhlo];
    chunks.extend(replies.iter().map(|r| r.replace('\n', "\r\n") + "\r\n"));
    let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let (mem, writes) = Memory::new(&chunks);
    let c = Client::builder("lmtp.test")
        .protocol(Protocol::Lmtp)
        .helo_name("c.test")
        .tls(Tls::None)
        .connect_stream(mem)
        .unwrap();
    (c, writes)
}

fn written(writes: &Writes) -> Vec<String> {
    let w = writes.lock().unwrap();
    w.iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

fn refused(d: &Delivery) -> Vec<(&str, u16)> {
    d.rejected
        .iter()
        .map(|r| (r.recipient.as_str(), r.reply.code))
        .collect()
}

/// The replies after the end, for each of DATA and BDAT: what the
/// server says before them, for three recipients of which the second is
/// refused at RCPT.
fn before_finals(chunking: bool) -> (&'static [&'static str], &'static str) {
    if chunking {
        (
            &["PIPELINING", "CHUNKING"],
            "250 ok\n250 ok\n550 5.1.1 no such user\n250 ok",
        )
    } else {
        (
            &["PIPELINING"],
            "250 ok\n250 ok\n550 5.1.1 no such user\n250 ok\n354 go",
        )
    }
}

fn deliver(c: &mut Client, to: &[&str], chunking: bool) -> Result<Delivery, Error> {
    if chunking {
        c.send_message(&env(to), Message::new(MSG.as_bytes()))
    } else {
        c.send(&env(to), MSG.as_bytes())
    }
}

const THREE: [&str; 3] = ["alice@y.test", "nosuch@y.test", "full@y.test"];

#[test]
fn each_recipient_gets_its_own_reply_with_data_and_bdat() {
    for chunking in [false, true] {
        let (ext, envelope_replies) = before_finals(chunking);
        let (mut c, writes) = lmtp_memory(
            ext,
            &[
                envelope_replies,
                "250 2.0.0 <alice@y.test> id1 Saved\n552 5.2.2 <full@y.test> Quota exceeded",
            ],
        );
        let d = deliver(&mut c, &THREE, chunking).unwrap();
        assert_eq!(d.accepted, ["alice@y.test"], "chunking {chunking}");
        assert_eq!(
            refused(&d),
            [("nosuch@y.test", 550), ("full@y.test", 552)],
            "chunking {chunking}"
        );
        let own: Vec<(&str, String)> = d
            .recipient_replies()
            .map(|(r, reply)| (r, reply.text()))
            .collect();
        assert_eq!(own, [("alice@y.test", "<alice@y.test> id1 Saved".into())]);
        assert!(d.unknown.is_empty() && !d.is_complete());
        let w = written(&writes);
        assert_eq!(w[0], "LHLO c.test\r\n");
        assert!(!c.is_closed(), "the session goes on");
    }
}

#[test]
fn refused_for_every_recipient_after_the_data_is_an_error_with_every_reply() {
    for chunking in [false, true] {
        let (ext, envelope_replies) = before_finals(chunking);
        let (mut c, _) = lmtp_memory(
            ext,
            &[envelope_replies, "452 4.2.2 full for now\n552 5.2.2 full"],
        );
        match deliver(&mut c, &THREE, chunking) {
            Err(Error::AllRecipientsRejected(list)) => {
                let codes: Vec<u16> = list.iter().map(|r| r.reply.code).collect();
                assert_eq!(codes, [550, 452, 552], "chunking {chunking}");
            }
            other => panic!("chunking {chunking}: {other:?}"),
        }
    }
}

#[test]
fn too_few_replies_then_close_leaves_the_rest_unknown() {
    for chunking in [false, true] {
        let (ext, envelope_replies) = before_finals(chunking);
        // One reply for two accepted recipients, then the end of the
        // stream.
        let (mut c, _) = lmtp_memory(ext, &[envelope_replies, "250 2.0.0 <alice@y.test> Saved"]);
        let d = deliver(&mut c, &THREE, chunking).unwrap();
        assert_eq!(d.accepted, ["alice@y.test"], "chunking {chunking}");
        assert_eq!(d.unknown, ["full@y.test"], "chunking {chunking}");
        assert_eq!(refused(&d), [("nosuch@y.test", 550)]);

        // None at all: nobody is known to have the message.
        let (mut c, _) = lmtp_memory(ext, &[envelope_replies]);
        match deliver(&mut c, &THREE, chunking) {
            Err(e @ Error::OutcomeUnknown(_)) => {
                assert_eq!(e.kind(), smtpc::ErrorKind::Unknown)
            }
            other => panic!("chunking {chunking}: {other:?}"),
        }
    }
}

#[test]
fn a_reply_too_many_makes_every_recipient_unknown_and_closes() {
    for chunking in [false, true] {
        let (ext, envelope_replies) = before_finals(chunking);
        let (mut c, _) = lmtp_memory(
            ext,
            &[
                envelope_replies,
                "250 2.0.0 Saved\n250 2.0.0 Saved\n550 5.0.0 whose?",
            ],
        );
        match deliver(&mut c, &THREE, chunking) {
            Err(Error::OutcomeUnknown(_)) => {}
            other => panic!("chunking {chunking}: {other:?}"),
        }
        assert!(
            c.is_closed(),
            "chunking {chunking}: an out-of-step session is closed"
        );
    }
}

#[test]
fn a_reply_too_many_in_place_of_the_221_to_quit() {
    // QUIT leaves with the end: the extra reply is read as its answer.
    let (ext, envelope_replies) = before_finals(true);
    let (c, _) = lmtp_memory(
        ext,
        &[
            envelope_replies,
            "250 2.0.0 Saved\n250 2.0.0 Saved\n250 2.0.0 Saved\n221 bye",
        ],
    );
    let message = Message::new(MSG.as_bytes());
    match c.send_message_and_quit(&env(&THREE), &message) {
        Err(Error::OutcomeUnknown(cause)) => {
            assert!(cause.to_string().contains("221"), "{cause}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_reply_of_the_wrong_class_leaves_its_recipient_and_the_rest_unknown() {
    for chunking in [false, true] {
        let (ext, envelope_replies) = before_finals(chunking);
        let (mut c, _) = lmtp_memory(ext, &[envelope_replies, "250 2.0.0 Saved\n354 what?"]);
        let d = deliver(&mut c, &THREE, chunking).unwrap();
        assert_eq!(d.accepted, ["alice@y.test"], "chunking {chunking}");
        assert_eq!(d.unknown, ["full@y.test"], "chunking {chunking}");
    }
}

#[test]
fn a_421_among_the_replies_refuses_its_recipient_and_ends_the_session() {
    for chunking in [false, true] {
        let (ext, _) = before_finals(chunking);
        let envelope_replies = if chunking {
            "250 ok\n250 ok\n250 ok\n250 ok"
        } else {
            "250 ok\n250 ok\n250 ok\n250 ok\n354 go"
        };
        let (mut c, _) = lmtp_memory(
            ext,
            &[envelope_replies, "250 2.0.0 Saved\n421 4.3.2 shutting down"],
        );
        let d = deliver(&mut c, &THREE, chunking).unwrap();
        assert_eq!(d.accepted, ["alice@y.test"], "chunking {chunking}");
        assert_eq!(refused(&d), [("nosuch@y.test", 421)], "chunking {chunking}");
        assert_eq!(d.unknown, ["full@y.test"], "chunking {chunking}");
        assert!(c.is_closed(), "chunking {chunking}");
    }
}

#[test]
fn a_batch_reads_each_message_replies_before_the_next_message() {
    let (mut c, writes) = lmtp_memory(
        &["PIPELINING", "CHUNKING"],
        &[
            "250 ok\n250 ok\n250 ok\n250 2.0.0 <a> Saved\n552 5.2.2 <b> full",
            "250 ok\n250 ok\n250 2.0.0 <a> Saved",
        ],
    );
    let one = env(&["a@y.test", "b@y.test"]);
    let two = env(&["a@y.test"]);
    let m = Message::new(MSG.as_bytes());
    let results = c.send_batch([(&one, &m), (&two, &m)]);
    let first = results[0].as_ref().unwrap();
    assert_eq!(first.accepted, ["a@y.test"]);
    assert_eq!(refused(first), [("b@y.test", 552)]);
    assert_eq!(results[1].as_ref().unwrap().accepted, ["a@y.test"]);
    // LHLO, then one write per message (no RSET: the first succeeded).
    let w = written(&writes);
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[2].starts_with("MAIL FROM:<a@x.test>"), "{w:?}");
}

#[test]
fn step_by_step_data_reads_a_reply_per_accepted_recipient() {
    let (mut c, _) = lmtp_memory(
        &[],
        &[
            "250 ok",
            "250 ok",
            "550 5.1.1 no such user",
            "250 ok",
            "354 go",
            "250 2.0.0 <alice> Saved\n552 5.2.2 <full> full",
            "250 ok",
        ],
    );
    c.mail("a@x.test").unwrap();
    c.rcpt("alice@y.test").unwrap();
    assert!(c.rcpt("nosuch@y.test").is_err());
    c.rcpt("full@y.test").unwrap();
    let replies = c.data_replies(MSG.as_bytes()).unwrap();
    let codes: Vec<u16> = replies.iter().map(|r| r.code).collect();
    assert_eq!(codes, [250, 552]);
    // In step: the next command reads its own reply.
    assert_eq!(c.noop().unwrap().code, 250);
}

#[test]
fn lmtp_has_no_helo_to_fall_back_on() {
    let (mem, writes) = Memory::new(&["220 lmtp.test\r\n", "500 5.5.1 Unknown command\r\n"]);
    let e = Client::builder("lmtp.test")
        .protocol(Protocol::Lmtp)
        .tls(Tls::None)
        .helo_name("c.test")
        .connect_stream(mem)
        .unwrap_err();
    assert!(
        matches!(e, Error::Permanent(ref r) if r.code == 500),
        "{e:?}"
    );
    let w = written(&writes);
    assert_eq!(w[0], "LHLO c.test\r\n");
    assert!(w.iter().all(|l| !l.starts_with("HELO")), "{w:?}");
}

#[test]
fn a_unix_socket_carries_smtp_and_lmtp() {
    let dir = scratch_dir("unix");
    for protocol in [Protocol::Smtp, Protocol::Lmtp] {
        let path = dir.join(format!("{}.sock", protocol.name()));
        let server = Server::start_unix(
            &path,
            script([
                vec![send("220 unix.test ready")],
                on_line("250 unix.test"),
                transaction(1),
                quit(),
            ]),
        );
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = lines.clone();
        let mut c = Client::builder_unix(&path)
            .protocol(protocol)
            .timeout(Duration::from_secs(10))
            .transcript(move |_, line| seen.lock().unwrap().push(line.to_owned()))
            .connect()
            .unwrap();
        assert!(!c.is_encrypted());
        let d = c.send(&env(&["b@y.test"]), MSG.as_bytes()).unwrap();
        assert_eq!(d.queue_id(), Some("ABC123"));
        c.quit().unwrap();
        let sent = server.text();
        let hello = match protocol {
            Protocol::Smtp => "EHLO localhost\r\n",
            Protocol::Lmtp => "LHLO localhost\r\n",
        };
        assert!(sent.starts_with(hello), "{sent}");
        let lines = lines.lock().unwrap();
        let connected = format!("connected to unix:{}", path.display());
        assert!(lines.contains(&connected), "{lines:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_unix_socket_that_is_not_there_is_an_io_error() {
    let dir = scratch_dir("unix-missing");
    let e = Client::builder_unix(dir.join("nothing.sock"))
        .connect()
        .unwrap_err();
    assert_eq!(e.kind(), smtpc::ErrorKind::Io, "{e}");
    assert!(e.to_string().contains("nothing.sock"), "{e}");
    // A proxy cannot reach a local socket.
    let proxy = smtpc::Proxy::socks5("127.0.0.1", 1080);
    let e = Client::builder_unix(dir.join("nothing.sock"))
        .proxy(proxy)
        .connect()
        .unwrap_err();
    assert_eq!(e.kind(), smtpc::ErrorKind::InvalidInput, "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Alice and bob exist, full is over quota, nosuch does not exist.
const DOVECOT_RCPTS: [&str; 4] = [
    "alice@lmtp.test",
    "nosuch@lmtp.test",
    "full@lmtp.test",
    "bob@lmtp.test",
];

fn check_dovecot_delivery(d: &Delivery) {
    assert_eq!(d.accepted, ["alice@lmtp.test", "bob@lmtp.test"]);
    let refused: Vec<(&str, u16, String)> = d
        .rejected
        .iter()
        .map(|r| (r.recipient.as_str(), r.reply.code, r.reply.text()))
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0].0, "nosuch@lmtp.test");
    assert_eq!(refused[0].1, 550);
    assert!(refused[0].2.contains("User doesn't exist"), "{refused:?}");
    assert_eq!(refused[1].0, "full@lmtp.test");
    assert_eq!(refused[1].1, 552);
    assert!(refused[1].2.contains("Quota exceeded"), "{refused:?}");
    for (recipient, reply) in d.recipient_replies() {
        assert_eq!(reply.code, 250);
        // Dovecot names the recipient in its own reply.
        assert!(reply.text().contains(recipient), "{recipient}: {reply}");
    }
}

#[test]
fn dovecot_over_tcp_and_its_unix_socket() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let tcp = Client::builder("127.0.0.1")
        .port(dovecot.port)
        .protocol(Protocol::Lmtp)
        .tls(Tls::None)
        .timeout(Duration::from_secs(20));
    let unix = Client::builder_unix(&dovecot.socket)
        .protocol(Protocol::Lmtp)
        .timeout(Duration::from_secs(20));
    for (n, builder) in [tcp, unix].into_iter().enumerate() {
        let mut c = builder.connect().unwrap();
        assert!(c.extensions().chunking(), "Dovecot offers CHUNKING");
        let body = format!("Subject: lmtp {n}\r\nMessage-ID: <lmtp-{n}@x.test>\r\n\r\nHello.\r\n");
        let d = c.send_bytes(&env(&DOVECOT_RCPTS), body.as_bytes()).unwrap();
        check_dovecot_delivery(&d);
        c.quit().unwrap();
        for user in ["alice", "bob"] {
            let stored = dovecot.mailbox(user, n + 1);
            assert_eq!(stored.len(), n + 1, "{user}");
            let text = String::from_utf8_lossy(&stored[n]).into_owned();
            assert!(
                text.contains(&format!("Subject: lmtp {n}")),
                "{user}: {text}"
            );
        }
    }
    assert_eq!(dovecot.count("full"), 0);
}

#[test]
fn dovecot_step_by_step_with_data_and_a_batch_with_bdat() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let mut c = Client::builder_unix(&dovecot.socket)
        .protocol(Protocol::Lmtp)
        .timeout(Duration::from_secs(20))
        .connect()
        .unwrap();
    // DATA, by hand: a reply per accepted recipient.
    c.mail("a@x.test").unwrap();
    c.rcpt("alice@lmtp.test").unwrap();
    c.rcpt("fulltmp@lmtp.test").unwrap();
    let replies = c.data_replies(MSG.as_bytes()).unwrap();
    let codes: Vec<u16> = replies.iter().map(|r| r.code).collect();
    assert_eq!(codes, [250, 452], "{replies:?}");
    assert_eq!(c.noop().unwrap().code, 250, "still in step");
    // A batch over BDAT: each message its own replies.
    let to_alice = env(&["alice@lmtp.test"]);
    let to_both = env(&["bob@lmtp.test", "full@lmtp.test"]);
    let m = Message::new(MSG.as_bytes());
    let results = c.send_batch([(&to_alice, &m), (&to_both, &m), (&to_alice, &m)]);
    assert_eq!(results[0].as_ref().unwrap().accepted, ["alice@lmtp.test"]);
    let both = results[1].as_ref().unwrap();
    assert_eq!(both.accepted, ["bob@lmtp.test"]);
    assert_eq!(refused(both), [("full@lmtp.test", 552)]);
    assert_eq!(results[2].as_ref().unwrap().accepted, ["alice@lmtp.test"]);
    c.quit().unwrap();
    assert_eq!(dovecot.mailbox("alice", 3).len(), 3);
    assert_eq!(dovecot.mailbox("bob", 1).len(), 1);
}
