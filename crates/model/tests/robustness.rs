//! Malformed YAML never panics: deterministic mutations of the upstream conformance files
//! must each parse or give `ParseErrors` naming a document within the stream.

mod common;
use ironbell_testbed::Rng;

const INSERTS: &[&str] = &[
    ":",
    "- ",
    "\n",
    "  ",
    "---\n",
    "{",
    "[",
    "\"",
    "'",
    "&a ",
    "*a",
    "!!binary ",
    "~",
    "0x",
    "-1",
    "1e999",
    "é",
    "\t",
    "? ",
];

fn mutate(rng: &mut Rng, input: &str) -> String {
    let mut out: Vec<char> = input.chars().collect();
    for _ in 0..=rng.below(3) {
        let at = rng.below(out.len() + 1);
        match rng.below(4) {
            0 => out.truncate(at),
            1 => {
                let ins = INSERTS[rng.below(INSERTS.len())];
                out.splice(at..at, ins.chars());
            }
            2 if at < out.len() => {
                let end = (at + rng.below(30)).min(out.len());
                out.drain(at..end);
            }
            _ if at < out.len() => out[at] = ['x', '1', ' ', ':', '-'][rng.below(5)],
            _ => {}
        }
    }
    out.into_iter().collect()
}

#[test]
fn mutated_yaml_never_panics() {
    let dir = common::conformance_dir();
    let tdir = dir.join("eks-anywhere-v0.24.6/pkg/providers/tinkerbell/testdata");
    let mut seeds = vec![
        std::fs::read_to_string(tdir.join("cluster_tinkerbell_stacked_etcd.yaml")).expect("read"),
        std::fs::read_to_string(tdir.join("cluster_tinkerbell_awsiam.yaml")).expect("read"),
        std::fs::read_to_string(
            dir.join("tinkerbell-9111b51/pkg/backend/file/testdata/example.yaml"),
        )
        .expect("read"),
    ];
    // Small inputs mutate into more interesting shapes per iteration.
    seeds.push(seeds[2].chars().take(900).collect());
    let mut rng = Rng::new(0xfeed_5eed);
    let mut rejected = 0;
    for i in 0..1500 {
        let text = mutate(&mut rng, &seeds[i % seeds.len()]);
        let documents = text.matches("---").count() + 1;
        if let Err(errors) = ironbell_model::parse_documents(&text) {
            rejected += 1;
            assert!(!errors.0.is_empty());
            for e in &errors.0 {
                assert!(e.document >= 1 && e.document <= documents, "{e}");
                assert!(!e.to_string().is_empty());
            }
        }
    }
    assert!(
        rejected > 300,
        "mutations should often be rejected, got {rejected}"
    );
}

#[test]
fn yaml_bombs_are_rejected_not_expanded() {
    // A billion-laughs alias bomb must not blow up memory or time.
    let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
                g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n\
                kind: Hardware\napiVersion: tinkerbell.org/v1alpha1\n";
    let started = std::time::Instant::now();
    assert!(ironbell_model::parse_documents(bomb).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
