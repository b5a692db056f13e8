//! What users see when things go wrong: failing tasks fail their Job with a message that
//! names the task; wrong passwords, unreachable hosts, TLS failures and silent BMCs give
//! `Contactable=False` with a clear message; a dead preferred provider falls through to
//! the next within the one connect timeout; a Machine deleted while its BMC is asked ends
//! its reconcile quietly. No password appears in any status or log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use ironbell_model::ObjectMeta;
use ironbell_model::bmc::{
    Action, Job, JobSpec, Machine, MachineRef, PowerAction, Task, TaskSpec, TaskStatus,
    VirtualMediaAction,
};
use ironbell_store::Api;
use ironbell_store::events::events_of;

fn job(name: &str, machine: &str, tasks: Vec<Action>) -> Job {
    Job {
        metadata: ObjectMeta::named(NS, name),
        spec: JobSpec {
            machine_ref: MachineRef {
                name: machine.into(),
                namespace: NS.into(),
            },
            tasks,
        },
        ..Job::default()
    }
}

fn no_secret(text: &str) {
    assert!(!text.contains(PASSWORD), "password leaked: {text}");
    assert!(!text.contains(WRONG_PASSWORD), "password leaked: {text}");
}

#[test]
fn failing_tasks_fail_their_job_with_a_message_naming_the_task() {
    if !tools_present() {
        return;
    }
    let mut lab = Lab::new();
    let cert = self_signed();
    let sushy = lab.sushy(&[("node-a", "Off")], &cert);
    let sim = lab.ipmi_sim(false);
    let closed = lab.free_port();
    let store = lab.store();
    let logs = Logs::default();
    lab.run(&logs, || async {
        secrets(&store).await;
        machine(&store, "sim", ipmi_conn(sim.port, "good", closed)).await;
        machine(&store, "sim-wrong", ipmi_conn(sim.port, "wrong", closed)).await;
        machine(
            &store,
            "rf-wrong",
            redfish_conn(sushy.port, "node-a", "wrong", closed),
        )
        .await;
        let service = tokio::spawn(ironbell_bmc::run(store.clone(), config()));
        let jobs = Api::<Job>::new(store.clone());
        let media = Action {
            virtual_media_action: Some(VirtualMediaAction {
                media_url: Some("http://127.0.0.1:9/boot.iso".into()),
                kind: "CD".into(),
            }),
            ..Action::default()
        };
        jobs.create(&job(
            "vm",
            "sim",
            vec![
                Action::power(PowerAction::On),
                media,
                Action::power(PowerAction::Off),
            ],
        ))
        .await
        .unwrap();
        let on = Action::power(PowerAction::On);
        jobs.create(&job("ipmi-pw", "sim-wrong", vec![on.clone()]))
            .await
            .unwrap();
        jobs.create(&job("rf-pw", "rf-wrong", vec![on.clone()]))
            .await
            .unwrap();
        // A task started long ago and never confirmed times out.
        let mut old = Task {
            metadata: ObjectMeta::named(NS, "old"),
            spec: TaskSpec {
                task: Action::power(PowerAction::Off),
                connection: Some(ipmi_conn(sim.port, "good", closed)),
            },
            ..Task::default()
        };
        old.status = Some(TaskStatus {
            start_time: "2020-01-01T00:00:00Z".parse().ok(),
            ..TaskStatus::default()
        });
        Api::<Task>::new(store.clone()).create(&old).await.unwrap();
        let t = Duration::from_secs(40);

        let (ok, msg) = wait_for::<Job, _>(&store, "vm", t, job_done).await;
        let msg = msg.unwrap_or_default();
        assert!(!ok);
        assert!(msg.starts_with("task default/vm-task-1 failed: "), "{msg}");
        assert!(
            msg.contains(
                "ipmitool: skipped, virtual media is not supported by the ipmitool provider"
            ),
            "{msg}"
        );
        let tasks = Api::<Task>::new(store.clone());
        let t0 = tasks.get(NS, "vm-task-0").await.unwrap();
        assert_eq!(task_done(&t0), Some((true, None)));
        assert!(
            tasks.get(NS, "vm-task-2").await.is_err(),
            "no task after a failed one"
        );
        // The BMC Machine's timeline says it too.
        let deadline = Instant::now() + Duration::from_secs(10);
        let failed = loop {
            let events = events_of::<Machine>(&store, NS, "sim").await.unwrap();
            if let Some(e) = events
                .into_iter()
                .find(|e| e.reason.as_deref() == Some("BMCJobFailed"))
            {
                break e;
            }
            assert!(
                Instant::now() < deadline,
                "no BMCJobFailed Event on Machine sim"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(failed.is_warning());
        assert_eq!(
            failed.message.as_deref(),
            Some(format!("job vm: {msg}").as_str())
        );

        let (ok, msg) = wait_for::<Job, _>(&store, "ipmi-pw", t, job_done).await;
        let msg = msg.unwrap_or_default();
        assert!(!ok);
        assert!(
            msg.starts_with("task default/ipmi-pw-task-0 failed: Failed to connect to BMC: "),
            "{msg}"
        );
        assert!(
            msg.contains("ipmitool: authentication to BMC 127.0.0.1 as user \"admin\" failed"),
            "{msg}"
        );
        no_secret(&msg);
        for e in events_of::<Machine>(&store, NS, "sim-wrong").await.unwrap() {
            no_secret(e.message.as_deref().unwrap_or_default());
        }

        let (ok, msg) = wait_for::<Job, _>(&store, "rf-pw", t, job_done).await;
        let msg = msg.unwrap_or_default();
        assert!(!ok);
        assert!(
            msg.starts_with("task default/rf-pw-task-0 failed: Failed to connect to BMC: "),
            "{msg}"
        );
        assert!(
            msg.contains("gofish: ") && msg.contains("authentication failed for user \"admin\""),
            "{msg}"
        );
        no_secret(&msg);

        let (ok, msg) = wait_for::<Task, _>(&store, "old", t, task_done).await;
        let msg = msg.unwrap_or_default();
        assert!(!ok);
        assert!(msg.starts_with("bmc task timeout: "), "{msg}");
        service.abort();
    });
    no_secret(&logs.text());
    // Only the power on reached the BMC.
    let sets: Vec<String> = sim
        .actions()
        .lines()
        .filter(|l| l.starts_with("set"))
        .map(str::to_string)
        .collect();
    assert_eq!(sets, ["set power 1"]);
}

#[test]
fn unreachable_wrong_password_tls_and_silence_give_clear_contactable_false() {
    if !tools_present() {
        return;
    }
    let mut lab = Lab::new();
    let cert = self_signed();
    let sushy = lab.sushy(&[("node-a", "On")], &cert);
    let sim = lab.ipmi_sim(true);
    let closed = lab.free_port();
    let (tcp_hole, udp_hole) = lab.black_holes();
    let store = lab.store();
    let logs = Logs::default();
    lab.run(&logs, || async {
        secrets(&store).await;
        machine(&store, "ipmi-pw", ipmi_conn(sim.port, "wrong", closed)).await;
        machine(&store, "rf-pw", redfish_conn(sushy.port, "node-a", "wrong", closed)).await;
        machine(&store, "nobody", ipmi_conn(closed, "good", closed)).await;
        let mut tls = redfish_conn(sushy.port, "node-a", "good", closed);
        tls.insecure_tls = false;
        machine(&store, "tls", tls).await;
        machine(&store, "silent", ipmi_conn(udp_hole, "good", tcp_hole)).await;
        machine(&store, "nosecret", ipmi_conn(sim.port, "missing", closed)).await;
        let service = tokio::spawn(ironbell_bmc::run(store.clone(), config()));
        let t = Duration::from_secs(30);
        let not_contactable = |m: &Machine| {
            let (status, msg, power) = contactable(m)?;
            (status == "False").then(|| {
                assert_eq!(power, "unknown");
                msg.unwrap_or_default()
            })
        };
        let expect = [
            ("ipmi-pw", vec!["failed to open connection to BMC 127.0.0.1: ipmitool: authentication to BMC 127.0.0.1 as user \"admin\" failed"]),
            ("rf-pw", vec!["gofish: 127.0.0.1:", "authentication failed for user \"admin\" (HTTP 401"]),
            ("nobody", vec!["ipmitool: no answer from BMC 127.0.0.1", "gofish: 127.0.0.1:", "cannot reach the BMC"]),
            ("tls", vec!["gofish: 127.0.0.1:", "TLS verification failed"]),
            // gofish: the Redfish client's own connect timeout or the budget's, whichever
            // fires first (both are the remaining budget).
            ("silent", vec!["ipmitool: no answer from BMC 127.0.0.1", "gofish: ", "timed out"]),
            ("nosecret", vec!["resolving Machine default/nosecret SecretReference: secret default/missing not found"]),
        ];
        for (name, needles) in expect {
            let msg = wait_for::<Machine, _>(&store, name, t, not_contactable).await;
            eprintln!("{name}: {msg}");
            for n in needles {
                assert!(msg.contains(n), "{name}: {n:?} not in {msg:?}");
            }
            no_secret(&msg);
        }
        service.abort();
    });
    no_secret(&logs.text());
}

#[test]
fn a_dead_preferred_redfish_falls_through_to_ipmi_within_the_shared_timeout() {
    if !tools_present() {
        return;
    }
    let mut lab = Lab::new();
    let sim = lab.ipmi_sim(true);
    let (tcp_hole, _) = lab.black_holes();
    let store = lab.store();
    lab.run(&Logs::default(), || async {
        secrets(&store).await;
        let mut conn = redfish_conn(tcp_hole, "node-a", "good", sim.port);
        if let Some(o) = conn.provider_options.as_mut() {
            o.preferred_order = Some(vec!["gofish".into(), "ipmitool".into()]);
        }
        machine(&store, "m", conn).await;
        let start = Instant::now();
        let cfg = config();
        let service = tokio::spawn(ironbell_bmc::run(store.clone(), cfg));
        let got = wait_for::<Machine, _>(&store, "m", Duration::from_secs(30), contactable).await;
        let took = start.elapsed();
        assert_eq!(got, ("True".to_string(), None, "on".to_string()));
        // gofish got half the budget, ipmitool connected right after.
        assert!(took >= cfg.timeouts.connect / 2, "{took:?}");
        assert!(took < cfg.timeouts.connect, "{took:?}");
        // And a Job runs through the provider that answers.
        Api::<Job>::new(store.clone())
            .create(&job("off", "m", vec![Action::power(PowerAction::Off)]))
            .await
            .unwrap();
        let done = wait_for::<Job, _>(&store, "off", Duration::from_secs(30), job_done).await;
        assert_eq!(done, (true, None));
        service.abort();
    });
    assert!(!ipmitool_power_on(&lab, sim.port));
}

/// A BMC Machine deleted while its BMC is being asked (a move deletes the source's BMC
/// Machines once their copies exist) ends its reconcile as done, not as a failure to retry
/// with a warning: there is nothing left to report on.
#[test]
fn a_machine_deleted_while_its_bmc_is_asked_is_done() {
    use ironbell_bmc::controllers::machine::MachineReconciler;
    use ironbell_controller::{Next, Reconcile};
    if !tools_present() {
        return;
    }
    let mut lab = Lab::new();
    let (tcp_hole, udp_hole) = lab.black_holes();
    let store = lab.store();
    let logs = Logs::default();
    lab.run(&logs, || async {
        secrets(&store).await;
        machine(&store, "going", ipmi_conn(udp_hole, "good", tcp_hole)).await;
        let reconciler = MachineReconciler::new(store.clone(), std::sync::Arc::new(config()));
        let key = (NS.to_string(), "going".to_string());
        let started = Instant::now();
        let deleting = async {
            // The silent BMC holds the reconcile for the connect timeout (6 s).
            tokio::time::sleep(Duration::from_millis(500)).await;
            Api::<Machine>::new(store.clone())
                .delete(NS, "going")
                .await
                .expect("delete the Machine");
        };
        let (result, ()) = tokio::join!(reconciler.reconcile(&key), deleting);
        let result = result.map_err(|e| e.to_string());
        assert_eq!(result, Ok(Next::Done), "after {:?}", started.elapsed());
    });
    let text = logs.text();
    assert!(
        text.contains("deleted before its status was written"),
        "{text}"
    );
    assert!(!text.contains("going not found"), "{text}");
}
