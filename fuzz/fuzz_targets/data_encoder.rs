//! The content encoder round trip, with the input cut at arbitrary points:
//! no bare CR or LF on the wire, exactly one end-of-data at the very end,
//! and un-stuffing gives back the CRLF-normalised input. For BDAT the
//! output is the normalised input itself, and so is a prepared `Message`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpc::codec::{has_8bit, DataEncoder};
use smtpc::Message;

// The reference shared with the unit and integration tests.
use testkit::oracle::{normalised, unstuff};

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
    let mut cuts: Vec<usize> = head
        .iter()
        .map(|&b| b as usize * input.len() / 256)
        .collect();
    cuts.sort_unstable();

    let wire = encode(&mut DataEncoder::for_data(), input, &cuts);
    // unstuff panics on a bare CR or LF and on content after the end.
    let (body, ends) = unstuff(&wire);
    assert_eq!(ends, 1);
    assert_eq!(body, normalised(input));

    let bdat = encode(&mut DataEncoder::for_bdat(), input, &cuts);
    assert_eq!(bdat, normalised(input));

    // A prepared message holds exactly what BDAT sends.
    let message = Message::new(input);
    assert_eq!(message.as_bytes(), &bdat[..]);
    assert_eq!(message.is_8bit(), has_8bit(input));
});
