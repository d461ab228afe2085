//! Hostile and broken servers: every scenario ends in a clear error in
//! bounded time, never a panic, a hang, or a message reported as sent that
//! was not. Each scripted server records every byte the client sent.

use std::time::{Duration, Instant};

use smtpc::{Client, ClientBuilder, Envelope, Error, Tls};

use crate::support::certs::pki;
use crate::support::*;

fn builder(server: &Server) -> ClientBuilder {
    Client::builder("127.0.0.1")
        .port(server.port())
        .tls(Tls::None)
        .helo_name("client.test")
        .timeout(Duration::from_secs(3))
}

fn connect(server: &Server) -> Client {
    builder(server).connect().expect("connect")
}

fn envelope() -> Envelope {
    Envelope::new("a@x.test", ["b@y.test"]).unwrap()
}

/// Runs `f` and checks it took less than `limit`.
fn within<T>(limit: Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    assert!(start.elapsed() < limit, "took {:?}", start.elapsed());
    out
}

#[test]
fn ten_megabyte_line_without_lf() {
    let line = vec![b'2'; 10 * 1024 * 1024];
    let server = Server::start(vec![Act::Send(line), Act::Drain]);
    let err = within(Duration::from_secs(3), || {
        builder(&server).connect().unwrap_err()
    });
    assert!(
        matches!(&err, Error::MalformedReply { source, .. } if *source == smtpc::ReplyError::LineTooLong),
        "{err}"
    );
    server.received();
}

#[test]
fn endless_multiline_reply() {
    let endless = "250-more\r\n".repeat(100_000).into_bytes();
    let server = Server::start(script([
        greet_ehlo(&[]),
        vec![Act::Line, Act::Send(endless), Act::Drain],
    ]));
    let mut c = connect(&server);
    let err = within(Duration::from_secs(3), || c.noop().unwrap_err());
    assert!(
        matches!(&err, Error::MalformedReply { source, .. } if *source == smtpc::ReplyError::TooLong),
        "{err}"
    );
    assert!(c.is_closed());
}

#[test]
fn silence_and_dribble_at_every_wait() {
    // The greeting, the EHLO reply, the 354 and the final reply: each one
    // silent, then dribbled past the deadline.
    let prefix_for = |step: usize| -> Vec<Act> {
        let all = [
            vec![],
            vec![send("220 x")],
            script([greet_ehlo(&[]), on_line("250 ok"), on_line("250 ok")]),
            script([
                greet_ehlo(&[]),
                on_line("250 ok"),
                on_line("250 ok"),
                on_line("354 go"),
                vec![Act::Data],
            ]),
        ];
        all[step].clone()
    };
    for step in 0..4 {
        for dribble in [false, true] {
            let mut s = prefix_for(step);
            if step > 0 && step < 3 {
                s.push(Act::Line);
            }
            if dribble {
                s.push(Act::Dribble(
                    b"250 slowly but surely\r\n".to_vec(),
                    Duration::from_millis(60),
                ));
            } else {
                s.push(Act::Sleep(Duration::from_millis(1500)));
            }
            let server = Server::start(s);
            let b = builder(&server).timeout(Duration::from_millis(500));
            let err = within(Duration::from_millis(1400), || -> Error {
                let mut c = match b.connect() {
                    Ok(c) => c,
                    Err(e) => return e,
                };
                match c.send(&envelope(), &b"body"[..]) {
                    Ok(d) => panic!("step {step}: reported sent: {}", d.reply),
                    Err(e) => e,
                }
            });
            // After the end of data a silent server leaves the outcome
            // unknown; before it, it is a plain timeout.
            let timeout = match (step, err) {
                (3, Error::OutcomeUnknown(e)) => *e,
                (_, e) => e,
            };
            assert!(
                matches!(timeout, Error::Timeout { .. }),
                "step {step} dribble {dribble}: {timeout}"
            );
        }
    }
}

#[test]
fn closed_right_after_the_greeting() {
    let server = Server::start(vec![send("220 x"), Act::Close]);
    let err = builder(&server).connect().unwrap_err();
    assert!(matches!(err, Error::ConnectionClosed { .. }), "{err}");
    assert_eq!(err.to_string(), "EHLO client.test: connection closed");
}

#[test]
fn closed_while_the_body_is_sent() {
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 ok"),
        on_line("250 ok"),
        on_line("354 go"),
        vec![Act::Line, Act::Close],
    ]));
    let mut c = connect(&server);
    let body = "line of content\r\n".repeat(2_000_000).into_bytes();
    let err = within(Duration::from_secs(5), || {
        c.send(&envelope(), &body[..]).unwrap_err()
    });
    assert!(
        matches!(err, Error::ConnectionClosed { .. } | Error::Io { .. }),
        "{err}"
    );
    assert!(c.is_closed());
}

#[test]
fn three_digit_garbage_and_mixed_codes() {
    for bad in [
        "25a ok",
        "2500 ok",
        "2 5 0 ok",
        "250-a\n251 b",
        "250-a\n250-b\n550 c",
        "099 x",
        "600 x",
        "250\tok",
    ] {
        let server = Server::start(script([
            greet_ehlo(&[]),
            on_line("250 ok"),
            on_line(bad),
            vec![Act::Drain],
        ]));
        let mut c = connect(&server);
        let err = c.send(&envelope(), &b"x"[..]).unwrap_err();
        assert!(
            matches!(err, Error::MalformedReply { .. }),
            "{bad:?}: {err}"
        );
        assert!(err.to_string().starts_with("RCPT TO:<b@y.test>: "), "{err}");
    }
}

#[test]
fn reply_421_at_every_step_closes_the_session() {
    type Step = fn(&mut Client) -> Result<smtpc::Reply, Error>;
    let steps: Vec<(&str, Vec<Act>, Step)> = vec![
        ("RSET", greet_ehlo(&[]), |c| c.rset()),
        ("NOOP", greet_ehlo(&[]), |c| c.noop()),
        ("VRFY", greet_ehlo(&[]), |c| c.vrfy("postmaster")),
        ("QUIT", greet_ehlo(&[]), |c| c.quit()),
        ("MAIL", greet_ehlo(&[]), |c| c.mail("a@x.test")),
        ("RCPT", script([greet_ehlo(&[]), on_line("250 ok")]), |c| {
            c.mail("a@x.test")?;
            c.rcpt("b@y.test")
        }),
    ];
    for (name, prefix, step) in steps {
        let server = Server::start(script([
            prefix,
            on_line("421 4.3.2 Going down"),
            vec![Act::Drain],
        ]));
        let mut c = connect(&server);
        let err = step(&mut c).unwrap_err();
        assert!(
            matches!(&err, Error::Transient(r) if r.code == 421),
            "{name}: {err}"
        );
        assert!(c.is_closed(), "{name}");
        drop(c);
        let sent = lines(&server.received());
        assert!(
            sent.last().is_some_and(|l| l.starts_with(name)),
            "{name}: nothing may follow the 421: {sent:?}"
        );
    }
    // 421 to STARTTLS and to AUTH.
    let server = Server::start(script([
        greet_ehlo(&["STARTTLS"]),
        on_line("421 4.3.2 bye"),
        vec![Act::Drain],
    ]));
    let err = builder(&server).tls(Tls::StartTls).connect().unwrap_err();
    assert!(
        matches!(&err, Error::TlsUnavailable { reply: Some(r) } if r.code == 421),
        "{err}"
    );
    assert_eq!(
        server.text(),
        "EHLO client.test\r\nSTARTTLS\r\n",
        "no QUIT after 421"
    );
    let server = Server::start(script([
        greet_ehlo(&["AUTH PLAIN"]),
        on_line("421 4.3.2 bye"),
        vec![Act::Drain],
    ]));
    let err = builder(&server)
        .credentials("u", "p")
        .allow_insecure_auth(true)
        .connect()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Auth { reply: Some(r), .. } if r.code == 421),
        "{err}"
    );
    assert!(err.is_transient());
}

#[test]
fn intermediate_where_completion_is_due_and_the_reverse() {
    // 334 to MAIL, 354 to RCPT, 220 to DATA, 354 to the end of data.
    let cases: Vec<(Vec<Act>, &str)> = vec![
        (
            on_line("334 what"),
            "MAIL FROM:<a@x.test>: expected 250, got 334 what",
        ),
        (
            script([on_line("250 ok"), on_line("354 go")]),
            "RCPT TO:<b@y.test>: expected 250 or 251, got 354 go",
        ),
        (
            script([on_line("250 ok"), on_line("250 ok"), on_line("220 hi")]),
            "DATA: expected 354, got 220 hi",
        ),
        (
            script([
                on_line("250 ok"),
                on_line("250 ok"),
                on_line("354 go"),
                vec![Act::Data, send("354 more?")],
            ]),
            "end of data: expected 250, got 354 more?",
        ),
    ];
    for (steps, message) in cases {
        let server = Server::start(script([
            greet_ehlo(&[]),
            steps,
            on_line("250 reset"),
            vec![Act::Drain],
        ]));
        let mut c = connect(&server);
        let err = within(Duration::from_secs(2), || {
            c.send(&envelope(), &b"x"[..]).unwrap_err()
        });
        assert_eq!(err.to_string(), message);
        assert!(matches!(err, Error::UnexpectedReply { .. }));
        drop(c);
        assert!(
            server.text().ends_with("RSET\r\nQUIT\r\n"),
            "RSET after the failure"
        );
    }
}

#[test]
fn caller_strings_with_line_breaks_never_reach_the_wire() {
    let server = Server::start(script([greet_ehlo(&["DSN", "SMTPUTF8"]), quit()]));
    let mut c = connect(&server);
    for evil in [
        "x@y\r\nRSET",
        "x@y\nDATA",
        "x@y\rQUIT",
        "x\0@y",
        "x@y\u{85}",
        "x@y\u{2028}",
    ] {
        assert!(
            matches!(c.mail(evil), Err(Error::InvalidInput(_))),
            "mail {evil:?}"
        );
        assert!(
            matches!(c.rcpt(evil), Err(Error::InvalidInput(_))),
            "rcpt {evil:?}"
        );
        assert!(
            matches!(c.vrfy(evil), Err(Error::InvalidInput(_))),
            "vrfy {evil:?}"
        );
        assert!(Envelope::new(evil, ["b@y"]).is_err(), "sender {evil:?}");
        assert!(Envelope::new("a@x", [evil]).is_err(), "recipient {evil:?}");
        let env = Envelope::new("a@x", ["b@y"]).unwrap();
        assert!(env.envid(evil).is_err(), "envid {evil:?}");
        let r = smtpc::Recipient::new("b@y").original_recipient(evil);
        assert!(Envelope::new("a@x", [r]).is_err(), "orcpt {evil:?}");
    }
    c.quit().unwrap();
    assert_eq!(server.text(), "EHLO client.test\r\nQUIT\r\n");
    for evil in ["c.test\r\nMAIL FROM:<x>", "c test", "c.test\n"] {
        let err = Client::builder("127.0.0.1")
            .port(1)
            .tls(Tls::None)
            .helo_name(evil)
            .connect()
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput(_)),
            "helo {evil:?}: {err}"
        );
    }
}

#[test]
fn starttls_stripped_by_a_man_in_the_middle() {
    // The server offered STARTTLS; someone removed it from the EHLO reply
    // and downgraded the 220 to STARTTLS into something else.
    let server = Server::start(script([
        greet_ehlo(&["PIPELINING", "AUTH PLAIN"]),
        vec![Act::Drain],
    ]));
    let err = builder(&server)
        .tls(Tls::StartTls)
        .credentials("bob", "hunter2")
        .connect()
        .unwrap_err();
    assert!(
        matches!(err, Error::TlsUnavailable { reply: None }),
        "{err}"
    );
    let wire = server.text();
    assert!(!wire.contains("AUTH") && !wire.contains("MAIL"), "{wire}");

    // STARTTLS offered, but "XXXXXXXX" answered: the stripping kind that
    // rewrites the command.
    let server = Server::start(script([
        greet_ehlo(&["STARTTLS"]),
        on_line("500 5.5.1 unrecognized"),
        vec![Act::Drain],
    ]));
    let err = builder(&server)
        .tls(Tls::Opportunistic)
        .connect()
        .unwrap_err();
    assert!(
        matches!(err, Error::TlsUnavailable { reply: Some(_) }),
        "no silent downgrade: {err}"
    );
}

#[test]
fn garbage_instead_of_a_tls_handshake() {
    let server = Server::start(script([
        greet_ehlo(&["STARTTLS"]),
        on_line("220 go"),
        vec![Act::Line, send("250 this is not TLS"), Act::Drain],
    ]));
    let err = within(Duration::from_secs(3), || {
        builder(&server)
            .tls(Tls::StartTls)
            .add_root_certificate(pki().ca_pem.as_bytes())
            .connect()
            .unwrap_err()
    });
    assert!(matches!(err, Error::Tls { .. }), "{err}");
}

#[test]
fn tricky_bodies_on_the_wire() {
    let bodies: [&[u8]; 12] = [
        b"bare\nlf\n",
        b"bare\rcr\r",
        b"a\n.\nb",
        b"a\r.\rb",
        b"a\r\r\nb",
        b"a\n.\r\nb",
        b".",
        b".lead\r\n..two\r\n",
        b"no final newline",
        b"\x80\xff 8-bit \xc3\xa9\r\n",
        b"",
        b"\r\n.\r\n",
    ];
    for body in bodies {
        let server = Server::start(script([greet_ehlo(&["8BITMIME"]), transaction(1), quit()]));
        let mut c = connect(&server);
        c.send(&envelope(), body).unwrap();
        c.quit().unwrap();
        let wire = server.received();
        let start = find(&wire, b"DATA\r\n").expect("DATA") + 6;
        let end = wire.len() - b"QUIT\r\n".len();
        let content = &wire[start..end];
        let (unstuffed, ends) = unstuff(content);
        assert_eq!(ends, 1, "{body:?}");
        assert_eq!(unstuffed, normalised(body), "{body:?}");
    }
}

/// The same bodies with PIPELINING (the envelope and DATA in one write) and
/// with CHUNKING (BDAT: no dot-stuffing, exactly the normalised content),
/// from a reader and from memory.
#[test]
fn tricky_bodies_pipelined_and_chunked() {
    let bodies: [&[u8]; 8] = [
        b"bare\nlf\n",
        b"bare\rcr\r",
        b"a\n.\nb\r.\rc",
        b"a\r\r\nb\n.\r\n",
        b".",
        b"no final newline",
        b"\x80\xff 8-bit\r\n",
        b"",
    ];
    for body in bodies {
        for from_memory in [false, true] {
            // PIPELINING: MAIL, RCPT and DATA arrive together.
            let server = Server::start(script([
                greet_ehlo(&["PIPELINING", "8BITMIME"]),
                vec![
                    Act::Line,
                    Act::Line,
                    Act::Line,
                    send("250 ok\n250 ok\n354 go"),
                ],
                vec![Act::Data, send("250 queued")],
                quit(),
            ]));
            let wire = send_through(server, body, from_memory);
            let start = find(&wire, b"DATA\r\n").expect("DATA") + 6;
            let content = &wire[start..wire.len() - b"QUIT\r\n".len()];
            let (unstuffed, ends) = unstuff(content);
            assert_eq!((ends, unstuffed), (1, normalised(body)), "{body:?}");

            // CHUNKING: BDAT n LAST carries exactly the normalised content.
            let n = normalised(body).len();
            let server = Server::start(script([
                greet_ehlo(&["PIPELINING", "CHUNKING", "8BITMIME"]),
                vec![Act::Line, Act::Line, Act::Line, Act::Bytes(n)],
                vec![send("250 ok\n250 ok\n250 queued")],
                quit(),
            ]));
            let wire = send_through(server, body, from_memory);
            let header = format!("BDAT {n} LAST\r\n");
            let start = find(&wire, header.as_bytes()).expect("BDAT") + header.len();
            assert_eq!(
                &wire[start..wire.len() - b"QUIT\r\n".len()],
                &normalised(body)[..],
                "{body:?}"
            );
        }
    }
}

/// Sends `body` through `server` (from memory or from a reader), says
/// QUIT, and returns every byte the client sent.
fn send_through(server: Server, body: &[u8], from_memory: bool) -> Vec<u8> {
    let mut c = connect(&server);
    if from_memory {
        c.send_bytes(&envelope(), body).unwrap();
    } else {
        c.send(&envelope(), body).unwrap();
    }
    c.quit().unwrap();
    server.received()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
