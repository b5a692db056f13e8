//! The set of kinds is open: a kind defined here, outside `ironbell-model` (a Cluster API
//! `MachineDeployment`-like type), is registered, then applied, found, listed and deleted
//! through the operations layer like a built-in one; unregistered, it is refused naming the
//! known kinds.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use ironbell_model::{KindRegistry, ObjectMeta, OwnerReference};
use ironbell_ops::apply::{ApplyOptions, Outcome, apply, parse};
use ironbell_ops::lookup::{find_one, resolve_kind};
use ironbell_ops::{OpsError, delete};
use ironbell_store::{ListParams, Store};
use ironbell_store_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};

/// A `cluster.x-k8s.io/v1beta1` MachineDeployment, reduced to what the test needs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MachineDeployment {
    api_version: ironbell_model::ApiVersion<MachineDeployment>,
    kind: ironbell_model::Kind<MachineDeployment>,
    #[serde(default)]
    metadata: ObjectMeta,
    spec: MachineDeploymentSpec,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MachineDeploymentSpec {
    cluster_name: String,
    #[serde(default)]
    replicas: u32,
}

ironbell_model::impl_resource!(
    MachineDeployment,
    "cluster.x-k8s.io/v1beta1",
    "MachineDeployment",
    "machinedeployments",
    aliases = ["machinedeployment", "md"]
);

/// A `cluster.x-k8s.io/v1beta1` MachineSet, owned by a MachineDeployment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MachineSet {
    api_version: ironbell_model::ApiVersion<MachineSet>,
    kind: ironbell_model::Kind<MachineSet>,
    #[serde(default)]
    metadata: ObjectMeta,
}

ironbell_model::impl_resource!(
    MachineSet,
    "cluster.x-k8s.io/v1beta1",
    "MachineSet",
    "machinesets"
);

const MD: &str = "\
apiVersion: cluster.x-k8s.io/v1beta1
kind: MachineDeployment
metadata:
  name: mgmt-md-0
spec:
  clusterName: mgmt
  replicas: 3
";

fn registry() -> KindRegistry {
    let mut registry = KindRegistry::builtin();
    registry
        .register::<MachineDeployment>()
        .unwrap()
        .register::<MachineSet>()
        .unwrap();
    registry
}

fn store() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("ironbell.db")).unwrap();
    (dir, Arc::new(store))
}

#[tokio::test]
async fn a_kind_registered_outside_the_model_is_applied_found_and_deleted() {
    let registry = registry();
    let (_dir, store) = store();
    let store: &dyn Store = store.as_ref();

    let objects = parse(&registry, MD, "eksa-system").unwrap();
    assert_eq!(objects[0].namespace(), "eksa-system");
    let outcomes = apply(store, objects, ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(outcomes[0].1, Outcome::Created);
    // The same document again is unchanged: the canonical form is stable.
    let again = parse(&registry, MD, "eksa-system").unwrap();
    let outcomes = apply(store, again, ApplyOptions::default()).await.unwrap();
    assert_eq!(outcomes[0].1, Outcome::Unchanged);

    for name in [
        "md",
        "machinedeployments",
        "MachineDeployment",
        "machinedeployments.cluster.x-k8s.io",
    ] {
        assert_eq!(
            resolve_kind(&registry, name).unwrap().kind,
            "MachineDeployment",
            "{name}"
        );
    }
    let info = resolve_kind(&registry, "md").unwrap();
    assert_eq!(
        (info.group(), info.version()),
        ("cluster.x-k8s.io", "v1beta1")
    );
    let md = find_one(store, info, "mgmt-md-0", None).await.unwrap();
    let typed: MachineDeployment = md.to_typed().unwrap();
    assert_eq!(typed.spec.replicas, 3);

    // A MachineSet it owns goes with it: owner references are followed through every
    // registered kind, not only the built-in ones.
    let ms = format!(
        "apiVersion: cluster.x-k8s.io/v1beta1\nkind: MachineSet\nmetadata:\n  name: mgmt-md-0-abcde\n  ownerReferences:\n  - apiVersion: cluster.x-k8s.io/v1beta1\n    kind: MachineDeployment\n    name: mgmt-md-0\n    uid: {}\n",
        md.metadata.uid.as_deref().unwrap()
    );
    let ms = parse(&registry, &ms, "eksa-system").unwrap();
    assert!(matches!(
        ms[0].metadata.owner_references.as_deref(),
        Some([OwnerReference { kind, .. }]) if kind == "MachineDeployment"
    ));
    apply(store, ms, ApplyOptions::default()).await.unwrap();

    let gone = delete::delete(store, &registry, &md).await.unwrap();
    let gone: Vec<_> = gone
        .iter()
        .map(|o| (o.types.kind.as_str(), o.name()))
        .collect();
    assert_eq!(
        gone,
        [
            ("MachineSet", "mgmt-md-0-abcde"),
            ("MachineDeployment", "mgmt-md-0")
        ]
    );
    for kind in ["md", "machinesets"] {
        let key = resolve_kind(&registry, kind).unwrap().type_key();
        let left = store.list(&key, &ListParams::default()).await.unwrap();
        assert!(left.items.is_empty(), "{kind}: {:?}", left.items);
    }
}

#[test]
fn a_registered_kind_is_checked_field_by_field() {
    let bad = MD.replace("replicas: 3", "replicas: three");
    let err = parse(&registry(), &bad, "default").unwrap_err().to_string();
    assert!(
        err.contains("document 1 (MachineDeployment \"mgmt-md-0\")"),
        "{err}"
    );
    assert!(err.contains("field `spec.replicas`"), "{err}");
    let bad = MD.replace("clusterName: mgmt", "clusterNam: mgmt");
    let err = parse(&registry(), &bad, "default").unwrap_err().to_string();
    assert!(err.contains("unknown field `clusterNam`"), "{err}");
}

#[test]
fn an_unregistered_kind_is_refused_naming_the_known_ones() {
    let builtin = KindRegistry::builtin();
    let err = parse(&builtin, MD, "default").unwrap_err();
    assert!(matches!(err, OpsError::Parse(_)), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("unknown kind \"MachineDeployment\""), "{err}");
    assert!(err.contains("known kinds: Hardware"), "{err}");
    let err = resolve_kind(&builtin, "md").unwrap_err().to_string();
    assert!(
        err.contains("unknown kind \"md\"") && err.contains("hardware"),
        "{err}"
    );
    assert!(resolve_kind(&registry(), "machinesets.cluster.x-k8s.io").is_ok());
}

#[test]
fn names_shared_with_a_built_in_kind_resolve_by_group() {
    /// A `cluster.x-k8s.io` Cluster: `clusters` also names EKS Anywhere's Cluster.
    #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
    struct CapiCluster {
        metadata: ObjectMeta,
    }
    ironbell_model::impl_resource!(
        CapiCluster,
        "cluster.x-k8s.io/v1beta1",
        "Cluster",
        "clusters"
    );
    let mut registry = registry();
    registry.register::<CapiCluster>().unwrap();
    assert!(registry.register::<CapiCluster>().is_err(), "twice");
    let first = resolve_kind(&registry, "clusters").unwrap();
    assert_eq!(
        first.group(),
        "anywhere.eks.amazonaws.com",
        "the built-in one first"
    );
    let capi = resolve_kind(&registry, "clusters.cluster.x-k8s.io").unwrap();
    assert_eq!(capi.api_version, "cluster.x-k8s.io/v1beta1");
}

#[test]
fn a_bad_default_namespace_is_refused() {
    let err = parse(&registry(), MD, "Bad.NS").unwrap_err().to_string();
    assert!(
        err.contains("default namespace") && err.contains("\"Bad.NS\""),
        "{err}"
    );
}

#[test]
fn the_programs_registry_knows_the_cluster_api_and_provider_kinds() {
    let kinds = ironbell_ops::lookup::kinds();
    for (name, kind, group) in [
        ("clusters.cluster.x-k8s.io", "Cluster", "cluster.x-k8s.io"),
        ("machines.cluster.x-k8s.io", "Machine", "cluster.x-k8s.io"),
        (
            "machinedeployments",
            "MachineDeployment",
            "cluster.x-k8s.io",
        ),
        ("machinesets", "MachineSet", "cluster.x-k8s.io"),
        (
            "kubeadmcontrolplanes",
            "KubeadmControlPlane",
            "controlplane.cluster.x-k8s.io",
        ),
        (
            "kubeadmconfigs",
            "KubeadmConfig",
            "bootstrap.cluster.x-k8s.io",
        ),
        (
            "kubeadmconfigtemplates",
            "KubeadmConfigTemplate",
            "bootstrap.cluster.x-k8s.io",
        ),
        (
            "tinkerbellclusters",
            "TinkerbellCluster",
            "infrastructure.cluster.x-k8s.io",
        ),
        (
            "tinkerbellmachinetemplates",
            "TinkerbellMachineTemplate",
            "infrastructure.cluster.x-k8s.io",
        ),
        (
            "tinkerbellmachines",
            "TinkerbellMachine",
            "infrastructure.cluster.x-k8s.io",
        ),
        (
            "dockerclusters",
            "DockerCluster",
            "infrastructure.cluster.x-k8s.io",
        ),
        (
            "dockermachinetemplates",
            "DockerMachineTemplate",
            "infrastructure.cluster.x-k8s.io",
        ),
        (
            "dockermachines",
            "DockerMachine",
            "infrastructure.cluster.x-k8s.io",
        ),
    ] {
        let info = resolve_kind(&kinds, name).unwrap();
        assert_eq!((info.kind, info.group()), (kind, group), "{name}");
    }
    // The built-in kinds keep their short names.
    assert_eq!(
        resolve_kind(&kinds, "clusters").unwrap().group(),
        "anywhere.eks.amazonaws.com"
    );
    assert_eq!(
        resolve_kind(&kinds, "machines").unwrap().group(),
        "bmc.tinkerbell.org"
    );
}
