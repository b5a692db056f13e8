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

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use ironbell_model::tinkerbell::hegel::FlatFileInstance;
use ironbell_model::tinkerbell::{Hardware, MetadataInstance};

use crate::client::canonical;

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
    /// A `tinkerbell.org/v1alpha1` Hardware from the store.
    Hardware(Arc<Hardware>),
    /// An entry of a Hegel flat file (its position in the file, and the entry).
    FlatFile(usize, Arc<FlatFileInstance>),
}

fn present(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

impl Machine {
    /// `namespace/name` of the Hardware, or `flatfile[N]`, for logs and errors.
    pub fn name(&self) -> String {
        match self {
            Machine::Hardware(hw) => {
                format!("{}/{}", hw.metadata.namespace(), hw.metadata.name())
            }
            Machine::FlatFile(i, _) => format!("flatfile[{i}]"),
        }
    }

    /// The addresses the machine is identified by, in [`canonical`] form, each once.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let all: Vec<IpAddr> = match self {
            Machine::Hardware(hw) => hw.ips(),
            Machine::FlatFile(_, f) => f.public_ipv4().map(IpAddr::V4).into_iter().collect(),
        };
        let mut ips = Vec::new();
        for ip in all.into_iter().map(canonical) {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        ips
    }

    fn instance(&self) -> Option<&MetadataInstance> {
        match self {
            Machine::Hardware(hw) => hw.instance(),
            Machine::FlatFile(..) => None,
        }
    }

    /// The value of a leaf, `None` when missing (absent or empty).
    pub fn field(&self, field: Field) -> Option<Cow<'_, str>> {
        let value: Option<Cow<'_, str>> = match self {
            Machine::Hardware(hw) => hardware_field(hw, field),
            Machine::FlatFile(_, f) => flatfile_field(f, field),
        };
        value.filter(|v| !v.is_empty())
    }

    /// `user-data`, `None` when missing (absent or empty).
    pub fn user_data(&self) -> Option<&str> {
        match self {
            Machine::Hardware(hw) => present(hw.spec.user_data.as_deref()),
            Machine::FlatFile(_, f) => present(f.userdata.as_deref()),
        }
    }

    /// The OpenSSH public keys, blank entries left out, each trimmed.
    pub fn public_keys(&self) -> Vec<&str> {
        self.instance()
            .and_then(|i| i.ssh_keys.as_deref())
            .unwrap_or_default()
            .iter()
            .map(|k| k.trim())
            .filter(|k| !k.is_empty())
            .collect()
    }
}

fn hardware_field(hw: &Hardware, field: Field) -> Option<Cow<'_, str>> {
    let meta = hw.spec.metadata.as_ref()?;
    let inst = meta.instance.as_ref();
    let os = inst.and_then(|i| i.operating_system.as_ref());
    let facility = meta.facility.as_ref();
    let ip = |family: i64, public: Option<bool>| {
        inst.and_then(|i| i.ips.as_deref())
            .unwrap_or_default()
            .iter()
            .filter(|ip| ip.family == Some(family))
            .filter(|ip| public.is_none_or(|p| ip.public.unwrap_or(false) == p))
            .find_map(|ip| ip.address)
            .map(|a| Cow::Owned(a.to_string()))
    };
    let s = match field {
        Field::PublicIpv4 => return ip(4, Some(true)),
        Field::LocalIpv4 => return ip(4, Some(false)),
        Field::PublicIpv6 => return ip(6, None),
        Field::InstanceId => inst.and_then(|i| i.id.as_deref()),
        Field::Hostname | Field::LocalHostname => inst.and_then(|i| i.hostname.as_deref()),
        Field::Iqn | Field::LicenseActivationState => None,
        Field::Plan => facility.and_then(|f| f.plan_slug.as_deref()),
        Field::Facility => facility.and_then(|f| f.facility_code.as_deref()),
        Field::Tags => {
            let tags = inst.and_then(|i| i.tags.as_deref()).unwrap_or_default();
            return (!tags.is_empty()).then(|| Cow::Owned(tags.join("\n")));
        }
        Field::OsSlug => os.and_then(|o| o.slug.as_deref()),
        Field::OsDistro => os.and_then(|o| o.distro.as_deref()),
        Field::OsVersion => os.and_then(|o| o.version.as_deref()),
        Field::OsImageTag => os.and_then(|o| o.image_tag.as_deref()),
    };
    s.map(Cow::Borrowed)
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
