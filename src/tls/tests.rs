//! The connector is built once per set of options: not before the first
//! connection that needs it (with opportunistic TLS, not before the
//! handshake), not again on a reconnection, a new connection with the same
//! `Config`, or another `Config` with equal options; again when the
//! options change. Counted by options, so tests running in parallel do not
//! see each other's builds: each test trusts a root of its own.

use std::time::Duration;

use testkit::certs::pki;
use testkit::*;

use super::shared::counted::builds;
use crate::{Client, ClientBuilder, Config, Envelope, Tls, TlsVersion};

/// Options no other test has: the test CA, and a certificate made for
/// this test alone as a second root.
fn own_options(name: &str) -> ClientBuilder {
    let own = pki().issue(&[name]);
    Client::builder("127.0.0.1")
        .helo_name("client.test")
        .timeout(Duration::from_secs(5))
        .add_root_certificate(pki().ca_pem.as_bytes())
        .add_root_certificate(own.cert_pem.as_bytes())
        .disable_system_roots()
}

fn built(config: &Config) -> usize {
    builds(&config.tls_options)
}

/// One STARTTLS session carrying `messages` messages, then QUIT.
fn tls_session(messages: usize) -> Vec<Act> {
    let mut s = script([
        greet_ehlo(&["STARTTLS"]),
        on_line("220 2.0.0 Ready to start TLS"),
        vec![Act::Tls(pki().server.server_config())],
        on_line("250 test.example"),
    ]);
    for _ in 0..messages {
        s.extend(transaction(1));
    }
    s.extend(quit());
    s
}

fn send_one(c: &mut Client) {
    let env = Envelope::new("a@x.test", ["b@y.test"]).unwrap();
    c.send(&env, &b"Subject: t\r\n\r\nbody\r\n"[..]).unwrap();
}

#[test]
fn built_once_per_options_and_reused_on_reconnect() {
    // Two messages, one per connection: the second goes over a new
    // connection (with its own STARTTLS), then two more connects with the
    // same Config, then one with another Config of equal options.
    let server = Server::start_sessions(vec![
        tls_session(1),
        tls_session(1),
        tls_session(0),
        tls_session(0),
    ]);
    let builder = own_options("once.connector.test")
        .port(server.port())
        .messages_per_connection(1);
    let config = builder.config().clone();
    assert_eq!(built(&config), 0);
    let mut c = builder.connect().unwrap();
    assert_eq!(built(&config), 1, "built by the first connection");
    send_one(&mut c);
    send_one(&mut c);
    c.quit().unwrap();
    assert_eq!(built(&config), 1, "the reconnection built it again");
    ClientBuilder::from(config.clone())
        .connect()
        .unwrap()
        .quit()
        .unwrap();
    let equal = own_options("once.connector.test").port(server.port());
    assert!(matches!(
        format!("{:?}", equal.config().tls_options.connector).as_str(),
        "unread"
    ));
    equal.connect().unwrap().quit().unwrap();
    assert_eq!(built(&config), 1, "equal options built their own");
    let text = String::from_utf8_lossy(&server.received()).into_owned();
    // Four connections, each with its STARTTLS and its handshake.
    assert_eq!(text.matches("STARTTLS").count(), 4, "{text}");
}

#[test]
fn not_built_before_a_handshake_nor_without_one() {
    // Opportunistic TLS against a server that does not offer STARTTLS:
    // the session goes on in plaintext and no connector is ever built.
    let server = Server::start(script([greet_ehlo(&["PIPELINING"]), quit()]));
    let builder = own_options("lazy.connector.test")
        .port(server.port())
        .tls(Tls::Opportunistic);
    let config = builder.config().clone();
    builder.connect().unwrap().quit().unwrap();
    assert_eq!(built(&config), 0);
    // A server that offers STARTTLS and then refuses it: nothing built
    // either. (With STARTTLS required, the build starts with the
    // connection, on a thread of its own, to be ready by the handshake.)
    let server = Server::start(script([
        greet_ehlo(&["STARTTLS"]),
        on_line("454 4.7.0 TLS not available"),
        quit(),
    ]));
    let err = ClientBuilder::from(config.clone())
        .port(server.port())
        .connect()
        .unwrap_err();
    assert!(matches!(err, crate::Error::TlsUnavailable { .. }), "{err}");
    assert_eq!(built(&config), 0);
}

#[test]
fn changed_options_build_their_own() {
    let server = Server::start_sessions(vec![tls_session(0), tls_session(0)]);
    let first = own_options("changed.connector.test").port(server.port());
    let config = first.config().clone();
    first.connect().unwrap().quit().unwrap();
    // Another minimum version is another connector; the first one's
    // options still have theirs.
    let second = ClientBuilder::from(config.clone()).min_tls_version(TlsVersion::Tls12);
    let changed = second.config().clone();
    assert_eq!(built(&changed), 0);
    second.connect().unwrap().quit().unwrap();
    assert_eq!((built(&config), built(&changed)), (1, 1));
    server.received();
}

#[test]
fn caller_errors_come_before_connecting() {
    // Nothing listens on the port: a root file that cannot be read is
    // said first, not the connection refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = Client::builder("127.0.0.1")
        .port(port)
        .add_root_certificate_file(pki().dir.join("missing.pem"))
        .connect()
        .unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}
