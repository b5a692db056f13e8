//! Any image that is not a built-in runs as a container through the Docker API (bollard),
//! the way Tinkerbell's agent runs every action.
//!
//! The engine is `DOCKER_HOST` (`unix:///path` or `tcp://host:port`) or the socket at
//! `docker_socket` (default `/var/run/docker.sock`); without one the action fails with
//! [`ActionError::NoDocker`]. The image is pulled only if the engine does not have it
//! (HookOS embeds its images), with the `docker_registry` credentials when the image's
//! registry is that one. The container is named `tinkerbell_<name>_<id>` (sanitised, as
//! Tinkerbell does), gets the action's environment, volumes (binds), command, PID and
//! network namespaces, and is privileged unless `docker_privileged=false`
//! (`docker_cap_drop` then drops capabilities). Its output goes to the log line by line;
//! it is removed afterwards (killed first if the action is cancelled).

use super::{ActionError, ActionSpec, Context, Outcome};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures::StreamExt;
use std::collections::VecDeque;

/// Tinkerbell's container name: `tinkerbell_<name>_<id>` with anything outside
/// `[a-zA-Z0-9_.-]` replaced by `_`.
pub fn container_name(action_id: &str, name: &str) -> String {
    let clean = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!("tinkerbell_{}_{}", clean(name), clean(action_id))
}

/// Whether `image` lives in `registry` (its first path component is that host).
pub fn image_in_registry(image: &str, registry: &str) -> bool {
    let registry = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    !registry.is_empty() && image.split('/').next() == Some(registry) && image.contains('/')
}

fn connect(ctx: &Context, image: &str) -> Result<Docker, ActionError> {
    let s = &ctx.settings;
    let no_docker = |socket: String| ActionError::NoDocker {
        image: image.to_string(),
        socket,
    };
    // Streams (wait, logs) must outlive any action; the action's own time limit applies.
    const TIMEOUT: u64 = 7 * 24 * 3600;
    let api = bollard::API_DEFAULT_VERSION;
    let docker_err = |error| ActionError::Docker {
        image: image.to_string(),
        what: "connect",
        error,
    };
    match s.docker_host.as_deref() {
        Some(h) if h.starts_with("unix://") => {
            if !std::path::Path::new(h.trim_start_matches("unix://")).exists() {
                return Err(no_docker(h.to_string()));
            }
            Docker::connect_with_unix(h, TIMEOUT, api).map_err(docker_err)
        }
        Some(h) if h.starts_with("tcp://") || h.starts_with("http://") => {
            Docker::connect_with_http(h, TIMEOUT, api).map_err(docker_err)
        }
        Some(h) => Err(no_docker(format!("{h} (unsupported DOCKER_HOST)"))),
        None => {
            let p = &s.docker_socket;
            if !p.exists() {
                return Err(no_docker(p.display().to_string()));
            }
            Docker::connect_with_unix(&p.to_string_lossy(), TIMEOUT, api).map_err(docker_err)
        }
    }
}

/// Removes (force: kills first) the container when dropped — also when the action is
/// cancelled; the removal runs as a task that [`settle`] waits for.
struct Cleanup {
    docker: Docker,
    id: String,
}

static PENDING: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

impl Drop for Cleanup {
    fn drop(&mut self) {
        let docker = self.docker.clone();
        let id = std::mem::take(&mut self.id);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let task = handle.spawn(async move {
                if let Err(e) = docker
                    .remove_container(
                        &id,
                        Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                    )
                    .await
                {
                    tracing::info!(container = %id, error = %e, "could not remove the container");
                }
            });
            if let Ok(mut p) = PENDING.lock() {
                p.retain(|t| !t.is_finished());
                p.push(task);
            }
        }
    }
}

/// Waits for the removal of containers of cancelled actions (before a reboot or exit).
pub async fn settle() {
    let pending: Vec<_> = PENDING
        .lock()
        .map(|mut p| std::mem::take(&mut *p))
        .unwrap_or_default();
    for task in pending {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(15), task).await;
    }
}

const TAIL_LINES: usize = 10;

/// Runs the action.
pub async fn run(spec: &ActionSpec, ctx: &Context) -> Result<Outcome, ActionError> {
    let image = spec.image.clone();
    let err = |what: &'static str| {
        let image = image.clone();
        move |error| ActionError::Docker {
            image: image.clone(),
            what,
            error,
        }
    };
    let docker = connect(ctx, &image)?
        .negotiate_version()
        .await
        .map_err(err("connect"))?;
    if docker.inspect_image(&image).await.is_err() {
        tracing::info!(%image, "pulling");
        let credentials = ctx
            .settings
            .registry
            .as_ref()
            .filter(|r| image_in_registry(&image, &r.name))
            .map(|r| bollard::auth::DockerCredentials {
                username: Some(r.username.clone()),
                password: Some(r.password.clone()),
                serveraddress: Some(r.name.clone()),
                ..Default::default()
            });
        let mut pull = docker.create_image(
            Some(
                CreateImageOptionsBuilder::default()
                    .from_image(&image)
                    .build(),
            ),
            None,
            credentials,
        );
        while let Some(step) = pull.next().await {
            step.map_err(err("pull"))?;
        }
    }
    let name = container_name(&spec.action_id, &spec.name);
    // A container left over from an earlier attempt would block the name.
    let _ = docker
        .remove_container(
            &name,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await;
    let s = &ctx.settings;
    let host_config = HostConfig {
        binds: Some(spec.volumes.clone()),
        privileged: Some(s.docker_privileged),
        cap_drop: (!s.docker_cap_drop.is_empty()).then(|| s.docker_cap_drop.clone()),
        pid_mode: (!spec.pid.is_empty()).then(|| spec.pid.clone()),
        network_mode: (!spec.network.is_empty()).then(|| spec.network.clone()),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(image.clone()),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
        host_config: Some(host_config),
        ..Default::default()
    };
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .map_err(err("create"))?;
    let _cleanup = Cleanup {
        docker: docker.clone(),
        id: created.id.clone(),
    };
    docker
        .start_container(&created.id, None)
        .await
        .map_err(err("start"))?;
    tracing::info!(container = %name, "started");
    let mut logs = docker.logs(
        &created.id,
        Some(
            LogsOptionsBuilder::default()
                .follow(true)
                .stdout(true)
                .stderr(true)
                .build(),
        ),
    );
    let mut tail = VecDeque::new();
    let mut partial = String::new();
    while let Some(chunk) = logs.next().await {
        let Ok(chunk) = chunk else { break };
        partial.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        while let Some(i) = partial.find('\n') {
            let line: String = partial.drain(..=i).collect();
            let line = line.trim_end().to_string();
            tracing::info!(container = %name, "{line}");
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
    }
    if !partial.is_empty() {
        tracing::info!(container = %name, "{partial}");
        tail.push_back(partial);
    }
    let mut wait = docker.wait_container(
        &created.id,
        Some(WaitContainerOptionsBuilder::default().build()),
    );
    let code = match wait.next().await {
        Some(Ok(r)) => r.status_code,
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(e)) => return Err(err("wait")(e)),
        None => 0,
    };
    if code != 0 {
        return Err(ActionError::ContainerExit {
            image,
            code,
            output: Vec::from(tail).join(" | "),
        });
    }
    Ok(Outcome::done(format!(
        "container {image} exited with status 0"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_registries() {
        assert_eq!(
            container_name("a b/c", "stream image"),
            "tinkerbell_stream_image_a_b_c"
        );
        assert!(image_in_registry("quay.io/x/y:1", "quay.io"));
        assert!(image_in_registry(
            "10.0.0.1:5000/x",
            "https://10.0.0.1:5000/"
        ));
        assert!(!image_in_registry("alpine", "alpine"));
        assert!(!image_in_registry("quay.io/x", ""));
    }
}
