//! `ironbell lab ...`: virtual bare metal on this machine (see `ironbell-lab`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use ironbell_lab::plan::MachineSpec;

/// `ironbell lab` subcommands.
#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Start the lab (or resume it): QEMU machines behind virtual BMCs on a private
    /// bridge, ironbell's services, a hardware.csv and a Workflow per machine; then follow
    /// every machine until its OS is installed, has read its metadata and phoned home.
    Up(UpArgs),
    /// Stop everything the lab started and remove it.
    Down(LabDir),
    /// Run the lab's virtual BMCs (started by `lab up` inside the lab's namespace).
    #[command(hide = true)]
    Vbmc {
        /// The BMC list (`vbmc.json` in the lab directory).
        #[arg(long)]
        config: PathBuf,
    },
}

/// Which lab.
#[derive(Args, Debug)]
pub struct LabDir {
    /// The lab's name (several labs can exist side by side).
    #[arg(long, default_value = "default")]
    name: String,
    /// The lab's directory. Default: $XDG_STATE_HOME/ironbell/lab/NAME, else
    /// ~/.local/state/ironbell/lab/NAME.
    #[arg(long, env = "IRONBELL_LAB_DIR")]
    dir: Option<PathBuf>,
}

/// Flags of `lab up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    lab: LabDir,
    /// A machine as FIRMWARE,BMC,KEY=VALUE,... (BMC and labels optional): FIRMWARE bios or
    /// uefi, BMC redfish, ipmi or both (default both), then the labels of its hardware.csv
    /// row (default type=lab), e.g. uefi,ipmi,type=cp. Repeat for more machines. Default: bios,redfish uefi,ipmi
    /// bios,both.
    #[arg(long = "machine", value_name = "SPEC")]
    machines: Vec<MachineSpec>,
    /// Also start this many machines that are not in hardware.csv (ironbell must ignore
    /// them in reservation mode).
    #[arg(long, default_value_t = 0)]
    strangers: usize,
    /// Directory with HookOS (`vmlinuz-x86_64`, `initramfs-x86_64`; hookos/build.sh).
    #[arg(long, default_value = "target/hookos", env = "IRONBELL_HOOKOS_DIR")]
    hookos: PathBuf,
    /// The OS image to install (os-image/build.sh).
    #[arg(long, default_value = "target/os-image/lab-os.raw.zst")]
    os_image: PathBuf,
    /// Directory of the iPXE binaries.
    #[arg(long, default_value = "/usr/lib/ipxe", env = "IRONBELL_IPXE_DIR")]
    ipxe_dir: PathBuf,
    /// The Template to install with (default: the built-in templates/lab-os.yaml).
    #[arg(long)]
    template: Option<PathBuf>,
    /// Memory of each machine, MiB.
    #[arg(long, default_value_t = 768)]
    memory: u32,
    /// Give up after this long.
    #[arg(long, default_value = "20m", value_parser = humantime::parse_duration)]
    timeout: std::time::Duration,
    /// Return once everything is started instead of following the machines.
    #[arg(long)]
    detach: bool,
    /// ironbell replicas serving the lab: 1 (one service on a SQLite store), or 2 to 8
    /// (replicas on a three-member etcd, each in its own namespace on the lab's bridge; the
    /// controllers run on the elected leader, DHCP is shared by MAC).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=8))]
    replicas: u8,
    /// Only the machines (powered off, waiting to be netbooted), their BMCs and a
    /// hardware.csv: no ironbell service, nothing imported, no Workflow. For running a plane
    /// against the lab as against real hardware (`ironbell create cluster`).
    #[arg(long, conflicts_with_all = ["detach", "template", "replicas"])]
    machines_only: bool,
    /// Serve the web dashboard on this address too (inside the lab's network namespace,
    /// e.g. 10.42.0.1:7180; read-only without the plane's token).
    #[arg(long, conflicts_with = "machines_only")]
    dashboard: Option<std::net::SocketAddr>,
}

fn lab_dir(lab: &LabDir) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &lab.dir {
        return Ok(dir.clone());
    }
    let db = crate::commands::default_db()?;
    let base = db.parent().unwrap_or(Path::new("."));
    Ok(base.join("lab").join(&lab.name))
}

/// Runs a `lab` subcommand.
pub async fn run(command: LabCommand) -> anyhow::Result<ExitCode> {
    match command {
        LabCommand::Up(args) => {
            let machines = if args.machines.is_empty() {
                ironbell_lab::plan::default_machines()
            } else {
                args.machines
            };
            let opts = ironbell_lab::Options {
                name: args.lab.name.clone(),
                dir: lab_dir(&args.lab)?,
                machines,
                strangers: args.strangers,
                hookos_dir: args.hookos,
                os_image: args.os_image,
                ironbell: std::env::current_exe().context("locating the ironbell binary")?,
                ipxe_dir: args.ipxe_dir,
                template: args.template,
                memory_mib: args.memory,
                timeout: args.timeout,
                wait: !args.detach,
                replicas: usize::from(args.replicas),
                machines_only: args.machines_only,
                dashboard: args.dashboard,
            };
            let mut out = std::io::stdout();
            let summary = ironbell_lab::up(&opts, &mut out).await?;
            Ok(if args.detach || args.machines_only || summary.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        LabCommand::Down(lab) => {
            ironbell_lab::down(&lab_dir(&lab)?, &mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Vbmc { config } => {
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            ironbell_lab::vbmc::run(&config, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
