//! The structures and ioctls of GPIO character-device uAPI v2 (`include/uapi/linux/gpio.h`).
//!
//! This is the only module with ioctl `unsafe`. Each wrapper takes a borrowed fd and an
//! exclusive reference to a fully initialised `#[repr(C)]` structure whose layout matches the
//! kernel's (asserted by the tests below), so the kernel reads and writes only memory we own.

use std::os::fd::{AsRawFd, BorrowedFd};

/// `GPIO_MAX_NAME_SIZE`: the size of name, label and consumer buffers, NUL included.
pub const MAX_NAME_SIZE: usize = 32;
/// `GPIO_V2_LINES_MAX`: the most lines one request may hold.
pub const LINES_MAX: usize = 64;
/// `GPIO_V2_LINE_NUM_ATTRS_MAX`: the most attributes one line config may carry.
pub const NUM_ATTRS_MAX: usize = 10;

/// `GPIO_V2_LINE_FLAG_*`.
pub mod flag {
    /// The line is in use (by the kernel or another request).
    pub const USED: u64 = 1 << 0;
    /// Active-low: the logical value is the inverse of the physical level.
    pub const ACTIVE_LOW: u64 = 1 << 1;
    /// Input.
    pub const INPUT: u64 = 1 << 2;
    /// Output.
    pub const OUTPUT: u64 = 1 << 3;
    /// Rising-edge detection.
    pub const EDGE_RISING: u64 = 1 << 4;
    /// Falling-edge detection.
    pub const EDGE_FALLING: u64 = 1 << 5;
    /// Open-drain drive.
    pub const OPEN_DRAIN: u64 = 1 << 6;
    /// Open-source drive.
    pub const OPEN_SOURCE: u64 = 1 << 7;
    /// Pull-up bias.
    pub const BIAS_PULL_UP: u64 = 1 << 8;
    /// Pull-down bias.
    pub const BIAS_PULL_DOWN: u64 = 1 << 9;
    /// Bias disabled.
    pub const BIAS_DISABLED: u64 = 1 << 10;
    /// Edge timestamps from `CLOCK_REALTIME`.
    pub const EVENT_CLOCK_REALTIME: u64 = 1 << 11;
    /// Edge timestamps from the hardware timestamp engine.
    pub const EVENT_CLOCK_HTE: u64 = 1 << 12;
}

/// `GPIO_V2_LINE_ATTR_ID_FLAGS`.
pub const ATTR_ID_FLAGS: u32 = 1;
/// `GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES`.
pub const ATTR_ID_OUTPUT_VALUES: u32 = 2;
/// `GPIO_V2_LINE_ATTR_ID_DEBOUNCE`.
pub const ATTR_ID_DEBOUNCE: u32 = 3;

/// `GPIO_V2_LINE_CHANGED_REQUESTED`.
pub const CHANGED_REQUESTED: u32 = 1;
/// `GPIO_V2_LINE_CHANGED_RELEASED`.
pub const CHANGED_RELEASED: u32 = 2;
/// `GPIO_V2_LINE_CHANGED_CONFIG`.
pub const CHANGED_CONFIG: u32 = 3;

/// `GPIO_V2_LINE_EVENT_RISING_EDGE`.
pub const EVENT_RISING_EDGE: u32 = 1;
/// `GPIO_V2_LINE_EVENT_FALLING_EDGE`.
pub const EVENT_FALLING_EDGE: u32 = 2;

/// `struct gpiochip_info` (shared by v1 and v2).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ChipInfo {
    pub name: [u8; MAX_NAME_SIZE],
    pub label: [u8; MAX_NAME_SIZE],
    pub lines: u32,
}

/// `struct gpio_v2_line_values`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LineValues {
    pub bits: u64,
    pub mask: u64,
}

/// `struct gpio_v2_line_attribute`. The kernel's union of `flags`, `values` (both u64) and
/// `debounce_period_us` (u32, at the union's first bytes) is held as its raw u64; the accessors
/// below read and write the u32 member at the right bytes on either endianness.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LineAttribute {
    pub id: u32,
    pub padding: u32,
    pub value: u64,
}

impl LineAttribute {
    /// The union read as `debounce_period_us`.
    pub fn debounce_period_us(&self) -> u32 {
        let b = self.value.to_ne_bytes();
        u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
    }

    /// An attribute holding `debounce_period_us`.
    pub fn debounce(us: u32) -> Self {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&us.to_ne_bytes());
        LineAttribute {
            id: ATTR_ID_DEBOUNCE,
            padding: 0,
            value: u64::from_ne_bytes(b),
        }
    }
}

/// `struct gpio_v2_line_config_attribute`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LineConfigAttribute {
    pub attr: LineAttribute,
    pub mask: u64,
}

/// `struct gpio_v2_line_config`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LineConfig {
    pub flags: u64,
    pub num_attrs: u32,
    pub padding: [u32; 5],
    pub attrs: [LineConfigAttribute; NUM_ATTRS_MAX],
}

/// `struct gpio_v2_line_request`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LineRequest {
    pub offsets: [u32; LINES_MAX],
    pub consumer: [u8; MAX_NAME_SIZE],
    pub config: LineConfig,
    pub num_lines: u32,
    pub event_buffer_size: u32,
    pub padding: [u32; 5],
    pub fd: i32,
}

impl Default for LineRequest {
    fn default() -> Self {
        LineRequest {
            offsets: [0; LINES_MAX],
            consumer: [0; MAX_NAME_SIZE],
            config: LineConfig::default(),
            num_lines: 0,
            event_buffer_size: 0,
            padding: [0; 5],
            fd: -1,
        }
    }
}

/// `struct gpio_v2_line_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LineInfo {
    pub name: [u8; MAX_NAME_SIZE],
    pub consumer: [u8; MAX_NAME_SIZE],
    pub offset: u32,
    pub num_attrs: u32,
    pub flags: u64,
    pub attrs: [LineAttribute; NUM_ATTRS_MAX],
    pub padding: [u32; 4],
}

impl LineInfo {
    /// A zeroed info asking about `offset`.
    pub fn for_offset(offset: u32) -> Self {
        LineInfo {
            name: [0; MAX_NAME_SIZE],
            consumer: [0; MAX_NAME_SIZE],
            offset,
            num_attrs: 0,
            flags: 0,
            attrs: [LineAttribute::default(); NUM_ATTRS_MAX],
            padding: [0; 4],
        }
    }
}

/// `struct gpio_v2_line_info_changed`, read from a chip fd that watches lines.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct LineInfoChanged {
    pub info: LineInfo,
    pub timestamp_ns: u64,
    pub event_type: u32,
    pub padding: [u32; 5],
}

/// `struct gpio_v2_line_event`, read from a request fd.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LineEvent {
    pub timestamp_ns: u64,
    pub id: u32,
    pub offset: u32,
    pub seqno: u32,
    pub line_seqno: u32,
    pub padding: [u32; 6],
}

impl LineEvent {
    /// Size of one event record as the kernel writes it.
    pub const SIZE: usize = std::mem::size_of::<LineEvent>();

    /// Decodes one record from the bytes `read(2)` returned (native endian, as the kernel
    /// wrote it). Decoding by bytes avoids reading a struct from an unaligned buffer.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() < Self::SIZE {
            return None;
        }
        let u32_at = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        Some(LineEvent {
            timestamp_ns: u64::from_ne_bytes(ts),
            id: u32_at(8),
            offset: u32_at(12),
            seqno: u32_at(16),
            line_seqno: u32_at(20),
            padding: [0; 6],
        })
    }
}

impl LineInfoChanged {
    /// Size of one record as the kernel writes it.
    pub const SIZE: usize = std::mem::size_of::<LineInfoChanged>();

    /// Decodes one record from bytes read from a chip fd.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() < Self::SIZE {
            return None;
        }
        let mut out = LineInfoChanged {
            info: LineInfo::for_offset(0),
            timestamp_ns: 0,
            event_type: 0,
            padding: [0; 5],
        };
        // SAFETY: `LineInfoChanged` is `repr(C)` plain data made only of integers and integer
        // arrays (every bit pattern is valid), `b` holds at least `SIZE` bytes, and the copy
        // writes exactly `SIZE` bytes into `out`, which is a distinct local.
        unsafe {
            std::ptr::copy_nonoverlapping(
                b.as_ptr(),
                (&mut out as *mut LineInfoChanged).cast::<u8>(),
                Self::SIZE,
            );
        }
        Some(out)
    }
}

mod raw {
    use super::*;
    nix::ioctl_read!(get_chipinfo, 0xB4, 0x01, ChipInfo);
    nix::ioctl_readwrite!(get_lineinfo_unwatch, 0xB4, 0x0C, u32);
    nix::ioctl_readwrite!(get_lineinfo, 0xB4, 0x05, LineInfo);
    nix::ioctl_readwrite!(get_lineinfo_watch, 0xB4, 0x06, LineInfo);
    nix::ioctl_readwrite!(get_line, 0xB4, 0x07, LineRequest);
    nix::ioctl_readwrite!(line_set_config, 0xB4, 0x0D, LineConfig);
    nix::ioctl_readwrite!(line_get_values, 0xB4, 0x0E, LineValues);
    nix::ioctl_readwrite!(line_set_values, 0xB4, 0x0F, LineValues);
}

/// `GPIO_GET_CHIPINFO_IOCTL` on a chip fd.
pub fn get_chip_info(chip: BorrowedFd<'_>) -> nix::Result<ChipInfo> {
    let mut info = ChipInfo {
        name: [0; MAX_NAME_SIZE],
        label: [0; MAX_NAME_SIZE],
        lines: 0,
    };
    // SAFETY: `chip` is an open fd for the duration of the call; `info` is a live, writable
    // `repr(C)` gpiochip_info of the size encoded in the ioctl number.
    unsafe { raw::get_chipinfo(chip.as_raw_fd(), &mut info) }?;
    Ok(info)
}

/// `GPIO_V2_GET_LINEINFO_IOCTL`: fills `info` for `info.offset`.
pub fn get_line_info(chip: BorrowedFd<'_>, info: &mut LineInfo) -> nix::Result<()> {
    // SAFETY: as above; `info` is a live gpio_v2_line_info the kernel reads then overwrites.
    unsafe { raw::get_lineinfo(chip.as_raw_fd(), info) }.map(drop)
}

/// `GPIO_V2_GET_LINEINFO_WATCH_IOCTL`: fills `info` and starts watching `info.offset`.
pub fn watch_line_info(chip: BorrowedFd<'_>, info: &mut LineInfo) -> nix::Result<()> {
    // SAFETY: as for `get_line_info`.
    unsafe { raw::get_lineinfo_watch(chip.as_raw_fd(), info) }.map(drop)
}

/// `GPIO_GET_LINEINFO_UNWATCH_IOCTL`: stops watching `offset`.
pub fn unwatch_line_info(chip: BorrowedFd<'_>, offset: u32) -> nix::Result<()> {
    let mut offset = offset;
    // SAFETY: the ioctl reads one u32 from a live local.
    unsafe { raw::get_lineinfo_unwatch(chip.as_raw_fd(), &mut offset) }.map(drop)
}

/// `GPIO_V2_GET_LINE_IOCTL`: requests lines; on success `req.fd` is a new request fd that the
/// caller must take ownership of.
pub fn get_line(chip: BorrowedFd<'_>, req: &mut LineRequest) -> nix::Result<()> {
    // SAFETY: `req` is a live, fully initialised gpio_v2_line_request; the kernel reads it and
    // writes back only `fd`.
    unsafe { raw::get_line(chip.as_raw_fd(), req) }.map(drop)
}

/// `GPIO_V2_LINE_SET_CONFIG_IOCTL` on a request fd.
pub fn set_config(request: BorrowedFd<'_>, config: &mut LineConfig) -> nix::Result<()> {
    // SAFETY: `config` is a live, fully initialised gpio_v2_line_config.
    unsafe { raw::line_set_config(request.as_raw_fd(), config) }.map(drop)
}

/// `GPIO_V2_LINE_GET_VALUES_IOCTL`: reads the lines selected by `values.mask` into `bits`.
pub fn get_values(request: BorrowedFd<'_>, values: &mut LineValues) -> nix::Result<()> {
    // SAFETY: `values` is a live gpio_v2_line_values.
    unsafe { raw::line_get_values(request.as_raw_fd(), values) }.map(drop)
}

/// `GPIO_V2_LINE_SET_VALUES_IOCTL`: drives the lines selected by `values.mask`.
pub fn set_values(request: BorrowedFd<'_>, values: &mut LineValues) -> nix::Result<()> {
    // SAFETY: `values` is a live gpio_v2_line_values.
    unsafe { raw::line_set_values(request.as_raw_fd(), values) }.map(drop)
}

/// Copies `s` into a kernel name buffer, truncated to leave room for the NUL.
pub fn name_buf(s: &str) -> [u8; MAX_NAME_SIZE] {
    let mut buf = [0u8; MAX_NAME_SIZE];
    let mut n = s.len().min(MAX_NAME_SIZE - 1);
    // Never cut a UTF-8 character in half.
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    buf[..n].copy_from_slice(&s.as_bytes()[..n]);
    buf
}

/// Reads a NUL-terminated kernel name buffer.
pub fn buf_str(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    // Sizes and offsets from include/uapi/linux/gpio.h; the kernel checks the size through the
    // ioctl number, and a wrong field offset would silently misread.
    #[test]
    fn sizes_match_the_kernel_abi() {
        assert_eq!(size_of::<ChipInfo>(), 68);
        assert_eq!(size_of::<LineValues>(), 16);
        assert_eq!(size_of::<LineAttribute>(), 16);
        assert_eq!(size_of::<LineConfigAttribute>(), 24);
        assert_eq!(size_of::<LineConfig>(), 272);
        assert_eq!(size_of::<LineRequest>(), 592);
        assert_eq!(size_of::<LineInfo>(), 256);
        assert_eq!(size_of::<LineInfoChanged>(), 288);
        assert_eq!(size_of::<LineEvent>(), 48);
        // No alignment is asserted: the kernel copies these structs as bytes, so sizes and
        // offsets are the ABI; i686 aligns u64 to 4 and still matches every one of them.
    }

    #[test]
    fn field_offsets_match_the_kernel_abi() {
        assert_eq!(offset_of!(LineRequest, consumer), 256);
        assert_eq!(offset_of!(LineRequest, config), 288);
        assert_eq!(offset_of!(LineRequest, num_lines), 560);
        assert_eq!(offset_of!(LineRequest, event_buffer_size), 564);
        assert_eq!(offset_of!(LineRequest, fd), 588);
        assert_eq!(offset_of!(LineConfig, num_attrs), 8);
        assert_eq!(offset_of!(LineConfig, attrs), 32);
        assert_eq!(offset_of!(LineValues, mask), 8);
        assert_eq!(offset_of!(LineAttribute, value), 8);
        assert_eq!(offset_of!(LineConfigAttribute, mask), 16);
        assert_eq!(offset_of!(ChipInfo, lines), 64);
        assert_eq!(offset_of!(LineInfo, offset), 64);
        assert_eq!(offset_of!(LineInfo, flags), 72);
        assert_eq!(offset_of!(LineInfo, attrs), 80);
        assert_eq!(offset_of!(LineInfoChanged, timestamp_ns), 256);
        assert_eq!(offset_of!(LineInfoChanged, event_type), 264);
        assert_eq!(offset_of!(LineEvent, offset), 12);
        assert_eq!(offset_of!(LineEvent, line_seqno), 20);
    }

    #[test]
    fn ioctl_numbers_match_the_header() {
        // _IOWR(0xB4, 0x07, struct gpio_v2_line_request) = 0xC250B407 on Linux.
        assert_eq!(
            nix::request_code_readwrite!(0xB4, 0x07, size_of::<LineRequest>()) as u64,
            0xC250_B407
        );
        assert_eq!(
            nix::request_code_read!(0xB4, 0x01, size_of::<ChipInfo>()) as u64,
            0x8044_B401
        );
        assert_eq!(
            nix::request_code_readwrite!(0xB4, 0x05, size_of::<LineInfo>()) as u64,
            0xC100_B405
        );
        assert_eq!(
            nix::request_code_readwrite!(0xB4, 0x0D, size_of::<LineConfig>()) as u64,
            0xC110_B40D
        );
        assert_eq!(
            nix::request_code_readwrite!(0xB4, 0x0E, size_of::<LineValues>()) as u64,
            0xC010_B40E
        );
    }

    #[test]
    fn debounce_sits_in_the_unions_first_bytes() {
        let a = LineAttribute::debounce(1500);
        assert_eq!(a.debounce_period_us(), 1500);
        assert_eq!(&a.value.to_ne_bytes()[..4], &1500u32.to_ne_bytes());
    }

    #[test]
    fn event_decodes_from_bytes() {
        let mut b = vec![0u8; 48];
        b[..8].copy_from_slice(&123456789u64.to_ne_bytes());
        b[8..12].copy_from_slice(&EVENT_FALLING_EDGE.to_ne_bytes());
        b[12..16].copy_from_slice(&7u32.to_ne_bytes());
        b[16..20].copy_from_slice(&3u32.to_ne_bytes());
        b[20..24].copy_from_slice(&2u32.to_ne_bytes());
        let e = LineEvent::from_bytes(&b).unwrap();
        assert_eq!(
            (e.timestamp_ns, e.id, e.offset, e.seqno, e.line_seqno),
            (123456789, 2, 7, 3, 2)
        );
        assert!(LineEvent::from_bytes(&b[..47]).is_none());
    }

    #[test]
    fn names_round_trip_and_truncate() {
        assert_eq!(buf_str(&name_buf("my-daemon")), "my-daemon");
        let long = "x".repeat(40);
        assert_eq!(buf_str(&name_buf(&long)).len(), 31);
        // 'é' is two bytes; truncation must not split it.
        let s = format!("{}é", "a".repeat(30));
        assert_eq!(buf_str(&name_buf(&s)), "a".repeat(30));
    }
}
