//! The validations of `setup-validate` (LIFECYCLE.md 1.2), each a named
//! [`Check`]: the spec's own rules, the Hardware per selector (the provider's offline
//! checks), and on the network the Tinkerbell IP, its ports, the control-plane endpoint,
//! every BMC, and a rival DHCP server on the provisioning interface — the check EKS
//! Anywhere lacks, since a rival DHCP server is a common reason machines never boot.
//!
//! Nothing here changes anything: a failed check is one line saying what is wrong.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use ironbell_bmc::provider::{Credentials, Timeouts};
use ironbell_capi::tinkerbell::TinkerbellSpec;
use ironbell_cluster_spec::Spec;
use ironbell_inventory::Row;
use ironbell_lifecycle::provider::Check;
use ironbell_model::tinkerbell::Hardware;
use ironbell_ops::plane::PlaneConfig;
use ironbell_provider_tinkerbell::validate::{self, Purpose};

/// Name of the spec check.
pub const SPEC_VALID: &str = "Tinkerbell Provider setup is valid";
/// How long a BMC gets to answer during validation.
pub const BMC_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the control-plane endpoint gets to answer (an answer means it is in use).
pub const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(2);

/// The spec's own rules (`ironbell validate cluster`), as one check naming every problem.
pub fn spec_checks(spec: &Spec) -> Vec<Check> {
    let report = ironbell_cluster_spec::validate(spec, None);
    let problems: Vec<String> = report
        .failures()
        .map(|(rule, finding)| format!("{rule}: {finding}"))
        .collect();
    vec![if problems.is_empty() {
        Check::pass(SPEC_VALID)
    } else {
        Check::fail(SPEC_VALID, problems.join("; "))
    }]
}

/// The Hardware of `rows`, as the import writes it.
pub fn hardware_of(rows: &[Row], namespace: &str) -> Vec<Hardware> {
    ironbell_inventory::translate(rows, namespace).hardware
}

/// The provider's offline checks of `spec` against `hardware` (enough per selector, one
/// selector per Hardware, the Tinkerbell IP not the endpoint).
pub fn hardware_checks(spec: &Spec, hardware: &[Hardware], purpose: Purpose) -> Vec<Check> {
    match TinkerbellSpec::from_spec(spec) {
        Ok(tink) => validate::offline_checks(&tink, hardware, purpose),
        Err(e) => vec![Check::fail(validate::ENOUGH_HARDWARE, e.to_string())],
    }
}

/// The Tinkerbell IP of `spec`.
pub fn tinkerbell_ip(spec: &Spec) -> Option<Ipv4Addr> {
    spec.tinkerbell_datacenter()
        .and_then(|d| d.spec.tinkerbell_ip.trim().parse().ok())
}

/// `ip` is an address of this machine: the bootstrap plane listens there.
pub fn ip_is_local(ip: Ipv4Addr) -> Check {
    let name = format!("Tinkerbell IP {ip} is an address of this machine");
    match TcpListener::bind(SocketAddr::from((ip, 0))) {
        Ok(_) => Check::pass(name),
        Err(e) => Check::fail(
            name,
            format!(
                "the Tinkerbell IP {ip} is not an address of this machine ({e}): the bootstrap \
                 plane listens there; add it to the provisioning interface"
            ),
        ),
    }
}

/// The network checks of a create: the Tinkerbell IP local and its ports free, the
/// control-plane endpoint unused, each BMC of `rows` contactable, and no other DHCP server
/// on the provisioning interface (when the plane answers DHCP with addresses).
pub async fn network_checks(spec: &Spec, plane: &PlaneConfig, rows: &[Row]) -> Vec<Check> {
    let mut checks = Vec::new();
    let network = &plane.network;
    let Some(ip) = tinkerbell_ip(spec) else {
        checks.push(Check::fail(
            "Tinkerbell IP is set",
            "the TinkerbellDatacenterConfig has no valid IPv4 tinkerbellIP",
        ));
        return checks;
    };
    let local = ip_is_local(ip);
    let is_local = local.outcome.is_ok();
    if is_local || plane.vip.is_none() {
        checks.push(local);
    } else {
        // A virtual address the bootstrap plane takes (a native plane moves it to the
        // cluster's machines): nobody may hold it yet.
        let ports = [
            network.http.port(),
            network.grpc.port(),
            network.metadata.port(),
        ];
        checks.push(
            validate::ip_not_in_use(
                "Tinkerbell IP (virtual)",
                IpAddr::V4(ip),
                &ports,
                ENDPOINT_TIMEOUT,
            )
            .await,
        );
    }
    if is_local {
        let mut ports = vec![
            network.http.port(),
            network.grpc.port(),
            network.metadata.port(),
        ];
        ports.dedup();
        checks.push(validate::ports_free(IpAddr::V4(ip), &ports));
    }
    let (endpoint, _) = spec.control_plane_host_port();
    match endpoint.parse::<IpAddr>() {
        Ok(addr) => checks.push(
            validate::ip_not_in_use(
                "Control plane endpoint",
                addr,
                &[22, 443, 6443],
                ENDPOINT_TIMEOUT,
            )
            .await,
        ),
        Err(_) => checks.push(Check::fail(
            "Control plane endpoint is an IP address",
            format!("the control plane endpoint {endpoint:?} is not an IP address"),
        )),
    }
    checks.extend(bmc_checks(rows).await);
    if let Some(boot) = &plane.boot
        && boot.dhcp_mode == ironbell_dhcp::Mode::Reservation
    {
        checks.push(rival_dhcp(boot.interface.clone(), ip).await);
    }
    checks
}

/// Each BMC of `rows` answers with the row's credentials (at once, in parallel).
pub async fn bmc_checks(rows: &[Row]) -> Vec<Check> {
    let objects = ironbell_inventory::translate(rows, crate::NAMESPACE);
    let attempts =
        rows.iter().filter_map(|row| {
            let bmc = row.bmc.as_ref()?;
            let machine = objects
                .machines
                .iter()
                .find(|m| m.spec.connection.host == bmc.ip.to_string())?;
            let credentials = Credentials::new(bmc.username.clone(), bmc.password.clone());
            let timeouts = Timeouts {
                connect: BMC_TIMEOUT,
                request: BMC_TIMEOUT,
                ..Timeouts::default()
            };
            let connection = machine.spec.connection.clone();
            let name = row.hostname.clone();
            Some(async move {
                validate::bmc_contactable(&name, &connection, &credentials, timeouts).await
            })
        });
    futures::future::join_all(attempts).await
}

/// The provisioning interface of Tinkerbell IP `ip`: the one holding it, or for a virtual
/// Tinkerbell IP not held yet, the one whose IPv4 subnet holds it.
pub fn provisioning_interface(ip: Ipv4Addr) -> Option<String> {
    ironbell_dhcp::probe::interface_with_address(ip)
        .or_else(|| ironbell_vip::interface_for(&ironbell_vip::Vip::new(ip)).ok())
}

/// No DHCP server but ours answers on `interface` (default: the one holding `ip`, or for a
/// virtual Tinkerbell IP not held yet, the one whose subnet holds it).
pub async fn rival_dhcp(interface: Option<String>, ip: Ipv4Addr) -> Check {
    let interface = interface.or_else(|| provisioning_interface(ip));
    let interface = match interface {
        Some(i) => i,
        None => {
            return Check::fail(
                "No other DHCP server answers on the provisioning network",
                format!("no interface holds the Tinkerbell IP {ip}; name it with --interface"),
            );
        }
    };
    let mut config = ironbell_dhcp::probe::ProbeConfig::new(interface.clone());
    config.ignore = vec![ip];
    match tokio::task::spawn_blocking(move || validate::no_rival_dhcp(&config)).await {
        Ok(check) => check,
        Err(e) => Check::fail(
            format!("No other DHCP server answers on {interface}"),
            format!("the DHCP probe stopped: {e}"),
        ),
    }
}
