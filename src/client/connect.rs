//! Connecting: the options of how the server is reached and how long a
//! call may take, and the ways a session starts (a connection smtpc
//! makes, a socket or a stream of the caller's).

use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{Client, ClientBuilder};
use crate::cancel::{Canceller, Watched};
use crate::connection::Connection;
use crate::error::Error;
use crate::proxy::Proxy;
use crate::session::{self, SessionConfig};
use crate::stream::dial::{self, Dial};
use crate::stream::{net, Stream, Transport};
use crate::timeouts::{call_deadline, Budget};
use crate::transaction::Scratch;
use crate::transcript::{Direction, Transcript};

impl ClientBuilder {
    /// The most any one call may take, however its time is spent (name
    /// lookup, connecting, TLS, many slow replies): `connect` (the whole
    /// session setup), `send`, `send_batch` and every other step must
    /// return within `timeout` of its start, with
    /// [`Error::Deadline`] if they cannot. None by default. Reading a
    /// message from the caller's own reader is not bounded by it.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.config.call_timeout = Some(timeout);
        self
    }

    /// An absolute deadline for `connect` and every call of the session
    /// (the earlier of this and the [`call_timeout`](Self::call_timeout)
    /// wins). [`Client::set_deadline`] changes it later. For a whole run
    /// that must end by a given time.
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Connects from this source address (port chosen by the system), for
    /// a host with several addresses. Only the server's addresses of the
    /// same family are tried. With a proxy, it is the connection to the
    /// proxy that starts from it.
    pub fn local_address(mut self, address: IpAddr) -> Self {
        self.config.local_address = Some(address);
        self
    }

    /// Reaches the server through a SOCKS5 proxy (see [`Proxy`]), which
    /// resolves the server's name. TLS runs through it end to end, the
    /// certificate checked against the server's name.
    ///
    /// ```no_run
    /// let client = smtpc::Client::builder("mail.example.org")
    ///     .proxy("socks5://127.0.0.1:1080".parse()?)
    ///     .connect()?;
    /// # Ok::<(), smtpc::Error>(())
    /// ```
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.config.proxy = Some(proxy);
        self
    }

    /// The handle that cancels `connect` and, later, any call of the
    /// session (see [`Canceller`]); the same one [`Client::canceller`]
    /// gives.
    pub fn canceller(&self) -> Canceller {
        self.canceller.clone()
    }

    /// Uses `canceller` for this connection instead of one of its own (to
    /// keep one handle across reconnections). One client at a time.
    pub fn with_canceller(mut self, canceller: &Canceller) -> Self {
        self.canceller = canceller.clone();
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
        if config.host.is_empty() {
            return Err(Error::InvalidInput("no server to connect to".into()));
        }
        // Checked before anything goes on the network.
        let mut session = config.session("[127.0.0.1]".to_owned())?;
        let port = config.port();
        let deadline = call_deadline(self.deadline, config.call_timeout);
        let how = Dial {
            connect_timeout: config.connect_timeout,
            local: config.local_address,
            deadline,
            cancel: &self.canceller,
        };
        let dialed = dial::dial(&config.host, port, config.proxy.as_ref(), &how)?;
        let budget = self.budget();
        let mut transcript = Transcript::new(self.transcript);
        transcript.note(Direction::Info, &format!("connected to {}", dialed.route));
        if config.helo_name.is_none() {
            if let Some(ip) = dialed.seen_as {
                session.helo_name = net::address_literal(ip);
            }
        }
        let stream = Stream::Tcp(dialed.tcp);
        let watched = dialed.watched;
        start(
            stream,
            watched,
            transcript,
            budget,
            session,
            self.canceller,
            deadline,
        )
    }

    /// Runs the session over a stream the caller opened (a tunnel, a Unix
    /// socket, an in-memory script in tests). The timeouts and the
    /// deadline then bound each reply only as far as the stream returns
    /// control, and a cancel takes effect when its read or write returns:
    /// the stream's own reads must not block forever.
    pub fn connect_stream(self, stream: impl Transport + 'static) -> Result<Client, Error> {
        let session = self.config.session("[127.0.0.1]".to_owned())?;
        let budget = self.budget();
        let transcript = Transcript::new(self.transcript);
        let stream = Stream::Custom(Box::new(stream));
        let deadline = budget.call_deadline();
        start(
            stream,
            None,
            transcript,
            budget,
            session,
            self.canceller,
            deadline,
        )
    }

    /// Runs the session over a socket the caller connected (through an
    /// HTTP CONNECT proxy, Tor, a resolver of its own...), with every
    /// timeout, the deadline and cancel working as over a connection
    /// smtpc made. The client owns the socket from now on and closes it
    /// when the session ends. It is made blocking, and its timeouts and
    /// TCP_NODELAY are set.
    pub fn connect_socket(self, socket: TcpStream) -> Result<Client, Error> {
        let mut session = self.config.session("[127.0.0.1]".to_owned())?;
        let setup = |source| Error::Io {
            during: "setting up the socket".into(),
            source,
        };
        socket.set_nonblocking(false).map_err(setup)?;
        // Not TCP (a Unix socket): no Nagle to turn off.
        let _ = socket.set_nodelay(true);
        let watched = self.canceller.watch(&socket).map_err(setup)?;
        let budget = self.budget();
        let mut transcript = Transcript::new(self.transcript);
        if let Ok(peer) = socket.peer_addr() {
            transcript.note(Direction::Info, &format!("connected to {peer}"));
        }
        if self.config.helo_name.is_none() {
            if let Ok(local) = socket.local_addr() {
                session.helo_name = net::address_literal(local.ip());
            }
        }
        let deadline = budget.call_deadline();
        let stream = Stream::Tcp(socket);
        start(
            stream,
            Some(watched),
            transcript,
            budget,
            session,
            self.canceller,
            deadline,
        )
    }

    fn budget(&self) -> Budget {
        Budget {
            timeouts: self.config.timeouts,
            call_timeout: self.config.call_timeout,
            deadline: self.deadline,
        }
    }
}

/// Sets up the session over an open stream, within `deadline`.
fn start(
    stream: Stream,
    watched: Option<Watched>,
    transcript: Transcript,
    budget: Budget,
    config: SessionConfig,
    canceller: Canceller,
    deadline: Option<Instant>,
) -> Result<Client, Error> {
    let mut conn = Connection::new(stream, budget, transcript, canceller, watched);
    conn.set_call_deadline(deadline);
    let info = session::open(&mut conn, &config)?;
    Ok(Client {
        conn,
        config,
        info,
        scratch: Scratch::default(),
    })
}
