//! What `ironbell serve boot` tells an operator about machines that do and do not boot,
//! with real clients in a network namespace joined to the server's by a veth:
//!
//! - ISC dhclient, then busybox udhcpc, from a MAC no Hardware has: several Discovers,
//!   one warning line at the
//!   default log level, and a Warning Event `UnknownMAC` that
//!   `ironbell get events --for hardware/<mac>` finds;
//! - busybox udhcpc from an imported machine, then curl for its iPXE script, its kernel
//!   and a missing initramfs: `ironbell describe hardware` shows the timeline (DHCP offer
//!   and ack, script served, kernel fetched, initramfs not found), and the 404 is one
//!   warning line too;
//! - an artifacts directory missing at start-up is one warning line.

use common::{SERVER_IP, import_node, server_and_client, start_boot_service, wait_for};

mod common;

const MACHINE_IP: &str = "192.0.2.10";
const KNOWN_MAC: &str = "02:00:00:00:10:01";

/// busybox udhcpc on `c0` in `ns`: `tries` Discovers `secs` apart, no script (the lease
/// is not applied), bounded by timeout(1).
fn udhcpc(ns: &ironbell_testbed::Netns, tries: u32, secs: u32) -> std::process::Output {
    let limit = tries * secs + 10;
    let args = format!("{limit} busybox udhcpc -i c0 -n -q -f -t {tries} -T {secs} -s /bin/true");
    ns.output("timeout", &args.split(' ').collect::<Vec<_>>())
        .expect("udhcpc")
}

fn ironbell(db: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ironbell"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run ironbell");
    assert!(
        out.status.success(),
        "ironbell {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_unknown_mac_warns_once_and_a_known_machine_leaves_a_timeline() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    if !ironbell_testbed::require_tools(&["dhclient", "busybox", "curl", "timeout"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("store.db");
    let (srv, cli, unknown_mac) = server_and_client();
    import_node(&db, dir.path(), MACHINE_IP, KNOWN_MAC);
    // The artifacts directory does not exist yet: said at start-up, served once it does.
    let artifacts = dir.path().join("hookos");
    let server = start_boot_service(&srv, &db, "s0", &artifacts, &[]);
    std::fs::create_dir(&artifacts).expect("mkdir");
    std::fs::write(artifacts.join("vmlinuz-x86_64"), b"a kernel").expect("kernel");

    // ISC dhclient, from a MAC no Hardware has, for 4 seconds: it sends a Discover (or
    // more) and gets no answer. Its script is /bin/true: nothing on this host changes.
    let (lease, pid) = (
        dir.path().join("dhclient.leases"),
        dir.path().join("dhclient.pid"),
    );
    let dhclient = format!(
        "4 dhclient -d -1 -v -lf {} -pf {} -sf /bin/true c0",
        lease.display(),
        pid.display()
    );
    let _ = cli.output("timeout", &dhclient.split(' ').collect::<Vec<_>>());
    // And busybox udhcpc from the same MAC: three Discovers a second apart.
    let _ = udhcpc(&cli, 3, 1);
    let metrics = format!("http://{SERVER_IP}:7171/metrics");
    let ignored = || {
        let out = srv.output("curl", &["-sf", &metrics]).expect("curl");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("ironbell_dhcp_ignored_total{reason=\"unknown_mac\"} "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let discovers = ignored();
    let out = srv.output("curl", &["-sf", &metrics]).expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ironbell_boot_events_total{result=\"dropped\"} 0"),
        "{text}"
    );
    assert!(
        discovers >= 4,
        "dhclient and udhcpc sent {discovers} requests"
    );
    let object = format!("hardware/{}", unknown_mac.replace(':', "-"));
    let mut events = String::new();
    wait_for("the UnknownMAC Event", || {
        events = ironbell(&db, &["get", "events", "--for", &object]);
        events.contains("UnknownMAC")
    });
    println!("get events --for {object}:\n{events}");
    let row = events
        .lines()
        .find(|l| l.contains("UnknownMAC"))
        .expect("row");
    assert!(row.contains("Warning"), "{row}");
    assert!(row.contains("no Hardware has it"), "{row}");
    assert!(row.starts_with("eksa-system"), "{row}");

    // The imported machine: a lease from busybox udhcpc...
    cli.ip(&["link", "set", "c0", "address", KNOWN_MAC])
        .expect("set MAC");
    let out = udhcpc(&cli, 5, 2);
    assert!(
        out.status.success(),
        "udhcpc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cli.ip(&["addr", "add", &format!("{MACHINE_IP}/24"), "dev", "c0"])
        .expect("addr");
    // ...then its iPXE script, its kernel, and an initramfs that is not there.
    let base = format!("http://{SERVER_IP}:7171");
    for (path, want) in [
        ("/auto.ipxe", "200"),
        ("/vmlinuz-x86_64", "200"),
        ("/initramfs-x86_64", "404"),
        ("/initramfs-x86_64", "404"),
    ] {
        let url = format!("{base}{path}");
        let args = ["-s", "-o", "/dev/null", "-w", "%{http_code}", &url];
        let out = cli.output("curl", &args).expect("curl");
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{path}");
    }
    let mut described = String::new();
    wait_for("the machine's timeline", || {
        described = ironbell(&db, &["describe", "hardware", "node1"]);
        [
            "DHCPOffer",
            "DHCPAck",
            "IPXEScriptServed",
            "ArtifactFetched",
            "BootArtifactNotFound",
        ]
        .iter()
        .all(|r| described.contains(r))
    });
    println!("describe hardware node1:\n{described}");
    assert!(
        described.contains(&format!("offered {MACHINE_IP} to {KNOWN_MAC} (client)")),
        "{described}"
    );
    assert!(
        described.contains("vmlinuz-x86_64 fetched from"),
        "{described}"
    );
    let warnings: Vec<&str> = described
        .lines()
        .filter(|l| l.trim_start().starts_with("Warning"))
        .collect();
    assert_eq!(warnings.len(), 1, "{described}");
    assert!(
        warnings[0].contains("BootArtifactNotFound"),
        "{}",
        warnings[0]
    );

    let output = server.finish().expect("stop ironbell");
    let log = String::from_utf8_lossy(&output.stderr);
    let about_unknown: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains(&unknown_mac))
        .collect();
    assert_eq!(
        about_unknown.len(),
        1,
        "{discovers} requests, one warning line:\n{log}"
    );
    assert!(
        about_unknown[0].contains("no Hardware has it"),
        "{}",
        about_unknown[0]
    );
    let missing: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("initramfs-x86_64"))
        .collect();
    assert_eq!(missing.len(), 1, "two 404s, one warning line:\n{log}");
    assert!(missing[0].contains("eksa-system/node1"), "{}", missing[0]);
    let at_start = log
        .lines()
        .find(|l| l.contains("WARN") && l.contains("--artifacts-dir"))
        .unwrap_or_else(|| panic!("no warning about the missing directory:\n{log}"));
    assert!(at_start.contains("cannot be read"), "{at_start}");
}
