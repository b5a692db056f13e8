//! [`ProviderSpec`]: the view of a loaded spec that the vSphere, CloudStack and Nutanix
//! renderers read, one generic type rather than three copies of the same struct.

use std::collections::BTreeMap;

use ironbell_cluster_spec::{DatacenterConfig, MachineConfig, Spec};
use ironbell_model::anywhere::{AWSIamConfig, Cluster as EksaCluster, OIDCConfig};

/// A provider's view of a loaded spec: the `Cluster`, its datacenter config `D`, its machine
/// configs `M` by name, and the identity providers it references.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderSpec<D, M> {
    /// The `Cluster`.
    pub cluster: EksaCluster,
    /// Its datacenter config.
    pub datacenter: D,
    /// Its machine configs by name.
    pub machine_configs: BTreeMap<String, M>,
    /// The OIDC identity provider, if any.
    pub oidc: Option<OIDCConfig>,
    /// The AWS IAM authenticator config, if any.
    pub aws_iam: Option<AWSIamConfig>,
}

/// A provider's datacenter config kind, and how its configs are picked out of a loaded spec.
pub trait ProviderKinds: Clone {
    /// The provider's machine config kind.
    type Machine: Clone;
    /// The datacenter config, when it is of this provider.
    fn datacenter_of(datacenter: &DatacenterConfig) -> Option<&Self>;
    /// A machine config, when it is of this provider.
    fn machine_of(machine: &MachineConfig) -> Option<&Self::Machine>;
}

impl<D: ProviderKinds> ProviderSpec<D, D::Machine> {
    /// The view of `spec`; `None` when its datacenter config is another provider's.
    pub fn view(spec: &Spec) -> Option<Self> {
        Some(Self {
            cluster: spec.cluster.clone(),
            datacenter: D::datacenter_of(spec.datacenter())?.clone(),
            machine_configs: crate::common::machine_configs_of(spec, D::machine_of),
            oidc: spec.oidc_config().cloned(),
            aws_iam: spec.aws_iam_config().cloned(),
        })
    }
}

/// Implements [`ProviderKinds`] for a datacenter config kind and its machine config kind,
/// which the loaded spec's enums name by their kind.
macro_rules! provider_kinds {
    ($datacenter:ident, $machine:ident) => {
        impl $crate::provider_spec::ProviderKinds for $datacenter {
            type Machine = $machine;
            fn datacenter_of(
                datacenter: &ironbell_cluster_spec::DatacenterConfig,
            ) -> Option<&Self> {
                match datacenter {
                    ironbell_cluster_spec::DatacenterConfig::$datacenter(d) => Some(d),
                    _ => None,
                }
            }
            fn machine_of(machine: &ironbell_cluster_spec::MachineConfig) -> Option<&$machine> {
                match machine {
                    ironbell_cluster_spec::MachineConfig::$machine(m) => Some(m),
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use provider_kinds;
