//! The whole client driven by arbitrary server bytes through an in-memory
//! stream: set-up, a message, a batch of a prepared one, step commands, QUIT. Never a panic, never a
//! hang (the stream ends), and a message is never reported as sent unless
//! the server's last word on it was 2yz.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpc::{Client, Envelope, Message, Tls};
use testkit::memory::Memory;

fuzz_target!(|data: &[u8]| {
    let stream = Memory::from_fuzz_input(data);
    let Ok(mut client) = Client::builder("fuzz.test")
        .tls(Tls::None)
        .helo_name("client.test")
        .connect_stream(stream)
    else {
        return;
    };
    let env = Envelope::new("a@x.test", ["b@y.test", "c@y.test"]).unwrap();
    match client.send(&env, &b"Subject: x\r\n\r\nbody\n.\n"[..]) {
        Ok(d) => {
            assert!(d.reply.is_positive(), "reported sent after {}", d.reply);
            // Every recipient once: delivered, refused, or of unknown
            // outcome (its transaction's end went out, no verdict came).
            assert_eq!(d.accepted.len() + d.rejected.len() + d.unknown.len(), 2);
            assert!(!d.accepted.is_empty());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // A batch of one message prepared once, sent twice.
    let message = Message::new(b"Subject: y\n\n.dot\n");
    for result in client.send_batch([(&env, &message), (&env, &message)]) {
        if let Ok(d) = result {
            assert!(d.reply.is_positive(), "reported sent after {}", d.reply);
            assert!(!d.accepted.is_empty());
        }
    }
    let _ = client.noop();
    let _ = client.rset();
    let _ = client.quit();
});
