//! [`RingSink`]: the last messages of each source, in memory, within a byte budget.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;

use crate::message::Message;
use crate::receiver::Sink;

#[derive(Debug, Default)]
struct Ring {
    /// Sequence number of the newest message, to find the least recently active source.
    newest: u64,
    /// Bytes the messages hold ([`Message::memory_size`]).
    bytes: usize,
    messages: VecDeque<(usize, Message)>,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    bytes: usize,
    sources: HashMap<IpAddr, Ring>,
}

impl Inner {
    fn pop_oldest(&mut self, source: IpAddr) {
        if let Some(ring) = self.sources.get_mut(&source)
            && let Some((size, _)) = ring.messages.pop_front()
        {
            ring.bytes -= size;
            self.bytes -= size;
            if ring.messages.is_empty() {
                self.sources.remove(&source);
            }
        }
    }

    /// The source whose newest message is oldest.
    fn quietest(&self) -> Option<IpAddr> {
        self.sources
            .iter()
            .min_by_key(|(_, r)| r.newest)
            .map(|(ip, _)| *ip)
    }

    /// The source holding the most bytes.
    fn largest(&self) -> Option<IpAddr> {
        self.sources
            .iter()
            .max_by_key(|(_, r)| r.bytes)
            .map(|(ip, _)| *ip)
    }
}

/// A [`Sink`] that keeps the last `per_source` messages of at most `max_sources` sources,
/// holding at most `max_bytes` in all (counted with [`Message::memory_size`]). When a new
/// source arrives and the table is full, the source that has been quiet longest is
/// forgotten; when the byte budget is exceeded, the oldest messages of the source holding
/// the most are dropped first, so one chatty machine cannot push out the others. Memory is
/// therefore bounded whatever the number of sources and whatever they send.
#[derive(Debug)]
pub struct RingSink {
    per_source: usize,
    max_sources: usize,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

/// The default byte budget of [`RingSink::new`]: 64 MiB.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

impl RingSink {
    /// An empty sink keeping `per_source` messages for each of `max_sources` sources (each
    /// at least 1), within [`DEFAULT_MAX_BYTES`].
    pub fn new(per_source: usize, max_sources: usize) -> Self {
        Self::with_budget(per_source, max_sources, DEFAULT_MAX_BYTES)
    }

    /// [`RingSink::new`] with a byte budget of `max_bytes` for all messages kept.
    pub fn with_budget(per_source: usize, max_sources: usize, max_bytes: usize) -> Self {
        Self {
            per_source: per_source.max(1),
            max_sources: max_sources.max(1),
            max_bytes,
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
            .map(|r| r.messages.iter().map(|(_, m)| m.clone()).collect())
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

    /// Bytes the kept messages hold ([`Message::memory_size`]), at most the budget.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

impl Sink for RingSink {
    fn record(&self, source: IpAddr, message: Message) {
        let size = message.memory_size();
        if size > self.max_bytes {
            return;
        }
        let mut inner = self.lock();
        inner.next += 1;
        let seq = inner.next;
        if !inner.sources.contains_key(&source)
            && inner.sources.len() >= self.max_sources
            && let Some(ip) = inner.quietest()
        {
            while inner.sources.contains_key(&ip) {
                inner.pop_oldest(ip);
            }
        }
        if inner
            .sources
            .get(&source)
            .is_some_and(|r| r.messages.len() >= self.per_source)
        {
            inner.pop_oldest(source);
        }
        while inner.bytes + size > self.max_bytes {
            match inner.largest() {
                Some(ip) => inner.pop_oldest(ip),
                None => break,
            }
        }
        let ring = inner.sources.entry(source).or_default();
        ring.newest = seq;
        ring.bytes += size;
        ring.messages.push_back((size, message));
        inner.bytes += size;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;
    use std::time::SystemTime;

    fn m(t: &str) -> Message {
        parse(t.as_bytes(), SystemTime::now()).expect("parse")
    }

    #[test]
    fn keeps_last_per_source_and_forgets_quietest() {
        let sink = RingSink::new(2, 2);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        let c: IpAddr = "10.0.0.3".parse().expect("ip");
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

    #[test]
    fn byte_budget_holds_and_the_largest_gives_way() {
        let one = m(&"x".repeat(1000)).memory_size();
        let sink = RingSink::with_budget(1000, 100, one * 10);
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        for _ in 0..9 {
            sink.record(a, m(&"x".repeat(1000)));
        }
        for _ in 0..3 {
            sink.record(b, m(&"x".repeat(1000)));
        }
        assert!(sink.bytes() <= one * 10);
        assert_eq!(
            sink.messages(b).len(),
            3,
            "the quiet source keeps its messages"
        );
        assert_eq!(sink.messages(a).len(), 7);
        // A flood from many sources never exceeds the budget either.
        for i in 0..5000u32 {
            let ip = IpAddr::from([10, 1, (i >> 8) as u8, i as u8]);
            sink.record(ip, m(&"y".repeat(500)));
        }
        assert!(sink.bytes() <= one * 10, "{}", sink.bytes());
        assert!(sink.sources().len() <= 100);
        // Larger than the whole budget: not kept.
        let tiny = RingSink::with_budget(10, 10, 100);
        tiny.record(a, m(&"z".repeat(200)));
        assert!(tiny.is_empty());
    }
}
