//! Delivery you can trust: recipients the server takes only so many at a
//! time go in further transactions of the same call; connections that
//! close under a batch (or while idle) are replaced, and no message is
//! sent twice; a message whose end was sent but never answered is of
//! unknown outcome. Against the fake server of testkit (which answers
//! whatever comes, with the limits real servers put) and a private
//! Postfix with its own recipient limit and idle timeout.

use std::time::Duration;

use smtpc::{Client, Envelope, Error, ErrorKind, Message};

use crate::support::fake::{AfterEnd, Fake, Settings, Spent, Stored};
use crate::support::*;

const MSG: &str = "Subject: delivery\r\n\r\nHello.\r\n";

fn client(fake: &Fake) -> smtpc::ClientBuilder {
    Client::builder("127.0.0.1")
        .port(fake.port())
        .helo_name("client.test")
        .tls(smtpc::Tls::None)
        .timeout(Duration::from_secs(5))
}

fn recipients(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("r{i}@y.test")).collect()
}

fn envelope(n: usize) -> Envelope {
    Envelope::new("a@x.test", recipients(n)).unwrap()
}

/// Every recipient exactly once over all stored messages, each with the
/// content as sent.
fn check_stored(stored: &[Stored], n: usize, content: &[u8]) {
    let mut all: Vec<String> = stored.iter().flat_map(|s| s.to.clone()).collect();
    all.sort();
    let mut want = recipients(n);
    want.sort();
    assert_eq!(all, want, "every recipient once");
    for s in stored {
        assert_eq!(s.content, content);
    }
}

#[test]
fn too_many_recipients_go_in_further_transactions() {
    for chunking in [false, true] {
        for (k, old_552) in [(1, false), (2, false), (3, false), (4, false), (2, true)] {
            let fake = Fake::start(Settings {
                chunking,
                max_recipients: Some(k),
                old_552,
                ..Settings::default()
            });
            let mut c = client(&fake).connect().unwrap();
            let d = c.send_bytes(&envelope(5), MSG.as_bytes()).unwrap();
            let what = format!("k={k} chunking={chunking} 552={old_552}");
            assert_eq!(d.accepted, recipients(5), "{what}");
            assert!(d.rejected.is_empty() && d.is_complete(), "{what}: {d:?}");
            let transactions: Vec<(String, usize)> = d
                .transactions()
                .map(|(r, to)| (r.queue_id().unwrap().to_owned(), to.len()))
                .collect();
            let want: Vec<usize> = (0..5).step_by(k).map(|i| k.min(5 - i)).collect();
            assert_eq!(
                transactions.iter().map(|t| t.1).collect::<Vec<_>>(),
                want,
                "{what}"
            );
            c.quit().unwrap();
            let stored = fake.stored();
            assert_eq!(stored.len(), want.len(), "{what}");
            check_stored(&stored, 5, MSG.as_bytes());
            // Each transaction's queue id is its own.
            let ids: Vec<String> = stored.iter().map(|s| s.queue_id.clone()).collect();
            assert_eq!(
                ids,
                transactions.iter().map(|t| t.0.clone()).collect::<Vec<_>>()
            );
            // One connection for all of it.
            assert_eq!(fake.connections(), 1, "{what}");
            // The limit is learned from the first transaction: after it no
            // RCPT goes only to be put off.
            let rcpts = fake
                .commands()
                .iter()
                .filter(|(_, c)| c.starts_with("RCPT"))
                .count();
            assert_eq!(rcpts, 5 + (5 - k), "{what}");
        }
    }
}

#[test]
fn a_one_shot_send_keeps_its_connection_for_recipients_put_off() {
    // QUIT joins the end of the message only when nothing is left to send:
    // over DATA the 452s come before the 354, so recipients put off go in
    // a second transaction on the same connection. Over BDAT, QUIT does not
    // wait for them: with more than the 100 recipients every server must
    // take, it waits, and with fewer (a server below RFC 5321's minimum) a
    // new connection takes the rest.
    for (chunking, limit, n, connections) in [
        (false, 3, 5, 1),
        (false, 100, 250, 1),
        (true, 100, 250, 1),
        (true, 3, 5, 2),
    ] {
        let what = format!("chunking={chunking} limit={limit} n={n}");
        let fake = Fake::start(Settings {
            chunking,
            max_recipients: Some(limit),
            ..Settings::default()
        });
        let c = client(&fake).connect().unwrap();
        let d = c
            .send_message_and_quit(&envelope(n), Message::from(MSG.as_bytes()))
            .unwrap();
        assert!(d.is_complete(), "{what}: {d:?}");
        assert_eq!(d.transactions().count(), n.div_ceil(limit), "{what}");
        check_stored(&fake.stored(), n, MSG.as_bytes());
        assert_eq!(fake.connections(), connections, "{what}");
        let quits = fake
            .commands()
            .iter()
            .filter(|(_, c)| c.starts_with("QUIT"))
            .count();
        assert_eq!(
            quits, connections,
            "chunking={chunking}: QUIT once per connection"
        );
    }
}

#[test]
fn a_recipient_limit_of_the_callers_own() {
    let fake = Fake::start(Settings::default());
    let mut c = client(&fake)
        .recipients_per_transaction(2)
        .connect()
        .unwrap();
    let d = c.send_bytes(&envelope(5), MSG.as_bytes()).unwrap();
    assert_eq!(d.transactions().count(), 3);
    c.quit().unwrap();
    let stored = fake.stored();
    assert_eq!(
        stored.iter().map(|s| s.to.len()).collect::<Vec<_>>(),
        [2, 2, 1]
    );
    check_stored(&stored, 5, MSG.as_bytes());
    // No RCPT beyond the limit ever went: nothing was refused.
    assert!(!fake.commands().iter().any(|(_, c)| c.starts_with("RSET")));
}

#[test]
fn a_batch_whose_messages_each_take_several_transactions() {
    let fake = Fake::start(Settings {
        max_recipients: Some(2),
        ..Settings::default()
    });
    let mut c = client(&fake).connect().unwrap();
    let env = envelope(5);
    let bodies = ["Subject: 1\r\n\r\none\r\n", "Subject: 2\r\n\r\ntwo\r\n"];
    let results = c.send_batch(bodies.iter().map(|b| (&env, b.as_bytes())));
    for r in &results {
        let d = r.as_ref().unwrap();
        assert_eq!(d.accepted.len(), 5);
        assert_eq!(d.transactions().count(), 3);
    }
    c.quit().unwrap();
    let stored = fake.stored();
    assert_eq!(stored.len(), 6);
    for body in bodies {
        let of_it: Vec<Stored> = stored
            .iter()
            .filter(|s| s.content == body.as_bytes())
            .cloned()
            .collect();
        check_stored(&of_it, 5, body.as_bytes());
    }
}

#[test]
fn a_streamed_message_cannot_go_twice_so_its_put_off_recipients_are_refused() {
    let fake = Fake::start(Settings {
        max_recipients: Some(2),
        ..Settings::default()
    });
    let mut c = client(&fake).connect().unwrap();
    // Larger than the block read ahead: it is a stream, read once.
    let big = "x".repeat(100).repeat(3000) + "\r\n";
    let d = c.send(&envelope(5), big.as_bytes()).unwrap();
    assert_eq!(d.accepted, recipients(2));
    assert_eq!(d.rejected.len(), 3);
    assert!(d.rejected.iter().all(|r| r.reply.code == 452));
    c.quit().unwrap();
    assert_eq!(fake.stored().len(), 1);
}

#[test]
fn a_batch_goes_on_over_new_connections_when_the_server_takes_only_so_many() {
    for spent in [Spent::Close421, Spent::Refuse452, Spent::Vanish] {
        for chunking in [false, true] {
            let fake = Fake::start(Settings {
                chunking,
                max_messages: Some((10, spent)),
                ..Settings::default()
            });
            let mut c = client(&fake).connect().unwrap();
            let env = envelope(1);
            let bodies: Vec<String> = (0..25)
                .map(|i| format!("Subject: {i}\r\n\r\n{i}\r\n"))
                .collect();
            let results = c.send_batch(bodies.iter().map(|b| (&env, b.as_bytes())));
            let what = format!("{spent:?} chunking={chunking}");
            if spent == Spent::Vanish && chunking {
                // The server went without a word while every message's
                // end was on its way (one write for all of them): whether
                // it took any of the rest nobody knows, and none of them
                // goes again.
                assert!(results[..10].iter().all(Result::is_ok), "{what}");
                for r in &results[10..] {
                    assert!(
                        r.as_ref().is_err_and(Error::is_outcome_unknown),
                        "{what}: {r:?}"
                    );
                }
                assert_eq!(fake.stored().len(), 10);
                assert_eq!(fake.connections(), 1);
                continue;
            }
            for (i, r) in results.iter().enumerate() {
                assert!(
                    r.is_ok(),
                    "{what}: message {i}: {r:?}\n{:?}",
                    fake.commands()
                );
            }
            c.quit().unwrap();
            let stored = fake.stored();
            // Every message stored once, in order, ten per connection.
            let contents: Vec<&[u8]> = stored.iter().map(|s| s.content.as_slice()).collect();
            let want: Vec<&[u8]> = bodies.iter().map(|b| b.as_bytes()).collect();
            assert_eq!(contents, want, "{what}");
            let per: Vec<usize> = (0..3)
                .map(|n| stored.iter().filter(|s| s.connection == n).count())
                .collect();
            assert_eq!(per, [10, 10, 5], "{what}");
            assert_eq!(fake.connections(), 3, "{what}");
            if !chunking {
                // Once the server is done with a connection, no more goes
                // on it: one MAIL beyond its ten (pipelined behind the last).
                let mails = |n: usize| {
                    fake.commands()
                        .iter()
                        .filter(|(c, l)| *c == n && l.starts_with("MAIL"))
                        .count()
                };
                assert_eq!((mails(0), mails(1)), (11, 11), "{what}");
            }
        }
    }
}

#[test]
fn a_limit_of_messages_per_connection_of_the_callers_own() {
    let fake = Fake::start(Settings::default());
    let mut c = client(&fake).messages_per_connection(4).connect().unwrap();
    let env = envelope(1);
    let results = c.send_batch((0..10).map(|_| (&env, MSG.as_bytes())));
    assert!(results.iter().all(Result::is_ok));
    c.quit().unwrap();
    assert_eq!(fake.stored().len(), 10);
    assert_eq!(fake.connections(), 3);
    // Each spent connection ended with QUIT before the next one.
    let quits = fake.commands().iter().filter(|(_, c)| c == "QUIT").count();
    assert_eq!(quits, 3);
}

#[test]
fn a_connection_closed_while_idle_is_found_and_replaced() {
    let fake = Fake::start(Settings {
        idle_close: Some(Duration::from_millis(300)),
        ..Settings::default()
    });
    let mut c = client(&fake).connect().unwrap();
    let env = envelope(1);
    c.send_bytes(&env, b"first\r\n").unwrap();
    // Idle past the server's limit (and past the second after which an
    // idle connection is looked at).
    std::thread::sleep(Duration::from_millis(1300));
    let d = c.send_bytes(&env, b"second\r\n").unwrap();
    assert_eq!(d.queue_id(), Some("F2"));
    c.quit().unwrap();
    assert_eq!(fake.connections(), 2);
    let stored = fake.stored();
    assert_eq!((stored[0].connection, stored[1].connection), (0, 1));
    // The closed connection was found without a round trip: nothing was
    // written on it after the first message.
    let on_first: Vec<String> = fake
        .commands()
        .into_iter()
        .filter(|(n, _)| *n == 0)
        .map(|(_, c)| c)
        .collect();
    assert_eq!(on_first.last().unwrap(), "DATA");
}

#[test]
fn the_step_by_step_api_also_replaces_a_connection_closed_while_idle() {
    let fake = Fake::start(Settings {
        pipelining: false,
        idle_close: Some(Duration::from_millis(300)),
        ..Settings::default()
    });
    let mut c = client(&fake).connect().unwrap();
    std::thread::sleep(Duration::from_millis(1300));
    c.mail("a@x.test").unwrap();
    c.rcpt("b@y.test").unwrap();
    c.data(MSG.as_bytes()).unwrap();
    c.quit().unwrap();
    assert_eq!(fake.connections(), 2);
    assert_eq!(fake.stored().len(), 1);
}

#[test]
fn after_quit_or_without_reconnecting_a_closed_session_says_so() {
    let fake = Fake::start(Settings::default());
    let mut c = client(&fake).connect().unwrap();
    c.quit().unwrap();
    let err = c.send_bytes(&envelope(1), MSG.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
    // reconnect(false): the batch stops where the server closed.
    let fake = Fake::start(Settings {
        max_messages: Some((2, Spent::Close421)),
        ..Settings::default()
    });
    let mut c = client(&fake).reconnect(false).connect().unwrap();
    let env = envelope(1);
    let results = c.send_batch((0..4).map(|_| (&env, MSG.as_bytes())));
    assert!(results[0].is_ok() && results[1].is_ok());
    assert!(
        matches!(&results[2], Err(Error::Transient(r)) if r.code == 421),
        "{:?}",
        results[2]
    );
    assert_eq!(results[3].as_ref().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(fake.connections(), 1);
}

#[test]
fn a_server_that_refuses_every_session_cannot_make_a_batch_loop() {
    let fake = Fake::start(Settings {
        max_messages: Some((0, Spent::Close421)),
        ..Settings::default()
    });
    let mut c = client(&fake).connect().unwrap();
    let env = envelope(1);
    let results = c.send_batch((0..5).map(|_| (&env, MSG.as_bytes())));
    assert!(results.iter().all(Result::is_err));
    // The first connection, then the new ones allowed for a message
    // refused before anything of it was accepted: a few, not five.
    assert!(
        fake.connections() <= 3,
        "{} connections",
        fake.connections()
    );
    assert!(fake.stored().is_empty());
}

#[test]
fn the_end_sent_but_never_answered_is_an_unknown_outcome() {
    for chunking in [false, true] {
        for after in [AfterEnd::Close, AfterEnd::Silence] {
            // A single send.
            let fake = Fake::start(Settings {
                chunking,
                after_end: Some((1, after)),
                ..Settings::default()
            });
            let mut c = client(&fake)
                .timeout(Duration::from_millis(700))
                .connect()
                .unwrap();
            let err = c.send_bytes(&envelope(1), MSG.as_bytes()).unwrap_err();
            let what = format!("{after:?} chunking={chunking}");
            assert!(err.is_outcome_unknown(), "{what}: {err}");
            assert_eq!(err.kind(), ErrorKind::Unknown);
            assert!(err
                .to_string()
                .ends_with("the message may have been delivered"));
            assert!(c.is_closed());
            // It is not sent again.
            assert_eq!(fake.stored().len(), 1);
            assert_eq!(fake.connections(), 1);

            // In a batch: the unknown one never goes again. With DATA the
            // next message's content had not gone: it goes over a new
            // connection. With BDAT its end had gone too (one write for
            // all): it is of unknown outcome as well, and not sent again.
            let fake = Fake::start(Settings {
                chunking,
                after_end: Some((2, after)),
                ..Settings::default()
            });
            let mut c = client(&fake)
                .timeout(Duration::from_millis(700))
                .connect()
                .unwrap();
            let env = envelope(1);
            let bodies = ["one\r\n", "two\r\n", "three\r\n"];
            let results = c.send_batch(bodies.iter().map(|b| (&env, b.as_bytes())));
            assert!(results[0].is_ok(), "{what}: {:?}", results[0]);
            assert!(
                results[1].as_ref().is_err_and(Error::is_outcome_unknown),
                "{what}: {:?}",
                results[1]
            );
            let stored: Vec<Vec<u8>> = fake.stored().into_iter().map(|s| s.content).collect();
            if chunking {
                assert!(
                    results[2].as_ref().is_err_and(Error::is_outcome_unknown),
                    "{what}: {:?}",
                    results[2]
                );
                assert_eq!(stored, [b"one\r\n".to_vec(), b"two\r\n".to_vec()]);
                assert_eq!(fake.connections(), 1);
            } else {
                assert!(results[2].is_ok(), "{what}: {:?}", results[2]);
                assert_eq!(
                    stored,
                    [
                        b"one\r\n".to_vec(),
                        b"two\r\n".to_vec(),
                        b"three\r\n".to_vec()
                    ]
                );
                assert_eq!(fake.connections(), 2);
            }
        }
    }
}

#[test]
fn a_failure_before_the_end_of_data_is_definite() {
    // The connection goes while the content is being sent: the server
    // never had the end, so the message was not delivered.
    let server = Server::start(script([
        greet_ehlo(&["PIPELINING"]),
        vec![Act::Line, Act::Line, Act::Line],
        vec![send("250 ok\n250 ok\n354 go")],
        vec![Act::Line, Act::Close],
    ]));
    let mut c = plain_client(server.port());
    // More than the socket buffers hold: the write fails before the end.
    let big = "line of content\r\n".repeat(2_000_000);
    let err = c.send_bytes(&envelope(1), big.as_bytes()).unwrap_err();
    assert!(!err.is_outcome_unknown(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
}

#[test]
fn postfix_takes_250_recipients_100_at_a_time_and_a_connection_it_closed_is_replaced() {
    let Some(server) =
        real::Postfix::start_with(&["smtpd_recipient_limit = 100", "smtpd_timeout = 2s"])
    else {
        return;
    };
    let mut c = Client::builder("127.0.0.1")
        .port(server.port)
        .helo_name("client.test")
        .tls(smtpc::Tls::None)
        .connect()
        .unwrap();
    let env = envelope(250);
    let message = Message::new(MSG.as_bytes());
    let d = c.send_message(&env, &message).unwrap();
    assert_eq!(d.accepted.len(), 250);
    let sizes: Vec<usize> = d.transactions().map(|(_, to)| to.len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let ids: std::collections::HashSet<&str> =
        d.transactions().filter_map(|(r, _)| r.queue_id()).collect();
    assert_eq!(ids.len(), 3, "each transaction its own queue id");
    // Idle past smtpd_timeout: Postfix says 421 and closes; the next send
    // finds that out and goes over a new connection.
    std::thread::sleep(Duration::from_millis(3500));
    let again = c.send_message(&envelope(1), &message).unwrap();
    assert!(again.reply.is_positive());
    c.quit().unwrap();
    // What Postfix queued: one message per transaction, each with its own
    // recipients, none twice.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut counts: Vec<usize>;
    loop {
        let log = server.log();
        counts = log
            .lines()
            .filter(|l| l.contains("qmgr") && l.contains("from=<a@x.test>"))
            .filter_map(|l| l.split("nrcpt=").nth(1))
            .filter_map(|n| n.split_whitespace().next()?.parse().ok())
            .collect();
        if counts.len() >= 4 || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // (qmgr logs them as it picks them up, in no fixed order.)
    counts.sort();
    assert_eq!(counts, [1, 50, 100, 100]);
    let log = server.log();
    assert!(
        log.contains("timeout after"),
        "Postfix closed the idle connection"
    );
}
