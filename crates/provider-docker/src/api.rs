//! CAPD's kinds as store kinds: [`DockerCluster`], [`DockerMachineTemplate`] and
//! [`DockerMachine`], each with the status its controller writes.
//!
//! Their `apiVersion` is the renderer's ([`DOCKER_API_VERSION`], the
//! `infrastructure.cluster.x-k8s.io/v1beta2` EKS Anywhere v0.24 writes), so the objects
//! `ironbell-capi` renders for a Docker cluster are the ones these controllers act on; a
//! `DockerMachine` is cloned from its template with the template's `apiVersion`. The load
//! balancer and mount types are the renderer's ([`DockerLoadBalancer`], [`Mount`]); the
//! machine spec adds what CAPD writes back (`providerID`, `bootstrapped`).

use ironbell_capi::api::docker::{DockerLoadBalancer, Mount};
use ironbell_model::{ApiVersion, Condition, Kind, ObjectMeta};
use serde::{Deserialize, Serialize};

pub use ironbell_capi::api::docker::DOCKER_API_VERSION;

/// A `DockerCluster`: the cluster's network and the load balancer in front of its control
/// plane.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DockerCluster {
    /// `apiVersion`: always [`DOCKER_API_VERSION`].
    #[serde(default)]
    pub api_version: ApiVersion<DockerCluster>,
    /// `kind`: always `DockerCluster`.
    #[serde(default)]
    pub kind: Kind<DockerCluster>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The load balancer's image; the endpoint once the controller knows it.
    #[serde(default)]
    pub spec: DockerClusterSpec,
    /// Readiness and conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DockerClusterStatus>,
}
ironbell_model::impl_resource!(
    DockerCluster,
    DOCKER_API_VERSION,
    "DockerCluster",
    "dockerclusters",
    aliases = ["dockercluster"]
);

/// The spec of a [`DockerCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerClusterSpec {
    /// The load balancer's address on the cluster network and port 6443, set by the
    /// controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_endpoint: Option<ApiEndpoint>,
    /// The load balancer container's image (`<imageRepository>/haproxy:<imageTag>`).
    #[serde(default)]
    pub load_balancer: DockerLoadBalancer,
}

/// A host and port (`clusterv1.APIEndpoint`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ApiEndpoint {
    /// Address.
    #[serde(default)]
    pub host: String,
    /// Port.
    #[serde(default)]
    pub port: u16,
}

/// The status of a [`DockerCluster`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DockerClusterStatus {
    /// The network and load balancer are up.
    #[serde(default)]
    pub ready: bool,
    /// Latest observations: [`crate::CONDITION_LOAD_BALANCER`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A `DockerMachineTemplate`: what a control plane or machine deployment stamps its
/// `DockerMachine`s from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DockerMachineTemplate {
    /// `apiVersion`: always [`DOCKER_API_VERSION`].
    #[serde(default)]
    pub api_version: ApiVersion<DockerMachineTemplate>,
    /// `kind`: always `DockerMachineTemplate`.
    #[serde(default)]
    pub kind: Kind<DockerMachineTemplate>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The template.
    #[serde(default)]
    pub spec: DockerMachineTemplateSpec,
}
ironbell_model::impl_resource!(
    DockerMachineTemplate,
    DOCKER_API_VERSION,
    "DockerMachineTemplate",
    "dockermachinetemplates",
    aliases = ["dockermachinetemplate"]
);

/// The spec of a [`DockerMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerMachineTemplateSpec {
    /// The template.
    #[serde(default)]
    pub template: DockerMachineTemplateResource,
}

/// The template resource of a [`DockerMachineTemplate`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerMachineTemplateResource {
    /// The machine spec.
    #[serde(default)]
    pub spec: DockerMachineSpec,
}

/// A `DockerMachine`: one node container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DockerMachine {
    /// `apiVersion`: always [`DOCKER_API_VERSION`].
    #[serde(default)]
    pub api_version: ApiVersion<DockerMachine>,
    /// `kind`: always `DockerMachine`.
    #[serde(default)]
    pub kind: Kind<DockerMachine>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Image and mounts; the provider ID once the container runs.
    #[serde(default)]
    pub spec: DockerMachineSpec,
    /// Readiness, addresses and conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DockerMachineStatus>,
}
ironbell_model::impl_resource!(
    DockerMachine,
    DOCKER_API_VERSION,
    "DockerMachine",
    "dockermachines",
    aliases = ["dockermachine"]
);

/// The spec of a [`DockerMachine`] (and of a template's machines).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DockerMachineSpec {
    /// The node image; `null`: the controller's default node image.
    #[serde(default)]
    pub custom_image: Option<String>,
    /// Host paths mounted into the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_mounts: Vec<Mount>,
    /// `docker:////<container>` (set by the controller).
    #[serde(
        default,
        rename = "providerID",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_id: Option<String>,
    /// The user-data ran in the container (set by the controller).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bootstrapped: bool,
}

/// The status of a [`DockerMachine`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DockerMachineStatus {
    /// The container runs and its user-data ran.
    #[serde(default)]
    pub ready: bool,
    /// The container's addresses (`InternalIP` on the cluster network, `Hostname`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<MachineAddress>,
    /// Latest observations: [`crate::CONDITION_CONTAINER`], [`crate::CONDITION_BOOTSTRAP`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A node address (`clusterv1.MachineAddress`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MachineAddress {
    /// `InternalIP`, `Hostname`...
    #[serde(rename = "type")]
    pub type_: String,
    /// The address.
    pub address: String,
}

/// Sets `new` in `conditions`, keeping the transition time when the status is unchanged.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) => {
            if old.status == new.status {
                new.last_transition_time = old.last_transition_time;
            }
            *old = new;
        }
        None => conditions.push(new),
    }
}

/// A condition of `type_`: `True` without a message, else `False` with `reason` and
/// `message`.
pub fn condition(type_: &str, failure: Option<(&str, String)>) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if failure.is_none() { "True" } else { "False" }.to_string(),
        last_transition_time: Some(ironbell_model::values::now()),
        reason: failure.as_ref().map(|(r, _)| r.to_string()),
        message: failure.map(|(_, m)| m),
        ..Condition::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_template_reads_and_a_machine_round_trips() {
        let yaml = r#"
apiVersion: infrastructure.cluster.x-k8s.io/v1beta2
kind: DockerMachineTemplate
metadata: {name: c1-control-plane-template-1, namespace: eksa-system}
spec:
  template:
    spec:
      extraMounts:
      - containerPath: /var/run/docker.sock
        hostPath: /var/run/docker.sock
      customImage: public.ecr.aws/eks-anywhere/kubernetes-sigs/kind/node:v1.29
"#;
        let t: DockerMachineTemplate = serde_yaml_ng::from_str(yaml).expect("parses");
        let spec = &t.spec.template.spec;
        assert_eq!(spec.extra_mounts.len(), 1);
        assert!(
            spec.custom_image
                .as_deref()
                .is_some_and(|i| i.ends_with("v1.29"))
        );

        let m = DockerMachine {
            spec: DockerMachineSpec {
                provider_id: Some("docker:////c1-cp-1".into()),
                bootstrapped: true,
                ..spec.clone()
            },
            status: Some(DockerMachineStatus {
                ready: true,
                addresses: vec![MachineAddress {
                    type_: "InternalIP".into(),
                    address: "172.18.0.3".into(),
                }],
                ..DockerMachineStatus::default()
            }),
            ..DockerMachine::default()
        };
        let text = serde_json::to_string(&m).expect("prints");
        assert!(
            text.contains(r#""providerID":"docker:////c1-cp-1""#),
            "{text}"
        );
        let back: DockerMachine = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back, m);
    }
}
