//! A small TFTP download client for benchmarks (`crates/tftp/bench/run.sh`): it asks for
//! `blksize`, `tsize` and `windowsize` (RFC 2348, 2349, 7440), which neither curl nor
//! tftp-hpa's client sends together, so the same client can be pointed at ironbell and at
//! tftpd-hpa and the comparison is fair.
//!
//! ```text
//! tftp-get [--blksize N] [--windowsize N] [--concurrent N] [--check FILE] ADDR:PORT NAME
//! ```
//!
//! `--concurrent N` runs N downloads of NAME at once, each on its own thread and socket.
//! `--check FILE` compares every download with FILE. It prints one line,
//! `transfers=N failed=N bytes=N seconds=S mib_per_s=R`, and exits non-zero if any
//! transfer failed.
//!
//! A server that does not grant `windowsize` (tftpd-hpa) is answered block by block, as
//! RFC 7440 says. Lost packets are recovered by sending the last ACK again after a
//! timeout (1 s), at most 5 times. Not a general-purpose client: it only downloads, into
//! memory.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ironbell_tftp::packet::{Mode, Packet, Request};

#[derive(Clone)]
struct Opts {
    server: SocketAddr,
    name: String,
    blksize: Option<u16>,
    windowsize: Option<u16>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn option(oack: &[(String, String)], name: &str) -> Option<u64> {
    oack.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.parse().ok())
}

/// Downloads `opts.name` once; returns the file's bytes.
fn get(opts: &Opts) -> Result<Vec<u8>, Error> {
    let bind: SocketAddr = if opts.server.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let sock = UdpSocket::bind(bind)?;
    sock.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut options = vec![("tsize".to_string(), "0".to_string())];
    if let Some(b) = opts.blksize {
        options.push(("blksize".into(), b.to_string()));
    }
    if let Some(w) = opts.windowsize {
        options.push(("windowsize".into(), w.to_string()));
    }
    let rrq = Packet::Rrq(Request {
        filename: opts.name.clone(),
        mode: Mode::Octet,
        options,
    })
    .encode();
    sock.send_to(&rrq, opts.server)?;

    let mut buf = vec![0u8; 65536 + 4];
    let mut data = Vec::new();
    let (mut blksize, mut window) = (512usize, 1u64);
    let mut expected: u16 = 1;
    let mut in_window = 0u64;
    let mut tid: Option<SocketAddr> = None;
    // The packet to send again on a timeout: the RRQ until the server answers, then the
    // last ACK.
    let mut last_sent = rrq;
    let mut timeouts = 0;
    let mut reacked = false;
    loop {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                timeouts += 1;
                if timeouts > 5 {
                    return Err("timed out".into());
                }
                sock.send_to(&last_sent, tid.unwrap_or(opts.server))?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match tid {
            Some(t) if t != from => continue,
            Some(_) => {}
            None => tid = Some(from),
        }
        timeouts = 0;
        let ack = |block: u16| Packet::Ack(block).encode();
        match Packet::parse(&buf[..n])? {
            Packet::Oack(o) if data.is_empty() && expected == 1 => {
                blksize = option(&o, "blksize").unwrap_or(512) as usize;
                window = option(&o, "windowsize").unwrap_or(1);
                if let Some(size) = option(&o, "tsize") {
                    data.reserve(size as usize);
                }
                last_sent = ack(0);
                sock.send_to(&last_sent, from)?;
            }
            Packet::Data { block, data: d } if block == expected => {
                reacked = false;
                data.extend_from_slice(&d);
                in_window += 1;
                let last = d.len() < blksize;
                if in_window == window || last {
                    in_window = 0;
                    last_sent = ack(block);
                    sock.send_to(&last_sent, from)?;
                }
                expected = expected.wrapping_add(1);
                if last {
                    return Ok(data);
                }
            }
            // Out of order or repeated: acknowledge what arrived in order, once until the
            // next in-order block (RFC 7440 section 4).
            Packet::Data { .. } if !reacked => {
                reacked = true;
                in_window = 0;
                last_sent = ack(expected.wrapping_sub(1));
                sock.send_to(&last_sent, from)?;
            }
            Packet::Error { code, message } => {
                return Err(format!("server error {code}: {message}").into());
            }
            _ => {}
        }
    }
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mut blksize = None;
    let mut windowsize = None;
    let mut concurrent = 1usize;
    let mut check = None;
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("{what} needs a value"));
        match arg.as_str() {
            "--blksize" => blksize = Some(value("--blksize")?.parse()?),
            "--windowsize" => windowsize = Some(value("--windowsize")?.parse()?),
            "--concurrent" => concurrent = value("--concurrent")?.parse()?,
            "--check" => check = Some(std::fs::read(value("--check")?)?),
            a if a.starts_with("--") => return Err(format!("unknown option {a}").into()),
            _ => positional.push(arg),
        }
    }
    let [server, name] = <[String; 2]>::try_from(positional)
        .map_err(|_| "usage: tftp-get [--blksize N] [--windowsize N] [--concurrent N] [--check FILE] ADDR:PORT NAME")?;
    let opts = Opts {
        server: server.parse()?,
        name,
        blksize,
        windowsize,
    };
    let start = Instant::now();
    let handles: Vec<_> = (0..concurrent)
        .map(|_| {
            let opts = opts.clone();
            std::thread::spawn(move || get(&opts))
        })
        .collect();
    let mut failed = 0;
    let mut bytes = 0u64;
    for h in handles {
        match h.join() {
            Ok(Ok(data)) => {
                if check.as_ref().is_some_and(|want| *want != data) {
                    eprintln!("download differs from the --check file");
                    failed += 1;
                } else {
                    bytes += data.len() as u64;
                }
            }
            Ok(Err(e)) => {
                eprintln!("transfer failed: {e}");
                failed += 1;
            }
            Err(_) => {
                eprintln!("transfer thread panicked");
                failed += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "transfers={concurrent} failed={failed} bytes={bytes} seconds={secs:.3} mib_per_s={:.1}",
        bytes as f64 / (1024.0 * 1024.0) / secs
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
