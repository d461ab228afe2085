//! AUTH (RFC 4954) against scripted servers: each mechanism on the wire,
//! the choice of mechanism, failures, bounds, and secrets kept out of
//! errors, Debug output and the transcript.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use smtpc::{Client, ClientBuilder, Error, Mechanism, Tls};

use crate::support::certs::pki;
use crate::support::*;

const USER: &str = "bob";
const SECRET: &str = "hunter2";
/// base64 of "\0bob\0hunter2", and of "hunter2" alone.
const PLAIN_B64: &str = "AGJvYgBodW50ZXIy";
const SECRET_B64: &str = "aHVudGVyMg==";

/// A plaintext client with the insecure opt-in (scripted servers only).
fn plain(server: &Server) -> ClientBuilder {
    Client::builder("127.0.0.1")
        .port(server.port())
        .tls(Tls::None)
        .helo_name("client.test")
        .timeout(Duration::from_secs(5))
        .credentials(USER, SECRET)
        .allow_insecure_auth(true)
}

fn assert_no_secret(text: &str) {
    for secret in [SECRET, PLAIN_B64, SECRET_B64] {
        assert!(
            !text.contains(secret),
            "secret {secret:?} leaked in {text:?}"
        );
    }
}

#[test]
fn plain_over_starttls_with_redacted_transcript() {
    let server = Server::start(script([
        greet_ehlo(&["STARTTLS"]),
        on_line("220 go"),
        vec![Act::Tls(pki().server.server_config())],
        vec![Act::Line, send("250-test.example\n250 AUTH PLAIN LOGIN")],
        on_line("235 2.7.0 Authentication successful"),
        quit(),
    ]));
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let mut c = Client::builder("127.0.0.1")
        .port(server.port())
        .add_root_certificate(pki().ca_pem.as_bytes())
        .credentials(USER, SECRET)
        .auth_mechanisms(&[Mechanism::Plain])
        .transcript(move |d, l| sink.lock().unwrap().push(format!("{d:?} {l}")))
        .connect()
        .unwrap();
    assert_eq!(c.auth_reply().unwrap().code, 235);
    c.quit().unwrap();
    assert!(server
        .text()
        .contains(&format!("AUTH PLAIN {PLAIN_B64}\r\n")));
    let log = log.lock().unwrap().join("\n");
    assert!(log.contains("Sent AUTH PLAIN <redacted>"), "{log}");
    assert_no_secret(&log);
}

#[test]
fn login_exchange() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH LOGIN"]),
        on_line("334 VXNlcm5hbWU6"),
        on_line("334 UGFzc3dvcmQ6"),
        on_line("235 ok"),
        quit(),
    ]));
    let mut c = plain(&server).connect().unwrap();
    c.quit().unwrap();
    assert_eq!(
        server.text(),
        format!("EHLO client.test\r\nAUTH LOGIN\r\nYm9i\r\n{SECRET_B64}\r\nQUIT\r\n")
    );
}

#[test]
fn cram_md5_is_preferred_and_answers_the_challenge() {
    // RFC 2195's example exchange.
    let server = Server::start(script([
        greet_ehlo(&["AUTH LOGIN PLAIN CRAM-MD5"]),
        on_line("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
        on_line("235 ok"),
        quit(),
    ]));
    let mut c = plain(&server)
        .credentials("tim", "tanstaaftanstaaf")
        .connect()
        .unwrap();
    c.quit().unwrap();
    let wire = server.text();
    assert!(
        wire.contains("AUTH CRAM-MD5\r\ndGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
        "{wire}"
    );
}

#[test]
fn explicit_mechanism_list_overrides() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH CRAM-MD5 PLAIN LOGIN"]),
        on_line("235 ok"),
        quit(),
    ]));
    let mut c = plain(&server)
        .auth_mechanisms(&[Mechanism::Plain, Mechanism::Login])
        .connect()
        .unwrap();
    c.quit().unwrap();
    assert!(server
        .text()
        .contains(&format!("AUTH PLAIN {PLAIN_B64}\r\n")));
}

#[test]
fn refused_credentials_give_an_auth_error_without_secrets() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH PLAIN"]),
        on_line("535 5.7.8 Authentication credentials invalid"),
        vec![Act::Line],
    ]));
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let err = plain(&server)
        .transcript(move |_, l| sink.lock().unwrap().push(l.to_owned()))
        .connect()
        .unwrap_err();
    let Error::Auth { reply: Some(r), .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code, 535);
    assert!(err.is_permanent());
    assert_eq!(
        err.to_string(),
        "AUTH PLAIN refused: 535 5.7.8 Authentication credentials invalid"
    );
    assert_no_secret(&err.to_string());
    assert_no_secret(&format!("{err:?}"));
    assert_no_secret(&log.lock().unwrap().join("\n"));
    assert!(
        server.text().ends_with("QUIT\r\n"),
        "the session is ended politely"
    );
}

#[test]
fn no_credentials_over_plaintext_without_opt_in() {
    for mode in [Tls::None, Tls::Opportunistic] {
        let server = Server::start(script([greet_ehlo(&["AUTH PLAIN LOGIN"]), vec![Act::Line]]));
        let err = plain(&server)
            .tls(mode)
            .allow_insecure_auth(false)
            .connect()
            .unwrap_err();
        assert!(matches!(err, Error::Auth { reply: None, .. }), "{err}");
        assert!(err.to_string().contains("without TLS"), "{err}");
        assert_eq!(
            server.text(),
            "EHLO client.test\r\nQUIT\r\n",
            "{mode:?}: no AUTH line"
        );
    }
}

#[test]
fn debug_output_of_the_builder_hides_the_secret() {
    let b = Client::builder("x").credentials(USER, SECRET);
    let shown = format!("{b:?}");
    assert!(shown.contains(USER), "{shown}");
    assert_no_secret(&shown);
}

#[test]
fn challenges_are_bounded() {
    let mut s = greet_ehlo(&["AUTH LOGIN"]);
    // LOGIN answers two challenges; the third is cancelled with '*'.
    for _ in 0..3 {
        s.extend(on_line("334 VXNlcm5hbWU6"));
    }
    s.extend(on_line("501 5.7.0 Cancelled"));
    s.push(Act::Line);
    let server = Server::start(s);
    let err = plain(&server).connect().unwrap_err();
    assert!(
        matches!(&err, Error::Auth { reply: Some(r), .. } if r.code == 501),
        "{err}"
    );
    let wire = server.text();
    assert!(wire.ends_with("*\r\nQUIT\r\n"), "{wire}");

    // A server that challenges forever is cut off after a few rounds.
    let mut s = greet_ehlo(&["AUTH CRAM-MD5"]);
    for _ in 0..20 {
        s.extend(on_line("334 PDE+"));
    }
    let server = Server::start(s);
    let err = plain(&server).connect().unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err}");
    let lines = lines(&server.received());
    assert!(lines.len() < 10, "{lines:?}");
}

#[test]
fn no_common_mechanism_or_no_auth_at_all() {
    let server = Server::start(script([greet_ehlo(&["AUTH GSSAPI NTLM"]), vec![Act::Line]]));
    let err = plain(&server).connect().unwrap_err();
    assert!(
        err.to_string()
            .contains("no mechanism in common (server offers GSSAPI NTLM"),
        "{err}"
    );
    let server = Server::start(script([greet_ehlo(&["8BITMIME"]), vec![Act::Line]]));
    let err = plain(&server).connect().unwrap_err();
    assert_eq!(err.to_string(), "AUTH: the server does not offer AUTH");
}

#[test]
fn xoauth2_failure_flow() {
    // On a bad token the server sends an error document and waits for an
    // empty line before its 535.
    let server = Server::start(script([
        greet_ehlo(&["AUTH XOAUTH2"]),
        on_line("334 eyJzdGF0dXMiOiI0MDEifQ=="),
        on_line("535 5.7.8 Username and Password not accepted"),
        vec![Act::Line],
    ]));
    let err = plain(&server)
        .credentials("me@example.org", "ya29.token")
        .auth_mechanisms(&[Mechanism::XOAuth2])
        .connect()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Auth { reply: Some(r), .. } if r.code == 535),
        "{err}"
    );
    let lines = lines(&server.received());
    assert_eq!(
        lines[1].split(' ').take(2).collect::<Vec<_>>(),
        ["AUTH", "XOAUTH2"]
    );
    assert_eq!(lines[2], "", "empty line after the error challenge");
}

#[test]
fn oauthbearer_success() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH OAUTHBEARER"]),
        on_line("235 ok"),
        quit(),
    ]));
    let mut c = plain(&server)
        .credentials("me@example.org", "tok")
        .auth_mechanisms(&[Mechanism::OAuthBearer])
        .connect()
        .unwrap();
    c.quit().unwrap();
    // base64 of "n,a=me@example.org,\x01auth=Bearer tok\x01\x01"
    assert!(server
        .text()
        .contains("AUTH OAUTHBEARER bixhPW1lQGV4YW1wbGUub3JnLAFhdXRoPUJlYXJlciB0b2sBAQ==\r\n"));
}

/// A 535 that repeats the line it answers, and what that line decodes to.
fn echo() -> Act {
    respond(|line| {
        use base64::Engine as _;
        let last = line.rsplit(' ').next().unwrap_or("");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(last)
            .map(|d| String::from_utf8_lossy(&d).replace('\0', " "))
            .unwrap_or_default();
        format!("535-5.7.8 you sent: {line}\n535 5.7.8 which says: {decoded}")
    })
}

#[test]
fn a_server_that_echoes_the_credentials_gets_them_redacted() {
    for (mechanism, exchange) in [
        ("PLAIN", vec![echo()]),
        (
            "LOGIN",
            script([
                on_line("334 VXNlcm5hbWU6"),
                on_line("334 UGFzc3dvcmQ6"),
                vec![echo()],
            ]),
        ),
    ] {
        let server = Server::start(script([
            greet_ehlo(&["AUTH PLAIN LOGIN"]),
            exchange,
            vec![Act::Line],
        ]));
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let err = plain(&server)
            .auth_mechanisms(&[Mechanism::from_name(mechanism).unwrap()])
            .transcript(move |d, l| sink.lock().unwrap().push(format!("{d:?} {l}")))
            .connect()
            .unwrap_err();
        let Error::Auth { reply: Some(r), .. } = &err else {
            panic!("{err:?}")
        };
        let log = log.lock().unwrap().join("\n");
        // The server did echo them: the redaction had something to hide.
        let wire = server.text();
        assert!(wire.contains(PLAIN_B64) || wire.contains(SECRET_B64));
        for shown in [err.to_string(), format!("{err:?}"), r.text(), log.clone()] {
            assert_no_secret(&shown);
            assert!(shown.contains("you sent: "), "{shown}");
        }
        let refusal: Vec<&str> = log.lines().filter(|l| l.contains(" 535")).collect();
        assert_eq!(refusal.len(), 2, "{mechanism}: {log}");
        for line in refusal {
            assert!(line.ends_with(" <redacted>"), "{mechanism}: {line}");
        }
    }
}

#[test]
fn a_password_that_occurs_in_a_challenge_or_a_reply_code_changes_nothing() {
    // "VXN" is in LOGIN's first challenge ("Username:"), "235" is the
    // code of the acceptance: neither is touched where the client reads
    // it, and the session goes on.
    for password in ["VXN", "235"] {
        let server = Server::start(script([
            greet_ehlo(&["AUTH LOGIN"]),
            on_line("334 VXNlcm5hbWU6"),
            on_line("334 UGFzc3dvcmQ6"),
            on_line("235 2.7.0 Accepted"),
            quit(),
        ]));
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let mut client = plain(&server)
            .credentials(USER, password)
            .transcript(move |_, l| sink.lock().unwrap().push(l.to_owned()))
            .connect()
            .unwrap_or_else(|e| panic!("{password}: {e}"));
        assert_eq!(client.auth_reply().unwrap().code, 235);
        client.quit().unwrap();
        let log = log.lock().unwrap().join("\n");
        assert!(log.contains("235 2.7.0 Accepted"), "{log}");
    }
}
