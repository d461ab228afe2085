//! Setting up a session: the greeting, EHLO (or HELO when the server does
//! not know EHLO), STARTTLS, and AUTH. What the server offers comes out as
//! [`Extensions`].

use native_tls::TlsConnector;

use crate::auth::{self, AuthConfig};
use crate::command::Command;
use crate::connection::Connection;
use crate::error::Error;
use crate::extensions::Extensions;
use crate::reply::{Reply, ReplyClass};
use crate::success::Step;
use crate::timeouts::Phase;
use crate::tls::Tls;
use crate::transcript::Direction;

/// What the session is set up with.
#[derive(Debug, Clone)]
pub(crate) struct SessionConfig {
    pub helo_name: String,
    pub tls: Tls,
    /// Built when `tls` is not `Tls::None`.
    pub connector: Option<TlsConnector>,
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
        conn.start_tls(connector(config)?, &config.tls_name)?;
    }
    let greeting = Error::check(
        conn.read_reply("greeting", Phase::Greeting)?,
        Step::Greeting,
    )?;
    let (mut hello, mut extensions) = hello(conn, &config.helo_name)?;
    if matches!(config.tls, Tls::StartTls | Tls::Opportunistic) {
        if extensions.starttls() {
            starttls(conn, config)?;
            // RFC 3207 4.2: forget everything learned before TLS.
            (hello, extensions) = ehlo(conn, &config.helo_name)?;
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

fn connector(config: &SessionConfig) -> Result<&TlsConnector, Error> {
    config
        .connector
        .as_ref()
        .ok_or_else(|| Error::InvalidInput("TLS requested but not configured".into()))
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
    conn.start_tls(connector(config)?, &config.tls_name)
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
