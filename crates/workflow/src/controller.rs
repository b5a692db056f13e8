//! The workflow state machine, as Tinkerbell's workflow controller runs it:
//!
//! ```text
//! ""  --render--> PREPARING (toggleAllowNetboot or bootMode) | PENDING
//! PREPARING: allowPXE=true on the Hardware; bootMode netboot: BMC Job netboot-<wf> =
//!            [power off, one-time boot PXE (EFI when the Hardware's interface says uefi),
//!            power on], created, then tracked to completion --> PENDING
//!            (isoboot: iso-mount-<wf> = [off, eject, insert ISO, boot CD, on]; customboot:
//!            its preparing actions)
//! PENDING --first report (agent)--> RUNNING
//! RUNNING: globalExecutionStop = first action's start + global_timeout; past it --> TIMEOUT;
//!          the action in progress past its own timeout --> TIMEOUT (the server enforces
//!          both, so a vanished agent does not leave a workflow running forever)
//! RUNNING --last action SUCCESS (agent)--> POST: allowPXE=false; isoboot: eject job
//!          --> SUCCESS
//! any action FAILED / TIMEOUT (agent) --> FAILED / TIMEOUT
//! ```
//!
//! Every step's progress is in `status` (`bootOptions.allowNetboot`, `bootOptions.jobs`,
//! each action's state), and BMC jobs have fixed names, so a restart in any state carries
//! on where it was and never repeats a finished step. Status is written only when it
//! changed.
//!
//! With agent tokens on (`--agent-auth token`, the default), the controller also keeps the
//! Workflow's agent token: a Secret ([`ironbell_model::agent_token`]) created with 32
//! random bytes when it first sees the rendered Workflow, owned by it, and deleted once the
//! Workflow has finished (or is deleted), so a token is only ever good for a Workflow that
//! still runs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ironbell_controller::{Next, Reconcile};
use ironbell_model::agent_token::{self, AgentToken};
use ironbell_model::bmc::{
    Action, Job, JobSpec, MachineRef, PowerAction, VirtualMediaAction, boot_device,
};
use ironbell_model::corev1::ObjectReference;
use ironbell_model::corev1::Secret;
use ironbell_model::template_def::TemplateDefinition;
use ironbell_model::tinkerbell::{
    BootJobStatus, BootMode, Hardware, Template, TemplateRendering, Workflow, WorkflowState,
    WorkflowStatus,
};
use ironbell_model::{ObjectMeta, OwnerReference, Resource};
use ironbell_store::events::Recorder;
use ironbell_store::reflector::ObjectKey;
use ironbell_store::{Api, SharedStore, StoreError};
use tracing::{info, warn};

use crate::status::{self, condition, set_condition};

/// Renders a template's text for a workflow: `(template text, hardwareMap, Hardware)` to
/// the validated template, or a message saying why not.
pub type RenderFn = Arc<
    dyn Fn(&str, &BTreeMap<String, String>, Option<&Hardware>) -> Result<TemplateDefinition, String>
        + Send
        + Sync,
>;

/// The renderer the service uses: `ironbell-template`'s Go-template engine, then
/// Tinkerbell's validation.
pub fn tinkerbell_renderer() -> RenderFn {
    Arc::new(|text, map, hw| {
        ironbell_template::render_and_validate(text, map, hw).map_err(|e| e.to_string())
    })
}

/// How often a boot job is looked at while it runs (its changes also wake the workflow).
const JOB_POLL: Duration = Duration::from_secs(2);

/// A workflow reconcile that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error("workflow {0}: {1}")]
    Store(String, StoreError),
    /// Something the workflow needs is missing or wrong; retried with backoff.
    #[error("workflow {0}: {1}")]
    NotReady(String, String),
}

/// The workflow controller's reconcile.
pub struct Reconciler {
    workflows: Api<Workflow>,
    templates: Api<Template>,
    hardware: Api<Hardware>,
    jobs: Api<Job>,
    secrets: Api<Secret>,
    render: RenderFn,
    agent_tokens: bool,
    events: Recorder,
}

impl Reconciler {
    /// A reconciler over `store`, rendering templates with `render`.
    pub fn new(store: SharedStore, render: RenderFn) -> Self {
        Self {
            workflows: Api::new(store.clone()),
            templates: Api::new(store.clone()),
            hardware: Api::new(store.clone()),
            jobs: Api::new(store.clone()),
            secrets: Api::new(store),
            render,
            agent_tokens: false,
            events: Recorder::disabled(),
        }
    }

    /// Records Events (state changes, render failures) with `events`.
    pub fn with_events(mut self, events: Recorder) -> Self {
        self.events = events;
        self
    }

    /// Records the Event of `wf` entering `state` (see [`state_event`]) on the Workflow
    /// and, for a final state, on its Hardware (the machine's timeline).
    fn record_state(&self, wf: &Workflow, status: &WorkflowStatus, state: &WorkflowState) {
        let Some((warning, reason, message)) = state_event(status, state) else {
            return;
        };
        let mut involved = vec![ObjectReference::of(wf)];
        if state.is_terminal()
            && let Some(hw) = wf.spec.hardware_ref.as_deref().filter(|h| !h.is_empty())
        {
            involved.push(ObjectReference::to::<Hardware>(wf.metadata.namespace(), hw));
        }
        for obj in involved {
            let message = if obj.kind() == Workflow::KIND {
                message.clone()
            } else {
                format!("workflow {}: {message}", wf.metadata.name())
            };
            if warning {
                self.events.warning(obj, reason, message);
            } else {
                self.events.normal(obj, reason, message);
            }
        }
    }

    /// Whether to generate an agent token for each Workflow (token agent-auth mode).
    pub fn with_agent_tokens(mut self, on: bool) -> Self {
        self.agent_tokens = on;
        self
    }

    /// Creates the Workflow's agent token Secret unless it exists.
    async fn ensure_token(&self, wf: &Workflow, status: &WorkflowStatus) -> Result<(), Error> {
        let Some(agent) = status.agent_id.as_deref().filter(|a| !a.is_empty()) else {
            return Ok(());
        };
        let ns = wf.metadata.namespace();
        let name = agent_token::secret_name(wf.metadata.name());
        match self.secrets.get(ns, &name).await {
            Ok(_) => return Ok(()),
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(Error::Store(wf_name(wf), e)),
        }
        let token = AgentToken {
            namespace: ns.to_string(),
            workflow: wf.metadata.name().to_string(),
            agent: agent.to_string(),
            token: new_token(),
            created: None,
        };
        let secret = token.to_secret(wf.metadata.uid.as_deref().unwrap_or_default());
        match self.secrets.create(&secret).await {
            Ok(_) => {
                info!(workflow = %wf_name(wf), %agent, "agent token created");
                Ok(())
            }
            Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(Error::Store(wf_name(wf), e)),
        }
    }

    /// Deletes the agent token of a finished Workflow.
    async fn drop_token(&self, wf: &Workflow) -> Result<(), Error> {
        let name = agent_token::secret_name(wf.metadata.name());
        match self.secrets.delete(wf.metadata.namespace(), &name).await {
            Ok(_) => {
                info!(workflow = %wf_name(wf), "agent token deleted: the workflow has finished");
                Ok(())
            }
            Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::Store(wf_name(wf), e)),
        }
    }
}

/// The Event of a Workflow entering `state`: `(warning, reason, message)`; `None` for
/// the states the agent API reports itself (RUNNING) or that pass at once (POST).
pub fn state_event(
    status: &WorkflowStatus,
    state: &WorkflowState,
) -> Option<(bool, &'static str, String)> {
    let agent = status.agent_id.as_deref().unwrap_or("<none>");
    let why = || status::failure_reason(status).unwrap_or_else(|| "no reason recorded".into());
    Some(match state {
        WorkflowState::Preparing => (
            false,
            "Preparing",
            "preparing the machine to network-boot".to_string(),
        ),
        WorkflowState::Pending => (
            false,
            "Pending",
            format!("template rendered; waiting for agent {agent}"),
        ),
        WorkflowState::Success => (false, "Succeeded", "every action succeeded".to_string()),
        WorkflowState::Failed => (true, "Failed", why()),
        WorkflowState::Timeout => (true, "TimedOut", why()),
        _ => return None,
    })
}

/// A new agent token: 32 random bytes, base64url without padding (43 characters that
/// need no quoting on a kernel command line).
pub fn new_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn wf_name(wf: &Workflow) -> String {
    format!("{}/{}", wf.metadata.namespace(), wf.metadata.name())
}

#[async_trait::async_trait]
impl Reconcile<Workflow> for Reconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let wf = match self.workflows.get(&key.0, &key.1).await {
            Ok(wf) => wf,
            Err(StoreError::NotFound { .. }) => {
                // Deleted: its agent token goes with it.
                let token = agent_token::secret_name(&key.1);
                return match self.secrets.delete(&key.0, &token).await {
                    Ok(_) | Err(StoreError::NotFound { .. }) => Ok(Next::Done),
                    Err(e) => Err(Error::Store(format!("{}/{}", key.0, key.1), e)),
                };
            }
            Err(e) => return Err(Error::Store(format!("{}/{}", key.0, key.1), e)),
        };
        if wf.metadata.deletion_timestamp.is_some() {
            return Ok(Next::Done);
        }
        let mut status = wf.status.clone().unwrap_or_default();
        let state = status.state.clone();
        let (next, result) = match state {
            None => self.new_workflow(&wf, &mut status).await,
            Some(WorkflowState::Preparing) => self.prepare(&wf, &mut status).await,
            Some(WorkflowState::Running) => (running(&mut status, SystemTime::now()), Ok(())),
            Some(WorkflowState::Post) => self.post(&wf, &mut status).await,
            _ => (Next::Done, Ok(())),
        };
        if self.agent_tokens
            && status.template_rendering == Some(TemplateRendering::Successful)
            && !status
                .state
                .as_ref()
                .is_some_and(WorkflowState::is_terminal)
        {
            self.ensure_token(&wf, &status).await?;
        }
        if status
            .state
            .as_ref()
            .is_some_and(WorkflowState::is_terminal)
        {
            self.drop_token(&wf).await?;
        }
        if wf.status.as_ref() != Some(&status) {
            let mut updated = wf.clone();
            updated.status = Some(status);
            if let Some(s) = updated.status.as_ref().and_then(|s| s.state.as_ref())
                && wf.status.as_ref().and_then(|s| s.state.as_ref()) != Some(s)
            {
                info!(workflow = %wf_name(&wf), state = %s, "workflow state");
                if let Some(status) = updated.status.as_ref() {
                    self.record_state(&wf, status, s);
                }
            }
            // A conflict means someone (the gRPC server) wrote meanwhile: reconcile again
            // on a fresh copy rather than overwrite their change.
            self.workflows
                .update_status(&updated)
                .await
                .map_err(|e| Error::Store(wf_name(&wf), e))?;
        }
        result.map(|()| next)
    }
}

impl Reconciler {
    /// A new workflow: render its template into tasks and actions.
    async fn new_workflow(
        &self,
        wf: &Workflow,
        status: &mut WorkflowStatus,
    ) -> (Next, Result<(), Error>) {
        let name = wf_name(wf);
        let ns = wf.metadata.namespace();
        // Something missing (the Template, the Hardware) may yet come: retried with
        // backoff, the state left empty. What cannot change by waiting (no templateRef, a
        // template that does not render) fails the Workflow, with the reason in its
        // TemplateRenderedSuccess condition.
        let failed = |status: &mut WorkflowStatus, msg: String| {
            status.template_rendering = Some(TemplateRendering::Failed);
            set_condition(
                status,
                status::condition(
                    condition::TEMPLATE_RENDERED_SUCCESS,
                    false,
                    "Error",
                    msg.clone(),
                ),
            );
            self.events
                .warning(ObjectReference::of(wf), "TemplateNotRendered", msg.clone());
            (Next::Done, Err(Error::NotReady(name.clone(), msg)))
        };
        let fatal = |status: &mut WorkflowStatus, msg: String| {
            status.template_rendering = Some(TemplateRendering::Failed);
            set_condition(
                status,
                status::condition(condition::TEMPLATE_RENDERED_SUCCESS, false, "Error", msg),
            );
            status.state = Some(WorkflowState::Failed);
            (Next::Done, Ok(()))
        };
        let Some(template_ref) = wf.spec.template_ref.as_deref().filter(|t| !t.is_empty()) else {
            return fatal(status, "spec.templateRef is empty".into());
        };
        let template = match self.templates.get(ns, template_ref).await {
            Ok(t) => t,
            Err(StoreError::NotFound { .. }) => return failed(status, "template not found".into()),
            Err(e) => return (Next::Done, Err(Error::Store(name, e))),
        };
        let hardware = match wf.spec.hardware_ref.as_deref() {
            Some(h) if !h.is_empty() => match self.hardware.get(ns, h).await {
                Ok(hw) => Some(hw),
                Err(StoreError::NotFound { .. }) => {
                    return failed(status, format!("hardware not found: {ns}/{h}"));
                }
                Err(e) => return (Next::Done, Err(Error::Store(name, e))),
            },
            _ => None,
        };
        let text = template.spec.data.clone().unwrap_or_default();
        let map = wf.spec.hardware_map.clone().unwrap_or_default();
        let def = match (self.render)(&text, &map, hardware.as_ref()) {
            Ok(def) => def,
            Err(msg) => {
                return fatal(
                    status,
                    format!("error rendering template {ns}/{template_ref}: {msg}"),
                );
            }
        };
        let conditions = status.conditions.take();
        *status = status::from_template(&def);
        status.conditions = conditions;
        status.template_rendering = Some(TemplateRendering::Successful);
        set_condition(
            status,
            status::condition(
                condition::TEMPLATE_RENDERED_SUCCESS,
                true,
                "Complete",
                "template rendered successfully",
            ),
        );
        if wf.spec.disabled == Some(true) {
            // Rendered, but nothing runs until it is enabled: keep the state empty.
            return (Next::Done, Ok(()));
        }
        let boot = wf.spec.boot_options.as_ref();
        let needs_prep =
            boot.is_some_and(|b| b.toggle_allow_netboot == Some(true) || b.boot_mode.is_some());
        status.state = Some(if needs_prep {
            WorkflowState::Preparing
        } else {
            WorkflowState::Pending
        });
        (Next::After(Duration::ZERO), Ok(()))
    }

    /// PREPARING: allow netboot, run the boot job.
    async fn prepare(
        &self,
        wf: &Workflow,
        status: &mut WorkflowStatus,
    ) -> (Next, Result<(), Error>) {
        let boot = wf.spec.boot_options.clone().unwrap_or_default();
        if boot.toggle_allow_netboot == Some(true)
            && let Err(e) = self.toggle_netboot(wf, status, true).await
        {
            status.state = Some(WorkflowState::Failed);
            return (Next::Done, Err(e));
        }
        let job = match boot.boot_mode {
            Some(BootMode::Netboot) => {
                let hw = match self.hardware_of(wf).await {
                    Ok(hw) => hw,
                    Err(e) => {
                        set_condition(
                            status,
                            status::condition(
                                condition::BOOT_JOB_SETUP_FAILED,
                                false,
                                "Error",
                                e.to_string(),
                            ),
                        );
                        status.state = Some(WorkflowState::Failed);
                        return (Next::Done, Err(e));
                    }
                };
                Some((
                    "netboot",
                    vec![
                        Action::power(PowerAction::Off),
                        Action::one_time_boot(boot_device::PXE, efi(&hw)),
                        Action::power(PowerAction::On),
                    ],
                ))
            }
            Some(BootMode::Isoboot) | Some(BootMode::Iso) => {
                let Some(url) = boot.iso_url.clone().filter(|u| !u.is_empty()) else {
                    status.state = Some(WorkflowState::Failed);
                    return (
                        Next::Done,
                        Err(Error::NotReady(
                            wf_name(wf),
                            "iso url must be a valid url".into(),
                        )),
                    );
                };
                let hw = match self.hardware_of(wf).await {
                    Ok(hw) => hw,
                    Err(e) => {
                        status.state = Some(WorkflowState::Failed);
                        return (Next::Done, Err(e));
                    }
                };
                Some((
                    "iso-mount",
                    vec![
                        Action::power(PowerAction::Off),
                        media(None),
                        media(Some(url)),
                        Action::one_time_boot(boot_device::CDROM, efi(&hw)),
                        Action::power(PowerAction::On),
                    ],
                ))
            }
            Some(BootMode::Customboot) => Some((
                "customboot-preparing",
                boot.customboot_config
                    .and_then(|c| c.preparing_actions)
                    .unwrap_or_default(),
            )),
            None => None,
        };
        if let Some((prefix, actions)) = job {
            let name = format!("{prefix}-{}", wf.metadata.name());
            match self.handle_job(wf, status, &name, actions).await {
                Ok(true) => {}
                Ok(false) => return (Next::After(JOB_POLL), Ok(())),
                Err(e) => {
                    status.state = Some(WorkflowState::Failed);
                    return (Next::Done, Err(e));
                }
            }
        }
        if status.state == Some(WorkflowState::Preparing) {
            status.state = Some(WorkflowState::Pending);
        }
        (Next::Done, Ok(()))
    }

    /// POST: take netboot away again, eject media; then the final state.
    async fn post(&self, wf: &Workflow, status: &mut WorkflowStatus) -> (Next, Result<(), Error>) {
        let boot = wf.spec.boot_options.clone().unwrap_or_default();
        if boot.toggle_allow_netboot == Some(true)
            && let Err(e) = self.toggle_netboot(wf, status, false).await
        {
            status.state = Some(WorkflowState::Failed);
            return (Next::Done, Err(e));
        }
        let job = match boot.boot_mode {
            Some(BootMode::Isoboot) | Some(BootMode::Iso) => Some(("iso-eject", vec![media(None)])),
            Some(BootMode::Customboot) => {
                let post = boot
                    .customboot_config
                    .and_then(|c| c.post_actions)
                    .unwrap_or_default();
                (!post.is_empty()).then_some(("customboot-post", post))
            }
            _ => None,
        };
        if let Some((prefix, actions)) = job {
            let name = format!("{prefix}-{}", wf.metadata.name());
            match self.handle_job(wf, status, &name, actions).await {
                Ok(true) => {}
                Ok(false) => return (Next::After(JOB_POLL), Ok(())),
                Err(e) => {
                    status.state = Some(WorkflowState::Failed);
                    return (Next::Done, Err(e));
                }
            }
        }
        status.state = Some(
            status
                .current_state
                .as_ref()
                .and_then(|c| c.state.clone())
                .unwrap_or(WorkflowState::Success),
        );
        (Next::Done, Ok(()))
    }

    async fn hardware_of(&self, wf: &Workflow) -> Result<Hardware, Error> {
        let ns = wf.metadata.namespace();
        let name = wf.spec.hardware_ref.clone().unwrap_or_default();
        self.hardware.get(ns, &name).await.map_err(|e| match e {
            StoreError::NotFound { .. } => Error::NotReady(
                wf_name(wf),
                format!("hardware not found: name={name}; namespace={ns}"),
            ),
            e => Error::Store(wf_name(wf), e),
        })
    }

    /// Sets `allowPXE` on every interface of the workflow's Hardware, once per direction.
    async fn toggle_netboot(
        &self,
        wf: &Workflow,
        status: &mut WorkflowStatus,
        allow: bool,
    ) -> Result<(), Error> {
        let boot = status.boot_options.get_or_insert_with(Default::default);
        let flags = boot.allow_netboot.get_or_insert_with(Default::default);
        let done = if allow {
            flags.toggled_true
        } else {
            flags.toggled_false
        };
        if done == Some(true) {
            return Ok(());
        }
        let ns = wf.metadata.namespace().to_string();
        let name = wf.spec.hardware_ref.clone().unwrap_or_default();
        let cond_type = if allow {
            condition::TOGGLE_ALLOW_NETBOOT_TRUE
        } else {
            condition::TOGGLE_ALLOW_NETBOOT_FALSE
        };
        let result = self
            .hardware
            .modify(&ns, &name, |hw| {
                for iface in hw.spec.interfaces.iter_mut().flatten() {
                    iface.netboot.get_or_insert_with(Default::default).allow_pxe = Some(allow);
                }
            })
            .await;
        match result {
            Ok(_) => {
                let flags = status
                    .boot_options
                    .get_or_insert_with(Default::default)
                    .allow_netboot
                    .get_or_insert_with(Default::default);
                if allow {
                    flags.toggled_true = Some(true);
                } else {
                    flags.toggled_false = Some(true);
                }
                set_condition(
                    status,
                    status::condition(
                        cond_type,
                        true,
                        "Complete",
                        format!("set allowPXE to {allow}"),
                    ),
                );
                info!(workflow = %wf_name(wf), hardware = %name, allow, "allowPXE set");
                Ok(())
            }
            Err(e) => {
                set_condition(
                    status,
                    status::condition(
                        cond_type,
                        false,
                        "Error",
                        format!("error setting allowPXE to {allow}: {e}"),
                    ),
                );
                Err(Error::Store(wf_name(wf), e))
            }
        }
    }

    /// Runs BMC job `name` to completion: deletes one left from an earlier run of this
    /// workflow, creates it (owned by the workflow), then tracks it. `Ok(true)` once it
    /// completed, `Ok(false)` while it runs.
    async fn handle_job(
        &self,
        wf: &Workflow,
        status: &mut WorkflowStatus,
        name: &str,
        actions: Vec<Action>,
    ) -> Result<bool, Error> {
        let ns = wf.metadata.namespace().to_string();
        let wfname = wf_name(wf);
        let jobs = status
            .boot_options
            .get_or_insert_with(Default::default)
            .jobs
            .get_or_insert_with(BTreeMap::new);
        let entry = jobs.entry(name.to_string()).or_default();
        if entry.complete == Some(true) {
            return Ok(true);
        }
        if actions.is_empty() {
            entry.complete = Some(true);
            return Ok(true);
        }
        // A job of this name from before this workflow (a re-run): delete it first.
        if entry.existing_job_deleted != Some(true) {
            match self.jobs.get(&ns, name).await {
                Ok(old) if !owned_by(&old.metadata, wf) => {
                    match self.jobs.delete(&ns, name).await {
                        Ok(_) | Err(StoreError::NotFound { .. }) => {}
                        Err(e) => return Err(Error::Store(wfname, e)),
                    }
                    info!(workflow = %wfname, job = name, "deleted an existing job of the same name");
                }
                Ok(_) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(Error::Store(wfname, e)),
            }
            entry.existing_job_deleted = Some(true);
        }
        let job = match self.jobs.get(&ns, name).await {
            Ok(job) => job,
            Err(StoreError::NotFound { .. }) => {
                let hw = self.hardware_of(wf).await?;
                let Some(bmc) = hw.spec.bmc_ref.as_ref() else {
                    let msg = format!("hardware {:?} does not have a BMC", hw.metadata.name());
                    set_condition(
                        status,
                        status::condition(
                            condition::BOOT_JOB_SETUP_FAILED,
                            true,
                            "Error",
                            msg.clone(),
                        ),
                    );
                    return Err(Error::NotReady(wfname, msg));
                };
                let mut meta = ObjectMeta::named(ns.clone(), name);
                meta.owner_references = Some(vec![OwnerReference {
                    api_version: Workflow::API_VERSION.to_string(),
                    kind: Workflow::KIND.to_string(),
                    name: wf.metadata.name().to_string(),
                    uid: wf.metadata.uid.clone().unwrap_or_default(),
                    controller: Some(true),
                    block_owner_deletion: None,
                }]);
                let job = Job {
                    metadata: meta,
                    spec: JobSpec {
                        machine_ref: MachineRef {
                            name: bmc.name.clone(),
                            namespace: ns.clone(),
                        },
                        tasks: actions,
                    },
                    ..Job::default()
                };
                match self.jobs.create(&job).await {
                    Ok(created) => {
                        info!(workflow = %wfname, job = name, "boot job created");
                        set_condition(
                            status,
                            status::condition(
                                condition::BOOT_JOB_SETUP_COMPLETE,
                                true,
                                "Created",
                                "job created",
                            ),
                        );
                        created
                    }
                    Err(StoreError::AlreadyExists { .. }) => return Ok(false),
                    Err(e) => {
                        set_condition(
                            status,
                            status::condition(
                                condition::BOOT_JOB_SETUP_FAILED,
                                true,
                                "Error",
                                format!("error creating job: {e}"),
                            ),
                        );
                        return Err(Error::Store(wfname, e));
                    }
                }
            }
            Err(e) => return Err(Error::Store(wfname, e)),
        };
        let jobs = status
            .boot_options
            .get_or_insert_with(Default::default)
            .jobs
            .get_or_insert_with(BTreeMap::new);
        let entry: &mut BootJobStatus = jobs.entry(name.to_string()).or_default();
        entry.uid = job.metadata.uid.clone();
        let conds = job.status.as_ref().and_then(|s| s.conditions.as_ref());
        let has =
            |t: &str| conds.is_some_and(|c| c.iter().any(|c| c.type_ == t && c.status == "True"));
        if has("Failed") {
            let msg = conds
                .and_then(|c| c.iter().find(|c| c.type_ == "Failed"))
                .and_then(|c| c.message.clone())
                .unwrap_or_default();
            let msg = format!("job {name} failed: {msg}");
            set_condition(
                status,
                status::condition(condition::BOOT_JOB_FAILED, true, "Error", msg.clone()),
            );
            warn!(workflow = %wfname, "{msg}");
            return Err(Error::NotReady(wfname, msg));
        }
        if has("Completed") {
            entry.complete = Some(true);
            set_condition(
                status,
                status::condition(
                    condition::BOOT_JOB_COMPLETE,
                    true,
                    "Complete",
                    "job completed",
                ),
            );
            info!(workflow = %wfname, job = name, "boot job completed");
            return Ok(true);
        }
        Ok(false)
    }
}

/// RUNNING: sets the global deadline once the first action started, and times the
/// workflow out past it or past the running action's own timeout.
pub fn running(status: &mut WorkflowStatus, now: SystemTime) -> Next {
    if status.global_execution_stop.is_none()
        && let Some(start) = status::first_action(status)
            .and_then(|a| a.execution_start)
            .map(SystemTime::from)
    {
        let secs = u64::try_from(status.global_timeout.unwrap_or(0)).unwrap_or(0);
        if let Some(stop) = start
            .checked_add(Duration::from_secs(secs))
            .filter(|_| secs > 0)
        {
            status.global_execution_stop = Some(status::timestamp(stop));
        }
    }
    let global = status.global_execution_stop.map(SystemTime::from);
    if global.is_some_and(|g| now >= g) {
        status.state = Some(WorkflowState::Timeout);
        time_out_current(status, "global timeout reached");
        return Next::Done;
    }
    let action = status::current_action(status).and_then(|(_, a)| status::action_deadline(a));
    if action.is_some_and(|d| now >= d) {
        status.state = Some(WorkflowState::Timeout);
        time_out_current(
            status,
            "action timeout reached; the agent did not report in time",
        );
        return Next::Done;
    }
    match [global, action].into_iter().flatten().min() {
        Some(d) => {
            Next::After(d.duration_since(now).unwrap_or_default() + Duration::from_millis(100))
        }
        // Nothing to time yet: the first report starts the clock and wakes us.
        None => Next::Done,
    }
}

/// Marks the action in progress TIMEOUT with `message`.
fn time_out_current(status: &mut WorkflowStatus, message: &str) {
    let Some(action_id) = status
        .current_state
        .as_ref()
        .and_then(|c| c.action_id.clone())
    else {
        return;
    };
    let mut failed = None;
    for task in status.tasks.iter_mut().flatten() {
        for action in &mut task.actions {
            if action.id == action_id
                && !action
                    .state
                    .as_ref()
                    .is_some_and(WorkflowState::is_terminal)
            {
                action.state = Some(WorkflowState::Timeout);
                action.message = Some(message.to_string());
                action.execution_stop = Some(status::now());
                failed = Some((task.name.clone(), action.name.clone().unwrap_or_default()));
            }
        }
    }
    if let Some((task, action)) = failed {
        status::set_action_failed(status, &task, &action, &WorkflowState::Timeout, message);
    }
    if let Some(cur) = status.current_state.as_mut() {
        cur.state = Some(WorkflowState::Timeout);
    }
}

fn media(url: Option<String>) -> Action {
    Action {
        virtual_media_action: Some(VirtualMediaAction {
            media_url: url,
            kind: "CD".into(),
        }),
        ..Action::default()
    }
}

/// Whether any interface of `hw` boots UEFI.
fn efi(hw: &Hardware) -> bool {
    hw.interfaces()
        .iter()
        .any(|i| i.dhcp.as_ref().and_then(|d| d.uefi) == Some(true))
}

fn owned_by(meta: &ObjectMeta, wf: &Workflow) -> bool {
    meta.owner_references.iter().flatten().any(|o| {
        o.kind == Workflow::KIND
            && o.name == wf.metadata.name()
            && Some(&o.uid) == wf.metadata.uid.as_ref()
    })
}
