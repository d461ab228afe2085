//! Test support for smtpc that does not itself need smtpc: scripted
//! loopback servers that play a fixed script of replies and record every
//! byte the client sent, an in-memory transport, test certificates, real
//! servers (mailin-embedded in the process; aiosmtpd, Postfix and
//! smtp-sink as child processes), SOCKS5 proxies (danted, and a scripted
//! one), and the reference the content encoder is checked against.
//!
//! It does not depend on smtpc, so that smtpc's own unit tests can use the
//! oracle through a dev-dependency without a cycle. Helpers that build an
//! `smtpc::Client` live with the tests that use them.
//!
//! Everything but the oracle and the in-memory transport is behind the
//! default feature `servers` (rustls, rcgen, mailin-embedded), so that the
//! fuzz targets can take the oracle without building a TLS stack.

pub mod memory;
pub mod oracle;

pub use memory::{Memory, Writes};
pub use oracle::{normalised, unstuff};

#[cfg(feature = "servers")]
pub mod certs;
#[cfg(feature = "servers")]
pub mod fake;
#[cfg(feature = "servers")]
mod mailin;
#[cfg(feature = "servers")]
pub mod real;
#[cfg(feature = "servers")]
pub mod records;
#[cfg(feature = "servers")]
pub mod scram;
#[cfg(feature = "servers")]
mod script;
#[cfg(feature = "servers")]
pub mod socks;

#[cfg(feature = "servers")]
pub use mailin::{mailin, mailin_with, Received, MAILIN_PASSWORD, MAILIN_USER};
#[cfg(feature = "servers")]
pub use script::*;
