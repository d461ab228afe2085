//! OAuth 2.0 tokens: XOAUTH2 (Google, Microsoft) and OAUTHBEARER (RFC
//! 7628). When a token is refused, the server sends a JSON document as a
//! 334 challenge (RFC 7628 3.2.2; Google's XOAUTH2 does the same), e.g.
//! `{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`,
//! and waits for the client's answer before its final reply. The document
//! is decoded here into words for the error message.
//!
//! The document is a flat object of strings (numbers and booleans are
//! taken too), so a small bounded reader does instead of a JSON library.

use zeroize::Zeroizing;

/// `parts` joined into one string allocated once at its final size (a
/// growing one would leave copies of the token in the memory it left),
/// wiped when dropped.
pub(crate) fn joined(parts: &[&str]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(parts.iter().map(|p| p.len()).sum()));
    parts.iter().for_each(|p| out.push_str(p));
    out
}

/// The initial response of XOAUTH2.
pub(crate) fn xoauth2(user: &str, token: &str) -> Zeroizing<String> {
    joined(&["user=", user, "\x01auth=Bearer ", token, "\x01\x01"])
}

/// The initial response of OAUTHBEARER (RFC 7628 3.1), with the user as
/// the GS2 authorization identity.
pub(crate) fn oauthbearer(user: &str, token: &str) -> Zeroizing<String> {
    let user = user.replace('=', "=3D").replace(',', "=2C");
    joined(&["n,a=", &user, ",\x01auth=Bearer ", token, "\x01\x01"])
}

/// The most of the server's document shown in an error.
const MAX_SHOWN: usize = 300;

/// The server's error document in words: `status 401, schemes bearer,
/// scope https://mail.google.com/`, in the document's order. What is not
/// a flat JSON object is shown as it is (printable, cut short).
pub(crate) fn describe_error(document: &[u8]) -> String {
    let text = String::from_utf8_lossy(document);
    let shown = match parse_object(text.trim()) {
        Some(fields) if !fields.is_empty() => fields
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => text.trim().to_owned(),
    };
    let mut out: String = shown
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(MAX_SHOWN)
        .collect();
    if shown.chars().count() > MAX_SHOWN {
        out.push_str("...");
    }
    out
}

/// A flat JSON object's members, or `None` when it is not one.
fn parse_object(text: &str) -> Option<Vec<(String, String)>> {
    let mut r = Reader {
        chars: text.chars().peekable(),
    };
    r.expect('{')?;
    let mut fields = Vec::new();
    if r.eat('}') {
        return r.end().then_some(fields);
    }
    loop {
        let key = r.string()?;
        r.expect(':')?;
        let value = r.value()?;
        fields.push((key, value));
        if r.eat(',') {
            continue;
        }
        r.expect('}')?;
        return r.end().then_some(fields);
    }
}

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl Reader<'_> {
    fn skip_space(&mut self) {
        while self.chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
    }

    fn eat(&mut self, want: char) -> bool {
        self.skip_space();
        self.chars.next_if_eq(&want).is_some()
    }

    fn expect(&mut self, want: char) -> Option<()> {
        self.eat(want).then_some(())
    }

    fn end(&mut self) -> bool {
        self.skip_space();
        self.chars.peek().is_none()
    }

    /// A string, its escapes undone.
    fn string(&mut self) -> Option<String> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            match self.chars.next()? {
                '"' => return Some(out),
                '\\' => out.push(match self.chars.next()? {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| self.chars.next()).collect();
                        // A lone surrogate half is shown as U+FFFD.
                        u32::from_str_radix(&hex, 16)
                            .ok()
                            .filter(|_| hex.len() == 4)
                            .map(|n| char::from_u32(n).unwrap_or('\u{FFFD}'))?
                    }
                    c @ ('"' | '\\' | '/') => c,
                    _ => return None,
                }),
                c => out.push(c),
            }
        }
    }

    /// A string, or a number, `true`, `false` or `null` as written.
    fn value(&mut self) -> Option<String> {
        self.skip_space();
        if self.chars.peek() == Some(&'"') {
            return self.string();
        }
        let mut word = String::new();
        while let Some(c) = self
            .chars
            .next_if(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.'))
        {
            word.push(c);
        }
        (!word.is_empty()).then_some(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_responses() {
        assert_eq!(
            xoauth2("a@b", "tok").as_str(),
            "user=a@b\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(
            oauthbearer("a,b=c", "tok").as_str(),
            "n,a=a=2Cb=3Dc,\x01auth=Bearer tok\x01\x01"
        );
    }

    #[test]
    fn error_documents_in_words() {
        // Google's XOAUTH2 error, quotes escaped inside a value.
        let google = br#"{"status":"401","schemes":"Bearer realm=\"https://accounts.google.com/\"","scope":"https://mail.google.com/"}"#;
        assert_eq!(
            describe_error(google),
            r#"status 401, schemes Bearer realm="https://accounts.google.com/", scope https://mail.google.com/"#
        );
        // RFC 7628 3.2.2's example, spread over lines.
        let rfc = b"{\n \"status\": \"invalid_token\",\n \"scope\": \"example_scope\",\n \
                    \"openid-configuration\": \"https://example.com/.well-known/openid-configuration\"\n}";
        assert_eq!(
            describe_error(rfc),
            "status invalid_token, scope example_scope, \
             openid-configuration https://example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            describe_error(br#"{"status":401,"ok":false,"x":"\u00e9\n"}"#),
            "status 401, ok false, x \u{e9}?"
        );
        // Not a flat object: shown as it came, printable and cut short.
        assert_eq!(describe_error(b"not json\x1b"), "not json?");
        assert_eq!(describe_error(br#"{"a":{"b":1}}"#), r#"{"a":{"b":1}}"#);
        let long = format!("{{\"status\":\"{}\"}}", "x".repeat(1000));
        let shown = describe_error(long.as_bytes());
        assert!(shown.len() < 320 && shown.ends_with("..."), "{shown}");
    }

    proptest::proptest! {
        #[test]
        fn any_document_is_described_without_panic(doc: Vec<u8>) {
            let shown = describe_error(&doc);
            proptest::prop_assert!(shown.chars().count() <= MAX_SHOWN + 3);
            proptest::prop_assert!(!shown.chars().any(char::is_control));
        }
    }
}
