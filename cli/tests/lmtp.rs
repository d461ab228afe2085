//! `--protocol lmtp` and `--socket`: the tool delivering to a private
//! Dovecot LMTP server (testkit/servers/dovecot.sh) over its UNIX socket
//! and over TCP, each recipient's own reply on standard output, one line
//! per refusal on standard error, and the exit status (69 when some were
//! refused for good, 75 when only for now); a socket with nothing behind
//! it; options that cannot go with a socket.

mod support;

use testkit::real::Dovecot;

use support::*;

const MSG: &[u8] = b"From: a@x.test\r\nSubject: lmtp from the tool\r\n\r\nHello.\r\n";

fn to(list: &[&str]) -> Vec<String> {
    list.iter()
        .flat_map(|r| ["--to".to_owned(), r.to_string()])
        .collect()
}

#[test]
fn delivered_over_the_unix_socket_with_one_line_per_refusal() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let run = Tool::smtpc()
        .args([
            "--protocol",
            "lmtp",
            "--from",
            "a@x.test",
            "--timeout",
            "20",
        ])
        .args(["--socket".as_ref(), dovecot.socket.as_os_str()])
        .args(to(&[
            "alice@lmtp.test",
            "nosuch@lmtp.test",
            "full@lmtp.test",
            "bob@lmtp.test",
        ]))
        .stdin(MSG)
        .run();
    run.assert_code(69);
    let out: Vec<&str> = run.out.lines().collect();
    assert_eq!(out.len(), 2, "{run:#?}");
    assert!(
        out[0].starts_with("<alice@lmtp.test>: 250 2.0.0 <alice@lmtp.test> "),
        "{out:?}"
    );
    assert!(
        out[1].starts_with("<bob@lmtp.test>: 250 2.0.0 <bob@lmtp.test> "),
        "{out:?}"
    );
    let refused: Vec<&str> = run
        .errors()
        .into_iter()
        .filter(|l| l.contains("recipient refused"))
        .collect();
    assert_eq!(refused.len(), 2, "{run:#?}");
    assert!(
        refused[0].contains("<nosuch@lmtp.test>: 550 5.1.1"),
        "{refused:?}"
    );
    assert!(
        refused[1].contains("<full@lmtp.test>: 552 5.2.2"),
        "{refused:?}"
    );
    for user in ["alice", "bob"] {
        let stored = dovecot.mailbox(user, 1);
        assert_eq!(stored.len(), 1, "{user}");
        assert!(String::from_utf8_lossy(&stored[0]).contains("Subject: lmtp from the tool"));
    }
    assert_eq!(dovecot.count("full"), 0);
}

#[test]
fn over_tcp_a_temporary_refusal_alone_exits_75() {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let server = format!("127.0.0.1:{}", dovecot.port);
    let run = Tool::smtpc()
        .args(["--protocol", "lmtp", "--tls", "none", "--server", &server])
        .args(["--from", "a@x.test", "--timeout", "20", "--trace"])
        .args(to(&["alice@lmtp.test", "fulltmp@lmtp.test"]))
        .stdin(MSG)
        .run();
    run.assert_code(75);
    assert!(run.err.contains("C: LHLO "), "{run:#?}");
    assert!(
        run.err.contains("<fulltmp@lmtp.test>: 452 4.2.2"),
        "{run:#?}"
    );
    assert_eq!(dovecot.mailbox("alice", 1).len(), 1);
}

#[test]
fn a_socket_with_nothing_behind_it_and_options_that_cannot_go_with_one() {
    let dir = scratch_dir("lmtp-none");
    let path = dir.join("nothing.sock");
    let run = Tool::smtpc()
        .args([
            "--protocol",
            "lmtp",
            "--from",
            "a@x.test",
            "--to",
            "b@y.test",
        ])
        .args(["--socket".as_ref(), path.as_os_str()])
        .stdin(MSG)
        .run();
    run.assert_code(75);
    assert!(run.err.contains("nothing.sock"), "{run:#?}");
    let run = Tool::smtpc()
        .args(["--socket".as_ref(), path.as_os_str()])
        .args([
            "--server",
            "127.0.0.1:24",
            "--from",
            "a@x.test",
            "--to",
            "b@y.test",
        ])
        .stdin(MSG)
        .run();
    run.assert_code(64);
    let run = Tool::smtpc()
        .args([
            "--protocol",
            "esmtp",
            "--from",
            "a@x.test",
            "--to",
            "b@y.test",
        ])
        .stdin(MSG)
        .run();
    run.assert_code(64);
}

#[test]
fn the_configuration_file_names_a_socket_and_the_protocol() {
    let dir = scratch_dir("lmtp-config");
    let path = dir.join("config.toml");
    write_file(
        &path,
        "[defaults]\nsocket = \"run/lmtp\"\nprotocol = \"lmtp\"\nfrom = \"a@x.test\"\n",
        0o600,
    );
    let run = Tool::smtpc().config(&path).args(["--print-config"]).run();
    run.assert_code(0);
    let socket = format!("socket = \"{}\"", dir.join("run/lmtp").display());
    assert!(run.out.contains(&socket), "{run:#?}");
    assert!(run.out.contains("protocol = \"lmtp\""), "{run:#?}");
    assert!(run.out.contains("tls = \"none\""), "{run:#?}");
    // --server replaces the file's socket.
    let run = Tool::smtpc()
        .config(&path)
        .args(["--print-config", "--server", "127.0.0.1"])
        .run();
    run.assert_code(0);
    assert!(!run.out.contains("socket"), "{run:#?}");
    assert!(run.out.contains("port = 24"), "{run:#?}");
    // Both in one table is a mistake.
    write_file(
        &path,
        "[defaults]\nsocket = \"/x\"\nserver = \"h\"\n",
        0o600,
    );
    Tool::smtpc()
        .config(&path)
        .args(["--print-config"])
        .run()
        .assert_code(78);
}
