//! Test plumbing for the BMC service against real emulators: a network namespace per
//! test ([`Lab`]) holding a sushy-tools Redfish emulator (fake driver, HTTPS, basic auth,
//! several systems), OpenIPMI's ipmi_sim (with a chassis_control script that logs each
//! action) and pyghmi's BMC (`pyghmi_bmc.py`, which logs each action and keeps the boot
//! flags), plus ports that refuse or swallow traffic; a SQLite store in a temporary
//! directory; and a current-thread runtime whose thread is inside the namespace, so that
//! every socket the controllers open belongs to it.
//!
//! The emulator helpers are copies of the ones in ironbell-redfish's and ironbell-ipmi's
//! tests (test code is not shared between crates).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ironbell_bmc::Config;
use ironbell_bmc::provider::Timeouts;
use ironbell_model::bmc::{
    Connection, IpmitoolOptions, Job, JobCondition, Machine, MachineSpec, ProviderOptions,
    RedfishOptions, Task,
};
use ironbell_model::corev1::Secret;
use ironbell_model::{NamespacedRef, ObjectMeta, Resource};
use ironbell_store::{Api, SharedStore};
use ironbell_store_sqlite::SqliteStore;
use ironbell_testbed::Netns;

/// Namespace of every test object.
pub const NS: &str = "default";
/// The user of every emulator.
pub const USER: &str = "admin";
/// The password of every emulator (distinctive, so tests can look for it in texts; at
/// most 20 bytes for IPMI).
pub const PASSWORD: &str = "Qx7-adminPw-9z";
/// A wrong password, as distinctive.
pub const WRONG_PASSWORD: &str = "Wr0ng-Pw-77kq";

pub use ironbell_testbed::find_tool as tool;

/// Whether everything the lab needs is here (root, the BMC emulators, ipmitool): under CI a
/// missing one fails the test, elsewhere it is skipped with a line naming it.
pub fn tools_present() -> bool {
    ironbell_testbed::require_tier(ironbell_testbed::Tier::Root)
        && ironbell_testbed::require_tools(&[
            "sushy-emulator",
            "python3",
            "ipmi_sim",
            "ipmitool",
            "ip",
        ])
}

/// A child process killed (by PID) and reaped on drop.
pub struct Proc(Option<Child>);

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Proc {
    fn spawn(mut cmd: Command, log: &Path) -> Proc {
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        Proc(Some(child))
    }

    fn is_running(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

/// A sushy-tools emulator in the lab.
pub struct Sushy {
    pub port: u16,
    pub dir: PathBuf,
}

/// An ipmi_sim or pyghmi BMC in the lab.
pub struct Ipmi {
    pub port: u16,
    /// Its actions log.
    pub log: PathBuf,
    /// ipmi_sim's state directory (power and boot files), or pyghmi's directory.
    pub dir: PathBuf,
}

impl Ipmi {
    /// The actions the BMC's power backend saw so far.
    pub fn actions(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// One network namespace with emulators, a store file and a place for logs.
pub struct Lab {
    // Dropped in this order: processes, sockets, files, then the namespace.
    procs: Vec<Proc>,
    holes: Vec<Box<dyn std::any::Any + Send>>,
    pub dir: tempfile::TempDir,
    pub ns: Netns,
}

impl Lab {
    pub fn new() -> Lab {
        Lab {
            procs: Vec::new(),
            holes: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
            ns: Netns::new().expect("netns (needs root)"),
        }
    }

    fn sub(&self, name: &str) -> PathBuf {
        let d = self.dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A free TCP (and, almost surely, UDP) port on 127.0.0.1 in the namespace.
    pub fn free_port(&self) -> u16 {
        self.ns
            .enter(|| {
                TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port()
            })
            .unwrap()
    }

    /// A TCP port that accepts connections (the kernel completes the handshake) but
    /// never answers anything, and a UDP port that swallows datagrams: (tcp, udp).
    pub fn black_holes(&mut self) -> (u16, u16) {
        let (tcp, udp) = self
            .ns
            .enter(|| {
                let t = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
                let u = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
                (t, u)
            })
            .unwrap();
        let ports = (
            tcp.local_addr().unwrap().port(),
            udp.local_addr().unwrap().port(),
        );
        self.holes.push(Box::new(tcp));
        self.holes.push(Box::new(udp));
        ports
    }

    /// Starts sushy-tools (fake driver) over HTTPS with `cert`/`key` and basic auth
    /// (USER/PASSWORD), with one fake system per `(name, power)`.
    pub fn sushy(&mut self, systems: &[(&str, &str)], cert: &(String, String)) -> Sushy {
        let dir = self.sub(&format!("sushy{}", self.procs.len()));
        let port = self.free_port();
        let state = dir.join("state");
        std::fs::create_dir_all(&state).unwrap();
        let htpasswd = dir.join("htpasswd");
        std::fs::write(&htpasswd, format!("{USER}:{}\n", bcrypt_hash(PASSWORD))).unwrap();
        let fakes: Vec<String> = systems
            .iter()
            .enumerate()
            .map(|(i, (name, power))| {
                format!(
                    "{{'uuid': '27946b59-9e44-4fa7-8e91-{i:012}', 'name': '{name}', \
                     'power_state': '{power}', 'external_notifier': False, \
                     'nics': [{{'mac': '00:5c:52:31:3a:{i:02x}', 'ip': '192.0.2.{}'}}]}}",
                    i + 10
                )
            })
            .collect();
        let config = format!(
            "SUSHY_EMULATOR_STATE_DIR = {:?}\nSUSHY_EMULATOR_AUTH_FILE = {:?}\nSUSHY_EMULATOR_FAKE_SYSTEMS = [{}]\n",
            state.to_str().unwrap(),
            htpasswd.to_str().unwrap(),
            fakes.join(", ")
        );
        let cfg = dir.join("emulator.conf");
        std::fs::write(&cfg, config).unwrap();
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, &cert.0).unwrap();
        std::fs::write(&k, &cert.1).unwrap();
        let sushy = tool("sushy-emulator").expect("sushy-emulator");
        let mut cmd = self.ns.command(sushy.to_str().unwrap());
        cmd.args(["--fake", "-i", "127.0.0.1", "-p", &port.to_string()])
            .arg("--config")
            .arg(&cfg)
            .arg("--ssl-certificate")
            .arg(&c)
            .arg("--ssl-key")
            .arg(&k);
        let log = dir.join("sushy.log");
        let mut proc = Proc::spawn(cmd, &log);
        self.wait_tcp(port, &mut proc, &log);
        self.procs.push(proc);
        Sushy { port, dir }
    }

    /// Starts `tests/data/echo_bmc.py` over HTTPS with `cert`: a fake Redfish BMC that
    /// quotes the credentials it gets in its error messages. Returns its port.
    pub fn echo_bmc(&mut self, cert: &(String, String)) -> u16 {
        let dir = self.sub(&format!("echo{}", self.procs.len()));
        let port = self.free_port();
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, &cert.0).unwrap();
        std::fs::write(&k, &cert.1).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/echo_bmc.py");
        let mut cmd = self.ns.command("python3");
        cmd.arg(script).arg(port.to_string()).arg(&c).arg(&k);
        let log = dir.join("echo.log");
        let mut proc = Proc::spawn(cmd, &log);
        self.wait_tcp(port, &mut proc, &log);
        self.procs.push(proc);
        port
    }

    fn wait_tcp(&self, port: u16, proc: &mut Proc, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let up = self
                .ns
                .enter(|| {
                    TcpStream::connect_timeout(
                        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                        Duration::from_millis(500),
                    )
                    .is_ok()
                })
                .unwrap();
            if up {
                return;
            }
            assert!(
                proc.is_running(),
                "server on port {port} exited:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            assert!(Instant::now() < deadline, "port {port} never listened");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_udp(&self, port: u16, proc: &mut Proc, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let needle = format!(":{port} ");
        loop {
            let out = self.ns.output("ss", &["-Huln"]).expect("ss");
            if String::from_utf8_lossy(&out.stdout).contains(&needle) {
                return;
            }
            assert!(
                proc.is_running(),
                "BMC on port {port} exited:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            assert!(Instant::now() < deadline, "BMC not listening on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts ipmi_sim with user admin/PASSWORD, power as given (`true`: on).
    pub fn ipmi_sim(&mut self, power_on: bool) -> Ipmi {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.sub(&format!("ipmisim{}", self.procs.len()));
        let port = self.free_port();
        let script = dir.join("chassis.sh");
        std::fs::write(&script, CHASSIS_SCRIPT).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("power"), if power_on { "1\n" } else { "0\n" }).unwrap();
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
  user 2 true "{USER}" "{PASSWORD}" admin 10 none md2 md5 straight
"#,
            script = script.display()
        );
        std::fs::write(dir.join("lan.conf"), conf).unwrap();
        std::fs::write(
            dir.join("sim.emu"),
            "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\nmc_enable 0x20\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("state")).unwrap();
        let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
        let mut cmd = self.ns.command("ipmi_sim");
        cmd.args([
            "-c",
            &p("lan.conf"),
            "-f",
            &p("sim.emu"),
            "-s",
            &p("state"),
            "-n",
        ]);
        let log = dir.join("ipmi_sim.log");
        let mut proc = Proc::spawn(cmd, &log);
        self.wait_udp(port, &mut proc, &log);
        self.procs.push(proc);
        Ipmi {
            port,
            log: dir.join("actions.log"),
            dir,
        }
    }

    /// Starts pyghmi's BMC (power off) with user admin/PASSWORD.
    pub fn pyghmi(&mut self) -> Ipmi {
        let dir = self.sub(&format!("pyghmi{}", self.procs.len()));
        let port = self.free_port();
        let py = tool("python").or_else(|| tool("python3")).expect("python");
        let script = ironbell_testbed::pyghmi_bmc_script();
        let log = dir.join("actions.log");
        let mut cmd = self.ns.command(py.to_str().unwrap());
        cmd.arg(&script)
            .args(["--port", &port.to_string(), "--password", PASSWORD])
            .arg("--log")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "READY", "pyghmi BMC did not start");
        let mut proc = Proc(Some(child));
        self.wait_udp(port, &mut proc, &dir.join("none.log"));
        self.procs.push(proc);
        Ipmi { port, log, dir }
    }

    /// Runs ipmitool lanplus (suite 3) against 127.0.0.1:`port` in the namespace.
    pub fn ipmitool(&self, port: u16, args: &[&str]) -> String {
        let mut all = ironbell_testbed::lanplus_args(port, USER, PASSWORD, Some("3"), 3);
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = self.ns.output("ipmitool", &all).expect("run ipmitool");
        assert!(
            out.status.success(),
            "ipmitool {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Opens the lab's store file (again, after a restart).
    pub fn store(&self) -> SharedStore {
        Arc::new(SqliteStore::open(self.dir.path().join("store.db")).unwrap())
    }

    /// Runs async `f` on a current-thread runtime inside the namespace, with tracing
    /// output captured into `logs`.
    pub fn run<F, Fut, T>(&self, logs: &Logs, f: F) -> T
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = T>,
        T: Send,
    {
        let logs = logs.clone();
        self.ns
            .enter(move || {
                let subscriber = tracing_subscriber::fmt()
                    .with_env_filter(
                        tracing_subscriber::EnvFilter::try_from_default_env()
                            .unwrap_or_else(|_| "debug".into()),
                    )
                    .with_ansi(false)
                    .with_writer(move || logs.clone())
                    .finish();
                let _guard = tracing::subscriber::set_default(subscriber);
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(f())
            })
            .unwrap()
    }
}

/// Everything logged during a test (also echoed to stderr, which the harness captures).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        eprint!("{}", String::from_utf8_lossy(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// ipmi_sim's chassis_control program (a copy of ironbell-ipmi's test script): logs each
/// call to actions.log and keeps power and boot in files.
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

/// A bcrypt hash for sushy's auth file, by the venv's Python `bcrypt`.
pub fn bcrypt_hash(password: &str) -> String {
    let py = tool("python3").expect("python3");
    let out = Command::new(py)
        .args([
            "-c",
            "import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(rounds=4)).decode())",
            password,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bcrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A self-signed certificate for 127.0.0.1: (cert_pem, key_pem).
pub fn self_signed() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Test timing: Rufio's behaviour, with shorter connect budget and polls.
pub fn config() -> Config {
    Config {
        concurrency: 8,
        timeouts: Timeouts {
            connect: Duration::from_secs(6),
            request: Duration::from_secs(15),
            power_wait: Duration::from_secs(30),
        },
        machine_interval: Duration::from_secs(180),
        power_poll: Duration::from_secs(1),
        task_timeout: Duration::from_secs(120),
        reissue_after: Duration::from_secs(30),
    }
}

/// A connection through Redfish (sushy) to system `system`, preferring gofish.
pub fn redfish_conn(sushy_port: u16, system: &str, secret: &str, ipmi_port: u16) -> Connection {
    Connection {
        host: "127.0.0.1".into(),
        port: Some(0),
        auth_secret_ref: Some(NamespacedRef {
            name: Some(secret.into()),
            namespace: Some(NS.into()),
        }),
        insecure_tls: true,
        provider_options: Some(ProviderOptions {
            preferred_order: Some(vec!["gofish".into()]),
            redfish: Some(RedfishOptions {
                port: Some(i64::from(sushy_port)),
                system_name: Some(system.into()),
                use_basic_auth: None,
            }),
            ipmitool: Some(IpmitoolOptions {
                port: Some(i64::from(ipmi_port)),
                cipher_suite: None,
            }),
            ..ProviderOptions::default()
        }),
    }
}

/// A connection through IPMI on `port` (Rufio's default order: ipmitool first), with the
/// Redfish port pointing at `redfish_port`.
pub fn ipmi_conn(port: u16, secret: &str, redfish_port: u16) -> Connection {
    Connection {
        host: "127.0.0.1".into(),
        port: Some(0),
        auth_secret_ref: Some(NamespacedRef {
            name: Some(secret.into()),
            namespace: Some(NS.into()),
        }),
        insecure_tls: true,
        provider_options: Some(ProviderOptions {
            ipmitool: Some(IpmitoolOptions {
                port: Some(i64::from(port)),
                cipher_suite: None,
            }),
            redfish: Some(RedfishOptions {
                port: Some(i64::from(redfish_port)),
                ..RedfishOptions::default()
            }),
            ..ProviderOptions::default()
        }),
    }
}

/// Stores the good and the wrong credentials Secrets (`good`, `wrong`).
pub async fn secrets(store: &SharedStore) {
    let api = Api::<Secret>::new(store.clone());
    api.create(&Secret::basic_auth(NS, "good", USER, PASSWORD))
        .await
        .unwrap();
    api.create(&Secret::basic_auth(NS, "wrong", USER, WRONG_PASSWORD))
        .await
        .unwrap();
}

pub async fn machine(store: &SharedStore, name: &str, connection: Connection) {
    Api::<Machine>::new(store.clone())
        .create(&Machine {
            metadata: ObjectMeta::named(NS, name),
            spec: MachineSpec { connection },
            ..Machine::default()
        })
        .await
        .unwrap();
}

/// Polls `name` until `f` returns something, or panics after `timeout` with the object.
pub async fn wait_for<K, T>(
    store: &SharedStore,
    name: &str,
    timeout: Duration,
    f: impl Fn(&K) -> Option<T>,
) -> T
where
    K: Resource + std::fmt::Debug,
{
    let api = Api::<K>::new(store.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let got = api.get(NS, name).await;
        if let Ok(obj) = &got
            && let Some(t) = f(obj)
        {
            return t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} {name}: condition not met within {timeout:?}; last: {got:#?}",
            K::KIND
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The condition of `type_` on a Job or Task, if any.
pub fn condition<'a>(
    conditions: Option<&'a Vec<JobCondition>>,
    type_: &str,
) -> Option<&'a JobCondition> {
    conditions?.iter().find(|c| c.type_ == type_)
}

/// Whether a Job is finished: Some((completed, failed message)).
pub fn job_done(j: &Job) -> Option<(bool, Option<String>)> {
    let c = j.status.as_ref().and_then(|s| s.conditions.as_ref());
    if condition(c, "Completed").is_some_and(|c| c.status == "True") {
        return Some((true, None));
    }
    condition(c, "Failed")
        .filter(|c| c.status == "True")
        .map(|c| (false, c.message.clone()))
}

/// Whether a Task is finished: Some((completed, failed message)).
pub fn task_done(t: &Task) -> Option<(bool, Option<String>)> {
    let c = t.status.as_ref().and_then(|s| s.conditions.as_ref());
    if condition(c, "Completed").is_some_and(|c| c.status == "True") {
        return Some((true, None));
    }
    condition(c, "Failed")
        .filter(|c| c.status == "True")
        .map(|c| (false, c.message.clone()))
}

/// The Contactable condition of a Machine, once it has one: (status, message, powerState).
pub fn contactable(m: &Machine) -> Option<(String, Option<String>, String)> {
    let s = m.status.as_ref()?;
    let c = s
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Contactable")?;
    let power = serde_json_power(m);
    Some((c.status.clone(), c.message.clone(), power))
}

/// [`contactable`] once the condition is `True`: a BMC that answers, even if an earlier
/// read failed (sushy-tools' emulator answers 500 "database is locked" now and then under
/// load; the controller reads again a second later, as it should).
pub fn reachable(m: &Machine) -> Option<(String, Option<String>, String)> {
    contactable(m).filter(|(status, ..)| status == "True")
}

fn serde_json_power(m: &Machine) -> String {
    match m.power_state() {
        ironbell_model::bmc::PowerState::On => "on",
        ironbell_model::bmc::PowerState::Off => "off",
        ironbell_model::bmc::PowerState::Unknown => "unknown",
    }
    .to_string()
}

/// ipmitool's `chassis power status`: true when on.
pub fn ipmitool_power_on(lab: &Lab, port: u16) -> bool {
    let out = lab.ipmitool(port, &["chassis", "power", "status"]);
    match out.trim() {
        "Chassis Power is on" => true,
        "Chassis Power is off" => false,
        other => panic!("unexpected ipmitool output {other:?}"),
    }
}
