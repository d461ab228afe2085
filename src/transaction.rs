//! One mail transaction: the envelope (MAIL FROM, RCPT TO), the content
//! (DATA), and the per-recipient results.
//!
//! The rule that matters most: a message is reported as sent only when the
//! reply to its end of data is 2yz. After any failure that leaves the
//! connection usable, RSET clears the server's state for the next message.

use std::io::Read;

use crate::command::{Body, Command, MailParams, RcptParams};
use crate::data::DataEncoder;
use crate::envelope::Envelope;
use crate::error::{Error, Rejection};
use crate::extensions::Extensions;
use crate::reply::{Reply, ReplyClass};
use crate::stream::Connection;

/// The outcome of a message the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The reply to the end of data (it usually names the queue id).
    pub reply: Reply,
    /// The recipients the server accepted.
    pub accepted: Vec<String>,
    /// The recipients the server refused, each with its reply. The message
    /// was not delivered to them.
    pub rejected: Vec<Rejection>,
}

impl Delivery {
    /// The server's queue id, when its reply names one.
    pub fn queue_id(&self) -> Option<&str> {
        self.reply.queue_id()
    }

    /// True when every recipient was accepted.
    pub fn is_complete(&self) -> bool {
        self.rejected.is_empty()
    }
}

/// The `MAIL FROM` parameters for this envelope on this server. Fails
/// when the envelope needs something the server does not offer.
pub(crate) fn mail_params<'e>(
    ext: &Extensions,
    envelope: &'e Envelope,
    size: Option<u64>,
) -> Result<MailParams<'e>, Error> {
    let smtputf8 = envelope.needs_smtputf8();
    if smtputf8 && !ext.smtp_utf8() {
        return Err(Error::Unsupported(
            "an address is not ASCII and the server does not offer SMTPUTF8".into(),
        ));
    }
    let size = size.or(envelope.declared_size());
    if let (Some(size), Some(limit)) = (size, ext.max_size()) {
        if size > limit {
            return Err(Error::MessageTooLarge { size, limit });
        }
    }
    let body = match envelope.declared_body() {
        Some(Body::EightBitMime) if !ext.eight_bit_mime() => {
            return Err(Error::Unsupported(
                "the message is 8-bit and the server does not offer 8BITMIME".into(),
            ))
        }
        Some(Body::BinaryMime) if !(ext.binary_mime() && ext.chunking()) => {
            return Err(Error::Unsupported(
                "the message is binary and the server does not offer BINARYMIME with CHUNKING"
                    .into(),
            ))
        }
        Some(Body::SevenBit) if !ext.eight_bit_mime() => None,
        body => body,
    };
    Ok(MailParams {
        size: size.filter(|_| ext.supports_size()),
        body,
        smtputf8,
        ret: envelope.ret_option().filter(|_| ext.dsn()),
        envid: envelope.envid_option().filter(|_| ext.dsn()),
    })
}

fn rcpt_params<'e>(ext: &Extensions, r: &'e crate::envelope::Recipient) -> RcptParams<'e> {
    if !ext.dsn() {
        return RcptParams::default();
    }
    RcptParams {
        notify: r.notify_option(),
        orcpt: r.orcpt(),
    }
}

/// Sends RSET after a failed transaction so the connection can carry the
/// next message. Its own failure is not reported: the caller reports the
/// error that made the transaction fail, and a dead connection shows on
/// the next call.
pub(crate) fn reset_after_failure(conn: &mut Connection) {
    if !conn.is_closed() {
        let _ = conn.execute(&Command::Rset);
    }
}

/// Runs `f`; if it fails, sends RSET before returning the error.
fn or_reset<T>(
    conn: &mut Connection,
    f: impl FnOnce(&mut Connection) -> Result<T, Error>,
) -> Result<T, Error> {
    let result = f(conn);
    if result.is_err() {
        reset_after_failure(conn);
    }
    result
}

/// The whole transaction, one command at a time.
pub(crate) fn send(
    conn: &mut Connection,
    ext: &Extensions,
    envelope: &Envelope,
    body: &mut dyn Read,
) -> Result<Delivery, Error> {
    let params = mail_params(ext, envelope, None)?;
    or_reset(conn, |conn| {
        let mail = Command::Mail {
            from: envelope.sender(),
            params,
        };
        Error::check(conn.execute(&mail)?, "2xx")?;
        let mut accepted = Vec::new();
        let mut rejected = Vec::new();
        for r in envelope.recipient_list() {
            let rcpt = Command::Rcpt {
                to: r.address(),
                params: rcpt_params(ext, r),
            };
            let reply = conn.execute(&rcpt)?;
            sort_recipient(r.address(), reply, &mut accepted, &mut rejected)?;
        }
        if accepted.is_empty() {
            return Err(Error::AllRecipientsRejected(rejected));
        }
        let reply = data(conn, body)?;
        Ok(Delivery {
            reply,
            accepted,
            rejected,
        })
    })
}

/// Files a RCPT reply under accepted or rejected. A reply that is neither
/// (a 3yz) is an error: the server is not following the protocol.
fn sort_recipient(
    address: &str,
    reply: Reply,
    accepted: &mut Vec<String>,
    rejected: &mut Vec<Rejection>,
) -> Result<(), Error> {
    match reply.class() {
        ReplyClass::PositiveCompletion => accepted.push(address.to_owned()),
        ReplyClass::TransientNegative | ReplyClass::PermanentNegative => {
            // 421 means the server is leaving: the transaction is over.
            if reply.code == 421 {
                return Err(Error::Transient(reply));
            }
            rejected.push(Rejection {
                recipient: address.to_owned(),
                reply,
            });
        }
        ReplyClass::PositiveIntermediate => {
            return Err(Error::UnexpectedReply {
                expected: "2xx",
                reply,
            })
        }
    }
    Ok(())
}

/// DATA, the content, and the end of data. Returns the final reply, which
/// is 2yz or an error.
pub(crate) fn data(conn: &mut Connection, body: &mut dyn Read) -> Result<Reply, Error> {
    Error::check(conn.execute(&Command::Data)?, "354")?;
    let mut encoder = DataEncoder::for_data();
    conn.queue_body(body, &mut encoder, "DATA")?;
    conn.note(crate::stream::Direction::Sent, ".");
    conn.flush("end of data")?;
    Error::check(conn.read_reply("end of data")?, "2xx")
}
