//! The bookkeeping of one transaction, reply by reply.

use super::*;

fn reply(text: &str) -> Result<Reply, Error> {
    Ok(Reply::parse(format!("{text}\r\n").as_bytes()).unwrap())
}

fn envelope(recipients: &[&str]) -> &'static Envelope {
    Box::leak(Box::new(
        Envelope::new("a@x", recipients.iter().copied()).unwrap(),
    ))
}

fn tx(recipients: &[&str]) -> Tx<'static> {
    Tx::new(0, Part::whole(envelope(recipients)))
}

#[test]
fn a_message_is_sent_only_after_a_2yz_to_its_content() {
    let mut t = tx(&["b@y"]);
    t.absorb(Expect::Mail, reply("250 ok"));
    t.absorb(Expect::Rcpt, reply("250 ok"));
    t.absorb(Expect::Data, reply("354 go"));
    assert!(t.go_ahead && !t.failed());
    let unsent = tx(&["b@y"]);
    assert!(matches!(
        unsent.into_result(),
        Err(Error::ConnectionClosed { .. })
    ));
    assert!(t
        .absorb(Expect::EndOfData, reply("250 queued as Q1"))
        .is_none());
    let d = t.into_result().unwrap();
    assert_eq!((d.queue_id(), d.accepted.len()), (Some("Q1"), 1));
}

#[test]
fn refused_recipients_are_kept_and_all_refused_is_an_error() {
    let mut t = tx(&["b@y", "c@y"]);
    t.absorb(Expect::Mail, reply("250 ok"));
    t.absorb(Expect::Rcpt, reply("550 5.1.1 no"));
    assert!(!t.failed());
    t.absorb(Expect::Rcpt, reply("251 forwarded"));
    t.absorb(Expect::Data, reply("354 go"));
    t.absorb(Expect::EndOfData, reply("250 ok"));
    let d = t.into_result().unwrap();
    assert_eq!(d.accepted, ["c@y"]);
    assert_eq!(d.rejected[0].recipient, "b@y");

    let mut all = tx(&["b@y", "c@y"]);
    all.absorb(Expect::Mail, reply("250 ok"));
    all.absorb(Expect::Rcpt, reply("450 later"));
    all.absorb(Expect::Rcpt, reply("550 no"));
    match all.into_result() {
        Err(Error::AllRecipientsRejected(list)) => assert_eq!(list.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_first_failure_decides_and_later_replies_are_spares() {
    let mut t = tx(&["b@y"]);
    t.absorb(Expect::Mail, reply("553 bad sender"));
    // The pipelined replies after it are read and handed back.
    assert!(t.absorb(Expect::Rcpt, reply("503 need MAIL")).is_some());
    assert!(t.absorb(Expect::Data, reply("503 need RCPT")).is_none());
    match t.into_result() {
        Err(Error::Permanent(r)) => assert_eq!(r.code, 553),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_421_fails_the_message_whatever_it_answers() {
    for expect in [Expect::Rset, Expect::Rcpt, Expect::Mail, Expect::EndOfData] {
        let mut t = tx(&["b@y"]);
        if expect == Expect::Rcpt {
            t.absorb(Expect::Mail, reply("250 ok"));
        }
        t.absorb(expect, reply("421 4.3.2 bye"));
        match t.into_result() {
            Err(Error::Transient(r)) => assert_eq!(r.code, 421, "{expect:?}"),
            other => panic!("{expect:?}: {other:?}"),
        }
    }
}

#[test]
fn wrong_classes_are_protocol_errors() {
    let mut t = tx(&["b@y"]);
    t.absorb(Expect::Mail, reply("250 ok"));
    t.absorb(Expect::Rcpt, reply("354 what"));
    assert!(matches!(
        t.into_result(),
        Err(Error::UnexpectedReply { .. })
    ));
    let mut d = tx(&["b@y"]);
    d.absorb(Expect::Mail, reply("250 ok"));
    d.absorb(Expect::Rcpt, reply("250 ok"));
    d.absorb(Expect::Data, reply("250 ok"));
    assert!(!d.go_ahead);
    assert!(matches!(
        d.into_result(),
        Err(Error::UnexpectedReply {
            expected: "354",
            ..
        })
    ));
    // More RCPT replies than recipients.
    let mut extra = tx(&["b@y"]);
    extra.absorb(Expect::Rcpt, reply("250 ok"));
    extra.absorb(Expect::Rcpt, reply("250 ok"));
    assert!(matches!(
        extra.into_result(),
        Err(Error::UnexpectedReply {
            expected: "no reply",
            ..
        })
    ));
}

#[test]
fn too_many_recipients_puts_the_rest_off_and_other_refusals_stand() {
    for (code, deferred) in [
        ("452 4.5.3 Too many recipients", true),
        ("452 Too many recipients", true),
        ("552 5.5.3 Too many recipients", true),
        ("452 4.2.2 Mailbox full", false),
        ("552 5.2.2 Mailbox full", false),
        ("550 5.1.1 No such user", false),
    ] {
        let mut t = tx(&["a@y", "b@y", "c@y"]);
        t.absorb(Expect::Mail, reply("250 ok"));
        t.absorb(Expect::Rcpt, reply("250 ok"));
        t.absorb(Expect::Rcpt, reply(code));
        t.absorb(Expect::Rcpt, reply(code));
        t.absorb(Expect::Data, reply("354 go"));
        t.absorb(Expect::EndOfData, reply("250 queued"));
        let o = t.into_outcome();
        let put_off: Vec<usize> = o.deferred().iter().map(|(at, _)| *at).collect();
        let d = o.result.unwrap();
        assert_eq!(d.accepted, ["a@y"], "{code}");
        if deferred {
            assert_eq!(put_off, [1, 2], "{code}");
            assert!(d.rejected.is_empty(), "{code}");
        } else {
            assert!(put_off.is_empty(), "{code}");
            assert_eq!(d.rejected.len(), 2, "{code}");
        }
    }
    // Before any recipient was accepted, a 452 is a refusal.
    let mut t = tx(&["a@y", "b@y"]);
    t.absorb(Expect::Mail, reply("250 ok"));
    t.absorb(Expect::Rcpt, reply("452 4.5.3 Too many recipients"));
    t.absorb(Expect::Rcpt, reply("250 ok"));
    let o = t.into_outcome();
    assert!(o.deferred().is_empty());
}

#[test]
fn silence_after_the_end_was_sent_is_an_unknown_outcome() {
    let closed = || Error::ConnectionClosed {
        during: "end of data".into(),
    };
    let mut t = tx(&["a@y"]);
    t.absorb(Expect::Mail, reply("250 ok"));
    t.absorb(Expect::Rcpt, reply("250 ok"));
    t.absorb(Expect::Data, reply("354 go"));
    t.end_sent = true;
    t.absorb(Expect::EndOfData, Err(closed()));
    assert!(matches!(t.into_result(), Err(Error::OutcomeUnknown(_))));
    // Before the end went out: a plain failure.
    let mut t = tx(&["a@y"]);
    t.absorb(Expect::Mail, reply("250 ok"));
    t.absorb(Expect::Rcpt, reply("250 ok"));
    t.absorb(Expect::Data, reply("354 go"));
    t.absorb(Expect::EndOfData, Err(closed()));
    assert!(matches!(
        t.into_result(),
        Err(Error::ConnectionClosed { .. })
    ));
    // A reply that is a refusal is no silence.
    let mut t = tx(&["a@y"]);
    t.end_sent = true;
    t.absorb(Expect::Mail, reply("250 ok"));
    t.absorb(Expect::Rcpt, reply("250 ok"));
    t.absorb(Expect::EndOfData, reply("554 no"));
    assert!(matches!(t.into_result(), Err(Error::Permanent(_))));
}
