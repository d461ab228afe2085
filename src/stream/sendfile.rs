//! Sending part of a file to a TCP socket with `sendfile(2)`: the bytes
//! go from the page cache to the socket without passing through this
//! process (Linux only).

use std::fs::File;
use std::io;
use std::net::TcpStream;

use nix::errno::Errno;
use nix::sys::sendfile::sendfile64;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};

/// Sends `len` bytes of `file` from `offset` with `sendfile(2)`, and
/// returns how many went (fewer if the file ended early). `before` runs
/// before each call (it sets the socket's send timeout, or says that the
/// time is up).
///
/// Unlike `send`, `sendfile` has no MSG_NOSIGNAL: writing to a
/// connection the server has closed raises SIGPIPE, which kills a host
/// program that has not ignored it. So SIGPIPE is blocked for this
/// thread during the calls, and one raised meanwhile, left pending by
/// the block, is taken back before the mask is restored. (A thread
/// that blocks SIGPIPE itself keeps whatever is pending.)
pub(crate) fn send(
    tcp: &TcpStream,
    file: &File,
    offset: u64,
    len: u64,
    before: &mut dyn FnMut(&TcpStream) -> io::Result<()>,
) -> io::Result<u64> {
    let pipe = SigSet::from(Signal::SIGPIPE);
    let old = pipe.thread_swap_mask(SigmaskHow::SIG_BLOCK)?;
    let result = send_all(tcp, file, offset, len, before);
    if matches!(&result, Err(e) if e.raw_os_error() == Some(Errno::EPIPE as i32))
        && !old.contains(Signal::SIGPIPE)
        && sigpipe_pending()
    {
        let _ = pipe.wait();
    }
    old.thread_set_mask()?;
    result
}

fn send_all(
    tcp: &TcpStream,
    file: &File,
    offset: u64,
    len: u64,
    before: &mut dyn FnMut(&TcpStream) -> io::Result<()>,
) -> io::Result<u64> {
    let mut sent = 0;
    while sent < len {
        before(tcp)?;
        let mut at = i64::try_from(offset + sent).map_err(|_| Errno::EOVERFLOW)?;
        // At most 1 GiB a call (the kernel's own cap is just under 2 GiB).
        let count = (len - sent).min(1 << 30) as usize;
        match sendfile64(tcp, file, Some(&mut at), count) {
            Ok(0) => break,
            Ok(n) => sent += n as u64,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(sent)
}

/// Whether a SIGPIPE is pending for this thread, from procfs; true
/// when that cannot be read, since EPIPE from a socket always raises
/// one. (Waiting for a signal that is not pending would never end.)
fn sigpipe_pending() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/thread-self/status") else {
        return true;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigPnd:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_none_or(|mask| mask & (1 << (Signal::SIGPIPE as i32 - 1)) != 0)
}
