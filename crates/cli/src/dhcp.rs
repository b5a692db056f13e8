//! `ironbell dhcp probe`: is another DHCP server answering on the provisioning network?
//! The probe itself is `ironbell_dhcp::probe`; this prints its report.

use std::net::Ipv4Addr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use ironbell_dhcp::probe::{DEFAULT_TIMEOUT, ProbeConfig, probe};

/// `ironbell dhcp` subcommands.
#[derive(Subcommand, Debug)]
pub enum DhcpCommand {
    /// Send a DHCPDISCOVER on an interface, as a booting machine would, and print one line
    /// per DHCP server that answers (its server id, source address and MAC, the address it
    /// offered and any PXE boot data). Exit status: 0 when no other server answered, 1 when
    /// some did, 2 when the probe could not run. Needs CAP_NET_RAW (root).
    Probe(ProbeArgs),
}

/// Flags of `dhcp probe`.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// The interface on the provisioning network.
    #[arg(short, long, value_name = "IF")]
    interface: String,
    /// How long to listen for answers (three Discovers are sent within it).
    #[arg(long, default_value_t = DEFAULT_TIMEOUT.into())]
    timeout: humantime::Duration,
    /// An address of ironbell's own boot service: its answers are not listed (repeatable).
    #[arg(long, value_name = "IP")]
    ignore: Vec<Ipv4Addr>,
}

/// Runs an `ironbell dhcp` command.
pub async fn run(command: DhcpCommand) -> anyhow::Result<ExitCode> {
    match command {
        DhcpCommand::Probe(args) => run_probe(args).await,
    }
}

async fn run_probe(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    let mut config = ProbeConfig::new(args.interface);
    config.timeout = args.timeout.into();
    config.ignore = args.ignore;
    let interface = config.interface.clone();
    let report = match tokio::task::spawn_blocking(move || probe(&config))
        .await
        .context("the probe's thread failed")?
    {
        Ok(report) => report,
        Err(e) => {
            crate::output::print_error(&anyhow::Error::new(e));
            return Ok(ExitCode::from(2));
        }
    };
    if report.ours > 0 {
        eprintln!(
            "{} answer{} from ironbell's own server (--ignore) not listed",
            report.ours,
            if report.ours == 1 { "" } else { "s" }
        );
    }
    if report.malformed > 0 {
        eprintln!("{} malformed replies dropped", report.malformed);
    }
    if !report.rival_found() {
        println!("no other DHCP server answered on {interface}");
        return Ok(ExitCode::SUCCESS);
    }
    for server in &report.servers {
        println!("{server}");
    }
    if report.over_limit > 0 {
        println!(
            "... and {} more answers from other servers",
            report.over_limit
        );
    }
    Ok(ExitCode::from(1))
}
