//! CAPD's `infrastructure.cluster.x-k8s.io/v1beta2` kinds: [`DockerCluster`] (the cluster's
//! HAProxy load balancer) and [`DockerMachineTemplate`] (the node containers' image and
//! mounts), as EKS Anywhere's Docker provider writes them.

use serde::{Deserialize, Serialize};

use super::ObjectMeta;

/// `apiVersion` of CAPD's kinds (EKS Anywhere v0.24 writes `v1beta2`, not the `v1beta1` of
/// the other infrastructure providers).
pub const DOCKER_API_VERSION: &str = "infrastructure.cluster.x-k8s.io/v1beta2";

/// A `DockerCluster`: the load balancer container in front of the control plane.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerCluster {
    /// `infrastructure.cluster.x-k8s.io/v1beta2`.
    pub api_version: String,
    /// `DockerCluster`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// The load balancer.
    pub spec: DockerClusterSpec,
}

impl DockerCluster {
    /// A `DockerCluster` with the given metadata and load balancer image.
    pub fn new(metadata: ObjectMeta, load_balancer: DockerLoadBalancer) -> Self {
        Self {
            api_version: DOCKER_API_VERSION.to_string(),
            kind: "DockerCluster".to_string(),
            metadata,
            spec: DockerClusterSpec { load_balancer },
        }
    }
}

/// The spec of a [`DockerCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerClusterSpec {
    /// The HAProxy load balancer container.
    pub load_balancer: DockerLoadBalancer,
}

/// The image of the HAProxy load balancer container. Both fields are always written; `null`
/// (no image in the release) leaves CAPD's default image.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerLoadBalancer {
    /// Repository without the image name, e.g. `public.ecr.aws/l0g8r8j6/kubernetes-sigs/kind`.
    pub image_repository: Option<String>,
    /// Tag, e.g. `v0.11.1-eks-a-v0.0.0-dev-build.1464`.
    pub image_tag: Option<String>,
}

/// A `DockerMachineTemplate`: the node container of a machine.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerMachineTemplate {
    /// `infrastructure.cluster.x-k8s.io/v1beta2`.
    pub api_version: String,
    /// `DockerMachineTemplate`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// The template.
    pub spec: DockerMachineTemplateSpec,
}

impl DockerMachineTemplate {
    /// A `DockerMachineTemplate` with the given metadata and machine spec.
    pub fn new(metadata: ObjectMeta, machine: DockerMachineSpec) -> Self {
        Self {
            api_version: DOCKER_API_VERSION.to_string(),
            kind: "DockerMachineTemplate".to_string(),
            metadata,
            spec: DockerMachineTemplateSpec {
                template: DockerMachineTemplateResource { spec: machine },
            },
        }
    }
}

/// The spec of a [`DockerMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerMachineTemplateSpec {
    /// The template.
    pub template: DockerMachineTemplateResource,
}

/// The template resource of a [`DockerMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerMachineTemplateResource {
    /// The machine spec.
    pub spec: DockerMachineSpec,
}

/// A Docker machine's container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerMachineSpec {
    /// Host paths mounted into the container.
    pub extra_mounts: Vec<Mount>,
    /// The node image (EKS-D's kind node image); always written, `null` for CAPD's default.
    pub custom_image: Option<String>,
}

/// A host path mounted into a node container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    /// Path in the container.
    pub container_path: String,
    /// Path on the host.
    pub host_path: String,
    /// Mounted read-only (CAPD's `readOnly`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}
