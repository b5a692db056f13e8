//! The Cluster API objects of a Tinkerbell cluster, rendered from its spec ([`render`]) and
//! made to fit what the store holds ([`plan`]: `ironbell_lifecycle::objects::plan` with the
//! Tinkerbell renderer, its template kinds and each machine config's `hardwareSelector`,
//! so that a changed `osImageURL`, Kubernetes version or template replaces machines), then
//! applied ([`apply`], the lifecycle's).

use ironbell_capi::tinkerbell::{TemplateNames, TinkerbellSpec};
use ironbell_cluster_spec::Spec;
use ironbell_model::DynamicObject;
use ironbell_release::{BundlesSource, ClusterRelease, Resolver};
use ironbell_store::Store;

pub use ironbell_lifecycle::objects::{
    Applied, CLUSTER_NAME_LABEL, GroupChange, ObjectsError, Plan, apply, field, increment_name,
};

use crate::NAMESPACE;

/// Why the objects could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The versions bundle could not be resolved.
    #[error("resolving the versions bundle: {0}")]
    Release(String),
    /// The renderer refused the spec.
    #[error("rendering the Cluster API objects: {0}")]
    Render(String),
    /// The rendered objects did not read back as store kinds.
    #[error("reading the rendered objects: {0}")]
    Parse(String),
}

/// The versions bundle ironbell ships, for the Kubernetes versions of `spec`.
pub fn release(spec: &Spec) -> Result<ClusterRelease, RenderError> {
    let versions = spec.kubernetes_versions();
    let versions: Vec<&str> = versions.iter().map(String::as_str).collect();
    Resolver::new()
        .resolve(&BundlesSource::Shipped, &versions)
        .map_err(|e| RenderError::Release(e.to_string()))
}

/// The Cluster API objects of `spec` with template `names`, as store objects in
/// [`NAMESPACE`]; `tinkerbell_ip` overrides the datacenter's.
pub fn render(
    spec: &Spec,
    release: &ClusterRelease,
    tinkerbell_ip: Option<String>,
    names: &TemplateNames,
) -> Result<Vec<DynamicObject>, RenderError> {
    let mut tink =
        TinkerbellSpec::from_spec(spec).map_err(|e| RenderError::Render(e.to_string()))?;
    ironbell_capi::tinkerbell::strip_ssh_key_comments(&mut tink);
    let options = ironbell_capi::tinkerbell::RenderOptions {
        tinkerbell_ip: tinkerbell_ip.unwrap_or_else(|| tink.datacenter.spec.tinkerbell_ip.clone()),
        names: names.clone(),
        registry_credentials: None,
    };
    let bundles = ironbell_capi::versions::VersionsBundleSet::from_release(release);
    let manifests = ironbell_capi::tinkerbell::render(&tink, &bundles, &options)
        .map_err(|e| RenderError::Render(e.to_string()))?;
    let yaml = manifests
        .to_yaml()
        .map_err(|e| RenderError::Parse(e.to_string()))?;
    ironbell_ops::apply::parse(&ironbell_ops::lookup::kinds(), &yaml, NAMESPACE)
        .map_err(|e| RenderError::Parse(e.to_string()))
}
/// The objects of `spec` fitted to the store (see the module docs), and what they change.
pub async fn plan(
    store: &dyn Store,
    spec: &Spec,
    release: &ClusterRelease,
    now_unix_ms: i64,
) -> Result<Plan, ObjectsError> {
    let render =
        |names: &TemplateNames| render(spec, release, None, names).map_err(|e| e.to_string());
    let selector_of = |machine_config: &str| {
        spec.tinkerbell_machine_config(machine_config)
            .map(|m| m.spec.hardware_selector.clone())
            .unwrap_or_default()
    };
    let renderer = ironbell_lifecycle::objects::Renderer {
        render: &render,
        template_kinds: &["TinkerbellMachineTemplate", "KubeadmConfigTemplate"],
        selector_of: &selector_of,
    };
    ironbell_lifecycle::objects::plan(store, spec, &renderer, now_unix_ms).await
}
