//! `from` patterns: an address, or a glob that picks an account for
//! every sender it matches.

/// Whether `address` matches `pattern`: `*` is any run of characters, `?`
/// one character, letters compare without case (a pattern without either
/// is one address).
pub fn matches(pattern: &str, address: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let a: Vec<char> = address.to_lowercase().chars().collect();
    // The classic linear glob: on a mismatch, let the last `*` take one
    // more character.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < a.len() {
        if i < p.len() && (p[i] == '?' || p[i] == a[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Whether a `from` value is one address rather than a pattern.
pub fn is_address(from: &str) -> bool {
    !from.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches("me@example.org", "me@example.org"));
        assert!(matches("me@example.org", "ME@Example.ORG"));
        assert!(!matches("me@example.org", "me@example.org.evil"));
        assert!(matches("*@work.example", "anne@work.example"));
        assert!(!matches("*@work.example", "anne@work.example.com"));
        assert!(!matches("*@work.example", "anne@homework.example"));
        assert!(matches("*@*work.example", "anne@homework.example"));
        assert!(matches("a?c@x", "abc@x"));
        assert!(!matches("a?c@x", "ac@x"));
        assert!(matches("*", ""));
        assert!(matches("*a*b*", "xxaxxbxx"));
        assert!(!matches("*a*b", "xxaxxbxxc"));
        assert!(is_address("me@example.org"));
        assert!(!is_address("*@example.org"));
    }
}
