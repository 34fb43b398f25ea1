//! The GPIO block mapped into this process: `/dev/gpiomem` (Raspberry Pi OS kernels: the GPIO
//! block only, no root needed) or `/dev/mem` at the block's physical address (upstream kernels:
//! root, and `iomem=relaxed` where the kernel has `CONFIG_IO_STRICT_DEVMEM`).
//!
//! The only `unsafe` of the register backend is here: the mapping and the volatile 32-bit
//! accesses inside it, each checked against the mapped length.

use std::fs::{File, OpenOptions};
use std::io;
use std::num::NonZeroUsize;
use std::os::unix::fs::OpenOptionsExt;
use std::ptr::NonNull;

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

use super::devtree::Block;
use crate::error::{Error, Result};

/// A shared, read-write mapping of a GPIO block; unmapped when dropped.
#[derive(Debug)]
pub struct Mapping {
    base: NonNull<u32>,
    len: usize,
    /// What was mapped, for messages: `/dev/gpiomem` or `/dev/mem at 0x3f200000`.
    pub source: String,
}

// SAFETY: the mapping is device memory shared with the kernel; every access is a volatile
// 32-bit read or write, which any thread may make at any time (the hardware's SET/CLR
// registers are what make concurrent writers safe, not Rust's aliasing rules).
unsafe impl Send for Mapping {}
// SAFETY: as for Send: `&Mapping` only allows volatile accesses.
unsafe impl Sync for Mapping {}

fn open_rw_sync(path: &str) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_SYNC | libc::O_CLOEXEC)
        .open(path)
}

fn register_error(what: String) -> Error {
    Error::Register(what)
}

impl Mapping {
    /// Maps `block`: its `/dev/gpiomem` node where the kernel has one, else `/dev/mem`.
    pub fn open(block: &Block) -> Result<Mapping> {
        // mmap rounds the length up to whole pages; the blocks start on a page boundary at
        // every page size Pi kernels use (4 KiB to 64 KiB), as /dev/mem's offset must.
        let len = block.soc.map_len();
        let gpiomem = block.soc.gpiomem();
        match open_rw_sync(gpiomem) {
            Ok(f) => return Self::map(&f, 0, len, gpiomem.to_owned()),
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(register_error(format!(
                    "mapping the GPIO registers: opening {gpiomem}: {e} (add the user to group \
                     gpio, or run as root)"
                )))
            }
            Err(_) => {}
        }
        let phys = block.phys.ok_or_else(|| {
            register_error(format!(
                "mapping the {} GPIO registers: {gpiomem} does not exist, and the block's \
                 address cannot be read from the device tree ({}): use a kernel with {gpiomem} \
                 (Raspberry Pi OS)",
                block.soc,
                block.node.display()
            ))
        })?;
        let f = open_rw_sync("/dev/mem").map_err(|e| {
            register_error(format!(
                "mapping the GPIO registers: {gpiomem} does not exist and /dev/mem cannot be \
                 opened ({e}): run as root (CAP_SYS_RAWIO), or use a kernel with {gpiomem}"
            ))
        })?;
        let source = format!("/dev/mem at {phys:#x}");
        // off_t is 32 bits in 32-bit ARM processes: a block above 2 GiB (BCM2711's) cannot be
        // named through /dev/mem from one.
        let offset = libc::off_t::try_from(phys).map_err(|_| {
            register_error(format!(
                "the GPIO block's address {phys:#x} is beyond what /dev/mem can map from this \
                 process (off_t is {} bits): use a kernel with {gpiomem} (Raspberry Pi OS)",
                8 * std::mem::size_of::<libc::off_t>()
            ))
        })?;
        Self::map(&f, offset, len, source).map_err(|e| match e {
            Error::Io { source: s, .. } if s.raw_os_error() == Some(libc::EPERM) => {
                register_error(format!(
                    "the kernel refuses /dev/mem access to the GPIO registers at {phys:#x}, \
                     which its driver has claimed (CONFIG_IO_STRICT_DEVMEM): boot with \
                     iomem=relaxed on the kernel command line, or use a kernel with {gpiomem} \
                     (Raspberry Pi OS)"
                ))
            }
            e => e,
        })
    }

    fn map(file: &File, offset: libc::off_t, len: usize, source: String) -> Result<Mapping> {
        let length =
            NonZeroUsize::new(len).ok_or_else(|| register_error("an empty mapping".into()))?;
        // SAFETY: a new shared mapping chosen by the kernel (no address hint), of a device
        // file whose pages are registers: no Rust object aliases it; it is unmapped in Drop.
        let base = unsafe {
            mmap(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                file,
                offset,
            )
        }
        .map_err(|e| Error::Io {
            action: format!("mapping {len} bytes of {source}"),
            source: io::Error::from(e),
        })?;
        Ok(Mapping {
            base: base.cast(),
            len,
            source,
        })
    }

    /// The word at byte `offset`; `None` outside the mapping or unaligned.
    fn word(&self, offset: usize) -> Option<NonNull<u32>> {
        (offset.is_multiple_of(4) && offset + 4 <= self.len)
            // SAFETY: `offset + 4 <= len`, so the word lies inside the mapping.
            .then(|| unsafe { self.base.byte_add(offset) })
    }

    /// Reads the register at byte `offset`.
    pub fn read(&self, offset: usize) -> Result<u32> {
        let p = self.word(offset).ok_or_else(|| outside(offset, self.len))?;
        // SAFETY: an aligned word inside a live mapping of device registers; a volatile read
        // has no side effect on these (level and output registers).
        Ok(unsafe { p.as_ptr().read_volatile() })
    }

    /// Writes `value` to the register at byte `offset`.
    pub fn write(&self, offset: usize, value: u32) -> Result<()> {
        let p = self.word(offset).ok_or_else(|| outside(offset, self.len))?;
        // SAFETY: an aligned word inside a live, writable mapping; the backend only writes
        // the SET and CLR registers, whose writes affect just the lines whose bits are 1.
        unsafe { p.as_ptr().write_volatile(value) };
        Ok(())
    }
}

fn outside(offset: usize, len: usize) -> Error {
    register_error(format!(
        "register offset {offset:#x} is outside the {len}-byte mapping (a bug in hwkit's \
         register layout)"
    ))
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, of `len` bytes, unmapped once; no reference into
        // it outlives `self` (accesses copy values out).
        let _ = unsafe { munmap(self.base.cast(), self.len) };
    }
}
