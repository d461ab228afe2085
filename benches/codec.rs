//! The data encoder (GB/s of input) and the reply parser.
//!
//! `cargo bench --bench codec`. The encoder runs over a 64 MiB body of
//! ordinary text (CRLF lines of 76 characters, a few starting with a dot),
//! the same text with bare LF line endings (a file on Unix), and the worst
//! case, where every line starts with '.' and ends in a bare LF, so every
//! line needs two insertions.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use smtpc::codec::{DataEncoder, ReplyParser};
use smtpc::Reply;

const SIZE: usize = 64 << 20;

/// CRLF text as mail bodies look: 76-character lines of words, one in 50
/// starting with a dot.
fn ordinary() -> Vec<u8> {
    let words = [
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "mail",
    ];
    let mut out = Vec::with_capacity(SIZE + 128);
    let mut line = 0usize;
    while out.len() < SIZE {
        if line % 50 == 0 {
            out.push(b'.');
        }
        let start = out.len();
        let mut w = line;
        while out.len() - start < 74 {
            out.extend_from_slice(words[w % words.len()].as_bytes());
            out.push(b' ');
            w = w.wrapping_mul(7).wrapping_add(3);
        }
        out.extend_from_slice(b"\r\n");
        line += 1;
    }
    out.truncate(SIZE);
    out
}

/// The same text with bare LF line endings, as files on Unix have it:
/// every line needs a CR inserted.
fn ordinary_lf() -> Vec<u8> {
    let mut out = Vec::with_capacity(SIZE);
    for line in ordinary().split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(&line[..line.len() - 2]);
        out.push(b'\n');
    }
    out
}

/// Every line is ".x" and a bare LF.
fn worst() -> Vec<u8> {
    b".x\n".iter().copied().cycle().take(SIZE).collect()
}

fn encoder(c: &mut Criterion) {
    let mut g = c.benchmark_group("encoder");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(SIZE as u64));
    for (name, input) in [
        ("ordinary", ordinary()),
        ("ordinary-lf", ordinary_lf()),
        ("worst", worst()),
    ] {
        // What the client does with DATA: pieces into a 256 KiB buffer,
        // large runs passed through (here: counted, as a socket would take
        // them without a copy).
        g.bench_with_input(BenchmarkId::new("data", name), &input, |b, input| {
            let mut buf = Vec::with_capacity(256 << 10);
            b.iter(|| {
                let mut direct = 0usize;
                let mut put = |p: &[u8]| -> Result<(), ()> {
                    if buf.len() + p.len() > buf.capacity() {
                        direct += buf.len();
                        buf.clear();
                    }
                    if p.len() >= 128 << 10 {
                        direct += p.len();
                    } else {
                        buf.extend_from_slice(p);
                    }
                    Ok(())
                };
                let mut enc = DataEncoder::for_data();
                enc.encode(black_box(input), &mut put).unwrap();
                enc.finish(&mut put).unwrap();
                black_box(direct + buf.len())
            })
        });
        // Everything copied into one output buffer.
        g.bench_with_input(BenchmarkId::new("data-copy", name), &input, |b, input| {
            let mut out = Vec::with_capacity(SIZE * 2 + 16);
            b.iter(|| {
                out.clear();
                let mut put = |p: &[u8]| -> Result<(), ()> {
                    out.extend_from_slice(p);
                    Ok(())
                };
                let mut enc = DataEncoder::for_data();
                enc.encode(black_box(input), &mut put).unwrap();
                enc.finish(&mut put).unwrap();
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn replies(c: &mut Criterion) {
    let mut g = c.benchmark_group("reply");
    let ehlo = b"250-fastsink.bench.local\r\n250-PIPELINING\r\n250-SIZE 1073741824\r\n\
                 250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n250 DSN\r\n";
    let queued = b"250 2.0.0 Ok: queued as 4XyZ12AbC\r\n";
    for (name, bytes) in [("queued", &queued[..]), ("ehlo", &ehlo[..])] {
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new("parse", name), bytes, |b, bytes| {
            b.iter(|| black_box(Reply::parse(black_box(bytes)).unwrap()))
        });
    }
    // A pipelined group's replies, line by line through one parser.
    let group =
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n";
    g.throughput(Throughput::Elements(4));
    g.bench_function("push_line/group-of-4", |b| {
        let mut parser = ReplyParser::new();
        b.iter(|| {
            let mut n = 0;
            for line in group.split_inclusive(|&b| b == b'\n') {
                if parser.push_line(black_box(line)).unwrap().is_some() {
                    n += 1;
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, encoder, replies);
criterion_main!(benches);
