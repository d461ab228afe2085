//! The TLS handshake over a stream that is already open (STARTTLS, or
//! implicit TLS from the first byte), bounded by a deadline however the
//! server stalls.

use native_tls::{HandshakeError, TlsConnector};

use super::Stream;
use crate::cancel::Canceller;
use crate::error::Error;
use crate::timeouts::Limit;

/// Runs the client side of the handshake with `connector` over `plain`,
/// verifying the server's certificate against `name` (also the SNI).
/// Fails with [`Error::Timeout`] (or [`Error::Deadline`]) when it does not
/// end within `limit`, and with [`Error::Cancelled`] on a cancel.
pub(crate) fn run(
    connector: &TlsConnector,
    name: &str,
    plain: Stream,
    limit: Limit,
    cancel: &Canceller,
) -> Result<Stream, Error> {
    let during = format!("TLS handshake with {name}");
    let remaining = || limit.remaining();
    let socket_error = |source| Error::Io {
        during: during.clone(),
        source,
    };
    if remaining().is_zero() {
        return Err(limit.error(&during));
    }
    plain.set_read_timeout(remaining()).map_err(socket_error)?;
    plain.set_write_timeout(remaining()).map_err(socket_error)?;
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
                if cancel.is_pending() {
                    return Err(Error::Cancelled { during });
                }
                if remaining().is_zero() {
                    return Err(limit.error(&during));
                }
                mid.get_ref()
                    .set_read_timeout(remaining())
                    .map_err(socket_error)?;
                attempt = mid.handshake();
            }
        }
    }
}
