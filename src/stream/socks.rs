//! The client side of a SOCKS5 handshake (RFC 1928, with RFC 1929's user
//! name and password) over a connection to the proxy, within a time limit
//! and cancellable.
//!
//! Written here rather than taken from a crate: the blocking one (`socks`)
//! opens the TCP connection to the proxy itself, so it could bind no
//! source address, try no second address, bound no wait and be cancelled
//! by nothing, and it turns the proxy's reply code into text. The exchange
//! is three small messages.
//!
//! Each step waits for the proxy's answer before the next is sent, as RFC
//! 1928 has it: 2 round trips without credentials, 3 with them (a proxy
//! need not read ahead, and some drop what it did not ask for yet).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpStream};

use crate::cancel::Canceller;
use crate::error::{Error, ProxyFailure};
use crate::proxy::Proxy;
use crate::timeouts::Limit;

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const USER_PASSWORD: u8 = 2;
const NO_ACCEPTABLE: u8 = 0xff;
const CONNECT: u8 = 1;
const ATYP_V4: u8 = 1;
const ATYP_NAME: u8 = 3;
const ATYP_V6: u8 = 4;

/// A connection to the proxy during the handshake.
struct Exchange<'a> {
    tcp: &'a mut TcpStream,
    limit: Limit,
    cancel: &'a Canceller,
    during: String,
}

impl Exchange<'_> {
    fn fail(&self, e: io::Error) -> Error {
        let during = self.during.clone();
        if self.cancel.take() {
            return Error::Cancelled { during };
        }
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => self.limit.error(&during),
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Error::ConnectionClosed { during },
            _ => Error::Io { during, source: e },
        }
    }

    /// Sets the socket's timeouts to what is left, or fails when nothing is.
    fn arm(&self) -> Result<(), Error> {
        let left = self.limit.remaining();
        if left.is_zero() {
            return Err(self.limit.error(&self.during));
        }
        let left = Some(left.max(std::time::Duration::from_millis(1)));
        self.tcp
            .set_read_timeout(left)
            .and_then(|_| self.tcp.set_write_timeout(left))
            .map_err(|e| self.fail(e))
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.arm()?;
        self.tcp.write_all(bytes).map_err(|e| self.fail(e))
    }

    /// Reads exactly `buf.len()` bytes, each read within what is left.
    fn receive(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        let mut got = 0;
        while got < buf.len() {
            self.arm()?;
            match self.tcp.read(&mut buf[got..]) {
                Ok(0) => return Err(self.fail(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    // Loop: `arm` says whether the limit has passed.
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(())
    }
}

/// Asks `proxy`, already connected over `tcp`, to connect to
/// `host:port`. Returns the address the proxy connects from, when it says
/// (BND.ADDR): the address the server sees.
pub(crate) fn connect(
    tcp: &mut TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
    limit: Limit,
    cancel: &Canceller,
) -> Result<Option<IpAddr>, Error> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let target = if bare.contains(':') {
        format!("[{bare}]:{port}")
    } else {
        format!("{bare}:{port}")
    };
    let refused = |failure| Error::Proxy {
        proxy: proxy.address(),
        target: target.clone(),
        failure,
    };
    let request = connect_request(bare, port)?;
    let mut x = Exchange {
        tcp,
        limit,
        cancel,
        during: format!("SOCKS5 handshake with proxy {}", proxy.address()),
    };

    // Method selection: offer user/password only when there are credentials.
    let secret = proxy.secret();
    if secret.is_some() {
        x.send(&[VERSION, 2, NO_AUTH, USER_PASSWORD])?;
    } else {
        x.send(&[VERSION, 1, NO_AUTH])?;
    }
    let mut answer = [0u8; 2];
    x.receive(&mut answer)?;
    if answer[0] != VERSION {
        return Err(refused(ProxyFailure::Malformed(
            "wrong version in the method reply",
        )));
    }
    match (answer[1], secret) {
        (NO_AUTH, _) => {}
        (USER_PASSWORD, Some((user, password))) => {
            let mut auth = Vec::with_capacity(3 + user.len() + password.len());
            auth.push(1);
            auth.push(user.len() as u8);
            auth.extend_from_slice(user.as_bytes());
            auth.push(password.len() as u8);
            auth.extend_from_slice(password.as_bytes());
            x.send(&auth)?;
            x.receive(&mut answer)?;
            if answer[1] != 0 {
                return Err(refused(ProxyFailure::CredentialsRefused(answer[1])));
            }
        }
        (NO_ACCEPTABLE, _) => return Err(refused(ProxyFailure::NoAcceptableMethod)),
        _ => {
            return Err(refused(ProxyFailure::Malformed(
                "the proxy chose a method that was not offered",
            )))
        }
    }

    x.send(&request)?;
    let mut head = [0u8; 4];
    x.receive(&mut head)?;
    if head[0] != VERSION {
        return Err(refused(ProxyFailure::Malformed(
            "wrong version in the CONNECT reply",
        )));
    }
    if head[1] != 0 {
        return Err(refused(ProxyFailure::Refused(head[1])));
    }
    let bound = match head[3] {
        ATYP_V4 => {
            let mut a = [0u8; 4 + 2];
            x.receive(&mut a)?;
            Some(IpAddr::from([a[0], a[1], a[2], a[3]]))
        }
        ATYP_V6 => {
            let mut a = [0u8; 16 + 2];
            x.receive(&mut a)?;
            let octets: [u8; 16] = a[..16].try_into().expect("16 bytes");
            Some(IpAddr::from(octets))
        }
        ATYP_NAME => {
            let mut len = [0u8; 1];
            x.receive(&mut len)?;
            let mut rest = vec![0u8; len[0] as usize + 2];
            x.receive(&mut rest)?;
            None
        }
        _ => {
            return Err(refused(ProxyFailure::Malformed(
                "an unknown address type in the CONNECT reply",
            )))
        }
    };
    Ok(bound.filter(|ip| !ip.is_unspecified()))
}

/// The CONNECT request for `host` (an address literal is sent as an
/// address, a name as a name for the proxy to resolve).
fn connect_request(host: &str, port: u16) -> Result<Vec<u8>, Error> {
    let mut r = vec![VERSION, CONNECT, 0];
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            r.push(ATYP_V4);
            r.extend_from_slice(&Ipv4Addr::octets(&v4));
        }
        Ok(IpAddr::V6(v6)) => {
            r.push(ATYP_V6);
            r.extend_from_slice(&Ipv6Addr::octets(&v6));
        }
        Err(_) => {
            if host.is_empty() || host.len() > 255 {
                return Err(Error::InvalidInput(format!(
                    "a host name of {} bytes cannot go through SOCKS5 (1 to 255)",
                    host.len()
                )));
            }
            r.push(ATYP_NAME);
            r.push(host.len() as u8);
            r.extend_from_slice(host.as_bytes());
        }
    }
    r.extend_from_slice(&port.to_be_bytes());
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(
            connect_request("mail.test", 587).unwrap(),
            [5, 1, 0, 3, 9, b'm', b'a', b'i', b'l', b'.', b't', b'e', b's', b't', 2, 75]
        );
        assert_eq!(
            connect_request("127.0.0.1", 25).unwrap(),
            [5, 1, 0, 1, 127, 0, 0, 1, 0, 25]
        );
        let v6 = connect_request("::1", 25).unwrap();
        assert_eq!((v6[3], v6.len(), v6[19]), (4, 22, 1));
        assert!(connect_request(&"a".repeat(256), 25).is_err());
    }
}
