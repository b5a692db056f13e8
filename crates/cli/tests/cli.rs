//! Black-box tests of the `ironbell` binary: every command, run as a user would, against a
//! fresh store file per test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("store.db")
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_in(None, args)
    }

    /// Runs with `IRONBELL_NAMESPACE` (the current namespace) set to `namespace`.
    fn run_in(&self, namespace: Option<&str>, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ironbell"));
        command
            .args(args)
            .env("IRONBELL_DB", self.db())
            .env_remove("IRONBELL_LOG")
            .env_remove("IRONBELL_LOG_FORMAT")
            .env_remove("IRONBELL_NAMESPACE");
        if let Some(ns) = namespace {
            command.env("IRONBELL_NAMESPACE", ns);
        }
        command.output().expect("run ironbell")
    }

    /// Runs and asserts success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "ironbell {args:?} failed\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs and asserts failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "ironbell {args:?} should fail\nstdout:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.starts_with("error: "), "one clear error line: {err}");
        assert!(!err.contains("panicked"), "no panic: {err}");
        assert!(!err.contains("stack backtrace"), "no backtrace: {err}");
        err
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example_csv() -> String {
    repo().join("hardware/example.csv").display().to_string()
}

fn conformance(rel: &str) -> String {
    let p = repo().join("../shared/conformance").join(rel);
    assert!(p.exists(), "missing conformance file {}", p.display());
    p.display().to_string()
}

const CSV: &str = "\
hostname,bmc_ip,bmc_username,bmc_password,mac,ip_address,netmask,gateway,nameservers,labels,disk
cp1,192.0.2.10,admin,s3cr3t-pw,AA:BB:CC:00:00:01,10.0.0.11,255.255.255.0,10.0.0.1,10.0.0.1|9.9.9.9,type=cp,/dev/sda
w1,,,,aa:bb:cc:00:00:02,10.0.0.21,255.255.255.0,10.0.0.1,10.0.0.1,type=worker,/dev/nvme0n1
";

#[test]
fn validate_and_import_example() {
    let env = Env::new();
    let out = env.ok(&["hardware", "validate", &example_csv()]);
    assert!(out.contains("valid"), "{out}");
    let out = env.ok(&["hardware", "import", &example_csv()]);
    assert!(out.contains("created"), "{out}");
    let table = env.ok(&["get", "hardware"]);
    assert!(table.starts_with("NAMESPACE"), "{table}");
    assert!(table.contains("eksa-system"), "{table}");
}

#[test]
fn import_creates_objects_and_reimport_is_idempotent() {
    let env = Env::new();
    let csv = env.file("hw.csv", CSV);
    let csv = csv.to_str().expect("utf8");
    let out = env.ok(&["hardware", "import", csv]);
    assert!(out.contains("2 machines"), "{out}");
    assert!(out.contains("4 objects created"), "{out}");

    let hw = env.ok(&["get", "hardware", "cp1", "-o", "json"]);
    let hw: serde_json::Value = serde_json::from_str(&hw).expect("json");
    assert_eq!(hw["kind"], "Hardware");
    assert_eq!(hw["metadata"]["namespace"], "eksa-system");
    assert_eq!(
        hw["spec"]["interfaces"][0]["dhcp"]["mac"],
        "aa:bb:cc:00:00:01"
    );
    assert_eq!(
        hw["spec"]["interfaces"][0]["dhcp"]["ip"]["address"],
        "10.0.0.11"
    );
    assert_eq!(hw["spec"]["bmcRef"]["name"], "bmc-cp1");
    assert!(hw["metadata"]["resourceVersion"].is_string());

    let machines = env.ok(&["get", "machines"]);
    assert!(
        machines.contains("bmc-cp1") && machines.contains("192.0.2.10"),
        "{machines}"
    );
    assert!(!machines.contains("bmc-w1"), "{machines}");

    // Importing the same file again changes nothing.
    let out = env.ok(&["hardware", "import", csv]);
    assert!(
        out.contains("0 objects created, 0 updated, 4 unchanged"),
        "{out}"
    );

    // A changed row updates only its objects.
    let changed = CSV.replace("type=worker", "type=worker|rack=r2");
    let csv2 = env.file("hw2.csv", &changed);
    let out = env.ok(&["hardware", "import", csv2.to_str().expect("utf8")]);
    assert!(
        out.contains("0 objects created, 1 updated, 3 unchanged"),
        "{out}"
    );
    let w1 = env.ok(&["get", "hw", "w1", "-n", "eksa-system", "-o", "yaml"]);
    assert!(w1.contains("rack: r2"), "{w1}");
}

#[test]
fn secrets_are_redacted_unless_asked() {
    let env = Env::new();
    let csv = env.file("hw.csv", CSV);
    env.ok(&["hardware", "import", csv.to_str().expect("utf8")]);
    // base64("s3cr3t-pw")
    let b64 = "czNjcjN0LXB3";
    for format in ["table", "yaml", "json"] {
        let out = env.ok(&["get", "secrets", "-o", format]);
        assert!(
            !out.contains(b64) && !out.contains("s3cr3t-pw"),
            "{format}: {out}"
        );
    }
    let out = env.ok(&["get", "secret", "bmc-cp1-auth", "-o", "yaml"]);
    assert!(out.contains("<redacted>"), "{out}");
    let out = env.ok(&[
        "get",
        "secret",
        "bmc-cp1-auth",
        "-o",
        "yaml",
        "--show-secrets",
    ]);
    assert!(out.contains(b64), "{out}");
}

#[test]
fn bad_csv_imports_nothing_and_names_line_column_value() {
    let env = Env::new();
    let bad = format!(
        "{CSV}w2,,,,aa:bb:cc:00:00:03,10.0.0.300,255.255.255.0,10.0.0.1,10.0.0.1,,/dev/sda\n"
    );
    let csv = env.file("bad.csv", &bad);
    let err = env.fails(&["hardware", "import", csv.to_str().expect("utf8")]);
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("ip_address"), "{err}");
    assert!(err.contains("10.0.0.300"), "{err}");
    let err = env.fails(&["hardware", "validate", csv.to_str().expect("utf8")]);
    assert!(err.contains("10.0.0.300"), "{err}");
    // Nothing imported: not even an empty store was created.
    assert!(!env.db().exists());
}

#[test]
fn apply_cluster_spec_create_update_unchanged() {
    let env = Env::new();
    let spec = conformance(
        "eks-anywhere-v0.24.6/pkg/providers/tinkerbell/testdata/cluster_tinkerbell_stacked_etcd.yaml",
    );
    let out = env.ok(&["apply", "-f", &spec]);
    assert!(out.contains("clusters/test created"), "{out}");
    assert!(
        out.contains("tinkerbellmachineconfigs/test-cp created"),
        "{out}"
    );
    assert!(
        out.contains("tinkerbelltemplateconfigs/tink-test created"),
        "{out}"
    );
    let out = env.ok(&["apply", "-f", &spec]);
    assert!(
        !out.contains("created") && !out.contains("configured"),
        "{out}"
    );
    assert!(out.contains("clusters/test unchanged"), "{out}");

    let text = std::fs::read_to_string(&spec).expect("read");
    let changed = env.file(
        "c.yaml",
        &text.replace(
            "count: 1\n    upgradeRolloutStrategy",
            "count: 3\n    upgradeRolloutStrategy",
        ),
    );
    let out = env.ok(&["apply", "-f", changed.to_str().expect("utf8")]);
    assert!(out.contains("clusters/test configured"), "{out}");
    let cluster = env.ok(&["get", "cluster", "test", "-o", "json"]);
    let cluster: serde_json::Value = serde_json::from_str(&cluster).expect("json");
    assert_eq!(cluster["spec"]["controlPlaneConfiguration"]["count"], 3);
    // Documents without a namespace land in the namespace `hardware import` uses.
    let tpl = env.ok(&["get", "tinkerbelltemplateconfigs"]);
    assert!(tpl.contains("eksa-system"), "{tpl}");
}

#[test]
fn apply_is_all_or_nothing_and_names_the_bad_field() {
    let env = Env::new();
    let yaml = "\
apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata: {name: good, namespace: ns}
spec: {}
---
apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata: {name: bad, namespace: ns}
spec:
  interfaces:
  - dhcp:
      lease_time: forever
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g}
";
    let f = env.file("bad.yaml", yaml);
    let err = env.fails(&["apply", "-f", f.to_str().expect("utf8")]);
    assert!(err.contains("document 2"), "{err}");
    assert!(err.contains("spec.interfaces[0].dhcp.lease_time"), "{err}");
    assert!(err.contains("\"bad\""), "{err}");
    assert!(
        err.contains("document 3") && err.contains("Gadget"),
        "{err}"
    );
    assert!(!env.db().exists(), "nothing applied, no store created");
}

#[test]
fn apply_refuses_a_name_with_a_newline_or_escape_naming_it() {
    let env = Env::new();
    let yaml = "\
apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata: {name: good, namespace: ns}
spec: {}
---
apiVersion: tinkerbell.org/v1alpha1
kind: Hardware
metadata: {name: \"wk01\\nchain http://192.0.2.1/evil.ipxe\", namespace: ns}
spec: {}
---
apiVersion: tinkerbell.org/v1alpha1
kind: Template
metadata: {name: \"red\\e[31m\", namespace: ns}
spec: {data: x}
";
    let f = env.file("names.yaml", yaml);
    let err = env.fails(&["apply", "-f", f.to_str().expect("utf8")]);
    assert!(err.contains("document 2 (Hardware"), "{err}");
    assert!(err.contains("field `metadata.name`"), "{err}");
    assert!(
        err.contains(r#""wk01\nchain http://192.0.2.1/evil.ipxe""#),
        "the name, escaped: {err}"
    );
    assert!(err.contains("document 3 (Template"), "{err}");
    assert!(err.contains(r#""red\u{1b}[31m""#), "{err}");
    assert!(
        !err.lines().any(|l| l.starts_with("chain")) && !err.contains('\u{1b}'),
        "no raw newline or escape reaches the terminal: {err}"
    );
    assert!(!env.db().exists(), "nothing applied, no store created");
}

#[test]
fn read_only_commands_refuse_a_missing_store_and_create_nothing() {
    let env = Env::new();
    for args in [
        &["get", "hardware"][..],
        &["get", "hardware", "cp1"],
        &["logs", "cp1"],
        &["bmc", "power", "status", "bmc-cp1"],
        &["delete", "hardware", "cp1"],
        &["get", "hw/cp1", "wf/w"],
        &["delete", "hw", "-l", "type=cp"],
        &["describe", "hardware", "cp1"],
    ] {
        let err = env.fails(args);
        assert!(
            err.contains(&format!("the store {} does not exist", env.db().display())),
            "{args:?}: {err}"
        );
        assert!(!env.db().exists(), "{args:?} created the store");
        assert!(
            !env.dir.path().join("machine-logs").exists(),
            "{args:?} created a directory"
        );
    }
}

#[test]
fn store_specs_and_unsupported_backends() {
    let env = Env::new();
    let csv = env.file("hw.csv", CSV);
    let spec = format!("sqlite:{}", env.db().display());
    let out = env.ok(&[
        "--db",
        &spec,
        "hardware",
        "import",
        csv.to_str().expect("utf8"),
    ]);
    assert!(out.contains("imported"), "{out}");
    let list = env.ok(&["get", "hardware"]);
    assert!(
        list.contains("cp1"),
        "the bare path names the same store: {list}"
    );
    // An etcd nobody serves (a loopback port just freed): one clear error naming it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let err = env.fails(&[
        "--db",
        &format!("etcd://127.0.0.1:{port}"),
        "get",
        "hardware",
    ]);
    assert!(
        err.contains(&format!("etcd at http://127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("Connection refused"), "{err}");
    // A DHCP peer timeout etcd cannot express: refused before anything starts.
    let err = env.fails(&[
        "serve",
        "boot",
        "--public-ip",
        "192.0.2.1",
        "--dhcp-peer-timeout",
        "1500ms",
    ]);
    assert!(
        err.contains("--dhcp-peer-timeout") && err.contains("whole number of seconds"),
        "{err}"
    );
    let err = env.fails(&["--db", "redis://127.0.0.1", "get", "hardware"]);
    assert!(err.contains("unknown scheme \"redis\""), "{err}");
}

#[test]
fn store_and_its_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let csv = env.file("hw.csv", CSV);
    let db = env.dir.path().join("state/ironbell/ironbell.db");
    let db_arg = db.display().to_string();
    env.ok(&[
        "--db",
        &db_arg,
        "hardware",
        "import",
        csv.to_str().expect("utf8"),
    ]);
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(db.parent().expect("dir")), 0o700);
    assert_eq!(mode(&env.dir.path().join("state")), 0o700);
}

#[test]
fn a_mac_already_held_is_refused_at_import_and_apply() {
    let env = Env::new();
    let csv = env.file("hw.csv", CSV);
    env.ok(&["hardware", "import", csv.to_str().expect("utf8")]);
    let hw = env.ok(&["get", "hardware", "cp1", "-o", "yaml"]);
    let copy = hw.replace("name: cp1", "name: cp1-copy");
    let f = env.file("copy.yaml", &copy);
    let err = env.fails(&["apply", "-f", f.to_str().expect("utf8")]);
    assert!(
        err.contains("Hardware eksa-system/cp1-copy has MAC")
            && err.contains("which Hardware eksa-system/cp1 already holds"),
        "{err}"
    );
    // Deleting the Hardware deletes its BMC Machine and Secret.
    let out = env.ok(&["delete", "hardware", "cp1"]);
    assert!(
        out.contains("machines/bmc-cp1 deleted")
            && out.contains("secrets/bmc-cp1-auth deleted")
            && out.contains("hardware/cp1 deleted"),
        "{out}"
    );
    let out = env.ok(&["apply", "-f", f.to_str().expect("utf8")]);
    assert!(out.contains("cp1-copy created"), "{out}");
}

#[test]
fn get_selectors_and_delete() {
    let env = Env::new();
    let csv = env.file("hw.csv", CSV);
    env.ok(&["hardware", "import", csv.to_str().expect("utf8")]);
    let cp = env.ok(&["get", "hardware", "-l", "type=cp"]);
    assert!(cp.contains("cp1") && !cp.contains("w1"), "{cp}");
    let not_cp = env.ok(&["get", "hardware", "-l", "type!=cp"]);
    assert!(!not_cp.contains("cp1") && not_cp.contains("w1"), "{not_cp}");
    let any = env.ok(&["get", "hardware", "-l", "type in (cp,worker)"]);
    assert!(any.contains("cp1") && any.contains("w1"), "{any}");
    let none = env.ok(&["get", "hardware", "-l", "!type", "-o", "json"]);
    assert!(!none.contains("cp1"), "{none}");
    env.fails(&["get", "hardware", "-l", "type in (cp"]);

    env.ok(&["delete", "hardware", "w1"]);
    let err = env.fails(&["get", "hardware", "w1"]);
    assert!(err.contains("not found"), "{err}");
    let err = env.fails(&["delete", "hardware", "w1", "-n", "eksa-system"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn unknown_csv_columns_are_refused_and_old_eks_anywhere_ones_warned_about() {
    let env = Env::new();
    let with_column = |name: &str| {
        CSV.replacen("disk\n", &format!("disk,{name}\n"), 1)
            .replace("/dev/sda\n", "/dev/sda,12\n")
            .replace("/dev/nvme0n1\n", "/dev/nvme0n1,13\n")
    };
    let csv = env.file("typo.csv", &with_column("rack_unit"));
    let err = env.fails(&["hardware", "validate", csv.to_str().expect("utf8")]);
    assert!(
        err.contains("unknown column \"rack_unit\" (header position 12)"),
        "{err}"
    );
    let csv = env.file("hw.csv", &with_column("vendor"));
    let out = env.run(&["hardware", "validate", csv.to_str().expect("utf8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning:") && err.contains("vendor"), "{err}");
}

#[test]
fn unknown_kind_and_missing_file_are_clear_errors() {
    let env = Env::new();
    let err = env.fails(&["get", "gizmos"]);
    assert!(
        err.contains("unknown kind") && err.contains("hardware"),
        "{err}"
    );
    let err = env.fails(&["hardware", "import", "/nonexistent/hw.csv"]);
    assert!(err.contains("/nonexistent/hw.csv"), "{err}");
    let err = env.fails(&["apply", "-f", "/nonexistent/x.yaml"]);
    assert!(err.contains("/nonexistent/x.yaml"), "{err}");
}

#[test]
fn bmc_commands_name_what_is_wrong() {
    let env = Env::new();
    env.ok(&["hardware", "import", &example_csv()]);
    let err = env.fails(&["bmc", "power", "explode", "bmc-eksa-wk01"]);
    assert!(err.contains("unknown power action \"explode\""), "{err}");
    let err = env.fails(&["bmc", "power", "on", "nosuch"]);
    assert!(err.contains("Machine \"nosuch\" not found"), "{err}");
    // Without the BMC service nothing runs the Job: `--no-wait` returns at once with its
    // name, and the Job is there for `ironbell serve bmc` to pick up.
    let out = env.ok(&[
        "bmc",
        "boot",
        "bmc-eksa-wk01",
        "--device",
        "pxe",
        "--efi",
        "--no-wait",
    ]);
    assert!(out.contains("bmc-eksa-wk01-boot-pxe"), "{out}");
    let jobs = env.ok(&["get", "jobs"]);
    assert!(jobs.contains("bmc-eksa-wk01-boot-pxe"), "{jobs}");
}

#[test]
fn a_short_name_two_kinds_share_lists_both_and_a_group_names_one() {
    let env = Env::new();
    let csv = env.file("hw.csv", CSV);
    env.ok(&["hardware", "import", csv.to_str().expect("utf8")]);
    let machine = env.file(
        "machine.yaml",
        "apiVersion: cluster.x-k8s.io/v1beta1\nkind: Machine\n\
         metadata: {name: c1-0, labels: {cluster.x-k8s.io/cluster-name: c1}}\n\
         spec: {clusterName: c1, version: v1.30.0, bootstrap: {},\n\
         \x20 infrastructureRef: {apiVersion: infrastructure.cluster.x-k8s.io/v1beta1, \
         kind: TinkerbellMachine, name: c1-0}}\n",
    );
    let out = env.ok(&["apply", "-f", machine.to_str().expect("utf8")]);
    assert!(out.contains("machines/c1-0 created"), "{out}");

    // Rufio's BMC Machines and Cluster API's Machines, a table each under its group.
    let both = env.ok(&["get", "machines"]);
    let bmc = both.find("# machines.bmc.tinkerbell.org").expect(&both);
    let capi = both.find("# machines.cluster.x-k8s.io").expect(&both);
    assert!(bmc < capi, "{both}");
    assert!(both[bmc..capi].contains("bmc-cp1"), "{both}");
    assert!(
        both[capi..].contains("c1-0") && both[capi..].contains("PROVIDERID"),
        "{both}"
    );
    // A group names one kind; a name found in one kind needs none.
    let capi_only = env.ok(&["get", "machines.cluster.x-k8s.io"]);
    assert!(
        !capi_only.contains("bmc-cp1") && !capi_only.contains('#'),
        "{capi_only}"
    );
    let one = env.ok(&["get", "machines", "c1-0", "-o", "json"]);
    assert!(one.contains("\"clusterName\": \"c1\""), "{one}");
    let list = env.ok(&["get", "machines", "-o", "json"]);
    assert!(list.contains("bmc-cp1") && list.contains("c1-0"), "{list}");
    let err = env.fails(&["get", "machines", "nosuch"]);
    assert!(err.contains("nosuch"), "{err}");
    let err = env.fails(&["describe", "cluster", "c1"]);
    assert!(err.contains("c1") && err.contains("not found"), "{err}");
}

/// Stdout of a run that must succeed.
fn stdout_of(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn template_yaml(name: &str, namespace: Option<&str>) -> String {
    let ns = namespace.map_or(String::new(), |ns| format!(", namespace: {ns}"));
    format!(
        "apiVersion: tinkerbell.org/v1alpha1\nkind: Template\nmetadata: {{name: {name}{ns}}}\n\
         spec: {{data: \"version: '0.1'\\nname: x\\nglobal_timeout: 60\\ntasks: []\\n\"}}\n"
    )
}

/// `get` lists the current namespace ($IRONBELL_NAMESPACE, else eksa-system), `-n` another,
/// `-A` all; a name not in the current namespace is still found where it is unique;
/// `apply` and `hardware import` put objects in the same current namespace.
#[test]
fn the_current_namespace_is_the_default_and_all_namespaces_lists_every_one() {
    let env = Env::new();
    let in_default = env.file("t1.yaml", &template_yaml("t-default", Some("default")));
    let unnamed = env.file("t2.yaml", &template_yaml("t-current", None));
    let elsewhere = env.file("t3.yaml", &template_yaml("t-other", None));
    for (file, ns) in [
        (&in_default, None),
        (&unnamed, None),
        (&elsewhere, Some("other")),
    ] {
        let out = env.run_in(ns, &["apply", "-f", file.to_str().expect("utf8")]);
        stdout_of(&out, "apply");
    }
    let current = env.ok(&["get", "templates"]);
    assert!(
        current.contains("t-current")
            && !current.contains("t-default")
            && !current.contains("t-other"),
        "{current}"
    );
    let all = env.ok(&["get", "templates", "-A"]);
    for name in ["t-default", "t-current", "t-other"] {
        assert!(all.contains(name), "{name}: {all}");
    }
    let all = env.ok(&["get", "templates", "--all-namespaces", "-o", "json"]);
    assert!(all.contains("\"namespace\": \"other\""), "{all}");
    let other = stdout_of(&env.run_in(Some("other"), &["get", "templates"]), "get");
    assert!(
        other.contains("t-other") && !other.contains("t-current"),
        "{other}"
    );
    // A name: the current namespace first, else the only namespace that has it.
    let one = env.ok(&["get", "template", "t-default", "-o", "yaml"]);
    assert!(one.contains("namespace: default"), "{one}");
    let err = env.fails(&["get", "template", "t-default", "-n", "eksa-system"]);
    assert!(err.contains("not found"), "{err}");
    env.fails(&["get", "templates", "-A", "-n", "default"]);

    // hardware import: the same current namespace as apply.
    let csv = env.file("hw.csv", CSV);
    let out = env.run_in(
        Some("rack1"),
        &["hardware", "import", csv.to_str().expect("utf8")],
    );
    assert!(stdout_of(&out, "import").contains("into namespace rack1"));
    let hw = stdout_of(
        &env.run_in(Some("rack1"), &["get", "hw", "-o", "json"]),
        "get",
    );
    assert!(
        hw.contains("\"namespace\": \"rack1\"") && hw.contains("cp1"),
        "{hw}"
    );
}

/// `get KIND NAME NAME` and `get KIND/NAME KIND/NAME`, as kubectl.
#[test]
fn several_names_and_kind_slash_name() {
    let env = Env::new();
    let csv = env.file("hw.csv", CSV);
    env.ok(&["hardware", "import", csv.to_str().expect("utf8")]);
    let two = env.ok(&["get", "hw", "cp1", "w1"]);
    assert!(two.contains("cp1") && two.contains("w1"), "{two}");
    let mixed = env.ok(&["get", "hw/cp1", "secrets/bmc-cp1-auth", "hardware/w1"]);
    assert!(
        mixed.contains("cp1") && mixed.contains("w1") && mixed.contains("bmc-cp1-auth"),
        "{mixed}"
    );
    assert!(
        !mixed.contains("s3cr3t-pw"),
        "secrets stay redacted: {mixed}"
    );
    let json = env.ok(&["get", "hw/cp1", "secret/bmc-cp1-auth", "-o", "json"]);
    assert!(json.contains("\"kind\": \"List\""), "{json}");
    let err = env.fails(&["get", "hw", "cp1", "nosuch"]);
    assert!(err.contains("nosuch") && err.contains("not found"), "{err}");
    let err = env.fails(&["get", "hw", "secrets/bmc-cp1-auth"]);
    assert!(err.contains("after a KIND"), "{err}");
    let err = env.fails(&["get", "hw/cp1", "secrets/bmc-cp1-auth", "-w"]);
    assert!(err.contains("-w watches one kind"), "{err}");
}

/// `delete -f FILE` deletes every object of the file and `delete KIND -l SELECTOR` every
/// object selected, each with what it owns (a Hardware's BMC Machine and its Secret).
#[test]
fn delete_by_file_and_by_selector_cascades_to_owned_objects() {
    let env = Env::new();
    let csv = env.file("hw.csv", CSV);
    env.ok(&["hardware", "import", csv.to_str().expect("utf8")]);
    let t = env.file("t.yaml", &template_yaml("t1", None));
    env.ok(&["apply", "-f", t.to_str().expect("utf8")]);
    // A file of two documents: cp1's Hardware (as `get -o yaml` prints it) and a Template.
    let cp1 = env.ok(&["get", "hw", "cp1", "-o", "yaml"]);
    let file = env.file(
        "objects.yaml",
        &format!("{cp1}\n---\n{}", template_yaml("t1", None)),
    );
    let file = file.to_str().expect("utf8");
    let out = env.ok(&["delete", "-f", file]);
    for line in [
        "machines/bmc-cp1 deleted",
        "secrets/bmc-cp1-auth deleted",
        "hardware/cp1 deleted",
        "templates/t1 deleted",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    let machines = env.ok(&["get", "machines", "-A"]);
    assert!(!machines.contains("bmc-cp1"), "{machines}");
    // Again: nothing is left to delete, which is an error unless asked otherwise.
    let err = env.fails(&["delete", "-f", file]);
    assert!(
        err.contains("Hardware \"cp1\" not found in namespace eksa-system"),
        "{err}"
    );
    env.ok(&["delete", "-f", file, "--ignore-not-found"]);

    // By selector: the workers (w1 has no BMC, so only its Hardware goes).
    let out = env.ok(&["delete", "hardware", "-l", "type=worker"]);
    assert_eq!(out.trim(), "hardware/w1 deleted");
    let left = env.ok(&["get", "hw", "-A", "-o", "json"]);
    assert!(!left.contains("\"w1\""), "{left}");
    let out = env.ok(&["delete", "hardware", "-l", "type=worker"]);
    assert!(out.is_empty(), "{out}");
    let err = env.fails(&["delete", "hw", "w1", "-l", "type=worker"]);
    assert!(err.contains("takes a KIND, not names"), "{err}");
    let err = env.fails(&["delete", "hw"]);
    assert!(err.contains("needs what to delete"), "{err}");
}

/// `api-resources`, "did you mean", `completion`, `man`, `--version`, `-v N` and
/// `--log-format json`.
#[test]
fn the_program_describes_itself() {
    let env = Env::new();
    let kinds = env.ok(&["api-resources"]);
    assert!(kinds.starts_with("NAME "), "{kinds}");
    let hw = kinds
        .lines()
        .find(|l| l.starts_with("hardware "))
        .expect("hardware");
    let cells: Vec<&str> = hw.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "hardware",
            "hw",
            "tinkerbell.org/v1alpha1",
            "true",
            "Hardware"
        ]
    );

    let err = env.fails(&["get", "hardwre"]);
    assert!(err.contains("(did you mean \"hardware\"?)"), "{err}");
    let err = env.fails(&["delete", "wrokflow/w1"]);
    assert!(err.contains("(did you mean \"workflows\"?)"), "{err}");
    let typo = env.file(
        "typo.yaml",
        "apiVersion: tinkerbell.org/v1alpha1\nkind: Hardwre\nmetadata: {name: a}\nspec: {}\n",
    );
    let err = env.fails(&["apply", "-f", typo.to_str().expect("utf8")]);
    assert!(
        err.contains("unknown kind \"Hardwre\" (did you mean \"Hardware\"?)"),
        "{err}"
    );

    for shell in ["bash", "zsh", "fish"] {
        let script = env.ok(&["completion", shell]);
        assert!(script.contains("api-resources"), "{shell}: {script}");
    }
    let bash = env.file("ironbell.bash", &env.ok(&["completion", "bash"]));
    let check = Command::new("bash")
        .arg("-n")
        .arg(&bash)
        .output()
        .expect("bash");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let man = env.dir.path().join("man1");
    let out = env.ok(&["man", man.to_str().expect("utf8")]);
    assert!(out.contains("manual pages written"), "{out}");
    let page = std::fs::read_to_string(man.join("ironbell-get.1")).expect("ironbell-get.1");
    assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
    assert!(page.contains("all\\-namespaces"), "{page}");
    let rendered = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .arg(man.join("ironbell.1"))
        .output()
        .expect("groff");
    assert!(
        rendered.status.success()
            && String::from_utf8_lossy(&rendered.stdout).contains("api-resources"),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );

    let version = env.ok(&["--version"]);
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo())
        .output()
        .expect("git");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert!(!head.is_empty());
    assert!(
        version.contains(&format!("(commit {head})")),
        "{version} vs {head}"
    );

    // -v 4 is debug everywhere (the open-file limit is logged at debug at start-up).
    let quiet = env.run(&["api-resources"]);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    let debug = env.run(&["api-resources", "-v", "4"]);
    let stderr = String::from_utf8_lossy(&debug.stderr);
    assert!(
        stderr.contains("DEBUG") && stderr.contains("open-file limit"),
        "{stderr}"
    );
    let json = env.run(&["--log-format", "json", "-v", "4", "api-resources"]);
    let stderr = String::from_utf8_lossy(&json.stderr);
    let line = stderr.lines().next().expect("a log line");
    let v: serde_json::Value = serde_json::from_str(line).expect(line);
    assert_eq!(v["level"], "DEBUG", "{line}");
    assert_eq!(v["fields"]["message"], "open-file limit", "{line}");
}

/// A name two namespaces share: `describe` and `logs` take the current namespace's, as
/// `get` does, rather than refusing it as ambiguous; `-n` picks the other.
#[test]
fn a_name_in_two_namespaces_is_the_current_namespaces() {
    let env = Env::new();
    let hardware = |ns: &str, mac: &str, ip: &str| {
        format!(
            "apiVersion: tinkerbell.org/v1alpha1\nkind: Hardware\n\
             metadata: {{name: node1, namespace: {ns}}}\nspec:\n  interfaces:\n  \
             - dhcp: {{mac: \"{mac}\", ip: {{address: {ip}, netmask: 255.255.255.0}}}}\n"
        )
    };
    let file = env.file(
        "hw.yaml",
        &format!(
            "{}---\n{}",
            hardware("eksa-system", "3c:ec:ef:00:00:01", "10.0.0.1"),
            hardware("rack2", "3c:ec:ef:00:00:02", "10.0.0.2")
        ),
    );
    env.ok(&["apply", "-f", file.to_str().expect("utf8")]);
    let current = env.ok(&["describe", "hardware", "node1"]);
    assert!(current.contains("3c:ec:ef:00:00:01"), "{current}");
    let other = stdout_of(
        &env.run_in(Some("rack2"), &["describe", "hardware", "node1"]),
        "describe",
    );
    assert!(other.contains("3c:ec:ef:00:00:02"), "{other}");
    let given = env.ok(&["describe", "hardware", "node1", "-n", "rack2"]);
    assert!(given.contains("3c:ec:ef:00:00:02"), "{given}");
    // Nowhere current: the name is in two other namespaces, which the error names.
    let out = env.run_in(Some("elsewhere"), &["get", "hw", "node1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("eksa-system") && err.contains("rack2"),
        "{err}"
    );
}

#[test]
fn get_prints_every_output_format() {
    let env = Env::new();
    let csv = env.file("hw.csv", CSV);
    env.ok(&["hardware", "import", csv.to_str().expect("utf8")]);

    // The printer columns: Tinkerbell's STATE first, then ironbell's; wide adds LABELS.
    let table = env.ok(&["get", "hardware"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .expect(&table)
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAMESPACE", "NAME", "STATE", "MAC", "IP", "BMC"],
        "{table}"
    );
    assert!(table.contains("aa:bb:cc:00:00:01"), "{table}");
    let wide = env.ok(&["get", "hardware", "-o", "wide"]);
    assert!(
        wide.lines().next().expect(&wide).ends_with("LABELS"),
        "{wide}"
    );
    assert!(wide.contains("type=cp"), "{wide}");

    let names = env.ok(&["get", "hardware", "-o", "name"]);
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        ["hardware.tinkerbell.org/cp1", "hardware.tinkerbell.org/w1"]
    );
    let secrets = env.ok(&["get", "secrets", "-o", "name"]);
    assert_eq!(secrets.trim(), "secret/bmc-cp1-auth");

    let path = env.ok(&[
        "get",
        "hardware",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name}={.spec.interfaces[0].dhcp.ip.address}{"\n"}{end}"#,
    ]);
    assert_eq!(path, "cp1=10.0.0.11\nw1=10.0.0.21\n");
    let one = env.ok(&[
        "get",
        "hardware",
        "cp1",
        "-o",
        "jsonpath={.spec.bmcRef.name}",
    ]);
    assert_eq!(one, "bmc-cp1");
    let filtered = env.ok(&[
        "get",
        "hardware",
        "-o",
        r#"jsonpath={.items[?(@.metadata.labels.type=="worker")].metadata.name}"#,
    ]);
    assert_eq!(filtered, "w1");

    let custom = env.ok(&[
        "get",
        "hardware",
        "-o",
        "custom-columns=HOST:.metadata.name,BMC:.spec.bmcRef.name",
    ]);
    let rows: Vec<Vec<&str>> = custom
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["HOST", "BMC"],
            vec!["cp1", "bmc-cp1"],
            vec!["w1", "<none>"]
        ]
    );

    // Secret values stay redacted in every format.
    let data = env.ok(&["get", "secrets", "-o", "jsonpath={.items[0].data.password}"]);
    assert_eq!(data, "<redacted>");

    for bad in ["jsonpath={.a", "custom-columns=NAME", "xml", "jsonpath="] {
        let err = env.fails(&["get", "hardware", "-o", bad]);
        assert!(
            err.contains("-o") || err.contains("JSONPath") || err.contains("output"),
            "{bad}: {err}"
        );
    }
}
