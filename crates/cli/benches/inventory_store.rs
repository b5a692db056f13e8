//! Benchmark: a generated 10,000-row hardware.csv through parse + validate + translate, an
//! atomic import into a fresh embedded store (30,000 objects), then list, get and watch.
//!
//! Run: `cargo bench -p ironbell --bench inventory_store [-- ROWS]`. Prints wall time, CPU
//! time (user + system, from /proc/self/stat) and rates per phase, and the peak RSS.
//! Deterministic input: the CSV is generated from the row index only.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use ironbell_model::TypeKey;
use ironbell_store::{ListParams, Op, SharedStore};

/// The same allocator as the `ironbell` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn cpu_time() -> Duration {
    // Fields 14 and 15 of /proc/self/stat: utime and stime in clock ticks (100 Hz on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn generate_csv(rows: usize) -> String {
    let mut s = String::with_capacity(rows * 160);
    s.push_str("hostname,bmc_ip,bmc_username,bmc_password,mac,ip_address,netmask,gateway,nameservers,labels,disk,vlan_id\n");
    for i in 0..rows {
        let (a, b) = (i / 250, i % 250 + 1);
        let _ = writeln!(
            s,
            "node-{i:05},172.16.{a}.{b},admin,pw-{i},02:00:00:{:02x}:{:02x}:{:02x},10.{a}.{}.{b},255.255.0.0,10.{a}.0.1,10.0.0.2|10.0.0.3,type={}|rack=r{},/dev/sda,{}",
            (i >> 16) & 0xff,
            (i >> 8) & 0xff,
            i & 0xff,
            (i / 250) % 250,
            if i % 10 < 3 { "cp" } else { "worker" },
            i % 40,
            i % 4094 + 1,
        );
    }
    s
}

struct Phase {
    name: &'static str,
    wall: Duration,
    cpu: Duration,
    items: usize,
    unit: &'static str,
}

fn measure<T>(
    name: &'static str,
    items: usize,
    unit: &'static str,
    phases: &mut Vec<Phase>,
    f: impl FnOnce() -> T,
) -> T {
    let (c0, t0) = (cpu_time(), Instant::now());
    let out = f();
    phases.push(Phase {
        name,
        wall: t0.elapsed(),
        cpu: cpu_time().saturating_sub(c0),
        items,
        unit,
    });
    out
}

fn main() -> anyhow::Result<()> {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let csv = generate_csv(rows);
    let mut phases = Vec::new();

    let parsed = measure("csv parse + validate", rows, "rows", &mut phases, || {
        ironbell_inventory::parse(&csv)
    })?;
    let objects = measure("translate to objects", rows, "rows", &mut phases, || {
        ironbell_inventory::to_objects(&parsed, "eksa-system")
    });
    let dynamic = measure(
        "to dynamic form",
        objects.len(),
        "objects",
        &mut phases,
        || {
            objects
                .iter()
                .map(|o| o.to_dynamic())
                .collect::<Result<Vec<_>, _>>()
        },
    )?;
    let n = dynamic.len();
    let store: SharedStore = Arc::new(ironbell_store_sqlite::SqliteStore::open(
        dir.path().join("bench.db"),
    )?);
    measure(
        "store commit (one transaction)",
        n,
        "objects",
        &mut phases,
        || rt.block_on(store.commit(dynamic.into_iter().map(Op::Create).collect())),
    )?;

    let kinds = [
        TypeKey::new("tinkerbell.org/v1alpha1", "Hardware"),
        TypeKey::new("bmc.tinkerbell.org/v1alpha1", "Machine"),
        TypeKey::new("v1", "Secret"),
    ];
    let mut listed = 0;
    for round in 0..5 {
        let name = if round == 0 {
            "list all 3 kinds (cold)"
        } else {
            "list all 3 kinds (warm)"
        };
        listed = measure(name, n, "objects", &mut phases, || {
            rt.block_on(async {
                let mut total = 0;
                for k in &kinds {
                    total += store.list(k, &ListParams::default()).await?.items.len();
                }
                Ok::<_, ironbell_store::StoreError>(total)
            })
        })?;
    }
    assert_eq!(listed, n, "list returned every object");
    let selected = measure(
        "list hardware -l type=cp",
        rows,
        "rows scanned",
        &mut phases,
        || {
            rt.block_on(async {
                let params = ListParams {
                    namespace: Some("eksa-system".into()),
                    selector: Some(ironbell_model::selector::Selector::parse("type=cp")?),
                };
                Ok::<_, anyhow::Error>(store.list(&kinds[0], &params).await?.items.len())
            })
        },
    )?;
    assert_eq!(selected, (0..rows).filter(|i| i % 10 < 3).count());

    measure(
        "get each hardware by name",
        rows,
        "gets",
        &mut phases,
        || {
            rt.block_on(async {
                for i in 0..rows {
                    store
                        .get(&kinds[0], "eksa-system", &format!("node-{i:05}"))
                        .await?;
                }
                Ok::<_, ironbell_store::StoreError>(())
            })
        },
    )?;

    let events = measure(
        "watch hardware from revision 0",
        rows,
        "events",
        &mut phases,
        || {
            rt.block_on(async {
                let mut stream = store
                    .watch(&kinds[0], &ListParams::default(), Some(0))
                    .await?;
                let mut count = 0;
                while count < rows {
                    match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
                        Ok(Some(ev)) => {
                            ev?;
                            count += 1;
                        }
                        _ => break,
                    }
                }
                Ok::<_, ironbell_store::StoreError>(count)
            })
        },
    )?;
    assert_eq!(events, rows, "watch replayed every Hardware");

    println!("ironbell inventory/store benchmark: {rows} rows -> {n} objects");
    println!(
        "{:<34} {:>10} {:>10} {:>14}",
        "phase", "wall ms", "cpu ms", "per second"
    );
    for p in &phases {
        let rate = p.items as f64 / p.wall.as_secs_f64().max(1e-9);
        println!(
            "{:<34} {:>10.1} {:>10} {:>10.0} {}",
            p.name,
            p.wall.as_secs_f64() * 1e3,
            p.cpu.as_millis(),
            rate,
            p.unit
        );
    }
    let import: Duration = phases.iter().take(4).map(|p| p.cpu).sum();
    let import_wall: Duration = phases.iter().take(4).map(|p| p.wall).sum();
    println!(
        "import total: {:.1} ms wall, {} ms cpu ({:.0} rows/s)",
        import_wall.as_secs_f64() * 1e3,
        import.as_millis(),
        rows as f64 / import_wall.as_secs_f64()
    );
    println!("peak RSS: {:.1} MiB", peak_rss_mib());
    Ok(())
}
