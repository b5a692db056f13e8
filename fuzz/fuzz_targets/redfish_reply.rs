//! Redfish replies (`ironbell_redfish::fuzz`): any body a BMC returns, read as every document
//! the client parses (service root, collections, ComputerSystem, ActionInfo, Manager,
//! VirtualMedia) and as an error body; a ComputerSystem then gives its power state and boot
//! override as the client reads them. Nothing may panic; every error formats.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ironbell_redfish::fuzz(data);
});
