//! sendmail's command line: short options, clustered or not, their
//! values attached or in the next argument; smtpc's long options, parsed
//! as in the normal mode; recipients.

use std::ffi::OsString;

use clap::{CommandFactory, Parser};
use smtpc::{Notify, Ret};

use crate::args::Args;
use crate::exit::Exit;
use crate::trace::say;

/// What the command line asked for.
#[derive(Debug)]
pub struct Invocation {
    /// The long options (smtpc's own), parsed as in the normal mode.
    pub args: Args,
    /// `-t`: recipients from To, Cc and Bcc too.
    pub read_recipients: bool,
    /// `-f` / `-r`.
    pub sender: Option<String>,
    /// `-F`: the full name for a From field that is added.
    pub full_name: Option<String>,
    /// `-i` / `-oi`: a lone dot is content.
    pub ignore_dots: bool,
    /// The arguments: recipients.
    pub recipients: Vec<String>,
    /// `-B 8BITMIME`.
    pub eight_bit: bool,
    /// `-N`, `-R`, `-V`: delivery status notification options.
    pub notify: Option<Notify>,
    pub ret: Option<Ret>,
    pub envid: Option<String>,
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
pub fn parse(argv: &[OsString]) -> Result<Invocation, Exit> {
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
        // Replaced once the long options are all known.
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
}
