//! The EHLO reply parser: never a panic, mechanisms upper case and unique,
//! every typed flag backed by its keyword.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpc::{Extensions, Reply};

fuzz_target!(|data: &[u8]| {
    // Make every line a continuation but the last, so most inputs parse.
    let mut text = Vec::new();
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let sep: &[u8] = if i + 1 == lines.len() {
            b"250 "
        } else {
            b"250-"
        };
        text.extend_from_slice(sep);
        text.extend(line.iter().filter(|&&b| b != b'\r'));
        text.extend_from_slice(b"\r\n");
    }
    let Ok(reply) = Reply::parse(&text) else {
        return;
    };
    let ext = Extensions::from_ehlo(&reply);
    let mechs = ext.auth_mechanisms();
    for (i, m) in mechs.iter().enumerate() {
        assert_eq!(m, &m.to_ascii_uppercase());
        assert!(!mechs[..i].contains(m), "duplicate {m}");
    }
    assert_eq!(ext.pipelining(), ext.has("PIPELINING"));
    assert_eq!(ext.chunking(), ext.has("chunking"));
    assert_eq!(ext.starttls(), ext.has("STARTTLS"));
    if let Some(max) = ext.max_size() {
        assert!(max > 0 && ext.supports_size());
    }
});
