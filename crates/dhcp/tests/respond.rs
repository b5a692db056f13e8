//! Unit tests of `respond` and `parse` with messages crafted by dhcproto.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use ironbell_dhcp::dhcproto::v4::{
    self, Architecture, DhcpOption, Flags, Message, MessageType, Opcode, OptionCode,
};
use ironbell_dhcp::dhcproto::{Decodable, Encodable};
use ironbell_dhcp::{
    Config, Decision, IgnoreReason, Mode, NETBOOT_NOT_ALLOWED, Reservation, Route, Server, parse,
    respond,
};
use ironbell_testbed::Rng;

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
const OTHER_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc];
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

fn reservation() -> Reservation {
    let mut r = Reservation::new(IP, Ipv4Addr::new(255, 255, 255, 0));
    r.gateway = Some(Ipv4Addr::new(192, 0, 2, 254));
    r.dns_servers = vec![Ipv4Addr::new(192, 0, 2, 53), Ipv4Addr::new(192, 0, 2, 54)];
    r.hostname = Some("node-1".into());
    r.domain_name = Some("lab.example".into());
    r.domain_search = vec!["lab.example".into(), "example".into()];
    r.ntp_servers = vec![Ipv4Addr::new(192, 0, 2, 123)];
    r.classless_routes = vec![Route {
        destination: Ipv4Addr::new(10, 0, 0, 0),
        prefix_len: 8,
        gateway: Ipv4Addr::new(192, 0, 2, 253),
    }];
    r.allow_netboot = true;
    r
}

fn backend_with(r: Reservation) -> HashMap<[u8; 6], Reservation> {
    HashMap::from([(MAC, r)])
}

fn config() -> Config {
    let mut c = Config::new(SERVER);
    c.syslog_server = Some(Ipv4Addr::new(192, 0, 2, 2));
    c
}

fn plain(mt: MessageType, mac: [u8; 6]) -> Message {
    let u = Ipv4Addr::UNSPECIFIED;
    let mut m = Message::new_with_id(0x1234_5678, u, u, u, u, &mac);
    m.opts_mut().insert(DhcpOption::MessageType(mt));
    m
}

/// What QEMU's iPXE option ROM sends (LAB-NOTES): BIOS, user class iPXE, 97 all zeros.
fn ipxe_bios(mt: MessageType) -> Message {
    let mut m = plain(mt, MAC);
    let o = m.opts_mut();
    o.insert(DhcpOption::ClassIdentifier(
        b"PXEClient:Arch:00000:UNDI:002001".to_vec(),
    ));
    o.insert(DhcpOption::UserClass(b"iPXE".to_vec()));
    o.insert(DhcpOption::ClientSystemArchitecture(Architecture::X86_Bios));
    o.insert(DhcpOption::ClientNetworkInterface(1, 2, 1));
    o.insert(DhcpOption::ClientMachineIdentifier(vec![0; 17]));
    o.insert(DhcpOption::MaxMessageSize(1472));
    m
}

fn firmware(mt: MessageType, arch: Architecture, class: &[u8]) -> Message {
    let mut m = ipxe_bios(mt);
    let o = m.opts_mut();
    o.remove(OptionCode::UserClass);
    o.insert(DhcpOption::ClassIdentifier(class.to_vec()));
    o.insert(DhcpOption::ClientSystemArchitecture(arch));
    m
}

fn reply(d: Decision) -> (Message, SocketAddrV4) {
    match d {
        Decision::Reply { message, to } => (*message, to),
        Decision::Ignore(r) => panic!("expected a reply, got Ignore({r:?})"),
    }
}

fn ignored(d: Decision) -> IgnoreReason {
    match d {
        Decision::Ignore(r) => r,
        Decision::Reply { message, .. } => panic!("expected no reply, got {message:?}"),
    }
}

fn opt(m: &Message, code: OptionCode) -> Option<&DhcpOption> {
    m.opts().get(code)
}

fn bytes_opt(m: &Message, code: OptionCode) -> Option<Vec<u8>> {
    match opt(m, code)? {
        DhcpOption::BootfileName(v)
        | DhcpOption::TFTPServerName(v)
        | DhcpOption::ClassIdentifier(v)
        | DhcpOption::ClientIdentifier(v)
        | DhcpOption::ClientMachineIdentifier(v)
        | DhcpOption::VendorExtensions(v) => Some(v.clone()),
        DhcpOption::Unknown(u) => Some(u.data().to_vec()),
        _ => None,
    }
}

/// The `file` field without the NUL that dhcproto's decoder keeps.
fn bootfile(m: &Message) -> String {
    String::from_utf8_lossy(m.fname().unwrap_or_default())
        .trim_end_matches('\0')
        .to_string()
}

/// Encodes and decodes again, as a client would see the reply.
fn on_the_wire(m: &Message) -> Message {
    let bytes = m.to_vec().expect("encode");
    Message::from_bytes(&bytes).expect("decode")
}

const BCAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::BROADCAST, 68);

#[test]
fn ipxe_bios_discover_gets_the_script_url_and_all_address_options() {
    let (m, to) = reply(respond(
        &config(),
        &backend_with(reservation()),
        &ipxe_bios(MessageType::Discover),
    ));
    assert_eq!(to, BCAST);
    assert_eq!(m.opcode(), Opcode::BootReply);
    assert_eq!(m.xid(), 0x1234_5678);
    assert_eq!(m.chaddr(), &MAC);
    assert_eq!(m.opts().msg_type(), Some(MessageType::Offer));
    assert_eq!(m.yiaddr(), IP);
    assert_eq!(m.siaddr(), SERVER);
    let url = "http://192.0.2.1:7171/ipxe/script/52:54:00:12:34:56/auto.ipxe";
    assert_eq!(bootfile(&m), url);
    assert_eq!(bytes_opt(&m, OptionCode::BootfileName), Some(url.into()));
    assert_eq!(
        bytes_opt(&m, OptionCode::TFTPServerName),
        Some(b"192.0.2.1".to_vec())
    );
    assert_eq!(
        bytes_opt(&m, OptionCode::VendorExtensions),
        Some(vec![6, 1, 8, 255])
    );
    assert_eq!(
        bytes_opt(&m, OptionCode::ClientMachineIdentifier),
        Some(vec![0; 17])
    );

    let w = on_the_wire(&m);
    let o = w.opts();
    assert_eq!(
        o.get(OptionCode::SubnetMask),
        Some(&DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)))
    );
    assert_eq!(
        o.get(OptionCode::Router),
        Some(&DhcpOption::Router(vec![Ipv4Addr::new(192, 0, 2, 254)]))
    );
    assert_eq!(
        o.get(OptionCode::DomainNameServer),
        Some(&DhcpOption::DomainNameServer(vec![
            Ipv4Addr::new(192, 0, 2, 53),
            Ipv4Addr::new(192, 0, 2, 54)
        ]))
    );
    assert_eq!(
        o.get(OptionCode::LogServer),
        Some(&DhcpOption::LogServer(vec![Ipv4Addr::new(192, 0, 2, 2)]))
    );
    assert_eq!(
        o.get(OptionCode::Hostname),
        Some(&DhcpOption::Hostname("node-1".into()))
    );
    assert_eq!(
        o.get(OptionCode::DomainName),
        Some(&DhcpOption::DomainName("lab.example".into()))
    );
    assert_eq!(
        o.get(OptionCode::BroadcastAddr),
        Some(&DhcpOption::BroadcastAddr(Ipv4Addr::new(192, 0, 2, 255)))
    );
    assert_eq!(
        o.get(OptionCode::NtpServers),
        Some(&DhcpOption::NtpServers(vec![Ipv4Addr::new(192, 0, 2, 123)]))
    );
    assert_eq!(
        o.get(OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(604_800))
    );
    assert_eq!(
        o.get(OptionCode::Renewal),
        Some(&DhcpOption::Renewal(302_400))
    );
    assert_eq!(
        o.get(OptionCode::Rebinding),
        Some(&DhcpOption::Rebinding(529_200))
    );
    assert_eq!(
        o.get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(SERVER))
    );
    match o.get(OptionCode::DomainSearch) {
        Some(DhcpOption::DomainSearch(names)) => {
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            assert_eq!(names, ["lab.example.", "example."]);
        }
        other => panic!("option 119: {other:?}"),
    }
    match o.get(OptionCode::ClasslessStaticRoute) {
        Some(DhcpOption::ClasslessStaticRoute(routes)) => {
            assert_eq!(routes.len(), 1);
            assert_eq!(routes[0].0.to_string(), "10.0.0.0/8");
            assert_eq!(routes[0].1, Ipv4Addr::new(192, 0, 2, 253));
        }
        other => panic!("option 121: {other:?}"),
    }
}

#[test]
fn firmware_bios_without_user_class_gets_undionly_over_tftp() {
    let (m, _) = reply(respond(
        &config(),
        &backend_with(reservation()),
        &firmware(
            MessageType::Discover,
            Architecture::X86_Bios,
            b"PXEClient:Arch:00000:UNDI:002001",
        ),
    ));
    assert_eq!(bootfile(&m), "undionly.kpxe");
    assert_eq!(
        bytes_opt(&m, OptionCode::BootfileName),
        Some(b"undionly.kpxe".to_vec())
    );
    assert_eq!(m.siaddr(), SERVER);
    // Reservation mode does not claim to be a PXE boot server.
    assert_eq!(bytes_opt(&m, OptionCode::ClassIdentifier), None);
}

#[test]
fn efi_firmware_gets_ipxe_efi_and_arm64_gets_snp_efi() {
    let backend = backend_with(reservation());
    for (arch, want) in [
        (Architecture::X64, "ipxe.efi"),
        (Architecture::X86, "ipxe.efi"),
        (Architecture::BC, "ipxe.efi"),
        (Architecture::Arm64, "snp.efi"),
    ] {
        let req = firmware(
            MessageType::Discover,
            arch,
            b"PXEClient:Arch:00007:UNDI:003000",
        );
        let (m, _) = reply(respond(&config(), &backend, &req));
        assert_eq!(bootfile(&m), want, "arch {arch:?}");
    }
    // Configurable: snponly.efi instead of ipxe.efi.
    let mut c = config();
    c.binaries.efi_x86 = "snponly.efi".into();
    let req = firmware(
        MessageType::Discover,
        Architecture::X64,
        b"PXEClient:Arch:00007:UNDI:003000",
    );
    let (m, _) = reply(respond(&c, &backend, &req));
    assert_eq!(bootfile(&m), "snponly.efi");
}

#[test]
fn per_reservation_overrides_replace_binary_and_script() {
    let mut r = reservation();
    r.boot_file = Some("custom.efi".into());
    r.ipxe_script_url = Some("http://203.0.113.5/boot.ipxe".into());
    let backend = backend_with(r);
    let fw = firmware(
        MessageType::Discover,
        Architecture::X64,
        b"PXEClient:Arch:00007:UNDI:003000",
    );
    assert_eq!(
        bootfile(&reply(respond(&config(), &backend, &fw)).0),
        "custom.efi"
    );
    let ipxe = ipxe_bios(MessageType::Discover);
    assert_eq!(
        bootfile(&reply(respond(&config(), &backend, &ipxe)).0),
        "http://203.0.113.5/boot.ipxe"
    );
}

#[test]
fn http_client_gets_an_http_url_and_httpclient_echoed() {
    let req = firmware(
        MessageType::Discover,
        Architecture::X64_Http,
        b"HTTPClient:Arch:00016:UNDI:003001",
    );
    let (m, _) = reply(respond(&config(), &backend_with(reservation()), &req));
    assert_eq!(
        bootfile(&m),
        "http://192.0.2.1:7171/ipxe/binary/52:54:00:12:34:56/ipxe.efi"
    );
    assert_eq!(
        bytes_opt(&m, OptionCode::ClassIdentifier),
        Some(b"HTTPClient".to_vec())
    );
}

#[test]
fn user_class_is_configurable_and_accepts_rfc3004_form() {
    let mut c = config();
    c.ipxe_user_class = "Tinkerbell".into();
    let backend = backend_with(reservation());
    let mut req = ipxe_bios(MessageType::Discover);
    // "iPXE" is no longer the magic class: the client gets the binary.
    assert_eq!(
        bootfile(&reply(respond(&c, &backend, &req)).0),
        "undionly.kpxe"
    );
    let mut class = vec![10u8];
    class.extend_from_slice(b"Tinkerbell");
    req.opts_mut().insert(DhcpOption::UserClass(class));
    assert!(bootfile(&reply(respond(&c, &backend, &req)).0).ends_with("/auto.ipxe"));
}

#[test]
fn plain_client_gets_address_but_no_boot_information() {
    let (m, _) = reply(respond(
        &config(),
        &backend_with(reservation()),
        &plain(MessageType::Discover, MAC),
    ));
    assert_eq!(m.yiaddr(), IP);
    assert!(m.fname().is_none());
    assert!(opt(&m, OptionCode::BootfileName).is_none());
    assert!(opt(&m, OptionCode::VendorExtensions).is_none());
}

#[test]
fn netboot_detection_follows_option_97_rules() {
    let backend = backend_with(reservation());
    let mut req = ipxe_bios(MessageType::Discover);
    let mut guid = vec![0u8; 17];
    guid[0] = 1;
    req.opts_mut()
        .insert(DhcpOption::ClientMachineIdentifier(guid));
    let (m, _) = reply(respond(&config(), &backend, &req));
    assert!(
        m.fname().is_none(),
        "a bad option 97 is not a netboot client"
    );
    req.opts_mut()
        .insert(DhcpOption::ClientMachineIdentifier(vec![]));
    assert!(
        reply(respond(&config(), &backend, &req))
            .0
            .fname()
            .is_some()
    );
    req.opts_mut().remove(OptionCode::ClientMachineIdentifier);
    assert!(
        reply(respond(&config(), &backend, &req))
            .0
            .fname()
            .is_some()
    );
    req.opts_mut().remove(OptionCode::ClientNetworkInterface);
    assert!(
        reply(respond(&config(), &backend, &req))
            .0
            .fname()
            .is_none()
    );
}

#[test]
fn unknown_mac_and_disabled_dhcp_are_ignored() {
    let backend = backend_with(reservation());
    let mut req = ipxe_bios(MessageType::Discover);
    req.set_chaddr(&OTHER_MAC);
    assert_eq!(
        ignored(respond(&config(), &backend, &req)),
        IgnoreReason::UnknownMac
    );
    let mut r = reservation();
    r.dhcp_disabled = true;
    let backend = backend_with(r);
    for mode in [Mode::Reservation, Mode::Proxy, Mode::AutoProxy] {
        let mut c = config();
        c.mode = mode;
        assert_eq!(
            ignored(respond(&c, &backend, &ipxe_bios(MessageType::Discover))),
            IgnoreReason::DhcpDisabled,
            "{mode:?}"
        );
    }
}

#[test]
fn netboot_not_allowed_gets_address_but_no_boot_file_or_next_server() {
    let mut r = reservation();
    r.allow_netboot = false;
    let (m, _) = reply(respond(
        &config(),
        &backend_with(r),
        &ipxe_bios(MessageType::Discover),
    ));
    assert_eq!(m.yiaddr(), IP);
    assert_eq!(bootfile(&m), NETBOOT_NOT_ALLOWED);
    assert_eq!(m.siaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(opt(&m, OptionCode::BootfileName).is_none());
    assert!(opt(&m, OptionCode::TFTPServerName).is_none());
    assert!(opt(&m, OptionCode::VendorExtensions).is_none());
}

#[test]
fn relayed_request_goes_to_giaddr_with_option_82_echoed() {
    let giaddr = Ipv4Addr::new(198, 51, 100, 1);
    let mut req = ipxe_bios(MessageType::Discover);
    req.set_giaddr(giaddr);
    let mut info = v4::relay::RelayAgentInformation::default();
    info.insert(v4::relay::RelayInfo::AgentCircuitId(b"port-7".to_vec()));
    req.opts_mut()
        .insert(DhcpOption::RelayAgentInformation(info.clone()));
    req.opts_mut().insert(DhcpOption::ClientIdentifier(vec![
        1, 0x52, 0x54, 0, 0x12, 0x34, 0x56,
    ]));
    let (m, to) = reply(respond(&config(), &backend_with(reservation()), &req));
    assert_eq!(to, SocketAddrV4::new(giaddr, 67));
    assert_eq!(m.giaddr(), giaddr);
    assert_eq!(
        opt(&on_the_wire(&m), OptionCode::RelayAgentInformation),
        Some(&DhcpOption::RelayAgentInformation(info))
    );
    assert_eq!(
        bytes_opt(&m, OptionCode::ClientIdentifier),
        Some(vec![1, 0x52, 0x54, 0, 0x12, 0x34, 0x56])
    );
}

#[test]
fn destinations_follow_ciaddr_and_broadcast_flag() {
    let backend = backend_with(reservation());
    // Renewing client: ciaddr set, no broadcast flag → unicast.
    let mut req = plain(MessageType::Request, MAC);
    req.set_ciaddr(IP);
    let (m, to) = reply(respond(&config(), &backend, &req));
    assert_eq!(m.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(to, SocketAddrV4::new(IP, 68));
    // Broadcast flag → broadcast.
    req.set_flags(Flags::default().set_broadcast());
    assert_eq!(reply(respond(&config(), &backend, &req)).1, BCAST);
}

#[test]
fn proxy_mode_answers_only_known_netbooting_macs_without_an_address() {
    let mut c = config();
    c.mode = Mode::Proxy;
    let backend = backend_with(reservation());
    let req = firmware(
        MessageType::Discover,
        Architecture::X64,
        b"PXEClient:Arch:00007:UNDI:003000",
    );
    let (m, to) = reply(respond(&c, &backend, &req));
    assert_eq!(to, BCAST);
    assert_eq!(m.opts().msg_type(), Some(MessageType::Offer));
    assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(bootfile(&m), "ipxe.efi");
    assert_eq!(m.siaddr(), SERVER);
    assert_eq!(
        bytes_opt(&m, OptionCode::ClassIdentifier),
        Some(b"PXEClient".to_vec())
    );
    for code in [
        OptionCode::SubnetMask,
        OptionCode::Router,
        OptionCode::AddressLeaseTime,
        OptionCode::DomainNameServer,
    ] {
        assert!(opt(&m, code).is_none(), "{code:?} in a proxy offer");
    }
    assert_eq!(
        ignored(respond(&c, &backend, &plain(MessageType::Discover, MAC))),
        IgnoreReason::NotNetbootClient
    );
    let mut unknown = req.clone();
    unknown.set_chaddr(&OTHER_MAC);
    assert_eq!(
        ignored(respond(&c, &backend, &unknown)),
        IgnoreReason::UnknownMac
    );
    let mut r = reservation();
    r.allow_netboot = false;
    assert_eq!(
        ignored(respond(&c, &backend_with(r), &req)),
        IgnoreReason::NetbootNotAllowed
    );
    // A proxy Request addressed to us is acknowledged with boot information only.
    let mut request = req.clone();
    request
        .opts_mut()
        .insert(DhcpOption::MessageType(MessageType::Request));
    request
        .opts_mut()
        .insert(DhcpOption::ServerIdentifier(SERVER));
    let (m, _) = reply(respond(&c, &backend, &request));
    assert_eq!(m.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
}

#[test]
fn auto_proxy_answers_unknown_pxe_clients_too() {
    let mut c = config();
    c.mode = Mode::AutoProxy;
    let backend: HashMap<[u8; 6], Reservation> = HashMap::new();
    let mut req = ipxe_bios(MessageType::Discover);
    req.set_chaddr(&OTHER_MAC);
    let (m, _) = reply(respond(&c, &backend, &req));
    assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(
        bootfile(&m),
        "http://192.0.2.1:7171/ipxe/script/52:54:00:aa:bb:cc/auto.ipxe"
    );
    let fw = firmware(
        MessageType::Discover,
        Architecture::X86_Bios,
        b"PXEClient:Arch:00000:UNDI:002001",
    );
    assert_eq!(
        bootfile(&reply(respond(&c, &backend, &fw)).0),
        "undionly.kpxe"
    );
    assert_eq!(
        ignored(respond(&c, &backend, &plain(MessageType::Discover, MAC))),
        IgnoreReason::NotNetbootClient
    );
}

#[test]
fn request_for_the_wrong_address_is_nakked() {
    let mut req = plain(MessageType::Request, MAC);
    req.opts_mut()
        .insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(192, 0, 2, 99)));
    req.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER));
    let (m, to) = reply(respond(&config(), &backend_with(reservation()), &req));
    assert_eq!(m.opts().msg_type(), Some(MessageType::Nak));
    assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(to, BCAST);
    assert!(opt(&m, OptionCode::AddressLeaseTime).is_none());

    req.opts_mut().insert(DhcpOption::RequestedIpAddress(IP));
    let (m, _) = reply(respond(&config(), &backend_with(reservation()), &req));
    assert_eq!(m.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(m.yiaddr(), IP);
}

#[test]
fn request_for_another_server_is_ignored() {
    let mut req = plain(MessageType::Request, MAC);
    req.opts_mut().insert(DhcpOption::RequestedIpAddress(IP));
    req.opts_mut()
        .insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 77)));
    assert_eq!(
        ignored(respond(&config(), &backend_with(reservation()), &req)),
        IgnoreReason::OtherServer
    );
}

#[test]
fn release_decline_and_others_get_no_answer() {
    let backend = backend_with(reservation());
    for (mt, want) in [
        (MessageType::Release, IgnoreReason::Release),
        (MessageType::Decline, IgnoreReason::Decline),
        (MessageType::Offer, IgnoreReason::UnsupportedMessageType),
    ] {
        assert_eq!(ignored(respond(&config(), &backend, &plain(mt, MAC))), want);
    }
    let mut reply_msg = plain(MessageType::Discover, MAC);
    reply_msg.set_opcode(Opcode::BootReply);
    assert_eq!(
        ignored(respond(&config(), &backend, &reply_msg)),
        IgnoreReason::NotARequest
    );
    let mut c = config();
    c.mode = Mode::Off;
    assert_eq!(
        ignored(respond(&c, &backend, &ipxe_bios(MessageType::Discover))),
        IgnoreReason::ModeOff
    );
}

#[test]
fn inform_is_acked_without_an_address_or_lease() {
    let mut req = plain(MessageType::Inform, MAC);
    req.set_ciaddr(IP);
    let (m, to) = reply(respond(&config(), &backend_with(reservation()), &req));
    assert_eq!(m.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(opt(&m, OptionCode::AddressLeaseTime).is_none());
    assert!(opt(&m, OptionCode::DomainNameServer).is_some());
    assert_eq!(to, SocketAddrV4::new(IP, 68));
}

#[test]
fn lease_time_default_and_override() {
    let backend = backend_with(reservation());
    let (m, _) = reply(respond(
        &config(),
        &backend,
        &plain(MessageType::Discover, MAC),
    ));
    assert_eq!(
        opt(&m, OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(604_800))
    );
    let mut r = reservation();
    r.lease_time = Some(3600);
    r.broadcast = Some(Ipv4Addr::new(192, 0, 2, 127));
    let (m, _) = reply(respond(
        &config(),
        &backend_with(r),
        &plain(MessageType::Discover, MAC),
    ));
    assert_eq!(
        opt(&m, OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(3600))
    );
    assert_eq!(
        opt(&m, OptionCode::Renewal),
        Some(&DhcpOption::Renewal(1800))
    );
    assert_eq!(
        opt(&m, OptionCode::Rebinding),
        Some(&DhcpOption::Rebinding(3150))
    );
    assert_eq!(
        opt(&m, OptionCode::BroadcastAddr),
        Some(&DhcpOption::BroadcastAddr(Ipv4Addr::new(192, 0, 2, 127)))
    );
}

#[test]
fn non_ethernet_hardware_address_is_ignored() {
    let mut req = plain(MessageType::Discover, MAC);
    req.set_chaddr(&[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        ignored(respond(&config(), &backend_with(reservation()), &req)),
        IgnoreReason::BadHardwareAddress
    );
}

#[test]
fn garbage_never_panics_and_is_counted() {
    // Thousands of datagrams from one MAC: no per-MAC limit here (it has its own test).
    let unlimited = Config {
        requests_per_mac: u32::MAX,
        request_burst_per_mac: u32::MAX,
        ..config()
    };
    let server = Server::new(unlimited, backend_with(reservation()));
    let from: SocketAddr = "192.0.2.10:68".parse().expect("addr");
    let mut seeds = Vec::new();
    for m in [
        ipxe_bios(MessageType::Discover),
        ipxe_bios(MessageType::Request),
        firmware(
            MessageType::Discover,
            Architecture::X64,
            b"PXEClient:Arch:00007:UNDI:003000",
        ),
        plain(MessageType::Inform, MAC),
    ] {
        let mut m = m;
        let mut info = v4::relay::RelayAgentInformation::default();
        info.insert(v4::relay::RelayInfo::AgentCircuitId(b"c".to_vec()));
        m.opts_mut().insert(DhcpOption::RelayAgentInformation(info));
        m.opts_mut()
            .insert(DhcpOption::ClientIdentifier(vec![1, 2, 3]));
        seeds.push(m.to_vec().expect("encode"));
    }
    // The seeds themselves are well-formed and answered.
    for s in &seeds {
        assert!(parse(s).is_ok());
    }
    let stats = server.stats();
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut answered = 0u32;
    for i in 0..20_000 {
        let mut p = seeds[i % seeds.len()].clone();
        match rng.below(4) {
            0 => p.truncate(rng.below(p.len() + 1)),
            1 => {
                for _ in 0..=rng.below(8) {
                    let at = rng.below(p.len());
                    p[at] = rng.next() as u8;
                }
            }
            2 => {
                // Mutate only the options area, where decoders are most fragile.
                for _ in 0..=rng.below(6) {
                    let at = 240 + rng.below(p.len() - 240);
                    p[at] = rng.next() as u8;
                }
            }
            _ => {
                let extra = rng.below(1600);
                p.extend((0..extra).map(|_| rng.next() as u8));
            }
        }
        if server.handle_datagram(&p, from).is_some() {
            answered += 1;
        }
    }
    // Fixed cases: empty, one byte short, oversized, bad cookie, hlen 17.
    let base = &seeds[0];
    let before = stats.malformed.load(std::sync::atomic::Ordering::Relaxed);
    let mut bad_cookie = base.clone();
    bad_cookie[236] = 0;
    let mut bad_hlen = base.clone();
    bad_hlen[2] = 17;
    for p in [
        Vec::new(),
        base[..239].to_vec(),
        vec![0u8; 1501],
        bad_cookie,
        bad_hlen,
    ] {
        assert!(server.handle_datagram(&p, from).is_none());
    }
    let malformed = stats.malformed.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(malformed - before, 5);
    assert!(
        malformed > 1000,
        "only {malformed} of 20000 counted malformed"
    );
    assert!(answered > 100, "only {answered} mutated packets answered");
}

#[test]
fn parse_rejects_bad_fixed_length_options() {
    let mut m = ipxe_bios(MessageType::Discover);
    m.opts_mut().remove(OptionCode::ClientNetworkInterface);
    let mut bytes = m.to_vec().expect("encode");
    // Replace the End option with option 94 of length 2, then End.
    let end = bytes.iter().rposition(|b| *b == 255).expect("end");
    bytes.truncate(end);
    bytes.extend_from_slice(&[94, 2, 1, 2, 255]);
    assert!(matches!(
        parse(&bytes),
        Err(ironbell_dhcp::ParseError::OptionLength { code: 94, len: 2 })
    ));
    let good = ipxe_bios(MessageType::Discover).to_vec().expect("encode");
    assert!(parse(&good).is_ok());
}

/// The benchmark's shape (10,000 MACs, each a full DORA) twice over, as fast as the
/// server takes it: far above any real rate per MAC, still inside the per-MAC burst, so
/// nothing is dropped; a MAC that keeps asking is.
#[test]
fn per_mac_limit_spares_many_machines_and_stops_one_that_floods() {
    let macs: Vec<[u8; 6]> = (0..10_000u32)
        .map(|i| {
            let b = i.to_be_bytes();
            [0x02, 0, b[0], b[1], b[2], b[3]]
        })
        .collect();
    let backend: HashMap<[u8; 6], Reservation> = macs.iter().map(|m| (*m, reservation())).collect();
    let server = Server::new(config(), backend);
    let stats = server.stats();
    let from = SocketAddr::from(([0, 0, 0, 0], 68));
    let encoded = |mt, mac| plain(mt, mac).to_vec().expect("encode");
    for _ in 0..2 {
        for mac in &macs {
            for mt in [MessageType::Discover, MessageType::Request] {
                server.handle_datagram(&encoded(mt, *mac), from);
            }
        }
    }
    assert_eq!(
        stats
            .rate_limited
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );

    let config = config();
    let burst = u64::from(config.request_burst_per_mac);
    let flood = encoded(MessageType::Discover, macs[0]);
    let answered = (0..1000)
        .filter(|_| server.handle_datagram(&flood, from).is_some())
        .count() as u64;
    // Two requests of its burst were used above, and little time has passed.
    assert!(answered <= burst, "{answered} answered");
    assert!(
        stats
            .rate_limited
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1000 - burst
    );
}

/// The answer of one replica of several (`ironbell_dhcp::share`) for `req`, with what
/// names the answering server taken out: option 54, and `siaddr` when it is that server
/// (a client that does not netboot is given the server's address there).
fn answer_without_server_id(config: &Config, req: &Message) -> (Message, SocketAddrV4) {
    let backend = backend_with(reservation());
    let Decision::Reply { mut message, to } = respond(config, &backend, req) else {
        panic!("no reply");
    };
    message.opts_mut().remove(OptionCode::ServerIdentifier);
    if message.siaddr() == config.server_ip {
        message.set_siaddr(Ipv4Addr::UNSPECIFIED);
    }
    (*message, to)
}

/// Two replicas answer a reserved client with the same address, options and boot file;
/// they differ in the server's own address, and, unless the boot endpoints are set to a
/// shared address, in where the boot files are (each replica serves the same ones).
#[test]
fn replicas_answer_a_reservation_alike() {
    let other = Ipv4Addr::new(192, 0, 2, 3);
    for req in [
        plain(MessageType::Discover, MAC),
        plain(MessageType::Request, MAC),
        ipxe_bios(MessageType::Discover),
        ipxe_bios(MessageType::Request),
    ] {
        // Boot endpoints on a shared (virtual) address: identical but for option 54.
        let shared = |ip: Ipv4Addr| {
            let mut c = config();
            c.server_ip = ip;
            c.tftp_server = Some(Ipv4Addr::new(192, 0, 2, 100));
            c.http_base = Some("http://192.0.2.100:7171".into());
            c
        };
        assert_eq!(
            answer_without_server_id(&shared(SERVER), &req),
            answer_without_server_id(&shared(other), &req)
        );
        // Each replica its own boot endpoints: the lease is the same.
        let mut own = config();
        own.server_ip = other;
        let (a, to_a) = answer_without_server_id(&config(), &req);
        let (b, to_b) = answer_without_server_id(&own, &req);
        assert_eq!((a.yiaddr(), to_a), (b.yiaddr(), to_b));
        let lease_options = |m: &Message| {
            let mut opts: Vec<DhcpOption> = m
                .opts()
                .iter()
                .filter(|(code, _)| {
                    !matches!(code, OptionCode::BootfileName | OptionCode::TFTPServerName)
                })
                .map(|(_, o)| o.clone())
                .collect();
            opts.sort_by_key(|o| u8::from(OptionCode::from(o)));
            opts
        };
        assert_eq!(lease_options(&a), lease_options(&b));
    }
}

/// FNV-1a, 64 bits: a stable digest of a reply for the golden file (std's hashers may
/// change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The requests of the golden corpus: the clients a provisioning network sees.
fn golden_clients() -> Vec<(&'static str, Message)> {
    let mut out = Vec::new();
    let mut dhclient = plain(MessageType::Discover, MAC);
    dhclient
        .opts_mut()
        .insert(DhcpOption::ParameterRequestList(vec![
            OptionCode::SubnetMask,
            OptionCode::Router,
            OptionCode::DomainNameServer,
            OptionCode::Hostname,
        ]));
    dhclient
        .opts_mut()
        .insert(DhcpOption::ClientIdentifier(vec![
            1, 0x52, 0x54, 0, 0x12, 0x34, 0x56,
        ]));
    dhclient
        .opts_mut()
        .insert(DhcpOption::Hostname("client-name".into()));
    out.push(("dhclient", dhclient));
    out.push((
        "pxe-bios",
        firmware(
            MessageType::Discover,
            Architecture::X86_Bios,
            b"PXEClient:Arch:00000:UNDI:002001",
        ),
    ));
    let mut uefi = firmware(
        MessageType::Discover,
        Architecture::X64,
        b"PXEClient:Arch:00007:UNDI:003016",
    );
    let mut guid = vec![0u8; 17];
    guid[1..].copy_from_slice(&[7; 16]);
    uefi.opts_mut()
        .insert(DhcpOption::ClientMachineIdentifier(guid));
    out.push(("uefi", uefi));
    out.push((
        "uefi-http",
        firmware(
            MessageType::Discover,
            Architecture::from(16),
            b"HTTPClient:Arch:00016:UNDI:003016",
        ),
    ));
    out.push(("ipxe", ipxe_bios(MessageType::Discover)));
    let mut ipxe_3004 = firmware(
        MessageType::Discover,
        Architecture::X64,
        b"PXEClient:Arch:00007:UNDI:003016",
    );
    ipxe_3004
        .opts_mut()
        .insert(DhcpOption::UserClass(b"\x04iPXE\x03foo".to_vec()));
    out.push(("ipxe-3004", ipxe_3004));
    out.push((
        "arm64",
        firmware(
            MessageType::Discover,
            Architecture::from(11),
            b"PXEClient:Arch:00011:UNDI:003016",
        ),
    ));
    out.push((
        "unknown-arch",
        firmware(
            MessageType::Discover,
            Architecture::from(99),
            b"PXEClient:Arch:00099:UNDI:003016",
        ),
    ));
    let mut bad_guid = firmware(
        MessageType::Discover,
        Architecture::X64,
        b"PXEClient:Arch:00007:UNDI:003016",
    );
    bad_guid
        .opts_mut()
        .insert(DhcpOption::ClientMachineIdentifier(vec![1, 2, 3, 4, 5]));
    out.push(("bad-guid", bad_guid));
    let mut relayed = firmware(
        MessageType::Discover,
        Architecture::X64,
        b"PXEClient:Arch:00007:UNDI:003016",
    );
    relayed
        .set_giaddr(Ipv4Addr::new(198, 51, 100, 1))
        .set_hops(1);
    let mut info = v4::relay::RelayAgentInformation::default();
    info.insert(v4::relay::RelayInfo::AgentCircuitId(b"eth0:12".to_vec()));
    info.insert(v4::relay::RelayInfo::AgentRemoteId(b"switch-7".to_vec()));
    relayed
        .opts_mut()
        .insert(DhcpOption::RelayAgentInformation(info));
    out.push(("relayed", relayed));
    let mut broadcast = firmware(MessageType::Discover, Architecture::X64, b"PXEClient");
    broadcast.set_flags(Flags::default().set_broadcast());
    broadcast
        .opts_mut()
        .insert(DhcpOption::ClientIdentifier(b"\xffclient".to_vec()));
    out.push(("broadcast", broadcast));
    out
}

/// The message kinds of the golden corpus, each applied to every client.
fn golden_kind(kind: &str, mut m: Message) -> Message {
    let set_type = |m: &mut Message, mt| {
        m.opts_mut().insert(DhcpOption::MessageType(mt));
    };
    match kind {
        "discover" => {}
        "request" => {
            set_type(&mut m, MessageType::Request);
            m.opts_mut().insert(DhcpOption::RequestedIpAddress(IP));
            m.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER));
        }
        "request-wrong-ip" => {
            set_type(&mut m, MessageType::Request);
            m.opts_mut()
                .insert(DhcpOption::RequestedIpAddress(Ipv4Addr::new(192, 0, 2, 99)));
        }
        "renew" => {
            set_type(&mut m, MessageType::Request);
            m.set_ciaddr(IP);
        }
        "other-server" => {
            set_type(&mut m, MessageType::Request);
            m.opts_mut().insert(DhcpOption::RequestedIpAddress(IP));
            m.opts_mut()
                .insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 200)));
        }
        "inform" => {
            set_type(&mut m, MessageType::Inform);
            m.set_ciaddr(IP);
        }
        "release" => set_type(&mut m, MessageType::Release),
        "decline" => set_type(&mut m, MessageType::Decline),
        "offer" => set_type(&mut m, MessageType::Offer),
        other => panic!("no kind {other}"),
    }
    m
}

/// The reservations of the golden corpus (`None`: the MAC is unknown).
fn golden_reservations() -> Vec<(&'static str, Option<Reservation>)> {
    let full = reservation();
    let mut no_netboot = reservation();
    no_netboot.allow_netboot = false;
    let mut disabled = reservation();
    disabled.dhcp_disabled = true;
    let mut custom = reservation();
    custom.boot_file = Some("custom.efi".into());
    custom.ipxe_script_url = Some("http://192.0.2.1:7171/custom.ipxe".into());
    custom.lease_time = Some(60);
    custom.broadcast = Some(Ipv4Addr::new(192, 0, 2, 255));
    custom.vlan_id = Some(12);
    let mut large = reservation();
    large.dns_servers = (1..=70).map(|i| Ipv4Addr::new(10, 0, 1, i)).collect();
    large.hostname = Some("h".repeat(300));
    large.domain_search = (0..40).map(|i| format!("zone-{i}.lab.example")).collect();
    large.classless_routes = [0u8, 17, 32, 33]
        .into_iter()
        .map(|prefix_len| Route {
            destination: Ipv4Addr::new(172, 16, 128, 9),
            prefix_len,
            gateway: Ipv4Addr::new(192, 0, 2, 253),
        })
        .collect();
    let mut minimal = Reservation::new(IP, Ipv4Addr::new(255, 255, 0, 0));
    minimal.allow_netboot = true;
    vec![
        ("unknown", None),
        ("full", Some(full)),
        ("minimal", Some(minimal)),
        (
            "plain",
            Some(Reservation::new(IP, Ipv4Addr::new(255, 255, 255, 0))),
        ),
        ("no-netboot", Some(no_netboot)),
        ("disabled", Some(disabled)),
        ("custom", Some(custom)),
        ("large", Some(large)),
    ]
}

/// Every request of the golden corpus through `Server::handle_datagram`, a line per client
/// and reservation: for each message kind the reply's size, destination and digest, or
/// why it was ignored. The file was
/// written by dhcproto's encoder (before the server encoded replies itself), so it proves
/// that clients receive byte for byte what they did. `IRONBELL_BLESS=1` rewrites it.
#[test]
fn replies_are_byte_for_byte_the_golden_corpus() {
    use std::fmt::Write as _;
    use std::sync::atomic::Ordering::Relaxed;

    let from: SocketAddr = "0.0.0.0:68".parse().expect("addr");
    let mut configs = Vec::new();
    configs.push(("default", Config::new(SERVER)));
    let mut tuned = config();
    tuned.http_base = Some("http://boot.example:8080/".into());
    tuned.tftp_server = Some(Ipv4Addr::new(192, 0, 2, 5));
    configs.push(("tuned", tuned));
    let mut lines = String::new();
    for mode in [Mode::Reservation, Mode::Proxy, Mode::AutoProxy] {
        for (config_name, config) in &configs {
            for (res_name, res) in golden_reservations() {
                let backend: HashMap<[u8; 6], Reservation> =
                    res.into_iter().map(|r| (MAC, r)).collect();
                let server = Server::new(
                    Config {
                        mode,
                        requests_per_mac: u32::MAX,
                        request_burst_per_mac: u32::MAX,
                        ..config.clone()
                    },
                    backend,
                );
                let stats = server.stats();
                for (client_name, client) in golden_clients() {
                    let _ = write!(lines, "{mode:?} {config_name} {res_name} {client_name}:");
                    for kind in [
                        "discover",
                        "request",
                        "request-wrong-ip",
                        "renew",
                        "other-server",
                        "inform",
                        "release",
                        "decline",
                        "offer",
                    ] {
                        let req = golden_kind(kind, client.clone()).to_vec().expect("encode");
                        let before: Vec<u64> = IgnoreReason::ALL
                            .iter()
                            .map(|r| stats.ignored(*r))
                            .collect();
                        let rate_limited = stats.rate_limited.load(Relaxed);
                        let outcome = match server.handle_datagram(&req, from) {
                            // Size, destination, and the first 32 bits of the digest.
                            Some((bytes, to)) => {
                                format!("{}>{to}#{:08x}", bytes.len(), fnv1a(&bytes) >> 32)
                            }
                            None if stats.rate_limited.load(Relaxed) > rate_limited => {
                                panic!("rate limited: the corpus runs without a per-MAC limit")
                            }
                            None => IgnoreReason::ALL
                                .iter()
                                .zip(&before)
                                .find(|(r, n)| stats.ignored(**r) > **n)
                                .map_or("nothing-counted", |(r, _)| r.as_str())
                                .to_string(),
                        };
                        let _ = write!(lines, " {kind}={outcome}");
                    }
                    lines.push('\n');
                }
            }
        }
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/replies.golden");
    if std::env::var_os("IRONBELL_BLESS").is_some() {
        std::fs::write(path, &lines).expect("write the golden file");
        return;
    }
    let golden = std::fs::read_to_string(path).expect("read tests/data/replies.golden");
    let mut differ = 0;
    for (got, want) in lines.lines().zip(golden.lines()) {
        if got != want {
            differ += 1;
            if differ <= 20 {
                eprintln!("want {want}\n got {got}");
            }
        }
    }
    assert_eq!(lines.lines().count(), golden.lines().count(), "case count");
    assert_eq!(differ, 0, "{differ} replies differ from the golden corpus");
}

/// A script URL longer than the 128-byte `file` field goes in option 67 alone (split in
/// two instances past 255 bytes, RFC 3396), and the reply is still sent: dhcproto refused
/// to encode such a reply, so the machine never booted.
#[test]
fn a_long_script_url_is_in_option_67_only() {
    for len in [129, 300] {
        let url = format!("http://192.0.2.1:7171/{}", "s".repeat(len - 22));
        let mut r = reservation();
        r.ipxe_script_url = Some(url.clone());
        let (m, _) = reply(respond(
            &config(),
            &backend_with(r),
            &ipxe_bios(MessageType::Discover),
        ));
        assert_eq!(bootfile(&m), "", "the file field stays empty");
        assert_eq!(bytes_opt(&m, OptionCode::BootfileName), Some(url.into()));
    }
}
