//! TFTP: any datagram goes through `Packet::parse`, as on the server's listening port and
//! on every transfer socket. It must never panic. What it accepts must re-encode to a
//! datagram that parses to the same packet (the codec's documented round trip), except
//! that an ERROR message with invalid UTF-8 grows when re-encoded (each bad byte becomes
//! U+FFFD, three bytes), so a re-encoding past `MAX_PACKET_LEN` may be refused as too
//! long. A request's file name is also run through the path confinement rules, which
//! must never accept a name that could leave the served root.

#![no_main]

use ironbell_tftp::packet::{MAX_PACKET_LEN, Packet, PacketError};
use ironbell_tftp::source::check_name;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::parse(data) else {
        return;
    };
    let wire = packet.encode();
    match Packet::parse(&wire) {
        Ok(again) => assert_eq!(again, packet, "round trip changed the packet"),
        Err(PacketError::TooLong(n)) if n > MAX_PACKET_LEN => {
            assert!(matches!(packet, Packet::Error { .. }), "{packet:?} grew");
        }
        Err(e) => panic!("re-encoded {packet:?} does not parse: {e}"),
    }
    if let Packet::Rrq(req) | Packet::Wrq(req) = &packet
        && let Ok(rel) = check_name(&req.filename)
    {
        assert!(!rel.is_empty() && !rel.starts_with('/'), "{rel:?}");
        assert!(!rel.contains('\0') && !rel.contains('\\'), "{rel:?}");
        assert!(
            rel.split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".."),
            "{rel:?} has a bad component"
        );
    }
});
