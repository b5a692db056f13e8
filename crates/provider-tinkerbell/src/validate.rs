//! The Tinkerbell checks of `setup-validate` (LIFECYCLE.md 1.2), each a
//! [`Check`] whose failure is one line naming what is wrong.
//!
//! Offline, pure: [`enough_hardware`] (every machine config has a non-empty
//! `hardwareSelector`, and each selector has as many available Hardware as the machines
//! that use it, summed over identical selectors; for a rolling upgrade the `maxSurge`
//! spares of [`Purpose::RollingUpgrade`]), [`one_selector_per_hardware`] and
//! [`tinkerbell_ip_is_not_the_endpoint`].
//!
//! On the network, with their target addresses as arguments: [`ip_not_in_use`] (a TCP
//! connection that is accepted or refused means a host has the address),
//! [`ports_free`], [`bmc_contactable`] (through `ironbell-bmc`'s clients, as Rufio's
//! `Contactable` does), and [`no_rival_dhcp`], the check EKS Anywhere lacks: a
//! DHCPDISCOVER on the provisioning interface (`ironbell_dhcp::probe`), failing when any
//! other server answers.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::Duration;

use ironbell_bmc::provider::{Credentials, Timeouts, connect};
use ironbell_capi::tinkerbell::TinkerbellSpec;
use ironbell_dhcp::probe::{ProbeConfig, probe};
use ironbell_lifecycle::provider::Check;
use ironbell_model::Resource;
use ironbell_model::bmc::Connection;
use ironbell_model::tinkerbell::Hardware;

use crate::OWNER_NAME_LABEL;

/// Name of the hardware-count check.
pub const ENOUGH_HARDWARE: &str = "Enough Hardware is available for each hardware selector";
/// Name of the one-selector check.
pub const ONE_SELECTOR: &str = "Each Hardware matches at most one hardware selector";
/// Name of the Tinkerbell IP check.
pub const TINKERBELL_IP_NOT_ENDPOINT: &str = "Tinkerbell IP is not the control plane endpoint";

/// What the Hardware is counted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A create: every machine needs a Hardware.
    Create,
    /// A rolling upgrade: each group needs `maxSurge` spare Hardware (default 1).
    RollingUpgrade,
}

/// Machines that need Hardware matching one selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Demand {
    /// Who needs them: `control plane`, `worker group md-0`.
    pub role: String,
    /// The machine config's `hardwareSelector`.
    pub selector: BTreeMap<String, String>,
    /// How many.
    pub count: u64,
}

/// A machine config the spec refers to is not in it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{role}: TinkerbellMachineConfig {name:?} is not in the spec")]
pub struct MissingMachineConfig {
    /// Who refers to it: `control plane`, `worker group md-0`.
    pub role: String,
    /// The name referred to.
    pub name: String,
}

/// How many Hardware a group of `count` machines (default 1) with `max_surge` (default 1)
/// needs for `purpose`.
fn needed(purpose: Purpose, count: Option<i64>, max_surge: Option<i64>) -> u64 {
    let n = match purpose {
        Purpose::Create => count.unwrap_or(1),
        Purpose::RollingUpgrade => max_surge.unwrap_or(1),
    };
    u64::try_from(n).unwrap_or(0)
}

/// What `spec` needs, per machine group, for `purpose`.
pub fn demands(
    spec: &TinkerbellSpec,
    purpose: Purpose,
) -> Result<Vec<Demand>, MissingMachineConfig> {
    let mut out = Vec::new();
    let mut push = |role: String, mc: Option<&str>, n: u64| {
        let name = mc.unwrap_or_default();
        let config = spec
            .machine_configs
            .get(name)
            .ok_or_else(|| MissingMachineConfig {
                role: role.clone(),
                name: name.to_string(),
            })?;
        out.push(Demand {
            role,
            selector: config.spec.hardware_selector.clone(),
            count: n,
        });
        Ok(())
    };
    if let Some(cp) = &spec.cluster.spec.control_plane_configuration {
        let surge = cp
            .upgrade_rollout_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .map(|r| r.max_surge);
        let mc = cp.machine_group_ref.as_ref().map(|r| r.name());
        push("control plane".into(), mc, needed(purpose, cp.count, surge))?;
    }
    for (i, w) in spec
        .cluster
        .spec
        .worker_node_group_configurations
        .iter()
        .flatten()
        .enumerate()
    {
        let name = w.name.clone().unwrap_or_else(|| format!("md-{i}"));
        let surge = w
            .upgrade_rollout_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
            .map(|r| r.max_surge);
        let mc = w.machine_group_ref.as_ref().map(|r| r.name());
        push(
            format!("worker group {name}"),
            mc,
            needed(purpose, w.count, surge),
        )?;
    }
    Ok(out)
}

fn show(selector: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", inner.join(","))
}

fn matches(selector: &BTreeMap<String, String>, hw: &Hardware) -> bool {
    let labels = hw.metadata.labels.as_ref();
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Whether no machine owns `hw` (it has no [`OWNER_NAME_LABEL`]).
pub fn unowned(hw: &Hardware) -> bool {
    hw.metadata.label(OWNER_NAME_LABEL).is_none()
}

/// Every selector has at least as many unowned Hardware as `demands` sum up for it, and
/// no selector is empty (an empty one would match any Hardware).
pub fn enough_hardware(demands: &[Demand], hardware: &[Hardware]) -> Check {
    let mut problems = Vec::new();
    for d in demands.iter().filter(|d| d.selector.is_empty()) {
        problems.push(format!("{} has an empty hardwareSelector", d.role));
    }
    let mut grouped: BTreeMap<&BTreeMap<String, String>, (u64, Vec<&str>)> = BTreeMap::new();
    for d in demands.iter().filter(|d| !d.selector.is_empty()) {
        let e = grouped.entry(&d.selector).or_default();
        e.0 += d.count;
        e.1.push(&d.role);
    }
    for (selector, (needed, roles)) in grouped {
        let available = hardware
            .iter()
            .filter(|hw| unowned(hw) && matches(selector, hw))
            .count() as u64;
        if available < needed {
            problems.push(format!(
                "hardware selector {} ({}) needs {needed} available Hardware, {available} match",
                show(selector),
                roles.join(", ")
            ));
        }
    }
    outcome(ENOUGH_HARDWARE, problems)
}

/// No Hardware matches two different selectors of `demands`.
pub fn one_selector_per_hardware(demands: &[Demand], hardware: &[Hardware]) -> Check {
    let mut selectors: BTreeMap<&BTreeMap<String, String>, Vec<&str>> = BTreeMap::new();
    for d in demands.iter().filter(|d| !d.selector.is_empty()) {
        selectors.entry(&d.selector).or_default().push(&d.role);
    }
    let mut problems = Vec::new();
    for hw in hardware {
        let hits: Vec<String> = selectors
            .iter()
            .filter(|(s, _)| matches(s, hw))
            .map(|(s, roles)| format!("{} ({})", show(s), roles.join(", ")))
            .collect();
        if hits.len() > 1 {
            problems.push(format!(
                "Hardware {}/{} matches {} hardware selectors: {}",
                hw.namespace(),
                hw.name(),
                hits.len(),
                hits.join(", ")
            ));
        }
    }
    outcome(ONE_SELECTOR, problems)
}

/// The datacenter's `tinkerbellIP` differs from the control-plane endpoint.
pub fn tinkerbell_ip_is_not_the_endpoint(spec: &TinkerbellSpec) -> Check {
    let ip = spec.datacenter.spec.tinkerbell_ip.trim();
    let endpoint = spec
        .cluster
        .spec
        .control_plane_configuration
        .as_ref()
        .and_then(|c| c.endpoint.as_ref())
        .map(|e| e.host.trim());
    if endpoint == Some(ip) {
        Check::fail(
            TINKERBELL_IP_NOT_ENDPOINT,
            format!("the Tinkerbell IP {ip} is also the control plane endpoint; they must differ"),
        )
    } else {
        Check::pass(TINKERBELL_IP_NOT_ENDPOINT)
    }
}

fn outcome(name: &str, problems: Vec<String>) -> Check {
    if problems.is_empty() {
        Check::pass(name)
    } else {
        Check::fail(name, problems.join("; "))
    }
}

/// `ip` (the `what`: "control plane endpoint", "Tinkerbell IP") is not in use: no TCP
/// connection to any of `ports` is accepted or refused within `timeout`. A refusal is an
/// answer from a host that has the address, so it counts as in use.
pub async fn ip_not_in_use(what: &str, ip: IpAddr, ports: &[u16], timeout: Duration) -> Check {
    let name = format!("{what} {ip} is not in use");
    let attempts = ports.iter().map(|&port| async move {
        let addr = SocketAddr::new(ip, port);
        match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => Some(format!("port {port} accepted a connection")),
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                Some(format!("port {port} refused a connection"))
            }
            _ => None,
        }
    });
    let answers: Vec<String> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .flatten()
        .collect();
    if answers.is_empty() {
        Check::pass(name)
    } else {
        Check::fail(
            name,
            format!(
                "{what} {ip} is in use: a host answers there ({})",
                answers.join(", ")
            ),
        )
    }
}

/// The TCP `ports` can be bound on `ip` (nothing else listens there).
pub fn ports_free(ip: IpAddr, ports: &[u16]) -> Check {
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    let name = format!("Ports {} are free on {ip}", list.join(", "));
    let problems: Vec<String> = ports
        .iter()
        .filter_map(|&port| match TcpListener::bind(SocketAddr::new(ip, port)) {
            Ok(_) => None,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                Some(format!("port {port} on {ip} is in use"))
            }
            Err(e) => Some(format!("port {port} on {ip} cannot be bound: {e}")),
        })
        .collect();
    outcome(&name, problems)
}

/// The BMC of machine `name` answers at `connection` with `credentials` (a connection and
/// a power-state read, within `timeouts`). The password never appears in the outcome.
pub async fn bmc_contactable(
    name: &str,
    connection: &Connection,
    credentials: &Credentials,
    timeouts: Timeouts,
) -> Check {
    let check = format!("BMC of {name} ({}) is contactable", connection.host);
    let result = async {
        let mut bmc = connect(connection, credentials, timeouts)
            .await
            .map_err(|e| e.to_string())?;
        let state = bmc.power_state().await.map_err(|e| e.to_string());
        let _ = bmc.close().await;
        state.map(|_| ())
    }
    .await;
    match result {
        Ok(()) => Check::pass(check),
        Err(e) => Check::fail(
            check,
            format!(
                "BMC {} of {name} is not contactable: {}",
                connection.host,
                credentials.scrub(&e)
            ),
        ),
    }
}

/// No DHCP server but ours answers a DHCPDISCOVER on `config.interface` (blocking: runs
/// for the probe's timeout; needs `CAP_NET_RAW`).
pub fn no_rival_dhcp(config: &ProbeConfig) -> Check {
    let name = format!("No other DHCP server answers on {}", config.interface);
    match probe(config) {
        Ok(report) if !report.rival_found() => Check::pass(name),
        Ok(report) => {
            let mut servers: Vec<String> = report.servers.iter().map(ToString::to_string).collect();
            if report.over_limit > 0 {
                servers.push(format!("{} more answers", report.over_limit));
            }
            Check::fail(
                name,
                format!(
                    "another DHCP server answers on {}: {}",
                    config.interface,
                    servers.join("; ")
                ),
            )
        }
        Err(e) => Check::fail(
            name,
            format!("cannot probe {} for DHCP servers: {e}", config.interface),
        ),
    }
}

/// The offline checks of `setup-validate` for `spec` and its Hardware catalogue, in
/// EKS Anywhere's order: the Tinkerbell IP, enough Hardware per selector for `purpose`,
/// one selector per Hardware.
pub fn offline_checks(
    spec: &TinkerbellSpec,
    hardware: &[Hardware],
    purpose: Purpose,
) -> Vec<Check> {
    let mut checks = vec![tinkerbell_ip_is_not_the_endpoint(spec)];
    match demands(spec, purpose) {
        Ok(d) => {
            checks.push(enough_hardware(&d, hardware));
            checks.push(one_selector_per_hardware(&d, hardware));
        }
        Err(e) => checks.push(Check::fail(ENOUGH_HARDWARE, e.to_string())),
    }
    checks
}
