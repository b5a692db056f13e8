//! Looking for other DHCP servers on a network before any machine is powered on.
//!
//! A rival DHCP server on the provisioning network is a common reason machines never boot:
//! the firmware takes the first offer, and a rival's has no iPXE script in it (or a
//! different one). [`probe`] sends a DHCPDISCOVER on one interface, as a booting machine
//! would, and reports every server that answers ([`ProbeReport`]): its server identifier
//! (option 54), the source IP and MAC of its reply, the address it offered, and the network
//! boot data it gave ([`BootData`]). Answers from the addresses in
//! [`ProbeConfig::ignore`] (ironbell's own boot service) are counted, not reported.
//!
//! It only asks: it never sends a DHCPREQUEST, so no lease is taken, and a server that
//! holds what it offered (ISC dhcpd does for a minute or two) holds one address for the
//! probe's MAC at most.
//!
//! ## The Discover
//!
//! - **Client MAC** (`chaddr`): the interface's own MAC unless [`ProbeConfig::client_mac`]
//!   says otherwise. A made-up, locally administered MAC would be refused by switches that
//!   do DHCP snooping with MAC verification (the frame's source MAC and `chaddr` must
//!   match, Cisco's default), would take a fresh pool address on each run, and would make
//!   servers that ignore the broadcast flag unicast their offer to a MAC no interface has.
//! - **Broadcast flag** set, so that servers broadcast the offer to a client with no address.
//! - **A random `xid`**, the same for each retransmission; replies with another `xid` or
//!   `chaddr` are other clients' and are only counted.
//! - **It looks like PXE firmware**: option 60 `PXEClient:Arch:00000:UNDI:002001`, 93
//!   (BIOS), 94 and 97, because proxyDHCP servers (dnsmasq with a `proxy` range, another
//!   Smee in auto-proxy mode) answer nothing else, and those are the rivals that hand out boot
//!   files. User class (option 77) `ironbell-probe` names it in the rival's log.
//! - **Retransmitted** [`ProbeConfig::attempts`] times, evenly over [`ProbeConfig::timeout`]
//!   (at 0, 1.7 and 3.3 s of [`DEFAULT_TIMEOUT`], 5 s), as clients do: one lost datagram
//!   does not hide a server.
//!
//! ## Sending and listening: a packet socket
//!
//! One `AF_PACKET` socket (needs `CAP_NET_RAW`) sends the Discover as a whole Ethernet frame
//! from `0.0.0.0:68` to `255.255.255.255:67`, as dhclient and udhcpc do, and receives
//! replies through a kernel filter (classic BPF: this interface, IPv4, UDP from port 67,
//! not a later fragment). No UDP port is bound, so the probe works whoever holds port 68.
//! Measured on Linux 6.18 (a `0.0.0.0:68` UDP socket with `SO_BINDTODEVICE`): while ISC
//! dhclient holds port 68 (its fallback socket has `SO_REUSEADDR`), binding works only
//! with `SO_REUSEADDR`; while a socket bound without it holds the port, binding fails with
//! `EADDRINUSE` whatever the flags (`SO_REUSEPORT` too). And a UDP socket sharing the port
//! would receive only broadcast replies, while the packet socket also sees a reply
//! unicast to the probe's MAC, and gives the replying server's MAC, which a UDP socket
//! cannot. Replies that this host sent itself through the interface are seen too and
//! marked [`DhcpServer::from_this_host`].
//!
//! What it cannot see: a DHCP server on this host listening on the probed interface (say
//! libvirt's dnsmasq on a bridge). A frame sent on an interface goes to the wire, not to
//! the sending host's own sockets, so that server never hears the Discover (checked with
//! dnsmasq on the probed interface: no answer). Something listening on UDP port 67 here
//! is the port check's business, not the probe's.
//!
//! The IPv4 and UDP headers (build and check, one checksum) are written here: 28 bytes
//! of fixed layout, where a packet crate (etherparse, pnet) would add a dependency to the
//! boot service for about sixty lines. The DHCP part is read by the server's own hardened
//! [`parse`].
//!
//! ## Bounds
//!
//! At most [`ProbeConfig::max_servers`] servers are kept (more are counted in
//! [`ProbeReport::over_limit`]); frames that are not well-formed IPv4/UDP/DHCP are counted
//! in [`ProbeReport::malformed`] and dropped; the whole probe ends at its timeout however
//! much arrives, and no input makes it panic.

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use dhcproto::Encodable;
use dhcproto::v4::{Architecture, DhcpOption, Flags, Message, MessageType, Opcode, OptionCode};
use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{LinkAddr, MsgFlags};
use socket2::{Domain, Protocol, SockFilter, Socket, Type};

use crate::reservation::MacAddr;
use crate::respond::{CLIENT_PORT, SERVER_PORT};
use crate::server::parse;

/// How long [`probe`] listens by default. Not 3 s: dnsmasq checks that an address is free
/// (an ICMP echo, `--no-ping` turns it off) before it first offers it to a client, and
/// holds that client's Discovers for 3 s meanwhile (measured with dnsmasq 2.90: all three
/// Discovers of a 3 s probe were answered at 3.0 s, at the probe's deadline).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest [`ProbeConfig::timeout`] accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// Discovers sent by default within the timeout.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// Most Discovers accepted in [`ProbeConfig::attempts`].
pub const MAX_ATTEMPTS: u32 = 10;
/// Servers kept by default; more are only counted.
pub const DEFAULT_MAX_SERVERS: usize = 32;
/// The user class (option 77) of the probe's Discover.
pub const PROBE_USER_CLASS: &[u8] = b"ironbell-probe";
/// The vendor class (option 60) of the probe's Discover: PXE firmware of a BIOS machine.
pub const PROBE_VENDOR_CLASS: &[u8] = b"PXEClient:Arch:00000:UNDI:002001";

/// Ethernet header length.
const ETH_HEADER: usize = 14;
/// IPv4 header length without options (the Discover's).
const IP_HEADER: usize = 20;
/// UDP header length.
const UDP_HEADER: usize = 8;
/// Shortest BOOTP message relays and old servers accept (RFC 951); shorter Discovers are
/// padded, as dhclient pads them.
const BOOTP_MIN: usize = 300;
/// Receive buffer of the packet socket: room for a burst of replies.
const RECV_BUFFER: usize = 1 << 20;
/// Largest frame read; larger ones (jumbo frames) arrive cut and are counted as malformed.
const FRAME_BUFFER: usize = 9216;
/// `sll_pkttype` of a frame this host sent (`PACKET_OUTGOING`, linux/if_packet.h).
const PACKET_OUTGOING: u8 = 4;

/// What to probe and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    /// The interface on the provisioning network, e.g. `eth1`.
    pub interface: String,
    /// How long to listen for answers (at most [`MAX_TIMEOUT`]).
    pub timeout: Duration,
    /// Discovers sent, evenly spread over the timeout (1 to [`MAX_ATTEMPTS`]).
    pub attempts: u32,
    /// Most servers kept in the report (at least 1).
    pub max_servers: usize,
    /// Servers that are ours (ironbell's boot service): an answer whose server identifier
    /// or source address is one of these is counted in [`ProbeReport::ours`], not listed.
    pub ignore: Vec<Ipv4Addr>,
    /// The client MAC (`chaddr`) of the Discover; `None` means the interface's own.
    pub client_mac: Option<[u8; 6]>,
}

impl ProbeConfig {
    /// A probe of `interface` with every other setting at its default.
    pub fn new(interface: impl Into<String>) -> Self {
        Self {
            interface: interface.into(),
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
            max_servers: DEFAULT_MAX_SERVERS,
            ignore: Vec::new(),
            client_mac: None,
        }
    }

    fn check(&self) -> Result<(), ProbeError> {
        let reason = if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            "the timeout must be above 0 and at most 60 s"
        } else if self.attempts == 0 || self.attempts > MAX_ATTEMPTS {
            "attempts must be 1 to 10"
        } else if self.max_servers == 0 {
            "max_servers must be at least 1"
        } else {
            return Ok(());
        };
        Err(ProbeError::InvalidConfig {
            interface: self.interface.clone(),
            reason,
        })
    }
}

/// Why a probe could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// No interface of that name in this network namespace.
    #[error("interface {interface} does not exist")]
    NoSuchInterface {
        /// The interface asked for.
        interface: String,
    },
    /// The interface has no Ethernet address (loopback, a tunnel...).
    #[error("interface {interface} is not an Ethernet interface")]
    NotEthernet {
        /// The interface asked for.
        interface: String,
    },
    /// The interface is administratively down.
    #[error("interface {interface} is down")]
    InterfaceDown {
        /// The interface asked for.
        interface: String,
    },
    /// The process may not open a packet socket or send on it.
    #[error("probing {interface} needs CAP_NET_RAW (run as root): {op} was refused")]
    NotPermitted {
        /// The interface asked for.
        interface: String,
        /// What was refused.
        op: &'static str,
    },
    /// The settings make no sense.
    #[error("probe of {interface}: {reason}")]
    InvalidConfig {
        /// The interface asked for.
        interface: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A system call failed.
    #[error("probe of {interface}: {op} failed: {source}")]
    Io {
        /// The interface asked for.
        interface: String,
        /// What failed.
        op: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl ProbeError {
    fn io(interface: &str, op: &'static str, source: io::Error) -> Self {
        match source.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => Self::NotPermitted {
                interface: interface.to_string(),
                op,
            },
            Some(libc::ENETDOWN) => Self::InterfaceDown {
                interface: interface.to_string(),
            },
            Some(libc::ENODEV | libc::ENXIO) => Self::NoSuchInterface {
                interface: interface.to_string(),
            },
            _ => Self::Io {
                interface: interface.to_string(),
                op,
                source,
            },
        }
    }
}

/// The network boot data in a reply: what would make a PXE client boot from that server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootData {
    /// `siaddr` (next server), when not 0.0.0.0.
    pub next_server: Option<Ipv4Addr>,
    /// The boot file: option 67, else the `file` field.
    pub boot_file: Option<String>,
    /// The TFTP server name: option 66, else the `sname` field.
    pub tftp_server: Option<String>,
    /// Option 60 of the reply starts with `PXEClient` (a PXE or proxyDHCP server says so).
    pub pxe_class: bool,
    /// Option 43 (PXE vendor options: boot menu, discovery control) is present.
    pub vendor_options: bool,
}

impl BootData {
    /// Whether the reply carries anything a PXE client would boot from.
    pub fn offers_pxe(&self) -> bool {
        self.boot_file.is_some() || self.tftp_server.is_some() || self.pxe_class
    }

    fn of(msg: &Message) -> Self {
        let opts = msg.opts();
        let siaddr = msg.siaddr();
        let text_opt = |code| match opts.get(code) {
            Some(DhcpOption::BootfileName(v) | DhcpOption::TFTPServerName(v)) => printable(v),
            _ => None,
        };
        Self {
            next_server: (!siaddr.is_unspecified()).then_some(siaddr),
            boot_file: text_opt(OptionCode::BootfileName)
                .or_else(|| msg.fname().and_then(printable)),
            tftp_server: text_opt(OptionCode::TFTPServerName)
                .or_else(|| msg.sname().and_then(printable)),
            pxe_class: matches!(
                opts.get(OptionCode::ClassIdentifier),
                Some(DhcpOption::ClassIdentifier(v)) if v.starts_with(b"PXEClient")
            ),
            vendor_options: opts.get(OptionCode::VendorExtensions).is_some(),
        }
    }
}

/// A field from the wire as text fit for a terminal: cut at the first NUL, control
/// characters (escape sequences a rival could send) replaced by `?`; `None` when empty.
fn printable(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text: String = String::from_utf8_lossy(&bytes[..end])
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    (!text.is_empty()).then_some(text)
}

/// One server that answered the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpServer {
    /// Its server identifier (option 54), if it sent one.
    pub server_id: Option<Ipv4Addr>,
    /// The source address of its reply (a relay's, when relayed).
    pub source_ip: Ipv4Addr,
    /// The source MAC of its reply (the relay's or router's, when relayed).
    pub source_mac: MacAddr,
    /// The reply's DHCP message type: normally an Offer; `None` for a BOOTP reply.
    pub message_type: Option<MessageType>,
    /// The address it offered (`yiaddr`; 0.0.0.0 from a proxyDHCP server).
    pub offered: Ipv4Addr,
    /// The network boot data it gave.
    pub boot: BootData,
    /// How many of the probe's Discovers it answered.
    pub answers: u32,
    /// The reply was sent by this host, out of the probed interface (see the module
    /// documentation for the local servers the probe cannot see).
    pub from_this_host: bool,
}

impl fmt::Display for DhcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.server_id {
            Some(id) => write!(f, "{id}")?,
            None => write!(f, "(no server id)")?,
        }
        write!(f, " from {} {}", self.source_ip, self.source_mac)?;
        if self.from_this_host {
            write!(f, " (this host)")?;
        }
        match self.message_type {
            Some(MessageType::Offer) if self.offered.is_unspecified() => {
                write!(f, ": proxyDHCP offer")?
            }
            Some(MessageType::Offer) => write!(f, ": offered {}", self.offered)?,
            Some(other) => write!(f, ": answered {other:?}")?,
            None => write!(f, ": BOOTP reply with {}", self.offered)?,
        }
        let b = &self.boot;
        if !b.offers_pxe() && b.next_server.is_none() {
            return write!(f, ", no PXE boot data");
        }
        write!(f, ", PXE:")?;
        if let Some(s) = b.next_server {
            write!(f, " next-server {s}")?;
        }
        if let Some(s) = &b.tftp_server {
            write!(f, " tftp-server {s}")?;
        }
        if let Some(s) = &b.boot_file {
            write!(f, " file {s}")?;
        }
        if b.pxe_class {
            write!(f, " class PXEClient")?;
        }
        if b.vendor_options {
            write!(f, " option-43")?;
        }
        Ok(())
    }
}

/// What a probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// The interface probed.
    pub interface: String,
    /// The client MAC of the Discovers.
    pub client_mac: MacAddr,
    /// Their transaction id.
    pub xid: u32,
    /// Discovers sent.
    pub discovers_sent: u32,
    /// Every other server that answered, in the order of their first answer.
    pub servers: Vec<DhcpServer>,
    /// Answers from the addresses of [`ProbeConfig::ignore`] (ironbell's own server).
    pub ours: u64,
    /// Well-formed replies to other clients seen meanwhile.
    pub other_clients: u64,
    /// Frames from port 67 that were not well-formed IPv4/UDP/DHCP replies.
    pub malformed: u64,
    /// Answers from servers past [`ProbeConfig::max_servers`].
    pub over_limit: u64,
    /// How long the probe took.
    pub elapsed: Duration,
}

impl ProbeReport {
    /// Whether any server other than ours answered.
    pub fn rival_found(&self) -> bool {
        !self.servers.is_empty() || self.over_limit > 0
    }
}

/// The name of the interface of this network namespace that holds `ip`, if one does (the
/// provisioning interface of a plane listening at `ip`).
pub fn interface_with_address(ip: Ipv4Addr) -> Option<String> {
    nix::ifaddrs::getifaddrs().ok()?.find_map(|ifa| {
        let held = ifa
            .address
            .as_ref()
            .and_then(|a| a.as_sockaddr_in())
            .map(|sin| sin.ip());
        (held == Some(ip)).then_some(ifa.interface_name)
    })
}

/// The interface, as the kernel knows it.
struct Link {
    /// The address to send frames through (its index; the MAC in it is unused).
    addr: LinkAddr,
    index: usize,
    mac: [u8; 6],
}

/// Finds `interface` among this network namespace's links (netlink, so it is the calling
/// thread's namespace).
fn find_link(interface: &str) -> Result<Link, ProbeError> {
    let addrs = nix::ifaddrs::getifaddrs()
        .map_err(|e| ProbeError::io(interface, "listing interfaces", e.into()))?;
    let mut seen = false;
    for ifa in addrs.filter(|a| a.interface_name == interface) {
        seen = true;
        let Some(link) = ifa.address.as_ref().and_then(|a| a.as_link_addr()) else {
            continue;
        };
        let mac = match link.addr() {
            Some(mac) if link.hatype() == libc::ARPHRD_ETHER && link.halen() == 6 => mac,
            _ => break,
        };
        if !ifa.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP) {
            return Err(ProbeError::InterfaceDown {
                interface: interface.to_string(),
            });
        }
        return Ok(Link {
            addr: *link,
            index: link.ifindex(),
            mac,
        });
    }
    let interface = interface.to_string();
    Err(if seen {
        ProbeError::NotEthernet { interface }
    } else {
        ProbeError::NoSuchInterface { interface }
    })
}

/// The kernel filter: frames of interface `ifindex` that are IPv4, UDP, not a later
/// fragment, from port 67. Offsets are from the Ethernet header.
fn reply_filter(ifindex: usize) -> Vec<SockFilter> {
    use libc::{
        BPF_ABS, BPF_B, BPF_H, BPF_IND, BPF_JEQ, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_LDX,
        BPF_MSH, BPF_RET, BPF_W, SKF_AD_IFINDEX, SKF_AD_OFF,
    };
    let op = |code: u32| code as u16;
    // The ancillary load of the receiving interface's index.
    let ifindex_k = (SKF_AD_OFF + SKF_AD_IFINDEX) as u32;
    let ifindex = u32::try_from(ifindex).unwrap_or(u32::MAX);
    // Jumps are relative to the next instruction; DROP is instruction 12.
    vec![
        SockFilter::new(op(BPF_LD | BPF_W | BPF_ABS), 0, 0, ifindex_k),
        SockFilter::new(op(BPF_JMP | BPF_JEQ | BPF_K), 0, 10, ifindex),
        SockFilter::new(op(BPF_LD | BPF_H | BPF_ABS), 0, 0, 12),
        SockFilter::new(op(BPF_JMP | BPF_JEQ | BPF_K), 0, 8, 0x0800),
        SockFilter::new(op(BPF_LD | BPF_B | BPF_ABS), 0, 0, 23),
        SockFilter::new(op(BPF_JMP | BPF_JEQ | BPF_K), 0, 6, 17),
        SockFilter::new(op(BPF_LD | BPF_H | BPF_ABS), 0, 0, 20),
        SockFilter::new(op(BPF_JMP | BPF_JSET | BPF_K), 4, 0, 0x1fff),
        SockFilter::new(op(BPF_LDX | BPF_B | BPF_MSH), 0, 0, ETH_HEADER as u32),
        SockFilter::new(op(BPF_LD | BPF_H | BPF_IND), 0, 0, ETH_HEADER as u32),
        SockFilter::new(op(BPF_JMP | BPF_JEQ | BPF_K), 0, 1, u32::from(SERVER_PORT)),
        SockFilter::new(op(BPF_RET | BPF_K), 0, 0, FRAME_BUFFER as u32),
        SockFilter::new(op(BPF_RET | BPF_K), 0, 0, 0),
    ]
}

/// The packet socket, filtered to DHCP replies on `link`.
fn open_socket(link: &Link, interface: &str) -> Result<Socket, ProbeError> {
    let err = |op| move |e| ProbeError::io(interface, op, e);
    let eth_p_ip = i32::from((libc::ETH_P_IP as u16).to_be());
    let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(eth_p_ip)))
        .map_err(err("opening a packet socket"))?;
    socket
        .attach_filter(&reply_filter(link.index))
        .map_err(err("attaching the packet filter"))?;
    socket
        .set_recv_buffer_size(RECV_BUFFER)
        .map_err(err("setting the receive buffer"))?;
    Ok(socket)
}

/// The Discover: broadcast flag, PXE-like options, `secs` as given.
fn discover(mac: [u8; 6], xid: u32, secs: u16) -> Message {
    let u = Ipv4Addr::UNSPECIFIED;
    let mut m = Message::new_with_id(xid, u, u, u, u, &mac);
    m.set_flags(Flags::default().set_broadcast()).set_secs(secs);
    let o = m.opts_mut();
    o.insert(DhcpOption::MessageType(MessageType::Discover));
    o.insert(DhcpOption::ParameterRequestList(vec![
        OptionCode::SubnetMask,
        OptionCode::Router,
        OptionCode::DomainNameServer,
        OptionCode::ServerIdentifier,
        OptionCode::VendorExtensions,
        OptionCode::ClassIdentifier,
        OptionCode::TFTPServerName,
        OptionCode::BootfileName,
    ]));
    o.insert(DhcpOption::MaxMessageSize(1472));
    o.insert(DhcpOption::ClassIdentifier(PROBE_VENDOR_CLASS.to_vec()));
    o.insert(DhcpOption::UserClass(PROBE_USER_CLASS.to_vec()));
    o.insert(DhcpOption::ClientSystemArchitecture(Architecture::X86_Bios));
    o.insert(DhcpOption::ClientNetworkInterface(1, 2, 1));
    let mut guid = vec![0u8; 17];
    guid[11..].copy_from_slice(&mac);
    o.insert(DhcpOption::ClientMachineIdentifier(guid));
    m
}

/// The Internet checksum of `parts`, summed as one run of bytes (each part but the last
/// must have an even length).
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        for pair in part.chunks(2) {
            let hi = pair[0];
            let lo = pair.get(1).copied().unwrap_or(0);
            sum += u32::from(u16::from_be_bytes([hi, lo]));
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame carrying `payload` in UDP over IPv4 (no IP options, TTL 64, no
/// fragmenting), both checksums filled in.
fn udp_frame(
    (src_mac, src_ip, src_port): ([u8; 6], Ipv4Addr, u16),
    (dst_mac, dst_ip, dst_port): ([u8; 6], Ipv4Addr, u16),
    payload: &[u8],
) -> Vec<u8> {
    let udp_len = (UDP_HEADER + payload.len()).min(usize::from(u16::MAX) - IP_HEADER);
    let payload = &payload[..udp_len - UDP_HEADER];
    let udp_len_be = (udp_len as u16).to_be_bytes();
    let ip_len_be = ((IP_HEADER + udp_len) as u16).to_be_bytes();
    let mut f = Vec::with_capacity(ETH_HEADER + IP_HEADER + udp_len);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let ip = f.len();
    // Version 4, 5 words; DSCP low delay (as dhclient); id 0; no flags; TTL 64; UDP.
    f.extend_from_slice(&[
        0x45,
        0x10,
        ip_len_be[0],
        ip_len_be[1],
        0,
        0,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&src_ip.octets());
    f.extend_from_slice(&dst_ip.octets());
    let sum = checksum(&[&f[ip..ip + IP_HEADER]]).to_be_bytes();
    f[ip + 10..ip + 12].copy_from_slice(&sum);
    let udp = f.len();
    f.extend_from_slice(&src_port.to_be_bytes());
    f.extend_from_slice(&dst_port.to_be_bytes());
    f.extend_from_slice(&udp_len_be);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&src_ip.octets());
    pseudo.extend_from_slice(&dst_ip.octets());
    pseudo.extend_from_slice(&[0, 17, udp_len_be[0], udp_len_be[1]]);
    let sum = match checksum(&[&pseudo, &f[udp..]]) {
        0 => 0xffff,
        s => s,
    };
    f[udp + 6..udp + 8].copy_from_slice(&sum.to_be_bytes());
    f
}

/// Why a frame from port 67 was not read as a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum FrameError {
    #[error("not an IPv4 frame")]
    NotIpv4,
    #[error("bad IPv4 header")]
    BadIpHeader,
    #[error("IPv4 header checksum mismatch")]
    IpChecksum,
    #[error("a fragment")]
    Fragment,
    #[error("not UDP from port 67")]
    NotDhcp,
    #[error("bad UDP length")]
    BadUdpLength,
    #[error(transparent)]
    Dhcp(#[from] crate::ParseError),
}

/// A reply as it came off the wire.
struct Reply {
    source_mac: [u8; 6],
    source_ip: Ipv4Addr,
    msg: Message,
}

/// Reads one Ethernet frame as a DHCP reply. Never panics on any input.
fn read_frame(frame: &[u8]) -> Result<Reply, FrameError> {
    let eth = frame.get(..ETH_HEADER).ok_or(FrameError::NotIpv4)?;
    if eth[12..14] != [0x08, 0x00] {
        return Err(FrameError::NotIpv4);
    }
    let source_mac: [u8; 6] = eth[6..12].try_into().map_err(|_| FrameError::NotIpv4)?;
    let packet = &frame[ETH_HEADER..];
    let first = *packet.first().ok_or(FrameError::BadIpHeader)?;
    let ihl = usize::from(first & 0x0f) * 4;
    let header = packet.get(..ihl).ok_or(FrameError::BadIpHeader)?;
    if first >> 4 != 4 || ihl < IP_HEADER {
        return Err(FrameError::BadIpHeader);
    }
    let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
    // An Ethernet frame may be padded past the IP packet, never cut short of it.
    let packet = packet.get(..total).ok_or(FrameError::BadIpHeader)?;
    if total < ihl + UDP_HEADER {
        return Err(FrameError::BadIpHeader);
    }
    if checksum(&[header]) != 0 {
        return Err(FrameError::IpChecksum);
    }
    if u16::from_be_bytes([header[6], header[7]]) & 0x3fff != 0 {
        return Err(FrameError::Fragment);
    }
    let source_ip = Ipv4Addr::new(header[12], header[13], header[14], header[15]);
    let udp = &packet[ihl..];
    if header[9] != 17 || u16::from_be_bytes([udp[0], udp[1]]) != SERVER_PORT {
        return Err(FrameError::NotDhcp);
    }
    // The UDP checksum is not checked: a reply this host sent may still carry a partial
    // one (checksum offload), and the DHCP decoder checks the structure.
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    let payload = udp
        .get(UDP_HEADER..udp_len)
        .ok_or(FrameError::BadUdpLength)?;
    let msg = parse(payload)?;
    Ok(Reply {
        source_mac,
        source_ip,
        msg,
    })
}

/// Gathers the answers to one probe: pure bookkeeping, no I/O.
struct Collector<'a> {
    config: &'a ProbeConfig,
    report: ProbeReport,
}

impl<'a> Collector<'a> {
    fn new(config: &'a ProbeConfig, client_mac: [u8; 6], xid: u32) -> Self {
        Self {
            config,
            report: ProbeReport {
                interface: config.interface.clone(),
                client_mac: MacAddr(client_mac),
                xid,
                discovers_sent: 0,
                servers: Vec::new(),
                ours: 0,
                other_clients: 0,
                malformed: 0,
                over_limit: 0,
                elapsed: Duration::ZERO,
            },
        }
    }

    /// Takes one frame from port 67; `outgoing` when this host sent it.
    fn frame(&mut self, frame: &[u8], outgoing: bool) {
        let reply = match read_frame(frame) {
            Ok(r) => r,
            Err(e) => {
                self.report.malformed += 1;
                tracing::debug!(error = %e, "dropped a malformed frame from port 67");
                return;
            }
        };
        let msg = &reply.msg;
        if msg.opcode() != Opcode::BootReply
            || msg.xid() != self.report.xid
            || msg.chaddr().get(..6) != Some(&self.report.client_mac.0[..])
        {
            self.report.other_clients += 1;
            return;
        }
        let server_id = match msg.opts().get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(ip)) => Some(*ip),
            _ => None,
        };
        let ours = |ip: Ipv4Addr| self.config.ignore.contains(&ip);
        if server_id.is_some_and(ours) || ours(reply.source_ip) {
            self.report.ours += 1;
            return;
        }
        let source_mac = MacAddr(reply.source_mac);
        if let Some(known) = self.report.servers.iter_mut().find(|s| {
            s.server_id == server_id && s.source_ip == reply.source_ip && s.source_mac == source_mac
        }) {
            known.answers = known.answers.saturating_add(1);
            return;
        }
        if self.report.servers.len() >= self.config.max_servers {
            self.report.over_limit += 1;
            return;
        }
        let server = DhcpServer {
            server_id,
            source_ip: reply.source_ip,
            source_mac,
            message_type: msg.opts().msg_type(),
            offered: msg.yiaddr(),
            boot: BootData::of(msg),
            answers: 1,
            from_this_host: outgoing,
        };
        tracing::info!(%server, "another DHCP server answered");
        self.report.servers.push(server);
    }
}

/// Sends a DHCPDISCOVER on `config.interface`, retransmits it, and reports every server
/// that answers within the timeout (see the [module documentation](self)). Blocks for the
/// whole timeout: call it from a thread that may block (`spawn_blocking` in async code).
/// Runs in the calling thread's network namespace.
pub fn probe(config: &ProbeConfig) -> Result<ProbeReport, ProbeError> {
    config.check()?;
    let interface = config.interface.as_str();
    let link = find_link(interface)?;
    let mac = config.client_mac.unwrap_or(link.mac);
    let xid: u32 = rand::random();
    let span = tracing::info_span!("dhcp_probe", interface, mac = %MacAddr(mac), xid);
    let _guard = span.enter();
    let socket = open_socket(&link, interface)?;
    let fd = socket.as_raw_fd();
    let mut collector = Collector::new(config, mac, xid);
    let start = Instant::now();
    let deadline = start + config.timeout;
    let gap = config.timeout / config.attempts;
    let mut next_send = start;
    let mut buf = vec![0u8; FRAME_BUFFER];
    loop {
        let now = Instant::now();
        if collector.report.discovers_sent < config.attempts && now >= next_send {
            let secs = u16::try_from(now.duration_since(start).as_secs()).unwrap_or(u16::MAX);
            let mut payload = discover(mac, xid, secs).to_vec().map_err(|e| {
                ProbeError::io(interface, "encoding the Discover", io::Error::other(e))
            })?;
            payload.resize(payload.len().max(BOOTP_MIN), 0);
            let frame = udp_frame(
                (link.mac, Ipv4Addr::UNSPECIFIED, CLIENT_PORT),
                ([0xff; 6], Ipv4Addr::BROADCAST, SERVER_PORT),
                &payload,
            );
            nix::sys::socket::sendto(fd, &frame, &link.addr, MsgFlags::empty())
                .map_err(|e| ProbeError::io(interface, "sending the Discover", e.into()))?;
            collector.report.discovers_sent += 1;
            next_send = start + gap * collector.report.discovers_sent;
            tracing::debug!(n = collector.report.discovers_sent, "sent a Discover");
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let wake = if collector.report.discovers_sent < config.attempts {
            next_send.min(deadline)
        } else {
            deadline
        };
        let wait = wake
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        socket
            .set_read_timeout(Some(wait))
            .map_err(|e| ProbeError::io(interface, "setting the receive timeout", e))?;
        match nix::sys::socket::recvfrom::<LinkAddr>(fd, &mut buf) {
            Ok((n, from)) => {
                // The filter checks the interface too; a frame queued before it was
                // attached may be from another.
                let Some(from) = from.filter(|a| a.ifindex() == link.index) else {
                    continue;
                };
                collector.frame(&buf[..n.min(buf.len())], from.pkttype() == PACKET_OUTGOING);
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(e) => return Err(ProbeError::io(interface, "receiving", e.into())),
        }
    }
    let mut report = collector.report;
    report.elapsed = start.elapsed();
    tracing::info!(
        servers = report.servers.len(),
        ours = report.ours,
        malformed = report.malformed,
        "probe done"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const RIVAL_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x67];
    const XID: u32 = 0x1bad_b002;

    fn offer(server: Ipv4Addr, yiaddr: Ipv4Addr) -> Message {
        let u = Ipv4Addr::UNSPECIFIED;
        let mut m =
            Message::new_with_id(XID, u, yiaddr, Ipv4Addr::new(192, 0, 2, 5), u, &PROBE_MAC);
        m.set_opcode(Opcode::BootReply);
        let o = m.opts_mut();
        o.insert(DhcpOption::MessageType(MessageType::Offer));
        o.insert(DhcpOption::ServerIdentifier(server));
        o.insert(DhcpOption::BootfileName(b"undionly.kpxe".to_vec()));
        m
    }

    fn frame_of(m: &Message, from: Ipv4Addr) -> Vec<u8> {
        udp_frame(
            (RIVAL_MAC, from, SERVER_PORT),
            ([0xff; 6], Ipv4Addr::BROADCAST, CLIENT_PORT),
            &m.to_vec().expect("encode"),
        )
    }

    fn config() -> ProbeConfig {
        let mut c = ProbeConfig::new("eth9");
        c.ignore = vec![Ipv4Addr::new(192, 0, 2, 1)];
        c.max_servers = 4;
        c
    }

    #[test]
    fn the_discover_frame_is_well_formed_and_reads_back() {
        let payload = discover(PROBE_MAC, XID, 0).to_vec().expect("encode");
        let frame = udp_frame(
            (PROBE_MAC, Ipv4Addr::UNSPECIFIED, CLIENT_PORT),
            ([0xff; 6], Ipv4Addr::BROADCAST, SERVER_PORT),
            &payload,
        );
        assert_eq!(
            frame.len(),
            ETH_HEADER + IP_HEADER + UDP_HEADER + payload.len()
        );
        // The IP header sums to zero with its checksum; so does UDP with its pseudo-header.
        assert_eq!(checksum(&[&frame[14..34]]), 0);
        let udp_len = ((UDP_HEADER + payload.len()) as u16).to_be_bytes();
        let pseudo = [[0u8; 4].as_slice(), &[255; 4], &[0, 17], &udp_len].concat();
        assert_eq!(checksum(&[&pseudo, &frame[34..]]), 0);
        let msg = parse(&frame[42..]).expect("parse");
        assert!(msg.flags().broadcast());
        assert!(
            crate::Packet::parse(&frame[42..])
                .expect("parse")
                .is_netboot_client()
        );
        assert_eq!(msg.opts().msg_type(), Some(MessageType::Discover));
    }

    #[test]
    fn offers_are_grouped_by_server_ours_are_counted_and_others_ignored() {
        let config = config();
        let mut c = Collector::new(&config, PROBE_MAC, XID);
        let rival = Ipv4Addr::new(192, 0, 2, 9);
        let f = frame_of(&offer(rival, Ipv4Addr::new(192, 0, 2, 100)), rival);
        c.frame(&f, false);
        c.frame(&f, false);
        c.frame(
            &frame_of(
                &offer(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 10)),
                Ipv4Addr::new(192, 0, 2, 1),
            ),
            false,
        );
        let mut other = offer(rival, Ipv4Addr::new(192, 0, 2, 101));
        other.set_xid(XID + 1);
        c.frame(&frame_of(&other, rival), false);
        let r = &c.report;
        assert_eq!((r.ours, r.other_clients, r.malformed), (1, 1, 0));
        assert_eq!(r.servers.len(), 1);
        let s = &r.servers[0];
        assert_eq!(
            (s.server_id, s.source_ip, s.answers),
            (Some(rival), rival, 2)
        );
        assert_eq!(s.offered, Ipv4Addr::new(192, 0, 2, 100));
        assert_eq!(s.boot.boot_file.as_deref(), Some("undionly.kpxe"));
        assert_eq!(s.boot.next_server, Some(Ipv4Addr::new(192, 0, 2, 5)));
        assert!(s.boot.offers_pxe());
        assert_eq!(
            s.to_string(),
            "192.0.2.9 from 192.0.2.9 02:00:00:00:00:67: offered 192.0.2.100, PXE: \
             next-server 192.0.2.5 file undionly.kpxe"
        );
        assert!(r.rival_found());
    }

    #[test]
    fn at_most_max_servers_are_kept() {
        let config = config();
        let mut c = Collector::new(&config, PROBE_MAC, XID);
        for i in 0..10 {
            let ip = Ipv4Addr::new(192, 0, 2, 20 + i);
            c.frame(&frame_of(&offer(ip, ip), ip), false);
        }
        assert_eq!(c.report.servers.len(), 4);
        assert_eq!(c.report.over_limit, 6);
    }

    #[test]
    fn text_from_the_wire_cannot_reach_the_terminal_raw() {
        assert_eq!(printable(b"a\x1b[2Jb\0junk").as_deref(), Some("a?[2Jb"));
        assert_eq!(printable(b"\0\0"), None);
        assert_eq!(printable(&[0xff, b'x']).as_deref(), Some("\u{fffd}x"));
    }

    #[test]
    fn malformed_frames_are_counted_and_never_panic() {
        let config = config();
        let mut c = Collector::new(&config, PROBE_MAC, XID);
        let ip = Ipv4Addr::new(192, 0, 2, 9);
        let good = frame_of(&offer(ip, ip), ip);
        let mut bad_sum = good.clone();
        bad_sum[24] ^= 0xff;
        let mut fragment = good.clone();
        fragment[20] = 0x20; // more fragments
        let mut long_udp = good.clone();
        long_udp[38..40].copy_from_slice(&u16::MAX.to_be_bytes());
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            good[..13].to_vec(),
            good[..20].to_vec(),
            good[..60].to_vec(),
            bad_sum,
            fragment,
            long_udp,
        ];
        for case in &cases {
            c.frame(case, false);
        }
        assert_eq!(c.report.malformed, cases.len() as u64);
        // Random mutations of a good reply: anything may be counted, nothing panics.
        let mut rng = ironbell_testbed::Rng::new(15);
        for _ in 0..20_000 {
            let mut f = good.clone();
            // Half the time only the DHCP part, past the IP checksum.
            let from = if rng.below(2) == 0 { 0 } else { 42 };
            for _ in 0..=rng.below(8) {
                let i = from + rng.below(f.len() - from);
                f[i] = rng.next() as u8;
            }
            f.truncate(rng.below(f.len() + 1).max(rng.below(f.len() + 1)));
            c.frame(&f, false);
        }
        for len in 0..600 {
            c.frame(&rng.bytes(len), false);
        }
        assert!(c.report.servers.len() <= config.max_servers);
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad: [fn(&mut ProbeConfig); 4] = [
            |c| c.timeout = Duration::ZERO,
            |c| c.timeout = MAX_TIMEOUT * 2,
            |c| c.attempts = 0,
            |c| c.max_servers = 0,
        ];
        for change in bad {
            let mut c = ProbeConfig::new("eth0");
            change(&mut c);
            let e = probe(&c).expect_err("bad settings");
            assert!(matches!(e, ProbeError::InvalidConfig { .. }), "{e}");
        }
    }

    #[test]
    fn a_missing_interface_is_named() {
        let e = probe(&ProbeConfig::new("ib-no-such0")).expect_err("no such interface");
        assert_eq!(e.to_string(), "interface ib-no-such0 does not exist");
        let e = probe(&ProbeConfig::new("lo")).expect_err("loopback");
        assert_eq!(e.to_string(), "interface lo is not an Ethernet interface");
    }

    #[test]
    fn the_interface_holding_an_address_is_found() {
        assert_eq!(
            interface_with_address(Ipv4Addr::LOCALHOST).as_deref(),
            Some("lo")
        );
        assert_eq!(interface_with_address(Ipv4Addr::new(192, 0, 2, 254)), None);
    }
}
