//! [`Observer`]: what a [`Server`](crate::Server)'s owner is told about each client it
//! decided on, to keep a record per machine (the boot service writes Events and warns
//! about MACs no Hardware has). This crate knows nothing of the store: it only calls.

use crate::packet::Packet;

use crate::respond::IgnoreReason;

/// Told of every decision about a client with an Ethernet MAC, after the per-MAC rate
/// limit and the replica share (a client another replica answers is not seen). Called on
/// the serve loop's thread for each message: an implementation must return at once
/// (count, check a rate limit, put a record on a bounded queue), never block or do I/O.
pub trait Observer: Send + Sync {
    /// `reply` (an Offer, an Ack or a Nak) is being sent to `mac` for `request`.
    fn replied(&self, mac: [u8; 6], request: &Packet<'_>, reply: &Packet<'_>);
    /// `request` from `mac` gets no answer, for `reason`.
    fn ignored(&self, mac: [u8; 6], request: &Packet<'_>, reason: IgnoreReason);
}
