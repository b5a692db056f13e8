//! Registry mirror configuration for containerd (cloud-config machines) and Bottlerocket.
//!
//! A mirror is `endpoint:port`; each OCI namespace maps an upstream registry to a path on
//! the mirror (`public.ecr.aws` → `1.2.3.4:1234/eks-anywhere`). Without namespaces the mirror
//! serves `public.ecr.aws` at its root. containerd reads one `hosts.toml` per upstream
//! registry under `/etc/containerd/certs.d/`.
//!
//! The `hosts.toml` files are written as text rather than through a TOML serializer: the
//! golden files compare file contents as text, and EKS Anywhere's layout (an inline table
//! for the auth header, a blank line after `server`) is not what a serializer produces.

use std::collections::BTreeMap;

use ironbell_model::anywhere::RegistryMirrorConfiguration;

use super::basic_auth;
use crate::api::kubeadm::{BottlerocketRegistryMirror, File};
use crate::api::{EKSA_SYSTEM_NAMESPACE, Secret, meta};

/// The registry EKS Anywhere's own images come from.
pub const DEFAULT_CORE_REGISTRY: &str = "public.ecr.aws";

/// Where containerd's per-registry configuration lives.
const CERTS_D: &str = "/etc/containerd/certs.d";

/// Registry credentials for an authenticated mirror. Never logged; `Debug` hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistryCredentials(<redacted>)")
    }
}

/// A cluster's registry mirror, resolved from its `registryMirrorConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryMirror {
    /// `endpoint:port`.
    pub base: String,
    /// Upstream registry → mirror location (`host:port/namespace`).
    pub namespaced: BTreeMap<String, String>,
    /// The mirror requires credentials.
    pub authenticate: bool,
    /// The mirror's CA certificate.
    pub ca_cert: Option<String>,
    /// Skip TLS verification of the mirror.
    pub insecure_skip_verify: bool,
}

/// Text as a YAML literal block with clip chomping reads it back: one final newline.
pub fn block_text(s: &str) -> String {
    format!("{}\n", s.trim_end_matches('\n'))
}

/// A mirror location as a registry API endpoint: a namespace path gets the `v2` prefix.
fn api_endpoint(location: &str) -> String {
    match location.split_once('/') {
        Some((host, path)) if !path.is_empty() => format!("{host}/v2/{path}"),
        _ => location.to_string(),
    }
}

impl RegistryMirror {
    /// The mirror of a registry mirror configuration.
    pub fn from_config(config: &RegistryMirrorConfiguration) -> Self {
        let endpoint = config.endpoint.as_deref().unwrap_or_default();
        let port = config
            .port
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let base = if endpoint.contains(':') {
            format!("[{endpoint}]:{port}")
        } else {
            format!("{endpoint}:{port}")
        };
        let mut namespaced: BTreeMap<String, String> = config
            .oci_namespaces
            .iter()
            .flatten()
            .map(|ns| {
                let path = ns.namespace.trim_matches('/');
                let mirror = if path.is_empty() {
                    base.clone()
                } else {
                    format!("{base}/{path}")
                };
                (ns.registry.clone(), mirror)
            })
            .collect();
        if namespaced.is_empty() {
            namespaced.insert(DEFAULT_CORE_REGISTRY.to_string(), base.clone());
        }
        Self {
            base,
            namespaced,
            authenticate: config.authenticate.unwrap_or(false),
            ca_cert: config.ca_cert_content.clone().filter(|c| !c.is_empty()),
            insecure_skip_verify: config.insecure_skip_verify.unwrap_or(false),
        }
    }

    /// Where EKS Anywhere's own images are mirrored (`""` when the mirror has no namespace
    /// for `public.ecr.aws`).
    pub fn core_mirror(&self) -> &str {
        self.namespaced
            .get(DEFAULT_CORE_REGISTRY)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// Replace the core registry by its mirror in a text (image references in a workflow
    /// template).
    pub fn rewrite_core_registry(&self, text: &str) -> String {
        match self.core_mirror() {
            "" => text.to_string(),
            mirror => text.replace(DEFAULT_CORE_REGISTRY, mirror),
        }
    }

    /// Each mirrored registry with its mirror as a registry API endpoint, by registry.
    pub fn registry_api_endpoints(&self) -> Vec<(String, String)> {
        self.namespaced
            .iter()
            .map(|(registry, mirror)| (registry.clone(), api_endpoint(mirror)))
            .collect()
    }

    /// The Bottlerocket mirror settings.
    pub fn bottlerocket(&self) -> BottlerocketRegistryMirror {
        BottlerocketRegistryMirror {
            endpoint: api_endpoint(self.core_mirror()),
            ca_cert: self.ca_cert.as_deref().map(block_text),
            mirrors: None,
        }
    }

    fn hosts_toml(
        &self,
        server: &str,
        mirror: &str,
        credentials: Option<&RegistryCredentials>,
    ) -> String {
        let mut s = format!(
            "server = \"https://{server}\"\n\n[host.\"https://{mirror}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
        );
        if self.ca_cert.is_some() {
            s += &format!("  ca = \"{CERTS_D}/{}/ca.crt\"\n", self.base);
        }
        if self.insecure_skip_verify {
            s += "  skip_verify = true\n";
        }
        if let Some(c) = credentials.filter(|_| self.authenticate) {
            s += &format!(
                "  [host.\"https://{mirror}\".header]\n    authorization = \"Basic {}\"\n",
                basic_auth(&c.username, &c.password)
            );
        }
        s
    }

    /// The containerd files of a cloud-config machine: the CA, the `config_path` append and
    /// one `hosts.toml` for the mirror itself and per mirrored registry.
    pub fn containerd_files(&self, credentials: Option<&RegistryCredentials>) -> Vec<File> {
        let mut files = Vec::new();
        if let Some(ca) = &self.ca_cert {
            files.push(File::root(
                format!("{CERTS_D}/{}/ca.crt", self.base),
                block_text(ca),
            ));
        }
        files.push(File::root(
            "/etc/containerd/config_append.toml",
            format!(
                "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"{CERTS_D}\"\n"
            ),
        ));
        files.push(File::root(
            format!("{CERTS_D}/{}/hosts.toml", self.base),
            self.hosts_toml(&self.base, &api_endpoint(&self.base), credentials),
        ));
        for (registry, mirror) in &self.namespaced {
            files.push(File::root(
                format!("{CERTS_D}/{registry}/hosts.toml"),
                self.hosts_toml(registry, &api_endpoint(mirror), credentials),
            ));
        }
        files
    }
}

/// The `registry-credentials` secret of an authenticated mirror (base64 `username` and
/// `password`, moved with the cluster by `clusterctl move`).
pub fn registry_credentials_secret(c: &RegistryCredentials) -> Secret {
    use base64::Engine as _;
    let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut metadata = meta("registry-credentials", EKSA_SYSTEM_NAMESPACE);
    metadata.labels = Some(
        [(
            "clusterctl.cluster.x-k8s.io/move".to_string(),
            "true".to_string(),
        )]
        .into_iter()
        .collect(),
    );
    Secret {
        api_version: "v1".into(),
        kind: "Secret".into(),
        metadata,
        data: [
            ("username".to_string(), enc(&c.username)),
            ("password".to_string(), enc(&c.password)),
        ]
        .into_iter()
        .collect(),
    }
}
