//! The character-device backends: which uAPI the kernel offers, choosing one (or letting the
//! caller force one), and the steps both versions share (finding the chip, resolving line names,
//! checking offsets, explaining `EBUSY`).

mod event_fds;
pub mod libgpiod;
pub mod register;
pub mod sysfs;
mod v1;
mod v2;

use std::fmt;
use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use crate::chip::{chip_paths, unless_gone, Chip};
use crate::config::LineId;
use crate::error::{nearest_names, Error, Result};
use crate::line::{Backend, ChipSelector, Lines, RequestSpec};
use crate::settings::{Direction, LineSettings, Offset, Value};
use crate::uapi::v2 as uv2;

/// A version of the GPIO character-device uAPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Uapi {
    /// uAPI v1 (`GPIOHANDLE_*`), deprecated; through the `gpio-cdev` crate.
    V1,
    /// uAPI v2 (kernel 5.10+).
    V2,
}

impl fmt::Display for Uapi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Uapi::V1 => "v1",
            Uapi::V2 => "v2",
        })
    }
}

impl std::str::FromStr for Uapi {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "v1" | "1" => Ok(Uapi::V1),
            "v2" | "2" => Ok(Uapi::V2),
            _ => Err(format!("unknown GPIO uAPI '{s}': expected v1 or v2")),
        }
    }
}

/// Which uAPI a chip fd answers: v2 if its line-info ioctl is known, else v1.
pub(crate) fn detect(chip: BorrowedFd<'_>, num_lines: u32) -> Uapi {
    if num_lines == 0 {
        return Uapi::V2;
    }
    let mut info = uv2::LineInfo::for_offset(0);
    match uv2::get_line_info(chip, &mut info) {
        Err(Errno::ENOTTY) => Uapi::V1,
        _ => Uapi::V2,
    }
}

/// Detects the uAPI of the chip at `path`.
pub fn detect_uapi(path: impl AsRef<std::path::Path>) -> Result<Uapi> {
    Chip::open(path).map(|c| c.uapi())
}

pub(crate) fn unavailable(version: Uapi, chip: &str) -> Error {
    match version {
        Uapi::V1 => Error::UapiUnavailable {
            version: "v1",
            chip: chip.to_owned(),
            hint: "this kernel is built without uAPI v1 (CONFIG_GPIO_CDEV_V1 is not set, as in \
                   Debian's 7.x kernels); use uAPI v2, the default (drop the v1 choice)",
        },
        Uapi::V2 => Error::UapiUnavailable {
            version: "v2",
            chip: chip.to_owned(),
            hint: "the kernel is older than 5.10; use uAPI v1",
        },
    }
}

/// The errno inside a `gpio-cdev` error, if any.
pub(crate) fn cdev_errno(e: &gpio_cdev::Error) -> Option<Errno> {
    use std::error::Error as _;
    let src = e.source()?;
    if let Some(n) = src.downcast_ref::<gpio_cdev_nix::errno::Errno>() {
        return Some(Errno::from_raw(*n as i32));
    }
    src.downcast_ref::<std::io::Error>()
        .and_then(|io| io.raw_os_error())
        .map(Errno::from_raw)
}

/// Maps a `gpio-cdev` error on `chip` to ours.
pub(crate) fn cdev_error(e: gpio_cdev::Error, chip: &Chip, action: String) -> Error {
    match cdev_errno(&e) {
        Some(errno) => chip.errno(errno, action, Uapi::V1),
        None => Error::Io {
            action,
            source: std::io::Error::other(e.to_string()),
        },
    }
}

/// The character-device backend: uAPI v2, or v1 through `gpio-cdev`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CdevBackend {
    /// Forced version; `None` uses v2 where the kernel has it.
    pub uapi: Option<Uapi>,
}

impl CdevBackend {
    /// Detects the version per chip.
    pub fn auto() -> Self {
        CdevBackend { uapi: None }
    }

    /// Forces `uapi`.
    pub fn forced(uapi: Uapi) -> Self {
        CdevBackend { uapi: Some(uapi) }
    }
}

impl Backend for CdevBackend {
    fn name(&self) -> &str {
        match self.uapi {
            None => "cdev",
            Some(Uapi::V2) => "cdev-v2",
            Some(Uapi::V1) => "cdev-v1",
        }
    }

    fn request(&self, spec: &RequestSpec) -> Result<Box<dyn Lines>> {
        let (chip, lines) = resolve(spec, self.uapi)?;
        match chip.uapi() {
            Uapi::V2 => Ok(Box::new(v2::V2Lines::request(&chip, spec, lines)?)),
            Uapi::V1 => Ok(Box::new(v1::V1Lines::request(&chip, spec, lines)?)),
        }
    }
}

/// Opens the chip of `spec` and turns its lines into offsets on it.
fn resolve(spec: &RequestSpec, uapi: Option<Uapi>) -> Result<(Chip, Vec<(Offset, LineSettings)>)> {
    if spec.lines.is_empty() {
        return Err(Error::InvalidConfig(
            "no lines to request: add lines with with_lines() or with_named_lines()".into(),
        ));
    }
    if spec.lines.len() > uv2::LINES_MAX {
        return Err(Error::InvalidConfig(format!(
            "{} lines in one request; the kernel allows at most {}",
            spec.lines.len(),
            uv2::LINES_MAX
        )));
    }
    let chip = match &spec.chip {
        Some(ChipSelector::Path(p)) => Chip::open_with(p, uapi)?,
        Some(ChipSelector::Name(n)) => Chip::find_with(n, uapi)?,
        Some(ChipSelector::Label(l)) => Chip::open_by_label_with(l, uapi)?,
        Some(ChipSelector::Any(s)) => Chip::find_with(s, uapi)?,
        None => chip_of_named_lines(spec, uapi)?,
    };
    let mut infos = None;
    let mut out: Vec<(Offset, LineSettings)> = Vec::with_capacity(spec.lines.len());
    for (id, settings) in &spec.lines {
        let offset = match id {
            LineId::Offset(o) => {
                chip.check_offset(*o)?;
                *o
            }
            LineId::Name(name) => {
                if infos.is_none() {
                    infos = Some(chip.line_infos()?);
                }
                let infos = infos.as_ref().expect("just set");
                match infos.iter().find(|i| i.name == *name) {
                    Some(i) => i.offset,
                    None => {
                        return Err(Error::LineNotFound {
                            name: name.clone(),
                            chip: Some(chip.info().describe()),
                            suggestions: nearest_names(name, infos.iter().map(|i| i.name.as_str())),
                        })
                    }
                }
            }
        };
        if let Some(pos) = out.iter().position(|(o, _)| *o == offset) {
            return Err(Error::InvalidConfig(format!(
                "line {offset} of {} appears twice in the request (as '{}' and '{id}')",
                chip.info().name,
                spec.lines[pos].0
            )));
        }
        settings
            .validate(&id.to_string())
            .map_err(Error::InvalidConfig)?;
        out.push((offset, *settings));
    }
    Ok((chip, out))
}

/// Without a chip, every line must be named, and all on one chip.
fn chip_of_named_lines(spec: &RequestSpec, uapi: Option<Uapi>) -> Result<Chip> {
    let mut names = Vec::new();
    for (id, _) in &spec.lines {
        match id {
            LineId::Name(n) => names.push(n.as_str()),
            LineId::Offset(o) => {
                return Err(Error::InvalidConfig(format!(
                    "line offset {o} needs a chip: call on_chip(), on_chip_named() or on_chip_labelled()"
                )))
            }
        }
    }
    let mut all_names: Vec<String> = Vec::new();
    let mut partial: Option<(String, &str)> = None;
    for path in chip_paths()? {
        let Some(chip) = unless_gone(Chip::open_with(&path, uapi))? else {
            continue;
        };
        let Some(infos) = unless_gone(chip.line_infos())? else {
            continue;
        };
        let has = |n: &str| infos.iter().any(|i| i.name == n);
        if names.iter().all(|n| has(n)) {
            return Ok(chip);
        }
        if let Some(n) = names.iter().find(|n| has(n)) {
            partial.get_or_insert((chip.info().name.clone(), n));
        }
        all_names.extend(infos.into_iter().map(|i| i.name));
    }
    // Say which name is missing, or that the lines are split across chips.
    let missing = names.iter().find(|n| !all_names.iter().any(|a| a == *n));
    if let (None, Some((chip, n))) = (missing, &partial) {
        return Err(Error::InvalidConfig(format!(
            "the named lines are on different chips ('{n}' is on {chip}); one request holds lines of one chip, \
             so request them separately"
        )));
    }
    let n = missing.copied().unwrap_or(names[0]);
    Err(Error::LineNotFound {
        name: n.to_owned(),
        chip: None,
        suggestions: nearest_names(n, all_names.iter().map(String::as_str)),
    })
}

/// A reconfiguration must name the request's lines, in the request's order.
pub(crate) fn same_lines(
    held: &[(Offset, LineSettings)],
    new: &[(Offset, LineSettings)],
) -> Result<()> {
    if held.len() != new.len() || held.iter().zip(new).any(|(a, b)| a.0 != b.0) {
        return Err(Error::InvalidConfig(format!(
            "a reconfiguration must cover the request's lines {:?} in order, not {:?}",
            held.iter().map(|l| l.0).collect::<Vec<_>>(),
            new.iter().map(|l| l.0).collect::<Vec<_>>()
        )));
    }
    Ok(())
}

/// The refusal to set the value of a line that is not an output.
/// Where `offset` is in a request's lines, or the error naming the lines it does hold.
pub(crate) fn index_in(lines: &[(Offset, LineSettings)], offset: Offset) -> Result<usize> {
    lines
        .iter()
        .position(|l| l.0 == offset)
        .ok_or_else(|| Error::NotRequested {
            offset,
            requested: lines.iter().map(|l| l.0).collect(),
        })
}

/// The index of `offset` in `lines`, if it is requested and an output (else the error that
/// says which it is not).
pub(crate) fn output_index(lines: &[(Offset, LineSettings)], offset: Offset) -> Result<usize> {
    let i = index_in(lines, offset)?;
    if lines[i].1.direction != Direction::Output {
        return Err(not_an_output(offset));
    }
    Ok(i)
}

/// All or nothing: with several pairs, runs `check` (a backend's "requested and an output")
/// on each before the backend drives the first; a single pair is checked where it is driven.
pub(crate) fn check_every_pair_first<T>(
    values: &[(Offset, Value)],
    mut check: impl FnMut(Offset) -> Result<T>,
) -> Result<()> {
    if values.len() > 1 {
        for &(o, _) in values {
            check(o)?;
        }
    }
    Ok(())
}

pub(crate) fn not_an_output(offset: Offset) -> Error {
    Error::InvalidConfig(format!(
        "line {offset} is not an output; reconfigure it as an output before setting its value"
    ))
}

/// Explains `EBUSY`: which of `offsets` is held, and by whom.
pub(crate) fn busy_error(chip: &Chip, offsets: &[Offset]) -> Error {
    let mut first = None;
    for &o in offsets {
        if let Ok(info) = chip.line_info(o) {
            if info.used {
                return Error::Busy {
                    chip: chip.info().describe(),
                    offset: o,
                    name: info.name,
                    consumer: info.consumer,
                };
            }
            first.get_or_insert(info);
        }
    }
    let (offset, name) = first
        .map(|i| (i.offset, i.name))
        .unwrap_or((offsets[0], String::new()));
    Error::Busy {
        chip: chip.info().describe(),
        offset,
        name,
        consumer: String::new(),
    }
}

/// Maps the errno of a line request.
pub(crate) fn request_error(chip: &Chip, offsets: &[Offset], e: Errno, version: Uapi) -> Error {
    match e {
        Errno::EBUSY => busy_error(chip, offsets),
        Errno::EINVAL => Error::InvalidConfig(format!(
            "the kernel rejected the settings for lines {offsets:?} on {} (EINVAL)",
            chip.info().describe()
        )),
        // EOPNOTSUPP, or the kernel-internal ENOTSUPP (524) some drivers leak.
        e if e == Errno::EOPNOTSUPP || e as i32 == 524 => Error::Unsupported {
            backend: format!("cdev-{version} ({} driver)", chip.info().label),
            what: "a requested setting (bias, drive, debounce or event clock)".into(),
        },
        e => chip.errno(
            e,
            format!("requesting lines {offsets:?} on {}", chip.info().name),
            version,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uapi_parses() {
        assert_eq!("v1".parse::<Uapi>().unwrap(), Uapi::V1);
        assert_eq!("2".parse::<Uapi>().unwrap(), Uapi::V2);
        assert!("v3"
            .parse::<Uapi>()
            .unwrap_err()
            .contains("expected v1 or v2"));
    }

    #[test]
    fn requests_need_lines_and_a_chip_for_offsets() {
        let spec = RequestSpec {
            chip: None,
            consumer: "t".into(),
            lines: vec![],
            event_buffer_size: None,
        };
        let e = CdevBackend::auto().request(&spec).unwrap_err();
        assert!(e.to_string().contains("no lines to request"), "{e}");
        let spec = RequestSpec {
            lines: vec![(LineId::Offset(3), LineSettings::input())],
            ..spec
        };
        let e = CdevBackend::auto().request(&spec).unwrap_err();
        assert!(e.to_string().contains("line offset 3 needs a chip"), "{e}");
        let spec = RequestSpec {
            chip: Some(ChipSelector::Path("/dev/gpiochip0".into())),
            lines: (0..65)
                .map(|o| (LineId::Offset(o), LineSettings::input()))
                .collect(),
            ..spec
        };
        let e = CdevBackend::auto().request(&spec).unwrap_err();
        assert!(
            e.to_string()
                .contains("65 lines in one request; the kernel allows at most 64"),
            "{e}"
        );
    }

    #[test]
    fn reconfigurations_must_name_the_same_lines() {
        let held = [(1, LineSettings::input()), (2, LineSettings::input())];
        assert!(same_lines(&held, &held).is_ok());
        let e = same_lines(&held, &held[..1]).unwrap_err();
        assert!(
            e.to_string()
                .contains("must cover the request's lines [1, 2] in order, not [1]"),
            "{e}"
        );
        let swapped = [held[1], held[0]];
        assert!(same_lines(&held, &swapped).is_err());
    }
}
