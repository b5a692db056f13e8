//! The API server audit policy EKS Anywhere installs on every control-plane machine.
//!
//! Built here as data (rules with their users, verbs and resource groups) and printed as
//! YAML, rather than kept as a text blob: the policy is the same for every Kubernetes version
//! EKS Anywhere v0.24 supports, and a user's `auditPolicyContent` replaces it entirely.

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

/// The default audit policy (`audit.k8s.io/v1beta1` `Policy`) as YAML text, for a
/// Kubernetes version (`1.21`, ...). The same policy serves every supported version.
pub fn default_audit_policy(_kubernetes_version: &str) -> String {
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
    super::to_yaml_text(&policy)
}

/// The default audit policy as EKS Anywhere's `GetAuditPolicy` gives it for a Kubernetes
/// version (`1.29`, ...): before 1.24 the `v1beta1` policy of [`default_audit_policy`]; from
/// 1.24 the same rules as an `audit.k8s.io/v1` `Policy` printed from its Go type (empty
/// `metadata.creationTimestamp`, the core group's empty name left out). EKS Anywhere's v1
/// policy also lacks the `userGroups: [system:nodes]` of the rule that drops nodes' `get`
/// of nodes, so that rule drops those requests from everyone; kept as it is, since the
/// rendered objects must equal EKS Anywhere's.
pub fn versioned_audit_policy(kubernetes_version: &str) -> String {
    let v1beta1 = default_audit_policy(kubernetes_version);
    let minor: u32 = kubernetes_version
        .trim_start_matches('v')
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if minor < 24 {
        return v1beta1;
    }
    let Ok(mut policy) = serde_yaml_ng::from_str::<Value>(&v1beta1) else {
        return v1beta1;
    };
    policy["apiVersion"] = json!("audit.k8s.io/v1");
    policy["metadata"] = json!({"creationTimestamp": null});
    let rules = policy.get_mut("rules").and_then(Value::as_array_mut);
    for rule in rules.into_iter().flatten() {
        if rule.get("level") == Some(&json!("None"))
            && rule.get("verbs") == Some(&json!(["get"]))
            && rule.get("userGroups") == Some(&json!(["system:nodes"]))
            && let Some(m) = rule.as_object_mut()
        {
            m.remove("userGroups");
        }
        let resources = rule.get_mut("resources").and_then(Value::as_array_mut);
        for r in resources.into_iter().flatten() {
            if let Some(m) = r.as_object_mut()
                && m.get("group").and_then(Value::as_str) == Some("")
            {
                m.remove("group");
            }
        }
    }
    super::to_yaml_text(&policy)
}
