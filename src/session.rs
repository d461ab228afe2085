//! Setting up a session: the greeting, then EHLO (or HELO when the server
//! does not know EHLO). What the server offers comes out as [`Extensions`].

use crate::command::Command;
use crate::error::Error;
use crate::extensions::Extensions;
use crate::reply::Reply;
use crate::stream::Connection;

/// What the session was set up with.
#[derive(Debug, Clone)]
pub(crate) struct SessionConfig {
    pub helo_name: String,
}

/// The state of a set-up session.
#[derive(Debug, Clone)]
pub(crate) struct SessionInfo {
    pub greeting: Reply,
    pub hello: Reply,
    pub extensions: Extensions,
}

/// Reads the greeting and says hello. A server that refuses the session
/// (554) is sent QUIT, as RFC 5321 3.1 asks.
pub(crate) fn open(conn: &mut Connection, config: &SessionConfig) -> Result<SessionInfo, Error> {
    let greeting = conn.read_reply("greeting")?;
    let greeting = match Error::check(greeting, "220") {
        Ok(g) => g,
        Err(e) => {
            if e.reply().is_some_and(|r| r.code == 554) {
                let _ = conn.execute(&Command::Quit);
            }
            conn.shutdown();
            return Err(e);
        }
    };
    let (hello, extensions) = hello(conn, &config.helo_name)?;
    Ok(SessionInfo {
        greeting,
        hello,
        extensions,
    })
}

/// EHLO, falling back to HELO only when EHLO is answered 500 or 502 (the
/// server does not know it). Any other refusal, 421 included, is an error.
pub(crate) fn hello(conn: &mut Connection, name: &str) -> Result<(Reply, Extensions), Error> {
    let reply = conn.execute(&Command::Ehlo(name))?;
    match reply.code {
        500 | 502 => Ok((helo(conn, name)?, Extensions::default())),
        _ => {
            let reply = Error::check(reply, "2xx")?;
            let ext = Extensions::from_ehlo(&reply);
            Ok((reply, ext))
        }
    }
}

/// EHLO alone.
pub(crate) fn ehlo(conn: &mut Connection, name: &str) -> Result<(Reply, Extensions), Error> {
    let reply = Error::check(conn.execute(&Command::Ehlo(name))?, "2xx")?;
    let ext = Extensions::from_ehlo(&reply);
    Ok((reply, ext))
}

/// HELO alone.
pub(crate) fn helo(conn: &mut Connection, name: &str) -> Result<Reply, Error> {
    Error::check(conn.execute(&Command::Helo(name))?, "2xx")
}
