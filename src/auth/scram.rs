//! SCRAM (RFC 5802; SHA-256: RFC 7677), the client side, without I/O:
//! the client-first message, the client-final message made from the
//! server-first, and the check of the server's signature in the
//! server-final. The password never leaves this side; the proof shows
//! the client knows it, and the server's signature shows the server
//! does. With channel binding (`-PLUS`, RFC 5929 `tls-server-end-point`)
//! the proof also covers the server's TLS certificate, so a man in the
//! middle with another certificate cannot relay the exchange.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use zeroize::Zeroizing;

use super::saslprep::saslprep;

/// The most PBKDF2 iterations a server may ask for: RFC 7677 asks for at
/// least 4096 and servers use 4096 to 15000. More would let a hostile
/// server keep the client busy for minutes before the timeout can act.
pub(crate) const MAX_ITERATIONS: u32 = 1_000_000;

/// Random bytes in the client's nonce (base64: 32 characters).
const NONCE_BYTES: usize = 24;

/// The hash function of a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha1,
    Sha256,
}

fn hmac_of<D: EagerHash>(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<D>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn verify_of<D: EagerHash>(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    let mut mac = Hmac::<D>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    // Constant time: a server probing byte by byte learns nothing.
    mac.verify_slice(tag).is_ok()
}

fn hi_of<D: EagerHash>(password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = vec![0; <D as hmac::digest::Digest>::output_size()];
    pbkdf2::pbkdf2_hmac::<D>(password, salt, iterations, &mut out);
    out
}

impl Hash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => hmac_of::<sha1::Sha1>(key, data),
            Hash::Sha256 => hmac_of::<sha2::Sha256>(key, data),
        }
    }

    fn verify(self, key: &[u8], data: &[u8], tag: &[u8]) -> bool {
        match self {
            Hash::Sha1 => verify_of::<sha1::Sha1>(key, data, tag),
            Hash::Sha256 => verify_of::<sha2::Sha256>(key, data, tag),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        use hmac::digest::Digest;
        match self {
            Hash::Sha1 => sha1::Sha1::digest(data).to_vec(),
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
        }
    }

    /// Hi() of RFC 5802 2.2: PBKDF2 with HMAC.
    fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Hash::Sha1 => hi_of::<sha1::Sha1>(password, salt, iterations),
            Hash::Sha256 => hi_of::<sha2::Sha256>(password, salt, iterations),
        }
    }
}

/// What the client says about channel binding (the GS2 header's flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Binding {
    /// `n`: no binding (no TLS, or the client chose a mechanism without
    /// it while the server offers one with it).
    None,
    /// `y`: the client could bind but the server offers no `-PLUS`
    /// mechanism. A server that does offer one then knows that its offer
    /// was removed on the way, and refuses.
    NotOffered,
    /// `p=tls-server-end-point`: bound to this hash of the server's
    /// certificate (RFC 5929 4.1).
    TlsServerEndPoint(Vec<u8>),
}

impl Binding {
    fn gs2_header(&self) -> &'static str {
        match self {
            Binding::None => "n,,",
            Binding::NotOffered => "y,,",
            Binding::TlsServerEndPoint(_) => "p=tls-server-end-point,,",
        }
    }
}

/// A fresh client nonce from the operating system's random source.
pub(crate) fn nonce() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; NONCE_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(B64.encode(bytes))
}

/// RFC 5802 5.1: `=` and `,` in a user name as `=3D` and `=2C`.
fn saslname(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// Where the exchange is.
enum State {
    /// The client-first message was made; the server-first is due.
    Started,
    /// The client-final message was sent; the server's signature is due.
    Proved {
        server_signature_key: Zeroizing<Vec<u8>>,
        auth_message: String,
    },
    /// The server proved it knows the password.
    Verified,
    /// Something failed; nothing more is answered.
    Failed,
}

/// The client side of one SCRAM exchange.
pub(crate) struct Scram {
    hash: Hash,
    binding: Binding,
    client_first_bare: String,
    nonce: String,
    state: State,
}

impl Scram {
    /// Starts an exchange as `user` with the client nonce `nonce`
    /// (printable, no comma: see [`nonce`]). Fails when the user name is
    /// not valid under SASLprep.
    pub fn new(hash: Hash, user: &str, binding: Binding, nonce: String) -> Result<Scram, String> {
        let user = saslprep(user).map_err(|e| format!("the user name is not usable: {e}"))?;
        let client_first_bare = format!("n={},r={nonce}", saslname(&user));
        Ok(Scram {
            hash,
            binding,
            client_first_bare,
            nonce,
            state: State::Started,
        })
    }

    /// The client-first message, sent with `AUTH`.
    pub fn client_first(&self) -> String {
        format!("{}{}", self.binding.gs2_header(), self.client_first_bare)
    }

    /// Takes the server-first message and gives the client-final one.
    pub fn client_final(&mut self, server_first: &[u8], password: &str) -> Result<String, String> {
        let result = self.prove(server_first, password);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn prove(&mut self, server_first: &[u8], password: &str) -> Result<String, String> {
        if !matches!(self.state, State::Started) {
            return Err("a second server-first message".into());
        }
        let server_first = std::str::from_utf8(server_first)
            .map_err(|_| "the server-first message is not UTF-8".to_owned())?;
        let (nonce, salt, iterations) = parse_server_first(server_first, &self.nonce)?;
        let password = Zeroizing::new(
            saslprep(password)
                .map_err(|e| format!("the password is not usable: {e}"))?
                .into_owned(),
        );

        let mut channel = self.binding.gs2_header().as_bytes().to_vec();
        if let Binding::TlsServerEndPoint(data) = &self.binding {
            channel.extend_from_slice(data);
        }
        let without_proof = format!("c={},r={nonce}", B64.encode(&channel));
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);

        let h = self.hash;
        // The salted password and the keys made of it let anyone log in
        // as the user (or pose as the server): wiped when dropped.
        let salted = Zeroizing::new(h.hi(password.as_bytes(), &salt, iterations));
        let client_key = Zeroizing::new(h.hmac(&salted, b"Client Key"));
        let stored_key = Zeroizing::new(h.digest(&client_key));
        let client_signature = h.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_signature_key = Zeroizing::new(h.hmac(&salted, b"Server Key"));
        self.state = State::Proved {
            server_signature_key,
            auth_message,
        };
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Takes the server-final message: the server's signature must be
    /// the one only a server that knows the password can make.
    pub fn verify(&mut self, server_final: &[u8]) -> Result<(), String> {
        let State::Proved {
            server_signature_key,
            auth_message,
        } = std::mem::replace(&mut self.state, State::Failed)
        else {
            return Err("a server-final message out of turn".into());
        };
        let text = String::from_utf8_lossy(server_final);
        let first = text.split(',').next().unwrap_or("");
        if let Some(error) = first.strip_prefix("e=") {
            return Err(format!("the server reports an error: {}", shown(error)));
        }
        let signature = first
            .strip_prefix("v=")
            .and_then(|v| B64.decode(v).ok())
            .ok_or_else(|| "the server-final message has no signature (v=)".to_owned())?;
        if !self
            .hash
            .verify(&server_signature_key, auth_message.as_bytes(), &signature)
        {
            return Err(
                "the server's signature is wrong: the server does not know the \
                        password, or someone in between is not the server"
                    .into(),
            );
        }
        self.state = State::Verified;
        Ok(())
    }

    /// True once the proof was sent and the server-final is due.
    pub fn proved(&self) -> bool {
        matches!(self.state, State::Proved { .. })
    }

    /// True once the server's signature was verified.
    pub fn verified(&self) -> bool {
        matches!(self.state, State::Verified)
    }
}

/// A server's words in an error message: printable, and not too long.
fn shown(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// RFC 5802 7: `[m=ext,]r=nonce,s=salt,i=count[,ext...]`. The nonce
/// must be ours with the server's part after it.
fn parse_server_first<'a>(
    message: &'a str,
    client_nonce: &str,
) -> Result<(&'a str, Vec<u8>, u32), String> {
    let mut attrs = message.split(',');
    let mut next = |name: &str| {
        attrs
            .next()
            .and_then(|a| a.strip_prefix(name))
            .ok_or_else(|| {
                if message.starts_with("m=") {
                    "the server requires an extension this client does not know (m=)".to_owned()
                } else {
                    format!("the server-first message lacks {name} in its place")
                }
            })
    };
    let nonce = next("r=")?;
    let salt = next("s=")?;
    let iterations = next("i=")?;
    let server_part = nonce.strip_prefix(client_nonce).unwrap_or("");
    if server_part.is_empty() || !nonce.starts_with(client_nonce) {
        return Err("the server's nonce does not extend the client's".into());
    }
    if !nonce.chars().all(|c| c.is_ascii_graphic()) {
        return Err("the server's nonce has characters outside printable ASCII".into());
    }
    let salt = B64
        .decode(salt)
        .ok()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "the salt is not base64".to_owned())?;
    let iterations = iterations
        .parse::<u32>()
        .ok()
        .filter(|i| (1..=MAX_ITERATIONS).contains(i))
        .ok_or_else(|| {
            format!(
                "the iteration count {} is not between 1 and {MAX_ITERATIONS}",
                shown(iterations)
            )
        })?;
    Ok((nonce, salt, iterations))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the client through an exchange of the RFCs' examples.
    fn exchange(
        hash: Hash,
        nonce: &str,
        password: &str,
        server_first: &str,
        server_final: &str,
    ) -> (String, String, Result<(), String>) {
        let mut s = Scram::new(hash, "user", Binding::None, nonce.into()).unwrap();
        let first = s.client_first();
        let last = s.client_final(server_first.as_bytes(), password).unwrap();
        let verified = s.verify(server_final.as_bytes());
        (first, last, verified)
    }

    #[test]
    fn rfc_5802_example_sha_1() {
        let (first, last, verified) = exchange(
            Hash::Sha1,
            "fyko+d2lbbFgONRv9qkxdawL",
            "pencil",
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        );
        assert_eq!(first, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(
            last,
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert_eq!(verified, Ok(()));
    }

    #[test]
    fn rfc_7677_example_sha_256() {
        let (first, last, verified) = exchange(
            Hash::Sha256,
            "rOprNGfwEbeRWgbNEkqO",
            "pencil",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        );
        assert_eq!(first, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(
            last,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(verified, Ok(()));
    }

    #[test]
    fn a_wrong_or_missing_server_signature_fails() {
        let sf = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        // The right signature for another password.
        let (_, _, wrong) = exchange(
            Hash::Sha256,
            "rOprNGfwEbeRWgbNEkqO",
            "pencil2",
            sf,
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        );
        assert!(wrong.unwrap_err().contains("signature is wrong"));
        for bad in ["", "v=", "v=!!", "x=abc", "e=invalid-proof"] {
            let (_, _, r) = exchange(Hash::Sha256, "rOprNGfwEbeRWgbNEkqO", "pencil", sf, bad);
            assert!(r.is_err(), "{bad:?} accepted");
        }
        let (_, _, e) = exchange(
            Hash::Sha256,
            "rOprNGfwEbeRWgbNEkqO",
            "pencil",
            sf,
            "e=channel-bindings-dont-match",
        );
        assert_eq!(
            e.unwrap_err(),
            "the server reports an error: channel-bindings-dont-match"
        );
    }

    #[test]
    fn the_gs2_header_and_channel_binding_data() {
        let mut s = Scram::new(Hash::Sha256, "u,=v", Binding::NotOffered, "abc".into()).unwrap();
        assert_eq!(s.client_first(), "y,,n=u=2C=3Dv,r=abc");
        let last = s.client_final(b"r=abcdef,s=c2FsdA==,i=1", "pw").unwrap();
        assert!(last.starts_with("c=eSws,r=abcdef,p="), "{last}");

        let cert_hash = vec![0xAB; 32];
        let mut s = Scram::new(
            Hash::Sha256,
            "u",
            Binding::TlsServerEndPoint(cert_hash.clone()),
            "abc".into(),
        )
        .unwrap();
        assert_eq!(s.client_first(), "p=tls-server-end-point,,n=u,r=abc");
        let last = s.client_final(b"r=abcdef,s=c2FsdA==,i=1", "pw").unwrap();
        let mut c = b"p=tls-server-end-point,,".to_vec();
        c.extend_from_slice(&cert_hash);
        assert!(
            last.starts_with(&format!("c={},r=abcdef,p=", B64.encode(&c))),
            "{last}"
        );
    }

    #[test]
    fn hostile_server_first_messages_are_refused() {
        for bad in [
            "",
            "r=abc,s=c2FsdA==,i=4096",          // nonce not extended
            "r=xyzdef,s=c2FsdA==,i=4096",       // not our nonce
            "r=abcdef,s=,i=4096",               // empty salt
            "r=abcdef,s=***,i=4096",            // salt not base64
            "r=abcdef,s=c2FsdA==,i=0",          // no iterations
            "r=abcdef,s=c2FsdA==,i=4294967295", // far too many
            "r=abcdef,s=c2FsdA==,i=-1",         //
            "r=abcdef,s=c2FsdA==",              // no count
            "m=ext,r=abcdef,s=c2FsdA==,i=4096", // mandatory extension
            "s=c2FsdA==,r=abcdef,i=4096",       // out of order
            "r=abcd\u{7f}ef,s=c2FsdA==,i=4096", // not printable
        ] {
            let mut s = Scram::new(Hash::Sha256, "u", Binding::None, "abc".into()).unwrap();
            assert!(
                s.client_final(bad.as_bytes(), "pw").is_err(),
                "{bad:?} accepted"
            );
            assert!(s.verify(b"v=AAAA").is_err());
            assert!(!s.verified());
        }
        let mut s = Scram::new(Hash::Sha256, "u", Binding::None, "abc".into()).unwrap();
        let e = s
            .client_final(b"m=x,r=abcdef,s=c2FsdA==,i=1", "pw")
            .unwrap_err();
        assert!(e.contains("(m=)"), "{e}");
        // Extensions after the count are ignored.
        let mut s = Scram::new(Hash::Sha256, "u", Binding::None, "abc".into()).unwrap();
        assert!(s.client_final(b"r=abcdef,s=c2FsdA==,i=1,x=y", "pw").is_ok());
        // A password SASLprep refuses fails without showing it.
        let mut s = Scram::new(Hash::Sha256, "u", Binding::None, "abc".into()).unwrap();
        let e = s
            .client_final(b"r=abcdef,s=c2FsdA==,i=1", "tab\tpw")
            .unwrap_err();
        assert!(e.contains("password") && !e.contains("tab"), "{e}");
    }

    #[test]
    fn nonces_are_fresh_and_printable() {
        let a = nonce().unwrap();
        let b = nonce().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_graphic() && c != ','));
    }

    proptest::proptest! {
        #[test]
        fn any_server_message_is_handled_without_panic(first: Vec<u8>, last: Vec<u8>) {
            let mut s = Scram::new(Hash::Sha1, "u", Binding::None, "n".into()).unwrap();
            let _ = s.client_final(&first, "pw");
            let _ = s.verify(&last);
            let mut prefixed = b"r=nabc,s=c2FsdA==,i=1,".to_vec();
            prefixed.extend_from_slice(&first);
            let mut s = Scram::new(Hash::Sha1, "u", Binding::None, "n".into()).unwrap();
            let proved = s.client_final(&prefixed, "pw");
            proptest::prop_assert_eq!(proved.is_ok(), std::str::from_utf8(&first).is_ok());
            let _ = s.verify(&last);
            proptest::prop_assert!(!s.verified() || last.starts_with(b"v="));
        }
    }
}
