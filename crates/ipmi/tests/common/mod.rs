//! Shared fixtures for the tests against real BMC implementations: each test makes its own
//! network namespace, starts ipmi_sim (OpenIPMI) or pyghmi's BMC inside it on a fresh port,
//! runs ironbell's client inside it, and asks ipmitool (also inside it) for its view of the
//! same BMC.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use ironbell_ipmi::{CipherSuite, CipherSuiteChoice, Config};
use ironbell_testbed::{ChildGuard, Netns, Tier, find_tool, missing, require_tier, require_tool};

/// The password every test BMC has for user `admin` (distinctive, so that tests can look
/// for it in error texts and Debug output).
pub const PASSWORD: &str = "Qx7-adminPw-9z";

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// A port no other test in this process uses (each test also has its own namespace).
pub fn fresh_port() -> u16 {
    20_623 + NEXT_PORT.fetch_add(1, Ordering::Relaxed)
}

/// The Python with pyghmi: `<repo>/.venv/bin/python` first, then `python3` on PATH.
pub fn python() -> Option<PathBuf> {
    find_tool("python").or_else(|| find_tool("python3"))
}

/// Whether the tools a test needs are here (and root, for the namespace every BMC runs
/// in); "python" means a Python with pyghmi. Under CI a missing one fails the test,
/// elsewhere it is skipped with a line naming it.
pub fn tools_present(names: &[&str]) -> bool {
    if !require_tier(Tier::Root) {
        return false;
    }
    names.iter().all(|n| match *n {
        "python" => {
            let ok = python().is_some_and(|p| {
                std::process::Command::new(p)
                    .args(["-c", "import pyghmi.ipmi.bmc"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
            if !ok {
                missing("pyghmi (Python) is not installed");
            }
            ok
        }
        n => require_tool(n).is_some(),
    })
}

/// Which BMC implementation a test talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// OpenIPMI's ipmi_sim with a chassis_control script.
    IpmiSim,
    /// pyghmi's Bmc as shipped (cipher suite 3 only).
    Pyghmi,
    /// pyghmi's Bmc with the suite-17 handshake of pyghmi_bmc.py.
    PyghmiSuite17,
}

/// A running BMC in its own namespace.
pub struct Bmc {
    // Dropped in this order: the process, its files, then its namespace.
    _child: ChildGuard,
    pub dir: tempfile::TempDir,
    pub ns: Netns,
    pub kind: Kind,
    pub port: u16,
}

impl Bmc {
    /// Starts `kind` on a fresh port in a new namespace and waits until it listens.
    pub fn start(kind: Kind) -> Bmc {
        let ns = Netns::new().expect("netns");
        let port = fresh_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = match kind {
            Kind::IpmiSim => start_ipmi_sim(&ns, port, dir.path()),
            Kind::Pyghmi | Kind::PyghmiSuite17 => {
                let py = python().expect("python");
                let script = ironbell_testbed::pyghmi_bmc_script();
                let log = dir.path().join("actions.log");
                let port_s = port.to_string();
                let mut args = vec![
                    script.to_str().unwrap(),
                    "--port",
                    &port_s,
                    "--log",
                    log.to_str().unwrap(),
                    "--password",
                    PASSWORD,
                ];
                if kind == Kind::PyghmiSuite17 {
                    args.push("--suite17");
                }
                let mut child = ns.spawn(py.to_str().unwrap(), &args).expect("spawn pyghmi");
                let stdout = child.child().unwrap().stdout.take().unwrap();
                let mut line = String::new();
                BufReader::new(stdout).read_line(&mut line).expect("read");
                assert_eq!(line.trim(), "READY", "pyghmi BMC did not start");
                child
            }
        };
        wait_listening(&ns, port, &mut child);
        Bmc {
            _child: child,
            dir,
            ns,
            kind,
            port,
        }
    }

    /// The chassis actions the BMC's power backend saw so far.
    pub fn actions(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("actions.log")).unwrap_or_default()
    }

    /// A client configuration for this BMC.
    pub fn config(&self, suite: CipherSuiteChoice) -> Config {
        let mut c = Config::new("127.0.0.1", "admin", PASSWORD);
        c.port = self.port;
        c.cipher_suite = suite;
        c.timeout = Duration::from_millis(700);
        c.retries = 3;
        c
    }

    /// Runs ipmitool lanplus against this BMC; returns its stdout, panicking with its
    /// stderr if it fails.
    pub fn ipmitool(&self, suite: CipherSuite, args: &[&str]) -> String {
        let port = self.port.to_string();
        let suite = suite.id().to_string();
        let mut all = vec![
            "-I",
            "lanplus",
            "-C",
            &suite,
            "-H",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "admin",
            "-P",
            PASSWORD,
            "-N",
            "1",
            "-R",
            "3",
        ];
        all.extend_from_slice(args);
        let out = self.ns.output("ipmitool", &all).expect("run ipmitool");
        assert!(
            out.status.success(),
            "ipmitool {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `f`'s future on a runtime whose thread is inside the namespace, so the
    /// client's socket is too.
    pub fn run<T: Send, Fut: Future<Output = T>>(&self, f: impl FnOnce() -> Fut + Send) -> T {
        in_ns(&self.ns, f)
    }
}

/// Runs `f`'s future on a current-thread runtime inside `ns`.
pub fn in_ns<T: Send, Fut: Future<Output = T>>(ns: &Netns, f: impl FnOnce() -> Fut + Send) -> T {
    ns.enter(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f())
    })
    .expect("enter namespace")
}

/// The chassis_control program ipmi_sim runs (`<prog> <device> get power|boot` prints
/// `power:1`, `boot:pxe`; `<prog> <device> set power 1 ...` changes them). Without such a
/// program (or a VM attached to a serial channel), ipmi_sim answers Chassis Control with
/// 0xCC and Get System Boot Options parameter 5 with 0xCC.
const CHASSIS_SCRIPT: &str = r#"#!/bin/sh
dir=$(dirname "$0")
shift
op=$1; shift
echo "$op $*" >> "$dir/actions.log"
if [ "$op" = get ]; then
  for p in "$@"; do
    case $p in
      power) echo "power:$(cat "$dir/power" 2>/dev/null || echo 0)";;
      boot) echo "boot:$(cat "$dir/boot" 2>/dev/null || echo none)";;
      *) echo "Invalid parameter: $p"; exit 1;;
    esac
  done
  exit 0
fi
while [ $# -ge 2 ]; do
  case $1 in
    power) echo "$2" > "$dir/power";;
    shutdown) echo 0 > "$dir/power";;
    boot) echo "$2" > "$dir/boot";;
    reset|identify) ;;
    *) echo "Invalid parameter: $1"; exit 1;;
  esac
  shift 2
done
"#;

fn start_ipmi_sim(ns: &Netns, port: u16, dir: &Path) -> ChildGuard {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("chassis.sh");
    std::fs::write(&script, CHASSIS_SCRIPT).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf = format!(
        r#"name "ironbell"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "{script} 0x20"
  user 2 true "admin" "{PASSWORD}" admin 10 none md2 md5 straight
"#,
        script = script.display()
    );
    std::fs::write(dir.join("lan.conf"), conf).unwrap();
    // The BMC: device ID 0, revision 0x23, firmware 9.08, device support 0x9f,
    // manufacturer 0x1291 (MontaVista), product 0xf02.
    std::fs::write(
        dir.join("sim.emu"),
        "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\nmc_enable 0x20\n",
    )
    .unwrap();
    std::fs::create_dir(dir.join("state")).unwrap();
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    ns.spawn(
        "ipmi_sim",
        &[
            "-c",
            &p("lan.conf"),
            "-f",
            &p("sim.emu"),
            "-s",
            &p("state"),
            "-n",
        ],
    )
    .expect("spawn ipmi_sim")
}

fn wait_listening(ns: &Netns, port: u16, child: &mut ChildGuard) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let needle = format!(":{port} ");
    loop {
        let out = ns.output("ss", &["-Huln"]).expect("ss");
        if String::from_utf8_lossy(&out.stdout).contains(&needle) {
            return;
        }
        if let Ok(Some(status)) = child.child().unwrap().try_wait() {
            panic!("BMC exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "BMC not listening on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// ipmitool's `chassis bootparam get 5`, as fields.
#[derive(Debug, PartialEq, Eq)]
pub struct IpmitoolBootFlags {
    pub data: Vec<u8>,
    pub valid: bool,
    pub persistent: bool,
    pub efi: bool,
    pub device: String,
}

pub fn parse_bootparam(out: &str) -> IpmitoolBootFlags {
    let hex = out
        .lines()
        .find_map(|l| l.strip_prefix("Boot parameter data: "))
        .unwrap_or_else(|| panic!("no data line in {out}"))
        .trim();
    let data = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let device = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("- Boot Device Selector : "))
        .unwrap_or_else(|| panic!("no selector line in {out}"))
        .trim()
        .to_string();
    IpmitoolBootFlags {
        data,
        valid: out.contains("- Boot Flag Valid"),
        persistent: out.contains("- Options apply to all future boots"),
        efi: out.contains("- BIOS EFI boot"),
        device,
    }
}
