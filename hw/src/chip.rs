//! GPIO chips: enumerate `/dev/gpiochip*`, open one by path, name or label, read line info,
//! find lines by name, and watch lines for changes.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use nix::errno::Errno;

use crate::backend::{self, Uapi};
use crate::error::{nearest_names, Error, Result};
use crate::line_info::{InfoChangeEvent, LineInfo};
use crate::settings::Offset;
use crate::uapi::{v1, v2};
use crate::wait;

/// Where the kernel's devtmpfs puts GPIO chips.
pub const DEV_DIR: &str = "/dev";

/// What a chip says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChipInfo {
    /// The device path it was opened by, e.g. `/dev/gpiochip0`.
    pub path: PathBuf,
    /// The kernel's name, e.g. `gpiochip0`.
    pub name: String,
    /// The driver's label, e.g. `pinctrl-bcm2711`.
    pub label: String,
    /// Number of lines.
    pub num_lines: u32,
}

impl ChipInfo {
    /// `name [label]`, how errors name the chip.
    pub fn describe(&self) -> String {
        format!("{} [{}]", self.name, self.label)
    }
}

impl fmt::Display for ChipInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}] ({} lines)",
            self.name, self.label, self.num_lines
        )
    }
}

/// One directory entry that looks like a chip, for de-duplication.
#[derive(Clone, Debug)]
struct Candidate {
    path: PathBuf,
    rdev: u64,
    symlink: bool,
}

/// Keeps one path per device number, preferring the real node over a symlink (Raspberry Pi OS
/// links `gpiochip4 -> gpiochip0` on the Pi 5), then sorts by chip number.
fn dedup_by_device(mut c: Vec<Candidate>) -> Vec<PathBuf> {
    c.sort_by_key(|x| (x.rdev, x.symlink, chip_number(&x.path)));
    c.dedup_by_key(|x| x.rdev);
    let mut paths: Vec<PathBuf> = c.into_iter().map(|x| x.path).collect();
    paths.sort_by_key(|p| (chip_number(p), p.clone()));
    paths
}

fn chip_number(p: &Path) -> u64 {
    p.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("gpiochip"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// The paths of all GPIO character devices, one per chip, in chip-number order.
pub fn chip_paths() -> Result<Vec<PathBuf>> {
    chip_paths_in(Path::new(DEV_DIR))
}

fn chip_paths_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = fs::read_dir(dir)
        .map_err(|e| Error::from_io(e, "", format!("listing {}", dir.display())))?;
    let mut found = Vec::new();
    for entry in rd.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with("gpiochip") {
            continue;
        }
        let path = entry.path();
        // Follow symlinks for the device number; a dangling link is skipped.
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if !meta.file_type().is_char_device() {
            continue;
        }
        let symlink = fs::symlink_metadata(&path)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        found.push(Candidate {
            path,
            rdev: meta.rdev(),
            symlink,
        });
    }
    Ok(dedup_by_device(found))
}

/// Information on every chip, in chip-number order.
pub fn chips() -> Result<Vec<ChipInfo>> {
    chip_paths()?
        .iter()
        .map(|p| Chip::open(p).map(|c| c.info))
        .collect()
}

/// `name [label] (N lines)` for each chip that can be read, for "not found" errors.
fn chip_list() -> Vec<String> {
    chip_paths()
        .unwrap_or_default()
        .iter()
        .map(|p| match Chip::open(p) {
            Ok(c) => c.info.to_string(),
            Err(_) => format!("{} (unreadable)", p.display()),
        })
        .collect()
}

/// A line found by name somewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundLine {
    /// The chip it is on.
    pub chip: ChipInfo,
    /// Its offset there.
    pub offset: Offset,
    /// Its info at the time of the search.
    pub info: LineInfo,
}

/// Finds the first line called `name` on any chip (chips in number order). An unknown name
/// gives the nearest names on all chips.
pub fn find_line(name: &str) -> Result<FoundLine> {
    let mut all_names = Vec::new();
    for path in chip_paths()? {
        let Some(chip) = unless_gone(Chip::open(&path))? else {
            continue;
        };
        let Some(infos) = unless_gone(chip.line_infos())? else {
            continue;
        };
        for info in infos {
            if info.name == name {
                return Ok(FoundLine {
                    chip: chip.info.clone(),
                    offset: info.offset,
                    info,
                });
            }
            all_names.push(info.name);
        }
    }
    Err(Error::LineNotFound {
        name: name.to_owned(),
        chip: None,
        suggestions: nearest_names(name, all_names.iter().map(String::as_str)),
    })
}

/// For a search over the chips listed a moment ago: a chip removed since (a hot-unplugged
/// expander, another program's simulated chip) is `None`, not the one wanted and no reason
/// to fail the search; any other error stands.
pub(crate) fn unless_gone<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::ChipGone { .. } | Error::ChipNotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An open GPIO chip.
#[derive(Debug)]
pub struct Chip {
    file: File,
    info: ChipInfo,
    uapi: Uapi,
    // gpio-cdev keeps its own fd; opened on first v1 use.
    v1: Mutex<Option<v1::CdevChip>>,
}

impl Chip {
    /// Opens the chip at `path`, using the uAPI the kernel offers (v2 if it has it).
    pub fn open(path: impl AsRef<Path>) -> Result<Chip> {
        Chip::open_with(path, None)
    }

    /// Opens the chip at `path`; `uapi` forces a version, `None` detects.
    pub fn open_with(path: impl AsRef<Path>, uapi: Option<Uapi>) -> Result<Chip> {
        let path = path.as_ref();
        let file = File::options()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => Error::ChipNotFound {
                    wanted: path.display().to_string(),
                    available: chip_list(),
                },
                _ => Error::from_io(
                    e,
                    &path.display().to_string(),
                    format!("opening {}", path.display()),
                ),
            })?;
        let raw = v2::get_chip_info(file.as_fd()).map_err(|e| match e {
            // The node opened, then its chip went: removed in between.
            Errno::ENODEV => Error::ChipGone {
                chip: path.display().to_string(),
            },
            e => Error::NotAChip {
                path: path.to_owned(),
                source: io::Error::from_raw_os_error(e as i32),
            },
        })?;
        let info = ChipInfo {
            path: path.to_owned(),
            name: v2::buf_str(&raw.name),
            label: v2::buf_str(&raw.label),
            num_lines: raw.lines,
        };
        let uapi = match uapi {
            // Refused here, once, rather than as a puzzling EINVAL from the first v1 call.
            Some(Uapi::V1) if !crate::uapi::v1::available(file.as_fd(), info.num_lines) => {
                return Err(backend::unavailable(Uapi::V1, &info.name));
            }
            Some(u) => u,
            None => backend::detect(file.as_fd(), info.num_lines),
        };
        Ok(Chip {
            file,
            info,
            uapi,
            v1: Mutex::new(None),
        })
    }

    /// Opens a chip by anything a user might type: a path (`/dev/gpiochip0`), a name
    /// (`gpiochip0`), a number (`0`) or a label (`pinctrl-bcm2711`).
    pub fn find(spec: &str) -> Result<Chip> {
        Chip::find_with(spec, None)
    }

    /// [`Chip::find`] with a forced uAPI.
    pub fn find_with(spec: &str, uapi: Option<Uapi>) -> Result<Chip> {
        if spec.contains('/') {
            return Chip::open_with(spec, uapi);
        }
        if spec.bytes().all(|b| b.is_ascii_digit()) && !spec.is_empty() {
            return Chip::open_by_name_with(&format!("gpiochip{spec}"), uapi);
        }
        if spec.starts_with("gpiochip") && Path::new(DEV_DIR).join(spec).exists() {
            return Chip::open_by_name_with(spec, uapi);
        }
        Chip::open_by_label_with(spec, uapi)
    }

    /// Opens `/dev/<name>`, e.g. `gpiochip0`.
    pub fn open_by_name(name: &str) -> Result<Chip> {
        Chip::open_by_name_with(name, None)
    }

    fn open_by_name_with(name: &str, uapi: Option<Uapi>) -> Result<Chip> {
        let path = Path::new(DEV_DIR).join(name);
        if !path.exists() {
            return Err(Error::ChipNotFound {
                wanted: name.to_owned(),
                available: chip_list(),
            });
        }
        Chip::open_with(path, uapi)
    }

    /// Opens the first chip (in number order) whose label is `label`: the stable way to find a
    /// SoC's chip, as chip numbers change between kernels.
    pub fn open_by_label(label: &str) -> Result<Chip> {
        Chip::open_by_label_with(label, None)
    }

    pub(crate) fn open_by_label_with(label: &str, uapi: Option<Uapi>) -> Result<Chip> {
        let mut seen = Vec::new();
        for path in chip_paths()? {
            let Some(chip) = unless_gone(Chip::open_with(&path, uapi))? else {
                continue;
            };
            if chip.info.label == label {
                return Ok(chip);
            }
            seen.push(chip.info.to_string());
        }
        Err(Error::ChipNotFound {
            wanted: label.to_owned(),
            available: seen,
        })
    }

    /// Name, label, line count and path.
    pub fn info(&self) -> &ChipInfo {
        &self.info
    }

    /// The uAPI this chip handle speaks.
    pub fn uapi(&self) -> Uapi {
        self.uapi
    }

    /// The path it was opened by.
    pub fn path(&self) -> &Path {
        &self.info.path
    }

    pub(crate) fn check_offset(&self, offset: Offset) -> Result<()> {
        if offset >= self.info.num_lines {
            return Err(Error::OffsetOutOfRange {
                chip: self.info.describe(),
                offset,
                num_lines: self.info.num_lines,
            });
        }
        Ok(())
    }

    /// Whether the kernel answers uAPI v1 on this chip (see [`crate::uapi::v1::available`]).
    pub(crate) fn speaks_uapi_v1(&self) -> bool {
        crate::uapi::v1::available(self.file.as_fd(), self.info.num_lines)
    }

    pub(crate) fn errno(&self, e: Errno, action: impl Into<String>, version: Uapi) -> Error {
        if e == Errno::ENOTTY {
            return backend::unavailable(version, &self.info.name);
        }
        Error::from_errno(e, &self.info.name, action)
    }

    /// What the kernel reports about one line.
    pub fn line_info(&self, offset: Offset) -> Result<LineInfo> {
        self.check_offset(offset)?;
        match self.uapi {
            Uapi::V2 => {
                let mut raw = v2::LineInfo::for_offset(offset);
                v2::get_line_info(self.file.as_fd(), &mut raw).map_err(|e| {
                    self.errno(
                        e,
                        format!("reading info of line {offset} on {}", self.info.name),
                        Uapi::V2,
                    )
                })?;
                Ok(LineInfo::from_v2(&raw))
            }
            Uapi::V1 => {
                let mut guard = self.v1.lock().unwrap_or_else(|p| p.into_inner());
                if guard.is_none() {
                    // gpio-cdev opens the chip again by path; ours is open, so a missing
                    // node means the chip was removed in between.
                    *guard = Some(v1::CdevChip::new(&self.info.path).map_err(|e| {
                        match backend::cdev_errno(&e) {
                            Some(nix::errno::Errno::ENOENT) => Error::ChipGone {
                                chip: self.info.name.clone(),
                            },
                            _ => backend::cdev_error(
                                e,
                                self,
                                format!("opening {} for uAPI v1", self.info.path.display()),
                            ),
                        }
                    })?);
                }
                let chip = guard.as_mut().expect("just set");
                let info = chip.get_line(offset).and_then(|l| l.info()).map_err(|e| {
                    backend::cdev_error(
                        e,
                        self,
                        format!("reading info of line {offset} on {}", self.info.name),
                    )
                })?;
                Ok(LineInfo::from_v1(offset, &info))
            }
        }
    }

    /// Info of every line, in offset order.
    pub fn line_infos(&self) -> Result<Vec<LineInfo>> {
        (0..self.info.num_lines)
            .map(|o| self.line_info(o))
            .collect()
    }

    /// The offset of the line called `name`; an unknown name gives the nearest names.
    pub fn line_offset(&self, name: &str) -> Result<Offset> {
        let infos = self.line_infos()?;
        if let Some(i) = infos.iter().find(|i| i.name == name) {
            return Ok(i.offset);
        }
        Err(Error::LineNotFound {
            name: name.to_owned(),
            chip: Some(self.info.describe()),
            suggestions: nearest_names(name, infos.iter().map(|i| i.name.as_str())),
        })
    }

    /// Starts watching a line (uAPI v2): requests, releases and reconfigurations of it are
    /// then reported by [`Chip::read_info_event`]. Returns the line's current info.
    pub fn watch_line_info(&self, offset: Offset) -> Result<LineInfo> {
        self.check_offset(offset)?;
        let mut raw = v2::LineInfo::for_offset(offset);
        v2::watch_line_info(self.file.as_fd(), &mut raw).map_err(|e| match e {
            Errno::EBUSY => Error::InvalidConfig(format!(
                "line {offset} on {} is already watched through this chip handle",
                self.info.name
            )),
            e => self.errno(
                e,
                format!("watching line {offset} on {}", self.info.name),
                Uapi::V2,
            ),
        })?;
        Ok(LineInfo::from_v2(&raw))
    }

    /// Stops watching a line.
    pub fn unwatch_line_info(&self, offset: Offset) -> Result<()> {
        self.check_offset(offset)?;
        v2::unwatch_line_info(self.file.as_fd(), offset).map_err(|e| {
            self.errno(
                e,
                format!("unwatching line {offset} on {}", self.info.name),
                Uapi::V2,
            )
        })
    }

    fn alive(&self) -> Result<()> {
        v2::get_chip_info(self.file.as_fd()).map(drop).map_err(|e| {
            Error::from_errno(e, &self.info.name, format!("checking {}", self.info.name))
        })
    }

    /// Waits up to `timeout` (`None`: forever) for an info-change event; `true` if one is ready.
    pub fn wait_info_event(&self, timeout: Option<Duration>) -> Result<bool> {
        wait::readable(
            self.file.as_fd(),
            timeout,
            || self.alive(),
            |e| {
                Error::from_errno(
                    e,
                    &self.info.name,
                    format!("waiting for line info changes on {}", self.info.name),
                )
            },
        )
    }

    /// Reads the next info-change event, blocking until one arrives.
    pub fn read_info_event(&self) -> Result<InfoChangeEvent> {
        loop {
            self.wait_info_event(None)?;
            if let Some(e) = self.read_ready_info_event()? {
                return Ok(e);
            }
        }
    }

    /// Reads the next info-change event if one arrives within `timeout`.
    pub fn read_info_event_timeout(&self, timeout: Duration) -> Result<Option<InfoChangeEvent>> {
        if !self.wait_info_event(Some(timeout))? {
            return Ok(None);
        }
        self.read_ready_info_event()
    }

    fn read_ready_info_event(&self) -> Result<Option<InfoChangeEvent>> {
        let mut buf = [0u8; v2::LineInfoChanged::SIZE];
        let action = || format!("reading line info changes from {}", self.info.name);
        let n = match (&self.file).read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                return Ok(None)
            }
            Err(e) => return Err(Error::from_io(e, &self.info.name, action())),
        };
        if n == 0 {
            return Err(Error::ChipGone {
                chip: self.info.name.clone(),
            });
        }
        let raw = v2::LineInfoChanged::from_bytes(&buf[..n]).ok_or_else(|| Error::Io {
            action: action(),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!("short record of {n} bytes"),
            ),
        })?;
        Ok(InfoChangeEvent::from_v2(&raw))
    }
}

impl AsFd for Chip {
    /// The chip fd: readable when a watched line changed.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for Chip {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(path: &str, rdev: u64, symlink: bool) -> Candidate {
        Candidate {
            path: path.into(),
            rdev,
            symlink,
        }
    }

    #[test]
    fn symlinked_chips_appear_once_under_the_real_name() {
        // Raspberry Pi OS on a Pi 5: gpiochip4 -> gpiochip0.
        let got = dedup_by_device(vec![
            cand("/dev/gpiochip4", 254 << 8, true),
            cand("/dev/gpiochip1", (254 << 8) | 1, false),
            cand("/dev/gpiochip0", 254 << 8, false),
            cand("/dev/gpiochip10", (254 << 8) | 10, false),
            cand("/dev/gpiochip2", (254 << 8) | 2, false),
        ]);
        let want: Vec<PathBuf> = [
            "/dev/gpiochip0",
            "/dev/gpiochip1",
            "/dev/gpiochip2",
            "/dev/gpiochip10",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn enumeration_skips_non_devices() {
        let dir = std::env::temp_dir().join(format!("hw-chips-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("gpiochip0"), b"not a device").unwrap();
        assert!(chip_paths_in(&dir).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_chip_is_not_found() {
        let e = Chip::open("/nonexistent/gpiochip77").unwrap_err();
        assert!(matches!(e, Error::ChipNotFound { .. }), "{e}");
        assert!(e
            .to_string()
            .starts_with("GPIO chip '/nonexistent/gpiochip77' not found"));
        let e = Chip::find("no-such-label-xyz").unwrap_err();
        assert!(matches!(e, Error::ChipNotFound { .. }), "{e}");
    }

    #[test]
    fn a_file_that_is_not_a_chip_is_named() {
        let e = Chip::open("/dev/null").unwrap_err();
        assert!(matches!(e, Error::NotAChip { .. }), "{e}");
        assert!(e
            .to_string()
            .starts_with("/dev/null is not a GPIO character device"));
    }

    #[test]
    fn a_chip_gone_from_a_listing_is_skipped_and_other_errors_stand() {
        let gone = Err(Error::ChipGone {
            chip: "gpiochip3".into(),
        });
        assert!(matches!(unless_gone::<()>(gone), Ok(None)));
        let missing = Err(Error::ChipNotFound {
            wanted: "/dev/gpiochip3".into(),
            available: vec![],
        });
        assert!(matches!(unless_gone::<()>(missing), Ok(None)));
        assert!(matches!(unless_gone(Ok(7)), Ok(Some(7))));
        let other = Err(Error::InvalidConfig("bad".into()));
        assert!(matches!(
            unless_gone::<()>(other),
            Err(Error::InvalidConfig(_))
        ));
    }
}
