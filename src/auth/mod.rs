//! SMTP AUTH (RFC 4954): choosing a SASL mechanism, running its exchange
//! of 334 challenges, and asking for a new secret once when the server
//! refuses one that came from a provider.
//!
//! The rooms: `secret` (the [`Secret`] type and where secrets come from),
//! `exchange` (one mechanism's side of an exchange, no I/O), `scram`
//! (SCRAM-SHA-1/-256 and -PLUS), `saslprep` (RFC 4013), `oauth` (token
//! responses and the server's error documents). This file holds the
//! choice of mechanism and the dialogue with the server.
//!
//! Secrets reach the wire only inside `Command::Auth`/`Command::AuthResponse`,
//! which the transcript and every error show as `<redacted>`.

mod exchange;
mod oauth;
mod saslprep;
mod scram;
mod secret;

use std::fmt;

pub(crate) use secret::Credentials;
pub use secret::Secret;

use crate::command::Command;
use crate::connection::Connection;
use crate::error::Error;
use crate::extensions::Extensions;
use crate::redact::Redactions;
use crate::reply::Reply;
use crate::success::Step;
use crate::transcript::Direction;
use exchange::{Answer, Exchange};
use scram::Binding;

/// Most 334 challenges answered before giving up. LOGIN needs two, SCRAM
/// two.
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
    /// SCRAM-SHA-1 (RFC 5802), for older servers: the password is proved,
    /// never sent, and the server proves it knows it too.
    ScramSha1,
    /// SCRAM-SHA-256 (RFC 7677): as SCRAM-SHA-1, with SHA-256.
    ScramSha256,
    /// SCRAM-SHA-256-PLUS: SCRAM-SHA-256 bound to the TLS channel
    /// (`tls-server-end-point`, RFC 5929: a hash of the server's
    /// certificate), so that no one in the middle can relay it. Needs TLS.
    ScramSha256Plus,
}

impl Mechanism {
    /// The mechanisms tried with a password, strongest first:
    /// SCRAM-SHA-256-PLUS (when TLS is up), SCRAM-SHA-256, SCRAM-SHA-1,
    /// CRAM-MD5, PLAIN, LOGIN. Token mechanisms are used only when asked
    /// for by name.
    pub const PASSWORD_DEFAULT: [Mechanism; 6] = [
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::CramMd5,
        Mechanism::Plain,
        Mechanism::Login,
    ];

    const ALL: [Mechanism; 8] = [
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
        Mechanism::OAuthBearer,
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
        Mechanism::ScramSha256Plus,
    ];

    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
        }
    }

    /// The mechanism with this name (any case).
    ///
    /// ```
    /// use smtpc::Mechanism;
    /// assert_eq!(Mechanism::from_name("scram-sha-256"), Some(Mechanism::ScramSha256));
    /// assert_eq!(Mechanism::from_name("GSSAPI"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// Whether the mechanism binds to the TLS channel (and so needs it).
    fn binds_channel(self) -> bool {
        self == Mechanism::ScramSha256Plus
    }

    /// The `-PLUS` form of a SCRAM mechanism, if this client has one.
    fn plus(self) -> Option<Mechanism> {
        match self {
            Mechanism::ScramSha256 => Some(Mechanism::ScramSha256Plus),
            _ => None,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

/// Picks the first mechanism of `wanted` that the server offers and that
/// can run here: a `-PLUS` one only with the channel's binding data.
fn choose(ext: &Extensions, wanted: &[Mechanism], can_bind: bool) -> Result<Mechanism, Error> {
    let offered = ext.auth_mechanisms();
    if offered.is_empty() {
        return Err(auth_error("the server does not offer AUTH", None));
    }
    let is_offered = |m: Mechanism| offered.iter().any(|o| o == m.name());
    if let Some(m) = wanted
        .iter()
        .copied()
        .find(|&m| is_offered(m) && (can_bind || !m.binds_channel()))
    {
        return Ok(m);
    }
    if let Some(m) = wanted.iter().find(|m| m.binds_channel() && is_offered(**m)) {
        return Err(auth_error(
            format!(
                "{m} binds to the TLS channel, and this connection has none to bind to \
                 (no TLS, or no tls-server-end-point hash of the server's certificate)"
            ),
            None,
        ));
    }
    let wanted: Vec<&str> = wanted.iter().map(|m| m.name()).collect();
    Err(auth_error(
        format!(
            "no mechanism in common (server offers {}; allowed: {})",
            offered.join(" "),
            wanted.join(" ")
        ),
        None,
    ))
}

/// What a SCRAM client says about channel binding (RFC 5802 6): bind
/// with `-PLUS`; `y` when it could have bound (TLS is up, the `-PLUS`
/// form is allowed) but the server does not offer it; else `n`.
fn binding(mech: Mechanism, config: &AuthConfig, ext: &Extensions, cb: Option<&[u8]>) -> Binding {
    let Some(cb) = cb else {
        return Binding::None;
    };
    if mech.binds_channel() {
        return Binding::TlsServerEndPoint(cb.to_vec());
    }
    match mech.plus() {
        Some(plus)
            if config.mechanisms.contains(&plus)
                && !ext.auth_mechanisms().iter().any(|o| o == plus.name()) =>
        {
            Binding::NotOffered
        }
        _ => Binding::None,
    }
}

/// How one attempt ended, short of an error that ends AUTH at once.
enum Outcome {
    Accepted(Reply),
    /// The server refused; `token_error` is its error document, in words.
    Refused {
        reply: Reply,
        token_error: Option<String>,
    },
}

/// Authenticates with the first wanted mechanism the server offers.
/// Refuses, before anything is sent, to put credentials on a connection
/// without TLS unless the caller allowed it by name. When the secret came
/// from a provider and the server refused it (535, 454, or a token error
/// document), the provider is asked once more, with `renew`, and AUTH is
/// tried once again.
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
    let cb = conn.tls_server_end_point();
    let mech = choose(ext, &config.mechanisms, cb.is_some())?;
    let context = format!("AUTH {mech}");
    let creds = &config.credentials;
    let binding = || binding(mech, config, ext, cb.as_deref());
    let secret = creds.secret(false)?;
    let (reply, token_error) = match attempt(conn, mech, &creds.user, &secret, binding())? {
        Outcome::Accepted(reply) => return Ok(reply),
        Outcome::Refused { reply, token_error } => (reply, token_error),
    };
    let renewable = reply.code >= 400 && (matches!(reply.code, 535 | 454) || token_error.is_some());
    if !(creds.renewable() && renewable) || conn.is_closed() {
        return Err(refused(&context, "refused", token_error, reply));
    }
    conn.note(
        Direction::Info,
        &format!("{context} refused: asking the credentials provider for a new secret"),
    );
    let secret = creds.secret(true).map_err(|e| match e {
        Error::Auth { reason, .. } => {
            let reason = with_token_error(format!("{context} refused; {reason}"), &token_error);
            auth_error(reason, Some(reply))
        }
        other => other,
    })?;
    match attempt(conn, mech, &creds.user, &secret, binding())? {
        Outcome::Accepted(reply) => Ok(reply),
        Outcome::Refused { reply, token_error } => Err(refused(
            &context,
            "refused again with the renewed secret",
            token_error,
            reply,
        )),
    }
}

fn with_token_error(reason: String, token_error: &Option<String>) -> String {
    match token_error {
        Some(words) => format!("{reason} (token error: {words})"),
        None => reason,
    }
}

fn refused(context: &str, what: &str, token_error: Option<String>, reply: Reply) -> Error {
    // A 221 or another 2yz is no refusal: the server left, or does not
    // follow the protocol.
    if (200..=299).contains(&reply.code) {
        return Error::refusal(reply, Step::Auth.expected());
    }
    auth_error(
        with_token_error(format!("{context} {what}"), &token_error),
        Some(reply),
    )
}

/// One AUTH command and its challenges, with one secret. Meanwhile the
/// secret, its base64 and every response sent are hidden in what the
/// server sends back (a server that echoes them in its refusal must not
/// put them in the transcript or the error).
fn attempt(
    conn: &mut Connection,
    mech: Mechanism,
    user: &str,
    secret: &Secret,
    binding: Binding,
) -> Result<Outcome, Error> {
    let mut hidden = Redactions::default();
    hidden.add(secret.expose().as_bytes());
    hidden.add(exchange::base64(secret.expose().as_bytes()).as_bytes());
    conn.redact(hidden);
    let outcome = run_exchange(conn, mech, user, secret, binding);
    conn.forget_redactions();
    outcome
}

/// [`attempt`], once the redactions are set.
fn run_exchange(
    conn: &mut Connection,
    mech: Mechanism,
    user: &str,
    secret: &Secret,
    binding: Binding,
) -> Result<Outcome, Error> {
    let context = format!("AUTH {mech}");
    let nonce = || scram::nonce().map_err(|e| format!("no random nonce from the system: {e}"));
    let mut exchange = Exchange::start(mech, user, secret, binding, nonce)
        .map_err(|why| auth_error(format!("{context}: {why}"), None))?;
    let initial = exchange.initial();
    if let Some(initial) = &initial {
        conn.redact_also(initial.as_bytes());
    }
    let mut reply = conn.execute(&Command::Auth {
        mechanism: mech.name(),
        initial: initial.as_ref().map(|i| i.as_str()),
    })?;
    let mut challenges = 0;
    loop {
        reply.in_reply_to = Some(context.clone().into());
        match reply.code {
            code if Step::Auth.accepts(code) => {
                return match exchange.accepted() {
                    Ok(()) => Ok(Outcome::Accepted(reply)),
                    Err(why) => Err(auth_error(format!("{context}: {why}"), Some(reply))),
                };
            }
            334 if challenges < MAX_CHALLENGES => {
                challenges += 1;
                match exchange.respond(reply.first_line()) {
                    Answer::Line(line) => {
                        conn.redact_also(line.as_bytes());
                        conn.redact_challenges(exchange.secret_challenge_next());
                        let answer = conn.execute(&Command::AuthResponse(&line));
                        conn.redact_challenges(false);
                        reply = answer?;
                    }
                    Answer::Cancel(why) => return Err(cancel(conn, &context, &why)?),
                }
            }
            334 => {
                let why = format!("more than {MAX_CHALLENGES} challenges");
                return Err(cancel(conn, &context, &why)?);
            }
            _ => {
                return Ok(Outcome::Refused {
                    reply,
                    token_error: exchange.token_error().map(str::to_owned),
                })
            }
        }
    }
}

/// Cancels the exchange (RFC 4954 4: `*`) and gives the error that says
/// why, with the server's answer to the cancel.
fn cancel(conn: &mut Connection, context: &str, why: &str) -> Result<Error, Error> {
    let mut last = conn.execute(&Command::AuthResponse("*"))?;
    last.in_reply_to = Some(context.to_owned().into());
    Ok(auth_error(
        format!("{context}: {why}; exchange cancelled"),
        Some(last),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(auth: &str) -> Extensions {
        let reply = Reply::parse(format!("250-x\r\n250 AUTH {auth}\r\n").as_bytes()).unwrap();
        Extensions::from_ehlo(&reply)
    }

    fn config(mechanisms: &[Mechanism]) -> AuthConfig {
        AuthConfig {
            credentials: Credentials::fixed("u", Secret::new("p")),
            mechanisms: mechanisms.to_vec(),
            allow_insecure: false,
        }
    }

    #[test]
    fn names_round_trip() {
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(&m.name().to_lowercase()), Some(m));
        }
        assert_eq!(Mechanism::from_name("GSSAPI"), None);
    }

    #[test]
    fn the_default_order_and_channel_binding() {
        let all = ext("PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 SCRAM-SHA-256-PLUS");
        let d = &Mechanism::PASSWORD_DEFAULT;
        assert_eq!(choose(&all, d, true).unwrap(), Mechanism::ScramSha256Plus);
        // Without the channel's binding data, -PLUS cannot run.
        assert_eq!(choose(&all, d, false).unwrap(), Mechanism::ScramSha256);
        let e = choose(&all, &[Mechanism::ScramSha256Plus], false).unwrap_err();
        assert!(e.to_string().contains("has none to bind to"), "{e}");
        assert_eq!(
            choose(&ext("PLAIN SCRAM-SHA-1 LOGIN"), d, true).unwrap(),
            Mechanism::ScramSha1
        );
        assert_eq!(
            choose(&ext("LOGIN PLAIN CRAM-MD5"), d, true).unwrap(),
            Mechanism::CramMd5
        );
        assert_eq!(choose(&ext("LOGIN"), d, true).unwrap(), Mechanism::Login);
    }

    #[test]
    fn the_gs2_flag_follows_what_either_side_could_do() {
        let cb = Some(&[7u8; 32][..]);
        let d = config(&Mechanism::PASSWORD_DEFAULT);
        let plain_scram = ext("SCRAM-SHA-256");
        let both = ext("SCRAM-SHA-256 SCRAM-SHA-256-PLUS");
        assert_eq!(
            binding(Mechanism::ScramSha256Plus, &d, &both, cb),
            Binding::TlsServerEndPoint(vec![7; 32])
        );
        // Could bind, server offers no -PLUS: y.
        assert_eq!(
            binding(Mechanism::ScramSha256, &d, &plain_scram, cb),
            Binding::NotOffered
        );
        // No TLS, or -PLUS not allowed, or offered but not chosen: n.
        assert_eq!(
            binding(Mechanism::ScramSha256, &d, &plain_scram, None),
            Binding::None
        );
        let only = config(&[Mechanism::ScramSha256]);
        assert_eq!(
            binding(Mechanism::ScramSha256, &only, &plain_scram, cb),
            Binding::None
        );
        assert_eq!(
            binding(Mechanism::ScramSha256, &d, &both, cb),
            Binding::None
        );
        // SCRAM-SHA-1 has no -PLUS here.
        assert_eq!(
            binding(Mechanism::ScramSha1, &d, &plain_scram, cb),
            Binding::None
        );
    }
}
