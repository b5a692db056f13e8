//! The TinkerbellCluster and TinkerbellMachine controllers over the real SQLite store, in
//! process: a Cluster API `Cluster` and `Machine` (stored as dynamic objects, as the Cluster
//! API controllers write them), the bootstrap Secret, a TinkerbellCluster and a
//! TinkerbellMachine in; the test plays the workflow service (it sets the Workflow's state)
//! and Rufio (it completes the power-off Job).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ironbell_model::bmc::{Job, JobCondition, JobStatus, PowerAction};
use ironbell_model::corev1::Secret;
use ironbell_model::tinkerbell::{
    BootMode, Hardware, Template, Workflow, WorkflowAction, WorkflowState, WorkflowStatus,
    WorkflowTask,
};
use ironbell_model::{DynamicObject, Resource};
use ironbell_provider_tinkerbell::cluster::ClusterReconciler;
use ironbell_provider_tinkerbell::machine::{self, MachineReconciler};
use ironbell_provider_tinkerbell::{
    CONDITION_PROVISIONED, MACHINE_FINALIZER, OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL,
    PROVISIONED_ANNOTATION, TinkerbellCluster, TinkerbellMachine, request_delete,
};
use ironbell_store::{Api, SharedStore, api};
use ironbell_store_sqlite::SqliteStore;
use tokio::task::JoinHandle;

const NS: &str = "eksa-system";
const DEADLINE: Duration = Duration::from_secs(20);
const BOOTSTRAP: &str =
    "#cloud-config\nwrite_files:\n- path: /etc/provider-id\n  content: PROVIDER_ID\n";

fn open(dir: &Path) -> SharedStore {
    Arc::new(SqliteStore::open(dir.join("plane.db")).expect("open store"))
}

/// The two controllers, running until aborted.
struct Plane(Vec<JoinHandle<()>>);

impl Plane {
    fn start(store: &SharedStore) -> Self {
        let wait = Duration::from_millis(100);
        let config = machine::Config {
            tinkerbell_ip: "10.0.0.2".into(),
            wait,
            concurrency: 2,
            ..machine::Config::default()
        };
        Self(vec![
            tokio::spawn(ClusterReconciler::new(store.clone(), wait).run()),
            tokio::spawn(MachineReconciler::new(store.clone(), config).run()),
        ])
    }

    async fn stop(self) {
        for h in self.0 {
            h.abort();
            let _ = h.await;
        }
    }
}

/// Polls `probe` until it returns `Some`, or fails with `what` at the deadline.
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn yaml<K: Resource>(text: &str) -> K {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn hardware(name: &str, labels: &str, mac: &str, ip: &str, bmc: bool) -> Hardware {
    let bmc_ref = if bmc {
        format!("  bmcRef: {{apiGroup: bmc.tinkerbell.org, kind: Machine, name: bmc-{name}}}\n")
    } else {
        String::new()
    };
    yaml(&format!(
        "apiVersion: tinkerbell.org/v1alpha1\nkind: Hardware\n\
         metadata: {{name: {name}, namespace: {NS}, labels: {labels}}}\n\
         spec:\n{bmc_ref}  disks: [{{device: /dev/sda}}]\n  metadata: {{instance: {{id: \"{mac}\"}}}}\n\
         \x20 interfaces:\n  - dhcp: {{mac: \"{mac}\", ip: {{address: {ip}}}}}\n"
    ))
}

async fn create_dynamic(store: &SharedStore, json: &str) {
    let obj = DynamicObject::from_json(json).expect("json");
    store.create(obj).await.expect("create");
}

/// The Cluster API side and the provider's objects of one cluster `c1` with one machine
/// `tm1` that wants `type=cp` Hardware, preferring `disk=ssd`.
async fn seed(store: &SharedStore, template_override: Option<&str>) {
    create_dynamic(
        store,
        r#"{"apiVersion":"cluster.x-k8s.io/v1beta1","kind":"Cluster",
            "metadata":{"name":"c1","namespace":"eksa-system","labels":{"cluster.x-k8s.io/cluster-name":"c1"}},
            "spec":{"controlPlaneEndpoint":{"host":"10.0.0.100","port":0},
                    "infrastructureRef":{"apiVersion":"infrastructure.cluster.x-k8s.io/v1beta1","kind":"TinkerbellCluster","name":"c1"}}}"#,
    )
    .await;
    create_dynamic(
        store,
        r#"{"apiVersion":"cluster.x-k8s.io/v1beta1","kind":"Machine",
            "metadata":{"name":"m1","namespace":"eksa-system","labels":{"cluster.x-k8s.io/cluster-name":"c1"}},
            "spec":{"clusterName":"c1","version":"v1.29.1","bootstrap":{"dataSecretName":"m1-bootstrap"},
                    "infrastructureRef":{"kind":"TinkerbellMachine","name":"tm1"}}}"#,
    )
    .await;
    let mut secret = Secret::new(NS, "m1-bootstrap");
    secret.insert("value", BOOTSTRAP);
    api::<Secret>(store).create(&secret).await.expect("secret");
    let tc: TinkerbellCluster = yaml(&format!(
        "apiVersion: infrastructure.cluster.x-k8s.io/v1beta1\nkind: TinkerbellCluster\n\
         metadata:\n  name: c1\n  namespace: {NS}\n  ownerReferences:\n  - {{apiVersion: cluster.x-k8s.io/v1beta1, kind: Cluster, name: c1, uid: u1}}\n\
         spec: {{imageLookupFormat: --kube-v1.29.1.raw.gz, imageLookupBaseRegistry: /}}\n"
    ));
    api::<TinkerbellCluster>(store)
        .create(&tc)
        .await
        .expect("tc");
    let hw = api::<Hardware>(store);
    for h in [
        hardware("hw-a", "{type: cp}", "52:54:00:00:00:0a", "10.0.0.10", true),
        hardware(
            "hw-b",
            "{type: cp, disk: ssd}",
            "52:54:00:00:00:0b",
            "10.0.0.11",
            true,
        ),
        hardware(
            "hw-w",
            "{type: worker, disk: ssd}",
            "52:54:00:00:00:0c",
            "10.0.0.12",
            true,
        ),
    ] {
        hw.create(&h).await.expect("hardware");
    }
    let override_line = template_override
        .map(|t| format!("    templateOverride: {t:?}\n"))
        .unwrap_or_default();
    let tm: TinkerbellMachine = yaml(&format!(
        "apiVersion: infrastructure.cluster.x-k8s.io/v1beta1\nkind: TinkerbellMachine\n\
         metadata:\n  name: tm1\n  namespace: {NS}\n  ownerReferences:\n  - {{apiVersion: cluster.x-k8s.io/v1beta1, kind: Machine, name: m1, uid: u2}}\n\
         spec:\n  hardwareAffinity:\n    required:\n    - labelSelector: {{matchLabels: {{type: cp}}}}\n\
         \x20   preferred:\n    - weight: 50\n      hardwareAffinityTerm: {{labelSelector: {{matchLabels: {{disk: ssd}}}}}}\n\
         \x20 bootOptions: {{bootMode: netboot}}\n{}",
        override_line.replacen("    ", "  ", 1)
    ));
    api::<TinkerbellMachine>(store)
        .create(&tm)
        .await
        .expect("tm");
}

/// A fresh store in a temporary directory, seeded with [`seed`].
async fn seeded(template_override: Option<&str>) -> (tempfile::TempDir, SharedStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    seed(&store, template_override).await;
    (dir, store)
}

/// The two reconcilers, to drive by hand (a 30 s wait: nothing is retried meanwhile).
fn reconcilers(store: &SharedStore) -> (ClusterReconciler, MachineReconciler) {
    let wait = Duration::from_secs(30);
    let config = machine::Config {
        tinkerbell_ip: "10.0.0.2".into(),
        wait,
        concurrency: 1,
        ..machine::Config::default()
    };
    (
        ClusterReconciler::new(store.clone(), wait),
        MachineReconciler::new(store.clone(), config),
    )
}

async fn get<K: Resource>(store: &SharedStore, name: &str) -> Option<K> {
    api::<K>(store).get(NS, name).await.ok()
}

fn owned_by_tm1(hw: &Hardware) -> bool {
    hw.metadata.label(OWNER_NAME_LABEL) == Some("tm1")
        && hw.metadata.label(OWNER_NAMESPACE_LABEL) == Some(NS)
}

/// Waits for the Workflow of `tm1` and returns it.
async fn workflow(store: &SharedStore) -> Workflow {
    eventually("the Workflow tm1", || get::<Workflow>(store, "tm1")).await
}

async fn set_workflow_state(store: &SharedStore, state: WorkflowState, failed_action: bool) {
    let wfs: Api<Workflow> = api(store);
    wfs.modify_status(NS, "tm1", |wf| {
        let mut status = WorkflowStatus {
            state: Some(state.clone()),
            ..WorkflowStatus::default()
        };
        if failed_action {
            status.tasks = Some(vec![WorkflowTask {
                name: "os".into(),
                actions: vec![WorkflowAction {
                    id: "a1".into(),
                    name: Some("stream-image".into()),
                    state: Some(WorkflowState::Failed),
                    message: Some("disk /dev/sda not found".into()),
                    ..WorkflowAction::default()
                }],
                ..WorkflowTask::default()
            }]);
        }
        wf.status = Some(status);
    })
    .await
    .expect("workflow status");
}

/// Deletes tm1 as the Machine controller would, plays Rufio for the power-off Job, and
/// checks that the Hardware `hw` comes back free and nothing of tm1 is left.
async fn delete_and_release(store: &SharedStore, hw: &str) {
    let tms: Api<TinkerbellMachine> = api(store);
    let gone = request_delete(&tms, NS, "tm1")
        .await
        .expect("request delete");
    assert!(!gone, "the finalizer holds the machine");
    let job: Job = eventually("the power-off Job", || get::<Job>(store, "tm1-poweroff")).await;
    assert_eq!(job.spec.machine_ref.name, format!("bmc-{hw}"));
    assert_eq!(job.spec.machine_ref.namespace, NS);
    assert_eq!(job.spec.tasks.len(), 1);
    assert_eq!(job.spec.tasks[0].power_action, Some(PowerAction::Off));
    assert!(
        get::<Template>(store, "tm1").await.is_none(),
        "Template removed"
    );
    assert!(
        get::<Workflow>(store, "tm1").await.is_none(),
        "Workflow removed"
    );
    // Still owned while the machine is not powered off.
    let held: Hardware = get(store, hw).await.expect("hw");
    assert!(owned_by_tm1(&held));
    api::<Job>(store)
        .modify_status(NS, "tm1-poweroff", |j| {
            j.status = Some(JobStatus {
                conditions: Some(vec![JobCondition {
                    type_: JobCondition::COMPLETED.into(),
                    status: "True".into(),
                    ..JobCondition::default()
                }]),
                ..JobStatus::default()
            });
        })
        .await
        .expect("complete the job");
    eventually("tm1 gone", || async {
        get::<TinkerbellMachine>(store, "tm1")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    let free: Hardware = get(store, hw).await.expect("hw");
    let labels = free.metadata.labels.clone().unwrap_or_default();
    assert!(!labels.contains_key(OWNER_NAME_LABEL), "{labels:?}");
    assert!(!labels.contains_key(OWNER_NAMESPACE_LABEL), "{labels:?}");
    assert_eq!(labels.get("type").map(String::as_str), Some("cp"));
    assert!(
        !free
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key(PROVISIONED_ANNOTATION)
    );
    assert!(
        free.metadata.finalizers.is_none(),
        "{:?}",
        free.metadata.finalizers
    );
    assert!(
        get::<Job>(store, "tm1-poweroff").await.is_none(),
        "Job removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_machine_is_placed_provisioned_and_released() {
    let (_dir, store) = seeded(Some("version: \"0.1\"\nname: custom\n")).await;
    let plane = Plane::start(&store);

    // The TinkerbellCluster takes the Cluster's endpoint with the default port.
    let tc: TinkerbellCluster = eventually("the TinkerbellCluster ready", || async {
        get::<TinkerbellCluster>(&store, "c1")
            .await
            .filter(|t| t.status.as_ref().is_some_and(|s| s.ready))
    })
    .await;
    let ep = tc.spec.control_plane_endpoint.expect("endpoint");
    assert_eq!((ep.host.as_str(), ep.port), ("10.0.0.100", 6443));

    // hw-b: type=cp and the preferred disk=ssd (hw-a sorts first by name but weighs 0;
    // hw-w has the ssd but not type=cp).
    let wf = workflow(&store).await;
    let hw: Hardware = get(&store, "hw-b").await.expect("hw-b");
    assert!(owned_by_tm1(&hw), "{:?}", hw.metadata.labels);
    assert!(
        hw.metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| x == MACHINE_FINALIZER))
    );
    assert_eq!(
        hw.spec.user_data.as_deref(),
        Some(
            BOOTSTRAP
                .replace("PROVIDER_ID", "tinkerbell://eksa-system/hw-b")
                .as_str()
        )
    );
    for other in ["hw-a", "hw-w"] {
        let h: Hardware = get(&store, other).await.expect("hw");
        assert!(
            h.metadata.label(OWNER_NAME_LABEL).is_none(),
            "{other} stays free"
        );
    }
    let tm: TinkerbellMachine = eventually("tm1's addresses", || async {
        get::<TinkerbellMachine>(&store, "tm1")
            .await
            .filter(|t| t.status.as_ref().is_some_and(|s| !s.addresses.is_empty()))
    })
    .await;
    assert_eq!(tm.spec.hardware_name.as_deref(), Some("hw-b"));
    assert_eq!(
        tm.spec.provider_id.as_deref(),
        Some("tinkerbell://eksa-system/hw-b")
    );
    let status = tm.status.clone().expect("status");
    assert_eq!(status.addresses[0].type_, "InternalIP");
    assert_eq!(status.addresses[0].address, "10.0.0.11");
    assert!(!status.ready);
    assert!(
        tm.metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| x == MACHINE_FINALIZER))
    );

    let template: Template = get(&store, "tm1").await.expect("Template");
    assert_eq!(template.data(), "version: \"0.1\"\nname: custom\n");
    let owner = &template.metadata.owner_references.clone().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("TinkerbellMachine", "tm1")
    );
    assert_eq!(wf.spec.template_ref.as_deref(), Some("tm1"));
    assert_eq!(wf.spec.hardware_ref.as_deref(), Some("hw-b"));
    assert_eq!(
        wf.spec
            .hardware_map
            .as_ref()
            .and_then(|m| m.get("device_1"))
            .map(String::as_str),
        Some("52:54:00:00:00:0b")
    );
    let boot = wf.spec.boot_options.clone().expect("boot options");
    assert_eq!(boot.toggle_allow_netboot, Some(true));
    assert_eq!(boot.boot_mode, Some(BootMode::Netboot));
    let owner = &wf.metadata.owner_references.clone().expect("owner")[0];
    assert_eq!((owner.name.as_str(), owner.controller), ("tm1", Some(true)));

    // The workflow service reports success.
    set_workflow_state(&store, WorkflowState::Success, false).await;
    eventually("tm1 ready", || async {
        get::<TinkerbellMachine>(&store, "tm1")
            .await
            .filter(|t| t.status.as_ref().is_some_and(|s| s.ready))
    })
    .await;
    let hw: Hardware = get(&store, "hw-b").await.expect("hw-b");
    assert_eq!(
        hw.metadata
            .annotations
            .unwrap_or_default()
            .get(PROVISIONED_ANNOTATION)
            .map(String::as_str),
        Some("true")
    );

    // The workflow service's netboot Job, owned by the Workflow, goes with it.
    let wf: Workflow = get(&store, "tm1").await.expect("workflow");
    let netboot: Job = yaml(&format!(
        "metadata:\n  name: netboot-tm1\n  namespace: {NS}\n  ownerReferences:\n  - {{apiVersion: tinkerbell.org/v1alpha1, kind: Workflow, name: tm1, uid: {}}}\n\
         spec: {{machineRef: {{name: bmc-hw-b, namespace: {NS}}}, tasks: [{{powerAction: \"on\"}}]}}\n",
        wf.metadata.uid.clone().unwrap_or_default()
    ));
    api::<Job>(&store)
        .create(&netboot)
        .await
        .expect("netboot job");

    delete_and_release(&store, "hw-b").await;
    assert!(
        get::<Job>(&store, "netboot-tm1").await.is_none(),
        "netboot Job removed"
    );
    plane.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_way_converges_on_the_hardware_already_claimed() {
    let (dir, store) = seeded(None).await;
    // As if a previous run had claimed hw-a and died before writing anything else: the
    // assigned Hardware wins over the preferred hw-b.
    api::<Hardware>(&store)
        .modify(NS, "hw-a", |h| {
            let l = h.metadata.labels.get_or_insert_with(Default::default);
            l.insert(OWNER_NAME_LABEL.into(), "tm1".into());
            l.insert(OWNER_NAMESPACE_LABEL.into(), NS.into());
        })
        .await
        .expect("pre-claim");
    let plane = Plane::start(&store);
    let wf = workflow(&store).await;
    assert_eq!(wf.spec.hardware_ref.as_deref(), Some("hw-a"));
    // The default template (no templateOverride): the Hardware's disk and the image.
    let template: Template = get(&store, "tm1").await.expect("Template");
    assert!(
        template.data().contains("DEST_DISK: /dev/sda\n"),
        "{}",
        template.data()
    );
    assert!(
        template.data().contains("IMG_URL: --kube-v1.29.1.raw.gz"),
        "{}",
        template.data()
    );
    assert!(template.data().contains("http://10.0.0.2:50061"));

    // Stop the plane, reopen the store as a new process would, start again.
    plane.stop().await;
    drop(store);
    let store = open(dir.path());
    let plane = Plane::start(&store);
    set_workflow_state(&store, WorkflowState::Success, false).await;
    eventually("tm1 ready after the restart", || async {
        get::<TinkerbellMachine>(&store, "tm1")
            .await
            .filter(|t| t.status.as_ref().is_some_and(|s| s.ready))
    })
    .await;
    let owned: Vec<String> = api::<Hardware>(&store)
        .list(&Default::default())
        .await
        .expect("list")
        .0
        .into_iter()
        .filter(owned_by_tm1)
        .map(|h| h.metadata.name().to_string())
        .collect();
    assert_eq!(owned, ["hw-a"]);
    let wfs = api::<Workflow>(&store)
        .list(&Default::default())
        .await
        .expect("list")
        .0;
    assert_eq!(wfs.len(), 1, "one Workflow");

    // Restart again in the middle of the delete: after the power-off Job exists.
    let tms: Api<TinkerbellMachine> = api(&store);
    request_delete(&tms, NS, "tm1").await.expect("delete");
    eventually("the power-off Job", || get::<Job>(&store, "tm1-poweroff")).await;
    plane.stop().await;
    let plane = Plane::start(&store);
    delete_and_release(&store, "hw-a").await;
    plane.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_workflow_is_reported_with_the_failing_action_and_not_retried() {
    let (_dir, store) = seeded(Some("version: \"0.1\"\n")).await;
    let plane = Plane::start(&store);
    let first = workflow(&store).await;
    set_workflow_state(&store, WorkflowState::Failed, true).await;
    let tm: TinkerbellMachine = eventually("the failure condition", || async {
        get::<TinkerbellMachine>(&store, "tm1").await.filter(|t| {
            t.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == CONDITION_PROVISIONED)
            })
        })
    })
    .await;
    let status = tm.status.expect("status");
    assert!(!status.ready);
    let c = &status.conditions[0];
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("False", Some("WorkflowFailed"))
    );
    let message = c.message.clone().unwrap_or_default();
    assert!(
        message.contains("stream-image") && message.contains("disk /dev/sda not found"),
        "{message}"
    );
    assert_eq!(status.error_message.as_deref(), Some(message.as_str()));
    // Not retried: the same Workflow stays, failed; the Hardware is not marked provisioned.
    let wf: Workflow = get(&store, "tm1").await.expect("workflow");
    assert_eq!(wf.metadata.uid, first.metadata.uid);
    assert_eq!(wf.state(), WorkflowState::Failed);
    let hw: Hardware = get(&store, "hw-b").await.expect("hw");
    assert!(
        !hw.metadata
            .annotations
            .unwrap_or_default()
            .contains_key(PROVISIONED_ANNOTATION)
    );
    plane.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_hardware_the_machine_waits_and_a_missing_hardware_does_not_block_delete() {
    let (_dir, store) = seeded(Some("version: \"0.1\"\n")).await;
    // Take every type=cp Hardware away: nothing fits.
    for name in ["hw-a", "hw-b"] {
        api::<Hardware>(&store)
            .modify(NS, name, |h| {
                h.metadata
                    .labels
                    .get_or_insert_with(Default::default)
                    .insert(OWNER_NAME_LABEL.into(), "someone-else".into());
            })
            .await
            .expect("owned elsewhere");
    }
    let plane = Plane::start(&store);
    // The machine gets its finalizer and waits; nothing is created.
    eventually("tm1's finalizer", || async {
        get::<TinkerbellMachine>(&store, "tm1")
            .await
            .filter(|t| t.metadata.finalizers.is_some())
    })
    .await;
    assert!(get::<Workflow>(&store, "tm1").await.is_none());
    // Free hw-a, let the machine take it, then delete hw-a under it.
    api::<Hardware>(&store)
        .modify(NS, "hw-a", |h| {
            if let Some(l) = h.metadata.labels.as_mut() {
                l.remove(OWNER_NAME_LABEL);
            }
        })
        .await
        .expect("free hw-a");
    workflow(&store).await;
    plane.stop().await;
    api::<Hardware>(&store)
        .delete(NS, "hw-a")
        .await
        .expect("delete hw-a");
    let plane = Plane::start(&store);
    let tms: Api<TinkerbellMachine> = api(&store);
    request_delete(&tms, NS, "tm1").await.expect("delete");
    eventually("tm1 gone without a power-off", || async {
        get::<TinkerbellMachine>(&store, "tm1")
            .await
            .is_none()
            .then_some(())
    })
    .await;
    assert!(get::<Job>(&store, "tm1-poweroff").await.is_none());
    assert!(get::<Workflow>(&store, "tm1").await.is_none());
    assert!(get::<Template>(&store, "tm1").await.is_none());
    plane.stop().await;
}

/// Adds a Cluster API `Machine` `m<n>` and a `TinkerbellMachine` `tm<n>` like tm1's.
async fn add_machine(store: &SharedStore, n: u32) {
    create_dynamic(
        store,
        &format!(
            r#"{{"apiVersion":"cluster.x-k8s.io/v1beta1","kind":"Machine",
            "metadata":{{"name":"m{n}","namespace":"eksa-system","labels":{{"cluster.x-k8s.io/cluster-name":"c1"}}}},
            "spec":{{"clusterName":"c1","version":"v1.29.1","bootstrap":{{"dataSecretName":"m1-bootstrap"}}}}}}"#
        ),
    )
    .await;
    let mut tm: TinkerbellMachine = get(store, "tm1").await.expect("tm1");
    tm.metadata = ironbell_model::ObjectMeta::named(NS, format!("tm{n}"));
    tm.metadata.owner_references = Some(vec![ironbell_model::OwnerReference {
        api_version: "cluster.x-k8s.io/v1beta1".into(),
        kind: "Machine".into(),
        name: format!("m{n}"),
        uid: format!("m{n}"),
        ..Default::default()
    }]);
    tm.status = None;
    api::<TinkerbellMachine>(store)
        .create(&tm)
        .await
        .expect("tm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_racing_for_hardware_never_share_one() {
    let (_dir, store) = seeded(Some("version: \"0.1\"\n")).await;
    api::<Hardware>(&store)
        .create(&hardware(
            "hw-c",
            "{type: cp}",
            "52:54:00:00:00:0d",
            "10.0.0.13",
            false,
        ))
        .await
        .expect("hw-c");
    for n in 2..=3 {
        add_machine(&store, n).await;
    }
    let plane = Plane::start(&store);
    let mut taken: Vec<String> = Vec::new();
    for n in 1..=3 {
        let name = format!("tm{n}");
        let wf: Workflow = eventually(&format!("the Workflow {name}"), || {
            get::<Workflow>(&store, &name)
        })
        .await;
        taken.push(wf.spec.hardware_ref.clone().expect("hardware ref"));
    }
    taken.sort();
    assert_eq!(taken, ["hw-a", "hw-b", "hw-c"]);
    // hw-c has no BMC: its Workflow does not ask for a netboot Job.
    let wfs = api::<Workflow>(&store)
        .list(&Default::default())
        .await
        .expect("list")
        .0;
    for wf in wfs {
        let boot = wf.spec.boot_options.expect("boot options");
        let expect = (wf.spec.hardware_ref.as_deref() != Some("hw-c")).then_some(BootMode::Netboot);
        assert_eq!(boot.boot_mode, expect, "{}", wf.metadata.name());
    }
    plane.stop().await;
}

#[tokio::test]
async fn a_paused_cluster_keeps_its_machines_on_delete() {
    use ironbell_controller::{Next, Reconcile};
    let (_dir, store) = seeded(Some("version: \"0.1\"\n")).await;
    let wait = Duration::from_secs(30);
    let (clusters, machines) = reconcilers(&store);
    let key = (NS.to_string(), "tm1".to_string());
    assert_eq!(
        clusters
            .reconcile(&(NS.into(), "c1".into()))
            .await
            .expect("tc"),
        Next::Done
    );
    assert_eq!(machines.reconcile(&key).await.expect("tm"), Next::Done);
    assert!(get::<Workflow>(&store, "tm1").await.is_some());

    // Pause the Cluster (as a move does), then delete the machine.
    let cluster_type = ironbell_model::TypeKey::new("cluster.x-k8s.io/v1beta1", "Cluster");
    let mut cluster = store.get(&cluster_type, NS, "c1").await.expect("cluster");
    cluster
        .set_field(
            "spec",
            &serde_json::json!({"paused": true, "controlPlaneEndpoint": {"host": "10.0.0.100"}}),
        )
        .expect("spec");
    store.update(cluster).await.expect("pause");
    let tms: Api<TinkerbellMachine> = api(&store);
    request_delete(&tms, NS, "tm1").await.expect("delete");
    assert_eq!(
        machines.reconcile(&key).await.expect("paused"),
        Next::After(wait)
    );
    assert!(
        get::<Workflow>(&store, "tm1").await.is_some(),
        "Workflow kept"
    );
    assert!(
        get::<Job>(&store, "tm1-poweroff").await.is_none(),
        "no power-off"
    );
    let hw: Hardware = get(&store, "hw-b").await.expect("hw");
    assert!(owned_by_tm1(&hw));

    // Unpaused, the delete proceeds: the power-off Job appears.
    let mut cluster = store.get(&cluster_type, NS, "c1").await.expect("cluster");
    cluster
        .set_field(
            "spec",
            &serde_json::json!({"controlPlaneEndpoint": {"host": "10.0.0.100"}}),
        )
        .expect("spec");
    store.update(cluster).await.expect("unpause");
    machines.reconcile(&key).await.expect("delete");
    assert!(get::<Workflow>(&store, "tm1").await.is_none());
    assert!(get::<Job>(&store, "tm1-poweroff").await.is_some());
}

#[tokio::test]
async fn hardware_provisioned_before_a_move_makes_the_machine_ready_without_a_workflow() {
    use ironbell_controller::{Next, Reconcile};
    let (_dir, store) = seeded(Some("version: \"0.1\"\n")).await;
    // hw-a came over from another plane owned by tm1 and provisioned.
    api::<Hardware>(&store)
        .modify(NS, "hw-a", |h| {
            let l = h.metadata.labels.get_or_insert_with(Default::default);
            l.insert(OWNER_NAME_LABEL.into(), "tm1".into());
            l.insert(OWNER_NAMESPACE_LABEL.into(), NS.into());
            h.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(PROVISIONED_ANNOTATION.into(), "true".into());
        })
        .await
        .expect("moved hw-a");
    let (clusters, machines) = reconcilers(&store);
    clusters
        .reconcile(&(NS.into(), "c1".into()))
        .await
        .expect("tc");
    let key = (NS.to_string(), "tm1".to_string());
    assert_eq!(machines.reconcile(&key).await.expect("tm"), Next::Done);
    let tm: TinkerbellMachine = get(&store, "tm1").await.expect("tm1");
    assert!(tm.status.as_ref().is_some_and(|s| s.ready));
    assert_eq!(
        tm.spec.provider_id.as_deref(),
        Some("tinkerbell://eksa-system/hw-a")
    );
    assert!(get::<Workflow>(&store, "tm1").await.is_none());
    assert!(get::<Template>(&store, "tm1").await.is_none());
    // A second reconcile writes nothing.
    let rv = tm.metadata.resource_version.clone();
    machines.reconcile(&key).await.expect("again");
    let again: TinkerbellMachine = get(&store, "tm1").await.expect("tm1");
    assert_eq!(again.metadata.resource_version, rv);
}
