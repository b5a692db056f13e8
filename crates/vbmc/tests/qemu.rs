//! The virtual BMC in front of a real QEMU machine (SeaBIOS, software emulation), driven
//! by clients this project did not write: OpenStack's `sushy` Redfish library (Python,
//! from the repository's `.venv`, installed by scripts/setup) and Debian's `ipmitool`.
//!
//! The machine has an empty disk and a NIC whose frames go to an unused loopback UDP port,
//! so which device the firmware boots shows on its serial console: iPXE's banner for the
//! NIC (`iPXE (PCI ...) starting execution`), `Booting from Hard Disk` for the disk.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ironbell_vbmc::BmcConfig;

const USER: &str = "admin";
const PASSWORD: &str = "vbmc-Pw-42";

struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_tcp() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn free_udp() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn python() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    assert!(
        venv.is_file(),
        "{} is missing: run scripts/setup (it installs sushy)",
        venv.display()
    );
    venv
}

fn serial_after(path: &Path, from: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(bytes.get(from..).unwrap_or_default()).into_owned()
}

fn wait_serial(path: &Path, from: usize, what: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let text = serial_after(path, from);
        if text.contains(what) {
            return text;
        }
        assert!(
            start.elapsed() < limit,
            "no {what:?} on the serial console after {limit:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs a sushy script; returns its standard output.
fn sushy(port: u16, password: &str, script: &str) -> (bool, String) {
    let prelude = format!(
        "import sushy, sys\n\
         s = sushy.Sushy('https://127.0.0.1:{port}/redfish/v1', username='{USER}', \
         password='{password}', verify=False)\n\
         sys_ = s.get_system('/redfish/v1/Systems/vm')\n"
    );
    let out = Command::new(python())
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .expect("run python");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn ipmitool(port: u16, password: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("ipmitool")
        .args(ironbell_testbed::lanplus_args(
            port,
            USER,
            password,
            Some("17"),
            2,
        ))
        .args(args)
        .output()
        .expect("run ipmitool");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn sushy_and_ipmitool_drive_a_qemu_machine_through_the_virtual_bmc() {
    ironbell_testbed::require_tier!(ironbell_testbed::Tier::Vm);
    if !ironbell_testbed::require_tools(&["python", "ipmitool"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let qmp = dir.path().join("qmp.sock");
    let serial = dir.path().join("serial.log");
    let disk = dir.path().join("disk.raw");
    std::fs::File::create(&disk)
        .and_then(|f| f.set_len(16 << 20))
        .expect("disk");
    let (udp_a, udp_b) = (free_udp(), free_udp());
    let vm = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "tcg",
            "-m",
            "128",
            "-nographic",
            "-monitor",
            "none",
        ])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .args(["-S", "-no-shutdown", "-qmp"])
        .arg(format!("unix:{},server=on,wait=off", qmp.display()))
        .arg("-netdev")
        .arg(format!(
            "socket,id=n0,udp=127.0.0.1:{udp_a},localaddr=127.0.0.1:{udp_b}"
        ))
        .args([
            "-device",
            "virtio-net-pci,netdev=n0,mac=52:54:00:aa:00:01,id=nic0,bootindex=2",
        ])
        .arg("-drive")
        .arg(format!("if=none,id=d0,format=raw,file={}", disk.display()))
        .args(["-device", "virtio-blk-pci,drive=d0,id=disk0,bootindex=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("qemu-system-x86_64 (Debian qemu-system-x86)");
    let _vm = Qemu(vm);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !qmp.exists() {
        assert!(Instant::now() < deadline, "QEMU made no QMP socket");
        std::thread::sleep(Duration::from_millis(50));
    }

    let (redfish, ipmi) = (free_tcp(), free_udp());
    let config = BmcConfig {
        name: "vm".into(),
        qmp: qmp.clone(),
        nic_device: "nic0".into(),
        disk_device: "disk0".into(),
        redfish: Some(([127, 0, 0, 1], redfish).into()),
        ipmi: Some(([127, 0, 0, 1], ipmi).into()),
        username: USER.into(),
        password: PASSWORD.into(),
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.spawn(ironbell_vbmc::run(vec![config], std::future::pending()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", redfish)).is_err() {
        assert!(Instant::now() < deadline, "Redfish did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Off (QEMU is in prelaunch), then PXE once and on, through sushy.
    let (ok, out) = sushy(
        redfish,
        PASSWORD,
        "print(sys_.power_state)\n\
         sys_.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE, \
         enabled=sushy.BOOT_SOURCE_ENABLED_ONCE, mode=sushy.BOOT_SOURCE_MODE_BIOS)\n\
         sys_.refresh()\n\
         print(sys_.boot.target, sys_.boot.enabled)\n\
         sys_.reset_system(sushy.RESET_ON)\n\
         sys_.refresh()\n\
         print(sys_.power_state)\n",
    );
    assert!(ok, "{out}");
    let lines: Vec<String> = out.lines().map(str::to_lowercase).collect();
    assert!(lines[0].ends_with("off"), "{out}");
    assert!(
        lines[1].contains("pxe") && lines[1].contains("once"),
        "{out}"
    );
    assert!(lines[2].ends_with(".on"), "{out}");
    // The NIC boots first this time.
    let text = wait_serial(&serial, 0, "starting execution", Duration::from_secs(60));
    assert!(!text.contains("Booting from Hard Disk"), "{text}");

    // The one-time device is used up: the next reset (IPMI, ipmitool) boots the disk first.
    let (ok, out) = ipmitool(ipmi, PASSWORD, &["chassis", "bootparam", "get", "5"]);
    assert!(
        ok && out.contains("Force Boot from default Hard-Drive"),
        "{out}"
    );
    let mark = serial_after(&serial, 0).len();
    let (ok, out) = ipmitool(ipmi, PASSWORD, &["chassis", "power", "reset"]);
    assert!(ok, "{out}");
    let text = wait_serial(
        &serial,
        mark,
        "Booting from Hard Disk",
        Duration::from_secs(60),
    );
    let disk_at = text.find("Booting from Hard Disk").unwrap_or(0);
    assert!(
        text.find("starting execution").is_none_or(|i| i > disk_at),
        "the NIC came first after the reset:\n{text}"
    );

    // A machine that ran is powered off, then network-booted once (a BMC Job's netboot: off,
    // PXE once, on): the NIC first, though the persistent order (the disk) is put back at
    // once. (The order must be put back after QEMU carried out the reset, not after it was
    // requested: re-provisioning a lab machine booted its old disk.)
    for step in [
        &["chassis", "power", "off"][..],
        &["chassis", "bootdev", "pxe"],
    ] {
        let (ok, out) = ipmitool(ipmi, PASSWORD, step);
        assert!(ok, "{step:?}: {out}");
    }
    let mark = serial_after(&serial, 0).len();
    let (ok, out) = ipmitool(ipmi, PASSWORD, &["chassis", "power", "on"]);
    assert!(ok, "{out}");
    let text = wait_serial(&serial, mark, "starting execution", Duration::from_secs(60));
    assert!(!text.contains("Booting from Hard Disk"), "{text}");

    // Persistent PXE through ipmitool: every reset boots the NIC first.
    let (ok, out) = ipmitool(
        ipmi,
        PASSWORD,
        &["chassis", "bootdev", "pxe", "options=persistent"],
    );
    assert!(ok, "{out}");
    for _ in 0..2 {
        let mark = serial_after(&serial, 0).len();
        let (ok, out) = ipmitool(ipmi, PASSWORD, &["chassis", "power", "reset"]);
        assert!(ok, "{out}");
        let text = wait_serial(&serial, mark, "starting execution", Duration::from_secs(60));
        assert!(!text.contains("Booting from Hard Disk"), "{text}");
    }

    // Off through IPMI, seen through Redfish.
    let (ok, out) = ipmitool(ipmi, PASSWORD, &["chassis", "power", "off"]);
    assert!(ok, "{out}");
    let (ok, out) = sushy(redfish, PASSWORD, "print(sys_.power_state)\n");
    assert!(ok && out.trim().to_lowercase().ends_with("off"), "{out}");

    // Wrong passwords are refused on both, and not echoed.
    let (ok, out) = sushy(redfish, "wrong-pw", "print(sys_.power_state)\n");
    assert!(!ok, "{out}");
    assert!(out.contains("401") || out.contains("Access"), "{out}");
    let (ok, out) = ipmitool(ipmi, "wrong-pw", &["chassis", "power", "status"]);
    assert!(!ok, "{out}");
    let curl = Command::new("curl")
        .args(["-sk", "-u", "admin:wrong-pw"])
        .arg(format!("https://127.0.0.1:{redfish}/redfish/v1/Systems/vm"))
        .output()
        .expect("curl");
    let body = String::from_utf8_lossy(&curl.stdout);
    assert!(
        body.contains("NoValidSession") && !body.contains("wrong-pw"),
        "{body}"
    );
}
