//! CAPT's `infrastructure.cluster.x-k8s.io/v1beta1` kinds as store kinds:
//! [`TinkerbellCluster`], [`TinkerbellMachineTemplate`] and [`TinkerbellMachine`], each with
//! its status (CAPT v0.6.5 `api/v1beta1`).
//!
//! The machine spec is `ironbell_capi`'s [`TinkerbellMachineSpec`], the one EKS Anywhere's
//! renderer fills, so a rendered template and a stored one are the same type. The cluster
//! spec is its own type here: CAPT's has optional image fields and the
//! `controlPlaneEndpoint` the controller writes, which the renderer's does not carry.

use ironbell_capi::api::tinkerbell::{TinkerbellMachineSpec, TinkerbellMachineTemplateSpec};
use ironbell_model::{ApiVersion, Condition, Kind, ObjectMeta};
use serde::{Deserialize, Serialize};

/// `apiVersion` of every kind here.
pub const API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta1";

/// A `TinkerbellCluster`: where a cluster's OS images come from and its API endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellCluster {
    /// `apiVersion`: always `infrastructure.cluster.x-k8s.io/v1beta1`.
    #[serde(default)]
    pub api_version: ApiVersion<TinkerbellCluster>,
    /// `kind`: always `TinkerbellCluster`.
    #[serde(default)]
    pub kind: Kind<TinkerbellCluster>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Image lookup and endpoint.
    #[serde(default)]
    pub spec: TinkerbellClusterSpec,
    /// Whether the cluster's infrastructure is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TinkerbellClusterStatus>,
}
ironbell_model::impl_resource!(
    TinkerbellCluster,
    API_VERSION,
    "TinkerbellCluster",
    "tinkerbellclusters",
    aliases = ["tinkerbellcluster"]
);

/// The spec of a [`TinkerbellCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellClusterSpec {
    /// The API server endpoint; the controller fills it from the `Cluster` (port 6443 by
    /// default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<ApiEndpoint>,
    /// Image name format, e.g. `--kube-v1.21.2-eks-1-21-4.raw.gz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_lookup_format: Option<String>,
    /// Registry or URL prefix the images are looked up under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_lookup_base_registry: Option<String>,
    /// OS distribution used in the image name.
    #[serde(
        default,
        rename = "imageLookupOSDistro",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_lookup_os_distro: Option<String>,
    /// OS version used in the image name.
    #[serde(
        default,
        rename = "imageLookupOSVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_lookup_os_version: Option<String>,
}

/// A host and port (`clusterv1.APIEndpoint`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiEndpoint {
    /// Host name or IP address.
    #[serde(default)]
    pub host: String,
    /// Port; 0 means unset.
    #[serde(default)]
    pub port: i32,
}

/// The status of a [`TinkerbellCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellClusterStatus {
    /// The infrastructure is ready for machines.
    #[serde(default)]
    pub ready: bool,
}

/// A `TinkerbellMachineTemplate`: the machine spec a control plane or machine deployment
/// stamps its `TinkerbellMachine`s from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellMachineTemplate {
    /// `apiVersion`: always `infrastructure.cluster.x-k8s.io/v1beta1`.
    #[serde(default)]
    pub api_version: ApiVersion<TinkerbellMachineTemplate>,
    /// `kind`: always `TinkerbellMachineTemplate`.
    #[serde(default)]
    pub kind: Kind<TinkerbellMachineTemplate>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The template.
    #[serde(default)]
    pub spec: TinkerbellMachineTemplateSpec,
}
ironbell_model::impl_resource!(
    TinkerbellMachineTemplate,
    API_VERSION,
    "TinkerbellMachineTemplate",
    "tinkerbellmachinetemplates",
    aliases = ["tinkerbellmachinetemplate"]
);

/// A `TinkerbellMachine`: one machine of a cluster, placed on one Hardware.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellMachine {
    /// `apiVersion`: always `infrastructure.cluster.x-k8s.io/v1beta1`.
    #[serde(default)]
    pub api_version: ApiVersion<TinkerbellMachine>,
    /// `kind`: always `TinkerbellMachine`.
    #[serde(default)]
    pub kind: Kind<TinkerbellMachine>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Affinity, boot options, template; the Hardware and provider ID once chosen.
    #[serde(default)]
    pub spec: TinkerbellMachineSpec,
    /// Readiness, addresses and errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TinkerbellMachineStatus>,
}
ironbell_model::impl_resource!(
    TinkerbellMachine,
    API_VERSION,
    "TinkerbellMachine",
    "tinkerbellmachines",
    aliases = ["tinkerbellmachine", "tm"]
);

/// The status of a [`TinkerbellMachine`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TinkerbellMachineStatus {
    /// The machine is provisioned.
    #[serde(default)]
    pub ready: bool,
    /// The machine's addresses (the Hardware's first DHCP address, `InternalIP`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<MachineAddress>,
    /// A terminal problem, for Cluster API (`CreateError`, `DeleteError`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<String>,
    /// The terminal problem in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Latest observations; see [`crate::CONDITION_PROVISIONED`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A node address (`corev1.NodeAddress`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MachineAddress {
    /// `InternalIP`, `ExternalIP`, `Hostname`...
    #[serde(rename = "type")]
    pub type_: String,
    /// The address.
    pub address: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_round_trips_with_its_status() {
        let yaml = r#"
apiVersion: infrastructure.cluster.x-k8s.io/v1beta1
kind: TinkerbellMachine
metadata: {name: cp-1, namespace: eksa-system}
spec:
  hardwareAffinity:
    required:
    - labelSelector: {matchLabels: {type: cp}}
  hardwareName: hw1
  providerID: tinkerbell://eksa-system/hw1
status:
  ready: true
  addresses: [{type: InternalIP, address: 10.0.0.5}]
"#;
        let tm: TinkerbellMachine = serde_yaml_ng::from_str(yaml).expect("parses");
        assert_eq!(tm.spec.hardware_name.as_deref(), Some("hw1"));
        let status = tm.status.as_ref().expect("status");
        assert!(status.ready);
        assert_eq!(status.addresses[0].address, "10.0.0.5");
        let back: TinkerbellMachine =
            serde_yaml_ng::from_str(&serde_yaml_ng::to_string(&tm).expect("prints"))
                .expect("reads back");
        assert_eq!(back, tm);
        let bad = yaml.replace("ready: true", "ready: true\n  bogus: 1");
        let err = serde_yaml_ng::from_str::<TinkerbellMachine>(&bad).expect_err("unknown field");
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}
