//! The admission-plugin exclusion rules EKS Anywhere's patched API server reads when a
//! cluster sets `controlPlaneConfiguration.skipAdmissionForSystemResources`: requests by
//! system components on system objects skip the admission webhooks, so a broken webhook
//! cannot wedge the control plane.
//!
//! Kept as data (kind, scope, namespace, names, user per rule) and printed as JSON, the
//! format the API server patch reads.

use serde_json::{Value, json};

use crate::api::kubeadm::{EnvVar, HostPathMount};

/// The file the API server reads the rules from.
pub const EXCLUSION_RULES_PATH: &str = "/etc/kubernetes/admission-plugin-exclusion-rules.json";

/// Every built-in API group version the apiregistration rule covers.
const API_SERVICES: &[&str] = &[
    "v1.apps",
    "v1.autoscaling",
    "v2.autoscaling",
    "v2beta1.autoscaling",
    "v2beta2.autoscaling",
    "v1.batch",
    "v1beta1.batch",
    "v2alpha1.batch",
    "v1.networking.k8s.io",
    "v1beta1.networking.k8s.io",
    "v1alpha1.networking.k8s.io",
    "v1.policy",
    "v1beta1.policy",
    "v1.storage.k8s.io",
    "v1beta1.storage.k8s.io",
    "v1alpha1.storage.k8s.io",
    "v1beta2.resource.k8s.io",
    "v1beta1.coordination.k8s.io",
    "v1beta1.certificates.k8s.io",
    "v1.scheduling.k8s.io",
    "v1.node.k8s.io",
    "v1alpha1.node.k8s.io",
    "v1beta1.node.k8s.io",
    "v1beta1.resource.k8s.io",
    "v1alpha3.resource.k8s.io",
    "v1.events.k8s.io",
    "v1beta1.events.k8s.io",
    "v1.authentication.k8s.io",
    "v1beta1.authentication.k8s.io",
    "v1alpha1.authentication.k8s.io",
    "v1.authorization.k8s.io",
    "v1.certificates.k8s.io",
    "v1alpha1.certificates.k8s.io",
    "v1.rbac.authorization.k8s.io",
    "v1.apiextensions.k8s.io",
    "v1.admissionregistration.k8s.io",
    "v1beta1.admissionregistration.k8s.io",
    "v1alpha1.admissionregistration.k8s.io",
    "v1.coordination.k8s.io",
    "v1alpha2.coordination.k8s.io",
    "v1.discovery.k8s.io",
    "v1beta1.discovery.k8s.io",
    "v1.flowcontrol.apiserver.k8s.io",
    "v1beta3.flowcontrol.apiserver.k8s.io",
    "v1beta2.flowcontrol.apiserver.k8s.io",
    "v1beta1.flowcontrol.apiserver.k8s.io",
    "v1alpha1.flowcontrol.apiserver.k8s.io",
    "v1alpha1.internal.apiserver.k8s.io",
    "v1alpha3.resource.k8s.io",
    "v1alpha1.storagemigration.k8s.io",
];

fn rule(
    group: &str,
    version: &str,
    kind: &str,
    ns: Option<&str>,
    names: &[&str],
    user: &str,
) -> Value {
    let mut r = json!({
        "apiGroup": group, "apiVersion": version, "kind": kind,
        "scope": if ns.is_some() { "Namespaced" } else { "Cluster" },
        "name": names, "username": user,
    });
    if let (Some(ns), Some(map)) = (ns, r.as_object_mut()) {
        map.insert("namespace".into(), json!(ns));
    }
    r
}

/// Pods in `kube-system` written by one of the controller manager's controllers.
fn controller_pods(controller: &str) -> Value {
    let user = format!("system:serviceaccount:kube-system:{controller}-controller");
    rule("", "v1", "Pod", Some("kube-system"), &["*"], &user)
}

/// The exclusion rules as JSON text.
pub fn exclusion_policy() -> String {
    let any = &["*"][..];
    let ks = Some("kube-system");
    let (kcm, apiserver) = ("system:kube-controller-manager", "system:apiserver");
    let rbac = "rbac.authorization.k8s.io";
    let flow = "flowcontrol.apiserver.k8s.io";
    let leases = [
        "kube-controller-manager",
        "kube-scheduler",
        "cilium-operator-resource-lock",
        "cert-manager-controller",
        "cert-manager-cainjector-leader-election",
    ];
    let rules = vec![
        rule("", "v1", "TokenRequest", ks, any, kcm),
        rule("", "v1", "ServiceAccount", ks, any, kcm),
        rule("coordination.k8s.io", "v1", "Lease", ks, &leases, "*"),
        rule(
            "coordination.k8s.io",
            "v1",
            "Lease",
            Some("kube-node-lease"),
            any,
            "*",
        ),
        rule(flow, "*", "FlowSchema", None, any, apiserver),
        rule(
            flow,
            "*",
            "PriorityLevelConfiguration",
            None,
            any,
            apiserver,
        ),
        rule(rbac, "v1", "ClusterRole", None, any, apiserver),
        rule(rbac, "v1", "ClusterRoleBinding", None, any, apiserver),
        rule(rbac, "v1", "Role", ks, any, apiserver),
        rule(rbac, "v1", "RoleBinding", ks, any, apiserver),
        rule(rbac, "v1", "Role", Some("kube-public"), any, apiserver),
        rule(
            rbac,
            "v1",
            "RoleBinding",
            Some("kube-public"),
            any,
            apiserver,
        ),
        rule(
            "apiregistration.k8s.io",
            "v1",
            "APIService",
            None,
            API_SERVICES,
            apiserver,
        ),
        controller_pods("daemon-set"),
        controller_pods("replicaset"),
        rule(
            "apps",
            "v1",
            "DaemonSet",
            ks,
            &["cilium", "kube-proxy"],
            "*",
        ),
        rule(
            "apps",
            "v1",
            "Deployment",
            ks,
            &["cilium-operator", "coredns"],
            "*",
        ),
    ];
    serde_json::to_string_pretty(&Value::Array(rules)).unwrap_or_default() + "\n"
}

/// The API server volume that mounts the exclusion rules.
pub fn exclusion_volume() -> HostPathMount {
    HostPathMount {
        host_path: EXCLUSION_RULES_PATH.into(),
        mount_path: EXCLUSION_RULES_PATH.into(),
        name: "admission-exclusion-rules".into(),
        path_type: Some("File".into()),
        read_only: true,
    }
}

/// The API server environment variable that points EKS-D's admission patch at the rules.
pub fn exclusion_env() -> EnvVar {
    EnvVar {
        name: "EKS_PATCH_EXCLUSION_RULES_FILE".into(),
        value: EXCLUSION_RULES_PATH.into(),
    }
}
