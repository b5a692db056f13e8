//! EKS Anywhere's defaults on its own v0.24.6 specs: every spec defaults idempotently and
//! still loads; each default shows on a conformance spec that lacks the field, with the
//! value EKS Anywhere's goldens show.

mod common;

use ironbell_cluster_spec::defaults::{builder_defaults, cli_defaults, provider_defaults};
use ironbell_cluster_spec::{CliDefaults, DatacenterConfig, MachineConfig, Spec};
use ironbell_model::anywhere::{
    AutoScalingConfiguration, Cni, IntOrString, OsFamily, PhysicalNetworkConnectorType,
};

fn load(provider: &str, file: &str) -> Spec {
    let path = common::testdata(provider).join(file);
    Spec::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_conformance_spec_defaults_idempotently_and_reloads() {
    let mut checked = 0;
    for f in common::spec_files() {
        let Ok(spec) = Spec::load(&f) else { continue };
        let name = common::file_name(&f);
        let once = spec.with_defaults();
        let twice = once.clone().with_defaults();
        assert_eq!(once, twice, "{name}: defaults are not idempotent");
        let printed = once.to_yaml().expect("prints");
        let reloaded = Spec::parse(&printed).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(reloaded.objects(), once.objects(), "{name}: reload differs");
        for (i, g) in once.worker_node_groups().iter().enumerate() {
            assert!(g.count.is_some(), "{name}: group {i} has no count");
            assert!(
                g.name.as_deref().is_some_and(|n| !n.is_empty()) || i > 0,
                "{name}"
            );
        }
        let network = once.cluster.spec.cluster_network.as_ref().expect("network");
        assert!(
            network.cni.is_none() && network.cni_config.is_some(),
            "{name}"
        );
        let mhc = once
            .cluster
            .spec
            .machine_health_check
            .as_ref()
            .expect("mhc");
        assert!(
            mhc.node_startup_timeout.is_some() && mhc.max_unhealthy.is_some(),
            "{name}"
        );
        assert!(once.cluster.metadata.namespace.is_some(), "{name}");
        for mc in once.machine_configs.values() {
            let has_os = !matches!(mc, MachineConfig::CloudStackMachineConfig(_));
            assert!(!has_os || mc.os_family().is_some(), "{name}: {}", mc.name());
        }
        checked += 1;
    }
    assert_eq!(checked, 127, "specs defaulted");
}

#[test]
fn first_worker_group_is_named_and_counts_default() {
    let mut spec = load("docker", "cluster_mirror_config.yaml");
    let groups = spec
        .cluster
        .spec
        .worker_node_group_configurations
        .as_mut()
        .expect("groups");
    groups[0].name = None;
    groups[0].count = None;
    let mut second = groups[0].clone();
    second.name = Some("md-1".into());
    second.autoscaling_configuration = Some(AutoScalingConfiguration {
        min_count: Some(2),
        max_count: Some(5),
    });
    groups.push(second);
    builder_defaults(&mut spec);
    let groups = spec.worker_node_groups();
    assert_eq!(groups[0].name.as_deref(), Some("md-0"));
    assert_eq!(groups[0].count, Some(1));
    assert_eq!(groups[1].count, Some(2), "autoscaling minCount");
}

#[test]
fn the_deprecated_cni_becomes_cni_config() {
    let mut spec = load("docker", "cluster_mirror_config.yaml");
    let network = spec.cluster.spec.cluster_network.as_mut().expect("network");
    network.cni_config = None;
    network.cni = Some(Cni::Cilium);
    builder_defaults(&mut spec);
    let network = spec.cluster.spec.cluster_network.as_ref().expect("network");
    assert_eq!(network.cni, None);
    let cni = network.cni_config.as_ref().expect("cniConfig");
    assert!(cni.cilium.is_some() && cni.kindnetd.is_none());
}

#[test]
fn registry_mirror_port_and_kms_settings_default() {
    let mut spec = load(
        "tinkerbell",
        "cluster_tinkerbell_minimal_registry_mirror.yaml",
    );
    let mirror = spec.cluster.spec.registry_mirror_configuration.as_mut();
    mirror.expect("mirror").port = None;
    builder_defaults(&mut spec);
    let mirror = spec.cluster.spec.registry_mirror_configuration.as_ref();
    assert_eq!(
        mirror.expect("mirror").port,
        Some(IntOrString::String("443".into()))
    );

    let mut spec = load("cloudstack", "cluster_etcd_encryption.yaml");
    builder_defaults(&mut spec);
    let encryption = spec
        .cluster
        .spec
        .etcd_encryption
        .as_ref()
        .expect("encryption");
    for kms in encryption.iter().flat_map(|e| &e.providers).map(|p| &p.kms) {
        assert_eq!(kms.cache_size, Some(1000));
        assert_eq!(kms.timeout.as_deref(), Some("3s"));
    }
}

#[test]
fn cloudstack_zones_become_the_availability_zone_the_goldens_show() {
    let mut spec = load("cloudstack", "cluster_minimal.yaml");
    builder_defaults(&mut spec);
    let DatacenterConfig::CloudStackDatacenterConfig(dc) = &spec.datacenter else {
        panic!("CloudStack");
    };
    assert!(dc.spec.zones.is_none() && dc.spec.domain.is_none());
    let azs = dc
        .spec
        .availability_zones
        .as_ref()
        .expect("availability zones");
    assert_eq!(azs.len(), 1);
    let az = &azs[0];
    // expected_results_minimal_cp.yaml: failureDomains[0]
    assert_eq!(az.name.as_deref(), Some("default-az-0"));
    assert_eq!(az.credentials_ref.as_deref(), Some("global"));
    assert_eq!(az.domain.as_deref(), Some("domain1"));
    assert_eq!(az.account.as_deref(), Some("admin"));
    let zone = az.zone.as_ref().expect("zone");
    assert_eq!(zone.name.as_deref(), Some("zone1"));
    let cs = spec
        .machine_configs
        .values()
        .next()
        .expect("machine config");
    assert!(!cs.users().is_empty());
}

#[test]
fn vsphere_paths_sizes_os_and_users_default() {
    let mut spec = load("vsphere", "cluster_main.yaml");
    let DatacenterConfig::VSphereDatacenterConfig(dc) = &mut spec.datacenter else {
        panic!("vSphere");
    };
    dc.spec.network = Some("sddc-cgw-network-1".into());
    dc.spec.insecure = Some(true);
    for mc in spec.machine_configs.values_mut() {
        let MachineConfig::VSphereMachineConfig(m) = mc else {
            panic!("vSphere machine config");
        };
        m.spec.memory_mib = Some(1024);
        m.spec.num_cpus = None;
        m.spec.os_family = None;
        m.spec.users = None;
    }
    builder_defaults(&mut spec);
    let DatacenterConfig::VSphereDatacenterConfig(dc) = &spec.datacenter else {
        panic!("vSphere");
    };
    assert_eq!(
        dc.spec.network.as_deref(),
        Some("/SDDC-Datacenter/network/sddc-cgw-network-1")
    );
    assert_eq!(dc.spec.thumbprint.as_deref(), Some(""));
    for mc in spec.machine_configs.values() {
        let MachineConfig::VSphereMachineConfig(m) = mc else {
            panic!("vSphere machine config");
        };
        assert_eq!(m.spec.memory_mib, Some(2048));
        assert_eq!(m.spec.num_cpus, Some(2));
        assert_eq!(m.spec.os_family, Some(OsFamily::Bottlerocket));
        assert_eq!(mc.users()[0].name, "ec2-user");
        assert_eq!(mc.users()[0].ssh_authorized_keys, vec![String::new()]);
    }
}

#[test]
fn provider_defaults_fill_machine_configs() {
    let mut spec = load("nutanix", "eksa-cluster.yaml");
    let DatacenterConfig::NutanixDatacenterConfig(dc) = &mut spec.datacenter else {
        panic!("Nutanix");
    };
    dc.spec.credential_ref = None;
    for mc in spec.machine_configs.values_mut() {
        let MachineConfig::NutanixMachineConfig(m) = mc else {
            panic!("Nutanix machine config");
        };
        m.spec.os_family = None;
        m.spec.users = None;
    }
    provider_defaults(&mut spec);
    let DatacenterConfig::NutanixDatacenterConfig(dc) = &spec.datacenter else {
        panic!("Nutanix");
    };
    let credentials = dc.spec.credential_ref.as_ref().expect("credentialRef");
    assert_eq!(
        (credentials.kind(), credentials.name()),
        ("Secret", "nutanix-credentials")
    );
    for mc in spec.machine_configs.values() {
        assert_eq!(mc.os_family(), Some(OsFamily::Ubuntu));
        assert_eq!(mc.users()[0].name, "eksa");
    }

    let mut spec = load("tinkerbell", "cluster_tinkerbell_stacked_etcd.yaml");
    for mc in spec.machine_configs.values_mut() {
        if let MachineConfig::TinkerbellMachineConfig(m) = mc {
            m.spec.os_family = None;
        }
    }
    provider_defaults(&mut spec);
    for mc in spec.machine_configs.values() {
        assert_eq!(mc.os_family(), Some(OsFamily::Bottlerocket));
    }
}

/// The node startup timeout `create cluster` gives a conformance spec stripped of its
/// machine health check.
fn startup_timeout_after_cli_defaults(spec: &mut Spec) -> Option<String> {
    spec.cluster.spec.machine_health_check = None;
    cli_defaults(spec, &CliDefaults::default());
    let mhc = spec.cluster.spec.machine_health_check.as_ref()?;
    mhc.node_startup_timeout.clone()
}

#[test]
fn machine_health_checks_and_namespaces_default_like_create_cluster() {
    let mut spec = load("tinkerbell", "cluster_tinkerbell_stacked_etcd.yaml");
    spec.cluster.metadata.namespace = None;
    let timeout = startup_timeout_after_cli_defaults(&mut spec);
    assert_eq!(timeout.as_deref(), Some("20m0s"), "bare metal boots slowly");
    let mhc = spec.cluster.spec.machine_health_check.as_ref();
    let mhc = mhc.expect("mhc");
    assert_eq!(mhc.unhealthy_machine_timeout.as_deref(), Some("5m0s"));
    assert_eq!(mhc.max_unhealthy, Some(IntOrString::String("100%".into())));
    for g in spec.worker_node_groups() {
        let max = g.machine_health_check.as_ref();
        let max = max.and_then(|m| m.max_unhealthy.clone());
        assert_eq!(max, Some(IntOrString::String("40%".into())));
    }
    assert_eq!(spec.cluster.metadata.namespace.as_deref(), Some("default"));

    let mut spec = load("vsphere", "cluster_main.yaml");
    let timeout = startup_timeout_after_cli_defaults(&mut spec);
    assert_eq!(timeout.as_deref(), Some("10m0s"));
}

#[test]
fn snow_defaults_fill_credentials_instance_type_and_annotations() {
    // The spec sets no identity, instance type or connector.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/snow.yaml");
    let mut spec = Spec::load(path).expect("Snow spec loads");
    builder_defaults(&mut spec);
    let DatacenterConfig::SnowDatacenterConfig(dc) = &spec.datacenter else {
        panic!("Snow");
    };
    let identity = dc.spec.identity_ref.as_ref().expect("identityRef");
    assert_eq!(identity.name(), "snowy-snow-credentials");
    let cp = spec.control_plane_machine_config().expect("control plane");
    let MachineConfig::SnowMachineConfig(m) = cp else {
        panic!("Snow machine config");
    };
    assert_eq!(m.spec.instance_type.as_deref(), Some("sbe-c.large"));
    assert_eq!(
        m.spec.physical_network_connector,
        Some(PhysicalNetworkConnectorType::SfpPlus)
    );
    let annotations = m.metadata.annotations.as_ref().expect("annotations");
    assert_eq!(
        annotations
            .get("anywhere.eks.amazonaws.com/control-plane")
            .map(String::as_str),
        Some("true")
    );
}
