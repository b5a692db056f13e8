//! The lab network: a named network namespace with a bridge and one tap per machine, no
//! uplink and no route out. Built and removed with iproute2 (`ip`), as an administrator
//! would; nothing here touches the host's own namespace except creating and deleting the
//! namespace itself.

use std::fs::File;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use nix::sched::{CloneFlags, setns};

use crate::LabError;
use crate::plan::{BRIDGE, MachinePlan, PREFIX_LEN, SERVER_IP, ULA_PREFIX};

/// Runs `ip ARGS`, failing with ip's message.
fn ip(args: &[&str]) -> Result<(), LabError> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LabError::io("running ip (install iproute2)", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Setup(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Whether the named namespace exists.
pub fn exists(netns: &str) -> bool {
    std::path::Path::new("/run/netns").join(netns).exists()
}

/// Creates namespace `netns` with `lo` up, bridge [`BRIDGE`] holding [`SERVER_IP`], every
/// BMC address, the IPv6 ULA prefix's `::1`, and one tap per machine on the bridge.
pub fn create(netns: &str, machines: &[MachinePlan]) -> Result<(), LabError> {
    ip(&["netns", "add", netns])?;
    let result = (|| {
        let n = |args: &[&str]| {
            let mut all = vec!["-n", netns];
            all.extend_from_slice(args);
            ip(&all)
        };
        n(&["link", "set", "lo", "up"])?;
        n(&["link", "add", BRIDGE, "type", "bridge"])?;
        n(&[
            "addr",
            "add",
            &format!("{SERVER_IP}/{PREFIX_LEN}"),
            "dev",
            BRIDGE,
        ])?;
        for bmc in machines.iter().filter_map(|m| m.bmc_ip) {
            n(&["addr", "add", &format!("{bmc}/32"), "dev", BRIDGE])?;
        }
        let ula = ULA_PREFIX.trim_end_matches("/64");
        n(&["addr", "add", &format!("{ula}1/64"), "dev", BRIDGE, "nodad"])?;
        n(&["link", "set", BRIDGE, "up"])?;
        for m in machines {
            n(&["tuntap", "add", "dev", &m.tap, "mode", "tap"])?;
            n(&["link", "set", &m.tap, "master", BRIDGE])?;
            n(&["link", "set", &m.tap, "up"])?;
        }
        // radvd only advertises as a router; forwarding inside the namespace only.
        sysctl(netns, "net.ipv6.conf.all.forwarding=1")
    })();
    if result.is_err() {
        let _ = delete(netns);
    }
    result
}

fn sysctl(netns: &str, setting: &str) -> Result<(), LabError> {
    let status = Command::new("ip")
        .args(["netns", "exec", netns, "sysctl", "-qw", setting])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| LabError::io("running sysctl", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(LabError::Setup(format!(
            "sysctl {setting} in {netns} failed"
        )))
    }
}

/// Deletes the namespace (its bridge and taps go with it). Not an error when it is gone.
pub fn delete(netns: &str) -> Result<(), LabError> {
    if !exists(netns) {
        return Ok(());
    }
    ip(&["netns", "del", netns])
}

/// Runs `f` on a thread that has joined the namespace (to probe the services from inside).
pub fn within<T: Send>(netns: &str, f: impl FnOnce() -> T + Send) -> Result<T, LabError> {
    let path = format!("/run/netns/{netns}");
    let file = File::open(&path).map_err(|e| LabError::io(format!("opening {path}"), e))?;
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                setns(&file, CloneFlags::CLONE_NEWNET)
                    .map_err(|e| LabError::io("joining the lab namespace", e.into()))?;
                Ok(f())
            })
            .join()
            .map_err(|_| LabError::Setup("probe thread panicked".into()))?
    })
}

/// Whether something accepts TCP connections at `ip:port` inside the namespace.
pub fn tcp_open(netns: &str, ip: Ipv4Addr, port: u16) -> bool {
    within(netns, || {
        std::net::TcpStream::connect_timeout(
            &(ip, port).into(),
            std::time::Duration::from_millis(300),
        )
        .is_ok()
    })
    .unwrap_or(false)
}

/// Whether a UDP socket is bound at `ip:port` inside the namespace (binding it fails).
pub fn udp_bound(netns: &str, ip: Ipv4Addr, port: u16) -> bool {
    within(netns, || std::net::UdpSocket::bind((ip, port)).is_err()).unwrap_or(false)
}
