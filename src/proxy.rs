//! The SOCKS5 proxy a session may go through: where it is and the
//! credentials it wants, as an option value (the handshake itself is
//! `stream::socks`).

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::error::Error;

/// The default SOCKS port.
const SOCKS_PORT: u16 = 1080;

/// A SOCKS5 proxy (RFC 1928) to reach the server through, with a user
/// name and password (RFC 1929) when it wants them. The proxy resolves
/// the server's name itself (so a name only the proxy's network knows
/// works, and no DNS query leaves this machine for it), and TLS, STARTTLS
/// or implicit, runs through it end to end with the certificate checked
/// against the server's name, never the proxy's.
///
/// ```
/// use smtpc::Proxy;
/// let p: Proxy = "socks5://me:s%40cret@proxy.example.org:1080".parse()?;
/// assert_eq!((p.host(), p.port(), p.user()), ("proxy.example.org", 1080, Some("me")));
/// // The password is never shown.
/// assert_eq!(format!("{p}"), "socks5://me@proxy.example.org:1080");
/// assert!(!format!("{p:?}").contains("s@cret"));
/// # Ok::<(), smtpc::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    host: String,
    port: u16,
    /// The user name, and the password (wiped when dropped).
    credentials: Option<(String, Zeroizing<String>)>,
}

impl Proxy {
    /// The SOCKS5 proxy at `host` (a name, an IPv4 address, or an IPv6
    /// address with or without brackets) and `port`.
    pub fn socks5(host: impl Into<String>, port: u16) -> Proxy {
        let host = host.into();
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(bare) => bare.to_owned(),
            None => host,
        };
        Proxy {
            host,
            port,
            credentials: None,
        }
    }

    /// Authenticates to the proxy with this user name and password (RFC
    /// 1929; each 1 to 255 bytes, checked at connect). They go to the proxy
    /// in the clear, as RFC 1929 has it.
    pub fn credentials(mut self, user: &str, password: &str) -> Proxy {
        self.credentials = Some((user.to_owned(), Zeroizing::new(password.to_owned())));
        self
    }

    /// Reads `socks5://[user:password@]host[:port]` (`socks5h://` is the
    /// same: the proxy always resolves the server's name). The port
    /// defaults to 1080; an IPv6 address goes in brackets; `%` escapes in
    /// the user name and password are decoded (`%40` for `@`, `%3A` for
    /// `:`).
    pub fn from_url(url: &str) -> Result<Proxy, Error> {
        let bad = |why: &str| Error::InvalidInput(format!("proxy URL: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected socks5://host:port"))?;
        if !scheme.eq_ignore_ascii_case("socks5") && !scheme.eq_ignore_ascii_case("socks5h") {
            return Err(bad("only socks5:// is supported"));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address lacks its ']'"))?;
            addr.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("not an IPv6 address in brackets"))?;
            match after {
                "" => (addr, None),
                _ => (
                    addr,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| bad("expected ':PORT'"))?,
                    ),
                ),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
            return Err(bad("no valid host"));
        }
        let port = match port {
            None => SOCKS_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(bad("not a port number")),
            },
        };
        let mut proxy = Proxy::socks5(host, port);
        if let Some(info) = userinfo {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            proxy = proxy.credentials(&decode(user, "user")?, &decode(password, "password")?);
        }
        Ok(proxy)
    }

    /// The proxy's host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name, when credentials were set.
    pub fn user(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(u, _)| u.as_str())
    }

    pub(crate) fn secret(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// `host:port`, IPv6 in brackets: how errors name the proxy.
    pub(crate) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The checks made before any connection.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if let Some((user, password)) = &self.credentials {
            for (what, value) in [("user name", user), ("password", &**password)] {
                if value.is_empty() || value.len() > 255 {
                    return Err(Error::InvalidInput(format!(
                        "the proxy's {what} must be 1 to 255 bytes (RFC 1929)"
                    )));
                }
            }
        }
        if self.host.is_empty() {
            return Err(Error::InvalidInput("the proxy's host is empty".into()));
        }
        Ok(())
    }
}

/// Decodes `%XX` escapes (RFC 3986) into UTF-8.
fn decode(text: &str, what: &str) -> Result<String, Error> {
    let bad = || Error::InvalidInput(format!("proxy URL: a bad % escape in the {what}"));
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next().ok_or_else(bad)?, bytes.next().ok_or_else(bad)?];
            let hex = std::str::from_utf8(&hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

impl FromStr for Proxy {
    type Err = Error;
    fn from_str(url: &str) -> Result<Proxy, Error> {
        Proxy::from_url(url)
    }
}

impl fmt::Display for Proxy {
    /// The URL without the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.user() {
            Some(user) => write!(f, "socks5://{user}@{}", self.address()),
            None => write!(f, "socks5://{}", self.address()),
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user())
            .field("password", &self.credentials.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let p = Proxy::from_url("socks5://127.0.0.1:11080").unwrap();
        assert_eq!((p.host(), p.port(), p.user()), ("127.0.0.1", 11080, None));
        let p = Proxy::from_url("SOCKS5H://[::1]").unwrap();
        assert_eq!((p.host(), p.port()), ("::1", 1080));
        assert_eq!(p.address(), "[::1]:1080");
        let p = Proxy::from_url("socks5://u%3Ax:p%40ss:word@h:9/").unwrap();
        assert_eq!(p.secret(), Some(("u:x", "p@ss:word")));
        for bad in [
            "127.0.0.1:1080",
            "http://h:80",
            "socks5://",
            "socks5://h:0",
            "socks5://h:x",
            "socks5://[::1",
            "socks5://u:%zz@h",
        ] {
            assert!(Proxy::from_url(bad).is_err(), "{bad} accepted");
        }
        assert!(Proxy::socks5("h", 1).credentials("", "p").check().is_err());
        assert!(Proxy::socks5("h", 1)
            .credentials("u", &"p".repeat(256))
            .check()
            .is_err());
    }
}
