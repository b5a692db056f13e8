//! `ironbell serve api` and `ironbell kubeconfig` as a user runs them: the API over the
//! embedded store on a loopback port, its credentials made on first start beside the store,
//! and kubectl (the newest found) reading and writing through a kubeconfig of each role;
//! then `ironbell` itself on the store `kubeconfig:PATH` (`ironbell-store-kube` through the
//! API): the same import again finds everything unchanged, and the read-only role cannot
//! write. The API itself is tested in depth by `ironbell-kube-api`'s tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // Only the process this test started, by its PID.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ironbell(db: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ironbell"));
    cmd.arg("--db").arg(db).env_remove("IRONBELL_LOG");
    cmd
}

/// The newest `kubectl.1.NN` beside `/usr/bin/kubectl`'s real path, else that one.
fn kubectl() -> Option<PathBuf> {
    let main = Path::new("/usr/bin/kubectl");
    let dir = std::fs::canonicalize(main).ok()?.parent()?.to_path_buf();
    let newest = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let minor: u32 = e
                .file_name()
                .to_str()?
                .strip_prefix("kubectl.1.")?
                .parse()
                .ok()?;
            Some((minor, e.path()))
        })
        .max();
    newest
        .map(|(_, p)| p)
        .or_else(|| main.exists().then(|| main.to_path_buf()))
}

#[test]
fn serve_api_and_kubeconfig_for_each_role() {
    let Some(kubectl) = kubectl() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "no kubectl found on this CI machine"
        );
        eprintln!("skipped: no kubectl on this machine");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("plane/store.db");
    let csv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../hardware/example.csv");
    let out = ironbell(&db)
        .args(["hardware", "import", csv])
        .output()
        .expect("import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let _server = Server(
        ironbell(&db)
            .args(["serve", "api", "--api-addr", &addr])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve api"),
    );
    let api_dir = dir.path().join("plane/api");
    let kubeconfig = |file: &str, extra: &[&str]| {
        let path = dir.path().join(file);
        let out = ironbell(&db)
            .args(["kubeconfig", "--server", &format!("https://{addr}"), "-o"])
            .arg(&path)
            .args(extra)
            .output()
            .expect("kubeconfig");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    };
    let run = |config: &Path, args: &[&str]| {
        Command::new(&kubectl)
            .args(args)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .env("KUBECONFIG", config)
            .env("HOME", dir.path())
            .output()
            .expect("kubectl")
    };
    let admin = kubeconfig("admin.yaml", &[]);
    // The server is up once kubectl gets an answer.
    let deadline = Instant::now() + Duration::from_secs(30);
    let table = loop {
        let out = run(&admin, &["get", "hardware", "-n", "eksa-system"]);
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        table.starts_with("NAME") && table.contains("3c:ec:ef:10:00:11"),
        "{table}"
    );
    for private in ["ca.key", "server.key", "admin.token", "read-only.token"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(api_dir.join(private))
            .expect(private)
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{private}");
    }

    let out = run(
        &admin,
        &["label", "hw", "eksa-wk01", "-n", "eksa-system", "rack=r2"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read_only = kubeconfig("ro.yaml", &["--role", "read-only", "--client-cert"]);
    let out = run(
        &read_only,
        &["get", "hw", "-A", "-l", "rack=r2", "-o", "name"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hardware.tinkerbell.org/eksa-wk01"
    );
    let out = run(
        &read_only,
        &["delete", "hw", "eksa-wk01", "-n", "eksa-system"],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Forbidden"),
        "{out:?}"
    );
    // The store saw the admin's write.
    let out = ironbell(&db)
        .args(["get", "hw", "-l", "rack=r2", "-o", "name"])
        .output()
        .expect("get");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hardware.tinkerbell.org/eksa-wk01"
    );

    // ironbell on the Kubernetes API as its store.
    let through_api = |config: &Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ironbell"));
        cmd.arg("--store")
            .arg(format!("kubeconfig:{}", config.display()))
            .env_remove("IRONBELL_LOG")
            .env_remove("IRONBELL_DB");
        cmd
    };
    let out = through_api(&admin)
        .args(["get", "hw", "-A", "-l", "rack=r2", "-o", "name"])
        .output()
        .expect("get through the API");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hardware.tinkerbell.org/eksa-wk01",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same import again, through the API: nothing to create.
    let out = through_api(&admin)
        .args(["hardware", "import", csv])
        .output()
        .expect("import through the API");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && said.contains("0 objects created"),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = through_api(&read_only)
        .args(["hardware", "import", csv])
        .output()
        .expect("import as read-only");
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Forbidden"),
        "{out:?}"
    );
}
