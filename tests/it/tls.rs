//! TLS against scripted loopback servers (rustls on the server side, so
//! every handshake is OpenSSL talking to rustls): STARTTLS rules, response
//! injection, capabilities across TLS, bad certificates, stalls, implicit TLS.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smtpc::{Client, ClientBuilder, Envelope, Error, Tls, TlsVersion};

use crate::support::certs::pki;
use crate::support::*;

const MSG: &str = "Subject: over TLS\r\n\r\nsecret content\r\n";

fn builder(server: &Server, mode: Tls) -> ClientBuilder {
    Client::builder("127.0.0.1")
        .port(server.port())
        .tls(mode)
        .helo_name("client.test")
        .timeout(Duration::from_secs(5))
        .add_root_certificate(pki().ca_pem.as_bytes())
        .disable_system_roots()
}

fn starttls_ok(config: Arc<rustls::ServerConfig>) -> Vec<Act> {
    script([
        greet_ehlo(&["PIPELINING", "STARTTLS"]),
        on_line("220 2.0.0 Ready to start TLS"),
        vec![Act::Tls(config)],
    ])
}

fn send_one(c: &mut Client) -> Result<smtpc::Delivery, Error> {
    let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    c.send(&env, MSG.as_bytes())
}

#[test]
fn starttls_required_and_offered() {
    let server = Server::start(script([
        starttls_ok(pki().server.server_config()),
        vec![Act::Line, send("250-test.example\n250 SIZE 1000")],
        transaction(1),
        quit(),
    ]));
    let mut c = builder(&server, Tls::StartTls).connect().unwrap();
    assert!(c.is_encrypted());
    assert_eq!(c.extensions().max_size(), Some(1000));
    assert!(!c.extensions().starttls(), "only the post-TLS EHLO counts");
    send_one(&mut c).unwrap();
    c.quit().unwrap();
    assert_eq!(
        server.text(),
        format!(
            "EHLO client.test\r\nSTARTTLS\r\nEHLO client.test\r\nMAIL FROM:<a@x.test> SIZE={}\r\n\
             RCPT TO:<b@y.test>\r\nDATA\r\n{MSG}.\r\nQUIT\r\n",
            MSG.len()
        )
    );
}

#[test]
fn starttls_is_the_default_and_port_follows_the_mode() {
    assert_eq!(Tls::default(), Tls::StartTls);
    assert_eq!(Tls::StartTls.default_port(), 587);
    assert_eq!(Tls::Opportunistic.default_port(), 587);
    assert_eq!(Tls::Implicit.default_port(), 465);
    assert_eq!(Tls::None.default_port(), 25);
    // No .tls(): a server without STARTTLS is refused.
    let server = Server::start(script([greet_ehlo(&["8BITMIME"]), vec![Act::Drain]]));
    let err = Client::builder("127.0.0.1")
        .port(server.port())
        .timeout(Duration::from_secs(5))
        .connect()
        .unwrap_err();
    assert!(
        matches!(err, Error::TlsUnavailable { reply: None }),
        "{err}"
    );
}

#[test]
fn required_starttls_absent_fails_before_mail_or_auth() {
    let server = Server::start(script([greet_ehlo(&["AUTH PLAIN"]), vec![Act::Drain]]));
    let err = builder(&server, Tls::StartTls)
        .credentials("bob", "hunter2")
        .connect()
        .unwrap_err();
    assert!(
        matches!(err, Error::TlsUnavailable { reply: None }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "STARTTLS required but not offered by the server"
    );
    assert_eq!(server.text(), "EHLO client.test\r\nQUIT\r\n");
}

#[test]
fn starttls_refused() {
    for (mode, code) in [
        (Tls::StartTls, "454 4.7.0 TLS not available"),
        (Tls::Opportunistic, "454 4.7.0 TLS not available"),
    ] {
        let server = Server::start(script([
            greet_ehlo(&["STARTTLS"]),
            on_line(code),
            vec![Act::Drain],
        ]));
        let err = builder(&server, mode).connect().unwrap_err();
        let Error::TlsUnavailable { reply: Some(r) } = &err else {
            panic!("{mode:?} {code}: {err}")
        };
        assert_eq!(
            r.first_line(),
            code.split_once(' ').unwrap().1.trim_start_matches("4.7.0 ")
        );
        assert_eq!(err.is_transient(), code.starts_with('4'));
        let wire = server.text();
        assert!(
            wire.ends_with("STARTTLS\r\nQUIT\r\n"),
            "no downgrade: {wire}"
        );
    }
}

/// A 2yz other than 220 to STARTTLS is no refusal but a protocol error
/// (RFC 3207 names 220), and never a downgrade.
#[test]
fn starttls_answered_with_another_2yz() {
    for mode in [Tls::StartTls, Tls::Opportunistic] {
        let server = Server::start(script([
            greet_ehlo(&["STARTTLS"]),
            on_line("250 sure"),
            vec![Act::Drain],
        ]));
        let err = builder(&server, mode).connect().unwrap_err();
        assert!(
            matches!(&err, Error::UnexpectedReply { expected: "220", reply } if reply.code == 250),
            "{mode:?}: {err}"
        );
        let wire = server.text();
        assert!(
            wire.ends_with("STARTTLS\r\nQUIT\r\n"),
            "no downgrade: {wire}"
        );
    }
}

#[test]
fn opportunistic_without_starttls_goes_plain() {
    let server = Server::start(script([greet_ehlo(&["8BITMIME"]), transaction(1), quit()]));
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let mut c = builder(&server, Tls::Opportunistic)
        .transcript(move |_, line| sink.lock().unwrap().push(line.to_owned()))
        .connect()
        .unwrap();
    assert!(!c.is_encrypted());
    send_one(&mut c).unwrap();
    c.quit().unwrap();
    assert!(log
        .lock()
        .unwrap()
        .contains(&"STARTTLS not offered: continuing without TLS".to_owned()));
}

#[test]
fn opportunistic_with_starttls_upgrades() {
    let server = Server::start(script([
        starttls_ok(pki().server.server_config()),
        vec![Act::Line, send("250 test.example")],
        quit(),
    ]));
    let mut c = builder(&server, Tls::Opportunistic).connect().unwrap();
    assert!(c.is_encrypted());
    c.quit().unwrap();
}

#[test]
fn response_injection_after_220_is_refused() {
    // A man in the middle appends replies to the 220, hoping they will be
    // read as the server's answer to the EHLO sent over TLS.
    let server = Server::start(script([
        greet_ehlo(&["STARTTLS"]),
        vec![
            Act::Line,
            Act::Send(b"220 2.0.0 Ready\r\n250-evil.example\r\n250 AUTH PLAIN\r\n".to_vec()),
        ],
        vec![Act::Drain],
    ]));
    let err = builder(&server, Tls::StartTls).connect().unwrap_err();
    assert!(
        matches!(err, Error::StartTlsInjection { bytes: 34 }),
        "{err:?}"
    );
    let wire = server.received();
    assert_eq!(
        wire, b"EHLO client.test\r\nSTARTTLS\r\n",
        "no handshake, no more commands"
    );
}

#[test]
fn injection_split_across_reads_is_caught_too() {
    // The extra bytes come in the same TCP segment as the 220's last byte
    // only; still in the buffer when the 220 is parsed.
    let server = Server::start(script([
        greet_ehlo(&["STARTTLS"]),
        vec![Act::Line, Act::Send(b"220 Ready\r\n2".to_vec())],
        vec![Act::Drain],
    ]));
    let err = builder(&server, Tls::StartTls).connect().unwrap_err();
    assert!(
        matches!(err, Error::StartTlsInjection { bytes: 1 }),
        "{err:?}"
    );
}

#[test]
fn capabilities_before_tls_are_forgotten() {
    let server = Server::start(script([
        greet_ehlo(&["STARTTLS", "AUTH PLAIN LOGIN", "XBEFORE", "SIZE 10"]),
        on_line("220 go"),
        vec![Act::Tls(pki().server.server_config())],
        vec![
            Act::Line,
            send("250-test.example\n250-AUTH LOGIN\n250 8BITMIME"),
        ],
        on_line("334 VXNlcm5hbWU6"),
        on_line("334 UGFzc3dvcmQ6"),
        on_line("235 2.7.0 Authentication successful"),
        quit(),
    ]));
    let mut c = builder(&server, Tls::StartTls)
        .credentials("bob", "hunter2")
        .connect()
        .unwrap();
    let ext = c.extensions();
    assert!(!ext.has("XBEFORE") && !ext.supports_size() && ext.eight_bit_mime());
    assert_eq!(ext.auth_mechanisms(), ["LOGIN"]);
    assert_eq!(c.auth_reply().unwrap().code, 235);
    c.quit().unwrap();
    let wire = server.text();
    assert!(
        wire.contains("AUTH LOGIN\r\nYm9i\r\naHVudGVyMg==\r\n"),
        "{wire}"
    );
}

fn expect_tls_error(
    config: Arc<rustls::ServerConfig>,
    b: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Error {
    let server = Server::start(starttls_ok(config));
    let err = b(builder(&server, Tls::StartTls)).connect().unwrap_err();
    server.received();
    err
}

#[test]
fn bad_certificates_are_refused() {
    let p = pki();
    for (name, leaf) in [
        ("self-signed", &p.self_signed),
        ("wrong host", &p.wrong_host),
        ("expired", &p.expired),
    ] {
        let err = expect_tls_error(leaf.server_config(), |b| b);
        assert!(matches!(err, Error::Tls { .. }), "{name}: {err}");
        assert!(
            err.to_string()
                .starts_with("TLS handshake with 127.0.0.1: TLS: "),
            "{err}"
        );
    }
    // Without the test CA, even the good certificate is unknown.
    let server = Server::start(starttls_ok(p.server.server_config()));
    let err = Client::builder("127.0.0.1")
        .port(server.port())
        .timeout(Duration::from_secs(5))
        .add_root_certificate(p.self_signed.cert_pem.as_bytes())
        .disable_system_roots()
        .connect()
        .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err}");
}

#[test]
fn danger_options_turn_checks_off_one_by_one() {
    let p = pki();
    let ok = |config, b: fn(ClientBuilder) -> ClientBuilder| {
        let server = Server::start(script([
            starttls_ok(config),
            vec![Act::Line, send("250 test.example")],
            quit(),
        ]));
        let mut c = b(builder(&server, Tls::StartTls)).connect().unwrap();
        assert!(c.is_encrypted());
        c.quit().unwrap();
    };
    ok(p.self_signed.server_config(), |b| {
        b.danger_accept_invalid_certs(true)
    });
    ok(p.wrong_host.server_config(), |b| {
        b.danger_accept_invalid_hostnames(true)
    });
    // Accepting other host names does not accept an untrusted chain.
    let err = expect_tls_error(p.self_signed.server_config(), |b| {
        b.danger_accept_invalid_hostnames(true)
    });
    assert!(matches!(err, Error::Tls { .. }), "{err}");
}

#[test]
fn server_name_distinct_from_the_address() {
    let p = pki();
    let err = expect_tls_error(p.named.server_config(), |b| b);
    assert!(matches!(err, Error::Tls { .. }), "{err}");
    let server = Server::start(script([
        starttls_ok(p.named.server_config()),
        vec![Act::Line, send("250 mail.test")],
        quit(),
    ]));
    let mut c = builder(&server, Tls::StartTls)
        .tls_server_name("mail.test")
        .connect()
        .unwrap();
    c.quit().unwrap();
}

#[test]
fn root_certificates_from_files_and_der() {
    let p = pki();
    let der_file = p.dir.join("ca.der");
    std::fs::write(&der_file, &p.ca_der).unwrap();
    for (what, b) in [
        (
            "PEM file",
            Client::builder("127.0.0.1").add_root_certificate_file(&p.ca_file),
        ),
        (
            "DER file",
            Client::builder("127.0.0.1").add_root_certificate_file(&der_file),
        ),
        (
            "DER bytes",
            Client::builder("127.0.0.1").add_root_certificate(&p.ca_der),
        ),
    ] {
        let server = Server::start(script([
            starttls_ok(p.server.server_config()),
            vec![Act::Line, send("250 ok")],
            quit(),
        ]));
        let mut c = b
            .port(server.port())
            .disable_system_roots()
            .timeout(Duration::from_secs(5))
            .connect()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        c.quit().unwrap();
    }
    let missing = Client::builder("127.0.0.1")
        .add_root_certificate_file(p.dir.join("nope.pem"))
        .connect()
        .unwrap_err();
    assert!(missing.to_string().contains("nope.pem"), "{missing}");
    let garbage = Client::builder("127.0.0.1")
        .add_root_certificate(b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
        .connect()
        .unwrap_err();
    assert!(
        matches!(garbage, Error::Tls { .. } | Error::InvalidInput(_)),
        "{garbage}"
    );
}

#[test]
fn client_identity() {
    let p = pki();
    let err = expect_tls_error(p.client_auth_config(), |b| b);
    assert!(
        matches!(err, Error::Tls { .. } | Error::ConnectionClosed { .. }),
        "{err}"
    );
    let server = Server::start(script([
        starttls_ok(p.client_auth_config()),
        vec![Act::Line, send("250 hello client")],
        quit(),
    ]));
    let mut c = builder(&server, Tls::StartTls)
        .identity_pem(p.client.cert_pem.as_bytes(), p.client.key_pem.as_bytes())
        .connect()
        .unwrap();
    c.quit().unwrap();
}

#[test]
fn minimum_protocol_version() {
    let p = pki();
    let err = expect_tls_error(p.tls12_only_config(), |b| {
        b.min_tls_version(TlsVersion::Tls13)
    });
    assert!(matches!(err, Error::Tls { .. }), "{err}");
    let server = Server::start(script([
        starttls_ok(p.tls12_only_config()),
        vec![Act::Line, send("250 ok")],
        quit(),
    ]));
    let mut c = builder(&server, Tls::StartTls).connect().unwrap();
    c.quit().unwrap();
}

#[test]
fn stalled_handshake_times_out() {
    for implicit in [false, true] {
        let stall = vec![Act::Line, Act::Sleep(Duration::from_secs(3))];
        let s = if implicit {
            stall
        } else {
            script([greet_ehlo(&["STARTTLS"]), on_line("220 go"), stall])
        };
        let server = Server::start(s);
        let start = Instant::now();
        let err = builder(
            &server,
            if implicit {
                Tls::Implicit
            } else {
                Tls::StartTls
            },
        )
        .timeout(Duration::from_millis(700))
        .connect()
        .unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        assert!(
            err.to_string().starts_with("TLS handshake with 127.0.0.1"),
            "{err}"
        );
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }
}

#[test]
fn cleartext_answer_to_client_hello() {
    // Implicit TLS against a plaintext server: the greeting arrives where a
    // ServerHello should.
    let server = Server::start(vec![
        send("220 plain.example ESMTP"),
        Act::Sleep(Duration::from_secs(2)),
    ]);
    let start = Instant::now();
    let err = builder(&server, Tls::Implicit).connect().unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn implicit_tls_session() {
    let server = Server::start(script([
        vec![Act::Tls(pki().server.server_config())],
        greet_ehlo(&["8BITMIME"]),
        transaction(1),
        quit(),
    ]));
    let mut c = builder(&server, Tls::Implicit).connect().unwrap();
    assert!(c.is_encrypted());
    send_one(&mut c).unwrap();
    c.quit().unwrap();
    assert!(server.text().contains("secret content"));
}

/// A message file over TLS cannot go by sendfile: its BDAT chunk is read
/// from the file and written through TLS, byte for byte.
#[test]
fn message_file_over_tls_goes_through_tls() {
    let content = b"over TLS from a file\r\n".repeat(20_000);
    let path = crate::support::real::scratch_dir("tls-file").join("m.eml");
    std::fs::write(&path, &content).unwrap();
    let file = smtpc::MessageFile::open(&path).unwrap();
    let server = Server::start(script([
        vec![Act::Tls(pki().server.server_config())],
        greet_ehlo(&["PIPELINING", "CHUNKING"]),
        vec![Act::Line, Act::Line, Act::Line, Act::Bytes(content.len())],
        vec![send("250 ok\n250 ok\n250 2.0.0 queued as T1")],
        quit(),
    ]));
    let mut c = builder(&server, Tls::Implicit).connect().unwrap();
    let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    let d = c.send_message(&env, &file).unwrap();
    assert_eq!(d.queue_id(), Some("T1"));
    c.quit().unwrap();
    let got = server.received();
    let head = format!("BDAT {} LAST\r\n", content.len());
    let at = got
        .windows(head.len())
        .position(|w| w == head.as_bytes())
        .unwrap();
    assert_eq!(
        &got[at + head.len()..at + head.len() + content.len()],
        &content[..]
    );
}
