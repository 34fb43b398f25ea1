//! The floors: the cheapest system call that sets a line through each kernel interface, with
//! no abstraction around it, and the naive sysfs way that scripts use.
//!
//! A backend's figures mean something next to its floor: the kernel's own cost is the same for
//! both, so the ratio is what the backend adds.

use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use hw::Request;
use sysfs_gpio::SysfsLine;

use super::backends::Toggle;

/// The bare ioctl on the line request fd of `req` (a uAPI v2 request of `count` lines, kept
/// alive by the toggle).
pub fn ioctl_toggle(req: Request, count: usize) -> Result<Toggle, String> {
    if req.backend() != "cdev-v2" {
        return Err(format!(
            "the ioctl floor needs a uAPI v2 request, not {}",
            req.backend()
        ));
    }
    let mask = if count >= 64 {
        u64::MAX
    } else {
        (1u64 << count) - 1
    };
    // A duplicate of the request's fd (the same kernel request), so that the loop holds
    // the bare fd and not the request's layers; `req` keeps the lines held.
    let fd = req
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("duplicating the line request fd: {e}"))?;
    Ok(Box::new(move |up| {
        let _held = &req;
        hw::raw::set_line_values(fd.as_fd(), if up { mask } else { 0 }, mask)
            .map_err(|e| format!("GPIO_V2_LINE_SET_VALUES_IOCTL: {e}"))
    }))
}

/// The `value` files of exported lines, kept with the lines (which unexport when dropped).
fn value_paths(lines: &[SysfsLine]) -> Vec<PathBuf> {
    lines.iter().map(|l| l.dir().join("value")).collect()
}

/// One `pwrite` per line on `value` fds held open.
pub fn pwrite_toggle(lines: Vec<SysfsLine>) -> Result<Toggle, String> {
    let files = value_paths(&lines)
        .iter()
        .map(|p| {
            OpenOptions::new()
                .write(true)
                .open(p)
                .map_err(|e| format!("opening {}: {e}", p.display()))
        })
        .collect::<Result<Vec<File>, String>>()?;
    Ok(Box::new(move |up| {
        let _exported = &lines;
        let byte: &[u8] = if up { b"1" } else { b"0" };
        for f in &files {
            f.write_at(byte, 0)
                .map_err(|e| format!("pwrite on a sysfs value file: {e}"))?;
        }
        Ok(())
    }))
}

/// open, write and close of each `value` file per toggle.
pub fn naive_toggle(lines: Vec<SysfsLine>) -> Result<Toggle, String> {
    let paths = value_paths(&lines);
    Ok(Box::new(move |up| {
        let _exported = &lines;
        let byte: &[u8] = if up { b"1" } else { b"0" };
        for p in &paths {
            std::fs::write(p, byte).map_err(|e| format!("writing {}: {e}", p.display()))?;
        }
        Ok(())
    }))
}
