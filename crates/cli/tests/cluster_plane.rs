//! The cluster controllers in a plane, end to end without machines: a Cluster API cluster
//! of one control-plane machine and one worker is applied with `ironbell apply -f` (with
//! the Hardware of two "machines" at 127.0.0.2 and 127.0.0.3, no BMC), then a plane runs
//! in process on the same SQLite file, on loopback ports. The test plays what the machines
//! would do: it marks each Workflow `STATE_SUCCESS` as the agent would report it, and posts
//! cloud-init's phone-home form with curl from the machine's own address (curl
//! `--interface`), so that the metadata service writes the Node. The cluster then comes up
//! (Machines Running, control plane and deployment ready, Cluster Provisioned), `ironbell
//! get machines` and `ironbell describe cluster` show it, and scaling the workers to 0
//! releases their Hardware.

#[path = "common/agent.rs"]
mod agent;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ironbell_model::tinkerbell::{Hardware, Workflow, WorkflowState};
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_ops::network::PlaneNetwork;
use ironbell_ops::plane::{
    ClusterOptions, MetadataOptions, NodeBootstrapper, Plane, PlaneConfig, WorkflowOptions,
};
use ironbell_ops::spec::{Access, StoreSpec, open};
use ironbell_store::{Api, SharedStore, api};

const NS: &str = "eksa-system";
const DEADLINE: Duration = Duration::from_secs(60);
const OWNER_NAME: &str = "v1alpha1.tinkerbell.org/ownerName";
const OWNER_NAMESPACE: &str = "v1alpha1.tinkerbell.org/ownerNamespace";

/// The Cluster API objects of cluster `c1`: a `KubeadmControlPlane` of 1 on `type=cp`
/// Hardware and a `MachineDeployment` of 1 on `type=worker` Hardware.
const OBJECTS: &str = r#"
apiVersion: cluster.x-k8s.io/v1beta1
kind: Cluster
metadata: {name: c1, namespace: eksa-system, labels: {cluster.x-k8s.io/cluster-name: c1}}
spec:
  clusterNetwork:
    pods: {cidrBlocks: [192.168.0.0/16]}
    services: {cidrBlocks: [10.96.0.0/12]}
  controlPlaneEndpoint: {host: 127.0.0.100, port: 6443}
  controlPlaneRef: {apiVersion: controlplane.cluster.x-k8s.io/v1beta1, kind: KubeadmControlPlane, name: c1, namespace: eksa-system}
  infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: TinkerbellCluster, name: c1, namespace: eksa-system}
---
apiVersion: infrastructure.cluster.x-k8s.io/v1beta1
kind: TinkerbellCluster
metadata: {name: c1, namespace: eksa-system, labels: {cluster.x-k8s.io/cluster-name: c1}}
spec: {imageLookupFormat: --kube-v1.30.0.raw.gz, imageLookupBaseRegistry: /}
---
apiVersion: controlplane.cluster.x-k8s.io/v1beta1
kind: KubeadmControlPlane
metadata: {name: c1, namespace: eksa-system, labels: {cluster.x-k8s.io/cluster-name: c1}}
spec:
  kubeadmConfigSpec:
    initConfiguration: {}
    joinConfiguration: {}
    format: cloud-config
  machineTemplate:
    infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: TinkerbellMachineTemplate, name: c1-control-plane-1, namespace: eksa-system}
  replicas: 1
  version: v1.30.0
---
apiVersion: bootstrap.cluster.x-k8s.io/v1beta1
kind: KubeadmConfigTemplate
metadata: {name: c1-md-0-1, namespace: eksa-system}
spec:
  template:
    spec:
      joinConfiguration: {}
      format: cloud-config
---
apiVersion: cluster.x-k8s.io/v1beta1
kind: MachineDeployment
metadata: {name: c1-md-0, namespace: eksa-system, labels: {cluster.x-k8s.io/cluster-name: c1}}
spec:
  clusterName: c1
  replicas: 1
  selector: {matchLabels: {}}
  template:
    spec:
      bootstrap:
        configRef: {apiVersion: bootstrap.cluster.x-k8s.io/v1beta1, kind: KubeadmConfigTemplate, name: c1-md-0-1}
      clusterName: c1
      infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, kind: TinkerbellMachineTemplate, name: c1-md-0-1}
      version: v1.30.0
"#;

/// A Hardware document: `name` at `ip` with MAC `52:54:00:00:00:<last>`, labelled
/// `type=<kind>`, no `bmcRef`.
fn hardware_yaml(name: &str, kind: &str, last: u8, ip: &str) -> String {
    let mac = format!("52:54:00:00:00:{last:02x}");
    format!(
        "apiVersion: tinkerbell.org/v1alpha1\nkind: Hardware\n\
         metadata: {{name: {name}, namespace: {NS}, labels: {{type: {kind}}}}}\n\
         spec:\n  disks: [{{device: /dev/sda}}]\n\
         \x20 metadata: {{instance: {{id: \"{mac}\", hostname: {name}}}}}\n\
         \x20 interfaces:\n\
         \x20 - dhcp: {{mac: \"{mac}\", hostname: {name}, ip: {{address: {ip}, netmask: 255.0.0.0}}}}\n\
         \x20   netboot: {{allowPXE: false, allowWorkflow: true}}\n---\n"
    )
}

/// A `TinkerbellMachineTemplate` whose machines take Hardware labelled `type=<kind>`.
fn machine_template_yaml(name: &str, kind: &str) -> String {
    format!(
        "apiVersion: infrastructure.cluster.x-k8s.io/v1beta1\nkind: TinkerbellMachineTemplate\n\
         metadata: {{name: {name}, namespace: {NS}}}\n\
         spec: {{template: {{spec: {{hardwareAffinity: {{required: \
         [{{labelSelector: {{matchLabels: {{type: {kind}}}}}}}]}}}}}}}}\n---\n"
    )
}

/// Runs the `ironbell` binary on the store `db`; returns stdout, failing on an error.
fn ironbell(db: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ironbell"))
        .args(args)
        .env("IRONBELL_DB", db)
        .env_remove("IRONBELL_LOG")
        .output()
        .expect("run ironbell");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ironbell {args:?}: {stdout}\n{stderr}"
    );
    stdout
}

fn loopback_port() -> SocketAddr {
    // A free port: bind, read it, release it.
    let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    l.local_addr().expect("addr")
}

/// Polls `probe` until it returns `Some` (through `ironbell_testbed::wait_until_async`),
/// or fails naming `what` at the deadline.
async fn until<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let found = std::cell::RefCell::new(None);
    let done = ironbell_testbed::wait_until_async(DEADLINE, || {
        let next = probe();
        let found = &found;
        async move {
            let value = next.await;
            let hit = value.is_some();
            *found.borrow_mut() = value;
            hit
        }
    })
    .await;
    found
        .into_inner()
        .filter(|_| done)
        .unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// The dynamic object `kind` (`apiVersion`, `kind`) `name` in [`NS`], if it exists.
async fn dynamic(
    store: &SharedStore,
    api_version: &str,
    kind: &str,
    name: &str,
) -> Option<DynamicObject> {
    store
        .get(&TypeKey::new(api_version, kind), NS, name)
        .await
        .ok()
}

/// Every object of a kind in [`NS`].
async fn all(store: &SharedStore, api_version: &str, kind: &str) -> Vec<DynamicObject> {
    store
        .list(
            &TypeKey::new(api_version, kind),
            &ironbell_store::ListParams::namespace(NS),
        )
        .await
        .expect("list")
        .items
}

fn field(obj: &DynamicObject, pointer: &str) -> serde_json::Value {
    obj.to_value()
        .pointer(pointer)
        .cloned()
        .unwrap_or(serde_json::Value::Null)
}

/// The Cluster API machine whose TinkerbellMachine owns Hardware `hw`, once it does:
/// (machine, TinkerbellMachine).
async fn machine_on(store: &SharedStore, hw: &str) -> (String, String) {
    let hardware: Api<Hardware> = api(store);
    let tm = until(&format!("a TinkerbellMachine owning {hw}"), || async {
        let h = hardware.get(NS, hw).await.ok()?;
        (h.metadata.label(OWNER_NAMESPACE) == Some(NS))
            .then(|| h.metadata.label(OWNER_NAME).map(str::to_string))
            .flatten()
    })
    .await;
    // The Hardware is claimed first, then the machine names it.
    let infra = until(&format!("TinkerbellMachine {tm} on {hw}"), || async {
        let infra = dynamic(
            store,
            "infrastructure.cluster.x-k8s.io/v1beta1",
            "TinkerbellMachine",
            &tm,
        )
        .await?;
        (field(&infra, "/spec/hardwareName") == hw).then_some(infra)
    })
    .await;
    assert_eq!(
        field(&infra, "/spec/providerID"),
        format!("tinkerbell://{NS}/{hw}"),
        "{tm}"
    );
    let machine = infra
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.kind == "Machine")
        .map(|r| r.name.clone())
        .expect("the TinkerbellMachine is owned by its Machine");
    (machine, tm)
}

/// Marks Workflow `name` successful as the agent's last report does: every action
/// `STATE_SUCCESS`, then the workflow. Waits for the workflow service to have rendered it.
async fn succeed(store: &SharedStore, name: &str) {
    let workflows: Api<Workflow> = api(store);
    until(
        &format!("Workflow {name} rendered and successful"),
        || async {
            let mut wf = workflows.get(NS, name).await.ok()?;
            let status = wf.status.as_mut()?;
            match status.state {
                Some(WorkflowState::Success) => return Some(()),
                Some(WorkflowState::Pending | WorkflowState::Running) => {}
                _ => return None,
            }
            if agent::report_success(status) {
                // A conflict (the workflow service wrote meanwhile): read again and retry.
                let _ = workflows.update_status(&wf).await;
            }
            None
        },
    )
    .await;
}

/// cloud-init's phone-home from `source` (the machine's own address) to `url`.
fn phone_home(url: &str, source: &str, instance_id: &str, hostname: &str) {
    let form = format!("instance_id={instance_id}&hostname={hostname}&fqdn={hostname}.example");
    let out = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--fail",
            "--max-time",
            "10",
            "--interface",
            source,
            "--data",
            &form,
            url,
        ])
        .output()
        .expect("run curl");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "phone-home from {source}: {said}");
}

async fn phase(store: &SharedStore, api_version: &str, kind: &str, name: &str) -> Option<String> {
    let o = dynamic(store, api_version, kind, name).await?;
    field(&o, "/status/phase").as_str().map(str::to_string)
}

/// A cluster applied with `ironbell apply -f` to a fresh store, and a plane running on it.
struct Running {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    store: SharedStore,
    network: PlaneNetwork,
    plane: Plane,
}

/// Applies the Hardware and cluster `c1` (see [`OBJECTS`]) to a fresh store, then starts
/// a plane on it whose cluster controllers use `bootstrapper` (`None`: `plain`).
async fn start(bootstrapper: Option<NodeBootstrapper>) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("ironbell.db");
    let file = dir.path().join("c1.yaml");
    // Two machines (no `bmcRef`: no netboot Job) and a spare whose labels no selector
    // matches.
    let mut objects = hardware_yaml("cp-1", "cp", 2, "127.0.0.2");
    objects += &hardware_yaml("worker-1", "worker", 3, "127.0.0.3");
    objects += &hardware_yaml("spare-1", "storage", 4, "127.0.0.4");
    objects += &machine_template_yaml("c1-control-plane-1", "cp");
    objects += &machine_template_yaml("c1-md-0-1", "worker");
    std::fs::write(&file, objects + OBJECTS).expect("write");
    let applied = ironbell(&db, &["apply", "-f", file.to_str().expect("utf-8")]);
    for created in [
        "hardware/cp-1 created",
        "clusters/c1 created",
        "kubeadmcontrolplanes/c1 created",
        "machinedeployments/c1-md-0 created",
        "tinkerbellmachinetemplates/c1-md-0-1 created",
    ] {
        assert!(applied.contains(created), "{created}: {applied}");
    }

    let handle = open(&StoreSpec::Sqlite(db.clone()), Access::Existing).expect("open");
    let store = handle.store().clone();
    let mut network = PlaneNetwork::new(Ipv4Addr::LOCALHOST);
    network.metadata = loopback_port();
    network.grpc = loopback_port();
    let mut config = PlaneConfig::new(network.clone());
    config.metadata = Some(MetadataOptions::default());
    config.workflow = Some(WorkflowOptions {
        concurrency: 2,
        ..Default::default()
    });
    config.bmc = Some(ironbell_bmc::Config::default());
    let mut cluster = match bootstrapper {
        Some(b) => ClusterOptions::with(&network, b),
        None => ClusterOptions::plain(&network),
    };
    cluster.requeue = Duration::from_millis(200);
    config.cluster = Some(cluster);
    let plane = Plane::start(&handle, config).await.expect("plane");
    assert!(plane.runs_controllers());
    Running {
        _dir: dir,
        db,
        store,
        network,
        plane,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_comes_up_on_phoned_home_machines_and_scales_down() {
    let Running {
        _dir,
        db,
        store,
        network,
        plane,
    } = start(None).await;

    // Each machine gets the Hardware its selector names, its Workflow runs and the agent
    // reports it done, then the installed OS phones home from its own address. Workers
    // wait for the control plane to be initialized (its first node Ready), as in Cluster
    // API, so the control-plane machine goes first.
    let url = network.phone_home_url();
    let (cp, cp_tm) = machine_on(&store, "cp-1").await;
    // Its Template's cloud-init reads this plane's metadata service.
    let templates: Api<ironbell_model::tinkerbell::Template> = api(&store);
    let metadata_url = format!("http://127.0.0.1:{}", network.metadata.port());
    let data = until(&format!("Template {cp_tm}"), || async {
        templates.get(NS, &cp_tm).await.ok()?.spec.data
    })
    .await;
    assert!(data.contains(&metadata_url), "{data}");
    succeed(&store, &cp_tm).await;
    phone_home(&url, "127.0.0.2", "52:54:00:00:00:02", "cp-1");
    let (worker, worker_tm) = machine_on(&store, "worker-1").await;
    succeed(&store, &worker_tm).await;
    phone_home(&url, "127.0.0.3", "52:54:00:00:00:03", "worker-1");
    let hardware: Api<Hardware> = api(&store);
    let spare = hardware.get(NS, "spare-1").await.expect("spare");
    assert_eq!(spare.metadata.label(OWNER_NAME), None, "spare-1 stays free");

    for m in [&cp, &worker] {
        until(&format!("Machine {m} Running"), || async {
            let p = phase(&store, "cluster.x-k8s.io/v1beta1", "Machine", m).await;
            (p.as_deref() == Some("Running")).then_some(())
        })
        .await;
    }
    until("the KubeadmControlPlane ready", || async {
        let kcp = dynamic(
            &store,
            "controlplane.cluster.x-k8s.io/v1beta1",
            "KubeadmControlPlane",
            "c1",
        )
        .await?;
        (field(&kcp, "/status/ready") == true && field(&kcp, "/status/readyReplicas") == 1)
            .then_some(())
    })
    .await;
    until("the MachineDeployment ready", || async {
        let md = dynamic(
            &store,
            "cluster.x-k8s.io/v1beta1",
            "MachineDeployment",
            "c1-md-0",
        )
        .await?;
        (field(&md, "/status/readyReplicas") == 1).then_some(())
    })
    .await;
    until(
        "the Cluster Provisioned, its control plane ready",
        || async {
            let c = dynamic(&store, "cluster.x-k8s.io/v1beta1", "Cluster", "c1").await?;
            (field(&c, "/status/phase") == "Provisioned"
                && field(&c, "/status/controlPlaneReady") == true)
                .then_some(())
        },
    )
    .await;

    // The command line sees it, from the same store file.
    let machines = ironbell(&db, &["get", "machines"]);
    for want in [
        "CLUSTER",
        "NODENAME",
        "PROVIDERID",
        "PHASE",
        "VERSION",
        cp.as_str(),
        worker.as_str(),
        "tinkerbell://eksa-system/cp-1",
        "Running",
        "v1.30.0",
    ] {
        assert!(machines.contains(want), "{want}:\n{machines}");
    }
    let clusters = ironbell(&db, &["get", "clusters.cluster.x-k8s.io"]);
    assert!(
        clusters.contains("c1") && clusters.contains("Provisioned") && clusters.contains("AGE"),
        "{clusters}"
    );
    // `clusters` is also EKS Anywhere's kind: with none of those, Cluster API's table.
    let clusters = ironbell(&db, &["get", "clusters"]);
    assert!(clusters.contains("Provisioned"), "{clusters}");
    let kcp = ironbell(&db, &["get", "kubeadmcontrolplanes"]);
    assert!(
        kcp.contains("API SERVER AVAILABLE") && kcp.contains("true"),
        "{kcp}"
    );
    let md = ironbell(&db, &["get", "machinedeployments"]);
    assert!(md.contains("UNAVAILABLE") && md.contains("c1-md-0"), "{md}");
    let described = ironbell(&db, &["describe", "cluster", "c1"]);
    println!("{described}");
    for want in [
        "Phase:                Provisioned",
        "KubeadmControlPlane c1: 1/1 ready, version v1.30.0",
        "c1-md-0",
        cp.as_str(),
        cp_tm.as_str(),
        "cp-1",
        worker_tm.as_str(),
        "worker-1",
        "control-plane",
        "SUCCESS",
        "(SUCCESS)",
    ] {
        assert!(described.contains(want), "{want}:\n{described}");
    }

    // Workers scaled to 0: the worker's Hardware is released.
    let deployments = all(&store, "cluster.x-k8s.io/v1beta1", "MachineDeployment").await;
    let mut md = deployments
        .into_iter()
        .find(|d| d.name() == "c1-md-0")
        .expect("deployment");
    let mut spec = field(&md, "/spec");
    spec["replicas"] = 0.into();
    md.set_field("spec", &spec).expect("spec");
    store.update(md).await.expect("scale to 0");
    until("worker-1 released", || async {
        let h = hardware.get(NS, "worker-1").await.ok()?;
        (h.metadata.label(OWNER_NAME).is_none() && h.metadata.label(OWNER_NAMESPACE).is_none())
            .then_some(())
    })
    .await;
    until("the worker Machine gone", || async {
        dynamic(&store, "cluster.x-k8s.io/v1beta1", "Machine", &worker)
            .await
            .is_none()
            .then_some(())
    })
    .await;
    let cp_hw = hardware.get(NS, "cp-1").await.expect("cp-1");
    assert_eq!(
        cp_hw.metadata.label(OWNER_NAME),
        Some(cp_tm.as_str()),
        "cp-1 stays owned"
    );
    plane.stop().await;
}

/// With the `kubeadm` bootstrapper the control-plane machine's bootstrap data is EKS
/// Anywhere's `kubeadm init` cloud-config (it cannot run here: no Kubernetes binaries),
/// with the cluster's CA kept in `c1-ca`, and the machine takes its Hardware as with
/// `plain`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubeadm_bootstrapper_gives_the_control_plane_kubeadm_init() {
    let running = start(Some(NodeBootstrapper::Kubeadm)).await;
    let store = &running.store;
    let (cp, _) = machine_on(store, "cp-1").await;
    let machine = dynamic(store, "cluster.x-k8s.io/v1beta1", "Machine", &cp)
        .await
        .expect("machine");
    let secret_name = field(&machine, "/spec/bootstrap/dataSecretName");
    let secret_name = secret_name
        .as_str()
        .expect("the Machine has bootstrap data");
    let secrets: Api<ironbell_model::corev1::Secret> = api(store);
    let secret = secrets
        .get(NS, secret_name)
        .await
        .expect("bootstrap Secret");
    let value = secret.get_str("value").unwrap_or_default();
    assert!(value.contains("#cloud-config"), "{value}");
    assert!(value.contains("kubeadm init"), "{value}");
    secrets
        .get(NS, "c1-ca")
        .await
        .expect("the cluster CA Secret");
    running.plane.stop().await;
}
