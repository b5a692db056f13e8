//! The store's typed read (`DynamicObject::to_typed`: the object's JSON text read as its
//! kind) against the same read through `serde_path_to_error`, which it used before
//! (crates/model/src/error_path.rs says why it no longer does), side by side in one run,
//! for a Hardware as `hardware import` writes it and a Workflow with its status.
//!
//! `cargo bench -p ironbell-model --bench to_typed` prints nanoseconds per read for both
//! and their ratio (best of 5 rounds each, interleaved).

use std::hint::black_box;
use std::time::{Duration, Instant};

use ironbell_model::tinkerbell::{Hardware, Workflow};
use ironbell_model::{DynamicObject, Resource};
use serde::de::DeserializeOwned;

const HARDWARE: &str = r##"{"apiVersion":"tinkerbell.org/v1alpha1","kind":"Hardware",
"metadata":{"name":"node-00042","namespace":"eksa-system","labels":{"type":"cp",
"v1alpha1.tinkerbell.org/ownerName":"mgmt-control-plane"},"resourceVersion":"4711",
"uid":"6f1c2d3e-0000-4000-8000-000000000042","creationTimestamp":"2026-12-06T10:00:00Z"},
"spec":{"bmcRef":{"apiGroup":"bmc.tinkerbell.org","kind":"Machine","name":"bmc-node-00042"},
"disks":[{"device":"/dev/sda"}],"interfaces":[{"dhcp":{"arch":"x86_64","hostname":"node-00042",
"ip":{"address":"10.10.0.42","gateway":"10.10.0.1","netmask":"255.255.0.0"},
"lease_time":4294967294,"mac":"02:00:00:00:00:2a","name_servers":["10.10.0.53","1.1.1.1"],
"uefi":true},"netboot":{"allowPXE":true,"allowWorkflow":true}}],
"metadata":{"facility":{"facility_code":"onprem","plan_slug":"c2.medium.x86"},
"instance":{"hostname":"node-00042","id":"02:00:00:00:00:2a","operating_system":
{"distro":"ubuntu","os_slug":"ubuntu_20_04","version":"20.04"}}},
"userData":"#cloud-config\n"}}"##;

const WORKFLOW: &str = r#"{"apiVersion":"tinkerbell.org/v1alpha1","kind":"Workflow",
"metadata":{"name":"mgmt-node-00042","namespace":"eksa-system","resourceVersion":"5012",
"uid":"6f1c2d3e-0000-4000-8000-000000000043"},"spec":{"templateRef":"mgmt-tmpl",
"hardwareRef":"node-00042","hardwareMap":{"device_1":"02:00:00:00:00:2a"},
"bootOptions":{"toggleAllowNetboot":true,"bootMode":"netboot"}},"status":{"state":"STATE_RUNNING",
"globalTimeout":6000,"tasks":[{"id":"t-1","name":"os-installation","agentID":"02:00:00:00:00:2a",
"actions":[{"id":"a-1","name":"stream-image","image":"public.ecr.aws/eks-anywhere/image2disk:v0.0.0",
"timeout":600,"environment":{"DEST_DISK":"/dev/sda","IMG_URL":"http://10.10.0.1:8080/os.raw.gz",
"COMPRESSED":"true"},"state":"STATE_SUCCESS","executionStart":"2026-12-06T10:01:00Z",
"executionStop":"2026-12-06T10:02:33Z","executionDuration":"93s"},
{"id":"a-2","name":"write-netplan","image":"public.ecr.aws/eks-anywhere/writefile:v0.0.0",
"timeout":90,"environment":{"DEST_DISK":"/dev/sda2","DEST_PATH":"/etc/netplan/config.yaml",
"MODE":"0644","UID":"0","GID":"0","DIRMODE":"0755","FS_TYPE":"ext4"},"state":"STATE_RUNNING",
"executionStart":"2026-12-06T10:02:34Z"},{"id":"a-3","name":"reboot",
"image":"public.ecr.aws/eks-anywhere/reboot:v0.0.0","timeout":90,"pid":"host",
"volumes":["/worker:/worker"],"state":"STATE_PENDING"}]}]}}"#;

/// Reads `obj` as `K` `n` times through `read`; the time per read.
fn time<K>(obj: &DynamicObject, n: u32, read: impl Fn(&DynamicObject) -> K) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        black_box(read(black_box(obj)));
    }
    start.elapsed() / n
}

fn compare<K: Resource + DeserializeOwned>(name: &str, text: &str) {
    let obj = DynamicObject::from_json(text).expect("the sample parses");
    obj.to_typed::<K>().expect("the sample reads as its kind");
    let n = 20_000;
    let (mut new, mut old) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        new = new.min(time(&obj, n, |o| o.to_typed::<K>().expect("reads")));
        old = old.min(time(&obj, n, |o| {
            let text = o.to_json().expect("json");
            let mut de = serde_json::Deserializer::from_str(&text);
            serde_path_to_error::deserialize::<_, K>(&mut de).expect("reads")
        }));
    }
    println!(
        "{name}: to_typed {} ns, through serde_path_to_error {} ns: {:.2}x",
        new.as_nanos(),
        old.as_nanos(),
        old.as_secs_f64() / new.as_secs_f64()
    );
}

fn main() {
    compare::<Hardware>("Hardware", HARDWARE);
    compare::<Workflow>("Workflow", WORKFLOW);
}
