//! A session's life: setting it up (the greeting, EHLO or HELO when the
//! server does not know EHLO, STARTTLS, AUTH), keeping it (a connection
//! that sat idle is checked before it carries a transaction) and opening
//! it again when the server closed it or took all the messages it takes
//! on one connection. What the server offers comes out as [`Extensions`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::auth::{self, AuthConfig};
use crate::cancel::Canceller;
use crate::command::Command;
use crate::connection::Connection;
use crate::error::Error;
use crate::extensions::Extensions;
use crate::protocol::Protocol;
use crate::proxy::Proxy;
use crate::reply::{Reply, ReplyClass};
use crate::stream::dial::{self, Dial};
use crate::stream::{net, Stream};
use crate::success::Step;
use crate::timeouts::{Budget, Phase};
use crate::tls::{SharedConnector, Tls};
use crate::transcript::{Direction, Transcript};

/// What the session is set up with.
#[derive(Debug, Clone)]
pub(crate) struct SessionConfig {
    pub helo_name: String,
    pub tls: Tls,
    /// SMTP, or LMTP (LHLO, a reply per recipient after the message).
    pub protocol: Protocol,
    /// Set when `tls` is not `Tls::None`; built at the first handshake,
    /// then kept for the connections that replace this one.
    pub connector: Option<SharedConnector>,
    /// The name the server's certificate must carry (and the SNI).
    pub tls_name: String,
    pub auth: Option<AuthConfig>,
}

/// The state of a set-up session.
#[derive(Debug, Clone)]
pub(crate) struct SessionInfo {
    pub greeting: Reply,
    pub hello: Reply,
    pub extensions: Extensions,
    /// The reply that accepted our credentials, when we authenticated.
    pub auth: Option<Reply>,
}

/// Where the server is and how it is reached, to connect (again).
#[derive(Debug, Clone)]
pub(crate) struct Reach {
    pub host: String,
    pub port: u16,
    /// A UNIX socket instead of `host:port`.
    pub unix: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// The phases' timeouts and the calls' deadlines.
    pub budget: Budget,
    /// No HELO name was set: each connection names itself by its own
    /// address (RFC 5321 4.1.4).
    pub helo_from_address: bool,
    /// The source address, if one is set.
    pub local: Option<IpAddr>,
    pub proxy: Option<Proxy>,
    pub canceller: Canceller,
}

/// When a connection is checked, renewed or given up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Upkeep {
    /// A connection idle this long is checked with NOOP before it carries
    /// a transaction.
    pub noop_after: Duration,
    /// At most this many messages per connection; the next go over a new
    /// one.
    pub max_messages: Option<usize>,
    /// At most this many recipients per transaction.
    pub max_recipients: Option<usize>,
    /// Whether a closed connection may be opened again by itself.
    pub reconnect: bool,
}

/// An idle connection is looked at (without a round trip) before it
/// carries a transaction once it has been idle this long; a batch's
/// back-to-back messages are not.
const LOOK_AFTER: Duration = Duration::from_secs(1);

/// A live session: the connection, what the server offered, and how to
/// open it again.
#[derive(Debug)]
pub(crate) struct Session {
    pub conn: Connection,
    pub info: SessionInfo,
    pub setup: SessionConfig,
    /// None: a caller's own stream, which cannot be opened again.
    reach: Option<Reach>,
    pub upkeep: Upkeep,
    /// Transactions started on this connection.
    pub started: usize,
    /// Transactions the server took on this connection.
    pub delivered: usize,
}

impl Session {
    /// Connects over TCP and sets the session up.
    pub fn connect(
        reach: Reach,
        mut setup: SessionConfig,
        upkeep: Upkeep,
        mut transcript: Transcript,
    ) -> Result<Session, Error> {
        // The whole set-up is the connect call's.
        let deadline = reach.budget.call_deadline();
        // The first connection with these options builds the TLS
        // connector while it connects and waits for the greeting.
        if matches!(setup.tls, Tls::StartTls | Tls::Implicit) {
            if let Some(connector) = &setup.connector {
                connector.build_ahead();
            }
        }
        let conn = connect(&reach, &mut setup, &mut transcript, deadline)?;
        Session::start(conn, setup, Some(reach), upkeep)
    }

    /// Sets the session up over a connection to a stream or socket the
    /// caller opened (the session cannot open it again).
    pub fn over(conn: Connection, setup: SessionConfig, upkeep: Upkeep) -> Result<Session, Error> {
        Session::start(conn, setup, None, upkeep)
    }

    fn start(
        mut conn: Connection,
        setup: SessionConfig,
        reach: Option<Reach>,
        upkeep: Upkeep,
    ) -> Result<Session, Error> {
        let info = open(&mut conn, &setup)?;
        Ok(Session {
            conn,
            info,
            setup,
            reach,
            upkeep,
            started: 0,
            delivered: 0,
        })
    }

    /// The absolute deadline of every call from now on, on this
    /// connection and the ones that replace it.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.conn.set_deadline(deadline);
        if let Some(reach) = &mut self.reach {
            reach.budget.deadline = deadline;
        }
    }

    /// Whether a new connection can replace this one.
    pub fn can_reconnect(&self) -> bool {
        self.upkeep.reconnect && self.reach.is_some()
    }

    /// Whether this connection has carried all the messages it may.
    pub fn is_spent(&self) -> bool {
        self.upkeep
            .max_messages
            .is_some_and(|max| self.started >= max)
    }

    /// Ends this connection with QUIT (its answer changes nothing) and
    /// opens a new one, set up as the first was (TLS and AUTH again).
    pub fn reconnect(&mut self) -> Result<(), Error> {
        let Some(reach) = self.reach.as_ref() else {
            return Err(Error::ConnectionClosed {
                during: "connecting again (the stream was the caller's)".into(),
            });
        };
        if !self.conn.is_closed() {
            let _ = self.conn.execute(&Command::Quit);
            self.conn.shutdown();
        }
        let mut transcript = self.conn.take_transcript();
        transcript.note(Direction::Info, "connecting again");
        // Within the deadline of the call that needs the new connection.
        let deadline = self.conn.call_deadline();
        let mut conn = connect(reach, &mut self.setup, &mut transcript, deadline)?;
        self.info = open(&mut conn, &self.setup)?;
        self.conn = conn;
        self.started = 0;
        self.delivered = 0;
        Ok(())
    }

    /// Before a transaction: a connection that sat idle is looked at
    /// without a round trip (the server may have closed it, or said 421),
    /// and after `noop_after` checked with NOOP. A connection found closed
    /// so is opened again when it may be; otherwise it stays closed and
    /// the transaction fails on it. One that was closed already (QUIT, or
    /// a failure a call reported) stays closed.
    pub fn ready(&mut self) -> Result<(), Error> {
        if self.conn.is_closed() {
            // Closed by QUIT or by an earlier failure that was reported:
            // later calls say so (the caller connects again).
            return Ok(());
        }
        let idle = self.conn.idle();
        if idle >= LOOK_AFTER && self.conn.look() && idle >= self.upkeep.noop_after {
            let ok = self
                .conn
                .execute(&Command::Noop)
                .is_ok_and(|r| Step::Noop.accepts(r.code));
            if !ok && !self.conn.is_closed() {
                // An answer that is not 250: nothing it says can be
                // trusted for the next transaction.
                self.conn.shutdown();
            }
        }
        if self.conn.is_closed() && self.can_reconnect() {
            self.reconnect()?;
        }
        Ok(())
    }
}

/// Connects to the server (its addresses Happy Eyeballs style, or
/// through the proxy) by `deadline`, says so in the transcript, and names
/// the client by the address the server sees when no HELO name was set.
fn connect(
    reach: &Reach,
    setup: &mut SessionConfig,
    transcript: &mut Transcript,
    deadline: Option<Instant>,
) -> Result<Connection, Error> {
    let how = Dial {
        connect_timeout: reach.connect_timeout,
        local: reach.local,
        deadline,
        cancel: &reach.canceller,
    };
    let dialed = match &reach.unix {
        Some(path) => dial::unix(path, &how)?,
        None => dial::dial(&reach.host, reach.port, reach.proxy.as_ref(), &how)?,
    };
    transcript.note(Direction::Info, &format!("connected to {}", dialed.route));
    if reach.helo_from_address {
        if let Some(ip) = dialed.seen_as {
            setup.helo_name = net::address_literal(ip);
        }
    }
    let mut conn = Connection::new(
        Stream::Tcp(dialed.tcp),
        reach.budget,
        std::mem::take(transcript),
        reach.canceller.clone(),
        dialed.watched,
    );
    conn.set_call_deadline(deadline);
    Ok(conn)
}

/// Sets up the session: TLS from the first byte when implicit, greeting,
/// hello, STARTTLS as the mode asks, AUTH when credentials are set. On
/// failure the server is told QUIT (RFC 5321 3.1, RFC 3207 4.1) unless the
/// connection is already closed.
pub(crate) fn open(conn: &mut Connection, config: &SessionConfig) -> Result<SessionInfo, Error> {
    let result = setup(conn, config);
    if result.is_err() && !conn.is_closed() {
        conn.queue(&Command::Quit);
        let _ = conn.flush("QUIT");
        conn.shutdown();
    }
    result
}

fn setup(conn: &mut Connection, config: &SessionConfig) -> Result<SessionInfo, Error> {
    if config.tls == Tls::Implicit {
        conn.start_tls(&connector(config)?, &config.tls_name)?;
    }
    let greeting = Error::check(
        conn.read_reply("greeting", Phase::Greeting)?,
        Step::Greeting,
    )?;
    let (mut hello, mut extensions) = match config.protocol {
        Protocol::Smtp => hello(conn, &config.helo_name)?,
        Protocol::Lmtp => lhlo(conn, &config.helo_name)?,
    };
    if matches!(config.tls, Tls::StartTls | Tls::Opportunistic) {
        if extensions.starttls() {
            starttls(conn, config)?;
            // RFC 3207 4.2: forget everything learned before TLS.
            (hello, extensions) = again(conn, config)?;
        } else if config.tls == Tls::StartTls {
            return Err(Error::TlsUnavailable { reply: None });
        } else {
            conn.note(
                Direction::Info,
                "STARTTLS not offered: continuing without TLS",
            );
        }
    }
    let auth = match &config.auth {
        Some(auth) => Some(auth::authenticate(conn, &extensions, auth)?),
        None => None,
    };
    Ok(SessionInfo {
        greeting,
        hello,
        extensions,
        auth,
    })
}

fn connector(config: &SessionConfig) -> Result<native_tls::TlsConnector, Error> {
    config
        .connector
        .as_ref()
        .ok_or_else(|| Error::InvalidInput("TLS requested but not configured".into()))?
        .get()
}

/// STARTTLS and the handshake. Any byte that arrived after the 220 was
/// sent before TLS by someone who wants it read as if it came over TLS:
/// the connection is dropped, those bytes unread.
fn starttls(conn: &mut Connection, config: &SessionConfig) -> Result<(), Error> {
    let reply = conn.execute(&Command::StartTls)?;
    if !Step::StartTls.accepts(reply.code) {
        // A refusal says TLS is unavailable; a 221 or another 2yz is no
        // refusal but a server that left or does not follow the protocol.
        return Err(match reply.class() {
            ReplyClass::TransientNegative | ReplyClass::PermanentNegative => {
                Error::TlsUnavailable { reply: Some(reply) }
            }
            _ => Error::refusal(reply, Step::StartTls.expected()),
        });
    }
    let extra = conn.buffered_input();
    if extra > 0 {
        conn.shutdown();
        return Err(Error::StartTlsInjection { bytes: extra });
    }
    conn.start_tls(&connector(config)?, &config.tls_name)
}

/// EHLO, falling back to HELO only when EHLO is answered 500 or 502 (the
/// server does not know it). Any other refusal, 421 included, is an error.
pub(crate) fn hello(conn: &mut Connection, name: &str) -> Result<(Reply, Extensions), Error> {
    let reply = conn.execute(&Command::Ehlo(name))?;
    match reply.code {
        500 | 502 => Ok((helo(conn, name)?, Extensions::default())),
        _ => {
            let reply = Error::check(reply, Step::Hello)?;
            let ext = Extensions::from_ehlo(&reply);
            Ok((reply, ext))
        }
    }
}

/// LHLO (RFC 2033 4.1): LMTP's only hello, with no HELO to fall back on.
pub(crate) fn lhlo(conn: &mut Connection, name: &str) -> Result<(Reply, Extensions), Error> {
    let reply = Error::check(conn.execute(&Command::Lhlo(name))?, Step::Hello)?;
    let ext = Extensions::from_ehlo(&reply);
    Ok((reply, ext))
}

/// The hello again, in the session's protocol (after STARTTLS, or when
/// the caller asks): EHLO for SMTP, LHLO for LMTP.
pub(crate) fn again(
    conn: &mut Connection,
    config: &SessionConfig,
) -> Result<(Reply, Extensions), Error> {
    match config.protocol {
        Protocol::Smtp => ehlo(conn, &config.helo_name),
        Protocol::Lmtp => lhlo(conn, &config.helo_name),
    }
}

/// EHLO alone.
pub(crate) fn ehlo(conn: &mut Connection, name: &str) -> Result<(Reply, Extensions), Error> {
    let reply = Error::check(conn.execute(&Command::Ehlo(name))?, Step::Hello)?;
    let ext = Extensions::from_ehlo(&reply);
    Ok((reply, ext))
}

/// HELO alone.
pub(crate) fn helo(conn: &mut Connection, name: &str) -> Result<Reply, Error> {
    Error::check(conn.execute(&Command::Helo(name))?, Step::Hello)
}
