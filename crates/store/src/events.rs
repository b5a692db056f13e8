//! [`Recorder`]: how a service records [`Event`]s about the objects it works on, without
//! ever waiting for the store or failing because of it.
//!
//! A service calls [`Recorder::normal`] or [`Recorder::warning`] from any thread (the DHCP
//! loop runs on a blocking thread of its own); the call puts the record on a bounded
//! channel and returns at once. A full channel drops the record and counts it. One task
//! per recorder writes the records in order:
//!
//! - **aggregation**: an Event is named after its involved object and a hash of its kind,
//!   type, reason and message, so the same thing happening again finds the same Event and
//!   raises its `count` and `lastTimestamp` (as Kubernetes' event correlator does), even
//!   after a restart;
//! - **a bound per object**: every Event carries the label [`INVOLVED_LABEL`] (a hash of
//!   the involved object's kind, namespace and name, always a valid label value), and when
//!   a new Event takes an object past [`MAX_EVENTS_PER_OBJECT`], the ones seen least
//!   recently are deleted;
//! - **never failing the service**: a write that fails is counted and logged at debug
//!   level (a few lines per second at most), and the next record is written as usual.
//!
//! The hash is FNV-1a, written out here (a dozen lines) because the names must stay the
//! same across releases and platforms, which `std`'s `DefaultHasher` does not promise.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ironbell_model::corev1::event::{self, Event, EventSource, ObjectReference};
use ironbell_model::selector::Selector;
use ironbell_model::{ObjectMeta, Resource};
use tokio::sync::{mpsc, oneshot};

use crate::{Api, ListParams, SharedStore, StoreError};

/// The most Events one involved object keeps; a new one past it drops the least recent.
pub const MAX_EVENTS_PER_OBJECT: usize = 50;

/// Records waiting to be written, at most; more are dropped (and counted).
pub const QUEUE: usize = 1024;

/// Label on every Event a [`Recorder`] writes: [`involved_key`] of its involved object,
/// so that one object's Events are listed with a label selector.
pub const INVOLVED_LABEL: &str = "events.ironbell.io/involved";

/// Longest message kept; longer ones are cut (on a character boundary) with a marker.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// Debug lines per second about dropped or failed records.
static FAILURE_LOG: ironbell_limits::LogLimiter = ironbell_limits::LogLimiter::per_second(2);

/// What a [`Recorder`] did so far.
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Records accepted onto the queue.
    pub queued: AtomicU64,
    /// Records dropped because the queue was full (or the writer had stopped).
    pub dropped: AtomicU64,
    /// Events created or updated.
    pub written: AtomicU64,
    /// Writes that failed (the store refused or was unreachable).
    pub failed: AtomicU64,
    /// Events deleted to keep an object within [`MAX_EVENTS_PER_OBJECT`].
    pub trimmed: AtomicU64,
}

/// One thing to record.
#[derive(Debug)]
struct Record {
    involved: ObjectReference,
    type_: &'static str,
    reason: String,
    message: String,
    at: ironbell_model::Timestamp,
}

enum Msg {
    Record(Box<Record>),
    Flush(oneshot::Sender<()>),
}

/// Records Events for one component (see the module docs). Cheap to clone; every clone
/// feeds the same writer, which stops when the last clone is dropped.
#[derive(Clone)]
pub struct Recorder {
    tx: Option<mpsc::Sender<Msg>>,
    stats: Arc<RecorderStats>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("enabled", &self.tx.is_some())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Recorder {
    /// A recorder writing to `store` as `component` (e.g. `ironbell-boot`, shown as the
    /// Events' `source.component`). It spawns its writer task on the current Tokio
    /// runtime; called outside one, it records nothing (and says so at debug level) rather
    /// than fail its caller.
    pub fn start(store: SharedStore, component: impl Into<String>) -> Self {
        let component = component.into();
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::debug!(%component, "no async runtime: Events are not recorded");
            return Self::disabled();
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let stats = Arc::new(RecorderStats::default());
        let writer = Writer {
            events: Api::new(store),
            component,
            stats: stats.clone(),
        };
        tokio::spawn(writer.run(rx));
        Self {
            tx: Some(tx),
            stats,
        }
    }

    /// A recorder that records nothing (for code paths and tests without a store).
    pub fn disabled() -> Self {
        Self {
            tx: None,
            stats: Arc::default(),
        }
    }

    /// Records a `Normal` Event about `involved`. Never blocks, never fails.
    pub fn normal(&self, involved: ObjectReference, reason: &str, message: impl Into<String>) {
        self.record(involved, event::NORMAL, reason, message.into());
    }

    /// Records a `Warning` Event about `involved`. Never blocks, never fails.
    pub fn warning(&self, involved: ObjectReference, reason: &str, message: impl Into<String>) {
        self.record(involved, event::WARNING, reason, message.into());
    }

    fn record(
        &self,
        involved: ObjectReference,
        type_: &'static str,
        reason: &str,
        message: String,
    ) {
        let Some(tx) = &self.tx else { return };
        let record = Record {
            involved,
            type_,
            reason: reason.to_string(),
            message: bound_message(message),
            at: ironbell_model::values::now(),
        };
        match tx.try_send(Msg::Record(Box::new(record))) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                if let Some(suppressed) = FAILURE_LOG.allow() {
                    let why = match e {
                        mpsc::error::TrySendError::Full(_) => "the queue is full",
                        mpsc::error::TrySendError::Closed(_) => "the writer stopped",
                    };
                    tracing::debug!(suppressed, "event dropped: {why}");
                }
            }
        }
    }

    /// Whether a record would be queued now (the queue is not full): a caller on a hot
    /// path checks this before building an Event's message, so that a full queue costs it
    /// nothing. `false` for a disabled recorder.
    pub fn has_room(&self) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.capacity() > 0)
    }

    /// Waits until every record queued before this call has been written (or has failed).
    /// For tests and short-lived commands; services never need to wait.
    pub async fn flush(&self) {
        let Some(tx) = &self.tx else { return };
        let (done, wait) = oneshot::channel();
        if tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// The counters.
    pub fn stats(&self) -> &RecorderStats {
        &self.stats
    }
}

/// The writer task of a [`Recorder`].
struct Writer {
    events: Api<Event>,
    component: String,
    stats: Arc<RecorderStats>,
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Flush(done) => {
                    let _ = done.send(());
                }
                Msg::Record(record) => match self.write(&record).await {
                    Ok(()) => {
                        self.stats.written.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        self.stats.failed.fetch_add(1, Ordering::Relaxed);
                        if let Some(suppressed) = FAILURE_LOG.allow() {
                            tracing::debug!(
                                kind = record.involved.kind(),
                                name = record.involved.name(),
                                reason = %record.reason,
                                suppressed,
                                "event not recorded: {e}"
                            );
                        }
                    }
                },
            }
        }
    }

    /// Creates the record's Event, or counts one more on it; trims the object's Events
    /// after a create.
    async fn write(&self, record: &Record) -> Result<(), StoreError> {
        let ns = event_namespace(&record.involved);
        let name = event_name(record);
        // Two tries: a conflict means another writer (a replica) counted meanwhile.
        for _ in 0..2 {
            match self.events.get(&ns, &name).await {
                Ok(mut ev) => {
                    ev.count = Some(ev.count.unwrap_or(1).saturating_add(1));
                    ev.last_timestamp = Some(record.at);
                    match self.events.update(&ev).await {
                        Err(e) if e.is_conflict() => continue,
                        other => return other.map(drop),
                    }
                }
                Err(e) if e.is_not_found() => {
                    match self
                        .events
                        .create(&self.new_event(record, &ns, &name))
                        .await
                    {
                        Err(StoreError::AlreadyExists { .. }) => continue,
                        Err(e) => return Err(e),
                        Ok(_) => return self.trim(&ns, &record.involved).await,
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn new_event(&self, record: &Record, ns: &str, name: &str) -> Event {
        let mut metadata = ObjectMeta::named(ns, name);
        metadata.labels = Some(
            [(INVOLVED_LABEL.to_string(), involved_key(&record.involved))]
                .into_iter()
                .collect(),
        );
        Event {
            metadata,
            involved_object: record.involved.clone(),
            reason: Some(record.reason.clone()),
            message: Some(record.message.clone()),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            first_timestamp: Some(record.at),
            last_timestamp: Some(record.at),
            count: Some(1),
            type_: Some(record.type_.to_string()),
            ..Event::default()
        }
    }

    /// Deletes the least recent Events of `involved` past [`MAX_EVENTS_PER_OBJECT`].
    async fn trim(&self, ns: &str, involved: &ObjectReference) -> Result<(), StoreError> {
        let (mut events, _) = self.events.list(&events_of_params(ns, involved)).await?;
        if events.len() <= MAX_EVENTS_PER_OBJECT {
            return Ok(());
        }
        sort_by_time(&mut events);
        let excess = events.len() - MAX_EVENTS_PER_OBJECT;
        for old in &events[..excess] {
            match self.events.delete(old.namespace(), old.name()).await {
                Ok(_) => {
                    self.stats.trimmed.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Orders Events as a timeline: by `lastTimestamp` (else `firstTimestamp`, else creation),
/// then, within one second, by the store revision that last wrote them, then by name.
pub fn sort_by_time(events: &mut [Event]) {
    events.sort_by(|a, b| {
        time_key(a)
            .cmp(&time_key(b))
            .then_with(|| a.name().cmp(b.name()))
    });
}

/// What orders Events in time: when each last happened ([`last_seen`]), then the store
/// revision that last wrote it (timestamps are whole seconds).
pub fn time_key(ev: &Event) -> (Option<ironbell_model::Timestamp>, Option<u64>) {
    let revision = ev
        .metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse::<u64>().ok());
    (last_seen(ev), revision)
}

/// When an Event last happened, as well as it says.
pub fn last_seen(ev: &Event) -> Option<ironbell_model::Timestamp> {
    ev.last_timestamp
        .or(ev.first_timestamp)
        .or(ev.metadata.creation_timestamp)
}

/// The Events among `events` about any of `about` (`(kind, name)`, in one namespace),
/// oldest first: a machine's timeline is the Events of its Hardware, its BMC Machine and
/// its Workflows. Events are matched by their `involvedObject`, not by the label a
/// [`Recorder`] sets, so Events written by any Kubernetes client count too.
pub fn about<'e>(
    events: impl IntoIterator<Item = &'e Event>,
    about: &[(&str, &str)],
) -> Vec<Event> {
    let mut found: Vec<Event> = events
        .into_iter()
        .filter(|e| {
            about.iter().any(|(kind, name)| {
                e.involved_object.kind() == *kind && e.involved_object.name() == *name
            })
        })
        .cloned()
        .collect();
    sort_by_time(&mut found);
    found
}

/// The Events in `namespace` about any of `about` (`(kind, name)`), oldest first (see
/// [`about`]).
pub async fn events_about(
    store: &dyn crate::Store,
    namespace: &str,
    about_objects: &[(&str, &str)],
) -> Result<Vec<Event>, StoreError> {
    let list = store
        .list(
            &ironbell_model::TypeKey::of::<Event>(),
            &ListParams::namespace(namespace),
        )
        .await?;
    let events: Vec<Event> = list
        .items
        .iter()
        .filter_map(|o| o.to_typed::<Event>().ok())
        .collect();
    Ok(about(&events, about_objects))
}

/// The list parameters that select the Events of `involved` in `namespace` (as written
/// by a [`Recorder`]).
pub fn events_of_params(namespace: &str, involved: &ObjectReference) -> ListParams {
    let selector = Selector::parse(&format!("{INVOLVED_LABEL}={}", involved_key(involved)))
        .expect("a label with a 16-digit hexadecimal value is a valid selector");
    ListParams {
        namespace: Some(namespace.to_string()),
        selector: Some(selector),
    }
}

/// The Events of the object `namespace/name` of kind `K`, oldest first.
pub async fn events_of<K: Resource>(
    store: &SharedStore,
    namespace: &str,
    name: &str,
) -> Result<Vec<Event>, StoreError> {
    let involved = ObjectReference::to::<K>(namespace, name);
    let api: Api<Event> = Api::new(store.clone());
    let (mut events, _) = api.list(&events_of_params(namespace, &involved)).await?;
    sort_by_time(&mut events);
    Ok(events)
}

/// The value of [`INVOLVED_LABEL`] for `involved`: 16 hexadecimal digits of the FNV-1a
/// hash of its kind, namespace and name.
pub fn involved_key(involved: &ObjectReference) -> String {
    format!(
        "{:016x}",
        fnv1a(&[involved.kind(), involved.namespace(), involved.name()])
    )
}

/// Events live in their involved object's namespace; a cluster-scoped object's in
/// `default`, as Kubernetes does.
fn event_namespace(involved: &ObjectReference) -> String {
    match involved.namespace() {
        "" => "default".to_string(),
        ns => ns.to_string(),
    }
}

/// `<involved name>.<16 hex digits>`: the hash of what makes two records the same Event.
fn event_name(record: &Record) -> String {
    let hash = fnv1a(&[
        record.involved.kind(),
        record.involved.name(),
        record.type_,
        &record.reason,
        &record.message,
    ]);
    // A name is at most 253 characters; the suffix takes 17.
    let mut base = record.involved.name().to_string();
    let mut end = base.len().min(236);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    base.truncate(end);
    let base = base.trim_end_matches(['.', '-']);
    if base.is_empty() {
        format!("event.{hash:016x}")
    } else {
        format!("{base}.{hash:016x}")
    }
}

/// FNV-1a (64 bits) over `parts`, each followed by a 0 byte so that `("ab", "c")` and
/// `("a", "bc")` differ.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

fn bound_message(mut message: String) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message;
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let cut = message.len() - end;
    message.truncate(end);
    message.push_str(&format!("… ({cut} bytes cut)"));
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_valid_and_distinct() {
        let record = |name: &str, msg: &str| Record {
            involved: ObjectReference {
                kind: Some("Hardware".into()),
                namespace: Some("default".into()),
                name: Some(name.into()),
                ..ObjectReference::default()
            },
            type_: event::NORMAL,
            reason: "DHCPOffer".into(),
            message: msg.into(),
            at: ironbell_model::values::now(),
        };
        let a = event_name(&record("wk01", "offered 10.0.0.11"));
        assert_eq!(a, event_name(&record("wk01", "offered 10.0.0.11")));
        assert_ne!(a, event_name(&record("wk01", "offered 10.0.0.12")));
        assert!(a.starts_with("wk01."), "{a}");
        let long = "a".repeat(253);
        let name = event_name(&record(&long, "m"));
        assert!(name.len() <= 253);
        ironbell_model::validate_name(&name).expect("valid name");
        assert_ne!(fnv1a(&["ab", "c"]), fnv1a(&["a", "bc"]));
        ironbell_model::selector::validate_label_value(&involved_key(&record("x", "").involved))
            .expect("valid label value");
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let cut = bound_message("é".repeat(MAX_MESSAGE_BYTES));
        assert!(cut.len() < MAX_MESSAGE_BYTES + 32, "{}", cut.len());
        assert!(cut.ends_with("bytes cut)"));
        assert_eq!(bound_message("short".into()), "short");
    }
}
