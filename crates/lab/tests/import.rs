//! The lab's import, in process through the operations layer: the files `lab up` writes
//! (hardware.csv, template.yaml, workflows.yaml) become Hardware, BMC Machines, Secrets, the
//! Template and a Workflow per machine in the lab's namespace, and doing it again (a lab
//! resumed after a crash between import and apply) changes nothing.

#![allow(clippy::unwrap_used)]

use ironbell_lab::plan::{self, NAMESPACE};
use ironbell_model::bmc::Machine;
use ironbell_model::corev1::Secret;
use ironbell_model::tinkerbell::{Hardware, Template, Workflow};
use ironbell_ops::spec::{Access, StoreSpec};
use ironbell_store::{ListParams, api};

#[tokio::test]
async fn lab_inputs_are_imported_and_applied_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let machines = plan::layout(&plan::default_machines(), 1);
    ironbell_lab::write_inputs(dir.path(), &machines, "pw-lab", ironbell_lab::LAB_TEMPLATE)
        .unwrap();
    ironbell_lab::import_and_apply(dir.path()).await.unwrap();
    ironbell_lab::import_and_apply(dir.path()).await.unwrap();

    let spec = StoreSpec::Sqlite(dir.path().join("ironbell.db"));
    let handle = ironbell_ops::spec::open(&spec, Access::Existing).unwrap();
    let store = handle.store();
    let lab = ListParams::namespace(NAMESPACE);
    let names = |items: Vec<String>| {
        let mut items = items;
        items.sort();
        items
    };
    let (hardware, _) = api::<Hardware>(store).list(&lab).await.unwrap();
    let expected: Vec<String> = names(
        machines
            .iter()
            .filter(|m| !m.is_stranger())
            .map(|m| m.name.clone())
            .collect(),
    );
    let got = |objs: Vec<Option<String>>| names(objs.into_iter().flatten().collect());
    assert_eq!(
        got(hardware.iter().map(|h| h.metadata.name.clone()).collect()),
        expected
    );
    let (workflows, _) = api::<Workflow>(store).list(&lab).await.unwrap();
    assert_eq!(
        got(workflows.iter().map(|w| w.metadata.name.clone()).collect()),
        expected
    );
    let (templates, _) = api::<Template>(store).list(&lab).await.unwrap();
    assert_eq!(templates.len(), 1);
    let (bmcs, _) = api::<Machine>(store).list(&lab).await.unwrap();
    let (secrets, _) = api::<Secret>(store).list(&lab).await.unwrap();
    assert_eq!(
        (bmcs.len(), secrets.len()),
        (expected.len(), expected.len())
    );
    // Every Workflow points the machine at the lab's own services.
    let yaml = std::fs::read_to_string(dir.path().join("workflows.yaml")).unwrap();
    assert!(yaml.contains(&format!("{}/lab-os.raw.zst", plan::network().http_base())));
}
