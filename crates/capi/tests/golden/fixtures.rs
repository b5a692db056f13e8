//! The conformance inputs: EKS Anywhere v0.24.6's cluster specs and expected files, and its
//! test bundles (`internal/test/testdata`) turned into the renderer's versions view.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ironbell_capi::tinkerbell::TinkerbellSpec;
use ironbell_capi::versions::{ImageRef, KubeDistro, VersionsBundle, VersionsBundleSet};
use serde_yaml_ng::Value;

/// `../shared/conformance/eks-anywhere-v0.24.6` beside the repository.
pub fn eksa_root() -> PathBuf {
    let root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/eks-anywhere-v0.24.6"
    ));
    assert!(
        root.is_dir(),
        "conformance data not found at {}: the tests read ../shared/conformance beside the repository",
        root.display()
    );
    root
}

/// A provider's testdata directory.
pub fn provider_dir(provider: &str) -> PathBuf {
    eksa_root().join("pkg/providers").join(provider)
}

pub fn read(path: &std::path::Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn docs(text: &str) -> Result<Vec<Value>, String> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|de| serde::Deserialize::deserialize(de).map_err(|e| e.to_string()))
        .filter(|v: &Result<Value, String>| !matches!(v, Ok(Value::Null)))
        .collect()
}

fn typed<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T, String> {
    serde_yaml_ng::from_value(v).map_err(|e| format!("{what}: {e}"))
}

/// Load a Tinkerbell cluster spec file (the test-side stand-in for the spec loader).
pub fn load_tinkerbell_spec(file: &str) -> Result<TinkerbellSpec, String> {
    let path = provider_dir("tinkerbell").join("testdata").join(file);
    let mut spec = TinkerbellSpec::default();
    for doc in docs(&read(&path)?)? {
        let kind = doc
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let name = doc
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match kind.as_str() {
            "Cluster" => spec.cluster = typed(doc, &kind)?,
            "TinkerbellDatacenterConfig" => spec.datacenter = typed(doc, &kind)?,
            "TinkerbellMachineConfig" => {
                spec.machine_configs.insert(name, typed(doc, &kind)?);
            }
            "TinkerbellTemplateConfig" => {
                spec.template_configs.insert(name, typed(doc, &kind)?);
            }
            "OIDCConfig" => spec.oidc = Some(typed(doc, &kind)?),
            "AWSIamConfig" => spec.aws_iam = Some(typed(doc, &kind)?),
            _ => {}
        }
    }
    // EKS Anywhere's spec keeps only the identity providers the Cluster references.
    let refs: Vec<(String, String)> = spec
        .cluster
        .spec
        .identity_provider_refs
        .iter()
        .flatten()
        .map(|r| (r.kind().to_string(), r.name().to_string()))
        .collect();
    let referenced =
        |kind: &str, name: Option<&String>| refs.iter().any(|(k, n)| k == kind && Some(n) == name);
    if !spec
        .oidc
        .as_ref()
        .is_some_and(|o| referenced("OIDCConfig", o.metadata.name.as_ref()))
    {
        spec.oidc = None;
    }
    if !spec
        .aws_iam
        .as_ref()
        .is_some_and(|o| referenced("AWSIamConfig", o.metadata.name.as_ref()))
    {
        spec.aws_iam = None;
    }
    Ok(spec)
}

fn s<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

/// An EKS-D component's first image URI or the archive URI of an asset, by name.
fn eksd_asset<'a>(
    release: &'a Value,
    component: &str,
    asset: &str,
    field: &str,
) -> Option<&'a str> {
    let comps = release.get("status")?.get("components")?.as_sequence()?;
    let comp = comps.iter().find(|c| s(c, &["name"]) == Some(component))?;
    let assets = comp.get("assets")?.as_sequence()?;
    let a = assets.iter().find(|a| s(a, &["name"]) == Some(asset))?;
    s(a, &[field, "uri"])
}

fn eksd_git_tag<'a>(release: &'a Value, component: &str) -> Option<&'a str> {
    let comps = release.get("status")?.get("components")?.as_sequence()?;
    comps
        .iter()
        .find(|c| s(c, &["name"]) == Some(component))
        .and_then(|c| s(c, &["gitTag"]))
}

/// A repository without its last path element (`.../etcd-io/etcd` → `.../etcd-io`), as
/// EKS-A's KubeDistro builds image repositories.
fn parent_repo(image: &ImageRef) -> ImageRef {
    ImageRef {
        repository: image
            .repository
            .rsplit_once('/')
            .map_or(image.repository.clone(), |(p, _)| p.to_string()),
        tag: image.tag.clone(),
    }
}

/// EKS Anywhere's test `bundles.yaml` repeats a key (`cloudStack`) inside some versions
/// bundles, which Go's decoder accepts; keep the first block of each repeated key.
fn drop_repeated_bundle_keys(text: &str) -> String {
    let mut out = String::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut skipping = false;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if line.starts_with("  - ") {
            seen.clear();
            skipping = false;
        } else if indent == 4 && !line.trim().is_empty() {
            let key = line
                .trim()
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string();
            skipping = !seen.insert(key);
        } else if indent < 4 {
            skipping = false;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The test bundles (`internal/test/testdata/bundles.yaml` and the EKS-D manifests).
pub fn test_bundles() -> Result<VersionsBundleSet, String> {
    let dir = eksa_root().join("internal/test/testdata");
    let bundles: Value = serde_yaml_ng::from_str(&drop_repeated_bundle_keys(&read(
        &dir.join("bundles.yaml"),
    )?))
    .map_err(|e| e.to_string())?;
    let number = bundles
        .get("spec")
        .and_then(|s| s.get("number"))
        .and_then(Value::as_i64)
        .unwrap_or_default();
    let mut by_kube_version = BTreeMap::new();
    for vb in bundles
        .get("spec")
        .and_then(|s| s.get("versionsBundles"))
        .and_then(Value::as_sequence)
        .ok_or("bundles.yaml: no spec.versionsBundles")?
    {
        let kube = s(vb, &["kubeVersion"])
            .ok_or("versions bundle without kubeVersion")?
            .to_string();
        let manifest = s(vb, &["eksD", "manifestUrl"]).ok_or("no eksD.manifestUrl")?;
        let file = manifest.rsplit('/').next().unwrap_or_default();
        // The test data lacks some EKS-D manifests (1.29's); EKS Anywhere's tests never read them.
        let Ok(text) = read(&dir.join(file)) else {
            continue;
        };
        let release: Value = serde_yaml_ng::from_str(&text).map_err(|e| e.to_string())?;
        let img = |comp: &str, asset: &str| {
            eksd_asset(&release, comp, asset, "image")
                .map(ImageRef::from_uri)
                .ok_or(format!("{file}: no {asset}"))
        };
        let apiserver = img("kubernetes", "kube-apiserver-image")?;
        let etcd_tag = eksd_git_tag(&release, "etcd").unwrap_or_default();
        let distro = KubeDistro {
            kubernetes: parent_repo(&apiserver),
            coredns: parent_repo(&img("coredns", "coredns-image")?),
            etcd: parent_repo(&img("etcd", "etcd-image")?),
            pause: img("kubernetes", "pause-image")?,
            etcd_version: etcd_tag.trim_start_matches('v').to_string(),
            etcd_url: eksd_asset(
                &release,
                "etcd",
                &format!("etcd-linux-amd64-{etcd_tag}.tar.gz"),
                "archive",
            )
            .map(str::to_string),
        };
        by_kube_version.insert(
            kube.clone(),
            VersionsBundle {
                kube_version: kube,
                kube_distro: distro,
                tinkerbell_kube_vip: s(vb, &["tinkerbell", "kubeVip", "uri"])
                    .unwrap_or_default()
                    .to_string(),
                bottlerocket_bootstrap: ImageRef::from_uri(
                    s(
                        vb,
                        &["bottlerocketHostContainers", "kubeadmBootstrap", "uri"],
                    )
                    .unwrap_or_default(),
                ),
            },
        );
    }
    Ok(VersionsBundleSet {
        number,
        by_kube_version,
    })
}
