//! The only `unsafe` in the agent: three system interfaces that no safe crate wraps.
//!
//! - `kexec_file_load(2)`: neither `nix` nor `rustix` has a wrapper, so it is called
//!   through `libc::syscall` with the kernel and initrd file descriptors and the command
//!   line (a NUL-terminated C string that lives across the call).
//! - `ioctl(BLKRRPART)`: asks the kernel to re-read a disk's partition table after an image
//!   was written, as Tinkerbell's image2disk does; `nix` only offers macros that generate
//!   `unsafe fn`s for ioctls.
//! - `pre_exec` with `chroot(2)` + `chdir("/")` for cexec: `Command::pre_exec` is `unsafe`
//!   because the closure runs between fork and exec; the closure only makes two
//!   async-signal-safe system calls and allocates nothing.
//!
//! Everything here takes and returns safe types; callers need no `unsafe`.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// `KEXEC_FILE_NO_INITRAMFS` from `<linux/kexec.h>`.
const KEXEC_FILE_NO_INITRAMFS: libc::c_ulong = 0x4;

/// Loads `kernel` (and `initrd`) for a later `reboot(LINUX_REBOOT_CMD_KEXEC)`.
pub fn kexec_file_load(kernel: &File, initrd: Option<&File>, cmdline: &str) -> std::io::Result<()> {
    let cmd = CString::new(cmdline).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "NUL in kernel command line",
        )
    })?;
    let (initrd_fd, flags) = match initrd {
        Some(f) => (f.as_raw_fd(), 0),
        None => (-1, KEXEC_FILE_NO_INITRAMFS),
    };
    // SAFETY: the file descriptors are open for the duration of the call (borrowed Files),
    // `cmd` is a valid NUL-terminated buffer whose length including the NUL is passed, and
    // the kernel only reads from it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_kexec_file_load,
            kernel.as_raw_fd() as libc::c_long,
            initrd_fd as libc::c_long,
            cmd.as_bytes_with_nul().len() as libc::c_ulong,
            cmd.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `BLKRRPART` from `<linux/fs.h>`: `_IO(0x12, 95)`.
const BLKRRPART: libc::c_ulong = 0x125f;

/// Asks the kernel to re-read the partition table of the block device `disk` is open on.
pub fn reread_partitions(disk: &File) -> std::io::Result<()> {
    // SAFETY: BLKRRPART takes no argument; the descriptor is valid while `disk` is borrowed.
    let rc = unsafe { libc::ioctl(disk.as_raw_fd(), BLKRRPART as _, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Makes `cmd` run with `root` as its root directory and `/` as its working directory.
pub fn chroot_command(cmd: &mut std::process::Command, root: &Path) -> std::io::Result<()> {
    let root = CString::new(root.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in chroot path"))?;
    // SAFETY: the closure runs in the forked child before exec; it only calls chroot(2) and
    // chdir(2) (async-signal-safe) on buffers allocated before the fork and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::chroot(root.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}
