//! The core `v1` [`Event`], as Kubernetes stores it: something a service did or saw for one
//! object (its `involvedObject`), with a `reason`, a `message`, a `type` (`Normal` or
//! `Warning`), and a `count` of how often it happened between `firstTimestamp` and
//! `lastTimestamp`. Events are namespaced, in their involved object's namespace.
//!
//! ironbell's services write them through the recorder in `ironbell-store` (`events`),
//! which aggregates repeats and bounds how many one object keeps; this module is only the
//! data. The newer `events.k8s.io` fields (`eventTime`, `series`, `reportingComponent`...)
//! are accepted so that an Event written by Kubernetes reads, but ironbell does not set
//! them.

use serde::{Deserialize, Serialize};

use crate::{ApiVersion, Kind, ObjectMeta, Resource, Timestamp};

/// `type` of an [`Event`] that reports normal progress.
pub const NORMAL: &str = "Normal";
/// `type` of an [`Event`] that reports a problem an operator may need to act on.
pub const WARNING: &str = "Warning";

/// An Event: one thing that happened to one object, possibly several times.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Event {
    /// `apiVersion`: always `v1`.
    #[serde(default)]
    pub api_version: ApiVersion<Event>,
    /// `kind`: always `Event`.
    #[serde(default)]
    pub kind: Kind<Event>,
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The object the event is about.
    #[serde(default)]
    pub involved_object: ObjectReference,
    /// Short, machine-readable reason in UpperCamelCase, e.g. `DHCPOffer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The component that reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<EventSource>,
    /// When it first happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<Timestamp>,
    /// When it last happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<Timestamp>,
    /// How many times it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    /// [`NORMAL`] or [`WARNING`].
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// `events.k8s.io`: when it was first observed, with microseconds (not set by ironbell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
    /// `events.k8s.io`: the series of repeats (not set by ironbell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<EventSeries>,
    /// What was done or failed, e.g. `Binding` (not set by ironbell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// A second object the event is about (not set by ironbell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<ObjectReference>,
    /// `events.k8s.io`: the controller that emitted it (not set by ironbell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_component: Option<String>,
    /// `events.k8s.io`: the controller instance that emitted it (not set by ironbell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_instance: Option<String>,
}

impl Resource for Event {
    const API_VERSION: &'static str = "v1";
    const KIND: &'static str = "Event";
    const PLURAL: &'static str = "events";
    const ALIASES: &'static [&'static str] = &["event", "ev"];
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl Event {
    /// Whether the event is a [`WARNING`].
    pub fn is_warning(&self) -> bool {
        self.type_.as_deref() == Some(WARNING)
    }
}

/// A reference to the object an [`Event`] is about, as Kubernetes' `ObjectReference`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectReference {
    /// `apiVersion` of the object, e.g. `tinkerbell.org/v1alpha1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `kind` of the object, e.g. `Hardware`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Its namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its uid, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Its `resourceVersion` when the event was made, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// The part of the object the event is about, e.g. `spec.containers{name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_path: Option<String>,
}

impl ObjectReference {
    /// A reference to object `namespace/name` of kind `K`.
    pub fn to<K: Resource>(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            api_version: Some(K::API_VERSION.to_string()),
            kind: Some(K::KIND.to_string()),
            namespace: Some(namespace.into()),
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// A reference to `obj`, with its uid.
    pub fn of<K: Resource>(obj: &K) -> Self {
        Self {
            uid: obj.metadata().uid.clone(),
            ..Self::to::<K>(obj.namespace(), obj.name())
        }
    }

    /// The referenced object's kind, or `""`.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or_default()
    }

    /// The referenced object's namespace, or `""`.
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or_default()
    }

    /// The referenced object's name, or `""`.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }
}

/// The component that reported an [`Event`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventSource {
    /// The component, e.g. `ironbell-boot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The host it runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// `events.k8s.io` series data of a repeated [`Event`].
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventSeries {
    /// Repeats observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    /// When the last repeat was observed (with microseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_observed_time: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubernetes_event_reads_and_writes_back() {
        let yaml = r#"
apiVersion: v1
kind: Event
metadata:
  name: wk01.17d3c
  namespace: default
involvedObject:
  apiVersion: tinkerbell.org/v1alpha1
  kind: Hardware
  name: wk01
  namespace: default
reason: DHCPOffer
message: offered 10.0.0.11
source:
  component: ironbell-boot
firstTimestamp: "2026-12-05T06:00:00Z"
lastTimestamp: "2026-12-05T06:01:00Z"
count: 3
type: Normal
"#;
        let ev: Event = serde_yaml_ng::from_str(yaml).expect("parse");
        assert_eq!(ev.involved_object.name(), "wk01");
        assert_eq!(ev.count, Some(3));
        assert!(!ev.is_warning());
        let back: Event =
            serde_yaml_ng::from_str(&serde_yaml_ng::to_string(&ev).expect("print")).expect("re");
        assert_eq!(back, ev);
        let bad = yaml.replace("count: 3", "count: 3\nbogus: 1");
        assert!(serde_yaml_ng::from_str::<Event>(&bad).is_err());
    }
}
