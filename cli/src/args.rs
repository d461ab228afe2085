//! The command line: what `smtpc --help` shows, and the checks on each
//! option that need no network (a bad option is exit 64, before anything
//! else happens).

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use smtpc::{Mechanism, Protocol, Proxy, Tls};

const AFTER_HELP: &str = "\
The password for --user comes from the environment variable SMTPC_PASSWORD,
from the first line of --password-file, or from the first line that
--password-cmd prints, never from the command line. --password-cmd is run
(with sh -c) when AUTH needs the secret, and once more, with SMTPC_RENEW=1 in
its environment, when the server refused it: a command that prints a fresh
OAuth token keeps working after the last one expired.

AUTH uses the first of these that the server offers: SCRAM-SHA-256-PLUS
(over TLS), SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN; --auth names
one instead (XOAUTH2 and OAUTHBEARER, for tokens, only that way).

Exit status (sysexits.h):
  0   the message was accepted for every recipient
  64  usage error
  65  invalid input refused before anything was sent (CR/LF in an address or
      the HELO name, a CA file that holds no certificate)
  66  the message, password, CA or configuration file cannot be read
  68  the host name (of the server or of the proxy) does not exist
  69  permanent failure (5xx; a message over the server's size limit), also
      when some recipients were refused with 5xx and the others got it; a
      SOCKS5 proxy that refuses by its rules (reply 2, 7, 8)
  75  temporary failure (4xx, 454 to AUTH or STARTTLS included; connection refused,
      reset or closed; timeout; --deadline passed; a proxy that refuses
      with reply 1, 3-6)
  76  protocol failure (malformed or unexpected reply; STARTTLS unavailable,
      refused with 5xx, or failed; TLS handshake or certificate failure; response injection;
      a proxy that does not speak SOCKS5)
  77  authentication failed or refused (535; credentials that would have
      gone over a connection without TLS; the proxy's user and password)
  78  the configuration file is wrong, can be changed by others, or holds a
      password and can be read by others

Configuration file: $SMTPC_CONFIG, else $XDG_CONFIG_HOME/smtpc/config.toml
(~/.config/smtpc/config.toml), else /etc/smtpc.toml: a [defaults] table and
[account.NAME] tables; options on the command line override it.

Sendmail mode (invoked as sendmail through a link, or with --sendmail): the message comes
from standard input; recipients are arguments, and with -t also the To, Cc
and Bcc headers (Bcc is removed); -f ADDR or -r ADDR is the sender, -F NAME
the full name in a From header added when there is none; without -i (-oi) a
line with a lone dot ends the message; -v is --trace; -oem, -odi, -B8BITMIME
and the other options cron and mail programs pass are accepted.

Example:
  SMTPC_PASSWORD=... smtpc --server mail.example.org --user me@example.org \\
      --from me@example.org --to you@example.org --trace message.eml";

/// Send one message to an SMTP server and say what the server answered.
///
/// The message (headers and body) is read from FILE, or standard input, and
/// streamed to the server: line endings become CRLF, lines that start with a
/// dot are dot-stuffed. On success the server's final reply, which names the
/// queue id, is printed on standard output.
#[derive(Parser, Debug)]
#[command(
    name = "smtpc",
    version,
    verbatim_doc_comment,
    args_override_self = true,
    after_help = AFTER_HELP
)]
pub struct Args {
    /// Envelope sender (MAIL FROM); "<>" is the null sender
    /// Required unless the configuration file gives one (`from`)
    #[arg(long, verbatim_doc_comment, value_name = "ADDR")]
    pub from: Option<String>,

    /// Envelope recipient (RCPT TO); repeat for more; at least one
    #[arg(long, value_name = "ADDR")]
    pub to: Vec<String>,

    /// The message; standard input when absent or "-"
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// The server and port; IPv6 in brackets: [::1]:2525 [default: localhost]
    /// The port defaults to 587, 465 with --tls implicit, 25 with --tls none,
    /// 24 with --protocol lmtp
    #[arg(
        long,
        verbatim_doc_comment,
        value_name = "HOST[:PORT]",
        value_parser = parse_server,
        help_heading = "Connection"
    )]
    pub server: Option<Server>,

    /// Connect to this UNIX socket instead of --server (e.g. Dovecot's
    /// /run/dovecot/lmtp); no TLS there unless --tls asks for it
    #[arg(
        long,
        verbatim_doc_comment,
        value_name = "PATH",
        conflicts_with_all = ["server", "proxy", "source_ip"],
        help_heading = "Connection"
    )]
    pub socket: Option<PathBuf>,

    /// The protocol: smtp, or lmtp for a mailbox store (LHLO, a reply per
    /// recipient; port 24 over TCP) [default: smtp]
    #[arg(
        long,
        value_enum,
        verbatim_doc_comment,
        value_name = "PROTOCOL",
        help_heading = "Connection"
    )]
    pub protocol: Option<ProtocolArg>,

    /// How the connection is protected [default: starttls; none with --socket]
    #[arg(long, value_enum, value_name = "MODE", help_heading = "Connection")]
    pub tls: Option<TlsMode>,

    /// Trust the CA certificates in this file, not the system's
    #[arg(long, value_name = "PEM", help_heading = "Connection")]
    pub ca_file: Option<PathBuf>,

    /// This host's name for EHLO [default: its address, as [192.0.2.1]]
    #[arg(long, value_name = "NAME", help_heading = "Connection")]
    pub helo: Option<String>,

    /// Most seconds to wait for each whole reply and each write
    /// [default: RFC 5321's, 2 to 10 minutes by reply]
    #[arg(
        long,
        verbatim_doc_comment,
        value_name = "SECS",
        value_parser = parse_timeout,
        help_heading = "Connection"
    )]
    pub timeout: Option<Duration>,

    /// Most seconds to wait for the connection to each address
    /// [default: 30, or --timeout when that is shorter]
    #[arg(
        long,
        verbatim_doc_comment,
        value_name = "SECS",
        value_parser = parse_timeout,
        help_heading = "Connection"
    )]
    pub connect_timeout: Option<Duration>,

    /// Most seconds for the whole run, from connecting to the exit
    #[arg(
        long,
        value_name = "SECS",
        value_parser = parse_timeout,
        help_heading = "Connection"
    )]
    pub deadline: Option<Duration>,

    /// Connect from this local address (IPv4 or IPv6)
    #[arg(
        long,
        value_name = "ADDR",
        value_parser = parse_ip,
        help_heading = "Connection"
    )]
    pub source_ip: Option<IpAddr>,

    /// Go through a SOCKS5 proxy, which resolves the server's name
    /// socks5://[USER@]HOST[:PORT]; USER's password from SMTPC_PROXY_PASSWORD
    #[arg(
        long,
        verbatim_doc_comment,
        value_name = "URL",
        value_parser = parse_proxy,
        help_heading = "Connection"
    )]
    pub proxy: Option<Proxy>,

    /// Log in as USER; the password comes from SMTPC_PASSWORD
    #[arg(long, value_name = "USER", help_heading = "Authentication")]
    pub user: Option<String>,

    /// Read the password from the first line of FILE instead
    #[arg(long, value_name = "FILE", help_heading = "Authentication")]
    pub password_file: Option<PathBuf>,

    /// Run CMD with sh -c; the first line it prints is the password
    /// (again with SMTPC_RENEW=1 when the server refused it)
    #[arg(
        long,
        verbatim_doc_comment,
        value_name = "CMD",
        conflicts_with = "password_file",
        help_heading = "Authentication"
    )]
    pub password_cmd: Option<String>,

    /// The SASL mechanism [default: the best the server offers, see below]
    /// One of SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5,
    /// PLAIN, LOGIN, XOAUTH2, OAUTHBEARER (token as password)
    #[arg(
        long,
        verbatim_doc_comment,
        value_name = "MECH",
        value_parser = parse_mechanism,
        help_heading = "Authentication"
    )]
    pub auth: Option<Mechanism>,

    /// Send the password even without TLS, readable to all on the path
    #[arg(long, help_heading = "Authentication")]
    pub allow_insecure_auth: bool,

    /// Show the exchange on standard error ("C: " sent, "S: " received)
    /// Secrets are shown as <redacted>, the message content as its size
    #[arg(long, verbatim_doc_comment, help_heading = "Output")]
    pub trace: bool,

    /// Print nothing on success; errors still go to standard error
    #[arg(short, long, help_heading = "Output")]
    pub quiet: bool,

    /// Not accepted: a password on the command line is visible to every
    /// user of the machine. Caught to say so instead of "unknown option".
    #[arg(long, hide = true, num_args = 0..=1, value_name = "PASSWORD")]
    pub password: Option<Option<String>>,

    /// Use this account of the configuration file
    /// [default: the one whose `from` matches the sender]
    #[arg(
        long,
        verbatim_doc_comment,
        value_name = "NAME",
        help_heading = "Configuration file"
    )]
    pub account: Option<String>,

    /// Print the settings in effect (secrets redacted), send nothing
    #[arg(long, help_heading = "Configuration file")]
    pub print_config: bool,

    /// Behave as sendmail (as when invoked by the name "sendmail")
    #[arg(long, help_heading = "Sendmail mode")]
    pub sendmail: bool,

    /// Take the envelope sender from the message's From header
    #[arg(long, help_heading = "Sendmail mode")]
    pub read_envelope_from: bool,
}

/// `--tls` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsMode {
    /// Plaintext (port 25)
    None,
    /// STARTTLS, required: fail if the server does not offer it (port 587)
    Starttls,
    /// STARTTLS when offered, plaintext otherwise (port 587)
    Opportunistic,
    /// TLS from the first byte (port 465)
    Implicit,
}

impl From<TlsMode> for Tls {
    fn from(mode: TlsMode) -> Tls {
        match mode {
            TlsMode::None => Tls::None,
            TlsMode::Starttls => Tls::StartTls,
            TlsMode::Opportunistic => Tls::Opportunistic,
            TlsMode::Implicit => Tls::Implicit,
        }
    }
}

/// `--protocol` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    /// SMTP (RFC 5321)
    Smtp,
    /// LMTP (RFC 2033): local delivery to a mailbox store
    Lmtp,
}

impl From<ProtocolArg> for Protocol {
    fn from(p: ProtocolArg) -> Protocol {
        match p {
            ProtocolArg::Smtp => Protocol::Smtp,
            ProtocolArg::Lmtp => Protocol::Lmtp,
        }
    }
}

/// `--server`: a host and maybe a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// A name, an IPv4 address, or an IPv6 address in brackets.
    pub host: String,
    pub port: Option<u16>,
}

/// `HOST`, `HOST:PORT`, `[IPv6]`, `[IPv6]:PORT`. An IPv6 address needs
/// its brackets even without a port: `::1:25` could be either.
pub fn parse_server(text: &str) -> Result<Server, String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address in brackets lacks its ']'")?;
        addr.parse::<Ipv6Addr>()
            .map_err(|_| format!("{addr:?} is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("expected ':PORT' after ']'")?,
            ),
        };
        (format!("[{addr}]"), port)
    } else {
        if text.matches(':').count() > 1 {
            return Err("write an IPv6 address in brackets: [::1]:2525".into());
        }
        match text.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (text.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the host contains white space or a control character".into());
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("{p:?} is not a port number (1 to 65535)")),
        },
    };
    Ok(Server { host, port })
}

/// Seconds, fractions allowed, more than zero.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err("the timeout must be more than 0 seconds".into());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} seconds is too long"))
}

/// Where the proxy's password comes from.
pub const PROXY_PASSWORD_VAR: &str = "SMTPC_PROXY_PASSWORD";

/// An IP address, IPv6 with or without brackets.
pub fn parse_ip(text: &str) -> Result<IpAddr, String> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse()
        .map_err(|_| format!("{text:?} is not an IP address"))
}

/// `socks5://[USER@]HOST[:PORT]`. A password is refused: every user of
/// the machine can read a command line.
pub fn parse_proxy(text: &str) -> Result<Proxy, String> {
    let after_scheme = text.split_once("://").map_or(text, |(_, rest)| rest);
    if let Some((userinfo, _)) = after_scheme.rsplit_once('@') {
        if userinfo.contains(':') {
            return Err(format!(
                "a password is not taken on the command line, where every user of the \
                 machine can see it: give socks5://USER@HOST:PORT and set {PROXY_PASSWORD_VAR}"
            ));
        }
    }
    Proxy::from_url(text).map_err(|e| match e {
        smtpc::Error::InvalidInput(why) => why,
        other => other.to_string(),
    })
}

pub fn parse_mechanism(text: &str) -> Result<Mechanism, String> {
    Mechanism::from_name(text).ok_or_else(|| {
        format!(
            "unknown mechanism {text:?} (known: SCRAM-SHA-256-PLUS, SCRAM-SHA-256, \
             SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN, XOAUTH2, OAUTHBEARER)"
        )
    })
}

/// The first line of a password file, without its line ending.
pub fn first_line(text: &str) -> &str {
    let line = text.split('\n').next().unwrap_or("");
    line.strip_suffix('\r').unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str, port: Option<u16>) -> Result<Server, String> {
        Ok(Server {
            host: host.into(),
            port,
        })
    }

    #[test]
    fn servers() {
        assert_eq!(
            parse_server("mail.example.org"),
            server("mail.example.org", None)
        );
        assert_eq!(
            parse_server("127.0.0.1:2525"),
            server("127.0.0.1", Some(2525))
        );
        assert_eq!(parse_server("[::1]:2525"), server("[::1]", Some(2525)));
        assert_eq!(parse_server("[::1]"), server("[::1]", None));
        assert_eq!(
            parse_server("[2001:db8::1]:25"),
            server("[2001:db8::1]", Some(25))
        );
        for bad in [
            "",
            ":25",
            "host:",
            "host:0",
            "host:65536",
            "host:x",
            "[::1",
            "[::1]2525",
            "[nope]:25",
            "::1:2525x",
            "a:b:c",
            "::1",
            "::1:25",
            "bad host",
            "host\r\n:25",
        ] {
            assert!(parse_server(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_timeout("0.25"), Ok(Duration::from_millis(250)));
        for bad in ["0", "-1", "NaN", "inf", "x", "1e30"] {
            assert!(parse_timeout(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn addresses_and_proxies() {
        assert_eq!(parse_ip("127.0.0.2"), Ok("127.0.0.2".parse().unwrap()));
        assert_eq!(parse_ip("[::1]"), Ok("::1".parse().unwrap()));
        assert!(parse_ip("localhost").is_err());
        let p = parse_proxy("socks5://u@127.0.0.1:1081").unwrap();
        assert_eq!(
            (p.host(), p.port(), p.user()),
            ("127.0.0.1", 1081, Some("u"))
        );
        let refused = parse_proxy("socks5://u:secret@127.0.0.1:1081").unwrap_err();
        assert!(refused.contains("SMTPC_PROXY_PASSWORD") && !refused.contains("secret"));
        assert!(parse_proxy("http://127.0.0.1:3128").is_err());
    }

    #[test]
    fn password_file_lines() {
        assert_eq!(first_line("hunter2\n"), "hunter2");
        assert_eq!(first_line("hunter2\r\nrest"), "hunter2");
        assert_eq!(first_line("hunter2"), "hunter2");
        assert_eq!(first_line(""), "");
    }

    #[test]
    fn the_definition_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
