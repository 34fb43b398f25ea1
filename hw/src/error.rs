//! Errors a user can act on: each names what went wrong and what would fix it.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

use crate::settings::Offset;

/// The result of every fallible `hw` call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The udev rule that opens `/dev/gpiochip*` to group `gpio`.
pub const UDEV_RULE: &str = r#"SUBSYSTEM=="gpio", GROUP="gpio", MODE="0660""#;

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No chip matches the path, name or label; lists the chips that exist.
    #[error("GPIO chip '{wanted}' not found; {}", available_chips(.available))]
    ChipNotFound {
        /// What the caller asked for.
        wanted: String,
        /// `name [label] (N lines)` for every chip present.
        available: Vec<String>,
    },

    /// The file exists but is not a GPIO character device.
    #[error("{} is not a GPIO character device: {source}", .path.display())]
    NotAChip {
        /// The path opened.
        path: PathBuf,
        /// What the kernel said.
        source: io::Error,
    },

    /// No line has that name; suggests the nearest names.
    #[error("line '{name}' not found{}{}", in_chip(.chip), suggest(.suggestions))]
    LineNotFound {
        /// The name asked for.
        name: String,
        /// The chip searched, or `None` for all chips.
        chip: Option<String>,
        /// The nearest existing names, best first.
        suggestions: Vec<String>,
    },

    /// The offset is past the chip's last line.
    #[error("line offset {offset} is out of range for {chip}: it has {num_lines} lines (offsets 0-{})",
        .num_lines.saturating_sub(1))]
    OffsetOutOfRange {
        /// The chip, as `name [label]`.
        chip: String,
        /// The offset asked for.
        offset: Offset,
        /// How many lines the chip has.
        num_lines: u32,
    },

    /// The line is held by someone else: the kernel, another process, or this one.
    #[error("line {offset}{} on {chip} is busy: {}", line_name(.name), held_by(.consumer))]
    Busy {
        /// The chip, as `name [label]`.
        chip: String,
        /// The busy line.
        offset: Offset,
        /// Its name, if it has one.
        name: String,
        /// The current consumer's label, if the holder gave one.
        consumer: String,
    },

    /// Not allowed to open the chip or request the line.
    #[error("permission denied {action}: add the udev rule `{UDEV_RULE}` \
        (e.g. in /etc/udev/rules.d/60-gpio.rules, then `udevadm trigger`) and add your user to group \
        gpio (`sudo usermod -aG gpio $USER`, then log in again), or run as root")]
    PermissionDenied {
        /// What was being done, e.g. `opening /dev/gpiochip0`.
        action: String,
    },

    /// A setting or operation uAPI v1 does not have.
    #[error("{what} is not supported by GPIO uAPI v1; use uAPI v2 (kernel 5.10+)")]
    UnsupportedByV1 {
        /// The feature, e.g. `bias disabled`.
        what: String,
    },

    /// A setting or operation a backend does not have.
    #[error("{what} is not supported by the {backend} backend")]
    Unsupported {
        /// The backend's name.
        backend: String,
        /// The feature.
        what: String,
    },

    /// The kernel does not offer this uAPI version.
    #[error("GPIO uAPI {version} is not available on {chip}: {hint}")]
    UapiUnavailable {
        /// `v1` or `v2`.
        version: &'static str,
        /// The chip.
        chip: String,
        /// Why, and what to use instead.
        hint: &'static str,
    },

    /// The chip was removed while the request was held.
    #[error("GPIO chip {chip} is gone (the device was removed); release the lines and request them again once it is back")]
    ChipGone {
        /// The chip.
        chip: String,
    },

    /// The request or config asks for something impossible.
    #[error("invalid GPIO request: {0}")]
    InvalidConfig(String),

    /// The line is not part of this request.
    #[error("line {offset} is not part of this request (it holds {})", list(.requested))]
    NotRequested {
        /// The line asked for.
        offset: Offset,
        /// The lines the request holds.
        requested: Vec<Offset>,
    },

    /// No file descriptor left: the process's limit (`EMFILE`, `RLIMIT_NOFILE`) or the
    /// system's file table (`ENFILE`).
    #[error("{action}: {}", out_of_fds(*.system, *.limit))]
    TooManyOpenFiles {
        /// What was being done, e.g. `requesting lines [0, 1] on gpiochip0`.
        action: String,
        /// `true` for the system-wide table (`ENFILE`), `false` for the process's limit.
        system: bool,
        /// The process's soft `RLIMIT_NOFILE` when the error happened, if it could be read.
        limit: Option<u64>,
    },

    /// The register backend cannot drive these lines here: why, and what would work.
    #[error("register backend: {0}")]
    Register(String),

    /// Any other system error, with what was being done.
    #[error("{action}: {source}")]
    Io {
        /// What was being done, e.g. `reading edge events from gpiochip0`.
        action: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl Error {
    /// Maps an errno from an operation on `chip` to the matching error.
    pub(crate) fn from_errno(errno: Errno, chip: &str, action: impl Into<String>) -> Error {
        match errno {
            Errno::ENODEV | Errno::ENXIO => Error::ChipGone {
                chip: chip.to_owned(),
            },
            Errno::EACCES | Errno::EPERM => Error::PermissionDenied {
                action: action.into(),
            },
            Errno::EMFILE | Errno::ENFILE => Error::TooManyOpenFiles {
                action: action.into(),
                system: errno == Errno::ENFILE,
                limit: fd_limit(),
            },
            e => Error::Io {
                action: action.into(),
                source: io::Error::from_raw_os_error(e as i32),
            },
        }
    }

    /// Maps an `io::Error` the same way.
    pub(crate) fn from_io(err: io::Error, chip: &str, action: impl Into<String>) -> Error {
        match err.raw_os_error() {
            Some(n) => Error::from_errno(Errno::from_raw(n), chip, action),
            None => Error::Io {
                action: action.into(),
                source: err,
            },
        }
    }

    /// The OS error number behind this error, if there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } | Error::NotAChip { source, .. } => source.raw_os_error(),
            Error::Busy { .. } => Some(libc::EBUSY),
            Error::PermissionDenied { .. } => Some(libc::EACCES),
            Error::ChipGone { .. } => Some(libc::ENODEV),
            Error::TooManyOpenFiles { system: false, .. } => Some(libc::EMFILE),
            Error::TooManyOpenFiles { system: true, .. } => Some(libc::ENFILE),
            _ => None,
        }
    }
}

impl embedded_hal::digital::Error for Error {
    fn kind(&self) -> embedded_hal::digital::ErrorKind {
        embedded_hal::digital::ErrorKind::Other
    }
}

fn available_chips(chips: &[String]) -> String {
    if chips.is_empty() {
        "no GPIO chips exist (is /dev populated, and is the kernel built with CONFIG_GPIO_CDEV?)"
            .to_owned()
    } else {
        format!("chips present: {}", chips.join(", "))
    }
}

fn in_chip(chip: &Option<String>) -> String {
    match chip {
        Some(c) => format!(" on {c}"),
        None => " on any GPIO chip".to_owned(),
    }
}

fn suggest(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        many => format!("; did you mean one of {}?", many.join(", ")),
    }
}

fn line_name(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" ({name})")
    }
}

/// The process's soft limit on open files.
// `rlim_t` is 64 bits on x86-64 and aarch64 but 32 on armv7: the conversion is a no-op on the
// first two and needed on the third.
#[allow(clippy::useless_conversion)]
fn fd_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `struct rlimit` through the pointer, which is to a local.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then(|| u64::from(lim.rlim_cur))
}

fn out_of_fds(system: bool, limit: Option<u64>) -> String {
    if system {
        return "too many open files in the system (ENFILE): the kernel's file table is full; \
                close files or raise fs.file-max"
            .to_owned();
    }
    let limit = limit.map(|l| format!(" of {l}")).unwrap_or_default();
    format!(
        "too many open files (EMFILE): this process has reached its limit{limit} file \
         descriptors (RLIMIT_NOFILE); close fds it no longer needs or raise the limit \
         (ulimit -n, or LimitNOFILE= in a systemd unit)"
    )
}

fn held_by(consumer: &str) -> String {
    if consumer.is_empty() {
        "it is in use (by the kernel or another process, no consumer name given)".to_owned()
    } else {
        format!("it is in use by consumer '{consumer}'")
    }
}

fn list(offsets: &[Offset]) -> String {
    offsets
        .iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Edit distance counting a swap of neighbours as one edit (typing `GPIO71` for `GPIO17`),
/// case-insensitive (line names differ in case across boards).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(&a.to_lowercase(), &b.to_lowercase())
}

/// The letters of a name, sorted: equal for names that are anagrams of each other.
fn letters(s: &str) -> Vec<char> {
    let mut c: Vec<char> = s.to_lowercase().chars().collect();
    c.sort_unstable();
    c
}

/// The up to three names nearest to `wanted`, closest first; only names within a third of the
/// longer length (at least 2 edits), or that contain it, count as near.
pub(crate) fn nearest_names<'a>(
    wanted: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let lw = wanted.to_lowercase();
    let wanted_letters = letters(wanted);
    let len = wanted.chars().count();
    let mut scored: Vec<(usize, &str)> = names
        .into_iter()
        .filter(|n| !n.is_empty())
        .filter_map(|n| {
            let d = edit_distance(wanted, n);
            let limit = (wanted.chars().count().max(n.chars().count()) / 3).max(2);
            let contains = !lw.is_empty() && n.to_lowercase().contains(&lw);
            (d <= limit || contains).then_some((if contains { d.min(1) } else { d }, n))
        })
        .collect();
    // Closest first; among equals, the same letters reordered, then the same length.
    let key = |n: &str| {
        (
            letters(n) != wanted_letters,
            n.chars().count().abs_diff(len),
        )
    };
    scored.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(key(a.1).cmp(&key(b.1)))
            .then(a.1.cmp(b.1))
    });
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| n.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("GPIO17", "GPIO17"), 0);
        assert_eq!(edit_distance("GPIO17", "gpio17"), 0);
        assert_eq!(edit_distance("GPIO17", "GPIO71"), 1);
        assert_eq!(edit_distance("GPIO1", "GPIO17"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn nearest_names_prefers_close_names() {
        let names = ["GPIO17", "GPIO27", "GPIO7", "ID_SD", "LED", "GPIO170"];
        assert_eq!(
            nearest_names("GPIO71", names),
            vec!["GPIO17", "GPIO7", "GPIO27"]
        );
        // A Raspberry Pi 4's names: the swapped digits win over other one-edit names.
        let pi: Vec<String> = (0..58).map(|i| format!("GPIO{i}")).collect();
        assert_eq!(
            nearest_names("GPIO71", pi.iter().map(String::as_str)),
            vec!["GPIO17", "GPIO11", "GPIO21"]
        );
        assert_eq!(nearest_names("led", names), vec!["LED"]);
        assert!(nearest_names("SPI_MOSI", names).is_empty());
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = Error::LineNotFound {
            name: "GPIO71".into(),
            chip: Some("gpiochip0 [pinctrl-bcm2711]".into()),
            suggestions: vec!["GPIO17".into(), "GPIO7".into()],
        };
        assert_eq!(
            e.to_string(),
            "line 'GPIO71' not found on gpiochip0 [pinctrl-bcm2711]; did you mean one of GPIO17, GPIO7?"
        );
        let e = Error::OffsetOutOfRange {
            chip: "gpiochip1 [sim]".into(),
            offset: 9,
            num_lines: 8,
        };
        assert_eq!(
            e.to_string(),
            "line offset 9 is out of range for gpiochip1 [sim]: it has 8 lines (offsets 0-7)"
        );
        let e = Error::Busy {
            chip: "gpiochip0 [sim]".into(),
            offset: 3,
            name: "LED".into(),
            consumer: "my-daemon".into(),
        };
        assert_eq!(
            e.to_string(),
            "line 3 (LED) on gpiochip0 [sim] is busy: it is in use by consumer 'my-daemon'"
        );
        let e = Error::PermissionDenied {
            action: "opening /dev/gpiochip0".into(),
        };
        assert!(e
            .to_string()
            .contains(r#"SUBSYSTEM=="gpio", GROUP="gpio", MODE="0660""#));
        assert!(e.to_string().contains("group gpio"));
        assert!(e.to_string().contains("run as root"));
        let e = Error::UnsupportedByV1 {
            what: "bias disabled".into(),
        };
        assert_eq!(
            e.to_string(),
            "bias disabled is not supported by GPIO uAPI v1; use uAPI v2 (kernel 5.10+)"
        );
        let e = Error::ChipNotFound {
            wanted: "foo".into(),
            available: vec![],
        };
        assert!(e.to_string().contains("no GPIO chips exist"));
        let e = Error::ChipNotFound {
            wanted: "foo".into(),
            available: vec!["gpiochip0 [a] (8 lines)".into()],
        };
        assert_eq!(
            e.to_string(),
            "GPIO chip 'foo' not found; chips present: gpiochip0 [a] (8 lines)"
        );
    }

    #[test]
    fn errno_maps_to_actionable_variants() {
        assert!(matches!(
            Error::from_errno(Errno::ENODEV, "gpiochip0", "x"),
            Error::ChipGone { .. }
        ));
        assert!(matches!(
            Error::from_errno(Errno::EPERM, "gpiochip0", "x"),
            Error::PermissionDenied { .. }
        ));
        let e = Error::from_errno(Errno::EIO, "gpiochip0", "reading values");
        assert_eq!(e.errno(), Some(libc::EIO));
        assert!(e.to_string().starts_with("reading values: "));
    }

    #[test]
    fn running_out_of_fds_names_emfile_and_the_limit() {
        let e = Error::from_errno(Errno::EMFILE, "gpiochip0", "opening /dev/gpiochip0");
        assert_eq!(e.errno(), Some(libc::EMFILE));
        let msg = e.to_string();
        assert!(
            msg.starts_with("opening /dev/gpiochip0: too many open files (EMFILE)"),
            "{msg}"
        );
        assert!(
            msg.contains("RLIMIT_NOFILE") && msg.contains("ulimit -n"),
            "{msg}"
        );
        let e = Error::TooManyOpenFiles {
            action: "x".into(),
            system: false,
            limit: Some(16),
        };
        assert!(
            e.to_string().contains("its limit of 16 file descriptors"),
            "{e}"
        );
        let e = Error::from_errno(Errno::ENFILE, "gpiochip0", "x");
        assert_eq!(e.errno(), Some(libc::ENFILE));
        assert!(e.to_string().contains("(ENFILE)"), "{e}");
    }
}
