//! EKS Anywhere cluster specs (`ironbell_cluster_spec::Spec::parse`, what `ironbell validate
//! cluster -f` reads): any text is loaded, and a spec that loads is defaulted and validated.
//! It must never panic; a refused spec has at least one problem and every problem formats;
//! the defaults are idempotent; a defaulted spec writes out (`Spec::to_yaml`) as YAML that
//! loads again to the same objects.

#![no_main]

use ironbell_cluster_spec::{Spec, SpecError, validate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Spec::parse(text) {
        Ok(spec) => {
            let _ = validate(&spec, None).to_string();
            let defaulted = spec.with_defaults();
            assert_eq!(defaulted.clone().with_defaults(), defaulted, "defaults are idempotent");
            let yaml = defaulted.to_yaml().expect("a loaded spec serializes");
            let again = Spec::parse(&yaml).expect("a written spec loads again");
            assert_eq!(again.objects(), defaulted.objects(), "{yaml}");
        }
        Err(SpecError::Invalid(issues)) => {
            assert!(!issues.is_empty());
            for i in &issues {
                let _ = i.to_string();
            }
        }
        Err(e @ SpecError::Read { .. }) => panic!("parse never reads a file: {e}"),
    }
});
