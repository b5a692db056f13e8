//! The warning that a trusted proxy range covers the machines themselves.
//!
//! A trusted proxy's `X-Forwarded-For` names the client ([`crate::client`]). When a
//! `--trusted-proxies` range also holds a machine's own address, that machine is trusted
//! too: it can send `X-Forwarded-For: <another machine's address>` and read the other's
//! metadata and user-data. This is a configuration error that nothing else reveals, so
//! [`warn_overlaps`] logs it: once the index holds the store's first list, and again when
//! Hardware changes bring a covered address not warned about yet, at most once per
//! [`WARNING_INTERVAL`]. The service keeps running: a lab may mean it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use crate::client::Cidr;
use crate::index::{Index, Snapshot};

/// Shortest time between two warnings.
pub const WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// One trusted range holding machine addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// The range.
    pub range: Cidr,
    /// The covered machine addresses, sorted, each with one machine declaring it.
    pub addresses: BTreeMap<IpAddr, String>,
}

/// The trusted ranges that hold an address a machine of `snapshot` declares, in the
/// order given.
pub fn overlaps(trusted: &[Cidr], snapshot: &Snapshot) -> Vec<Overlap> {
    trusted
        .iter()
        .filter_map(|range| {
            let addresses: BTreeMap<IpAddr, String> = snapshot
                .addresses()
                .filter(|(ip, _)| range.contains(*ip))
                .map(|(ip, name)| (ip, name.to_string()))
                .collect();
            (!addresses.is_empty()).then_some(Overlap {
                range: *range,
                addresses,
            })
        })
        .collect()
}

fn log(overlap: &Overlap, new: &BTreeSet<IpAddr>) {
    let Some((address, hardware)) = overlap
        .addresses
        .iter()
        .find(|(ip, _)| new.contains(ip))
        .or_else(|| overlap.addresses.iter().next())
    else {
        return;
    };
    warn!(
        range = %overlap.range,
        %address,
        %hardware,
        covered = overlap.addresses.len(),
        "trusted proxy range {} covers {address}, the address of Hardware {hardware} ({} machine address(es) in all): any machine could then read any other machine's metadata and user-data by naming its address in X-Forwarded-For; trust only the proxies' own addresses",
        overlap.range,
        overlap.addresses.len(),
    );
}

/// Warns about [`overlaps`] of `trusted` and `index`, as the module documentation says,
/// every `interval` at most; runs until the index is dropped elsewhere and this future
/// is cancelled (it holds the index). Returns at once when `trusted` is empty.
pub async fn warn_overlaps(index: Arc<Index>, trusted: Vec<Cidr>, interval: Duration) {
    if trusted.is_empty() {
        return;
    }
    let mut changes = index.subscribe();
    index.synced().await;
    let mut warned: BTreeSet<IpAddr> = BTreeSet::new();
    let mut last: Option<Instant> = None;
    loop {
        changes.borrow_and_update();
        let found = overlaps(&trusted, &index.snapshot());
        let covered: BTreeSet<IpAddr> = found
            .iter()
            .flat_map(|o| o.addresses.keys().copied())
            .collect();
        let new: BTreeSet<IpAddr> = covered.difference(&warned).copied().collect();
        if !new.is_empty() {
            if let Some(wait) = last.and_then(|t| interval.checked_sub(t.elapsed()))
                && !wait.is_zero()
            {
                tokio::time::sleep(wait).await;
                continue;
            }
            for o in found
                .iter()
                .filter(|o| o.addresses.keys().any(|ip| new.contains(ip)))
            {
                log(o, &new);
            }
            last = Some(Instant::now());
        }
        warned = covered;
        if changes.changed().await.is_err() {
            return;
        }
    }
}
