//! `ironbell node up|wait`: a control-plane machine's part of the native plane (the `native`
//! node bootstrapper's user-data runs them). `up` starts the machine's etcd member
//! (`ironbell_native::Member`) and then a replica of the plane on it, `serve all` in this
//! process; `wait` returns once the member answers, so that the machine phones home only
//! when its part of the plane serves.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ironbell_bootstrap::native::NodeConfig;

/// `ironbell node ...`.
#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// Start this machine's etcd member (a new cluster, or joining the members the
    /// configuration names) and a replica of the plane on it; runs until interrupted.
    Up(NodeArgs),
    /// Wait until this machine's etcd member answers.
    Wait(NodeArgs),
}

/// Flags of `node up` and `node wait`.
#[derive(clap::Args, Debug)]
pub struct NodeArgs {
    /// The node's configuration (written by the user-data), or the cloud-config user-data
    /// that writes it.
    #[arg(long, default_value = ironbell_bootstrap::native::CONFIG_PATH)]
    config: PathBuf,
    /// This machine's address (default: that of the configuration's interface, else the
    /// first global IPv4 address).
    #[arg(long)]
    address: Option<IpAddr>,
    /// How long to wait for the member to answer.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

impl NodeArgs {
    fn load(&self) -> anyhow::Result<(NodeConfig, String, Option<String>, IpAddr)> {
        let text = std::fs::read_to_string(&self.config)
            .with_context(|| format!("reading {}", self.config.display()))?;
        let config = NodeConfig::parse(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.config.display()))?;
        let (interface, address) = match self.address {
            Some(a) => (config.interface.clone(), a),
            None => {
                let (i, a) = ironbell_native::host_address(config.interface.as_deref())?;
                (Some(i), a)
            }
        };
        let name = match &config.name {
            Some(n) => n.clone(),
            None => nix::unistd::gethostname()
                .context("reading the host name")?
                .to_string_lossy()
                .into_owned(),
        };
        Ok((config, name, interface, address))
    }
}

/// Runs a `node` command.
pub async fn run(command: NodeCommand) -> anyhow::Result<ExitCode> {
    match command {
        NodeCommand::Wait(args) => {
            let (config, name, _, address) = args.load()?;
            ironbell_native::wait_for_member(&config, address, args.timeout).await?;
            println!("etcd member {name} at {address} answers");
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Up(args) => {
            let (config, name, interface, address) = args.load()?;
            let member = ironbell_native::Member::start(&config, &name, address, args.timeout)
                .await
                .with_context(|| format!("starting etcd member {name}"))?;
            let IpAddr::V4(public_ip) = address else {
                anyhow::bail!("the replica needs an IPv4 address, not {address}");
            };
            let mut argv: Vec<String> = vec![
                "ironbell".into(),
                "--store".into(),
                member.store_spec(&config.join),
                "serve".into(),
                "all".into(),
                "--public-ip".into(),
                public_ip.to_string(),
                "--replica-id".into(),
                name.clone(),
            ];
            if let Some(i) = interface {
                argv.extend(["--interface".into(), i]);
            }
            argv.extend(config.serve_args.iter().cloned());
            let cli = crate::Cli::try_parse_from(&argv).with_context(|| {
                format!("the replica's flags ({})", config.serve_args.join(" "))
            })?;
            tracing::info!(member = %name, %address, "etcd member up; starting the replica");
            let result = Box::pin(crate::commands::run(cli)).await;
            member.stop().await;
            result
        }
    }
}
