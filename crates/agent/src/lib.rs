//! # ironbell-agent
//!
//! The agent that runs on the machine being provisioned (inside HookOS): it asks
//! ironbell's workflow service for actions over gRPC (`proto.WorkflowService`, wire-
//! compatible with Tinkerbell's), executes them and reports their state. It replaces
//! Tinkerbell's tink-worker/tink-agent and, for the standard action images, the action
//! containers themselves: `image2disk`, `oci2disk`, `writefile`, `cexec`, `kexec` and
//! `reboot` run natively, configured by the same environment variables; any other image
//! runs as a container through a Docker engine when one is present.
//!
//! What it is not: the workflow service (that is `ironbell-workflow`), a container
//! runtime, or a general init system.
//!
//! Start reading at [`agent`] (the loop), then [`actions`] (dispatch by image name).
//!
//! ## Settings
//!
//! Read from the kernel command line (`/proc/cmdline`, `key=value`, as Smee's iPXE script
//! writes it; tokens after `--` are ignored) and the environment; **the environment wins**.
//! The environment name is the key in upper case; aliases are Tinkerbell's agent's names.
//!
//! | key | environment | default | meaning |
//! |---|---|---|---|
//! | `grpc_authority` | `GRPC_AUTHORITY`, `TINKERBELL_GRPC_AUTHORITY` | required | workflow service `host[:port]`, port 42113; several replicas comma-separated (`A:42113,B:42113`): the agent sticks with the one that answers and moves to the next when it cannot serve |
//! | `worker_id` | `WORKER_ID`, `ID` | first non-loopback MAC | the agent id in GetAction |
//! | `tinkerbell_tls` | `TINKERBELL_TLS` | `false` | TLS to the workflow service |
//! | `tinkerbell_insecure_tls` | `TINKERBELL_INSECURE_TLS` | `false` | accept any server certificate |
//! | `syslog_host` | `SYSLOG_HOST` | none | also log to `host[:514]`, UDP, RFC 5424 |
//! | `docker_registry` | `DOCKER_REGISTRY`, `REGISTRY_NAME` | none | registry the credentials below are for |
//! | `registry_username` | `REGISTRY_USERNAME`, `REGISTRY_USER` | none | its user |
//! | `registry_password` | `REGISTRY_PASSWORD`, `REGISTRY_PASS` | none | its password |
//! | `docker_host` | `DOCKER_HOST` | none | Docker engine, `unix://…` or `tcp://…` |
//! | `docker_socket` | `DOCKER_SOCKET` | `/var/run/docker.sock` | Docker engine socket |
//! | `docker_privileged` | `DOCKER_PRIVILEGED` | `true` | container actions privileged (as Tinkerbell) |
//! | `docker_cap_drop` | `DOCKER_CAP_DROP` | none | capabilities to drop, comma-separated |
//! | `backoff_max_interval` | `BACKOFF_MAX_INTERVAL` | `10s` | cap of the retry backoff |
//! | `power_dry_run` | `POWER_DRY_RUN` | `false` | log reboot/kexec instead of doing them |
//! | `ironbell_token` | `IRONBELL_TOKEN` | none | the Workflow's agent token, sent as `authorization: Bearer`; ironbell's boot service puts it on the kernel command line (`--agent-auth token`) |
//!
//! `IRONBELL_CMDLINE` names a file to read instead of `/proc/cmdline`; `RUST_LOG` sets the
//! log filter (default `info`).
//!
//! ## Usage
//!
//! `ironbell-agent` runs the loop. `ironbell-agent action NAME` runs one built-in action
//! once with the process environment as the action's environment (e.g.
//! `IMG_URL=… DEST_DISK=/dev/sda COMPRESSED=true ironbell-agent action image2disk`), for
//! debugging and benchmarks.

pub mod actions;
pub mod agent;
pub mod attributes;
pub mod config;
pub mod power;
mod sys;
pub mod syslog;
pub mod tls;

/// The innermost cause of an error, which is what a person needs in a report.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let s = inner.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = inner.source();
    }
    out
}

/// The HTTP client image2disk and oci2disk use (rustls/ring; `insecure` accepts any
/// certificate). No overall timeout (images are large); connecting and each read are
/// bounded.
pub fn http_client(insecure: bool) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .read_timeout(std::time::Duration::from_secs(120))
        .tls_backend_preconfigured(tls::client_config(insecure, &[b"http/1.1"])?)
        .user_agent(concat!("ironbell-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| error_chain(&e))
}
