//! The addresses in a To, Cc, Bcc or From header, or in a recipient
//! argument: an RFC 5322 address-list, read leniently (obsolete forms
//! included) but never guessed at: unbalanced quotes, comments or angle
//! brackets are an error.
//!
//! `Anne <anne@example.org>, "Doe, John" <jd@example.org> (work),
//! team: b@example.org, c@example.org;` gives the four addresses.

/// The addresses of an address-list, in order. Display names, comments
/// and group names are dropped; empty members (`undisclosed-recipients:;`,
/// `a@x,,b@y`) are skipped.
pub fn parse_list(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    // The current member: its text outside comments and angle brackets,
    // and the address in angle brackets, if any.
    let mut plain = String::new();
    let mut angle: Option<String> = None;
    let mut in_group = false;
    let mut chars = text.chars().peekable();

    let mut finish = |plain: &mut String, angle: &mut Option<String>| -> Result<(), String> {
        let address = match angle.take() {
            Some(addr) => strip_route(addr.trim()).to_owned(),
            None => without_spaces(plain),
        };
        plain.clear();
        if !address.is_empty() {
            out.push(address);
        }
        Ok(())
    };

    while let Some(c) = chars.next() {
        match c {
            '"' => {
                // A quoted string: kept with its quotes (a quoted local
                // part is part of the address).
                plain.push('"');
                loop {
                    match chars.next() {
                        Some('\\') => {
                            plain.push('\\');
                            plain.push(chars.next().ok_or("a quoted string ends in '\\'")?);
                        }
                        Some('"') => break,
                        Some(c) => plain.push(c),
                        None => return Err("a quoted string is not closed".into()),
                    }
                }
                plain.push('"');
            }
            '(' => skip_comment(&mut chars)?,
            '<' => {
                if angle.is_some() {
                    return Err("two addresses in angle brackets in one member".into());
                }
                let mut addr = String::new();
                loop {
                    match chars.next() {
                        Some('>') => break,
                        Some('"') => {
                            addr.push('"');
                            loop {
                                match chars.next() {
                                    Some('\\') => {
                                        addr.push('\\');
                                        addr.push(
                                            chars.next().ok_or("a quoted string ends in '\\'")?,
                                        );
                                    }
                                    Some('"') => break,
                                    Some(c) => addr.push(c),
                                    None => return Err("a quoted string is not closed".into()),
                                }
                            }
                            addr.push('"');
                        }
                        Some('(') => skip_comment(&mut chars)?,
                        Some(c) if c.is_whitespace() => {}
                        Some(c) => addr.push(c),
                        None => return Err("an address in angle brackets lacks its '>'".into()),
                    }
                }
                angle = Some(addr);
                // What was before it is the display name.
                plain.clear();
            }
            '>' => return Err("a '>' without its '<'".into()),
            ')' => return Err("a ')' without its '('".into()),
            ',' => finish(&mut plain, &mut angle)?,
            ':' if !in_group && angle.is_none() => {
                // A group: what came before is its name.
                in_group = true;
                plain.clear();
            }
            // The end of a group; outside one, a separator as some
            // programs write it.
            ';' => {
                finish(&mut plain, &mut angle)?;
                in_group = false;
            }
            '[' if angle.is_none() => {
                // A domain literal ([IPv6:::1]) may hold colons.
                plain.push('[');
                loop {
                    match chars.next() {
                        Some(']') => break,
                        Some(c) => plain.push(c),
                        None => return Err("a domain literal lacks its ']'".into()),
                    }
                }
                plain.push(']');
            }
            c if angle.is_some() && !c.is_whitespace() => {
                return Err(format!("{c:?} after an address in angle brackets"));
            }
            c => plain.push(c),
        }
    }
    finish(&mut plain, &mut angle)?;
    Ok(out)
}

/// An addr-spec without the white space around its parts (`a @ x` is
/// obsolete syntax for `a@x`), but with that inside quotes.
fn without_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => continue,
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The first address of a From header (or `None` when it has none).
pub fn first(text: &str) -> Result<Option<String>, String> {
    Ok(parse_list(text)?.into_iter().next())
}

/// Skips a comment, nested comments and quoted pairs included; the '('
/// is already read.
fn skip_comment(chars: &mut impl Iterator<Item = char>) -> Result<(), String> {
    let mut depth = 1;
    while depth > 0 {
        match chars.next() {
            Some('\\') => {
                chars.next();
            }
            Some('(') => depth += 1,
            Some(')') => depth -= 1,
            Some(_) => {}
            None => return Err("a comment is not closed".into()),
        }
    }
    Ok(())
}

/// `@a,@b:user@x` (an obsolete source route) is `user@x`.
fn strip_route(addr: &str) -> &str {
    match addr.strip_prefix('@') {
        Some(_) => addr.split_once(':').map_or(addr, |(_, rest)| rest),
        None => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> Vec<String> {
        parse_list(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn the_forms_of_rfc_5322() {
        assert_eq!(list("a@x.test"), ["a@x.test"]);
        assert_eq!(list("  a@x.test  "), ["a@x.test"]);
        assert_eq!(list("Anne <anne@x.test>"), ["anne@x.test"]);
        assert_eq!(
            list("\"Doe, John\" <jd@x.test>, b@y.test (Bee), <c@z.test>"),
            ["jd@x.test", "b@y.test", "c@z.test"]
        );
        assert_eq!(
            list("team: b@x.test, Cee <c@x.test>;, d@x.test"),
            ["b@x.test", "c@x.test", "d@x.test"]
        );
        assert_eq!(list("undisclosed-recipients:;"), Vec::<String>::new());
        assert_eq!(list(""), Vec::<String>::new());
        assert_eq!(list("a@x.test,,b@y.test,"), ["a@x.test", "b@y.test"]);
        assert_eq!(
            list("root (Cron (nested) Daemon)"),
            ["root"],
            "cron's From: a bare local name and a nested comment"
        );
        assert_eq!(list("\"john doe\"@x.test"), ["\"john doe\"@x.test"]);
        assert_eq!(list("<@relay.test:a@x.test>"), ["a@x.test"]);
        assert_eq!(list("Anne\r\n <anne@x.test>"), ["anne@x.test"]);
        assert_eq!(list("=?UTF-8?Q?J=C3=B6rg?= <j@x.test>"), ["j@x.test"]);
        assert_eq!(list("José <josé@bücher.test>"), ["josé@bücher.test"]);
        assert_eq!(list("a@x.test (a, b: c)"), ["a@x.test"]);
        assert_eq!(list("\"a:b\" <a@x.test>"), ["a@x.test"]);
        assert_eq!(list("a@[IPv6:::1], b@x.test"), ["a@[IPv6:::1]", "b@x.test"]);
        assert_eq!(list("a@x.test; b@x.test"), ["a@x.test", "b@x.test"]);
    }

    #[test]
    fn broken_lists_are_errors() {
        for bad in [
            "Anne <anne@x.test",
            "anne@x.test>",
            "\"unclosed <a@x.test>",
            "a@x.test (unclosed",
            "a@x.test)",
            "<a@x.test> <b@x.test>",
            "<a@x.test> trailing",
        ] {
            assert!(parse_list(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_first_address() {
        assert_eq!(
            first("Anne <a@x.test>, b@x.test").unwrap().as_deref(),
            Some("a@x.test")
        );
        assert_eq!(first("undisclosed-recipients:;").unwrap(), None);
    }
}
