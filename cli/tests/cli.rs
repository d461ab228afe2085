//! The `smtpc` command-line tool, run as a built binary against scripted
//! loopback servers and mailin-embedded: every exit status, the trace,
//! partial rejection, secrets kept out of the output, standard input and
//! file input, and a 100 MiB message streamed in bounded memory.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use testkit::certs::pki;
use testkit::*;

/// `--password-cmd`, renewal and SCRAM (in tests/cli/).
#[path = "cli/password_cmd.rs"]
mod password_cmd;
/// Which CA bundle the tool reads, seen by strace (in tests/cli/).
#[path = "cli/trust.rs"]
mod trust;

const BIN: &str = env!("CARGO_BIN_EXE_smtpc");
const PASSWORD_VAR: &str = "SMTPC_PASSWORD";
const CONFIG_VAR: &str = "SMTPC_CONFIG";
const MSG: &str = "From: a@x.test\r\nTo: b@y.test\r\nSubject: smtpc\r\n\r\nHello.\r\n";
/// How long any run of the tool may take before the test gives up on it.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// What a run of the tool left behind.
#[derive(Debug)]
struct Run {
    code: i32,
    out: String,
    err: String,
}

impl Run {
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit status; {self:#?}");
        self
    }

    /// Standard output and standard error together.
    fn all(&self) -> String {
        format!("{}{}", self.out, self.err)
    }

    /// The `smtpc: ` lines of standard error, without the prefix.
    fn errors(&self) -> Vec<&str> {
        self.err
            .lines()
            .filter_map(|l| l.strip_prefix("smtpc: "))
            .collect()
    }
}

/// A command line for the tool, with SMTPC_PASSWORD cleared.
struct Smtpc {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl Smtpc {
    fn new() -> Smtpc {
        let mut cmd = Command::new(BIN);
        // No configuration file: not the user's, nor the machine's.
        cmd.env(CONFIG_VAR, "")
            .env_remove(PASSWORD_VAR)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        Smtpc { cmd, stdin: None }
    }

    /// Plaintext to a scripted server on 127.0.0.1, from a@x.test to b@y.test.
    fn plain(port: u16) -> Smtpc {
        Smtpc::new().args([
            "--server",
            &format!("127.0.0.1:{port}"),
            "--tls",
            "none",
            "--helo",
            "client.test",
            "--timeout",
            "5",
            "--from",
            "a@x.test",
            "--to",
            "b@y.test",
        ])
    }

    /// The tool run by `cmd` (a wrapper such as `unshare`), with the
    /// same environment and streams as [`Smtpc::new`].
    fn wrapped(mut cmd: Command) -> Smtpc {
        cmd.env_remove(PASSWORD_VAR)
            .env_remove("SMTPC_PROXY_PASSWORD")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        Smtpc { cmd, stdin: None }
    }

    fn args<S: AsRef<std::ffi::OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Smtpc {
        self.cmd.args(args);
        self
    }

    fn arg(mut self, arg: &str) -> Smtpc {
        self.cmd.arg(arg);
        self
    }

    fn arg_path(mut self, path: &std::path::Path) -> Smtpc {
        self.cmd.arg(path);
        self
    }

    fn env(mut self, key: &str, value: &str) -> Smtpc {
        self.cmd.env(key, value);
        self
    }

    fn stdin(mut self, bytes: &[u8]) -> Smtpc {
        self.cmd.stdin(Stdio::piped());
        self.stdin = Some(bytes.to_vec());
        self
    }

    fn stdin_from(mut self, file: std::fs::File) -> Smtpc {
        self.cmd.stdin(file);
        self
    }

    fn spawn(mut self) -> Child {
        let mut child = self.cmd.spawn().expect("run smtpc");
        if let Some(bytes) = self.stdin.take() {
            let mut pipe = child.stdin.take().unwrap();
            // The tool may stop reading early (and fail): ignore EPIPE.
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        child
    }

    fn run(self) -> Run {
        finish(self.spawn())
    }
}

/// Waits for the tool (bounded), collecting its output.
fn finish(mut child: Child) -> Run {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("smtpc did not finish within {RUN_LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let err = err.join().unwrap();
    assert!(!err.contains(&0x1b), "raw ESC on standard error: {err:?}");
    Run {
        code: status.code().expect("exit status, not a signal"),
        out: out.join().unwrap(),
        err: String::from_utf8(err).expect("UTF-8 on standard error"),
    }
}

/// A file under the target directory's scratch space.
fn scratch(name: &str, content: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path
}

/// A port that nothing may connect to during the test.
struct Untouched(TcpListener);

impl Untouched {
    fn new() -> Untouched {
        Untouched(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    fn server(&self) -> String {
        format!("127.0.0.1:{}", self.0.local_addr().unwrap().port())
    }

    /// Fails if the tool opened a connection (it has exited, so a
    /// connection it made is waiting in the backlog).
    fn assert_untouched(&self) {
        self.0.set_nonblocking(true).unwrap();
        match self.0.accept() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => panic!("the tool connected: {other:?}"),
        }
    }
}

fn base_args(server: &str) -> Vec<String> {
    [
        "--server",
        server,
        "--tls",
        "none",
        "--timeout",
        "5",
        "--from",
        "a@x.test",
        "--to",
        "b@y.test",
    ]
    .map(String::from)
    .to_vec()
}

// ---------------------------------------------------------------- exit 0

#[test]
fn a_file_goes_to_mailin_and_the_final_reply_is_printed() {
    let (port, store) = mailin();
    let body =
        "From: a@x.test\nSubject: file input\n\nbare LF lines\n.a dot line\nno final newline";
    let file = scratch("file-input.eml", body.as_bytes());
    let run = Smtpc::new()
        .args(base_args(&format!("127.0.0.1:{port}")))
        .args(["--to", "c@y.test"])
        .arg_path(&file)
        .run();
    run.assert_code(0);
    assert_eq!(run.out, "250 OK\n");
    assert_eq!(run.err, "");
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, "a@x.test");
    assert_eq!(got[0].to, ["b@y.test", "c@y.test"]);
    assert_eq!(got[0].data, normalised(body.as_bytes()));
}

#[test]
fn standard_input_is_the_message_when_no_file_or_dash_is_named() {
    let (port, store) = mailin();
    let bodies = [
        "Subject: from stdin\n\n.starts with a dot\nend\n",
        "Subject: from stdin, dash\r\n\r\nline\r\n",
    ];
    let quiet = Smtpc::new()
        .args(base_args(&format!("127.0.0.1:{port}")))
        .arg_path(&PathBuf::from("-"))
        .args(["--quiet"])
        .stdin(bodies[1].as_bytes())
        .run();
    quiet.assert_code(0);
    assert_eq!(quiet.all(), "", "--quiet prints nothing on success");
    let run = Smtpc::new()
        .args(base_args(&format!("127.0.0.1:{port}")))
        .stdin(bodies[0].as_bytes())
        .run();
    run.assert_code(0);
    assert_eq!(run.out, "250 OK\n");
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].data, normalised(bodies[1].as_bytes()));
    assert_eq!(got[1].data, normalised(bodies[0].as_bytes()));
}

/// With PIPELINING, QUIT leaves with the end of data (the one message is
/// the session's last), and both replies come back together.
#[test]
fn trace_shows_the_exchange_as_typed_by_hand() {
    let server = Server::start(script([
        greet_ehlo(&["PIPELINING", "8BITMIME"]),
        transaction(1),
        quit(),
    ]));
    let run = Smtpc::plain(server.port())
        .args(["--trace"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(0);
    assert_eq!(run.out, "250 2.0.0 Ok: queued as ABC123\n");
    let expected = format!(
        "   connected to 127.0.0.1:{port}\n\
         S: 220 test.example ESMTP ready\n\
         C: EHLO client.test\n\
         S: 250-test.example Hello\n\
         S: 250-PIPELINING\n\
         S: 250 8BITMIME\n\
         C: MAIL FROM:<a@x.test>\n\
         C: RCPT TO:<b@y.test>\n\
         C: DATA\n\
         S: 250 2.1.0 Ok\n\
         S: 250 2.1.5 Ok\n\
         S: 354 End data with <CR><LF>.<CR><LF>\n   \
         ({len} bytes of message content)\n\
         C: .\n\
         C: QUIT\n\
         S: 250 2.0.0 Ok: queued as ABC123\n\
         S: 221 2.0.0 Bye\n",
        port = server.port(),
        len = MSG.len()
    );
    assert_eq!(run.err, expected);
    assert_eq!(
        server.text(),
        format!(
            "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n{MSG}.\r\nQUIT\r\n"
        )
    );
}

#[test]
fn a_file_declares_its_size_and_a_server_limit_is_honoured() {
    // Under the limit: SIZE= is the size on the wire, the file's own for
    // CRLF text; with LF line endings each LF becomes CRLF, so more.
    let lf = "Subject: lf\n\nline one\nline two\n";
    for (name, content, size) in [("sized.eml", MSG, MSG.len()), ("lf.eml", lf, lf.len() + 4)] {
        let file = scratch(name, content.as_bytes());
        let server = Server::start(script([greet_ehlo(&["SIZE 1000"]), transaction(1), quit()]));
        Smtpc::plain(server.port())
            .arg_path(&file)
            .run()
            .assert_code(0);
        assert!(server.text().starts_with(&format!(
            "EHLO client.test\r\nMAIL FROM:<a@x.test> SIZE={size}\r\n"
        )));
    }

    // Over it: refused before MAIL, a permanent failure. (A final CRLF is
    // added to the last line, so 2000 bytes are 2002 on the wire.)
    let big = scratch("too-big.eml", &vec![b'x'; 2000]);
    let server = Server::start(script([greet_ehlo(&["SIZE 1000"]), quit()]));
    let run = Smtpc::plain(server.port()).arg_path(&big).run();
    run.assert_code(69);
    assert_eq!(
        run.errors(),
        ["message of 2002 bytes exceeds the server's limit of 1000 bytes"]
    );
    assert_eq!(server.text(), "EHLO client.test\r\nQUIT\r\n");
}

#[test]
fn ipv6_server_in_brackets() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: test skipped");
        return;
    }
    let server = Server::start_on("[::1]:0", script([greet_ehlo(&[]), transaction(1), quit()]));
    let run = Smtpc::new()
        .args(base_args(&format!("[::1]:{}", server.port())))
        .args(["--trace"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(0);
    assert!(
        run.err
            .starts_with(&format!("   connected to [::1]:{}\n", server.port())),
        "{}",
        run.err
    );
    assert!(server.text().contains("RCPT TO:<b@y.test>\r\n"));
}

#[test]
fn implicit_tls_with_a_ca_file() {
    let server = Server::start(script([
        vec![Act::Tls(pki().server.server_config())],
        greet_ehlo(&["8BITMIME"]),
        transaction(1),
        quit(),
    ]));
    let run = Smtpc::new()
        .args([
            "--server",
            &format!("127.0.0.1:{}", server.port()),
            "--tls",
            "implicit",
            "--timeout",
            "5",
            "--from",
            "a@x.test",
            "--to",
            "b@y.test",
            "--trace",
            "--ca-file",
        ])
        .arg_path(&pki().ca_file)
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(0);
    assert!(
        run.err.contains("\n   TLS established with 127.0.0.1\n"),
        "{}",
        run.err
    );
    assert_eq!(run.out, "250 2.0.0 Ok: queued as ABC123\n");
    assert!(server.text().ends_with(".\r\nQUIT\r\n"));
}

// ------------------------------------------- AUTH, STARTTLS and secrets

/// Every form of the password that must never be shown: itself, and the
/// base64 of the PLAIN and LOGIN responses that carry it.
fn secret_forms(user: &str, password: &str) -> Vec<String> {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    vec![
        password.to_owned(),
        b64(password),
        b64(&format!("\0{user}\0{password}")),
    ]
}

fn assert_no_secret(run: &Run, user: &str, password: &str) {
    let all = run.all();
    for form in secret_forms(user, password) {
        assert!(!all.contains(&form), "{form:?} shown in {all}");
    }
}

fn mailin_tls_args(port: u16) -> Vec<String> {
    let mut args = base_args(&format!("127.0.0.1:{port}"));
    args[3] = "starttls".into();
    args.extend(["--ca-file".into(), pki().ca_file.display().to_string()]);
    args.extend(["--user".into(), MAILIN_USER.into(), "--trace".into()]);
    args
}

#[test]
fn starttls_and_auth_with_mailin_and_the_password_never_shown() {
    let (port, store) = mailin_with(true);
    // From the environment, the mechanism chosen by the client (PLAIN).
    let run = Smtpc::new()
        .args(mailin_tls_args(port))
        .env(PASSWORD_VAR, MAILIN_PASSWORD)
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(0);
    assert!(run.err.contains("\nC: STARTTLS\n"), "{}", run.err);
    assert!(
        run.err.contains("\nC: AUTH PLAIN <redacted>\n"),
        "{}",
        run.err
    );
    assert!(run.err.contains("\nS: 235 Authentication succeeded\n"));
    assert_no_secret(&run, MAILIN_USER, MAILIN_PASSWORD);

    // From a file (first line only), with LOGIN: the password goes in its
    // own response, redacted too.
    let file = scratch(
        "password",
        format!("{MAILIN_PASSWORD}\nignored\n").as_bytes(),
    );
    let run = Smtpc::new()
        .args(mailin_tls_args(port))
        .args(["--auth", "login", "--password-file"])
        .arg_path(&file)
        .env(PASSWORD_VAR, "not-this-one")
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(0);
    assert!(run.err.contains("\nC: AUTH LOGIN\n"), "{}", run.err);
    assert!(run.err.contains("\nC: <redacted>\n"), "{}", run.err);
    assert_no_secret(&run, MAILIN_USER, MAILIN_PASSWORD);
    assert_eq!(store.lock().unwrap().len(), 2);
}

#[test]
fn refused_credentials_exit_77() {
    let (port, store) = mailin_with(true);
    let wrong = "Wr0ng-Passw0rd";
    for mech in ["plain", "login"] {
        let run = Smtpc::new()
            .args(mailin_tls_args(port))
            .args(["--auth", mech])
            .env(PASSWORD_VAR, wrong)
            .stdin(MSG.as_bytes())
            .run();
        run.assert_code(77);
        let mech = mech.to_uppercase();
        assert_eq!(
            run.errors(),
            [format!("AUTH {mech} refused: 535 Invalid credentials")]
        );
        assert_no_secret(&run, MAILIN_USER, wrong);
    }
    assert!(store.lock().unwrap().is_empty());
}

#[test]
fn credentials_over_plaintext_exit_77_before_auth_is_sent() {
    let server = Server::start(script([greet_ehlo(&["AUTH PLAIN LOGIN"]), quit()]));
    let run = Smtpc::plain(server.port())
        .args(["--user", "bob"])
        .env(PASSWORD_VAR, "hunter2")
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(77);
    assert_eq!(run.errors().len(), 1);
    assert!(
        run.errors()[0].contains("refusing to send credentials over a connection without TLS"),
        "{}",
        run.err
    );
    assert_no_secret(&run, "bob", "hunter2");
    assert_eq!(server.text(), "EHLO client.test\r\nQUIT\r\n");
}

#[test]
fn allow_insecure_auth_sends_them_but_the_trace_does_not_show_them() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH PLAIN LOGIN"]),
        on_line("235 2.7.0 Authentication successful"),
        transaction(1),
        quit(),
    ]));
    let run = Smtpc::plain(server.port())
        .args(["--user", "bob", "--allow-insecure-auth", "--trace"])
        .env(PASSWORD_VAR, "hunter2")
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(0);
    assert!(
        run.err.contains("\nC: AUTH PLAIN <redacted>\n"),
        "{}",
        run.err
    );
    assert_no_secret(&run, "bob", "hunter2");
    // It did go to the server (which is what was asked for).
    let wire = server.text();
    assert!(wire.contains(&secret_forms("bob", "hunter2")[2]), "{wire}");
}

#[test]
fn a_server_that_echoes_the_credentials_gets_them_redacted_in_the_trace_and_error() {
    // The 535 repeats the AUTH line, and what it decodes to.
    let echo = respond(|line| {
        use base64::Engine as _;
        let last = line.rsplit(' ').next().unwrap_or("");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(last)
            .map(|d| String::from_utf8_lossy(&d).replace('\0', " "))
            .unwrap_or_default();
        format!("535 5.7.8 Error: authentication failed: {line} ({decoded})")
    });
    let server = Server::start(script([greet_ehlo(&["AUTH PLAIN"]), vec![echo], quit()]));
    let run = Smtpc::plain(server.port())
        .args(["--user", "bob", "--allow-insecure-auth", "--trace"])
        .env(PASSWORD_VAR, "hunter2")
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(77);
    assert_no_secret(&run, "bob", "hunter2");
    assert!(
        run.err.contains(
            "\nS: 535 5.7.8 Error: authentication failed: AUTH PLAIN <redacted> ( bob <redacted>)\n"
        ),
        "{}",
        run.err
    );
    assert_eq!(
        run.errors(),
        [
            "AUTH PLAIN refused: 535 5.7.8 Error: authentication failed: AUTH PLAIN <redacted> \
          ( bob <redacted>)"
        ]
    );
    assert!(server.text().contains(&secret_forms("bob", "hunter2")[2]));
}

#[test]
fn starttls_failures_exit_76() {
    // Required but not offered (the default mode).
    let server = Server::start(script([greet_ehlo(&["AUTH PLAIN"]), quit()]));
    let run = Smtpc::new()
        .args(["--server", &format!("127.0.0.1:{}", server.port())])
        .args(["--from", "a@x.test", "--to", "b@y.test", "--timeout", "5"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(76);
    assert_eq!(
        run.errors(),
        ["STARTTLS required but not offered by the server"]
    );
    assert!(!server.text().contains("MAIL"));

    // Refused for now (454, RFC 3207): a temporary failure, 75; refused
    // for good (a 5yz): 76.
    for (reply, code) in [
        ("454 4.7.0 TLS not available due to temporary reason", 75),
        ("554 5.7.3 TLS not available to you", 76),
    ] {
        let server = Server::start(script([greet_ehlo(&["STARTTLS"]), on_line(reply), quit()]));
        let run = Smtpc::plain(server.port())
            .args(["--tls", "starttls"])
            .stdin(MSG.as_bytes())
            .run();
        run.assert_code(code);
        assert_eq!(
            run.errors(),
            [format!("STARTTLS required but refused: {reply}")]
        );
        assert!(!server.text().contains("MAIL"));
    }

    // A certificate from no trusted CA.
    let server = Server::start(script([
        greet_ehlo(&["STARTTLS"]),
        on_line("220 2.0.0 Ready to start TLS"),
        vec![Act::Tls(pki().self_signed.server_config())],
    ]));
    let run = Smtpc::plain(server.port())
        .args(["--tls", "starttls", "--ca-file"])
        .arg_path(&pki().ca_file)
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(76);
    assert_eq!(run.errors().len(), 1);
    assert!(
        run.errors()[0].starts_with("TLS handshake with 127.0.0.1: TLS: "),
        "{}",
        run.err
    );

    // Response injection after the 220.
    let server = Server::start(script([
        greet_ehlo(&["STARTTLS"]),
        vec![
            Act::Line,
            Act::Send(b"220 2.0.0 Ready\r\n250-evil.example\r\n250 AUTH PLAIN\r\n".to_vec()),
            Act::Drain,
        ],
    ]));
    let run = Smtpc::plain(server.port())
        .args(["--tls", "opportunistic"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(76);
    assert!(
        run.errors()[0].contains("response injection"),
        "{}",
        run.err
    );
    assert_eq!(server.text(), "EHLO client.test\r\nSTARTTLS\r\n");
}

// ------------------------------------------------- refusals: 69 and 75

#[test]
fn partial_rejection_sends_to_the_others_and_exits_69() {
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 2.1.0 Ok"),
        on_line("250 2.1.5 Ok"),
        on_line("550 5.1.1 <c@y.test>: Recipient address rejected: User unknown"),
        on_line("250 2.1.5 Ok"),
        on_line("354 go ahead"),
        vec![Act::Data, send("250 2.0.0 Ok: queued as 4XyZ12")],
        quit(),
    ]));
    let run = Smtpc::plain(server.port())
        .args(["--to", "c@y.test", "--to", "d@y.test"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(69);
    assert_eq!(run.out, "250 2.0.0 Ok: queued as 4XyZ12\n");
    assert_eq!(
        run.errors(),
        [
            "recipient refused: <c@y.test>: 550 5.1.1 <c@y.test>: Recipient address rejected: User unknown",
            "the message went to 2 of 3 recipients",
        ]
    );
    assert!(server.text().contains(&format!("DATA\r\n{MSG}.\r\n")));
}

#[test]
fn refusals_that_are_only_transient_exit_75() {
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 2.1.0 Ok"),
        on_line("250 2.1.5 Ok"),
        on_line("452 4.2.2 Mailbox full"),
        on_line("354 go ahead"),
        vec![Act::Data, send("250 2.0.0 Ok: queued as Q1")],
        quit(),
    ]));
    let run = Smtpc::plain(server.port())
        .args(["--to", "c@y.test"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(75);
    assert_eq!(run.out, "250 2.0.0 Ok: queued as Q1\n");
    assert_eq!(
        run.errors(),
        [
            "recipient refused: <c@y.test>: 452 4.2.2 Mailbox full",
            "the message went to 1 of 2 recipients",
        ]
    );
}

#[test]
fn all_recipients_refused_sends_no_content() {
    // 69 when any refusal was permanent, as for a partial rejection; 75
    // when trying again later may reach them all.
    for (first, second, code) in [
        ("550 5.1.1 No such user", "550 5.1.1 No such user", 69),
        ("550 5.1.1 No such user", "451 4.3.0 Try later", 69),
        ("452 4.2.2 Mailbox full", "451 4.3.0 Try later", 75),
    ] {
        let server = Server::start(script([
            greet_ehlo(&[]),
            on_line("250 2.1.0 Ok"),
            on_line(first),
            on_line(second),
            on_line("250 2.0.0 Reset"),
            quit(),
        ]));
        let run = Smtpc::plain(server.port())
            .args(["--to", "c@y.test"])
            .stdin(MSG.as_bytes())
            .run();
        run.assert_code(code);
        assert_eq!(run.out, "");
        assert_eq!(
            run.errors(),
            [
                format!("recipient refused: <b@y.test>: {first}"),
                format!("recipient refused: <c@y.test>: {second}"),
                "all recipients were refused; the message was not sent".to_owned(),
            ]
        );
        let wire = server.text();
        assert!(!wire.contains("DATA"), "{wire}");
        assert!(wire.ends_with("RSET\r\nQUIT\r\n"), "{wire}");
    }
}

#[test]
fn permanent_failures_exit_69_with_one_line() {
    // The sender refused.
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("553 5.7.1 <a@x.test>: Sender address rejected"),
        on_line("250 Ok"),
        quit(),
    ]));
    let run = Smtpc::plain(server.port()).stdin(MSG.as_bytes()).run();
    run.assert_code(69);
    assert_eq!(
        run.errors(),
        ["MAIL FROM:<a@x.test>: 553 5.7.1 <a@x.test>: Sender address rejected"]
    );

    // The content refused, with a multiline reply: still one line.
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("250 2.1.0 Ok"),
        on_line("250 2.1.5 Ok"),
        on_line("354 go ahead"),
        vec![
            Act::Data,
            send("554-5.7.1 Message rejected as spam\n554 5.7.1 see https://example.test/why"),
        ],
        on_line("250 Ok"),
        quit(),
    ]));
    let run = Smtpc::plain(server.port()).stdin(MSG.as_bytes()).run();
    run.assert_code(69);
    assert_eq!(run.out, "");
    assert_eq!(
        run.err,
        "smtpc: end of data: 554 5.7.1 Message rejected as spam / see https://example.test/why\n"
    );
}

// ----------------------------------------------------- transient: 75

#[test]
fn transient_failures_exit_75() {
    let cases: Vec<(Vec<Act>, &str)> = vec![
        (
            vec![send("421 4.3.2 Service shutting down")],
            "greeting: 421 4.3.2 Service shutting down",
        ),
        (
            script([
                greet_ehlo(&[]),
                on_line("451 4.3.0 Temporary lookup failure"),
                on_line("250 Ok"),
                quit(),
            ]),
            "MAIL FROM:<a@x.test>: 451 4.3.0 Temporary lookup failure",
        ),
        (
            script([greet_ehlo(&[]), vec![Act::Line, Act::Close]]),
            "MAIL FROM:<a@x.test>: connection closed",
        ),
    ];
    for (script, error) in cases {
        let server = Server::start(script);
        let run = Smtpc::plain(server.port()).stdin(MSG.as_bytes()).run();
        run.assert_code(75);
        assert_eq!(run.errors(), [error]);
    }
}

/// A server that takes two recipients per transaction: the message goes
/// in three, and the tool exits 0 with each transaction's reply. A server
/// that vanishes after taking the message leaves its outcome unknown: 75,
/// and a line that says it may have been delivered.
#[test]
fn recipients_in_several_transactions_and_an_unknown_outcome() {
    use testkit::fake::{AfterEnd, Fake, Settings};
    let fake = Fake::start(Settings {
        max_recipients: Some(2),
        ..Settings::default()
    });
    let to: Vec<String> = (0..5).map(|i| format!("r{i}@y.test")).collect();
    let mut args = Vec::new();
    for t in &to {
        args.extend(["--to".to_owned(), t.clone()]);
    }
    let run = Smtpc::plain(fake.port())
        .args(&args)
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(0);
    let ids: Vec<&str> = run.out.lines().collect();
    assert_eq!(
        ids,
        [
            "250 2.0.0 Ok: queued as F1",
            "250 2.0.0 Ok: queued as F2",
            "250 2.0.0 Ok: queued as F3"
        ]
    );
    let mut got: Vec<String> = fake.stored().into_iter().flat_map(|s| s.to).collect();
    got.sort();
    let mut want = to.clone();
    want.push("b@y.test".into());
    want.sort();
    assert_eq!(got, want, "every recipient once");

    let fake = Fake::start(Settings {
        after_end: Some((1, AfterEnd::Close)),
        ..Settings::default()
    });
    let run = Smtpc::plain(fake.port()).stdin(MSG.as_bytes()).run();
    run.assert_code(75);
    assert_eq!(
        run.errors(),
        ["end of data: connection closed: the message may have been delivered"]
    );
    assert!(run.out.is_empty());
    assert_eq!(fake.stored().len(), 1);
}

#[test]
fn connection_refused_exits_75() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let run = Smtpc::plain(port).stdin(MSG.as_bytes()).run();
    run.assert_code(75);
    let errors = run.errors();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(&format!("connecting to 127.0.0.1:{port}: ")),
        "{}",
        run.err
    );
}

#[test]
fn a_reply_dribbling_in_slower_than_the_timeout_exits_75() {
    // Each byte comes well within a second; the whole greeting would take
    // about 5 s. --timeout 1 bounds the whole reply.
    let greeting = b"220 slow.example ESMTP, one byte at a time\r\n".to_vec();
    let server = Server::start(vec![Act::Dribble(greeting, Duration::from_millis(110))]);
    let started = Instant::now();
    let run = Smtpc::plain(server.port())
        .args(["--timeout", "1"])
        .stdin(MSG.as_bytes())
        .run();
    let took = started.elapsed();
    run.assert_code(75);
    assert_eq!(run.errors(), ["greeting: timed out"]);
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

// ------------------------------------------------------ protocol: 76

#[test]
fn protocol_failures_exit_76() {
    let cases: Vec<(Vec<Act>, &str)> = vec![
        (
            vec![send("hello, I am not an SMTP server")],
            "greeting: malformed reply line",
        ),
        (
            script([
                greet_ehlo(&[]),
                on_line("250 2.1.0 Ok"),
                on_line("250 2.1.5 Ok"),
                on_line("250 2.0.0 Ok"),
                on_line("250 Ok"),
                quit(),
            ]),
            "DATA: expected 354, got 250 2.0.0 Ok",
        ),
    ];
    for (script, error) in cases {
        let server = Server::start(script);
        let run = Smtpc::plain(server.port()).stdin(MSG.as_bytes()).run();
        run.assert_code(76);
        assert_eq!(run.errors().len(), 1, "{}", run.err);
        assert!(run.errors()[0].starts_with(error), "{}", run.err);
    }
}

/// Success is the reply the protocol names: a 220 or a 251 to EHLO, a 252
/// to MAIL, a 251 to DATA's end are protocol errors (76), never a sent
/// message; a 221 to anything but QUIT means the server left (75), and
/// nothing more is sent after it.
#[test]
fn a_2yz_the_command_does_not_name_is_no_success() {
    let protocol: Vec<(Vec<Act>, &str)> = vec![
        (
            script([
                vec![send("220 hi"), Act::Line, send("220 hello")],
                vec![Act::Drain],
            ]),
            "EHLO client.test: expected 250, got 220 hello",
        ),
        (
            script([
                greet_ehlo(&[]),
                on_line("252 maybe"),
                on_line("250 Ok"),
                quit(),
            ]),
            "MAIL FROM:<a@x.test>: expected 250, got 252 maybe",
        ),
        (
            script([
                greet_ehlo(&[]),
                on_line("250 2.1.0 Ok"),
                on_line("250 2.1.5 Ok"),
                on_line("354 go"),
                vec![Act::Data, send("251 queued elsewhere")],
                on_line("250 Ok"),
                quit(),
            ]),
            "end of data: expected 250, got 251 queued elsewhere",
        ),
    ];
    for (script, error) in protocol {
        let server = Server::start(script);
        let run = Smtpc::plain(server.port()).stdin(MSG.as_bytes()).run();
        run.assert_code(76);
        assert_eq!(run.errors(), [error], "{}", run.err);
        assert!(run.out.is_empty(), "nothing reported as sent: {}", run.out);
    }
    for (at, error) in [
        (
            0,
            "EHLO client.test: 221 2.0.0 Bye: the server closed the session",
        ),
        (
            1,
            "MAIL FROM:<a@x.test>: 221 2.0.0 Bye: the server closed the session",
        ),
    ] {
        let mut steps = vec![send("220 hi"), Act::Line];
        if at == 1 {
            steps.extend([send("250 hello"), Act::Line]);
        }
        steps.extend([send("221 2.0.0 Bye"), Act::Drain]);
        let server = Server::start(steps);
        let run = Smtpc::plain(server.port()).stdin(MSG.as_bytes()).run();
        run.assert_code(75);
        assert_eq!(run.errors(), [error], "{}", run.err);
        let sent = lines(&server.received());
        assert_eq!(sent.len(), at + 1, "nothing after the 221: {sent:?}");
    }
}

#[test]
fn a_hostile_server_cannot_drive_the_terminal() {
    let server = Server::start(script([
        vec![send("220 \x1b[2J\x1b]0;owned\x07 ready")],
        vec![Act::Line, send("250 ok")],
        on_line("550 5.7.1 \x1b[31mred\x1b[0m \u{9b}2J"),
        on_line("250 ok"),
        quit(),
    ]));
    let run = Smtpc::plain(server.port())
        .args(["--trace"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(69);
    // `finish` asserts that no ESC reached standard error.
    assert!(
        run.err
            .contains("S: 220 \\u{1b}[2J\\u{1b}]0;owned\\u{7} ready\n"),
        "{}",
        run.err
    );
    assert!(!run.err.contains('\u{9b}'));
    assert!(
        run.err.ends_with(
            "smtpc: MAIL FROM:<a@x.test>: 550 5.7.1 \\u{1b}[31mred\\u{1b}[0m \\u{9b}2J\n"
        ),
        "{}",
        run.err
    );
}

// ------------------------------------------- local problems: 64, 65, 66

#[test]
fn invalid_input_exits_65_without_connecting() {
    let idle = Untouched::new();
    let not_a_cert = scratch("not-a-cert.pem", b"this is not a certificate\n");
    let cases: Vec<Vec<String>> = vec![
        vec!["--from".into(), "a@x.test\r\nRCPT TO:<evil@x.test>".into()],
        vec!["--to".into(), "c@y.test\nDATA".into()],
        vec!["--helo".into(), "client.test\r\nMAIL FROM:<x@y>".into()],
        vec![
            "--tls".into(),
            "starttls".into(),
            "--ca-file".into(),
            not_a_cert.display().to_string(),
        ],
    ];
    for extra in cases {
        let run = Smtpc::new()
            .args(base_args(&idle.server()))
            .args(&extra)
            .stdin(MSG.as_bytes())
            .run();
        run.assert_code(65);
        assert_eq!(run.errors().len(), 1, "{extra:?}: {}", run.err);
        assert!(!run.err.contains('\r'), "{}", run.err);
    }
    idle.assert_untouched();
}

#[test]
fn unreadable_input_exits_66_without_connecting() {
    let idle = Untouched::new();
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-file.eml");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![missing.display().to_string()],
            "cannot read the message",
        ),
        (vec![dir.display().to_string()], "it is a directory"),
        (
            vec![
                "--user".into(),
                "bob".into(),
                "--password-file".into(),
                missing.display().to_string(),
            ],
            "cannot read the password file",
        ),
        (
            vec!["--ca-file".into(), missing.display().to_string()],
            "cannot read the CA file",
        ),
    ];
    for (extra, error) in cases {
        let run = Smtpc::new()
            .args(base_args(&idle.server()))
            .args(&extra)
            .run();
        run.assert_code(66);
        assert_eq!(run.errors().len(), 1, "{}", run.err);
        assert!(run.errors()[0].contains(error), "{}", run.err);
    }
    idle.assert_untouched();
}

#[test]
fn a_read_error_in_the_middle_of_the_message_exits_66_and_ends_no_data() {
    // Standard input is a directory: opening works, every read fails. The
    // library reads the first block before MAIL, so nothing of the
    // transaction goes out.
    let server = Server::start(script([greet_ehlo(&[]), vec![Act::Drain]]));
    let dir = std::fs::File::open(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let run = Smtpc::plain(server.port()).stdin_from(dir).run();
    run.assert_code(66);
    assert_eq!(run.errors().len(), 1);
    assert!(
        run.errors()[0].starts_with("reading the message: "),
        "{}",
        run.err
    );
    let wire = server.text();
    assert!(!wire.contains("MAIL") && !wire.contains("DATA"), "{wire}");
}

#[test]
fn usage_errors_exit_64_without_connecting() {
    let idle = Untouched::new();
    let server = idle.server();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "required"),
        (vec!["--from", "a@x.test"], "--to"),
        (
            vec![
                "--from",
                "a@x.test",
                "--to",
                "b@y.test",
                "--tls",
                "sometimes",
            ],
            "sometimes",
        ),
        (
            vec![
                "--from", "a@x.test", "--to", "b@y.test", "--server", "::1:25",
            ],
            "brackets",
        ),
        (
            vec![
                "--from",
                "a@x.test",
                "--to",
                "b@y.test",
                "--server",
                "host:99999",
            ],
            "port",
        ),
        (
            vec!["--from", "a@x.test", "--to", "b@y.test", "--timeout", "0"],
            "timeout",
        ),
        (
            vec![
                "--from", "a@x.test", "--to", "b@y.test", "--user", "bob", "--auth", "GSSAPI",
            ],
            "GSSAPI",
        ),
        (
            vec!["--from", "a@x.test", "--to", "b@y.test", "--auth", "PLAIN"],
            "--user",
        ),
        (
            vec![
                "--from",
                "a@x.test",
                "--to",
                "b@y.test",
                "--password-file",
                "/dev/null",
            ],
            "--user",
        ),
        (
            vec!["--from", "a@x.test", "--to", "b@y.test", "--user", "bob"],
            PASSWORD_VAR,
        ),
        (
            vec![
                "--from",
                "a@x.test",
                "--to",
                "b@y.test",
                "--password",
                "s3cr3t-on-argv",
            ],
            PASSWORD_VAR,
        ),
        (
            vec!["--from", "a@x.test", "--to", "b@y.test", "--bogus"],
            "--bogus",
        ),
    ];
    for (args, hint) in cases {
        let run = Smtpc::new().args(["--server", &server]).args(&args).run();
        run.assert_code(64);
        assert_eq!(run.out, "", "{args:?}");
        assert!(run.err.contains(hint), "{args:?}: {}", run.err);
        assert!(!run.err.contains("s3cr3t"), "{}", run.err);
    }
    idle.assert_untouched();
}

#[test]
fn help_and_version() {
    let run = Smtpc::new().args(["--help"]).run();
    run.assert_code(0);
    for option in [
        "--from",
        "--to",
        "--server",
        "--tls",
        "--helo",
        "--user",
        "--password-file",
        "--auth",
        "--allow-insecure-auth",
        "--ca-file",
        "--timeout",
        "--trace",
        "--quiet",
        "SMTPC_PASSWORD",
        "Exit status",
    ] {
        assert!(run.out.contains(option), "{option} missing from --help");
    }
    for code in ["0", "64", "65", "66", "69", "75", "76", "77"] {
        assert!(
            run.out
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{code} "))),
            "exit status {code} missing from --help"
        );
    }
    assert!(!run.out.contains("--password <"), "the hidden option shows");
    let run = Smtpc::new().args(["--version"]).run();
    run.assert_code(0);
    assert_eq!(run.out, format!("smtpc {}\n", env!("CARGO_PKG_VERSION")));
}

// ------------------------------------------- 100 MiB in bounded memory

/// The big message: this pattern of lines of varied lengths, repeated.
fn pattern() -> Vec<u8> {
    let mut p = Vec::new();
    for i in 0..997 {
        p.extend_from_slice(format!("line {i:04} ").as_bytes());
        p.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, i % 131));
        p.extend_from_slice(b"\r\n");
    }
    p
}

/// A server for one big message: checks the content against the pattern
/// as it streams in (nothing kept), tells the test when the end of data
/// has arrived, and answers only when the test says so.
fn big_server(
    listener: TcpListener,
    pattern: Vec<u8>,
    total: u64,
    arrived: mpsc::Sender<Result<u64, String>>,
    answer: mpsc::Receiver<()>,
) {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + LIFETIME;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5))
            }
            Err(e) => {
                let _ = arrived.send(Err(format!("no connection: {e}")));
                return;
            }
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(LIFETIME)).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::with_capacity(1 << 18, stream);
    let command = |r: &mut BufReader<TcpStream>, w: &mut TcpStream, reply: &str| {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        w.write_all(reply.as_bytes()).unwrap();
        line
    };
    w.write_all(b"220 big.test ESMTP\r\n").unwrap();
    command(&mut r, &mut w, "250-big.test\r\n250 SIZE 0\r\n");
    let mail = command(&mut r, &mut w, "250 2.1.0 Ok\r\n");
    assert_eq!(mail, format!("MAIL FROM:<a@x.test> SIZE={total}\r\n"));
    command(&mut r, &mut w, "250 2.1.5 Ok\r\n");
    command(&mut r, &mut w, "354 go ahead\r\n");
    // Content: `total` bytes of the pattern, then ".\r\n".
    let mut seen = 0u64;
    let mut tail = Vec::new();
    let result = loop {
        let chunk = match r.fill_buf() {
            Ok([]) => break Err(format!("closed after {seen} bytes")),
            Ok(chunk) => chunk,
            Err(e) => break Err(format!("{e} after {seen} bytes")),
        };
        let n = chunk.len();
        let mut rest = chunk;
        while !rest.is_empty() && seen < total {
            let at = (seen % pattern.len() as u64) as usize;
            let k = rest
                .len()
                .min(pattern.len() - at)
                .min((total - seen) as usize);
            if rest[..k] != pattern[at..at + k] {
                break;
            }
            seen += k as u64;
            rest = &rest[k..];
        }
        if !rest.is_empty() && seen < total {
            break Err(format!("content differs at byte {seen}"));
        }
        tail.extend_from_slice(rest);
        r.consume(n);
        if tail.len() >= 3 {
            break if tail == b".\r\n" {
                Ok(seen)
            } else {
                Err(format!("after the content: {tail:?}"))
            };
        }
    };
    let ok = result.is_ok();
    arrived.send(result).unwrap();
    if ok && answer.recv_timeout(LIFETIME).is_ok() {
        w.write_all(b"250 2.0.0 Ok: queued as BIG1\r\n").unwrap();
        command(&mut r, &mut w, "221 2.0.0 Bye\r\n");
    }
}

/// The high-water mark of a process's resident memory, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/PID/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_100_mib_message_streams_from_a_file_in_bounded_memory() {
    const SIZE: u64 = 100 << 20;
    /// Far less than the message: it was never held whole.
    const BOUND_KIB: u64 = 32 << 10;
    let pattern = pattern();
    let repeats = SIZE.div_ceil(pattern.len() as u64);
    let total = repeats * pattern.len() as u64;
    let path = scratch("big.eml", b"");
    {
        let mut f = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
        for _ in 0..repeats {
            f.write_all(&pattern).unwrap();
        }
        f.flush().unwrap();
    }
    assert!(std::fs::metadata(&path).unwrap().len() >= SIZE);

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (arrived_tx, arrived) = mpsc::channel();
    let (answer, answer_rx) = mpsc::channel();
    let server = thread::spawn(move || big_server(listener, pattern, total, arrived_tx, answer_rx));

    let mut child = Smtpc::new()
        .args(base_args(&format!("127.0.0.1:{port}")))
        .arg_path(&path)
        .spawn();
    let pid = child.id();
    let deadline = Instant::now() + RUN_LIMIT;
    let received = loop {
        match arrived.recv_timeout(Duration::from_millis(20)) {
            Ok(received) => break received,
            Err(_) if child.try_wait().unwrap().is_some() => {
                panic!("smtpc ended early: {:#?}", finish(child))
            }
            Err(_) if Instant::now() > deadline => panic!("no end of data within {RUN_LIMIT:?}"),
            Err(_) => {}
        }
    };
    // The whole message has gone through the tool, which now waits for the
    // reply: its high-water mark covers the whole transfer.
    let peak = peak_rss_kib(pid);
    answer.send(()).unwrap();
    let run = finish(child);
    server.join().unwrap();
    std::fs::remove_file(&path).unwrap();

    assert_eq!(received, Ok(total));
    run.assert_code(0);
    assert_eq!(run.out, "250 2.0.0 Ok: queued as BIG1\n");
    eprintln!("peak RSS of smtpc sending {total} bytes: {peak} KiB");
    assert!(
        peak < BOUND_KIB,
        "peak RSS {peak} KiB for a {total}-byte message"
    );
}

// ------------------------------------------------- reaching the server

/// The message to b@y.test, without TLS, through a private name
/// resolution (`hosts`): the tool in a mount namespace of its own.
fn with_hosts(hosts: &str, args: &[&str]) -> Option<Smtpc> {
    let mut all = vec!["--tls", "none", "--from", "a@x.test", "--to", "b@y.test"];
    all.extend_from_slice(args);
    let cmd = testkit::socks::with_hosts(hosts, std::path::Path::new(BIN), &all)?;
    Some(Smtpc::wrapped(cmd))
}

#[test]
fn localhost_with_a_black_hole_at_ipv6_connects_over_ipv4() {
    // localhost is ::1 first, then 127.0.0.1. On [::1]:P nothing ever
    // answers (a full accept queue drops every SYN); the server is on
    // 127.0.0.1:P. The ::1 attempt alone would take the whole connect
    // timeout (60 s), past the deadline (20 s): only starting the next
    // address after 250 ms gets the message through.
    let (server, hole) = (0..20)
        .find_map(|_| {
            let server = Server::start(script([greet_ehlo(&[]), transaction(1), quit()]));
            let hole = testkit::socks::ipv6_black_hole(server.port())?;
            Some((server, hole))
        })
        .expect("a port free on both 127.0.0.1 and ::1");
    let target = format!("localhost:{}", server.port());
    let args = [
        "--server",
        &target,
        "--connect-timeout",
        "60",
        "--deadline",
        "20",
        "--trace",
    ];
    let Some(smtpc) = with_hosts("::1 localhost\n127.0.0.1 localhost\n", &args) else {
        return;
    };
    let run = smtpc.stdin(MSG.as_bytes()).run();
    run.assert_code(0);
    assert!(
        run.err
            .contains(&format!("connected to 127.0.0.1:{}", server.port())),
        "{}",
        run.err
    );
    assert!(server.text().contains("Subject: smtpc"));
    drop(hole);
}

#[test]
fn an_unknown_host_exits_68() {
    let Some(smtpc) = with_hosts(
        "127.0.0.1 localhost\n",
        &["--server", "nowhere.invalid:2525"],
    ) else {
        return;
    };
    let run = smtpc.stdin(MSG.as_bytes()).run();
    run.assert_code(68);
    assert_eq!(run.errors(), ["unknown host nowhere.invalid"]);
}

#[test]
fn the_deadline_bounds_the_whole_run() {
    // Every reply may take a minute; the run may take half a second.
    let server = Server::start(script([greet_ehlo(&[]), vec![Act::Drain]]));
    let run = Smtpc::plain(server.port())
        .args(["--timeout", "60", "--deadline", "0.5"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(75);
    assert_eq!(
        run.errors(),
        ["MAIL FROM:<a@x.test>: the call's deadline passed"]
    );
}

#[test]
fn the_source_ip_is_where_the_connection_comes_from() {
    let server = Server::start(script([greet_ehlo(&[]), transaction(1), quit()]));
    let target = format!("127.0.0.1:{}", server.port());
    let run = Smtpc::new()
        .args([
            "--server",
            &target,
            "--tls",
            "none",
            "--source-ip",
            "127.0.0.2",
        ])
        .args(["--from", "a@x.test", "--to", "b@y.test"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(0);
    // With no --helo, the tool names itself by the address the server sees.
    assert!(server.text().starts_with("EHLO [127.0.0.2]\r\n"));
}

#[test]
fn through_a_socks5_proxy() {
    let Some(proxy) = testkit::socks::Danted::start("username") else {
        return;
    };
    let (port, store) = mailin();
    let server = format!("127.0.0.1:{port}");
    let url = format!(
        "socks5://{}@127.0.0.1:{}",
        testkit::socks::SOCKS_USER,
        proxy.port
    );
    let run = Smtpc::new()
        .args(base_args(&server))
        .args(["--proxy", &url, "--trace"])
        .env("SMTPC_PROXY_PASSWORD", testkit::socks::SOCKS_PASSWORD)
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(0);
    assert!(
        run.err.contains("through SOCKS5 proxy 127.0.0.1:"),
        "{}",
        run.err
    );
    assert!(!run.all().contains(testkit::socks::SOCKS_PASSWORD));
    assert_eq!(store.lock().unwrap().len(), 1);

    // A wrong password: the proxy refuses it, exit 77, and it is not shown.
    let run = Smtpc::new()
        .args(base_args(&server))
        .args(["--proxy", &url])
        .env("SMTPC_PROXY_PASSWORD", "not-the-password")
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(77);
    assert!(run
        .err
        .contains("the user name and password were refused (status 1)"));
    assert!(!run.all().contains("not-the-password"));

    // No password on the command line, where every user can read it.
    let with_password = format!("socks5://u:secret@127.0.0.1:{}", proxy.port);
    let run = Smtpc::new()
        .args(base_args(&server))
        .args(["--proxy", &with_password])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(64);
    assert!(run.err.contains("SMTPC_PROXY_PASSWORD"), "{}", run.err);
}

#[test]
fn a_proxy_that_refuses_by_its_rules_exits_69() {
    let Some(proxy) = testkit::socks::Danted::start("none") else {
        return;
    };
    // danted lets CONNECT go to 127.0.0.1 and ::1 only.
    let run = Smtpc::new()
        .args(base_args("127.0.0.2:25"))
        .args(["--proxy", &proxy.url()])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(69);
    assert_eq!(
        run.errors(),
        [format!(
            "SOCKS5 proxy 127.0.0.1:{}, connecting to 127.0.0.2:25: refused with reply 2 \
             (connection not allowed by ruleset)",
            proxy.port
        )]
    );
}
