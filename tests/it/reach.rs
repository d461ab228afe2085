//! Reaching the server: a source address, a socket of the caller's, the
//! errors of a server that cannot be reached, and SOCKS5, against a real
//! proxy (Dante, `testkit/servers/danted.sh`) in front of real servers
//! (Postfix's smtp-sink, a private Postfix with STARTTLS) and against a
//! scripted proxy that shows what was asked of it.
//!
//! A missing danted or Postfix skips the test locally and fails it when
//! CI=true.

use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smtpc::{Client, ClientBuilder, Envelope, Error, ErrorKind, Proxy, ProxyFailure, Tls};

use crate::support::certs::pki;
use crate::support::real::{smtp_sink, wait_for_files, Postfix, POSTFIX_USER};
use crate::support::socks::{Danted, ScriptedSocks, SOCKS_PASSWORD, SOCKS_USER};
use crate::support::{greet_ehlo, quit, script, transaction, Act, Server};

const MSG: &[u8] = b"From: a@x.test\r\nTo: b@y.test\r\nSubject: reach\r\n\r\nHello.\r\n";

fn envelope() -> Envelope {
    Envelope::new("a@x.test", ["b@y.test"]).unwrap()
}

fn plain(host: &str, port: u16) -> ClientBuilder {
    Client::builder(host)
        .port(port)
        .tls(Tls::None)
        .timeout(Duration::from_secs(20))
}

/// A transcript kept for the test to read.
fn transcript(builder: ClientBuilder) -> (ClientBuilder, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let keep = lines.clone();
    let builder = builder.transcript(move |_, line| keep.lock().unwrap().push(line.to_owned()));
    (builder, lines)
}

#[test]
fn the_source_address_is_the_one_set() {
    let server = Server::start(script([greet_ehlo(&[]), quit()]));
    let source: IpAddr = "127.0.0.2".parse().unwrap();
    let mut client = plain("127.0.0.1", server.port())
        .local_address(source)
        .connect()
        .unwrap();
    client.quit().unwrap();
    // With no HELO name set, the client names itself by the address the
    // server sees.
    assert!(server.text().starts_with("EHLO [127.0.0.2]\r\n"));
}

#[test]
fn a_socket_of_the_callers_own() {
    let server = Server::start(script([greet_ehlo(&[]), transaction(1), quit()]));
    let socket = TcpStream::connect(server.addr).unwrap();
    let mut client = Client::builder("127.0.0.1")
        .tls(Tls::None)
        .helo_name("client.test")
        .connect_socket(socket)
        .unwrap();
    client.send_bytes(&envelope(), MSG).unwrap();
    client.quit().unwrap();
    assert!(server.text().contains("Subject: reach"));

    // Cancel works over it as over a connection smtpc made.
    let server = Server::start(script([greet_ehlo(&[]), vec![Act::Drain]]));
    let socket = TcpStream::connect(server.addr).unwrap();
    let mut client = Client::builder("127.0.0.1")
        .tls(Tls::None)
        .connect_socket(socket)
        .unwrap();
    let canceller = client.canceller();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    assert!(matches!(client.noop(), Err(Error::Cancelled { .. })));
    t.join().unwrap();
}

#[test]
fn an_unreachable_server_lists_what_was_tried() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = plain("127.0.0.1", port).connect().unwrap_err();
    match &e {
        Error::Unreachable { target, attempts } => {
            assert_eq!(target, &format!("127.0.0.1:{port}"));
            assert_eq!(attempts.len(), 1);
            assert_eq!(attempts[0].address.port(), port);
            assert_eq!(
                attempts[0].error.kind(),
                std::io::ErrorKind::ConnectionRefused
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(
        e.to_string().contains(&format!("tried 127.0.0.1:{port} (")),
        "{e}"
    );
}

#[test]
fn through_danted_to_smtp_sink() {
    let Some(proxy) = Danted::start("none") else {
        return;
    };
    let Some(sink) = smtp_sink("socks-sink", &[]) else {
        return;
    };
    let (builder, lines) = transcript(
        plain("127.0.0.1", sink.port)
            .helo_name("client.test")
            .proxy(proxy.url().parse().unwrap()),
    );
    let mut client = builder.connect().unwrap();
    let delivery = client.send_bytes(&envelope(), MSG).unwrap();
    assert_eq!(delivery.reply.code, 250);
    client.quit().unwrap();
    let stored = wait_for_files(&sink.dir, "", 1);
    assert_eq!(stored.len(), 1);
    let route = lines.lock().unwrap()[0].clone();
    assert_eq!(
        route,
        format!(
            "connected to 127.0.0.1:{} through SOCKS5 proxy 127.0.0.1:{}",
            sink.port, proxy.port
        )
    );
    assert!(
        proxy.log().contains("pass(1): tcp/connect"),
        "{}",
        proxy.log()
    );
}

#[test]
fn danted_with_a_user_name_and_password() {
    let Some(proxy) = Danted::start("username") else {
        return;
    };
    let Some(sink) = smtp_sink("socks-auth-sink", &[]) else {
        return;
    };
    let via = |p: Proxy| plain("127.0.0.1", sink.port).proxy(p);
    let base = Proxy::socks5("127.0.0.1", proxy.port);

    let mut client = via(base.clone().credentials(SOCKS_USER, SOCKS_PASSWORD))
        .connect()
        .unwrap();
    client.send_bytes(&envelope(), MSG).unwrap();
    client.quit().unwrap();

    let e = via(base.clone().credentials(SOCKS_USER, "wrong"))
        .connect()
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Proxy {
                failure: ProxyFailure::CredentialsRefused(1),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.kind(), ErrorKind::Proxy);
    assert!(!e.to_string().contains("wrong") && !format!("{e:?}").contains("wrong"));

    // It wants credentials; none were set.
    let e = via(base).connect().unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Proxy {
                failure: ProxyFailure::NoAcceptableMethod,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn danted_refuses_with_its_reply_code() {
    let Some(proxy) = Danted::start("none") else {
        return;
    };
    // Its rules let CONNECT go to 127.0.0.1 and ::1 only.
    let e = plain("127.0.0.2", 25)
        .proxy(proxy.url().parse().unwrap())
        .connect()
        .unwrap_err();
    match &e {
        Error::Proxy {
            proxy: p,
            target,
            failure: ProxyFailure::Refused(2),
        } => {
            assert_eq!(p, &format!("127.0.0.1:{}", proxy.port));
            assert_eq!(target, "127.0.0.2:25");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.is_permanent());
    assert!(
        e.to_string()
            .ends_with("refused with reply 2 (connection not allowed by ruleset)"),
        "{e}"
    );
}

#[test]
fn starttls_through_danted_checks_the_servers_name() {
    let Some(proxy) = Danted::start("none") else {
        return;
    };
    let Some(server) = Postfix::start() else {
        return;
    };
    // "localhost" goes to the proxy as a name, which it resolves; the
    // certificate is checked against it.
    let mut client = Client::builder("localhost")
        .port(server.port)
        .proxy(proxy.url().parse().unwrap())
        .tls(Tls::StartTls)
        .add_root_certificate_file(&pki().ca_file)
        .disable_system_roots()
        .credentials(POSTFIX_USER, "hunter2")
        .timeout(Duration::from_secs(20))
        .connect()
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert!(client.is_encrypted());
    let delivery = client.send_bytes(&envelope(), MSG).unwrap();
    assert!(delivery.queue_id().is_some());
    client.quit().unwrap();
    assert_eq!(server.messages(1).len(), 1);
}

#[test]
fn the_proxy_resolves_the_name_and_tls_checks_it() {
    // A server whose certificate names mail.test only, which no resolver
    // here knows: only the proxy's resolving it, and TLS checking the
    // certificate against it (not against the proxy's 127.0.0.1), work.
    let tls = pki().named.server_config();
    let server = Server::start(script([vec![Act::Tls(tls)], greet_ehlo(&[]), quit()]));
    let proxy = ScriptedSocks::start(0, Some(server.addr));
    let mut client = Client::builder("mail.test")
        .port(465)
        .tls(Tls::Implicit)
        .proxy(Proxy::socks5("127.0.0.1", proxy.port))
        .add_root_certificate(pki().ca_pem.as_bytes())
        .helo_name("client.test")
        .connect()
        .unwrap();
    assert!(client.is_encrypted());
    client.quit().unwrap();
    let mut expected = vec![5, 1, 0, 3, 9];
    expected.extend_from_slice(b"mail.test");
    expected.extend_from_slice(&465u16.to_be_bytes());
    assert_eq!(proxy.request(), expected);
    server.received();
}

#[test]
fn a_proxy_refusal_says_its_code() {
    let proxy = ScriptedSocks::start(5, None);
    let e = plain("mail.test", 25)
        .proxy(Proxy::socks5("127.0.0.1", proxy.port))
        .connect()
        .unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Proxy {
                failure: ProxyFailure::Refused(5),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.is_transient() && !e.is_permanent());
    assert!(
        e.to_string().contains("reply 5 (connection refused)"),
        "{e}"
    );
    proxy.request();
}

#[test]
fn an_address_literal_goes_to_the_proxy_as_an_address() {
    let server = Server::start(script([greet_ehlo(&[]), quit()]));
    let proxy = ScriptedSocks::start(0, Some(server.addr));
    let mut client = plain("[::1]", 2525)
        .proxy(Proxy::socks5("127.0.0.1", proxy.port))
        .connect()
        .unwrap();
    client.quit().unwrap();
    let request = proxy.request();
    assert_eq!(request[3], 4, "{request:?}");
    assert_eq!(&request[4..20], &std::net::Ipv6Addr::LOCALHOST.octets());
    // The proxy said it connects from 127.0.0.1: the client names itself so.
    assert!(server.text().starts_with("EHLO [127.0.0.1]\r\n"));
}

#[test]
fn a_timeout_at_the_proxy_is_a_timeout() {
    // A "proxy" that accepts and says nothing.
    let silent = Server::start(vec![Act::Drain]);
    let e = plain("mail.test", 25)
        .proxy(Proxy::socks5("127.0.0.1", silent.port()))
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .unwrap_err();
    assert!(
        matches!(&e, Error::Timeout { during } if during.starts_with("SOCKS5 handshake")),
        "{e:?}"
    );
}

#[test]
fn implicit_tls_through_danted() {
    let Some(proxy) = Danted::start("none") else {
        return;
    };
    let server = Server::start(script([
        vec![Act::Tls(pki().server.server_config())],
        greet_ehlo(&[]),
        transaction(1),
        quit(),
    ]));
    let mut client = Client::builder("localhost")
        .port(server.port())
        .tls(Tls::Implicit)
        .proxy(proxy.url().parse().unwrap())
        .add_root_certificate(pki().ca_pem.as_bytes())
        .disable_system_roots()
        .helo_name("client.test")
        .connect()
        .unwrap();
    assert!(client.is_encrypted());
    client.send_bytes(&envelope(), MSG).unwrap();
    client.quit().unwrap();
    let sent = String::from_utf8_lossy(&server.received()).into_owned();
    assert!(sent.contains("Subject: reach"), "{sent}");
}
