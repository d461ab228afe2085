//! SCRAM against scripted servers (testkit's own server side of SCRAM):
//! what no real server here does (channel binding, a wrong or missing
//! server signature, a binding that does not match), and the GS2 flag
//! the client sends. The real exchange with Cyrus SASL is in
//! `real_tls_auth.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use smtpc::{Client, ClientBuilder, Error, Mechanism, Tls};

use crate::support::certs::pki;
use crate::support::scram::{tls_server_end_point, Fault, ScramServer};
use crate::support::*;

const USER: &str = "bob";
const PASSWORD: &str = "hunter2";
const OK: &str = "235 2.7.0 Authentication successful";

/// A client over STARTTLS to a scripted server, with the test CA.
fn over_tls(port: u16) -> ClientBuilder {
    Client::builder("localhost")
        .port(port)
        .helo_name("client.test")
        .timeout(Duration::from_secs(10))
        .add_root_certificate(pki().ca_pem.as_bytes())
        .disable_system_roots()
        .credentials(USER, PASSWORD)
}

/// A plaintext client with the insecure opt-in.
fn plaintext(port: u16) -> ClientBuilder {
    over_tls(port).tls(Tls::None).allow_insecure_auth(true)
}

/// Greeting, EHLO, STARTTLS, the handshake and EHLO again offering `auth`.
fn starttls_offering(auth: &str) -> Vec<Act> {
    script([
        greet_ehlo(&["STARTTLS"]),
        on_line("220 go ahead"),
        vec![Act::Tls(pki().server.server_config())],
        vec![
            Act::Line,
            send(&format!("250-test.example\n250 AUTH {auth}")),
        ],
    ])
}

/// The lines a transcript saw.
type Log = Arc<Mutex<Vec<String>>>;

fn transcript() -> (Log, impl FnMut(smtpc::Direction, &str) + Send) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    (log, move |d, l: &str| {
        sink.lock().unwrap().push(format!("{d:?} {l}"))
    })
}

#[test]
fn scram_sha_256_plus_binds_to_the_servers_certificate() {
    let binding = tls_server_end_point(&pki().server.cert_der);
    let scram = ScramServer::new(true, PASSWORD, Some(binding.clone()), Fault::None);
    let server = Server::start(script([
        starttls_offering("PLAIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS CRAM-MD5"),
        scram.acts(OK),
        quit(),
    ]));
    let (log, hook) = transcript();
    let mut c = over_tls(server.port()).transcript(hook).connect().unwrap();
    assert_eq!(c.auth_reply().unwrap().code, 235);
    c.quit().unwrap();
    let wire = server.text();
    assert!(wire.contains("AUTH SCRAM-SHA-256-PLUS "), "{wire}");
    let seen = scram.seen();
    assert_eq!(seen.gs2_header, "p=tls-server-end-point,,");
    assert_eq!(seen.binding_data, binding, "the certificate's SHA-256");
    assert!(seen.proof_ok);
    assert_eq!(seen.user, USER);
    let log = log.lock().unwrap().join("\n");
    assert!(
        log.contains("Sent AUTH SCRAM-SHA-256-PLUS <redacted>"),
        "{log}"
    );
    assert!(!log.contains(PASSWORD), "{log}");
}

#[test]
fn a_channel_binding_mismatch_fails_the_session() {
    // The server saw another certificate than the client: someone in
    // between terminated TLS.
    let other = tls_server_end_point(&pki().wrong_host.cert_der);
    let scram = ScramServer::new(true, PASSWORD, Some(other), Fault::None);
    let server = Server::start(script([
        starttls_offering("SCRAM-SHA-256-PLUS"),
        scram.acts("501 5.7.0 Authentication cancelled"),
        quit(),
    ]));
    let err = over_tls(server.port()).connect().unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "AUTH SCRAM-SHA-256-PLUS: the server reports an error: channel-bindings-dont-match; \
         exchange cancelled: 501 5.7.0 Authentication cancelled"
    );
    assert!(!scram.seen().proof_ok, "the server stopped at the binding");
}

#[test]
fn a_wrong_server_signature_fails_before_mail() {
    let scram = ScramServer::new(true, PASSWORD, None, Fault::WrongSignature);
    let server = Server::start(script([
        greet_ehlo(&["AUTH SCRAM-SHA-256"]),
        scram.acts("501 5.7.0 Authentication cancelled"),
        quit(),
    ]));
    let err = plaintext(server.port()).connect().unwrap_err();
    assert!(
        matches!(&err, Error::Auth { reply: Some(r), .. } if r.code == 501),
        "{err:?}"
    );
    assert!(err.to_string().contains("signature is wrong"), "{err}");
    assert!(scram.seen().proof_ok, "the client's proof was right");
    let wire = server.text();
    assert!(wire.ends_with("*\r\nQUIT\r\n"), "{wire}");
    assert!(!wire.contains("MAIL"), "{wire}");
}

#[test]
fn a_server_that_accepts_without_proving_itself_is_not_believed() {
    let scram = ScramServer::new(true, PASSWORD, None, Fault::NoSignature);
    let server = Server::start(script([
        greet_ehlo(&["AUTH SCRAM-SHA-256"]),
        scram.acts(OK),
        quit(),
    ]));
    let err = plaintext(server.port()).connect().unwrap_err();
    assert!(
        matches!(&err, Error::Auth { reply: Some(r), .. } if r.code == 235),
        "{err:?}"
    );
    assert!(err.to_string().contains("without proving"), "{err}");
    assert!(server.text().ends_with("QUIT\r\n"));
}

#[test]
fn the_gs2_flag_says_what_the_client_could_do() {
    // Over TLS, the server offering no -PLUS: "y", the client could bind.
    let scram = ScramServer::new(true, PASSWORD, None, Fault::None);
    let server = Server::start(script([
        starttls_offering("PLAIN SCRAM-SHA-256"),
        scram.acts(OK),
        quit(),
    ]));
    over_tls(server.port()).connect().unwrap().quit().unwrap();
    assert_eq!(scram.seen().gs2_header, "y,,");
    server.received();

    // Over TLS with only SCRAM-SHA-256 allowed: "n", the client chose not to.
    let scram = ScramServer::new(true, PASSWORD, None, Fault::None);
    let server = Server::start(script([
        starttls_offering("SCRAM-SHA-256 SCRAM-SHA-256-PLUS"),
        scram.acts(OK),
        quit(),
    ]));
    over_tls(server.port())
        .auth_mechanisms(&[Mechanism::ScramSha256])
        .connect()
        .unwrap()
        .quit()
        .unwrap();
    assert_eq!(scram.seen().gs2_header, "n,,");
    assert!(server.text().contains("AUTH SCRAM-SHA-256 "));

    // Without TLS: "n", and -PLUS is never chosen.
    let scram = ScramServer::new(false, PASSWORD, None, Fault::None);
    let server = Server::start(script([
        greet_ehlo(&["AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-1 CRAM-MD5"]),
        scram.acts(OK),
        quit(),
    ]));
    plaintext(server.port()).connect().unwrap().quit().unwrap();
    let seen = scram.seen();
    assert_eq!((seen.gs2_header.as_str(), seen.proof_ok), ("n,,", true));
    assert!(
        server.text().contains("AUTH SCRAM-SHA-1 "),
        "SCRAM-SHA-1 beats CRAM-MD5"
    );
}

#[test]
fn a_wrong_password_is_a_535() {
    let scram = ScramServer::new(true, "another password", None, Fault::None);
    let server = Server::start(script([
        greet_ehlo(&["AUTH SCRAM-SHA-256"]),
        scram.acts("221 2.0.0 Bye"),
    ]));
    let err = plaintext(server.port()).connect().unwrap_err();
    assert_eq!(
        err.to_string(),
        "AUTH SCRAM-SHA-256 refused: 535 5.7.8 Error: authentication failed: \
         authentication failure"
    );
    assert!(err.is_permanent());
    assert!(!format!("{err:?}").contains(PASSWORD));
    assert!(server.text().ends_with("QUIT\r\n"));
}

#[test]
fn plus_without_tls_is_refused_before_auth() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH SCRAM-SHA-256-PLUS"]),
        vec![Act::Line],
    ]));
    let err = plaintext(server.port())
        .auth_mechanisms(&[Mechanism::ScramSha256Plus])
        .connect()
        .unwrap_err();
    assert!(err.to_string().contains("has none to bind to"), "{err}");
    assert_eq!(server.text(), "EHLO client.test\r\nQUIT\r\n");
}
