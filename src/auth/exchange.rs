//! One mechanism's side of an AUTH exchange, without I/O: the initial
//! response, the answer to each 334 challenge, and whether the final 235
//! may be believed (SCRAM: only after the server proved itself).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use zeroize::Zeroizing;

use super::oauth;
use super::scram::{Binding, Hash, Scram};
use super::secret::Secret;
use super::Mechanism;

/// Base64 of `raw`, in a string wiped when dropped (the encoder sizes
/// it once, so no copy is left behind by its growing).
pub(super) fn base64(raw: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(B64.encode(raw))
}

/// What to say to a challenge.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// This line (base64, or empty), wiped when dropped: it may carry
    /// the secret.
    Line(Zeroizing<String>),
    /// `*`: cancel the exchange (RFC 4954 4), for this reason.
    Cancel(String),
}

enum State {
    Plain,
    Login {
        step: u8,
    },
    CramMd5 {
        answered: bool,
    },
    /// XOAUTH2 or OAUTHBEARER: the server's error document, once sent.
    Token {
        error: Option<String>,
    },
    Scram(Box<Scram>),
}

/// One run of a mechanism with one secret.
pub(super) struct Exchange<'a> {
    mech: Mechanism,
    user: &'a str,
    secret: &'a Secret,
    state: State,
}

impl<'a> Exchange<'a> {
    /// Starts `mech` as `user`. `binding` is what SCRAM says about
    /// channel binding; `nonce` makes SCRAM's client nonce.
    pub fn start(
        mech: Mechanism,
        user: &'a str,
        secret: &'a Secret,
        binding: Binding,
        nonce: impl FnOnce() -> Result<String, String>,
    ) -> Result<Exchange<'a>, String> {
        let state = match mech {
            Mechanism::Plain => State::Plain,
            Mechanism::Login => State::Login { step: 0 },
            Mechanism::CramMd5 => State::CramMd5 { answered: false },
            Mechanism::XOAuth2 | Mechanism::OAuthBearer => State::Token { error: None },
            Mechanism::ScramSha1 | Mechanism::ScramSha256 | Mechanism::ScramSha256Plus => {
                let hash = match mech {
                    Mechanism::ScramSha1 => Hash::Sha1,
                    _ => Hash::Sha256,
                };
                State::Scram(Box::new(Scram::new(hash, user, binding, nonce()?)?))
            }
        };
        Ok(Exchange {
            mech,
            user,
            secret,
            state,
        })
    }

    /// The initial response sent with `AUTH`, base64, if the mechanism
    /// has one.
    pub fn initial(&self) -> Option<Zeroizing<String>> {
        let (user, secret) = (self.user, self.secret.expose());
        let raw = match (&self.state, self.mech) {
            (State::Plain, _) => oauth::joined(&["\0", user, "\0", secret]),
            (State::Token { .. }, Mechanism::XOAuth2) => oauth::xoauth2(user, secret),
            (State::Token { .. }, _) => oauth::oauthbearer(user, secret),
            (State::Scram(scram), _) => Zeroizing::new(scram.client_first()),
            (State::Login { .. } | State::CramMd5 { .. }, _) => return None,
        };
        Some(base64(raw.as_bytes()))
    }

    /// The answer to a 334 challenge (its text, still base64).
    pub fn respond(&mut self, challenge: &str) -> Answer {
        let Ok(challenge) = B64.decode(challenge.trim()) else {
            return Answer::Cancel("a challenge that is not base64".into());
        };
        let line = |raw: &[u8]| Answer::Line(base64(raw));
        match &mut self.state {
            State::Login { step } if *step < 2 => {
                *step += 1;
                match step {
                    1 => line(self.user.as_bytes()),
                    _ => line(self.secret.expose().as_bytes()),
                }
            }
            State::CramMd5 { answered } if !*answered => {
                *answered = true;
                let mut mac = Hmac::<Md5>::new_from_slice(self.secret.expose().as_bytes())
                    .expect("HMAC takes keys of any length");
                mac.update(&challenge);
                let digest: String = mac
                    .finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                line(format!("{} {digest}", self.user).as_bytes())
            }
            // A refused token: the server sends its error document and
            // waits for an empty line (XOAUTH2) or ^A (RFC 7628 3.2.3)
            // before its final reply.
            State::Token { error } if error.is_none() => {
                *error = Some(oauth::describe_error(&challenge));
                match self.mech {
                    Mechanism::XOAuth2 => Answer::Line(Zeroizing::default()),
                    _ => line(&[1]),
                }
            }
            State::Scram(scram) if !scram.verified() => {
                // The first challenge is the server-first message; once
                // the proof is sent, the next is the server-final.
                let result = if scram.proved() {
                    scram
                        .verify(&challenge)
                        .map(|()| Answer::Line(Zeroizing::default()))
                } else {
                    let password = self.secret.expose();
                    scram
                        .client_final(&challenge, password)
                        .map(|m| line(m.as_bytes()))
                };
                result.unwrap_or_else(Answer::Cancel)
            }
            _ => Answer::Cancel("an unexpected challenge".into()),
        }
    }

    /// Whether a 235 can be taken as success: with SCRAM, only once the
    /// server's signature was verified (a server that skips it may not
    /// know the password at all).
    pub fn accepted(&self) -> Result<(), String> {
        match &self.state {
            State::Scram(scram) if !scram.verified() => Err(
                "the server accepted without proving that it knows the password \
                 (no server signature)"
                    .into(),
            ),
            _ => Ok(()),
        }
    }

    /// Whether the next challenge is derived from the password (SCRAM's
    /// server-final message, due once the proof is sent), so that the
    /// transcript must not show it.
    pub fn secret_challenge_next(&self) -> bool {
        matches!(&self.state, State::Scram(scram) if scram.proved())
    }

    /// The server's token error document, in words, if it sent one.
    pub fn token_error(&self) -> Option<&str> {
        match &self.state {
            State::Token { error } => error.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> &'static Secret {
        Box::leak(Box::new(Secret::new(s)))
    }

    fn start(mech: Mechanism, user: &'static str, secret: &'static Secret) -> Exchange<'static> {
        Exchange::start(mech, user, secret, Binding::None, || Ok("nonce".into())).unwrap()
    }

    fn decoded(answer: Answer) -> Vec<u8> {
        match answer {
            Answer::Line(l) => B64.decode(l.as_bytes()).unwrap(),
            Answer::Cancel(why) => panic!("cancelled: {why}"),
        }
    }

    fn decoded_initial(e: &Exchange<'_>) -> Vec<u8> {
        B64.decode(e.initial().unwrap().as_bytes()).unwrap()
    }

    fn line(text: &str) -> Answer {
        Answer::Line(Zeroizing::new(text.to_owned()))
    }

    #[test]
    fn plain_initial_response() {
        let s = secret("secret");
        let e = start(Mechanism::Plain, "bob", s);
        assert_eq!(decoded_initial(&e), b"\0bob\0secret");
    }

    #[test]
    fn login_steps() {
        let s = secret("secret");
        let mut e = start(Mechanism::Login, "bob", s);
        assert_eq!(e.initial(), None);
        assert_eq!(e.respond("VXNlcm5hbWU6"), line("Ym9i"));
        assert_eq!(e.respond("UGFzc3dvcmQ6"), line("c2VjcmV0"));
        assert!(matches!(e.respond("TW9yZT8="), Answer::Cancel(_)));
    }

    #[test]
    fn cram_md5_matches_rfc_2195_example() {
        let s = secret("tanstaaftanstaaf");
        let mut e = start(Mechanism::CramMd5, "tim", s);
        let r = e.respond("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+");
        assert_eq!(r, line("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"));
        assert!(matches!(e.respond("PDE+"), Answer::Cancel(_)));
    }

    #[test]
    fn token_errors_are_answered_once_and_kept() {
        let s = secret("tok");
        let mut x = start(Mechanism::XOAuth2, "a@b", s);
        assert_eq!(decoded_initial(&x), b"user=a@b\x01auth=Bearer tok\x01\x01");
        // {"status":"401"}
        assert_eq!(x.respond("eyJzdGF0dXMiOiI0MDEifQ=="), line(""));
        assert_eq!(x.token_error(), Some("status 401"));
        assert!(matches!(x.respond("e30="), Answer::Cancel(_)));
        let mut o = start(Mechanism::OAuthBearer, "a@b", s);
        assert_eq!(decoded(o.respond("e30=")), [1]);
        assert!(x.accepted().is_ok() && o.accepted().is_ok());
    }

    #[test]
    fn scram_is_accepted_only_after_the_server_signature() {
        let s = secret("pencil");
        let mut e = Exchange::start(Mechanism::ScramSha256, "user", s, Binding::None, || {
            Ok("rOprNGfwEbeRWgbNEkqO".into())
        })
        .unwrap();
        assert_eq!(decoded_initial(&e), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let first = B64.encode(
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        );
        let last = decoded(e.respond(&first));
        assert!(last.ends_with(b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
        assert!(e.accepted().is_err(), "235 before the signature");
        let v = B64.encode("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert_eq!(e.respond(&v), line(""));
        assert!(e.accepted().is_ok());
        assert!(matches!(e.respond(&v), Answer::Cancel(_)));
    }
}
