//! Secrets and where they come from: a [`Secret`] (a password or a
//! token, which no `Debug` shows), and [`Credentials`], a user name with
//! a fixed secret or a provider called when AUTH needs one.
//!
//! Every secret of the crate lives in a `Secret` from the moment it is
//! given until it is base64-encoded for the wire; a `Secret` is wiped
//! (zeroed, in a way the compiler may not skip) when it is dropped, and
//! so is every response made of it (`exchange`, `scram`, `oauth`).

use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

use crate::error::Error;

/// A password or an OAuth 2.0 token. Its `Debug` shows `<redacted>`; it
/// has no `Display`, and nothing in smtpc prints it. Its memory is
/// zeroed when it is dropped (each clone's too). A `String` given to
/// [`Secret::new`] is taken over as it is: the memory it had before (if
/// it grew) is the caller's to have wiped.
///
/// ```
/// let secret = smtpc::Secret::new("app-password");
/// assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a password or token.
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(Zeroizing::new(secret.into()))
    }

    /// The secret itself, for the mechanisms that put it on the wire.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Secret {
        Secret::new(secret)
    }
}

impl From<&str> for Secret {
    fn from(secret: &str) -> Secret {
        Secret::new(secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a provider could not give a secret (its own words).
pub(crate) type ProviderError = Box<dyn StdError + Send + Sync>;

/// A provider: called with `renew` false when AUTH first needs the
/// secret, with `renew` true after the server refused it.
pub(crate) type ProviderFn = dyn FnMut(bool) -> Result<Secret, ProviderError> + Send;

/// Where the secret comes from.
#[derive(Clone)]
pub(crate) enum SecretSource {
    /// Given once; never renewed.
    Fixed(Secret),
    /// Asked for at each AUTH, and again after a refusal. Shared by every
    /// copy of the configuration (and so every connection made with it),
    /// one call at a time.
    Provider(Arc<Mutex<Box<ProviderFn>>>),
}

/// A user name and where its secret comes from.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub user: String,
    pub source: SecretSource,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = match self.source {
            SecretSource::Fixed(_) => "<redacted>",
            SecretSource::Provider(_) => "<provider>",
        };
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("secret", &secret)
            .finish()
    }
}

impl Credentials {
    /// Credentials with a fixed secret.
    pub fn fixed(user: &str, secret: Secret) -> Credentials {
        Credentials {
            user: user.to_owned(),
            source: SecretSource::Fixed(secret),
        }
    }

    /// Credentials whose secret comes from `provider`.
    pub fn provider<F, E>(user: &str, mut provider: F) -> Credentials
    where
        F: FnMut(bool) -> Result<Secret, E> + Send + 'static,
        E: Into<ProviderError>,
    {
        let boxed: Box<ProviderFn> = Box::new(move |renew| provider(renew).map_err(Into::into));
        Credentials {
            user: user.to_owned(),
            source: SecretSource::Provider(Arc::new(Mutex::new(boxed))),
        }
    }

    /// Whether asking again can give another secret.
    pub fn renewable(&self) -> bool {
        matches!(self.source, SecretSource::Provider(_))
    }

    /// The secret: the fixed one, or the provider's answer (`renew` after
    /// a refusal). A provider's failure, or an empty secret from it, is
    /// [`Error::Auth`] with the provider's reason.
    pub fn secret(&self, renew: bool) -> Result<Secret, Error> {
        let provider = match &self.source {
            SecretSource::Fixed(secret) => return Ok(secret.clone()),
            SecretSource::Provider(provider) => provider,
        };
        // A provider that panicked once is still asked: its state is its
        // own business, and the panic went to the caller that time.
        let mut provider = provider.lock().unwrap_or_else(|p| p.into_inner());
        let what = if renew {
            "renewing the secret"
        } else {
            "getting the secret"
        };
        match provider(renew) {
            Ok(secret) if secret.expose().is_empty() => Err(Error::Auth {
                reason: format!("the credentials provider gave an empty secret ({what})"),
                reply: None,
            }),
            Ok(secret) => Ok(secret),
            Err(e) => Err(Error::Auth {
                reason: format!("the credentials provider failed ({what}): {e}"),
                reply: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let fixed = Credentials::fixed("bob", Secret::new("hunter2"));
        let shown = format!("{fixed:?} {:?}", Secret::new("hunter2"));
        assert!(
            shown.contains("bob") && !shown.contains("hunter2"),
            "{shown}"
        );
        let provided = Credentials::provider("bob", |_| Ok::<_, String>("hunter2".into()));
        assert_eq!(
            format!("{provided:?}"),
            r#"Credentials { user: "bob", secret: "<provider>" }"#
        );
    }

    #[test]
    fn the_provider_is_told_when_to_renew_and_its_failures_are_auth_errors() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let c = Credentials::provider("bob", move |renew| {
            seen.lock().unwrap().push(renew);
            if renew {
                Err("the refresh token was revoked")
            } else {
                Ok(Secret::new("t1"))
            }
        });
        assert!(c.renewable());
        assert_eq!(c.secret(false).unwrap(), Secret::new("t1"));
        let e = c.secret(true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AUTH: the credentials provider failed (renewing the secret): \
             the refresh token was revoked"
        );
        assert_eq!(*calls.lock().unwrap(), [false, true]);
        // A copy shares the provider.
        let copy = c.clone();
        copy.secret(false).unwrap();
        assert_eq!(calls.lock().unwrap().len(), 3);

        let empty = Credentials::provider("bob", |_| Ok::<_, String>(Secret::new("")));
        assert!(empty
            .secret(false)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        let fixed = Credentials::fixed("bob", Secret::new("pw"));
        assert!(!fixed.renewable());
        assert_eq!(fixed.secret(true).unwrap(), Secret::new("pw"));
    }
}
