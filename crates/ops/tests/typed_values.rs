//! Typed values end to end: a MAC, an IP address or a netmask is parsed once, where a
//! document or a CSV row enters (apply, import), and every service reads the same parsed
//! value from the store.
//!
//! The decision for a value with stray whitespace (`" 10.0.0.5"`): it is refused at the
//! boundary with the field (YAML) or the line and column (CSV) named, and nothing is
//! written, so DHCP and the by-address lookups can never disagree about it. A MAC in upper
//! or mixed case is accepted and stored in lower case, so it gets the same lease and the
//! same metadata as the lower-case spelling.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ironbell_dhcp::Backend;
use ironbell_model::tinkerbell::Hardware;
use ironbell_model::{KindRegistry, Resource, TypeKey};
use ironbell_ops::apply::{ApplyOptions, apply, parse};
use ironbell_ops::import::import;
use ironbell_store::{ListParams, SharedStore, Store};
use ironbell_store_sqlite::SqliteStore;

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xab, 0xcd, 0x01];
const IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);

fn hardware_yaml(mac: &str, address: &str) -> String {
    format!(
        r#"apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata:
  name: node-1
spec:
  interfaces:
    - dhcp:
        mac: "{mac}"
        hostname: node-1
        ip:
          address: "{address}"
          netmask: 255.255.255.0
          gateway: 10.0.0.1
      netboot:
        allowPXE: true
  metadata:
    instance:
      id: node-1
      hostname: node-1
"#
    )
}

fn store() -> (tempfile::TempDir, SharedStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("ironbell.db")).unwrap();
    (dir, Arc::new(store))
}

async fn hardware_count(store: &dyn Store) -> usize {
    let types = TypeKey::new(Hardware::API_VERSION, Hardware::KIND);
    store
        .list(&types, &ListParams::default())
        .await
        .unwrap()
        .items
        .len()
}

/// Applies `yaml` to `store` as `ironbell apply` does.
async fn apply_yaml(store: &dyn Store, yaml: &str) -> Result<(), String> {
    let objects = parse(&KindRegistry::builtin(), yaml, "default").map_err(|e| e.to_string())?;
    apply(store, objects, ApplyOptions::default())
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn an_address_with_a_space_is_refused_at_apply_with_the_field_named() {
    let (_dir, store) = store();
    for (field, yaml) in [
        (
            "spec.interfaces[0].dhcp.ip.address",
            hardware_yaml("52:54:00:ab:cd:01", " 10.0.0.5"),
        ),
        (
            "spec.interfaces[0].dhcp.mac",
            hardware_yaml("52:54:00:ab:cd:0z", "10.0.0.5"),
        ),
        (
            "spec.interfaces[0].dhcp.ip.netmask",
            hardware_yaml("52:54:00:ab:cd:01", "10.0.0.5").replace("255.255.255.0", "255.0.255.0"),
        ),
    ] {
        let err = apply_yaml(store.as_ref(), &yaml).await.unwrap_err();
        assert!(
            err.contains(field) && err.contains("node-1"),
            "{field}: {err}"
        );
    }
    assert_eq!(hardware_count(store.as_ref()).await, 0, "nothing written");
}

#[tokio::test]
async fn an_address_with_a_space_is_refused_at_import_with_line_and_column_named() {
    // Unquoted cells are trimmed (EKS Anywhere's CSV reader does the same); a quoted cell
    // is taken as written, and `" 10.0.0.5"` is no IPv4 address.
    let csv = "\
hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,bmc_ip,bmc_username,bmc_password
node-1,\" 10.0.0.5\",255.255.255.0,10.0.0.1,10.0.0.2,52:54:00:ab:cd:01,/dev/sda,,,,
node-2,10.0.0.6,255.255.255.0,10.0.0.1,10.0.0.2|dns.example,52:54:00:ab:cd:02,/dev/sda,,,,
";
    let err = ironbell_inventory::parse_inventory(csv)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("ip_address"),
        "{err}"
    );
    assert!(
        err.contains("line 3") && err.contains("nameservers"),
        "{err}"
    );
}

/// What the boot service (DHCP lease, by-address lookup) and the metadata service say
/// about the machine at [`MAC`] / [`IP`] in `store`.
async fn served(store: SharedStore) -> (ironbell_dhcp::Reservation, String, String) {
    let boot = ironbell_boot::start_index(store.clone()).await;
    let lease = boot.lookup(MAC).expect("a DHCP reservation for the MAC");
    let by_ip = boot
        .snapshot()
        .by_ip(IP)
        .expect("the by-address lookup finds the same machine");
    assert_eq!(by_ip.mac, MAC);
    assert_eq!(lease.ip, IP, "the lease and the by-address lookup agree");

    let metadata = ironbell_metadata::Index::start(store);
    metadata.synced().await;
    let ironbell_metadata::Lookup::Found(machine) = metadata.lookup(IpAddr::V4(IP)) else {
        panic!("metadata finds no machine at {IP}");
    };
    let ironbell_metadata::Machine::Hardware(hw) = &machine else {
        panic!("not a Hardware");
    };
    let document =
        serde_json::to_string(&ironbell_metadata::document::document(hw).unwrap()).unwrap();
    let hostname = machine
        .field(ironbell_metadata::Field::Hostname)
        .unwrap()
        .into_owned();
    (
        ironbell_dhcp::Reservation::clone(&lease),
        hostname,
        document,
    )
}

#[tokio::test]
async fn a_mixed_case_mac_gets_the_same_lease_and_metadata_as_lower_case() {
    let mut seen = Vec::new();
    for mac in ["52:54:00:ab:cd:01", "52:54:00:AB:Cd:01"] {
        let (_dir, store) = store();
        apply_yaml(store.as_ref(), &hardware_yaml(mac, "10.0.0.5"))
            .await
            .unwrap();
        // Stored in the canonical form.
        let types = TypeKey::new(Hardware::API_VERSION, Hardware::KIND);
        let stored = store.list(&types, &ListParams::default()).await.unwrap();
        let hw: Hardware = stored.items[0].to_typed().unwrap();
        assert_eq!(hw.macs()[0].to_string(), "52:54:00:ab:cd:01", "{mac}");
        seen.push(served(store).await);
    }
    assert_eq!(seen[0], seen[1]);

    // And the same MAC in another case is the same MAC to the integrity check.
    let (_dir, store) = store();
    apply_yaml(
        store.as_ref(),
        &hardware_yaml("52:54:00:ab:cd:01", "10.0.0.5"),
    )
    .await
    .unwrap();
    let other = hardware_yaml("52:54:00:AB:CD:01", "10.0.0.9").replace("node-1", "node-2");
    let err = apply_yaml(store.as_ref(), &other).await.unwrap_err();
    assert!(err.contains("MAC 52:54:00:ab:cd:01"), "{err}");
}

#[tokio::test]
async fn an_imported_row_is_served_at_the_address_it_was_given() {
    let csv = "\
hostname,ip_address,netmask,gateway,nameservers,mac,disk,labels,bmc_ip,bmc_username,bmc_password
node-1,10.0.0.5,255.255.255.0,10.0.0.1,10.0.0.2,52-54-00-AB-CD-01,/dev/sda,,,,
";
    let (_dir, store) = store();
    let rows = ironbell_inventory::parse_inventory(csv).unwrap().rows;
    import(store.as_ref(), &rows, "default", ApplyOptions::default())
        .await
        .unwrap();
    let (lease, hostname, _) = served(store).await;
    assert_eq!(lease.dns_servers, [Ipv4Addr::new(10, 0, 0, 2)]);
    assert_eq!(hostname, "node-1");
}
