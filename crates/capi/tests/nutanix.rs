//! The Nutanix renderer beyond the goldens: errors on bad input name the object and field
//! (never a panic), the cloud controller manager's ignored addresses, credentials kept out
//! of debug output, and the create entry.

#[path = "golden/fixtures.rs"]
mod fixtures;

use ironbell_capi::kubeadm::RegistryCredentials;
use ironbell_capi::nutanix::{self, NutanixSpec, PrismCredentials, RenderOptions};
use ironbell_capi::versions::VersionsBundleSet;
use ironbell_capi::{LookupError, Object};
use ironbell_model::anywhere::{IntOrString, RegistryMirrorConfiguration};

const NOW: i64 = 1_234_567_890_000;
const PASSWORD: &str = "prism-secret-password";

fn spec() -> NutanixSpec {
    fixtures::load_nutanix_spec("eksa-cluster.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn bundles(spec: &NutanixSpec) -> VersionsBundleSet {
    fixtures::resolve_cluster_bundles(&spec.cluster).unwrap_or_else(|e| panic!("{e}"))
}

fn options(spec: &NutanixSpec) -> RenderOptions {
    RenderOptions {
        names: nutanix::names_from_clock(spec, NOW),
        credentials: PrismCredentials {
            username: "admin".into(),
            password: PASSWORD.into(),
        },
        registry_credentials: None,
    }
}

fn render_err(spec: &NutanixSpec) -> String {
    let b = bundles(spec);
    match nutanix::render(spec, &b, &options(spec)) {
        Ok(_) => panic!("rendered a bad spec"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_missing_machine_config_is_an_error_naming_it() {
    let mut s = spec();
    s.machine_configs.clear();
    let err = render_err(&s);
    assert!(
        err.contains("references NutanixMachineConfig \"eksa-unit-test\""),
        "{err}"
    );
    assert!(err.contains("the control plane"), "{err}");
}

#[test]
fn machine_config_fields_the_machines_need_are_named() {
    for (field, clear) in [
        (
            "spec.image",
            (|s: &mut NutanixSpec| {
                for mc in s.machine_configs.values_mut() {
                    mc.spec.image = None;
                }
            }) as fn(&mut NutanixSpec),
        ),
        ("spec.memorySize", |s| {
            for mc in s.machine_configs.values_mut() {
                mc.spec.memory_size = None;
            }
        }),
        ("spec.users", |s| {
            for mc in s.machine_configs.values_mut() {
                mc.spec.users = Some(Vec::new());
            }
        }),
    ] {
        let mut s = spec();
        clear(&mut s);
        let err = render_err(&s);
        assert!(
            err.starts_with("NutanixMachineConfig eksa-unit-test: ") && err.contains(field),
            "{field}: {err}"
        );
    }
}

#[test]
fn an_unknown_kubernetes_version_and_missing_worker_names_are_errors() {
    let mut s = spec();
    let b = bundles(&s);
    s.cluster.spec.kubernetes_version = Some("1.99".into());
    let err = nutanix::render(&s, &b, &options(&s))
        .map(|_| ())
        .expect_err("a bad spec renders");
    assert!(matches!(
        err,
        nutanix::RenderError::Lookup(LookupError::MissingBundle { .. })
    ));
    assert!(err.to_string().contains("Kubernetes 1.99"), "{err}");

    let s = spec();
    let mut opts = options(&s);
    opts.names.workers.clear();
    let err = nutanix::render_workers(&s, &b, &opts)
        .map(|_| ())
        .expect_err("a bad spec renders");
    assert!(
        err.to_string()
            .contains("no template names given for worker node group eksa-unit-test"),
        "{err}"
    );
}

#[test]
fn bad_excluded_node_addresses_are_errors_naming_the_entry() {
    for (entry, reason) in [
        ("not-an-ip", "not an IP address"),
        ("10.0.0.0/40", "bad prefix length"),
        ("10.0.0.0/8", "more than 65536"),
        ("10.0.0.1-fe80::1", "mixes IPv4 and IPv6"),
    ] {
        let mut s = spec();
        s.datacenter.spec.ccm_exclude_node_ips = Some(vec![entry.into()]);
        let err = render_err(&s);
        assert!(
            err.contains("NutanixDatacenterConfig eksa-unit-test")
                && err.contains(&format!("{entry:?}"))
                && err.contains(reason),
            "{entry}: {err}"
        );
    }
}

#[test]
fn excluded_node_addresses_expand_ranges_in_either_order_and_whole_cidrs() {
    let mut s = spec();
    s.datacenter.spec.ccm_exclude_node_ips = Some(vec![
        " 10.0.0.9 ".into(),
        "10.0.0.3-10.0.0.1".into(),
        "192.168.1.5/30".into(),
    ]);
    let ips =
        nutanix::ignored_node_ips(&s.datacenter, "10.199.199.1").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ips,
        [
            "10.199.199.1",
            "10.0.0.9",
            "10.0.0.1",
            "10.0.0.2",
            "10.0.0.3",
            "192.168.1.4",
            "192.168.1.5",
            "192.168.1.6",
            "192.168.1.7",
        ]
    );
}

#[test]
fn an_authenticated_mirror_needs_credentials_and_prism_credentials_stay_out_of_debug() {
    let mut s = spec();
    s.cluster.spec.registry_mirror_configuration = Some(RegistryMirrorConfiguration {
        endpoint: Some("1.2.3.4".into()),
        port: Some(IntOrString::String("443".into())),
        authenticate: Some(true),
        ..Default::default()
    });
    let err = render_err(&s);
    assert!(err.contains("requires authentication"), "{err}");

    let b = bundles(&s);
    let mut opts = options(&s);
    opts.registry_credentials = Some(RegistryCredentials {
        username: "u".into(),
        password: "p".into(),
    });
    let out = nutanix::render(&s, &b, &opts).unwrap_or_else(|e| panic!("{e}"));
    assert!(!format!("{opts:?}").contains(PASSWORD));
    let secret = out
        .control_plane
        .iter()
        .find(|o| matches!(o, Object::GenericSecret(_)))
        .unwrap_or_else(|| panic!("no credentials secret"));
    assert!(!format!("{secret:?}").contains(PASSWORD));
    // The manifests themselves carry the credentials: the cloud controller manager logs in
    // with them.
    let yaml = out.to_yaml().unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains(PASSWORD));
    assert!(yaml.contains("kind: ClusterResourceSet"));
}

/// Every Nutanix spec of EKS Anywhere's testdata that loads renders to documents that parse
/// back, or is refused with an error; none panics.
#[test]
fn every_conformance_spec_renders_or_is_refused() {
    let names = fixtures::spec_files("nutanix", &["cluster_", "eksa-cluster"]);
    let mut rendered = 0;
    for name in names {
        let Ok(s) = fixtures::load_nutanix_spec(&name) else {
            continue;
        };
        let Ok(b) = fixtures::resolve_cluster_bundles(&s.cluster) else {
            continue;
        };
        let mut opts = options(&s);
        opts.registry_credentials = Some(RegistryCredentials {
            username: "u".into(),
            password: "p".into(),
        });
        match nutanix::render(&s, &b, &opts) {
            Ok(out) => {
                let yaml = out.to_yaml().unwrap_or_else(|e| panic!("{name}: {e}"));
                fixtures::assert_yaml_parses(&name, &yaml);
                rendered += 1;
            }
            Err(e) => assert!(!e.to_string().is_empty(), "{name}"),
        }
    }
    assert!(rendered >= 20, "only {rendered} specs rendered");
}

#[test]
fn the_create_entry_renders_a_nutanix_spec_with_clock_names() {
    let root = fixtures::eksa_root();
    let spec = ironbell_cluster_spec::Spec::load(
        root.join("pkg/providers/nutanix/testdata/eksa-cluster.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let release = fixtures::resolve_test_release(&["1.19"]).unwrap_or_else(|e| panic!("{e}"));
    let inputs = ironbell_capi::CreateInputs {
        now_unix_ms: NOW,
        ..Default::default()
    };
    let out = ironbell_capi::render(&spec, &release, &inputs).unwrap_or_else(|e| panic!("{e}"));
    let yaml = out.to_yaml().unwrap_or_else(|e| panic!("{e}"));
    assert!(yaml.contains("name: eksa-unit-test-control-plane-template-1234567890000"));
    assert!(yaml.contains("name: eksa-unit-test-eksa-unit-test-template-1234567890000"));
    assert!(yaml.contains("kind: NutanixCluster"));
}

const LATER: i64 = 1_234_567_899_999;

fn upgrade(
    old: &NutanixSpec,
    new: &NutanixSpec,
    new_bundles: i64,
) -> ironbell_capi::tinkerbell::TemplateNames {
    // The current names, read back from the objects the old spec renders.
    let out = nutanix::render(old, &bundles(old), &options(old)).unwrap_or_else(|e| panic!("{e}"));
    let objects: Vec<Object> = out.control_plane.into_iter().chain(out.workers).collect();
    let names = ironbell_capi::tinkerbell::TemplateNames::from_objects("eksa-unit-test", &objects);
    assert_eq!(
        names.control_plane,
        nutanix::names_from_clock(old, NOW).control_plane
    );
    let current = nutanix::CurrentCluster {
        spec: old,
        bundles_number: 1,
        names,
    };
    nutanix::upgrade_names(&current, new, new_bundles, LATER)
}

/// The clock suffixes of the control plane's, md's machine and md's config templates.
fn suffixes(names: &ironbell_capi::tinkerbell::TemplateNames) -> (String, String, String) {
    let tail = |s: &str| s.rsplit('-').next().unwrap_or_default().to_string();
    let w = &names.workers["eksa-unit-test"];
    (
        tail(names.control_plane.as_deref().unwrap_or_default()),
        tail(&w.machine_template),
        tail(&w.kubeadm_config_template),
    )
}

#[test]
fn an_upgrade_renews_only_the_templates_a_change_touches() {
    let (now, later) = (NOW.to_string(), LATER.to_string());
    let old = spec();

    let mut scaled = old.clone();
    if let Some(w) = scaled
        .cluster
        .spec
        .worker_node_group_configurations
        .as_mut()
    {
        w[0].count = Some(9);
    }
    let names = upgrade(&old, &scaled, 1);
    assert_eq!(suffixes(&names), (now.clone(), now.clone(), now.clone()));

    let mut bigger = old.clone();
    for mc in bigger.machine_configs.values_mut() {
        mc.spec.memory_size = Some(IntOrString::String("16Gi".into()));
    }
    let names = upgrade(&old, &bigger, 1);
    assert_eq!(
        suffixes(&names),
        (later.clone(), later.clone(), now.clone())
    );

    let mut labelled = old.clone();
    if let Some(w) = labelled
        .cluster
        .spec
        .worker_node_group_configurations
        .as_mut()
    {
        w[0].labels = Some(
            [("tier".to_string(), "db".to_string())]
                .into_iter()
                .collect(),
        );
    }
    let names = upgrade(&old, &labelled, 1);
    assert_eq!(
        suffixes(&names),
        (now.clone(), later.clone(), later.clone())
    );

    let mut new_user = old.clone();
    for mc in new_user.machine_configs.values_mut() {
        if let Some(u) = mc.spec.users.as_mut() {
            u[0].ssh_authorized_keys = vec!["ssh-ed25519 AAAA other".into()];
        }
    }
    let names = upgrade(&old, &new_user, 1);
    assert_eq!(suffixes(&names), (now.clone(), now.clone(), later.clone()));

    let names = upgrade(&old, &old, 2);
    assert_eq!(suffixes(&names), (later.clone(), later, now));
}
