//! The system's CA bundle: never opened with `--ca-file`, read once with
//! the system's roots. Seen by `strace` (the files the tool opens), with
//! `SSL_CERT_FILE` naming a bundle of the test's own, which holds the test
//! CA: the run without `--ca-file` can only succeed by reading it.

use super::*;

const STRACE: &str = "/usr/bin/strace";

/// One STARTTLS session under strace; returns the run and the lines of
/// the trace that open `bundle`, or None when strace is missing here.
fn traced(name: &str, ca_file: bool) -> Option<(Run, Vec<String>)> {
    if !testkit::real::available("strace", STRACE) {
        return None;
    }
    let dir = pki().dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = dir.join("system-bundle.pem");
    std::fs::write(&bundle, &pki().ca_pem).unwrap();
    let trace = dir.join("trace");
    let server = Server::start(script([
        greet_ehlo(&["STARTTLS"]),
        on_line("220 2.0.0 Ready to start TLS"),
        vec![Act::Tls(pki().server.server_config())],
        on_line("250 mail.test"),
        transaction(1),
        quit(),
    ]));
    let mut cmd = Command::new(STRACE);
    cmd.args(["-f", "-qq", "-e", "trace=open,openat", "-o"])
        .arg(&trace)
        .arg(BIN)
        .env(CONFIG_VAR, "")
        .env("SSL_CERT_FILE", &bundle);
    let mut tool = Smtpc::wrapped(cmd).args([
        "--server",
        &format!("127.0.0.1:{}", server.port()),
        "--helo",
        "client.test",
        "--timeout",
        "5",
        "--from",
        "a@x.test",
        "--to",
        "b@y.test",
    ]);
    if ca_file {
        tool = tool.arg("--ca-file").arg_path(&pki().ca_file);
    }
    let run = tool.stdin(MSG.as_bytes()).run();
    server.received();
    let shown = bundle.display().to_string();
    let opens = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains(&shown) || l.contains("ca-certificates.crt"))
        .map(str::to_owned)
        .collect();
    Some((run, opens))
}

#[test]
fn with_a_ca_file_the_system_bundle_is_never_opened() {
    let Some((run, opens)) = traced("trust-ca-file", true) else {
        return;
    };
    run.assert_code(0);
    assert_eq!(opens, Vec::<String>::new());
}

#[test]
fn with_the_system_roots_the_bundle_is_read_once() {
    let Some((run, opens)) = traced("trust-system", false) else {
        return;
    };
    run.assert_code(0);
    assert_eq!(opens.len(), 1, "{opens:#?}");
}
