//! The settings for one run: the command line over the configuration
//! file's account, over its `[defaults]`, over the built-in defaults.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use smtpc::{Client, Mechanism, Protocol, Proxy};

use crate::args::{Args, ProtocolArg, TlsMode};
use crate::config::{self, Chosen, PasswordSource, Problem};
use crate::exit::Exit;

/// Where the password for `--user` comes from when nothing else names one.
pub const PASSWORD_VAR: &str = "SMTPC_PASSWORD";
const DEFAULT_HOST: &str = "localhost";

/// Everything a run needs to know, merged.
#[derive(Debug)]
pub struct Settings {
    /// The configuration file read, if any.
    pub config: Option<PathBuf>,
    /// The account of that file in use, if any, and why.
    pub account: Option<String>,
    pub why: &'static str,
    pub host: String,
    /// `None`: the TLS mode's port (LMTP's, 24, with LMTP).
    pub port: Option<u16>,
    /// A UNIX socket instead of `host:port`.
    pub socket: Option<PathBuf>,
    pub protocol: ProtocolArg,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub helo: Option<String>,
    /// `None`: the library's per-phase timeouts.
    pub timeout: Option<Duration>,
    /// `None`: the smaller of `timeout` and the library's default.
    pub connect_timeout: Option<Duration>,
    /// The most time for the whole run.
    pub deadline: Option<Duration>,
    pub source_ip: Option<IpAddr>,
    pub proxy: Option<Proxy>,
    pub user: Option<String>,
    pub password: Option<PasswordSource>,
    pub auth: Option<Mechanism>,
    pub allow_insecure_auth: bool,
    /// The envelope sender: the one given, else the file's `from` when it
    /// is an address rather than a pattern.
    pub from: Option<String>,
    pub log: Option<PathBuf>,
    pub trace: bool,
}

impl Settings {
    /// Merges the command line and the file. `sender` is the envelope
    /// sender the command line or the message gave, if any.
    pub fn new(args: &Args, sender: Option<&str>, chosen: Chosen) -> Result<Settings, Problem> {
        let file = chosen.layer;
        let (host, port) = match &args.server {
            // --server replaces the file's server and port together.
            Some(server) => (server.host.clone(), server.port),
            None => (
                file.host.unwrap_or_else(|| DEFAULT_HOST.to_owned()),
                file.port,
            ),
        };
        // --server replaces the file's socket, and --socket its server.
        let socket = match &args.server {
            Some(_) => None,
            None => args.socket.clone().or(file.socket.clone()),
        };
        let user = args.user.clone().or(file.user);
        let password = if let Some(path) = &args.password_file {
            Some(PasswordSource::File(path.clone()))
        } else if let Some(command) = &args.password_cmd {
            Some(PasswordSource::Command(command.clone()))
        } else if std::env::var_os(PASSWORD_VAR).is_some() {
            Some(PasswordSource::Env)
        } else {
            file.password
        };
        let usage = |message: &str| Problem {
            exit: Exit::Usage,
            message: message.to_owned(),
        };
        if user.is_none() && args.password_file.is_some() {
            return Err(usage(
                "--password-file needs --user (or user in the configuration file)",
            ));
        }
        if user.is_none() && args.password_cmd.is_some() {
            return Err(usage(
                "--password-cmd needs --user (or user in the configuration file)",
            ));
        }
        if user.is_none() && args.auth.is_some() {
            return Err(usage(
                "--auth needs --user (or user in the configuration file)",
            ));
        }
        let from = sender.map(str::to_owned).or_else(|| {
            file.from
                .filter(|f| config::is_address(f))
                .map(|f| f.to_owned())
        });
        Ok(Settings {
            config: chosen.path,
            account: chosen.account,
            why: chosen.why,
            host,
            port,
            protocol: args.protocol.or(file.protocol).unwrap_or(ProtocolArg::Smtp),
            // A UNIX socket is local: no TLS unless asked for.
            tls: args.tls.or(file.tls).unwrap_or(match socket {
                Some(_) => TlsMode::None,
                None => TlsMode::Starttls,
            }),
            socket,
            ca_file: args.ca_file.clone().or(file.ca_file),
            helo: args.helo.clone().or(file.helo),
            timeout: args.timeout.or(file.timeout),
            connect_timeout: args.connect_timeout,
            deadline: args.deadline,
            source_ip: args.source_ip,
            proxy: args.proxy.clone(),
            user,
            password,
            auth: args.auth.or(file.auth),
            allow_insecure_auth: args.allow_insecure_auth,
            from,
            log: file.log,
            trace: args.trace,
        })
    }

    /// The port in use: the one given, else the TLS mode's.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| {
            Client::builder(self.host.as_str())
                .tls(self.tls.into())
                .protocol(self.protocol.into())
                .config()
                .port()
        })
    }

    /// `host:port` (or `unix:PATH`), as a log shows it.
    pub fn server(&self) -> String {
        match &self.socket {
            Some(path) => format!("unix:{}", path.display()),
            None => format!("{}:{}", self.host, self.port()),
        }
    }

    /// The protocol spoken.
    pub fn protocol(&self) -> Protocol {
        self.protocol.into()
    }

    /// The settings as a configuration file would say them, for
    /// `--print-config`: the password is never shown, only where it
    /// comes from.
    pub fn describe(&self) -> String {
        let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let path = |p: &PathBuf| quote(&p.display().to_string());
        let mut out = String::new();
        match &self.config {
            Some(p) => writeln!(out, "# configuration file: {}", p.display()),
            None => writeln!(out, "# no configuration file"),
        }
        .ok();
        match &self.account {
            Some(name) => writeln!(out, "# account: {name} ({})", self.why),
            None => writeln!(out, "# account: none ({})", self.why),
        }
        .ok();
        let mut line = |key: &str, value: String| {
            let _ = writeln!(out, "{key} = {value}");
        };
        match &self.socket {
            Some(p) => line("socket", path(p)),
            None => {
                line("server", quote(&self.host));
                line("port", self.port().to_string());
            }
        }
        if self.protocol != ProtocolArg::Smtp {
            line("protocol", quote(self.protocol().name()));
        }
        let tls = format!("{:?}", self.tls).to_lowercase();
        line("tls", quote(&tls));
        if let Some(p) = &self.ca_file {
            line("ca_file", path(p));
        }
        if let Some(h) = &self.helo {
            line("helo", quote(h));
        }
        if let Some(t) = self.timeout {
            line("timeout", format!("{}", t.as_secs_f64()));
        }
        if let Some(u) = &self.user {
            line("user", quote(u));
        }
        match &self.password {
            Some(PasswordSource::Inline(_)) => line("password", quote("<redacted>")),
            Some(PasswordSource::Command(cmd)) => line("password_cmd", quote(cmd)),
            Some(PasswordSource::File(p)) => line("password_file", path(p)),
            Some(PasswordSource::Env) => line(
                "password",
                quote(&format!("<redacted: from {PASSWORD_VAR}>")),
            ),
            None => {}
        }
        if let Some(m) = self.auth {
            line("auth", quote(m.name()));
        }
        if let Some(f) = &self.from {
            line("from", quote(f));
        }
        if let Some(p) = &self.log {
            line("log", path(p));
        }
        out
    }
}
