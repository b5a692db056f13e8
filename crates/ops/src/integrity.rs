//! Inventory checks against the store: no two Hardware may hold the same MAC or the same
//! IP address, or DHCP would answer one machine with another's address (or two machines
//! with one). Checked at `hardware import` and `apply`, before anything is written, with
//! every conflict named by both objects.
//!
//! Addresses compare as parsed values (a MAC in any case, an IPv6 address in any
//! spelling). A Hardware being replaced by the same apply (same
//! namespace and name) does not conflict with its own old version.

use std::collections::BTreeMap;

use ironbell_model::tinkerbell::Hardware;
use ironbell_model::{DynamicObject, Resource, TypeKey};
use ironbell_store::{ListParams, Store};

use crate::OpsError;

/// `(namespace/name, MACs, IPs)` of a Hardware, each address in its canonical text form
/// (the model parsed them, so equal addresses print equal).
fn addresses(hw: &Hardware) -> (String, Vec<String>, Vec<String>) {
    let who = format!(
        "{}/{}",
        hw.metadata.namespace.as_deref().unwrap_or_default(),
        hw.metadata.name.as_deref().unwrap_or_default()
    );
    (who, text(hw.macs()), text(hw.ips()))
}

fn text<T: ToString>(values: Vec<T>) -> Vec<String> {
    values.iter().map(ToString::to_string).collect()
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
