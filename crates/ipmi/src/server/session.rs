//! One session's state on the BMC side: its phase (handshake or active), the privilege
//! levels, the sliding window of inbound sequence numbers and the cache of recent replies.
//!
//! ## Sequence numbers (IPMI 2.0 section 6.12.13)
//!
//! Each direction of an active session numbers its datagrams 1, 2, ... (0 is never used
//! once the session is active). The BMC keeps the highest number it has accepted and a
//! bitmask of which of the [`BEHIND`] numbers at and below it it has seen: a number up to
//! [`AHEAD`] above the highest moves the window; one within the window that has not been
//! seen is accepted once (datagrams may arrive out of order); one seen before is a
//! duplicate; anything else is outside the window and dropped (counted as a replay if it
//! is behind, as malformed if ahead). Arithmetic wraps modulo 2^32, so the window slides
//! over the wrap-around.
//!
//! ## Duplicates
//!
//! A request seen before is either a replay (an attacker re-sending a captured datagram:
//! same session sequence number) or a retransmission after a lost reply. ipmitool (and
//! this crate's client) retransmit the same IPMI message, same rqSeq, under a *new*
//! session sequence number; a console that re-sends the datagram as it was repeats the
//! session sequence number too. Neither may execute the command again, but a
//! retransmission wants its answer: the last [`REPLY_CACHE`] replies of the session are
//! kept, by the request's session sequence number and by its decrypted IPMI message
//! (whose rqSeq stays the same across retries, while it changes from one request to the
//! next), and sent again as they were. A duplicate sequence number whose reply is no longer cached is dropped.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use crate::crypto::{Hash, SessionKeys};
use crate::rakp::Handshake;

/// How many sequence numbers at and below the highest accepted one the window covers.
pub(super) const BEHIND: u32 = 16;
/// How far above the highest accepted sequence number a datagram may be.
pub(super) const AHEAD: u32 = 16;
/// Replies kept per session for retransmitted requests.
pub(super) const REPLY_CACHE: usize = 8;

/// A privilege level (section 6.8), in increasing order of what it allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Privilege {
    /// CALLBACK (1): only what a callback session needs.
    Callback = 1,
    /// USER (2): read-only commands.
    User = 2,
    /// OPERATOR (3): chassis control and boot options.
    Operator = 3,
    /// ADMINISTRATOR (4): everything.
    Administrator = 4,
}

impl Privilege {
    /// The level for its number (bits 3:0 of a role or privilege byte); OEM (5) and
    /// reserved values are `None`.
    pub(super) fn from_level(level: u8) -> Option<Self> {
        match level {
            1 => Some(Self::Callback),
            2 => Some(Self::User),
            3 => Some(Self::Operator),
            4 => Some(Self::Administrator),
            _ => None,
        }
    }

    /// The level's number.
    pub(super) fn level(self) -> u8 {
        self as u8
    }
}

/// What the window says about an inbound sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Seq {
    /// Not seen before and within the window: now recorded as seen.
    New,
    /// Seen before: a replay or a retransmission.
    Duplicate,
    /// Behind the window (in the half of the number space below the highest): too old
    /// to tell whether it was seen, so treated as a replay.
    TooOld,
    /// Zero, or too far ahead.
    Invalid,
}

/// The sliding window of inbound sequence numbers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Window {
    /// The highest number accepted (0 before the first).
    top: u32,
    /// Bit `i` set: `top - i` has been seen.
    seen: u32,
}

impl Default for Window {
    fn default() -> Self {
        // Sequence number 0 counts as seen, so the first datagram must be 1..=AHEAD.
        Self { top: 0, seen: 1 }
    }
}

impl Window {
    /// Checks `seq` and, if it is new, records it.
    pub(super) fn accept(&mut self, seq: u32) -> Seq {
        if seq == 0 {
            return Seq::Invalid;
        }
        let ahead = seq.wrapping_sub(self.top);
        if ahead != 0 && ahead <= AHEAD {
            self.seen = self.seen.checked_shl(ahead).unwrap_or(0) | 1;
            self.top = seq;
            return Seq::New;
        }
        let behind = self.top.wrapping_sub(seq);
        if behind >= BEHIND {
            return if behind <= u32::MAX / 2 {
                Seq::TooOld
            } else {
                Seq::Invalid
            };
        }
        let bit = 1u32 << behind;
        if self.seen & bit != 0 {
            return Seq::Duplicate;
        }
        self.seen |= bit;
        Seq::New
    }
}

/// One cached reply.
#[derive(Debug)]
struct Cached {
    /// The request's session sequence number.
    seq: u32,
    /// The request's IPMI message, decrypted (rqSeq, netFn, command, data, checksums).
    request: Vec<u8>,
    /// The datagram sent in answer.
    reply: Vec<u8>,
}

/// The last few replies of a session, by the request's session sequence number and by
/// its IPMI message.
#[derive(Debug, Default)]
pub(super) struct ReplyCache {
    entries: VecDeque<Cached>,
}

impl ReplyCache {
    /// The reply sent to the request numbered `seq`, if still kept.
    pub(super) fn by_seq(&self, seq: u32) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|c| c.seq == seq)
            .map(|c| c.reply.as_slice())
    }

    /// The reply sent to a request with exactly this IPMI message (same rqSeq, command
    /// and data), if still kept: a retransmission under a new session sequence number.
    pub(super) fn by_request(&self, request: &[u8]) -> Option<&[u8]> {
        self.entries
            .iter()
            .rev()
            .find(|c| c.request == request)
            .map(|c| c.reply.as_slice())
    }

    /// Keeps `reply` to `request` numbered `seq`, dropping the oldest beyond
    /// [`REPLY_CACHE`].
    pub(super) fn insert(&mut self, seq: u32, request: &[u8], reply: Vec<u8>) {
        if self.entries.len() >= REPLY_CACHE {
            self.entries.pop_front();
        }
        self.entries.push_back(Cached {
            seq,
            request: request.to_vec(),
            reply,
        });
    }
}

/// An active session: keys, sequence numbers, privileges, cached replies.
pub(super) struct Active {
    /// The session keys (never logged).
    pub(super) keys: SessionKeys,
    /// The sequence number of the last datagram sent.
    pub(super) out_seq: u32,
    /// Inbound sequence numbers.
    pub(super) window: Window,
    /// Replies for retransmitted requests.
    pub(super) replies: ReplyCache,
    /// The highest level the session may reach (RAKP 1's role, capped at the user's).
    pub(super) max: Privilege,
    /// The level commands are checked against (USER at first, section 22.18).
    pub(super) current: Privilege,
}

/// Where a session is.
pub(super) enum Phase {
    /// Open Session answered; waiting for RAKP 1.
    Opened,
    /// RAKP 2 sent; waiting for RAKP 3.
    Rakp2 {
        handshake: Box<Handshake>,
        rc: [u8; 16],
        max: Privilege,
    },
    /// Established.
    Active(Box<Active>),
}

/// One session, from Open Session on.
pub(super) struct BmcSession {
    /// The console's address: datagrams from elsewhere are dropped.
    pub(super) peer: SocketAddr,
    /// The console's session ID (SIDm), put in every datagram to it.
    pub(super) console_sid: u32,
    /// The suite's hash.
    pub(super) hash: Hash,
    /// The suite's integrity authcode length.
    pub(super) authcode_len: usize,
    /// Handshake or active.
    pub(super) phase: Phase,
    /// When Open Session was answered: the handshake must be done within its timeout.
    pub(super) opened: Instant,
    /// The last datagram accepted: an active session idle for too long is dropped.
    pub(super) last: Instant,
    /// The last RAKP message taken (its payload) and the answer sent, for a console that
    /// sends it again because the answer was lost.
    pub(super) handshake_reply: Option<(Vec<u8>, Vec<u8>)>,
}

impl BmcSession {
    /// Whether the session is established.
    pub(super) fn is_active(&self) -> bool {
        matches!(self.phase, Phase::Active(_))
    }

    /// The answer already sent to exactly this RAKP message, if it was the last one.
    pub(super) fn repeated_handshake(&self, payload: &[u8]) -> Option<Vec<u8>> {
        self.handshake_reply
            .as_ref()
            .filter(|(request, _)| request == payload)
            .map(|(_, reply)| reply.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_each_number_once() {
        let mut w = Window::default();
        assert_eq!(w.accept(0), Seq::Invalid);
        assert_eq!(w.accept(1), Seq::New);
        assert_eq!(w.accept(1), Seq::Duplicate, "replay of the same number");
        assert_eq!(w.accept(2), Seq::New);
        assert_eq!(w.accept(1), Seq::Duplicate);
        assert_eq!(w.accept(2), Seq::Duplicate);
    }

    #[test]
    fn window_takes_out_of_order_numbers_once() {
        let mut w = Window::default();
        assert_eq!(w.accept(5), Seq::New);
        for s in [3, 1, 4, 2] {
            assert_eq!(w.accept(s), Seq::New, "{s}");
        }
        for s in 1..=5 {
            assert_eq!(w.accept(s), Seq::Duplicate, "{s}");
        }
        assert_eq!(w.accept(6), Seq::New);
    }

    #[test]
    fn window_rejects_far_off_numbers() {
        let mut w = Window::default();
        assert_eq!(w.accept(AHEAD + 1), Seq::Invalid, "too far ahead of 0");
        assert_eq!(w.accept(AHEAD), Seq::New);
        assert_eq!(w.accept(2 * AHEAD + 1), Seq::Invalid);
        assert_eq!(w.accept(2 * AHEAD), Seq::New);
        // The bottom of the window: 2*AHEAD - (BEHIND - 1) is in, one below is out.
        assert_eq!(w.accept(2 * AHEAD - (BEHIND - 1)), Seq::New);
        assert_eq!(w.accept(2 * AHEAD - BEHIND), Seq::TooOld);
        assert_eq!(w.accept(1), Seq::TooOld);
        assert_eq!(w.accept(u32::MAX), Seq::TooOld, "behind, across the wrap");
        assert_eq!(w.accept(0x8000_0000), Seq::Invalid);
        // A jump within reach forgets nothing it should remember.
        assert_eq!(w.accept(2 * AHEAD), Seq::Duplicate);
    }

    #[test]
    fn window_slides_over_the_wrap_around() {
        let mut w = Window {
            top: u32::MAX - 2,
            seen: 1,
        };
        assert_eq!(w.accept(u32::MAX - 1), Seq::New);
        assert_eq!(w.accept(u32::MAX), Seq::New);
        assert_eq!(w.accept(0), Seq::Invalid, "0 is never valid");
        assert_eq!(w.accept(1), Seq::New, "wrapped");
        assert_eq!(w.accept(u32::MAX), Seq::Duplicate, "behind across the wrap");
        assert_eq!(w.accept(u32::MAX - 1), Seq::Duplicate);
        assert_eq!(
            w.accept(u32::MAX - 3),
            Seq::New,
            "unseen, behind across the wrap"
        );
        assert_eq!(w.accept(2), Seq::New);
        assert_eq!(w.accept(1), Seq::Duplicate);
    }

    #[test]
    fn reply_cache_keeps_the_last_entries() {
        let mut c = ReplyCache::default();
        assert_eq!(c.by_seq(1), None);
        let request = |seq: u32| vec![0x20, 0x00, 0xE0, 0x81, (seq as u8) << 2, 0x02, 0x01];
        for seq in 1..=REPLY_CACHE as u32 {
            c.insert(seq, &request(seq), vec![seq as u8]);
        }
        for seq in 1..=REPLY_CACHE as u32 {
            assert_eq!(c.by_seq(seq), Some(&[seq as u8][..]));
            assert_eq!(c.by_request(&request(seq)), Some(&[seq as u8][..]));
        }
        assert_eq!(c.by_seq(REPLY_CACHE as u32 + 1), None);
        assert_eq!(c.by_request(&request(REPLY_CACHE as u32 + 1)), None);
        c.insert(100, &request(100), vec![100]);
        assert_eq!(c.by_seq(1), None, "the oldest is evicted");
        assert_eq!(c.by_request(&request(1)), None);
        assert_eq!(c.by_seq(2), Some(&[2u8][..]));
        assert_eq!(c.by_seq(100), Some(&[100u8][..]));
        assert_eq!(c.entries.len(), REPLY_CACHE);
        // The same message again (a later request that reused rqSeq): the newest wins.
        c.insert(101, &request(2), vec![101]);
        assert_eq!(c.by_request(&request(2)), Some(&[101u8][..]));
    }

    #[test]
    fn privilege_levels() {
        assert_eq!(Privilege::from_level(0), None);
        assert_eq!(Privilege::from_level(5), None, "OEM is not offered");
        assert_eq!(Privilege::from_level(2), Some(Privilege::User));
        assert!(Privilege::User < Privilege::Operator);
        assert!(Privilege::Operator < Privilege::Administrator);
        for l in 1..=4 {
            assert_eq!(Privilege::from_level(l).map(Privilege::level), Some(l));
        }
    }
}
