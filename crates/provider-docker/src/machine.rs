//! The `DockerMachine` controller (CAPD's `dockermachine_controller`). Level-triggered:
//! every reconcile reads the machine, its owners and its container afresh and does the next
//! idempotent step, so it can stop anywhere (the engine stopped, the process killed) and
//! the next reconcile carries on.
//!
//! **Create**, once the gate opens (the owner Cluster API `Machine` exists with its
//! bootstrap Secret's `value`, its `Cluster` is not paused and the cluster's infrastructure
//! is ready, as CAPD waits for):
//!
//! 1. the [`MACHINE_FINALIZER`];
//! 2. the volume `<container>-var` (mounted at `/var`, as kind's nodes have one) and the
//!    container [`container_name`] from `spec.customImage` (else the configured default),
//!    on the cluster's network, hostname = name, kind's labels (`io.x-k8s.kind.cluster`,
//!    `io.x-k8s.kind.role` = `control-plane` or `worker`), `/tmp` and `/run` on tmpfs, the
//!    spec's extra mounts, confined by [`crate::Security`]; then started. An engine error
//!    is recorded in the [`CONDITION_CONTAINER`] condition (`False`, with the engine's
//!    message: which engine, which container, which option was refused) and retried;
//! 3. `status.addresses`: the container's address on the network (`InternalIP`) and its
//!    name (`Hostname`);
//! 4. the user-data, unless the container has [`BOOTSTRAP_SENTINEL`]: each command of
//!    [`cloudinit::plan`] run with the exec API in order, then the sentinel written; a
//!    failing command is recorded in [`CONDITION_BOOTSTRAP`] and the whole user-data runs
//!    again on the next try (CAPD does the same);
//! 5. `spec.bootstrapped`, `spec.providerID = docker:////<container>`, `status.ready`.
//!
//! A ready machine is looked at again every [`crate::Config::resync`]: a container the
//! engine stopped (an engine restart stops them all) is started again and its addresses
//! are read again (they may change); its user-data is not applied a second time
//! (`spec.bootstrapped`; the sentinel itself is on `/run`, a tmpfs, gone with the restart),
//! but the processes it started without systemd are started again
//! ([`cloudinit::Plan::services`]: a `native` control-plane node's `ironbell node up`).
//!
//! **Delete** (`metadata.deletionTimestamp`, unless paused): the container (killed) and its
//! volume go, then the finalizer. The `DockerCluster` controller sees the machine change
//! and takes a control-plane machine out of the load balancer first.

use std::sync::Arc;

use ironbell_cluster_api::{CONTROL_PLANE_LABEL, Cluster, Machine, objects};
use ironbell_controller::{Controller, Next, Reconcile};
use ironbell_model::corev1::Secret;
use ironbell_model::{Resource, TypeKey};
use ironbell_store::reflector::ObjectKey;
use ironbell_store::{Api, SharedStore, api};
use tracing::{Instrument, info, info_span, warn};

use crate::api::{
    DockerCluster, DockerMachine, DockerMachineStatus, MachineAddress, condition, set_condition,
};
use crate::engine::ContainerSpec;
use crate::{
    BOOTSTRAP_SENTINEL, CONDITION_BOOTSTRAP, CONDITION_CONTAINER, Config, Error, MACHINE_FINALIZER,
    cloudinit, container_name, get_cluster, kind_labels, network_name, provider_id,
};

/// Reconciles `DockerMachine`s (see the module documentation).
pub struct MachineReconciler {
    store: SharedStore,
    config: Config,
    machines: Api<DockerMachine>,
}

impl MachineReconciler {
    /// A reconciler over `store`.
    pub fn new(store: SharedStore, config: Config) -> Self {
        Self {
            machines: api(&store),
            store,
            config,
        }
    }

    /// Runs the controller until the task is dropped: every machine, and again when its
    /// owner `Machine` changes (its bootstrap data arrives).
    pub async fn run(self) {
        let concurrency = self.config.concurrency;
        let controller = Controller::<DockerMachine>::new("dockermachine", self.store.clone())
            .watches::<Machine>(|key, m| {
            m.and_then(|m| {
                let r = &m.spec.infrastructure_ref;
                (r.kind == DockerMachine::KIND).then(|| (key.0.clone(), r.name.clone()))
            })
            .into_iter()
            .collect()
        });
        controller.run(Arc::new(self), concurrency).await;
    }
}

#[async_trait::async_trait]
impl Reconcile<DockerMachine> for MachineReconciler {
    type Error = Error;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, Error> {
        let span = info_span!("dockermachine", dockermachine = %format!("{}/{}", key.0, key.1));
        self.reconcile_machine(key).instrument(span).await
    }
}

/// What the gate lets through.
struct Gate {
    cluster: String,
    control_plane: bool,
    user_data: String,
}

impl MachineReconciler {
    async fn reconcile_machine(&self, key: &ObjectKey) -> Result<Next, Error> {
        let (ns, name) = key;
        let object = format!("DockerMachine {ns}/{name}");
        let dm = match self.machines.get(ns, name).await {
            Ok(dm) => dm,
            Err(e) if e.is_not_found() => return Ok(Next::Done),
            Err(e) => return Err(Error::store(format!("get {object}"))(e)),
        };
        let owner = self.owner(&dm).await?;
        let cluster_name = owner
            .as_ref()
            .map(|m| m.spec.cluster_name.clone())
            .filter(|c| !c.is_empty())
            .or_else(|| crate::owner_cluster_name(&dm.metadata));
        let cluster = match &cluster_name {
            Some(c) => get_cluster(&self.store, ns, c).await?,
            None => None,
        };
        if objects::is_paused(cluster.as_ref(), &dm.metadata) {
            return Ok(Next::After(self.config.wait));
        }
        if dm.metadata.deletion_timestamp.is_some() {
            return self.delete(&dm, cluster_name.as_deref(), &object).await;
        }
        let Some(gate) = self.gate(&dm, owner.as_ref(), cluster.as_ref()).await? else {
            return Ok(Next::After(self.config.wait));
        };
        objects::ensure_finalizer(&self.store, &dm, MACHINE_FINALIZER).await?;
        let container = container_name(&gate.cluster, name);
        let network = network_name(&gate.cluster);

        // The container.
        let (address, restarted) = match self
            .ensure_container(&dm, &gate, &container, &network)
            .await
        {
            Ok(address) => address,
            Err(e) => {
                let e = Error::engine(&object)(e);
                self.set_status(&dm, |s| {
                    s.ready = false;
                    set_condition(
                        &mut s.conditions,
                        condition(
                            CONDITION_CONTAINER,
                            Some(("ContainerProvisioningFailed", e.to_string())),
                        ),
                    );
                })
                .await?;
                return Err(e);
            }
        };
        let addresses = vec![
            MachineAddress {
                type_: "InternalIP".into(),
                address,
            },
            MachineAddress {
                type_: "Hostname".into(),
                address: container.clone(),
            },
        ];
        let dm = self
            .set_status(&dm, |s| {
                s.addresses = addresses.clone();
                set_condition(&mut s.conditions, condition(CONDITION_CONTAINER, None));
            })
            .await?;

        // A bootstrapped container the engine had stopped: the processes its user-data
        // started where systemd does not run are gone, started again (the user-data itself
        // is not run twice).
        if restarted && dm.spec.bootstrapped {
            self.restart_services(&container, &gate.user_data, &object)
                .await?;
        }

        // The user-data.
        if !dm.spec.bootstrapped
            && let Err(e) = self.bootstrap(&container, &gate.user_data, &object).await
        {
            self.set_status(&dm, |s| {
                set_condition(
                    &mut s.conditions,
                    condition(
                        CONDITION_BOOTSTRAP,
                        Some(("BootstrapFailed", e.to_string())),
                    ),
                );
            })
            .await?;
            return Err(e);
        }
        let pid = provider_id(&container);
        let dm = if !dm.spec.bootstrapped || dm.spec.provider_id.as_deref() != Some(pid.as_str()) {
            self.machines
                .modify(ns, name, |d| {
                    d.spec.bootstrapped = true;
                    d.spec.provider_id = Some(pid.clone());
                })
                .await
                .map_err(Error::store(format!("set the provider ID of {object}")))?
        } else {
            dm
        };
        let was_ready = dm.status.as_ref().is_some_and(|s| s.ready);
        self.set_status(&dm, |s| {
            s.ready = true;
            set_condition(&mut s.conditions, condition(CONDITION_BOOTSTRAP, None));
        })
        .await?;
        if !was_ready {
            info!(container = %container, provider_id = %pid, "machine ready");
        }
        Ok(Next::After(self.config.resync))
    }

    /// The owner Cluster API `Machine`, if it exists.
    async fn owner(&self, dm: &DockerMachine) -> Result<Option<Machine>, Error> {
        let Some(owner) = objects::owner_name::<Machine>(&dm.metadata) else {
            return Ok(None);
        };
        match api::<Machine>(&self.store).get(dm.namespace(), owner).await {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(Error::store(format!(
                "get Machine {}/{owner}",
                dm.namespace()
            ))(e)),
        }
    }

    /// CAPD's gate; `None` while something is not there yet.
    async fn gate(
        &self,
        dm: &DockerMachine,
        owner: Option<&Machine>,
        cluster: Option<&Cluster>,
    ) -> Result<Option<Gate>, Error> {
        let ns = dm.namespace();
        let (Some(machine), Some(cluster)) = (owner, cluster) else {
            return Ok(None);
        };
        let Some(infra) = &cluster.spec.infrastructure_ref else {
            return Ok(None);
        };
        match api::<DockerCluster>(&self.store).get(ns, &infra.name).await {
            Ok(dc) if dc.status.as_ref().is_some_and(|s| s.ready) => {}
            Ok(_) => return Ok(None),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => {
                return Err(Error::store(format!(
                    "get DockerCluster {ns}/{}",
                    infra.name
                ))(e));
            }
        }
        let Some(secret) = machine.spec.bootstrap.data_secret_name.as_deref() else {
            return Ok(None);
        };
        let user_data = match api::<Secret>(&self.store).get(ns, secret).await {
            Ok(s) => s.get_str("value").unwrap_or_default().to_string(),
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => {
                return Err(Error::store(format!("get bootstrap Secret {ns}/{secret}"))(
                    e,
                ));
            }
        };
        if user_data.is_empty() {
            return Ok(None);
        }
        Ok(Some(Gate {
            cluster: cluster.name().to_string(),
            control_plane: machine.metadata.label(CONTROL_PLANE_LABEL).is_some(),
            user_data,
        }))
    }

    /// Makes sure the volume and the container exist and the container runs; its address
    /// on `network`, and whether it existed stopped and was started again.
    async fn ensure_container(
        &self,
        dm: &DockerMachine,
        gate: &Gate,
        container: &str,
        network: &str,
    ) -> Result<(String, bool), crate::EngineError> {
        let engine = &self.config.engine;
        let role = if gate.control_plane {
            "control-plane"
        } else {
            "worker"
        };
        let security = &self.config.security;
        let existing = engine.container(container).await?;
        let restarted = existing.as_ref().is_some_and(|c| !c.running);
        if existing.is_none() {
            let volume = format!("{container}-var");
            engine
                .ensure_volume(&volume, &kind_labels(&gate.cluster, None))
                .await?;
            let image = dm
                .spec
                .custom_image
                .clone()
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| self.config.default_node_image.clone());
            let mut binds = vec![format!("{volume}:/var")];
            binds.extend(dm.spec.extra_mounts.iter().map(|m| {
                let ro = if m.read_only { ":ro" } else { "" };
                format!("{}:{}{ro}", m.host_path, m.container_path)
            }));
            info!(container, image = %image, role, "creating the node container");
            engine
                .create_container(&ContainerSpec {
                    name: container.to_string(),
                    image,
                    labels: kind_labels(&gate.cluster, Some(role)),
                    network: network.to_string(),
                    binds,
                    tmpfs: vec!["/tmp".into(), "/run".into()],
                    security: security.clone(),
                    ip: None,
                    cmd: None,
                })
                .await?;
        }
        engine.start(container, security.privileged).await?;
        let info = engine.container(container).await?;
        match info.and_then(|i| i.addresses.get(network).cloned().filter(|_| i.running)) {
            Some(address) => Ok((address, restarted)),
            None => Err(crate::EngineError::Unexpected {
                host: engine.host().to_string(),
                object: format!("container {container}"),
                message: format!("started, it is not running with an address on network {network}"),
            }),
        }
    }

    /// Applies the user-data in `container` unless its sentinel is there.
    async fn bootstrap(&self, container: &str, user_data: &str, object: &str) -> Result<(), Error> {
        let engine = &self.config.engine;
        let test = vec!["test".into(), "-f".into(), BOOTSTRAP_SENTINEL.into()];
        if engine
            .exec(container, "look for the sentinel", &test)
            .await
            .is_ok()
        {
            return Ok(());
        }
        let plan = cloudinit::plan(user_data, container).map_err(|source| Error::UserData {
            object: object.to_string(),
            source,
        })?;
        if !plan.ignored.is_empty() {
            warn!(modules = ?plan.ignored, "user-data modules not applied in a container (as CAPD)");
        }
        for command in &plan.commands {
            engine
                .exec(container, &command.what, &command.argv)
                .await
                .map_err(Error::engine(object))?;
        }
        let sentinel = format!(
            "mkdir -p \"$(dirname {s})\" && touch {s}",
            s = BOOTSTRAP_SENTINEL
        );
        engine
            .exec(
                container,
                "write the bootstrap sentinel",
                &["/bin/sh".into(), "-c".into(), sentinel],
            )
            .await
            .map_err(Error::engine(object))?;
        info!(
            container,
            commands = plan.commands.len(),
            "user-data applied"
        );
        Ok(())
    }

    /// Starts again, in a container the engine restarted, the processes its user-data
    /// started where systemd does not run ([`cloudinit::Plan::services`]).
    async fn restart_services(
        &self,
        container: &str,
        user_data: &str,
        object: &str,
    ) -> Result<(), Error> {
        let plan = cloudinit::plan(user_data, container).map_err(|source| Error::UserData {
            object: object.to_string(),
            source,
        })?;
        for command in &plan.services {
            self.config
                .engine
                .exec(container, &command.what, &command.argv)
                .await
                .map_err(Error::engine(object))?;
        }
        if !plan.services.is_empty() {
            info!(
                container,
                services = plan.services.len(),
                "restarted container: its user-data's services started again"
            );
        }
        Ok(())
    }

    /// Changes the machine's status with `change`, writing only when it differs (the
    /// transition times aside). Returns the machine as stored.
    async fn set_status(
        &self,
        dm: &DockerMachine,
        change: impl Fn(&mut DockerMachineStatus),
    ) -> Result<DockerMachine, Error> {
        let mut status = dm.status.clone().unwrap_or_default();
        change(&mut status);
        if dm.status.as_ref() == Some(&status) {
            return Ok(dm.clone());
        }
        self.machines
            .modify_status(dm.namespace(), dm.name(), |d| {
                d.status = Some(status.clone())
            })
            .await
            .map_err(Error::store(format!(
                "update the status of DockerMachine {}/{}",
                dm.namespace(),
                dm.name()
            )))
    }

    async fn delete(
        &self,
        dm: &DockerMachine,
        cluster: Option<&str>,
        object: &str,
    ) -> Result<Next, Error> {
        if let Some(cluster) = cluster {
            let engine = &self.config.engine;
            let container = container_name(cluster, dm.name());
            engine
                .remove_container(&container)
                .await
                .map_err(Error::engine(object))?;
            engine
                .remove_volume(&format!("{container}-var"))
                .await
                .map_err(Error::engine(object))?;
            info!(container = %container, "removed the node container and its volume");
        }
        objects::remove_finalizer(
            &self.store,
            &TypeKey::of::<DockerMachine>(),
            dm.namespace(),
            dm.name(),
            MACHINE_FINALIZER,
        )
        .await?;
        Ok(Next::Done)
    }
}
