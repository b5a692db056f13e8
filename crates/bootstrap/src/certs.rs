//! The cluster's certificate authorities and service-account key pair, as Cluster API's
//! kubeadm bootstrap provider generates them (`util/secret/certificates.go`), and the
//! `sha256:<hex>` public-key hashes kubeadm's token discovery pins.
//!
//! | purpose | Secret | files under `certificatesDir` (default `/etc/kubernetes/pki`) |
//! |---|---|---|
//! | cluster CA | `<cluster>-ca` | `ca.crt`, `ca.key` |
//! | etcd CA | `<cluster>-etcd` | `etcd/ca.crt`, `etcd/ca.key` |
//! | front-proxy CA | `<cluster>-proxy` | `front-proxy-ca.crt`, `front-proxy-ca.key` |
//! | service-account keys | `<cluster>-sa` | `sa.pub`, `sa.key` |
//!
//! Each Secret is in the cluster's namespace, of type `cluster.x-k8s.io/secret`, labelled
//! `cluster.x-k8s.io/cluster-name`, with the certificate (or, for `sa`, the public key) in
//! `tls.crt` and the private key in `tls.key`. Each CA is self-signed, with common name
//! `kubernetes`, valid from five minutes before `now` for 3650 days, key usages
//! `digitalSignature`, `keyEncipherment` and `keyCertSign`, and path length 0, as CAPI
//! writes it.
//!
//! **Keys are ECDSA P-256**, CAPI's `encryptionAlgorithm: ECDSA-P256`, not its default
//! RSA-2048: the crypto provider the project builds on (`ring`, through `rcgen`) signs with
//! RSA but cannot generate RSA keys, and kubeadm, the API server (service-account signing)
//! and etcd all accept ECDSA keys. Private keys are PKCS#8 PEM (`PRIVATE KEY`), which
//! kubeadm reads as well as the SEC1 form Go writes. The serial number is random (CAPI
//! writes 0, which RFC 5280 does not allow).
//!
//! Private keys never appear in `Debug` output: [`KeyPair`]'s shows only the certificate's
//! length.

use std::fmt;

use ironbell_capi::api::kubeadm::File;
use ironbell_model::Timestamp;
use ironbell_model::corev1::Secret;
use sha2::{Digest, Sha256};

/// The label CAPI puts on a cluster's secrets.
pub const CLUSTER_NAME_LABEL: &str = "cluster.x-k8s.io/cluster-name";
/// The type of CAPI's cluster secrets.
pub const CLUSTER_SECRET_TYPE: &str = "cluster.x-k8s.io/secret";
/// The key of a certificate (or the service-account public key) in a cluster secret.
pub const TLS_CRT_KEY: &str = "tls.crt";
/// The key of a private key in a cluster secret.
pub const TLS_KEY_KEY: &str = "tls.key";
/// Where kubeadm keeps certificates unless `certificatesDir` says otherwise.
pub const DEFAULT_CERTIFICATES_DIR: &str = "/etc/kubernetes/pki";
/// How long a generated CA is valid (CAPI's `DefaultCACertificatesExpiryDays`).
pub const CA_VALIDITY_DAYS: i64 = 3650;

/// A failure to generate, read or hash certificates.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// Key generation or signing failed.
    #[error("generating the {purpose} key pair: {source}")]
    Generate {
        /// Which key pair.
        purpose: Purpose,
        /// The generator's error.
        source: rcgen::Error,
    },
    /// A cluster secret is missing.
    #[error("secret {name} is missing")]
    MissingSecret {
        /// The secret's name.
        name: String,
    },
    /// A cluster secret lacks a key or it is not UTF-8 text.
    #[error("secret {name} has no text value at {key}")]
    MissingKey {
        /// The secret's name.
        name: String,
        /// The missing key.
        key: &'static str,
    },
    /// A certificate PEM could not be read.
    #[error("{what}: {reason}")]
    BadCertificate {
        /// Which certificate.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// A time is outside what certificates can carry.
    #[error("time {0} cannot be written in a certificate")]
    Time(Timestamp),
}

/// What a key pair is for; its Secret is `<cluster>-<suffix>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// The cluster CA (`ca`).
    ClusterCa,
    /// The etcd CA (`etcd`).
    EtcdCa,
    /// The front-proxy CA (`proxy`).
    FrontProxyCa,
    /// The service-account signing key pair (`sa`).
    ServiceAccount,
}

impl Purpose {
    /// Every purpose, in the order CAPI writes their files.
    pub const ALL: [Purpose; 4] = [
        Purpose::ClusterCa,
        Purpose::EtcdCa,
        Purpose::FrontProxyCa,
        Purpose::ServiceAccount,
    ];

    /// The Secret name suffix: `ca`, `etcd`, `proxy` or `sa`.
    pub fn suffix(self) -> &'static str {
        match self {
            Purpose::ClusterCa => "ca",
            Purpose::EtcdCa => "etcd",
            Purpose::FrontProxyCa => "proxy",
            Purpose::ServiceAccount => "sa",
        }
    }

    /// The Secret name of this purpose for `cluster`.
    pub fn secret_name(self, cluster: &str) -> String {
        format!("{cluster}-{}", self.suffix())
    }

    /// The certificate and key file names, relative to `certificatesDir`.
    pub fn file_names(self) -> (&'static str, &'static str) {
        match self {
            Purpose::ClusterCa => ("ca.crt", "ca.key"),
            Purpose::EtcdCa => ("etcd/ca.crt", "etcd/ca.key"),
            Purpose::FrontProxyCa => ("front-proxy-ca.crt", "front-proxy-ca.key"),
            Purpose::ServiceAccount => ("sa.pub", "sa.key"),
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Purpose::ClusterCa => "cluster CA",
            Purpose::EtcdCa => "etcd CA",
            Purpose::FrontProxyCa => "front-proxy CA",
            Purpose::ServiceAccount => "service-account",
        })
    }
}

/// A certificate (or public key) and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    cert: String,
    key: String,
}

impl KeyPair {
    /// A key pair from PEM text.
    pub fn from_pem(cert: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            cert: cert.into(),
            key: key.into(),
        }
    }

    /// The certificate (for the service-account pair: the public key), PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert
    }

    /// The private key, PEM. Secret material: never log it.
    pub fn key_pem(&self) -> &str {
        &self.key
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("cert_bytes", &self.cert.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The four key pairs of a cluster: what `kubeadm init` needs beforehand so that every
/// control-plane machine shares one PKI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterCertificates {
    /// The cluster CA.
    pub cluster_ca: KeyPair,
    /// The etcd CA.
    pub etcd_ca: KeyPair,
    /// The front-proxy CA.
    pub front_proxy_ca: KeyPair,
    /// The service-account key pair (`cert` is the public key).
    pub service_account: KeyPair,
}

impl ClusterCertificates {
    /// Generates the three CAs and the service-account key pair, valid from five minutes
    /// before `now`.
    pub fn generate(now: Timestamp) -> Result<Self, CertError> {
        Ok(Self {
            cluster_ca: new_ca(Purpose::ClusterCa, now)?,
            etcd_ca: new_ca(Purpose::EtcdCa, now)?,
            front_proxy_ca: new_ca(Purpose::FrontProxyCa, now)?,
            service_account: new_service_account_keys()?,
        })
    }

    /// The key pair of one purpose.
    pub fn get(&self, purpose: Purpose) -> &KeyPair {
        match purpose {
            Purpose::ClusterCa => &self.cluster_ca,
            Purpose::EtcdCa => &self.etcd_ca,
            Purpose::FrontProxyCa => &self.front_proxy_ca,
            Purpose::ServiceAccount => &self.service_account,
        }
    }

    /// The four Secrets CAPI stores them in, in `namespace`, for `cluster`.
    pub fn to_secrets(&self, namespace: &str, cluster: &str) -> Vec<Secret> {
        Purpose::ALL
            .iter()
            .map(|&p| {
                let pair = self.get(p);
                let mut s = Secret::new(namespace, p.secret_name(cluster));
                s.metadata.labels = Some(
                    [(CLUSTER_NAME_LABEL.to_string(), cluster.to_string())]
                        .into_iter()
                        .collect(),
                );
                s.type_ = Some(CLUSTER_SECRET_TYPE.to_string());
                s.insert(TLS_CRT_KEY, pair.cert.as_str());
                s.insert(TLS_KEY_KEY, pair.key.as_str());
                s
            })
            .collect()
    }

    /// Reads the four Secrets of `cluster` back (found by name among `secrets`); the
    /// certificates must parse.
    pub fn from_secrets(cluster: &str, secrets: &[Secret]) -> Result<Self, CertError> {
        let pair = |p: Purpose| -> Result<KeyPair, CertError> {
            let name = p.secret_name(cluster);
            let secret = secrets
                .iter()
                .find(|s| s.metadata.name() == name)
                .ok_or_else(|| CertError::MissingSecret { name: name.clone() })?;
            let text = |key: &'static str| {
                secret
                    .get_str(key)
                    .map(str::to_string)
                    .ok_or_else(|| CertError::MissingKey {
                        name: name.clone(),
                        key,
                    })
            };
            let pair = KeyPair::from_pem(text(TLS_CRT_KEY)?, text(TLS_KEY_KEY)?);
            if p != Purpose::ServiceAccount {
                ca_cert_hashes(&pair.cert, &name)?;
            }
            Ok(pair)
        };
        Ok(Self {
            cluster_ca: pair(Purpose::ClusterCa)?,
            etcd_ca: pair(Purpose::EtcdCa)?,
            front_proxy_ca: pair(Purpose::FrontProxyCa)?,
            service_account: pair(Purpose::ServiceAccount)?,
        })
    }

    /// The cluster CA's public-key hashes for `caCertHashes` (one per certificate in
    /// `ca.crt`).
    pub fn ca_cert_hashes(&self) -> Result<Vec<String>, CertError> {
        ca_cert_hashes(&self.cluster_ca.cert, "the cluster CA")
    }

    /// The files a control-plane machine gets (CAPI's `Certificates.AsFiles`): each
    /// certificate `0640`, each key `0600`, owned by root, under `certificates_dir`.
    /// With `include_etcd` false (external etcd), the etcd CA is left out.
    pub fn files(&self, certificates_dir: &str, include_etcd: bool) -> Vec<File> {
        let dir = certificates_dir.trim_end_matches('/');
        Purpose::ALL
            .iter()
            .filter(|&&p| include_etcd || p != Purpose::EtcdCa)
            .flat_map(|&p| {
                let pair = self.get(p);
                let (crt, key) = p.file_names();
                [
                    File::root(format!("{dir}/{crt}"), pair.cert.as_str()).with_permissions("0640"),
                    File::root(format!("{dir}/{key}"), pair.key.as_str()).with_permissions("0600"),
                ]
            })
            .collect()
    }
}

/// `sha256:<hex>` of each certificate's SubjectPublicKeyInfo in `pem`, as kubeadm's
/// `--discovery-token-ca-cert-hash` and CAPI's `Certificate.Hashes` compute it. `what`
/// names the certificate in errors.
pub fn ca_cert_hashes(pem: &str, what: &str) -> Result<Vec<String>, CertError> {
    let bad = |reason: String| CertError::BadCertificate {
        what: what.to_string(),
        reason,
    };
    let mut hashes = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| bad(format!("not PEM: {e}")))?;
        if block.label != "CERTIFICATE" {
            continue;
        }
        let cert = block
            .parse_x509()
            .map_err(|e| bad(format!("not an X.509 certificate: {e}")))?;
        let digest = Sha256::digest(cert.tbs_certificate.subject_pki.raw);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        hashes.push(format!("sha256:{hex}"));
    }
    if hashes.is_empty() {
        return Err(bad("no CERTIFICATE block".into()));
    }
    Ok(hashes)
}

fn to_time(t: Timestamp) -> Result<time::OffsetDateTime, CertError> {
    time::OffsetDateTime::from_unix_timestamp(t.as_second()).map_err(|_| CertError::Time(t))
}

fn new_key(purpose: Purpose) -> Result<rcgen::KeyPair, CertError> {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|source| CertError::Generate { purpose, source })
}

/// A self-signed CA as CAPI's `newSelfSignedCACert` makes it.
fn new_ca(purpose: Purpose, now: Timestamp) -> Result<KeyPair, CertError> {
    let key = new_key(purpose)?;
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "kubernetes");
    params.distinguished_name = dn;
    let start = to_time(now)?;
    params.not_before = start - time::Duration::minutes(5);
    params.not_after = start + time::Duration::days(CA_VALIDITY_DAYS);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    let cert = params
        .self_signed(&key)
        .map_err(|source| CertError::Generate { purpose, source })?;
    Ok(KeyPair::from_pem(cert.pem(), key.serialize_pem()))
}

/// The service-account key pair: the public key (PKIX `PUBLIC KEY`) and the private key.
fn new_service_account_keys() -> Result<KeyPair, CertError> {
    let key = new_key(Purpose::ServiceAccount)?;
    Ok(KeyPair::from_pem(key.public_key_pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).expect("time")
    }

    #[test]
    fn generated_cas_are_capi_shaped_and_hash_their_public_key() {
        let certs = ClusterCertificates::generate(now()).expect("generate");
        for p in [Purpose::ClusterCa, Purpose::EtcdCa, Purpose::FrontProxyCa] {
            let pem = x509_parser::pem::Pem::iter_from_buffer(certs.get(p).cert.as_bytes())
                .next()
                .expect("one block")
                .expect("pem");
            let cert = pem.parse_x509().expect("x509");
            let cn: Vec<_> = cert
                .subject()
                .iter_common_name()
                .map(|c| c.as_str().expect("cn"))
                .collect();
            assert_eq!(cn, ["kubernetes"], "{p}");
            let bc = cert
                .basic_constraints()
                .expect("bc")
                .expect("present")
                .value;
            assert!(bc.ca, "{p}");
            assert_eq!(bc.path_len_constraint, Some(0), "{p}");
            let ku = cert.key_usage().expect("ku").expect("present").value;
            assert!(ku.key_cert_sign() && ku.digital_signature() && ku.key_encipherment());
            let validity = cert.validity();
            assert_eq!(
                validity.not_before.timestamp(),
                now().as_second() - 300,
                "{p}"
            );
            assert_eq!(
                validity.not_after.timestamp(),
                now().as_second() + CA_VALIDITY_DAYS * 86_400,
                "{p}"
            );
            assert!(certs.get(p).key.starts_with("-----BEGIN PRIVATE KEY-----"));
        }
        assert!(
            certs
                .service_account
                .cert
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
        // The hash is over the certificate's SubjectPublicKeyInfo: the key's own SPKI.
        let key = rcgen::KeyPair::from_pem(&certs.cluster_ca.key).expect("key");
        use rcgen::PublicKeyData as _;
        let spki = key.subject_public_key_info();
        let want: String = Sha256::digest(&spki)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            certs.ca_cert_hashes().expect("hash"),
            [format!("sha256:{want}")]
        );
        assert_ne!(certs.cluster_ca, certs.etcd_ca, "each CA has its own key");
    }

    #[test]
    fn secrets_round_trip_with_capi_names_and_type() {
        let certs = ClusterCertificates::generate(now()).expect("generate");
        let secrets = certs.to_secrets("eksa-system", "mgmt");
        let names: Vec<_> = secrets.iter().map(|s| s.metadata.name()).collect();
        assert_eq!(names, ["mgmt-ca", "mgmt-etcd", "mgmt-proxy", "mgmt-sa"]);
        for s in &secrets {
            assert_eq!(s.metadata.namespace(), "eksa-system");
            assert_eq!(s.type_.as_deref(), Some(CLUSTER_SECRET_TYPE));
            assert_eq!(s.metadata.label(CLUSTER_NAME_LABEL), Some("mgmt"));
            assert_eq!(s.keys(), [TLS_CRT_KEY, TLS_KEY_KEY]);
        }
        let back = ClusterCertificates::from_secrets("mgmt", &secrets).expect("read back");
        assert_eq!(back, certs);
        let err = ClusterCertificates::from_secrets("mgmt", &secrets[1..]).expect_err("no ca");
        assert_eq!(err.to_string(), "secret mgmt-ca is missing");
        let mut broken = secrets.clone();
        broken[0].insert(TLS_CRT_KEY, "not a certificate");
        let err = ClusterCertificates::from_secrets("mgmt", &broken).expect_err("bad ca");
        assert!(err.to_string().starts_with("mgmt-ca: "), "{err}");
    }

    #[test]
    fn keys_stay_out_of_debug_output() {
        let certs = ClusterCertificates::generate(now()).expect("generate");
        let debug = format!("{certs:?}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
        assert!(!debug.contains(&certs.cluster_ca.key[30..60]), "{debug}");
        let secrets = format!("{:?}", certs.to_secrets("ns", "c"));
        assert!(!secrets.contains("PRIVATE"), "{secrets}");
    }

    #[test]
    fn files_follow_capi_paths_and_modes() {
        let certs = ClusterCertificates::generate(now()).expect("generate");
        let files = certs.files(DEFAULT_CERTIFICATES_DIR, true);
        let listed: Vec<_> = files
            .iter()
            .map(|f| (f.path.as_str(), f.permissions.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            listed,
            [
                ("/etc/kubernetes/pki/ca.crt", "0640"),
                ("/etc/kubernetes/pki/ca.key", "0600"),
                ("/etc/kubernetes/pki/etcd/ca.crt", "0640"),
                ("/etc/kubernetes/pki/etcd/ca.key", "0600"),
                ("/etc/kubernetes/pki/front-proxy-ca.crt", "0640"),
                ("/etc/kubernetes/pki/front-proxy-ca.key", "0600"),
                ("/etc/kubernetes/pki/sa.pub", "0640"),
                ("/etc/kubernetes/pki/sa.key", "0600"),
            ]
        );
        assert_eq!(certs.files("/var/lib/kubeadm/pki/", false).len(), 6);
    }
}
