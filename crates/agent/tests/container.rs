//! A container action against a Docker engine the test starts (its own socket, data and
//! exec roots; no bridge, no iptables), with an image imported from busybox-static.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ironbell_testbed::wait_until;
use ironbell_workflow_proto::action_status_request::StateType;
use std::path::Path;
use std::time::Duration;

struct Dockerd {
    child: std::process::Child,
    sock: String,
    _dir: tempfile::TempDir,
}

impl Dockerd {
    fn start() -> Option<Self> {
        if !ironbell_testbed::require_tier(ironbell_testbed::Tier::Docker) {
            return None;
        }
        if !Path::new("/bin/busybox").exists() {
            ironbell_testbed::missing("/bin/busybox is missing (busybox-static)");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("ib-dockerd")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path().display().to_string();
        let sock = format!("{d}/docker.sock");
        let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let child = std::process::Command::new("dockerd")
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--data-root",
                &format!("{d}/data"),
                "--exec-root",
                &format!("{d}/exec"),
                "--pidfile",
                &format!("{d}/dockerd.pid"),
                "-H",
                &format!("unix://{sock}"),
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut me = Self {
            child,
            sock,
            _dir: dir,
        };
        let up = wait_until(Duration::from_secs(30), || {
            if let Ok(Some(status)) = me.child.try_wait() {
                let log =
                    std::fs::read_to_string(me._dir.path().join("dockerd.log")).unwrap_or_default();
                panic!("dockerd exited ({status}): {log}");
            }
            Path::new(&me.sock).exists()
                && std::process::Command::new("docker")
                    .args(["-H", &format!("unix://{}", me.sock), "version"])
                    .output()
                    .is_ok_and(|o| o.status.success())
        });
        assert!(up, "dockerd did not come up in 30 s");
        Some(me)
    }

    fn import_busybox(&self, tag: &str) {
        let root = self._dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
        let tar = self._dir.path().join("rootfs.tar");
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
        run(
            "docker",
            &[
                "-H",
                &format!("unix://{}", self.sock),
                "import",
                &tar.display().to_string(),
                tag,
            ],
        );
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Stop dockerd by its PID (SIGTERM; it stops its containerd), then make sure.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        if wait_until(Duration::from_secs(15), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        }) {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_actions_report_output_and_exit_code() {
    let Some(dockerd) = Dockerd::start() else {
        return;
    };
    dockerd.import_busybox("ironbell-test/busybox:1");
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
    let host = format!("unix://{}", dockerd.sock);
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
