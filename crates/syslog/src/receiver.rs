//! The UDP side: [`Receiver`] reads datagrams, limits each source's rate, parses, counts in
//! [`Stats`] and hands every message to a [`Sink`].

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use ironbell_limits::RateLimiter;

use tokio::net::UdpSocket;

use crate::message::{Format, Message};
use crate::parse::parse;

/// Where received messages go. The boot service implements it by finding the Hardware
/// whose address is `source` and appending to its log; [`crate::RingSink`] keeps them in
/// memory.
///
/// `record` runs on the receive loop: it must return quickly (hand slow work to a channel).
pub trait Sink: Send + Sync {
    /// Takes one message that `source` sent.
    fn record(&self, source: IpAddr, message: Message);
}

impl<S: Sink + ?Sized> Sink for Arc<S> {
    fn record(&self, source: IpAddr, message: Message) {
        (**self).record(source, message);
    }
}

/// A token bucket per source: `per_second` messages on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained messages per second per source IP.
    pub per_second: f64,
    /// Messages a source may send at once after being quiet.
    pub burst: u32,
}

/// How the receiver behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Longer datagrams are cut to this many bytes (and counted in
    /// [`StatsSnapshot::truncated`]). Default 8 KiB.
    pub max_datagram: usize,
    /// Per-source rate limit; `None` for none. Default 200/s with a burst of 1000, which an
    /// installer never reaches and a flood quickly does.
    pub rate_limit: Option<RateLimit>,
    /// How many sources the rate limiter tracks at most. When the table is full and no
    /// source in it has been quiet long enough to forget, new sources share one overflow
    /// bucket (so spoofed source addresses can neither grow memory nor get more than one
    /// source's rate between them). Default 4096.
    pub max_sources: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_datagram: 8 * 1024,
            rate_limit: Some(RateLimit {
                per_second: 200.0,
                burst: 1000,
            }),
            max_sources: 4096,
        }
    }
}

/// Counters since the receiver started; read them with [`Stats::snapshot`].
#[derive(Debug, Default)]
pub struct Stats {
    received: AtomicU64,
    rfc5424: AtomicU64,
    rfc3164: AtomicU64,
    raw: AtomicU64,
    truncated: AtomicU64,
    rate_limited: AtomicU64,
    invalid: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Datagrams read from the socket.
    pub received: u64,
    /// Parsed as RFC 5424.
    pub rfc5424: u64,
    /// Parsed as RFC 3164 / BSD.
    pub rfc3164: u64,
    /// Kept as raw text (no `<PRI>`).
    pub raw: u64,
    /// Longer than [`Config::max_datagram`] and cut (still recorded).
    pub truncated: u64,
    /// Dropped by the per-source rate limit.
    pub rate_limited: u64,
    /// Dropped as unreadable (empty).
    pub invalid: u64,
}

impl StatsSnapshot {
    /// All datagrams not handed to the sink.
    pub fn dropped(&self) -> u64 {
        self.rate_limited + self.invalid
    }
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            received: get(&self.received),
            rfc5424: get(&self.rfc5424),
            rfc3164: get(&self.rfc3164),
            raw: get(&self.raw),
            truncated: get(&self.truncated),
            rate_limited: get(&self.rate_limited),
            invalid: get(&self.invalid),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Receives syslog datagrams and hands each message to a [`Sink`]. Cheap to share: put it
/// in an `Arc` to read [`Receiver::stats`] while [`Receiver::serve`] runs.
#[derive(Debug)]
pub struct Receiver<S> {
    config: Config,
    sink: S,
    stats: Stats,
    limiter: Option<RateLimiter<IpAddr>>,
}

impl<S: Sink> Receiver<S> {
    /// A receiver that sends what it reads to `sink`.
    pub fn new(config: Config, sink: S) -> Self {
        let limiter = config
            .rate_limit
            .map(|limit| RateLimiter::new(limit.per_second, limit.burst, config.max_sources));
        Self {
            config,
            sink,
            stats: Stats::default(),
            limiter,
        }
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Reads datagrams from `socket` until the socket fails; stop it by dropping the
    /// future (e.g. aborting its task). Errors the kernel reports for a single datagram
    /// (ICMP-caused refusals, interrupts) are skipped.
    pub async fn serve(&self, socket: UdpSocket) -> io::Result<()> {
        // Room for the largest UDP payload, so oversized datagrams are seen and counted.
        let mut buf = vec![0u8; 65_536.max(self.config.max_datagram + 1)];
        loop {
            match socket.recv_from(&mut buf).await {
                Ok((len, from)) => {
                    let datagram = buf.get(..len).unwrap_or_default();
                    self.handle(datagram, from.ip(), SystemTime::now());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    tracing::debug!(error = %e, "syslog: skipping receive error");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Handles one datagram from `source` as [`Receiver::serve`] does: counts, rate-limits,
    /// truncates, parses and records it. Exposed for callers that read sockets themselves.
    pub fn handle(&self, datagram: &[u8], source: IpAddr, received_at: SystemTime) {
        self.handle_at(datagram, source, received_at, Instant::now());
    }

    fn handle_at(&self, datagram: &[u8], source: IpAddr, received_at: SystemTime, now: Instant) {
        bump(&self.stats.received);
        if let Some(limiter) = &self.limiter
            && !limiter.check_at(&source, now)
        {
            bump(&self.stats.rate_limited);
            return;
        }
        let datagram = match datagram.get(..self.config.max_datagram) {
            Some(cut) if cut.len() < datagram.len() => {
                bump(&self.stats.truncated);
                cut
            }
            _ => datagram,
        };
        match parse(datagram, received_at) {
            Ok(message) => {
                bump(match message.format {
                    Format::Rfc5424 => &self.stats.rfc5424,
                    Format::Rfc3164 => &self.stats.rfc3164,
                    Format::Raw => &self.stats.raw,
                });
                self.sink.record(source, message);
            }
            Err(e) => {
                tracing::debug!(%source, error = %e, "syslog: dropping datagram");
                bump(&self.stats.invalid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RingSink;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn rate_limit_refills_and_is_per_source() {
        let config = Config {
            rate_limit: Some(RateLimit {
                per_second: 10.0,
                burst: 5,
            }),
            ..Config::default()
        };
        let r = Receiver::new(config, RingSink::new(100, 10));
        let t0 = Instant::now();
        let now = SystemTime::now();
        for _ in 0..8 {
            r.handle_at(b"<13>x", ip("10.0.0.1"), now, t0);
        }
        r.handle_at(b"<13>y", ip("10.0.0.2"), now, t0);
        // 100 ms later one more token.
        let t1 = t0 + Duration::from_millis(100);
        r.handle_at(b"<13>z", ip("10.0.0.1"), now, t1);
        r.handle_at(b"<13>z", ip("10.0.0.1"), now, t1);
        let s = r.stats().snapshot();
        assert_eq!((s.received, s.rfc3164, s.rate_limited), (11, 7, 4));
        assert_eq!(r.sink().messages(ip("10.0.0.1")).len(), 6);
        assert_eq!(r.sink().messages(ip("10.0.0.2")).len(), 1);
    }

    #[test]
    fn source_table_is_bounded() {
        let config = Config {
            rate_limit: Some(RateLimit {
                per_second: 1.0,
                burst: 2,
            }),
            max_sources: 2,
            ..Config::default()
        };
        let r = Receiver::new(config, RingSink::new(10, 10));
        let t0 = Instant::now();
        let now = SystemTime::now();
        r.handle_at(b"a", ip("10.0.0.1"), now, t0);
        r.handle_at(b"b", ip("10.0.0.2"), now, t0);
        // The table is full: new sources share one overflow bucket of 2.
        for last in 3..=6 {
            r.handle_at(b"c", ip(&format!("10.0.0.{last}")), now, t0);
        }
        assert_eq!(r.stats().snapshot().rate_limited, 2);
        // Once the first two have refilled, a new source is tracked again.
        r.handle_at(b"c", ip("10.0.0.3"), now, t0 + Duration::from_secs(3));
        assert_eq!(r.stats().snapshot().raw, 5);
    }

    #[test]
    fn oversized_is_truncated_and_empty_is_invalid() {
        let config = Config {
            max_datagram: 16,
            rate_limit: None,
            ..Config::default()
        };
        let r = Receiver::new(config, RingSink::new(10, 10));
        let source = ip("10.0.0.1");
        r.handle(
            b"<14>Nov 22 06:40:00 h app: 0123456789",
            source,
            SystemTime::now(),
        );
        r.handle(b"\n\0", source, SystemTime::now());
        let s = r.stats().snapshot();
        assert_eq!((s.truncated, s.invalid, s.dropped()), (1, 1, 1));
        let got = r.sink().messages(source);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].timestamp, got[0].text.as_str()),
            (None, "Nov 22 06:40")
        );
    }
}
