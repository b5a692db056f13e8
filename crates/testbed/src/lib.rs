//! # ironbell-testbed
//!
//! Plumbing for tests that send real packets: throw-away network namespaces with no route
//! out, veth links between them, sockets created inside a namespace, and child processes
//! (dhclient, tftp, curl, QEMU...) run inside one and killed by PID when the test ends, and
//! a rival DHCP server ([`Dnsmasq`]) and a Docker engine ([`Dockerd`]).
//!
//! It is test support only: no ironbell service depends on it. The namespaces, bridges and
//! veth links themselves come from [`ironbell_netns`], which the lab uses too. Everything
//! it creates is removed on `Drop`, so a failing test leaves nothing behind. Namespaces are named
//! `ib<pid>x<n>` so that parallel tests and parallel test binaries never collide.
//!
//! Needs root (`ip netns add`), as ironbell's CI has. Start reading at [`Netns`].
//!
//! It also holds the one policy for what a test may skip ([`require_tool()`],
//! [`require_tier()`] and the macros [`require_tool!`] and [`require_tier!`]): with `CI` set
//! a missing peer tool fails the test; elsewhere the test prints one line naming the tool
//! and passes. `IRONBELL_TEST_TIER=quick` (`scripts/test --quick`) skips every test that
//! needs root, a virtual machine or a Docker engine, even under CI. And the one way to wait
//! for something in a test: [`wait_until`] (or [`wait_until_async`]) polls a condition
//! until a deadline, instead of sleeping for a guessed time.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod dnsmasq;
mod docker;
mod lan;
pub use dnsmasq::{Dnsmasq, udp_port_open};
pub use docker::{Dockerd, engine_with_test_images, test_images};
pub use lan::Lan;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A network namespace that exists as long as this value. Its loopback is up; it has no
/// other interface and no route until the test adds them.
///
/// A thin layer over [`ironbell_netns::Netns`] (the one implementation the lab uses too;
/// its bridge, tap, address and sysctl helpers are reached through `Deref`): a fresh name
/// per namespace, child processes killed on drop ([`Netns::spawn`]), and `io::Result`s
/// for tests.
#[derive(Debug)]
pub struct Netns(ironbell_netns::Netns);

impl std::ops::Deref for Netns {
    type Target = ironbell_netns::Netns;

    fn deref(&self) -> &ironbell_netns::Netns {
        &self.0
    }
}

impl Netns {
    /// Creates a fresh namespace with `lo` up.
    pub fn new() -> io::Result<Self> {
        let name = format!(
            "ib{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Ok(Self(ironbell_netns::Netns::create(name)?))
    }

    /// Runs `ip -n <ns> ARGS...`, failing with ip's message.
    pub fn ip(&self, args: &[&str]) -> io::Result<()> {
        Ok(self.0.ip(args)?)
    }

    /// The MAC address of interface `iface` inside the namespace.
    pub fn mac(&self, iface: &str) -> io::Result<[u8; 6]> {
        let out = self.output("cat", &[&format!("/sys/class/net/{iface}/address")])?;
        let text = String::from_utf8_lossy(&out.stdout);
        let bytes: Vec<u8> = text
            .trim()
            .split(':')
            .map(|h| u8::from_str_radix(h, 16))
            .collect::<Result<_, _>>()
            .map_err(|e| io::Error::other(format!("MAC of {iface} ({text:?}): {e}")))?;
        bytes
            .try_into()
            .map_err(|_| io::Error::other(format!("MAC of {iface} is not 6 bytes: {text:?}")))
    }

    /// Starts `program ARGS...` inside the namespace; it is killed when the guard drops.
    pub fn spawn(&self, program: &str, args: &[&str]) -> io::Result<ChildGuard> {
        let child = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        Ok(ChildGuard(Some(child)))
    }

    /// Runs `f` on a new thread that has joined this namespace, and returns its result.
    /// Sockets created by `f` belong to the namespace for their whole life, so a server can
    /// bind inside the namespace and then be driven from any thread or async runtime.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        Ok(self.0.enter(f)?)
    }

    /// A non-blocking TCP listener bound to `addr` inside this namespace (ready for
    /// `tokio::net::TcpListener::from_std`), e.g. `"0.0.0.0:0"` for any free port.
    pub fn tcp_listener(&self, addr: &str) -> io::Result<std::net::TcpListener> {
        let listener = self.enter(|| std::net::TcpListener::bind(addr))??;
        listener.set_nonblocking(true)?;
        Ok(listener)
    }
}

/// Links `a` and `b` with a veth pair named `a_if` (in `a`) and `b_if` (in `b`), both up.
/// Addresses are the caller's business (`ns.add_address(...)`).
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> io::Result<()> {
    Ok(ironbell_netns::veth(a, a_if, b, b_if)?)
}

/// A child process that is killed (by its PID, SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct ChildGuard(Option<Child>);

impl ChildGuard {
    /// Guards a child the test spawned itself (not in a namespace).
    pub fn new(child: Child) -> Self {
        Self(Some(child))
    }

    /// The child's PID.
    pub fn id(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }

    /// The child itself, e.g. to read its stdout.
    pub fn child(&mut self) -> Option<&mut Child> {
        self.0.as_mut()
    }

    /// The child's standard output (spawned with `Stdio::piped()`), line by line as it
    /// prints them, on a channel fed by a thread; `None` when it is not piped or was taken.
    pub fn stdout_lines(&mut self) -> Option<std::sync::mpsc::Receiver<String>> {
        use std::io::BufRead as _;
        let stdout = self.0.as_mut()?.stdout.take()?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Some(rx)
    }

    /// Kills the child and returns what it printed.
    pub fn finish(mut self) -> io::Result<Output> {
        let mut child = self.0.take().ok_or_else(|| io::Error::other("no child"))?;
        let _ = child.kill();
        child.wait_with_output()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The pyghmi BMC script the IPMI tests run (`python pyghmi_bmc.py --help`): pyghmi's
/// server-side `Bmc` keeping power and boot state in memory, with a suite-17 handshake.
/// One copy, shared by every crate whose tests need an IPMI BMC.
pub fn pyghmi_bmc_script() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/pyghmi_bmc.py"))
}

/// Starts `radvd` in `ns`, advertising the IPv6 prefix `prefix` (a `/64`, e.g.
/// `fd00:1b::/64`) on `iface`, which gets the prefix's `::1`. Old iPXE waits about 13 s
/// for a router advertisement before it gives up on IPv6; with one it configures at once.
/// The configuration file goes in `dir`. Forwarding is turned on inside `ns` only (radvd
/// advertises only as a router). The daemon is killed when the guard drops.
pub fn router_advertisements(
    ns: &Netns,
    iface: &str,
    prefix: &str,
    dir: &std::path::Path,
) -> io::Result<ChildGuard> {
    let base = prefix
        .strip_suffix("::/64")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "prefix must be a ::/64"))?;
    ns.add_address(iface, &format!("{base}::1/64"))?;
    ns.sysctl("net.ipv6.conf.all.forwarding=1")?;
    let conf = dir.join(format!("radvd-{iface}.conf"));
    std::fs::write(
        &conf,
        format!(
            "interface {iface} {{\n  AdvSendAdvert on;\n  IgnoreIfMissing on;\n  \
             MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 4;\n  AdvDefaultLifetime 0;\n  \
             prefix {prefix} {{ AdvOnLink on; AdvAutonomous on; }};\n}};\n"
        ),
    )?;
    let pid = dir.join(format!("radvd-{iface}.pid"));
    let (conf, pid) = (conf.display().to_string(), pid.display().to_string());
    ns.spawn(
        "radvd",
        &[
            "--nodaemon",
            "--config",
            &conf,
            "--pidfile",
            &pid,
            "--logmethod",
            "stderr",
        ],
    )
}

/// The arguments of `ipmitool -I lanplus` for a BMC at 127.0.0.1:`port` (one try of one
/// second plus `retries` retries; cipher suite `suite` unless `None`, i.e. ipmitool's
/// choice). The caller appends the command.
pub fn lanplus_args(
    port: u16,
    user: &str,
    password: &str,
    suite: Option<&str>,
    retries: u32,
) -> Vec<String> {
    let mut args: Vec<String> = ["-I", "lanplus", "-H", "127.0.0.1", "-p"]
        .map(String::from)
        .to_vec();
    args.push(port.to_string());
    args.extend(["-U", user, "-P", password, "-N", "1", "-R"].map(String::from));
    args.push(retries.to_string());
    if let Some(suite) = suite {
        args.extend(["-C".to_string(), suite.to_string()]);
    }
    args
}

/// Whether a program is on `PATH` (tests use it to say clearly which package is missing).
pub fn have(program: &str) -> bool {
    which(program).is_some()
}

/// Where `program` is on `PATH`, if anywhere.
fn which(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Whether the tests run under CI: `CI` is set to anything but empty, `false` or `0`
/// (GitHub Actions, GitLab and `.ci/run` set `CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| ci_value_set(&v))
}

/// Whether a value of `CI` means "under CI".
fn ci_value_set(v: &str) -> bool {
    !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false")
}

/// Whether only the quick tier runs: `IRONBELL_TEST_TIER=quick` (`scripts/test --quick`).
pub fn quick_tier() -> bool {
    std::env::var("IRONBELL_TEST_TIER").is_ok_and(|v| v.trim() == "quick")
}

/// The running test's name (libtest names each test's thread after it).
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string()
}

/// Writes a skip line to the process's stderr itself, not through `eprintln!`, which the
/// test harness captures and shows only for a failed test: a skipped test passes, and its
/// line must still be seen in `cargo test`'s output.
fn skipped(line: &str) {
    use std::io::Write;
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// A test cannot run because `why`: under CI that is a failure (a panic naming `why`),
/// elsewhere one line on stderr, and the caller returns early.
pub fn missing(why: &str) {
    let test = test_name();
    assert!(
        !in_ci(),
        "{test}: {why}, and CI is set: a missing peer fails the test (scripts/setup installs it)"
    );
    skipped(&format!(
        "SKIPPED {test}: {why} (runs when it is there; under CI it fails)"
    ));
}

/// Where a tool is, without the policy of [`require_tool()`] (for a choice between tools):
/// `<repo>/.venv/bin/NAME` (the Python tools that `scripts/setup` installs there), else
/// `NAME` on `PATH`.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.venv/bin")
        .join(name);
    if venv.is_file() {
        return Some(venv);
    }
    which(name)
}

/// The path of a peer tool a test needs: `<repo>/.venv/bin/NAME` (the Python tools that
/// `scripts/setup` installs there), else `NAME` on `PATH`. When it is missing: under CI the
/// test fails; elsewhere one line says it was skipped and `None` is returned.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let found = find_tool(name);
    if found.is_none() {
        missing(&format!("{name} is not installed"));
    }
    found
}

/// [`require_tool()`] for each of `names`: whether every one is there.
pub fn require_tools(names: &[&str]) -> bool {
    names.iter().all(|n| require_tool(n).is_some())
}

/// What a test needs beyond an unprivileged process on loopback; such a test is left out of
/// the quick tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// Root: network namespaces, loop devices, binding port 67 or 69.
    Root,
    /// Root and QEMU (`qemu-system-x86_64`): a virtual machine.
    Vm,
    /// Root and a Docker engine (`dockerd`, `docker`).
    Docker,
}

impl Tier {
    fn what(self) -> &'static str {
        match self {
            Tier::Root => "root",
            Tier::Vm => "root and QEMU",
            Tier::Docker => "root and a Docker engine",
        }
    }
}

/// Whether a test that needs `tier` runs here. In the quick tier
/// (`IRONBELL_TEST_TIER=quick`) it does not, even under CI: one line says so. Otherwise the
/// tier's needs are checked as peer tools are ([`missing`]): not root, or QEMU or Docker
/// not installed, fails under CI and skips elsewhere.
pub fn require_tier(tier: Tier) -> bool {
    if quick_tier() {
        skipped(&format!(
            "SKIPPED {}: needs {} (IRONBELL_TEST_TIER=quick)",
            test_name(),
            tier.what()
        ));
        return false;
    }
    if !nix::unistd::geteuid().is_root() {
        missing(&format!("needs {}, and runs as a user", tier.what()));
        return false;
    }
    match tier {
        Tier::Root => true,
        Tier::Vm => require_tool("qemu-system-x86_64").is_some(),
        Tier::Docker => require_tools(&["dockerd", "docker"]),
    }
}

/// `let path = require_tool!("ipmitool");`: the tool's path, or `return` from the test
/// (after [`require_tool()`]'s line; under CI it fails instead). A second argument is the
/// value to return, for tests that return one: `require_tool!("curl", Ok(()))`.
#[macro_export]
macro_rules! require_tool {
    ($name:expr) => {
        $crate::require_tool!($name, ())
    };
    ($name:expr, $ret:expr) => {
        match $crate::require_tool($name) {
            Some(path) => path,
            None => return $ret,
        }
    };
}

/// `require_tier!(Tier::Root);`: `return` from the test unless [`require_tier()`] says it
/// runs here. A second argument is the value to return, as for [`require_tool!`].
#[macro_export]
macro_rules! require_tier {
    ($tier:expr) => {
        $crate::require_tier!($tier, ())
    };
    ($tier:expr, $ret:expr) => {
        if !$crate::require_tier($tier) {
            return $ret;
        }
    };
}

/// Polls `cond` until it holds or `timeout` has passed: whether it held. The poll interval
/// starts at 1 ms and doubles up to 50 ms, so a quick condition is seen at once and a slow
/// one costs little CPU. Sleeping between polls is not synchronisation: the deadline bounds
/// the wait, the condition ends it.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// [`wait_until`] for async tests: `cond` is awaited, and the pause between polls yields
/// to the runtime (a condition that needs the runtime's other tasks can become true).
pub async fn wait_until_async<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// Runs busybox `udhcpc` on `host`'s `eth0` (`tries` Discovers, `timeout` seconds apart,
/// bounded by `timeout(1)` as well) and returns the variables its script saw on `bound`
/// (`ip`, `subnet`, `router`, `dns`, `hostname`, `serverid`...), or `None` (printing
/// udhcpc's output) when it got no lease. Scripts and results go in `dir`.
pub fn udhcpc(
    host: &Netns,
    dir: &Path,
    tries: u32,
    timeout: u32,
) -> Option<std::collections::HashMap<String, String>> {
    let out = dir.join(format!("{}.env", host.name()));
    let _ = std::fs::remove_file(&out);
    let script = dir.join("udhcpc.sh");
    if !script.exists() {
        use std::os::unix::fs::PermissionsExt;
        let body = "#!/bin/sh\n[ \"$1\" = bound ] && env > \"$OUT.tmp\" && mv \"$OUT.tmp\" \"$OUT\"\nexit 0\n";
        std::fs::write(&script, body).ok()?;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).ok()?;
    }
    let limit = (tries * timeout + 10).to_string();
    let (tries, timeout) = (tries.to_string(), timeout.to_string());
    let script = script.display().to_string();
    let out_env = format!("OUT={}", out.display());
    let result = host
        .output(
            "env",
            &[
                &out_env, "timeout", &limit, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f",
                "-s", &script, "-t", &tries, "-T", &timeout,
            ],
        )
        .ok()?;
    if !result.status.success() {
        eprintln!(
            "udhcpc on {} got no lease: {}",
            host.name(),
            String::from_utf8_lossy(&result.stderr)
        );
        return None;
    }
    let env = std::fs::read_to_string(&out).ok()?;
    Some(
        env.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect(),
    )
}

/// Longest pause between two polls of [`wait_until`].
const MAX_POLL: Duration = Duration::from_millis(50);

/// A fixed-seed pseudo-random generator (xorshift64*) for mutation and garbage tests: the
/// same seed gives the same inputs on every run, so a failure reproduces, and no extra
/// crate is needed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (zero is replaced, as xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_values() {
        for v in ["true", "1", "yes", "TRUE"] {
            assert!(ci_value_set(v), "{v}");
        }
        for v in ["", " ", "0", "false", "False"] {
            assert!(!ci_value_set(v), "{v:?}");
        }
    }

    /// Run by [`a_missing_tool_fails_under_ci_and_skips_elsewhere`] in a child process.
    #[test]
    #[ignore = "a probe run by a_missing_tool_fails_under_ci_and_skips_elsewhere"]
    fn probe_missing_tool() {
        let _path = require_tool!("ironbell-no-such-tool");
        panic!("require_tool! found a tool that does not exist");
    }

    /// Run by [`the_quick_tier_skips_even_under_ci`] in a child process.
    #[test]
    #[ignore = "a probe run by the_quick_tier_skips_even_under_ci"]
    fn probe_tier() {
        require_tier!(Tier::Vm);
        assert!(
            !quick_tier(),
            "require_tier! let a VM test run in the quick tier"
        );
    }

    /// Runs the ignored test `name` of this binary with `env` set (and `CI` and
    /// `IRONBELL_TEST_TIER` removed unless given): (passed, its stderr and stdout).
    fn probe(name: &str, env: &[(&str, &str)]) -> (bool, String) {
        let mut cmd = std::process::Command::new(std::env::current_exe().expect("current_exe"));
        cmd.args(["--ignored", "--exact", "--nocapture", name])
            .env_remove("CI")
            .env_remove("IRONBELL_TEST_TIER")
            .envs(env.iter().copied());
        let out = cmd.output().expect("run the test binary");
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        (out.status.success(), text)
    }

    #[test]
    fn a_missing_tool_fails_under_ci_and_skips_elsewhere() {
        let (passed, text) = probe("tests::probe_missing_tool", &[]);
        assert!(passed, "{text}");
        assert!(
            text.contains(
                "SKIPPED tests::probe_missing_tool: ironbell-no-such-tool is not installed"
            ),
            "{text}"
        );
        for ci in ["true", "1"] {
            let (passed, text) = probe("tests::probe_missing_tool", &[("CI", ci)]);
            assert!(!passed, "CI={ci}: {text}");
            assert!(
                text.contains("ironbell-no-such-tool is not installed, and CI is set"),
                "{text}"
            );
        }
        let (passed, text) = probe("tests::probe_missing_tool", &[("CI", "false")]);
        assert!(passed, "CI=false: {text}");
    }

    #[test]
    fn the_quick_tier_skips_even_under_ci() {
        let quick = [("IRONBELL_TEST_TIER", "quick"), ("CI", "true")];
        let (passed, text) = probe("tests::probe_tier", &quick);
        assert!(passed, "{text}");
        assert!(
            text.contains(
                "SKIPPED tests::probe_tier: needs root and QEMU (IRONBELL_TEST_TIER=quick)"
            ),
            "{text}"
        );
    }

    #[test]
    fn wait_until_sees_a_condition_and_gives_up_at_the_deadline() {
        let start = Instant::now();
        let mut polls = 0;
        assert!(wait_until(Duration::from_secs(10), || {
            polls += 1;
            polls == 5
        }));
        assert_eq!(polls, 5);
        assert!(!wait_until(Duration::from_millis(30), || false));
        assert!(start.elapsed() >= Duration::from_millis(30));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let mut n = 0;
        assert!(rt.block_on(wait_until_async(Duration::from_secs(10), || {
            n += 1;
            let done = n == 3;
            async move { done }
        })));
        assert!(
            !rt.block_on(wait_until_async(Duration::from_millis(20), || async {
                false
            }))
        );
    }

    #[test]
    fn namespaces_are_isolated_and_removed() {
        require_tier!(Tier::Root);
        let a = Netns::new().expect("netns");
        let b = Netns::new().expect("netns");
        veth(&a, "v0", &b, "v1").expect("veth");
        a.ip(&["addr", "add", "192.0.2.1/24", "dev", "v0"])
            .expect("addr");
        b.ip(&["addr", "add", "192.0.2.2/24", "dev", "v1"])
            .expect("addr");
        // A socket bound inside `a` receives what `b` sends over the veth.
        let sock = a
            .enter(|| std::net::UdpSocket::bind("192.0.2.1:0"))
            .expect("enter")
            .expect("bind");
        let port = sock.local_addr().expect("addr").port();
        let sent = b
            .enter(move || {
                let s = std::net::UdpSocket::bind("0.0.0.0:0")?;
                s.send_to(b"hi", ("192.0.2.1", port))
            })
            .expect("enter")
            .expect("send");
        assert_eq!(sent, 2);
        let mut buf = [0u8; 8];
        sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let (n, from) = sock.recv_from(&mut buf).expect("recv");
        assert_eq!(
            (&buf[..n], from.ip().to_string().as_str()),
            (&b"hi"[..], "192.0.2.2")
        );
        // The host namespace cannot see 192.0.2.1.
        assert!(std::net::UdpSocket::bind("192.0.2.1:0").is_err());
        let name = a.name().to_string();
        drop(a);
        assert!(!std::path::Path::new(&format!("/var/run/netns/{name}")).exists());
    }
}
