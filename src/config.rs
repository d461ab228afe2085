//! The options of a connection as a value: set once, cloned, kept, used
//! for every connection made with them. [`ClientBuilder`](crate::ClientBuilder)
//! wraps one; the C handle keeps one.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::auth::{AuthConfig, Credentials, Mechanism};
use crate::cancel::Canceller;
use crate::checks::check_domain;
use crate::error::Error;
use crate::protocol::{Protocol, LMTP_PORT};
use crate::proxy::Proxy;
use crate::session::{Reach, SessionConfig, Upkeep};
use crate::timeouts::{Budget, Phase, Timeouts};
use crate::tls::{self, Tls, TlsOptions};

/// How long to wait for most replies unless told otherwise: RFC 5321
/// 4.5.3.2 asks clients to wait at least 5 minutes for most replies (see
/// [`Phase`] for those it gives more or less).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long to wait for the TCP connection unless told otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection may sit idle before a NOOP checks it, unless told
/// otherwise.
pub const DEFAULT_NOOP_AFTER: Duration = Duration::from_secs(60);

/// The options of a connection: the server, the timeouts, the name the
/// client gives, TLS and credentials. Set them through
/// [`ClientBuilder`](crate::ClientBuilder); take the value out with
/// [`ClientBuilder::into_config`](crate::ClientBuilder::into_config) to
/// keep it, clone it, and connect with it again
/// (`ClientBuilder::from(config)`). A transcript function is not part of
/// it: it belongs to one connection.
///
/// ```
/// use smtpc::{Client, ClientBuilder, Config, Tls};
/// let config: Config = Client::builder("mail.example.org")
///     .tls(Tls::Implicit)
///     .into_config();
/// assert_eq!(config.port(), 465);
/// let again = ClientBuilder::from(config.clone()).port(2465);
/// assert_eq!(again.config().port(), 2465);
/// assert_eq!(config.host(), "mail.example.org");
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) helo_name: Option<String>,
    pub(crate) timeouts: Timeouts,
    pub(crate) connect_timeout: Duration,
    /// The most a call may take, from its start.
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) local_address: Option<IpAddr>,
    pub(crate) proxy: Option<Proxy>,
    /// A UNIX domain socket to connect to instead of `host:port`.
    pub(crate) unix_socket: Option<PathBuf>,
    pub(crate) protocol: Protocol,
    /// `None`: the transport's default (see [`Config::tls`]).
    pub(crate) tls: Option<Tls>,
    pub(crate) tls_options: TlsOptions,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) mechanisms: Vec<Mechanism>,
    pub(crate) allow_insecure_auth: bool,
    pub(crate) recipients_per_transaction: Option<usize>,
    pub(crate) messages_per_connection: Option<usize>,
    pub(crate) noop_after: Duration,
    pub(crate) reconnect: bool,
}

impl Default for Config {
    /// The defaults, with no server named yet.
    fn default() -> Self {
        Config::new("")
    }
}

impl Config {
    /// The defaults for a connection to `host`: STARTTLS required on port
    /// 587, certificates verified against the system's roots, RFC 5321's
    /// timeouts for each reply ([`Phase`]), 30 s to connect, no deadline,
    /// no credentials, no proxy.
    pub fn new(host: impl Into<String>) -> Self {
        Config {
            host: host.into(),
            port: None,
            helo_name: None,
            timeouts: Timeouts::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            call_timeout: None,
            local_address: None,
            proxy: None,
            unix_socket: None,
            protocol: Protocol::Smtp,
            tls: None,
            tls_options: TlsOptions::default(),
            credentials: None,
            mechanisms: Mechanism::PASSWORD_DEFAULT.to_vec(),
            allow_insecure_auth: false,
            recipients_per_transaction: None,
            messages_per_connection: None,
            noop_after: DEFAULT_NOOP_AFTER,
            reconnect: true,
        }
    }

    /// The server's host name or address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port connected to: the one set, else LMTP's (24) for LMTP,
    /// else the TLS mode's default.
    pub fn port(&self) -> u16 {
        match (self.port, self.protocol) {
            (Some(port), _) => port,
            (None, Protocol::Lmtp) => LMTP_PORT,
            (None, Protocol::Smtp) => self.tls().default_port(),
        }
    }

    /// How the connection is protected: the mode set, else STARTTLS
    /// (required) over TCP and none over a UNIX socket, which only this
    /// machine's users can reach, as its permissions say.
    pub fn tls(&self) -> Tls {
        match (self.tls, &self.unix_socket) {
            (Some(tls), _) => tls,
            (None, Some(_)) => Tls::None,
            (None, None) => Tls::default(),
        }
    }

    /// The protocol spoken: SMTP, or LMTP.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The UNIX domain socket connected to, when one is set (instead of
    /// the host and port).
    pub fn unix_socket(&self) -> Option<&Path> {
        self.unix_socket.as_deref()
    }

    /// How long each reply may take, for the replies of [`Phase::Other`]
    /// (EHLO, RSET, QUIT...); [`Config::phase_timeout`] gives each phase's.
    pub fn timeout(&self) -> Duration {
        self.timeouts.get(Phase::Other)
    }

    /// How long the waits of `phase` may take.
    pub fn phase_timeout(&self, phase: Phase) -> Duration {
        self.timeouts.get(phase)
    }

    /// The most each call may take, from its start, when set.
    pub fn call_timeout(&self) -> Option<Duration> {
        self.call_timeout
    }

    /// The source address connections are made from, when set.
    pub fn local_address(&self) -> Option<IpAddr> {
        self.local_address
    }

    /// The SOCKS5 proxy, when one is set.
    pub fn proxy(&self) -> Option<&Proxy> {
        self.proxy.as_ref()
    }

    /// How long connecting to each address may take.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The name given with EHLO, when one was set.
    pub fn helo_name(&self) -> Option<&str> {
        self.helo_name.as_deref()
    }

    /// The most recipients one transaction carries, when limited.
    pub fn recipients_per_transaction(&self) -> Option<usize> {
        self.recipients_per_transaction
    }

    /// The most messages one connection carries, when limited.
    pub fn messages_per_connection(&self) -> Option<usize> {
        self.messages_per_connection
    }

    /// The name the client gives until its connection says better (the
    /// address the server sees it at): over a UNIX socket there is none.
    pub(crate) fn default_helo(&self) -> &'static str {
        match self.unix_socket {
            Some(_) => "localhost",
            None => "[127.0.0.1]",
        }
    }

    /// Where to connect (again).
    pub(crate) fn reach(&self, canceller: Canceller, deadline: Option<Instant>) -> Reach {
        Reach {
            host: self.host.clone(),
            port: self.port(),
            unix: self.unix_socket.clone(),
            connect_timeout: self.connect_timeout,
            budget: self.budget(deadline),
            helo_from_address: self.helo_name.is_none(),
            local: self.local_address,
            proxy: self.proxy.clone(),
            canceller,
        }
    }

    /// The limits on time of a session with these options, and an
    /// absolute deadline for its calls.
    pub(crate) fn budget(&self, deadline: Option<Instant>) -> Budget {
        Budget {
            timeouts: self.timeouts,
            call_timeout: self.call_timeout,
            deadline,
        }
    }

    /// When connections are checked, renewed or given up.
    pub(crate) fn upkeep(&self) -> Upkeep {
        Upkeep {
            noop_after: self.noop_after,
            max_messages: self.messages_per_connection,
            max_recipients: self.recipients_per_transaction,
            reconnect: self.reconnect,
        }
    }

    /// Checks the options and builds what a session needs, before any
    /// connection is made. `default_helo` names the client when no HELO
    /// name was set (its address literal).
    pub(crate) fn session(&self, default_helo: String) -> Result<SessionConfig, Error> {
        if let Some(name) = &self.helo_name {
            check_domain("HELO name", name)?;
        }
        if let Some(proxy) = &self.proxy {
            proxy.check()?;
        }
        if self.unix_socket.is_some() && (self.proxy.is_some() || self.local_address.is_some()) {
            return Err(Error::InvalidInput(
                "a UNIX socket is reached directly: no proxy, no source address".into(),
            ));
        }
        // The caller's roots and identity are checked now; the connector
        // (the system's roots) is built at the first handshake, once for
        // these options (see tls/shared.rs).
        let connector = match self.tls() {
            Tls::None => None,
            _ => {
                self.tls_options.connector.prepare(&self.tls_options)?;
                Some(self.tls_options.connector.clone())
            }
        };
        let auth = self.credentials.as_ref().map(|credentials| AuthConfig {
            credentials: credentials.clone(),
            mechanisms: self.mechanisms.clone(),
            allow_insecure: self.allow_insecure_auth,
        });
        if auth.as_ref().is_some_and(|a| a.mechanisms.is_empty()) {
            return Err(Error::InvalidInput(
                "the list of AUTH mechanisms is empty".into(),
            ));
        }
        Ok(SessionConfig {
            helo_name: self.helo_name.clone().unwrap_or(default_helo),
            tls: self.tls(),
            protocol: self.protocol,
            connector,
            tls_name: tls::server_name(&self.tls_options, &self.host).to_owned(),
            auth,
        })
    }
}
