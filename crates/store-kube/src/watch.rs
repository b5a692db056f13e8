//! A [`Store::watch`](ironbell_store::Store::watch) as Kubernetes watches: one `?watch=1`
//! request from a `resourceVersion` with bookmarks, and another from the last version seen
//! when the server ends it (its timeout) or the connection drops, so that the stream
//! neither misses nor repeats a change. A 410 `Expired` ends the stream with
//! [`StoreError::TooOld`]; the caller lists again.
//!
//! Reconnections back off (100 ms doubling to 5 s); [`MAX_FAILURES`] failures in a row
//! (connections refused, or watches that end at once without an event) end the stream
//! with the last error, as a lost connection ends the other backends' watches.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::stream::BoxStream;
use ironbell_model::TypeKey;
use ironbell_store::{ListParams, Result, StoreError, WatchEvent, WatchStream};
use kube::core::WatchEvent as KubeEvent;
use kube::core::params::WatchParams;
use serde_json::Value;

use crate::{KubeStore, object, status_of, version_of};

/// Failures in a row that end a watch.
pub const MAX_FAILURES: u32 = 8;
/// The `timeoutSeconds` each watch request asks for (kube-rs refuses 295 or more: its
/// client's read timeout).
const WATCH_SECONDS: u32 = 290;
/// A watch request that ends sooner than this without an event counts as a failure.
const SHORT_WATCH: Duration = Duration::from_secs(5);

/// The open watch request: its events, when it was made, whether it has sent one.
type Open = (
    BoxStream<'static, kube::Result<KubeEvent<Value>>>,
    Instant,
    bool,
);

struct State {
    store: KubeStore,
    types: TypeKey,
    params: ListParams,
    /// The last version delivered or bookmarked: the next request watches from it.
    last: u64,
    /// The version the caller asked for, for its `TooOld`.
    requested: u64,
    events: Option<Open>,
    failures: u32,
    done: bool,
}

/// The watch of `types` filtered by `params`, after version `from`. The first request is
/// made here, so that a refused watch (a compacted `from`, a kind the server does not
/// serve) is an error of this call.
pub(crate) async fn start(
    store: KubeStore,
    types: TypeKey,
    params: ListParams,
    from: u64,
) -> Result<WatchStream> {
    let mut state = State {
        store,
        types,
        params,
        last: from,
        requested: from,
        events: None,
        failures: 0,
        done: false,
    };
    state.connect().await?;
    Ok(futures::stream::unfold(state, |mut state| async move {
        let item = state.next().await?;
        Some((item, state))
    })
    .boxed())
}

impl State {
    fn too_old(&self) -> StoreError {
        StoreError::TooOld {
            requested: self.requested,
            oldest: self.last,
        }
    }

    /// Opens a watch request from `last`.
    async fn connect(&mut self) -> Result<()> {
        let resource = self.store.resource(&self.types);
        let wp = WatchParams {
            label_selector: self.params.selector.as_ref().map(ToString::to_string),
            timeout: Some(WATCH_SECONDS),
            bookmarks: true,
            ..WatchParams::default()
        };
        let req = resource
            .request(self.params.namespace.as_deref())
            .watch(&wp, &self.last.to_string())
            .map_err(|e| {
                StoreError::Backend(format!("building a watch of {}: {e}", self.types.kind))
            })?;
        let client = self.store.client().await?;
        match client.request_events::<Value>(req).await {
            Ok(events) => {
                self.events = Some((events.boxed(), Instant::now(), false));
                Ok(())
            }
            Err(e) if status_of(&e).is_some_and(|s| s.code == 410) => Err(self.too_old()),
            Err(e) => Err(StoreError::Backend(format!(
                "watching {} from resourceVersion {}: {e}",
                self.types.kind, self.last
            ))),
        }
    }

    /// Counts a failure; the error that ends the stream once there are too many, else
    /// waits before the next attempt.
    async fn failed(&mut self, error: StoreError) -> Option<StoreError> {
        self.events = None;
        self.failures += 1;
        if self.failures >= MAX_FAILURES {
            return Some(error);
        }
        let delay = Duration::from_millis(100 << self.failures.min(6)).min(Duration::from_secs(5));
        tracing::debug!(kind = %self.types.kind, failures = self.failures, "watch interrupted ({error}); watching again in {delay:?}");
        tokio::time::sleep(delay).await;
        None
    }

    /// The next change, `None` once the stream has ended.
    async fn next(&mut self) -> Option<Result<WatchEvent>> {
        loop {
            if self.done {
                return None;
            }
            let Some((events, started, seen)) = &mut self.events else {
                match self.connect().await {
                    Ok(()) => continue,
                    Err(e @ StoreError::TooOld { .. }) => return self.end(e),
                    Err(e) => match self.failed(e).await {
                        Some(e) => return self.end(e),
                        None => continue,
                    },
                }
            };
            let event = match events.next().await {
                Some(Ok(event)) => event,
                None => {
                    // The server ended the watch: watch again from the last version.
                    if !*seen && started.elapsed() < SHORT_WATCH {
                        let e = StoreError::Backend(format!(
                            "the watch of {} kept ending at once",
                            self.types.kind
                        ));
                        if let Some(e) = self.failed(e).await {
                            return self.end(e);
                        }
                    }
                    self.events = None;
                    continue;
                }
                Some(Err(e)) => {
                    let e = StoreError::Backend(format!("watching {}: {e}", self.types.kind));
                    match self.failed(e).await {
                        Some(e) => return self.end(e),
                        None => continue,
                    }
                }
            };
            *seen = true;
            self.failures = 0;
            let (obj, made) = match event {
                KubeEvent::Added(v) => (v, WatchEvent::Added as fn(_) -> _),
                KubeEvent::Modified(v) => (v, WatchEvent::Modified as fn(_) -> _),
                KubeEvent::Deleted(v) => (v, WatchEvent::Deleted as fn(_) -> _),
                KubeEvent::Bookmark(b) => {
                    if let Ok(rv) = b.metadata.resource_version.parse::<u64>() {
                        self.last = self.last.max(rv);
                    }
                    continue;
                }
                KubeEvent::Error(status) if status.code == 410 => {
                    let e = self.too_old();
                    return self.end(e);
                }
                KubeEvent::Error(status) => {
                    let e = StoreError::Backend(format!(
                        "the watch of {} failed: {} {}: {}",
                        self.types.kind, status.code, status.reason, status.message
                    ));
                    return self.end(e);
                }
            };
            let obj = match object(&self.types, obj) {
                Ok(o) => o,
                Err(e) => return self.end(e),
            };
            let rv = match version_of(
                &self.types,
                obj.name(),
                obj.metadata
                    .resource_version
                    .as_deref()
                    .map(Value::from)
                    .as_ref(),
            ) {
                Ok(rv) => rv,
                Err(e) => return self.end(e),
            };
            if rv <= self.last {
                // Seen before the reconnection.
                continue;
            }
            self.last = rv;
            if self.params.matches(&obj) {
                return Some(Ok(made(obj)));
            }
        }
    }

    fn end(&mut self, e: StoreError) -> Option<Result<WatchEvent>> {
        self.done = true;
        self.events = None;
        Some(Err(e))
    }
}
