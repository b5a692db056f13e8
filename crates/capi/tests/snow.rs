//! The Snow renderer beyond the goldens: errors on bad input (never a panic), IP pools for
//! static interfaces, credentials kept out of debug output.

#[path = "golden/fixtures.rs"]
mod fixtures;
#[path = "golden/snow.rs"]
mod snow_cases;

use ironbell_capi::Object;
use ironbell_capi::snow::{self, RenderOptions, SnowCredentials, SnowNames, SnowSpec};
use ironbell_capi::versions::VersionsBundleSet;
use ironbell_model::anywhere::{ExternalEtcdConfiguration, IpPool, Ref, SnowIPPool};

fn spec() -> SnowSpec {
    snow_cases::given_spec().unwrap_or_else(|e| panic!("{e}"))
}

fn bundles() -> VersionsBundleSet {
    snow_cases::bundles(&[]).unwrap_or_else(|e| panic!("{e}"))
}

fn options(spec: &SnowSpec) -> RenderOptions {
    RenderOptions {
        names: SnowNames::initial(spec),
        credentials: SnowCredentials {
            credentials_b64: "c2VjcmV0LWNyZWRz".into(),
            ca_bundle_b64: "Y2VydHM=".into(),
        },
    }
}

fn render_err(spec: &SnowSpec) -> String {
    match snow::render(spec, &bundles(), &options(spec)) {
        Ok(_) => panic!("rendered a bad spec"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn external_etcd_and_missing_machine_configs_are_refused_by_name() {
    let mut s = spec();
    s.cluster.spec.external_etcd_configuration = Some(ExternalEtcdConfiguration {
        count: Some(3),
        machine_group_ref: Some(Ref::new("SnowMachineConfig", "test-cp")),
        ..Default::default()
    });
    let err = render_err(&s);
    assert!(err.contains("cluster snow-test: external etcd"), "{err}");

    let mut s = spec();
    s.machine_configs.remove("test-wn");
    let err = render_err(&s);
    assert!(
        err.contains("worker node group md-0 references SnowMachineConfig \"test-wn\""),
        "{err}"
    );
}

#[test]
fn an_unknown_ip_pool_is_an_error_and_a_known_one_is_rendered_and_referenced() {
    let mut s = spec();
    for mc in s.machine_configs.values_mut() {
        let dni = mc
            .spec
            .network
            .as_mut()
            .and_then(|n| n.direct_network_interfaces.as_mut())
            .and_then(|d| d.first_mut())
            .unwrap_or_else(|| panic!("no interface"));
        dni.dhcp = Some(false);
        dni.ip_pool_ref = Some(Ref::new("SnowIPPool", "pool-a"));
    }
    let err = render_err(&s);
    assert!(
        err.contains("SnowMachineConfig test-cp: ipPoolRef \"pool-a\""),
        "{err}"
    );

    let mut pool = SnowIPPool::default();
    pool.spec.pools = Some(vec![IpPool {
        ip_start: Some("10.0.0.10".into()),
        ip_end: Some("10.0.0.20".into()),
        gateway: Some("10.0.0.1".into()),
        subnet: Some("10.0.0.0/24".into()),
    }]);
    s.ip_pools.insert("pool-a".into(), pool);
    let out = snow::render(&s, &bundles(), &options(&s)).unwrap_or_else(|e| panic!("{e}"));
    let pools = out
        .control_plane
        .iter()
        .chain(&out.workers)
        .filter(|o| o.kind() == "AWSSnowIPPool")
        .count();
    assert_eq!(pools, 2, "one in each document that uses it");
    let yaml = out.to_yaml().unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains("ipStart: 10.0.0.10"), "{yaml}");
    assert!(yaml.contains("ipPool:"), "{yaml}");
}

#[test]
fn missing_names_and_bundles_are_errors_and_credentials_stay_out_of_debug() {
    let s = spec();
    let mut opts = options(&s);
    opts.names.workers.clear();
    let err = snow::render_workers(&s, &bundles(), &opts)
        .map(|_| ())
        .expect_err("a bad spec renders");
    assert!(err.to_string().contains("worker node group md-0"), "{err}");

    let mut s = spec();
    s.cluster.spec.kubernetes_version = Some("1.99".into());
    assert!(render_err(&s).contains("no versions bundle for Kubernetes 1.99"));

    let s = spec();
    let opts = options(&s);
    assert!(!format!("{opts:?}").contains("c2VjcmV0LWNyZWRz"));
    let out = snow::render(&s, &bundles(), &opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.control_plane
            .iter()
            .any(|o| matches!(o, Object::GoPrinted(p) if p.kind == "Secret"))
    );
}

/// The current objects of a cluster rendered from `spec` with its initial names.
fn rendered_objects(spec: &SnowSpec) -> snow::CurrentObjects {
    let out = snow::render(spec, &bundles(), &options(spec)).unwrap_or_else(|e| panic!("{e}"));
    snow::CurrentObjects::from_objects(
        out.control_plane
            .iter()
            .chain(&out.workers)
            .map(|o| serde_json::to_value(o).unwrap_or_else(|e| panic!("{e}"))),
    )
}

#[test]
fn an_upgrade_keeps_unchanged_templates_and_increments_changed_ones() {
    let old = spec();
    let current = rendered_objects(&old);
    let same = snow::upgrade_names(&old, &bundles(), &current).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(same, SnowNames::initial(&old));

    let mut new = old.clone();
    if let Some(mc) = new.machine_configs.get_mut("test-wn") {
        mc.spec.instance_type = Some("sbe-c.2xlarge".into());
    }
    if let Some(w) = new.cluster.spec.worker_node_group_configurations.as_mut() {
        w[0].labels = Some(
            [("tier".to_string(), "db".to_string())]
                .into_iter()
                .collect(),
        );
    }
    let names = snow::upgrade_names(&new, &bundles(), &current).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names.control_plane, "snow-test-control-plane-1");
    assert_eq!(
        names.workers["md-0"],
        (
            "snow-test-md-0-2".to_string(),
            "snow-test-md-0-2".to_string()
        )
    );

    // A new cluster (no current objects) gets the initial names.
    let none = snow::upgrade_names(&new, &bundles(), &snow::CurrentObjects::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none, SnowNames::initial(&new));
}

#[test]
fn a_changed_template_whose_name_cannot_be_incremented_is_an_error() {
    let old = spec();
    let mut current = snow::CurrentObjects::default();
    current.insert(
        "KubeadmControlPlane",
        "snow-test",
        serde_json::json!({"spec": {"machineTemplate": {"infrastructureRef": {"name": "cp"}}}}),
    );
    current.insert(
        "AWSSnowMachineTemplate",
        "cp",
        serde_json::json!({"spec": {"template": {"spec": {"instanceType": "other"}}}}),
    );
    let err = snow::upgrade_names(&old, &bundles(), &current)
        .map(|_| ())
        .expect_err("a name without a number");
    assert!(
        err.to_string()
            .contains("AWSSnowMachineTemplate cp: the name does not end in -<number>"),
        "{err}"
    );
}
