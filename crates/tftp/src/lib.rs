//! # ironbell-tftp
//!
//! The read-only TFTP server of ironbell's boot service: it hands the iPXE binaries
//! (`undionly.kpxe`, `ipxe.efi`, `snponly.efi`) to PXE firmware. It speaks RFC 1350 read
//! requests with the option extension (RFC 2347) and the `blksize` (RFC 2348), `tsize` and
//! `timeout` (RFC 2349) and `windowsize` (RFC 7440) options.
//!
//! What it is not: it does not accept writes (WRQ gets error 2, access violation), it
//! knows nothing of the store or of `Hardware` objects (deciding *which* file a machine
//! should get is DHCP's job), and it does not bind its own listening socket (the caller
//! does, so tests can bind inside a network namespace).
//!
//! Start reading at [`Server`] (this file), then `transfer.rs` (one transfer's state
//! machine), [`packet`] (the codec) and [`source`] (file lookup and confinement, shared
//! with the HTTP side through [`FileSource::open`]).
//!
//! ## Behaviour worth knowing
//! - The listening loop is async (it runs on the caller's tokio socket); each transfer
//!   runs on a thread of its own with blocking calls, on its own ephemeral UDP socket (its
//!   TID), bound to the listening socket's IP. Packets reaching a transfer from another
//!   address get error 5 and do not disturb it. If the listening socket is bound to
//!   `0.0.0.0`, replies leave from whatever address the kernel picks; bind to the serving
//!   address.
//! - Why a thread per transfer: a lock-step transfer is one `sendto` and one `recvfrom` per
//!   block, and on a blocking socket that is all it costs (the receive timeout is a socket
//!   option, set only when it changes). As a task, every block also paid a wasted
//!   `recvfrom` (EAGAIN), an epoll wake-up, a task wake-up across worker threads and a
//!   timer armed and cancelled; and 200 transfers shared the runtime's few worker
//!   threads, each preempted by the client it woke, so they ran slower than tftpd-hpa's
//!   process per transfer. Threads are bounded by [`Config::max_transfers`] and have
//!   small stacks. When the server is stopped they notice within 200 ms.
//! - Retransmission: a window that is not acknowledged within the timeout (default 1 s,
//!   or the client's `timeout` option up to [`Config::max_timeout`]) is sent again, up to
//!   [`Config::retries`] times, then the transfer is given up. Duplicate and old ACKs are ignored, never answered
//!   (no Sorcerer's Apprentice bug). Block numbers wrap from 65535 to 0, as tftp-hpa and
//!   curl expect. A file whose size is a multiple of the block size ends with an empty
//!   block.
//! - A read request repeated by its client (same bytes, same address and port) while the
//!   transfer it started has not heard from that client yet is a retransmission: the
//!   client's answer was slow (a loaded server, a queue of requests), and the running
//!   transfer answers it. It is dropped and counted
//!   ([`StatsSnapshot::duplicate_requests`]); a second transfer would send a second OACK
//!   from another TID, which curl takes for its own transfer and then stalls (curl, like
//!   most clients, accepts the first TID and does not check the source of what follows).
//!   Once the client has answered, the same request again starts a new transfer (a
//!   client restarting from the same port).
//! - A client that answers with an ERROR (OVMF sends error 8 after learning `tsize`) ends
//!   its transfer quietly; it is counted as aborted, not failed.
//! - `netascii` requests are served byte for byte, without CR LF conversion: the files
//!   served are binaries, and PXE clients ask for `octet` anyway. `mail` gets error 4.
//! - Options out of their RFC range, or unknown, are left out of the OACK (ignored), as
//!   RFC 2347 says. `blksize` and `windowsize` are capped by [`Config`].
//! - At most [`Config::max_transfers`] transfers run at once; a request beyond that gets
//!   error 0 "server busy".
//! - A hostile host cannot hold the transfers: one client address runs at most
//!   [`Config::max_transfers_per_client`] at once (error 0 beyond), sends at most
//!   [`Config::requests_per_second`] read requests a second (more are dropped unanswered),
//!   a `timeout` option above [`Config::max_timeout`] is left out of the OACK (RFC 2349
//!   lets the server only echo the value or ignore the option), and every transfer ends by
//!   [`Config::transfer_deadline`] whatever its client does. All are counted in [`Stats`],
//!   and the log lines about refused requests are limited to a few a second.
//! - Malformed, truncated or oversized datagrams are dropped and counted in [`Stats`].
//!
//! ## Why hand-written
//! The crates looked at (crates.io search through the configured registry mirror was
//! unavailable, so their docs.rs pages): `async-tftp` 0.4 runs on smol's `async-io`
//! reactor (a second reactor thread next to tokio), binds its own listening socket (so it
//! cannot serve from a socket bound inside a network namespace) and exposes no counters;
//! `r-tftpd` (windowsize support) is a server binary, not a library. The protocol is small
//! (a codec of six packet types and a stop-and-wait/window sender), so ironbell owns it,
//! with the confinement rules and metrics the boot service needs.

mod server;
mod transfer;

pub mod packet;
pub mod source;

pub use server::{Config, Server, Stats, StatsSnapshot};
pub use source::{FileSource, OpenFile, SourceError};
