//! One function per command.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use ironbell_model::selector::Selector;
use ironbell_model::{DynamicObject, KINDS, KindInfo, find_kind, parse_documents};
use ironbell_store::{ListParams, SharedStore};

use crate::apply::{Outcome, plan};
use crate::output::{print_objects, redact};
use crate::{BmcCommand, Cli, Command, HardwareCommand, ServeCommand};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Hardware(HardwareCommand::Validate { file }) => {
            let rows = read_csv(&file)?;
            let with_bmc = rows.iter().filter(|r| r.bmc.is_some()).count();
            println!(
                "{}: {} machine{} valid ({} with a BMC)",
                file.display(),
                rows.len(),
                plural(rows.len()),
                with_bmc
            );
        }
        Command::Hardware(HardwareCommand::Import { file, namespace }) => {
            let rows = read_csv(&file)?;
            let objects = ironbell_inventory::to_objects(&rows, &namespace);
            let store = open_store(cli.db.as_deref())?;
            let dynamic = objects
                .iter()
                .map(|o| o.to_dynamic())
                .collect::<Result<Vec<_>, _>>()?;
            let counts = Counts::of(&write(&store, dynamic, false).await?);
            println!(
                "{}: {} machine{} imported into namespace {namespace}: {}",
                file.display(),
                rows.len(),
                plural(rows.len()),
                counts
            );
        }
        Command::Apply {
            file,
            namespace,
            dry_run,
        } => {
            let text = read_input(&file)?;
            let objects = parse_documents(&text)
                .map_err(anyhow::Error::new)
                .with_context(|| format!("{} is not valid", file.display()))?;
            let mut dynamic = Vec::with_capacity(objects.len());
            for mut o in objects {
                if o.metadata().namespace.as_deref().is_none_or(str::is_empty) {
                    o.metadata_mut().namespace = Some(namespace.clone());
                }
                dynamic.push(o.to_dynamic()?);
            }
            let store = open_store(cli.db.as_deref())?;
            let suffix = if dry_run { " (dry run)" } else { "" };
            for (obj, outcome) in write(&store, dynamic, dry_run).await? {
                let kind = find_kind(&obj.types.kind).map_or(obj.types.kind.as_str(), |k| k.plural);
                println!("{kind}/{} {outcome}{suffix}", obj.name());
            }
        }
        Command::Get {
            kind,
            name,
            namespace,
            selector,
            output,
            show_secrets,
        } => {
            let info = resolve_kind(&kind)?;
            let selector = selector
                .as_deref()
                .map(Selector::parse)
                .transpose()
                .map_err(anyhow::Error::new)?;
            let store = open_store(cli.db.as_deref())?;
            let params = ListParams {
                namespace: namespace.clone(),
                selector,
            };
            let mut objects = match &name {
                Some(name) => vec![find_one(&store, info, name, namespace.as_deref()).await?],
                None => store.list(&info.type_key(), &params).await?.items,
            };
            if !show_secrets {
                objects.iter_mut().for_each(redact);
            }
            print_objects(info, &objects, output, name.is_some())?;
        }
        Command::Serve(ServeCommand::Boot(args)) => {
            let log_dir = machine_log_dir(cli.db.as_deref(), cli.machine_log_dir)?;
            let store = open_store(cli.db.as_deref())?;
            crate::serve::boot(store, args, log_dir).await?;
        }
        Command::Serve(ServeCommand::Metadata(args)) => {
            let store = open_store(cli.db.as_deref())?;
            crate::serve::metadata(store, args).await?;
        }
        Command::Serve(ServeCommand::Workflow(args)) => {
            let store = open_store(cli.db.as_deref())?;
            crate::serve::workflow(store, args).await?;
        }
        Command::Serve(ServeCommand::Bmc) => {
            let store = open_store(cli.db.as_deref())?;
            crate::serve::bmc(store).await?;
        }
        Command::Lab(command) => return crate::lab::run(command).await,
        Command::Serve(ServeCommand::All(args)) => {
            let log_dir = machine_log_dir(cli.db.as_deref(), cli.machine_log_dir)?;
            let store = open_store(cli.db.as_deref())?;
            crate::serve::all(store, *args, log_dir).await?;
        }
        Command::Bmc(BmcCommand::Power {
            action,
            machine,
            namespace,
            no_wait,
            timeout,
        }) => {
            let action = ironbell_bmc::cli::parse_power_action(&action).with_context(|| {
                format!(
                    "unknown power action {action:?}: use status, on, off, soft, cycle or reset"
                )
            })?;
            let store = open_store(cli.db.as_deref())?;
            let info = resolve_kind("machines")?;
            let m = find_one(&store, info, &machine, namespace.as_deref()).await?;
            let wait = (!no_wait).then_some(timeout);
            let out =
                ironbell_bmc::cli::power(&store, m.namespace(), m.name(), action, wait).await?;
            println!("{out}");
        }
        Command::Bmc(BmcCommand::Boot {
            machine,
            device,
            efi,
            persistent,
            namespace,
            no_wait,
            timeout,
        }) => {
            let store = open_store(cli.db.as_deref())?;
            let info = resolve_kind("machines")?;
            let m = find_one(&store, info, &machine, namespace.as_deref()).await?;
            let wait = (!no_wait).then_some(timeout);
            let out = ironbell_bmc::cli::boot(
                &store,
                m.namespace(),
                m.name(),
                &device,
                efi,
                persistent,
                wait,
            )
            .await?;
            println!("{out}");
        }
        Command::Logs {
            hardware,
            namespace,
            tail,
            follow,
        } => {
            let log_dir = machine_log_dir(cli.db.as_deref(), cli.machine_log_dir)?;
            let store = open_store(cli.db.as_deref())?;
            let info = resolve_kind("hardware")?;
            let hw = find_one(&store, info, &hardware, namespace.as_deref()).await?;
            crate::logs::show(&log_dir, hw.namespace(), hw.name(), tail, follow).await?;
        }
        Command::Delete {
            kind,
            name,
            namespace,
        } => {
            let info = resolve_kind(&kind)?;
            let store = open_store(cli.db.as_deref())?;
            let obj = find_one(&store, info, &name, namespace.as_deref()).await?;
            store
                .delete(&info.type_key(), obj.namespace(), obj.name(), None)
                .await?;
            println!("{}/{} deleted", info.plural, obj.name());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Counts of what a write did.
struct Counts {
    created: usize,
    configured: usize,
    unchanged: usize,
}

impl Counts {
    fn of(outcomes: &[(DynamicObject, Outcome)]) -> Self {
        let count = |o: Outcome| outcomes.iter().filter(|(_, x)| *x == o).count();
        Self {
            created: count(Outcome::Created),
            configured: count(Outcome::Configured),
            unchanged: count(Outcome::Unchanged),
        }
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} object{} created, {} updated, {} unchanged",
            self.created,
            plural(self.created),
            self.configured,
            self.unchanged
        )
    }
}

/// Creates or updates `objects` in one atomic commit (unless `dry_run`) and returns what
/// happened to each, in input order.
async fn write(
    store: &SharedStore,
    objects: Vec<DynamicObject>,
    dry_run: bool,
) -> anyhow::Result<Vec<(DynamicObject, Outcome)>> {
    let (ops, outcomes) = plan(store.as_ref(), objects).await?;
    if !dry_run && !ops.is_empty() {
        store.commit(ops).await.context("writing to the store")?;
    }
    Ok(outcomes)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn read_input(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        return Ok(text);
    }
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

fn read_csv(file: &Path) -> anyhow::Result<Vec<ironbell_inventory::Row>> {
    let text = read_input(file)?;
    let inventory = ironbell_inventory::parse_inventory(&text)
        .map_err(anyhow::Error::new)
        .with_context(|| format!("{} is not valid; nothing was imported", file.display()))?;
    if !inventory.unknown_columns.is_empty() {
        eprintln!(
            "warning: {}: ignoring unknown column{} {} (known: hostname, ip_address, netmask, \
             gateway, nameservers, mac, disk, labels, bmc_ip, bmc_username, bmc_password, vlan_id)",
            file.display(),
            plural(inventory.unknown_columns.len()),
            inventory.unknown_columns.join(", ")
        );
    }
    Ok(inventory.rows)
}

fn resolve_kind(name: &str) -> anyhow::Result<&'static KindInfo> {
    find_kind(name).with_context(|| {
        let known: Vec<&str> = KINDS.iter().map(|k| k.plural).collect();
        format!("unknown kind {name:?}; known kinds: {}", known.join(", "))
    })
}

/// One object by name: in the given namespace, or the only namespace that has it.
async fn find_one(
    store: &SharedStore,
    info: &KindInfo,
    name: &str,
    namespace: Option<&str>,
) -> anyhow::Result<DynamicObject> {
    if let Some(ns) = namespace {
        return Ok(store.get(&info.type_key(), ns, name).await?);
    }
    let all = store.list(&info.type_key(), &ListParams::default()).await?;
    let mut matches: Vec<DynamicObject> =
        all.items.into_iter().filter(|o| o.name() == name).collect();
    match matches.len() {
        0 => bail!("{} {name:?} not found in any namespace", info.kind),
        1 => Ok(matches.remove(0)),
        _ => {
            let namespaces: Vec<&str> = matches.iter().map(DynamicObject::namespace).collect();
            bail!(
                "{} {name:?} exists in several namespaces ({}); choose one with -n",
                info.kind,
                namespaces.join(", ")
            )
        }
    }
}

/// The default database path: $XDG_STATE_HOME/ironbell/ironbell.db or
/// ~/.local/state/ironbell/ironbell.db.
pub fn default_db() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .context("neither --db, IRONBELL_DB, XDG_STATE_HOME nor HOME is set")?;
            PathBuf::from(home).join(".local/state")
        }
    };
    Ok(base.join("ironbell/ironbell.db"))
}

/// The machine log directory: the one given, else `machine-logs` beside the store.
fn machine_log_dir(db: Option<&Path>, given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    let db = match db {
        Some(p) => p.to_path_buf(),
        None => default_db()?,
    };
    let parent = db.parent().filter(|p| !p.as_os_str().is_empty());
    Ok(parent.unwrap_or(Path::new(".")).join("machine-logs"))
}

fn open_store(db: Option<&Path>) -> anyhow::Result<SharedStore> {
    let path = match db {
        Some(p) => p.to_path_buf(),
        None => default_db()?,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let store = ironbell_store_sqlite::SqliteStore::open(&path)
        .with_context(|| format!("cannot open the store {}", path.display()))?;
    Ok(Arc::new(store))
}
