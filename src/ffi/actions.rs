//! The calls that talk to the server: connect, the steps of a mail
//! transaction, whole messages and batches, RSET, NOOP, QUIT. Each only
//! reads its arguments and calls the Rust API; the handle records what
//! came back.

use std::ffi::{c_char, c_void};

use super::args;
use super::callbacks::{smtpc_read_fn, Reader};
use super::handle::{smtpc_client, Sending};
use super::result::{smtpc_result, Done, Fail};
use crate::error::Error;
use crate::message::MessageFile;

/// Connects to the server set with `smtpc_set_server`, reads the greeting
/// and says EHLO (HELO if the server does not know EHLO). After a session
/// ended (`smtpc_quit`, or the server closed it), connects anew; while a
/// session is open, `SMTPC_INVALID_ARGUMENT`.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_connect(c: *mut smtpc_client) -> smtpc_result {
    ffi_boundary! { c => |h| {
        if h.open_session().is_some() {
            return Err(Fail::invalid("already connected: call smtpc_quit first"));
        }
        h.session = None;
        let client = h.builder()?.connect()?;
        let greeting = client.greeting().clone();
        h.session = Some(client);
        Ok(Done::Reply(greeting))
    }}
}

/// `MAIL FROM:<from>`: starts a message. An empty `from` is the null
/// reverse-path (for bounces).
///
/// # Safety
/// `c` is NULL or a live handle; `from` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_mail(c: *mut smtpc_client, from: *const c_char) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `from` is NULL or a NUL-terminated string.
        let from = unsafe { args::text(from, "from") }?;
        Ok(Done::Reply(h.session()?.mail(from)?))
    }}
}

/// `RCPT TO:<to>`: adds a recipient to the message started with
/// `smtpc_mail`.
///
/// # Safety
/// `c` is NULL or a live handle; `to` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_rcpt(c: *mut smtpc_client, to: *const c_char) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `to` is NULL or a NUL-terminated string.
        let to = unsafe { args::text(to, "to") }?;
        Ok(Done::Reply(h.session()?.rcpt(to)?))
    }}
}

/// `DATA`, then the `len` bytes at `message`, then the end of data. Line
/// endings are made CRLF and lines starting with "." are dot-stuffed. The
/// message was accepted only when this returns `SMTPC_OK`.
///
/// # Safety
/// `c` is NULL or a live handle; `message` is NULL or points to `len`
/// readable bytes (NULL is allowed when `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn smtpc_data(
    c: *mut smtpc_client,
    message: *const c_void,
    len: usize,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `message` is NULL or `len` readable bytes.
        let message = unsafe { args::bytes(message.cast(), len, "message") }?;
        Ok(Done::Reply(h.session()?.data(message)?))
    }}
}

/// Like `smtpc_data`, with the message supplied piece by piece by `read`
/// (see `smtpc_read_fn`), for messages that do not fit in memory.
///
/// # Safety
/// `c` is NULL or a live handle; `read` is NULL or a function of the
/// declared type.
#[no_mangle]
pub unsafe extern "C" fn smtpc_data_stream(
    c: *mut smtpc_client,
    read: smtpc_read_fn,
    user_data: *mut c_void,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        let body = Reader::new(read, user_data)?;
        Ok(Done::Reply(h.session()?.data(body)?))
    }}
}

/// Sends one message: MAIL FROM, RCPT TO for each of the `to_count`
/// addresses in `to`, DATA (or BDAT) and the `len` bytes at `message`,
/// grouped as the server allows (PIPELINING, CHUNKING). The message is
/// not copied; its size is declared with SIZE= (a message over the
/// server's limit is `SMTPC_PERMANENT` before anything is sent).
///
/// Returns `SMTPC_OK` when every recipient was accepted and the server
/// took the message; `SMTPC_PARTIAL` when it went to some recipients and
/// others were refused (see `smtpc_rejected_count`); when all were
/// refused, `SMTPC_TRANSIENT` or `SMTPC_PERMANENT` and nothing was sent.
/// After a failed transaction RSET is sent, so the session can carry the
/// next message.
///
/// # Safety
/// `c` is NULL or a live handle; `from` is NULL or a NUL-terminated
/// string; `to` is NULL or points to `to_count` pointers, each NULL or a
/// NUL-terminated string; `message` is NULL or points to `len` readable
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn smtpc_send(
    c: *mut smtpc_client,
    from: *const c_char,
    to: *const *const c_char,
    to_count: usize,
    message: *const c_void,
    len: usize,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `from` and `to` as documented above.
        let envelope = unsafe { args::envelope(from, to, to_count) }?;
        // SAFETY: the caller promises `message` is NULL or `len` readable bytes.
        let message = unsafe { args::bytes(message.cast(), len, "message") }?;
        let sent = h.deliver(|s| match s {
            Sending::Going(s) => s.send_bytes(&envelope, message),
            Sending::Last(s) => s.send_message_and_quit(&envelope, message),
        })?;
        Ok(Done::Delivery(sent?))
    }}
}

/// Like `smtpc_send`, with the message supplied by `read` (see
/// `smtpc_read_fn`).
///
/// # Safety
/// As for `smtpc_send`, with `read` NULL or a function of the declared
/// type instead of `message`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_send_stream(
    c: *mut smtpc_client,
    from: *const c_char,
    to: *const *const c_char,
    to_count: usize,
    read: smtpc_read_fn,
    user_data: *mut c_void,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `from` and `to` as for smtpc_send.
        let envelope = unsafe { args::envelope(from, to, to_count) }?;
        let body = Reader::new(read, user_data)?;
        let sent = h.deliver(|s| match s {
            Sending::Going(s) => s.send(&envelope, body),
            Sending::Last(s) => s.send_and_quit(&envelope, body),
        })?;
        Ok(Done::Delivery(sent?))
    }}
}

/// Like `smtpc_send`, with the message in the file at `path` (a
/// NUL-terminated UTF-8 string). The file is read once to learn its size
/// (declared with SIZE=) and kind, then sent from the file in constant
/// memory; when the server offers CHUNKING and the file already has CRLF
/// line endings, the kernel sends it straight from the file (Linux,
/// without TLS). A file that cannot be opened or read is `SMTPC_IO`; one
/// that changes while it is sent fails the message.
///
/// # Safety
/// As for `smtpc_send`, with `path` NULL or a NUL-terminated string
/// instead of `message` and `len`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_send_file(
    c: *mut smtpc_client,
    from: *const c_char,
    to: *const *const c_char,
    to_count: usize,
    path: *const c_char,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `from` and `to` as for smtpc_send.
        let envelope = unsafe { args::envelope(from, to, to_count) }?;
        // SAFETY: the caller promises `path` is NULL or a NUL-terminated string.
        let path = unsafe { args::text(path, "path") }?;
        let file = MessageFile::open(path).map_err(|source| Error::Io {
            during: format!("reading the message file {path}"),
            source,
        })?;
        let sent = h.deliver(|s| match s {
            Sending::Going(s) => s.send_message(&envelope, &file),
            Sending::Last(s) => s.send_message_and_quit(&envelope, &file),
        })?;
        Ok(Done::Delivery(sent?))
    }}
}

/// One message of a batch (see `smtpc_send_batch`): the sender, the
/// `to_count` recipients at `to`, and the `len` bytes of the message at
/// `data`, each as for `smtpc_send`.
#[repr(C)]
pub struct smtpc_message {
    /// The sender (NUL-terminated; "" is the null reverse-path).
    pub from: *const c_char,
    /// `to_count` recipients, each NUL-terminated.
    pub to: *const *const c_char,
    pub to_count: usize,
    /// The message: `len` bytes, not copied.
    pub data: *const c_void,
    pub len: usize,
}

/// Sends the `count` messages at `messages` over this session, in order,
/// each with its own result: with PIPELINING the end of one message and
/// the envelope of the next leave in one write, so a message costs one
/// round trip (with CHUNKING too, several small messages share a write).
/// A message that fails (an invalid argument, a refused sender or
/// recipients) does not stop the others; after 421 or a broken connection
/// every message not yet accepted fails.
///
/// Returns `SMTPC_OK` when every message went to every recipient;
/// otherwise the result of the first message that did not, whose reply
/// and error the handle's accessors then give. Each message's own result,
/// reply code, queue id and error: `smtpc_batch_result`,
/// `smtpc_batch_reply_code`, `smtpc_batch_queue_id`,
/// `smtpc_batch_error_message` (0 to `smtpc_batch_count` - 1).
///
/// # Safety
/// `c` is NULL or a live handle; `messages` is NULL or points to `count`
/// messages, each with pointers as `smtpc_send` takes them.
#[no_mangle]
pub unsafe extern "C" fn smtpc_send_batch(
    c: *mut smtpc_client,
    messages: *const smtpc_message,
    count: usize,
) -> smtpc_result {
    ffi_boundary! { c => |h| {
        // SAFETY: the caller promises `messages` is NULL or `count` messages.
        let messages = unsafe { args::array(messages, count, "messages") }?;
        h.session()?;
        // Each message's arguments are read first: a bad one is that
        // message's failure, and never reaches the wire.
        let mut results: Vec<Option<Result<_, Fail>>> = Vec::with_capacity(count);
        let mut valid = Vec::with_capacity(count);
        for (i, m) in messages.iter().enumerate() {
            // SAFETY: the caller promises each message's `from` and `to` as
            // smtpc_send takes them.
            let envelope = unsafe { args::envelope(m.from, m.to, m.to_count) };
            let read = envelope.and_then(|e| {
                // SAFETY: the caller promises each message's `data` is NULL
                // or `len` readable bytes.
                let data = unsafe { args::bytes(m.data.cast(), m.len, "data") }?;
                Ok((e, data))
            });
            match read {
                Ok(message) => {
                    valid.push((i, message));
                    results.push(None);
                }
                Err(fail) => results.push(Some(Err(fail))),
            }
        }
        let batch = valid.iter().map(|(_, (e, data))| (e, *data));
        let sent = h.deliver(|s| match s {
            Sending::Going(s) => s.send_batch(batch),
            Sending::Last(s) => s.send_batch_and_quit(batch),
        })?;
        for ((i, _), result) in valid.iter().zip(sent) {
            results[*i] = Some(result.map_err(Fail::from));
        }
        let steps = results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Fail::from(Error::ConnectionClosed {
                        during: "sending the batch".into(),
                    }))
                })
            })
            .collect();
        Ok(Done::Batch(steps))
    }}
}

/// `RSET`: abandons the message in progress.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_rset(c: *mut smtpc_client) -> smtpc_result {
    ffi_boundary! { c => |h| Ok(Done::Reply(h.session()?.rset()?)) }
}

/// `NOOP`: checks that the server is still there.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_noop(c: *mut smtpc_client) -> smtpc_result {
    ffi_boundary! { c => |h| Ok(Done::Reply(h.session()?.noop()?)) }
}

/// `QUIT`, then closes the connection whatever the reply. Later calls
/// other than `smtpc_connect` and `smtpc_client_free` return
/// `SMTPC_CLOSED`.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_quit(c: *mut smtpc_client) -> smtpc_result {
    ffi_boundary! { c => |h| Ok(Done::Reply(h.session()?.quit()?)) }
}
