//! Secrets from C: after a session that authenticated, and after
//! `smtpc_client_free`, the program finds neither the password nor its
//! base64 forms anywhere in its heap or other anonymous memory, freed
//! memory included (tests/c/heap_scan.c); and a server that echoes the
//! AUTH line in its refusal gets it redacted in the error message and the
//! reply text (tests/c/credentials.c's sibling, echo.c).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::c_api::{command, compile, exited, root, run, Link};
use crate::support::scram::{Fault, ScramServer};
use crate::support::{greet_ehlo, on_line, quit, respond, script, transaction, Act, Server};

const USER: &str = "scanned@example.org";
/// Long: the allocator overwrites the start of freed memory, so the scan
/// looks for what follows the first 16 bytes.
const PASSWORD: &str = "Pw-0f-the-heap-scan/long-enough-to-outlive-free()";

fn exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        compile(
            "heap_scan",
            &root().join("tests/c/heap_scan.c"),
            Link::Dynamic,
        )
    })
}

/// The server's side of AUTH with `mechanism`, then a message and QUIT.
fn server(mechanism: &str) -> Server {
    let auth: Vec<Act> = match mechanism.trim_end_matches("/callback") {
        "LOGIN" => script([
            on_line("334 VXNlcm5hbWU6"),
            on_line("334 UGFzc3dvcmQ6"),
            on_line("235 2.7.0 Ok"),
        ]),
        "CRAM-MD5" => script([
            on_line("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"),
            on_line("235 2.7.0 Ok"),
        ]),
        "SCRAM-SHA-256" => ScramServer::new(true, PASSWORD, None, Fault::None).acts("235 2.7.0 Ok"),
        _ => on_line("235 2.7.0 Ok"),
    };
    Server::start(script([
        greet_ehlo(&["AUTH PLAIN LOGIN XOAUTH2 CRAM-MD5 SCRAM-SHA-256"]),
        auth,
        transaction(1),
        quit(),
    ]))
}

fn scan(mechanism: &str) {
    let server = server(mechanism);
    let mut cmd = command(exe(), false);
    cmd.arg(server.port().to_string())
        .args([mechanism, USER, PASSWORD]);
    let out = run(cmd);
    let (stdout, _) = exited(&out, 0);
    assert_eq!(stdout, "clean\n");
    // The password did go out: the scan had something to miss.
    assert!(server.text().contains("AUTH"));
}

#[test]
fn c_no_copy_of_a_plain_password_is_left_after_free() {
    scan("PLAIN");
}

#[test]
fn c_no_copy_of_a_login_password_is_left_after_free() {
    scan("LOGIN");
}

#[test]
fn c_no_copy_of_an_xoauth2_token_is_left_after_free() {
    scan("XOAUTH2");
}

/// The password from the credentials callback: its buffer, and the
/// copies made of it, are wiped too.
#[test]
fn c_no_copy_of_a_password_from_the_callback_is_left_after_free() {
    scan("PLAIN/callback");
    scan("SCRAM-SHA-256/callback");
}

/// Neither sends the password, but both key an HMAC with it (SCRAM with
/// what PBKDF2 makes of it).
#[test]
fn c_no_copy_of_a_cram_md5_or_scram_password_is_left_after_free() {
    scan("CRAM-MD5");
    scan("SCRAM-SHA-256");
}

fn credentials_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        compile(
            "credentials-echo",
            &root().join("tests/c/credentials.c"),
            Link::Dynamic,
        )
    })
}

#[test]
fn c_a_token_echoed_by_the_server_is_redacted_in_the_error() {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;

    // The 535 repeats the AUTH line and what it decodes to.
    let echo = respond(|line| {
        let last = line.rsplit(' ').next().unwrap_or("");
        let decoded = B64
            .decode(last)
            .map(|d| String::from_utf8_lossy(&d).replace(['\x01', '\0'], " "))
            .unwrap_or_default();
        format!("535-5.7.8 you sent {line}\n535 5.7.8 that is {decoded}")
    });
    let server = Server::start(script([greet_ehlo(&["AUTH XOAUTH2"]), vec![echo], quit()]));
    let token = "tok-en.echoed-by-the-server";
    let mut cmd = command(credentials_exe(), false);
    cmd.arg(server.port().to_string())
        .arg("me@example.org")
        .arg(token);
    let out = run(cmd);
    let (stdout, _) = exited(&out, 9);
    let response = B64.encode(format!(
        "user=me@example.org\x01auth=Bearer {token}\x01\x01"
    ));
    assert!(server.text().contains(&response));
    for secret in [token, &response] {
        assert!(!stdout.contains(secret), "{stdout}");
    }
    assert!(
        stdout.contains(
            "535 5.7.8 you sent AUTH XOAUTH2 <redacted> / that is user=me@example.org \
             auth=Bearer <redacted>"
        ),
        "{stdout}"
    );
}
