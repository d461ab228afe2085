//! Checks of what a caller puts on a command line: addresses, names and
//! free text. Everything a caller gives passes here before it can reach a
//! command, so no CR, LF or other control character changes a command's
//! meaning.

use crate::error::Error;

/// Longest path (`<local@domain>` without the brackets), RFC 5321 4.5.3.1.3.
pub const MAX_PATH_LEN: usize = 256;
/// Longest domain name, RFC 5321 4.5.3.1.2.
pub const MAX_DOMAIN_LEN: usize = 255;
/// Longest ENVID value, RFC 3461 4.4.
pub const MAX_ENVID_LEN: usize = 100;
/// Longest ORCPT value, RFC 3461 4.2.
pub const MAX_ORCPT_LEN: usize = 500;

fn invalid(what: &str, value: &str, why: &str) -> Error {
    Error::InvalidInput(format!("{what} {value:?} {why}"))
}

/// Checks a path for `MAIL FROM:<...>` or `RCPT TO:<...>` (without the
/// angle brackets). Empty is allowed here; whether the null path may be
/// used is the envelope's call.
pub fn check_path(what: &str, path: &str) -> Result<(), Error> {
    if path.len() > MAX_PATH_LEN {
        return Err(invalid(
            what,
            path,
            &format!("is longer than {MAX_PATH_LEN} octets"),
        ));
    }
    if path.chars().any(char::is_control) {
        return Err(invalid(
            what,
            path,
            "contains a control character (CR, LF, NUL...)",
        ));
    }
    if path.contains(['<', '>']) {
        return Err(invalid(what, path, "contains '<' or '>'"));
    }
    // A space is legal only inside a quoted local part: `"john doe"@x`.
    let unquoted = match path.strip_prefix('"').and_then(|rest| rest.rfind('"')) {
        Some(close) => &path[close + 2..],
        None => path,
    };
    if unquoted.chars().any(char::is_whitespace) {
        return Err(invalid(what, path, "contains white space"));
    }
    Ok(())
}

/// Checks a domain or address literal for EHLO/HELO.
pub fn check_domain(what: &str, name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAX_DOMAIN_LEN {
        return Err(invalid(
            what,
            name,
            &format!("must be 1 to {MAX_DOMAIN_LEN} octets"),
        ));
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            what,
            name,
            "may hold only visible ASCII characters (no space, CR, LF or NUL)",
        ));
    }
    Ok(())
}

/// Checks free text that goes on a command line (the VRFY argument, DSN
/// values): no control characters, and no white space but the plain space
/// (U+2028 and kin are line breaks to some readers).
pub fn check_text(what: &str, text: &str, max: usize) -> Result<(), Error> {
    if text.is_empty() || text.len() > max {
        return Err(invalid(what, text, &format!("must be 1 to {max} octets")));
    }
    if text
        .chars()
        .any(|c| c.is_control() || (c.is_whitespace() && c != ' '))
    {
        return Err(invalid(
            what,
            text,
            "contains a control character or line break (CR, LF, NUL...)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_checks() {
        for ok in [
            "a@x",
            "",
            "postmaster",
            "\"john doe\"@x.example",
            "ü@example.de",
        ] {
            assert!(check_path("sender", ok).is_ok(), "{ok}");
        }
        for bad in [
            "a@x\r\nRCPT TO:<evil@x>",
            "a@x\n",
            "a\0@x",
            "a@x> SIZE=1",
            "<a@x",
            "a b@x",
            "\"a\" b@x",
            "a@x\t",
        ] {
            let e = check_path("sender", bad).unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)), "{bad:?}");
        }
        let long = format!("{}@x", "a".repeat(MAX_PATH_LEN));
        assert!(check_path("recipient", &long).is_err());
    }

    #[test]
    fn domain_checks() {
        for ok in ["client.example", "[127.0.0.1]", "[IPv6:::1]"] {
            assert!(check_domain("HELO name", ok).is_ok());
        }
        for bad in [
            "",
            "a b",
            "x\r\nMAIL FROM:<>",
            "caf\u{e9}",
            &"x".repeat(256),
        ] {
            assert!(check_domain("HELO name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn text_checks() {
        assert!(check_text("VRFY argument", "Smith", 100).is_ok());
        assert!(check_text("VRFY argument", "a\rb", 100).is_err());
        assert!(check_text("VRFY argument", "a\u{2028}b", 100).is_err());
        assert!(check_text("VRFY argument", "John Smith", 100).is_ok());
        assert!(check_text("VRFY argument", "", 100).is_err());
    }
}
