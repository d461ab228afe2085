//! The sendmail mode, run as the programs that call `/usr/sbin/sendmail`
//! run it: cron's command line, recipients from the headers (-t), the
//! sender (-f, -F, --read-envelope-from), the lone dot (-i), the fields
//! added and removed, the exit statuses and their one line each, against
//! mailin-embedded and scripted loopback servers. Real programs (git
//! send-email, s-nail) and Postfix are in `programs.rs`; the configuration
//! file in `config.rs`.

mod support;

use std::path::Path;

use support::*;
use testkit::*;

/// A configuration file for a plaintext server on loopback, with a
/// default sender.
fn plain_config(dir: &Path, port: u16, from: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    write_file(
        &path,
        &format!(
            "[defaults]\nserver = \"127.0.0.1:{port}\"\ntls = \"none\"\nhelo = \"client.test\"\n\
             timeout = 10\nfrom = \"{from}\"\n"
        ),
        0o644,
    );
    path
}

const CRON_MESSAGE: &str = "From: root (Cron Daemon)\n\
To: ops@y.test\n\
Subject: Cron <root@host> /usr/local/bin/backup\n\
MIME-Version: 1.0\n\
Content-Type: text/plain; charset=UTF-8\n\
Content-Transfer-Encoding: 8bit\n\
X-Cron-Env: <SHELL=/bin/sh>\n\
X-Cron-Env: <HOME=/root>\n\
\n\
backup done: 3 files, 2 MiB, déjà vu\n\
.hidden was skipped\n";

#[test]
fn crons_command_line_sends_to_the_to_header_and_adds_date_and_message_id() {
    let dir = scratch_dir("cron");
    let (port, store) = mailin();
    let run = Tool::sendmail(&dir)
        .config(&plain_config(&dir, port, "cron@x.test"))
        .args(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "-oi", "-t"])
        .stdin(CRON_MESSAGE.as_bytes())
        .run();
    run.assert_code(0);
    assert_eq!(run.all(), "", "sendmail says nothing on success");
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, "cron@x.test");
    assert_eq!(got[0].to, ["ops@y.test"]);
    assert!(got[0].is8bit, "-B8BITMIME declared BODY=8BITMIME");
    let (fields, body) = split_message(&got[0].data);
    assert_eq!(
        names(&fields),
        [
            "From",
            "To",
            "Subject",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding",
            "X-Cron-Env",
            "X-Cron-Env",
            "Date",
            "Message-ID"
        ]
    );
    // Cron's own From stays (-F names only a From that is added).
    assert_eq!(field(&fields, "From"), Some("root (Cron Daemon)"));
    assert!(is_date(field(&fields, "Date").unwrap()), "{fields:?}");
    let id = field(&fields, "Message-ID").unwrap();
    assert!(id.starts_with('<') && id.ends_with("@x.test>"), "{id}");
    assert_eq!(
        body,
        normalised("backup done: 3 files, 2 MiB, déjà vu\n.hidden was skipped\n".as_bytes())
    );
}

#[test]
fn t_reads_to_cc_and_bcc_removes_bcc_and_adds_from_with_the_full_name() {
    let dir = scratch_dir("dash-t");
    let (port, store) = mailin();
    let message = "To: Anne <a@y.test>, b@y.test\n\
                   Cc: \"Doe, J.\" <c@y.test> (team),\n  b@y.test\n\
                   Bcc: d@y.test,\n\te@y.test\n\
                   Subject: -t\n\
                   bcc: f@y.test\n\
                   \n\
                   Bcc: this line is body, not a header\n";
    let run = Tool::sendmail(&dir)
        .config(&plain_config(&dir, port, "unused@x.test"))
        .args([
            "-t",
            "-i",
            "-f",
            "me@x.test",
            "-F",
            "Me, Myself",
            "arg@y.test",
        ])
        .stdin(message.as_bytes())
        .run();
    run.assert_code(0);
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, "me@x.test");
    // The argument first, then the headers in order, each address once.
    assert_eq!(
        got[0].to,
        [
            "arg@y.test",
            "a@y.test",
            "b@y.test",
            "c@y.test",
            "d@y.test",
            "e@y.test",
            "f@y.test"
        ]
    );
    let (fields, body) = split_message(&got[0].data);
    assert_eq!(
        names(&fields),
        ["To", "Cc", "Subject", "Date", "Message-ID", "From"]
    );
    assert_eq!(field(&fields, "From"), Some("\"Me, Myself\" <me@x.test>"));
    assert_eq!(body, b"Bcc: this line is body, not a header\r\n");
    let text = String::from_utf8_lossy(&got[0].data);
    assert!(
        !text.contains("d@y.test") && !text.contains("f@y.test"),
        "{text}"
    );
}

#[test]
fn without_t_the_arguments_alone_are_the_recipients_and_bcc_still_goes() {
    let dir = scratch_dir("args");
    let (port, store) = mailin();
    let message = "To: header@y.test\nBcc: hidden@y.test\nSubject: args\n\nhello\n";
    let run = Tool::sendmail(&dir)
        .config(&plain_config(&dir, port, "me@x.test"))
        .args(["-oi", "Bee <b@y.test>, c@y.test", "--", "-dash@y.test"])
        .stdin(message.as_bytes())
        .run();
    run.assert_code(0);
    let got = store.lock().unwrap().clone();
    assert_eq!(got[0].to, ["b@y.test", "c@y.test", "-dash@y.test"]);
    let (fields, _) = split_message(&got[0].data);
    assert_eq!(
        names(&fields),
        ["To", "Subject", "Date", "Message-ID", "From"]
    );
    assert_eq!(field(&fields, "From"), Some("me@x.test"));
}

#[test]
fn a_lone_dot_ends_the_message_unless_i_is_given() {
    let dir = scratch_dir("dot");
    let (port, store) = mailin();
    let message = "Subject: dots\n\nfirst\n..two dots\n.\nafter the dot\n";
    for flags in [&[][..], &["-i"], &["-oi"]] {
        Tool::sendmail(&dir)
            .config(&plain_config(&dir, port, "me@x.test"))
            .args(flags)
            .args(["b@y.test"])
            .stdin(message.as_bytes())
            .run()
            .assert_code(0);
    }
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), 3);
    let bodies: Vec<Vec<u8>> = got.iter().map(|m| split_message(&m.data).1).collect();
    assert_eq!(bodies[0], b"first\r\n..two dots\r\n");
    for body in &bodies[1..] {
        assert_eq!(body, b"first\r\n..two dots\r\n.\r\nafter the dot\r\n");
    }
}

#[test]
fn a_message_without_headers_gets_them_and_a_blank_line() {
    let dir = scratch_dir("bare");
    let (port, store) = mailin();
    Tool::sendmail(&dir)
        .config(&plain_config(&dir, port, "me@x.test"))
        .args(["-i", "-F", "Jörg Bäcker", "b@y.test"])
        .stdin(b"no headers here: just text\nsecond line\n")
        .run()
        .assert_code(0);
    let got = store.lock().unwrap().clone();
    let (fields, body) = split_message(&got[0].data);
    assert_eq!(names(&fields), ["Date", "Message-ID", "From"]);
    assert_eq!(
        field(&fields, "From"),
        Some("=?UTF-8?Q?J=C3=B6rg_B=C3=A4cker?= <me@x.test>")
    );
    assert_eq!(body, b"no headers here: just text\r\nsecond line\r\n");
}

#[test]
fn read_envelope_from_takes_the_from_header() {
    let dir = scratch_dir("ref");
    let (port, store) = mailin();
    let message = "From: \"Anne A.\" <anne@x.test>\nTo: b@y.test\nSubject: ref\n\nhi\n";
    Tool::smtpc()
        .config(&plain_config(&dir, port, "default@x.test"))
        .args(["--sendmail", "--read-envelope-from", "-t", "-i"])
        .stdin(message.as_bytes())
        .run()
        .assert_code(0);
    // -f wins over the header.
    Tool::smtpc()
        .config(&plain_config(&dir, port, "default@x.test"))
        .args([
            "--sendmail",
            "--read-envelope-from",
            "-t",
            "-i",
            "-r",
            "bounce@x.test",
        ])
        .stdin(message.as_bytes())
        .run()
        .assert_code(0);
    let got = store.lock().unwrap().clone();
    assert_eq!(got[0].from, "anne@x.test");
    assert_eq!(got[1].from, "bounce@x.test");
    for m in &got {
        let (fields, _) = split_message(&m.data);
        assert_eq!(field(&fields, "From"), Some("\"Anne A.\" <anne@x.test>"));
    }
}

#[test]
fn dsn_options_and_the_wire() {
    // -N, -R and -V reach the server that offers DSN; the one message
    // is the session's last, so QUIT follows its end in one write.
    let server = Server::start(script([
        greet_ehlo(&["PIPELINING", "DSN"]),
        vec![Act::Line, Act::Line, Act::Line],
        vec![send("250 2.1.0 Ok\n250 2.1.5 Ok\n354 go")],
        vec![Act::Data, Act::Line],
        vec![send("250 2.0.0 Ok: queued as DSN1\n221 2.0.0 Bye")],
    ]));
    let dir = scratch_dir("dsn");
    let run = Tool::sendmail(&dir)
        .args([
            "--server",
            &format!("127.0.0.1:{}", server.port()),
            "--tls",
            "none",
            "--helo",
            "client.test",
            "-f",
            "a@x.test",
            "-N",
            "failure,delay",
            "-R",
            "hdrs",
            "-V",
            "env-1",
            "-i",
            "b@y.test",
        ])
        .stdin(b"Subject: dsn\n\nbody\n")
        .run();
    run.assert_code(0);
    let wire = server.text();
    assert!(
        wire.contains("MAIL FROM:<a@x.test> RET=HDRS ENVID=env-1\r\n"),
        "{wire}"
    );
    assert!(
        wire.contains("RCPT TO:<b@y.test> NOTIFY=FAILURE,DELAY\r\n"),
        "{wire}"
    );
    assert!(wire.ends_with("body\r\n.\r\nQUIT\r\n"), "{wire}");
}

// ------------------------------------------------ failures: one line each

#[test]
fn local_mistakes_fail_before_connecting_with_one_line() {
    let idle = Untouched::new();
    let dir = scratch_dir("local");
    let config = {
        let path = dir.join("config.toml");
        write_file(
            &path,
            &format!(
                "[defaults]\nserver = \"{}\"\ntls = \"none\"\n",
                idle.server()
            ),
            0o644,
        );
        path
    };
    let mut huge = b"Subject: huge\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', (1 << 20) + 100));
    huge.extend_from_slice(b"\n\nbody\n");
    let cases: Vec<(Vec<&str>, Vec<u8>, i32, &str)> = vec![
        (
            vec!["-f", "a@x.test", "-i"],
            b"Subject: s\n\nb\n".to_vec(),
            64,
            "no recipients",
        ),
        (
            vec!["-f", "a@x.test", "-t"],
            b"Subject: s\n\nb\n".to_vec(),
            64,
            "no recipients: the To, Cc and Bcc headers name none",
        ),
        (
            vec!["-i", "b@y.test"],
            b"Subject: s\n\nb\n".to_vec(),
            64,
            "no envelope sender",
        ),
        (
            vec!["-f", "a@x.test", "-t"],
            b"To: <b@y.test\n\nb\n".to_vec(),
            65,
            "-t: cannot read the To header",
        ),
        (
            vec!["--read-envelope-from", "b@y.test"],
            b"Subject: no from\n\nb\n".to_vec(),
            65,
            "no From header",
        ),
        (
            vec!["-f", "a@x.test", "b@y.test"],
            huge,
            65,
            "header block is larger than 1024 KiB",
        ),
        (vec!["-bs"], Vec::new(), 64, "-bs is not supported"),
        (vec!["-q"], Vec::new(), 64, "no queue"),
        (vec!["-Y", "b@y.test"], Vec::new(), 64, "unknown option -Y"),
        (vec!["-f"], Vec::new(), 64, "-f needs a value"),
        (
            vec!["-f", "a@x.test\r\nRCPT TO:<evil@x.test>", "b@y.test"],
            b"Subject: s\n\nb\n".to_vec(),
            65,
            "",
        ),
    ];
    for (args, stdin, code, error) in cases {
        let run = Tool::sendmail(&dir)
            .config(&config)
            .args(&args)
            .stdin(&stdin)
            .run();
        run.assert_code(code);
        assert_eq!(run.out, "", "{args:?}");
        assert_eq!(run.errors().len(), 1, "{args:?}: {}", run.err);
        assert!(run.errors()[0].contains(error), "{args:?}: {}", run.err);
    }
    idle.assert_untouched();
}

#[test]
fn server_failures_have_sendmails_exit_statuses_and_one_line_each() {
    let dir = scratch_dir("remote");
    let cases: Vec<(Vec<Act>, i32, Vec<&str>)> = vec![
        (
            script([
                greet_ehlo(&[]),
                on_line("550 5.7.1 Sender refused"),
                on_line("250 Ok"),
                quit(),
            ]),
            69,
            vec!["MAIL FROM:<a@x.test>: 550 5.7.1 Sender refused"],
        ),
        (
            script([
                greet_ehlo(&[]),
                on_line("250 2.1.0 Ok"),
                on_line("450 4.2.0 Greylisted"),
                on_line("250 2.0.0 Reset"),
                quit(),
            ]),
            75,
            vec![
                "recipient refused: <b@y.test>: 450 4.2.0 Greylisted",
                "all recipients were refused; the message was not sent",
            ],
        ),
        (
            vec![send("421 4.3.2 Shutting down")],
            75,
            vec!["greeting: 421 4.3.2 Shutting down"],
        ),
    ];
    for (script, code, errors) in cases {
        let server = Server::start(script);
        let run = Tool::sendmail(&dir)
            .args(["--server", &format!("127.0.0.1:{}", server.port())])
            .args(["--tls", "none", "-f", "a@x.test", "-i", "b@y.test"])
            .stdin(b"Subject: s\n\nbody\n")
            .run();
        run.assert_code(code);
        assert_eq!(run.out, "");
        assert_eq!(run.errors(), errors, "{}", run.err);
    }
}

#[test]
fn v_is_the_trace() {
    let (port, _store) = mailin();
    let dir = scratch_dir("trace");
    let run = Tool::sendmail(&dir)
        .config(&plain_config(&dir, port, "a@x.test"))
        .args(["-v", "-i", "b@y.test"])
        .stdin(b"Subject: v\n\nbody\n")
        .run();
    run.assert_code(0);
    assert!(run.err.contains("\nC: RCPT TO:<b@y.test>\n"), "{}", run.err);
    assert!(run.err.contains("\nC: QUIT\n"), "{}", run.err);
    assert_eq!(run.out, "");
}

#[test]
fn help_in_the_sendmail_mode() {
    let dir = scratch_dir("help");
    let run = Tool::sendmail(&dir).args(["--help"]).run();
    run.assert_code(0);
    assert!(run.out.contains("Sendmail mode"), "{}", run.out);
    assert!(run.out.contains("--read-envelope-from"));
}
