//! The `TinkerbellMachine` controller, with CAPT v0.6.5's semantics
//! (`controller/machine/*.go`, LIFECYCLE.md 2.2). Level-triggered: every reconcile reads
//! the machine, its Hardware, Template, Workflow and Job afresh, writes only what differs,
//! and can stop anywhere; the next reconcile (after a restart too) carries on.
//!
//! **Create**, once the gate opens (the owner Cluster API `Machine` has
//! `spec.bootstrap.dataSecretName` and `spec.version`, its `Cluster` is not paused, the
//! bootstrap Secret's `value` is non-empty, the `TinkerbellCluster` is ready):
//!
//! 1. the machine gets the [`MACHINE_FINALIZER`];
//! 2. a Hardware is chosen ([`selection::select`]) and claimed in one write guarded by its
//!    `resourceVersion` (two machines racing for one Hardware: the loser gets a conflict
//!    and chooses again): the [`OWNER_NAME_LABEL`] / [`OWNER_NAMESPACE_LABEL`] labels, the
//!    finalizer, and `spec.userData` = the bootstrap data with [`PROVIDER_ID_PLACEHOLDER`]
//!    replaced;
//! 3. `spec.hardwareName`, `spec.providerID = tinkerbell://<hw.ns>/<hw.name>`,
//!    `status.addresses` (the first interface's DHCP address, `InternalIP`);
//! 4. a Hardware already annotated [`PROVISIONED_ANNOTATION`] (it came over in a move)
//!    makes the machine ready at once;
//! 5. otherwise the Template (the `templateOverride`, or [`template::default_template`])
//!    and the Workflow, both named after the machine and owned by it; the Workflow maps
//!    `device_1` to `hw.spec.metadata.instance.id` (the first MAC when there is none) and
//!    asks the workflow service to toggle `allowPXE`, and to network-boot the machine
//!    through its BMC (`bootMode: netboot`, or `iso` when the machine's boot options say
//!    so) when the Hardware has a `bmcRef`;
//! 6. `SUCCESS`: `status.ready` and the Hardware annotation; `FAILED` / `TIMEOUT`: the
//!    [`CONDITION_PROVISIONED`] condition `False` with the failing action's message, and
//!    nothing more: a failed provisioning is not retried (delete the Workflow to retry).
//!
//! **Delete** (`metadata.deletionTimestamp` set, see [`crate::request_delete`]), unless the
//! machine or its cluster is paused (a move deletes the objects of a paused source, and
//! the machines must not be powered off for it, as CAPT returns early when paused): remove the
//! Template and Workflow; if the Hardware has a `bmcRef`, create the BMC Job
//! `<machine>-poweroff` (`powerAction: off`) and wait for it to complete (a failed one is
//! deleted and created again, with backoff); release the Hardware (labels, annotation,
//! finalizer; its `userData` stays, as CAPT leaves it); delete the Job; drop the finalizer
//! and delete the machine. A machine whose Hardware is gone only loses its Template,
//! Workflow and finalizer.
//!
//! Where it differs from CAPT: there is no garbage collector in the store, so the
//! power-off Job is deleted here once done, and so are the BMC Jobs the workflow service
//! made for the machine's Workflow (`netboot-<workflow>`, owned by the Workflow); a failed power-off Job is retried instead of
//! blocking the delete forever.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ironbell_controller::{Controller, Next, Reconcile};
use ironbell_model::bmc::{Action, Job, JobCondition, JobSpec, MachineRef, PowerAction};
use ironbell_model::corev1::Secret;
use ironbell_model::tinkerbell::{
    BootMode, BootOptions, Hardware, Interface, Template, TemplateSpec, Workflow, WorkflowSpec,
    WorkflowState,
};
use ironbell_model::{Condition, ObjectMeta, OwnerReference, Resource};
use ironbell_store::reflector::ObjectKey;
use ironbell_store::{Api, ListParams, SharedStore, StoreError, api};
use tracing::{Instrument, info, info_span, warn};

use crate::api::{MachineAddress, TinkerbellCluster, TinkerbellMachine, TinkerbellMachineStatus};
use crate::capi_view::{ClusterView, MachineView, owner_of_kind};
use crate::error::Error;
use crate::{
    CLUSTER_NAME_LABEL, CONDITION_PROVISIONED, MACHINE_FINALIZER, OWNER_NAME_LABEL,
    OWNER_NAMESPACE_LABEL, PAUSED_ANNOTATION, PROVIDER_ID_PLACEHOLDER, PROVISIONED_ANNOTATION,
    add_finalizer, has_finalizer, remove_finalizer, selection, template,
};

/// How the machine controller behaves.
#[derive(Clone, Debug)]
pub struct Config {
    /// The Tinkerbell IP the default template points cloud-init at.
    pub tinkerbell_ip: String,
    /// The metadata service's port there ([`template::METADATA_PORT`], Hegel's, by
    /// default).
    pub metadata_port: u16,
    /// How long to wait before looking again while the gate is closed (CAPT: 30 s for
    /// the bootstrap data).
    pub wait: Duration,
    /// Machines reconciled at once.
    pub concurrency: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            tinkerbell_ip: String::new(),
            metadata_port: template::METADATA_PORT,
            wait: Duration::from_secs(30),
            concurrency: 4,
        }
    }
}

/// Reconciles `TinkerbellMachine`s (see the module documentation).
pub struct MachineReconciler {
    store: SharedStore,
    config: Config,
    machines: Api<TinkerbellMachine>,
    clusters: Api<TinkerbellCluster>,
    hardware: Api<Hardware>,
    templates: Api<Template>,
    workflows: Api<Workflow>,
    jobs: Api<Job>,
    secrets: Api<Secret>,
}

/// The key of the machine that owns `meta` through an owner reference.
fn owning_machine(meta: &ObjectMeta, key: &ObjectKey) -> Vec<ObjectKey> {
    meta.owner_references
        .iter()
        .flatten()
        .filter(|r| {
            r.kind == TinkerbellMachine::KIND && r.api_version == TinkerbellMachine::API_VERSION
        })
        .map(|r| (key.0.clone(), r.name.clone()))
        .collect()
}

impl MachineReconciler {
    /// A reconciler over `store`.
    pub fn new(store: SharedStore, config: Config) -> Self {
        Self {
            machines: api(&store),
            clusters: api(&store),
            hardware: api(&store),
            templates: api(&store),
            workflows: api(&store),
            jobs: api(&store),
            secrets: api(&store),
            store,
            config,
        }
    }

    /// Runs the controller until the task is dropped: every machine, and again whenever
    /// its Hardware (by the ownership labels), Workflow or power-off Job changes.
    pub async fn run(self) {
        let concurrency = self.config.concurrency;
        let controller =
            Controller::<TinkerbellMachine>::new("tinkerbellmachine", self.store.clone())
                .watches::<Hardware>(|_, hw| {
                    hw.and_then(|hw| {
                        let name = hw.metadata.label(OWNER_NAME_LABEL)?;
                        let ns = hw.metadata.label(OWNER_NAMESPACE_LABEL)?;
                        Some((ns.to_string(), name.to_string()))
                    })
                    .into_iter()
                    .collect()
                })
                .watches::<Workflow>(|key, wf| {
                    wf.map(|w| owning_machine(&w.metadata, key))
                        .unwrap_or_default()
                })
                .watches::<Job>(|key, job| {
                    job.map(|j| owning_machine(&j.metadata, key))
                        .unwrap_or_default()
                });
        controller.run(Arc::new(self), concurrency).await;
    }
}

#[async_trait::async_trait]
impl Reconcile<TinkerbellMachine> for MachineReconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let span =
            info_span!("tinkerbellmachine", tinkerbellmachine = %format!("{}/{}", key.0, key.1));
        self.reconcile_machine(key).instrument(span).await
    }
}

/// What the gate lets through.
struct Gate {
    bootstrap: String,
    version: String,
    cluster: TinkerbellCluster,
}

fn name_of<K: Resource>(obj: &K) -> String {
    format!("{} {}/{}", K::KIND, obj.namespace(), obj.name())
}

fn owner_ref(tm: &TinkerbellMachine) -> OwnerReference {
    OwnerReference {
        api_version: TinkerbellMachine::API_VERSION.to_string(),
        kind: TinkerbellMachine::KIND.to_string(),
        name: tm.name().to_string(),
        uid: tm.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn owned_meta(tm: &TinkerbellMachine, name: &str) -> ObjectMeta {
    let mut meta = ObjectMeta::named(tm.namespace(), name);
    meta.owner_references = Some(vec![owner_ref(tm)]);
    meta
}

/// Whether `hw` carries the provisioned annotation (`"true"`).
fn is_provisioned(hw: &Hardware) -> bool {
    hw.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROVISIONED_ANNOTATION))
        .is_some_and(|v| v == "true")
}

fn has_paused_annotation(meta: &ObjectMeta) -> bool {
    meta.annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(PAUSED_ANNOTATION))
}

/// The name of the power-off Job of machine `tm`.
pub fn poweroff_job_name(tm: &str) -> String {
    format!("{tm}-poweroff")
}

fn condition(status: bool, reason: &str, message: Option<String>) -> Condition {
    Condition {
        type_: CONDITION_PROVISIONED.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        last_transition_time: Some(ironbell_model::values::now()),
        reason: Some(reason.to_string()),
        message,
        ..Condition::default()
    }
}

/// Sets `new` in `conditions`, keeping the transition time when the status is unchanged.
fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) {
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

/// The failing action of a failed workflow, as `action "NAME": MESSAGE (STATE)`.
fn failure_message(wf: &Workflow) -> String {
    let state = wf.state();
    let failed = wf
        .status
        .iter()
        .flat_map(|s| s.tasks.iter().flatten())
        .flat_map(|t| t.actions.iter())
        .find(|a| {
            matches!(
                a.state,
                Some(WorkflowState::Failed) | Some(WorkflowState::Timeout)
            )
        });
    match failed {
        Some(a) => format!(
            "Workflow {}/{} {state}: action {:?} {}: {}",
            wf.namespace(),
            wf.name(),
            a.name.as_deref().unwrap_or(&a.id),
            a.state.as_ref().map_or("", WorkflowState::as_str),
            a.message.as_deref().unwrap_or("no message")
        ),
        None => format!("Workflow {}/{} {state}", wf.namespace(), wf.name()),
    }
}

/// `http://host/iso/hook.iso` with `mac` as a path segment before the file name.
fn iso_url_for(url: &str, mac: &str) -> String {
    let mac = mac.replace(':', "-");
    match url.rsplit_once('/') {
        Some((head, file)) if !head.ends_with('/') => format!("{head}/{mac}/{file}"),
        _ => format!("{url}/{mac}"),
    }
}

impl MachineReconciler {
    async fn reconcile_machine(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let mut tm = match self.machines.get(ns, name).await {
            Ok(tm) => tm,
            Err(e) if e.is_not_found() => return Ok(Next::Done),
            Err(e) => {
                return Err(Error::store(format!("get TinkerbellMachine {ns}/{name}"))(
                    e,
                ));
            }
        };
        if tm.metadata.deletion_timestamp.is_some() {
            return self.delete(&tm).await;
        }
        let Some(gate) = self.gate(&tm).await? else {
            return Ok(Next::After(self.config.wait));
        };
        if !has_finalizer(&tm, MACHINE_FINALIZER) {
            add_finalizer(&mut tm, MACHINE_FINALIZER);
            tm = self.update_machine(&tm, "add the finalizer to").await?;
        }
        let hw = self.claim(&tm, &gate).await?;
        let provider_id = format!("tinkerbell://{}/{}", hw.namespace(), hw.name());
        if tm.spec.hardware_name.as_deref() != Some(hw.name())
            || tm.spec.provider_id.as_deref() != Some(provider_id.as_str())
        {
            if tm.spec.hardware_name.is_none() {
                info!(hardware = %name_of(&hw), "selected Hardware");
            }
            tm.spec.hardware_name = Some(hw.name().to_string());
            tm.spec.provider_id = Some(provider_id);
            tm = self.update_machine(&tm, "set the Hardware of").await?;
        }
        let addresses: Vec<MachineAddress> = hw
            .interfaces()
            .first()
            .and_then(Interface::ip_address)
            .map(|ip| MachineAddress {
                type_: "InternalIP".into(),
                address: ip.to_string(),
            })
            .into_iter()
            .collect();
        if is_provisioned(&hw) {
            self.set_status(&tm, |s| {
                s.addresses = addresses.clone();
                s.ready = true;
            })
            .await?;
            return Ok(Next::Done);
        }
        self.ensure_template(&tm, &hw, &gate).await?;
        let wf = self.ensure_workflow(&tm, &hw).await?;
        match wf.state() {
            WorkflowState::Success => {
                self.mark_provisioned(&hw).await?;
                self.set_status(&tm, |s| {
                    s.addresses = addresses.clone();
                    s.ready = true;
                    s.error_reason = None;
                    s.error_message = None;
                    set_condition(
                        &mut s.conditions,
                        condition(true, "WorkflowSucceeded", None),
                    );
                })
                .await?;
                info!(hardware = %name_of(&hw), "provisioned");
            }
            WorkflowState::Failed | WorkflowState::Timeout => {
                let message = failure_message(&wf);
                let reason = if wf.state() == WorkflowState::Timeout {
                    "WorkflowTimeout"
                } else {
                    "WorkflowFailed"
                };
                let changed = self
                    .set_status(&tm, |s| {
                        s.addresses = addresses.clone();
                        s.ready = false;
                        s.error_reason = Some("CreateError".into());
                        s.error_message = Some(message.clone());
                        set_condition(
                            &mut s.conditions,
                            condition(false, reason, Some(message.clone())),
                        );
                    })
                    .await?;
                if changed {
                    warn!(hardware = %name_of(&hw), "{message}; not retried");
                }
            }
            _ => {
                self.set_status(&tm, |s| s.addresses = addresses.clone())
                    .await?;
            }
        }
        Ok(Next::Done)
    }

    async fn update_machine(
        &self,
        tm: &TinkerbellMachine,
        what: &str,
    ) -> Result<TinkerbellMachine, Error> {
        self.machines
            .update(tm)
            .await
            .map_err(Error::store(format!("{what} {}", name_of(tm))))
    }

    /// Changes the machine's status with `change`, writing only when it differs. Returns
    /// whether it wrote.
    async fn set_status(
        &self,
        tm: &TinkerbellMachine,
        change: impl Fn(&mut TinkerbellMachineStatus),
    ) -> Result<bool, Error> {
        let mut status = tm.status.clone().unwrap_or_default();
        change(&mut status);
        if tm.status.as_ref() == Some(&status) {
            return Ok(false);
        }
        let mut updated = tm.clone();
        updated.status = Some(status);
        self.machines
            .update_status(&updated)
            .await
            .map_err(Error::store(format!(
                "update the status of {}",
                name_of(tm)
            )))?;
        Ok(true)
    }

    /// Whether the machine or its cluster is paused (`cluster.x-k8s.io/paused` on the
    /// machine, or the `Cluster` paused). The cluster is the one the machine's
    /// `cluster.x-k8s.io/cluster-name` label names, else its `Machine`'s.
    async fn paused(&self, tm: &TinkerbellMachine) -> Result<bool, Error> {
        let ns = tm.namespace();
        if has_paused_annotation(&tm.metadata) {
            return Ok(true);
        }
        let mut cluster_name = tm.metadata.label(CLUSTER_NAME_LABEL).map(String::from);
        if cluster_name.is_none()
            && let Some(owner) = owner_of_kind(&tm.metadata, "Machine")
            && let Some(machine) = MachineView::get(&self.store, ns, &owner.name).await?
        {
            cluster_name = machine.cluster_name;
        }
        let Some(cluster_name) = cluster_name else {
            return Ok(false);
        };
        Ok(ClusterView::get(&self.store, ns, &cluster_name)
            .await?
            .is_some_and(|c| c.paused))
    }

    /// CAPT's gate; `None` while something is not there yet.
    async fn gate(&self, tm: &TinkerbellMachine) -> Result<Option<Gate>, Error> {
        let ns = tm.namespace();
        let Some(owner) = owner_of_kind(&tm.metadata, "Machine") else {
            return Ok(None);
        };
        let Some(machine) = MachineView::get(&self.store, ns, &owner.name).await? else {
            return Ok(None);
        };
        let (Some(secret_name), Some(version)) = (machine.data_secret_name, machine.version) else {
            return Ok(None);
        };
        let Some(cluster_name) = machine.cluster_name else {
            return Ok(None);
        };
        let Some(cluster) = ClusterView::get(&self.store, ns, &cluster_name).await? else {
            return Ok(None);
        };
        if cluster.paused || has_paused_annotation(&tm.metadata) {
            return Ok(None);
        }
        let bootstrap = match self.secrets.get(ns, &secret_name).await {
            Ok(s) => s.get_str("value").unwrap_or_default().to_string(),
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => {
                return Err(Error::store(format!(
                    "get bootstrap Secret {ns}/{secret_name}"
                ))(e));
            }
        };
        if bootstrap.is_empty() {
            return Ok(None);
        }
        let infra = cluster.infrastructure_name.unwrap_or(cluster_name);
        let tc = match self.clusters.get(ns, &infra).await {
            Ok(tc) => tc,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => {
                return Err(Error::store(format!("get TinkerbellCluster {ns}/{infra}"))(
                    e,
                ));
            }
        };
        if !tc.status.as_ref().is_some_and(|s| s.ready) {
            return Ok(None);
        }
        Ok(Some(Gate {
            bootstrap,
            version,
            cluster: tc,
        }))
    }

    /// Every Hardware of every namespace.
    async fn all_hardware(&self) -> Result<Vec<Hardware>, Error> {
        Ok(self
            .hardware
            .list(&ListParams::default())
            .await
            .map_err(Error::store("list Hardware"))?
            .0)
    }

    /// Chooses the machine's Hardware and claims it (labels, finalizer, user-data) in one
    /// write guarded by the Hardware's `resourceVersion`.
    async fn claim(&self, tm: &TinkerbellMachine, gate: &Gate) -> Result<Hardware, Error> {
        let all = self.all_hardware().await?;
        let affinity = tm.spec.hardware_affinity.as_ref();
        let hw = selection::select(tm.namespace(), tm.name(), affinity, &all)?;
        let provider_id = format!("tinkerbell://{}/{}", hw.namespace(), hw.name());
        let user_data = gate
            .bootstrap
            .replace(PROVIDER_ID_PLACEHOLDER, &provider_id);
        let mut claimed = hw.clone();
        let labels = claimed.metadata.labels.get_or_insert_with(BTreeMap::new);
        labels.insert(OWNER_NAME_LABEL.into(), tm.name().into());
        labels.insert(OWNER_NAMESPACE_LABEL.into(), tm.namespace().into());
        add_finalizer(&mut claimed, MACHINE_FINALIZER);
        claimed.spec.user_data = Some(user_data);
        if &claimed == hw {
            return Ok(claimed);
        }
        // `update` checks the resourceVersion of the list: a machine that claimed this
        // Hardware meanwhile makes this one fail with a conflict and choose again.
        self.hardware
            .update(&claimed)
            .await
            .map_err(Error::store(format!(
                "claim {} for {}",
                name_of(hw),
                name_of(tm)
            )))
    }

    async fn mark_provisioned(&self, hw: &Hardware) -> Result<(), Error> {
        if is_provisioned(hw) {
            return Ok(());
        }
        self.hardware
            .modify(hw.namespace(), hw.name(), |h| {
                h.metadata
                    .annotations
                    .get_or_insert_with(BTreeMap::new)
                    .insert(PROVISIONED_ANNOTATION.into(), "true".into());
            })
            .await
            .map_err(Error::store(format!(
                "annotate {} provisioned",
                name_of(hw)
            )))?;
        Ok(())
    }

    async fn ensure_template(
        &self,
        tm: &TinkerbellMachine,
        hw: &Hardware,
        gate: &Gate,
    ) -> Result<(), Error> {
        match self.templates.get(tm.namespace(), tm.name()).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                return Err(Error::store(format!(
                    "get Template {}/{}",
                    tm.namespace(),
                    tm.name()
                ))(e));
            }
        }
        let data = match tm
            .spec
            .template_override
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        {
            Some(t) => t.to_string(),
            None => {
                let disk = hw
                    .spec
                    .disks
                    .iter()
                    .flatten()
                    .find_map(|d| d.device.clone())
                    .ok_or_else(|| Error::Invalid {
                        object: name_of(hw),
                        message: format!(
                            "no disk in spec.disks: the default template of {} needs one",
                            name_of(tm)
                        ),
                    })?;
                let image = template::image_url(&gate.cluster.spec, &gate.version);
                let metadata = format!(
                    "{}:{}",
                    self.config.tinkerbell_ip, self.config.metadata_port
                );
                template::default_template(tm.name(), &disk, &image, &metadata)
            }
        };
        let t = Template {
            metadata: owned_meta(tm, tm.name()),
            spec: TemplateSpec { data: Some(data) },
            ..Template::default()
        };
        create_ignoring_existing(&self.templates, &t).await
    }

    async fn ensure_workflow(
        &self,
        tm: &TinkerbellMachine,
        hw: &Hardware,
    ) -> Result<Workflow, Error> {
        match self.workflows.get(tm.namespace(), tm.name()).await {
            Ok(wf) => return Ok(wf),
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                return Err(Error::store(format!(
                    "get Workflow {}/{}",
                    tm.namespace(),
                    tm.name()
                ))(e));
            }
        }
        let first_mac = hw.macs().first().map(ToString::to_string);
        let device = hw
            .instance()
            .and_then(|i| i.id.clone())
            .filter(|id| !id.is_empty())
            .or_else(|| first_mac.clone())
            .ok_or_else(|| Error::Invalid {
                object: name_of(hw),
                message: "neither spec.metadata.instance.id nor a MAC in spec.interfaces: nothing to map device_1 to".into(),
            })?;
        let mut boot = BootOptions {
            toggle_allow_netboot: Some(true),
            ..BootOptions::default()
        };
        if hw.spec.bmc_ref.is_some() {
            let opts = tm.spec.boot_options.as_ref();
            match (
                opts.map(|o| o.boot_mode.as_str()),
                opts.and_then(|o| o.iso_url.as_deref()),
            ) {
                (Some("iso"), Some(url)) => {
                    boot.boot_mode = Some(BootMode::Iso);
                    boot.iso_url = Some(iso_url_for(url, first_mac.as_deref().unwrap_or(&device)));
                }
                _ => boot.boot_mode = Some(BootMode::Netboot),
            }
        }
        let wf = Workflow {
            metadata: owned_meta(tm, tm.name()),
            spec: WorkflowSpec {
                template_ref: Some(tm.name().to_string()),
                hardware_ref: Some(hw.name().to_string()),
                hardware_map: Some(BTreeMap::from([("device_1".to_string(), device)])),
                boot_options: Some(boot),
                ..WorkflowSpec::default()
            },
            ..Workflow::default()
        };
        create_ignoring_existing(&self.workflows, &wf).await?;
        info!(workflow = %name_of(&wf), hardware = %name_of(hw), "created the Workflow");
        self.workflows
            .get(tm.namespace(), tm.name())
            .await
            .map_err(Error::store(format!("get {}", name_of(&wf))))
    }

    /// The delete path of the module documentation.
    async fn delete(&self, tm: &TinkerbellMachine) -> Result<Next, Error> {
        let (ns, name) = (tm.namespace(), tm.name());
        if self.paused(tm).await? {
            // A paused cluster is being moved: the objects go, the machines stay as they
            // are (clusterctl removes the finalizers of what it deletes).
            return Ok(Next::After(self.config.wait));
        }
        delete_ignoring_missing(&self.templates, ns, name).await?;
        delete_ignoring_missing(&self.workflows, ns, name).await?;
        self.delete_workflow_jobs(ns, name).await?;
        let all = self.all_hardware().await?;
        let hw = all.iter().find(|h| selection::is_assigned_to(h, ns, name));
        let job_name = poweroff_job_name(name);
        if let Some(hw) = hw {
            if let Some(bmc) = &hw.spec.bmc_ref {
                match self.power_off(tm, hw, &bmc.name, &job_name).await? {
                    true => {}
                    false => return Ok(Next::After(self.config.wait)),
                }
            }
            self.release(hw).await?;
            info!(hardware = %name_of(hw), "released the Hardware");
        }
        delete_ignoring_missing(&self.jobs, ns, &job_name).await?;
        if has_finalizer(tm, MACHINE_FINALIZER) {
            let mut tm = tm.clone();
            remove_finalizer(&mut tm, MACHINE_FINALIZER);
            let tm = self.update_machine(&tm, "remove the finalizer of").await?;
            if tm.metadata.finalizers.is_none() {
                delete_ignoring_missing(&self.machines, ns, name).await?;
            }
        } else if tm.metadata.finalizers.as_ref().is_none_or(Vec::is_empty) {
            delete_ignoring_missing(&self.machines, ns, name).await?;
        }
        Ok(Next::Done)
    }

    /// Deletes the BMC Jobs the workflow service made for Workflow `ns/workflow`
    /// (`netboot-<workflow>`...): they name it as their owner, and the store has no
    /// garbage collector to remove them with it.
    async fn delete_workflow_jobs(&self, ns: &str, workflow: &str) -> Result<(), Error> {
        let (jobs, _) = self
            .jobs
            .list(&ListParams::namespace(ns))
            .await
            .map_err(Error::store(format!(
                "list the Jobs of Workflow {ns}/{workflow}"
            )))?;
        for job in jobs.iter().filter(|j| {
            j.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|r| r.kind == Workflow::KIND && r.name == workflow)
        }) {
            delete_ignoring_missing(&self.jobs, ns, job.name()).await?;
        }
        Ok(())
    }

    /// Makes sure the power-off Job of `tm` ran; `true` once it completed.
    async fn power_off(
        &self,
        tm: &TinkerbellMachine,
        hw: &Hardware,
        bmc: &str,
        job_name: &str,
    ) -> Result<bool, Error> {
        let ns = tm.namespace();
        let job = match self.jobs.get(ns, job_name).await {
            Ok(j) => j,
            Err(e) if e.is_not_found() => {
                let job = Job {
                    metadata: owned_meta(tm, job_name),
                    spec: JobSpec {
                        machine_ref: MachineRef {
                            name: bmc.to_string(),
                            namespace: hw.namespace().to_string(),
                        },
                        tasks: vec![Action::power(PowerAction::Off)],
                    },
                    ..Job::default()
                };
                create_ignoring_existing(&self.jobs, &job).await?;
                info!(job = %name_of(&job), hardware = %name_of(hw), "powering the machine off");
                return Ok(false);
            }
            Err(e) => return Err(Error::store(format!("get Job {ns}/{job_name}"))(e)),
        };
        let condition = |t: &str| {
            job.status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .find(|c| c.type_ == t && c.status == "True")
        };
        if condition(JobCondition::COMPLETED).is_some() {
            return Ok(true);
        }
        if let Some(failed) = condition(JobCondition::FAILED) {
            let message = failed
                .message
                .clone()
                .unwrap_or_else(|| "no message".into());
            delete_ignoring_missing(&self.jobs, ns, job_name).await?;
            return Err(Error::PowerOffFailed {
                namespace: ns.to_string(),
                name: job_name.to_string(),
                message,
            });
        }
        Ok(false)
    }

    /// Releases `hw`: the ownership labels, the provisioned annotation, the finalizer.
    async fn release(&self, hw: &Hardware) -> Result<(), Error> {
        self.hardware
            .modify(hw.namespace(), hw.name(), |h| {
                if let Some(l) = h.metadata.labels.as_mut() {
                    l.remove(OWNER_NAME_LABEL);
                    l.remove(OWNER_NAMESPACE_LABEL);
                }
                if let Some(a) = h.metadata.annotations.as_mut() {
                    a.remove(PROVISIONED_ANNOTATION);
                }
                remove_finalizer(h, MACHINE_FINALIZER);
            })
            .await
            .map_err(Error::store(format!("release {}", name_of(hw))))?;
        Ok(())
    }
}

async fn create_ignoring_existing<K: Resource>(api: &Api<K>, obj: &K) -> Result<(), Error> {
    match api.create(obj).await {
        Ok(_) => Ok(()),
        Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(Error::store(format!("create {}", name_of(obj)))(e)),
    }
}

async fn delete_ignoring_missing<K: Resource>(
    api: &Api<K>,
    namespace: &str,
    name: &str,
) -> Result<(), Error> {
    match api.delete(namespace, name).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(Error::store(format!(
            "delete {} {namespace}/{name}",
            K::KIND
        ))(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_urls_get_the_mac_as_a_path_segment() {
        assert_eq!(
            iso_url_for("http://10.0.0.2:7171/iso/hook.iso", "52:54:00:aa:bb:cc"),
            "http://10.0.0.2:7171/iso/52-54-00-aa-bb-cc/hook.iso"
        );
    }
}
