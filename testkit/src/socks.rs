//! SOCKS5 proxies for the tests: a private Dante (`servers/danted.sh`),
//! and a scripted one that shows what the client asked for and answers
//! as told. And a private view of the host's name resolution
//! (`/etc/hosts`, `/etc/nsswitch.conf`) for a child process, so that
//! `localhost` can be both `::1` and `127.0.0.1` and an unknown name is
//! answered without a DNS query.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::real::{available, free_port, in_ci, is_root, scratch_dir};
use crate::script::LIFETIME;

/// The user name and password danted's `username` mode takes.
pub const SOCKS_USER: &str = "socksuser";
pub const SOCKS_PASSWORD: &str = "sockspass";

/// A private danted on 127.0.0.1 and ::1 (`port`) that lets CONNECT go
/// to 127.0.0.1 and ::1 only (reply 2 for anything else). Stops when
/// dropped, and by itself after 5 minutes.
pub struct Danted {
    pub port: u16,
    dir: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("servers/danted.sh")
}

impl Danted {
    /// `mode`: "none" (no authentication), "username" (RFC 1929 only:
    /// [`SOCKS_USER`], [`SOCKS_PASSWORD`]) or "both".
    pub fn start(mode: &str) -> Option<Danted> {
        if !available("danted (dante-server)", "/usr/sbin/danted") {
            return None;
        }
        if !is_root() {
            assert!(!in_ci(), "the danted tests need root");
            eprintln!("SKIPPED: danted's private user database needs root");
            return None;
        }
        let dir = scratch_dir("danted");
        let port = free_port();
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&dir)
            .args([&port.to_string(), mode, "300"])
            .output()
            .expect("run danted.sh");
        assert!(
            out.status.success(),
            "danted.sh start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Danted { port, dir })
    }

    /// `socks5://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("socks5://127.0.0.1:{}", self.port)
    }

    /// danted's log: one line per connection passed or blocked.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("danted.log")).unwrap_or_default()
    }
}

impl Drop for Danted {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A scripted SOCKS5 proxy for one connection, without authentication:
/// it answers the method selection, keeps the CONNECT request, answers
/// it with `reply` (0 is success) and then, on success, relays both ways
/// to `relay_to` whatever name or address was asked for.
pub struct ScriptedSocks {
    pub port: u16,
    handle: JoinHandle<Vec<u8>>,
}

impl ScriptedSocks {
    pub fn start(reply: u8, relay_to: Option<SocketAddr>) -> ScriptedSocks {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let handle = thread::spawn(move || {
            listener.set_nonblocking(true).unwrap();
            let deadline = std::time::Instant::now() + LIFETIME;
            let client = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(_) if std::time::Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => return Vec::new(),
                }
            };
            serve(client, reply, relay_to).unwrap_or_default()
        });
        ScriptedSocks { port, handle }
    }

    /// The CONNECT request the client sent (after the script ended).
    pub fn request(self) -> Vec<u8> {
        self.handle.join().expect("proxy thread")
    }
}

fn serve(mut client: TcpStream, reply: u8, relay_to: Option<SocketAddr>) -> io::Result<Vec<u8>> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(LIFETIME))?;
    let mut head = [0u8; 2];
    client.read_exact(&mut head)?;
    let mut methods = vec![0u8; head[1] as usize];
    client.read_exact(&mut methods)?;
    client.write_all(&[5, 0])?;
    let mut request = vec![0u8; 4];
    client.read_exact(&mut request)?;
    let rest = match request[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        _ => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            request.push(len[0]);
            len[0] as usize + 2
        }
    };
    let mut tail = vec![0u8; rest];
    client.read_exact(&mut tail)?;
    request.extend_from_slice(&tail);
    client.write_all(&[5, reply, 0, 1, 127, 0, 0, 1, 0, 0])?;
    if reply != 0 {
        return Ok(request);
    }
    if let Some(to) = relay_to {
        let server = TcpStream::connect(to)?;
        server.set_read_timeout(Some(LIFETIME))?;
        let (c2, s2) = (client.try_clone()?, server.try_clone()?);
        let up = thread::spawn(move || pipe(c2, s2));
        pipe(server, client);
        let _ = up.join();
    }
    Ok(request)
}

/// Copies `from` to `to` until either side closes (or LIFETIME passes).
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16384];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// `program args...` run with a name resolution of its own: `/etc/hosts`
/// replaced by `hosts` (lines such as "::1 localhost") and
/// `/etc/nsswitch.conf` by one that asks the hosts file only, so that no
/// name leaves the machine for DNS. A mount namespace of the child's
/// own (`unshare -m`); None, with a skip message, where that needs root
/// and the tests do not have it (a failure under CI).
pub fn with_hosts(hosts: &str, program: &Path, args: &[&str]) -> Option<Command> {
    if !is_root() || !Path::new("/usr/bin/unshare").exists() {
        assert!(!in_ci(), "private name resolution needs root and unshare");
        eprintln!("SKIPPED: a private /etc/hosts needs root and unshare");
        return None;
    }
    let dir = scratch_dir("hosts");
    std::fs::write(dir.join("hosts"), hosts).unwrap();
    std::fs::write(dir.join("nsswitch.conf"), "hosts: files\n").unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount --bind \"$0/hosts\" /etc/hosts && \
             mount --bind \"$0/nsswitch.conf\" /etc/nsswitch.conf && exec \"$@\"",
        )
        .arg(&dir)
        .arg(program)
        .args(args);
    Some(cmd)
}

/// A listener on `[::1]:port` (0: any) whose accept queue is full, so
/// that the kernel drops every new SYN to it: connecting there hangs (a
/// black hole). Keep both values alive. None where `::1` is not
/// available.
pub fn ipv6_black_hole(port: u16) -> Option<(TcpListener, TcpStream)> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV6, Type::STREAM, None).ok()?;
    socket.set_only_v6(true).ok()?;
    let at: SocketAddr = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
    socket.bind(&at.into()).ok()?;
    // Backlog 0 holds one connection, which is never accepted.
    socket.listen(0).ok()?;
    let listener = TcpListener::from(socket);
    let filler = TcpStream::connect(listener.local_addr().ok()?).ok()?;
    Some((listener, filler))
}
