//! Real peers this project did not write, tftp-hpa's `tftp` and `curl`, download from the
//! server inside a network namespace with no route out.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Output;

use common::{ipxe_files, one_address, pseudo_random, udp_queued, with_server, with_server_after};
use ironbell_tftp::FileSource;

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ipxe_binaries_byte_identical_with_tftp_hpa() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("tftp");
    let files = ipxe_files();
    let dir = tempfile::tempdir().unwrap();
    with_server(one_address(), FileSource::memory(files.clone()), |h| {
        for (name, want) in &files {
            let out_path = dir.path().join(format!("hpa-{name}"));
            let out_s = out_path.to_str().unwrap();
            // PXE clients send a leading '/'; tftp-hpa sends no options.
            let remote = format!("/{name}");
            let out =
                h.ns.output(
                    "tftp",
                    &[
                        "127.0.0.1",
                        &h.port(),
                        "-m",
                        "binary",
                        "-c",
                        "get",
                        &remote,
                        out_s,
                    ],
                )
                .unwrap();
            ok(&out, &format!("tftp get {name}"));
            assert!(
                std::fs::read(&out_path).unwrap() == want[..],
                "{name} differs"
            );
        }
        h.wait_for("3 transfers", |s| s.transfers_ok == 3);
        let s = h.stats.snapshot();
        assert_eq!((s.requests, s.transfers_failed, s.active), (3, 0, 0));
        let total: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();
        assert_eq!(s.bytes_sent, total);
    });
}

#[test]
fn ipxe_binaries_byte_identical_with_curl() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("curl");
    let files = ipxe_files();
    let dir = tempfile::tempdir().unwrap();
    with_server(one_address(), FileSource::memory(files.clone()), |h| {
        for (name, want) in &files {
            for (tag, opts) in [
                ("plain", &["--tftp-no-options"][..]),
                ("blksize", &["--tftp-blksize", "1468"][..]),
            ] {
                let out_path = dir.path().join(format!("curl-{tag}-{name}"));
                let url = format!("tftp://127.0.0.1:{}/{name}", h.port());
                let mut args = vec!["-sS", "--max-time", "60", "-o", out_path.to_str().unwrap()];
                args.extend_from_slice(opts);
                args.push(&url);
                let out = h.ns.output("curl", &args).unwrap();
                ok(&out, &format!("curl {tag} {name}"));
                assert!(
                    std::fs::read(&out_path).unwrap() == want[..],
                    "{tag} {name} differs"
                );
            }
        }
        h.wait_for("6 transfers", |s| s.transfers_ok == 6);
        assert_eq!(h.stats.snapshot().transfers_failed, 0);
    });
}

#[test]
fn file_over_32_mib_at_blksize_512_rolls_block_numbers_over() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("curl");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    // 67 627 blocks of 512 bytes: block numbers wrap past 65535 to 0.
    let data = pseudo_random(33 * 1024 * 1024 + 777, 42);
    std::fs::write(root.join("big.img"), &data).unwrap();
    let out_path = dir.path().join("big.out");
    with_server(one_address(), FileSource::dir(&root).unwrap(), |h| {
        let url = format!("tftp://127.0.0.1:{}/big.img", h.port());
        let out =
            h.ns.output(
                "curl",
                &[
                    "-sS",
                    "--max-time",
                    "300",
                    "--tftp-no-options",
                    "-o",
                    out_path.to_str().unwrap(),
                    &url,
                ],
            )
            .unwrap();
        ok(&out, "curl big.img");
        h.wait_for("transfer", |s| s.transfers_ok == 1);
    });
    let got = std::fs::read(&out_path).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "big.img differs");
}

#[test]
fn fifty_concurrent_curl_downloads() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("curl");
    let files = ipxe_files();
    let dir = tempfile::tempdir().unwrap();
    with_server(one_address(), FileSource::memory(files.clone()), |h| {
        let children: Vec<_> = (0..50)
            .map(|i| {
                let (name, _) = &files[i % files.len()];
                let out_path = dir.path().join(format!("{i}-{name}"));
                let url = format!("tftp://127.0.0.1:{}/{name}", h.port());
                h.ns.command("curl")
                    .args(["-sS", "--max-time", "120", "--tftp-blksize", "1468", "-o"])
                    .arg(&out_path)
                    .arg(&url)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (i, child) in children.into_iter().enumerate() {
            let out = child.wait_with_output().unwrap();
            ok(&out, &format!("curl #{i}"));
        }
        for i in 0..50 {
            let (name, want) = &files[i % files.len()];
            let got = std::fs::read(dir.path().join(format!("{i}-{name}"))).unwrap();
            assert!(got == want[..], "download {i} of {name} differs");
        }
        h.wait_for("50 transfers", |s| s.transfers_ok == 50 && s.active == 0);
        assert_eq!(h.stats.snapshot().transfers_failed, 0);
    });
}

#[test]
fn curl_cannot_escape_the_root() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("curl");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("ok.txt"), b"fine").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("passwd")).unwrap();
    with_server(one_address(), FileSource::dir(&root).unwrap(), |h| {
        for (i, path) in ["../etc/passwd", "passwd", "..%5cx", "%2Fetc/passwd"]
            .iter()
            .enumerate()
        {
            let out_path = dir.path().join(format!("esc{i}"));
            let url = format!("tftp://127.0.0.1:{}/{path}", h.port());
            let out =
                h.ns.output(
                    "curl",
                    &[
                        "-sS",
                        "--max-time",
                        "20",
                        "--path-as-is",
                        "-o",
                        out_path.to_str().unwrap(),
                        &url,
                    ],
                )
                .unwrap();
            assert!(!out.status.success(), "curl fetched {path}");
            let got = std::fs::read(&out_path).unwrap_or_default();
            assert!(!got.starts_with(b"root:"), "{path} leaked /etc/passwd");
        }
        let out_path = dir.path().join("ok.out");
        let url = format!("tftp://127.0.0.1:{}/ok.txt", h.port());
        let out =
            h.ns.output("curl", &["-sS", "-o", out_path.to_str().unwrap(), &url])
                .unwrap();
        ok(&out, "curl ok.txt");
        assert_eq!(std::fs::read(&out_path).unwrap(), b"fine");
        h.wait_for("counts", |s| s.transfers_failed == 4 && s.transfers_ok == 1);
    });
}

/// A server slow to answer (here: not reading yet) gets curl's read request twice: with
/// `--max-time 5` curl sends it again after a second (5 s with the 120 s of
/// `scripts/bench`). Both wait in the listening socket's queue; the second must not start
/// a second transfer, whose OACK from another TID curl would take for its own and then
/// stall (2 of 200 curl downloads failed that way in `scripts/bench` on a loaded machine;
/// tftpd-hpa fails the same way, see crates/tftp/bench/run.sh).
#[test]
fn a_retransmitted_read_request_starts_no_second_transfer() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("curl");
    let data = bytes::Bytes::from(pseudo_random(256 * 1024, 21));
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("256k.bin");
    let source = FileSource::memory(vec![("256k.bin".to_string(), data.clone())]);
    with_server_after(
        one_address(),
        source,
        |ns, addr| {
            let child = ns
                .command("curl")
                .args(["-sS", "--max-time", "5", "--tftp-blksize", "1468", "-o"])
                .arg(&out_path)
                .arg(format!("tftp://{addr}/256k.bin"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // The first request's queue size, then twice it: the retransmission is there.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
            let mut one = 0;
            loop {
                let q = udp_queued(addr).expect("the listening socket in /proc/net/udp");
                if one == 0 {
                    one = q;
                } else if q >= 2 * one {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "curl did not send its request again (queue {q} bytes)"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            child
        },
        |h, child| {
            let out = child.wait_with_output().unwrap();
            ok(&out, "curl");
            assert!(
                std::fs::read(&out_path).unwrap() == data,
                "256k.bin differs"
            );
            h.wait_for("the transfer", |s| s.transfers_ok == 1 && s.active == 0);
            let s = h.stats.snapshot();
            assert_eq!(
                (s.requests, s.duplicate_requests, s.transfers_failed),
                (2, 1, 0),
                "{s:?}"
            );
        },
    );
}
