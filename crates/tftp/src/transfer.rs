//! One read transfer: option negotiation, then windows of DATA blocks sent until the last
//! block is acknowledged. Runs on its own thread with blocking calls, on its own socket
//! (its TID): one `sendto` per DATA packet and one `recvfrom` per ACK, no event loop or
//! timer in between (see the crate docs for why).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::packet::{ErrorCode, Mode, Packet, Request};
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
    /// A `timeout` above [`Config::max_timeout`] was asked for (and left out).
    pub(crate) timeout_refused: bool,
}

/// RFC 2347 negotiation: accepted options are echoed (lower-case) with the granted value;
/// unknown, repeated or out-of-range ones are ignored.
pub(crate) fn negotiate(config: &Config, options: &[(String, String)], file_len: u64) -> Params {
    let mut p = Params {
        blksize: 512,
        windowsize: 1,
        timeout: config.timeout,
        oack: Vec::new(),
        timeout_refused: false,
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
                Ok(v) if Duration::from_secs(u64::from(v)) > config.max_timeout => {
                    p.timeout_refused = true;
                    continue;
                }
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
    /// [`Config::transfer_deadline`] passed.
    Deadline,
    /// The server was stopped.
    Stopped,
    /// The socket failed.
    Io(io::Error),
}

/// How long a transfer thread blocks in one receive at most, so that it notices a stopped
/// server: ACKs normally arrive long before, so this costs nothing while data flows.
pub(crate) const STOP_POLL: Duration = Duration::from_millis(200);

/// Receive buffer size: ACKs are 4 bytes and ERRORs short; a longer datagram is cut, which
/// changes nothing for an ACK (trailing bytes are allowed) and only shortens an ERROR's
/// message.
const RECV_BUF: usize = 2048;

struct Peer<'a> {
    sock: UdpSocket,
    peer: SocketAddr,
    stats: &'a Stats,
    stop: &'a AtomicBool,
    /// Set on the first packet from the client (see `server::Running`).
    heard: &'a AtomicBool,
    timeout: Duration,
    retries: u32,
    /// When the whole transfer must be over.
    deadline: Instant,
    /// The socket's current receive timeout (set only when it changes: one syscall).
    read_timeout: Option<Duration>,
    buf: [u8; RECV_BUF],
}

impl Peer<'_> {
    fn send_error(&self, code: ErrorCode, message: &str) {
        let pkt = Packet::error(code, message).encode();
        if let Err(e) = self.sock.send_to(&pkt, self.peer) {
            tracing::debug!(error = %e, "cannot send error");
        }
    }

    fn set_read_timeout(&mut self, t: Duration) -> io::Result<()> {
        // Zero would mean "block forever" to the socket.
        let t = t.clamp(Duration::from_millis(1), STOP_POLL);
        if self.read_timeout != Some(t) {
            self.sock.set_read_timeout(Some(t))?;
            self.read_timeout = Some(t);
        }
        Ok(())
    }

    /// Sends the packets of `window` (`segments` are their ranges in it) and waits for an
    /// ACK of a block whose internal number is in `lo..=hi` (wire numbers wrap at 65536;
    /// `hi - lo` < 65535), sending them all again on each timeout. Returns the
    /// acknowledged internal block number.
    fn send_window(
        &mut self,
        window: &[u8],
        segments: &[Range<usize>],
        lo: u64,
        hi: u64,
    ) -> Result<u64, End> {
        let mut tries = 0;
        loop {
            let mut payload = 0u64;
            for r in segments {
                let p = &window[r.clone()];
                self.sock.send_to(p, self.peer).map_err(End::Io)?;
                if p.get(1) == Some(&3) {
                    payload += (p.len() - 4) as u64;
                }
            }
            Stats::add(&self.stats.bytes_sent, payload);
            if tries > 0 {
                Stats::add(&self.stats.retransmits, segments.len() as u64);
            }
            let deadline = (Instant::now() + self.timeout).min(self.deadline);
            loop {
                if self.stop.load(Ordering::Relaxed) {
                    return Err(End::Stopped);
                }
                let now = Instant::now();
                if now >= self.deadline {
                    return Err(End::Deadline);
                }
                let left = deadline.saturating_duration_since(now);
                if left.is_zero() {
                    break;
                }
                self.set_read_timeout(left).map_err(End::Io)?;
                let (n, from) = match self.sock.recv_from(&mut self.buf) {
                    Ok(x) => x,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock
                                | io::ErrorKind::TimedOut
                                | io::ErrorKind::Interrupted
                        ) =>
                    {
                        continue;
                    }
                    // An ICMP port unreachable from an earlier send: the client may be
                    // gone, or may come back; the retries decide.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                    Err(e) => return Err(End::Io(e)),
                };
                if from != self.peer {
                    Stats::add(&self.stats.packets_wrong_tid, 1);
                    tracing::debug!(from = %from, "packet from an unknown TID");
                    let pkt = Packet::error(ErrorCode::UnknownTid, "unknown transfer ID").encode();
                    let _ = self.sock.send_to(&pkt, from);
                    continue;
                }
                self.heard.store(true, Ordering::Relaxed);
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
    fn get(&mut self, offset: u64, len: usize) -> io::Result<Bytes> {
        let end = offset + len as u64;
        let have_end = self.start + self.data.len() as u64;
        let covered = offset >= self.start && (end <= have_end || have_end >= self.file.len());
        if !covered {
            let want = match self.file {
                OpenFile::Memory(_) => len,
                OpenFile::File { .. } => len.max(READ_AHEAD),
            };
            self.data = self.file.read_at_blocking(offset, want)?;
            self.start = offset;
        }
        let from = ((offset - self.start) as usize).min(self.data.len());
        let to = ((end - self.start) as usize).min(self.data.len());
        Ok(self.data.slice(from..to))
    }
}

/// Runs one transfer to its end, blocking the calling thread (the server gives each
/// transfer a thread of its own). `sock` is the transfer's own socket (its TID), bound by
/// the caller; `stop` ends the transfer early when set; `heard` is set when the first
/// packet from `peer` arrives.
pub(crate) fn run(
    inner: &Inner,
    sock: UdpSocket,
    peer: SocketAddr,
    req: Request,
    stop: &AtomicBool,
    heard: &AtomicBool,
) -> Outcome {
    let mut p = Peer {
        sock,
        peer,
        stats: &inner.stats,
        stop,
        heard,
        timeout: inner.config.timeout,
        retries: inner.config.retries,
        deadline: Instant::now() + inner.config.transfer_deadline,
        read_timeout: None,
        buf: [0u8; RECV_BUF],
    };
    if req.mode == Mode::Mail {
        p.send_error(ErrorCode::IllegalOperation, "mail mode not supported");
        return Outcome::Failed;
    }
    let file = match inner.source.open(&req.filename) {
        Ok(f) => f,
        Err(e) => {
            let code = match e {
                SourceError::Refused { .. } => ErrorCode::AccessViolation,
                SourceError::NotFound(_) => ErrorCode::FileNotFound,
                SourceError::Io { .. } => ErrorCode::AccessViolation,
            };
            tracing::info!(error = %e, "request refused");
            p.send_error(code, &e.to_string());
            return Outcome::Failed;
        }
    };
    let len = file.len();
    let params = negotiate(&inner.config, &req.options, len);
    if params.timeout_refused {
        Stats::add(&inner.stats.timeout_refused, 1);
    }
    p.timeout = params.timeout;
    tracing::debug!(size = len, ?params, "transfer starts");

    let end = match send_file(&mut p, file, &params) {
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
            p.send_error(ErrorCode::NotDefined, "timed out");
            Outcome::Failed
        }
        End::Deadline => {
            Stats::add(&inner.stats.deadline_expired, 1);
            tracing::warn!(deadline = ?inner.config.transfer_deadline, "transfer deadline passed, transfer ended");
            p.send_error(ErrorCode::NotDefined, "transfer deadline");
            Outcome::Failed
        }
        End::Stopped => {
            tracing::info!("server stopped, transfer ended");
            p.send_error(ErrorCode::NotDefined, "server stopped");
            Outcome::Failed
        }
        End::Io(e) => {
            tracing::warn!(error = %e, "transfer failed");
            Outcome::Failed
        }
    }
}

fn send_file(p: &mut Peer<'_>, file: OpenFile, params: &Params) -> Result<(), End> {
    if !params.oack.is_empty() {
        let oack = Packet::Oack(params.oack.clone()).encode();
        let whole = 0..oack.len();
        p.send_window(&oack, std::slice::from_ref(&whole), 0, 0)?;
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
    // One buffer for the whole window, packets back to back; reused for every window.
    let max_window = params.windowsize.min(total) as usize;
    let mut window = Vec::with_capacity(max_window * (4 + params.blksize));
    let mut segments = Vec::with_capacity(max_window);
    while acked < total {
        let lo = acked + 1;
        let hi = (acked + params.windowsize).min(total);
        let offset = (lo - 1) * bs;
        let span = ((hi - lo + 1) * bs).min(len.saturating_sub(offset)) as usize;
        let data = reader.get(offset, span).map_err(End::Io)?;
        window.clear();
        segments.clear();
        for k in lo..=hi {
            let from = (((k - lo) * bs) as usize).min(data.len());
            let to = (from + params.blksize).min(data.len());
            let at = window.len();
            window.extend_from_slice(&[0, 3]);
            window.extend_from_slice(&(k as u16).to_be_bytes());
            window.extend_from_slice(&data[from..to]);
            segments.push(at..window.len());
        }
        acked = p.send_window(&window, &segments, lo, hi)?;
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
        // Above the cap: left out of the OACK (RFC 2349 allows no other value), default used.
        let p = negotiate(&c, &opts(&[("timeout", "255"), ("tsize", "0")]), 7);
        assert_eq!(
            (p.timeout, p.timeout_refused, p.oack),
            (c.timeout, true, opts(&[("tsize", "7")]))
        );
        let p = negotiate(&c, &opts(&[("timeout", "5")]), 7);
        assert_eq!(
            (p.timeout, p.timeout_refused),
            (Duration::from_secs(5), false)
        );
        let p = negotiate(&c, &opts(&[("windowsize", "65535"), ("blksize", "8")]), 1);
        assert_eq!((p.blksize, p.windowsize), (8, 64));
    }
}
