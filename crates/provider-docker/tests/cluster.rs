//! A cluster of containers on a real Docker engine ([`common::Lab`]), created, scaled,
//! upgraded and deleted through the Cluster API controllers and this provider's, on the
//! SQLite store. The nodes run the `plain` node bootstrapper's user-data, whose phone-home
//! makes each `Node` Ready.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use ironbell_cluster_api::{KubeadmControlPlane, MachineDeployment};
use ironbell_model::Resource;
use ironbell_provider_docker::Security;
use ironbell_provider_docker::engine::ContainerSpec;
use ironbell_store::{ListParams, api};
use ironbell_testbed::wait_until_async;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_containers_is_created_scaled_upgraded_and_deleted() {
    let Some(mut lab) = Lab::start().await else {
        return;
    };
    let t0 = Instant::now();
    let cpu0 = Cpu::now();

    // Create: one control plane and two workers.
    lab.cluster(2).await;
    let workers = lab
        .settled("create 1+2", 1, 2, "ironbell-test/node:v1", |_| {})
        .await;
    let (mine, all) = Cpu::now().since(&cpu0);
    let wall = t0.elapsed().as_secs_f64();
    eprintln!(
        "figure: ready 1+2 container cluster in {wall:.1} s; this process (the store, the \
         controllers, the phone-home) used {mine:.2} CPU-s, the whole machine {all:.2} CPU-s \
         ({:.0} % of it)",
        100.0 * mine / all.max(f64::EPSILON)
    );
    let cp = lab.control_plane_container().await;
    assert!(cp.starts_with("c1-"), "{cp}");
    for w in &workers {
        assert!(w.starts_with("c1-md-0-"), "{w}");
    }
    // Each Node is the container's, Ready through its phone-home.
    let nodes = api::<ironbell_model::corev1::Node>(&lab.store)
        .list(&ListParams::default())
        .await
        .unwrap()
        .0;
    for c in workers.iter().chain([&cp]) {
        let node = nodes
            .iter()
            .find(|n| n.name() == c)
            .unwrap_or_else(|| panic!("no Node {c}"));
        assert_eq!(
            node.spec.provider_id.as_deref(),
            Some(format!("docker:////{c}").as_str())
        );
    }
    // The Machines carry the containers' addresses and provider IDs.
    for m in lab.machines().await {
        let status = m.status.clone().unwrap_or_default();
        assert!(
            status.addresses.iter().any(|a| a.type_ == "InternalIP"),
            "{}: {:?}",
            m.name(),
            status.addresses
        );
        assert!(
            m.spec
                .provider_id
                .as_deref()
                .is_some_and(|p| p.starts_with("docker:////c1-")),
            "{:?}",
            m.spec.provider_id
        );
    }
    // The load balancer forwards a TCP connection to the control-plane container.
    lab.lb_forwards_to(&cp).await;
    let lb = lab.containers("external-load-balancer").await;
    assert_eq!(lb.keys().collect::<Vec<_>>(), ["c1-lb"]);

    // Scale the workers to three, the controllers stopped dead as the new machine's
    // container is being made and started again: the scale carries on; then back to one.
    lab.set_replicas(3).await;
    let made = wait_until_async(DEADLINE, || async {
        lab.containers("worker").await.len() == 3
    })
    .await;
    assert!(made, "no third worker container");
    lab.restart_controllers().await;
    lab.settled(
        "scale to 3 across a restart",
        1,
        3,
        "ironbell-test/node:v1",
        |_| {},
    )
    .await;
    lab.set_replicas(1).await;
    let one = lab
        .settled("scale to 1", 1, 1, "ironbell-test/node:v1", |_| {})
        .await;
    assert!(one.is_subset(&workers) || one.len() == 1);

    // Upgrade to a new image, control plane and workers: at 2 workers, never more than 3
    // worker containers (maxSurge 1), all replaced; the load balancer follows the new
    // control-plane container.
    lab.set_replicas(2).await;
    let before = lab
        .settled("scale to 2", 1, 2, "ironbell-test/node:v1", |_| {})
        .await;
    lab.template("c1-control-plane-2", "ironbell-test/node:v2")
        .await;
    lab.template("c1-md-0-2", "ironbell-test/node:v2").await;
    api::<KubeadmControlPlane>(&lab.store)
        .modify(NS, CLUSTER, |k| {
            k.spec.machine_template.infrastructure_ref.name = "c1-control-plane-2".into()
        })
        .await
        .unwrap();
    api::<MachineDeployment>(&lab.store)
        .modify(NS, "c1-md-0", |md| {
            md.spec.template.spec.infrastructure_ref.name = "c1-md-0-2".into()
        })
        .await
        .unwrap();
    let mut most = 0;
    let after = lab
        .settled("upgrade", 1, 2, "ironbell-test/node:v2", |w| {
            most = most.max(w.len())
        })
        .await;
    assert!(
        most <= 3,
        "{most} worker containers at once with maxSurge 1"
    );
    assert!(before.is_disjoint(&after), "{before:?} {after:?}");
    let new_cp = lab.control_plane_container().await;
    assert_ne!(new_cp, cp);
    lab.lb_forwards_to(&new_cp).await;

    // The engine stopped in the middle of a create: a clear error in the machine's
    // condition; started again, the create carries on.
    lab.set_replicas(3).await;
    let known: BTreeSet<String> = lab
        .docker_machines()
        .await
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    let new_machine = wait_until_async(DEADLINE, || async {
        lab.docker_machines()
            .await
            .iter()
            .any(|d| !known.contains(d.name()))
    })
    .await;
    assert!(new_machine, "no new DockerMachine after scaling to 3");
    let endpoint = lab.endpoint().await;
    lab.dockerd.stop();
    let socket = lab.dockerd.socket().display().to_string();
    let mut message = String::new();
    let mut reported = false;
    let start = Instant::now();
    'poll: while start.elapsed() < Duration::from_secs(60) {
        for d in lab.docker_machines().await {
            if known.contains(d.name()) {
                continue;
            }
            for c in d.status.iter().flat_map(|s| s.conditions.iter()) {
                if c.status == "False"
                    && let Some(m) = &c.message
                {
                    message = m.clone();
                    if m.contains("is unreachable") {
                        reported = true;
                        break 'poll;
                    }
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
    assert!(
        reported,
        "no condition says the engine is unreachable: {message:?}"
    );
    assert!(message.contains(&socket), "{message}");
    eprintln!("engine stopped: {message}");
    lab.dockerd.start_again().unwrap();
    lab.settled(
        "create after the engine came back",
        1,
        3,
        "ironbell-test/node:v2",
        |_| {},
    )
    .await;
    // The load balancer kept its address: the endpoint did not move.
    assert_eq!(lab.endpoint().await, endpoint);
    lab.lb_forwards_to(&new_cp).await;

    // --privileged is refused by this engine, and the error says so.
    let refused = async {
        let spec = ContainerSpec {
            name: "privileged-probe".into(),
            image: "ironbell-test/node:v1".into(),
            network: "c1".into(),
            security: Security {
                privileged: true,
                cap_add: vec![],
                cap_drop: vec![],
                security_opt: vec![],
            },
            ..ContainerSpec::default()
        };
        lab.engine.create_container(&spec).await?;
        let started = lab.engine.start("privileged-probe", true).await;
        lab.engine.remove_container("privileged-probe").await?;
        started
    }
    .await;
    match refused {
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("refused: "), "{text}");
            eprintln!("privileged: {text}");
        }
        Ok(()) => eprintln!("this engine accepts --privileged (it has CAP_SYS_RESOURCE)"),
    }

    // Delete: nothing with the cluster's label is left on the engine.
    lab.delete_cluster_and_check_nothing_left().await;
    assert!(lab.docker_machines().await.is_empty());
    eprintln!(
        "figure: whole scenario in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
