//! The C interface called from Rust: NULLs, bad strings, calls out of
//! order, panics, and how outcomes are recorded. The network side is
//! tested from C in tests/it/c_api.rs.

use std::ffi::{c_char, c_void, CStr};
use std::ptr::{null, null_mut};

use super::accessors::*;
use super::actions::*;
use super::handle::*;
use super::options::*;
use super::outcome::*;
use super::result::smtpc_result::{self, *};
use super::result::{Done, Fail};
use super::{smtpc_result_str, smtpc_version};
use crate::delivery::{Delivery, Rejection};
use crate::error::Error;
use crate::reply::Reply;

/// The string at `p`, or None for NULL.
fn s(p: *const c_char) -> Option<String> {
    // SAFETY: every pointer tested here is NULL or a NUL-terminated string
    // owned by a live handle or static.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
}

/// A fresh handle, freed when dropped.
struct Handle(*mut smtpc_client);

impl Handle {
    fn new() -> Handle {
        let c = smtpc_client_new();
        assert!(!c.is_null());
        Handle(c)
    }
    fn error(&self) -> String {
        // SAFETY: a live handle.
        s(unsafe { smtpc_error_message(self.0) }).unwrap()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from smtpc_client_new and is freed once.
        unsafe { smtpc_client_free(self.0) }
    }
}

fn reply(text: &str) -> Reply {
    Reply::parse(text.as_bytes()).unwrap()
}

#[test]
fn null_handles_are_invalid_arguments_never_crashes() {
    let c = null_mut();
    // SAFETY: NULL is allowed for every pointer argument.
    unsafe {
        smtpc_client_free(c);
        assert_eq!(
            smtpc_set_server(c, c"h".as_ptr(), 25),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(
            smtpc_set_helo_name(c, c"h".as_ptr()),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(smtpc_set_timeout_ms(c, 1), SMTPC_INVALID_ARGUMENT);
        assert_eq!(smtpc_set_connect_timeout_ms(c, 1), SMTPC_INVALID_ARGUMENT);
        assert_eq!(
            smtpc_set_transcript(c, None, null_mut()),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(smtpc_connect(c), SMTPC_INVALID_ARGUMENT);
        assert_eq!(smtpc_mail(c, c"a@x".as_ptr()), SMTPC_INVALID_ARGUMENT);
        assert_eq!(smtpc_rcpt(c, c"a@x".as_ptr()), SMTPC_INVALID_ARGUMENT);
        assert_eq!(smtpc_data(c, null(), 0), SMTPC_INVALID_ARGUMENT);
        assert_eq!(
            smtpc_data_stream(c, None, null_mut()),
            SMTPC_INVALID_ARGUMENT
        );
        let to = [c"b@y".as_ptr()];
        assert_eq!(
            smtpc_send(c, c"a@x".as_ptr(), to.as_ptr(), 1, null(), 0),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(
            smtpc_send_stream(c, c"a@x".as_ptr(), to.as_ptr(), 1, None, null_mut()),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(smtpc_rset(c), SMTPC_INVALID_ARGUMENT);
        assert_eq!(smtpc_noop(c), SMTPC_INVALID_ARGUMENT);
        assert_eq!(smtpc_quit(c), SMTPC_INVALID_ARGUMENT);
        assert!(!smtpc_is_connected(c));
        assert!(!smtpc_is_encrypted(c));
        assert!(!smtpc_has_extension(c, c"SIZE".as_ptr()));
        assert_eq!(smtpc_set_tls(c, 0), SMTPC_INVALID_ARGUMENT);
        let (u, p) = (c"u".as_ptr(), c"p".as_ptr());
        assert_eq!(smtpc_set_credentials(c, u, p), SMTPC_INVALID_ARGUMENT);
        assert_eq!(
            smtpc_set_auth_mechanisms(c, c"PLAIN".as_ptr()),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(
            smtpc_set_allow_insecure_auth(c, true),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(
            smtpc_set_ca_file(c, c"/ca.pem".as_ptr()),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(
            smtpc_set_ca_blob(c, b"x".as_ptr().cast(), 1),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(smtpc_set_system_roots(c, false), SMTPC_INVALID_ARGUMENT);
        let r = smtpc_set_client_cert_pem(c, b"x".as_ptr().cast(), 1, b"y".as_ptr().cast(), 1);
        assert_eq!(r, SMTPC_INVALID_ARGUMENT);
        let r = smtpc_set_client_cert_pkcs12(c, b"x".as_ptr().cast(), 1, p);
        assert_eq!(r, SMTPC_INVALID_ARGUMENT);
        assert_eq!(smtpc_set_min_tls_version(c, 12), SMTPC_INVALID_ARGUMENT);
        assert_eq!(smtpc_set_tls_server_name(c, u), SMTPC_INVALID_ARGUMENT);
        assert_eq!(
            smtpc_set_danger_accept_invalid_certs(c, true),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(
            smtpc_set_danger_accept_invalid_hostnames(c, true),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(smtpc_reply_code(c), 0);
        assert_eq!(s(smtpc_reply_enhanced(c)), None);
        assert_eq!(s(smtpc_reply_text(c)).unwrap(), "");
        assert!(s(smtpc_error_message(c)).unwrap().contains("NULL"));
        assert_eq!(smtpc_rejected_count(c), 0);
    }
}

#[test]
fn bad_arguments_on_a_live_handle_say_what_was_wrong() {
    let h = Handle::new();
    // SAFETY: a live handle, NULLs and static strings.
    unsafe {
        assert_eq!(smtpc_set_server(h.0, null(), 25), SMTPC_INVALID_ARGUMENT);
        assert_eq!(h.error(), "host is NULL");
        assert_eq!(
            smtpc_set_server(h.0, c"".as_ptr(), 25),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(
            smtpc_set_server(h.0, c"h\xc3".as_ptr(), 25),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(h.error(), "host is not valid UTF-8");
        assert_eq!(smtpc_set_timeout_ms(h.0, 0), SMTPC_INVALID_ARGUMENT);
        assert_eq!(smtpc_set_server(h.0, c"127.0.0.1".as_ptr(), 0), SMTPC_OK);
        assert_eq!(h.error(), "", "a success clears the last error");
        assert_eq!(smtpc_data(h.0, null(), 5), SMTPC_INVALID_ARGUMENT);
        assert_eq!(h.error(), "message is NULL");
        assert_eq!(
            smtpc_data_stream(h.0, None, null_mut()),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(h.error(), "the read callback is NULL");
        let to = [c"b@y".as_ptr(), null()];
        let r = smtpc_send(h.0, c"a@x".as_ptr(), to.as_ptr(), 2, null(), 0);
        assert_eq!(r, SMTPC_INVALID_ARGUMENT);
        assert_eq!(h.error(), "to[1] is NULL");
        let r = smtpc_send(h.0, c"a@x".as_ptr(), to.as_ptr(), 0, null(), 0);
        assert_eq!(r, SMTPC_INVALID_ARGUMENT, "no recipients");
        let evil = [c"b@y>\r\nRCPT TO:<evil@x".as_ptr()];
        let r = smtpc_send(h.0, c"a@x".as_ptr(), evil.as_ptr(), 1, null(), 0);
        assert_eq!(r, SMTPC_INVALID_ARGUMENT, "{}", h.error());
    }
}

#[test]
fn tls_and_auth_options_are_checked() {
    let h = Handle::new();
    // SAFETY: a live handle, NULLs and static strings.
    unsafe {
        for mode in [smtpc_tls::SMTPC_TLS_NONE, smtpc_tls::SMTPC_TLS_IMPLICIT] {
            assert_eq!(smtpc_set_tls(h.0, mode as _), SMTPC_OK);
        }
        assert_eq!(smtpc_set_tls(h.0, 4), SMTPC_INVALID_ARGUMENT);
        assert_eq!(h.error(), "4 is not an smtpc_tls mode");
        assert_eq!(smtpc_set_tls(h.0, -1), SMTPC_INVALID_ARGUMENT);
        let v13 = smtpc_tls_version::SMTPC_TLS_VERSION_1_3 as _;
        assert_eq!(smtpc_set_min_tls_version(h.0, v13), SMTPC_OK);
        assert_eq!(smtpc_set_min_tls_version(h.0, 11), SMTPC_INVALID_ARGUMENT);
        let mechanisms = c" cram-md5, PLAIN  xoauth2".as_ptr();
        assert_eq!(smtpc_set_auth_mechanisms(h.0, mechanisms), SMTPC_OK);
        assert_eq!(
            smtpc_set_auth_mechanisms(h.0, c"PLAIN,GSSAPI".as_ptr()),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(h.error(), "unknown SASL mechanism \"GSSAPI\"");
        assert_eq!(
            smtpc_set_auth_mechanisms(h.0, c" , ".as_ptr()),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(
            smtpc_set_credentials(h.0, c"u".as_ptr(), null()),
            SMTPC_INVALID_ARGUMENT
        );
        assert_eq!(h.error(), "secret is NULL");
        assert_eq!(
            smtpc_set_credentials(h.0, c"u".as_ptr(), c"\xff".as_ptr()),
            SMTPC_INVALID_ARGUMENT
        );
        assert!(!h.error().contains('\u{FFFD}'), "the secret is not echoed");
        assert_eq!(smtpc_set_ca_file(h.0, c"".as_ptr()), SMTPC_INVALID_ARGUMENT);
        assert_eq!(smtpc_set_ca_blob(h.0, null(), 0), SMTPC_INVALID_ARGUMENT);
        let r = smtpc_set_client_cert_pem(h.0, null(), 0, b"k".as_ptr().cast(), 1);
        assert_eq!(r, SMTPC_INVALID_ARGUMENT);
        let r = smtpc_set_client_cert_pkcs12(h.0, b"x".as_ptr().cast(), 1, null());
        assert_eq!(r, SMTPC_INVALID_ARGUMENT);
    }
}

#[test]
fn tls_and_auth_errors_map_to_their_results() {
    let tls = Error::Tls {
        during: "STARTTLS".into(),
        source: "certificate verify failed".into(),
    };
    assert_eq!(smtpc_result::of(&tls), SMTPC_TLS);
    let refused = Error::TlsUnavailable {
        reply: Some(reply("454 4.7.0 TLS not available\r\n")),
    };
    let mut o = Outcome::default();
    assert_eq!(o.record(Err(refused.into())), SMTPC_TLS);
    assert_eq!(o.view().code, 454);
    assert_eq!(
        smtpc_result::of(&Error::StartTlsInjection { bytes: 10 }),
        SMTPC_TLS
    );
    let auth = Error::Auth {
        reason: "AUTH PLAIN".into(),
        reply: Some(reply("535 5.7.8 Authentication credentials invalid\r\n")),
    };
    assert_eq!(o.record(Err(auth.into())), SMTPC_AUTH);
    let v = o.view();
    assert_eq!((v.code, v.enhanced.as_deref()), (535, Some("5.7.8")));
}

#[test]
fn calls_before_connect_report_no_session() {
    let h = Handle::new();
    // SAFETY: a live handle and static strings.
    unsafe {
        assert_eq!(smtpc_connect(h.0), SMTPC_INVALID_ARGUMENT);
        assert!(h.error().contains("smtpc_set_server"), "{}", h.error());
        assert_eq!(smtpc_mail(h.0, c"a@x".as_ptr()), SMTPC_CLOSED);
        assert!(h.error().contains("not connected"));
        assert_eq!(smtpc_noop(h.0), SMTPC_CLOSED);
        assert_eq!(smtpc_quit(h.0), SMTPC_CLOSED);
        assert!(!smtpc_is_connected(h.0));
        assert!(!smtpc_has_extension(h.0, c"SIZE".as_ptr()));
    }
}

#[test]
fn a_panic_becomes_a_result_and_the_handle_lives_on() {
    assert_eq!(
        super::boundary::run(|| -> smtpc_result { panic!("test panic") }),
        SMTPC_PANIC
    );
    assert!(super::boundary::run(|| -> *const u8 { panic!("test panic") }).is_null());
    assert_eq!(
        super::boundary::run(|| -> usize { panic!("test panic") }),
        0
    );
    let h = Handle::new();
    // SAFETY: a live handle.
    unsafe {
        let r = act(h.0, |_| -> Result<Done, Fail> { panic!("test panic") });
        assert_eq!(r, SMTPC_PANIC);
        assert!(h.error().contains("panicked"));
        assert_eq!(smtpc_set_server(h.0, c"localhost".as_ptr(), 25), SMTPC_OK);
    }
}

#[test]
fn version_is_the_crate_version() {
    assert_eq!(s(smtpc_version()).unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn partial_delivery_lists_the_refused() {
    let mut o = Outcome::default();
    let refused = Rejection {
        recipient: "c@y".into(),
        reply: reply("550 5.1.1 No such user\r\n"),
    };
    let delivery = Delivery::new(
        reply("250 2.0.0 Ok: queued as Q1\r\n"),
        vec!["b@y".into()],
        vec![refused],
    );
    assert_eq!(o.record(Ok(Done::Delivery(delivery))), SMTPC_PARTIAL);
    let v = o.view();
    assert_eq!(v.code, 250);
    assert_eq!(v.queue_id.as_deref(), Some("Q1"));
    assert_eq!(
        v.error,
        "1 of 2 recipients were rejected: <c@y>: 550 5.1.1 No such user"
    );
    assert_eq!(
        v.rejected,
        [(
            "c@y".to_owned(),
            550,
            Some("5.1.1".to_owned()),
            "No such user".to_owned()
        )]
    );
}

#[test]
fn failures_keep_the_reply_and_the_refused() {
    let mut o = Outcome::default();
    let rej = |to: &str, r: &str| Rejection {
        recipient: to.into(),
        reply: reply(r),
    };
    let all = Error::AllRecipientsRejected(vec![
        rej("b@y", "550 5.1.1 unknown\r\n"),
        rej("c@y", "450 4.2.0 busy\r\n"),
    ]);
    assert_eq!(o.record(Err(all.into())), SMTPC_TRANSIENT);
    let v = o.view();
    assert_eq!((v.code, v.rejected.len()), (550, 2));
    assert_eq!(v.rejected[1].1, 450);

    let big = Error::MessageTooLarge { size: 10, limit: 5 };
    assert_eq!(o.record(Err(big.into())), SMTPC_PERMANENT);
    let v = o.view();
    assert_eq!((v.code, v.rejected.len(), v.enhanced), (0, 0, None));
    assert!(v.error.contains("limit of 5 bytes"));

    let hostile = reply("554 5.7.1 bad\0user\r\n");
    assert_eq!(
        o.record(Err(Error::Permanent(hostile).into())),
        SMTPC_PERMANENT
    );
    let v = o.view();
    assert_eq!(
        v.text, "bad\u{FFFD}user",
        "a NUL must not cut the text short"
    );
    assert_eq!(v.enhanced.as_deref(), Some("5.7.1"));

    assert_eq!(o.record(Ok(Done::Reply(reply("250 ok\r\n")))), SMTPC_OK);
    let v = o.view();
    assert_eq!((v.code, v.text.as_str(), v.error.as_str()), (250, "ok", ""));
    assert_eq!(v.enhanced, None);
}

#[test]
fn every_value_has_a_distinct_name() {
    let mut names = std::collections::HashSet::new();
    for value in -1..20 {
        // SAFETY: smtpc_result_str returns a static NUL-terminated string.
        let name = unsafe { CStr::from_ptr(smtpc_result_str(value)) };
        let known = smtpc_result::from_int(value).is_some();
        assert_eq!(known, (0..=SMTPC_BUSY as i32).contains(&value), "{value}");
        if known {
            assert!(names.insert(name.to_owned()), "{name:?} twice");
        } else {
            assert_eq!(name, c"unknown result");
        }
    }
}

/// The handle's options, as Debug shows them (secrets redacted). (That
/// a reset transcript is no longer called is tested from C, in
/// tests/c/misuse.c: a callback would have to be an extern function here.)
fn options(h: &Handle) -> String {
    // SAFETY: a live handle, used by this thread only.
    format!("{:?}", unsafe { &(*h.0).config })
}

#[test]
fn options_land_in_the_config() {
    let h = Handle::new();
    // SAFETY: a live handle, NULLs and static strings.
    unsafe {
        assert_eq!(smtpc_set_server(h.0, c"mx.test".as_ptr(), 0), SMTPC_OK);
        assert_eq!(
            smtpc_set_tls(h.0, smtpc_tls::SMTPC_TLS_IMPLICIT as _),
            SMTPC_OK
        );
        assert_eq!(smtpc_set_timeout_ms(h.0, 1500), SMTPC_OK);
        assert_eq!(
            smtpc_set_credentials(h.0, c"me".as_ptr(), c"hunter2".as_ptr()),
            SMTPC_OK
        );
        let config = &(*h.0).config;
        assert_eq!((config.host(), config.port()), ("mx.test", 465));
        assert_eq!(config.timeout(), std::time::Duration::from_millis(1500));
        assert!(!options(&h).contains("hunter2"), "{}", options(&h));
        // Port 0 goes back to the mode's default; the system's roots can
        // be trusted again after being turned off.
        assert_eq!(smtpc_set_server(h.0, c"mx.test".as_ptr(), 2465), SMTPC_OK);
        assert_eq!((*h.0).config.port(), 2465);
        assert_eq!(smtpc_set_server(h.0, c"mx.test".as_ptr(), 0), SMTPC_OK);
        assert_eq!((*h.0).config.port(), 465);
        assert_eq!(smtpc_set_system_roots(h.0, false), SMTPC_OK);
        assert!((*h.0).config.tls_options.disable_system_roots);
        assert_eq!(smtpc_set_system_roots(h.0, true), SMTPC_OK);
        assert!(!(*h.0).config.tls_options.disable_system_roots);
    }
}

#[test]
fn reset_forgets_every_option_and_the_last_outcome() {
    let fresh = options(&Handle::new());
    let h = Handle::new();
    // SAFETY: a live handle, NULL, and static strings and buffers.
    unsafe {
        assert_eq!(smtpc_client_reset(null_mut()), SMTPC_INVALID_ARGUMENT);
        assert_eq!(smtpc_set_server(h.0, c"127.0.0.1".as_ptr(), 2525), SMTPC_OK);
        assert_eq!(smtpc_set_helo_name(h.0, c"client.test".as_ptr()), SMTPC_OK);
        assert_eq!(smtpc_set_timeout_ms(h.0, 1000), SMTPC_OK);
        assert_eq!(smtpc_set_connect_timeout_ms(h.0, 1000), SMTPC_OK);
        assert_eq!(smtpc_set_tls(h.0, 0), SMTPC_OK);
        assert_eq!(
            smtpc_set_credentials(h.0, c"u".as_ptr(), c"p".as_ptr()),
            SMTPC_OK
        );
        assert_eq!(smtpc_set_auth_mechanisms(h.0, c"PLAIN".as_ptr()), SMTPC_OK);
        assert_eq!(smtpc_set_allow_insecure_auth(h.0, true), SMTPC_OK);
        assert_eq!(smtpc_set_ca_file(h.0, c"/ca.pem".as_ptr()), SMTPC_OK);
        assert_eq!(smtpc_set_ca_blob(h.0, b"x".as_ptr().cast(), 1), SMTPC_OK);
        assert_eq!(smtpc_set_system_roots(h.0, false), SMTPC_OK);
        let (k, p) = (b"k".as_ptr().cast(), c"pw".as_ptr());
        assert_eq!(smtpc_set_client_cert_pem(h.0, k, 1, k, 1), SMTPC_OK);
        assert_eq!(smtpc_set_client_cert_pkcs12(h.0, k, 1, p), SMTPC_OK);
        assert_eq!(smtpc_set_min_tls_version(h.0, 13), SMTPC_OK);
        assert_eq!(
            smtpc_set_tls_server_name(h.0, c"mx.test".as_ptr()),
            SMTPC_OK
        );
        assert_eq!(smtpc_set_danger_accept_invalid_certs(h.0, true), SMTPC_OK);
        assert_eq!(
            smtpc_set_danger_accept_invalid_hostnames(h.0, true),
            SMTPC_OK
        );
        assert_ne!(options(&h), fresh);
        assert_eq!(smtpc_set_timeout_ms(h.0, 0), SMTPC_INVALID_ARGUMENT);
        assert_ne!(h.error(), "");

        assert_eq!(smtpc_client_reset(h.0), SMTPC_OK);
        assert_eq!(h.error(), "", "the last outcome is cleared");
        assert_eq!(options(&h), fresh);
        assert_eq!(smtpc_connect(h.0), SMTPC_INVALID_ARGUMENT);
        assert!(h.error().contains("smtpc_set_server"), "{}", h.error());
    }
}

/// A C credentials callback for the tests: `user_data` points to the
/// bytes to give back (or to a negative length), and `renew` is noted.
struct Given {
    bytes: Vec<u8>,
    ret: Option<isize>,
    renews: Vec<bool>,
}

unsafe extern "C" fn give(buf: *mut c_char, size: usize, renew: bool, data: *mut c_void) -> isize {
    // SAFETY: the tests pass a live `Given` as user data.
    let given = unsafe { &mut *data.cast::<Given>() };
    given.renews.push(renew);
    let n = given.bytes.len().min(size);
    // SAFETY: smtpc hands `size` writable bytes at `buf`.
    unsafe { std::ptr::copy_nonoverlapping(given.bytes.as_ptr(), buf.cast(), n) };
    given.ret.unwrap_or(n as isize)
}

#[test]
fn the_credentials_callback_gives_the_secret_or_a_reason() {
    use super::callbacks::{Credentials, SMTPC_SECRET_MAX};

    let h = Handle::new();
    // SAFETY: a live handle, NULLs and static strings.
    unsafe {
        let r = smtpc_set_credentials_callback(h.0, c"u".as_ptr(), None, null_mut());
        assert_eq!(r, SMTPC_INVALID_ARGUMENT);
        assert_eq!(h.error(), "the credentials callback is NULL");
        let r = smtpc_set_credentials_callback(h.0, null(), Some(give), null_mut());
        assert_eq!(r, SMTPC_INVALID_ARGUMENT);
    }
    let mut given = Given {
        bytes: b"tok-1".to_vec(),
        ret: None,
        renews: Vec::new(),
    };
    let data = (&raw mut given).cast::<c_void>();
    let cb = Credentials::from_c(Some(give), data).unwrap();
    assert_eq!(cb.call(false).unwrap(), crate::auth::Secret::new("tok-1"));
    assert_eq!(cb.call(true).unwrap(), crate::auth::Secret::new("tok-1"));
    let cases: [(&[u8], Option<isize>, &str); 4] = [
        (
            b"x",
            Some(-1),
            "the credentials callback reported an error (-1)",
        ),
        (
            b"x",
            Some(SMTPC_SECRET_MAX as isize + 1),
            "more than the 16384 bytes",
        ),
        (b"a\0b", None, "contains a NUL byte"),
        (b"\xff\xfe", None, "is not UTF-8"),
    ];
    for (bytes, ret, want) in cases {
        // SAFETY: `data` points to `given`, alive and not otherwise
        // borrowed while the callback runs.
        unsafe {
            (*data.cast::<Given>()).bytes = bytes.to_vec();
            (*data.cast::<Given>()).ret = ret;
        }
        let e = cb.call(false).unwrap_err();
        assert!(e.contains(want), "{e}");
    }
    assert_eq!(given.renews, [false, true, false, false, false, false]);
    // SAFETY: a live handle; `given` outlives it in this test.
    unsafe {
        let r = smtpc_set_credentials_callback(h.0, c"u".as_ptr(), Some(give), data);
        assert_eq!(r, SMTPC_OK);
    }
    // SAFETY: a live handle, not used elsewhere meanwhile.
    let shown = format!("{:?}", unsafe { &*h.0 }.config);
    assert!(shown.contains("<provider>"), "{shown}");
}

#[test]
fn a_handle_builds_its_tls_connector_once_and_shares_it() {
    use crate::tls::shared::counted::builds;
    use testkit::certs::pki;
    use testkit::*;
    let session = || {
        let tls = vec![Act::Tls(pki().server.server_config())];
        let go = on_line("220 2.0.0 Go on");
        script([
            greet_ehlo(&["STARTTLS"]),
            go,
            tls,
            on_line("250 ok"),
            quit(),
        ])
    };
    let server = Server::start_sessions(vec![session(), session(), session()]);
    // A root no other test trusts, so that the count is this test's.
    let own = pki().issue(&["handle.connector.test"]).cert_pem;
    let ready = |h: &Handle| {
        // SAFETY: a live handle, and buffers alive for the calls.
        unsafe {
            smtpc_set_server(h.0, c"127.0.0.1".as_ptr(), server.port());
            smtpc_set_helo_name(h.0, c"client.test".as_ptr());
            for pem in [pki().ca_pem.as_bytes(), own.as_bytes()] {
                smtpc_set_ca_blob(h.0, pem.as_ptr().cast(), pem.len());
            }
            smtpc_set_system_roots(h.0, false)
        }
    };
    // SAFETY: live handles, not used elsewhere meanwhile.
    let built = |h: &Handle| builds(&unsafe { &*h.0 }.config.tls_options);
    let (one, other) = (Handle::new(), Handle::new());
    assert_eq!((ready(&one), ready(&other)), (SMTPC_OK, SMTPC_OK));
    assert_eq!(built(&one), 0);
    for h in [&one, &one, &other] {
        // SAFETY: a live handle.
        let (connected, quit) = unsafe { (smtpc_connect(h.0), smtpc_quit(h.0)) };
        assert_eq!((connected, quit), (SMTPC_OK, SMTPC_OK), "{}", h.error());
        assert_eq!(built(h), 1, "built again");
    }
    server.received();
}
