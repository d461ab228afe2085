//! Reaching the server: resolving its name, connecting, and the socket
//! options a session needs; and the address literal a client names itself
//! by when it has no name.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::error::Error;

/// Resolves `host` and connects to the first address that answers within
/// `connect_timeout`. The socket sends each write at once (no Nagle: a
/// command group must not wait for an ACK) and gives up on a write that
/// makes no progress for `write_timeout`.
pub(crate) fn connect(
    host: &str,
    port: u16,
    connect_timeout: Duration,
    write_timeout: Duration,
) -> Result<TcpStream, Error> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let during = format!("connecting to {host}:{port}");
    let addrs: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|source| Error::Io {
            during: format!("resolving {bare}"),
            source,
        })?
        .collect();
    let mut last = None;
    let mut connected = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, connect_timeout) {
            Ok(s) => {
                connected = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(tcp) = connected else {
        return Err(match last {
            Some(e) if e.kind() == io::ErrorKind::TimedOut => Error::Timeout { during },
            Some(source) => Error::Io { during, source },
            None => Error::InvalidInput(format!("{bare} has no address")),
        });
    };
    let setup = |source| Error::Io {
        during: during.clone(),
        source,
    };
    tcp.set_nodelay(true).map_err(setup)?;
    tcp.set_write_timeout(Some(write_timeout.max(Duration::from_millis(1))))
        .map_err(setup)?;
    Ok(tcp)
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 4.1.3).
pub(crate) fn address_literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("[{v4}]"),
            None => format!("[IPv6:{v6}]"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_literals() {
        assert_eq!(address_literal("192.0.2.1".parse().unwrap()), "[192.0.2.1]");
        assert_eq!(address_literal("::1".parse().unwrap()), "[IPv6:::1]");
        assert_eq!(
            address_literal("::ffff:10.0.0.1".parse().unwrap()),
            "[10.0.0.1]"
        );
    }
}
