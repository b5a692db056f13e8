//! The `setup-validate` checks: each failure is one line naming what is wrong. The offline
//! ones on EKS Anywhere's test specs; the network ones against real peers in test network
//! namespaces (dnsmasq as the rival DHCP server) or on loopback.

#[path = "../../capi/tests/golden/fixtures.rs"]
mod fixtures;

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::time::Duration;

use ironbell_bmc::provider::{Credentials, Timeouts};
use ironbell_dhcp::probe::ProbeConfig;
use ironbell_lifecycle::provider::Check;
use ironbell_model::bmc::Connection;
use ironbell_model::tinkerbell::Hardware;
use ironbell_provider_tinkerbell::OWNER_NAME_LABEL;
use ironbell_provider_tinkerbell::validate::{
    self, Demand, Purpose, bmc_contactable, enough_hardware, ip_not_in_use, no_rival_dhcp,
    one_selector_per_hardware, ports_free, tinkerbell_ip_is_not_the_endpoint,
};
use ironbell_testbed::{Dnsmasq, Netns, Tier, require_tier, require_tool, veth};

fn hw(name: &str, labels: &[(&str, &str)]) -> Hardware {
    let mut metadata = ironbell_model::ObjectMeta::named("eksa-system", name);
    metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    Hardware {
        metadata,
        ..Hardware::default()
    }
}

/// The check failed with one line containing every `needle`.
fn assert_fails_with(check: &Check, needles: &[&str]) {
    let reason = match &check.outcome {
        Err(r) => r,
        Ok(()) => panic!("{} passed", check.name),
    };
    assert!(!reason.contains('\n'), "not one line: {reason:?}");
    for n in needles {
        assert!(reason.contains(n), "{:?} lacks {n:?}", reason);
    }
    eprintln!("❌ {}: {reason}", check.name);
}

fn multiple_groups() -> ironbell_capi::tinkerbell::TinkerbellSpec {
    fixtures::load_tinkerbell_spec("cluster_tinkerbell_multiple_node_groups.yaml")
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn too_few_hardware_for_a_selector_is_one_line_naming_it() {
    let spec = multiple_groups();
    let demands = validate::demands(&spec, Purpose::Create).expect("demands");
    // cp: 1 × type=cp; md-0 and md-1 share type=worker: 2.
    let mut hardware = vec![
        hw("cp1", &[("type", "cp")]),
        hw("w1", &[("type", "worker")]),
        hw("w2", &[("type", "worker"), (OWNER_NAME_LABEL, "taken")]),
    ];
    assert_fails_with(
        &enough_hardware(&demands, &hardware),
        &[
            "{type=worker}",
            "worker group md-0, worker group md-1",
            "needs 2 available Hardware, 1 match",
        ],
    );
    hardware.push(hw("w3", &[("type", "worker")]));
    assert_eq!(enough_hardware(&demands, &hardware).outcome, Ok(()));

    // A rolling upgrade needs maxSurge (1) spare per selector on top of what is owned.
    let upgrade = validate::demands(&spec, Purpose::RollingUpgrade).expect("demands");
    let owned = |n: &str, t: &str| hw(n, &[("type", t), (OWNER_NAME_LABEL, n)]);
    let busy = vec![
        owned("cp1", "cp"),
        owned("w1", "worker"),
        owned("w2", "worker"),
    ];
    assert_fails_with(
        &enough_hardware(&upgrade, &busy),
        &["{type=cp} (control plane) needs 1 available Hardware, 0 match"],
    );

    let empty = [Demand {
        role: "control plane".into(),
        selector: Default::default(),
        count: 1,
    }];
    assert_fails_with(
        &enough_hardware(&empty, &hardware),
        &["control plane has an empty hardwareSelector"],
    );
}

#[test]
fn the_offline_checks_of_a_spec_and_its_catalogue() {
    let spec = multiple_groups();
    let hardware = [
        hw("cp1", &[("type", "cp")]),
        hw("w1", &[("type", "worker")]),
        hw("w2", &[("type", "worker")]),
    ];
    let checks = validate::offline_checks(&spec, &hardware, Purpose::Create);
    assert_eq!(checks.len(), 3);
    assert!(checks.iter().all(|c| c.outcome.is_ok()), "{checks:#?}");
    let failed: Vec<_> = validate::offline_checks(&spec, &hardware[..2], Purpose::Create)
        .into_iter()
        .filter(|c| c.outcome.is_err())
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].name, validate::ENOUGH_HARDWARE);
}

#[test]
fn a_hardware_matching_two_selectors_is_one_line_naming_both() {
    let demands = [
        Demand {
            role: "control plane".into(),
            selector: [("type".to_string(), "cp".to_string())].into(),
            count: 1,
        },
        Demand {
            role: "worker group md-0".into(),
            selector: [("rack".to_string(), "r1".to_string())].into(),
            count: 1,
        },
    ];
    let hardware = [
        hw("both", &[("type", "cp"), ("rack", "r1")]),
        hw("cp", &[("type", "cp")]),
    ];
    assert_fails_with(
        &one_selector_per_hardware(&demands, &hardware),
        &[
            "Hardware eksa-system/both matches 2 hardware selectors",
            "{type=cp} (control plane)",
            "{rack=r1} (worker group md-0)",
        ],
    );
    assert_eq!(
        one_selector_per_hardware(&demands, &hardware[1..]).outcome,
        Ok(())
    );
}

#[test]
fn the_tinkerbell_ip_must_not_be_the_endpoint() {
    let mut spec = multiple_groups();
    assert_eq!(tinkerbell_ip_is_not_the_endpoint(&spec).outcome, Ok(()));
    spec.datacenter.spec.tinkerbell_ip = "1.2.3.4".into();
    assert_fails_with(
        &tinkerbell_ip_is_not_the_endpoint(&spec),
        &["Tinkerbell IP 1.2.3.4 is also the control plane endpoint"],
    );
}

#[tokio::test]
async fn an_address_that_answers_is_in_use_and_a_taken_port_is_not_free() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let check = ip_not_in_use(
        "control plane endpoint",
        lo,
        &[port],
        Duration::from_secs(2),
    )
    .await;
    assert_fails_with(
        &check,
        &[
            "control plane endpoint 127.0.0.1 is in use",
            &format!("port {port} accepted"),
        ],
    );
    assert_fails_with(
        &ports_free(lo, &[port]),
        &[&format!("port {port} on 127.0.0.1 is in use")],
    );
    drop(listener);
    assert_eq!(ports_free(lo, &[port]).outcome, Ok(()));
}

#[test]
fn an_address_nobody_has_is_not_in_use() {
    require_tier!(Tier::Root);
    let ns = Netns::new().expect("netns");
    let peer = Netns::new().expect("netns");
    veth(&ns, "v0", &peer, "v1").expect("veth");
    ns.add_address("v0", "192.0.2.1/24").expect("addr");
    let check = run_in(&ns, || {
        ip_not_in_use(
            "Tinkerbell IP",
            "192.0.2.99".parse().expect("ip"),
            &[80, 6443],
            Duration::from_secs(1),
        )
    });
    assert_eq!(check.outcome, Ok(()), "{}", check.name);
}

#[test]
fn a_rival_dhcp_server_is_found_and_named() {
    require_tier!(Tier::Root);
    require_tool!("dnsmasq");
    let srv = Netns::new().expect("netns");
    let cli = Netns::new().expect("netns");
    veth(&srv, "s0", &cli, "c0").expect("veth");
    srv.add_address("s0", "192.0.2.1/24").expect("addr");
    let dir = tempfile::tempdir().expect("tempdir");
    // Nothing answers yet (a short probe).
    let mut short = ProbeConfig::new("c0");
    short.timeout = Duration::from_secs(1);
    short.attempts = 1;
    let quiet = cli.enter(|| no_rival_dhcp(&short)).expect("enter");
    assert_eq!(quiet.outcome, Ok(()), "{}", quiet.name);
    let rival = Dnsmasq::start(
        &srv,
        "s0",
        "192.0.2.100,192.0.2.150",
        &["--dhcp-boot=undionly.kpxe"],
        dir.path(),
    )
    .expect("dnsmasq");
    // The default probe: dnsmasq pings an address for up to 3 s before offering it.
    let config = ProbeConfig::new("c0");
    let check = cli.enter(|| no_rival_dhcp(&config.clone())).expect("enter");
    if check.outcome.is_ok() {
        panic!("dnsmasq was not found; its log:\n{}", rival.log());
    }
    assert_fails_with(
        &check,
        &[
            "another DHCP server answers on c0",
            "192.0.2.1",
            "undionly.kpxe",
        ],
    );
    // Our own server's address is left out.
    let mut ours = config.clone();
    ours.ignore = vec![Ipv4Addr::new(192, 0, 2, 1)];
    let check = cli.enter(|| no_rival_dhcp(&ours)).expect("enter");
    assert_eq!(check.outcome, Ok(()), "{}", rival.log());
    drop(rival);
}

/// Runs the future `make` returns on a runtime inside `ns`: every socket it opens (a BMC
/// client, a probe) lives in the test's namespace, never in the root one.
fn run_in<T: Send, F: std::future::Future<Output = T>>(
    ns: &Netns,
    make: impl FnOnce() -> F + Send,
) -> T {
    ns.enter(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(make())
    })
    .expect("enter")
}

#[test]
fn an_unreachable_bmc_fails_its_check_without_its_password() {
    require_tier!(Tier::Root);
    let ns = Netns::new().expect("netns");
    // Loopback ports of the test's namespace with nothing behind them: Redfish is refused,
    // IPMI gets no answer.
    let closed = |_: ()| {
        let l = ns.tcp_listener("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (redfish, ipmi) = (closed(()), closed(()));
    let connection: Connection = serde_yaml_ng::from_str(&format!(
        "{{host: 127.0.0.1, insecureTLS: true, providerOptions: {{redfish: {{port: {redfish}}}, ipmitool: {{port: {ipmi}}}}}}}"
    ))
    .expect("connection");
    let credentials = Credentials::new("admin", "s3cret-pass");
    let timeouts = Timeouts {
        connect: Duration::from_secs(3),
        ..Timeouts::default()
    };
    let check = run_in(&ns, || {
        bmc_contactable("hw-cp", &connection, &credentials, timeouts)
    });
    assert_fails_with(&check, &["BMC 127.0.0.1 of hw-cp is not contactable"]);
    let reason = check.outcome.expect_err("failed");
    assert!(!reason.contains("s3cret-pass"), "{reason}");
}

/// pyghmi's BMC (a real IPMI 2.0 peer) on a loopback UDP port of `ns`, killed by PID on
/// drop.
fn pyghmi_bmc(
    ns: &Netns,
    dir: &std::path::Path,
    password: &str,
) -> Option<(ironbell_testbed::ChildGuard, u16)> {
    let python = require_tool!("python3", None);
    let port = ns
        .enter(|| std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()))
        .expect("enter")
        .expect("free port")
        .port();
    let out = dir.join("bmc.out");
    let child = ns
        .command(&python.to_string_lossy())
        .arg(ironbell_testbed::pyghmi_bmc_script())
        .args(["--address", "127.0.0.1", "--port", &port.to_string()])
        .args(["--user", "admin", "--password", password, "--log"])
        .arg(dir.join("bmc-calls.log"))
        .stdout(std::fs::File::create(&out).expect("out"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the BMC");
    let guard = ironbell_testbed::ChildGuard::new(child);
    let ready = ironbell_testbed::wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(&out).is_ok_and(|o| o.contains("READY"))
    });
    assert!(ready, "the pyghmi BMC did not start");
    Some((guard, port))
}

#[test]
fn a_reachable_bmc_passes_and_a_wrong_password_fails_without_showing_it() {
    require_tier!(Tier::Root);
    let ns = Netns::new().expect("netns");
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((_bmc, port)) = pyghmi_bmc(&ns, dir.path(), "right-pass") else {
        return;
    };
    let connection: Connection = serde_yaml_ng::from_str(&format!(
        "{{host: 127.0.0.1, insecureTLS: true, providerOptions: {{preferredOrder: [ipmitool], ipmitool: {{port: {port}}}}}}}"
    ))
    .expect("connection");
    let timeouts = Timeouts {
        connect: Duration::from_secs(10),
        ..Timeouts::default()
    };
    let good = Credentials::new("admin", "right-pass");
    let check = run_in(&ns, || {
        bmc_contactable("hw-cp", &connection, &good, timeouts)
    });
    assert_eq!(check.outcome, Ok(()), "{}", check.name);
    let bad = Credentials::new("admin", "wrong-pass");
    let check = run_in(&ns, || {
        bmc_contactable("hw-cp", &connection, &bad, timeouts)
    });
    assert_fails_with(&check, &["BMC 127.0.0.1 of hw-cp is not contactable"]);
    let reason = check.outcome.expect_err("failed");
    assert!(!reason.contains("wrong-pass"), "{reason}");
}
