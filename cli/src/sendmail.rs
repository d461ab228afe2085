//! The sendmail mode: the interface that cron, mailx, git and mutt use to
//! hand a message to `/usr/sbin/sendmail`, when the tool is invoked by
//! that name (a symlink) or with `--sendmail`.
//!
//! ```text
//! sendmail [-t] [-i] [-f ADDR] [-F NAME] [-v] [--OPTION ...] [--] [RECIPIENT ...] < message
//! ```
//!
//! The message comes from standard input. Its header block is read once
//! (at most 1 MiB) to find recipients (`-t`), the sender
//! (`--read-envelope-from`) and the fields that are missing (Date,
//! Message-ID, From, which are added); Bcc is removed. The body is then
//! streamed as it comes, in constant memory.

use std::ffi::OsString;
use std::io::{self, Cursor, Read};
use std::path::Path;

use clap::{CommandFactory, Parser};
use smtpc::{Envelope, Notify, Recipient, Ret};

use crate::args::Args;
use crate::clock::Utc;
use crate::config;
use crate::exit::{Context, Exit};
use crate::headers::{self, HeadError, MAX_HEADER};
use crate::lone_dot::LoneDot;
use crate::settings::Settings;
use crate::trace::say;
use crate::{
    addresses, choose, deliver, failed, refuse_password_option, report, How, Input, Local, Message,
};

/// The name that selects this mode.
const NAME: &str = "sendmail";

/// Whether this run is in sendmail mode: invoked as `sendmail`, or with
/// `--sendmail` before any `--`.
pub fn wanted(argv: &[OsString]) -> bool {
    let invoked_as = argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n == NAME);
    invoked_as
        || argv
            .iter()
            .skip(1)
            .take_while(|a| *a != "--")
            .any(|a| a == "--sendmail")
}

/// What the command line asked for.
#[derive(Debug)]
struct Invocation {
    /// The long options (smtpc's own), parsed as in the normal mode.
    args: Args,
    /// `-t`: recipients from To, Cc and Bcc too.
    read_recipients: bool,
    /// `-f` / `-r`.
    sender: Option<String>,
    /// `-F`: the full name for a From field that is added.
    full_name: Option<String>,
    /// `-i` / `-oi`: a lone dot is content.
    ignore_dots: bool,
    /// The arguments: recipients.
    recipients: Vec<String>,
    /// `-B 8BITMIME`.
    eight_bit: bool,
    /// `-N`, `-R`, `-V`: delivery status notification options.
    notify: Option<Notify>,
    ret: Option<Ret>,
    envid: Option<String>,
}

/// Options that take a value (attached, `-fADDR`, or the next argument).
const WITH_VALUE: &[char] = &[
    'B', 'b', 'C', 'F', 'f', 'h', 'L', 'N', 'O', 'o', 'p', 'R', 'r', 'V', 'X',
];
/// Options whose value, if any, is attached (`-q15m`, `-d0.1`, `-Am`).
const ATTACHED_ONLY: &[char] = &['A', 'd', 'q'];
/// Flags accepted and ignored: `-m` (me too), `-n` (no aliases), `-U`
/// (initial submission), `-G` (gateway), `-e` (old error mode).
const IGNORED_FLAGS: &[char] = &['m', 'n', 'U', 'G', 'e'];

/// Reads the command line the way sendmail does: short options, clustered
/// or not, their values attached or in the next argument; smtpc's long
/// options; recipients; `--` before recipients only.
fn parse(argv: &[OsString]) -> Result<Invocation, Exit> {
    let mut strings = Vec::with_capacity(argv.len());
    for a in argv.iter().skip(1) {
        match a.to_str() {
            Some(s) => strings.push(s.to_owned()),
            None => {
                say(format!(
                    "an argument is not valid UTF-8: {}",
                    a.to_string_lossy()
                ));
                return Err(Exit::Usage);
            }
        }
    }
    let command = Args::command();
    let mut long = vec![OsString::from("smtpc")];
    let mut inv = Invocation {
        args: Args::parse_from(["smtpc"]),
        read_recipients: false,
        sender: None,
        full_name: None,
        ignore_dots: false,
        recipients: Vec::new(),
        eight_bit: false,
        notify: None,
        ret: None,
        envid: None,
    };
    let mut verbose = false;
    let mut it = strings.into_iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            inv.recipients.extend(it.by_ref());
            break;
        }
        if let Some(name) = arg.strip_prefix("--") {
            if name == "sendmail" {
                continue;
            }
            let (key, has_value) = match name.split_once('=') {
                Some((key, _)) => (key, true),
                None => (name, false),
            };
            let takes_value = command
                .get_arguments()
                .find(|a| a.get_long() == Some(key))
                .is_some_and(|a| a.get_action().takes_values());
            long.push(arg.clone().into());
            if takes_value && !has_value {
                if let Some(value) = it.next() {
                    long.push(value.into());
                }
            }
            continue;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            inv.recipients.push(arg);
            continue;
        };
        for (i, letter) in cluster.char_indices() {
            let attached = &cluster[i + letter.len_utf8()..];
            if WITH_VALUE.contains(&letter) {
                let value = if attached.is_empty() {
                    match it.next() {
                        Some(v) => v,
                        None => {
                            say(format!("option -{letter} needs a value"));
                            return Err(Exit::Usage);
                        }
                    }
                } else {
                    attached.to_owned()
                };
                option(&mut inv, letter, value)?;
                break;
            }
            if ATTACHED_ONLY.contains(&letter) {
                if letter == 'q' {
                    say("-q (run the queue) is not supported: smtpc has no queue");
                    return Err(Exit::Usage);
                }
                break;
            }
            match letter {
                't' => inv.read_recipients = true,
                'i' => inv.ignore_dots = true,
                'v' => verbose = true,
                c if IGNORED_FLAGS.contains(&c) => {}
                c => {
                    say(format!("unknown option -{c} (see smtpc --help)"));
                    return Err(Exit::Usage);
                }
            }
        }
    }
    inv.args = match Args::try_parse_from(&long) {
        Ok(args) => args,
        Err(e) => return Err(crate::usage_error(e)),
    };
    inv.args.trace |= verbose;
    if let Some(file) = &inv.args.file {
        // Not reachable through this parser (arguments are recipients),
        // but the field exists: say so rather than ignore it.
        say(format!(
            "the sendmail mode reads standard input, not {}",
            file.display()
        ));
        return Err(Exit::Usage);
    }
    Ok(inv)
}

/// One short option with its value.
fn option(inv: &mut Invocation, letter: char, value: String) -> Result<(), Exit> {
    match letter {
        'f' | 'r' => inv.sender = Some(value),
        'F' => inv.full_name = Some(value),
        // -oi: dots; -oem, -odi, -oQ... are the local MTA's business.
        'o' if value == "i" => inv.ignore_dots = true,
        'B' => inv.eight_bit = value.eq_ignore_ascii_case("8BITMIME"),
        'b' if value != "m" => {
            say(format!(
                "-b{value} is not supported: smtpc sends one message (-bm) and has no \
                 queue, aliases or SMTP server mode"
            ));
            return Err(Exit::Usage);
        }
        'N' => inv.notify = Some(notify(&value)?),
        'R' => {
            inv.ret = Some(match value.to_ascii_lowercase().as_str() {
                "full" => Ret::Full,
                "hdrs" => Ret::Headers,
                _ => {
                    say(format!("-R {value}: expected full or hdrs"));
                    return Err(Exit::Usage);
                }
            })
        }
        'V' => inv.envid = Some(value),
        // -bm; -C (config file), -h (hop count), -L (syslog label), -O
        // (option), -p (protocol), -X (traffic log): the local MTA's
        // business.
        _ => {}
    }
    Ok(())
}

/// `-N never` or a list of success, failure, delay.
fn notify(value: &str) -> Result<Notify, Exit> {
    if value.eq_ignore_ascii_case("never") {
        return Ok(Notify::NEVER);
    }
    let mut n = Notify::NEVER;
    for word in value.split(',') {
        match word.trim().to_ascii_lowercase().as_str() {
            "success" => n.success = true,
            "failure" => n.failure = true,
            "delay" => n.delay = true,
            _ => {
                say(format!(
                    "-N {value}: expected never, or success, failure and delay"
                ));
                return Err(Exit::Usage);
            }
        }
    }
    Ok(n)
}

/// The sendmail mode, from the command line to the exit status.
pub fn run(argv: &[OsString]) -> Exit {
    let inv = match parse(argv) {
        Ok(inv) => inv,
        Err(exit) => return exit,
    };
    let args = &inv.args;
    if let Err(exit) = refuse_password_option(args) {
        return exit;
    }
    let given_sender = inv.sender.as_deref().or(args.from.as_deref());
    // A mistake in the file fails before standard input is read.
    let config = match config::load() {
        Ok(config) => config,
        Err(problem) => return report(problem),
    };
    if args.print_config {
        return match choose(config.as_ref(), args, given_sender)
            .and_then(|chosen| Settings::new(args, given_sender, chosen))
        {
            Ok(settings) => {
                print!("{}", settings.describe());
                Exit::Ok
            }
            Err(problem) => report(problem),
        };
    }

    let stdin = io::stdin().lock();
    let mut source: Box<dyn Read> = if inv.ignore_dots {
        Box::new(stdin)
    } else {
        Box::new(LoneDot::new(stdin))
    };
    let head = match headers::read(&mut source) {
        Ok(head) => head,
        Err(HeadError::TooLarge) => {
            say(format!(
                "the message's header block is larger than {} KiB (no blank line after it?)",
                MAX_HEADER / 1024
            ));
            return Exit::DataErr;
        }
        Err(HeadError::Io(e)) => {
            say(format!("reading the message: {e}"));
            return Exit::NoInput;
        }
    };

    let from_header = if args.read_envelope_from && given_sender.is_none() {
        let values = head.values("From");
        match values.first().map(|v| addresses::first(v)) {
            Some(Ok(Some(address))) => Some(address),
            Some(Err(why)) => {
                say(format!(
                    "--read-envelope-from: cannot read the From header: {why}"
                ));
                return Exit::DataErr;
            }
            Some(Ok(None)) | None => {
                say("--read-envelope-from: the message has no From header with an address");
                return Exit::DataErr;
            }
        }
    } else {
        None
    };
    let sender = given_sender.map(str::to_owned).or(from_header);
    let settings = match choose(config.as_ref(), args, sender.as_deref())
        .and_then(|chosen| Settings::new(args, sender.as_deref(), chosen))
    {
        Ok(settings) => settings,
        Err(problem) => return report(problem),
    };
    let Some(from) = settings.from.clone() else {
        say(
            "no envelope sender: give -f ADDR, set from in the configuration file, \
             or use --read-envelope-from",
        );
        return Exit::Usage;
    };

    let recipients = match recipients(&inv, &head) {
        Ok(list) => list,
        Err(exit) => return exit,
    };
    let local = match Local::read(&settings) {
        Ok(local) => local,
        Err(exit) => return exit,
    };
    let envelope = match envelope(&inv, &from, recipients) {
        Ok(envelope) => envelope,
        Err(e) => return failed(&e, Context::default()),
    };

    let mut added = Vec::new();
    if !head.has("Date") {
        added.push(("Date", Utc::now().rfc5322()));
    }
    if !head.has("Message-ID") {
        added.push(("Message-ID", message_id(&from, settings.helo.as_deref())));
    }
    if !head.has("From") && !from.is_empty() && from != "<>" {
        added.push(("From", from_field(inv.full_name.as_deref(), &from)));
    }
    let header_block = head.render(&["Bcc"], &added);
    let reader = Cursor::new(header_block)
        .chain(Cursor::new(head.rest))
        .chain(source);
    let mut message = Message::Stream(Input::new(Box::new(reader)));
    let how = How {
        quiet: true,
        eight_bit: inv.eight_bit,
    };
    deliver(&settings, &local, envelope, &mut message, how)
}

/// The recipients: the arguments (and `--to`), then with `-t` those of
/// To, Cc and Bcc; each once.
fn recipients(inv: &Invocation, head: &headers::Head) -> Result<Vec<String>, Exit> {
    let mut list: Vec<String> = Vec::new();
    let mut add = |found: Vec<String>| {
        for address in found {
            if !list.contains(&address) {
                list.push(address);
            }
        }
    };
    for arg in inv.recipients.iter().chain(&inv.args.to) {
        // An argument may be `Name <addr>` or a list, as sendmail allows.
        let simple = !arg.contains(['<', ',', '(', '"', ':', ';']);
        if simple {
            add(vec![arg.trim().to_owned()]);
            continue;
        }
        match addresses::parse_list(arg) {
            Ok(found) => add(found),
            Err(why) => {
                say(format!("cannot read the recipient {arg:?}: {why}"));
                return Err(Exit::Usage);
            }
        }
    }
    if inv.read_recipients {
        for name in ["To", "Cc", "Bcc"] {
            for value in head.values(name) {
                match addresses::parse_list(&value) {
                    Ok(found) => add(found),
                    Err(why) => {
                        say(format!("-t: cannot read the {name} header: {why}"));
                        return Err(Exit::DataErr);
                    }
                }
            }
        }
    }
    if list.is_empty() {
        say(if inv.read_recipients {
            "no recipients: the To, Cc and Bcc headers name none, and no argument does"
        } else {
            "no recipients: name them as arguments, or use -t to read them from the \
             To, Cc and Bcc headers"
        });
        return Err(Exit::Usage);
    }
    Ok(list)
}

fn envelope(inv: &Invocation, from: &str, to: Vec<String>) -> Result<Envelope, smtpc::Error> {
    let to = to.into_iter().map(|address| {
        let recipient = Recipient::new(address);
        match inv.notify {
            Some(n) => recipient.notify(n),
            None => recipient,
        }
    });
    let mut envelope = Envelope::new(from, to)?;
    if let Some(ret) = inv.ret {
        envelope = envelope.ret(ret);
    }
    if let Some(id) = &inv.envid {
        envelope = envelope.envid(id.as_str())?;
    }
    Ok(envelope)
}

/// `<20250701123456.4242.9f8e7d6c5b4a3921@example.org>`: the time, the
/// process and a random number (std's hasher keys are random per
/// process), at the sender's domain (else the HELO name).
fn message_id(from: &str, helo: Option<&str>) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    let domain = from
        .trim_matches(['<', '>'])
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
        .or(helo.filter(|h| !h.is_empty()))
        .unwrap_or("localhost");
    format!(
        "<{}.{}.{random:016x}@{domain}>",
        Utc::now().compact(),
        std::process::id()
    )
}

/// `Full Name <addr>`, the name quoted when it holds specials and encoded
/// (RFC 2047) when it is not ASCII; `addr` alone without a name.
fn from_field(name: Option<&str>, from: &str) -> String {
    let address = from.trim_matches(['<', '>']);
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return address.to_owned();
    };
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let shown = if !name.is_ascii() {
        encoded_word(&name)
    } else if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c))
    {
        name
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    };
    format!("{shown} <{address}>")
}

/// RFC 2047 Q encoding of a display name, in encoded words short enough
/// for a line.
fn encoded_word(text: &str) -> String {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        let mut piece = String::new();
        if c.is_ascii_alphanumeric() {
            piece.push(c);
        } else if c == ' ' {
            piece.push('_');
        } else {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                piece.push_str(&format!("={b:02X}"));
            }
        }
        // 75 characters at most per encoded word, "=?UTF-8?Q?" and "?="
        // included; a character's bytes stay in one word.
        if current.len() + piece.len() > 75 - 12 {
            words.push(std::mem::take(&mut current));
        }
        current.push_str(&piece);
    }
    words.push(current);
    words
        .iter()
        .map(|w| format!("=?UTF-8?Q?{w}?="))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("sendmail")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn the_mode_is_chosen_by_name_or_option() {
        assert!(wanted(&[OsString::from("/usr/sbin/sendmail")]));
        assert!(wanted(&[OsString::from("sendmail"), OsString::from("-t")]));
        assert!(!wanted(&[OsString::from("/usr/bin/smtpc")]));
        assert!(!wanted(&[OsString::from("sendmail.real")]));
        assert!(wanted(&[
            OsString::from("smtpc"),
            OsString::from("--sendmail")
        ]));
        assert!(!wanted(&[
            OsString::from("smtpc"),
            OsString::from("--"),
            OsString::from("--sendmail")
        ]));
    }

    #[test]
    fn crons_command_line() {
        let inv = parse(&argv(&[
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "-oi",
            "-t",
        ]))
        .unwrap();
        assert!(inv.read_recipients && inv.ignore_dots && inv.eight_bit);
        assert_eq!(inv.full_name.as_deref(), Some("CronDaemon"));
        assert!(inv.recipients.is_empty());
        assert!(!inv.args.trace);
    }

    #[test]
    fn values_attached_or_apart_clusters_and_recipients() {
        let inv = parse(&argv(&[
            "-f",
            "a@x.test",
            "-F",
            "Anne Example",
            "-oi",
            "-odi",
            "-B",
            "7BIT",
            "b@y.test",
            "-v",
            "--",
            "-odd@y.test",
        ]))
        .unwrap();
        assert_eq!(inv.sender.as_deref(), Some("a@x.test"));
        assert_eq!(inv.full_name.as_deref(), Some("Anne Example"));
        assert!(inv.ignore_dots && !inv.eight_bit && !inv.read_recipients);
        assert!(inv.args.trace);
        assert_eq!(inv.recipients, ["b@y.test", "-odd@y.test"]);
        let inv = parse(&argv(&["-tif", "c@x.test", "-ra@z.test"])).unwrap();
        assert!(inv.read_recipients && inv.ignore_dots);
        assert_eq!(inv.sender.as_deref(), Some("a@z.test"));
        let inv = parse(&argv(&[
            "-N",
            "failure,delay",
            "-R",
            "hdrs",
            "-V",
            "id1",
            "-bm",
            "x@y",
        ]))
        .unwrap();
        let n = inv.notify.unwrap();
        assert!(!n.success && n.failure && n.delay);
        assert_eq!(inv.ret, Some(Ret::Headers));
        assert_eq!(inv.envid.as_deref(), Some("id1"));
    }

    #[test]
    fn long_options_are_smtpcs() {
        let inv = parse(&argv(&[
            "--server",
            "127.0.0.1:2525",
            "--tls=none",
            "-i",
            "--account",
            "work",
            "--read-envelope-from",
            "--sendmail",
            "b@y.test",
        ]))
        .unwrap();
        let server = inv.args.server.unwrap();
        assert_eq!(
            (server.host.as_str(), server.port),
            ("127.0.0.1", Some(2525))
        );
        assert_eq!(inv.args.account.as_deref(), Some("work"));
        assert!(inv.args.read_envelope_from);
        assert_eq!(inv.recipients, ["b@y.test"]);
    }

    #[test]
    fn what_is_refused() {
        for bad in [
            &["-q"][..],
            &["-q15m"],
            &["-bp"],
            &["-bs"],
            &["-Z"],
            &["-f"],
            &["-N", "sometimes"],
            &["-R", "most"],
            &["--bogus"],
            &["--tls", "sometimes"],
        ] {
            assert_eq!(parse(&argv(bad)).unwrap_err(), Exit::Usage, "{bad:?}");
        }
    }

    #[test]
    fn from_fields() {
        assert_eq!(from_field(None, "a@x.test"), "a@x.test");
        assert_eq!(
            from_field(Some("CronDaemon"), "a@x.test"),
            "CronDaemon <a@x.test>"
        );
        assert_eq!(
            from_field(Some("Anne Example"), "<a@x.test>"),
            "Anne Example <a@x.test>"
        );
        assert_eq!(
            from_field(Some("Doe, \"JD\" John"), "a@x.test"),
            "\"Doe, \\\"JD\\\" John\" <a@x.test>"
        );
        assert_eq!(
            from_field(Some("Jörg"), "a@x.test"),
            "=?UTF-8?Q?J=C3=B6rg?= <a@x.test>"
        );
        let long = "é".repeat(40);
        let field = from_field(Some(&long), "a@x.test");
        for word in field.trim_end_matches(" <a@x.test>").split(' ') {
            assert!(word.len() <= 75, "{word}");
            assert!(word.starts_with("=?UTF-8?Q?") && word.ends_with("?="));
        }
        assert_eq!(field.matches("=C3=A9").count(), 40);
    }

    #[test]
    fn message_ids_are_unique_and_at_the_senders_domain() {
        let a = message_id("me@example.org", Some("host.test"));
        let b = message_id("me@example.org", Some("host.test"));
        assert_ne!(a, b);
        assert!(a.starts_with('<') && a.ends_with("@example.org>"), "{a}");
        assert!(message_id("", Some("host.test")).ends_with("@host.test>"));
        assert!(message_id("", None).ends_with("@localhost>"));
    }
}
