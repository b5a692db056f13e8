//! DHCP: any datagram goes through `parse` (the server's checks, then dhcproto), and each
//! message it accepts through the pure `respond` in every answering mode, with a fixed
//! backend that knows half of all MACs (by the MAC's last bit) with varied reservations.
//! Nothing may panic (`parse` guards dhcproto with `catch_unwind`, but the fuzzer's panic
//! hook still reports a panic inside it, which is what we want: every dhcproto assumption
//! the checks miss shows up here). A reply must encode, and what it encodes to must pass
//! `parse` again: the client would otherwise get a reply it cannot read.

#![no_main]

use std::net::Ipv4Addr;

use ironbell_dhcp::dhcproto::Encodable;
use ironbell_dhcp::{Backend, Config, Decision, Mode, Reservation, Route, parse, respond};
use libfuzzer_sys::fuzz_target;

/// Knows every MAC whose last bit is 0; bits of the fifth byte vary the reservation.
struct HalfOfAllMacs;

impl Backend for HalfOfAllMacs {
    fn lookup(&self, mac: [u8; 6]) -> Option<Reservation> {
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
        Some(r)
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = parse(data) else {
        return;
    };
    for mode in [Mode::Reservation, Mode::Proxy, Mode::AutoProxy, Mode::Off] {
        let mut config = Config::new(Ipv4Addr::new(192, 0, 2, 1));
        config.mode = mode;
        config.syslog_server = Some(Ipv4Addr::new(192, 0, 2, 2));
        if let Decision::Reply { message, .. } = respond(&config, &HalfOfAllMacs, &msg) {
            let wire = match message.to_vec() {
                Ok(w) => w,
                Err(e) => panic!("reply in {mode:?} mode does not encode: {e}: {message:?}"),
            };
            if let Err(e) = parse(&wire) {
                panic!("reply in {mode:?} mode does not parse: {e}: {message:?}");
            }
        }
    }
});
