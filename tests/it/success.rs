//! Success is the reply the protocol names (RFC 5321 4.3.2, RFC 3207,
//! 4954, 3030): every command against every 2yz it does not name (220,
//! 221, 251, 252, 259, 299), one command at a time, in a pipelined group,
//! with BDAT and in a batch. Another 2yz is a protocol error (the
//! transaction is then reset as after any failure); a 221 means the
//! server has closed the session: nothing more is sent. (299 is not even
//! a reply code: RFC 5321 4.2 allows 0-5 as the second digit, so it is a
//! malformed reply, also a protocol error, after which the connection is
//! closed.)

use smtpc::{Envelope, Error, ErrorKind, Message};

use crate::support::*;

const MSG: &str = "Subject: x\r\n\r\nHello.\r\n";
/// The 2yz codes tried, each where its command does not name it.
const CODES: [u16; 6] = [220, 221, 251, 252, 259, 299];

fn env() -> Envelope {
    Envelope::new("a@x.test", ["b@y.test"]).unwrap()
}

/// Checks the error a reply of `code` gave where `expected` was due, and,
/// after a 221, that the session is over and `last` ended the last write.
fn check(err: &Error, code: u16, expected: &str, closed: bool, writes: &Writes, last: &str) {
    assert_eq!(err.kind(), kind_for(code), "{code}: {err}");
    match code {
        221 => {
            assert!(
                matches!(err, Error::SessionClosed(r) if r.code == 221),
                "{err}"
            );
            assert!(err.is_transient());
            assert!(closed, "the connection must be closed after a 221");
            if let Some(w) = writes.lock().unwrap().last() {
                let sent = String::from_utf8_lossy(w);
                assert!(sent.ends_with(last), "nothing may follow the 221: {sent:?}");
            }
        }
        299 => {
            assert!(matches!(err, Error::MalformedReply { .. }), "{err}");
            assert!(closed, "the connection is closed after a malformed reply");
        }
        _ => assert!(
            matches!(err, Error::UnexpectedReply { expected: e, reply } if *e == expected && reply.code == code),
            "{code} where {expected} was due: {err}"
        ),
    }
}

/// The kind of error a 2yz reply that is not success gives.
fn kind_for(code: u16) -> ErrorKind {
    if code == 221 {
        ErrorKind::Closed
    } else {
        ErrorKind::Protocol
    }
}

/// A client with `extensions`, then `replies` (each one chunk).
fn client(extensions: &[&str], replies: &[String]) -> (smtpc::Client, Writes) {
    let replies: Vec<&str> = replies.iter().map(String::as_str).collect();
    memory_client(extensions, &replies)
}

fn reply(code: u16) -> String {
    format!("{code} odd")
}

#[test]
fn one_command_at_a_time() {
    type Step = fn(&mut smtpc::Client) -> Result<smtpc::Reply, Error>;
    let steps: [(&str, &str, &[u16], Step); 6] = [
        ("MAIL", "250", &[], |c| c.mail("a@x.test")),
        ("RCPT", "250 or 251", &[251], |c| c.rcpt("b@y.test")),
        ("RSET", "250", &[], |c| c.rset()),
        ("NOOP", "250", &[], |c| c.noop()),
        ("VRFY", "250, 251 or 252", &[251, 252], |c| c.vrfy("bob")),
        ("DATA", "354", &[], |c| c.data(MSG.as_bytes())),
    ];
    for (name, expected, allowed, step) in steps {
        for code in CODES.iter().copied().filter(|c| !allowed.contains(c)) {
            let (mut c, writes) = client(&[], &[reply(code)]);
            let err = step(&mut c).unwrap_err();
            check(&err, code, expected, c.is_closed(), &writes, "\r\n");
            let sent = String::from_utf8_lossy(writes.lock().unwrap().last().unwrap()).into_owned();
            assert!(sent.starts_with(name), "{name}: {sent:?}");
            // The content is never sent after a wrong answer to DATA.
            assert!(!sent.contains("Hello"), "{sent:?}");
        }
        // The codes it names are success.
        for &code in allowed {
            let (mut c, _) = client(&[], &[reply(code)]);
            assert_eq!(step(&mut c).unwrap().code, code, "{name}");
        }
    }
}

#[test]
fn the_end_of_data_one_command_at_a_time() {
    for code in CODES {
        let (mut c, writes) = client(&[], &["354 go".into(), reply(code)]);
        let err = c.data(MSG.as_bytes()).unwrap_err();
        check(&err, code, "250", c.is_closed(), &writes, ".\r\n");
    }
}

#[test]
fn quit_is_answered_221() {
    for code in [220, 250, 251, 252, 259, 299] {
        let (mut c, _) = client(&[], &[reply(code)]);
        let err = c.quit().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
        assert!(
            code == 299
                || matches!(
                    &err,
                    Error::UnexpectedReply {
                        expected: "221",
                        ..
                    }
                ),
            "{err}"
        );
        assert!(c.is_closed(), "QUIT closes whatever the answer");
    }
    let (mut c, _) = client(&[], &["221 bye".into()]);
    assert_eq!(c.quit().unwrap().code, 221);
}

/// The greeting, EHLO and HELO (after EHLO is unknown), STARTTLS and AUTH.
#[test]
fn setting_up_the_session() {
    let connect = |chunks: Vec<String>, tls: smtpc::Tls, auth: bool| {
        let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
        let (mem, writes) = Memory::new(&chunks);
        let mut b = smtpc::Client::builder("mem.test")
            .helo_name("c.test")
            .tls(tls);
        if auth {
            b = b.credentials("bob", "hunter2").allow_insecure_auth(true);
        }
        (b.connect_stream(mem).map(drop), writes)
    };
    let crlf = |s: &str| format!("{}\r\n", s.replace('\n', "\r\n"));
    for code in CODES {
        let odd = crlf(&reply(code));
        let none = smtpc::Tls::None;
        if code != 220 {
            let (r, w) = connect(vec![odd.clone()], none, false);
            let err = r.unwrap_err();
            check(&err, code, "220", true, &w, "");
            // QUIT after a failed set-up (RFC 5321 3.1), unless the server
            // has left or cannot be understood.
            let sent: Vec<Vec<u8>> = w.lock().unwrap().clone();
            let want: &[&[u8]] = if matches!(code, 221 | 299) {
                &[]
            } else {
                &[b"QUIT\r\n"]
            };
            assert_eq!(sent, want, "{code}");
        }
        let greet = crlf("220 mem.test");
        let (r, w) = connect(vec![greet.clone(), odd.clone()], none, false);
        check(&r.unwrap_err(), code, "250", true, &w, "EHLO c.test\r\n");
        let (r, w) = connect(
            vec![greet.clone(), crlf("502 no EHLO"), odd.clone()],
            none,
            false,
        );
        check(&r.unwrap_err(), code, "250", true, &w, "HELO c.test\r\n");
        if code != 220 {
            let ehlo = crlf("250-mem.test\n250 STARTTLS");
            let (r, w) = connect(
                vec![greet.clone(), ehlo, odd.clone()],
                smtpc::Tls::StartTls,
                false,
            );
            check(&r.unwrap_err(), code, "220", true, &w, "STARTTLS\r\n");
        }
        let ehlo = crlf("250-mem.test\n250 AUTH PLAIN");
        let (r, w) = connect(vec![greet.clone(), ehlo, odd.clone()], none, true);
        let err = r.unwrap_err();
        check(&err, code, "235", true, &w, "\r\n");
        assert!(!err.to_string().contains("hunter2"));
    }
}

/// MAIL, RCPT, DATA and the end of data in a pipelined group: a single
/// send (`send_bytes`), then a batch in which the next message goes on
/// unless the reply was 221.
#[test]
fn in_a_pipelined_group_and_a_batch() {
    // The replies of one message's group, with `odd` at position `at`.
    let group = |at: usize, odd: &str| -> Vec<String> {
        let mut r = ["250 ok", "250 ok", "354 go", "250 queued as Q1"].map(String::from);
        r[at] = odd.to_owned();
        // The group's replies in one chunk; then the end of data's (or the
        // lone dot's, after a 354 that came anyway) and RSET's.
        vec![r[..3].join("\n"), r[3].clone(), "250 reset".into()]
    };
    let names = ["MAIL", "RCPT", "DATA", "end of data"];
    let expected = ["250", "250 or 251", "354", "250"];
    for at in 0..4 {
        for code in CODES.iter().copied().filter(|&c| !(at == 1 && c == 251)) {
            let (mut c, writes) = client(&["PIPELINING"], &group(at, &reply(code)));
            let err = c.send_bytes(&env(), MSG.as_bytes()).unwrap_err();
            let w = writes.lock().unwrap().clone();
            let text: Vec<String> = w
                .iter()
                .map(|w| String::from_utf8_lossy(w).into())
                .collect();
            if code == 221 {
                check(&err, code, expected[at], c.is_closed(), &writes, "\r\n");
                // Nothing after the write the 221 answered.
                let last = text.last().unwrap();
                let answered_group = at < 3;
                assert_eq!(
                    last.ends_with("DATA\r\n"),
                    answered_group,
                    "{}: {code}: {text:?}",
                    names[at]
                );
            } else if code == 299 {
                check(&err, code, expected[at], c.is_closed(), &writes, "");
            } else {
                check(&err, code, expected[at], c.is_closed(), &writes, "");
                assert!(!c.is_closed(), "{} {code}: {text:?} {err}", names[at]);
                // The content never follows a wrong answer before it; RSET
                // clears the transaction afterwards.
                assert_eq!(
                    text.iter().any(|t| t.contains("Hello")),
                    at == 3,
                    "{text:?}"
                );
                assert_eq!(text.last().unwrap(), "RSET\r\n", "{text:?}");
            }
        }
    }

    // A batch: message 2's MAIL gets the odd reply.
    for code in CODES {
        let mut replies = vec!["250 ok\n250 ok\n354 go".to_owned()];
        replies.push(format!("250 queued as M1\n{}\n250 ok\n354 go", reply(code)));
        if !matches!(code, 221 | 299) {
            // The lone dot after the 354 that came anyway, the RSET, then
            // message 3.
            replies.push("250 ok".into());
            replies.push("250 reset\n250 ok\n250 ok\n354 go".into());
            replies.push("250 queued as M3".into());
        }
        let (mut c, writes) = client(&["PIPELINING"], &replies);
        let envelope = env();
        let results = c.send_batch([
            (&envelope, "one\r\n"),
            (&envelope, "two\r\n"),
            (&envelope, "three\r\n"),
        ]);
        assert_eq!(results[0].as_ref().unwrap().queue_id(), Some("M1"));
        let err = results[1].as_ref().unwrap_err();
        check(err, code, "250", c.is_closed(), &writes, "DATA\r\n");
        let all: String = writes
            .lock()
            .unwrap()
            .iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        assert!(
            !all.contains("two\r\n"),
            "message 2's content never goes: {all:?}"
        );
        if matches!(code, 221 | 299) {
            assert!(
                matches!(&results[2], Err(Error::ConnectionClosed { .. })),
                "{:?}",
                results[2]
            );
            assert!(!all.contains("three"), "{all:?}");
        } else {
            assert_eq!(results[2].as_ref().unwrap().queue_id(), Some("M3"));
        }
    }
}

/// With BDAT: MAIL, RCPT and `BDAT n LAST`, all in one write.
#[test]
fn with_bdat() {
    let names = ["MAIL", "RCPT", "BDAT"];
    let expected = ["250", "250 or 251", "250"];
    let message = Message::new(MSG.as_bytes());
    for at in 0..3 {
        for code in CODES.iter().copied().filter(|&c| !(at == 1 && c == 251)) {
            let mut r = ["250 ok", "250 ok", "250 queued as B1"].map(String::from);
            r[at] = reply(code);
            let (mut c, writes) = client(
                &["PIPELINING", "CHUNKING"],
                &[r.join("\n"), "250 reset".into()],
            );
            let err = c.send_message(&env(), &message).unwrap_err();
            check(&err, code, expected[at], c.is_closed(), &writes, "\r\n");
            let w = writes.lock().unwrap();
            let last = String::from_utf8_lossy(w.last().unwrap()).into_owned();
            if matches!(code, 221 | 299) {
                assert!(last.ends_with("Hello.\r\n"), "{}: {last:?}", names[at]);
            } else {
                assert_eq!(last, "RSET\r\n", "{} {code}", names[at]);
            }
        }
    }
}
