//! The main demo: a real SMTP server (mailin-embedded) starts on a loopback
//! port inside this process, smtpc sends it a message over TCP, and both
//! sides of the exchange are printed, like a session typed by hand.
//!
//!     cargo run --example demo

use std::io;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smtpc::{Client, Direction, Envelope, Tls};

const MESSAGE: &str = "From: kjj@solidosystems.com\r\n\
To: khl@solidosystems.com\r\n\
Subject: Hand written SMTP\r\n\
\r\n\
Hello,\r\n\
\r\n\
this message went through smtpc, one command at a time.\r\n\
.A line that starts with a dot survives dot-stuffing.\r\n";

/// A message as the server stored it: sender, recipients, content.
type Stored = (String, Vec<String>, Vec<u8>);

/// The embedded server's handler: keeps every message it receives.
#[derive(Clone, Default)]
struct Store {
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    done: Arc<Mutex<Vec<Stored>>>,
}

impl mailin_embedded::Handler for Store {
    fn data_start(
        &mut self,
        _domain: &str,
        from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let msg = (self.from.clone(), self.to.clone(), self.data.clone());
        self.done.lock().unwrap().push(msg);
        mailin_embedded::response::OK
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let store = Store::default();
    let received = store.done.clone();
    let mut server = mailin_embedded::Server::new(store);
    server
        .with_name("mailin.demo")
        .with_num_threads(1)
        .with_tcp_listener(listener);
    // The server thread ends with the process.
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    println!("mailin-embedded is listening on 127.0.0.1:{port}\n");
    println!("--- the exchange (C: client, S: server) ---");

    let mut client = Client::builder("127.0.0.1")
        .tls(Tls::None)
        .port(port)
        .helo_name("client.solidosystems.com")
        .timeout(Duration::from_secs(10))
        .transcript(|dir, line| match dir {
            Direction::Sent => println!("C: {line}"),
            Direction::Received => println!("S: {line}"),
            _ => println!("   {line}"),
        })
        .connect()?;
    let envelope = Envelope::new("kjj@solidosystems.com", ["khl@solidosystems.com"])?;
    let delivery = client.send(&envelope, MESSAGE.as_bytes())?;
    client.quit()?;

    println!("\n--- the result ---");
    println!("accepted: {}", delivery.accepted.join(", "));
    println!("final reply: {}", delivery.reply);

    println!("\n--- what the server received ---");
    let got = received.lock().unwrap();
    let (from, to, data) = got.first().ok_or("the server stored no message")?;
    println!("MAIL FROM: {from}");
    println!("RCPT TO:   {}", to.join(", "));
    print!("{}", String::from_utf8_lossy(data).replace("\r\n", "\n"));
    if data.as_slice() != MESSAGE.as_bytes() {
        return Err("the stored message differs from the one sent".into());
    }
    println!("--- stored message is identical to the one sent ---");
    Ok(())
}
