//! EKS Anywhere's defaults for a loaded spec, in three layers applied in this order by
//! [`Spec::with_defaults`]:
//!
//! 1. [`builder_defaults`]: what `cluster.NewFileSpecBuilder(...).Build()` applies at v0.24.6
//!    (the config manager's defaulters, `pkg/cluster/*.go`, and the `SetDefaults` of
//!    `pkg/api/v1alpha1`). EKS Anywhere's golden tests render specs with exactly these, so
//!    renderers compared with those goldens use this layer alone.
//! 2. [`provider_defaults`]: the offline part of each provider's own defaulting during
//!    `SetupAndValidateCreateCluster` and its webhooks (Tinkerbell's and Nutanix's machine
//!    config defaults, Nutanix's credentials reference, vSphere's etcd memory floor).
//! 3. [`cli_defaults`]: what `eksctl anywhere create cluster` adds from its flags: machine
//!    health check timeouts and limits, and the namespace of every object.
//!
//! Not here, because they need more than the spec: the default `TinkerbellTemplateConfig`
//! (built from the release bundle's images), vSphere's template, clone mode and disk size
//! (asked of vCenter), generated SSH keys, the registry CA read from the file
//! `EKSA_REGISTRY_MIRROR_CA` names, and `eksaVersion` (from the release manifest).
//!
//! Every default fills only what is absent (or empty, as Go's zero value is), so applying a
//! layer twice changes nothing.

use ironbell_model::anywhere::{
    CloudStackAvailabilityZone, Cni, CniConfig, IntOrString, KindnetdConfig, MachineHealthCheck,
    OsFamily, PhysicalNetworkConnectorType, Ref, UserConfiguration,
};

use crate::spec::{DatacenterConfig, MachineConfig, Provider, Spec};

/// Port of a registry mirror without one.
pub const DEFAULT_REGISTRY_MIRROR_PORT: &str = "443";
/// Name of the first worker node group when it has none.
pub const DEFAULT_FIRST_WORKER_GROUP_NAME: &str = "md-0";
/// Encrypted objects a KMS provider caches when its `cachesize` is absent.
pub const DEFAULT_KMS_CACHE_SIZE: i32 = 1000;
/// How long the API server waits for a KMS provider when its `timeout` is absent.
pub const DEFAULT_KMS_TIMEOUT: &str = "3s";
/// AWS partition of an `AWSIamConfig` without one.
pub const DEFAULT_AWS_IAM_PARTITION: &str = "aws";
/// Namespace Flux runs in by default.
pub const DEFAULT_FLUX_NAMESPACE: &str = "flux-system";
/// Branch Flux follows by default.
pub const DEFAULT_FLUX_BRANCH: &str = "main";
/// Login user of Bottlerocket machines.
pub const BOTTLEROCKET_DEFAULT_USER: &str = "ec2-user";
/// Login user of Ubuntu and Red Hat vSphere machines.
pub const VSPHERE_DEFAULT_USER: &str = "capv";
/// Login user of CloudStack machines.
pub const CLOUDSTACK_DEFAULT_USER: &str = "capc";
/// Login user of Nutanix machines.
pub const NUTANIX_DEFAULT_USER: &str = "eksa";
/// Name of the `Secret` with the Prism Central credentials.
pub const NUTANIX_CREDENTIALS_NAME: &str = "nutanix-credentials";
/// Instance type of Snow machines without one.
pub const DEFAULT_SNOW_INSTANCE_TYPE: &str = "sbe-c.large";
/// Prefix of the availability zones made from a CloudStack spec's deprecated `zones`.
pub const DEFAULT_CLOUDSTACK_AZ_PREFIX: &str = "default-az";
/// Annotation marking the machine config of the control plane (Snow).
pub const CONTROL_PLANE_ANNOTATION: &str = "anywhere.eks.amazonaws.com/control-plane";
/// Annotation marking the machine config of external etcd (Snow).
pub const ETCD_ANNOTATION: &str = "anywhere.eks.amazonaws.com/etcd";
/// Annotation naming the management cluster of a workload cluster's machine configs (Snow).
pub const MANAGED_BY_ANNOTATION: &str = "anywhere.eks.amazonaws.com/managed-by";

/// Sets `o` to `value` when it is absent or empty.
fn default_str(o: &mut Option<String>, value: impl Into<String>) {
    if o.as_deref().is_none_or(str::is_empty) {
        *o = Some(value.into());
    }
}

impl Spec {
    /// The spec with every offline default applied: [`builder_defaults`], then
    /// [`provider_defaults`], then [`cli_defaults`] with the `create cluster` flags' default
    /// values.
    pub fn with_defaults(mut self) -> Self {
        builder_defaults(&mut self);
        provider_defaults(&mut self);
        cli_defaults(&mut self, &CliDefaults::default());
        self
    }

    /// Whether the cluster manages itself (no `managementCluster`, or itself).
    pub fn is_self_managed(&self) -> bool {
        let management = self.management_cluster_field();
        management.is_empty() || management == self.name()
    }

    /// The name of the cluster that manages this one (its own name when self-managed).
    pub fn management_cluster_name(&self) -> &str {
        if self.is_self_managed() {
            self.name()
        } else {
            self.management_cluster_field()
        }
    }

    fn management_cluster_field(&self) -> &str {
        let management = self.cluster.spec.management_cluster.as_ref();
        management
            .and_then(|m| m.name.as_deref())
            .unwrap_or_default()
    }
}

/// The defaults `cluster.NewFileSpecBuilder(...).Build()` applies (see the module docs).
pub fn builder_defaults(spec: &mut Spec) {
    cluster_defaults(spec);
    identity_and_gitops_defaults(spec);
    match &mut spec.datacenter {
        DatacenterConfig::VSphereDatacenterConfig(dc) => {
            let s = &mut dc.spec;
            if let (Some(network), Some(datacenter)) = (&s.network, &s.datacenter) {
                s.network = Some(full_vcenter_path("network", network, datacenter));
            }
            if s.insecure == Some(true) {
                s.thumbprint = Some(String::new());
            }
        }
        DatacenterConfig::CloudStackDatacenterConfig(dc) => {
            let s = &mut dc.spec;
            if s.availability_zones.as_ref().is_none_or(Vec::is_empty) {
                let zones = s.zones.take().unwrap_or_default();
                let azs =
                    zones
                        .into_iter()
                        .enumerate()
                        .map(|(i, zone)| CloudStackAvailabilityZone {
                            name: Some(format!("{DEFAULT_CLOUDSTACK_AZ_PREFIX}-{i}")),
                            credentials_ref: Some("global".into()),
                            zone: Some(zone),
                            domain: s.domain.clone(),
                            account: s.account.clone(),
                            management_api_endpoint: s.management_api_endpoint.clone(),
                        });
                s.availability_zones = Some(azs.collect());
            }
            s.zones = None;
            s.domain = None;
            s.account = None;
            s.management_api_endpoint = None;
        }
        DatacenterConfig::SnowDatacenterConfig(dc) => {
            let unset = dc
                .spec
                .identity_ref
                .as_ref()
                .is_none_or(|r| r.kind().is_empty() && r.name().is_empty());
            if unset {
                let name = format!("{}-snow-credentials", dc.metadata.name());
                dc.spec.identity_ref = Some(Ref::new("Secret", name));
            }
        }
        _ => {}
    }
    for mc in spec.machine_configs.values_mut() {
        match mc {
            MachineConfig::VSphereMachineConfig(m) => {
                let s = &mut m.spec;
                if s.memory_mib.is_none_or(|v| v <= 0) {
                    s.memory_mib = Some(8192);
                }
                if s.memory_mib.is_some_and(|v| v < 2048) {
                    s.memory_mib = Some(2048);
                }
                if s.num_cpus.is_none_or(|v| v <= 0) {
                    s.num_cpus = Some(2);
                }
                let os = *s.os_family.get_or_insert(OsFamily::Bottlerocket);
                let user = if os == OsFamily::Bottlerocket {
                    BOTTLEROCKET_DEFAULT_USER
                } else {
                    VSPHERE_DEFAULT_USER
                };
                default_users(&mut s.users, user);
            }
            MachineConfig::CloudStackMachineConfig(m) => {
                default_users(&mut m.spec.users, CLOUDSTACK_DEFAULT_USER);
            }
            MachineConfig::SnowMachineConfig(m) => {
                default_str(&mut m.spec.instance_type, DEFAULT_SNOW_INSTANCE_TYPE);
                m.spec
                    .physical_network_connector
                    .get_or_insert(PhysicalNetworkConnectorType::SfpPlus);
            }
            _ => {}
        }
    }
    snow_annotations(spec);
}

/// `Cluster.SetDefaults`, and the builder dropping `bundlesRef`.
fn cluster_defaults(spec: &mut Spec) {
    let c = &mut spec.cluster.spec;
    c.bundles_ref = None;
    if let Some(mirror) = c.registry_mirror_configuration.as_mut() {
        let unset = match &mirror.port {
            None => true,
            Some(IntOrString::String(s)) => s.is_empty(),
            Some(IntOrString::Int(_)) => false,
        };
        if unset {
            mirror.port = Some(IntOrString::String(DEFAULT_REGISTRY_MIRROR_PORT.into()));
        }
    }
    let groups = c.worker_node_group_configurations.iter_mut().flatten();
    for (i, g) in groups.enumerate() {
        if i == 0 {
            default_str(&mut g.name, DEFAULT_FIRST_WORKER_GROUP_NAME);
        }
        if g.count.is_none() {
            let min = g.autoscaling_configuration.as_ref().map(|a| a.min_count);
            g.count = Some(min.map_or(1, |m| m.unwrap_or(0)));
        }
    }
    let network = c.cluster_network.get_or_insert_with(Default::default);
    if network.cni_config.is_none() {
        let mut cni = CniConfig::default();
        match network.cni.take() {
            Some(Cni::Cilium | Cni::CiliumEnterprise) => cni.cilium = Some(Default::default()),
            Some(Cni::Kindnetd) => cni.kindnetd = Some(KindnetdConfig {}),
            None => {}
        }
        network.cni_config = Some(cni);
    }
    let encryption = c.etcd_encryption.iter_mut().flatten();
    for provider in encryption.flat_map(|e| e.providers.iter_mut()) {
        provider
            .kms
            .cache_size
            .get_or_insert(DEFAULT_KMS_CACHE_SIZE);
        provider
            .kms
            .timeout
            .get_or_insert_with(|| DEFAULT_KMS_TIMEOUT.into());
    }
}

/// The AWS IAM, GitOps and Flux defaulters of the config manager.
fn identity_and_gitops_defaults(spec: &mut Spec) {
    for iam in spec.aws_iam_configs.values_mut() {
        default_str(&mut iam.spec.partition, DEFAULT_AWS_IAM_PARTITION);
    }
    let config_path = format!("clusters/{}", spec.management_cluster_name());
    if let Some(gitops) = spec.gitops_config.as_mut() {
        let flux = gitops.spec.flux.get_or_insert_with(Default::default);
        let github = flux.github.get_or_insert_with(Default::default);
        default_str(&mut github.flux_system_namespace, DEFAULT_FLUX_NAMESPACE);
        default_str(&mut github.branch, DEFAULT_FLUX_BRANCH);
        default_str(&mut github.cluster_config_path, config_path.clone());
    }
    if let Some(flux) = spec.flux_config.as_mut() {
        default_str(&mut flux.spec.system_namespace, DEFAULT_FLUX_NAMESPACE);
        default_str(&mut flux.spec.branch, DEFAULT_FLUX_BRANCH);
        default_str(&mut flux.spec.cluster_config_path, config_path);
    }
}

/// Snow's annotations on the control plane's and etcd's machine configs, and the
/// management cluster on every machine config of a workload cluster.
fn snow_annotations(spec: &mut Spec) {
    if spec.provider() != Provider::Snow {
        return;
    }
    let cp = spec
        .control_plane_machine_ref()
        .map(|r| r.name().to_string());
    let etcd = spec.etcd_machine_ref().map(|r| r.name().to_string());
    let managed_by = (!spec.is_self_managed()).then(|| spec.management_cluster_name().to_string());
    for (name, annotation) in [(cp, CONTROL_PLANE_ANNOTATION), (etcd, ETCD_ANNOTATION)] {
        if let Some(mc) = name.and_then(|n| spec.machine_configs.get_mut(&n)) {
            annotate(mc, annotation, "true");
        }
    }
    if let Some(management) = managed_by {
        for mc in spec.machine_configs.values_mut() {
            annotate(mc, MANAGED_BY_ANNOTATION, &management);
        }
    }
}

fn annotate(mc: &mut MachineConfig, key: &str, value: &str) {
    mc.metadata_mut()
        .annotations
        .get_or_insert_with(Default::default)
        .insert(key.into(), value.into());
}

/// EKS Anywhere's `defaultMachineConfigUsers`: at least one user, the first named `name`
/// when it has no name and given one (empty) key when it has none.
fn default_users(users: &mut Option<Vec<UserConfiguration>>, name: &str) {
    let users = users.get_or_insert_with(Vec::new);
    if users.is_empty() {
        users.push(UserConfiguration::default());
    }
    let first = &mut users[0];
    if first.ssh_authorized_keys.is_empty() {
        first.ssh_authorized_keys = vec![String::new()];
    }
    if first.name.is_empty() {
        first.name = name.into();
    }
}

/// A vCenter inventory path made absolute under `/<datacenter>/<folder type>/`, as EKS
/// Anywhere's `generateFullVCenterPath` does; an empty or already absolute path is kept.
pub fn full_vcenter_path(folder_type: &str, path: &str, datacenter: &str) -> String {
    let prefix = format!("/{datacenter}");
    if path.is_empty() || path.starts_with(&prefix) {
        path.to_string()
    } else {
        format!("{prefix}/{folder_type}/{path}")
    }
}

/// The offline part of each provider's own defaulting (see the module docs).
pub fn provider_defaults(spec: &mut Spec) {
    if let DatacenterConfig::NutanixDatacenterConfig(dc) = &mut spec.datacenter {
        dc.spec
            .credential_ref
            .get_or_insert_with(|| Ref::new("Secret", NUTANIX_CREDENTIALS_NAME));
    }
    let etcd = spec.etcd_machine_ref().map(|r| r.name().to_string());
    for (name, mc) in spec.machine_configs.iter_mut() {
        match mc {
            MachineConfig::TinkerbellMachineConfig(m) => {
                m.spec.os_family.get_or_insert(OsFamily::Bottlerocket);
            }
            MachineConfig::NutanixMachineConfig(m) => {
                default_users(&mut m.spec.users, NUTANIX_DEFAULT_USER);
                m.spec.os_family.get_or_insert(OsFamily::Ubuntu);
            }
            MachineConfig::VSphereMachineConfig(m)
                if etcd.as_deref() == Some(name.as_str())
                    && m.spec.memory_mib.is_none_or(|v| v < 8192) =>
            {
                m.spec.memory_mib = Some(8192);
            }
            _ => {}
        }
    }
}

/// The values `eksctl anywhere create cluster` defaults from its flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CliDefaults {
    /// `--node-startup-timeout` (Tinkerbell gets [`Self::tinkerbell_node_startup_timeout`]
    /// while this is left at its default).
    pub node_startup_timeout: String,
    /// The node startup timeout of Tinkerbell clusters (bare metal boots slowly).
    pub tinkerbell_node_startup_timeout: String,
    /// `--unhealthy-machine-timeout`.
    pub unhealthy_machine_timeout: String,
    /// `--max-unhealthy`: for the cluster and the control plane.
    pub max_unhealthy: IntOrString,
    /// `--worker-max-unhealthy`: for worker groups when the cluster sets none.
    pub worker_max_unhealthy: IntOrString,
    /// The namespace of objects without one.
    pub namespace: String,
}

impl Default for CliDefaults {
    fn default() -> Self {
        Self {
            node_startup_timeout: "10m0s".into(),
            tinkerbell_node_startup_timeout: "20m0s".into(),
            unhealthy_machine_timeout: "5m0s".into(),
            max_unhealthy: IntOrString::String("100%".into()),
            worker_max_unhealthy: IntOrString::String("40%".into()),
            namespace: "default".into(),
        }
    }
}

/// Machine health check defaults and namespaces, as `create cluster` sets them.
pub fn cli_defaults(spec: &mut Spec, d: &CliDefaults) {
    let tinkerbell = spec.provider() == Provider::Tinkerbell;
    let c = &mut spec.cluster.spec;
    let mhc = c.machine_health_check.get_or_insert_with(Default::default);
    if mhc.node_startup_timeout.is_none() {
        let standard = CliDefaults::default().node_startup_timeout;
        mhc.node_startup_timeout = Some(if tinkerbell && d.node_startup_timeout == standard {
            d.tinkerbell_node_startup_timeout.clone()
        } else {
            d.node_startup_timeout.clone()
        });
    }
    mhc.unhealthy_machine_timeout
        .get_or_insert_with(|| d.unhealthy_machine_timeout.clone());
    let top_level_max = mhc.max_unhealthy.clone();
    let global_max = mhc
        .max_unhealthy
        .get_or_insert_with(|| d.max_unhealthy.clone())
        .clone();
    if let Some(cp) = c.control_plane_configuration.as_mut() {
        cp.machine_health_check
            .get_or_insert_with(MachineHealthCheck::default)
            .max_unhealthy
            .get_or_insert(global_max);
    }
    let worker_max = top_level_max.unwrap_or_else(|| d.worker_max_unhealthy.clone());
    for g in c.worker_node_group_configurations.iter_mut().flatten() {
        g.machine_health_check
            .get_or_insert_with(MachineHealthCheck::default)
            .max_unhealthy
            .get_or_insert_with(|| worker_max.clone());
    }
    let namespace = &d.namespace;
    let metas = std::iter::once(&mut spec.cluster.metadata)
        .chain(std::iter::once(spec.datacenter.metadata_mut()))
        .chain(
            spec.machine_configs
                .values_mut()
                .map(MachineConfig::metadata_mut),
        )
        .chain(
            spec.tinkerbell_templates
                .values_mut()
                .map(|t| &mut t.metadata),
        )
        .chain(spec.oidc_configs.values_mut().map(|o| &mut o.metadata))
        .chain(spec.aws_iam_configs.values_mut().map(|a| &mut a.metadata))
        .chain(spec.gitops_config.iter_mut().map(|g| &mut g.metadata))
        .chain(spec.flux_config.iter_mut().map(|f| &mut f.metadata));
    for meta in metas {
        default_str(&mut meta.namespace, namespace.clone());
    }
}
