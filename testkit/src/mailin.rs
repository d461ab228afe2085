//! A real SMTP server inside the test process: mailin-embedded on an
//! ephemeral loopback port, recording every message it accepts.

use std::io;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use crate::certs;

/// A message as the embedded server received it.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
    pub is8bit: bool,
}

#[derive(Clone)]
struct Recorder {
    current: Received,
    done: Arc<Mutex<Vec<Received>>>,
}

/// The user and password mailin-embedded accepts when AUTH is on.
pub const MAILIN_USER: &str = "bob";
pub const MAILIN_PASSWORD: &str = "hunter2";

impl mailin_embedded::Handler for Recorder {
    fn data_start(
        &mut self,
        _domain: &str,
        from: &str,
        is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.current = Received {
            from: from.to_owned(),
            to: to.to_vec(),
            data: Vec::new(),
            is8bit,
        };
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.done
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.current));
        mailin_embedded::response::OK
    }

    fn auth_plain(
        &mut self,
        _authz: &str,
        user: &str,
        password: &str,
    ) -> mailin_embedded::Response {
        check_login(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> mailin_embedded::Response {
        check_login(user, password)
    }
}

fn check_login(user: &str, password: &str) -> mailin_embedded::Response {
    if user == MAILIN_USER && password == MAILIN_PASSWORD {
        mailin_embedded::response::AUTH_OK
    } else {
        mailin_embedded::response::INVALID_CREDENTIALS
    }
}

/// Starts mailin-embedded on an ephemeral loopback port. Its thread lives
/// until the test process ends (the crate has no shutdown).
pub fn mailin() -> (u16, Arc<Mutex<Vec<Received>>>) {
    mailin_with(false)
}

/// mailin-embedded with STARTTLS (the test PKI's localhost certificate)
/// and AUTH PLAIN/LOGIN after TLS when `tls` is set.
pub fn mailin_with(tls: bool) -> (u16, Arc<Mutex<Vec<Received>>>) {
    let done = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handler = Recorder {
        current: Received::default(),
        done: done.clone(),
    };
    let mut server = mailin_embedded::Server::new(handler);
    server
        .with_name("mailin.test")
        .with_num_threads(2)
        .with_tcp_listener(listener);
    if tls {
        let p = certs::pki();
        server
            .with_ssl(mailin_embedded::SslConfig::SelfSigned {
                cert_path: p.server_cert_file.to_string_lossy().into_owned(),
                key_path: p.server_key_file.to_string_lossy().into_owned(),
            })
            .expect("mailin TLS config")
            .with_auth(mailin_embedded::AuthMechanism::Plain)
            .with_auth(mailin_embedded::AuthMechanism::Login);
    }
    thread::spawn(move || {
        let _ = server.serve();
    });
    (port, done)
}
