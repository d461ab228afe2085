//! What the file may say: its tables as written, and the checks that
//! turn each into a `Layer`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{home, Layer, PasswordSource, Problem, Secret};
use crate::args::{self, ProtocolArg, TlsMode};

/// One table as written: `[defaults]` or `[account.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Table {
    pub(super) server: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) socket: Option<PathBuf>,
    pub(super) protocol: Option<String>,
    pub(super) tls: Option<String>,
    pub(super) ca_file: Option<PathBuf>,
    pub(super) helo: Option<String>,
    pub(super) user: Option<String>,
    pub(super) password: Option<Secret>,
    pub(super) password_cmd: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) auth: Option<String>,
    pub(super) from: Option<String>,
    pub(super) timeout: Option<f64>,
    pub(super) log: Option<PathBuf>,
    /// `[defaults]` only: the account used when nothing else picks one.
    pub(super) account: Option<String>,
}

/// The accounts in the order they are written (`from` patterns are tried
/// in that order).
#[derive(Debug, Default)]
pub(super) struct Accounts(pub(super) Vec<(String, Table)>);

impl<'de> Deserialize<'de> for Accounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct InOrder;
        impl<'de> Visitor<'de> for InOrder {
            type Value = Accounts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("tables [account.NAME]")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Accounts, M::Error> {
                let mut list = Vec::new();
                while let Some(entry) = map.next_entry::<String, Table>()? {
                    list.push(entry);
                }
                Ok(Accounts(list))
            }
        }
        d.deserialize_map(InOrder)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Document {
    #[serde(default)]
    pub(super) defaults: Table,
    #[serde(default)]
    pub(super) account: Accounts,
}

/// Checks one table's values with the command line's own parsers, so that
/// the file accepts exactly what the options do.
pub(super) fn check(t: &Table, label: &str, dir: &Path) -> Result<Layer, Problem> {
    let bad = |key: &str, why: String| Problem::config(format!("{label}: {key}: {why}"));
    let (host, mut port) = match &t.server {
        Some(text) => {
            let server = args::parse_server(text).map_err(|e| bad("server", e))?;
            (Some(server.host), server.port)
        }
        None => (None, None),
    };
    if let Some(p) = t.port {
        if p == 0 {
            return Err(bad("port", "0 is not a port number".into()));
        }
        port = Some(p);
    }
    let tls = match &t.tls {
        Some(mode) => Some(
            <TlsMode as clap::ValueEnum>::from_str(mode, true).map_err(|_| {
                bad(
                    "tls",
                    format!("{mode:?} is not one of none, starttls, opportunistic, implicit"),
                )
            })?,
        ),
        None => None,
    };
    let protocol = match &t.protocol {
        Some(name) => Some(
            <ProtocolArg as clap::ValueEnum>::from_str(name, true)
                .map_err(|_| bad("protocol", format!("{name:?} is not one of smtp, lmtp")))?,
        ),
        None => None,
    };
    if t.socket.is_some() && t.server.is_some() {
        return Err(bad("socket", "give one of server and socket".into()));
    }
    let auth = match &t.auth {
        Some(name) => Some(args::parse_mechanism(name).map_err(|e| bad("auth", e))?),
        None => None,
    };
    let timeout = match t.timeout {
        Some(secs) => Some(args::parse_timeout(&secs.to_string()).map_err(|e| bad("timeout", e))?),
        None => None,
    };
    let sources = [
        t.password.is_some(),
        t.password_cmd.is_some(),
        t.password_file.is_some(),
    ];
    if sources.iter().filter(|&&s| s).count() > 1 {
        return Err(bad(
            "password",
            "give one of password, password_cmd and password_file".into(),
        ));
    }
    let password = if let Some(secret) = &t.password {
        Some(PasswordSource::Inline(secret.clone()))
    } else if let Some(cmd) = &t.password_cmd {
        Some(PasswordSource::Command(cmd.clone()))
    } else {
        t.password_file
            .as_ref()
            .map(|p| PasswordSource::File(resolve(p, dir)))
    };
    for (key, value) in [("helo", &t.helo), ("user", &t.user), ("from", &t.from)] {
        if value
            .as_deref()
            .is_some_and(|v| v.chars().any(char::is_control))
        {
            return Err(bad(key, "contains a control character".into()));
        }
    }
    Ok(Layer {
        host,
        port,
        socket: t.socket.as_ref().map(|p| resolve(p, dir)),
        protocol,
        tls,
        ca_file: t.ca_file.as_ref().map(|p| resolve(p, dir)),
        helo: t.helo.clone(),
        user: t.user.clone(),
        password,
        auth,
        from: t.from.clone(),
        timeout,
        log: t.log.as_ref().map(|p| resolve(p, dir)),
    })
}

/// A path from the file: `~/` is the home directory, and a relative path
/// is relative to the file's directory (not to wherever cron started).
fn resolve(path: &Path, dir: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~") {
        if let Some(home) = home() {
            return home.join(rest);
        }
    }
    if path.is_relative() {
        dir.join(path)
    } else {
        path.to_owned()
    }
}
