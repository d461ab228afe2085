//! `smtpc_set_credentials_callback` from C (tests/c/credentials.c)
//! against scripted servers: a token refused and renewed, a callback that
//! fails to renew, one that claims more than its buffer; also under
//! valgrind.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::c_api::{command, compile, exited, have, root, run, Link};
use crate::support::{greet_ehlo, lines, on_line, quit, script, Act, Server};

fn exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        compile(
            "credentials",
            &root().join("tests/c/credentials.c"),
            Link::Dynamic,
        )
    })
}

const REFUSED: &str = "535 5.7.8 Username and Password not accepted";

fn token_refused() -> Vec<Act> {
    script([
        on_line(&format!("334 {}", B64.encode(r#"{"status":"401"}"#))),
        on_line(REFUSED),
    ])
}

fn credentials(server: &Server, tokens: &[&str], valgrind: bool) -> std::process::Output {
    let mut cmd = command(exe(), valgrind);
    cmd.arg(server.port().to_string())
        .arg("me@example.org")
        .args(tokens);
    run(cmd)
}

fn renewed(valgrind: bool) {
    let server = Server::start(script([
        greet_ehlo(&["AUTH XOAUTH2"]),
        token_refused(),
        on_line("235 2.7.0 Accepted"),
        quit(),
    ]));
    let out = credentials(&server, &["tok-old", "tok-new"], valgrind);
    let (stdout, _) = exited(&out, 0);
    assert_eq!(
        stdout.lines().take(2).collect::<Vec<_>>(),
        ["call 0 renew=0 size=16384", "call 1 renew=1 size=16384"],
        "{stdout}"
    );
    assert!(stdout.contains("ok "), "{stdout}");
    let sent = lines(&server.received());
    let token = |t: &str| B64.encode(format!("user=me@example.org\x01auth=Bearer {t}\x01\x01"));
    assert_eq!(sent[1], format!("AUTH XOAUTH2 {}", token("tok-old")));
    assert_eq!(sent[3], format!("AUTH XOAUTH2 {}", token("tok-new")));
}

#[test]
fn c_credentials_callback_renews_a_refused_token() {
    renewed(false);
}

#[test]
fn c_credentials_callback_failures_are_smtpc_auth() {
    // The callback fails to renew: SMTPC_AUTH (9), the refusal's code.
    let server = Server::start(script([
        greet_ehlo(&["AUTH XOAUTH2"]),
        token_refused(),
        quit(),
    ]));
    let out = credentials(&server, &["tok-old", "-"], false);
    let (stdout, _) = exited(&out, 9);
    assert!(
        stdout.contains(
            "failed authentication failed 535: AUTH XOAUTH2 refused; the credentials provider \
             failed (renewing the secret): the credentials callback reported an error (-1) \
             (token error: status 401)"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("tok-old"), "{stdout}");
    assert_eq!(server.text().matches("AUTH XOAUTH2").count(), 1);

    // A length past the buffer is refused before anything is sent.
    let server = Server::start(script([greet_ehlo(&["AUTH XOAUTH2"]), vec![Act::Line]]));
    let out = credentials(&server, &["+"], false);
    let (stdout, _) = exited(&out, 9);
    assert!(
        stdout.contains("returned 16385, more than the 16384 bytes of its buffer"),
        "{stdout}"
    );
    assert_eq!(server.text(), format!("EHLO {}\r\nQUIT\r\n", helo()));
}

/// The HELO name smtpc gives by default on loopback.
fn helo() -> &'static str {
    "[127.0.0.1]"
}

#[test]
fn c_credentials_callback_is_clean_under_valgrind() {
    if have("valgrind") {
        renewed(true);
    }
}
