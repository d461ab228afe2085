//! The reference a content encoder is checked against, shared by the unit
//! tests (src/encoder.rs, src/message.rs), the integration tests and the
//! fuzz targets: plain, obviously correct byte loops, independent of the
//! encoder's own code.

/// The input with every bare CR and bare LF made CRLF, and a final CRLF
/// when the last line has none: what a server must store.
pub fn normalised(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 2);
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\r' if input.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// What a server makes of DATA content: the lines up to the lone dot, each
/// leading dot removed, and how many end-of-data marks there were. Panics
/// on a bare CR or LF, on an unterminated line, and on content after the
/// end of data.
pub fn unstuff(wire: &[u8]) -> (Vec<u8>, usize) {
    let mut body = Vec::new();
    let mut ends = 0;
    for line in wire.split_inclusive(|&b| b == b'\n') {
        assert!(
            line.ends_with(b"\r\n"),
            "bare LF or unterminated line in {line:?}"
        );
        assert!(
            !line[..line.len() - 2].contains(&b'\r'),
            "bare CR in {line:?}"
        );
        assert_eq!(ends, 0, "content after the end of data");
        if line == b".\r\n" {
            ends += 1;
            continue;
        }
        body.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    (body, ends)
}
