//! Streams an HTTP response body (optionally compressed) onto a block device or file with
//! bounded memory — the engine of [`super::image2disk`] and [`super::oci2disk`].
//!
//! Three stages run in parallel, like `curl | zstd -d | dd`:
//! 1. the async task reads the body and hands its chunks over a bounded channel
//!    ([`CHUNKS_IN_FLIGHT`] chunks of typically 16–64 KiB);
//! 2. a blocking thread decompresses them into [`BLOCK`]-sized buffers;
//! 3. a second blocking thread writes the buffers out with `O_DIRECT` where the
//!    destination supports it, like `dd oflag=direct` (at most [`BUFFERS`] buffers exist,
//!    recycled between the two threads), then `fsync`s and, for a block device, asks the
//!    kernel to re-read its partition table.
//!
//! Memory stays below `BUFFERS × BLOCK` + the chunk queue + the decoder's window whatever
//! the image's size. Progress is logged every `PROGRESS_INTERVAL_SECONDS` (default 3).
//! Dropping the future (the action's time limit) closes the channel and both threads
//! stop at their next buffer.

use super::ActionError;
use bytes::Bytes;
use sha2::Digest;
use std::io::{BufRead, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Chunks queued between the download and the decoder.
pub const CHUNKS_IN_FLIGHT: usize = 128;
/// The size of one write.
pub const BLOCK: usize = 4 << 20;
/// Write buffers in existence (one being filled, the others being written or waiting).
pub const BUFFERS: usize = 3;

/// Where and how to write.
#[derive(Debug, Clone)]
pub struct Target {
    /// The action, for errors.
    pub action: &'static str,
    /// The URL or reference, for errors and logs.
    pub source_name: String,
    /// `DEST_DISK`.
    pub dest: PathBuf,
    /// Decompress (`COMPRESSED=true`).
    pub compressed: bool,
    /// Create `dest` if missing (oci2disk does, image2disk does not).
    pub create: bool,
    /// How often to log progress.
    pub progress_interval: Duration,
    /// The expected `sha256:<hex>` digest of the body (oci2disk).
    pub digest: Option<String>,
}

/// What was written.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    /// Bytes received.
    pub read: u64,
    /// Bytes written to the destination.
    pub written: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
}

#[derive(Default)]
struct Progress {
    read: AtomicU64,
    written: AtomicU64,
}

enum Msg {
    Data(Bytes),
    End,
}

/// A `BufRead` over the chunks the download sends; a channel closed without
/// [`Msg::End`] is an error, never a silent end of file.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<Msg>,
    cur: Bytes,
    done: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.cur.is_empty() && !self.done {
            match self.rx.blocking_recv() {
                Some(Msg::Data(b)) => self.cur = b,
                Some(Msg::End) => self.done = true,
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "download stopped before the end",
                    ));
                }
            }
        }
        Ok(&self.cur)
    }

    fn consume(&mut self, amt: usize) {
        let _ = self.cur.split_to(amt.min(self.cur.len()));
    }
}

fn pretty(bytes: u64) -> String {
    let mut v = bytes as f64;
    for unit in ["B", "KiB", "MiB", "GiB", "TiB"] {
        if v < 1024.0 {
            return format!("{v:.1}{unit}");
        }
        v /= 1024.0;
    }
    format!("{v:.1}PiB")
}

/// Aborts the progress logger when the copy ends or is cancelled.
struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Streams `response`'s body to `target.dest`.
pub async fn copy(mut response: reqwest::Response, target: Target) -> Result<Stats, ActionError> {
    let started = Instant::now();
    let total = response.content_length();
    let progress = Arc::new(Progress::default());
    let (tx, rx) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
    let ticker = {
        let progress = progress.clone();
        let interval = target.progress_interval.max(Duration::from_millis(100));
        let dest = target.dest.display().to_string();
        AbortOnDrop(tokio::spawn(async move {
            let mut t = tokio::time::interval(interval);
            t.tick().await;
            loop {
                t.tick().await;
                let (r, w) = (
                    progress.read.load(Ordering::Relaxed),
                    progress.written.load(Ordering::Relaxed),
                );
                let rate = w as f64 / started.elapsed().as_secs_f64() / 1e6;
                tracing::info!(
                    read = %pretty(r),
                    of = %total.map_or_else(|| "?".into(), pretty),
                    written = %pretty(w),
                    rate = %format!("{rate:.0} MB/s"),
                    %dest,
                    "progress"
                );
            }
        }))
    };
    let worker = {
        let progress = progress.clone();
        let target = target.clone();
        tokio::task::spawn_blocking(move || decode_and_write(rx, &target, &progress))
    };
    let mut hasher = target.digest.as_ref().map(|_| sha2::Sha256::new());
    let mut download_error = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                progress
                    .read
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                if let Some(h) = hasher.as_mut() {
                    h.update(&chunk);
                }
                if tx.send(Msg::Data(chunk)).await.is_err() {
                    break; // the writer gave up; its error is the one to report
                }
            }
            Ok(None) => {
                let _ = tx.send(Msg::End).await;
                break;
            }
            Err(e) => {
                download_error = Some(e);
                break;
            }
        }
    }
    drop(tx);
    let written = match worker.await {
        Ok(r) => r,
        Err(e) => Err(ActionError::Sys {
            action: target.action,
            what: "writer thread",
            error: std::io::Error::other(e.to_string()),
        }),
    };
    drop(ticker);
    if let Some(e) = download_error {
        return Err(ActionError::Http {
            action: target.action,
            url: target.source_name.clone(),
            reason: format!("reading the body: {}", crate::error_chain(&e)),
        });
    }
    let written = written?;
    if let (Some(h), Some(want)) = (hasher, target.digest.as_ref()) {
        let got = format!(
            "sha256:{}",
            h.finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        if &got != want {
            return Err(ActionError::Registry {
                action: target.action,
                reference: target.source_name.clone(),
                reason: format!("blob digest is {got}, the manifest says {want}"),
            });
        }
    }
    let stats = Stats {
        read: progress.read.load(Ordering::Relaxed),
        written,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        read = %pretty(stats.read),
        written = %pretty(stats.written),
        seconds = stats.elapsed.as_secs_f64(),
        rate = %format!("{:.0} MB/s", stats.written as f64 / stats.elapsed.as_secs_f64().max(1e-9) / 1e6),
        dest = %target.dest.display(),
        "image written"
    );
    Ok(stats)
}

fn io_err(target: &Target, what: &'static str, error: std::io::Error) -> ActionError {
    ActionError::Io {
        action: target.action,
        what,
        path: target.dest.clone(),
        error,
    }
}

/// Stage 2 and 3: decode on this thread, write on a scoped second one.
fn decode_and_write(
    rx: tokio::sync::mpsc::Receiver<Msg>,
    target: &Target,
    progress: &Progress,
) -> Result<u64, ActionError> {
    let open = |direct: bool| {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(target.create);
        if direct {
            o.custom_flags(libc::O_DIRECT);
        }
        o.open(&target.dest)
    };
    // O_DIRECT (like `dd oflag=direct`): no copy into and no flush of the page cache.
    // File systems without it (tmpfs) refuse with EINVAL; then the page cache it is.
    let (file, direct) = match open(true) {
        Ok(f) => (f, true),
        Err(_) => (
            open(false).map_err(|e| io_err(target, "opening", e))?,
            false,
        ),
    };
    let is_block = file
        .metadata()
        .map(|m| m.file_type().is_block_device())
        .unwrap_or(false);
    let input = ChunkReader {
        rx,
        cur: Bytes::new(),
        done: false,
    };
    let decode_err = |error| ActionError::Decompress {
        action: target.action,
        source_name: target.source_name.clone(),
        error,
    };
    let mut reader: Box<dyn Read + Send> = if target.compressed {
        let (format, r) =
            super::decompress::decoder(input, &target.source_name).map_err(decode_err)?;
        tracing::info!(%format, "decompressing");
        r
    } else {
        Box::new(input)
    };
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(AlignedBuf, usize)>(BUFFERS);
    let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<AlignedBuf>(BUFFERS);
    for _ in 0..BUFFERS {
        let _ = empty_tx.send(AlignedBuf::new());
    }
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<(u64, std::fs::File), ActionError> {
            let mut file = file;
            let mut direct = direct;
            let mut written = 0u64;
            for (buf, len) in full_rx {
                write_block(&mut file, &mut direct, &buf.as_slice()[..len])
                    .map_err(|e| io_err(target, "writing", e))?;
                written += len as u64;
                progress.written.store(written, Ordering::Relaxed);
                if empty_tx.send(buf).is_err() {
                    break;
                }
            }
            Ok((written, file))
        });
        let decoded: Result<(), ActionError> = (|| {
            loop {
                let Ok(mut buf) = empty_rx.recv() else {
                    return Ok(()); // the writer stopped; it holds the error
                };
                let mut len = 0;
                while len < BLOCK {
                    match reader.read(&mut buf.as_mut_slice()[len..]) {
                        Ok(0) => break,
                        Ok(n) => len += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(decode_err(e)),
                    }
                }
                if len > 0 && full_tx.send((buf, len)).is_err() {
                    return Ok(());
                }
                if len < BLOCK {
                    return Ok(());
                }
            }
        })();
        drop(full_tx);
        let written = writer.join().map_err(|_| ActionError::Sys {
            action: target.action,
            what: "writer thread",
            error: std::io::Error::other("panicked"),
        })?;
        decoded?;
        let (written, file) = written?;
        file.sync_all().map_err(|e| io_err(target, "syncing", e))?;
        if is_block && let Err(e) = crate::sys::reread_partitions(&file) {
            // A partition (not a whole disk) refuses; Tinkerbell only logs this too.
            tracing::info!(error = %e, "re-reading the partition table did not work");
        }
        Ok(written)
    })
}

/// The alignment O_DIRECT needs for buffers, offsets and lengths (a page: at least every
/// logical block size in use).
const ALIGN: usize = 4096;

/// A [`BLOCK`]-sized buffer aligned to [`ALIGN`].
struct AlignedBuf {
    raw: Vec<u8>,
    off: usize,
}

impl AlignedBuf {
    fn new() -> Self {
        let raw = vec![0u8; BLOCK + ALIGN];
        let off = raw.as_ptr().align_offset(ALIGN).min(ALIGN);
        Self { raw, off }
    }

    fn as_slice(&self) -> &[u8] {
        &self.raw[self.off..self.off + BLOCK]
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.raw[self.off..self.off + BLOCK]
    }
}

/// Writes `data` (starting at an aligned offset, since every block but the last is full).
/// With O_DIRECT the aligned part goes direct; an unaligned tail, or a device that refuses
/// direct I/O (EINVAL), switches the descriptor back to the page cache for good.
fn write_block(file: &mut std::fs::File, direct: &mut bool, data: &[u8]) -> std::io::Result<()> {
    if *direct {
        let aligned = data.len() / ALIGN * ALIGN;
        match file.write_all(&data[..aligned]) {
            Ok(()) if aligned == data.len() => return Ok(()),
            Ok(()) => {
                buffered(file, direct)?;
                return file.write_all(&data[aligned..]);
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                // A refused O_DIRECT write writes nothing; retry through the page cache.
                buffered(file, direct)?;
            }
            Err(e) => return Err(e),
        }
    }
    file.write_all(data)
}

fn buffered(file: &std::fs::File, direct: &mut bool) -> std::io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(file, FcntlArg::F_GETFL)?);
    fcntl(file, FcntlArg::F_SETFL(flags - OFlag::O_DIRECT))?;
    *direct = false;
    Ok(())
}
