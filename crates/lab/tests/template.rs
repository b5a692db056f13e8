//! `templates/lab-os.yaml` (the template `ironbell lab` embeds) renders and validates with
//! ironbell's renderer for a Hardware imported from the lab's own hardware.csv, and its
//! actions get the values the installed OS relies on.

use std::collections::BTreeMap;

use ironbell_lab::plan;
use ironbell_model::Object;

#[test]
fn the_lab_template_renders_for_an_imported_machine() {
    let machines = plan::layout(&plan::default_machines(), 0);
    let csv = plan::hardware_csv(&machines, "secret");
    let inventory = ironbell_inventory::parse_inventory(&csv).expect("the lab's CSV is valid");
    let objects = ironbell_inventory::translate(&inventory.rows, plan::NAMESPACE);
    let hw = &objects.hardware[1];
    assert_eq!(hw.metadata.name.as_deref(), Some("node-2"));

    let docs = ironbell_model::parse_documents(ironbell_lab::LAB_TEMPLATE).expect("template YAML");
    let [Object::Template(template)] = docs.as_slice() else {
        panic!("one Template expected, got {docs:?}");
    };
    assert_eq!(template.metadata.name.as_deref(), Some(plan::TEMPLATE_NAME));
    let text = template.spec.data.as_deref().expect("spec.data");

    // The hardwareMap the lab's Workflow carries.
    let wf: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&plan::workflow_yaml(&machines[1])).expect("workflow YAML");
    let map: BTreeMap<String, String> =
        serde_yaml_ng::from_value(wf["spec"]["hardwareMap"].clone()).expect("hardwareMap");
    let def = ironbell_template::render_and_validate(text, &map, Some(hw)).expect("renders");

    let task = &def.tasks[0];
    assert_eq!(task.worker, "52:54:00:42:00:02");
    let names: Vec<&str> = task.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["stream-image", "write-metadata-url", "reboot"]);
    let env = |i: usize, k: &str| {
        task.actions[i]
            .environment
            .as_ref()
            .and_then(|e| e.get(k))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(env(0, "DEST_DISK"), "/dev/vda");
    assert_eq!(env(0, "IMG_URL"), "http://10.42.0.1:7171/lab-os.raw.zst");
    assert_eq!(env(0, "COMPRESSED"), "true");
    assert_eq!(env(1, "DEST_DISK"), "/dev/vda2");
    assert_eq!(env(1, "FS_TYPE"), "ext4");
    assert_eq!(env(1, "DEST_PATH"), "/etc/ironbell/metadata-url");
    assert_eq!(env(1, "CONTENTS"), "http://10.42.0.1:7172");
    assert!(task.actions[2].image.ends_with("/reboot:v1.0.0"));
}
