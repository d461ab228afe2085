//! Real SMTP servers started by the tests on ephemeral loopback ports:
//! aiosmtpd (Python) and a private Postfix instance. Each stops when its
//! guard is dropped, and by itself after a time limit in any case.
//!
//! A missing program skips the test with a message locally, and fails it
//! under CI (`CI=true`), so CI can never pass by skipping.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::certs::pki;

pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

/// Whether `path` exists; if not, a skip locally and a failure under CI.
pub fn available(what: &str, path: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    assert!(
        !in_ci(),
        "{what} ({path}) is missing: .ci/run must install it"
    );
    eprintln!("SKIPPED: {what} ({path}) is not installed here");
    false
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn wait_for_port(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A fresh, empty directory under the system's temp dir, writable by all
/// (smtp-sink writes there as `nobody`).
pub fn scratch_dir(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!(
        "smtpc-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

fn server_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("servers")
        .join(name)
}

/// Files in `dir` with the given extension, sorted, once at least `n` are
/// there (or after 10 s).
pub fn wait_for_files(dir: &Path, ext: &str, n: usize) -> Vec<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| {
            let hidden = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            !hidden && (ext.is_empty() || p.extension().is_some_and(|e| e == ext))
        });
        files.sort();
        if files.len() >= n || Instant::now() >= deadline {
            return files;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// aiosmtpd with STARTTLS (the test PKI's localhost certificate) and AUTH
/// PLAIN/LOGIN for bob/hunter2, saving each message.
pub struct Aiosmtpd {
    child: Child,
    pub port: u16,
    pub save_dir: PathBuf,
}

pub const PYTHON: &str = "/usr/bin/python3";

impl Aiosmtpd {
    pub fn start() -> Option<Aiosmtpd> {
        if !available("python3 for aiosmtpd", PYTHON) {
            return None;
        }
        let has_module = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_module {
            assert!(
                !in_ci(),
                "aiosmtpd is missing: .ci/run must install python3-aiosmtpd"
            );
            eprintln!("SKIPPED: the Python module aiosmtpd is not installed here");
            return None;
        }
        let p = pki();
        let port = free_port();
        let save_dir = scratch_dir("aiosmtpd");
        let child = Command::new(PYTHON)
            .arg(server_script("aiosmtpd_server.py"))
            .args(["--port", &port.to_string(), "--max-seconds", "120"])
            .arg("--cert")
            .arg(&p.server_cert_file)
            .arg("--key")
            .arg(&p.server_key_file)
            .arg("--save-dir")
            .arg(&save_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let server = Aiosmtpd {
            child,
            port,
            save_dir,
        };
        assert!(
            wait_for_port(port, Duration::from_secs(15)),
            "aiosmtpd did not start"
        );
        Some(server)
    }

    /// The saved messages: (metadata lines, content).
    pub fn messages(&self, n: usize) -> Vec<(String, Vec<u8>)> {
        wait_for_files(&self.save_dir, "meta", n)
            .into_iter()
            .map(|meta| {
                let eml = meta.with_extension("eml");
                (
                    std::fs::read_to_string(&meta).unwrap(),
                    std::fs::read(eml).unwrap(),
                )
            })
            .collect()
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.save_dir);
    }
}

/// A private Postfix instance (testkit/servers/postfix.sh): STARTTLS, AUTH
/// PLAIN/LOGIN/CRAM-MD5 for bob@pfx.test/hunter2 after TLS, and every
/// message delivered into `save_dir` under its queue id.
pub struct Postfix {
    pub port: u16,
    pub save_dir: PathBuf,
    dir: PathBuf,
}

pub const POSTFIX_USER: &str = "bob@pfx.test";

impl Postfix {
    pub fn start() -> Option<Postfix> {
        Postfix::start_with(&[])
    }

    /// A Postfix instance with these main.cf lines added (limits:
    /// `smtpd_recipient_limit = 100`, `smtpd_timeout = 2s`...).
    pub fn start_with(extra: &[&str]) -> Option<Postfix> {
        if !available("Postfix", "/usr/lib/postfix/sbin/master")
            || !available("saslpasswd2", "/usr/sbin/saslpasswd2")
        {
            return None;
        }
        if !is_root() {
            assert!(!in_ci(), "the Postfix tests need root");
            eprintln!("SKIPPED: the Postfix instance needs root");
            return None;
        }
        let p = pki();
        let port = free_port();
        let dir = scratch_dir("postfix");
        let save_dir = dir.join("delivered");
        let out = Command::new("bash")
            .arg(server_script("postfix.sh"))
            .arg("start")
            .arg(dir.join("pfx"))
            .arg(port.to_string())
            .arg(&p.server_cert_file)
            .arg(&p.server_key_file)
            .arg(&save_dir)
            .args(["bob", "hunter2", "300"])
            .env("PFX_EXTRA", extra.join("\n"))
            .output()
            .expect("run postfix.sh");
        let server = Postfix {
            port,
            save_dir,
            dir,
        };
        assert!(
            out.status.success(),
            "postfix.sh start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            wait_for_port(port, Duration::from_secs(15)),
            "Postfix did not start"
        );
        Some(server)
    }

    /// The delivered messages (as pipe(8) writes them: LF line endings,
    /// Postfix's Received header on top).
    pub fn messages(&self, n: usize) -> Vec<Vec<u8>> {
        wait_for_files(&self.save_dir, "", n)
            .into_iter()
            .map(|f| std::fs::read(f).unwrap())
            .collect()
    }

    /// The instance's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pfx/maillog")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(server_script("postfix.sh"))
            .arg("stop")
            .arg(self.dir.join("pfx"))
            .output();
        // master exits within a few seconds of `stop`; then clean up.
        thread::sleep(Duration::from_millis(300));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server process that is killed when dropped (and stops by itself
/// after its time limit anyway), with its scratch directory.
pub struct Process {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the child may be `timeout`, which passes
        // SIGTERM on to the server, while SIGKILL would leave the server
        // running without its time limit.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// Postfix's smtp-sink on a free loopback port, dumping every message into
/// a file of its own in `dir`; `extra` adds failure options (`-f RCPT`...).
pub fn smtp_sink(name: &str, extra: &[&str]) -> Option<Process> {
    if !available("Postfix's smtp-sink", SMTP_SINK) {
        return None;
    }
    let dir = scratch_dir(name);
    // smtp-sink cannot report an ephemeral port: take a free one.
    let port = free_port();
    let mut cmd = Command::new("timeout");
    cmd.args(["--kill-after=5", "120", SMTP_SINK]);
    if is_root() {
        cmd.args(["-u", "nobody"]);
    }
    let child = cmd
        .args(extra)
        .arg("-d")
        .arg(dir.join("m."))
        .args(["-h", "sink.test", "-t", "30"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("64")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start smtp-sink");
    let server = Process { child, port, dir };
    // The probe is a session of its own; it stores nothing.
    assert!(
        wait_for_port(port, Duration::from_secs(5)),
        "smtp-sink did not listen"
    );
    Some(server)
}

/// A private Dovecot serving only LMTP (testkit/servers/dovecot.sh), on a
/// loopback port and a UNIX socket. Users alice and bob get their mail in
/// `mailbox(user)`; full is refused after the data (552, over quota),
/// fulltmp too but temporarily (452); anyone else is refused at RCPT
/// (550 5.1.1).
pub struct Dovecot {
    pub port: u16,
    /// The LMTP UNIX socket.
    pub socket: PathBuf,
    dir: PathBuf,
}

pub const DOVECOT: &str = "/usr/sbin/dovecot";

impl Dovecot {
    pub fn start() -> Option<Dovecot> {
        if !available("Dovecot", DOVECOT)
            || !available("Dovecot's LMTP server", "/usr/lib/dovecot/lmtp")
        {
            return None;
        }
        if !is_root() {
            assert!(!in_ci(), "the Dovecot tests need root");
            eprintln!("SKIPPED: the Dovecot instance needs root");
            return None;
        }
        let port = free_port();
        let dir = scratch_dir("dovecot");
        let out = Command::new("bash")
            .arg(server_script("dovecot.sh"))
            .arg("start")
            .arg(&dir)
            .arg(port.to_string())
            .arg("300")
            .output()
            .expect("run dovecot.sh");
        let server = Dovecot {
            port,
            socket: dir.join("run/lmtp"),
            dir,
        };
        assert!(
            out.status.success(),
            "dovecot.sh start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(server)
    }

    /// The messages stored for `user` (alice, bob...), waiting up to a
    /// few seconds for `n` of them.
    pub fn mailbox(&self, user: &str, n: usize) -> Vec<Vec<u8>> {
        let new = self.dir.join("mail").join(user).join("Maildir/new");
        let mut files = wait_for_files(&new, "", n);
        // Dovecot names them "<seconds>.M<microseconds>P<pid>...": in
        // delivery order by those numbers, not as text (M99999 sorts
        // after M100000 as text).
        files.sort_by_key(|f| maildir_order(f));
        files
            .into_iter()
            .map(|f| std::fs::read(f).unwrap())
            .collect()
    }

    /// How many messages are stored for `user` now.
    pub fn count(&self, user: &str) -> usize {
        let new = self.dir.join("mail").join(user).join("Maildir/new");
        std::fs::read_dir(new).map_or(0, |d| d.count())
    }

    /// The instance's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }
}

/// The delivery time in a Maildir file name, `<seconds>.M<microseconds>...`.
fn maildir_order(file: &Path) -> (u64, u64) {
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let (secs, rest) = name.split_once('.').unwrap_or((&name, ""));
    let micros: String = rest
        .strip_prefix('M')
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (secs.parse().unwrap_or(0), micros.parse().unwrap_or(0))
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(server_script("dovecot.sh"))
            .arg("stop")
            .arg(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
