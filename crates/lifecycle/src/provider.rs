//! The seam where infrastructure providers plug in (DESIGN.md "Providers"): defaults,
//! offline validations (each named), a pure render of the Cluster API objects, and
//! idempotent hooks around the tasks.
//!
//! EKS Anywhere's `providers.Provider` interface has one method per hook point
//! (`PreCAPIInstallOnBootstrap`, `PostBootstrapSetup`, `PostWorkloadInit`,
//! `PostClusterDeleteValidate`, ...), each called from inside one task. Here a provider gets
//! one [`Provider::hook`] call before and one after every task it runs ([`HookPoint`]), and
//! [`EKSA_HOOKS`] says which point each of EKS Anywhere's hooks corresponds to, so a provider
//! ported from EKS Anywhere matches on the task name. A task skipped because an earlier run
//! finished it gets no hook calls; a task run again gets them again (hooks are idempotent
//! like the tasks).
//!
//! The Tinkerbell and Docker providers come later; [`NoProvider`] is the provider with no
//! infrastructure, for pipelines whose tasks do everything themselves.

use ironbell_cluster_spec::Spec;
use ironbell_model::DynamicObject;

use crate::plan::{Command, names};
use crate::task::{Context, TaskError};

/// When a hook runs: just before or just after the named task's `run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookPoint<'a> {
    /// Before the task runs.
    Before(&'a str),
    /// After the task succeeded, before its journal record is written.
    After(&'a str),
}

/// EKS Anywhere's provider hooks and the point of ironbell's pipeline each corresponds to.
pub const EKSA_HOOKS: &[(&str, HookPoint<'static>)] = &[
    (
        "SetupAndValidateCreateCluster",
        HookPoint::Before(names::SETUP_VALIDATE),
    ),
    (
        "BootstrapClusterOpts",
        HookPoint::Before(names::BOOTSTRAP_CLUSTER_INIT),
    ),
    (
        "PreCAPIInstallOnBootstrap",
        HookPoint::Before(names::INSTALL_CAPI_COMPONENTS_BOOTSTRAP),
    ),
    (
        "PostBootstrapSetup",
        HookPoint::After(names::INSTALL_CAPI_COMPONENTS_BOOTSTRAP),
    ),
    (
        "InstallCustomProviderComponents",
        HookPoint::After(names::EKSA_COMPONENTS_BOOTSTRAP_INSTALL),
    ),
    (
        "PostWorkloadInit",
        HookPoint::Before(names::INSTALL_RESOURCES_ON_MANAGEMENT_CLUSTER),
    ),
    (
        "SetupAndValidateUpgradeCluster",
        HookPoint::Before(names::SETUP_AND_VALIDATE),
    ),
    ("UpdateSecrets", HookPoint::Before(names::UPDATE_SECRETS)),
    (
        "PreCoreComponentsUpgrade",
        HookPoint::Before(names::UPGRADE_CORE_COMPONENTS),
    ),
    (
        "SetupAndValidateDeleteCluster",
        HookPoint::Before(names::SETUP_AND_VALIDATE_DELETE),
    ),
    (
        "PostClusterDeleteValidate",
        HookPoint::After(names::DELETE_MANAGEMENT_CLUSTER),
    ),
];

/// A named offline check of a spec, run by the validation tasks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The line printed with ✅ or ❌, e.g. `Tinkerbell Provider setup is valid`.
    pub name: String,
    /// Why it failed, or `Ok`.
    pub outcome: Result<(), String>,
}

impl Check {
    /// A passed check.
    pub fn pass(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            outcome: Ok(()),
        }
    }

    /// A failed check and why.
    pub fn fail(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            outcome: Err(reason.into()),
        }
    }
}

/// What a provider renders from.
#[derive(Clone, Copy, Debug)]
pub struct RenderInput<'a> {
    /// The spec, defaulted and validated.
    pub spec: &'a Spec,
    /// The objects of the cluster in the store now (empty on create): an upgrade keeps the
    /// names of templates that do not change.
    pub current: &'a [DynamicObject],
    /// The clock, Unix milliseconds: the suffix of new template names.
    pub now_unix_ms: i64,
}

/// A provider failed, in its own words.
pub type ProviderError = Box<dyn std::error::Error + Send + Sync>;

/// An infrastructure provider (see the module docs). Every method but [`Provider::name`]
/// has a default that does nothing.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name as EKS Anywhere prints it: `Tinkerbell`, `Docker`.
    fn name(&self) -> &str;

    /// Fills the provider's defaults into the spec.
    fn set_defaults(&self, spec: &mut Spec) -> Result<(), ProviderError> {
        let _ = spec;
        Ok(())
    }

    /// The provider's offline validations for `command`, each named; the validation task
    /// prints them with ✅/❌ after the provider's setup line.
    fn validations(&self, spec: &Spec, command: Command) -> Vec<Check> {
        let _ = (spec, command);
        Vec::new()
    }

    /// The Cluster API objects of the cluster: a pure function of its input.
    fn render(&self, input: &RenderInput<'_>) -> Result<Vec<DynamicObject>, ProviderError> {
        let _ = input;
        Ok(Vec::new())
    }

    /// Runs before and after each task that runs. Must be idempotent.
    async fn hook(&self, point: HookPoint<'_>, ctx: &mut Context) -> Result<(), TaskError> {
        let _ = (point, ctx);
        Ok(())
    }
}

/// The provider with no infrastructure: no defaults, no checks, nothing rendered, no hooks.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProvider;

impl Provider for NoProvider {
    fn name(&self) -> &str {
        "none"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_eksa_hook_is_at_a_task_of_some_command() {
        for (hook, point) in EKSA_HOOKS {
            let (HookPoint::Before(task) | HookPoint::After(task)) = point;
            assert!(
                Command::ALL.iter().any(|c| c.task_names().contains(task)),
                "{hook} is at {task}, which no command runs"
            );
        }
    }

    #[test]
    fn no_provider_does_nothing() {
        let text = ironbell_cluster_spec::generate("c1", ironbell_cluster_spec::Provider::Docker);
        let mut spec = Spec::parse(&text).expect("spec");
        let before = spec.clone();
        NoProvider.set_defaults(&mut spec).expect("defaults");
        assert_eq!(spec, before);
        assert!(
            NoProvider
                .validations(&spec, Command::create(&spec))
                .is_empty()
        );
        let input = RenderInput {
            spec: &spec,
            current: &[],
            now_unix_ms: 0,
        };
        assert!(NoProvider.render(&input).expect("render").is_empty());
        assert_eq!(Check::fail("x", "y").outcome, Err("y".to_string()));
    }
}
