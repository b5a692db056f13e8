//! The Docker provider's Cluster API objects (CAPD: clusters of containers on the local
//! Docker engine, for development and tests).
//!
//! [`render`] turns a [`DockerSpec`] into the control-plane document (`Cluster`,
//! `DockerCluster`, the control-plane `DockerMachineTemplate`, `KubeadmControlPlane`, with
//! external etcd the `EtcdadmCluster` and its `DockerMachineTemplate`, and the registry
//! credentials secret) and the workers document (per worker node group:
//! `KubeadmConfigTemplate`, `MachineDeployment`, `DockerMachineTemplate`), as EKS Anywhere's
//! Docker provider does (`pkg/providers/docker` at v0.24.6).
//!
//! What is particular to Docker: kind-style kubelet flags (no disk-pressure eviction, the
//! cgroup driver of the node image: `cgroupfs` below Kubernetes 1.24, `systemd` from 1.24),
//! containerd's socket named explicitly, the API server certificate valid for `localhost`
//! and `127.0.0.1` (the load balancer publishes it on the host), the controller manager's
//! host-path provisioner, every node container mounting the host's Docker socket, and the
//! node image from the release's EKS-D kind node image.
//!
//! Template names come from a [`TemplateNames`]: from a clock for a create
//! ([`TemplateNames::from_cluster_clock`]) or, on an upgrade, [`upgrade_plan`] keeps the
//! current names of what does not change.

use std::collections::BTreeMap;

use ironbell_model::anywhere::{
    AWSIamConfig, Cluster as EksaCluster, ControlPlaneConfiguration, OIDCConfig,
    WorkerNodeGroupConfiguration,
};

use crate::api::cluster::{
    Bootstrap, Cluster, ClusterNetwork, ClusterSpec, MachineDeployment, MachineDeploymentSpec,
    MachineSpec, MachineTemplateSpec, NetworkRanges,
};
use crate::api::docker::{
    DOCKER_API_VERSION, DockerCluster, DockerLoadBalancer, DockerMachineSpec,
    DockerMachineTemplate, Mount,
};
use crate::api::etcdadm::{
    EtcdCloudInitConfig, EtcdadmCluster, EtcdadmClusterSpec, EtcdadmConfigSpec,
};
use crate::api::kubeadm::{
    ClusterConfiguration, ControlPlaneComponent, ControlPlaneMachineTemplate, Etcd, File,
    KubeadmConfigSpec, KubeadmConfigTemplate, KubeadmControlPlane, KubeadmControlPlaneSpec,
    LocalEtcd, NodeConfiguration, NodeRegistration, Patches,
};
use crate::api::{
    BOOTSTRAP_API_VERSION, CONTROL_PLANE_API_VERSION, EKSA_SYSTEM_NAMESPACE, ETCDADM_API_VERSION,
    LabelSelector, ObjectReference, StringMap, meta,
};
use crate::common::{cidrs, cluster_mirror, cluster_name, resolv_conf, worker_groups};
use crate::kubeadm::{self, RegistryCredentials, RegistryMirror};
use crate::tinkerbell::upgrade_worker_names;
use crate::versions::{ImageRef, KubeDistro};
use crate::{LookupError, Manifests, NO_VALUE, Object};

pub use crate::tinkerbell::{TemplateNames, WorkerTemplateNames};

/// Kind name of CAPD's machine template.
pub const MACHINE_TEMPLATE_KIND: &str = "DockerMachineTemplate";

/// The container runtime socket of a kind node image.
const CRI_SOCKET: &str = "/var/run/containerd/containerd.sock";

/// The host's Docker socket, mounted into every node container (CAPD in a workload cluster
/// drives the host's engine).
const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Kind's kubelet eviction thresholds: never evict for disk pressure (a node container sees
/// the host's disks).
const EVICTION_HARD: &str = "nodefs.available<0%,nodefs.inodesFree<0%,imagefs.available<0%";

/// The first EKS Anywhere version whose external etcd machines download etcd from the
/// EKS-D release URL (`v1alpha1.MinEksAVersionWithEtcdURL`).
const MIN_EKSA_VERSION_WITH_ETCD_URL: (u64, u64, u64) = (0, 19, 0);

/// A Docker cluster spec: the EKS Anywhere objects the renderer reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DockerSpec {
    /// The `Cluster`.
    pub cluster: EksaCluster,
    /// The OIDC identity provider, if any.
    pub oidc: Option<OIDCConfig>,
    /// The AWS IAM authenticator config, if any.
    pub aws_iam: Option<AWSIamConfig>,
}

impl DockerSpec {
    /// The Docker view of a loaded spec: its Cluster and the identity providers it
    /// references. The spec's datacenter must be a `DockerDatacenterConfig`.
    pub fn from_spec(spec: &ironbell_cluster_spec::Spec) -> Result<Self, RenderError> {
        if spec.provider() != ironbell_cluster_spec::Provider::Docker {
            return Err(RenderError::NotDocker {
                cluster: spec.name().to_string(),
            });
        }
        Ok(Self {
            cluster: spec.cluster.clone(),
            oidc: spec.oidc_config().cloned(),
            aws_iam: spec.aws_iam_config().cloned(),
        })
    }

    /// Take the release's EKS Anywhere version as `spec.eksaVersion`, as EKS Anywhere's spec
    /// builder does (it decides, among others, whether etcd machines download etcd from the
    /// EKS-D release URL). A release without a version leaves the spec's.
    pub fn set_eksa_version(&mut self, release: &ironbell_release::ClusterRelease) {
        if !release.eksa_version.is_empty() {
            self.cluster.spec.eksa_version = Some(release.eksa_version.clone());
        }
    }
}

/// What went wrong rendering a Docker spec.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The spec's datacenter config is not a `DockerDatacenterConfig`.
    #[error("cluster {cluster}: the datacenter config is not a DockerDatacenterConfig")]
    NotDocker {
        /// Cluster name.
        cluster: String,
    },
    /// A field does not hold a version.
    #[error("cluster {cluster}: {field} {value:?} is not a version ({expected})")]
    BadVersion {
        /// Cluster name.
        cluster: String,
        /// The field's path.
        field: String,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The spec lacks a field, a versions bundle, template names or registry credentials.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

/// What the Docker renderer needs of one versions bundle: the EKS-D distribution, the kind
/// node image and the HAProxy image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DockerVersionsBundle {
    /// EKS-D distribution.
    pub kube_distro: KubeDistro,
    /// The node containers' image (`eksD.kindNode`); empty when the release has none.
    pub kind_node: String,
    /// The load balancer image URI (`haproxy.image`); empty when the release has none.
    pub haproxy: String,
}

impl DockerVersionsBundle {
    /// The Docker view of a resolved versions bundle.
    pub fn from_release(v: &ironbell_release::ClusterVersionsBundle) -> Self {
        Self {
            kube_distro: crate::versions::VersionsBundle::from_release(v).kube_distro,
            kind_node: v.bundle.eks_d.kind_node.versioned_image().to_string(),
            haproxy: v.bundle.haproxy.image.uri.clone(),
        }
    }

    /// The load balancer image, split as CAPD takes it. EKS Anywhere takes the repository
    /// only from an image under `public.ecr.aws/<account>/kubernetes-sigs/kind/haproxy`
    /// (CAPD appends `/haproxy`); any other image gives no repository.
    pub fn load_balancer(&self) -> DockerLoadBalancer {
        let image = ImageRef::from_uri(&self.haproxy);
        let repository = image
            .repository
            .strip_suffix("/kubernetes-sigs/kind/haproxy")
            .and_then(|prefix| prefix.strip_prefix("public.ecr.aws/"))
            .filter(|account| {
                !account.is_empty()
                    && account.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            })
            .map(|account| format!("public.ecr.aws/{account}/kubernetes-sigs/kind"));
        DockerLoadBalancer {
            image_repository: repository,
            image_tag: Some(image.tag).filter(|t| !t.is_empty() && !self.haproxy.is_empty()),
        }
    }
}

/// The versions bundles of a release, for the Docker renderer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DockerBundles {
    /// `Bundles.spec.number`; a change renews every machine template.
    pub number: i64,
    /// Bundles by Kubernetes minor version (`1.29`).
    pub by_kube_version: BTreeMap<String, DockerVersionsBundle>,
}

impl DockerBundles {
    /// The Docker view of a cluster's resolved release data.
    pub fn from_release(release: &ironbell_release::ClusterRelease) -> Self {
        Self {
            number: release.bundles_number,
            by_kube_version: crate::versions::by_kube_version(
                release,
                DockerVersionsBundle::from_release,
            ),
        }
    }
}

/// Inputs of a render besides the spec and the bundles.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// Template names; a missing control-plane or etcd name prints as [`NO_VALUE`].
    pub names: TemplateNames,
    /// Registry mirror credentials, when the mirror authenticates.
    pub registry_credentials: Option<RegistryCredentials>,
}

/// The current state of an upgraded cluster: its spec, its bundles number and the template
/// names its objects reference now ([`TemplateNames::from_objects`]).
#[derive(Clone, Debug)]
pub struct CurrentCluster<'a> {
    /// The spec the cluster runs.
    pub spec: &'a DockerSpec,
    /// `Bundles.spec.number` of its release.
    pub bundles_number: i64,
    /// Template names of its `KubeadmControlPlane`, `EtcdadmCluster` and
    /// `MachineDeployment`s.
    pub names: TemplateNames,
}

/// The template names of an upgrade and what must happen before the new objects apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpgradePlan {
    /// The names to render with.
    pub names: TemplateNames,
    /// The external etcd machines are replaced: annotate the `EtcdadmCluster` `<cluster>-etcd`
    /// with [`ETCD_UPGRADING_ANNOTATION`]` = "true"` first, so that the control plane waits
    /// for the new etcd members before it rolls (the etcdadm controller removes it).
    pub annotate_etcd_upgrading: bool,
}

/// The annotation that holds a control-plane rollout until the etcd machines are replaced.
pub const ETCD_UPGRADING_ANNOTATION: &str = "etcdcluster.cluster.x-k8s.io/upgrading";

/// The template names of an upgrade from `current` to `new`.
///
/// A template keeps its current name unless it must be replaced: the control plane's and
/// the etcd machines' on a Kubernetes version or bundles change (or when the cluster has
/// none yet); a worker group's as
/// [`crate::tinkerbell::upgrade_names`] decides for bare metal (machine template on a
/// bundles, taints, labels or Kubernetes version change, `KubeadmConfigTemplate` on a taints
/// or labels change). New names come from the clock.
pub fn upgrade_plan(
    current: &CurrentCluster<'_>,
    new: &DockerSpec,
    new_bundles_number: i64,
    unix_ms: i64,
) -> UpgradePlan {
    let fresh = TemplateNames::from_cluster_clock(&new.cluster, unix_ms);
    let old_cluster = &current.spec.cluster;
    let renew = old_cluster.spec.kubernetes_version != new.cluster.spec.kubernetes_version
        || current.bundles_number != new_bundles_number;
    let external_etcd = new.cluster.spec.external_etcd_configuration.is_some();
    // A template the cluster does not reference yet gets a new name too.
    let pick = |fresh: &Option<String>, current: &Option<String>| {
        if renew || current.is_none() {
            fresh.clone()
        } else {
            current.clone()
        }
    };
    UpgradePlan {
        names: TemplateNames {
            control_plane: pick(&fresh.control_plane, &current.names.control_plane),
            etcd: external_etcd
                .then(|| pick(&fresh.etcd, &current.names.etcd))
                .flatten(),
            workers: upgrade_worker_names(
                old_cluster,
                &new.cluster,
                &current.names.workers,
                current.bundles_number != new_bundles_number,
                unix_ms,
            ),
        },
        annotate_etcd_upgrading: external_etcd && renew,
    }
}

/// Render a Docker cluster's Cluster API objects: the control-plane and the workers
/// documents.
pub fn render(
    spec: &DockerSpec,
    bundles: &DockerBundles,
    options: &RenderOptions,
) -> Result<Manifests, RenderError> {
    Ok(Manifests {
        control_plane: render_control_plane(spec, bundles, options)?,
        workers: render_workers(spec, bundles, options)?,
    })
}

/// The control-plane document alone (EKS Anywhere's `GenerateCAPISpecControlPlane`).
pub fn render_control_plane(
    spec: &DockerSpec,
    bundles: &DockerBundles,
    options: &RenderOptions,
) -> Result<Vec<Object>, RenderError> {
    let ctx = Context::new(spec, bundles, options)?;
    ctx.control_plane(&options.names)
}

/// The workers document alone (EKS Anywhere's `GenerateCAPISpecWorkers`).
pub fn render_workers(
    spec: &DockerSpec,
    bundles: &DockerBundles,
    options: &RenderOptions,
) -> Result<Vec<Object>, RenderError> {
    let ctx = Context::new(spec, bundles, options)?;
    let mut objects = Vec::new();
    for (i, (group, wng)) in worker_groups(&spec.cluster).enumerate() {
        objects.extend(ctx.worker_group(i, &group, wng, &options.names)?);
    }
    Ok(objects)
}

/// `(major, minor)` of a Kubernetes version (`1.24`, `v1.24`).
fn kube_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// `(major, minor, patch)` of a semantic version (`v0.19.0-dev+latest`); pre-release and
/// build metadata do not count, as in EKS Anywhere's version comparison.
fn semver_core(version: &str) -> Option<(u64, u64, u64)> {
    let core = version.trim_start_matches('v');
    let core = core.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let v = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    parts.next().is_none().then_some(v)
}

fn string_map<const N: usize>(pairs: [(&str, &str); N]) -> StringMap {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Everything the control-plane and worker builders share.
struct Context<'a> {
    spec: &'a DockerSpec,
    name: &'a str,
    bundles: &'a DockerBundles,
    mirror: Option<RegistryMirror>,
    credentials: Option<&'a RegistryCredentials>,
}

impl<'a> Context<'a> {
    fn new(
        spec: &'a DockerSpec,
        bundles: &'a DockerBundles,
        options: &'a RenderOptions,
    ) -> Result<Self, RenderError> {
        let name = cluster_name(&spec.cluster);
        let mirror = cluster_mirror(&spec.cluster, options.registry_credentials.as_ref())
            .ok_or_else(|| LookupError::MissingRegistryCredentials {
                cluster: name.to_string(),
            })?;
        Ok(Self {
            spec,
            name,
            bundles,
            mirror,
            credentials: options.registry_credentials.as_ref(),
        })
    }

    fn cluster(&self) -> &'a EksaCluster {
        &self.spec.cluster
    }

    fn missing(&self, field: &str) -> RenderError {
        RenderError::Lookup(LookupError::MissingField {
            cluster: self.name.to_string(),
            field: field.to_string(),
        })
    }

    fn kubernetes_version(&self) -> Result<&'a str, RenderError> {
        self.cluster()
            .spec
            .kubernetes_version
            .as_ref()
            .map(|v| v.as_str())
            .ok_or_else(|| self.missing("spec.kubernetesVersion"))
    }

    fn bundle(&self, version: &str) -> Result<&'a DockerVersionsBundle, RenderError> {
        self.bundles.by_kube_version.get(version).ok_or_else(|| {
            RenderError::Lookup(LookupError::MissingBundle {
                cluster: self.name.to_string(),
                version: version.to_string(),
            })
        })
    }

    fn reference(&self, api_version: &str, kind: &str, name: impl Into<String>) -> ObjectReference {
        ObjectReference::new(api_version, kind, name).in_namespace(EKSA_SYSTEM_NAMESPACE)
    }

    fn machine_template(&self, name: &str, bundle: &DockerVersionsBundle) -> Object {
        Object::DockerMachineTemplate(Box::new(DockerMachineTemplate::new(
            meta(name, EKSA_SYSTEM_NAMESPACE),
            DockerMachineSpec {
                extra_mounts: vec![Mount {
                    container_path: DOCKER_SOCKET.into(),
                    host_path: DOCKER_SOCKET.into(),
                    read_only: false,
                }],
                custom_image: Some(bundle.kind_node.clone()).filter(|i| !i.is_empty()),
            },
        )))
    }

    /// The kubelet's flags (without a `KubeletConfiguration`) for a node group of a
    /// Kubernetes version, or the patch file that carries its configuration.
    fn kubelet(
        &self,
        field: &str,
        kubernetes_version: &str,
        config: Option<&serde_json::Value>,
        labels: Option<&BTreeMap<String, String>>,
    ) -> Result<(StringMap, Option<File>), RenderError> {
        let resolv_conf = resolv_conf(self.cluster());
        let mut args = StringMap::new();
        let file = match config {
            Some(c) => Some(kubeadm::kubelet_configuration_file(
                kubeadm::kubelet_configuration(c, resolv_conf),
            )),
            None => {
                let minor =
                    kube_minor(kubernetes_version).ok_or_else(|| RenderError::BadVersion {
                        cluster: self.name.to_string(),
                        field: field.to_string(),
                        value: kubernetes_version.to_string(),
                        expected: "a Kubernetes version such as 1.29",
                    })?;
                let cgroup_driver = if minor >= (1, 24) {
                    "systemd"
                } else {
                    "cgroupfs"
                };
                args = string_map([
                    ("eviction-hard", EVICTION_HARD),
                    ("tls-cipher-suites", kubeadm::SECURE_CIPHER_SUITES),
                    ("cgroup-driver", cgroup_driver),
                ]);
                if let Some(path) = resolv_conf.and_then(|r| r.path.as_deref()) {
                    args.insert("resolv-conf".into(), path.to_string());
                }
                None
            }
        };
        args.extend(kubeadm::node_label_args(labels));
        Ok((args, file))
    }

    fn node_configuration(
        &self,
        kubelet_args: StringMap,
        patches: bool,
        taints: Option<Vec<crate::api::Taint>>,
    ) -> NodeConfiguration {
        NodeConfiguration {
            patches: patches.then(|| Patches {
                directory: "/etc/kubernetes/patches".into(),
            }),
            node_registration: Some(NodeRegistration {
                cri_socket: Some(CRI_SOCKET.into()),
                taints,
                kubelet_extra_args: (!kubelet_args.is_empty()).then_some(kubelet_args),
                ..NodeRegistration::default()
            }),
            ..NodeConfiguration::default()
        }
    }

    /// The registry mirror files and the commands that make containerd read them.
    fn mirror_files(&self) -> (Vec<File>, Vec<String>) {
        match &self.mirror {
            Some(m) => (
                m.containerd_files(self.credentials),
                vec![
                    "cat /etc/containerd/config_append.toml >> /etc/containerd/config.toml".into(),
                    "systemctl daemon-reload".into(),
                    "systemctl restart containerd".into(),
                ],
            ),
            None => (Vec::new(), Vec::new()),
        }
    }

    fn etcd_release_url(&self, url: Option<&String>) -> Result<Option<String>, RenderError> {
        let Some(version) = self.cluster().spec.eksa_version.as_deref() else {
            return Ok(None);
        };
        let core = semver_core(version).ok_or_else(|| RenderError::BadVersion {
            cluster: self.name.to_string(),
            field: "spec.eksaVersion".into(),
            value: version.to_string(),
            expected: "a semantic version such as v0.24.6",
        })?;
        Ok((core >= MIN_EKSA_VERSION_WITH_ETCD_URL)
            .then(|| url.cloned())
            .flatten())
    }

    fn control_plane(&self, names: &TemplateNames) -> Result<Vec<Object>, RenderError> {
        let cluster = self.cluster();
        let name = self.name;
        let cp = cluster
            .spec
            .control_plane_configuration
            .as_ref()
            .ok_or_else(|| self.missing("spec.controlPlaneConfiguration"))?;
        let kubernetes_version = self.kubernetes_version()?;
        let bundle = self.bundle(kubernetes_version)?;
        let distro = &bundle.kube_distro;
        let external_etcd = cluster.spec.external_etcd_configuration.as_ref();
        let cp_template_name = names
            .control_plane
            .clone()
            .unwrap_or_else(|| NO_VALUE.to_string());
        let etcd_template_name = names.etcd.clone().unwrap_or_else(|| NO_VALUE.to_string());

        let mut objects = vec![
            Object::Cluster(Box::new(Cluster::new(
                meta(name, EKSA_SYSTEM_NAMESPACE),
                ClusterSpec {
                    cluster_network: Some(ClusterNetwork {
                        pods: Some(NetworkRanges {
                            cidr_blocks: cidrs(self.cluster(), false),
                        }),
                        service_domain: Some("cluster.local".into()),
                        services: Some(NetworkRanges {
                            cidr_blocks: cidrs(self.cluster(), true),
                        }),
                    }),
                    control_plane_endpoint: None,
                    control_plane_ref: Some(self.reference(
                        CONTROL_PLANE_API_VERSION,
                        "KubeadmControlPlane",
                        name,
                    )),
                    infrastructure_ref: Some(self.reference(
                        DOCKER_API_VERSION,
                        "DockerCluster",
                        name,
                    )),
                    managed_external_etcd_ref: external_etcd.map(|_| {
                        self.reference(
                            ETCDADM_API_VERSION,
                            "EtcdadmCluster",
                            format!("{name}-etcd"),
                        )
                    }),
                    paused: None,
                },
            ))),
            Object::DockerCluster(Box::new(DockerCluster::new(
                meta(name, EKSA_SYSTEM_NAMESPACE),
                bundle.load_balancer(),
            ))),
            self.machine_template(&cp_template_name, bundle),
        ];

        let kcp = self.kubeadm_control_plane(cp, kubernetes_version, bundle, &cp_template_name)?;
        objects.push(Object::KubeadmControlPlane(Box::new(kcp)));

        if let Some(etcd) = external_etcd {
            objects.push(Object::EtcdadmCluster(Box::new(EtcdadmCluster::new(
                meta(format!("{name}-etcd"), EKSA_SYSTEM_NAMESPACE),
                EtcdadmClusterSpec {
                    replicas: etcd.count.unwrap_or(0),
                    etcdadm_config_spec: EtcdadmConfigSpec {
                        etcdadm_builtin: true,
                        cloud_init_config: Some(EtcdCloudInitConfig {
                            version: distro.etcd_version.clone(),
                            install_dir: String::new(),
                            etcd_release_url: self.etcd_release_url(distro.etcd_url.as_ref())?,
                        }),
                        cipher_suites: Some(kubeadm::SECURE_CIPHER_SUITES.into()),
                        registry_mirror: self.mirror.as_ref().map(RegistryMirror::bottlerocket),
                        ..EtcdadmConfigSpec::default()
                    },
                    infrastructure_template: self.reference(
                        DOCKER_API_VERSION,
                        MACHINE_TEMPLATE_KIND,
                        etcd_template_name.clone(),
                    ),
                },
            ))));
            objects.push(self.machine_template(&etcd_template_name, bundle));
        }
        if let (Some(true), Some(c)) = (
            self.mirror.as_ref().map(|m| m.authenticate),
            self.credentials,
        ) {
            objects.push(Object::Secret(Box::new(
                kubeadm::registry_credentials_secret(c),
            )));
        }
        Ok(objects)
    }

    fn kubeadm_control_plane(
        &self,
        cp: &ControlPlaneConfiguration,
        kubernetes_version: &str,
        bundle: &DockerVersionsBundle,
        template_name: &str,
    ) -> Result<KubeadmControlPlane, RenderError> {
        let cluster = self.cluster();
        let distro = &bundle.kube_distro;
        let admission = cp.skip_admission_for_system_resources.unwrap_or(false);
        let tls = ("tls-cipher-suites", kubeadm::SECURE_CIPHER_SUITES);

        let mut api_args = kubeadm::audit_args();
        api_args.insert("profiling".into(), "false".into());
        api_args.extend(kubeadm::api_server_extra_args(
            self.spec.oidc.as_ref(),
            self.spec.aws_iam.as_ref(),
            cp.api_server_extra_args.as_ref(),
            cluster.spec.pod_iam_config.as_ref(),
        ));
        api_args.insert(tls.0.into(), tls.1.into());
        let mut api_volumes = kubeadm::audit_volumes(false);
        if admission {
            api_volumes.push(kubeadm::exclusion_volume());
        }
        if self.spec.aws_iam.is_some() {
            api_volumes.extend(kubeadm::aws_iam_volumes());
        }
        let mut cert_sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        cert_sans.extend(cp.cert_sans.iter().flatten().cloned());

        let mut controller_manager_args = string_map([
            ("enable-hostpath-provisioner", "true"),
            ("profiling", "false"),
            tls,
        ]);
        let mask = cluster
            .spec
            .cluster_network
            .as_ref()
            .and_then(|n| n.nodes.as_ref())
            .and_then(|n| n.cidr_mask_size);
        if let Some(mask) = mask {
            controller_manager_args.insert("node-cidr-mask-size".into(), mask.to_string());
        }

        let etcd = if cluster.spec.external_etcd_configuration.is_some() {
            Etcd::external_placeholder()
        } else {
            Etcd {
                local: Some(LocalEtcd {
                    extra_args: Some(string_map([(
                        "cipher-suites",
                        kubeadm::SECURE_CIPHER_SUITES,
                    )])),
                    ..LocalEtcd::from(crate::versions::image_meta(&distro.etcd))
                }),
                external: None,
            }
        };
        let cluster_configuration = ClusterConfiguration {
            image_repository: Some(distro.kubernetes.repository.clone()),
            etcd: Some(etcd),
            dns: Some(crate::versions::image_meta(&distro.coredns)),
            api_server: Some(ControlPlaneComponent {
                cert_sans: Some(cert_sans),
                extra_envs: admission.then(kubeadm::exclusion_env),
                extra_args: Some(api_args),
                extra_volumes: Some(api_volumes),
            }),
            controller_manager: Some(ControlPlaneComponent {
                extra_args: Some(controller_manager_args),
                ..ControlPlaneComponent::default()
            }),
            scheduler: Some(ControlPlaneComponent {
                extra_args: Some(string_map([("profiling", "false"), tls])),
                ..ControlPlaneComponent::default()
            }),
            ..ClusterConfiguration::default()
        };

        let (kubelet_args, kubelet_file) = self.kubelet(
            "spec.kubernetesVersion",
            kubernetes_version,
            cp.kubelet_configuration.as_ref(),
            cp.labels.as_ref(),
        )?;
        let has_workers = cluster
            .spec
            .worker_node_group_configurations
            .as_ref()
            .is_some_and(|w| !w.is_empty());
        let taints = if !has_workers {
            Some(Vec::new())
        } else {
            cp.taints
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(kubeadm::taints)
        };
        let patches = kubelet_file.is_some();
        let init = self.node_configuration(kubelet_args.clone(), patches, taints.clone());
        let join = self.node_configuration(kubelet_args, patches, taints);

        let mut files: Vec<File> = kubelet_file.into_iter().collect();
        if admission {
            files.push(File::root(
                kubeadm::EXCLUSION_RULES_PATH,
                kubeadm::exclusion_policy(),
            ));
        }
        files.push(File::root(
            kubeadm::AUDIT_POLICY_PATH,
            kubeadm::block_text(&kubeadm::audit_policy(cp, kubernetes_version)),
        ));
        let (mirror_files, pre_kubeadm) = self.mirror_files();
        files.extend(mirror_files);
        if self.spec.aws_iam.is_some() {
            files.extend(kubeadm::aws_iam_files(self.name));
        }

        let rollout_strategy = kubeadm::control_plane_rollout(cp.upgrade_rollout_strategy.as_ref());
        Ok(KubeadmControlPlane::new(
            meta(self.name, EKSA_SYSTEM_NAMESPACE),
            KubeadmControlPlaneSpec {
                kubeadm_config_spec: KubeadmConfigSpec {
                    cluster_configuration: Some(cluster_configuration),
                    init_configuration: Some(init),
                    join_configuration: Some(join),
                    files: Some(files),
                    pre_kubeadm_commands: (!pre_kubeadm.is_empty()).then_some(pre_kubeadm),
                    ..KubeadmConfigSpec::default()
                },
                machine_template: ControlPlaneMachineTemplate {
                    infrastructure_ref: self.reference(
                        DOCKER_API_VERSION,
                        MACHINE_TEMPLATE_KIND,
                        template_name,
                    ),
                },
                replicas: cp.count.unwrap_or(0),
                rollout_strategy: Some(rollout_strategy),
                version: distro.kubernetes.tag.clone(),
            },
        ))
    }

    fn worker_group(
        &self,
        index: usize,
        group: &str,
        wng: &WorkerNodeGroupConfiguration,
        names: &TemplateNames,
    ) -> Result<Vec<Object>, RenderError> {
        let name = self.name;
        let field = |f: &str| format!("spec.workerNodeGroupConfigurations[{index}].{f}");
        let (version_field, kubernetes_version) = match &wng.kubernetes_version {
            Some(v) => (field("kubernetesVersion"), v.as_str()),
            None => (
                "spec.kubernetesVersion".to_string(),
                self.kubernetes_version()?,
            ),
        };
        let bundle = self.bundle(kubernetes_version)?;
        let wn = names
            .workers
            .get(group)
            .ok_or_else(|| LookupError::MissingWorkerNames {
                cluster: name.to_string(),
                group: group.to_string(),
            })?;
        let replicas = match (&wng.autoscaling_configuration, wng.count) {
            (Some(_), _) => None,
            (None, Some(count)) => Some(count),
            (None, None) => return Err(self.missing(&field("count"))),
        };

        let (kubelet_args, kubelet_file) = self.kubelet(
            &version_field,
            kubernetes_version,
            wng.kubelet_configuration.as_ref(),
            wng.labels.as_ref(),
        )?;
        let taints = kubeadm::taints(wng.taints.as_deref().unwrap_or_default());
        let join = self.node_configuration(kubelet_args, kubelet_file.is_some(), Some(taints));
        let mut files: Vec<File> = kubelet_file.into_iter().collect();
        let (mirror_files, pre_kubeadm) = self.mirror_files();
        files.extend(mirror_files);
        let kct = KubeadmConfigTemplate::in_eksa_system(
            wn.kubeadm_config_template.clone(),
            KubeadmConfigSpec {
                join_configuration: Some(join),
                files: (!files.is_empty()).then_some(files),
                pre_kubeadm_commands: (!pre_kubeadm.is_empty()).then_some(pre_kubeadm),
                ..KubeadmConfigSpec::default()
            },
        );

        let mut md_meta = meta(format!("{name}-{group}"), EKSA_SYSTEM_NAMESPACE);
        md_meta.annotations = wng
            .autoscaling_configuration
            .as_ref()
            .map(kubeadm::autoscaler_annotations);
        let strategy = kubeadm::machine_deployment_strategy(wng.upgrade_rollout_strategy.as_ref());
        let md = MachineDeployment::new(
            md_meta,
            MachineDeploymentSpec {
                cluster_name: name.to_string(),
                replicas,
                selector: LabelSelector { match_labels: None },
                template: MachineTemplateSpec {
                    metadata: None,
                    spec: MachineSpec {
                        bootstrap: Bootstrap {
                            config_ref: Some(self.reference(
                                BOOTSTRAP_API_VERSION,
                                "KubeadmConfigTemplate",
                                wn.kubeadm_config_template.clone(),
                            )),
                            data_secret_name: None,
                        },
                        cluster_name: name.to_string(),
                        infrastructure_ref: self.reference(
                            DOCKER_API_VERSION,
                            MACHINE_TEMPLATE_KIND,
                            wn.machine_template.clone(),
                        ),
                        version: Some(bundle.kube_distro.kubernetes.tag.clone()),
                        failure_domain: None,
                        provider_id: None,
                    },
                },
                strategy,
            },
        );
        Ok(vec![
            Object::KubeadmConfigTemplate(Box::new(kct)),
            Object::MachineDeployment(Box::new(md)),
            self.machine_template(&wn.machine_template, bundle),
        ])
    }
}
