//! Real firmware: QEMU virtual machines (software emulation) network-boot through
//! `ironbell serve boot` until ironbell's iPXE script prints a marker on the serial console.
//!
//! - BIOS: SeaBIOS runs the NIC's iPXE ROM, which gets the script URL by DHCP (user class
//!   `iPXE`) and fetches it over HTTP.
//! - UEFI: OVMF runs the NIC's EFI iPXE ROM, likewise.
//! - UEFI PXE: the NIC's ROM is disabled, so OVMF's own PXE client gets `ipxe.efi` by TFTP
//!   first (asking its size, aborting, then downloading), and that iPXE fetches the script.
//!
//! Each machine gets its own network namespace with a tap, its own store and its own
//! ironbell; every process is killed by PID and every namespace removed at the end. iPXE
//! from Debian has no `poweroff` command, so the test stops the VM once the marker shows.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{SERVER_IP, start_boot_service};
use ironbell_testbed::{Netns, router_advertisements};

mod common;

enum Firmware {
    Bios,
    Uefi,
    UefiPxe,
}

fn boot(firmware: Firmware, mac: &str) {
    if !ironbell_testbed::require_tier(ironbell_testbed::Tier::Vm)
        || !ironbell_testbed::require_tools(&["curl", "radvd"])
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_ironbell");
    let db = dir.path().join("store.db");
    let marker = format!("IRONBELL-BOOTED-{}", mac.replace(':', ""));
    let hw = dir.path().join("hw.yaml");
    std::fs::write(
        &hw,
        format!(
            "apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata: {{name: vm, namespace: eksa-system}}
spec:
  interfaces:
  - dhcp:
      mac: \"{mac}\"
      hostname: vm
      ip: {{address: 192.0.2.10, netmask: 255.255.255.0, gateway: {SERVER_IP}}}
      name_servers: [{SERVER_IP}]
      arch: x86_64
      uefi: true
    netboot:
      allowPXE: true
      ipxe:
        contents: |
          #!ipxe
          echo {marker} ip=${{net0/ip}}
          shell
"
        ),
    )
    .expect("hardware");
    let out = Command::new(bin)
        .arg("--db")
        .arg(&db)
        .args(["apply", "-f"])
        .arg(&hw)
        .output()
        .expect("apply");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ns = Netns::new().expect("netns");
    ns.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"])
        .expect("tap");
    ns.ip(&["link", "set", "tap0", "up"]).expect("up");
    ns.ip(&["addr", "add", &format!("{SERVER_IP}/24"), "dev", "tap0"])
        .expect("addr");
    let server = start_boot_service(&ns, &db, "tap0", dir.path(), &["--no-syslog"]);
    // A router advertisement, or iPXE waits ~13 s for one before going on without IPv6.
    let _radvd = router_advertisements(&ns, "tap0", "fd00:1b::/64", dir.path()).expect("radvd");

    let serial = dir.path().join("serial.log");
    let serial_arg = format!("file:{}", serial.display());
    let mut nic = format!("virtio-net-pci,netdev=n0,mac={mac}");
    let mut args: Vec<String> = [
        "-accel",
        "tcg",
        "-m",
        "256",
        "-nographic",
        "-monitor",
        "none",
        "-no-reboot",
        "-boot",
        "n",
        "-serial",
        &serial_arg,
        "-netdev",
        "tap,id=n0,ifname=tap0,script=no,downscript=no",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !matches!(firmware, Firmware::Bios) {
        let vars = dir.path().join("OVMF_VARS.fd");
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).expect("OVMF (package ovmf)");
        args.extend([
            "-drive".into(),
            "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd".into(),
            "-drive".into(),
            format!("if=pflash,format=raw,file={}", vars.display()),
        ]);
    }
    if matches!(firmware, Firmware::UefiPxe) {
        nic.push_str(",romfile=");
    }
    args.extend(["-device".into(), nic]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let vm = ns.spawn("qemu-system-x86_64", &args).expect("qemu");

    let start = Instant::now();
    let booted = loop {
        let log = std::fs::read(&serial).unwrap_or_default();
        let log = String::from_utf8_lossy(&log).to_string();
        if log.contains(&format!("{marker} ip=192.0.2.10")) {
            break Ok(log);
        }
        if start.elapsed() > Duration::from_secs(240) {
            break Err(log);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let vm_out = vm.finish().expect("stop qemu");
    let server_out = server.finish().expect("stop ironbell");
    let server_log = String::from_utf8_lossy(&server_out.stderr);
    match booted {
        Ok(_) => {}
        Err(log) => panic!(
            "no marker after {:?}\n--- serial:\n{log}\n--- qemu:\n{}\n--- ironbell:\n{server_log}",
            start.elapsed(),
            String::from_utf8_lossy(&vm_out.stderr)
        ),
    }
    if matches!(firmware, Firmware::UefiPxe) {
        assert!(
            server_log.contains("ipxe.efi") || server_log.contains("snponly.efi"),
            "OVMF's PXE client fetched iPXE by TFTP:\n{server_log}"
        );
    }
    assert!(server_log.contains("iPXE script served"), "{server_log}");
    eprintln!("booted to the marker in {:?}", start.elapsed());
    assert!(Path::new(&serial).exists());
}

#[test]
fn bios_ipxe_rom_boots_to_the_script() {
    boot(Firmware::Bios, "52:54:00:00:00:01");
}

#[test]
fn uefi_ipxe_rom_boots_to_the_script() {
    boot(Firmware::Uefi, "52:54:00:00:00:02");
}

#[test]
fn uefi_pxe_fetches_ipxe_by_tftp_then_the_script() {
    boot(Firmware::UefiPxe, "52:54:00:00:00:03");
}
