//! The agent binary against a scripted workflow service on loopback.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ironbell_workflow_proto::action_status_request::StateType;
use std::collections::HashMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_actions_in_order_and_reports_each_state() {
    let image = test_image(1 << 20);
    let mut routes = HashMap::new();
    routes.insert("/ok.img".to_string(), Route::bytes(image.clone()));
    routes.insert(
        "/stall.img".to_string(),
        Route {
            stall_after: Some(100_000),
            ..Route::bytes(image.clone())
        },
    );
    let http = HttpServer::start(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, b"").unwrap();
    let stalled_disk = dir.path().join("stalled.img");
    std::fs::write(&stalled_disk, b"").unwrap();
    let disk_s = disk.display().to_string();
    let stalled_s = stalled_disk.display().to_string();
    let ok_url = http.url("/ok.img");
    let missing_url = http.url("/missing.img");
    let stall_url = http.url("/stall.img");
    let service = Service::start(vec![
        action(
            "a1",
            "quay.io/tinkerbell/actions/image2disk:latest",
            60,
            &[("IMG_URL", &ok_url), ("DEST_DISK", &disk_s)],
        ),
        action(
            "a2",
            "ghcr.io/tinkerbell/actions/image2disk:v1",
            60,
            &[("IMG_URL", &missing_url), ("DEST_DISK", &disk_s)],
        ),
        action(
            "a3",
            "127.0.0.1/embedded/image2disk",
            2,
            &[("IMG_URL", &stall_url), ("DEST_DISK", &stalled_s)],
        ),
        action("a4", "docker.io/library/alpine:3", 60, &[]),
        action("a5", "quay.io/tinkerbell/actions/reboot:latest", 60, &[]),
    ])
    .await;
    let mut agent = AgentProcess::spawn(service.addr, &[]);
    service
        .wait_for(Duration::from_secs(60), "five final reports", |r| {
            r.iter().filter(|r| state(r) != StateType::Running).count() == 5
        })
        .await;
    // The reboot action: SUCCESS reported first, then the (dry-run) reboot ends the agent.
    let exit = agent.wait_exit(Duration::from_secs(20)).await;
    let log = agent.log();
    assert!(
        exit.is_some_and(|s| s.success()),
        "agent did not exit after reboot: {log}"
    );
    assert!(log.contains("power_dry_run"), "{log}");

    let reports = service.reports();
    let seq: Vec<(String, StateType)> = reports
        .iter()
        .map(|r| (r.action_id.clone(), state(r)))
        .collect();
    use StateType::*;
    let want: Vec<(String, StateType)> = [
        ("a1", Running),
        ("a1", Success),
        ("a2", Running),
        ("a2", Failed),
        ("a3", Running),
        ("a3", Timeout),
        ("a4", Running),
        ("a4", Failed),
        ("a5", Running),
        ("a5", Success),
    ]
    .iter()
    .map(|(a, s)| (a.to_string(), *s))
    .collect();
    assert_eq!(seq, want, "{log}");
    for r in &reports {
        assert_eq!(r.agent_id, "agent-1");
        assert_eq!(
            (r.workflow_id.as_str(), r.task_id.as_str()),
            ("wf-1", "task-1")
        );
        assert_eq!(r.action_name, format!("name-{}", r.action_id));
        assert!(r.execution_start.is_some(), "{r:?}");
        if state(r) == Running {
            assert!(r.execution_stop.is_none());
        } else {
            let (start, stop) = (r.execution_start.unwrap(), r.execution_stop.unwrap());
            assert!(
                (stop.seconds, stop.nanos) >= (start.seconds, start.nanos),
                "{r:?}"
            );
            assert!(!r.execution_duration.is_empty(), "{r:?}");
            assert!(
                r.execution_duration
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_alphabetic()),
                "{r:?}"
            );
        }
    }
    let a2 = message(&reports[3]);
    assert!(a2.contains("image2disk") && a2.contains("404"), "{a2}");
    let a3 = &reports[5];
    assert!(message(a3).contains("timed out after 2s"), "{a3:?}");
    let d = a3.execution_stop.unwrap().seconds - a3.execution_start.unwrap().seconds;
    assert!((1..=4).contains(&d), "timeout took {d}s");
    assert!(
        message(&reports[7]).contains("no Docker engine"),
        "{:?}",
        reports[7]
    );
    assert_eq!(
        std::fs::read(&disk).unwrap(),
        image,
        "image2disk wrote other bytes"
    );
    // The log names the action in its span.
    assert!(
        log.contains("action=a1") && log.contains("workflow=wf-1"),
        "{log}"
    );

    let requests = &service.harness.state.lock().unwrap().requests;
    let first = &requests[0];
    assert_eq!(first.agent_id, "agent-1");
    let attrs = first.agent_attributes.as_ref().unwrap();
    assert!(attrs.cpu.as_ref().unwrap().total_threads > 0);
    assert!(!attrs.memory.as_ref().unwrap().total.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_report_survives_the_service_going_away() {
    let image = test_image(2 << 20);
    let mut routes = HashMap::new();
    routes.insert(
        "/slow.img".to_string(),
        Route {
            throttle: Some(Duration::from_millis(40)),
            ..Route::bytes(image.clone())
        },
    );
    let http = HttpServer::start(routes).await;
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, b"").unwrap();
    let disk_s = disk.display().to_string();
    let url = http.url("/slow.img");
    let mut service = Service::start(vec![
        action(
            "s1",
            "image2disk",
            60,
            &[("IMG_URL", &url), ("DEST_DISK", &disk_s)],
        ),
        action("s2", "reboot", 60, &[]),
    ])
    .await;
    let mut agent = AgentProcess::spawn(service.addr, &[]);
    service
        .wait_for(Duration::from_secs(30), "RUNNING of s1", |r| !r.is_empty())
        .await;
    service.stop().await;
    // The download takes ~1.3 s; wait until the agent has failed to report at least once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !agent.log().contains("reporting failed, retrying") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no retry seen: {}",
            agent.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    service.restart().await;
    service
        .wait_for(Duration::from_secs(30), "the final reports", |r| {
            r.iter()
                .any(|r| r.action_id == "s2" && state(r) == StateType::Success)
        })
        .await;
    let seq: Vec<(String, StateType)> = service
        .reports()
        .iter()
        .map(|r| (r.action_id.clone(), state(r)))
        .collect();
    assert_eq!(
        seq,
        [
            ("s1".to_string(), StateType::Running),
            ("s1".into(), StateType::Success),
            ("s2".into(), StateType::Running),
            ("s2".into(), StateType::Success)
        ],
        "{}",
        agent.log()
    );
    assert_eq!(std::fs::read(&disk).unwrap(), image);
    assert!(agent.wait_exit(Duration::from_secs(20)).await.is_some());
}
