//! Benchmark: kubectl against the API at scale, beside `ironbell get` on the same store.
//!
//! ```text
//! cargo bench -p ironbell-kube-api --bench kubectl_scale -- [--objects N] [--kubectl PATH] [--ironbell PATH]
//! ```
//!
//! Fills a fresh embedded store with N Hardware (default 10,000) in namespace `bench`,
//! serves the API from this process, then times (best of three runs, each a new process):
//! `kubectl get hardware` (a server-side `Table`), `kubectl get hardware -o json` and
//! `-o name` (in kubectl's default pages of 500), the Table and `-o json` in one page
//! (`--chunk-size=0`), and, given `--ironbell` (a release `ironbell` binary), `ironbell get
//! hardware` and `-o json` on the same store file. Then a watch: `kubectl get hardware -w
//! --watch-only -o name` while every object is updated once, timed from the first write
//! to the N-th line kubectl prints. Last, the process's peak resident memory (the API,
//! its store and the writer of the updates; the kubectl processes are not in it).

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt as _, TryStreamExt as _, stream};
use ironbell_kube_api::{ApiConfig, ApiState, Role, Security, ServingCert};
use ironbell_model::{DynamicObject, KindRegistry, ObjectMeta, TypeKey};
use ironbell_store::{Op, SharedStore};
use serde_json::json;
use tokio::io::AsyncBufReadExt as _;

/// The same allocator as the `ironbell` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn hardware(i: usize) -> DynamicObject {
    let name = format!("node-{i:05}");
    let mac = format!(
        "02:42:{:02x}:{:02x}:{:02x}:01",
        i >> 16,
        (i >> 8) & 255,
        i & 255
    );
    let mut meta = ObjectMeta::named("bench", &name);
    meta.labels = Some([("rack".to_string(), format!("r{}", i % 40))].into());
    let mut hw = DynamicObject::new(TypeKey::new("tinkerbell.org/v1alpha1", "Hardware"), meta);
    let spec = json!({
        "bmcRef": {"apiGroup": "bmc.tinkerbell.org", "kind": "Machine", "name": format!("bmc-{name}")},
        "disks": [{"device": "/dev/nvme0n1"}],
        "interfaces": [{
            "dhcp": {
                "mac": mac, "hostname": name, "arch": "x86_64", "uefi": true,
                "lease_time": 86_400, "name_servers": ["10.1.0.2"],
                "ip": {"address": format!("10.1.{}.{}", i / 200, i % 200 + 10),
                       "netmask": "255.255.0.0", "gateway": "10.1.0.1"},
            },
            "netboot": {"allowPXE": true, "allowWorkflow": true},
        }],
    });
    // A fixed, valid value: set_field fails only on a value that does not serialize.
    let _ = hw.set_field("spec", &spec);
    hw
}

struct Args {
    objects: usize,
    kubectl: PathBuf,
    ironbell: Option<PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let mut out = Args {
        objects: 10_000,
        kubectl: PathBuf::from("/usr/bin/kubectl"),
        ironbell: None,
    };
    let mut it = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))
        };
        match a.as_str() {
            "--objects" => out.objects = value()?.parse()?,
            "--kubectl" => out.kubectl = value()?.into(),
            "--ironbell" => out.ironbell = Some(value()?.into()),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(out)
}

/// The best of three runs of a command that must succeed; its output's line count.
async fn best_of_three(
    mut make: impl FnMut() -> tokio::process::Command,
) -> anyhow::Result<(Duration, usize)> {
    let mut best = Duration::MAX;
    let mut lines = 0;
    for _ in 0..3 {
        let t0 = Instant::now();
        let out = make().output().await?;
        let took = t0.elapsed();
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        best = best.min(took);
        lines = out.stdout.iter().filter(|b| **b == b'\n').count();
    }
    Ok((best, lines))
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("store.db");
    let store: SharedStore = Arc::new(ironbell_store_sqlite::SqliteStore::open(&db)?);
    let t0 = Instant::now();
    for chunk in (0..args.objects).collect::<Vec<_>>().chunks(1000) {
        store
            .commit(chunk.iter().map(|i| Op::Create(hardware(*i))).collect())
            .await?;
    }
    println!(
        "store: {} Hardware written in {:.1?} (peak RSS so far {} MiB)",
        args.objects,
        t0.elapsed(),
        peak_rss_kib() / 1024
    );

    let security = Arc::new(Security::load_or_create(
        &dir.path().join("api"),
        &ServingCert::Generated,
    )?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = format!("https://{}", listener.local_addr()?);
    let state = Arc::new(ApiState::new(
        store.clone(),
        KindRegistry::builtin(),
        security.clone(),
        ApiConfig::default(),
    ));
    tokio::spawn(ironbell_kube_api::serve(
        listener,
        state,
        std::future::pending(),
    ));
    let config = dir.path().join("kubeconfig");
    std::fs::write(
        &config,
        ironbell_kube_api::kubeconfig(&server, &security, Role::Admin, false, "bench")?,
    )?;
    let kubectl = |extra: &[&str]| {
        let mut cmd = tokio::process::Command::new(&args.kubectl);
        cmd.args(["get", "hardware", "-n", "bench"])
            .args(extra)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .env("KUBECONFIG", &config)
            .kill_on_drop(true);
        cmd
    };
    let ironbell = |bin: &Path, extra: &[&str]| {
        let mut cmd = tokio::process::Command::new(bin);
        cmd.arg("--db")
            .arg(&db)
            .args(["get", "hardware", "-n", "bench"])
            .args(extra);
        cmd
    };
    // Discovery cached, connections warm.
    kubectl(&["-o", "name", "--field-selector", "metadata.name=node-00000"])
        .output()
        .await?;

    println!("\n{:<44} {:>10} {:>8}", "command", "best of 3", "lines");
    let table = best_of_three(|| kubectl(&[])).await?;
    let table_rss = peak_rss_kib() / 1024;
    let mut rows = vec![
        ("kubectl get hardware (Table)", table),
        (
            "kubectl get hardware -o json",
            best_of_three(|| kubectl(&["-o", "json"])).await?,
        ),
        (
            "kubectl get hardware -o name",
            best_of_three(|| kubectl(&["-o", "name"])).await?,
        ),
        // One page: what the lists above cost beyond kubectl's 20 pages of 500.
        (
            "kubectl get hardware --chunk-size=0 (Table)",
            best_of_three(|| kubectl(&["--chunk-size=0"])).await?,
        ),
        (
            "kubectl get hardware --chunk-size=0 -o json",
            best_of_three(|| kubectl(&["--chunk-size=0", "-o", "json"])).await?,
        ),
    ];
    if let Some(bin) = &args.ironbell {
        rows.push((
            "ironbell get hardware",
            best_of_three(|| ironbell(bin, &[])).await?,
        ));
        rows.push((
            "ironbell get hardware -o json",
            best_of_three(|| ironbell(bin, &["-o", "json"])).await?,
        ));
    }
    for (what, (took, lines)) in &rows {
        println!("{what:<44} {:>8.0}ms {lines:>8}", took.as_secs_f64() * 1e3);
    }

    println!(
        "peak RSS after the Table lists: {table_rss} MiB; after every list: {} MiB",
        peak_rss_kib() / 1024
    );

    // A watch of N events: each object updated once while kubectl watches.
    let mut watch = kubectl(&["-w", "--watch-only", "-o", "name"])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(
        watch
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?,
    )
    .lines();
    let types = TypeKey::new("tinkerbell.org/v1alpha1", "Hardware");
    // The watch is open once the first update is seen.
    let touch = |i: usize| {
        let store = store.clone();
        let types = types.clone();
        async move {
            let mut hw = store.get(&types, "bench", &format!("node-{i:05}")).await?;
            hw.metadata
                .labels
                .get_or_insert_default()
                .insert("touched".into(), "yes".into());
            store.update(hw).await?;
            anyhow::Ok(())
        }
    };
    // kubectl lists, then watches from the list's version: touch node 0 until a line
    // shows the watch is open.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        touch(0).await?;
        if tokio::time::timeout(Duration::from_millis(300), lines.next_line())
            .await
            .is_ok()
        {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "kubectl get -w printed nothing");
    }
    let t0 = Instant::now();
    let writes = stream::iter(1..args.objects)
        .map(touch)
        .buffer_unordered(8)
        .try_collect::<Vec<()>>();
    let reads = async {
        let mut seen = 1;
        while seen < args.objects {
            let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
                .await??
                .ok_or_else(|| anyhow::anyhow!("kubectl get -w ended"))?;
            // Late events of node 0's touches are not among the N - 1 counted.
            if !line.ends_with("/node-00000") {
                seen += 1;
            }
        }
        anyhow::Ok(t0.elapsed())
    };
    let (written, seen) = tokio::join!(writes, reads);
    written?;
    let seen = seen?;
    let events = args.objects - 1;
    println!(
        "\nwatch: {events} updates seen by kubectl get -w in {:.2}s ({:.0} events/s)",
        seen.as_secs_f64(),
        events as f64 / seen.as_secs_f64()
    );
    watch.kill().await?;
    println!(
        "peak RSS of the API process (API, store, writer): {} MiB",
        peak_rss_kib() / 1024
    );
    Ok(())
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args().and_then(|a| runtime.block_on(run(a))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
