//! Reading C arguments into Rust values, and making C strings of Rust
//! ones: the one place where either happens. A bad argument is
//! [`Fail::invalid`], never a crash.

use std::ffi::{c_char, CStr, CString};
use std::time::Duration;

use super::result::Fail;
use crate::auth::Mechanism;
use crate::envelope::Envelope;

/// Borrows a NUL-terminated C string as UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged for `'a`.
pub(crate) unsafe fn text<'a>(p: *const c_char, name: &str) -> Result<&'a str, Fail> {
    if p.is_null() {
        return Err(Fail::invalid(format!("{name} is NULL")));
    }
    // SAFETY: `p` is not NULL, and the caller promises a NUL-terminated
    // string that outlives 'a.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|_| Fail::invalid(format!("{name} is not valid UTF-8")))
}

/// Borrows `len` bytes at `p`; NULL is accepted when `len` is 0.
///
/// # Safety
/// Unless `len` is 0, `p` is NULL or points to `len` readable bytes that
/// stay valid and unchanged for `'a`.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Fail::invalid(format!("{name} is NULL")));
    }
    if len > isize::MAX as usize {
        return Err(Fail::invalid(format!("{name}: length {len} is too large")));
    }
    // SAFETY: `p` is not NULL, `len` is within isize::MAX, and the caller
    // promises `len` readable bytes that outlive 'a. u8 has alignment 1.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Borrows the array of `count` values at `p`; NULL is accepted when
/// `count` is 0.
///
/// # Safety
/// Unless `count` is 0, `p` is NULL or points to `count` readable,
/// aligned values of `T` that stay valid and unchanged for `'a`.
pub(crate) unsafe fn array<'a, T>(p: *const T, count: usize, name: &str) -> Result<&'a [T], Fail> {
    if count == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Fail::invalid(format!("{name} is NULL")));
    }
    if count > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(Fail::invalid(format!("{name}: count {count} is too large")));
    }
    // SAFETY: `p` is not NULL, the size fits in isize, and the caller
    // promises `count` readable, aligned values that outlive 'a.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// Borrows an array of `count` C strings, each read with [`text`].
///
/// # Safety
/// Unless `count` is 0, `p` is NULL or points to `count` pointers, each
/// NULL or a NUL-terminated string, all valid and unchanged for `'a`.
pub(crate) unsafe fn text_array<'a>(
    p: *const *const c_char,
    count: usize,
    name: &str,
) -> Result<Vec<&'a str>, Fail> {
    // SAFETY: the caller promises `count` pointers at `p` (or count 0).
    let pointers = unsafe { array(p, count, name) }?;
    pointers
        .iter()
        .enumerate()
        // SAFETY: each element is NULL or a string valid for 'a (caller).
        .map(|(i, &s)| unsafe { text(s, &format!("{name}[{i}]")) })
        .collect()
}

/// The envelope of a message: the sender `from` and the `to_count`
/// recipients at `to`, checked by [`Envelope::new`].
///
/// # Safety
/// `from` is NULL or a NUL-terminated string; `to` is as for
/// [`text_array`]; both stay valid during the call.
pub(crate) unsafe fn envelope(
    from: *const c_char,
    to: *const *const c_char,
    to_count: usize,
) -> Result<Envelope, Fail> {
    // SAFETY: the caller promises `from` is NULL or a NUL-terminated string.
    let from = unsafe { text(from, "from") }?;
    // SAFETY: the caller promises `to` is NULL or `to_count` such strings.
    let to = unsafe { text_array(to, to_count, "to") }?;
    Ok(Envelope::new(from, to)?)
}

/// A duration given in milliseconds, which C may not give as 0.
pub(crate) fn millis(ms: u32, what: &str) -> Result<Duration, Fail> {
    if ms == 0 {
        return Err(Fail::invalid(format!("{what} of 0 ms")));
    }
    Ok(Duration::from_millis(u64::from(ms)))
}

/// SASL mechanism names separated by spaces or commas, in any case; an
/// unknown name or an empty list is an invalid argument.
pub(crate) fn mechanisms(names: &str) -> Result<Vec<Mechanism>, Fail> {
    let list = names
        .split([' ', ','])
        .filter(|n| !n.is_empty())
        .map(|n| {
            Mechanism::from_name(n)
                .ok_or_else(|| Fail::invalid(format!("unknown SASL mechanism {n:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if list.is_empty() {
        return Err(Fail::invalid("no SASL mechanism named"));
    }
    Ok(list)
}

/// A C string of `s`. A NUL inside (a hostile server can send one in a
/// reply line) becomes U+FFFD, so C sees the whole text rather than a
/// piece of it.
pub(crate) fn c_string(s: &str) -> CString {
    match CString::new(s) {
        Ok(c) => c,
        Err(_) => CString::new(s.replace('\0', "\u{FFFD}"))
            .expect("no NUL is left after replacing every NUL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_non_utf8_are_invalid_arguments() {
        // SAFETY: NULL and a static NUL-terminated string.
        unsafe {
            let e = text(std::ptr::null(), "host").unwrap_err();
            assert_eq!(e.to_string(), "host is NULL");
            let e = text(c"a\xffb".as_ptr(), "from").unwrap_err();
            assert_eq!(e.to_string(), "from is not valid UTF-8");
            assert_eq!(text(c"a@x".as_ptr(), "from").unwrap(), "a@x");
        }
    }

    #[test]
    fn byte_buffers() {
        // SAFETY: NULL with length 0, NULL with a length (refused before
        // any read), and a live slice.
        unsafe {
            assert_eq!(bytes(std::ptr::null(), 0, "m").unwrap(), b"");
            assert!(bytes(std::ptr::null(), 3, "m").is_err());
            assert!(bytes(b"x".as_ptr(), usize::MAX, "m").is_err());
            assert_eq!(bytes(b"abc".as_ptr(), 2, "m").unwrap(), b"ab");
        }
    }

    #[test]
    fn string_arrays() {
        let list = [c"a@x".as_ptr(), std::ptr::null(), c"\xfe".as_ptr()];
        // SAFETY: `list` holds NULL and static strings and outlives the calls.
        unsafe {
            assert_eq!(text_array(list.as_ptr(), 1, "to").unwrap(), ["a@x"]);
            let e = text_array(list.as_ptr(), 2, "to").unwrap_err();
            assert_eq!(e.to_string(), "to[1] is NULL");
            let e = text_array(list[2..].as_ptr(), 1, "to").unwrap_err();
            assert_eq!(e.to_string(), "to[0] is not valid UTF-8");
            assert!(text_array(std::ptr::null(), 2, "to").is_err());
            assert!(text_array(std::ptr::null(), 0, "to").unwrap().is_empty());
        }
    }

    #[test]
    fn nul_in_output_is_replaced_not_truncated() {
        assert_eq!(
            c_string("550 bad\0user").to_str().unwrap(),
            "550 bad\u{FFFD}user"
        );
        assert_eq!(c_string("plain").to_str().unwrap(), "plain");
    }
}
