//! SMTP AUTH (RFC 4954): choosing a SASL mechanism and running its
//! exchange of 334 challenges.
//!
//! Secrets live in [`Credentials`], whose `Debug` hides them. They reach the
//! wire only inside `Command::Auth`/`Command::AuthResponse`, which the
//! transcript and every error show as `<redacted>`.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;

use crate::command::Command;
use crate::connection::Connection;
use crate::error::Error;
use crate::extensions::Extensions;
use crate::reply::Reply;
use crate::success::Step;

/// Most 334 challenges answered before giving up. LOGIN needs two.
const MAX_CHALLENGES: usize = 4;

/// A SASL mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// PLAIN (RFC 4616): user and password in one response.
    Plain,
    /// LOGIN: user and password in answer to two challenges.
    Login,
    /// CRAM-MD5 (RFC 2195): an HMAC of the server's challenge; the
    /// password itself is never sent.
    CramMd5,
    /// XOAUTH2 (Google, Microsoft): the secret is an OAuth 2.0 access token.
    XOAuth2,
    /// OAUTHBEARER (RFC 7628): the secret is an OAuth 2.0 bearer token.
    OAuthBearer,
}

impl Mechanism {
    /// The mechanisms tried with a password, strongest first. Token
    /// mechanisms are used only when asked for by name.
    pub const PASSWORD_DEFAULT: [Mechanism; 3] =
        [Mechanism::CramMd5, Mechanism::Plain, Mechanism::Login];

    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The mechanism with this name (any case).
    pub fn from_name(name: &str) -> Option<Mechanism> {
        [
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::CramMd5,
            Mechanism::XOAuth2,
            Mechanism::OAuthBearer,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A user name and its secret (password or token).
#[derive(Clone)]
pub(crate) struct Credentials {
    pub user: String,
    pub secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What a session does about AUTH.
#[derive(Debug, Clone)]
pub(crate) struct AuthConfig {
    pub credentials: Credentials,
    /// In order of preference.
    pub mechanisms: Vec<Mechanism>,
    pub allow_insecure: bool,
}

fn auth_error(reason: impl Into<String>, reply: Option<Reply>) -> Error {
    Error::Auth {
        reason: reason.into(),
        reply,
    }
}

/// Picks the first mechanism of `wanted` that the server offers.
fn choose(ext: &Extensions, wanted: &[Mechanism]) -> Result<Mechanism, Error> {
    let offered = ext.auth_mechanisms();
    if offered.is_empty() {
        return Err(auth_error("the server does not offer AUTH", None));
    }
    wanted
        .iter()
        .copied()
        .find(|m| offered.iter().any(|o| o == m.name()))
        .ok_or_else(|| {
            let wanted: Vec<&str> = wanted.iter().map(|m| m.name()).collect();
            auth_error(
                format!(
                    "no mechanism in common (server offers {}; allowed: {})",
                    offered.join(" "),
                    wanted.join(" ")
                ),
                None,
            )
        })
}

/// The initial response sent with `AUTH`, if the mechanism has one.
fn initial_response(mech: Mechanism, c: &Credentials) -> Option<String> {
    let raw = match mech {
        Mechanism::Plain => format!("\0{}\0{}", c.user, c.secret),
        Mechanism::XOAuth2 => format!("user={}\x01auth=Bearer {}\x01\x01", c.user, c.secret),
        Mechanism::OAuthBearer => format!(
            "n,a={},\x01auth=Bearer {}\x01\x01",
            c.user.replace('=', "=3D").replace(',', "=2C"),
            c.secret
        ),
        Mechanism::Login | Mechanism::CramMd5 => return None,
    };
    Some(B64.encode(raw))
}

/// The answer to the `step`th 334 challenge (already base64-decoded).
/// `None` means the mechanism has nothing more to say: cancel.
fn respond(mech: Mechanism, step: usize, challenge: &[u8], c: &Credentials) -> Option<String> {
    match (mech, step) {
        (Mechanism::Login, 0) => Some(B64.encode(&c.user)),
        (Mechanism::Login, 1) => Some(B64.encode(&c.secret)),
        (Mechanism::CramMd5, 0) => {
            let mut mac = Hmac::<Md5>::new_from_slice(c.secret.as_bytes()).ok()?;
            mac.update(challenge);
            let digest: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            Some(B64.encode(format!("{} {digest}", c.user)))
        }
        // After a failed token, the server sends an error document as a
        // challenge and waits for an empty line (XOAUTH2) or ^A (RFC 7628
        // 3.2.3) before it answers 535.
        (Mechanism::XOAuth2, 0) => Some(String::new()),
        (Mechanism::OAuthBearer, 0) => Some(B64.encode([1u8])),
        _ => None,
    }
}

/// Authenticates with the first wanted mechanism the server offers.
/// Refuses, before anything is sent, to put credentials on a connection
/// without TLS unless the caller allowed it by name.
pub(crate) fn authenticate(
    conn: &mut Connection,
    ext: &Extensions,
    config: &AuthConfig,
) -> Result<Reply, Error> {
    if !conn.is_encrypted() && !config.allow_insecure {
        return Err(auth_error(
            "refusing to send credentials over a connection without TLS \
             (use TLS, or allow_insecure_auth(true))",
            None,
        ));
    }
    let mech = choose(ext, &config.mechanisms)?;
    let context = format!("AUTH {mech}");
    let creds = &config.credentials;
    let initial = initial_response(mech, creds);
    let mut reply = conn.execute(&Command::Auth {
        mechanism: mech.name(),
        initial: initial.as_deref(),
    })?;
    let mut step = 0;
    loop {
        reply.in_reply_to = Some(context.clone().into());
        match reply.code {
            code if Step::Auth.accepts(code) => return Ok(reply),
            334 if step < MAX_CHALLENGES => {
                let challenge = B64.decode(reply.first_line().trim()).ok();
                let answer = challenge
                    .and_then(|ch| respond(mech, step, &ch, creds))
                    .unwrap_or_else(|| "*".into());
                step += 1;
                let cancelled = answer == "*";
                reply = conn.execute(&Command::AuthResponse(&answer))?;
                if cancelled {
                    reply.in_reply_to = Some(context.clone().into());
                    return Err(auth_error(
                        format!("{context}: unexpected challenge; exchange cancelled"),
                        Some(reply),
                    ));
                }
            }
            334 => {
                // Too many challenges: cancel (RFC 4954 4) and give up.
                let mut last = conn.execute(&Command::AuthResponse("*"))?;
                last.in_reply_to = Some(context.clone().into());
                return Err(auth_error(
                    format!("{context}: more than {MAX_CHALLENGES} challenges"),
                    Some(last),
                ));
            }
            // A 221 or another 2yz is no refusal: the server left, or
            // does not follow the protocol.
            200..=299 => return Err(Error::refusal(reply, Step::Auth.expected())),
            _ => return Err(auth_error(format!("{context} refused"), Some(reply))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(user: &str, secret: &str) -> Credentials {
        Credentials {
            user: user.into(),
            secret: secret.into(),
        }
    }

    #[test]
    fn plain_initial_response() {
        let r = initial_response(Mechanism::Plain, &creds("bob", "secret")).unwrap();
        assert_eq!(B64.decode(r).unwrap(), b"\0bob\0secret");
    }

    #[test]
    fn login_steps() {
        let c = creds("bob", "secret");
        assert_eq!(
            respond(Mechanism::Login, 0, b"Username:", &c).unwrap(),
            "Ym9i"
        );
        assert_eq!(
            respond(Mechanism::Login, 1, b"Password:", &c).unwrap(),
            "c2VjcmV0"
        );
        assert_eq!(respond(Mechanism::Login, 2, b"More?", &c), None);
    }

    #[test]
    fn cram_md5_matches_rfc_2195_example() {
        let c = creds("tim", "tanstaaftanstaaf");
        let challenge = B64
            .decode("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+")
            .unwrap();
        let r = respond(Mechanism::CramMd5, 0, &challenge, &c).unwrap();
        assert_eq!(r, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
    }

    #[test]
    fn token_mechanisms() {
        let c = creds("a@b", "tok");
        let x = initial_response(Mechanism::XOAuth2, &c).unwrap();
        assert_eq!(
            B64.decode(x).unwrap(),
            b"user=a@b\x01auth=Bearer tok\x01\x01"
        );
        let o = initial_response(Mechanism::OAuthBearer, &creds("a,b=c", "tok")).unwrap();
        assert_eq!(
            B64.decode(o).unwrap(),
            b"n,a=a=2Cb=3Dc,\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(respond(Mechanism::XOAuth2, 0, b"{}", &c).unwrap(), "");
        assert_eq!(
            respond(Mechanism::OAuthBearer, 0, b"{}", &c).unwrap(),
            "AQ=="
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", creds("bob", "hunter2"));
        assert!(
            shown.contains("bob") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn names_round_trip() {
        for m in [Mechanism::Plain, Mechanism::CramMd5, Mechanism::OAuthBearer] {
            assert_eq!(Mechanism::from_name(&m.name().to_lowercase()), Some(m));
        }
        assert_eq!(Mechanism::from_name("GSSAPI"), None);
    }
}
