//! Certificates the tests make: a new certificate authority and a server certificate for
//! 127.0.0.1 and localhost signed by it (rcgen, on ring), for the TLS SMTP servers and the
//! HTTPS server.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use std::path::{Path, PathBuf};

/// A CA and a server certificate it signed, with the server's key.
pub struct TestCertificates {
    /// The CA's certificate, PEM.
    pub ca_pem: String,
    /// The CA's certificate, DER (for a client's root store).
    pub ca_der: Vec<u8>,
    /// The server's certificate, PEM.
    pub cert_pem: String,
    /// The server's certificate, DER (to tell which certificate a server presented).
    pub cert_der: Vec<u8>,
    /// The server's private key, PEM (PKCS#8).
    pub key_pem: String,
}

impl TestCertificates {
    /// A new CA (its own key, so a new one each time) and a server certificate it signed.
    pub fn new() -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name.push(DnType::CommonName, "Kanect test CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("the CA");
        let key = KeyPair::generate().expect("server key");
        let server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("server parameters")
            .signed_by(&key, &ca)
            .expect("the server certificate");
        TestCertificates {
            ca_pem: ca.pem(),
            ca_der: ca.der().to_vec(),
            cert_pem: server.pem(),
            cert_der: server.der().to_vec(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes the CA (`ca.pem`), the server certificate (`server.pem`) and its key
    /// (`server.key`) into `dir`.
    pub fn write(&self, dir: &Path) {
        std::fs::write(dir.join("ca.pem"), &self.ca_pem).expect("ca.pem");
        std::fs::write(dir.join("server.pem"), &self.cert_pem).expect("server.pem");
        std::fs::write(dir.join("server.key"), &self.key_pem).expect("server.key");
    }
}

/// A certificate's files for a server: `server.pem` and `server.key` (and `ca.pem`) in a
/// temporary directory.
pub struct CertFiles {
    pub dir: tempfile::TempDir,
}

impl CertFiles {
    pub fn new(certificates: &TestCertificates) -> Self {
        let files = CertFiles { dir: tempfile::tempdir().expect("temp dir") };
        certificates.write(files.dir.path());
        files
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }
}
