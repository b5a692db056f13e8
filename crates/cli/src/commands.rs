//! One function per command: arguments in, `ironbell-ops` does the work, results printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ironbell_model::selector::Selector;
use ironbell_model::{DynamicObject, KindInfo, KindRegistry};
use ironbell_ops::apply::{ApplyOptions, Outcome};
use ironbell_ops::import::Counts;
use ironbell_ops::lookup::resolve_kind;
use ironbell_ops::spec::{Access, StoreHandle, StoreSpec};
use ironbell_store::ListParams;

use crate::output::{print_objects, redact};
use crate::targets::{Scope, find_named};
use crate::{BmcCommand, Cli, Command, DescribeKind, HardwareCommand, ServeCommand};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let spec = store_spec(cli.db.as_deref())?;
    // The kinds this program knows: the model's, Cluster API's and the Tinkerbell
    // provider's.
    let kinds = ironbell_ops::lookup::kinds();
    let kinds = &kinds;
    let log_dir = || machine_log_dir(&spec, cli.machine_log_dir.clone());
    match cli.command {
        Command::Generate(command) => return crate::cluster::generate(command),
        Command::Store(command) => return crate::store::run(command, kinds).await,
        Command::Move(args) => return crate::store::run_move(args, &spec, kinds).await,
        Command::Node(command) => return crate::node::run(command).await,
        Command::Validate(command) => return crate::cluster::validate(command),
        Command::Dhcp(command) => return crate::dhcp::run(command).await,
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
            let store = open(&spec, Access::Create)?;
            let outcomes = ironbell_ops::import::import(
                store.store().as_ref(),
                &rows,
                &namespace,
                ApplyOptions::default(),
            )
            .await
            .with_context(|| format!("importing {}", file.display()))?;
            println!(
                "{}: {} machine{} imported into namespace {namespace}: {}",
                file.display(),
                rows.len(),
                plural(rows.len()),
                counts(&outcomes)
            );
        }
        Command::Apply {
            file,
            namespace,
            dry_run,
        } => {
            let text = read_input(&file)?;
            let dynamic = ironbell_ops::apply::parse(kinds, &text, &namespace)
                .map_err(anyhow::Error::new)
                .with_context(|| format!("{} is not valid", file.display()))?;
            let store = open(&spec, Access::Create)?;
            let options = ApplyOptions {
                dry_run,
                ..ApplyOptions::default()
            };
            let suffix = if dry_run { " (dry run)" } else { "" };
            let outcomes = ironbell_ops::apply::apply(store.store().as_ref(), dynamic, options)
                .await
                .with_context(|| format!("applying {}", file.display()))?;
            for (obj, outcome) in outcomes {
                println!(
                    "{}/{} {outcome}{suffix}",
                    kind_plural(kinds, &obj),
                    obj.name()
                );
            }
        }
        Command::Get {
            targets,
            namespace,
            all_namespaces,
            selector,
            output,
            show_secrets,
            watch,
            for_object,
        } => {
            let targets = crate::targets::parse(kinds, &targets)?;
            // `--for KIND/NAME` finds the object's events wherever it is, unless -n.
            let all_namespaces = all_namespaces || (for_object.is_some() && namespace.is_none());
            let scope = Scope::of(namespace, all_namespaces);
            let params = ListParams {
                namespace: scope.list_namespace(),
                selector: parse_selector(selector.as_deref())?,
            };
            let store = open(&spec, Access::Existing)?;
            let store = store.store().as_ref();
            if watch {
                let (infos, name) = match targets.as_slice() {
                    [target] if target.names.len() <= 1 => {
                        (&target.kinds, target.names.first().map(String::as_str))
                    }
                    _ => anyhow::bail!("-w watches one kind, and one name at most"),
                };
                return crate::watch::run(store, infos, &params, name).await;
            }
            let single = matches!(targets.as_slice(), [t] if t.names.len() == 1);
            let mut found = crate::targets::find(store, &targets, &scope, &params).await?;
            crate::timeline::select_events(kinds, &mut found, for_object.as_deref())?;
            if !show_secrets {
                for (_, objects) in &mut found {
                    objects.iter_mut().for_each(redact);
                }
            }
            print_found(&found, &output, single)?;
        }
        Command::ApiResources => crate::docs::print_api_resources(kinds)?,
        Command::Completion { shell } => crate::docs::completion(shell)?,
        Command::Man { dir } => {
            let pages = crate::docs::man(&dir)?;
            println!("{pages} manual pages written to {}", dir.display());
        }
        Command::Describe {
            kind,
            name,
            namespace,
        } => {
            let store = open(&spec, Access::Existing)?;
            let (store, ns) = (store.store().as_ref(), namespace.as_deref());
            let text = match kind {
                DescribeKind::Cluster => crate::describe::cluster(store, kinds, &name, ns).await?,
                DescribeKind::Hardware => {
                    crate::timeline::hardware(store, kinds, &name, ns).await?
                }
                DescribeKind::Workflow => {
                    crate::timeline::workflow(store, kinds, &name, ns).await?
                }
            };
            print!("{text}");
        }
        Command::Serve(ServeCommand::Boot(args)) => {
            let log_dir = log_dir();
            crate::serve::boot(&open(&spec, Access::Create)?, *args, log_dir).await?;
        }
        Command::Serve(ServeCommand::Metadata(args)) => {
            crate::serve::metadata(&open(&spec, Access::Create)?, args).await?;
        }
        Command::Serve(ServeCommand::Workflow(args)) => {
            crate::serve::workflow(&open(&spec, Access::Create)?, args).await?;
        }
        Command::Serve(ServeCommand::Cluster(args)) => {
            crate::serve::cluster(&open(&spec, Access::Create)?, *args).await?;
        }
        Command::Serve(ServeCommand::Bmc(args)) => {
            crate::serve::bmc(&open(&spec, Access::Create)?, args).await?;
        }
        Command::Lab(command) => return crate::lab::run(command).await,
        Command::Serve(ServeCommand::Api(args)) => {
            crate::kubeapi::serve(&open(&spec, Access::Create)?, kinds, args).await?;
        }
        Command::Serve(ServeCommand::Dashboard(args)) => {
            let log_dir = log_dir();
            crate::dashboard::serve(&open(&spec, Access::Create)?, args, log_dir).await?;
        }
        Command::Kubeconfig(args) => crate::kubeapi::kubeconfig(&spec, args)?,
        Command::Serve(ServeCommand::All(args)) => {
            let log_dir = log_dir();
            crate::serve::all(&open(&spec, Access::Create)?, *args, log_dir).await?;
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
            let store = open(&spec, Access::Existing)?;
            let store = store.store();
            let info = resolve_kind(kinds, "machines")?;
            let m = find_named(store.as_ref(), info, &machine, namespace.as_deref()).await?;
            let wait = (!no_wait).then_some(timeout);
            let out =
                ironbell_bmc::cli::power(store, m.namespace(), m.name(), action, wait).await?;
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
            let store = open(&spec, Access::Existing)?;
            let store = store.store();
            let info = resolve_kind(kinds, "machines")?;
            let m = find_named(store.as_ref(), info, &machine, namespace.as_deref()).await?;
            let wait = (!no_wait).then_some(timeout);
            let out = ironbell_bmc::cli::boot(
                store,
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
            let log_dir = log_dir();
            let store = open(&spec, Access::Existing)?;
            let info = resolve_kind(kinds, "hardware")?;
            let hw = find_named(
                store.store().as_ref(),
                info,
                &hardware,
                namespace.as_deref(),
            )
            .await?;
            crate::logs::show(&log_dir, hw.namespace(), hw.name(), tail, follow).await?;
        }
        Command::Create(crate::lifecycle::CreateCommand::Cluster(mut args)) => {
            args.run.verbosity = cli.verbosity;
            return crate::lifecycle::run(
                ironbell_lifecycle::Command::create,
                &args.file,
                &args.run,
                cli.db.as_deref(),
                cli.machine_log_dir.clone(),
            )
            .await;
        }
        Command::Upgrade(crate::lifecycle::UpgradeCommand::Cluster(mut args)) => {
            args.run.verbosity = cli.verbosity;
            return crate::lifecycle::run(
                ironbell_lifecycle::Command::upgrade,
                &args.file,
                &args.run,
                cli.db.as_deref(),
                cli.machine_log_dir.clone(),
            )
            .await;
        }
        Command::Delete {
            targets,
            file: Some(file),
            mut run,
            ..
        } if is_cluster_spec_delete(kinds, &targets) => {
            run.verbosity = cli.verbosity;
            return crate::lifecycle::run(
                ironbell_lifecycle::Command::delete,
                &file,
                &run,
                cli.db.as_deref(),
                cli.machine_log_dir.clone(),
            )
            .await;
        }
        Command::Delete {
            targets,
            namespace,
            all_namespaces,
            selector,
            ignore_not_found,
            file,
            ..
        } => {
            let scope = Scope::of(namespace, all_namespaces);
            return delete(
                &spec,
                kinds,
                &targets,
                &scope,
                selector,
                file,
                ignore_not_found,
            )
            .await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `delete cluster -f FILE`: a cluster spec's lifecycle delete rather than its objects'.
fn is_cluster_spec_delete(kinds: &KindRegistry, targets: &[String]) -> bool {
    matches!(targets, [kind] if kinds.find(kind).is_some_and(|k| k.kind == "Cluster"))
}

fn parse_selector(selector: Option<&str>) -> anyhow::Result<Option<Selector>> {
    selector
        .map(Selector::parse)
        .transpose()
        .map_err(anyhow::Error::new)
}

/// `delete`: the objects of a file (`-f`), those a selector selects (`KIND -l`), or those
/// named (`KIND NAME...`, `KIND/NAME...`), each with what it owns. Prints one line per
/// object deleted; an object not found fails the command (after the others are deleted)
/// unless `ignore_not_found`.
async fn delete(
    spec: &StoreSpec,
    kinds: &KindRegistry,
    targets: &[String],
    scope: &Scope,
    selector: Option<String>,
    file: Option<PathBuf>,
    ignore_not_found: bool,
) -> anyhow::Result<ExitCode> {
    let wanted: Vec<DynamicObject> = match (&file, &selector) {
        (Some(file), _) => {
            if !targets.is_empty() {
                anyhow::bail!(
                    "delete -f FILE deletes the objects of the file: give no KIND or NAME \
                     (`delete cluster -f cluster.yaml` deletes a cluster with its machines)"
                );
            }
            let default_ns = scope
                .list_namespace()
                .unwrap_or_else(crate::targets::current_namespace);
            let text = read_input(file)?;
            ironbell_ops::apply::parse(kinds, &text, &default_ns)
                .map_err(anyhow::Error::new)
                .with_context(|| format!("{} is not valid", file.display()))?
        }
        (None, Some(selector)) => {
            let targets = crate::targets::parse(kinds, targets)?;
            if targets.iter().any(|t| !t.names.is_empty()) {
                anyhow::bail!("delete -l SELECTOR takes a KIND, not names");
            }
            let params = ListParams {
                namespace: scope.list_namespace(),
                selector: parse_selector(Some(selector))?,
            };
            let store = open(spec, Access::Existing)?;
            let found = crate::targets::find(store.store().as_ref(), &targets, scope, &params);
            found.await?.into_iter().flat_map(|(_, o)| o).collect()
        }
        (None, None) => {
            let targets = crate::targets::parse(kinds, targets)?;
            if targets.iter().any(|t| t.names.is_empty()) {
                anyhow::bail!(
                    "delete needs what to delete: KIND NAME..., KIND/NAME..., KIND -l SELECTOR \
                     or -f FILE"
                );
            }
            let store = open(spec, Access::Existing)?;
            let store = store.store().as_ref();
            let params = ListParams::default();
            match crate::targets::find(store, &targets, scope, &params).await {
                Ok(found) => found.into_iter().flat_map(|(_, o)| o).collect(),
                Err(e) if ignore_not_found && is_not_found(&e) => Vec::new(),
                Err(e) => return Err(e),
            }
        }
    };
    let store = open(spec, Access::Existing)?;
    let done = ironbell_ops::delete::delete_all(store.store().as_ref(), kinds, &wanted).await?;
    for gone in &done.deleted {
        println!("{}/{} deleted", kind_plural(kinds, gone), gone.name());
    }
    if done.missing.is_empty() || ignore_not_found {
        return Ok(ExitCode::SUCCESS);
    }
    for (kind, namespace, name) in &done.missing {
        eprintln!("error: {kind} {name:?} not found in namespace {namespace}");
    }
    Ok(ExitCode::FAILURE)
}

/// Whether `e` says an object was not found.
fn is_not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<ironbell_ops::OpsError>()
            .is_some_and(|o| match o {
                ironbell_ops::OpsError::NotFound { .. } => true,
                ironbell_ops::OpsError::Store(s) => s.is_not_found(),
                _ => false,
            })
    })
}

/// Prints what `get` found: one kind as before; several kinds sharing a name as one table
/// per kind that has objects, each under a `# plural.group` line (one list in YAML and
/// JSON).
fn print_found(
    found: &[(&KindInfo, Vec<DynamicObject>)],
    output: &crate::Format,
    single: bool,
) -> anyhow::Result<()> {
    let with_objects: Vec<&(&KindInfo, Vec<DynamicObject>)> =
        found.iter().filter(|(_, o)| !o.is_empty()).collect();
    match (found, with_objects.as_slice()) {
        ([(info, objects)], _) | (_, [(info, objects)]) => {
            print_objects(info, objects, output, single)
        }
        ([(info, _), ..], []) => print_objects(info, &[], output, single),
        ([], []) => Ok(()),
        (_, several) if !output.is_table() => {
            let all: Vec<DynamicObject> = several.iter().flat_map(|(_, o)| o.clone()).collect();
            print_objects(several[0].0, &all, output, single)
        }
        (_, several) => {
            for (n, (info, objects)) in several.iter().enumerate() {
                if n > 0 {
                    println!();
                }
                println!("# {}.{}", info.plural, info.group());
                print_objects(info, objects, output, single)?;
            }
            Ok(())
        }
    }
}

/// How the command line names an object's kind: its plural, or the kind itself when the
/// kind is not registered.
fn kind_plural<'a>(kinds: &'a KindRegistry, obj: &'a DynamicObject) -> &'a str {
    kinds
        .get(&obj.types)
        .map_or(obj.types.kind.as_str(), |k| k.plural)
}

fn counts(outcomes: &[(DynamicObject, Outcome)]) -> String {
    let c = Counts::of(outcomes);
    format!(
        "{} object{} created, {} updated, {} unchanged",
        c.created,
        plural(c.created),
        c.configured,
        c.unchanged
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A file (or standard input for `-`), at most [`ironbell_model::MAX_INPUT_BYTES`] read.
pub(crate) fn read_input(file: &Path) -> anyhow::Result<String> {
    if file == Path::new("-") {
        return ironbell_model::read_input(std::io::stdin().lock(), "standard input")
            .context("reading standard input");
    }
    let opened =
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    ironbell_model::read_input(opened, &file.display().to_string())
        .with_context(|| format!("cannot read {}", file.display()))
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

/// The store `--db` names (a spec: `sqlite:PATH` or a path), else the default database.
fn store_spec(db: Option<&str>) -> anyhow::Result<StoreSpec> {
    match db {
        Some(spec) => Ok(spec.parse()?),
        None => Ok(StoreSpec::Sqlite(default_db()?)),
    }
}

/// The machine log directory: the one given, else `machine-logs` beside the store.
fn machine_log_dir(spec: &StoreSpec, given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| spec.state_dir().join("machine-logs"))
}

fn open(spec: &StoreSpec, access: Access) -> anyhow::Result<StoreHandle> {
    Ok(ironbell_ops::spec::open(spec, access)?)
}
