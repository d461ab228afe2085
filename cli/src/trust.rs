//! Where the roots come from, arranged so that the system's CA bundle is
//! parsed at most once per run, and never with `--ca-file`.
//!
//! native-tls's OpenSSL backend parses the default CA file twice when it
//! builds a connector (OpenSSL's default verify paths, then the file
//! openssl-probe found), even when the system's roots are disabled; both
//! follow `SSL_CERT_FILE`. A library must not change the environment (other
//! threads may read it; the host's other TLS users and its children see it);
//! a program may, for itself, before it starts a thread. So the tool points
//! `SSL_CERT_FILE` at an empty file (/dev/null), and, when the system's
//! roots are trusted, hands the library the bundle those two would have
//! read, once. The hashed certificate directories (`SSL_CERT_DIR`,
//! /etc/ssl/certs), which OpenSSL reads one certificate at a time when a
//! handshake needs it, stay as they were: the roots trusted are the same.
//! Programs the tool starts (`--password-cmd`) get the environment as it
//! was ([`restore`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const CERT_FILE: &str = "SSL_CERT_FILE";
const EMPTY: &str = "/dev/null";

/// `SSL_CERT_FILE` as it was before [`arrange`] changed it (None: unset).
static ORIGINAL: OnceLock<Option<OsString>> = OnceLock::new();

/// Arranges the roots: call before any thread starts. Returns the CA
/// bundles to trust explicitly: none with `--ca-file` (`own_roots`),
/// else the system's (usually one file).
pub fn arrange(own_roots: bool) -> Vec<PathBuf> {
    if ORIGINAL.get().is_some() {
        return Vec::new();
    }
    let original = std::env::var_os(CERT_FILE);
    let bundles = if own_roots {
        Vec::new()
    } else {
        system_bundles(original.as_deref().map(Path::new))
    };
    if !Path::new(EMPTY).exists() {
        // No empty file to point at: leave OpenSSL's defaults alone.
        return Vec::new();
    }
    let _ = ORIGINAL.set(original);
    // Single-threaded here (the caller's promise): nothing reads the
    // environment while it changes.
    std::env::set_var(CERT_FILE, EMPTY);
    bundles
}

/// Gives a child the `SSL_CERT_FILE` the tool was started with.
pub fn restore(cmd: &mut Command) {
    match ORIGINAL.get() {
        None => {}
        Some(None) => {
            cmd.env_remove(CERT_FILE);
        }
        Some(Some(value)) => {
            cmd.env(CERT_FILE, value);
        }
    }
}

/// The files native-tls would have loaded: OpenSSL's default file
/// (`SSL_CERT_FILE`, else `OPENSSLDIR/cert.pem`) and openssl-probe's, each
/// once (usually they are the same file, as on Debian).
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
