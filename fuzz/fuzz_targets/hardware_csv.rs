//! hardware.csv: any text goes through `parse_inventory`. It must never panic; the errors
//! it returns must format; the rows it accepts must translate to one Hardware per row and
//! one Machine and Secret per row with a BMC. There is no CSV writer, so no round trip.

#![no_main]

use ironbell_inventory::{DEFAULT_NAMESPACE, parse_inventory, translate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_inventory(text) {
        Ok(inv) => {
            let objects = translate(&inv.rows, DEFAULT_NAMESPACE);
            let with_bmc = inv.rows.iter().filter(|r| r.bmc.is_some()).count();
            assert_eq!(objects.hardware.len(), inv.rows.len());
            assert_eq!(objects.machines.len(), with_bmc);
            assert_eq!(objects.secrets.len(), with_bmc);
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            let _ = errors.to_string();
        }
    }
});
