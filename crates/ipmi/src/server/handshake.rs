//! The BMC's half of the RMCP+ handshake (IPMI 2.0 sections 13.17-13.24): Open Session
//! Request → Response, RAKP 1 → 2, RAKP 3 → 4. The payload layouts are documented in
//! [`crate::rakp`]; the authentication codes are computed by the same [`Handshake`] the
//! client uses.
//!
//! A session is created by Open Session and must reach RAKP 4 within the handshake
//! timeout ([`super::Limits::handshake_timeout`]); the periodic sweep of [`super::serve`]
//! removes it otherwise. RAKP 1 fixes the session's maximum privilege: its role (bits 3:0),
//! capped at [`USER_MAX_PRIVILEGE`], the one user's limit. A RAKP 1 or 3 sent again
//! unchanged (its answer was lost) gets the same answer again.

use std::net::SocketAddr;
use std::time::Instant;

use super::session::{Active, BmcSession, Phase, Privilege, ReplyCache, Window};
use super::{Chassis, GUID, Server, Stats, random_u32};
use crate::crypto::{Hash, SessionKeys, ct_eq};
use crate::rakp::{Handshake, MAX_PASSWORD, MAX_USERNAME};
use crate::wire::{self, payload};

/// The highest privilege the one user may have.
pub(super) const USER_MAX_PRIVILEGE: Privilege = Privilege::Administrator;

/// RMCP+ status (13.24): insufficient resources to create a session.
const STATUS_NO_RESOURCES: u8 = 0x01;
/// RMCP+ status: invalid role.
const STATUS_INVALID_ROLE: u8 = 0x09;
/// RMCP+ status: unauthorized name.
const STATUS_UNAUTHORIZED_NAME: u8 = 0x0D;
/// RMCP+ status: invalid integrity check value.
const STATUS_INVALID_ICV: u8 = 0x0F;
/// RMCP+ status: no cipher suite match with proposed security algorithms.
const STATUS_NO_CIPHER_SUITE: u8 = 0x11;

/// The algorithms (authentication, integrity, confidentiality) of suites 3 and 17.
fn suite_of(algs: (u8, u8, u8)) -> Option<(Hash, usize)> {
    match algs {
        (1, 1, 1) => Some((Hash::Sha1, 12)),
        (3, 4, 1) => Some((Hash::Sha256, 16)),
        _ => None,
    }
}

impl<C: Chassis> Server<C> {
    /// A handshake payload (session ID 0 in the header).
    pub(super) fn handshake(&mut self, kind: u8, p: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
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
            let mut r = vec![tag, status, USER_MAX_PRIVILEGE.level(), 0];
            r.extend_from_slice(&console_sid.to_le_bytes());
            r.extend_from_slice(&bmc_sid.to_le_bytes());
            for (k, a) in [(0u8, algs.0), (1, algs.1), (2, algs.2)] {
                r.extend_from_slice(&[k, 0, 0, 8, a, 0, 0, 0]);
            }
            wire::encode_v2(payload::OPEN_RESPONSE, 0, 0, &r, None)
        };
        let Some((hash, authcode_len)) = suite_of(algs) else {
            return Some(reply(STATUS_NO_CIPHER_SUITE, 0));
        };
        self.sweep(Instant::now());
        if self.sessions.len() >= self.limits.max_sessions {
            return Some(reply(STATUS_NO_RESOURCES, 0));
        }
        let mut bmc_sid = random_u32();
        while bmc_sid == 0 || self.sessions.contains_key(&bmc_sid) {
            bmc_sid = random_u32();
        }
        let now = Instant::now();
        self.sessions.insert(
            bmc_sid,
            BmcSession {
                peer,
                console_sid,
                hash,
                authcode_len,
                phase: Phase::Opened,
                opened: now,
                last: now,
                handshake_reply: None,
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
        if s.peer != peer {
            return None;
        }
        if let Some(again) = s.repeated_handshake(p) {
            return Some(again);
        }
        if !matches!(s.phase, Phase::Opened) {
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
        if !name_ok {
            Stats::bump(&self.stats.auth_failures);
            self.sessions.remove(&bmc_sid);
            tracing::info!(%peer, "ipmi: session refused: unauthorized name");
            return Some(reply(STATUS_UNAUTHORIZED_NAME, &[]));
        }
        // The requested maximum privilege (bits 3:0; bit 4 is name-only lookup), capped at
        // what the user may have. OEM and reserved levels are refused.
        let Some(requested) = Privilege::from_level(role & 0x0F) else {
            Stats::bump(&self.stats.auth_failures);
            self.sessions.remove(&bmc_sid);
            tracing::info!(%peer, role, "ipmi: session refused: invalid role");
            return Some(reply(STATUS_INVALID_ROLE, &[]));
        };
        let max = requested.min(USER_MAX_PRIVILEGE);
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
        s.phase = Phase::Rakp2 {
            handshake: Box::new(handshake),
            rc,
            max,
        };
        s.last = Instant::now();
        let answer = reply(0x00, &body);
        s.handshake_reply = Some((p.to_vec(), answer.clone()));
        Some(answer)
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
        if let Some(again) = s.repeated_handshake(p) {
            return Some(again);
        }
        let Phase::Rakp2 { handshake, rc, max } = &s.phase else {
            return None;
        };
        let max = *max;
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
            return Some(reply(STATUS_INVALID_ICV, &[]));
        }
        let sik = handshake.sik(rc);
        let icv = handshake.rakp4_icv(&sik, &GUID);
        let keys = SessionKeys::derive(s.hash, &sik, s.authcode_len);
        s.phase = Phase::Active(Box::new(Active {
            keys,
            out_seq: 0,
            window: Window::default(),
            replies: ReplyCache::default(),
            max,
            // Section 22.18: a session starts at USER (or its maximum, if lower) until
            // Set Session Privilege Level raises it.
            current: max.min(Privilege::User),
        }));
        s.last = Instant::now();
        Stats::bump(&self.stats.sessions);
        tracing::debug!(%peer, max = ?max, "ipmi: session established");
        let answer = reply(0x00, &icv);
        s.handshake_reply = Some((p.to_vec(), answer.clone()));
        Some(answer)
    }
}
