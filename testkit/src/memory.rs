//! An in-memory transport for a client: what it reads is given up front,
//! what it writes is recorded write by write.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

/// An in-memory transport: reads come from a list of chunks (EOF after
/// the last), every write is recorded separately.
pub struct Memory {
    pub input: VecDeque<Vec<u8>>,
    pub writes: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Memory {
    pub fn new(chunks: &[&str]) -> (Memory, Arc<Mutex<Vec<Vec<u8>>>>) {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let m = Memory {
            input: chunks.iter().map(|c| c.as_bytes().to_vec()).collect(),
            writes: writes.clone(),
        };
        (m, writes)
    }
}

impl Memory {
    /// A server's side taken from a fuzz input: its first (up to) three
    /// bytes give the sizes of the chunks the rest is handed out in
    /// (each byte + 1, in turn), so the fuzzer also tries where replies
    /// are cut.
    pub fn from_fuzz_input(input: &[u8]) -> Memory {
        let (sizes, mut data) = input.split_at(input.len().min(3));
        let mut input = VecDeque::new();
        for turn in 0.. {
            if data.is_empty() {
                break;
            }
            let size = sizes
                .get(turn % sizes.len().max(1))
                .map_or(256, |&s| s as usize + 1);
            let (chunk, rest) = data.split_at(size.min(data.len()));
            input.push_back(chunk.to_vec());
            data = rest;
        }
        Memory {
            input,
            writes: Writes::default(),
        }
    }
}

impl Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(chunk) = self.input.front_mut() else {
            return Ok(0);
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            self.input.pop_front();
        }
        Ok(n)
    }
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes.lock().unwrap().push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every write a client made, each apart.
pub type Writes = Arc<Mutex<Vec<Vec<u8>>>>;
