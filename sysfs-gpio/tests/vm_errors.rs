//! The errors sysfs users actually meet, provoked for real: a line requested through the
//! character device, a line hogged by the kernel, a user without permission. Every case runs
//! through both I/O paths.

mod common;

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use common::SimChip;
use sysfs_gpio::{Error, IoPath, Sysfs};

both_paths!(
    line_requested_through_the_character_device_is_busy,
    line_hogged_by_the_kernel_is_busy,
    export_without_permission_explains_the_udev_rule,
    exported_line_without_permission_is_retried_then_explained,
);

/// `struct gpio_v2_line_request` and friends from `include/uapi/linux/gpio.h`.
#[repr(C)]
struct LineAttribute {
    id: u32,
    padding: u32,
    value: u64,
}

#[repr(C)]
struct LineConfigAttribute {
    attr: LineAttribute,
    mask: u64,
}

#[repr(C)]
struct LineConfig {
    flags: u64,
    num_attrs: u32,
    padding: [u32; 5],
    attrs: [LineConfigAttribute; 10],
}

#[repr(C)]
struct LineRequest {
    offsets: [u32; 64],
    consumer: [u8; 32],
    config: LineConfig,
    num_lines: u32,
    event_buffer_size: u32,
    padding: [u32; 5],
    fd: i32,
}

const GPIO_V2_LINE_FLAG_INPUT: u64 = 1 << 2;
/// `_IOWR(0xB4, 0x07, struct gpio_v2_line_request)`.
const GPIO_V2_GET_LINE_IOCTL: u64 =
    (3 << 30) | ((std::mem::size_of::<LineRequest>() as u64) << 16) | (0xB4 << 8) | 0x07;

/// Requests `offset` of the chip at `dev` through the uAPI v2, as libgpiod would. The line is
/// held until the returned fd is dropped.
fn request_through_cdev(dev: &Path, offset: u32, consumer: &str) -> OwnedFd {
    assert_eq!(
        std::mem::size_of::<LineRequest>(),
        592,
        "uAPI struct layout"
    );
    let chip = File::open(dev).unwrap();
    // SAFETY: LineRequest is plain old data; all-zero is a valid value (the uAPI requires
    // zeroed padding).
    let mut req: LineRequest = unsafe { std::mem::zeroed() };
    req.offsets[0] = offset;
    req.consumer[..consumer.len()].copy_from_slice(consumer.as_bytes());
    req.config.flags = GPIO_V2_LINE_FLAG_INPUT;
    req.num_lines = 1;
    // SAFETY: the ioctl reads and writes exactly one LineRequest, which `req` is.
    let rc = unsafe {
        libc::ioctl(
            chip.as_raw_fd(),
            GPIO_V2_GET_LINE_IOCTL as _,
            &mut req as *mut LineRequest,
        )
    };
    assert_eq!(rc, 0, "line request: {}", std::io::Error::last_os_error());
    assert!(req.fd >= 0);
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(req.fd) }
}

/// Mounts debugfs if it is not, so the error can name the holder (it is optional for the
/// crate, but this kernel has it and the test wants to see the holder named).
fn ensure_debugfs() {
    if Path::new("/sys/kernel/debug/gpio").exists() {
        return;
    }
    let src = c"debugfs";
    let target = c"/sys/kernel/debug";
    // SAFETY: all pointers are valid NUL-terminated strings; data may be NULL.
    let rc = unsafe {
        libc::mount(
            src.as_ptr(),
            target.as_ptr(),
            src.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    // EBUSY: another test mounted it meanwhile.
    let err = std::io::Error::last_os_error();
    assert!(
        rc == 0 || err.raw_os_error() == Some(libc::EBUSY),
        "mount debugfs: {err}"
    );
    assert!(Path::new("/sys/kernel/debug/gpio").exists());
}

fn line_requested_through_the_character_device_is_busy(io: IoPath) {
    ensure_debugfs();
    let sim = SimChip::new(4);
    let held = request_through_cdev(sim.chip().dev_path(), 2, "cdev-holder");
    let err = Sysfs::new()
        .open_line(sim.label.as_str(), 2, io)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Busy { holder: Some(h), .. } if h == "cdev-holder"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("character device"), "{msg}");
    assert!(msg.contains("\"cdev-holder\""), "{msg}");
    assert!(msg.contains(&sim.label), "{msg}");
    assert_eq!(err.raw_os_error(), Some(libc::EBUSY));
    assert!(!sim.line_dir(2).exists(), "nothing left exported");

    // Released there, it opens here.
    drop(held);
    let line = Sysfs::new().open_line(sim.label.as_str(), 2, io).unwrap();
    assert!(line.exported_by_us());
}

fn line_hogged_by_the_kernel_is_busy(io: IoPath) {
    ensure_debugfs();
    let sim = SimChip::with_hog(4, 1, "kernel-hog");
    let err = Sysfs::new()
        .open_line(sim.label.as_str(), 1, io)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Busy { holder: Some(h), .. } if h == "kernel-hog"),
        "{err:?}"
    );
    assert!(err.to_string().contains("kernel driver"), "{err}");
    // The other lines of the chip are free.
    assert!(Sysfs::new().open_line(sim.label.as_str(), 0, io).is_ok());
}

/// Runs `f` on a thread whose user is `nobody`. Credentials are per thread in the kernel; the
/// raw system call (unlike libc's `setresuid`) changes only the calling thread, and dropping
/// every uid from 0 clears its capabilities too.
fn as_nobody<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: a plain system call with integer arguments.
            let rc = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
            assert_eq!(rc, 0, "setresuid: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap()
    })
}

fn export_without_permission_explains_the_udev_rule(io: IoPath) {
    let sim = SimChip::new(4);
    let err = as_nobody(|| {
        Sysfs::new()
            .open_line(sim.label.as_str(), 0, io)
            .unwrap_err()
    });
    // The file the export was written to: the chip's own where the kernel has one.
    let export = sim
        .per_chip_export()
        .unwrap_or_else(|| Path::new("/sys/class/gpio/export").to_path_buf());
    assert!(
        matches!(&err, Error::PermissionDenied { path, .. } if *path == export),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("udev"), "{msg}");
    assert!(msg.contains("group"), "{msg}");
}

fn exported_line_without_permission_is_retried_then_explained(io: IoPath) {
    let sim = SimChip::new(4);
    let number = sim.address(3).global().unwrap();
    std::fs::write("/sys/class/gpio/export", number.to_string()).unwrap();
    let err = as_nobody(|| {
        Sysfs::new()
            .open_line(sim.label.as_str(), 3, io)
            .unwrap_err()
    });
    match &err {
        Error::PermissionDenied { path, waited_ms } => {
            assert_eq!(path, &sim.line_dir(3).join("value"));
            // It gave udev the whole settle time before giving up.
            assert!(
                *waited_ms >= sysfs_gpio::SETTLE_TIMEOUT.as_millis() as u64,
                "{waited_ms}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(sim.line_dir(3).exists(), "not ours, so not unexported");
    std::fs::write("/sys/class/gpio/unexport", number.to_string()).unwrap();
}
