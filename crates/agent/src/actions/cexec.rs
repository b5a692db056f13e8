//! `cexec`: runs commands inside the file system of a partition (usually in a chroot).
//!
//! Environment, as Tinkerbell's cexec reads it:
//! - `BLOCK_DEVICE`, `FS_TYPE`, `CMD_LINE` (required).
//! - `CHROOT`: non-empty (`y`) → bind-mount `/dev`, `/proc`, `/sys` into the partition and
//!   run the commands with the partition as their root directory.
//! - `DEFAULT_INTERPRETER`: e.g. `/bin/sh -c`: run it (split on spaces) with `CMD_LINE`
//!   as its last argument. Without it, `CMD_LINE` is split on `;` into commands, each
//!   split on spaces, run one after the other; the first failure stops.
//!
//! Output goes to the agent's log line by line. The child is killed when the action is
//! cancelled (time limit), and everything mounted is unmounted in every case.

use super::mount::Mounted;
use super::{ActionError, ActionSpec, Outcome};
use std::path::Path;
use tokio::io::AsyncBufReadExt;

const ACTION: &str = "cexec";

/// The commands `CMD_LINE` and `DEFAULT_INTERPRETER` describe, as argument vectors.
pub fn commands(cmd_line: &str, interpreter: Option<&str>) -> Vec<Vec<String>> {
    match interpreter {
        Some(i) => {
            let mut argv: Vec<String> = i
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            argv.push(cmd_line.to_string());
            vec![argv]
        }
        None => cmd_line
            .split(';')
            .map(|c| {
                c.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .filter(|argv| !argv.is_empty())
            .collect(),
    }
}

/// Runs `argv` (in a chroot at `root` if given), logging its output; errors name the command.
pub async fn run_logged(argv: &[String], root: Option<&Path>) -> Result<(), ActionError> {
    let shown = argv.join(" ");
    let fail = |reason: String| ActionError::Command {
        action: ACTION,
        command: shown.clone(),
        reason,
    };
    let Some((prog, args)) = argv.split_first() else {
        return Err(fail("empty command".into()));
    };
    let mut cmd = std::process::Command::new(prog);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(root) = root {
        crate::sys::chroot_command(&mut cmd, root).map_err(|e| fail(e.to_string()))?;
    }
    let mut child = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("could not start: {e}")))?;
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(tokio::spawn(pump(tokio::io::BufReader::new(out), "stdout")));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(tokio::io::BufReader::new(err), "stderr")));
    }
    let status = child.wait().await.map_err(|e| fail(e.to_string()))?;
    for p in pumps {
        let _ = p.await;
    }
    if status.success() {
        Ok(())
    } else {
        Err(fail(format!("exited with {status}")))
    }
}

async fn pump<R: tokio::io::AsyncBufRead + Unpin>(r: R, stream: &'static str) {
    let mut lines = r.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(stream, "{line}");
    }
}

/// Runs the action.
pub async fn run(spec: &ActionSpec) -> Result<Outcome, ActionError> {
    let device = spec.required(ACTION, "BLOCK_DEVICE")?;
    let fstype = spec.required(ACTION, "FS_TYPE")?;
    let cmd_line = spec.required(ACTION, "CMD_LINE")?;
    let chroot = spec.var("CHROOT").is_some();
    let interpreter = spec.var("DEFAULT_INTERPRETER");
    let mut mounted = Mounted::new(ACTION, device, fstype)?;
    if chroot {
        for special in ["/dev", "/proc", "/sys"] {
            mounted.bind(special)?;
        }
    }
    let root = chroot.then(|| mounted.path().to_path_buf());
    if let Some(i) = interpreter {
        let prog = i.split(' ').find(|s| !s.is_empty()).unwrap_or_default();
        let inside = match &root {
            Some(r) => r.join(prog.trim_start_matches('/')),
            None => prog.into(),
        };
        if !inside.exists() {
            return Err(ActionError::BadEnv {
                action: ACTION,
                key: "DEFAULT_INTERPRETER",
                value: i.into(),
                reason: "not found (check CHROOT and the interpreter's path)".into(),
            });
        }
    }
    let cmds = commands(cmd_line, interpreter);
    for argv in &cmds {
        tracing::info!(command = %argv.join(" "), chroot, "running");
        run_logged(argv, root.as_deref()).await?;
    }
    mounted.unmount()?;
    Ok(Outcome::done(format!(
        "ran {} command(s) on {device}",
        cmds.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_split_like_tinkerbell() {
        assert_eq!(
            commands("update-grub; echo  done", None),
            [
                vec!["update-grub".to_string()],
                vec!["echo".into(), "done".into()]
            ]
        );
        assert_eq!(
            commands("apt-get update && reboot", Some("/bin/sh -c")),
            [vec![
                "/bin/sh".to_string(),
                "-c".into(),
                "apt-get update && reboot".into()
            ]]
        );
    }

    #[tokio::test]
    async fn output_and_status() {
        run_logged(&["true".into()], None).await.expect("true");
        let e = run_logged(&["sh".into(), "-c".into(), "exit 4".into()], None)
            .await
            .expect_err("exit 4");
        assert!(e.to_string().contains("exit status: 4"), "{e}");
        let e = run_logged(&["/nonexistent/x".into()], None)
            .await
            .expect_err("missing");
        assert!(e.to_string().contains("could not start"), "{e}");
    }
}
