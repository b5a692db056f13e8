//! A container action against a Docker engine the test starts (its own socket, data and
//! exec roots; no bridge, no iptables), with an image imported from busybox-static.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ironbell_testbed::{Dockerd, wait_until};
use ironbell_workflow_proto::action_status_request::StateType;
use std::path::Path;
use std::time::Duration;

/// The engine ([`ironbell_testbed::Dockerd`]) with `tag`, an image of busybox-static alone.
fn engine_with_busybox(tag: &str) -> Option<(Dockerd, tempfile::TempDir)> {
    if !ironbell_testbed::require_tier(ironbell_testbed::Tier::Docker) {
        return None;
    }
    if !Path::new("/bin/busybox").exists() {
        ironbell_testbed::missing("/bin/busybox is missing (busybox-static)");
        return None;
    }
    let dockerd = Dockerd::start(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    let tar = dir.path().join("rootfs.tar");
    run(
        "tar",
        &[
            "-C",
            &root.display().to_string(),
            "-cf",
            &tar.display().to_string(),
            ".",
        ],
    );
    dockerd.import(&tar, tag, &[]).unwrap();
    Some((dockerd, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_actions_report_output_and_exit_code() {
    let Some((dockerd, _dir)) = engine_with_busybox("ironbell-test/busybox:1") else {
        return;
    };
    let mut ok = action(
        "c1",
        "ironbell-test/busybox:1",
        60,
        &[("GREETING", "hello-from-env")],
    );
    ok.command = vec![
        "/bin/sh".into(),
        "-c".into(),
        "echo line-one; echo \"greeting=$GREETING\"".into(),
    ];
    let mut failing = action("c2", "ironbell-test/busybox:1", 60, &[]);
    failing.command = vec![
        "/bin/sh".into(),
        "-c".into(),
        "echo about-to-fail; exit 3".into(),
    ];
    let mut slow = action("c3", "ironbell-test/busybox:1", 2, &[]);
    slow.command = vec!["/bin/sh".into(), "-c".into(), "sleep 60".into()];
    let service = Service::start(vec![ok, failing, slow, action("c4", "reboot", 10, &[])]).await;
    let host = dockerd.host();
    let mut agent = AgentProcess::spawn(
        service.addr,
        &[
            ("DOCKER_HOST", &host),
            ("DOCKER_PRIVILEGED", "false"),
            ("DOCKER_CAP_DROP", "SYS_RESOURCE"),
        ],
    );
    service
        .wait_for(Duration::from_secs(90), "four final reports", |r| {
            r.iter().filter(|r| state(r) != StateType::Running).count() == 4
        })
        .await;
    let log = agent.log();
    let finals: Vec<_> = service
        .reports()
        .into_iter()
        .filter(|r| state(r) != StateType::Running)
        .collect();
    assert_eq!(
        state(&finals[0]),
        StateType::Success,
        "{:?}\n{log}",
        finals[0]
    );
    assert!(
        log.contains("line-one") && log.contains("greeting=hello-from-env"),
        "{log}"
    );
    assert_eq!(state(&finals[1]), StateType::Failed, "{log}");
    let m = message(&finals[1]);
    assert!(
        m.contains("exited with status 3") && m.contains("about-to-fail"),
        "{m}"
    );
    assert_eq!(state(&finals[2]), StateType::Timeout, "{log}");
    assert_eq!(state(&finals[3]), StateType::Success, "{log}");
    assert!(agent.wait_exit(Duration::from_secs(20)).await.is_some());
    // the timed-out container was stopped and every container removed
    let gone = wait_until(Duration::from_secs(10), || {
        run("docker", &["-H", &host, "ps", "-aq"]).is_empty()
    });
    let left = run("docker", &["-H", &host, "ps", "-aq"]);
    assert!(gone, "containers left behind: {left}");
}
