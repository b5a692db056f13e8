//! The API server audit policy EKS Anywhere installs on every control-plane machine.
//!
//! Built here as data (rules with their users, verbs and resource groups) and printed as
//! YAML, rather than kept as a text blob: the rules are the same for every Kubernetes version
//! EKS Anywhere v0.24 supports (from 1.24 in the `audit.k8s.io/v1` form, which drops one
//! rule's user group), and a user's `auditPolicyContent` replaces it entirely.

use serde_json::{Map, Value, json};

/// Every API group the catch-all read and write rules name, the core group first.
const KNOWN_GROUPS: [&str; 18] = [
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "extensions",
    "metrics.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "scheduling.k8s.io",
    "settings.k8s.io",
    "storage.k8s.io",
];

/// One rule under construction.
struct Rule(Map<String, Value>);

impl Rule {
    fn level(level: &str) -> Self {
        let mut m = Map::new();
        m.insert("level".into(), json!(level));
        Self(m)
    }
    fn list(mut self, key: &str, items: &[&str]) -> Self {
        self.0.insert(key.into(), json!(items));
        self
    }
    fn core(self, resources: &[&str]) -> Self {
        self.resources(vec![json!({"group": "", "resources": resources})])
    }
    fn resources(mut self, resources: Vec<Value>) -> Self {
        self.0.insert("resources".into(), Value::Array(resources));
        self
    }
    fn groups(self, groups: &[&str]) -> Self {
        self.resources(groups.iter().map(|g| json!({ "group": g })).collect())
    }
    fn omit_received(self) -> Self {
        self.list("omitStages", &["RequestReceived"])
    }
}

/// The default audit policy as YAML text, for a Kubernetes version (`1.21`, ...):
/// `audit.k8s.io/v1beta1` below 1.24, `audit.k8s.io/v1` from 1.24, as EKS Anywhere prints
/// them.
pub fn default_audit_policy(kubernetes_version: &str) -> String {
    let node_status = ["nodes/status", "pods/status"];
    let rules = vec![
        Rule::level("RequestResponse")
            .list("namespaces", &["kube-system"])
            .list("verbs", &["update", "patch", "delete"])
            .resources(vec![json!({
                "group": "", "resources": ["configmaps"], "resourceNames": ["aws-auth"]
            })])
            .omit_received(),
        Rule::level("None")
            .list("users", &["system:kube-proxy"])
            .list("verbs", &["watch"])
            .core(&["endpoints", "services", "services/status"]),
        Rule::level("None")
            .list("users", &["kubelet"])
            .list("verbs", &["get"])
            .core(&["nodes", "nodes/status"]),
        Rule::level("None")
            .list("userGroups", &["system:nodes"])
            .list("verbs", &["get"])
            .core(&["nodes", "nodes/status"]),
        Rule::level("None")
            .list(
                "users",
                &[
                    "system:kube-controller-manager",
                    "system:kube-scheduler",
                    "system:serviceaccount:kube-system:endpoint-controller",
                ],
            )
            .list("verbs", &["get", "update"])
            .list("namespaces", &["kube-system"])
            .core(&["endpoints"]),
        Rule::level("None")
            .list("users", &["system:apiserver"])
            .list("verbs", &["get"])
            .core(&["namespaces", "namespaces/status", "namespaces/finalize"]),
        Rule::level("None")
            .list("users", &["system:kube-controller-manager"])
            .list("verbs", &["get", "list"])
            .groups(&["metrics.k8s.io"]),
        Rule::level("None").list("nonResourceURLs", &["/healthz*", "/version", "/swagger*"]),
        Rule::level("None").core(&["events"]),
        Rule::level("Request")
            .list(
                "users",
                &[
                    "kubelet",
                    "system:node-problem-detector",
                    "system:serviceaccount:kube-system:node-problem-detector",
                ],
            )
            .list("verbs", &["update", "patch"])
            .core(&node_status)
            .omit_received(),
        Rule::level("Request")
            .list("userGroups", &["system:nodes"])
            .list("verbs", &["update", "patch"])
            .core(&node_status)
            .omit_received(),
        Rule::level("Request")
            .list(
                "users",
                &["system:serviceaccount:kube-system:namespace-controller"],
            )
            .list("verbs", &["deletecollection"])
            .omit_received(),
        Rule::level("Metadata")
            .resources(vec![
                json!({"group": "", "resources": ["secrets", "configmaps"]}),
                json!({"group": "authentication.k8s.io", "resources": ["tokenreviews"]}),
            ])
            .omit_received(),
        Rule::level("Request").core(&["serviceaccounts/token"]),
        Rule::level("Request")
            .list("verbs", &["get", "list", "watch"])
            .groups(&KNOWN_GROUPS)
            .omit_received(),
        Rule::level("RequestResponse")
            .groups(&KNOWN_GROUPS)
            .omit_received(),
        Rule::level("Metadata").omit_received(),
    ];
    let policy = json!({
        "apiVersion": "audit.k8s.io/v1beta1",
        "kind": "Policy",
        "rules": rules.into_iter().map(|r| Value::Object(r.0)).collect::<Vec<_>>(),
    });
    if is_v1(kubernetes_version) {
        return super::to_yaml_text(&to_v1(policy));
    }
    super::to_yaml_text(&policy)
}

/// Whether a Kubernetes version (`1.24`, `v1.29`) gets the `audit.k8s.io/v1` policy; a
/// version that does not parse keeps `v1beta1`.
fn is_v1(kubernetes_version: &str) -> bool {
    let mut parts = kubernetes_version.trim_start_matches('v').split('.');
    let major = parts.next().and_then(|m| m.parse::<u32>().ok());
    let minor = parts.next().and_then(|m| m.parse::<u32>().ok());
    matches!((major, minor), (Some(major), Some(minor)) if (major, minor) >= (1, 24))
}

/// The `audit.k8s.io/v1` policy EKS Anywhere prints from 1.24 (its Go `auditv1.Policy`
/// marshalled): the same rules, with `metadata.creationTimestamp: null`, the core group's
/// empty `group` left out, and no `userGroups` on the rule that ignores reads of nodes.
fn to_v1(mut policy: Value) -> Value {
    policy["apiVersion"] = json!("audit.k8s.io/v1");
    policy["metadata"] = json!({"creationTimestamp": null});
    for rule in policy["rules"].as_array_mut().into_iter().flatten() {
        let Some(rule) = rule.as_object_mut() else {
            continue;
        };
        let node_reads = rule.get("userGroups") == Some(&json!(["system:nodes"]))
            && rule.get("verbs") == Some(&json!(["get"]));
        if node_reads {
            rule.remove("userGroups");
        }
        for group in rule
            .get_mut("resources")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            if group.get("group") == Some(&json!("")) {
                group.remove("group");
            }
        }
    }
    policy
}
