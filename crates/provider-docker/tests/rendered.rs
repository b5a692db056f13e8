//! An EKS Anywhere Docker cluster spec, rendered as the lifecycle renders it
//! (`ironbell_provider_docker::lifecycle`), run by the controllers on a real engine
//! ([`common::Lab`]): the Docker validations refuse it while its images are missing, pass
//! once they are there, the rendered objects become a Ready cluster behind its load
//! balancer, the names check then refuses a second create, and a delete leaves nothing.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use ironbell_cluster_spec::Spec;
use ironbell_model::DynamicObject;
use ironbell_provider_docker::lifecycle::{self, setup_checks};
use serde_json::Value;

/// Each check as `name: outcome`.
fn outcomes(checks: &[ironbell_lifecycle::Check]) -> BTreeMap<String, Result<(), String>> {
    checks
        .iter()
        .map(|c| (c.name.clone(), c.outcome.clone()))
        .collect()
}

/// The number at `spec.replicas` of the rendered objects of `kind`, summed.
fn replicas(objects: &[DynamicObject], kind: &str) -> usize {
    objects
        .iter()
        .filter(|o| o.types.kind == kind)
        .filter_map(|o| o.field_value("spec")?.get("replicas")?.as_u64())
        .sum::<u64>() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rendered_eksa_docker_spec_runs_on_the_engine() {
    let Some(lab) = Lab::start().await else {
        return;
    };
    let text = ironbell_cluster_spec::generate(CLUSTER, ironbell_cluster_spec::Provider::Docker);
    let mut spec = Spec::parse(&text).unwrap().with_defaults();
    // Etcd machines (EtcdadmCluster) have no controller here: stacked etcd.
    spec.cluster.spec.external_etcd_configuration = None;
    let mut objects = lifecycle::render(&spec, 1_700_000_000_000).unwrap();
    let images = lifecycle::images(&objects);
    eprintln!("rendered images: {images:?}");

    // The images EKS Anywhere names are not on the engine: refused, each named.
    let checks = outcomes(&setup_checks(&lab.engine, CLUSTER, &objects).await);
    for image in &images {
        let outcome = &checks[&format!("Image {image} is present")];
        assert!(
            outcome.as_ref().is_err_and(|e| e.contains("not pulled")),
            "{image}: {outcome:?}"
        );
    }
    assert!(
        checks.values().filter(|o| o.is_ok()).count() == 2,
        "{checks:#?}"
    );

    // Given those names (the test's images tagged so), every check passes.
    for image in &images {
        let from = if image.contains("/haproxy:") {
            format!("ironbell-test/haproxy:{}", lab.lb_tag)
        } else {
            "ironbell-test/node:v1".to_string()
        };
        lab.dockerd.docker(&["tag", &from, image]).unwrap();
    }
    let checks = outcomes(&setup_checks(&lab.engine, CLUSTER, &objects).await);
    assert!(checks.values().all(Result::is_ok), "{checks:#?}");

    // The node templates mount the host's Docker socket (CAPD in the cluster drives the
    // host's engine): here the host's engine is the test's.
    let socket = lab.dockerd.socket().display().to_string();
    for o in objects
        .iter_mut()
        .filter(|o| o.types.kind == "DockerMachineTemplate")
    {
        let mut spec = o.field_value("spec").unwrap();
        if let Some(Value::Array(mounts)) = spec.pointer_mut("/template/spec/extraMounts") {
            for m in mounts.iter_mut() {
                if m["hostPath"] == "/var/run/docker.sock" {
                    m["hostPath"] = Value::String(socket.clone());
                }
            }
        }
        o.set_field("spec", &spec).unwrap();
    }
    let cp = replicas(&objects, "KubeadmControlPlane");
    let workers = replicas(&objects, "MachineDeployment");
    assert!(cp >= 1 && workers >= 1, "{cp} {workers}");
    for o in &objects {
        lab.store
            .create(o.clone())
            .await
            .unwrap_or_else(|e| panic!("{} {}: {e}", o.types.kind, o.name()));
    }
    let node_image = images
        .iter()
        .find(|i| !i.contains("/haproxy:"))
        .unwrap()
        .clone();
    lab.settled("the rendered cluster", cp, workers, &node_image, |_| {})
        .await;
    let cps = lab.containers("control-plane").await;
    assert_eq!(cps.len(), cp, "{cps:?}");
    let first = cps.keys().next().unwrap().clone();
    lab.lb_forwards_to(&first).await;

    // A second create of the same cluster is refused by the names check.
    let checks = outcomes(&setup_checks(&lab.engine, CLUSTER, &objects).await);
    let names = &checks[&format!("Cluster {CLUSTER}'s container and network names are free")];
    assert!(
        names
            .as_ref()
            .is_err_and(|e| e.contains(&format!("{CLUSTER}-lb"))),
        "{names:?}"
    );

    lab.delete_cluster_and_check_nothing_left().await;
}
