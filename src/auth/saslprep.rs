//! SASLprep (RFC 4013) for "query" strings, as SCRAM asks (RFC 5802
//! 2.2: unassigned code points are allowed): non-ASCII spaces mapped to
//! U+0020, the characters "commonly mapped to nothing" removed, NFKC, then
//! the prohibited characters (RFC 4013 2.3) and the bidirectional rule
//! (RFC 3454 6) checked. The tables are those of the `stringprep` crate
//! (Unicode 3.2, as RFC 3454 fixes them); its own `saslprep` is the
//! profile for stored strings, which refuses unassigned code points (an
//! emoji, say), so the steps are taken here. NFKC uses the current
//! Unicode tables, which differ from 3.2 only for characters 3.2 did not
//! assign.

use std::borrow::Cow;

use stringprep::tables;
use unicode_normalization::UnicodeNormalization;

/// Why a string is not acceptable. Never shows the string: it may be a
/// password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A character RFC 4013 2.3 prohibits (a control character, a
    /// private-use or non-character code point, a surrogate...).
    Prohibited,
    /// Right-to-left text that breaks RFC 3454 6 (mixed with
    /// left-to-right text, or not starting and ending right-to-left).
    Bidi,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Prohibited => "it contains a character SASLprep (RFC 4013) prohibits",
            Refusal::Bidi => "it mixes right-to-left and left-to-right text (RFC 4013 2.4)",
        })
    }
}

fn prohibited(c: char) -> bool {
    tables::non_ascii_space_character(c)
        || tables::ascii_control_character(c)
        || tables::non_ascii_control_character(c)
        || tables::private_use(c)
        || tables::non_character_code_point(c)
        || tables::surrogate_code(c)
        || tables::inappropriate_for_plain_text(c)
        || tables::inappropriate_for_canonical_representation(c)
        || tables::change_display_properties_or_deprecated(c)
        || tables::tagging_character(c)
}

/// `s` prepared with SASLprep for a query string.
pub(crate) fn saslprep(s: &str) -> Result<Cow<'_, str>, Refusal> {
    // Printable ASCII is left as it is by every step.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(Cow::Borrowed(s));
    }
    let prepared: String = s
        .chars()
        .filter(|&c| !tables::commonly_mapped_to_nothing(c))
        .map(|c| {
            if tables::non_ascii_space_character(c) {
                ' '
            } else {
                c
            }
        })
        .nfkc()
        .collect();
    if prepared.chars().any(prohibited) {
        return Err(Refusal::Prohibited);
    }
    if prepared.contains(tables::bidi_r_or_al) {
        let first = prepared.chars().next().is_some_and(tables::bidi_r_or_al);
        let last = prepared
            .chars()
            .next_back()
            .is_some_and(tables::bidi_r_or_al);
        if prepared.contains(tables::bidi_l) || !first || !last {
            return Err(Refusal::Bidi);
        }
    }
    Ok(Cow::Owned(prepared))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4013_examples() {
        // RFC 4013 3: the examples, in order.
        assert_eq!(saslprep("I\u{AD}X").unwrap(), "IX");
        assert_eq!(saslprep("user").unwrap(), "user");
        assert_eq!(saslprep("USER").unwrap(), "USER");
        assert_eq!(saslprep("\u{AA}").unwrap(), "a");
        assert_eq!(saslprep("\u{2168}").unwrap(), "IX");
        assert_eq!(saslprep("\u{7}"), Err(Refusal::Prohibited));
        assert_eq!(saslprep("\u{627}\u{31}"), Err(Refusal::Bidi));
    }

    #[test]
    fn query_strings_keep_unassigned_code_points_and_map_spaces() {
        // U+1F600 was unassigned in Unicode 3.2: allowed in a query.
        assert_eq!(saslprep("pw\u{1F600}").unwrap(), "pw\u{1F600}");
        // A no-break space becomes a space; a zero-width joiner goes.
        assert_eq!(saslprep("a\u{A0}b\u{200D}c").unwrap(), "a bc");
        // NFKC: a decomposed umlaut is composed.
        assert_eq!(saslprep("pa\u{308}ss").unwrap(), "p\u{E4}ss");
        // Right-to-left text on its own is fine.
        assert_eq!(saslprep("\u{627}\u{628}").unwrap(), "\u{627}\u{628}");
        assert_eq!(saslprep("tab\there"), Err(Refusal::Prohibited));
        assert_eq!(saslprep("\u{E000}"), Err(Refusal::Prohibited));
        assert!(matches!(saslprep("plain"), Ok(Cow::Borrowed("plain"))));
        assert!(!Refusal::Prohibited.to_string().contains("tab"));
    }
}
