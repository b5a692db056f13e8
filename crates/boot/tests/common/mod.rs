//! Shared test data: the Hardware of `hardware/example.csv`, and small edits of it.
#![allow(dead_code)]

use ironbell_model::tinkerbell::Hardware;
use ironbell_model::{Object, ObjectMeta};

/// The example inventory of the repository.
pub fn example_csv() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../hardware/example.csv");
    std::fs::read_to_string(path).expect("read hardware/example.csv")
}

/// Every object `ironbell_inventory` makes of the example inventory.
pub fn example_objects() -> Vec<Object> {
    let rows = ironbell_inventory::parse(&example_csv()).expect("parse example.csv");
    ironbell_inventory::to_objects(&rows, ironbell_inventory::DEFAULT_NAMESPACE)
}

/// The Hardware of the example inventory, in row order.
pub fn example_hardware() -> Vec<Hardware> {
    example_objects()
        .into_iter()
        .filter_map(|o| match o {
            Object::Hardware(h) => Some(h),
            _ => None,
        })
        .collect()
}

/// A copy of `base` renamed to `name` with one interface of `mac` and `ip`, without
/// store-set metadata.
pub fn variant(base: &Hardware, name: &str, mac: &str, ip: &str) -> Hardware {
    let mut hw = base.clone();
    hw.metadata = ObjectMeta::named(base.metadata.namespace(), name);
    let iface = &mut hw.spec.interfaces.as_mut().expect("interfaces")[0];
    let dhcp = iface.dhcp.as_mut().expect("dhcp");
    dhcp.mac = Some(mac.parse().expect("test MAC"));
    dhcp.hostname = Some(name.to_string());
    dhcp.ip.as_mut().expect("ip").address = Some(ip.parse().expect("test IP"));
    hw
}
