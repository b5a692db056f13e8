//! Names, namespaces and labels are checked when documents are parsed, with an error that
//! names the document and quotes the bad value escaped.

use ironbell_model::{KindRegistry, parse_documents};

fn hardware(name: &str, namespace: &str, labels: &str) -> String {
    format!(
        "apiVersion: tinkerbell.org/v1alpha1\nkind: Hardware\nmetadata:\n  name: {name}\n  namespace: {namespace}\n{labels}spec: {{}}\n"
    )
}

fn only_error(text: &str) -> String {
    let errors = parse_documents(text).expect_err("must be refused").0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let same = KindRegistry::builtin()
        .parse_documents(text)
        .expect_err("the registry refuses it too")
        .0;
    assert_eq!(same, errors);
    errors[0].to_string()
}

#[test]
fn bad_names_are_refused_naming_document_and_field() {
    for (name, quoted) in [
        (
            r#""wk01\nchain http://198.51.100.1/evil""#,
            r#""wk01\nchain http://198.51.100.1/evil""#,
        ),
        (r#""red\e[31m""#, r#""red\u{1b}[31m""#),
        ("Wk01", r#""Wk01""#),
        (&"a".repeat(254), "254 characters"),
    ] {
        let text = format!(
            "{}---\n{}",
            hardware("ok", "default", ""),
            hardware(name, "default", "")
        );
        let e = only_error(&text);
        assert!(e.starts_with("document 2 (Hardware "), "{e}");
        assert!(e.contains("field `metadata.name`"), "{e}");
        assert!(e.contains(quoted), "{e}");
        assert!(!e.contains('\n') && !e.contains('\u{1b}'), "{e}");
    }
}

#[test]
fn bad_namespaces_and_labels_are_refused() {
    let e = only_error(&hardware("ok", "a.b", ""));
    assert!(e.contains("field `metadata.namespace`"), "{e}");
    let e = only_error(&hardware(
        "ok",
        "default",
        "  labels:\n    app: \"x\\ny\"\n",
    ));
    assert!(e.contains(r#"metadata.labels."app""#), "{e}");
    let e = only_error(&hardware(
        "ok",
        "default",
        "  labels:\n    \"bad key\": x\n",
    ));
    assert!(e.contains("bad key"), "{e}");
    assert!(
        parse_documents(&hardware(
            "ok",
            "default",
            "  labels:\n    example.com/role: worker\n"
        ))
        .is_ok()
    );
}

#[test]
fn unknown_kind_names_the_known_ones() {
    let text =
        "apiVersion: cluster.x-k8s.io/v1beta1\nkind: MachineDeployment\nmetadata:\n  name: md\n";
    let e = KindRegistry::builtin()
        .parse_documents(text)
        .expect_err("unknown")
        .to_string();
    assert!(e.contains("unknown kind \"MachineDeployment\""), "{e}");
    assert!(e.contains("known kinds: Hardware, Template"), "{e}");
}
