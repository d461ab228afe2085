//! The client: a connected [`Client`] whose methods are the steps of the
//! exchange (its options are set with [`crate::builder`]).
//!
//! The client only strings the rooms together: setting up the session is
//! [`crate::session`]'s job, a mail transaction is
//! [`crate::transaction`]'s, and the bytes go through
//! [`crate::connection::Connection`].

use std::io::Read;
use std::time::{Duration, Instant};

use crate::cancel::Canceller;
use crate::checks::{check_path, check_text, MAX_PATH_LEN};
use crate::command::{Command, MailParams};
use crate::delivery::Delivery;
use crate::envelope::Envelope;
use crate::error::Error;
use crate::extensions::Extensions;
use crate::message::Content;
use crate::protocol::Protocol;
use crate::reply::Reply;
use crate::session::{self, Session};
use crate::success::Step;
use crate::transaction::{self, Scratch, Then};

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
    session: Session,
    scratch: Scratch,
    /// Recipients accepted by [`Client::rcpt`] since the last
    /// [`Client::mail`]: the replies LMTP owes after [`Client::data`].
    accepted: usize,
}

impl Client {
    /// A client over a session that is set up.
    pub(crate) fn over(session: Session) -> Client {
        Client {
            session,
            scratch: Scratch::default(),
            accepted: 0,
        }
    }

    /// What the server offered in its last EHLO reply.
    pub fn extensions(&self) -> &Extensions {
        &self.session.info.extensions
    }

    /// The server's greeting.
    pub fn greeting(&self) -> &Reply {
        &self.session.info.greeting
    }

    /// True when TLS protects the session.
    pub fn is_encrypted(&self) -> bool {
        self.session.conn.is_encrypted()
    }

    /// The server's reply that accepted our credentials, when the session
    /// authenticated.
    pub fn auth_reply(&self) -> Option<&Reply> {
        self.session.info.auth.as_ref()
    }

    /// True once the session is over: after QUIT, after the server closed
    /// it or said 421, or after an error that left the connection unusable.
    pub fn is_closed(&self) -> bool {
        self.session.conn.is_closed()
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
    ///     Err(smtpc::Error::Cancelled { .. }) => eprintln!("cancelled before the end of data"),
    ///     Err(smtpc::Error::OutcomeUnknown(_)) => eprintln!("cancelled: it may have been sent"),
    ///     other => println!("{other:?}"),
    /// }
    /// # Ok::<(), smtpc::Error>(())
    /// ```
    pub fn canceller(&self) -> Canceller {
        self.session.conn.canceller().clone()
    }

    /// The absolute deadline of every call from now on (`None` removes
    /// it; the call timeout, if set, still applies): each call returns by
    /// then, with [`Error::Deadline`] if it is not done.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.session.set_deadline(deadline);
    }

    /// Starts a call: its deadline is set.
    fn begin(&mut self) {
        self.session.conn.begin_call();
    }

    /// Says EHLO again (LHLO with LMTP) and takes the new list of
    /// extensions.
    pub fn ehlo(&mut self) -> Result<Reply, Error> {
        self.begin();
        let (reply, ext) = session::again(&mut self.session.conn, &self.session.setup)?;
        self.session.info.hello = reply.clone();
        self.session.info.extensions = ext;
        Ok(reply)
    }

    /// Says HELO (the server's extensions are then forgotten). LMTP has
    /// no HELO: with it, this is an error and nothing is sent.
    pub fn helo(&mut self) -> Result<Reply, Error> {
        if self.session.setup.protocol == Protocol::Lmtp {
            return Err(Error::Unsupported("LMTP has no HELO (RFC 2033 4.1)".into()));
        }
        self.begin();
        let reply = session::helo(&mut self.session.conn, &self.session.setup.helo_name)?;
        self.session.info.hello = reply.clone();
        self.session.info.extensions = Extensions::default();
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
        self.begin();
        // A transaction starts: a connection that sat idle is checked (and
        // replaced if the server closed it) first.
        self.session.ready()?;
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
        self.accepted = 0;
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
        let reply = self.step(
            &Command::Rcpt {
                to,
                params: Default::default(),
            },
            Step::Rcpt,
        )?;
        self.accepted += 1;
        Ok(reply)
    }

    /// `DATA`, then the message read from `body` (line endings made CRLF,
    /// dot-stuffed), then the end of data. Returns the final reply: the
    /// message is accepted only when this returns `Ok`.
    ///
    /// With LMTP the server gives a reply per recipient accepted since
    /// [`mail`](Client::mail): all are read, and this returns the first
    /// when each one is 2yz, else the error of the first that is not (use
    /// [`data_replies`](Client::data_replies) to see each one).
    pub fn data(&mut self, body: impl Read) -> Result<Reply, Error> {
        if self.session.setup.protocol != Protocol::Lmtp {
            self.begin();
            self.accepted = 0;
            let block = &mut self.scratch.block;
            return transaction::data(&mut self.session.conn, block, &mut { body });
        }
        let mut replies = self.data_replies(body)?.into_iter();
        let first = replies.next().ok_or(Error::ConnectionClosed {
            during: "end of data".into(),
        })?;
        let first = Error::check(first, Step::EndOfData)?;
        for reply in replies {
            Error::check(reply, Step::EndOfData)?;
        }
        Ok(first)
    }

    /// Like [`data`](Client::data), but with every reply after the end of
    /// data: with LMTP one per recipient accepted since
    /// [`mail`](Client::mail), in RCPT order, each 2yz (stored for that
    /// recipient) or 4yz/5yz (not stored for it), none an error; with
    /// SMTP the one reply, 250 (any other is an error). When a reply
    /// never comes the error is [`Error::OutcomeUnknown`].
    pub fn data_replies(&mut self, mut body: impl Read) -> Result<Vec<Reply>, Error> {
        self.begin();
        let accepted = std::mem::take(&mut self.accepted);
        let (conn, block) = (&mut self.session.conn, &mut self.scratch.block);
        match self.session.setup.protocol {
            Protocol::Lmtp => transaction::data_lmtp(conn, block, &mut body, accepted),
            Protocol::Smtp => transaction::data(conn, block, &mut body).map(|r| vec![r]),
        }
    }

    /// `RSET`: abandons the current transaction.
    pub fn rset(&mut self) -> Result<Reply, Error> {
        self.accepted = 0;
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
        self.session.conn.shutdown();
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
    /// Recipients the server puts off ("452 too many recipients") get the
    /// message in another transaction of the same call, and a connection
    /// the server closed while it sat idle is replaced before anything is
    /// sent; when the connection breaks after the end of the message was
    /// sent and before the reply, the error is
    /// [`Error::OutcomeUnknown`]: the message may have been delivered, and
    /// it is not sent again. `docs/delivery.md` has the whole story.
    ///
    /// The commands are grouped as the server allows: with PIPELINING the
    /// envelope and DATA leave in one write (two round trips in all), with
    /// CHUNKING too the envelope, `BDAT n LAST` and a small message leave
    /// together (one round trip). A body that fits in the first 256 KiB
    /// block is read before anything is sent, so its size is declared
    /// (`SIZE=`) and its 8-bit bytes detected (`BODY=8BITMIME`).
    pub fn send(&mut self, envelope: &Envelope, mut body: impl Read) -> Result<Delivery, Error> {
        self.begin();
        transaction::send(
            &mut self.session,
            &mut self.scratch,
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
        self.begin();
        transaction::send_content(
            &mut self.session,
            &mut self.scratch,
            envelope,
            body,
            Then::More,
        )
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
        self.begin();
        transaction::send_content(
            &mut self.session,
            &mut self.scratch,
            envelope,
            message,
            Then::More,
        )
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
        self.begin();
        transaction::send_batch(&mut self.session, &mut self.scratch, messages, Then::More)
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
        self.begin();
        let scratch = &mut self.scratch;
        let result = transaction::send(&mut self.session, scratch, envelope, &mut body, Then::Quit);
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
        self.begin();
        let scratch = &mut self.scratch;
        let result =
            transaction::send_content(&mut self.session, scratch, envelope, message, Then::Quit);
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
        self.begin();
        let results =
            transaction::send_batch(&mut self.session, &mut self.scratch, messages, Then::Quit);
        self.end();
        results
    }

    /// Ends the session after a call that was to be its last: QUIT was
    /// read with the last message's replies, or (without PIPELINING, or
    /// after a failure) is sent now; its answer changes nothing.
    fn end(&mut self) {
        if !self.session.conn.is_closed() {
            let _ = self.session.conn.execute(&Command::Quit);
        }
        self.session.conn.shutdown();
    }

    fn step(&mut self, command: &Command<'_>, step: Step) -> Result<Reply, Error> {
        // MAIL has begun its call already (a new connection may have been
        // made for it within its deadline).
        if !matches!(command, Command::Mail { .. }) {
            self.begin();
        }
        Error::check(self.session.conn.execute(command)?, step)
    }
}

/// The most a dropped client waits to write its QUIT.
const DROP_QUIT_WAIT: Duration = Duration::from_secs(1);

impl Drop for Client {
    /// Says QUIT without waiting for the answer, so that the server does
    /// not log a lost connection.
    fn drop(&mut self) {
        if !self.session.conn.is_closed() {
            // A server that stopped reading must not hold the caller up.
            let soon = Instant::now() + DROP_QUIT_WAIT;
            let conn = &mut self.session.conn;
            let deadline = conn.call_deadline().map_or(soon, |d| d.min(soon));
            conn.set_call_deadline(Some(deadline));
            self.session.conn.queue(&Command::Quit);
            let _ = self.session.conn.flush("QUIT");
            self.session.conn.shutdown();
        }
    }
}
