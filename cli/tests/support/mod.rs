//! Running the built tool as a program would: its command line, its
//! environment (no configuration file unless the test writes one), its
//! standard input, its name (`sendmail` through a symlink), and a bound on
//! how long it may take.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_smtpc");
pub const PASSWORD_VAR: &str = "SMTPC_PASSWORD";
pub const CONFIG_VAR: &str = "SMTPC_CONFIG";
/// How long any run of the tool may take before the test gives up on it.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// What a run of the tool left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub out: String,
    pub err: String,
}

impl Run {
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit status; {self:#?}");
        self
    }

    /// Standard output and standard error together.
    pub fn all(&self) -> String {
        format!("{}{}", self.out, self.err)
    }

    /// The `smtpc: ` lines of standard error, without the prefix.
    pub fn errors(&self) -> Vec<&str> {
        self.err
            .lines()
            .filter_map(|l| l.strip_prefix("smtpc: "))
            .collect()
    }
}

/// A directory of its own for one test, under the target directory,
/// emptied first.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("cli-support")
        .join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `dir/sendmail`, a symlink to the tool: what a machine would have as
/// `/usr/sbin/sendmail`.
pub fn sendmail_link(dir: &Path) -> PathBuf {
    let link = dir.join("sendmail");
    if !link.exists() {
        std::os::unix::fs::symlink(BIN, &link).unwrap();
    }
    link
}

/// Writes a file with the given mode.
pub fn write_file(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A command line for a program, with the tool's environment cleared:
/// no SMTPC_PASSWORD, and no configuration file unless one is named.
pub struct Tool {
    pub cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl Tool {
    pub fn program(path: impl AsRef<std::ffi::OsStr>) -> Tool {
        let mut cmd = Command::new(path);
        cmd.env(CONFIG_VAR, "")
            .env_remove(PASSWORD_VAR)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        Tool { cmd, stdin: None }
    }

    /// The tool as `smtpc`.
    pub fn smtpc() -> Tool {
        Tool::program(BIN)
    }

    /// The tool through a symlink named `sendmail` in `dir`.
    pub fn sendmail(dir: &Path) -> Tool {
        Tool::program(sendmail_link(dir))
    }

    pub fn args<S: AsRef<std::ffi::OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Tool {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Tool {
        self.cmd.env(key, value);
        self
    }

    /// Reads this configuration file.
    pub fn config(self, path: &Path) -> Tool {
        self.env(CONFIG_VAR, path)
    }

    pub fn current_dir(mut self, dir: &Path) -> Tool {
        self.cmd.current_dir(dir);
        self
    }

    pub fn stdin(mut self, bytes: &[u8]) -> Tool {
        self.cmd.stdin(Stdio::piped());
        self.stdin = Some(bytes.to_vec());
        self
    }

    pub fn spawn(mut self) -> Child {
        let mut child = self.cmd.spawn().expect("run the program");
        if let Some(bytes) = self.stdin.take() {
            let mut pipe = child.stdin.take().unwrap();
            // The program may stop reading early (and fail): ignore EPIPE.
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        child
    }

    pub fn run(self) -> Run {
        finish(self.spawn())
    }
}

/// Waits for the program (bounded), collecting its output.
pub fn finish(mut child: Child) -> Run {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
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
            panic!("the program did not finish within {RUN_LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let err = err.join().unwrap();
    assert!(!err.contains(&0x1b), "raw ESC on standard error: {err:?}");
    Run {
        code: status.code().expect("exit status, not a signal"),
        out: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        err: String::from_utf8_lossy(&err).into_owned(),
    }
}

/// A port that nothing may connect to during the test.
pub struct Untouched(TcpListener);

impl Untouched {
    pub fn new() -> Untouched {
        Untouched(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.0.local_addr().unwrap().port())
    }

    /// Fails if the tool opened a connection (it has exited, so a
    /// connection it made is waiting in the backlog).
    pub fn assert_untouched(&self) {
        self.0.set_nonblocking(true).unwrap();
        match self.0.accept() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => panic!("the tool connected: {other:?}"),
        }
    }
}

/// The header block and the body of a message as stored (CRLF or LF).
pub fn split_message(data: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
    let text = data.to_vec();
    let (head, body) = match find(&text, b"\r\n\r\n") {
        Some(i) => (&text[..i], text[i + 4..].to_vec()),
        None => match find(&text, b"\n\n") {
            Some(i) => (&text[..i], text[i + 2..].to_vec()),
            None => (&text[..], Vec::new()),
        },
    };
    let head = String::from_utf8_lossy(head).replace("\r\n", "\n");
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push_str(line);
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    (fields, body)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of the first field of this name (case-insensitive).
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The names of the fields, in order.
pub fn names(fields: &[(String, String)]) -> Vec<&str> {
    fields.iter().map(|(n, _)| n.as_str()).collect()
}

/// Whether `value` is an RFC 5322 date as the tool writes it
/// (`Tue, 01 Jul 2025 12:34:56 +0000`).
pub fn is_date(value: &str) -> bool {
    let parts: Vec<&str> = value.split(' ').collect();
    parts.len() == 6
        && ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"].contains(&parts[0])
        && parts[1].len() == 2
        && parts[3].len() == 4
        && parts[4].len() == 8
        && parts[5] == "+0000"
}
