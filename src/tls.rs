//! TLS: the modes a session can use and the options of the TLS connector
//! (native-tls). The handshake itself runs in [`crate::stream`], where the
//! socket and its deadlines live.

use std::fmt;
use std::path::PathBuf;

use native_tls::{Certificate, Identity, Protocol, TlsConnector};

use crate::error::Error;

/// How the connection is protected.
///
/// ```
/// use smtpc::Tls;
/// assert_eq!(Tls::default(), Tls::StartTls);
/// assert_eq!(Tls::Implicit.default_port(), 465);
/// ```
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

/// The options that shape the TLS connector.
#[derive(Clone, Default)]
pub(crate) struct TlsOptions {
    pub roots: Vec<CertSource>,
    pub disable_system_roots: bool,
    pub identity: Option<IdentitySource>,
    pub min_version: Option<TlsVersion>,
    pub server_name: Option<String>,
    pub accept_invalid_certs: bool,
    pub accept_invalid_hostnames: bool,
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

impl TlsOptions {
    /// Builds the connector. Verification of the certificate chain and of
    /// the host name stays on unless a `danger_` option turned it off.
    pub fn connector(&self) -> Result<TlsConnector, Error> {
        let mut b = TlsConnector::builder();
        b.min_protocol_version(Some(match self.min_version {
            Some(TlsVersion::Tls13) => Protocol::Tlsv13,
            Some(TlsVersion::Tls12) | None => Protocol::Tlsv12,
        }));
        b.disable_built_in_roots(self.disable_system_roots);
        b.use_sni(true);
        b.danger_accept_invalid_certs(self.accept_invalid_certs);
        b.danger_accept_invalid_hostnames(self.accept_invalid_hostnames);
        for source in &self.roots {
            let certs = match source {
                CertSource::Bytes(bytes) => certificates(bytes, "root certificate")?,
                CertSource::File(path) => {
                    let what = format!("root certificates from {}", path.display());
                    certificates(&read_file(path, "root certificates")?, &what)?
                }
            };
            for cert in certs {
                b.add_root_certificate(cert);
            }
        }
        if let Some(identity) = &self.identity {
            let identity = match identity {
                IdentitySource::Pkcs12 { der, password } => Identity::from_pkcs12(der, password),
                IdentitySource::Pem { chain, key } => Identity::from_pkcs8(chain, key),
            }
            .map_err(|e| tls_error("loading the client identity", e))?;
            b.identity(identity);
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
