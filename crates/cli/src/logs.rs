//! `ironbell logs HARDWARE`: what a machine's installer environment sent over syslog.
//!
//! The boot service writes one file per Hardware (`ironbell_boot::machine_log`); this
//! command reads the same files, so it works with or without the service running.
//! Messages from addresses no Hardware declares are not in any Hardware's file: a sample of
//! them (20 a second at most, with their source address) is in
//! `<log dir>/_unknown/sampled.log`, which can be read with any pager.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use ironbell_boot::machine_log::log_path;

/// How often `--follow` looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(300);

/// Prints the log of Hardware `namespace/name` from `dir`: all of it, or the last `tail`
/// lines; with `follow`, keeps printing lines as they arrive (across rotations).
pub async fn show(
    dir: &Path,
    namespace: &str,
    name: &str,
    tail: Option<usize>,
    follow: bool,
) -> anyhow::Result<()> {
    let path = log_path(dir, namespace, name)
        .with_context(|| format!("Hardware {namespace}/{name} cannot have a log file"))?;
    let mut rotated = path.clone().into_os_string();
    rotated.push(".1");
    let rotated = PathBuf::from(rotated);
    let mut text = String::new();
    for p in [&rotated, &path] {
        match std::fs::read(p) {
            Ok(bytes) => text.push_str(&String::from_utf8_lossy(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", p.display())),
        }
    }
    if text.is_empty() && !follow {
        eprintln!(
            "no logs from Hardware {namespace}/{name} yet (the boot service writes them to {})",
            path.display()
        );
        return Ok(());
    }
    let lines: Vec<&str> = text.lines().collect();
    let start = tail.map_or(0, |n| lines.len().saturating_sub(n));
    let mut out = std::io::stdout().lock();
    for line in &lines[start..] {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    drop(out);
    if follow {
        let offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        follow_file(&path, offset).await?;
    }
    Ok(())
}

/// Prints what is appended to `path` after `offset`, forever; starts again from the
/// beginning when the file is replaced by a shorter one (rotation).
async fn follow_file(path: &Path, mut offset: u64) -> anyhow::Result<()> {
    let mut partial = Vec::new();
    loop {
        tokio::time::sleep(FOLLOW_POLL).await;
        let Ok(mut file) = std::fs::File::open(path) else {
            continue;
        };
        let len = file.metadata()?.len();
        if len < offset {
            offset = 0;
            partial.clear();
        }
        if len == offset {
            continue;
        }
        file.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::new();
        Read::by_ref(&mut file)
            .take(len - offset)
            .read_to_end(&mut buf)?;
        offset += buf.len() as u64;
        partial.extend_from_slice(&buf);
        // Print whole lines only; keep a partly written one for the next round.
        if let Some(end) = partial.iter().rposition(|b| *b == b'\n') {
            let mut out = std::io::stdout().lock();
            out.write_all(&partial[..=end])?;
            out.flush()?;
            partial.drain(..=end);
        }
    }
}
