//! A tiny stand-alone server for benchmarks and manual tests:
//! `tftp-serve --root DIR --listen 127.0.0.1:69` serves DIR read-only with the default
//! [`Config`] until killed.

use ironbell_tftp::{Config, FileSource, Server};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut root = None;
    let mut listen = "0.0.0.0:69".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => root = args.next(),
            "--listen" => listen = args.next().ok_or("--listen needs ADDR")?,
            other => {
                return Err(
                    format!("unknown argument {other:?}; usage: --root DIR --listen ADDR").into(),
                );
            }
        }
    }
    let root = root.ok_or("--root DIR is required")?;
    let socket = tokio::net::UdpSocket::bind(&listen).await?;
    eprintln!("serving {root} on {}", socket.local_addr()?);
    // The benchmark's clients all come from 127.0.0.1: no per-client bounds.
    let config = Config {
        max_transfers_per_client: usize::MAX,
        requests_per_second: f64::MAX,
        request_burst: u32::MAX,
        ..Config::default()
    };
    let server = Server::new(config, FileSource::dir(&root)?);
    server.serve(socket).await?;
    Ok(())
}
