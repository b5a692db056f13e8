//! # ironbell-limits
//!
//! Small, dependency-free bounds that every service facing the provisioning network shares,
//! so that a host sending garbage, floods or idle connections costs a fixed amount of memory
//! and CPU whatever it does:
//!
//! - [`RateLimiter`]: a token bucket per key (a peer address, a MAC), with a bounded number
//!   of keys; keys past the bound share one overflow bucket, so spoofed sources cannot grow
//!   the table.
//! - [`ConnectionCap`]: at most N concurrent connections (or transfers) per peer, released
//!   when the [`ConnectionPermit`] is dropped.
//! - [`LogLimiter`]: at most N log lines per second for one kind of event, with a count of
//!   what was suppressed, so a flood cannot fill the disk through the service log.
//! - [`raise_nofile_limit`]: the soft open-file limit raised to the hard limit at start.
//! - [`transient_accept_error`]: whether a failed `accept` is worth retrying (the peer went
//!   first, or descriptors ran out for a moment) rather than ending the server.
//!
//! It is not a firewall and knows nothing of protocols: each service decides what its key
//! is and what to do when a check fails (drop and count, refuse with an error).
//!
//! Written here rather than taken from `governor`: what is needed is a few dozen lines
//! (a bucket per key with a hard bound on the number of keys, which `governor`'s keyed
//! limiter leaves to the caller), and the same bound is needed for connection counts.

use std::collections::HashMap;
use std::hash::Hash;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// A token bucket: `burst` tokens at most, refilled at `rate` per second.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Self {
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, rate: f64, burst: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
    }

    fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        self.refill(rate, burst, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct RateState<K> {
    buckets: HashMap<K, Bucket>,
    overflow: Bucket,
    /// When the full table was last swept for idle keys.
    last_sweep: Option<Instant>,
}

/// How often at most a full [`RateLimiter`] table is swept for idle keys. A sweep visits
/// every key; without this bound, a flood of new (spoofed) keys against a table full of
/// busy ones would cost a whole sweep per event.
pub const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// A token bucket per key with a bound on the number of keys.
///
/// When the table is full, idle keys (whose bucket has refilled) are forgotten, in one
/// sweep at most every [`SWEEP_INTERVAL`]; a new key that finds no room is charged to one
/// shared overflow bucket. Memory is therefore bounded by `max_keys` whatever the number
/// of distinct (possibly spoofed) sources, and so is the cost of one check.
#[derive(Debug)]
pub struct RateLimiter<K> {
    rate: f64,
    burst: f64,
    max_keys: usize,
    state: Mutex<RateState<K>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `rate` events per second per key, bursts of up to `burst`, at most `max_keys` keys
    /// tracked (at least one).
    pub fn new(rate: f64, burst: u32, max_keys: usize) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: rate.max(0.0),
            burst,
            max_keys: max_keys.max(1),
            state: Mutex::new(RateState {
                buckets: HashMap::new(),
                overflow: Bucket::full(burst, Instant::now()),
                last_sweep: None,
            }),
        }
    }

    /// Whether one more event from `key` is allowed now (and counts it if so).
    pub fn check(&self, key: &K) -> bool {
        self.check_at(key, Instant::now())
    }

    /// [`Self::check`] at a given instant (for deterministic tests).
    pub fn check_at(&self, key: &K, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (rate, burst) = (self.rate, self.burst);
        if let Some(bucket) = state.buckets.get_mut(key) {
            return bucket.take(rate, burst, now);
        }
        let sweep_due = state
            .last_sweep
            .is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_INTERVAL);
        if state.buckets.len() >= self.max_keys && sweep_due {
            state.last_sweep = Some(now);
            state.buckets.retain(|_, b| {
                let mut b = *b;
                b.refill(rate, burst, now);
                b.tokens < burst
            });
        }
        if state.buckets.len() >= self.max_keys {
            return state.overflow.take(rate, burst, now);
        }
        let mut bucket = Bucket::full(burst, now);
        let allowed = bucket.take(rate, burst, now);
        state.buckets.insert(key.clone(), bucket);
        allowed
    }

    /// How many keys are tracked now.
    pub fn tracked(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .buckets
            .len()
    }
}

/// At most `per_peer` concurrent holders per key, at most `max_keys` keys at once.
#[derive(Debug)]
pub struct ConnectionCap<K: Hash + Eq> {
    per_peer: usize,
    max_keys: usize,
    counts: Mutex<HashMap<K, usize>>,
}

/// One connection (or transfer) counted by a [`ConnectionCap`]; released on drop.
#[derive(Debug)]
pub struct ConnectionPermit<K: Hash + Eq + Clone> {
    cap: Arc<ConnectionCap<K>>,
    key: K,
}

impl<K: Hash + Eq + Clone> ConnectionCap<K> {
    /// A cap of `per_peer` concurrent permits per key and `max_keys` distinct keys.
    pub fn new(per_peer: usize, max_keys: usize) -> Arc<Self> {
        Arc::new(Self {
            per_peer: per_peer.max(1),
            max_keys: max_keys.max(1),
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// A permit for `key`, or `None` when the key already holds `per_peer` (or the table
    /// is full of other keys).
    pub fn try_acquire(self: &Arc<Self>, key: K) -> Option<ConnectionPermit<K>> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let known = counts.contains_key(&key);
        if !known && counts.len() >= self.max_keys {
            return None;
        }
        let count = counts.entry(key.clone()).or_insert(0);
        if *count >= self.per_peer {
            return None;
        }
        *count += 1;
        Some(ConnectionPermit {
            cap: Arc::clone(self),
            key,
        })
    }

    /// How many permits `key` holds now.
    pub fn held(&self, key: &K) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
            .unwrap_or(0)
    }
}

impl<K: Hash + Eq + Clone> Drop for ConnectionPermit<K> {
    fn drop(&mut self) {
        let mut counts = self
            .cap
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[derive(Debug)]
struct LogState {
    window: Option<Instant>,
    in_window: u32,
    suppressed: u64,
}

/// At most `per_second` log lines per second for one kind of event.
///
/// Usable as a `static`:
///
/// ```
/// use ironbell_limits::LogLimiter;
/// static REPLIES: LogLimiter = LogLimiter::per_second(10);
/// if let Some(suppressed) = REPLIES.allow() {
///     // tracing::info!(suppressed, "DHCP reply sent");
///     let _ = suppressed;
/// }
/// ```
#[derive(Debug)]
pub struct LogLimiter {
    per_second: u32,
    state: Mutex<LogState>,
}

impl LogLimiter {
    /// A limiter allowing `per_second` lines in each one-second window.
    pub const fn per_second(per_second: u32) -> Self {
        Self {
            per_second,
            state: Mutex::new(LogState {
                window: None,
                in_window: 0,
                suppressed: 0,
            }),
        }
    }

    /// `Some(n)` when a line may be logged now, `n` being how many were suppressed since
    /// the last allowed one (log it as a field, e.g. `suppressed = n`); `None` when this
    /// line is to be dropped (it is counted).
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    /// [`Self::allow`] at a given instant (for deterministic tests).
    pub fn allow_at(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = s
            .window
            .is_none_or(|start| now.saturating_duration_since(start).as_secs() >= 1);
        if fresh {
            s.window = Some(now);
            s.in_window = 0;
        }
        if s.in_window < self.per_second {
            s.in_window += 1;
            Some(std::mem::take(&mut s.suppressed))
        } else {
            s.suppressed += 1;
            None
        }
    }
}

/// Raises the soft open-file limit (`RLIMIT_NOFILE`) to the hard limit and returns the
/// new `(soft, hard)`. Under systemd the soft limit is 1,024, which a few hundred idle
/// connections exhaust; the hard limit is usually far higher.
pub fn raise_nofile_limit() -> Result<(u64, u64), nix::Error> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    getrlimit(Resource::RLIMIT_NOFILE)
}

/// Whether a failed `accept` is worth retrying after a short pause: the peer reset or
/// aborted before the accept, a signal interrupted it, or descriptors ran out for a moment
/// (ENFILE, EMFILE). Anything else ends the accept loop.
pub fn transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || matches!(e.raw_os_error(), Some(23 | 24))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_burst_then_rate() {
        let rl = RateLimiter::new(2.0, 3, 16);
        let t0 = Instant::now();
        assert!((0..3).all(|_| rl.check_at(&1, t0)));
        assert!(!rl.check_at(&1, t0));
        assert!(rl.check_at(&1, t0 + Duration::from_millis(500)));
        assert!(!rl.check_at(&1, t0 + Duration::from_millis(500)));
        // Another key has its own bucket.
        assert!(rl.check_at(&2, t0));
    }

    #[test]
    fn keys_are_bounded_and_overflow_shares_a_bucket() {
        let rl = RateLimiter::new(1.0, 2, 4);
        let t0 = Instant::now();
        for k in 0..4 {
            assert!(rl.check_at(&k, t0));
        }
        // Table full of busy keys: new keys draw on the overflow bucket (2 tokens).
        assert!(rl.check_at(&100, t0));
        assert!(rl.check_at(&101, t0));
        assert!(!rl.check_at(&102, t0));
        assert_eq!(rl.tracked(), 4);
        // Later the idle keys are forgotten and new keys get buckets again.
        let later = t0 + Duration::from_secs(10);
        assert!(rl.check_at(&200, later));
        assert!(rl.tracked() <= 4);
    }

    #[test]
    fn full_table_is_swept_at_most_every_interval() {
        let rl = RateLimiter::new(10.0, 1, 2);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert!(rl.check_at(&1, t0) && rl.check_at(&2, t0));
        // Full of busy keys: swept (nothing idle), key 3 draws on the overflow bucket.
        assert!(rl.check_at(&3, at(50)));
        // Keys 1 and 2 have refilled by 120 ms, but the last sweep was 70 ms ago: no
        // sweep, and the overflow bucket is empty.
        assert!(!rl.check_at(&4, at(120)));
        // At 200 ms a sweep forgets them and key 4 gets a bucket of its own.
        assert!(rl.check_at(&4, at(200)));
        assert!(rl.tracked() <= 2);
    }

    #[test]
    fn connection_cap_counts_and_releases() {
        let cap = ConnectionCap::new(2, 8);
        let a = cap.try_acquire("a");
        let b = cap.try_acquire("a");
        assert!(a.is_some() && b.is_some());
        assert!(cap.try_acquire("a").is_none());
        assert!(cap.try_acquire("b").is_some());
        drop(a);
        assert_eq!(cap.held(&"a"), 1);
        assert!(cap.try_acquire("a").is_some());
    }

    #[test]
    fn connection_cap_bounds_keys() {
        let cap = ConnectionCap::new(1, 2);
        let _a = cap.try_acquire(1);
        let _b = cap.try_acquire(2);
        assert!(cap.try_acquire(3).is_none());
    }

    #[test]
    fn log_limiter_counts_suppressed() {
        let l = LogLimiter::per_second(2);
        let t0 = Instant::now();
        assert_eq!(l.allow_at(t0), Some(0));
        assert_eq!(l.allow_at(t0), Some(0));
        assert_eq!(l.allow_at(t0), None);
        assert_eq!(l.allow_at(t0), None);
        assert_eq!(l.allow_at(t0 + Duration::from_secs(1)), Some(2));
    }

    #[test]
    fn nofile_limit_is_raised_to_hard() {
        let (soft, hard) = raise_nofile_limit().expect("getrlimit");
        assert_eq!(soft, hard);
    }

    #[test]
    fn transient_accept_errors() {
        assert!(transient_accept_error(&io::Error::from_raw_os_error(24)));
        assert!(transient_accept_error(&io::Error::from_raw_os_error(23)));
        assert!(transient_accept_error(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        assert!(!transient_accept_error(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
        assert!(!transient_accept_error(&io::Error::from_raw_os_error(9)));
    }
}
