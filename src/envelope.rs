//! The envelope of a message: who it is from (the reverse-path) and whom it
//! is for (the forward-paths), with the optional parameters that travel on
//! `MAIL FROM` and `RCPT TO`.

use crate::checks::{check_path, check_text, MAX_ENVID_LEN, MAX_ORCPT_LEN};
use crate::error::Error;

/// The BODY parameter of MAIL (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// `BODY=7BIT`.
    SevenBit,
    /// `BODY=8BITMIME`.
    EightBitMime,
    /// `BODY=BINARYMIME` (only with BDAT).
    BinaryMime,
}

/// What a delivery status notification returns (RFC 3461 `RET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: the headers only.
    Headers,
}

/// When a delivery status notification is wanted (RFC 3461 `NOTIFY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Notify {
    /// On successful delivery.
    pub success: bool,
    /// On failure.
    pub failure: bool,
    /// When delivery is delayed.
    pub delay: bool,
}

impl Notify {
    /// `NOTIFY=NEVER`.
    pub const NEVER: Notify = Notify {
        success: false,
        failure: false,
        delay: false,
    };
}

/// One forward-path with its delivery-status-notification options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    address: String,
    notify: Option<Notify>,
    orcpt: Option<String>,
}

impl Recipient {
    /// A recipient address (checked when the envelope is built).
    pub fn new(address: impl Into<String>) -> Self {
        Recipient {
            address: address.into(),
            notify: None,
            orcpt: None,
        }
    }

    /// RFC 3461 `NOTIFY`: when this recipient's delivery should be reported
    /// (sent only when the server offers DSN).
    pub fn notify(mut self, notify: Notify) -> Self {
        self.notify = Some(notify);
        self
    }

    /// RFC 3461 `ORCPT`: the original recipient address (sent only when the
    /// server offers DSN).
    pub fn original_recipient(mut self, address: impl Into<String>) -> Self {
        self.orcpt = Some(address.into());
        self
    }

    /// The address.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub(crate) fn notify_option(&self) -> Option<Notify> {
        self.notify
    }

    pub(crate) fn orcpt(&self) -> Option<&str> {
        self.orcpt.as_deref()
    }
}

impl<T: Into<String>> From<T> for Recipient {
    fn from(address: T) -> Self {
        Recipient::new(address)
    }
}

/// Who a message is from and whom it is for.
///
/// Addresses are given without angle brackets (`<a@b>` is also accepted).
/// An empty sender, or `<>`, is the null reverse-path used for bounces.
/// Every address is checked here, before anything is sent: control
/// characters, `<`, `>`, unquoted white space or more than 256 octets give
/// [`Error::InvalidInput`].
///
/// ```
/// use smtpc::Envelope;
/// let env = Envelope::new("kjj@solidosystems.com", ["khl@solidosystems.com"])?;
/// assert_eq!(env.recipients().count(), 1);
/// assert!(Envelope::new("a@x\r\nRCPT TO:<evil@x>", ["b@y"]).is_err());
/// let bounce = Envelope::new("<>", ["b@y"])?;
/// assert_eq!(bounce.sender(), "");
/// # Ok::<(), smtpc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    from: String,
    to: Vec<Recipient>,
    size: Option<u64>,
    body: Option<Body>,
    ret: Option<Ret>,
    envid: Option<String>,
}

/// Removes one pair of angle brackets around an address.
fn bare(address: &str) -> &str {
    address
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(address)
}

impl Envelope {
    /// An envelope from `from` to each of `to` (at least one).
    pub fn new<R: Into<Recipient>>(
        from: impl Into<String>,
        to: impl IntoIterator<Item = R>,
    ) -> Result<Envelope, Error> {
        let mut from = from.into();
        from = bare(&from).to_owned();
        check_path("sender", &from)?;
        let mut recipients = Vec::new();
        for r in to {
            let mut r: Recipient = r.into();
            r.address = bare(&r.address).to_owned();
            if r.address.is_empty() {
                return Err(Error::InvalidInput("empty recipient address".into()));
            }
            check_path("recipient", &r.address)?;
            if let Some(orcpt) = &r.orcpt {
                check_param("ORCPT", orcpt, MAX_ORCPT_LEN)?;
            }
            recipients.push(r);
        }
        if recipients.is_empty() {
            return Err(Error::InvalidInput(
                "an envelope needs at least one recipient".into(),
            ));
        }
        Ok(Envelope {
            from,
            to: recipients,
            size: None,
            body: None,
            ret: None,
            envid: None,
        })
    }

    /// The reverse-path (empty for the null path).
    pub fn sender(&self) -> &str {
        &self.from
    }

    /// The forward-paths.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.to.iter().map(|r| r.address.as_str())
    }

    /// The recipients with their options.
    pub fn recipient_list(&self) -> &[Recipient] {
        &self.to
    }

    /// Declares the message size for `SIZE=` (RFC 1870). The client fills
    /// it in itself when it knows the size.
    pub fn size(mut self, bytes: u64) -> Self {
        self.size = Some(bytes);
        self
    }

    /// Declares the body type (`BODY=`). By default the client declares
    /// 8BITMIME when the body has 8-bit bytes and the server offers it.
    pub fn body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }

    /// RFC 3461 `RET`: how much of the message a bounce returns (sent only
    /// when the server offers DSN).
    pub fn ret(mut self, ret: Ret) -> Self {
        self.ret = Some(ret);
        self
    }

    /// RFC 3461 `ENVID`: an identifier echoed in delivery status
    /// notifications (sent only when the server offers DSN).
    pub fn envid(mut self, id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        check_param("ENVID", &id, MAX_ENVID_LEN)?;
        self.envid = Some(id);
        Ok(self)
    }

    pub(crate) fn declared_size(&self) -> Option<u64> {
        self.size
    }
    pub(crate) fn declared_body(&self) -> Option<Body> {
        self.body
    }
    pub(crate) fn ret_option(&self) -> Option<Ret> {
        self.ret
    }
    pub(crate) fn envid_option(&self) -> Option<&str> {
        self.envid.as_deref()
    }

    /// True when an address needs SMTPUTF8 (RFC 6531).
    pub fn needs_smtputf8(&self) -> bool {
        !self.from.is_ascii() || self.to.iter().any(|r| !r.address.is_ascii())
    }
}

/// DSN values are xtext-encoded on the wire, so any character is safe;
/// only the length and control characters are checked.
fn check_param(what: &str, value: &str, max: usize) -> Result<(), Error> {
    check_text(what, value, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_and_null_path() {
        let e = Envelope::new("<a@x>", ["<b@y>", "c@z"]).unwrap();
        assert_eq!(e.sender(), "a@x");
        assert_eq!(e.recipients().collect::<Vec<_>>(), ["b@y", "c@z"]);
        assert_eq!(Envelope::new("", ["b@y"]).unwrap().sender(), "");
        assert_eq!(Envelope::new("<>", ["b@y"]).unwrap().sender(), "");
    }

    #[test]
    fn rejects_bad_input() {
        let none: [&str; 0] = [];
        assert!(Envelope::new("a@x", none).is_err());
        assert!(Envelope::new("a@x", [""]).is_err());
        assert!(Envelope::new("a@x", ["<>"]).is_err());
        assert!(Envelope::new("a@x", ["b@y\r\nDATA"]).is_err());
        assert!(Envelope::new("a\n@x", ["b@y"]).is_err());
        assert!(Envelope::new("a@x", [Recipient::new("b@y").original_recipient("x\ry")]).is_err());
        assert!(Envelope::new("a@x", ["b@y"])
            .unwrap()
            .envid("a\nb")
            .is_err());
        assert!(Envelope::new("a@x", ["b@y"])
            .unwrap()
            .envid("x".repeat(101))
            .is_err());
    }

    #[test]
    fn utf8_detection() {
        assert!(!Envelope::new("a@x", ["b@y"]).unwrap().needs_smtputf8());
        assert!(Envelope::new("a@x", ["j\u{f6}rg@y"])
            .unwrap()
            .needs_smtputf8());
    }
}
