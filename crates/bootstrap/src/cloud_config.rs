//! A cloud-config document built as ordered YAML: the pieces the kubeadm and plain
//! bootstrappers share (`write_files`, `users`, `ntp`, disks), written in the key order and
//! form Cluster API's templates use.
//!
//! Why not CAPI's text templates: they paste values into YAML unquoted (a user name or an
//! SSH key comment containing `: ` or ` #` gives a different document, or a broken one);
//! here every value goes through a YAML serializer, so what the machine reads is exactly
//! what the spec says. Multi-line contents come out as literal blocks, as in CAPI's output.

use ironbell_capi::api::kubeadm::{DiskSetup, File, Ntp, User};
use ironbell_model::corev1::Secret;
use serde_yaml_ng::{Mapping, Value};

/// A user-data document that cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum UserDataError {
    /// A file's `contentFrom` names a secret that was not given.
    #[error("file {path}: secret {secret} is missing")]
    MissingSecret {
        /// The file's path.
        path: String,
        /// The secret's name.
        secret: String,
    },
    /// A file's `contentFrom` names a key the secret lacks (or whose value is not text).
    #[error("file {path}: secret {secret} has no text value at {key}")]
    MissingSecretKey {
        /// The file's path.
        path: String,
        /// The secret's name.
        secret: String,
        /// The key.
        key: String,
    },
    /// A file has neither `content` nor `contentFrom`.
    #[error("file {path} has no content and no contentFrom")]
    NoContent {
        /// The file's path.
        path: String,
    },
    /// The spec asks for something this bootstrapper does not render.
    #[error("{0}")]
    Unsupported(String),
    /// A kubeadm configuration could not be turned into YAML.
    #[error("writing {what}: {reason}")]
    Serialize {
        /// What was being written.
        what: &'static str,
        /// The serializer's message.
        reason: String,
    },
    /// The cluster CA could not be hashed for discovery.
    #[error(transparent)]
    Certificates(#[from] crate::certs::CertError),
}

/// A cloud-config document under construction; keys keep their insertion order.
#[derive(Debug, Default)]
pub(crate) struct CloudConfig {
    root: Mapping,
}

pub(crate) fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

pub(crate) fn seq<'a>(items: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Sequence(items.into_iter().map(s).collect())
}

impl CloudConfig {
    /// Sets a top-level key.
    pub(crate) fn set(&mut self, key: &str, value: Value) {
        self.root.insert(s(key), value);
    }

    /// `write_files`: each file with `path`, `owner`, `permissions`, `content`; a
    /// `contentFrom` is read from `secrets`.
    pub(crate) fn write_files(
        &mut self,
        files: &[File],
        secrets: &[Secret],
    ) -> Result<(), UserDataError> {
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            let content = file_content(f, secrets)?;
            let mut m = Mapping::new();
            m.insert(s("path"), s(&f.path));
            if let Some(owner) = f.owner.as_deref().filter(|o| !o.is_empty()) {
                m.insert(s("owner"), s(owner));
            }
            if let Some(mode) = f.permissions.as_deref().filter(|p| !p.is_empty()) {
                m.insert(s("permissions"), s(mode));
            }
            m.insert(s("content"), Value::String(content));
            out.push(Value::Mapping(m));
        }
        self.set("write_files", Value::Sequence(out));
        Ok(())
    }

    /// `users`, as CAPI writes them: name, `lock_passwd`, `sudo`, `ssh_authorized_keys`.
    pub(crate) fn users(&mut self, users: &[User]) {
        if users.is_empty() {
            return;
        }
        let list = users
            .iter()
            .map(|u| {
                let mut m = Mapping::new();
                m.insert(s("name"), s(&u.name));
                if let Some(lock) = u.lock_password.filter(|l| *l) {
                    m.insert(s("lock_passwd"), Value::Bool(lock));
                }
                if let Some(sudo) = u.sudo.as_deref().filter(|v| !v.is_empty()) {
                    m.insert(s("sudo"), s(sudo));
                }
                if !u.ssh_authorized_keys.is_empty() {
                    m.insert(
                        s("ssh_authorized_keys"),
                        seq(u.ssh_authorized_keys.iter().map(String::as_str)),
                    );
                }
                Value::Mapping(m)
            })
            .collect();
        self.set("users", Value::Sequence(list));
    }

    /// `ntp` with `enabled` and `servers`.
    pub(crate) fn ntp(&mut self, ntp: Option<&Ntp>) {
        let Some(ntp) = ntp else { return };
        let mut m = Mapping::new();
        if ntp.enabled {
            m.insert(s("enabled"), Value::Bool(true));
        }
        m.insert(s("servers"), seq(ntp.servers.iter().map(String::as_str)));
        self.set("ntp", Value::Mapping(m));
    }

    /// `disk_setup`, `fs_setup` and `mounts` from the kubeadm spec's disk fields.
    pub(crate) fn disks(&mut self, disks: Option<&DiskSetup>, mounts: Option<&[Vec<String>]>) {
        if let Some(d) = disks {
            if !d.partitions.is_empty() {
                let mut setup = Mapping::new();
                for p in &d.partitions {
                    let mut m = Mapping::new();
                    m.insert(s("table_type"), s(&p.table_type));
                    m.insert(s("layout"), Value::Bool(p.layout));
                    m.insert(s("overwrite"), Value::Bool(p.overwrite));
                    setup.insert(s(&p.device), Value::Mapping(m));
                }
                self.set("disk_setup", Value::Mapping(setup));
            }
            if !d.filesystems.is_empty() {
                let list = d
                    .filesystems
                    .iter()
                    .map(|f| {
                        let mut m = Mapping::new();
                        m.insert(s("label"), s(&f.label));
                        m.insert(s("filesystem"), s(&f.filesystem));
                        m.insert(s("device"), s(&f.device));
                        if f.overwrite {
                            m.insert(s("overwrite"), Value::Bool(true));
                        }
                        if !f.extra_opts.is_empty() {
                            m.insert(
                                s("extra_opts"),
                                seq(f.extra_opts.iter().map(String::as_str)),
                            );
                        }
                        Value::Mapping(m)
                    })
                    .collect();
                self.set("fs_setup", Value::Sequence(list));
            }
        }
        if let Some(mounts) = mounts.filter(|m| !m.is_empty()) {
            let list = mounts
                .iter()
                .map(|m| seq(m.iter().map(String::as_str)))
                .collect();
            self.set("mounts", Value::Sequence(list));
        }
    }

    /// The document: `header` (ending in a newline) then the YAML.
    pub(crate) fn render(self, header: &str) -> Result<String, UserDataError> {
        let body = serde_yaml_ng::to_string(&Value::Mapping(self.root)).map_err(|e| {
            UserDataError::Serialize {
                what: "the cloud-config",
                reason: e.to_string(),
            }
        })?;
        Ok(format!("{header}{body}"))
    }
}

fn file_content(f: &File, secrets: &[Secret]) -> Result<String, UserDataError> {
    if let Some(c) = &f.content {
        return Ok(c.clone());
    }
    let Some(from) = &f.content_from else {
        return Err(UserDataError::NoContent {
            path: f.path.clone(),
        });
    };
    let secret = secrets
        .iter()
        .find(|s| s.metadata.name() == from.secret.name)
        .ok_or_else(|| UserDataError::MissingSecret {
            path: f.path.clone(),
            secret: from.secret.name.clone(),
        })?;
    secret
        .get_str(&from.secret.key)
        .map(str::to_string)
        .ok_or_else(|| UserDataError::MissingSecretKey {
            path: f.path.clone(),
            secret: from.secret.name.clone(),
            key: from.secret.key.clone(),
        })
}
