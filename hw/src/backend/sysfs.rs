//! The sysfs backend: lines through `/sys/class/gpio`, by way of the `sysfs-gpio` crate, behind
//! the same line API as the character device.
//!
//! Each requested line is one [`SysfsLine`] (exported on request, unexported on drop if this
//! request exported it), with its `value` file held open. Either I/O path of `sysfs-gpio` can
//! make the system calls: [`IoPath::Native`] or [`IoPath::Ffi`] (the same libc calls through
//! `ffi-core`).
//!
//! sysfs has direction, value, `active_low` and `edge`, and nothing else: bias, drive,
//! debounce, the event clock and a kernel event buffer are refused with
//! [`Error::Unsupported`] naming the setting and the backend. Edge events are wake-ups of
//! `poll(POLLPRI)`: sysfs does not queue them, so edges between two reads are seen as one,
//! timestamps are taken in user space (`CLOCK_MONOTONIC`) and sequence numbers are counted
//! here as events are read (a lost edge cannot show as a gap). For every edge with kernel
//! timestamps and sequence numbers, use the character device.
//!
//! ```no_run
//! use hw::backend::sysfs::SysfsBackend;
//! use hw::{Request, Value};
//! let mut led = Request::builder()
//!     .on_chip_labelled("pinctrl-bcm2711")
//!     .with_line(17)
//!     .as_output(Value::Inactive)
//!     .request_with(&SysfsBackend::native())?;
//! led.set_value(17, Value::Active)?;
//! # Ok::<(), hw::Error>(())
//! ```

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::epoll::EpollFlags;
use sysfs_gpio::{IoPath, Sysfs, SysfsLine};

use super::event_fds::{require_edge_detection, EventFds};
use crate::chip::ChipInfo;
use crate::error::{Error, Result};
use crate::event::{EdgeEvent, EdgeKind};
use crate::line::{Backend, ChipSelector, Lines, RequestSpec};
use crate::settings::{Bias, Direction, Drive, Edge, EventClock, LineSettings, Offset, Value};

/// Requests lines through `/sys/class/gpio`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysfsBackend {
    sysfs: Sysfs,
    io: IoPath,
}

impl SysfsBackend {
    /// The system's `/sys/class/gpio` through direct system calls.
    pub fn native() -> Self {
        Self::new(IoPath::Native)
    }

    /// The system's `/sys/class/gpio` through libc calls made by `ffi-core`.
    pub fn ffi() -> Self {
        Self::new(IoPath::Ffi)
    }

    /// The system's `/sys/class/gpio` through the chosen I/O path.
    pub fn new(io: IoPath) -> Self {
        SysfsBackend {
            sysfs: Sysfs::new(),
            io,
        }
    }

    /// Another sysfs tree (e.g. a fixture) through the chosen I/O path.
    pub fn with_root(root: impl Into<PathBuf>, io: IoPath) -> Self {
        SysfsBackend {
            sysfs: Sysfs::with_root(root),
            io,
        }
    }

    /// The I/O path the lines make their calls through.
    pub fn io_path(&self) -> IoPath {
        self.io
    }
}

/// The backend's name for an I/O path, as [`Backend::name`] and [`Lines::backend`] report it.
fn name_of(io: IoPath) -> &'static str {
    match io {
        IoPath::Native => "sysfs",
        IoPath::Ffi => "sysfs-ffi",
    }
}

fn unsupported(io: IoPath, what: String) -> Error {
    Error::Unsupported {
        backend: name_of(io).into(),
        what,
    }
}

/// Refuses what sysfs has no attribute for, naming the setting and the line.
fn check_settings(io: IoPath, offset: Offset, s: &LineSettings) -> Result<()> {
    if s.bias != Bias::AsIs {
        return Err(unsupported(
            io,
            format!(
                "bias {} (line {offset}; sysfs has no bias attribute)",
                s.bias
            ),
        ));
    }
    if s.drive != Drive::PushPull {
        return Err(unsupported(
            io,
            format!(
                "{} drive (line {offset}; sysfs has no drive attribute)",
                s.drive
            ),
        ));
    }
    if s.debounce_us() != 0 {
        return Err(unsupported(
            io,
            format!("debounce (line {offset}; sysfs has no debounce attribute)"),
        ));
    }
    if s.event_clock != EventClock::Monotonic {
        return Err(unsupported(
            io,
            format!(
                "event clock {} (line {offset}; sysfs events carry no kernel timestamp)",
                s.event_clock
            ),
        ));
    }
    Ok(())
}

fn edge_of(e: Edge) -> sysfs_gpio::Edge {
    match e {
        Edge::None => sysfs_gpio::Edge::None,
        Edge::Rising => sysfs_gpio::Edge::Rising,
        Edge::Falling => sysfs_gpio::Edge::Falling,
        Edge::Both => sysfs_gpio::Edge::Both,
    }
}

/// Maps a `sysfs-gpio` error to ours, keeping its explanation.
fn map_err(e: sysfs_gpio::Error, chip: &str, offset: Offset, action: &str) -> Error {
    match e {
        sysfs_gpio::Error::Busy { holder, .. } => Error::Busy {
            chip: chip.to_owned(),
            offset,
            name: String::new(),
            consumer: holder.unwrap_or_default(),
        },
        sysfs_gpio::Error::OffsetOutOfRange { ngpio, .. } => Error::OffsetOutOfRange {
            chip: chip.to_owned(),
            offset,
            num_lines: ngpio,
        },
        other if other.raw_os_error() == Some(libc::ENODEV) => Error::ChipGone {
            chip: chip.to_owned(),
        },
        other if matches!(other.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
            Error::from_errno(
                nix::errno::Errno::from_raw(other.raw_os_error().unwrap_or(libc::EMFILE)),
                chip,
                format!("{action} through sysfs"),
            )
        }
        other => {
            let kind = match other.raw_os_error() {
                Some(n) => io::Error::from_raw_os_error(n).kind(),
                None => io::ErrorKind::Other,
            };
            Error::Io {
                action: format!("{action} through sysfs"),
                source: io::Error::new(kind, other),
            }
        }
    }
}

impl Backend for SysfsBackend {
    fn name(&self) -> &str {
        name_of(self.io)
    }

    fn request(&self, spec: &RequestSpec) -> Result<Box<dyn Lines>> {
        Ok(Box::new(SysfsLines::request(self, spec)?))
    }
}

/// One held line and its current settings.
#[derive(Debug)]
struct Held {
    offset: Offset,
    line: SysfsLine,
}

/// Lines held through sysfs.
#[derive(Debug)]
pub(crate) struct SysfsLines {
    io: IoPath,
    chip: ChipInfo,
    lines: Vec<(Offset, LineSettings)>,
    held: Vec<Held>,
    /// `EPOLLPRI` on the value fds of the lines with edge detection: readable while an edge
    /// is pending, so it stands in for the character device's request fd.
    events: EventFds,
}

impl SysfsLines {
    fn request(backend: &SysfsBackend, spec: &RequestSpec) -> Result<SysfsLines> {
        let io = backend.io;
        if spec.lines.is_empty() {
            return Err(Error::InvalidConfig(
                "no lines to request: add lines with with_lines() or with_named_lines()".into(),
            ));
        }
        let offsets = spec.offsets()?;
        if spec.event_buffer_size.is_some() {
            return Err(unsupported(
                io,
                "a kernel event buffer (and with it kernel sequence numbers that show lost edges)"
                    .into(),
            ));
        }
        // Settings first: a refusal must not depend on the machine having the chip.
        for (&offset, (id, settings)) in offsets.iter().zip(&spec.lines) {
            settings
                .validate(&id.to_string())
                .map_err(Error::InvalidConfig)?;
            check_settings(io, offset, settings)?;
        }
        let selector: sysfs_gpio::ChipSelector = match &spec.chip {
            Some(ChipSelector::Path(p)) => p.to_string_lossy().as_ref().into(),
            Some(ChipSelector::Name(s) | ChipSelector::Label(s) | ChipSelector::Any(s)) => {
                match &spec.chip {
                    Some(ChipSelector::Label(_)) => sysfs_gpio::ChipSelector::Label(s.clone()),
                    _ => s.as_str().into(),
                }
            }
            None => {
                return Err(Error::InvalidConfig(
                    "the sysfs backend needs a chip: call on_chip(), on_chip_named() or \
                     on_chip_labelled()"
                        .into(),
                ))
            }
        };
        let wanted = spec
            .chip
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default();
        let info = backend
            .sysfs
            .find_chip(selector.clone())
            .map_err(|e| match e {
                sysfs_gpio::Error::ChipNotFound { available, .. } => Error::ChipNotFound {
                    wanted: wanted.clone(),
                    available: vec![available],
                },
                e => map_err(e, &wanted, offsets[0], "finding the chip"),
            })?;
        let chip = chip_info(&info);
        let described = chip.describe();
        let mut lines = Vec::with_capacity(offsets.len());
        for (&offset, (id, settings)) in offsets.iter().zip(&spec.lines) {
            if lines.iter().any(|(o, _)| *o == offset) {
                return Err(Error::InvalidConfig(format!(
                    "line {offset} of {described} appears twice in the request (as '{id}')"
                )));
            }
            if offset >= info.ngpio {
                return Err(Error::OffsetOutOfRange {
                    chip: described,
                    offset,
                    num_lines: info.ngpio,
                });
            }
            lines.push((offset, *settings));
        }
        let events = EventFds::new()
            .map_err(|e| Error::from_errno(e, &chip.name, "creating an epoll fd"))?;
        let mut me = SysfsLines {
            io,
            chip,
            lines: lines.clone(),
            held: Vec::with_capacity(lines.len()),
            events,
        };
        // On any error, the lines opened so far drop here and unexport themselves.
        for (i, (offset, settings)) in lines.iter().enumerate() {
            // A chip removed since it was found makes export fail in ways that blame the
            // number or the line; say what happened instead.
            let fail = |e, action| match backend.sysfs.find_chip(selector.clone()) {
                Err(sysfs_gpio::Error::ChipNotFound { .. }) => Error::ChipGone {
                    chip: described.clone(),
                },
                _ => map_err(e, &described, *offset, action),
            };
            let addr = backend
                .sysfs
                .resolve(selector.clone(), *offset)
                .map_err(|e| fail(e, "resolving the line"))?;
            let line = SysfsLine::open(&backend.sysfs, &addr, io)
                .map_err(|e| fail(e, "exporting the line"))?;
            me.held.push(Held {
                offset: *offset,
                line,
            });
            me.apply(i, settings, None)?;
        }
        Ok(me)
    }

    /// Brings line `i` to `new` (from `old`, or from whatever state sysfs had it in).
    fn apply(&mut self, i: usize, new: &LineSettings, old: Option<&LineSettings>) -> Result<()> {
        let described = self.chip.describe();
        let held = &mut self.held[i];
        let offset = held.offset;
        let err = |e, action: &str| map_err(e, &described, offset, action);
        // active_low first: set_output's value is logical.
        if held.line.active_low() != new.active_low {
            held.line
                .set_active_low(new.active_low)
                .map_err(|e| err(e, "setting active_low"))?;
        }
        let was_edge = held.line.edge() != sysfs_gpio::Edge::None;
        if was_edge && new.edge == Edge::None {
            held.line
                .set_edge(sysfs_gpio::Edge::None)
                .map_err(|e| err(e, "turning edge detection off"))?;
            // The fd may already be gone from the set; nothing to undo then.
            self.events.unwatch(held.line.as_fd());
        }
        match new.direction {
            Direction::AsIs => {}
            Direction::Input => held
                .line
                .set_input()
                .map_err(|e| err(e, "making the line an input"))?,
            Direction::Output => {
                let unchanged = old.is_some_and(|o| {
                    o.direction == Direction::Output && o.active_low == new.active_low
                });
                if unchanged {
                    // Already driving: only the value may change, without touching direction.
                    held.line
                        .set_value(new.output_value.is_active())
                        .map_err(|e| err(e, "setting the value"))?;
                } else {
                    held.line
                        .set_output(new.output_value.is_active())
                        .map_err(|e| err(e, "making the line an output"))?;
                }
            }
        }
        if new.edge != Edge::None && held.line.edge() != edge_of(new.edge) {
            held.line
                .set_edge(edge_of(new.edge))
                .map_err(|e| err(e, "setting edge detection"))?;
            if !was_edge {
                self.events.watch(
                    held.line.as_fd(),
                    EpollFlags::EPOLLPRI,
                    i,
                    &self.chip.name,
                    "watching a value fd",
                )?;
            }
        }
        Ok(())
    }

    fn index_of(&self, offset: Offset) -> Result<usize> {
        self.held
            .iter()
            .position(|h| h.offset == offset)
            .ok_or_else(|| Error::NotRequested {
                offset,
                requested: self.held.iter().map(|h| h.offset).collect(),
            })
    }

    fn alive(&self) -> Result<()> {
        match self.held.first() {
            Some(h) => h
                .line
                .get_value()
                .map(drop)
                .map_err(|e| map_err(e, &self.chip.describe(), h.offset, "reading the value")),
            None => Ok(()),
        }
    }
}

/// The character-device view of a sysfs chip, as far as sysfs knows it.
fn chip_info(info: &sysfs_gpio::ChipInfo) -> ChipInfo {
    let (path, name) = match (info.device, &info.legacy_dir) {
        (Some(d), _) => (
            PathBuf::from(format!("/dev/gpiochip{d}")),
            format!("gpiochip{d}"),
        ),
        (None, Some(dir)) => (
            dir.clone(),
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
        (None, None) => (PathBuf::new(), String::new()),
    };
    ChipInfo {
        path,
        name,
        label: info.label.clone(),
        num_lines: info.ngpio,
    }
}

/// `CLOCK_MONOTONIC` now, in nanoseconds: the closest sysfs gets to an event timestamp.
fn monotonic_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    if rc != 0 {
        return 0;
    }
    (t.tv_sec as u64) * 1_000_000_000 + t.tv_nsec as u64
}

impl Drop for SysfsLines {
    fn drop(&mut self) {
        for h in &mut self.held {
            // A removed chip took our export with it, and its global number may already belong
            // to a newer chip: never unexport by number then.
            if let Err(e) = h.line.get_value() {
                if e.raw_os_error() == Some(libc::ENODEV) {
                    h.line.set_unexport_on_drop(false);
                }
            }
        }
    }
}

impl Lines for SysfsLines {
    fn backend(&self) -> &str {
        name_of(self.io)
    }

    fn chip(&self) -> &ChipInfo {
        &self.chip
    }

    fn lines(&self) -> &[(Offset, LineSettings)] {
        &self.lines
    }

    fn get_values(&self, offsets: &[Offset], out: &mut [Value]) -> Result<()> {
        for (slot, &o) in out.iter_mut().zip(offsets) {
            let h = &self.held[self.index_of(o)?];
            *slot = h
                .line
                .get_value()
                .map(Value::from)
                .map_err(|e| map_err(e, &self.chip.describe(), o, "reading the value"))?;
        }
        Ok(())
    }

    fn set_values(&mut self, values: &[(Offset, Value)]) -> Result<()> {
        super::check_every_pair_first(values, |o| super::output_index(&self.lines, o))?;
        for &(o, v) in values {
            let i = super::output_index(&self.lines, o)?;
            // The chip's description is built only on failure: this is the toggle path.
            let chip = &self.chip;
            self.held[i]
                .line
                .set_value(v.is_active())
                .map_err(|e| map_err(e, &chip.describe(), o, "setting the value"))?;
            self.lines[i].1.output_value = v;
        }
        Ok(())
    }

    fn reconfigure(&mut self, lines: &[(Offset, LineSettings)]) -> Result<()> {
        for (o, s) in lines {
            s.validate(&o.to_string()).map_err(Error::InvalidConfig)?;
            check_settings(self.io, *o, s)?;
        }
        for (o, s) in lines {
            let i = self.index_of(*o)?;
            let old = self.lines[i].1;
            self.apply(i, s, Some(&old))?;
            self.lines[i].1 = *s;
        }
        Ok(())
    }

    fn wait_edge_events(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let this = &*self;
        this.events.wait(timeout, || this.alive(), &this.chip.name)
    }

    fn read_edge_events(&mut self, out: &mut [EdgeEvent]) -> Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        require_edge_detection(&self.lines)?;
        loop {
            let ready = {
                let this = &*self;
                this.events.next_ready(|| this.alive(), &this.chip.name)?
            };
            let mut count = 0;
            for i in ready {
                if count == out.len() {
                    break;
                }
                let chip = &self.chip;
                let h = &mut self.held[i];
                let Some(ev) = h
                    .line
                    .wait_for_edge(Some(Duration::ZERO))
                    .map_err(|e| map_err(e, &chip.describe(), h.offset, "reading an edge"))?
                else {
                    continue;
                };
                let kind = match ev.kind {
                    sysfs_gpio::EdgeKind::Rising => EdgeKind::Rising,
                    sysfs_gpio::EdgeKind::Falling => EdgeKind::Falling,
                };
                let offset = h.offset;
                out[count] = self.events.edge_event(i, offset, kind, monotonic_ns());
                count += 1;
            }
            if count > 0 {
                return Ok(count);
            }
        }
    }

    fn event_fd(&self) -> BorrowedFd<'_> {
        self.events.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LineId;
    use crate::Request;

    fn spec(lines: Vec<(LineId, LineSettings)>) -> RequestSpec {
        RequestSpec {
            chip: Some(ChipSelector::Label("nowhere".into())),
            consumer: "t".into(),
            lines,
            event_buffer_size: None,
        }
    }

    #[test]
    fn unsupported_settings_name_the_setting_and_the_backend() {
        let cases: [(LineSettings, &str); 5] = [
            (
                LineSettings {
                    bias: Bias::PullUp,
                    ..LineSettings::input()
                },
                "bias pull-up (line 3; sysfs has no bias attribute) is not supported by the sysfs backend",
            ),
            (
                LineSettings {
                    bias: Bias::Disabled,
                    ..LineSettings::input()
                },
                "bias disabled",
            ),
            (
                LineSettings {
                    drive: Drive::OpenDrain,
                    ..LineSettings::output(Value::Active)
                },
                "open-drain drive (line 3; sysfs has no drive attribute) is not supported by the sysfs backend",
            ),
            (
                LineSettings {
                    debounce: Some(Duration::from_millis(5)),
                    ..LineSettings::input()
                },
                "debounce (line 3; sysfs has no debounce attribute) is not supported by the sysfs backend",
            ),
            (
                LineSettings {
                    edge: Edge::Both,
                    event_clock: EventClock::Realtime,
                    ..LineSettings::input()
                },
                "event clock realtime (line 3; sysfs events carry no kernel timestamp)",
            ),
        ];
        for (s, want) in cases {
            let e = SysfsBackend::native()
                .request(&spec(vec![(LineId::Offset(3), s)]))
                .unwrap_err();
            assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
            assert!(e.to_string().contains(want), "{e} lacks {want}");
        }
        let e = check_settings(
            IoPath::Ffi,
            1,
            &LineSettings {
                bias: Bias::PullDown,
                ..LineSettings::input()
            },
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .ends_with("not supported by the sysfs-ffi backend"),
            "{e}"
        );
    }

    #[test]
    fn event_buffer_and_names_and_missing_chip_are_refused() {
        let mut s = spec(vec![(LineId::Offset(0), LineSettings::input())]);
        s.event_buffer_size = Some(64);
        let e = SysfsBackend::native().request(&s).unwrap_err();
        assert!(e.to_string().contains("a kernel event buffer"), "{e}");
        assert!(e.to_string().contains("sysfs backend"), "{e}");

        let s = spec(vec![(LineId::Name("GPIO17".into()), LineSettings::input())]);
        let e = SysfsBackend::native().request(&s).unwrap_err();
        assert!(
            e.to_string().contains("line 'GPIO17' is given by name"),
            "{e}"
        );

        let mut s = spec(vec![(LineId::Offset(0), LineSettings::input())]);
        s.chip = None;
        let e = SysfsBackend::native().request(&s).unwrap_err();
        assert!(
            e.to_string().contains("the sysfs backend needs a chip"),
            "{e}"
        );

        let s = spec(vec![]);
        let e = SysfsBackend::native().request(&s).unwrap_err();
        assert!(e.to_string().contains("no lines to request"), "{e}");
    }

    #[test]
    fn a_missing_sysfs_tree_or_chip_is_explained() {
        let dir = std::env::temp_dir().join(format!("hw-sysfs-none-{}", std::process::id()));
        let e = Request::builder()
            .on_chip_labelled("sim")
            .with_line(0)
            .as_input()
            .request_with(&SysfsBackend::with_root(&dir, IoPath::Native))
            .unwrap_err();
        assert!(e.to_string().contains("CONFIG_GPIO_SYSFS"), "{e}");

        // A tree with one chip, looked up by a label it does not have.
        let root = std::env::temp_dir().join(format!("hw-sysfs-one-{}", std::process::id()));
        let chip = root.join("gpiochip512");
        std::fs::create_dir_all(&chip).unwrap();
        std::fs::write(chip.join("base"), "512\n").unwrap();
        std::fs::write(chip.join("label"), "real\n").unwrap();
        std::fs::write(chip.join("ngpio"), "8\n").unwrap();
        let backend = SysfsBackend::with_root(&root, IoPath::Native);
        let e = Request::builder()
            .on_chip_labelled("other")
            .with_line(0)
            .as_input()
            .request_with(&backend)
            .unwrap_err();
        assert!(matches!(e, Error::ChipNotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("\"real\""), "{e}");
        let e = Request::builder()
            .on_chip_labelled("real")
            .with_line(8)
            .as_input()
            .request_with(&backend)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("line offset 8 is out of range for gpiochip512 [real]: it has 8 lines"),
            "{e}"
        );
        let e = Request::builder()
            .on_chip_labelled("real")
            .with_lines(&[1, 1])
            .as_input()
            .request_with(&backend);
        // The builder merges repeated offsets; a spec with a repeat is refused by the backend.
        drop(e);
        let mut s = spec(vec![
            (LineId::Offset(1), LineSettings::input()),
            (LineId::Offset(1), LineSettings::input()),
        ]);
        s.chip = Some(ChipSelector::Label("real".into()));
        let e = backend.request(&s).unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn names_follow_the_io_path() {
        assert_eq!(SysfsBackend::native().name(), "sysfs");
        assert_eq!(SysfsBackend::ffi().name(), "sysfs-ffi");
        assert_eq!(SysfsBackend::ffi().io_path(), IoPath::Ffi);
    }
}
