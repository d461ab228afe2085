//! The client: a builder that holds the options, and a connected
//! [`Client`] whose methods are the steps of the exchange.
//!
//! The client only strings the rooms together: setting up the session is
//! [`crate::session`]'s job, a mail transaction is
//! [`crate::transaction`]'s, and the bytes go through
//! [`crate::connection::Connection`].

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::{Credentials, Mechanism};
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
use crate::stream::{net, Stream, Transport};
use crate::success::Step;
use crate::tls::{CertSource, IdentitySource, Tls, TlsVersion};
use crate::transaction::{self, Scratch, Then};
use crate::transcript::{Direction, Hook, Transcript};

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
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("transcript", &self.transcript.is_some())
            .finish()
    }
}

impl From<Config> for ClientBuilder {
    /// A builder that starts from `config`.
    fn from(config: Config) -> Self {
        ClientBuilder {
            config,
            transcript: None,
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

    /// How long to wait for each whole reply, and for each write to make
    /// progress (default 5 minutes). A server that sends a reply one byte
    /// at a time still has only this long for all of it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// How long to wait for the TCP connection to each address (default 30 s).
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

    /// Connects, reads the greeting and says EHLO (HELO if the server does
    /// not know EHLO), then STARTTLS and AUTH as configured.
    pub fn connect(self) -> Result<Client, Error> {
        let config = &self.config;
        if config.host.is_empty() {
            return Err(Error::InvalidInput("no server to connect to".into()));
        }
        // Checked before anything goes on the network.
        let mut session = config.session("[127.0.0.1]".to_owned())?;
        let port = config.port();
        let timeout = config.timeout;
        let tcp = net::connect(&config.host, port, config.connect_timeout, timeout)?;
        let during = || format!("connecting to {}:{port}", config.host);
        let peer = tcp.peer_addr().map_err(|source| Error::Io {
            during: during(),
            source,
        })?;
        let mut transcript = Transcript::new(self.transcript);
        transcript.note(Direction::Info, &format!("connected to {peer}"));
        if config.helo_name.is_none() {
            if let Ok(local) = tcp.local_addr() {
                session.helo_name = net::address_literal(local.ip());
            }
        }
        start(Stream::Tcp(tcp), transcript, timeout, session)
    }

    /// Runs the session over a stream the caller opened (a tunnel, a Unix
    /// socket, an in-memory script in tests). The timeout then bounds only
    /// the total time of each reply as far as the stream returns control;
    /// the stream's own reads must not block forever.
    pub fn connect_stream(self, stream: impl Transport + 'static) -> Result<Client, Error> {
        let session = self.config.session("[127.0.0.1]".to_owned())?;
        let transcript = Transcript::new(self.transcript);
        let stream = Stream::Custom(Box::new(stream));
        start(stream, transcript, self.config.timeout, session)
    }
}

/// Sets up the session over an open stream.
fn start(
    stream: Stream,
    transcript: Transcript,
    timeout: Duration,
    config: SessionConfig,
) -> Result<Client, Error> {
    let mut conn = Connection::new(stream, timeout, transcript);
    let info = session::open(&mut conn, &config)?;
    Ok(Client {
        conn,
        config,
        info,
        scratch: Scratch::default(),
    })
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

    /// Says EHLO again and takes the new list of extensions.
    pub fn ehlo(&mut self) -> Result<Reply, Error> {
        let (reply, ext) = session::ehlo(&mut self.conn, &self.config.helo_name)?;
        self.info.hello = reply.clone();
        self.info.extensions = ext;
        Ok(reply)
    }

    /// Says HELO (the server's extensions are then forgotten).
    pub fn helo(&mut self) -> Result<Reply, Error> {
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
        let ext = &self.info.extensions;
        let scratch = &mut self.scratch;
        transaction::send(
            &mut self.conn,
            ext,
            scratch,
            envelope,
            &mut body,
            Then::More,
        )
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
        let ext = &self.info.extensions;
        let scratch = &mut self.scratch;
        transaction::send_content(&mut self.conn, ext, scratch, envelope, body, Then::More)
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
        let ext = &self.info.extensions;
        let scratch = &mut self.scratch;
        transaction::send_content(&mut self.conn, ext, scratch, envelope, message, Then::More)
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
        let ext = &self.info.extensions;
        transaction::send_batch(&mut self.conn, ext, &mut self.scratch, messages, Then::More)
    }

    /// Sends one message as the session's last, as [`Client::send`] does,
    /// then ends the session. With PIPELINING, QUIT leaves in the same
    /// write as the end of the message (RFC 2920 lets QUIT end a group),
    /// so a one-shot program saves the round trip of a separate
    /// [`Client::quit`]. The message's result is read and reported
    /// exactly; a server that closes the connection without answering
    /// QUIT after accepting the message changes nothing.
    ///
    /// ```no_run
    /// # let client = smtpc::Client::builder("127.0.0.1").port(2525).connect()?;
    /// let envelope = smtpc::Envelope::new("cron@example.org", ["root@example.org"])?;
    /// let delivery = client.send_and_quit(&envelope, std::io::stdin())?;
    /// println!("{}", delivery.reply);
    /// # Ok::<(), smtpc::Error>(())
    /// ```
    pub fn send_and_quit(
        mut self,
        envelope: &Envelope,
        mut body: impl Read,
    ) -> Result<Delivery, Error> {
        let ext = &self.info.extensions;
        let scratch = &mut self.scratch;
        let result = transaction::send(
            &mut self.conn,
            ext,
            scratch,
            envelope,
            &mut body,
            Then::Quit,
        );
        self.end();
        result
    }

    /// [`Client::send_message`] for the session's last message: QUIT
    /// leaves with its end, as [`Client::send_and_quit`] describes.
    pub fn send_message_and_quit(
        mut self,
        envelope: &Envelope,
        message: impl Content,
    ) -> Result<Delivery, Error> {
        let ext = &self.info.extensions;
        let scratch = &mut self.scratch;
        let result =
            transaction::send_content(&mut self.conn, ext, scratch, envelope, message, Then::Quit);
        self.end();
        result
    }

    /// [`Client::send_batch`] as the session's last call: QUIT leaves with
    /// the end of the last message, as [`Client::send_and_quit`]
    /// describes.
    pub fn send_batch_and_quit<E, B>(
        mut self,
        messages: impl IntoIterator<Item = (E, B)>,
    ) -> Vec<Result<Delivery, Error>>
    where
        E: std::borrow::Borrow<Envelope>,
        B: Content,
    {
        let ext = &self.info.extensions;
        let results =
            transaction::send_batch(&mut self.conn, ext, &mut self.scratch, messages, Then::Quit);
        self.end();
        results
    }

    /// Ends the session after a call that was to be its last: QUIT was
    /// read with the last message's replies, or (without PIPELINING, or
    /// after a failure) is sent now; its answer changes nothing.
    fn end(&mut self) {
        if !self.conn.is_closed() {
            let _ = self.conn.execute(&Command::Quit);
        }
        self.conn.shutdown();
    }

    fn step(&mut self, command: &Command<'_>, step: Step) -> Result<Reply, Error> {
        Error::check(self.conn.execute(command)?, step)
    }
}

impl Drop for Client {
    /// Says QUIT without waiting for the answer, so that the server does
    /// not log a lost connection.
    fn drop(&mut self) {
        if !self.conn.is_closed() {
            self.conn.queue(&Command::Quit);
            let _ = self.conn.flush("QUIT");
            self.conn.shutdown();
        }
    }
}
