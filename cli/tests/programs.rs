//! The programs that call sendmail, calling the tool: cron's command
//! line, `git send-email` with a two-patch series (Debian's git-email),
//! s-nail, all through a private Postfix instance (testkit/servers/
//! postfix.sh), whose stored messages and log (the envelope) are checked;
//! and a message of hundreds of MiB through `-t` in constant memory.

mod support;

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use testkit::real::{available, wait_for_files, Postfix};

use support::*;

/// A configuration for the Postfix instance: plaintext on loopback (its
/// relay restrictions permit 127.0.0.0/8), with a default sender.
fn postfix_config(dir: &Path, port: u16, from: &str) -> PathBuf {
    let path = dir.join("config.toml");
    write_file(
        &path,
        &format!(
            "[defaults]\nserver = \"127.0.0.1:{port}\"\ntls = \"none\"\nhelo = \"client.test\"\n\
             timeout = 30\nfrom = \"{from}\"\nlog = \"smtpc.log\"\n"
        ),
        0o644,
    );
    path
}

/// The messages Postfix delivered, by queue id, once `n` are there.
fn delivered(postfix: &Postfix, n: usize) -> Vec<(String, Vec<u8>)> {
    let files = wait_for_files(&postfix.save_dir, "", n);
    assert_eq!(
        files.len(),
        n,
        "messages delivered; log:\n{}",
        postfix.log()
    );
    files
        .into_iter()
        .map(|f| {
            let id = f.file_name().unwrap().to_string_lossy().into_owned();
            (id, std::fs::read(&f).unwrap())
        })
        .collect()
}

/// The envelope Postfix's log gives for a queue id: the sender and the
/// recipients (the log is written as delivery goes: wait for it).
fn envelope(postfix: &Postfix, id: &str, rcpts: usize) -> (String, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = postfix.log();
        let mut from = None;
        let mut to = Vec::new();
        for line in log.lines() {
            let Some(rest) = line.split_once(&format!(" {id}: ")).map(|(_, r)| r) else {
                continue;
            };
            if let Some(v) = rest.strip_prefix("from=<") {
                from = v.split_once('>').map(|(a, _)| a.to_owned());
            }
            if let Some(v) = rest.strip_prefix("to=<") {
                if rest.contains("status=sent") {
                    to.push(v.split_once('>').unwrap().0.to_owned());
                }
            }
        }
        if let Some(from) = from.filter(|_| to.len() >= rcpts) {
            to.sort();
            return (from, to);
        }
        assert!(Instant::now() < deadline, "no envelope for {id} in:\n{log}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// The message as the tool sent it: without the Received field Postfix
/// put on top.
fn without_received(data: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(data).into_owned();
    let mut lines = text.split_inclusive('\n').peekable();
    assert!(lines.next().unwrap().starts_with("Received: "), "{text}");
    while lines.peek().is_some_and(|l| l.starts_with([' ', '\t'])) {
        lines.next();
    }
    lines.collect::<String>().into_bytes()
}

#[test]
fn crons_message_through_postfix() {
    let Some(postfix) = Postfix::start() else {
        return;
    };
    let dir = scratch_dir("cron-postfix");
    let config = postfix_config(&dir, postfix.port, "cron@x.test");
    let message = "From: root (Cron Daemon)\nTo: ops@y.test\nBcc: audit@y.test\n\
                   Subject: Cron <root@host> backup\nContent-Type: text/plain; charset=UTF-8\n\
                   X-Cron-Env: <SHELL=/bin/sh>\n\nbackup done, 3 files\n.hidden skipped\n.\nnot the end\n";
    let run = Tool::sendmail(&dir)
        .config(&config)
        .args(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "-oi", "-t"])
        .stdin(message.as_bytes())
        .run();
    run.assert_code(0);
    assert_eq!(run.all(), "");

    let got = delivered(&postfix, 1);
    let (id, data) = &got[0];
    assert_eq!(
        envelope(&postfix, id, 2),
        (
            "cron@x.test".into(),
            vec!["audit@y.test".into(), "ops@y.test".into()]
        )
    );
    let sent = without_received(data);
    let (fields, body) = split_message(&sent);
    assert_eq!(
        names(&fields),
        [
            "From",
            "To",
            "Subject",
            "Content-Type",
            "X-Cron-Env",
            "Date",
            "Message-ID"
        ]
    );
    assert!(is_date(field(&fields, "Date").unwrap()));
    assert!(field(&fields, "Message-ID").unwrap().ends_with("@x.test>"));
    assert_eq!(
        String::from_utf8_lossy(&body),
        "backup done, 3 files\n.hidden skipped\n.\nnot the end\n"
    );
    // The log line names the queue id Postfix gave.
    let log = std::fs::read_to_string(dir.join("smtpc.log")).unwrap();
    assert!(
        log.contains(&format!(" result=sent exit=0 queue_id={id} ")),
        "{log}"
    );
}

/// The Debian programs the sendmail tests use.
const GIT: &str = "/usr/bin/git";
const SEND_EMAIL: &str = "/usr/lib/git-core/git-send-email";
const S_NAIL: &str = "/usr/bin/s-nail";

#[test]
fn git_send_email_sends_a_two_patch_series_through_postfix() {
    if !available("git", GIT) || !available("git send-email (git-email)", SEND_EMAIL) {
        return;
    }
    let Some(postfix) = Postfix::start() else {
        return;
    };
    let dir = scratch_dir("git");
    let config = postfix_config(&dir, postfix.port, "unused@x.test");
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new(GIT)
            .args(args)
            .current_dir(&repo)
            .env("HOME", &dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env(CONFIG_VAR, &config)
            .env("GIT_AUTHOR_NAME", "Dev Eloper")
            .env("GIT_AUTHOR_EMAIL", "dev@x.test")
            .env("GIT_COMMITTER_NAME", "Dev Eloper")
            .env("GIT_COMMITTER_EMAIL", "dev@x.test")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "base"]);
    std::fs::write(repo.join("a.txt"), "alpha\n.dot line\n").unwrap();
    git(&["add", "a.txt"]);
    git(&["commit", "-q", "-m", "first: add a"]);
    std::fs::write(repo.join("b.txt"), "beta, ünïcode\n").unwrap();
    git(&["add", "b.txt"]);
    git(&["commit", "-q", "-m", "second: add b"]);
    git(&["format-patch", "-q", "-2", "-o", "../patches"]);
    let link = sendmail_link(&dir);
    // git runs the command with the shell, adding -i and the recipients.
    // (git's exit status is checked: a failed send fails it.)
    git(&[
        "send-email",
        &format!("--sendmail-cmd={} --read-envelope-from", link.display()),
        "--to=list@y.test",
        "--from=Dev Eloper <dev@x.test>",
        "--confirm=never",
        "--suppress-cc=all",
        "--quiet",
        "../patches/0001-first-add-a.patch",
        "../patches/0002-second-add-b.patch",
    ]);

    let got = delivered(&postfix, 2);
    // (subject, queue id, fields, body), in the series' order.
    type Stored = (String, String, Vec<(String, String)>, Vec<u8>);
    let mut by_subject: Vec<Stored> = got
        .iter()
        .map(|(id, data)| {
            let sent = without_received(data);
            let (fields, body) = split_message(&sent);
            let subject = field(&fields, "Subject").unwrap().to_owned();
            (subject, id.clone(), fields, body)
        })
        .collect();
    by_subject.sort();
    assert_eq!(by_subject[0].0, "[PATCH 1/2] first: add a");
    assert_eq!(by_subject[1].0, "[PATCH 2/2] second: add b");
    // git's own Date and Message-Id stay: nothing added, nothing doubled.
    let common = ["From", "To", "Subject", "Date", "Message-Id", "X-Mailer"];
    let mime = ["MIME-Version", "Content-Transfer-Encoding"];
    // The second has 8-bit text, so git names its charset.
    let mime_8bit = ["MIME-Version", "Content-Type", "Content-Transfer-Encoding"];
    let thread = ["In-Reply-To", "References"];
    let expected: [Vec<&str>; 2] = [
        [&common[..], &mime].concat(),
        [&common[..], &thread, &mime_8bit].concat(),
    ];
    for ((_, id, fields, _), expected) in by_subject.iter().zip(expected) {
        assert_eq!(
            envelope(&postfix, id, 1),
            ("dev@x.test".into(), vec!["list@y.test".into()])
        );
        assert_eq!(names(fields), expected);
        assert_eq!(field(fields, "From"), Some("Dev Eloper <dev@x.test>"));
    }
    let first_id = field(&by_subject[0].2, "Message-Id").unwrap().to_owned();
    assert_eq!(
        field(&by_subject[1].2, "In-Reply-To"),
        Some(first_id.as_str())
    );
    // Each body is the patch's, diff and all.
    for (i, name) in ["0001-first-add-a.patch", "0002-second-add-b.patch"]
        .iter()
        .enumerate()
    {
        let patch = std::fs::read(dir.join("patches").join(name)).unwrap();
        let (_, patch_body) = split_message(&patch);
        assert_eq!(
            String::from_utf8_lossy(&by_subject[i].3),
            String::from_utf8_lossy(&patch_body),
            "{name}"
        );
    }
}

#[test]
fn s_nail_sends_through_it_by_its_name_alone() {
    if !available("s-nail", S_NAIL) {
        return;
    }
    let Some(postfix) = Postfix::start() else {
        return;
    };
    let dir = scratch_dir("s-nail");
    let config = postfix_config(&dir, postfix.port, "unused@x.test");
    // s-nail runs its MTA with argv[0] "sendmail": the tool itself, with
    // no symlink, is in the sendmail mode. It passes -i, -F, -f, --.
    let run = Tool::program(S_NAIL)
        .config(&config)
        .env("HOME", &dir)
        .env("MAIL", dir.join("mbox"))
        .args(["-:/", "-S", &format!("mta={BIN}"), "-s", "Nightly report"])
        .args([
            "-r",
            "Reporter <reports@x.test>",
            "ops@y.test",
            "dev@y.test",
        ])
        .stdin("All 42 checks passed.\n.\nStill the body.\n".as_bytes())
        .run();
    run.assert_code(0);
    let got = delivered(&postfix, 1);
    let (id, data) = &got[0];
    assert_eq!(
        envelope(&postfix, id, 2),
        (
            "reports@x.test".into(),
            vec!["dev@y.test".into(), "ops@y.test".into()]
        )
    );
    let sent = without_received(data);
    let (fields, body) = split_message(&sent);
    assert_eq!(field(&fields, "Subject"), Some("Nightly report"));
    assert_eq!(field(&fields, "From"), Some("Reporter <reports@x.test>"));
    assert_eq!(field(&fields, "To"), Some("ops@y.test, dev@y.test"));
    assert_eq!(
        String::from_utf8_lossy(&body),
        "All 42 checks passed.\n.\nStill the body.\n"
    );
}

// ------------------------------------------- a large message through -t

/// The body: lines of varied lengths, repeated.
fn pattern() -> Vec<u8> {
    let mut p = Vec::new();
    for i in 0..997 {
        p.extend_from_slice(format!("line {i:04} ").as_bytes());
        p.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, i % 131));
        p.extend_from_slice(b"\r\n");
    }
    p
}

/// What the streaming server saw.
#[derive(Debug)]
struct Seen {
    commands: Vec<String>,
    header: String,
    body_bytes: u64,
}

/// A server for one big message, without PIPELINING: keeps the commands
/// and the header block, checks the body against the pattern as it
/// streams in (nothing kept), tells the test when the end of data has
/// arrived, and answers it only when the test says so.
fn stream_server(
    listener: TcpListener,
    pattern: Vec<u8>,
    total: u64,
    arrived: mpsc::Sender<Result<Seen, String>>,
    answer: mpsc::Receiver<()>,
) {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + RUN_LIMIT;
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
    stream.set_read_timeout(Some(RUN_LIMIT)).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::with_capacity(1 << 18, stream);
    let mut commands = Vec::new();
    let mut command = |r: &mut BufReader<TcpStream>, w: &mut TcpStream, reply: &str| {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        commands.push(line.trim_end().to_owned());
        w.write_all(reply.as_bytes()).unwrap();
    };
    w.write_all(b"220 big.test ESMTP\r\n").unwrap();
    command(&mut r, &mut w, "250-big.test\r\n250 8BITMIME\r\n");
    command(&mut r, &mut w, "250 2.1.0 Ok\r\n");
    command(&mut r, &mut w, "250 2.1.5 Ok\r\n");
    command(&mut r, &mut w, "250 2.1.5 Ok\r\n");
    command(&mut r, &mut w, "354 go ahead\r\n");
    // The header block, bounded.
    let mut header = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || header.len() > 1 << 16 {
            let _ = arrived.send(Err(format!("no end of the header block: {header}")));
            return;
        }
        if line == "\r\n" {
            break;
        }
        header.push_str(&line);
    }
    // The body: `total` bytes of the pattern, then ".\r\n".
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
    let _ = arrived.send(result.map(|body_bytes| Seen {
        commands: commands.clone(),
        header,
        body_bytes,
    }));
    if ok && answer.recv_timeout(RUN_LIMIT).is_ok() {
        w.write_all(b"250 2.0.0 Ok: queued as BIG1\r\n").unwrap();
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        let _ = w.write_all(b"221 2.0.0 Bye\r\n");
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
fn a_large_message_through_t_from_a_pipe_in_constant_memory() {
    // Generated as it is written to the tool's standard input: nothing on
    // disk. (The 1 GiB figure in docs/sendmail.md is the same path with
    // the release build; this bound holds for any size.)
    const SIZE: u64 = 256 << 20;
    const BOUND_KIB: u64 = 32 << 10;
    let pattern = pattern();
    let repeats = SIZE.div_ceil(pattern.len() as u64);
    let total = repeats * pattern.len() as u64;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (arrived_tx, arrived) = mpsc::channel();
    let (answer, answer_rx) = mpsc::channel();
    let server_pattern = pattern.clone();
    let server = thread::spawn(move || {
        stream_server(listener, server_pattern, total, arrived_tx, answer_rx)
    });

    let dir = scratch_dir("large");
    let mut tool = Tool::sendmail(&dir).args([
        "--server",
        &format!("127.0.0.1:{port}"),
        "--tls",
        "none",
        "--helo",
        "client.test",
        "-f",
        "big@x.test",
        "-t",
    ]);
    tool.cmd.stdin(Stdio::piped());
    let mut child = tool.spawn();
    let mut stdin = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        stdin.write_all(
            b"From: big@x.test\r\nTo: big@y.test\r\nBcc: hidden@y.test\r\nSubject: big\r\n\r\n",
        )?;
        for _ in 0..repeats {
            stdin.write_all(&pattern)?;
        }
        Ok::<(), io::Error>(())
    });
    let pid = child.id();
    let deadline = Instant::now() + RUN_LIMIT;
    let received = loop {
        match arrived.recv_timeout(Duration::from_millis(20)) {
            Ok(received) => break received,
            Err(_) if child.try_wait().unwrap().is_some() => {
                panic!("the tool ended early: {:#?}", finish(child))
            }
            Err(_) if Instant::now() > deadline => panic!("no end of data within {RUN_LIMIT:?}"),
            Err(_) => {}
        }
    };
    // The whole message has gone through the tool, which now waits for
    // the reply: its high-water mark covers the whole transfer.
    let peak = peak_rss_kib(pid);
    answer.send(()).unwrap();
    let run = finish(child);
    writer.join().unwrap().unwrap();
    server.join().unwrap();

    let seen = received.unwrap();
    run.assert_code(0);
    assert_eq!(seen.body_bytes, total);
    assert_eq!(
        seen.commands,
        [
            "EHLO client.test",
            // A stream's late bytes are unknown: 8BITMIME is declared
            // when offered.
            "MAIL FROM:<big@x.test> BODY=8BITMIME",
            "RCPT TO:<big@y.test>",
            "RCPT TO:<hidden@y.test>",
            "DATA"
        ]
    );
    let header: Vec<&str> = seen.header.lines().collect();
    assert_eq!(
        header[..3],
        ["From: big@x.test", "To: big@y.test", "Subject: big"]
    );
    assert!(header[3].starts_with("Date: ") && header[4].starts_with("Message-ID: <"));
    assert_eq!(header.len(), 5, "{header:?}");
    eprintln!("peak RSS of the sendmail mode sending {total} bytes from a pipe: {peak} KiB");
    assert!(
        peak < BOUND_KIB,
        "peak RSS {peak} KiB for a {total}-byte message"
    );
}
