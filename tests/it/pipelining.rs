//! PIPELINING, CHUNKING, SIZE, 8BITMIME and DSN against scripted servers:
//! the exact bytes of every write (the in-memory transport records each
//! write apart, so "one write" is checked, not assumed), and the exact
//! result of every message and recipient.

use proptest::prelude::*;
use smtpc::{Envelope, Error, Notify, Recipient, Ret};

use crate::support::*;

/// Every write after EHLO, as text.
fn wire(writes: &Writes) -> Vec<String> {
    let w = writes.lock().unwrap();
    assert_eq!(w[0], b"EHLO c.test\r\n");
    w[1..]
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

const MSG: &str = "Subject: pipelined\r\n\r\nHello.\r\n";
const P: &[&str] = &["PIPELINING"];
const PC: &[&str] = &["PIPELINING", "CHUNKING"];

fn env(to: &[&str]) -> Envelope {
    Envelope::new("a@x.test", to.iter().copied()).unwrap()
}

fn codes(rejected: &[smtpc::Rejection]) -> Vec<(&str, u16)> {
    rejected
        .iter()
        .map(|r| (r.recipient.as_str(), r.reply.code))
        .collect()
}

#[test]
fn envelope_and_data_in_one_write_then_the_content() {
    let (mut c, writes) = memory_client(
        P,
        &[
            "250 2.1.0 Ok\n550 5.1.1 <b@y.test>: no such user\n250 2.1.5 Ok\n354 go",
            "250 2.0.0 Ok: queued as Q1",
        ],
    );
    let d = c
        .send(
            &env(&["b@y.test", "c@y.test"]),
            "Subject: x\n\n.dot\n".as_bytes(),
        )
        .unwrap();
    assert_eq!(d.accepted, ["c@y.test"]);
    assert_eq!(codes(&d.rejected), [("b@y.test", 550)]);
    assert_eq!(
        d.rejected[0].reply.in_reply_to(),
        Some("RCPT TO:<b@y.test>")
    );
    assert_eq!(d.queue_id(), Some("Q1"));
    // The body fits the first block, so its size is known and declared.
    assert_eq!(
        wire(&writes),
        [
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\n",
            "Subject: x\r\n\r\n..dot\r\n.\r\n",
        ]
    );
}

#[test]
fn refused_mail_sends_no_body_and_resets() {
    let (mut c, writes) = memory_client(
        P,
        &[
            "553 5.1.8 sender refused\n503 5.5.1 need MAIL\n503 5.5.1 need MAIL\n503 5.5.1 no valid recipients",
            "250 2.0.0 Reset",
        ],
    );
    let err = c
        .send(&env(&["b@y.test", "c@y.test"]), MSG.as_bytes())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "MAIL FROM:<a@x.test>: 553 5.1.8 sender refused"
    );
    assert!(err.is_permanent());
    assert!(!c.is_closed());
    assert_eq!(
        wire(&writes),
        [
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\n",
            "RSET\r\n",
        ]
    );
}

#[test]
fn every_recipient_refused_sends_no_body() {
    let (mut c, writes) = memory_client(
        P,
        &[
            "250 ok\n550 5.1.1 no\n452 4.2.2 full\n554 5.5.1 Error: no valid recipients",
            "250 2.0.0 Reset",
        ],
    );
    let err = c
        .send(&env(&["b@y.test", "c@y.test"]), MSG.as_bytes())
        .unwrap_err();
    let Error::AllRecipientsRejected(list) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(codes(list), [("b@y.test", 550), ("c@y.test", 452)]);
    assert!(err.is_transient());
    let wire = wire(&writes);
    assert_eq!(wire.len(), 2, "{wire:?}");
    assert_eq!(wire[1], "RSET\r\n");
    assert!(!wire.concat().contains("Hello"), "body sent: {wire:?}");
}

#[test]
fn data_answered_354_despite_no_recipient_gets_the_lone_dot_only() {
    let (mut c, writes) = memory_client(
        P,
        &[
            "250 ok\n550 5.1.1 no such user\n354 go ahead anyway",
            "554 5.5.1 no valid recipients",
            "250 2.0.0 Reset",
        ],
    );
    let err = c.send(&env(&["b@y.test"]), MSG.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, Error::AllRecipientsRejected(l) if l.len() == 1),
        "{err}"
    );
    assert_eq!(
        wire(&writes),
        [
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n",
            ".\r\n",
            "RSET\r\n",
        ]
    );
    // The session goes on.
    assert!(!c.is_closed());
}

#[test]
fn refused_data_sends_no_body() {
    let (mut c, writes) = memory_client(
        P,
        &["250 ok\n250 ok\n451 4.3.0 try later", "250 2.0.0 Reset"],
    );
    let err = c.send(&env(&["b@y.test"]), MSG.as_bytes()).unwrap_err();
    assert_eq!(err.to_string(), "DATA: 451 4.3.0 try later");
    assert!(err.is_transient());
    assert_eq!(wire(&writes)[1], "RSET\r\n");
    assert_eq!(wire(&writes).len(), 2);
}

#[test]
fn rcpt_421_closes_without_rset() {
    let (mut c, writes) = memory_client(P, &["250 ok\n421 4.3.2 shutting down"]);
    let err = c
        .send(&env(&["b@y.test", "c@y.test"]), MSG.as_bytes())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transient(r) if r.code == 421),
        "{err}"
    );
    assert!(c.is_closed());
    assert_eq!(wire(&writes).len(), 1, "nothing after the group");
}

#[test]
fn chunking_sends_a_message_in_one_flight() {
    let (mut c, writes) = memory_client(
        &["PIPELINING", "CHUNKING", "SIZE 100000", "8BITMIME"],
        &["250 2.1.0 Ok\n250 2.1.5 Ok\n250 2.1.5 Ok\n250 2.0.0 Ok: queued as B1"],
    );
    let body = "Subject: caf\u{e9}\n\n.dot stays\nend";
    let d = c
        .send_bytes(&env(&["b@y.test", "c@y.test"]), body.as_bytes())
        .unwrap();
    assert_eq!(d.accepted, ["b@y.test", "c@y.test"]);
    assert_eq!(d.queue_id(), Some("B1"));
    let content = "Subject: caf\u{e9}\r\n\r\n.dot stays\r\nend\r\n";
    assert_eq!(
        wire(&writes),
        [format!(
            "MAIL FROM:<a@x.test> SIZE={} BODY=8BITMIME\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\n\
             BDAT {} LAST\r\n{content}",
            body.len(),
            content.len()
        )]
    );
}

#[test]
fn refused_bdat_is_the_error_and_resets() {
    let (mut c, writes) = memory_client(
        PC,
        &[
            "250 ok\n250 ok\n554 5.6.0 content refused",
            "250 2.0.0 Reset",
        ],
    );
    let err = c
        .send_bytes(&env(&["b@y.test"]), MSG.as_bytes())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("BDAT {} LAST: 554 5.6.0 content refused", MSG.len())
    );
    assert!(err.is_permanent());
    assert_eq!(wire(&writes).len(), 2);
    assert_eq!(wire(&writes)[1], "RSET\r\n");
}

#[test]
fn chunking_with_every_recipient_refused() {
    let (mut c, _) = memory_client(
        PC,
        &[
            "250 ok\n550 5.1.1 no\n554 5.5.1 no valid recipients",
            "250 2.0.0 Reset",
        ],
    );
    let err = c
        .send_bytes(&env(&["b@y.test"]), MSG.as_bytes())
        .unwrap_err();
    assert!(
        matches!(&err, Error::AllRecipientsRejected(l) if l[0].reply.code == 550),
        "{err}"
    );
}

#[test]
fn chunking_without_pipelining_waits_for_each_reply() {
    let (mut c, writes) = memory_client(&["CHUNKING"], &["250 ok", "250 ok", "250 2.0.0 queued"]);
    c.send_bytes(&env(&["b@y.test"]), MSG.as_bytes()).unwrap();
    assert_eq!(
        wire(&writes),
        [
            "MAIL FROM:<a@x.test>\r\n".to_string(),
            "RCPT TO:<b@y.test>\r\n".to_string(),
            format!("BDAT {} LAST\r\n{MSG}", MSG.len()),
        ]
    );
}

#[test]
fn batch_with_data_costs_one_write_per_message() {
    let (mut c, writes) = memory_client(
        P,
        &[
            "250 ok\n250 ok\n354 go",
            "250 queued as M1\n250 ok\n550 5.1.1 no\n554 no valid recipients",
            "250 reset",
            "250 ok\n250 ok\n354 go",
            "250 queued as M3",
            "221 bye",
        ],
    );
    let envs = [
        env(&["b@y.test"]),
        env(&["nobody@y.test"]),
        env(&["d@y.test"]),
    ];
    let bodies = ["one\r\n", "two\r\n", "three\r\n"];
    let results = c.send_batch(envs.iter().zip(bodies.iter().map(|b| b.as_bytes())));
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap().queue_id(), Some("M1"));
    assert!(
        matches!(&results[1], Err(Error::AllRecipientsRejected(l)) if l[0].recipient == "nobody@y.test"),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2].as_ref().unwrap().queue_id(), Some("M3"));
    c.quit().unwrap();
    assert_eq!(
        wire(&writes),
        [
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n",
            // The end of one message and the next envelope: one write.
            "one\r\n.\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<nobody@y.test>\r\nDATA\r\n",
            "RSET\r\n",
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<d@y.test>\r\nDATA\r\n",
            "three\r\n.\r\n",
            "QUIT\r\n",
        ]
    );
}

#[test]
fn batch_with_chunking_packs_messages_into_one_write() {
    let (mut c, writes) = memory_client(
        PC,
        &[
            "250 ok\n250 ok\n250 queued as K1\n\
             250 reset\n250 ok\n550 5.1.1 no\n554 5.5.1 no valid recipients\n\
             250 reset\n250 ok\n250 ok\n250 queued as K3",
            "221 bye",
        ],
    );
    let envs = [
        env(&["b@y.test"]),
        env(&["nobody@y.test"]),
        env(&["d@y.test"]),
    ];
    let bodies: [&[u8]; 3] = [b"one\r\n", b"two\r\n", b"three\r\n"];
    let results = c.send_batch(envs.iter().zip(bodies));
    assert_eq!(results[0].as_ref().unwrap().queue_id(), Some("K1"));
    assert!(matches!(&results[1], Err(Error::AllRecipientsRejected(_))));
    assert_eq!(results[2].as_ref().unwrap().queue_id(), Some("K3"));
    c.quit().unwrap();
    assert_eq!(
        wire(&writes),
        [
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT 5 LAST\r\none\r\n\
             RSET\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<nobody@y.test>\r\nBDAT 5 LAST\r\ntwo\r\n\
             RSET\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<d@y.test>\r\nBDAT 7 LAST\r\nthree\r\n",
            "QUIT\r\n",
        ]
    );
}

#[test]
fn a_421_mid_batch_fails_the_rest_and_sends_nothing_more() {
    let (mut c, writes) = memory_client(
        P,
        &[
            "250 ok\n250 ok\n354 go",
            "250 queued as M1\n421 4.3.2 going down",
        ],
    );
    let e = env(&["b@y.test"]);
    let results = c.send_batch([(&e, "one"), (&e, "two"), (&e, "three")]);
    assert_eq!(results[0].as_ref().unwrap().queue_id(), Some("M1"));
    assert!(matches!(&results[1], Err(Error::Transient(r)) if r.code == 421));
    assert!(
        matches!(&results[2], Err(Error::ConnectionClosed { .. })),
        "{:?}",
        results[2]
    );
    assert!(c.is_closed());
    assert_eq!(wire(&writes).len(), 2);
}

#[test]
fn a_421_mid_chunking_batch() {
    let (mut c, writes) = memory_client(PC, &["250 ok\n250 ok\n250 queued as K1\n421 4.3.2 bye"]);
    let e = env(&["b@y.test"]);
    let results = c.send_batch([(&e, "one"), (&e, "two")]);
    assert!(results[0].is_ok());
    assert!(
        matches!(&results[1], Err(Error::Transient(r)) if r.code == 421),
        "{:?}",
        results[1]
    );
    assert_eq!(wire(&writes).len(), 1);
}

#[test]
fn local_failures_in_a_batch_touch_nothing() {
    let (mut c, writes) = memory_client(
        &["PIPELINING", "SIZE 10"],
        &["250 ok\n250 ok\n354 go", "250 ok"],
    );
    let e = env(&["b@y.test"]);
    let utf8 = Envelope::new("j\u{f6}rg@x.test", ["b@y.test"]).unwrap();
    let results = c.send_batch([
        (&e, &b"this is more than ten bytes"[..]),
        (&utf8, b"short"),
        (&e, b"\xff8bit"),
        (&e, b"fits"),
    ]);
    let err = results[0].as_ref().unwrap_err();
    assert!(
        matches!(
            err,
            Error::MessageTooLarge {
                size: 27,
                limit: 10
            }
        ),
        "{err}"
    );
    assert!(err.is_permanent());
    assert!(matches!(results[1], Err(Error::Unsupported(_))));
    assert!(
        matches!(results[2], Err(Error::Unsupported(_))),
        "no 8BITMIME"
    );
    assert!(results[3].is_ok());
    assert_eq!(
        wire(&writes),
        [
            "MAIL FROM:<a@x.test> SIZE=4\r\nRCPT TO:<b@y.test>\r\nDATA\r\n",
            "fits\r\n.\r\n"
        ]
    );
}

#[test]
fn dsn_parameters_only_when_offered() {
    let envelope = Envelope::new(
        "a@x.test",
        [Recipient::new("b@y.test")
            .notify(Notify {
                success: true,
                failure: true,
                delay: false,
            })
            .original_recipient("B@Y.test")],
    )
    .unwrap()
    .ret(Ret::Headers)
    .envid("id 1")
    .unwrap();
    let (mut c, writes) = memory_client(
        &["PIPELINING", "DSN"],
        &["250 ok\n250 ok\n354 go", "250 ok"],
    );
    c.send_bytes(&envelope, b"x").unwrap();
    assert_eq!(
        wire(&writes)[0],
        "MAIL FROM:<a@x.test> RET=HDRS ENVID=id+201\r\n\
         RCPT TO:<b@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;B@Y.test\r\nDATA\r\n"
    );
    let (mut c, writes) = memory_client(P, &["250 ok\n250 ok\n354 go", "250 ok"]);
    c.send_bytes(&envelope, b"x").unwrap();
    assert_eq!(
        wire(&writes)[0],
        "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n"
    );
}

#[test]
fn many_recipients_keep_the_pending_replies_bounded() {
    // 150 recipients: more replies than the client lets pile up, so it
    // writes the group in two parts and reads in between.
    let to: Vec<String> = (0..150).map(|i| format!("r{i}@y.test")).collect();
    let envelope = Envelope::new("a@x.test", to.iter().map(String::as_str)).unwrap();
    // MAIL and 99 RCPTs, then the other 51 and DATA, then the content.
    let mut replies = vec!["250 ok\n".repeat(100)];
    replies[0].pop();
    replies.push("250 ok\n".repeat(51) + "354 go");
    replies.push("250 done".into());
    let replies: Vec<&str> = replies.iter().map(String::as_str).collect();
    let (mut c, writes) = memory_client(P, &replies);
    let d = c.send_bytes(&envelope, b"x").unwrap();
    assert_eq!(d.accepted.len(), 150);
    let wire = wire(&writes);
    // At most 100 replies are ever due: the envelope leaves in writes of
    // 100, 50 and 2 commands (each after reading half of what was due).
    let lines: Vec<usize> = wire.iter().map(|w| w.matches("\r\n").count()).collect();
    assert_eq!(lines, [100, 50, 2, 2]);
    assert!(wire[2].ends_with("RCPT TO:<r149@y.test>\r\nDATA\r\n"));
    assert_eq!(wire[3], "x\r\n.\r\n");
}

/// A large message over CHUNKING: chunks of 1 MiB, the replies read a few
/// chunks behind, the content exactly the input.
#[test]
fn large_message_goes_in_chunks() {
    let line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n";
    let body: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(2 * (1 << 20) + 1000)
        .collect();
    let sizes = [1usize << 20, 1 << 20, body.len() - (2 << 20) + 2];
    let server = Server::start(script([
        greet_ehlo(&["PIPELINING", "CHUNKING"]),
        vec![Act::Line, Act::Line],
        vec![
            Act::Line,
            Act::Bytes(sizes[0]),
            send("250 2.1.0 Ok\n250 2.1.5 Ok\n250 2.0.0 chunk"),
        ],
        vec![Act::Line, Act::Bytes(sizes[1]), send("250 2.0.0 chunk")],
        vec![
            Act::Line,
            Act::Bytes(sizes[2]),
            send("250 2.0.0 Ok: queued as BIG"),
        ],
        quit(),
    ]));
    let mut c = plain_client(server.port());
    let d = c.send_bytes(&env(&["b@y.test"]), &body).unwrap();
    assert_eq!(d.queue_id(), Some("BIG"));
    c.quit().unwrap();
    let got = server.received();
    let head = format!(
        "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT {}\r\n",
        sizes[0]
    );
    assert!(
        got.starts_with(head.as_bytes()),
        "{:?}",
        String::from_utf8_lossy(&got[..200])
    );
    let content = bdat_content(&got[got.windows(4).position(|w| w == b"BDAT").unwrap()..]);
    assert_eq!(content, normalised(&body));
}

/// A streamed body over CHUNKING: 256 KiB chunks and a last one.
#[test]
fn streamed_message_goes_in_chunks() {
    let body: Vec<u8> = b"line without CR\n"
        .iter()
        .copied()
        .cycle()
        .take(600 * 1024)
        .collect();
    let wire_len = normalised(&body).len();
    let block = 256 * 1024;
    // The first two blocks: 16384 lines of 16 bytes each, each gains a CR.
    let sizes = [
        block + block / 16,
        block + block / 16,
        wire_len - 2 * (block + block / 16),
    ];
    let server = Server::start(script([
        greet_ehlo(&["PIPELINING", "CHUNKING"]),
        vec![Act::Line, Act::Line],
        vec![
            Act::Line,
            Act::Bytes(sizes[0]),
            send("250 ok\n250 ok\n250 chunk"),
        ],
        vec![Act::Line, Act::Bytes(sizes[1]), send("250 chunk")],
        vec![Act::Line, Act::Bytes(sizes[2]), send("250 queued as S1")],
        quit(),
    ]));
    let mut c = plain_client(server.port());
    let d = c.send(&env(&["b@y.test"]), &body[..]).unwrap();
    assert_eq!(d.queue_id(), Some("S1"));
    c.quit().unwrap();
    let got = server.received();
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("MAIL FROM:<a@x.test>\r\n"),
        "size unknown when streamed"
    );
    assert!(text.contains(&format!("BDAT {} LAST\r\n", sizes[2])));
    let content = bdat_content(&got[got.windows(4).position(|w| w == b"BDAT").unwrap()..]);
    assert_eq!(content, normalised(&body));
}

/// The content of consecutive `BDAT n [LAST]` chunks, up to the LAST one.
fn bdat_content(mut wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let nl = wire.iter().position(|&b| b == b'\n').expect("BDAT line");
        let line = std::str::from_utf8(&wire[..nl - 1]).unwrap();
        let mut words = line.split(' ');
        assert_eq!(words.next(), Some("BDAT"), "{line}");
        let n: usize = words.next().unwrap().parse().unwrap();
        let last = words.next() == Some("LAST");
        out.extend_from_slice(&wire[nl + 1..nl + 1 + n]);
        wire = &wire[nl + 1 + n..];
        if last {
            return out;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Through the whole client: BDAT content is the CRLF-normalised input,
    /// never dot-stuffed, and the declared size is the real size.
    #[test]
    fn bdat_content_round_trips(
        body in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a'), any::<u8>()], 0..2000),
    ) {
        let (mut c, writes) = memory_client(
            &["PIPELINING", "CHUNKING", "8BITMIME"],
            &["250 ok\n250 ok\n250 queued"],
        );
        c.send_bytes(&env(&["b@y.test"]), &body).unwrap();
        let w = writes.lock().unwrap();
        prop_assert_eq!(w.len(), 2);
        let at = w[1].windows(4).position(|x| x == b"BDAT").unwrap();
        prop_assert_eq!(bdat_content(&w[1][at..]), normalised(&body));
    }
}
