//! `ironbell-agent`: see the library documentation for settings and usage.

use ironbell_agent::actions::{self, ActionSpec, Context};
use ironbell_agent::agent::Agent;
use ironbell_agent::config::Settings;
use ironbell_agent::power::{DryRunPower, Power, SystemPower};
use std::sync::Arc;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn init_logging(syslog_host: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let syslog = syslog_host.and_then(|h| match ironbell_agent::syslog::SyslogLayer::connect(h) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("syslog_host {h}: {e}; logging locally only");
            None
        }
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_ansi(
                    std::io::IsTerminal::is_terminal(&std::io::stdout())
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
                ),
        )
        .with(syslog)
        .init();
}

fn power(dry_run: bool) -> Arc<dyn Power> {
    if dry_run {
        Arc::new(DryRunPower::default())
    } else {
        Arc::new(SystemPower)
    }
}

async fn one_action(name: &str) -> std::process::ExitCode {
    let spec = ActionSpec {
        name: name.to_string(),
        image: name.to_string(),
        env: std::env::vars().collect(),
        ..Default::default()
    };
    if actions::builtin_name(name).is_none() {
        tracing::error!(name, "not a built-in action");
        return std::process::ExitCode::from(2);
    }
    let settings = Settings::from_sources(
        "grpc_authority=- worker_id=-",
        &|k| std::env::var(k).ok(),
        &[],
    );
    let (settings, http) = match (settings, ironbell_agent::http_client(false)) {
        (Ok(s), Ok(h)) => (s, h),
        (Err(e), _) => {
            tracing::error!(error = %e, "settings");
            return std::process::ExitCode::from(2);
        }
        (_, Err(e)) => {
            tracing::error!(error = %e, "HTTP client");
            return std::process::ExitCode::from(2);
        }
    };
    let ctx = Context {
        power: power(settings.power_dry_run),
        settings: Arc::new(settings),
        http,
    };
    match actions::execute(&spec, &ctx).await {
        Ok(o) => {
            tracing::info!(message = %o.message, "done");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "failed");
            std::process::ExitCode::FAILURE
        }
    }
}

fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ironbell-agent: tokio runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [cmd, name] = args.as_slice()
        && cmd == "action"
    {
        init_logging(None);
        return runtime.block_on(one_action(name));
    }
    if !args.is_empty() {
        eprintln!(
            "usage: ironbell-agent [action NAME]  (settings: kernel command line and environment)"
        );
        return std::process::ExitCode::from(2);
    }
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ironbell-agent: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(settings.syslog_host.as_deref());
    match ironbell_limits::raise_nofile_limit() {
        Ok((soft, hard)) => tracing::debug!(soft, hard, "open-file limit"),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
    let power = power(settings.power_dry_run);
    runtime.block_on(async {
        // The gRPC channel needs the runtime to exist when it is created.
        let agent = match Agent::new(settings, power) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                return std::process::ExitCode::FAILURE;
            }
        };
        tokio::select! {
            () = agent.run() => {}
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted"),
            () = terminated() => tracing::info!("terminated"),
        }
        std::process::ExitCode::SUCCESS
    })
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
