//! Test certificates, made at test time with rcgen: a test CA, a server
//! certificate for localhost/127.0.0.1/::1, and the bad ones (self-signed,
//! wrong host name, expired), plus rustls server configurations for them.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// A certificate and its key, in PEM and in rustls form.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: CertificateDer<'static>,
    pub key_der: Vec<u8>,
}

impl Leaf {
    /// A rustls server configuration presenting this certificate.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], self.key())
            .expect("server config");
        Arc::new(config)
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

pub struct Pki {
    /// Where the PEM files are.
    pub dir: PathBuf,
    pub ca_pem: String,
    pub ca_der: Vec<u8>,
    /// The CA certificate as a PEM file.
    pub ca_file: PathBuf,
    /// Signed by the CA for localhost, 127.0.0.1 and ::1.
    pub server: Leaf,
    pub server_cert_file: PathBuf,
    pub server_key_file: PathBuf,
    /// Signed by the CA for mail.test only.
    pub named: Leaf,
    /// Signed by the CA for other.example only.
    pub wrong_host: Leaf,
    /// Signed by the CA for localhost, valid 2000-2001.
    pub expired: Leaf,
    /// Self-signed for localhost.
    pub self_signed: Leaf,
    /// A client certificate signed by the CA.
    pub client: Leaf,
    ca_params: CertificateParams,
    ca_key: KeyPair,
}

fn leaf(names: &[&str], issuer: Option<&Issuer<'_, &KeyPair>>, expired: bool) -> Leaf {
    let key = KeyPair::generate().expect("key");
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, names[0].to_string());
    if expired {
        params.not_before = date_time_ymd(2000, 1, 1);
        params.not_after = date_time_ymd(2001, 1, 1);
    } else {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2100, 1, 1);
    }
    let cert = match issuer {
        Some(issuer) => params.signed_by(&key, issuer),
        None => params.self_signed(&key),
    }
    .expect("sign");
    Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        cert_der: cert.der().clone(),
        key_der: key.serialize_der(),
    }
}

impl Pki {
    fn generate() -> Pki {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "smtpc test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        ca_params.not_before = date_time_ymd(2020, 1, 1);
        ca_params.not_after = date_time_ymd(2100, 1, 1);
        let ca = ca_params.self_signed(&ca_key).expect("CA cert");
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let server = leaf(&["localhost", "127.0.0.1", "::1"], Some(&issuer), false);
        let named = leaf(&["mail.test"], Some(&issuer), false);
        let wrong_host = leaf(&["other.example"], Some(&issuer), false);
        let expired = leaf(&["localhost", "127.0.0.1"], Some(&issuer), true);
        let self_signed = leaf(&["localhost", "127.0.0.1"], None, false);
        let client = leaf(&["client.test"], Some(&issuer), false);

        let dir = std::env::temp_dir().join(format!("smtpc-test-pki-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("pki dir");
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write pem");
            path
        };
        let ca_file = write("ca.pem", &ca.pem());
        let server_cert_file = write("server.pem", &server.cert_pem);
        let server_key_file = write("server.key", &server.key_pem);
        Pki {
            dir,
            ca_pem: ca.pem(),
            ca_der: ca.der().to_vec(),
            ca_file,
            server,
            server_cert_file,
            server_key_file,
            named,
            wrong_host,
            expired,
            self_signed,
            client,
            ca_params,
            ca_key,
        }
    }

    /// A server configuration that demands a client certificate from the CA.
    pub fn client_auth_config(&self) -> Arc<ServerConfig> {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca_der.clone()))
            .expect("root");
        let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .expect("verifier");
        let config = ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.server.cert_der.clone()], self.server.key())
            .expect("server config");
        Arc::new(config)
    }

    /// The localhost certificate, offering TLS 1.2 only.
    pub fn tls12_only_config(&self) -> Arc<ServerConfig> {
        let config = ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
            .with_no_client_auth()
            .with_single_cert(vec![self.server.cert_der.clone()], self.server.key())
            .expect("server config");
        Arc::new(config)
    }

    /// Issues another certificate from the CA.
    pub fn issue(&self, names: &[&str]) -> Leaf {
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        leaf(names, Some(&issuer), false)
    }
}

/// The test PKI, made once per test process.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(Pki::generate)
}
