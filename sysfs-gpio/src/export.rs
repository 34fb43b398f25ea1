//! Idempotent export and unexport, and the wait for udev after export.
//!
//! An already exported line is fine (another process or a boot script exported it); we remember
//! whether *we* exported it so that dropping a line never unexports someone else's.

use std::io;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::error::{debugfs_holder, Error, Result};
use crate::io::Io;
use crate::numbering::{number_hint, ExportPlan, LineAddress, Sysfs};

/// How long to wait after export for the line directory and for udev to fix its permissions.
/// Usually milliseconds; a board busy booting (or an emulated one) has been seen to take over
/// a second, and the wait ends as soon as the permissions arrive.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// A line made visible in sysfs, by us or by someone before us.
#[derive(Debug)]
pub(crate) struct Exported {
    pub(crate) plan: ExportPlan,
    pub(crate) dir: PathBuf,
    pub(crate) ours: bool,
}

/// Exports `line` unless it already is. Returns where its attributes are.
pub(crate) fn export(
    sysfs: &Sysfs,
    io: &Io,
    line: &LineAddress,
    settle: Duration,
) -> Result<Exported> {
    let plan = sysfs.export_plan(line)?;
    if let Some(dir) = existing_dir(&plan) {
        return Ok(Exported {
            plan,
            dir,
            ours: false,
        });
    }
    if !sysfs.root().is_dir() {
        return Err(Error::NoSysfs {
            root: sysfs.root().to_path_buf(),
        });
    }
    let started = Instant::now();
    if let Err(e) = io.write_file(&plan.export_file, plan.token.as_bytes()) {
        // Lost a race with another exporter: the line is exported, just not by us.
        if e.raw_os_error() == Some(libc::EBUSY) {
            if let Some(dir) = existing_dir(&plan) {
                return Ok(Exported {
                    plan,
                    dir,
                    ours: false,
                });
            }
        }
        return Err(export_error(sysfs, line, &plan, e));
    }
    let dir = match wait_for_dir(&plan, started, settle) {
        Ok(dir) => dir,
        Err(e) => {
            // Do not leave behind a half-made export of our own.
            let _ = unexport(io, &plan);
            return Err(e);
        }
    };
    Ok(Exported {
        plan,
        dir,
        ours: true,
    })
}

/// Unexports a line we exported.
pub(crate) fn unexport(io: &Io, plan: &ExportPlan) -> Result<()> {
    io.write_file(&plan.unexport_file, plan.token.as_bytes())
        .map_err(|e| Error::io("write", &plan.unexport_file, e))
}

fn existing_dir(plan: &ExportPlan) -> Option<PathBuf> {
    plan.line_dirs.iter().find(|d| d.is_dir()).cloned()
}

/// The kernel creates the directory before the export write returns, but udev may still be
/// renaming or re-permissioning it; a bounded wait costs nothing when it is already there.
fn wait_for_dir(plan: &ExportPlan, started: Instant, settle: Duration) -> Result<PathBuf> {
    let mut nap = Duration::from_millis(1);
    loop {
        if let Some(dir) = existing_dir(plan) {
            return Ok(dir);
        }
        if started.elapsed() >= settle {
            return Err(Error::ExportTimeout {
                line_dir: plan.line_dirs.first().cloned().unwrap_or_default(),
                export_file: plan.export_file.clone(),
                token: plan.token.clone(),
                waited_ms: started.elapsed().as_millis() as u64,
            });
        }
        sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// Runs `op` until it stops failing with `EACCES` or `deadline` passes: udev fixes the
/// permissions of `gpioN/*` a few milliseconds after export.
pub(crate) fn retry_eacces<T>(
    path: &Path,
    started: Instant,
    deadline: Instant,
    mut op: impl FnMut() -> io::Result<T>,
) -> Result<T> {
    let mut nap = Duration::from_millis(1);
    loop {
        match op() {
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                if Instant::now() >= deadline {
                    return Err(Error::PermissionDenied {
                        path: path.to_path_buf(),
                        waited_ms: started.elapsed().as_millis() as u64,
                    });
                }
                sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(20));
            }
            other => return other.map_err(|e| Error::io("access", path, e)),
        }
    }
}

fn export_error(sysfs: &Sysfs, line: &LineAddress, plan: &ExportPlan, e: io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EBUSY) => Error::Busy {
            line: line.to_string(),
            holder: debugfs_holder(line),
        },
        Some(libc::EACCES) | Some(libc::EPERM) => Error::PermissionDenied {
            path: plan.export_file.clone(),
            waited_ms: 0,
        },
        Some(libc::ENOENT) if !plan.export_file.exists() => Error::NoSysfs {
            root: sysfs.root().to_path_buf(),
        },
        // Per-chip export takes offsets: one past the chip is refused with EINVAL.
        Some(libc::EINVAL) if line.chip.chip_dir.is_some() && line.offset >= line.chip.ngpio => {
            Error::OffsetOutOfRange {
                label: line.chip.label.clone(),
                offset: line.offset,
                ngpio: line.chip.ngpio,
            }
        }
        Some(libc::EINVAL) if line.chip.chip_dir.is_none() => {
            let number = line.global().unwrap_or(line.offset);
            let chips = sysfs.chips().unwrap_or_default();
            let covered = chips
                .iter()
                .any(|c| c.base.is_some_and(|b| number >= b && number - b < c.ngpio));
            if covered {
                // The chip is there, so the driver itself refused the line (masked, reserved).
                Error::io("write", &plan.export_file, e)
            } else {
                Error::InvalidNumber {
                    number,
                    hint: number_hint(&chips, number),
                }
            }
        }
        _ => Error::io("write", &plan.export_file, e),
    }
}
