//! Reaching the server: straight to it, or through a SOCKS5 proxy. Names
//! are resolved (the proxy's here, the server's by the proxy), addresses
//! connected to Happy Eyeballs style, all within the connect timeout, the
//! call's deadline, and a cancel.

use std::net::{IpAddr, TcpStream};
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
