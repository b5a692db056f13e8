//! `ironbell dhcp probe` as a process in a client namespace, dnsmasq as the rival in the
//! server namespace: the exit status and the lines a validation script reads.

use std::process::Output;

use common::{SERVER_IP, server_and_client};
use ironbell_testbed::{Dnsmasq, Netns, Tier, require_tier, require_tool};

mod common;

/// Runs `ironbell dhcp probe --interface IF EXTRA...` in `ns`: exit code, stdout, stderr.
fn probe(ns: &Netns, interface: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["dhcp", "probe", "--interface", interface];
    args.extend_from_slice(extra);
    let out: Output = ns
        .output(env!("CARGO_BIN_EXE_ironbell"), &args)
        .expect("run ironbell dhcp probe");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn dhcp_probe_exits_0_for_none_1_for_a_rival_and_2_when_it_cannot_probe() {
    require_tier!(Tier::Root);
    require_tool!("dnsmasq");
    let (srv, cli, _mac) = server_and_client();

    let (code, stdout, stderr) = probe(&cli, "c0", &["--timeout", "1s"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "no other DHCP server answered on c0\n");

    let dir = tempfile::tempdir().expect("tempdir");
    let rival = Dnsmasq::start(
        &srv,
        "s0",
        "192.0.2.100,192.0.2.150",
        &["--dhcp-boot=undionly.kpxe,,192.0.2.5"],
        dir.path(),
    )
    .expect("dnsmasq");
    let (code, stdout, stderr) = probe(&cli, "c0", &[]);
    assert_eq!(code, Some(1), "{stderr}\n{}", rival.log());
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let line = lines[0];
    assert!(
        line.starts_with(&format!("{SERVER_IP} from {SERVER_IP} ")),
        "{line}"
    );
    assert!(line.contains(": offered 192.0.2.1"), "{line}");
    assert!(
        line.ends_with("PXE: next-server 192.0.2.5 file undionly.kpxe"),
        "{line}"
    );

    // The same server listed as ours: nothing to report, its answers counted on stderr.
    let (code, stdout, stderr) = probe(&cli, "c0", &["--ignore", SERVER_IP]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "no other DHCP server answered on c0\n");
    assert!(
        stderr.contains("from ironbell's own server (--ignore) not listed"),
        "{stderr}"
    );

    let (code, stdout, stderr) = probe(&cli, "c9", &[]);
    assert_eq!((code, stdout.as_str()), (Some(2), ""), "{stderr}");
    assert_eq!(stderr.trim(), "error: interface c9 does not exist");
}
