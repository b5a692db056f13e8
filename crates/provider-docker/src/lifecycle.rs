//! The Docker provider as the cluster lifecycle sees it ([`ironbell_lifecycle::provider`]):
//! [`Docker`] renders an EKS Anywhere Docker spec into the Cluster API objects these
//! controllers act on (`ironbell-capi`'s Docker renderer, EKS Anywhere's mapping, with the
//! shipped versions bundles), and [`setup_checks`] are the Docker-specific validations
//! that need the engine: it answers, every image the objects name is there (nothing is
//! pulled), and no container or network of the cluster exists yet.
//!
//! The task list over a plane that runs these controllers (`ironbell create|upgrade|delete
//! cluster -f docker-cluster.yaml`) is `ironbell-lifecycle-docker`.

use std::collections::BTreeSet;

use ironbell_capi::docker::{DockerBundles, DockerSpec, RenderOptions, TemplateNames};
use ironbell_cluster_spec::Spec;
use ironbell_lifecycle::plan::Command;
use ironbell_lifecycle::provider::{Check, Provider, ProviderError, RenderInput};
use ironbell_model::{DynamicObject, KindRegistry, Resource};
use ironbell_release::{BundlesSource, Resolver};

use crate::api::{DockerCluster, DockerMachineTemplate};
use crate::cluster::load_balancer_image;
use crate::{Engine, KIND_CLUSTER_LABEL, load_balancer_name, network_name};

/// The namespace EKS Anywhere puts a cluster's objects in.
pub const NAMESPACE: &str = "eksa-system";

/// Why a Docker spec could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No versions bundle for the spec's Kubernetes versions.
    #[error("cluster {cluster}: versions bundle: {message}")]
    Release {
        /// The cluster.
        cluster: String,
        /// The resolver's message.
        message: String,
    },
    /// The renderer refused the spec.
    #[error(transparent)]
    Render(#[from] ironbell_capi::docker::RenderError),
    /// The spec asks for what no controller here runs.
    #[error("cluster {cluster}: {message}")]
    Unsupported {
        /// The cluster.
        cluster: String,
        /// What is not supported, and what to do.
        message: String,
    },
    /// The rendered manifests did not read back as store objects.
    #[error("cluster {cluster}: the rendered objects: {message}")]
    Parse {
        /// The cluster.
        cluster: String,
        /// What did not read.
        message: String,
    },
}

/// The kinds a Docker cluster's objects are: the built-in ones, Cluster API's and this
/// provider's.
pub fn kinds() -> KindRegistry {
    let mut registry = KindRegistry::builtin();
    // Disjoint sets: registering cannot fail.
    let _ = ironbell_cluster_api::register_kinds(&mut registry);
    let _ = crate::register_kinds(&mut registry);
    registry
}

/// The Cluster API objects of the Docker spec `spec`, template names suffixed with
/// `now_unix_ms`, as store objects (in [`NAMESPACE`] unless they name one).
pub fn render(spec: &Spec, now_unix_ms: i64) -> Result<Vec<DynamicObject>, RenderError> {
    render_named(
        spec,
        &TemplateNames::from_cluster_clock(&spec.cluster, now_unix_ms),
    )
}

/// [`render`] with the template names `names` (an upgrade keeps those the cluster's
/// objects reference: `ironbell_lifecycle::objects::plan`).
pub fn render_named(spec: &Spec, names: &TemplateNames) -> Result<Vec<DynamicObject>, RenderError> {
    let cluster = spec.name().to_string();
    if spec.cluster.spec.external_etcd_configuration.is_some() {
        return Err(RenderError::Unsupported {
            cluster,
            message: "externalEtcdConfiguration: etcd machines (EtcdadmCluster) have no controller in ironbell yet; remove it for stacked etcd".into(),
        });
    }
    let versions = spec.kubernetes_versions();
    let versions: Vec<&str> = versions.iter().map(String::as_str).collect();
    let release = Resolver::new()
        .resolve(&BundlesSource::Shipped, &versions)
        .map_err(|e| RenderError::Release {
            cluster: cluster.clone(),
            message: e.to_string(),
        })?;
    let mut docker = DockerSpec::from_spec(spec)?;
    docker.set_eksa_version(&release);
    let options = RenderOptions {
        names: names.clone(),
        registry_credentials: None,
    };
    let manifests =
        ironbell_capi::docker::render(&docker, &DockerBundles::from_release(&release), &options)?;
    let parse = |message: String| RenderError::Parse {
        cluster: cluster.clone(),
        message,
    };
    let yaml = manifests.to_yaml().map_err(|e| parse(e.to_string()))?;
    let registry = kinds();
    let mut objects = registry
        .parse_documents(&yaml)
        .map_err(|e| parse(e.to_string()))?;
    for o in &mut objects {
        let namespaced = registry.get(&o.types).is_none_or(|k| k.namespaced);
        if namespaced && o.metadata.namespace.as_deref().is_none_or(str::is_empty) {
            o.metadata.namespace = Some(NAMESPACE.to_string());
        }
    }
    Ok(objects)
}

/// The Docker provider's lifecycle seam: its name and its pure render.
#[derive(Clone, Copy, Debug, Default)]
pub struct Docker;

impl Provider for Docker {
    fn name(&self) -> &str {
        "Docker"
    }

    fn validations(&self, spec: &Spec, command: Command) -> Vec<Check> {
        let _ = command;
        let name = "Docker Provider setup is valid";
        match DockerSpec::from_spec(spec) {
            Ok(_) => vec![Check::pass(name)],
            Err(e) => vec![Check::fail(name, e.to_string())],
        }
    }

    fn render(&self, input: &RenderInput<'_>) -> Result<Vec<DynamicObject>, ProviderError> {
        Ok(render(input.spec, input.now_unix_ms)?)
    }
}

/// The images `objects` run: each `DockerMachineTemplate`'s `customImage`, then each
/// `DockerCluster`'s load balancer, once each, in that order.
pub fn images(objects: &[DynamicObject]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let typed = |o: &DynamicObject| o.to_typed::<DockerMachineTemplate>().ok();
    let nodes = objects
        .iter()
        .filter(|o| o.types.kind == DockerMachineTemplate::KIND)
        .filter_map(typed)
        .filter_map(|t| t.spec.template.spec.custom_image);
    let lbs = objects
        .iter()
        .filter(|o| o.types.kind == DockerCluster::KIND)
        .filter_map(|o| o.to_typed::<DockerCluster>().ok())
        .map(|dc| load_balancer_image(&dc));
    for image in nodes.chain(lbs) {
        if seen.insert(image.clone()) {
            out.push(image);
        }
    }
    out
}

/// The validations of a create that need the engine, each named as the validation task
/// prints it: the engine answers, each image of `objects` is there, and cluster `cluster`
/// has no container (by kind's label or the load balancer's name) nor network yet.
pub async fn setup_checks(engine: &Engine, cluster: &str, objects: &[DynamicObject]) -> Vec<Check> {
    let mut checks = image_checks(engine, objects).await;
    if checks.iter().any(|c| c.outcome.is_err()) && checks.len() == 1 {
        return checks;
    }
    checks.push(names_check(engine, cluster).await);
    checks
}

/// The validations of an upgrade that need the engine: it answers (alone, failed, when it
/// does not) and each image of `objects` is there.
pub async fn image_checks(engine: &Engine, objects: &[DynamicObject]) -> Vec<Check> {
    let reachable = format!("Docker engine {} answers", engine.host());
    if let Err(e) = engine.ping().await {
        return vec![Check::fail(reachable, e.to_string())];
    }
    let mut checks = vec![Check::pass(reachable)];
    for image in images(objects) {
        let name = format!("Image {image} is present");
        checks.push(match engine.has_image(&image).await {
            Ok(true) => Check::pass(name),
            Ok(false) => Check::fail(
                name,
                "not on the engine, and images are not pulled: load or import it (docker load / docker import)",
            ),
            Err(e) => Check::fail(name, e.to_string()),
        });
    }
    checks
}

/// Cluster `cluster` has no container (by kind's label or the load balancer's name) nor
/// network on the engine.
async fn names_check(engine: &Engine, cluster: &str) -> Check {
    let name = format!("Cluster {cluster}'s container and network names are free");
    let taken = async {
        let mut taken = engine
            .containers_labelled(KIND_CLUSTER_LABEL, cluster)
            .await?;
        let lb = load_balancer_name(cluster);
        if !taken.contains(&lb) && engine.container(&lb).await?.is_some() {
            taken.push(lb);
        }
        let network = network_name(cluster);
        let networks = engine
            .networks_labelled(KIND_CLUSTER_LABEL, cluster)
            .await?;
        if networks.contains(&network) {
            taken.push(format!("network {network}"));
        }
        Ok::<_, crate::EngineError>(taken)
    }
    .await;
    match taken {
        Ok(t) if t.is_empty() => Check::pass(name),
        Ok(t) => Check::fail(name, format!("already on the engine: {}", t.join(", "))),
        Err(e) => Check::fail(name, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DockerMachine;

    #[test]
    fn a_generated_docker_spec_renders_to_objects_these_controllers_read() {
        let text = ironbell_cluster_spec::generate("c1", ironbell_cluster_spec::Provider::Docker);
        let mut spec = Spec::parse(&text).expect("spec").with_defaults();
        let refused = render(&spec, 0).map(|_| ()).expect_err("external etcd");
        assert!(refused.to_string().contains("EtcdadmCluster"), "{refused}");
        spec.cluster.spec.external_etcd_configuration = None;
        let objects = Docker
            .render(&RenderInput {
                spec: &spec,
                current: &[],
                now_unix_ms: 1_700_000_000_000,
            })
            .expect("render");
        let kinds: Vec<&str> = objects.iter().map(|o| o.types.kind.as_str()).collect();
        for k in [
            "Cluster",
            "DockerCluster",
            "KubeadmControlPlane",
            "MachineDeployment",
        ] {
            assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
        }
        let dc = objects
            .iter()
            .find(|o| o.types.kind == "DockerCluster")
            .expect("DockerCluster");
        assert_eq!(dc.types.api_version, DockerMachine::API_VERSION);
        assert_eq!(dc.namespace(), NAMESPACE);
        let images = images(&objects);
        assert!(images.iter().any(|i| i.contains("/haproxy:")), "{images:?}");
        assert!(images.len() >= 2, "{images:?}");
        let checks = Docker.validations(&spec, Command::create(&spec));
        assert!(checks.iter().all(|c| c.outcome.is_ok()), "{checks:?}");
    }
}
