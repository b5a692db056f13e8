//! How machines are replaced and scaled: the control plane's and a worker group's rollout
//! strategy, and the cluster autoscaler's bounds, from the spec's settings.

use ironbell_model::anywhere::{
    AutoScalingConfiguration, ControlPlaneUpgradeRolloutStrategy, IntOrString,
    UpgradeRolloutStrategyType, WorkerNodesUpgradeRolloutStrategy,
};

use ironbell_model::anywhere::WorkerNodeGroupConfiguration;

use crate::api::cluster::{
    Bootstrap, MachineDeployment, MachineDeploymentSpec, MachineDeploymentStrategy, MachineSpec,
    MachineTemplateSpec, RollingUpdate, TemplateMeta,
};
use crate::api::kubeadm::{ControlPlaneRollingUpdate, RolloutStrategy};
use crate::api::{
    BOOTSTRAP_API_VERSION, EKSA_SYSTEM_NAMESPACE, LabelSelector, ObjectReference, StringMap, meta,
};

/// The `KubeadmControlPlane` rollout: `InPlace`, a rolling update with the spec's surge, or
/// (unset) EKS Anywhere's default rolling update with a surge of one.
pub fn control_plane_rollout(
    strategy: Option<&ControlPlaneUpgradeRolloutStrategy>,
) -> RolloutStrategy {
    match strategy {
        Some(s) if s.type_ == Some(UpgradeRolloutStrategyType::InPlace) => RolloutStrategy {
            rolling_update: None,
            strategy_type: Some("InPlace".into()),
        },
        Some(s) => RolloutStrategy {
            rolling_update: Some(ControlPlaneRollingUpdate {
                max_surge: IntOrString::Int(s.rolling_update.as_ref().map_or(1, |r| r.max_surge)),
            }),
            strategy_type: None,
        },
        None => RolloutStrategy {
            rolling_update: Some(ControlPlaneRollingUpdate {
                max_surge: IntOrString::Int(1),
            }),
            strategy_type: Some("RollingUpdate".into()),
        },
    }
}

/// A `MachineDeployment`'s strategy: `InPlace` or a rolling update with the spec's bounds;
/// none when the spec sets none.
pub fn machine_deployment_strategy(
    strategy: Option<&WorkerNodesUpgradeRolloutStrategy>,
) -> Option<MachineDeploymentStrategy> {
    strategy.map(|s| {
        if s.type_ == Some(UpgradeRolloutStrategyType::InPlace) {
            MachineDeploymentStrategy {
                strategy_type: Some("InPlace".into()),
                rolling_update: None,
            }
        } else {
            let r = s.rolling_update.clone().unwrap_or_default();
            MachineDeploymentStrategy {
                strategy_type: None,
                rolling_update: Some(RollingUpdate {
                    max_surge: Some(IntOrString::Int(r.max_surge)),
                    max_unavailable: Some(IntOrString::Int(r.max_unavailable)),
                }),
            }
        }
    })
}

/// The cluster autoscaler's size bounds of a worker group, as `MachineDeployment`
/// annotations.
pub fn autoscaler_annotations(a: &AutoScalingConfiguration) -> StringMap {
    [
        (
            "cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size".to_string(),
            a.min_count.unwrap_or(0).to_string(),
        ),
        (
            "cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size".to_string(),
            a.max_count.unwrap_or(0).to_string(),
        ),
    ]
    .into_iter()
    .collect()
}

/// What a worker node group's `MachineDeployment` is made of besides the group itself.
#[derive(Clone, Debug)]
pub struct WorkerDeployment<'a> {
    /// Cluster name.
    pub cluster: &'a str,
    /// Worker node group name.
    pub group: &'a str,
    /// The group.
    pub wng: &'a WorkerNodeGroupConfiguration,
    /// Labels of the deployment and its machines.
    pub labels: StringMap,
    /// The `KubeadmConfigTemplate`'s name.
    pub bootstrap_template: String,
    /// The provider's machine template.
    pub infrastructure_ref: ObjectReference,
    /// Kubernetes version of the machines (an EKS-D tag).
    pub version: String,
    /// Failure domain of the machines.
    pub failure_domain: Option<String>,
}

/// A worker node group's `MachineDeployment` (`<cluster>-<group>`): the group's count unless
/// the autoscaler owns it, the autoscaler's bounds, an empty selector, and the group's
/// rollout strategy.
pub fn worker_machine_deployment(d: WorkerDeployment<'_>) -> MachineDeployment {
    let wng = d.wng;
    let mut md_meta = meta(format!("{}-{}", d.cluster, d.group), EKSA_SYSTEM_NAMESPACE);
    md_meta.labels = Some(d.labels.clone());
    md_meta.annotations = wng
        .autoscaling_configuration
        .as_ref()
        .map(autoscaler_annotations);
    let spec = MachineSpec {
        bootstrap: Bootstrap {
            config_ref: Some(ObjectReference::new(
                BOOTSTRAP_API_VERSION,
                "KubeadmConfigTemplate",
                d.bootstrap_template,
            )),
        },
        cluster_name: d.cluster.to_string(),
        infrastructure_ref: d.infrastructure_ref,
        version: Some(d.version),
        failure_domain: d.failure_domain,
    };
    MachineDeployment::new(
        md_meta,
        MachineDeploymentSpec {
            cluster_name: d.cluster.to_string(),
            replicas: wng
                .autoscaling_configuration
                .is_none()
                .then(|| wng.count.unwrap_or(0)),
            selector: LabelSelector {
                match_labels: Some(StringMap::new()),
            },
            template: MachineTemplateSpec {
                metadata: Some(TemplateMeta {
                    labels: Some(d.labels),
                    annotations: None,
                }),
                spec,
            },
            strategy: machine_deployment_strategy(wng.upgrade_rollout_strategy.as_ref()),
        },
    )
}
