//! What each machine's installer environment logged over syslog, kept per Hardware.
//!
//! [`MachineLogs`] is the syslog receiver's [`Sink`]: it finds the Hardware a datagram came
//! from by its source address (the Hardware index), writes one line per message to
//! `<dir>/<namespace>/<name>.log` and keeps the last messages per machine in memory.
//! `ironbell logs <hardware>` reads the same files, so it works whether or not the service
//! is running.
//!
//! Messages from addresses that no Hardware declares are **not** stored per address (a
//! host spraying datagrams from spoofed addresses would otherwise get a ring and a file
//! for each): they are counted, and at most [`UNKNOWN_SAMPLES_PER_SECOND`] of them per
//! second are written, with their source address, to the one file
//! `<dir>/_unknown/sampled.log`. That is where a machine whose address is wrong in
//! `hardware.csv` shows up.
//!
//! Everything is bounded whatever the senders do:
//! - memory: the recent messages of at most [`MAX_RECENT_SOURCES`] machines, within
//!   [`MAX_RECENT_BYTES`] in all ([`RingSink::with_budget`]); nothing per unknown address;
//! - disk: a file that grows past [`MAX_FILE_BYTES`] is renamed to `.log.1` (replacing the
//!   previous one) and started again, so one file uses at most twice that; at most
//!   [`MAX_FILES`] machine files are written (one per Hardware), plus the sampled file:
//!   in all at most `(Hardware count + 1) × 2 × MAX_FILE_BYTES`;
//! - the service log: the `tracing` line per message is limited to
//!   [`MESSAGE_LOG_PER_SECOND`] with a count of what was suppressed.
//!
//! A line is `TIME FACILITY.SEVERITY HOST APP[PID]: TEXT`, with control characters escaped
//! by the syslog crate, so one message is always one line; in the sampled file it is
//! preceded by the source address.
//!
//! A [`LogFeed`] given to [`MachineLogs::with_feed`] also receives each line of a known
//! machine as it is written, for a reader in the same process (the dashboard streams a
//! machine's log from it); it is a bounded broadcast channel: a reader that falls behind
//! misses lines (and is told how many) rather than holding memory.
//!
//! Plain files rather than the object store: logs are many small appends that nothing
//! watches, and keeping them out of the store keeps its history for objects.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ironbell_limits::LogLimiter;
use ironbell_syslog::{Message, RingSink, Sink};
use tracing::{info, warn};

use crate::Index;

/// Size at which a machine's log file is rotated.
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// Open files kept at once; more are closed and reopened on demand.
const MAX_OPEN_FILES: usize = 256;

/// Directory, under the log directory, of sources that no Hardware declares.
pub const UNKNOWN_DIR: &str = "_unknown";

/// The file, under [`UNKNOWN_DIR`], of the sampled messages from unknown sources.
pub const SAMPLED_FILE: &str = "sampled.log";

/// Messages from unknown sources written to the sampled file per second, at most.
pub const UNKNOWN_SAMPLES_PER_SECOND: u32 = 20;

/// Machine log files written at most (one per Hardware); messages of further machines are
/// kept in memory only (counted in [`MachineLogStats`]).
pub const MAX_FILES: usize = 4096;

/// Machines whose recent messages are kept in memory.
pub const MAX_RECENT_SOURCES: usize = 4096;

/// Bytes of recent messages kept in memory across all machines.
pub const MAX_RECENT_BYTES: usize = 64 << 20;

/// `tracing` lines per second about received messages, at most.
pub const MESSAGE_LOG_PER_SECOND: u32 = 50;

static MESSAGE_LOG: LogLimiter = LogLimiter::per_second(MESSAGE_LOG_PER_SECOND);
static WRITE_ERROR_LOG: LogLimiter = LogLimiter::per_second(1);

/// The file that holds the log of Hardware `namespace/name` under `dir`, or `None` when
/// either part cannot be a file name (object names never contain `/` or start with `.`).
pub fn log_path(dir: &Path, namespace: &str, name: &str) -> Option<PathBuf> {
    let ok = |part: &str| {
        !part.is_empty()
            && !part.starts_with('.')
            && part.len() <= 253
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    };
    (ok(namespace) && ok(name) && namespace != UNKNOWN_DIR)
        .then(|| dir.join(namespace).join(format!("{name}.log")))
}

/// The file of sampled messages from addresses no Hardware declares.
pub fn sampled_path(dir: &Path) -> PathBuf {
    dir.join(UNKNOWN_DIR).join(SAMPLED_FILE)
}

/// One message as a log line (without the newline).
pub fn format_line(message: &Message) -> String {
    let shown = message.to_string();
    let (time, rest) = shown.split_once(' ').unwrap_or((&shown, ""));
    format!(
        "{time} {}.{} {rest}",
        message.facility.name(),
        message.severity.name()
    )
}

/// Opens `path` for appending, creating it 0600 (and its directory 0700): what machines
/// log may name their credentials or addresses, and the logs sit beside the store.
fn private_append(path: &std::path::Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Appends lines to per-machine files, rotating them at [`MAX_FILE_BYTES`].
#[derive(Debug)]
struct Files {
    dir: PathBuf,
    open: HashMap<PathBuf, (File, u64)>,
    /// Every file written to since start (at most [`MAX_FILES`] + 1).
    written: HashSet<PathBuf>,
}

impl Files {
    fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            open: HashMap::new(),
            written: HashSet::new(),
        }
    }

    /// Appends `line` to `path`; `Ok(false)` when the file would be one more than
    /// [`MAX_FILES`] (the sampled file is always allowed).
    fn append(&mut self, path: PathBuf, line: &str) -> io::Result<bool> {
        if !self.written.contains(&path) {
            if self.written.len() >= MAX_FILES && !path.ends_with(SAMPLED_FILE) {
                return Ok(false);
            }
            self.written.insert(path.clone());
        }
        if !self.open.contains_key(&path) {
            if self.open.len() >= MAX_OPEN_FILES {
                self.open.clear();
            }
            if let Some(parent) = path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(parent)?;
            }
            let file = private_append(&path)?;
            let len = file.metadata()?.len();
            self.open.insert(path.clone(), (file, len));
        }
        let Some((file, len)) = self.open.get_mut(&path) else {
            return Ok(false);
        };
        if *len >= MAX_FILE_BYTES {
            let mut rotated = path.clone().into_os_string();
            rotated.push(".1");
            std::fs::rename(&path, rotated)?;
            *file = private_append(&path)?;
            *len = 0;
        }
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        file.write_all(&bytes)?;
        *len += bytes.len() as u64;
        Ok(true)
    }
}

/// One line of a known machine's log, as [`MachineLogs`] writes it to the machine's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The Hardware's namespace.
    pub namespace: String,
    /// The Hardware's name.
    pub name: String,
    /// The line (without the newline), as in the file.
    pub line: String,
}

/// Lines of every known machine's log as they arrive, for readers in the same process: a
/// broadcast channel of [`FEED_CAPACITY`] lines (a reader that falls behind is told how
/// many it missed). Cheap to clone; sending with no reader costs nothing.
#[derive(Debug, Clone)]
pub struct LogFeed(tokio::sync::broadcast::Sender<Arc<LogLine>>);

/// Lines a [`LogFeed`] holds for its slowest reader.
pub const FEED_CAPACITY: usize = 1024;

impl LogFeed {
    /// A feed with no reader yet.
    pub fn new() -> Self {
        Self(tokio::sync::broadcast::channel(FEED_CAPACITY).0)
    }

    /// A reader of the lines sent from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<LogLine>> {
        self.0.subscribe()
    }

    fn send(&self, line: LogLine) {
        // No reader is not an error: nobody is looking.
        let _ = self.0.send(Arc::new(line));
    }
}

impl Default for LogFeed {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`MachineLogs`] did with the messages it got; all counters only grow.
#[derive(Debug, Default)]
pub struct MachineLogStats {
    known: AtomicU64,
    unknown: AtomicU64,
    sampled: AtomicU64,
    not_written: AtomicU64,
    write_errors: AtomicU64,
}

/// A copy of [`MachineLogStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MachineLogSnapshot {
    /// Messages from an address a Hardware declares.
    pub known: u64,
    /// Messages from addresses no Hardware declares.
    pub unknown: u64,
    /// Of those, written to the sampled file.
    pub sampled: u64,
    /// Messages of known machines not written because [`MAX_FILES`] files exist.
    pub not_written: u64,
    /// Writes that failed (disk full, permissions).
    pub write_errors: u64,
}

impl MachineLogStats {
    /// The counters now.
    pub fn snapshot(&self) -> MachineLogSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MachineLogSnapshot {
            known: get(&self.known),
            unknown: get(&self.unknown),
            sampled: get(&self.sampled),
            not_written: get(&self.not_written),
            write_errors: get(&self.write_errors),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Syslog from machines, kept per Hardware: see the module documentation.
#[derive(Debug)]
pub struct MachineLogs {
    index: Arc<Index>,
    recent: RingSink,
    files: Option<Mutex<Files>>,
    samples: LogLimiter,
    stats: Arc<MachineLogStats>,
    feed: Option<LogFeed>,
}

impl MachineLogs {
    /// Logs for the machines in `index`, keeping `per_machine` recent messages each in
    /// memory (within [`MAX_RECENT_BYTES`] in all), and writing files under `dir` when
    /// given.
    pub fn new(index: Arc<Index>, per_machine: usize, dir: Option<PathBuf>) -> Self {
        Self {
            index,
            recent: RingSink::with_budget(per_machine, MAX_RECENT_SOURCES, MAX_RECENT_BYTES),
            files: dir.map(|dir| Mutex::new(Files::new(dir))),
            samples: LogLimiter::per_second(UNKNOWN_SAMPLES_PER_SECOND),
            stats: Arc::new(MachineLogStats::default()),
            feed: None,
        }
    }

    /// These logs, also sending each known machine's line to `feed`.
    pub fn with_feed(mut self, feed: Option<LogFeed>) -> Self {
        self.feed = feed;
        self
    }

    /// The recent messages from one machine's address.
    pub fn recent(&self, source: IpAddr) -> Vec<Message> {
        self.recent.messages(source)
    }

    /// Bytes the recent messages hold in memory (at most [`MAX_RECENT_BYTES`]).
    pub fn recent_bytes(&self) -> usize {
        self.recent.bytes()
    }

    /// Addresses with recent messages in memory.
    pub fn recent_sources(&self) -> usize {
        self.recent.sources().len()
    }

    /// The counters (shared, live).
    pub fn stats(&self) -> Arc<MachineLogStats> {
        Arc::clone(&self.stats)
    }

    fn write(&self, path: impl FnOnce(&Path) -> PathBuf, line: &str, hardware: &str) -> bool {
        let Some(files) = &self.files else {
            return true;
        };
        let mut files = files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let path = path(&files.dir);
        match files.append(path.clone(), line) {
            Ok(written) => written,
            Err(e) => {
                bump(&self.stats.write_errors);
                if let Some(suppressed) = WRITE_ERROR_LOG.allow() {
                    warn!(path = %path.display(), hardware, suppressed, "cannot write the machine log: {e}");
                }
                true
            }
        }
    }
}

/// The agent token's kernel parameter, which HookOS's kernel logs with its command line.
const TOKEN_PARAM: &str = "ironbell_token=";

/// `text` with the value of every `ironbell_token=` parameter (case-insensitive, so
/// `IRONBELL_TOKEN=` too) replaced by `<redacted>`: the kernel sends its command line over
/// syslog, and the token is a credential that must reach neither the machine logs nor the
/// service log.
pub fn redact_tokens(text: &str) -> std::borrow::Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains(TOKEN_PARAM) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(found) = lower[rest..].find(TOKEN_PARAM) {
        let value = rest + found + TOKEN_PARAM.len();
        out.push_str(&text[rest..value]);
        out.push_str("<redacted>");
        rest = lower[value..]
            .find(char::is_whitespace)
            .map_or(text.len(), |end| value + end);
    }
    out.push_str(&text[rest..]);
    std::borrow::Cow::Owned(out)
}

impl Sink for MachineLogs {
    fn record(&self, source: IpAddr, mut message: Message) {
        if let std::borrow::Cow::Owned(clean) = redact_tokens(&message.text) {
            message.text = clean;
        }
        let machine = match source {
            IpAddr::V4(ip) => self.index.by_ip(ip),
            IpAddr::V6(_) => None,
        };
        let Some(machine) = machine else {
            bump(&self.stats.unknown);
            if let Some(suppressed) = self.samples.allow() {
                bump(&self.stats.sampled);
                if let Some(s) = MESSAGE_LOG.allow() {
                    info!(target: "ironbell::machine_log", %source, hardware = "-", suppressed = s, "{message}");
                }
                let line = format!("{source} {}", format_line(&message));
                if suppressed > 0 {
                    let note = format!(
                        "{source} ({suppressed} messages from unknown addresses not sampled before this one)"
                    );
                    self.write(sampled_path, &note, "-");
                }
                self.write(sampled_path, &line, "-");
            }
            return;
        };
        bump(&self.stats.known);
        let hardware = machine.name();
        if let Some(suppressed) = MESSAGE_LOG.allow() {
            info!(target: "ironbell::machine_log", %source, hardware, suppressed, "{message}");
        }
        let (namespace, name) = (&*machine.hardware.namespace, &*machine.hardware.name);
        let line = format_line(&message);
        let written = self.write(
            |dir| log_path(dir, namespace, name).unwrap_or_else(|| sampled_path(dir)),
            &line,
            &hardware,
        );
        if !written {
            bump(&self.stats.not_written);
        }
        if let Some(feed) = &self.feed {
            feed.send(LogLine {
                namespace: namespace.to_string(),
                name: name.to_string(),
                line,
            });
        }
        self.recent.record(source, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_tokens_are_redacted() {
        let line = "Command line: grpc_authority=10.0.0.1:42113 ironbell_token=SECRET-1 \
                    worker_id=aa IRONBELL_TOKEN=SECRET2";
        let clean = redact_tokens(line);
        assert!(!clean.contains("SECRET"), "{clean}");
        assert!(
            clean.contains("ironbell_token=<redacted> worker_id=aa"),
            "{clean}"
        );
        assert!(clean.ends_with("IRONBELL_TOKEN=<redacted>"), "{clean}");
        assert!(matches!(
            redact_tokens("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn paths_stay_inside_the_directory() {
        let dir = Path::new("/logs");
        assert_eq!(
            log_path(dir, "default", "cp-01"),
            Some(PathBuf::from("/logs/default/cp-01.log"))
        );
        for (ns, name) in [
            ("default", "../etc"),
            ("..", "x"),
            ("default", "a/b"),
            ("", "x"),
            ("default", ".hidden"),
            (UNKNOWN_DIR, "x"),
        ] {
            assert_eq!(log_path(dir, ns, name), None, "{ns}/{name}");
        }
    }

    #[test]
    fn unknown_sources_are_counted_and_sampled_into_one_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let logs = MachineLogs::new(Index::from_hardware([]), 1000, Some(tmp.path().into()));
        let started = std::time::Instant::now();
        for i in 0..500u32 {
            let source = IpAddr::from([10, 7, (i >> 8) as u8, i as u8]);
            let message = ironbell_syslog::parse(b"<13>spoofed", std::time::SystemTime::now())
                .expect("parse");
            logs.record(source, message);
        }
        let s = logs.stats().snapshot();
        let seconds = started.elapsed().as_secs() + 1;
        assert_eq!((s.known, s.unknown), (0, 500));
        assert!(s.sampled >= 1 && s.sampled <= u64::from(UNKNOWN_SAMPLES_PER_SECOND) * seconds);
        assert_eq!((logs.recent_sources(), logs.recent_bytes()), (0, 0));
        let files: Vec<_> = std::fs::read_dir(tmp.path().join(UNKNOWN_DIR))
            .expect("unknown dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(files, [SAMPLED_FILE]);
        let text = std::fs::read_to_string(sampled_path(tmp.path())).expect("sampled");
        assert!(text.starts_with("10.7.0.0 "), "{text}");
    }

    #[test]
    fn files_rotate_at_the_limit() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut files = Files::new(tmp.path().to_path_buf());
        let path = tmp.path().join("default").join("m.log");
        let line = "x".repeat(1023);
        for _ in 0..(MAX_FILE_BYTES / 1024 + 1) {
            files.append(path.clone(), &line).expect("append");
        }
        let rotated = tmp.path().join("default").join("m.log.1");
        assert_eq!(
            std::fs::metadata(&rotated).expect("rotated").len(),
            MAX_FILE_BYTES
        );
        assert_eq!(std::fs::metadata(&path).expect("current").len(), 1024);
    }

    #[test]
    fn the_feed_gets_each_known_machines_line_as_written_and_nothing_else() {
        let hw: ironbell_model::tinkerbell::Hardware = ironbell_model::DynamicObject::from_json(
            r#"{"apiVersion": "tinkerbell.org/v1alpha1", "kind": "Hardware",
                "metadata": {"name": "m1", "namespace": "lab"},
                "spec": {"interfaces": [{"dhcp": {"mac": "3c:ec:ef:10:99:01",
                                                  "ip": {"address": "10.7.0.5"}}}]}}"#,
        )
        .expect("json")
        .to_typed()
        .expect("hardware");
        let tmp = tempfile::tempdir().expect("tempdir");
        let feed = LogFeed::new();
        let mut rx = feed.subscribe();
        let logs = MachineLogs::new(Index::from_hardware([hw]), 10, Some(tmp.path().into()))
            .with_feed(Some(feed));
        let now = std::time::SystemTime::now();
        let message = |text: &str| ironbell_syslog::parse(text.as_bytes(), now).expect("parse");
        logs.record(IpAddr::from([10, 7, 0, 9]), message("<13>stranger"));
        logs.record(
            IpAddr::from([10, 7, 0, 5]),
            message("<13>hook: cmdline ironbell_token=SECRET quiet"),
        );
        let got = rx.try_recv().expect("one line");
        assert_eq!((got.namespace.as_str(), got.name.as_str()), ("lab", "m1"));
        assert!(
            got.line.ends_with("ironbell_token=<redacted> quiet"),
            "{}",
            got.line
        );
        let file = std::fs::read_to_string(tmp.path().join("lab/m1.log")).expect("file");
        assert_eq!(file, format!("{}\n", got.line));
        assert!(rx.try_recv().is_err(), "nothing from the unknown source");
    }
}
