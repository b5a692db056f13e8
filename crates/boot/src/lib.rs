//! # ironbell-boot
//!
//! The store-backed core of ironbell's boot service (the Smee/Boots replacement): an
//! in-memory [`Index`] of `tinkerbell.org/v1alpha1` Hardware kept current by a store watch,
//! which is the DHCP server's [`ironbell_dhcp::Backend`], and the HTTP side of network boot
//! ([`http`]): per-machine iPXE scripts that boot HookOS, iPXE binaries for UEFI HTTP boot,
//! the HookOS kernel and initramfs (with Range requests), `/healthz` and `/metrics`.
//!
//! It is not the DHCP or TFTP protocol (those are `ironbell-dhcp` and `ironbell-tftp`, which
//! know nothing of the store), and it does not open the DHCP/TFTP sockets or parse command
//! lines: the `ironbell serve boot` command wires [`start_index`] into the DHCP server and
//! calls [`http::serve`].
//!
//! Start reading at [`Index`] (how Hardware becomes [`Machine`]s and
//! [`ironbell_dhcp::Reservation`]s), then [`http::router`] and [`http::Config`], then
//! [`events`] (the Events recorded per machine and the warnings about machines that do not
//! boot), then [`metrics`].

pub mod agent_tokens;
pub mod artifact;
pub mod events;
pub mod http;
mod index;
pub mod machine_log;
pub mod metrics;
pub mod service;

use std::sync::Arc;

pub use index::{
    BootHardware, BootInterface, Index, MacLookup, Machine, Snapshot, reservation_for,
};

/// Starts an [`Index`] over `store` and waits until it holds the first full list of
/// Hardware. The result is usable as the DHCP server's backend
/// (`Arc<Index>` coerces to `Arc<dyn ironbell_dhcp::Backend>`) and by [`http::HttpState`].
/// Must be called inside a Tokio runtime; the watch task stops when the last `Arc` drops.
pub async fn start_index(store: ironbell_store::SharedStore) -> Arc<Index> {
    let index = Index::start(store);
    index.synced().await;
    index
}

/// Parses a MAC address from a URL: six two-digit hex pairs separated all by `:` or all
/// by `-` (iPXE's `${net0/mac:hexhyp}`), in either case. The `-` form is the only thing
/// this adds to [`ironbell_model::MacAddr`]'s parser.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let colons;
    let text = if text.contains(':') {
        text
    } else {
        colons = text.replace('-', ":");
        &colons
    };
    text.parse::<ironbell_model::MacAddr>()
        .ok()
        .map(|m| m.octets())
}

#[cfg(test)]
mod tests {
    use super::parse_mac;

    #[test]
    fn mac_forms() {
        let want = Some([0x3c, 0xec, 0xef, 0x10, 0x00, 0x11]);
        assert_eq!(parse_mac("3c:ec:ef:10:00:11"), want);
        assert_eq!(parse_mac("3C-EC-EF-10-00-11"), want);
        for bad in [
            "",
            "3c:ec:ef:10:00",
            "3c:ec:ef:10:00:11:22",
            "3c:ec-ef:10:00:11",
            "3c:ec:ef:10:00:1g",
            "3cec.ef10.0011xx",
            "+c:ec:ef:10:00:11",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}
