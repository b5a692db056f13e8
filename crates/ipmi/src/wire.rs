//! Datagram framing: the RMCP header, the IPMI v1.5 and v2.0 session headers, the
//! integrity trailer, and the IPMI message with its two checksums.
//!
//! Every decoder checks every length before it reads, and returns `None` (the caller drops
//! and counts the datagram) for anything it cannot take.
//!
//! ## RMCP header (IPMI 2.0 section 13.1.3, table 13-1)
//!
//! ```text
//! 0  version        0x06 (RMCP 1.0)
//! 1  reserved       0x00
//! 2  sequence       0xFF: no RMCP ACK wanted (IPMI does its own retries)
//! 3  class          0x07 = IPMI (bit 7 set would be an RMCP ACK)
//! ```
//!
//! ## IPMI v1.5 session header (section 13.6, table 13-8, "IPMI v1.5")
//!
//! Only used here, without a session (auth type NONE), for Get Channel Authentication
//! Capabilities, which BMCs answer before any session exists:
//!
//! ```text
//! 4  auth type      0x00 = none (an authcode of 16 bytes would follow a non-zero type)
//! 5  session seq    u32 LE = 0
//! 9  session ID     u32 LE = 0
//! 13 message length u8
//! 14 IPMI message
//! ```
//!
//! ## IPMI v2.0 / RMCP+ session header and trailer (section 13.6, table 13-8, "IPMI v2.0")
//!
//! ```text
//! 4  auth type      0x06 = RMCP+
//! 5  payload type   bit 7 encrypted, bit 6 authenticated, bits 5:0 type (13.27.3):
//!                   0x00 IPMI message, 0x10/0x11 open session request/response,
//!                   0x12..0x15 RAKP 1..4 (0x02, OEM explicit, would add 6 bytes here)
//! 6  session ID     u32 LE: 0 before activation, then the receiver's ID
//!                   (we send the BMC's ID; the BMC sends ours)
//! 10 session seq    u32 LE: 0 before activation, then 1, 2, ... per direction
//! 14 payload length u16 LE
//! 16 payload        (if encrypted: the confidentiality header/trailer, see `crypto`)
//! -- only if authenticated:
//!    integrity pad  0xFF x n, so that auth type .. next header is a multiple of 4
//!    pad length     n
//!    next header    0x07
//!    authcode       HMAC over auth type .. next header with K1, truncated
//!                   (12 bytes HMAC-SHA1-96, 16 bytes HMAC-SHA256-128; 13.28.4)
//! ```
//!
//! ## IPMI message (section 13.8, figure 13-4; checksums per 13.8 "two's complement")
//!
//! ```text
//! request:  rsAddr 0x20 | netFn<<2 | rsLUN | chk1 | rqAddr 0x81 | rqSeq<<2 | rqLUN | cmd | data.. | chk2
//! response: rqAddr      | netFn<<2 | rqLUN | chk1 | rsAddr      | rqSeq<<2 | rsLUN | cmd | ccode | data.. | chk2
//! ```
//!
//! `chk1` makes the first two bytes sum to 0 (mod 256); `chk2` makes everything from the
//! third address byte through the data sum to 0. The response netFn is the request's + 1.

use crate::crypto::SessionKeys;

/// RMCP version 1.0.
pub(crate) const RMCP_VERSION: u8 = 0x06;
/// RMCP message class IPMI.
pub(crate) const RMCP_CLASS_IPMI: u8 = 0x07;
/// Auth type / format byte that marks an IPMI v2.0 (RMCP+) session header.
pub(crate) const AUTH_RMCP_PLUS: u8 = 0x06;
/// The BMC's responder address.
pub(crate) const BMC_ADDR: u8 = 0x20;
/// Our requester address: a remote console software ID (section 5.5).
pub(crate) const CONSOLE_ADDR: u8 = 0x81;

/// RMCP+ payload types (section 13.27.3, table 13-16).
pub(crate) mod payload {
    /// An IPMI message.
    pub(crate) const IPMI: u8 = 0x00;
    /// RMCP+ Open Session Request.
    pub(crate) const OPEN_REQUEST: u8 = 0x10;
    /// RMCP+ Open Session Response.
    pub(crate) const OPEN_RESPONSE: u8 = 0x11;
    /// RAKP message 1.
    pub(crate) const RAKP1: u8 = 0x12;
    /// RAKP message 2.
    pub(crate) const RAKP2: u8 = 0x13;
    /// RAKP message 3.
    pub(crate) const RAKP3: u8 = 0x14;
    /// RAKP message 4.
    pub(crate) const RAKP4: u8 = 0x15;
}

const RMCP_HEADER: [u8; 4] = [RMCP_VERSION, 0x00, 0xFF, RMCP_CLASS_IPMI];

/// Two's-complement checksum: the byte that makes `data` plus it sum to zero.
pub(crate) fn checksum(data: &[u8]) -> u8 {
    0u8.wrapping_sub(data.iter().fold(0u8, |a, b| a.wrapping_add(*b)))
}

/// Encodes an IPMI request message (section 13.8).
pub(crate) fn ipmi_request(netfn: u8, rq_seq: u8, cmd: u8, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(7 + data.len());
    m.push(BMC_ADDR);
    m.push(netfn << 2);
    m.push(checksum(&m[..2]));
    m.push(CONSOLE_ADDR);
    m.push((rq_seq & 0x3F) << 2);
    m.push(cmd);
    m.extend_from_slice(data);
    m.push(checksum(&m[3..]));
    m
}

/// A decoded IPMI response message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IpmiResponse {
    /// The response netFn (odd).
    pub(crate) netfn: u8,
    /// The requester's sequence number echoed back.
    pub(crate) rq_seq: u8,
    /// The command.
    pub(crate) cmd: u8,
    /// The completion code.
    pub(crate) ccode: u8,
    /// The data after the completion code.
    pub(crate) data: Vec<u8>,
}

/// Decodes an IPMI response message, checking both checksums and the addresses.
pub(crate) fn ipmi_response(m: &[u8]) -> Option<IpmiResponse> {
    // rqAddr netFn chk1 rsAddr seq cmd ccode chk2
    if m.len() < 8 || checksum(&m[..2]) != m[2] || checksum(&m[3..m.len() - 1]) != m[m.len() - 1] {
        return None;
    }
    if m[0] != CONSOLE_ADDR || m[3] != BMC_ADDR {
        return None;
    }
    let netfn = m[1] >> 2;
    if netfn & 1 == 0 {
        return None;
    }
    Some(IpmiResponse {
        netfn,
        rq_seq: m[4] >> 2,
        cmd: m[5],
        ccode: m[6],
        data: m[7..m.len() - 1].to_vec(),
    })
}

/// Wraps an IPMI message in RMCP and an unauthenticated IPMI v1.5 session header.
pub(crate) fn encode_v15(msg: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(14 + msg.len());
    d.extend_from_slice(&RMCP_HEADER);
    d.push(0x00); // auth type none
    d.extend_from_slice(&[0; 4]); // session sequence
    d.extend_from_slice(&[0; 4]); // session ID
    d.push(msg.len() as u8);
    d.extend_from_slice(msg);
    d
}

fn rmcp_ok(d: &[u8]) -> bool {
    d.len() >= 4 && d[0] == RMCP_VERSION && d[3] == RMCP_CLASS_IPMI
}

/// Unwraps an unauthenticated IPMI v1.5 datagram: the IPMI message inside.
pub(crate) fn decode_v15(d: &[u8]) -> Option<&[u8]> {
    if !rmcp_ok(d) || d.len() < 14 || d[4] != 0x00 {
        return None;
    }
    let len = usize::from(d[13]);
    d.get(14..14 + len)
}

/// A decoded IPMI v2.0 datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct V2Packet {
    /// The payload type (bits 5:0).
    pub(crate) payload_type: u8,
    /// The session ID in the header (ours, for datagrams from the BMC).
    pub(crate) session_id: u32,
    /// The session sequence number.
    pub(crate) seq: u32,
    /// The payload, decrypted if it was encrypted.
    pub(crate) payload: Vec<u8>,
}

/// Wraps `payload` in RMCP and an IPMI v2.0 session header. With `keys` (an active
/// session), the payload is encrypted and the integrity trailer appended.
pub(crate) fn encode_v2(
    payload_type: u8,
    session_id: u32,
    seq: u32,
    payload: &[u8],
    keys: Option<&SessionKeys>,
) -> Vec<u8> {
    let body;
    let (flags, body) = match keys {
        Some(k) => {
            body = k.encrypt(payload);
            (0xC0, body.as_slice())
        }
        None => (0x00, payload),
    };
    let mut d = Vec::with_capacity(16 + body.len() + 24);
    d.extend_from_slice(&RMCP_HEADER);
    d.push(AUTH_RMCP_PLUS);
    d.push(flags | (payload_type & 0x3F));
    d.extend_from_slice(&session_id.to_le_bytes());
    d.extend_from_slice(&seq.to_le_bytes());
    d.extend_from_slice(&(body.len() as u16).to_le_bytes());
    d.extend_from_slice(body);
    if let Some(k) = keys {
        // auth type .. payload is 12 + len bytes; with pad length and next header,
        // round up to a multiple of 4.
        let pad = (4 - (12 + body.len() + 2) % 4) % 4;
        d.extend(std::iter::repeat_n(0xFF, pad));
        d.push(pad as u8);
        d.push(0x07);
        let code = k.authcode(&d[4..]);
        d.extend_from_slice(&code);
    }
    d
}

/// Unwraps an IPMI v2.0 datagram. With `keys`, the datagram must be authenticated and
/// encrypted and pass the integrity check; without, it must be neither.
pub(crate) fn decode_v2(d: &[u8], keys: Option<&SessionKeys>) -> Option<V2Packet> {
    if !rmcp_ok(d) || d.len() < 16 || d[4] != AUTH_RMCP_PLUS {
        return None;
    }
    let encrypted = d[5] & 0x80 != 0;
    let authenticated = d[5] & 0x40 != 0;
    let payload_type = d[5] & 0x3F;
    if payload_type == 0x02 {
        return None; // OEM explicit: never requested
    }
    let session_id = u32::from_le_bytes(d[6..10].try_into().ok()?);
    let seq = u32::from_le_bytes(d[10..14].try_into().ok()?);
    let len = usize::from(u16::from_le_bytes(d[14..16].try_into().ok()?));
    let body = d.get(16..16 + len)?;
    match keys {
        None => {
            if encrypted || authenticated || d.len() != 16 + len {
                return None;
            }
            Some(V2Packet {
                payload_type,
                session_id,
                seq,
                payload: body.to_vec(),
            })
        }
        Some(k) => {
            if !encrypted || !authenticated {
                return None;
            }
            let code_at = d.len().checked_sub(k.authcode_len)?;
            // ... pad | pad length | next header | authcode
            if code_at < 16 + len + 2 {
                return None;
            }
            let pad = usize::from(d[code_at - 2]);
            if d[code_at - 1] != 0x07 || 16 + len + pad + 2 != code_at {
                return None;
            }
            if d[16 + len..16 + len + pad].iter().any(|b| *b != 0xFF) {
                return None;
            }
            if !crate::crypto::ct_eq(&k.authcode(&d[4..code_at]), &d[code_at..]) {
                return None;
            }
            let payload = k.decrypt(body)?;
            Some(V2Packet {
                payload_type,
                session_id,
                seq,
                payload,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Hash;

    #[test]
    fn request_message_layout_and_checksums() {
        // Get Device ID, rqSeq 1: the example of section 13.8 in shape.
        let m = ipmi_request(0x06, 1, 0x01, &[]);
        assert_eq!(m, vec![0x20, 0x18, 0xC8, 0x81, 0x04, 0x01, 0x7A]);
        assert_eq!(checksum(&m[..3]), 0);
        assert_eq!(checksum(&m[3..]), 0);
        // Chassis Control power up: data byte included in chk2.
        let m = ipmi_request(0x00, 5, 0x02, &[0x01]);
        assert_eq!(&m[..3], &[0x20, 0x00, 0xE0]);
        assert_eq!(checksum(&m[3..]), 0);
    }

    fn response(netfn: u8, seq: u8, cmd: u8, cc: u8, data: &[u8]) -> Vec<u8> {
        let mut m = vec![CONSOLE_ADDR, netfn << 2];
        m.push(checksum(&m));
        m.extend_from_slice(&[BMC_ADDR, seq << 2, cmd, cc]);
        m.extend_from_slice(data);
        m.push(checksum(&m[3..]));
        m
    }

    #[test]
    fn response_message_is_checked() {
        let m = response(0x01, 9, 0x01, 0, &[0x41, 0x00]);
        assert_eq!(
            ipmi_response(&m),
            Some(IpmiResponse {
                netfn: 0x01,
                rq_seq: 9,
                cmd: 0x01,
                ccode: 0,
                data: vec![0x41, 0x00]
            })
        );
        for i in 0..m.len() {
            let mut bad = m.clone();
            bad[i] ^= 0x01;
            assert_eq!(ipmi_response(&bad), None, "flipped byte {i}");
        }
        for n in 0..m.len() {
            assert_eq!(ipmi_response(&m[..n]), None);
        }
        // A request (even netFn) is not a response.
        assert_eq!(ipmi_response(&response(0x00, 1, 1, 0, &[])), None);
    }

    #[test]
    fn v15_round_trip() {
        let msg = ipmi_request(0x06, 0, 0x38, &[0x8E, 0x04]);
        let d = encode_v15(&msg);
        assert_eq!(&d[..5], &[0x06, 0x00, 0xFF, 0x07, 0x00]);
        assert_eq!(d[13] as usize, msg.len());
        assert_eq!(decode_v15(&d), Some(msg.as_slice()));
        assert_eq!(decode_v15(&d[..d.len() - 1]), None);
        let mut v2 = d.clone();
        v2[4] = 0x06;
        assert_eq!(decode_v15(&v2), None);
    }

    #[test]
    fn v2_unauthenticated_round_trip() {
        let d = encode_v2(payload::OPEN_REQUEST, 0, 0, &[1, 2, 3], None);
        assert_eq!(
            d,
            vec![
                6, 0, 0xFF, 7, 6, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 2, 3
            ]
        );
        let p = decode_v2(&d, None);
        assert_eq!(
            p,
            Some(V2Packet {
                payload_type: 0x10,
                session_id: 0,
                seq: 0,
                payload: vec![1, 2, 3]
            })
        );
        // Trailing bytes, truncation, or an authenticated flag without keys: dropped.
        let mut long = d.clone();
        long.push(0);
        assert_eq!(decode_v2(&long, None), None);
        assert_eq!(decode_v2(&d[..d.len() - 1], None), None);
        let mut flagged = d;
        flagged[5] |= 0x40;
        assert_eq!(decode_v2(&flagged, None), None);
    }

    #[test]
    fn v2_authenticated_layout_and_tamper() {
        for (hash, len) in [(Hash::Sha1, 12), (Hash::Sha256, 16)] {
            let keys = SessionKeys::derive(hash, b"session integrity key", len);
            for plen in 0..40usize {
                let payload: Vec<u8> = (0..plen as u8).collect();
                let d = encode_v2(payload::IPMI, 0x1234_5678, 7, &payload, Some(&keys));
                assert_eq!(d[5], 0xC0);
                assert_eq!(&d[6..10], &0x1234_5678u32.to_le_bytes());
                // Integrity coverage (auth type .. next header) is a multiple of 4.
                assert_eq!((d.len() - 4 - len) % 4, 0);
                assert_eq!(d[d.len() - len - 1], 0x07);
                let p = decode_v2(&d, Some(&keys));
                assert_eq!(p.map(|p| (p.seq, p.payload)), Some((7, payload.clone())));
                // Without keys, or with other keys: dropped.
                assert_eq!(decode_v2(&d, None), None);
                let other = SessionKeys::derive(hash, b"another key", len);
                assert_eq!(decode_v2(&d, Some(&other)), None);
            }
            let d = encode_v2(payload::IPMI, 1, 1, &[1, 2, 3, 4, 5], Some(&keys));
            for i in 0..d.len() {
                let mut bad = d.clone();
                bad[i] ^= 0x80;
                // RMCP bytes 1 (reserved) and 2 (sequence) are covered by nothing.
                if i != 1 && i != 2 {
                    assert_eq!(decode_v2(&bad, Some(&keys)), None, "flipped byte {i}");
                }
            }
            for n in 0..d.len() {
                assert_eq!(decode_v2(&d[..n], Some(&keys)), None);
            }
        }
    }
}
