//! libc's `open`/`pread`/`pwrite`/`poll`/`close`, called through `ffi-core`.
//!
//! Placeholder until ffi-core's calling API lands: [`FfiLibc::shared`] reports that the path is
//! not available yet.

use std::io;
use std::os::fd::RawFd;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The five libc functions, declared once and shared by every line on the FFI path.
#[derive(Debug)]
pub(crate) struct FfiLibc {
    _private: (),
}

fn unavailable() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "ffi-core path not built")
}

impl FfiLibc {
    pub(crate) fn shared() -> Result<Arc<FfiLibc>> {
        Err(Error::Ffi(
            "ffi-core does not offer its calling API yet".into(),
        ))
    }

    pub(crate) fn open(&self, _path: &Path, _flags: i32) -> io::Result<RawFd> {
        Err(unavailable())
    }

    pub(crate) fn pread(&self, _fd: RawFd, _buf: &mut [u8], _offset: i64) -> io::Result<usize> {
        Err(unavailable())
    }

    pub(crate) fn pwrite(&self, _fd: RawFd, _buf: &[u8], _offset: i64) -> io::Result<usize> {
        Err(unavailable())
    }

    pub(crate) fn poll(&self, _fd: RawFd, _events: i16, _timeout_ms: i32) -> io::Result<i16> {
        Err(unavailable())
    }

    pub(crate) fn close(&self, _fd: RawFd) -> io::Result<()> {
        Err(unavailable())
    }
}
