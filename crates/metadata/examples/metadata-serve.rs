//! Runs the metadata service alone on an embedded SQLite store, for benchmarks and manual
//! tests (the real command is `ironbell serve metadata`).
//!
//! ```text
//! metadata-serve DB LISTEN [--generate N [--exit]] [--trusted-proxies CIDR,...] [--require-tokens]
//! ```
//!
//! `--generate N` first fills an empty store with N Hardware: the first at 127.0.0.1 (so a
//! client on loopback is a machine), the others at 10.x.y.z; with `--exit` it stops there
//! (so that a benchmark measures a service that did not build the store). Logs follow `RUST_LOG`
//! (default `warn`). Stops on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use ironbell_metadata::{Cidr, Config};
use ironbell_model::tinkerbell::Hardware;
use ironbell_model::{DynamicObject, TypeKey};
use ironbell_store::{ListParams, Op, SharedStore};
use ironbell_store_sqlite::SqliteStore;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    db: String,
    listen: SocketAddr,
    generate: usize,
    exit: bool,
    trusted: Vec<Cidr>,
    require_tokens: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let usage = "usage: metadata-serve DB LISTEN [--generate N [--exit]] [--trusted-proxies CIDR,...] [--require-tokens]";
    let db = it.next().ok_or(usage)?;
    let listen = it
        .next()
        .ok_or(usage)?
        .parse()
        .map_err(|e| format!("LISTEN: {e}"))?;
    let mut args = Args {
        db,
        listen,
        generate: 0,
        exit: false,
        trusted: Vec::new(),
        require_tokens: false,
    };
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--generate" => {
                args.generate = it
                    .next()
                    .ok_or(usage)?
                    .parse()
                    .map_err(|e| format!("--generate: {e}"))?;
            }
            "--trusted-proxies" => {
                args.trusted = Cidr::parse_list(&it.next().ok_or(usage)?)
                    .map_err(|e| format!("--trusted-proxies: {e}"))?;
            }
            "--require-tokens" => args.require_tokens = true,
            "--exit" => args.exit = true,
            other => return Err(format!("unknown argument {other:?}\n{usage}")),
        }
    }
    Ok(args)
}

/// Hardware number `i`: 127.0.0.1 for 0, else 10.x.y.z.
fn generated(i: usize) -> Result<DynamicObject, String> {
    let ip = if i == 0 {
        "127.0.0.1".to_string()
    } else {
        format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff)
    };
    let mac = format!(
        "02:00:00:{:02x}:{:02x}:{:02x}",
        (i >> 16) & 0xff,
        (i >> 8) & 0xff,
        i & 0xff
    );
    let hw: Hardware = serde_json::from_value(serde_json::json!({
        "apiVersion": "tinkerbell.org/v1alpha1",
        "kind": "Hardware",
        "metadata": {"name": format!("machine-{i:05}"), "namespace": "eksa-system"},
        "spec": {
            "interfaces": [{
                "dhcp": {"mac": mac, "hostname": format!("machine-{i:05}"),
                    "ip": {"address": ip, "netmask": "255.0.0.0", "gateway": "10.0.0.1", "family": 4},
                    "name_servers": ["10.0.0.2"], "lease_time": 86400, "arch": "x86_64", "uefi": true},
                "netboot": {"allowPXE": true, "allowWorkflow": true},
            }],
            "metadata": {
                "facility": {"plan_slug": "c3.small.x86", "facility_code": "onprem"},
                "instance": {
                    "id": mac, "hostname": format!("machine-{i:05}"),
                    "ips": [{"address": ip, "family": 4, "public": false}],
                    "operating_system": {"slug": "ubuntu_22_04", "distro": "ubuntu", "version": "22.04", "image_tag": "v1"},
                    "tags": ["eksa", "worker"],
                    "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@example"],
                    "storage": {"disks": [{"device": "/dev/sda", "wipe_table": true}]},
                },
            },
            "disks": [{"device": "/dev/sda"}],
            "userData": format!("#cloud-config\nhostname: machine-{i:05}\nusers:\n  - name: ec2-user\n"),
        },
    }))
    .map_err(|e| format!("generated Hardware {i}: {e}"))?;
    DynamicObject::from_typed(&hw).map_err(|e| format!("generated Hardware {i}: {e}"))
}

async fn fill(store: &SharedStore, n: usize) -> Result<(), String> {
    if n == 0 {
        // No list here: its objects would count in the service's peak RSS.
        return Ok(());
    }
    let have = store
        .list(&TypeKey::of::<Hardware>(), &ListParams::default())
        .await
        .map_err(|e| format!("listing Hardware: {e}"))?
        .items
        .len();
    if have > 0 {
        eprintln!("store already holds {have} Hardware; not generating");
        return Ok(());
    }
    let mut i = 0;
    while i < n {
        let end = (i + 1000).min(n);
        let ops = (i..end)
            .map(|j| generated(j).map(Op::Create))
            .collect::<Result<Vec<_>, _>>()?;
        store
            .commit(ops)
            .await
            .map_err(|e| format!("creating Hardware {i}..{end}: {e}"))?;
        i = end;
    }
    eprintln!("generated {n} Hardware");
    Ok(())
}

async fn run(args: Args) -> Result<(), String> {
    let store: SharedStore =
        Arc::new(SqliteStore::open(&args.db).map_err(|e| format!("opening {}: {e}", args.db))?);
    fill(&store, args.generate).await?;
    if args.exit {
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("binding {}: {e}", args.listen))?;
    let config = Config {
        listen: args.listen,
        trusted_proxies: args.trusted,
        require_tokens: args.require_tokens,
        ..Config::default()
    };
    let shutdown = async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    ironbell_metadata::serve(store, config, listener, shutdown)
        .await
        .map_err(|e| format!("serving: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("metadata-serve: {e}");
            ExitCode::FAILURE
        }
    }
}
