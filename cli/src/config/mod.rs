//! The configuration file: where it is, what it may say, and which of its
//! accounts applies to a message.
//!
//! ```toml
//! [defaults]
//! server = "mail.example.org"
//! account = "home"              # when --account is not given and no `from` matches
//!
//! [account.home]
//! from = "me@example.org"       # an address: also the sender when none is given
//! user = "me@example.org"
//! password_cmd = "pass show mail/example.org"
//!
//! [account.work]
//! from = "*@work.example"       # a pattern: chosen for any sender it matches
//! server = "smtp.work.example:465"
//! tls = "implicit"
//! ```
//!
//! Values are checked when the file is read, so a mistake in any table
//! fails every run (exit 78) rather than the one that would have used it.

mod pattern;
mod table;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use smtpc::Mechanism;
use zeroize::Zeroize;

use crate::args::{ProtocolArg, TlsMode};
use crate::exit::Exit;

pub use pattern::{is_address, matches};
use table::{check, Document};

/// The variable that names the file; set but empty, no file is read.
pub const ENV: &str = "SMTPC_CONFIG";
/// The file for every user of the machine.
pub const SYSTEM_FILE: &str = "/etc/smtpc.toml";
/// Bigger than any configuration; a bound so that a wrong path (a device,
/// a log) is an error rather than a long read.
const MAX_SIZE: u64 = 1 << 20;

/// A configuration problem: one line for standard error, and its status.
#[derive(Debug)]
pub struct Problem {
    pub exit: Exit,
    pub message: String,
}

impl Problem {
    fn config(message: impl Into<String>) -> Problem {
        Problem {
            exit: Exit::Config,
            message: message.into(),
        }
    }
}

/// A password written in the file: never shown (`Debug` redacts it),
/// wiped when dropped.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a password comes from.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    /// `password` in the file.
    Inline(Secret),
    /// `password_cmd` (or `--password-cmd`): the first line of the
    /// command's output, asked for when AUTH needs it.
    Command(String),
    /// `password_file` (or `--password-file`): the file's first line.
    File(PathBuf),
    /// The environment variable `SMTPC_PASSWORD`.
    Env,
}

/// One table, checked. Every field is optional: a value missing here is
/// taken from `[defaults]`, then from the built-in default.
#[derive(Debug, Default, Clone)]
pub struct Layer {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub socket: Option<PathBuf>,
    pub protocol: Option<ProtocolArg>,
    pub tls: Option<TlsMode>,
    pub ca_file: Option<PathBuf>,
    pub helo: Option<String>,
    pub user: Option<String>,
    pub password: Option<PasswordSource>,
    pub auth: Option<Mechanism>,
    pub from: Option<String>,
    pub timeout: Option<Duration>,
    pub log: Option<PathBuf>,
}

impl Layer {
    /// This layer's values, and `base`'s where this one has none.
    fn over(&self, base: &Layer) -> Layer {
        // A server or a socket here replaces both of the base's.
        let here = self.host.is_some() || self.socket.is_some();
        let from = if here { self } else { base };
        Layer {
            host: from.host.clone(),
            port: self.port.or(base.port),
            socket: from.socket.clone(),
            protocol: self.protocol.or(base.protocol),
            tls: self.tls.or(base.tls),
            ca_file: self.ca_file.clone().or_else(|| base.ca_file.clone()),
            helo: self.helo.clone().or_else(|| base.helo.clone()),
            user: self.user.clone().or_else(|| base.user.clone()),
            password: self.password.clone().or_else(|| base.password.clone()),
            auth: self.auth.or(base.auth),
            from: self.from.clone().or_else(|| base.from.clone()),
            timeout: self.timeout.or(base.timeout),
            log: self.log.clone().or_else(|| base.log.clone()),
        }
    }
}

/// A configuration file, read and checked.
#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    defaults: Layer,
    default_account: Option<String>,
    accounts: Vec<(String, Layer)>,
}

/// The settings the file gives for one message.
#[derive(Debug, Default)]
pub struct Chosen {
    /// The file they come from, if any.
    pub path: Option<PathBuf>,
    /// The account, if one applies (else `[defaults]` alone).
    pub account: Option<String>,
    /// Why that account: for `--print-config`.
    pub why: &'static str,
    /// The account's values over `[defaults]`.
    pub layer: Layer,
}

/// The file to read: `$SMTPC_CONFIG` (which must exist; empty for none),
/// else `$XDG_CONFIG_HOME/smtpc/config.toml` (`~/.config/...` when unset),
/// else `/etc/smtpc.toml`, the first that exists.
pub fn locate() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(ENV) {
        return (!path.is_empty()).then(|| PathBuf::from(path));
    }
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home().map(|h| h.join(".config")));
    let user_file = config_home.map(|dir| dir.join("smtpc").join("config.toml"));
    user_file
        .into_iter()
        .chain([PathBuf::from(SYSTEM_FILE)])
        .find(|p| p.exists())
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// As ssh does: a file that another user can change could name any
/// `password_cmd` (or server), which would run as whoever reads the file.
/// It must belong to the reader or to root, and be writable by its owner
/// alone.
fn trusted(meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode();
    if mode & 0o022 != 0 {
        return Err(format!(
            "can be changed by other users (mode {:03o}): chmod go-w it",
            mode & 0o777
        ));
    }
    // The process's user owns its /proc/self.
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if me.is_some_and(|me| meta.uid() != me && meta.uid() != 0) && meta.is_file() {
        return Err(format!(
            "belongs to another user (uid {}): it must be yours or root's",
            meta.uid()
        ));
    }
    Ok(())
}

/// Reads the file that `locate` names, if any.
pub fn load() -> Result<Option<Config>, Problem> {
    match locate() {
        Some(path) => Config::read(&path).map(Some),
        None => Ok(None),
    }
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<Config, Problem> {
        let shown = path.display();
        let cannot = |why: &dyn fmt::Display| Problem {
            exit: Exit::NoInput,
            message: format!("cannot read the configuration file {shown}: {why}"),
        };
        let file = File::open(path).map_err(|e| cannot(&e))?;
        // The mode of the file that was opened, not of whatever the path
        // names a moment later.
        let meta = file.metadata().map_err(|e| cannot(&e))?;
        if meta.is_dir() {
            return Err(cannot(&"it is a directory"));
        }
        trusted(&meta).map_err(|why| Problem::config(format!("{shown} {why}")))?;
        let mut text = String::new();
        file.take(MAX_SIZE + 1)
            .read_to_string(&mut text)
            .map_err(|e| cannot(&e))?;
        if text.len() as u64 > MAX_SIZE {
            return Err(cannot(&"it is larger than 1 MiB"));
        }
        let doc: Document = toml::from_str(&text).map_err(|e| {
            let at = e
                .span()
                .map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!(":{line}:{column}")
                })
                .unwrap_or_default();
            Problem::config(format!("{shown}{at}: {}", e.message().trim_end()))
        })?;

        let holds_password = doc.defaults.password.is_some()
            || doc.account.0.iter().any(|(_, t)| t.password.is_some());
        let mode = meta.permissions().mode();
        if holds_password && mode & 0o077 != 0 {
            return Err(Problem::config(format!(
                "{shown} holds a password and other users may read it (mode {:03o}): \
                 chmod 600 it, or use password_cmd or password_file",
                mode & 0o777
            )));
        }

        let dir = path.parent().unwrap_or(Path::new("."));
        let prefixed = |p: Problem| Problem::config(format!("{shown}: {}", p.message));
        let defaults = check(&doc.defaults, "[defaults]", dir).map_err(prefixed)?;
        let mut accounts = Vec::new();
        for (name, table) in &doc.account.0 {
            let label = format!("[account.{name}]");
            if table.account.is_some() {
                return Err(Problem::config(format!(
                    "{shown}: {label}: `account` belongs in [defaults]"
                )));
            }
            let layer = check(table, &label, dir).map_err(prefixed)?;
            accounts.push((name.clone(), layer));
        }
        let default_account = doc.defaults.account.clone();
        if let Some(name) = &default_account {
            if !accounts.iter().any(|(n, _)| n == name) {
                return Err(Problem::config(format!(
                    "{shown}: [defaults]: account {name:?} is not defined"
                )));
            }
        }
        Ok(Config {
            path: path.to_owned(),
            defaults,
            default_account,
            accounts,
        })
    }

    /// The settings for a message: the account named, else the first whose
    /// `from` matches `sender`, else `[defaults]`'s `account`, else
    /// `[defaults]` alone.
    pub fn choose(&self, name: Option<&str>, sender: Option<&str>) -> Result<Chosen, Problem> {
        let found = if let Some(name) = name {
            match self.accounts.iter().find(|(n, _)| n == name) {
                Some(found) => Some((found, "--account")),
                None => {
                    return Err(Problem {
                        exit: Exit::Usage,
                        message: format!(
                            "no account {name:?} in {}{}",
                            self.path.display(),
                            self.names()
                        ),
                    })
                }
            }
        } else {
            let matched = sender.and_then(|sender| {
                self.accounts.iter().find(|(_, layer)| {
                    layer
                        .from
                        .as_deref()
                        .is_some_and(|pattern| matches(pattern, sender))
                })
            });
            match (matched, &self.default_account) {
                (Some(found), _) => Some((found, "its from matches the sender")),
                (None, Some(default)) => self
                    .accounts
                    .iter()
                    .find(|(n, _)| n == default)
                    .map(|found| (found, "the default account")),
                (None, None) => None,
            }
        };
        Ok(match found {
            Some(((name, layer), why)) => Chosen {
                path: Some(self.path.clone()),
                account: Some(name.clone()),
                why,
                layer: layer.over(&self.defaults),
            },
            None => Chosen {
                path: Some(self.path.clone()),
                account: None,
                why: "no account applies",
                layer: self.defaults.clone(),
            },
        })
    }

    /// ": the accounts are a, b" for an error message.
    fn names(&self) -> String {
        if self.accounts.is_empty() {
            return " (it defines no account)".into();
        }
        let names: Vec<&str> = self.accounts.iter().map(|(n, _)| n.as_str()).collect();
        format!(" (its accounts: {})", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str, mode: u32) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("smtpc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    const FILE: &str = r#"
[defaults]
server = "mail.example.org"
port = 2525
timeout = 30
account = "home"

[account.work]
from = "*@work.example"
server = "smtp.work.example:465"
tls = "implicit"
user = "anne"
password_file = "work.pass"

[account.home]
from = "me@example.org"
user = "me@example.org"
password_cmd = "echo x"
auth = "plain"
"#;

    #[test]
    fn accounts_are_chosen_by_name_sender_and_default() {
        let path = write("accounts.toml", FILE, 0o644);
        let config = Config::read(&path).unwrap();
        let by_name = config.choose(Some("work"), Some("me@example.org")).unwrap();
        assert_eq!(by_name.account.as_deref(), Some("work"));
        assert_eq!(by_name.layer.host.as_deref(), Some("smtp.work.example"));
        assert_eq!(by_name.layer.port, Some(465));
        assert_eq!(by_name.layer.tls, Some(TlsMode::Implicit));
        assert_eq!(by_name.layer.timeout, Some(Duration::from_secs(30)));
        match &by_name.layer.password {
            Some(PasswordSource::File(p)) => assert_eq!(p, &path.with_file_name("work.pass")),
            other => panic!("{other:?}"),
        }

        let by_sender = config.choose(None, Some("Anne@Work.Example")).unwrap();
        assert_eq!(by_sender.account.as_deref(), Some("work"));
        let home = config.choose(None, Some("me@example.org")).unwrap();
        assert_eq!(home.account.as_deref(), Some("home"));
        assert_eq!(home.layer.host.as_deref(), Some("mail.example.org"));
        assert_eq!(home.layer.port, Some(2525));
        assert_eq!(home.layer.auth, Some(Mechanism::Plain));
        let fallback = config.choose(None, Some("other@else.example")).unwrap();
        assert_eq!(fallback.why, "the default account");
        assert_eq!(fallback.account.as_deref(), Some("home"));
        let none = config.choose(None, None).unwrap();
        assert_eq!(none.account.as_deref(), Some("home"));

        let missing = config.choose(Some("play"), None).unwrap_err();
        assert_eq!(missing.exit, Exit::Usage);
        assert!(missing.message.contains("its accounts: work, home"));
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        let cases = [
            ("[defaults]\nsever = \"x\"\n", ":2:1: unknown field `sever`"),
            (
                "[defaults]\ntls = \"always\"\n",
                "[defaults]: tls: \"always\"",
            ),
            ("[account.a]\nport = \"25\"\n", ":2:8:"),
            (
                "[account.a]\nauth = \"GSSAPI\"\n",
                "[account.a]: auth: unknown",
            ),
            ("[account.a]\naccount = \"b\"\n", "belongs in [defaults]"),
            (
                "[defaults]\naccount = \"b\"\n",
                "account \"b\" is not defined",
            ),
            (
                "[defaults]\npassword_cmd = \"x\"\npassword_file = \"y\"\n",
                "give one of",
            ),
            ("[defaults]\ntimeout = 0\n", "timeout: the timeout must be"),
            ("[defaults]\nserver = \"a:b:c\"\n", "server: write an IPv6"),
            ("[defaults\n", ":1:"),
        ];
        for (text, expected) in cases {
            let path = write("bad.toml", text, 0o600);
            let problem = Config::read(&path).unwrap_err();
            assert_eq!(problem.exit, Exit::Config, "{text}");
            assert!(
                problem.message.contains(expected),
                "{text:?}: {}",
                problem.message
            );
            assert!(!problem.message.contains('\n'), "{}", problem.message);
        }
    }

    #[test]
    fn a_password_in_a_file_others_can_read_is_refused() {
        let text = "[account.a]\nuser = \"u\"\npassword = \"s3cret\"\n";
        for mode in [0o644, 0o640, 0o604, 0o444] {
            let path = write("open.toml", text, mode);
            let problem = Config::read(&path).unwrap_err();
            assert_eq!(problem.exit, Exit::Config);
            assert!(problem.message.contains("chmod 600"), "{}", problem.message);
            assert!(!problem.message.contains("s3cret"));
        }
        for mode in [0o600, 0o400] {
            let path = write("closed.toml", text, mode);
            assert!(Config::read(&path).is_ok(), "{mode:o}");
        }
        let path = write("closed.toml", text, 0o600);
        let config = Config::read(&path).unwrap();
        let chosen = config.choose(Some("a"), None).unwrap();
        assert!(!format!("{chosen:?}").contains("s3cret"));
        // Writable by others: refused whatever it holds.
        for mode in [0o646, 0o664, 0o666] {
            let path = write("writable.toml", "[defaults]\nserver = \"x\"\n", mode);
            let problem = Config::read(&path).unwrap_err();
            assert_eq!(problem.exit, Exit::Config);
            assert!(
                problem.message.contains("chmod go-w"),
                "{}",
                problem.message
            );
        }
        // Without a password, any mode will do.
        let path = write("public.toml", "[defaults]\nserver = \"x\"\n", 0o644);
        assert!(Config::read(&path).is_ok());
    }
}
