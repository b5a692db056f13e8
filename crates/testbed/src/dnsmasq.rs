//! [`Dnsmasq`]: a DHCP server that is not ironbell's (Debian's `dnsmasq-base`), the rival
//! that tests of rival-server detection run in a namespace.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{ChildGuard, Netns, wait_until};

/// A dnsmasq serving DHCP (no DNS) on one interface of a namespace, killed by PID on drop.
#[derive(Debug)]
pub struct Dnsmasq {
    _child: ChildGuard,
    log: PathBuf,
}

impl Dnsmasq {
    /// Starts dnsmasq on `iface` in `ns`, handing out `range` (`FIRST,LAST`, on the
    /// interface's subnet) with any further `args` (e.g. `--dhcp-boot=FILE,NAME,ADDRESS`).
    /// Its lease file and log (with `--log-dhcp`) go in `dir`. Returns once it listens on
    /// port 67, or fails with its log after 10 s.
    pub fn start(
        ns: &Netns,
        iface: &str,
        range: &str,
        args: &[&str],
        dir: &Path,
    ) -> io::Result<Self> {
        let log = dir.join(format!("dnsmasq-{iface}.log"));
        let path = |flag: &str, p: &Path| format!("--{flag}={}", p.display());
        let mut all = vec![
            "--keep-in-foreground".to_string(),
            "--conf-file=/dev/null".into(),
            "--port=0".into(),
            format!("--interface={iface}"),
            "--bind-interfaces".into(),
            format!("--dhcp-range={range},1h"),
            path(
                "dhcp-leasefile",
                &dir.join(format!("dnsmasq-{iface}.leases")),
            ),
            path("pid-file", &dir.join(format!("dnsmasq-{iface}.pid"))),
            path("log-facility", &log),
            "--log-dhcp".into(),
            "--user=root".into(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let child = ns.spawn("dnsmasq", &all)?;
        let this = Self { _child: child, log };
        if !wait_until(Duration::from_secs(10), || udp_port_open(ns, 67)) {
            return Err(io::Error::other(format!(
                "dnsmasq did not listen on port 67 in 10 s: {}",
                this.log()
            )));
        }
        Ok(this)
    }

    /// What dnsmasq logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Whether something in `ns` has UDP `port` open (`ss` from iproute2).
pub fn udp_port_open(ns: &Netns, port: u16) -> bool {
    ns.output("ss", &["-Hulnp", &format!("sport = :{port}")])
        .is_ok_and(|o| !o.stdout.is_empty())
}
