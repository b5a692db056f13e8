//! The pure core: one request in, one reply (or the reason for none) out. No sockets, no
//! clocks. [`answer`] reads a [`Packet`] and writes the reply's bytes itself: building a
//! dhcproto `Message` (a `BTreeMap` of options, a `Vec` or `String` per value) and encoding
//! it cost more than everything else in an exchange but the system calls. The bytes are
//! those dhcproto wrote (`tests/data/replies.golden` holds them for 4,752 requests), and
//! [`respond`] wraps [`answer`] for messages crafted by dhcproto, which is how the tests
//! state every rule.

use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::{Message, MessageType};
use dhcproto::{Decodable, Decoder, Encodable};

use crate::config::{Config, Mode};
use crate::packet::{MAGIC, MAX_PACKET, MIN_PACKET, Packet};
#[cfg(test)]
use crate::reservation::format_mac;
use crate::reservation::{Backend, Reservation};

/// UDP port of DHCP servers and relay agents.
pub const SERVER_PORT: u16 = 67;
/// UDP port of DHCP clients.
pub const CLIENT_PORT: u16 = 68;

/// The boot file of the "netboot not allowed" answer: a file that does not exist, with no
/// next-server, so firmware gives up on network boot (Smee's convention).
pub const NETBOOT_NOT_ALLOWED: &str = "/netboot-not-allowed";

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send `message` to `to`.
    Reply {
        /// The reply (Offer, Ack or Nak).
        message: Box<Message>,
        /// Where to send it.
        to: SocketAddrV4,
    },
    /// Send nothing.
    Ignore(IgnoreReason),
}

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgnoreReason {
    /// The server's mode is [`Mode::Off`].
    ModeOff,
    /// A BOOTREPLY, or a message without option 53.
    NotARequest,
    /// The hardware address is not a 6-byte Ethernet MAC.
    BadHardwareAddress,
    /// A message type this server does not answer (Offer, Ack, lease queries...).
    UnsupportedMessageType,
    /// A Request that selected another server (option 54).
    OtherServer,
    /// A Release: nothing to free, addresses are reservations.
    Release,
    /// A Decline: logged, nothing to free.
    Decline,
    /// No reservation for the MAC.
    UnknownMac,
    /// The reservation has DHCP disabled.
    DhcpDisabled,
    /// Proxy modes answer only network-boot clients.
    NotNetbootClient,
    /// Proxy modes do not answer a machine that may not netboot.
    NetbootNotAllowed,
    /// The client architecture (option 93) has no iPXE binary (proxy modes).
    UnknownArchitecture,
}

impl IgnoreReason {
    /// Every reason, in a fixed order (for counters).
    pub const ALL: [IgnoreReason; 12] = [
        Self::ModeOff,
        Self::NotARequest,
        Self::BadHardwareAddress,
        Self::UnsupportedMessageType,
        Self::OtherServer,
        Self::Release,
        Self::Decline,
        Self::UnknownMac,
        Self::DhcpDisabled,
        Self::NotNetbootClient,
        Self::NetbootNotAllowed,
        Self::UnknownArchitecture,
    ];

    /// The reason's position in [`IgnoreReason::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }

    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ModeOff => "mode_off",
            Self::NotARequest => "not_a_request",
            Self::BadHardwareAddress => "bad_hardware_address",
            Self::UnsupportedMessageType => "unsupported_message_type",
            Self::OtherServer => "other_server",
            Self::Release => "release",
            Self::Decline => "decline",
            Self::UnknownMac => "unknown_mac",
            Self::DhcpDisabled => "dhcp_disabled",
            Self::NotNetbootClient => "not_netboot_client",
            Self::NetbootNotAllowed => "netboot_not_allowed",
            Self::UnknownArchitecture => "unknown_architecture",
        }
    }
}

/// How a reply tells the client where to boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BootAnswer<'r> {
    /// Nothing about booting (a client that is not network-boot firmware).
    None,
    /// The "netboot not allowed" answer.
    NotAllowed,
    /// Boot from `file` at `next_server`.
    Boot {
        file: BootFile<'r>,
        next_server: Ipv4Addr,
        /// Option 60 of the reply: `HTTPClient` for UEFI HTTP boot, `PXEClient` in proxy
        /// modes, else none.
        class: Option<&'static [u8]>,
    },
}

/// The boot file name of a reply, written straight into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BootFile<'r> {
    /// A name or URL as it is.
    Text(&'r str),
    /// `{base}/ipxe/script/{mac}/auto.ipxe`, the iPXE script (`base`: `config`'s
    /// [`Config::http_base`]).
    Script { config: &'r Config, mac: [u8; 6] },
    /// `{base}/ipxe/binary/{mac}/{binary}`, an iPXE binary over HTTP.
    HttpBinary {
        config: &'r Config,
        mac: [u8; 6],
        binary: &'r str,
    },
}

impl BootFile<'_> {
    fn write(self, out: &mut Vec<u8>) {
        match self {
            Self::Text(text) => out.extend_from_slice(text.as_bytes()),
            Self::Script { config, mac } => {
                config.write_http_base(out);
                out.extend_from_slice(b"/ipxe/script/");
                write_mac(out, mac);
                out.extend_from_slice(b"/auto.ipxe");
            }
            Self::HttpBinary {
                config,
                mac,
                binary,
            } => {
                config.write_http_base(out);
                out.extend_from_slice(b"/ipxe/binary/");
                write_mac(out, mac);
                out.push(b'/');
                out.extend_from_slice(binary.as_bytes());
            }
        }
    }
}

/// Chooses the boot file for a netbooting client that may boot. `None` when the
/// architecture has no binary (and the client is not already iPXE).
fn choose_boot<'r>(
    config: &'r Config,
    req: &Packet<'_>,
    mac: [u8; 6],
    res: Option<&'r Reservation>,
    proxy: bool,
) -> Option<BootAnswer<'r>> {
    let class = if proxy { Some(&b"PXEClient"[..]) } else { None };
    if req.has_user_class(&config.ipxe_user_class) {
        let file = match res.and_then(|r| r.ipxe_script_url.as_deref()) {
            Some(url) => BootFile::Text(url),
            None => BootFile::Script { config, mac },
        };
        return Some(BootAnswer::Boot {
            file,
            next_server: config.tftp_server(),
            class,
        });
    }
    let binary = match res.and_then(|r| r.boot_file.as_deref()) {
        Some(b) => b,
        None => config.binaries.for_arch(req.architecture()?)?,
    };
    if req.is_http_client() {
        return Some(BootAnswer::Boot {
            file: BootFile::HttpBinary {
                config,
                mac,
                binary,
            },
            next_server: config.server_ip,
            class: Some(b"HTTPClient"),
        });
    }
    Some(BootAnswer::Boot {
        file: BootFile::Text(binary),
        next_server: config.tftp_server(),
        class,
    })
}

/// One reply, before it is written.
struct Reply<'r> {
    kind: MessageType,
    yiaddr: Ipv4Addr,
    siaddr: Ipv4Addr,
    /// The address options of this reservation (everything but `yiaddr` and lease times).
    address: Option<&'r Reservation>,
    /// Lease time (options 51, 58, 59).
    lease: Option<u32>,
    boot: BootAnswer<'r>,
    /// For a Nak: the address the client asked for (option 56 says why it is refused).
    refused: Option<Ipv4Addr>,
}

impl<'r> Reply<'r> {
    fn new(kind: MessageType) -> Self {
        Self {
            kind,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            address: None,
            lease: None,
            boot: BootAnswer::None,
            refused: None,
        }
    }

    fn with_boot(mut self, boot: BootAnswer<'r>) -> Self {
        self.siaddr = match boot {
            BootAnswer::Boot { next_server, .. } => next_server,
            BootAnswer::NotAllowed | BootAnswer::None => Ipv4Addr::UNSPECIFIED,
        };
        self.boot = boot;
        self
    }

    /// Writes the reply to `req` into `out` (cleared first): the BOOTP header with the
    /// request's xid, htype, flags, giaddr and MAC, then the options in ascending order of
    /// code with the relay agent information last (RFC 3046), then End. Values longer than
    /// 255 bytes are split into consecutive instances (RFC 3396).
    fn write(&self, config: &Config, req: &Packet<'_>, mac: [u8; 6], out: &mut Vec<u8>) {
        out.clear();
        out.resize(MIN_PACKET, 0);
        out[0] = 2; // BOOTREPLY
        out[1] = req.htype();
        out[2] = 6;
        out[4..8].copy_from_slice(&req.xid().to_be_bytes());
        out[10..12].copy_from_slice(&req.flags().to_be_bytes());
        out[16..20].copy_from_slice(&self.yiaddr.octets());
        out[20..24].copy_from_slice(&self.siaddr.octets());
        out[24..28].copy_from_slice(&req.giaddr().octets());
        out[28..34].copy_from_slice(&mac);
        out[236..240].copy_from_slice(&MAGIC);

        if let Some(res) = self.address {
            put_fixed(out, 1, res.netmask.octets());
            if let Some(gw) = res.gateway {
                put_addresses(out, 3, &[gw]);
            }
            put_addresses(out, 6, &res.dns_servers);
            if let Some(syslog) = config.syslog_server {
                put_addresses(out, 7, &[syslog]);
            }
            if let Some(h) = res.hostname.as_deref() {
                put_long(out, 12, |o| o.extend_from_slice(h.as_bytes()));
            }
            if let Some(d) = res.domain_name.as_deref() {
                put_long(out, 15, |o| o.extend_from_slice(d.as_bytes()));
            }
            put_fixed(out, 28, res.broadcast().octets());
            put_addresses(out, 42, &res.ntp_servers);
        }
        let file = match self.boot {
            BootAnswer::Boot { file, .. } => Some(file),
            BootAnswer::None | BootAnswer::NotAllowed => None,
        };
        if file.is_some() {
            // PXE vendor options: sub-option 6 (discovery control) = 8, "boot from the
            // file named in this reply, skip boot server discovery"; then End.
            put_fixed(out, 43, [6, 1, 8, 255]);
        }
        if let Some(lease) = self.lease {
            put_fixed(out, 51, lease.to_be_bytes());
        }
        put_fixed(out, 53, [u8::from(self.kind)]);
        put_fixed(out, 54, config.server_ip.octets());
        if let Some(requested) = self.refused {
            put_long(out, 56, |o| {
                o.extend_from_slice(b"requested address ");
                write_dotted_quad(o, requested);
                o.extend_from_slice(b" is not the reserved address");
            });
        }
        if let Some(lease) = self.lease {
            put_fixed(out, 58, (lease / 2).to_be_bytes());
            put_fixed(out, 59, ((u64::from(lease) * 7 / 8) as u32).to_be_bytes());
        }
        if let BootAnswer::Boot {
            class: Some(class), ..
        } = self.boot
        {
            put_long(out, 60, |o| o.extend_from_slice(class));
        }
        // RFC 6842: echo the client identifier.
        if let Some(id) = req.option(61) {
            put_long(out, 61, |o| o.extend_from_slice(&id));
        }
        match (self.boot, file) {
            (BootAnswer::Boot { next_server, .. }, Some(file)) => {
                put_long(out, 66, |o| write_dotted_quad(o, next_server));
                let (at, len) = put_long(out, 67, |o| file.write(o));
                // The `file` field holds 128 bytes; a longer name is in option 67 only
                // (iPXE reads it there).
                if len <= 128 && at + len <= out.len() {
                    out.copy_within(at..at + len, 108);
                }
                if let Some(guid) = req.option(97) {
                    put_long(out, 97, |o| o.extend_from_slice(&guid));
                }
            }
            (BootAnswer::NotAllowed, _) => {
                out[108..108 + NETBOOT_NOT_ALLOWED.len()]
                    .copy_from_slice(NETBOOT_NOT_ALLOWED.as_bytes());
            }
            _ => {}
        }
        if let Some(res) = self.address {
            put_long(out, 119, |o| write_search(o, &res.domain_search));
            put_long(out, 121, |o| write_routes(o, &res.classless_routes));
        }
        // RFC 3046: the relay agent information as received, last.
        if let Some(relay) = req.option(82) {
            put_long(out, 82, |o| o.extend_from_slice(&relay));
        }
        out.push(255);
    }
}

/// Appends option `code` with a fixed-size value.
fn put_fixed<const N: usize>(out: &mut Vec<u8>, code: u8, value: [u8; N]) {
    out.push(code);
    out.push(N as u8);
    out.extend_from_slice(&value);
}

/// Appends option `code` with a list of addresses, 63 to an instance (252 bytes).
fn put_addresses(out: &mut Vec<u8>, code: u8, addresses: &[Ipv4Addr]) {
    for chunk in addresses.chunks(63) {
        out.push(code);
        out.push((chunk.len() * 4) as u8);
        for a in chunk {
            out.extend_from_slice(&a.octets());
        }
    }
}

/// Appends option `code` with the value `write` appends, split into instances of at most
/// 255 bytes (RFC 3396). An empty value adds nothing. Returns where the value starts in
/// `out` and its length when it was not split (else the position is past the end).
fn put_long(out: &mut Vec<u8>, code: u8, write: impl FnOnce(&mut Vec<u8>)) -> (usize, usize) {
    let at = out.len();
    out.extend_from_slice(&[code, 0]);
    write(out);
    let len = out.len() - at - 2;
    match len {
        0 => {
            out.truncate(at);
            (at, 0)
        }
        1..=255 => {
            out[at + 1] = len as u8;
            (at + 2, len)
        }
        _ => {
            // Rare (a long URL, host name or search list): copy out and cut into pieces.
            let value = out.split_off(at + 2);
            out.truncate(at);
            for piece in value.chunks(255) {
                out.push(code);
                out.push(piece.len() as u8);
                out.extend_from_slice(piece);
            }
            (usize::MAX, len)
        }
    }
}

/// Appends a domain search list (option 119, RFC 3397) without compression; a name with
/// a label over 63 bytes is left out.
fn write_search(out: &mut Vec<u8>, domains: &[String]) {
    for d in domains {
        let name = d.trim_end_matches('.');
        let mut labels = name.split('.').filter(|l| !l.is_empty()).peekable();
        if labels.peek().is_none() || name.split('.').any(|l| l.len() > 63) {
            continue;
        }
        for l in labels {
            out.push(l.len() as u8);
            out.extend_from_slice(l.as_bytes());
        }
        out.push(0);
    }
}

/// Appends classless static routes (option 121, RFC 3442); a prefix over 32 is left out.
fn write_routes(out: &mut Vec<u8>, routes: &[crate::reservation::Route]) {
    for r in routes.iter().filter(|r| r.prefix_len <= 32) {
        out.push(r.prefix_len);
        let significant = usize::from(r.prefix_len).div_ceil(8);
        out.extend_from_slice(&r.destination.octets()[..significant]);
        out.extend_from_slice(&r.gateway.octets());
    }
}

/// Appends `ip` as dotted-quad text, what `ip.to_string()` gives, without the formatting
/// machinery.
pub(crate) fn write_dotted_quad(out: &mut Vec<u8>, ip: Ipv4Addr) {
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        if octet >= 100 {
            out.push(b'0' + octet / 100);
        }
        if octet >= 10 {
            out.push(b'0' + octet / 10 % 10);
        }
        out.push(b'0' + octet % 10);
    }
}

/// Appends `mac` as Smee writes it in URLs: lower-case hex pairs joined by colons.
fn write_mac(out: &mut Vec<u8>, mac: [u8; 6]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in mac.into_iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

/// Where a reply goes: a relay's giaddr, the broadcast address for clients that cannot
/// take unicast yet (no ciaddr, or broadcast flag), else the client's ciaddr.
fn destination(req: &Packet<'_>, nak: bool) -> SocketAddrV4 {
    if !req.giaddr().is_unspecified() {
        return SocketAddrV4::new(req.giaddr(), SERVER_PORT);
    }
    if nak || req.broadcast() || req.ciaddr().is_unspecified() {
        return SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT);
    }
    SocketAddrV4::new(req.ciaddr(), CLIENT_PORT)
}

/// Decides the answer to one request and writes it into `out` (cleared first; its
/// capacity is reused). Pure: it reads `config`, asks `backend` about the client's MAC,
/// and returns where the reply goes, or why there is none. It allocates nothing on the
/// common path (a backend may).
pub fn answer(
    config: &Config,
    backend: &dyn Backend,
    req: &Packet<'_>,
    out: &mut Vec<u8>,
) -> Result<SocketAddrV4, IgnoreReason> {
    use IgnoreReason as R;
    if config.mode == Mode::Off {
        return Err(R::ModeOff);
    }
    if req.op() != 1 {
        return Err(R::NotARequest);
    }
    let Some(mt) = req.message_type() else {
        return Err(R::NotARequest);
    };
    let Some(mac) = req.mac() else {
        return Err(R::BadHardwareAddress);
    };
    match mt {
        MessageType::Discover | MessageType::Request | MessageType::Inform => {}
        MessageType::Release => return Err(R::Release),
        MessageType::Decline => return Err(R::Decline),
        _ => return Err(R::UnsupportedMessageType),
    }
    if mt == MessageType::Request
        && let Some(id) = req.server_identifier()
        && id != config.server_ip
    {
        return Err(R::OtherServer);
    }
    let res = backend.lookup(mac);
    if res.as_ref().is_some_and(|r| r.dhcp_disabled) {
        return Err(R::DhcpDisabled);
    }
    let netboot = req.is_netboot_client();
    match config.mode {
        Mode::Off => Err(R::ModeOff),
        Mode::Reservation => {
            let Some(res) = res else {
                return Err(R::UnknownMac);
            };
            let (reply, to) = reservation_reply(config, req, mac, mt, &res, netboot);
            reply.write(config, req, mac, out);
            Ok(to)
        }
        Mode::Proxy | Mode::AutoProxy => {
            if mt == MessageType::Inform {
                return Err(R::UnsupportedMessageType);
            }
            if !netboot {
                return Err(R::NotNetbootClient);
            }
            if res.is_none() && config.mode == Mode::Proxy {
                return Err(R::UnknownMac);
            }
            if res.as_ref().is_some_and(|r| !r.allow_netboot) {
                return Err(R::NetbootNotAllowed);
            }
            let Some(boot) = choose_boot(config, req, mac, res.as_deref(), true) else {
                return Err(R::UnknownArchitecture);
            };
            let kind = if mt == MessageType::Discover {
                MessageType::Offer
            } else {
                MessageType::Ack
            };
            Reply::new(kind)
                .with_boot(boot)
                .write(config, req, mac, out);
            Ok(destination(req, false))
        }
    }
}

fn reservation_reply<'r>(
    config: &'r Config,
    req: &Packet<'_>,
    mac: [u8; 6],
    mt: MessageType,
    res: &'r Reservation,
    netboot: bool,
) -> (Reply<'r>, SocketAddrV4) {
    let kind = match mt {
        MessageType::Discover => MessageType::Offer,
        MessageType::Request => {
            let requested = req.requested_ip().unwrap_or_else(|| req.ciaddr());
            if requested != res.ip {
                let mut nak = Reply::new(MessageType::Nak);
                nak.refused = Some(requested);
                return (nak, destination(req, true));
            }
            MessageType::Ack
        }
        _ => MessageType::Ack, // Inform
    };
    let boot = || {
        if res.allow_netboot {
            choose_boot(config, req, mac, Some(res), false).unwrap_or(BootAnswer::NotAllowed)
        } else {
            BootAnswer::NotAllowed
        }
    };
    let mut reply = Reply::new(kind);
    reply.address = Some(res);
    if mt == MessageType::Inform {
        // RFC 2131 4.3.5: no yiaddr and no lease time; the client has its address.
        if netboot && res.allow_netboot {
            reply = reply.with_boot(boot());
        }
        let to = if req.giaddr().is_unspecified() && !req.ciaddr().is_unspecified() {
            SocketAddrV4::new(req.ciaddr(), CLIENT_PORT)
        } else {
            destination(req, false)
        };
        return (reply, to);
    }
    reply.yiaddr = res.ip;
    reply.lease = Some(res.lease_time());
    if netboot {
        reply = reply.with_boot(boot());
    } else {
        reply.siaddr = config.server_ip;
    }
    (reply, destination(req, false))
}

/// [`answer`] for a message built with dhcproto: encodes it, answers it, and decodes the
/// reply. For tests and tools; the server calls [`answer`] on the datagram it received. A
/// message that does not encode, or whose encoding [`Packet::parse`] refuses, is
/// [`IgnoreReason::NotARequest`].
pub fn respond(config: &Config, backend: &dyn Backend, req: &Message) -> Decision {
    let Ok(bytes) = req.to_vec() else {
        return Decision::Ignore(IgnoreReason::NotARequest);
    };
    let Ok(packet) = Packet::parse(&bytes) else {
        return Decision::Ignore(IgnoreReason::NotARequest);
    };
    let mut out = Vec::with_capacity(MAX_PACKET);
    match answer(config, backend, &packet, &mut out) {
        Ok(to) => match Message::decode(&mut Decoder::new(&out)) {
            Ok(message) => Decision::Reply {
                message: Box::new(message),
                to,
            },
            // `answer` writes only what dhcproto reads (the fuzz target checks it).
            Err(_) => Decision::Ignore(IgnoreReason::NotARequest),
        },
        Err(reason) => Decision::Ignore(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_quad_is_to_string() {
        let quad = |ip| {
            let mut out = Vec::new();
            write_dotted_quad(&mut out, ip);
            out
        };
        for ip in [
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            Ipv4Addr::new(10, 100, 0, 1),
            Ipv4Addr::new(192, 9, 99, 100),
            Ipv4Addr::new(1, 20, 201, 109),
        ] {
            assert_eq!(quad(ip), ip.to_string().into_bytes());
        }
        for n in 0..=255u8 {
            let ip = Ipv4Addr::new(n, n, 0, n);
            assert_eq!(quad(ip), ip.to_string().into_bytes());
        }
    }

    #[test]
    fn mac_is_format_mac() {
        for mac in [[0u8; 6], [0xff; 6], [0x52, 0x54, 0x00, 0x0a, 0xb1, 0x9c]] {
            let mut out = Vec::new();
            write_mac(&mut out, mac);
            assert_eq!(out, format_mac(mac).into_bytes());
        }
    }

    #[test]
    fn long_values_are_split_and_empty_ones_left_out() {
        let mut out = Vec::new();
        assert_eq!(put_long(&mut out, 12, |_| {}), (0, 0));
        assert!(out.is_empty());
        put_long(&mut out, 12, |o| o.extend_from_slice(&[7; 300]));
        assert_eq!(out.len(), 2 + 255 + 2 + 45);
        assert_eq!((out[0], out[1], out[257], out[258]), (12, 255, 12, 45));
    }
}
