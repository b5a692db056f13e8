//! The lab harness shared by the lab test binaries (`lab.rs`, `lab_cluster.rs`,
//! `lab_native.rs`): HookOS and the OS image built once per binary (hookos/build.sh keeps a
//! build from the same inputs, so the binaries share one), the agent's lines on a machine's
//! console, and a lab (`ironbell lab up` / `down`) with its files and diagnostics. Included
//! with `#[path]`; each binary uses part of it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

pub const IRONBELL: &str = env!("CARGO_BIN_EXE_ironbell");

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn work() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lab-e2e");
    std::fs::create_dir_all(&dir).expect("work dir");
    dir
}

/// HookOS and the OS image, built once.
pub fn artifacts() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let hookos = work().join("hookos");
        let images = work().join("os-image");
        for (script, out) in [("hookos/build.sh", &hookos), ("os-image/build.sh", &images)] {
            let start = Instant::now();
            let result = Command::new("bash")
                .arg(repo().join(script))
                .arg(out)
                .output()
                .expect("run build script");
            assert!(
                result.status.success(),
                "{script} failed:\n{}\n{}",
                String::from_utf8_lossy(&result.stdout),
                String::from_utf8_lossy(&result.stderr)
            );
            eprintln!("{script}: {:.1} s", start.elapsed().as_secs_f64());
        }
        (hookos, images.join("lab-os.raw.zst"))
    })
}

/// The action of each agent line on `console` that contains `what`, in order: the `name=`
/// of the line's `action{...}` span (e.g. `action_names(console, "reported state=Success")`
/// names every action that succeeded, once per report).
pub fn action_names<'a>(console: &'a str, what: &str) -> Vec<&'a str> {
    console
        .lines()
        .filter(|l| l.contains(what))
        .filter_map(|l| l.split("name=").nth(1)?.split('}').next())
        .collect()
}

pub struct Lab {
    pub name: String,
    pub dir: PathBuf,
}

impl Lab {
    pub fn new(name: &str) -> Self {
        let dir = work().join(format!("lab-{name}-{}", std::process::id()));
        let lab = Self {
            name: format!("t{}{name}", std::process::id() % 10000),
            dir,
        };
        // Whatever an earlier, interrupted run left.
        let _ = lab.down();
        lab
    }

    /// `lab up` with `args` (`shown` in the log).
    pub fn up_with(&self, args: &[&std::ffi::OsStr], extra: &[&str]) -> Output {
        let start = Instant::now();
        let out = Command::new(IRONBELL)
            .args(["lab", "up", "--name", &self.name, "--dir"])
            .arg(&self.dir)
            .args(args)
            .output()
            .expect("run ironbell lab up");
        eprintln!(
            "lab up {extra:?}: {:.1} s, {}\n{}{}",
            start.elapsed().as_secs_f64(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `lab up --machines-only` with a `--machine` per spec and `extra` flags, asserted to
    /// succeed; the lab's network namespace and an `admin/` directory for the admin
    /// machine's files.
    pub fn up_machines_only(&self, machines: &[&str], extra: &[&str]) -> (String, PathBuf) {
        let mut args = Vec::new();
        for spec in machines {
            args.extend(["--machine", spec]);
        }
        args.push("--machines-only");
        args.extend(extra);
        let out = self.up_with(
            &args.iter().map(std::ffi::OsStr::new).collect::<Vec<_>>(),
            &args,
        );
        assert!(
            out.status.success(),
            "lab up --machines-only failed\n{}",
            self.diagnostics()
        );
        let dir = self.dir.join("admin");
        std::fs::create_dir_all(&dir).expect("admin dir");
        (ironbell_lab::netns_name(&self.name), dir)
    }

    pub fn down(&self) -> Output {
        Command::new(IRONBELL)
            .args(["lab", "down", "--name", &self.name, "--dir"])
            .arg(&self.dir)
            .output()
            .expect("run ironbell lab down")
    }

    pub fn console(&self, machine: &str) -> String {
        let bytes = std::fs::read(self.dir.join("machines").join(machine).join("console.log"))
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    pub fn file(&self, path: &str) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.join(path)).unwrap_or_default())
            .into_owned()
    }

    pub fn ironbell(&self, args: &[&str]) -> String {
        let out = Command::new(IRONBELL)
            .arg("--db")
            .arg(self.dir.join("ironbell.db"))
            .args(args)
            .output()
            .expect("run ironbell");
        assert!(out.status.success(), "ironbell {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ipmitool chassis power ACTION` (`status`, `off`...) on machine `n`'s (1-based,
    /// its hardware.csv row) BMC, run inside the lab's namespace `netns`; what it printed.
    pub fn ipmi_power(&self, netns: &str, n: usize, action: &str) -> String {
        let csv = self.file("hardware.csv");
        let Some(row) = csv.lines().nth(n) else {
            return String::new();
        };
        let cells: Vec<&str> = row.split(',').collect();
        let out = Command::new("ip")
            .args(["netns", "exec", netns, "ipmitool", "-I", "lanplus", "-H"])
            .args([cells[1], "-U", cells[2], "-E", "chassis", "power", action])
            .env("IPMI_PASSWORD", cells[3])
            .output()
            .expect("run ipmitool");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether ipmitool, from inside the lab, says machine `n`'s chassis is off.
    pub fn powered_off(&self, netns: &str, n: usize) -> bool {
        self.ipmi_power(netns, n, "status")
            .contains("Chassis Power is off")
    }

    /// The lab's side of a failure: prints the tails of its logs and of each machine's
    /// console to standard error, and returns a line that says so, for the end of the
    /// assertion's message. Printed rather than returned so that the message itself (the
    /// command's output and error) comes last, where a shortened CI log still shows it.
    pub fn diagnostics(&self) -> &'static str {
        eprintln!("{}", self.diagnostics_text());
        "(the lab's logs and consoles are printed above this message)"
    }

    fn diagnostics_text(&self) -> String {
        let mut s = String::new();
        for log in [
            "logs/ironbell.log",
            "logs/ironbell-1.log",
            "logs/vbmc.log",
            "summary.txt",
        ] {
            let text = self.file(log);
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            s.push_str(&format!(
                "--- {log} (last lines):\n{}\n",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
        if let Ok(entries) = std::fs::read_dir(self.dir.join("machines")) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let console = self.console(&name);
                let tail: Vec<&str> = console.lines().rev().take(40).collect();
                s.push_str(&format!(
                    "--- console of {name} (last lines):\n{}\n",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
        s
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.down();
    }
}
