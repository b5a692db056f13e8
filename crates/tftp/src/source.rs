//! Where served files come from: [`FileSource`], either an in-memory map or a directory
//! root, and the [`OpenFile`] it hands out.
//!
//! Both the TFTP server and the boot service's HTTP side (HookOS artifacts on port 7171)
//! look files up through [`FileSource::open`], so the confinement rules live in one place:
//!
//! 1. one leading `/` is stripped (PXE clients send `/undionly.kpxe`);
//! 2. names that are empty, contain NUL or `\`, are still absolute, or have any component
//!    other than a plain name (`..`, `.`, empty) are refused with
//!    [`SourceError::Refused`] (TFTP error 2, access violation);
//! 3. for a directory root, the name is opened relative to the root with `openat2(2)` and
//!    `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: the kernel resolves every component and
//!    symlink and fails (`EXDEV`) as soon as the walk would leave the root, so a symlink
//!    inside the root may point elsewhere inside the root, never out of it (that is
//!    [`SourceError::Refused`]), and `/proc` magic links are never followed. The check
//!    and the open are one system call, so a link swapped in between cannot win a race;
//!    the opened descriptor is then `fstat`ed and must be a regular file. It is opened
//!    `O_NONBLOCK`, so a FIFO placed in the root cannot hang the server;
//! 4. a name that passes but does not exist, or is not a regular file, is
//!    [`SourceError::NotFound`] (TFTP error 1).
//!
//! Why `openat2` through `nix` (its `fs` feature wraps the system call safely, so the
//! workspace's `unsafe_code = "forbid"` holds): it is the one primitive that makes the
//! kernel enforce the confinement. On kernels older than 5.6 (no `openat2`, `ENOSYS`) the
//! fallback canonicalises the joined path (resolving every symlink), checks it is still
//! under the canonical root, opens it with `O_NOFOLLOW` and `fstat`s the descriptor; that
//! keeps links from leading out but leaves a window for a local user who can write in the
//! root to swap a path between the check and the open.
//!
//! Note: Debian's `/usr/lib/ipxe/ipxe.efi` is a symlink into `/boot`, so a directory source
//! rooted at `/usr/lib/ipxe` refuses it; load the iPXE binaries with
//! [`FileSource::memory`] (or copy them into the root).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

/// Why a file cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The name breaks a confinement rule (see the module docs).
    #[error("refused {name:?}: {reason}")]
    Refused {
        /// The name as requested.
        name: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// No regular file by that name.
    #[error("{0:?} not found")]
    NotFound(String),
    /// The file exists but could not be opened or read.
    #[error("cannot read {name:?}: {source}")]
    Io {
        /// The name as requested.
        name: String,
        /// The underlying error.
        source: io::Error,
    },
}

/// A read-only set of files to serve.
#[derive(Debug, Clone)]
pub enum FileSource {
    /// Files held in memory, keyed by their name without a leading `/`.
    Memory(Arc<HashMap<String, Bytes>>),
    /// Files under a directory (stored canonicalised).
    Dir(PathBuf),
}

impl FileSource {
    /// A source serving the given (name, contents) pairs. Names are stored without a
    /// leading `/`.
    pub fn memory(files: impl IntoIterator<Item = (String, Bytes)>) -> Self {
        let map = files
            .into_iter()
            .map(|(k, v)| (k.strip_prefix('/').map(str::to_owned).unwrap_or(k), v))
            .collect();
        FileSource::Memory(Arc::new(map))
    }

    /// A source serving the regular files under `root` (which must exist).
    pub fn dir(root: impl AsRef<Path>) -> io::Result<Self> {
        Ok(FileSource::Dir(root.as_ref().canonicalize()?))
    }

    /// Looks `name` up (as a client sent it) under the confinement rules of the module docs.
    /// For a directory source this does blocking file-system calls (canonicalize, open):
    /// call it from `spawn_blocking` in async code, as the server does.
    pub fn open(&self, name: &str) -> Result<OpenFile, SourceError> {
        let rel = check_name(name)?;
        match self {
            FileSource::Memory(map) => map
                .get(rel)
                .cloned()
                .map(OpenFile::Memory)
                .ok_or_else(|| SourceError::NotFound(name.to_owned())),
            FileSource::Dir(root) => open_beneath(root, rel, name),
        }
    }
}

/// Opens `rel` (already checked by [`check_name`]) under `root` (rule 3 of the module
/// docs); `name` is the name as requested, for errors.
fn open_beneath(root: &Path, rel: &str, name: &str) -> Result<OpenFile, SourceError> {
    use nix::errno::Errno;
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};

    let io_err = |source| SourceError::Io {
        name: name.to_owned(),
        source,
    };
    let outside = || SourceError::Refused {
        name: name.to_owned(),
        reason: "resolves outside the root",
    };
    // The root may be missing (not created yet): nothing under it exists then.
    let dir = match File::open(root) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(SourceError::NotFound(name.to_owned()));
        }
        Err(e) => return Err(io_err(e)),
    };
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOCTTY)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    // `EAGAIN`: a rename elsewhere raced the walk; the kernel asks to try again.
    let mut attempts = 0;
    let file = loop {
        attempts += 1;
        match openat2(&dir, rel, how) {
            Ok(fd) => break File::from(fd),
            Err(Errno::EAGAIN) if attempts < 4 => continue,
            Err(Errno::EXDEV | Errno::ELOOP) => return Err(outside()),
            Err(Errno::ENOENT | Errno::ENOTDIR) => {
                return Err(SourceError::NotFound(name.to_owned()));
            }
            Err(Errno::ENOSYS) => break open_checked(root, rel, name)?,
            Err(e) => return Err(io_err(io::Error::from(e))),
        }
    };
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(SourceError::NotFound(name.to_owned()));
    }
    Ok(OpenFile::File {
        file: Arc::new(file),
        len: meta.len(),
    })
}

/// The fallback of [`open_beneath`] for kernels without `openat2` (see the module docs).
fn open_checked(root: &Path, rel: &str, name: &str) -> Result<File, SourceError> {
    let io_err = |source| SourceError::Io {
        name: name.to_owned(),
        source,
    };
    let root = root.canonicalize().map_err(io_err)?;
    let real = match root.join(rel).canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(SourceError::NotFound(name.to_owned()));
        }
        Err(e) => return Err(io_err(e)),
    };
    if !real.starts_with(&root) {
        return Err(SourceError::Refused {
            name: name.to_owned(),
            reason: "resolves outside the root",
        });
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(&real)
        .map_err(io_err)
}

/// Applies the name rules (1 and 2 of the module docs); returns the relative name.
pub fn check_name(name: &str) -> Result<&str, SourceError> {
    let refuse = |reason| {
        Err(SourceError::Refused {
            name: name.to_owned(),
            reason,
        })
    };
    let rel = name.strip_prefix('/').unwrap_or(name);
    if rel.is_empty() {
        return refuse("empty name");
    }
    if rel.contains('\0') {
        return refuse("contains NUL");
    }
    if rel.contains('\\') {
        return refuse("contains a backslash");
    }
    if rel.starts_with('/') {
        return refuse("absolute path");
    }
    if rel
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return refuse("has an empty, '.' or '..' component");
    }
    // Belt and braces: the split above already covers what `components` would report.
    if !Path::new(rel)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return refuse("not a plain relative path");
    }
    Ok(rel)
}

/// An opened file: its length is fixed at open time.
#[derive(Debug, Clone)]
pub enum OpenFile {
    /// Contents in memory.
    Memory(Bytes),
    /// An open regular file.
    File {
        /// The file.
        file: Arc<File>,
        /// Its length when opened.
        len: u64,
    },
}

impl OpenFile {
    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            OpenFile::Memory(b) => b.len() as u64,
            OpenFile::File { len, .. } => *len,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads up to `len` bytes at `offset` (fewer at the end of the file; a file that
    /// shrank since it was opened reads short). Memory files are sliced without copying;
    /// disk files are read on tokio's blocking pool.
    pub async fn read_at(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        match self {
            OpenFile::Memory(_) => self.read_at_blocking(offset, len),
            OpenFile::File { .. } => {
                let this = self.clone();
                tokio::task::spawn_blocking(move || this.read_at_blocking(offset, len))
                    .await
                    .map_err(io::Error::other)?
            }
        }
    }

    /// [`OpenFile::read_at`] on the calling thread: for disk files it blocks in `pread(2)`,
    /// so call it from a thread that may block (as the TFTP transfer threads do), not from
    /// async code.
    pub fn read_at_blocking(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        let end = self.len().min(offset.saturating_add(len as u64));
        let want = end.saturating_sub(offset) as usize;
        match self {
            OpenFile::Memory(b) => {
                let start = (offset as usize).min(b.len());
                Ok(b.slice(start..start + want))
            }
            OpenFile::File { file, .. } => {
                let mut buf = vec![0u8; want];
                let mut done = 0;
                while done < want {
                    match file.read_at(&mut buf[done..], offset + done as u64) {
                        Ok(0) => break,
                        Ok(n) => done += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                buf.truncate(done);
                Ok(Bytes::from(buf))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        for ok in ["/undionly.kpxe", "ipxe.efi", "a/b.c", "a..b", "..x"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/",
            "//etc/passwd",
            "../etc/passwd",
            "/../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "..\\x",
            "a\\b",
            "a\0b",
            "..",
            ".",
        ] {
            assert!(
                matches!(check_name(bad), Err(SourceError::Refused { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(check_name("/x/y").ok(), Some("x/y"));
    }

    #[test]
    fn memory_source() {
        let src = FileSource::memory([("/a".to_string(), Bytes::from_static(b"hello"))]);
        assert_eq!(src.open("a").map(|f| f.len()).ok(), Some(5));
        assert_eq!(src.open("/a").map(|f| f.len()).ok(), Some(5));
        assert!(matches!(src.open("b"), Err(SourceError::NotFound(_))));
        assert!(matches!(src.open("../a"), Err(SourceError::Refused { .. })));
    }

    #[test]
    fn fallback_without_openat2_confines_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("mkdir");
        std::fs::write(root.join("f"), b"0123").expect("write");
        std::fs::write(dir.path().join("secret"), b"no").expect("write");
        std::os::unix::fs::symlink("../secret", root.join("out")).expect("symlink");
        std::os::unix::fs::symlink("f", root.join("in")).expect("symlink");
        let root = root.canonicalize().expect("canonical");
        assert!(open_checked(&root, "f", "f").is_ok());
        assert!(open_checked(&root, "in", "in").is_ok());
        assert!(matches!(
            open_checked(&root, "out", "out"),
            Err(SourceError::Refused { .. })
        ));
        assert!(matches!(
            open_checked(&root, "nope", "nope"),
            Err(SourceError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn dir_source_confines_and_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("mkdir");
        std::fs::create_dir(root.join("sub")).expect("mkdir");
        std::fs::write(root.join("f"), b"0123456789").expect("write");
        std::fs::write(dir.path().join("secret"), b"no").expect("write");
        std::os::unix::fs::symlink("/etc/passwd", root.join("out")).expect("symlink");
        std::os::unix::fs::symlink("../secret", root.join("out2")).expect("symlink");
        std::os::unix::fs::symlink("f", root.join("in")).expect("symlink");
        let src = FileSource::dir(&root).expect("dir");

        let f = src.open("/f").expect("open");
        assert_eq!(f.len(), 10);
        assert_eq!(&f.read_at(3, 4).await.expect("read")[..], b"3456");
        assert_eq!(&f.read_at(8, 4).await.expect("read")[..], b"89");
        assert!(f.read_at(10, 4).await.expect("read").is_empty());
        assert!(f.read_at(99, 4).await.expect("read").is_empty());
        assert_eq!(src.open("in").map(|f| f.len()).ok(), Some(10));
        for bad in ["out", "out2", "../secret", "sub/../f"] {
            assert!(
                matches!(src.open(bad), Err(SourceError::Refused { .. })),
                "{bad}"
            );
        }
        nix::unistd::mkfifo(&root.join("fifo"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        for missing in ["nope", "sub", "/etc/passwd", "fifo", "f/x"] {
            assert!(
                matches!(src.open(missing), Err(SourceError::NotFound(_))),
                "{missing}"
            );
        }
    }
}
