//! GPIO character-device uAPI v1 (`GPIOHANDLE_*`, `GPIOEVENT_*`), spoken through the
//! `gpio-cdev` crate. The one v1 ioctl `gpio-cdev` lacks, `GPIOHANDLE_SET_CONFIG_IOCTL`
//! (kernel 5.5+), and the decoding of event records read from an event fd live here too.

use std::os::fd::{AsRawFd, BorrowedFd};

pub use gpio_cdev::{
    Chip as CdevChip, EventRequestFlags, LineDirection, LineEventHandle, LineRequestFlags,
    MultiLineHandle,
};

/// `GPIOHANDLES_MAX`.
pub const HANDLES_MAX: usize = 64;

/// `GPIOHANDLE_REQUEST_*` bits beyond the five `gpio-cdev` names; passed through with
/// `LineRequestFlags::from_bits_retain` (kernel 5.5+).
pub mod request_flag {
    /// `GPIOHANDLE_REQUEST_BIAS_PULL_UP`.
    pub const BIAS_PULL_UP: u32 = 1 << 5;
    /// `GPIOHANDLE_REQUEST_BIAS_PULL_DOWN`.
    pub const BIAS_PULL_DOWN: u32 = 1 << 6;
}

/// `GPIOEVENT_EVENT_RISING_EDGE`.
pub const EVENT_RISING_EDGE: u32 = 0x01;
/// `GPIOEVENT_EVENT_FALLING_EDGE`.
pub const EVENT_FALLING_EDGE: u32 = 0x02;

/// `struct gpiohandle_config`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct HandleConfig {
    pub flags: u32,
    pub default_values: [u8; HANDLES_MAX],
    pub padding: [u32; 4],
}

/// `struct gpioevent_data`: what one `read(2)` of an event fd returns.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EventData {
    pub timestamp: u64,
    pub id: u32,
}

impl EventData {
    /// Size of one record on this platform (16 on 64-bit, 12 on i386).
    pub const SIZE: usize = std::mem::size_of::<EventData>();

    /// Decodes one record from bytes read from an event fd.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() < Self::SIZE {
            return None;
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        Some(EventData {
            timestamp: u64::from_ne_bytes(ts),
            id: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
        })
    }
}

/// `struct gpioline_info`: only used to ask whether the kernel speaks v1 at all.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LineInfo {
    pub line_offset: u32,
    pub flags: u32,
    pub name: [u8; 32],
    pub consumer: [u8; 32],
}

mod raw {
    nix::ioctl_readwrite!(set_config, 0xB4, 0x0A, super::HandleConfig);
    nix::ioctl_readwrite!(line_info, 0xB4, 0x02, super::LineInfo);
}

/// Whether the kernel behind `chip` (a chip fd with `num_lines` lines) speaks uAPI v1.
///
/// Kernels built without `CONFIG_GPIO_CDEV_V1` (Debian's 7.x among them) answer every v1
/// ioctl with `EINVAL`, the default case of the character device's ioctl switch, not
/// `ENOTTY`; so the probe asks for line 0's info, which a v1 kernel always gives. A chip
/// without lines cannot be probed and counts as speaking v1 (a request will tell).
pub fn available(chip: BorrowedFd<'_>, num_lines: u32) -> bool {
    if num_lines == 0 {
        return true;
    }
    let mut info = LineInfo {
        line_offset: 0,
        flags: 0,
        name: [0; 32],
        consumer: [0; 32],
    };
    // SAFETY: `chip` is open for the call; `info` is a live `repr(C)` gpioline_info whose size
    // matches the one encoded in the ioctl number, and the kernel writes only within it.
    let r = unsafe { raw::line_info(chip.as_raw_fd(), &mut info) };
    !matches!(
        r,
        Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOTTY)
    )
}

/// `GPIOHANDLE_SET_CONFIG_IOCTL` on a v1 line-handle fd: changes flags and output values of
/// every line of the handle at once.
pub fn set_config(handle: BorrowedFd<'_>, config: &mut HandleConfig) -> nix::Result<()> {
    // SAFETY: `handle` is open for the call; `config` is a live, fully initialised `repr(C)`
    // gpiohandle_config whose size matches the one encoded in the ioctl number.
    unsafe { raw::set_config(handle.as_raw_fd(), config) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn sizes_match_the_kernel_abi() {
        assert_eq!(size_of::<HandleConfig>(), 84);
        assert_eq!(size_of::<LineInfo>(), 72);
        assert_eq!(
            nix::request_code_readwrite!(0xB4, 0x02, size_of::<LineInfo>()) as u64,
            0xC048_B402
        );
        // u64 is 8-aligned on 64-bit targets and on 32-bit ARM (EABI), so the record is 16
        // bytes there; only i386 packs it into 12.
        #[cfg(not(target_arch = "x86"))]
        assert_eq!(EventData::SIZE, 16);
        assert_eq!(
            nix::request_code_readwrite!(0xB4, 0x0A, size_of::<HandleConfig>()) as u64,
            0xC054_B40A
        );
    }

    #[test]
    fn event_decodes() {
        let mut b = vec![0u8; EventData::SIZE];
        b[..8].copy_from_slice(&42u64.to_ne_bytes());
        b[8..12].copy_from_slice(&EVENT_FALLING_EDGE.to_ne_bytes());
        let e = EventData::from_bytes(&b).unwrap();
        assert_eq!((e.timestamp, e.id), (42, EVENT_FALLING_EDGE));
    }
}
