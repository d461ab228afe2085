//! The parameters of `MAIL FROM` and `RCPT TO` for an envelope on a given
//! server: what to declare, and what the server must offer for the
//! message to go at all. Decided before anything of the message is sent.

use crate::command::{MailParams, RcptParams};
use crate::envelope::{Body, Envelope, Recipient};
use crate::error::Error;
use crate::extensions::Extensions;

/// What `MAIL FROM` can declare of a message's content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Facts {
    /// Its size in octets with CRLF line endings, when known.
    pub size: Option<u64>,
    /// Whether it holds 8-bit bytes; `None` when only part of it was seen.
    pub eight_bit: Option<bool>,
}

/// The `MAIL FROM` parameters for this envelope on this server. Fails
/// when the envelope needs something the server does not offer.
///
/// 8-bit content needs 8BITMIME (RFC 6152) unless the envelope declares the
/// body type itself; content of unknown kind is declared 8BITMIME when the
/// server offers it (harmless for 7-bit content, required for 8-bit).
pub(super) fn mail_params<'e>(
    ext: &Extensions,
    envelope: &'e Envelope,
    facts: Facts,
) -> Result<MailParams<'e>, Error> {
    let smtputf8 = envelope.needs_smtputf8();
    if smtputf8 && !ext.smtp_utf8() {
        return Err(Error::Unsupported(
            "an address is not ASCII and the server does not offer SMTPUTF8".into(),
        ));
    }
    let size = facts.size.or(envelope.declared_size());
    if let (Some(size), Some(limit)) = (size, ext.max_size()) {
        if size > limit {
            return Err(Error::MessageTooLarge { size, limit });
        }
    }
    let eight_bit = facts.eight_bit;
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
        None if eight_bit != Some(false) && ext.eight_bit_mime() => Some(Body::EightBitMime),
        None if eight_bit == Some(true) => {
            return Err(Error::Unsupported(
                "the message has 8-bit bytes and the server does not offer 8BITMIME".into(),
            ))
        }
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

/// The `RCPT TO` parameters of a recipient: its DSN options, sent only
/// when the server offers DSN.
pub(super) fn rcpt_params<'e>(ext: &Extensions, r: &'e Recipient) -> RcptParams<'e> {
    if !ext.dsn() {
        return RcptParams::default();
    }
    RcptParams {
        notify: r.notify_option(),
        orcpt: r.orcpt(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{Notify, Ret};
    use crate::reply::Reply;

    fn ext(keywords: &[&str]) -> Extensions {
        let mut text = String::from("250-x\r\n");
        for k in keywords {
            text.push_str(&format!("250-{k}\r\n"));
        }
        text.push_str("250 HELP\r\n");
        Extensions::from_ehlo(&Reply::parse(text.as_bytes()).unwrap())
    }

    fn facts(size: u64, eight_bit: Option<bool>) -> Facts {
        Facts {
            size: Some(size),
            eight_bit,
        }
    }

    #[test]
    fn declared_only_what_the_server_offers() {
        let env = Envelope::new("a@x", ["b@y"])
            .unwrap()
            .ret(Ret::Headers)
            .envid("id1")
            .unwrap();
        let bare = mail_params(&ext(&[]), &env, facts(10, Some(false))).unwrap();
        assert_eq!(bare, MailParams::default());
        let all = mail_params(
            &ext(&["SIZE 100", "8BITMIME", "DSN"]),
            &env,
            facts(10, None),
        );
        let all = all.unwrap();
        assert_eq!(all.size, Some(10));
        assert_eq!(all.body, Some(Body::EightBitMime));
        assert_eq!((all.ret, all.envid), (Some(Ret::Headers), Some("id1")));
    }

    #[test]
    fn refused_before_anything_is_sent() {
        let env = Envelope::new("a@x", ["b@y"]).unwrap();
        let big = mail_params(&ext(&["SIZE 100"]), &env, facts(101, Some(false)));
        assert!(matches!(
            big,
            Err(Error::MessageTooLarge {
                size: 101,
                limit: 100
            })
        ));
        let eight = mail_params(&ext(&[]), &env, facts(1, Some(true)));
        assert!(matches!(eight, Err(Error::Unsupported(_))));
        let utf8 = Envelope::new("a@x", ["j\u{f6}rg@y"]).unwrap();
        let utf8 = mail_params(&ext(&["8BITMIME"]), &utf8, facts(1, Some(false)));
        assert!(matches!(utf8, Err(Error::Unsupported(_))));
        let binary = env.clone().body(Body::BinaryMime);
        let binary = mail_params(&ext(&["BINARYMIME"]), &binary, facts(1, None));
        assert!(matches!(binary, Err(Error::Unsupported(_))));
    }

    #[test]
    fn dsn_options_of_a_recipient() {
        let r = Recipient::new("b@y")
            .notify(Notify::NEVER)
            .original_recipient("b@y");
        assert_eq!(rcpt_params(&ext(&[]), &r), RcptParams::default());
        let p = rcpt_params(&ext(&["DSN"]), &r);
        assert_eq!((p.notify, p.orcpt), (Some(Notify::NEVER), Some("b@y")));
    }
}
