//! Calls into a handle from inside its own callbacks (tests/c/reentry.c):
//! the transcript, read and credentials callbacks each call accessors,
//! setters and actions on their handle (all `SMTPC_BUSY` or their NULL
//! value, the outer call undisturbed), and, in scenarios of their own,
//! free it (deferred to the end of the call). Run natively, under
//! valgrind, and built with AddressSanitizer and UBSan.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::c_api::{command, compile, compile_with, exited, have, root, run, Link};
use crate::support::{greet_ehlo, lines, on_line, quit, script, send, Act, Server};

fn source() -> PathBuf {
    root().join("tests/c/reentry.c")
}

fn exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| compile("reentry", &source(), Link::Dynamic))
}

/// The program built with AddressSanitizer and UBSan, every finding
/// fatal; against the static library, so that smtpc's frames are in the
/// executable ASan watches (its allocations go through the intercepted
/// malloc either way).
fn asan_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        compile_with(
            "reentry-asan",
            &source(),
            Link::Static,
            &[
                "-fsanitize=address,undefined",
                "-fno-sanitize-recover=all",
                "-fno-omit-frame-pointer",
            ],
        )
    })
}

const SCENARIOS: [&str; 6] = [
    "transcript-calls",
    "transcript-free",
    "read-calls",
    "read-free",
    "credentials-calls",
    "credentials-free",
];

/// The server each scenario talks to.
fn server(scenario: &str) -> Server {
    let refused = || {
        script([
            greet_ehlo(&[]),
            on_line("250 2.1.0 Ok"),
            on_line("550 5.1.1 No such user"),
            quit(),
        ])
    };
    let message = || {
        script([
            greet_ehlo(&[]),
            on_line("250 2.1.0 Ok"),
            on_line("250 2.1.5 Ok"),
            on_line("354 Go ahead"),
            vec![Act::Data, send("250 2.0.0 Ok: queued as Q1")],
            quit(),
        ])
    };
    let auth = || script([greet_ehlo(&["AUTH PLAIN"]), on_line("235 2.7.0 Ok"), quit()]);
    Server::start(match scenario {
        "transcript-calls" | "transcript-free" => refused(),
        "read-calls" | "read-free" => message(),
        _ => auth(),
    })
}

/// Runs every scenario in one process (`cmd` is the program, perhaps
/// under valgrind) and checks what each server was sent: the outer
/// call's commands only, each exactly once, and QUIT at the end even
/// when the handle was freed from a callback.
fn all_scenarios(mut cmd: std::process::Command) {
    let servers: Vec<Server> = SCENARIOS.iter().map(|s| server(s)).collect();
    for (s, server) in SCENARIOS.iter().zip(&servers) {
        cmd.arg(format!("{s}={}", server.port()));
    }
    let out = run(cmd);
    let (stdout, stderr) = exited(&out, 0);
    for s in SCENARIOS {
        assert!(stdout.contains(&format!("{s} ok\n")), "{stdout}\n{stderr}");
    }
    for (s, server) in SCENARIOS.iter().zip(servers) {
        let sent = lines(&server.received());
        let commands: Vec<&str> = sent
            .iter()
            .map(|l| l.split([' ', ':']).next().unwrap_or(""))
            .collect();
        let want: &[&str] = match *s {
            "transcript-calls" | "transcript-free" => &["EHLO", "MAIL", "RCPT", "QUIT"],
            "read-calls" | "read-free" => &[
                "EHLO", "MAIL", "RCPT", "DATA", "Subject", "", "the", ".", "QUIT",
            ],
            _ => &["EHLO", "AUTH", "QUIT"],
        };
        assert_eq!(commands, want, "{s}: {sent:?}");
        if s.starts_with("read") {
            assert_eq!(sent[6], "the content, untouched", "{s}");
        }
        if s.starts_with("transcript") {
            assert_eq!(sent[2], "RCPT TO:<nobody@y.test>", "{s}");
        }
    }
}

#[test]
fn c_calls_from_callbacks_are_busy_and_free_is_deferred() {
    all_scenarios(command(exe(), false));
}

#[test]
fn c_calls_from_callbacks_are_clean_under_valgrind() {
    if have("valgrind") {
        all_scenarios(command(exe(), true));
    }
}

#[test]
fn c_calls_from_callbacks_are_clean_under_asan_and_ubsan() {
    let mut cmd = command(asan_exe(), false);
    // Leaks too: a deferred free that never happened is one.
    cmd.env(
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:exitcode=23",
    )
    .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
    all_scenarios(cmd);
}
