//! What one machine is served: a Hardware object (or a Hegel flat-file instance) seen
//! through Hegel's field mapping.
//!
//! Hardware → EC2 fields, as Hegel's Kubernetes backend maps them (`toEC2Instance`):
//!
//! | field | from |
//! |---|---|
//! | `instance-id` | `spec.metadata.instance.id` |
//! | `hostname`, `local-hostname` | `spec.metadata.instance.hostname` (both) |
//! | `plan` | `spec.metadata.facility.plan_slug` |
//! | `facility` | `spec.metadata.facility.facility_code` |
//! | `tags` | `spec.metadata.instance.tags`, one per line |
//! | `public-ipv4` | first of `spec.metadata.instance.ips` with `family: 4` and `public: true` |
//! | `local-ipv4` | first with `family: 4` and `public` false or unset |
//! | `public-ipv6` | first with `family: 6` |
//! | `operating-system/*` | `spec.metadata.instance.operating_system.{slug,distro,version,image_tag}` |
//! | `user-data` | `spec.userData` |
//! | `public-keys` | `spec.metadata.instance.ssh_keys` (Hegel leaves these out; see below) |
//!
//! `iqn` and `operating-system/license_activation/state` have no Hardware field, so a
//! Hardware never has them (Hegel answers them with an empty body); flat-file instances
//! carry them. An absent or empty value is *missing*: its path answers 404 and it is left
//! out of its directory's listing, as EC2 does (Hegel answers 200 with an empty body).
//!
//! The machine is found by `spec.interfaces[].dhcp.ip.address` for Hardware, and by
//! `metadata.ipv4.public` for flat-file instances, as Hegel's backends do.
//!
//! The service keeps a [`HardwareRecord`] per Hardware, not the Hardware: the values above
//! read once when the Hardware arrives (each leaf, the trimmed keys, the `/metadata`
//! document) and what events and the phone-home need (names, uid, instance id). A typed
//! Hardware is several kilobytes even when most fields are empty; the record holds only
//! the strings the service answers with, which is what lets the service hold 100,000
//! machines in a few hundred megabytes.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use ironbell_model::corev1::ObjectReference;
use ironbell_model::tinkerbell::Hardware;
use ironbell_model::tinkerbell::hegel::FlatFileInstance;

use crate::client::canonical;
use crate::document::{self, Document, DocumentError};

/// One leaf of the EC2 `meta-data/` tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `instance-id`.
    InstanceId,
    /// `hostname`.
    Hostname,
    /// `local-hostname`.
    LocalHostname,
    /// `iqn`.
    Iqn,
    /// `plan`.
    Plan,
    /// `facility`.
    Facility,
    /// `tags`.
    Tags,
    /// `public-ipv4`.
    PublicIpv4,
    /// `public-ipv6`.
    PublicIpv6,
    /// `local-ipv4`.
    LocalIpv4,
    /// `operating-system/slug`.
    OsSlug,
    /// `operating-system/distro`.
    OsDistro,
    /// `operating-system/version`.
    OsVersion,
    /// `operating-system/image_tag`.
    OsImageTag,
    /// `operating-system/license_activation/state`.
    LicenseActivationState,
}

impl Field {
    /// The leaves directly under `meta-data/`.
    pub const META_DATA: [Field; 10] = [
        Field::InstanceId,
        Field::Hostname,
        Field::LocalHostname,
        Field::Iqn,
        Field::Plan,
        Field::Facility,
        Field::Tags,
        Field::PublicIpv4,
        Field::PublicIpv6,
        Field::LocalIpv4,
    ];
    /// The leaves directly under `meta-data/operating-system/`.
    pub const OPERATING_SYSTEM: [Field; 4] = [
        Field::OsSlug,
        Field::OsDistro,
        Field::OsVersion,
        Field::OsImageTag,
    ];

    /// The leaf's name in its directory.
    pub fn name(self) -> &'static str {
        match self {
            Field::InstanceId => "instance-id",
            Field::Hostname => "hostname",
            Field::LocalHostname => "local-hostname",
            Field::Iqn => "iqn",
            Field::Plan => "plan",
            Field::Facility => "facility",
            Field::Tags => "tags",
            Field::PublicIpv4 => "public-ipv4",
            Field::PublicIpv6 => "public-ipv6",
            Field::LocalIpv4 => "local-ipv4",
            Field::OsSlug => "slug",
            Field::OsDistro => "distro",
            Field::OsVersion => "version",
            Field::OsImageTag => "image_tag",
            Field::LicenseActivationState => "state",
        }
    }

    /// The leaf's path under the version prefix, e.g. `meta-data/operating-system/slug`;
    /// also its endpoint label in metrics.
    pub fn path(self) -> &'static str {
        match self {
            Field::InstanceId => "meta-data/instance-id",
            Field::Hostname => "meta-data/hostname",
            Field::LocalHostname => "meta-data/local-hostname",
            Field::Iqn => "meta-data/iqn",
            Field::Plan => "meta-data/plan",
            Field::Facility => "meta-data/facility",
            Field::Tags => "meta-data/tags",
            Field::PublicIpv4 => "meta-data/public-ipv4",
            Field::PublicIpv6 => "meta-data/public-ipv6",
            Field::LocalIpv4 => "meta-data/local-ipv4",
            Field::OsSlug => "meta-data/operating-system/slug",
            Field::OsDistro => "meta-data/operating-system/distro",
            Field::OsVersion => "meta-data/operating-system/version",
            Field::OsImageTag => "meta-data/operating-system/image_tag",
            Field::LicenseActivationState => "meta-data/operating-system/license_activation/state",
        }
    }
}

/// A machine the metadata service answers for.
#[derive(Clone, Debug)]
pub enum Machine {
    /// What the service keeps of a `tinkerbell.org/v1alpha1` Hardware from the store.
    Hardware(Arc<HardwareRecord>),
    /// An entry of a Hegel flat file (its position in the file, and the entry).
    FlatFile(usize, Arc<FlatFileInstance>),
}

fn present(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// `s` when present and not empty, boxed.
fn boxed(s: Option<&str>) -> Option<Box<str>> {
    present(s).map(Box::from)
}

/// What the metadata service keeps of one Hardware (see the module docs): every value it
/// answers with, already mapped, and the names the logs, events and phone-home need.
#[derive(Debug, Default)]
pub struct HardwareRecord {
    namespace: Box<str>,
    name: Box<str>,
    uid: Option<Box<str>>,
    /// `spec.interfaces[].dhcp.ip.address`, [`canonical`], each once.
    addresses: Box<[IpAddr]>,
    instance_id: Option<Box<str>>,
    /// `hostname` and `local-hostname`.
    hostname: Option<Box<str>>,
    plan: Option<Box<str>>,
    facility: Option<Box<str>>,
    /// The tags, one per line.
    tags: Option<Box<str>>,
    public_ipv4: Option<IpAddr>,
    local_ipv4: Option<IpAddr>,
    public_ipv6: Option<IpAddr>,
    /// `slug`, `distro`, `version`, `image_tag`.
    os: Option<Box<[Option<Box<str>>; 4]>>,
    user_data: Option<Box<str>>,
    /// Trimmed, blank ones left out.
    public_keys: Box<[Box<str>]>,
    /// `None`: the document of a Hardware without storage.
    document: Option<Box<Result<Document, DocumentError>>>,
}

/// The `/metadata` document of a Hardware that declares no storage.
static NO_STORAGE: Document = Document::EMPTY;

impl HardwareRecord {
    /// The record of `hw`.
    pub fn new(hw: &Hardware) -> Self {
        let meta = hw.spec.metadata.as_ref();
        let inst = hw.instance();
        let facility = meta.and_then(|m| m.facility.as_ref());
        let os = inst.and_then(|i| i.operating_system.as_ref());
        let ips = inst.and_then(|i| i.ips.as_deref()).unwrap_or_default();
        let ip = |family: i64, public: Option<bool>| {
            ips.iter()
                .filter(|ip| ip.family == Some(family))
                .filter(|ip| public.is_none_or(|p| ip.public.unwrap_or(false) == p))
                .find_map(|ip| ip.address)
        };
        let mut addresses: Vec<IpAddr> = Vec::new();
        for ip in hw.ips().into_iter().map(canonical) {
            if !addresses.contains(&ip) {
                addresses.push(ip);
            }
        }
        let tags = inst.and_then(|i| i.tags.as_deref()).unwrap_or_default();
        let os = os
            .map(|o| {
                [
                    boxed(o.slug.as_deref()),
                    boxed(o.distro.as_deref()),
                    boxed(o.version.as_deref()),
                    boxed(o.image_tag.as_deref()),
                ]
            })
            .filter(|o| o.iter().any(Option::is_some))
            .map(Box::new);
        let document = match document::build(hw) {
            Ok(doc) if doc == Document::EMPTY => None,
            built => Some(Box::new(built)),
        };
        Self {
            namespace: hw.metadata.namespace().into(),
            name: hw.metadata.name().into(),
            uid: hw.metadata.uid.as_deref().map(Box::from),
            addresses: addresses.into(),
            instance_id: boxed(inst.and_then(|i| i.id.as_deref())),
            hostname: boxed(inst.and_then(|i| i.hostname.as_deref())),
            plan: boxed(facility.and_then(|f| f.plan_slug.as_deref())),
            facility: boxed(facility.and_then(|f| f.facility_code.as_deref())),
            tags: boxed(Some(&tags.join("\n"))),
            public_ipv4: ip(4, Some(true)),
            local_ipv4: ip(4, Some(false)),
            public_ipv6: ip(6, None),
            os,
            user_data: boxed(hw.spec.user_data.as_deref()),
            public_keys: inst
                .and_then(|i| i.ssh_keys.as_deref())
                .unwrap_or_default()
                .iter()
                .map(|k| k.trim())
                .filter(|k| !k.is_empty())
                .map(Box::from)
                .collect(),
            document,
        }
    }

    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `spec.metadata.instance.id`, `None` when missing (absent or empty).
    pub fn instance_id(&self) -> Option<&str> {
        self.instance_id.as_deref()
    }

    /// A reference to the Hardware (with its uid), for the events about it.
    pub fn object_reference(&self) -> ObjectReference {
        ObjectReference {
            uid: self.uid.as_deref().map(String::from),
            ..ObjectReference::to::<Hardware>(&*self.namespace, &*self.name)
        }
    }

    /// The `/metadata` document (see [`document::build`]), or why it cannot be written.
    pub fn document(&self) -> Result<&Document, &DocumentError> {
        match self.document.as_deref() {
            None => Ok(&NO_STORAGE),
            Some(built) => built.as_ref(),
        }
    }

    fn field(&self, field: Field) -> Option<Cow<'_, str>> {
        let os = |i: usize| self.os.as_ref().and_then(|o| o[i].as_deref());
        let ip = |ip: Option<IpAddr>| ip.map(|a| Cow::Owned(a.to_string()));
        let s = match field {
            Field::PublicIpv4 => return ip(self.public_ipv4),
            Field::LocalIpv4 => return ip(self.local_ipv4),
            Field::PublicIpv6 => return ip(self.public_ipv6),
            Field::InstanceId => self.instance_id.as_deref(),
            Field::Hostname | Field::LocalHostname => self.hostname.as_deref(),
            Field::Iqn | Field::LicenseActivationState => None,
            Field::Plan => self.plan.as_deref(),
            Field::Facility => self.facility.as_deref(),
            Field::Tags => self.tags.as_deref(),
            Field::OsSlug => os(0),
            Field::OsDistro => os(1),
            Field::OsVersion => os(2),
            Field::OsImageTag => os(3),
        };
        s.map(Cow::Borrowed)
    }
}

impl Machine {
    /// `namespace/name` of the Hardware, or `flatfile[N]`, for logs and errors.
    pub fn name(&self) -> String {
        match self {
            Machine::Hardware(hw) => format!("{}/{}", hw.namespace, hw.name),
            Machine::FlatFile(i, _) => format!("flatfile[{i}]"),
        }
    }

    /// The addresses the machine is identified by, in [`canonical`] form, each once.
    pub fn addresses(&self) -> Vec<IpAddr> {
        match self {
            Machine::Hardware(hw) => hw.addresses.to_vec(),
            Machine::FlatFile(_, f) => f
                .public_ipv4()
                .map(|ip| canonical(IpAddr::V4(ip)))
                .into_iter()
                .collect(),
        }
    }

    /// The value of a leaf, `None` when missing (absent or empty).
    pub fn field(&self, field: Field) -> Option<Cow<'_, str>> {
        let value: Option<Cow<'_, str>> = match self {
            Machine::Hardware(hw) => hw.field(field),
            Machine::FlatFile(_, f) => flatfile_field(f, field),
        };
        value.filter(|v| !v.is_empty())
    }

    /// `user-data`, `None` when missing (absent or empty).
    pub fn user_data(&self) -> Option<&str> {
        match self {
            Machine::Hardware(hw) => hw.user_data.as_deref(),
            Machine::FlatFile(_, f) => present(f.userdata.as_deref()),
        }
    }

    /// The OpenSSH public keys, blank entries left out, each trimmed.
    pub fn public_keys(&self) -> Vec<&str> {
        match self {
            Machine::Hardware(hw) => hw.public_keys.iter().map(|k| &**k).collect(),
            Machine::FlatFile(..) => Vec::new(),
        }
    }
}

fn flatfile_field(f: &FlatFileInstance, field: Field) -> Option<Cow<'_, str>> {
    let m = &f.metadata;
    let os = m.os.as_ref();
    let s = match field {
        Field::InstanceId => m.id.as_deref(),
        Field::Hostname => m.hostname.as_deref(),
        Field::LocalHostname => m.local_hostname.as_deref(),
        Field::Iqn => m.iqn.as_deref(),
        Field::Plan => m.plan.as_deref(),
        Field::Facility => m.facility.as_deref(),
        Field::Tags => {
            let tags = m.tags.as_deref().unwrap_or_default();
            return (!tags.is_empty()).then(|| Cow::Owned(tags.join("\n")));
        }
        Field::PublicIpv4 => return m.ipv4.as_ref()?.public.map(|a| Cow::Owned(a.to_string())),
        Field::LocalIpv4 => return m.ipv4.as_ref()?.local.map(|a| Cow::Owned(a.to_string())),
        Field::PublicIpv6 => return m.ipv6.as_ref()?.public.map(|a| Cow::Owned(a.to_string())),
        Field::OsSlug => os.and_then(|o| o.slug.as_deref()),
        Field::OsDistro => os.and_then(|o| o.distro.as_deref()),
        Field::OsVersion => os.and_then(|o| o.version.as_deref()),
        Field::OsImageTag => os.and_then(|o| o.image_tag.as_deref()),
        Field::LicenseActivationState => os.and_then(|o| o.license_activation_state.as_deref()),
    };
    s.map(Cow::Borrowed)
}
