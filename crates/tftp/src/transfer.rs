//! One read transfer: option negotiation, then windows of DATA blocks sent until the last
//! block is acknowledged. Runs in its own task on its own socket (its TID).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::packet::{ErrorCode, MAX_PACKET_LEN, Mode, Packet, Request};
use crate::server::{Config, Inner, Stats};
use crate::source::{OpenFile, SourceError};

/// How a transfer ended.
pub(crate) enum Outcome {
    /// The last block was acknowledged.
    Ok,
    /// It ended on our side: refused, not found, timed out, I/O error.
    Failed,
    /// The client sent an ERROR.
    Aborted,
}

/// The smallest disk read a transfer makes (read-ahead for small windows).
const READ_AHEAD: usize = 256 * 1024;

/// The negotiated parameters.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Params {
    pub(crate) blksize: usize,
    pub(crate) windowsize: u64,
    pub(crate) timeout: Duration,
    /// Accepted options to put in the OACK (empty: no OACK, start with DATA 1).
    pub(crate) oack: Vec<(String, String)>,
}

/// RFC 2347 negotiation: accepted options are echoed (lower-case) with the granted value;
/// unknown, repeated or out-of-range ones are ignored.
pub(crate) fn negotiate(config: &Config, options: &[(String, String)], file_len: u64) -> Params {
    let mut p = Params {
        blksize: 512,
        windowsize: 1,
        timeout: config.timeout,
        oack: Vec::new(),
    };
    for (name, value) in options {
        let name = name.to_ascii_lowercase();
        if p.oack.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let value = value.trim();
        let granted = match name.as_str() {
            "blksize" => match value.parse::<u32>() {
                Ok(v) if (8..=65464).contains(&v) => {
                    let v = v.min(u32::from(config.max_blksize.max(8)));
                    p.blksize = v as usize;
                    v.to_string()
                }
                _ => continue,
            },
            "tsize" => file_len.to_string(),
            "timeout" => match value.parse::<u8>() {
                Ok(v) if v >= 1 => {
                    p.timeout = Duration::from_secs(u64::from(v));
                    v.to_string()
                }
                _ => continue,
            },
            "windowsize" => match value.parse::<u16>() {
                Ok(v) if v >= 1 => {
                    let v = v.min(config.max_windowsize.max(1));
                    p.windowsize = u64::from(v);
                    v.to_string()
                }
                _ => continue,
            },
            _ => continue,
        };
        p.oack.push((name, granted));
    }
    p
}

/// Why waiting for an ACK ended without one.
enum End {
    /// The client sent ERROR.
    Aborted(u16, String),
    /// No acceptable ACK after all retries.
    TimedOut,
    /// The socket failed.
    Io(io::Error),
}

struct Peer<'a> {
    sock: UdpSocket,
    peer: SocketAddr,
    stats: &'a Stats,
    timeout: Duration,
    retries: u32,
    buf: Vec<u8>,
}

impl Peer<'_> {
    async fn send_error(&self, code: ErrorCode, message: &str) {
        let pkt = Packet::error(code, message).encode();
        if let Err(e) = self.sock.send_to(&pkt, self.peer).await {
            tracing::debug!(error = %e, "cannot send error");
        }
    }

    /// Sends `packets` and waits for an ACK of a block whose internal number is in
    /// `lo..=hi` (wire numbers wrap at 65536; `hi - lo` < 65535), sending them all again on
    /// each timeout. Returns the acknowledged internal block number.
    async fn send_window(&mut self, packets: &[Vec<u8>], lo: u64, hi: u64) -> Result<u64, End> {
        let mut tries = 0;
        loop {
            for p in packets {
                self.sock.send_to(p, self.peer).await.map_err(End::Io)?;
                if p.get(1) == Some(&3) {
                    Stats::add(&self.stats.bytes_sent, (p.len() - 4) as u64);
                }
            }
            if tries > 0 {
                Stats::add(&self.stats.retransmits, packets.len() as u64);
            }
            let deadline = Instant::now() + self.timeout;
            loop {
                let (n, from) =
                    match tokio::time::timeout_at(deadline, self.sock.recv_from(&mut self.buf))
                        .await
                    {
                        Err(_) => break,
                        Ok(Ok(x)) => x,
                        Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Ok(Err(e)) => return Err(End::Io(e)),
                    };
                if from != self.peer {
                    Stats::add(&self.stats.packets_wrong_tid, 1);
                    tracing::debug!(from = %from, "packet from an unknown TID");
                    let pkt = Packet::error(ErrorCode::UnknownTid, "unknown transfer ID").encode();
                    let _ = self.sock.send_to(&pkt, from).await;
                    continue;
                }
                match Packet::parse(&self.buf[..n]) {
                    Ok(Packet::Ack(block)) => {
                        let diff = u64::from(block.wrapping_sub(lo as u16));
                        if diff <= hi - lo {
                            return Ok(lo + diff);
                        }
                        // A duplicate or old ACK: ignored, never answered.
                    }
                    Ok(Packet::Error { code, message }) => return Err(End::Aborted(code, message)),
                    Ok(_) | Err(_) => Stats::add(&self.stats.packets_malformed, 1),
                }
            }
            tries += 1;
            if tries > self.retries {
                return Err(End::TimedOut);
            }
            tracing::debug!(block = lo, try_ = tries, "timeout, sending again");
        }
    }
}

/// A read-ahead buffer over the open file.
struct Reader {
    file: OpenFile,
    start: u64,
    data: Bytes,
}

impl Reader {
    async fn get(&mut self, offset: u64, len: usize) -> io::Result<Bytes> {
        let end = offset + len as u64;
        let have_end = self.start + self.data.len() as u64;
        let covered = offset >= self.start && (end <= have_end || have_end >= self.file.len());
        if !covered {
            let want = match self.file {
                OpenFile::Memory(_) => len,
                OpenFile::File { .. } => len.max(READ_AHEAD),
            };
            self.data = self.file.read_at(offset, want).await?;
            self.start = offset;
        }
        let from = ((offset - self.start) as usize).min(self.data.len());
        let to = ((end - self.start) as usize).min(self.data.len());
        Ok(self.data.slice(from..to))
    }
}

/// Runs one transfer to its end.
pub(crate) async fn run(
    inner: &Inner,
    local_ip: IpAddr,
    peer: SocketAddr,
    req: Request,
) -> Outcome {
    let sock = match UdpSocket::bind(SocketAddr::new(local_ip, 0)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot bind a transfer socket");
            return Outcome::Failed;
        }
    };
    let mut p = Peer {
        sock,
        peer,
        stats: &inner.stats,
        timeout: inner.config.timeout,
        retries: inner.config.retries,
        buf: vec![0u8; MAX_PACKET_LEN + 1],
    };
    if req.mode == Mode::Mail {
        p.send_error(ErrorCode::IllegalOperation, "mail mode not supported")
            .await;
        return Outcome::Failed;
    }
    let source = inner.source.clone();
    let name = req.filename.clone();
    let opened = tokio::task::spawn_blocking(move || source.open(&name)).await;
    let file = match opened {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            let code = match e {
                SourceError::Refused { .. } => ErrorCode::AccessViolation,
                SourceError::NotFound(_) => ErrorCode::FileNotFound,
                SourceError::Io { .. } => ErrorCode::AccessViolation,
            };
            tracing::info!(error = %e, "request refused");
            p.send_error(code, &e.to_string()).await;
            return Outcome::Failed;
        }
        Err(e) => {
            tracing::warn!(error = %e, "file lookup task failed");
            p.send_error(ErrorCode::NotDefined, "internal error").await;
            return Outcome::Failed;
        }
    };
    let len = file.len();
    let params = negotiate(&inner.config, &req.options, len);
    p.timeout = params.timeout;
    tracing::debug!(size = len, ?params, "transfer starts");

    let end = match send_file(&mut p, file, &params).await {
        Ok(()) => {
            tracing::info!(
                size = len,
                blksize = params.blksize,
                windowsize = params.windowsize,
                "transfer complete"
            );
            return Outcome::Ok;
        }
        Err(end) => end,
    };
    match end {
        End::Aborted(code, message) => {
            if code == ErrorCode::OptionRefused as u16 {
                tracing::debug!(code, %message, "client ended the transfer after negotiation");
            } else {
                tracing::info!(code, %message, "client aborted the transfer");
            }
            Outcome::Aborted
        }
        End::TimedOut => {
            tracing::warn!("transfer timed out");
            p.send_error(ErrorCode::NotDefined, "timed out").await;
            Outcome::Failed
        }
        End::Io(e) => {
            tracing::warn!(error = %e, "transfer failed");
            Outcome::Failed
        }
    }
}

async fn send_file(p: &mut Peer<'_>, file: OpenFile, params: &Params) -> Result<(), End> {
    if !params.oack.is_empty() {
        let oack = Packet::Oack(params.oack.clone()).encode();
        p.send_window(&[oack], 0, 0).await?;
    }
    let bs = params.blksize as u64;
    let len = file.len();
    // The last block is short, possibly empty.
    let total = len / bs + 1;
    let mut reader = Reader {
        file,
        start: 0,
        data: Bytes::new(),
    };
    let mut acked = 0u64;
    let mut packets = Vec::new();
    while acked < total {
        let lo = acked + 1;
        let hi = (acked + params.windowsize).min(total);
        let offset = (lo - 1) * bs;
        let span = ((hi - lo + 1) * bs).min(len.saturating_sub(offset)) as usize;
        let data = reader.get(offset, span).await.map_err(End::Io)?;
        packets.clear();
        for k in lo..=hi {
            let from = (((k - lo) * bs) as usize).min(data.len());
            let to = (from + params.blksize).min(data.len());
            let mut pkt = Vec::with_capacity(4 + to - from);
            pkt.extend_from_slice(&[0, 3]);
            pkt.extend_from_slice(&(k as u16).to_be_bytes());
            pkt.extend_from_slice(&data[from..to]);
            packets.push(pkt);
        }
        acked = p.send_window(&packets, lo, hi).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(o: &[(&str, &str)]) -> Vec<(String, String)> {
        o.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn negotiation_caps_and_ignores() {
        let c = Config::default();
        let p = negotiate(
            &c,
            &opts(&[
                ("TSIZE", "0"),
                ("blksize", "9000"),
                ("windowsize", "16"),
                ("timeout", "3"),
                ("multicast", ""),
            ]),
            1234,
        );
        assert_eq!(p.blksize, 1468);
        assert_eq!(p.windowsize, 16);
        assert_eq!(p.timeout, Duration::from_secs(3));
        assert_eq!(
            p.oack,
            opts(&[
                ("tsize", "1234"),
                ("blksize", "1468"),
                ("windowsize", "16"),
                ("timeout", "3")
            ])
        );
        let p = negotiate(
            &c,
            &opts(&[
                ("blksize", "7"),
                ("blksize2", "8"),
                ("windowsize", "0"),
                ("timeout", "0"),
                ("timeout", "256"),
                ("windowsize", "99999"),
                ("blksize", "x"),
            ]),
            1,
        );
        assert_eq!(
            (p.blksize, p.windowsize, p.timeout, p.oack.len()),
            (512, 1, c.timeout, 0)
        );
        let p = negotiate(&c, &opts(&[("windowsize", "65535"), ("blksize", "8")]), 1);
        assert_eq!((p.blksize, p.windowsize), (8, 64));
    }
}
