//! End to end: `ironbell serve boot` as a process in a server namespace, real clients in a
//! client namespace joined by a veth. The machine is imported from a hardware.csv first;
//! then busybox udhcpc gets its reservation, tftp-hpa fetches an iPXE binary byte for byte,
//! curl gets its iPXE script, and util-linux logger's message shows up as the machine's log
//! and in `ironbell logs`.

use std::process::Command;

use common::{
    SERVER_IP, import_node, send_syslog, server_and_client, start_boot_service, tftp_fetch_ipxe,
    wait_for,
};

mod common;

const MACHINE_IP: &str = "192.0.2.10";

#[test]
fn boot_service_answers_real_clients() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    if !ironbell_testbed::require_tools(&["busybox", "tftp", "curl", "logger"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("store.db");
    let bin = env!("CARGO_BIN_EXE_ironbell");

    let (srv, cli, mac) = server_and_client();
    import_node(&db, dir.path(), MACHINE_IP, &mac);

    let artifacts = dir.path().join("hookos");
    std::fs::create_dir(&artifacts).expect("mkdir");
    let server = start_boot_service(&srv, &db, "s0", &artifacts, &[]);

    // DHCP: busybox udhcpc gets exactly the reservation.
    let env_file = dir.path().join("udhcpc.env");
    let script = dir.path().join("udhcpc.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = bound ] && echo \"ip=$ip subnet=$subnet router=$router dns=$dns hostname=$hostname\" > {}\nexit 0\n",
            env_file.display()
        ),
    )
    .expect("script");
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .expect("chmod");
    let out = cli
        .output(
            "busybox",
            &[
                "udhcpc",
                "-i",
                "c0",
                "-n",
                "-q",
                "-f",
                "-t",
                "5",
                "-T",
                "2",
                "-s",
                script.to_str().expect("utf8"),
            ],
        )
        .expect("udhcpc");
    assert!(
        out.status.success(),
        "udhcpc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lease = std::fs::read_to_string(&env_file).expect("lease written");
    assert_eq!(
        lease.trim(),
        format!(
            "ip={MACHINE_IP} subnet=255.255.255.0 router={SERVER_IP} dns=198.51.100.53 hostname=node1"
        )
    );

    // The client now has its address, as firmware would after DHCP.
    cli.ip(&["addr", "add", &format!("{MACHINE_IP}/24"), "dev", "c0"])
        .expect("addr");

    // TFTP: the BIOS iPXE binary, byte for byte.
    tftp_fetch_ipxe(&cli, "69", "undionly.kpxe", dir.path());

    // ...and the UEFI one, which Debian installs as a symlink out of /usr/lib/ipxe.
    let got = dir.path().join("ipxe.efi");
    let url = format!("tftp://{SERVER_IP}/ipxe.efi");
    let out = cli
        .output("curl", &["-sf", "-o", got.to_str().expect("utf8"), &url])
        .expect("curl tftp");
    assert!(
        out.status.success(),
        "curl tftp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&got).expect("downloaded"),
        std::fs::read("/usr/lib/ipxe/ipxe.efi").expect("ipxe package")
    );

    // UEFI HTTP boot gets the same binary over HTTP.
    let http_efi = dir.path().join("http-ipxe.efi");
    let url = format!("http://{SERVER_IP}:7171/ipxe/binary/{mac}/ipxe.efi");
    let out = cli
        .output(
            "curl",
            &["-sf", "-o", http_efi.to_str().expect("utf8"), &url],
        )
        .expect("curl http");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&http_efi).expect("downloaded"),
        std::fs::read(&got).expect("tftp copy")
    );

    // HTTP: the machine's iPXE script, by MAC and by source address.
    let url = format!("http://{SERVER_IP}:7171/ipxe/script/{mac}/auto.ipxe");
    let by_mac = cli.output("curl", &["-sf", &url]).expect("curl");
    let by_mac = String::from_utf8_lossy(&by_mac.stdout).to_string();
    assert!(by_mac.starts_with("#!ipxe"), "{by_mac}");
    assert!(by_mac.contains(&format!("worker_id={mac}")), "{by_mac}");
    assert!(
        by_mac.contains(&format!("syslog_host={SERVER_IP}")),
        "{by_mac}"
    );
    assert!(by_mac.contains("initrd=initramfs-x86_64"), "{by_mac}");
    let by_ip = cli
        .output(
            "curl",
            &["-sf", &format!("http://{SERVER_IP}:7171/auto.ipxe")],
        )
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&by_ip.stdout), by_mac);

    // Syslog: the installer's message is logged under the machine's name.
    send_syslog(&cli, "514", "hello from node1");
    let metrics = format!("http://{SERVER_IP}:7171/metrics");
    wait_for("the syslog message to be counted", || {
        cli.output("curl", &["-sf", &metrics]).is_ok_and(|o| {
            let text = String::from_utf8_lossy(&o.stdout);
            text.contains("ironbell_syslog_messages_total{format=\"rfc5424\"} 1")
                || text.contains("ironbell_syslog_messages_total{format=\"rfc3164\"} 1")
        })
    });
    let metrics =
        String::from_utf8_lossy(&cli.output("curl", &["-sf", &metrics]).expect("curl").stdout)
            .to_string();
    assert!(
        metrics.contains("ironbell_tftp_transfers_total{result=\"ok\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("ironbell_dhcp_replies_total"), "{metrics}");

    // `ironbell logs` shows what the machine sent, from the per-Hardware file.
    let logs = |args: &[&str]| {
        let out = Command::new(bin)
            .arg("--db")
            .arg(&db)
            .arg("logs")
            .args(args)
            .output()
            .expect("ironbell logs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, stdout, stderr) = logs(&["node1", "--tail", "5"]);
    assert!(ok, "{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains("hello from node1"))
        .unwrap_or_else(|| panic!("no line in `ironbell logs node1`:\n{stdout}"));
    assert!(line.contains("user.notice"), "{line}");
    assert!(line.contains("hook"), "{line}");
    let (ok, _, stderr) = logs(&["nosuch"]);
    assert!(!ok);
    assert!(stderr.contains("\"nosuch\" not found"), "{stderr}");

    let output = server.finish().expect("stop ironbell");
    let log = String::from_utf8_lossy(&output.stderr);
    let line = log
        .lines()
        .find(|l| l.contains("hello from node1"))
        .unwrap_or_else(|| panic!("machine log line missing:\n{log}"));
    assert!(line.contains("hardware=\"eksa-system/node1\""), "{line}");
    assert!(!log.contains('\u{1b}'), "no terminal colours in a pipe");
}
