//! How machines are replaced and scaled: the control plane's and a worker group's rollout
//! strategy, and the cluster autoscaler's bounds, from the spec's settings.

use ironbell_model::anywhere::{
    AutoScalingConfiguration, ControlPlaneUpgradeRolloutStrategy, IntOrString,
    UpgradeRolloutStrategyType, WorkerNodesUpgradeRolloutStrategy,
};

use crate::api::StringMap;
use crate::api::cluster::{MachineDeploymentStrategy, RollingUpdate};
use crate::api::kubeadm::{ControlPlaneRollingUpdate, RolloutStrategy};

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
