//! `writefile`: writes one file onto a partition.
//!
//! Environment, as Tinkerbell's writefile reads it:
//! - `DEST_DISK` (required): the partition's block device.
//! - `FS_TYPE` (required): its file system (`ext4`, `vfat`, …).
//! - `DEST_PATH` (required): absolute path of the file inside the partition.
//! - `CONTENTS`: the file's contents (may be empty).
//! - `UID`, `GID` (required): owner of the file and of the directories created.
//! - `MODE`, `DIRMODE` (required): octal permissions of the file and of the directories
//!   created (existing directories are left alone).
//!
//! The partition is mounted (nix), missing directories are created with `DIRMODE` and
//! owned by `UID:GID`, the file is written, chowned and chmodded, and the partition is
//! unmounted — also when a step fails.

use super::mount::Mounted;
use super::{ActionError, ActionSpec, Outcome};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

const ACTION: &str = "writefile";

/// The parsed environment.
#[derive(Debug, Clone)]
pub struct Request {
    /// `DEST_PATH`.
    pub path: PathBuf,
    /// `CONTENTS`.
    pub contents: String,
    /// `UID`.
    pub uid: u32,
    /// `GID`.
    pub gid: u32,
    /// `MODE`.
    pub mode: u32,
    /// `DIRMODE`.
    pub dir_mode: u32,
}

fn octal(spec: &ActionSpec, key: &'static str) -> Result<u32, ActionError> {
    let v = spec.required(ACTION, key)?;
    u32::from_str_radix(v, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| ActionError::BadEnv {
            action: ACTION,
            key,
            value: v.into(),
            reason: "not an octal mode".into(),
        })
}

fn id(spec: &ActionSpec, key: &'static str) -> Result<u32, ActionError> {
    let v = spec.required(ACTION, key)?;
    v.parse().map_err(|_| ActionError::BadEnv {
        action: ACTION,
        key,
        value: v.into(),
        reason: "not a numeric id".into(),
    })
}

impl Request {
    /// Parses and checks the action's environment (all but `DEST_DISK` and `FS_TYPE`).
    pub fn parse(spec: &ActionSpec) -> Result<Self, ActionError> {
        let path = PathBuf::from(spec.required(ACTION, "DEST_PATH")?);
        let bad = |reason: &str| ActionError::BadEnv {
            action: ACTION,
            key: "DEST_PATH",
            value: path.display().to_string(),
            reason: reason.into(),
        };
        if !path.is_absolute() {
            return Err(bad("must be an absolute path"));
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(bad("must not contain .."));
        }
        if path.file_name().is_none() || path.to_string_lossy().ends_with('/') {
            return Err(bad("must name a file"));
        }
        Ok(Self {
            contents: spec.var("CONTENTS").unwrap_or_default().to_string(),
            uid: id(spec, "UID")?,
            gid: id(spec, "GID")?,
            mode: octal(spec, "MODE")?,
            dir_mode: octal(spec, "DIRMODE")?,
            path,
        })
    }

    /// Writes the file below `root` (the mounted partition).
    pub fn write_below(&self, root: &Path) -> Result<PathBuf, ActionError> {
        let io = |what, path: &Path, error| ActionError::Io {
            action: ACTION,
            what,
            path: path.to_path_buf(),
            error,
        };
        let rel = self.path.strip_prefix("/").unwrap_or(&self.path);
        let mut dir = root.to_path_buf();
        if let Some(parent) = rel.parent() {
            for part in parent.components() {
                dir.push(part);
                match std::fs::symlink_metadata(&dir) {
                    Ok(m) if m.is_dir() => continue,
                    Ok(_) => {
                        return Err(io(
                            "expected a directory at",
                            &dir,
                            std::io::Error::from(std::io::ErrorKind::NotADirectory),
                        ));
                    }
                    Err(_) => {}
                }
                std::fs::DirBuilder::new()
                    .mode(self.dir_mode)
                    .create(&dir)
                    .map_err(|e| io("creating directory", &dir, e))?;
                // mkdir's mode is filtered by the umask; set it exactly.
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(self.dir_mode))
                    .map_err(|e| io("setting the mode of", &dir, e))?;
                std::os::unix::fs::chown(&dir, Some(self.uid), Some(self.gid))
                    .map_err(|e| io("changing the owner of", &dir, e))?;
                tracing::info!(dir = %dir.display(), "created directory");
            }
        }
        let file = root.join(rel);
        std::fs::write(&file, self.contents.as_bytes()).map_err(|e| io("writing", &file, e))?;
        std::os::unix::fs::chown(&file, Some(self.uid), Some(self.gid))
            .map_err(|e| io("changing the owner of", &file, e))?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(self.mode))
            .map_err(|e| io("setting the mode of", &file, e))?;
        Ok(file)
    }
}

/// Runs the action (blocking).
pub fn run(spec: &ActionSpec) -> Result<Outcome, ActionError> {
    let device = spec.required(ACTION, "DEST_DISK")?;
    let fstype = spec.required(ACTION, "FS_TYPE")?;
    let req = Request::parse(spec)?;
    let mounted = Mounted::new(ACTION, device, fstype)?;
    let written = req.write_below(mounted.path());
    let unmounted = mounted.unmount();
    written?;
    unmounted?;
    Ok(Outcome::done(format!(
        "wrote {} ({} bytes, mode {:o}, {}:{}) on {device}",
        req.path.display(),
        req.contents.len(),
        req.mode,
        req.uid,
        req.gid
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn spec(env: &[(&str, &str)]) -> ActionSpec {
        ActionSpec {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn parse_checks_like_tinkerbell() {
        let ok = [
            ("DEST_PATH", "/etc/x"),
            ("UID", "0"),
            ("GID", "0"),
            ("MODE", "0600"),
            ("DIRMODE", "0755"),
        ];
        assert!(Request::parse(&spec(&ok)).is_ok());
        let mut rel = ok;
        rel[0] = ("DEST_PATH", "etc/x");
        assert!(Request::parse(&spec(&rel)).is_err());
        let mut dir = ok;
        dir[0] = ("DEST_PATH", "/etc/");
        assert!(Request::parse(&spec(&dir)).is_err());
        let mut mode = ok;
        mode[3] = ("MODE", "0899");
        let e = Request::parse(&spec(&mode)).expect_err("bad mode");
        assert!(e.to_string().contains("MODE"), "{e}");
    }

    #[test]
    fn writes_below_a_root() {
        // It sets the file's owner (UID/GID), which needs root.
        ironbell_testbed::require_tier!(ironbell_testbed::Tier::Root);
        let t = tempfile::tempdir().expect("tmp");
        let req = Request::parse(&spec(&[
            ("DEST_PATH", "/a/b/c.txt"),
            ("CONTENTS", "hi"),
            ("UID", "0"),
            ("GID", "0"),
            ("MODE", "0640"),
            ("DIRMODE", "0700"),
        ]))
        .expect("parse");
        let f = req.write_below(t.path()).expect("write");
        assert_eq!(std::fs::read_to_string(&f).expect("read"), "hi");
        assert_eq!(std::fs::metadata(&f).expect("meta").mode() & 0o7777, 0o640);
        assert_eq!(
            std::fs::metadata(t.path().join("a/b"))
                .expect("meta")
                .mode()
                & 0o7777,
            0o700
        );
    }
}
