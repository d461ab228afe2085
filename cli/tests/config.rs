//! The configuration file as a user writes it: where it is looked for,
//! accounts chosen by name and by sender, the command line over the file,
//! passwords (inline, a command, a file) and a file others can read,
//! `--print-config`, the log, and mistakes. Against mailin-embedded (with
//! STARTTLS and AUTH where a password is involved).

mod support;

use std::path::{Path, PathBuf};

use testkit::certs::pki;
use testkit::*;

use support::*;

fn config_in(dir: &Path, text: &str, mode: u32) -> PathBuf {
    let path = dir.join("config.toml");
    write_file(&path, text, mode);
    path
}

const MSG: &str = "Subject: config\r\n\r\nHello.\r\n";

#[test]
fn the_file_is_looked_for_in_smtpc_config_then_xdg_then_home() {
    let dir = scratch_dir("locate");
    let xdg = dir.join("xdg");
    let home = dir.join("home");
    std::fs::create_dir_all(xdg.join("smtpc")).unwrap();
    std::fs::create_dir_all(home.join(".config/smtpc")).unwrap();
    let xdg_file = xdg.join("smtpc/config.toml");
    let home_file = home.join(".config/smtpc/config.toml");
    let named = dir.join("named.toml");
    write_file(&xdg_file, "[defaults]\nserver = \"xdg.test\"\n", 0o644);
    write_file(&home_file, "[defaults]\nserver = \"home.test\"\n", 0o644);
    write_file(&named, "[defaults]\nserver = \"named.test\"\n", 0o644);

    let print = |tool: Tool| {
        let run = tool.args(["--print-config"]).run();
        run.assert_code(0);
        run.out
    };
    let out = print(
        Tool::smtpc()
            .env(CONFIG_VAR, &named)
            .env("XDG_CONFIG_HOME", &xdg)
            .env("HOME", &home),
    );
    assert!(
        out.contains(&format!("# configuration file: {}\n", named.display())),
        "{out}"
    );
    assert!(out.contains("server = \"named.test\"\n"), "{out}");

    let mut tool = Tool::smtpc()
        .env("XDG_CONFIG_HOME", &xdg)
        .env("HOME", &home);
    tool.cmd.env_remove(CONFIG_VAR);
    let out = print(tool);
    assert!(
        out.contains(&format!("# configuration file: {}\n", xdg_file.display())),
        "{out}"
    );
    assert!(out.contains("server = \"xdg.test\"\n"), "{out}");

    let mut tool = Tool::smtpc().env("HOME", &home);
    tool.cmd
        .env_remove(CONFIG_VAR)
        .env_remove("XDG_CONFIG_HOME");
    let out = print(tool);
    assert!(out.contains("server = \"home.test\"\n"), "{out}");

    // Set but empty: no file at all.
    let out = print(Tool::smtpc().env("XDG_CONFIG_HOME", &xdg));
    assert!(out.starts_with("# no configuration file\n"), "{out}");
    assert!(
        out.contains("server = \"localhost\"\nport = 587\ntls = \"starttls\"\n"),
        "{out}"
    );

    // Named but missing: an error, not a silent default.
    let run = Tool::smtpc()
        .env(CONFIG_VAR, dir.join("missing.toml"))
        .args(["--from", "a@x.test", "--to", "b@y.test"])
        .run();
    run.assert_code(66);
    assert_eq!(run.errors().len(), 1);
    assert!(
        run.errors()[0].starts_with("cannot read the configuration file"),
        "{}",
        run.err
    );
}

#[test]
fn accounts_are_chosen_by_name_by_sender_and_by_default() {
    let dir = scratch_dir("accounts");
    let (work_port, work) = mailin();
    let (home_port, home) = mailin();
    let config = config_in(
        &dir,
        &format!(
            "[defaults]\ntls = \"none\"\nhelo = \"client.test\"\ntimeout = 10\naccount = \"home\"\n\n\
             [account.work]\nfrom = \"*@work.test\"\nserver = \"127.0.0.1:{work_port}\"\n\n\
             [account.home]\nfrom = \"me@home.test\"\nserver = \"127.0.0.1\"\nport = {home_port}\n"
        ),
        0o644,
    );
    let smtpc = |args: &[&str]| {
        Tool::smtpc()
            .config(&config)
            .args(args)
            .stdin(MSG.as_bytes())
            .run()
            .assert_code(0)
            .out
            .clone()
    };
    // By the sender (normal mode).
    smtpc(&["--from", "Anne@Work.Test", "--to", "b@y.test"]);
    // By name, whatever the sender.
    smtpc(&[
        "--account",
        "work",
        "--from",
        "me@home.test",
        "--to",
        "c@y.test",
    ]);
    // Neither: the default account, whose from is the sender.
    smtpc(&["--to", "d@y.test"]);
    // A sender no pattern matches: the default account too.
    smtpc(&["--from", "x@else.test", "--to", "e@y.test"]);
    // The sendmail mode: by -f, and by the From header.
    let sendmail = |args: &[&str], message: &str| {
        Tool::sendmail(&dir)
            .config(&config)
            .args(args)
            .stdin(message.as_bytes())
            .run()
            .assert_code(0);
    };
    sendmail(&["-f", "bob@work.test", "-i", "f@y.test"], MSG);
    sendmail(
        &["--read-envelope-from", "-t", "-i"],
        "From: Bob <bob@work.test>\nTo: g@y.test\n\nhi\n",
    );

    let got = |store: &std::sync::Arc<std::sync::Mutex<Vec<Received>>>| {
        store
            .lock()
            .unwrap()
            .iter()
            .map(|m| (m.from.clone(), m.to.join(",")))
            .collect::<Vec<_>>()
    };
    let pair = |f: &str, t: &str| (f.to_owned(), t.to_owned());
    assert_eq!(
        got(&work),
        [
            pair("Anne@Work.Test", "b@y.test"),
            pair("me@home.test", "c@y.test"),
            pair("bob@work.test", "f@y.test"),
            pair("bob@work.test", "g@y.test"),
        ]
    );
    assert_eq!(
        got(&home),
        [
            pair("me@home.test", "d@y.test"),
            pair("x@else.test", "e@y.test")
        ]
    );

    // --print-config says which and why.
    let run = Tool::smtpc()
        .config(&config)
        .args(["--print-config", "--from", "z@work.test"])
        .run();
    run.assert_code(0);
    assert!(
        run.out
            .contains("# account: work (its from matches the sender)\n"),
        "{}",
        run.out
    );
    assert!(
        run.out.contains(&format!("port = {work_port}\n")),
        "{}",
        run.out
    );
    let run = Tool::smtpc().config(&config).args(["--print-config"]).run();
    assert!(
        run.out.contains("# account: home (the default account)\n"),
        "{}",
        run.out
    );
    assert!(run.out.contains("from = \"me@home.test\"\n"), "{}", run.out);

    // An account that is not there.
    let run = Tool::smtpc()
        .config(&config)
        .args(["--account", "play", "--to", "b@y.test"])
        .run();
    run.assert_code(64);
    assert_eq!(
        run.errors(),
        [format!(
            "no account \"play\" in {} (its accounts: work, home)",
            config.display()
        )]
    );
}

#[test]
fn the_command_line_overrides_the_file() {
    let dir = scratch_dir("override");
    let idle = Untouched::new();
    let (port, store) = mailin();
    let config = config_in(
        &dir,
        &format!(
            "[defaults]\nserver = \"{}\"\ntls = \"implicit\"\nhelo = \"file.test\"\n\
             timeout = 7\nfrom = \"file@x.test\"\n",
            idle.server()
        ),
        0o644,
    );
    let run = Tool::smtpc()
        .config(&config)
        .args(["--server", &format!("127.0.0.1:{port}"), "--tls", "none"])
        .args([
            "--helo",
            "cli.test",
            "--timeout",
            "5",
            "--from",
            "cli@x.test",
        ])
        .args(["--to", "b@y.test", "--print-config"])
        .run();
    run.assert_code(0);
    let expected = format!(
        "server = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nhelo = \"cli.test\"\n\
         timeout = 5\nfrom = \"cli@x.test\"\n"
    );
    assert!(run.out.ends_with(&expected), "{}", run.out);
    Tool::smtpc()
        .config(&config)
        .args(["--server", &format!("127.0.0.1:{port}"), "--tls", "none"])
        .args(["--to", "b@y.test"])
        .stdin(MSG.as_bytes())
        .run()
        .assert_code(0);
    let got = store.lock().unwrap().clone();
    assert_eq!(
        got[0].from, "file@x.test",
        "what the command line left alone"
    );
    idle.assert_untouched();
}

/// A configuration for mailin with STARTTLS and AUTH: the CA file beside
/// it (a relative path), and `password_line` as the password's source.
fn auth_config(dir: &Path, port: u16, password_line: &str, mode: u32) -> PathBuf {
    std::fs::copy(&pki().ca_file, dir.join("ca.pem")).unwrap();
    config_in(
        dir,
        &format!(
            "[defaults]\naccount = \"main\"\n\n[account.main]\nserver = \"127.0.0.1:{port}\"\n\
             tls = \"starttls\"\nca_file = \"ca.pem\"\nhelo = \"client.test\"\nuser = \"{MAILIN_USER}\"\n\
             {password_line}\nfrom = \"me@x.test\"\ntimeout = 10\n"
        ),
        mode,
    )
}

#[test]
fn passwords_from_the_file_a_command_or_a_file_never_shown() {
    let dir = scratch_dir("passwords");
    let (port, store) = mailin_with(true);
    write_file(
        &dir.join("pw"),
        &format!("{MAILIN_PASSWORD}\nnot this\n"),
        0o600,
    );
    for source in [
        format!("password = \"{MAILIN_PASSWORD}\""),
        // The first line of its output: the file has a second line.
        format!("password_cmd = \"cat '{}'\"", dir.join("pw").display()),
        "password_file = \"pw\"".to_owned(),
    ] {
        let config = auth_config(&dir, port, &source, 0o600);
        let run = Tool::sendmail(&dir)
            .config(&config)
            .args(["-v", "-i", "b@y.test"])
            .stdin(MSG.as_bytes())
            .run();
        run.assert_code(0);
        assert!(
            run.err.contains("\nC: AUTH PLAIN <redacted>\n"),
            "{source}: {}",
            run.err
        );
        assert!(
            !run.all().contains(MAILIN_PASSWORD),
            "{source}: {}",
            run.all()
        );
        let printed = Tool::smtpc().config(&config).args(["--print-config"]).run();
        printed.assert_code(0);
        assert!(!printed.out.contains(MAILIN_PASSWORD), "{}", printed.out);
        assert!(printed
            .out
            .contains(&format!("ca_file = \"{}\"", dir.join("ca.pem").display())));
    }
    assert_eq!(store.lock().unwrap().len(), 3);
    let config = auth_config(
        &dir,
        port,
        &format!("password = \"{MAILIN_PASSWORD}\""),
        0o600,
    );
    let printed = Tool::smtpc().config(&config).args(["--print-config"]).run();
    assert!(
        printed.out.contains("password = \"<redacted>\"\n"),
        "{}",
        printed.out
    );

    // A command that fails: one line, nothing sent.
    let config = auth_config(&dir, port, "password_cmd = \"exit 3\"", 0o600);
    let run = Tool::smtpc()
        .config(&config)
        .args(["--to", "b@y.test"])
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
    // password_cmd is --password-cmd: run when AUTH needs it, and again
    // with SMTPC_RENEW=1 when the server refused what it printed.
    let renewing = "password_cmd = '''if [ -n \"$SMTPC_RENEW\" ]; then cat pw; \
                    else echo expired; fi'''";
    let config = auth_config(&dir, port, renewing, 0o600);
    let run = Tool::sendmail(&dir)
        .config(&config)
        .current_dir(&dir)
        .args(["-v", "-i", "b@y.test"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(0);
    assert_eq!(
        run.err.matches("\nC: AUTH PLAIN <redacted>\n").count(),
        2,
        "{}",
        run.err
    );
    assert!(run.err.contains("\nS: 535 "), "{}", run.err);
    assert!(!run.all().contains(MAILIN_PASSWORD));
    // SMTPC_PASSWORD over the file; a wrong one is refused.
    let config = auth_config(
        &dir,
        port,
        &format!("password = \"{MAILIN_PASSWORD}\""),
        0o600,
    );
    let run = Tool::smtpc()
        .config(&config)
        .env(PASSWORD_VAR, "Wr0ng")
        .args(["--to", "b@y.test"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(77);
    assert_eq!(store.lock().unwrap().len(), 4);
}

#[test]
fn a_password_in_a_file_others_can_read_is_refused() {
    let dir = scratch_dir("open-file");
    let idle = Untouched::new();
    let port: u16 = idle.server().rsplit(':').next().unwrap().parse().unwrap();
    for mode in [0o644, 0o640, 0o604] {
        let config = auth_config(&dir, port, "password = \"s3cr3t-value\"", mode);
        for tool in [
            Tool::smtpc().args(["--to", "b@y.test"]),
            Tool::sendmail(&dir).args(["-i", "b@y.test"]),
            Tool::smtpc().args(["--print-config"]),
        ] {
            let run = tool.config(&config).stdin(MSG.as_bytes()).run();
            run.assert_code(78);
            assert_eq!(run.out, "");
            assert_eq!(
                run.errors(),
                [format!(
                    "{} holds a password and other users may read it (mode {mode:03o}): \
                     chmod 600 it, or use password_cmd or password_file",
                    config.display()
                )]
            );
            assert!(!run.all().contains("s3cr3t"));
        }
    }
    // A command or a file is not a secret in the file: any mode will do.
    let config = auth_config(&dir, port, "password_cmd = \"cat pw\"", 0o644);
    Tool::smtpc()
        .config(&config)
        .args(["--print-config"])
        .run()
        .assert_code(0);
    idle.assert_untouched();
}

#[test]
fn mistakes_in_the_file_are_exit_78_with_their_place() {
    let dir = scratch_dir("mistakes");
    let idle = Untouched::new();
    let cases = [
        (
            "[defaults]\nserver = \"x\"\nsever = \"y\"\n",
            ":3:1: unknown field `sever`",
        ),
        (
            "[account.a]\ntls = \"always\"\n",
            "[account.a]: tls: \"always\" is not one of",
        ),
        (
            "[defaults]\naccount = \"nope\"\n",
            "[defaults]: account \"nope\" is not defined",
        ),
        ("[defaults\n", ":1:"),
    ];
    for (text, expected) in cases {
        let config = config_in(&dir, text, 0o600);
        let run = Tool::smtpc()
            .config(&config)
            .args([
                "--server",
                &idle.server(),
                "--from",
                "a@x.test",
                "--to",
                "b@y.test",
            ])
            .run();
        run.assert_code(78);
        assert_eq!(run.errors().len(), 1, "{}", run.err);
        let error = run.errors()[0];
        assert!(error.starts_with(&config.display().to_string()), "{error}");
        assert!(error.contains(expected), "{text:?}: {error}");
    }
    // A file others may change could name any password_cmd.
    let config = config_in(&dir, "[defaults]\npassword_cmd = \"cat pw\"\n", 0o664);
    let run = Tool::smtpc()
        .config(&config)
        .args([
            "--server",
            &idle.server(),
            "--from",
            "a@x.test",
            "--to",
            "b@y.test",
        ])
        .run();
    run.assert_code(78);
    assert_eq!(
        run.errors(),
        [format!(
            "{} can be changed by other users (mode 664): chmod go-w it",
            config.display()
        )]
    );
    // --account without any file.
    let run = Tool::smtpc()
        .args(["--account", "a", "--from", "a@x.test", "--to", "b@y.test"])
        .run();
    run.assert_code(64);
    assert!(
        run.errors()[0].starts_with("--account needs a configuration file"),
        "{}",
        run.err
    );
    idle.assert_untouched();
}

#[test]
fn the_log_has_a_line_per_message_and_no_secret() {
    let dir = scratch_dir("log");
    let (port, _store) = mailin_with(true);
    let config = auth_config(
        &dir,
        port,
        &format!("password = \"{MAILIN_PASSWORD}\"\nlog = \"sent.log\""),
        0o600,
    );
    Tool::sendmail(&dir)
        .config(&config)
        .args(["-i", "b@y.test", "c@y.test"])
        .stdin(MSG.as_bytes())
        .run()
        .assert_code(0);
    // A failure: nothing listens on the port any more.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let run = Tool::sendmail(&dir)
        .config(&config)
        .args(["--server", &format!("127.0.0.1:{closed}"), "-i", "d@y.test"])
        .stdin(MSG.as_bytes())
        .run();
    run.assert_code(75);
    assert_eq!(run.errors().len(), 1, "{}", run.err);

    let log = std::fs::read_to_string(dir.join("sent.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    let fields = |line: &str| line.split(' ').map(str::to_owned).collect::<Vec<_>>();
    let first = fields(lines[0]);
    assert!(
        first[0].ends_with('Z') && first[0].len() == 20,
        "{}",
        lines[0]
    );
    assert_eq!(
        first[1..7],
        [
            "account=main".to_owned(),
            format!("server=127.0.0.1:{port}"),
            "from=<me@x.test>".into(),
            "recipients=<b@y.test>,<c@y.test>".into(),
            "result=sent".into(),
            "exit=0".into(),
        ]
    );
    assert!(lines[0].ends_with(" reply=\"250 OK\""), "{}", lines[0]);
    let second = fields(lines[1]);
    assert_eq!(
        second[1..7],
        [
            "account=main".to_owned(),
            format!("server=127.0.0.1:{closed}"),
            "from=<me@x.test>".into(),
            "recipients=<d@y.test>".into(),
            "result=failed".into(),
            "exit=75".into(),
        ]
    );
    assert!(
        lines[1].contains(" error=\"connecting to 127.0.0.1:"),
        "{}",
        lines[1]
    );
    assert!(
        !log.contains(MAILIN_PASSWORD) && !log.contains(MAILIN_USER),
        "{log}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("sent.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the log is the user's alone: {mode:o}");
}
