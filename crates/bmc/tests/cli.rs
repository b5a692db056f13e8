//! The command logic behind `ironbell power` and `ironbell boot`, against pyghmi's BMC.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use ironbell_bmc::cli::{self, CliError};
use ironbell_model::bmc::{Job, PowerAction};
use ironbell_store::{Api, ListParams};

#[test]
fn power_and_boot_commands_run_jobs_and_status_asks_the_bmc() {
    if !tools_present() {
        return;
    }
    let mut lab = Lab::new();
    let pyg = lab.pyghmi();
    let closed = lab.free_port();
    let store = lab.store();
    let logs = Logs::default();
    lab.run(&logs, || async {
        secrets(&store).await;
        machine(&store, "pyg", ipmi_conn(pyg.port, "good", closed)).await;
        let wait = Some(Duration::from_secs(20));

        // Without the service, a Job is created and stays queued.
        let err = cli::power(&store, NS, "pyg", PowerAction::On, Some(Duration::from_millis(300)))
            .await
            .unwrap_err();
        assert!(matches!(err, CliError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("is the BMC service running?"), "{err}");
        let out = cli::power(&store, NS, "pyg", PowerAction::Status, None).await.unwrap();
        assert_eq!(out, "pyg: off (ipmitool)");

        let service = tokio::spawn(ironbell_bmc::run(store.clone(), config()));
        let out = cli::power(&store, NS, "pyg", PowerAction::Cycle, wait).await.unwrap();
        assert!(out.starts_with("job default/pyg-power-cycle-") && out.ends_with(" completed"), "{out}");
        let out = cli::boot(&store, NS, "pyg", "PXE", true, true, wait).await.unwrap();
        assert!(out.starts_with("job default/pyg-boot-pxe-"), "{out}");
        let out = cli::power(&store, NS, "pyg", PowerAction::Status, None).await.unwrap();
        assert_eq!(out, "pyg: on (ipmitool)");

        let err = cli::boot(&store, NS, "pyg", "usb", false, false, wait).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("failed: failed to perform OneTimeBootDeviceAction: ipmitool: unknown boot device \"usb\""), "{msg}");
        let err = cli::power(&store, NS, "nope", PowerAction::Off, wait).await.unwrap_err();
        assert_eq!(err.to_string(), "machine default/nope not found");

        let (jobs, _) = Api::<Job>::new(store.clone()).list(&ListParams::namespace(NS)).await.unwrap();
        assert_eq!(jobs.len(), 4, "{jobs:#?}");
        service.abort();
    });
    let boot = lab.ipmitool(pyg.port, &["chassis", "bootparam", "get", "5"]);
    assert!(
        boot.contains("Force PXE") && boot.contains("BIOS EFI boot"),
        "{boot}"
    );
    assert!(boot.contains("Options apply to all future boots"), "{boot}");
    assert!(!logs.text().contains(PASSWORD));
}
