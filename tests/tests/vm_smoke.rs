//! Proves the bed: gpio-sim chips created with the `gpiosim` crate are real GPIO chips,
//! seen through the character device (uAPI v2, raw ioctls written here so the bed does not
//! depend on the library it tests) and through `/sys/class/gpio`.
//!
//! Runs only in the VM: `cargo run --release -p hwkit-testbed -- test --test vm_smoke`.

use std::ffi::CStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use gpiosim::{Direction, Level};
use hwkit_testbed::sim;

// ---- include/uapi/linux/gpio.h, the parts these tests use ----

const GPIO_MAX_NAME_SIZE: usize = 32;
const GPIO_V2_LINES_MAX: usize = 64;
const GPIO_V2_LINE_NUM_ATTRS_MAX: usize = 10;

const GPIO_V2_LINE_FLAG_USED: u64 = 1 << 0;
const GPIO_V2_LINE_FLAG_INPUT: u64 = 1 << 2;
const GPIO_V2_LINE_FLAG_OUTPUT: u64 = 1 << 3;
const GPIO_V2_LINE_FLAG_EDGE_RISING: u64 = 1 << 4;
const GPIO_V2_LINE_FLAG_EDGE_FALLING: u64 = 1 << 5;

const GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES: u32 = 2;

const GPIO_V2_LINE_EVENT_RISING_EDGE: u32 = 1;
const GPIO_V2_LINE_EVENT_FALLING_EDGE: u32 = 2;

#[repr(C)]
struct GpioChipInfo {
    name: [u8; GPIO_MAX_NAME_SIZE],
    label: [u8; GPIO_MAX_NAME_SIZE],
    lines: u32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct LineAttribute {
    id: u32,
    padding: u32,
    /// flags, values or debounce_period_us, by `id`.
    value: u64,
}

#[repr(C)]
struct LineInfo {
    name: [u8; GPIO_MAX_NAME_SIZE],
    consumer: [u8; GPIO_MAX_NAME_SIZE],
    offset: u32,
    num_attrs: u32,
    flags: u64,
    attrs: [LineAttribute; GPIO_V2_LINE_NUM_ATTRS_MAX],
    padding: [u32; 4],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct LineConfigAttribute {
    attr: LineAttribute,
    mask: u64,
}

#[repr(C)]
struct LineConfig {
    flags: u64,
    num_attrs: u32,
    padding: [u32; 5],
    attrs: [LineConfigAttribute; GPIO_V2_LINE_NUM_ATTRS_MAX],
}

#[repr(C)]
struct LineRequest {
    offsets: [u32; GPIO_V2_LINES_MAX],
    consumer: [u8; GPIO_MAX_NAME_SIZE],
    config: LineConfig,
    num_lines: u32,
    event_buffer_size: u32,
    padding: [u32; 5],
    fd: i32,
}

#[repr(C)]
struct LineValues {
    bits: u64,
    mask: u64,
}

#[repr(C)]
#[derive(Default, Debug)]
struct LineEvent {
    timestamp_ns: u64,
    id: u32,
    offset: u32,
    seqno: u32,
    line_seqno: u32,
    padding: [u32; 6],
}

/// `_IOC(dir, 0xB4, nr, size)` as the kernel computes it.
const fn ioc(dir: u64, nr: u64, size: usize) -> u64 {
    (dir << 30) | ((size as u64) << 16) | (0xB4 << 8) | nr
}
const IOC_READ: u64 = 2;
const IOC_RW: u64 = 3;
const GPIO_GET_CHIPINFO_IOCTL: u64 = ioc(IOC_READ, 0x01, size_of::<GpioChipInfo>());
const GPIO_V2_GET_LINEINFO_IOCTL: u64 = ioc(IOC_RW, 0x05, size_of::<LineInfo>());
const GPIO_V2_GET_LINE_IOCTL: u64 = ioc(IOC_RW, 0x07, size_of::<LineRequest>());
const GPIO_V2_LINE_GET_VALUES_IOCTL: u64 = ioc(IOC_RW, 0x0E, size_of::<LineValues>());
const GPIO_V2_LINE_SET_VALUES_IOCTL: u64 = ioc(IOC_RW, 0x0F, size_of::<LineValues>());

// The uAPI's sizes are fixed; a wrong layout here would make every test meaningless.
const _: () = assert!(size_of::<GpioChipInfo>() == 68);
const _: () = assert!(size_of::<LineInfo>() == 256);
const _: () = assert!(size_of::<LineRequest>() == 592);
const _: () = assert!(size_of::<LineEvent>() == 48);

/// Runs one ioctl whose argument is `arg`.
///
/// # Safety
/// `request` must be an ioctl that reads and/or writes exactly one `T` at the pointer.
unsafe fn ioctl<T>(fd: RawFd, request: u64, arg: &mut T) -> io::Result<()> {
    // SAFETY: the caller guarantees `request` matches `T`; `arg` is a valid, exclusive `T`.
    let rc = unsafe { libc::ioctl(fd, request as _, arg as *mut T) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn zeroed<T>() -> T {
    // SAFETY: only used for the plain-old-data uAPI structs above, for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}

fn text(bytes: &[u8]) -> String {
    CStr::from_bytes_until_nul(bytes)
        .map_or_else(|_| String::new(), |c| c.to_string_lossy().into_owned())
}

fn chip_info(chip: &File) -> GpioChipInfo {
    let mut info: GpioChipInfo = zeroed();
    // SAFETY: GPIO_GET_CHIPINFO_IOCTL writes one gpiochip_info.
    unsafe { ioctl(chip.as_raw_fd(), GPIO_GET_CHIPINFO_IOCTL, &mut info) }
        .expect("chip info ioctl");
    info
}

fn line_info(chip: &File, offset: u32) -> LineInfo {
    let mut info: LineInfo = zeroed();
    info.offset = offset;
    // SAFETY: GPIO_V2_GET_LINEINFO_IOCTL reads the offset and writes one gpio_v2_line_info.
    unsafe { ioctl(chip.as_raw_fd(), GPIO_V2_GET_LINEINFO_IOCTL, &mut info) }
        .expect("line info ioctl");
    info
}

/// Requests one line; returns the request's file descriptor.
fn request_line(
    chip: &File,
    offset: u32,
    flags: u64,
    initial: Option<bool>,
) -> io::Result<OwnedFd> {
    let mut req: LineRequest = zeroed();
    req.offsets[0] = offset;
    req.num_lines = 1;
    req.consumer[..12].copy_from_slice(b"testbed-smok");
    req.config.flags = flags;
    if let Some(v) = initial {
        req.config.num_attrs = 1;
        req.config.attrs[0] = LineConfigAttribute {
            attr: LineAttribute {
                id: GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES,
                padding: 0,
                value: u64::from(v),
            },
            mask: 1,
        };
    }
    // SAFETY: GPIO_V2_GET_LINE_IOCTL reads and writes one gpio_v2_line_request.
    unsafe { ioctl(chip.as_raw_fd(), GPIO_V2_GET_LINE_IOCTL, &mut req) }?;
    assert!(req.fd >= 0, "the kernel returned no request fd");
    // SAFETY: the kernel just gave us this fd and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(req.fd) })
}

fn get_value(req: &OwnedFd) -> bool {
    let mut v = LineValues { bits: 0, mask: 1 };
    // SAFETY: GPIO_V2_LINE_GET_VALUES_IOCTL reads the mask and writes one gpio_v2_line_values.
    unsafe { ioctl(req.as_raw_fd(), GPIO_V2_LINE_GET_VALUES_IOCTL, &mut v) }
        .expect("get values ioctl");
    v.bits & 1 == 1
}

fn set_value(req: &OwnedFd, value: bool) {
    let mut v = LineValues {
        bits: u64::from(value),
        mask: 1,
    };
    // SAFETY: GPIO_V2_LINE_SET_VALUES_IOCTL reads one gpio_v2_line_values.
    unsafe { ioctl(req.as_raw_fd(), GPIO_V2_LINE_SET_VALUES_IOCTL, &mut v) }
        .expect("set values ioctl");
}

/// Waits up to `timeout` for an edge event on the request and reads it.
fn read_event(req: &OwnedFd, timeout: Duration) -> Option<LineEvent> {
    let mut pfd = libc::pollfd {
        fd: req.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
    assert!(n >= 0, "poll: {}", io::Error::last_os_error());
    if n == 0 {
        return None;
    }
    let mut ev = LineEvent::default();
    // SAFETY: reading at most size_of::<LineEvent>() bytes into a LineEvent we own.
    let got = unsafe {
        libc::read(
            req.as_raw_fd(),
            (&mut ev as *mut LineEvent).cast(),
            size_of::<LineEvent>(),
        )
    };
    assert_eq!(
        got,
        size_of::<LineEvent>() as isize,
        "short event read: {}",
        io::Error::last_os_error()
    );
    Some(ev)
}

fn open_chip(chip: &gpiosim::Chip) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(chip.dev_path())
        .expect("open the chip's character device")
}

fn live(bank: &gpiosim::Bank) -> gpiosim::Sim {
    gpiosim::builder()
        .with_bank(bank)
        .live()
        .expect("create a gpio-sim chip")
}

#[test]
fn named_lines_and_label_are_seen_through_the_character_device() {
    let mut bank = gpiosim::Bank::new(8, "smoke-names");
    bank.name(0, "ALPHA").name(3, "BETA").name(7, "GAMMA").hog(
        5,
        "smoke-hog",
        Direction::OutputHigh,
    );
    let sim = live(&bank);
    let chip = &sim.chips()[0];
    let f = open_chip(chip);

    let info = chip_info(&f);
    assert_eq!(text(&info.label), "smoke-names");
    assert_eq!(text(&info.name), chip.chip_name);
    assert_eq!(info.lines, 8);

    let names: Vec<String> = (0..8).map(|o| text(&line_info(&f, o).name)).collect();
    assert_eq!(names, ["ALPHA", "", "", "BETA", "", "", "", "GAMMA"]);
    for o in [0, 1, 7] {
        let li = line_info(&f, o);
        assert_eq!(li.offset, o);
        assert_eq!(
            li.flags & GPIO_V2_LINE_FLAG_USED,
            0,
            "line {o} should be free"
        );
        assert_ne!(
            li.flags & GPIO_V2_LINE_FLAG_INPUT,
            0,
            "line {o} should be an input"
        );
    }
    // The hog is a kernel consumer driving the line high.
    let hog = line_info(&f, 5);
    assert_ne!(hog.flags & GPIO_V2_LINE_FLAG_USED, 0);
    assert_ne!(hog.flags & GPIO_V2_LINE_FLAG_OUTPUT, 0);
    assert_eq!(text(&hog.consumer), "smoke-hog");
    assert_eq!(chip.get_level(5).unwrap(), Level::High);
    let busy = request_line(&f, 5, GPIO_V2_LINE_FLAG_INPUT, None).unwrap_err();
    assert_eq!(
        busy.raw_os_error(),
        Some(libc::EBUSY),
        "a hogged line is busy: {busy}"
    );
}

#[test]
fn an_output_set_through_the_character_device_is_seen_by_the_simulator() {
    let sim = live(&gpiosim::Bank::new(4, "smoke-output"));
    let chip = &sim.chips()[0];
    let f = open_chip(chip);

    let req = request_line(&f, 2, GPIO_V2_LINE_FLAG_OUTPUT, Some(true))
        .expect("request line 2 as output");
    assert_eq!(
        chip.get_level(2).unwrap(),
        Level::High,
        "initial value from the request"
    );
    assert_ne!(line_info(&f, 2).flags & GPIO_V2_LINE_FLAG_USED, 0);
    set_value(&req, false);
    assert_eq!(chip.get_level(2).unwrap(), Level::Low);
    assert!(!get_value(&req));
    set_value(&req, true);
    assert_eq!(chip.get_level(2).unwrap(), Level::High);
    assert!(get_value(&req));
    // Neighbours are untouched.
    assert_eq!(chip.get_level(1).unwrap(), Level::Low);
    drop(req);
    assert_eq!(
        line_info(&f, 2).flags & GPIO_V2_LINE_FLAG_USED,
        0,
        "released on close"
    );
}

#[test]
fn a_simulator_pull_is_seen_as_input_value_and_as_edge_events() {
    let sim = live(&gpiosim::Bank::new(4, "smoke-input"));
    let chip = &sim.chips()[0];
    let f = open_chip(chip);
    chip.pulldown(1).unwrap();

    let flags =
        GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_EDGE_RISING | GPIO_V2_LINE_FLAG_EDGE_FALLING;
    let req = request_line(&f, 1, flags, None).expect("request line 1 with edge detection");
    assert!(!get_value(&req));
    assert!(
        read_event(&req, Duration::from_millis(100)).is_none(),
        "no edge yet, no event"
    );

    chip.pullup(1).unwrap();
    let ev = read_event(&req, Duration::from_secs(5)).expect("a rising edge event");
    assert_eq!(
        (ev.id, ev.offset, ev.seqno, ev.line_seqno),
        (GPIO_V2_LINE_EVENT_RISING_EDGE, 1, 1, 1)
    );
    assert!(ev.timestamp_ns > 0);
    assert!(get_value(&req));

    chip.pulldown(1).unwrap();
    let ev2 = read_event(&req, Duration::from_secs(5)).expect("a falling edge event");
    assert_eq!(
        (ev2.id, ev2.offset, ev2.seqno, ev2.line_seqno),
        (GPIO_V2_LINE_EVENT_FALLING_EDGE, 1, 2, 2)
    );
    assert!(ev2.timestamp_ns >= ev.timestamp_ns);
    assert!(!get_value(&req));
}

/// Writes a sysfs attribute, retrying briefly: udev-less guests have no permission race,
/// but a fresh `gpioN` directory can take a moment to appear.
fn sysfs_write(path: &Path, value: &str) {
    sim::wait_for_path(path, Duration::from_secs(2)).unwrap();
    fs::write(path, value).unwrap_or_else(|e| panic!("write {value:?} to {}: {e}", path.display()));
}

fn sysfs_read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

#[test]
fn a_line_exported_through_sysfs_works_in_both_directions() {
    let sim = live(&gpiosim::Bank::new(6, "smoke-sysfs"));
    let chip = &sim.chips()[0];
    let dir = sim::sysfs_chip_dir(chip).unwrap();
    assert_eq!(sysfs_read(&dir.join("label")), "smoke-sysfs");
    assert_eq!(sysfs_read(&dir.join("ngpio")), "6");
    let base = sim::sysfs_base(chip).unwrap();
    let number = base + 3;
    let line = Path::new("/sys/class/gpio").join(format!("gpio{number}"));

    sysfs_write(Path::new("/sys/class/gpio/export"), &number.to_string());
    sysfs_write(&line.join("direction"), "out");
    sysfs_write(&line.join("value"), "1");
    assert_eq!(chip.get_level(3).unwrap(), Level::High);
    sysfs_write(&line.join("value"), "0");
    assert_eq!(chip.get_level(3).unwrap(), Level::Low);

    sysfs_write(&line.join("direction"), "in");
    chip.pullup(3).unwrap();
    assert_eq!(sysfs_read(&line.join("value")), "1");
    chip.pulldown(3).unwrap();
    assert_eq!(sysfs_read(&line.join("value")), "0");

    sysfs_write(Path::new("/sys/class/gpio/unexport"), &number.to_string());
    assert!(!line.exists(), "unexport removes gpio{number}");
}

#[test]
fn the_bed_helpers_find_the_guest_and_time_out() {
    assert!(sim::in_test_bed());
    let missing =
        sim::wait_for_path(Path::new("/dev/no-such-node"), Duration::from_millis(20)).unwrap_err();
    assert_eq!(missing.kind(), io::ErrorKind::TimedOut);
}

#[test]
fn the_source_tree_and_the_built_binaries_are_at_their_host_paths() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let text = fs::read_to_string(&manifest)
        .expect("the package's Cargo.toml, read through CARGO_MANIFEST_DIR");
    assert!(text.contains("name = \"hwkit-testbed\""));
    assert_eq!(
        std::env::current_dir().unwrap(),
        Path::new(env!("CARGO_MANIFEST_DIR"))
    );
    let exe = Path::new(env!("CARGO_BIN_EXE_testbed"));
    let out = std::process::Command::new(exe)
        .arg("--version")
        .output()
        .expect("run the packed testbed binary");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("testbed "));
    // The guest's /tmp is the in-memory root itself, writable by tests.
    let probe = Path::new("/tmp").join(format!("smoke-{}", std::process::id()));
    fs::write(&probe, "x").unwrap();
    fs::remove_file(&probe).unwrap();
}
