//! The client: a builder that holds the options, and a connected
//! [`Client`] whose methods are the steps of the exchange.
//!
//! The client only strings the rooms together: setting up the session is
//! [`crate::session`]'s job, a mail transaction is
//! [`crate::transaction`]'s, and the bytes go through
//! [`crate::connection::Connection`].

mod connect;

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::auth::{Credentials, Mechanism};
use crate::cancel::Canceller;
use crate::checks::{check_path, check_text, MAX_PATH_LEN};
use crate::command::{Command, MailParams};
use crate::config::Config;
use crate::connection::Connection;
use crate::delivery::Delivery;
use crate::envelope::Envelope;
use crate::error::Error;
use crate::extensions::Extensions;
use crate::message::Content;
use crate::reply::Reply;
use crate::session::{self, SessionConfig, SessionInfo};
use crate::success::Step;
use crate::timeouts::{Phase, Timeouts};
use crate::tls::{CertSource, IdentitySource, Tls, TlsVersion};
use crate::transaction::{self, Scratch};
use crate::transcript::{Direction, Hook};

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

    /// How the connection is protected (default [`Tls::StartTls`], required).
    pub fn tls(mut self, mode: Tls) -> Self {
        self.config.tls = mode;
        self
    }

    /// Trusts the root certificate(s) in `pem_or_der` (one or more PEM
    /// certificates, or one DER certificate) besides the system's.
    pub fn add_root_certificate(mut self, pem_or_der: &[u8]) -> Self {
        self.config
            .tls_options
            .roots
            .push(CertSource::Bytes(pem_or_der.to_vec()));
        self
    }

    /// Trusts the root certificate(s) in a PEM or DER file (read at connect).
    pub fn add_root_certificate_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config
            .tls_options
            .roots
            .push(CertSource::File(path.into()));
        self
    }

    /// Trusts only the roots added with `add_root_certificate*`, not the
    /// system's.
    pub fn disable_system_roots(mut self) -> Self {
        self.config.tls_options.disable_system_roots = true;
        self
    }

    /// Presents a client certificate from a PKCS#12 archive (DER bytes).
    pub fn identity_pkcs12(mut self, der: &[u8], password: &str) -> Self {
        self.config.tls_options.identity = Some(IdentitySource::Pkcs12 {
            der: der.to_vec(),
            password: password.to_owned(),
        });
        self
    }

    /// Presents a client certificate: a PEM certificate chain and its PEM
    /// PKCS#8 private key.
    pub fn identity_pem(mut self, chain: &[u8], key: &[u8]) -> Self {
        self.config.tls_options.identity = Some(IdentitySource::Pem {
            chain: chain.to_vec(),
            key: key.to_vec(),
        });
        self
    }

    /// The lowest TLS version accepted (default TLS 1.2).
    pub fn min_tls_version(mut self, version: TlsVersion) -> Self {
        self.config.tls_options.min_version = Some(version);
        self
    }

    /// The name the server's certificate must carry, and the SNI sent, when
    /// it differs from the host connected to (connecting by IP address).
    pub fn tls_server_name(mut self, name: &str) -> Self {
        self.config.tls_options.server_name = Some(name.to_owned());
        self
    }

    /// DANGER: accepts any certificate, even expired or self-signed, so
    /// anyone on the path can read and change the session. For tests only.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.config.tls_options.accept_invalid_certs = accept;
        self
    }

    /// DANGER: accepts a valid certificate issued for another host name.
    pub fn danger_accept_invalid_hostnames(mut self, accept: bool) -> Self {
        self.config.tls_options.accept_invalid_hostnames = accept;
        self
    }

    /// Authenticates with AUTH (RFC 4954) after TLS. With a password the
    /// strongest mechanism both sides offer is used (CRAM-MD5, PLAIN,
    /// LOGIN); for OAuth tokens name the mechanism with
    /// [`auth_mechanisms`](Self::auth_mechanisms).
    pub fn credentials(mut self, user: &str, secret: &str) -> Self {
        self.config.credentials = Some(Credentials {
            user: user.to_owned(),
            secret: secret.to_owned(),
        });
        self
    }

    /// The mechanisms allowed, in order of preference (overrides the
    /// default CRAM-MD5, PLAIN, LOGIN).
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
}

/// A session with an SMTP server.
///
/// Send a whole message with [`Client::send`], or go step by step as a
/// person would type it: [`mail`](Client::mail), [`rcpt`](Client::rcpt),
/// [`data`](Client::data). Each step returns the server's reply, or an
/// error for a 4yz/5yz reply, a broken connection or bad input. A client
/// sends any number of messages; end with [`Client::quit`].
///
/// ```no_run
/// use smtpc::{Client, Envelope};
/// let mut client = Client::builder("127.0.0.1").port(2525).connect()?;
/// let envelope = Envelope::new("kjj@solidosystems.com", ["khl@solidosystems.com"])?;
/// let message = "Subject: Hand written SMTP\r\n\r\nHello.\r\n";
/// let delivery = client.send(&envelope, message.as_bytes())?;
/// println!("queued: {}", delivery.reply);
/// client.quit()?;
/// # Ok::<(), smtpc::Error>(())
/// ```
#[derive(Debug)]
pub struct Client {
    conn: Connection,
    config: SessionConfig,
    info: SessionInfo,
    scratch: Scratch,
}

impl Client {
    /// Options for a connection to `host` (a name, an IPv4 address, or an
    /// IPv6 address with or without brackets).
    pub fn builder(host: impl Into<String>) -> ClientBuilder {
        ClientBuilder::from(Config::new(host))
    }

    /// What the server offered in its last EHLO reply.
    pub fn extensions(&self) -> &Extensions {
        &self.info.extensions
    }

    /// The server's greeting.
    pub fn greeting(&self) -> &Reply {
        &self.info.greeting
    }

    /// True when TLS protects the session.
    pub fn is_encrypted(&self) -> bool {
        self.conn.is_encrypted()
    }

    /// The server's reply that accepted our credentials, when the session
    /// authenticated.
    pub fn auth_reply(&self) -> Option<&Reply> {
        self.info.auth.as_ref()
    }

    /// True once the session is over: after QUIT, after the server closed
    /// it or said 421, or after an error that left the connection unusable.
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// The handle that cancels this client's call in progress from
    /// another thread (see [`Canceller`]).
    ///
    /// ```no_run
    /// # let mut client = smtpc::Client::builder("127.0.0.1").port(2525).connect()?;
    /// let canceller = client.canceller();
    /// std::thread::spawn(move || {
    ///     std::thread::sleep(std::time::Duration::from_secs(10));
    ///     canceller.cancel();
    /// });
    /// let envelope = smtpc::Envelope::new("a@example.org", ["b@example.org"])?;
    /// match client.send_bytes(&envelope, b"Subject: hi\r\n\r\nHello.\r\n") {
    ///     Err(smtpc::Error::Cancelled { .. }) => eprintln!("cancelled: not reported as sent"),
    ///     other => println!("{other:?}"),
    /// }
    /// # Ok::<(), smtpc::Error>(())
    /// ```
    pub fn canceller(&self) -> Canceller {
        self.conn.canceller().clone()
    }

    /// The absolute deadline of every call from now on (`None` removes
    /// it; the call timeout, if set, still applies): each call returns by
    /// then, with [`Error::Deadline`] if it is not done.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.conn.set_deadline(deadline);
    }

    /// Says EHLO again and takes the new list of extensions.
    pub fn ehlo(&mut self) -> Result<Reply, Error> {
        self.conn.begin_call();
        let (reply, ext) = session::ehlo(&mut self.conn, &self.config.helo_name)?;
        self.info.hello = reply.clone();
        self.info.extensions = ext;
        Ok(reply)
    }

    /// Says HELO (the server's extensions are then forgotten).
    pub fn helo(&mut self) -> Result<Reply, Error> {
        self.conn.begin_call();
        let reply = session::helo(&mut self.conn, &self.config.helo_name)?;
        self.info.hello = reply.clone();
        self.info.extensions = Extensions::default();
        Ok(reply)
    }

    /// `MAIL FROM:<from>`; an empty `from` is the null reverse-path.
    /// Adds `SMTPUTF8` when the address is not ASCII.
    pub fn mail(&mut self, from: &str) -> Result<Reply, Error> {
        let from = from
            .strip_prefix('<')
            .and_then(|f| f.strip_suffix('>'))
            .unwrap_or(from);
        check_path("sender", from)?;
        let smtputf8 = !from.is_ascii();
        if smtputf8 && !self.extensions().smtp_utf8() {
            return Err(Error::Unsupported(
                "the sender is not ASCII and the server does not offer SMTPUTF8".into(),
            ));
        }
        let params = MailParams {
            smtputf8,
            ..MailParams::default()
        };
        self.step(&Command::Mail { from, params }, Step::Mail)
    }

    /// `RCPT TO:<to>`.
    pub fn rcpt(&mut self, to: &str) -> Result<Reply, Error> {
        let to = to
            .strip_prefix('<')
            .and_then(|t| t.strip_suffix('>'))
            .unwrap_or(to);
        if to.is_empty() {
            return Err(Error::InvalidInput("empty recipient address".into()));
        }
        check_path("recipient", to)?;
        self.step(
            &Command::Rcpt {
                to,
                params: Default::default(),
            },
            Step::Rcpt,
        )
    }

    /// `DATA`, then the message read from `body` (line endings made CRLF,
    /// dot-stuffed), then the end of data. Returns the final reply: the
    /// message is accepted only when this returns `Ok`.
    pub fn data(&mut self, mut body: impl Read) -> Result<Reply, Error> {
        self.conn.begin_call();
        transaction::data(&mut self.conn, &mut self.scratch.block, &mut body)
    }

    /// `RSET`: abandons the current transaction.
    pub fn rset(&mut self) -> Result<Reply, Error> {
        self.step(&Command::Rset, Step::Rset)
    }

    /// `NOOP`.
    pub fn noop(&mut self) -> Result<Reply, Error> {
        self.step(&Command::Noop, Step::Noop)
    }

    /// `VRFY what`. Servers often answer 252 (cannot verify, will try).
    pub fn vrfy(&mut self, what: &str) -> Result<Reply, Error> {
        check_text("VRFY argument", what, MAX_PATH_LEN)?;
        self.step(&Command::Vrfy(what), Step::Vrfy)
    }

    /// `QUIT`, then closes the connection whatever the reply.
    pub fn quit(&mut self) -> Result<Reply, Error> {
        let result = self.step(&Command::Quit, Step::Quit);
        self.conn.shutdown();
        result
    }

    /// Sends one message: MAIL FROM, RCPT TO for each recipient, DATA and
    /// the content from `body`.
    ///
    /// Recipients the server refuses are listed in [`Delivery::rejected`]
    /// and the message goes to the others. If all are refused, the content
    /// is never sent and the error is [`Error::AllRecipientsRejected`].
    /// After any failed transaction RSET is sent, so the client can send
    /// the next message.
    ///
    /// The commands are grouped as the server allows: with PIPELINING the
    /// envelope and DATA leave in one write (two round trips in all), with
    /// CHUNKING too the envelope, `BDAT n LAST` and a small message leave
    /// together (one round trip). A body that fits in the first 256 KiB
    /// block is read before anything is sent, so its size is declared
    /// (`SIZE=`) and its 8-bit bytes detected (`BODY=8BITMIME`).
    pub fn send(&mut self, envelope: &Envelope, mut body: impl Read) -> Result<Delivery, Error> {
        self.conn.begin_call();
        let ext = &self.info.extensions;
        transaction::send(&mut self.conn, ext, &mut self.scratch, envelope, &mut body)
    }

    /// Sends one message that is already in memory, as [`Client::send`]
    /// does, without copying it: unchanged runs of `body` go straight from
    /// it to the socket. Its size is declared with `SIZE=` (a message over
    /// the server's limit fails with [`Error::MessageTooLarge`] before
    /// anything is sent) and 8-bit content with `BODY=8BITMIME`.
    ///
    /// ```no_run
    /// # let mut client = smtpc::Client::builder("127.0.0.1").port(2525).connect()?;
    /// let envelope = smtpc::Envelope::new("a@example.org", ["b@example.org"])?;
    /// let delivery = client.send_bytes(&envelope, b"Subject: hi\r\n\r\nHello.\r\n")?;
    /// # Ok::<(), smtpc::Error>(())
    /// ```
    pub fn send_bytes(&mut self, envelope: &Envelope, body: &[u8]) -> Result<Delivery, Error> {
        self.conn.begin_call();
        let ext = &self.info.extensions;
        transaction::send_content(&mut self.conn, ext, &mut self.scratch, envelope, body)
    }

    /// Sends a message prepared beforehand, a [`Message`](crate::Message) or a
    /// [`MessageFile`](crate::MessageFile), as [`Client::send_bytes`] does, but without
    /// scanning it again: a `Message` is written as it is (with DATA,
    /// doubling the dots it noted), a `MessageFile` that is CRLF text goes
    /// in BDAT chunks straight from the file. For the same content sent to
    /// many envelopes, sent again after a transient failure, or too large
    /// to hold in memory. (Any [`Content`], bytes too, is accepted.)
    ///
    /// ```no_run
    /// # let mut client = smtpc::Client::builder("127.0.0.1").port(2525).connect()?;
    /// use smtpc::{Envelope, Message};
    /// let message = Message::new(b"Subject: news\r\n\r\nHello.\r\n");
    /// for to in ["a@example.org", "b@example.org"] {
    ///     let envelope = Envelope::new("news@example.org", [to])?;
    ///     client.send_message(&envelope, &message)?;
    /// }
    /// # Ok::<(), smtpc::Error>(())
    /// ```
    pub fn send_message(
        &mut self,
        envelope: &Envelope,
        message: impl Content,
    ) -> Result<Delivery, Error> {
        self.conn.begin_call();
        let ext = &self.info.extensions;
        transaction::send_content(&mut self.conn, ext, &mut self.scratch, envelope, message)
    }

    /// Sends many messages over this connection, in order, and returns
    /// each one's own result (in the same order). Each message's content
    /// is bytes or a prepared [`Message`](crate::Message) (see [`Content`]).
    ///
    /// With PIPELINING the end of one message and the envelope of the next
    /// leave in the same write, so each message costs one round trip even
    /// with DATA; with CHUNKING too, several small messages share one
    /// write. A message that fails (refused sender, every recipient
    /// refused, content refused) does not stop the others; after 421 or a
    /// broken connection every message not yet accepted gets an error.
    ///
    /// ```no_run
    /// use smtpc::{Client, Envelope};
    /// let mut client = Client::builder("127.0.0.1").port(2525).connect()?;
    /// let envelope = Envelope::new("news@example.org", ["a@example.org"])?;
    /// let bodies = ["Subject: 1\r\n\r\none\r\n", "Subject: 2\r\n\r\ntwo\r\n"];
    /// let results = client.send_batch(bodies.iter().map(|b| (&envelope, b.as_bytes())));
    /// for (i, result) in results.iter().enumerate() {
    ///     match result {
    ///         Ok(delivery) => println!("{i}: {}", delivery.reply),
    ///         Err(e) => println!("{i}: {e}"),
    ///     }
    /// }
    /// # Ok::<(), smtpc::Error>(())
    /// ```
    pub fn send_batch<E, B>(
        &mut self,
        messages: impl IntoIterator<Item = (E, B)>,
    ) -> Vec<Result<Delivery, Error>>
    where
        E: std::borrow::Borrow<Envelope>,
        B: Content,
    {
        self.conn.begin_call();
        let ext = &self.info.extensions;
        transaction::send_batch(&mut self.conn, ext, &mut self.scratch, messages)
    }

    fn step(&mut self, command: &Command<'_>, step: Step) -> Result<Reply, Error> {
        self.conn.begin_call();
        Error::check(self.conn.execute(command)?, step)
    }
}

/// The most a dropped client waits to write its QUIT.
const DROP_QUIT_WAIT: Duration = Duration::from_secs(1);

impl Drop for Client {
    /// Says QUIT without waiting for the answer, so that the server does
    /// not log a lost connection.
    fn drop(&mut self) {
        if !self.conn.is_closed() {
            // A server that stopped reading must not hold the caller up.
            let soon = Instant::now() + DROP_QUIT_WAIT;
            let deadline = self.conn.call_deadline().map_or(soon, |d| d.min(soon));
            self.conn.set_call_deadline(Some(deadline));
            self.conn.queue(&Command::Quit);
            let _ = self.conn.flush("QUIT");
            self.conn.shutdown();
        }
    }
}
