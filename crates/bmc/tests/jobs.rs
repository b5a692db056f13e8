//! The BMC service end to end against emulators it did not write: sushy-tools (Redfish,
//! HTTPS with basic auth, the fake driver applying power changes 1-11 s late), OpenIPMI's
//! ipmi_sim and pyghmi's BMC (IPMI 2.0), all in a network namespace of the test's own,
//! with a SQLite store and the three controllers running.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ironbell_model::ObjectMeta;
use ironbell_model::bmc::{Action, Job, JobSpec, Machine, MachineRef, PowerAction, Task};
use ironbell_store::events::events_of;
use ironbell_store::{Api, ListParams, SharedStore};

fn netboot(name: &str, machine: &str) -> Job {
    Job {
        metadata: ObjectMeta::named(NS, name),
        spec: JobSpec {
            machine_ref: MachineRef {
                name: machine.into(),
                namespace: NS.into(),
            },
            tasks: vec![
                Action::power(PowerAction::Off),
                Action::one_time_boot("pxe", true),
                Action::power(PowerAction::On),
            ],
        },
        ..Job::default()
    }
}

/// Every task of a finished job is Completed, with times and the Job as controller.
async fn check_tasks(store: &SharedStore, job: &Job, n: usize) {
    let tasks = Api::<Task>::new(store.clone());
    let stored = Api::<Job>::new(store.clone())
        .get(NS, job.metadata.name())
        .await
        .unwrap();
    for i in 0..n {
        let t = tasks
            .get(NS, &format!("{}-task-{i}", job.metadata.name()))
            .await
            .unwrap();
        assert_eq!(task_done(&t), Some((true, None)), "{t:#?}");
        let s = t.status.as_ref().unwrap();
        assert!(
            s.start_time.is_some() && s.completion_time.is_some(),
            "{s:#?}"
        );
        let owner = &t.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str(), owner.controller),
            ("Job", job.metadata.name(), Some(true))
        );
        assert_eq!(Some(&owner.uid), stored.metadata.uid.as_ref());
        assert_eq!(t.spec.task, job.spec.tasks[i]);
        assert!(t.spec.connection.is_some());
    }
    let s = stored.status.unwrap();
    assert!(s.start_time.is_some() && s.completion_time.is_some());
    let running = condition(s.conditions.as_ref(), "Running").unwrap();
    assert_eq!(running.status, "True");
}

#[test]
fn machines_report_power_and_are_not_rewritten_when_nothing_changed() {
    if !tools_present() {
        return;
    }
    let mut lab = Lab::new();
    let cert = self_signed();
    let sushy = lab.sushy(&[("node-on", "On"), ("node-off", "Off")], &cert);
    let sim = lab.ipmi_sim(true);
    let pyg = lab.pyghmi();
    let closed = lab.free_port();
    let store = lab.store();
    let logs = Logs::default();
    lab.run(&logs, || async {
        secrets(&store).await;
        machine(
            &store,
            "rf-on",
            redfish_conn(sushy.port, "node-on", "good", closed),
        )
        .await;
        machine(
            &store,
            "rf-off",
            redfish_conn(sushy.port, "node-off", "good", closed),
        )
        .await;
        machine(&store, "sim", ipmi_conn(sim.port, "good", closed)).await;
        machine(&store, "pyg", ipmi_conn(pyg.port, "good", closed)).await;
        let mut cfg = config();
        cfg.machine_interval = Duration::from_secs(1);
        let service = tokio::spawn(ironbell_bmc::run(store.clone(), cfg));
        let t = Duration::from_secs(30);
        for (name, power) in [
            ("rf-on", "on"),
            ("rf-off", "off"),
            ("sim", "on"),
            ("pyg", "off"),
        ] {
            let got = wait_for::<Machine, _>(&store, name, t, reachable).await;
            assert_eq!(got, ("True".to_string(), None, power.to_string()), "{name}");
        }
        // Read again every second; nothing changed, so nothing is written.
        let machines = Api::<Machine>::new(store.clone());
        let rv = |m: Machine| m.metadata.resource_version;
        let before = rv(machines.get(NS, "sim").await.unwrap());
        let gets_before = sim.actions().matches("get power").count();
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(rv(machines.get(NS, "sim").await.unwrap()), before);
        let gets_after = sim.actions().matches("get power").count();
        assert!(
            gets_after >= gets_before + 2,
            "the BMC was not read again: {gets_before} -> {gets_after}"
        );
        // A change on the BMC shows up at the next look.
        std::fs::write(sim.dir.join("power"), "0\n").unwrap();
        wait_for::<Machine, _>(&store, "sim", t, |m| {
            (contactable(m)?.2 == "off").then_some(())
        })
        .await;
        service.abort();
    });
    assert!(!logs.text().contains(PASSWORD));
}

#[test]
fn a_netboot_job_completes_on_redfish_and_on_ipmi() {
    if !tools_present() {
        return;
    }
    let mut lab = Lab::new();
    let cert = self_signed();
    let sushy = lab.sushy(&[("node-a", "On")], &cert);
    let sim = lab.ipmi_sim(true);
    let pyg = lab.pyghmi();
    let closed = lab.free_port();
    let store = lab.store();
    let logs = Logs::default();
    lab.run(&logs, || async {
        secrets(&store).await;
        machine(
            &store,
            "rf",
            redfish_conn(sushy.port, "node-a", "good", closed),
        )
        .await;
        machine(&store, "sim", ipmi_conn(sim.port, "good", closed)).await;
        machine(&store, "pyg", ipmi_conn(pyg.port, "good", closed)).await;
        let service = tokio::spawn(ironbell_bmc::run(store.clone(), config()));
        // pyghmi's Machine reports "off" before the Jobs; its next regular look is 3
        // minutes (`config().machine_interval`) away.
        let got = wait_for::<Machine, _>(&store, "pyg", Duration::from_secs(30), reachable).await;
        assert_eq!(got.2, "off");
        let jobs = Api::<Job>::new(store.clone());
        let all = [
            netboot("nb-rf", "rf"),
            netboot("nb-sim", "sim"),
            netboot("nb-pyg", "pyg"),
        ];
        for j in &all {
            jobs.create(j).await.unwrap();
        }
        for j in &all {
            let done =
                wait_for::<Job, _>(&store, j.metadata.name(), Duration::from_secs(90), job_done)
                    .await;
            assert_eq!(done, (true, None), "{}", j.metadata.name());
            check_tasks(&store, j, 3).await;
        }
        // A Job's end has its Machine read again at once: pyg, off before, reports on.
        // (Not the Redfish Machine: sushy-tools answers 500 "database is locked" now and
        // then, and that reading would stand for the 3 minutes.)
        for m in ["sim", "pyg"] {
            wait_for::<Machine, _>(&store, m, Duration::from_secs(10), |m| {
                (contactable(m)?.2 == "on").then_some(())
            })
            .await;
        }
        // Each BMC Machine's timeline has its Job's completion.
        for (job, m) in [("nb-rf", "rf"), ("nb-sim", "sim"), ("nb-pyg", "pyg")] {
            let want = format!("job {job} completed (3 tasks)");
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !events_of::<Machine>(&store, NS, m)
                .await
                .unwrap()
                .iter()
                .any(|e| {
                    e.reason.as_deref() == Some("BMCJobComplete")
                        && e.message.as_deref() == Some(want.as_str())
                })
            {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no {want:?} on Machine {m}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // Deleting a Job deletes its Tasks (there is no garbage collector in the store).
        jobs.delete(NS, "nb-sim").await.unwrap();
        let tasks = Api::<Task>::new(store.clone());
        for _ in 0..100 {
            if tasks.get(NS, "nb-sim-task-0").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (left, _) = tasks.list(&ListParams::namespace(NS)).await.unwrap();
        let names: Vec<&str> = left.iter().map(|t| t.metadata.name()).collect();
        assert_eq!(names.len(), 6, "{names:?}");
        assert!(names.iter().all(|n| !n.starts_with("nb-sim-")), "{names:?}");
        service.abort();
    });

    // The emulators agree.
    let client = lab.run(&Logs::default(), || async {
        let mut c = ironbell_redfish::Config::new(
            &format!("https://127.0.0.1:{}", sushy.port),
            USER,
            PASSWORD,
        )
        .unwrap();
        c.insecure_tls = true;
        c.system_name = Some("node-a".into());
        let client = ironbell_redfish::Client::connect(c).await.unwrap();
        let power = client.power_state().await.unwrap();
        let boot = client.boot_override().await.unwrap();
        (power, boot)
    });
    assert_eq!(client.0, ironbell_redfish::PowerState::On);
    assert_eq!(client.1.target, ironbell_redfish::BootSource::Pxe);
    assert_eq!(client.1.mode, Some(ironbell_redfish::BootMode::Uefi));

    assert!(ipmitool_power_on(&lab, sim.port));
    let sets: Vec<String> = sim
        .actions()
        .lines()
        .filter(|l| l.starts_with("set"))
        .map(str::to_string)
        .collect();
    eprintln!("ipmi_sim actions: {sets:?}");
    let boot = lab.ipmitool(sim.port, &["chassis", "bootparam", "get", "5"]);
    assert!(boot.contains("Force PXE"), "{boot}");

    assert!(ipmitool_power_on(&lab, pyg.port));
    let boot = lab.ipmitool(pyg.port, &["chassis", "bootparam", "get", "5"]);
    assert!(
        boot.contains("Force PXE") && boot.contains("BIOS EFI boot"),
        "{boot}"
    );
    eprintln!("pyghmi actions: {}", pyg.actions());
}
