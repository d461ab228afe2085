//! The SMTP exchange against scripted loopback servers: what goes on the
//! wire, and what the client makes of every kind of reply.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smtpc::{Client, Direction, Envelope, Error, Tls};

use crate::support::*;

fn connect(server: &Server) -> Result<Client, Error> {
    Client::builder("127.0.0.1")
        .tls(Tls::None)
        .port(server.port())
        .helo_name("client.test")
        .timeout(Duration::from_secs(5))
        .connect()
}

const MSG: &str = "From: kjj@solidosystems.com\r\nSubject: Hand written SMTP\r\n\r\nHello.\r\n";

#[test]
fn step_by_step_exchange_as_typed_by_hand() {
    let server = Server::start(script([
        greet_ehlo(&["8BITMIME", "SIZE 1000"]),
        transaction(1),
        quit(),
    ]));
    let mut c = connect(&server).unwrap();
    assert_eq!(c.greeting().code, 220);
    assert!(c.extensions().eight_bit_mime());
    assert_eq!(c.extensions().max_size(), Some(1000));
    assert_eq!(c.mail("kjj@solidosystems.com").unwrap().code, 250);
    let r = c.rcpt("khl@solidosystems.com").unwrap();
    assert_eq!(r.enhanced.unwrap().to_string(), "2.1.5");
    let r = c.data(MSG.as_bytes()).unwrap();
    assert_eq!(r.queue_id(), Some("ABC123"));
    assert_eq!(c.quit().unwrap().code, 221);
    assert!(c.is_closed());
    assert_eq!(
        server.text(),
        format!(
            "EHLO client.test\r\nMAIL FROM:<kjj@solidosystems.com>\r\n\
             RCPT TO:<khl@solidosystems.com>\r\nDATA\r\n{MSG}.\r\nQUIT\r\n"
        )
    );
}

#[test]
fn send_whole_message_and_reuse_connection() {
    let server = Server::start(script([
        greet_ehlo(&[]),
        transaction(2),
        transaction(1),
        quit(),
    ]));
    let mut c = connect(&server).unwrap();
    let env = Envelope::new("a@x.test", ["b@y.test", "c@y.test"]).unwrap();
    let d = c.send(&env, "line\n.dot\n".as_bytes()).unwrap();
    assert_eq!(d.accepted, ["b@y.test", "c@y.test"]);
    assert!(d.is_complete());
    assert_eq!(d.queue_id(), Some("ABC123"));
    let env2 = Envelope::new("<>", ["d@y.test"]).unwrap();
    c.send(&env2, &b"second"[..]).unwrap();
    c.quit().unwrap();
    let wire = server.text();
    assert!(wire.contains("DATA\r\nline\r\n..dot\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<d@y.test>\r\n"));
    assert!(wire.ends_with("DATA\r\nsecond\r\n.\r\nQUIT\r\n"));
}

#[test]
fn partial_rejection_still_sends_to_the_others() {
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 ok"),
        on_line("550 5.1.1 <b@y.test>: No such user"),
        on_line("250 ok"),
        on_line("451 4.3.0 try later"),
        on_line("354 go"),
        vec![Act::Data, send("250 2.0.0 Ok: queued as Q1")],
        quit(),
    ]));
    let mut c = connect(&server).unwrap();
    let env = Envelope::new("a@x.test", ["b@y.test", "c@y.test", "d@y.test"]).unwrap();
    let d = c.send(&env, MSG.as_bytes()).unwrap();
    assert_eq!(d.accepted, ["c@y.test"]);
    let rejected: Vec<_> = d
        .rejected
        .iter()
        .map(|r| (r.recipient.as_str(), r.reply.code))
        .collect();
    assert_eq!(rejected, [("b@y.test", 550), ("d@y.test", 451)]);
    assert_eq!(
        d.rejected[0].reply.in_reply_to(),
        Some("RCPT TO:<b@y.test>")
    );
    c.quit().unwrap();
    assert!(server.text().contains(MSG));
}

#[test]
fn all_rejected_never_sends_the_body_and_resets() {
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 ok"),
        on_line("550 5.1.1 No such user"),
        on_line("450 4.2.1 Mailbox busy"),
        on_line("250 2.0.0 Reset"),
        quit(),
    ]));
    let mut c = connect(&server).unwrap();
    let env = Envelope::new("a@x.test", ["b@y.test", "c@y.test"]).unwrap();
    let err = c.send(&env, MSG.as_bytes()).unwrap_err();
    let Error::AllRecipientsRejected(list) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].reply.code, 450);
    assert!(err.is_transient(), "one refusal was 4xx");
    assert_eq!(
        err.to_string(),
        "all recipients were rejected: <b@y.test>: 550 5.1.1 No such user; \
         <c@y.test>: 450 4.2.1 Mailbox busy"
    );
    c.quit().unwrap();
    let wire = server.text();
    assert!(!wire.contains("DATA"), "{wire}");
    assert!(wire.ends_with("RCPT TO:<c@y.test>\r\nRSET\r\nQUIT\r\n"));
}

#[test]
fn multiline_replies_and_empty_last_ehlo_line() {
    let server = Server::start(script([
        vec![send("220-first line\n220-second\n220 third")],
        vec![
            Act::Line,
            send("250-sink.test\n250-PIPELINING\n250-AUTH PLAIN LOGIN\n250-DSN\n250 "),
        ],
        on_line("250-2.0.0 one\n250-2.0.0 two\n250 2.0.0 three"),
        quit(),
    ]));
    let mut c = connect(&server).unwrap();
    assert_eq!(c.greeting().lines, ["first line", "second", "third"]);
    let ext = c.extensions();
    assert!(ext.pipelining() && ext.dsn());
    assert_eq!(ext.auth_mechanisms(), ["PLAIN", "LOGIN"]);
    let r = c.noop().unwrap();
    assert_eq!(r.lines, ["one", "two", "three"]);
    assert_eq!(r.to_string(), "250 2.0.0 one / two / three");
    c.quit().unwrap();
}

#[test]
fn helo_fallback_on_500_and_502_only() {
    for code in ["500 5.5.1 Unknown command", "502 Not implemented"] {
        let server = Server::start(script([
            vec![send("220 old.test SMTP")],
            on_line(code),
            on_line("250 old.test"),
            quit(),
        ]));
        let mut c = connect(&server).unwrap();
        assert_eq!(c.extensions().keywords().count(), 0);
        c.quit().unwrap();
        assert_eq!(
            server.text(),
            "EHLO client.test\r\nHELO client.test\r\nQUIT\r\n"
        );
    }
    for (code, transient) in [
        ("421 4.3.2 Shutting down", true),
        ("451 later", true),
        ("554 no", false),
    ] {
        let server = Server::start(script([
            vec![send("220 x")],
            on_line(code),
            vec![Act::Drain],
        ]));
        let err = connect(&server).unwrap_err();
        assert_eq!(err.is_transient(), transient, "{code}: {err}");
        assert_eq!(err.is_permanent(), !transient, "{code}: {err}");
        assert!(err.to_string().starts_with("EHLO client.test: "), "{err}");
        let wire = server.text();
        assert!(!wire.contains("HELO"), "{code}: fell back to HELO: {wire}");
    }
}

#[test]
fn greeting_refusals() {
    let server = Server::start(script([vec![send("554 5.3.2 No service")], quit()]));
    let err = connect(&server).unwrap_err();
    assert!(matches!(&err, Error::Permanent(r) if r.code == 554));
    assert_eq!(err.to_string(), "greeting: 554 5.3.2 No service");
    assert_eq!(
        server.text(),
        "QUIT\r\n",
        "RFC 5321 3.1: QUIT after a 554 greeting"
    );

    let server = Server::start(vec![send("421 4.3.2 Busy"), Act::Drain]);
    let err = connect(&server).unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(server.text(), "");

    let server = Server::start(vec![send("250 not a greeting"), Act::Drain]);
    let err = connect(&server).unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnexpectedReply {
                expected: "220",
                ..
            }
        ),
        "{err}"
    );
}

/// A reply of `code` at each step of a transaction: the right error, the
/// right RSET, and a client that can go on unless the server said 421.
#[test]
fn negative_reply_at_every_step() {
    let body = MSG.as_bytes();
    for code in [
        "451 4.3.0 Temporary",
        "554 5.7.1 Refused",
        "421 4.4.2 Closing",
    ] {
        let closing = code.starts_with("421");
        let after = |mut s: Vec<Act>| {
            if closing {
                s.push(Act::Drain);
            } else {
                s.extend(on_line("250 reset"));
                s.extend(quit());
            }
            s
        };
        let cases: Vec<(&str, Vec<Act>)> = vec![
            (
                "MAIL FROM:<a@x.test>",
                after(script([greet_ehlo(&[]), on_line(code)])),
            ),
            (
                "DATA",
                after(script([
                    greet_ehlo(&[]),
                    on_line("250 ok"),
                    on_line("250 ok"),
                    on_line(code),
                ])),
            ),
            (
                "end of data",
                after(script([
                    greet_ehlo(&[]),
                    on_line("250 ok"),
                    on_line("250 ok"),
                    on_line("354 go"),
                    vec![Act::Data, send(code)],
                ])),
            ),
        ];
        for (step, s) in cases {
            let server = Server::start(s);
            let mut c = connect(&server).unwrap();
            let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
            let err = c.send(&env, body).unwrap_err();
            assert_eq!(err.to_string(), format!("{step}: {code}"));
            assert_eq!(err.is_transient(), !code.starts_with('5'));
            assert_eq!(err.is_permanent(), code.starts_with('5'));
            assert_eq!(c.is_closed(), closing, "{step} {code}");
            if closing {
                let again = c.noop().unwrap_err();
                assert!(matches!(again, Error::ConnectionClosed { .. }), "{again}");
            } else {
                c.quit().unwrap();
            }
            let wire = server.text();
            assert_eq!(wire.contains("RSET"), !closing, "{step} {code}: {wire}");
        }
    }
}

#[test]
fn rcpt_421_ends_the_transaction() {
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 ok"),
        on_line("421 4.3.2 Shutting down"),
        vec![Act::Drain],
    ]));
    let mut c = connect(&server).unwrap();
    let env = Envelope::new("a@x.test", ["b@y.test", "c@y.test"]).unwrap();
    let err = c.send(&env, MSG.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, Error::Transient(r) if r.code == 421),
        "{err}"
    );
    assert!(c.is_closed());
    let wire = server.text();
    assert!(
        !wire.contains("c@y.test") && !wire.contains("DATA"),
        "{wire}"
    );
}

#[test]
fn wrong_class_replies() {
    // 3xx where 2xx is due.
    let server = Server::start(script([greet_ehlo(&[]), on_line("354 what"), quit()]));
    let mut c = connect(&server).unwrap();
    let err = c.mail("a@x.test").unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnexpectedReply {
                expected: "250",
                ..
            }
        ),
        "{err}"
    );
    c.quit().unwrap();
    // 2xx where 354 is due: the body must not be sent.
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 ok"),
        on_line("250 ok"),
        on_line("250 ok"),
        on_line("250 reset"),
        quit(),
    ]));
    let mut c = connect(&server).unwrap();
    let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    let err = c.send(&env, MSG.as_bytes()).unwrap_err();
    assert_eq!(err.to_string(), "DATA: expected 354, got 250 ok");
    c.quit().unwrap();
    let wire = server.text();
    assert!(!wire.contains("Subject"), "{wire}");
    assert!(wire.ends_with("DATA\r\nRSET\r\nQUIT\r\n"));
}

#[test]
fn malformed_replies_close_the_connection() {
    for bad in [
        "25a OK",
        "2500 OK",
        "250-first\n251 second",
        "hello",
        "250x",
    ] {
        let server = Server::start(script([greet_ehlo(&[]), on_line(bad), vec![Act::Drain]]));
        let mut c = connect(&server).unwrap();
        let err = c.noop().unwrap_err();
        assert!(matches!(err, Error::MalformedReply { .. }), "{bad}: {err}");
        assert!(err.to_string().starts_with("NOOP: "), "{err}");
        assert!(c.is_closed());
        assert!(matches!(
            c.noop().unwrap_err(),
            Error::ConnectionClosed { .. }
        ));
    }
}

#[test]
fn nul_and_non_utf8_in_replies_are_fine() {
    let server = Server::start(script([
        vec![Act::Send(b"220 caf\xe9 \x00 ESMTP\r\n".to_vec())],
        vec![
            Act::Line,
            Act::Send(b"250-h\xffst\r\n250 8BITMIME\r\n".to_vec()),
        ],
        quit(),
    ]));
    let mut c = connect(&server).unwrap();
    assert_eq!(c.greeting().lines, ["caf\u{fffd} \u{0} ESMTP"]);
    assert!(c.extensions().eight_bit_mime());
    c.quit().unwrap();
}

#[test]
fn silence_after_connect_times_out() {
    let server = Server::start(vec![Act::Sleep(Duration::from_millis(1500))]);
    let start = Instant::now();
    let err = Client::builder("127.0.0.1")
        .tls(Tls::None)
        .port(server.port())
        .timeout(Duration::from_millis(500))
        .connect()
        .unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(err.to_string(), "greeting: timed out");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    server.received();
}

#[test]
fn dribbled_reply_is_bounded_by_the_timeout() {
    // 200 bytes at 20 ms each would take 4 s; the whole reply has 600 ms.
    let slow = format!("220 {}\r\n", "x".repeat(200)).into_bytes();
    let server = Server::start(vec![Act::Dribble(slow, Duration::from_millis(20))]);
    let start = Instant::now();
    let err = Client::builder("127.0.0.1")
        .tls(Tls::None)
        .port(server.port())
        .timeout(Duration::from_millis(600))
        .connect()
        .unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

#[test]
fn closed_mid_reply_and_before_end_of_data_reply() {
    let server = Server::start(vec![Act::Send(b"220-part".to_vec()), Act::Close]);
    let err = connect(&server).unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed { .. }), "{err}");

    let server = Server::start(script([greet_ehlo(&[]), vec![Act::Close]]));
    let mut c = connect(&server).unwrap();
    let err = c.noop().unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed { .. }), "{err}");

    // The server takes the whole message, then vanishes: nobody knows
    // whether it was delivered (RFC 1047), and it is not reported sent.
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 ok"),
        on_line("250 ok"),
        on_line("354 go"),
        vec![Act::Data, Act::Close],
    ]));
    let mut c = connect(&server).unwrap();
    let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    let err = c.send(&env, MSG.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "end of data: connection closed: the message may have been delivered"
    );
    assert!(err.is_outcome_unknown());
    assert_eq!(err.kind(), smtpc::ErrorKind::Unknown);
    assert!(!err.is_transient() && !err.is_permanent());
    assert!(c.is_closed());
}

#[test]
fn oversized_and_endless_replies_are_refused() {
    let long = format!("220 {}", "x".repeat(10_000));
    let server = Server::start(vec![send(&long), Act::Drain]);
    let err = connect(&server).unwrap_err();
    assert!(matches!(err, Error::MalformedReply { .. }), "{err}");

    let endless = "220-more\n".repeat(1000);
    let server = Server::start(vec![send(&endless), Act::Drain]);
    let err = connect(&server).unwrap_err();
    assert!(err.to_string().contains("reply longer than"), "{err}");
}

#[test]
fn invalid_input_sends_nothing() {
    let server = Server::start(script([greet_ehlo(&[]), quit()]));
    let mut c = connect(&server).unwrap();
    for bad in ["a@x\r\nRSET", "a@x\n", "a\0@x", "a@x> SIZE=1", "a b@x"] {
        assert!(
            matches!(c.mail(bad).unwrap_err(), Error::InvalidInput(_)),
            "{bad:?}"
        );
        assert!(
            matches!(c.rcpt(bad).unwrap_err(), Error::InvalidInput(_)),
            "{bad:?}"
        );
    }
    assert!(matches!(
        c.vrfy("x\r\nDATA").unwrap_err(),
        Error::InvalidInput(_)
    ));
    assert!(matches!(c.rcpt("").unwrap_err(), Error::InvalidInput(_)));
    c.quit().unwrap();
    assert_eq!(server.text(), "EHLO client.test\r\nQUIT\r\n");

    let server = Server::start_for(
        "127.0.0.1:0",
        vec![send("220 x"), Act::Drain],
        Duration::from_millis(300),
    );
    let err = Client::builder("127.0.0.1")
        .tls(Tls::None)
        .port(server.port())
        .helo_name("evil\r\nMAIL FROM:<x>")
        .connect()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    assert_eq!(server.text(), "", "not even a connection may be made");
}

#[test]
fn non_ascii_address_needs_smtputf8() {
    let server = Server::start(script([greet_ehlo(&[]), quit()]));
    let mut c = connect(&server).unwrap();
    let env = Envelope::new("j\u{f6}rg@x.test", ["b@y.test"]).unwrap();
    let err = c.send(&env, MSG.as_bytes()).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    c.quit().unwrap();
    assert!(!server.text().contains("MAIL"));

    let server = Server::start(script([
        greet_ehlo(&["SMTPUTF8", "8BITMIME"]),
        transaction(1),
        quit(),
    ]));
    let mut c = connect(&server).unwrap();
    c.send(&env, MSG.as_bytes()).unwrap();
    c.quit().unwrap();
    assert!(server
        .text()
        .contains("MAIL FROM:<j\u{f6}rg@x.test> SMTPUTF8\r\n"));
}

#[test]
fn transcript_shows_the_exchange_without_the_body() {
    let server = Server::start(script([greet_ehlo(&["8BITMIME"]), transaction(1), quit()]));
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let mut c = Client::builder("127.0.0.1")
        .tls(Tls::None)
        .port(server.port())
        .helo_name("client.test")
        .transcript(move |dir, line| sink.lock().unwrap().push(format!("{dir:?} {line}")))
        .connect()
        .unwrap();
    let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    c.send(&env, MSG.as_bytes()).unwrap();
    c.quit().unwrap();
    let log = log.lock().unwrap().clone();
    let expected = [
        "Received 220 test.example ESMTP ready",
        "Sent EHLO client.test",
        "Received 250-test.example Hello",
        "Received 250 8BITMIME",
        "Sent MAIL FROM:<a@x.test>",
        "Received 250 2.1.0 Ok",
        "Sent RCPT TO:<b@y.test>",
        "Received 250 2.1.5 Ok",
        "Sent DATA",
        "Received 354 End data with <CR><LF>.<CR><LF>",
        &format!("Info ({} bytes of message content)", MSG.len()),
        "Sent .",
        "Received 250 2.0.0 Ok: queued as ABC123",
        "Sent QUIT",
        "Received 221 2.0.0 Bye",
    ];
    assert!(
        log[0].starts_with("Info connected to 127.0.0.1:"),
        "{log:?}"
    );
    assert_eq!(log[1..], expected);
    assert!(
        !log.iter().any(|l| l.contains("Hello.")),
        "body must be summarised"
    );
    let _ = Direction::Sent;
}

#[test]
fn each_command_and_the_final_dot_leave_in_one_write() {
    let (mem, writes) = Memory::new(&[
        "220 mem ESMTP\r\n",
        "250 mem\r\n",
        "250 ok\r\n",
        "250 ok\r\n",
        "354 go\r\n",
        "250 queued\r\n",
        "221 bye\r\n",
    ]);
    let mut c = Client::builder("mem")
        .tls(Tls::None)
        .helo_name("c.test")
        .connect_stream(mem)
        .unwrap();
    let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    c.send(&env, MSG.as_bytes()).unwrap();
    c.quit().unwrap();
    let writes: Vec<String> = writes
        .lock()
        .unwrap()
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    assert_eq!(
        writes,
        [
            "EHLO c.test\r\n",
            "MAIL FROM:<a@x.test>\r\n",
            "RCPT TO:<b@y.test>\r\n",
            "DATA\r\n",
            &format!("{MSG}.\r\n"),
            "QUIT\r\n"
        ]
    );
}

#[test]
fn ipv6_loopback() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    drop(listener);
    let server = Server::start_on("[::1]:0", script([greet_ehlo(&[]), quit()]));
    let mut c = Client::builder("[::1]")
        .tls(Tls::None)
        .port(server.port())
        .timeout(Duration::from_secs(5))
        .connect()
        .unwrap();
    c.quit().unwrap();
    assert_eq!(server.text(), "EHLO [IPv6:::1]\r\nQUIT\r\n");
}

#[test]
fn dropping_the_client_says_quit() {
    let server = Server::start(script([greet_ehlo(&[]), vec![Act::Line]]));
    let c = connect(&server).unwrap();
    drop(c);
    assert_eq!(server.text(), "EHLO client.test\r\nQUIT\r\n");
}

#[test]
fn unreadable_body_aborts_without_end_of_data() {
    struct Failing(usize);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            self.0 -= 1;
            let n = buf.len().min(6);
            buf[..n].copy_from_slice(&b"line\r\n"[..n]);
            Ok(n)
        }
    }
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 ok"),
        on_line("250 ok"),
        on_line("354 go"),
        vec![Act::Drain],
    ]));
    let mut c = connect(&server).unwrap();
    let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    // More than the first block (read before MAIL), so it fails mid-content.
    let err = c.send(&env, Failing(50_000)).unwrap_err();
    assert!(
        err.to_string()
            .contains("reading the message: disk on fire"),
        "{err}"
    );
    assert!(c.is_closed());
    let wire = server.text();
    assert!(
        !wire.contains("\r\n.\r\n"),
        "a cut message must not be ended: {wire:?}"
    );
}

#[test]
fn body_failing_before_anything_is_sent_leaves_the_connection_usable() {
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    let server = Server::start(script([
        greet_ehlo(&["PIPELINING"]),
        on_line("250 ok"),
        quit(),
    ]));
    let mut c = connect(&server).unwrap();
    let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    let err = c.send(&env, Failing).unwrap_err();
    assert_eq!(err.to_string(), "reading the message: disk on fire");
    assert!(!c.is_closed());
    c.noop().unwrap();
    c.quit().unwrap();
    assert_eq!(server.text(), "EHLO client.test\r\nNOOP\r\nQUIT\r\n");
}

#[test]
fn body_type_is_declared_from_what_is_known_of_the_content() {
    // (body, server offers 8BITMIME, the MAIL line expected)
    let big_7bit = "seven bit line\r\n".repeat(40_000); // larger than the read-ahead
    let cases: [(&[u8], bool, &str); 4] = [
        (b"small 7-bit\r\n", true, "MAIL FROM:<a@x.test>"),
        (
            "small 8-bit \u{e9}\r\n".as_bytes(),
            true,
            "MAIL FROM:<a@x.test> BODY=8BITMIME",
        ),
        // Only the head of a long stream is seen before MAIL: its kind is
        // unknown, and 8BITMIME is declared because it may be needed.
        (
            big_7bit.as_bytes(),
            true,
            "MAIL FROM:<a@x.test> BODY=8BITMIME",
        ),
        (big_7bit.as_bytes(), false, "MAIL FROM:<a@x.test>"),
    ];
    for (body, offered, mail) in cases {
        let ext: &[&str] = if offered { &["8BITMIME"] } else { &[] };
        let server = Server::start(script([greet_ehlo(ext), transaction(1), quit()]));
        let mut c = connect(&server).unwrap();
        let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
        // A reader, not a slice: the streamed path.
        c.send(&env, std::io::Cursor::new(body)).unwrap();
        c.quit().unwrap();
        let sent = lines(&server.received());
        assert_eq!(
            sent[1],
            mail,
            "{} bytes, 8BITMIME offered: {offered}",
            body.len()
        );
    }
}
