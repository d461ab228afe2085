//! TLS: the modes a session can use and the options of the TLS connector
//! (native-tls). The handshake itself runs in [`crate::stream`], where the
//! socket and its deadlines live.

mod roots;
pub(crate) mod shared;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;

use native_tls::{Certificate, Identity, Protocol, TlsConnector};

use crate::error::Error;

pub use roots::take_over_system_roots;
pub(crate) use shared::SharedConnector;

/// How the connection is protected.
///
/// | `Tls::` | port | behaviour |
/// |---|---|---|
/// | [`StartTls`](Tls::StartTls) (default) | 587 | STARTTLS is required: a server that does not offer it, or refuses it, fails the connection before any MAIL or AUTH |
/// | [`Opportunistic`](Tls::Opportunistic) | 587 | STARTTLS when offered, plaintext when not; once offered, a failure is an error, never a silent downgrade |
/// | [`Implicit`](Tls::Implicit) | 465 | TLS from the first byte |
/// | [`None`](Tls::None) | 25 | plaintext |
///
/// The port is the mode's [`default_port`](Tls::default_port) unless
/// [`port`](crate::ClientBuilder::port) names another.
///
/// ```
/// use smtpc::Tls;
/// assert_eq!(Tls::default(), Tls::StartTls);
/// assert_eq!(Tls::Implicit.default_port(), 465);
/// ```
///
/// # Certificates and host names
///
/// Certificates and host names are verified (with SNI) against the
/// system's roots. The builder adds roots
/// ([`add_root_certificate`](crate::ClientBuilder::add_root_certificate),
/// [`add_root_certificate_file`](crate::ClientBuilder::add_root_certificate_file):
/// PEM or DER), drops the system's
/// ([`disable_system_roots`](crate::ClientBuilder::disable_system_roots)),
/// presents a client certificate
/// ([`identity_pkcs12`](crate::ClientBuilder::identity_pkcs12),
/// [`identity_pem`](crate::ClientBuilder::identity_pem)), raises the
/// minimum version ([`min_tls_version`](crate::ClientBuilder::min_tls_version),
/// TLS 1.2 by default) and verifies against another name than the host
/// connected to ([`tls_server_name`](crate::ClientBuilder::tls_server_name),
/// for connecting by IP address). Verification can only be turned off
/// under names that say so:
/// [`danger_accept_invalid_certs`](crate::ClientBuilder::danger_accept_invalid_certs),
/// [`danger_accept_invalid_hostnames`](crate::ClientBuilder::danger_accept_invalid_hostnames).
/// The handshake is bounded by the timeout.
///
/// The TLS connector (the roots, loaded from the system's CA bundle by
/// OpenSSL) is built while the first connection is made (on a thread of
/// its own; with opportunistic TLS, at the handshake) and then kept: by the
/// [`Config`](crate::Config) and its clones, by reconnections, and by the
/// process for every connection with equal TLS options (for a day). A
/// program can also let smtpc load the system's bundle itself, once, and
/// never when the system's roots are off: [`take_over_system_roots`].
///
/// # What other clients got wrong, smtpc refuses
///
/// - **Response injection**: any byte that arrives after the 220 to
///   STARTTLS and before the handshake was put there by someone on the
///   path, to be read as if it came over TLS. smtpc closes the connection
///   with [`Error::StartTlsInjection`] instead of using it.
/// - **Stale capabilities**: after TLS, EHLO is sent again and only the
///   new list counts, AUTH mechanisms included.
/// - **Credentials in the clear**: with credentials set, a connection
///   without TLS fails before AUTH is sent ([`Error::Auth`]), unless the
///   caller opts in with
///   [`allow_insecure_auth(true)`](crate::ClientBuilder::allow_insecure_auth).
///   No exception for localhost.
///
/// # Authentication
///
/// [`credentials(user, secret)`](crate::ClientBuilder::credentials) picks
/// the strongest mechanism both sides offer among CRAM-MD5, PLAIN and
/// LOGIN; [`auth_mechanisms(&[Mechanism::XOAuth2])`](crate::ClientBuilder::auth_mechanisms)
/// (or [`OAuthBearer`](crate::Mechanism::OAuthBearer)) uses an OAuth token
/// as the secret. Challenges are bounded; a refusal is [`Error::Auth`]
/// with the server's reply. Secrets and their base64 forms never appear in
/// errors, `Debug` output or the transcript, which shows
/// `AUTH PLAIN <redacted>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Tls {
    /// No TLS. Credentials are refused unless
    /// [`allow_insecure_auth`](crate::ClientBuilder::allow_insecure_auth) is set.
    None,
    /// STARTTLS is required (RFC 3207), the default: a server that does not
    /// offer it, or refuses it, fails the connection before MAIL or AUTH.
    #[default]
    StartTls,
    /// STARTTLS when the server offers it, plaintext when it does not. Once
    /// offered, any failure is an error, never a silent downgrade.
    Opportunistic,
    /// TLS from the first byte (RFC 8314, port 465).
    Implicit,
}

impl Tls {
    /// The usual port for this mode: 587 (submission) for STARTTLS, 465
    /// for implicit TLS, 25 without TLS.
    pub fn default_port(self) -> u16 {
        match self {
            Tls::None => 25,
            Tls::StartTls | Tls::Opportunistic => 587,
            Tls::Implicit => 465,
        }
    }
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (the default minimum).
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// Where certificates come from.
#[derive(Clone)]
pub(crate) enum CertSource {
    /// One or more PEM certificates, or one DER certificate.
    Bytes(Vec<u8>),
    /// A file holding either.
    File(PathBuf),
}

/// The client's own certificate and key.
#[derive(Clone)]
pub(crate) enum IdentitySource {
    Pkcs12 { der: Vec<u8>, password: String },
    Pem { chain: Vec<u8>, key: Vec<u8> },
}

/// The options that shape the TLS connector, and the connector built
/// from them (once, shared by every clone of these options). Whoever
/// changes an option calls [`TlsOptions::changed`] first.
#[derive(Clone, Default)]
pub(crate) struct TlsOptions {
    pub roots: Vec<CertSource>,
    pub disable_system_roots: bool,
    pub identity: Option<IdentitySource>,
    pub min_version: Option<TlsVersion>,
    pub server_name: Option<String>,
    pub accept_invalid_certs: bool,
    pub accept_invalid_hostnames: bool,
    /// Built on first use from the options above; clones share it.
    pub connector: SharedConnector,
}

impl fmt::Debug for TlsOptions {
    // The identity's key and password stay out of debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("extra_roots", &self.roots.len())
            .field("disable_system_roots", &self.disable_system_roots)
            .field("identity", &self.identity.as_ref().map(|_| "<set>"))
            .field("min_version", &self.min_version)
            .field("server_name", &self.server_name)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("accept_invalid_hostnames", &self.accept_invalid_hostnames)
            .field("connector", &self.connector)
            .finish()
    }
}

fn tls_error(
    during: impl Into<String>,
    e: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Tls {
        during: during.into(),
        source: Box::new(e),
    }
}

/// Reads certificates: every PEM block in the bytes, or the bytes as one
/// DER certificate.
fn certificates(bytes: &[u8], what: &str) -> Result<Vec<Certificate>, Error> {
    let is_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    let certs = if is_pem {
        Certificate::stack_from_pem(bytes)
    } else {
        Certificate::from_der(bytes).map(|c| vec![c])
    }
    .map_err(|e| tls_error(format!("loading {what}"), e))?;
    if certs.is_empty() {
        return Err(Error::InvalidInput(format!("{what} holds no certificate")));
    }
    Ok(certs)
}

fn read_file(path: &PathBuf, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        during: format!("reading {what} {}", path.display()),
        source,
    })
}

/// The caller's part of a connector, read and checked: the roots added,
/// the identity, the switches. What remains to do is OpenSSL's part,
/// which loads the system's roots ([`Material::build`]).
pub(crate) struct Material {
    roots: Vec<Certificate>,
    /// Root files, read but not decoded yet (a file may be a whole
    /// bundle): decoded with the connector, after connecting. Each
    /// with what it is called in errors.
    root_files: Vec<(String, Vec<u8>)>,
    /// The system's bundles, when smtpc loads them itself
    /// ([`take_over_system_roots`]) and they are trusted.
    system_bundles: &'static [PathBuf],
    identity: Option<Identity>,
    disable_system_roots: bool,
    min_version: Option<TlsVersion>,
    accept_invalid_certs: bool,
    accept_invalid_hostnames: bool,
}

impl TlsOptions {
    /// Marks the options as changed: the connector built from them so
    /// far (shared with earlier clones, which keep it) is not theirs now.
    pub fn changed(&mut self) -> &mut Self {
        self.connector = SharedConnector::default();
        self
    }

    /// Reads the root certificate files, decodes the roots and the
    /// identity, and names the whole (see [`shared::Key`]): what a
    /// connector is built from, each caller error found here, before any
    /// connection.
    fn material(&self) -> Result<(Material, shared::Key), Error> {
        let mut key = shared::KeyHasher::new();
        key.flag(self.disable_system_roots);
        key.flag(self.accept_invalid_certs);
        key.flag(self.accept_invalid_hostnames);
        key.bytes(match self.min_version {
            None => b"-",
            Some(TlsVersion::Tls12) => b"1.2",
            Some(TlsVersion::Tls13) => b"1.3",
        });
        let (mut roots, mut root_files) = (Vec::new(), Vec::new());
        for source in &self.roots {
            match source {
                CertSource::Bytes(bytes) => {
                    key.bytes(bytes);
                    roots.extend(certificates(bytes, "root certificate")?);
                }
                CertSource::File(path) => {
                    let what = format!("root certificates from {}", path.display());
                    let bytes = read_file(path, "root certificates")?;
                    key.bytes(&bytes);
                    if bytes.is_empty() {
                        return Err(Error::InvalidInput(format!("{what} holds no certificate")));
                    }
                    root_files.push((what, bytes));
                }
            }
        }
        let identity = match &self.identity {
            None => {
                key.bytes(b"");
                None
            }
            Some(identity) => Some(
                match identity {
                    IdentitySource::Pkcs12 { der, password } => {
                        key.bytes(b"pkcs12");
                        key.bytes(der);
                        key.bytes(password.as_bytes());
                        Identity::from_pkcs12(der, password)
                    }
                    IdentitySource::Pem { chain, key: pkey } => {
                        key.bytes(b"pem");
                        key.bytes(chain);
                        key.bytes(pkey);
                        Identity::from_pkcs8(chain, pkey)
                    }
                }
                .map_err(|e| tls_error("loading the client identity", e))?,
            ),
        };
        let system_bundles = match roots::taken() {
            Some(bundles) if !self.disable_system_roots => bundles,
            _ => &[],
        };
        for bundle in system_bundles {
            key.bytes(bundle.as_os_str().as_encoded_bytes());
        }
        let material = Material {
            roots,
            root_files,
            system_bundles,
            identity,
            disable_system_roots: self.disable_system_roots,
            min_version: self.min_version,
            accept_invalid_certs: self.accept_invalid_certs,
            accept_invalid_hostnames: self.accept_invalid_hostnames,
        };
        Ok((material, key.finish()))
    }
}

impl Material {
    /// Builds the connector. Verification of the certificate chain and of
    /// the host name stays on unless a `danger_` option turned it off.
    ///
    /// This is the expensive step: native-tls's OpenSSL backend loads the
    /// default CA file twice here (`SslConnector::builder` sets OpenSSL's
    /// default verify paths, then native-tls loads the file openssl-probe
    /// found), even when the system's roots are disabled, which only
    /// replaces the store afterwards. Hence built once and shared.
    fn build(&self) -> Result<TlsConnector, Error> {
        let mut b = TlsConnector::builder();
        b.min_protocol_version(Some(match self.min_version {
            Some(TlsVersion::Tls13) => Protocol::Tlsv13,
            Some(TlsVersion::Tls12) | None => Protocol::Tlsv12,
        }));
        b.disable_built_in_roots(self.disable_system_roots);
        b.use_sni(true);
        b.danger_accept_invalid_certs(self.accept_invalid_certs);
        b.danger_accept_invalid_hostnames(self.accept_invalid_hostnames);
        // As OpenSSL does with its default file: a bundle that cannot be
        // read adds nothing, and is no error.
        for bundle in self.system_bundles {
            let certs = std::fs::read(bundle)
                .ok()
                .and_then(|pem| Certificate::stack_from_pem(&pem).ok());
            for cert in certs.into_iter().flatten() {
                b.add_root_certificate(cert);
            }
        }
        for (what, bytes) in &self.root_files {
            for cert in certificates(bytes, what)? {
                b.add_root_certificate(cert);
            }
        }
        // Clones share OpenSSL's objects (reference counts).
        for cert in &self.roots {
            b.add_root_certificate(cert.clone());
        }
        if let Some(identity) = &self.identity {
            b.identity(identity.clone());
        }
        b.build().map_err(|e| tls_error("setting up TLS", e))
    }
}

/// The name to verify the server's certificate against (and send as SNI):
/// the configured TLS server name, else the host without IPv6 brackets.
pub(crate) fn server_name<'a>(options: &'a TlsOptions, host: &'a str) -> &'a str {
    match &options.server_name {
        Some(name) => name,
        None => host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host),
    }
}
