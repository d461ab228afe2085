//! One line per message in the file that `log` names in the
//! configuration: when, which account and server, the envelope, the
//! result and the queue id. Never a secret: neither the password nor the
//! user, nor anything of the message's content.
//!
//! ```text
//! 2025-07-01T12:34:56Z account=home server=mail.example.org:587 from=<me@example.org> recipients=<a@x.test>,<b@y.test> result=sent exit=0 queue_id=4XyZ reply="250 2.0.0 Ok: queued as 4XyZ"
//! ```

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use smtpc::{Delivery, Envelope, Error, Rejection, Reply};

use crate::clock::Utc;
use crate::exit::Exit;
use crate::settings::Settings;
use crate::trace::{escape, say};

/// Appends the line for this message to the log, if one is configured.
/// A log that cannot be written is said on standard error; the message's
/// own exit status stands.
pub fn record(
    settings: &Settings,
    envelope: &Envelope,
    result: Result<&Delivery, &Error>,
    exit: Exit,
) {
    let Some(path) = &settings.log else {
        return;
    };
    let result = result.map(|d| Outcome {
        reply: &d.reply,
        rejected: &d.rejected,
        unknown: &d.unknown,
    });
    let line = line(Utc::now(), settings, envelope, result, exit);
    // One write of a whole line to a file opened for appending: lines of
    // runs at the same time do not mix.
    let written = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        say(format!("cannot write the log {}: {e}", path.display()));
    }
}

/// A value in double quotes, with `"` and `\` escaped and control
/// characters shown as escapes.
fn quoted(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{}\"", escape(&escaped))
}

/// A value without spaces: as it is, else quoted.
fn word(text: &str) -> String {
    if !text.is_empty() && !text.contains(|c: char| c.is_whitespace() || c.is_control() || c == '"')
    {
        text.to_owned()
    } else {
        quoted(text)
    }
}

/// What a delivered message's line says.
struct Outcome<'a> {
    reply: &'a Reply,
    rejected: &'a [Rejection],
    /// Recipients whose fate is not known (the connection was lost after
    /// the content).
    unknown: &'a [String],
}

fn line(
    now: Utc,
    settings: &Settings,
    envelope: &Envelope,
    result: Result<Outcome<'_>, &Error>,
    exit: Exit,
) -> String {
    let recipients: Vec<String> = envelope
        .recipients()
        .map(|r| word(&format!("<{r}>")))
        .collect();
    let mut line = format!(
        "{} account={} server={} from={} recipients={}",
        now.iso8601(),
        word(settings.account.as_deref().unwrap_or("-")),
        word(&settings.server()),
        word(&format!("<{}>", envelope.sender())),
        recipients.join(","),
    );
    match result {
        Ok(Outcome {
            reply,
            rejected,
            unknown,
        }) => {
            let outcome = if rejected.is_empty() && unknown.is_empty() {
                "sent"
            } else {
                "partial"
            };
            line.push_str(&format!(" result={outcome} exit={}", exit as u8));
            if !rejected.is_empty() {
                let refused: Vec<String> = rejected
                    .iter()
                    .map(|r| word(&format!("<{}>", r.recipient)))
                    .collect();
                line.push_str(&format!(" refused={}", refused.join(",")));
            }
            if !unknown.is_empty() {
                let unknown: Vec<String> =
                    unknown.iter().map(|r| word(&format!("<{r}>"))).collect();
                line.push_str(&format!(" unknown={}", unknown.join(",")));
            }
            if let Some(id) = reply.queue_id() {
                line.push_str(&format!(" queue_id={}", word(id)));
            }
            line.push_str(&format!(" reply={}", quoted(&reply.to_string())));
        }
        Err(e) => {
            line.push_str(&format!(
                " result=failed exit={} error={}",
                exit as u8,
                quoted(&e.to_string())
            ));
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::TlsMode;
    use smtpc::{Rejection, Reply};
    use std::time::Duration;

    fn settings() -> Settings {
        Settings {
            config: None,
            account: Some("home".into()),
            why: "",
            host: "mail.example.org".into(),
            port: None,
            socket: None,
            protocol: crate::args::ProtocolArg::Smtp,
            tls: TlsMode::Starttls,
            ca_file: None,
            helo: None,
            timeout: Some(Duration::from_secs(1)),
            connect_timeout: None,
            deadline: None,
            source_ip: None,
            proxy: None,
            user: Some("me@example.org".into()),
            password: None,
            auth: None,
            allow_insecure_auth: false,
            from: None,
            log: None,
            trace: false,
        }
    }

    fn outcome<'a>(
        reply: &'a Reply,
        rejected: &'a [Rejection],
        unknown: &'a [String],
    ) -> Outcome<'a> {
        Outcome {
            reply,
            rejected,
            unknown,
        }
    }

    fn reply(text: &str) -> Reply {
        Reply::parse(format!("{text}\r\n").as_bytes()).unwrap()
    }

    #[test]
    fn lines_for_each_outcome() {
        let now = Utc::from_unix(1_751_373_296);
        let envelope = Envelope::new("me@example.org", ["a@x.test", "b@y.test"]).unwrap();
        let ok = reply("250 2.0.0 Ok: queued as 4XyZ");
        assert_eq!(
            line(
                now,
                &settings(),
                &envelope,
                Ok(outcome(&ok, &[], &[])),
                Exit::Ok
            ),
            "2025-07-01T12:34:56Z account=home server=mail.example.org:587 \
             from=<me@example.org> recipients=<a@x.test>,<b@y.test> result=sent exit=0 \
             queue_id=4XyZ reply=\"250 2.0.0 Ok: queued as 4XyZ\"\n"
        );
        let refused = [Rejection::new("b@y.test", reply("550 5.1.1 no such user"))];
        let ok250 = reply("250 ok");
        let partial = outcome(&ok250, &refused, &[]);
        let text = line(now, &settings(), &envelope, Ok(partial), Exit::Unavailable);
        assert!(
            text.ends_with(" result=partial exit=69 refused=<b@y.test> reply=\"250 ok\"\n"),
            "{text}"
        );
        let error = Error::Permanent(reply("554 5.7.1 \"quoted\" \x1b[31mspam"));
        let text = line(now, &settings(), &envelope, Err(&error), Exit::Unavailable);
        assert!(text.contains(" result=failed exit=69 error=\""), "{text}");
        assert!(text.contains("\\\"quoted\\\""), "{text}");
        assert_eq!(text.matches('\n').count(), 1);
        assert!(!text.contains('\x1b'), "{text}");
        // The user is not a secret, but it is not logged either.
        assert!(!text.contains("me@example.org "), "{text}");
        let mut nameless = settings();
        nameless.account = None;
        let text = line(
            now,
            &nameless,
            &envelope,
            Ok(outcome(&ok, &[], &[])),
            Exit::Ok,
        );
        assert!(text.contains(" account=- "), "{text}");
        let lost = ["b@y.test".to_owned()];
        let text = line(
            now,
            &settings(),
            &envelope,
            Ok(outcome(&ok, &[], &lost)),
            Exit::TempFail,
        );
        assert!(
            text.contains(" result=partial exit=75 unknown=<b@y.test> queue_id=4XyZ "),
            "{text}"
        );
    }
}
