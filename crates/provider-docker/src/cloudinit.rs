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
    if let Some(v) = get("bootcmd") {
        plan.commands.extend(run_commands("bootcmd", v)?);
    }
    if let Some(v) = get("write_files") {
        plan.commands.extend(write_files(v)?);
    }
    if let Some(v) = get("runcmd") {
        plan.commands.extend(run_commands("runcmd", v)?);
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

fn run_commands(module: &str, v: &Value) -> Result<Vec<Command>, UserDataError> {
    let Some(list) = v.as_sequence() else {
        return Err(bad(module, "not a list"));
    };
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let script = match item {
                Value::String(s) => s.clone(),
                Value::Sequence(words) => words
                    .iter()
                    .map(|w| scalar(w).map(|w| sh_quote(&w)))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad(format!("{module}[{i}]"), "a word is not a string"))?
                    .join(" "),
                other => scalar(other)
                    .ok_or_else(|| bad(format!("{module}[{i}]"), "neither a string nor a list"))?,
            };
            Ok(sh(format!("{module}[{i}]"), script))
        })
        .collect()
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
    fn the_plain_bootstrappers_user_data_phones_home() {
        let ud = "#cloud-config\nphone_home:\n  url: http://10.9.0.1:7172/phone-home\n  post: [instance_id, hostname, fqdn]\n  tries: 10\n";
        let p = plan(ud, "c1-cp-abc").expect("plan");
        assert_eq!(p.commands.len(), 1);
        assert!(p.commands[0].argv[2].ends_with("'http://10.9.0.1:7172/phone-home'"));
    }
}
