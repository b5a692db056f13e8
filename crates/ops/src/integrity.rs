//! Inventory checks against the store: no two Hardware may hold the same MAC or the same
//! IP address, or DHCP would answer one machine with another's address (or two machines
//! with one). Checked at `hardware import` and `apply`, before anything is written, with
//! every conflict named by both objects.
//!
//! MACs compare case-insensitively. A Hardware being replaced by the same apply (same
//! namespace and name) does not conflict with its own old version.

use std::collections::BTreeMap;

use ironbell_model::tinkerbell::Hardware;
use ironbell_model::{DynamicObject, Resource, TypeKey};
use ironbell_store::{ListParams, Store};

use crate::OpsError;

/// `(namespace/name, MACs, IPs)` of a Hardware.
fn addresses(hw: &Hardware) -> (String, Vec<String>, Vec<String>) {
    let mut macs = Vec::new();
    let mut ips = Vec::new();
    for dhcp in hw
        .spec
        .interfaces
        .iter()
        .flatten()
        .filter_map(|i| i.dhcp.as_ref())
    {
        if let Some(mac) = dhcp.mac.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            macs.push(mac.to_ascii_lowercase());
        }
        if let Some(ip) = dhcp
            .ip
            .as_ref()
            .and_then(|ip| ip.address.as_deref())
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            ips.push(ip.to_string());
        }
    }
    let who = format!(
        "{}/{}",
        hw.metadata.namespace.as_deref().unwrap_or_default(),
        hw.metadata.name.as_deref().unwrap_or_default()
    );
    (who, macs, ips)
}

/// Refuses `desired` if a Hardware in it would share a MAC or IP address with another
/// Hardware, in the store or in `desired`.
pub async fn check_hardware(store: &dyn Store, desired: &[DynamicObject]) -> Result<(), OpsError> {
    let hw_type = TypeKey::new(Hardware::API_VERSION, Hardware::KIND);
    let incoming: Vec<Hardware> = desired
        .iter()
        .filter(|o| o.types == hw_type)
        .map(DynamicObject::to_typed::<Hardware>)
        .collect::<Result<_, _>>()?;
    if incoming.is_empty() {
        return Ok(());
    }
    let incoming: Vec<_> = incoming.iter().map(addresses).collect();
    let replaced: std::collections::BTreeSet<&str> =
        incoming.iter().map(|(who, _, _)| who.as_str()).collect();

    // Holders: address -> who, from the store (minus what is being replaced).
    let mut macs: BTreeMap<String, String> = BTreeMap::new();
    let mut ips: BTreeMap<String, String> = BTreeMap::new();
    let stored = store.list(&hw_type, &ListParams::default()).await?;
    for obj in &stored.items {
        let (who, m, i) = addresses(&obj.to_typed::<Hardware>()?);
        if replaced.contains(who.as_str()) {
            continue;
        }
        m.into_iter().for_each(|a| {
            macs.entry(a).or_insert_with(|| who.clone());
        });
        i.into_iter().for_each(|a| {
            ips.entry(a).or_insert_with(|| who.clone());
        });
    }

    let mut conflicts = Vec::new();
    for (who, m, i) in &incoming {
        for (what, addrs, holders) in [("MAC", m, &mut macs), ("IP address", i, &mut ips)] {
            for a in addrs {
                match holders.get(a) {
                    Some(holder) if holder != who => conflicts.push(format!(
                        "Hardware {who} has {what} {a}, which Hardware {holder} already holds"
                    )),
                    Some(_) => {}
                    None => {
                        holders.insert(a.clone(), who.clone());
                    }
                }
            }
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(OpsError::Integrity { conflicts })
    }
}
