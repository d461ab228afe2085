//! `smtpc`: sends one message to an SMTP server from the command line and
//! says what the server answered, with the exit status a script needs
//! (sysexits.h). A thin layer over the library's public API: the protocol
//! lives in the library, this file only strings options together.
//!
//! ```text
//! smtpc [OPTIONS] --from ADDR --to ADDR [--to ADDR ...] [FILE]
//! ```

mod addresses;
mod args;
mod clock;
mod config;
mod exit;
mod headers;
mod log;
mod lone_dot;
mod password_cmd;
mod sendmail;
mod settings;
mod trace;
mod trust;

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
    Body, Client, Delivery, Envelope, Error, MessageFile, Protocol, Proxy, DEFAULT_CONNECT_TIMEOUT,
};
use zeroize::Zeroizing;

use args::Args;
use config::{Chosen, Config, PasswordSource, Problem};
use exit::{Context, Exit};
use password_cmd::PasswordCmd;
use settings::{Settings, PASSWORD_VAR};
use trace::{out, say};

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if sendmail::wanted(&argv) {
        return sendmail::run(&argv).into();
    }
    match Args::try_parse_from(&argv) {
        Ok(args) => run(&args).into(),
        Err(e) => usage_error(e).into(),
    }
}

/// Prints clap's message; help and version are a success.
fn usage_error(e: clap::Error) -> Exit {
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Exit::Ok,
        _ => Exit::Usage,
    }
}

/// Checks and reads everything local first (so that a bad address or an
/// unreadable file fails before any connection), then connects and sends.
fn run(args: &Args) -> Exit {
    if let Err(exit) = refuse_password_option(args) {
        return exit;
    }
    if args.read_envelope_from {
        say("--read-envelope-from needs the sendmail mode (--sendmail), which reads the headers");
        return Exit::Usage;
    }
    let settings = match config::load()
        .and_then(|config| choose(config.as_ref(), args, args.from.as_deref()))
        .and_then(|chosen| Settings::new(args, args.from.as_deref(), chosen))
    {
        Ok(settings) => settings,
        Err(problem) => return report(problem),
    };
    if args.print_config {
        print!("{}", settings.describe());
        return Exit::Ok;
    }
    let Some(from) = settings.from.clone() else {
        say("--from is required (or an address as `from` in the configuration file)");
        return Exit::Usage;
    };
    if args.to.is_empty() {
        say("--to is required: at least one recipient");
        return Exit::Usage;
    }
    let local = match Local::read(&settings) {
        Ok(local) => local,
        Err(exit) => return exit,
    };
    let envelope = match Envelope::new(from.as_str(), args.to.iter().map(String::as_str)) {
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
    let how = How {
        quiet: args.quiet,
        eight_bit: false,
    };
    deliver(&settings, &local, envelope, &mut message, how)
}

/// `--password` is caught only to say why it is refused.
fn refuse_password_option(args: &Args) -> Result<(), Exit> {
    if args.password.is_some() {
        say(format!(
            "a password is not taken on the command line, where every user of the machine \
             can see it: set {PASSWORD_VAR}, or use --password-file or --password-cmd"
        ));
        return Err(Exit::Usage);
    }
    Ok(())
}

/// The configuration file's settings for a message from `sender`.
fn choose(config: Option<&Config>, args: &Args, sender: Option<&str>) -> Result<Chosen, Problem> {
    match config {
        Some(config) => config.choose(args.account.as_deref(), sender),
        None if args.account.is_some() => Err(Problem {
            exit: Exit::Usage,
            message: format!(
                "--account needs a configuration file: {}, \
                 $XDG_CONFIG_HOME/smtpc/config.toml, ~/.config/smtpc/config.toml or {} \
                 (none found)",
                config::ENV,
                config::SYSTEM_FILE
            ),
        }),
        None => Ok(Chosen {
            why: "no configuration file",
            ..Chosen::default()
        }),
    }
}

/// One line on standard error, and the status.
fn report(problem: Problem) -> Exit {
    say(problem.message);
    problem.exit
}

/// What is read from local files and the environment before connecting.
struct Local {
    /// Wiped when dropped, as is every copy of it the library makes.
    password: Option<Zeroizing<String>>,
    ca: Option<Vec<u8>>,
    /// The proxy, with its password when it names a user.
    proxy: Option<Proxy>,
    /// The end of the whole run (`--deadline`), counted from here.
    deadline: Option<Instant>,
}

impl Local {
    fn read(settings: &Settings) -> Result<Local, Exit> {
        // First: nothing has started a thread yet (trust.rs).
        trust::arrange();
        let password = match &settings.user {
            Some(_) => password(settings)?,
            None => None,
        };
        let ca = match &settings.ca_file {
            Some(path) => match std::fs::read(path) {
                Ok(pem) => Some(pem),
                Err(e) => {
                    say(format!("cannot read the CA file {}: {e}", path.display()));
                    return Err(Exit::NoInput);
                }
            },
            None => None,
        };
        let proxy = match &settings.proxy {
            Some(proxy) => Some(proxy_with_password(proxy)?),
            None => None,
        };
        let deadline = settings
            .deadline
            .and_then(|d| Instant::now().checked_add(d));
        Ok(Local {
            password,
            ca,
            proxy,
            deadline,
        })
    }
}

/// How long a password command may run when no `--timeout` is given.
const PASSWORD_CMD_TIMEOUT: std::time::Duration = smtpc::DEFAULT_TIMEOUT;

/// How a message is handed over.
#[derive(Debug, Clone, Copy)]
struct How {
    /// Nothing on standard output on success.
    quiet: bool,
    /// The caller says the content is 8-bit MIME (sendmail's -B8BITMIME):
    /// declared when the server offers it, so that a stream whose 8-bit
    /// bytes come late is declared too.
    eight_bit: bool,
}

/// Connects, sends the one message, says QUIT, reports (and logs).
fn deliver(
    settings: &Settings,
    local: &Local,
    mut envelope: Envelope,
    message: &mut Message,
    how: How,
) -> Exit {
    let connected = Arc::new(AtomicBool::new(false));
    let builder = match &settings.socket {
        Some(path) => Client::builder_unix(path),
        None => Client::builder(settings.host.as_str()),
    };
    let mut builder = builder
        .protocol(settings.protocol())
        .tls(settings.tls.into())
        .transcript(trace::hook(settings.trace, connected.clone()));
    // Without --timeout, the library's per-phase defaults (RFC 5321 4.5.3.2).
    if let Some(timeout) = settings.timeout {
        builder = builder.timeout(timeout);
    }
    let connect_timeout = match (settings.connect_timeout, settings.timeout) {
        (Some(t), _) => t,
        (None, Some(t)) => t.min(DEFAULT_CONNECT_TIMEOUT),
        (None, None) => DEFAULT_CONNECT_TIMEOUT,
    };
    builder = builder.connect_timeout(connect_timeout);
    if let Some(deadline) = local.deadline {
        builder = builder.deadline(deadline);
    }
    if let Some(ip) = settings.source_ip {
        builder = builder.local_address(ip);
    }
    if let Some(proxy) = &local.proxy {
        builder = builder.proxy(proxy.clone());
    }
    if let Some(port) = settings.port {
        builder = builder.port(port);
    }
    if let Some(name) = &settings.helo {
        builder = builder.helo_name(name);
    }
    if let Some(pem) = &local.ca {
        builder = builder.add_root_certificate(pem).disable_system_roots();
    }
    if let (Some(user), Some(password)) = (&settings.user, &local.password) {
        builder = builder
            .credentials(user, password)
            .allow_insecure_auth(settings.allow_insecure_auth);
    }
    // A password command runs when AUTH needs it (again, with
    // SMTPC_RENEW=1, when the server refused what it gave).
    let password_cmd = match (&settings.user, &settings.password) {
        (Some(user), Some(PasswordSource::Command(command))) => {
            let timeout = settings.timeout.unwrap_or(PASSWORD_CMD_TIMEOUT);
            let cmd = PasswordCmd {
                command: command.clone(),
                // The timeout, within what --deadline leaves.
                timeout: local.deadline.map_or(timeout, |d| {
                    timeout.min(d.saturating_duration_since(Instant::now()))
                }),
                failed: Arc::default(),
            };
            let run = cmd.clone();
            builder = builder
                .credentials_provider(user, move |renew| run.secret(renew))
                .allow_insecure_auth(settings.allow_insecure_auth);
            Some(cmd)
        }
        _ => None,
    };
    if let Some(mechanism) = settings.auth {
        builder = builder.auth_mechanisms(&[mechanism]);
    }

    let client = match builder.connect() {
        Ok(client) => client,
        Err(e) => {
            let cx = Context {
                connected: connected.load(Ordering::Relaxed),
                input_failed: false,
            };
            // The password command failed: the password cannot be read.
            let exit = if password_cmd.is_some_and(|c| c.failed.load(Ordering::Relaxed)) {
                say(&e);
                Exit::NoInput
            } else {
                failed(&e, cx)
            };
            log::record(settings, &envelope, Err(&e), exit);
            return exit;
        }
    };
    if how.eight_bit && client.extensions().eight_bit_mime() {
        envelope = envelope.body(Body::EightBitMime);
    }
    // The one message is the session's last: QUIT leaves with its end (in
    // the same write, with PIPELINING), which saves a round trip; the
    // session is over before the verdict is printed.
    let result = match message {
        Message::Stream(input) => client.send_and_quit(&envelope, input),
        Message::File(file) => client.send_message_and_quit(&envelope, &*file),
    };
    let per_recipient = settings.protocol() == Protocol::Lmtp;
    let exit = match &result {
        Ok(delivery) => delivered(delivery, how.quiet, per_recipient),
        Err(e) => {
            let cx = Context {
                connected: true,
                input_failed: matches!(&message, Message::Stream(input) if input.failed),
            };
            failed(e, cx)
        }
    };
    log::record(settings, &envelope, result.as_ref(), exit);
    exit
}

/// The proxy with its password from the environment when it names a
/// user.
fn proxy_with_password(proxy: &Proxy) -> Result<Proxy, Exit> {
    let Some(user) = proxy.user() else {
        return Ok(proxy.clone());
    };
    match std::env::var(args::PROXY_PASSWORD_VAR) {
        Ok(password) => Ok(proxy.clone().credentials(user, &Zeroizing::new(password))),
        Err(_) => {
            say(format!(
                "the proxy's user {user} needs a password: set {} (UTF-8)",
                args::PROXY_PASSWORD_VAR
            ));
            Err(Exit::Usage)
        }
    }
}

/// The password for the user, read now: where the settings say (the
/// command line's `--password-file`, else `SMTPC_PASSWORD`, else the
/// configuration file). `None` for a command, which runs when AUTH needs
/// it.
fn password(settings: &Settings) -> Result<Option<Zeroizing<String>>, Exit> {
    let wiped = |s: &str| Some(Zeroizing::new(s.to_owned()));
    match &settings.password {
        // Read at once at the file's size (read_to_string sizes the
        // buffer from it), so no growing leaves a copy behind.
        Some(PasswordSource::File(path)) => match std::fs::read_to_string(path) {
            Ok(text) => Ok(wiped(args::first_line(&Zeroizing::new(text)))),
            Err(e) => {
                say(format!(
                    "cannot read the password file {}: {e}",
                    path.display()
                ));
                Err(Exit::NoInput)
            }
        },
        Some(PasswordSource::Inline(secret)) => Ok(wiped(secret.expose())),
        Some(PasswordSource::Command(_)) => Ok(None),
        // The environment's own copy stays (the process's environment
        // block is not this program's to rewrite).
        Some(PasswordSource::Env) => match std::env::var(PASSWORD_VAR) {
            Ok(password) => Ok(Some(Zeroizing::new(password))),
            Err(_) => {
                say(format!("{PASSWORD_VAR} is not valid UTF-8"));
                Err(Exit::Usage)
            }
        },
        None => {
            say(format!(
                "--user needs a password: set {PASSWORD_VAR}, use --password-file or \
                 --password-cmd, or give password_cmd or password_file in the configuration file"
            ));
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

impl Input {
    fn new(reader: Box<dyn Read>) -> Input {
        Input {
            reader,
            failed: false,
        }
    }
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
fn delivered(delivery: &Delivery, quiet: bool, per_recipient: bool) -> Exit {
    if quiet {
    } else if per_recipient {
        // LMTP: each recipient's own reply (where it was stored).
        for (recipient, reply) in delivery.recipient_replies() {
            out(format!("<{recipient}>: {reply}"));
        }
    } else {
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
            delivered(delivery, false, false);
            say(error);
        }
        e => say(e),
    }
    exit::for_error(error, cx)
}
