//! The fields the sendmail mode adds to a message that lacks them:
//! Message-ID and From (Date is the clock's).

use crate::clock::Utc;

/// `<20250701123456.4242.9f8e7d6c5b4a3921@example.org>`: the time, the
/// process and a random number (std's hasher keys are random per
/// process), at the sender's domain (else the HELO name).
pub fn message_id(from: &str, helo: Option<&str>) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    let random = RandomState::new().hash_one(std::time::SystemTime::now());
    let domain = from
        .trim_matches(['<', '>'])
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty())
        .or(helo.filter(|h| !h.is_empty()))
        .unwrap_or("localhost");
    format!(
        "<{}.{}.{random:016x}@{domain}>",
        Utc::now().compact(),
        std::process::id()
    )
}

/// `Full Name <addr>`, the name quoted when it holds specials and encoded
/// (RFC 2047) when it is not ASCII; `addr` alone without a name.
pub fn from_field(name: Option<&str>, from: &str) -> String {
    let address = from.trim_matches(['<', '>']);
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return address.to_owned();
    };
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let shown = if !name.is_ascii() {
        encoded_word(&name)
    } else if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c))
    {
        name
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    };
    format!("{shown} <{address}>")
}

/// RFC 2047 Q encoding of a display name, in encoded words short enough
/// for a line.
fn encoded_word(text: &str) -> String {
    let mut words = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        let mut piece = String::new();
        if c.is_ascii_alphanumeric() {
            piece.push(c);
        } else if c == ' ' {
            piece.push('_');
        } else {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                piece.push_str(&format!("={b:02X}"));
            }
        }
        // 75 characters at most per encoded word, "=?UTF-8?Q?" and "?="
        // included; a character's bytes stay in one word.
        if current.len() + piece.len() > 75 - 12 {
            words.push(std::mem::take(&mut current));
        }
        current.push_str(&piece);
    }
    words.push(current);
    words
        .iter()
        .map(|w| format!("=?UTF-8?Q?{w}?="))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_fields() {
        assert_eq!(from_field(None, "a@x.test"), "a@x.test");
        assert_eq!(
            from_field(Some("CronDaemon"), "a@x.test"),
            "CronDaemon <a@x.test>"
        );
        assert_eq!(
            from_field(Some("Anne Example"), "<a@x.test>"),
            "Anne Example <a@x.test>"
        );
        assert_eq!(
            from_field(Some("Doe, \"JD\" John"), "a@x.test"),
            "\"Doe, \\\"JD\\\" John\" <a@x.test>"
        );
        assert_eq!(
            from_field(Some("Jörg"), "a@x.test"),
            "=?UTF-8?Q?J=C3=B6rg?= <a@x.test>"
        );
        let long = "é".repeat(40);
        let field = from_field(Some(&long), "a@x.test");
        for word in field.trim_end_matches(" <a@x.test>").split(' ') {
            assert!(word.len() <= 75, "{word}");
            assert!(word.starts_with("=?UTF-8?Q?") && word.ends_with("?="));
        }
        assert_eq!(field.matches("=C3=A9").count(), 40);
    }

    #[test]
    fn message_ids_are_unique_and_at_the_senders_domain() {
        let a = message_id("me@example.org", Some("host.test"));
        let b = message_id("me@example.org", Some("host.test"));
        assert_ne!(a, b);
        assert!(a.starts_with('<') && a.ends_with("@example.org>"), "{a}");
        assert!(message_id("", Some("host.test")).ends_with("@host.test>"));
        assert!(message_id("", None).ends_with("@localhost>"));
    }
}
