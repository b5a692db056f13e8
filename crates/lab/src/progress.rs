//! Following each machine through its provisioning: what its serial console shows
//! (firmware, iPXE, HookOS, the installed OS) and what the store holds (the Workflow's
//! boot job and actions). Each milestone gets the time it was first seen; phases are the
//! gaps between milestones.
//!
//! Console markers (stable strings printed by the programs involved):
//! - iPXE: `net0: <IPv4 address>/<netmask>` once DHCP succeeded (its `Configuring (net0
//!   ...) ok` also appears when only IPv6 autoconfiguration worked, so it is not used);
//! - the boot service's script: `Loading HookOS for <name>`;
//! - HookOS: `hookos: init started`, `hookos: starting agent`;
//! - the lab OS: `ironbell-os: ` lines, with `ironbell-os: instance-id=<id>
//!   hostname=<name>` and then `ironbell-os: phoned home (<HTTP status>)`.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ironbell_model::tinkerbell::{Workflow, WorkflowState};

/// A point in a machine's provisioning.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Milestone {
    /// The BMC job (power off, PXE once, power on) completed.
    PoweredOn,
    /// iPXE got a DHCP lease.
    Dhcp,
    /// iPXE fetched the machine's script and is loading HookOS.
    Ipxe,
    /// HookOS's kernel started its init.
    HookosKernel,
    /// The agent started.
    Agent,
    /// A workflow action finished successfully (index, name).
    Action(usize, String),
    /// The installed OS started (its first console line).
    OsBooted,
    /// The installed OS printed the metadata it read.
    Metadata,
    /// The installed OS phoned home (its Node is Ready when the answer was 200).
    PhonedHome,
}

impl Milestone {
    /// A short label for the phase that ends at this milestone.
    pub fn phase(&self) -> String {
        match self {
            Self::PoweredOn => "power".into(),
            Self::Dhcp => "dhcp".into(),
            Self::Ipxe => "ipxe".into(),
            Self::HookosKernel => "hookos-kernel".into(),
            Self::Agent => "hookos-up".into(),
            Self::Action(_, name) => name.clone(),
            Self::OsBooted => "boot-os".into(),
            Self::Metadata => "metadata".into(),
            Self::PhonedHome => "phone-home".into(),
        }
    }
}

/// How a machine ended (or not yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Still going.
    Running,
    /// Installed, booted from disk, read its metadata, which matched, and phoned home.
    Done,
    /// Failed, with the reason.
    Failed(String),
}

/// What the installed OS printed about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// `instance-id=` value.
    pub instance_id: String,
    /// `hostname=` value.
    pub hostname: String,
}

/// One machine's progress.
#[derive(Debug)]
pub struct Tracker {
    /// The machine's (and its Workflow's and Hardware's) name.
    pub name: String,
    /// Expected instance id (the Hardware's) and hostname.
    pub expect: Reported,
    console: PathBuf,
    offset: u64,
    partial: String,
    /// When each milestone was first seen.
    pub seen: BTreeMap<Milestone, Instant>,
    /// What the OS reported, once it has.
    pub reported: Option<Reported>,
    /// The HTTP status (or `no answer`) of the OS's phone-home, once it printed it.
    pub phoned_home: Option<String>,
    /// The outcome so far.
    pub outcome: Outcome,
    /// The Workflow's last state.
    pub workflow_state: Option<WorkflowState>,
    /// Console lines that start with `hookos: agent exited` (agent restarts).
    pub agent_restarts: usize,
    /// How many times the agent was handed each action (by action name), from the console.
    pub received: BTreeMap<String, usize>,
}

impl Tracker {
    /// Follows `console` for the machine `name`, expecting it to report `expect`.
    pub fn new(name: &str, console: PathBuf, expect: Reported) -> Self {
        Self {
            name: name.to_string(),
            expect,
            console,
            offset: 0,
            partial: String::new(),
            seen: BTreeMap::new(),
            reported: None,
            phoned_home: None,
            outcome: Outcome::Running,
            workflow_state: None,
            agent_restarts: 0,
            received: BTreeMap::new(),
        }
    }

    fn mark(&mut self, m: Milestone, now: Instant, events: &mut Vec<Milestone>) {
        if !self.seen.contains_key(&m) {
            self.seen.insert(m.clone(), now);
            events.push(m);
        }
    }

    /// Reads what the console printed since the last call and looks at the Workflow;
    /// returns the milestones reached now.
    pub fn poll(&mut self, workflow: Option<&Workflow>, now: Instant) -> Vec<Milestone> {
        let mut events = Vec::new();
        for line in self.new_console_lines() {
            self.console_line(&line, now, &mut events);
        }
        if let Some(wf) = workflow {
            self.workflow(wf, now, &mut events);
        }
        if self.outcome == Outcome::Running
            && let Some(r) = &self.reported
        {
            if *r != self.expect {
                self.outcome = Outcome::Failed(format!(
                    "the OS read instance-id={} hostname={}, the store holds instance-id={} hostname={}",
                    r.instance_id, r.hostname, self.expect.instance_id, self.expect.hostname
                ));
            } else if let Some(status) = &self.phoned_home {
                self.outcome = if status == "200" {
                    Outcome::Done
                } else {
                    Outcome::Failed(format!("the OS's phone-home was answered {status}"))
                };
            }
        }
        events
    }

    fn new_console_lines(&mut self) -> Vec<String> {
        let Ok(mut file) = std::fs::File::open(&self.console) else {
            return Vec::new();
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut buf = Vec::new();
        // Bounded per poll; the rest is read next time.
        if file.take(4 << 20).read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        self.offset += buf.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        let mut lines = Vec::new();
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            lines.push(clean(&line));
        }
        // A line that never ends (iPXE rewriting it with backspaces) is cut.
        if self.partial.len() > 64 << 10 {
            lines.push(clean(&std::mem::take(&mut self.partial)));
        }
        lines
    }

    fn console_line(&mut self, line: &str, now: Instant, events: &mut Vec<Milestone>) {
        if is_ipxe_ipv4(line) {
            self.mark(Milestone::Dhcp, now, events);
        } else if line.contains("Loading HookOS for") {
            self.mark(Milestone::Ipxe, now, events);
        } else if line.contains("hookos: init started") {
            self.mark(Milestone::HookosKernel, now, events);
        } else if line.contains("hookos: starting agent") {
            self.mark(Milestone::Agent, now, events);
        } else if line.contains("hookos: agent exited") {
            self.agent_restarts += 1;
        } else if line.contains("received action") {
            // The agent's log line: `... received action image=... name=...`.
            let name = field(line, "image=").unwrap_or_default();
            *self.received.entry(name).or_default() += 1;
        } else if let Some(rest) = line.split("ironbell-os: ").nth(1) {
            self.mark(Milestone::OsBooted, now, events);
            if let (Some(id), Some(host)) = (field(rest, "instance-id="), field(rest, "hostname="))
            {
                self.reported = Some(Reported {
                    instance_id: id,
                    hostname: host,
                });
                self.mark(Milestone::Metadata, now, events);
            } else if let Some(status) = rest
                .strip_prefix("phoned home (")
                .and_then(|r| r.strip_suffix(')'))
            {
                self.phoned_home = Some(status.to_string());
                self.mark(Milestone::PhonedHome, now, events);
            }
        }
    }

    fn workflow(&mut self, wf: &Workflow, now: Instant, events: &mut Vec<Milestone>) {
        let Some(status) = &wf.status else { return };
        let state = wf.state();
        if let Some(jobs) = status.boot_options.as_ref().and_then(|b| b.jobs.as_ref())
            && !jobs.is_empty()
            && jobs.values().all(|j| j.complete == Some(true))
        {
            self.mark(Milestone::PoweredOn, now, events);
        }
        let actions = status.tasks.iter().flatten().flat_map(|t| t.actions.iter());
        for (i, action) in actions.enumerate() {
            if action.state == Some(WorkflowState::Success) {
                let name = action.name.clone().unwrap_or_else(|| format!("action-{i}"));
                self.mark(Milestone::Action(i, name), now, events);
            }
        }
        if matches!(state, WorkflowState::Failed | WorkflowState::Timeout)
            && self.outcome == Outcome::Running
        {
            let failed = status
                .tasks
                .iter()
                .flatten()
                .flat_map(|t| t.actions.iter())
                .find(|a| {
                    matches!(
                        a.state,
                        Some(WorkflowState::Failed | WorkflowState::Timeout)
                    )
                });
            let detail = failed
                .map(|a| {
                    format!(
                        "action {} {}: {}",
                        a.name.as_deref().unwrap_or("?"),
                        a.state.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                        a.message.as_deref().unwrap_or("")
                    )
                })
                .or_else(|| {
                    // No action failed: the preparation did (e.g. the BMC job).
                    status
                        .conditions
                        .iter()
                        .flatten()
                        .rev()
                        .find(|c| c.reason.as_deref() == Some("Error"))
                        .and_then(|c| c.message.clone())
                })
                .unwrap_or_default();
            self.outcome = Outcome::Failed(format!("workflow {state}: {detail}"));
        }
        self.workflow_state = Some(state);
    }

    /// The phases in milestone order with their durations, measured from `start`.
    pub fn phases(&self, start: Instant) -> Vec<(String, Duration)> {
        let mut order: Vec<(&Milestone, &Instant)> = self.seen.iter().collect();
        order.sort_by_key(|(m, t)| (**t, (*m).clone()));
        let mut last = start;
        order
            .into_iter()
            .map(|(m, t)| {
                let d = t.saturating_duration_since(last);
                last = (*t).max(last);
                (m.phase(), d)
            })
            .collect()
    }

    /// Time from `start` to the last milestone.
    pub fn total(&self, start: Instant) -> Option<Duration> {
        self.seen
            .get(&Milestone::PhonedHome)
            .map(|t| t.saturating_duration_since(start))
    }
}

/// iPXE's line for an IPv4 address it got by DHCP: `net0: 10.42.0.11/255.255.255.0 ...`.
fn is_ipxe_ipv4(line: &str) -> bool {
    let Some(rest) = line.split("net0: ").nth(1) else {
        return false;
    };
    let addr: String = rest
        .chars()
        .take_while(|c| *c != '/' && *c != ' ')
        .collect();
    addr.parse::<std::net::Ipv4Addr>().is_ok()
}

/// The value after `key` up to the next space.
fn field(text: &str, key: &str) -> Option<String> {
    let rest = text.split(key).nth(1)?;
    let value: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect::<String>()
        .trim_matches('"')
        .to_string();
    (!value.is_empty()).then_some(value)
}

/// A console line without terminal escape sequences, carriage returns and control bytes.
fn clean(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ params final-byte (0x40..=0x7e); other escapes: skip one char.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else if c == '\r' {
            // iPXE redraws progress with carriage returns; keep all of the text.
            out.push(' ');
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out.trim().to_string()
}

/// `1m02.3s`-style rendering of a duration.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        format!("{}m{:04.1}s", (s / 60.0) as u64, s % 60.0)
    } else {
        format!("{s:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_are_cleaned_and_fields_read() {
        assert_eq!(
            clean("\x1b[2J\x1b[01;01HConfiguring (net0 52:54:00:42:00:01)...\r ok\r\n"),
            "Configuring (net0 52:54:00:42:00:01)...  ok"
        );
        assert_eq!(
            field("instance-id=52:54:00:42:00:01 hostname=node-1", "hostname="),
            Some("node-1".into())
        );
        assert_eq!(field("hostname=", "hostname="), None);
    }

    #[test]
    fn milestones_come_from_the_console_and_match_the_store() {
        let dir = std::env::temp_dir().join(format!("lab-progress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let console = dir.join("console.log");
        std::fs::write(
            &console,
            "SeaBIOS\r\nConfiguring (net0 52:54:00:42:00:01)...... ok\r\n\
             net0: fd42:1b::5054:ff:fe42:1/64\r\n\
             net0: 10.42.0.11/255.255.255.0 gw 10.42.0.1\r\n\
             Loading HookOS for node-1 (52:54:00:42:00:01) from ironbell...\r\n\
             hookos: init started\r\nhookos: starting agent (x)\r\n\
             INFO received action image=quay.io/tinkerbell/actions/image2disk:latest\n\
             ironbell-os: init started\nironbell-os: instance-id=52:54:00:42:00:01 host",
        )
        .expect("write");
        let expect = Reported {
            instance_id: "52:54:00:42:00:01".into(),
            hostname: "node-1".into(),
        };
        let mut t = Tracker::new("node-1", console.clone(), expect);
        let now = Instant::now();
        let ev = t.poll(None, now);
        assert_eq!(
            ev,
            vec![
                Milestone::Dhcp,
                Milestone::Ipxe,
                Milestone::HookosKernel,
                Milestone::Agent,
                Milestone::OsBooted
            ]
        );
        assert_eq!(t.received.values().sum::<usize>(), 1);
        assert_eq!(t.outcome, Outcome::Running);
        // The rest of the line arrives later.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&console)
            .expect("open");
        std::io::Write::write_all(&mut f, b"name=node-1\r\n").expect("append");
        assert_eq!(t.poll(None, now), vec![Milestone::Metadata]);
        assert_eq!(t.outcome, Outcome::Running, "not yet phoned home");
        std::io::Write::write_all(&mut f, b"ironbell-os: phoned home (200)\r\n").expect("append");
        assert_eq!(t.poll(None, now), vec![Milestone::PhonedHome]);
        assert_eq!(t.outcome, Outcome::Done);
        assert!(t.total(now).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
