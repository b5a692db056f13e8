//! [`Packet`]: a checked DHCPv4 datagram, read in place.
//!
//! The server reads a handful of a request's options (53, 50, 54, 60, 61, 77, 82, 93, 94,
//! 97) and a few header fields. Decoding every option into dhcproto's owned `Message` (a
//! `BTreeMap` of enums, a `Vec` per list) was most of the cost of an exchange, so
//! [`Packet::parse`] checks the framing and notes where those options are in one pass,
//! without allocating, and the accessors read them from the datagram. dhcproto's own
//! `borrowed::Message` reads lazily too, but finds an option by walking the options again
//! on each access and does not check the framing.
//!
//! Decoding rules, as dhcproto applies them (so that a reply does not depend on which
//! reader looked at the request): an option split into consecutive instances of the same
//! code is their concatenation (RFC 3396); of two runs of one code, the later counts; pad
//! options are skipped and the End option ends the options. Option overload (52) is not
//! followed: the `sname` and `file` fields are never read as options.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use dhcproto::v4::MessageType;

/// Smallest DHCP message: the 236-byte BOOTP header and the 4-byte magic cookie.
pub const MIN_PACKET: usize = 240;
/// Largest datagram accepted; DHCP clients send at most one Ethernet frame.
pub const MAX_PACKET: usize = 1500;
pub(crate) const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// Why a datagram was dropped before it reached [`answer`](crate::answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Shorter than the fixed header and cookie.
    #[error("datagram of {0} bytes is shorter than a DHCP header ({MIN_PACKET})")]
    Truncated(usize),
    /// Longer than [`MAX_PACKET`].
    #[error("datagram of {0} bytes is larger than {MAX_PACKET}")]
    Oversized(usize),
    /// The magic cookie is not 99.130.83.99.
    #[error("no DHCP magic cookie")]
    BadMagic,
    /// `hlen` above 16.
    #[error("hardware address length {0} is larger than 16")]
    BadHardwareLength(u8),
    /// An option runs past the end of the datagram.
    #[error("option {0} runs past the end of the datagram")]
    OptionOverrun(u8),
    /// A fixed-size option has the wrong length.
    #[error("option {code} has length {len}")]
    OptionLength {
        /// The option code.
        code: u8,
        /// Its (concatenated) length.
        len: usize,
    },
    /// dhcproto refused the message ([`parse`](crate::parse) only).
    #[error("undecodable DHCP message: {0}")]
    Decode(String),
}

/// Whether an option's total length is acceptable: for the options the server reads as
/// numbers or addresses, and for those whose length dhcproto assumes rather than checks.
fn option_length_ok(code: u8, len: usize) -> bool {
    match code {
        53 => len >= 1,
        50 | 54 => len == 4,
        93 => len >= 2,
        80 => len == 0,
        94 => len == 3,
        81 => len >= 3,
        151 => len >= 1,
        152..=155 => len == 4,
        _ => true,
    }
}

/// The option codes a [`Packet`] keeps the place of, in the order of `Packet::runs`.
const KEPT: [u8; 10] = [50, 53, 54, 60, 61, 77, 82, 93, 94, 97];

fn slot(code: u8) -> Option<usize> {
    KEPT.iter().position(|c| *c == code)
}

/// Where one run of instances of an option code is: the offset of its first instance's
/// code byte, its total data length and its number of instances (0: the option is absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Run {
    at: u16,
    len: u16,
    parts: u16,
}

/// A checked DHCPv4 datagram (request or reply), with the place of the options the server
/// reads. Built by [`Packet::parse`]; it borrows the datagram.
#[derive(Debug, Clone)]
pub struct Packet<'a> {
    buf: &'a [u8],
    runs: [Run; KEPT.len()],
}

impl<'a> Packet<'a> {
    /// Checks one datagram (sizes, magic cookie, `hlen`, the framing of every option, the
    /// lengths of fixed-size options) and notes where the options the server reads are.
    /// Never panics and never allocates.
    pub fn parse(buf: &'a [u8]) -> Result<Self, ParseError> {
        Self::parse_within(buf, MAX_PACKET)
    }

    /// [`Packet::parse`] for a datagram of up to `max` bytes (a reply this server wrote may
    /// be longer than a request may be; `max` is at most 65,535).
    pub(crate) fn parse_within(buf: &'a [u8], max: usize) -> Result<Self, ParseError> {
        if buf.len() < MIN_PACKET {
            return Err(ParseError::Truncated(buf.len()));
        }
        if buf.len() > max.min(usize::from(u16::MAX)) {
            return Err(ParseError::Oversized(buf.len()));
        }
        if buf[236..240] != MAGIC {
            return Err(ParseError::BadMagic);
        }
        if buf[2] > 16 {
            return Err(ParseError::BadHardwareLength(buf[2]));
        }
        let mut packet = Packet {
            buf,
            runs: [Run::default(); KEPT.len()],
        };
        // The current run of equal codes (RFC 3396 concatenation): code and its run.
        let mut current: Option<(u8, Run)> = None;
        let mut i = MIN_PACKET;
        while i < buf.len() {
            let code = buf[i];
            if code == 255 {
                break;
            }
            if code == 0 {
                packet.close(current.take())?;
                i += 1;
                continue;
            }
            let len = usize::from(*buf.get(i + 1).ok_or(ParseError::OptionOverrun(code))?);
            if i + 2 + len > buf.len() {
                return Err(ParseError::OptionOverrun(code));
            }
            // Offsets and lengths fit in u16: the datagram is at most 65,535 bytes.
            current = match current {
                Some((c, run)) if c == code => Some((
                    c,
                    Run {
                        len: run.len + len as u16,
                        parts: run.parts + 1,
                        ..run
                    },
                )),
                other => {
                    packet.close(other)?;
                    Some((
                        code,
                        Run {
                            at: i as u16,
                            len: len as u16,
                            parts: 1,
                        },
                    ))
                }
            };
            i += 2 + len;
        }
        packet.close(current)?;
        Ok(packet)
    }

    /// Ends a run: checks its length and, for a kept code, notes it (a later run of the
    /// same code replaces an earlier one, as in dhcproto).
    fn close(&mut self, run: Option<(u8, Run)>) -> Result<(), ParseError> {
        let Some((code, run)) = run else {
            return Ok(());
        };
        if !option_length_ok(code, usize::from(run.len)) {
            return Err(ParseError::OptionLength {
                code,
                len: usize::from(run.len),
            });
        }
        if let Some(s) = slot(code) {
            self.runs[s] = run;
        }
        Ok(())
    }

    /// The datagram.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The data of option `code` (one of the kept codes), joined when it was split.
    /// Borrowed from the datagram unless it was split (then it is copied once).
    pub fn option(&self, code: u8) -> Option<Cow<'a, [u8]>> {
        let run = self.runs[slot(code)?];
        if run.parts == 0 {
            return None;
        }
        let at = usize::from(run.at);
        if run.parts == 1 {
            let len = usize::from(self.buf[at + 1]);
            return Some(Cow::Borrowed(&self.buf[at + 2..at + 2 + len]));
        }
        let mut joined = Vec::with_capacity(usize::from(run.len));
        let mut i = at;
        for _ in 0..run.parts {
            let len = usize::from(self.buf[i + 1]);
            joined.extend_from_slice(&self.buf[i + 2..i + 2 + len]);
            i += 2 + len;
        }
        Some(Cow::Owned(joined))
    }

    /// Whether option `code` (one of the kept codes) is present.
    fn has(&self, code: u8) -> bool {
        slot(code).is_some_and(|s| self.runs[s].parts > 0)
    }

    /// The first `N` bytes of option `code`, when present (`parse` checked the lengths).
    fn fixed<const N: usize>(&self, code: u8) -> Option<[u8; N]> {
        let data = self.option(code)?;
        data.get(..N)?.try_into().ok()
    }

    /// `op`: 1 for a request (BOOTREQUEST), 2 for a reply.
    pub fn op(&self) -> u8 {
        self.buf[0]
    }

    /// `htype`: the hardware address type (1 for Ethernet).
    pub fn htype(&self) -> u8 {
        self.buf[1]
    }

    /// `xid`: the transaction ID.
    pub fn xid(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }

    /// `flags` (bit 15: broadcast).
    pub fn flags(&self) -> u16 {
        u16::from_be_bytes([self.buf[10], self.buf[11]])
    }

    /// Whether the broadcast flag is set.
    pub fn broadcast(&self) -> bool {
        self.flags() & 0x8000 != 0
    }

    fn address(&self, at: usize) -> Ipv4Addr {
        Ipv4Addr::new(
            self.buf[at],
            self.buf[at + 1],
            self.buf[at + 2],
            self.buf[at + 3],
        )
    }

    /// `ciaddr`: the client's address, when it has one.
    pub fn ciaddr(&self) -> Ipv4Addr {
        self.address(12)
    }

    /// `yiaddr`: the address a reply gives.
    pub fn yiaddr(&self) -> Ipv4Addr {
        self.address(16)
    }

    /// `siaddr`: the next server (TFTP) of a reply.
    pub fn siaddr(&self) -> Ipv4Addr {
        self.address(20)
    }

    /// `giaddr`: the relay agent's address.
    pub fn giaddr(&self) -> Ipv4Addr {
        self.address(24)
    }

    /// The `file` field up to its first NUL byte.
    pub fn file(&self) -> &'a [u8] {
        let field = &self.buf[108..236];
        let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
        &field[..end]
    }

    /// The client's MAC, if its hardware address is a 6-byte Ethernet address.
    pub fn mac(&self) -> Option<[u8; 6]> {
        if self.buf[2] != 6 {
            return None;
        }
        self.buf[28..34].try_into().ok()
    }

    /// Option 53, the message type.
    pub fn message_type(&self) -> Option<MessageType> {
        self.fixed::<1>(53).map(|[t]| MessageType::from(t))
    }

    /// Option 50, the address a client asks for.
    pub fn requested_ip(&self) -> Option<Ipv4Addr> {
        self.fixed::<4>(50).map(Ipv4Addr::from)
    }

    /// Option 54, the server a client chose.
    pub fn server_identifier(&self) -> Option<Ipv4Addr> {
        self.fixed::<4>(54).map(Ipv4Addr::from)
    }

    /// Option 93, the client's (first) architecture type (RFC 4578).
    pub fn architecture(&self) -> Option<u16> {
        self.fixed::<2>(93).map(u16::from_be_bytes)
    }

    /// Option 60, the vendor class identifier.
    pub fn class_identifier(&self) -> Option<Cow<'a, [u8]>> {
        self.option(60)
    }

    /// Whether the request comes from network-boot firmware or iPXE: option 60 starting with
    /// `PXEClient` or `HTTPClient`, options 93 and 94 present, option 97 absent, empty, or 17
    /// bytes with a leading 0 (the rules of RFC 4578 that Smee applies).
    pub fn is_netboot_client(&self) -> bool {
        let class_ok = self
            .class_identifier()
            .is_some_and(|v| v.starts_with(b"PXEClient") || v.starts_with(b"HTTPClient"));
        let guid_ok = match self.option(97) {
            None => true,
            Some(g) => g.is_empty() || (g.len() == 17 && g[0] == 0),
        };
        class_ok && self.has(93) && self.has(94) && guid_ok
    }

    /// Whether option 60 says `HTTPClient` (UEFI HTTP boot).
    pub fn is_http_client(&self) -> bool {
        self.class_identifier()
            .is_some_and(|v| v.starts_with(b"HTTPClient"))
    }

    /// Whether option 77 names `class`, either raw (as iPXE sends it) or as an RFC 3004
    /// length-prefixed list.
    pub fn has_user_class(&self, class: &str) -> bool {
        let Some(v) = self.option(77) else {
            return false;
        };
        if v.as_ref() == class.as_bytes() {
            return true;
        }
        let mut rest = v.as_ref();
        while let Some((&len, tail)) = rest.split_first() {
            let len = usize::from(len);
            if len > tail.len() {
                return false;
            }
            if &tail[..len] == class.as_bytes() {
                return true;
            }
            rest = &tail[len..];
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_options(options: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 240];
        p[0] = 1;
        p[2] = 6;
        p[236..240].copy_from_slice(&MAGIC);
        p.extend_from_slice(options);
        p
    }

    #[test]
    fn split_options_are_joined_and_the_later_run_counts() {
        let p = with_options(&[61, 2, 1, 2, 61, 1, 3, 60, 1, b'x', 0, 60, 1, b'y', 255]);
        let packet = Packet::parse(&p).expect("parse");
        assert_eq!(packet.option(61).as_deref(), Some(&[1, 2, 3][..]));
        assert_eq!(packet.class_identifier().as_deref(), Some(&b"y"[..]));
        assert!(matches!(packet.option(61), Some(Cow::Owned(_))));
        assert!(matches!(packet.option(60), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn fixed_size_options_are_checked() {
        for (options, code, len) in [
            (&[53, 0][..], 53, 0),
            (&[54, 3, 1, 2, 3][..], 54, 3),
            (&[50, 2, 1, 2, 50, 3, 3, 4, 5][..], 50, 5),
            (&[93, 1, 0][..], 93, 1),
        ] {
            assert_eq!(
                Packet::parse(&with_options(options)).err(),
                Some(ParseError::OptionLength { code, len }),
                "{options:?}"
            );
        }
        assert_eq!(
            Packet::parse(&with_options(&[60, 5, 1])).err(),
            Some(ParseError::OptionOverrun(60))
        );
    }
}
