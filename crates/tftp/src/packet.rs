//! The TFTP packet codec: [`Packet::parse`] turns a datagram into a [`Packet`] or a
//! [`PacketError`], [`Packet::encode`] does the reverse.
//!
//! It covers the five RFC 1350 packets plus OACK (RFC 2347). It does no I/O and knows
//! nothing of transfers; the server ([`crate::Server`]) and the tests' own client both use
//! it. Parsing never panics: every length is checked, and anything odd is a
//! [`PacketError`]. Two leniencies, both for old PXE ROMs: ACK packets may carry trailing
//! bytes, and an ERROR message may lack its final NUL.

use bytes::Bytes;

/// The largest TFTP packet this codec accepts: a DATA packet with the largest block size
/// RFC 2348 allows (65464) plus its 4-byte header. Anything longer is [`PacketError::TooLong`].
pub const MAX_PACKET_LEN: usize = 65464 + 4;

/// The opcodes of RFC 1350 and RFC 2347.
pub mod opcode {
    /// Read request.
    pub const RRQ: u16 = 1;
    /// Write request.
    pub const WRQ: u16 = 2;
    /// Data block.
    pub const DATA: u16 = 3;
    /// Acknowledgment.
    pub const ACK: u16 = 4;
    /// Error.
    pub const ERROR: u16 = 5;
    /// Option acknowledgment (RFC 2347).
    pub const OACK: u16 = 6;
}

/// The error codes of RFC 1350 and RFC 2347.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    /// 0: not defined, see the message (this server's "busy" and "timed out").
    NotDefined = 0,
    /// 1: file not found.
    FileNotFound = 1,
    /// 2: access violation (this server's answer to WRQ and to refused paths).
    AccessViolation = 2,
    /// 3: disk full or allocation exceeded.
    DiskFull = 3,
    /// 4: illegal TFTP operation.
    IllegalOperation = 4,
    /// 5: unknown transfer ID.
    UnknownTid = 5,
    /// 6: file already exists.
    FileExists = 6,
    /// 7: no such user.
    NoSuchUser = 7,
    /// 8: option negotiation refused (RFC 2347); OVMF uses it to abort a size query.
    OptionRefused = 8,
}

/// The transfer mode of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `netascii`: text with CR LF line ends.
    Netascii,
    /// `octet`: raw bytes.
    Octet,
    /// `mail` (obsolete; the server refuses it).
    Mail,
}

impl Mode {
    /// The mode's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Netascii => "netascii",
            Mode::Octet => "octet",
            Mode::Mail => "mail",
        }
    }
}

/// A read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The file name exactly as sent (not yet checked or normalised).
    pub filename: String,
    /// The transfer mode.
    pub mode: Mode,
    /// RFC 2347 options as (name, value) in the order sent; names as sent (compare them
    /// case-insensitively).
    pub options: Vec<(String, String)>,
}

/// One TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Read request.
    Rrq(Request),
    /// Write request.
    Wrq(Request),
    /// A data block (0 to 65464 bytes).
    Data {
        /// Block number (wraps from 65535 to 0).
        block: u16,
        /// The block's bytes.
        data: Bytes,
    },
    /// Acknowledgment of a block (0 acknowledges an OACK).
    Ack(u16),
    /// An error; ends the transfer.
    Error {
        /// Error code (see [`ErrorCode`]; unknown codes are kept as is).
        code: u16,
        /// Human-readable message.
        message: String,
    },
    /// Option acknowledgment: the options the server accepted, with their values.
    Oack(Vec<(String, String)>),
}

/// Why a datagram is not a valid TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Shorter than its fixed header.
    #[error("packet too short ({0} bytes)")]
    TooShort(usize),
    /// Longer than [`MAX_PACKET_LEN`].
    #[error("packet too long ({0} bytes, at most {MAX_PACKET_LEN})")]
    TooLong(usize),
    /// An opcode outside 1..=6.
    #[error("unknown opcode {0}")]
    UnknownOpcode(u16),
    /// A string field without its terminating NUL.
    #[error("{0} is not NUL-terminated")]
    Unterminated(&'static str),
    /// A string field that is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
    /// A request with an empty file name.
    #[error("empty file name")]
    EmptyFilename,
    /// A request with a mode other than netascii, octet or mail.
    #[error("unknown transfer mode {0:?}")]
    UnknownMode(String),
    /// An option name without a value, or an empty option name.
    #[error("malformed option list")]
    BadOptions,
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Splits off one NUL-terminated UTF-8 string.
fn take_str<'a>(buf: &'a [u8], field: &'static str) -> Result<(&'a str, &'a [u8]), PacketError> {
    let nul = buf
        .iter()
        .position(|&b| b == 0)
        .ok_or(PacketError::Unterminated(field))?;
    let s = std::str::from_utf8(&buf[..nul]).map_err(|_| PacketError::NotUtf8(field))?;
    Ok((s, &buf[nul + 1..]))
}

fn parse_options(mut rest: &[u8]) -> Result<Vec<(String, String)>, PacketError> {
    let mut options = Vec::new();
    while !rest.is_empty() {
        let (name, r) = take_str(rest, "option name")?;
        if name.is_empty() {
            return Err(PacketError::BadOptions);
        }
        if r.is_empty() {
            return Err(PacketError::BadOptions);
        }
        let (value, r) = take_str(r, "option value")?;
        options.push((name.to_owned(), value.to_owned()));
        rest = r;
    }
    Ok(options)
}

fn parse_request(body: &[u8]) -> Result<Request, PacketError> {
    let (filename, rest) = take_str(body, "file name")?;
    if filename.is_empty() {
        return Err(PacketError::EmptyFilename);
    }
    let (mode, rest) = take_str(rest, "mode")?;
    let mode = match mode.to_ascii_lowercase().as_str() {
        "netascii" => Mode::Netascii,
        "octet" => Mode::Octet,
        "mail" => Mode::Mail,
        _ => return Err(PacketError::UnknownMode(mode.to_owned())),
    };
    Ok(Request {
        filename: filename.to_owned(),
        mode,
        options: parse_options(rest)?,
    })
}

impl Packet {
    /// Parses one datagram.
    pub fn parse(buf: &[u8]) -> Result<Packet, PacketError> {
        if buf.len() > MAX_PACKET_LEN {
            return Err(PacketError::TooLong(buf.len()));
        }
        let op = u16_at(buf, 0).ok_or(PacketError::TooShort(buf.len()))?;
        let body = &buf[2..];
        match op {
            opcode::RRQ => parse_request(body).map(Packet::Rrq),
            opcode::WRQ => parse_request(body).map(Packet::Wrq),
            opcode::DATA => {
                let block = u16_at(buf, 2).ok_or(PacketError::TooShort(buf.len()))?;
                Ok(Packet::Data {
                    block,
                    data: Bytes::copy_from_slice(&buf[4..]),
                })
            }
            opcode::ACK => u16_at(buf, 2)
                .map(Packet::Ack)
                .ok_or(PacketError::TooShort(buf.len())),
            opcode::ERROR => {
                let code = u16_at(buf, 2).ok_or(PacketError::TooShort(buf.len()))?;
                let msg = &buf[4..];
                let msg = msg.split(|&b| b == 0).next().unwrap_or_default();
                Ok(Packet::Error {
                    code,
                    message: String::from_utf8_lossy(msg).into_owned(),
                })
            }
            opcode::OACK => parse_options(body).map(Packet::Oack),
            other => Err(PacketError::UnknownOpcode(other)),
        }
    }

    /// Appends the packet's wire form to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        fn request(out: &mut Vec<u8>, op: u16, r: &Request) {
            out.extend_from_slice(&op.to_be_bytes());
            push_str(out, &r.filename);
            push_str(out, r.mode.as_str());
            push_options(out, &r.options);
        }
        match self {
            Packet::Rrq(r) => request(out, opcode::RRQ, r),
            Packet::Wrq(r) => request(out, opcode::WRQ, r),
            Packet::Data { block, data } => {
                out.extend_from_slice(&opcode::DATA.to_be_bytes());
                out.extend_from_slice(&block.to_be_bytes());
                out.extend_from_slice(data);
            }
            Packet::Ack(block) => {
                out.extend_from_slice(&opcode::ACK.to_be_bytes());
                out.extend_from_slice(&block.to_be_bytes());
            }
            Packet::Error { code, message } => {
                out.extend_from_slice(&opcode::ERROR.to_be_bytes());
                out.extend_from_slice(&code.to_be_bytes());
                push_str(out, message);
            }
            Packet::Oack(options) => {
                out.extend_from_slice(&opcode::OACK.to_be_bytes());
                push_options(out, options);
            }
        }
    }

    /// The packet's wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// An ERROR packet with a standard code.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Packet {
        Packet::Error {
            code: code as u16,
            message: message.into(),
        }
    }
}

/// Writes a string and its NUL. Interior NULs (which the wire format cannot carry) are
/// dropped rather than producing a packet that parses differently.
fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend(s.bytes().filter(|&b| b != 0));
    out.push(0);
}

fn push_options(out: &mut Vec<u8>, options: &[(String, String)]) {
    for (name, value) in options {
        push_str(out, name);
        push_str(out, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrq(name: &str, mode: Mode, options: &[(&str, &str)]) -> Packet {
        Packet::Rrq(Request {
            filename: name.into(),
            mode,
            options: options
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        })
    }

    #[test]
    fn parses_a_pxe_rrq_with_options() {
        let wire = b"\x00\x01/undionly.kpxe\x00octet\x00tsize\x000\x00blksize\x001468\x00";
        assert_eq!(
            Packet::parse(wire),
            Ok(rrq(
                "/undionly.kpxe",
                Mode::Octet,
                &[("tsize", "0"), ("blksize", "1468")]
            ))
        );
    }

    #[test]
    fn mode_is_case_insensitive() {
        assert_eq!(
            Packet::parse(b"\x00\x01f\x00NetASCII\x00"),
            Ok(rrq("f", Mode::Netascii, &[]))
        );
    }

    #[test]
    fn encodes_known_wire_forms() {
        assert_eq!(Packet::Ack(0x0102).encode(), b"\x00\x04\x01\x02");
        assert_eq!(
            Packet::Data {
                block: 1,
                data: Bytes::from_static(b"hi")
            }
            .encode(),
            b"\x00\x03\x00\x01hi"
        );
        assert_eq!(
            Packet::error(ErrorCode::AccessViolation, "no").encode(),
            b"\x00\x05\x00\x02no\x00"
        );
        assert_eq!(
            Packet::Oack(vec![("tsize".into(), "42".into())]).encode(),
            b"\x00\x06tsize\x0042\x00"
        );
    }

    #[test]
    fn rejects_malformed_packets() {
        let cases: &[(&[u8], PacketError)] = &[
            (b"", PacketError::TooShort(0)),
            (b"\x00", PacketError::TooShort(1)),
            (b"\x00\x04\x00", PacketError::TooShort(3)),
            (b"\x00\x03\x00", PacketError::TooShort(3)),
            (b"\x00\x05\x00", PacketError::TooShort(3)),
            (b"\x00\x09", PacketError::UnknownOpcode(9)),
            (b"\x00\x00", PacketError::UnknownOpcode(0)),
            (b"\x00\x01file", PacketError::Unterminated("file name")),
            (b"\x00\x01file\x00octet", PacketError::Unterminated("mode")),
            (b"\x00\x01\x00octet\x00", PacketError::EmptyFilename),
            (
                b"\x00\x01f\x00binary\x00",
                PacketError::UnknownMode("binary".into()),
            ),
            (b"\x00\x01f\x00octet\x00tsize\x00", PacketError::BadOptions),
            (b"\x00\x01f\x00octet\x00\x000\x00", PacketError::BadOptions),
            (
                b"\x00\x01f\x00octet\x00tsize\x000",
                PacketError::Unterminated("option value"),
            ),
            (
                b"\x00\x01\xff\xfe\x00octet\x00",
                PacketError::NotUtf8("file name"),
            ),
        ];
        for (wire, want) in cases {
            assert_eq!(Packet::parse(wire).as_ref(), Err(want), "{wire:?}");
        }
        let big = vec![0u8; MAX_PACKET_LEN + 1];
        assert_eq!(
            Packet::parse(&big),
            Err(PacketError::TooLong(MAX_PACKET_LEN + 1))
        );
    }

    #[test]
    fn lenient_ack_and_error() {
        assert_eq!(Packet::parse(b"\x00\x04\x00\x07pad"), Ok(Packet::Ack(7)));
        assert_eq!(
            Packet::parse(b"\x00\x05\x00\x08abort"),
            Ok(Packet::error(ErrorCode::OptionRefused, "abort"))
        );
    }

    #[test]
    fn round_trips() {
        let packets = [
            rrq("a/b.efi", Mode::Octet, &[]),
            rrq(
                "x",
                Mode::Netascii,
                &[("blksize", "1468"), ("windowsize", "16")],
            ),
            Packet::Wrq(Request {
                filename: "up".into(),
                mode: Mode::Mail,
                options: vec![],
            }),
            Packet::Data {
                block: 65535,
                data: Bytes::from(vec![7u8; 65464]),
            },
            Packet::Data {
                block: 0,
                data: Bytes::new(),
            },
            Packet::Ack(0),
            Packet::Ack(65535),
            Packet::error(ErrorCode::NotDefined, ""),
            Packet::error(ErrorCode::UnknownTid, "unknown transfer ID"),
            Packet::Oack(vec![]),
            Packet::Oack(vec![("tsize".into(), "74213".into())]),
        ];
        for p in packets {
            assert_eq!(Packet::parse(&p.encode()), Ok(p.clone()), "{p:?}");
        }
    }

    /// Deterministic garbage: a xorshift generator feeds random datagrams (some starting
    /// with a valid opcode, some mutated valid packets) to the parser; it must return
    /// without panicking, and anything it accepts must re-encode to something that parses
    /// to the same packet.
    #[test]
    fn garbage_never_panics_and_accepted_packets_round_trip() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seed = rrq("f", Mode::Octet, &[("blksize", "512"), ("tsize", "0")]).encode();
        for i in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut buf: Vec<u8> = if i % 2 == 0 {
                (0..len).map(|_| next() as u8).collect()
            } else {
                let mut b = seed.clone();
                for _ in 0..(next() % 4) {
                    let at = (next() as usize) % b.len();
                    b[at] = next() as u8;
                }
                b.truncate((next() as usize) % (b.len() + 1));
                b
            };
            if i % 3 == 0 && buf.len() >= 2 {
                buf[0] = 0;
                buf[1] = (next() % 7) as u8;
            }
            if let Ok(p) = Packet::parse(&buf) {
                assert_eq!(Packet::parse(&p.encode()), Ok(p.clone()), "{buf:?}");
            }
        }
    }
}
