//! `password_cmd` from the configuration file: the password is the first
//! line of a command's standard output (`sh -c`, as `--password-cmd` of
//! issue 16 will do; this stands in for it until it lands, and goes
//! when the configuration key can hand the command to that option).

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::args::first_line;

/// Runs `cmd` with `sh -c` (standard error passed through, so that a
/// keyring's prompt or complaint reaches the user) and returns the first
/// line of its output. A command that runs longer than `limit` is killed.
/// The error says what went wrong, never what the command printed.
pub fn run(cmd: &str, limit: Duration) -> Result<String, String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let mut stdout = child.stdout.take().expect("piped");
    // Bounded: a password is one line, not a file.
    let reader = thread::spawn(move || {
        let mut text = Vec::new();
        let _ = (&mut stdout).take(64 * 1024).read_to_end(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the command did not finish within {limit:?}"));
            }
            Err(e) => return Err(format!("waiting for the command: {e}")),
        }
    };
    let output = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("the command failed ({status})"));
    }
    let text = String::from_utf8(output).map_err(|_| "the output is not UTF-8".to_owned())?;
    let password = first_line(&text);
    if password.is_empty() {
        return Err("the command printed no password".into());
    }
    Ok(password.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(10);

    #[test]
    fn the_first_line_is_the_password() {
        assert_eq!(run("printf 'hunter2\\nrest\\n'", LIMIT).unwrap(), "hunter2");
        assert_eq!(run("printf 'crlf\\r\\n'", LIMIT).unwrap(), "crlf");
        assert_eq!(run("printf 'no newline'", LIMIT).unwrap(), "no newline");
    }

    #[test]
    fn failures_say_why_without_the_output() {
        let e = run("echo s3cret; exit 3", LIMIT).unwrap_err();
        assert!(e.contains("failed"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
        assert!(run("true", LIMIT).unwrap_err().contains("no password"));
        let e = run("sleep 5", Duration::from_millis(200)).unwrap_err();
        assert!(e.contains("did not finish"), "{e}");
    }
}
