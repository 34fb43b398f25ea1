//! The cache directory and its lock.
//!
//! Layout (see tests/README.md):
//! ```text
//! $HWKIT_TESTBED_CACHE (default /var/cache/hwkit-testbed)/
//!   lock                              flock: shared while a run uses a kernel; exclusive to prune, clean
//!   prepare.lock                      flock: exclusive while a kernel is prepared
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

/// Name of the lock a run holds shared while it uses a prepared kernel; pruning old kernels
/// and `testbed clean` need it exclusively.
pub const USE_LOCK: &str = "lock";
/// Name of the lock held exclusively while a kernel is prepared (never while a VM runs, so
/// waiting for it never means waiting for someone's tests).
pub const PREPARE_LOCK: &str = "prepare.lock";

/// An `flock` on a file in the cache directory, released when dropped.
pub struct CacheLock {
    file: File,
    path: PathBuf,
}

impl CacheLock {
    /// Opens `<cache>/<name>` (creating the directory and file) without locking it.
    pub fn open(cache: &Path, name: &str) -> Result<CacheLock> {
        fs::create_dir_all(cache).map_err(io_err("cannot create cache directory", cache))?;
        let path = cache.join(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            // flock works on a read-only descriptor: users other than root can share a
            // cache root prepared.
            .or_else(|_| File::open(&path))
            .map_err(io_err("cannot open", &path))?;
        Ok(CacheLock { file, path })
    }

    /// Takes `<cache>/<name>` shared, saying on stderr why if it has to wait.
    pub fn shared(cache: &Path, name: &str, why_waiting: &str) -> Result<CacheLock> {
        let lock = Self::open(cache, name)?;
        lock.wait(libc::LOCK_SH, why_waiting)?;
        Ok(lock)
    }

    /// Takes `<cache>/<name>` exclusively, saying on stderr why if it has to wait.
    pub fn exclusive(cache: &Path, name: &str, why_waiting: &str) -> Result<CacheLock> {
        let lock = Self::open(cache, name)?;
        lock.wait(libc::LOCK_EX, why_waiting)?;
        Ok(lock)
    }

    /// Locks with `op` (`LOCK_SH` or `LOCK_EX`), blocking after a note if it is taken.
    pub fn wait(&self, op: libc::c_int, why_waiting: &str) -> Result<()> {
        if !self.flock(op | libc::LOCK_NB)? {
            eprintln!("testbed: waiting: {why_waiting} ({})", self.path.display());
            self.flock(op)?;
        }
        Ok(())
    }

    /// Makes the lock exclusive if that is possible at once. Beware: Linux drops a held
    /// shared lock before trying, so after `false` the caller holds nothing.
    pub fn try_exclusive(&self) -> Result<bool> {
        self.flock(libc::LOCK_EX | libc::LOCK_NB)
    }

    /// Turns the lock into a shared one (blocking while someone holds it exclusively).
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
    let _prep = CacheLock::exclusive(cache, PREPARE_LOCK, "another run is preparing a kernel")?;
    let _lock = CacheLock::exclusive(cache, USE_LOCK, "running VMs use the cache")?;
    let size = dir_size(cache);
    for entry in fs::read_dir(cache)
        .map_err(io_err("cannot read", cache))?
        .flatten()
    {
        let p = entry.path();
        if p.file_name()
            .is_some_and(|n| n == USE_LOCK || n == PREPARE_LOCK)
        {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_users_block_pruning_but_not_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let a = CacheLock::shared(dir.path(), USE_LOCK, "test").unwrap();
        let b = CacheLock::shared(dir.path(), USE_LOCK, "test").unwrap();
        assert!(!b.try_exclusive().unwrap(), "a still uses the cache");
        b.downgrade().unwrap();
        drop(a);
        assert!(b.try_exclusive().unwrap(), "b is alone now");
        let c = CacheLock::open(dir.path(), USE_LOCK).unwrap();
        assert!(!c.try_exclusive().unwrap(), "b holds it exclusively");
        b.downgrade().unwrap();
        // The preparation lock is independent of the use lock.
        let p = CacheLock::exclusive(dir.path(), PREPARE_LOCK, "test").unwrap();
        assert!(p.try_exclusive().unwrap());
    }

    #[test]
    fn clean_keeps_the_locks_and_removes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("kernels/k")).unwrap();
        fs::write(dir.path().join("kernels/k/vmlinux"), b"12345").unwrap();
        fs::write(dir.path().join("choice.json"), b"{}").unwrap();
        assert_eq!(clean(dir.path()).unwrap(), 7);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [USE_LOCK, PREPARE_LOCK]);
        assert_eq!(clean(&dir.path().join("missing")).unwrap(), 0);
    }
}
