//! smtpc: a blocking SMTP client with a first-class C interface.
//!
//! It speaks the exchange a person would type by hand (greeting, EHLO,
//! MAIL FROM, RCPT TO, DATA, the message, the lone dot, QUIT) over a plain
//! `std::net::TcpStream`, with no async runtime. Every reply comes back as
//! a [`Reply`]; every failure is an [`Error`] that says what was being done.
//!
//! ```no_run
//! use smtpc::{Client, Envelope};
//!
//! let mut client = Client::builder("127.0.0.1").port(2525).connect()?;
//! let envelope = Envelope::new("kjj@solidosystems.com", ["khl@solidosystems.com"])?;
//! let message = "From: kjj@solidosystems.com\r\nTo: khl@solidosystems.com\r\n\
//!                Subject: Hand written SMTP\r\n\r\nHello.\r\n";
//! match client.send(&envelope, message.as_bytes()) {
//!     Ok(delivery) => println!("accepted: {}", delivery.reply),
//!     Err(e) if e.is_transient() => eprintln!("try again later: {e}"),
//!     Err(e) => eprintln!("failed: {e}"),
//! }
//! client.quit()?;
//! # Ok::<(), smtpc::Error>(())
//! ```
//!
//! Modules, from the top down (docs/architecture.md draws them):
//! [`client`](Client) strings together `session` (greeting, EHLO,
//! STARTTLS, AUTH) and `transaction` (envelope, content, per-recipient
//! results), which speak through `connection` (buffers, deadlines, the
//! transcript) over `stream` (reaching the server, directly or through a
//! SOCKS5 `proxy`; TCP, TLS, sendfile), with `timeouts` (the phases, the
//! deadline) and `cancel` (a call ended from another thread), using `command` (the
//! bytes of each command line), `encoder` (the bytes of message content)
//! and `message` (content prepared once), and read [`Reply`]s parsed by
//! `reply`. `ffi` is the C interface over the same public API.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod auth;
mod block;
mod builder;
mod cancel;
mod checks;
mod client;
mod command;
mod config;
mod connection;
mod delivery;
mod encoder;
mod envelope;
mod error;
mod extensions;
mod ffi;
mod message;
mod protocol;
mod proxy;
mod redact;
mod reply;
mod session;
mod stream;
mod success;
mod timeouts;
mod tls;
mod transaction;
mod transcript;

pub use auth::{Mechanism, Secret};
pub use builder::ClientBuilder;
pub use cancel::Canceller;
pub use client::Client;
pub use config::{Config, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT};
pub use delivery::{Delivery, Rejection};
pub use envelope::{Body, Envelope, Notify, Recipient, Ret};
pub use error::{ConnectAttempt, Error, ErrorKind, ProxyFailure};
pub use extensions::Extensions;
pub use message::{Content, Message, MessageFile};
pub use protocol::Protocol;
pub use proxy::Proxy;
pub use reply::{EnhancedCode, Reply, ReplyClass, ReplyError};
pub use stream::Transport;
pub use timeouts::Phase;
pub use tls::{take_over_system_roots, Tls, TlsVersion};
pub use transcript::Direction;

/// The wire format's building blocks, public for the fuzz targets and the
/// benchmarks. **Not part of the stable API**: anything here may change or
/// go in any release.
#[doc(hidden)]
pub mod codec {
    pub use crate::encoder::{has_8bit, DataEncoder};
    pub use crate::reply::{ReplyParser, MAX_LINES, MAX_LINE_LEN, MAX_REPLY_LEN};
}

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
