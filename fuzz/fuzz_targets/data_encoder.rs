//! The content encoder round trip, with the input cut at arbitrary points:
//! no bare CR or LF on the wire, exactly one end-of-data at the very end,
//! and un-stuffing gives back the CRLF-normalised input. For BDAT the
//! output is the normalised input itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpc::DataEncoder;

/// The input with bare CR/LF made CRLF and a final CRLF added.
fn normalised(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
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

fn encode(enc: &mut DataEncoder, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut put = |p: &[u8]| -> Result<(), ()> {
        wire.extend_from_slice(p);
        Ok(())
    };
    let mut start = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        let cut = cut.clamp(start, input.len());
        enc.encode(&input[start..cut], &mut put).unwrap();
        start = cut;
    }
    enc.finish(&mut put).unwrap();
    wire
}

fuzz_target!(|data: &[u8]| {
    // The first bytes choose where to cut the rest.
    let (head, input) = data.split_at(data.len().min(4));
    let mut cuts: Vec<usize> = head.iter().map(|&b| b as usize * input.len() / 256).collect();
    cuts.sort_unstable();

    let wire = encode(&mut DataEncoder::for_data(), input, &cuts);
    let mut body = Vec::new();
    let mut rest = &wire[..];
    let mut ends = 0;
    while !rest.is_empty() {
        let nl = rest.iter().position(|&b| b == b'\n').expect("unterminated line");
        let line = &rest[..=nl];
        assert!(line.ends_with(b"\r\n"), "bare LF");
        assert!(!line[..line.len() - 2].contains(&b'\r'), "bare CR");
        rest = &rest[nl + 1..];
        if line == b".\r\n" {
            ends += 1;
            assert!(rest.is_empty(), "content after end of data");
            break;
        }
        body.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    assert_eq!(ends, 1);
    assert_eq!(body, normalised(input));

    let bdat = encode(&mut DataEncoder::for_bdat(), input, &cuts);
    assert_eq!(bdat, normalised(input));
});
