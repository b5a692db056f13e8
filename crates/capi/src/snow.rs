//! The Snow provider's Cluster API objects (CAPAS), as EKS Anywhere's Snow provider builds
//! them (`pkg/providers/snow/apibuilder.go` at v0.24.6).
//!
//! [`render_control_plane`] gives `Cluster`, `KubeadmControlPlane`, `AWSSnowCluster`, the
//! control-plane `AWSSnowMachineTemplate`, the credentials `Secret` and the `AWSSnowIPPool`s
//! the control plane's interfaces use; [`render_workers`] gives, per worker node group, a
//! `KubeadmConfigTemplate`, a `MachineDeployment` and an `AWSSnowMachineTemplate`, then the
//! workers' IP pools. Ubuntu and Bottlerocket machines are supported; external etcd is
//! refused ([`RenderError::ExternalEtcd`]).
//!
//! EKS Anywhere builds Go structs and prints them, so every object carries the empty fields
//! Go prints (see [`crate::api::snow`]); the kubeadm objects are built with the shared types
//! and those fields are added before they are wrapped in a [`GoPrinted`].
//!
//! Template names are an input ([`SnowNames`]): a create uses the initial names
//! (`<cluster>-control-plane-1`, `<cluster>-<group>-1`); [`upgrade_names`] keeps the current
//! ones while the templates are unchanged and increments those that change.

use std::collections::BTreeMap;

use ironbell_model::anywhere::{
    Cluster as EksaCluster, IntOrString, OsFamily, SnowDatacenterConfig, SnowIPPool,
    SnowMachineConfig, WorkerNodeGroupConfiguration,
};
use serde_json::{Value, json};

use crate::api::cluster::{
    ApiEndpoint, Cluster, ClusterParts, MachineDeployment, WorkerGroupDeployment,
};
use crate::api::kubeadm::{
    BottlerocketNode, ClusterConfiguration, ControlPlaneComponent, ControlPlaneMachineTemplate,
    ControlPlaneRollingUpdate, Etcd, File, HostPathMount, KubeadmConfigSpec, KubeadmConfigTemplate,
    KubeadmControlPlane, KubeadmControlPlaneSpec, NodeConfiguration, NodeRegistration,
    RolloutStrategy,
};
use crate::api::snow::{
    AmiReference, AwsSnowCluster, AwsSnowClusterSpec, AwsSnowIpPool, AwsSnowMachineSpec,
    AwsSnowMachineTemplate, CloudInit, DirectNetworkInterface, GoPrinted, IpRange,
    SnowIdentityReference, SnowNetwork,
};
use crate::api::{
    EKSA_SYSTEM_NAMESPACE, INFRASTRUCTURE_API_VERSION, ObjectReference, StringMap, meta,
};
use crate::common::{self, cluster_name, minor_version, worker_groups};
use crate::kubeadm;
use crate::versions::{VersionsBundle, VersionsBundleSet, image_meta};
use crate::{LookupError, Manifests, Object};

/// Kind name of CAPAS's machine template.
pub const MACHINE_TEMPLATE_KIND: &str = "AWSSnowMachineTemplate";

/// The kubelet's provider ID on a Snow instance.
const PROVIDER_ID: &str = "aws-snow:////'{{ ds.meta_data.instance_id }}'";

/// The script Snow's Ubuntu images run before kubeadm.
const BOOTSTRAP_SCRIPT: &str = "/etc/eks/bootstrap.sh";

/// A Snow cluster spec: the EKS Anywhere objects the renderer reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SnowSpec {
    /// The `Cluster`.
    pub cluster: EksaCluster,
    /// Its `SnowDatacenterConfig`.
    pub datacenter: SnowDatacenterConfig,
    /// `SnowMachineConfig`s by name.
    pub machine_configs: BTreeMap<String, SnowMachineConfig>,
    /// `SnowIPPool`s by name.
    pub ip_pools: BTreeMap<String, SnowIPPool>,
}

impl SnowSpec {
    /// The Snow view of a loaded spec.
    pub fn from_spec(spec: &ironbell_cluster_spec::Spec) -> Result<Self, RenderError> {
        let datacenter = match spec.datacenter() {
            ironbell_cluster_spec::DatacenterConfig::SnowDatacenterConfig(dc) => dc.clone(),
            _ => {
                return Err(RenderError::NotSnow {
                    cluster: spec.name().to_string(),
                });
            }
        };
        Ok(Self {
            cluster: spec.cluster.clone(),
            datacenter,
            machine_configs: common::machine_configs_of(spec, |mc| match mc {
                ironbell_cluster_spec::MachineConfig::SnowMachineConfig(m) => Some(m),
                _ => None,
            }),
            ip_pools: spec.snow_ip_pools.clone(),
        })
    }
}

/// The devices' credentials and CA bundle, base64-encoded as the credentials `Secret`
/// carries them (EKS Anywhere reads the files `EKSA_AWS_CREDENTIALS_FILE` and
/// `EKSA_AWS_CA_BUNDLES_FILE` name). Never logged; `Debug` hides them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SnowCredentials {
    /// The AWS credentials file, base64.
    pub credentials_b64: String,
    /// The devices' CA bundle, base64.
    pub ca_bundle_b64: String,
}

impl std::fmt::Debug for SnowCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnowCredentials(<redacted>)")
    }
}

/// The names of the machine and bootstrap templates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnowNames {
    /// Control-plane `AWSSnowMachineTemplate` name.
    pub control_plane: String,
    /// Per worker node group: (`AWSSnowMachineTemplate`, `KubeadmConfigTemplate`) names.
    pub workers: BTreeMap<String, (String, String)>,
}

impl SnowNames {
    /// The names of a new cluster: `<cluster>-control-plane-1` and `<cluster>-<group>-1`.
    pub fn initial(spec: &SnowSpec) -> Self {
        let name = cluster_name(&spec.cluster);
        Self {
            control_plane: format!("{name}-control-plane-1"),
            workers: worker_groups(&spec.cluster)
                .map(|(group, _)| {
                    let n = format!("{name}-{group}-1");
                    (group, (n.clone(), n))
                })
                .collect(),
        }
    }
}

/// A cluster's current objects, by kind and name, as the API returns them.
#[derive(Clone, Debug, Default)]
pub struct CurrentObjects {
    objects: BTreeMap<(String, String), Value>,
}

impl CurrentObjects {
    /// The object the API returns for a kind and name.
    pub fn insert(&mut self, kind: &str, name: &str, object: Value) {
        self.objects
            .insert((kind.to_string(), name.to_string()), object);
    }

    /// Objects keyed by their own `kind` and `metadata.name`.
    pub fn from_objects(objects: impl IntoIterator<Item = Value>) -> Self {
        let mut current = Self::default();
        for o in objects {
            let kind = o.get("kind").and_then(Value::as_str).map(str::to_string);
            let name = o
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .map(str::to_string);
            if let (Some(kind), Some(name)) = (kind, name) {
                current.insert(&kind, &name, o);
            }
        }
        current
    }

    fn get(&self, kind: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(kind.to_string(), name.to_string()))
    }
}

/// A name at `path` in an object, when it is set.
fn name_at<'v>(object: Option<&'v Value>, path: &[&str]) -> Option<&'v str> {
    let mut v = object?;
    for key in path {
        v = v.get(*key)?;
    }
    v.as_str().filter(|s| !s.is_empty())
}

/// `name-<n>` → `name-<n+1>`.
fn increment_name(kind: &str, name: &str) -> Result<String, RenderError> {
    let bad = || RenderError::TemplateName {
        kind: kind.to_string(),
        name: name.to_string(),
    };
    let (base, n) = name.rsplit_once('-').ok_or_else(bad)?;
    let n: u64 = n.parse().map_err(|_| bad())?;
    if base.is_empty() {
        return Err(bad());
    }
    Ok(format!("{base}-{}", n + 1))
}

/// Whether `new` asks for nothing `current` does not have: fields that are empty in `new`
/// are ignored, lists compare element by element (Kubernetes' semantic `DeepDerivative`).
fn derives(new: &Value, current: Option<&Value>) -> bool {
    let zero = match new {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Bool(b) => !b,
        _ => false,
    };
    if zero {
        return true;
    }
    match (new, current) {
        (Value::Object(n), Some(Value::Object(c))) => n.iter().all(|(k, v)| derives(v, c.get(k))),
        (Value::Array(n), Some(Value::Array(c))) => {
            n.len() == c.len() && n.iter().zip(c).all(|(a, b)| derives(a, Some(b)))
        }
        (n, Some(c)) => n == c,
        (_, None) => false,
    }
}

/// The name a template keeps on an upgrade: its current name while the current template
/// (if the API has it) already holds everything the new one asks for, else that name
/// incremented.
fn keep_or_increment(
    current: &CurrentObjects,
    kind: &str,
    name: &str,
    new_spec: &Value,
) -> Result<String, RenderError> {
    let current_spec = current
        .get(kind, name)
        .and_then(|o| o.get("spec"))
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("spec"));
    match current_spec {
        Some(c) if !derives(new_spec, Some(c)) => increment_name(kind, name),
        _ => Ok(name.to_string()),
    }
}

fn template_spec(object: &Object) -> Value {
    match object {
        Object::GoPrinted(p) => p.value["spec"]["template"]["spec"].clone(),
        _ => Value::Null,
    }
}

/// The template names of an upgrade, as EKS Anywhere's Snow provider picks them: a new
/// cluster's initial names where the current objects have none; otherwise the names the
/// current `KubeadmControlPlane` and `MachineDeployment`s reference, each incremented when
/// the template the spec now gives differs from the current one.
pub fn upgrade_names(
    spec: &SnowSpec,
    bundles: &VersionsBundleSet,
    current: &CurrentObjects,
) -> Result<SnowNames, RenderError> {
    let ctx = Context::new(spec, bundles);
    let name = ctx.name;
    let mut names = SnowNames::initial(spec);
    let kcp = current.get("KubeadmControlPlane", name);
    let cp_path = ["spec", "machineTemplate", "infrastructureRef", "name"];
    if let Some(cp_name) = name_at(kcp, &cp_path) {
        let cp = spec.cluster.spec.control_plane_configuration.as_ref();
        let cp_ref = cp
            .and_then(|c| c.machine_group_ref.as_ref())
            .map(|r| r.name());
        let (_, cp_mc) = ctx.machine_config("the control plane", cp_ref)?;
        let new = template_spec(&machine_template(cp_name, cp_mc));
        names.control_plane = keep_or_increment(current, MACHINE_TEMPLATE_KIND, cp_name, &new)?;
    }
    let root_bundle = ctx.bundle(None)?;
    for (group, wng) in worker_groups(&spec.cluster) {
        let Some(md) = current.get("MachineDeployment", &format!("{name}-{group}")) else {
            continue;
        };
        let (_, mc) = ctx.machine_config(
            &format!("worker node group {group}"),
            wng.machine_group_ref.as_ref().map(|r| r.name()),
        )?;
        let Some(entry) = names.workers.get_mut(&group) else {
            continue;
        };
        let md = Some(md);
        if let Some(mt) = name_at(
            md,
            &["spec", "template", "spec", "infrastructureRef", "name"],
        ) {
            let new = template_spec(&machine_template(mt, mc));
            entry.0 = keep_or_increment(current, MACHINE_TEMPLATE_KIND, mt, &new)?;
        }
        let kct_path = ["spec", "template", "spec", "bootstrap", "configRef", "name"];
        if let Some(kct) = name_at(md, &kct_path) {
            let new = kubeadm_config_template(root_bundle, wng, mc, kct);
            let new = new.value["spec"]["template"]["spec"].clone();
            entry.1 = keep_or_increment(current, "KubeadmConfigTemplate", kct, &new)?;
        }
    }
    Ok(names)
}

/// Inputs of a render besides the spec and the bundles.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Template names.
    pub names: SnowNames,
    /// The devices' credentials.
    pub credentials: SnowCredentials,
}

/// What went wrong rendering a Snow spec.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The spec lacks what the renderer looks up.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The spec's datacenter config is not a `SnowDatacenterConfig`.
    #[error("cluster {cluster}: the datacenter config is not a SnowDatacenterConfig")]
    NotSnow {
        /// Cluster name.
        cluster: String,
    },
    /// A direct network interface names an IP pool the spec does not have.
    #[error(
        "SnowMachineConfig {machine_config}: ipPoolRef {pool:?} names no SnowIPPool of the spec"
    )]
    MissingIpPool {
        /// Machine config name.
        machine_config: String,
        /// The missing pool.
        pool: String,
    },
    /// A current template's name does not end in `-<number>`, so it cannot be renewed.
    #[error("{kind} {name}: the name does not end in -<number>, so it cannot be incremented")]
    TemplateName {
        /// The template's kind.
        kind: String,
        /// Its name.
        name: String,
    },
    /// External etcd is not rendered for Snow.
    #[error("cluster {cluster}: external etcd is not supported by the Snow renderer yet")]
    ExternalEtcd {
        /// Cluster name.
        cluster: String,
    },
}

/// Render both documents.
pub fn render(
    spec: &SnowSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Manifests, RenderError> {
    Ok(Manifests {
        control_plane: render_control_plane(spec, bundles, options)?,
        workers: render_workers(spec, bundles, options)?,
    })
}

struct Context<'a> {
    spec: &'a SnowSpec,
    name: &'a str,
    lookup: common::Lookup<'a>,
}

impl<'a> Context<'a> {
    fn new(spec: &'a SnowSpec, bundles: &'a VersionsBundleSet) -> Self {
        let lookup = common::Lookup::new(&spec.cluster, bundles);
        Self {
            spec,
            name: lookup.name,
            lookup,
        }
    }

    fn bundle(&self, version: Option<&str>) -> Result<&'a VersionsBundle, RenderError> {
        Ok(self.lookup.bundle(version)?)
    }

    fn machine_config(
        &self,
        role: &str,
        name: Option<&str>,
    ) -> Result<(&'a str, &'a SnowMachineConfig), RenderError> {
        Ok(self.lookup.machine_config(
            &self.spec.machine_configs,
            "SnowMachineConfig",
            role,
            name,
        )?)
    }

    /// The labels EKS Anywhere puts on the `Cluster` and `MachineDeployment`s.
    fn cluster_labels(&self) -> StringMap {
        let namespace = self
            .spec
            .cluster
            .metadata
            .namespace
            .clone()
            .unwrap_or_default();
        [
            ("cluster.anywhere.eks.amazonaws.com/cluster-name", self.name),
            (
                "cluster.anywhere.eks.amazonaws.com/cluster-namespace",
                namespace.as_str(),
            ),
            ("cluster.x-k8s.io/cluster-name", self.name),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The IP pools a machine config's interfaces use, as CAPAS pools.
    fn ip_pools(&self, mc_name: &str, mc: &SnowMachineConfig) -> Result<Vec<Object>, RenderError> {
        let mut out = Vec::new();
        for pool in pool_refs(mc) {
            let p = self
                .spec
                .ip_pools
                .get(pool)
                .ok_or_else(|| RenderError::MissingIpPool {
                    machine_config: mc_name.to_string(),
                    pool: pool.to_string(),
                })?;
            let ranges = p
                .spec
                .pools
                .iter()
                .flatten()
                .map(|r| IpRange {
                    ip_start: r.ip_start.clone(),
                    ip_end: r.ip_end.clone(),
                    gateway: r.gateway.clone(),
                    subnet: r.subnet.clone(),
                })
                .collect();
            out.push(Object::GoPrinted(Box::new(printed(
                "AWSSnowIPPool",
                &AwsSnowIpPool::new(meta(pool, EKSA_SYSTEM_NAMESPACE), ranges),
            ))));
        }
        Ok(out)
    }
}

fn pool_refs(mc: &SnowMachineConfig) -> impl Iterator<Item = &str> {
    mc.spec
        .network
        .iter()
        .flat_map(|n| n.direct_network_interfaces.iter().flatten())
        .filter_map(|d| d.ip_pool_ref.as_ref().map(|r| r.name()))
}

fn is_bottlerocket(mc: &SnowMachineConfig) -> bool {
    mc.spec.os_family == Some(OsFamily::Bottlerocket)
}

fn os_name(os: OsFamily) -> String {
    serde_json::to_value(os)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn printed<T: serde::Serialize>(kind: &str, object: &T) -> GoPrinted {
    GoPrinted {
        kind: kind.to_string(),
        value: serde_json::to_value(object).unwrap_or(Value::Null),
    }
}

fn machine_template(name: &str, mc: &SnowMachineConfig) -> Object {
    let s = &mc.spec;
    let spec = AwsSnowMachineSpec {
        ami: AmiReference {
            id: s.ami_id.clone(),
        },
        cloud_init: CloudInit {
            insecure_skip_secrets_manager: true,
        },
        containers_volume: to_value(s.containers_volume.as_ref()),
        devices: s.devices.clone().unwrap_or_default(),
        iam_instance_profile: "control-plane.cluster-api-provider-aws.sigs.k8s.io".into(),
        image_lookup_base_os: is_bottlerocket(mc).then(|| "bottlerocket".into()),
        instance_type: s.instance_type.clone().unwrap_or_default(),
        network: SnowNetwork {
            direct_network_interfaces: s
                .network
                .iter()
                .flat_map(|n| n.direct_network_interfaces.iter().flatten())
                .map(|d| DirectNetworkInterface {
                    dhcp: d.dhcp.unwrap_or(false),
                    index: d.index,
                    ip_pool: d.ip_pool_ref.as_ref().map(|r| ObjectReference {
                        api_version: String::new(),
                        kind: "AWSSnowIPPool".into(),
                        name: r.name().to_string(),
                        namespace: None,
                    }),
                    primary: d.primary.unwrap_or(false),
                    vlan_id: d.vlan_id,
                })
                .collect(),
        },
        non_root_volumes: to_value(s.non_root_volumes.as_ref()),
        os_family: s.os_family.map(os_name),
        physical_network_connector_type: s
            .physical_network_connector
            .and_then(|c| serde_json::to_value(c).ok())
            .and_then(|v| v.as_str().map(str::to_string)),
        ssh_key_name: s.ssh_key_name.clone(),
    };
    Object::GoPrinted(Box::new(printed(
        MACHINE_TEMPLATE_KIND,
        &AwsSnowMachineTemplate::new(meta(name, EKSA_SYSTEM_NAMESPACE), spec),
    )))
}

fn to_value<T: serde::Serialize>(v: Option<&T>) -> Option<Value> {
    v.and_then(|v| serde_json::to_value(v).ok())
}

/// The Bottlerocket settings of a machine: the pause and bootstrap images in the shared
/// fields, and (as data to merge) the admin and control containers and Snow's custom
/// bootstrap container.
fn bottlerocket(bundle: &VersionsBundle) -> (BottlerocketNode, Value) {
    let node = BottlerocketNode {
        pause: Some(image_meta(&bundle.kube_distro.pause)),
        bottlerocket_bootstrap: Some(image_meta(&bundle.bottlerocket_bootstrap)),
        ..BottlerocketNode::default()
    };
    let snow = &bundle.snow_bottlerocket_bootstrap;
    let extra = json!({
        "bottlerocketAdmin": image_meta(&bundle.bottlerocket_admin),
        "bottlerocketControl": image_meta(&bundle.bottlerocket_control),
        "bottlerocketCustomBootstrapContainers": [{
            "essential": false,
            "imageRepository": snow.repository,
            "imageTag": snow.tag,
            "mode": "always",
            "name": "bottlerocket-bootstrap-snow",
        }],
    });
    (node, extra)
}

fn kubeconfig_volume(file: &str) -> ControlPlaneComponent {
    ControlPlaneComponent {
        extra_volumes: Some(vec![HostPathMount {
            host_path: format!("/var/lib/kubeadm/{file}"),
            mount_path: format!("/etc/kubernetes/{file}"),
            name: "kubeconfig".into(),
            path_type: Some("File".into()),
            read_only: true,
        }]),
        ..ControlPlaneComponent::default()
    }
}

/// The control-plane document (see the module docs).
pub fn render_control_plane(
    spec: &SnowSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Vec<Object>, RenderError> {
    let ctx = Context::new(spec, bundles);
    let name = ctx.name;
    let cluster = &spec.cluster;
    if cluster.spec.external_etcd_configuration.is_some() {
        return Err(RenderError::ExternalEtcd {
            cluster: name.to_string(),
        });
    }
    let cp = ctx.lookup.control_plane()?;
    let (cp_mc_name, cp_mc) = ctx.machine_config(
        "the control plane",
        cp.machine_group_ref.as_ref().map(|r| r.name()),
    )?;
    let bundle = ctx.bundle(None)?;
    let distro = &bundle.kube_distro;
    let minor = minor_version(&distro.kubernetes.tag);
    let br = is_bottlerocket(cp_mc);
    let endpoint = common::endpoint_host(cluster);
    let mut objects = Vec::new();

    // Cluster.
    let mut capi_cluster = Cluster::for_eksa(ClusterParts {
        name,
        pods: common::cidrs(cluster, false),
        services: common::cidrs(cluster, true),
        endpoint: Some(ApiEndpoint {
            host: String::new(),
            port: 0,
        }),
        infrastructure_ref: ObjectReference::new(
            INFRASTRUCTURE_API_VERSION,
            "AWSSnowCluster",
            name,
        ),
        external_etcd_ref: None,
    });
    capi_cluster.metadata.labels = Some(ctx.cluster_labels());
    objects.push(Object::GoPrinted(Box::new(go_printed(
        "Cluster",
        &capi_cluster,
        &[],
        json!({"controlPlaneReady": false, "infrastructureReady": false,
               "managedExternalEtcdInitialized": false, "managedExternalEtcdReady": false}),
    ))));

    // KubeadmControlPlane.
    let tls = || {
        [(
            "tls-cipher-suites".to_string(),
            kubeadm::SECURE_CIPHER_SUITES.to_string(),
        )]
        .into_iter()
        .collect::<StringMap>()
    };
    let mut kubelet_args = tls();
    kubelet_args.insert("provider-id".into(), PROVIDER_ID.into());
    let (br_node, br_extra) = if br {
        let (n, e) = bottlerocket(bundle);
        (n, Some(e))
    } else {
        (BottlerocketNode::default(), None)
    };
    let mut controller_manager = if br {
        kubeconfig_volume("controller-manager.conf")
    } else {
        ControlPlaneComponent::default()
    };
    controller_manager.extra_args = Some(tls());
    let cluster_configuration = ClusterConfiguration {
        feature_gates: (29..33).contains(&minor).then(|| {
            [("EtcdLearnerMode".to_string(), false)]
                .into_iter()
                .collect()
        }),
        image_repository: Some(distro.kubernetes.repository.clone()),
        etcd: Some(Etcd {
            local: Some(image_meta(&distro.etcd).into()),
            external: None,
        }),
        dns: Some(image_meta(&distro.coredns)),
        bottlerocket_node: br_node.clone(),
        api_server: None,
        controller_manager: Some(controller_manager),
        scheduler: br.then(|| kubeconfig_volume("scheduler.conf")),
        certificates_dir: br.then(|| "/var/lib/kubeadm/pki".to_string()),
    };
    let mut pre_kubeadm = Vec::new();
    if !br {
        pre_kubeadm.push(BOOTSTRAP_SCRIPT.to_string());
        if minor >= 29 {
            pre_kubeadm.push("if [ -f /run/kubeadm/kubeadm.yaml ]; then sed -i 's#path: /etc/kubernetes/admin.conf#path: /etc/kubernetes/super-admin.conf#' /etc/kubernetes/manifests/kube-vip.yaml; fi".into());
        }
    }
    let max_surge = cp
        .upgrade_rollout_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .map_or(1, |r| r.max_surge);
    let kcp = KubeadmControlPlane::new(
        meta(name, EKSA_SYSTEM_NAMESPACE),
        KubeadmControlPlaneSpec {
            kubeadm_config_spec: KubeadmConfigSpec {
                cluster_configuration: Some(cluster_configuration),
                init_configuration: Some(NodeConfiguration {
                    node_registration: Some(NodeRegistration {
                        kubelet_extra_args: Some(kubelet_args.clone()),
                        ..NodeRegistration::default()
                    }),
                    ..NodeConfiguration::default()
                }),
                join_configuration: Some(NodeConfiguration {
                    bottlerocket_node: br_node,
                    node_registration: Some(NodeRegistration {
                        ignore_preflight_errors: (!br)
                            .then(|| vec!["DirAvailable--etc-kubernetes-manifests".into()]),
                        kubelet_extra_args: Some(kubelet_args),
                        ..NodeRegistration::default()
                    }),
                    ..NodeConfiguration::default()
                }),
                files: Some(vec![File::root(
                    "/etc/kubernetes/manifests/kube-vip.yaml",
                    kubeadm::kube_vip_manifest(
                        endpoint,
                        &bundle.snow_kube_vip,
                        false,
                        "/etc/kubernetes/admin.conf",
                    ),
                )]),
                pre_kubeadm_commands: (!pre_kubeadm.is_empty()).then_some(pre_kubeadm),
                format: br.then(|| "bottlerocket".into()),
                ..KubeadmConfigSpec::default()
            },
            machine_template: ControlPlaneMachineTemplate {
                infrastructure_ref: ObjectReference::new(
                    INFRASTRUCTURE_API_VERSION,
                    MACHINE_TEMPLATE_KIND,
                    options.names.control_plane.clone(),
                ),
            },
            replicas: cp.count.unwrap_or(1),
            rollout_strategy: Some(RolloutStrategy {
                rolling_update: Some(ControlPlaneRollingUpdate {
                    max_surge: IntOrString::Int(max_surge),
                }),
                strategy_type: Some("RollingUpdate".into()),
            }),
            version: distro.kubernetes.tag.clone(),
        },
    );
    let mut kcp = go_printed(
        "KubeadmControlPlane",
        &kcp,
        &[],
        json!({"initialized": false, "ready": false, "readyReplicas": 0, "replicas": 0,
               "unavailableReplicas": 0, "updatedReplicas": 0}),
    );
    {
        let spec = &mut kcp.value["spec"];
        ensure(spec, &["machineTemplate", "metadata"], json!({}));
        let config = &mut spec["kubeadmConfigSpec"];
        ensure(
            config,
            &["initConfiguration", "localAPIEndpoint"],
            json!({}),
        );
        fill_cluster_configuration(&mut config["clusterConfiguration"]);
        fill_join_configuration(&mut config["joinConfiguration"]);
        config["clusterConfiguration"]["etcd"]["local"]["extraArgs"] = json!({
            "cipher-suites": kubeadm::SECURE_CIPHER_SUITES,
            "listen-client-urls": "https://0.0.0.0:2379",
            "listen-peer-urls": "https://0.0.0.0:2380",
        });
        if let Some(extra) = &br_extra {
            merge(&mut config["clusterConfiguration"], extra);
            merge(&mut config["joinConfiguration"], extra);
        }
    }
    objects.push(Object::GoPrinted(Box::new(kcp)));

    // AWSSnowCluster, the machine template, the credentials.
    let secret_name = format!("{name}-snow-credentials");
    objects.push(Object::GoPrinted(Box::new(printed(
        "AWSSnowCluster",
        &AwsSnowCluster::new(
            meta(name, EKSA_SYSTEM_NAMESPACE),
            AwsSnowClusterSpec {
                control_plane_endpoint: ApiEndpoint {
                    host: endpoint.to_string(),
                    port: 6443,
                },
                identity_ref: SnowIdentityReference {
                    kind: "Secret".into(),
                    name: secret_name.clone(),
                },
                region: "snow".into(),
            },
        ),
    ))));
    objects.push(machine_template(&options.names.control_plane, cp_mc));
    let mut secret_meta = meta(secret_name, EKSA_SYSTEM_NAMESPACE);
    secret_meta.labels = Some(
        [(
            "clusterctl.cluster.x-k8s.io/move".to_string(),
            "true".to_string(),
        )]
        .into_iter()
        .collect(),
    );
    let mut secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": secret_meta,
        "data": {
            "credentials": options.credentials.credentials_b64,
            "ca-bundle": options.credentials.ca_bundle_b64,
        },
        "type": "Opaque",
    });
    secret["metadata"]["creationTimestamp"] = Value::Null;
    objects.push(Object::GoPrinted(Box::new(GoPrinted {
        kind: "Secret".into(),
        value: secret,
    })));
    objects.extend(ctx.ip_pools(cp_mc_name, cp_mc)?);
    Ok(objects)
}

/// A worker node group's `KubeadmConfigTemplate` (its Bottlerocket images come from the
/// cluster's bundle).
fn kubeadm_config_template(
    root_bundle: &VersionsBundle,
    wng: &WorkerNodeGroupConfiguration,
    mc: &SnowMachineConfig,
    name: &str,
) -> GoPrinted {
    let br = is_bottlerocket(mc);
    let (br_node, br_extra) = if br {
        let (n, e) = bottlerocket(root_bundle);
        (n, Some(e))
    } else {
        (BottlerocketNode::default(), None)
    };
    let mut kubelet_args = kubeadm::node_label_args(wng.labels.as_ref());
    kubelet_args.insert("provider-id".into(), PROVIDER_ID.into());
    let config = KubeadmConfigSpec {
        join_configuration: Some(NodeConfiguration {
            bottlerocket_node: br_node,
            node_registration: Some(NodeRegistration {
                taints: wng
                    .taints
                    .as_deref()
                    .filter(|t| !t.is_empty())
                    .map(kubeadm::taints),
                kubelet_extra_args: Some(kubelet_args),
                ..NodeRegistration::default()
            }),
            ..NodeConfiguration::default()
        }),
        pre_kubeadm_commands: (!br).then(|| vec![BOOTSTRAP_SCRIPT.to_string()]),
        format: br.then(|| "bottlerocket".into()),
        ..KubeadmConfigSpec::default()
    };
    let kct = KubeadmConfigTemplate::in_eksa_system(name, config);
    let mut kct = go_printed("KubeadmConfigTemplate", &kct, &[], Value::Null);
    {
        let template = &mut kct.value["spec"]["template"];
        ensure(template, &["metadata"], json!({}));
        let config = &mut template["spec"];
        ensure(config, &["clusterConfiguration"], json!({}));
        fill_cluster_configuration(&mut config["clusterConfiguration"]);
        fill_join_configuration(&mut config["joinConfiguration"]);
        if let Some(extra) = &br_extra {
            merge(&mut config["joinConfiguration"], extra);
        }
    }
    kct
}

/// The workers document (see the module docs).
pub fn render_workers(
    spec: &SnowSpec,
    bundles: &VersionsBundleSet,
    options: &RenderOptions,
) -> Result<Vec<Object>, RenderError> {
    let ctx = Context::new(spec, bundles);
    let name = ctx.name;
    let root_bundle = ctx.bundle(None)?;
    let mut objects = Vec::new();
    let mut pools = Vec::new();
    for (group, wng) in worker_groups(&spec.cluster) {
        let (mc_name, mc) = ctx.machine_config(
            &format!("worker node group {group}"),
            wng.machine_group_ref.as_ref().map(|r| r.name()),
        )?;
        let bundle = ctx.bundle(wng.kubernetes_version.as_ref().map(|v| v.as_str()))?;
        let (machine_template_name, config_template_name) =
            ctx.lookup.worker_names(&options.names.workers, &group)?;
        objects.push(Object::GoPrinted(Box::new(kubeadm_config_template(
            root_bundle,
            wng,
            mc,
            config_template_name,
        ))));

        // MachineDeployment: Snow writes the rolling update's type and a nil selector.
        let mut strategy =
            kubeadm::machine_deployment_strategy(wng.upgrade_rollout_strategy.as_ref());
        if let Some(s) = strategy.as_mut().filter(|s| s.rolling_update.is_some()) {
            s.strategy_type = Some("RollingUpdate".into());
        }
        let mut md = MachineDeployment::for_worker_group(WorkerGroupDeployment {
            cluster: name,
            group: &group,
            config: wng,
            labels: ctx.cluster_labels(),
            bootstrap_template: config_template_name,
            infrastructure_ref: ObjectReference::new(
                INFRASTRUCTURE_API_VERSION,
                MACHINE_TEMPLATE_KIND,
                machine_template_name.as_str(),
            ),
            version: bundle.kube_distro.kubernetes.tag.clone(),
            strategy,
        });
        md.spec.selector.match_labels = None;
        if let Some(meta) = md.spec.template.metadata.as_mut() {
            meta.labels = Some(
                [(
                    "cluster.x-k8s.io/cluster-name".to_string(),
                    name.to_string(),
                )]
                .into_iter()
                .collect(),
            );
        }
        let mut md = go_printed(
            "MachineDeployment",
            &md,
            &[],
            json!({"availableReplicas": 0, "readyReplicas": 0, "replicas": 0,
                   "unavailableReplicas": 0, "updatedReplicas": 0}),
        );
        md.value["spec"]["selector"] = json!({});
        objects.push(Object::GoPrinted(Box::new(md)));

        // AWSSnowMachineTemplate.
        objects.push(machine_template(machine_template_name, mc));
        // One AWSSnowIPPool per pool, however many groups use it.
        for pool in ctx.ip_pools(mc_name, mc)? {
            if !pools.contains(&pool) {
                pools.push(pool);
            }
        }
    }
    objects.extend(pools);
    Ok(objects)
}

/// A shared Cluster API object as Go prints it: `creationTimestamp: null`, the given
/// `status` (unless null), and `{}` at each of `empty`.
fn go_printed<T: serde::Serialize>(
    kind: &str,
    object: &T,
    empty: &[&[&str]],
    status: Value,
) -> GoPrinted {
    let mut p = printed(kind, object);
    ensure(
        &mut p.value,
        &["metadata", "creationTimestamp"],
        Value::Null,
    );
    for path in empty {
        ensure(&mut p.value, path, json!({}));
    }
    if !status.is_null() {
        p.value["status"] = status;
    }
    p
}

/// The kubeadm `ClusterConfiguration` fields Go prints empty.
fn fill_cluster_configuration(v: &mut Value) {
    for key in [
        "apiServer",
        "bottlerocketAdmin",
        "bottlerocketBootstrap",
        "bottlerocketControl",
        "controllerManager",
        "dns",
        "etcd",
        "networking",
        "pause",
        "proxy",
        "registryMirror",
        "scheduler",
    ] {
        ensure(v, &[key], json!({}));
    }
}

/// The kubeadm `JoinConfiguration` fields Go prints empty.
fn fill_join_configuration(v: &mut Value) {
    for key in [
        "bottlerocketAdmin",
        "bottlerocketBootstrap",
        "bottlerocketControl",
        "discovery",
        "pause",
        "proxy",
        "registryMirror",
    ] {
        ensure(v, &[key], json!({}));
    }
}

/// Set `path` to `value` unless it is already there, making the mappings on the way.
fn ensure(v: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for key in parents {
        if !cur.get(*key).is_some_and(Value::is_object) {
            cur[*key] = json!({});
        }
        cur = &mut cur[*key];
    }
    if let Some(m) = cur.as_object_mut() {
        m.entry(last.to_string()).or_insert(value);
    }
}

/// Set every key of `extra` on `v`.
fn merge(v: &mut Value, extra: &Value) {
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            m.insert(k.clone(), x.clone());
        }
    }
}
