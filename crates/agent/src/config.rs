//! The agent's settings: read from the kernel command line (`/proc/cmdline`, `key=value`
//! tokens) and the environment; the environment wins.
//!
//! Every setting has a lower-case command-line key; its environment name is the same key
//! in upper case (`grpc_authority` ↔ `GRPC_AUTHORITY`). A few settings also accept the
//! environment names Tinkerbell's agent reads (`TINKERBELL_GRPC_AUTHORITY`, `ID`), see
//! [`Settings`] and the crate documentation for the table.

use std::path::PathBuf;
use std::time::Duration;

/// The port of the workflow service's gRPC API when `grpc_authority` names none.
pub use ironbell_workflow_proto::DEFAULT_GRPC_PORT;

/// The syslog port when `syslog_host` names none.
pub const DEFAULT_SYSLOG_PORT: u16 = 514;

/// Where the Docker engine listens unless `docker_socket` or `DOCKER_HOST` say otherwise
/// (Tinkerbell's `--docker-socket` default).
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `grpc_authority` is missing: the agent has nobody to ask.
    #[error("no grpc_authority: set it on the kernel command line or in GRPC_AUTHORITY")]
    NoAuthority,
    /// `worker_id` is missing and no network interface has a MAC address to default to.
    #[error("no worker_id and no non-loopback network interface with a MAC address")]
    NoWorkerId,
    /// A value does not parse.
    #[error("setting {key}={value:?}: {reason}")]
    Invalid {
        /// The setting's command-line key.
        key: &'static str,
        /// The value found.
        value: String,
        /// Why it is not accepted.
        reason: String,
    },
}

/// Credentials for one container registry (Tinkerbell's `docker_registry`,
/// `registry_username`, `registry_password`).
#[derive(Clone, Default)]
pub struct Registry {
    /// The registry host these credentials are for (`quay.io`, `10.0.0.1:5000`).
    pub name: String,
    /// User name.
    pub username: String,
    /// Password; never logged.
    pub password: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("name", &self.name)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The Workflow's agent token (`ironbell_token=` on the kernel command line, or
/// `IRONBELL_TOKEN`), sent as `authorization: Bearer <token>` on every call. `Debug` never
/// prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Everything the agent is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `grpc_authority`: the workflow service, `host:port` (port defaults to 42113); a
    /// comma-separated list names several replicas (`A:42113,B:42113`), which the agent
    /// tries in turn ([`crate::agent::Servers`]). Never empty.
    pub grpc_authorities: Vec<String>,
    /// `worker_id`: the agent's id in GetAction. Defaults to the first non-loopback MAC.
    pub worker_id: String,
    /// `tinkerbell_tls`: speak TLS to the workflow service.
    pub tls: bool,
    /// `tinkerbell_insecure_tls`: with TLS, accept any server certificate.
    pub insecure_tls: bool,
    /// `syslog_host`: where action output and the agent's log also go (UDP, RFC 5424),
    /// `host[:port]`.
    pub syslog_host: Option<String>,
    /// `docker_registry`, `registry_username`, `registry_password`.
    pub registry: Option<Registry>,
    /// `docker_socket`: the Docker engine's socket (`DOCKER_HOST` wins when set).
    pub docker_socket: PathBuf,
    /// `docker_host`: the environment's `DOCKER_HOST`, `unix:///path` or `tcp://host:port`.
    pub docker_host: Option<String>,
    /// `docker_privileged`: run container actions privileged (Tinkerbell does); default true.
    pub docker_privileged: bool,
    /// `docker_cap_drop`: capabilities to drop from container actions, comma-separated.
    pub docker_cap_drop: Vec<String>,
    /// `backoff_max_interval`: the cap of the exponential backoff (seconds, or `500ms`, `10s`).
    pub backoff_max: Duration,
    /// `power_dry_run`: log reboot and kexec instead of doing them (for tests).
    pub power_dry_run: bool,
    /// `ironbell_token`: the Workflow's agent token, which ironbell's boot service puts on
    /// HookOS's kernel command line (ironbell's extension; Tinkerbell has none).
    pub token: Option<Token>,
}

/// Looks a setting up: the environment (upper-case key, then any alias) first, then the
/// kernel command line.
struct Sources<'a> {
    cmdline: Vec<(String, String)>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Sources<'_> {
    fn get(&self, key: &str, aliases: &[&str]) -> Option<String> {
        let upper = key.to_ascii_uppercase();
        std::iter::once(upper.as_str())
            .chain(aliases.iter().copied())
            .find_map(|name| (self.env)(name).filter(|v| !v.is_empty()))
            .or_else(|| {
                self.cmdline
                    .iter()
                    .rev()
                    .find(|(k, v)| k == key && !v.is_empty())
                    .map(|(_, v)| v.clone())
            })
    }

    fn flag(
        &self,
        key: &'static str,
        aliases: &[&str],
        default: bool,
    ) -> Result<bool, ConfigError> {
        match self.get(key, aliases) {
            None => Ok(default),
            Some(v) => parse_bool(&v).ok_or(ConfigError::Invalid {
                key,
                value: v,
                reason: "not a boolean (true/false/1/0)".into(),
            }),
        }
    }
}

/// Go's `strconv.ParseBool`, which Tinkerbell's agent and actions use.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" | "y" | "yes" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// Splits a kernel command line into `key=value` pairs. Tokens without `=` are ignored,
/// double quotes group (`key="a b"`), and everything after a lone `--` (arguments for init)
/// is ignored.
pub fn parse_cmdline(cmdline: &str) -> Vec<(String, String)> {
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    tokens.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        tokens.push(cur);
    }
    tokens
        .into_iter()
        .take_while(|t| t != "--")
        .filter_map(|t| {
            t.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Parses `5`, `5s`, `500ms`, `2m` into a duration.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let (num, unit) = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((v, "s"), |i| v.split_at(i));
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Appends the default port to `host` unless it has one (`[v6]:port` understood).
pub fn with_default_port(host: &str, port: u16) -> String {
    let has_port = if let Some(rest) = host.strip_prefix('[') {
        rest.contains("]:")
    } else {
        host.matches(':').count() == 1
    };
    if has_port {
        host.to_string()
    } else if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The replicas `grpc_authority` names: comma-separated `host[:port]`s, the default port
/// filled in, duplicates dropped (Tinkerbell's single value is a list of one).
pub fn authorities(value: &str) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for part in value.split(',').map(str::trim) {
        if part.is_empty() || part.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::Invalid {
                key: "grpc_authority",
                value: value.to_string(),
                reason: "not a comma-separated list of host[:port]".into(),
            });
        }
        let authority = with_default_port(part, DEFAULT_GRPC_PORT);
        if !out.contains(&authority) {
            out.push(authority);
        }
    }
    Ok(out)
}

impl Settings {
    /// The replicas as `grpc_authority` names them, comma-separated (for logs).
    pub fn grpc_authority(&self) -> String {
        self.grpc_authorities.join(",")
    }

    /// Reads `/proc/cmdline` (or the file `IRONBELL_CMDLINE` names) and the process
    /// environment; `sysfs_net` is where the default `worker_id` is looked for.
    pub fn load() -> Result<Self, ConfigError> {
        let path = std::env::var("IRONBELL_CMDLINE").unwrap_or_else(|_| "/proc/cmdline".into());
        let cmdline = std::fs::read_to_string(&path).unwrap_or_default();
        let macs = crate::attributes::macs(std::path::Path::new("/sys/class/net"));
        Self::from_sources(&cmdline, &|k| std::env::var(k).ok(), &macs)
    }

    /// Builds the settings from a command line, an environment lookup and the machine's
    /// `(interface, MAC)` list (for the default `worker_id`).
    pub fn from_sources(
        cmdline: &str,
        env: &dyn Fn(&str) -> Option<String>,
        macs: &[(String, String)],
    ) -> Result<Self, ConfigError> {
        let s = Sources {
            cmdline: parse_cmdline(cmdline),
            env,
        };
        let authority = s
            .get("grpc_authority", &["TINKERBELL_GRPC_AUTHORITY"])
            .ok_or(ConfigError::NoAuthority)?;
        let worker_id = match s.get("worker_id", &["ID"]) {
            Some(id) => id,
            None => macs
                .first()
                .map(|(_, mac)| mac.clone())
                .ok_or(ConfigError::NoWorkerId)?,
        };
        let registry = s
            .get("docker_registry", &["REGISTRY_NAME"])
            .map(|name| Registry {
                name,
                username: s
                    .get("registry_username", &["REGISTRY_USER"])
                    .unwrap_or_default(),
                password: s
                    .get("registry_password", &["REGISTRY_PASS"])
                    .unwrap_or_default(),
            });
        let backoff_max = match s.get("backoff_max_interval", &[]) {
            None => Duration::from_secs(10),
            Some(v) => parse_duration(&v).ok_or(ConfigError::Invalid {
                key: "backoff_max_interval",
                value: v,
                reason: "not a duration (10, 10s, 500ms)".into(),
            })?,
        };
        Ok(Self {
            grpc_authorities: authorities(&authority)?,
            worker_id,
            tls: s.flag("tinkerbell_tls", &[], false)?,
            insecure_tls: s.flag("tinkerbell_insecure_tls", &[], false)?,
            syslog_host: s
                .get("syslog_host", &[])
                .map(|h| with_default_port(&h, DEFAULT_SYSLOG_PORT)),
            registry,
            docker_socket: s
                .get("docker_socket", &[])
                .map_or_else(|| PathBuf::from(DEFAULT_DOCKER_SOCKET), PathBuf::from),
            docker_host: s.get("docker_host", &[]),
            docker_privileged: s.flag("docker_privileged", &[], true)?,
            docker_cap_drop: s
                .get("docker_cap_drop", &[])
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            backoff_max,
            power_dry_run: s.flag("power_dry_run", &[], false)?,
            token: match s.get("ironbell_token", &[]) {
                None => None,
                Some(t)
                    if t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
                {
                    Some(Token(t))
                }
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        key: "ironbell_token",
                        value: "<redacted>".into(),
                        reason: "not a base64url token".into(),
                    });
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn cmdline_as_smee_writes_it() {
        let cmdline = "facility=onprem syslog_host=1.2.3.4 grpc_authority=1.2.3.4:42113 \
            tinkerbell_tls=false tinkerbell_insecure_tls=false worker_id=3c:ec:ef:4c:4f:54 \
            hw_addr=3c:ec:ef:4c:4f:54 modules=loop,squashfs console=tty0 -- worker_id=nope";
        let s = Settings::from_sources(cmdline, &env(&[]), &[]).expect("settings");
        assert_eq!(s.grpc_authorities, ["1.2.3.4:42113"]);
        assert_eq!(s.worker_id, "3c:ec:ef:4c:4f:54");
        assert_eq!(s.syslog_host.as_deref(), Some("1.2.3.4:514"));
        assert!(!s.tls && !s.insecure_tls);
        assert!(s.docker_privileged);
        assert_eq!(s.backoff_max, Duration::from_secs(10));
        assert_eq!(s.token, None);
    }

    #[test]
    fn the_token_comes_from_the_kernel_command_line_and_is_never_printed() {
        let s = Settings::from_sources(
            "grpc_authority=10.0.0.1 worker_id=a ironbell_token=AbC-_09 console=ttyS0",
            &env(&[]),
            &[],
        )
        .expect("settings");
        assert_eq!(s.token, Some(Token("AbC-_09".into())));
        assert!(!format!("{s:?}").contains("AbC-_09"));
        let e = Settings::from_sources(
            "grpc_authority=x worker_id=y ironbell_token=a$b",
            &env(&[]),
            &[],
        )
        .expect_err("bad token");
        assert!(!e.to_string().contains("a$b"), "{e}");
    }

    #[test]
    fn environment_wins_and_defaults_apply() {
        let s = Settings::from_sources(
            "grpc_authority=10.0.0.1 worker_id=a",
            &env(&[
                ("WORKER_ID", "b"),
                ("TINKERBELL_TLS", "true"),
                ("DOCKER_CAP_DROP", "SYS_RESOURCE, NET_ADMIN"),
                ("BACKOFF_MAX_INTERVAL", "500ms"),
            ]),
            &[],
        )
        .expect("settings");
        assert_eq!(s.grpc_authorities, ["10.0.0.1:42113"]);
        assert_eq!(s.worker_id, "b");
        assert!(s.tls);
        assert_eq!(s.docker_cap_drop, ["SYS_RESOURCE", "NET_ADMIN"]);
        assert_eq!(s.backoff_max, Duration::from_millis(500));
        let s = Settings::from_sources(
            "",
            &env(&[("TINKERBELL_GRPC_AUTHORITY", "[fd00::1]:5000")]),
            &[("eth0".into(), "52:54:00:00:00:01".into())],
        )
        .expect("settings");
        assert_eq!(s.grpc_authorities, ["[fd00::1]:5000"]);
        assert_eq!(s.worker_id, "52:54:00:00:00:01");
    }

    #[test]
    fn errors_name_the_setting() {
        assert!(matches!(
            Settings::from_sources("", &env(&[]), &[]),
            Err(ConfigError::NoAuthority)
        ));
        assert!(matches!(
            Settings::from_sources("grpc_authority=x", &env(&[]), &[]),
            Err(ConfigError::NoWorkerId)
        ));
        let e = Settings::from_sources(
            "grpc_authority=x worker_id=y tinkerbell_tls=maybe",
            &env(&[]),
            &[],
        )
        .expect_err("bad bool");
        assert!(e.to_string().contains("tinkerbell_tls"), "{e}");
    }

    #[test]
    fn several_replicas_in_one_grpc_authority() {
        let s = Settings::from_sources(
            "grpc_authority=10.0.0.1:42113,10.0.0.2,[fd00::3]:50051,10.0.0.2:42113 worker_id=a",
            &env(&[]),
            &[],
        )
        .expect("settings");
        assert_eq!(
            s.grpc_authorities,
            ["10.0.0.1:42113", "10.0.0.2:42113", "[fd00::3]:50051"]
        );
        assert_eq!(
            s.grpc_authority(),
            "10.0.0.1:42113,10.0.0.2:42113,[fd00::3]:50051"
        );
        for bad in ["a,,b", "a,", ",a"] {
            let e = Settings::from_sources(
                &format!("grpc_authority={bad} worker_id=a"),
                &env(&[]),
                &[],
            )
            .expect_err(bad);
            assert!(e.to_string().contains("grpc_authority"), "{e}");
        }
    }

    #[test]
    fn quoting_and_ports() {
        assert_eq!(
            parse_cmdline("a=1 b=\"x y\" c --"),
            [
                ("a".to_string(), "1".to_string()),
                ("b".into(), "x y".into())
            ]
        );
        assert_eq!(with_default_port("fd00::1", 1), "[fd00::1]:1");
        assert_eq!(with_default_port("host", 1), "host:1");
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("x"), None);
    }
}
