//! Golden equality with EKS Anywhere v0.24.6, as data.
//!
//! Every mapping of `../shared/conformance/golden-mappings.txt` is listed, per provider. The
//! ones this crate renders (each provider's table is in `golden/<provider>.rs`) are
//! rendered with the fixed inputs of EKS Anywhere's tests (clock 1234567890000, Tinkerbell
//! IP 5.6.7.8, registry credentials `username`/`password`, vCenter credentials
//! `vsphere_username`/`vsphere_password`, the test bundles of `internal/test/testdata`) and
//! compared with the expected files document by document, embedded YAML parsed. The others
//! are listed as not rendered yet.
//!
//! The test prints `<provider>: N/M equal` per provider (and, with `--nocapture`, the first
//! differences of each mapping that is not equal), and fails when a mapping the baseline
//! (`tests/golden/baseline.txt`) records as equal is no longer equal. `IRONBELL_GOLDEN_BLESS=1`
//! rewrites the baseline.

#[path = "golden/cloudstack.rs"]
mod cloudstack_cases;
#[path = "golden/compare.rs"]
mod compare;
#[path = "golden/docker.rs"]
mod docker_cases;
#[path = "golden/fixtures.rs"]
mod fixtures;
#[path = "golden/mappings.rs"]
mod mappings;
#[path = "golden/nutanix.rs"]
mod nutanix_cases;
#[path = "golden/snow.rs"]
mod snow_cases;
#[path = "golden/tinkerbell.rs"]
mod tinkerbell_cases;
#[path = "golden/vsphere.rs"]
mod vsphere_cases;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// How many differences are printed per mapping.
const SHOWN_DIFFS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    Equal,
    Differs(Vec<String>),
    Error(String),
    NotRendered,
}

impl Status {
    fn word(&self) -> &'static str {
        match self {
            Self::Equal => "equal",
            Self::Differs(_) => "differs",
            Self::Error(_) => "error",
            Self::NotRendered => "not-rendered",
        }
    }
}

/// Compare a rendered document with a provider's expected file: the differences, each
/// prefixed with the file.
fn compare_file(provider: &str, file: &str, got: &str) -> Result<Vec<String>, String> {
    let path = fixtures::provider_dir(provider).join("testdata").join(file);
    let expected =
        compare::parse_documents(&fixtures::read(&path)?).map_err(|e| format!("{file}: {e}"))?;
    let got = compare::parse_documents(got).map_err(|e| format!("rendered for {file}: {e}"))?;
    Ok(compare::diff_documents(&expected, &got)
        .into_iter()
        .map(|d| format!("{file}: {d}"))
        .collect())
}

/// One rendered case: the expected control-plane and workers files (when the test checks
/// them) and what was rendered for each.
type Rendered = (Option<&'static str>, String, Option<&'static str>, String);

/// A mapping's status from its cases, each rendered by `render`, compared with the
/// provider's expected files.
fn run_cases<C>(
    provider: &str,
    cases: &[C],
    render: impl Fn(&C) -> Result<Rendered, String>,
) -> Status {
    let mut diffs = Vec::new();
    for case in cases {
        let result = render(case).and_then(|(expected_cp, cp, expected_md, md)| {
            let mut d = Vec::new();
            if let Some(f) = expected_cp {
                d.extend(compare_file(provider, f, &cp)?);
            }
            if let Some(f) = expected_md {
                d.extend(compare_file(provider, f, &md)?);
            }
            Ok(d)
        });
        match result {
            Ok(d) => diffs.extend(d),
            Err(e) => return Status::Error(e),
        }
    }
    if diffs.is_empty() {
        Status::Equal
    } else {
        Status::Differs(diffs)
    }
}

fn run_tinkerbell(m: &tinkerbell_cases::Mapping) -> Status {
    run_cases("tinkerbell", &m.cases, |case| {
        let mut spec = fixtures::load_tinkerbell_spec(case.input)?;
        (case.mutate)(&mut spec);
        let bundles = fixtures::resolve_test_bundles(&spec)?;
        let (cp, md) = tinkerbell_cases::render(&spec, case.mode, &bundles)?;
        Ok((case.expected_cp, cp, case.expected_md, md))
    })
}

fn run_vsphere(m: &vsphere_cases::Mapping) -> Status {
    run_cases("vsphere", &m.cases, |case| {
        let spec = fixtures::load_vsphere_spec(case.input)?;
        let bundles = fixtures::resolve_cluster_bundles(&spec.cluster)?;
        let (cp, md) = vsphere_cases::render(&spec, case.mutate, case.mode, &bundles)?;
        Ok((case.expected_cp, cp, case.expected_md, md))
    })
}

fn run_nutanix(m: &nutanix_cases::Mapping) -> Status {
    run_cases("nutanix", &m.cases, |case| {
        let spec = nutanix_cases::load(case)?;
        let bundles = fixtures::resolve_cluster_bundles(&spec.cluster)?;
        let (cp, md) = nutanix_cases::render(&spec, case, &bundles)?;
        Ok((case.expected_cp, cp, case.expected_md, md))
    })
}

fn run_snow(m: &snow_cases::Mapping) -> Status {
    run_cases("snow", std::slice::from_ref(&m.case), |case| {
        let (cp, md) = snow_cases::render(case)?;
        Ok((Some(case.expected_cp), cp, Some(case.expected_md), md))
    })
}

/// Expected files as `golden-mappings.txt` names them (`testdata/<file>`).
fn testdata_files<'a>(files: impl IntoIterator<Item = Option<&'a str>>) -> Vec<String> {
    files
        .into_iter()
        .flatten()
        .map(|f| format!("testdata/{f}"))
        .collect()
}

/// A provider's table covers exactly its mappings of the file, and each mapping compares
/// every expected file the file lists for it.
fn check_table(listed: &[mappings::Listed], provider: &str, table: Vec<(&str, Vec<String>)>) {
    let listed: Vec<&mappings::Listed> = listed.iter().filter(|l| l.provider == provider).collect();
    for l in &listed {
        let compared = table.iter().find(|(t, _)| *t == l.test).map(|(_, f)| f);
        let compared = compared.unwrap_or_else(|| {
            panic!(
                "{}: in golden-mappings.txt but not in the {provider} table",
                l.test
            )
        });
        for f in &l.outputs {
            assert!(
                compared.contains(f),
                "{}: expected file {f} is not compared",
                l.test
            );
        }
    }
    for (t, _) in &table {
        assert!(
            listed.iter().any(|l| l.test == *t),
            "{t} is in the {provider} table but not in golden-mappings.txt"
        );
    }
}

fn baseline_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/baseline.txt"
    ))
}

/// `provider test` → status word.
fn read_baseline() -> BTreeMap<(String, String), String> {
    let text = std::fs::read_to_string(baseline_path()).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let status = parts.next()?.to_string();
            let provider = parts.next()?.to_string();
            let test = parts.next()?.to_string();
            Some(((provider, test), status))
        })
        .collect()
}

#[test]
fn golden_mappings_equal_as_data() {
    let listed = mappings::read_all();
    assert!(!listed.is_empty(), "golden-mappings.txt lists no mapping");
    let table = tinkerbell_cases::mappings();

    // The table covers exactly the Tinkerbell CAPI mappings of the file.
    let listed_tink: Vec<&str> = listed
        .iter()
        .filter(|l| l.provider == "tinkerbell")
        .map(|l| l.test.as_str())
        .collect();
    let table_names: Vec<&str> = table.iter().map(|m| m.test).collect();
    for t in &listed_tink {
        assert!(
            table_names.contains(t),
            "{t} is in golden-mappings.txt but not in the Tinkerbell table"
        );
    }
    for t in &table_names {
        assert!(
            listed_tink.contains(t),
            "{t} is in the Tinkerbell table but not in golden-mappings.txt"
        );
    }
    for m in &table {
        let l = listed.iter().find(|l| l.test == m.test).map(|l| &l.outputs);
        let files = testdata_files(m.cases.iter().flat_map(|c| [c.expected_cp, c.expected_md]));
        for f in l.into_iter().flatten() {
            assert!(
                files.contains(f),
                "{}: expected file {f} of golden-mappings.txt is not compared",
                m.test
            );
        }
    }

    let cloudstack_table = cloudstack_cases::mappings();
    check_table(
        &listed,
        "cloudstack",
        cloudstack_table
            .iter()
            .map(|m| (m.test, cloudstack_cases::compared_files(m)))
            .collect(),
    );
    let vsphere_table = vsphere_cases::mappings();
    let vsphere_files: Vec<(&str, Vec<String>)> = vsphere_table
        .iter()
        .map(|m| {
            let files = m.cases.iter().flat_map(|c| [c.expected_cp, c.expected_md]);
            (m.test, testdata_files(files))
        })
        .collect();
    check_table(&listed, "vsphere", vsphere_files);
    let nutanix_table = nutanix_cases::mappings();
    let nutanix_files: Vec<(&str, Vec<String>)> = nutanix_table
        .iter()
        .map(|m| {
            let files = m.cases.iter().flat_map(|c| [c.expected_cp, c.expected_md]);
            (m.test, testdata_files(files))
        })
        .collect();
    check_table(&listed, "nutanix", nutanix_files);
    let snow_table = snow_cases::mappings();
    let snow_files: Vec<(&str, Vec<String>)> = snow_table
        .iter()
        .map(|m| {
            let files = [Some(m.case.expected_cp), Some(m.case.expected_md)];
            (m.test, testdata_files(files))
        })
        .collect();
    check_table(&listed, "snow", snow_files);

    let mut results: Vec<(String, String, Status)> = Vec::new();
    let mut notes: BTreeMap<String, &str> = BTreeMap::new();
    for l in &listed {
        let cloudstack = cloudstack_table
            .iter()
            .find(|m| l.provider == "cloudstack" && m.test == l.test);
        let vsphere = vsphere_table
            .iter()
            .find(|m| l.provider == "vsphere" && m.test == l.test);
        let nutanix = nutanix_table
            .iter()
            .find(|m| l.provider == "nutanix" && m.test == l.test);
        let snow = snow_table
            .iter()
            .find(|m| l.provider == "snow" && m.test == l.test);
        let status = match table
            .iter()
            .find(|m| l.provider == "tinkerbell" && m.test == l.test)
        {
            Some(m) => {
                if let Some(note) = m.note {
                    notes.insert(l.test.clone(), note);
                }
                run_tinkerbell(m)
            }
            None if l.provider == "docker" => {
                if let Some(note) = docker_cases::note(&l.test) {
                    notes.insert(l.test.clone(), note);
                }
                docker_cases::run(&l.test)
            }
            None => match cloudstack {
                Some(m) => {
                    if let Some(note) = m.note {
                        notes.insert(l.test.clone(), note);
                    }
                    match cloudstack_cases::run(m) {
                        Ok(d) if d.is_empty() => Status::Equal,
                        Ok(d) => Status::Differs(d),
                        Err(e) => Status::Error(e),
                    }
                }
                None => match (vsphere, nutanix, snow) {
                    (Some(m), _, _) => {
                        if let Some(note) = m.note {
                            notes.insert(l.test.clone(), note);
                        }
                        run_vsphere(m)
                    }
                    (_, Some(m), _) => run_nutanix(m),
                    (_, _, Some(m)) => run_snow(m),
                    _ => Status::NotRendered,
                },
            },
        };
        results.push((l.provider.clone(), l.test.clone(), status));
    }

    let mut per_provider: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (p, _, s) in &results {
        let e = per_provider.entry(p.as_str()).or_default();
        e.1 += 1;
        if *s == Status::Equal {
            e.0 += 1;
        }
    }
    let order = [
        "tinkerbell",
        "tinkerbell/stack",
        "docker",
        "vsphere",
        "cloudstack",
        "nutanix",
        "snow",
    ];
    for p in order
        .iter()
        .chain(per_provider.keys().filter(|k| !order.contains(k)))
    {
        if let Some((eq, total)) = per_provider.get(p) {
            println!("{p}: {eq}/{total} equal");
        }
    }
    for (p, t, s) in &results {
        match s {
            Status::Differs(d) => {
                println!("\n{p} {t}: differs ({} differences)", d.len());
                if let Some(note) = notes.get(t) {
                    println!("    why: {note}");
                }
                for line in d.iter().take(SHOWN_DIFFS) {
                    println!("    {line}");
                }
            }
            Status::Error(e) => println!("\n{p} {t}: error: {e}"),
            _ => {}
        }
    }

    let baseline = read_baseline();
    if std::env::var_os("IRONBELL_GOLDEN_BLESS").is_some() {
        let mut text = String::from(
            "# Golden mapping status per provider test (tests/golden.rs); rewrite with IRONBELL_GOLDEN_BLESS=1.\n# status provider test\n",
        );
        for (p, t, s) in &results {
            text += &format!("{} {p} {t}\n", s.word());
        }
        std::fs::write(baseline_path(), text)
            .unwrap_or_else(|e| panic!("writing the baseline: {e}"));
        return;
    }
    let regressions: Vec<String> = results
        .iter()
        .filter(|(p, t, s)| {
            baseline.get(&(p.clone(), t.clone())).map(String::as_str) == Some("equal")
                && *s != Status::Equal
        })
        .map(|(p, t, s)| format!("{p} {t}: {}", s.word()))
        .collect();
    let improved = results
        .iter()
        .filter(|(p, t, s)| {
            *s == Status::Equal
                && baseline.get(&(p.clone(), t.clone())).map(String::as_str) != Some("equal")
        })
        .count();
    if improved > 0 {
        println!("\n{improved} mapping(s) newly equal; record them with IRONBELL_GOLDEN_BLESS=1");
    }
    assert!(
        regressions.is_empty(),
        "golden regressions against the baseline:\n{}",
        regressions.join("\n")
    );
}

/// `TestTinkerbellTemplateBuilderGenerateCAPISpecControlPlaneWithAdmissionExclusionEnabled`
/// (not in the mappings file: it compares a subset, `admission_exclusion_enabled.yaml`).
#[test]
fn admission_exclusion_is_a_subset_of_the_control_plane() {
    let mut spec = fixtures::load_tinkerbell_spec("cluster_tinkerbell_stacked_etcd.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    let bundles = fixtures::resolve_test_bundles(&spec).unwrap_or_else(|e| panic!("{e}"));
    if let Some(cp) = spec.cluster.spec.control_plane_configuration.as_mut() {
        cp.skip_admission_for_system_resources = Some(true);
    }
    let (cp, _) =
        tinkerbell_cases::render(&spec, tinkerbell_cases::Mode::BuilderControlPlane, &bundles)
            .unwrap_or_else(|e| panic!("{e}"));
    assert_subset("tinkerbell", "admission_exclusion_enabled.yaml", &cp);
}

/// Every document of a provider's expected file is a subset of a rendered document
/// (EKS Anywhere's `AssertYAMLSubset`).
fn assert_subset(provider: &str, file: &str, rendered: &str) {
    let got = compare::parse_documents(rendered).unwrap_or_else(|e| panic!("{e}"));
    let path = fixtures::provider_dir(provider).join("testdata").join(file);
    let expected =
        compare::parse_documents(&fixtures::read(&path).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    for doc in &expected {
        assert!(
            got.iter().any(|g| compare::is_subset(doc, g)),
            "{file}: a document is not part of the rendered control plane:\n{}",
            serde_yaml_ng::to_string(doc).unwrap_or_default()
        );
    }
}

/// vSphere's `TestVsphereTemplateBuilderGenerateCAPISpecControlPlaneWithAdmissionExclusionEnabled`
/// and its Bottlerocket variant (subset compares, not in the mappings file).
#[test]
fn vsphere_admission_exclusion_is_a_subset_of_the_control_plane() {
    for (input, expected) in [
        ("cluster_main.yaml", "admission_exclusion_enabled.yaml"),
        (
            "cluster_main_br.yaml",
            "admission_exclusion_enabled_br.yaml",
        ),
    ] {
        let spec = fixtures::load_vsphere_spec(input).unwrap_or_else(|e| panic!("{e}"));
        let bundles =
            fixtures::resolve_cluster_bundles(&spec.cluster).unwrap_or_else(|e| panic!("{e}"));
        let mode = vsphere_cases::Mode::BuilderControlPlane {
            initial_name: true,
            credentials: false,
        };
        let (cp, _) = vsphere_cases::render(&spec, vsphere_cases::skip_admission, mode, &bundles)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_subset("vsphere", expected, &cp);
    }
}

/// The comparison itself: embedded YAML is compared parsed, scalars keep their type, and a
/// difference names its document and field.
#[test]
fn comparison_parses_embedded_yaml_and_names_the_field() {
    let expected = "kind: A\nmetadata: {name: a}\nspec:\n  text: |\n    b: 1\n    a: [x, y]\n  n: \"30\"\n---\n";
    let same =
        "kind: A\nmetadata: {name: a}\nspec:\n  n: '30'\n  text: \"a:\\n- x\\n- y\\nb: 1\\n\"\n";
    let e = compare::parse_documents(expected).unwrap_or_else(|e| panic!("{e}"));
    let s = compare::parse_documents(same).unwrap_or_else(|e| panic!("{e}"));
    assert!(compare::diff_documents(&e, &s).is_empty());

    let other =
        "kind: A\nmetadata: {name: a}\nspec:\n  n: 30\n  text: |\n    b: 2\n    a: [x, y]\n";
    let o = compare::parse_documents(other).unwrap_or_else(|e| panic!("{e}"));
    let diffs: Vec<String> = compare::diff_documents(&e, &o)
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        diffs,
        [
            "doc 0 (A a) .spec.text.b: expected 1, got 2",
            "doc 0 (A a) .spec.n: expected '30', got 30",
        ]
    );
    let two = compare::parse_documents(&format!("{expected}---\n{other}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let diffs = compare::diff_documents(&e, &two);
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0].document, "doc 1 (A a)");
    assert_eq!(diffs[0].expected, "(absent)");
}

/// A string holding a stream of YAML documents is compared document by document, and a
/// difference inside it names the document's index in the stream.
#[test]
fn comparison_parses_embedded_yaml_streams() {
    let expected = "kind: A\nmetadata: {name: a}\ndata:\n  data: |\n    ---\n    kind: B\n    x: 1\n    ---\n    kind: C\n    y: [1, 2]\n";
    let same = "kind: A\nmetadata: {name: a}\ndata:\n  data: \"---\\nkind: B\\nx: 1\\n---\\ny:\\n- 1\\n- 2\\nkind: C\\n\"\n";
    let other = "kind: A\nmetadata: {name: a}\ndata:\n  data: \"---\\nkind: B\\nx: 2\\n---\\nkind: C\\ny: [1, 2]\\n\"\n";
    let parse = |t: &str| compare::parse_documents(t).unwrap_or_else(|e| panic!("{e}"));
    assert!(compare::diff_documents(&parse(expected), &parse(same)).is_empty());
    let diffs: Vec<String> = compare::diff_documents(&parse(expected), &parse(other))
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(diffs, ["doc 0 (A a) .data.data[0].x: expected 1, got 2"]);
}
