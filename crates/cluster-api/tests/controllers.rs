//! The controllers over the real SQLite store in a temporary directory, in process, with a
//! small test infrastructure provider standing in for Tinkerbell: it marks each
//! `TestMachine` ready once its Machine has bootstrap data (providerID `test://NS/NAME`),
//! writes a Ready `v1 Node` with that providerID, and holds a finalizer on the `TestMachine`
//! that it drops on deletion (unless the test holds it).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use ironbell_capi::api::ObjectReference;
use ironbell_capi::api::cluster::{
    ApiEndpoint, Bootstrap, ClusterSpec, MachineDeploymentSpec, MachineDeploymentStrategy,
    MachineSpec, MachineTemplateSpec, RollingUpdate,
};
use ironbell_capi::api::kubeadm::{
    ControlPlaneMachineTemplate, KubeadmConfigSpec, KubeadmConfigTemplateResource,
    KubeadmConfigTemplateSpec, KubeadmControlPlaneSpec, NodeConfiguration,
};
use ironbell_cluster_api::controllers::{Controllers, Options};
use ironbell_cluster_api::kinds::{ClusterStatus, INFRASTRUCTURE_API_VERSION};
use ironbell_cluster_api::objects;
use ironbell_cluster_api::{
    BootstrapData, BootstrapError, BootstrapInput, Cluster, KubeadmConfig, KubeadmConfigTemplate,
    KubeadmControlPlane, Machine, MachineDeployment, MachineSet, NodeBootstrapper,
};
use ironbell_controller::{Controller, Next, Reconcile};
use ironbell_model::anywhere::IntOrString;
use ironbell_model::corev1::{Node, NodeCondition, NodeStatus, Secret};
use ironbell_model::{ApiVersion, Condition, DynamicObject, Kind, ObjectMeta, Resource, TypeKey};
use ironbell_store::reflector::ObjectKey;
use ironbell_store::{ListParams, SharedStore, TypedEvent, api};
use ironbell_store_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

const NS: &str = "eksa-system";
const TEST_FINALIZER: &str = "testmachine.infrastructure.cluster.x-k8s.io";
const DEADLINE: Duration = Duration::from_secs(90);

/// The test provider's machine kind.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
struct TestMachine {
    #[serde(default)]
    api_version: ApiVersion<TestMachine>,
    #[serde(default)]
    kind: Kind<TestMachine>,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<Value>,
}
ironbell_model::impl_resource!(
    TestMachine,
    "infrastructure.cluster.x-k8s.io/v1beta1",
    "TestMachine",
    "testmachines"
);

/// A bootstrapper that writes what it was asked for.
struct EchoBootstrapper;

#[async_trait::async_trait]
impl NodeBootstrapper for EchoBootstrapper {
    async fn bootstrap(&self, input: BootstrapInput<'_>) -> Result<BootstrapData, BootstrapError> {
        let endpoint = input
            .cluster
            .spec
            .control_plane_endpoint
            .as_ref()
            .ok_or_else(|| BootstrapError::new("no endpoint"))?;
        Ok(BootstrapData {
            value: format!(
                "#cloud-config\n# machine {} role {:?} endpoint {}:{}\n",
                input.machine.metadata.name(),
                input.role,
                endpoint.host,
                endpoint.port
            ),
            format: input
                .config
                .spec
                .format
                .clone()
                .unwrap_or_else(|| "cloud-config".into()),
        })
    }
}

/// The test infrastructure provider.
struct Provider {
    store: SharedStore,
    /// Names of TestMachines whose finalizer the test holds.
    held: Arc<Mutex<HashSet<String>>>,
}

#[async_trait::async_trait]
impl Reconcile<TestMachine> for Provider {
    type Error = String;

    async fn reconcile(&self, key: &ObjectKey) -> Result<Next, String> {
        let (ns, name) = key;
        let tms = api::<TestMachine>(&self.store);
        let tm = match tms.get(ns, name).await {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Ok(Next::Done),
            Err(e) => return Err(e.to_string()),
        };
        let types = TypeKey::of::<TestMachine>();
        if tm.metadata.deletion_timestamp.is_some() {
            if self.held.lock().map(|h| h.contains(name)).unwrap_or(false) {
                return Ok(Next::After(Duration::from_millis(100)));
            }
            objects::remove_finalizer(&self.store, &types, ns, name, TEST_FINALIZER)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(Next::Done);
        }
        let Some(owner) = objects::owner_name::<Machine>(&tm.metadata).map(str::to_string) else {
            return Ok(Next::Done);
        };
        objects::ensure_finalizer(&self.store, &tm, TEST_FINALIZER)
            .await
            .map_err(|e| e.to_string())?;
        let machine = match api::<Machine>(&self.store).get(ns, &owner).await {
            Ok(m) => m,
            Err(e) if e.is_not_found() => return Ok(Next::Done),
            Err(e) => return Err(e.to_string()),
        };
        if machine.spec.bootstrap.data_secret_name.is_none() {
            return Ok(Next::After(Duration::from_millis(100)));
        }
        let pid = format!("test://{ns}/{name}");
        if tm.spec.get("providerID").and_then(Value::as_str) != Some(pid.as_str()) {
            tms.modify(ns, name, |t| {
                if let Some(o) = t.spec.as_object_mut() {
                    o.insert("providerID".into(), json!(pid));
                }
            })
            .await
            .map_err(|e| e.to_string())?;
        }
        // The machine "boots": its node reports in, then the infrastructure is ready.
        let node_name = format!("{ns}-{name}");
        let node = Node {
            // Cluster-scoped, as the metadata service's phone-home writes it.
            metadata: ObjectMeta::named("", node_name.clone()),
            spec: ironbell_model::corev1::NodeSpec {
                provider_id: Some(pid.clone()),
                unschedulable: None,
            },
            status: Some(NodeStatus {
                conditions: vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    ..NodeCondition::default()
                }],
                ..NodeStatus::default()
            }),
            ..Node::default()
        };
        match api::<Node>(&self.store).create(&node).await {
            Ok(_) => {}
            Err(ironbell_store::StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
        if tm.status.as_ref().and_then(|s| s.get("ready")) != Some(&json!(true)) {
            tms.modify_status(ns, name, |t| {
                t.status = Some(json!({
                    "ready": true,
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
                }));
            })
            .await
            .map_err(|e| e.to_string())?;
        }
        Ok(Next::Done)
    }
}

struct Plane {
    _dir: tempfile::TempDir,
    store: SharedStore,
    controllers: Option<JoinHandle<()>>,
    provider: JoinHandle<()>,
    held: Arc<Mutex<HashSet<String>>>,
}

impl Plane {
    fn new() -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store: SharedStore = Arc::new(
            SqliteStore::open(dir.path().join("store.db")).unwrap_or_else(|e| panic!("{e}")),
        );
        let held: Arc<Mutex<HashSet<String>>> = Arc::default();
        let provider = {
            let r = Arc::new(Provider {
                store: store.clone(),
                held: held.clone(),
            });
            let c = Controller::<TestMachine>::new("test-provider", store.clone());
            tokio::spawn(c.run(r, 2))
        };
        let mut plane = Self {
            _dir: dir,
            store,
            controllers: None,
            provider,
            held,
        };
        plane.start();
        plane
    }

    fn start(&mut self) {
        let c = Controllers::new(self.store.clone(), Arc::new(EchoBootstrapper))
            .with_options(Options {
                requeue: Duration::from_millis(100),
                concurrency: 2,
            })
            .watch_infrastructure::<TestMachine>();
        self.controllers = Some(tokio::spawn(c.run()));
    }

    async fn stop(&mut self) {
        if let Some(h) = self.controllers.take() {
            h.abort();
            let _ = h.await;
        }
    }

    async fn create_dynamic(&self, types: TypeKey, name: &str, body: Value) {
        let mut obj = DynamicObject::new(types, ObjectMeta::named(NS, name));
        if let Value::Object(m) = body {
            for (k, v) in m {
                obj.set_field(k, &v).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let created = self
            .store
            .create(obj)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // Status is kept on create by this store; make sure of it with an update.
        let _ = created;
    }

    /// A test machine template with `image`.
    async fn machine_template(&self, name: &str, image: &str) {
        self.create_dynamic(
            TypeKey::new(INFRASTRUCTURE_API_VERSION, "TestMachineTemplate"),
            name,
            json!({"spec": {"template": {"spec": {"image": image}}}}),
        )
        .await;
    }

    /// A ready test infrastructure cluster and a `Cluster` using it; `control_plane`: its
    /// KCP's name, else the cluster's control plane is marked initialized by hand.
    async fn cluster(&self, name: &str, control_plane: Option<&str>, paused: bool) {
        self.create_dynamic(
            TypeKey::new(INFRASTRUCTURE_API_VERSION, "TestCluster"),
            name,
            json!({
                "spec": {"controlPlaneEndpoint": {"host": "10.0.0.100", "port": 6443}},
                "status": {"ready": true},
            }),
        )
        .await;
        let mut c = Cluster {
            metadata: ObjectMeta::named(NS, name),
            spec: ClusterSpec {
                infrastructure_ref: Some(
                    ObjectReference::new(INFRASTRUCTURE_API_VERSION, "TestCluster", name)
                        .in_namespace(NS),
                ),
                control_plane_ref: control_plane.map(|cp| {
                    ObjectReference::new(
                        ironbell_cluster_api::kinds::CONTROL_PLANE_API_VERSION,
                        "KubeadmControlPlane",
                        cp,
                    )
                    .in_namespace(NS)
                }),
                paused: paused.then_some(true),
                ..ClusterSpec::default()
            },
            ..Cluster::default()
        };
        if control_plane.is_none() {
            c.status = Some(ClusterStatus {
                conditions: vec![Condition {
                    type_: "ControlPlaneInitialized".into(),
                    status: "True".into(),
                    ..Condition::default()
                }],
                ..ClusterStatus::default()
            });
        }
        self.create(&c).await;
    }

    async fn get<K: Resource>(&self, name: &str) -> K {
        api::<K>(&self.store)
            .get(NS, name)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn create<K: Resource>(&self, obj: &K) {
        api::<K>(&self.store)
            .create(obj)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Cluster `c` with a `KubeadmControlPlane` `c` of `replicas` on template `<c>-cp-1`.
    async fn control_plane(&self, c: &str, replicas: i64) {
        self.cluster(c, Some(c), false).await;
        self.machine_template(&format!("{c}-cp-1"), "ubuntu-1")
            .await;
        let kcp = KubeadmControlPlane {
            metadata: ObjectMeta::named(NS, c),
            spec: KubeadmControlPlaneSpec {
                kubeadm_config_spec: KubeadmConfigSpec {
                    init_configuration: Some(NodeConfiguration::default()),
                    join_configuration: Some(NodeConfiguration::default()),
                    format: Some("cloud-config".into()),
                    ..KubeadmConfigSpec::default()
                },
                machine_template: ControlPlaneMachineTemplate::in_eksa_system(
                    INFRASTRUCTURE_API_VERSION,
                    "TestMachineTemplate",
                    format!("{c}-cp-1"),
                ),
                replicas,
                rollout_strategy: None,
                version: "v1.30.0".into(),
            },
            ..KubeadmControlPlane::default()
        };
        self.create(&kcp).await;
    }

    async fn config_template(&self, name: &str) {
        let t = KubeadmConfigTemplate {
            metadata: ObjectMeta::named(NS, name),
            spec: KubeadmConfigTemplateSpec {
                template: KubeadmConfigTemplateResource {
                    spec: KubeadmConfigSpec {
                        join_configuration: Some(NodeConfiguration::default()),
                        format: Some("cloud-config".into()),
                        ..KubeadmConfigSpec::default()
                    },
                },
            },
            ..KubeadmConfigTemplate::default()
        };
        self.create(&t).await;
    }

    async fn deployment(
        &self,
        cluster: &str,
        name: &str,
        replicas: i64,
        template: &str,
        surge: i64,
        unavailable: i64,
    ) {
        self.config_template(&format!("{name}-config")).await;
        let md = MachineDeployment {
            metadata: ObjectMeta::named(NS, name),
            spec: MachineDeploymentSpec {
                cluster_name: cluster.into(),
                replicas: Some(replicas),
                selector: Default::default(),
                template: MachineTemplateSpec {
                    metadata: None,
                    spec: MachineSpec {
                        bootstrap: Bootstrap {
                            config_ref: Some(ObjectReference::new(
                                ironbell_cluster_api::kinds::BOOTSTRAP_API_VERSION,
                                "KubeadmConfigTemplate",
                                format!("{name}-config"),
                            )),
                            data_secret_name: None,
                        },
                        cluster_name: cluster.into(),
                        infrastructure_ref: ObjectReference::new(
                            INFRASTRUCTURE_API_VERSION,
                            "TestMachineTemplate",
                            template,
                        ),
                        version: Some("v1.30.0".into()),
                        ..MachineSpec::default()
                    },
                },
                strategy: Some(MachineDeploymentStrategy {
                    strategy_type: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdate {
                        max_surge: Some(IntOrString::Int(surge)),
                        max_unavailable: Some(IntOrString::Int(unavailable)),
                    }),
                }),
            },
            ..MachineDeployment::default()
        };
        self.create(&md).await;
    }

    async fn machines(&self) -> Vec<Machine> {
        api::<Machine>(&self.store)
            .list(&ListParams::namespace(NS))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .0
    }

    async fn machines_of(&self, label: &str, value: &str) -> Vec<Machine> {
        self.machines()
            .await
            .into_iter()
            .filter(|m| m.metadata.label(label) == Some(value))
            .collect()
    }

    async fn dynamic(&self, kind: &str, name: &str) -> Option<DynamicObject> {
        match self
            .store
            .get(&TypeKey::new(INFRASTRUCTURE_API_VERSION, kind), NS, name)
            .await
        {
            Ok(o) => Some(o),
            Err(e) if e.is_not_found() => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// The machine's `TestMachine`, checked to be cloned from a template with `image`.
    async fn infra_with_image(&self, machine: &str, image: &str) -> DynamicObject {
        let infra = self
            .dynamic("TestMachine", machine)
            .await
            .unwrap_or_else(|| panic!("no TestMachine for {machine}"));
        let got = infra
            .field_value("spec")
            .and_then(|s| s.get("image").cloned());
        assert_eq!(got, Some(json!(image)), "{machine}");
        infra
    }

    /// Checks the role the machine's bootstrap data was made for.
    async fn bootstrap_role(&self, machine: &str, role: &str) {
        let secret = self.get::<Secret>(machine).await;
        let value = secret.get_str("value").unwrap_or_default();
        assert!(
            value.contains(&format!("role {role} ")),
            "{machine}: {value}"
        );
    }

    /// Whether no `K` is left in the namespace.
    async fn none_left<K: Resource>(&self) -> bool {
        let list = api::<K>(&self.store).list(&ListParams::namespace(NS)).await;
        list.is_ok_and(|(items, _)| items.is_empty())
    }

    async fn nodes(&self) -> Vec<Node> {
        api::<Node>(&self.store)
            .list(&ListParams::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .0
    }
}

impl Drop for Plane {
    fn drop(&mut self) {
        self.provider.abort();
        if let Some(h) = &self.controllers {
            h.abort();
        }
    }
}

/// Polls `check` until it returns `Some`, or fails naming `what` after the deadline.
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn running(m: &Machine) -> bool {
    m.metadata.deletion_timestamp.is_none()
        && m.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

/// Waits until the machines labelled `label=value` are exactly `n`, all Running, and
/// `extra` holds for them; returns them.
async fn settled(
    plane: &Plane,
    label: &str,
    value: &str,
    n: usize,
    extra: impl Fn(&[Machine]) -> bool,
) -> Vec<Machine> {
    until(&format!("{n} Running machines of {value}"), || async {
        let ms = plane.machines_of(label, value).await;
        (ms.len() == n && ms.iter().all(running) && extra(&ms)).then_some(ms)
    })
    .await
}

/// Watches Machines with `label=value` from now and records, at every revision, how many
/// exist and how many are available (Running, not being deleted), and every name seen.
struct Observer {
    handle: JoinHandle<()>,
    seen: Arc<Mutex<(i64, i64, BTreeSet<String>)>>,
}

impl Observer {
    async fn start(store: &SharedStore, label: &'static str, value: &str) -> Self {
        let machines = api::<Machine>(store);
        let (items, rv) = machines
            .list(&ListParams::namespace(NS))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let value = value.to_string();
        let mine = move |m: &Machine| m.metadata.label(label) == Some(value.as_str());
        let mut state: BTreeMap<String, bool> = items
            .iter()
            .filter(|m| mine(m))
            .map(|m| (m.metadata.name().to_string(), running(m)))
            .collect();
        let names: BTreeSet<String> = state.keys().cloned().collect();
        let seen = Arc::new(Mutex::new((
            i64::try_from(state.len()).unwrap_or(0),
            i64::try_from(state.values().filter(|r| **r).count()).unwrap_or(0),
            names,
        )));
        let mut stream = machines
            .watch(&ListParams::namespace(NS), Some(rv))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let out = seen.clone();
        let handle = tokio::spawn(async move {
            while let Some(ev) = stream.next().await {
                let Ok(ev) = ev else { continue };
                let (m, gone) = match &ev {
                    TypedEvent::Deleted(m) => (m, true),
                    TypedEvent::Added(m) | TypedEvent::Modified(m) => (m, false),
                };
                if !mine(m) {
                    continue;
                }
                if gone {
                    state.remove(m.metadata.name());
                } else {
                    state.insert(m.metadata.name().to_string(), running(m));
                }
                let alive = i64::try_from(state.len()).unwrap_or(0);
                let avail = i64::try_from(state.values().filter(|r| **r).count()).unwrap_or(0);
                if let Ok(mut s) = out.lock() {
                    s.0 = s.0.max(alive);
                    s.1 = s.1.min(avail);
                    s.2.insert(m.metadata.name().to_string());
                }
            }
        });
        Self { handle, seen }
    }

    /// Stops watching and checks that at every revision at most `max_alive` machines
    /// existed and at least `min_available` were available, and that `seen` machines
    /// existed in all (each name once: no duplicate was made).
    fn check(self, what: &str, max_alive: i64, min_available: i64, seen: usize) {
        self.handle.abort();
        let (alive, available, names) = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
        println!("{what}: at most {alive} alive, at least {available} available, {names:?}");
        assert!(
            alive <= max_alive,
            "{what}: {alive} machines alive > {max_alive}"
        );
        assert!(
            available >= min_available,
            "{what}: {available} available < {min_available}"
        );
        assert_eq!(names.len(), seen, "{what}: {names:?}");
    }
}

/// A deployment `<c>-md` of 3 machines (`maxSurge`, `maxUnavailable`) on template
/// `<c>-md-1`, settled; then an observer is started and the template changed to `<c>-md-2`.
/// Returns the old set's name and the observer.
async fn start_rollout(
    plane: &Plane,
    c: &str,
    surge: i64,
    unavailable: i64,
) -> (Option<String>, Observer) {
    let md = format!("{c}-md");
    plane.cluster(c, None, false).await;
    plane.machine_template(&format!("{md}-1"), "ubuntu-1").await;
    plane.machine_template(&format!("{md}-2"), "ubuntu-2").await;
    plane
        .deployment(c, &md, 3, &format!("{md}-1"), surge, unavailable)
        .await;
    let before = settled(plane, MD_LABEL, &md, 3, |_| true).await;
    let old_set = before[0]
        .metadata
        .label("cluster.x-k8s.io/set-name")
        .map(str::to_string);
    let observer = Observer::start(&plane.store, MD_LABEL, &md).await;
    api::<MachineDeployment>(&plane.store)
        .modify(NS, &md, |m| {
            m.spec.template.spec.infrastructure_ref.name = format!("{md}-2")
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (old_set, observer)
}

/// Whether none of `ms` belongs to the set `old`.
fn none_of(old: Option<&str>, ms: &[Machine]) -> bool {
    ms.iter()
        .all(|m| m.metadata.label("cluster.x-k8s.io/set-name") != old)
}

/// Cluster `c` with deployment `<c>-md` of `n` machines (template `<c>-md-1`), settled.
async fn simple_deployment(plane: &Plane, c: &str, n: usize) -> Vec<Machine> {
    let md = format!("{c}-md");
    plane.cluster(c, None, false).await;
    plane.machine_template(&format!("{md}-1"), "ubuntu-1").await;
    let replicas = i64::try_from(n).unwrap_or(0);
    plane
        .deployment(c, &md, replicas, &format!("{md}-1"), 1, 0)
        .await;
    settled(plane, MD_LABEL, &md, n, |_| true).await
}

const MD_LABEL: &str = "cluster.x-k8s.io/deployment-name";
const CP_LABEL: &str = "cluster.x-k8s.io/control-plane-name";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machine_deployment_scales_2_3_1_with_every_object_in_place() {
    let plane = Plane::new();
    let ms = simple_deployment(&plane, "c1", 2).await;

    // Labels, owners and each machine's objects.
    let sets = api::<MachineSet>(&plane.store)
        .list(&ListParams::namespace(NS))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .0;
    assert_eq!(sets.len(), 1);
    let set = &sets[0];
    let hash = set
        .metadata
        .label("machine-template-hash")
        .unwrap_or_else(|| panic!("hash label"));
    assert_eq!(set.metadata.name(), format!("c1-md-{hash}"));
    assert_eq!(
        objects::owner_name::<MachineDeployment>(&set.metadata),
        Some("c1-md")
    );
    for m in &ms {
        let name = m.metadata.name();
        assert!(name.starts_with(set.metadata.name()), "{name}");
        assert_eq!(
            m.metadata.label("cluster.x-k8s.io/cluster-name"),
            Some("c1")
        );
        assert_eq!(
            m.metadata.label("cluster.x-k8s.io/set-name"),
            Some(set.metadata.name())
        );
        assert_eq!(m.metadata.label(MD_LABEL), Some("c1-md"));
        assert_eq!(m.metadata.label("machine-template-hash"), Some(hash));
        assert_eq!(
            objects::owner_name::<MachineSet>(&m.metadata),
            set.metadata.name.as_deref()
        );
        assert!(objects::has_finalizer(
            &m.metadata,
            "machine.cluster.x-k8s.io"
        ));
        assert_eq!(
            m.spec.provider_id.as_deref(),
            Some(format!("test://{NS}/{name}").as_str())
        );
        let st = m.status.clone().unwrap_or_default();
        assert!(st.bootstrap_ready && st.infrastructure_ready);
        assert_eq!(
            st.addresses.first().map(|a| a.address.as_str()),
            Some("10.0.0.1")
        );
        assert_eq!(
            st.node_ref.as_ref().map(|n| n.name.clone()),
            Some(format!("{NS}-{name}"))
        );
        let infra = plane.infra_with_image(name, "ubuntu-1").await;
        assert_eq!(objects::owner_name::<Machine>(&infra.metadata), Some(name));
        let annotations = infra.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            annotations
                .get("cluster.x-k8s.io/cloned-from-name")
                .map(String::as_str),
            Some("c1-md-1")
        );
        let cfg = plane.get::<KubeadmConfig>(name).await;
        assert_eq!(objects::owner_name::<Machine>(&cfg.metadata), Some(name));
        assert_eq!(
            cfg.status
                .as_ref()
                .and_then(|s| s.data_secret_name.as_deref()),
            Some(name)
        );
        let secret = plane.get::<Secret>(name).await;
        assert_eq!(secret.type_.as_deref(), Some("cluster.x-k8s.io/secret"));
        assert_eq!(secret.get_str("format"), Some("cloud-config"));
        let value = secret.get_str("value").unwrap_or_default();
        assert!(
            value.contains("role JoinWorker endpoint 10.0.0.100:6443"),
            "{value}"
        );
        assert_eq!(
            objects::owner_name::<KubeadmConfig>(&secret.metadata),
            Some(name)
        );
    }
    let cluster = plane.get::<Cluster>("c1").await;
    let cs = cluster.status.unwrap_or_default();
    assert!(cs.infrastructure_ready);
    assert_eq!(cs.phase.as_deref(), Some("Provisioned"));
    assert_eq!(
        cluster.spec.control_plane_endpoint,
        Some(ApiEndpoint {
            host: "10.0.0.100".into(),
            port: 6443
        })
    );

    // 2 → 3 → 1.
    let mds = api::<MachineDeployment>(&plane.store);
    mds.modify(NS, "c1-md", |m| m.spec.replicas = Some(3))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    settled(&plane, MD_LABEL, "c1-md", 3, |_| true).await;
    mds.modify(NS, "c1-md", |m| m.spec.replicas = Some(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let left = settled(&plane, MD_LABEL, "c1-md", 1, |_| true).await;
    let keep = left[0].metadata.name().to_string();
    // The deleted machines' objects and nodes are gone.
    until("the scaled-down machines' objects to go", || async {
        let mut infra_left = 0;
        for n in 0..3 {
            let name = format!("{}-{n}", set.metadata.name());
            if name != keep && plane.dynamic("TestMachine", &name).await.is_some() {
                infra_left += 1;
            }
        }
        let nodes = plane.nodes().await;
        (infra_left == 0 && nodes.len() == 1).then_some(())
    })
    .await;
    assert!(plane.nodes().await[0].metadata.name().ends_with(&keep));
    until(
        "the MachineDeployment status to show 1 available",
        || async {
            let st = plane.get::<MachineDeployment>("c1-md").await.status?;
            (st.replicas == 1
                && st.available_replicas == 1
                && st.phase.as_deref() == Some("Running"))
            .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_change_rolls_within_surge_and_unavailability() {
    let plane = Plane::new();
    let (old_set, observer) = start_rollout(&plane, "c2", 1, 0).await;
    let after = settled(&plane, MD_LABEL, "c2-md", 3, |ms| {
        none_of(old_set.as_deref(), ms)
    })
    .await;
    observer.check("rolling 3 (surge 1, unavailable 0)", 4, 3, 6);
    for m in &after {
        plane.infra_with_image(m.metadata.name(), "ubuntu-2").await;
    }
    until("the old MachineSet to go", || async {
        let sets = api::<MachineSet>(&plane.store)
            .list(&ListParams::namespace(NS))
            .await
            .ok()?
            .0;
        (sets.len() == 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_surge_a_rollout_replaces_one_machine_at_a_time() {
    let plane = Plane::new();
    let (old_set, observer) = start_rollout(&plane, "c6", 0, 1).await;
    settled(&plane, MD_LABEL, "c6-md", 3, |ms| {
        none_of(old_set.as_deref(), ms)
    })
    .await;
    observer.check("rolling 3 (surge 0, unavailable 1)", 3, 2, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_1_to_3_then_a_version_rollout_across_a_restart() {
    let mut plane = Plane::new();
    plane.control_plane("c3", 1).await;
    let kcps = api::<KubeadmControlPlane>(&plane.store);
    let first = settled(&plane, CP_LABEL, "c3", 1, |_| true).await;
    plane.bootstrap_role(first[0].metadata.name(), "Init").await;
    assert!(
        first[0]
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.contains_key("cluster.x-k8s.io/control-plane"))
    );
    until("the Cluster to see its control plane", || async {
        let c = api::<Cluster>(&plane.store).get(NS, "c3").await.ok()?;
        let s = c.status?;
        (s.control_plane_ready
            && s.conditions
                .iter()
                .any(|c| c.type_ == "ControlPlaneInitialized" && c.status == "True"))
        .then_some(())
    })
    .await;

    kcps.modify(NS, "c3", |k| k.spec.replicas = 3)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let three = settled(&plane, CP_LABEL, "c3", 3, |_| true).await;
    for m in three
        .iter()
        .filter(|m| m.metadata.name() != first[0].metadata.name())
    {
        plane
            .bootstrap_role(m.metadata.name(), "JoinControlPlane")
            .await;
    }
    until("the KCP status to show 3 ready", || async {
        let st = plane.get::<KubeadmControlPlane>("c3").await.status?;
        let counts = (st.replicas, st.ready_replicas, st.updated_replicas);
        (st.initialized && st.ready && counts == (3, 3, 3)).then_some(())
    })
    .await;

    let observer = Observer::start(&plane.store, CP_LABEL, "c3").await;
    kcps.modify(NS, "c3", |k| k.spec.version = "v1.31.0".into())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Stopped and restarted once the second new machine exists: no duplicate either.
    until("the second machine of the rollout", || async {
        let ms = plane.machines_of(CP_LABEL, "c3").await;
        ms.iter().any(|m| m.metadata.name() == "c3-4").then_some(())
    })
    .await;
    plane.stop().await;
    plane.start();
    settled(&plane, CP_LABEL, "c3", 3, |ms| {
        ms.iter()
            .all(|m| m.spec.version.as_deref() == Some("v1.31.0"))
    })
    .await;
    observer.check("control plane rollout of 3 (surge 1)", 4, 3, 6);
    until("the KCP status to show the rollout done", || async {
        let st = kcps.get(NS, "c3").await.ok()?.status?;
        let counts = (st.replicas, st.ready_replicas, st.updated_replicas);
        (counts == (3, 3, 3) && st.version.as_deref() == Some("v1.31.0")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_machine_waits_for_its_infrastructure_object() {
    let plane = Plane::new();
    let m = simple_deployment(&plane, "c4", 1).await.remove(0);
    let name = m.metadata.name().to_string();
    if let Ok(mut h) = plane.held.lock() {
        h.insert(name.clone());
    }
    api::<MachineDeployment>(&plane.store)
        .modify(NS, "c4-md", |m| m.spec.replicas = Some(0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The machine is Deleting, its bootstrap objects gone, its infrastructure object marked.
    until(
        "the machine to wait on its infrastructure object",
        || async {
            let m = api::<Machine>(&plane.store).get(NS, &name).await.ok()?;
            let phase = m.status.and_then(|s| s.phase);
            let infra = plane.dynamic("TestMachine", &name).await?;
            let cfg_gone = api::<KubeadmConfig>(&plane.store)
                .get(NS, &name)
                .await
                .is_err();
            let secret_gone = api::<Secret>(&plane.store).get(NS, &name).await.is_err();
            (phase.as_deref() == Some("Deleting")
                && infra.metadata.deletion_timestamp.is_some()
                && cfg_gone
                && secret_gone)
                .then_some(())
        },
    )
    .await;
    // Held: the Machine and its Node stay for as long as the infrastructure object does.
    let m = plane.get::<Machine>(&name).await;
    assert!(objects::has_finalizer(
        &m.metadata,
        "machine.cluster.x-k8s.io"
    ));
    assert_eq!(
        plane.nodes().await.len(),
        1,
        "the Node stays while the machine is powered"
    );
    if let Ok(mut h) = plane.held.lock() {
        h.clear();
    }
    until(
        "the machine, its infrastructure object and Node to go",
        || async {
            let machine_gone = api::<Machine>(&plane.store).get(NS, &name).await.is_err();
            let infra_gone = plane.dynamic("TestMachine", &name).await.is_none();
            let nodes = plane.nodes().await;
            (machine_gone && infra_gone && nodes.is_empty()).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_stopped_mid_rollout_converge_on_restart_without_duplicates() {
    let mut plane = Plane::new();
    let (old_set, observer) = start_rollout(&plane, "c5", 1, 0).await;
    // Stop at three points of the rollout (as the first, second and third new machine
    // appear, old ones remaining), each time restarting at once and once more right away,
    // to also stop between the steps of a reconcile.
    for k in 1..=3 {
        until(&format!("new machine {k} of the rollout"), || async {
            let ms = plane.machines_of(MD_LABEL, "c5-md").await;
            let new = ms
                .iter()
                .filter(|m| none_of(old_set.as_deref(), std::slice::from_ref(m)))
                .count();
            (new >= k).then_some(())
        })
        .await;
        plane.stop().await;
        let mid = plane.machines_of(MD_LABEL, "c5-md").await;
        println!(
            "stopped with {} machines: {:?}",
            mid.len(),
            mid.iter().map(|m| m.metadata.name()).collect::<Vec<_>>()
        );
        plane.start();
        tokio::task::yield_now().await;
        plane.stop().await;
        plane.start();
    }
    settled(&plane, MD_LABEL, "c5-md", 3, |ms| {
        none_of(old_set.as_deref(), ms)
    })
    .await;
    observer.check(
        "rolling 3 (surge 1, unavailable 0) across restarts",
        4,
        3,
        6,
    );
    let sets = api::<MachineSet>(&plane.store)
        .list(&ListParams::namespace(NS))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .0;
    let new_sets = sets
        .iter()
        .filter(|s| s.metadata.name.as_deref() != old_set.as_deref())
        .count();
    assert_eq!(new_sets, 1, "one MachineSet for the new template");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_cluster_is_left_alone() {
    let plane = Plane::new();
    plane.cluster("paused", None, true).await;
    plane.machine_template("paused-md-1", "ubuntu-1").await;
    plane
        .deployment("paused", "paused-md", 2, "paused-md-1", 1, 0)
        .await;
    // Another cluster in the same store converges: the controllers are running.
    simple_deployment(&plane, "live", 1).await;
    assert!(plane.machines_of(MD_LABEL, "paused-md").await.is_empty());
    let sets = api::<MachineSet>(&plane.store)
        .list(&ListParams::namespace(NS))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .0;
    assert!(
        sets.iter().all(|s| s.spec.cluster_name == "live"),
        "no MachineSet for the paused cluster"
    );
    let md = plane.get::<MachineDeployment>("paused-md").await;
    assert!(
        md.status.is_none(),
        "a paused deployment's status is not written"
    );
    let c = plane.get::<Cluster>("paused").await;
    assert!(
        c.status.and_then(|s| s.phase).is_none(),
        "a paused cluster's status is not written"
    );

    // Pausing a running cluster with the annotation: a scale is not acted on.
    api::<Cluster>(&plane.store)
        .modify(NS, "live", |c| {
            c.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert("cluster.x-k8s.io/paused".into(), String::new());
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    api::<MachineDeployment>(&plane.store)
        .modify(NS, "live-md", |m| m.spec.replicas = Some(3))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // A third, unpaused cluster converging shows the controllers have run since.
    simple_deployment(&plane, "probe", 1).await;
    assert_eq!(
        plane.machines_of(MD_LABEL, "live-md").await.len(),
        1,
        "the paused cluster did not scale"
    );
    // Unpaused, it does.
    api::<Cluster>(&plane.store)
        .modify(NS, "live", |c| {
            if let Some(a) = c.metadata.annotations.as_mut() {
                a.remove("cluster.x-k8s.io/paused");
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Nothing watches the Cluster from the deployment: nudge it as a user's apply would.
    api::<MachineDeployment>(&plane.store)
        .modify(NS, "live-md", |m| {
            m.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert("touched".into(), "1".into());
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    settled(&plane, MD_LABEL, "live-md", 3, |_| true).await;
}

/// As Cluster API's `reconcileExternal`: the infrastructure cluster and the control plane,
/// which EKS Anywhere renders with neither, get an owner reference to their `Cluster` and its
/// cluster-name label (CAPT's `TinkerbellCluster` controller waits for its owner).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_adopts_its_infrastructure_cluster_and_control_plane() {
    let plane = Plane::new();
    plane.control_plane("c9", 1).await;
    for (types, name) in [
        (
            TypeKey::new(INFRASTRUCTURE_API_VERSION, "TestCluster"),
            "c9",
        ),
        (TypeKey::of::<KubeadmControlPlane>(), "c9"),
    ] {
        until(&format!("{} {name} adopted", types.kind), || async {
            let obj = plane.store.get(&types, NS, name).await.ok()?;
            let owned = objects::owned_by::<Cluster>(&obj.metadata, "c9");
            let labelled = obj.metadata.label("cluster.x-k8s.io/cluster-name") == Some("c9");
            (owned && labelled).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_cluster_deletes_every_object_and_waits_for_the_machines() {
    let plane = Plane::new();
    plane.control_plane("c7", 1).await;
    plane.machine_template("c7-md-1", "ubuntu-1").await;
    plane.deployment("c7", "c7-md", 2, "c7-md-1", 1, 0).await;
    settled(&plane, CP_LABEL, "c7", 1, |_| true).await;
    let workers = settled(&plane, MD_LABEL, "c7-md", 2, |_| true).await;
    assert!(objects::has_finalizer(
        &plane.get::<Cluster>("c7").await.metadata,
        "cluster.cluster.x-k8s.io"
    ));
    // One worker's provider holds its machine: the cluster waits for it.
    let held = workers[0].metadata.name().to_string();
    if let Ok(mut h) = plane.held.lock() {
        h.insert(held.clone());
    }
    let deletion = objects::request_delete(&plane.store, &TypeKey::of::<Cluster>(), NS, "c7")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(deletion, objects::Deletion::Pending);
    until("every machine but the held one to go", || async {
        let ms = plane.machines().await;
        (ms.len() == 1 && ms[0].metadata.name() == held).then_some(())
    })
    .await;
    let c = plane.get::<Cluster>("c7").await;
    assert_eq!(c.status.and_then(|s| s.phase).as_deref(), Some("Deleting"));
    assert!(
        plane.dynamic("TestCluster", "c7").await.is_some(),
        "the infrastructure cluster waits"
    );
    if let Ok(mut h) = plane.held.lock() {
        h.clear();
    }
    until("the cluster and everything of it to go", || async {
        let all_gone = plane.machines().await.is_empty()
            && plane.none_left::<MachineSet>().await
            && plane.none_left::<MachineDeployment>().await
            && plane.none_left::<KubeadmControlPlane>().await
            && plane.none_left::<KubeadmConfig>().await
            && plane.none_left::<TestMachine>().await
            && plane.none_left::<Secret>().await
            && plane.nodes().await.is_empty()
            && plane.dynamic("TestCluster", "c7").await.is_none()
            && api::<Cluster>(&plane.store).get(NS, "c7").await.is_err();
        all_gone.then_some(())
    })
    .await;
}
