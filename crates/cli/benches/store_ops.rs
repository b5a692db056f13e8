//! Benchmark: store operations per second and watch latency on any stores, side by side
//! (`scripts/bench-store` runs it on the embedded store and a three-member etcd in one run),
//! and the time of a full list of a plane's inventory (the scale part of that script).
//!
//! ```text
//! cargo bench -p ironbell --bench store_ops -- ops [--objects N] [--concurrency C] [--watch W] NAME=SPEC...
//! cargo bench -p ironbell --bench store_ops -- list [--repeat R] [--expect N] SPEC
//! ```
//!
//! `ops`: on each store (a store spec, as `--store` takes; give each a fresh SQLite file or
//! etcd prefix), in namespace `bench`: creates N Hardware (a realistic spec of about 700
//! bytes), gets each, lists them all (20 times), updates each, measures watch latency (W
//! updates one after another, each timed from the moment the write is issued until the
//! watch delivers its event: the commit and the event together, what a controller waits),
//! then deletes each. Writes and reads run C at a time. Any failed operation aborts the run:
//! a figure only counts when every operation succeeded and every list returned N objects.
//! Prints one table, each store a column, and the ratio of the last store to the first.
//!
//! `list`: lists every Hardware, BMC Machine and Secret (all namespaces) R times and prints
//! the best time; fails unless the three lists hold `--expect` objects together.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use ironbell_model::{DynamicObject, ObjectMeta, TypeKey};
use ironbell_ops::spec::{Access, StoreSpec, open};
use ironbell_store::{ListParams, SharedStore, WatchEvent};
use serde_json::json;

/// The same allocator as the `ironbell` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NAMESPACE: &str = "bench";
const LISTS: usize = 20;

fn hardware_type() -> TypeKey {
    TypeKey::new("tinkerbell.org/v1alpha1", "Hardware")
}

fn hardware(i: usize, generation: usize) -> anyhow::Result<DynamicObject> {
    let mut meta = ObjectMeta::named(NAMESPACE, format!("hw-{i:06}"));
    meta.labels = Some([("type".to_string(), "worker".to_string())].into());
    let mut o = DynamicObject::new(hardware_type(), meta);
    let (a, b) = (i / 250, i % 250 + 1);
    o.set_field(
        "spec",
        &json!({
            "bmcRef": {"apiGroup": "bmc.tinkerbell.org", "kind": "Machine", "name": format!("bmc-hw-{i:06}")},
            "disks": [{"device": "/dev/sda"}],
            "metadata": {"instance": {"hostname": format!("hw-{i:06}"), "id": format!("02:00:00:{:02x}:{:02x}:{:02x}", (i >> 16) & 255, (i >> 8) & 255, i & 255), "generation": generation}},
            "interfaces": [{
                "dhcp": {
                    "arch": "x86_64", "hostname": format!("hw-{i:06}"), "lease_time": 4_294_967_294u32,
                    "mac": format!("02:00:00:{:02x}:{:02x}:{:02x}", (i >> 16) & 255, (i >> 8) & 255, i & 255),
                    "name_servers": ["10.0.0.2", "10.0.0.3"], "uefi": true,
                    "ip": {"address": format!("10.{a}.{}.{b}", (i / 250) % 250), "gateway": format!("10.{a}.0.1"), "netmask": "255.255.0.0"}
                },
                "netboot": {"allowPXE": true, "allowWorkflow": true}
            }]
        }),
    )?;
    Ok(o)
}

/// Operations per second of one phase.
struct Rate {
    ops: usize,
    wall: Duration,
}

impl Rate {
    fn per_s(&self) -> f64 {
        self.ops as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

struct Figures {
    name: String,
    create: Rate,
    get: Rate,
    list: Rate,
    update: Rate,
    delete: Rate,
    watch_p50: Duration,
    watch_p99: Duration,
}

async fn timed<F, Fut, T>(n: usize, concurrency: usize, f: F) -> anyhow::Result<(Rate, Vec<T>)>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let t0 = Instant::now();
    let mut out: Vec<(usize, T)> = stream::iter(0..n)
        .map(|i| {
            let fut = f(i);
            async move { fut.await.map(|t| (i, t)) }
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    let wall = t0.elapsed();
    out.sort_by_key(|(i, _)| *i);
    Ok((
        Rate { ops: n, wall },
        out.into_iter().map(|(_, t)| t).collect(),
    ))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn bench(
    name: String,
    store: SharedStore,
    n: usize,
    concurrency: usize,
    watches: usize,
) -> anyhow::Result<Figures> {
    let t = hardware_type();
    let s = &store;
    let (create, created) = timed(n, concurrency, |i| async move {
        Ok(s.create(hardware(i, 0)?).await?)
    })
    .await?;
    let (get, _) = timed(n, concurrency, |i| {
        let t = t.clone();
        async move { Ok(s.get(&t, NAMESPACE, &format!("hw-{i:06}")).await?) }
    })
    .await?;
    let (list, _) = timed(LISTS, 1, |_| {
        let t = t.clone();
        async move {
            let items = s.list(&t, &ListParams::namespace(NAMESPACE)).await?.items;
            anyhow::ensure!(items.len() == n, "a list returned {} of {n}", items.len());
            Ok(())
        }
    })
    .await?;
    let created = Arc::new(created);
    let (update, updated) = timed(n, concurrency, |i| {
        let created = created.clone();
        async move {
            let mut next = hardware(i, 1)?;
            next.metadata.resource_version = created[i].metadata.resource_version.clone();
            Ok(s.update(next).await?)
        }
    })
    .await?;

    // Watch latency: one write at a time, each timed until its event arrives.
    let mut events = store
        .watch(&t, &ListParams::namespace(NAMESPACE), None)
        .await?;
    let mut latencies = Vec::with_capacity(watches);
    let mut current = updated;
    for k in 0..watches {
        let i = k % n;
        let mut next = hardware(i, k + 2)?;
        next.metadata.resource_version = current[i].metadata.resource_version.clone();
        let t0 = Instant::now();
        let written = store.update(next).await?;
        let rv = written.metadata.resource_version.clone();
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), events.next())
                .await
                .map_err(|_| anyhow::anyhow!("no watch event within 10 s"))?
                .ok_or_else(|| anyhow::anyhow!("the watch ended"))??;
            if let WatchEvent::Modified(o) = &event
                && o.name() == written.name()
                && o.metadata.resource_version == rv
            {
                break;
            }
        }
        latencies.push(t0.elapsed());
        current[i] = written;
    }
    latencies.sort();
    drop(events);

    let (delete, _) = timed(n, concurrency, |i| {
        let t = t.clone();
        async move { Ok(s.delete(&t, NAMESPACE, &format!("hw-{i:06}"), None).await?) }
    })
    .await?;
    let left = store.list(&t, &ListParams::namespace(NAMESPACE)).await?;
    anyhow::ensure!(left.items.is_empty(), "{} objects left", left.items.len());
    Ok(Figures {
        name,
        create,
        get,
        list,
        update,
        delete,
        watch_p50: percentile(&latencies, 0.50),
        watch_p99: percentile(&latencies, 0.99),
    })
}

/// One row of the table: its label and the figure of a store.
type Row = (&'static str, fn(&Figures) -> f64);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_ops(all: &[Figures], n: usize, concurrency: usize) {
    let rows: [Row; 7] = [
        ("create/s", |f| f.create.per_s()),
        ("get/s", |f| f.get.per_s()),
        ("list/s (full list)", |f| f.list.per_s()),
        ("update/s", |f| f.update.per_s()),
        ("delete/s", |f| f.delete.per_s()),
        ("watch latency p50 (ms)", |f| ms(f.watch_p50)),
        ("watch latency p99 (ms)", |f| ms(f.watch_p99)),
    ];
    println!("{n} Hardware, {concurrency} operations in flight; lists of all {n}");
    let mut header = format!("| {:<24}", "");
    for f in all {
        header.push_str(&format!(" | {:>14}", f.name));
    }
    let ratio = all.len() > 1;
    if ratio {
        header.push_str(" | last/first");
    }
    println!("{header} |");
    for (label, v) in rows {
        let mut row = format!("| {label:<24}");
        for f in all {
            row.push_str(&format!(" | {:>14.2}", v(f)));
        }
        if let (true, Some(first), Some(last)) = (ratio, all.first(), all.last()) {
            let (a, b) = (v(first), v(last));
            row.push_str(&format!(" | {:>10.2}", if a > 0.0 { b / a } else { 0.0 }));
        }
        println!("{row} |");
    }
}

async fn list(spec: &str, repeat: usize, expect: Option<usize>) -> anyhow::Result<()> {
    let spec: StoreSpec = spec.parse()?;
    let handle = open(&spec, Access::Existing)?;
    let store = handle.store();
    let kinds = [
        hardware_type(),
        TypeKey::new("bmc.tinkerbell.org/v1alpha1", "Machine"),
        TypeKey::new("v1", "Secret"),
    ];
    let mut best = Duration::MAX;
    let mut count = 0;
    for _ in 0..repeat.max(1) {
        let t0 = Instant::now();
        count = 0;
        for k in &kinds {
            count += store.list(k, &ListParams::default()).await?.items.len();
        }
        best = best.min(t0.elapsed());
    }
    if let Some(e) = expect {
        anyhow::ensure!(count == e, "listed {count} objects, expected {e}");
    }
    println!(
        "list: {count} objects in {:.3} s ({:.1} us per object, best of {repeat})",
        best.as_secs_f64(),
        best.as_secs_f64() * 1e6 / count.max(1) as f64
    );
    Ok(())
}

async fn run(args: Vec<String>) -> anyhow::Result<()> {
    let mut args = args.into_iter().filter(|a| a != "--bench");
    let mode = args.next().unwrap_or_default();
    let (mut n, mut concurrency, mut watches, mut repeat, mut expect) = (2000, 16, 500, 3, None);
    let mut specs = Vec::new();
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> anyhow::Result<usize> {
            let v = args
                .next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value"))?;
            Ok(v.parse()?)
        };
        match a.as_str() {
            "--objects" => n = value("--objects")?,
            "--concurrency" => concurrency = value("--concurrency")?,
            "--watch" => watches = value("--watch")?,
            "--repeat" => repeat = value("--repeat")?,
            "--expect" => expect = Some(value("--expect")?),
            _ => specs.push(a),
        }
    }
    match mode.as_str() {
        "ops" => {
            let mut all = Vec::new();
            for s in &specs {
                let (name, spec) = s.split_once('=').unwrap_or((s.as_str(), s.as_str()));
                let spec: StoreSpec = spec.parse()?;
                let handle = open(&spec, Access::Create)?;
                eprintln!("benchmarking {name} ({spec})");
                let store = handle.store().clone();
                all.push(bench(name.to_string(), store, n, concurrency.max(1), watches).await?);
            }
            anyhow::ensure!(!all.is_empty(), "no store given");
            print_ops(&all, n, concurrency);
            Ok(())
        }
        "list" => {
            let spec = specs
                .first()
                .ok_or_else(|| anyhow::anyhow!("list needs a store spec"))?;
            list(spec, repeat, expect).await
        }
        other => anyhow::bail!("unknown mode {other:?}: ops or list (see the file's top)"),
    }
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
    match runtime.block_on(run(std::env::args().skip(1).collect())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
