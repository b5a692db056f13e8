//! `ironbell serve all` with every port moved off its default, in a server namespace, with
//! real clients in a client namespace: each service answers on its port (curl for HTTP boot,
//! metadata and the gRPC agent API, tftp-hpa for TFTP, util-linux logger for syslog), and
//! the Kubernetes API answers on its port with a certificate for the server's address, and
//! the iPXE script hands HookOS those same ports (`grpc_authority=IP:50051`,
//! `syslog_host=IP:5514`), so that no service names another one wrongly.

use std::os::unix::fs::PermissionsExt;

use common::{
    SERVER_IP, import_node, send_syslog, server_and_client, start_service, tftp_fetch_ipxe,
    wait_for,
};

mod common;

const MACHINE_IP: &str = "192.0.2.10";

#[test]
fn every_service_on_non_default_ports_and_the_script_names_them() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("curl");
    ironbell_testbed::require_tool!("tftp");
    ironbell_testbed::require_tool!("logger");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("state/store.db");
    let (srv, cli, mac) = server_and_client();
    import_node(&db, dir.path(), MACHINE_IP, &mac);
    cli.ip(&["addr", "add", &format!("{MACHINE_IP}/24"), "dev", "c0"])
        .expect("addr");
    let artifacts = dir.path().join("hookos");
    std::fs::create_dir(&artifacts).expect("mkdir");

    let (db_arg, artifacts_arg) = (db.display().to_string(), artifacts.display().to_string());
    let tftp = format!("{SERVER_IP}:6969");
    let _server = start_service(
        &srv,
        &[
            "--db",
            &db_arg,
            "serve",
            "all",
            "--public-ip",
            SERVER_IP,
            "--interface",
            "s0",
            "--artifacts-dir",
            &artifacts_arg,
            "--http-addr",
            "0.0.0.0:8071",
            "--metadata-addr",
            "0.0.0.0:8072",
            "--grpc-addr",
            "0.0.0.0:50051",
            "--syslog-addr",
            "0.0.0.0:5514",
            "--tftp-addr",
            &tftp,
            "--api-addr",
            "0.0.0.0:8443",
            "--api-san",
            SERVER_IP,
        ],
        &format!("http://{SERVER_IP}:8071/healthz"),
    );
    let curl = |args: &[&str]| {
        let out = cli.output("curl", args).expect("curl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };

    // The iPXE script names the ports the services listen on.
    let (ok, script) = curl(&[
        "-sf",
        &format!("http://{SERVER_IP}:8071/ipxe/script/{mac}/auto.ipxe"),
    ]);
    assert!(ok && script.starts_with("#!ipxe"), "{script}");
    for expected in [
        format!("grpc_authority={SERVER_IP}:50051 "),
        format!("syslog_host={SERVER_IP}:5514 "),
        format!("http://{SERVER_IP}:8071/vmlinuz-x86_64"),
    ] {
        assert!(script.contains(&expected), "{expected} not in:\n{script}");
    }

    // Metadata answers the machine on 8072.
    let (ok, hostname) = curl(&[
        "-sf",
        &format!("http://{SERVER_IP}:8072/2009-04-04/meta-data/hostname"),
    ]);
    assert!(ok && hostname.trim() == "node1", "{hostname}");

    // The agent API answers gRPC on 50051 (an empty GetAction request: the service replies
    // with a gRPC status, which only a gRPC server does).
    let out = cli
        .output(
            "curl",
            &[
                "-s",
                "-o",
                "/dev/null",
                "-D",
                "-",
                "--http2-prior-knowledge",
                "-H",
                "content-type: application/grpc",
                "-H",
                "te: trailers",
                "--data-binary",
                "",
                &format!("http://{SERVER_IP}:50051/proto.WorkflowService/GetAction"),
            ],
        )
        .expect("curl grpc");
    let headers = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(
        headers.contains("content-type: application/grpc") && headers.contains("grpc-status"),
        "{headers}"
    );

    // The Kubernetes API on 8443, its certificate naming the server's address.
    let api = dir.path().join("state/api");
    let token = std::fs::read_to_string(api.join("admin.token")).expect("admin token");
    let (ok, list) = curl(&[
        "-sf",
        "--cacert",
        &api.join("ca.crt").display().to_string(),
        "-H",
        &format!("Authorization: Bearer {}", token.trim()),
        &format!("https://{SERVER_IP}:8443/apis/tinkerbell.org/v1alpha1/hardware"),
    ]);
    assert!(
        ok && list.contains("\"HardwareList\"") && list.contains("node1"),
        "{list}"
    );

    // TFTP on 6969: tftp-hpa fetches the BIOS iPXE binary byte for byte.
    tftp_fetch_ipxe(&cli, "6969", "undionly.kpxe", dir.path());

    // Syslog on 5514: the machine's message lands in its log file, private to root.
    send_syslog(&cli, "5514", "hello on 5514");
    let log = dir.path().join("state/machine-logs/eksa-system/node1.log");
    wait_for("the machine's log line", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("hello on 5514"))
    });
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&log), 0o600);
    assert_eq!(mode(log.parent().expect("dir")), 0o700);
    assert_eq!(mode(&dir.path().join("state/machine-logs")), 0o700);
}
