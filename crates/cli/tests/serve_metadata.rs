//! `ironbell serve metadata` as a process: the example inventory is imported, the service
//! runs in a network namespace, and curl from a second namespace whose address is one
//! machine's gets that machine's metadata and nothing of the others.

use std::process::Command;

use common::wait_for;
use ironbell_testbed::{Netns, veth};

mod common;

const SERVER: &str = "10.20.0.1";

#[test]
fn serve_metadata_answers_the_machine_at_its_address() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
    ironbell_testbed::require_tool!("curl");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("store.db");
    let bin = env!("CARGO_BIN_EXE_ironbell");
    let csv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../hardware/example.csv");
    let out = Command::new(bin)
        .arg("--db")
        .arg(&db)
        .args(["hardware", "import", csv])
        .output()
        .expect("import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let srv = Netns::new().expect("netns");
    let cli = Netns::new().expect("netns");
    veth(&srv, "s0", &cli, "c0").expect("veth");
    srv.ip(&["addr", "add", &format!("{SERVER}/24"), "dev", "s0"])
        .expect("addr");
    // The client is eksa-wk01 (10.20.0.21 in hardware/example.csv).
    cli.ip(&["addr", "add", "10.20.0.21/24", "dev", "c0"])
        .expect("addr");
    let db_arg = db.display().to_string();
    let server = srv
        .spawn(
            bin,
            &[
                "--db",
                &db_arg,
                "serve",
                "metadata",
                "--listen",
                &format!("{SERVER}:7172"),
            ],
        )
        .expect("start ironbell");
    let base = format!("http://{SERVER}:7172");
    wait_for("the metadata service", || {
        cli.output("curl", &["-sf", "-m", "1", &format!("{base}/healthz")])
            .is_ok_and(|o| o.status.success())
    });
    let get = |path: &str| {
        let o = cli
            .output(
                "curl",
                &[
                    "-s",
                    "-m",
                    "2",
                    "-w",
                    "\n%{http_code}",
                    &format!("{base}{path}"),
                ],
            )
            .expect("curl");
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let hostname = get("/2009-04-04/meta-data/hostname");
    assert_eq!(hostname, "eksa-wk01\n200", "{hostname}");
    let listing = get("/latest/meta-data/");
    assert!(
        listing.ends_with("\n200") && listing.contains("hostname"),
        "{listing}"
    );
    let id = get("/latest/meta-data/instance-id");
    assert_eq!(id, "3c:ec:ef:10:00:21\n200", "{id}");
    // A spoofed header from an untrusted peer changes nothing.
    let o = cli
        .output(
            "curl",
            &[
                "-s",
                "-m",
                "2",
                "-H",
                "X-Forwarded-For: 10.20.0.11",
                &format!("{base}/2009-04-04/meta-data/hostname"),
            ],
        )
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "eksa-wk01");
    let doc = get("/metadata");
    assert!(
        doc.contains("\"instance\"") && doc.ends_with("\n200"),
        "{doc}"
    );
    drop(server);
}
