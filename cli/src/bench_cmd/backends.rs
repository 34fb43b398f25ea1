//! The backends `hwkit bench` measures, how each one takes hold of the lines, and the lines.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use hw::backend::register::RegisterBackend;
use hw::{Chip, LibgpiodBackend, Request, SysfsBackend, Uapi, Value};
use sysfs_gpio::{IoPath, Sysfs, SysfsLine};

use super::floor;
use crate::gpio_cmd::lines::Target;

/// One way of toggling a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A bare `GPIO_V2_LINE_SET_VALUES_IOCTL` on a request fd: the character device's floor.
    FloorIoctl,
    /// hw's character-device backend, uAPI v2.
    V2,
    /// hw's character-device backend, uAPI v1 (through the `gpio-cdev` crate).
    V1,
    /// libgpiod (2.x where installed, else 1.x) through ffi-core's dynamic calls.
    Libgpiod,
    /// hw's register backend: held through uAPI v2, levels through the SoC's registers.
    Register,
    /// A bare `pwrite` on a held sysfs `value` fd: sysfs's floor.
    FloorPwrite,
    /// hw's sysfs backend, `value` fd held, native system calls.
    Sysfs,
    /// The same, its calls made through ffi-core.
    SysfsFfi,
    /// open, write and close of `value` per toggle, as many scripts do.
    SysfsNaive,
}

impl Kind {
    /// Every kind, in the order a run measures them.
    pub const ALL: [Kind; 9] = [
        Kind::FloorIoctl,
        Kind::V2,
        Kind::V1,
        Kind::Libgpiod,
        Kind::Register,
        Kind::FloorPwrite,
        Kind::Sysfs,
        Kind::SysfsFfi,
        Kind::SysfsNaive,
    ];

    /// The name in reports and in `--backend`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::FloorIoctl => "floor-ioctl",
            Kind::V2 => "v2",
            Kind::V1 => "v1",
            Kind::Libgpiod => "libgpiod",
            Kind::Register => "register",
            Kind::FloorPwrite => "floor-pwrite",
            Kind::Sysfs => "sysfs",
            Kind::SysfsFfi => "sysfs-ffi",
            Kind::SysfsNaive => "sysfs-naive",
        }
    }

    /// The floor this backend is compared with (none for the floors themselves).
    pub fn floor(self) -> Option<Kind> {
        match self {
            Kind::FloorIoctl | Kind::FloorPwrite => None,
            // The register backend is compared with the ioctl it replaces.
            Kind::V2 | Kind::V1 | Kind::Libgpiod | Kind::Register => Some(Kind::FloorIoctl),
            Kind::Sysfs | Kind::SysfsFfi | Kind::SysfsNaive => Some(Kind::FloorPwrite),
        }
    }

    /// The floors are measured whenever a backend over them is.
    fn is_floor(self) -> bool {
        self.floor().is_none()
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `--backend` chose: `all`, or a list of backends (their floors come with them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendList {
    /// Every backend this machine has; the others are reported as unavailable.
    All,
    /// These; one that is unavailable is an error.
    Named(Vec<Kind>),
}

impl FromStr for BackendList {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "all" {
            return Ok(BackendList::All);
        }
        let mut kinds = Vec::new();
        for word in s.split(',').map(str::trim) {
            let kind = Kind::ALL
                .into_iter()
                .find(|k| k.name() == word && !k.is_floor())
                .ok_or_else(|| {
                    format!(
                        "unknown backend '{word}' in '{s}': give a comma-separated list of v2, \
                         v1, libgpiod, register, sysfs, sysfs-ffi, sysfs-naive, or all (floors \
                         are measured with their backends)"
                    )
                })?;
            if kinds.contains(&kind) {
                return Err(format!("backend '{word}' is named twice in '{s}'"));
            }
            kinds.push(kind);
        }
        Ok(BackendList::Named(kinds))
    }
}

impl BackendList {
    /// The kinds to measure, in run order, with the floors their backends need; whether each
    /// was named (an unavailable named backend is an error, not a gap in the report).
    pub fn kinds(&self) -> Vec<(Kind, bool)> {
        match self {
            BackendList::All => Kind::ALL.into_iter().map(|k| (k, false)).collect(),
            BackendList::Named(named) => Kind::ALL
                .into_iter()
                .filter(|k| named.contains(k) || named.iter().any(|n| n.floor() == Some(*k)))
                .map(|k| (k, named.contains(&k)))
                .collect(),
        }
    }
}

/// The lines a benchmark toggles: consecutive offsets of one chip.
#[derive(Clone, Debug)]
pub struct BenchLines {
    /// The LINE argument.
    pub arg: String,
    /// The chip's kernel name.
    pub chip: String,
    /// Its character device.
    pub dev_path: PathBuf,
    /// The offsets, the named line first.
    pub offsets: Vec<u32>,
}

impl BenchLines {
    /// `count` lines from `target` on, all on its chip.
    pub fn new(target: &Target, count: u32) -> Result<BenchLines, String> {
        let chip = Chip::open(&target.dev_path).map_err(|e| e.to_string())?;
        let num_lines = chip.info().num_lines;
        if target.offset >= num_lines {
            return Err(format!(
                "'{}' is offset {}, but {} has {num_lines} lines (offsets 0 to {}): give one \
                 of them",
                target.arg,
                target.offset,
                target.chip,
                num_lines.saturating_sub(1)
            ));
        }
        let last = u64::from(target.offset) + u64::from(count) - 1;
        if last >= u64::from(num_lines) {
            return Err(format!(
                "--lines {count} from '{}' (offset {}) runs past the end of {}, which has {} \
                 lines: give --lines {} or fewer, or an earlier line",
                target.arg,
                target.offset,
                target.chip,
                num_lines,
                num_lines - target.offset
            ));
        }
        Ok(BenchLines {
            arg: target.arg.clone(),
            chip: target.chip.clone(),
            dev_path: target.dev_path.clone(),
            offsets: (target.offset..=last as u32).collect(),
        })
    }

    /// `gpiochip0 line 17` or `gpiochip0 lines 17-20`.
    pub fn describe(&self) -> String {
        match self.offsets.as_slice() {
            [one] => format!("{} line {one}", self.chip),
            [first, .., last] => format!("{} lines {first}-{last}", self.chip),
            [] => self.chip.clone(),
        }
    }
}

/// One toggle: drive every line high (`true`) or low.
pub type Toggle = Box<dyn FnMut(bool) -> Result<(), String>>;

/// Why a backend could not take hold of the lines.
#[derive(Debug)]
pub enum SetupError {
    /// This machine does not have it (kernel option, library, interface): reported, not fatal
    /// unless the backend was named.
    Unavailable(String),
    /// It is there but failed: always fatal.
    Failed(String),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Unavailable(m) | SetupError::Failed(m) => f.write_str(m),
        }
    }
}

/// Sorts hw's errors: what the system lacks, or a failure.
fn from_hw(e: hw::Error) -> SetupError {
    match e {
        hw::Error::UapiUnavailable { .. } | hw::Error::Unsupported { .. } => {
            SetupError::Unavailable(e.to_string())
        }
        e => SetupError::Failed(e.to_string()),
    }
}

/// Sorts sysfs-gpio's errors the same way.
fn from_sysfs(e: sysfs_gpio::Error) -> SetupError {
    match e {
        sysfs_gpio::Error::NoSysfs { .. } => SetupError::Unavailable(e.to_string()),
        e => SetupError::Failed(e.to_string()),
    }
}

/// Takes hold of the lines as outputs, driven low, through `kind`; the toggle holds them until
/// it is dropped.
pub fn setup(kind: Kind, lines: &BenchLines, consumer: &str) -> Result<Toggle, SetupError> {
    let builder = || {
        Request::builder()
            .on_chip(&lines.dev_path)
            .consumer(consumer)
            .with_lines(&lines.offsets)
            .as_output(Value::Inactive)
    };
    match kind {
        Kind::FloorIoctl => {
            let req = builder().with_uapi(Uapi::V2).request().map_err(from_hw)?;
            floor::ioctl_toggle(req, lines.offsets.len()).map_err(SetupError::Failed)
        }
        Kind::V2 | Kind::V1 => {
            let uapi = if kind == Kind::V2 { Uapi::V2 } else { Uapi::V1 };
            Ok(request_toggle(
                builder().with_uapi(uapi).request().map_err(from_hw)?,
                lines,
            ))
        }
        Kind::Libgpiod => {
            let backend =
                LibgpiodBackend::open().map_err(|e| SetupError::Unavailable(e.to_string()))?;
            Ok(request_toggle(
                builder().request_with(&backend).map_err(from_hw)?,
                lines,
            ))
        }
        Kind::Register => {
            let req = builder()
                .request_with(&RegisterBackend::new())
                .map_err(|e| match e {
                    hw::Error::Register(_) => SetupError::Unavailable(e.to_string()),
                    e => from_hw(e),
                })?;
            Ok(request_toggle(req, lines))
        }
        Kind::Sysfs | Kind::SysfsFfi => {
            sysfs_present()?;
            let backend = if kind == Kind::Sysfs {
                SysfsBackend::native()
            } else {
                SysfsBackend::ffi()
            };
            Ok(request_toggle(
                builder().request_with(&backend).map_err(from_hw)?,
                lines,
            ))
        }
        Kind::FloorPwrite | Kind::SysfsNaive => {
            let exported = sysfs_outputs(lines)?;
            let toggle = if kind == Kind::FloorPwrite {
                floor::pwrite_toggle(exported)
            } else {
                floor::naive_toggle(exported)
            };
            toggle.map_err(SetupError::Failed)
        }
    }
}

/// What a backend's name does not say: which libgpiod, which I/O path.
pub fn detail(kind: Kind) -> Option<String> {
    match kind {
        Kind::Libgpiod => LibgpiodBackend::open()
            .ok()
            .map(|b| format!("libgpiod {} ({})", b.version(), b.library())),
        Kind::SysfsFfi => Some("libc's pwrite called through ffi-core".into()),
        Kind::SysfsNaive => Some("open, write, close per toggle, as scripts do".into()),
        Kind::FloorIoctl => Some("bare GPIO_V2_LINE_SET_VALUES_IOCTL on the request fd".into()),
        Kind::FloorPwrite => Some("bare pwrite on a held value fd".into()),
        Kind::V1 => Some("through the gpio-cdev crate".into()),
        Kind::Register => Some(
            "SET/CLR register stores; QEMU traps each one, so emulated figures are not a board's"
                .into(),
        ),
        Kind::V2 | Kind::Sysfs => None,
    }
}

/// A held request's `set_value` (one line, as most programs call it) or `set_all`, with both
/// value lists made up front (no allocation per toggle).
fn request_toggle(mut req: Request, lines: &BenchLines) -> Toggle {
    if let [offset] = lines.offsets[..] {
        return Box::new(move |up| {
            req.set_value(offset, Value::from(up))
                .map_err(|e| e.to_string())
        });
    }
    let n = lines.offsets.len();
    let (high, low) = (vec![Value::Active; n], vec![Value::Inactive; n]);
    Box::new(move |up| {
        req.set_all(if up { &high } else { &low })
            .map_err(|e| e.to_string())
    })
}

/// The sysfs interface is there (checked before hw's sysfs backend, whose error for a missing
/// interface is not told apart from other I/O errors).
fn sysfs_present() -> Result<(), SetupError> {
    let sysfs = Sysfs::new();
    if sysfs.root().exists() {
        Ok(())
    } else {
        Err(SetupError::Unavailable(
            sysfs_gpio::Error::NoSysfs {
                root: sysfs.root().to_owned(),
            }
            .to_string(),
        ))
    }
}

/// The lines exported through sysfs as outputs driven low.
fn sysfs_outputs(lines: &BenchLines) -> Result<Vec<SysfsLine>, SetupError> {
    sysfs_present()?;
    let sysfs = Sysfs::new();
    lines
        .offsets
        .iter()
        .map(|&o| {
            let mut line = sysfs
                .open_line(lines.chip.as_str(), o, IoPath::Native)
                .map_err(from_sysfs)?;
            line.set_output(false).map_err(from_sysfs)?;
            Ok(line)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_lists_bring_their_floors() {
        let kinds = "sysfs,v1".parse::<BackendList>().unwrap().kinds();
        assert_eq!(
            kinds,
            [
                (Kind::FloorIoctl, false),
                (Kind::V1, true),
                (Kind::FloorPwrite, false),
                (Kind::Sysfs, true)
            ]
        );
        let all = BackendList::All.kinds();
        assert_eq!(all.len(), Kind::ALL.len());
        assert!(all.iter().all(|(_, named)| !named));
    }

    #[test]
    fn backend_lists_refuse_unknown_floor_and_repeated_names() {
        let e = "v2,gpiod".parse::<BackendList>().unwrap_err();
        assert!(e.contains("unknown backend 'gpiod' in 'v2,gpiod'"), "{e}");
        assert!(
            e.contains("v2, v1, libgpiod, register, sysfs, sysfs-ffi, sysfs-naive, or all"),
            "{e}"
        );
        let e = "floor-ioctl".parse::<BackendList>().unwrap_err();
        assert!(e.contains("floors are measured with their backends"), "{e}");
        let e = "v2, v2".parse::<BackendList>().unwrap_err();
        assert!(e.contains("backend 'v2' is named twice"), "{e}");
    }

    #[test]
    fn every_backend_has_a_distinct_name_and_a_floor_that_is_one() {
        let mut names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
        for k in Kind::ALL {
            if let Some(f) = k.floor() {
                assert!(f.is_floor(), "{k}'s floor {f}");
            }
        }
    }
}
