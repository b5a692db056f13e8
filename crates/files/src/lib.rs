//! # ironbell-files
//!
//! Files that hold secrets (certificates and keys, backups of BMC credentials): a directory
//! created `0700` ([`private_dir`]) and files written `0600` through a temporary file
//! renamed over the target ([`write_private`]), so that a reader never sees half a file
//! and nobody else reads it at any moment.
//!
//! What it is not: a general file library. It exists because the move's backups, the
//! native plane's certificates and the lifecycle's credentials all write such files.

use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Creates `dir` and its missing parents, `0700` (an existing directory is left as it is).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes `bytes` to `path`, `0600`, through `<path>.tmp` renamed over it.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_modes_and_whole_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sub = dir.path().join("a/b");
        private_dir(&sub).expect("dir");
        assert_eq!(
            std::fs::metadata(&sub).expect("meta").permissions().mode() & 0o777,
            0o700
        );
        let file = sub.join("key.pem");
        write_private(&file, b"one").expect("write");
        write_private(&file, b"two").expect("write again");
        assert_eq!(std::fs::read(&file).expect("read"), b"two");
        assert_eq!(
            std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        assert!(!sub.join("key.pem.tmp").exists());
    }
}
