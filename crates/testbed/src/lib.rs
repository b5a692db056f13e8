//! # ironbell-testbed
//!
//! Plumbing for tests that send real packets: throw-away network namespaces with no route
//! out, veth links between them, sockets created inside a namespace, and child processes
//! (dhclient, tftp, curl, QEMU...) run inside one and killed by PID when the test ends.
//!
//! It is test support only: no ironbell service depends on it. Everything it creates is
//! removed on `Drop`, so a failing test leaves nothing behind. Namespaces are named
//! `ib<pid>x<n>` so that parallel tests and parallel test binaries never collide.
//!
//! Needs root (`ip netns add`), as ironbell's CI has. Start reading at [`Netns`].

use std::fs::File;
use std::io;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use nix::sched::{CloneFlags, setns};

mod lan;
pub use lan::Lan;

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn run_ok(cmd: &mut Command) -> io::Result<Output> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(io::Error::other(format!(
            "{:?} failed ({}): {}",
            cmd,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A network namespace that exists as long as this value. Its loopback is up; it has no
/// other interface and no route until the test adds them.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a fresh namespace with `lo` up.
    pub fn new() -> io::Result<Self> {
        let name = format!(
            "ib{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        run_ok(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <ns> ARGS...`, failing with ip's message.
    pub fn ip(&self, args: &[&str]) -> io::Result<()> {
        run_ok(Command::new("ip").arg("-n").arg(&self.name).args(args)).map(drop)
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Runs `program ARGS...` inside the namespace to completion and returns its output
    /// (whatever its exit status).
    pub fn output(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
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
        let file = File::open(format!("/var/run/netns/{}", self.name))?;
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    setns(&file, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
                    Ok(f())
                })
                .join()
                .map_err(|_| io::Error::other("thread inside the namespace panicked"))?
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace also deletes the veth ends inside it.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// Links `a` and `b` with a veth pair named `a_if` (in `a`) and `b_if` (in `b`), both up.
/// Addresses are the caller's business (`ns.ip(&["addr", "add", ...])`).
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> io::Result<()> {
    // Created inside `a`, so that a failed test leaves nothing in the host namespace.
    a.ip(&[
        "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
    ])?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])
}

/// A child process that is killed (by its PID, SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct ChildGuard(Option<Child>);

impl ChildGuard {
    /// The child's PID.
    pub fn id(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }

    /// The child itself, e.g. to read its stdout.
    pub fn child(&mut self) -> Option<&mut Child> {
        self.0.as_mut()
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
pub fn pyghmi_bmc_script() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/pyghmi_bmc.py"))
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
    ns.ip(&[
        "addr",
        "add",
        &format!("{base}::1/64"),
        "dev",
        iface,
        "nodad",
    ])?;
    let out = ns.output("sysctl", &["-qw", "net.ipv6.conf.all.forwarding=1"])?;
    if !out.status.success() {
        return Err(io::Error::other(
            "cannot enable IPv6 forwarding in the namespace",
        ));
    }
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
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

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
    fn namespaces_are_isolated_and_removed() {
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
