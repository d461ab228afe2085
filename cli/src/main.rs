//! `smtpc`: sends one message to an SMTP server from the command line and
//! says what the server answered, with the exit status a script needs
//! (sysexits.h). A thin layer over the library's public API: the protocol
//! lives in the library, this file only strings options together.
//!
//! ```text
//! smtpc [OPTIONS] --from ADDR --to ADDR [--to ADDR ...] [FILE]
//! ```

mod args;
mod exit;
mod password_cmd;
mod trace;

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::error::ErrorKind;
use clap::Parser;
use smtpc::{
    Client, Delivery, Envelope, Error, MessageFile, Proxy, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT,
};

use args::Args;
use exit::{Context, Exit};
use password_cmd::PasswordCmd;
use trace::{out, say};

/// Where the password for `--user` comes from when no file is named.
pub(crate) const PASSWORD_VAR: &str = "SMTPC_PASSWORD";

fn main() -> ExitCode {
    match Args::try_parse() {
        Ok(args) => run(&args).into(),
        Err(e) => {
            let _ = e.print();
            match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => Exit::Usage.into(),
            }
        }
    }
}

/// Checks and reads everything local first (so that a bad address or an
/// unreadable file fails before any connection), then connects and sends.
fn run(args: &Args) -> Exit {
    if args.password.is_some() {
        say(format!(
            "a password is not taken on the command line, where every user of the machine \
             can see it: set {PASSWORD_VAR}, or use --password-file or --password-cmd"
        ));
        return Exit::Usage;
    }
    // --password-cmd runs when AUTH needs it; the others are read now.
    let password = match &args.user {
        Some(_) if args.password_cmd.is_some() => None,
        Some(_) => match password(args) {
            Ok(p) => Some(p),
            Err(exit) => return exit,
        },
        None => None,
    };
    let ca = match &args.ca_file {
        Some(path) => match std::fs::read(path) {
            Ok(pem) => Some(pem),
            Err(e) => {
                say(format!("cannot read the CA file {}: {e}", path.display()));
                return Exit::NoInput;
            }
        },
        None => None,
    };
    let envelope = match Envelope::new(args.from.as_str(), args.to.iter().map(String::as_str)) {
        Ok(envelope) => envelope,
        Err(e) => return failed(&e, Context::default()),
    };
    let mut message = match open_message(args.file.as_deref()) {
        Ok(opened) => opened,
        Err(message) => {
            say(message);
            return Exit::NoInput;
        }
    };

    let proxy = match &args.proxy {
        Some(proxy) => match proxy_with_password(proxy) {
            Ok(p) => Some(p),
            Err(exit) => return exit,
        },
        None => None,
    };
    // The whole run, from here to the exit.
    let deadline = args.deadline.and_then(|d| Instant::now().checked_add(d));

    let connected = Arc::new(AtomicBool::new(false));
    let mut builder = Client::builder(args.server.host.as_str())
        .tls(args.tls.into())
        .transcript(trace::hook(args.trace, connected.clone()));
    if let Some(timeout) = args.timeout {
        builder = builder.timeout(timeout);
    }
    let connect_timeout = match (args.connect_timeout, args.timeout) {
        (Some(t), _) => t,
        (None, Some(t)) => t.min(DEFAULT_CONNECT_TIMEOUT),
        (None, None) => DEFAULT_CONNECT_TIMEOUT,
    };
    builder = builder.connect_timeout(connect_timeout);
    if let Some(deadline) = deadline {
        builder = builder.deadline(deadline);
    }
    if let Some(ip) = args.source_ip {
        builder = builder.local_address(ip);
    }
    if let Some(proxy) = proxy {
        builder = builder.proxy(proxy);
    }
    if let Some(port) = args.server.port {
        builder = builder.port(port);
    }
    if let Some(name) = &args.helo {
        builder = builder.helo_name(name);
    }
    if let Some(pem) = &ca {
        builder = builder.add_root_certificate(pem).disable_system_roots();
    }
    if let (Some(user), Some(password)) = (&args.user, &password) {
        builder = builder
            .credentials(user, password)
            .allow_insecure_auth(args.allow_insecure_auth);
    }
    let password_timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let password_cmd = match (&args.user, &args.password_cmd) {
        (Some(user), Some(command)) => {
            let cmd = PasswordCmd {
                command: command.clone(),
                // --timeout, within what --deadline leaves.
                timeout: deadline.map_or(password_timeout, |d| {
                    password_timeout.min(d.saturating_duration_since(Instant::now()))
                }),
                failed: Arc::default(),
            };
            let run = cmd.clone();
            builder = builder
                .credentials_provider(user, move |renew| run.secret(renew))
                .allow_insecure_auth(args.allow_insecure_auth);
            Some(cmd)
        }
        _ => None,
    };
    if let Some(mechanism) = args.auth {
        builder = builder.auth_mechanisms(&[mechanism]);
    }

    let mut client = match builder.connect() {
        Ok(client) => client,
        Err(e) => {
            let cx = Context {
                connected: connected.load(Ordering::Relaxed),
                input_failed: false,
            };
            // The password command failed: the password cannot be read.
            if password_cmd.is_some_and(|c| c.failed.load(Ordering::Relaxed)) {
                say(&e);
                return Exit::NoInput;
            }
            return failed(&e, cx);
        }
    };
    let result = match &mut message {
        Message::Stream(input) => client.send(&envelope, input),
        Message::File(file) => client.send_message(&envelope, &*file),
    };
    if !client.is_closed() {
        // The outcome is known; a lost 221 changes nothing. QUIT comes
        // first so that the verdict is the last thing printed.
        let _ = client.quit();
    }
    match result {
        Ok(delivery) => delivered(&delivery, args.quiet),
        Err(e) => {
            let cx = Context {
                connected: true,
                input_failed: matches!(&message, Message::Stream(input) if input.failed),
            };
            failed(&e, cx)
        }
    }
}

/// The proxy with its password from the environment when it names a
/// user.
fn proxy_with_password(proxy: &Proxy) -> Result<Proxy, Exit> {
    let Some(user) = proxy.user() else {
        return Ok(proxy.clone());
    };
    match std::env::var(args::PROXY_PASSWORD_VAR) {
        Ok(password) => Ok(proxy.clone().credentials(user, &password)),
        Err(_) => {
            say(format!(
                "the proxy's user {user} needs a password: set {} (UTF-8)",
                args::PROXY_PASSWORD_VAR
            ));
            Err(Exit::Usage)
        }
    }
}

/// The password for `--user`: the first line of `--password-file`, else
/// the environment.
fn password(args: &Args) -> Result<String, Exit> {
    if let Some(path) = &args.password_file {
        return match std::fs::read_to_string(path) {
            Ok(text) => Ok(args::first_line(&text).to_owned()),
            Err(e) => {
                say(format!(
                    "cannot read the password file {}: {e}",
                    path.display()
                ));
                Err(Exit::NoInput)
            }
        };
    }
    match std::env::var(PASSWORD_VAR) {
        Ok(password) => Ok(password),
        Err(std::env::VarError::NotPresent) => {
            say(format!(
                "--user needs a password: set {PASSWORD_VAR}, or use --password-file or \
                 --password-cmd"
            ));
            Err(Exit::Usage)
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            say(format!("{PASSWORD_VAR} is not valid UTF-8"));
            Err(Exit::Usage)
        }
    }
}

/// The message source, streamed: it is never read whole into memory.
/// Remembers whether a read failed, so that the error is blamed on the
/// input rather than the connection.
struct Input {
    reader: Box<dyn Read>,
    failed: bool,
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.reader.read(buf);
        if result
            .as_ref()
            .is_err_and(|e| e.kind() != io::ErrorKind::Interrupted)
        {
            self.failed = true;
        }
        result
    }
}

/// The message: a regular file is prepared (read once for its exact size
/// and kind, then sent from the file); anything else is streamed.
enum Message {
    Stream(Input),
    File(MessageFile),
}

/// Opens FILE (standard input when absent or `-`).
fn open_message(file: Option<&Path>) -> Result<Message, String> {
    let input = |reader: Box<dyn Read>| {
        Message::Stream(Input {
            reader,
            failed: false,
        })
    };
    let path = match file {
        None => return Ok(input(Box::new(io::stdin().lock()))),
        Some(path) if path == Path::new("-") => return Ok(input(Box::new(io::stdin().lock()))),
        Some(path) => path,
    };
    let cannot =
        |why: &dyn std::fmt::Display| format!("cannot read the message {}: {why}", path.display());
    let file = File::open(path).map_err(|e| cannot(&e))?;
    let meta = file.metadata().map_err(|e| cannot(&e))?;
    if meta.is_dir() {
        return Err(cannot(&"it is a directory"));
    }
    if meta.is_file() {
        return MessageFile::new(file)
            .map(Message::File)
            .map_err(|e| cannot(&e));
    }
    Ok(input(Box::new(file)))
}

/// The message was accepted for at least one recipient: the final reply on
/// standard output, each refused recipient on standard error.
fn delivered(delivery: &Delivery, quiet: bool) -> Exit {
    if !quiet {
        // One reply per transaction (several when the server took only
        // so many recipients at a time), each with its queue id.
        for (reply, _) in delivery.transactions() {
            out(reply);
        }
    }
    for refusal in &delivery.rejected {
        say(format!("recipient refused: {refusal}"));
    }
    for unknown in &delivery.unknown {
        say(format!(
            "recipient <{unknown}>: outcome unknown, the message may have been delivered"
        ));
    }
    if !delivery.is_complete() {
        say(format!(
            "the message went to {} of {} recipients",
            delivery.accepted.len(),
            delivery.accepted.len() + delivery.rejected.len() + delivery.unknown.len()
        ));
    }
    match exit::for_refusals(&delivery.rejected) {
        Exit::Ok if !delivery.unknown.is_empty() => Exit::TempFail,
        exit => exit,
    }
}

/// One line per error on standard error (one per recipient when all were
/// refused), and the exit status.
fn failed(error: &Error, cx: Context) -> Exit {
    match error {
        Error::AllRecipientsRejected(list) => {
            for refusal in list {
                say(format!("recipient refused: {refusal}"));
            }
            say("all recipients were refused; the message was not sent");
        }
        Error::PartlySent { delivery, error } => {
            // What went where first, then what stopped the rest.
            delivered(delivery, false);
            say(error);
        }
        e => say(e),
    }
    exit::for_error(error, cx)
}
