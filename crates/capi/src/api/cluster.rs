//! `cluster.x-k8s.io/v1beta1`: [`Cluster`] and [`MachineDeployment`].

use serde::{Deserialize, Serialize};

use ironbell_model::anywhere::{IntOrString, WorkerNodeGroupConfiguration};

use super::{
    BOOTSTRAP_API_VERSION, CLUSTER_API_VERSION, EKSA_SYSTEM_NAMESPACE, LabelSelector, ObjectMeta,
    ObjectReference, StringMap, meta,
};

/// A Cluster API `Cluster`: the network, the endpoint and the references to the control
/// plane, the infrastructure cluster and (with external etcd) the etcd cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    /// `cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `Cluster`.
    pub kind: String,
    /// Name, namespace and the `cluster.x-k8s.io/cluster-name` label.
    pub metadata: ObjectMeta,
    /// The desired cluster.
    pub spec: ClusterSpec,
}

impl Cluster {
    /// A `Cluster` with the given metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: ClusterSpec) -> Self {
        Self {
            api_version: CLUSTER_API_VERSION.to_string(),
            kind: "Cluster".to_string(),
            metadata,
            spec,
        }
    }
}

/// What EKS Anywhere's `Cluster` is made of for every provider, for [`Cluster::for_eksa`].
#[derive(Clone, Debug)]
pub struct ClusterParts<'a> {
    /// Cluster name (also the control plane's and, by default, the provider cluster's).
    pub name: &'a str,
    /// Pod CIDRs.
    pub pods: Vec<String>,
    /// Service CIDRs.
    pub services: Vec<String>,
    /// The API server endpoint, when the `Cluster` carries it.
    pub endpoint: Option<ApiEndpoint>,
    /// The provider's cluster object.
    pub infrastructure_ref: ObjectReference,
    /// The `EtcdadmCluster`, with external etcd.
    pub external_etcd_ref: Option<ObjectReference>,
}

impl Cluster {
    /// The Cluster API `Cluster` of an EKS Anywhere cluster: labelled with its name, its
    /// control plane the `KubeadmControlPlane` of the same name.
    pub fn for_eksa(parts: ClusterParts<'_>) -> Self {
        let mut metadata = meta(parts.name, EKSA_SYSTEM_NAMESPACE);
        metadata.labels = Some(
            [(
                "cluster.x-k8s.io/cluster-name".to_string(),
                parts.name.to_string(),
            )]
            .into_iter()
            .collect(),
        );
        Self::new(
            metadata,
            ClusterSpec {
                cluster_network: Some(ClusterNetwork {
                    pods: Some(NetworkRanges {
                        cidr_blocks: parts.pods,
                    }),
                    services: Some(NetworkRanges {
                        cidr_blocks: parts.services,
                    }),
                    service_domain: None,
                }),
                control_plane_endpoint: parts.endpoint,
                control_plane_ref: Some(ObjectReference::new(
                    super::CONTROL_PLANE_API_VERSION,
                    "KubeadmControlPlane",
                    parts.name,
                )),
                infrastructure_ref: Some(parts.infrastructure_ref),
                managed_external_etcd_ref: parts.external_etcd_ref,
                paused: None,
            },
        )
    }
}

/// The spec of a [`Cluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Pod and service CIDRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_network: Option<ClusterNetwork>,
    /// The API server endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<ApiEndpoint>,
    /// The control plane object (a `KubeadmControlPlane`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_ref: Option<ObjectReference>,
    /// The provider's cluster object (`TinkerbellCluster`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure_ref: Option<ObjectReference>,
    /// The external etcd cluster (an `EtcdadmCluster`), EKS Anywhere's fork only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_external_etcd_ref: Option<ObjectReference>,
    /// Paused clusters are not reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
}

/// Pod and service networks of a [`Cluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterNetwork {
    /// Pod CIDRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<NetworkRanges>,
    /// The services' DNS domain (`cluster.local`); written by the Docker and Nutanix providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_domain: Option<String>,
    /// Service CIDRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<NetworkRanges>,
}

/// A list of CIDR blocks.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRanges {
    /// The blocks, e.g. `192.168.0.0/16`.
    pub cidr_blocks: Vec<String>,
}

/// A host and port.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ApiEndpoint {
    /// Address or name.
    pub host: String,
    /// Port, 6443 for the Kubernetes API.
    pub port: u16,
}

/// A Cluster API `MachineDeployment`: a group of identical worker machines.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeployment {
    /// `cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `MachineDeployment`.
    pub kind: String,
    /// Name, namespace, labels and the autoscaler annotations.
    pub metadata: ObjectMeta,
    /// The desired group.
    pub spec: MachineDeploymentSpec,
}

impl MachineDeployment {
    /// A `MachineDeployment` with the given metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: MachineDeploymentSpec) -> Self {
        Self {
            api_version: CLUSTER_API_VERSION.to_string(),
            kind: "MachineDeployment".to_string(),
            metadata,
            spec,
        }
    }
}

/// What a worker node group's [`MachineDeployment`] is made of, for
/// [`MachineDeployment::for_worker_group`].
#[derive(Clone, Debug)]
pub struct WorkerGroupDeployment<'a> {
    /// Cluster name.
    pub cluster: &'a str,
    /// Worker node group name: the deployment is `<cluster>-<group>`.
    pub group: &'a str,
    /// The group's configuration (its count and autoscaling bounds are read).
    pub config: &'a WorkerNodeGroupConfiguration,
    /// Labels of the deployment and of its machines.
    pub labels: StringMap,
    /// Name of the group's `KubeadmConfigTemplate`.
    pub bootstrap_template: &'a str,
    /// The provider's machine template.
    pub infrastructure_ref: ObjectReference,
    /// Kubernetes version tag of the group.
    pub version: String,
    /// How machines are replaced, when the group says.
    pub strategy: Option<MachineDeploymentStrategy>,
}

impl MachineDeployment {
    /// A worker node group's deployment as EKS Anywhere writes it for every provider: the
    /// autoscaler's bounds as annotations (then no `replicas`), an empty selector.
    pub fn for_worker_group(w: WorkerGroupDeployment<'_>) -> Self {
        let mut metadata = meta(format!("{}-{}", w.cluster, w.group), EKSA_SYSTEM_NAMESPACE);
        metadata.labels = Some(w.labels.clone());
        let autoscaling = w.config.autoscaling_configuration.as_ref();
        metadata.annotations = autoscaling.map(|a| {
            [("min", a.min_count), ("max", a.max_count)]
                .into_iter()
                .map(|(bound, n)| {
                    (
                        format!("cluster.x-k8s.io/cluster-api-autoscaler-node-group-{bound}-size"),
                        n.unwrap_or(0).to_string(),
                    )
                })
                .collect()
        });
        let bootstrap = ObjectReference::new(
            BOOTSTRAP_API_VERSION,
            "KubeadmConfigTemplate",
            w.bootstrap_template,
        );
        Self::new(
            metadata,
            MachineDeploymentSpec {
                cluster_name: w.cluster.to_string(),
                replicas: autoscaling.is_none().then(|| w.config.count.unwrap_or(0)),
                selector: LabelSelector {
                    match_labels: Some(StringMap::new()),
                },
                template: MachineTemplateSpec {
                    metadata: Some(TemplateMeta {
                        labels: Some(w.labels),
                        annotations: None,
                    }),
                    spec: MachineSpec {
                        bootstrap: Bootstrap {
                            config_ref: Some(bootstrap),
                            data_secret_name: None,
                        },
                        cluster_name: w.cluster.to_string(),
                        infrastructure_ref: w.infrastructure_ref,
                        version: Some(w.version),
                        failure_domain: None,
                        provider_id: None,
                    },
                },
                strategy: w.strategy,
            },
        )
    }
}

/// The spec of a [`MachineDeployment`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentSpec {
    /// The owning cluster's name.
    pub cluster_name: String,
    /// Number of machines; absent when the autoscaler owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    /// Machine selector (EKS Anywhere writes an empty one).
    pub selector: LabelSelector,
    /// The machine template.
    pub template: MachineTemplateSpec,
    /// How machines are replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<MachineDeploymentStrategy>,
}

/// The machine template of a [`MachineDeployment`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineTemplateSpec {
    /// Labels of the machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TemplateMeta>,
    /// The machine spec.
    pub spec: MachineSpec,
}

/// Labels and annotations for objects created from a template.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMeta {
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<StringMap>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
}

/// A machine's spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineSpec {
    /// Where the bootstrap data comes from.
    pub bootstrap: Bootstrap,
    /// The owning cluster's name.
    pub cluster_name: String,
    /// The provider's machine template.
    pub infrastructure_ref: ObjectReference,
    /// Kubernetes version, e.g. `v1.21.2-eks-1-21-4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The failure domain the machines are placed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_domain: Option<String>,
    /// The infrastructure's id of the machine (`tinkerbell://NS/NAME`), copied by the
    /// `Machine` controller from its infrastructure object; never rendered.
    #[serde(
        rename = "providerID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,
}

/// The bootstrap configuration of a machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    /// The bootstrap config template (a `KubeadmConfigTemplate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_ref: Option<ObjectReference>,
    /// The Secret holding the machine's bootstrap data, set on a `Machine` once its
    /// bootstrap config is ready; never rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_secret_name: Option<String>,
}

/// How a [`MachineDeployment`] replaces machines.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentStrategy {
    /// `RollingUpdate` or EKS Anywhere's `InPlace`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub strategy_type: Option<String>,
    /// Surge and unavailability bounds of a rolling update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdate>,
}

/// Bounds of a rolling update; integers or percentages.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    /// Machines created above the desired count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
    /// Machines that may be unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}
