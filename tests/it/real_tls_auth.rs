//! TLS and AUTH against real servers, each started on an ephemeral loopback
//! port: mailin-embedded (rustls), aiosmtpd (Python's ssl, i.e. OpenSSL)
//! and a private Postfix smtpd (OpenSSL, Cyrus SASL). The messages they
//! stored must be what was sent.

use std::time::Duration;

use smtpc::{Client, ClientBuilder, Envelope, Error, Mechanism, Tls};

use crate::support::certs::pki;
use crate::support::real::{Aiosmtpd, Postfix, POSTFIX_USER};
use crate::support::{mailin_with, normalised, MAILIN_PASSWORD, MAILIN_USER};

const MSG: &str =
    "From: a@x.test\r\nTo: b@y.test\r\nSubject: TLS matrix\r\n\r\nline\r\n.dot line\r\n";

fn builder(port: u16, mode: Tls) -> ClientBuilder {
    Client::builder("localhost")
        .port(port)
        .tls(mode)
        .helo_name("client.test")
        .timeout(Duration::from_secs(20))
        .add_root_certificate_file(&pki().ca_file)
        .disable_system_roots()
}

fn send(c: &mut Client) -> smtpc::Delivery {
    let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    c.send(&env, MSG.as_bytes()).expect("send")
}

#[test]
fn mailin_embedded_starttls_and_auth() {
    let (port, store) = mailin_with(true);
    for mech in [Mechanism::Plain, Mechanism::Login] {
        let mut c = builder(port, Tls::StartTls)
            .credentials(MAILIN_USER, MAILIN_PASSWORD)
            .auth_mechanisms(&[mech])
            .connect()
            .unwrap_or_else(|e| panic!("{mech}: {e}"));
        assert!(c.is_encrypted());
        assert_eq!(c.auth_reply().unwrap().code, 235);
        send(&mut c);
        c.quit().unwrap();
    }
    let err = builder(port, Tls::StartTls)
        .credentials(MAILIN_USER, "wrong")
        .connect()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Auth { reply: Some(r), .. } if r.code == 535),
        "{err}"
    );
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|m| m.data == MSG.as_bytes()));
}

#[test]
fn aiosmtpd_starttls_and_auth() {
    let Some(server) = Aiosmtpd::start() else {
        return;
    };
    // AUTH is offered only after STARTTLS.
    for mech in [Mechanism::Plain, Mechanism::Login] {
        let mut c = builder(server.port, Tls::StartTls)
            .credentials("bob", "hunter2")
            .auth_mechanisms(&[mech])
            .connect()
            .unwrap_or_else(|e| panic!("{mech}: {e}"));
        assert!(c.is_encrypted());
        assert!(c.extensions().smtp_utf8());
        send(&mut c);
        c.quit().unwrap();
    }
    // The default choice among PLAIN and LOGIN.
    let mut c = builder(server.port, Tls::Opportunistic)
        .credentials("bob", "hunter2")
        .connect()
        .unwrap();
    assert!(c.is_encrypted());
    let d = send(&mut c);
    assert_eq!(d.queue_id(), Some("AIO0003"));
    c.quit().unwrap();

    let err = builder(server.port, Tls::StartTls)
        .credentials("bob", "wrong")
        .connect()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Auth { reply: Some(r), .. } if r.code == 535),
        "{err}"
    );
    assert!(!err.to_string().contains("wrong"));

    // Plaintext with credentials: refused before AUTH is sent.
    let err = builder(server.port, Tls::None)
        .credentials("bob", "hunter2")
        .connect()
        .unwrap_err();
    assert!(matches!(err, Error::Auth { reply: None, .. }), "{err}");

    let got = server.messages(3);
    assert_eq!(got.len(), 3);
    for (meta, data) in got {
        assert!(
            meta.contains("tls=True") && meta.contains("auth=True"),
            "{meta}"
        );
        assert!(
            meta.contains("from=a@x.test") && meta.contains("to=b@y.test"),
            "{meta}"
        );
        assert_eq!(data, normalised(MSG.as_bytes()));
    }
}

#[test]
fn postfix_starttls_and_sasl_auth() {
    let Some(server) = Postfix::start() else {
        return;
    };
    let mut sent = 0;
    // Postfix with Cyrus SASL offers SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5
    // PLAIN LOGIN after STARTTLS; the default picks SCRAM-SHA-256 (no
    // -PLUS: Postfix gives Cyrus no channel binding data).
    for mechs in [
        &Mechanism::PASSWORD_DEFAULT[..],
        &[Mechanism::ScramSha1],
        &[Mechanism::CramMd5],
        &[Mechanism::Plain],
        &[Mechanism::Login],
    ] {
        let mut c = builder(server.port, Tls::StartTls)
            .credentials(POSTFIX_USER, "hunter2")
            .auth_mechanisms(mechs)
            .connect()
            .unwrap_or_else(|e| panic!("{mechs:?}: {e}\n{}", server.log()));
        assert!(c.is_encrypted());
        let ext = c.extensions();
        assert!(ext.pipelining() && ext.chunking() && ext.dsn() && ext.smtp_utf8());
        assert_eq!(
            ext.auth_mechanisms(),
            ["SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN"],
        );
        let d = send(&mut c);
        assert!(d.queue_id().is_some(), "{}", d.reply);
        sent += 1;
        c.quit().unwrap();
    }
    let log = server.log();
    for method in ["SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN"] {
        assert!(
            log.contains(&format!("sasl_method={method},")),
            "{method} should have been used:\n{log}"
        );
    }
    let err = builder(server.port, Tls::StartTls)
        .credentials(POSTFIX_USER, "wrong")
        .connect()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Auth { reply: Some(r), .. } if r.code == 535),
        "{err}"
    );
    // Before STARTTLS Postfix offers no AUTH: with Tls::None and the
    // insecure opt-in, the client still cannot authenticate.
    let err = builder(server.port, Tls::None)
        .credentials(POSTFIX_USER, "hunter2")
        .allow_insecure_auth(true)
        .connect()
        .unwrap_err();
    assert_eq!(err.to_string(), "AUTH: the server does not offer AUTH");
    // Implicit TLS against a STARTTLS port is a TLS error, not a hang.
    let err = builder(server.port, Tls::Implicit).connect().unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err}");

    let got = server.messages(sent);
    assert_eq!(got.len(), sent);
    for m in got {
        // pipe(8) writes LF line endings; Postfix adds Received, Message-Id
        // and Date headers.
        let m = String::from_utf8_lossy(&m).into_owned();
        assert!(m.starts_with("Received: from client.test"), "{m}");
        assert!(
            m.contains("with ESMTPSA id"),
            "TLS and AUTH noted in Received: {m}"
        );
        assert!(
            m.contains("\nFrom: a@x.test\nTo: b@y.test\nSubject: TLS matrix\n"),
            "{m}"
        );
        assert!(m.ends_with("\n\nline\n.dot line\n"), "{m}");
    }
}

#[test]
fn postfix_scram_with_a_provider_that_renews_a_wrong_password() {
    let Some(server) = Postfix::start() else {
        return;
    };
    // SCRAM-SHA-256 against Cyrus SASL: the server's signature is checked
    // (a wrong one fails the session), the password never sent.
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = calls.clone();
    let mut c = builder(server.port, Tls::StartTls)
        .auth_mechanisms(&[Mechanism::ScramSha256])
        .credentials_provider(POSTFIX_USER, move |renew| {
            seen.lock().unwrap().push(renew);
            Ok::<_, String>(smtpc::Secret::new(if renew { "hunter2" } else { "stale" }))
        })
        .connect()
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert_eq!(*calls.lock().unwrap(), [false, true]);
    assert_eq!(c.auth_reply().unwrap().code, 235);
    send(&mut c);
    c.quit().unwrap();
    let log = server.log();
    assert!(
        log.contains("sasl_method=SCRAM-SHA-256, sasl_username=bob"),
        "{log}"
    );
    assert_eq!(
        log.matches("SASL SCRAM-SHA-256 authentication failed")
            .count(),
        1,
        "{log}"
    );

    // A wrong password, from a fixed credential: 535, once.
    let err = builder(server.port, Tls::StartTls)
        .credentials(POSTFIX_USER, "wrong")
        .connect()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "AUTH SCRAM-SHA-256 refused: 535 5.7.8 Error: authentication failed: \
         authentication failure"
    );
    // -PLUS is not offered: asking for it alone finds nothing in common.
    let err = builder(server.port, Tls::StartTls)
        .credentials(POSTFIX_USER, "hunter2")
        .auth_mechanisms(&[Mechanism::ScramSha256Plus])
        .connect()
        .unwrap_err();
    assert!(err.to_string().contains("no mechanism in common"), "{err}");
    assert_eq!(server.messages(1).len(), 1);
}
