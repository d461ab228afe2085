//! Secrets kept out of what the server sends back: a server may echo
//! the AUTH line in its reply ("535 ... AUTH PLAIN AGJvYgBzZWNyZXQ="),
//! and that reply goes to the transcript, into error messages and to the
//! caller. While AUTH runs, every line received is looked through for
//! the secret and the responses made of it, each replaced by
//! `<redacted>` before anyone sees the line.

use memchr::memmem;
use zeroize::Zeroizing;

/// What is redacted where it is found.
const SHOWN: &[u8] = b"<redacted>";

/// The reply code and its separator, left as they are.
const CODE: usize = 4;

/// The byte strings to hide; each wiped when dropped.
#[derive(Default)]
pub(crate) struct Redactions(Vec<Zeroizing<Vec<u8>>>);

impl Redactions {
    /// Hides `text`, and the same without its base64 padding (a server
    /// may echo a response without its `=`). Empty strings are left out.
    pub fn add(&mut self, text: &[u8]) {
        let bare = match text.iter().rposition(|&b| b != b'=') {
            Some(last) => &text[..=last],
            None => return,
        };
        for t in [text, bare] {
            if !self.0.iter().any(|p| p.as_slice() == t) {
                self.0.push(Zeroizing::new(t.to_vec()));
            }
        }
    }

    /// Whether there is anything to hide.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `line` with every hidden string replaced, or None when none occurs
    /// in it. The copy is wiped when dropped. The reply code and the
    /// character after it are never touched (a password "235" must not
    /// turn the server's acceptance into garbage): the search starts
    /// after them.
    pub fn scrub(&self, line: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (code, line) = line.split_at(line.len().min(CODE));
        if !self.0.iter().any(|p| memmem::find(line, p).is_some()) {
            return None;
        }
        // Which bytes are hidden, by any string (overlaps merge); each
        // hidden run becomes one `<redacted>`.
        let mut hidden = vec![false; line.len()];
        for p in &self.0 {
            for at in memmem::find_iter(line, p.as_slice()) {
                hidden[at..at + p.len()].fill(true);
            }
        }
        let mut out = Zeroizing::new(Vec::with_capacity(CODE + line.len() + SHOWN.len()));
        out.extend_from_slice(code);
        for (i, &b) in line.iter().enumerate() {
            match (hidden[i], i > 0 && hidden[i - 1]) {
                (false, _) => out.push(b),
                (true, false) => out.extend_from_slice(SHOWN),
                (true, true) => {}
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_is_hidden_padding_or_not() {
        let mut r = Redactions::default();
        assert!(r.is_empty());
        r.add(b"AGJvYgBzZWNyZXQ=");
        r.add(b"secret");
        r.add(b"");
        r.add(b"==");
        let line = b"535 5.7.8 AUTH PLAIN AGJvYgBzZWNyZXQ (was AGJvYgBzZWNyZXQ=) secret!\r\n";
        let out = r.scrub(line).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "535 5.7.8 AUTH PLAIN <redacted> (was <redacted>) <redacted>!\r\n"
        );
        assert!(r.scrub(b"535 5.7.8 no\r\n").is_none());
    }

    #[test]
    fn the_reply_code_is_left_alone() {
        let mut r = Redactions::default();
        r.add(b"235");
        assert!(r.scrub(b"235 2.7.0 ok\r\n").is_none());
        let out = r.scrub(b"535 5.7.8 not 235\r\n").unwrap();
        assert_eq!(&out[..], b"535 5.7.8 not <redacted>\r\n");
        assert!(r.scrub(b"23").is_none());
    }

    #[test]
    fn overlaps_merge_and_the_replacement_is_not_searched_again() {
        // "<redacted>" contains "red": it is not looked through again.
        let mut r = Redactions::default();
        r.add(b"red");
        r.add(b"edx");
        let out = r.scrub(b"535 redx red").unwrap();
        assert_eq!(&out[..], b"535 <redacted> <redacted>");
    }
}
