//! Calls into a handle from inside its own callbacks, and a read
//! callback that fails, over an in-memory server (no sockets, so that these run under miri too:
//! `cargo +nightly miri test --lib ffi::tests_reentry`). The same from C,
//! under valgrind and ASan: tests/it/c_reentry.rs.

use std::ffi::{c_char, c_void, CStr};
use std::io::{self, Read, Write};
use std::ptr::null_mut;
use std::sync::{Arc, Mutex};

use super::accessors::*;
use super::actions::*;
use super::callbacks::smtpc_direction;
use super::handle::*;
use super::options::*;
use super::result::smtpc_result::*;
use super::result::Done;

/// A server in memory: hands out `replies` as they are asked for, keeps
/// what the client wrote.
struct Script {
    replies: io::Cursor<Vec<u8>>,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.replies.read(buf)
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sent.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What a callback does when it calls back, and what it found.
#[derive(Default)]
struct Nested {
    c: *mut smtpc_client,
    /// Calls back only while set (not during the set-up).
    armed: bool,
    /// Frees the handle instead of calling the others.
    free: bool,
    /// What each nested call returned, in order.
    seen: Vec<String>,
}

impl Nested {
    /// The nested calls: an accessor, a setter, an action (or a free).
    fn call_back(&mut self) {
        if !self.armed {
            return;
        }
        let c = self.c;
        // SAFETY: `c` is the live handle whose call runs this callback;
        // each function is made for being called at this point.
        unsafe {
            if self.free {
                smtpc_client_free(c);
                self.seen.push("freed".into());
                return;
            }
            let error = CStr::from_ptr(smtpc_error_message(c)).to_str().unwrap();
            self.seen.push(format!(
                "code {} error {error:?} connected {} batch {:?} server {:?} noop {:?} reset {:?}",
                smtpc_reply_code(c),
                smtpc_is_connected(c),
                smtpc_batch_result(c, 0),
                smtpc_set_server(c, c"192.0.2.1".as_ptr(), 2),
                smtpc_noop(c),
                smtpc_client_reset(c),
            ));
        }
    }
}

const BUSY_SEEN: &str = "code 0 error \"a call on this handle is in progress\" connected false \
                         batch SMTPC_BUSY server SMTPC_BUSY noop SMTPC_BUSY reset SMTPC_BUSY";

unsafe extern "C" fn transcript(_: smtpc_direction, line: *const c_char, data: *mut c_void) {
    // SAFETY: the tests pass a live `Nested` as user data, and `line` is a
    // NUL-terminated string for the call.
    let (nested, line) = unsafe { (&mut *data.cast::<Nested>(), CStr::from_ptr(line)) };
    if line.to_bytes().starts_with(b"RCPT") || line.to_bytes().starts_with(b"QUIT") {
        nested.call_back();
    }
}

unsafe extern "C" fn read(buf: *mut c_void, len: usize, data: *mut c_void) -> isize {
    // SAFETY: the tests pass a live `Nested` as user data.
    let nested = unsafe { &mut *data.cast::<Nested>() };
    let first = nested.armed;
    nested.call_back();
    nested.armed = false;
    if !first {
        return 0;
    }
    let body = b"Subject: x\r\n\r\nuntouched\r\n";
    let n = body.len().min(len);
    // SAFETY: smtpc hands `len` writable bytes at `buf`.
    unsafe { std::ptr::copy_nonoverlapping(body.as_ptr(), buf.cast(), n) };
    n as isize
}

/// A handle with a session over [`Script`] that answers `replies` (after
/// the greeting and EHLO), its transcript going to the `Nested` at `n`;
/// and what the client sends. `n` is a raw pointer all along (from
/// [`nested`]): the callbacks write through it while the test also does.
fn session(replies: &str, n: *mut Nested) -> Arc<Mutex<Vec<u8>>> {
    let c = smtpc_client_new();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let script = Script {
        replies: io::Cursor::new(format!("220 hi\r\n250 hello\r\n{replies}").into_bytes()),
        sent: sent.clone(),
    };
    // SAFETY: a live handle, no call in progress; `n` is live until
    // [`done`], after the handle is freed.
    unsafe {
        (*n).c = c;
        assert_eq!(smtpc_set_server(c, c"test".as_ptr(), 25), SMTPC_OK);
        assert_eq!(smtpc_set_tls(c, smtpc_tls::SMTPC_TLS_NONE as _), SMTPC_OK);
        assert_eq!(
            smtpc_set_transcript(c, Some(transcript), n.cast()),
            SMTPC_OK
        );
        let h = &mut *c;
        let client = h.builder().unwrap().connect_stream(script).unwrap();
        h.session = Some(client);
    }
    sent
}

/// A `Nested` on the heap, used only through the pointer.
fn nested(free: bool) -> *mut Nested {
    Box::into_raw(Box::new(Nested {
        free,
        ..Nested::default()
    }))
}

/// What the callbacks saw; frees the `Nested` (the handle is gone).
fn done(n: *mut Nested) -> Vec<String> {
    // SAFETY: from [`nested`], freed once, no callback can run any more.
    unsafe { Box::from_raw(n) }.seen
}

/// Sets `armed` through the pointer.
fn arm(n: *mut Nested, on: bool) {
    // SAFETY: live until [`done`]; no callback is running.
    unsafe { (*n).armed = on };
}

/// The handle, through the pointer.
fn handle_of(n: *mut Nested) -> *mut smtpc_client {
    // SAFETY: live until [`done`]; no callback is running.
    unsafe { (*n).c }
}

fn sent_text(sent: &Mutex<Vec<u8>>) -> String {
    String::from_utf8(sent.lock().unwrap().clone()).unwrap()
}

#[test]
fn calls_from_the_transcript_are_busy_and_the_refusal_stays_the_result() {
    let n = nested(false);
    let sent = session("250 ok\r\n550 5.1.1 no such user\r\n221 bye\r\n", n);
    let c = handle_of(n);
    // SAFETY: a live handle, used on this thread only.
    unsafe {
        assert_eq!(smtpc_mail(c, c"a@x".as_ptr()), SMTPC_OK);
        arm(n, true);
        assert_eq!(smtpc_rcpt(c, c"nobody@y".as_ptr()), SMTPC_PERMANENT);
        arm(n, false);
        assert_eq!(smtpc_reply_code(c), 550);
        // The setter changed nothing: the server is still "test".
        assert_eq!((*c).config.host(), "test");
        assert_eq!(smtpc_quit(c), SMTPC_OK);
        smtpc_client_free(c);
    }
    assert_eq!(done(n), [BUSY_SEEN]);
    let text = sent_text(&sent);
    let helo = text.lines().next().unwrap();
    assert_eq!(
        text,
        format!("{helo}\r\nMAIL FROM:<a@x>\r\nRCPT TO:<nobody@y>\r\nQUIT\r\n")
    );
}

#[test]
fn a_free_from_the_transcript_waits_for_the_call_to_end() {
    let n = nested(true);
    let sent = session("250 ok\r\n550 5.1.1 no such user\r\n221 bye\r\n", n);
    let c = handle_of(n);
    // SAFETY: a live handle until the RCPT returns; not used afterwards.
    unsafe {
        assert_eq!(smtpc_mail(c, c"a@x".as_ptr()), SMTPC_OK);
        arm(n, true);
        // The callback frees at RCPT, and again at the QUIT of the free
        // itself: both take effect only once the call is over, and once.
        assert_eq!(smtpc_rcpt(c, c"nobody@y".as_ptr()), SMTPC_PERMANENT);
    }
    assert_eq!(done(n), ["freed", "freed"]);
    assert!(sent_text(&sent).ends_with("RCPT TO:<nobody@y>\r\nQUIT\r\n"));
}

#[test]
fn calls_from_the_transcript_of_free_itself_are_busy() {
    let n = nested(false);
    let sent = session("221 bye\r\n", n);
    arm(n, true);
    // SAFETY: a live handle, freed once (the QUIT's transcript calls back
    // into it while it is being freed).
    unsafe { smtpc_client_free(handle_of(n)) };
    assert_eq!(done(n), [BUSY_SEEN]);
    assert!(sent_text(&sent).ends_with("QUIT\r\n"));
}

#[test]
fn calls_from_the_read_callback_stay_out_of_the_message() {
    for free in [false, true] {
        let n = nested(free);
        let replies = "250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n";
        let sent = session(replies, n);
        let c = handle_of(n);
        // SAFETY: a live handle until the last call (freed by it when
        // `free`); `n` outlives it.
        unsafe {
            assert_eq!(smtpc_mail(c, c"a@x".as_ptr()), SMTPC_OK);
            assert_eq!(smtpc_rcpt(c, c"b@y".as_ptr()), SMTPC_OK);
            arm(n, true);
            assert_eq!(smtpc_data_stream(c, Some(read), n.cast()), SMTPC_OK);
            if !free {
                assert_eq!(smtpc_reply_code(c), 250);
                assert_eq!(smtpc_quit(c), SMTPC_OK);
                smtpc_client_free(c);
            }
        }
        let want = if free { "freed" } else { BUSY_SEEN };
        assert_eq!(done(n), [want]);
        let text = sent_text(&sent);
        assert!(
            text.contains("DATA\r\nSubject: x\r\n\r\nuntouched\r\n.\r\nQUIT\r\n"),
            "{text}"
        );
        assert_eq!(text.matches("NOOP").count(), 0, "{text}");
    }
}

#[test]
fn a_second_handle_is_free_to_use_from_a_callback() {
    // Only the handle in a call is taken: another one answers as usual.
    let other = smtpc_client_new();
    let n = nested(false);
    let _sent = session("221 bye\r\n", n);
    let c = handle_of(n);
    // SAFETY: two live handles, each freed once.
    unsafe {
        let r = act(c, |_| {
            assert_eq!(smtpc_set_server(other, c"x".as_ptr(), 25), SMTPC_OK);
            assert_eq!(smtpc_noop(c), SMTPC_BUSY);
            Ok(Done::Nothing)
        });
        assert_eq!(r, SMTPC_OK);
        assert_eq!(smtpc_noop(other), SMTPC_CLOSED);
        smtpc_client_free(other);
        smtpc_client_free(c);
    }
    assert!(done(n).is_empty());
}

unsafe extern "C" fn failing_read(_: *mut c_void, _: usize, _: *mut c_void) -> isize {
    -1
}

/// What the header says of `SMTPC_IO` from a read callback: the
/// connection is closed, but for a failure before anything of the
/// message was sent (`smtpc_send_stream` reads before MAIL FROM), which
/// leaves the session open and usable.
#[test]
fn a_failing_read_callback_closes_the_session_only_once_the_message_began() {
    for before_mail in [true, false] {
        let n = nested(false);
        let replies = "250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n";
        let sent = session(replies, n);
        let c = handle_of(n);
        let to = [c"b@y".as_ptr()];
        // SAFETY: a live handle, used on this thread only; static strings.
        unsafe {
            let r = if before_mail {
                smtpc_send_stream(
                    c,
                    c"a@x".as_ptr(),
                    to.as_ptr(),
                    1,
                    Some(failing_read),
                    null_mut(),
                )
            } else {
                assert_eq!(smtpc_mail(c, c"a@x".as_ptr()), SMTPC_OK);
                assert_eq!(smtpc_rcpt(c, c"b@y".as_ptr()), SMTPC_OK);
                smtpc_data_stream(c, Some(failing_read), null_mut())
            };
            assert_eq!(r, SMTPC_IO);
            let error = CStr::from_ptr(smtpc_error_message(c)).to_str().unwrap();
            assert!(
                error.contains("the read callback reported an error (-1)"),
                "{error}"
            );
            assert_eq!(smtpc_is_connected(c), before_mail);
            if before_mail {
                assert_eq!(smtpc_noop(c), SMTPC_OK);
            } else {
                assert_eq!(smtpc_noop(c), SMTPC_CLOSED);
            }
            smtpc_client_free(c);
        }
        done(n);
        let text = sent_text(&sent);
        let helo = text.lines().next().unwrap();
        let want = if before_mail {
            format!("{helo}\r\nNOOP\r\nQUIT\r\n")
        } else {
            // No end of data: the message is abandoned, not cut short.
            format!("{helo}\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n")
        };
        assert_eq!(text, want);
    }
}
