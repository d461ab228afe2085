//! The C interface from C: examples/c/send.c and tests/c/misuse.c are
//! compiled with the system C compiler against include/smtpc.h and the
//! library cargo built for this test run, then run against loopback
//! servers (and under valgrind). examples/python/send.py runs through
//! ctypes.
//!
//! `cargo test` builds the library's cdylib and staticlib into the same
//! `deps/` folder as this test's executable, so no separate build step is
//! needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::certs::pki;
use crate::support::{
    closes_mid_chunk, greet_ehlo, lines, mailin, mailin_with, normalised, on_line, quit, script,
    send, two_chunks, Act, Server, MAILIN_PASSWORD, MAILIN_USER,
};

/// How long a C program may run (valgrind makes them slow).
const RUN_LIMIT: Duration = Duration::from_secs(120);

pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile>/deps, where cargo put libsmtpc.so and libsmtpc.a.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().expect("deps folder").to_path_buf();
    let so = dir.join(format!("libsmtpc{}", std::env::consts::DLL_SUFFIX));
    assert!(
        so.exists(),
        "{} is missing: cargo did not build the cdylib",
        so.display()
    );
    dir
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".into())
}

const CFLAGS: &[&str] = &[
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-g",
    "-pthread",
];

/// What the static library needs from the system: OpenSSL (native-tls)
/// and what Rust's standard library uses (`--print native-static-libs`,
/// see README).
const NATIVE_STATIC_LIBS: &[&str] = &[
    "-lssl",
    "-lcrypto",
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

pub(crate) enum Link {
    Dynamic,
    Static,
}

/// Compiles `source` into an executable named `name`.
pub(crate) fn compile(name: &str, source: &Path, link: Link) -> PathBuf {
    compile_with(name, source, link, &[])
}

/// [`compile`] with more flags (`-fsanitize=...`).
pub(crate) fn compile_with(name: &str, source: &Path, link: Link, flags: &[&str]) -> PathBuf {
    let exe = out_dir().join(name);
    let lib = lib_dir();
    let mut cmd = Command::new(cc());
    cmd.args(CFLAGS)
        .args(flags)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-o")
        .arg(&exe)
        .arg(source);
    match link {
        // By path: the library has no soname, so the executable records
        // this path and loads exactly this file, whatever LD_LIBRARY_PATH
        // says (cargo's points at target/debug too, where `cargo build`
        // may have left an older copy).
        Link::Dynamic => {
            cmd.arg(lib.join(format!("libsmtpc{}", std::env::consts::DLL_SUFFIX)));
        }
        Link::Static => {
            cmd.arg(lib.join("libsmtpc.a")).args(NATIVE_STATIC_LIBS);
        }
    }
    let out = cmd.output().expect("run the C compiler (cc)");
    assert!(
        out.status.success(),
        "compiling {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

fn send_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| compile("send", &root().join("examples/c/send.c"), Link::Dynamic))
}

fn misuse_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| compile("misuse", &root().join("tests/c/misuse.c"), Link::Dynamic))
}

/// Runs `cmd` to its end, killing it after RUN_LIMIT.
pub(crate) fn run(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    let deadline = Instant::now() + RUN_LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// Checks the program's exit status (showing both streams when it is
/// wrong) and returns its stdout and stderr.
pub(crate) fn exited(out: &Output, code: i32) -> (String, String) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `tool` can be run. Without it a test is skipped with a
/// message, except in CI, where it must be installed (.ci/run does).
pub(crate) fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "{tool} is required in CI");
        eprintln!("skipped: {tool} is not installed");
    }
    ok
}

/// The command that runs `exe`, under valgrind when asked.
pub(crate) fn command(exe: &Path, valgrind: bool) -> Command {
    if !valgrind {
        return Command::new(exe);
    }
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=1",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,possible",
        "--quiet",
    ])
    .arg(exe);
    cmd
}

/// A message with bare LF line endings, a leading dot and a missing final
/// newline, written to a file.
fn message_file(name: &str) -> (PathBuf, Vec<u8>) {
    let message = b"From: kjj@solidosystems.com\nTo: khl@solidosystems.com\n\
                    Subject: from C\n\nHello from C.\n.leading dot\n..two\nlast line"
        .to_vec();
    let path = out_dir().join(name);
    std::fs::write(&path, &message).unwrap();
    (path, message)
}

/// Runs send.c against mailin-embedded; checks what the server stored.
fn send_to_mailin(exe: &Path, valgrind: bool) {
    let (port, store) = mailin();
    let (file, message) = message_file(&format!("message-{port}.txt"));
    let mut cmd = command(exe, valgrind);
    cmd.args(["127.0.0.1", &port.to_string(), "kjj@solidosystems.com"])
        .arg("khl@solidosystems.com,other@solidosystems.com")
        .arg(&file)
        .env("SMTPC_TLS", "none")
        .env("SMTPC_VERBOSE", "1");
    let out = run(cmd);
    let (stdout, stderr) = exited(&out, 0);
    assert!(stdout.starts_with("sent: 250"), "{stdout}");
    // The transcript callback saw both sides.
    assert!(
        stderr.contains("C: MAIL FROM:<kjj@solidosystems.com>"),
        "{stderr}"
    );
    assert!(stderr.contains("S: 250"), "{stderr}");
    assert!(stderr.contains("C: QUIT"), "{stderr}");
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, "kjj@solidosystems.com");
    assert_eq!(
        got[0].to,
        ["khl@solidosystems.com", "other@solidosystems.com"]
    );
    assert_eq!(text(&got[0].data), text(&normalised(&message)));
}

#[test]
fn c_send_delivers_a_file() {
    send_to_mailin(send_exe(), false);
}

/// send.c from a@x.test to `to` on 127.0.0.1:`port`, without TLS.
fn plain_send(port: u16, to: &str, file: &Path) -> Command {
    let mut cmd = Command::new(send_exe());
    cmd.args(["127.0.0.1", &port.to_string(), "a@x.test", to])
        .arg(file)
        .env("SMTPC_TLS", "none");
    cmd
}

#[test]
fn c_send_lists_refused_recipients() {
    let server = Server::start(script([
        greet_ehlo(&["8BITMIME"]),
        on_line("250 2.1.0 Ok"),
        on_line("250 2.1.5 Ok"),
        on_line("550 5.1.1 No such user"),
        on_line("354 End data with <CR><LF>.<CR><LF>"),
        vec![Act::Data, send("250 2.0.0 Ok: queued as ABC123")],
        quit(),
    ]));
    let (file, _) = message_file("refused.txt");
    let cmd = plain_send(server.port(), "b@y.test,c@y.test", &file);
    let out = run(cmd);
    let (stdout, stderr) = exited(&out, 3);
    assert!(stdout.contains("queue id ABC123"), "{stdout}");
    assert!(
        stderr.contains("refused: c@y.test: 550 5.1.1 No such user"),
        "{stderr}"
    );
    let sent = lines(&server.received());
    assert!(sent.contains(&"RCPT TO:<c@y.test>".to_owned()));
    assert!(sent.contains(&"Hello from C.".to_owned()), "{sent:?}");
    assert_eq!(sent.last().unwrap(), "QUIT");
}

#[test]
fn c_send_reports_failures() {
    let server = Server::start(script([
        greet_ehlo(&[]),
        on_line("554 5.7.1 Relay access denied"),
        on_line("250 2.0.0 Reset"),
        quit(),
    ]));
    let (file, _) = message_file("refused-sender.txt");
    let cmd = plain_send(server.port(), "b@y.test", &file);
    let out = run(cmd);
    let (_, stderr) = exited(&out, 1);
    assert!(
        stderr.contains(
            "permanent failure: MAIL FROM:<a@x.test>: 554 5.7.1 Relay access denied (reply 554)"
        ),
        "{stderr}"
    );
    let sent = lines(&server.received());
    assert_eq!(
        sent,
        ["EHLO [127.0.0.1]", "MAIL FROM:<a@x.test>", "RSET", "QUIT"]
    );

    // Bad arguments: exit 2 before any connection.
    for args in [
        vec!["127.0.0.1", "0", "a@x", "b@y", "/nonexistent"],
        vec!["127.0.0.1", "25x", "a@x", "b@y", "/nonexistent"],
        vec!["127.0.0.1", "25", "a@x", "b@y", "/nonexistent/message"],
        vec!["too", "few"],
    ] {
        let mut cmd = Command::new(send_exe());
        cmd.args(&args);
        assert_eq!(run(cmd).status.code(), Some(2), "{args:?}");
    }
    let mut cmd = Command::new(send_exe());
    cmd.args(["127.0.0.1", "25", "a@x", "b@y", "/dev/null"])
        .env("SMTPC_TLS", "sometimes");
    assert_eq!(run(cmd).status.code(), Some(2));
}

/// send.c against mailin-embedded with STARTTLS and AUTH, trusting the
/// test CA; `password` is what SMTPC_PASSWORD says.
fn send_over_tls(
    exe: &Path,
    valgrind: bool,
    ca: bool,
    password: &str,
) -> (Output, Vec<crate::support::Received>) {
    let (port, store) = mailin_with(true);
    let (file, _) = message_file(&format!("tls-{port}.txt"));
    let mut cmd = command(exe, valgrind);
    cmd.args(["localhost", &port.to_string(), "a@x.test", "b@y.test"])
        .arg(&file)
        .env("SMTPC_TLS", "starttls")
        .env("SMTPC_USER", MAILIN_USER)
        .env("SMTPC_PASSWORD", password)
        .env("SMTPC_VERBOSE", "1");
    if ca {
        cmd.env("SMTPC_CA_FILE", &pki().ca_file);
    }
    let out = run(cmd);
    let got = store.lock().unwrap().clone();
    (out, got)
}

#[test]
fn c_send_over_starttls_with_auth() {
    let (out, got) = send_over_tls(send_exe(), false, true, MAILIN_PASSWORD);
    let (stdout, stderr) = exited(&out, 0);
    assert!(stdout.starts_with("sent over TLS: 250"), "{stdout}");
    assert!(stderr.contains("C: STARTTLS"), "{stderr}");
    assert!(stderr.contains("C: AUTH"), "{stderr}");
    assert!(
        !stderr.contains(MAILIN_PASSWORD),
        "the password leaked: {stderr}"
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, ["b@y.test"]);

    // A wrong password: SMTPC_AUTH with the server's 535, nothing sent.
    let (out, got) = send_over_tls(send_exe(), false, true, "not-the-password");
    let (_, stderr) = exited(&out, 1);
    assert!(stderr.contains("send: authentication failed: "), "{stderr}");
    assert!(stderr.contains("(reply 535)"), "{stderr}");
    assert!(
        !stderr.contains("not-the-password"),
        "the password leaked: {stderr}"
    );
    assert!(got.is_empty());

    // Without the test CA the certificate is not trusted: SMTPC_TLS.
    let (out, got) = send_over_tls(send_exe(), false, false, MAILIN_PASSWORD);
    let (_, stderr) = exited(&out, 1);
    assert!(stderr.contains("send: TLS error: "), "{stderr}");
    assert!(!stderr.contains("C: AUTH"), "{stderr}");
    assert!(got.is_empty());
}

#[test]
fn c_send_keeps_credentials_off_plaintext() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH PLAIN LOGIN"]),
        vec![Act::Drain],
    ]));
    let (file, _) = message_file("plaintext-auth.txt");
    let mut cmd = plain_send(server.port(), "b@y.test", &file);
    cmd.env("SMTPC_USER", "bob")
        .env("SMTPC_PASSWORD", "hunter2");
    let out = run(cmd);
    let (_, stderr) = exited(&out, 1);
    assert!(stderr.contains("send: authentication failed: "), "{stderr}");
    let sent = server.text();
    assert!(!sent.contains("AUTH") && !sent.contains("MAIL"), "{sent}");
}

/// Servers for misuse.c: one whole session, two that see a message
/// abandoned by its read callback.
fn misuse_servers() -> (Server, Server, Server) {
    let session = Server::start(script([
        greet_ehlo(&["SIZE 100000", "8BITMIME"]),
        on_line("250 2.1.0 Ok"),
        on_line("250 2.1.5 Ok"),
        on_line("550 5.1.1 No such user"),
        on_line("354 End data with <CR><LF>.<CR><LF>"),
        vec![Act::Data, send("250 2.0.0 Ok: queued as Q1")],
        on_line("250 2.0.0 Ok"),
        quit(),
    ]));
    let abandoned = || {
        Server::start(script([
            greet_ehlo(&[]),
            on_line("250 2.1.0 Ok"),
            on_line("250 2.1.5 Ok"),
            on_line("354 End data with <CR><LF>.<CR><LF>"),
            vec![Act::Drain],
        ]))
    };
    (session, abandoned(), abandoned())
}

fn run_misuse(valgrind: bool) {
    let (session, cut1, cut2) = misuse_servers();
    let mut cmd = command(misuse_exe(), valgrind);
    for s in [&session, &cut1, &cut2] {
        cmd.arg(s.port().to_string());
    }
    let out = run(cmd);
    let (stdout, _) = exited(&out, 0);
    assert!(stdout.contains("checks passed"), "{stdout}");

    // Nothing after a NUL, nothing refused, went on the wire.
    let sent = lines(&session.received());
    let expected = [
        "EHLO client.test",
        "MAIL FROM:<a@x>",
        "RCPT TO:<b@y>",
        "RCPT TO:<c@y>",
        "DATA",
        "Subject: misuse",
        "",
        "nul:\0:end",
        "..dot",
        ".",
        "NOOP",
        "QUIT",
    ];
    assert_eq!(sent, expected);
    // An abandoned message never gets its end of data.
    for server in [cut1, cut2] {
        let sent = text(&server.received());
        assert!(sent.contains("DATA\r\n"), "{sent:?}");
        assert!(!sent.contains("\r\n.\r\n"), "{sent:?}");
    }
}

#[test]
fn c_misuse_gives_errors_never_crashes() {
    run_misuse(false);
}

#[test]
fn c_handles_work_in_parallel_threads() {
    let exe = compile("threads", &root().join("tests/c/threads.c"), Link::Dynamic);
    let (port, store) = mailin();
    let mut cmd = Command::new(exe);
    cmd.arg(port.to_string());
    let out = run(cmd);
    exited(&out, 0);
    let mut to: Vec<String> = store
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.to.join(","))
        .collect();
    to.sort();
    let mut expected: Vec<String> = (0..4)
        .flat_map(|t| (0..5).map(move |m| format!("t{t}-m{m}@y.test")))
        .collect();
    expected.sort();
    assert_eq!(to, expected);
}

#[test]
fn c_programs_are_clean_under_valgrind() {
    if !have("valgrind") {
        return;
    }
    run_misuse(true);
    send_to_mailin(send_exe(), true);
    send_batch(true);
    // TLS and AUTH too: OpenSSL inside the same process.
    let (out, got) = send_over_tls(send_exe(), true, true, MAILIN_PASSWORD);
    exited(&out, 0);
    assert_eq!(got.len(), 1);
}

#[test]
fn c_send_links_statically() {
    let exe = compile(
        "send-static",
        &root().join("examples/c/send.c"),
        Link::Static,
    );
    let out = Command::new("ldd").arg(&exe).output();
    if let Ok(out) = out {
        assert!(
            !text(&out.stdout).contains("libsmtpc"),
            "linked dynamically"
        );
    }
    send_to_mailin(&exe, false);
}

#[test]
fn header_compiles_as_c_and_cpp() {
    let header = root().join("include/smtpc.h");
    for (compiler, flags) in [
        (cc(), vec!["-x", "c", "-std=c99"]),
        (cc(), vec!["-x", "c", "-std=c11"]),
        ("c++".to_owned(), vec!["-x", "c++", "-std=c++11"]),
    ] {
        let out = Command::new(&compiler)
            .args(&flags)
            .args(["-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg(&header)
            .output()
            .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
        assert!(
            out.status.success(),
            "{compiler} {flags:?}:\n{}",
            text(&out.stderr)
        );
    }
}

/// The C code block under "## C quick start" in README.md.
fn readme_quick_start() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n## C quick start")
        .nth(1)
        .expect("README has a C quick start section");
    let code = section.split("```c\n").nth(1).expect("a ```c block");
    code.split("\n```").next().unwrap().to_owned() + "\n"
}

#[test]
fn readme_c_quick_start_compiles_and_links() {
    let source = out_dir().join("quick_start.c");
    std::fs::write(&source, readme_quick_start()).unwrap();
    let exe = compile("quick_start", &source, Link::Dynamic);
    assert!(exe.exists());
}

#[test]
fn python_ctypes_send() {
    if !have("python3") {
        return;
    }
    let (port, store) = mailin();
    let (file, message) = message_file("python.txt");
    let lib = lib_dir().join(format!("libsmtpc{}", std::env::consts::DLL_SUFFIX));
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("examples/python/send.py"))
        .args([
            "127.0.0.1",
            &port.to_string(),
            "py@x.test",
            "b@y.test,c@y.test",
        ])
        .arg(&file)
        .env("SMTPC_LIBRARY", &lib)
        .env("SMTPC_TLS", "none")
        .env("SMTPC_VERBOSE", "1");
    let out = run(cmd);
    let (stdout, stderr) = exited(&out, 0);
    assert!(stdout.starts_with("sent: 250"), "{stdout}");
    assert!(stderr.contains("C: RCPT TO:<c@y.test>"), "{stderr}");
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, "py@x.test");
    assert_eq!(got[0].to, ["b@y.test", "c@y.test"]);
    assert_eq!(text(&got[0].data), text(&normalised(&message)));
}

fn send_file_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        compile(
            "send_file",
            &root().join("tests/c/send_file.c"),
            Link::Dynamic,
        )
    })
}

/// A CRLF message file of `lines` lines of 64 bytes.
fn crlf_file(name: &str, lines: usize) -> (PathBuf, Vec<u8>) {
    let content =
        b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop\r\n".repeat(lines);
    let path = out_dir().join(name);
    std::fs::write(&path, &content).unwrap();
    (path, content)
}

#[test]
fn c_send_file_sends_the_file_in_chunks() {
    // 5 MiB: a 4 MiB chunk and a 1 MiB LAST one, straight from the file.
    let (path, content) = crlf_file("chunks.eml", 5 << 14);
    let sizes = [4 << 20, 1 << 20];
    let server = Server::start(two_chunks(sizes, "CF1"));
    let mut cmd = Command::new(send_file_exe());
    cmd.arg(server.port().to_string()).arg(&path).arg("ok");
    let (stdout, _) = exited(&run(cmd), 0);
    assert!(stdout.contains("queue id: CF1"), "{stdout}");
    let got = server.received();
    let mail = format!("MAIL FROM:<a@x.test> SIZE={}\r\n", content.len());
    assert!(String::from_utf8_lossy(&got[..200]).contains(&mail));
    let first = got.windows(5).position(|w| w == b"BDAT ").unwrap();
    let nl = first + got[first..].iter().position(|&b| b == b'\n').unwrap() + 1;
    assert_eq!(&got[nl..nl + sizes[0]], &content[..sizes[0]]);
    let second = nl + sizes[0] + b"BDAT 1048576 LAST\r\n".len();
    assert_eq!(&got[second..second + sizes[1]], &content[sizes[0]..]);
}

/// The server takes the start of a 40 MiB chunk and closes: the kernel
/// answers the rest with a reset, and a sendfile(2) after that fails with
/// EPIPE and raises SIGPIPE. The program, which has SIGPIPE at its
/// default (terminate), must get an error instead of dying.
#[test]
fn c_send_file_survives_a_server_that_closes_mid_message() {
    let (path, _) = crlf_file("cut.eml", 40 << 14);
    for taken in [0, 100_000, 3 << 20] {
        let server = Server::start(closes_mid_chunk(taken));
        let mut cmd = Command::new(send_file_exe());
        cmd.arg(server.port().to_string()).arg(&path).arg("cut");
        let out = run(cmd);
        let (stdout, _) = exited(&out, 0);
        assert!(
            stdout.contains("result: I/O error") || stdout.contains("connection closed"),
            "after {taken} bytes: {stdout}"
        );
        server.received();
    }
}

/// A batch from C: a message with an invalid recipient fails alone and
/// never reaches the wire; one whose recipient is refused fails alone; the
/// others are sent, one write per message.
#[test]
fn c_send_batch_gives_each_message_its_result() {
    send_batch(false);
}

fn send_batch(valgrind: bool) {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    let exe = EXE.get_or_init(|| compile("batch", &root().join("tests/c/batch.c"), Link::Dynamic));
    let server = Server::start(script([
        greet_ehlo(&["PIPELINING"]),
        vec![Act::Line, Act::Line, Act::Line],
        vec![send("250 ok\n250 ok\n354 go")],
        vec![Act::Data, Act::Line, Act::Line, Act::Line],
        vec![send(
            "250 queued as M1\n250 ok\n550 5.1.1 no such user\n554 no valid recipients",
        )],
        on_line("250 reset"),
        vec![Act::Line, Act::Line, Act::Line],
        vec![send("250 ok\n250 ok\n354 go")],
        vec![Act::Data, send("250 queued as M3")],
        quit(),
    ]));
    let mut cmd = command(exe, valgrind);
    cmd.arg(server.port().to_string());
    let (stdout, _) = exited(&run(cmd), 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "overall: invalid argument", "{stdout}");
    assert!(lines[1].starts_with("error: message 2 of 4: "), "{stdout}");
    assert_eq!(lines[2], "0: ok 250 M1 | ");
    assert!(
        lines[3].starts_with("1: invalid argument 0 - | "),
        "{stdout}"
    );
    assert!(
        lines[4].starts_with("2: permanent failure 550 - | "),
        "{stdout}"
    );
    assert!(lines[4].contains("nobody@y.test"), "{stdout}");
    assert_eq!(lines[5], "3: ok 250 M3 | ");
    let sent = crate::support::lines(&server.received());
    assert!(!sent.iter().any(|l| l.contains("bad")), "{sent:?}");
    assert!(!sent.iter().any(|l| l == "never sent"), "{sent:?}");
    assert_eq!(
        sent.iter().filter(|l| l.starts_with("MAIL FROM")).count(),
        3
    );
}

fn cancel_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| compile("cancel", &root().join("tests/c/cancel.c"), Link::Dynamic))
}

/// tests/c/cancel.c: a send blocked on a silent server ends with
/// SMTPC_CANCELLED after smtpc_cancel from another thread, and so does
/// the next call; smtpc_connect_fd over the program's own socket.
fn run_cancel(valgrind: bool) {
    let silent = Server::start(script([greet_ehlo(&[]), vec![Act::Drain]]));
    let session = Server::start(script([
        greet_ehlo(&[]),
        crate::support::transaction(1),
        quit(),
    ]));
    let mut cmd = command(cancel_exe(), valgrind);
    cmd.arg(silent.port().to_string())
        .arg(session.port().to_string());
    let out = run(cmd);
    let (stdout, _) = exited(&out, 0);
    assert!(stdout.contains("checks passed"), "{stdout}");
    assert!(
        stdout.contains("send: cancelled: MAIL FROM:<a@x.test>: cancelled"),
        "{stdout}"
    );
    // The cancelled send went no further than its MAIL.
    let sent = lines(&silent.received());
    assert_eq!(sent, ["EHLO client.test", "MAIL FROM:<a@x.test>"]);
    let sent = session.text();
    assert!(
        sent.contains("Subject: cancel") && sent.ends_with("QUIT\r\n"),
        "{sent}"
    );
}

#[test]
fn c_cancel_from_another_thread() {
    run_cancel(false);
}

#[test]
fn c_cancel_is_clean_under_valgrind() {
    if !have("valgrind") {
        return;
    }
    run_cancel(true);
}

#[test]
fn c_send_through_a_socks5_proxy_from_a_source_address() {
    let Some(proxy) = crate::support::socks::Danted::start("none") else {
        return;
    };
    let (port, store) = mailin();
    let (file, _) = message_file(&format!("proxy-{port}.txt"));
    let mut cmd = plain_send(port, "b@y.test", &file);
    cmd.env("SMTPC_PROXY", proxy.url())
        .env("SMTPC_SOURCE_IP", "127.0.0.1")
        .env("SMTPC_VERBOSE", "1");
    let out = run(cmd);
    let (_, stderr) = exited(&out, 0);
    assert!(stderr.contains("through SOCKS5 proxy"), "{stderr}");
    assert_eq!(store.lock().unwrap().len(), 1);

    // A proxy that refuses (danted lets CONNECT go to 127.0.0.1 and ::1
    // only): SMTPC_PROXY, its reply code in the message.
    let mut cmd = Command::new(send_exe());
    cmd.args(["127.0.0.2", "25", "a@x.test", "b@y.test"])
        .arg(&file)
        .env("SMTPC_TLS", "none")
        .env("SMTPC_PROXY", proxy.url());
    let out = run(cmd);
    let (_, stderr) = exited(&out, 1);
    assert!(
        stderr.contains("send: proxy refused: SOCKS5 proxy 127.0.0.1:")
            && stderr.contains("refused with reply 2 (connection not allowed by ruleset)"),
        "{stderr}"
    );
}

/// `smtpc_set_quit_after_send`: the server answers the end of data only
/// once QUIT has arrived too, so the call returns only if QUIT left with
/// the message; the session is over afterwards. Also under valgrind.
#[test]
fn c_one_shot_send_pipelines_quit() {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    let exe = EXE.get_or_init(|| {
        compile(
            "one_shot",
            &root().join("tests/c/one_shot.c"),
            Link::Dynamic,
        )
    });
    for valgrind in [false, true] {
        let server = Server::start(script([
            greet_ehlo(&["PIPELINING"]),
            vec![Act::Line, Act::Line, Act::Line],
            vec![send("250 ok\n250 ok\n354 go")],
            vec![Act::Data, Act::Line],
            vec![send("250 2.0.0 queued as C1\n221 2.0.0 Bye")],
            vec![Act::Drain],
        ]));
        let mut cmd = command(exe, valgrind);
        cmd.arg(server.port().to_string());
        let (stdout, _) = exited(&run(cmd), 0);
        assert_eq!(
            stdout, "result: ok C1\nconnected: 0\nagain: no session\n",
            "valgrind: {valgrind}"
        );
        let sent = crate::support::lines(&server.received());
        assert_eq!(sent.last().map(String::as_str), Some("QUIT"), "{sent:?}");
        assert_eq!(sent.iter().filter(|l| *l == "QUIT").count(), 1);
    }
}

/// From C, a 2yz the command does not name is `SMTPC_PROTOCOL`, and a 221
/// to anything but QUIT is `SMTPC_CLOSED` with the reply code; nothing is
/// sent after the 221.
#[test]
fn c_success_is_the_reply_the_protocol_names() {
    let (file, _) = message_file("success.txt");
    let odd_mail = Server::start(script([
        greet_ehlo(&[]),
        on_line("251 2.1.0 forwarded?"),
        on_line("250 2.0.0 Reset"),
        quit(),
    ]));
    let (_, stderr) = exited(&run(plain_send(odd_mail.port(), "b@y.test", &file)), 1);
    assert!(
        stderr.contains(
            "send: protocol error: MAIL FROM:<a@x.test>: expected 250, got 251 2.1.0 forwarded? (reply 251)"
        ),
        "{stderr}"
    );
    let bye = Server::start(script([
        vec![send("220 hi"), Act::Line, send("221 2.0.0 Bye")],
        vec![Act::Drain],
    ]));
    let port = bye.port();
    let (_, stderr) = exited(&run(plain_send(port, "b@y.test", &file)), 1);
    assert!(
        stderr.contains(
            "send: no session: EHLO [127.0.0.1]: 221 2.0.0 Bye: the server closed the session (reply 221)"
        ),
        "{stderr}"
    );
    assert_eq!(lines(&bye.received()), ["EHLO [127.0.0.1]"]);
}

/// From C (send.c, which sends through a read callback; a message that
/// fits in the first block is at hand and may go in several
/// transactions): a server that takes two recipients at a time gets the
/// message in three and the result is `SMTPC_OK`; one that vanishes after
/// taking the message gives `SMTPC_UNKNOWN`.
#[test]
fn c_several_transactions_and_an_unknown_outcome() {
    use crate::support::fake::{AfterEnd, Fake, Settings};
    let (file, _) = message_file("several.txt");
    let fake = Fake::start(Settings {
        max_recipients: Some(2),
        ..Settings::default()
    });
    let to = "r0@y.test,r1@y.test,r2@y.test,r3@y.test,r4@y.test";
    let (stdout, _) = exited(&run(plain_send(fake.port(), to, &file)), 0);
    assert!(stdout.starts_with("sent: 250 "), "{stdout}");
    let stored = fake.stored();
    assert_eq!(
        stored.iter().map(|s| s.to.len()).collect::<Vec<_>>(),
        [2, 2, 1]
    );

    let fake = Fake::start(Settings {
        after_end: Some((1, AfterEnd::Close)),
        ..Settings::default()
    });
    let (_, stderr) = exited(&run(plain_send(fake.port(), "b@y.test", &file)), 1);
    assert!(
        stderr.contains("send: outcome unknown: the message may have been delivered: end of data: connection closed"),
        "{stderr}"
    );
}
