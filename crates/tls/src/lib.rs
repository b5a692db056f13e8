//! # ironbell-tls
//!
//! The one certificate verifier for "insecure TLS": [`AcceptAnyServerCert`], which the
//! agent (`tinkerbell_insecure_tls`, oci2disk's `SKIP_VERIFY`) and the Redfish client
//! (`insecureTLS` of a BMC `Machine`) use when a user turns certificate checks off.
//!
//! What it does: accepts any server certificate, for any name, at any time, while the
//! handshake's signatures are still verified with the crypto provider's algorithms, so the
//! connection is at least to whoever holds the presented certificate's key. What it is not:
//! a trust store or a client configuration builder (each user builds its own
//! `rustls::ClientConfig`, with its own roots, ALPN and protocol versions).
//!
//! Why a crate of its own: the verifier sat, identical, in both `ironbell-agent` (a static
//! binary that must not depend on the BMC stack) and `ironbell-redfish`; this is the
//! smallest place both can depend on.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::SignatureScheme;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// Accepts any server certificate; checks the handshake's signatures with the provider's
/// algorithms. For `ClientConfig::builder().dangerous().with_custom_certificate_verifier`.
#[derive(Debug)]
pub struct AcceptAnyServerCert(Arc<CryptoProvider>);

impl AcceptAnyServerCert {
    /// A verifier checking signatures with `provider`'s algorithms (give it the provider of
    /// the configuration it goes into).
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        Self(provider)
    }
}

impl ServerCertVerifier for AcceptAnyServerCert {
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
        rustls::crypto::verify_tls12_signature(
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
        rustls::crypto::verify_tls13_signature(
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

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::PrivateKeyDer;
    use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// A server with a self-signed certificate for `bmc.example` (no client trusts it).
    fn server() -> ServerConnection {
        let cert = rcgen::generate_simple_self_signed(vec!["bmc.example".into()]).expect("cert");
        let key = PrivateKeyDer::try_from(cert.signing_key.serialize_der()).expect("key");
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .expect("server config");
        ServerConnection::new(Arc::new(config)).expect("server")
    }

    /// Runs a handshake in memory: Ok when both sides finish it.
    fn handshake(client: ClientConfig, name: &str) -> Result<(), rustls::Error> {
        let name = ServerName::try_from(name.to_string()).expect("name");
        let mut c = ClientConnection::new(Arc::new(client), name)?;
        let mut s = server();
        for _ in 0..10 {
            let mut buf = Vec::new();
            c.write_tls(&mut buf).expect("client write");
            s.read_tls(&mut buf.as_slice()).expect("server read");
            s.process_new_packets()?;
            let mut buf = Vec::new();
            s.write_tls(&mut buf).expect("server write");
            c.read_tls(&mut buf.as_slice()).expect("client read");
            c.process_new_packets()?;
            if !c.is_handshaking() && !s.is_handshaking() {
                return Ok(());
            }
        }
        Err(rustls::Error::General("handshake did not finish".into()))
    }

    #[test]
    fn any_certificate_for_any_name_is_accepted_and_trusted_roots_still_refuse_it() {
        let builder = || {
            ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("versions")
        };
        let insecure = || {
            builder()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(provider())))
                .with_no_client_auth()
        };
        handshake(insecure(), "bmc.example").expect("self-signed, right name");
        handshake(insecure(), "10.0.0.9").expect("self-signed, another name");
        let strict = builder()
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth();
        let err = handshake(strict, "bmc.example").expect_err("an untrusted certificate");
        assert!(matches!(err, rustls::Error::InvalidCertificate(_)), "{err}");
    }
}
