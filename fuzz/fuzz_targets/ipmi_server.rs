//! The virtual BMC's IPMI server (`ironbell_ipmi::server::fuzz`): a sequence of datagrams
//! from one peer, optionally after a real RAKP handshake (suite 3 or 17) so that commands
//! wrapped in the session's keys reach the command handlers. Nothing may panic; an answer
//! is never larger than a datagram the server reads; the sessions stay within their bound.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ironbell_ipmi::server::fuzz(data);
});
