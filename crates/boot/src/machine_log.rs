//! What each machine's installer environment logged over syslog, kept per Hardware.
//!
//! [`MachineLogs`] is the syslog receiver's [`Sink`]: it finds the Hardware a datagram came
//! from by its source address (the Hardware index), writes one line per message to
//! `<dir>/<namespace>/<name>.log`, keeps the last messages per source in memory, and logs
//! each message through `tracing` with the hardware name. Messages from addresses that no
//! Hardware declares go to `<dir>/_unknown/<address>.log`, which is where a machine whose
//! address is wrong in `hardware.csv` shows up. `ironbell logs <hardware>` reads the same
//! files, so it works whether or not the service is running.
//!
//! A line is `TIME FACILITY.SEVERITY HOST APP[PID]: TEXT`, with control characters escaped
//! by the syslog crate, so one message is always one line. A file that grows past
//! [`MAX_FILE_BYTES`] is renamed to `.log.1` (replacing the previous one) and started again,
//! so one machine can use at most twice that.
//!
//! Plain files rather than the object store: logs are many small appends that nothing
//! watches, and keeping them out of the store keeps its history for objects.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ironbell_syslog::{Message, RingSink, Sink};
use tracing::{info, warn};

use crate::Index;

/// Size at which a machine's log file is rotated.
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// Open files kept at once; more are closed and reopened on demand.
const MAX_OPEN_FILES: usize = 256;

/// Directory, under the log directory, of sources that no Hardware declares.
pub const UNKNOWN_DIR: &str = "_unknown";

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

/// The file that holds what an address no Hardware declares sent.
fn unknown_path(dir: &Path, source: IpAddr) -> PathBuf {
    // `:` is fine in Linux file names; IPv6 addresses keep theirs.
    dir.join(UNKNOWN_DIR).join(format!("{source}.log"))
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
}

impl Files {
    fn append(&mut self, path: PathBuf, line: &str) -> io::Result<()> {
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
            return Ok(());
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
        Ok(())
    }
}

/// Syslog from machines, kept per Hardware: see the module documentation.
#[derive(Debug)]
pub struct MachineLogs {
    index: Arc<Index>,
    recent: RingSink,
    files: Option<Mutex<Files>>,
}

impl MachineLogs {
    /// Logs for the machines in `index`, keeping `per_machine` recent messages each in
    /// memory, and writing files under `dir` when given.
    pub fn new(index: Arc<Index>, per_machine: usize, dir: Option<PathBuf>) -> Self {
        Self {
            index,
            recent: RingSink::new(per_machine, 4096),
            files: dir.map(|dir| {
                Mutex::new(Files {
                    dir,
                    open: HashMap::new(),
                })
            }),
        }
    }

    /// The recent messages from one address.
    pub fn recent(&self, source: IpAddr) -> Vec<Message> {
        self.recent.messages(source)
    }
}

impl Sink for MachineLogs {
    fn record(&self, source: IpAddr, message: Message) {
        let machine = match source {
            IpAddr::V4(ip) => self.index.by_ip(ip),
            IpAddr::V6(_) => None,
        };
        let hardware = machine.as_ref().map(|m| m.name());
        let hardware = hardware.as_deref().unwrap_or("-");
        info!(target: "ironbell::machine_log", %source, hardware, "{message}");
        if let Some(files) = &self.files {
            let mut files = match files.lock() {
                Ok(f) => f,
                Err(poisoned) => poisoned.into_inner(),
            };
            let path = match &machine {
                Some(m) => {
                    let meta = &m.hardware.metadata;
                    log_path(&files.dir, meta.namespace(), meta.name())
                        .unwrap_or_else(|| unknown_path(&files.dir, source))
                }
                None => unknown_path(&files.dir, source),
            };
            if let Err(e) = files.append(path.clone(), &format_line(&message)) {
                warn!(path = %path.display(), hardware, "cannot write the machine log: {e}");
            }
        }
        self.recent.record(source, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn files_rotate_at_the_limit() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut files = Files {
            dir: tmp.path().to_path_buf(),
            open: HashMap::new(),
        };
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
}
