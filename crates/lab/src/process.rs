//! The lab's long-running processes (QEMU, the virtual BMCs, ironbell's services, radvd):
//! started detached inside the lab's network namespace, each with its own log file, and
//! recorded by PID so that `ironbell lab down` stops exactly those and nothing else.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::LabError;

/// A process the lab started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    /// What it is ("ironbell", "vbmc", "qemu node-1", "radvd").
    pub role: String,
    /// Its PID.
    pub pid: u32,
    /// The program and arguments (to start it again on `lab up`, and to recognise it).
    pub argv: Vec<String>,
    /// Where its standard output and error go.
    pub log: PathBuf,
}

impl Started {
    /// Whether the process is still the one the lab started: alive, and its command line
    /// is the recorded one (a PID reused by another program does not count).
    pub fn is_running(&self) -> bool {
        let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", self.pid)) else {
            return false;
        };
        // A zombie has an empty command line.
        let args: Vec<&[u8]> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .collect();
        args.len() == self.argv.len()
            && args.iter().zip(&self.argv).all(|(a, b)| *a == b.as_bytes())
    }

    /// Stops the process: SIGTERM, then SIGKILL after `grace`. Does nothing when it is not
    /// running (or its PID now belongs to something else).
    pub fn stop(&self, grace: Duration) {
        if !self.is_running() {
            return;
        }
        let pid = Pid::from_raw(self.pid as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.is_running() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.is_running() {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&self) {
        if self.is_running() {
            let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
        }
    }
}

/// Starts `argv` inside network namespace `netns`, detached: its own process group (a
/// Ctrl-C on `lab up` does not stop it), standard input from /dev/null, output appended
/// to `log`. `ip netns exec` replaces itself with the program, so the PID is the program's.
pub fn spawn(netns: &str, role: &str, argv: Vec<String>, log: &Path) -> Result<Started, LabError> {
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| LabError::io(format!("opening log {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| LabError::io(format!("opening log {}", log.display()), e))?;
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| LabError::Setup(format!("{role}: empty command")))?;
    let child = Command::new("ip")
        .args(["netns", "exec", netns])
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| LabError::io(format!("starting {role} ({program})"), e))?;
    let started = Started {
        role: role.to_string(),
        pid: child.id(),
        argv,
        log: log.to_path_buf(),
    };
    // Not waited for: the process outlives `lab up`. Reap it in the background should it
    // end while we run, so that it does not linger as a zombie.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(started)
}

/// Waits until `started`'s command line is the program's own (after `ip netns exec` has
/// replaced itself), or it died.
pub fn wait_exec(started: &Started, limit: Duration) -> Result<(), LabError> {
    let deadline = Instant::now() + limit;
    loop {
        if started.is_running() {
            return Ok(());
        }
        let alive = Path::new(&format!("/proc/{}", started.pid)).exists();
        if !alive || Instant::now() > deadline {
            return Err(LabError::ProcessDied {
                role: started.role.clone(),
                log: started.log.clone(),
                tail: tail(&started.log, 20),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last `n` lines of a log file (for error messages).
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Peak resident memory (VmHWM, bytes) and CPU time (user + system) of a running process.
pub fn usage(pid: u32) -> Option<(u64, Duration)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let hz = clock_ticks();
    Some((hwm_kib * 1024, Duration::from_millis(ticks * 1000 / hz)))
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux this runs on).
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&hz| hz > 0)
        .unwrap_or(100)
}
