//! The Docker engine as the controllers use it, over `bollard` (the Engine API client the
//! ecosystem uses; nothing shells out to `docker`): networks, volumes and containers found
//! by name and label, created when missing and removed when gone already is fine (every
//! call is idempotent, so a controller can stop anywhere and carry on), and commands run in
//! a container through the exec API with their exit status and the tail of their output.
//!
//! Errors say which engine, which object and what was done: an engine that does not answer
//! ([`EngineError::Unreachable`]) is told apart from one that refuses a request
//! ([`EngineError::Refused`], which names the capability or option refused when the
//! engine's message shows it, e.g. `--privileged` on an engine without `CAP_SYS_RESOURCE`).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig,
    NetworkCreateRequest, NetworkingConfig, RestartPolicy, RestartPolicyNameEnum,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, KillContainerOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use futures::StreamExt;
use ipnet::Ipv4Net;

/// Longest a command run in a container may take.
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(300);
/// Bytes of a command's output kept for its error.
const OUTPUT_TAIL: usize = 2048;
/// Timeout of one request to the engine (exec streams end by [`EXEC_TIMEOUT`]).
const REQUEST_TIMEOUT_S: u64 = 120;

/// An engine request failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine did not answer (stopped, socket missing, connection reset).
    #[error("the Docker engine at {host} is unreachable ({what} {object}): {source}")]
    Unreachable {
        /// The engine's address.
        host: String,
        /// What was being done.
        what: &'static str,
        /// The object, e.g. `container c1-cp-abc`.
        object: String,
        /// The client's error.
        source: bollard::errors::Error,
    },
    /// The engine answered with an error.
    #[error("the Docker engine at {host} refused to {what} {object}{}: {message} (HTTP {status})",
        option.as_ref().map(|o| format!(" (refused: {o})")).unwrap_or_default())]
    Refused {
        /// The engine's address.
        host: String,
        /// What was being done.
        what: &'static str,
        /// The object.
        object: String,
        /// The capability or option the message shows was refused, when it shows one.
        option: Option<String>,
        /// The engine's HTTP status.
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// A command run in a container failed.
    #[error("{what} in container {container} exited with status {code}: {output}")]
    CommandFailed {
        /// The container.
        container: String,
        /// The command (`runcmd[0]`, `write_files /etc/x`...).
        what: String,
        /// Its exit status (-1: unknown).
        code: i64,
        /// The tail of its output.
        output: String,
    },
    /// A command run in a container did not end in time.
    #[error("{what} in container {container} did not end within {}s", EXEC_TIMEOUT.as_secs())]
    CommandTimeout {
        /// The container.
        container: String,
        /// The command.
        what: String,
    },
    /// The engine answered with something the provider cannot use.
    #[error("the Docker engine at {host}: {object}: {message}")]
    Unexpected {
        /// The engine's address.
        host: String,
        /// The object.
        object: String,
        /// What is wrong with the answer.
        message: String,
    },
    /// The engine's address is not one this client takes.
    #[error("unsupported Docker engine address {0:?} (unix:///path or tcp://host:port)")]
    Address(String),
    /// The client cannot be set up for the address (no socket at the path).
    #[error("the Docker engine at {host} cannot be reached: {message}")]
    Connect {
        /// The engine's address.
        host: String,
        /// The client's reason.
        message: String,
    },
}

impl EngineError {
    /// Whether the engine answered that the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Refused { status: 404, .. })
    }
}

/// The capability or option an engine's refusal names, if its message shows one.
pub fn refused_option(message: &str, privileged: bool) -> Option<String> {
    if let Some(start) = message.find("CAP_") {
        let cap: String = message[start..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        return Some(format!("capability {cap}"));
    }
    let lower = message.to_ascii_lowercase();
    if lower.contains("privileged") || (privileged && lower.contains("operation not permitted")) {
        return Some("--privileged (use --cap-add ALL --cap-drop SYS_RESOURCE instead)".into());
    }
    if lower.contains("seccomp") {
        return Some("--security-opt seccomp=unconfined".into());
    }
    if lower.contains("apparmor") {
        return Some("--security-opt apparmor".into());
    }
    None
}

/// What a container looks like to the controllers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Its name.
    pub name: String,
    /// Its image as asked for at creation.
    pub image: String,
    /// Running now.
    pub running: bool,
    /// Its labels.
    pub labels: HashMap<String, String>,
    /// Its address on each network, by network name.
    pub addresses: HashMap<String, String>,
}

/// A cluster network's IPv4 plan: the engine chose the subnet, the provider gave it back
/// as the network's configured subnet with the upper half as the range containers get
/// addresses from, so the lower half holds fixed addresses that stay across engine restarts
/// (the engine hands out the others again in whatever order containers start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkAddresses {
    /// The subnet.
    pub subnet: Ipv4Net,
    /// The gateway (the engine's side of the bridge).
    pub gateway: Ipv4Addr,
    /// Where containers without a fixed address get theirs; `None` when the subnet is too
    /// small to split (or the network was made by someone else).
    pub dynamic: Option<Ipv4Net>,
}

impl NetworkAddresses {
    /// The plan for `subnet` and `gateway`: containers from the upper half.
    pub fn plan(subnet: Ipv4Net, gateway: Ipv4Addr) -> Self {
        let subnet = subnet.trunc();
        let dynamic = (subnet.prefix_len() <= 28)
            .then(|| subnet.subnets(subnet.prefix_len() + 1).ok()?.nth(1))
            .flatten();
        Self {
            subnet,
            gateway,
            dynamic,
        }
    }

    /// The fixed address of the load balancer: the first host address that is not the
    /// gateway, outside the dynamic range; `None` without one.
    pub fn load_balancer(&self) -> Option<Ipv4Addr> {
        let dynamic = self.dynamic?;
        self.subnet
            .hosts()
            .find(|ip| *ip != self.gateway && !dynamic.contains(ip))
    }
}

/// What to create a container with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Name, and hostname.
    pub name: String,
    /// Image.
    pub image: String,
    /// Labels.
    pub labels: HashMap<String, String>,
    /// The network it joins.
    pub network: String,
    /// Its fixed address there (`None`: one the engine chooses).
    pub ip: Option<Ipv4Addr>,
    /// `volume:path` or `host-path:path[:ro]` binds.
    pub binds: Vec<String>,
    /// Paths mounted as tmpfs.
    pub tmpfs: Vec<String>,
    /// Security settings.
    pub security: Security,
    /// The command, instead of the image's.
    pub cmd: Option<Vec<String>>,
}

/// How a node container is confined: [`Security::default`] is kind's `--privileged` without
/// it, for engines that refuse it: every capability but `SYS_RESOURCE`, no seccomp filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Security {
    /// `--privileged` (refused by engines without `CAP_SYS_RESOURCE`).
    pub privileged: bool,
    /// Capabilities added.
    pub cap_add: Vec<String>,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
    /// `--security-opt` values.
    pub security_opt: Vec<String>,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            privileged: false,
            cap_add: vec!["ALL".into()],
            cap_drop: vec!["SYS_RESOURCE".into()],
            security_opt: vec!["seccomp=unconfined".into()],
        }
    }
}

/// A Docker engine.
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
    host: String,
}

fn filter(key: &str, values: &[&str]) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        key.to_string(),
        values.iter().map(|v| v.to_string()).collect(),
    )])
}

impl Engine {
    /// The engine at `host`: `unix:///path/docker.sock` or `tcp://host:port`. Nothing is
    /// sent until the first request.
    pub fn connect(host: &str) -> Result<Self, EngineError> {
        let api = bollard::API_DEFAULT_VERSION;
        let docker = if let Some(path) = host.strip_prefix("unix://") {
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_S, api)
        } else if host.starts_with("tcp://") || host.starts_with("http://") {
            Docker::connect_with_http(host, REQUEST_TIMEOUT_S, api)
        } else {
            return Err(EngineError::Address(host.to_string()));
        }
        .map_err(|e| EngineError::Connect {
            host: host.to_string(),
            message: e.to_string(),
        })?;
        Ok(Self {
            docker,
            host: host.to_string(),
        })
    }

    /// The engine's address.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn err(
        &self,
        what: &'static str,
        object: String,
        privileged: bool,
    ) -> impl FnOnce(bollard::errors::Error) -> EngineError + '_ {
        move |source| match source {
            bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            } => EngineError::Refused {
                host: self.host.clone(),
                what,
                object,
                option: if status_code == 404 {
                    None
                } else {
                    refused_option(&message, privileged)
                },
                status: status_code,
                message,
            },
            source => EngineError::Unreachable {
                host: self.host.clone(),
                what,
                object,
                source,
            },
        }
    }

    /// Whether the engine answers.
    pub async fn ping(&self) -> Result<(), EngineError> {
        self.docker
            .ping()
            .await
            .map(|_| ())
            .map_err(self.err("ping", "the engine".into(), false))
    }

    /// Whether the engine has `image`.
    pub async fn has_image(&self, image: &str) -> Result<bool, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = self.err("inspect", format!("image {image}"), false)(e);
                if e.is_not_found() { Ok(false) } else { Err(e) }
            }
        }
    }

    /// The IPv4 plan of the network `name`, if it exists.
    async fn network_addresses(&self, name: &str) -> Result<Option<NetworkAddresses>, EngineError> {
        let found = self
            .docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filter("name", &[name]))
                    .build(),
            ))
            .await
            .map_err(self.err("list", format!("network {name}"), false))?;
        let Some(net) = found.into_iter().find(|n| n.name.as_deref() == Some(name)) else {
            return Ok(None);
        };
        let configs = net.ipam.and_then(|i| i.config).unwrap_or_default();
        let v4 = configs.iter().find_map(|c| {
            let subnet: Ipv4Net = c.subnet.as_deref()?.parse().ok()?;
            let gateway: Ipv4Addr = c.gateway.as_deref()?.parse().ok()?;
            let dynamic = c.ip_range.as_deref().and_then(|r| r.parse().ok());
            Some(NetworkAddresses {
                subnet,
                gateway,
                dynamic,
            })
        });
        v4.map(Some).ok_or_else(|| EngineError::Unexpected {
            host: self.host.clone(),
            object: format!("network {name}"),
            message: "it has no IPv4 subnet and gateway".into(),
        })
    }

    async fn create_network(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
        ipam: Option<&NetworkAddresses>,
    ) -> Result<(), EngineError> {
        let req = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(labels.clone()),
            ipam: ipam.map(|a| Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(a.subnet.to_string()),
                    gateway: Some(a.gateway.to_string()),
                    ip_range: a.dynamic.map(|r| r.to_string()),
                    ..IpamConfig::default()
                }]),
                ..Ipam::default()
            }),
            ..NetworkCreateRequest::default()
        };
        self.docker
            .create_network(req)
            .await
            .map(|_| ())
            .map_err(self.err("create", format!("network {name}"), false))
    }

    /// The bridge network `name` with `labels`, created unless it exists, and its IPv4 plan
    /// ([`NetworkAddresses`]). A new network is made twice: once for the engine to choose
    /// a free subnet, then again with that subnet configured and split.
    pub async fn ensure_network(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<NetworkAddresses, EngineError> {
        if let Some(a) = self.network_addresses(name).await? {
            return Ok(a);
        }
        self.create_network(name, labels, None).await?;
        let chosen = self.network_addresses(name).await?;
        self.remove_network(name).await?;
        let plan = chosen.map(|a| NetworkAddresses::plan(a.subnet, a.gateway));
        self.create_network(name, labels, plan.as_ref()).await?;
        match self.network_addresses(name).await? {
            Some(a) => Ok(a),
            None => Err(EngineError::Unexpected {
                host: self.host.clone(),
                object: format!("network {name}"),
                message: "it is gone right after it was created".into(),
            }),
        }
    }

    /// Removes the network `name`; a missing one is fine.
    pub async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = self.err("remove", format!("network {name}"), false)(e);
                if e.is_not_found() { Ok(()) } else { Err(e) }
            }
        }
    }

    /// Creates the volume `name` with `labels` (creating an existing one is a no-op).
    pub async fn ensure_volume(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<(), EngineError> {
        let req = VolumeCreateRequest {
            name: Some(name.to_string()),
            labels: Some(labels.clone()),
            ..VolumeCreateRequest::default()
        };
        self.docker
            .create_volume(req)
            .await
            .map(|_| ())
            .map_err(self.err("create", format!("volume {name}"), false))
    }

    /// Removes the volume `name`; a missing one is fine.
    pub async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        let opts = RemoveVolumeOptionsBuilder::default().force(true).build();
        match self.docker.remove_volume(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = self.err("remove", format!("volume {name}"), false)(e);
                if e.is_not_found() { Ok(()) } else { Err(e) }
            }
        }
    }

    /// The container `name`, if it exists.
    pub async fn container(&self, name: &str) -> Result<Option<ContainerInfo>, EngineError> {
        let c = match self
            .docker
            .inspect_container(name, None::<InspectContainerOptions>)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                let e = self.err("inspect", format!("container {name}"), false)(e);
                return if e.is_not_found() { Ok(None) } else { Err(e) };
            }
        };
        let config = c.config.unwrap_or_default();
        let addresses = c
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(net, e)| Some((net, e.ip_address.filter(|ip| !ip.is_empty())?)))
            .collect();
        Ok(Some(ContainerInfo {
            name: name.to_string(),
            image: config.image.unwrap_or_default(),
            running: c.state.and_then(|s| s.running).unwrap_or(false),
            labels: config.labels.unwrap_or_default(),
            addresses,
        }))
    }

    /// Creates the container of `spec` (not started); an existing one of that name is left
    /// as it is.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<(), EngineError> {
        let sec = &spec.security;
        let host_config = HostConfig {
            network_mode: Some(spec.network.clone()),
            binds: Some(spec.binds.clone()),
            tmpfs: Some(
                spec.tmpfs
                    .iter()
                    .map(|p| (p.clone(), String::new()))
                    .collect(),
            ),
            privileged: Some(sec.privileged),
            cap_add: (!sec.cap_add.is_empty()).then(|| sec.cap_add.clone()),
            cap_drop: (!sec.cap_drop.is_empty()).then(|| sec.cap_drop.clone()),
            security_opt: (!sec.security_opt.is_empty()).then(|| sec.security_opt.clone()),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::ON_FAILURE),
                maximum_retry_count: Some(1),
            }),
            ..HostConfig::default()
        };
        let body = ContainerCreateBody {
            hostname: Some(spec.name.clone()),
            image: Some(spec.image.clone()),
            labels: Some(spec.labels.clone()),
            env: Some(vec!["container=docker".into()]),
            cmd: spec.cmd.clone(),
            host_config: Some(host_config),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    spec.network.clone(),
                    EndpointSettings {
                        ipam_config: spec.ip.map(|ip| EndpointIpamConfig {
                            ipv4_address: Some(ip.to_string()),
                            ..EndpointIpamConfig::default()
                        }),
                        ..EndpointSettings::default()
                    },
                )])),
            }),
            ..ContainerCreateBody::default()
        };
        let opts = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        match self.docker.create_container(Some(opts), body).await {
            Ok(_) => Ok(()),
            Err(e) => {
                match self.err("create", format!("container {}", spec.name), sec.privileged)(e) {
                    EngineError::Refused { status: 409, .. } => Ok(()),
                    e => Err(e),
                }
            }
        }
    }

    /// Starts the container `name` (a running one stays as it is). `privileged` says whether
    /// it asked for `--privileged`, to name it when the engine refuses.
    pub async fn start(&self, name: &str, privileged: bool) -> Result<(), EngineError> {
        match self.docker.start_container(name, None).await {
            Ok(()) => Ok(()),
            Err(e) => match self.err("start", format!("container {name}"), privileged)(e) {
                // Already running.
                EngineError::Refused { status: 304, .. } => Ok(()),
                e => Err(e),
            },
        }
    }

    /// Removes the container `name` (killed first) with its anonymous volumes; a missing one
    /// is fine.
    pub async fn remove_container(&self, name: &str) -> Result<(), EngineError> {
        let opts = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(name, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let e = self.err("remove", format!("container {name}"), false)(e);
                if e.is_not_found() { Ok(()) } else { Err(e) }
            }
        }
    }

    /// Sends `signal` (`SIGUSR2`...) to the container's main process.
    pub async fn signal(&self, name: &str, signal: &str) -> Result<(), EngineError> {
        let opts = KillContainerOptionsBuilder::default()
            .signal(signal)
            .build();
        self.docker
            .kill_container(name, Some(opts))
            .await
            .map_err(self.err("signal", format!("container {name}"), false))
    }

    /// Runs `argv` in the container; its output when it exits 0.
    pub async fn exec(
        &self,
        container: &str,
        what: &str,
        argv: &[String],
    ) -> Result<String, EngineError> {
        let object = format!("container {container}");
        let created = self
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(argv.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..CreateExecOptions::default()
                },
            )
            .await
            .map_err(self.err("exec in", object.clone(), false))?;
        let run = async {
            let mut tail = String::new();
            if let StartExecResults::Attached { mut output, .. } = self
                .docker
                .start_exec(&created.id, None)
                .await
                .map_err(self.err("exec in", object.clone(), false))?
            {
                while let Some(chunk) = output.next().await {
                    let chunk = chunk.map_err(self.err("exec in", object.clone(), false))?;
                    tail.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                    if tail.len() > 2 * OUTPUT_TAIL {
                        let cut = tail.len() - OUTPUT_TAIL;
                        let cut = (cut..tail.len())
                            .find(|i| tail.is_char_boundary(*i))
                            .unwrap_or(tail.len());
                        tail.drain(..cut);
                    }
                }
            }
            Ok::<String, EngineError>(tail)
        };
        let output = tokio::time::timeout(EXEC_TIMEOUT, run)
            .await
            .map_err(|_| EngineError::CommandTimeout {
                container: container.to_string(),
                what: what.to_string(),
            })??;
        let code = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(self.err("inspect an exec in", object, false))?
            .exit_code
            .unwrap_or(-1);
        if code != 0 {
            let start = output.len().saturating_sub(OUTPUT_TAIL);
            let start = (start..output.len())
                .find(|i| output.is_char_boundary(*i))
                .unwrap_or(output.len());
            return Err(EngineError::CommandFailed {
                container: container.to_string(),
                what: what.to_string(),
                code,
                output: output[start..].trim().to_string(),
            });
        }
        Ok(output)
    }

    /// Names of the containers (running or not) with label `key=value`.
    pub async fn containers_labelled(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<String>, EngineError> {
        let label = format!("{key}={value}");
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filter("label", &[&label]))
            .build();
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(self.err("list", format!("containers {label}"), false))?;
        Ok(list
            .into_iter()
            .flat_map(|c| c.names.unwrap_or_default())
            .map(|n| n.trim_start_matches('/').to_string())
            .collect())
    }

    /// Names of the networks with label `key=value`.
    pub async fn networks_labelled(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<String>, EngineError> {
        let label = format!("{key}={value}");
        let opts = ListNetworksOptionsBuilder::default()
            .filters(&filter("label", &[&label]))
            .build();
        let list = self
            .docker
            .list_networks(Some(opts))
            .await
            .map_err(self.err("list", format!("networks {label}"), false))?;
        Ok(list.into_iter().filter_map(|n| n.name).collect())
    }

    /// Names of the volumes with label `key=value`.
    pub async fn volumes_labelled(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<String>, EngineError> {
        let label = format!("{key}={value}");
        let opts = ListVolumesOptionsBuilder::default()
            .filters(&filter("label", &[&label]))
            .build();
        let list = self
            .docker
            .list_volumes(Some(opts))
            .await
            .map_err(self.err("list", format!("volumes {label}"), false))?;
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_keep_their_lower_half_for_fixed_addresses() {
        let a = NetworkAddresses::plan(
            "172.18.0.0/16".parse().expect("net"),
            Ipv4Addr::new(172, 18, 0, 1),
        );
        assert_eq!(a.dynamic, Some("172.18.128.0/17".parse().expect("net")));
        assert_eq!(a.load_balancer(), Some(Ipv4Addr::new(172, 18, 0, 2)));
        let tiny = NetworkAddresses::plan(
            "10.0.0.0/30".parse().expect("net"),
            Ipv4Addr::new(10, 0, 0, 1),
        );
        assert_eq!((tiny.dynamic, tiny.load_balancer()), (None, None));
    }

    #[test]
    fn refusals_name_the_capability_or_option() {
        assert_eq!(
            refused_option("failed to create shim: OCI runtime create failed: unable to apply caps: CAP_SYS_RESOURCE: operation not permitted", true).as_deref(),
            Some("capability CAP_SYS_RESOURCE")
        );
        assert!(
            refused_option("error during container init: operation not permitted", true)
                .is_some_and(|o| o.starts_with("--privileged"))
        );
        assert_eq!(
            refused_option(
                "error during container init: operation not permitted",
                false
            ),
            None
        );
        assert!(refused_option("seccomp is not enabled in your kernel", false).is_some());
        assert!(matches!(
            Engine::connect("ssh://x"),
            Err(EngineError::Address(_))
        ));
        let missing = Engine::connect("unix:///nonexistent/ib/docker.sock")
            .map(|_| ())
            .expect_err("no socket");
        let text = missing.to_string();
        assert!(
            text.contains(
                "the Docker engine at unix:///nonexistent/ib/docker.sock cannot be reached"
            ),
            "{text}"
        );
    }
}
