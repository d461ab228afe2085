//! A message prepared once and sent many times.
//!
//! Sending a body from memory costs a scan of every byte on each send:
//! line endings, dots that start a line, 8-bit bytes. A [`Message`] does
//! that scan once, keeps the content in the form BDAT sends (CRLF line
//! endings) and notes where DATA must double a dot, so each later send
//! only writes: the same message to many envelopes, or a retry, costs no
//! encoding at all.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use crate::block::{fill, IO_BLOCK};
use crate::encoder::{canonical, has_8bit, line_start_dots, stuffed, DataEncoder};
use crate::error::Error;

/// Message content checked and normalised once, ready to be sent any
/// number of times with [`Client::send_message`](crate::Client::send_message)
/// or in a [`Client::send_batch`](crate::Client::send_batch).
///
/// Line endings are made CRLF (a bare CR or LF becomes CRLF, and a last
/// line without one gets one), exactly as every other way of sending does.
/// Content that is already so is borrowed, not copied.
///
/// ```
/// use smtpc::Message;
///
/// let message = Message::new(b"Subject: hi\n\n.signature\n");
/// assert_eq!(message.as_bytes(), b"Subject: hi\r\n\r\n.signature\r\n");
/// assert_eq!(message.len(), 27); // what SIZE= declares
/// assert!(!message.is_8bit());
/// ```
#[derive(Debug, Clone)]
pub struct Message<'a> {
    content: Cow<'a, [u8]>,
    /// Offsets of the dots that start a line: DATA doubles each.
    dots: Vec<usize>,
    eight_bit: bool,
}

impl<'a> Message<'a> {
    /// Checks and normalises `content`; borrows it when it is already CRLF
    /// text.
    pub fn new(content: &'a [u8]) -> Self {
        Self::prepared(canonical(content))
    }

    fn prepared(content: Cow<'a, [u8]>) -> Self {
        let dots = line_start_dots(&content);
        let eight_bit = has_8bit(&content);
        Message {
            content,
            dots,
            eight_bit,
        }
    }

    /// The content as BDAT sends it: CRLF line endings, ending with CRLF
    /// unless empty.
    pub fn as_bytes(&self) -> &[u8] {
        &self.content
    }

    /// The size of the content in octets, as `SIZE=` declares it (RFC 1870:
    /// with CRLF line endings, without DATA's dot-stuffing).
    pub fn len(&self) -> usize {
        self.content.len()
    }

    /// True for a message with no content at all.
    pub fn is_empty(&self) -> bool {
        self.content.is_empty()
    }

    /// True if the content has 8-bit bytes (it is then sent with
    /// `BODY=8BITMIME`, and refused by a server without 8BITMIME).
    pub fn is_8bit(&self) -> bool {
        self.eight_bit
    }

    /// A message that owns its content, to keep it beyond the input's
    /// lifetime.
    pub fn into_owned(self) -> Message<'static> {
        Message {
            content: Cow::Owned(self.content.into_owned()),
            dots: self.dots,
            eight_bit: self.eight_bit,
        }
    }

    /// Hands DATA's content to `put` in order, in as few pieces as the
    /// dots allow: the runs of the content between the dots to double, and
    /// those dots; then the end-of-data mark.
    pub(crate) fn data_pieces<E>(
        &self,
        put: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        stuffed(&self.content, &self.dots, put)
    }
}

impl From<Vec<u8>> for Message<'static> {
    /// Takes the content over; it is copied only if it has to change.
    fn from(content: Vec<u8>) -> Self {
        let content = match canonical(&content) {
            Cow::Borrowed(_) => content,
            Cow::Owned(changed) => changed,
        };
        Message::prepared(Cow::Owned(content))
    }
}

impl From<String> for Message<'static> {
    fn from(content: String) -> Self {
        Message::from(content.into_bytes())
    }
}

impl<'a> From<&'a [u8]> for Message<'a> {
    fn from(content: &'a [u8]) -> Self {
        Message::new(content)
    }
}

impl<'a> From<&'a str> for Message<'a> {
    fn from(content: &'a str) -> Self {
        Message::new(content.as_bytes())
    }
}

/// A message in a file, checked once and then sent from the file each
/// time, in constant memory whatever its size.
///
/// Preparing reads the file once: its size with CRLF line endings (what
/// `SIZE=` declares) and whether it has 8-bit bytes. When the file is
/// already CRLF text and the server offers CHUNKING, each BDAT chunk goes
/// from the file to the socket without passing through the client (on
/// Linux over plain TCP, by `sendfile(2)`; over TLS, read and written in
/// large blocks); any other way, the file is read and encoded as it is
/// sent, like a body given to [`Client::send`](crate::Client::send).
///
/// The file must not change while the message is in use: a send first
/// checks its length and modification time and refuses, before anything
/// goes on the wire, a file that changed since it was prepared (a change
/// that keeps both is not seen; the content is then sent as it is, still
/// framed by BDAT or dot-stuffed for DATA, so it cannot end the message
/// early). A file cut short during a send breaks the connection, since
/// the server was promised more bytes.
///
/// `sendfile(2)` would raise SIGPIPE when the server has closed the
/// connection, killing a host program that has not ignored it (a C
/// program, say): smtpc blocks SIGPIPE on the sending thread for the
/// duration of the call and takes back any it raised, so the program sees
/// only the error.
///
/// ```no_run
/// use smtpc::{Client, Envelope, MessageFile};
/// let mut client = Client::builder("127.0.0.1").port(2525).connect()?;
/// let message = MessageFile::open("/var/spool/outgoing/1234.eml")?;
/// let envelope = Envelope::new("a@example.org", ["b@example.org"])?;
/// client.send_message(&envelope, &message)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MessageFile {
    /// Locked for each read or copy, which first seeks: a message shared
    /// between threads is never read from the wrong place.
    file: Mutex<File>,
    /// The size on the wire with CRLF line endings.
    len: u64,
    /// The file's own size, and its modification time, when prepared.
    stamp: (u64, Option<SystemTime>),
    /// The file is CRLF text already (BDAT can send it unchanged).
    canonical: bool,
    eight_bit: bool,
}

impl MessageFile {
    /// Opens and prepares the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        MessageFile::new(File::open(path)?)
    }

    /// Prepares an open file, reading it from its start. It must be a
    /// regular file (a pipe cannot be read twice).
    pub fn new(mut file: File) -> io::Result<Self> {
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a message file must be a regular file",
            ));
        }
        let stamp = stamp_of(&meta);
        file.seek(SeekFrom::Start(0))?;
        let mut block = vec![0u8; IO_BLOCK];
        let mut encoder = DataEncoder::for_bdat();
        let mut plan = Vec::new();
        let (mut read, mut len, mut eight_bit) = (0u64, 0u64, false);
        loop {
            let (n, ended) = fill(&mut file, &mut block)?;
            read += n as u64;
            eight_bit |= has_8bit(&block[..n]);
            len += encoder.plan(&block[..n], ended, &mut plan) as u64;
            if ended {
                break;
            }
        }
        if read != stamp.0 {
            return Err(io::Error::other("the file changed while it was read"));
        }
        Ok(MessageFile {
            file: Mutex::new(file),
            len,
            stamp,
            // Every change the encoder makes adds bytes.
            canonical: len == read,
            eight_bit,
        })
    }

    /// The size of the content in octets, as `SIZE=` declares it (with CRLF
    /// line endings, without DATA's dot-stuffing).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True if the content has 8-bit bytes.
    pub fn is_8bit(&self) -> bool {
        self.eight_bit
    }

    /// True if the file is CRLF text already, so that BDAT can send it
    /// unchanged, straight from the file.
    pub fn is_crlf(&self) -> bool {
        self.canonical
    }

    /// Fails if the file changed since it was prepared (its size or
    /// modification time): what was declared of it no longer holds.
    pub(crate) fn check(&self) -> Result<(), Error> {
        self.at(0).map(drop)
    }

    /// The file, positioned at `offset`, locked for as long as the guard
    /// lives. Fails if the file changed since it was prepared.
    pub(crate) fn at(&self, offset: u64) -> Result<MutexGuard<'_, File>, Error> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let changed =
            || Error::InvalidInput("the message file changed since it was prepared".into());
        if file
            .metadata()
            .map(|m| stamp_of(&m))
            .map_err(|_| changed())?
            != self.stamp
        {
            return Err(changed());
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|source| Error::Io {
                during: "reading the message".into(),
                source,
            })?;
        Ok(file)
    }

    /// The file's content from its start, for sending it encoded.
    pub(crate) fn reader(&self) -> impl Read + '_ {
        FileReader { file: self, pos: 0 }
    }
}

/// Reads a [`MessageFile`] from where it left off, locking the file for
/// each read (see [`MessageFile::at`]).
struct FileReader<'f> {
    file: &'f MessageFile,
    pos: u64,
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut file = self.file.at(self.pos).map_err(|e| match e {
            Error::Io { source, .. } => source,
            other => io::Error::other(other.to_string()),
        })?;
        let n = file.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// What tells a changed file: its size and modification time.
fn stamp_of(meta: &std::fs::Metadata) -> (u64, Option<SystemTime>) {
    (meta.len(), meta.modified().ok())
}

/// What [`Client::send_batch`](crate::Client::send_batch) takes as a
/// message's content: bytes (`&[u8]`, `Vec<u8>`, `&str`, anything
/// `AsRef<[u8]>`), which are checked as they are sent, or a [`Message`]
/// or [`MessageFile`] (or a reference to one), checked once beforehand.
///
/// This trait is sealed: it cannot be implemented outside smtpc.
pub trait Content: private::Sealed {}

impl<T: private::Sealed + ?Sized> Content for T {}

pub(crate) mod private {
    use super::{Message, MessageFile};

    /// A message's content as the engine sees it.
    #[derive(Clone, Copy)]
    pub enum Payload<'b> {
        Bytes(&'b [u8]),
        Prepared(&'b Message<'b>),
        File(&'b MessageFile),
    }

    pub trait Sealed {
        fn payload(&self) -> Payload<'_>;
    }

    impl<T: AsRef<[u8]> + ?Sized> Sealed for T {
        fn payload(&self) -> Payload<'_> {
            Payload::Bytes(self.as_ref())
        }
    }

    impl Sealed for Message<'_> {
        fn payload(&self) -> Payload<'_> {
            Payload::Prepared(self)
        }
    }

    impl Sealed for &Message<'_> {
        fn payload(&self) -> Payload<'_> {
            Payload::Prepared(self)
        }
    }

    impl Sealed for MessageFile {
        fn payload(&self) -> Payload<'_> {
            Payload::File(self)
        }
    }

    impl Sealed for &MessageFile {
        fn payload(&self) -> Payload<'_> {
            Payload::File(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::{encode_all, DataEncoder};
    use proptest::prelude::*;
    use testkit::oracle::{normalised, unstuff};

    fn data_wire(m: &Message<'_>) -> Vec<u8> {
        let mut wire = Vec::new();
        let _ = m.data_pieces(&mut |p: &[u8]| -> Result<(), ()> {
            wire.extend_from_slice(p);
            Ok(())
        });
        wire
    }

    #[test]
    fn crlf_text_is_borrowed_and_the_rest_copied() {
        let text = b"a\r\n.b\r\n";
        assert!(matches!(Message::new(text).content, Cow::Borrowed(_)));
        assert!(matches!(Message::new(b"").content, Cow::Borrowed(_)));
        let m = Message::new(b"a\n.b");
        assert!(matches!(m.content, Cow::Owned(_)));
        assert_eq!(m.as_bytes(), b"a\r\n.b\r\n");
        let owned = Message::from(b"x\r\n".to_vec());
        assert_eq!((owned.len(), owned.is_empty()), (3, false));
    }

    #[test]
    fn data_doubles_the_dots_that_start_a_line() {
        let m = Message::new(b".a\r\nb.c\r\n..\r\n\r\n.");
        assert_eq!(m.dots, [0, 9, 15]);
        assert_eq!(data_wire(&m), b"..a\r\nb.c\r\n...\r\n\r\n..\r\n.\r\n");
        assert_eq!(data_wire(&Message::new(b"")), b".\r\n");
    }

    #[test]
    fn eight_bit_is_noted() {
        assert!(Message::from("caf\u{e9}\r\n".to_owned()).is_8bit());
        assert!(!Message::from("cafe\r\n").is_8bit());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// A prepared message goes on the wire byte for byte as the
        /// streaming encoder would send the same input, for DATA and BDAT.
        #[test]
        fn same_wire_as_the_encoder(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), any::<u8>()], 0..300),
        ) {
            let m = Message::new(&input);
            prop_assert_eq!(m.as_bytes(), &normalised(&input)[..]);
            prop_assert_eq!(m.as_bytes(), &encode_all(&input, DataEncoder::for_bdat())[..]);
            let wire = data_wire(&m);
            prop_assert_eq!(&wire, &encode_all(&input, DataEncoder::for_data()));
            prop_assert_eq!(unstuff(&wire), (normalised(&input), 1));
            prop_assert_eq!(m.is_8bit(), has_8bit(&input));
            let owned = Message::from(input.clone());
            prop_assert_eq!(owned.as_bytes(), m.as_bytes());
            prop_assert_eq!(owned.dots, m.dots);
        }
    }
}
