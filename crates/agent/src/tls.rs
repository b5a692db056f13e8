//! TLS client configurations (rustls with the `ring` provider): the system's trust roots,
//! or — for `tinkerbell_insecure_tls` and oci2disk's `SKIP_VERIFY` — any certificate
//! (`ironbell_tls::AcceptAnyServerCert`, shared with the Redfish client).

use ironbell_tls::AcceptAnyServerCert;
use rustls::crypto::CryptoProvider;
use std::sync::Arc;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration; `insecure` accepts any server certificate (the handshake's
/// signatures are still checked). `alpn` is offered as given (`h2` for gRPC).
pub fn client_config(insecure: bool, alpn: &[&[u8]]) -> Result<rustls::ClientConfig, String> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, "system trust roots loaded");
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}
