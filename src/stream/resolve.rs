//! Resolving a host name into the addresses to try, within the call's
//! deadline and cancellable: `getaddrinfo` cannot be interrupted, so it
//! runs on a thread of its own, which is abandoned (it ends by itself)
//! when the caller stops waiting. An address literal needs no lookup.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use dns_lookup::{AddrInfoHints, LookupError, LookupErrorKind};

use crate::cancel::Canceller;
use crate::error::Error;

/// How often a wait for the resolver looks for a cancel.
const CANCEL_POLL: Duration = Duration::from_millis(10);

/// The addresses of `host` (a name, or an IP address with or without
/// brackets) on `port`, in the resolver's order (RFC 6724).
pub(crate) fn resolve(
    host: &str,
    port: u16,
    deadline: Option<Instant>,
    cancel: &Canceller,
) -> Result<Vec<SocketAddr>, Error> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let during = format!("resolving {bare}");
    let name = bare.to_owned();
    // A slot and a condition variable rather than a channel: a channel's
    // wait keeps a thread-local record of the calling thread, which a C
    // program's main thread never frees.
    let slot: Slot = Arc::new((Mutex::new(None), Condvar::new()));
    let theirs = Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name("smtpc-resolve".into())
        .spawn(move || {
            let found = lookup(&name);
            let (answer, ready) = &*theirs;
            *answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(found);
            ready.notify_one();
        });
    let found = match spawned {
        // No thread to be had: resolve here, without a deadline.
        Err(_) => lookup(bare),
        Ok(_) => {
            let (answer, ready) = &*slot;
            let mut answer = answer.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(found) = answer.take() {
                    break found;
                }
                if cancel.take() {
                    return Err(Error::Cancelled { during });
                }
                let mut wait = CANCEL_POLL;
                if let Some(d) = deadline {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::Deadline { during });
                    }
                    wait = wait.min(left);
                }
                answer = ready
                    .wait_timeout(answer, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
    };
    let ips = found.map_err(|e| lookup_error(e, bare))?;
    let mut addrs: Vec<SocketAddr> = Vec::with_capacity(ips.len());
    for ip in ips {
        let addr = SocketAddr::new(ip, port);
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(Error::UnknownHost {
            host: bare.to_owned(),
        });
    }
    Ok(addrs)
}

/// Where the resolver thread leaves its answer.
type Slot = Arc<(Mutex<Option<Result<Vec<IpAddr>, LookupError>>>, Condvar)>;

fn lookup(name: &str) -> Result<Vec<IpAddr>, LookupError> {
    let hints = AddrInfoHints {
        socktype: socket2::Type::STREAM.into(),
        ..AddrInfoHints::default()
    };
    dns_lookup::getaddrinfo(Some(name), None, Some(hints))?
        .map(|info| info.map(|i| i.sockaddr.ip()).map_err(LookupError::from))
        .collect()
}

/// A name that does not exist, or has no address, is
/// [`Error::UnknownHost`]; a resolver that could not answer is I/O.
fn lookup_error(e: LookupError, host: &str) -> Error {
    match e.kind() {
        LookupErrorKind::NoName | LookupErrorKind::NoData => Error::UnknownHost {
            host: host.to_owned(),
        },
        _ => Error::Io {
            during: format!("resolving {host}"),
            source: io::Error::from(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_lookup() {
        let c = Canceller::new();
        let got = resolve("[::1]", 25, None, &c).unwrap();
        assert_eq!(got, ["[::1]:25".parse().unwrap()]);
        let got = resolve("127.0.0.2", 2525, None, &c).unwrap();
        assert_eq!(got, ["127.0.0.2:2525".parse().unwrap()]);
    }

    #[test]
    fn a_name_that_does_not_exist_is_an_unknown_host() {
        let e = lookup_error(LookupError::new(libc_eai_noname()), "nowhere.test");
        assert!(matches!(&e, Error::UnknownHost { host } if host == "nowhere.test"));
        assert_eq!(e.to_string(), "unknown host nowhere.test");
        let e = lookup_error(LookupError::new(libc_eai_again()), "slow.test");
        assert!(matches!(e, Error::Io { .. }));
    }

    // glibc's values (netdb.h).
    fn libc_eai_noname() -> i32 {
        -2
    }
    fn libc_eai_again() -> i32 {
        -3
    }

    #[test]
    fn localhost_resolves_from_the_hosts_file() {
        let got = resolve("localhost", 25, None, &Canceller::new()).unwrap();
        assert!(got.iter().all(|a| a.ip().is_loopback()), "{got:?}");
    }
}
