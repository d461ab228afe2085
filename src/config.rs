//! The options of a connection as a value: set once, cloned, kept, used
//! for every connection made with them. [`ClientBuilder`](crate::ClientBuilder)
//! wraps one; the C handle keeps one.

use std::time::Duration;

use crate::auth::{AuthConfig, Credentials, Mechanism};
use crate::checks::check_domain;
use crate::error::Error;
use crate::session::{Reach, SessionConfig, Upkeep};
use crate::tls::{self, Tls, TlsOptions};

/// How long to wait for each reply unless told otherwise. RFC 5321
/// 4.5.3.2 asks clients to wait at least 5 minutes for most replies.
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
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) tls: Tls,
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
    /// 587, certificates verified against the system's roots, 5 minutes
    /// per reply, 30 s to connect, no credentials.
    pub fn new(host: impl Into<String>) -> Self {
        Config {
            host: host.into(),
            port: None,
            helo_name: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            tls: Tls::default(),
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

    /// The port connected to: the one set, else the TLS mode's default.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(self.tls.default_port())
    }

    /// How the connection is protected.
    pub fn tls(&self) -> Tls {
        self.tls
    }

    /// How long each reply may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
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

    /// Where to connect (again).
    pub(crate) fn reach(&self) -> Reach {
        Reach {
            host: self.host.clone(),
            port: self.port(),
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            helo_from_address: self.helo_name.is_none(),
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
        if self.recipients_per_transaction == Some(0) || self.messages_per_connection == Some(0) {
            return Err(Error::InvalidInput(
                "a limit of recipients per transaction or messages per connection must be at least 1"
                    .into(),
            ));
        }
        let connector = match self.tls {
            Tls::None => None,
            _ => Some(self.tls_options.connector()?),
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
            tls: self.tls,
            connector,
            tls_name: tls::server_name(&self.tls_options, &self.host).to_owned(),
            auth,
        })
    }
}
