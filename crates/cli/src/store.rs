//! Commands on a whole store rather than on objects: `store migrate` (the work is
//! `ironbell_ops::migrate`) and `move` (`ironbell_ops::mover`); this prints their tables.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use ironbell_model::KindRegistry;
use ironbell_ops::mover::{MoveOptions, MoveReport};
use ironbell_ops::spec::{Access, StoreSpec};

use crate::output::write_table;

/// `ironbell store ...`.
#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Copy every object of a plane to another store (e.g. `--from sqlite:PATH --to
    /// etcd://HOST:2379,...`), owner references rebuilt, then check the copy and print,
    /// per kind, the counts and whether every object checked out (exit status 1 if not).
    /// Stop the services on the source first. The target must be empty or hold only what
    /// an interrupted run of the same migration left (run it again to finish).
    Migrate {
        /// The store to copy from (a store spec, as --store takes).
        #[arg(long, value_name = "STORE")]
        from: String,
        /// The store to copy to (a store spec; a SQLite file is created if missing).
        #[arg(long, value_name = "STORE")]
        to: String,
    },
}

/// Runs a `store` command.
pub async fn run(command: StoreCommand, kinds: &KindRegistry) -> anyhow::Result<ExitCode> {
    match command {
        StoreCommand::Migrate { from, to } => {
            let from: StoreSpec = from.parse().context("--from")?;
            let to: StoreSpec = to.parse().context("--to")?;
            if from == to {
                anyhow::bail!("--from and --to name the same store ({from})");
            }
            let source = ironbell_ops::spec::open(&from, Access::Existing)
                .with_context(|| format!("opening the source {from}"))?;
            let target = ironbell_ops::spec::open(&to, Access::Create)
                .with_context(|| format!("opening the target {to}"))?;
            let migration = ironbell_ops::migrate::migrate(
                source.store().as_ref(),
                target.store().as_ref(),
                kinds,
            )
            .await
            .with_context(|| format!("migrating {from} to {to}"))?;
            let mut rows = vec![
                [
                    "KIND",
                    "SOURCE",
                    "TARGET",
                    "CREATED",
                    "ALREADY-COPIED",
                    "VERIFIED",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for k in migration.kinds.iter().filter(|k| k.source + k.target > 0) {
                rows.push(vec![
                    format!("{}.{}", k.types.kind, k.types.api_version),
                    k.source.to_string(),
                    k.target.to_string(),
                    k.created.to_string(),
                    k.already_copied.to_string(),
                    if k.verified() { "yes" } else { "NO" }.to_string(),
                ]);
            }
            write_table(&mut std::io::stdout().lock(), &rows)?;
            for k in migration.kinds.iter().filter(|k| !k.verified()) {
                for m in &k.mismatches {
                    eprintln!("mismatch: {m}");
                }
                if k.mismatched > k.mismatches.len() {
                    eprintln!(
                        "mismatch: {} more {}",
                        k.mismatched - k.mismatches.len(),
                        k.types.kind
                    );
                }
            }
            if !migration.verified() {
                eprintln!("error: the copy in {to} does not match {from} (see above)");
                return Ok(ExitCode::FAILURE);
            }
            println!(
                "{} objects in {to}: {} copied now, {} already there; every one verified",
                migration.total(),
                migration.created(),
                migration.total() - migration.created()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `ironbell move`: clusterctl move's flags, with stores where clusterctl takes
/// kubeconfigs.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("destination").required(true).args(["to", "to_directory", "from_directory"])))]
pub struct MoveArgs {
    /// The Cluster API cluster whose objects move (clusterctl's `--filter-cluster`).
    #[arg(
        long,
        visible_alias = "filter-cluster",
        value_name = "NAME",
        required_unless_present = "from_directory"
    )]
    cluster: Option<String>,
    /// The namespace of its objects.
    #[arg(short, long, default_value = "eksa-system")]
    namespace: String,
    /// Move to this store (a store spec, as --store takes; a SQLite file is created if
    /// missing). The source is --store.
    #[arg(long, value_name = "STORE")]
    to: Option<String>,
    /// Write the objects to this directory instead (one YAML file each, the source keeps
    /// them): a backup.
    #[arg(long, value_name = "DIR")]
    to_directory: Option<PathBuf>,
    /// Restore the objects of this directory (written by --to-directory) into --store.
    #[arg(long, value_name = "DIR")]
    from_directory: Option<PathBuf>,
}

/// For tests of a move killed midway: `IRONBELL_MOVE_KILL_AFTER_WRITES=N` makes this
/// process kill itself (SIGKILL) when the move has made N writes.
const KILL_AFTER_WRITES: &str = "IRONBELL_MOVE_KILL_AFTER_WRITES";

/// Runs `ironbell move` with `spec` (--store) as the source, or as the target of
/// `--from-directory`.
pub async fn run_move(
    args: MoveArgs,
    spec: &StoreSpec,
    kinds: &KindRegistry,
) -> anyhow::Result<ExitCode> {
    let mut opts = MoveOptions::new(&args.namespace, args.cluster.clone().unwrap_or_default());
    if let Some(n) = std::env::var(KILL_AFTER_WRITES)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        opts.before_write = Some(Arc::new(move |done| {
            if done == n {
                let _ = nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::SIGKILL);
            }
            true
        }));
    }
    let cluster = args
        .cluster
        .as_deref()
        .unwrap_or("(every cluster of the directory)");
    let (report, what) = if let Some(dir) = &args.from_directory {
        let target = ironbell_ops::spec::open(spec, Access::Create)
            .with_context(|| format!("opening the target {spec}"))?;
        let report =
            ironbell_ops::mover::from_directory(dir, target.store().as_ref(), kinds, &opts)
                .await
                .with_context(|| format!("restoring {} into {spec}", dir.display()))?;
        (
            report,
            format!("restored from {} into {spec}", dir.display()),
        )
    } else {
        let source = ironbell_ops::spec::open(spec, Access::Existing)
            .with_context(|| format!("opening the source {spec}"))?;
        if let Some(dir) = &args.to_directory {
            let report =
                ironbell_ops::mover::to_directory(source.store().as_ref(), dir, kinds, &opts)
                    .await
                    .with_context(|| format!("saving cluster {cluster} to {}", dir.display()))?;
            (
                report,
                format!("saved to {} ({spec} keeps them)", dir.display()),
            )
        } else {
            let to: StoreSpec = args
                .to
                .as_deref()
                .unwrap_or_default()
                .parse()
                .context("--to")?;
            if &to == spec {
                anyhow::bail!("--store and --to name the same store ({to})");
            }
            let target = ironbell_ops::spec::open(&to, Access::Create)
                .with_context(|| format!("opening the target {to}"))?;
            let report = ironbell_ops::mover::move_cluster(
                source.store().as_ref(),
                target.store().as_ref(),
                kinds,
                &opts,
            )
            .await
            .with_context(|| format!("moving cluster {cluster} from {spec} to {to}"))?;
            (report, format!("moved from {spec} to {to}"))
        }
    };
    print_move(&report, cluster, &what)?;
    Ok(ExitCode::SUCCESS)
}

fn print_move(report: &MoveReport, cluster: &str, what: &str) -> anyhow::Result<()> {
    if report.already_moved {
        println!("cluster {cluster} was moved already: the target is unpaused, nothing else to do");
        return Ok(());
    }
    let mut rows = vec![
        ["KIND", "OBJECTS", "CREATED", "UPDATED", "UNCHANGED"]
            .map(String::from)
            .to_vec(),
    ];
    for (types, k) in &report.kinds {
        rows.push(vec![
            format!("{}.{}", types.kind, types.api_version),
            k.objects.to_string(),
            k.created.to_string(),
            k.updated.to_string(),
            k.unchanged.to_string(),
        ]);
    }
    write_table(&mut std::io::stdout().lock(), &rows)?;
    let deleted = if report.deleted > 0 {
        format!("; {} deleted from the source", report.deleted)
    } else {
        String::new()
    };
    println!(
        "cluster {cluster}: {} objects {what}{deleted}",
        report.objects()
    );
    Ok(())
}
