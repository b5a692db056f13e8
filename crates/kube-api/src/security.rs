//! Who may call the API: TLS always, a CA and serving certificate made on first start, two
//! roles, bearer tokens and client certificates.
//!
//! [`Security::load_or_create`] keeps its files in one directory (the plane's state dir
//! `api/`), each private file mode 0600:
//!
//! | file | what |
//! |---|---|
//! | `ca.crt`, `ca.key` | the API's CA (ECDSA P-256, 10 years), made once |
//! | `server.crt`, `server.key` | the serving certificate, signed by the CA, made again at every start for the names asked (`localhost`, `127.0.0.1`, `::1` and `--api-san`) unless one is given |
//! | `admin.token`, `read-only.token` | one bearer token per role (32 random bytes, base64url), made once |
//!
//! A client is **admin** when it sends the admin token or a client certificate signed by the
//! CA with organisation `system:masters` (Kubernetes' group of cluster admins), **read-only**
//! with the read-only token or organisation [`READ_ONLY_GROUP`]. Read-only may `get`,
//! `list` and `watch`; anything else is 403 Forbidden. No credentials: 401. Tokens are
//! compared in constant time and never logged.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
use rustls::server::WebPkiClientVerifier;
use subtle::ConstantTimeEq as _;

/// The organisation of a client certificate with the admin role (Kubernetes' admins).
pub const ADMIN_GROUP: &str = "system:masters";
/// The organisation of a client certificate with the read-only role.
pub const READ_ONLY_GROUP: &str = "ironbell:read-only";

/// What a client may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Admin,
    /// `get`, `list` and `watch` only.
    ReadOnly,
}

impl Role {
    /// The role's name (`admin`, `read-only`), as `ironbell kubeconfig --role` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::ReadOnly => "read-only",
        }
    }

    fn group(self) -> &'static str {
        match self {
            Self::Admin => ADMIN_GROUP,
            Self::ReadOnly => READ_ONLY_GROUP,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Self::Admin),
            "read-only" | "readonly" | "view" => Ok(Self::ReadOnly),
            _ => Err(format!("unknown role {s:?}: admin or read-only")),
        }
    }
}

/// The API's credentials could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A certificate or key could not be made or read.
    #[error("{what}: {message}")]
    Certificate {
        /// Which certificate or key.
        what: String,
        /// What failed.
        message: String,
    },
}

fn cert_error(what: &str) -> impl Fn(String) -> SecurityError + '_ {
    move |message| SecurityError::Certificate {
        what: what.to_string(),
        message,
    }
}

/// Where the serving certificate comes from.
#[derive(Clone, Debug, Default)]
pub enum ServingCert {
    /// Made at every start by the API's CA, for `localhost`, `127.0.0.1`, `::1` and these
    /// names or addresses.
    #[default]
    Generated,
    /// Generated, with these further names or addresses.
    GeneratedFor(Vec<String>),
    /// None: the credentials are read (or made) to write a kubeconfig, not to serve;
    /// [`Security::tls_config`] then has no certificate and refuses every handshake.
    NotServing,
    /// Given: a PEM certificate chain and its PEM private key.
    Given {
        /// Certificate chain file.
        cert: PathBuf,
        /// Private key file.
        key: PathBuf,
    },
}

/// The API's CA, serving certificate and tokens (see the module docs).
pub struct Security {
    ca_pem: String,
    ca_key: KeyPair,
    admin_token: String,
    read_only_token: String,
    server: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("ca_pem_bytes", &self.ca_pem.len())
            .finish_non_exhaustive()
    }
}

const CA_CN: &str = "ironbell-api-ca";

impl Security {
    /// Reads the credentials in `dir`, making what is missing (see the module docs).
    pub fn load_or_create(dir: &Path, serving: &ServingCert) -> Result<Self, SecurityError> {
        {
            use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
            let io = |source| SecurityError::Io {
                path: dir.to_path_buf(),
                source,
            };
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
            // A directory made before (or by someone else) is made private too.
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        // One process at a time makes what is missing (a server's first start and an
        // `ironbell kubeconfig` at once would otherwise make two CAs); the lock goes with
        // the file when this returns.
        let lock_path = dir.join(".lock");
        let lock = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .and_then(|f| f.lock().map(|()| f))
            .map_err(|source| SecurityError::Io {
                path: lock_path,
                source,
            })?;
        let (ca_pem, ca_key) = match (read(&dir.join("ca.crt"))?, read(&dir.join("ca.key"))?) {
            (Some(cert), Some(key)) => {
                let key =
                    KeyPair::from_pem(&key).map_err(|e| cert_error("ca.key")(e.to_string()))?;
                (cert, key)
            }
            _ => {
                let key = new_key("CA key")?;
                let mut params = CertificateParams::default();
                params.distinguished_name = dn(CA_CN, None);
                params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyCertSign,
                    KeyUsagePurpose::CrlSign,
                ];
                params.not_before = rcgen::date_time_ymd(2024, 1, 1);
                params.not_after = rcgen::date_time_ymd(2036, 1, 1);
                let cert = params
                    .self_signed(&key)
                    .map_err(|e| cert_error("CA")(e.to_string()))?;
                write_private(&dir.join("ca.key"), &key.serialize_pem())?;
                write_file(&dir.join("ca.crt"), &cert.pem(), 0o644)?;
                (cert.pem(), key)
            }
        };
        let admin_token = token(&dir.join("admin.token"))?;
        let read_only_token = token(&dir.join("read-only.token"))?;
        let mut security = Self {
            ca_pem,
            ca_key,
            admin_token,
            read_only_token,
            server: Arc::new(empty_config()?),
        };
        if let ServingCert::NotServing = serving {
            return Ok(security);
        }
        let (chain, key) = match serving {
            ServingCert::Given { cert, key } => {
                let text = |p: &Path| {
                    read(p)?.ok_or_else(|| SecurityError::Io {
                        path: p.to_path_buf(),
                        source: std::io::ErrorKind::NotFound.into(),
                    })
                };
                (text(cert)?, text(key)?)
            }
            ServingCert::NotServing | ServingCert::Generated | ServingCert::GeneratedFor(_) => {
                let extra = match serving {
                    ServingCert::GeneratedFor(names) => names.as_slice(),
                    _ => &[],
                };
                let (cert, key) = security.serving_cert(extra)?;
                write_file(&dir.join("server.crt"), &cert, 0o644)?;
                write_private(&dir.join("server.key"), &key)?;
                (cert, key)
            }
        };
        security.server = Arc::new(security.server_config(&chain, &key)?);
        drop(lock);
        Ok(security)
    }

    /// The CA certificate (PEM), for a kubeconfig's `certificate-authority-data`.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The bearer token of `role`.
    pub fn token(&self, role: Role) -> &str {
        match role {
            Role::Admin => &self.admin_token,
            Role::ReadOnly => &self.read_only_token,
        }
    }

    /// The role a bearer token gives, compared in constant time.
    pub fn role_of_token(&self, token: &str) -> Option<Role> {
        let eq = |a: &str| bool::from(a.as_bytes().ct_eq(token.as_bytes()));
        if eq(&self.admin_token) {
            Some(Role::Admin)
        } else if eq(&self.read_only_token) {
            Some(Role::ReadOnly)
        } else {
            None
        }
    }

    /// The TLS configuration the server uses: the serving certificate, client certificates
    /// signed by the CA asked for but not required (a token will do).
    pub fn tls_config(&self) -> Arc<rustls::ServerConfig> {
        self.server.clone()
    }

    /// A client certificate and its key (PEM) for `user` with `role`, signed by the CA,
    /// valid a year.
    pub fn issue_client_cert(
        &self,
        user: &str,
        role: Role,
    ) -> Result<(String, String), SecurityError> {
        let key = new_key("client key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(user, Some(role.group()));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = one_year_from_now();
        let cert = params
            .signed_by(&key, &self.issuer()?)
            .map_err(|e| cert_error("client certificate")(e.to_string()))?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>, SecurityError> {
        Issuer::from_ca_cert_pem(&self.ca_pem, &self.ca_key)
            .map_err(|e| cert_error("ca.crt")(e.to_string()))
    }

    fn serving_cert(&self, extra: &[String]) -> Result<(String, String), SecurityError> {
        let key = new_key("serving key")?;
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .into_iter()
            .map(str::to_string)
            .chain(extra.iter().cloned())
            .collect();
        names.dedup();
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("ironbell-api", None);
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => n
                    .clone()
                    .try_into()
                    .map(SanType::DnsName)
                    .map_err(|e: rcgen::Error| cert_error(n)(e.to_string())),
            })
            .collect::<Result<_, _>>()?;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = one_year_from_now();
        let cert = params
            .signed_by(&key, &self.issuer()?)
            .map_err(|e| cert_error("serving certificate")(e.to_string()))?;
        Ok((
            format!("{}{}", cert.pem(), self.ca_pem),
            key.serialize_pem(),
        ))
    }

    fn server_config(&self, chain: &str, key: &str) -> Result<rustls::ServerConfig, SecurityError> {
        let bad = cert_error("serving certificate");
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| bad(e.to_string()))?;
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots
                .add(ca.map_err(|e| bad(e.to_string()))?)
                .map_err(|e| bad(e.to_string()))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| bad(e.to_string()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| bad(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// The role a client certificate (already verified against the CA by the handshake) gives:
/// from its subject's organisation.
pub fn role_of_cert(der: &[u8]) -> Option<Role> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let orgs: Vec<&str> = cert
        .subject()
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .collect();
    if orgs.contains(&ADMIN_GROUP) {
        Some(Role::Admin)
    } else if orgs.contains(&READ_ONLY_GROUP) {
        Some(Role::ReadOnly)
    } else {
        None
    }
}

fn empty_config() -> Result<rustls::ServerConfig, SecurityError> {
    // A placeholder replaced before `load_or_create` returns; built so that the struct
    // never holds an uninitialised field.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cert_error("TLS")(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(NoCert)))
}

#[derive(Debug)]
struct NoCert;

impl rustls::server::ResolvesServerCert for NoCert {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        None
    }
}

fn dn(cn: &str, org: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    if let Some(org) = org {
        dn.push(DnType::OrganizationName, org);
    }
    dn
}

fn new_key(what: &str) -> Result<KeyPair, SecurityError> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| cert_error(what)(e.to_string()))
}

fn one_year_from_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::days(365)
}

fn read(path: &Path) -> Result<Option<String>, SecurityError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SecurityError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The token in `path`, made (32 random bytes, base64url) when missing.
fn token(path: &Path) -> Result<String, SecurityError> {
    if let Some(t) = read(path)? {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let bytes: [u8; 32] = rand::random();
    let t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    write_private(path, &t)?;
    Ok(t)
}

fn write_private(path: &Path, text: &str) -> Result<(), SecurityError> {
    write_file(path, text, 0o600)
}

/// Writes `text` to `path` through a temporary file renamed over it, with `mode`.
fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), SecurityError> {
    let io = |source| SecurityError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_made_once_and_roles_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Security::load_or_create(dir.path(), &ServingCert::Generated).expect("first");
        let b = Security::load_or_create(
            dir.path(),
            &ServingCert::GeneratedFor(vec!["api.example".into(), "10.0.0.1".into()]),
        )
        .expect("again");
        assert_eq!(a.ca_pem(), b.ca_pem());
        assert_eq!(a.token(Role::Admin), b.token(Role::Admin));
        assert_ne!(a.token(Role::Admin), a.token(Role::ReadOnly));
        assert_eq!(
            b.role_of_token(a.token(Role::ReadOnly)),
            Some(Role::ReadOnly)
        );
        assert_eq!(b.role_of_token("nope"), None);
        let mode = |f: &str| {
            use std::os::unix::fs::PermissionsExt as _;
            fs::metadata(dir.path().join(f))
                .expect(f)
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("."), 0o700);
        for f in ["ca.key", "server.key", "admin.token", "read-only.token"] {
            assert_eq!(mode(f), 0o600, "{f}");
        }
        for role in [Role::Admin, Role::ReadOnly] {
            let (cert, _key) = b.issue_client_cert("someone", role).expect("client cert");
            let der = CertificateDer::from_pem_slice(cert.as_bytes()).expect("pem");
            assert_eq!(role_of_cert(&der), Some(role));
        }
        assert!(format!("{b:?}").len() < 100, "no secrets in Debug");
    }
}
