//! The task behind one watch: an etcd watch over a key range that resumes, on any member,
//! from the last revision it delivered when its stream breaks.

use std::time::Duration;

use etcd_client::{EventType, WatchOptions, WatchResponse};
use futures::Stream;
use ironbell_limits::LogLimiter;
use ironbell_model::{DynamicObject, ObjectMeta, TypeKey};
use ironbell_store::{ListParams, Result, StoreError, WatchEvent, WatchStream};
use tokio::sync::mpsc;

use crate::{EtcdStore, decode, keys, to_etcd_rev, to_rev};

/// How long a broken watch waits at most between attempts to open it again.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// Every watch of a process logs its interruptions here: while etcd is down, a few lines
/// a second with the count of those left out, not one per watch per attempt.
static INTERRUPTED_LOG: LogLimiter = LogLimiter::per_second(2);

/// Starts a watch of the keys under `prefix` after revision `last`.
pub(crate) fn start(
    store: EtcdStore,
    types: TypeKey,
    params: ListParams,
    prefix: String,
    last: u64,
) -> WatchStream {
    let (tx, rx) = mpsc::channel(256);
    let kind_prefix = match store.inner.prefix.kind(&types) {
        Ok(p) => p,
        Err(e) => {
            // The caller checked the kind already; report it in the stream all the same.
            let _ = tx.try_send(Err(e));
            return Box::pin(receiver_stream(rx));
        }
    };
    let watcher = Watcher {
        store,
        types,
        params,
        prefix,
        kind_prefix,
        last,
        tx,
    };
    tokio::spawn(watcher.run());
    Box::pin(receiver_stream(rx))
}

fn receiver_stream<T: Send + 'static>(rx: mpsc::Receiver<T>) -> impl Stream<Item = T> + Send {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
}

struct Watcher {
    store: EtcdStore,
    types: TypeKey,
    params: ListParams,
    prefix: String,
    kind_prefix: String,
    /// Every change up to this revision has been delivered.
    last: u64,
    tx: mpsc::Sender<Result<WatchEvent>>,
}

/// Why one etcd watch stream ended.
enum End {
    /// The consumer dropped the stream, or the watch failed for good: stop.
    Stop,
    /// The stream broke: open it again from `last`.
    Broken(String),
}

impl Watcher {
    async fn run(mut self) {
        let mut pause = Duration::from_millis(50);
        loop {
            let delivered = self.last;
            match self.follow().await {
                End::Stop => return,
                End::Broken(why) => {
                    if self.last > delivered {
                        // It worked for a while: try again soon.
                        pause = Duration::from_millis(50);
                    }
                    if self.store.known_unreachable() {
                        tracing::debug!(kind = %self.types.kind, "etcd watch interrupted ({why})");
                    } else if let Some(suppressed) = INTERRUPTED_LOG.allow() {
                        tracing::warn!(
                            kind = %self.types.kind,
                            from_revision = self.last,
                            suppressed,
                            "etcd watch interrupted ({why}); resuming on any member"
                        );
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.tx.closed() => return,
            }
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// Opens one etcd watch from `last + 1` and delivers its events until it ends.
    async fn follow(&mut self) -> End {
        let mut client = match self.store.client().await {
            Ok(c) => c,
            Err(e) => return End::Broken(e.to_string()),
        };
        let options = WatchOptions::new()
            .with_range(keys::range_end(&self.prefix))
            .with_start_revision(to_etcd_rev(self.last.saturating_add(1)))
            .with_prev_key()
            .with_progress_notify();
        let mut stream = match client.watch(self.prefix.clone(), Some(options)).await {
            Ok(s) => s,
            Err(e) => return End::Broken(e.to_string()),
        };
        loop {
            let message = tokio::select! {
                m = stream.message() => m,
                _ = self.tx.closed() => return End::Stop,
            };
            let resp = match message {
                Ok(Some(r)) => r,
                Ok(None) => return End::Broken("the stream ended".into()),
                Err(e) => return End::Broken(e.to_string()),
            };
            if resp.compact_revision() > 0 {
                let oldest = to_rev(resp.compact_revision()).saturating_sub(1);
                let _ = self
                    .tx
                    .send(Err(StoreError::TooOld {
                        requested: self.last,
                        oldest,
                    }))
                    .await;
                return End::Stop;
            }
            if resp.canceled() {
                return End::Broken(format!("canceled by etcd: {}", resp.cancel_reason()));
            }
            if !self.deliver(&resp).await {
                return End::Stop;
            }
        }
    }

    /// Sends the matching events of one response; whether the consumer is still there.
    async fn deliver(&mut self, resp: &WatchResponse) -> bool {
        let events = resp.events();
        if events.is_empty() && !resp.created() {
            // A progress notification: nothing is pending up to its revision.
            if let Some(h) = resp.header() {
                self.last = self.last.max(to_rev(h.revision()));
            }
            return true;
        }
        for ev in events {
            let Some(kv) = ev.kv() else { continue };
            let rev = kv.mod_revision();
            let event = match ev.event_type() {
                EventType::Put => decode(kv.value(), rev, || self.what(kv.key())).map(|o| {
                    if kv.version() == 1 {
                        WatchEvent::Added(o)
                    } else {
                        WatchEvent::Modified(o)
                    }
                }),
                EventType::Delete => match ev.prev_kv() {
                    Some(prev) => decode(prev.value(), rev, || self.what(kv.key())),
                    None => Ok(self.bare_object(kv.key(), rev)),
                }
                .map(WatchEvent::Deleted),
            };
            self.last = self.last.max(to_rev(rev));
            match event {
                Ok(e) if !self.params.matches(e.object()) => {}
                Ok(e) => {
                    if self.tx.send(Ok(e)).await.is_err() {
                        return false;
                    }
                }
                Err(e) => {
                    let _ = self.tx.send(Err(e)).await;
                    return false;
                }
            }
        }
        true
    }

    fn what(&self, key: &[u8]) -> String {
        let (ns, name) = keys::split_key(&self.kind_prefix, key).unwrap_or(("?", "?"));
        format!("{} {ns}/{name} in a watch", self.types.kind)
    }

    /// A deleted object whose last state etcd no longer has (compacted): its identity only.
    fn bare_object(&self, key: &[u8], rev: i64) -> DynamicObject {
        let (ns, name) = keys::split_key(&self.kind_prefix, key).unwrap_or(("", ""));
        let mut meta = ObjectMeta::named(ns, name);
        meta.resource_version = Some(rev.to_string());
        DynamicObject::new(self.types.clone(), meta)
    }
}
