//! The builder: a [`Config`] and a transcript function, set before
//! [`ClientBuilder::connect`] makes a [`Client`].

mod reach;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::auth::{Credentials, Mechanism, Secret};
use crate::cancel::Canceller;
use crate::client::Client;
use crate::config::Config;
use crate::connection::Connection;
use crate::error::Error;
use crate::protocol::Protocol;
use crate::session::Session;
use crate::stream::{Stream, Transport};
use crate::timeouts::{Phase, Timeouts};
use crate::tls::{CertSource, IdentitySource, Tls, TlsVersion};
use crate::transcript::{Direction, Hook, Transcript};

impl Client {
    /// Options for a connection to `host` (a name, an IPv4 address, or an
    /// IPv6 address with or without brackets).
    pub fn builder(host: impl Into<String>) -> ClientBuilder {
        ClientBuilder::from(Config::new(host))
    }

    /// Options for a connection to the UNIX domain socket at `path`: an
    /// LMTP server's (Dovecot's `lmtp` socket, with
    /// [`protocol`](ClientBuilder::protocol)`(Protocol::Lmtp)`) or an SMTP
    /// one's. No TLS unless asked for: the socket's permissions decide
    /// who can reach it. The client names itself `localhost` in its
    /// hello unless [`helo_name`](ClientBuilder::helo_name) says
    /// otherwise.
    ///
    /// ```no_run
    /// use smtpc::{Client, Envelope, Protocol};
    /// let mut client = Client::builder_unix("/run/dovecot/lmtp")
    ///     .protocol(Protocol::Lmtp)
    ///     .connect()?;
    /// let envelope = Envelope::new("", ["alice@example.org", "bob@example.org"])?;
    /// let delivery = client.send(&envelope, &b"Subject: hi\r\n\r\nHello.\r\n"[..])?;
    /// for (recipient, reply) in delivery.recipient_replies() {
    ///     println!("{recipient}: {reply}");
    /// }
    /// for refused in &delivery.rejected {
    ///     println!("refused: {refused}");
    /// }
    /// # Ok::<(), smtpc::Error>(())
    /// ```
    pub fn builder_unix(path: impl AsRef<Path>) -> ClientBuilder {
        Client::builder("localhost").unix_socket(path)
    }
}

/// Options for a connection, set before [`ClientBuilder::connect`]: a
/// [`Config`] and, for this connection only, a transcript function.
///
/// By default the client requires STARTTLS on port 587, verifies the
/// server's certificate and host name against the system's roots, and
/// sends no credentials.
///
/// ```no_run
/// use std::time::Duration;
/// use smtpc::Tls;
/// let client = smtpc::Client::builder("mail.example.org")
///     .tls(Tls::StartTls)
///     .credentials("me@example.org", "app-password")
///     .helo_name("client.example.org")
///     .timeout(Duration::from_secs(30))
///     .transcript(|dir, line| eprintln!("{dir:?} {line}"))
///     .connect()?;
/// # Ok::<(), smtpc::Error>(())
/// ```
pub struct ClientBuilder {
    config: Config,
    transcript: Option<Hook>,
    /// Cancels the connect, then the session's calls.
    canceller: Canceller,
    /// The absolute deadline of every call, connect included.
    deadline: Option<Instant>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("transcript", &self.transcript.is_some())
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl From<Config> for ClientBuilder {
    /// A builder that starts from `config`.
    fn from(config: Config) -> Self {
        ClientBuilder {
            config,
            transcript: None,
            canceller: Canceller::new(),
            deadline: None,
        }
    }
}

impl ClientBuilder {
    /// The options set so far.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The options set so far, as a value to keep (the transcript
    /// function is dropped).
    pub fn into_config(self) -> Config {
        self.config
    }

    /// The server's port. By default it follows the TLS mode: 587 for
    /// STARTTLS, 465 for implicit TLS, 25 without TLS.
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = Some(port);
        self
    }

    /// The name sent with EHLO/HELO: this machine's fully qualified domain
    /// name. By default the local address as an address literal
    /// (`[192.0.2.1]`), which RFC 5321 4.1.4 allows when the name is unknown.
    pub fn helo_name(mut self, name: &str) -> Self {
        self.config.helo_name = Some(name.to_owned());
        self
    }

    /// How long to wait for each whole reply, for the TLS handshake, and
    /// for each write to make progress: the timeout of every [`Phase`] at
    /// once (by default RFC 5321's, 2 to 10 minutes by phase). A server
    /// that sends a reply one byte at a time still has only this long for
    /// all of it. [`phase_timeout`](Self::phase_timeout) then changes one.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeouts = Timeouts::all(timeout);
        self
    }

    /// How long the waits of one phase may take (see [`Phase`] for which
    /// wait belongs to which phase, and the defaults).
    ///
    /// ```
    /// use std::time::Duration;
    /// use smtpc::{Client, Phase};
    /// let builder = Client::builder("mail.example.org")
    ///     .timeout(Duration::from_secs(60))
    ///     .phase_timeout(Phase::EndOfData, Duration::from_secs(600));
    /// assert_eq!(builder.config().phase_timeout(Phase::Rcpt), Duration::from_secs(60));
    /// assert_eq!(builder.config().phase_timeout(Phase::EndOfData), Duration::from_secs(600));
    /// ```
    pub fn phase_timeout(mut self, phase: Phase, timeout: Duration) -> Self {
        self.config.timeouts.set(phase, timeout);
        self
    }

    /// How long to wait for the TCP connection to each address (default
    /// 30 s), and for a SOCKS5 proxy's handshake. Addresses are tried
    /// Happy Eyeballs style (RFC 8305): the next one 250 ms after the one
    /// before if that has not connected yet, each with this timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// A function that sees every line sent and received, like a
    /// hand-typed session. Message content is summarised; secrets are
    /// never shown.
    pub fn transcript(mut self, hook: impl FnMut(Direction, &str) + Send + 'static) -> Self {
        self.transcript = Some(Box::new(hook));
        self
    }

    /// How the connection is protected (default [`Tls::StartTls`],
    /// required; over a UNIX socket, [`Tls::None`]).
    pub fn tls(mut self, mode: Tls) -> Self {
        self.config.tls = Some(mode);
        self
    }

    /// The protocol: [`Protocol::Smtp`] (the default) or
    /// [`Protocol::Lmtp`] (LHLO, and a reply per recipient after the
    /// message; port 24 over TCP unless [`port`](ClientBuilder::port)
    /// says otherwise).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.config.protocol = protocol;
        self
    }

    /// Connects to the UNIX domain socket at `path` instead of the host
    /// and port (see [`Client::builder_unix`]).
    pub fn unix_socket(mut self, path: impl AsRef<Path>) -> Self {
        self.config.unix_socket = Some(path.as_ref().to_path_buf());
        self
    }

    /// Trusts the root certificate(s) in `pem_or_der` (one or more PEM
    /// certificates, or one DER certificate) besides the system's.
    pub fn add_root_certificate(mut self, pem_or_der: &[u8]) -> Self {
        self.config
            .tls_options
            .changed()
            .roots
            .push(CertSource::Bytes(pem_or_der.to_vec()));
        self
    }

    /// Trusts the root certificate(s) in a PEM or DER file (read at connect).
    pub fn add_root_certificate_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config
            .tls_options
            .changed()
            .roots
            .push(CertSource::File(path.into()));
        self
    }

    /// Trusts only the roots added with `add_root_certificate*`, not the
    /// system's.
    pub fn disable_system_roots(mut self) -> Self {
        self.config.tls_options.changed().disable_system_roots = true;
        self
    }

    /// Presents a client certificate from a PKCS#12 archive (DER bytes).
    pub fn identity_pkcs12(mut self, der: &[u8], password: &str) -> Self {
        self.config.tls_options.changed().identity = Some(IdentitySource::Pkcs12 {
            der: der.to_vec(),
            password: password.to_owned(),
        });
        self
    }

    /// Presents a client certificate: a PEM certificate chain and its PEM
    /// PKCS#8 private key.
    pub fn identity_pem(mut self, chain: &[u8], key: &[u8]) -> Self {
        self.config.tls_options.changed().identity = Some(IdentitySource::Pem {
            chain: chain.to_vec(),
            key: key.to_vec(),
        });
        self
    }

    /// The lowest TLS version accepted (default TLS 1.2).
    pub fn min_tls_version(mut self, version: TlsVersion) -> Self {
        self.config.tls_options.changed().min_version = Some(version);
        self
    }

    /// The name the server's certificate must carry, and the SNI sent, when
    /// it differs from the host connected to (connecting by IP address).
    pub fn tls_server_name(mut self, name: &str) -> Self {
        self.config.tls_options.changed().server_name = Some(name.to_owned());
        self
    }

    /// DANGER: accepts any certificate, even expired or self-signed, so
    /// anyone on the path can read and change the session. For tests only.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.config.tls_options.changed().accept_invalid_certs = accept;
        self
    }

    /// DANGER: accepts a valid certificate issued for another host name.
    pub fn danger_accept_invalid_hostnames(mut self, accept: bool) -> Self {
        self.config.tls_options.changed().accept_invalid_hostnames = accept;
        self
    }

    /// Authenticates with AUTH (RFC 4954) after TLS. With a password the
    /// strongest mechanism both sides offer is used (SCRAM-SHA-256-PLUS,
    /// SCRAM-SHA-256, SCRAM-SHA-1, CRAM-MD5, PLAIN, LOGIN: see
    /// [`Mechanism::PASSWORD_DEFAULT`]); for OAuth tokens name the
    /// mechanism with [`auth_mechanisms`](Self::auth_mechanisms). A token
    /// that expires is better given by
    /// [`credentials_provider`](Self::credentials_provider).
    pub fn credentials(mut self, user: &str, secret: &str) -> Self {
        self.config.credentials = Some(Credentials::fixed(user, Secret::new(secret)));
        self
    }

    /// Authenticates as `user` with a secret (password or token) that
    /// `provider` gives when AUTH needs it, at each connection: the
    /// provider is called with `renew` false. When the server refuses
    /// that secret (535, 454, or an XOAUTH2/OAUTHBEARER error document),
    /// the provider is called once more with `renew` true, to refresh a
    /// token or fetch the password again, and AUTH is tried once again
    /// with its answer; a second refusal is the error. (Replaces
    /// [`credentials`](Self::credentials).)
    ///
    /// The provider runs on the thread that connects, one call at a time
    /// (copies of the configuration share it). Its error ends the
    /// connection with [`Error::Auth`] carrying its message, which must
    /// not contain the secret.
    ///
    /// ```no_run
    /// use smtpc::{Client, Mechanism, Secret};
    /// # fn fetch_token(refresh: bool) -> Result<String, std::io::Error> { Ok(String::new()) }
    /// let client = Client::builder("smtp.gmail.com")
    ///     .auth_mechanisms(&[Mechanism::XOAuth2])
    ///     .credentials_provider("me@gmail.com", |renew| {
    ///         // renew: the last token was refused; refresh it.
    ///         fetch_token(renew).map(Secret::new)
    ///     })
    ///     .connect()?;
    /// # Ok::<(), smtpc::Error>(())
    /// ```
    pub fn credentials_provider<F, E>(mut self, user: &str, provider: F) -> Self
    where
        F: FnMut(bool) -> Result<Secret, E> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.config.credentials = Some(Credentials::provider(user, provider));
        self
    }

    /// The mechanisms allowed, in order of preference (overrides
    /// [`Mechanism::PASSWORD_DEFAULT`]).
    pub fn auth_mechanisms(mut self, mechanisms: &[Mechanism]) -> Self {
        self.config.mechanisms = mechanisms.to_vec();
        self
    }

    /// Allows credentials over a connection without TLS. Off by default,
    /// with no exception for localhost: anyone who can see the traffic
    /// can read the password.
    pub fn allow_insecure_auth(mut self, allow: bool) -> Self {
        self.config.allow_insecure_auth = allow;
        self
    }

    /// At most `n` recipients per transaction: a message to more goes in
    /// several, each with its own reply and queue id, all in one
    /// [`Delivery`](crate::Delivery). By default as many as the server takes: a server that
    /// takes no more ("452 too many recipients", RFC 5321 4.5.3.1.10)
    /// gets the rest in another transaction all the same. (A message read
    /// from a stream is read once: it goes in one transaction, and
    /// recipients the server puts off are refused.)
    pub fn recipients_per_transaction(mut self, n: usize) -> Self {
        self.config.recipients_per_transaction = Some(n);
        self
    }

    /// At most `n` messages per connection: the next go over a new one
    /// (QUIT, then a new connection with TLS and AUTH again). By default
    /// as many as the server takes; when it says it takes no more (421,
    /// or "452 too many messages" to MAIL), the rest go over a new
    /// connection all the same.
    pub fn messages_per_connection(mut self, n: usize) -> Self {
        self.config.messages_per_connection = Some(n);
        self
    }

    /// How long the connection may sit idle before a NOOP checks it ahead
    /// of the next transaction (default 60 s). Before that, a connection
    /// idle for a second or more is looked at without a round trip: one
    /// the server closed (or left with a 421) is found before anything is
    /// sent on it.
    pub fn noop_after_idle(mut self, idle: Duration) -> Self {
        self.config.noop_after = idle;
        self
    }

    /// Whether a connection the server closed may be replaced by a new
    /// one, transparently (default true): before a transaction, when the
    /// old one is found closed; in a batch, for the messages not yet
    /// sent. A message whose transaction was under way is never sent
    /// again.
    pub fn reconnect(mut self, reconnect: bool) -> Self {
        self.config.reconnect = reconnect;
        self
    }

    /// Connects, reads the greeting and says EHLO (HELO if the server does
    /// not know EHLO), then STARTTLS and AUTH as configured.
    ///
    /// The server's name is resolved and its addresses tried Happy
    /// Eyeballs style (RFC 8305: IPv6 and IPv4 interleaved, the next one
    /// 250 ms after the one before if that has not connected, the first
    /// to connect kept), or the SOCKS5 proxy is, which then connects to
    /// the server. A name that does not exist is [`Error::UnknownHost`];
    /// when no address could be reached, [`Error::Unreachable`] lists
    /// each one tried and what happened.
    pub fn connect(self) -> Result<Client, Error> {
        let config = &self.config;
        if config.host.is_empty() && config.unix_socket.is_none() {
            return Err(Error::InvalidInput("no server to connect to".into()));
        }
        // Checked before anything goes on the network.
        let setup = config.session(config.default_helo().to_owned())?;
        let transcript = Transcript::new(self.transcript);
        let reach = config.reach(self.canceller, self.deadline);
        let session = Session::connect(reach, setup, config.upkeep(), transcript)?;
        Ok(Client::over(session))
    }

    /// Runs the session over a stream the caller opened (a tunnel, a Unix
    /// socket, an in-memory script in tests). The timeouts and the
    /// deadline then bound each reply only as far as the stream returns
    /// control, and a cancel takes effect when its read or write returns:
    /// the stream's own reads must not block forever. Such a session is
    /// not opened again when it closes: the stream was the caller's.
    pub fn connect_stream(self, stream: impl Transport + 'static) -> Result<Client, Error> {
        let setup = self.config.session("[127.0.0.1]".to_owned())?;
        let transcript = Transcript::new(self.transcript);
        let stream = Stream::Custom(Box::new(stream));
        let budget = self.config.budget(self.deadline);
        let mut conn = Connection::new(stream, budget, transcript, self.canceller, None);
        conn.set_call_deadline(budget.call_deadline());
        let session = Session::over(conn, setup, self.config.upkeep())?;
        Ok(Client::over(session))
    }
}
