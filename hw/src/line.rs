//! The one line API every backend implements.
//!
//! User code holds a [`Request`](crate::Request) (or a single-line [`Line`](crate::Line)) and
//! never sees which backend serves it. A backend is two objects:
//!
//! * a [`Backend`]: turns a [`RequestSpec`] (chip, consumer, lines by offset or name, each with
//!   its [`LineSettings`], event-buffer size) into held lines, or a clear error;
//! * the held lines, a `Box<dyn` [`Lines`]`>`: values, reconfiguration and edge events for
//!   exactly the lines it was asked for, released when dropped.
//!
//! Both traits are object-safe. Built in are the character device
//! ([`CdevBackend`](crate::CdevBackend), uAPI v2 and v1), sysfs
//! ([`SysfsBackend`](crate::SysfsBackend)) and libgpiod through `ffi-core`
//! ([`LibgpiodBackend`](crate::LibgpiodBackend)). Another backend plugs in the same way,
//! without any change to user code:
//!
//! ```
//! use std::os::fd::BorrowedFd;
//! use std::time::Duration;
//! use hw::line::{Backend, Lines, RequestSpec};
//! use hw::{ChipInfo, EdgeEvent, LineSettings, Offset, Request, Value};
//!
//! #[derive(Debug)]
//! struct MyLines { chip: ChipInfo, lines: Vec<(Offset, LineSettings)>, fd: std::os::fd::OwnedFd }
//!
//! impl Lines for MyLines {
//!     fn backend(&self) -> &str { "mine" }
//!     fn chip(&self) -> &ChipInfo { &self.chip }
//!     fn lines(&self) -> &[(Offset, LineSettings)] { &self.lines }
//!     fn get_values(&self, _: &[Offset], out: &mut [Value]) -> hw::Result<()> {
//!         out.fill(Value::Inactive);
//!         Ok(())
//!     }
//!     fn set_values(&mut self, _: &[(Offset, Value)]) -> hw::Result<()> { Ok(()) }
//!     fn reconfigure(&mut self, lines: &[(Offset, LineSettings)]) -> hw::Result<()> {
//!         self.lines = lines.to_vec();
//!         Ok(())
//!     }
//!     fn wait_edge_events(&mut self, _: Option<Duration>) -> hw::Result<bool> { Ok(false) }
//!     fn read_edge_events(&mut self, _: &mut [EdgeEvent]) -> hw::Result<usize> {
//!         Err(hw::Error::Unsupported { backend: "mine".into(), what: "edge events".into() })
//!     }
//!     fn event_fd(&self) -> BorrowedFd<'_> { use std::os::fd::AsFd; self.fd.as_fd() }
//! }
//!
//! struct Mine;
//! impl Backend for Mine {
//!     fn name(&self) -> &str { "mine" }
//!     fn request(&self, spec: &RequestSpec) -> hw::Result<Box<dyn Lines>> {
//!         let lines = spec.offsets()?.into_iter().zip(spec.lines.iter().map(|l| l.1)).collect();
//!         let chip = ChipInfo { path: "/dev/null".into(), name: "mine0".into(), label: "demo".into(), num_lines: 8 };
//!         let fd = std::fs::File::open("/dev/null").unwrap().into();
//!         Ok(Box::new(MyLines { chip, lines, fd }))
//!     }
//! }
//!
//! let mut req = Request::builder().with_lines(&[1, 2]).as_output(Value::Active).request_with(&Mine)?;
//! req.set_value(1, Value::Inactive)?;
//! assert_eq!(req.value(2)?, Value::Inactive);
//! assert_eq!(req.backend(), "mine");
//! # Ok::<(), hw::Error>(())
//! ```

use std::fmt;
use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::Duration;

use crate::chip::ChipInfo;
use crate::config::LineId;
use crate::error::{Error, Result};
use crate::event::EdgeEvent;
use crate::settings::{LineSettings, Offset, Value};

/// How the caller chose the chip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChipSelector {
    /// A device path, e.g. `/dev/gpiochip0`.
    Path(PathBuf),
    /// A kernel name, e.g. `gpiochip0`.
    Name(String),
    /// A label, e.g. `pinctrl-bcm2711`.
    Label(String),
    /// Whatever a user typed: path, name, number or label.
    Any(String),
}

impl fmt::Display for ChipSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChipSelector::Path(p) => write!(f, "{}", p.display()),
            ChipSelector::Name(s) | ChipSelector::Label(s) | ChipSelector::Any(s) => f.write_str(s),
        }
    }
}

/// Everything a backend needs to request lines. Lines named rather than numbered are for the
/// backend to resolve; it must return them in the same order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestSpec {
    /// The chip; `None` means "wherever the named lines are".
    pub chip: Option<ChipSelector>,
    /// Consumer label shown in line info.
    pub consumer: String,
    /// The lines, in request order, each with its settings.
    pub lines: Vec<(LineId, LineSettings)>,
    /// Kernel event-buffer size; `None` for the kernel's default.
    pub event_buffer_size: Option<u32>,
}

impl RequestSpec {
    /// The offsets when every line is given by offset; an error naming the first named line
    /// otherwise (for backends that cannot look names up).
    pub fn offsets(&self) -> Result<Vec<Offset>> {
        self.lines
            .iter()
            .map(|(id, _)| match id {
                LineId::Offset(o) => Ok(*o),
                LineId::Name(n) => Err(Error::InvalidConfig(format!(
                    "line '{n}' is given by name, which this backend cannot resolve; give its offset"
                ))),
            })
            .collect()
    }
}

/// Something that can request lines.
pub trait Backend {
    /// Short name, e.g. `cdev-v2`.
    fn name(&self) -> &str;

    /// Requests the lines of `spec`, all or nothing.
    fn request(&self, spec: &RequestSpec) -> Result<Box<dyn Lines>>;
}

/// Lines held by one request of some backend. Dropping it releases them.
///
/// Offsets passed in are always lines of this request (the [`Request`](crate::Request) wrapper
/// checks), and `out.len() == offsets.len()`.
pub trait Lines: Send + fmt::Debug {
    /// The backend's name, e.g. `cdev-v2`.
    fn backend(&self) -> &str;

    /// The chip the lines are on.
    fn chip(&self) -> &ChipInfo;

    /// The lines in request order with their current settings.
    fn lines(&self) -> &[(Offset, LineSettings)];

    /// Reads the logical values of `offsets` into `out`.
    fn get_values(&self, offsets: &[Offset], out: &mut [Value]) -> Result<()>;

    /// Drives output lines to logical values, all or nothing: every pair is checked (the
    /// line requested, [`Error::NotRequested`] if not; an output)
    /// before any line is driven. [`Request`](crate::Request) checks nothing itself: this is
    /// the toggle path, and a second check costs a measurable share of a toggle.
    fn set_values(&mut self, values: &[(Offset, Value)]) -> Result<()>;

    /// Applies new settings to every line of the request (same offsets, same order), keeping
    /// the lines held throughout.
    fn reconfigure(&mut self, lines: &[(Offset, LineSettings)]) -> Result<()>;

    /// Waits up to `timeout` (`None`: forever, `Some(ZERO)`: just check) for edge events;
    /// `true` when at least one can be read without blocking.
    fn wait_edge_events(&mut self, timeout: Option<Duration>) -> Result<bool>;

    /// Reads up to `out.len()` pending edge events, blocking until there is at least one.
    fn read_edge_events(&mut self, out: &mut [EdgeEvent]) -> Result<usize>;

    /// A fd that polls readable while edge events are pending, for poll/epoll/async users.
    fn event_fd(&self) -> BorrowedFd<'_>;
}
