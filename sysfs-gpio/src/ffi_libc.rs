//! libc's `open`/`pread`/`pwrite`/`poll`/`close`, called through `ffi-core`'s dynamic FFI.
//!
//! This is the FastGPIO example of MicroPython's ffi guide done correctly:
//! - `open` is variadic in C, so it is declared as such (`"si"` fixed, the `mode_t` passed as a
//!   promoted `I`), with `O_RDWR|O_CLOEXEC` (the guide used an undefined `O_RDWR` and leaked
//!   fds into children);
//! - `size_t` is `L`, `off_t` and `ssize_t` are `l` (the guide's `"ipl"` was wrong on 64 bits);
//! - reads and writes are `pread`/`pwrite` at offset 0 (the guide's `read` after a `write`
//!   reads from the wrong offset and returns 0);
//! - every return value is checked, with `errno` captured by ffi-core right after the call.
//!
//! The functions are declared once per process and shared: declaring prepares libffi's call
//! interface, which is the expensive part.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use ffi_core::{Arg, Function, Library, Value};

use crate::error::{Error, Result};

/// The five libc functions, declared once and shared by every line on the FFI path.
#[derive(Debug)]
pub(crate) struct FfiLibc {
    open: Function,
    pread: Function,
    pwrite: Function,
    poll: Function,
    close: Function,
}

impl FfiLibc {
    /// The process-wide instance, declared on first use.
    pub(crate) fn shared() -> Result<Arc<FfiLibc>> {
        static SHARED: OnceLock<std::result::Result<Arc<FfiLibc>, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| FfiLibc::declare().map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map_err(Error::Ffi)
    }

    fn declare() -> ffi_core::Result<FfiLibc> {
        let libc = Library::this_process()?;
        Ok(FfiLibc {
            // int open(const char *path, int flags, ...): the one variadic argument, mode_t,
            // is promoted to unsigned int.
            open: libc.func_variadic("i", "open", "si")?.prepare("I")?,
            // ssize_t pread(int fd, void *buf, size_t count, off_t offset)
            pread: libc.func("l", "pread", "ipLl")?,
            // ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
            pwrite: libc.func("l", "pwrite", "iPLl")?,
            // int poll(struct pollfd *fds, nfds_t nfds, int timeout)
            poll: libc.func("i", "poll", "pLi")?,
            // int close(int fd)
            close: libc.func("i", "close", "i")?,
        })
    }

    pub(crate) fn open(&self, path: &Path, flags: i32) -> io::Result<RawFd> {
        let path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))?;
        // SAFETY: `open` was declared as `int open(const char *, int, ...)` with the mode
        // typed `I` (mode_t, promoted); the path is a NUL-terminated CString alive for the call.
        let ret = unsafe {
            checked(
                &self.open,
                &[path.as_c_str().into(), flags.into(), 0u32.into()],
            )
        }?;
        RawFd::try_from(ret).map_err(|_| bad_return(&self.open, ret))
    }

    pub(crate) fn pread(&self, fd: RawFd, buf: &mut [u8], offset: i64) -> io::Result<usize> {
        let len = buf.len();
        // SAFETY: pread is `ssize_t pread(int, void *, size_t, off_t)`; it writes at most
        // `len` bytes, the length of the borrowed `buf`.
        let ret = unsafe {
            checked(
                &self.pread,
                &[fd.into(), buf.into(), len.into(), offset.into()],
            )
        }?;
        usize::try_from(ret).map_err(|_| bad_return(&self.pread, ret))
    }

    pub(crate) fn pwrite(&self, fd: RawFd, buf: &[u8], offset: i64) -> io::Result<usize> {
        // SAFETY: pwrite is `ssize_t pwrite(int, const void *, size_t, off_t)`; it reads at
        // most `buf.len()` bytes, the length of the borrowed `buf`.
        let ret = unsafe {
            checked(
                &self.pwrite,
                &[fd.into(), buf.into(), buf.len().into(), offset.into()],
            )
        }?;
        usize::try_from(ret).map_err(|_| bad_return(&self.pwrite, ret))
    }

    /// Polls one fd; returns its `revents` (0 on timeout).
    pub(crate) fn poll(&self, fd: RawFd, events: i16, timeout_ms: i32) -> io::Result<i16> {
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: poll is `int poll(struct pollfd *, nfds_t, int)`; the pointer is to one
        // `pollfd` on this frame, valid for the whole call, and we pass nfds = 1.
        let ret = unsafe {
            checked(
                &self.poll,
                &[
                    (&mut pfd as *mut libc::pollfd).into(),
                    1u64.into(),
                    timeout_ms.into(),
                ],
            )
        }?;
        Ok(if ret == 0 { 0 } else { pfd.revents })
    }

    pub(crate) fn close(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: close is `int close(int)` and takes any integer; the fd is one this module
        // opened and its caller owns.
        unsafe { checked(&self.close, &[fd.into()]) }.map(|_| ())
    }
}

/// Calls `f`; a negative return is an error carrying the errno captured right after the call.
///
/// # Safety
/// As [`Function::call`]: `f`'s declaration is the C function's real signature and `args`
/// satisfy its contract.
unsafe fn checked(f: &Function, args: &[Arg<'_>]) -> io::Result<i64> {
    // SAFETY: forwarded from the caller.
    let (value, errno) = unsafe { f.call_with_errno(args) }
        .map_err(|e| io::Error::other(format!("ffi call of {}: {e}", f.name())))?;
    let ret = int_of(f, &value)?;
    if ret < 0 {
        Err(io::Error::from_raw_os_error(errno))
    } else {
        Ok(ret)
    }
}

fn int_of(f: &Function, value: &Value) -> io::Result<i64> {
    value
        .as_i64()
        .ok_or_else(|| io::Error::other(format!("{} returned {value}, not an integer", f.name())))
}

fn bad_return(f: &Function, ret: i64) -> io::Error {
    io::Error::other(format!("{} returned {ret}, out of range", f.name()))
}
