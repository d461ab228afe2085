//! Message content as it goes on the wire: line endings normalised to CRLF,
//! dot-stuffing for DATA, and the end-of-data mark.
//!
//! Every bare LF and bare CR becomes CRLF (RFC 5321 2.3.8). This is what
//! keeps a caller's body from smuggling a second end-of-data (`\n.\n`,
//! `\r.\r`...) that a lenient server would honour. The encoder works on
//! blocks of any size and keeps its state between them, so a message of any
//! length is encoded in constant memory.

use memchr::memchr2_iter;

/// Streaming encoder for message content.
///
/// The output is the input with short insertions: a CR before a bare LF,
/// an LF after a bare CR, a dot before a dot that starts a line, and at the
/// end a final CRLF and, for DATA, the end-of-data mark. It is handed out
/// as pieces, runs of the input and those insertions, so a caller can copy
/// them into a buffer or write large runs straight out.
///
/// ```
/// use smtpc::codec::DataEncoder;
/// let mut enc = DataEncoder::for_data();
/// let mut wire = Vec::new();
/// let mut put = |piece: &[u8]| -> Result<(), ()> { wire.extend_from_slice(piece); Ok(()) };
/// enc.encode(b"Subject: hi\n\n.hidden\nend", &mut put).unwrap();
/// enc.finish(&mut put).unwrap();
/// assert_eq!(wire, b"Subject: hi\r\n\r\n..hidden\r\nend\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DataEncoder {
    stuff_dots: bool,
    /// The last byte of the content so far; `None` before the first.
    prev: Option<u8>,
}

/// The mark that ends the content of DATA.
const END_OF_DATA: &[u8] = b".\r\n";

/// Bytes checked at a time by the fast path: a window with nothing to
/// change is passed over with one vectorised test.
const WINDOW: usize = 128;

/// One piece of encoded output: a run of the input (by offsets), or one
/// of the encoder's short insertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    Run(usize, usize),
    Insert(&'static [u8]),
}

impl Piece {
    /// The bytes of this piece, given the input it was planned over.
    #[inline]
    pub(crate) fn bytes<'a>(&self, input: &'a [u8]) -> &'a [u8] {
        match *self {
            Piece::Run(from, to) => &input[from..to],
            Piece::Insert(bytes) => bytes,
        }
    }
}

/// What goes before byte `c` when the byte before it was `p` (`None` at the
/// start of the message). Every rule looks at one pair of bytes only, which
/// is what lets the fast path test a whole window at once.
#[inline]
fn insertion(p: Option<u8>, c: u8, stuff: bool) -> Option<&'static [u8]> {
    let line_start = matches!(p, None | Some(b'\n'));
    match (p, c) {
        // A bare LF becomes CRLF.
        (p, b'\n') if p != Some(b'\r') => Some(b"\r"),
        // A bare CR becomes CRLF, and what follows starts a line.
        (Some(b'\r'), b'.') if stuff => Some(b"\n."),
        (Some(b'\r'), c) if c != b'\n' => Some(b"\n"),
        // A dot that starts a line is doubled.
        (_, b'.') if stuff && line_start => Some(b"."),
        _ => None,
    }
}

/// True when no byte of `cur` needs an insertion; `prev[i]` is the byte
/// before `cur[i]`. Branch-free, so that the compiler vectorises it.
#[inline]
fn clean(prev: &[u8], cur: &[u8], stuff: bool) -> bool {
    let mut bad = 0u8;
    for (&p, &c) in prev.iter().zip(cur) {
        let lf = c == b'\n';
        let cr = p == b'\r';
        bad |= ((lf & !cr) | (cr & !lf) | (stuff & (c == b'.') & (p == b'\n'))) as u8;
    }
    bad == 0
}

impl DataEncoder {
    /// For DATA: normalise line endings, dot-stuff, end with `.` CRLF.
    pub fn for_data() -> Self {
        DataEncoder {
            stuff_dots: true,
            prev: None,
        }
    }

    /// For BDAT: normalise line endings only (no dot-stuffing, no end mark).
    pub fn for_bdat() -> Self {
        DataEncoder {
            stuff_dots: false,
            prev: None,
        }
    }

    /// Encodes the next block of the message into `out`, in order.
    fn scan<O: Output>(&mut self, input: &[u8], out: &mut O) -> Result<(), O::Error> {
        let Some(&first) = input.first() else {
            return Ok(());
        };
        let stuff = self.stuff_dots;
        let mut from = 0; // first byte not yet handed out
                          // The run up to `at`, then `insert`; the input resumes at `resume`.
        macro_rules! mark {
            ($at:expr, $insert:expr, $resume:expr) => {{
                let at = $at;
                if from < at {
                    out.run(from, at)?;
                }
                out.insert($insert)?;
                from = $resume;
            }};
        }
        if let Some(insert) = insertion(self.prev, first, stuff) {
            mark!(0, insert, 0);
        }
        // Two modes. Window mode passes over runs of windows that need no
        // change with one vectorised test each: fast on CRLF text. A
        // window that needs a change hands over to line mode, which visits
        // only the bytes at and after each CR and LF: fast on LF text. Two
        // lines in a row that need nothing hand back to window mode.
        let len = input.len();
        let mut pos = 1; // every position before this one is decided
        while pos < len {
            let end = (pos + WINDOW).min(len);
            if clean(&input[pos - 1..end - 1], &input[pos..end], stuff) {
                pos = end;
                continue;
            }
            let mut quiet_lines = 0;
            let mut resume = len;
            for found in memchr2_iter(b'\r', b'\n', &input[pos - 1..]) {
                // The rules of `insertion` for the two places a CR or an LF
                // at `j` decides: an LF itself (unless window mode already
                // did), and the byte after it unless that is an LF (which
                // decides for itself).
                let j = pos - 1 + found;
                let after = j + 1;
                let lf = input[j] == b'\n';
                let next = input.get(after).copied();
                let dot = stuff && next == Some(b'.');
                let mut changed = true;
                if lf && j >= pos && input[j - 1] != b'\r' {
                    // A bare LF goes out as CRLF, with the dot a line
                    // starting with one needs: one piece, not two.
                    mark!(j, if dot { b"\r\n." } else { b"\r\n" }, after);
                } else if lf && dot {
                    mark!(after, b".", after);
                } else if !lf && next.is_some_and(|c| c != b'\n') {
                    mark!(after, if dot { b"\n." } else { b"\n" }, after);
                } else {
                    changed = false;
                }
                quiet_lines = if changed {
                    0
                } else {
                    quiet_lines + lf as usize
                };
                if quiet_lines == 2 {
                    resume = after;
                    break;
                }
            }
            pos = resume;
        }
        self.prev = input.last().copied();
        if from < input.len() {
            out.run(from, input.len())?;
        }
        Ok(())
    }

    /// What [`DataEncoder::finish`] adds; resets the encoder.
    fn tail(&mut self) -> [&'static [u8]; 2] {
        let eol: &'static [u8] = match self.prev {
            None | Some(b'\n') => b"",
            Some(b'\r') => b"\n",
            Some(_) => b"\r\n",
        };
        self.prev = None;
        [eol, if self.stuff_dots { END_OF_DATA } else { b"" }]
    }

    /// Encodes the next block of the message, passing each piece of output
    /// to `put` in order.
    pub fn encode<E>(
        &mut self,
        input: &[u8],
        put: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.scan(input, &mut Put { input, put })
    }

    /// Ends the message: a final CRLF if the last line had none and, for
    /// DATA, the end-of-data mark. The encoder is then ready for the next
    /// message.
    pub fn finish<E>(&mut self, put: &mut impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        for bytes in self.tail() {
            if !bytes.is_empty() {
                put(bytes)?;
            }
        }
        Ok(())
    }

    /// Encodes `input` into `plan` (cleared first) as pieces that refer to
    /// the input instead of copying it, and returns the encoded length. With
    /// `last`, [`DataEncoder::finish`] is planned too. This is how a BDAT
    /// chunk's size is known before any of it is written, in one pass and
    /// without a copy: an already-CRLF body is a single run.
    pub(crate) fn plan(&mut self, input: &[u8], last: bool, plan: &mut Vec<Piece>) -> usize {
        plan.clear();
        let mut out = Plan { plan, len: 0 };
        let _ = self.scan(input, &mut out);
        if last {
            for bytes in self.tail() {
                if !bytes.is_empty() {
                    let _ = out.insert(bytes);
                }
            }
        }
        out.len
    }
}

/// Where [`DataEncoder::scan`] hands its output.
trait Output {
    type Error;
    /// Bytes `from..to` of the input, unchanged.
    fn run(&mut self, from: usize, to: usize) -> Result<(), Self::Error>;
    /// Bytes that are not in the input.
    fn insert(&mut self, bytes: &'static [u8]) -> Result<(), Self::Error>;
}

/// Output as slices, to a caller's function.
struct Put<'a, F> {
    input: &'a [u8],
    put: &'a mut F,
}

impl<E, F: FnMut(&[u8]) -> Result<(), E>> Output for Put<'_, F> {
    type Error = E;
    #[inline]
    fn run(&mut self, from: usize, to: usize) -> Result<(), E> {
        (self.put)(&self.input[from..to])
    }
    #[inline]
    fn insert(&mut self, bytes: &'static [u8]) -> Result<(), E> {
        (self.put)(bytes)
    }
}

/// Output as a plan of pieces that refer to the input, and its length.
struct Plan<'a> {
    plan: &'a mut Vec<Piece>,
    len: usize,
}

impl Output for Plan<'_> {
    type Error = std::convert::Infallible;
    fn run(&mut self, from: usize, to: usize) -> Result<(), Self::Error> {
        self.len += to - from;
        self.plan.push(Piece::Run(from, to));
        Ok(())
    }
    fn insert(&mut self, bytes: &'static [u8]) -> Result<(), Self::Error> {
        self.len += bytes.len();
        self.plan.push(Piece::Insert(bytes));
        Ok(())
    }
}

/// Output as the encoded content itself, borrowed from the input for as
/// long as nothing has changed and copied from the first change on.
struct Canonical<'a> {
    input: &'a [u8],
    /// The input up to here is the output so far (while `copy` is None).
    upto: usize,
    copy: Option<Vec<u8>>,
}

impl Canonical<'_> {
    fn copy(&mut self) -> &mut Vec<u8> {
        let (input, upto) = (self.input, self.upto);
        self.copy.get_or_insert_with(|| {
            let mut v = Vec::with_capacity(input.len() + input.len() / 16 + 2);
            v.extend_from_slice(&input[..upto]);
            v
        })
    }
}

impl Output for Canonical<'_> {
    type Error = std::convert::Infallible;
    fn run(&mut self, from: usize, to: usize) -> Result<(), Self::Error> {
        if self.copy.is_none() && from == self.upto {
            self.upto = to;
        } else {
            let input = self.input;
            self.copy().extend_from_slice(&input[from..to]);
        }
        Ok(())
    }
    fn insert(&mut self, bytes: &'static [u8]) -> Result<(), Self::Error> {
        self.copy().extend_from_slice(bytes);
        Ok(())
    }
}

/// The whole content as BDAT sends it (CRLF line endings, a final CRLF
/// unless empty), borrowed when `input` is already so: one scan, and no
/// copy of a body that is already CRLF text.
pub(crate) fn canonical(input: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let mut enc = DataEncoder::for_bdat();
    let mut out = Canonical {
        input,
        upto: 0,
        copy: None,
    };
    let _ = enc.scan(input, &mut out);
    for bytes in enc.tail() {
        if !bytes.is_empty() {
            let _ = out.insert(bytes);
        }
    }
    match out.copy {
        Some(copy) => std::borrow::Cow::Owned(copy),
        None => std::borrow::Cow::Borrowed(&input[..out.upto]),
    }
}

/// Offsets of the dots that start a line in `text` (CRLF text, as
/// [`canonical`] makes it): DATA doubles each.
pub(crate) fn line_start_dots(text: &[u8]) -> Vec<usize> {
    let mut dots: Vec<usize> = memchr::memmem::find_iter(text, b"\n.")
        .map(|i| i + 1)
        .collect();
    if text.first() == Some(&b'.') {
        dots.insert(0, 0);
    }
    dots
}

/// DATA's content for CRLF `text` whose line-starting dots are at `dots`
/// (from [`line_start_dots`]), handed to `put` in as few pieces as the
/// dots allow: the runs between them, each dot doubled, then the
/// end-of-data mark. The same bytes as [`DataEncoder::for_data`] makes of
/// `text`, without a scan.
pub(crate) fn stuffed<E>(
    text: &[u8],
    dots: &[usize],
    put: &mut impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut from = 0;
    for &dot in dots {
        if from < dot {
            put(&text[from..dot])?;
        }
        put(b".")?;
        from = dot;
    }
    if from < text.len() {
        put(&text[from..])?;
    }
    put(END_OF_DATA)
}

/// True if any byte has the high bit set (the body needs 8BITMIME).
pub fn has_8bit(bytes: &[u8]) -> bool {
    // Word-at-a-time is what the compiler makes of this loop.
    bytes.iter().fold(0u8, |acc, &b| acc | b) & 0x80 != 0
}

/// Encodes a whole message into a new buffer.
#[cfg(test)]
pub(crate) fn encode_all(input: &[u8], mut enc: DataEncoder) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 32 + 8);
    let mut put = |p: &[u8]| -> Result<(), std::convert::Infallible> {
        out.extend_from_slice(p);
        Ok(())
    };
    let _ = enc.encode(input, &mut put);
    let _ = enc.finish(&mut put);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn data(input: &[u8]) -> Vec<u8> {
        encode_all(input, DataEncoder::for_data())
    }

    // The reference shared with the integration tests and the fuzz targets.
    use testkit::oracle::{normalised, unstuff};

    #[test]
    fn examples() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b".\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b"a\r\n", b"a\r\n.\r\n"),
            (b"a\nb\n", b"a\r\nb\r\n.\r\n"),
            (b"a\rb", b"a\r\nb\r\n.\r\n"),
            (b"a\r\r\nb", b"a\r\n\r\nb\r\n.\r\n"),
            (b".", b"..\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"a\n.\nb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\r.\rb", b"a\r\n..\r\nb\r\n.\r\n"),
            (b"a\n.\r\n", b"a\r\n..\r\n.\r\n"),
            (b"..x\r\n.y", b"...x\r\n..y\r\n.\r\n"),
            (b"x.\r\n", b"x.\r\n.\r\n"),
            (b"\xff\xfe\n", b"\xff\xfe\r\n.\r\n"),
            (b"\n", b"\r\n.\r\n"),
        ];
        for (input, want) in cases {
            assert_eq!(data(input), *want, "{input:?}");
        }
    }

    #[test]
    fn bdat_normalises_without_stuffing() {
        let out = encode_all(b".a\n.\rb", DataEncoder::for_bdat());
        assert_eq!(out, b".a\r\n.\r\nb\r\n");
        assert_eq!(encode_all(b"", DataEncoder::for_bdat()), b"");
    }

    #[test]
    fn state_carries_across_blocks() {
        // CR at the end of one block, LF at the start of the next.
        let mut enc = DataEncoder::for_data();
        let mut out = Vec::new();
        let mut put = |p: &[u8]| -> Result<(), ()> {
            out.extend_from_slice(p);
            Ok(())
        };
        for block in [&b"a\r"[..], b"", b"\n.b\r", b"\r", b"\n", b".", b"c"] {
            enc.encode(block, &mut put).unwrap();
        }
        enc.finish(&mut put).unwrap();
        assert_eq!(out, b"a\r\n..b\r\n\r\n..c\r\n.\r\n");
    }

    #[test]
    fn eight_bit_detection() {
        assert!(!has_8bit(b"plain ascii\r\n"));
        assert!(has_8bit("caf\u{e9}".as_bytes()));
        assert!(has_8bit(&[0x80]));
    }

    /// What a plan stands for, written out.
    fn replay(input: &[u8], plan: &[Piece]) -> Vec<u8> {
        plan.iter().flat_map(|p| p.bytes(input).to_vec()).collect()
    }

    #[test]
    fn plan_refers_to_the_input() {
        let mut plan = Vec::new();
        let input = b"a\r\nb\r\n";
        let n = DataEncoder::for_bdat().plan(input, true, &mut plan);
        assert_eq!((n, plan.as_slice()), (6, &[Piece::Run(0, 6)][..]));
        let n = DataEncoder::for_bdat().plan(b"x\ny", true, &mut plan);
        assert_eq!(n, 6);
        assert_eq!(
            plan,
            [
                Piece::Run(0, 1),
                Piece::Insert(b"\r\n"),
                Piece::Run(2, 3),
                Piece::Insert(b"\r\n")
            ]
        );
        let n = DataEncoder::for_data().plan(b".", true, &mut plan);
        assert_eq!(replay(b".", &plan), b"..\r\n.\r\n");
        assert_eq!(n, 7);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Planned chunk by chunk, BDAT content is the CRLF-normalised
        /// input, whatever the chunk boundaries, and each chunk's declared
        /// length is its real length.
        #[test]
        fn bdat_plan_round_trip(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), any::<u8>()], 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            cuts.push(input.len());
            let mut enc = DataEncoder::for_bdat();
            let mut plan = Vec::new();
            let mut wire = Vec::new();
            let mut start = 0;
            for (i, &cut) in cuts.iter().enumerate() {
                let chunk = &input[start..cut];
                let n = enc.plan(chunk, i + 1 == cuts.len(), &mut plan);
                let bytes = replay(chunk, &plan);
                prop_assert_eq!(n, bytes.len());
                wire.extend_from_slice(&bytes);
                start = cut;
            }
            prop_assert_eq!(wire, normalised(&input));
        }

        /// For any bytes split anywhere: no bare CR or LF on the wire, one
        /// end-of-data at the very end, and un-stuffing gives back the
        /// CRLF-normalised input.
        #[test]
        fn data_round_trip(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), any::<u8>()], 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            let mut enc = DataEncoder::for_data();
            let mut wire = Vec::new();
            let mut put = |p: &[u8]| -> Result<(), ()> { wire.extend_from_slice(p); Ok(()) };
            let mut start = 0;
            for cut in cuts.into_iter().chain([input.len()]) {
                enc.encode(&input[start..cut], &mut put).unwrap();
                start = cut;
            }
            enc.finish(&mut put).unwrap();
            prop_assert_eq!(&wire, &data(&input), "splitting changed the output");
            let (body, ends) = unstuff(&wire);
            prop_assert_eq!(ends, 1);
            prop_assert_eq!(body, normalised(&input));
        }

        #[test]
        fn bdat_is_the_normalised_input(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), any::<u8>()], 0..300),
        ) {
            prop_assert_eq!(encode_all(&input, DataEncoder::for_bdat()), normalised(&input));
        }
    }
}
