//! The Cluster API kinds as store kinds: each with its `status`, a [`Resource`](ironbell_model::Resource) impl and
//! [`register_kinds`].
//!
//! Specs are `ironbell_capi::api`'s render types where they exist (embedded, not copied):
//! [`ClusterSpec`], [`MachineDeploymentSpec`], [`MachineSpec`], [`KubeadmControlPlaneSpec`],
//! [`KubeadmConfigSpec`] and [`KubeadmConfigTemplateSpec`]. What EKS Anywhere never renders is
//! added here: [`MachineSetSpec`] and every status. Field names follow Cluster API v1beta1.

use ironbell_capi::api::cluster::{
    ClusterSpec, MachineDeploymentSpec, MachineSpec, MachineTemplateSpec,
};
use ironbell_capi::api::kubeadm::{
    KubeadmConfigSpec, KubeadmConfigTemplateSpec, KubeadmControlPlaneSpec,
};
use ironbell_capi::api::{LabelSelector, ObjectReference};
use ironbell_model::{ApiVersion, Condition, Kind, KindRegistry, ObjectMeta, RegistryError};
use serde::{Deserialize, Serialize};

pub use ironbell_capi::api::{
    BOOTSTRAP_API_VERSION, CLUSTER_API_VERSION, CONTROL_PLANE_API_VERSION,
    INFRASTRUCTURE_API_VERSION,
};

/// A store kind: `apiVersion`, `kind`, `metadata`, `spec` and an optional `status`.
macro_rules! store_kind {
    ($(#[$doc:meta])* $name:ident, $spec:ty, $status:ty, $api:expr, $plural:expr, [$($alias:expr),*]) => {
        $(#[$doc])*
        #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// `apiVersion`.
            #[serde(default)]
            pub api_version: ApiVersion<$name>,
            /// `kind`.
            #[serde(default)]
            pub kind: Kind<$name>,
            /// Standard object metadata.
            #[serde(default)]
            pub metadata: ObjectMeta,
            /// The desired state.
            pub spec: $spec,
            /// The observed state, written by its controller.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub status: Option<$status>,
        }
        ironbell_model::impl_resource!($name, $api, stringify!($name), $plural, aliases = [$($alias),*]);
    };
}

store_kind!(
    /// A Cluster API `Cluster`: its network, endpoint, control plane and infrastructure.
    Cluster, ClusterSpec, ClusterStatus, CLUSTER_API_VERSION, "clusters", ["cluster"]
);
store_kind!(
    /// A group of identical machines replaced by rolling update through [`MachineSet`]s.
    MachineDeployment, MachineDeploymentSpec, MachineDeploymentStatus, CLUSTER_API_VERSION,
    "machinedeployments", ["machinedeployment", "md"]
);
store_kind!(
    /// A set of identical [`Machine`]s at a replica count; one per template of a deployment.
    MachineSet, MachineSetSpec, MachineSetStatus, CLUSTER_API_VERSION, "machinesets",
    ["machineset", "ms"]
);
store_kind!(
    /// One machine of a cluster, with its infrastructure object and bootstrap config.
    Machine, MachineSpec, MachineStatus, CLUSTER_API_VERSION, "machines", ["machine", "ma"]
);
store_kind!(
    /// The control-plane machines of a cluster and their kubeadm configuration.
    KubeadmControlPlane, KubeadmControlPlaneSpec, KubeadmControlPlaneStatus,
    CONTROL_PLANE_API_VERSION, "kubeadmcontrolplanes", ["kubeadmcontrolplane", "kcp"]
);
store_kind!(
    /// One machine's kubeadm configuration, turned into bootstrap data in a Secret.
    KubeadmConfig, KubeadmConfigSpec, KubeadmConfigStatus, BOOTSTRAP_API_VERSION,
    "kubeadmconfigs", ["kubeadmconfig"]
);
store_kind!(
    /// The kubeadm configuration a [`MachineSet`] gives each of its machines.
    KubeadmConfigTemplate, KubeadmConfigTemplateSpec, NoStatus, BOOTSTRAP_API_VERSION,
    "kubeadmconfigtemplates", ["kubeadmconfigtemplate"]
);

/// The status of a kind that has none (a template).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct NoStatus {}

/// `Cluster.status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// `Pending`, `Provisioning`, `Provisioned`, `Deleting` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The infrastructure cluster reports ready.
    #[serde(default)]
    pub infrastructure_ready: bool,
    /// The control plane reports ready.
    #[serde(default)]
    pub control_plane_ready: bool,
    /// `ControlPlaneInitialized` (the first control-plane node is up) and others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// `MachineDeployment.status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MachineDeploymentStatus {
    /// The generation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The label selector of its machines, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Machines that exist and are not being deleted.
    #[serde(default)]
    pub replicas: i64,
    /// Of those, machines of the current template.
    #[serde(default)]
    pub updated_replicas: i64,
    /// Machines whose node is Ready.
    #[serde(default)]
    pub ready_replicas: i64,
    /// Machines available (Ready; ironbell has no `minReadySeconds`).
    #[serde(default)]
    pub available_replicas: i64,
    /// Desired minus available, at least 0.
    #[serde(default)]
    pub unavailable_replicas: i64,
    /// `ScalingUp`, `ScalingDown`, `Running` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// `MachineSet.spec`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MachineSetSpec {
    /// The owning cluster's name.
    pub cluster_name: String,
    /// Number of machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    /// `Random`, `Newest` or `Oldest`; ironbell always deletes not-ready, then oldest first
    /// (see [`crate::rollout::deletion_order`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_policy: Option<String>,
    /// Its machines' labels.
    pub selector: LabelSelector,
    /// The machine template.
    pub template: MachineTemplateSpec,
}

/// `MachineSet.status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MachineSetStatus {
    /// The label selector of its machines, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Machines that exist and are not being deleted.
    #[serde(default)]
    pub replicas: i64,
    /// Machines with every label of the template.
    #[serde(default)]
    pub fully_labeled_replicas: i64,
    /// Machines whose node is Ready.
    #[serde(default)]
    pub ready_replicas: i64,
    /// Machines available.
    #[serde(default)]
    pub available_replicas: i64,
    /// The generation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// `Machine.status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MachineStatus {
    /// `Pending`, `Provisioning`, `Provisioned`, `Running`, `Deleting` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The bootstrap config's data is ready.
    #[serde(default)]
    pub bootstrap_ready: bool,
    /// The infrastructure object reports ready.
    #[serde(default)]
    pub infrastructure_ready: bool,
    /// The `v1 Node` this machine became.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ref: Option<ObjectReference>,
    /// Addresses, from the infrastructure object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<MachineAddress>,
    /// Why the machine failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// One address of a machine.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineAddress {
    /// `InternalIP`, `ExternalIP`, `Hostname`...
    #[serde(rename = "type")]
    pub type_: String,
    /// The address.
    pub address: String,
}

/// `KubeadmControlPlane.status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmControlPlaneStatus {
    /// The label selector of its machines, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Control-plane machines that exist and are not being deleted.
    #[serde(default)]
    pub replicas: i64,
    /// Of those, machines matching the current spec.
    #[serde(default)]
    pub updated_replicas: i64,
    /// Machines whose node is Ready.
    #[serde(default)]
    pub ready_replicas: i64,
    /// Replicas minus ready replicas.
    #[serde(default)]
    pub unavailable_replicas: i64,
    /// The first control-plane node came up (sticky).
    #[serde(default)]
    pub initialized: bool,
    /// At least one control-plane node is Ready.
    #[serde(default)]
    pub ready: bool,
    /// The Kubernetes version every control-plane machine runs: the spec's once its
    /// machines all run it, the previous one during a version rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The generation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// `KubeadmConfig.status`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KubeadmConfigStatus {
    /// The bootstrap data is written.
    #[serde(default)]
    pub ready: bool,
    /// The Secret holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_secret_name: Option<String>,
    /// Why the data could not be made, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// The generation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Registers this crate's kinds: `Cluster`, `MachineDeployment`, `MachineSet`, `Machine`,
/// `KubeadmControlPlane`, `KubeadmConfig`, `KubeadmConfigTemplate`. EKS Anywhere's `Cluster`
/// (registered by the model first) keeps the short name `clusters`; this one is
/// `clusters.cluster.x-k8s.io`.
pub fn register_kinds(registry: &mut KindRegistry) -> Result<(), RegistryError> {
    registry
        .register::<Cluster>()?
        .register::<MachineDeployment>()?
        .register::<MachineSet>()?
        .register::<Machine>()?
        .register::<KubeadmControlPlane>()?
        .register::<KubeadmConfig>()?
        .register::<KubeadmConfigTemplate>()?;
    Ok(())
}
