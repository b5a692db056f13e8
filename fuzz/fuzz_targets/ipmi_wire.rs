//! IPMI over RMCP/RMCP+, the client's side: any datagram a BMC (or anyone on the network)
//! sends goes through every decoder the client runs on replies (`ironbell_ipmi::fuzz`):
//! the RMCP and IPMI v1.5/v2.0 session headers (also with cipher suite 3 and 17 session
//! keys), the Open Session response, RAKP 2 and 4, IPMI responses and the command answers
//! in them. None may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ironbell_ipmi::fuzz(data);
});
