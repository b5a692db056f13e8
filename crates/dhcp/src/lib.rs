//! # ironbell-dhcp
//!
//! The DHCPv4 server of ironbell's boot service (the Smee/Boots replacement): it hands
//! reserved addresses to known machines and tells network-boot firmware which iPXE binary
//! to fetch over TFTP (or HTTP), and tells iPXE where its script is. Modes: reservation
//! (default), proxyDHCP for known MACs, auto-proxy for any PXE client, and off.
//!
//! It is not a pool allocator (every address is a reservation), not a DHCPv6 server, and
//! knows nothing of the store or of `Hardware` objects: the boot service implements
//! [`Backend`] over its index of Hardware and passes a [`Config`].
//!
//! Facing a hostile segment: each client MAC may send [`Config::requests_per_mac`]
//! requests a second (bursts of [`Config::request_burst_per_mac`]); more are dropped and
//! counted in [`Stats::rate_limited`]. Log lines per reply are limited to a few a second
//! with a count of what was suppressed.
//!
//! Several replicas on one network each answer their [`Share`] of the clients (a hash of
//! the MAC, in the manner of RFC 3074); see the [`share`] module.
//!
//! Before anything is powered on, [`probe`] looks for other DHCP servers answering on the
//! provisioning network (a rival server is a common reason machines never boot).
//!
//! Under load, [`Server::serve_blocking`] (the loop the boot service runs) gathers
//! requests for [`Config::batch_window`] while they keep coming and answers them with one
//! `sendmmsg` and UDP segmentation offload, so that a PXE storm costs a few wake-ups and
//! system calls per batch rather than per datagram (its doc says why; the README's
//! Benchmarks section has the figures).
//!
//! Start reading at [`Packet`] (a checked datagram, read in place), then [`answer`] (the
//! pure decision: request in, reply bytes and destination out), then [`Server`] (parse,
//! count, send) and [`bind_server_socket`].

mod config;
pub mod observe;
mod packet;
pub mod probe;
mod reservation;
mod respond;
mod server;
pub mod share;

pub use config::{Binaries, Config, DEFAULT_BATCH_WINDOW, Mode};
pub use observe::Observer;
pub use packet::{MAX_PACKET, MIN_PACKET, Packet, ParseError};
pub use reservation::{Backend, DEFAULT_LEASE_TIME, MacAddr, Reservation, Route, format_mac};
pub use respond::{
    CLIENT_PORT, Decision, IgnoreReason, NETBOOT_NOT_ALLOWED, SERVER_PORT, answer, respond,
};
pub use server::{RECV_BUFFER, Server, Stats, bind_server_socket, parse};
pub use share::{Buckets, Share};

/// dhcproto, re-exported so that callers build and read messages with the same version.
pub use dhcproto;
