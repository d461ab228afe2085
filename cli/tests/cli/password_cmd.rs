//! `--password-cmd`: a token refused and renewed (the command run again
//! with SMTPC_RENEW=1), the command's environment free of secrets, a
//! failing command (exit 66), and `--auth SCRAM-SHA-256` against the
//! private Postfix with the trace shown.

use base64::Engine as _;

use super::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A command that prints `tok-old`, or `tok-new` when asked to renew,
/// and writes its environment to `dir/env.N` (N: 0 first, 1 on renewal).
fn token_command(dir: &std::path::Path) -> String {
    format!(
        r#"n=${{SMTPC_RENEW:-0}}; env > "{}/env.$n"; if [ "$n" = 1 ]; then echo tok-new; else echo tok-old; fi"#,
        dir.display()
    )
}

fn xoauth2(token: &str) -> String {
    B64.encode(format!("user=me@x.test\x01auth=Bearer {token}\x01\x01"))
}

#[test]
fn a_refused_token_is_renewed_by_running_the_command_again() {
    let server = Server::start(script([
        greet_ehlo(&["AUTH XOAUTH2"]),
        on_line(&format!(
            "334 {}",
            B64.encode(r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#)
        )),
        on_line("535 5.7.8 Username and Password not accepted"),
        on_line("235 2.7.0 Accepted"),
        transaction(1),
        quit(),
    ]));
    let dir = std::env::temp_dir().join(format!("smtpc-password-cmd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = Smtpc::plain(server.port())
        .args(["--user", "me@x.test", "--auth", "xoauth2"])
        .args(["--allow-insecure-auth", "--trace", "--password-cmd"])
        .args([token_command(&dir)])
        .env(PASSWORD_VAR, "parent-secret")
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(0);
    eprintln!("{}", run.err);
    assert_eq!(
        run.err.matches("\nC: AUTH XOAUTH2 <redacted>\n").count(),
        2,
        "{}",
        run.err
    );
    assert!(
        run.err.contains(
            "\n   AUTH XOAUTH2 refused: asking the credentials provider for a new secret\n"
        ),
        "{}",
        run.err
    );
    for secret in ["tok-old", "tok-new", "parent-secret"] {
        assert!(!run.all().contains(secret), "{secret} shown: {}", run.all());
        assert!(!run.all().contains(&xoauth2(secret)), "{secret} shown");
    }
    let wire = server.text();
    assert!(wire.contains(&xoauth2("tok-old")) && wire.contains(&xoauth2("tok-new")));
    // The command's environment: no SMTPC_PASSWORD, no secret; the
    // renewal flag only the second time.
    let first = std::fs::read_to_string(dir.join("env.0")).unwrap();
    let second = std::fs::read_to_string(dir.join("env.1")).unwrap();
    for env in [&first, &second] {
        assert!(
            !env.contains(PASSWORD_VAR) && !env.contains("parent-secret"),
            "{env}"
        );
        assert!(!env.contains("tok-old"), "{env}");
    }
    assert!(!first.contains("SMTPC_RENEW"), "{first}");
    assert!(second.lines().any(|l| l == "SMTPC_RENEW=1"), "{second}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failing_password_command_exits_66() {
    let server = Server::start(script([greet_ehlo(&["AUTH PLAIN"]), quit()]));
    let run = Smtpc::plain(server.port())
        .args(["--user", "bob", "--allow-insecure-auth"])
        .args(["--password-cmd", "echo oops >&2; exit 3"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(66);
    assert_eq!(
        run.errors(),
        [
            "AUTH: the credentials provider failed (getting the secret): \
          --password-cmd failed (exit status: 3)"
        ]
    );
    assert!(
        run.err.starts_with("oops\n"),
        "its standard error is shown: {}",
        run.err
    );
    assert_eq!(server.text(), "EHLO client.test\r\nQUIT\r\n");
}

#[test]
fn password_cmd_and_password_file_do_not_go_together() {
    let run = Smtpc::plain(1)
        .args([
            "--user",
            "bob",
            "--password-cmd",
            "echo x",
            "--password-file",
            "/dev/null",
        ])
        .run();
    run.assert_code(64);
    assert!(run.err.contains("cannot be used with"), "{}", run.err);
}

#[test]
fn scram_sha_256_to_postfix_with_the_trace() {
    let Some(server) = real::Postfix::start() else {
        return;
    };
    let run = Smtpc::new()
        .args(["--server", &format!("127.0.0.1:{}", server.port)])
        .args(["--ca-file", &pki().ca_file.display().to_string()])
        .args(["--helo", "client.test", "--timeout", "20"])
        .args(["--from", "a@x.test", "--to", "b@y.test", "--trace"])
        .args(["--user", real::POSTFIX_USER, "--auth", "scram-sha-256"])
        .args(["--password-cmd", "echo hunter2"])
        .stdin(MSG.as_bytes())
        .run();
    eprintln!("{}", run.err);
    run.assert_code(0);
    assert!(
        run.err.contains("\nC: AUTH SCRAM-SHA-256 <redacted>\n"),
        "{}",
        run.err
    );
    assert!(run
        .err
        .contains("\nS: 235 2.7.0 Authentication successful\n"));
    // The client's two responses, both redacted; the server-first message
    // (nonce, salt, count) is shown, the server's signature (derived from
    // the password) is not.
    assert_eq!(
        run.err.matches("\nC: <redacted>\n").count(),
        2,
        "{}",
        run.err
    );
    assert!(
        run.err
            .contains("\nS: 334 <redacted>\nC: <redacted>\nS: 235 "),
        "{}",
        run.err
    );
    assert!(!run.all().contains("hunter2"));
    assert!(
        run.out.starts_with("250 2.0.0 Ok") && run.out.contains("queued as"),
        "{}",
        run.out
    );
    assert_eq!(server.messages(1).len(), 1);
}
