//! The Go `text/template` engine (`ironbell_template::gotemplate`), which renders
//! user-supplied workflow templates: any text is parsed, then executed with Tinkerbell-like
//! data under tight limits. Nothing may panic (no stack overflow however deep the nesting);
//! every error formats; a rendered output is within the output cap; and the step limit ends
//! every execution (libFuzzer's `-timeout` reports one that does not).

#![no_main]

use std::sync::OnceLock;

use ironbell_template::gotemplate::{Limits, Template, Value};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_output: 16 * 1024,
    max_steps: 20_000,
    max_depth: 64,
};

/// What a workflow template sees: the hardware map, with lists, maps and numbers to range over.
fn data() -> &'static Value {
    static DATA: OnceLock<Value> = OnceLock::new();
    DATA.get_or_init(|| {
        Value::from_json(&serde_json::json!({
            "device_1": "52:54:00:00:00:01",
            "Hardware": {
                "Disks": ["/dev/sda", "/dev/nvme0n1"],
                "Interfaces": [{"DHCP": {"MAC": "52:54:00:00:00:01", "IP": {"Address": "10.0.0.5"}}}],
                "Metadata": {"Instance": {"Hostname": "node-1", "ID": "i-1"}},
            },
            "n": 3,
            "f": 1.5,
            "t": true,
            "nil": null,
        }))
    })
}

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let template = match Template::parse("fuzz", text) {
        Ok(t) => t,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    match template.execute_with(data(), LIMITS) {
        Ok(out) => assert!(out.len() <= LIMITS.max_output, "{} bytes", out.len()),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
