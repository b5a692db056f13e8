//! [`RingSink`]: the last messages of each source, in memory.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

use crate::message::Message;
use crate::receiver::Sink;

#[derive(Debug, Default)]
struct Ring {
    /// Sequence number of the newest message, to find the least recently active source.
    newest: u64,
    messages: VecDeque<Message>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    sources: HashMap<IpAddr, Ring>,
}

/// A [`Sink`] that keeps the last `per_source` messages of at most `max_sources` sources;
/// when a new source arrives and the table is full, the source that has been quiet longest
/// is forgotten. For tests and for `ironbell logs` against a receiver with no store.
#[derive(Debug)]
pub struct RingSink {
    per_source: usize,
    max_sources: usize,
    inner: Mutex<Inner>,
}

impl RingSink {
    /// An empty sink keeping `per_source` messages for each of `max_sources` sources (each
    /// at least 1).
    pub fn new(per_source: usize, max_sources: usize) -> Self {
        Self {
            per_source: per_source.max(1),
            max_sources: max_sources.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The kept messages of `source`, oldest first.
    pub fn messages(&self, source: IpAddr) -> Vec<Message> {
        self.lock()
            .sources
            .get(&source)
            .map(|r| r.messages.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The sources that have kept messages, in no particular order.
    pub fn sources(&self) -> Vec<IpAddr> {
        self.lock().sources.keys().copied().collect()
    }

    /// How many messages are kept in all.
    pub fn len(&self) -> usize {
        self.lock().sources.values().map(|r| r.messages.len()).sum()
    }

    /// Whether no message is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Sink for RingSink {
    fn record(&self, source: IpAddr, message: Message) {
        let mut inner = self.lock();
        inner.next += 1;
        let seq = inner.next;
        if !inner.sources.contains_key(&source) && inner.sources.len() >= self.max_sources {
            let quietest = inner
                .sources
                .iter()
                .min_by_key(|(_, r)| r.newest)
                .map(|(ip, _)| *ip);
            if let Some(ip) = quietest {
                inner.sources.remove(&ip);
            }
        }
        let ring = inner.sources.entry(source).or_default();
        ring.newest = seq;
        if ring.messages.len() >= self.per_source {
            ring.messages.pop_front();
        }
        ring.messages.push_back(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use std::time::SystemTime;

    #[test]
    fn keeps_last_per_source_and_forgets_quietest() {
        let sink = RingSink::new(2, 2);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        let c: IpAddr = "10.0.0.3".parse().expect("ip");
        let m = |t: &str| parse(t.as_bytes(), SystemTime::now()).expect("parse");
        sink.record(a, m("1"));
        sink.record(b, m("2"));
        sink.record(a, m("3"));
        sink.record(a, m("4"));
        let texts: Vec<String> = sink.messages(a).into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["3", "4"]);
        sink.record(c, m("5")); // b is the quietest
        assert!(sink.messages(b).is_empty());
        assert_eq!(sink.len(), 3);
        assert!(!sink.is_empty());
        let mut sources = sink.sources();
        sources.sort();
        assert_eq!(sources, [a, c]);
    }
}
