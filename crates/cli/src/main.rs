//! # ironbell
//!
//! The `ironbell` command: imports `hardware.csv`, applies and reads objects in the store.
//! Later it also runs the services (`ironbell serve`) and the lab.
//!
//! This binary is thin on purpose: argument parsing and printing. What each command does
//! lives in the operations layer (`ironbell-ops`: opening the store, apply, import,
//! lookups, delete, running a plane of services), parsing and validation in
//! `ironbell-model` and `ironbell-inventory`. Start reading at [`Cli`] for the command
//! tree, then `commands.rs`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc rather than the C library's allocator: ironbell ships as a static musl binary,
/// and musl's allocator makes allocation-heavy work (parsing, listing the store) three to
/// four times slower; the benchmark in `benches/` shows the difference.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cluster;
mod commands;
mod dashboard;
mod describe;
mod dhcp;
mod docs;
mod kubeapi;
mod lab;
mod lifecycle;
mod logs;
mod node;
mod output;
mod serve;
mod store;
mod systemd;
mod targets;
mod timeline;
mod watch;

/// Bare-metal provisioning: network-boot the servers in a hardware.csv, install their OS
/// through workflows, and build Kubernetes clusters on them.
#[derive(Parser, Debug)]
#[command(name = "ironbell", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    /// The store: `sqlite:PATH` or a path (the embedded store, one SQLite file), or an etcd
    /// cluster: `etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`, with TLS
    /// `etcds://...?cacert=PATH[&cert=PATH&key=PATH]`, or a Kubernetes API server on
    /// Tinkerbell's CRDs: `kube://` (found as kubectl finds it) or `kubeconfig:PATH`. Default:
    /// $XDG_STATE_HOME/ironbell/ironbell.db, else ~/.local/state/ironbell/ironbell.db.
    /// Read-only commands (get, describe, logs, bmc, delete) refuse a SQLite store that does
    /// not exist.
    #[arg(
        long,
        visible_alias = "store",
        global = true,
        env = "IRONBELL_DB",
        value_name = "STORE"
    )]
    db: Option<String>,

    /// Where the boot service keeps what machines send over syslog, one file per Hardware.
    /// Default: `machine-logs` beside the store.
    #[arg(
        long,
        global = true,
        env = "IRONBELL_MACHINE_LOG_DIR",
        value_name = "DIR"
    )]
    machine_log_dir: Option<PathBuf>,

    /// How much to say on standard error (every command): 0 the default (warnings; a
    /// service's start-up and what it does), 1 what each step does (info; a cluster
    /// lifecycle's detail per task), 4 debug, 6 trace. `IRONBELL_LOG` (a tracing filter
    /// such as `ironbell_dhcp=debug`) overrides it.
    #[arg(
        short = 'v',
        long = "verbosity",
        global = true,
        default_value_t = 0,
        value_name = "N"
    )]
    verbosity: u8,

    /// Log lines as text, or as JSON objects (one a line, for a log collector).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t = LogFormat::Text,
        env = "IRONBELL_LOG_FORMAT"
    )]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

/// The version `--version` prints: the package's, and the commit it was built from
/// (`build.rs`; "unknown" outside a git checkout).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("IRONBELL_GIT_COMMIT"),
    ")"
);

/// How log lines are written.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    Text,
    /// One JSON object a line: timestamp, level, target, fields and spans.
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Work with hardware.csv inventories.
    #[command(subcommand)]
    Hardware(HardwareCommand),
    /// Create or update the objects of a YAML/JSON file (several documents allowed), all or
    /// nothing.
    Apply {
        /// File to apply; `-` reads standard input.
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: PathBuf,
        /// Namespace for documents that name none (default: the current namespace).
        #[arg(short, long, env = CURRENT_NAMESPACE_ENV, default_value = ironbell_ops::DEFAULT_NAMESPACE)]
        namespace: String,
        /// Check everything but write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show objects: `get KIND` lists them, `get KIND NAME...` shows those named, `get
    /// KIND/NAME...` objects of several kinds (`get hw/node1 wf/node1-install`); `get
    /// KIND1,KIND2` lists several kinds.
    Get {
        /// KIND [NAME...], or KIND/NAME... (kinds as `ironbell api-resources` lists them:
        /// e.g. hardware, machines, secrets, workflows, clusters).
        #[arg(required = true, value_name = "KIND[/NAME]")]
        targets: Vec<String>,
        /// The namespace (default: the current namespace, $IRONBELL_NAMESPACE else
        /// eksa-system; a name not found there is looked for in every namespace).
        #[arg(short, long)]
        namespace: Option<String>,
        /// Every namespace.
        #[arg(short = 'A', long, conflicts_with = "namespace")]
        all_namespaces: bool,
        /// Label selector, e.g. `type=cp,!cluster`.
        #[arg(short = 'l', long = "selector")]
        selector: Option<String>,
        /// Output format: table, wide, yaml, json, name, jsonpath=TEMPLATE,
        /// custom-columns=HEADER:PATH,... (kubectl's).
        #[arg(short, long, default_value = "table", value_parser = Format::parse)]
        output: Format,
        /// Print Secret values (they are redacted otherwise).
        #[arg(long)]
        show_secrets: bool,
        /// After the list, print one line per change until interrupted.
        #[arg(short = 'w', long)]
        watch: bool,
        /// Events only: those about one object, `KIND/NAME` (e.g. `hardware/node1`).
        #[arg(long = "for", value_name = "KIND/NAME")]
        for_object: Option<String>,
    },
    /// Show one object in detail: `describe cluster NAME` shows a Cluster API cluster's
    /// phase and conditions, then each Machine with its TinkerbellMachine, Hardware, phase
    /// and Workflow; `describe hardware|workflow NAME` show conditions and recent Events.
    Describe {
        /// What to describe.
        #[arg(value_enum)]
        kind: DescribeKind,
        /// Its name.
        name: String,
        /// Its namespace (default: the current one, else the only namespace that has it).
        #[arg(short, long)]
        namespace: Option<String>,
    },
    /// Show what a machine's installer environment logged (syslog received by the boot
    /// service).
    Logs {
        /// The Hardware's name.
        hardware: String,
        /// Its namespace (default: the current one, else the only namespace that has it).
        #[arg(short, long)]
        namespace: Option<String>,
        /// Only the last N lines.
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
        /// Keep printing new lines as they arrive.
        #[arg(short, long)]
        follow: bool,
    },
    /// Power and boot-device control through the machines' BMCs (creates BMC Jobs that the
    /// BMC service runs; `power status` asks the BMC directly).
    #[command(subcommand)]
    Bmc(BmcCommand),
    /// Run a long-running service.
    #[command(subcommand)]
    Serve(ServeCommand),
    /// Virtual bare metal on this machine: QEMU machines behind virtual BMCs, provisioned
    /// end to end by ironbell.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Generate a starting cluster spec, or the Cluster API manifests of a spec.
    #[command(subcommand)]
    Generate(cluster::GenerateCommand),
    /// Validate a cluster spec offline, as EKS Anywhere does before it touches
    /// infrastructure.
    #[command(subcommand)]
    Validate(cluster::ValidateCommand),
    /// DHCP on the provisioning network: `probe` looks for other DHCP servers answering.
    #[command(subcommand)]
    Dhcp(dhcp::DhcpCommand),
    /// Work with a whole store: copy a plane to another store.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Move a cluster's management objects (its Cluster API objects, Hardware, BMC Machines
    /// and Secrets) from --store to another store, paused meanwhile, as `clusterctl move`
    /// does; or save them to a directory and restore them from it. Run again after an
    /// interruption: it finishes the move.
    Move(store::MoveArgs),
    /// A control-plane machine's part of a native plane: its etcd member and a replica
    /// (run by the `native` node bootstrapper's user-data).
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Create a cluster (`create cluster -f cluster.yaml --hardware-csv hardware.csv`).
    #[command(subcommand)]
    Create(lifecycle::CreateCommand),
    /// Upgrade a cluster to a changed spec (`upgrade cluster -f cluster.yaml`).
    #[command(subcommand)]
    Upgrade(lifecycle::UpgradeCommand),
    /// Write a kubeconfig for the plane's Kubernetes API (`serve api`).
    Kubeconfig(kubeapi::KubeconfigArgs),
    /// Delete objects with what they own (a Hardware's BMC Machine and Secret, a Job's
    /// Tasks, whatever names them in its ownerReferences): `delete KIND NAME...`, `delete
    /// KIND/NAME...`, `delete KIND -l SELECTOR`, `delete -f FILE` (every object the file's
    /// documents name). `delete cluster -f cluster.yaml` deletes a cluster with its
    /// machines (every machine powered off through its BMC, its Hardware released, the
    /// plane stopped).
    Delete {
        /// KIND [NAME...], or KIND/NAME... (nothing with -f FILE).
        #[arg(value_name = "KIND[/NAME]")]
        targets: Vec<String>,
        /// The namespace (default: the current namespace; a name not found there is looked
        /// for in every namespace).
        #[arg(short, long)]
        namespace: Option<String>,
        /// With -l: select in every namespace.
        #[arg(short = 'A', long, conflicts_with = "namespace")]
        all_namespaces: bool,
        /// Delete the objects of KIND this label selector selects.
        #[arg(short = 'l', long = "selector", conflicts_with = "file")]
        selector: Option<String>,
        /// Do not fail for objects that are already gone.
        #[arg(long)]
        ignore_not_found: bool,
        /// The objects of this YAML/JSON file (`-` reads standard input); with `cluster`,
        /// the cluster spec of the cluster to delete.
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(
            flatten,
            next_help_heading = "Cluster deletion (delete cluster -f FILE)"
        )]
        run: Box<lifecycle::RunArgs>,
    },
    /// The kinds this program knows, as `kubectl api-resources` lists them.
    ApiResources,
    /// Print a shell completion script: `source <(ironbell completion bash)`, `ironbell
    /// completion zsh > "${fpath[1]}/_ironbell"`, `ironbell completion fish >
    /// ~/.config/fish/completions/ironbell.fish`.
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (`ironbell.1`, `ironbell-get.1`, ...) into a directory.
    Man {
        /// The directory (created if missing), e.g. /usr/local/share/man/man1.
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum ServeCommand {
    /// The boot service: DHCP, TFTP, iPXE scripts and HookOS over HTTP, syslog.
    Boot(Box<serve::BootArgs>),
    /// The metadata service: EC2-style metadata and user-data, Tinkerbell's /metadata.
    Metadata(serve::MetadataArgs),
    /// The workflow service: renders templates, runs workflows, serves agents over gRPC.
    Workflow(serve::WorkflowArgs),
    /// The BMC service: Machine, Job and Task controllers over Redfish and IPMI.
    Bmc(serve::BmcArgs),
    /// Every service in one process over one store.
    All(Box<serve::AllArgs>),
    /// The cluster controllers alone (Cluster API's core and the Tinkerbell provider; the
    /// Docker provider's with --docker-host): a Docker cluster's management plane.
    Cluster(Box<serve::ClusterServeArgs>),
    /// The Kubernetes API over the store (HTTPS, port 6443): kubectl and Kubernetes
    /// clients against the plane.
    Api(kubeapi::ApiArgs),
    /// The web dashboard (plain HTTP, port 7180, 127.0.0.1 by default): machines, their
    /// timelines and logs, workflows, BMC jobs and clusters, updated live. Keep it off
    /// untrusted networks.
    Dashboard(dashboard::DashboardArgs),
}

#[derive(Subcommand, Debug)]
enum BmcCommand {
    /// Power state or power action: status, on, off, soft, cycle, reset.
    Power {
        /// The action.
        action: String,
        /// The BMC Machine's name (as `ironbell get machines` lists them).
        machine: String,
        /// Its namespace (default: the current one, else the only namespace that has it).
        #[arg(short, long)]
        namespace: Option<String>,
        /// Return once the Job is created instead of waiting for it.
        #[arg(long)]
        no_wait: bool,
        /// How long to wait for the Job.
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
    /// Set the next boot device.
    Boot {
        /// The BMC Machine's name.
        machine: String,
        /// pxe, disk, bios, cdrom or safe.
        #[arg(long)]
        device: String,
        /// Boot in UEFI mode.
        #[arg(long)]
        efi: bool,
        /// Keep the setting for every boot, not just the next.
        #[arg(long)]
        persistent: bool,
        /// Its namespace.
        #[arg(short, long)]
        namespace: Option<String>,
        /// Return once the Job is created instead of waiting for it.
        #[arg(long)]
        no_wait: bool,
        /// How long to wait for the Job.
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
}

#[derive(Subcommand, Debug)]
enum HardwareCommand {
    /// Check a hardware.csv and report every problem, writing nothing.
    Validate {
        /// The CSV file.
        file: PathBuf,
    },
    /// Import a hardware.csv: one Hardware, BMC Machine and Secret per row, all or nothing.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Namespace of the created objects (default: the current namespace).
        #[arg(short, long, env = CURRENT_NAMESPACE_ENV, default_value = ironbell_ops::DEFAULT_NAMESPACE)]
        namespace: String,
    },
}

/// The environment variable naming the current namespace: where `apply` and `hardware
/// import` put objects that name none, and where `get` and `delete` look without `-n`.
/// Unset, it is [`ironbell_ops::DEFAULT_NAMESPACE`] (`eksa-system`, as EKS Anywhere).
pub const CURRENT_NAMESPACE_ENV: &str = "IRONBELL_NAMESPACE";

/// What `describe` describes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescribeKind {
    /// A Cluster API `Cluster` (`clusters.cluster.x-k8s.io`).
    #[value(alias = "clusters")]
    Cluster,
    /// A machine's Hardware: its interfaces, BMC, Workflows and timeline of Events.
    #[value(alias = "hw")]
    Hardware,
    /// A Workflow: its state, conditions, each action and its Events.
    #[value(alias = "workflows", alias = "wf")]
    Workflow,
}

pub use output::Format;

/// The log level of `-v N` for a command whose default is `default`.
fn log_level(default: tracing::Level, verbosity: u8) -> tracing::Level {
    let asked = match verbosity {
        0 => tracing::Level::ERROR,
        1..=3 => tracing::Level::INFO,
        4..=5 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    // `Level` orders by verbosity: TRACE is the greatest.
    default.max(asked)
}

/// Logs to standard error at the level of `-v` (or `IRONBELL_LOG`), in `--log-format`.
fn init_logging(cli: &Cli) {
    // Services say what they do; one-shot commands only warn.
    let default = match cli.command {
        Command::Serve(_)
        | Command::Node(node::NodeCommand::Up(_))
        | Command::Lab(lab::LabCommand::Vbmc { .. }) => tracing::Level::INFO,
        _ => tracing::Level::WARN,
    };
    let level = log_level(default, cli.verbosity);
    let filter = tracing_subscriber::EnvFilter::try_from_env("IRONBELL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.as_str()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    // Under systemd the soft descriptor limit is 1,024, which idle connections exhaust.
    match ironbell_limits::raise_nofile_limit() {
        Ok((soft, hard)) => tracing::debug!(soft, hard, "open-file limit"),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
    // At most 8 blocking threads (tokio's default is 512; the embedded store keeps 8 idle
    // readers): the embedded store's reads run there, one SQLite connection each, and a
    // plane's few dozen watches polling at once grew the pool (and the connections, each
    // with its page cache) to one per watch: 92 threads in a `create cluster`
    // (scripts/bench-cluster: 95 -> 59 MiB, 3.5 -> 1.5 CPU-seconds).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(8)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(commands::run(cli));
    // A blocking thread still running (a service's loop between polls, a store read) is
    // not waited for beyond this: a stopped service exits promptly.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(e) => {
            output::print_error(&e);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    #[test]
    fn verbosity_raises_the_default_level_never_lowers_it() {
        use super::log_level;
        assert_eq!(log_level(Level::WARN, 0), Level::WARN);
        assert_eq!(log_level(Level::INFO, 0), Level::INFO);
        assert_eq!(log_level(Level::WARN, 1), Level::INFO);
        assert_eq!(log_level(Level::INFO, 3), Level::INFO);
        assert_eq!(log_level(Level::WARN, 4), Level::DEBUG);
        assert_eq!(log_level(Level::INFO, 9), Level::TRACE);
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
