//! Small helpers for VM tests on top of the [`gpiosim`] crate.
//!
//! `gpiosim` creates and removes chips (label, line count, names, hogs), reads what an
//! output drives (`get_level`) and pulls inputs (`pullup`/`pulldown`). What it does not
//! cover, and tests need, is here: the chip's legacy sysfs view (`/sys/class/gpio`), and
//! waiting for a device node.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Whether this process runs inside the test-bed VM (the guest's `/init` comes from here).
pub fn in_test_bed() -> bool {
    Path::new("/testbed/job.sh").exists()
}

/// The `/sys/class/gpio/gpiochipN` directory of a simulated chip, found through the chip's
/// device (`/sys/devices/platform/<dev_name>/<chip_name>/gpio/`), not by label, so tests
/// that reuse a label cannot pick each other's chips.
pub fn sysfs_chip_dir(chip: &gpiosim::Chip) -> io::Result<PathBuf> {
    let dir = Path::new("/sys/devices/platform")
        .join(&chip.dev_name)
        .join(&chip.chip_name)
        .join("gpio");
    if let Some(found) = first_gpiochip_in(&dir) {
        return Ok(Path::new("/sys/class/gpio").join(found));
    }
    // Older layouts hang the class device off the platform device instead.
    let dir = Path::new("/sys/devices/platform")
        .join(&chip.dev_name)
        .join("gpio");
    first_gpiochip_in(&dir)
        .map(|found| Path::new("/sys/class/gpio").join(found))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "no sysfs gpiochip for {} ({}): is CONFIG_GPIO_SYSFS on?",
                    chip.chip_name, chip.dev_name
                ),
            )
        })
}

fn first_gpiochip_in(dir: &Path) -> Option<String> {
    fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("gpiochip"))
}

/// The chip's first global sysfs GPIO number (`/sys/class/gpio/gpiochipN/base`).
pub fn sysfs_base(chip: &gpiosim::Chip) -> io::Result<u32> {
    let path = sysfs_chip_dir(chip)?.join("base");
    let text = fs::read_to_string(&path)?;
    text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: `{}` is not a number", path.display(), text.trim()),
        )
    })
}

/// Waits until `path` exists (device nodes appear from devtmpfs), up to `timeout`.
pub fn wait_for_path(path: &Path, timeout: Duration) -> io::Result<()> {
    let start = Instant::now();
    loop {
        if path.exists() {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{} did not appear within {timeout:?}", path.display()),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether the running kernel speaks GPIO uAPI v1 (`CONFIG_GPIO_CDEV_V1`), read from the
/// kernel's own symbol table rather than from the code under test: `linehandle_ioctl` is the
/// v1 line handle's ioctl, reached only through its file operations, so it is never inlined
/// away and exists exactly when v1 is built in. Debian 12's 6.1 has it; sid's 7.x does not.
///
/// Read once per process: formatting the symbol table takes the kernel seconds under TCG
/// (7.x's is larger), and many checks ask.
pub fn kernel_has_uapi_v1() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        std::fs::read_to_string("/proc/kallsyms")
            .is_ok_and(|syms| has_symbol(&syms, "linehandle_ioctl"))
    })
}

/// Whether `/proc/kallsyms` text lists a function named `name` (or a compiler-split part of
/// it such as `name.cold`).
pub fn has_symbol(kallsyms: &str, name: &str) -> bool {
    kallsyms.lines().any(|l| {
        l.split_whitespace()
            .nth(2)
            .is_some_and(|s| s == name || s.strip_prefix(name).is_some_and(|r| r.starts_with('.')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_matched_whole() {
        let syms = "ffff0000 t linehandle_ioctl.cold\t[gpio]\n0000 T lineevent_read\n";
        assert!(has_symbol(syms, "linehandle_ioctl"));
        assert!(has_symbol(syms, "lineevent_read"));
        assert!(!has_symbol(syms, "linehandle"));
        assert!(!has_symbol(syms, "lineevent_read_v2"));
        assert!(!has_symbol(
            "0000 T linehandle_ioctl_x\n",
            "linehandle_ioctl"
        ));
    }
}
