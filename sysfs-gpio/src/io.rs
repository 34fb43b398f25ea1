//! The two ways this crate makes its system calls, behind one type.
//!
//! [`IoPath::Native`] calls `open`/`pread`/`pwrite`/`poll`/`close` through `nix`;
//! [`IoPath::Ffi`] makes the very same libc calls through `ffi-core`'s dynamic FFI, declared
//! with MicroPython type codes. Everything above this module is shared, so a benchmark of the two
//! paths on a real workload measures exactly what the dynamic FFI costs.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Arc;

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;

use crate::error::Result;
use crate::ffi_libc::FfiLibc;

/// Which code makes the system calls on a line's files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IoPath {
    /// Direct system calls through `nix`.
    #[default]
    Native,
    /// The same libc calls made through `ffi-core` (`Library::this_process()`, functions declared
    /// with type codes), as a MicroPython `ffi` script would make them.
    Ffi,
}

impl IoPath {
    /// Both paths, for tests and benchmarks that compare them.
    pub const ALL: [IoPath; 2] = [IoPath::Native, IoPath::Ffi];
}

/// How a file is opened. Every open is `O_CLOEXEC`: a GPIO fd must not leak into children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
    ReadWrite,
}

impl Access {
    pub(crate) fn flags(self) -> OFlag {
        let mode = match self {
            Access::Read => OFlag::O_RDONLY,
            Access::Write => OFlag::O_WRONLY,
            Access::ReadWrite => OFlag::O_RDWR,
        };
        mode | OFlag::O_CLOEXEC
    }
}

/// An I/O path, ready to open files.
#[derive(Clone, Debug)]
pub(crate) enum Io {
    Native,
    Ffi(Arc<FfiLibc>),
}

impl Io {
    pub(crate) fn new(path: IoPath) -> Result<Io> {
        Ok(match path {
            IoPath::Native => Io::Native,
            IoPath::Ffi => Io::Ffi(FfiLibc::shared()?),
        })
    }

    pub(crate) fn path(&self) -> IoPath {
        match self {
            Io::Native => IoPath::Native,
            Io::Ffi(_) => IoPath::Ffi,
        }
    }

    pub(crate) fn open(&self, path: &Path, access: Access) -> io::Result<AttrFile> {
        match self {
            Io::Native => {
                let fd = nix::fcntl::open(path, access.flags(), Mode::empty())?;
                Ok(AttrFile::Native(fd))
            }
            Io::Ffi(libc) => {
                let fd = libc.open(path, access.flags().bits())?;
                Ok(AttrFile::Ffi {
                    fd,
                    libc: Arc::clone(libc),
                })
            }
        }
    }

    /// Opens, writes `data` at offset 0 and closes: one attribute write.
    pub(crate) fn write_file(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.open(path, Access::Write)?.write_at0(data)
    }

    /// Opens, reads from offset 0 and closes: one attribute read.
    pub(crate) fn read_file(&self, path: &Path) -> io::Result<String> {
        let file = self.open(path, Access::Read)?;
        let mut buf = [0u8; 64];
        let n = file.read_at0(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).trim_end().to_string())
    }
}

/// An open sysfs attribute, closed on drop through the path that opened it.
#[derive(Debug)]
pub(crate) enum AttrFile {
    Native(OwnedFd),
    Ffi { fd: RawFd, libc: Arc<FfiLibc> },
}

impl AttrFile {
    /// Reads from offset 0: sysfs attributes are regenerated on every read from the start, and
    /// `pread` needs no `lseek` between reads.
    pub(crate) fn read_at0(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            AttrFile::Native(fd) => Ok(nix::sys::uio::pread(fd, buf, 0)?),
            AttrFile::Ffi { fd, libc } => libc.pread(*fd, buf, 0),
        }
    }

    /// Writes all of `data` at offset 0. A sysfs store takes the whole buffer in one call, so a
    /// short write is an error, not something to resume.
    pub(crate) fn write_at0(&self, data: &[u8]) -> io::Result<()> {
        let n = match self {
            AttrFile::Native(fd) => nix::sys::uio::pwrite(fd, data, 0)?,
            AttrFile::Ffi { fd, libc } => libc.pwrite(*fd, data, 0)?,
        };
        if n == data.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {n} of {} bytes", data.len()),
            ))
        }
    }

    /// Waits for `POLLPRI|POLLERR` (what sysfs raises on an edge) up to `timeout_ms` (-1: for
    /// ever). Returns whether it fired. `EINTR` is returned to the caller, which knows the
    /// deadline.
    pub(crate) fn poll_pri(&self, timeout_ms: i32) -> io::Result<bool> {
        let events = PollFlags::POLLPRI | PollFlags::POLLERR;
        match self {
            AttrFile::Native(fd) => {
                let mut fds = [PollFd::new(fd.as_fd(), events)];
                let timeout = PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::NONE);
                let n = nix::poll::poll(&mut fds, timeout)?;
                Ok(n > 0 && fds[0].any().unwrap_or(false))
            }
            AttrFile::Ffi { fd, libc } => {
                let revents = libc.poll(*fd, events.bits(), timeout_ms)?;
                Ok(revents & events.bits() != 0)
            }
        }
    }
}

impl AsRawFd for AttrFile {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            AttrFile::Native(fd) => fd.as_raw_fd(),
            AttrFile::Ffi { fd, .. } => *fd,
        }
    }
}

impl AsFd for AttrFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            AttrFile::Native(fd) => fd.as_fd(),
            // SAFETY: `fd` was returned by a successful open() and is closed only in our Drop,
            // so it stays open for as long as the borrow of `self`.
            AttrFile::Ffi { fd, .. } => unsafe { BorrowedFd::borrow_raw(*fd) },
        }
    }
}

impl Drop for AttrFile {
    fn drop(&mut self) {
        if let AttrFile::Ffi { fd, libc } = self {
            // close() on a sysfs file cannot lose data; an error here has no one to go to.
            let _ = libc.close(*fd);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Both paths on ordinary files: the same libc calls, real errno, real flags.

    use super::*;

    fn temp_file(contents: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attr");
        std::fs::write(&path, contents).unwrap();
        (dir, path)
    }

    #[test]
    fn read_and_write_at_offset_0_on_both_paths() {
        for path_kind in IoPath::ALL {
            let io = Io::new(path_kind).unwrap();
            assert_eq!(io.path(), path_kind);
            let (_dir, path) = temp_file("0\n");
            let file = io.open(&path, Access::ReadWrite).unwrap();
            let mut buf = [0u8; 8];
            assert_eq!(file.read_at0(&mut buf).unwrap(), 2);
            assert_eq!(&buf[..2], b"0\n");
            file.write_at0(b"1").unwrap();
            // Offset 0 again, not after what was read or written.
            assert_eq!(file.read_at0(&mut buf).unwrap(), 2);
            assert_eq!(&buf[..2], b"1\n", "{path_kind:?}");
            drop(file);
            io.write_file(&path, b"in").unwrap();
            assert_eq!(io.read_file(&path).unwrap(), "in");
        }
    }

    #[test]
    fn errno_is_reported_on_both_paths() {
        for path_kind in IoPath::ALL {
            let io = Io::new(path_kind).unwrap();
            let err = io
                .open(Path::new("/nonexistent/gpio/value"), Access::Read)
                .unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{path_kind:?}");
            let (dir, _path) = temp_file("");
            let err = io.open(dir.path(), Access::Write).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EISDIR), "{path_kind:?}");
            // Writing through a read-only fd fails with EBADF, reading a write-only one too.
            let (_d, path) = temp_file("x");
            let ro = io.open(&path, Access::Read).unwrap();
            assert_eq!(
                ro.write_at0(b"1").unwrap_err().raw_os_error(),
                Some(libc::EBADF)
            );
            let wo = io.open(&path, Access::Write).unwrap();
            assert_eq!(
                wo.read_at0(&mut [0u8; 4]).unwrap_err().raw_os_error(),
                Some(libc::EBADF)
            );
        }
    }

    #[test]
    fn nul_in_path_is_refused_on_both_paths() {
        for path_kind in IoPath::ALL {
            let io = Io::new(path_kind).unwrap();
            let err = io.open(Path::new("/tmp/a\0b"), Access::Read).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{path_kind:?}");
        }
    }

    #[test]
    fn every_fd_is_close_on_exec_and_closed_on_drop() {
        for path_kind in IoPath::ALL {
            let io = Io::new(path_kind).unwrap();
            let (_dir, path) = temp_file("0");
            let file = io.open(&path, Access::ReadWrite).unwrap();
            let fd = file.as_raw_fd();
            assert_eq!(file.as_fd().as_raw_fd(), fd);
            // SAFETY: fcntl F_GETFD on an fd we hold open.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            assert!(
                flags & libc::FD_CLOEXEC != 0,
                "{path_kind:?}: no FD_CLOEXEC"
            );
            let link = format!("/proc/self/fd/{fd}");
            assert_eq!(std::fs::read_link(&link).unwrap(), path);
            drop(file);
            // Another test thread may reuse the number at once, but not for our file.
            assert_ne!(
                std::fs::read_link(&link).ok(),
                Some(path.clone()),
                "{path_kind:?}: fd {fd} still open after drop"
            );
        }
    }

    #[test]
    fn poll_times_out_on_a_file_without_priority_data() {
        for path_kind in IoPath::ALL {
            let io = Io::new(path_kind).unwrap();
            let (_dir, path) = temp_file("0");
            let file = io.open(&path, Access::Read).unwrap();
            assert!(!file.poll_pri(0).unwrap(), "{path_kind:?}");
            assert!(!file.poll_pri(20).unwrap(), "{path_kind:?}");
        }
    }

    #[test]
    fn write_errors_are_passed_on() {
        // /dev/full fails every write with ENOSPC: the error is passed on, not retried.
        for path_kind in IoPath::ALL {
            let io = Io::new(path_kind).unwrap();
            let file = io.open(Path::new("/dev/full"), Access::Write).unwrap();
            let err = file.write_at0(b"1").unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{path_kind:?}");
        }
    }
}
