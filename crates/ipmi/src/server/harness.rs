//! An in-process BMC driven datagram by datagram with the client's own handshake code:
//! for the unit tests (what needs a session's keys to construct) and the fuzz target
//! `ipmi_server` ([`super::fuzz`], feature `fuzzing`).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::{Chassis, ChassisError, Credentials, Limits, Server, Stats};
use crate::commands::{BootDevice, BootOptions, ChassisControl};
use crate::config::CipherSuite;
use crate::crypto::{Hash, SessionKeys};
use crate::rakp::{self, Handshake};
use crate::wire::{self, payload};

pub(super) const PEER: ([u8; 4], u16) = ([192, 0, 2, 9], 50000);

/// A chassis that records the controls it is asked for and is always off.
#[derive(Default)]
pub(super) struct Counting(pub(super) Mutex<Vec<ChassisControl>>);

impl Chassis for Counting {
    async fn power_is_on(&self) -> Result<bool, ChassisError> {
        Ok(false)
    }
    async fn control(&self, action: ChassisControl) -> Result<(), ChassisError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(action);
        Ok(())
    }
    async fn set_boot_device(&self, _: BootDevice, _: BootOptions) -> Result<(), ChassisError> {
        Ok(())
    }
    async fn boot_device(&self) -> Result<(BootDevice, BootOptions), ChassisError> {
        Ok((BootDevice::NoOverride, BootOptions::default()))
    }
}

pub(super) fn server() -> Server<Counting> {
    Server {
        credentials: Credentials {
            username: "admin".into(),
            password: "pw".into(),
        },
        chassis: Arc::new(Counting::default()),
        stats: Arc::new(Stats::default()),
        limits: Limits::default(),
        sessions: HashMap::new(),
    }
}

/// Runs `f` to completion on this thread's runtime (one per thread, built on first use:
/// the fuzz target runs thousands of datagrams a second through it).
pub(super) fn block_on<T>(f: impl Future<Output = T>) -> T {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime =
            match tokio::runtime::Builder::new_current_thread().build() {
                Ok(rt) => rt,
                Err(e) => panic!("runtime: {e}"),
            };
    }
    RUNTIME.with(|rt| rt.block_on(f))
}

/// Sends Open Session for `suite` with console session ID `console`: the BMC's
/// session ID (0 if it gave none).
pub(super) fn open_session(s: &mut Server<Counting>, console: u32, suite: CipherSuite) -> u32 {
    let open = rakp::open_session_request(1, console, suite);
    let r = block_on(s.datagram(
        &wire::encode_v2(payload::OPEN_REQUEST, 0, 0, &open, None),
        SocketAddr::from(PEER),
    ));
    let p = r.ok().and_then(|d| wire::decode_v2(&d, None));
    let o = p.and_then(|p| rakp::parse_open_session_response(&p.payload));
    o.map(|o| o.bmc_sid).unwrap_or(0)
}

/// A session established with RAKP 1 role `role`: (keys, BMC session ID), or the
/// RAKP 2 status.
#[cfg(test)]
pub(super) fn establish(s: &mut Server<Counting>, role: u8) -> Result<(SessionKeys, u32), u8> {
    establish_with(s, role, CipherSuite::Suite17)
}

/// [`establish`] with cipher suite `suite` (3 or 17).
pub(super) fn establish_with(
    s: &mut Server<Counting>,
    role: u8,
    suite: CipherSuite,
) -> Result<(SessionKeys, u32), u8> {
    let peer = SocketAddr::from(PEER);
    let bmc_sid = open_session(s, 0x1111, suite);
    // The hash, its length (RAKP 2's key exchange code) and the integrity code's length.
    let (hash, code_len, icv_len) = match suite {
        CipherSuite::Suite3 => (Hash::Sha1, 20, 12),
        CipherSuite::Suite17 => (Hash::Sha256, 32, 16),
    };
    let mut hs = Handshake::new(hash, 0x1111, bmc_sid, b"admin", b"pw");
    hs.role = role;
    let r = block_on(s.datagram(
        &wire::encode_v2(payload::RAKP1, 0, 0, &hs.rakp1(1), None),
        peer,
    ));
    let p = r.ok().and_then(|d| wire::decode_v2(&d, None));
    let r2 = p
        .and_then(|p| rakp::parse_rakp2(&p.payload, code_len))
        .ok_or(0xFF)?;
    if r2.status != 0 {
        return Err(r2.status);
    }
    let r = block_on(s.datagram(
        &wire::encode_v2(payload::RAKP3, 0, 0, &hs.rakp3(1, 0, &r2.rc), None),
        peer,
    ));
    let p = r.ok().and_then(|d| wire::decode_v2(&d, None));
    let r4 = p.and_then(|p| rakp::parse_rakp4(&p.payload, icv_len));
    if r4.map(|r| r.status) != Some(0) {
        return Err(0xFE);
    }
    let keys = SessionKeys::derive(hash, &hs.sik(&r2.rc), icv_len);
    Ok((keys, bmc_sid))
}

pub(super) fn request(
    keys: &SessionKeys,
    sid: u32,
    seq: u32,
    netfn: u8,
    cmd: u8,
    data: &[u8],
) -> Vec<u8> {
    let msg = wire::ipmi_request(netfn, (seq & 0x3F) as u8, cmd, data);
    wire::encode_v2(payload::IPMI, sid, seq, &msg, Some(keys))
}

/// The completion code and data of the answer to `d`.
#[cfg(test)]
pub(super) fn answer(
    s: &mut Server<Counting>,
    keys: &SessionKeys,
    d: &[u8],
) -> Option<(u8, Vec<u8>)> {
    let r = block_on(s.datagram(d, SocketAddr::from(PEER))).ok()?;
    let p = wire::decode_v2(&r, Some(keys))?;
    wire::ipmi_response(&p.payload).map(|r| (r.ccode, r.data))
}

/// The fuzz target `ipmi_server`: `input` is a list of datagrams for one BMC, from one peer.
/// Its first byte chooses whether a session is established first (bit 0; suite 17 if bit 1,
/// else 3). The rest is split into records, each a length byte and that many bytes (the
/// last one takes what is left). Within a session a record whose first byte is odd is a
/// command wrapped in the session (netfn, command, data; the next sequence number,
/// authenticated and encrypted with its keys) so that the fuzzer reaches command handling;
/// every other record is sent as it is. Checks that nothing panics, that an answer is never
/// larger than the largest datagram read, and that the session keeps its bounds.
#[cfg(feature = "fuzzing")]
pub fn fuzz(input: &[u8]) {
    let Some((&mode, mut rest)) = input.split_first() else {
        return;
    };
    let mut s = server();
    let peer = SocketAddr::from(PEER);
    let session = if mode & 1 == 1 {
        let suite = if mode & 2 == 2 {
            CipherSuite::Suite17
        } else {
            CipherSuite::Suite3
        };
        establish_with(&mut s, 0x14, suite).ok()
    } else {
        None
    };
    let mut seq = 1u32;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (record, next) = tail.split_at(n);
        rest = next;
        let datagram = match (&session, record) {
            (Some((keys, sid)), [flag, netfn, cmd, data @ ..]) if flag & 1 == 1 => {
                seq = seq.wrapping_add(1);
                request(keys, *sid, seq, *netfn, *cmd, data)
            }
            _ => record.to_vec(),
        };
        if let Ok(answer) = block_on(s.datagram(&datagram, peer)) {
            assert!(
                answer.len() <= super::MAX_DATAGRAM,
                "{} bytes",
                answer.len()
            );
        }
        assert!(
            s.sessions.len() <= s.limits.max_sessions,
            "{}",
            s.sessions.len()
        );
    }
}
