//! writefile, cexec and kexec on a partition of a disk image (loop devices, ext4).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ironbell_agent::actions::{self, ActionSpec, Context};
use ironbell_agent::config::Settings;
use ironbell_agent::power::{AfterReport, DryRunPower, PowerCall};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn spec(image: &str, env: &[(&str, &str)]) -> ActionSpec {
    ActionSpec {
        image: image.into(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

/// A disk image with one partition table entry (sfdisk) and an ext4 file system on it.
/// The partition comes from `losetup -P`; kernels without MBR/GPT support give no
/// `loopNp1`, then a second loop device over the partition's byte range stands in.
struct Disk {
    /// The partition's device node (`loopNp1`, or a second loop device).
    part: String,
    _part_loop: Option<Loop>,
    _whole: Loop,
    _dir: tempfile::TempDir,
}

fn disk() -> Option<Disk> {
    if !ironbell_testbed::require_tier(ironbell_testbed::Tier::Root)
        || !ironbell_testbed::require_tools(&["sfdisk", "mkfs.ext4", "mount", "umount"])
    {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let mut child = std::process::Command::new("sfdisk")
        .args(["-q", &img.display().to_string()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"label: dos\nstart=2048, size=100352, type=83\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let whole = Loop::attach(&img, None, true)?;
    let p1 = format!("{}p1", whole.dev);
    let found = (0..20).any(|_| {
        let there = Path::new(&p1).exists();
        if !there {
            std::thread::sleep(Duration::from_millis(50));
        }
        there
    });
    let (part, part_loop) = if found {
        (p1, None)
    } else {
        eprintln!(
            "note: no {p1} (kernel without MBR/GPT support); using a loop device over the partition's range"
        );
        let l = Loop::attach(&img, Some((2048 * 512, 100_352 * 512)), false)?;
        (l.dev.clone(), Some(l))
    };
    run("mkfs.ext4", &["-q", "-F", &part]);
    Some(Disk {
        part,
        _part_loop: part_loop,
        _whole: whole,
        _dir: dir,
    })
}

impl Disk {
    fn dev(&self) -> &str {
        &self.part
    }

    /// Mounts the partition in the test, runs `f`, unmounts.
    fn inspect<T>(&self, f: impl FnOnce(&Path) -> T) -> T {
        let m = tempfile::tempdir().unwrap();
        run("mount", &[self.dev(), &m.path().display().to_string()]);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(m.path())));
        run("umount", &[&m.path().display().to_string()]);
        r.unwrap()
    }
}

fn mounted(dev: &str) -> bool {
    std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .any(|l| l.starts_with(&format!("{dev} ")))
}

fn ctx(power: Arc<DryRunPower>) -> Context {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Context {
        settings: Arc::new(
            Settings::from_sources("grpc_authority=x worker_id=y", &|_| None, &[]).unwrap(),
        ),
        power,
        http: ironbell_agent::http_client(false).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writefile_cexec_and_kexec_on_a_partition() {
    let Some(disk) = disk() else { return };
    let dev = disk.dev().to_string();
    let power = Arc::new(DryRunPower::default());
    let ctx = ctx(power.clone());

    // writefile
    let out = actions::execute(
        &spec(
            "quay.io/tinkerbell/actions/writefile:latest",
            &[
                ("DEST_DISK", &dev),
                ("FS_TYPE", "ext4"),
                ("DEST_PATH", "/etc/netplan/config.yaml"),
                ("CONTENTS", "network:\n  version: 2\n"),
                ("UID", "1000"),
                ("GID", "1001"),
                ("MODE", "0640"),
                ("DIRMODE", "0750"),
            ],
        ),
        &ctx,
    )
    .await
    .unwrap();
    assert!(
        out.message.contains("/etc/netplan/config.yaml"),
        "{}",
        out.message
    );
    assert!(!mounted(&dev), "writefile left {dev} mounted");
    disk.inspect(|root| {
        let f = root.join("etc/netplan/config.yaml");
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            "network:\n  version: 2\n"
        );
        let m = std::fs::metadata(&f).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, 1000, 1001));
        for d in ["etc", "etc/netplan"] {
            let m = std::fs::metadata(root.join(d)).unwrap();
            assert_eq!(
                (m.mode() & 0o7777, m.uid(), m.gid()),
                (0o750, 1000, 1001),
                "{d}"
            );
        }
        // for cexec below: a static busybox as the partition's only program
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
        std::fs::create_dir_all(root.join("boot")).unwrap();
        std::fs::write(root.join("boot/vmlinuz"), vec![7u8; 1000]).unwrap();
        std::fs::write(root.join("boot/initrd.img"), vec![8u8; 300]).unwrap();
    });

    // writefile failing half-way still unmounts
    let e = actions::execute(
        &spec(
            "writefile",
            &[
                ("DEST_DISK", &dev),
                ("FS_TYPE", "ext4"),
                ("DEST_PATH", "/etc/netplan/config.yaml/under-a-file"),
                ("CONTENTS", "x"),
                ("UID", "0"),
                ("GID", "0"),
                ("MODE", "0644"),
                ("DIRMODE", "0755"),
            ],
        ),
        &ctx,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().starts_with("writefile: "), "{e}");
    assert!(
        !mounted(&dev),
        "writefile left {dev} mounted after an error"
    );

    // cexec in a chroot, both ways of giving the command
    if Path::new("/bin/busybox").exists() {
        actions::execute(
            &spec(
                "cexec",
                &[
                    ("BLOCK_DEVICE", &dev),
                    ("FS_TYPE", "ext4"),
                    ("CHROOT", "y"),
                    (
                        "CMD_LINE",
                        "/bin/busybox touch /from-cexec;/bin/busybox mkdir /dir-from-cexec",
                    ),
                ],
            ),
            &ctx,
        )
        .await
        .unwrap();
        actions::execute(
            &spec(
                "cexec",
                &[
                    ("BLOCK_DEVICE", &dev),
                    ("FS_TYPE", "ext4"),
                    ("CHROOT", "y"),
                    ("DEFAULT_INTERPRETER", "/bin/busybox sh -c"),
                    (
                        "CMD_LINE",
                        "test -d /proc/self && echo interpreted > /from-sh",
                    ),
                ],
            ),
            &ctx,
        )
        .await
        .unwrap();
        let e = actions::execute(
            &spec(
                "cexec",
                &[
                    ("BLOCK_DEVICE", &dev),
                    ("FS_TYPE", "ext4"),
                    ("CHROOT", "y"),
                    ("DEFAULT_INTERPRETER", "/bin/busybox sh -c"),
                    ("CMD_LINE", "exit 7"),
                ],
            ),
            &ctx,
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("exit status: 7"), "{e}");
        assert!(!mounted(&dev), "cexec left {dev} mounted");
        disk.inspect(|root| {
            assert!(root.join("from-cexec").exists());
            assert!(root.join("dir-from-cexec").is_dir());
            assert_eq!(
                std::fs::read_to_string(root.join("from-sh")).unwrap(),
                "interpreted\n"
            );
        });
    } else {
        ironbell_testbed::missing("cexec: /bin/busybox (busybox-static) is missing");
    }

    // kexec: staged through the (dry-run) power interface, reboot only after the report
    let out = actions::execute(
        &spec(
            "quay.io/tinkerbell/actions/kexec:latest",
            &[
                ("BLOCK_DEVICE", &dev),
                ("FS_TYPE", "ext4"),
                ("KERNEL_PATH", "/boot/vmlinuz"),
                ("INITRD_PATH", "/boot/initrd.img"),
                ("CMD_LINE", "root=/dev/sda1 ro"),
            ],
        ),
        &ctx,
    )
    .await
    .unwrap();
    assert_eq!(out.after, AfterReport::Kexec);
    assert_eq!(
        power.calls.lock().unwrap().as_slice(),
        [PowerCall::KexecLoad {
            kernel_len: 1000,
            initrd_len: Some(300),
            cmdline: "root=/dev/sda1 ro".into()
        }]
    );
    assert!(!mounted(&dev), "kexec left {dev} mounted");
}
