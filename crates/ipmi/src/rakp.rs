//! The RMCP+ session handshake: Open Session Request/Response and RAKP messages 1-4
//! (IPMI 2.0 sections 13.17-13.23), with the authentication codes of section 13.31.
//!
//! All multi-byte integers are little-endian. `SIDm` is the remote console's (our) session
//! ID, `SIDc` the managed system's (the BMC's); `Rm`/`Rc` the random numbers of each side;
//! `GUIDc` the BMC's GUID; `RoleM` the requested role byte of RAKP 1; `UNameM` the user name.
//!
//! ## Open Session Request (13.17, table 13-9), payload type 0x10
//!
//! ```text
//! 0  message tag
//! 1  requested maximum privilege (0 = highest the algorithms allow; ipmitool sends 0 for
//!    ADMINISTRATOR)
//! 2  reserved (2)
//! 4  SIDm (u32)
//! 8  authentication payload:  0x00, 0, 0, 0x08, algorithm, 0, 0, 0
//! 16 integrity payload:       0x01, 0, 0, 0x08, algorithm, 0, 0, 0
//! 24 confidentiality payload: 0x02, 0, 0, 0x08, algorithm, 0, 0, 0
//! ```
//!
//! ## Open Session Response (13.18, table 13-10), payload type 0x11
//!
//! ```text
//! 0  message tag        1  RMCP+ status code (13.24)   2  maximum privilege   3  reserved
//! 4  SIDm               8  SIDc (only with status 0; the rest too)
//! 12 authentication payload (8)  20 integrity payload (8)  28 confidentiality payload (8)
//! ```
//!
//! ## RAKP message 1 (13.20, table 13-11), payload type 0x12
//!
//! ```text
//! 0  message tag   1  reserved (3)   4  SIDc   8  Rm (16)
//! 24 RoleM: requested maximum privilege (4 = ADMINISTRATOR) | 0x10 name-only lookup
//! 25 reserved (2)  27 user name length (0-16)  28 user name
//! ```
//!
//! ## RAKP message 2 (13.21, table 13-12), payload type 0x13
//!
//! ```text
//! 0  message tag   1  RMCP+ status code   2  reserved (2)   4  SIDm
//! 8  Rc (16)   24 GUIDc (16)
//! 40 key exchange authentication code:
//!    HMAC_Kuid(SIDm | SIDc | Rm | Rc | GUIDc | RoleM | ULengthM | UNameM)  (20 or 32 bytes)
//! ```
//!
//! ## RAKP message 3 (13.22, table 13-13), payload type 0x14
//!
//! ```text
//! 0  message tag   1  RMCP+ status code (ours)   2  reserved (2)   4  SIDc
//! 8  key exchange authentication code: HMAC_Kuid(Rc | SIDm | RoleM | ULengthM | UNameM)
//! ```
//!
//! ## RAKP message 4 (13.23, table 13-14), payload type 0x15
//!
//! ```text
//! 0  message tag   1  RMCP+ status code   2  reserved (2)   4  SIDm
//! 8  integrity check value: HMAC_SIK(Rm | SIDc | GUIDc), first 12 bytes (SHA1) or
//!    16 bytes (SHA256)
//! ```

use crate::config::CipherSuite;
use crate::crypto::Hash;

/// Requested role: ADMINISTRATOR (section 6.8 privilege levels).
pub(crate) const ROLE_ADMIN: u8 = 0x04;
/// RoleM bit 4: look the user up by name only (ipmitool's default).
const NAME_ONLY_LOOKUP: u8 = 0x10;
/// Longest user name IPMI allows (section 13.20).
pub(crate) const MAX_USERNAME: usize = 16;
/// Longest password IPMI 2.0 allows (section 13.31: Kuid is 20 bytes).
pub(crate) const MAX_PASSWORD: usize = 20;

/// Builds the Open Session Request payload.
pub(crate) fn open_session_request(tag: u8, console_sid: u32, suite: CipherSuite) -> Vec<u8> {
    let (auth, integ, conf) = suite.algorithms();
    let mut p = vec![tag, 0x00, 0, 0];
    p.extend_from_slice(&console_sid.to_le_bytes());
    for (kind, alg) in [(0x00, auth), (0x01, integ), (0x02, conf)] {
        p.extend_from_slice(&[kind, 0, 0, 0x08, alg, 0, 0, 0]);
    }
    p
}

/// A decoded Open Session Response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OpenSessionResponse {
    pub(crate) tag: u8,
    pub(crate) status: u8,
    /// SIDm; `None` in a short error answer (ipmi_sim sends only tag and status).
    pub(crate) console_sid: Option<u32>,
    /// SIDc; 0 when `status` is not 0.
    pub(crate) bmc_sid: u32,
    /// The (authentication, integrity, confidentiality) algorithms the BMC chose.
    pub(crate) algorithms: (u8, u8, u8),
}

/// SIDm at bytes 4..8 of a handshake answer, if present.
fn sid_at_4(p: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(p.get(4..8)?.try_into().ok()?))
}

/// Decodes an Open Session Response. An error status needs only the tag and the status
/// (the spec adds SIDm, ipmi_sim does not).
pub(crate) fn parse_open_session_response(p: &[u8]) -> Option<OpenSessionResponse> {
    if p.len() < 2 {
        return None;
    }
    let console_sid = sid_at_4(p);
    if p[1] != 0 {
        return Some(OpenSessionResponse {
            tag: p[0],
            status: p[1],
            console_sid,
            bmc_sid: 0,
            algorithms: (0, 0, 0),
        });
    }
    if p.len() < 36 {
        return None;
    }
    let console_sid = Some(console_sid?);
    let alg = |at: usize, kind: u8| -> Option<u8> { (p[at] == kind).then_some(p[at + 4] & 0x3F) };
    Some(OpenSessionResponse {
        tag: p[0],
        status: 0,
        console_sid,
        bmc_sid: u32::from_le_bytes(p[8..12].try_into().ok()?),
        algorithms: (alg(12, 0x00)?, alg(20, 0x01)?, alg(28, 0x02)?),
    })
}

/// A decoded RAKP message 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rakp2 {
    pub(crate) tag: u8,
    pub(crate) status: u8,
    /// SIDm; `None` in a short error answer.
    pub(crate) console_sid: Option<u32>,
    pub(crate) rc: [u8; 16],
    pub(crate) guid: [u8; 16],
    pub(crate) code: Vec<u8>,
}

/// Decodes RAKP message 2; `code_len` is the HMAC length of the authentication algorithm.
pub(crate) fn parse_rakp2(p: &[u8], code_len: usize) -> Option<Rakp2> {
    if p.len() < 2 {
        return None;
    }
    let console_sid = sid_at_4(p);
    if p[1] != 0 {
        return Some(Rakp2 {
            tag: p[0],
            status: p[1],
            console_sid,
            rc: [0; 16],
            guid: [0; 16],
            code: Vec::new(),
        });
    }
    if p.len() != 40 + code_len {
        return None;
    }
    Some(Rakp2 {
        tag: p[0],
        status: 0,
        console_sid,
        rc: p[8..24].try_into().ok()?,
        guid: p[24..40].try_into().ok()?,
        code: p[40..].to_vec(),
    })
}

/// A decoded RAKP message 4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rakp4 {
    pub(crate) tag: u8,
    pub(crate) status: u8,
    /// SIDm; `None` in a short error answer.
    pub(crate) console_sid: Option<u32>,
    pub(crate) icv: Vec<u8>,
}

/// Decodes RAKP message 4; `icv_len` is 12 (SHA1) or 16 (SHA256).
pub(crate) fn parse_rakp4(p: &[u8], icv_len: usize) -> Option<Rakp4> {
    if p.len() < 2 {
        return None;
    }
    let console_sid = sid_at_4(p);
    if p[1] != 0 {
        return Some(Rakp4 {
            tag: p[0],
            status: p[1],
            console_sid,
            icv: Vec::new(),
        });
    }
    if p.len() != 8 + icv_len {
        return None;
    }
    Some(Rakp4 {
        tag: p[0],
        status: 0,
        console_sid,
        icv: p[8..].to_vec(),
    })
}

/// The state of one handshake: everything the authentication codes cover.
pub(crate) struct Handshake {
    pub(crate) hash: Hash,
    pub(crate) console_sid: u32,
    pub(crate) bmc_sid: u32,
    pub(crate) rm: [u8; 16],
    pub(crate) role: u8,
    pub(crate) username: Vec<u8>,
    /// The password, zero-padded to 20 bytes. Never printed.
    kuid: [u8; MAX_PASSWORD],
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("hash", &self.hash)
            .field("console_sid", &self.console_sid)
            .field("bmc_sid", &self.bmc_sid)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// A handshake for `username`/`password` (lengths checked by the caller) with a fresh
    /// random `Rm`.
    pub(crate) fn new(
        hash: Hash,
        console_sid: u32,
        bmc_sid: u32,
        username: &[u8],
        password: &[u8],
    ) -> Self {
        let mut rm = [0u8; 16];
        rand::fill(&mut rm);
        Self::with_rm(hash, console_sid, bmc_sid, username, password, rm)
    }

    /// A handshake with a given `Rm` (tests).
    pub(crate) fn with_rm(
        hash: Hash,
        console_sid: u32,
        bmc_sid: u32,
        username: &[u8],
        password: &[u8],
        rm: [u8; 16],
    ) -> Self {
        let mut kuid = [0u8; MAX_PASSWORD];
        let n = password.len().min(MAX_PASSWORD);
        kuid[..n].copy_from_slice(&password[..n]);
        let n = username.len().min(MAX_USERNAME);
        Self {
            hash,
            console_sid,
            bmc_sid,
            rm,
            role: ROLE_ADMIN | NAME_ONLY_LOOKUP,
            username: username[..n].to_vec(),
            kuid,
        }
    }

    /// The RAKP 4 ICV length of the authentication algorithm.
    pub(crate) fn icv_len(&self) -> usize {
        match self.hash {
            Hash::Sha1 => 12,
            Hash::Sha256 => 16,
        }
    }

    /// Builds RAKP message 1.
    pub(crate) fn rakp1(&self, tag: u8) -> Vec<u8> {
        let mut p = vec![tag, 0, 0, 0];
        p.extend_from_slice(&self.bmc_sid.to_le_bytes());
        p.extend_from_slice(&self.rm);
        p.extend_from_slice(&[self.role, 0, 0, self.username.len() as u8]);
        p.extend_from_slice(&self.username);
        p
    }

    /// The key exchange authentication code RAKP 2 must carry.
    pub(crate) fn rakp2_code(&self, rc: &[u8; 16], guid: &[u8; 16]) -> Vec<u8> {
        self.hash.hmac(
            &self.kuid,
            &[
                &self.console_sid.to_le_bytes(),
                &self.bmc_sid.to_le_bytes(),
                &self.rm,
                rc,
                guid,
                &[self.role, self.username.len() as u8],
                &self.username,
            ],
        )
    }

    /// Builds RAKP message 3: with status 0 it carries our proof of the password; with an
    /// error status (e.g. 0x0F after a bad RAKP 2) it only tells the BMC to drop the
    /// session.
    pub(crate) fn rakp3(&self, tag: u8, status: u8, rc: &[u8; 16]) -> Vec<u8> {
        let mut p = vec![tag, status, 0, 0];
        p.extend_from_slice(&self.bmc_sid.to_le_bytes());
        if status == 0 {
            p.extend(self.hash.hmac(
                &self.kuid,
                &[
                    rc,
                    &self.console_sid.to_le_bytes(),
                    &[self.role, self.username.len() as u8],
                    &self.username,
                ],
            ));
        }
        p
    }

    /// The session integrity key (13.31; Kg is not set, so Kuid keys it).
    pub(crate) fn sik(&self, rc: &[u8; 16]) -> Vec<u8> {
        self.hash.hmac(
            &self.kuid,
            &[
                &self.rm,
                rc,
                &[self.role, self.username.len() as u8],
                &self.username,
            ],
        )
    }

    /// The integrity check value RAKP 4 must carry.
    pub(crate) fn rakp4_icv(&self, sik: &[u8], guid: &[u8; 16]) -> Vec<u8> {
        let mut v = self
            .hash
            .hmac(sik, &[&self.rm, &self.bmc_sid.to_le_bytes(), guid]);
        v.truncate(self.icv_len());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_session_request_layout() {
        let p = open_session_request(7, 0xA1B2_C3D4, CipherSuite::Suite17);
        assert_eq!(p.len(), 32);
        assert_eq!(&p[..8], &[7, 0, 0, 0, 0xD4, 0xC3, 0xB2, 0xA1]);
        assert_eq!(&p[8..16], &[0, 0, 0, 8, 3, 0, 0, 0]);
        assert_eq!(&p[16..24], &[1, 0, 0, 8, 4, 0, 0, 0]);
        assert_eq!(&p[24..32], &[2, 0, 0, 8, 1, 0, 0, 0]);
        let p = open_session_request(0, 1, CipherSuite::Suite3);
        assert_eq!((p[12], p[20], p[28]), (1, 1, 1));
    }

    #[test]
    fn open_session_response_parsing() {
        let mut r = vec![7, 0, 4, 0, 1, 0, 0, 0, 0x44, 0x33, 0x22, 0x11];
        r.extend_from_slice(&[0, 0, 0, 8, 1, 0, 0, 0, 1, 0, 0, 8, 1, 0, 0, 0]);
        r.extend_from_slice(&[2, 0, 0, 8, 1, 0, 0, 0]);
        let o = parse_open_session_response(&r);
        assert_eq!(
            o,
            Some(OpenSessionResponse {
                tag: 7,
                status: 0,
                console_sid: Some(1),
                bmc_sid: 0x1122_3344,
                algorithms: (1, 1, 1)
            })
        );
        for n in 0..r.len() {
            assert_eq!(parse_open_session_response(&r[..n]), None, "len {n}");
        }
        // An error status needs only the tag and status (ipmi_sim sends just those).
        let e = parse_open_session_response(&[7, 0x11, 0, 0, 1, 0, 0, 0]);
        assert_eq!(e.map(|e| (e.status, e.console_sid)), Some((0x11, Some(1))));
        let e = parse_open_session_response(&[7, 0x04]);
        assert_eq!(e.map(|e| (e.status, e.console_sid)), Some((0x04, None)));
        // Payload kinds out of order: malformed.
        r[12] = 1;
        assert_eq!(parse_open_session_response(&r), None);
    }

    /// A BMC side computed independently from the spec's formulas, for both hashes.
    #[test]
    fn handshake_codes_agree_with_an_independent_bmc_side() {
        for hash in [Hash::Sha1, Hash::Sha256] {
            let h = Handshake::with_rm(
                hash,
                0x0102_0304,
                0x0A0B_0C0D,
                b"admin",
                b"password",
                [0x11; 16],
            );
            let rakp1 = h.rakp1(3);
            assert_eq!(rakp1.len(), 28 + 5);
            assert_eq!(&rakp1[4..8], &[0x0D, 0x0C, 0x0B, 0x0A]);
            assert_eq!(rakp1[24], 0x14);
            assert_eq!(&rakp1[27..], b"\x05admin");

            let rc = [0x22; 16];
            let guid = [0x33; 16];
            // The BMC's RAKP 2 code, built the way a BMC does from the RAKP 1 bytes.
            let mut input = Vec::new();
            input.extend_from_slice(&0x0102_0304u32.to_le_bytes());
            input.extend_from_slice(&rakp1[4..8]);
            input.extend_from_slice(&rakp1[8..24]);
            input.extend_from_slice(&rc);
            input.extend_from_slice(&guid);
            input.push(rakp1[24]);
            input.push(rakp1[27]);
            input.extend_from_slice(&rakp1[28..]);
            let bmc_code = hash.hmac(b"password", &[&input]);
            assert_eq!(h.rakp2_code(&rc, &guid), bmc_code);
            let wrong = Handshake::with_rm(
                hash,
                0x0102_0304,
                0x0A0B_0C0D,
                b"admin",
                b"passw0rd",
                [0x11; 16],
            );
            assert_ne!(wrong.rakp2_code(&rc, &guid), bmc_code);

            let rakp3 = h.rakp3(3, 0, &rc);
            assert_eq!(rakp3.len(), 8 + hash.len());
            let mut input = rc.to_vec();
            input.extend_from_slice(&0x0102_0304u32.to_le_bytes());
            input.extend_from_slice(&[0x14, 5]);
            input.extend_from_slice(b"admin");
            assert_eq!(&rakp3[8..], hash.hmac(b"password", &[&input]).as_slice());
            assert_eq!(h.rakp3(3, 0x0F, &rc).len(), 8);

            let sik = h.sik(&rc);
            let mut input = [0x11; 16].to_vec();
            input.extend_from_slice(&rc);
            input.extend_from_slice(&[0x14, 5]);
            input.extend_from_slice(b"admin");
            assert_eq!(sik, hash.hmac(b"password", &[&input]));
            let icv = h.rakp4_icv(&sik, &guid);
            let mut input = [0x11; 16].to_vec();
            input.extend_from_slice(&0x0A0B_0C0Du32.to_le_bytes());
            input.extend_from_slice(&guid);
            assert_eq!(icv, hash.hmac(&sik, &[&input])[..h.icv_len()].to_vec());

            // RAKP 2 / 4 decoding with exact lengths.
            let mut r2 = vec![3, 0, 0, 0, 4, 3, 2, 1];
            r2.extend_from_slice(&rc);
            r2.extend_from_slice(&guid);
            r2.extend_from_slice(&bmc_code);
            let p = parse_rakp2(&r2, hash.len());
            assert_eq!(p.as_ref().map(|p| p.code.clone()), Some(bmc_code.clone()));
            assert_eq!(p.map(|p| p.console_sid), Some(Some(0x0102_0304)));
            assert_eq!(parse_rakp2(&r2[..r2.len() - 1], hash.len()), None);
            assert_eq!(
                parse_rakp2(&[3, 0x0D, 0, 0, 4, 3, 2, 1], hash.len()).map(|p| p.status),
                Some(0x0D)
            );
            let mut r4 = vec![3, 0, 0, 0, 4, 3, 2, 1];
            r4.extend_from_slice(&icv);
            assert_eq!(parse_rakp4(&r4, h.icv_len()).map(|p| p.icv), Some(icv));
            assert_eq!(parse_rakp4(&r4[..10], h.icv_len()), None);
        }
    }

    #[test]
    fn handshake_debug_hides_the_password() {
        let h = Handshake::new(Hash::Sha1, 1, 2, b"admin", b"SuperSecret");
        let d = format!("{h:?}");
        assert!(!d.contains("SuperSecret"), "{d}");
        assert!(!d.contains("83, 117, 112"), "{d}"); // "Sup" as bytes
    }
}
