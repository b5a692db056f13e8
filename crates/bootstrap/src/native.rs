//! The `native` bootstrapper: a control-plane machine whose installed OS runs an etcd
//! member and an ironbell replica beside it, so that the cluster's control-plane machines
//! together are its management plane: ironbell's services on a replicated etcd, **not
//! Kubernetes**. Workers get the [`plain`](crate::plain) user-data.
//!
//! The user-data is a cloud-config that writes the node's configuration ([`NodeConfig`],
//! YAML, `0600`: it holds the etcd CA's key) to [`CONFIG_PATH`] and runs `ironbell node up`
//! under a systemd unit, waits with `ironbell node wait` until the member and the replica
//! serve, and only then phones home (cloud-init runs `phone_home` after `runcmd`), so the
//! machine is Ready when its part of the plane is. `ironbell node up` (crate
//! `ironbell-native`) issues the member's certificates from the etcd CA
//! ([`member_certificates`]), starts etcd (a new cluster on the first machine, or a member
//! added to the cluster `join` names), then the replica on it.
//!
//! The etcd CA is the cluster's (`<cluster>-etcd`, [`crate::certs`]): every member trusts
//! the same CA, peers and clients authenticate with certificates it signed. A machine's
//! address is not known when its user-data is rendered (the Hardware is chosen after), so
//! each member issues its own certificates at first boot, for its own address.

use std::net::IpAddr;
use std::path::PathBuf;

use ironbell_capi::api::kubeadm::{Ntp, User};
use ironbell_model::Timestamp;
use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

use crate::certs::{CertError, KeyPair, Purpose};
use crate::cloud_config::{CloudConfig, UserDataError, s, seq};
use crate::plain::{HEADER, PHONE_HOME_FIELDS, PHONE_HOME_TRIES};

/// Where the user-data writes the node's configuration.
pub const CONFIG_PATH: &str = "/etc/ironbell/node.yaml";
/// The systemd unit the user-data writes and starts.
pub const UNIT_PATH: &str = "/etc/systemd/system/ironbell-node.service";
/// etcd's client port.
pub const CLIENT_PORT: u16 = 2379;
/// etcd's peer port.
pub const PEER_PORT: u16 = 2380;
/// How long a member's certificates are valid.
pub const MEMBER_VALIDITY_DAYS: i64 = 365;

fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/ironbell")
}

fn default_etcd() -> PathBuf {
    PathBuf::from("/usr/bin/etcd")
}

/// Where the user-data runs the `ironbell` binary from by default.
pub const IRONBELL_PATH: &str = "/usr/local/bin/ironbell";

fn default_ironbell() -> PathBuf {
    PathBuf::from(IRONBELL_PATH)
}

/// A control-plane machine's part of the native plane: the file `ironbell node up` reads.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeConfig {
    /// The cluster (etcd's `--initial-cluster-token`).
    pub cluster: String,
    /// The member's name; default: the machine's host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The interface whose address the member and the replica use (and the replica's DHCP
    /// interface); default: the interface of the first global IPv4 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Client URLs of members already running (`https://10.0.0.11:2379`); empty: this
    /// machine starts a new etcd cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub join: Vec<String>,
    /// The etcd CA certificate, PEM.
    pub etcd_ca_cert: String,
    /// The etcd CA's private key, PEM: the member signs its own certificates with it.
    pub etcd_ca_key: String,
    /// Where etcd's data and the member's certificates live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The etcd binary.
    #[serde(default = "default_etcd")]
    pub etcd: PathBuf,
    /// Further `ironbell serve all` flags for the replica (`--node-bootstrapper`, ports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serve_args: Vec<String>,
}

impl std::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeConfig")
            .field("cluster", &self.cluster)
            .field("name", &self.name)
            .field("interface", &self.interface)
            .field("join", &self.join)
            .field("etcd_ca_key", &"<redacted>")
            .field("data_dir", &self.data_dir)
            .field("etcd", &self.etcd)
            .field("serve_args", &self.serve_args)
            .finish_non_exhaustive()
    }
}

impl NodeConfig {
    /// A configuration for `cluster` with the cluster's etcd CA, joining `join`.
    pub fn new(cluster: impl Into<String>, etcd_ca: &KeyPair, join: Vec<String>) -> Self {
        Self {
            cluster: cluster.into(),
            name: None,
            interface: None,
            join,
            etcd_ca_cert: etcd_ca.cert_pem().to_string(),
            etcd_ca_key: etcd_ca.key_pem().to_string(),
            data_dir: default_data_dir(),
            etcd: default_etcd(),
            serve_args: Vec::new(),
        }
    }

    /// The configuration in a node file: YAML, or the cloud-config user-data that writes
    /// it to [`CONFIG_PATH`] (for an OS without cloud-init that hands the user-data over).
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("#cloud-config") {
            let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
            let content = doc
                .get("write_files")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .find(|f| f.get("path").and_then(Value::as_str) == Some(CONFIG_PATH))
                .and_then(|f| f.get("content"))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("the user-data writes no {CONFIG_PATH}"))?;
            return serde_yaml_ng::from_str(content).map_err(|e| format!("{CONFIG_PATH}: {e}"));
        }
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
    }

    /// The etcd CA as a key pair.
    pub fn etcd_ca(&self) -> KeyPair {
        KeyPair::from_pem(self.etcd_ca_cert.clone(), self.etcd_ca_key.clone())
    }
}

/// What a native control-plane machine's user-data says.
#[derive(Debug, Clone)]
pub struct NativeUserData {
    /// The node's configuration.
    pub config: NodeConfig,
    /// The hostname to set (none: the one the metadata service gives).
    pub hostname: Option<String>,
    /// Login users with their SSH keys.
    pub users: Vec<User>,
    /// NTP servers.
    pub ntp: Option<Ntp>,
    /// Where cloud-init posts its phone-home.
    pub phone_home_url: String,
    /// The `ironbell` binary on the machine.
    pub ironbell: PathBuf,
}

impl NativeUserData {
    /// User-data for `config`, posting to `phone_home_url`, with the binary at its default
    /// place (`/usr/local/bin/ironbell`).
    pub fn new(config: NodeConfig, phone_home_url: String) -> Self {
        Self {
            config,
            hostname: None,
            users: Vec::new(),
            ntp: None,
            phone_home_url,
            ironbell: default_ironbell(),
        }
    }
}

/// The systemd unit that runs `ironbell node up`: restarted when it stops, etcd stopped
/// with it (the whole control group).
fn unit(ironbell: &str) -> String {
    format!(
        "[Unit]\n\
         Description=ironbell native plane: an etcd member and an ironbell replica\n\
         Wants=network-online.target\n\
         After=network-online.target\n\n\
         [Service]\n\
         ExecStart={ironbell} node up --config {CONFIG_PATH}\n\
         Restart=always\n\
         RestartSec=2\n\
         KillMode=control-group\n\
         LimitNOFILE=65536\n\n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

/// The cloud-config user-data of a native control-plane machine (see the module docs).
pub fn user_data(u: &NativeUserData) -> Result<String, UserDataError> {
    if u.phone_home_url.is_empty() {
        return Err(UserDataError::Unsupported(
            "a native node needs a phone-home URL".into(),
        ));
    }
    let config = serde_yaml_ng::to_string(&u.config).map_err(|e| UserDataError::Serialize {
        what: "the node configuration",
        reason: e.to_string(),
    })?;
    let ironbell = u.ironbell.display().to_string();
    let mut doc = CloudConfig::default();
    if let Some(hostname) = u.hostname.as_deref().filter(|h| !h.is_empty()) {
        doc.set("hostname", s(hostname));
    }
    doc.users(&u.users);
    doc.ntp(u.ntp.as_ref());
    let file = |path: &str, mode: &str, content: String| {
        let mut m = Mapping::new();
        m.insert(s("path"), s(path));
        m.insert(s("owner"), s("root:root"));
        m.insert(s("permissions"), s(mode));
        m.insert(s("content"), Value::String(content));
        Value::Mapping(m)
    };
    doc.set(
        "write_files",
        Value::Sequence(vec![
            file(CONFIG_PATH, "0600", config),
            file(UNIT_PATH, "0644", unit(&ironbell)),
        ]),
    );
    doc.set(
        "runcmd",
        Value::Sequence(vec![
            seq(["systemctl", "daemon-reload"]),
            seq(["systemctl", "enable", "--now", "ironbell-node.service"]),
            seq([ironbell.as_str(), "node", "wait", "--config", CONFIG_PATH]),
        ]),
    );
    let mut phone_home = Mapping::new();
    phone_home.insert(s("url"), s(&u.phone_home_url));
    phone_home.insert(s("post"), seq(PHONE_HOME_FIELDS));
    phone_home.insert(s("tries"), Value::Number(PHONE_HOME_TRIES.into()));
    doc.set("phone_home", Value::Mapping(phone_home));
    doc.render(HEADER)
}

/// An etcd member's certificates, all signed by the etcd CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberCertificates {
    /// The client-facing server certificate (for the member's address, its name,
    /// `localhost` and `127.0.0.1`).
    pub server: KeyPair,
    /// The peer certificate (server and client use), for the member's address.
    pub peer: KeyPair,
    /// A client certificate for the replica beside the member and `ironbell node`'s own
    /// calls (`member add`).
    pub client: KeyPair,
}

/// Signs certificates with the etcd CA, valid from five minutes before `now` for
/// [`MEMBER_VALIDITY_DAYS`].
struct Signer {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    start: time::OffsetDateTime,
}

fn bad_ca(reason: String) -> CertError {
    CertError::BadCertificate {
        what: "the etcd CA".into(),
        reason,
    }
}

impl Signer {
    fn new(etcd_ca: &KeyPair, now: Timestamp) -> Result<Self, CertError> {
        let ca_key =
            rcgen::KeyPair::from_pem(etcd_ca.key_pem()).map_err(|e| bad_ca(e.to_string()))?;
        let issuer = rcgen::Issuer::from_ca_cert_pem(etcd_ca.cert_pem(), ca_key)
            .map_err(|e| bad_ca(e.to_string()))?;
        let start = time::OffsetDateTime::from_unix_timestamp(now.as_second())
            .map_err(|_| CertError::Time(now))?;
        Ok(Self { issuer, start })
    }

    fn issue(
        &self,
        cn: &str,
        sans: Vec<rcgen::SanType>,
        usages: Vec<rcgen::ExtendedKeyUsagePurpose>,
    ) -> Result<KeyPair, CertError> {
        let generate = |source| CertError::Generate {
            purpose: Purpose::EtcdCa,
            source,
        };
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generate)?;
        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, cn);
        params.distinguished_name = dn;
        params.subject_alt_names = sans;
        params.not_before = self.start - time::Duration::minutes(5);
        params.not_after = self.start + time::Duration::days(MEMBER_VALIDITY_DAYS);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = usages;
        let cert = params.signed_by(&key, &self.issuer).map_err(generate)?;
        Ok(KeyPair::from_pem(cert.pem(), key.serialize_pem()))
    }
}

fn dns(n: &str) -> Result<rcgen::SanType, CertError> {
    rcgen::string::Ia5String::try_from(n.to_string())
        .map(rcgen::SanType::DnsName)
        .map_err(|e| bad_ca(format!("name {n:?}: {e}")))
}

/// Issues member `name`'s certificates for `address`, signed by `etcd_ca`, valid from five
/// minutes before `now` for [`MEMBER_VALIDITY_DAYS`].
pub fn member_certificates(
    etcd_ca: &KeyPair,
    name: &str,
    address: IpAddr,
    now: Timestamp,
) -> Result<MemberCertificates, CertError> {
    use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    let signer = Signer::new(etcd_ca, now)?;
    let loopback = IpAddr::from([127, 0, 0, 1]);
    Ok(MemberCertificates {
        server: signer.issue(
            name,
            vec![
                rcgen::SanType::IpAddress(address),
                rcgen::SanType::IpAddress(loopback),
                dns(name)?,
                dns("localhost")?,
            ],
            vec![ServerAuth, ClientAuth],
        )?,
        peer: signer.issue(
            name,
            vec![rcgen::SanType::IpAddress(address), dns(name)?],
            vec![ServerAuth, ClientAuth],
        )?,
        client: client_certificate_with(&signer, &format!("{name}-client"))?,
    })
}

fn client_certificate_with(signer: &Signer, name: &str) -> Result<KeyPair, CertError> {
    signer.issue(
        name,
        Vec::new(),
        vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth],
    )
}

/// A client certificate `name` of the plane's etcd, signed by `etcd_ca` (the admin
/// machine's, after a move: `ironbell` commands against the moved plane).
pub fn client_certificate(
    etcd_ca: &KeyPair,
    name: &str,
    now: Timestamp,
) -> Result<KeyPair, CertError> {
    client_certificate_with(&Signer::new(etcd_ca, now)?, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::ClusterCertificates;

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).expect("time")
    }

    fn config() -> NodeConfig {
        let certs = ClusterCertificates::generate(now()).expect("certs");
        NodeConfig::new(
            "mgmt",
            &certs.etcd_ca,
            vec!["https://10.0.0.11:2379".into()],
        )
    }

    #[test]
    fn user_data_writes_the_config_and_unit_then_waits_and_phones_home() {
        let mut u = NativeUserData::new(config(), "http://10.0.0.2:50061/phone-home".into());
        u.config.serve_args = vec!["--node-bootstrapper".into(), "native".into()];
        let text = user_data(&u).expect("render");
        assert!(text.starts_with("#cloud-config\n"), "{text}");
        let doc: Value = serde_yaml_ng::from_str(&text).expect("yaml");
        let files = doc["write_files"].as_sequence().expect("files");
        assert_eq!(files[0]["path"], s(CONFIG_PATH));
        assert_eq!(files[0]["permissions"], s("0600"));
        assert!(
            files[1]["content"]
                .as_str()
                .expect("unit")
                .contains("ExecStart=/usr/local/bin/ironbell node up")
        );
        let runcmd = doc["runcmd"].as_sequence().expect("runcmd");
        assert_eq!(
            runcmd.last(),
            Some(&seq([
                "/usr/local/bin/ironbell",
                "node",
                "wait",
                "--config",
                CONFIG_PATH
            ]))
        );
        assert_eq!(
            doc["phone_home"]["url"],
            s("http://10.0.0.2:50061/phone-home")
        );
        // The node reads its configuration back from the user-data as from the file.
        assert_eq!(NodeConfig::parse(&text).expect("parse"), u.config);
        let file = files[0]["content"].as_str().expect("content");
        assert_eq!(NodeConfig::parse(file).expect("parse"), u.config);
        // Never the CA key in Debug output.
        assert!(!format!("{:?}", u.config).contains("PRIVATE KEY"));
    }

    #[test]
    fn member_certificates_chain_to_the_etcd_ca_and_name_the_address() {
        let certs = ClusterCertificates::generate(now()).expect("certs");
        let ip: IpAddr = "10.0.0.12".parse().expect("ip");
        let m = member_certificates(&certs.etcd_ca, "cp-2", ip, now()).expect("issue");
        let ca_pem = x509_parser::pem::Pem::iter_from_buffer(certs.etcd_ca.cert_pem().as_bytes())
            .next()
            .expect("block")
            .expect("pem");
        let ca = ca_pem.parse_x509().expect("ca");
        for (what, pair) in [
            ("server", &m.server),
            ("peer", &m.peer),
            ("client", &m.client),
        ] {
            let pem = x509_parser::pem::Pem::iter_from_buffer(pair.cert_pem().as_bytes())
                .next()
                .expect("block")
                .expect("pem");
            let cert = pem.parse_x509().expect("x509");
            assert_eq!(cert.issuer(), ca.subject(), "{what}");
            cert.verify_signature(Some(ca.public_key())).expect(what);
        }
        let pem = x509_parser::pem::Pem::iter_from_buffer(m.peer.cert_pem().as_bytes())
            .next()
            .expect("block")
            .expect("pem");
        let peer = pem.parse_x509().expect("x509");
        let sans = peer.subject_alternative_name().expect("ext").expect("sans");
        let named = |n: &x509_parser::extensions::GeneralName<'_>| matches!(n, x509_parser::extensions::GeneralName::IPAddress(b) if *b == [10, 0, 0, 12]);
        assert!(sans.value.general_names.iter().any(named), "{sans:?}");
        assert!(!format!("{m:?}").contains("PRIVATE KEY"));
    }
}
