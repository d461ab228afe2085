//! The system's CA bundle parsed at most once per run, and never with
//! `--ca-file`: the tool, a program, lets the library take the system's
//! roots over ([`smtpc::take_over_system_roots`], which points
//! `SSL_CERT_FILE` at /dev/null for this process). Programs the tool
//! starts (`--password-cmd`) get the environment as it was ([`restore`]).

use std::ffi::OsString;
use std::process::Command;
use std::sync::OnceLock;

const CERT_FILE: &str = "SSL_CERT_FILE";

/// `SSL_CERT_FILE` as it was before (None: unset).
static ORIGINAL: OnceLock<Option<OsString>> = OnceLock::new();

/// Call before any thread starts.
pub fn arrange() {
    if ORIGINAL.get().is_some() {
        return;
    }
    let original = std::env::var_os(CERT_FILE);
    if smtpc::take_over_system_roots() {
        let _ = ORIGINAL.set(original);
    }
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
