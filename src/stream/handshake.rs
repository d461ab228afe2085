//! The TLS handshake over a stream that is already open (STARTTLS, or
//! implicit TLS from the first byte), bounded by a deadline however the
//! server stalls.

use std::time::{Duration, Instant};

use native_tls::{HandshakeError, TlsConnector};

use super::Stream;
use crate::error::Error;

/// Runs the client side of the handshake with `connector` over `plain`,
/// verifying the server's certificate against `name` (also the SNI).
/// Fails with [`Error::Timeout`] when it does not end within `timeout`.
pub(crate) fn run(
    connector: &TlsConnector,
    name: &str,
    plain: Stream,
    timeout: Duration,
) -> Result<Stream, Error> {
    let during = format!("TLS handshake with {name}");
    let deadline = Instant::now() + timeout;
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let socket_error = |source| Error::Io {
        during: during.clone(),
        source,
    };
    plain.set_read_timeout(remaining()).map_err(socket_error)?;
    let mut attempt = connector.connect(name, plain);
    loop {
        match attempt {
            Ok(tls) => return Ok(Stream::Tls(Box::new(tls))),
            Err(HandshakeError::Failure(e)) => {
                return Err(Error::Tls {
                    during,
                    source: Box::new(e),
                })
            }
            // A socket timeout mid-handshake surfaces as WouldBlock.
            Err(HandshakeError::WouldBlock(mid)) => {
                if remaining().is_zero() {
                    return Err(Error::Timeout { during });
                }
                mid.get_ref()
                    .set_read_timeout(remaining())
                    .map_err(socket_error)?;
                attempt = mid.handshake();
            }
        }
    }
}
