//! A mounted file system that is unmounted when dropped — writefile, cexec and kexec mount
//! the partition they work on at a fresh directory under the temporary directory
//! (Tinkerbell's actions use `/mountAction` inside their container) and must unmount it
//! whatever happens.

use super::ActionError;
use nix::mount::{MntFlags, MsFlags};
use std::path::{Path, PathBuf};

/// A mount point with `device` mounted on it.
#[derive(Debug)]
pub struct Mounted {
    dir: Option<tempfile::TempDir>,
    target: PathBuf,
    /// Extra mounts below the target (bind mounts), unmounted first, in reverse order.
    binds: Vec<PathBuf>,
    action: &'static str,
    device: String,
}

impl Mounted {
    /// Mounts `device` (file system `fstype`) at a new temporary directory.
    pub fn new(action: &'static str, device: &str, fstype: &str) -> Result<Self, ActionError> {
        let dir = tempfile::Builder::new()
            .prefix("ironbell-mount-")
            .tempdir()
            .map_err(|error| ActionError::Io {
                action,
                what: "creating the mount point",
                path: std::env::temp_dir(),
                error,
            })?;
        let target = dir.path().to_path_buf();
        nix::mount::mount(
            Some(device),
            &target,
            Some(fstype),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|error| ActionError::Mount {
            action,
            device: device.to_string(),
            fstype: fstype.to_string(),
            target: target.clone(),
            error,
        })?;
        tracing::info!(device, fstype, target = %target.display(), "mounted");
        Ok(Self {
            dir: Some(dir),
            target,
            binds: Vec::new(),
            action,
            device: device.to_string(),
        })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Bind-mounts the host's `source` (`/dev`, `/proc`, `/sys`) at the same path below
    /// the mount point; undone before the main unmount.
    pub fn bind(&mut self, source: &str) -> Result<(), ActionError> {
        let dst = self.target.join(source.trim_start_matches('/'));
        std::fs::create_dir_all(&dst).map_err(|error| ActionError::Io {
            action: self.action,
            what: "creating the bind mount point",
            path: dst.clone(),
            error,
        })?;
        nix::mount::mount(
            Some(source),
            &dst,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|error| ActionError::Mount {
            action: self.action,
            device: source.to_string(),
            fstype: "bind".into(),
            target: dst.clone(),
            error,
        })?;
        self.binds.push(dst);
        Ok(())
    }

    /// Unmounts now, reporting a failure.
    pub fn unmount(mut self) -> Result<(), ActionError> {
        self.undo()
    }

    fn undo(&mut self) -> Result<(), ActionError> {
        let mut first_err = None;
        while let Some(b) = self.binds.pop() {
            if let Err(e) = nix::mount::umount2(&b, MntFlags::MNT_DETACH) {
                first_err.get_or_insert((b, e));
            }
        }
        if let Some(dir) = self.dir.take() {
            match nix::mount::umount2(&self.target, MntFlags::empty())
                .or_else(|_| nix::mount::umount2(&self.target, MntFlags::MNT_DETACH))
            {
                Ok(()) => {
                    tracing::info!(device = %self.device, target = %self.target.display(), "unmounted");
                    let _ = dir.close();
                }
                Err(e) => {
                    // Keep the directory: removing it would recurse into the mounted fs.
                    let _ = dir.keep();
                    first_err.get_or_insert((self.target.clone(), e));
                }
            }
        }
        match first_err {
            None => Ok(()),
            Some((target, error)) => Err(ActionError::Mount {
                action: self.action,
                device: self.device.clone(),
                fstype: "umount".into(),
                target,
                error,
            }),
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Err(e) = self.undo() {
            tracing::error!(error = %e, "unmounting");
        }
    }
}
