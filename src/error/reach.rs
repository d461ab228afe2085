//! What an error says about reaching the server: each address tried, and
//! why a SOCKS5 proxy did not connect us.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// One address [`Error::Unreachable`](crate::Error::Unreachable) tried, and why it failed.
#[derive(Debug)]
pub struct ConnectAttempt {
    /// The address.
    pub address: SocketAddr,
    /// What happened: refused, unreachable, timed out (`TimedOut`)...
    pub error: io::Error,
}

impl fmt::Display for ConnectAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.address, self.error)
    }
}

pub(super) fn attempts_list(attempts: &[ConnectAttempt]) -> String {
    if attempts.is_empty() {
        return "no address to try".into();
    }
    let parts: Vec<String> = attempts.iter().map(ConnectAttempt::to_string).collect();
    format!("tried {}", parts.join(", "))
}

/// Why a SOCKS5 proxy did not connect us ([`Error::Proxy`](crate::Error::Proxy)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyFailure {
    /// The proxy refused the CONNECT with this reply code (RFC 1928 6):
    /// 1 general failure, 2 not allowed by its rules, 3 network
    /// unreachable, 4 host unreachable (also a name it could not
    /// resolve), 5 connection refused, 6 TTL expired, 7 command not
    /// supported, 8 address type not supported.
    Refused(u8),
    /// The proxy refused the user name and password (RFC 1929), with this
    /// status.
    CredentialsRefused(u8),
    /// The proxy accepts none of the authentication methods offered (it
    /// wants credentials that were not set, or does not take them).
    NoAcceptableMethod,
    /// The proxy's answer is not SOCKS5.
    Malformed(&'static str),
}

impl ProxyFailure {
    /// RFC 1928's meaning of a CONNECT reply code.
    pub fn reply_text(code: u8) -> &'static str {
        match code {
            1 => "general SOCKS server failure",
            2 => "connection not allowed by ruleset",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused",
            6 => "TTL expired",
            7 => "command not supported",
            8 => "address type not supported",
            _ => "unassigned reply code",
        }
    }
}

impl fmt::Display for ProxyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyFailure::Refused(code) => {
                write!(f, "refused with reply {code} ({})", Self::reply_text(*code))
            }
            ProxyFailure::CredentialsRefused(status) => {
                write!(
                    f,
                    "the user name and password were refused (status {status})"
                )
            }
            ProxyFailure::NoAcceptableMethod => {
                f.write_str("the proxy accepts none of the authentication methods offered")
            }
            ProxyFailure::Malformed(what) => write!(f, "not a SOCKS5 answer: {what}"),
        }
    }
}
