//! The system's CA bundle, loaded by smtpc once per connector instead of
//! by native-tls twice, and not at all when the system's roots are off:
//! an opt-in for programs, because it changes the process's environment.
//!
//! native-tls's OpenSSL backend parses the default CA file twice whenever
//! it builds a connector: `SslConnector::builder` sets OpenSSL's default
//! verify paths (the file `SSL_CERT_FILE`, else `OPENSSLDIR/cert.pem`, is
//! parsed there and then), and native-tls then loads the file openssl-probe
//! found (`SSL_CERT_FILE` again, else the first of a list of known places).
//! `disable_built_in_roots` only replaces the store afterwards. Neither
//! offers a switch; both read `SSL_CERT_FILE`. A library must not set it on
//! its own: another thread may read the environment meanwhile (setenv
//! against getenv is undefined behaviour in glibc, which is why Rust 2024
//! makes `set_var` unsafe), and the host's other TLS users and its children
//! would see it. A program may, before it starts threads:
//! [`take_over_system_roots`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const CERT_FILE: &str = "SSL_CERT_FILE";
const EMPTY: &str = "/dev/null";

/// The bundles OpenSSL and openssl-probe would have read, once taken over.
static TAKEN: OnceLock<Vec<PathBuf>> = OnceLock::new();

/// Makes building a TLS connector cheap: points `SSL_CERT_FILE` at an
/// empty file (/dev/null) for this process, so that native-tls and OpenSSL
/// parse no CA file when a connector is built, and has smtpc load the
/// system's bundle itself, once per connector, while connecting, and
/// only when the system's roots are trusted. The roots trusted stay the
/// same: the bundle OpenSSL would have read (`SSL_CERT_FILE` as it was, else
/// `OPENSSLDIR/cert.pem`) and the one openssl-probe would have (usually the
/// same file, read once), and the hashed certificate directories
/// (`SSL_CERT_DIR`, /etc/ssl/certs), which OpenSSL reads one certificate at a
/// time when a handshake needs it.
///
/// **Call it first thing in `main`, before any thread starts** (like
/// `curl_global_init`): it changes the environment, which other threads
/// may be reading. Programs this process starts inherit `SSL_CERT_FILE`;
/// give them the value it had ([`std::env::var_os`] before the call) if
/// they use TLS. Calling it again does nothing. Returns whether the system's
/// roots are now loaded by smtpc (false where there is no /dev/null).
///
/// Without it, a connector's build parses the system's bundle twice even
/// when the system's roots are off; smtpc builds one connector per set of
/// options per process (and again after a day), so a long-running program
/// pays it once.
pub fn take_over_system_roots() -> bool {
    if TAKEN.get().is_some() {
        return true;
    }
    if !Path::new(EMPTY).exists() {
        return false;
    }
    let original = std::env::var_os(CERT_FILE);
    let bundles = system_bundles(original.as_deref().map(Path::new));
    if TAKEN.set(bundles).is_ok() {
        // The caller's promise: no other thread reads the environment now.
        std::env::set_var(CERT_FILE, EMPTY);
    }
    true
}

/// The system's bundles smtpc loads itself, when it took them over.
pub(crate) fn taken() -> Option<&'static [PathBuf]> {
    TAKEN.get().map(Vec::as_slice)
}

/// The files native-tls would have loaded, each once.
fn system_bundles(env_file: Option<&Path>) -> Vec<PathBuf> {
    let openssl_default = match env_file {
        Some(file) => file.to_path_buf(),
        None => openssl_dir().join("cert.pem"),
    };
    let probed = openssl_probe::probe().cert_file;
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut files = Vec::new();
    for file in std::iter::once(openssl_default).chain(probed) {
        let Ok(real) = std::fs::canonicalize(&file) else {
            continue;
        };
        if real.is_file() && !seen.contains(&real) {
            seen.push(real);
            files.push(file);
        }
    }
    files
}

/// OPENSSLDIR, from OpenSSL's own answer (`OPENSSLDIR: "/usr/lib/ssl"`).
fn openssl_dir() -> PathBuf {
    let dir = openssl::version::dir();
    let dir = dir.strip_prefix("OPENSSLDIR: ").unwrap_or(dir);
    PathBuf::from(dir.trim_matches('"'))
}
