//! A small command-line client for trying ironbell-ipmi against a BMC by hand.
//!
//! ```text
//! IPMI_PASSWORD=secret cargo run -p ironbell-ipmi --example ipmi -- HOST[:PORT] USER [SUITE] COMMAND
//! ```
//!
//! COMMAND is one of `status`, `on`, `off`, `cycle`, `reset`, `soft`, `bootdev`,
//! `pxe|disk|bios|cdrom[,persistent][,efi]`, `info`. SUITE is `3`, `17` or `auto`
//! (default). The password comes from `IPMI_PASSWORD`, never from the command line.

use std::process::ExitCode;
use std::time::Duration;

use ironbell_ipmi::{
    BootDevice, BootOptions, ChassisControl, CipherSuite, CipherSuiteChoice, Config, Session,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: ipmi HOST[:PORT] USER [3|17|auto] COMMAND";
    let (target, user) = match (args.first(), args.get(1)) {
        (Some(t), Some(u)) => (t.clone(), u.clone()),
        _ => return Err(usage.into()),
    };
    let (suite, command) = match (args.get(2), args.get(3)) {
        (Some(s), Some(c)) => (s.as_str(), c.as_str()),
        (Some(c), None) => ("auto", c.as_str()),
        _ => return Err(usage.into()),
    };
    let password = std::env::var("IPMI_PASSWORD").unwrap_or_default();
    let (host, port) = match target.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse()?),
        None => (target.clone(), ironbell_ipmi::DEFAULT_PORT),
    };
    let mut config = Config::new(host, user, password);
    config.port = port;
    config.timeout = Duration::from_secs(1);
    config.cipher_suite = match suite {
        "auto" => CipherSuiteChoice::Auto,
        s => CipherSuiteChoice::Only(
            CipherSuite::from_id(s.parse()?).ok_or("cipher suite must be 3 or 17")?,
        ),
    };
    let mut s = Session::connect(config).await?;
    println!("cipher suite {}", s.cipher_suite());
    match command {
        "status" => println!("{:#?}", s.chassis_status().await?),
        "on" => s.chassis_control(ChassisControl::PowerUp).await?,
        "off" => s.chassis_control(ChassisControl::PowerDown).await?,
        "cycle" => s.chassis_control(ChassisControl::PowerCycle).await?,
        "reset" => s.chassis_control(ChassisControl::HardReset).await?,
        "soft" => s.chassis_control(ChassisControl::SoftShutdown).await?,
        "bootdev" => println!("{:#?}", s.boot_device().await?),
        "info" => println!("{:#?}", s.device_id().await?),
        other => {
            let mut parts = other.split(',');
            let device = match parts.next() {
                Some("pxe") => BootDevice::Pxe,
                Some("disk") => BootDevice::Disk,
                Some("bios") => BootDevice::BiosSetup,
                Some("cdrom") => BootDevice::Cdrom,
                _ => return Err(usage.into()),
            };
            let mut opts = BootOptions::default();
            for p in parts {
                match p {
                    "persistent" => opts.persistent = true,
                    "efi" => opts.efi = true,
                    _ => return Err(usage.into()),
                }
            }
            s.set_boot_device(device, opts).await?;
        }
    }
    println!("{:?}", s.stats());
    s.close().await?;
    Ok(())
}
