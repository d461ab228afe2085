//! Which replies mean success at each step of a session: RFC 5321 4.3.2
//! for the base commands, RFC 3207 for STARTTLS, RFC 4954 for AUTH,
//! RFC 3030 for BDAT. A reply outside the list is never taken as success:
//! another 2yz is a protocol error, and a 221 means the server has closed
//! the session (see [`crate::error::Error::refusal`]).

/// A step of the session that waits for a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Greeting,
    /// EHLO or HELO.
    Hello,
    StartTls,
    /// The final reply to AUTH (334 asks for more and is handled apart).
    Auth,
    Mail,
    Rcpt,
    Data,
    /// The reply to the content: after the end of data, or to `BDAT LAST`.
    EndOfData,
    /// A BDAT chunk that is not the last.
    Bdat,
    Rset,
    Noop,
    Vrfy,
    Quit,
}

impl Step {
    /// The codes that mean success.
    pub fn success(self) -> &'static [u16] {
        match self {
            Step::Greeting | Step::StartTls => &[220],
            Step::Auth => &[235],
            Step::Rcpt => &[250, 251],
            Step::Data => &[354],
            Step::Vrfy => &[250, 251, 252],
            Step::Quit => &[221],
            Step::Hello | Step::Mail | Step::EndOfData | Step::Bdat | Step::Rset | Step::Noop => {
                &[250]
            }
        }
    }

    /// The codes that mean success, as an error names them.
    pub fn expected(self) -> &'static str {
        match self {
            Step::Greeting | Step::StartTls => "220",
            Step::Auth => "235",
            Step::Rcpt => "250 or 251",
            Step::Data => "354",
            Step::Vrfy => "250, 251 or 252",
            Step::Quit => "221",
            Step::Hello | Step::Mail | Step::EndOfData | Step::Bdat | Step::Rset | Step::Noop => {
                "250"
            }
        }
    }

    /// Whether `code` means success here.
    pub fn accepts(self, code: u16) -> bool {
        self.success().contains(&code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_names_the_codes_it_accepts() {
        let all = [
            Step::Greeting,
            Step::Hello,
            Step::StartTls,
            Step::Auth,
            Step::Mail,
            Step::Rcpt,
            Step::Data,
            Step::EndOfData,
            Step::Bdat,
            Step::Rset,
            Step::Noop,
            Step::Vrfy,
            Step::Quit,
        ];
        for step in all {
            let named: Vec<u16> = step
                .expected()
                .split([',', ' '])
                .filter_map(|w| w.parse().ok())
                .collect();
            assert_eq!(named, step.success(), "{step:?}");
            // 221 is success only for QUIT; no step takes just any 2yz.
            assert_eq!(step.accepts(221), step == Step::Quit, "{step:?}");
            assert!(!step.accepts(299), "{step:?}");
        }
    }
}
