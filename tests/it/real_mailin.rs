//! Against a real SMTP server: mailin-embedded on an ephemeral loopback
//! port. What it stored must equal what was sent.

use std::time::Duration;

use smtpc::{Client, Envelope, Tls};

use crate::support::{mailin, normalised};

fn client(port: u16) -> Client {
    Client::builder("127.0.0.1")
        .tls(Tls::None)
        .port(port)
        .helo_name("client.test")
        .timeout(Duration::from_secs(10))
        .connect()
        .expect("connect to mailin-embedded")
}

#[test]
fn message_arrives_as_sent() {
    let (port, store) = mailin();
    let mut c = client(port);
    let message = "From: kjj@solidosystems.com\r\nTo: khl@solidosystems.com\r\n\
                   Subject: Hand written SMTP\r\n\r\nHello,\r\n.leading dot\r\n..two\r\n.\r\nend\r\n";
    let env = Envelope::new("kjj@solidosystems.com", ["khl@solidosystems.com"]).unwrap();
    let d = c.send(&env, message.as_bytes()).unwrap();
    assert_eq!(d.reply.code, 250);
    c.quit().unwrap();
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, "kjj@solidosystems.com");
    assert_eq!(got[0].to, ["khl@solidosystems.com"]);
    assert_eq!(String::from_utf8_lossy(&got[0].data), message);
}

#[test]
fn bare_line_endings_arrive_normalised() {
    let (port, store) = mailin();
    let mut c = client(port);
    let messages: [&[u8]; 4] = [
        b"Subject: lf\n\nline one\nline two",
        b"Subject: cr\r\rbare\rcr\r\n",
        b"Subject: smuggle\r\n\r\nA\n.\nMAIL FROM:<evil@x>\r\n\r.\rB\r\r\n",
        b"",
    ];
    let env = Envelope::new("a@x.test", ["b@y.test", "c@y.test"]).unwrap();
    for m in messages {
        c.send(&env, m).unwrap();
    }
    c.quit().unwrap();
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), messages.len(), "one stored message per send");
    for (m, g) in messages.iter().zip(&got) {
        assert_eq!(g.data, normalised(m), "{:?}", String::from_utf8_lossy(m));
        assert_eq!(g.to, ["b@y.test", "c@y.test"]);
    }
}

#[test]
fn step_by_step_and_many_messages_on_one_connection() {
    let (port, store) = mailin();
    let mut c = client(port);
    assert!(c.extensions().eight_bit_mime());
    for i in 0..20 {
        c.mail("a@x.test").unwrap();
        c.rcpt(&format!("r{i}@y.test")).unwrap();
        c.data(format!("Subject: {i}\r\n\r\nbody {i}\r\n").as_bytes())
            .unwrap();
    }
    assert_eq!(c.noop().unwrap().code, 250);
    assert_eq!(c.rset().unwrap().code, 250);
    c.quit().unwrap();
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), 20);
    assert_eq!(got[7].to, ["r7@y.test"]);
    assert_eq!(got[7].data, b"Subject: 7\r\n\r\nbody 7\r\n");
}
