//! What the last call on a handle left behind: its result, the server's
//! reply, the error message and the refused recipients, kept as C strings
//! so that the accessors can hand out pointers into the handle.

use std::ffi::{c_char, c_int, CString};
use std::fmt;

use super::args::c_string;
use super::handle::smtpc_client;
use super::result::smtpc_result::{self, *};
use crate::delivery::{Delivery, Rejection};
use crate::error::Error;
use crate::reply::Reply;

/// What a successful action produced.
#[derive(Debug)]
pub(crate) enum Done {
    /// Nothing from the server (an option was set).
    Nothing,
    /// One reply.
    Reply(Reply),
    /// A whole message sent, perhaps with refused recipients.
    Delivery(Delivery),
    /// A batch: each message's own outcome, in order.
    Batch(Vec<Result<Delivery, Fail>>),
}

/// Why an action failed.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The Rust API said no.
    Smtp(Error),
    /// The C layer said no before reaching it (a bad argument, no session).
    Usage(smtpc_result, String),
}

impl Fail {
    pub(crate) fn invalid(message: impl Into<String>) -> Fail {
        Fail::Usage(SMTPC_INVALID_ARGUMENT, message.into())
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Smtp(e)
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Smtp(e) => e.fmt(f),
            Fail::Usage(_, message) => f.write_str(message),
        }
    }
}

/// A reply as C sees it.
#[derive(Default, Clone)]
struct CReply {
    code: c_int,
    enhanced: Option<CString>,
    text: CString,
}

impl CReply {
    fn of(reply: &Reply) -> CReply {
        CReply {
            code: c_int::from(reply.code),
            enhanced: reply.enhanced.map(|e| c_string(&e.to_string())),
            text: c_string(&reply.text()),
        }
    }
}

/// A refused recipient as C sees it.
#[derive(Clone)]
struct Refused {
    address: CString,
    reply: CReply,
}

/// The outcome of the last call on a handle.
#[derive(Default, Clone)]
pub(crate) struct Outcome {
    reply: CReply,
    error: CString,
    queue_id: Option<CString>,
    rejected: Vec<Refused>,
    /// After a batch, each message's result and outcome.
    batch: Vec<(smtpc_result, Outcome)>,
}

impl Outcome {
    /// Records what an action did and returns its result.
    pub(crate) fn record(&mut self, step: Result<Done, Fail>) -> smtpc_result {
        *self = Outcome::default();
        self.record_one(step)
    }

    /// A batch: each message's outcome is kept; the handle's own is that
    /// of the first message that was not `SMTPC_OK` (its error message
    /// naming it), or of the last message when all were.
    fn record_batch(&mut self, steps: Vec<Result<Delivery, Fail>>) -> smtpc_result {
        let count = steps.len();
        let batch: Vec<(smtpc_result, Outcome)> = steps
            .into_iter()
            .map(|step| {
                let mut o = Outcome::default();
                let result = o.record_one(step.map(Done::Delivery));
                (result, o)
            })
            .collect();
        let first_failure = batch.iter().position(|(r, _)| *r != SMTPC_OK);
        let result = match first_failure.or(count.checked_sub(1)) {
            Some(i) => {
                *self = batch[i].1.clone();
                if first_failure.is_some() {
                    let error = self.error.to_string_lossy();
                    self.error = c_string(&format!("message {} of {count}: {error}", i + 1));
                }
                batch[i].0
            }
            None => SMTPC_OK,
        };
        self.batch = batch;
        result
    }

    /// Records a step into an outcome that is still empty.
    fn record_one(&mut self, step: Result<Done, Fail>) -> smtpc_result {
        match step {
            Ok(Done::Nothing) => SMTPC_OK,
            Ok(Done::Batch(steps)) => self.record_batch(steps),
            Ok(Done::Reply(reply)) => {
                self.set_reply(&reply);
                SMTPC_OK
            }
            Ok(Done::Delivery(delivery)) => {
                self.set_reply(&delivery.reply);
                self.set_rejected(&delivery.rejected);
                if delivery.rejected.is_empty() {
                    return SMTPC_OK;
                }
                let list: Vec<String> = delivery.rejected.iter().map(|r| r.to_string()).collect();
                self.error = c_string(&format!(
                    "{} of {} recipients were rejected: {}",
                    delivery.rejected.len(),
                    delivery.rejected.len() + delivery.accepted.len(),
                    list.join("; ")
                ));
                SMTPC_PARTIAL
            }
            Err(Fail::Smtp(error)) => {
                if let Some(reply) = error.reply() {
                    self.set_reply(reply);
                }
                if let Error::AllRecipientsRejected(list) = &error {
                    self.set_rejected(list);
                }
                self.error = c_string(&error.to_string());
                smtpc_result::of(&error)
            }
            Err(Fail::Usage(result, message)) => {
                self.error = c_string(&message);
                result
            }
        }
    }

    /// Records a panic caught while acting on the handle.
    pub(crate) fn panicked(&mut self) -> smtpc_result {
        *self = Outcome::default();
        self.error = c_string("internal error: smtpc panicked; the session was dropped");
        SMTPC_PANIC
    }

    fn set_reply(&mut self, reply: &Reply) {
        self.reply = CReply::of(reply);
        self.queue_id = reply.queue_id().map(c_string);
    }

    fn set_rejected(&mut self, list: &[Rejection]) {
        self.rejected = list
            .iter()
            .map(|r| Refused {
                address: c_string(&r.recipient),
                reply: CReply::of(&r.reply),
            })
            .collect();
    }
}

/// The outcome of the last call on `c`, if `c` is not NULL.
///
/// # Safety
/// `c` is NULL or a live handle not being used by another thread.
unsafe fn outcome<'a>(c: *const smtpc_client) -> Option<&'a Outcome> {
    // SAFETY: the caller's promise, passed on.
    unsafe { super::handle::borrow(c) }.map(|h| &h.outcome)
}

/// A pointer to `s`, or NULL.
fn ptr(s: Option<&CString>) -> *const c_char {
    s.map_or(std::ptr::null(), |s| s.as_ptr())
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
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe { outcome(c) }.map_or(0, |o| o.reply.code)
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        ptr(unsafe { outcome(c) }.and_then(|o| o.reply.enhanced.as_ref()))
    }
}

/// The text of the last reply without its code and enhanced code, lines
/// joined with "\n"; "" when there was no reply. Never NULL.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_reply_text(c: *const smtpc_client) -> *const c_char {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        match unsafe { outcome(c) } {
            Some(o) => o.reply.text.as_ptr(),
            None => c"".as_ptr(),
        }
    }
}

/// What went wrong in the last call, naming what was being done (e.g.
/// "RCPT TO:<b@example.org>: 550 5.1.1 No such user"); "" after a call
/// that returned `SMTPC_OK`. Never NULL.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_error_message(c: *const smtpc_client) -> *const c_char {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        match unsafe { outcome(c) } {
            Some(o) => o.error.as_ptr(),
            None => c"the smtpc_client handle is NULL".as_ptr(),
        }
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
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        ptr(unsafe { outcome(c) }.and_then(|o| o.queue_id.as_ref()))
    }
}

/// How many recipients the server refused in the last `smtpc_send`,
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
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe { outcome(c) }.map_or(0, |o| o.rejected.len())
    }
}

/// The `i`th refused recipient's address (from 0); NULL when `i` is out
/// of range.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_rejected_address(c: *const smtpc_client, i: usize) -> *const c_char {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        ptr(unsafe { outcome(c) }.and_then(|o| o.rejected.get(i)).map(|r| &r.address))
    }
}

/// The reply code that refused the `i`th refused recipient; 0 when `i`
/// is out of range.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_rejected_code(c: *const smtpc_client, i: usize) -> c_int {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe { outcome(c) }.and_then(|o| o.rejected.get(i)).map_or(0, |r| r.reply.code)
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        let refused = unsafe { outcome(c) }.and_then(|o| o.rejected.get(i));
        ptr(refused.and_then(|r| r.reply.enhanced.as_ref()))
    }
}

/// The text of the reply that refused the `i`th refused recipient; NULL
/// when `i` is out of range.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_rejected_text(c: *const smtpc_client, i: usize) -> *const c_char {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        ptr(unsafe { outcome(c) }.and_then(|o| o.rejected.get(i)).map(|r| &r.reply.text))
    }
}

/// The `i`th message's outcome in the last `smtpc_send_batch`.
///
/// # Safety
/// `c` is NULL or a live handle not being used by another thread.
unsafe fn batch_item<'a>(c: *const smtpc_client, i: usize) -> Option<&'a (smtpc_result, Outcome)> {
    // SAFETY: the caller's promise, passed on.
    unsafe { outcome(c) }.and_then(|o| o.batch.get(i))
}

/// How many messages the last call sent as a batch (`smtpc_send_batch`);
/// 0 after any other call.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_batch_count(c: *const smtpc_client) -> usize {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe { outcome(c) }.map_or(0, |o| o.batch.len())
    }
}

/// The result of the `i`th message (from 0) of the last batch, as
/// `smtpc_send` would have returned it for that message alone;
/// `SMTPC_INVALID_ARGUMENT` when `i` is out of range.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_batch_result(c: *const smtpc_client, i: usize) -> smtpc_result {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe { batch_item(c, i) }.map_or(SMTPC_INVALID_ARGUMENT, |(r, _)| *r)
    }
}

/// The final reply code for the `i`th message of the last batch (the
/// reply to its end of data, or what refused it); 0 when there was none
/// or `i` is out of range.
///
/// # Safety
/// `c` is NULL or a live handle (see `smtpc_client`).
#[no_mangle]
pub unsafe extern "C" fn smtpc_batch_reply_code(c: *const smtpc_client, i: usize) -> c_int {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        unsafe { batch_item(c, i) }.map_or(0, |(_, o)| o.reply.code)
    }
}

/// The queue id the server gave the `i`th message of the last batch;
/// NULL when it named none or `i` is out of range.
///
/// # Safety
/// As for `smtpc_reply_enhanced`.
#[no_mangle]
pub unsafe extern "C" fn smtpc_batch_queue_id(c: *const smtpc_client, i: usize) -> *const c_char {
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        ptr(unsafe { batch_item(c, i) }.and_then(|(_, o)| o.queue_id.as_ref()))
    }
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
    ffi_boundary! {
        // SAFETY: the caller's promise, passed on.
        ptr(unsafe { batch_item(c, i) }.map(|(_, o)| &o.error))
    }
}

/// An outcome as owned Rust values, for tests.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct View {
    pub code: c_int,
    pub enhanced: Option<String>,
    pub text: String,
    pub error: String,
    pub queue_id: Option<String>,
    /// Address, code, enhanced code, text.
    pub rejected: Vec<(String, c_int, Option<String>, String)>,
}

#[cfg(test)]
impl Outcome {
    pub(crate) fn view(&self) -> View {
        let s = |c: &CString| c.to_str().unwrap().to_owned();
        View {
            code: self.reply.code,
            enhanced: self.reply.enhanced.as_ref().map(s),
            text: s(&self.reply.text),
            error: s(&self.error),
            queue_id: self.queue_id.as_ref().map(s),
            rejected: self
                .rejected
                .iter()
                .map(|r| {
                    let e = r.reply.enhanced.as_ref().map(s);
                    (s(&r.address), r.reply.code, e, s(&r.reply.text))
                })
                .collect(),
        }
    }
}
