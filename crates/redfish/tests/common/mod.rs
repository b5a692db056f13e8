//! Test plumbing: a sushy-tools emulator (fake driver) in a fresh network namespace, a
//! static HTTP server for virtual media images, certificates, and a way to run async client
//! code inside the namespace.

#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ironbell_redfish::{Auth, Client, Config, PowerState};
use ironbell_testbed::Netns;

pub const USER: &str = "admin";
pub const PASSWORD: &str = "Sup3r-s3cret-PW";

pub use ironbell_testbed::find_tool as tool;

/// Whether sushy-tools' emulator can run here: root (it runs in a namespace), the emulator
/// and Python. Under CI a missing one fails the test, elsewhere it is skipped with a line.
pub fn peers_present() -> bool {
    ironbell_testbed::require_tier(ironbell_testbed::Tier::Root)
        && ironbell_testbed::require_tools(&["sushy-emulator", "python3"])
}

pub fn sushy() -> PathBuf {
    tool("sushy-emulator").expect("sushy-emulator not found: run scripts/setup (pip sushy-tools)")
}

pub fn python() -> PathBuf {
    tool("python3").expect("python3 not found")
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
    /// Spawns `cmd` (built with `ns.command`) with its output going to `log`.
    pub fn spawn(mut cmd: Command, log: &Path) -> Proc {
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

    pub fn is_running(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

/// A free TCP port on 127.0.0.1 inside `ns`.
pub fn free_port(ns: &Netns) -> u16 {
    ns.enter(|| {
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    })
    .unwrap()
}

/// Waits until something accepts TCP on 127.0.0.1:`port` inside `ns`.
pub fn wait_listening(ns: &Netns, port: u16, proc: &mut Proc, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = ns
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
        assert!(
            Instant::now() < deadline,
            "server on port {port} never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What the emulator is started with.
#[derive(Default)]
pub struct Options {
    /// Require HTTP basic auth (an htpasswd with USER/PASSWORD, bcrypt).
    pub auth: bool,
    /// Serve HTTPS with this certificate and key (PEM).
    pub tls: Option<(String, String)>,
}

/// A sushy-tools emulator with the fake driver in its own namespace and state directory.
pub struct Sushy {
    pub proc: Proc,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub ns: Netns,
}

impl Sushy {
    pub fn start(opts: Options) -> Sushy {
        let ns = Netns::new().expect("netns (needs root)");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port(&ns);
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        // The fake driver keeps its state in SQLite under SUSHY_EMULATOR_STATE_DIR, by
        // default shared by every emulator on the machine: each test gets its own.
        let mut config = format!("SUSHY_EMULATOR_STATE_DIR = {:?}\n", state.to_str().unwrap());
        if opts.auth {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{USER}:{}\n", bcrypt_hash(PASSWORD))).unwrap();
            config += &format!(
                "SUSHY_EMULATOR_AUTH_FILE = {:?}\n",
                htpasswd.to_str().unwrap()
            );
        }
        let cfg = dir.path().join("emulator.conf");
        std::fs::write(&cfg, config).unwrap();
        let mut cmd = ns.command(sushy().to_str().unwrap());
        cmd.args(["--fake", "-i", "127.0.0.1", "-p", &port.to_string()])
            .arg("--config")
            .arg(&cfg);
        if let Some((cert, key)) = &opts.tls {
            let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            std::fs::write(&c, cert).unwrap();
            std::fs::write(&k, key).unwrap();
            cmd.arg("--ssl-certificate")
                .arg(&c)
                .arg("--ssl-key")
                .arg(&k);
        }
        let log = dir.path().join("sushy.log");
        let mut proc = Proc::spawn(cmd, &log);
        wait_listening(&ns, port, &mut proc, &log);
        Sushy {
            proc,
            port,
            dir,
            ns,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn config(&self, auth: Auth) -> Config {
        let mut c = Config::new(&self.url(), USER, PASSWORD).unwrap();
        c.auth = auth;
        c.timeout = Duration::from_secs(30);
        c.power_wait = Duration::from_secs(60);
        c
    }

    /// Runs async `f` on a current-thread runtime inside the namespace.
    pub fn run<F, Fut, T>(&self, f: F) -> T
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = T>,
        T: Send,
    {
        run_in(&self.ns, f)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sushy.log")).unwrap_or_default()
    }
}

/// Runs async `f` on a current-thread runtime inside `ns`: every socket the client opens
/// belongs to the namespace.
pub fn run_in<F, Fut, T>(ns: &Netns, f: F) -> T
where
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = T>,
    T: Send,
{
    ns.enter(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(f())
    })
    .unwrap()
}

/// A bcrypt hash (what sushy's auth file takes), made by the venv's Python `bcrypt`
/// (a dependency of sushy-tools' stack), cost 4 since sushy checks it on every request.
pub fn bcrypt_hash(password: &str) -> String {
    let out = Command::new(python())
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

/// A CA and a server certificate for 127.0.0.1/localhost signed by it:
/// (ca_pem, cert_pem, key_pem).
pub fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "ironbell test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_cert.pem(), leaf.pem(), key.serialize_pem())
}

/// Polls the power state until it is `wanted` (the fake driver applies changes after a
/// random 1–11 s). Returns every state seen, in order, without repeats.
pub async fn poll_power(client: &Client, wanted: PowerState) -> Vec<PowerState> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: Vec<PowerState> = Vec::new();
    loop {
        let now = client.power_state().await.unwrap();
        if seen.last() != Some(&now) {
            seen.push(now);
        }
        if now == wanted {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "power never reached {wanted}; seen {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
