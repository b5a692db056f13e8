//! `ironbell store ...`: commands on a whole store rather than on objects. Today
//! `store migrate` (the work is `ironbell_ops::migrate`; this prints its table).

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use ironbell_model::KindRegistry;
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
