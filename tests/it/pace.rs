//! At the server's own pace: how the client's writes are grouped, what
//! follows QUIT, the acknowledgement of replies, and batches that outlast
//! a server's limit of messages per session.
//!
//! The writes are pinned over a connection that keeps them apart (a UNIX
//! `SOCK_SEQPACKET` pair, testkit's `records`): a small message leaves with
//! its commands (and QUIT) in one write, and QUIT is followed by a
//! half-close the server sees before it answers. Scripted TCP servers play
//! Exim (no answer to QUIT until the client closes), sendmail (a group's
//! replies in two writes) and OpenSMTPD (`452 4.5.3` to the 101st MAIL).

use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use smtpc::{Client, Envelope, Message, MessageFile, Tls};
use socket2::SockRef;

use crate::support::fake::{Fake, Settings, Spent};
use crate::support::real::scratch_dir;
use crate::support::records::Records;
use crate::support::*;

const MSG: &[u8] = b"Subject: pace\r\n\r\nHello.\r\n";

fn env() -> Envelope {
    Envelope::new("a@x.test", ["b@y.test"]).unwrap()
}

fn over(socket: TcpStream) -> Client {
    Client::builder("127.0.0.1")
        .tls(Tls::None)
        .helo_name("client.test")
        .timeout(Duration::from_secs(10))
        .connect_socket(socket)
        .unwrap()
}

/// The client's next write as text, or `<end>` when it closed its side.
fn next(r: &mut Records) -> String {
    match r.next_write() {
        Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(None) => "<end>".into(),
        Err(e) => format!("<no write: {e}>"),
    }
}

/// A server over `r` that offers `ehlo` and then, for each step, reads
/// one write of the client's (noted) and sends the step's replies (each
/// string one write; none for an empty list). Returns the writes seen.
fn play(mut r: Records, ehlo: &'static str, steps: Vec<Vec<&'static str>>) -> Vec<String> {
    r.send("220 rec.test ESMTP");
    let mut seen = vec![next(&mut r)];
    r.send(ehlo);
    for replies in steps {
        seen.push(next(&mut r));
        for reply in replies {
            r.send(reply);
        }
    }
    seen
}

const CHUNKING: &str = "250-rec.test\n250-PIPELINING\n250 CHUNKING";

#[test]
fn a_small_message_leaves_with_its_commands_and_quit_in_one_write_then_a_half_close() {
    let dir = scratch_dir("pace-one-write");
    let path = dir.join("m.eml");
    std::fs::write(&path, MSG).unwrap();
    for kind in ["bytes", "prepared", "file"] {
        let (r, socket) = Records::pair();
        let server = thread::spawn(move || {
            play(
                r,
                CHUNKING,
                vec![
                    vec![],
                    // Answered only once the client closed its side.
                    vec!["250 2.1.0 Ok\n250 2.1.5 Ok\n250 2.0.0 Ok: queued as Q1\n221 2.0.0 Bye"],
                ],
            )
        });
        let c = over(socket);
        let delivered = match kind {
            "bytes" => c.send_and_quit(&env(), MSG),
            "prepared" => c.send_message_and_quit(&env(), Message::new(MSG)),
            _ => c.send_message_and_quit(&env(), MessageFile::open(&path).unwrap()),
        };
        let seen = server.join().unwrap();
        assert_eq!(delivered.unwrap().queue_id(), Some("Q1"), "{kind}");
        let group = format!(
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT {n} LAST\r\n{}QUIT\r\n",
            String::from_utf8_lossy(MSG),
            n = MSG.len()
        );
        assert_eq!(
            seen,
            ["EHLO client.test\r\n", group.as_str(), "<end>"],
            "{kind}"
        );
    }
}

#[test]
fn with_data_the_content_the_end_and_quit_share_a_write_then_a_half_close() {
    let (r, socket) = Records::pair();
    let server = thread::spawn(move || {
        play(
            r,
            "250-rec.test\n250 PIPELINING",
            vec![
                vec!["250 2.1.0 Ok\n250 2.1.5 Ok\n354 go"],
                vec![],
                vec!["250 2.0.0 Ok: queued as D1\n221 2.0.0 Bye"],
            ],
        )
    });
    let delivered = over(socket).send_and_quit(&env(), MSG);
    let seen = server.join().unwrap();
    assert_eq!(delivered.unwrap().queue_id(), Some("D1"));
    let content = format!("{}.\r\nQUIT\r\n", String::from_utf8_lossy(MSG));
    let envelope = "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n";
    assert_eq!(seen[1..], [envelope, content.as_str(), "<end>"]);
}

/// Without PIPELINING each command goes alone, QUIT too, and only then
/// the half-close; the step-by-step QUIT does the same.
#[test]
fn without_pipelining_quit_goes_alone_and_is_followed_by_a_half_close() {
    let (r, socket) = Records::pair();
    let server = thread::spawn(move || {
        play(
            r,
            "250 rec.test",
            vec![
                vec!["250 2.1.0 Ok"],
                vec!["250 2.1.5 Ok"],
                vec!["354 go"],
                vec!["250 2.0.0 Ok: queued as S1"],
                vec![],
                vec!["221 2.0.0 Bye"],
            ],
        )
    });
    let delivered = over(socket).send_and_quit(&env(), MSG);
    let seen = server.join().unwrap();
    assert_eq!(delivered.unwrap().queue_id(), Some("S1"));
    assert_eq!(seen[5..], ["QUIT\r\n", "<end>"]);

    let (r, socket) = Records::pair();
    let server =
        thread::spawn(move || play(r, "250 rec.test", vec![vec![], vec!["221 2.0.0 Bye"]]));
    let reply = over(socket).quit().unwrap();
    assert_eq!(reply.code, 221);
    assert_eq!(server.join().unwrap()[1..], ["QUIT\r\n", "<end>"]);
}

/// sendmail answers the end of one message at once and the next
/// message's envelope in a second write: the client reads both, and each
/// message's end still shares a write with the next envelope.
#[test]
fn a_batch_whose_replies_come_in_two_writes_per_group() {
    let (r, socket) = Records::pair();
    let server = thread::spawn(move || {
        play(
            r,
            "250-rec.test\n250 PIPELINING",
            vec![
                vec!["250 2.1.0 Ok\n250 2.1.5 Ok\n354 go"],
                vec![
                    "250 2.0.0 M1 accepted",
                    "250 2.1.0 Ok\n250 2.1.5 Ok\n354 go",
                ],
                vec![
                    "250 2.0.0 M2 accepted",
                    "250 2.1.0 Ok\n250 2.1.5 Ok\n354 go",
                ],
                vec![],
                vec!["250 2.0.0 M3 accepted\n221 2.0.0 Bye"],
            ],
        )
    });
    let env = env();
    let results = over(socket).send_batch_and_quit((0..3).map(|_| (&env, MSG)));
    let seen = server.join().unwrap();
    for (i, r) in results.iter().enumerate() {
        let text = r.as_ref().unwrap().reply.text();
        assert!(text.contains(&format!("M{} accepted", i + 1)), "{text}");
    }
    let body = String::from_utf8_lossy(MSG);
    let next = format!("{body}.\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
    let last = format!("{body}.\r\nQUIT\r\n");
    assert_eq!(
        seen[2..],
        [next.as_str(), next.as_str(), last.as_str(), "<end>"]
    );
}

/// Exim waits for the client to close before it answers QUIT: after the
/// half-close the 221 (and a message's result read with it) comes.
#[test]
fn a_server_that_answers_quit_only_once_the_client_closes() {
    let server = Server::start(script([
        greet_ehlo(&[]),
        vec![
            Act::Line,
            Act::AwaitClose,
            send("221 2.0.0 closing connection"),
        ],
    ]));
    let reply = plain_client(server.port()).quit().unwrap();
    assert_eq!(reply.code, 221);
    assert_eq!(server.text(), "EHLO client.test\r\nQUIT\r\n");

    let server = Server::start(script([
        greet_ehlo(&["PIPELINING"]),
        vec![Act::Line, Act::Line, Act::Line],
        vec![
            send("250 2.1.0 Ok\n250 2.1.5 Ok\n354 go"),
            Act::Data,
            Act::Line,
        ],
        vec![
            Act::AwaitClose,
            send("250 OK id=E1\n221 2.0.0 closing connection"),
        ],
    ]));
    let delivered = plain_client(server.port()).send_and_quit(&env(), MSG);
    assert!(delivered.is_ok(), "{delivered:?}");
    assert!(server.text().ends_with(".\r\nQUIT\r\n"));
}

/// The message's result is known before QUIT's reply: a server that goes
/// without a 221 changes nothing.
#[test]
fn a_missing_221_after_the_last_message_is_not_an_error() {
    let server = Server::start(script([
        greet_ehlo(&["PIPELINING"]),
        vec![Act::Line, Act::Line, Act::Line],
        vec![
            send("250 2.1.0 Ok\n250 2.1.5 Ok\n354 go"),
            Act::Data,
            Act::Line,
        ],
        vec![send("250 2.0.0 Ok: queued as N1"), Act::Close],
    ]));
    let delivered = plain_client(server.port()).send_and_quit(&env(), MSG);
    assert_eq!(delivered.unwrap().queue_id(), Some("N1"));
}

/// TCP_QUICKACK is set before each read of replies: a socket put in
/// delayed-ACK ("pingpong") mode leaves a read of a reply in quick-ACK
/// mode. (The kernel reports the mode; nothing here is timed.)
#[test]
fn a_read_of_replies_asks_for_quick_acks() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(LIFETIME)).unwrap();
        let mut r = std::io::BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        use std::io::{BufRead, Write};
        w.write_all(b"220 t ESMTP\r\n").unwrap();
        let mut line = String::new();
        for reply in ["250 t", "250 2.0.0 Ok", "221 2.0.0 Bye"] {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            w.write_all(format!("{reply}\r\n").as_bytes()).unwrap();
        }
    });
    let socket = TcpStream::connect(addr).unwrap();
    let watch = socket.try_clone().unwrap();
    let mut c = over(socket);
    let sock = SockRef::from(&watch);
    sock.set_tcp_quickack(false).unwrap();
    assert!(!sock.tcp_quickack().unwrap(), "delayed ACKs to begin with");
    c.noop().unwrap();
    assert!(sock.tcp_quickack().unwrap(), "quick ACKs after a read");
    c.quit().unwrap();
    server.join().unwrap();
}

/// OpenSMTPD takes 100 messages per session, offers no PIPELINING, and
/// says `452 4.5.3` to the MAIL of the 101st: the rest go over new
/// connections, in a batch or one call at a time, every one delivered once.
#[test]
fn a_batch_beyond_a_servers_100_messages_per_session_goes_on_over_new_connections() {
    for one_at_a_time in [false, true] {
        let fake = Fake::start(Settings {
            pipelining: false,
            max_messages: Some((100, Spent::Refuse452)),
            ..Settings::default()
        });
        let mut c = plain_client(fake.port());
        let env = env();
        let bodies: Vec<String> = (0..250)
            .map(|i| format!("Subject: {i}\r\n\r\n{i}\r\n"))
            .collect();
        let results: Vec<_> = if one_at_a_time {
            bodies
                .iter()
                .map(|b| c.send_bytes(&env, b.as_bytes()))
                .collect()
        } else {
            c.send_batch(bodies.iter().map(|b| (&env, b.as_bytes())))
        };
        c.quit().unwrap();
        for (i, r) in results.iter().enumerate() {
            assert!(
                r.is_ok(),
                "one_at_a_time={one_at_a_time} message {i}: {r:?}"
            );
        }
        let stored = fake.stored();
        let contents: Vec<&[u8]> = stored.iter().map(|s| s.content.as_slice()).collect();
        let want: Vec<&[u8]> = bodies.iter().map(|b| b.as_bytes()).collect();
        assert_eq!(contents, want, "each once, in order");
        let per: Vec<usize> = (0..3)
            .map(|n| stored.iter().filter(|s| s.connection == n).count())
            .collect();
        assert_eq!(per, [100, 100, 50], "one_at_a_time={one_at_a_time}");
        assert_eq!(fake.connections(), 3);
    }
}
