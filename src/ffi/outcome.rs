//! What the last call on a handle left behind: its result, the server's
//! reply, the error message and the refused recipients, kept as C strings
//! so that the accessors can hand out pointers into the handle.

use std::ffi::{c_int, CString};

use super::args::c_string;
use super::result::smtpc_result::{self, *};
use super::result::{Done, Fail};
use crate::delivery::{Delivery, Rejection};
use crate::error::Error;
use crate::reply::Reply;

/// A reply as C sees it.
#[derive(Default, Clone)]
pub(crate) struct CReply {
    pub(crate) code: c_int,
    pub(crate) enhanced: Option<CString>,
    pub(crate) text: CString,
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

/// A recipient with its reply as C sees it: refused, or (LMTP) stored.
#[derive(Clone)]
pub(crate) struct ForRecipient {
    pub(crate) address: CString,
    pub(crate) reply: CReply,
}

/// The outcome of the last call on a handle, read by the accessors.
#[derive(Default, Clone)]
pub(crate) struct Outcome {
    pub(crate) reply: CReply,
    /// "" after a success.
    pub(crate) error: CString,
    pub(crate) queue_id: Option<CString>,
    pub(crate) rejected: Vec<ForRecipient>,
    /// The recipients the message went to, each with its reply (its own
    /// with LMTP; its transaction's with SMTP).
    pub(crate) accepted: Vec<ForRecipient>,
    /// Recipients of unknown outcome (a later transaction of the message
    /// broke after its end was sent).
    pub(crate) unknown: Vec<CString>,
    /// After a batch, each message's result and outcome.
    pub(crate) batch: Vec<(smtpc_result, Outcome)>,
}

/// What a delivery that did not reach every recipient says.
fn partial(delivery: &Delivery) -> String {
    let total = delivery.accepted.len() + delivery.rejected.len() + delivery.unknown.len();
    let mut parts = Vec::new();
    if !delivery.rejected.is_empty() {
        let list: Vec<String> = delivery.rejected.iter().map(|r| r.to_string()).collect();
        parts.push(format!(
            "{} of {total} recipients were rejected: {}",
            delivery.rejected.len(),
            list.join("; ")
        ));
    }
    if !delivery.unknown.is_empty() {
        parts.push(format!(
            "for {} of {total} recipients the outcome is unknown (the message may have been delivered): {}",
            delivery.unknown.len(),
            delivery.unknown.join(", ")
        ));
    }
    parts.join("; ")
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
                self.set_delivery(&delivery);
                if delivery.is_complete() {
                    return SMTPC_OK;
                }
                self.error = c_string(&partial(&delivery));
                SMTPC_PARTIAL
            }
            Err(Fail::Smtp(error)) => {
                if let Error::PartlySent { delivery, .. } = &error {
                    self.set_delivery(delivery);
                }
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

    fn set_delivery(&mut self, delivery: &Delivery) {
        self.set_reply(&delivery.reply);
        self.set_rejected(&delivery.rejected);
        self.unknown = delivery.unknown.iter().map(|a| c_string(a)).collect();
        self.accepted = delivery
            .recipient_replies()
            .map(|(to, reply)| ForRecipient {
                address: c_string(to),
                reply: CReply::of(reply),
            })
            .collect();
    }

    fn set_reply(&mut self, reply: &Reply) {
        self.reply = CReply::of(reply);
        self.queue_id = reply.queue_id().map(c_string);
    }

    fn set_rejected(&mut self, list: &[Rejection]) {
        self.rejected = list
            .iter()
            .map(|r| ForRecipient {
                address: c_string(&r.recipient),
                reply: CReply::of(&r.reply),
            })
            .collect();
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
