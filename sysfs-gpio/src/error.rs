//! Errors that say what went wrong with a sysfs GPIO line and what would be right.
//!
//! The raw errno of a sysfs write is rarely enough: `EINVAL` from `export` usually means the
//! caller used a pre-6.6 number, `EBUSY` means someone else holds the line, `EACCES` right after
//! export means udev has not fixed the permissions yet (or never will). [`Error`] carries that
//! explanation in its message.

use crate::numbering::LineAddress;
use std::io;
use std::path::PathBuf;

/// Result of every fallible operation of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with a sysfs GPIO line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sysfs GPIO class directory does not exist.
    #[error(
        "{root} does not exist: this kernel was built without CONFIG_GPIO_SYSFS (kernels 6.17 and \
         later also need CONFIG_GPIO_SYSFS_LEGACY for the global export file and the gpioN \
         directories); use the GPIO character device (/dev/gpiochipN) instead, or a kernel with \
         the sysfs interface"
    )]
    NoSysfs {
        /// The directory that was looked for.
        root: PathBuf,
    },

    /// No chip matched the selector.
    #[error("no GPIO chip {selector} under {root}; chips present: {available}")]
    ChipNotFound {
        /// The selector as the user gave it (`label "foo"`, `gpiochip3`, `with base 512`).
        selector: String,
        /// The sysfs root that was searched.
        root: PathBuf,
        /// The chips that do exist, one `label (gpiochipBASE, N lines)` each.
        available: String,
    },

    /// More than one chip matched the selector.
    #[error("GPIO chip {selector} is ambiguous: it matches {candidates}; select the chip by its base instead")]
    AmbiguousChip {
        /// The selector as the user gave it.
        selector: String,
        /// The chips that matched.
        candidates: String,
    },

    /// The offset is not a line of the chip.
    #[error(
        "offset {offset} is out of range for chip {label:?}: it has {ngpio} lines, so valid \
         offsets are 0 to {}", ngpio.saturating_sub(1)
    )]
    OffsetOutOfRange {
        /// The chip's label.
        label: String,
        /// The offset that was asked for.
        offset: u32,
        /// How many lines the chip has.
        ngpio: u32,
    },

    /// The kernel refused a global GPIO number (`EINVAL` on export), or no chip covers it.
    #[error(
        "export {number} failed: {number} is not a valid GPIO number on this kernel; {hint}. \
         Since Linux 6.6 global GPIO numbers are no longer the SoC/header numbers: every chip \
         gets a dynamic base (from 512 upward; older kernels allocated them downward from 1024) \
         and a line's number is base + offset. Select lines by chip label and offset instead"
    )]
    InvalidNumber {
        /// The global number that was refused.
        number: u32,
        /// What the right number probably is, from the chips present.
        hint: String,
    },

    /// The line is held by someone else (`EBUSY` on export).
    #[error(
        "{line} is busy: it is held through the GPIO character device (/dev/gpiochipN, e.g. by \
         libgpiod, gpioset/gpiomon or another program) or by a kernel driver (LED, key, SPI chip \
         select, device-tree hog){}; release it there first, or use the character device too",
        holder.as_ref().map(|h| format!(" - held by consumer \"{h}\"")).unwrap_or_default()
    )]
    Busy {
        /// The line, e.g. `GPIO 1016 (chip "sim-a", offset 0)`.
        line: String,
        /// The consumer holding it, from `/sys/kernel/debug/gpio` when that is readable.
        holder: Option<String>,
    },

    /// Permission denied on a sysfs file.
    #[error(
        "permission denied on {}: the sysfs GPIO files belong to root until a udev rule gives \
         them to a group (e.g. SUBSYSTEM==\"gpio\", PROGRAM=\"/bin/sh -c 'chgrp -R gpio \
         /sys/class/gpio /sys%p && chmod -R g=u /sys/class/gpio /sys%p'\"); add your user to that \
         group (then log in again) or run as root. Waited {waited_ms} ms for udev after export",
        path.display()
    )]
    PermissionDenied {
        /// The file that could not be opened or written.
        path: PathBuf,
        /// How long we retried before giving up.
        waited_ms: u64,
    },

    /// The line directory did not appear after export.
    #[error("{} did not appear within {waited_ms} ms after writing {token} to {}", line_dir.display(), export_file.display())]
    ExportTimeout {
        /// The directory that was waited for.
        line_dir: PathBuf,
        /// The export file that was written.
        export_file: PathBuf,
        /// What was written to it.
        token: String,
        /// How long we waited.
        waited_ms: u64,
    },

    /// An attribute the operation needs does not exist for this line.
    #[error("{line} has no {attr} attribute: {why}")]
    Unsupported {
        /// The line.
        line: String,
        /// The missing attribute (`edge`, `active_low`, `direction`).
        attr: &'static str,
        /// Why it is missing and what to do.
        why: &'static str,
    },

    /// A sysfs file held something this crate does not understand.
    #[error("unexpected contents {contents:?} in {}: expected {expected}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it held.
        contents: String,
        /// What was expected.
        expected: &'static str,
    },

    /// A value given by the caller is not valid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The ffi-core I/O path could not be set up.
    #[error("the ffi-core I/O path is not available: {0}")]
    Ffi(String),

    /// The line's directory vanished: the line was unexported behind our back, or its chip
    /// was removed.
    #[error(
        "{line} is gone: {} no longer exists (its chip was removed or the line unexported); \
         open the line again once the chip is back",
        dir.display()
    )]
    LineGone {
        /// The line.
        line: String,
        /// Its directory, e.g. `/sys/class/gpio/gpio512`.
        dir: PathBuf,
    },

    /// Any other I/O failure, with the operation and file it happened on.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`open`, `write`, `read`, `poll`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The OS error number behind this error, if there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            Error::PermissionDenied { .. } => Some(libc::EACCES),
            Error::Busy { .. } => Some(libc::EBUSY),
            Error::InvalidNumber { .. } => Some(libc::EINVAL),
            Error::NoSysfs { .. } => Some(libc::ENOENT),
            Error::LineGone { .. } => Some(libc::ENODEV),
            _ => None,
        }
    }
}

/// Reads the consumer of `line` from debugfs (`/sys/kernel/debug/gpio`), if that is mounted
/// and readable. Optional by design: most systems do not mount debugfs for users.
pub(crate) fn debugfs_holder(line: &LineAddress) -> Option<String> {
    let text = std::fs::read_to_string("/sys/kernel/debug/gpio").ok()?;
    parse_debugfs_holder(&text, line)
}

/// Finds the consumer of `line` in debugfs text. Each chip has a section; kernels up to 6.x
/// head it `gpiochip3: GPIOs 1016-1023, parent: ..., LABEL:` and number its lines globally
/// (` gpio-1016 (NAME |CONSUMER ) out lo`), newer ones head it `gpiochip1: 4 GPIOs, parent:
/// ..., LABEL, can sleep:` and number lines by offset; a driver with its own listing (gpio-sim
/// on 7.x) prints ` gpio-1 (CONSUMER) input,pull-down`, and `<unused>` for a free line.
pub(crate) fn parse_debugfs_holder(text: &str, line: &LineAddress) -> Option<String> {
    let mut wanted: Option<u32> = None;
    for l in text.lines() {
        if !l.starts_with(' ') {
            // A section header: the chip is ours if its label or device name says so.
            wanted = section_line_number(l, line);
            continue;
        }
        // ` gpio-17  (`: the number is padded to three digits on newer kernels.
        let number = l.trim_start().strip_prefix("gpio-").and_then(|r| {
            let end = r.find(|c: char| !c.is_ascii_digit())?;
            r[..end].parse::<u32>().ok()
        });
        if wanted.is_none() || number != wanted {
            continue;
        }
        let inner = &l[l.find('(')? + 1..];
        let inner = &inner[..inner.rfind(')')?];
        let consumer = inner
            .split_once('|')
            .map(|(_, c)| c)
            .unwrap_or(inner)
            .trim();
        return (!consumer.is_empty() && consumer != "<unused>").then(|| consumer.to_string());
    }
    None
}

/// If the debugfs section `header` is `line`'s chip, the number its lines are listed by.
fn section_line_number(header: &str, line: &LineAddress) -> Option<u32> {
    let (dev, rest) = header.split_once(": ")?;
    let fields: Vec<&str> = rest.trim_end_matches(':').split(", ").collect();
    let by_device = line
        .chip
        .device
        .is_some_and(|d| dev == format!("gpiochip{d}"));
    let by_label = fields.iter().skip(2).any(|f| *f == line.chip.label);
    if !(by_device || by_label) {
        return None;
    }
    match fields.first()?.strip_prefix("GPIOs ") {
        // Global numbering: the range must hold the line's number.
        Some(range) => {
            let (lo, hi) = range.split_once('-')?;
            let n = line.global()?;
            (lo.parse::<u32>().ok()? <= n && n <= hi.parse().ok()?).then_some(n)
        }
        None => Some(line.offset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numbering::ChipInfo;

    fn addr(label: &str, base: Option<u32>, device: Option<u32>, offset: u32) -> LineAddress {
        LineAddress {
            chip: ChipInfo {
                label: label.into(),
                ngpio: 8,
                base,
                device,
                legacy_dir: None,
                chip_dir: None,
            },
            offset,
        }
    }

    #[test]
    fn debugfs_holder_is_parsed_from_6_1_format() {
        let text = "gpiochip2: GPIOs 1008-1015, parent: platform/gpio-sim.1, other:\n \
                    gpio-1008 (                    |elsewhere           ) out lo \n\
                    gpiochip3: GPIOs 1016-1023, parent: platform/gpio-sim.0, sim-a:\n \
                    gpio-1016 (                    |hogster             ) out lo \n \
                    gpio-1017 (LED0                |sysfs               ) in  hi IRQ\n";
        let a = |o| addr("sim-a", Some(1016), None, o);
        assert_eq!(
            parse_debugfs_holder(text, &a(0)).as_deref(),
            Some("hogster")
        );
        assert_eq!(parse_debugfs_holder(text, &a(1)).as_deref(), Some("sysfs"));
        assert_eq!(parse_debugfs_holder(text, &a(2)), None);
        // Found by device name as well; a line of another chip is not taken for ours.
        let by_dev = addr("renamed", Some(1016), Some(3), 0);
        assert_eq!(
            parse_debugfs_holder(text, &by_dev).as_deref(),
            Some("hogster")
        );
        assert_eq!(
            parse_debugfs_holder(text, &addr("nope", Some(1016), None, 0)),
            None
        );
    }

    #[test]
    fn debugfs_holder_is_parsed_from_7_x_format() {
        // Newer kernels number lines by offset in every section; gpio-sim lists its lines
        // itself, a Pi's pinctrl through gpiolib with name and consumer.
        let text = "gpiochip0: 54 GPIOs, parent: platform/3f200000.gpio, pinctrl-bcm2835:\n \
                    gpio-17  (GPIO17              |sysfs               ) out hi \n\
                    \n\
                    gpiochip1: 4 GPIOs, parent: platform/gpio-sim.0, alpha, can sleep:\n \
                    gpio-0   (<unused>) input,pull-down\n \
                    gpio-1   (hogster) output,pull-down\n \
                    gpio-2   (sysfs) input,pull-down\n";
        let pi = addr("pinctrl-bcm2835", Some(512), Some(0), 17);
        assert_eq!(parse_debugfs_holder(text, &pi).as_deref(), Some("sysfs"));
        let a = |o| addr("alpha", Some(520), Some(1), o);
        assert_eq!(parse_debugfs_holder(text, &a(0)), None);
        assert_eq!(
            parse_debugfs_holder(text, &a(1)).as_deref(),
            Some("hogster")
        );
        assert_eq!(parse_debugfs_holder(text, &a(2)).as_deref(), Some("sysfs"));
        assert_eq!(parse_debugfs_holder(text, &a(3)), None);
        // Without the legacy ABI there is no global number; the offset still finds it.
        let no_base = addr("alpha", None, None, 2);
        assert_eq!(
            parse_debugfs_holder(text, &no_base).as_deref(),
            Some("sysfs")
        );
    }

    #[test]
    fn busy_message_names_both_holders_and_the_consumer() {
        let e = Error::Busy {
            line: "GPIO 529".into(),
            holder: Some("gpioset".into()),
        };
        let msg = e.to_string();
        assert!(msg.contains("character device"), "{msg}");
        assert!(msg.contains("kernel driver"), "{msg}");
        assert!(msg.contains("\"gpioset\""), "{msg}");
        let e = Error::Busy {
            line: "GPIO 529".into(),
            holder: None,
        };
        assert!(!e.to_string().contains("consumer"));
    }

    #[test]
    fn permission_message_explains_udev_and_group() {
        let e = Error::PermissionDenied {
            path: "/sys/class/gpio/gpio529/direction".into(),
            waited_ms: 1000,
        };
        let msg = e.to_string();
        assert!(msg.contains("udev"), "{msg}");
        assert!(msg.contains("group"), "{msg}");
        assert!(msg.contains("gpio529/direction"), "{msg}");
        assert_eq!(e.raw_os_error(), Some(libc::EACCES));
    }
}
