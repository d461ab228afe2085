//! `--password-cmd CMD`: the password or token is the first line that
//! `sh -c CMD` prints, asked for when AUTH needs it, and once more with
//! `SMTPC_RENEW=1` in the command's environment when the server refused
//! the first (an expired OAuth token, a changed password).
//!
//! The command gets no standard input (the message may be coming from
//! it), keeps smtpc's standard error (for its own complaints), and does
//! not see `SMTPC_PASSWORD`. It must finish within the timeout.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use smtpc::Secret;
use zeroize::Zeroizing;

use crate::args::first_line;

/// The most of the command's output read: a token is a few KiB.
const MAX_OUTPUT: u64 = 64 * 1024;

/// Set in the command's environment when the secret must be renewed.
pub const RENEW_VAR: &str = "SMTPC_RENEW";

/// The command, and whether it has failed (which makes the exit status
/// "cannot read the password" rather than "authentication refused").
#[derive(Debug, Clone)]
pub struct PasswordCmd {
    pub command: String,
    pub timeout: Duration,
    pub failed: Arc<AtomicBool>,
}

impl PasswordCmd {
    /// Runs the command; its first line is the secret.
    pub fn secret(&self, renew: bool) -> Result<Secret, String> {
        let result = self.run(renew);
        if result.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        result
    }

    fn run(&self, renew: bool) -> Result<Secret, String> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env_remove(crate::PASSWORD_VAR)
            .env_remove(RENEW_VAR);
        crate::trust::restore(&mut cmd);
        if renew {
            cmd.env(RENEW_VAR, "1");
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run --password-cmd: {e}"))?;
        let deadline = Instant::now() + self.timeout;
        let mut stdout = child.stdout.take().expect("stdout is piped");
        // Read on a thread of its own, so that a command that never ends
        // (or never closes its output) is stopped at the deadline.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            // At its largest size from the start: growing would leave
            // copies of the password in the memory it left.
            let mut out = Zeroizing::new(Vec::with_capacity(MAX_OUTPUT as usize + 1));
            let read = (&mut stdout).take(MAX_OUTPUT).read_to_end(&mut out);
            let _ = tx.send(read.map(|_| out));
        });
        let late = || format!("--password-cmd did not finish within {:?}", self.timeout);
        let output = match rx.recv_timeout(self.timeout) {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cannot read the output of --password-cmd: {e}"));
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(late());
            }
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(late());
                }
                Err(e) => return Err(format!("waiting for --password-cmd: {e}")),
            }
        };
        if !status.success() {
            return Err(format!("--password-cmd failed ({status})"));
        }
        let text = std::str::from_utf8(&output)
            .map_err(|_| "the output of --password-cmd is not UTF-8".to_owned())?;
        let line = first_line(text);
        if line.is_empty() {
            return Err("--password-cmd printed no password".into());
        }
        Ok(Secret::new(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(command: &str) -> PasswordCmd {
        PasswordCmd {
            command: command.into(),
            timeout: Duration::from_secs(10),
            failed: Arc::default(),
        }
    }

    #[test]
    fn the_first_line_and_the_renew_flag() {
        let c = cmd(r#"printf 'tok-%s\nsecond line\n' "${SMTPC_RENEW:-0}""#);
        assert_eq!(c.secret(false).unwrap(), Secret::new("tok-0"));
        assert_eq!(c.secret(true).unwrap(), Secret::new("tok-1"));
        assert!(!c.failed.load(Ordering::Relaxed));
    }

    #[test]
    fn failures_say_why_and_are_noted() {
        for (command, why) in [
            ("exit 3", "--password-cmd failed (exit status: 3)"),
            ("true", "--password-cmd printed no password"),
            (
                "printf '\\377\\n'",
                "the output of --password-cmd is not UTF-8",
            ),
        ] {
            let c = cmd(command);
            assert_eq!(c.secret(false).unwrap_err(), why);
            assert!(c.failed.load(Ordering::Relaxed));
        }
        let mut slow = cmd("exec sleep 30");
        slow.timeout = Duration::from_millis(200);
        assert!(slow.secret(false).unwrap_err().contains("did not finish"));
    }
}
