//! The controllers, on `ironbell-controller`: one per kind, each level-triggered (it reads
//! the current objects and does the next idempotent step) and restart-safe (names are
//! deterministic: `<set>-<n>` and `<control-plane>-<n>` take the lowest free index, a
//! `MachineSet` is `<deployment>-<template-hash>`, a machine's infrastructure object and
//! `KubeadmConfig` carry the machine's name). [`Controllers::run`] starts them all.
//!
//! Every controller leaves alone the objects of a paused cluster ([`crate::objects::is_paused`]).
//! Objects whose owner is gone are deleted by their own controller (the garbage collection
//! Kubernetes would do), so a deletion made while the controllers were stopped is finished
//! when they start.
//!
//! Wiring: `Controllers::new(store, bootstrapper).watch_infrastructure::<TinkerbellMachine>()`
//! then [`Controllers::run`] in a task; dropping (aborting) that task stops every controller.

mod cluster;
mod config;
mod control_plane;
mod deployment;
mod machine;
mod set;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ironbell_capi::api::ObjectReference;
use ironbell_capi::api::kubeadm::KubeadmConfigSpec;
use ironbell_controller::Controller;
use ironbell_model::{Labels, Resource};
use ironbell_store::reflector::ObjectKey;
use ironbell_store::{Api, ListParams, SharedStore, api};

use crate::bootstrap::NodeBootstrapper;
use crate::kinds::{
    Cluster, KubeadmConfig, KubeadmConfigTemplate, KubeadmControlPlane, Machine, MachineDeployment,
    MachineSet,
};
use crate::objects::{self, InfraClone, owner_ref};
use crate::{CLUSTER_NAME_LABEL, Error};

/// Tunables of the controllers.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How soon a controller looks again while it waits for something it does not watch
    /// (an infrastructure object of a kind it was not told about, a cluster becoming ready).
    pub requeue: Duration,
    /// Keys reconciled at once per controller.
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            requeue: Duration::from_secs(2),
            concurrency: 2,
        }
    }
}

type MachineWatch = Box<dyn FnOnce(Controller<Machine>) -> Controller<Machine> + Send>;

/// Every controller of this crate, ready to run.
pub struct Controllers {
    store: SharedStore,
    bootstrapper: Arc<dyn NodeBootstrapper>,
    options: Options,
    machine_watches: Vec<MachineWatch>,
}

impl Controllers {
    /// The controllers over `store`, making bootstrap data with `bootstrapper`.
    pub fn new(store: SharedStore, bootstrapper: Arc<dyn NodeBootstrapper>) -> Self {
        Self {
            store,
            bootstrapper,
            options: Options::default(),
            machine_watches: Vec::new(),
        }
    }

    /// With these options.
    pub fn with_options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Also reconciles a `Machine` at once when an infrastructure object of kind `T` that it
    /// owns changes (without this, it looks again every [`Options::requeue`]).
    pub fn watch_infrastructure<T: Resource>(mut self) -> Self {
        self.machine_watches
            .push(Box::new(|c: Controller<Machine>| {
                c.watches::<T>(related(|o: &T| {
                    objects::owner_name::<Machine>(o.metadata()).map(str::to_string)
                }))
            }));
        self
    }

    /// Runs every controller until the future is dropped. Must be called inside a Tokio
    /// runtime.
    pub async fn run(self) {
        let ctx = Ctx {
            store: self.store.clone(),
            options: self.options,
        };
        let n = self.options.concurrency;

        let clusters = Controller::<Cluster>::new("cluster", self.store.clone());
        let cluster_queue = clusters.queue();

        let deployments =
            Controller::<MachineDeployment>::new("machinedeployment", self.store.clone())
                .watches::<MachineSet>(related(|m: &MachineSet| {
                    m.metadata
                        .label(crate::DEPLOYMENT_NAME_LABEL)
                        .map(str::to_string)
                }))
                .watches::<Machine>(label_owner(crate::DEPLOYMENT_NAME_LABEL));

        let sets = Controller::<MachineSet>::new("machineset", self.store.clone())
            .watches::<Machine>(label_owner(crate::SET_NAME_LABEL));

        let control_planes =
            Controller::<KubeadmControlPlane>::new("kubeadmcontrolplane", self.store.clone())
                .watches::<Machine>(label_owner(crate::CONTROL_PLANE_NAME_LABEL));

        let nodes: NodeIndex = Arc::default();
        let index = nodes.clone();
        let mut machines = Controller::<Machine>::new("machine", self.store.clone())
            .watches::<KubeadmConfig>(related(|c: &KubeadmConfig| {
                objects::owner_name::<Machine>(&c.metadata).map(str::to_string)
            }))
            .watches::<ironbell_model::corev1::Node>(move |_, node| {
                let Some(pid) = node.and_then(|n| n.spec.provider_id.as_deref()) else {
                    return Vec::new();
                };
                lock(&index).get(pid).cloned().into_iter().collect()
            });
        for w in self.machine_watches {
            machines = w(machines);
        }

        let configs = Controller::<KubeadmConfig>::new("kubeadmconfig", self.store.clone())
            .watches::<Machine>(related(|m: &Machine| {
                m.spec
                    .bootstrap
                    .config_ref
                    .as_ref()
                    .filter(|r| r.kind == KubeadmConfig::KIND)
                    .map(|r| r.name.clone())
            }));

        tokio::join!(
            clusters.run(Arc::new(cluster::Reconciler { ctx: ctx.clone() }), n),
            deployments.run(Arc::new(deployment::Reconciler { ctx: ctx.clone() }), n),
            sets.run(Arc::new(set::Reconciler { ctx: ctx.clone() }), n),
            control_planes.run(
                Arc::new(control_plane::Reconciler {
                    ctx: ctx.clone(),
                    clusters: cluster_queue,
                }),
                n
            ),
            machines.run(
                Arc::new(machine::Reconciler {
                    ctx: ctx.clone(),
                    nodes
                }),
                n
            ),
            configs.run(
                Arc::new(config::Reconciler {
                    ctx,
                    bootstrapper: self.bootstrapper
                }),
                n
            ),
        );
    }
}

/// Machines by provider id, for the Node watch.
type NodeIndex = Arc<Mutex<HashMap<String, ObjectKey>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A watch mapping from an object to the name of a related object in its namespace, as
/// `related` reads it; the last name seen is remembered per key, so that a deletion (which
/// the watch reports without the object) still queues it.
fn related<T: Resource>(
    related: impl Fn(&T) -> Option<String> + Send + 'static,
) -> impl Fn(&ObjectKey, Option<&T>) -> Vec<ObjectKey> + Send + 'static {
    let last: Mutex<HashMap<ObjectKey, String>> = Mutex::default();
    move |key, obj| {
        let mut last = lock(&last);
        let name = match obj {
            Some(o) => {
                let n = related(o);
                match &n {
                    Some(n) => last.insert(key.clone(), n.clone()),
                    None => last.remove(key),
                };
                n
            }
            None => last.remove(key),
        };
        name.map(|n| vec![(key.0.clone(), n)]).unwrap_or_default()
    }
}

/// Maps a `Machine` to the object its label `label` names.
fn label_owner(
    label: &'static str,
) -> impl Fn(&ObjectKey, Option<&Machine>) -> Vec<ObjectKey> + Send + 'static {
    related(move |m: &Machine| m.metadata.label(label).map(str::to_string))
}

/// What every reconciler shares.
#[derive(Clone)]
struct Ctx {
    store: SharedStore,
    options: Options,
}

impl Ctx {
    fn api<K: Resource>(&self) -> Api<K> {
        api::<K>(&self.store)
    }

    /// The object, or `None` when it does not exist.
    async fn get<K: Resource>(&self, ns: &str, name: &str) -> Result<Option<K>, Error> {
        match self.api::<K>().get(ns, name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(Error::store(format!("reading {} {ns}/{name}", K::KIND))(e)),
        }
    }

    /// Objects of kind `K` in `ns` whose label `label` is `value`.
    async fn labelled<K: Resource>(
        &self,
        ns: &str,
        label: &str,
        value: &str,
    ) -> Result<Vec<K>, Error> {
        let (items, _) = self
            .api::<K>()
            .list(&ListParams::namespace(ns))
            .await
            .map_err(Error::store(format!("listing {} in {ns}", K::PLURAL)))?;
        Ok(items
            .into_iter()
            .filter(|o| o.metadata().label(label) == Some(value))
            .collect())
    }

    /// Sets `status.phase` to `Deleting` (once), logging the start of the deletion.
    async fn enter_deleting<K: Phased>(&self, obj: &K) -> Result<(), Error> {
        if obj.phase() == Some(DELETING) {
            return Ok(());
        }
        let (ns, name) = (obj.namespace(), obj.name());
        tracing::info!(kind = K::KIND, object = %format!("{ns}/{name}"), "deleting");
        self.api::<K>()
            .modify_status(ns, name, |o| o.set_phase(DELETING))
            .await
            .map_err(Error::store(format!(
                "updating the status of {} {ns}/{name}",
                K::KIND
            )))?;
        Ok(())
    }

    /// Asks for the deletion of every `K` of `ns` that `pick` picks; returns how many there
    /// were.
    async fn delete_all<K: Resource>(
        &self,
        ns: &str,
        pick: impl Fn(&K) -> bool + Send,
    ) -> Result<usize, Error> {
        let (items, _) = self
            .api::<K>()
            .list(&ListParams::namespace(ns))
            .await
            .map_err(Error::store(format!("listing {} in {ns}", K::PLURAL)))?;
        let mut n = 0;
        for o in items.iter().filter(|o| pick(o)) {
            n += 1;
            objects::request_delete(
                &self.store,
                &ironbell_model::TypeKey::of::<K>(),
                ns,
                o.name(),
            )
            .await?;
        }
        Ok(n)
    }

    /// Asks for the deletion of every `Machine` of `ns` labelled `label=value`.
    async fn delete_machines(&self, ns: &str, label: &str, value: &str) -> Result<(), Error> {
        self.delete_all::<Machine>(ns, |m| m.metadata.label(label) == Some(value))
            .await
            .map(|_| ())
    }

    /// Deletes `obj` when its owner of kind `O` is named but gone; `true` if it did.
    async fn collect_orphan<K: Resource, O: Resource>(&self, obj: &K) -> Result<bool, Error> {
        let Some(owner) = objects::owner_name::<O>(obj.metadata()) else {
            return Ok(false);
        };
        if self.get::<O>(obj.namespace(), owner).await?.is_some() {
            return Ok(false);
        }
        tracing::info!(owner, "owner {} is gone: deleting", O::KIND);
        objects::request_delete(
            &self.store,
            &ironbell_model::TypeKey::of::<K>(),
            obj.namespace(),
            obj.name(),
        )
        .await?;
        Ok(true)
    }

    /// Makes sure a machine's infrastructure object (cloned from `infra_template`) and
    /// `KubeadmConfig` (with `config`) exist; both are named after the machine and owned by
    /// it. Existing ones are left as they are.
    async fn ensure_machine_objects(
        &self,
        machine: &Machine,
        infra_template: &ObjectReference,
        config: Option<KubeadmConfigSpec>,
    ) -> Result<(), Error> {
        let ns = machine.namespace();
        let mut labels = Labels::new();
        if let Some(c) = machine.metadata.label(CLUSTER_NAME_LABEL) {
            labels.insert(CLUSTER_NAME_LABEL.into(), c.into());
        }
        objects::clone_infrastructure(
            &self.store,
            InfraClone {
                template: infra_template,
                namespace: ns,
                name: machine.name(),
                labels: labels.clone(),
                owner: owner_ref(machine, true),
            },
        )
        .await?;
        let Some(spec) = config else {
            return Ok(());
        };
        if self
            .get::<KubeadmConfig>(ns, machine.name())
            .await?
            .is_some()
        {
            return Ok(());
        }
        let mut cfg = KubeadmConfig {
            spec,
            ..KubeadmConfig::default()
        };
        cfg.metadata = ironbell_model::ObjectMeta::named(ns, machine.name());
        cfg.metadata.labels = Some(labels);
        cfg.metadata.owner_references = Some(vec![owner_ref(machine, true)]);
        match self.api::<KubeadmConfig>().create(&cfg).await {
            Ok(_) => Ok(()),
            Err(ironbell_store::StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(Error::store(format!(
                "creating KubeadmConfig {ns}/{}",
                machine.name()
            ))(e)),
        }
    }

    /// The `KubeadmConfigSpec` of a `KubeadmConfigTemplate` reference, or `None` when the
    /// reference is not to one.
    async fn config_from_template(
        &self,
        ns: &str,
        r: Option<&ObjectReference>,
    ) -> Result<Option<KubeadmConfigSpec>, Error> {
        let Some(r) = r.filter(|r| r.kind == KubeadmConfigTemplate::KIND) else {
            return Ok(None);
        };
        let ns = r.namespace.as_deref().unwrap_or(ns);
        match self.get::<KubeadmConfigTemplate>(ns, &r.name).await? {
            Some(t) => Ok(Some(t.spec.template.spec)),
            None => Err(Error::Invalid {
                object: format!("KubeadmConfigTemplate {ns}/{}", r.name),
                message: "not found".into(),
            }),
        }
    }

    /// A machine's cluster, `None` when it does not exist (yet).
    async fn cluster(&self, ns: &str, name: &str) -> Result<Option<Cluster>, Error> {
        self.get::<Cluster>(ns, name).await
    }
}

const DELETING: &str = "Deleting";

/// A kind with `status.phase`.
trait Phased: Resource {
    fn phase(&self) -> Option<&str>;
    fn set_phase(&mut self, phase: &str);
}

macro_rules! phased {
    ($($k:ty),*) => {$(
        impl Phased for $k {
            fn phase(&self) -> Option<&str> {
                self.status.as_ref()?.phase.as_deref()
            }
            fn set_phase(&mut self, phase: &str) {
                self.status.get_or_insert_with(Default::default).phase = Some(phase.into());
            }
        }
    )*};
}
phased!(Cluster, Machine);

/// Whether a machine is available: not being deleted and its node Ready.
fn available(m: &Machine) -> bool {
    m.metadata.deletion_timestamp.is_none()
        && m.status.as_ref().is_some_and(|s| s.node_ref.is_some())
}

/// Whether a machine is being deleted.
fn deleting(m: &Machine) -> bool {
    m.metadata.deletion_timestamp.is_some()
}

/// `creationTimestamp` as sortable text.
fn created<K: Resource>(o: &K) -> String {
    o.metadata()
        .creation_timestamp
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A new `Machine` of a set or control plane: `spec` with its references pointed at the
/// machine's own infrastructure object (`<X>` from `<X>Template`) and `KubeadmConfig`.
fn new_machine(
    ns: &str,
    name: &str,
    labels: Labels,
    annotations: Option<Labels>,
    owner: ironbell_model::OwnerReference,
    mut spec: ironbell_capi::api::cluster::MachineSpec,
) -> Result<Machine, Error> {
    let template = &spec.infrastructure_ref;
    let Some(kind) = objects::instance_kind(&template.kind) else {
        return Err(Error::Invalid {
            object: format!("Machine {ns}/{name}"),
            message: format!(
                "infrastructure template kind {:?} does not end in `Template`",
                template.kind
            ),
        });
    };
    spec.infrastructure_ref =
        ObjectReference::new(&template.api_version, kind, name).in_namespace(ns);
    if let Some(r) = spec.bootstrap.config_ref.as_mut() {
        *r = ObjectReference::new(
            crate::kinds::BOOTSTRAP_API_VERSION,
            KubeadmConfig::KIND,
            name,
        )
        .in_namespace(ns);
    }
    spec.provider_id = None;
    spec.bootstrap.data_secret_name = None;
    let mut m = Machine {
        spec,
        ..Machine::default()
    };
    m.metadata = ironbell_model::ObjectMeta::named(ns, name);
    m.metadata.labels = Some(labels);
    m.metadata.annotations = annotations;
    m.metadata.owner_references = Some(vec![owner]);
    m.metadata.finalizers = Some(vec![crate::MACHINE_FINALIZER.into()]);
    Ok(m)
}

/// Creates a machine; an existing one of that name is fine (a restart).
async fn create_machine(ctx: &Ctx, m: &Machine) -> Result<(), Error> {
    tracing::info!(machine = m.name(), "creating Machine");
    match ctx.api::<Machine>().create(m).await {
        Ok(_) => Ok(()),
        Err(ironbell_store::StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(Error::store(format!(
            "creating Machine {}/{}",
            m.namespace(),
            m.name()
        ))(e)),
    }
}
