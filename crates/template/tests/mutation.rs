//! Robustness: thousands of randomly mutated templates (fixed seed) never panic and always
//! finish quickly, whatever they render to.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ironbell_model::Object;
use ironbell_template::gotemplate::{Template, Value};
use ironbell_template::{render_and_validate, template_data};
use ironbell_testbed::Rng;

const SEEDS: &[&str] = &[
    include_str!("fixtures/format_partition.tmpl"),
    include_str!("expected/ubuntu_awsiam.yaml"),
    "{{range $i, $v := .Hardware.Interfaces}}{{$i}}={{$v.DHCP.MAC}}{{else}}none{{end}}",
    "{{define \"T\"}}<{{.}}>{{end}}{{block \"B\" .device_1}}[{{template \"T\" .}}]{{end}}",
    "{{with $x := .Hardware.Disks}}{{index $x 0 | formatPartition 1}}{{else with .device_1}}{{.}}{{end}}",
    "{{- /* c */ -}} {{ printf \"%-5s|%05d|%q\" .device_1 42 (list 1 2) }} {{ toJson (dict \"a\" .Hardware.Disks) }}",
    "{{ $d := dict \"k\" 1 }}{{ $_ := set $d \"j\" (list $d $d) }}{{ toYaml $d | nindent 4 }}",
    "{{ if and (eq 1 1) (or .device_1 (fail \"x\")) }}{{ range 5 }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}{{ end }}",
    "{{ regexReplaceAll \"(a+)\" (repeat 10 \"ab\") \"${1}x\" }} {{ splitList \",\" \"a,b,c\" | join \"-\" | upper }}",
];

const FRAGMENTS: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    " -}}",
    "{{/*",
    "*/}}",
    "(",
    ")",
    "|",
    "$",
    "$x",
    "$x :=",
    " = ",
    ":=",
    ",",
    ".",
    ".Hardware",
    ".device_1",
    ".nope",
    " range ",
    " end ",
    " else ",
    " if ",
    " with ",
    " break ",
    " continue ",
    "{{end}}",
    "{{else}}",
    "{{define \"a\"}}",
    "{{template \"a\" .}}",
    "{{block \"b\" .}}",
    "\"",
    "`",
    "'",
    "'\\",
    "\\",
    "nil",
    "true",
    "0x",
    "1e9",
    "-",
    "+",
    " printf \"%*.*d\" ",
    " repeat 99999 ",
    " list $ $ ",
    " dict ",
    " index ",
    " len ",
    "{{range 1000}}",
    "{{range $i := until 1000}}",
    " toJson ",
    " fromYaml ",
    " slice ",
    "\n",
    " ",
    "é",
    "\u{0}",
    "{{template \"a\" .}}{{define \"a\"}}{{template \"a\" .}}{{end}}",
];

fn hardware() -> ironbell_model::tinkerbell::Hardware {
    let csv = "hostname,mac,ip_address,netmask,gateway,nameservers,labels,disk\nworker1,00:00:00:00:00:01,10.10.10.10,255.255.255.0,10.10.10.1,1.1.1.1,type=cp,/dev/sda\n";
    let rows = ironbell_inventory::parse(csv).expect("csv parses");
    ironbell_inventory::to_objects(&rows, "eksa-system")
        .into_iter()
        .find_map(|o| match o {
            Object::Hardware(h) => Some(h),
            _ => None,
        })
        .expect("a hardware")
}

fn char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut s = text.to_string();
    for _ in 0..1 + rng.below(4) {
        let at = char_boundary(&s, rng.below(s.len() + 1));
        match rng.below(5) {
            0 => {
                let end = char_boundary(&s, at + rng.below(12));
                s.replace_range(at..end, "");
            }
            1 | 2 => s.insert_str(at, FRAGMENTS[rng.below(FRAGMENTS.len())]),
            3 => {
                let end = char_boundary(&s, at + rng.below(40));
                let piece = s[at..end].to_string();
                s.insert_str(at, &piece);
            }
            _ => {
                let c = char::from_u32(32 + rng.below(95) as u32).unwrap_or('x');
                s.insert(at, c);
            }
        }
    }
    s
}

#[test]
fn mutated_templates_never_panic_and_finish_quickly() {
    let hw = hardware();
    let map = BTreeMap::from([("device_1".to_string(), "00:00:00:00:00:01".to_string())]);
    let data = template_data(&map, Some(&hw));
    let mut rng = Rng::new(0x7e3b_1a2c);
    let (mut parsed, mut rendered) = (0, 0);
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..4000 {
        let seed = SEEDS[rng.below(SEEDS.len())];
        let text = mutate(&mut rng, seed);
        let t0 = Instant::now();
        if let Ok(t) = Template::parse("m", &text) {
            parsed += 1;
            if t.execute(&data).is_ok() {
                rendered += 1;
            }
            let _ = t.execute(&Value::Nil);
        }
        let _ = render_and_validate(&text, &map, Some(&hw));
        let took = t0.elapsed();
        slowest = slowest.max(took);
        assert!(
            took < Duration::from_secs(5),
            "mutation {i} took {took:?}: {text:?}"
        );
    }
    // The corpus exercises both paths.
    assert!(parsed > 500, "only {parsed} mutants parsed");
    assert!(rendered > 200, "only {rendered} mutants rendered");
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "took {:?} (slowest {slowest:?})",
        start.elapsed()
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(42);
    for _ in 0..3000 {
        let len = rng.below(64);
        let bytes: Vec<u8> = rng
            .bytes(len)
            .into_iter()
            .map(|b| b"{}-/*$.|()\"'` abcdefgi0123:=,\n"[b as usize % 30])
            .collect();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if let Ok(t) = Template::parse("r", &text) {
            let _ = t.execute(&Value::Nil);
        }
    }
}
