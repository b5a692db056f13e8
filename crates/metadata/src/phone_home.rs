//! The phone-home: an installed OS reports in after its first boot, and the machine's
//! `v1 Node` records it as Ready.
//!
//! The client is cloud-init's `phone_home` module (the `plain` node bootstrapper turns it
//! on): a `POST` to `/phone-home` (or `/phone-home/<instance-id>`, cloud-init's
//! `$INSTANCE_ID` in the URL) whose body is an `application/x-www-form-urlencoded` form
//! with `instance_id`, `hostname`, `fqdn` and, when asked for, the SSH host keys
//! (`pub_key_rsa`, ...); a value cloud-init could not read is sent as `N/A`.
//!
//! The caller is identified by its source address exactly as for metadata reads
//! (`crate::http`): an unknown address is refused (404), and so is a form or path whose
//! `instance_id` is not that Hardware's `spec.metadata.instance.id` (403), so a machine can
//! only ever report for itself. Bodies are bounded ([`MAX_BODY_BYTES`], 413 above) and
//! each source address may post [`RATE_BURST`] times at once and then once every
//! [`RATE_INTERVAL`] (429 above), through `ironbell_limits::RateLimiter`.
//!
//! The Node ([`node_for`]) is cluster-scoped (empty namespace) and named after the
//! Hardware; `spec.providerID` is `tinkerbell://<namespace>/<name>` as CAPT sets it on the
//! machine, `Ready` is `True` with the report's time as heartbeat (the transition time
//! moves only when Ready was not already `True`), and the addresses are the source address
//! (`InternalIP`) and the reported hostname (`Hostname`). A Node of that name whose
//! providerID is another Hardware's (one of the same name in another namespace) is not
//! overwritten (409).

use std::net::IpAddr;
use std::time::Duration;

use ironbell_model::Timestamp;
use ironbell_model::corev1::{Node, NodeAddress, NodeCondition, NodeStatus};
use ironbell_model::tinkerbell::Hardware;

/// Largest phone-home body accepted: the form with all four SSH host keys is well under
/// 4 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Phone-homes one source address may send at once.
pub const RATE_BURST: u32 = 5;
/// Then one per this interval (cloud-init posts once per instance, retrying 3 s apart on
/// failure).
pub const RATE_INTERVAL: Duration = Duration::from_secs(2);
/// Source addresses whose rate is tracked at once (beyond that they share one bucket).
pub const RATE_MAX_KEYS: usize = 4096;
/// Longest accepted value of a form field (a hostname or FQDN is at most 253
/// characters; host keys are a few hundred).
pub const MAX_FIELD_BYTES: usize = 4096;
/// The value cloud-init sends for a field it could not read.
pub const NOT_AVAILABLE: &str = "N/A";
/// The `reason` of the Ready condition the phone-home sets.
pub const READY_REASON: &str = "PhonedHome";

/// What a phone-home said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// `instance_id`.
    pub instance_id: String,
    /// `hostname`, when sent and not `N/A`.
    pub hostname: Option<String>,
    /// `fqdn`, when sent and not `N/A`.
    pub fqdn: Option<String>,
}

/// A phone-home form that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// No usable `instance_id`.
    #[error("the form has no instance_id")]
    NoInstanceId,
    /// A field is too long or holds control characters.
    #[error("form field {field} is invalid: {reason}")]
    BadField {
        /// The field's name (a known one, or `other`).
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl Report {
    /// Reads a urlencoded form. Unknown fields (the SSH host keys) are checked for size
    /// and ignored.
    pub fn parse(body: &[u8]) -> Result<Self, ReportError> {
        let mut report = Report::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            let field = match key.as_ref() {
                "instance_id" => "instance_id",
                "hostname" => "hostname",
                "fqdn" => "fqdn",
                _ => "other",
            };
            if value.len() > MAX_FIELD_BYTES {
                return Err(ReportError::BadField {
                    field,
                    reason: "too long",
                });
            }
            if field != "other" && value.chars().any(char::is_control) {
                return Err(ReportError::BadField {
                    field,
                    reason: "control characters",
                });
            }
            let value = value.trim();
            let known = (!value.is_empty() && value != NOT_AVAILABLE).then(|| value.to_string());
            match field {
                "instance_id" => report.instance_id = known.unwrap_or_default(),
                "hostname" => report.hostname = known,
                "fqdn" => report.fqdn = known,
                _ => {}
            }
        }
        if report.instance_id.is_empty() {
            return Err(ReportError::NoInstanceId);
        }
        Ok(report)
    }
}

/// `tinkerbell://<namespace>/<name>`: the provider id CAPT gives the machine of `hw`.
pub fn provider_id(hw: &Hardware) -> String {
    provider_id_of(hw.metadata.namespace(), hw.metadata.name())
}

/// [`provider_id`] of the Hardware `namespace/name`.
pub fn provider_id_of(namespace: &str, name: &str) -> String {
    format!("tinkerbell://{namespace}/{name}")
}

/// The Node of `hw` after a phone-home from `client` at `now`, from the current one
/// (`None`: a new Node).
pub fn node_for(
    current: Option<Node>,
    hw: &Hardware,
    client: IpAddr,
    report: &Report,
    now: Timestamp,
) -> Node {
    ready_node(
        current,
        hw.metadata.name(),
        provider_id(hw),
        client,
        report,
        now,
    )
}

/// The Node `name` with `provider_id` after a phone-home from `client` at `now`, from the
/// current one (`None`: a new Node): what [`node_for`] writes for a Hardware, for any
/// provider's machine (the Docker provider's node containers phone home too).
pub fn ready_node(
    current: Option<Node>,
    name: &str,
    provider_id: String,
    client: IpAddr,
    report: &Report,
    now: Timestamp,
) -> Node {
    let mut node = current.unwrap_or_else(|| {
        let mut n = Node::default();
        n.metadata.name = Some(name.to_string());
        n
    });
    node.spec.provider_id = Some(provider_id);
    let status = node.status.get_or_insert_with(NodeStatus::default);
    let was_ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time);
    status.conditions.retain(|c| c.type_ != "Ready");
    status.conditions.push(NodeCondition {
        type_: "Ready".into(),
        status: "True".into(),
        last_heartbeat_time: Some(now),
        last_transition_time: Some(was_ready.unwrap_or(now)),
        reason: Some(READY_REASON.into()),
        message: Some(format!(
            "the installed OS reported in (instance {})",
            report.instance_id
        )),
    });
    status.addresses = std::iter::once(NodeAddress {
        type_: "InternalIP".into(),
        address: client.to_string(),
    })
    .chain(report.hostname.iter().map(|h| NodeAddress {
        type_: "Hostname".into(),
        address: h.clone(),
    }))
    .collect();
    node
}

/// A phone-home's Node could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A Node of that name belongs to another machine.
    #[error("node {name} belongs to {other}, not {want}")]
    Conflict {
        /// The Node's name.
        name: String,
        /// Its provider id.
        other: String,
        /// The caller's provider id.
        want: String,
    },
    /// The Node changed under every attempt.
    #[error("node {name} keeps changing; try again")]
    Busy {
        /// The Node's name.
        name: String,
    },
    /// The store failed.
    #[error("recording node {name}: {source}")]
    Store {
        /// The Node's name.
        name: String,
        /// The store's error.
        source: ironbell_store::StoreError,
    },
}

/// Creates or updates the cluster-scoped Node `name` after a phone-home from `client`
/// ([`ready_node`]); a Node of that name with another provider id is left alone.
pub async fn record_ready_node(
    store: &ironbell_store::SharedStore,
    name: &str,
    provider_id: &str,
    client: IpAddr,
    report: &Report,
) -> Result<Node, RecordError> {
    let api = ironbell_store::api::<Node>(store);
    let failed = |source| RecordError::Store {
        name: name.to_string(),
        source,
    };
    let now = ironbell_model::values::now();
    // Twice at most: a create that finds the Node made meanwhile updates it instead.
    for _ in 0..2 {
        let current = match api.get("", name).await {
            Ok(node) => Some(node),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(failed(e)),
        };
        if let Some(other) = current
            .as_ref()
            .and_then(|n| n.spec.provider_id.as_deref())
            .filter(|p| *p != provider_id)
        {
            return Err(RecordError::Conflict {
                name: name.to_string(),
                other: other.to_string(),
                want: provider_id.to_string(),
            });
        }
        let Some(current) = current else {
            let node = ready_node(None, name, provider_id.to_string(), client, report, now);
            match api.create(&node).await {
                Ok(created) => return Ok(created),
                Err(ironbell_store::StoreError::AlreadyExists { .. }) => continue,
                Err(e) => return Err(failed(e)),
            }
        };
        if current.spec.provider_id.is_none() {
            api.modify("", name, |n| {
                n.spec.provider_id = Some(provider_id.to_string())
            })
            .await
            .map_err(failed)?;
        }
        return api
            .modify_status("", name, |n| {
                *n = ready_node(
                    Some(n.clone()),
                    name,
                    provider_id.to_string(),
                    client,
                    report,
                    now,
                );
            })
            .await
            .map_err(failed);
    }
    Err(RecordError::Busy {
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hw() -> Hardware {
        let mut hw = Hardware::default();
        hw.metadata.name = Some("worker-1".into());
        hw.metadata.namespace = Some("eksa-system".into());
        hw
    }

    #[test]
    fn cloud_init_form_is_read_and_na_values_dropped() {
        let body =
            b"pub_key_rsa=ssh-rsa+AAAA%3D%3D+root%40w1%0A&instance_id=i-1&hostname=w1&fqdn=N%2FA";
        let r = Report::parse(body).expect("form");
        assert_eq!(
            r,
            Report {
                instance_id: "i-1".into(),
                hostname: Some("w1".into()),
                fqdn: None,
            }
        );
    }

    #[test]
    fn unusable_forms_are_refused() {
        assert_eq!(
            Report::parse(b"hostname=w1"),
            Err(ReportError::NoInstanceId)
        );
        assert_eq!(
            Report::parse(b"instance_id=N%2FA"),
            Err(ReportError::NoInstanceId)
        );
        assert!(matches!(
            Report::parse(b"instance_id=i-1&hostname=a%0Ab"),
            Err(ReportError::BadField {
                field: "hostname",
                ..
            })
        ));
        let long = format!("instance_id=i-1&pub_key_rsa={}", "A".repeat(5000));
        assert!(matches!(
            Report::parse(long.as_bytes()),
            Err(ReportError::BadField { field: "other", .. })
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Bounded: a few thousand random bodies, short and long, through the parser.
        for i in 0..4000_usize {
            let len = (i * 7) % 600;
            let mut body = vec![0u8; len];
            rand::fill(&mut body[..]);
            if i % 2 == 0 {
                body.splice(0..0, b"instance_id=i-1&hostname=".iter().copied());
            }
            let _ = Report::parse(&body);
        }
    }

    #[test]
    fn node_is_ready_with_provider_id_and_keeps_its_transition_time() {
        let report = Report {
            instance_id: "i-1".into(),
            hostname: Some("w1".into()),
            fqdn: None,
        };
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        let t1: Timestamp = "2026-01-01T00:05:00Z".parse().expect("time");
        let ip: IpAddr = "10.0.0.5".parse().expect("ip");
        let first = node_for(None, &hw(), ip, &report, t0);
        assert_eq!(first.metadata.name(), "worker-1");
        assert_eq!(first.metadata.namespace(), "");
        assert_eq!(
            first.spec.provider_id.as_deref(),
            Some("tinkerbell://eksa-system/worker-1")
        );
        assert!(first.is_ready());
        let again = node_for(Some(first), &hw(), ip, &report, t1);
        let status = again.status.as_ref().expect("status");
        assert_eq!(status.conditions.len(), 1);
        assert_eq!(status.conditions[0].last_heartbeat_time, Some(t1));
        assert_eq!(status.conditions[0].last_transition_time, Some(t0));
        let addrs: Vec<_> = status
            .addresses
            .iter()
            .map(|a| (a.type_.as_str(), a.address.as_str()))
            .collect();
        assert_eq!(addrs, [("InternalIP", "10.0.0.5"), ("Hostname", "w1")]);
    }
}
