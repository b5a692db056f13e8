//! User-data applied in a node container as CAPD does it: the cloud-config is not handed to
//! cloud-init (a kind node image runs none) but turned into commands that are executed in
//! the container one after the other (CAPD's `provisioning/cloudinit` adapter). Pure: the
//! commands are argv vectors; [`crate::machine`] runs them through the engine's exec API.
//!
//! Modules, as CAPD: `write_files` (`path`, `content`, `encoding` plain or `b64`/`base64`,
//! `permissions`, `owner`, `append`) and `runcmd` (a string runs with `/bin/sh -c`, a list
//! is quoted word by word); `bootcmd` runs first, like cloud-init's. ironbell adds
//! `phone_home` (the `plain` node bootstrapper's), posted with `curl` as cloud-init's module
//! posts it: an `application/x-www-form-urlencoded` form with `instance_id`, `hostname` and
//! `fqdn` (here the container's name), `tries` times 3 s apart, `$INSTANCE_ID` in the URL
//! replaced. Every other module (`users`, `ntp`, `hostname`...; a container's hostname is set
//! when it is created) is listed in [`Plan::ignored`], as CAPD logs and skips them.
//!
//! **systemd.** A `systemctl` command of `runcmd` or `bootcmd` runs as written where systemd
//! runs in the container (`/run/systemd/system` exists, as in kind's node images). Where it
//! does not (a container whose command is not systemd), it does what it can without it:
//! `start`, `restart` and `enable --now` of a unit that the user-data itself writes under
//! `/etc/systemd/system/` start the unit's `ExecStart` as a long-running process of the
//! container (detached with `setsid`, its output appended to `/var/log/<unit>.log`, run
//! again `RestartSec` after it ends when the unit says `Restart=`, its supervisor's PID in
//! `/run/<unit>.pid` so that a second run of the user-data does not start it twice); other
//! verbs (`daemon-reload`, `enable`...) have nothing to do; starting a unit the user-data
//! does not write fails, naming it. [`Plan::services`] holds those starts again, for a
//! container the engine restarted (its processes are gone, its user-data is not run
//! twice). This is how the `native` node bootstrapper's user-data (which writes and starts
//! `ironbell-node.service`, then waits with `ironbell node wait`, then phones home) runs in a
//! container.

use base64::Engine as _;
use serde_yaml_ng::Value;

/// The first line of a cloud-config document.
pub const HEADER: &str = "#cloud-config";

/// One command to run in the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// What it does, for logs and errors (`write_files /etc/x`, `runcmd 2`...).
    pub what: String,
    /// The argv.
    pub argv: Vec<String>,
}

/// The commands of a user-data, in order, and the modules skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// What to run.
    pub commands: Vec<Command>,
    /// Top-level keys that are not applied.
    pub ignored: Vec<String>,
    /// The commands among [`Plan::commands`] that start a unit's process where systemd
    /// does not run (see the module docs): what a restarted container runs again.
    pub services: Vec<Command>,
}

/// A user-data that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserDataError {
    /// Not a cloud-config document (Bottlerocket settings, a shell script...).
    #[error("the user-data is not a cloud-config document (it does not start with {HEADER})")]
    NotCloudConfig,
    /// The YAML does not read.
    #[error("the user-data's YAML: {0}")]
    Yaml(String),
    /// A module's value is not what cloud-init takes.
    #[error("{module}: {message}")]
    Module {
        /// The module (`write_files[2]`...).
        module: String,
        /// What is wrong.
        message: String,
    },
}

/// Quotes `s` for `/bin/sh` (single quotes; a single quote becomes `'\''`).
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn sh(what: String, script: String) -> Command {
    Command {
        what,
        argv: vec!["/bin/sh".into(), "-c".into(), script],
    }
}

fn bad(module: impl Into<String>, message: impl Into<String>) -> UserDataError {
    UserDataError::Module {
        module: module.into(),
        message: message.into(),
    }
}

/// How long cloud-init waits between phone-home tries.
const PHONE_HOME_DELAY_S: u32 = 3;

/// The commands that apply `user_data` in the container named `node` (its hostname and
/// the phone-home's `instance_id`).
pub fn plan(user_data: &str, node: &str) -> Result<Plan, UserDataError> {
    if !user_data.trim_start().starts_with(HEADER) {
        return Err(UserDataError::NotCloudConfig);
    }
    let doc: Value =
        serde_yaml_ng::from_str(user_data).map_err(|e| UserDataError::Yaml(e.to_string()))?;
    let Some(map) = doc.as_mapping() else {
        return Ok(Plan::default());
    };
    let mut plan = Plan::default();
    let get = |k: &str| map.get(Value::String(k.into()));
    let units = match get("write_files") {
        Some(v) => units(v),
        None => Vec::new(),
    };
    if let Some(v) = get("bootcmd") {
        plan.commands
            .extend(run_commands("bootcmd", v, &units, &mut plan.services)?);
    }
    if let Some(v) = get("write_files") {
        plan.commands.extend(write_files(v)?);
    }
    if let Some(v) = get("runcmd") {
        plan.commands
            .extend(run_commands("runcmd", v, &units, &mut plan.services)?);
    }
    if let Some(v) = get("phone_home") {
        plan.commands.push(phone_home(v, node)?);
    }
    for key in map.keys() {
        let key = key.as_str().unwrap_or("(a key that is not a string)");
        if !["bootcmd", "write_files", "runcmd", "phone_home"].contains(&key) {
            plan.ignored.push(key.to_string());
        }
    }
    Ok(plan)
}

fn run_commands(
    module: &str,
    v: &Value,
    units: &[Unit],
    services: &mut Vec<Command>,
) -> Result<Vec<Command>, UserDataError> {
    let Some(list) = v.as_sequence() else {
        return Err(bad(module, "not a list"));
    };
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let what = format!("{module}[{i}]");
            let (script, words) = match item {
                Value::String(s) => (s.clone(), simple_words(s)),
                Value::Sequence(words) => {
                    let words = words
                        .iter()
                        .map(scalar)
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad(&what, "a word is not a string"))?;
                    let script = words
                        .iter()
                        .map(|w| sh_quote(w))
                        .collect::<Vec<_>>()
                        .join(" ");
                    (script, Some(words))
                }
                other => (
                    scalar(other).ok_or_else(|| bad(&what, "neither a string nor a list"))?,
                    None,
                ),
            };
            let Some(words) = words.filter(|w| w.first().is_some_and(|c| c == "systemctl")) else {
                return Ok(sh(what, script));
            };
            let (fallback, started) = without_systemd(&words, units);
            let command = sh(
                what,
                format!("if [ -d /run/systemd/system ]; then {script}; else {fallback}; fi"),
            );
            if started {
                services.push(command.clone());
            }
            Ok(command)
        })
        .collect()
}

/// The words of a command string with nothing for the shell to interpret, else `None`.
fn simple_words(s: &str) -> Option<Vec<String>> {
    let plain = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_whitespace() || "-_./@=:".contains(c));
    plain.then(|| s.split_whitespace().map(str::to_string).collect())
}

/// A systemd service unit the user-data writes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Unit {
    /// `ironbell-node.service`.
    name: String,
    /// Its `ExecStart` command line (prefixes such as `-` or `@` dropped).
    exec_start: String,
    /// Whether `Restart=` asks for a restart when the process ends.
    restart: bool,
    /// `RestartSec=` in whole seconds (systemd's default 100 ms rounds up to 1).
    restart_sec: u64,
}

/// The service units among `write_files` (paths under `/etc/systemd/system/` ending in
/// `.service`, with an `ExecStart=`).
fn units(v: &Value) -> Vec<Unit> {
    let Some(list) = v.as_sequence() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|f| {
            let path = f.get("path").and_then(scalar)?;
            let name = path.strip_prefix("/etc/systemd/system/")?;
            if name.contains('/') || !name.ends_with(".service") {
                return None;
            }
            let content = f.get("content").and_then(scalar)?;
            let value = |key: &str| {
                content.lines().rev().find_map(|l| {
                    let (k, v) = l.trim().split_once('=')?;
                    (k.trim() == key).then(|| v.trim().to_string())
                })
            };
            let exec_start = value("ExecStart")?
                .trim_start_matches(['-', '@', '+', '!', ':'])
                .to_string();
            let restart = value("Restart").is_some_and(|r| r != "no");
            let restart_sec = value("RestartSec")
                .and_then(|s| s.trim_end_matches('s').parse::<u64>().ok())
                .unwrap_or(1)
                .max(1);
            Some(Unit {
                name: name.to_string(),
                exec_start,
                restart,
                restart_sec,
            })
        })
        .collect()
}

/// What `systemctl WORDS...` does where systemd does not run (see the module docs), and
/// whether it starts a unit's process.
fn without_systemd(words: &[String], units: &[Unit]) -> (String, bool) {
    let args: Vec<&str> = words[1..]
        .iter()
        .map(String::as_str)
        .filter(|w| !w.starts_with('-'))
        .collect();
    let now = words.iter().any(|w| w == "--now");
    let starts = match args.first() {
        Some(&"start" | &"restart" | &"try-restart" | &"reload-or-restart") => true,
        Some(&"enable" | &"reenable") => now,
        _ => false,
    };
    if !starts {
        return (":".into(), false);
    }
    let mut scripts = Vec::new();
    for name in &args[1..] {
        let full = if name.contains('.') {
            name.to_string()
        } else {
            format!("{name}.service")
        };
        let Some(unit) = units.iter().find(|u| u.name == full) else {
            let message = format!(
                "systemctl {}: systemd does not run in this container and the user-data writes no unit {full} to start without it",
                words[1..].join(" ")
            );
            scripts.push(format!("echo {} >&2; exit 1", sh_quote(&message)));
            continue;
        };
        let pid = format!("/run/{}.pid", unit.name);
        let log = format!("/var/log/{}.log", unit.name);
        let run = if unit.restart {
            format!(
                "echo $$ > {pid}; while :; do {}; sleep {}; done",
                unit.exec_start, unit.restart_sec
            )
        } else {
            format!("echo $$ > {pid}; exec {}", unit.exec_start)
        };
        scripts.push(format!(
            "if [ -f {pid} ] && kill -0 \"$(cat {pid})\" 2>/dev/null; then :; else \
             mkdir -p /var/log && setsid -f /bin/sh -c {} >> {log} 2>&1 < /dev/null; fi",
            sh_quote(&run)
        ));
    }
    (scripts.join("; "), true)
}

/// A YAML scalar as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn write_files(v: &Value) -> Result<Vec<Command>, UserDataError> {
    let Some(list) = v.as_sequence() else {
        return Err(bad("write_files", "not a list"));
    };
    let mut out = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let module = format!("write_files[{i}]");
        let field = |k: &str| f.get(k).and_then(scalar);
        let path = field("path").ok_or_else(|| bad(&module, "no path"))?;
        let content = field("content").unwrap_or_default();
        let bytes = match field("encoding").as_deref() {
            None | Some("text/plain") => content.into_bytes(),
            Some("b64" | "base64") => base64::engine::general_purpose::STANDARD
                .decode(content.split_whitespace().collect::<String>())
                .map_err(|e| bad(&module, format!("{path}: content is not base64: {e}")))?,
            Some(other) => {
                return Err(bad(
                    &module,
                    format!("{path}: encoding {other:?} is not supported (plain or b64)"),
                ));
            }
        };
        let append = f.get("append").and_then(Value::as_bool).unwrap_or(false);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let q = sh_quote(&path);
        let mut script = format!(
            "mkdir -p \"$(dirname {q})\" && printf %s {} | base64 -d {} {q}",
            sh_quote(&encoded),
            if append { ">>" } else { ">" }
        );
        if let Some(perm) = field("permissions") {
            script.push_str(&format!(" && chmod {} {q}", sh_quote(&perm)));
        }
        if let Some(owner) = field("owner") {
            script.push_str(&format!(" && chown {} {q}", sh_quote(&owner)));
        }
        out.push(sh(format!("write_files {path}"), script));
    }
    Ok(out)
}

fn phone_home(v: &Value, node: &str) -> Result<Command, UserDataError> {
    let url = v
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("phone_home", "no url"))?
        .replace("${INSTANCE_ID}", node)
        .replace("$INSTANCE_ID", node);
    let tries = v
        .get("tries")
        .and_then(Value::as_u64)
        .unwrap_or(10)
        .clamp(1, 100);
    let form = ["instance_id", "hostname", "fqdn"]
        .iter()
        .map(|k| format!("{k}={}", form_escape(node)))
        .collect::<Vec<_>>()
        .join("&");
    let script = format!(
        "curl -fsS -o /dev/null --retry {} --retry-delay {PHONE_HOME_DELAY_S} --retry-all-errors \
         -H 'Content-Type: application/x-www-form-urlencoded' --data {} {}",
        tries - 1,
        sh_quote(&form),
        sh_quote(&url)
    );
    Ok(sh(format!("phone_home {url}"), script))
}

/// Percent-encodes everything but unreserved characters.
fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_commands_and_the_phone_home_become_commands_in_order() {
        let ud = r#"#cloud-config
hostname: ignored
users: [{name: ops}]
write_files:
- path: /etc/it's here.conf
  content: "a\nb"
  permissions: "0600"
  owner: root:root
- path: /etc/b64
  encoding: b64
  content: aGVsbG8=
  append: true
runcmd:
- echo one
- [touch, "/tmp/a b"]
bootcmd: [echo first]
phone_home: {url: "http://10.0.0.1:50061/phone-home/$INSTANCE_ID", post: [instance_id], tries: 4}
"#;
        let p = plan(ud, "c1-md-0-x").expect("plan");
        let whats: Vec<&str> = p.commands.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(
            whats,
            [
                "bootcmd[0]",
                "write_files /etc/it's here.conf",
                "write_files /etc/b64",
                "runcmd[0]",
                "runcmd[1]",
                "phone_home http://10.0.0.1:50061/phone-home/c1-md-0-x"
            ]
        );
        assert_eq!(p.ignored, ["hostname", "users"]);
        let first = &p.commands[1].argv[2];
        assert!(
            first.contains(r"'/etc/it'\''s here.conf'") && first.contains("chmod '0600'"),
            "{first}"
        );
        // Base64 content is decoded and encoded again; append keeps `>>`.
        assert!(p.commands[2].argv[2].contains("'aGVsbG8=' | base64 -d >>"));
        assert_eq!(p.commands[4].argv[2], r"'touch' '/tmp/a b'");
        let ph = &p.commands[5].argv[2];
        assert!(ph.contains("--retry 3 "), "{ph}");
        assert!(
            ph.contains("instance_id=c1-md-0-x&hostname=c1-md-0-x&fqdn=c1-md-0-x"),
            "{ph}"
        );
    }

    #[test]
    fn bad_user_data_is_refused_with_the_module_named() {
        assert_eq!(
            plan("#!/bin/sh\necho hi", "n"),
            Err(UserDataError::NotCloudConfig)
        );
        let e = plan("#cloud-config\nwrite_files:\n- content: x\n", "n").expect_err("no path");
        assert_eq!(e.to_string(), "write_files[0]: no path");
        let e = plan(
            "#cloud-config\nwrite_files:\n- {path: /a, encoding: gzip, content: x}\n",
            "n",
        )
        .expect_err("gzip");
        assert!(e.to_string().contains("gzip"), "{e}");
        assert!(matches!(
            plan("#cloud-config\nruncmd: [\n", "n"),
            Err(UserDataError::Yaml(_))
        ));
    }

    #[test]
    fn systemctl_runs_where_systemd_does_else_a_written_unit_starts_as_a_process() {
        let ud = r#"#cloud-config
write_files:
- path: /etc/ironbell/node.yaml
  content: "cluster: c1"
- path: /etc/systemd/system/ironbell-node.service
  content: |
    [Service]
    ExecStart=/usr/local/bin/ironbell node up --config /etc/ironbell/node.yaml
    Restart=always
    RestartSec=2
runcmd:
- [systemctl, daemon-reload]
- [systemctl, enable, --now, ironbell-node.service]
- systemctl start other
- [/usr/local/bin/ironbell, node, wait, --config, /etc/ironbell/node.yaml]
"#;
        let p = plan(ud, "c1-cp-1").expect("plan");
        let script = |i: usize| p.commands[i].argv[2].clone();
        // daemon-reload: systemctl where systemd runs, nothing else.
        assert_eq!(
            script(2),
            "if [ -d /run/systemd/system ]; then 'systemctl' 'daemon-reload'; else :; fi"
        );
        // enable --now: the unit's ExecStart, detached, restarted after RestartSec, once.
        let start = script(3);
        assert!(
            start.starts_with(
                "if [ -d /run/systemd/system ]; then 'systemctl' 'enable' '--now' 'ironbell-node.service'; else "
            ),
            "{start}"
        );
        for part in [
            "setsid -f /bin/sh -c",
            "while :; do /usr/local/bin/ironbell node up --config /etc/ironbell/node.yaml; sleep 2; done",
            "/run/ironbell-node.service.pid",
            ">> /var/log/ironbell-node.service.log 2>&1 < /dev/null",
        ] {
            assert!(start.contains(part), "{part}: {start}");
        }
        // A unit the user-data does not write cannot start without systemd: named.
        let other = script(4);
        assert!(
            other.contains("writes no unit other.service") && other.contains("exit 1"),
            "{other}"
        );
        // The wait is an ordinary command, after the start.
        assert!(!script(5).contains("systemd"), "{}", script(5));
        assert_eq!(p.services.len(), 2);
        assert_eq!(p.services[0], p.commands[3]);
    }

    /// The starts run for real in a shell (no systemd here, as in the node containers):
    /// the process runs detached, the command returns, and a second start does not start
    /// it twice.
    #[test]
    fn a_unit_started_without_systemd_runs_detached_once() {
        if std::path::Path::new("/run/systemd/system").exists() || which("setsid").is_none() {
            eprintln!("skipped: systemd runs here, or no setsid");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("count");
        let ud = format!(
            "#cloud-config\nwrite_files:\n- path: /etc/systemd/system/ib-test-{pid}.service\n  content: |\n    [Service]\n    ExecStart=/bin/sh -c 'echo x >> {m}; sleep 30'\nruncmd:\n- [systemctl, start, ib-test-{pid}]\n",
            pid = std::process::id(),
            m = marker.display()
        );
        let p = plan(&ud, "n").expect("plan");
        let start = &p.services[0].argv;
        let run = || {
            let t = std::time::Instant::now();
            let status = std::process::Command::new(&start[0])
                .args(&start[1..])
                .status()
                .expect("sh");
            assert!(status.success());
            assert!(
                t.elapsed() < std::time::Duration::from_secs(10),
                "not detached"
            );
        };
        run();
        let pidfile = format!("/run/ib-test-{}.service.pid", std::process::id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read_to_string(&marker)
            .unwrap_or_default()
            .is_empty()
        {
            assert!(std::time::Instant::now() < deadline, "never started");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        run();
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert_eq!(std::fs::read_to_string(&marker).expect("count"), "x\n");
        // The test's own process (by the PID it wrote), and its files.
        if let Ok(pid) = std::fs::read_to_string(&pidfile)
            && let Ok(pid) = pid.trim().parse::<i32>()
        {
            // The supervisor is a session leader: its group is its PID.
            let _ = std::process::Command::new("kill")
                .args(["-TERM", "--", &format!("-{pid}")])
                .status();
        }
        let _ = std::fs::remove_file(&pidfile);
        let _ = std::fs::remove_file(format!(
            "/var/log/ib-test-{}.service.log",
            std::process::id()
        ));
    }

    fn which(tool: &str) -> Option<std::path::PathBuf> {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    }

    #[test]
    fn the_plain_bootstrappers_user_data_phones_home() {
        let ud = "#cloud-config\nphone_home:\n  url: http://10.9.0.1:7172/phone-home\n  post: [instance_id, hostname, fqdn]\n  tries: 10\n";
        let p = plan(ud, "c1-cp-abc").expect("plan");
        assert_eq!(p.commands.len(), 1);
        assert!(p.commands[0].argv[2].ends_with("'http://10.9.0.1:7172/phone-home'"));
    }
}
