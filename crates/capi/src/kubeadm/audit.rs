//! The API server audit policy EKS Anywhere installs on every control-plane machine.
//!
//! Built here as data (rules with their users, verbs and resource groups) and printed as
//! YAML, rather than kept as a text blob: the rules are the same for every Kubernetes version
//! EKS Anywhere v0.24 supports (1.24 and later get them as `audit.k8s.io/v1`), and a user's
//! `auditPolicyContent` replaces it entirely.

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

/// Whether a Kubernetes version (`1.21`, `1.29`, ...) takes the `audit.k8s.io/v1` policy
/// (1.24 and later).
fn takes_v1(kubernetes_version: &str) -> bool {
    let mut parts = kubernetes_version.trim_start_matches('v').split('.');
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (1, 24)
}

/// The default audit policy as YAML text, for a Kubernetes version (`1.21`, ...): the
/// `audit.k8s.io/v1beta1` `Policy` before 1.24, the `audit.k8s.io/v1` one from 1.24 on.
///
/// The v1 policy is what EKS Anywhere marshals from its Go value: the same rules, the core
/// group as an absent `group`, `metadata.creationTimestamp: null`, and its `get nodes` rule
/// without the `system:nodes` user group (EKS Anywhere's v1 value leaves it out).
pub fn default_audit_policy(kubernetes_version: &str) -> String {
    let mut rules = rules();
    if !takes_v1(kubernetes_version) {
        let policy = json!({
            "apiVersion": "audit.k8s.io/v1beta1",
            "kind": "Policy",
            "rules": rules.into_iter().map(|r| Value::Object(r.0)).collect::<Vec<_>>(),
        });
        return super::to_yaml_text(&policy);
    }
    if let Some(rule) = rules.get_mut(GET_NODES_BY_GROUP) {
        rule.0.remove("userGroups");
    }
    let rules: Vec<Value> = rules
        .into_iter()
        .map(|mut r| {
            if let Some(Value::Array(resources)) = r.0.get_mut("resources") {
                for res in resources.iter_mut().filter_map(Value::as_object_mut) {
                    if res.get("group") == Some(&json!("")) {
                        res.remove("group");
                    }
                }
            }
            Value::Object(r.0)
        })
        .collect();
    let policy = json!({
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "metadata": {"creationTimestamp": null},
        "rules": rules,
    });
    super::to_yaml_text(&policy)
}

/// Index of the rule that drops the `system:nodes` group's node reads.
const GET_NODES_BY_GROUP: usize = 3;

/// The rules of the default policy, in order.
fn rules() -> Vec<Rule> {
    let node_status = ["nodes/status", "pods/status"];
    vec![
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
    ]
}
