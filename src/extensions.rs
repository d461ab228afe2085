//! The ESMTP extensions a server advertises in its EHLO reply.

use crate::reply::Reply;

/// What the server said it supports, parsed from the EHLO reply.
///
/// Keywords are case-insensitive; unknown ones are kept with their
/// parameters. A server that was greeted with HELO has none.
///
/// ```
/// use smtpc::{Extensions, Reply};
/// let reply = Reply::parse(b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n\
///     250-AUTH PLAIN LOGIN\r\n250 XFOO bar\r\n").unwrap();
/// let ext = Extensions::from_ehlo(&reply);
/// assert!(ext.pipelining());
/// assert_eq!(ext.max_size(), Some(10_240_000));
/// assert_eq!(ext.auth_mechanisms(), ["PLAIN", "LOGIN"]);
/// assert_eq!(ext.params("xfoo"), Some(&["bar".to_string()][..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// The domain the server named on the first line.
    server_name: String,
    pipelining: bool,
    size: Option<u64>,
    eight_bit_mime: bool,
    binary_mime: bool,
    smtp_utf8: bool,
    starttls: bool,
    chunking: bool,
    dsn: bool,
    enhanced_status_codes: bool,
    auth: Vec<String>,
    /// Every keyword (upper case) with its parameters, known ones included.
    all: Vec<(String, Vec<String>)>,
}

impl Extensions {
    /// Parses a 250 reply to EHLO. The first line names the server; each
    /// further line is a keyword and its parameters.
    pub fn from_ehlo(reply: &Reply) -> Extensions {
        let mut ext = Extensions {
            server_name: reply
                .lines
                .first()
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or("")
                .to_owned(),
            ..Extensions::default()
        };
        for line in reply.lines.iter().skip(1) {
            // Old servers write `AUTH=PLAIN LOGIN`.
            let mut words = line.split([' ', '=']).filter(|w| !w.is_empty());
            let Some(keyword) = words.next() else {
                continue;
            };
            let keyword = keyword.to_ascii_uppercase();
            let params: Vec<String> = words.map(str::to_owned).collect();
            match keyword.as_str() {
                "PIPELINING" => ext.pipelining = true,
                // SIZE without a number, or SIZE 0, means no fixed limit.
                "SIZE" => ext.size = Some(params.first().and_then(|p| p.parse().ok()).unwrap_or(0)),
                "8BITMIME" => ext.eight_bit_mime = true,
                "BINARYMIME" => ext.binary_mime = true,
                "SMTPUTF8" => ext.smtp_utf8 = true,
                "STARTTLS" => ext.starttls = true,
                "CHUNKING" => ext.chunking = true,
                "DSN" => ext.dsn = true,
                "ENHANCEDSTATUSCODES" => ext.enhanced_status_codes = true,
                "AUTH" => {
                    for mech in &params {
                        let mech = mech.to_ascii_uppercase();
                        if !ext.auth.contains(&mech) {
                            ext.auth.push(mech);
                        }
                    }
                }
                _ => {}
            }
            if !ext.all.iter().any(|(k, _)| *k == keyword) {
                ext.all.push((keyword, params));
            }
        }
        ext
    }

    /// The server's name from the first line of its EHLO reply.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }
    /// PIPELINING (RFC 2920): commands may be sent in groups.
    pub fn pipelining(&self) -> bool {
        self.pipelining
    }
    /// SIZE (RFC 1870) was advertised.
    pub fn supports_size(&self) -> bool {
        self.size.is_some()
    }
    /// The largest message the server accepts, when it declared one.
    pub fn max_size(&self) -> Option<u64> {
        self.size.filter(|&n| n > 0)
    }
    /// 8BITMIME (RFC 6152).
    pub fn eight_bit_mime(&self) -> bool {
        self.eight_bit_mime
    }
    /// BINARYMIME (RFC 3030).
    pub fn binary_mime(&self) -> bool {
        self.binary_mime
    }
    /// SMTPUTF8 (RFC 6531): addresses and headers may be UTF-8.
    pub fn smtp_utf8(&self) -> bool {
        self.smtp_utf8
    }
    /// STARTTLS (RFC 3207).
    pub fn starttls(&self) -> bool {
        self.starttls
    }
    /// CHUNKING (RFC 3030): BDAT may replace DATA.
    pub fn chunking(&self) -> bool {
        self.chunking
    }
    /// DSN (RFC 3461): delivery status notification parameters.
    pub fn dsn(&self) -> bool {
        self.dsn
    }
    /// ENHANCEDSTATUSCODES (RFC 2034).
    pub fn enhanced_status_codes(&self) -> bool {
        self.enhanced_status_codes
    }
    /// The SASL mechanisms of AUTH (RFC 4954), upper case, in the server's order.
    pub fn auth_mechanisms(&self) -> &[String] {
        &self.auth
    }
    /// Whether `keyword` (any case) was advertised.
    pub fn has(&self, keyword: &str) -> bool {
        self.params(keyword).is_some()
    }
    /// The parameters of `keyword` (any case), when it was advertised.
    pub fn params(&self, keyword: &str) -> Option<&[String]> {
        self.all
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(keyword))
            .map(|(_, p)| p.as_slice())
    }
    /// Every advertised keyword, upper case, in the server's order.
    pub fn keywords(&self) -> impl Iterator<Item = &str> {
        self.all.iter().map(|(k, _)| k.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(lines: &str) -> Extensions {
        Extensions::from_ehlo(&Reply::parse(lines.as_bytes()).unwrap())
    }

    #[test]
    fn postfix_reply() {
        let e = ext(
            "250-pfx.bench.local\r\n250-PIPELINING\r\n250-SIZE 67108864\r\n250-VRFY\r\n\
                     250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n\
                     250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
        );
        assert_eq!(e.server_name(), "pfx.bench.local");
        assert!(e.pipelining() && e.starttls() && e.enhanced_status_codes());
        assert!(e.eight_bit_mime() && e.dsn() && e.smtp_utf8() && e.chunking());
        assert_eq!(e.max_size(), Some(67_108_864));
        assert!(e.auth_mechanisms().is_empty());
        assert!(e.has("vrfy") && e.has("ETRN") && !e.has("XCLIENT"));
        assert_eq!(e.keywords().count(), 10);
    }

    #[test]
    fn smtp_sink_reply_with_empty_last_line() {
        let e = ext(
            "250-sink.bench.local\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n\
                     250-XCLIENT NAME HELO\r\n250-DSN\r\n250 \r\n",
        );
        assert!(e.pipelining() && e.dsn());
        assert_eq!(e.auth_mechanisms(), ["PLAIN", "LOGIN"]);
        assert_eq!(e.params("xclient").unwrap(), ["NAME", "HELO"]);
        assert!(!e.supports_size());
    }

    #[test]
    fn old_auth_syntax_and_case() {
        let e = ext("250-x\r\n250-auth=login plain\r\n250-AUTH PLAIN CRAM-MD5\r\n250 size\r\n");
        assert_eq!(e.auth_mechanisms(), ["LOGIN", "PLAIN", "CRAM-MD5"]);
        assert!(e.supports_size());
        assert_eq!(e.max_size(), None);
    }

    #[test]
    fn unparsable_size_means_no_limit() {
        assert_eq!(ext("250-x\r\n250 SIZE lots\r\n").max_size(), None);
        assert_eq!(ext("250-x\r\n250 SIZE 0\r\n").max_size(), None);
    }

    #[test]
    fn single_line_reply_has_no_extensions() {
        let e = ext("250 mx.example Hello\r\n");
        assert_eq!(e.server_name(), "mx.example");
        assert_eq!(e.keywords().count(), 0);
    }
}
