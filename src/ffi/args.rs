//! Reading C arguments into Rust values, and making C strings of Rust
//! ones. A bad argument is [`Fail::invalid`], never a crash.

use std::ffi::{c_char, CStr, CString};

use super::outcome::Fail;

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
    if count == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Fail::invalid(format!("{name} is NULL")));
    }
    if count > isize::MAX as usize / std::mem::size_of::<*const c_char>() {
        return Err(Fail::invalid(format!("{name}: count {count} is too large")));
    }
    // SAFETY: `p` is not NULL, the size fits in isize, and the caller
    // promises `count` readable, aligned pointers that outlive 'a.
    let pointers = unsafe { std::slice::from_raw_parts(p, count) };
    pointers
        .iter()
        .enumerate()
        // SAFETY: each element is NULL or a string valid for 'a (caller).
        .map(|(i, &s)| unsafe { text(s, &format!("{name}[{i}]")) })
        .collect()
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
