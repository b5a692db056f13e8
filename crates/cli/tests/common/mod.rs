//! Shared by the tests that run `ironbell serve ...` inside a network namespace; each test
//! binary uses part of it.

#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use ironbell_testbed::{ChildGuard, Netns};

/// The server's address on the test network.
pub const SERVER_IP: &str = "192.0.2.1";

/// Starts `ironbell serve boot` in `ns` on `interface` with the store `db` and HookOS
/// artifacts from `artifacts`, plus `extra` flags, and returns once `/healthz` answers
/// (polled from `ns` itself, since a client may have no address yet).
pub fn start_boot_service(
    ns: &Netns,
    db: &Path,
    interface: &str,
    artifacts: &Path,
    extra: &[&str],
) -> ChildGuard {
    let (db, artifacts) = (db.display().to_string(), artifacts.display().to_string());
    let mut args = vec![
        "--db",
        &db,
        "serve",
        "boot",
        "--public-ip",
        SERVER_IP,
        "--interface",
        interface,
        "--artifacts-dir",
        &artifacts,
    ];
    args.extend_from_slice(extra);
    start_service(ns, &args, &format!("http://{SERVER_IP}:7171/healthz"))
}

/// Starts `ironbell ARGS` in `ns` and returns once `health` answers (polled from `ns`).
pub fn start_service(ns: &Netns, args: &[&str], health: &str) -> ChildGuard {
    let server = ns
        .spawn(env!("CARGO_BIN_EXE_ironbell"), args)
        .expect("start ironbell");
    wait_for("ironbell's HTTP service", || {
        ns.output("curl", &["-sf", "-m", "1", health])
            .is_ok_and(|o| o.status.success())
    });
    server
}

/// A server namespace with [`SERVER_IP`] on `s0` and a client namespace on `c0`, joined by
/// a veth; returns them and the client's MAC.
pub fn server_and_client() -> (Netns, Netns, String) {
    let srv = Netns::new().expect("netns");
    let cli = Netns::new().expect("netns");
    ironbell_testbed::veth(&srv, "s0", &cli, "c0").expect("veth");
    srv.ip(&["addr", "add", &format!("{SERVER_IP}/24"), "dev", "s0"])
        .expect("addr");
    let mac = String::from_utf8(
        cli.output("cat", &["/sys/class/net/c0/address"])
            .expect("mac")
            .stdout,
    )
    .expect("utf8")
    .trim()
    .to_string();
    (srv, cli, mac)
}

/// Imports one machine `node1` at `ip` with `mac` into the store `db` (through the binary).
pub fn import_node(db: &Path, dir: &Path, ip: &str, mac: &str) {
    let csv = dir.join("hw.csv");
    std::fs::write(
        &csv,
        format!(
            "hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels\n\
             node1,{ip},255.255.255.0,{SERVER_IP},198.51.100.53,{mac},/dev/vda,type=cp\n"
        ),
    )
    .expect("csv");
    let import = std::process::Command::new(env!("CARGO_BIN_EXE_ironbell"))
        .arg("--db")
        .arg(db)
        .args(["hardware", "import"])
        .arg(&csv)
        .output()
        .expect("import");
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
}

/// Polls `ok` every 100 ms; fails the test after 30 s.
pub fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fetches `file` from the TFTP server at [`SERVER_IP`]:`port` with tftp-hpa, from `ns`,
/// into `dir`, and checks it is byte for byte the one Debian's `ipxe` package installed.
pub fn tftp_fetch_ipxe(ns: &Netns, port: &str, file: &str, dir: &Path) {
    let got = dir.join(file);
    let out = ns
        .output(
            "tftp",
            &[
                SERVER_IP,
                port,
                "-m",
                "binary",
                "-c",
                "get",
                file,
                got.to_str().expect("utf8"),
            ],
        )
        .expect("tftp");
    assert!(
        out.status.success(),
        "tftp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&got).expect("downloaded"),
        std::fs::read(Path::new("/usr/lib/ipxe").join(file)).expect("ipxe package")
    );
}

/// Sends `message` (tag `hook`) over UDP syslog to [`SERVER_IP`]:`port` from `ns`, with
/// util-linux logger.
pub fn send_syslog(ns: &Netns, port: &str, message: &str) {
    let out = ns
        .output(
            "logger",
            &[
                "--server", SERVER_IP, "--udp", "--port", port, "-t", "hook", message,
            ],
        )
        .expect("logger");
    assert!(
        out.status.success(),
        "logger: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
