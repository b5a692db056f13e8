//! CAPX's `infrastructure.cluster.x-k8s.io/v1beta1` kinds as EKS Anywhere v0.24.6 renders
//! them: [`NutanixCluster`] (Prism Central, failure domains, endpoint) and
//! [`NutanixMachineTemplate`] (size, image, cluster, subnets, project, categories, GPUs).

use serde::{Deserialize, Serialize};

use ironbell_model::anywhere::IntOrString;

use super::{INFRASTRUCTURE_API_VERSION, ObjectMeta, cluster::ApiEndpoint};

/// A `NutanixCluster`: the Prism Central the machines are created through.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NutanixCluster {
    /// `infrastructure.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `NutanixCluster`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// Prism Central, failure domains and endpoint.
    pub spec: NutanixClusterSpec,
}

impl NutanixCluster {
    /// A `NutanixCluster` with the given metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: NutanixClusterSpec) -> Self {
        Self {
            api_version: INFRASTRUCTURE_API_VERSION.to_string(),
            kind: "NutanixCluster".to_string(),
            metadata,
            spec,
        }
    }
}

/// The spec of a [`NutanixCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NutanixClusterSpec {
    /// Failure domains (EKS Anywhere writes an empty list when there are none).
    pub failure_domains: Vec<NutanixFailureDomain>,
    /// The Prism Central endpoint.
    pub prism_central: PrismCentral,
    /// The API server endpoint.
    pub control_plane_endpoint: ApiEndpoint,
}

/// A Prism Element cluster and its subnets that machines can be spread over.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NutanixFailureDomain {
    /// Failure domain name.
    pub name: String,
    /// The Prism Element cluster.
    pub cluster: ResourceIdentifier,
    /// Its subnets.
    pub subnets: Vec<ResourceIdentifier>,
    /// Control-plane machines may be placed here.
    pub control_plane: bool,
}

/// How Prism Central is reached.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PrismCentral {
    /// The CA bundle that signs Prism Central's certificate (a `ConfigMap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_trust_bundle: Option<TypedReference>,
    /// Host name or address.
    pub address: String,
    /// Port (9440).
    pub port: i64,
    /// Skip TLS verification.
    pub insecure: bool,
    /// The credentials `Secret`.
    pub credential_ref: TypedReference,
}

/// A reference by kind and name (and namespace).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TypedReference {
    /// Kind of the referent.
    pub kind: String,
    /// Name of the referent.
    pub name: String,
    /// Namespace of the referent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A Nutanix object by `type`: `name` or `uuid`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIdentifier {
    /// `name` or `uuid`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Name, when identified by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// UUID, when identified by UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

/// A `NutanixMachineTemplate`: the virtual machines of a machine group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NutanixMachineTemplate {
    /// `infrastructure.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `NutanixMachineTemplate`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// The template.
    pub spec: NutanixMachineTemplateSpec,
}

impl NutanixMachineTemplate {
    /// A `NutanixMachineTemplate` with the given metadata and machine spec.
    pub fn new(metadata: ObjectMeta, spec: NutanixMachineSpec) -> Self {
        Self {
            api_version: INFRASTRUCTURE_API_VERSION.to_string(),
            kind: "NutanixMachineTemplate".to_string(),
            metadata,
            spec: NutanixMachineTemplateSpec {
                template: NutanixMachineTemplateResource { spec },
            },
        }
    }
}

/// The spec of a [`NutanixMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct NutanixMachineTemplateSpec {
    /// The template.
    pub template: NutanixMachineTemplateResource,
}

/// The template resource of a [`NutanixMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct NutanixMachineTemplateResource {
    /// The machine spec.
    pub spec: NutanixMachineSpec,
}

/// One Nutanix virtual machine.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NutanixMachineSpec {
    /// `nutanix://<cluster>-m1` (CAPX replaces it).
    #[serde(rename = "providerID")]
    pub provider_id: String,
    /// vCPUs per socket.
    pub vcpus_per_socket: i64,
    /// Sockets.
    pub vcpu_sockets: i64,
    /// Memory, a quantity such as `8Gi`.
    pub memory_size: IntOrString,
    /// System disk, a quantity such as `40Gi`.
    pub system_disk_size: IntOrString,
    /// `legacy` or `uefi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_type: Option<String>,
    /// The OS image.
    pub image: ResourceIdentifier,
    /// The Prism Element cluster.
    pub cluster: ResourceIdentifier,
    /// Subnets.
    pub subnet: Vec<ResourceIdentifier>,
    /// The Prism Central project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ResourceIdentifier>,
    /// Categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_categories: Option<Vec<Category>>,
    /// GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<Vec<Gpu>>,
}

/// A Prism Central category.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Category {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
}

/// A GPU by `type`: `deviceID` or `name`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Gpu {
    /// `deviceID` or `name`.
    #[serde(rename = "type")]
    pub type_: String,
    /// PCI device ID.
    #[serde(default, rename = "deviceID", skip_serializing_if = "Option::is_none")]
    pub device_id: Option<i64>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}
