//! [`SysfsLine`]: one exported line with its `value` file held open.
//!
//! The value is read with `pread` and written with `pwrite` at offset 0 on a file descriptor
//! opened once: re-opening `value` for every write (what shell scripts and older crates do) is
//! the main cost of sysfs GPIO.

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::export::{self, retry_eacces, Exported, SETTLE_TIMEOUT};
use crate::io::{Access, AttrFile, Io, IoPath};
use crate::numbering::{ChipSelector, LineAddress, Sysfs};

/// Which way a line points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The line is read.
    Input,
    /// The line is driven.
    Output,
}

/// Which edges wake [`SysfsLine::wait_for_edge`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Edge {
    /// No edge detection (the default after export).
    #[default]
    None,
    /// Logical low-to-high.
    Rising,
    /// Logical high-to-low.
    Falling,
    /// Both.
    Both,
}

impl Edge {
    /// The word the `edge` attribute takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Edge::None => "none",
            Edge::Rising => "rising",
            Edge::Falling => "falling",
            Edge::Both => "both",
        }
    }

    fn parse(s: &str) -> Option<Edge> {
        Some(match s {
            "none" => Edge::None,
            "rising" => Edge::Rising,
            "falling" => Edge::Falling,
            "both" => Edge::Both,
            _ => return None,
        })
    }
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One GPIO line through `/sys/class/gpio`, exported on open (unless it already was) and
/// unexported on drop (only if we exported it).
///
/// Values are logical: with `active_low` set, `true` means the line is physically low.
///
/// One process should hold one `SysfsLine` per line: sysfs has no per-opener ownership, so
/// when the line that exported a GPIO is dropped, the GPIO is unexported under any other
/// handle to it.
#[derive(Debug)]
pub struct SysfsLine {
    addr: LineAddress,
    exported: Exported,
    unexport_on_drop: bool,
    io: Io,
    pub(crate) value: AttrFile,
    pub(crate) edge: Edge,
    active_low: bool,
    opened: Instant,
    settle_until: Instant,
}

impl Sysfs {
    /// Opens line `offset` of `chip` (a label, `"gpiochipN"`, or a [`ChipSelector`]) through
    /// the chosen I/O path.
    pub fn open_line(
        &self,
        chip: impl Into<ChipSelector>,
        offset: u32,
        io: IoPath,
    ) -> Result<SysfsLine> {
        let addr = self.resolve(chip, offset)?;
        SysfsLine::open(self, &addr, io)
    }

    /// Opens a line by its global number, as legacy scripts name lines. A number that is not
    /// valid on this kernel gets an error naming the number that probably is.
    pub fn open_global(&self, number: u32, io: IoPath) -> Result<SysfsLine> {
        let addr = self.resolve_global(number)?;
        SysfsLine::open(self, &addr, io)
    }
}

impl SysfsLine {
    /// Exports `addr` if needed, waits up to [`SETTLE_TIMEOUT`] for it to become usable, and
    /// opens its `value` file (`O_RDWR|O_CLOEXEC`) for the life of the line.
    pub fn open(sysfs: &Sysfs, addr: &LineAddress, io: IoPath) -> Result<SysfsLine> {
        let io = Io::new(io)?;
        let opened = Instant::now();
        let exported = export::export(sysfs, &io, addr, SETTLE_TIMEOUT)?;
        let settle_until = opened + SETTLE_TIMEOUT;
        let value_path = exported.dir.join("value");
        let value = match retry_eacces(&value_path, opened, settle_until, || {
            io.open(&value_path, Access::ReadWrite)
        }) {
            Ok(f) => f,
            Err(e) => {
                if exported.ours {
                    let _ = export::unexport(&io, &exported.plan);
                }
                return Err(e);
            }
        };
        let mut line = SysfsLine {
            addr: addr.clone(),
            exported,
            unexport_on_drop: true,
            io,
            value,
            edge: Edge::None,
            active_low: false,
            opened,
            settle_until,
        };
        if line.has_attr("active_low") {
            line.active_low = line.read_attr("active_low")? == "1";
        }
        if line.has_attr("edge") {
            let text = line.read_attr("edge")?;
            line.edge = Edge::parse(&text).ok_or_else(|| Error::Parse {
                path: line.attr_path("edge"),
                contents: text,
                expected: "none, rising, falling or both",
            })?;
        }
        Ok(line)
    }

    /// The chip and offset of this line.
    pub fn address(&self) -> &LineAddress {
        &self.addr
    }

    /// The line's sysfs directory (`gpioN`, or `chipN/gpioOFFSET` without the legacy ABI).
    pub fn dir(&self) -> &Path {
        &self.exported.dir
    }

    /// The I/O path this line makes its calls through.
    pub fn io_path(&self) -> IoPath {
        self.io.path()
    }

    /// Whether this line exported itself (and so will unexport on drop).
    pub fn exported_by_us(&self) -> bool {
        self.exported.ours
    }

    /// Keeps the line exported after drop even if we exported it (`false`), e.g. for a setup
    /// tool whose lines outlive it. Lines exported by someone else are never unexported.
    pub fn set_unexport_on_drop(&mut self, unexport: bool) {
        self.unexport_on_drop = unexport;
    }

    /// The current direction.
    pub fn direction(&self) -> Result<Direction> {
        let text = self.read_attr("direction")?;
        match text.as_str() {
            "in" => Ok(Direction::Input),
            "out" => Ok(Direction::Output),
            _ => Err(Error::Parse {
                path: self.attr_path("direction"),
                contents: text,
                expected: "in or out",
            }),
        }
    }

    /// Makes the line an input.
    pub fn set_input(&mut self) -> Result<()> {
        self.write_attr("direction", b"in")
    }

    /// Makes the line an output driving logical `value` from the first instant: it writes
    /// `high` or `low` (never `out` then a value), so the line does not glitch.
    pub fn set_output(&mut self, value: bool) -> Result<()> {
        // `high`/`low` are physical levels; apply active_low so `value` stays logical.
        let word: &[u8] = if value != self.active_low {
            b"high"
        } else {
            b"low"
        };
        self.write_attr("direction", word)
    }

    /// Reads the logical value.
    pub fn get_value(&self) -> Result<bool> {
        let mut buf = [0u8; 4];
        let n = self
            .value
            .read_at0(&mut buf)
            .map_err(|e| Error::io("read", self.attr_path("value"), e))?;
        match &buf[..n] {
            [b'0', ..] => Ok(false),
            [b'1', ..] => Ok(true),
            other => Err(Error::Parse {
                path: self.attr_path("value"),
                contents: String::from_utf8_lossy(other).into_owned(),
                expected: "0 or 1",
            }),
        }
    }

    /// Sets the logical value of an output line: one `pwrite` on the held fd.
    pub fn set_value(&mut self, value: bool) -> Result<()> {
        let byte: &[u8] = if value { b"1" } else { b"0" };
        self.value.write_at0(byte).map_err(|e| {
            if e.raw_os_error() == Some(libc::EPERM) {
                Error::InvalidArgument(format!(
                    "cannot set the value of {}: it is an input; call set_output first",
                    self.addr
                ))
            } else {
                Error::io("write", self.attr_path("value"), e)
            }
        })
    }

    /// Whether values are inverted.
    pub fn active_low(&self) -> bool {
        self.active_low
    }

    /// Inverts (or stops inverting) values and edges.
    pub fn set_active_low(&mut self, active_low: bool) -> Result<()> {
        self.require_attr(
            "active_low",
            "kernels without CONFIG_GPIO_SYSFS_LEGACY only offer direction and value",
        )?;
        self.write_attr("active_low", if active_low { b"1" } else { b"0" })?;
        self.active_low = active_low;
        Ok(())
    }

    /// The configured edge detection.
    pub fn edge(&self) -> Edge {
        self.edge
    }

    /// Sets which edges wake [`wait_for_edge`](Self::wait_for_edge). The line must be an
    /// input whose chip can raise interrupts.
    pub fn set_edge(&mut self, edge: Edge) -> Result<()> {
        self.require_attr(
            "edge",
            "the chip cannot raise an interrupt for this line, the line cannot change direction, \
             or the kernel lacks CONFIG_GPIO_SYSFS_LEGACY",
        )?;
        self.write_attr("edge", edge.as_str().as_bytes())?;
        self.edge = edge;
        // Reading re-arms poll: an edge raised before now must not wake the next wait.
        self.get_value()?;
        Ok(())
    }

    /// Unexports now (if we exported the line), reporting any error.
    pub fn close(mut self) -> Result<()> {
        let result = self.release();
        self.unexport_on_drop = false;
        result
    }

    fn release(&mut self) -> Result<()> {
        if self.exported.ours && self.unexport_on_drop {
            self.unexport_on_drop = false;
            // A line whose chip is gone or going was unexported by the kernel. Writing
            // `unexport` anyway is worse than useless on 6.17+ kernels: a write to the
            // per-chip `chipN/unexport` racing the chip's removal deadlocks both tasks in the
            // kernel (the removal drains the attribute under the lock the write waits for;
            // seen on 7.2). The check leaves a window of microseconds instead of the whole
            // removal.
            if self.gone().is_some() {
                return Ok(());
            }
            export::unexport(&self.io, &self.exported.plan)
        } else {
            Ok(())
        }
    }

    pub(crate) fn attr_path(&self, attr: &str) -> PathBuf {
        self.exported.dir.join(attr)
    }

    fn has_attr(&self, attr: &str) -> bool {
        self.attr_path(attr).exists()
    }

    /// The error for a line whose directory has vanished, if it has. Cheap and without side
    /// effects, but late: the directory goes after its files.
    pub(crate) fn dir_gone(&self) -> Option<Error> {
        (!self.exported.dir.exists()).then(|| Error::LineGone {
            line: self.addr.to_string(),
            dir: self.exported.dir.clone(),
        })
    }

    /// The error for a line that is gone or going: its directory has vanished, or its held
    /// `value` fd answers `ENODEV` (the kernel cuts every file of the line off at once, before
    /// it unlinks them one by one). For failure paths only: the read re-arms `poll`.
    fn gone(&self) -> Option<Error> {
        let mut buf = [0u8; 4];
        match self.value.read_at0(&mut buf) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Some(Error::LineGone {
                line: self.addr.to_string(),
                dir: self.exported.dir.clone(),
            }),
            _ => self.dir_gone(),
        }
    }

    fn require_attr(&self, attr: &'static str, why: &'static str) -> Result<()> {
        if self.has_attr(attr) {
            Ok(())
        } else if let Some(e) = self.gone() {
            Err(e)
        } else {
            Err(Error::Unsupported {
                line: self.addr.to_string(),
                attr,
                why,
            })
        }
    }

    fn read_attr(&self, attr: &str) -> Result<String> {
        let path = self.attr_path(attr);
        retry_eacces(&path, self.opened, self.settle_until, || {
            self.io.read_file(&path)
        })
        .map_err(|e| self.gone().unwrap_or(e))
    }

    fn write_attr(&self, attr: &'static str, data: &[u8]) -> Result<()> {
        let path = self.attr_path(attr);
        if !path.exists() {
            if let Some(e) = self.gone() {
                return Err(e);
            }
            return Err(Error::Unsupported {
                line: self.addr.to_string(),
                attr,
                why: "the line cannot change direction (its driver forbids it)",
            });
        }
        // The chip can go between the look above and the open or the write.
        let file = retry_eacces(&path, self.opened, self.settle_until, || {
            self.io.open(&path, Access::Write)
        })
        .map_err(|e| self.gone().unwrap_or(e))?;
        file.write_at0(data).map_err(|e| match e.raw_os_error() {
            _ if self.gone().is_some() => self.gone().expect("just seen gone"),
            Some(libc::EINVAL) => Error::InvalidArgument(format!(
                "the kernel refused {:?} in {}",
                String::from_utf8_lossy(data),
                path.display()
            )),
            Some(libc::EIO) if attr == "edge" => Error::Unsupported {
                line: self.addr.to_string(),
                attr,
                why: "the kernel could not set up an interrupt for the line (is it an output?)",
            },
            _ => Error::io("write", &path, e),
        })
    }

    /// How long this line waits for udev after export.
    pub fn settle_timeout(&self) -> Duration {
        self.settle_until - self.opened
    }
}

impl Drop for SysfsLine {
    fn drop(&mut self) {
        // Drop cannot report; `close` is the way to see an unexport error.
        let _ = self.release();
    }
}

impl AsRawFd for SysfsLine {
    /// The held `value` fd: register it with epoll for `EPOLLPRI` to wait on edges yourself.
    fn as_raw_fd(&self) -> RawFd {
        self.value.as_raw_fd()
    }
}

impl AsFd for SysfsLine {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.value.as_fd()
    }
}
