//! DHCP: any datagram goes through `Packet::parse` (the server's reader) and `parse` (the
//! same checks, then dhcproto), and each packet accepted through the pure `answer` in every
//! answering mode, with a fixed backend that knows half of all MACs (by the MAC's last bit)
//! with varied reservations. Nothing may panic (`parse` guards dhcproto with
//! `catch_unwind`, but the fuzzer's panic hook still reports a panic inside it, which is
//! what we want: every dhcproto assumption the checks miss shows up here). The reply
//! `answer` writes must pass both `Packet::parse` and dhcproto's decoder: the client would
//! otherwise get a reply it cannot read.

#![no_main]

use std::net::Ipv4Addr;
use std::sync::Arc;

use ironbell_dhcp::{Backend, Config, Mode, Packet, Reservation, Route, answer, parse};
use libfuzzer_sys::fuzz_target;

/// Knows every MAC whose last bit is 0; bits of the fifth byte vary the reservation.
struct HalfOfAllMacs;

impl Backend for HalfOfAllMacs {
    fn lookup(&self, mac: [u8; 6]) -> Option<Arc<Reservation>> {
        if mac[5] & 1 == 1 {
            return None;
        }
        let mut r = Reservation::new(
            Ipv4Addr::new(192, 0, 2, 10),
            Ipv4Addr::new(255, 255, 255, 0),
        );
        r.gateway = Some(Ipv4Addr::new(192, 0, 2, 254));
        r.dns_servers = vec![Ipv4Addr::new(192, 0, 2, 53)];
        r.hostname = Some("node-1".into());
        r.domain_name = Some("lab.example".into());
        r.domain_search = vec!["lab.example".into(), "example".into()];
        r.ntp_servers = vec![Ipv4Addr::new(192, 0, 2, 123)];
        r.classless_routes = vec![Route {
            destination: Ipv4Addr::new(10, 0, 0, 0),
            prefix_len: 8,
            gateway: Ipv4Addr::new(192, 0, 2, 253),
        }];
        r.allow_netboot = mac[4] & 1 == 0;
        r.dhcp_disabled = mac[4] & 2 != 0;
        if mac[4] & 4 != 0 {
            r.boot_file = Some("custom.efi".into());
            r.ipxe_script_url = Some("http://192.0.2.1:7171/custom.ipxe".into());
            r.lease_time = Some(60);
        }
        Some(Arc::new(r))
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = parse(data);
    let Ok(packet) = Packet::parse(data) else {
        return;
    };
    let mut out = Vec::new();
    for mode in [Mode::Reservation, Mode::Proxy, Mode::AutoProxy, Mode::Off] {
        let mut config = Config::new(Ipv4Addr::new(192, 0, 2, 1));
        config.mode = mode;
        config.syslog_server = Some(Ipv4Addr::new(192, 0, 2, 2));
        if answer(&config, &HalfOfAllMacs, &packet, &mut out).is_ok() {
            if let Err(e) = Packet::parse(&out) {
                panic!("reply in {mode:?} mode does not read back: {e}: {out:?}");
            }
            if let Err(e) = parse(&out) {
                panic!("reply in {mode:?} mode does not decode: {e}: {out:?}");
            }
        }
    }
});
