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
mod describe;
mod dhcp;
mod kubeapi;
mod lab;
mod lifecycle;
mod logs;
mod output;
mod serve;
mod store;
mod timeline;
mod watch;

/// Bare-metal provisioning: network-boot the servers in a hardware.csv, install their OS
/// through workflows, and build Kubernetes clusters on them.
#[derive(Parser, Debug)]
#[command(name = "ironbell", version, about, propagate_version = true)]
pub struct Cli {
    /// The store: `sqlite:PATH` or a path (the embedded store, one SQLite file), or an etcd
    /// cluster: `etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`, with TLS
    /// `etcds://...?cacert=PATH[&cert=PATH&key=PATH]`. Default:
    /// $XDG_STATE_HOME/ironbell/ironbell.db, else ~/.local/state/ironbell/ironbell.db.
    /// Read-only commands (get, logs, bmc, delete) refuse a SQLite store that does not exist.
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

    #[command(subcommand)]
    command: Command,
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
        /// Namespace for documents that name none.
        #[arg(short, long, default_value = ironbell_ops::DEFAULT_NAMESPACE)]
        namespace: String,
        /// Check everything but write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show objects.
    Get {
        /// Kind (e.g. hardware, machines, secrets, workflows, clusters).
        kind: String,
        /// One object's name.
        name: Option<String>,
        /// Only this namespace (default: all namespaces).
        #[arg(short, long)]
        namespace: Option<String>,
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
        /// Its namespace (needed when the name exists in several).
        #[arg(short, long)]
        namespace: Option<String>,
    },
    /// Show what a machine's installer environment logged (syslog received by the boot
    /// service).
    Logs {
        /// The Hardware's name.
        hardware: String,
        /// Its namespace (needed when the name exists in several).
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
    /// Create a cluster (`create cluster -f cluster.yaml --hardware-csv hardware.csv`).
    #[command(subcommand)]
    Create(lifecycle::CreateCommand),
    /// Upgrade a cluster to a changed spec (`upgrade cluster -f cluster.yaml`).
    #[command(subcommand)]
    Upgrade(lifecycle::UpgradeCommand),
    /// Write a kubeconfig for the plane's Kubernetes API (`serve api`).
    Kubeconfig(kubeapi::KubeconfigArgs),
    /// Delete an object (`delete KIND NAME`), or a cluster with its machines (`delete
    /// cluster -f cluster.yaml`: every machine powered off through its BMC, its Hardware
    /// released, the plane stopped).
    Delete {
        /// Kind.
        kind: String,
        /// Name (not with -f).
        name: Option<String>,
        /// Namespace (needed when the name exists in several).
        #[arg(short, long)]
        namespace: Option<String>,
        /// `delete cluster -f FILE`: the cluster spec of the cluster to delete.
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(
            flatten,
            next_help_heading = "Cluster deletion (delete cluster -f FILE)"
        )]
        run: Box<lifecycle::RunArgs>,
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
    Bmc,
    /// Every service in one process over one store.
    All(Box<serve::AllArgs>),
    /// The Kubernetes API over the store (HTTPS, port 6443): kubectl and Kubernetes
    /// clients against the plane.
    Api(kubeapi::ApiArgs),
}

#[derive(Subcommand, Debug)]
enum BmcCommand {
    /// Power state or power action: status, on, off, soft, cycle, reset.
    Power {
        /// The action.
        action: String,
        /// The BMC Machine's name (as `ironbell get machines` lists them).
        machine: String,
        /// Its namespace (needed when the name exists in several).
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
        /// Namespace of the created objects.
        #[arg(short, long, default_value = ironbell_ops::DEFAULT_NAMESPACE)]
        namespace: String,
    },
}

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Services say what they do; one-shot commands only warn.
    let default_level = match cli.command {
        Command::Serve(_) | Command::Lab(lab::LabCommand::Vbmc { .. }) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IRONBELL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
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
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            output::print_error(&e);
            ExitCode::FAILURE
        }
    }
}
