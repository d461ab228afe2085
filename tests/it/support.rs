//! Test support: everything in testkit (the scripted and real servers, the
//! in-memory transport, certificates, the oracle), and the helpers that
//! build an smtpc client on top of it (testkit cannot: smtpc's unit tests
//! depend on testkit).

pub use testkit::*;

use std::time::Duration;

/// A client over the in-memory transport: the greeting, an EHLO reply
/// offering `extensions`, then `replies` (each one chunk, as a server that
/// answers a whole group at once would write them).
pub fn memory_client(extensions: &[&str], replies: &[&str]) -> (smtpc::Client, Writes) {
    let mut ehlo = String::from("250-mem.test");
    for e in extensions {
        ehlo.push_str(&format!("\r\n250-{e}"));
    }
    ehlo.push_str("\r\n250 ENHANCEDSTATUSCODES\r\n");
    let mut chunks = vec!["220 mem.test ESMTP\r\n".to_owned(), ehlo];
    chunks.extend(replies.iter().map(|r| r.replace('\n', "\r\n") + "\r\n"));
    let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
    let (mem, writes) = Memory::new(&chunks);
    let c = smtpc::Client::builder("mem.test")
        .helo_name("c.test")
        .tls(smtpc::Tls::None)
        .connect_stream(mem)
        .unwrap();
    (c, writes)
}

/// A client without TLS to a scripted server on 127.0.0.1.
pub fn plain_client(port: u16) -> smtpc::Client {
    smtpc::Client::builder("127.0.0.1")
        .port(port)
        .helo_name("client.test")
        .tls(smtpc::Tls::None)
        .timeout(Duration::from_secs(10))
        .connect()
        .unwrap()
}
