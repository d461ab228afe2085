//! SMTP commands: the one place where the bytes of a command line are made.
//!
//! A command is built only from parts that passed [`crate::checks`], so
//! encoding cannot fail and no CR, LF or other control character from a
//! caller ever reaches the wire.

use std::fmt::Write as _;

use crate::envelope::{Body, Notify, Ret};
use crate::timeouts::Phase;

/// Parameters of `MAIL FROM`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MailParams<'a> {
    pub size: Option<u64>,
    pub body: Option<Body>,
    pub smtputf8: bool,
    pub ret: Option<Ret>,
    pub envid: Option<&'a str>,
}

/// Parameters of `RCPT TO`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RcptParams<'a> {
    pub notify: Option<Notify>,
    pub orcpt: Option<&'a str>,
}

/// One command line. Every string in it has passed [`crate::checks`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command<'a> {
    Ehlo(&'a str),
    /// LMTP's hello (RFC 2033 4.1).
    Lhlo(&'a str),
    Helo(&'a str),
    Mail {
        from: &'a str,
        params: MailParams<'a>,
    },
    Rcpt {
        to: &'a str,
        params: RcptParams<'a>,
    },
    Data,
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Vrfy(&'a str),
    Quit,
    StartTls,
    /// `AUTH mechanism [initial-response]`; the response is secret.
    Auth {
        mechanism: &'a str,
        initial: Option<&'a str>,
    },
    /// A line answering a 334 challenge; always secret.
    AuthResponse(&'a str),
}

impl Command<'_> {
    /// The phase whose timeout bounds the wait for this command's reply.
    pub fn phase(&self) -> Phase {
        match self {
            Command::Mail { .. } => Phase::Mail,
            Command::Rcpt { .. } => Phase::Rcpt,
            Command::Data => Phase::Data,
            Command::Bdat { last: true, .. } => Phase::EndOfData,
            Command::Bdat { last: false, .. } => Phase::DataBlock,
            _ => Phase::Other,
        }
    }

    /// Appends the command line, CRLF included, to `out`.
    #[cfg(test)]
    pub fn encode(&self, out: &mut Vec<u8>) {
        if self.encode_secret(out) {
            return;
        }
        let mut line = String::new();
        self.write_line(&mut line, false);
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    /// Appends the command line to `out`, as [`Command::encode`] does, and
    /// writes it to `shown` (emptied first) as [`Command::describe`] does:
    /// one formatting for both unless the line carries a secret.
    pub fn encode_described(&self, out: &mut Vec<u8>, shown: &mut String) {
        shown.clear();
        self.write_line(shown, true);
        if !self.encode_secret(out) {
            out.extend_from_slice(shown.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Whether the line may carry a secret (an AUTH response).
    pub fn carries_secret(&self) -> bool {
        matches!(self, Command::Auth { .. } | Command::AuthResponse(_))
    }

    /// Appends a line that may carry a secret straight to `out`, with no
    /// string in between (whose growing would leave copies of it in freed
    /// memory); false for other commands, which it leaves alone.
    fn encode_secret(&self, out: &mut Vec<u8>) -> bool {
        let (head, response): (&[&str], _) = match self {
            Command::Auth { mechanism, initial } => (&["AUTH ", mechanism], *initial),
            Command::AuthResponse(response) => (&[], Some(*response)),
            _ => return false,
        };
        head.iter()
            .for_each(|h| out.extend_from_slice(h.as_bytes()));
        if let Some(response) = response {
            if !head.is_empty() {
                out.push(b' ');
            }
            out.extend_from_slice(response.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        true
    }

    /// The line as a transcript or an error message shows it: without CRLF,
    /// secrets replaced by `<redacted>`.
    #[cfg(test)]
    pub fn describe(&self) -> String {
        let mut line = String::new();
        self.write_line(&mut line, true);
        line
    }

    fn write_line(&self, s: &mut String, redact: bool) {
        let secret = |v: &str| {
            if redact {
                "<redacted>".to_owned()
            } else {
                v.to_owned()
            }
        };
        // Plain pushes where there is nothing to format: every message
        // passes here several times. Writing to a String cannot fail.
        let mut put = |parts: &[&str]| {
            parts.iter().for_each(|p| s.push_str(p));
            Ok(())
        };
        let _ = match self {
            Command::Ehlo(name) => put(&["EHLO ", name]),
            Command::Lhlo(name) => put(&["LHLO ", name]),
            Command::Helo(name) => put(&["HELO ", name]),
            Command::Mail { from, params } => {
                let _ = put(&["MAIL FROM:<", from, ">"]);
                write_mail_params(s, params)
            }
            Command::Rcpt { to, params } => {
                let _ = put(&["RCPT TO:<", to, ">"]);
                write_rcpt_params(s, params)
            }
            Command::Data => put(&["DATA"]),
            Command::Bdat { size, last: true } => write!(s, "BDAT {size} LAST"),
            Command::Bdat { size, last: false } => write!(s, "BDAT {size}"),
            Command::Rset => put(&["RSET"]),
            Command::Noop => put(&["NOOP"]),
            Command::Vrfy(what) => put(&["VRFY ", what]),
            Command::Quit => put(&["QUIT"]),
            Command::StartTls => put(&["STARTTLS"]),
            Command::Auth {
                mechanism,
                initial: None,
            } => write!(s, "AUTH {mechanism}"),
            Command::Auth {
                mechanism,
                initial: Some(resp),
            } => write!(s, "AUTH {mechanism} {}", secret(resp)),
            Command::AuthResponse(resp) => write!(s, "{}", secret(resp)),
        };
    }
}

fn write_mail_params(s: &mut String, p: &MailParams<'_>) -> std::fmt::Result {
    if let Some(size) = p.size {
        write!(s, " SIZE={size}")?;
    }
    match p.body {
        Some(Body::SevenBit) => s.push_str(" BODY=7BIT"),
        Some(Body::EightBitMime) => s.push_str(" BODY=8BITMIME"),
        Some(Body::BinaryMime) => s.push_str(" BODY=BINARYMIME"),
        None => {}
    }
    if p.smtputf8 {
        s.push_str(" SMTPUTF8");
    }
    match p.ret {
        Some(Ret::Full) => s.push_str(" RET=FULL"),
        Some(Ret::Headers) => s.push_str(" RET=HDRS"),
        None => {}
    }
    if let Some(envid) = p.envid {
        s.push_str(" ENVID=");
        xtext(s, envid);
    }
    Ok(())
}

fn write_rcpt_params(s: &mut String, p: &RcptParams<'_>) -> std::fmt::Result {
    if let Some(n) = p.notify {
        let mut kinds = Vec::new();
        if n.success {
            kinds.push("SUCCESS");
        }
        if n.failure {
            kinds.push("FAILURE");
        }
        if n.delay {
            kinds.push("DELAY");
        }
        if kinds.is_empty() {
            kinds.push("NEVER");
        }
        write!(s, " NOTIFY={}", kinds.join(","))?;
    }
    if let Some(orcpt) = p.orcpt {
        // RFC 3461 4.2: ORCPT=addr-type;xtext. UTF-8 addresses use utf-8 (RFC 6533).
        let kind = if orcpt.is_ascii() { "rfc822" } else { "utf-8" };
        write!(s, " ORCPT={kind};")?;
        xtext(s, orcpt);
    }
    Ok(())
}

/// RFC 3461 4: xtext, every octet outside `!`..`~`, and `+` and `=`, as `+XX`.
fn xtext(s: &mut String, value: &str) {
    for b in value.bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            s.push(b as char);
        } else {
            let _ = write!(s, "+{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(c: Command<'_>) -> String {
        let mut out = Vec::new();
        c.encode(&mut out);
        // The other way to the wire writes the same bytes.
        let mut again = Vec::new();
        // With a description left over from another command: it is replaced.
        let mut shown = String::from("MAIL FROM:<old@x.test>");
        c.encode_described(&mut again, &mut shown);
        assert_eq!(again, out);
        assert_eq!(shown, c.describe());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn simple_commands() {
        assert_eq!(wire(Command::Ehlo("c.example")), "EHLO c.example\r\n");
        assert_eq!(wire(Command::Lhlo("c.example")), "LHLO c.example\r\n");
        assert_eq!(wire(Command::Data), "DATA\r\n");
        assert_eq!(
            wire(Command::Bdat {
                size: 10,
                last: true
            }),
            "BDAT 10 LAST\r\n"
        );
        assert_eq!(
            wire(Command::Bdat {
                size: 0,
                last: false
            }),
            "BDAT 0\r\n"
        );
        assert_eq!(wire(Command::Quit), "QUIT\r\n");
    }

    #[test]
    fn mail_and_rcpt_parameters() {
        let mail = Command::Mail {
            from: "a@x",
            params: MailParams {
                size: Some(1234),
                body: Some(Body::EightBitMime),
                smtputf8: true,
                ret: Some(Ret::Headers),
                envid: Some("id+1=2 x"),
            },
        };
        assert_eq!(
            wire(mail),
            "MAIL FROM:<a@x> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3D2+20x\r\n"
        );
        assert_eq!(
            wire(Command::Mail {
                from: "",
                params: MailParams::default()
            }),
            "MAIL FROM:<>\r\n"
        );
        let rcpt = Command::Rcpt {
            to: "b@y",
            params: RcptParams {
                notify: Some(Notify {
                    success: true,
                    failure: true,
                    delay: false,
                }),
                orcpt: Some("b@y"),
            },
        };
        assert_eq!(
            wire(rcpt),
            "RCPT TO:<b@y> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@y\r\n"
        );
        let never = Command::Rcpt {
            to: "b@y",
            params: RcptParams {
                notify: Some(Notify::NEVER),
                orcpt: None,
            },
        };
        assert_eq!(wire(never), "RCPT TO:<b@y> NOTIFY=NEVER\r\n");
    }

    #[test]
    fn secrets_redacted_in_description_only() {
        let auth = Command::Auth {
            mechanism: "PLAIN",
            initial: Some("AGJvYgBzZWNyZXQ="),
        };
        assert_eq!(auth.describe(), "AUTH PLAIN <redacted>");
        assert_eq!(wire(auth), "AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n");
        assert_eq!(Command::AuthResponse("c2VjcmV0").describe(), "<redacted>");
        assert_eq!(Command::Rset.describe(), "RSET");
    }
}
