//! Broken specs never panic: every conformance spec cut short at many points, with runs of
//! characters overwritten by YAML syntax and spec words, or replaced by random bytes, loads or gives
//! a [`SpecError`] with at least one located problem; whatever loads also defaults and
//! validates without panicking.

mod common;

use ironbell_cluster_spec::{Spec, SpecError, validate};
use ironbell_testbed::Rng;

/// Loads `text`; on success runs the defaults and the validation too.
fn exercise(text: &str) -> Result<(), String> {
    match Spec::parse(text) {
        Ok(spec) => {
            let report = validate(&spec, None);
            let _ = report.to_string();
            let _ = spec.with_defaults().to_yaml();
            Ok(())
        }
        Err(SpecError::Invalid(issues)) if !issues.is_empty() => {
            for i in &issues {
                let _ = i.to_string();
            }
            Ok(())
        }
        Err(e) => Err(format!("an error without problems: {e:?}")),
    }
}

fn run(what: &str, text: &str) {
    let outcome = std::panic::catch_unwind(|| exercise(text));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{what}: {e}\n--- input:\n{text}"),
        Err(_) => panic!("{what}: panicked\n--- input:\n{text}"),
    }
}

/// Char boundaries of `text`, every `step`-th one.
fn cuts(text: &str, step: usize) -> impl Iterator<Item = usize> + '_ {
    (0..=text.len())
        .filter(|i| text.is_char_boundary(*i))
        .step_by(step)
}

#[test]
fn truncated_specs_give_errors_not_panics() {
    let mut inputs = 0;
    for f in common::spec_files() {
        let text = std::fs::read_to_string(&f).expect("readable");
        let name = common::file_name(&f);
        // About 30 cuts per file, bounded whatever its size.
        let step = (text.len() / 30).max(1);
        for at in cuts(&text, step) {
            run(&format!("{name} cut at byte {at}"), &text[..at]);
            inputs += 1;
        }
    }
    println!("{inputs} truncated specs");
    assert!(inputs > 130 * 25);
}

#[test]
fn corrupted_specs_give_errors_not_panics() {
    let mut rng = Rng::new(0x5eed_c1a5);
    let files = common::spec_files();
    let mut inputs = 0;
    for f in files.iter().step_by(3) {
        let text = std::fs::read_to_string(f).expect("readable");
        let name = common::file_name(f);
        for round in 0..25 {
            let mut bytes: Vec<char> = text.chars().collect();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                let end = (at + rng.below(8)).min(bytes.len());
                let noise: Vec<char> = (0..1 + rng.below(4))
                    .map(|_| char::from(ALPHABET[rng.below(ALPHABET.len())]))
                    .collect();
                bytes.splice(at..end, noise);
            }
            let corrupted: String = bytes.into_iter().collect();
            run(&format!("{name} corruption {round}"), &corrupted);
            inputs += 1;
        }
    }
    assert!(inputs >= 40 * 25, "{inputs}");
}

/// Bytes random text is mostly made of: YAML syntax and words of a spec.
const ALPHABET: &[u8] = b" :-\n[]{}\"'#&*!|>?,.0123456789abcdkindspecapiVersion";

#[test]
fn random_text_gives_errors_not_panics() {
    let mut rng = Rng::new(42);
    for round in 0..2000 {
        let len = rng.below(200);
        let text: String = (0..len)
            .map(|_| {
                let pick = rng.below(10);
                if pick < 6 {
                    char::from(ALPHABET[rng.below(ALPHABET.len())])
                } else {
                    char::from_u32(u32::try_from(rng.below(0x3000)).unwrap_or(0x20)).unwrap_or(' ')
                }
            })
            .collect();
        run(&format!("random text {round}"), &text);
    }
}

#[test]
fn deep_and_huge_inputs_are_refused_cleanly() {
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    run("deeply nested sequence", &deep);
    let huge = "a".repeat(ironbell_model::MAX_INPUT_BYTES + 1);
    let err = Spec::parse(&huge).expect_err("too large");
    assert!(err.to_string().contains("over the limit"), "{err}");
}
