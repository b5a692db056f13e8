//! Syslog: any datagram goes through the lenient `parse` the receiver uses, against three
//! receive times (ordinary, the epoch, far future; RFC 3164 timestamps take their year
//! from it). It must never panic, must fail only on an empty datagram, must agree with the
//! strict `parse_rfc5424` whenever that accepts (the lenient parser tries RFC 5424
//! first), and the one-line display must hold no control character but tab, so a log
//! line cannot break lines or send terminal escapes. There is no encoder, so no round trip.

#![no_main]

use std::time::{Duration, SystemTime};

use ironbell_syslog::{ParseError, parse, parse_rfc5424};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let times = [
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_335_080),
        SystemTime::UNIX_EPOCH,
        SystemTime::UNIX_EPOCH + Duration::from_secs(250_000_000_000),
    ];
    for at in times {
        let lenient = parse(data, at);
        let strict = parse_rfc5424(data, at);
        match &lenient {
            Ok(m) => {
                let line = m.to_string();
                assert!(
                    !line.chars().any(|c| c.is_control() && c != '\t'),
                    "control character in {line:?}"
                );
            }
            Err(e) => assert_eq!(*e, ParseError::Empty),
        }
        if let Ok(m) = strict {
            assert_eq!(lenient, Ok(m), "lenient and strict parsers disagree");
        }
    }
});
