//! # ironbell-netns
//!
//! Network namespaces and the links inside them — bridges, taps, veth pairs, addresses,
//! sysctls — built with iproute2 (`ip`) as an administrator would, and a way to run code
//! on a thread that has joined a namespace. It is the one implementation behind both the
//! lab's private network (`ironbell lab up`, [`ironbell-lab`]) and the throw-away
//! namespaces of the real-packet tests ([`ironbell-testbed`]).
//!
//! Why a crate of its own: the lab is product code (it ships in the `ironbell` binary) and
//! the testbed is test support (`publish = false`, the skip policy, child processes killed
//! on drop). Product code must not depend on test support, and the testbed must not depend
//! on the lab (that would pull the store, the operations layer and the virtual BMCs into
//! every test binary). So both depend on this small crate, which depends on neither.
//!
//! What it is not: a netlink library. It runs `ip`, whose messages are what an operator
//! would see, and every failure carries the command and what `ip` printed. Nothing here
//! touches the host's own namespace except creating and deleting namespaces.
//!
//! Start reading at [`Netns`]: [`Netns::create`] makes a namespace that is deleted when
//! the value drops unless [`Netns::persist`] keeps it (the lab's, which outlives the
//! process); [`Netns::existing`] refers to one made earlier.
//!
//! [`ironbell-lab`]: ../ironbell_lab/index.html
//! [`ironbell-testbed`]: ../ironbell_testbed/index.html

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use nix::sched::{CloneFlags, setns};

/// Where iproute2 keeps named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// A namespace operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// A program could not be started at all.
    #[error("running {program} (is {package} installed?): {source}")]
    Spawn {
        /// The program.
        program: &'static str,
        /// The package that provides it.
        package: &'static str,
        /// The error.
        source: io::Error,
    },
    /// A command ran and failed.
    #[error("{command}: {message}")]
    Failed {
        /// The command line.
        command: String,
        /// What it printed on stderr (or its exit status when it printed nothing).
        message: String,
    },
    /// Joining namespace `netns` failed.
    #[error("joining network namespace {netns}: {source}")]
    Enter {
        /// The namespace.
        netns: String,
        /// The error.
        source: io::Error,
    },
    /// The code run inside namespace `netns` panicked.
    #[error("the thread inside network namespace {0} panicked")]
    Panicked(String),
}

impl From<NetnsError> for io::Error {
    fn from(e: NetnsError) -> Self {
        let kind = match &e {
            NetnsError::Spawn { source, .. } | NetnsError::Enter { source, .. } => source.kind(),
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e.to_string())
    }
}

/// Runs `program ARGS` to completion, failing with its stderr.
fn run(program: &'static str, package: &'static str, args: &[&str]) -> Result<(), NetnsError> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| NetnsError::Spawn {
            program,
            package,
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(NetnsError::Failed {
        command: format!("{program} {}", args.join(" ")),
        message: if stderr.is_empty() {
            out.status.to_string()
        } else {
            stderr
        },
    })
}

/// Runs `ip ARGS` in the host's namespace (only `netns add`/`del` are done there).
fn ip(args: &[&str]) -> Result<(), NetnsError> {
    run("ip", "iproute2", args)
}

/// A named network namespace. When created by [`Netns::create`] it is deleted (with every
/// link inside it) when this value drops, unless [`Netns::persist`] was called.
#[derive(Debug)]
pub struct Netns {
    name: String,
    owned: bool,
}

impl Netns {
    /// Creates namespace `name` with `lo` up. Fails if it exists. Deleted on drop.
    pub fn create(name: impl Into<String>) -> Result<Self, NetnsError> {
        let name = name.into();
        ip(&["netns", "add", &name])?;
        // Owned from here, so a failure below deletes it again.
        let ns = Self { name, owned: true };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Namespace `name`, made earlier (by this process or another); never deleted on drop.
    /// Whether it exists is checked when it is used.
    pub fn existing(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            owned: false,
        }
    }

    /// Whether namespace `name` exists.
    pub fn exists(name: &str) -> bool {
        Self::path_of(name).exists()
    }

    /// Deletes namespace `name` and every link in it; not an error when it is gone.
    pub fn delete(name: &str) -> Result<(), NetnsError> {
        if !Self::exists(name) {
            return Ok(());
        }
        ip(&["netns", "del", name])
    }

    /// Keeps the namespace after this value drops (e.g. the lab's, which `lab down`
    /// removes in a later process); returns its name.
    pub fn persist(mut self) -> String {
        self.owned = false;
        std::mem::take(&mut self.name)
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn path_of(name: &str) -> PathBuf {
        PathBuf::from(NETNS_DIR).join(name)
    }

    /// Runs `ip -n <ns> ARGS...`, failing with ip's message.
    pub fn ip(&self, args: &[&str]) -> Result<(), NetnsError> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
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

    /// Sets a sysctl inside the namespace, e.g. `net.ipv6.conf.all.forwarding=1`.
    pub fn sysctl(&self, setting: &str) -> Result<(), NetnsError> {
        run(
            "ip",
            "iproute2 and procps",
            &["netns", "exec", &self.name, "sysctl", "-qw", setting],
        )
    }

    /// Adds bridge `bridge` and sets it up.
    pub fn add_bridge(&self, bridge: &str) -> Result<(), NetnsError> {
        self.ip(&["link", "add", bridge, "type", "bridge"])?;
        self.ip(&["link", "set", bridge, "up"])
    }

    /// Puts link `link` on bridge `bridge`.
    pub fn attach(&self, link: &str, bridge: &str) -> Result<(), NetnsError> {
        self.ip(&["link", "set", link, "master", bridge])
    }

    /// Adds tap `tap` (for a QEMU machine), on bridge `bridge` and up.
    pub fn add_tap(&self, tap: &str, bridge: &str) -> Result<(), NetnsError> {
        self.ip(&["tuntap", "add", "dev", tap, "mode", "tap"])?;
        self.attach(tap, bridge)?;
        self.ip(&["link", "set", tap, "up"])
    }

    /// Adds `cidr` (`10.0.0.1/24`, `fd00::1/64`) to `dev`. IPv6 addresses skip duplicate
    /// address detection, so they are usable at once (the namespace holds no other host
    /// that could have them).
    pub fn add_address(&self, dev: &str, cidr: &str) -> Result<(), NetnsError> {
        if cidr.contains(':') {
            self.ip(&["addr", "add", cidr, "dev", dev, "nodad"])
        } else {
            self.ip(&["addr", "add", cidr, "dev", dev])
        }
    }

    /// Runs `f` on a new thread that has joined this namespace, and returns its result.
    /// Sockets created by `f` belong to the namespace for their whole life, so a server can
    /// bind inside the namespace and then be driven from any thread or async runtime.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
        let enter_err = |source| NetnsError::Enter {
            netns: self.name.clone(),
            source,
        };
        let file = File::open(Self::path_of(&self.name)).map_err(enter_err)?;
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| enter_err(e.into()))?;
                    Ok(f())
                })
                .join()
                .map_err(|_| NetnsError::Panicked(self.name.clone()))?
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if self.owned {
            // Deleting the namespace also deletes the links inside it.
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Links `a` and `b` with a veth pair named `a_if` (in `a`) and `b_if` (in `b`), both up.
/// Addresses are the caller's business ([`Netns::add_address`]).
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<(), NetnsError> {
    // Created inside `a`, so that a failure leaves nothing in the host namespace.
    a.ip(&[
        "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
    ])?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])
}
