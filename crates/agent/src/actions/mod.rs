//! The actions: the standard Tinkerbell action images executed natively, anything else
//! as a container.
//!
//! An action is recognised by the last path component of its image without tag or digest
//! ([`builtin_name`]): `quay.io/tinkerbell/actions/image2disk:latest`,
//! `ghcr.io/tinkerbell/actions/image2disk:v1` and EKS Anywhere's
//! `127.0.0.1/embedded/image2disk` all run [`image2disk`]. Each built-in reads the same
//! environment variables as Tinkerbell's action image (the action's `environment`, given
//! here as [`ActionSpec::env`], never the agent's own environment). Start at [`execute`].

pub mod cexec;
pub mod container;
pub mod decompress;
pub mod image2disk;
pub mod kexec;
pub mod mount;
pub mod oci2disk;
pub mod reboot;
pub mod stream;
pub mod writefile;

use crate::config::Settings;
use crate::power::{AfterReport, Power};
use ironbell_workflow_proto::ActionResponse;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One action as the workflow service handed it out.
#[derive(Debug, Clone, Default)]
pub struct ActionSpec {
    /// Workflow id.
    pub workflow_id: String,
    /// Task id.
    pub task_id: String,
    /// Action id.
    pub action_id: String,
    /// Action name.
    pub name: String,
    /// Container image; selects the built-in.
    pub image: String,
    /// Local time limit; `None` when the service gave 0.
    pub timeout: Option<Duration>,
    /// Container command.
    pub command: Vec<String>,
    /// Container volumes (`src:dst[:opts]`).
    pub volumes: Vec<String>,
    /// The action's environment, `KEY=value` split, in order.
    pub env: Vec<(String, String)>,
    /// PID namespace (`host`), from `namespaces.pid` or the deprecated `pid`.
    pub pid: String,
    /// Network namespace (`host`, `none`).
    pub network: String,
}

impl ActionSpec {
    /// Converts a GetAction response (`KEY=value` environment entries, a missing `=`
    /// meaning an empty value, as Tinkerbell splits them).
    pub fn from_response(r: ActionResponse) -> Self {
        let ns = r.namespaces.unwrap_or_default();
        Self {
            timeout: (r.timeout > 0).then(|| Duration::from_secs(r.timeout.unsigned_abs())),
            env: r
                .environment
                .iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (kv.clone(), String::new()),
                })
                .collect(),
            pid: if ns.pid.is_empty() { r.pid } else { ns.pid },
            network: ns.network,
            workflow_id: r.workflow_id,
            task_id: r.task_id,
            action_id: r.action_id,
            name: r.name,
            image: r.image,
            command: r.command,
            volumes: r.volumes,
        }
    }

    /// The value of environment variable `key` (the last one wins, as in a process
    /// environment); empty values count as unset.
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// [`Self::var`] or [`ActionError::MissingEnv`].
    pub fn required(&self, action: &'static str, key: &'static str) -> Result<&str, ActionError> {
        self.var(key).ok_or(ActionError::MissingEnv { action, key })
    }

    /// A boolean variable parsed as Go's `strconv.ParseBool`; unset or unparsable is
    /// `false` (Tinkerbell's actions ignore the parse error).
    pub fn flag(&self, key: &str) -> bool {
        self.var(key)
            .and_then(crate::config::parse_bool)
            .unwrap_or(false)
    }
}

/// Which built-in an image names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `image2disk`.
    Image2Disk,
    /// `oci2disk`.
    Oci2Disk,
    /// `writefile`.
    WriteFile,
    /// `cexec`.
    Cexec,
    /// `kexec`.
    Kexec,
    /// `reboot`.
    Reboot,
}

/// The built-in an image selects, or `None` for a container action.
pub fn builtin_name(image: &str) -> Option<Builtin> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let name = last.split(':').next().unwrap_or(last);
    Some(match name {
        "image2disk" => Builtin::Image2Disk,
        "oci2disk" => Builtin::Oci2Disk,
        "writefile" => Builtin::WriteFile,
        "cexec" => Builtin::Cexec,
        "kexec" => Builtin::Kexec,
        "reboot" => Builtin::Reboot,
        _ => return None,
    })
}

/// What an action needs from the agent.
#[derive(Debug, Clone)]
pub struct Context {
    /// The agent's settings (Docker, registry).
    pub settings: Arc<Settings>,
    /// Reboot and kexec.
    pub power: Arc<dyn Power>,
    /// A shared HTTP client for image2disk and oci2disk.
    pub http: reqwest::Client,
}

/// A finished action.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// What happened, for the report's message.
    pub message: String,
    /// What the agent does after reporting SUCCESS.
    pub after: AfterReport,
}

impl Outcome {
    fn done(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            after: AfterReport::Nothing,
        }
    }
}

/// Why an action failed. Each variant names the action and what failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// A required environment variable is missing.
    #[error("{action}: {key} is required")]
    MissingEnv {
        /// The action.
        action: &'static str,
        /// The variable.
        key: &'static str,
    },
    /// An environment variable has a value the action cannot use.
    #[error("{action}: {key}={value:?}: {reason}")]
    BadEnv {
        /// The action.
        action: &'static str,
        /// The variable.
        key: &'static str,
        /// Its value.
        value: String,
        /// Why not.
        reason: String,
    },
    /// An HTTP request failed.
    #[error("{action}: GET {url}: {reason}")]
    Http {
        /// The action.
        action: &'static str,
        /// The URL.
        url: String,
        /// The transport error or the status.
        reason: String,
    },
    /// An OCI registry answered something unusable.
    #[error("{action}: {reference}: {reason}")]
    Registry {
        /// The action.
        action: &'static str,
        /// The image reference.
        reference: String,
        /// What was wrong.
        reason: String,
    },
    /// The image data does not decompress.
    #[error("{action}: decompressing {source_name}: {error}")]
    Decompress {
        /// The action.
        action: &'static str,
        /// URL or reference of the image.
        source_name: String,
        /// The decoder's error.
        error: std::io::Error,
    },
    /// A file system operation failed.
    #[error("{action}: {what} {}: {error}", path.display())]
    Io {
        /// The action.
        action: &'static str,
        /// What was being done (`opening`, `writing`, `creating directory`).
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// `mount(2)` failed.
    #[error("{action}: mounting {device} ({fstype}) on {}: {error}", target.display())]
    Mount {
        /// The action.
        action: &'static str,
        /// The block device.
        device: String,
        /// The file system type.
        fstype: String,
        /// The mount point.
        target: PathBuf,
        /// The error.
        error: nix::Error,
    },
    /// A command run by cexec failed to start or exited non-zero.
    #[error("{action}: {command:?}: {reason}")]
    Command {
        /// The action.
        action: &'static str,
        /// The command line.
        command: String,
        /// Exit status or start error.
        reason: String,
    },
    /// A system call failed (kexec_file_load, reboot).
    #[error("{action}: {what}: {error}")]
    Sys {
        /// The action.
        action: &'static str,
        /// Which call.
        what: &'static str,
        /// The error.
        error: std::io::Error,
    },
    /// The image is not a built-in action and no Docker engine is reachable.
    #[error(
        "{image}: not a built-in action (image2disk, oci2disk, writefile, cexec, kexec, reboot) \
         and no Docker engine at {socket} to run it as a container"
    )]
    NoDocker {
        /// The image.
        image: String,
        /// Where the engine was looked for.
        socket: String,
    },
    /// The Docker API failed.
    #[error("container {image}: {what}: {error}")]
    Docker {
        /// The image.
        image: String,
        /// Which step (`pull`, `create`, `start`, `wait`).
        what: &'static str,
        /// The error.
        error: bollard::errors::Error,
    },
    /// The container exited non-zero.
    #[error("container {image} exited with status {code}{}", if output.is_empty() { String::new() } else { format!("; last output: {output}") })]
    ContainerExit {
        /// The image.
        image: String,
        /// Its exit code.
        code: i64,
        /// The last lines it printed.
        output: String,
    },
}

/// Runs one action to completion. Time limits are the caller's business: dropping the
/// future cancels the action (downloads stop, child processes and containers are killed,
/// mounts undone).
pub async fn execute(spec: &ActionSpec, ctx: &Context) -> Result<Outcome, ActionError> {
    match builtin_name(&spec.image) {
        Some(Builtin::Image2Disk) => image2disk::run(spec, ctx).await,
        Some(Builtin::Oci2Disk) => oci2disk::run(spec, ctx).await,
        Some(Builtin::WriteFile) => {
            let spec = spec.clone();
            blocking(move || writefile::run(&spec)).await
        }
        Some(Builtin::Cexec) => cexec::run(spec).await,
        Some(Builtin::Kexec) => {
            let spec = spec.clone();
            let power = ctx.power.clone();
            blocking(move || kexec::run(&spec, power.as_ref())).await
        }
        Some(Builtin::Reboot) => Ok(reboot::run(spec)),
        None => container::run(spec, ctx).await,
    }
}

async fn blocking<F>(f: F) -> Result<Outcome, ActionError>
where
    F: FnOnce() -> Result<Outcome, ActionError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(ActionError::Sys {
            action: "agent",
            what: "action thread",
            error: std::io::Error::other(e.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_select_builtins() {
        for (image, want) in [
            (
                "quay.io/tinkerbell/actions/image2disk:latest",
                Some(Builtin::Image2Disk),
            ),
            (
                "ghcr.io/tinkerbell/actions/oci2disk:v1.0.0",
                Some(Builtin::Oci2Disk),
            ),
            ("127.0.0.1/embedded/writefile", Some(Builtin::WriteFile)),
            ("cexec", Some(Builtin::Cexec)),
            (
                "quay.io/tinkerbell/actions/kexec@sha256:abcd",
                Some(Builtin::Kexec),
            ),
            ("localhost:5000/reboot:1", Some(Builtin::Reboot)),
            ("localhost:5000/image2disk-fork:1", None),
            ("alpine:3", None),
        ] {
            assert_eq!(builtin_name(image), want, "{image}");
        }
    }

    #[test]
    fn response_conversion() {
        let s = ActionSpec::from_response(ActionResponse {
            environment: vec!["A=1".into(), "B".into(), "C=x=y".into(), "A=2".into()],
            timeout: 60,
            pid: "host".into(),
            ..Default::default()
        });
        assert_eq!(s.var("A"), Some("2"));
        assert_eq!(s.var("B"), None);
        assert_eq!(s.var("C"), Some("x=y"));
        assert_eq!(s.timeout, Some(Duration::from_secs(60)));
        assert_eq!(s.pid, "host");
        assert!(
            ActionSpec::from_response(ActionResponse::default())
                .timeout
                .is_none()
        );
    }
}
