//! kubectl's JSONPath templates (what `ironbell get -o jsonpath=`, `-o custom-columns=`
//! and the printer columns use): the input's first line is a template, the rest a JSON
//! document (a fixed Hardware list when it does not parse). The template is read with
//! `Template::parse` and `Path::parse`, then rendered.
//!
//! Checks: no panic or stack overflow; errors format; a rendering that succeeds is within
//! `MAX_OUTPUT_BYTES`.
#![no_main]

use ironbell_model::jsonpath::{MAX_OUTPUT_BYTES, Path, Template};
use libfuzzer_sys::fuzz_target;

const DOC: &str = r#"{"kind":"List","items":[
 {"metadata":{"name":"a","labels":{"type":"cp"}},"spec":{"interfaces":[{"dhcp":{"mac":"aa:01"}}]},"status":{"state":"RUNNING","n":3}},
 {"metadata":{"name":"b"},"spec":{"interfaces":[]},"status":{"n":1.5,"ok":true,"x":null}}]}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (template, doc) = text.split_once('\n').unwrap_or((text, ""));
    let value: serde_json::Value = serde_json::from_str(doc)
        .or_else(|_| serde_json::from_str(DOC))
        .expect("the fixed document");
    match Template::parse(template) {
        Ok(t) => match t.render(&value) {
            Ok(out) => assert!(out.len() <= MAX_OUTPUT_BYTES),
            Err(e) => {
                let _ = e.to_string();
            }
        },
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(p) = Path::parse(template) {
        let _ = p.find(&value);
    }
});
