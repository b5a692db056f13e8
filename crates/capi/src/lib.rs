//! Cluster API manifests from an EKS Anywhere cluster spec.
//!
//! Pure functions from (validated spec, versions bundle, template names, current objects when
//! upgrading) to the Cluster API objects that build the cluster: `Cluster`,
//! `KubeadmControlPlane`, `KubeadmConfigTemplate`, `MachineDeployment`, and each provider's
//! infrastructure kinds. The output is what EKS Anywhere renders for the same inputs, compared
//! as data by the golden tests (`tests/golden.rs`) against EKS Anywhere's own expected files.
//!
//! Where to start: [`render`], the entry for a create (a loaded spec and its resolved
//! release data in, a [`Manifests`] that prints YAML documents out). It dispatches to the
//! provider's renderer, [`tinkerbell::render`] for bare metal, [`docker::render`] for
//! Docker, [`cloudstack::render`] for CloudStack, [`vsphere::render`] for vSphere,
//! [`nutanix::render`] for Nutanix (CAPX) or [`snow::render`] for Snow (CAPAS), which
//! assemble the typed objects of [`api`] from the provider-neutral pieces in [`kubeadm`].
//! Upgrades name their templates with [`tinkerbell::upgrade_names`],
//! [`docker::upgrade_plan`], [`cloudstack::upgrade_names`], [`vsphere::upgrade_names`],
//! [`nutanix::upgrade_names`] and [`snow::upgrade_names`].
//!
//! The objects are typed builders, not text templates: EKS Anywhere renders Go text
//! templates, and a typed object cannot produce mis-indented YAML or an unquoted scalar that
//! changes type. The trade-off is that text-only quirks of EKS Anywhere's output (comments,
//! key order, `<no value>` in a field that is otherwise typed) are matched as data only.
//!
//! Not here: loading or validating the spec (`ironbell-cluster-spec`), resolving release data
//! (`ironbell-release`), applying the objects or reconciling them (the lifecycle).

pub mod api;
pub mod cloudstack;
mod common;
pub mod docker;
pub mod kubeadm;
pub mod nutanix;
pub mod provider_spec;
pub mod snow;
pub mod tinkerbell;
pub mod versions;
pub mod vsphere;

use serde::Serialize;

pub use common::LookupError;

use api::cluster::{Cluster, MachineDeployment};
use api::docker::{DockerCluster, DockerMachineTemplate};
use api::etcdadm::EtcdadmCluster;
use api::kubeadm::{KubeadmConfigTemplate, KubeadmControlPlane};
use api::tinkerbell::{TinkerbellCluster, TinkerbellMachineTemplate};

/// The inputs of a create besides the spec and the release data.
#[derive(Clone, Debug, Default)]
pub struct CreateInputs {
    /// The clock, in Unix milliseconds: the suffix of every template name.
    pub now_unix_ms: i64,
    /// The Tinkerbell IP the machines boot from first (the admin machine's while
    /// bootstrapping); `None` for the datacenter's `tinkerbellIP`.
    pub tinkerbell_ip: Option<String>,
    /// Credentials of an authenticated registry mirror.
    pub registry_credentials: Option<kubeadm::RegistryCredentials>,
    /// vCenter credentials (vSphere clusters).
    pub vsphere_credentials: Option<vsphere::VSphereCredentials>,
    /// Prism Central credentials (Nutanix).
    pub nutanix_credentials: Option<nutanix::PrismCredentials>,
    /// The devices' credentials and CA bundle (Snow).
    pub snow_credentials: Option<snow::SnowCredentials>,
}

/// Why a spec could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Tinkerbell renderer refused the spec.
    #[error(transparent)]
    Tinkerbell(#[from] tinkerbell::RenderError),
    /// The vSphere renderer refused the spec.
    #[error(transparent)]
    VSphere(#[from] vsphere::RenderError),
    /// The Docker renderer refused the spec.
    #[error(transparent)]
    Docker(#[from] docker::RenderError),
    /// The CloudStack renderer refused the spec.
    #[error(transparent)]
    CloudStack(#[from] cloudstack::RenderError),
    /// The Nutanix renderer refused the spec.
    #[error(transparent)]
    Nutanix(#[from] nutanix::RenderError),
    /// The Snow renderer refused the spec.
    #[error(transparent)]
    Snow(#[from] snow::RenderError),
}

/// Render the Cluster API objects of a new cluster, as EKS Anywhere's provider does for a
/// create: SSH key comments dropped, template names from the clock.
pub fn render(
    spec: &ironbell_cluster_spec::Spec,
    release: &ironbell_release::ClusterRelease,
    inputs: &CreateInputs,
) -> Result<Manifests, Error> {
    match spec.provider() {
        ironbell_cluster_spec::Provider::Tinkerbell => {
            let mut tink = tinkerbell::TinkerbellSpec::from_spec(spec)?;
            tinkerbell::strip_ssh_key_comments(&mut tink);
            let options = tinkerbell::RenderOptions {
                tinkerbell_ip: inputs
                    .tinkerbell_ip
                    .clone()
                    .unwrap_or_else(|| tink.datacenter.spec.tinkerbell_ip.clone()),
                names: tinkerbell::TemplateNames::from_clock(&tink, inputs.now_unix_ms),
                registry_credentials: inputs.registry_credentials.clone(),
            };
            let bundles = versions::VersionsBundleSet::from_release(release);
            Ok(tinkerbell::render(&tink, &bundles, &options)?)
        }
        ironbell_cluster_spec::Provider::VSphere => {
            let vs = vsphere::VSphereSpec::from_spec(spec)?;
            let options = vsphere::RenderOptions {
                names: vsphere::names_from_clock(&vs, inputs.now_unix_ms),
                credentials: inputs.vsphere_credentials.clone().unwrap_or_default(),
                registry_credentials: inputs.registry_credentials.clone(),
            };
            let bundles = versions::VersionsBundleSet::from_release(release);
            Ok(vsphere::render(&vs, &bundles, &options)?)
        }
        ironbell_cluster_spec::Provider::Docker => {
            let mut docker_spec = docker::DockerSpec::from_spec(spec)?;
            docker_spec.set_eksa_version(release);
            let options = docker::RenderOptions {
                names: docker::TemplateNames::from_cluster_clock(
                    &docker_spec.cluster,
                    inputs.now_unix_ms,
                ),
                registry_credentials: inputs.registry_credentials.clone(),
            };
            let bundles = docker::DockerBundles::from_release(release);
            Ok(docker::render(&docker_spec, &bundles, &options)?)
        }
        ironbell_cluster_spec::Provider::CloudStack => {
            let cs = cloudstack::CloudStackSpec::from_spec(spec)?;
            let options = cloudstack::RenderOptions {
                names: cloudstack::names_from_clock(&cs.cluster, inputs.now_unix_ms),
            };
            let bundles = versions::VersionsBundleSet::from_release(release);
            Ok(cloudstack::render(&cs, &bundles, &options)?)
        }
        ironbell_cluster_spec::Provider::Nutanix => {
            let ntx = nutanix::NutanixSpec::from_spec(spec)?;
            let options = nutanix::RenderOptions {
                names: nutanix::names_from_clock(&ntx, inputs.now_unix_ms),
                credentials: inputs.nutanix_credentials.clone().unwrap_or_default(),
                registry_credentials: inputs.registry_credentials.clone(),
            };
            let bundles = versions::VersionsBundleSet::from_release(release);
            Ok(nutanix::render(&ntx, &bundles, &options)?)
        }
        ironbell_cluster_spec::Provider::Snow => {
            let snw = snow::SnowSpec::from_spec(spec)?;
            let options = snow::RenderOptions {
                names: snow::SnowNames::initial(&snw),
                credentials: inputs.snow_credentials.clone().unwrap_or_default(),
            };
            let bundles = versions::VersionsBundleSet::from_release(release);
            Ok(snow::render(&snw, &bundles, &options)?)
        }
    }
}

/// The names of a cluster's worker node groups, `md-<i>` for an unnamed one (EKS Anywhere's
/// default), in the spec's order.
pub fn worker_group_names(cluster: &ironbell_model::anywhere::Cluster) -> Vec<String> {
    common::worker_groups(cluster)
        .map(|(name, _)| name)
        .collect()
}

/// What Go's `text/template` prints for a missing value; EKS Anywhere's goldens carry it
/// where a template name was not given.
pub const NO_VALUE: &str = "<no value>";

/// One rendered object.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum Object {
    /// A Cluster API `Cluster`.
    Cluster(Box<Cluster>),
    /// A `KubeadmControlPlane`.
    KubeadmControlPlane(Box<KubeadmControlPlane>),
    /// A `KubeadmConfigTemplate`.
    KubeadmConfigTemplate(Box<KubeadmConfigTemplate>),
    /// A `MachineDeployment`.
    MachineDeployment(Box<MachineDeployment>),
    /// An `EtcdadmCluster`.
    EtcdadmCluster(Box<EtcdadmCluster>),
    /// A `TinkerbellCluster`.
    TinkerbellCluster(Box<TinkerbellCluster>),
    /// A `TinkerbellMachineTemplate`.
    TinkerbellMachineTemplate(Box<TinkerbellMachineTemplate>),
    /// A Kubernetes `Secret` (registry credentials).
    Secret(Box<api::Secret>),
    /// A `VSphereCluster`.
    VSphereCluster(Box<api::vsphere::VSphereCluster>),
    /// A `VSphereMachineTemplate`.
    VSphereMachineTemplate(Box<api::vsphere::VSphereMachineTemplate>),
    /// A `VSphereFailureDomain`.
    VSphereFailureDomain(Box<api::vsphere::VSphereFailureDomain>),
    /// A `VSphereDeploymentZone`.
    VSphereDeploymentZone(Box<api::vsphere::VSphereDeploymentZone>),
    /// A `ClusterResourceSet`.
    ClusterResourceSet(Box<api::core::ClusterResourceSet>),
    /// A `ConfigMap`.
    ConfigMap(Box<api::core::ConfigMap>),
    /// A `Secret` with `stringData`, a `type` or empty values.
    GenericSecret(Box<api::core::GenericSecret>),
    /// CAPD's `DockerCluster`.
    DockerCluster(Box<DockerCluster>),
    /// CAPD's `DockerMachineTemplate`.
    DockerMachineTemplate(Box<DockerMachineTemplate>),
    /// A `CloudStackCluster`.
    CloudStackCluster(Box<api::cloudstack::CloudStackCluster>),
    /// A `CloudStackMachineTemplate`.
    CloudStackMachineTemplate(Box<api::cloudstack::CloudStackMachineTemplate>),
    /// A CloudStack credentials `Secret` (`stringData`).
    CloudStackCredentials(Box<api::cloudstack::CredentialsSecret>),
    /// A `NutanixCluster`.
    NutanixCluster(Box<api::nutanix::NutanixCluster>),
    /// A `NutanixMachineTemplate`.
    NutanixMachineTemplate(Box<api::nutanix::NutanixMachineTemplate>),
    /// An object as Go's marshaller prints it (the Snow provider's).
    GoPrinted(Box<api::snow::GoPrinted>),
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> &str {
        match self {
            Self::Cluster(o) => &o.kind,
            Self::KubeadmControlPlane(o) => &o.kind,
            Self::KubeadmConfigTemplate(o) => &o.kind,
            Self::MachineDeployment(o) => &o.kind,
            Self::EtcdadmCluster(o) => &o.kind,
            Self::TinkerbellCluster(o) => &o.kind,
            Self::TinkerbellMachineTemplate(o) => &o.kind,
            Self::Secret(o) => &o.kind,
            Self::VSphereCluster(o) => &o.kind,
            Self::VSphereMachineTemplate(o) => &o.kind,
            Self::VSphereFailureDomain(o) => &o.kind,
            Self::VSphereDeploymentZone(o) => &o.kind,
            Self::ClusterResourceSet(o) => &o.kind,
            Self::ConfigMap(o) => &o.kind,
            Self::GenericSecret(o) => &o.kind,
            Self::DockerCluster(o) => &o.kind,
            Self::DockerMachineTemplate(o) => &o.kind,
            Self::CloudStackCluster(o) => &o.kind,
            Self::CloudStackMachineTemplate(o) => &o.kind,
            Self::CloudStackCredentials(o) => &o.kind,
            Self::NutanixCluster(o) => &o.kind,
            Self::NutanixMachineTemplate(o) => &o.kind,
            Self::GoPrinted(o) => &o.kind,
        }
    }
}

/// The rendered objects of a cluster: the control-plane document and the workers document,
/// in the order EKS Anywhere writes them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Manifests {
    /// `Cluster`, `KubeadmControlPlane`, etcd objects, machine templates, the provider's
    /// cluster object and secrets.
    pub control_plane: Vec<Object>,
    /// Per worker node group: `MachineDeployment`, machine template, `KubeadmConfigTemplate`.
    pub workers: Vec<Object>,
}

/// Objects as a multi-document YAML stream (`---` between documents).
pub fn to_yaml_documents(objects: &[Object]) -> Result<String, serde_yaml_ng::Error> {
    ironbell_model::to_yaml_documents(objects)
}

impl Manifests {
    /// The control-plane document as YAML.
    pub fn control_plane_yaml(&self) -> Result<String, serde_yaml_ng::Error> {
        to_yaml_documents(&self.control_plane)
    }

    /// The workers document as YAML.
    pub fn workers_yaml(&self) -> Result<String, serde_yaml_ng::Error> {
        to_yaml_documents(&self.workers)
    }

    /// Both documents as one YAML stream, control plane first.
    pub fn to_yaml(&self) -> Result<String, serde_yaml_ng::Error> {
        let all: Vec<Object> = self
            .control_plane
            .iter()
            .chain(&self.workers)
            .cloned()
            .collect();
        to_yaml_documents(&all)
    }

    /// Drop every object of a kind (EKS Anywhere omits the immutable
    /// `TinkerbellMachineTemplate` from a scale-only upgrade).
    pub fn without_kind(mut self, kind: &str) -> Self {
        self.control_plane.retain(|o| o.kind() != kind);
        self.workers.retain(|o| o.kind() != kind);
        self
    }
}
