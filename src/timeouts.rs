//! Time: the phases of a session and how long each may wait (RFC 5321
//! 4.5.3.2), and the limit a single wait runs to, which is the phase's
//! timeout or the call's deadline, whichever comes first.

use std::time::{Duration, Instant};

use crate::error::Error;

/// A wait of the session, each with its own timeout
/// ([`ClientBuilder::phase_timeout`](crate::ClientBuilder::phase_timeout)).
/// The defaults are RFC 5321 4.5.3.2's; connecting has its own timeout
/// ([`ClientBuilder::connect_timeout`](crate::ClientBuilder::connect_timeout)).
///
/// | phase | default | the waits it bounds |
/// |---|---|---|
/// | `Greeting` | 5 min | the server's 220 greeting |
/// | `Mail` | 5 min | the reply to `MAIL FROM` |
/// | `Rcpt` | 5 min | the reply to each `RCPT TO` |
/// | `Data` | 2 min | the reply to `DATA` (the 354) |
/// | `DataBlock` | 3 min | each write to the server, message content above all (every `send` on the socket must make progress within it), and the reply to a BDAT chunk that is not the last |
/// | `EndOfData` | 10 min | the reply to the end of data (`.`) or to `BDAT ... LAST`: the server may be delivering or scanning the message |
/// | `Other` | 5 min | the TLS handshake and the reply to every other command: EHLO, HELO, STARTTLS, AUTH, RSET, NOOP, VRFY, QUIT |
///
/// Each timeout bounds a whole reply, however slowly its bytes come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// The server's greeting.
    Greeting,
    /// The reply to `MAIL FROM`.
    Mail,
    /// The reply to each `RCPT TO`.
    Rcpt,
    /// The reply to `DATA`.
    Data,
    /// Each write to the server, and the reply to a BDAT chunk that is not
    /// the last.
    DataBlock,
    /// The reply to the end of data or to `BDAT ... LAST`.
    EndOfData,
    /// The TLS handshake and every other reply.
    Other,
}

impl Phase {
    /// Every phase.
    pub const ALL: [Phase; 7] = [
        Phase::Greeting,
        Phase::Mail,
        Phase::Rcpt,
        Phase::Data,
        Phase::DataBlock,
        Phase::EndOfData,
        Phase::Other,
    ];

    /// RFC 5321 4.5.3.2's timeout for this phase.
    pub const fn default_timeout(self) -> Duration {
        let minutes = match self {
            Phase::Greeting | Phase::Mail | Phase::Rcpt | Phase::Other => 5,
            Phase::Data => 2,
            Phase::DataBlock => 3,
            Phase::EndOfData => 10,
        };
        Duration::from_secs(minutes * 60)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The timeout of every phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts([Duration; 7]);

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts(Phase::ALL.map(Phase::default_timeout))
    }
}

impl Timeouts {
    /// The same timeout for every phase.
    pub fn all(timeout: Duration) -> Self {
        Timeouts([timeout; 7])
    }

    pub fn get(&self, phase: Phase) -> Duration {
        self.0[phase.index()]
    }

    pub fn set(&mut self, phase: Phase, timeout: Duration) {
        self.0[phase.index()] = timeout;
    }
}

/// Every limit on time a session has: the phases' timeouts, and the
/// deadline of each call (a time from its start, an absolute instant, or
/// both, the earlier winning).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Budget {
    pub timeouts: Timeouts,
    pub call_timeout: Option<Duration>,
    pub deadline: Option<Instant>,
}

impl Budget {
    /// The deadline of a call that starts now.
    pub fn call_deadline(&self) -> Option<Instant> {
        call_deadline(self.deadline, self.call_timeout)
    }
}

/// The earlier of `now + timeout` and `deadline`: how long one wait may
/// last, and which limit it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub at: Instant,
    /// The call's deadline comes first (else the phase's timeout).
    pub is_deadline: bool,
}

impl Limit {
    pub fn new(now: Instant, timeout: Duration, deadline: Option<Instant>) -> Limit {
        // A timeout too long to add is as good as none.
        let by_timeout = now.checked_add(timeout);
        match (by_timeout, deadline) {
            (Some(t), Some(d)) if d < t => Limit {
                at: d,
                is_deadline: true,
            },
            (None, Some(d)) => Limit {
                at: d,
                is_deadline: true,
            },
            (Some(t), _) => Limit {
                at: t,
                is_deadline: false,
            },
            // Neither: a century is forever here.
            (None, None) => Limit {
                at: now + Duration::from_secs(100 * 365 * 86400),
                is_deadline: false,
            },
        }
    }

    /// Time left, zero once it has passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// The error for a wait that ran into this limit.
    pub fn error(&self, during: &str) -> Error {
        let during = during.to_owned();
        if self.is_deadline {
            Error::Deadline { during }
        } else {
            Error::Timeout { during }
        }
    }
}

/// The deadline of a call that starts now: the earlier of the absolute
/// `deadline` and `now + call_timeout`.
pub(crate) fn call_deadline(
    deadline: Option<Instant>,
    call_timeout: Option<Duration>,
) -> Option<Instant> {
    let by_timeout = call_timeout.and_then(|t| Instant::now().checked_add(t));
    match (deadline, by_timeout) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_rfc_5321s() {
        let t = Timeouts::default();
        let min = |m: u64| Duration::from_secs(m * 60);
        assert_eq!(t.get(Phase::Greeting), min(5));
        assert_eq!(t.get(Phase::Mail), min(5));
        assert_eq!(t.get(Phase::Rcpt), min(5));
        assert_eq!(t.get(Phase::Data), min(2));
        assert_eq!(t.get(Phase::DataBlock), min(3));
        assert_eq!(t.get(Phase::EndOfData), min(10));
        assert_eq!(t.get(Phase::Other), min(5));
    }

    #[test]
    fn the_earlier_limit_wins() {
        let now = Instant::now();
        let l = Limit::new(
            now,
            Duration::from_secs(10),
            Some(now + Duration::from_secs(1)),
        );
        assert!(l.is_deadline);
        assert!(matches!(l.error("x"), Error::Deadline { .. }));
        let l = Limit::new(
            now,
            Duration::from_secs(1),
            Some(now + Duration::from_secs(10)),
        );
        assert!(!l.is_deadline);
        assert!(matches!(l.error("x"), Error::Timeout { .. }));
        let l = Limit::new(now, Duration::MAX, None);
        assert!(!l.remaining().is_zero());
        let d = call_deadline(Some(now), Some(Duration::from_secs(5)));
        assert_eq!(d, Some(now));
        assert_eq!(call_deadline(None, None), None);
    }
}
