//! Chip discovery and global numbering: (chip, offset) -> the number sysfs wants.
//!
//! Global GPIO numbers are not stable. Dynamic bases were allocated downward from 1024 on older
//! kernels (a gpio-sim chip on 6.1 gets 1016) and upward from 512 since 6.6, where a Raspberry
//! Pi 4's header moved from 0-57 to 512-569. The only correct way is the one here: find the chip
//! by label (or device, or base), check the offset against `ngpio`, use `base + offset`.
//!
//! Kernels since 6.17 also have per-chip `chipN/{export,unexport}` attributes taking hardware
//! offsets; with `CONFIG_GPIO_SYSFS_LEGACY=n` they are all there is. Both layouts are read here.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the kernel puts the GPIO sysfs class.
pub const DEFAULT_ROOT: &str = "/sys/class/gpio";

/// Labels of chips that carry a board's main header, preferred when guessing the intended line
/// for a pre-6.6 number.
const HEADER_CHIP_LABELS: &[&str] = &[
    "pinctrl-bcm2835",
    "pinctrl-bcm2711",
    "pinctrl-rp1",
    "tegra-gpio",
];

/// A GPIO sysfs tree: the default `/sys/class/gpio`, or another root (tests point it at a
/// fixture tree).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sysfs {
    root: PathBuf,
}

impl Default for Sysfs {
    fn default() -> Self {
        Self::new()
    }
}

/// How to pick a chip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChipSelector {
    /// By label, e.g. `pinctrl-bcm2711`: the stable way.
    Label(String),
    /// By character-device number: `N` of `/dev/gpiochipN`.
    Device(u32),
    /// By global base, i.e. the `N` of sysfs `gpiochipN`.
    Base(u32),
}

impl From<&str> for ChipSelector {
    /// `"gpiochipN"` or `"/dev/gpiochipN"` selects `/dev/gpiochipN`; anything else is a label.
    fn from(s: &str) -> Self {
        let name = s.strip_prefix("/dev/").unwrap_or(s);
        match name.strip_prefix("gpiochip").and_then(|n| n.parse().ok()) {
            Some(n) => ChipSelector::Device(n),
            None => ChipSelector::Label(s.to_string()),
        }
    }
}

impl From<String> for ChipSelector {
    fn from(s: String) -> Self {
        ChipSelector::from(s.as_str())
    }
}

impl From<&String> for ChipSelector {
    fn from(s: &String) -> Self {
        ChipSelector::from(s.as_str())
    }
}

impl fmt::Display for ChipSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChipSelector::Label(l) => write!(f, "labelled {l:?}"),
            ChipSelector::Device(n) => write!(f, "gpiochip{n} (/dev/gpiochip{n})"),
            ChipSelector::Base(b) => write!(f, "with base {b}"),
        }
    }
}

/// One GPIO chip as sysfs shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChipInfo {
    /// The chip's label, e.g. `pinctrl-bcm2711`.
    pub label: String,
    /// How many lines the chip has.
    pub ngpio: u32,
    /// Global number of line 0 (`gpiochipBASE`); `None` on kernels without the legacy ABI.
    pub base: Option<u32>,
    /// `N` of `/dev/gpiochipN`, when it could be worked out.
    pub device: Option<u32>,
    /// The legacy `gpiochipBASE` directory.
    pub legacy_dir: Option<PathBuf>,
    /// The per-chip `chipN` directory with `export`/`unexport` taking offsets (6.17+).
    pub chip_dir: Option<PathBuf>,
}

impl ChipInfo {
    fn summary(&self) -> String {
        let name = match (self.base, self.device) {
            (Some(b), _) => format!("gpiochip{b} in sysfs"),
            (None, Some(d)) => format!("chip{d}"),
            (None, None) => "no sysfs name".to_string(),
        };
        format!("{:?} ({name}, {} lines)", self.label, self.ngpio)
    }
}

/// A line of a chip, resolved: what to export and where its files appear.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineAddress {
    /// The chip.
    pub chip: ChipInfo,
    /// The hardware offset within the chip.
    pub offset: u32,
}

impl LineAddress {
    /// The global number (`base + offset`), when the kernel has the legacy ABI and the sum
    /// is a number (a `base` file near 2**32 would overflow it: sysfs is read, not trusted).
    pub fn global(&self) -> Option<u32> {
        self.chip.base.and_then(|b| b.checked_add(self.offset))
    }
}

impl fmt::Display for LineAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.global() {
            Some(n) => write!(
                f,
                "GPIO {n} (chip {:?}, offset {})",
                self.chip.label, self.offset
            ),
            None => write!(f, "chip {:?} offset {}", self.chip.label, self.offset),
        }
    }
}

/// What to write where to export a line, and where its attributes then appear.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportPlan {
    /// The `export` file to write.
    pub export_file: PathBuf,
    /// The matching `unexport` file.
    pub unexport_file: PathBuf,
    /// What to write: the hardware offset for a per-chip file, the global number otherwise.
    pub token: String,
    /// The directories the line appears in after export, best first: the legacy `gpioN` (has
    /// `edge` and `active_low`), then the per-chip `chipN/gpioOFFSET` (only `direction` and
    /// `value`).
    pub line_dirs: Vec<PathBuf>,
}

impl Sysfs {
    /// The system's tree at [`DEFAULT_ROOT`].
    pub fn new() -> Self {
        Self::with_root(DEFAULT_ROOT)
    }

    /// A tree at another root, e.g. a fixture in tests.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        Sysfs { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn check_root(&self) -> Result<()> {
        if self.root.is_dir() {
            Ok(())
        } else {
            Err(Error::NoSysfs {
                root: self.root.clone(),
            })
        }
    }

    /// Every chip, sorted by base (chips without a base last, by device number).
    pub fn chips(&self) -> Result<Vec<ChipInfo>> {
        self.check_root()?;
        let entries = fs::read_dir(&self.root).map_err(|e| Error::io("read", &self.root, e))?;
        let mut legacy = Vec::new();
        let mut per_chip = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read", &self.root, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            if numbered(&name, "gpiochip").is_some() {
                if path.join("base").exists() {
                    legacy.extend(skip_vanished(read_legacy_chip(&path))?);
                }
            } else if let Some(id) = numbered(&name, "chip") {
                if path.join("export").exists() {
                    per_chip.extend(skip_vanished(read_per_chip(&path, id))?);
                }
            }
        }
        // Pair each legacy chip with its per-chip directory: both are class devices of the same
        // parent with the same label and size.
        let mut chips = Vec::new();
        for mut chip in legacy {
            let anchor = legacy_anchor(&chip);
            let matching: Vec<usize> = per_chip
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    p.label == chip.label
                        && p.ngpio == chip.ngpio
                        && class_anchor(p.chip_dir.as_deref()) == anchor
                })
                .map(|(i, _)| i)
                .collect();
            if let [i] = matching[..] {
                let p = per_chip.remove(i);
                chip.device = p.device;
                chip.chip_dir = p.chip_dir;
            }
            chips.push(chip);
        }
        chips.extend(per_chip);
        chips.sort_by_key(|c| (c.base.is_none(), c.base, c.device));
        Ok(chips)
    }

    /// The one chip that `selector` names.
    pub fn find_chip(&self, selector: impl Into<ChipSelector>) -> Result<ChipInfo> {
        let selector = selector.into();
        let chips = self.chips()?;
        let matching: Vec<&ChipInfo> = chips
            .iter()
            .filter(|c| match &selector {
                ChipSelector::Label(l) => &c.label == l,
                ChipSelector::Device(d) => c.device == Some(*d),
                ChipSelector::Base(b) => c.base == Some(*b),
            })
            .collect();
        match matching[..] {
            [one] => Ok(one.clone()),
            [] => Err(Error::ChipNotFound {
                selector: selector.to_string(),
                root: self.root.clone(),
                available: list_chips(&chips),
            }),
            _ => Err(Error::AmbiguousChip {
                selector: selector.to_string(),
                candidates: matching
                    .iter()
                    .map(|c| c.summary())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Resolves (chip, offset), checking the offset against the chip's `ngpio`.
    pub fn resolve(&self, chip: impl Into<ChipSelector>, offset: u32) -> Result<LineAddress> {
        let chip = self.find_chip(chip)?;
        if offset >= chip.ngpio {
            return Err(Error::OffsetOutOfRange {
                label: chip.label,
                offset,
                ngpio: chip.ngpio,
            });
        }
        Ok(LineAddress { chip, offset })
    }

    /// Resolves a global number, as legacy scripts use them. A number no chip covers gets
    /// [`Error::InvalidNumber`] with the number the caller probably meant.
    pub fn resolve_global(&self, number: u32) -> Result<LineAddress> {
        let chips = self.chips()?;
        let found = chips
            .iter()
            .find(|c| c.base.is_some_and(|b| number >= b && number - b < c.ngpio));
        match found {
            Some(c) => Ok(LineAddress {
                offset: number - c.base.unwrap_or(0),
                chip: c.clone(),
            }),
            None => Err(Error::InvalidNumber {
                number,
                hint: number_hint(&chips, number),
            }),
        }
    }

    /// How to export `line` on this kernel: per-chip `chipN/export` with the offset where the
    /// kernel has it, else the global `export` with `base + offset`.
    pub fn export_plan(&self, line: &LineAddress) -> Result<ExportPlan> {
        let mut line_dirs = Vec::new();
        if let Some(n) = line.global() {
            line_dirs.push(self.root.join(format!("gpio{n}")));
        }
        if let Some(dir) = &line.chip.chip_dir {
            line_dirs.push(dir.join(format!("gpio{}", line.offset)));
        }
        if let Some(dir) = &line.chip.chip_dir {
            return Ok(ExportPlan {
                export_file: dir.join("export"),
                unexport_file: dir.join("unexport"),
                token: line.offset.to_string(),
                line_dirs,
            });
        }
        match line.global() {
            Some(n) => Ok(ExportPlan {
                export_file: self.root.join("export"),
                unexport_file: self.root.join("unexport"),
                token: n.to_string(),
                line_dirs,
            }),
            None => Err(Error::InvalidArgument(format!(
                "{line} has neither a global number nor a per-chip export file under {}",
                self.root.display()
            ))),
        }
    }
}

/// Explains which number the caller probably meant by `number`, from the chips present.
pub(crate) fn number_hint(chips: &[ChipInfo], number: u32) -> String {
    let mut candidates: Vec<&ChipInfo> = chips
        .iter()
        // A base so high that line `number` would be past 2**32 is no line anyone meant.
        .filter(|c| c.base.and_then(|b| b.checked_add(number)).is_some() && number < c.ngpio)
        .collect();
    if candidates.is_empty() {
        return if chips.is_empty() {
            "no GPIO chips are registered".to_string()
        } else if chips.iter().all(|c| c.base.is_none()) {
            format!(
                "this kernel has no global GPIO numbers at all (CONFIG_GPIO_SYSFS_LEGACY is off): \
                 export by chip and offset; chips present: {}",
                list_chips(chips)
            )
        } else {
            format!(
                "no chip has a line {number}; chips present: {}",
                list_chips(chips)
            )
        };
    }
    // A header chip is what someone typing a bare BCM number means.
    candidates.sort_by_key(|c| (!HEADER_CHIP_LABELS.contains(&c.label.as_str()), c.base));
    let header_first = HEADER_CHIP_LABELS.contains(&candidates[0].label.as_str());
    let describe = |c: &ChipInfo| {
        let base = c.base.unwrap_or(0);
        format!(
            "chip {} has base {base}, so line {number} is {}",
            c.label,
            base.saturating_add(number)
        )
    };
    if candidates.len() == 1 || header_first {
        describe(candidates[0])
    } else {
        let all: Vec<String> = candidates.iter().map(|c| describe(c)).collect();
        format!("if you meant line {number} of a chip: {}", all.join("; "))
    }
}

fn list_chips(chips: &[ChipInfo]) -> String {
    if chips.is_empty() {
        return "none".to_string();
    }
    chips
        .iter()
        .map(ChipInfo::summary)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A chip removed while we read it (its attributes fail with `ENOENT`/`ENODEV`) is not an
/// error: it is simply no longer there.
fn skip_vanished(chip: Result<ChipInfo>) -> Result<Option<ChipInfo>> {
    match chip {
        Ok(c) => Ok(Some(c)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENODEV)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `gpiochip512` with prefix `gpiochip` -> 512; anything else -> None.
fn numbered(name: &str, prefix: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn read_attr(path: &Path) -> Result<String> {
    fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\0']).to_string())
        .map_err(|e| Error::io("read", path, e))
}

fn read_u32(path: &Path) -> Result<u32> {
    let text = read_attr(path)?;
    text.trim().parse().map_err(|_| Error::Parse {
        path: path.to_path_buf(),
        contents: text,
        expected: "a decimal number",
    })
}

/// The kernel names the directory `gpiochip<base>`, but the `base` file is what export
/// takes: it is read, and a directory named otherwise is no reason to stop.
fn read_legacy_chip(dir: &Path) -> Result<ChipInfo> {
    let base = read_u32(&dir.join("base"))?;
    let mut chip = ChipInfo {
        label: read_attr(&dir.join("label"))?,
        ngpio: read_u32(&dir.join("ngpio"))?,
        base: Some(base),
        device: None,
        legacy_dir: Some(dir.to_path_buf()),
        chip_dir: None,
    };
    chip.device = device_of_legacy(dir);
    Ok(chip)
}

fn read_per_chip(dir: &Path, id: u32) -> Result<ChipInfo> {
    Ok(ChipInfo {
        label: read_attr(&dir.join("label"))?,
        ngpio: read_u32(&dir.join("ngpio"))?,
        base: None,
        device: Some(id),
        legacy_dir: None,
        chip_dir: Some(dir.to_path_buf()),
    })
}

fn legacy_anchor(chip: &ChipInfo) -> Option<PathBuf> {
    class_anchor(chip.legacy_dir.as_deref())
}

/// A GPIO class device lives at `<parent device>/gpio/<name>`; returns the parent device.
fn class_anchor(dir: Option<&Path>) -> Option<PathBuf> {
    let real = fs::canonicalize(dir?).ok()?;
    let glue = real.parent()?;
    if glue.file_name()? != "gpio" {
        return None;
    }
    glue.parent().map(Path::to_path_buf)
}

/// Works out `N` of `/dev/gpiochipN` for a legacy chip directory on kernels without `chipN`:
/// the GPIO device `gpiochipN` is the class device's parent, or the only one beside it.
fn device_of_legacy(dir: &Path) -> Option<u32> {
    let anchor = class_anchor(Some(dir))?;
    if let Some(n) = numbered(&anchor.file_name()?.to_string_lossy(), "gpiochip") {
        return Some(n);
    }
    let ids: Vec<u32> = fs::read_dir(&anchor)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| numbered(&e.file_name().to_string_lossy(), "gpiochip"))
        .collect();
    match ids[..] {
        [one] => Some(one),
        _ => None,
    }
}
