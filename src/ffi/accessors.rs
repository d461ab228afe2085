//! The accessors: what the last call on a handle left (`smtpc_reply_*`,
//! `smtpc_error_message`, `smtpc_queue_id`, `smtpc_rejected_*`,
//! `smtpc_batch_*`) and the questions about the session (`smtpc_is_*`,
//! `smtpc_has_extension`). They only read the handle, so the strings
//! they return stay valid across them. Called from a callback while a
//! call holds the handle, each gives what it gives for NULL (see
//! `smtpc_client`): the outcome is being made, and is not read.

use std::ffi::{c_char, c_int, CString};
use std::ptr::null;

use super::args;
use super::handle::smtpc_client;
use super::result::smtpc_result::{self, *};

/// A pointer to `s`, or NULL.
fn ptr(s: Option<&CString>) -> *const c_char {
    s.map_or(null(), |s| s.as_ptr())
}

/// The server's reply code from the last call (e.g. 250, 550), or 0 when
/// the last call got no reply (it failed before one came, or only set an
/// option) or `c` is NULL. After `smtpc_send`, the reply to the end of
/// data; when every recipient was refused, the first refusal's code.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_reply_code(c: *const smtpc_client) -> c_int {
    ffi_boundary! { c or 0 => |h| h.outcome.reply.code }
}

/// The enhanced status code (RFC 3463) of the last reply, e.g. "5.1.1";
/// NULL when the reply had none, or there was no reply.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`). The string belongs
/// to the handle and is valid until the next call on it that is not an
/// accessor.
#[no_mangle]
pub unsafe extern "C" fn smtpc_reply_enhanced(c: *const smtpc_client) -> *const c_char {
    ffi_boundary! { c or null() => |h| ptr(h.outcome.reply.enhanced.as_ref()) }
}

/// The text of the last reply without its code and enhanced code, lines
/// joined with "\n"; "" when there was no reply. Never NULL.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_reply_text(c: *const smtpc_client) -> *const c_char {
    ffi_boundary! { c or c"".as_ptr() => |h| h.outcome.reply.text.as_ptr() }
}

/// What went wrong in the last call, naming what was being done (e.g.
/// "RCPT TO:<b@example.org>: 550 5.1.1 No such user"); "" after a call
/// that returned `SMTPC_OK`. Never NULL: for a NULL handle, or from a
/// callback during a call on the handle, a static text that says so.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_error_message(c: *const smtpc_client) -> *const c_char {
    ffi_boundary! {
        c or c"the smtpc_client handle is NULL".as_ptr(),
        busy c"a call on this handle is in progress".as_ptr() => |h| h.outcome.error.as_ptr()
    }
}

/// The server's queue id named in the last reply ("queued as ID" or
/// "id=ID"), usually after `smtpc_send` or `smtpc_data`; NULL when the
/// reply names none.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_queue_id(c: *const smtpc_client) -> *const c_char {
    ffi_boundary! { c or null() => |h| ptr(h.outcome.queue_id.as_ref()) }
}

/// How many recipients the server refused (at RCPT, or with LMTP after
/// the message) in the last `smtpc_send`,
/// `smtpc_send_stream` or `smtpc_send_file` (after `smtpc_send_batch`, in
/// the message whose result the call returned; 0 after any other call).
/// When the result was
/// `SMTPC_PARTIAL`, the message went to the others; when every recipient
/// was refused, the result is `SMTPC_TRANSIENT` or `SMTPC_PERMANENT` and
/// the message was not sent.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_rejected_count(c: *const smtpc_client) -> usize {
    ffi_boundary! { c or 0 => |h| h.outcome.rejected.len() }
}

/// How many recipients of the last send have an unknown outcome: the
/// message took several transactions (the server took only so many
/// recipients at a time) and the connection broke after the end of one of
/// them was sent, before the reply. The message may have reached them;
/// sending it again to them may deliver it twice. 0 after any other call.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_unknown_count(c: *const smtpc_client) -> usize {
    ffi_boundary! { c or 0 => |h| h.outcome.unknown.len() }
}

/// The `i`th recipient of unknown outcome (from 0); NULL when `i` is out
/// of range.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_unknown_address(c: *const smtpc_client, i: usize) -> *const c_char {
    ffi_boundary! { c or null() => |h| ptr(h.outcome.unknown.get(i)) }
}

/// The `i`th refused recipient's address (from 0); NULL when `i` is out
/// of range.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_rejected_address(c: *const smtpc_client, i: usize) -> *const c_char {
    ffi_boundary! { c or null() => |h| ptr(h.outcome.rejected.get(i).map(|r| &r.address)) }
}

/// The reply code that refused the `i`th refused recipient; 0 when `i`
/// is out of range.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_rejected_code(c: *const smtpc_client, i: usize) -> c_int {
    ffi_boundary! { c or 0 => |h| h.outcome.rejected.get(i).map_or(0, |r| r.reply.code) }
}

/// The enhanced status code that refused the `i`th refused recipient;
/// NULL when it had none or `i` is out of range.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_rejected_enhanced(
    c: *const smtpc_client,
    i: usize,
) -> *const c_char {
    ffi_boundary! { c or null() => |h| {
        let refused = h.outcome.rejected.get(i);
        ptr(refused.and_then(|r| r.reply.enhanced.as_ref()))
    }}
}

/// The text of the reply that refused the `i`th refused recipient; NULL
/// when `i` is out of range.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_rejected_text(c: *const smtpc_client, i: usize) -> *const c_char {
    ffi_boundary! { c or null() => |h| ptr(h.outcome.rejected.get(i).map(|r| &r.reply.text)) }
}

/// How many recipients the message of the last send went to (after
/// `smtpc_send_batch`, in the message whose result the call returned; 0
/// after any other call, and when the message went to nobody). With
/// LMTP each has its own reply (`smtpc_accepted_code`,
/// `smtpc_accepted_text`: where it was stored); with SMTP each has the
/// reply to the end of its transaction.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_accepted_count(c: *const smtpc_client) -> usize {
    ffi_boundary! { c or 0 => |h| h.outcome.accepted.len() }
}

/// The `i`th recipient the message went to (from 0); NULL when `i` is
/// out of range.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_accepted_address(c: *const smtpc_client, i: usize) -> *const c_char {
    ffi_boundary! { c or null() => |h| ptr(h.outcome.accepted.get(i).map(|r| &r.address)) }
}

/// The code of the reply that says the `i`th recipient got the message
/// (250); 0 when `i` is out of range.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_accepted_code(c: *const smtpc_client, i: usize) -> c_int {
    ffi_boundary! { c or 0 => |h| h.outcome.accepted.get(i).map_or(0, |r| r.reply.code) }
}

/// The text of that reply (Dovecot's names the recipient and the
/// message's id); NULL when `i` is out of range.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_accepted_text(c: *const smtpc_client, i: usize) -> *const c_char {
    ffi_boundary! { c or null() => |h| ptr(h.outcome.accepted.get(i).map(|r| &r.reply.text)) }
}

/// How many messages the last call sent as a batch (`smtpc_send_batch`);
/// 0 after any other call.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_batch_count(c: *const smtpc_client) -> usize {
    ffi_boundary! { c or 0 => |h| h.outcome.batch.len() }
}

/// The result of the `i`th message (from 0) of the last batch, as
/// `smtpc_send` would have returned it for that message alone;
/// `SMTPC_INVALID_ARGUMENT` when `i` is out of range; `SMTPC_BUSY`
/// from a callback during a call on the handle.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_batch_result(c: *const smtpc_client, i: usize) -> smtpc_result {
    ffi_boundary! { c or SMTPC_INVALID_ARGUMENT, busy SMTPC_BUSY => |h| {
        h.outcome.batch.get(i).map_or(SMTPC_INVALID_ARGUMENT, |(r, _)| *r)
    }}
}

/// The final reply code for the `i`th message of the last batch (the
/// reply to its end of data, or what refused it); 0 when there was none
/// or `i` is out of range.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_batch_reply_code(c: *const smtpc_client, i: usize) -> c_int {
    ffi_boundary! { c or 0 => |h| h.outcome.batch.get(i).map_or(0, |(_, o)| o.reply.code) }
}

/// The queue id the server gave the `i`th message of the last batch;
/// NULL when it named none or `i` is out of range.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_batch_queue_id(c: *const smtpc_client, i: usize) -> *const c_char {
    ffi_boundary! { c or null() => |h| {
        ptr(h.outcome.batch.get(i).and_then(|(_, o)| o.queue_id.as_ref()))
    }}
}

/// What went wrong with the `i`th message of the last batch; "" when it
/// was sent to every recipient; NULL when `i` is out of range.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_batch_error_message(
    c: *const smtpc_client,
    i: usize,
) -> *const c_char {
    ffi_boundary! { c or null() => |h| ptr(h.outcome.batch.get(i).map(|(_, o)| &o.error)) }
}

/// True while a session is open: after a successful `smtpc_connect` and
/// until `smtpc_quit`, or until the server closed the connection or an
/// error left it unusable. False for NULL.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_is_connected(c: *const smtpc_client) -> bool {
    ffi_boundary! { c or false => |h| h.open_session().is_some() }
}

/// True while the session runs over TLS. False for NULL or when no
/// session is open.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_is_encrypted(c: *const smtpc_client) -> bool {
    ffi_boundary! { c or false => |h| h.open_session().is_some_and(|s| s.is_encrypted()) }
}

/// True when the server offered the extension `keyword` (e.g.
/// "PIPELINING", "SIZE", case-insensitive) in its last EHLO reply. False
/// when no session is open or an argument is NULL or not UTF-8.
///
/// # Safety
/// `c` is NULL or a live handle; `keyword` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn smtpc_has_extension(
    c: *const smtpc_client,
    keyword: *const c_char,
) -> bool {
    ffi_boundary! { c or false => |h| {
        // SAFETY: the caller promises `keyword` is NULL or a NUL-terminated string.
        let keyword = unsafe { args::text(keyword, "keyword") };
        match (h.open_session(), keyword) {
            (Some(session), Ok(keyword)) => session.extensions().has(keyword),
            _ => false,
        }
    }}
}
