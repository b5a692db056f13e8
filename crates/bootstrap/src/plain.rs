//! The `plain` bootstrapper: cloud-config for a node that runs no Kubernetes. It sets the
//! hostname, creates the spec's users with their SSH keys (and NTP servers), and turns on
//! cloud-init's `phone_home` module, which POSTs `instance_id`, `hostname` and `fqdn` as an
//! `application/x-www-form-urlencoded` form to the metadata service once the first boot
//! is done. The metadata service records the node (`POST /phone-home`, see
//! `ironbell-metadata`) and the node counts as Ready: this is the flavor the lab runs end
//! to end.
//!
//! EKS Anywhere's templates reach the metadata service at `http://<tinkerbell-ip>:50061`
//! ([`EKSA_METADATA_PORT`]); [`phone_home_url`] builds the URL for any base.

use ironbell_capi::api::kubeadm::{KubeadmConfigSpec, Ntp, User};
use serde_yaml_ng::{Mapping, Value};

use crate::cloud_config::{CloudConfig, UserDataError, s, seq};

/// The first line of a cloud-config document.
pub const HEADER: &str = "#cloud-config\n";
/// The port EKS Anywhere's templates give the metadata service (`metadata_urls`).
pub const EKSA_METADATA_PORT: u16 = 50061;
/// The path the phone-home is posted to.
pub const PHONE_HOME_PATH: &str = "/phone-home";
/// The form fields posted (cloud-init's names).
pub const PHONE_HOME_FIELDS: [&str; 3] = ["instance_id", "hostname", "fqdn"];
/// How often cloud-init tries the POST (3 s apart).
pub const PHONE_HOME_TRIES: u32 = 10;

/// What a plain node's user-data says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlainConfig {
    /// The hostname to set (none: the one the metadata service gives).
    pub hostname: Option<String>,
    /// Login users with their SSH keys.
    pub users: Vec<User>,
    /// NTP servers.
    pub ntp: Option<Ntp>,
    /// Where cloud-init posts its phone-home ([`phone_home_url`]).
    pub phone_home_url: String,
}

impl PlainConfig {
    /// The users and NTP servers of a kubeadm spec (the rest of it is Kubernetes), posting
    /// to `phone_home_url`.
    pub fn from_spec(
        spec: &KubeadmConfigSpec,
        hostname: Option<String>,
        phone_home_url: String,
    ) -> Self {
        Self {
            hostname,
            users: spec.users.clone().unwrap_or_default(),
            ntp: spec.ntp.clone(),
            phone_home_url,
        }
    }
}

/// `<metadata_base>/phone-home`, e.g. `http://10.0.0.1:50061/phone-home` for
/// `http://10.0.0.1:50061`.
pub fn phone_home_url(metadata_base: &str) -> String {
    format!("{}{PHONE_HOME_PATH}", metadata_base.trim_end_matches('/'))
}

/// The cloud-config user-data of a plain node.
pub fn user_data(config: &PlainConfig) -> Result<String, UserDataError> {
    if config.phone_home_url.is_empty() {
        return Err(UserDataError::Unsupported(
            "a plain node needs a phone-home URL".into(),
        ));
    }
    let mut doc = CloudConfig::default();
    if let Some(hostname) = config.hostname.as_deref().filter(|h| !h.is_empty()) {
        doc.set("hostname", s(hostname));
    }
    doc.users(&config.users);
    doc.ntp(config.ntp.as_ref());
    let mut phone_home = Mapping::new();
    phone_home.insert(s("url"), s(&config.phone_home_url));
    phone_home.insert(s("post"), seq(PHONE_HOME_FIELDS));
    phone_home.insert(s("tries"), Value::Number(PHONE_HOME_TRIES.into()));
    doc.set("phone_home", Value::Mapping(phone_home));
    doc.render(HEADER)
}
