//! The world of the Docker provider's tests: a Docker engine (Debian's `docker.io`) started
//! inside a network namespace of the test's own, as `../shared/LAB-NOTES.md` says, with the
//! node and load-balancer images of `scripts/docker-images` imported; the SQLite store; the
//! Cluster API controllers with the `plain` node bootstrapper and this provider's
//! controllers; the phone-home receiver on an address of the namespace's loopback, which
//! the containers reach through their gateway. Nothing leaves the machine: the engine's
//! bridges and every container address live in the namespace, from where the load balancer
//! is checked.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ironbell_capi::api::ObjectReference;
use ironbell_capi::api::cluster::{
    Bootstrap, ClusterSpec, MachineDeploymentSpec, MachineDeploymentStrategy, MachineSpec,
    MachineTemplateSpec, RollingUpdate,
};
use ironbell_capi::api::docker::DockerLoadBalancer;
use ironbell_capi::api::kubeadm::{
    ControlPlaneMachineTemplate, KubeadmConfigSpec, KubeadmConfigTemplateResource,
    KubeadmConfigTemplateSpec, KubeadmControlPlaneSpec, NodeConfiguration,
};
use ironbell_cluster_api::bootstrappers::PlainBootstrapper;
use ironbell_cluster_api::controllers::{Controllers, Options};
use ironbell_cluster_api::kinds::{BOOTSTRAP_API_VERSION, CONTROL_PLANE_API_VERSION};
use ironbell_cluster_api::{
    Cluster, KubeadmConfigTemplate, KubeadmControlPlane, Machine, MachineDeployment,
};
use ironbell_model::anywhere::IntOrString;
use ironbell_model::{ObjectMeta, Resource};
use ironbell_provider_docker::api::{
    DOCKER_API_VERSION, DockerClusterSpec, DockerMachineSpec, DockerMachineTemplateResource,
    DockerMachineTemplateSpec,
};
use ironbell_provider_docker::{
    Config, DockerCluster, DockerMachine, DockerMachineTemplate, Engine, KIND_CLUSTER_LABEL,
    KIND_ROLE_LABEL,
};
use ironbell_store::{ListParams, SharedStore, api};
use ironbell_store_sqlite::SqliteStore;
use ironbell_testbed::{Dockerd, Netns, wait_until_async};
use tokio::task::JoinHandle;

pub const NS: &str = "eksa-system";
pub const CLUSTER: &str = "c1";
/// The phone-home receiver's address, on the namespace's loopback.
pub const PHONE_HOME_IP: &str = "10.250.0.1";
pub const DEADLINE: Duration = Duration::from_secs(180);
/// Pause between two looks at a condition polled under a deadline.
pub const POLL: Duration = Duration::from_millis(100);
/// The test's world: a namespace with an engine, the store and the controllers.
pub struct Lab {
    pub ns: Netns,
    pub dockerd: Dockerd,
    pub engine: Engine,
    pub store: SharedStore,
    /// The phone-home receiver first, then the controllers.
    pub tasks: Vec<JoinHandle<()>>,
    pub phone_home_url: String,
    pub lb_tag: String,
    pub _dir: tempfile::TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Lab {
    pub async fn start() -> Option<Self> {
        let (ns, dockerd, key) = ironbell_testbed::engine_with_test_images(PHONE_HOME_IP)?;
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info".into()),
            )
            .with_test_writer()
            .try_init();
        dockerd
            .docker(&["tag", "ironbell-test/node:v1", "ironbell-test/node:v2"])
            .unwrap();
        let engine = Engine::connect(&dockerd.host()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(SqliteStore::open(dir.path().join("store.db")).unwrap());

        // The phone-home receiver, inside the namespace.
        let listener = ns.tcp_listener(&format!("{PHONE_HOME_IP}:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let phone_home = tokio::spawn({
            let store = store.clone();
            async move {
                let _ = ironbell_provider_docker::phone_home::serve(
                    store,
                    listener,
                    std::future::pending(),
                )
                .await;
            }
        });
        let mut lab = Self {
            ns,
            dockerd,
            engine,
            store,
            tasks: vec![phone_home],
            phone_home_url: format!("http://{PHONE_HOME_IP}:{port}/phone-home"),
            lb_tag: key,
            _dir: dir,
        };
        lab.start_controllers();
        Some(lab)
    }

    /// Starts the Cluster API controllers (with the `plain` node bootstrapper) and this
    /// provider's, as a plane's controller leader runs them.
    pub fn start_controllers(&mut self) {
        let bootstrapper = PlainBootstrapper::new(self.phone_home_url.clone());
        let capi = Controllers::new(self.store.clone(), Arc::new(bootstrapper))
            .with_options(Options {
                requeue: Duration::from_millis(200),
                concurrency: 4,
            })
            .watch_infrastructure::<DockerMachine>();
        let mut config = Config::new(self.engine.clone());
        config.wait = Duration::from_millis(200);
        config.resync = Duration::from_secs(1);
        let provider = ironbell_provider_docker::run(self.store.clone(), config);
        self.tasks.push(tokio::spawn(capi.run()));
        self.tasks.push(tokio::spawn(provider));
    }

    /// Stops every controller at once, wherever it is (what a `kill -9` of the plane
    /// does to them), and starts new ones on the same store and engine.
    pub async fn restart_controllers(&mut self) {
        for t in self.tasks.drain(1..) {
            t.abort();
            let _ = t.await;
        }
        self.start_controllers();
    }

    pub async fn create<K: Resource>(&self, obj: &K) {
        api::<K>(&self.store)
            .create(obj)
            .await
            .unwrap_or_else(|e| panic!("create {} {}: {e}", K::KIND, obj.name()));
    }

    pub async fn template(&self, name: &str, image: &str) {
        self.create(&DockerMachineTemplate {
            metadata: ObjectMeta::named(NS, name),
            spec: DockerMachineTemplateSpec {
                template: DockerMachineTemplateResource {
                    spec: DockerMachineSpec {
                        custom_image: Some(image.into()),
                        ..DockerMachineSpec::default()
                    },
                },
            },
            ..DockerMachineTemplate::default()
        })
        .await;
    }

    /// Cluster `c1`: a `DockerCluster`, one control-plane machine, a deployment of
    /// Deletes the Cluster, waits until it is gone, and checks that nothing with the
    /// cluster's label is left on the engine (containers, networks, volumes).
    pub async fn delete_cluster_and_check_nothing_left(&self) {
        let deletion = ironbell_cluster_api::objects::request_delete(
            &self.store,
            &ironbell_model::TypeKey::of::<Cluster>(),
            NS,
            CLUSTER,
        )
        .await
        .unwrap();
        eprintln!("delete requested: {deletion:?}");
        let gone = wait_until_async(DEADLINE, || async {
            api::<Cluster>(&self.store).get(NS, CLUSTER).await.is_err()
        })
        .await;
        assert!(gone, "the Cluster is still there");
        let e = &self.engine;
        let left = (
            e.containers_labelled(KIND_CLUSTER_LABEL, CLUSTER)
                .await
                .unwrap(),
            e.networks_labelled(KIND_CLUSTER_LABEL, CLUSTER)
                .await
                .unwrap(),
            e.volumes_labelled(KIND_CLUSTER_LABEL, CLUSTER)
                .await
                .unwrap(),
        );
        assert_eq!(left, (vec![], vec![], vec![]), "left on the engine");
    }

    /// `workers`.
    pub async fn cluster(&self, workers: i64) {
        self.create(&DockerCluster {
            metadata: ObjectMeta::named(NS, CLUSTER),
            spec: DockerClusterSpec {
                load_balancer: DockerLoadBalancer {
                    image_repository: Some("ironbell-test".into()),
                    image_tag: Some(self.lb_tag.clone()),
                },
                ..DockerClusterSpec::default()
            },
            ..DockerCluster::default()
        })
        .await;
        self.template("c1-control-plane-1", "ironbell-test/node:v1")
            .await;
        self.template("c1-md-0-1", "ironbell-test/node:v1").await;
        self.create(&Cluster {
            metadata: ObjectMeta::named(NS, CLUSTER),
            spec: ClusterSpec {
                infrastructure_ref: Some(
                    ObjectReference::new(DOCKER_API_VERSION, "DockerCluster", CLUSTER)
                        .in_namespace(NS),
                ),
                control_plane_ref: Some(
                    ObjectReference::new(CONTROL_PLANE_API_VERSION, "KubeadmControlPlane", CLUSTER)
                        .in_namespace(NS),
                ),
                ..ClusterSpec::default()
            },
            ..Cluster::default()
        })
        .await;
        self.create(&KubeadmControlPlane {
            metadata: ObjectMeta::named(NS, CLUSTER),
            spec: KubeadmControlPlaneSpec {
                kubeadm_config_spec: KubeadmConfigSpec {
                    init_configuration: Some(NodeConfiguration::default()),
                    join_configuration: Some(NodeConfiguration::default()),
                    format: Some("cloud-config".into()),
                    ..KubeadmConfigSpec::default()
                },
                machine_template: ControlPlaneMachineTemplate::in_eksa_system(
                    DOCKER_API_VERSION,
                    "DockerMachineTemplate",
                    "c1-control-plane-1",
                ),
                replicas: 1,
                rollout_strategy: None,
                version: "v1.30.0".into(),
            },
            ..KubeadmControlPlane::default()
        })
        .await;
        self.create(&KubeadmConfigTemplate {
            metadata: ObjectMeta::named(NS, "c1-md-0"),
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
        })
        .await;
        self.create(&MachineDeployment {
            metadata: ObjectMeta::named(NS, "c1-md-0"),
            spec: MachineDeploymentSpec {
                cluster_name: CLUSTER.into(),
                replicas: Some(workers),
                selector: Default::default(),
                template: MachineTemplateSpec {
                    metadata: None,
                    spec: MachineSpec {
                        bootstrap: Bootstrap {
                            config_ref: Some(ObjectReference::new(
                                BOOTSTRAP_API_VERSION,
                                "KubeadmConfigTemplate",
                                "c1-md-0",
                            )),
                            data_secret_name: None,
                        },
                        cluster_name: CLUSTER.into(),
                        infrastructure_ref: ObjectReference::new(
                            DOCKER_API_VERSION,
                            "DockerMachineTemplate",
                            "c1-md-0-1",
                        ),
                        version: Some("v1.30.0".into()),
                        ..MachineSpec::default()
                    },
                },
                strategy: Some(MachineDeploymentStrategy {
                    strategy_type: Some("RollingUpdate".into()),
                    rolling_update: Some(RollingUpdate {
                        max_surge: Some(IntOrString::Int(1)),
                        max_unavailable: Some(IntOrString::Int(0)),
                    }),
                }),
            },
            ..MachineDeployment::default()
        })
        .await;
    }

    pub async fn machines(&self) -> Vec<Machine> {
        api::<Machine>(&self.store)
            .list(&ListParams::namespace(NS))
            .await
            .unwrap()
            .0
    }

    pub async fn docker_machines(&self) -> Vec<DockerMachine> {
        api::<DockerMachine>(&self.store)
            .list(&ListParams::namespace(NS))
            .await
            .unwrap()
            .0
    }

    /// The cluster's containers with role `role`, with their images.
    pub async fn containers(&self, role: &str) -> HashMap<String, String> {
        let mut out = HashMap::new();
        for name in self
            .engine
            .containers_labelled(KIND_ROLE_LABEL, role)
            .await
            .unwrap_or_default()
        {
            if let Ok(Some(c)) = self.engine.container(&name).await
                && c.labels.get(KIND_CLUSTER_LABEL).map(String::as_str) == Some(CLUSTER)
            {
                out.insert(name, c.image);
            }
        }
        out
    }

    /// Waits until there are `cp` control-plane and `workers` worker Machines, all Running
    /// (their Nodes phoned home) and not being deleted, every worker on `image`, and no
    /// other Machine; returns the names of the worker containers. `observe` sees the worker
    /// containers at every poll.
    pub async fn settled(
        &self,
        what: &str,
        cp: usize,
        workers: usize,
        image: &str,
        mut observe: impl FnMut(&HashMap<String, String>),
    ) -> BTreeSet<String> {
        let start = Instant::now();
        let mut result = BTreeSet::new();
        let mut ok = false;
        while start.elapsed() < DEADLINE {
            let running = self.containers("worker").await;
            observe(&running);
            let ms = self.machines().await;
            let all_running = ms.iter().all(|m| {
                m.metadata.deletion_timestamp.is_none()
                    && m.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            });
            let cps = ms
                .iter()
                .filter(|m| {
                    m.metadata
                        .label(ironbell_cluster_api::CONTROL_PLANE_LABEL)
                        .is_some()
                })
                .count();
            if all_running
                && cps == cp
                && ms.len() == cp + workers
                && running.len() == workers
                && running.values().all(|i| i == image)
            {
                result = running.keys().cloned().collect();
                ok = true;
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        if !ok {
            let ms: Vec<_> = self
                .machines()
                .await
                .iter()
                .map(|m| {
                    format!(
                        "{} {:?} deleting={}",
                        m.name(),
                        m.status.as_ref().and_then(|s| s.phase.clone()),
                        m.metadata.deletion_timestamp.is_some()
                    )
                })
                .collect();
            let dms: Vec<_> = self
                .docker_machines()
                .await
                .iter()
                .map(|d| format!("{} {:?}", d.name(), d.status))
                .collect();
            panic!(
                "{what}: not settled in {DEADLINE:?}\nmachines: {ms:#?}\ndocker machines: {dms:#?}\nworkers: {:?}",
                self.containers("worker").await
            );
        }
        eprintln!("{what}: settled in {:.1} s", start.elapsed().as_secs_f64());
        result
    }

    /// The control-plane endpoint the `DockerCluster` published.
    pub async fn endpoint(&self) -> String {
        let dc = api::<DockerCluster>(&self.store)
            .get(NS, CLUSTER)
            .await
            .unwrap();
        let e = dc.spec.control_plane_endpoint.expect("an endpoint");
        format!("{}:{}", e.host, e.port)
    }

    /// What the load balancer answers on the endpoint, fetched from inside the namespace
    /// (the node image serves its hostname on 6443).
    pub fn through_lb(&self, endpoint: &str) -> Option<String> {
        let out = self
            .ns
            .output(
                "curl",
                &["-sS", "--max-time", "3", &format!("http://{endpoint}/name")],
            )
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Waits until the load balancer forwards to `container`.
    pub async fn lb_forwards_to(&self, container: &str) {
        let endpoint = self.endpoint().await;
        let mut last = None;
        let ok = wait_until_async(Duration::from_secs(60), || {
            last = self.through_lb(&endpoint);
            let hit = last.as_deref() == Some(container);
            async move { hit }
        })
        .await;
        assert!(
            ok,
            "the load balancer at {endpoint} does not forward to {container}: last answer {last:?}"
        );
    }

    pub async fn control_plane_container(&self) -> String {
        let cps = self.containers("control-plane").await;
        assert_eq!(cps.len(), 1, "{cps:?}");
        cps.into_keys().next().unwrap()
    }

    pub async fn set_replicas(&self, n: i64) {
        api::<MachineDeployment>(&self.store)
            .modify(NS, "c1-md-0", |md| md.spec.replicas = Some(n))
            .await
            .unwrap();
    }
}

/// CPU time used so far: this process's, and the whole machine's (every core, from
/// `/proc/stat`), in clock ticks.
pub struct Cpu {
    mine: u64,
    all: u64,
}

impl Cpu {
    pub fn now() -> Self {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the command's closing parenthesis: utime and stime are 14th and 15th.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<u64> = rest
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let mine = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
        let total = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let all = total
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .take(8)
            .filter_map(|f| f.parse::<u64>().ok())
            .enumerate()
            // user nice system idle iowait irq softirq steal: all but idle and iowait.
            .filter(|(i, _)| *i != 3 && *i != 4)
            .map(|(_, v)| v)
            .sum();
        Self { mine, all }
    }

    /// CPU-seconds used since `earlier`: (this process, the machine).
    pub fn since(&self, earlier: &Cpu) -> (f64, f64) {
        let hz = 100.0;
        (
            self.mine.saturating_sub(earlier.mine) as f64 / hz,
            self.all.saturating_sub(earlier.all) as f64 / hz,
        )
    }
}
