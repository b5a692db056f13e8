//! The BMC side of RMCP+ ("lanplus"): what ironbell's virtual BMC answers to `ipmitool -I
//! lanplus` and to this crate's own [`crate::Session`].
//!
//! The same packet code as the client (the crate's `wire`, `crypto` and the RAKP formulas
//! of `rakp`) seen from the other end:
//! - outside a session: RMCP presence ping (ASF) → pong; IPMI v1.5 Get Channel
//!   Authentication Capabilities and Get Channel Cipher Suites (section 22.13, 22.15);
//! - the handshake (`handshake`, section 13.17-13.28): Open Session for cipher suites 3
//!   and 17, RAKP 1 → 2 (status 0x0D "unauthorized name" for another user, 0x09 "invalid
//!   role" for OEM or reserved levels), RAKP 3 → 4 (0x0F "invalid integrity check value"
//!   for a wrong password). A handshake not finished within 5 s is dropped and counted as
//!   an authentication failure;
//! - in a session (`session`: authenticated and encrypted; each sequence number executed
//!   at most once, checked against a sliding window with a bitmask of the numbers seen;
//!   a retransmitted request (the same session sequence number, or the same IPMI message
//!   with its rqSeq under a new one, as ipmitool retransmits) is answered from a cache of
//!   the last 8 replies, never run again; idle sessions dropped after 60 s; at most 16
//!   sessions at once): the commands of `commands`, each checked against the session's
//!   current privilege level (USER at first, raised by Set Session Privilege Level up to
//!   the maximum asked for in RAKP 1): Get Device ID, Get Chassis Status, Get System Boot
//!   Options (USER); Chassis Control, Set System Boot Options (OPERATOR; parameter 5,
//!   others accepted and ignored); Set Session Privilege Level, Close Session (any level;
//!   closing another session takes ADMINISTRATOR). A command above the current level
//!   gets 0xD4, an unknown one 0xC1.
//!
//! Start reading at [`serve`] and `Server::datagram`; the timeouts and the session limit
//! are [`Limits`], the counters [`Stats`].
//!
//! What it is not: no IPMI v1.5 sessions, no Kg, one user (with ADMINISTRATOR as its
//! limit), no SOL or other payloads, no user or channel configuration commands. Malformed
//! datagrams are dropped and counted; the password and keys are never logged.

mod commands;
mod handshake;
#[cfg(any(test, feature = "fuzzing"))]
mod harness;
mod session;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use self::harness::fuzz;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use self::commands::{Levels, parse_request, response};
use self::session::{BmcSession, Phase, Seq};
use crate::commands::{BootDevice, BootOptions, ChassisControl};
use crate::crypto::ct_eq;
use crate::wire::{self, payload};

/// What the BMC controls. Implemented by the virtual BMC for a QEMU machine.
pub trait Chassis: Send + Sync + 'static {
    /// Whether the machine is powered on.
    fn power_is_on(&self) -> impl Future<Output = Result<bool, ChassisError>> + Send;
    /// Carries out a Chassis Control command.
    fn control(
        &self,
        action: ChassisControl,
    ) -> impl Future<Output = Result<(), ChassisError>> + Send;
    /// Sets the boot device (Set System Boot Options, parameter 5).
    fn set_boot_device(
        &self,
        device: BootDevice,
        options: BootOptions,
    ) -> impl Future<Output = Result<(), ChassisError>> + Send;
    /// The boot device now set (Get System Boot Options, parameter 5).
    fn boot_device(
        &self,
    ) -> impl Future<Output = Result<(BootDevice, BootOptions), ChassisError>> + Send;
}

/// A failure of the controlled machine; answered with completion code 0xFF and logged.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ChassisError(pub String);

/// The one user the BMC accepts.
pub struct Credentials {
    /// User name (at most 16 bytes).
    pub username: String,
    /// Password (at most 20 bytes).
    pub password: String,
}

impl Credentials {
    /// Whether `user` and `password` are this user's (compared in constant time).
    pub fn matches(&self, user: &str, password: &str) -> bool {
        ct_eq(user.as_bytes(), self.username.as_bytes())
            & ct_eq(password.as_bytes(), self.password.as_bytes())
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

/// Counters of one BMC.
#[derive(Debug, Default)]
pub struct Stats {
    sessions: AtomicU64,
    auth_failures: AtomicU64,
    handshake_timeouts: AtomicU64,
    idle_expired: AtomicU64,
    commands: AtomicU64,
    privilege_denied: AtomicU64,
    retransmissions: AtomicU64,
    replays: AtomicU64,
    malformed: AtomicU64,
    active_sessions: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Sessions established (RAKP 4 sent with status 0).
    pub sessions: u64,
    /// Handshakes refused for a wrong user, role or password, abandoned by the console, or
    /// not finished in time.
    pub auth_failures: u64,
    /// Handshakes dropped for not reaching RAKP 4 in time (also in `auth_failures`).
    pub handshake_timeouts: u64,
    /// Established sessions dropped for being idle.
    pub idle_expired: u64,
    /// Commands executed inside sessions and before them (not retransmissions).
    pub commands: u64,
    /// Commands refused with 0xD4 (insufficient privilege level).
    pub privilege_denied: u64,
    /// Retransmitted requests (a sequence number seen before) answered from the reply
    /// cache without executing them again.
    pub retransmissions: u64,
    /// Authenticated datagrams dropped as replays: a sequence number seen before whose
    /// reply is no longer cached, or one too far behind the window.
    pub replays: u64,
    /// Datagrams dropped as malformed, unauthenticated, from the wrong peer, or too far
    /// ahead of the window.
    pub malformed: u64,
    /// Sessions held now, in the handshake or established.
    pub active_sessions: u64,
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            sessions: get(&self.sessions),
            auth_failures: get(&self.auth_failures),
            handshake_timeouts: get(&self.handshake_timeouts),
            idle_expired: get(&self.idle_expired),
            commands: get(&self.commands),
            privilege_denied: get(&self.privilege_denied),
            retransmissions: get(&self.retransmissions),
            replays: get(&self.replays),
            malformed: get(&self.malformed),
            active_sessions: get(&self.active_sessions),
        }
    }
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Timeouts and sizes of a BMC; [`Limits::default`] is what [`serve`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time from Open Session to RAKP 4 after which a half-open session is dropped and
    /// counted as an authentication failure (default 5 s).
    pub handshake_timeout: Duration,
    /// Time without an accepted datagram after which an established session is dropped
    /// (default 60 s).
    pub idle_timeout: Duration,
    /// Sessions held at once, in the handshake or established (default 16).
    pub max_sessions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            max_sessions: 16,
        }
    }
}

impl Limits {
    /// How often expired sessions are looked for: a quarter of the shorter timeout,
    /// between 10 ms and 1 s.
    fn sweep_interval(&self) -> Duration {
        (self.handshake_timeout.min(self.idle_timeout) / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

/// Largest datagram read.
const MAX_DATAGRAM: usize = 1024;
/// The system GUID reported in RAKP 2 (fixed: one virtual BMC per address).
const GUID: [u8; 16] = *b"ironbell-vbmc-01";

/// Why a datagram got no answer; each reason has its counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dropped {
    /// Malformed, unauthenticated, unknown session, wrong peer: [`StatsSnapshot::malformed`].
    Malformed,
    /// An authenticated duplicate without a cached reply: [`StatsSnapshot::replays`].
    Replay,
}

use Dropped::Malformed;

struct Server<C> {
    credentials: Credentials,
    chassis: Arc<C>,
    stats: Arc<Stats>,
    limits: Limits,
    sessions: HashMap<u32, BmcSession>,
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    rand::fill(&mut b);
    u32::from_le_bytes(b)
}

impl<C: Chassis> Server<C> {
    /// One datagram from `peer`: the answer to send, or why there is none.
    async fn datagram(&mut self, d: &[u8], peer: SocketAddr) -> Result<Vec<u8>, Dropped> {
        // ASF presence ping (RMCP class 6): answer a pong.
        if d.len() >= 12 && d[0] == wire::RMCP_VERSION && d[3] == 0x06 {
            if d[8] != 0x80 {
                return Err(Malformed);
            }
            let mut pong = vec![0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE];
            pong.extend_from_slice(&[0x40, d[9], 0x00, 0x10]);
            pong.extend_from_slice(&[0x00, 0x00, 0x11, 0xBE, 0, 0, 0, 0, 0x81, 0x00]);
            pong.extend_from_slice(&[0; 6]);
            return Ok(pong);
        }
        if d.len() > 4 && d[4] == 0x00 {
            let msg = wire::decode_v15(d).ok_or(Malformed)?;
            let req = parse_request(msg).ok_or(Malformed)?;
            let answer = self.presession(&req);
            return Ok(wire::encode_v15(&response(&req, &answer)));
        }
        // An IPMI v2.0 datagram: which session it claims decides how to decode it.
        if d.len() < 16 || d[4] != wire::AUTH_RMCP_PLUS {
            return Err(Malformed);
        }
        let sid = u32::from_le_bytes(d[6..10].try_into().map_err(|_| Malformed)?);
        if sid == 0 {
            let p = wire::decode_v2(d, None).ok_or(Malformed)?;
            return self
                .handshake(p.payload_type, &p.payload, peer)
                .ok_or(Malformed);
        }
        self.in_session(sid, d, peer).await
    }

    /// A datagram for the session `sid`: authenticated, checked against the window,
    /// answered from the reply cache if it is a retransmission, executed otherwise.
    async fn in_session(
        &mut self,
        sid: u32,
        d: &[u8],
        peer: SocketAddr,
    ) -> Result<Vec<u8>, Dropped> {
        let s = self.sessions.get_mut(&sid).ok_or(Malformed)?;
        if s.peer != peer {
            return Err(Malformed);
        }
        let Phase::Active(a) = &mut s.phase else {
            return Err(Malformed);
        };
        // Integrity first: only authenticated datagrams may move the window.
        let p = wire::decode_v2(d, Some(&a.keys)).ok_or(Malformed)?;
        let seq = p.seq;
        let retransmission = |a: &session::Active| {
            a.replies
                .by_seq(seq)
                .or_else(|| a.replies.by_request(&p.payload))
                .map(<[u8]>::to_vec)
        };
        match a.window.accept(seq) {
            Seq::New => {}
            Seq::Duplicate => {
                return match retransmission(a) {
                    Some(r) => {
                        Stats::bump(&self.stats.retransmissions);
                        tracing::debug!(%peer, seq, "ipmi: duplicate answered from the reply cache");
                        s.last = Instant::now();
                        Ok(r)
                    }
                    None => {
                        tracing::debug!(%peer, seq, "ipmi: duplicate sequence number dropped");
                        Err(Dropped::Replay)
                    }
                };
            }
            Seq::TooOld => {
                tracing::debug!(%peer, seq, "ipmi: sequence number behind the window dropped");
                return Err(Dropped::Replay);
            }
            Seq::Invalid => {
                tracing::debug!(%peer, seq, "ipmi: sequence number ahead of the window dropped");
                return Err(Malformed);
            }
        }
        s.last = Instant::now();
        if p.payload_type != payload::IPMI {
            return Err(Malformed);
        }
        // A retransmission under a new sequence number (ipmitool's way): the same
        // answer, not a second execution.
        if let Some(r) = a.replies.by_request(&p.payload) {
            Stats::bump(&self.stats.retransmissions);
            tracing::debug!(%peer, seq, "ipmi: retransmitted request answered from the reply cache");
            return Ok(r.to_vec());
        }
        let req = parse_request(&p.payload).ok_or(Malformed)?;
        let mut levels = Levels {
            max: a.max,
            current: a.current,
        };
        let answer = self.in_session_command(sid, &mut levels, &req).await;
        let msg = response(&req, &answer);
        // The command may have closed other sessions, never this one (it closes below).
        let s = self.sessions.get_mut(&sid).ok_or(Malformed)?;
        let Phase::Active(a) = &mut s.phase else {
            return Err(Malformed);
        };
        a.current = levels.current;
        a.out_seq = a.out_seq.wrapping_add(1).max(1);
        let out = wire::encode_v2(payload::IPMI, s.console_sid, a.out_seq, &msg, Some(&a.keys));
        if answer.close {
            self.sessions.remove(&sid);
            tracing::debug!(%peer, "ipmi: session closed");
        } else {
            a.replies.insert(seq, &p.payload, out.clone());
        }
        Ok(out)
    }

    /// Drops half-open sessions older than the handshake timeout (an authentication
    /// failure each) and established ones idle for longer than the idle timeout.
    fn sweep(&mut self, now: Instant) {
        let Limits {
            handshake_timeout,
            idle_timeout,
            ..
        } = self.limits;
        let stats = &self.stats;
        self.sessions.retain(|_, s| {
            if s.is_active() {
                let keep = now.saturating_duration_since(s.last) < idle_timeout;
                if !keep {
                    Stats::bump(&stats.idle_expired);
                    tracing::debug!(peer = %s.peer, "ipmi: idle session dropped");
                }
                keep
            } else {
                let keep = now.saturating_duration_since(s.opened) < handshake_timeout;
                if !keep {
                    Stats::bump(&stats.auth_failures);
                    Stats::bump(&stats.handshake_timeouts);
                    tracing::info!(peer = %s.peer, "ipmi: handshake not finished in time: session dropped");
                }
                keep
            }
        });
        self.publish();
    }

    /// Updates the gauge of sessions held.
    fn publish(&self) {
        self.stats
            .active_sessions
            .store(self.sessions.len() as u64, Ordering::Relaxed);
    }
}

/// Serves RMCP+ on `socket` for `chassis` with the default [`Limits`] until `shutdown`
/// completes.
pub async fn serve<C: Chassis>(
    socket: UdpSocket,
    credentials: Credentials,
    chassis: Arc<C>,
    stats: Arc<Stats>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with_limits(
        socket,
        credentials,
        chassis,
        stats,
        Limits::default(),
        shutdown,
    )
    .await
}

/// Serves RMCP+ on `socket` for `chassis` with `limits` until `shutdown` completes.
/// Expired sessions are swept periodically, whether datagrams arrive or not.
pub async fn serve_with_limits<C: Chassis>(
    socket: UdpSocket,
    credentials: Credentials,
    chassis: Arc<C>,
    stats: Arc<Stats>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut server = Server {
        credentials,
        chassis,
        stats,
        limits,
        sessions: HashMap::new(),
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut sweep = tokio::time::interval(limits.sweep_interval());
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        let (n, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                // ICMP errors from earlier sends surface here; keep serving.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            },
            _ = sweep.tick() => {
                server.sweep(Instant::now());
                continue;
            }
            () = &mut shutdown => return Ok(()),
        };
        match server.datagram(&buf[..n], peer).await {
            Ok(reply) => {
                let _ = socket.send_to(&reply, peer).await;
            }
            Err(Dropped::Malformed) => Stats::bump(&server.stats.malformed),
            Err(Dropped::Replay) => Stats::bump(&server.stats.replays),
        }
        server.publish();
    }
}

#[cfg(test)]
mod tests {
    //! The server driven in-process, datagram by datagram, by the client's own handshake
    //! code: what needs a session's keys to construct.

    use super::harness::*;
    use super::*;
    use crate::config::CipherSuite;
    use crate::crypto::Hash;
    use crate::rakp::{self, Handshake};

    #[test]
    fn the_rakp1_role_caps_the_session() {
        let mut s = server();
        let Ok((keys, sid)) = establish(&mut s, 0x12) else {
            panic!("no session at USER");
        };
        let set = |s: &mut Server<Counting>, seq, level| {
            answer(s, &keys, &request(&keys, sid, seq, 0x06, 0x3B, &[level]))
        };
        assert_eq!(set(&mut s, 1, 4).map(|a| a.0), Some(0x81));
        assert_eq!(set(&mut s, 2, 3).map(|a| a.0), Some(0x81));
        assert_eq!(set(&mut s, 3, 2), Some((0, vec![2])));
        let on = request(&keys, sid, 4, 0x00, 0x02, &[0x01]);
        assert_eq!(answer(&mut s, &keys, &on).map(|a| a.0), Some(0xD4));
        let status = request(&keys, sid, 5, 0x00, 0x01, &[]);
        assert_eq!(answer(&mut s, &keys, &status).map(|a| a.0), Some(0));
        assert!(s.chassis.0.lock().map(|l| l.is_empty()).unwrap_or(false));
        assert_eq!(s.stats.snapshot().privilege_denied, 1);

        // OPERATOR asked for: the session starts at USER all the same.
        let Ok((keys, sid)) = establish(&mut s, 0x13) else {
            panic!("no session at OPERATOR");
        };
        let on = request(&keys, sid, 1, 0x00, 0x02, &[0x01]);
        assert_eq!(answer(&mut s, &keys, &on).map(|a| a.0), Some(0xD4));
        let raise = request(&keys, sid, 2, 0x06, 0x3B, &[3]);
        assert_eq!(answer(&mut s, &keys, &raise), Some((0, vec![3])));
        let on = request(&keys, sid, 3, 0x00, 0x02, &[0x01]);
        assert_eq!(answer(&mut s, &keys, &on).map(|a| a.0), Some(0));
        assert_eq!(s.chassis.0.lock().map(|l| l.len()).unwrap_or(0), 1);

        // OEM and reserved roles are refused in RAKP 2.
        assert_eq!(establish(&mut s, 0x15).err(), Some(0x09));
        assert_eq!(establish(&mut s, 0x10).err(), Some(0x09));
    }

    #[test]
    fn tampered_in_session_datagrams_neither_run_nor_move_the_window() {
        let mut s = server();
        let Ok((keys, sid)) = establish(&mut s, 0x14) else {
            panic!("no session");
        };
        let raise = request(&keys, sid, 1, 0x06, 0x3B, &[4]);
        assert_eq!(answer(&mut s, &keys, &raise), Some((0, vec![4])));
        let on = request(&keys, sid, 2, 0x00, 0x02, &[0x01]);
        let peer = SocketAddr::from(PEER);
        let before = s.stats.snapshot();
        let mut tampered = 0u64;
        for i in 0..on.len() {
            // RMCP bytes 1 and 2 are covered by no integrity check (see `wire`).
            if i == 1 || i == 2 {
                continue;
            }
            for bit in [0x01, 0x80] {
                let mut bad = on.clone();
                bad[i] ^= bit;
                assert!(block_on(s.datagram(&bad, peer)).is_err(), "byte {i}");
                tampered += 1;
            }
        }
        for n in 0..on.len() {
            assert!(block_on(s.datagram(&on[..n], peer)).is_err(), "length {n}");
        }
        // Another sequence number ahead of the window, and 0.
        for seq in [0, 100] {
            let far = request(&keys, sid, seq, 0x00, 0x02, &[0x01]);
            assert_eq!(block_on(s.datagram(&far, peer)), Err(Dropped::Malformed));
        }
        assert!(s.chassis.0.lock().map(|l| l.is_empty()).unwrap_or(false));
        assert_eq!(s.stats.snapshot().commands, before.commands);
        assert!(tampered > 0);
        // The genuine datagram still runs, once.
        assert_eq!(answer(&mut s, &keys, &on).map(|a| a.0), Some(0));
        let replay = block_on(s.datagram(&on, peer));
        assert!(replay.is_ok(), "cached answer");
        assert_eq!(s.chassis.0.lock().map(|l| l.len()).unwrap_or(0), 1);
        // From another address: dropped.
        let elsewhere = SocketAddr::from(([192, 0, 2, 10], 50000));
        assert_eq!(
            block_on(s.datagram(&on, elsewhere)),
            Err(Dropped::Malformed)
        );
    }

    #[test]
    fn a_rakp_message_sent_again_gets_the_same_answer() {
        let mut s = server();
        let peer = SocketAddr::from(PEER);
        let bmc_sid = open_session(&mut s, 0x2222, CipherSuite::Suite3);
        let hs = Handshake::new(Hash::Sha1, 0x2222, bmc_sid, b"admin", b"pw");
        let rakp1 = wire::encode_v2(payload::RAKP1, 0, 0, &hs.rakp1(1), None);
        let first = block_on(s.datagram(&rakp1, peer));
        assert!(first.is_ok());
        assert_eq!(block_on(s.datagram(&rakp1, peer)), first);
        let p = first.ok().and_then(|d| wire::decode_v2(&d, None));
        let Some(r2) = p.and_then(|p| rakp::parse_rakp2(&p.payload, 20)) else {
            panic!("no RAKP 2");
        };
        let rakp3 = wire::encode_v2(payload::RAKP3, 0, 0, &hs.rakp3(1, 0, &r2.rc), None);
        let first = block_on(s.datagram(&rakp3, peer));
        assert!(first.is_ok());
        assert_eq!(block_on(s.datagram(&rakp3, peer)), first);
        // From elsewhere, or changed: dropped.
        let elsewhere = SocketAddr::from(([192, 0, 2, 10], 50000));
        assert!(block_on(s.datagram(&rakp3, elsewhere)).is_err());
        let other = wire::encode_v2(payload::RAKP3, 0, 0, &hs.rakp3(2, 0, &r2.rc), None);
        assert!(block_on(s.datagram(&other, peer)).is_err());
        assert_eq!(s.sessions.len(), 1);
        assert!(s.sessions.values().all(BmcSession::is_active));
        assert_eq!(s.stats.snapshot().sessions, 1);
    }
}
