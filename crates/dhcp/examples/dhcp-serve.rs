//! A stand-alone ironbell DHCP server for load tests (`crates/dhcp/bench/run.sh`).
//!
//! It reads a file of MAC addresses (one a line), reserves 10.100.x.y/16 for each in
//! order (the first MAC gets 10.100.0.10; past 65,525 MACs the plan is 10.100.0.0/14),
//! and serves in reservation mode until killed.
//! It is not the boot service: no store, no HTTP, no TFTP; logging is at `warn`. It runs
//! `Server::serve_blocking` (the boot service's loop) on the main thread, or with `--tokio`
//! `Server::serve` on a multi-threaded Tokio runtime, for comparison; `--batch-window-us`
//! sets `Config::batch_window` (0: no gathering), to measure what it saves.
//!
//! ```text
//! dhcp-serve --listen 0.0.0.0:67 --interface s0 --server-ip 10.100.0.1 --macs macs.txt
//! ```

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ironbell_dhcp::{Config, Reservation, Server, bind_server_socket};

/// Offset of the first reserved address within 10.100.0.0/16 (below it: the server).
const FIRST_HOST: u32 = 10;

/// Command-line options.
struct Args {
    listen: String,
    interface: Option<String>,
    server_ip: Ipv4Addr,
    macs: String,
    tokio: bool,
    batch_window: Option<Duration>,
}

fn usage() -> String {
    "usage: dhcp-serve --listen ADDR --server-ip IP --macs FILE [--interface IF] [--tokio] \
     [--batch-window-us N]"
        .into()
}

fn parse_args() -> Result<Args, String> {
    let mut listen = String::from("0.0.0.0:67");
    let mut interface = None;
    let mut server_ip = None;
    let mut macs = None;
    let mut tokio = false;
    let mut batch_window = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => listen = value()?,
            "--interface" => interface = Some(value()?),
            "--server-ip" => {
                let v = value()?;
                server_ip = Some(
                    v.parse()
                        .map_err(|e| format!("--server-ip {v:?} is not an IPv4 address: {e}"))?,
                );
            }
            "--macs" => macs = Some(value()?),
            "--tokio" => tokio = true,
            "--batch-window-us" => {
                let v = value()?;
                let us = v
                    .parse()
                    .map_err(|e| format!("--batch-window-us {v:?} is not a number: {e}"))?;
                batch_window = Some(Duration::from_micros(us));
            }
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("unknown argument {other:?}\n{}", usage())),
        }
    }
    Ok(Args {
        listen,
        interface,
        server_ip: server_ip.ok_or_else(|| format!("--server-ip is required\n{}", usage()))?,
        macs: macs.ok_or_else(|| format!("--macs is required\n{}", usage()))?,
        tokio,
        batch_window,
    })
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = text
        .split([':', '-'])
        .map(|h| u8::from_str_radix(h, 16).ok())
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

fn load_backend(path: &str) -> Result<HashMap<[u8; 6], Arc<Reservation>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // 10.100.0.0/16 up to 65,525 MACs, else 10.100.0.0/14 (scripts/bench's 100,000).
    let (mask, last) = if lines.len() < 0xffff - FIRST_HOST as usize {
        (Ipv4Addr::new(255, 255, 0, 0), 0xffff)
    } else {
        (Ipv4Addr::new(255, 252, 0, 0), 0x3_ffff)
    };
    let base = u32::from(Ipv4Addr::new(10, 100, 0, 0));
    let mut backend = HashMap::with_capacity(lines.len());
    for (n, line) in lines.into_iter().enumerate() {
        let mac = parse_mac(line).ok_or_else(|| format!("{path}: {line:?} is not a MAC"))?;
        let host = FIRST_HOST + u32::try_from(n).map_err(|_| format!("{path}: too many MACs"))?;
        if host >= last {
            return Err(format!("{path}: more MACs than 10.100.0.0/14 holds"));
        }
        backend.insert(
            mac,
            Arc::new(Reservation::new(Ipv4Addr::from(base + host), mask)),
        );
    }
    Ok(backend)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let backend = match load_backend(&args.macs) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let count = backend.len();
    let mut config = Config::new(args.server_ip);
    if let Some(window) = args.batch_window {
        config.batch_window = window;
    }
    let server = Server::new(config, backend);
    let result = (|| {
        let sock = bind_server_socket(args.listen.as_str(), args.interface.as_deref())?;
        eprintln!(
            "dhcp-serve: {count} reservations, listening on {} ({}), {} loop",
            args.listen,
            args.interface.as_deref().unwrap_or("any interface"),
            if args.tokio { "tokio" } else { "blocking" },
        );
        if !args.tokio {
            return server.serve_blocking(sock, &AtomicBool::new(false));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move { server.serve(tokio::net::UdpSocket::from_std(sock)?).await })
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dhcp-serve: {e}");
            ExitCode::FAILURE
        }
    }
}
