//! [`Spec`]: a cluster spec file loaded into typed objects, with every reference between its
//! documents resolved.
//!
//! Loading follows EKS Anywhere's parser (`pkg/cluster/config_manager.go`): documents are split
//! and read one by one, an unquoted `kubernetesVersion: 1.30` reads as `"1.30"`, documents
//! whose `apiVersion` is not `anywhere.eks.amazonaws.com/v1alpha1` are ignored (and listed in
//! [`Spec::ignored`]), and a spec has exactly one `Cluster`. A document of that group with a
//! kind EKS Anywhere does not have is an error (EKS Anywhere ignores it, so a misspelt kind
//! would only show as a missing reference). Unlike EKS Anywhere, which reads
//! the documents it needs and drops the rest, every document of the group is typed and
//! checked (unknown fields are errors naming their path), and a reference to a datacenter
//! config, machine config, template config or IP pool that is not in the file is a load error
//! naming the referring field and the missing document, rather than a later "not found". A
//! missing identity provider or GitOps config is not: EKS Anywhere ignores such a reference,
//! and so loading does too (validation warns about it). All problems of a file are reported
//! together.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ironbell_model::anywhere::{
    API_VERSION, AWSIamConfig, CloudStackDatacenterConfig, CloudStackMachineConfig, Cluster,
    ControlPlaneConfiguration, DockerDatacenterConfig, FluxConfig, GitOpsConfig,
    NutanixDatacenterConfig, NutanixMachineConfig, OIDCConfig, OsFamily, Ref, SnowDatacenterConfig,
    SnowIPPool, SnowMachineConfig, TinkerbellDatacenterConfig, TinkerbellMachineConfig,
    TinkerbellTemplateConfig, UserConfiguration, VSphereDatacenterConfig, VSphereMachineConfig,
    WorkerNodeGroupConfiguration,
};
use ironbell_model::{MAX_INPUT_BYTES, Object, ObjectMeta, Resource, parse_documents};
use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

use crate::error::{SpecError, SpecIssue};

/// The API server's port when the control plane endpoint names none.
pub const DEFAULT_CONTROL_PLANE_PORT: u16 = 6443;

/// The infrastructure a cluster runs on, named by its datacenter config's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// Bare metal through Tinkerbell.
    Tinkerbell,
    /// Containers on the local Docker engine.
    Docker,
    /// VMware vSphere.
    VSphere,
    /// Apache CloudStack.
    CloudStack,
    /// Nutanix.
    Nutanix,
    /// AWS Snow devices.
    Snow,
}

impl Provider {
    /// Every provider, in the order EKS Anywhere's documentation lists them.
    pub const ALL: [Provider; 6] = [
        Self::Tinkerbell,
        Self::Docker,
        Self::VSphere,
        Self::CloudStack,
        Self::Nutanix,
        Self::Snow,
    ];

    /// The name `eksctl anywhere --provider` takes: `tinkerbell`, `vsphere`, ...
    pub fn name(self) -> &'static str {
        match self {
            Self::Tinkerbell => "tinkerbell",
            Self::Docker => "docker",
            Self::VSphere => "vsphere",
            Self::CloudStack => "cloudstack",
            Self::Nutanix => "nutanix",
            Self::Snow => "snow",
        }
    }

    /// The kind of the provider's datacenter config.
    pub fn datacenter_kind(self) -> &'static str {
        match self {
            Self::Tinkerbell => TinkerbellDatacenterConfig::KIND,
            Self::Docker => DockerDatacenterConfig::KIND,
            Self::VSphere => VSphereDatacenterConfig::KIND,
            Self::CloudStack => CloudStackDatacenterConfig::KIND,
            Self::Nutanix => NutanixDatacenterConfig::KIND,
            Self::Snow => SnowDatacenterConfig::KIND,
        }
    }

    /// The kind of the provider's machine config; `None` for Docker, which has none.
    pub fn machine_config_kind(self) -> Option<&'static str> {
        match self {
            Self::Tinkerbell => Some(TinkerbellMachineConfig::KIND),
            Self::Docker => None,
            Self::VSphere => Some(VSphereMachineConfig::KIND),
            Self::CloudStack => Some(CloudStackMachineConfig::KIND),
            Self::Nutanix => Some(NutanixMachineConfig::KIND),
            Self::Snow => Some(SnowMachineConfig::KIND),
        }
    }

    /// The provider whose datacenter config has this kind.
    pub fn from_datacenter_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.datacenter_kind() == kind)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A provider name that is not one of [`Provider::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown provider {0:?}: expected tinkerbell, docker, vsphere, cloudstack, nutanix or snow"
)]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProvider(s.to_string()))
    }
}

/// Defines [`DatacenterConfig`] or [`MachineConfig`]: an enum whose variants each hold one
/// kind (named like it, as in the model's [`Object`]) of one provider, and its accessors.
macro_rules! one_of_kinds {
    (
        $(#[$doc:meta])*
        $ty:ident { $($(#[$vdoc:meta])* $variant:ident => $provider:ident),* $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum $ty {
            $($(#[$vdoc])* $variant($variant),)*
        }

        impl $ty {
            /// The object's metadata.
            pub fn metadata(&self) -> &ObjectMeta {
                match self { $(Self::$variant(o) => &o.metadata,)* }
            }

            /// The object's metadata, mutable.
            pub fn metadata_mut(&mut self) -> &mut ObjectMeta {
                match self { $(Self::$variant(o) => &mut o.metadata,)* }
            }

            /// `metadata.name`.
            pub fn name(&self) -> &str {
                self.metadata().name()
            }

            /// The object's kind, e.g. `VSphereMachineConfig`.
            pub fn kind(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$variant as Resource>::KIND,)* }
            }

            /// The provider the object belongs to.
            pub fn provider(&self) -> Provider {
                match self { $(Self::$variant(_) => Provider::$provider,)* }
            }

            /// The typed object, as the model's [`Object`].
            pub fn to_object(&self) -> Object {
                match self { $(Self::$variant(o) => Object::$variant(o.clone()),)* }
            }

            // The `Err` is the object handed in, returned whole so the caller can try
            // another kind; boxing it would only add an allocation per document.
            #[allow(clippy::result_large_err)]
            fn from_object(obj: Object) -> Result<Self, Object> {
                match obj {
                    $(Object::$variant(o) => Ok(Self::$variant(o)),)*
                    other => Err(other),
                }
            }
        }
    };
}

one_of_kinds! {
    /// The datacenter config of a spec, one variant per provider.
    DatacenterConfig {
        /// Tinkerbell (bare metal).
        TinkerbellDatacenterConfig => Tinkerbell,
        /// Docker.
        DockerDatacenterConfig => Docker,
        /// vSphere.
        VSphereDatacenterConfig => VSphere,
        /// CloudStack.
        CloudStackDatacenterConfig => CloudStack,
        /// Nutanix.
        NutanixDatacenterConfig => Nutanix,
        /// Snow.
        SnowDatacenterConfig => Snow,
    }
}

one_of_kinds! {
    /// A machine config of a spec, one variant per provider that has them.
    MachineConfig {
        /// Tinkerbell (bare metal).
        TinkerbellMachineConfig => Tinkerbell,
        /// vSphere.
        VSphereMachineConfig => VSphere,
        /// CloudStack.
        CloudStackMachineConfig => CloudStack,
        /// Nutanix.
        NutanixMachineConfig => Nutanix,
        /// Snow.
        SnowMachineConfig => Snow,
    }
}

impl MachineConfig {
    /// The operating system, as written (CloudStack machine configs have no field for it).
    pub fn os_family(&self) -> Option<OsFamily> {
        match self {
            Self::TinkerbellMachineConfig(m) => m.spec.os_family,
            Self::VSphereMachineConfig(m) => m.spec.os_family,
            Self::CloudStackMachineConfig(_) => None,
            Self::NutanixMachineConfig(m) => m.spec.os_family,
            Self::SnowMachineConfig(m) => m.spec.os_family,
        }
    }

    /// The login users, as written (Snow machine configs have none: they use a key pair).
    pub fn users(&self) -> &[UserConfiguration] {
        let users = match self {
            Self::TinkerbellMachineConfig(m) => &m.spec.users,
            Self::VSphereMachineConfig(m) => &m.spec.users,
            Self::CloudStackMachineConfig(m) => &m.spec.users,
            Self::NutanixMachineConfig(m) => &m.spec.users,
            Self::SnowMachineConfig(_) => return &[],
        };
        users.as_deref().unwrap_or_default()
    }

    /// The Tinkerbell machine config, if it is one.
    pub fn as_tinkerbell(&self) -> Option<&TinkerbellMachineConfig> {
        match self {
            Self::TinkerbellMachineConfig(m) => Some(m),
            _ => None,
        }
    }
}

/// A document of the file that is not part of the spec, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredDocument {
    /// 1-based index of the document.
    pub document: usize,
    /// Its `apiVersion`.
    pub api_version: String,
    /// Its `kind`.
    pub kind: String,
    /// Its `metadata.name`, if any.
    pub name: Option<String>,
    /// Why it was ignored.
    pub reason: String,
}

/// A loaded cluster spec: the Cluster and every document it refers to, typed.
///
/// The fields are public so that callers (renderers, tests reproducing EKS Anywhere's
/// mutations) can change a loaded spec; the accessors resolve the Cluster's references.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// The Cluster.
    pub cluster: Cluster,
    /// The datacenter config the Cluster's `datacenterRef` names.
    pub datacenter: DatacenterConfig,
    /// Every machine config of the file, by name.
    pub machine_configs: BTreeMap<String, MachineConfig>,
    /// Every `TinkerbellTemplateConfig` of the file, by name.
    pub tinkerbell_templates: BTreeMap<String, TinkerbellTemplateConfig>,
    /// Every `OIDCConfig` of the file, by name.
    pub oidc_configs: BTreeMap<String, OIDCConfig>,
    /// Every `AWSIamConfig` of the file, by name.
    pub aws_iam_configs: BTreeMap<String, AWSIamConfig>,
    /// The `GitOpsConfig` the Cluster's `gitOpsRef` names.
    pub gitops_config: Option<GitOpsConfig>,
    /// The `FluxConfig` the Cluster's `gitOpsRef` names.
    pub flux_config: Option<FluxConfig>,
    /// Every `SnowIPPool` of the file, by name.
    pub snow_ip_pools: BTreeMap<String, SnowIPPool>,
    /// Documents of the file that are not part of the spec.
    pub ignored: Vec<IgnoredDocument>,
    /// Document index of each object, by kind and name.
    documents: BTreeMap<(String, String), usize>,
}

/// Where each typed document of a file goes, before references are resolved.
#[derive(Default)]
struct Parsed {
    clusters: Vec<(usize, Cluster)>,
    datacenters: Vec<(usize, DatacenterConfig)>,
    machine_configs: BTreeMap<String, (usize, MachineConfig)>,
    templates: BTreeMap<String, TinkerbellTemplateConfig>,
    oidc: BTreeMap<String, OIDCConfig>,
    iam: BTreeMap<String, AWSIamConfig>,
    gitops: Vec<(usize, GitOpsConfig)>,
    flux: Vec<(usize, FluxConfig)>,
    ip_pools: BTreeMap<String, SnowIPPool>,
    ignored: Vec<IgnoredDocument>,
    documents: BTreeMap<(String, String), usize>,
    issues: Vec<SpecIssue>,
}

impl Spec {
    /// Loads a spec from YAML text (see the module docs for what is checked).
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let mut parsed = Parsed::default();
        if text.len() > MAX_INPUT_BYTES {
            return Err(SpecError::Invalid(vec![SpecIssue::file(format!(
                "the spec is {} bytes, over the limit of {MAX_INPUT_BYTES} bytes",
                text.len()
            ))]));
        }
        for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let document = i + 1;
            match Yaml::deserialize(de) {
                Ok(value) => parsed.add(document, value),
                Err(e) => {
                    parsed.issues.push(SpecIssue {
                        document: Some(document),
                        kind: None,
                        name: None,
                        field: ".".into(),
                        message: format!("invalid YAML: {e}"),
                    });
                    // The parser cannot resynchronise after a syntax error.
                    break;
                }
            }
        }
        parsed.into_spec()
    }

    /// Loads a spec from a file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SpecError> {
        let path = path.as_ref();
        let read_error = |source| SpecError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let text =
            ironbell_model::read_input(file, &path.display().to_string()).map_err(read_error)?;
        Self::parse(&text)
    }

    /// Every Kubernetes version the cluster runs (`1.30`): the control plane's, then each
    /// worker group's own, without repeats; what the release data must cover.
    pub fn kubernetes_versions(&self) -> Vec<String> {
        let spec = &self.cluster.spec;
        let mut versions: Vec<String> = Vec::new();
        let workers = spec.worker_node_group_configurations.iter().flatten();
        for v in spec
            .kubernetes_version
            .iter()
            .chain(workers.filter_map(|w| w.kubernetes_version.as_ref()))
        {
            if !versions.iter().any(|known| known == v.as_str()) {
                versions.push(v.as_str().to_string());
            }
        }
        versions
    }

    /// The provider, from the datacenter config.
    pub fn provider(&self) -> Provider {
        self.datacenter.provider()
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        self.cluster.metadata.name()
    }

    /// The datacenter config.
    pub fn datacenter(&self) -> &DatacenterConfig {
        &self.datacenter
    }

    /// The machine config with this name.
    pub fn machine_config(&self, name: &str) -> Option<&MachineConfig> {
        self.machine_configs.get(name)
    }

    /// The machine config a reference names (kind and name must both match).
    pub fn machine_config_for(&self, r: &Ref) -> Option<&MachineConfig> {
        self.machine_config(r.name())
            .filter(|m| r.kind.is_none() || m.kind() == r.kind())
    }

    /// The control plane's configuration.
    pub fn control_plane(&self) -> Option<&ControlPlaneConfiguration> {
        self.cluster.spec.control_plane_configuration.as_ref()
    }

    /// The control plane endpoint's host as written (`host` or `host:port`), or `""`.
    pub fn control_plane_endpoint(&self) -> &str {
        let cp = self.cluster.spec.control_plane_configuration.as_ref();
        let endpoint = cp.and_then(|c| c.endpoint.as_ref());
        endpoint.map_or("", |e| e.host.as_str())
    }

    /// The control plane endpoint as host and port: the port written after the host, or
    /// [`DEFAULT_CONTROL_PLANE_PORT`] (EKS Anywhere's `GetControlPlaneHostPort`).
    pub fn control_plane_host_port(&self) -> (&str, u16) {
        let endpoint = self.control_plane_endpoint();
        match endpoint.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => match port.parse() {
                Ok(port) => (host, port),
                Err(_) => (endpoint, DEFAULT_CONTROL_PLANE_PORT),
            },
            _ => (endpoint, DEFAULT_CONTROL_PLANE_PORT),
        }
    }

    /// The control plane's `machineGroupRef`.
    pub fn control_plane_machine_ref(&self) -> Option<&Ref> {
        let cp = self.cluster.spec.control_plane_configuration.as_ref()?;
        cp.machine_group_ref.as_ref()
    }

    /// The external etcd's `machineGroupRef`, when the spec has external etcd.
    pub fn etcd_machine_ref(&self) -> Option<&Ref> {
        let etcd = self.cluster.spec.external_etcd_configuration.as_ref()?;
        etcd.machine_group_ref.as_ref()
    }

    /// The control plane's machine config.
    pub fn control_plane_machine_config(&self) -> Option<&MachineConfig> {
        self.machine_config_for(self.control_plane_machine_ref()?)
    }

    /// The external etcd machines' machine config, when the spec has external etcd.
    pub fn etcd_machine_config(&self) -> Option<&MachineConfig> {
        self.machine_config_for(self.etcd_machine_ref()?)
    }

    /// The worker node groups, in order.
    pub fn worker_node_groups(&self) -> &[WorkerNodeGroupConfiguration] {
        self.cluster
            .spec
            .worker_node_group_configurations
            .as_deref()
            .unwrap_or_default()
    }

    /// The machine config of a worker node group.
    pub fn worker_machine_config(
        &self,
        group: &WorkerNodeGroupConfiguration,
    ) -> Option<&MachineConfig> {
        self.machine_config_for(group.machine_group_ref.as_ref()?)
    }

    /// The Tinkerbell datacenter config, for a Tinkerbell spec.
    pub fn tinkerbell_datacenter(&self) -> Option<&TinkerbellDatacenterConfig> {
        match &self.datacenter {
            DatacenterConfig::TinkerbellDatacenterConfig(d) => Some(d),
            _ => None,
        }
    }

    /// The Tinkerbell machine config with this name.
    pub fn tinkerbell_machine_config(&self, name: &str) -> Option<&TinkerbellMachineConfig> {
        self.machine_config(name)?.as_tinkerbell()
    }

    /// The `TinkerbellTemplateConfig` with this name.
    pub fn tinkerbell_template(&self, name: &str) -> Option<&TinkerbellTemplateConfig> {
        self.tinkerbell_templates.get(name)
    }

    /// The `OIDCConfig` the Cluster's `identityProviderRefs` name (the first one).
    pub fn oidc_config(&self) -> Option<&OIDCConfig> {
        self.identity_refs(OIDCConfig::KIND)
            .find_map(|r| self.oidc_configs.get(r.name()))
    }

    /// The `AWSIamConfig` the Cluster's `identityProviderRefs` name (the first one).
    pub fn aws_iam_config(&self) -> Option<&AWSIamConfig> {
        self.identity_refs(AWSIamConfig::KIND)
            .find_map(|r| self.aws_iam_configs.get(r.name()))
    }

    fn identity_refs<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Ref> + 'a {
        self.cluster
            .spec
            .identity_provider_refs
            .iter()
            .flatten()
            .filter(move |r| r.kind() == kind)
    }

    /// The 1-based index of the document that held the object of this kind and name, when
    /// the spec was loaded from text.
    /// The Cluster is found by kind alone (a spec has one), so a renamed Cluster keeps its
    /// document.
    pub fn document_of(&self, kind: &str, name: &str) -> Option<usize> {
        if kind == Cluster::KIND {
            let mut clusters = self.documents.iter().filter(|((k, _), _)| k == kind);
            return clusters.next().map(|(_, d)| *d);
        }
        self.documents
            .get(&(kind.to_string(), name.to_string()))
            .copied()
    }

    /// Every object of the spec, in the order EKS Anywhere writes a spec: the Cluster, the
    /// datacenter config, the machine configs, then the other configs.
    pub fn objects(&self) -> Vec<Object> {
        let mut out = vec![
            Object::Cluster(self.cluster.clone()),
            self.datacenter.to_object(),
        ];
        out.extend(self.machine_configs.values().map(MachineConfig::to_object));
        out.extend(
            self.tinkerbell_templates
                .values()
                .cloned()
                .map(Object::TinkerbellTemplateConfig),
        );
        out.extend(self.oidc_configs.values().cloned().map(Object::OidcConfig));
        out.extend(
            self.aws_iam_configs
                .values()
                .cloned()
                .map(Object::AwsIamConfig),
        );
        out.extend(self.gitops_config.iter().cloned().map(Object::GitOpsConfig));
        out.extend(self.flux_config.iter().cloned().map(Object::FluxConfig));
        out.extend(self.snow_ip_pools.values().cloned().map(Object::SnowIpPool));
        out
    }

    /// The spec as a multi-document YAML stream of [`Spec::objects`].
    pub fn to_yaml(&self) -> Result<String, serde_yaml_ng::Error> {
        ironbell_model::to_yaml_documents(&self.objects())
    }
}

impl Parsed {
    /// Types one document and files it.
    fn add(&mut self, document: usize, value: Yaml) {
        if value.is_null() {
            return;
        }
        let field = |name: &str| value.get(name).and_then(Yaml::as_str).map(str::to_string);
        let (api_version, kind) = (field("apiVersion"), field("kind"));
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Yaml::as_str)
            .map(str::to_string);
        let issue = |field: &str, message: String| SpecIssue {
            document: Some(document),
            kind: kind.clone(),
            name: name.clone(),
            field: field.into(),
            message,
        };
        if !value.is_mapping() {
            self.issues
                .push(issue(".", "expected an object (a YAML mapping)".into()));
            return;
        }
        match (api_version.as_deref(), kind.as_deref()) {
            (None, None) => return,
            (None, Some(k)) => {
                self.issues.push(issue(
                    "apiVersion",
                    format!("apiVersion not set for kind {k}"),
                ));
                return;
            }
            (Some(_), None) => {
                self.issues.push(issue("kind", "missing `kind`".into()));
                return;
            }
            (Some(api), Some(k)) if api != API_VERSION => {
                self.ignored.push(IgnoredDocument {
                    document,
                    api_version: api.to_string(),
                    kind: k.to_string(),
                    name: name.clone(),
                    reason: format!("not an {API_VERSION} object"),
                });
                return;
            }
            _ => {}
        }
        // One document at a time, so that a bad one does not hide the others' errors and
        // every error keeps its document index.
        let text = match serde_yaml_ng::to_string(&value) {
            Ok(t) => t,
            Err(e) => {
                self.issues.push(issue(".", format!("cannot re-read: {e}")));
                return;
            }
        };
        let objects = match parse_documents(&text) {
            Ok(objects) => objects,
            Err(errors) => {
                self.issues.extend(errors.0.into_iter().map(|e| SpecIssue {
                    document: Some(document),
                    ..SpecIssue::from(e)
                }));
                return;
            }
        };
        for obj in objects {
            self.file(document, obj);
        }
    }

    fn file(&mut self, document: usize, obj: Object) {
        let kind = obj.kind_info().kind.to_string();
        let name = obj.metadata().name().to_string();
        if self
            .documents
            .insert((kind.clone(), name.clone()), document)
            .is_some()
        {
            self.issues.push(SpecIssue {
                document: Some(document),
                kind: Some(kind.clone()),
                name: Some(name.clone()),
                field: "metadata.name".into(),
                message: format!("a second {kind} named {name:?}: names must be unique per kind"),
            });
            return;
        }
        let obj = match DatacenterConfig::from_object(obj) {
            Ok(dc) => return self.datacenters.push((document, dc)),
            Err(obj) => obj,
        };
        let obj = match MachineConfig::from_object(obj) {
            Ok(mc) => {
                if let Some((_, other)) = self.machine_configs.get(&name) {
                    self.issues.push(SpecIssue {
                        document: Some(document),
                        kind: Some(kind),
                        name: Some(name.clone()),
                        field: "metadata.name".into(),
                        message: format!(
                            "a {} is also named {name:?}: machine configs are referred to by name, which must be unique",
                            other.kind()
                        ),
                    });
                } else {
                    self.machine_configs.insert(name, (document, mc));
                }
                return;
            }
            Err(obj) => obj,
        };
        match obj {
            Object::Cluster(c) => self.clusters.push((document, c)),
            Object::TinkerbellTemplateConfig(t) => {
                self.templates.insert(name, t);
            }
            Object::OidcConfig(o) => {
                self.oidc.insert(name, o);
            }
            Object::AwsIamConfig(a) => {
                self.iam.insert(name, a);
            }
            Object::GitOpsConfig(g) => self.gitops.push((document, g)),
            Object::FluxConfig(f) => self.flux.push((document, f)),
            Object::SnowIpPool(p) => {
                self.ip_pools.insert(name, p);
            }
            other => self.ignored.push(IgnoredDocument {
                document,
                api_version: other.kind_info().api_version.to_string(),
                kind,
                name: Some(name),
                reason: "not a kind of cluster spec".into(),
            }),
        }
    }

    /// Resolves the Cluster's references and builds the spec, or returns every problem.
    fn into_spec(mut self) -> Result<Spec, SpecError> {
        let mut clusters = std::mem::take(&mut self.clusters).into_iter();
        let first = clusters.next();
        for (document, extra) in clusters {
            self.issues.push(SpecIssue {
                document: Some(document),
                kind: Some(Cluster::KIND.into()),
                name: Some(extra.metadata.name().to_string()),
                field: ".".into(),
                message: "only one Cluster per spec is allowed".into(),
            });
        }
        let Some((cluster_doc, cluster)) = first else {
            if self.issues.is_empty() {
                self.issues.push(SpecIssue::file(
                    "the spec has no Cluster (a document with `kind: Cluster`)",
                ));
            }
            return Err(SpecError::Invalid(self.issues));
        };
        let refs = Referrer {
            document: cluster_doc,
            kind: Cluster::KIND,
            name: cluster.metadata.name().to_string(),
        };
        let datacenter = self.resolve_datacenter(&refs, &cluster);
        self.check_machine_refs(&refs, &cluster);
        let (gitops_config, flux_config) = self.resolve_gitops(&cluster);
        self.check_template_refs();
        self.check_ip_pool_refs();
        match datacenter {
            Some(datacenter) if self.issues.is_empty() => Ok(Spec {
                cluster,
                datacenter,
                machine_configs: self
                    .machine_configs
                    .into_iter()
                    .map(|(n, (_, m))| (n, m))
                    .collect(),
                tinkerbell_templates: self.templates,
                oidc_configs: self.oidc,
                aws_iam_configs: self.iam,
                gitops_config,
                flux_config,
                snow_ip_pools: self.ip_pools,
                ignored: self.ignored,
                documents: self.documents,
            }),
            _ => Err(SpecError::Invalid(self.issues)),
        }
    }

    fn resolve_datacenter(
        &mut self,
        refs: &Referrer,
        cluster: &Cluster,
    ) -> Option<DatacenterConfig> {
        let Some(r) = cluster.spec.datacenter_ref.as_ref() else {
            self.issues.push(refs.issue(
                "spec.datacenterRef",
                "missing: the Cluster must name its datacenter config (kind and name)".into(),
            ));
            return None;
        };
        if Provider::from_datacenter_kind(r.kind()).is_none() {
            let kinds: Vec<_> = Provider::ALL.iter().map(|p| p.datacenter_kind()).collect();
            self.issues.push(refs.issue(
                "spec.datacenterRef.kind",
                format!(
                    "unknown datacenter kind {:?}: expected one of {}",
                    r.kind(),
                    kinds.join(", ")
                ),
            ));
            return None;
        }
        let datacenters = std::mem::take(&mut self.datacenters);
        let mut found = None;
        for (document, dc) in datacenters {
            if found.is_none() && dc.kind() == r.kind() && dc.name() == r.name() {
                found = Some(dc);
            } else {
                self.ignored.push(IgnoredDocument {
                    document,
                    api_version: API_VERSION.into(),
                    kind: dc.kind().into(),
                    name: Some(dc.name().into()),
                    reason: "a datacenter config the Cluster does not refer to".into(),
                });
            }
        }
        if found.is_none() {
            self.issues.push(refs.missing("spec.datacenterRef", r));
        }
        found
    }

    fn check_machine_refs(&mut self, refs: &Referrer, cluster: &Cluster) {
        let mut machine_refs = Vec::new();
        if let Some(cp) = &cluster.spec.control_plane_configuration {
            machine_refs.push((
                "spec.controlPlaneConfiguration.machineGroupRef".to_string(),
                cp.machine_group_ref.as_ref(),
            ));
        }
        if let Some(etcd) = &cluster.spec.external_etcd_configuration {
            machine_refs.push((
                "spec.externalEtcdConfiguration.machineGroupRef".to_string(),
                etcd.machine_group_ref.as_ref(),
            ));
        }
        for (i, g) in cluster
            .spec
            .worker_node_group_configurations
            .iter()
            .flatten()
            .enumerate()
        {
            machine_refs.push((
                format!("spec.workerNodeGroupConfigurations[{i}].machineGroupRef"),
                g.machine_group_ref.as_ref(),
            ));
        }
        for (field, r) in machine_refs {
            // An absent reference is a validation matter (Docker has no machine configs).
            let Some(r) = r else { continue };
            let found = self
                .machine_configs
                .get(r.name())
                .is_some_and(|(_, m)| m.kind() == r.kind());
            if !found {
                self.issues.push(refs.missing(&field, r));
            }
        }
    }

    fn resolve_gitops(&mut self, cluster: &Cluster) -> (Option<GitOpsConfig>, Option<FluxConfig>) {
        let Some(r) = cluster.spec.git_ops_ref.as_ref() else {
            return (None, None);
        };
        let gitops = take_named(&mut self.gitops, r, GitOpsConfig::KIND, |g| {
            g.metadata.name()
        });
        let flux = take_named(&mut self.flux, r, FluxConfig::KIND, |f| f.metadata.name());
        (gitops, flux)
    }

    fn check_template_refs(&mut self) {
        for (name, (document, mc)) in &self.machine_configs {
            let Some(m) = mc.as_tinkerbell() else {
                continue;
            };
            // `templateRef: {}` is written for "none".
            let Some(r) = m
                .spec
                .template_ref
                .as_ref()
                .filter(|r| *r != &Ref::default())
            else {
                continue;
            };
            let refs = Referrer {
                document: *document,
                kind: TinkerbellMachineConfig::KIND,
                name: name.clone(),
            };
            if r.kind() != TinkerbellTemplateConfig::KIND {
                self.issues.push(refs.issue(
                    "spec.templateRef.kind",
                    format!(
                        "a template reference must be of kind TinkerbellTemplateConfig, not {:?}",
                        r.kind()
                    ),
                ));
            } else if !self.templates.contains_key(r.name()) {
                self.issues.push(refs.missing("spec.templateRef", r));
            }
        }
    }

    fn check_ip_pool_refs(&mut self) {
        for (name, (document, mc)) in &self.machine_configs {
            let MachineConfig::SnowMachineConfig(m) = mc else {
                continue;
            };
            let interfaces = m.spec.network.as_ref();
            let interfaces = interfaces.and_then(|n| n.direct_network_interfaces.as_deref());
            for (i, dni) in interfaces.unwrap_or_default().iter().enumerate() {
                let Some(r) = dni.ip_pool_ref.as_ref() else {
                    continue;
                };
                if !self.ip_pools.contains_key(r.name()) {
                    let refs = Referrer {
                        document: *document,
                        kind: SnowMachineConfig::KIND,
                        name: name.clone(),
                    };
                    self.issues.push(refs.missing(
                        &format!("spec.network.directNetworkInterfaces[{i}].ipPoolRef"),
                        r,
                    ));
                }
            }
        }
    }
}

/// Removes and returns the object of `list` that `r` names, if `r` is of `kind`.
fn take_named<T>(
    list: &mut Vec<(usize, T)>,
    r: &Ref,
    kind: &str,
    name_of: fn(&T) -> &str,
) -> Option<T> {
    if r.kind() != kind {
        return None;
    }
    let at = list.iter().position(|(_, o)| name_of(o) == r.name())?;
    Some(list.remove(at).1)
}

/// The document a reference is written in, for errors about it.
struct Referrer {
    document: usize,
    kind: &'static str,
    name: String,
}

impl Referrer {
    fn issue(&self, field: &str, message: String) -> SpecIssue {
        SpecIssue {
            document: Some(self.document),
            kind: Some(self.kind.into()),
            name: Some(self.name.clone()),
            field: field.into(),
            message,
        }
    }

    fn missing(&self, field: &str, r: &Ref) -> SpecIssue {
        self.issue(
            field,
            format!(
                "refers to {} {:?}, which is not in the spec",
                if r.kind().is_empty() {
                    "an object of no kind"
                } else {
                    r.kind()
                },
                r.name()
            ),
        )
    }
}
