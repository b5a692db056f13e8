//! The `kubeadm` bootstrapper for Bottlerocket (`format: bottlerocket`): the settings TOML
//! that EKS Anywhere's fork of Cluster API's kubeadm bootstrap provider renders
//! (`bootstrap/kubeadm/internal/bottlerocket`).
//!
//! Bottlerocket runs no cloud-init: its user-data is TOML settings. kubeadm runs in the
//! `kubeadm-bootstrap` host container (the spec's `bottlerocketBootstrap` image), whose own
//! user-data (base64 in the TOML) is a cloud-config-like document: `write_files` with the
//! certificates, the spec's files (kube-vip's kubeconfig volume typed `File`, as the fork
//! patches it) and the kubeadm configuration under `/tmp/kubeadm.yaml` or
//! `/tmp/kubeadm-join-config.yaml`, and `runcmd` naming the step (`ControlPlaneInit`,
//! `ControlPlaneJoin`, `WorkerJoin`). The document, in order:
//!
//! - `[settings.kubernetes]`: `authentication-mode = "tls"`, `standalone-mode = true`,
//!   `server-tls-bootstrap = false`, the pause image, `provider-id` from `kubeletExtraArgs`
//!   (`PROVIDER_ID`, left for the infrastructure provider), the spec's Bottlerocket
//!   Kubernetes settings; `[settings.kernel.sysctl]`, `[settings.boot]` and
//!   `[settings.network]` (hostname, proxy);
//! - `[settings.host-containers.admin]` with the users' SSH keys and
//!   `[settings.host-containers.kubeadm-bootstrap]`; custom bootstrap containers; registry
//!   mirrors and their CA; node labels and taints; NTP servers; CA bundles.
//!
//! `PROVIDER_ID` is replaced in the TOML's `provider-id`, which is what Bottlerocket's
//! kubelet reads; the copy in the kubeadm configuration, base64 inside the bootstrap
//! container's user-data, is out of the provider's reach and not used by that kubelet (as
//! with the fork).
//!
//! Which configuration is read: the `ClusterConfiguration`'s Bottlerocket fields and the
//! `InitConfiguration`'s registration for the first control-plane machine, the
//! `JoinConfiguration`'s for joins.
//!
//! Not rendered: registry mirror credentials (they come from a Secret the fork reads; here
//! the caller would pass them) and admin/control container images (the spec types have no
//! field for them; Bottlerocket's defaults apply). The TOML is written here with its
//! strings escaped, rather than pasted into text templates as the fork does: no TOML
//! crate is in the workspace, and the subset needed (tables, strings, integers, booleans,
//! string arrays) is small. It is checked by Python's `tomllib` in the tests.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ironbell_capi::api::kubeadm::{
    BottlerocketNode, File, KubeadmConfigSpec, NodeConfiguration, NodeRegistration,
};
use ironbell_model::corev1::Secret;
use serde_json::Value as Json;
use serde_yaml_ng::Value;

use crate::cloud_config::{CloudConfig, UserDataError, s};
use crate::kubeadm::{ClusterInfo, HEADER, KubeadmParts, Role, kubeadm_parts};

/// Where the bootstrap container reads `kubeadm init`'s configuration.
pub const INIT_CONFIG_PATH: &str = "/tmp/kubeadm.yaml";
/// Where the bootstrap container reads `kubeadm join`'s configuration.
pub const JOIN_CONFIG_PATH: &str = "/tmp/kubeadm-join-config.yaml";
const KUBE_VIP_PATH: &str = "/etc/kubernetes/manifests/kube-vip.yaml";

/// The Bottlerocket user-data (settings TOML) of a machine in `role`. `hostname` sets
/// `settings.network.hostname`; `secrets` holds what `files[].contentFrom` name.
pub fn user_data(
    spec: &KubeadmConfigSpec,
    cluster: &ClusterInfo,
    role: Role<'_>,
    secrets: &[Secret],
    hostname: Option<&str>,
) -> Result<String, UserDataError> {
    let (node, registration) = match role {
        Role::Init { .. } => (
            spec.cluster_configuration
                .as_ref()
                .map(|c| &c.bottlerocket_node),
            registration(spec.init_configuration.as_ref()),
        ),
        Role::JoinControlPlane { .. } | Role::JoinWorker { .. } => (
            spec.join_configuration
                .as_ref()
                .map(|c| &c.bottlerocket_node),
            registration(spec.join_configuration.as_ref()),
        ),
    };
    let default_node = BottlerocketNode::default();
    let node = node.unwrap_or(&default_node);
    let Some(pause) = node
        .pause
        .as_ref()
        .filter(|p| !p.image_repository.is_empty())
    else {
        return Err(UserDataError::Unsupported(
            "format bottlerocket needs a pause image (pause.imageRepository and imageTag)".into(),
        ));
    };
    let bootstrap_data = bootstrap_container_user_data(spec, cluster, role, secrets)?;
    let args = registration.and_then(|r| r.kubelet_extra_args.as_ref());
    let arg = |k: &str| args.and_then(|a| a.get(k)).map(String::as_str);

    let mut toml = Toml::default();
    kubernetes_settings(
        &mut toml,
        node,
        &format!("{}:{}", pause.image_repository, pause.image_tag),
        arg("provider-id"),
    )?;
    if let Some(settings) = &node.bottlerocket {
        if let Some(sysctl) = settings
            .kernel
            .as_ref()
            .and_then(|k| k.sysctl_settings.as_ref())
        {
            toml.table(&["settings", "kernel", "sysctl"]);
            for (k, v) in sysctl {
                toml.kv(k, &string(v));
            }
        }
        if let Some(params) = settings
            .boot
            .as_ref()
            .and_then(|b| b.boot_kernel_parameters.as_ref())
        {
            toml.table(&["settings", "boot"]);
            toml.kv("reboot-to-reconcile", "true");
            toml.table(&["settings", "boot", "kernel-parameters"]);
            for (k, v) in params {
                toml.kv(k, &string_array(v));
            }
        }
    }
    let proxy = node.proxy.as_ref();
    let hostname = hostname.filter(|h| !h.is_empty());
    if hostname.is_some() || proxy.is_some() {
        toml.table(&["settings", "network"]);
        if let Some(h) = hostname {
            toml.kv("hostname", &string(h));
        }
        if let Some(p) = proxy {
            toml.kv("https-proxy", &string(&p.https_proxy));
            if !p.no_proxy.is_empty() {
                toml.kv("no-proxy", &string_array(&p.no_proxy));
            }
        }
    }

    let keys: Vec<&str> = spec
        .users
        .iter()
        .flatten()
        .flat_map(|u| u.ssh_authorized_keys.iter().map(String::as_str))
        .collect();
    toml.table(&["settings", "host-containers", "admin"]);
    toml.kv("enabled", "true");
    toml.kv("superpowered", "true");
    if !keys.is_empty() {
        let admin = serde_json::json!({ "ssh": { "authorized-keys": keys } }).to_string();
        toml.kv("user-data", &string(&STANDARD.encode(admin)));
    }
    toml.table(&["settings", "host-containers", "kubeadm-bootstrap"]);
    toml.kv("enabled", "true");
    toml.kv("superpowered", "true");
    if let Some(image) = node
        .bottlerocket_bootstrap
        .as_ref()
        .filter(|i| !i.image_repository.is_empty() && !i.image_tag.is_empty())
    {
        toml.kv(
            "source",
            &string(&format!("{}:{}", image.image_repository, image.image_tag)),
        );
    }
    toml.kv("user-data", &string(&STANDARD.encode(bootstrap_data)));

    for c in node
        .bottlerocket_custom_bootstrap_containers
        .iter()
        .flatten()
    {
        toml.table(&["settings", "bootstrap-containers", &c.name]);
        toml.kv("essential", "false");
        toml.kv("mode", &string(&c.mode));
        if !c.image_repository.is_empty() && !c.image_tag.is_empty() {
            toml.kv(
                "source",
                &string(&format!("{}:{}", c.image_repository, c.image_tag)),
            );
        }
    }
    if let Some(mirror) = &node.registry_mirror {
        let mut mirrors: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        if !mirror.endpoint.is_empty() {
            mirrors.insert("public.ecr.aws", vec![mirror.endpoint.clone()]);
        } else {
            for m in mirror.mirrors.iter().flatten() {
                mirrors
                    .entry(m.registry.as_str())
                    .or_default()
                    .extend(m.endpoints.iter().cloned());
            }
        }
        for (registry, endpoints) in &mirrors {
            toml.array_table(&["settings", "container-registry", "mirrors"]);
            toml.kv("registry", &string(registry));
            toml.kv("endpoint", &string_array(endpoints));
        }
        if let Some(ca) = mirror.ca_cert.as_deref().filter(|c| !c.is_empty()) {
            toml.table(&["settings", "pki", "registry-mirror-ca"]);
            toml.kv("data", &string(&STANDARD.encode(ca)));
            toml.kv("trusted", "true");
        }
    }
    let labels: Vec<(&str, &str)> = arg("node-labels")
        .into_iter()
        .flat_map(|l| l.split(','))
        .filter_map(|kv| kv.split_once('='))
        .collect();
    if !labels.is_empty() {
        toml.table(&["settings", "kubernetes", "node-labels"]);
        for (k, v) in labels {
            toml.kv(k, &string(v));
        }
    }
    let mut taints: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for t in registration
        .and_then(|r| r.taints.as_ref())
        .into_iter()
        .flatten()
    {
        taints.entry(t.key.as_str()).or_default().push(format!(
            "{}:{}",
            t.value.as_deref().unwrap_or_default(),
            t.effect
        ));
    }
    if !taints.is_empty() {
        toml.table(&["settings", "kubernetes", "node-taints"]);
        for (k, v) in &taints {
            toml.kv(k, &string_array(v));
        }
    }
    if let Some(ntp) = spec.ntp.as_ref().filter(|n| !n.servers.is_empty()) {
        toml.table(&["settings", "ntp"]);
        toml.kv("time-servers", &string_array(&ntp.servers));
    }
    for bundle in node.cert_bundles.iter().flatten() {
        toml.table(&["settings", "pki", &bundle.name]);
        toml.kv("data", &string(&STANDARD.encode(&bundle.data)));
        toml.kv("trusted", "true");
    }
    Ok(toml.out)
}

fn registration(config: Option<&NodeConfiguration>) -> Option<&NodeRegistration> {
    config?.node_registration.as_ref()
}

/// The bootstrap container's user-data: files, the kubeadm configuration and the step.
fn bootstrap_container_user_data(
    spec: &KubeadmConfigSpec,
    cluster: &ClusterInfo,
    role: Role<'_>,
    secrets: &[Secret],
) -> Result<String, UserDataError> {
    let KubeadmParts {
        mut files, config, ..
    } = kubeadm_parts(spec, cluster, role)?;
    let (path, step, header) = match role {
        Role::Init { .. } => (INIT_CONFIG_PATH, "ControlPlaneInit", HEADER),
        Role::JoinControlPlane { .. } => (JOIN_CONFIG_PATH, "ControlPlaneJoin", ""),
        Role::JoinWorker { .. } => (JOIN_CONFIG_PATH, "WorkerJoin", ""),
    };
    if !matches!(role, Role::JoinWorker { .. }) {
        for f in files.iter_mut().filter(|f| f.path == KUBE_VIP_PATH) {
            patch_kube_vip(f)?;
        }
    }
    files.push(File::root(path, config).with_permissions("0640"));
    let mut doc = CloudConfig::default();
    doc.write_files(&files, secrets)?;
    doc.set("runcmd", s(step));
    doc.render(header)
}

/// Types kube-vip's kubeconfig host path as a `File`, as the fork does for Bottlerocket.
fn patch_kube_vip(file: &mut File) -> Result<(), UserDataError> {
    let bad = |reason: String| UserDataError::Serialize {
        what: "the kube-vip manifest",
        reason,
    };
    let Some(content) = file.content.as_deref() else {
        return Ok(());
    };
    let mut pod: Value = serde_yaml_ng::from_str(content).map_err(|e| bad(e.to_string()))?;
    let host_path = pod
        .get_mut("spec")
        .and_then(|s| s.get_mut("volumes"))
        .and_then(|v| v.get_mut(0))
        .and_then(|v| v.get_mut("hostPath"))
        .and_then(Value::as_mapping_mut)
        .ok_or_else(|| bad("no spec.volumes[0].hostPath".into()))?;
    host_path.insert(s("type"), s("File"));
    file.content = Some(serde_yaml_ng::to_string(&pod).map_err(|e| bad(e.to_string()))?);
    Ok(())
}

/// `[settings.kubernetes]`: the fixed keys and the spec's Bottlerocket Kubernetes
/// settings, in the fork's order, then its map settings as sub-tables.
fn kubernetes_settings(
    toml: &mut Toml,
    node: &BottlerocketNode,
    pause: &str,
    provider_id: Option<&str>,
) -> Result<(), UserDataError> {
    // (the spec's camelCase name, Bottlerocket's key), in the order the fork writes them.
    const KEYS: [(&str, &str); 30] = [
        ("allowedUnsafeSysctls", "allowed-unsafe-sysctls"),
        ("", "authentication-mode"),
        ("clusterDNSIPs", "cluster-dns-ip"),
        ("clusterDomain", "cluster-domain"),
        ("containerLogMaxFiles", "container-log-max-files"),
        ("containerLogMaxSize", "container-log-max-size"),
        ("cpuCFSQuota", "cpu-cfs-quota-enforced"),
        ("cpuManagerPolicy", "cpu-manager-policy"),
        ("cpuManagerPolicyOptions", "cpu-manager-policy-options"),
        ("cpuManagerReconcilePeriod", "cpu-manager-reconcile-period"),
        ("eventBurst", "event-burst"),
        ("eventRecordQPS", "event-qps"),
        ("evictionMaxPodGracePeriod", "eviction-max-pod-grace-period"),
        (
            "imageGCHighThresholdPercent",
            "image-gc-high-threshold-percent",
        ),
        (
            "imageGCLowThresholdPercent",
            "image-gc-low-threshold-percent",
        ),
        ("kubeAPIBurst", "kube-api-burst"),
        ("kubeAPIQPS", "kube-api-qps"),
        ("maxPods", "max-pods"),
        ("memoryManagerPolicy", "memory-manager-policy"),
        ("", "pod-infra-container-image"),
        ("podPidsLimit", "pod-pids-limit"),
        ("", "provider-id"),
        ("registryBurst", "registry-burst"),
        ("registryPullQPS", "registry-qps"),
        ("", "server-tls-bootstrap"),
        ("shutdownGracePeriod", "shutdown-grace-period"),
        (
            "shutdownGracePeriodCriticalPods",
            "shutdown-grace-period-for-critical-pods",
        ),
        ("", "standalone-mode"),
        ("topologyManagerPolicy", "topology-manager-policy"),
        ("topologyManagerScope", "topology-manager-scope"),
    ];
    const MAPS: [(&str, &str); 5] = [
        ("evictionHard", "eviction-hard"),
        ("evictionSoft", "eviction-soft"),
        ("evictionSoftGracePeriod", "eviction-soft-grace-period"),
        ("kubeReserved", "kube-reserved"),
        ("systemReserved", "system-reserved"),
    ];
    let settings = node
        .bottlerocket
        .as_ref()
        .and_then(|b| b.kubernetes.as_ref())
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| UserDataError::Serialize {
            what: "the Bottlerocket Kubernetes settings",
            reason: e.to_string(),
        })?;
    let given = match settings {
        Some(Json::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    if let Some(unknown) = given
        .keys()
        .find(|k| !KEYS.iter().chain(&MAPS).any(|(j, _)| j == k))
    {
        return Err(UserDataError::Unsupported(format!(
            "Bottlerocket Kubernetes setting {unknown} has no settings key here"
        )));
    }
    toml.table(&["settings", "kubernetes"]);
    for (json_key, key) in KEYS {
        let value = match key {
            "authentication-mode" => string("tls"),
            "pod-infra-container-image" => string(pause),
            "provider-id" => match provider_id.filter(|p| !p.is_empty()) {
                Some(p) => string(p),
                None => continue,
            },
            "server-tls-bootstrap" => "false".into(),
            "standalone-mode" => "true".into(),
            "cluster-domain" => string(
                given
                    .get(json_key)
                    .and_then(Json::as_str)
                    .unwrap_or("cluster.local"),
            ),
            _ => match given.get(json_key) {
                Some(v) => scalar(key, v)?,
                None => continue,
            },
        };
        toml.kv(key, &value);
    }
    for (json_key, key) in MAPS {
        let Some(Json::Object(map)) = given.get(json_key) else {
            continue;
        };
        toml.table(&["settings", "kubernetes", key]);
        for (k, v) in map {
            toml.kv(k, &scalar(key, v)?);
        }
    }
    Ok(())
}

/// A JSON setting as a TOML value: strings, integers, booleans, string arrays; a map of
/// `"true"` flags (`cpuManagerPolicyOptions`) becomes the array of its true keys.
fn scalar(key: &str, v: &Json) -> Result<String, UserDataError> {
    Ok(match v {
        Json::String(s) => string(s),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Json::Array(items) => {
            let items: Option<Vec<String>> = items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect();
            match items {
                Some(items) => string_array(&items),
                None => return Err(unsupported_value(key)),
            }
        }
        Json::Object(flags) => {
            let on: Vec<String> = flags
                .iter()
                .filter(|(_, v)| v.as_str() == Some("true"))
                .map(|(k, _)| k.clone())
                .collect();
            string_array(&on)
        }
        _ => return Err(unsupported_value(key)),
    })
}

fn unsupported_value(key: &str) -> UserDataError {
    UserDataError::Unsupported(format!("Bottlerocket setting {key}: unsupported value"))
}

/// TOML text under construction.
#[derive(Default)]
struct Toml {
    out: String,
}

impl Toml {
    fn header(&mut self, path: &[&str], open: &str, close: &str) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        let path: Vec<String> = path.iter().map(|k| key(k)).collect();
        self.out
            .push_str(&format!("{open}{}{close}\n", path.join(".")));
    }

    fn table(&mut self, path: &[&str]) {
        self.header(path, "[", "]");
    }

    fn array_table(&mut self, path: &[&str]) {
        self.header(path, "[[", "]]");
    }

    /// `key = value`, `value` already TOML.
    fn kv(&mut self, k: &str, value: &str) {
        self.out.push_str(&format!("{} = {value}\n", key(k)));
    }
}

/// A key: bare when it can be, else a quoted string.
fn key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if bare { k.to_string() } else { string(k) }
}

/// A TOML basic string with every needed escape.
fn string(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn string_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| string(i)).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_keys_are_escaped() {
        assert_eq!(string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
        assert_eq!(
            key("node-role.kubernetes.io/x"),
            "\"node-role.kubernetes.io/x\""
        );
        assert_eq!(key("max-pods"), "max-pods");
    }
}
