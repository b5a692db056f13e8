//! The Docker provider's [`DockerDatacenterConfig`]: clusters of containers on the local
//! Docker engine, for development and tests. It has no settings and no machine config.

use serde::{Deserialize, Serialize};

use super::{EmptyStatus, eksa_kind};

eksa_kind! {
    /// The Docker provider's datacenter: the local Docker engine. It has no settings.
    DockerDatacenterConfig {
        spec: DockerDatacenterConfigSpec,
        status: EmptyStatus,
        plural: "dockerdatacenterconfigs",
        aliases: ["dockerdatacenterconfig"],
    }
}

/// Settings of a [`DockerDatacenterConfig`]: the API defines none.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DockerDatacenterConfigSpec {}
