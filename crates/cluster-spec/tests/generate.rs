//! `generate`: every provider's starting spec loads, validates, and has the shape `eksctl
//! anywhere generate clusterconfig` gives it.

use ironbell_cluster_spec::{CheckResult, Provider, Spec, generate, validate};

#[test]
fn every_provider_generates_a_spec_that_loads_and_validates() {
    for provider in Provider::ALL {
        let text = generate("mycluster", provider);
        let spec = Spec::parse(&text).unwrap_or_else(|e| panic!("{provider}: {e}\n{text}"));
        assert_eq!(spec.provider(), provider);
        assert_eq!(spec.name(), "mycluster");
        let report = validate(&spec, None);
        assert!(report.is_valid(), "{provider}:\n{report}\n{text}");
        let warnings: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| matches!(c.result, CheckResult::Warning(_)))
            .map(|c| c.name)
            .collect();
        assert!(
            warnings.is_empty(),
            "{provider}: warnings {warnings:?}:\n{report}"
        );
        // Defaults change nothing a user must see twice: the spec survives them.
        let defaulted = spec.with_defaults();
        let reloaded = Spec::parse(&defaulted.to_yaml().expect("prints")).expect("reloads");
        assert_eq!(reloaded.objects(), defaulted.objects());
    }
}

#[test]
fn generated_specs_have_eks_anywhere_shape() {
    // (provider, control plane count, external etcd count, worker count, machine configs)
    let shapes = [
        (Provider::Tinkerbell, 1, None, 1, 2),
        (Provider::Docker, 1, Some(1), 1, 0),
        (Provider::VSphere, 2, Some(3), 2, 3),
        (Provider::CloudStack, 2, Some(3), 2, 3),
        (Provider::Nutanix, 2, Some(3), 2, 3),
        (Provider::Snow, 3, None, 3, 2),
    ];
    for (provider, cp, etcd, workers, machines) in shapes {
        let spec = Spec::parse(&generate("c1", provider)).expect("loads");
        let c = &spec.cluster.spec;
        let cp_config = spec.control_plane().expect("control plane");
        assert_eq!(cp_config.count, Some(cp), "{provider}");
        let etcd_count = c.external_etcd_configuration.as_ref().and_then(|e| e.count);
        assert_eq!(etcd_count, etcd, "{provider}");
        let groups = spec.worker_node_groups();
        assert_eq!(groups.len(), 1, "{provider}");
        assert_eq!(groups[0].name.as_deref(), Some("md-0"));
        assert_eq!(groups[0].count, Some(workers), "{provider}");
        assert_eq!(spec.machine_configs.len(), machines, "{provider}");
        if machines > 0 {
            assert_eq!(
                spec.control_plane_machine_config().map(|m| m.name()),
                Some("c1-cp")
            );
            assert_eq!(
                spec.worker_machine_config(&groups[0]).map(|m| m.name()),
                Some("c1")
            );
        }
        if etcd.is_some() && machines > 0 {
            assert_eq!(
                spec.etcd_machine_config().map(|m| m.name()),
                Some("c1-etcd")
            );
        }
        assert!(spec.is_self_managed());
        assert_eq!(
            c.kubernetes_version.as_ref().map(|v| v.as_str()),
            Some(ironbell_cluster_spec::DEFAULT_KUBERNETES_VERSION)
        );
    }
}

#[test]
fn the_header_says_what_to_replace() {
    let text = generate("c1", Provider::Tinkerbell);
    assert!(text.starts_with("# A tinkerbell cluster spec"), "{text}");
    assert!(text.contains("tinkerbellIP"), "{text}");
}
