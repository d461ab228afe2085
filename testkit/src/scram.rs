//! The server side of SCRAM (RFC 5802, 7677), written apart from the
//! client's, for scripted servers: it checks the client's proof and its
//! channel binding, and can misbehave as no real server would (a wrong
//! signature, no signature at all, an `e=` error).

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::script::{on_line, respond, Act};

/// How the server behaves once the client's proof is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// As a real server: `334 v=...` with the right signature.
    None,
    /// A signature made with another password.
    WrongSignature,
    /// `235` straight after the proof, without proving anything.
    NoSignature,
}

/// What the server saw, for the tests to check.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// The GS2 header: `n,,`, `y,,` or `p=tls-server-end-point,,`.
    pub gs2_header: String,
    /// The channel binding data that came in `c=` after the header.
    pub binding_data: Vec<u8>,
    /// Whether the client's proof was right.
    pub proof_ok: bool,
    /// The user name (`n=`).
    pub user: String,
}

struct Exchange {
    client_first_bare: String,
    nonce: String,
    server_first: String,
}

/// A scripted SCRAM server for one user.
pub struct ScramServer {
    sha256: bool,
    password: String,
    salt: Vec<u8>,
    iterations: u32,
    /// The binding data expected with `p=tls-server-end-point`.
    expected_binding: Option<Vec<u8>>,
    fault: Fault,
    state: Mutex<Option<Exchange>>,
    seen: Mutex<Seen>,
}

/// RFC 5929 4.1 for a certificate signed with SHA-256 (as rcgen's are):
/// the SHA-256 of its DER.
pub fn tls_server_end_point(cert_der: &[u8]) -> Vec<u8> {
    Sha256::digest(cert_der).to_vec()
}

impl ScramServer {
    /// A server for `password`, SHA-256 or SHA-1, expecting `binding`
    /// when the client binds to the channel.
    pub fn new(sha256: bool, password: &str, binding: Option<Vec<u8>>, fault: Fault) -> Arc<Self> {
        Arc::new(ScramServer {
            sha256,
            password: password.to_owned(),
            salt: b"testkit salt".to_vec(),
            iterations: 4096,
            expected_binding: binding,
            fault,
            state: Mutex::new(None),
            seen: Mutex::new(Seen::default()),
        })
    }

    /// What the server saw.
    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }

    fn hmac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        if self.sha256 {
            let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        } else {
            let mut m = Hmac::<Sha1>::new_from_slice(key).unwrap();
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
    }

    fn h(&self, data: &[u8]) -> Vec<u8> {
        if self.sha256 {
            Sha256::digest(data).to_vec()
        } else {
            Sha1::digest(data).to_vec()
        }
    }

    fn salted(&self, password: &str) -> Vec<u8> {
        if self.sha256 {
            pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(
                password.as_bytes(),
                &self.salt,
                self.iterations,
            )
            .to_vec()
        } else {
            pbkdf2::pbkdf2_hmac_array::<Sha1, 20>(password.as_bytes(), &self.salt, self.iterations)
                .to_vec()
        }
    }

    /// `AUTH MECH client-first` in, `334 server-first` out.
    fn first(&self, line: &str) -> String {
        let Some(b64) = line.split(' ').nth(2) else {
            return "501 5.5.2 no initial response".into();
        };
        let Some(text) = B64.decode(b64).ok().and_then(|b| String::from_utf8(b).ok()) else {
            return "501 5.5.2 not base64".into();
        };
        // gs2-header is "flag,authzid," and the bare message follows.
        let mut parts = text.splitn(3, ',');
        let (flag, authzid, bare) = (parts.next(), parts.next(), parts.next());
        let (Some(flag), Some(authzid), Some(bare)) = (flag, authzid, bare) else {
            return "501 5.5.2 bad client-first".into();
        };
        let mut seen = self.seen.lock().unwrap();
        seen.gs2_header = format!("{flag},{authzid},");
        let mut attrs = bare.split(',');
        seen.user = attrs
            .next()
            .unwrap_or("")
            .trim_start_matches("n=")
            .to_owned();
        let client_nonce = attrs.next().unwrap_or("").trim_start_matches("r=");
        let nonce = format!("{client_nonce}%srv)nonce");
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&self.salt),
            self.iterations
        );
        *self.state.lock().unwrap() = Some(Exchange {
            client_first_bare: bare.to_owned(),
            nonce,
            server_first: server_first.clone(),
        });
        format!("334 {}", B64.encode(&server_first))
    }

    /// The client-final in, `334 v=...` (or a fault) out.
    fn last(&self, line: &str) -> String {
        let state = self.state.lock().unwrap().take();
        let (Some(x), Some(text)) = (
            state,
            B64.decode(line)
                .ok()
                .and_then(|b| String::from_utf8(b).ok()),
        ) else {
            return "501 5.5.2 bad client-final".into();
        };
        let Some((without_proof, proof)) = text.rsplit_once(",p=") else {
            return "501 5.5.2 no proof".into();
        };
        let mut attrs = without_proof.split(',');
        let channel = attrs
            .next()
            .and_then(|c| c.strip_prefix("c="))
            .and_then(|c| B64.decode(c).ok())
            .unwrap_or_default();
        let nonce = attrs
            .next()
            .and_then(|r| r.strip_prefix("r="))
            .unwrap_or("");
        let mut seen = self.seen.lock().unwrap();
        let header = seen.gs2_header.clone();
        if !channel.starts_with(header.as_bytes()) || nonce != x.nonce {
            return "535 5.7.8 channel data or nonce do not match".into();
        }
        seen.binding_data = channel[header.len()..].to_vec();
        if header.starts_with("p=") && Some(&seen.binding_data) != self.expected_binding.as_ref() {
            return format!("334 {}", B64.encode("e=channel-bindings-dont-match"));
        }
        let auth_message = format!("{},{},{without_proof}", x.client_first_bare, x.server_first);
        let salted = self.salted(&self.password);
        let client_key = self.hmac(&salted, b"Client Key");
        let stored_key = self.h(&client_key);
        let signature = self.hmac(&stored_key, auth_message.as_bytes());
        let proof = B64.decode(proof).unwrap_or_default();
        let recovered: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        seen.proof_ok = proof.len() == signature.len() && self.h(&recovered) == stored_key;
        if !seen.proof_ok {
            return "535 5.7.8 Error: authentication failed: authentication failure".into();
        }
        let key_from = match self.fault {
            Fault::WrongSignature => self.salted("not the password"),
            _ => salted,
        };
        let server_key = self.hmac(&key_from, b"Server Key");
        let v = B64.encode(self.hmac(&server_key, auth_message.as_bytes()));
        match self.fault {
            Fault::NoSignature => "235 2.7.0 Authentication successful".into(),
            _ => format!("334 {}", B64.encode(format!("v={v}"))),
        }
    }

    /// The acts for one exchange as `AUTH` arrives with its initial
    /// response: server-first, then the answer to the proof. After a `334
    /// v=` the next line (empty when the client is satisfied, `*` when
    /// not) gets `after` (`235 ...` or `501 ...`).
    pub fn acts(self: &Arc<Self>, after: &str) -> Vec<Act> {
        let (a, b) = (self.clone(), self.clone());
        let mut acts = vec![respond(move |l| a.first(l)), respond(move |l| b.last(l))];
        if self.fault != Fault::NoSignature {
            acts.extend(on_line(after));
        }
        acts
    }
}
