//! ironbell's IPMI client against BMC implementations it did not write: OpenIPMI's
//! ipmi_sim and pyghmi's BMC. For each server and each cipher suite it supports, every
//! power action and every boot-device setting is checked against what ipmitool (lanplus,
//! same suite, same namespace) reports from the same server.
//!
//! What the servers do differently (and these tests pin down):
//! - ipmi_sim (OpenIPMI 2.0.x) implements only RAKP-HMAC-SHA1 / HMAC-SHA1-96 / AES-CBC-128:
//!   suite 17 gets Open Session status 0x04 (invalid authentication algorithm), in a
//!   2-byte answer (tag, status) shorter than the spec's.
//! - ipmi_sim changes power only through a `chassis_control` program (or a VM on a serial
//!   channel); power cycle is "off now, on one second later". It answers Get Chassis Status
//!   with the power bit only, and keeps only the boot device selector of parameter 5: it
//!   reports the flags byte as 0 (not valid, next boot only, legacy) whatever was set. It
//!   answers "set in progress" (parameter 0) with 0xCC.
//! - pyghmi's server answers every Open Session Request with suite 3's algorithms, and does
//!   not answer RAKP 1 for an unknown user. `pyghmi_bmc.py --suite17` adds suite 17.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Bmc, Kind, parse_bootparam, tools_present};
use ironbell_ipmi::{
    BootDevice, BootOptions, ChassisControl, CipherSuite, CipherSuiteChoice, Session,
};

fn ipmitool_power_on(bmc: &Bmc, suite: CipherSuite) -> bool {
    let out = bmc.ipmitool(suite, &["chassis", "power", "status"]);
    match out.trim() {
        "Chassis Power is on" => true,
        "Chassis Power is off" => false,
        other => panic!("unexpected ipmitool output {other:?}"),
    }
}

fn ipmitool_device_text(d: BootDevice) -> &'static str {
    match d {
        BootDevice::Pxe => "Force PXE",
        BootDevice::Disk => "Force Boot from default Hard-Drive",
        BootDevice::BiosSetup => "Force Boot into BIOS Setup",
        BootDevice::Cdrom => "Force Boot from CD/DVD",
        other => panic!("not used here: {other}"),
    }
}

/// Power status, on, off, cycle, reset, soft shutdown; each compared with ipmitool.
fn power_scenario(bmc: &Bmc, suite: CipherSuite) {
    bmc.run(|| async {
        let mut s = Session::connect(bmc.config(CipherSuiteChoice::Only(suite)))
            .await
            .expect("connect");
        assert_eq!(s.cipher_suite(), suite);
        let st = s.chassis_status().await.expect("status");
        assert_eq!(st.power_on, ipmitool_power_on(bmc, suite));

        s.chassis_control(ChassisControl::PowerUp)
            .await
            .expect("on");
        assert!(s.chassis_status().await.expect("status").power_on);
        assert!(ipmitool_power_on(bmc, suite));

        s.chassis_control(ChassisControl::PowerDown)
            .await
            .expect("off");
        assert!(!s.chassis_status().await.expect("status").power_on);
        assert!(!ipmitool_power_on(bmc, suite));

        s.chassis_control(ChassisControl::PowerUp)
            .await
            .expect("on");
        s.chassis_control(ChassisControl::PowerCycle)
            .await
            .expect("cycle");
        // ipmi_sim powers off at once and on again a second later.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !s.chassis_status().await.expect("status").power_on {
            assert!(
                Instant::now() < deadline,
                "power did not come back after cycle"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(ipmitool_power_on(bmc, suite));

        s.chassis_control(ChassisControl::HardReset)
            .await
            .expect("reset");
        let st = s.chassis_status().await.expect("status");
        assert!(st.power_on);
        assert_eq!(st.power_on, ipmitool_power_on(bmc, suite));

        s.chassis_control(ChassisControl::SoftShutdown)
            .await
            .expect("soft");
        let st = s.chassis_status().await.expect("status");
        assert!(!st.power_on);
        assert_eq!(st.power_on, ipmitool_power_on(bmc, suite));

        let stats = s.stats();
        assert_eq!(stats.dropped, 0, "{stats:?}");
        s.close().await.expect("close");
    });
    let actions = bmc.actions();
    let (reset, shutdown, cycle) = match bmc.kind {
        Kind::IpmiSim => ("set reset 1", "set shutdown 1", "set power 0"),
        _ => ("power reset", "power shutdown", "power cycle"),
    };
    for a in [reset, shutdown, cycle] {
        assert!(actions.contains(a), "{a:?} not in BMC actions:\n{actions}");
    }
}

/// Every boot device, once and persistent, with and without EFI; ironbell's reading
/// compared with ipmitool's; then ipmitool sets one and ironbell reads it.
fn boot_scenario(bmc: &Bmc, suite: CipherSuite) {
    bmc.run(|| async {
        let mut s = Session::connect(bmc.config(CipherSuiteChoice::Only(suite)))
            .await
            .expect("connect");
        for device in [
            BootDevice::Pxe,
            BootDevice::Disk,
            BootDevice::BiosSetup,
            BootDevice::Cdrom,
        ] {
            for persistent in [false, true] {
                for efi in [false, true] {
                    let opts = BootOptions { persistent, efi };
                    s.set_boot_device(device, opts)
                        .await
                        .unwrap_or_else(|e| panic!("set {device} {opts:?}: {e}"));
                    let ours = s.boot_device().await.expect("get boot device");
                    let theirs = parse_bootparam(
                        &bmc.ipmitool(suite, &["chassis", "bootparam", "get", "5"]),
                    );
                    let what = format!("{device} {opts:?}: ours {ours:?}, ipmitool {theirs:?}");
                    assert_eq!(ours.device, device, "{what}");
                    assert_eq!(ours.data.to_vec(), theirs.data, "{what}");
                    assert_eq!(theirs.device, ipmitool_device_text(device), "{what}");
                    assert_eq!(
                        (ours.valid, ours.persistent, ours.efi),
                        (theirs.valid, theirs.persistent, theirs.efi),
                        "{what}"
                    );
                    match bmc.kind {
                        // ipmi_sim keeps the selector only.
                        Kind::IpmiSim => {
                            assert_eq!(
                                (ours.valid, ours.persistent, ours.efi),
                                (false, false, false)
                            );
                        }
                        _ => assert_eq!(
                            (ours.valid, ours.persistent, ours.efi),
                            (true, persistent, efi),
                            "{what}"
                        ),
                    }
                }
            }
        }
        // The other way round: ipmitool sets, ironbell reads.
        bmc.ipmitool(suite, &["chassis", "bootdev", "pxe"]);
        let ours = s.boot_device().await.expect("get boot device");
        assert_eq!(ours.device, BootDevice::Pxe);
        let theirs = parse_bootparam(&bmc.ipmitool(suite, &["chassis", "bootparam", "get", "5"]));
        assert_eq!(ours.data.to_vec(), theirs.data);
        assert_eq!(s.stats().dropped, 0);
        s.close().await.expect("close");
    });
    if bmc.kind != Kind::IpmiSim {
        // pyghmi's own parser saw the devices (network, hd, setup, optical).
        let actions = bmc.actions();
        for d in ["network", "hd", "setup", "optical"] {
            assert!(
                actions.contains(&format!("boot device {d}")),
                "{d}: {actions}"
            );
        }
    }
}

fn full(kind: Kind, suite: CipherSuite, tools: &[&str]) {
    if !tools_present(tools) {
        return;
    }
    let bmc = Bmc::start(kind);
    power_scenario(&bmc, suite);
    boot_scenario(&bmc, suite);
}

#[test]
fn ipmi_sim_suite_3() {
    full(
        Kind::IpmiSim,
        CipherSuite::Suite3,
        &["ipmi_sim", "ipmitool"],
    );
}

#[test]
fn pyghmi_suite_3() {
    full(Kind::Pyghmi, CipherSuite::Suite3, &["python", "ipmitool"]);
}

#[test]
fn pyghmi_suite_17() {
    full(
        Kind::PyghmiSuite17,
        CipherSuite::Suite17,
        &["python", "ipmitool"],
    );
}

#[test]
fn pyghmi_suite17_server_still_does_suite_3() {
    if !tools_present(&["python", "ipmitool"]) {
        return;
    }
    let bmc = Bmc::start(Kind::PyghmiSuite17);
    power_scenario(&bmc, CipherSuite::Suite3);
}

/// Automatic selection picks 17 where the BMC has it and falls back to 3 where not; an
/// explicit 17 where the BMC lacks it is a clear error.
#[test]
fn cipher_suite_selection() {
    if !tools_present(&["ipmi_sim", "python"]) {
        return;
    }
    for (kind, auto_picks) in [
        (Kind::IpmiSim, CipherSuite::Suite3),
        (Kind::Pyghmi, CipherSuite::Suite3),
        (Kind::PyghmiSuite17, CipherSuite::Suite17),
    ] {
        let bmc = Bmc::start(kind);
        bmc.run(|| async {
            let s = Session::connect(bmc.config(CipherSuiteChoice::Auto))
                .await
                .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(s.cipher_suite(), auto_picks, "{kind:?}");
            s.close().await.expect("close");
            if auto_picks == CipherSuite::Suite3 {
                let e = Session::connect(bmc.config(CipherSuiteChoice::Only(CipherSuite::Suite17)))
                    .await
                    .err()
                    .unwrap_or_else(|| panic!("{kind:?} accepted suite 17"));
                assert!(
                    matches!(
                        e,
                        ironbell_ipmi::Error::UnsupportedCipherSuite { suite: 17, .. }
                    ),
                    "{kind:?}: {e}"
                );
                eprintln!("{kind:?}: {e}");
            }
        });
    }
}

/// Get Device ID against ipmi_sim's configured identity and ipmitool's `mc info`.
#[test]
fn device_id_matches_ipmitool() {
    if !tools_present(&["ipmi_sim", "ipmitool"]) {
        return;
    }
    let bmc = Bmc::start(Kind::IpmiSim);
    let id = bmc.run(|| async {
        let mut s = Session::connect(bmc.config(CipherSuiteChoice::Auto))
            .await
            .expect("connect");
        let id = s.device_id().await.expect("device id");
        s.close().await.expect("close");
        id
    });
    let info = bmc.ipmitool(CipherSuite::Suite3, &["mc", "info"]);
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| panic!("{name} not in {info}"))
    };
    assert_eq!(field("Device ID"), id.device_id.to_string());
    assert_eq!(field("Device Revision"), id.device_revision.to_string());
    assert_eq!(field("Firmware Revision"), id.firmware());
    assert_eq!(field("Manufacturer ID"), id.manufacturer_id.to_string());
    assert!(field("Product ID").starts_with(&id.product_id.to_string()));
    assert_eq!(
        field("IPMI Version"),
        format!("{}.{}", id.ipmi_version.0, id.ipmi_version.1)
    );
    assert_eq!((id.manufacturer_id, id.product_id), (0x1291, 0x0F02));
}
