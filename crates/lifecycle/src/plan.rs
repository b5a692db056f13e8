//! The commands and their task lists: EKS Anywhere v0.24.6's task names, in its order
//! (`LIFECYCLE.md` 1.1, 1.3, 1.5), as data.
//!
//! Each name is a constant of [`names`] whose documentation says what EKS Anywhere's task
//! does and what ironbell's does instead where the two differ. The two that are about kind
//! (`bootstrap-cluster-init`, `delete-kind-cluster`, and for delete
//! `bootstrap-cluster-for-delete-init`, `kind-cluster-delete`) keep EKS Anywhere's names, so
//! that a checkpoint file, a log line or a runbook reads the same; ironbell's tasks of those
//! names start or stop the *bootstrap plane* (ironbell's services in-process over an embedded
//! store in `NAME/generated/`), since ironbell needs no kind and no container engine.
//!
//! A [`Command`] is what the user ran ([`Command::create`] and friends pick management or
//! workload from the spec); [`Command::task_names`] is its list. A provider supplies one
//! [`Task`] per name and [`Pipeline::new`] checks that they are exactly the
//! command's list, in order.

use std::fmt;

use ironbell_cluster_spec::Spec;
use serde::{Deserialize, Serialize};

use crate::task::Task;

/// EKS Anywhere's task names (`Task.Name()` in `pkg/workflows/{management,workload}`).
pub mod names {
    /// Management create, 1: every validation, each reported with ✅ or ❌ (the provider's
    /// "*Provider* Provider setup is valid", then the preflights). Nothing is changed.
    pub const SETUP_VALIDATE: &str = "setup-validate";
    /// Management create, 2. EKS Anywhere: `kind create cluster`. ironbell: starts the
    /// *bootstrap plane* (boot, metadata, BMC and workflow services and the controllers)
    /// in-process on the admin machine, over the embedded store in `NAME/generated/`. No
    /// kind, no container engine.
    pub const BOOTSTRAP_CLUSTER_INIT: &str = "bootstrap-cluster-init";
    /// Management create, 3: the registry-credentials Secret on the bootstrap plane when
    /// registry mirror authentication is on.
    pub const UPDATE_SECRETS_CREATE: &str = "update-secrets-create";
    /// Management create, 4. EKS Anywhere: the Tinkerbell stack on kind, Smee in Docker,
    /// `clusterctl init`, then `hardware.csv` applied and the BMCs awaited `Contactable`.
    /// ironbell: the Cluster API controllers and the provider's components are part of the
    /// plane already; this imports `hardware.csv` (Hardware, BMC Machine, Secret) into the
    /// plane's store and waits for the BMCs.
    pub const INSTALL_CAPI_COMPONENTS_BOOTSTRAP: &str = "install-capi-components-bootstrap";
    /// Management create, 5: the EKS Anywhere components on the bootstrap plane (for
    /// ironbell: registering the EKS Anywhere kinds and their controllers with the plane).
    pub const EKSA_COMPONENTS_BOOTSTRAP_INSTALL: &str = "eksa-components-bootstrap-install";
    /// Management create, 6: the cluster's objects applied to the bootstrap plane and awaited
    /// (control plane ready, workers ready, ready); the kubeconfig written.
    pub const WORKLOAD_CLUSTER_INIT: &str = "workload-cluster-init";
    /// Management create, 7: the provider's stack on the new cluster. For ironbell in this
    /// stage the plane stays on the admin machine as the management plane (a provisioning
    /// server run as a service), so this installs that service.
    pub const INSTALL_RESOURCES_ON_MANAGEMENT_CLUSTER: &str =
        "install-resources-on-management-cluster";
    /// Management create, 8: `clusterctl move` of the Cluster API objects from the
    /// bootstrap cluster to the new one. ironbell keeps the move a task of its own: a no-op
    /// while the plane stays on the admin machine, the store-to-store move later.
    pub const CAPI_MANAGEMENT_MOVE: &str = "capi-management-move";
    /// Management create, 9: the EKS Anywhere components and objects on the new management
    /// cluster, then its reconciliation resumed.
    pub const EKSA_COMPONENTS_WORKLOAD_INSTALL: &str = "eksa-components-workload-install";
    /// Create, 10 (workload: 3): Flux, when the spec has a GitOps config; a failure is only
    /// reported.
    pub const GITOPS_MANAGER_INSTALL: &str = "gitops-manager-install";
    /// Create, 11 (workload: 4; upgrade too): `NAME/NAME-eks-a-cluster.yaml` written.
    pub const WRITE_CLUSTER_CONFIG: &str = "write-cluster-config";
    /// Management create, 12. EKS Anywhere: deletes kind (and refuses while a Cluster is
    /// still provisioned in it). ironbell: stops the bootstrap plane's temporary pieces;
    /// once the move exists, stops the bootstrap plane itself. Prints "Cluster created!".
    pub const DELETE_KIND_CLUSTER: &str = "delete-kind-cluster";
    /// Management create, 13: curated packages, best effort.
    pub const INSTALL_CURATED_PACKAGES: &str = "install-curated-packages";

    /// Workload create, 1: the validations, against the management plane too (the cluster
    /// name is free, the management plane has the EKS Anywhere kinds).
    pub const SETUP_VALIDATE_CREATE: &str = "setup-validate-create";
    /// Workload create, 2: the cluster's objects applied to the management plane (and the
    /// new unprovisioned Hardware of `hardware.csv`), awaited ready.
    pub const CREATE_WORKLOAD_CLUSTER: &str = "create-workload-cluster";

    /// Management upgrade, 1: the current spec read from the plane, the provider's upgrade
    /// validations and the preflights.
    pub const SETUP_AND_VALIDATE: &str = "setup-and-validate";
    /// Management upgrade, 2: the provider's secrets updated.
    pub const UPDATE_SECRETS: &str = "update-secrets";
    /// Management upgrade, 3: the etcdadm providers present.
    pub const ENSURE_ETCD_CAPI_COMPONENTS_EXIST: &str = "ensure-etcd-capi-components-exist";
    /// Management upgrade, 4: GitOps reconciliation paused.
    pub const PAUSE_CONTROLLERS_RECONCILE: &str = "pause-controllers-reconcile";
    /// Management upgrade, 5: the stack and the core components upgraded; its checkpoint
    /// carries the change diff (the one EKS Anywhere task with checkpoint data).
    pub const UPGRADE_CORE_COMPONENTS: &str = "upgrade-core-components";
    /// Upgrade: a backup of the cluster's objects (`NAME/NAME-backup-<time>`), the workload
    /// clusters paused.
    pub const PRE_CLUSTER_UPGRADE: &str = "pre-cluster-upgrade";
    /// Management upgrade, 7: the new release's Bundles and EKS-D manifests applied.
    pub const INSTALL_NEW_EKSA_VERSION_COMPONENTS: &str = "install-new-eksa-version-components";
    /// Upgrade: the new spec applied and awaited (machines rolled as the rollout plan says).
    pub const UPGRADE_WORKLOAD_CLUSTER: &str = "upgrade-workload-cluster";
    /// Management upgrade, 9: GitOps reconciliation resumed.
    pub const RESUME_GITOPS_RECONCILIATION: &str = "resume-gitops-reconciliation";
    /// Upgrade: the workload clusters resumed, the backup removed.
    pub const POST_CLUSTER_UPGRADE: &str = "post-cluster-upgrade";
    /// Management upgrade, 12: curated packages upgraded.
    pub const UPGRADE_CURATED_PACKAGES: &str = "upgrade-curated-packages";

    /// Workload upgrade, 1: the validations of an upgrade.
    pub const SETUP_VALIDATE_UPGRADE: &str = "setup-validate-upgrade";

    /// Delete, 1: the provider's delete validations (none for Tinkerbell).
    pub const SETUP_AND_VALIDATE_DELETE: &str = "setup-and-validate-delete";
    /// Management delete, 2. EKS Anywhere: a new kind cluster. ironbell: the bootstrap plane
    /// started (a no-op while the management plane is still on the admin machine).
    pub const BOOTSTRAP_CLUSTER_FOR_DELETE_INIT: &str = "bootstrap-cluster-for-delete-init";
    /// Management delete, 3. EKS Anywhere: the stack and Cluster API on kind. ironbell: part
    /// of the bootstrap plane already.
    pub const INSTALL_CAPI_COMPONENTS_BOOTSTRAP_FOR_DELETE: &str =
        "install-capi-components-bootstrap-for-delete";
    /// Management delete, 4: the Cluster API objects moved from the cluster to the bootstrap
    /// plane (a no-op while the plane never left the admin machine).
    pub const CAPI_MANAGEMENT_MOVE_FOR_DELETE: &str = "capi-management-move-for-delete";
    /// Management delete, 5: the EKS Anywhere objects moved to the bootstrap plane, marked
    /// deletable while paused.
    pub const EKSA_COMPONENTS_BOOTSTRAP_INSTALL_DELETE_TASK: &str =
        "eksa-components-bootstrap-install-delete-task";
    /// Management delete, 6: the Cluster deleted; each machine powered off through its BMC
    /// and its Hardware released.
    pub const DELETE_MANAGEMENT_CLUSTER: &str = "delete-management-cluster";
    /// Management delete, 7: the cluster's folder removed from the GitOps repository.
    pub const CLEAN_UP_GIT_REPO: &str = "clean-up-git-repo";
    /// Management delete, 8. EKS Anywhere: kind deleted. ironbell: the bootstrap plane
    /// stopped.
    pub const KIND_CLUSTER_DELETE: &str = "kind-cluster-delete";
    /// Workload delete, 2: the Cluster deleted on the management plane.
    pub const DELETE_WORKLOAD_CLUSTER: &str = "delete-workload-cluster";
    /// Workload delete, 3: waits until the cluster's machines are gone.
    pub const VALIDATE_DELETE_WORKLOAD_SUCCESS: &str = "validate-delete-workload-success";
}

use names::*;

const CREATE_MANAGEMENT: &[&str] = &[
    SETUP_VALIDATE,
    BOOTSTRAP_CLUSTER_INIT,
    UPDATE_SECRETS_CREATE,
    INSTALL_CAPI_COMPONENTS_BOOTSTRAP,
    EKSA_COMPONENTS_BOOTSTRAP_INSTALL,
    WORKLOAD_CLUSTER_INIT,
    INSTALL_RESOURCES_ON_MANAGEMENT_CLUSTER,
    CAPI_MANAGEMENT_MOVE,
    EKSA_COMPONENTS_WORKLOAD_INSTALL,
    GITOPS_MANAGER_INSTALL,
    WRITE_CLUSTER_CONFIG,
    DELETE_KIND_CLUSTER,
    INSTALL_CURATED_PACKAGES,
];

const CREATE_WORKLOAD: &[&str] = &[
    SETUP_VALIDATE_CREATE,
    CREATE_WORKLOAD_CLUSTER,
    GITOPS_MANAGER_INSTALL,
    WRITE_CLUSTER_CONFIG,
];

const UPGRADE_MANAGEMENT: &[&str] = &[
    SETUP_AND_VALIDATE,
    UPDATE_SECRETS,
    ENSURE_ETCD_CAPI_COMPONENTS_EXIST,
    PAUSE_CONTROLLERS_RECONCILE,
    UPGRADE_CORE_COMPONENTS,
    PRE_CLUSTER_UPGRADE,
    INSTALL_NEW_EKSA_VERSION_COMPONENTS,
    UPGRADE_WORKLOAD_CLUSTER,
    RESUME_GITOPS_RECONCILIATION,
    WRITE_CLUSTER_CONFIG,
    POST_CLUSTER_UPGRADE,
    UPGRADE_CURATED_PACKAGES,
];

const UPGRADE_WORKLOAD: &[&str] = &[
    SETUP_VALIDATE_UPGRADE,
    PRE_CLUSTER_UPGRADE,
    UPGRADE_WORKLOAD_CLUSTER,
    WRITE_CLUSTER_CONFIG,
    POST_CLUSTER_UPGRADE,
];

const DELETE_MANAGEMENT: &[&str] = &[
    SETUP_AND_VALIDATE_DELETE,
    BOOTSTRAP_CLUSTER_FOR_DELETE_INIT,
    INSTALL_CAPI_COMPONENTS_BOOTSTRAP_FOR_DELETE,
    CAPI_MANAGEMENT_MOVE_FOR_DELETE,
    EKSA_COMPONENTS_BOOTSTRAP_INSTALL_DELETE_TASK,
    DELETE_MANAGEMENT_CLUSTER,
    CLEAN_UP_GIT_REPO,
    KIND_CLUSTER_DELETE,
];

const DELETE_WORKLOAD: &[&str] = &[
    SETUP_AND_VALIDATE_DELETE,
    DELETE_WORKLOAD_CLUSTER,
    VALIDATE_DELETE_WORKLOAD_SUCCESS,
];

/// A lifecycle command: what the user ran, for a management (self-managed) or a workload
/// (managed) cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    /// `create cluster` of a self-managed cluster (`LIFECYCLE.md` 1.1).
    CreateManagement,
    /// `create cluster` of a cluster managed by another (1.1, workload).
    CreateWorkload,
    /// `upgrade cluster` of a management cluster (1.3).
    UpgradeManagement,
    /// `upgrade cluster` of a workload cluster (1.3).
    UpgradeWorkload,
    /// `delete cluster` of a management cluster (1.5).
    DeleteManagement,
    /// `delete cluster` of a workload cluster (1.5).
    DeleteWorkload,
}

impl Command {
    /// Every command.
    pub const ALL: [Command; 6] = [
        Self::CreateManagement,
        Self::CreateWorkload,
        Self::UpgradeManagement,
        Self::UpgradeWorkload,
        Self::DeleteManagement,
        Self::DeleteWorkload,
    ];

    /// `create` of the cluster the spec describes: management when it manages itself.
    pub fn create(spec: &Spec) -> Self {
        if spec.is_self_managed() {
            Self::CreateManagement
        } else {
            Self::CreateWorkload
        }
    }

    /// `upgrade` of the cluster the spec describes.
    pub fn upgrade(spec: &Spec) -> Self {
        if spec.is_self_managed() {
            Self::UpgradeManagement
        } else {
            Self::UpgradeWorkload
        }
    }

    /// `delete` of the cluster the spec describes.
    pub fn delete(spec: &Spec) -> Self {
        if spec.is_self_managed() {
            Self::DeleteManagement
        } else {
            Self::DeleteWorkload
        }
    }

    /// EKS Anywhere's task names for this command, in order.
    pub fn task_names(self) -> &'static [&'static str] {
        match self {
            Self::CreateManagement => CREATE_MANAGEMENT,
            Self::CreateWorkload => CREATE_WORKLOAD,
            Self::UpgradeManagement => UPGRADE_MANAGEMENT,
            Self::UpgradeWorkload => UPGRADE_WORKLOAD,
            Self::DeleteManagement => DELETE_MANAGEMENT,
            Self::DeleteWorkload => DELETE_WORKLOAD,
        }
    }

    /// The verb the user typed: `create`, `upgrade` or `delete`.
    pub fn verb(self) -> &'static str {
        match self {
            Self::CreateManagement | Self::CreateWorkload => "create",
            Self::UpgradeManagement | Self::UpgradeWorkload => "upgrade",
            Self::DeleteManagement | Self::DeleteWorkload => "delete",
        }
    }

    /// Whether this is about a management (self-managed) cluster.
    pub fn is_management(self) -> bool {
        matches!(
            self,
            Self::CreateManagement | Self::UpgradeManagement | Self::DeleteManagement
        )
    }

    /// The name used in the journal and in messages, e.g. `create-management`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateManagement => "create-management",
            Self::CreateWorkload => "create-workload",
            Self::UpgradeManagement => "upgrade-management",
            Self::UpgradeWorkload => "upgrade-workload",
            Self::DeleteManagement => "delete-management",
            Self::DeleteWorkload => "delete-workload",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pipeline does not hold the command's tasks.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The tasks given differ from the command's list.
    #[error(
        "the tasks for {command} are [{given}], but {command} runs [{expected}] (EKS Anywhere's order)"
    )]
    Mismatch {
        /// The command.
        command: Command,
        /// The names of the tasks given, comma-separated.
        given: String,
        /// The command's list, comma-separated.
        expected: String,
    },
}

/// The tasks of one command, in order: the data [`run`](crate::run) walks.
pub struct Pipeline {
    command: Command,
    tasks: Vec<Box<dyn Task>>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("command", &self.command)
            .field("tasks", &self.task_names())
            .finish()
    }
}

impl Pipeline {
    /// The pipeline of `command` from one task per name of [`Command::task_names`], in
    /// that order; anything else is [`PlanError::Mismatch`].
    pub fn new(command: Command, tasks: Vec<Box<dyn Task>>) -> Result<Self, PlanError> {
        let given: Vec<&str> = tasks.iter().map(|t| t.name()).collect();
        if given != command.task_names() {
            return Err(PlanError::Mismatch {
                command,
                given: given.join(", "),
                expected: command.task_names().join(", "),
            });
        }
        Ok(Self { command, tasks })
    }

    /// The pipeline of `command` with the task `make` gives for each of its names.
    pub fn build(
        command: Command,
        mut make: impl FnMut(&'static str) -> Box<dyn Task>,
    ) -> Result<Self, PlanError> {
        let tasks = command.task_names().iter().map(|n| make(n)).collect();
        Self::new(command, tasks)
    }

    /// [`Pipeline::build`] by a provider whose `make` has a task for every name: the task
    /// lists are the lifecycle's own, so a mismatch is a bug, reported as the command's
    /// failure.
    pub fn of(
        command: Command,
        make: impl FnMut(&'static str) -> Box<dyn Task>,
    ) -> Result<Self, crate::RunError> {
        Self::build(command, make).map_err(|e| crate::RunError::Task {
            task: command.to_string(),
            source: Box::new(crate::TaskError::Failed(e.to_string())),
        })
    }

    /// [`Pipeline::of`] with one [`crate::task::Step`] of `steps` per task name.
    pub fn of_steps<S: crate::task::Steps>(
        command: Command,
        steps: &std::sync::Arc<S>,
    ) -> Result<Self, crate::RunError> {
        Self::of(command, |name| {
            Box::new(crate::task::Step::new(name, steps.clone())) as Box<dyn Task>
        })
    }

    /// The command.
    pub fn command(&self) -> Command {
        self.command
    }

    /// The tasks, in order.
    pub fn tasks(&self) -> &[Box<dyn Task>] {
        &self.tasks
    }

    /// The task names, in order.
    pub fn task_names(&self) -> Vec<&str> {
        self.tasks.iter().map(|t| t.name()).collect()
    }
}
