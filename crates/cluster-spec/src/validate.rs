//! Offline validation: every rule EKS Anywhere v0.24.6 applies to a spec before it touches
//! infrastructure, each as a named [`Check`] of a [`Report`].
//!
//! The rules come from the Cluster's content validations (`pkg/api/v1alpha1/cluster.go`),
//! the create webhook, each kind's `Validate` (datacenter and machine configs, OIDC, IAM,
//! GitOps, Flux, Snow IP pools, host OS settings), the config manager's namespace checks,
//! and the Tinkerbell provider's spec assertions (`pkg/providers/tinkerbell/assert.go`),
//! including the hardware ones against a `hardware.csv`. Where EKS Anywhere stops at the
//! first error, every finding of every rule is reported, each naming the document, the kind
//! and name of the object and the field. The messages say what to change.
//!
//! [`validate`] validates the spec as EKS Anywhere does: after its defaults
//! ([`crate::defaults::builder_defaults`] and [`crate::defaults::provider_defaults`]), so a
//! worker group without a count is not an error.
//!
//! Three kinds of result besides a pass: a failure makes the spec invalid; a warning does not
//! (what EKS Anywhere logs as a warning, a reference it silently ignores, a missing SSH key it
//! generates, rules it applies only on upgrade); a check that needs something the caller did
//! not give (the hardware inventory) is skipped.
//!
//! Not here, because they need the network or a cluster: whether the endpoint or Tinkerbell
//! IP answer, whether the proxy resolves, what vCenter/CloudStack/Prism/Snow devices say,
//! whether the release bundle supports the Kubernetes version (`ironbell-release`).
//!
//! ## Where ironbell is stricter than EKS Anywhere
//!
//! - `hardware-available` sums the machines of every group that uses the same hardware
//!   selector. EKS Anywhere's `MinimumHardwareRequirements.Add` overwrites the count per
//!   selector, so two worker groups of one machine sharing a selector pass with one machine
//!   there, and the second machine never finds hardware.
//!
//! ## The checks, in report order
//!
//! | name | what |
//! |---|---|
//! | `cluster-name` | letters, digits, dashes, starting with a letter; at most 35 characters |
//! | `kubernetes-version` | set, a version EKS Anywhere knows; worker groups not ahead of the control plane nor more than 2 minors behind; not 1.20 on bare metal |
//! | `control-plane-endpoint` | set (an IP on Tinkerbell, Snow, Nutanix); absent on Docker |
//! | `control-plane-count` | positive; odd with stacked etcd |
//! | `external-etcd` | none on Tinkerbell; count set, odd |
//! | `machine-group-refs` | every group names a machine config of the provider's kind |
//! | `worker-node-groups` | present (except Tinkerbell, from 1.22); names set and unique; counts and autoscaling bounds |
//! | `taints` | keys and values; not every group NoSchedule/NoExecute; no control-plane taints without workers |
//! | `node-labels` | Kubernetes label syntax |
//! | `cluster-network` | one valid pod and service CIDR each; node mask; CNI config; kindnetd only on Docker; Cilium settings; Snow endpoint outside the CIDRs |
//! | `proxy` | both proxies set, `host:port` with a valid port |
//! | `registry-mirror` | endpoint, port, OCI namespaces, one curated-packages mirror, no insecureSkipVerify with Bottlerocket |
//! | `identity-providers` | reference kinds and names, one of each kind; the OIDC and IAM configs' own rules; no `oidc-*` API server flags beside an OIDCConfig |
//! | `gitops` | reference kind and name; the GitOpsConfig's or FluxConfig's own rules |
//! | `pod-iam` | service account issuer set |
//! | `upgrade-rollout-strategy` | types and parameters; InPlace only on bare metal, not with Bottlerocket, the same type everywhere, no autoscaling with it; none on Nutanix |
//! | `packages` | no controller or cron job settings on a workload cluster |
//! | `eksa-version` | semantic version |
//! | `cert-sans` | IP addresses or domain names |
//! | `api-server-extra-args` | flags without leading dashes |
//! | `kubelet-configuration` | an object without `providerID` or `cloudProvider` |
//! | `audit-policy` | valid YAML |
//! | `etcd-encryption` | KMS name and unix socket; warnings for what applies on upgrade only |
//! | `namespaces` | every object in the Cluster's namespace |
//! | `datacenter-config` | the provider's datacenter rules |
//! | `machine-configs` | each referenced machine config's rules, its users and host OS settings |
//! | `tinkerbell-ip` | (Tinkerbell) differs from the control plane endpoint |
//! | `tinkerbell-os-family` | (Tinkerbell) one OS family; no Bottlerocket from Kubernetes 1.29 |
//! | `tinkerbell-os-image-url` | (Tinkerbell) in one place, present for non-Bottlerocket, naming each Kubernetes version |
//! | `tinkerbell-hook` | (Tinkerbell) hook ISO URL ends in `.iso`; local hook images with a proxy |
//! | `hardware-selectors` | (Tinkerbell) exactly one `key: value` per machine config |
//! | `hardware-available` | (Tinkerbell, with hardware.csv) enough machines per selector |
//! | `hardware-one-selector` | (Tinkerbell, with hardware.csv) no machine matches two selectors |
//! | `snow-ip-pools` | (Snow) addresses, ranges inside their subnets |
//!
//! Address and CIDR parsing uses `ipnet`, URLs `url`, versions `semver`: the same checks Go's
//! `net`, `net/url` and semver packages make.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use ironbell_inventory::Inventory;
use ironbell_model::anywhere::{
    AWSIamConfig, Cluster, Cni, CniConfig, FluxConfig, GitOpsConfig, HostOsConfiguration,
    IntOrString, NutanixIdentifierType, NutanixResourceIdentifier, OIDCConfig, OsFamily, Ref,
    SnowIPPool, Taint, TaintEffect, TinkerbellMachineConfig, UpgradeRolloutStrategyType,
    UserConfiguration, WorkerNodeGroupConfiguration,
};
use ironbell_model::selector::{validate_label_key, validate_label_value};
use ironbell_model::{ObjectMeta, Resource};

use crate::defaults::{builder_defaults, provider_defaults};
use crate::spec::{DatacenterConfig, MachineConfig, Provider, Spec};

/// Kubernetes minor versions EKS Anywhere v0.24.6 knows (`Kube118` to `Kube134`). Whether a
/// release ships one is the release bundle's to say.
pub const KNOWN_KUBERNETES_VERSIONS: std::ops::RangeInclusive<u32> = 18..=34;

/// One problem found by a check, located in the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// 1-based index of the document holding the object, when known.
    pub document: Option<usize>,
    /// Kind of the object, e.g. `Cluster`.
    pub kind: String,
    /// Name of the object.
    pub name: String,
    /// Path of the field in the object, e.g. `spec.controlPlaneConfiguration.count`
    /// (`.` for the object as a whole).
    pub field: String,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind, self.name)?;
        if let Some(d) = self.document {
            write!(f, " (document {d})")?;
        }
        if self.field != "." {
            write!(f, ", field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The outcome of one check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// Nothing to report.
    Passed,
    /// Worth knowing, but the spec is valid.
    Warning(Vec<Finding>),
    /// The spec is invalid.
    Failed(Vec<Finding>),
    /// Not run: the reason (e.g. no hardware inventory given).
    Skipped(String),
}

/// A named check and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Stable name of the rule, e.g. `worker-node-groups`.
    pub name: &'static str,
    /// What it found.
    pub result: CheckResult,
}

/// Every check run on a spec, in a fixed order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether no check failed.
    pub fn is_valid(&self) -> bool {
        !self
            .checks
            .iter()
            .any(|c| matches!(c.result, CheckResult::Failed(_)))
    }

    /// The check with this name.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Every failure, with the name of its check.
    pub fn failures(&self) -> impl Iterator<Item = (&'static str, &Finding)> {
        self.checks.iter().flat_map(|c| match &c.result {
            CheckResult::Failed(f) => f.iter().map(|f| (c.name, f)).collect(),
            _ => Vec::new(),
        })
    }
}

/// One line per check, `✓ name`, `! name: warning`, `✗ name: failure` or
/// `- name: skipped, reason`; a check with several findings prints one line for each.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            match &c.result {
                CheckResult::Passed => writeln!(f, "✓ {}", c.name)?,
                CheckResult::Skipped(why) => writeln!(f, "- {}: skipped, {why}", c.name)?,
                CheckResult::Warning(found) => {
                    for x in found {
                        writeln!(f, "! {}: {x}", c.name)?;
                    }
                }
                CheckResult::Failed(found) => {
                    for x in found {
                        writeln!(f, "✗ {}: {x}", c.name)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// What a rule collects.
struct Ctx<'a> {
    spec: &'a Spec,
    failures: Vec<Finding>,
    warnings: Vec<Finding>,
    skipped: Option<String>,
}

impl Ctx<'_> {
    fn finding(&self, kind: &str, meta: &ObjectMeta, field: &str, message: String) -> Finding {
        Finding {
            document: self.spec.document_of(kind, meta.name()),
            kind: kind.into(),
            name: meta.name().into(),
            field: field.into(),
            message,
        }
    }

    /// Records a failure (or a warning) about the object of `kind` and `meta`.
    fn report(
        &mut self,
        warning: bool,
        kind: &str,
        meta: &ObjectMeta,
        field: &str,
        message: String,
    ) {
        let f = self.finding(kind, meta, field, message);
        if warning {
            self.warnings.push(f);
        } else {
            self.failures.push(f);
        }
    }

    /// A failure in the Cluster.
    fn cluster(&mut self, field: &str, message: impl Into<String>) {
        let meta = &self.spec.cluster.metadata;
        self.report(false, Cluster::KIND, meta, field, message.into());
    }

    /// A warning about the Cluster.
    fn cluster_warning(&mut self, field: &str, message: impl Into<String>) {
        let meta = &self.spec.cluster.metadata;
        self.report(true, Cluster::KIND, meta, field, message.into());
    }

    /// A failure in another object.
    fn object(&mut self, kind: &str, meta: &ObjectMeta, field: &str, message: impl Into<String>) {
        self.report(false, kind, meta, field, message.into());
    }

    /// A failure in the datacenter config.
    fn datacenter(&mut self, field: &str, message: impl Into<String>) {
        let dc = &self.spec.datacenter;
        self.report(false, dc.kind(), dc.metadata(), field, message.into());
    }

    /// A failure in a machine config.
    fn machine(&mut self, mc: &MachineConfig, field: &str, message: impl Into<String>) {
        self.report(false, mc.kind(), mc.metadata(), field, message.into());
    }
}

type Rule = fn(&mut Ctx);

/// The rules of every spec, in report order.
const RULES: &[(&str, Rule)] = &[
    ("cluster-name", cluster_name),
    ("kubernetes-version", kubernetes_version),
    ("control-plane-endpoint", control_plane_endpoint),
    ("control-plane-count", control_plane_count),
    ("external-etcd", external_etcd),
    ("machine-group-refs", machine_group_refs),
    ("worker-node-groups", worker_node_groups),
    ("taints", taints),
    ("node-labels", node_labels),
    ("cluster-network", cluster_network),
    ("proxy", proxy),
    ("registry-mirror", registry_mirror),
    ("identity-providers", identity_providers),
    ("gitops", gitops),
    ("pod-iam", pod_iam),
    ("upgrade-rollout-strategy", upgrade_rollout_strategy),
    ("packages", packages),
    ("eksa-version", eksa_version),
    ("cert-sans", cert_sans),
    ("api-server-extra-args", api_server_extra_args),
    ("kubelet-configuration", kubelet_configuration),
    ("audit-policy", audit_policy),
    ("etcd-encryption", etcd_encryption),
    ("namespaces", namespaces),
    ("datacenter-config", datacenter_config),
    ("machine-configs", machine_configs),
];

/// The Tinkerbell provider's rules, after [`RULES`] for a Tinkerbell spec.
const TINKERBELL_RULES: &[(&str, Rule)] = &[
    ("tinkerbell-ip", tinkerbell_ip),
    ("tinkerbell-os-family", tinkerbell_os_family),
    ("tinkerbell-os-image-url", tinkerbell_os_image_url),
    ("tinkerbell-hook", tinkerbell_hook),
    ("hardware-selectors", hardware_selectors),
];

/// Validates a spec offline (see the module docs). `inventory` is the parsed `hardware.csv`
/// for a Tinkerbell spec's hardware checks, which are skipped without it.
pub fn validate(spec: &Spec, inventory: Option<&Inventory>) -> Report {
    let mut defaulted = spec.clone();
    builder_defaults(&mut defaulted);
    provider_defaults(&mut defaulted);
    let spec = &defaulted;
    let mut report = Report::default();
    let mut run = |name: &'static str, rule: &dyn Fn(&mut Ctx)| {
        let mut ctx = Ctx {
            spec,
            failures: Vec::new(),
            warnings: Vec::new(),
            skipped: None,
        };
        rule(&mut ctx);
        let result = if !ctx.failures.is_empty() {
            CheckResult::Failed(ctx.failures)
        } else if let Some(why) = ctx.skipped {
            CheckResult::Skipped(why)
        } else if !ctx.warnings.is_empty() {
            CheckResult::Warning(ctx.warnings)
        } else {
            CheckResult::Passed
        };
        report.checks.push(Check { name, result });
    };
    for (name, rule) in RULES {
        run(name, rule);
    }
    match spec.provider() {
        Provider::Tinkerbell => {
            for (name, rule) in TINKERBELL_RULES {
                run(name, rule);
            }
            run("hardware-available", &|ctx| {
                hardware_available(ctx, inventory)
            });
            run("hardware-one-selector", &|ctx| {
                hardware_one_selector(ctx, inventory)
            });
        }
        Provider::Snow => run("snow-ip-pools", &snow_ip_pools),
        _ => {}
    }
    report
}

// ---------------------------------------------------------------------------------------
// Helpers

fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// Go's `url.ParseRequestURI`: an absolute URL or an absolute path.
fn is_request_uri(s: &str) -> bool {
    s.starts_with('/') || url::Url::parse(s).is_ok()
}

/// A minor version `1.NN` as its minor number.
fn minor_version(v: &str) -> Option<u32> {
    let minor = v.strip_prefix("1.")?;
    if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    minor.parse().ok()
}

fn cluster_version(spec: &Spec) -> Option<u32> {
    let v = spec.cluster.spec.kubernetes_version.as_ref()?;
    minor_version(v.as_str())
}

fn provider_is(spec: &Spec, p: Provider) -> bool {
    spec.provider() == p
}

fn label_problems(labels: Option<&BTreeMap<String, String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        if let Err(e) = validate_label_key(k) {
            out.push(format!("label key {k:?}: {e}"));
        }
        if let Err(e) = validate_label_value(v) {
            out.push(format!("label {k:?} value {v:?}: {e}"));
        }
    }
    out
}

fn group_field(i: usize, rest: &str) -> String {
    format!("spec.workerNodeGroupConfigurations[{i}].{rest}")
}

fn group_name(g: &WorkerNodeGroupConfiguration) -> &str {
    g.name.as_deref().unwrap_or_default()
}

fn cp_count(spec: &Spec) -> i64 {
    let cp = spec.control_plane();
    cp.and_then(|c| c.count).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// The Cluster's rules

fn cluster_name(ctx: &mut Ctx) {
    let name = ctx.spec.name().to_string();
    let mut chars = name.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = name.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !starts_with_letter || !rest_ok {
        ctx.cluster(
            "metadata.name",
            format!("{name:?} is not a valid cluster name: it must start with a letter and contain only letters, digits and dashes (at least 2 characters), e.g. \"test-cluster-123\""),
        );
    }
    if name.len() > 35 {
        ctx.cluster(
            "metadata.name",
            format!(
                "the cluster name has {} characters; use at most 35",
                name.len()
            ),
        );
    }
}

fn kubernetes_version(ctx: &mut Ctx) {
    let Some(v) = ctx.spec.cluster.spec.kubernetes_version.clone() else {
        ctx.cluster(
            "spec.kubernetesVersion",
            "missing: set the Kubernetes version, e.g. \"1.31\"",
        );
        return;
    };
    let known = |m: u32| KNOWN_KUBERNETES_VERSIONS.contains(&m);
    let cp = minor_version(v.as_str());
    match cp {
        Some(m) if known(m) => {}
        _ => ctx.cluster(
            "spec.kubernetesVersion",
            format!(
                "{:?} is not a Kubernetes version EKS Anywhere knows: use 1.{} to 1.{}",
                v.as_str(),
                KNOWN_KUBERNETES_VERSIONS.start(),
                KNOWN_KUBERNETES_VERSIONS.end()
            ),
        ),
    }
    let groups = ctx.spec.worker_node_groups().to_vec();
    for (i, g) in groups.iter().enumerate() {
        let Some(gv) = g.kubernetes_version.as_ref() else {
            continue;
        };
        let field = group_field(i, "kubernetesVersion");
        match (minor_version(gv.as_str()), cp) {
            (Some(w), _) if !known(w) => ctx.cluster(
                &field,
                format!(
                    "{:?} is not a Kubernetes version EKS Anywhere knows",
                    gv.as_str()
                ),
            ),
            (Some(w), Some(c)) if w > c => ctx.cluster(
                &field,
                format!(
                    "worker node group {:?} has Kubernetes {}, newer than the control plane's {}: a worker group may not be ahead of the control plane",
                    group_name(g),
                    gv.as_str(),
                    v.as_str()
                ),
            ),
            (Some(w), Some(c)) if c - w > 2 => ctx.cluster(
                &field,
                format!(
                    "the cluster's Kubernetes {} is more than 2 minor versions ahead of worker node group {:?} ({}): upgrade the group first",
                    v.as_str(),
                    group_name(g),
                    gv.as_str()
                ),
            ),
            (None, _) => ctx.cluster(
                &field,
                format!("{:?} is not a Kubernetes minor version such as \"1.31\"", gv.as_str()),
            ),
            _ => {}
        }
    }
    if provider_is(ctx.spec, Provider::Tinkerbell) && cp == Some(20) {
        ctx.cluster(
            "spec.kubernetesVersion",
            "Kubernetes 1.20 is not supported on bare metal (Tinkerbell): use a later version",
        );
    }
}

fn control_plane_endpoint(ctx: &mut Ctx) {
    let host = ctx.spec.control_plane_endpoint().to_string();
    let field = "spec.controlPlaneConfiguration.endpoint.host";
    if provider_is(ctx.spec, Provider::Docker) {
        if !host.is_empty() {
            ctx.cluster(
                field,
                "the Docker provider picks the control plane endpoint itself: remove controlPlaneConfiguration.endpoint",
            );
        }
        return;
    }
    if host.is_empty() {
        ctx.cluster(
            field,
            "missing: set the address the API server will be reached at (a free IP address in the machines' network)",
        );
        return;
    }
    // `host` or `host:port`; the port defaults to 6443.
    let bare = match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') => {
            if port.parse::<u16>().map_or(true, |p| p == 0) {
                ctx.cluster(field, format!("{host:?} has an invalid port"));
            }
            h.to_string()
        }
        _ => host.clone(),
    };
    let needs_ip = matches!(
        ctx.spec.provider(),
        Provider::Tinkerbell | Provider::Snow | Provider::Nutanix
    );
    if needs_ip && !is_ip(&bare) {
        ctx.cluster(
            field,
            format!("{bare:?} is not an IP address: the control plane endpoint must be a virtual IP address"),
        );
    }
}

fn control_plane_count(ctx: &mut Ctx) {
    let count = cp_count(ctx.spec);
    let field = "spec.controlPlaneConfiguration.count";
    if count <= 0 {
        ctx.cluster(
            field,
            "the control plane needs at least one machine: set count to 1, 3 or 5",
        );
        return;
    }
    if ctx.spec.cluster.spec.external_etcd_configuration.is_some() {
        return;
    }
    if count % 2 == 0 {
        ctx.cluster(
            field,
            format!("{count} control plane machines with stacked etcd cannot keep a quorum through a failure: use an odd number (1, 3 or 5)"),
        );
    } else if count != 1 && count != 3 && count != 5 && !provider_is(ctx.spec, Provider::Docker) {
        ctx.cluster_warning(field, "3 or 5 control plane machines are recommended");
    }
}

fn external_etcd(ctx: &mut Ctx) {
    let Some(etcd) = ctx.spec.cluster.spec.external_etcd_configuration.clone() else {
        return;
    };
    let field = "spec.externalEtcdConfiguration";
    if provider_is(ctx.spec, Provider::Tinkerbell) {
        ctx.cluster(
            field,
            "external etcd is not supported on bare metal (Tinkerbell): remove externalEtcdConfiguration to stack etcd on the control plane",
        );
        return;
    }
    let count = etcd.count.unwrap_or(0);
    let field = "spec.externalEtcdConfiguration.count";
    if count == 0 {
        ctx.cluster(field, "missing: set the number of etcd machines (3 or 5)");
    } else if count < 0 {
        ctx.cluster(field, "the number of etcd machines cannot be negative");
    } else if count % 2 == 0 {
        ctx.cluster(field, format!("{count} etcd machines cannot keep a quorum through a failure: use an odd number (3 or 5)"));
    } else if count != 3 && count != 5 && !provider_is(ctx.spec, Provider::Docker) {
        ctx.cluster_warning(field, "an external etcd of 3 or 5 machines is recommended");
    }
}

fn machine_group_refs(ctx: &mut Ctx) {
    let provider = ctx.spec.provider();
    let Some(expected) = provider.machine_config_kind() else {
        return;
    };
    let spec = ctx.spec;
    let mut refs: Vec<(String, Option<&Ref>)> = vec![(
        "spec.controlPlaneConfiguration.machineGroupRef".into(),
        spec.control_plane_machine_ref(),
    )];
    if spec.cluster.spec.external_etcd_configuration.is_some() {
        refs.push((
            "spec.externalEtcdConfiguration.machineGroupRef".into(),
            spec.etcd_machine_ref(),
        ));
    }
    for (i, g) in spec.worker_node_groups().iter().enumerate() {
        refs.push((
            group_field(i, "machineGroupRef"),
            g.machine_group_ref.as_ref(),
        ));
    }
    for (field, r) in refs {
        match r {
            None => ctx.cluster(
                &field,
                format!("missing: name the {expected} these machines use"),
            ),
            Some(r) if r.kind() != expected => ctx.cluster(
                &field,
                format!(
                    "refers to a {}, but a {} cluster's machines need a {expected}",
                    if r.kind().is_empty() {
                        "reference without kind"
                    } else {
                        r.kind()
                    },
                    provider
                ),
            ),
            Some(r) if r.name().is_empty() => {
                ctx.cluster(&field, format!("missing name: name the {expected}"))
            }
            Some(_) => {}
        }
    }
}

fn worker_node_groups(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let groups = spec.worker_node_groups();
    let field = "spec.workerNodeGroupConfigurations";
    if groups.is_empty() {
        if provider_is(spec, Provider::Tinkerbell) {
            ctx.cluster_warning(
                field,
                "no worker node groups: pods will be scheduled on the control plane machines",
            );
        } else {
            ctx.cluster(
                field,
                format!(
                    "a {} cluster needs at least one worker node group",
                    spec.provider()
                ),
            );
        }
        if cluster_version(spec).is_some_and(|v| v <= 21) {
            ctx.cluster(
                field,
                "a cluster without worker node groups needs Kubernetes 1.22 or later",
            );
        }
    }
    let mut seen = BTreeSet::new();
    for (i, g) in groups.iter().enumerate() {
        let name = group_name(g);
        if name.is_empty() {
            ctx.cluster(
                &group_field(i, "name"),
                "missing: name the worker node group",
            );
        } else if !seen.insert(name) {
            ctx.cluster(
                &group_field(i, "name"),
                format!("a second worker node group named {name:?}: names must be unique"),
            );
        }
        let count = g.count.unwrap_or(1);
        match &g.autoscaling_configuration {
            None if count < 0 => ctx.cluster(
                &group_field(i, "count"),
                "the worker count cannot be negative",
            ),
            None => {}
            Some(a) => {
                let (min, max) = (a.min_count.unwrap_or(0), a.max_count.unwrap_or(0));
                let f = group_field(i, "autoscalingConfiguration");
                if min < 0 {
                    ctx.cluster(&f, "minCount cannot be negative");
                } else if min > max {
                    ctx.cluster(&f, format!("minCount {min} is greater than maxCount {max}"));
                } else if min > count {
                    ctx.cluster(
                        &f,
                        format!("minCount {min} is greater than the group's count {count}"),
                    );
                } else if max < count {
                    ctx.cluster(
                        &f,
                        format!("maxCount {max} is less than the group's count {count}"),
                    );
                }
            }
        }
    }
}

fn taints(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let cp_taints = spec
        .control_plane()
        .and_then(|c| c.taints.clone())
        .unwrap_or_default();
    let check = |ctx: &mut Ctx, field: String, taints: &[Taint]| {
        for (j, t) in taints.iter().enumerate() {
            if let Err(e) = validate_label_key(&t.key) {
                ctx.cluster(
                    &format!("{field}[{j}].key"),
                    format!("taint key {:?}: {e}", t.key),
                );
            }
            if let Some(v) = &t.value
                && let Err(e) = validate_label_value(v)
            {
                ctx.cluster(
                    &format!("{field}[{j}].value"),
                    format!("taint value {v:?}: {e}"),
                );
            }
        }
    };
    check(
        ctx,
        "spec.controlPlaneConfiguration.taints".into(),
        &cp_taints,
    );
    let groups = spec.worker_node_groups();
    let mut all_tainted = !groups.is_empty();
    for (i, g) in groups.iter().enumerate() {
        let taints = g.taints.as_deref().unwrap_or_default();
        check(ctx, group_field(i, "taints"), taints);
        let blocks = taints
            .iter()
            .any(|t| matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute));
        all_tainted &= blocks;
    }
    if all_tainted && spec.is_self_managed() {
        ctx.cluster(
            "spec.workerNodeGroupConfigurations",
            "every worker node group has a NoSchedule or NoExecute taint, so the cluster's own components cannot run: leave at least one group without such taints",
        );
    }
    if groups.is_empty() && !cp_taints.is_empty() {
        ctx.cluster(
            "spec.controlPlaneConfiguration.taints",
            "the control plane cannot be tainted when there are no worker node groups: pods would have nowhere to run",
        );
    }
}

fn node_labels(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let cp = spec.control_plane();
    for p in label_problems(cp.and_then(|c| c.labels.as_ref())) {
        ctx.cluster("spec.controlPlaneConfiguration.labels", p);
    }
    for (i, g) in spec.worker_node_groups().iter().enumerate() {
        for p in label_problems(g.labels.as_ref()) {
            ctx.cluster(&group_field(i, "labels"), p);
        }
    }
}

fn cluster_network(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let network = spec.cluster.spec.cluster_network.clone();
    let network = network.unwrap_or_default();
    let cni = network.cni_config.clone();
    let kindnetd =
        network.cni == Some(Cni::Kindnetd) || cni.as_ref().is_some_and(|c| c.kindnetd.is_some());
    if kindnetd && !provider_is(spec, Provider::Docker) {
        ctx.cluster(
            "spec.clusterNetwork.cniConfig",
            "kindnetd is only for the Docker provider (development and tests): use cilium",
        );
    }
    let pods = network.pods.and_then(|p| p.cidr_blocks).unwrap_or_default();
    let services = network
        .services
        .and_then(|p| p.cidr_blocks)
        .unwrap_or_default();
    let mut parsed = Vec::new();
    for (what, blocks) in [("pods", &pods), ("services", &services)] {
        let field = format!("spec.clusterNetwork.{what}.cidrBlocks");
        match blocks.as_slice() {
            [] => ctx.cluster(
                &field,
                format!("missing: give one CIDR block for {what}, e.g. 192.168.0.0/16"),
            ),
            // Parsed (and so checked) when the spec was loaded.
            [one] => parsed.push((what, *one)),
            _ => ctx.cluster(
                &field,
                format!("only one CIDR block is supported for {what}"),
            ),
        }
    }
    if let Some((_, pod_net)) = parsed.iter().find(|(w, _)| *w == "pods") {
        let node_mask = network.nodes.and_then(|n| n.cidr_mask_size).unwrap_or(24);
        let pod_mask = i64::from(pod_net.prefix_len());
        let field = "spec.clusterNetwork.nodes.cidrMaskSize";
        if pod_mask >= node_mask {
            ctx.cluster(field, format!("the pod network /{pod_mask} is no larger than each node's share /{node_mask}: use a larger pod network or a larger node mask"));
        } else if node_mask - pod_mask > 16 {
            ctx.cluster(
                field,
                format!(
                    "the pod network /{pod_mask} and node mask /{node_mask} differ by more than 16"
                ),
            );
        }
    }
    if provider_is(spec, Provider::Snow) {
        let host = spec.control_plane_endpoint().to_string();
        if let Ok(ip) = host.parse::<IpAddr>() {
            for (what, net) in &parsed {
                if net.contains(&ip) {
                    ctx.cluster(
                        "spec.controlPlaneConfiguration.endpoint.host",
                        format!("the control plane endpoint {host} is inside the {what} CIDR block {net}"),
                    );
                }
            }
        }
    }
    match (&network.cni, &cni) {
        (Some(_), Some(_)) => ctx.cluster(
            "spec.clusterNetwork.cni",
            "both cni and cniConfig are set: keep only cniConfig",
        ),
        (Some(_), None) => ctx.cluster_warning(
            "spec.clusterNetwork.cni",
            "cni is deprecated: use cniConfig",
        ),
        (None, None) => ctx.cluster(
            "spec.clusterNetwork.cniConfig",
            "missing: choose a CNI, e.g. cniConfig: {cilium: {}}",
        ),
        (None, Some(c)) => cni_config(ctx, c),
    }
}

fn cni_config(ctx: &mut Ctx, c: &CniConfig) {
    let field = "spec.clusterNetwork.cniConfig";
    match (&c.cilium, &c.kindnetd) {
        (None, None) => ctx.cluster(
            field,
            "no CNI plugin chosen: set cilium (or kindnetd on Docker)",
        ),
        (Some(_), Some(_)) => {
            ctx.cluster(field, "more than one CNI plugin: choose cilium or kindnetd")
        }
        _ => {}
    }
    if let Some(cilium) = &c.cilium {
        let f = "spec.clusterNetwork.cniConfig.cilium";
        if cilium.skip_upgrade == Some(true) && cilium.policy_enforcement_mode.is_some() {
            ctx.cluster(f, "with skipUpgrade, the other Cilium settings must be empty: remove policyEnforcementMode");
        }
        let direct = matches!(
            cilium.routing_mode,
            Some(ironbell_model::anywhere::CiliumRoutingMode::Direct)
        );
        if direct && cilium.ipv4_native_routing_cidr.is_none() {
            ctx.cluster(f, "direct routing mode needs ipv4NativeRoutingCIDR");
        }
    }
}

fn proxy(ctx: &mut Ctx) {
    let Some(p) = ctx.spec.cluster.spec.proxy_configuration.clone() else {
        return;
    };
    for (name, value) in [("httpProxy", &p.http_proxy), ("httpsProxy", &p.https_proxy)] {
        let field = format!("spec.proxyConfiguration.{name}");
        let value = value.as_deref().unwrap_or_default();
        if value.is_empty() {
            ctx.cluster(
                &field,
                format!("missing: set {name}, e.g. http://proxy.example:3128"),
            );
            continue;
        }
        if let Err(e) = check_proxy(value) {
            ctx.cluster(&field, e);
        }
    }
}

/// EKS Anywhere's `validateProxyData`, without the DNS lookup: `host:port` or a URL with
/// both, the host an IP address or a domain name, the port 1 to 65535.
fn check_proxy(value: &str) -> Result<(), String> {
    let host_port = if value.starts_with("http") {
        let u = url::Url::parse(value).map_err(|_| format!("proxy {value} is not a valid URL"))?;
        let host = u.host_str().unwrap_or_default().to_string();
        let port = u.port().map(|p| p.to_string()).unwrap_or_default();
        if port.is_empty() {
            return Err(format!(
                "proxy {value} has no port: write it as http://host:port"
            ));
        }
        format!("{host}:{port}")
    } else {
        value.to_string()
    };
    let Some((host, port)) = host_port.rsplit_once(':') else {
        return Err(format!("proxy {value} is not host:port"));
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !is_ip(host) && !is_domain_name(host) {
        return Err(format!(
            "proxy host {host:?} is neither an IP address nor a domain name"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p >= 1 => Ok(()),
        _ => Err(format!("proxy port {port:?} is not a port from 1 to 65535")),
    }
}

fn is_domain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part.len() <= 63
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

fn registry_mirror(ctx: &mut Ctx) {
    let Some(m) = ctx.spec.cluster.spec.registry_mirror_configuration.clone() else {
        return;
    };
    let base = "spec.registryMirrorConfiguration";
    if m.endpoint.as_deref().is_none_or(str::is_empty) {
        ctx.cluster(
            &format!("{base}.endpoint"),
            "missing: set the mirror's host name or IP address",
        );
    }
    let port_ok = match &m.port {
        None => true,
        Some(IntOrString::Int(p)) => (1..=65535).contains(p),
        Some(IntOrString::String(s)) => s.parse::<u16>().is_ok_and(|p| p >= 1),
    };
    if !port_ok {
        let shown = m.port.as_ref().map(ToString::to_string).unwrap_or_default();
        ctx.cluster(
            &format!("{base}.port"),
            format!("{shown:?} is not a port from 1 to 65535"),
        );
    }
    let mut curated = 0;
    for (i, ns) in m.oci_namespaces.iter().flatten().enumerate() {
        if ns.registry.is_empty() {
            ctx.cluster(
                &format!("{base}.ociNamespaces[{i}].registry"),
                "missing: name the upstream registry, e.g. public.ecr.aws",
            );
        }
        if is_curated_packages_registry(&ns.registry) {
            curated += 1;
            if curated == 2 {
                ctx.cluster(&format!("{base}.ociNamespaces[{i}]"), "only one mirror of the curated packages registry (783794618700.dkr.ecr.*.amazonaws.com) is supported");
            }
        }
    }
    if m.insecure_skip_verify == Some(true) {
        let spec = ctx.spec;
        for mc in referenced_machine_configs(spec) {
            if mc.os_family() == Some(OsFamily::Bottlerocket) {
                let message = format!(
                    "insecureSkipVerify is not supported with Bottlerocket ({} {:?}): give the mirror's CA in caCertContent instead",
                    mc.kind(),
                    mc.name()
                );
                ctx.cluster(&format!("{base}.insecureSkipVerify"), message);
            }
        }
    }
    if m.authenticate == Some(true) {
        ctx.cluster_warning(&format!("{base}.authenticate"), "the mirror's credentials are read from REGISTRY_USERNAME and REGISTRY_PASSWORD when the cluster is created");
    }
}

/// EKS Anywhere's curated packages registry, `783794618700.dkr.ecr.<region>.amazonaws.com`.
fn is_curated_packages_registry(registry: &str) -> bool {
    registry
        .find("783794618700.dkr.ecr.")
        .is_some_and(|at| registry[at..].contains(".amazonaws.com"))
}

/// Whether a reference at `field` has one of the `known` kinds and a name; a failure
/// naming what is wrong otherwise.
fn reference_named(ctx: &mut Ctx, field: &str, r: &Ref, known: &[&str], what: &str) -> bool {
    if !known.contains(&r.kind()) {
        let message = format!(
            "{:?} is not {what} kind: use {}",
            r.kind(),
            known.join(" or ")
        );
        ctx.cluster(&format!("{field}.kind"), message);
        return false;
    }
    if r.name().is_empty() {
        let message = format!("missing: name the {}", r.kind());
        ctx.cluster(&format!("{field}.name"), message);
        return false;
    }
    true
}

fn identity_providers(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let refs = spec
        .cluster
        .spec
        .identity_provider_refs
        .clone()
        .unwrap_or_default();
    let mut kinds = BTreeSet::new();
    for (i, r) in refs.iter().enumerate() {
        let field = format!("spec.identityProviderRefs[{i}]");
        let known = [OIDCConfig::KIND, AWSIamConfig::KIND];
        if !reference_named(ctx, &field, r, &known, "an identity provider") {
            continue;
        }
        if !kinds.insert(r.kind().to_string()) {
            ctx.cluster(
                &field,
                format!(
                    "a second {}: only one of each identity provider kind is supported",
                    r.kind()
                ),
            );
        }
        let present = if r.kind() == OIDCConfig::KIND {
            spec.oidc_configs.contains_key(r.name())
        } else {
            spec.aws_iam_configs.contains_key(r.name())
        };
        if !present {
            ctx.cluster_warning(&field, format!("refers to {} {:?}, which is not in the spec; EKS Anywhere ignores the reference, so no identity provider is configured", r.kind(), r.name()));
        }
    }
    if let Some(o) = spec.oidc_config() {
        oidc_config(ctx, o);
    }
    if let Some(a) = spec.aws_iam_config() {
        aws_iam_config(ctx, a);
    }
    let cp = spec.control_plane();
    let extra = cp.and_then(|c| c.api_server_extra_args.as_ref());
    if kinds.contains(OIDCConfig::KIND) {
        for flag in extra.into_iter().flat_map(|e| e.keys()) {
            if flag.starts_with("oidc-") {
                ctx.cluster(
                    "spec.controlPlaneConfiguration.apiServerExtraArgs",
                    format!("{flag} is set by the OIDCConfig: remove it from apiServerExtraArgs"),
                );
            }
        }
    }
}

fn oidc_config(ctx: &mut Ctx, o: &OIDCConfig) {
    let kind = OIDCConfig::KIND;
    let meta = &o.metadata;
    if o.spec.client_id.as_deref().is_none_or(str::is_empty) {
        ctx.object(
            kind,
            meta,
            "spec.clientId",
            "missing: set the client ID tokens are issued for",
        );
    }
    if o.spec.required_claims.as_ref().is_some_and(|c| c.len() > 1) {
        ctx.object(
            kind,
            meta,
            "spec.requiredClaims",
            "only one required claim is supported",
        );
    }
    let issuer = o.spec.issuer_url.as_deref().unwrap_or_default();
    if issuer.is_empty() {
        ctx.object(
            kind,
            meta,
            "spec.issuerUrl",
            "missing: set the issuer's https:// URL",
        );
        return;
    }
    match url::Url::parse(issuer) {
        Err(e) => ctx.object(
            kind,
            meta,
            "spec.issuerUrl",
            format!("{issuer:?} is not a URL: {e}"),
        ),
        Ok(u) if u.scheme() != "https" => ctx.object(
            kind,
            meta,
            "spec.issuerUrl",
            format!("{issuer:?} must be an https:// URL"),
        ),
        Ok(_) => {}
    }
}

fn aws_iam_config(ctx: &mut Ctx, a: &AWSIamConfig) {
    let kind = AWSIamConfig::KIND;
    let meta = &a.metadata;
    if a.spec.aws_region.is_empty() {
        ctx.object(
            kind,
            meta,
            "spec.awsRegion",
            "missing: set the AWS region of the IAM roles",
        );
    }
    if a.spec.backend_mode.is_empty() {
        ctx.object(
            kind,
            meta,
            "spec.backendMode",
            "missing: list at least one backend mode, e.g. EKSConfigMap",
        );
    }
    for mode in &a.spec.backend_mode {
        if mode == "MountedFile" {
            ctx.object(
                kind,
                meta,
                "spec.backendMode",
                "the MountedFile backend is not supported: use EKSConfigMap or CRD",
            );
        }
        let no_mappings = a.spec.map_roles.as_ref().is_none_or(Vec::is_empty)
            && a.spec.map_users.as_ref().is_none_or(Vec::is_empty);
        if mode == "EKSConfigMap" && no_mappings {
            ctx.report(true, kind, meta, "spec", "backend EKSConfigMap without mapRoles or mapUsers maps no IAM identity to cluster users".into());
        }
    }
    for (i, r) in a.spec.map_roles.iter().flatten().enumerate() {
        if r.role_arn.is_empty() {
            ctx.object(
                kind,
                meta,
                &format!("spec.mapRoles[{i}].roleARN"),
                "missing: set the role's ARN",
            );
        }
        if r.username.is_empty() {
            ctx.object(
                kind,
                meta,
                &format!("spec.mapRoles[{i}].username"),
                "missing: set the Kubernetes user name",
            );
        }
    }
    for (i, u) in a.spec.map_users.iter().flatten().enumerate() {
        if u.user_arn.is_empty() {
            ctx.object(
                kind,
                meta,
                &format!("spec.mapUsers[{i}].userARN"),
                "missing: set the user's ARN",
            );
        }
        if u.username.is_empty() {
            ctx.object(
                kind,
                meta,
                &format!("spec.mapUsers[{i}].username"),
                "missing: set the Kubernetes user name",
            );
        }
    }
}

fn gitops(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let Some(r) = spec.cluster.spec.git_ops_ref.clone() else {
        return;
    };
    let known = [FluxConfig::KIND, GitOpsConfig::KIND];
    if !reference_named(ctx, "spec.gitOpsRef", &r, &known, "a GitOps") {
        return;
    }
    match (&spec.gitops_config, &spec.flux_config) {
        (Some(g), _) => gitops_config(ctx, g),
        (_, Some(f)) => flux_config(ctx, f),
        (None, None) => ctx.cluster_warning(
            "spec.gitOpsRef",
            format!("refers to {} {:?}, which is not in the spec; EKS Anywhere ignores the reference, so GitOps is not set up", r.kind(), r.name()),
        ),
    }
}

/// Git branch names EKS Anywhere accepts.
fn is_branch_name(b: &str) -> bool {
    let ok = |s: &str, dash: bool| {
        !s.is_empty()
            && s.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | ',') || (dash && c == '-')
            })
    };
    // `first[.][/]rest`, `first` without dashes.
    let (first, rest) = match b.find(['.', '/']) {
        None => {
            return b
                .char_indices()
                .any(|(i, _)| ok(&b[..=i], false) && ok(&b[i + 1..], true));
        }
        Some(at) => (
            &b[..at],
            b[at..].trim_start_matches('.').trim_start_matches('/'),
        ),
    };
    let seps = &b[first.len()..b.len() - rest.len()];
    matches!(seps, "." | "/" | "./") && ok(first, false) && ok(rest, true)
}

fn is_repo_name(r: &str) -> bool {
    !r.is_empty()
        && r.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A GitHub repository's owner and name: both set, the name of allowed characters.
fn github_repository(
    ctx: &mut Ctx,
    kind: &str,
    meta: &ObjectMeta,
    base: &str,
    owner: Option<&str>,
    repository: Option<&str>,
) {
    if owner.is_none_or(str::is_empty) {
        let message = "missing: set the GitHub user or organization";
        ctx.object(kind, meta, &format!("{base}.owner"), message);
    }
    let field = format!("{base}.repository");
    match repository {
        None | Some("") => ctx.object(kind, meta, &field, "missing: set the repository name"),
        Some(r) if !is_repo_name(r) => ctx.object(
            kind,
            meta,
            &field,
            format!("{r:?} is not a repository name: use letters, digits, '_', '-' and '.'"),
        ),
        _ => {}
    }
}

fn gitops_config(ctx: &mut Ctx, g: &GitOpsConfig) {
    let kind = GitOpsConfig::KIND;
    let meta = &g.metadata;
    let github = g
        .spec
        .flux
        .as_ref()
        .and_then(|f| f.github.clone())
        .unwrap_or_default();
    let (owner, repository) = (github.owner.as_deref(), github.repository.as_deref());
    github_repository(ctx, kind, meta, "spec.flux.github", owner, repository);
    if let Some(b) = github.branch.as_deref().filter(|b| !b.is_empty())
        && !is_branch_name(b)
    {
        ctx.object(
            kind,
            meta,
            "spec.flux.github.branch",
            format!("{b:?} is not a valid git branch name"),
        );
    }
}

fn flux_config(ctx: &mut Ctx, f: &FluxConfig) {
    let kind = FluxConfig::KIND;
    let meta = &f.metadata;
    match (&f.spec.github, &f.spec.git) {
        (Some(_), Some(_)) => ctx.object(
            kind,
            meta,
            "spec",
            "both github and git are set: choose one provider",
        ),
        (None, None) => ctx.object(kind, meta, "spec", "no provider: set github or git"),
        (Some(gh), None) => {
            let (owner, repository) = (gh.owner.as_deref(), gh.repository.as_deref());
            github_repository(ctx, kind, meta, "spec.github", owner, repository);
        }
        (None, Some(git)) => {
            let url = git.repository_url.as_deref().unwrap_or_default();
            if url.is_empty() {
                ctx.object(
                    kind,
                    meta,
                    "spec.git.repositoryUrl",
                    "missing: set the ssh:// URL of the repository",
                );
            } else if url::Url::parse(url).map(|u| u.scheme() == "ssh") != Ok(true) {
                ctx.object(
                    kind,
                    meta,
                    "spec.git.repositoryUrl",
                    format!("{url:?} must be an ssh:// URL"),
                );
            }
            if let Some(alg) = git.ssh_key_algorithm.as_deref().filter(|a| !a.is_empty())
                && !matches!(alg, "rsa" | "ecdsa" | "ed25519")
            {
                ctx.object(
                    kind,
                    meta,
                    "spec.git.sshKeyAlgorithm",
                    format!("{alg:?} is not rsa, ecdsa or ed25519"),
                );
            }
        }
    }
    if let Some(b) = f.spec.branch.as_deref().filter(|b| !b.is_empty())
        && !is_branch_name(b)
    {
        ctx.object(
            kind,
            meta,
            "spec.branch",
            format!("{b:?} is not a valid git branch name"),
        );
    }
}

fn pod_iam(ctx: &mut Ctx) {
    let iam = ctx.spec.cluster.spec.pod_iam_config.as_ref();
    if iam.is_some_and(|p| p.service_account_issuer.is_empty()) {
        ctx.cluster(
            "spec.podIamConfig.serviceAccountIssuer",
            "missing: set the issuer URL of service account tokens",
        );
    }
}

fn upgrade_rollout_strategy(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let provider = spec.provider();
    let cp = spec.control_plane();
    let cp_strategy = cp.and_then(|c| c.upgrade_rollout_strategy.clone());
    let in_place_allowed = |ctx: &mut Ctx, field: &str| {
        if provider != Provider::Tinkerbell {
            ctx.cluster(
                field,
                format!(
                    "InPlace upgrades are only supported on bare metal (Tinkerbell), not {provider}"
                ),
            );
        }
    };
    let cp_field = "spec.controlPlaneConfiguration.upgradeRolloutStrategy";
    if provider == Provider::Nutanix {
        let groups = spec.worker_node_groups().iter().enumerate();
        let customized = groups.filter(|(_, g)| g.upgrade_rollout_strategy.is_some());
        let fields = cp_strategy.iter().map(|_| cp_field.to_string());
        for field in fields.chain(customized.map(|(i, _)| group_field(i, "upgradeRolloutStrategy")))
        {
            ctx.cluster(&field, "the Nutanix provider does not support customizing the upgrade rollout strategy: remove it");
        }
        return;
    }
    if let Some(s) = &cp_strategy {
        match s.type_ {
            Some(UpgradeRolloutStrategyType::RollingUpdate) => {
                if let Some(r) = &s.rolling_update
                    && !(0..=1).contains(&r.max_surge)
                {
                    ctx.cluster(
                        &format!("{cp_field}.rollingUpdate.maxSurge"),
                        "the control plane's maxSurge must be 0 or 1",
                    );
                }
            }
            Some(UpgradeRolloutStrategyType::InPlace) => {
                if s.rolling_update.is_some() {
                    ctx.cluster(
                        &format!("{cp_field}.rollingUpdate"),
                        "must be empty for the InPlace strategy",
                    );
                }
                in_place_allowed(ctx, cp_field);
            }
            None => ctx.cluster(
                &format!("{cp_field}.type"),
                "missing: use RollingUpdate or InPlace",
            ),
        }
    }
    for (i, g) in spec.worker_node_groups().iter().enumerate() {
        let Some(s) = &g.upgrade_rollout_strategy else {
            continue;
        };
        let field = group_field(i, "upgradeRolloutStrategy");
        match s.type_ {
            Some(UpgradeRolloutStrategyType::RollingUpdate) => match &s.rolling_update {
                None => ctx.cluster(
                    &format!("{field}.rollingUpdate"),
                    "missing: the RollingUpdate strategy needs maxSurge and maxUnavailable",
                ),
                Some(r) if r.max_surge < 0 || r.max_unavailable < 0 => ctx.cluster(
                    &format!("{field}.rollingUpdate"),
                    "maxSurge and maxUnavailable cannot be negative",
                ),
                Some(r) if r.max_surge == 0 && r.max_unavailable == 0 => ctx.cluster(
                    &format!("{field}.rollingUpdate"),
                    "maxSurge and maxUnavailable cannot both be 0",
                ),
                Some(_) => {}
            },
            Some(UpgradeRolloutStrategyType::InPlace) => {
                if s.rolling_update.is_some() {
                    ctx.cluster(
                        &format!("{field}.rollingUpdate"),
                        "must be empty for the InPlace strategy",
                    );
                }
                in_place_allowed(ctx, &field);
            }
            None => ctx.cluster(
                &format!("{field}.type"),
                "missing: use RollingUpdate or InPlace",
            ),
        }
    }
    if provider != Provider::Tinkerbell {
        return;
    }
    // Tinkerbell: no InPlace on Bottlerocket; the same strategy type everywhere; no
    // autoscaling with InPlace.
    let type_of = |t: Option<UpgradeRolloutStrategyType>| {
        t.unwrap_or(UpgradeRolloutStrategyType::RollingUpdate)
    };
    let cp_type = type_of(cp_strategy.as_ref().and_then(|s| s.type_));
    let cp_os = spec
        .control_plane_machine_config()
        .and_then(MachineConfig::os_family);
    if cp_type == UpgradeRolloutStrategyType::InPlace && cp_os == Some(OsFamily::Bottlerocket) {
        ctx.cluster(
            cp_field,
            "InPlace upgrades are not supported for Bottlerocket",
        );
    }
    for (i, g) in spec.worker_node_groups().iter().enumerate() {
        let field = group_field(i, "upgradeRolloutStrategy");
        let t = type_of(g.upgrade_rollout_strategy.as_ref().and_then(|s| s.type_));
        let os = spec
            .worker_machine_config(g)
            .and_then(MachineConfig::os_family);
        if t == UpgradeRolloutStrategyType::InPlace && os == Some(OsFamily::Bottlerocket) {
            ctx.cluster(
                &field,
                "InPlace upgrades are not supported for Bottlerocket",
            );
        }
        if t != cp_type {
            ctx.cluster(&field, "the control plane and the worker node groups must use the same upgrade rollout strategy type");
        }
        if cp_type == UpgradeRolloutStrategyType::InPlace && g.autoscaling_configuration.is_some() {
            ctx.cluster(
                &group_field(i, "autoscalingConfiguration"),
                "the cluster autoscaler is not supported with InPlace upgrades",
            );
        }
    }
}

fn packages(ctx: &mut Ctx) {
    if ctx.spec.is_self_managed() {
        return;
    }
    let Some(p) = ctx.spec.cluster.spec.packages.clone() else {
        return;
    };
    if p.controller.is_some() {
        ctx.cluster("spec.packages.controller", "a workload cluster's packages controller is set on its management cluster: remove it here");
    }
    if p.cron_job.is_some() {
        ctx.cluster("spec.packages.cronjob", "a workload cluster's packages cron job is set on its management cluster: remove it here");
    }
}

fn eksa_version(ctx: &mut Ctx) {
    let c = &ctx.spec.cluster.spec;
    if let Some(v) = c.eksa_version.clone()
        && semver::Version::parse(v.trim_start_matches('v')).is_err()
    {
        ctx.cluster(
            "spec.eksaVersion",
            format!("{v:?} is not a semantic version such as v0.24.6"),
        );
    }
}

fn cert_sans(ctx: &mut Ctx) {
    let cp = ctx.spec.cluster.spec.control_plane_configuration.clone();
    let sans = cp.and_then(|c| c.cert_sans).unwrap_or_default();
    for (i, san) in sans.iter().enumerate() {
        let domain = san.contains('.') && is_domain_name(&san.to_ascii_lowercase());
        if !domain && !is_ip(san) {
            ctx.cluster(
                &format!("spec.controlPlaneConfiguration.certSans[{i}]"),
                format!("{san:?} is neither an IP address nor a domain name"),
            );
        }
    }
}

fn api_server_extra_args(ctx: &mut Ctx) {
    let cp = ctx.spec.cluster.spec.control_plane_configuration.clone();
    let args = cp.and_then(|c| c.api_server_extra_args).unwrap_or_default();
    for (flag, _) in args {
        if flag.is_empty() || flag.starts_with('-') {
            ctx.cluster(
                "spec.controlPlaneConfiguration.apiServerExtraArgs",
                format!("{flag:?}: write flags without leading dashes, e.g. `audit-log-maxage`"),
            );
        }
    }
}

fn kubelet_configuration(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let cp = spec.control_plane();
    let mut configs = vec![(
        "spec.controlPlaneConfiguration.kubeletConfiguration".to_string(),
        cp.and_then(|c| c.kubelet_configuration.clone()),
    )];
    for (i, g) in spec.worker_node_groups().iter().enumerate() {
        configs.push((
            group_field(i, "kubeletConfiguration"),
            g.kubelet_configuration.clone(),
        ));
    }
    for (field, config) in configs {
        let Some(config) = config else { continue };
        let Some(map) = config.as_object() else {
            ctx.cluster(&field, "must be a KubeletConfiguration object");
            continue;
        };
        if map.contains_key("providerID") {
            ctx.cluster(
                &format!("{field}.providerID"),
                "providerID is set by EKS Anywhere: remove it",
            );
        }
        if map.contains_key("cloudProvider") {
            ctx.cluster(
                &format!("{field}.cloudProvider"),
                "cloudProvider is set by EKS Anywhere: remove it",
            );
        }
    }
}

fn audit_policy(ctx: &mut Ctx) {
    let cp = ctx.spec.cluster.spec.control_plane_configuration.clone();
    let Some(policy) = cp.and_then(|c| c.audit_policy_content) else {
        return;
    };
    if let Err(e) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&policy) {
        ctx.cluster(
            "spec.controlPlaneConfiguration.auditPolicyContent",
            format!("not valid YAML: {e}"),
        );
    }
}

fn etcd_encryption(ctx: &mut Ctx) {
    let Some(configs) = ctx.spec.cluster.spec.etcd_encryption.clone() else {
        return;
    };
    // Refused on create and checked on upgrade: warnings for an offline check.
    ctx.cluster_warning(
        "spec.etcdEncryption",
        "etcd encryption is refused when a cluster is created: add it with an upgrade",
    );
    if configs.len() != 1 {
        ctx.cluster_warning(
            "spec.etcdEncryption",
            "exactly one encryption configuration is supported on upgrade",
        );
    }
    for (i, c) in configs.iter().enumerate() {
        let field = format!("spec.etcdEncryption[{i}]");
        if c.providers.len() != 1 {
            ctx.cluster_warning(
                &format!("{field}.providers"),
                "exactly one encryption provider is supported on upgrade",
            );
        }
        if c.resources.is_empty() {
            ctx.cluster(
                &format!("{field}.resources"),
                "missing: list the resources to encrypt, e.g. secrets",
            );
        }
        for (j, p) in c.providers.iter().enumerate() {
            let f = format!("{field}.providers[{j}].kms");
            if p.kms.name.is_empty() {
                ctx.cluster(&format!("{f}.name"), "missing: name the KMS provider");
            }
            let socket = &p.kms.socket_listen_address;
            let unix = url::Url::parse(socket).is_ok_and(|u| u.scheme() == "unix");
            if !unix {
                ctx.cluster(
                    &format!("{f}.socketListenAddress"),
                    format!("{socket:?} must be a unix:// socket address"),
                );
            }
        }
    }
}

fn namespaces(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let ns = |m: &ObjectMeta| m.namespace.clone().unwrap_or_default();
    let cluster_ns = ns(&spec.cluster.metadata);
    let mut objects: Vec<(&str, &ObjectMeta)> =
        vec![(spec.datacenter.kind(), spec.datacenter.metadata())];
    objects.extend(
        spec.machine_configs
            .values()
            .map(|m| (m.kind(), m.metadata())),
    );
    objects.extend(spec.oidc_config().map(|o| (OIDCConfig::KIND, &o.metadata)));
    objects.extend(
        spec.aws_iam_config()
            .map(|a| (AWSIamConfig::KIND, &a.metadata)),
    );
    for (kind, meta) in objects {
        if ns(meta) != cluster_ns {
            ctx.object(
                kind,
                meta,
                "metadata.namespace",
                format!("is {:?} but the Cluster's is {cluster_ns:?}: every object of a spec must be in the Cluster's namespace", ns(meta)),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Provider rules

fn datacenter_config(ctx: &mut Ctx) {
    match &ctx.spec.datacenter.clone() {
        DatacenterConfig::TinkerbellDatacenterConfig(dc) => {
            let s = &dc.spec;
            for (field, value) in [
                ("spec.osImageURL", &s.os_image_url),
                ("spec.hookImagesURLPath", &s.hook_images_url_path),
            ] {
                if let Some(v) = value.as_deref().filter(|v| !v.is_empty())
                    && !is_request_uri(v)
                {
                    ctx.datacenter(field, format!("{v:?} is not a URL"));
                }
            }
            if s.tinkerbell_ip.is_empty() {
                ctx.datacenter(
                    "spec.tinkerbellIP",
                    "missing: set the IP address the Tinkerbell services will be reached at",
                );
            } else if !is_ip(&s.tinkerbell_ip) {
                ctx.datacenter(
                    "spec.tinkerbellIP",
                    format!("{:?} is not an IP address", s.tinkerbell_ip),
                );
            }
            if let Some(iso) = s.hook_iso_url.as_deref().filter(|v| !v.is_empty()) {
                if s.iso_boot != Some(true) {
                    ctx.datacenter(
                        "spec.hookIsoURL",
                        "hookIsoURL is only used with isoBoot: true",
                    );
                } else if !is_request_uri(iso) {
                    ctx.datacenter("spec.hookIsoURL", format!("{iso:?} is not a URL"));
                }
            }
        }
        DatacenterConfig::DockerDatacenterConfig(_) => {}
        DatacenterConfig::VSphereDatacenterConfig(dc) => {
            let s = &dc.spec;
            let datacenter = s.datacenter.clone().unwrap_or_default();
            for (field, value, what) in [
                (
                    "spec.server",
                    &s.server,
                    "the vCenter server's host name or address",
                ),
                ("spec.datacenter", &s.datacenter, "the vSphere datacenter"),
                ("spec.network", &s.network, "the VM network"),
            ] {
                if value.as_deref().is_none_or(str::is_empty) {
                    ctx.datacenter(field, format!("missing: set {what}"));
                }
            }
            let check_path = |ctx: &mut Ctx, field: &str, path: &str| {
                if !path.starts_with(&format!("/{}/network", datacenter.trim_matches('/'))) {
                    ctx.datacenter(field, format!("{path:?} is not in the datacenter's network folder: write /{datacenter}/network/<name> or just <name>"));
                }
            };
            if let Some(n) = s.network.as_deref().filter(|n| !n.is_empty()) {
                check_path(ctx, "spec.network", n);
            }
            for (i, fd) in s.failure_domains.iter().flatten().enumerate() {
                let base = format!("spec.failureDomains[{i}]");
                for (name, value) in [
                    ("name", &fd.name),
                    ("computeCluster", &fd.compute_cluster),
                    ("resourcePool", &fd.resource_pool),
                    ("datastore", &fd.datastore),
                    ("folder", &fd.folder),
                    ("network", &fd.network),
                ] {
                    if value.as_deref().is_none_or(str::is_empty) {
                        ctx.datacenter(
                            &format!("{base}.{name}"),
                            format!("missing: set the failure domain's {name}"),
                        );
                    }
                }
                if let Some(n) = fd.network.as_deref().filter(|n| !n.is_empty()) {
                    let full = crate::defaults::full_vcenter_path("network", n, &datacenter);
                    check_path(ctx, &format!("{base}.network"), &full);
                }
            }
            if s.insecure == Some(true) {
                let meta = ctx.spec.datacenter.metadata();
                let message = "vCenter's certificate will not be verified".to_string();
                ctx.report(true, dc_kind(ctx), meta, "spec.insecure", message);
            }
        }
        DatacenterConfig::CloudStackDatacenterConfig(dc) => {
            let s = &dc.spec;
            let azs = s.availability_zones.clone().unwrap_or_default();
            if azs.is_empty() {
                ctx.datacenter(
                    "spec.availabilityZones",
                    "missing: define at least one availability zone",
                );
            }
            let mut names = BTreeSet::new();
            for (i, az) in azs.iter().enumerate() {
                let base = format!("spec.availabilityZones[{i}]");
                let name = az.name.clone().unwrap_or_default();
                if let Err(e) = validate_label_value(&name) {
                    ctx.datacenter(
                        &format!("{base}.name"),
                        format!("{name:?} is not usable as a node label value: {e}"),
                    );
                }
                if !names.insert(name.clone()) {
                    ctx.datacenter(
                        &format!("{base}.name"),
                        format!("a second availability zone named {name:?}: names must be unique"),
                    );
                }
                let endpoint = az.management_api_endpoint.as_deref().unwrap_or_default();
                if !is_request_uri(endpoint) || endpoint.is_empty() {
                    ctx.datacenter(
                        &format!("{base}.managementApiEndpoint"),
                        format!("{endpoint:?} is not a URL of the CloudStack API"),
                    );
                }
                let network = az
                    .zone
                    .as_ref()
                    .and_then(|z| z.network.clone())
                    .unwrap_or_default();
                if network.id.as_deref().is_none_or(str::is_empty)
                    && network.name.as_deref().is_none_or(str::is_empty)
                {
                    ctx.datacenter(
                        &format!("{base}.zone.network"),
                        "missing: set the zone network's id or name",
                    );
                }
            }
        }
        DatacenterConfig::NutanixDatacenterConfig(dc) => {
            let s = &dc.spec;
            if s.endpoint.as_deref().is_none_or(str::is_empty) {
                ctx.datacenter(
                    "spec.endpoint",
                    "missing: set Prism Central's host name or address",
                );
            }
            if s.port.unwrap_or(0) == 0 {
                ctx.datacenter(
                    "spec.port",
                    "missing: set Prism Central's port (usually 9440)",
                );
            } else if !(1..=65535).contains(&s.port.unwrap_or(0)) {
                ctx.datacenter("spec.port", "not a port from 1 to 65535");
            }
            if let Some(bundle) = s
                .additional_trust_bundle
                .as_deref()
                .filter(|b| !b.is_empty())
                && !bundle.contains("-----BEGIN CERTIFICATE-----")
            {
                ctx.datacenter("spec.additionalTrustBundle", "no PEM certificate found: paste the CA certificates, each between BEGIN and END CERTIFICATE lines");
            }
            match &s.credential_ref {
                Some(r) if r.kind() != "Secret" => ctx.datacenter(
                    "spec.credentialRef.kind",
                    format!("{:?} is not Secret", r.kind()),
                ),
                Some(r) if r.name().is_empty() => ctx.datacenter(
                    "spec.credentialRef.name",
                    "missing: name the Secret with the Prism Central credentials",
                ),
                _ => {}
            }
            for (i, fd) in s.failure_domains.iter().flatten().enumerate() {
                let base = format!("spec.failureDomains[{i}]");
                if fd.name.as_deref().is_none_or(str::is_empty) {
                    ctx.datacenter(&format!("{base}.name"), "missing: name the failure domain");
                }
                if let Some(c) = &fd.cluster {
                    nutanix_identifier(ctx, None, &format!("{base}.cluster"), c);
                }
                for (j, subnet) in fd.subnets.iter().flatten().enumerate() {
                    nutanix_identifier(ctx, None, &format!("{base}.subnets[{j}]"), subnet);
                }
            }
            for (i, ip) in s.ccm_exclude_node_ips.iter().flatten().enumerate() {
                let ok = ip.parse::<IpNet>().is_ok()
                    || is_ip(ip)
                    || ip.split_once('-').is_some_and(|(a, b)| {
                        match (a.trim().parse::<IpAddr>(), b.trim().parse::<IpAddr>()) {
                            (Ok(a), Ok(b)) => a <= b && a.is_ipv4() == b.is_ipv4(),
                            _ => false,
                        }
                    });
                if !ok {
                    ctx.datacenter(
                        &format!("spec.ccmExcludeNodeIPs[{i}]"),
                        format!("{ip:?} is not an IP address, a range a-b or a CIDR block"),
                    );
                }
            }
        }
        DatacenterConfig::SnowDatacenterConfig(dc) => {
            let r = dc.spec.identity_ref.clone().unwrap_or_default();
            if r.name().is_empty() {
                ctx.datacenter(
                    "spec.identityRef.name",
                    "missing: name the Secret with the Snow devices' credentials",
                );
            }
            if r.kind() != "Secret" {
                ctx.datacenter(
                    "spec.identityRef.kind",
                    format!("{:?} is not Secret, the only kind supported", r.kind()),
                );
            }
        }
    }
}

fn dc_kind<'a>(ctx: &Ctx<'a>) -> &'a str {
    ctx.spec.datacenter.kind()
}

fn nutanix_identifier(
    ctx: &mut Ctx,
    mc: Option<&MachineConfig>,
    field: &str,
    id: &NutanixResourceIdentifier,
) {
    let missing = match id.type_ {
        NutanixIdentifierType::Name => id
            .name
            .as_deref()
            .is_none_or(str::is_empty)
            .then_some("name"),
        NutanixIdentifierType::Uuid => id
            .uuid
            .as_deref()
            .is_none_or(str::is_empty)
            .then_some("uuid"),
    };
    if let Some(what) = missing {
        let message = format!("type is {what} but no {what} is given");
        match mc {
            Some(mc) => ctx.machine(mc, field, message),
            None => ctx.datacenter(field, message),
        }
    }
}

/// The machine configs the Cluster refers to.
fn referenced_machine_configs(spec: &Spec) -> Vec<&MachineConfig> {
    let mut names = BTreeSet::new();
    let mut refs: Vec<&Ref> = spec.control_plane_machine_ref().into_iter().collect();
    refs.extend(spec.etcd_machine_ref());
    refs.extend(
        spec.worker_node_groups()
            .iter()
            .filter_map(|g| g.machine_group_ref.as_ref()),
    );
    refs.into_iter()
        .filter_map(|r| spec.machine_config_for(r))
        .filter(|m| names.insert(m.name().to_string()))
        .collect()
}

fn machine_configs(ctx: &mut Ctx) {
    for mc in referenced_machine_configs(ctx.spec) {
        machine_config(ctx, mc);
    }
}

fn machine_config(ctx: &mut Ctx, mc: &MachineConfig) {
    let os = mc.os_family();
    match mc {
        MachineConfig::TinkerbellMachineConfig(m) => {
            if os.is_none() {
                ctx.machine(
                    mc,
                    "spec.osFamily",
                    "missing: use bottlerocket, ubuntu or redhat",
                );
            }
            if let Some(u) = m.spec.os_image_url.as_deref().filter(|u| !u.is_empty())
                && !is_request_uri(u)
            {
                ctx.machine(mc, "spec.osImageURL", format!("{u:?} is not a URL"));
            }
            users(ctx, mc, None);
            host_os(ctx, mc, m.spec.host_os_configuration.as_ref(), os);
        }
        MachineConfig::VSphereMachineConfig(m) => {
            for (field, value, what) in [
                ("spec.datastore", &m.spec.datastore, "the datastore"),
                (
                    "spec.resourcePool",
                    &m.spec.resource_pool,
                    "the resource pool",
                ),
            ] {
                if value.as_deref().is_none_or(str::is_empty) {
                    ctx.machine(mc, field, format!("missing: set {what}"));
                }
            }
            let bottlerocket_user = (os == Some(OsFamily::Bottlerocket)).then_some("ec2-user");
            users(ctx, mc, bottlerocket_user);
            host_os(ctx, mc, m.spec.host_os_configuration.as_ref(), os);
        }
        MachineConfig::CloudStackMachineConfig(m) => {
            for (field, id) in [
                ("spec.template", &m.spec.template),
                ("spec.computeOffering", &m.spec.compute_offering),
            ] {
                let id = id.clone().unwrap_or_default();
                if id.id.as_deref().is_none_or(str::is_empty)
                    && id.name.as_deref().is_none_or(str::is_empty)
                {
                    ctx.machine(mc, field, "missing: set its id or name");
                }
            }
            if let Some(d) = &m.spec.disk_offering {
                let named = d.id.as_deref().is_some_and(|s| !s.is_empty())
                    || d.name.as_deref().is_some_and(|s| !s.is_empty());
                let f = |x: &Option<String>| x.clone().unwrap_or_default();
                let (mount, fs, dev, label) = (
                    f(&d.mount_path),
                    f(&d.filesystem),
                    f(&d.device),
                    f(&d.label),
                );
                if named {
                    if mount.len() < 2 || !mount.starts_with('/') {
                        ctx.machine(
                            mc,
                            "spec.diskOffering.mountPath",
                            "must be an absolute path such as /data",
                        );
                    }
                    for (name, v) in [("filesystem", &fs), ("device", &dev), ("label", &label)] {
                        if v.is_empty() {
                            ctx.machine(
                                mc,
                                &format!("spec.diskOffering.{name}"),
                                format!("missing: set the {name}"),
                            );
                        }
                    }
                } else if !(mount.is_empty() && fs.is_empty() && dev.is_empty() && label.is_empty())
                {
                    ctx.machine(
                        mc,
                        "spec.diskOffering",
                        "missing: set the disk offering's id or name",
                    );
                }
            }
            for (link, target) in m.spec.symlinks.iter().flatten() {
                for p in [link, target] {
                    let portable = p
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'));
                    if !p.starts_with('/') || p.ends_with('/') || !portable {
                        ctx.machine(mc, "spec.symlinks", format!("{p:?} must be an absolute path, not ending with /, of letters, digits, '.', '_' and '-'"));
                    }
                }
            }
            for key in m.spec.user_custom_details.iter().flat_map(|d| d.keys()) {
                if RESTRICTED_CLOUDSTACK_DETAILS.contains(&key.as_str()) {
                    ctx.machine(
                        mc,
                        "spec.userCustomDetails",
                        format!("{key:?} is set by EKS Anywhere and cannot be a custom detail"),
                    );
                }
            }
            if let Some(a) = m.spec.affinity.as_deref().filter(|a| !a.is_empty()) {
                if !matches!(a, "pro" | "anti" | "no") {
                    ctx.machine(mc, "spec.affinity", format!("{a:?} is not pro, anti or no"));
                }
                if m.spec
                    .affinity_group_ids
                    .as_ref()
                    .is_some_and(|g| !g.is_empty())
                {
                    ctx.machine(
                        mc,
                        "spec.affinityGroupIds",
                        "set affinity or affinityGroupIds, not both",
                    );
                }
            }
            users(ctx, mc, None);
        }
        MachineConfig::NutanixMachineConfig(m) => {
            let s = &m.spec;
            for (field, id) in [
                ("spec.subnet", &s.subnet),
                ("spec.cluster", &s.cluster),
                ("spec.image", &s.image),
            ] {
                match id {
                    Some(id) => nutanix_identifier(ctx, Some(mc), field, id),
                    None => ctx.machine(mc, field, "missing: identify it by name or uuid"),
                }
            }
            if let Some(p) = &s.project {
                nutanix_identifier(ctx, Some(mc), "spec.project", p);
            }
            for (i, c) in s.additional_categories.iter().flatten().enumerate() {
                if c.key.as_deref().is_none_or(str::is_empty) {
                    ctx.machine(
                        mc,
                        &format!("spec.additionalCategories[{i}].key"),
                        "missing: set the category key",
                    );
                } else if c.value.as_deref().is_none_or(str::is_empty) {
                    ctx.machine(
                        mc,
                        &format!("spec.additionalCategories[{i}].value"),
                        "missing: set the category value",
                    );
                }
            }
            if s.vcpu_sockets.unwrap_or(0) < 2 {
                ctx.machine(mc, "spec.vcpuSockets", "at least 2 vCPU sockets are needed");
            }
            if s.vcpus_per_socket.unwrap_or(0) < 1 {
                ctx.machine(
                    mc,
                    "spec.vcpusPerSocket",
                    "at least 1 vCPU per socket is needed",
                );
            }
            for (field, value, min_gib, what) in [
                ("spec.memorySize", &s.memory_size, 4.0, "memory"),
                (
                    "spec.systemDiskSize",
                    &s.system_disk_size,
                    40.0,
                    "the system disk",
                ),
            ] {
                match value.as_ref().map(quantity_gib) {
                    Some(Some(g)) if g >= min_gib => {}
                    Some(None) => ctx.machine(mc, field, "not a quantity such as 8Gi"),
                    _ => ctx.machine(mc, field, format!("{what} must be at least {min_gib}Gi")),
                }
            }
            if !matches!(os, Some(OsFamily::Ubuntu | OsFamily::Redhat)) {
                ctx.machine(mc, "spec.osFamily", "Nutanix machines run ubuntu or redhat");
            }
            users(ctx, mc, None);
        }
        MachineConfig::SnowMachineConfig(m) => {
            let s = &m.spec;
            if let Some(t) = s.instance_type.as_deref() {
                let ok = t
                    .strip_prefix("sbe-c.")
                    .or_else(|| t.strip_prefix("sbe-g."))
                    .and_then(|size| size.strip_suffix("large"))
                    .is_some_and(|n| {
                        // `sbe-[cg].<digits>[x]large`, as EKS Anywhere's pattern.
                        let n = n.strip_suffix('x').unwrap_or(n);
                        n.bytes().all(|b| b.is_ascii_digit())
                    });
                if !ok {
                    ctx.machine(
                        mc,
                        "spec.instanceType",
                        format!("{t:?} is not a Snow instance type such as sbe-c.large"),
                    );
                }
            }
            if s.devices.as_ref().is_none_or(Vec::is_empty) {
                ctx.machine(
                    mc,
                    "spec.devices",
                    "missing: list at least one Snow device's IP address",
                );
            }
            match os {
                None => ctx.machine(mc, "spec.osFamily", "missing: use bottlerocket or ubuntu"),
                Some(OsFamily::Redhat) => ctx.machine(
                    mc,
                    "spec.osFamily",
                    "Snow machines run bottlerocket or ubuntu",
                ),
                _ => {}
            }
            let dnis = s
                .network
                .as_ref()
                .and_then(|n| n.direct_network_interfaces.clone())
                .unwrap_or_default();
            if dnis.is_empty() {
                ctx.machine(
                    mc,
                    "spec.network.directNetworkInterfaces",
                    "missing: define at least one direct network interface",
                );
            } else if dnis.iter().filter(|d| d.primary == Some(true)).count() != 1 {
                ctx.machine(
                    mc,
                    "spec.network.directNetworkInterfaces",
                    "exactly one direct network interface must be primary",
                );
            }
            for (i, d) in dnis.iter().enumerate() {
                if d.dhcp == Some(true) && d.ip_pool_ref.is_some() {
                    ctx.machine(
                        mc,
                        &format!("spec.network.directNetworkInterfaces[{i}]"),
                        "set dhcp or ipPoolRef, not both",
                    );
                }
            }
            let volume = s.containers_volume.as_ref().map(|v| v.size);
            match (os, volume) {
                (Some(OsFamily::Bottlerocket), None) => ctx.machine(
                    mc,
                    "spec.containersVolume",
                    "missing: Bottlerocket needs a containers volume",
                ),
                (Some(OsFamily::Bottlerocket), Some(size)) if size.unwrap_or(0) < 25 => ctx
                    .machine(
                        mc,
                        "spec.containersVolume.size",
                        "must be at least 25 Gi for Bottlerocket",
                    ),
                (Some(OsFamily::Ubuntu), Some(size)) if size.unwrap_or(0) < 8 => ctx.machine(
                    mc,
                    "spec.containersVolume.size",
                    "must be at least 8 Gi for Ubuntu",
                ),
                _ => {}
            }
            for (i, v) in s.non_root_volumes.iter().flatten().enumerate() {
                let field = format!("spec.nonRootVolumes[{i}]");
                let device = v.device_name.as_deref().unwrap_or_default();
                if device.is_empty() {
                    ctx.machine(
                        mc,
                        &format!("{field}.deviceName"),
                        "missing: set the device name",
                    );
                } else if device.starts_with("/dev/sda") {
                    ctx.machine(mc, &format!("{field}.deviceName"), "/dev/sda* is reserved for the root and containers volumes: use another name");
                }
                if v.size.unwrap_or(0) < 8 {
                    ctx.machine(mc, &format!("{field}.size"), "must be at least 8 Gi");
                }
            }
            host_os(ctx, mc, s.host_os_configuration.as_ref(), os);
        }
    }
}

/// CloudStack VM details EKS Anywhere sets itself (CloudStack's `VmDetailConstants`).
const RESTRICTED_CLOUDSTACK_DETAILS: &[&str] = &[
    "keyboard",
    "cpu.corespersocket",
    "rootdisksize",
    "boot.mode",
    "nameonhypervisor",
    "nicAdapter",
    "rootDiskController",
    "dataDiskController",
    "svga.vramSize",
    "nestedVirtualizationFlag",
    "ramReservation",
    "hypervisortoolsversion",
    "platform",
    "timeoffset",
    "kvm.vnc.port",
    "kvm.vnc.address",
    "video.hardware",
    "video.ram",
    "smc.present",
    "firmware",
    "cpuNumber",
    "cpuSpeed",
    "memory",
    "cpuOvercommitRatio",
    "memoryOvercommitRatio",
    "Message.ReservedCapacityFreed.Flag",
    "deployvm",
    "SSH.PublicKey",
    "SSH.KeyPairNames",
    "password",
    "Encrypted.Password",
    "configDriveLocation",
    "nic",
    "network",
    "ip4Address",
    "ip6Address",
    "disk",
    "diskOffering",
    "configurationId",
    "keypairnames",
    "controlNodeLoginUser",
];

/// A Kubernetes quantity (`8Gi`, `4096Mi`, `40G`, a number of bytes) in GiB.
fn quantity_gib(q: &IntOrString) -> Option<f64> {
    let s = match q {
        IntOrString::Int(i) => return Some(*i as f64 / f64::from(1u32 << 30)),
        IntOrString::String(s) => s.trim(),
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().ok()?;
    let factor = match unit {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => f64::from(1u32 << 30),
        "Ti" => f64::from(1u32 << 30) * 1024.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        _ => return None,
    };
    Some(n * factor / f64::from(1u32 << 30))
}

/// EKS Anywhere's `validateMachineConfigUsers`; a missing SSH key is a warning, as
/// `create cluster` generates one.
fn users(ctx: &mut Ctx, mc: &MachineConfig, required_name: Option<&str>) {
    let users: &[UserConfiguration] = mc.users();
    let Some(first) = users.first() else {
        ctx.machine(
            mc,
            "spec.users",
            "missing: add a login user with an SSH key",
        );
        return;
    };
    if first.name.is_empty() {
        ctx.machine(
            mc,
            "spec.users[0].name",
            "missing: set the login user's name",
        );
    }
    if let Some(required) = required_name
        && !first.name.is_empty()
        && first.name != required
    {
        ctx.machine(
            mc,
            "spec.users[0].name",
            format!(
                "{:?} cannot log in to Bottlerocket: use {required:?}",
                first.name
            ),
        );
    }
    if first
        .ssh_authorized_keys
        .first()
        .is_none_or(String::is_empty)
    {
        let message = "no SSH key: `create cluster` generates a key pair and writes it next to the kubeconfig";
        let field = "spec.users[0].sshAuthorizedKeys";
        ctx.report(true, mc.kind(), mc.metadata(), field, message.into());
    }
}

/// EKS Anywhere's `validateHostOSConfig`.
fn host_os(
    ctx: &mut Ctx,
    mc: &MachineConfig,
    config: Option<&HostOsConfiguration>,
    os: Option<OsFamily>,
) {
    let Some(config) = config else { return };
    let base = "spec.hostOSConfiguration";
    if let Some(ntp) = &config.ntp_configuration {
        if ntp.servers.is_empty() {
            ctx.machine(
                mc,
                &format!("{base}.ntpConfiguration.servers"),
                "missing: list at least one NTP server",
            );
        }
        for s in &ntp.servers {
            let with_scheme = if s.contains("://") {
                s.clone()
            } else {
                format!("udp://{s}")
            };
            let ok = url::Url::parse(&with_scheme)
                .is_ok_and(|u| u.host_str().is_some_and(|h| !h.is_empty()));
            if !ok {
                ctx.machine(
                    mc,
                    &format!("{base}.ntpConfiguration.servers"),
                    format!("{s:?} is not an NTP server address"),
                );
            }
        }
    }
    let bottlerocket = os == Some(OsFamily::Bottlerocket);
    for (i, bundle) in config.cert_bundles.iter().flatten().enumerate() {
        let field = format!("{base}.certBundles[{i}]");
        if !bottlerocket {
            ctx.machine(mc, &field, "certBundles are only for osFamily bottlerocket");
        }
        if bundle.name.is_empty() {
            ctx.machine(mc, &format!("{field}.name"), "missing: name the bundle");
        }
        if !bundle.data.contains("-----BEGIN CERTIFICATE-----") {
            ctx.machine(mc, &format!("{field}.data"), "no PEM certificate found");
        }
    }
    let Some(br) = &config.bottlerocket_configuration else {
        return;
    };
    let field = format!("{base}.bottlerocketConfiguration");
    if !bottlerocket {
        ctx.machine(
            mc,
            &field,
            "bottlerocketConfiguration is only for osFamily bottlerocket",
        );
    }
    if let Some(k) = &br.kubernetes {
        if k.allowed_unsafe_sysctls
            .iter()
            .flatten()
            .any(String::is_empty)
        {
            ctx.machine(
                mc,
                &format!("{field}.kubernetes.allowedUnsafeSysctls"),
                "cannot contain an empty string",
            );
        }
        for ip in k.cluster_dns_ips.iter().flatten() {
            if !is_ip(ip) {
                ctx.machine(
                    mc,
                    &format!("{field}.kubernetes.clusterDNSIPs"),
                    format!("{ip:?} is not an IP address"),
                );
            }
        }
        if k.max_pods.is_some_and(|m| m < 0) {
            ctx.machine(
                mc,
                &format!("{field}.kubernetes.maxPods"),
                "cannot be negative",
            );
        }
    }
    let kernel = br.kernel.as_ref().and_then(|k| k.sysctl_settings.as_ref());
    if kernel.is_some_and(|s| s.contains_key("")) {
        ctx.machine(
            mc,
            &format!("{field}.kernel.sysctlSettings"),
            "a key cannot be empty",
        );
    }
    let boot = br
        .boot
        .as_ref()
        .and_then(|b| b.boot_kernel_parameters.as_ref());
    if boot.is_some_and(|b| b.contains_key("")) {
        ctx.machine(
            mc,
            &format!("{field}.boot.bootKernelParameters"),
            "a key cannot be empty",
        );
    }
}

fn snow_ip_pools(ctx: &mut Ctx) {
    let pools: Vec<SnowIPPool> = ctx.spec.snow_ip_pools.values().cloned().collect();
    for pool in &pools {
        let kind = SnowIPPool::KIND;
        let meta = &pool.metadata;
        for (i, p) in pool.spec.pools.iter().flatten().enumerate() {
            let base = format!("spec.pools[{i}]");
            let ip = |ctx: &mut Ctx, name: &str, v: &Option<String>| -> Option<IpAddr> {
                let v = v.as_deref().unwrap_or_default();
                if v.is_empty() {
                    ctx.object(kind, meta, &format!("{base}.{name}"), "missing");
                    return None;
                }
                let parsed = v.parse::<IpAddr>().ok();
                if parsed.is_none() {
                    ctx.object(
                        kind,
                        meta,
                        &format!("{base}.{name}"),
                        format!("{v:?} is not an IP address"),
                    );
                }
                parsed
            };
            let start = ip(ctx, "ipStart", &p.ip_start);
            let end = ip(ctx, "ipEnd", &p.ip_end);
            ip(ctx, "gateway", &p.gateway);
            if let (Some(s), Some(e)) = (start, end)
                && s >= e
            {
                ctx.object(
                    kind,
                    meta,
                    &format!("{base}.ipStart"),
                    "must be lower than ipEnd",
                );
            }
            let subnet = p.subnet.as_deref().unwrap_or_default();
            match subnet.parse::<IpNet>() {
                Err(_) => ctx.object(
                    kind,
                    meta,
                    &format!("{base}.subnet"),
                    format!("{subnet:?} is not a CIDR block"),
                ),
                Ok(net) => {
                    for (name, addr) in [("ipStart", start), ("ipEnd", end)] {
                        if addr.is_some_and(|a| !net.contains(&a)) {
                            ctx.object(
                                kind,
                                meta,
                                &format!("{base}.{name}"),
                                format!("is outside the subnet {subnet}"),
                            );
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tinkerbell

fn tinkerbell_machine_configs(spec: &Spec) -> Vec<&TinkerbellMachineConfig> {
    referenced_machine_configs(spec)
        .into_iter()
        .filter_map(MachineConfig::as_tinkerbell)
        .collect()
}

fn tinkerbell_ip(ctx: &mut Ctx) {
    let Some(dc) = ctx.spec.tinkerbell_datacenter() else {
        return;
    };
    let endpoint = ctx.spec.control_plane_endpoint().to_string();
    if !dc.spec.tinkerbell_ip.is_empty() && dc.spec.tinkerbell_ip == endpoint {
        ctx.datacenter(
            "spec.tinkerbellIP",
            format!("the Tinkerbell IP and the control plane endpoint are the same ({endpoint}): give two different free addresses"),
        );
    }
}

fn tinkerbell_os_family(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let Some(cp) = spec.control_plane_machine_config() else {
        return;
    };
    let cp_os = cp.os_family();
    let mut others: Vec<(String, Option<&MachineConfig>, Option<&str>)> = Vec::new();
    if spec.cluster.spec.external_etcd_configuration.is_some() {
        others.push(("etcd".into(), spec.etcd_machine_config(), None));
    }
    for g in spec.worker_node_groups() {
        let version = g.kubernetes_version.as_ref().map(|v| v.as_str());
        others.push((
            format!("worker node group {:?}", group_name(g)),
            spec.worker_machine_config(g),
            version,
        ));
    }
    for (what, mc, _) in &others {
        if let Some(mc) = mc
            && mc.os_family() != cp_os
        {
            ctx.machine(
                mc,
                "spec.osFamily",
                format!(
                    "the {what} must run the same OS family as the control plane ({})",
                    cp_os
                        .map(|o| format!("{o:?}").to_lowercase())
                        .unwrap_or_default()
                ),
            );
        }
    }
    let too_new = |v: Option<&str>| v.and_then(minor_version).is_some_and(|m| m > 28);
    let cluster_v = spec
        .cluster
        .spec
        .kubernetes_version
        .as_ref()
        .map(|v| v.as_str());
    if cp_os == Some(OsFamily::Bottlerocket) && too_new(cluster_v) {
        ctx.machine(cp, "spec.osFamily", "the Tinkerbell provider does not support Bottlerocket with Kubernetes 1.29 or later: use ubuntu or redhat with an osImageURL");
    }
    for (_, mc, version) in &others {
        if let Some(mc) = mc
            && mc.os_family() == Some(OsFamily::Bottlerocket)
            && too_new(*version)
        {
            ctx.machine(mc, "spec.osFamily", "the Tinkerbell provider does not support Bottlerocket with Kubernetes 1.29 or later");
        }
    }
}

/// Whether an OS image URL names a Kubernetes version: EKS Anywhere drops `-`, `.` and `_`
/// from both and looks for the version's digits (`1.30` in `ubuntu-1-30.gz`).
fn url_has_version(url: &str, version: &str) -> bool {
    let digits = |s: &str| s.replace(['-', '.', '_'], "");
    digits(url).contains(&digits(version))
}

fn tinkerbell_os_image_url(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let Some(dc) = spec.tinkerbell_datacenter() else {
        return;
    };
    let dc_url = dc.spec.os_image_url.clone().unwrap_or_default();
    let cluster_v = spec
        .cluster
        .spec
        .kubernetes_version
        .as_ref()
        .map(|v| v.as_str().to_string())
        .unwrap_or_default();
    for m in tinkerbell_machine_configs(spec) {
        let mc = MachineConfig::TinkerbellMachineConfig(m.clone());
        let url = m.spec.os_image_url.clone().unwrap_or_default();
        if !url.is_empty() && !dc_url.is_empty() {
            ctx.machine(&mc, "spec.osImageURL", "an osImageURL is also set on the TinkerbellDatacenterConfig: set it in one place only");
        }
        if url.is_empty() && dc_url.is_empty() && m.spec.os_family != Some(OsFamily::Bottlerocket) {
            ctx.machine(&mc, "spec.osImageURL", "missing: only Bottlerocket images are found automatically; give the URL of an image built for this OS and Kubernetes version");
        }
    }
    let mut versions = vec![cluster_v.clone()];
    versions.extend(spec.worker_node_groups().iter().filter_map(|g| {
        g.kubernetes_version
            .as_ref()
            .map(|v| v.as_str().to_string())
    }));
    if !dc_url.is_empty() {
        for v in versions.iter().filter(|v| !v.is_empty()) {
            if !url_has_version(&dc_url, v) {
                ctx.datacenter("spec.osImageURL", format!("{dc_url:?} does not name Kubernetes {v}: one image serves every machine, so it must be built for every version the cluster runs"));
            }
        }
        return;
    }
    let check = |ctx: &mut Ctx, mc: Option<&MachineConfig>, version: &str| {
        let Some(m) = mc.and_then(MachineConfig::as_tinkerbell) else {
            return;
        };
        let url = m.spec.os_image_url.as_deref().unwrap_or_default();
        if !url.is_empty() && !version.is_empty() && !url_has_version(url, version) {
            let mc = mc.expect("checked above");
            ctx.machine(mc, "spec.osImageURL", format!("{url:?} does not name Kubernetes {version}: the image must be built for the version these machines run"));
        }
    };
    check(ctx, spec.control_plane_machine_config(), &cluster_v);
    for g in spec.worker_node_groups() {
        let v = g
            .kubernetes_version
            .as_ref()
            .map_or(cluster_v.as_str(), |v| v.as_str());
        check(ctx, spec.worker_machine_config(g), v);
    }
}

fn tinkerbell_hook(ctx: &mut Ctx) {
    let spec = ctx.spec;
    let Some(dc) = spec.tinkerbell_datacenter() else {
        return;
    };
    if let Some(iso) = dc.spec.hook_iso_url.as_deref().filter(|u| !u.is_empty()) {
        let path = url::Url::parse(iso)
            .map(|u| u.path().to_string())
            .unwrap_or_else(|_| iso.to_string());
        if !path.ends_with(".iso") {
            ctx.datacenter("spec.hookIsoURL", format!("{iso:?} does not end in .iso"));
        }
    }
    if spec.cluster.spec.proxy_configuration.is_some()
        && dc
            .spec
            .hook_images_url_path
            .as_deref()
            .is_none_or(str::is_empty)
    {
        ctx.datacenter("spec.hookImagesURLPath", "with a proxy, machines boot HookOS without it: host the HookOS images locally and set hookImagesURLPath");
    }
}

fn hardware_selectors(ctx: &mut Ctx) {
    for m in tinkerbell_machine_configs(ctx.spec) {
        let mc = MachineConfig::TinkerbellMachineConfig(m.clone());
        match m.spec.hardware_selector.len() {
            0 => ctx.machine(
                &mc,
                "spec.hardwareSelector",
                "missing: give one label (key: value) that the machines' Hardware carry",
            ),
            1 => {}
            _ => ctx.machine(
                &mc,
                "spec.hardwareSelector",
                "must contain exactly one key: value pair",
            ),
        }
    }
}

/// Selectors and the machines each must provide, keyed by the selector's text.
fn hardware_requirements(spec: &Spec) -> BTreeMap<String, (BTreeMap<String, String>, i64)> {
    let mut out: BTreeMap<String, (BTreeMap<String, String>, i64)> = BTreeMap::new();
    let mut add = |mc: Option<&MachineConfig>, count: i64| {
        if let Some(m) = mc.and_then(MachineConfig::as_tinkerbell) {
            let selector = m.spec.hardware_selector.clone();
            let key = selector_text(&selector);
            out.entry(key).or_insert((selector, 0)).1 += count;
        }
    };
    add(spec.control_plane_machine_config(), cp_count(spec));
    for g in spec.worker_node_groups() {
        add(spec.worker_machine_config(g), g.count.unwrap_or(1).max(0));
    }
    if let Some(etcd) = &spec.cluster.spec.external_etcd_configuration {
        add(spec.etcd_machine_config(), etcd.count.unwrap_or(0));
    }
    out
}

fn selector_text(selector: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.join(",")
}

fn matches_selector(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn hardware_available(ctx: &mut Ctx, inventory: Option<&Inventory>) {
    let Some(inventory) = inventory else {
        ctx.skipped = Some("no hardware inventory given (--hardware-csv)".into());
        return;
    };
    for (text, (selector, needed)) in hardware_requirements(ctx.spec) {
        if selector.is_empty() {
            continue;
        }
        let have = inventory
            .rows
            .iter()
            .filter(|r| matches_selector(&selector, &r.labels))
            .count();
        let have = i64::try_from(have).unwrap_or(i64::MAX);
        if have < needed {
            ctx.cluster(
                "spec",
                format!("hardware selector {text}: {needed} machines needed, the inventory has {have} with that label; add rows with labels {text} to hardware.csv or lower the counts"),
            );
        }
    }
}

fn hardware_one_selector(ctx: &mut Ctx, inventory: Option<&Inventory>) {
    let Some(inventory) = inventory else {
        ctx.skipped = Some("no hardware inventory given (--hardware-csv)".into());
        return;
    };
    let selectors = hardware_requirements(ctx.spec);
    for row in &inventory.rows {
        let matching: Vec<&String> = selectors
            .iter()
            .filter(|(_, (s, _))| matches_selector(s, &row.labels))
            .map(|(text, _)| text)
            .collect();
        if matching.len() > 1 {
            let list: Vec<&str> = matching.iter().map(|s| s.as_str()).collect();
            ctx.cluster(
                "spec",
                format!("hardware {:?} (hardware.csv line {}) matches several selectors ({}): each machine may match only one; change its labels or the selectors", row.hostname, row.line, list.join("; ")),
            );
        }
    }
}
