//! The vSphere cloud provider (CPI) a `ClusterResourceSet` installs in the new cluster: its
//! service account, its vCenter credentials and its manifests (RBAC, `vsphere.conf`, the
//! service and the `vsphere-cloud-controller-manager` daemon set), as the secrets and config
//! map EKS Anywhere renders. The manifests are built as data and printed as one YAML stream.

use serde_json::{Value, json};

use super::Context;
use crate::Object;
use crate::api::core::{ConfigMap, GenericSecret};
use crate::api::{EKSA_SYSTEM_NAMESPACE, Taint, meta};
use crate::kubeadm::to_yaml_text;
use crate::versions::VersionsBundle;

const KUBE_SYSTEM: &str = "kube-system";
const CREDENTIALS: &str = "cloud-provider-vsphere-credentials";
const CCM: &str = "cloud-controller-manager";

fn b64_or_null(value: &str) -> Value {
    use base64::Engine as _;
    if value.is_empty() {
        Value::Null
    } else {
        json!(base64::engine::general_purpose::STANDARD.encode(value))
    }
}

/// A YAML stream of documents, each introduced by `---`.
fn stream(docs: &[Value]) -> String {
    docs.iter()
        .map(|d| format!("---\n{}", to_yaml_text(d)))
        .collect()
}

fn rule(group: &str, resource: &str, verbs: &[&str]) -> Value {
    json!({"apiGroups": [group], "resources": [resource], "verbs": verbs})
}

fn ccm_subjects() -> Value {
    json!([
        {"kind": "ServiceAccount", "name": CCM, "namespace": KUBE_SYSTEM},
        {"kind": "User", "name": CCM},
    ])
}

/// The `vsphere.conf` of the cloud provider.
fn vsphere_conf(ctx: &Context<'_>) -> String {
    let dc = ctx.dc();
    let server = dc.server.clone().unwrap_or_default();
    let thumbprint = ctx.thumbprint();
    let secret = |extra: Value| {
        let mut v = json!({"secretName": CREDENTIALS, "secretNamespace": KUBE_SYSTEM});
        if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
            m.extend(e);
        }
        v
    };
    to_yaml_text(&json!({
        "global": secret(json!({
            "thumbprint": thumbprint,
            "insecureFlag": dc.insecure.unwrap_or(false),
        })),
        "vcenter": {
            server.clone(): secret(json!({
                "datacenters": [dc.datacenter.clone().unwrap_or_default()],
                "server": server,
                "thumbprint": thumbprint,
            })),
        },
    }))
}

fn manifests(ctx: &Context<'_>, bundle: &VersionsBundle, cp_taints: &[Taint]) -> String {
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:cloud-controller-manager"},
        "rules": [
            rule("", "events", &["create", "patch", "update"]),
            rule("", "nodes", &["*"]),
            rule("", "nodes/status", &["patch"]),
            rule("", "services", &["list", "patch", "update", "watch"]),
            rule("", "serviceaccounts", &["create", "get", "list", "watch", "update"]),
            rule("", "persistentvolumes", &["get", "list", "watch", "update"]),
            rule("", "endpoints", &["create", "get", "list", "watch", "update"]),
            rule("", "secrets", &["get", "list", "watch"]),
            rule("coordination.k8s.io", "leases", &["get", "watch", "list", "delete", "update", "create"]),
        ],
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "system:cloud-controller-manager"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:cloud-controller-manager"},
        "subjects": ccm_subjects(),
    });
    let config = json!({
        "apiVersion": "v1",
        "data": {"vsphere.conf": vsphere_conf(ctx)},
        "kind": "ConfigMap",
        "metadata": {"name": "vsphere-cloud-config", "namespace": KUBE_SYSTEM},
    });
    let reader = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "servicecatalog.k8s.io:apiserver-authentication-reader", "namespace": KUBE_SYSTEM},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "extension-apiserver-authentication-reader"},
        "subjects": ccm_subjects(),
    });
    let component = json!({"component": CCM});
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"labels": component, "name": CCM, "namespace": KUBE_SYSTEM},
        "spec": {
            "ports": [{"port": 443, "protocol": "TCP", "targetPort": 43001}],
            "selector": component,
            "type": "NodePort",
        },
    });
    let mut tolerations = vec![
        json!({"effect": "NoSchedule", "key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true"}),
    ];
    for key in [
        "node-role.kubernetes.io/master",
        "node-role.kubernetes.io/control-plane",
        "node.kubernetes.io/not-ready",
    ] {
        tolerations.push(json!({"effect": "NoSchedule", "key": key}));
    }
    tolerations.extend(cp_taints.iter().map(|t| json!(t)));
    let app = json!({"k8s-app": "vsphere-cloud-controller-manager"});
    let daemon_set = json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"labels": app, "name": "vsphere-cloud-controller-manager", "namespace": KUBE_SYSTEM},
        "spec": {
            "selector": {"matchLabels": app},
            "template": {
                "metadata": {"labels": app},
                "spec": {
                    "containers": [{
                        "args": ["--v=2", "--cloud-provider=vsphere", "--cloud-config=/etc/cloud/vsphere.conf"],
                        "image": bundle.vsphere_manager,
                        "name": "vsphere-cloud-controller-manager",
                        "resources": {"requests": {"cpu": "200m"}},
                        "volumeMounts": [{"mountPath": "/etc/cloud", "name": "vsphere-config-volume", "readOnly": true}],
                    }],
                    "hostNetwork": true,
                    "serviceAccountName": CCM,
                    "tolerations": tolerations,
                    "volumes": [{"configMap": {"name": "vsphere-cloud-config"}, "name": "vsphere-config-volume"}],
                },
            },
            "updateStrategy": {"type": "RollingUpdate"},
        },
    });
    stream(&[role, binding, config, reader, service, daemon_set])
}

/// The cloud provider's service account secret, credentials secret and manifests config
/// map; `credentials` is the cloud provider's vCenter user and password.
pub(super) fn objects(
    ctx: &Context<'_>,
    bundle: &VersionsBundle,
    credentials: (&str, &str),
    cp_taints: &[Taint],
) -> Vec<Object> {
    let name = ctx.name;
    let server = ctx.dc().server.clone().unwrap_or_default();
    let account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": CCM, "namespace": KUBE_SYSTEM},
    });
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": CREDENTIALS, "namespace": KUBE_SYSTEM},
        "data": {
            format!("{server}.password"): b64_or_null(credentials.1),
            format!("{server}.username"): b64_or_null(credentials.0),
        },
        "type": "Opaque",
    });
    vec![
        Object::GenericSecret(Box::new(GenericSecret::resource_set(
            meta(format!("{name}-{CCM}"), EKSA_SYSTEM_NAMESPACE),
            "data",
            to_yaml_text(&account),
        ))),
        Object::GenericSecret(Box::new(GenericSecret::resource_set(
            meta(format!("{name}-{CREDENTIALS}"), EKSA_SYSTEM_NAMESPACE),
            "data",
            to_yaml_text(&secret),
        ))),
        Object::ConfigMap(Box::new(ConfigMap::new(
            meta(format!("{name}-cpi-manifests"), EKSA_SYSTEM_NAMESPACE),
            [("data".to_string(), manifests(ctx, bundle, cp_taints))]
                .into_iter()
                .collect(),
        ))),
    ]
}
