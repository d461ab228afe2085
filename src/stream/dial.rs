//! Reaching the server: straight to it, or through a SOCKS5 proxy. Names
//! are resolved (the proxy's here, the server's by the proxy), addresses
//! connected to Happy Eyeballs style, all within the connect timeout, the
//! call's deadline, and a cancel.

use std::net::{IpAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Instant;

use super::{net, resolve, socks};
use crate::cancel::Watched;
use crate::error::Error;
use crate::proxy::Proxy;
use crate::timeouts::Limit;

pub(crate) use net::Dial;

/// A connection to the server (perhaps through the proxy).
pub(crate) struct Dialed {
    pub tcp: TcpStream,
    /// The canceller's watch on `tcp`.
    pub watched: Option<Watched>,
    /// Where it goes, for the transcript.
    pub route: String,
    /// The address the server sees this client at, when known: the
    /// socket's own, or the one the proxy connects from.
    pub seen_as: Option<IpAddr>,
}

/// `host:port`, IPv6 in brackets.
fn target(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Connects to `host:port`, through `proxy` when one is set.
pub(crate) fn dial(
    host: &str,
    port: u16,
    proxy: Option<&Proxy>,
    how: &Dial<'_>,
) -> Result<Dialed, Error> {
    let Some(proxy) = proxy else {
        let addrs = resolve::resolve(host, port, how.deadline, how.cancel)?;
        let (tcp, watched) = net::connect(&addrs, &target(host, port), how)?;
        let peer = tcp.peer_addr().map(|a| a.to_string());
        return Ok(Dialed {
            route: peer.unwrap_or_else(|_| target(host, port)),
            seen_as: tcp.local_addr().ok().map(|a| a.ip()),
            tcp,
            watched,
        });
    };
    let addrs = resolve::resolve(proxy.host(), proxy.port(), how.deadline, how.cancel)?;
    let (mut tcp, watched) = net::connect(&addrs, &proxy.address(), how)?;
    // The handshake, the proxy's own connect included, within the connect
    // timeout (and the call's deadline).
    let limit = Limit::new(Instant::now(), how.connect_timeout, how.deadline);
    let bound = socks::connect(&mut tcp, proxy, host, port, limit, how.cancel)?;
    let via = tcp
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| proxy.address());
    Ok(Dialed {
        route: format!("{} through SOCKS5 proxy {via}", target(host, port)),
        seen_as: bound,
        tcp,
        watched,
    })
}

/// Connects to the UNIX domain socket at `path`. Connecting to a local
/// socket does not wait on a network (it succeeds, or fails at once), so
/// only a cancel or a deadline that came first stop it.
///
/// The socket is carried as a `TcpStream`, the one stream socket type the
/// rest of the crate knows: every call made on it (read, write, the
/// timeouts, shutdown, non-blocking, sendfile) is a plain socket call
/// that a UNIX stream socket answers the same way; the TCP-only ones
/// (TCP_NODELAY) are never made on it. The same holds for a UNIX socket
/// a caller hands to `connect_socket`.
pub(crate) fn unix(path: &Path, how: &Dial<'_>) -> Result<Dialed, Error> {
    let route = format!("unix:{}", path.display());
    if how.cancel.take() {
        return Err(Error::Cancelled { during: route });
    }
    if how.deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(Error::Deadline { during: route });
    }
    let socket = UnixStream::connect(path).map_err(|source| Error::Io {
        during: format!("connecting to {route}"),
        source,
    })?;
    let tcp = TcpStream::from(OwnedFd::from(socket));
    let watched = how.cancel.watch(&tcp).map_err(|source| Error::Io {
        during: format!("connecting to {route}"),
        source,
    })?;
    Ok(Dialed {
        tcp,
        watched: Some(watched),
        route,
        seen_as: None,
    })
}
