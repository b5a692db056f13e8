//! Malformed input never panics: thousands of deterministic mutations of real hardware.csv
//! files (byte flips, truncations, inserted separators and quotes, duplicated lines) must
//! each give `Ok` or a `CsvErrors`, and every error must name a line within the file.

use ironbell_testbed::Rng;
use std::path::Path;

const INSERTS: &[&[u8]] = &[
    b",",
    b"\"",
    b"\n",
    b"\r\n",
    b"|",
    b"=",
    b":",
    b"-",
    b" ",
    b"\xff",
    b"\0",
    b"\xc3\xa9",
    b"/dev/",
    b"255.255.255.255",
    b"4095",
    b"bmc_ip",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.truncate(at),
            2 => {
                let ins = INSERTS[rng.below(INSERTS.len())];
                out.splice(at..at, ins.iter().copied());
            }
            3 if at < out.len() => {
                let end = (at + rng.below(40)).min(out.len());
                out.drain(at..end);
            }
            _ => {
                let line: Vec<u8> = out
                    .split(|b| *b == b'\n')
                    .nth(rng.below(6))
                    .unwrap_or(b"")
                    .to_vec();
                out.extend_from_slice(b"\n");
                out.extend_from_slice(&line);
            }
        }
    }
    out
}

fn seeds() -> Vec<String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let conf = repo.join("../shared/conformance/eks-anywhere-v0.24.6/pkg/providers/tinkerbell");
    let files = [
        repo.join("hardware/example.csv"),
        conf.join("testdata/hardware.csv"),
        conf.join("hardware/testdata/hardware.csv"),
    ];
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())))
        .collect()
}

#[test]
fn mutated_csv_never_panics() {
    let mut rng = Rng::new(0x1b0_ba11);
    let seeds = seeds();
    let mut rejected = 0;
    for i in 0..4000 {
        let seed = &seeds[i % seeds.len()];
        let bytes = mutate(&mut rng, seed.as_bytes());
        let text = String::from_utf8_lossy(&bytes);
        let lines = text.lines().count().max(1);
        if let Err(errors) = ironbell_inventory::parse(&text) {
            rejected += 1;
            let shown = errors.to_string();
            assert!(!shown.is_empty());
            for line in shown.lines().filter_map(|l| l.trim().strip_prefix("line ")) {
                let n: usize = line
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0);
                assert!(
                    n >= 1 && n <= lines + 1,
                    "line {n} of {lines}: {shown}\ninput:\n{text}"
                );
            }
        }
    }
    assert!(
        rejected > 1000,
        "mutations should mostly be rejected, got {rejected}"
    );
}

#[test]
fn huge_and_degenerate_inputs_are_errors() {
    for text in ["", "\n\n", ",,,,", "\"", "hostname", "\u{feff}"] {
        assert!(ironbell_inventory::parse(text).is_err(), "{text:?}");
    }
    let wide = format!("{}\n", "x,".repeat(100_000));
    assert!(ironbell_inventory::parse(&wide).is_err());
}
