//! Connecting to one of a host's addresses the way RFC 8305 (Happy
//! Eyeballs v2) says: IPv6 and IPv4 interleaved, the next attempt started
//! when the one before has not connected within 250 ms (at once when it
//! failed), the first to connect kept and the rest closed. Each attempt
//! has its own connect timeout; the call's deadline and a cancel end them
//! all. And the address literal a client names itself by.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Protocol, Socket, Type};

use crate::cancel::{Canceller, Watched};
use crate::error::{ConnectAttempt, Error};

/// RFC 8305 5's Connection Attempt Delay.
pub(crate) const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// How to connect: the options, and what may end it early.
pub(crate) struct Dial<'a> {
    /// How long each attempt may take.
    pub connect_timeout: Duration,
    /// The source address to bind, if any.
    pub local: Option<IpAddr>,
    pub deadline: Option<Instant>,
    pub cancel: &'a Canceller,
}

/// An attempt in progress.
struct Attempt {
    address: SocketAddr,
    socket: Socket,
    until: Instant,
    _watched: Option<Watched>,
}

/// The order of the attempts (RFC 8305 4): the resolver's order within
/// each family, the families alternating, starting with the first
/// address's family. Addresses the source address cannot reach (the other
/// family) are left out.
pub(crate) fn attempt_order(addrs: &[SocketAddr], local: Option<IpAddr>) -> Vec<SocketAddr> {
    let usable: Vec<SocketAddr> = addrs
        .iter()
        .copied()
        .filter(|a| local.is_none_or(|l| l.is_ipv4() == a.is_ipv4()))
        .collect();
    let Some(first) = usable.first() else {
        return usable;
    };
    let first_v6 = first.is_ipv6();
    let (mut lead, mut other): (Vec<SocketAddr>, Vec<SocketAddr>) =
        usable.iter().partition(|a| a.is_ipv6() == first_v6);
    lead.reverse();
    other.reverse();
    let mut order = Vec::with_capacity(usable.len());
    while !lead.is_empty() || !other.is_empty() {
        order.extend(lead.pop());
        order.extend(other.pop());
    }
    order
}

/// Connects to the first of `addrs` that answers (`target` names them in
/// errors). The socket comes back blocking, without Nagle (a command
/// group must not wait for an ACK), and watched by the canceller.
pub(crate) fn connect(
    addrs: &[SocketAddr],
    target: &str,
    dial: &Dial<'_>,
) -> Result<(TcpStream, Option<Watched>), Error> {
    let during = || format!("connecting to {target}");
    let order = attempt_order(addrs, dial.local);
    let mut failed: Vec<ConnectAttempt> = Vec::new();
    if let Some(local) = dial.local {
        for a in addrs.iter().filter(|a| !order.contains(a)) {
            failed.push(ConnectAttempt {
                address: *a,
                error: io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    format!("not tried: the source address {local} is of the other family"),
                ),
            });
        }
    }
    let mut next = 0;
    let mut next_start = Instant::now();
    let mut pending: Vec<Attempt> = Vec::new();
    loop {
        if dial.cancel.take() {
            return Err(Error::Cancelled { during: during() });
        }
        let now = Instant::now();
        if dial.deadline.is_some_and(|d| now >= d) {
            return Err(Error::Deadline { during: during() });
        }
        pending.retain(|a| {
            let alive = now < a.until;
            if !alive {
                failed.push(ConnectAttempt {
                    address: a.address,
                    error: io::Error::new(io::ErrorKind::TimedOut, "timed out"),
                });
            }
            alive
        });
        if next < order.len() && (pending.is_empty() || now >= next_start) {
            let address = order[next];
            next += 1;
            match start(address, dial) {
                Ok(attempt) => {
                    pending.push(attempt);
                    next_start = now + ATTEMPT_DELAY;
                }
                Err(error) => {
                    failed.push(ConnectAttempt { address, error });
                    next_start = now;
                }
            }
            continue;
        }
        if pending.is_empty() {
            return Err(Error::Unreachable {
                target: target.to_owned(),
                attempts: failed,
            });
        }
        let mut wake = pending.iter().map(|a| a.until).min().expect("pending");
        if next < order.len() {
            wake = wake.min(next_start);
        }
        if let Some(d) = dial.deadline {
            wake = wake.min(d);
        }
        let ready =
            wait(&pending, wake.saturating_duration_since(now)).map_err(|source| Error::Io {
                during: during(),
                source,
            })?;
        if dial.cancel.take() {
            return Err(Error::Cancelled { during: during() });
        }
        // From the last, so that the indices stay right.
        for i in ready.into_iter().rev() {
            let attempt = pending.remove(i);
            match outcome(&attempt.socket) {
                Ok(()) => return finish(attempt, dial, during),
                Err(error) => {
                    failed.push(ConnectAttempt {
                        address: attempt.address,
                        error,
                    });
                    // RFC 8305 5: a failure starts the next attempt at once.
                    next_start = Instant::now();
                }
            }
        }
    }
}

/// Opens a non-blocking socket to `address`, from the source address if
/// one is set; the connection is then under way.
fn start(address: SocketAddr, dial: &Dial<'_>) -> io::Result<Attempt> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    if let Some(local) = dial.local {
        socket.bind(&SocketAddr::new(local, 0).into())?;
    }
    let watched = dial.cancel.watch(&TcpStream::from(socket.try_clone()?))?;
    match socket.connect(&address.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(Errno::EINPROGRESS as i32) => {}
        Err(e) => return Err(e),
    }
    Ok(Attempt {
        address,
        socket,
        until: Instant::now() + dial.connect_timeout,
        _watched: Some(watched),
    })
}

/// Waits up to `wait` for any attempt to connect or fail; returns the
/// indices of those that did.
fn wait(pending: &[Attempt], wait: Duration) -> io::Result<Vec<usize>> {
    let mut fds: Vec<PollFd<'_>> = pending
        .iter()
        .map(|a| PollFd::new(a.socket.as_fd(), PollFlags::POLLOUT))
        .collect();
    // Whole milliseconds, rounded up so as not to wake early and spin.
    let ms = wait.as_micros().div_ceil(1000).min(u16::MAX as u128) as u16;
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(_) => {}
        Err(Errno::EINTR) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    }
    Ok(fds
        .iter()
        .enumerate()
        .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
        .map(|(i, _)| i)
        .collect())
}

/// Whether a socket that polled ready connected: its pending error says.
fn outcome(socket: &Socket) -> io::Result<()> {
    match socket.take_error()? {
        Some(e) => Err(e),
        // Ready without an error: connected, unless it is not (then
        // getpeername says ENOTCONN).
        None => socket.peer_addr().map(|_| ()),
    }
}

fn finish(
    attempt: Attempt,
    dial: &Dial<'_>,
    during: impl Fn() -> String,
) -> Result<(TcpStream, Option<Watched>), Error> {
    let Attempt {
        socket, _watched, ..
    } = attempt;
    let setup = |source| Error::Io {
        during: during(),
        source,
    };
    socket.set_nonblocking(false).map_err(setup)?;
    let tcp = TcpStream::from(socket);
    tcp.set_nodelay(true).map_err(setup)?;
    // A cancel that came just now has shut this socket down: the next
    // read says so. Taking it here would lose nothing but a round trip.
    let _ = dial;
    Ok((tcp, _watched))
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
    use std::net::TcpListener;

    #[test]
    fn address_literals() {
        assert_eq!(address_literal("192.0.2.1".parse().unwrap()), "[192.0.2.1]");
        assert_eq!(address_literal("::1".parse().unwrap()), "[IPv6:::1]");
        assert_eq!(
            address_literal("::ffff:10.0.0.1".parse().unwrap()),
            "[10.0.0.1]"
        );
    }

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn families_alternate_from_the_first() {
        let given = addrs(&[
            "[::1]:1",
            "[::2]:1",
            "[::3]:1",
            "127.0.0.1:1",
            "127.0.0.2:1",
        ]);
        assert_eq!(
            attempt_order(&given, None),
            addrs(&[
                "[::1]:1",
                "127.0.0.1:1",
                "[::2]:1",
                "127.0.0.2:1",
                "[::3]:1"
            ])
        );
        let given = addrs(&["127.0.0.1:1", "[::1]:1"]);
        assert_eq!(attempt_order(&given, None), given);
        // A source address keeps its own family only.
        let v4 = Some("127.0.0.1".parse().unwrap());
        assert_eq!(
            attempt_order(&addrs(&["[::1]:1", "127.0.0.2:1"]), v4),
            addrs(&["127.0.0.2:1"])
        );
    }

    fn dial(c: &Canceller) -> Dial<'_> {
        Dial {
            connect_timeout: Duration::from_secs(60),
            local: None,
            deadline: Some(Instant::now() + Duration::from_secs(20)),
            cancel: c,
        }
    }

    /// A listener on [::1] whose accept queue is full: SYNs to it are
    /// dropped, so connecting hangs. (None where ::1 is not available.)
    fn black_hole() -> Option<(TcpListener, TcpStream)> {
        let socket = Socket::new(Domain::IPV6, Type::STREAM, None).ok()?;
        socket
            .bind(&"[::1]:0".parse::<SocketAddr>().unwrap().into())
            .ok()?;
        socket.listen(0).ok()?;
        let listener = TcpListener::from(socket);
        let filler = TcpStream::connect(listener.local_addr().ok()?).ok()?;
        Some((listener, filler))
    }

    #[test]
    fn a_black_hole_first_does_not_hold_up_the_next_address() {
        let Some((hole, _filler)) = black_hole() else {
            eprintln!("SKIPPED: no IPv6 loopback here");
            return;
        };
        let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let given = [hole.local_addr().unwrap(), v4.local_addr().unwrap()];
        let c = Canceller::new();
        // The attempt to the black hole would run 60 s, past the deadline
        // of 20 s: only trying the next address after 250 ms connects.
        let (tcp, _) = connect(&given, "both", &dial(&c)).unwrap();
        assert_eq!(tcp.peer_addr().unwrap(), given[1]);
    }

    #[test]
    fn every_failure_is_listed() {
        let closed = |a: &str| {
            let l = TcpListener::bind(a).unwrap();
            l.local_addr().unwrap()
            // dropped: nothing listens there any more
        };
        let given = [closed("127.0.0.1:0"), closed("127.0.0.1:0")];
        let c = Canceller::new();
        let e = connect(&given, "nowhere:1", &dial(&c)).unwrap_err();
        match &e {
            Error::Unreachable { target, attempts } => {
                assert_eq!(target, "nowhere:1");
                let tried: Vec<SocketAddr> = attempts.iter().map(|a| a.address).collect();
                assert_eq!(tried, given);
                assert!(attempts
                    .iter()
                    .all(|a| a.error.kind() == io::ErrorKind::ConnectionRefused));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.kind(), crate::error::ErrorKind::Io);
        assert!(
            e.to_string()
                .starts_with("connecting to nowhere:1: tried 127.0.0.1:"),
            "{e}"
        );
    }

    #[test]
    fn a_cancel_ends_a_hanging_connect() {
        let Some((hole, _filler)) = black_hole() else {
            eprintln!("SKIPPED: no IPv6 loopback here");
            return;
        };
        let c = Canceller::new();
        let remote = c.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            remote.cancel();
        });
        let e = connect(&[hole.local_addr().unwrap()], "hole", &dial(&c)).unwrap_err();
        t.join().unwrap();
        assert!(matches!(e, Error::Cancelled { .. }), "{e:?}");
    }

    #[test]
    fn the_source_address_is_bound() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = Canceller::new();
        let mut d = dial(&c);
        d.local = Some("127.0.0.2".parse().unwrap());
        let (tcp, _) = connect(&[l.local_addr().unwrap()], "l", &d).unwrap();
        assert_eq!(tcp.local_addr().unwrap().ip(), d.local.unwrap());
        let (_, peer) = l.accept().unwrap();
        assert_eq!(peer.ip(), d.local.unwrap());
        // An IPv6 server cannot be reached from an IPv4 source.
        let e = connect(&addrs(&["[::1]:25"]), "v6", &d).unwrap_err();
        assert!(
            e.to_string().contains("not tried: the source address"),
            "{e}"
        );
    }
}
