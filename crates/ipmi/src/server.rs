//! The BMC side of RMCP+ ("lanplus"): what ironbell's virtual BMC answers to `ipmitool -I
//! lanplus` and to this crate's own [`crate::Session`].
//!
//! The same packet code as the client ([`crate::wire`], [`crate::crypto`], the RAKP
//! formulas of [`crate::rakp`]) seen from the other end:
//! - outside a session: RMCP presence ping (ASF) → pong; IPMI v1.5 Get Channel
//!   Authentication Capabilities and Get Channel Cipher Suites (section 22.13, 22.15);
//! - the handshake (section 13.17-13.28): Open Session for cipher suites 3 and 17, RAKP 1
//!   → 2 (with status 0x0D "unauthorized name" for another user), RAKP 3 → 4 (0x0F
//!   "invalid integrity check value" for a wrong password);
//! - in a session (authenticated and encrypted, sequence numbers checked against a sliding
//!   window of 16, idle sessions dropped after 60 s, at most 16 at once): Get Device ID,
//!   Set Session Privilege Level, Close Session, Get Chassis Status, Chassis Control,
//!   Set/Get System Boot Options (parameter 5; other parameters are accepted and ignored);
//!   anything else gets completion code 0xC1.
//!
//! What it is not: no IPMI v1.5 sessions, no Kg, one user, no SOL or other payloads.
//! Malformed datagrams are dropped and counted; the password and keys are never logged.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::commands::{BootDevice, BootOptions, ChassisControl};
use crate::crypto::{Hash, SessionKeys, ct_eq};
use crate::rakp::{Handshake, MAX_PASSWORD, MAX_USERNAME};
use crate::wire::{self, BMC_ADDR, checksum, payload};

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
    commands: AtomicU64,
    malformed: AtomicU64,
}

/// A copy of [`Stats`] at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Sessions established (RAKP 4 sent with status 0).
    pub sessions: u64,
    /// Handshakes refused for a wrong user or password.
    pub auth_failures: u64,
    /// Commands answered inside sessions and before them.
    pub commands: u64,
    /// Datagrams dropped as malformed, unauthenticated or out of window.
    pub malformed: u64,
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            sessions: self.sessions.load(Ordering::Relaxed),
            auth_failures: self.auth_failures.load(Ordering::Relaxed),
            commands: self.commands.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
        }
    }
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sessions kept at once.
const MAX_SESSIONS: usize = 16;
/// Idle time after which a session is dropped.
const IDLE: Duration = Duration::from_secs(60);
/// Largest datagram read.
const MAX_DATAGRAM: usize = 1024;
/// The system GUID reported in RAKP 2 (fixed: one virtual BMC per address).
const GUID: [u8; 16] = *b"ironbell-vbmc-01";

enum Phase {
    /// Open Session answered; waiting for RAKP 1.
    Opened,
    /// RAKP 2 sent.
    Rakp2 { handshake: Handshake, rc: [u8; 16] },
    /// Active.
    Active {
        keys: SessionKeys,
        out_seq: u32,
        in_seq: u32,
    },
}

struct BmcSession {
    peer: SocketAddr,
    console_sid: u32,
    hash: Hash,
    authcode_len: usize,
    phase: Phase,
    last: Instant,
}

struct Server<C> {
    credentials: Credentials,
    chassis: Arc<C>,
    stats: Arc<Stats>,
    sessions: HashMap<u32, BmcSession>,
}

/// A request IPMI message (section 13.8): netFn, rqSeq, cmd, data.
struct Request<'a> {
    netfn: u8,
    rq_seq: u8,
    cmd: u8,
    data: &'a [u8],
}

fn parse_request(m: &[u8]) -> Option<Request<'_>> {
    // rsAddr netFn/LUN chk1 rqAddr rqSeq/LUN cmd data... chk2
    if m.len() < 7 || checksum(&m[..2]) != m[2] || checksum(&m[3..m.len() - 1]) != m[m.len() - 1] {
        return None;
    }
    if m[0] != BMC_ADDR || (m[1] >> 2) & 1 != 0 {
        return None;
    }
    Some(Request {
        netfn: m[1] >> 2,
        rq_seq: m[4] >> 2,
        cmd: m[5],
        data: &m[6..m.len() - 1],
    })
}

/// The response message to `req` with completion code `cc` and `data`.
fn response(req: &Request<'_>, rq_addr: u8, cc: u8, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(8 + data.len());
    m.push(rq_addr);
    m.push((req.netfn | 1) << 2);
    m.push(checksum(&m[..2]));
    m.push(BMC_ADDR);
    m.push(req.rq_seq << 2);
    m.push(req.cmd);
    m.push(cc);
    m.extend_from_slice(data);
    m.push(checksum(&m[3..]));
    m
}

/// The algorithms (authentication, integrity, confidentiality) of suites 3 and 17.
fn suite_of(algs: (u8, u8, u8)) -> Option<(Hash, usize)> {
    match algs {
        (1, 1, 1) => Some((Hash::Sha1, 12)),
        (3, 4, 1) => Some((Hash::Sha256, 16)),
        _ => None,
    }
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    rand::fill(&mut b);
    u32::from_le_bytes(b)
}

impl<C: Chassis> Server<C> {
    async fn datagram(&mut self, d: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        // ASF presence ping (RMCP class 6): answer a pong.
        if d.len() >= 12 && d[0] == wire::RMCP_VERSION && d[3] == 0x06 {
            if d[8] != 0x80 {
                return None;
            }
            let mut pong = vec![0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE];
            pong.extend_from_slice(&[0x40, d[9], 0x00, 0x10]);
            pong.extend_from_slice(&[0x00, 0x00, 0x11, 0xBE, 0, 0, 0, 0, 0x81, 0x00]);
            pong.extend_from_slice(&[0; 6]);
            return Some(pong);
        }
        if d.len() > 4 && d[4] == 0x00 {
            let msg = wire::decode_v15(d)?;
            let req = parse_request(msg)?;
            let reply = self.presession(&req)?;
            return Some(wire::encode_v15(&response(&req, msg[3], reply.0, &reply.1)));
        }
        // An IPMI v2.0 datagram: which session it claims decides how to decode it.
        if d.len() < 16 || d[4] != wire::AUTH_RMCP_PLUS {
            return None;
        }
        let sid = u32::from_le_bytes(d[6..10].try_into().ok()?);
        if sid == 0 {
            let p = wire::decode_v2(d, None)?;
            return self.handshake(p.payload_type, &p.payload, peer);
        }
        let s = self.sessions.get_mut(&sid)?;
        if s.peer != peer {
            return None;
        }
        let Phase::Active { keys, in_seq, .. } = &mut s.phase else {
            return None;
        };
        let p = wire::decode_v2(d, Some(keys))?;
        // Sliding window (section 6.12.13): reject replays and far-off numbers.
        if p.seq == 0 || p.seq <= in_seq.saturating_sub(16) || p.seq > in_seq.saturating_add(16) {
            return None;
        }
        *in_seq = (*in_seq).max(p.seq);
        s.last = Instant::now();
        if p.payload_type != payload::IPMI {
            return None;
        }
        let req = parse_request(&p.payload)?;
        let rq_addr = p.payload[3];
        let (cc, data, close) = self.in_session(sid, &req).await;
        let msg = response(&req, rq_addr, cc, &data);
        let s = self.sessions.get_mut(&sid)?;
        let out = match &mut s.phase {
            Phase::Active { keys, out_seq, .. } => {
                *out_seq = out_seq.wrapping_add(1).max(1);
                wire::encode_v2(payload::IPMI, s.console_sid, *out_seq, &msg, Some(keys))
            }
            _ => return None,
        };
        if close {
            self.sessions.remove(&sid);
        }
        Some(out)
    }

    /// Commands answered outside a session: (completion code, data).
    fn presession(&mut self, req: &Request<'_>) -> Option<(u8, Vec<u8>)> {
        Stats::bump(&self.stats.commands);
        Some(match (req.netfn, req.cmd) {
            // Get Channel Authentication Capabilities (22.13): channel 1; v2.0 extended
            // data; non-null user names; IPMI v2.0 supported.
            (0x06, 0x38) => (0x00, vec![0x01, 0x80, 0x04, 0x02, 0, 0, 0, 0]),
            // Get Channel Cipher Suites (22.15): suites 3 and 17 by algorithm.
            (0x06, 0x54) => {
                let index = req.data.get(2).copied().unwrap_or(0) & 0x3F;
                let records: &[u8] = &[0xC0, 0x03, 0x01, 0x41, 0x81, 0xC0, 0x11, 0x03, 0x44, 0x81];
                let start = usize::from(index) * 16;
                let chunk = records.get(start..).unwrap_or(&[]);
                let mut data = vec![0x01];
                data.extend_from_slice(&chunk[..chunk.len().min(16)]);
                (0x00, data)
            }
            _ => (0xC1, Vec::new()),
        })
    }

    fn handshake(&mut self, kind: u8, p: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        match kind {
            payload::OPEN_REQUEST => self.open_session(p, peer),
            payload::RAKP1 => self.rakp1(p, peer),
            payload::RAKP3 => self.rakp3(p, peer),
            _ => None,
        }
    }

    /// Open Session Request → Response (13.17, 13.18).
    fn open_session(&mut self, p: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        if p.len() < 32 {
            return None;
        }
        let tag = p[0];
        let console_sid = u32::from_le_bytes(p[4..8].try_into().ok()?);
        let algs = (p[12], p[20], p[28]);
        let reply = |status: u8, bmc_sid: u32| {
            let mut r = vec![tag, status, 0x04, 0];
            r.extend_from_slice(&console_sid.to_le_bytes());
            r.extend_from_slice(&bmc_sid.to_le_bytes());
            for (k, a) in [(0u8, algs.0), (1, algs.1), (2, algs.2)] {
                r.extend_from_slice(&[k, 0, 0, 8, a, 0, 0, 0]);
            }
            wire::encode_v2(payload::OPEN_RESPONSE, 0, 0, &r, None)
        };
        let Some((hash, authcode_len)) = suite_of(algs) else {
            // 0x11: no cipher suite match with proposed security algorithms.
            return Some(reply(0x11, 0));
        };
        self.expire();
        if self.sessions.len() >= MAX_SESSIONS {
            return Some(reply(0x01, 0));
        }
        let mut bmc_sid = random_u32();
        while bmc_sid == 0 || self.sessions.contains_key(&bmc_sid) {
            bmc_sid = random_u32();
        }
        self.sessions.insert(
            bmc_sid,
            BmcSession {
                peer,
                console_sid,
                hash,
                authcode_len,
                phase: Phase::Opened,
                last: Instant::now(),
            },
        );
        Some(reply(0x00, bmc_sid))
    }

    /// RAKP 1 → 2 (13.20, 13.21).
    fn rakp1(&mut self, p: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        if p.len() < 28 {
            return None;
        }
        let tag = p[0];
        let bmc_sid = u32::from_le_bytes(p[4..8].try_into().ok()?);
        let rm: [u8; 16] = p[8..24].try_into().ok()?;
        let role = p[24];
        let ulen = usize::from(p[27]);
        let user = p.get(28..28 + ulen)?;
        let s = self.sessions.get_mut(&bmc_sid)?;
        if s.peer != peer || !matches!(s.phase, Phase::Opened) {
            return None;
        }
        let console_sid = s.console_sid;
        let reply = |status: u8, body: &[u8]| {
            let mut r = vec![tag, status, 0, 0];
            r.extend_from_slice(&console_sid.to_le_bytes());
            r.extend_from_slice(body);
            wire::encode_v2(payload::RAKP2, 0, 0, &r, None)
        };
        let name_ok = ulen <= MAX_USERNAME
            && ct_eq(user, self.credentials.username.as_bytes())
            && self.credentials.password.len() <= MAX_PASSWORD;
        // Privilege: ADMINISTRATOR or lower; only name-only lookup makes sense here.
        if !name_ok || role & 0x0F > 0x04 {
            Stats::bump(&self.stats.auth_failures);
            self.sessions.remove(&bmc_sid);
            tracing::info!(%peer, "ipmi: session refused: unauthorized name");
            return Some(reply(0x0D, &[]));
        }
        let mut handshake = Handshake::with_rm(
            s.hash,
            console_sid,
            bmc_sid,
            user,
            self.credentials.password.as_bytes(),
            rm,
        );
        handshake.role = role;
        let mut rc = [0u8; 16];
        rand::fill(&mut rc);
        let code = handshake.rakp2_code(&rc, &GUID);
        let mut body = rc.to_vec();
        body.extend_from_slice(&GUID);
        body.extend_from_slice(&code);
        s.phase = Phase::Rakp2 { handshake, rc };
        s.last = Instant::now();
        Some(reply(0x00, &body))
    }

    /// RAKP 3 → 4 (13.22, 13.23).
    fn rakp3(&mut self, p: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        if p.len() < 8 {
            return None;
        }
        let tag = p[0];
        let status = p[1];
        let bmc_sid = u32::from_le_bytes(p[4..8].try_into().ok()?);
        let s = self.sessions.get_mut(&bmc_sid)?;
        if s.peer != peer {
            return None;
        }
        let Phase::Rakp2 { handshake, rc } = &s.phase else {
            return None;
        };
        let console_sid = s.console_sid;
        let reply = |status: u8, icv: &[u8]| {
            let mut r = vec![tag, status, 0, 0];
            r.extend_from_slice(&console_sid.to_le_bytes());
            r.extend_from_slice(icv);
            wire::encode_v2(payload::RAKP4, 0, 0, &r, None)
        };
        if status != 0 {
            // The console gave up (e.g. our RAKP 2 did not verify: a wrong password).
            Stats::bump(&self.stats.auth_failures);
            self.sessions.remove(&bmc_sid);
            tracing::info!(%peer, "ipmi: session abandoned by the console (status {status:#04x})");
            return None;
        }
        let expected = handshake.rakp3(tag, 0, rc);
        if !ct_eq(&expected[8..], &p[8..]) {
            Stats::bump(&self.stats.auth_failures);
            self.sessions.remove(&bmc_sid);
            tracing::info!(%peer, "ipmi: session refused: wrong password");
            return Some(reply(0x0F, &[]));
        }
        let sik = handshake.sik(rc);
        let icv = handshake.rakp4_icv(&sik, &GUID);
        let keys = SessionKeys::derive(s.hash, &sik, s.authcode_len);
        s.phase = Phase::Active {
            keys,
            out_seq: 0,
            in_seq: 0,
        };
        s.last = Instant::now();
        Stats::bump(&self.stats.sessions);
        tracing::debug!(%peer, "ipmi: session established");
        Some(reply(0x00, &icv))
    }

    /// A command in an active session: (completion code, data, close the session after).
    async fn in_session(&mut self, sid: u32, req: &Request<'_>) -> (u8, Vec<u8>, bool) {
        Stats::bump(&self.stats.commands);
        let failed = |e: ChassisError| {
            tracing::warn!("ipmi: the machine did not carry out the command: {e}");
            (0xFF, Vec::new(), false)
        };
        match (req.netfn, req.cmd) {
            // Get Device ID (20.1): device 0x20, rev 1, firmware 1.0, IPMI 2.0.
            (0x06, 0x01) => (
                0x00,
                vec![0x20, 0x01, 0x01, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0],
                false,
            ),
            // Set Session Privilege Level (22.18): up to ADMINISTRATOR.
            (0x06, 0x3B) => match req.data.first().copied().unwrap_or(0) {
                0 => (0x00, vec![0x04], false),
                l @ 1..=4 => (0x00, vec![l], false),
                _ => (0x80, Vec::new(), false),
            },
            // Close Session (22.19).
            (0x06, 0x3C) => {
                let target = req
                    .data
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_le_bytes);
                let close = target.is_none_or(|t| t == sid);
                if !close && let Some(t) = target {
                    self.sessions.remove(&t);
                }
                (0x00, Vec::new(), close)
            }
            // Get Chassis Status (28.2).
            (0x00, 0x01) => match self.chassis.power_is_on().await {
                Ok(on) => (0x00, vec![u8::from(on), 0x00, 0x00], false),
                Err(e) => failed(e),
            },
            // Chassis Control (28.3).
            (0x00, 0x02) => {
                let action = match req.data.first().map(|b| b & 0x0F) {
                    Some(0x00) => ChassisControl::PowerDown,
                    Some(0x01) => ChassisControl::PowerUp,
                    Some(0x02) => ChassisControl::PowerCycle,
                    Some(0x03) => ChassisControl::HardReset,
                    Some(0x05) => ChassisControl::SoftShutdown,
                    Some(_) => return (0xCC, Vec::new(), false),
                    None => return (0xC7, Vec::new(), false),
                };
                tracing::debug!("ipmi: chassis control {action}");
                match self.chassis.control(action).await {
                    Ok(()) => (0x00, Vec::new(), false),
                    Err(e) => failed(e),
                }
            }
            // Set System Boot Options (28.12): parameter 5 sets the device; others are
            // accepted (ipmitool writes 3 and 4 around it) and ignored.
            (0x00, 0x08) => {
                let Some(param) = req.data.first().map(|b| b & 0x7F) else {
                    return (0xC7, Vec::new(), false);
                };
                if param != 5 {
                    return (0x00, Vec::new(), false);
                }
                let Some(flags) = req.data.get(1..6) else {
                    return (0xC7, Vec::new(), false);
                };
                let device = BootDevice::from_selector(flags[1] >> 2);
                let options = BootOptions {
                    persistent: flags[0] & 0x40 != 0,
                    efi: flags[0] & 0x20 != 0,
                };
                if flags[0] & 0x80 == 0 {
                    return (0x00, Vec::new(), false);
                }
                tracing::debug!(
                    "ipmi: boot device {device} {}{}",
                    if options.persistent {
                        "persistent"
                    } else {
                        "once"
                    },
                    if options.efi { ", EFI" } else { "" }
                );
                match self.chassis.set_boot_device(device, options).await {
                    Ok(()) => (0x00, Vec::new(), false),
                    Err(e) => failed(e),
                }
            }
            // Get System Boot Options (28.13), parameter 5.
            (0x00, 0x09) => {
                let param = req.data.first().map(|b| b & 0x7F).unwrap_or(0);
                if param != 5 {
                    return (0x80, Vec::new(), false);
                }
                match self.chassis.boot_device().await {
                    Ok((device, options)) => {
                        let mut b1 = 0x80;
                        if options.persistent {
                            b1 |= 0x40;
                        }
                        if options.efi {
                            b1 |= 0x20;
                        }
                        (
                            0x00,
                            vec![0x01, 0x05, b1, device.selector() << 2, 0, 0, 0],
                            false,
                        )
                    }
                    Err(e) => failed(e),
                }
            }
            _ => (0xC1, Vec::new(), false),
        }
    }

    fn expire(&mut self) {
        let now = Instant::now();
        self.sessions
            .retain(|_, s| now.duration_since(s.last) < IDLE);
    }
}

/// Serves RMCP+ on `socket` for `chassis` until `shutdown` completes.
pub async fn serve<C: Chassis>(
    socket: UdpSocket,
    credentials: Credentials,
    chassis: Arc<C>,
    stats: Arc<Stats>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut server = Server {
        credentials,
        chassis,
        stats,
        sessions: HashMap::new(),
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    tokio::pin!(shutdown);
    loop {
        let (n, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                // ICMP errors from earlier sends surface here; keep serving.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(e),
            },
            () = &mut shutdown => return Ok(()),
        };
        match server.datagram(&buf[..n], peer).await {
            Some(reply) => {
                let _ = socket.send_to(&reply, peer).await;
            }
            None => Stats::bump(&server.stats.malformed),
        }
    }
}
