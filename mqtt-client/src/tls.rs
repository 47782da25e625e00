//! TLS with rustls (ring provider): `mqtts://` and `wss://`.

use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::runtime::{BoxIo, Io};

/// The transport under a TLS transport, or `None` if `io` is not one.
pub(crate) fn inner(io: &mut dyn Io) -> Option<&mut dyn Io> {
    let tls = io
        .as_any_mut()
        .downcast_mut::<futures_rustls::client::TlsStream<BoxIo>>()?;
    Some(&mut **tls.get_mut().0)
}

/// TLS settings. By default the server certificate is checked against the Mozilla
/// root store (`webpki-roots`) and the broker's host name.
#[derive(Clone, Default)]
pub struct TlsOptions {
    ca_pem: Option<Vec<u8>>,
    client_pem: Option<(Vec<u8>, Vec<u8>)>,
    dangerous_no_verify: bool,
    config: Option<Arc<ClientConfig>>,
    server_name: Option<String>,
}

impl TlsOptions {
    /// Trust only the CA certificates in this PEM (instead of the public roots).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> TlsOptions {
        self.ca_pem = Some(pem.into());
        self
    }

    /// [`TlsOptions::ca_pem`] read from a file.
    pub fn ca_file(self, path: impl AsRef<std::path::Path>) -> io::Result<TlsOptions> {
        Ok(self.ca_pem(std::fs::read(path)?))
    }

    /// Authenticate with a client certificate: its PEM chain and PEM private key.
    pub fn client_cert_pem(
        mut self,
        chain: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> TlsOptions {
        self.client_pem = Some((chain.into(), key.into()));
        self
    }

    /// [`TlsOptions::client_cert_pem`] read from files.
    pub fn client_cert_files(
        self,
        chain: impl AsRef<std::path::Path>,
        key: impl AsRef<std::path::Path>,
    ) -> io::Result<TlsOptions> {
        Ok(self.client_cert_pem(std::fs::read(chain)?, std::fs::read(key)?))
    }

    /// The name checked against the certificate, when it differs from the host.
    pub fn server_name(mut self, name: &str) -> TlsOptions {
        self.server_name = Some(name.into());
        self
    }

    /// Use this rustls configuration as it is (every other setting is ignored).
    pub fn rustls_config(mut self, config: Arc<ClientConfig>) -> TlsOptions {
        self.config = Some(config);
        self
    }

    /// DANGEROUS: accept any server certificate. Anyone on the path can read and
    /// change the traffic. For tests against throwaway brokers only.
    pub fn dangerous_accept_any_server_certificate(mut self) -> TlsOptions {
        self.dangerous_no_verify = true;
        self
    }

    /// Builds the rustls configuration (done once per event loop).
    pub(crate) fn client_config(&self) -> io::Result<Arc<ClientConfig>> {
        if let Some(c) = &self.config {
            return Ok(c.clone());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(invalid)?;
        let builder = if self.dangerous_no_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        } else {
            let mut roots = RootCertStore::empty();
            match &self.ca_pem {
                Some(pem) => {
                    for cert in CertificateDer::pem_slice_iter(pem) {
                        roots.add(cert.map_err(invalid)?).map_err(invalid)?;
                    }
                    if roots.is_empty() {
                        return Err(invalid("no certificate in the CA PEM"));
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            builder.with_root_certificates(roots)
        };
        let config = match &self.client_pem {
            Some((chain, key)) => {
                let chain = CertificateDer::pem_slice_iter(chain)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(invalid)?;
                let key = PrivateKeyDer::from_pem_slice(key).map_err(invalid)?;
                builder.with_client_auth_cert(chain, key).map_err(invalid)?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }

    /// Runs the TLS handshake over `io`.
    pub(crate) async fn connect(
        &self,
        config: Arc<ClientConfig>,
        host: &str,
        io: BoxIo,
    ) -> io::Result<BoxIo> {
        let name = self.server_name.as_deref().unwrap_or(host);
        let name = ServerName::try_from(name.to_string()).map_err(invalid)?;
        let stream = futures_rustls::TlsConnector::from(config)
            .connect(name, io)
            .await?;
        Ok(Box::new(stream))
    }
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("custom_ca", &self.ca_pem.is_some())
            .field("client_cert", &self.client_pem.is_some())
            .field(
                "dangerous_accept_any_server_certificate",
                &self.dangerous_no_verify,
            )
            .field("custom_rustls_config", &self.config.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

fn invalid(e: impl fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("TLS: {e}"))
}

/// Accepts every certificate but still checks handshake signatures.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
