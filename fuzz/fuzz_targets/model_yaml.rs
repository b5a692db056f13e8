//! YAML documents (`ironbell_model::parse_documents`, what `ironbell apply -f` reads): any
//! multi-document stream goes through the typed parse. It must never panic; on failure every
//! error formats and there is at least one; the objects it accepts write back out
//! (`to_yaml_documents`) as YAML that parses again to the same number of objects, of the same
//! kinds and names. Text that is one JSON object also goes through the store's typed read
//! (`DynamicObject::to_typed`, which finds a bad field's path from the error's position in
//! the text, raw fields kept with their own line breaks): it must never panic either.

#![no_main]

use ironbell_model::{DynamicObject, Object, parse_documents, to_yaml_documents};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(dynamic) = DynamicObject::from_json(text)
        && let Err(e) = Object::from_dynamic(&dynamic)
    {
        assert!(!e.path.is_empty());
        let _ = e.to_string();
    }
    match parse_documents(text) {
        Ok(objects) => {
            let yaml = to_yaml_documents(&objects).expect("parsed objects serialize");
            let again = parse_documents(&yaml).expect("written objects parse again");
            let names = |o: &[ironbell_model::Object]| {
                o.iter()
                    .map(|o| (o.metadata().namespace.clone(), o.metadata().name.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(&again), names(&objects), "{yaml}");
        }
        Err(errors) => {
            assert!(!errors.0.is_empty());
            let _ = errors.to_string();
            for e in &errors.0 {
                let _ = e.to_string();
            }
        }
    }
});
