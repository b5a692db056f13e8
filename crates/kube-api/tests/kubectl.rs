//! The Kubernetes API against real clients: kubectl (the oldest and the newest found on
//! this machine, `kubectl.1.NN` beside `/usr/bin/kubectl`'s real path) and curl, over TLS
//! on loopback, on a SQLite store.
//!
//! Each kubectl runs against its own server and store: `api-resources`, `apply -f` of
//! Tinkerbell's `example.yaml`, `get` in every output format for Hardware, Template and
//! Workflow, `get -w` seeing a Workflow go through its states, `wait --for=jsonpath`, merge,
//! JSON and status patches, `delete`, CRDs and namespaces, and the refusals: no
//! credentials, the read-only role writing. curl checks the watch protocol itself:
//! bookmarks and the 410 `Expired` event once history is compacted.
//!
//! In CI (`CI` set) a machine without any kubectl fails the test; elsewhere it is skipped
//! with a message.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ironbell_kube_api::{ApiConfig, Role};
use ironbell_model::TypeKey;
use ironbell_store::SharedStore;
use tokio::io::AsyncBufReadExt as _;

use common::Api;

mod common;

const DEADLINE: Duration = Duration::from_secs(30);

/// The kubectl binaries to run: the oldest and the newest `kubectl.1.NN` found, else
/// `/usr/bin/kubectl` alone.
fn kubectls() -> Vec<PathBuf> {
    let main = Path::new("/usr/bin/kubectl");
    let dir = std::fs::canonicalize(main)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let mut versioned: Vec<(u32, PathBuf)> = dir
        .and_then(|d| std::fs::read_dir(d).ok())
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let minor = name.strip_prefix("kubectl.1.")?.parse().ok()?;
            Some((minor, e.path()))
        })
        .collect();
    versioned.sort();
    match (versioned.first(), versioned.last()) {
        (Some(old), Some(new)) if old.0 != new.0 => vec![old.1.clone(), new.1.clone()],
        (Some(one), _) => vec![one.1.clone()],
        _ if main.exists() => vec![main.to_path_buf()],
        _ => vec![],
    }
}

/// One kubectl binary with one kubeconfig, its caches in the test's directory.
struct Kubectl {
    bin: PathBuf,
    config: PathBuf,
    home: PathBuf,
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.bin);
        cmd.args(args)
            .arg("--cache-dir")
            .arg(self.home.join("cache"))
            .env("KUBECONFIG", &self.config)
            .env("HOME", &self.home)
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str]) -> Out {
        let out = tokio::time::timeout(DEADLINE, self.command(args).output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish"))
            .expect("run kubectl");
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.ok,
            "{} {args:?} failed\nstdout:\n{}\nstderr:\n{}",
            self.bin.display(),
            out.stdout,
            out.stderr
        );
        out.stdout
    }

    async fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            !out.ok,
            "{} {args:?} should fail: {}",
            self.bin.display(),
            out.stdout
        );
        out.stderr
    }
}

fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// Tinkerbell's example Hardware, as a `List` (the file is a bare YAML sequence, which
/// kubectl does not read).
fn example_list() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/tinkerbell-9111b51/pkg/backend/file/testdata/example.yaml"
    );
    let items = std::fs::read_to_string(path).expect("Tinkerbell's example.yaml");
    let indented: String = items.lines().map(|l| format!("  {l}\n")).collect();
    format!("apiVersion: v1\nkind: List\nitems:\n{indented}")
}

const TEMPLATE: &str = "\
apiVersion: tinkerbell.org/v1alpha1
kind: Template
metadata: {name: ubuntu, namespace: default}
spec:
  data: |
    version: \"0.1\"
    name: ubuntu
    global_timeout: 1800
    tasks:
    - name: os-installation
      worker: \"{{.device_1}}\"
      actions:
      - name: stream-image
        image: quay.io/tinkerbell/actions/image2disk:latest
        timeout: 600
";

const WORKFLOW: &str = "\
apiVersion: tinkerbell.org/v1alpha1
kind: Workflow
metadata: {name: wf1, namespace: default}
spec:
  templateRef: ubuntu
  hardwareRef: sandbox
  hardwareMap: {device_1: \"52:54:00:aa:88:2a\"}
";

/// Sets the Workflow's state (and current action) through the store, as the workflow
/// service does.
async fn set_state(store: &SharedStore, state: &str, action: &str) {
    let types = TypeKey::new("tinkerbell.org/v1alpha1", "Workflow");
    let mut wf = store.get(&types, "default", "wf1").await.expect("wf1");
    wf.set_field(
        "status",
        &serde_json::json!({"state": state, "currentState": {"actionName": action, "agentID": "52:54:00:aa:88:2a"}}),
    )
    .expect("status");
    store.update_status(wf).await.expect("update status");
}

/// The kubectls to run ([`kubectls`]); none (the test skips) outside CI when there is none.
fn kubectls_or_skip() -> Vec<PathBuf> {
    let bins = kubectls();
    if bins.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no kubectl found on this CI machine"
        );
        eprintln!("skipped: no kubectl on this machine");
    }
    bins
}

/// `bin` as the admin of `api`, its home in the test's directory.
fn admin_kubectl(api: &Api, bin: &Path) -> Kubectl {
    let home = api.dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    Kubectl {
        bin: bin.to_path_buf(),
        config: api.kubeconfig("admin.yaml", Role::Admin, false),
        home,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_against_the_api() {
    for bin in kubectls_or_skip() {
        eprintln!("kubectl: {}", bin.display());
        one_kubectl(bin).await;
    }
}

async fn one_kubectl(bin: PathBuf) {
    let api = Api::start(ApiConfig::default()).await;
    let k = admin_kubectl(&api, &bin);
    let home = k.home.clone();

    // Discovery.
    let resources = k.ok(&["api-resources"]).await;
    let hw = resources
        .lines()
        .find(|l| l.starts_with("hardware "))
        .unwrap_or_else(|| panic!("{resources}"));
    assert!(
        hw.contains("hw") && hw.contains("tinkerbell.org/v1alpha1") && hw.contains("Hardware"),
        "{hw}"
    );
    assert!(
        resources.contains("workflows") && resources.contains("secrets"),
        "{resources}"
    );

    // apply -f Tinkerbell's example: four Hardware created, the bad one refused by name.
    let example = api.file("example.yaml", &example_list());
    let out = k.run(&["apply", "-f", &example]).await;
    assert!(!out.ok, "bad-data is invalid: {}", out.stdout);
    assert_eq!(
        out.stdout.matches(" created").count(),
        4,
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains("\"bad-data\" is invalid")
            && out.stderr.contains("spec.interfaces[0].dhcp.ip.address"),
        "{}",
        out.stderr
    );
    let again = k.run(&["apply", "-f", &example]).await;
    assert_eq!(
        again.stdout.matches(" unchanged").count(),
        4,
        "{}",
        again.stdout
    );

    // Server-side apply: creates, then changes (a merge of the applied fields).
    let ssa = api.file(
        "ssa.yaml",
        "apiVersion: tinkerbell.org/v1alpha1\nkind: Hardware\nmetadata: {name: ssa, namespace: other}\n\
         spec: {interfaces: [{dhcp: {mac: \"02:00:00:00:00:01\"}}]}\n",
    );
    let out = k.ok(&["apply", "--server-side", "-f", &ssa]).await;
    assert!(out.contains("serverside-applied"), "{out}");
    std::fs::write(
        &ssa,
        std::fs::read_to_string(&ssa)
            .expect("ssa")
            .replace(":01", ":02"),
    )
    .expect("write");
    k.ok(&["apply", "--server-side", "-f", &ssa]).await;
    let mac = k
        .ok(&[
            "get",
            "hw",
            "ssa",
            "-n",
            "other",
            "-o",
            "jsonpath={.spec.interfaces[0].dhcp.mac}",
        ])
        .await;
    assert_eq!(mac, "02:00:00:00:00:02");
    k.ok(&["delete", "-f", &ssa]).await;

    // explain, from Tinkerbell's CRD schemas.
    let explain = k.ok(&["explain", "hardware.spec.interfaces.dhcp"]).await;
    assert!(
        explain.contains("mac") && explain.contains("FIELDS"),
        "{explain}"
    );

    // get, every output format, Hardware.
    let table = rows(&k.ok(&["get", "hardware"]).await);
    assert_eq!(table[0], ["NAME", "STATE", "MAC", "IP", "BMC"]);
    assert_eq!(table.len(), 5);
    let sandbox = table
        .iter()
        .find(|r| r[0] == "sandbox")
        .expect("sandbox row");
    assert_eq!(
        sandbox[1..3],
        ["<none>".to_string(), "52:54:00:aa:88:2a".to_string()]
    );
    let wide = k.ok(&["get", "hw", "-o", "wide"]).await;
    assert!(
        wide.lines().next().expect("header").ends_with("LABELS"),
        "{wide}"
    );
    let all = rows(&k.ok(&["get", "hw", "-A"]).await);
    assert_eq!(all[0][..2], ["NAMESPACE".to_string(), "NAME".to_string()]);
    assert_eq!(all[1][0], "default");
    let names = k.ok(&["get", "hw", "-o", "name"]).await;
    assert!(
        names
            .lines()
            .any(|l| l == "hardware.tinkerbell.org/sandbox"),
        "{names}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "hw", "sandbox", "-o", "json"]).await).expect("json");
    assert_eq!(
        json["spec"]["interfaces"][0]["dhcp"]["ip"]["address"],
        "192.168.2.15"
    );
    let yaml = k.ok(&["get", "hw", "-o", "yaml"]).await;
    assert!(
        yaml.contains("kind: List") && yaml.contains("name: pxe-proxmox"),
        "{yaml}"
    );
    let path = k
        .ok(&["get", "hw", "-o", "jsonpath={.items[*].metadata.name}"])
        .await;
    assert_eq!(path, "dhcp-testing pxe-proxmox pxe-virtualbox sandbox");
    let custom = rows(
        &k.ok(&[
            "get",
            "hw",
            "-o",
            "custom-columns=N:.metadata.name,IP:.spec.interfaces[0].dhcp.ip.address",
        ])
        .await,
    );
    assert!(
        custom.contains(&vec!["sandbox".to_string(), "192.168.2.15".to_string()]),
        "{custom:?}"
    );
    let one = k
        .ok(&[
            "get",
            "hw",
            "--field-selector",
            "metadata.name=sandbox",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(one.trim(), "hardware.tinkerbell.org/sandbox");

    // Template and Workflow.
    k.ok(&["create", "-f", &api.file("template.yaml", TEMPLATE)])
        .await;
    k.ok(&["apply", "-f", &api.file("workflow.yaml", WORKFLOW)])
        .await;
    let t = rows(&k.ok(&["get", "templates"]).await);
    assert_eq!(t[0], ["NAME", "STATE", "AGE"]);
    assert_eq!(t[1][0], "ubuntu");
    let data = k
        .ok(&["get", "template", "ubuntu", "-o", "jsonpath={.spec.data}"])
        .await;
    assert!(data.contains("image2disk"), "{data}");
    assert!(
        k.ok(&["get", "templates", "-o", "yaml"])
            .await
            .contains("global_timeout")
    );
    assert_eq!(
        k.ok(&["get", "templates", "-o", "name"]).await.trim(),
        "template.tinkerbell.org/ubuntu"
    );

    // get -w sees the Workflow go through its states.
    let mut watch = k
        .command(&["get", "workflows", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("get -w");
    let mut lines = tokio::io::BufReader::new(watch.stdout.take().expect("stdout")).lines();
    let mut next = async || {
        tokio::time::timeout(DEADLINE, lines.next_line())
            .await
            .expect("a line from get -w")
            .expect("read")
            .expect("get -w ended")
    };
    let header: Vec<String> = next()
        .await
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(
        header,
        [
            "NAME", "TEMPLATE", "STATE", "ACTION", "AGENT", "HARDWARE", "AGE"
        ]
    );
    let first = next().await;
    assert!(
        first.starts_with("wf1") && first.contains("ubuntu"),
        "{first}"
    );
    for (state, action) in [
        ("PENDING", "none"),
        ("RUNNING", "stream-image"),
        ("SUCCESS", "stream-image"),
    ] {
        set_state(&api.store, state, action).await;
        loop {
            let line = next().await;
            if line.contains(state) {
                assert!(line.contains(action) && line.contains("sandbox"), "{line}");
                break;
            }
        }
    }
    watch.kill().await.expect("stop get -w");

    k.ok(&[
        "wait",
        "--for=jsonpath={.status.state}=SUCCESS",
        "workflow/wf1",
        "--timeout=20s",
    ])
    .await;
    // Every output format for each of Hardware, Template and Workflow, each naming its
    // object (JSON and YAML read back).
    for (kind, name) in [
        ("hardware", "sandbox"),
        ("templates", "ubuntu"),
        ("workflows", "wf1"),
    ] {
        for format in [
            "",
            "wide",
            "name",
            "json",
            "yaml",
            "jsonpath={.items[*].metadata.name}",
            "custom-columns=N:.metadata.name",
        ] {
            let mut args = vec!["get", kind];
            if !format.is_empty() {
                args.extend(["-o", format]);
            }
            let out = k.ok(&args).await;
            assert!(out.contains(name), "{args:?}: {out}");
            match format {
                "json" => {
                    let list: serde_json::Value = serde_json::from_str(&out).expect("JSON");
                    assert_eq!(list["kind"], "List", "{args:?}");
                }
                "yaml" => {
                    let list: serde_json::Value = serde_yaml_ng::from_str(&out).expect("YAML");
                    assert!(
                        list["items"].as_array().is_some_and(|i| !i.is_empty()),
                        "{args:?}"
                    );
                }
                _ => {}
            }
        }
    }
    let wf = rows(&k.ok(&["get", "wf", "-o", "wide"]).await);
    assert_eq!(
        wf[0][..4],
        [
            "NAME".to_string(),
            "TEMPLATE".into(),
            "STATE".into(),
            "TASK".into()
        ]
    );

    // Patches: merge, JSON, and the status subresource.
    k.ok(&[
        "patch",
        "hw",
        "sandbox",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"rack":"r1"}}}"#,
    ])
    .await;
    assert_eq!(
        k.ok(&["get", "hw", "-l", "rack=r1", "-o", "name"])
            .await
            .trim(),
        "hardware.tinkerbell.org/sandbox"
    );
    k.ok(&[
        "patch",
        "hw",
        "sandbox",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/interfaces/0/dhcp/hostname","value":"sandbox-2"}]"#,
    ])
    .await;
    let host = k
        .ok(&[
            "get",
            "hw",
            "sandbox",
            "-o",
            "jsonpath={.spec.interfaces[0].dhcp.hostname}",
        ])
        .await;
    assert_eq!(host, "sandbox-2");
    // kubectl edit, its editor a sed that changes the hostname in the file it is given.
    let edited = k
        .command(&["edit", "hw", "sandbox"])
        .env("KUBE_EDITOR", "sed -i s/sandbox-2/sandbox-3/")
        .output()
        .await
        .expect("kubectl edit");
    assert!(
        edited.status.success(),
        "{}",
        String::from_utf8_lossy(&edited.stderr)
    );
    let host = k
        .ok(&[
            "get",
            "hw",
            "sandbox",
            "-o",
            "jsonpath={.spec.interfaces[0].dhcp.hostname}",
        ])
        .await;
    assert_eq!(host, "sandbox-3");
    let err = k
        .fails(&[
            "patch",
            "hw",
            "sandbox",
            "--type=merge",
            "-p",
            r#"{"spec":{"interfaces":"no"}}"#,
        ])
        .await;
    assert!(err.contains("Invalid") || err.contains("invalid"), "{err}");
    k.ok(&[
        "patch",
        "wf",
        "wf1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"state":"FAILED"}}"#,
    ])
    .await;
    assert_eq!(
        k.ok(&["get", "wf", "wf1", "-o", "jsonpath={.status.state}"])
            .await,
        "FAILED"
    );

    // Events: created through the API, selected by the object they are about, and shown by
    // describe.
    // (kubectl describe selects them by the object's uid too.)
    let uid = k
        .ok(&["get", "hw", "sandbox", "-o", "jsonpath={.metadata.uid}"])
        .await;
    let event = api.file(
        "event.yaml",
        &format!(
            "apiVersion: v1\nkind: Event\nmetadata: {{name: sandbox.1, namespace: default}}\n\
             involvedObject: {{apiVersion: tinkerbell.org/v1alpha1, kind: Hardware, name: sandbox, \
             namespace: default, uid: {uid}}}\nreason: DHCPOffer\nmessage: offered 192.168.2.15\n\
             type: Normal\ncount: 1\nfirstTimestamp: \"2026-01-01T00:00:00Z\"\n\
             lastTimestamp: \"2026-01-01T00:00:00Z\"\n"
        ),
    );
    k.ok(&["create", "-f", &event]).await;
    let events = rows(
        &k.ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=sandbox",
        ])
        .await,
    );
    assert_eq!(
        events[0][..3],
        ["NAME".to_string(), "LAST".into(), "SEEN".into()]
    );
    assert!(
        events[1].contains(&"DHCPOffer".to_string())
            && events[1].contains(&"hardware/sandbox".to_string()),
        "{events:?}"
    );
    let none = k
        .ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=other",
            "-o",
            "name",
        ])
        .await;
    assert!(none.is_empty(), "{none}");
    let described = k.ok(&["describe", "hw", "sandbox"]).await;
    assert!(
        described.contains("sandbox") && described.contains("DHCPOffer"),
        "{described}"
    );

    // delete.
    let out = k.ok(&["delete", "hw", "pxe-proxmox"]).await;
    assert!(out.contains("deleted"), "{out}");
    let err = k.fails(&["get", "hw", "pxe-proxmox"]).await;
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );

    // CRDs and namespaces.
    let crds = k.ok(&["get", "crd", "-o", "name"]).await;
    assert!(
        crds.contains("hardware.tinkerbell.org") && crds.contains("workflows.tinkerbell.org"),
        "{crds}"
    );
    let ns = k.ok(&["get", "ns", "-o", "name"]).await;
    // (`other` emptied by the delete above: namespaces exist while objects are in them.)
    assert_eq!(ns.trim(), "namespace/default");

    // Refusals: no credentials; the read-only role writing; the read-only role reading.
    let anonymous = api.dir.path().join("anonymous.yaml");
    let text = std::fs::read_to_string(&k.config).expect("kubeconfig");
    let token_line = text
        .lines()
        .find(|l| l.contains("token:"))
        .expect("token")
        .to_string();
    std::fs::write(
        &anonymous,
        text.replace(&token_line, "    username: nobody"),
    )
    .expect("write");
    let nobody = Kubectl {
        bin: bin.clone(),
        config: anonymous,
        home: home.clone(),
    };
    let err = nobody.fails(&["get", "hw"]).await;
    assert!(
        err.contains("Unauthorized") || err.contains("logged in"),
        "{err}"
    );
    for (file, cert) in [("ro-token.yaml", false), ("ro-cert.yaml", true)] {
        let ro = Kubectl {
            bin: bin.clone(),
            config: api.kubeconfig(file, Role::ReadOnly, cert),
            home: home.clone(),
        };
        assert!(ro.ok(&["get", "hw"]).await.contains("sandbox"));
        let err = ro.fails(&["delete", "hw", "sandbox"]).await;
        assert!(
            err.contains("Forbidden") || err.contains("forbidden"),
            "{err}"
        );
        let err = ro.fails(&["get", "secrets"]).await;
        assert!(
            err.contains("Forbidden") || err.contains("forbidden"),
            "{err}"
        );
    }
    let admin_cert = Kubectl {
        bin,
        config: api.kubeconfig("admin-cert.yaml", Role::Admin, true),
        home,
    };
    admin_cert
        .ok(&["label", "hw", "sandbox", "checked=yes"])
        .await;
}

/// curl, a second real client: bookmarks, and the 410 `Expired` event when the history a
/// watch asks for has been compacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_pages_and_field_managers() {
    for bin in kubectls_or_skip() {
        eprintln!("kubectl: {}", bin.display());
        pages_and_field_managers(bin).await;
    }
}

/// The `managedFields` entry of `manager` in kubectl's JSON of an object.
fn managed_entry<'v>(obj: &'v serde_json::Value, manager: &str) -> Option<&'v serde_json::Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager)
}

async fn pages_and_field_managers(bin: PathBuf) {
    let api = Api::start(ApiConfig::default()).await;
    let k = admin_kubectl(&api, &bin);

    // 20 Hardware, listed 7 at a time: each exactly once, over three pages.
    let types = TypeKey::new("tinkerbell.org/v1alpha1", "Hardware");
    let expected: Vec<String> = (0..20).map(|i| format!("hw{i:02}")).collect();
    for (i, name) in expected.iter().enumerate() {
        let mut hw = ironbell_model::DynamicObject::new(
            types.clone(),
            ironbell_model::ObjectMeta::named("default", name),
        );
        hw.set_field(
            "spec",
            &serde_json::json!({"interfaces": [{"dhcp": {"mac": format!("02:00:00:00:01:{i:02x}")}}]}),
        )
        .expect("spec");
        api.store.create(hw).await.expect("create");
    }
    let out = k
        .run(&["get", "hardware", "--chunk-size=7", "-o", "name", "-v=6"])
        .await;
    assert!(out.ok, "{}", out.stderr);
    let names: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.trim_start_matches("hardware.tinkerbell.org/"))
        .collect();
    assert_eq!(names, expected);
    let pages = out
        .stderr
        .lines()
        .filter(|l| l.contains("/hardware?") && l.contains("limit=7"))
        .count();
    let continued = out
        .stderr
        .lines()
        .filter(|l| l.contains("continue="))
        .count();
    assert_eq!((pages, continued), (3, 2), "{}", out.stderr);
    let table = rows(&k.ok(&["get", "hardware", "--chunk-size=7"]).await);
    assert_eq!(table[0][0], "NAME");
    let names: Vec<&str> = table[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, expected, "the Table's pages");

    // Field managers: a applies, b's different value conflicts, b forces it.
    let applied = |name: &str, labels: &str, spec: &str| {
        api.file(
            name,
            &format!(
                "apiVersion: tinkerbell.org/v1alpha1\nkind: Hardware\nmetadata: {{name: fm, namespace: default{labels}}}\n{spec}"
            ),
        )
    };
    let spec = |mac: &str| format!("spec: {{interfaces: [{{dhcp: {{mac: \"{mac}\"}}}}]}}\n");
    let a = applied("a.yaml", ", labels: {team: a}", &spec("02:00:00:00:00:0a"));
    let b = applied("b.yaml", "", &spec("02:00:00:00:00:0b"));
    let get = || async {
        let text = k
            .ok(&["get", "hw", "fm", "-o", "json", "--show-managed-fields"])
            .await;
        serde_json::from_str::<serde_json::Value>(&text).expect("json")
    };
    k.ok(&["apply", "--server-side", "--field-manager=a", "-f", &a])
        .await;
    let obj = get().await;
    let entry = managed_entry(&obj, "a").unwrap_or_else(|| panic!("{obj}"));
    assert_eq!(entry["operation"], "Apply");
    assert!(
        entry["fieldsV1"]["f:spec"].get("f:interfaces").is_some()
            && entry["fieldsV1"]["f:metadata"]["f:labels"]
                .get("f:team")
                .is_some(),
        "{entry}"
    );
    let plain = k.ok(&["get", "hw", "fm", "-o", "json"]).await;
    assert!(!plain.contains("ironbell.dev/managed-fields"), "{plain}");

    let err = k
        .fails(&["apply", "--server-side", "--field-manager=b", "-f", &b])
        .await;
    assert!(
        err.contains("conflict with \"a\"") && err.contains(".spec.interfaces"),
        "{err}"
    );
    let mac = "jsonpath={.spec.interfaces[0].dhcp.mac}";
    assert_eq!(
        k.ok(&["get", "hw", "fm", "-o", mac]).await,
        "02:00:00:00:00:0a"
    );
    k.ok(&[
        "apply",
        "--server-side",
        "--field-manager=b",
        "--force-conflicts",
        "-f",
        &b,
    ])
    .await;
    assert_eq!(
        k.ok(&["get", "hw", "fm", "-o", mac]).await,
        "02:00:00:00:00:0b"
    );
    let obj = get().await;
    let owns = |m: &str| {
        managed_entry(&obj, m)
            .is_some_and(|e| e["fieldsV1"]["f:spec"].get("f:interfaces").is_some())
    };
    assert!(owns("b") && !owns("a"), "{obj}");

    // a applies again without its label and without the interfaces: the label, a's alone,
    // is removed; the interfaces, b's now, stay.
    let a2 = applied("a2.yaml", "", "spec: {}\n");
    k.ok(&["apply", "--server-side", "--field-manager=a", "-f", &a2])
        .await;
    let obj = get().await;
    assert!(obj["metadata"]["labels"].get("team").is_none(), "{obj}");
    assert_eq!(
        obj["spec"]["interfaces"][0]["dhcp"]["mac"],
        "02:00:00:00:00:0b"
    );
    // An edit (a merge patch) is recorded as an Update entry of its manager (kubectl).
    k.ok(&[
        "patch",
        "hw",
        "fm",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"rack":"r9"}}}"#,
    ])
    .await;
    let obj = get().await;
    let patcher = obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|all| {
            all.iter().find(|e| {
                e["operation"] == "Update"
                    && e["fieldsV1"]["f:metadata"]["f:labels"]
                        .get("f:rack")
                        .is_some()
            })
        })
        .unwrap_or_else(|| panic!("{obj}"));
    assert!(
        patcher["manager"]
            .as_str()
            .is_some_and(|m| m.starts_with("kubectl")),
        "{patcher}"
    );
}

#[tokio::test]
async fn watch_bookmarks_and_expired_history_over_curl() {
    ironbell_testbed::require_tool!("curl");
    let api = Api::start(ApiConfig {
        bookmark_interval: Duration::from_millis(200),
        ..ApiConfig::default()
    })
    .await;
    let ca = api.file("ca.crt", api.security.ca_pem());
    let auth = format!("Authorization: Bearer {}", api.security.token(Role::Admin));
    let curl = |path: &str, extra: &[&str]| {
        let mut cmd = tokio::process::Command::new("curl");
        cmd.args(["-sS", "--max-time", "10", "--cacert", &ca, "-H", &auth])
            .args(extra)
            .arg(format!("{}{path}", api.server))
            .kill_on_drop(true);
        cmd
    };
    let hw = |name: &str| {
        format!(
            r#"{{"apiVersion":"tinkerbell.org/v1alpha1","kind":"Hardware","metadata":{{"name":"{name}"}},"spec":{{}}}}"#
        )
    };
    let base = "/apis/tinkerbell.org/v1alpha1/namespaces/default/hardware";
    for name in ["a", "b"] {
        let out = curl(
            base,
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                &hw(name),
            ],
        )
        .output()
        .await
        .expect("curl");
        let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(created["metadata"]["name"], name, "{created}");
    }

    // From now, with bookmarks, for a second: the current objects, then bookmarks.
    let out = curl(
        &format!("{base}?watch=true&allowWatchBookmarks=true&timeoutSeconds=1"),
        &[],
    )
    .output()
    .await
    .expect("curl");
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one event a line"))
        .collect();
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[1]["object"]["metadata"]["name"], "b");
    assert!(
        events[2..].iter().all(|e| e["type"] == "BOOKMARK"),
        "{events:?}"
    );
    assert!(events.len() >= 3, "a bookmark within a second: {events:?}");

    // A page of one: the other is left, behind a continue token.
    let get_json = |path: String| {
        let out = curl(&path, &[]);
        async move {
            let out = { out }.output().await.expect("curl");
            serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
        }
    };
    let page = get_json(format!("{base}?limit=1")).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["metadata"]["remainingItemCount"], 1, "{page}");
    let token = page["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_string();
    let second = get_json(format!("{base}?limit=1&continue={token}")).await;
    assert_eq!(second["items"][0]["metadata"]["name"], "b", "{second}");
    assert!(second["metadata"].get("continue").is_none(), "{second}");
    assert_eq!(
        second["metadata"]["resourceVersion"], page["metadata"]["resourceVersion"],
        "every page reports the first page's version"
    );
    // The same token again: its kept rest was taken, so the store is read from the token's
    // position, with the same result.
    let again = get_json(format!("{base}?limit=1&continue={token}")).await;
    assert_eq!(again["items"], second["items"], "{again}");
    let bad = get_json(format!("{base}?limit=1&continue=not-a-token")).await;
    assert_eq!(
        (&bad["code"], &bad["reason"]),
        (&410.into(), &"Expired".into())
    );

    // Compacted history (after one more write, so that the token's version goes too): an
    // ERROR event carrying a 410 Expired Status.
    let c = ironbell_model::DynamicObject::new(
        TypeKey::new("tinkerbell.org/v1alpha1", "Hardware"),
        ironbell_model::ObjectMeta::named("default", "c"),
    );
    api.store.create(c).await.expect("create c");
    let list = api
        .store
        .list(
            &TypeKey::new("tinkerbell.org/v1alpha1", "Hardware"),
            &Default::default(),
        )
        .await
        .expect("list");
    api.store
        .compact(list.resource_version)
        .await
        .expect("compact");
    let out = curl(&format!("{base}?watch=true&resourceVersion=1"), &[])
        .output()
        .await
        .expect("curl");
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one event");
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
    // ... and the continue token of a list before the compaction is expired.
    let expired = get_json(format!("{base}?limit=1&continue={token}")).await;
    assert_eq!(expired["code"], 410, "{expired}");
    assert_eq!(expired["reason"], "Expired");

    // No credentials: 401 with a Status; a body over the limit: 413.
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--cacert", &ca, "-w", "\n%{http_code}"])
        .arg(format!("{}{base}", api.server))
        .output()
        .await
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with("401") && text.contains("\"reason\":\"Unauthorized\""),
        "{text}"
    );
    let big = api.file("big.json", &"x".repeat(4 << 20));
    let out = curl(
        base,
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{big}"),
            "-w",
            "\n%{http_code}",
        ],
    )
    .output()
    .await
    .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("413"), "{text}");
}
