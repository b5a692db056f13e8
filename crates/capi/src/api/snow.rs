//! CAPAS's `infrastructure.cluster.x-k8s.io/v1beta1` kinds (the AWS Snow provider, as
//! EKS Anywhere v0.24.6 vendors it): [`AwsSnowCluster`], [`AwsSnowMachineTemplate`] and
//! [`AwsSnowIpPool`], and [`GoPrinted`], an object as Go's YAML marshaller prints it.
//!
//! EKS Anywhere's Snow provider builds Go structs and marshals them, so its output carries
//! every struct field that is not `omitempty` even when empty (`apiServer: {}`,
//! `creationTimestamp: null`, zero `status` counters). The kinds here print those fields
//! themselves; the Cluster API kinds shared with the other providers get them in
//! [`crate::snow`] before they are wrapped in a [`GoPrinted`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{INFRASTRUCTURE_API_VERSION, ObjectMeta, ObjectReference, cluster::ApiEndpoint};

/// An object as Go's marshaller prints it: its kind and its full printed form.
#[derive(Clone, Debug, PartialEq)]
pub struct GoPrinted {
    /// The object's kind.
    pub kind: String,
    /// The printed object.
    pub value: Value,
}

impl Serialize for GoPrinted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

/// Metadata as Go prints an object's: with `creationTimestamp: null`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GoObjectMeta {
    /// Always `None`, printed `null`.
    pub creation_timestamp: Option<String>,
    /// Name, namespace, labels.
    #[serde(flatten)]
    pub meta: ObjectMeta,
}

/// An `AWSSnowCluster`: the endpoint and the devices' credentials.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AwsSnowCluster {
    /// `infrastructure.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `AWSSnowCluster`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: GoObjectMeta,
    /// Endpoint, credentials and region.
    pub spec: AwsSnowClusterSpec,
    /// Not ready yet.
    pub status: AwsSnowClusterStatus,
}

impl AwsSnowCluster {
    /// An `AWSSnowCluster` with the given metadata and spec.
    pub fn new(metadata: ObjectMeta, spec: AwsSnowClusterSpec) -> Self {
        Self {
            api_version: INFRASTRUCTURE_API_VERSION.into(),
            kind: "AWSSnowCluster".into(),
            metadata: GoObjectMeta {
                creation_timestamp: None,
                meta: metadata,
            },
            spec,
            status: AwsSnowClusterStatus::default(),
        }
    }
}

/// The spec of an [`AwsSnowCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AwsSnowClusterSpec {
    /// The API server endpoint.
    pub control_plane_endpoint: ApiEndpoint,
    /// The credentials `Secret`.
    pub identity_ref: SnowIdentityReference,
    /// `snow`.
    pub region: String,
}

/// The secret with the devices' credentials and CA bundle.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct SnowIdentityReference {
    /// `Secret`.
    pub kind: String,
    /// Name.
    pub name: String,
}

/// The status of an [`AwsSnowCluster`] (printed by Go even when empty).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSnowClusterStatus {
    /// Whether the infrastructure is ready.
    pub ready: bool,
}

/// An `AWSSnowMachineTemplate`: the instances of a machine group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AwsSnowMachineTemplate {
    /// `infrastructure.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `AWSSnowMachineTemplate`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: GoObjectMeta,
    /// The template.
    pub spec: AwsSnowMachineTemplateSpec,
}

impl AwsSnowMachineTemplate {
    /// An `AWSSnowMachineTemplate` with the given metadata and machine spec.
    pub fn new(metadata: ObjectMeta, spec: AwsSnowMachineSpec) -> Self {
        Self {
            api_version: INFRASTRUCTURE_API_VERSION.into(),
            kind: "AWSSnowMachineTemplate".into(),
            metadata: GoObjectMeta {
                creation_timestamp: None,
                meta: metadata,
            },
            spec: AwsSnowMachineTemplateSpec {
                template: AwsSnowMachineTemplateResource { spec },
            },
        }
    }
}

/// The spec of an [`AwsSnowMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AwsSnowMachineTemplateSpec {
    /// The template.
    pub template: AwsSnowMachineTemplateResource,
}

/// The template resource of an [`AwsSnowMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AwsSnowMachineTemplateResource {
    /// The instance spec.
    pub spec: AwsSnowMachineSpec,
}

/// One Snow EC2 instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AwsSnowMachineSpec {
    /// The AMI.
    pub ami: AmiReference,
    /// Cloud-init settings.
    pub cloud_init: CloudInit,
    /// Volume for the container runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers_volume: Option<Value>,
    /// Device addresses the instance may run on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// IAM instance profile.
    pub iam_instance_profile: String,
    /// `bottlerocket` for Bottlerocket AMIs.
    #[serde(
        rename = "imageLookupBaseOS",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub image_lookup_base_os: Option<String>,
    /// Instance type, e.g. `sbe-c.large`.
    pub instance_type: String,
    /// Direct network interfaces.
    pub network: SnowNetwork,
    /// Extra volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_root_volumes: Option<Value>,
    /// `ubuntu` or `bottlerocket`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_family: Option<String>,
    /// `SFP_PLUS` or `QSFP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_network_connector_type: Option<String>,
    /// EC2 key pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_name: Option<String>,
}

/// An AMI by ID.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct AmiReference {
    /// AMI ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Cloud-init settings of an instance.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CloudInit {
    /// Bootstrap data passed inline (Snow has no secrets manager).
    pub insecure_skip_secrets_manager: bool,
}

/// The instance's network.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SnowNetwork {
    /// Direct network interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub direct_network_interfaces: Vec<DirectNetworkInterface>,
}

/// A direct network interface.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DirectNetworkInterface {
    /// Use DHCP.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dhcp: bool,
    /// Index on the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<i64>,
    /// The pool of static addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_pool: Option<ObjectReference>,
    /// The primary interface.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary: bool,
    /// VLAN.
    #[serde(rename = "vlanID", default, skip_serializing_if = "Option::is_none")]
    pub vlan_id: Option<i32>,
}

/// An `AWSSnowIPPool`: static addresses for direct network interfaces.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AwsSnowIpPool {
    /// `infrastructure.cluster.x-k8s.io/v1beta1`.
    pub api_version: String,
    /// `AWSSnowIPPool`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: GoObjectMeta,
    /// The ranges.
    pub spec: AwsSnowIpPoolSpec,
}

impl AwsSnowIpPool {
    /// An `AWSSnowIPPool` with the given metadata and ranges.
    pub fn new(metadata: ObjectMeta, pools: Vec<IpRange>) -> Self {
        Self {
            api_version: INFRASTRUCTURE_API_VERSION.into(),
            kind: "AWSSnowIPPool".into(),
            metadata: GoObjectMeta {
                creation_timestamp: None,
                meta: metadata,
            },
            spec: AwsSnowIpPoolSpec { pools },
        }
    }
}

/// The spec of an [`AwsSnowIpPool`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSnowIpPoolSpec {
    /// The ranges.
    pub pools: Vec<IpRange>,
}

/// A range of addresses with its gateway and subnet.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IpRange {
    /// First address.
    pub ip_start: Option<String>,
    /// Last address.
    pub ip_end: Option<String>,
    /// Gateway.
    pub gateway: Option<String>,
    /// Subnet (CIDR).
    pub subnet: Option<String>,
}
