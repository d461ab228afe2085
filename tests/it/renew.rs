//! Credentials providers against scripted servers: a token refused and
//! renewed, a renewal refused, a renewed token refused again, and the
//! server's error document in the error; exactly one retry, and the
//! secrets nowhere but on the wire.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use smtpc::{Client, ClientBuilder, Error, Mechanism, Secret, Tls};

use crate::support::*;

const USER: &str = "me@example.org";
/// The error document Gmail sends for an expired token.
const GOOGLE_ERROR: &str = r#"{"status":"401","schemes":"Bearer realm=\"https://accounts.google.com/\"","scope":"https://mail.google.com/"}"#;
const GOOGLE_WORDS: &str = r#"status 401, schemes Bearer realm="https://accounts.google.com/", scope https://mail.google.com/"#;

/// The `renew` of each call a provider got.
type Calls = Arc<Mutex<Vec<bool>>>;

/// A provider that hands out `tokens` in turn and records each `renew`.
fn tokens(
    tokens: &'static [&'static str],
) -> (
    Calls,
    impl FnMut(bool) -> Result<Secret, String> + Send + 'static,
) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let provider = move |renew| {
        let mut seen = seen.lock().unwrap();
        seen.push(renew);
        match tokens.get(seen.len() - 1) {
            Some(t) if !t.is_empty() => Ok(Secret::new(*t)),
            _ => Err("the refresh token was revoked".to_owned()),
        }
    };
    (calls, provider)
}

fn client(port: u16, mech: Mechanism) -> ClientBuilder {
    Client::builder("127.0.0.1")
        .port(port)
        .tls(Tls::None)
        .allow_insecure_auth(true)
        .helo_name("client.test")
        .timeout(Duration::from_secs(10))
        .auth_mechanisms(&[mech])
}

fn xoauth2(token: &str) -> String {
    B64.encode(format!("user={USER}\x01auth=Bearer {token}\x01\x01"))
}

fn token_refused() -> Vec<Act> {
    script([
        on_line(&format!("334 {}", B64.encode(GOOGLE_ERROR))),
        on_line("535 5.7.8 Username and Password not accepted"),
    ])
}

fn assert_hidden(text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{s:?} leaked in {text}");
        assert!(
            !text.contains(&xoauth2(s)),
            "{s:?} (base64) leaked in {text}"
        );
    }
}

#[test]
fn an_expired_token_is_renewed_once_and_accepted() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH XOAUTH2"]),
        token_refused(),
        on_line("235 2.7.0 Accepted"),
        quit(),
    ]));
    let (calls, provider) = tokens(&["ya29.old", "ya29.new"]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let mut c = client(server.port(), Mechanism::XOAuth2)
        .credentials_provider(USER, provider)
        .transcript(move |d, l| sink.lock().unwrap().push(format!("{d:?} {l}")))
        .connect()
        .unwrap();
    assert_eq!(c.auth_reply().unwrap().code, 235);
    c.quit().unwrap();
    assert_eq!(*calls.lock().unwrap(), [false, true]);
    assert_eq!(
        lines(&server.received()),
        [
            "EHLO client.test".to_owned(),
            format!("AUTH XOAUTH2 {}", xoauth2("ya29.old")),
            String::new(),
            format!("AUTH XOAUTH2 {}", xoauth2("ya29.new")),
            "QUIT".to_owned(),
        ]
    );
    let log = log.lock().unwrap().join("\n");
    assert_eq!(
        log.matches("Sent AUTH XOAUTH2 <redacted>").count(),
        2,
        "{log}"
    );
    assert!(
        log.contains("Info AUTH XOAUTH2 refused: asking the credentials provider for a new secret"),
        "{log}"
    );
    assert_hidden(&log, &["ya29.old", "ya29.new"]);
}

#[test]
fn oauthbearer_after_a_454_is_renewed_too() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH OAUTHBEARER"]),
        on_line(&format!(
            "334 {}",
            B64.encode(r#"{"status":"invalid_token"}"#)
        )),
        on_line("454 4.7.0 Temporary authentication failure"),
        on_line("235 ok"),
        quit(),
    ]));
    let (calls, provider) = tokens(&["t1", "t2"]);
    client(server.port(), Mechanism::OAuthBearer)
        .credentials_provider(USER, provider)
        .connect()
        .unwrap()
        .quit()
        .unwrap();
    assert_eq!(*calls.lock().unwrap(), [false, true]);
    let lines = lines(&server.received());
    assert_eq!(
        lines[2], "AQ==",
        "^A after the error document (RFC 7628 3.2.3)"
    );
    let second = B64
        .decode(lines[3].trim_start_matches("AUTH OAUTHBEARER "))
        .unwrap();
    assert_eq!(
        second,
        format!("n,a={USER},\x01auth=Bearer t2\x01\x01").as_bytes()
    );
}

#[test]
fn a_refused_renewal_ends_auth_with_the_servers_words() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH XOAUTH2"]),
        token_refused(),
        quit(),
    ]));
    let (calls, provider) = tokens(&["ya29.old"]);
    let err = client(server.port(), Mechanism::XOAuth2)
        .credentials_provider(USER, provider)
        .connect()
        .unwrap_err();
    assert_eq!(*calls.lock().unwrap(), [false, true]);
    assert!(
        matches!(&err, Error::Auth { reply: Some(r), .. } if r.code == 535),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "AUTH XOAUTH2 refused; the credentials provider failed (renewing the secret): \
             the refresh token was revoked (token error: {GOOGLE_WORDS}): \
             535 5.7.8 Username and Password not accepted"
        )
    );
    assert_hidden(&format!("{err} {err:?}"), &["ya29.old"]);
    let wire = server.text();
    assert_eq!(wire.matches("AUTH XOAUTH2").count(), 1, "{wire}");
    assert!(wire.ends_with("\r\nQUIT\r\n"), "{wire}");
}

#[test]
fn a_renewed_token_refused_again_is_the_end() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH XOAUTH2"]),
        token_refused(),
        token_refused(),
        quit(),
    ]));
    let (calls, provider) = tokens(&["t1", "t2", "t3"]);
    let err = client(server.port(), Mechanism::XOAuth2)
        .credentials_provider(USER, provider)
        .connect()
        .unwrap_err();
    assert_eq!(*calls.lock().unwrap(), [false, true], "exactly one renewal");
    assert_eq!(
        err.to_string(),
        format!(
            "AUTH XOAUTH2 refused again with the renewed secret (token error: {GOOGLE_WORDS}): \
             535 5.7.8 Username and Password not accepted"
        )
    );
    assert_eq!(server.text().matches("AUTH XOAUTH2").count(), 2);
}

#[test]
fn a_fixed_token_is_not_retried_but_its_error_is_decoded() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH XOAUTH2"]),
        token_refused(),
        quit(),
    ]));
    let err = client(server.port(), Mechanism::XOAuth2)
        .credentials(USER, "ya29.fixed")
        .connect()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "AUTH XOAUTH2 refused (token error: {GOOGLE_WORDS}): \
             535 5.7.8 Username and Password not accepted"
        )
    );
    assert_eq!(server.text().matches("AUTH XOAUTH2").count(), 1);
}

#[test]
fn a_password_from_a_provider_is_fetched_again_after_535_only() {
    // 535: renewed.
    let server = Server::start(script([
        greet_ehlo(&["AUTH PLAIN"]),
        on_line("535 5.7.8 Authentication credentials invalid"),
        on_line("235 ok"),
        quit(),
    ]));
    let (calls, provider) = tokens(&["stale", "fresh"]);
    client(server.port(), Mechanism::Plain)
        .credentials_provider("bob", provider)
        .connect()
        .unwrap()
        .quit()
        .unwrap();
    assert_eq!(*calls.lock().unwrap(), [false, true]);
    let wire = server.text();
    assert!(wire.contains(&B64.encode("\0bob\0fresh")), "{wire}");

    // 534 (mechanism too weak) is not about the secret: no renewal.
    let server = Server::start(script([
        greet_ehlo(&["AUTH PLAIN"]),
        on_line("534 5.7.9 Authentication mechanism is too weak"),
        quit(),
    ]));
    let (calls, provider) = tokens(&["stale", "fresh"]);
    let err = client(server.port(), Mechanism::Plain)
        .credentials_provider("bob", provider)
        .connect()
        .unwrap_err();
    assert_eq!(*calls.lock().unwrap(), [false]);
    assert!(
        err.to_string().starts_with("AUTH PLAIN refused: 534"),
        "{err}"
    );
}

#[test]
fn a_failing_provider_sends_nothing() {
    let server = Server::start(script([greet_ehlo(&["AUTH PLAIN"]), vec![Act::Line]]));
    let (calls, provider) = tokens(&[""]);
    let err = client(server.port(), Mechanism::Plain)
        .credentials_provider("bob", provider)
        .connect()
        .unwrap_err();
    assert_eq!(*calls.lock().unwrap(), [false]);
    assert!(matches!(err, Error::Auth { reply: None, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "AUTH: the credentials provider failed (getting the secret): the refresh token was revoked"
    );
    assert_eq!(server.text(), "EHLO client.test\r\nQUIT\r\n");
}

#[test]
fn the_provider_is_not_called_when_auth_cannot_happen() {
    let server = Server::start(script([greet_ehlo(&["8BITMIME"]), vec![Act::Line]]));
    let (calls, provider) = tokens(&["t"]);
    let err = client(server.port(), Mechanism::Plain)
        .credentials_provider("bob", provider)
        .connect()
        .unwrap_err();
    assert_eq!(err.to_string(), "AUTH: the server does not offer AUTH");
    assert!(calls.lock().unwrap().is_empty());
    server.received();
}

#[test]
fn a_client_with_a_provider_moves_between_threads() {
    fn is_send<T: Send>(_: &T) {}
    let server = Server::start(script([
        greet_ehlo(&["AUTH PLAIN"]),
        on_line("235 ok"),
        quit(),
    ]));
    let (_, provider) = tokens(&["pw"]);
    let c = client(server.port(), Mechanism::Plain)
        .credentials_provider("bob", provider)
        .connect()
        .unwrap();
    is_send(&c);
    std::thread::spawn(move || {
        let mut c = c;
        c.quit().unwrap();
    })
    .join()
    .unwrap();
    server.received();
}
