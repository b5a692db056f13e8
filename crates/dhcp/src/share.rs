//! Several replicas on one network: each answers its [`Share`] of the clients.
//!
//! ## How the split works
//!
//! Load balancing in the manner of RFC 3074 (what Kea's load-balancing HA does):
//!
//! 1. A client's **bucket** (0–255) is RFC 3074's hash ([`bucket`]: Pearson's hash with the
//!    RFC's mixing table, section 6) over its hardware address (`chaddr`, `hlen` bytes).
//!    RFC 3074 and Kea hash the client identifier (option 61) when there is one; ironbell
//!    hashes the MAC because reservations are keyed by MAC and one machine's firmware,
//!    iPXE and installed OS send different client identifiers (or none) for the same
//!    interface: hashing the MAC keeps a machine on one replica through the whole boot.
//! 2. The live replicas, sorted by their stable replica id and deduplicated, split the 256
//!    buckets into contiguous ranges of equal size (±1): with `n` replicas, bucket `b`
//!    belongs to the replica at position `b * n / 256` ([`owner`]). Every bucket has exactly
//!    one owner in any one view of the membership.
//! 3. A replica answers a Discover or a Request only for a bucket it owns; others are
//!    dropped, counted in [`crate::Stats::not_ours`] and logged at `debug` with the MAC.
//!    One exception: a Request that names this server in option 54 (a client in SELECTING
//!    state taking this server's Offer) is this server's to answer whatever its bucket
//!    (every other replica ignores it as addressed to another server), so a membership
//!    change between Offer and Request does not cost the client a retry. Other messages (Release, Decline, Inform) are not
//!    filtered: nothing is allocated, so their answers do not depend on the replica.
//!
//! Who is live is not this crate's business: the plane keeps it current from etcd
//! (`ironbell_store_etcd::membership`) and calls [`Share::set_members`] on each change.
//!
//! ## Special cases
//!
//! - **One replica** (or no membership at all): it owns every bucket. [`Share::all`] is also
//!   the state a share starts in, so a replica that has not heard from etcd yet answers
//!   everyone rather than no one.
//! - **This replica missing from the list** (its key not yet visible, or its lease expired
//!   while it was cut off): it counts itself in. Its peers may not count it yet, so a
//!   bucket may be answered twice until their views agree; see below why that is harmless.
//! - **etcd down**: the membership keeps the last view, so the share stays as it was;
//!   replicas that die meanwhile are not taken over until etcd is back.
//! - **Network partition**: each side sees the other's leases expire and takes its
//!   buckets, so two replicas may answer the same bucket for a while. For reservations
//!   that is harmless: both answers come from the same Hardware (the same address, options
//!   and boot file) and differ only in the server identifier, so the client takes either
//!   and is given the same configuration. While views change (a watch event, milliseconds)
//!   a bucket may also be answered by nobody; clients retry (every few seconds), and are
//!   answered once the views agree.
//!
//! ## Why an atomic bitmap
//!
//! The set of owned buckets is 256 bits held in four `AtomicU64`s, read with one relaxed
//! load per packet on the server's hot path (no lock, no allocation, no dependency).
//! An update writes the four words one after another, so a packet handled during it may
//! see the old set for some buckets and the new for others; each packet looks at one bucket
//! only, and either answer for that bucket is one a consistent view gives, so no coarser
//! atomicity (an `ArcSwap` of the whole set) is needed.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use dhcproto::v4::MessageType;

use crate::packet::Packet;

/// RFC 3074's mixing table (section 6): the 256 byte values in pseudo-random order.
const MIXING_TABLE: [u8; 256] = [
    251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, 31, 32, 55, 60, 152,
    58, 17, 237, 174, 70, 160, 144, 220, 90, 57, 223, 59, 3, 18, 140, 111, 166, 203, 196, 134, 243,
    124, 95, 222, 179, 197, 65, 180, 48, 36, 15, 107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97,
    16, 40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22, 138, 29, 108, 244, 67, 207, 9, 178, 204,
    74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5, 20, 113, 71, 35, 128, 13, 182, 94, 25,
    226, 227, 199, 75, 27, 41, 245, 230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241,
    73, 88, 105, 39, 114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, 82,
    163, 44, 139, 228, 236, 205, 242, 217, 11, 187, 146, 159, 64, 86, 239, 195, 42, 106, 198, 118,
    112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253, 137, 185, 99, 164, 102, 147, 45, 66, 231,
    52, 141, 211, 194, 206, 246, 238, 56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19, 171,
    72, 50, 33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188, 213, 96, 235, 136,
    208, 162, 129, 190, 132, 156, 38, 47, 1, 7, 254, 24, 4, 216, 131, 89, 21, 28, 133, 37, 153,
    149, 80, 170, 68, 6, 169, 234, 151,
];

/// RFC 3074's hash (`loadb_p_hash`, section 6) of `key`: Pearson's hash seeded with the
/// key's length (taken modulo 256), over the bytes from last to first.
pub fn rfc3074_hash(key: &[u8]) -> u8 {
    // The RFC's `unsigned char hash = len;` keeps the low byte of the length.
    let mut hash = (key.len() & 0xff) as u8;
    for byte in key.iter().rev() {
        hash = MIXING_TABLE[usize::from(hash ^ byte)];
    }
    hash
}

/// The bucket of a client: [`rfc3074_hash`] of its MAC.
pub fn bucket(mac: [u8; 6]) -> u8 {
    rfc3074_hash(&mac)
}

/// Which of `replicas` live replicas owns `bucket`: the position, in the sorted list of
/// replica ids, of its owner. `None` when there are no replicas.
pub fn owner(bucket: u8, replicas: usize) -> Option<usize> {
    if replicas == 0 {
        return None;
    }
    Some(usize::from(bucket) * replicas / 256)
}

/// A set of buckets as a 256-bit map.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Buckets([u64; 4]);

impl Buckets {
    /// Every bucket.
    pub const ALL: Buckets = Buckets([u64::MAX; 4]);
    /// No bucket.
    pub const NONE: Buckets = Buckets([0; 4]);

    /// The buckets that the replica `me` owns when `members` are live (`me` counted in
    /// whether listed or not; duplicates ignored).
    pub fn owned_by<S: AsRef<str>>(members: &[S], me: &str) -> Buckets {
        let mut ids: Vec<&str> = members.iter().map(AsRef::as_ref).collect();
        ids.push(me);
        ids.sort_unstable();
        ids.dedup();
        let position = ids.iter().position(|id| *id == me).unwrap_or(0);
        let mut set = Buckets::NONE;
        for b in 0..=u8::MAX {
            if owner(b, ids.len()) == Some(position) {
                set.insert(b);
            }
        }
        set
    }

    /// Adds `bucket`.
    pub fn insert(&mut self, bucket: u8) {
        self.0[usize::from(bucket >> 6)] |= 1 << (bucket & 63);
    }

    /// Whether `bucket` is in the set.
    pub fn contains(&self, bucket: u8) -> bool {
        self.0[usize::from(bucket >> 6)] & (1 << (bucket & 63)) != 0
    }

    /// How many buckets are in the set.
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Buckets {
    /// As ranges: `{0-84, 200}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ranges: Vec<(u8, u8)> = Vec::new();
        for b in (0..=u8::MAX).filter(|b| self.contains(*b)) {
            match ranges.last_mut() {
                Some((_, end)) if end.checked_add(1) == Some(b) => *end = b,
                _ => ranges.push((b, b)),
            }
        }
        let parts: Vec<String> = ranges
            .iter()
            .map(|(a, b)| {
                if a == b {
                    format!("{a}")
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        write!(f, "{{{}}}", parts.join(", "))
    }
}

/// The buckets this replica answers, swappable while the server runs. Share one `Arc` of it
/// between the server ([`crate::Server::with_share`]) and whatever follows the membership.
pub struct Share {
    replica: String,
    owned: [AtomicU64; 4],
    /// In standby: answers nothing, whatever it owns ([`Share::hold`]).
    held: AtomicBool,
    /// The last membership applied, for logs and status (not read per packet).
    members: Mutex<Vec<String>>,
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Share")
            .field("replica", &self.replica)
            .field("held", &self.is_held())
            .field("members", &self.members())
            .field("owned", &self.owned())
            .finish()
    }
}

/// What the share says about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// This replica answers it.
    Ours,
    /// Another replica's client: drop it.
    NotOurs {
        /// The client's bucket.
        bucket: u8,
    },
    /// This replica is in standby ([`Share::hold`]): drop everything.
    Held,
}

impl Share {
    /// The share of replica `replica` before any membership is known: every bucket (a
    /// replica alone answers everyone).
    pub fn all(replica: impl Into<String>) -> Self {
        let replica = replica.into();
        Self {
            owned: Buckets::ALL.0.map(AtomicU64::new),
            held: AtomicBool::new(false),
            members: Mutex::new(vec![replica.clone()]),
            replica,
        }
    }

    /// Puts the replica in standby (`true`: it answers no client, whatever buckets it owns,
    /// so that a plane can be ready beside another that still serves the same machines) or
    /// back in service (`false`). Returns whether that changed anything.
    pub fn hold(&self, held: bool) -> bool {
        self.held.swap(held, Ordering::Relaxed) != held
    }

    /// Whether the replica is in standby.
    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::Relaxed)
    }

    /// This replica's id.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// The buckets owned now.
    pub fn owned(&self) -> Buckets {
        Buckets(std::array::from_fn(|i| {
            self.owned[i].load(Ordering::Relaxed)
        }))
    }

    /// The live replicas of the last [`Share::set_members`], sorted, this one included.
    pub fn members(&self) -> Vec<String> {
        self.members
            .lock()
            .map(|m| m.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Recomputes the owned buckets for the live replicas `members` (this replica is
    /// counted in whether listed or not), and returns them. Logs the change at `info`.
    pub fn set_members<S: AsRef<str>>(&self, members: &[S]) -> Buckets {
        let set = Buckets::owned_by(members, &self.replica);
        let mut ids: Vec<String> = members.iter().map(|m| m.as_ref().to_string()).collect();
        ids.push(self.replica.clone());
        ids.sort_unstable();
        ids.dedup();
        let before = self.owned();
        for (word, value) in self.owned.iter().zip(set.0) {
            word.store(value, Ordering::Relaxed);
        }
        let mut guard = self
            .members
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *guard != ids || before != set {
            tracing::info!(
                replica = %self.replica,
                members = ?ids,
                buckets = set.len(),
                owned = ?set,
                "DHCP share of the clients recomputed"
            );
        }
        *guard = ids;
        set
    }

    /// Whether this replica owns the bucket of `mac`.
    pub fn owns(&self, mac: [u8; 6]) -> bool {
        let b = bucket(mac);
        self.owned[usize::from(b >> 6)].load(Ordering::Relaxed) & (1 << (b & 63)) != 0
    }

    /// Whether this replica, at `server_ip`, answers `msg` from client `mac`: nothing in
    /// standby; else Discovers and Requests of owned buckets, Requests naming `server_ip` in
    /// option 54, and every other message type.
    pub fn verdict(&self, msg: &Packet<'_>, mac: [u8; 6], server_ip: Ipv4Addr) -> Verdict {
        if self.is_held() {
            return Verdict::Held;
        }
        match msg.message_type() {
            Some(MessageType::Discover) => {}
            Some(MessageType::Request) => {
                if msg.server_identifier() == Some(server_ip) {
                    return Verdict::Ours;
                }
            }
            _ => return Verdict::Ours,
        }
        if self.owns(mac) {
            Verdict::Ours
        } else {
            Verdict::NotOurs {
                bucket: bucket(mac),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_mixing_table_is_a_permutation() {
        let mut seen = [false; 256];
        for v in MIXING_TABLE {
            assert!(!seen[usize::from(v)], "{v} twice");
            seen[usize::from(v)] = true;
        }
    }

    /// RFC 3074 gives no test vectors; these were computed with an independent
    /// transcription of its C function (Python, from the RFC's table) and checked by hand
    /// for the one-byte keys: `T[1 ^ k]`.
    #[test]
    fn hash_vectors() {
        assert_eq!(rfc3074_hash(&[]), 0);
        assert_eq!(rfc3074_hash(&[0]), MIXING_TABLE[1]);
        assert_eq!(rfc3074_hash(&[1]), MIXING_TABLE[0]);
        assert_eq!(rfc3074_hash(&[0; 6]), 254);
        assert_eq!(rfc3074_hash(&[0xff; 6]), 79);
        assert_eq!(bucket([0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e]), 77);
        assert_eq!(bucket([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]), 156);
        assert_eq!(bucket([0x02, 0, 0, 0, 0, 0x01]), 133);
        // The length seeds the hash: a 7-byte key is not the 6-byte one with a zero.
        assert_ne!(rfc3074_hash(&[0; 7]), rfc3074_hash(&[0; 6]));
    }

    #[test]
    fn macs_spread_over_the_buckets() {
        // 25,600 consecutive MACs (as a vendor assigns them): every bucket gets some, and
        // none more than twice its fair share.
        let mut counts = [0u32; 256];
        for i in 0..25_600u32 {
            let [_, a, b, c] = i.to_be_bytes();
            counts[usize::from(bucket([0x52, 0x54, 0x00, a, b, c]))] += 1;
        }
        assert!(counts.iter().all(|c| (1..=200).contains(c)), "{counts:?}");
    }

    #[test]
    fn every_bucket_has_exactly_one_owner_for_one_to_five_replicas() {
        for n in 1..=5usize {
            let ids: Vec<String> = (0..n).map(|i| format!("replica-{i}")).collect();
            let shares: Vec<Buckets> = ids.iter().map(|me| Buckets::owned_by(&ids, me)).collect();
            for b in 0..=u8::MAX {
                let owners = shares.iter().filter(|s| s.contains(b)).count();
                assert_eq!(owners, 1, "bucket {b} with {n} replicas");
            }
            let sizes: Vec<usize> = shares.iter().map(Buckets::len).collect();
            assert_eq!(sizes.iter().sum::<usize>(), 256);
            let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(max - min <= 1, "{n} replicas: {sizes:?}");
        }
    }

    #[test]
    fn the_split_does_not_depend_on_the_order_ids_are_listed_in() {
        let a = ["c", "a", "b"];
        let b = ["b", "c", "a", "a"];
        for me in ["a", "b", "c"] {
            assert_eq!(Buckets::owned_by(&a, me), Buckets::owned_by(&b, me));
        }
        assert_eq!(format!("{:?}", Buckets::owned_by(&a, "a")), "{0-85}");
        assert_eq!(format!("{:?}", Buckets::owned_by(&a, "c")), "{171-255}");
    }

    #[test]
    fn a_lone_or_unlisted_replica_counts_itself_in() {
        let none: [&str; 0] = [];
        assert_eq!(Buckets::owned_by(&none, "a"), Buckets::ALL);
        // "b" is not listed yet: it takes the share it has among a, b, c.
        assert_eq!(
            Buckets::owned_by(&["a", "c"], "b"),
            Buckets::owned_by(&["a", "b", "c"], "b")
        );
    }

    #[test]
    fn a_share_starts_with_everything_and_follows_the_members() {
        let share = Share::all("b");
        assert_eq!(share.owned(), Buckets::ALL);
        let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]; // bucket 156
        assert!(share.owns(mac));
        share.set_members(&["a", "b"]);
        assert_eq!(share.members(), ["a", "b"]);
        assert!(share.owns(mac), "b owns 128-255 of two");
        share.set_members(&["a", "b", "c"]);
        assert!(share.owns(mac), "b owns 85-170 of three");
        share.set_members(&["a", "b", "c", "d"]);
        assert!(!share.owns(mac), "b owns 64-127 of four");
        share.set_members(&["b"]);
        assert_eq!(share.owned(), Buckets::ALL);
    }

    #[test]
    fn a_request_naming_this_server_is_answered_whatever_its_bucket() {
        use dhcproto::Encodable;
        use dhcproto::v4::{DhcpOption, Message};
        let me = Ipv4Addr::new(192, 0, 2, 1);
        let share = Share::all("a");
        share.set_members(&["a", "b", "c", "d"]);
        let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]; // bucket 156: "c"'s
        let u = Ipv4Addr::UNSPECIFIED;
        let message = |mt: MessageType, server: Option<Ipv4Addr>| {
            let mut m = Message::new_with_id(1, u, u, u, u, &mac);
            m.opts_mut().insert(DhcpOption::MessageType(mt));
            if let Some(s) = server {
                m.opts_mut().insert(DhcpOption::ServerIdentifier(s));
            }
            m.to_vec().unwrap()
        };
        let not_ours = Verdict::NotOurs { bucket: 156 };
        let discover = message(MessageType::Discover, None);
        assert_eq!(
            share.verdict(&Packet::parse(&discover).unwrap(), mac, me),
            not_ours
        );
        let rebinding = message(MessageType::Request, None);
        assert_eq!(
            share.verdict(&Packet::parse(&rebinding).unwrap(), mac, me),
            not_ours
        );
        let selecting_other = message(MessageType::Request, Some(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(
            share.verdict(&Packet::parse(&selecting_other).unwrap(), mac, me),
            not_ours
        );
        let selecting_me = message(MessageType::Request, Some(me));
        assert_eq!(
            share.verdict(&Packet::parse(&selecting_me).unwrap(), mac, me),
            Verdict::Ours
        );
        let release = message(MessageType::Release, None);
        assert_eq!(
            share.verdict(&Packet::parse(&release).unwrap(), mac, me),
            Verdict::Ours
        );
    }
}
