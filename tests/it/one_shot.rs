//! The session's last message with QUIT in the same write as its end
//! (`send_and_quit` and kin): the writes, the result read exactly, and the
//! session over afterwards whatever the server does with QUIT.

use smtpc::{Envelope, Error, Message};

use crate::support::*;

const MSG: &str = "Subject: one shot\r\n\r\nHello.\r\n";

fn env() -> Envelope {
    Envelope::new("a@x.test", ["b@y.test"]).unwrap()
}

/// Every write after EHLO, as text.
fn wire(writes: &Writes) -> Vec<String> {
    let w = writes.lock().unwrap();
    w[1..]
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect()
}

#[test]
fn with_data_quit_leaves_with_the_end_of_data() {
    let (c, writes) = memory_client(
        &["PIPELINING"],
        &[
            "250 ok\n250 ok\n354 go",
            "250 2.0.0 Ok: queued as Q1\n221 2.0.0 Bye",
        ],
    );
    let d = c.send_and_quit(&env(), MSG.as_bytes()).unwrap();
    assert_eq!(d.queue_id(), Some("Q1"));
    assert_eq!(
        wire(&writes),
        [
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n",
            "Subject: one shot\r\n\r\nHello.\r\n.\r\nQUIT\r\n",
        ]
    );
}

#[test]
fn with_bdat_the_whole_session_after_ehlo_is_one_write() {
    let (c, writes) = memory_client(
        &["PIPELINING", "CHUNKING"],
        &["250 ok\n250 ok\n250 2.0.0 Ok: queued as Q2\n221 2.0.0 Bye"],
    );
    let message = Message::new(MSG.as_bytes());
    let d = c.send_message_and_quit(&env(), &message).unwrap();
    assert_eq!(d.queue_id(), Some("Q2"));
    let w = wire(&writes);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        w[0],
        format!(
            "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nBDAT {} LAST\r\n{MSG}QUIT\r\n",
            MSG.len()
        )
    );
}

#[test]
fn a_server_that_closes_instead_of_answering_quit_still_took_the_message() {
    // No 221: the connection ends right after the 250.
    let (c, _) = memory_client(
        &["PIPELINING", "CHUNKING"],
        &["250 ok\n250 ok\n250 2.0.0 Ok: queued as Q3"],
    );
    let d = c.send_and_quit(&env(), MSG.as_bytes()).unwrap();
    assert_eq!(d.queue_id(), Some("Q3"));
}

#[test]
fn a_refused_message_is_still_an_error_and_nothing_follows_quit() {
    let (c, writes) = memory_client(
        &["PIPELINING", "CHUNKING"],
        &["250 ok\n250 ok\n554 5.6.0 content refused\n221 2.0.0 Bye"],
    );
    let err = c.send_and_quit(&env(), MSG.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, Error::Permanent(r) if r.code == 554),
        "{err}"
    );
    let w = wire(&writes);
    assert_eq!(w.len(), 1, "no RSET and no second QUIT after QUIT: {w:?}");
    assert!(w[0].ends_with("QUIT\r\n"));
}

#[test]
fn without_pipelining_quit_waits_for_the_reply_to_the_message() {
    let (c, writes) = memory_client(
        &[],
        &[
            "250 ok",
            "250 ok",
            "354 go",
            "250 2.0.0 Ok: queued as Q4",
            "221 2.0.0 Bye",
        ],
    );
    let d = c.send_and_quit(&env(), MSG.as_bytes()).unwrap();
    assert_eq!(d.queue_id(), Some("Q4"));
    assert_eq!(
        wire(&writes),
        [
            "MAIL FROM:<a@x.test>\r\n",
            "RCPT TO:<b@y.test>\r\n",
            "DATA\r\n",
            "Subject: one shot\r\n\r\nHello.\r\n.\r\n",
            "QUIT\r\n",
        ]
    );
}

#[test]
fn a_batch_ends_with_quit_after_its_last_message() {
    let (c, writes) = memory_client(
        &["PIPELINING"],
        &[
            "250 ok\n250 ok\n354 go",
            "250 queued as M1\n250 ok\n250 ok\n354 go",
            "250 queued as M2\n221 Bye",
        ],
    );
    let envelope = env();
    let results = c.send_batch_and_quit([(&envelope, "one\r\n"), (&envelope, "two\r\n")]);
    let ids: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().unwrap().queue_id().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["M1", "M2"]);
    let w = wire(&writes);
    assert_eq!(w.last().unwrap(), "two\r\n.\r\nQUIT\r\n", "{w:?}");
    assert_eq!(w.iter().filter(|w| w.contains("QUIT")).count(), 1);
}
