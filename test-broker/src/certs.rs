//! Test certificates, made at test time with rcgen.

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A test CA with a server certificate (for `127.0.0.1` and `localhost`), a client
/// certificate, and an unrelated CA that signed neither.
#[derive(Debug, Clone)]
pub struct Certs {
    /// The CA that signed the server and client certificates (PEM).
    pub ca_pem: String,
    /// Server certificate (PEM).
    pub server_pem: String,
    /// Server private key (PEM).
    pub server_key_pem: String,
    /// Client certificate (PEM).
    pub client_pem: String,
    /// Client private key (PEM).
    pub client_key_pem: String,
    /// A CA that signed nothing here: trusting only it must fail.
    pub other_ca_pem: String,
}

fn new_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

impl Certs {
    /// Makes a fresh set.
    pub fn generate() -> Certs {
        let ca = new_ca("mqtt test CA");
        let other = ca_pem(&new_ca("unrelated CA"));
        let server_key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "mqtt test broker");
        let server = params.signed_by(&server_key, &ca).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "mqtt test client");
        let client = params.signed_by(&client_key, &ca).unwrap();
        Certs {
            ca_pem: ca_pem(&ca),
            server_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_pem: client.pem(),
            client_key_pem: client_key.serialize_pem(),
            other_ca_pem: other,
        }
    }

    pub(crate) fn write_server_files(&self, dir: &Path) {
        std::fs::write(dir.join("ca.pem"), &self.ca_pem).unwrap();
        std::fs::write(dir.join("server.pem"), &self.server_pem).unwrap();
        std::fs::write(dir.join("server.key"), &self.server_key_pem).unwrap();
    }
}

fn ca_pem(ca: &CertifiedIssuer<'static, KeyPair>) -> String {
    ca.pem()
}
