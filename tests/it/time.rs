//! Time and cancel against scripted servers that go silent: each wait is
//! bounded by its own phase's timeout, a call by its deadline however its
//! time is spent, and a cancel from another thread ends any wait, never
//! as a success.
//!
//! Nothing here measures time: each case sets the limit under test short
//! and every other one long (a minute), so only the limit under test can
//! end the wait, and the test checks which error ended it.

use std::io::{self, Read};
use std::thread;
use std::time::{Duration, Instant};

use smtpc::{Client, ClientBuilder, Envelope, Error, ErrorKind, Phase, Tls};

use crate::support::certs::pki;
use crate::support::{greet_ehlo, on_line, script, send, Act, Server};

const LONG: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(300);

fn builder(server: &Server) -> ClientBuilder {
    Client::builder("127.0.0.1")
        .port(server.port())
        .helo_name("client.test")
        .tls(Tls::None)
        .timeout(LONG)
        .connect_timeout(LONG)
}

fn envelope() -> Envelope {
    Envelope::new("a@x.test", ["b@y.test"]).unwrap()
}

/// A server that answers up to a point and is then silent (it reads,
/// and never writes), with a client whose `phase` alone is short.
fn silent_at(phase: Phase, answered: Vec<Vec<Act>>) -> Result<(), Error> {
    let mut parts = answered;
    parts.push(vec![Act::Drain]);
    let server = Server::start(script(parts));
    let mut client = builder(&server).phase_timeout(phase, SHORT).connect()?;
    client.send_bytes(&envelope(), b"Subject: t\r\n\r\nbody\r\n")?;
    Ok(())
}

fn timed_out(result: Result<(), Error>, during: &str) {
    match result {
        Err(Error::Timeout { during: d }) => assert_eq!(d, during),
        // After the end of data, a reply that never came leaves the
        // outcome unknown.
        Err(Error::OutcomeUnknown(e)) if during == "end of data" => {
            assert!(
                matches!(*e, Error::Timeout { during: ref d } if d == during),
                "{e:?}"
            )
        }
        other => panic!("expected a timeout at {during}, got {other:?}"),
    }
}

#[test]
fn each_wait_is_bounded_by_its_phase() {
    let greeting = vec![send("220 test.example ESMTP ready")];
    let hello = || greet_ehlo(&[]);
    timed_out(silent_at(Phase::Greeting, vec![]), "greeting");
    timed_out(silent_at(Phase::Other, vec![greeting]), "EHLO client.test");
    timed_out(
        silent_at(Phase::Mail, vec![hello()]),
        "MAIL FROM:<a@x.test>",
    );
    timed_out(
        silent_at(Phase::Rcpt, vec![hello(), on_line("250 ok")]),
        "RCPT TO:<b@y.test>",
    );
    timed_out(
        silent_at(
            Phase::Data,
            vec![hello(), on_line("250 ok"), on_line("250 ok")],
        ),
        "DATA",
    );
    let before_end = vec![
        hello(),
        on_line("250 ok"),
        on_line("250 ok"),
        on_line("354 go on"),
        vec![Act::Data],
    ];
    timed_out(silent_at(Phase::EndOfData, before_end), "end of data");
}

#[test]
fn a_short_phase_does_not_bound_the_others() {
    // RCPT alone is short; the MAIL reply comes after longer than that,
    // and is waited for. Then the server is silent at RCPT.
    let server = Server::start(script([
        greet_ehlo(&[]),
        vec![Act::Line, Act::Sleep(SHORT * 3), send("250 ok")],
        vec![Act::Drain],
    ]));
    let mut client = builder(&server)
        .phase_timeout(Phase::Rcpt, SHORT)
        .connect()
        .unwrap();
    let e = client
        .send_bytes(&envelope(), b"Subject: t\r\n\r\nbody\r\n")
        .unwrap_err();
    assert!(
        matches!(&e, Error::Timeout { during } if during == "RCPT TO:<b@y.test>"),
        "{e:?}"
    );
    assert!(client.is_closed());
}

/// A body of `len` bytes, made as it is read.
struct Endless(u64);

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.0) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = if i % 64 == 63 { b'\n' } else { b'x' };
        }
        self.0 -= n as u64;
        Ok(n)
    }
}

/// A reader that says when `at` bytes have been read from it.
struct Watched<R> {
    inner: R,
    read: u64,
    at: u64,
    tell: Option<std::sync::mpsc::Sender<()>>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read >= self.at {
            if let Some(tell) = self.tell.take() {
                let _ = tell.send(());
            }
        }
        Ok(n)
    }
}

/// A server that says 354 and then reads nothing more: the client's
/// writes fill the socket buffers and block.
fn stops_reading_after_354() -> Server {
    Server::start(script([
        greet_ehlo(&[]),
        on_line("250 ok"),
        on_line("250 ok"),
        on_line("354 go on"),
        vec![Act::Sleep(Duration::from_secs(15)), Act::Close],
    ]))
}

#[test]
fn a_write_that_makes_no_progress_is_bounded_by_the_data_block_phase() {
    let server = stops_reading_after_354();
    let mut client = builder(&server)
        .phase_timeout(Phase::DataBlock, SHORT)
        .connect()
        .unwrap();
    let e = client.send(&envelope(), Endless(256 << 20)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(
        matches!(&e, Error::Timeout { during } if during == "DATA"),
        "{e:?}"
    );
    assert!(client.is_closed());
}

#[test]
fn the_call_timeout_bounds_a_call_of_many_slow_replies() {
    // Each reply comes within the phases' timeouts (a minute), 200 ms
    // late; the whole send takes longer than its 500 ms.
    let slow = || {
        vec![
            Act::Line,
            Act::Sleep(Duration::from_millis(200)),
            send("250 ok"),
        ]
    };
    let server = Server::start(script([
        greet_ehlo(&[]),
        slow(),
        slow(),
        slow(),
        slow(),
        vec![Act::Drain],
    ]));
    let mut client = builder(&server)
        .call_timeout(Duration::from_millis(500))
        .connect()
        .unwrap();
    let to = ["b@y.test", "c@y.test", "d@y.test", "e@y.test"];
    let envelope = Envelope::new("a@x.test", to).unwrap();
    let e = client
        .send_bytes(&envelope, b"Subject: t\r\n\r\nbody\r\n")
        .unwrap_err();
    assert!(matches!(e, Error::Deadline { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.to_string().ends_with("the call's deadline passed"), "{e}");
    assert!(client.is_closed());
}

#[test]
fn connect_has_its_deadline_too() {
    let server = Server::start(vec![Act::Drain]);
    let e = builder(&server).call_timeout(SHORT).connect().unwrap_err();
    assert!(
        matches!(&e, Error::Deadline { during } if during == "greeting"),
        "{e:?}"
    );
    // An absolute deadline, set on the builder.
    let server = Server::start(vec![Act::Drain]);
    let e = builder(&server)
        .deadline(Instant::now() + SHORT)
        .connect()
        .unwrap_err();
    assert!(matches!(&e, Error::Deadline { .. }), "{e:?}");
}

#[test]
fn a_deadline_set_on_the_session_bounds_the_next_calls() {
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 ok"),
        vec![Act::Drain],
    ]));
    let mut client = builder(&server).connect().unwrap();
    client.set_deadline(Some(Instant::now() + LONG));
    client.noop().unwrap();
    client.set_deadline(Some(Instant::now() + SHORT));
    let e = client.noop().unwrap_err();
    assert!(
        matches!(&e, Error::Deadline { during } if during == "NOOP"),
        "{e:?}"
    );
}

/// Cancels through `canceller` once `after` has passed.
fn cancel_later(canceller: smtpc::Canceller, after: Duration) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        thread::sleep(after);
        canceller.cancel();
    })
}

#[test]
fn a_cancel_while_the_end_of_data_is_answered_is_never_a_success() {
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 ok"),
        on_line("250 ok"),
        on_line("354 go on"),
        vec![Act::Data, Act::Drain],
    ]));
    // The cancel comes 100 ms after the end of data was queued (the
    // transcript shows it): the client is waiting for its reply.
    let (ended, end_sent) = std::sync::mpsc::channel();
    let ended = std::sync::Mutex::new(ended);
    let mut client = builder(&server)
        .transcript(move |_, line| {
            if line == "." {
                let _ = ended.lock().unwrap().send(());
            }
        })
        .connect()
        .unwrap();
    let canceller = client.canceller();
    let t = thread::spawn(move || {
        if end_sent.recv().is_ok() {
            thread::sleep(Duration::from_millis(100));
        }
        canceller.cancel();
    });
    let e = client
        .send_bytes(&envelope(), b"Subject: t\r\n\r\nbody\r\n")
        .unwrap_err();
    t.join().unwrap();
    // Not a success, and not a plain failure either: the end of data went
    // out, so the server may have taken the message.
    match &e {
        Error::OutcomeUnknown(inner) => assert!(
            matches!(&**inner, Error::Cancelled { during } if during == "end of data"),
            "{inner:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(e.kind(), ErrorKind::Unknown);
    assert!(client.is_closed());
    // The session is over, and says why.
    assert!(matches!(client.noop(), Err(Error::Cancelled { .. })));
    let sent = server.text();
    assert!(sent.contains("\r\n.\r\n"), "{sent}");
    assert!(!sent.contains("QUIT"), "{sent}");
}

#[test]
fn a_cancel_during_the_content_stops_it() {
    let server = stops_reading_after_354();
    let mut client = builder(&server).connect().unwrap();
    // The cancel comes 100 ms after 512 KiB of content were taken: the
    // content is under way (and soon blocked: the server reads none of
    // it).
    let (taken, content_under_way) = std::sync::mpsc::channel();
    let canceller = client.canceller();
    let t = thread::spawn(move || {
        if content_under_way.recv().is_ok() {
            thread::sleep(Duration::from_millis(100));
        }
        canceller.cancel();
    });
    let body = Watched {
        inner: Endless(256 << 20),
        read: 0,
        at: 512 << 10,
        tell: Some(taken),
    };
    let e = client.send(&envelope(), body).unwrap_err();
    t.join().unwrap();
    assert!(
        matches!(&e, Error::Cancelled { during } if during == "DATA"),
        "{e:?}"
    );
    assert!(client.is_closed());
}

#[test]
fn a_cancel_between_calls_ends_the_next_one_before_it_sends() {
    let server = Server::start(script([greet_ehlo(&[]), vec![Act::Drain]]));
    let mut client = builder(&server).connect().unwrap();
    let canceller = client.canceller();
    canceller.cancel();
    assert!(canceller.is_pending());
    let e = client
        .send_bytes(&envelope(), b"Subject: t\r\n\r\nbody\r\n")
        .unwrap_err();
    assert!(matches!(e, Error::Cancelled { .. }), "{e:?}");
    // Taken by the call it ended.
    assert!(!canceller.is_pending());
    drop(client);
    let sent = server.text();
    assert!(!sent.contains("MAIL"), "{sent}");
}

#[test]
fn a_cancel_ends_a_connect_in_the_tls_handshake() {
    // 220 to STARTTLS, then silence: the handshake waits. The cancel comes
    // once the server has said 220.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let builder = Client::builder("127.0.0.1")
        .port(port)
        .tls(Tls::StartTls)
        .tls_server_name("localhost")
        .add_root_certificate(pki().ca_pem.as_bytes())
        .timeout(LONG);
    let canceller = builder.canceller();
    let server = thread::spawn(move || {
        use io::{BufRead, Write};
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(LONG)).unwrap();
        let mut r = io::BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        s.write_all(b"220 t ESMTP\r\n").unwrap();
        r.read_line(&mut line).unwrap();
        s.write_all(b"250-t\r\n250 STARTTLS\r\n").unwrap();
        r.read_line(&mut line).unwrap();
        s.write_all(b"220 go ahead\r\n").unwrap();
        thread::sleep(Duration::from_millis(100));
        canceller.cancel();
        // Read until the client is gone.
        let _ = io::copy(&mut r, &mut io::sink());
    });
    let e = builder.connect().unwrap_err();
    server.join().unwrap();
    assert!(
        matches!(&e, Error::Cancelled { during } if during.starts_with("TLS handshake")),
        "{e:?}"
    );
}

#[test]
fn a_cancel_ends_a_connect_to_an_address_that_never_answers() {
    let Some((hole, _filler)) = crate::support::socks::ipv6_black_hole(0) else {
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    };
    let builder = Client::builder("::1")
        .port(hole.local_addr().unwrap().port())
        .tls(Tls::None)
        .connect_timeout(LONG);
    let t = cancel_later(builder.canceller(), Duration::from_millis(300));
    let e = builder.connect().unwrap_err();
    t.join().unwrap();
    assert!(matches!(e, Error::Cancelled { .. }), "{e:?}");
}

#[test]
fn one_canceller_serves_a_connection_and_the_next() {
    let canceller = smtpc::Canceller::new();
    let first = Server::start(script([greet_ehlo(&[]), vec![Act::Drain]]));
    let mut client = builder(&first)
        .with_canceller(&canceller)
        .connect()
        .unwrap();
    let t = cancel_later(canceller.clone(), Duration::from_millis(200));
    assert!(matches!(client.noop(), Err(Error::Cancelled { .. })));
    t.join().unwrap();
    drop(client);
    // The cancel was taken: the next connection with it is not cancelled.
    let second = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 ok"),
        vec![Act::Drain],
    ]));
    let mut client = builder(&second)
        .with_canceller(&canceller)
        .connect()
        .unwrap();
    client.noop().unwrap();
}
