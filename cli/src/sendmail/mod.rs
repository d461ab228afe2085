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

mod command_line;
mod fields;

use std::ffi::OsString;
use std::io::{self, Cursor, Read};
use std::path::Path;

use smtpc::{Envelope, Recipient};

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
use command_line::{parse, Invocation};
use fields::{from_field, message_id};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
