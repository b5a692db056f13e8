//! HookOS (`hookos/build.sh`) built once per run, then booted in QEMU (software emulation)
//! with the kernel command line ironbell's boot service serves
//! ([`ironbell_boot::http::hook_script`]), until the agent runs.
//!
//! - DHCP: a virtio NIC on a tap in a namespace; busybox `udhcpd` hands out one address;
//!   a UDP socket on port 514 in the namespace receives syslog; at the end the ACPI power
//!   button (over QMP) powers the machine off.
//! - VLAN + static `ipam=`: the NIC's frames go to a UDP socket in the test (QEMU's
//!   `-netdev socket,udp=`), because the host kernel may have no 802.1Q support. The test
//!   checks the guest's frames carry the VLAN tag, answers its ARP for the syslog host (tagged
//!   too) and receives the syslog datagrams that then follow.
//! - Reproducibility: a second build into another directory (reusing the download cache)
//!   gives the same bytes.
//!
//! The agent is a stand-in shell script (`AGENT_BIN`) that prints what it was started with,
//! so that these tests do not depend on the agent's own state. The kernel package is
//! downloaded once into `target/hookos-cache/` by `apt-get download`.

use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ironbell_boot::MacLookup;
use ironbell_boot::http::{Config, hook_script};
use ironbell_model::tinkerbell::Hardware;
use ironbell_testbed::{ChildGuard, Netns};

const SERVER_IP: &str = "192.0.2.1";
/// How long a boot may take to reach the agent (TCG on a busy 2-core machine).
const BOOT_LIMIT: Duration = Duration::from_secs(240);

const FAKE_AGENT: &str = "#!/bin/sh
echo \"ironbell-agent: started worker_id=$WORKER_ID grpc_authority=$TINKERBELL_GRPC_AUTHORITY \
tls=$TINKERBELL_TLS facility=$FACILITY\"
exec sleep 86400
";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hookos");
    std::fs::create_dir_all(&dir).expect("test directory");
    dir
}

fn require_tools() -> bool {
    ironbell_testbed::require_tier(ironbell_testbed::Tier::Vm)
        && ironbell_testbed::require_tools(&["cpio", "depmod", "zstd", "busybox"])
}

/// Runs `hookos/build.sh OUT` with the stand-in agent; returns how long it took.
fn build(out: &Path) -> Duration {
    let agent = work_dir().join("fake-agent");
    std::fs::write(&agent, FAKE_AGENT).expect("stand-in agent");
    let start = Instant::now();
    let result = Command::new("bash")
        .arg(repo().join("hookos/build.sh"))
        .arg(out)
        .env("AGENT_BIN", &agent)
        // Each build is a build, even into a directory an earlier run left.
        .env("HOOKOS_REBUILD", "1")
        .output()
        .expect("run hookos/build.sh");
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "hookos/build.sh {} failed:\n{stderr}",
        out.display()
    );
    eprintln!("built {} in {took:?}:\n{stderr}", out.display());
    took
}

/// The artifacts, built once for every test of this binary.
fn artifacts() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = work_dir().join("a");
        build(&out);
        out
    })
}

/// The kernel command line ironbell's boot service gives the machine of `hardware`, with
/// `extra` parameters appended.
fn kernel_params(hardware: &str, mac: &str, extra: &[&str]) -> String {
    let hw: Hardware = serde_yaml_ng::from_str(hardware).expect("hardware");
    let index = ironbell_boot::Index::from_hardware([hw]);
    let mac_bytes = ironbell_boot::parse_mac(mac).expect("mac");
    let MacLookup::Found(machine) = index.by_mac(mac_bytes) else {
        panic!("the index does not know {mac}");
    };
    let mut config = Config::new(SERVER_IP.parse().expect("ip"));
    config.extra_kernel_args = extra.iter().map(|s| s.to_string()).collect();
    let script = hook_script(&config, &machine);
    let line = script
        .lines()
        .find(|l| l.starts_with("kernel "))
        .unwrap_or_else(|| panic!("no kernel line in\n{script}"));
    // "kernel <url> params..."
    line.split_whitespace()
        .skip(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn hardware_yaml(mac: &str, vlan: Option<&str>) -> String {
    let vlan = vlan
        .map(|v| format!("\n      vlan_id: \"{v}\""))
        .unwrap_or_default();
    format!(
        "apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata: {{name: hookos-vm, namespace: eksa-system}}
spec:
  metadata:
    facility: {{facility_code: onprem}}
  interfaces:
  - dhcp:
      mac: \"{mac}\"
      arch: x86_64{vlan}
    netboot:
      allowPXE: true
"
    )
}

/// A QEMU machine booting HookOS inside `ns`; its serial console goes to `serial`.
/// QMP listens on `<serial>.qmp`.
fn start_vm(ns: &Netns, params: &str, netdev: &str, mac: &str, serial: &Path) -> ChildGuard {
    let dir = artifacts();
    let kernel = dir.join("vmlinuz-x86_64").display().to_string();
    let initrd = dir.join("initramfs-x86_64").display().to_string();
    let serial_arg = format!("file:{}", serial.display());
    let qmp = format!("unix:{}.qmp,server=on,wait=off", serial.display());
    let nic = format!("virtio-net-pci,netdev=n0,mac={mac}");
    ns.spawn(
        "qemu-system-x86_64",
        &[
            "-accel",
            "tcg",
            "-m",
            "512",
            "-nographic",
            "-monitor",
            "none",
            "-no-reboot",
            "-kernel",
            &kernel,
            "-initrd",
            &initrd,
            "-append",
            params,
            "-serial",
            &serial_arg,
            "-netdev",
            netdev,
            "-device",
            &nic,
            "-qmp",
            &qmp,
        ],
    )
    .expect("start qemu")
}

fn read_log(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// Waits until the serial log contains `marker`; returns the log and the time it took.
fn wait_serial(serial: &Path, marker: &str, vm: ChildGuard) -> (String, Duration, ChildGuard) {
    let start = Instant::now();
    loop {
        let log = read_log(serial);
        if log.contains(marker) {
            return (log, start.elapsed(), vm);
        }
        if start.elapsed() > BOOT_LIMIT {
            let out = vm.finish().expect("stop qemu");
            panic!(
                "no {marker:?} on the console after {:?}\n--- serial:\n{log}\n--- qemu:\n{}",
                start.elapsed(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The console line that starts with `prefix`.
fn line<'a>(log: &'a str, prefix: &str) -> &'a str {
    log.lines()
        .map(|l| l.trim_end_matches('\r'))
        .find(|l| l.contains(prefix))
        .unwrap_or_else(|| panic!("no line with {prefix:?} on the console:\n{log}"))
}

/// A thread that collects what arrives on `sock` (with `handle` for each datagram) until
/// `stop` is set.
fn collect(
    sock: UdpSocket,
    stop: Arc<AtomicBool>,
    mut handle: impl FnMut(&UdpSocket, &[u8]) -> Option<String> + Send + 'static,
) -> (Arc<Mutex<Vec<String>>>, JoinHandle<()>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let thread = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            if let Ok(n) = sock.recv(&mut buf)
                && let Some(text) = handle(&sock, &buf[..n])
            {
                sink.lock().expect("lock").push(text);
            }
        }
    });
    (got, thread)
}

/// Waits up to 20 s for a collected message containing `needle`.
fn wait_message(got: &Mutex<Vec<String>>, needle: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if got.lock().expect("lock").iter().any(|m| m.contains(needle)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
fn boots_with_dhcp_sends_syslog_and_starts_the_agent() {
    if !require_tools() {
        return;
    }
    let mac = "52:54:00:00:00:31";
    let params = kernel_params(&hardware_yaml(mac, None), mac, &[]);
    for expected in [
        "grpc_authority=192.0.2.1:42113",
        "syslog_host=192.0.2.1",
        "console=ttyS0,115200",
    ] {
        assert!(params.contains(expected), "{params}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ns = Netns::new().expect("netns");
    ns.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"])
        .expect("tap");
    ns.ip(&["link", "set", "tap0", "up"]).expect("up");
    ns.ip(&["addr", "add", &format!("{SERVER_IP}/24"), "dev", "tap0"])
        .expect("addr");
    let conf = dir.path().join("udhcpd.conf");
    std::fs::write(
        &conf,
        format!(
            "start 192.0.2.50\nend 192.0.2.50\ninterface tap0\nlease_file {d}/leases\n\
             pidfile {d}/udhcpd.pid\nopt subnet 255.255.255.0\nopt router {SERVER_IP}\n\
             opt dns {SERVER_IP}\nopt lease 600\n",
            d = dir.path().display()
        ),
    )
    .expect("udhcpd.conf");
    std::fs::write(dir.path().join("leases"), b"").expect("leases");
    let conf = conf.display().to_string();
    let _dhcp = ns
        .spawn("busybox", &["udhcpd", "-f", &conf])
        .expect("udhcpd");
    let syslog = ns
        .enter(|| UdpSocket::bind((SERVER_IP, 514)))
        .expect("enter")
        .expect("bind syslog");
    let stop = Arc::new(AtomicBool::new(false));
    let (messages, receiver) = collect(syslog, stop.clone(), |_, data| {
        Some(String::from_utf8_lossy(data).into_owned())
    });

    let serial = dir.path().join("serial.log");
    let vm = start_vm(
        &ns,
        &params,
        "tap,id=n0,ifname=tap0,script=no,downscript=no",
        mac,
        &serial,
    );
    let (log, took, vm) = wait_serial(&serial, "ironbell-agent: started", vm);
    eprintln!("DHCP boot reached the agent in {took:?}");

    let modules = line(&log, "hookos: modules loaded:");
    for m in [
        "virtio_net",
        "virtio_pci",
        "8021q",
        "ext4",
        "loop",
        "sd_mod",
    ] {
        assert!(
            modules.split_whitespace().any(|w| w == m),
            "{m} not loaded: {modules}"
        );
    }
    line(&log, "hookos: interface eth0 (52:54:00:00:00:31)");
    line(&log, "hookos: network up on eth0 192.0.2.50");
    line(&log, "gateway 192.0.2.1, dns 192.0.2.1");
    line(&log, "hookos: syslog to 192.0.2.1");
    line(&log, "hookos: starting agent");
    line(
        &log,
        "ironbell-agent: started worker_id=52:54:00:00:00:31 grpc_authority=192.0.2.1:42113 \
         tls=false facility=onprem",
    );
    // What /init said before syslogd ran, and what was said after.
    for needle in ["network up on eth0 192.0.2.50", "starting agent"] {
        let ok = wait_message(&messages, needle);
        assert!(
            ok,
            "no syslog message with {needle:?}; got:\n{}",
            messages.lock().expect("lock").join("\n")
        );
    }
    // The kernel's own messages (klogd).
    assert!(
        wait_message(&messages, "kernel"),
        "no kernel message by syslog: {:?}",
        messages.lock().expect("lock")
    );
    stop.store(true, Ordering::Relaxed);
    let _ = receiver.join();
    power_button(&serial, vm);
}

/// Presses the ACPI power button (QMP `system_powerdown`) and waits for the machine to
/// power itself off (busybox acpid, then init's shutdown).
fn power_button(serial: &Path, mut vm: ChildGuard) {
    let qmp = PathBuf::from(format!("{}.qmp", serial.display()));
    let stream = UnixStream::connect(&qmp).expect("connect to QMP");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut greeting = String::new();
    reader.read_line(&mut greeting).expect("QMP greeting");
    for command in ["qmp_capabilities", "system_powerdown"] {
        writeln!(writer, "{{\"execute\": \"{command}\"}}").expect("QMP command");
        // Events ({"event": ...}) may come before the answer.
        let mut answer = String::new();
        while !answer.contains("\"return\"") && !answer.contains("\"error\"") {
            answer.clear();
            let n = reader.read_line(&mut answer).expect("QMP answer");
            assert!(n > 0, "QMP closed during {command}");
        }
        assert!(answer.contains("return"), "{command}: {answer}");
    }
    let start = Instant::now();
    loop {
        let child = vm.child().expect("qemu");
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "still running 60 s after the power button:\n{}",
            read_log(serial)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let log = read_log(serial);
    assert!(log.contains("reboot: Power down"), "{log}");
    eprintln!("powered off {:?} after the power button", start.elapsed());
}

/// An Ethernet frame's VLAN ID, when it carries an 802.1Q tag.
fn vlan_of(frame: &[u8]) -> Option<u16> {
    (frame.len() >= 18 && frame[12..14] == [0x81, 0x00])
        .then(|| u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff)
}

#[test]
fn static_ipam_on_a_vlan() {
    if !require_tools() {
        return;
    }
    let mac = "52:54:00:00:00:32";
    let ipam = "ipam=52-54-00-00-00-32:100:192.0.2.77:255.255.255.0:192.0.2.1:hook-test:\
                192.0.2.1:example.test:";
    let params = kernel_params(&hardware_yaml(mac, Some("100")), mac, &[ipam]);
    assert!(params.contains("vlan_id=100"), "{params}");
    let dir = tempfile::tempdir().expect("tempdir");
    let ns = Netns::new().expect("netns");
    // QEMU sends each frame of the NIC as one datagram to 127.0.0.1:40001 (this test) from
    // 127.0.0.1:40002, and takes frames to deliver from datagrams sent there.
    let sock = ns
        .enter(|| UdpSocket::bind("127.0.0.1:40001"))
        .expect("enter")
        .expect("bind");
    sock.connect("127.0.0.1:40002").expect("connect");
    let guest: [u8; 6] = ironbell_boot::parse_mac(mac).expect("mac");
    let ours: [u8; 6] = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc];
    let stop = Arc::new(AtomicBool::new(false));
    let (seen, receiver) = collect(sock, stop.clone(), move |sock, f| {
        let vid = vlan_of(f)?;
        let ethertype = [f[16], f[17]];
        let payload = &f[18..];
        if ethertype == [0x08, 0x06] && payload.len() >= 28 && payload[6..8] == [0, 1] {
            // ARP request: answer for the server's address, tagged like the request.
            let (sender_ip, target_ip) = (&payload[14..18], &payload[24..28]);
            if target_ip == [192, 0, 2, 1] {
                let mut reply = Vec::with_capacity(60);
                reply.extend_from_slice(&guest);
                reply.extend_from_slice(&ours);
                reply.extend_from_slice(&f[12..18]);
                reply.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
                reply.extend_from_slice(&ours);
                reply.extend_from_slice(&[192, 0, 2, 1]);
                reply.extend_from_slice(&guest);
                reply.extend_from_slice(sender_ip);
                reply.resize(60, 0);
                let _ = sock.send(&reply);
            }
            return Some(format!(
                "vlan {vid} arp who-has {target_ip:?} from {sender_ip:?}"
            ));
        }
        if ethertype == [0x08, 0x00] && payload.len() >= 28 && payload[9] == 17 {
            let ihl = usize::from(payload[0] & 0x0f) * 4;
            let udp = payload.get(ihl..)?;
            let port = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
            let data = String::from_utf8_lossy(udp.get(8..)?);
            return Some(format!(
                "vlan {vid} udp from {:?} to port {port}: {data}",
                &payload[12..16]
            ));
        }
        Some(format!("vlan {vid} ethertype {ethertype:02x?}"))
    });

    let serial = dir.path().join("serial.log");
    let vm = start_vm(
        &ns,
        &params,
        "socket,id=n0,udp=127.0.0.1:40001,localaddr=127.0.0.1:40002",
        mac,
        &serial,
    );
    let (log, took, vm) = wait_serial(&serial, "ironbell-agent: started", vm);
    eprintln!("VLAN boot reached the agent in {took:?}");
    line(&log, "hookos: VLAN 100 on eth0: eth0.100");
    line(&log, "hookos: network up on eth0.100 192.0.2.77");
    line(
        &log,
        "hookos: network: static, prefix /24, gateway 192.0.2.1, dns 192.0.2.1, hostname hook-test",
    );
    line(
        &log,
        "ironbell-agent: started worker_id=52:54:00:00:00:32 grpc_authority=192.0.2.1:42113",
    );
    for needle in [
        "vlan 100 arp who-has [192, 0, 2, 1] from [192, 0, 2, 77]",
        "vlan 100 udp from [192, 0, 2, 77] to port 514",
        "network up on eth0.100 192.0.2.77",
    ] {
        let ok = wait_message(&seen, needle);
        assert!(
            ok,
            "nothing with {needle:?} from the guest; got:\n{}",
            seen.lock().expect("lock").join("\n")
        );
    }
    assert!(
        seen.lock()
            .expect("lock")
            .iter()
            .all(|m| m.starts_with("vlan 100 ")),
        "frames tagged with another VLAN"
    );
    stop.store(true, Ordering::Relaxed);
    let _ = receiver.join();
    drop(vm);
}

#[test]
fn two_builds_give_the_same_bytes() {
    if !require_tools() {
        return;
    }
    let first = artifacts();
    let second = work_dir().join("b");
    let took = build(&second);
    eprintln!("second (cached) build took {took:?}");
    for name in ["vmlinuz-x86_64", "initramfs-x86_64", "SHA256SUMS"] {
        let a = std::fs::read(first.join(name)).expect("first build");
        let b = std::fs::read(second.join(name)).expect("second build");
        assert!(
            a == b,
            "{name} differs between two builds of the same inputs"
        );
    }
    eprintln!("{}", read_log(&second.join("SHA256SUMS")));
}
