//! TLS client settings: the trusted roots, a configuration that verifies
//! against them, one that does not (for monitors that turn verification
//! off), and a verifier that records what it found instead of failing, so
//! that a certificate check can report on a certificate it does not trust.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, Mutex};

/// The TLS settings a prober uses for every check.
#[derive(Debug)]
pub(crate) struct TlsSettings {
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
    /// Verifies the server's chain and name.
    pub verified: Arc<ClientConfig>,
    /// Accepts any certificate (signatures are still checked).
    pub unverified: Arc<ClientConfig>,
}

/// Why the TLS settings cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// rustls refused the settings.
    #[error("TLS settings: {0}")]
    Rustls(#[from] rustls::Error),
    /// The verifier could not be built from the roots.
    #[error("certificate verifier: {0}")]
    Verifier(#[from] rustls::client::VerifierBuilderError),
}

impl TlsSettings {
    /// Trusts the system's roots plus `extra_roots` (a private CA, a test CA).
    pub fn new(extra_roots: &[CertificateDer<'static>]) -> Result<Self, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        roots.add_parsable_certificates(extra_roots.iter().cloned());
        let verifier: Arc<dyn ServerCertVerifier> = if roots.is_empty() {
            // Checks still run; every certificate they verify is reported
            // as untrusted, saying why, rather than the server not starting.
            tracing::warn!(
                "no trusted root certificates: the system store gave none; \
                 install the CA bundle (ca-certificates) for HTTPS checks to verify"
            );
            Arc::new(FixedVerdict {
                algorithms: provider.signature_verification_algorithms,
                refusal: Some(
                    "this system has no trusted root certificates (install ca-certificates)",
                ),
            })
        } else {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()?
        };
        let verified = Self::config(&provider, verifier.clone())?;
        let unverified = Self::config(
            &provider,
            Arc::new(FixedVerdict {
                algorithms: provider.signature_verification_algorithms,
                refusal: None,
            }),
        )?;
        Ok(TlsSettings {
            provider,
            verifier,
            verified,
            unverified,
        })
    }

    fn config(
        provider: &Arc<CryptoProvider>,
        verifier: Arc<dyn ServerCertVerifier>,
    ) -> Result<Arc<ClientConfig>, TlsSetupError> {
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A configuration whose verifier records its verdict in the returned
    /// slot and lets the handshake go on.
    pub fn recording(&self) -> Result<(Arc<ClientConfig>, VerdictSlot), TlsSetupError> {
        let slot = VerdictSlot::default();
        let verifier = Arc::new(Recording {
            inner: self.verifier.clone(),
            slot: slot.clone(),
        });
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok((Arc::new(config), slot))
    }
}

/// What the recording verifier concluded about the server's certificate.
#[derive(Debug, Clone, Default)]
pub(crate) struct VerdictSlot(Arc<Mutex<Option<Result<(), rustls::Error>>>>);

impl VerdictSlot {
    /// The verdict, once the handshake has reached the certificate.
    pub fn take(&self) -> Option<Result<(), rustls::Error>> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

#[derive(Debug)]
struct Recording {
    inner: Arc<dyn ServerCertVerifier>,
    slot: VerdictSlot,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        if let Ok(mut slot) = self.slot.0.lock() {
            *slot = Some(verdict);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A verifier that does not judge chains by roots: it accepts every chain
/// (monitors with `verify_tls: false`) or refuses every one with a reason
/// (a system without trusted roots). Handshake signatures are still
/// verified, so the connection is bound to the key the server presented.
#[derive(Debug)]
struct FixedVerdict {
    algorithms: WebPkiSupportedAlgorithms,
    /// `None` accepts; `Some(reason)` refuses.
    refusal: Option<&'static str>,
}

impl ServerCertVerifier for FixedVerdict {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.refusal {
            None => Ok(ServerCertVerified::assertion()),
            Some(reason) => Err(rustls::Error::General(reason.to_owned())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
