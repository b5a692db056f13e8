//! What a Nutanix cluster runs besides kubeadm: the kube-vip static pod that holds the
//! endpoint address, and the Nutanix cloud controller manager (its configuration, RBAC and
//! deployment, applied through a `ClusterResourceSet`, and the secret with the Prism Central
//! credentials it logs in with).
//!
//! The manifests are built as data (`serde_json` values) and printed as YAML documents; the
//! ignored node addresses are expanded here from the datacenter's `ccmExcludeNodeIPs`.

use std::net::IpAddr;

use ironbell_model::anywhere::NutanixDatacenterConfig;
use serde_json::{Value, json};

use super::{PrismCredentials, RenderError};
use crate::kubeadm::to_yaml_text;
use crate::versions::VersionsBundle;

/// Most addresses one `ccmExcludeNodeIPs` entry may expand to.
const MAX_EXCLUDED_PER_ENTRY: u128 = 65_536;

/// The kube-vip static pod of a Nutanix control-plane machine (no load balancer services).
pub fn kube_vip_manifest(address: &str, image: &str) -> String {
    let env: Vec<Value> = [("vip_arp", "true"), ("address", address), ("port", "6443")]
        .into_iter()
        .chain(crate::kubeadm::KUBE_VIP_CONTROL_PLANE_ENV)
        .chain([("svc_enable", "false"), ("lb_enable", "false")])
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let image = if image.is_empty() {
        Value::Null
    } else {
        json!(image)
    };
    to_yaml_text(&json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"creationTimestamp": null, "name": "kube-vip", "namespace": "kube-system"},
        "spec": {
            "containers": [{
                "name": "kube-vip",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "args": ["manager"],
                "env": env,
                "securityContext": {"capabilities": {"add": ["NET_ADMIN", "SYS_TIME", "NET_RAW"]}},
                "volumeMounts": [{"mountPath": "/etc/kubernetes/admin.conf", "name": "kubeconfig"}],
                "resources": {},
            }],
            "hostNetwork": true,
            "volumes": [{
                "name": "kubeconfig",
                "hostPath": {"type": "FileOrCreate", "path": "/etc/kubernetes/admin.conf"},
            }],
        },
        "status": {},
    }))
}

/// The addresses the cloud controller manager leaves alone: the endpoint, then each
/// `ccmExcludeNodeIPs` entry expanded (an address, a CIDR with every address in it, or a
/// `first-last` range in either order).
pub fn ignored_node_ips(
    dc: &NutanixDatacenterConfig,
    endpoint: &str,
) -> Result<Vec<String>, RenderError> {
    let mut out = vec![endpoint.to_string()];
    for entry in dc.spec.ccm_exclude_node_ips.iter().flatten() {
        let entry = entry.trim();
        let fail = |reason: &str| RenderError::ExcludedNodeIp {
            datacenter: dc.metadata.name.clone().unwrap_or_default(),
            entry: entry.to_string(),
            reason: reason.to_string(),
        };
        let parse = |s: &str| {
            s.trim()
                .parse::<IpAddr>()
                .map_err(|_| fail("not an IP address"))
        };
        let (first, last) = if let Some((addr, bits)) = entry.split_once('/') {
            let addr = parse(addr)?;
            let width = if addr.is_ipv4() { 32 } else { 128 };
            let bits: u32 = bits
                .parse()
                .ok()
                .filter(|b| *b <= width)
                .ok_or_else(|| fail("bad prefix length"))?;
            let host_bits = width - bits;
            let n = to_u128(addr);
            let mask = if host_bits >= 128 {
                0
            } else {
                !((1u128 << host_bits) - 1)
            };
            let first = n & mask;
            let last = if host_bits >= 128 {
                u128::MAX
            } else {
                first | ((1u128 << host_bits) - 1)
            };
            (from_u128(first, addr), from_u128(last, addr))
        } else if let Some((a, b)) = entry.split_once('-') {
            let (a, b) = (parse(a)?, parse(b)?);
            if a.is_ipv4() != b.is_ipv4() {
                return Err(fail("the range mixes IPv4 and IPv6"));
            }
            if to_u128(a) <= to_u128(b) {
                (a, b)
            } else {
                (b, a)
            }
        } else {
            let a = parse(entry)?;
            (a, a)
        };
        let (lo, hi) = (to_u128(first), to_u128(last));
        if hi - lo >= MAX_EXCLUDED_PER_ENTRY {
            return Err(fail("expands to more than 65536 addresses"));
        }
        out.extend((lo..=hi).map(|n| from_u128(n, first).to_string()));
    }
    Ok(out)
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_u128(n: u128, like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(u32::try_from(n).unwrap_or(u32::MAX).into()),
        IpAddr::V6(_) => IpAddr::V6(n.into()),
    }
}

/// The cloud controller manager's configuration (`nutanix_config.json`), as JSON text.
fn cloud_config(dc: &NutanixDatacenterConfig, trust_bundle: bool, ignored: &[String]) -> String {
    let mut prism = json!({
        "address": dc.spec.endpoint.clone().unwrap_or_default(),
        "port": dc.spec.port.unwrap_or_default(),
        "insecure": dc.spec.insecure.unwrap_or(false),
        "credentialRef": {"kind": "secret", "name": "nutanix-creds", "namespace": "kube-system"},
    });
    if trust_bundle {
        prism["additionalTrustBundle"] =
            json!({"kind": "ConfigMap", "name": "user-ca-bundle", "namespace": "kube-system"});
    }
    let config = json!({
        "prismCentral": prism,
        "enableCustomLabeling": false,
        "topologyDiscovery": {"type": "Prism"},
        "ignoredNodeIPs": ignored,
    });
    serde_json::to_string_pretty(&config).unwrap_or_default()
}

fn kube_system(name: &str) -> Value {
    json!({"name": name, "namespace": "kube-system"})
}

fn rule(resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": [""], "resources": resources, "verbs": verbs})
}

/// The cloud controller manager's objects as one multi-document YAML text (the content of
/// the `<cluster>-nutanix-ccm` `ConfigMap`).
pub fn manifests(
    dc: &NutanixDatacenterConfig,
    trust_bundle: Option<&str>,
    ignored: &[String],
    bundle: &VersionsBundle,
) -> String {
    const NAME: &str = "nutanix-cloud-controller-manager";
    let mut docs = Vec::new();
    if let Some(ca) = trust_bundle {
        docs.push(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": kube_system("user-ca-bundle"),
            "data": {"ca.crt": crate::kubeadm::block_text(ca)},
        }));
    }
    docs.push(json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": kube_system("cloud-controller-manager"),
    }));
    docs.push(json!({
        "kind": "ConfigMap", "apiVersion": "v1",
        "metadata": kube_system("nutanix-config"),
        "data": {"nutanix_config.json": cloud_config(dc, trust_bundle.is_some(), ignored)},
    }));
    let watch = ["get", "list", "watch"];
    docs.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
            "name": "system:cloud-controller-manager",
        },
        "rules": [
            rule(&["secrets"], &watch),
            rule(&["configmaps"], &watch),
            rule(&["events"], &["create", "patch", "update"]),
            rule(&["nodes"], &["*"]),
            rule(&["nodes/status"], &["patch"]),
            rule(&["serviceaccounts"], &["create"]),
            rule(&["endpoints"], &["create", "get", "list", "watch", "update"]),
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        ],
    }));
    docs.push(json!({
        "kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": "system:cloud-controller-manager"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:cloud-controller-manager"},
        "subjects": [{"kind": "ServiceAccount", "name": "cloud-controller-manager",
                      "namespace": "kube-system"}],
    }));
    let app = json!({"k8s-app": NAME});
    let toleration = |effect: &str, key: &str, seconds: Option<i64>| {
        let mut t = json!({"effect": effect, "key": key, "operator": "Exists"});
        if let Some(s) = seconds {
            t["tolerationSeconds"] = json!(s);
        }
        t
    };
    docs.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"labels": app, "name": NAME, "namespace": "kube-system"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": app},
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {"labels": app},
                "spec": {
                    "hostNetwork": true,
                    "priorityClassName": "system-cluster-critical",
                    "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
                    "serviceAccountName": "cloud-controller-manager",
                    "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": app}, "topologyKey": "kubernetes.io/hostname"},
                    ]}},
                    "dnsPolicy": "Default",
                    "tolerations": [
                        toleration("NoSchedule", "node-role.kubernetes.io/master", None),
                        toleration("NoSchedule", "node-role.kubernetes.io/control-plane", None),
                        toleration("NoExecute", "node.kubernetes.io/unreachable", Some(120)),
                        toleration("NoExecute", "node.kubernetes.io/not-ready", Some(120)),
                        toleration("NoSchedule", "node.cloudprovider.kubernetes.io/uninitialized", None),
                        toleration("NoSchedule", "node.kubernetes.io/not-ready", None),
                    ],
                    "containers": [{
                        "image": bundle.nutanix_cloud_provider,
                        "imagePullPolicy": "IfNotPresent",
                        "name": NAME,
                        "env": [{"name": "POD_NAMESPACE",
                                 "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
                        "args": ["--leader-elect=true", "--cloud-config=/etc/cloud/nutanix_config.json"],
                        "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
                        "volumeMounts": [{"mountPath": "/etc/cloud", "name": "nutanix-config-volume",
                                          "readOnly": true}],
                    }],
                    "volumes": [{"name": "nutanix-config-volume",
                                 "configMap": {"name": "nutanix-config"}}],
                },
            },
        },
    }));
    let mut text = String::new();
    for doc in &docs {
        text.push_str("---\n");
        text.push_str(&to_yaml_text(doc));
    }
    text
}

/// The `nutanix-creds` secret of the cloud controller manager, as YAML text (the content of
/// the `<cluster>-nutanix-ccm-secret` resource-set secret).
pub fn credentials_secret(credentials: &PrismCredentials) -> String {
    let creds = json!([{
        "type": "basic_auth",
        "data": {
            "prismCentral": {"username": credentials.username, "password": credentials.password},
            "prismElements": null,
        },
    }]);
    to_yaml_text(&json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": kube_system("nutanix-creds"),
        "stringData": {"credentials": serde_json::to_string_pretty(&creds).unwrap_or_default()},
    }))
}
