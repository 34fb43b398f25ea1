//! The cache directory and its lock.
//!
//! Layout (see tests/README.md):
//! ```text
//! $HWKIT_TESTBED_CACHE (default /var/cache/hwkit-testbed)/
//!   lock                              flock: exclusive while preparing, shared while a VM runs
//!   choice.json                       the kernel apt offers, remembered while apt's lists are unchanged
//!   kernels/<abi>_<version>/          one prepared kernel, e.g. 6.1.0-56-amd64_6.1.192-2
//!     kernel.json                     what is here: ABI, version, boot file, module load order
//!     vmlinux                         uncompressed ELF kernel (PVH boot), or vmlinuz as fallback
//!     modules/*.ko                    configfs.ko, irq_sim.ko, gpio-sim.ko (in kernel.json order)
//!   .work-*/                          scratch of a preparation in progress (removed after)
//! ```

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::{io_err, Result};

/// Environment variable that overrides the cache directory.
pub const CACHE_ENV: &str = "HWKIT_TESTBED_CACHE";
/// Cache directory used when [`CACHE_ENV`] is not set.
pub const DEFAULT_CACHE: &str = "/var/cache/hwkit-testbed";

/// The cache directory: `$HWKIT_TESTBED_CACHE`, or `/var/cache/hwkit-testbed`.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os(CACHE_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_CACHE),
    }
}

/// An `flock` on `<cache>/lock`, released when dropped.
///
/// Preparation holds it exclusively, so concurrent runs never build into the same
/// directory; a running VM holds it shared, so `testbed clean` or a rebuild after a kernel
/// move waits for it instead of deleting files under it.
pub struct CacheLock {
    file: File,
    path: PathBuf,
}

impl CacheLock {
    /// Takes the lock shared: enough to use a prepared kernel.
    pub fn shared(cache: &Path) -> Result<CacheLock> {
        let lock = Self::open(cache)?;
        if !lock.flock(libc::LOCK_SH | libc::LOCK_NB)? {
            eprintln!(
                "testbed: waiting for another run to finish preparing {}",
                cache.display()
            );
            lock.flock(libc::LOCK_SH)?;
        }
        Ok(lock)
    }

    /// Takes the lock exclusively, waiting (with a note on stderr) if another run holds it.
    pub fn exclusive(cache: &Path) -> Result<CacheLock> {
        let lock = Self::open(cache)?;
        lock.upgrade()?;
        Ok(lock)
    }

    /// Makes this lock exclusive. A shared lock is dropped first, so two runs upgrading at
    /// once cannot deadlock; callers re-check what they saw under the shared lock.
    pub fn upgrade(&self) -> Result<()> {
        if !self.flock(libc::LOCK_EX | libc::LOCK_NB)? {
            self.flock(libc::LOCK_UN)?;
            eprintln!(
                "testbed: waiting for other runs to release {} (running VMs hold it)",
                self.path.display()
            );
            self.flock(libc::LOCK_EX)?;
        }
        Ok(())
    }

    fn open(cache: &Path) -> Result<CacheLock> {
        fs::create_dir_all(cache).map_err(io_err("cannot create cache directory", cache))?;
        let path = cache.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("cannot open", &path))?;
        Ok(CacheLock { file, path })
    }

    /// Turns an exclusive lock into a shared one, letting other runs start their VMs.
    pub fn downgrade(&self) -> Result<()> {
        self.flock(libc::LOCK_SH)?;
        Ok(())
    }

    fn flock(&self, op: libc::c_int) -> Result<bool> {
        loop {
            // SAFETY: flock on a file descriptor this struct owns; no memory is involved.
            let rc = unsafe { libc::flock(self.file.as_raw_fd(), op) };
            if rc == 0 {
                return Ok(true);
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EWOULDBLOCK) if op & libc::LOCK_NB != 0 => return Ok(false),
                _ => return Err(io_err("cannot lock", &self.path)(e)),
            }
        }
    }
}

/// Total size in bytes of the files under `dir` (symbolic links not followed).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// Removes everything in the cache (waiting for running VMs to finish).
pub fn clean(cache: &Path) -> Result<u64> {
    if !cache.exists() {
        return Ok(0);
    }
    let _lock = CacheLock::exclusive(cache)?;
    let size = dir_size(cache);
    for entry in fs::read_dir(cache)
        .map_err(io_err("cannot read", cache))?
        .flatten()
    {
        let p = entry.path();
        if p.file_name().is_some_and(|n| n == "lock") {
            continue;
        }
        let r = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            fs::remove_dir_all(&p)
        } else {
            fs::remove_file(&p)
        };
        r.map_err(io_err("cannot remove", &p))?;
    }
    Ok(size)
}
