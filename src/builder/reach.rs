//! How the server is reached and how long a call may take: the
//! builder's options for the deadline, cancel, the source address and the
//! proxy, and a session over a socket the caller connected.

use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use super::ClientBuilder;
use crate::cancel::Canceller;
use crate::client::Client;
use crate::connection::Connection;
use crate::error::Error;
use crate::proxy::Proxy;
use crate::session::Session;
use crate::stream::{net, Stream};
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

    /// Runs the session over a socket the caller connected (through an
    /// HTTP CONNECT proxy, Tor, a resolver of its own...), with every
    /// timeout, the deadline and cancel working as over a connection
    /// smtpc made. The client owns the socket from now on and closes it
    /// when the session ends (it is not opened again: it was the
    /// caller's). It is made blocking, and its timeouts and TCP_NODELAY
    /// are set.
    pub fn connect_socket(self, socket: TcpStream) -> Result<Client, Error> {
        let mut setup = self.config.session("[127.0.0.1]".to_owned())?;
        let failed = |source| Error::Io {
            during: "setting up the socket".into(),
            source,
        };
        socket.set_nonblocking(false).map_err(failed)?;
        // Not TCP (a Unix socket): no Nagle to turn off.
        let _ = socket.set_nodelay(true);
        let watched = self.canceller.watch(&socket).map_err(failed)?;
        let mut transcript = Transcript::new(self.transcript);
        if let Ok(peer) = socket.peer_addr() {
            transcript.note(Direction::Info, &format!("connected to {peer}"));
        }
        if self.config.helo_name.is_none() {
            if let Ok(local) = socket.local_addr() {
                setup.helo_name = net::address_literal(local.ip());
            }
        }
        let budget = self.config.budget(self.deadline);
        let mut conn = Connection::new(
            Stream::Tcp(socket),
            budget,
            transcript,
            self.canceller,
            Some(watched),
        );
        conn.set_call_deadline(budget.call_deadline());
        let session = Session::over(conn, setup, self.config.upkeep())?;
        Ok(Client::over(session))
    }
}
