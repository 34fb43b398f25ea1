//! The libgpiod backend: the C library driven at run time through `ffi-core`, with no
//! link-time dependency, behind the same line API as the built-in backends. Both major
//! versions are spoken: libgpiod 1.x (`libgpiod.so.2`: Debian 12's `libgpiod2`, 1.6.3) and
//! libgpiod 2.x (`libgpiod.so.3`: Debian 13's and Raspberry Pi OS trixie's `libgpiod3`,
//! 2.2). Their APIs differ wholly; each is declared once, with MicroPython type codes, when
//! the library is loaded, and a call after that only converts its arguments.
//!
//! **Which one.** [`LibgpiodBackend::open`] takes libgpiod 2.x where the system has it and
//! 1.x otherwise: 2.x speaks uAPI v2, which every kernel since 5.10 has and Debian's 7.x
//! kernels are left with alone (no `CONFIG_GPIO_CDEV_V1`), and it can do everything the line
//! API offers. [`LibgpiodBackend::open_version`] asks for one version;
//! [`LibgpiodBackend::open_library`] loads a given file or soname (like ctypes'
//! `CDLL(path)`) and tells the version from the functions it exports. The backend is named
//! after the version it drives: `libgpiod-v1` or `libgpiod-v2`.
//!
//! **libgpiod 1.x** requests each line on its own (`gpiod_line_request_*_flags`), so a
//! request of several lines is several kernel requests; edge lines are watched together
//! through an epoll fd. What libgpiod 1.x cannot do is refused with [`Error::Unsupported`]
//! naming the setting: debounce, the event clock, the kernel event-buffer size, an as-is
//! direction. Its events carry no sequence numbers: they are numbered here as they are read,
//! so events the kernel dropped cannot show as a gap. It speaks only uAPI v1: on a kernel
//! without it the request is refused, naming libgpiod 2.x as the way out.
//!
//! Edge events of 1.x are read from the line's event fd (`gpiod_line_event_get_fd`) as the
//! kernel's fixed-layout uAPI v1 records, not through `gpiod_line_event_read`: its
//! `struct gpiod_line_event` holds a `struct timespec`, whose size depends on how libgpiod
//! was built (a 64-bit `time_t` on 32-bit ARM in Debian 13's `libgpiod2t64`, 32 bits in
//! Debian 12's `libgpiod2`), which a Rust mirror of the struct cannot know.
//!
//! **libgpiod 2.x** is all opaque objects and accessor functions (no struct crosses the
//! boundary): one `gpiod_chip_request_lines` for all the lines, events read into a
//! `gpiod_edge_event_buffer` with the kernel's timestamps and sequence numbers.
//!
//! ```no_run
//! use hw::backend::libgpiod::LibgpiodBackend;
//! use hw::{Request, Value};
//! let gpiod = LibgpiodBackend::open()?;
//! let mut led = Request::builder()
//!     .on_chip_labelled("pinctrl-bcm2711")
//!     .with_line(17)
//!     .as_output(Value::Inactive)
//!     .request_with(&gpiod)?;
//! led.set_value(17, Value::Active)?;
//! # Ok::<(), hw::Error>(())
//! ```

mod v2;

use std::ffi::c_void;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ffi_core::{Arg, Function, Library};
use nix::errno::Errno;
use nix::sys::epoll::EpollFlags;

use super::event_fds::{require_edge_detection, EventFds};
use crate::chip::{find_line, Chip, ChipInfo};
use crate::config::LineId;
use crate::error::{Error, Result};
use crate::event::{EdgeEvent, EdgeKind};
use crate::line::{Backend, ChipSelector, Lines, RequestSpec};
use crate::settings::{Bias, Direction, Drive, Edge, EventClock, LineSettings, Offset, Value};
use crate::uapi::v1;

/// The soname of libgpiod 1.x.
pub const SONAME_V1: &str = "libgpiod.so.2";
/// The soname of libgpiod 2.x (a different API).
pub const SONAME_V2: &str = "libgpiod.so.3";
/// The Debian/Ubuntu package that provides [`SONAME_V1`] (Debian 12, Ubuntu 22.04).
pub const PACKAGE: &str = "libgpiod2";
/// The same library's package where it was rebuilt with a 64-bit `time_t` (Debian 13
/// trixie, Raspberry Pi OS trixie, Ubuntu 24.04): same soname, new package name.
pub const PACKAGE_T64: &str = "libgpiod2t64";
/// The Debian/Ubuntu package that provides [`SONAME_V2`] (Debian 13 and later, Raspberry
/// Pi OS trixie, Ubuntu 24.04).
pub const PACKAGE_V2: &str = "libgpiod3";

/// The backend's name in errors ("... is not supported by the libgpiod backend").
const NAME: &str = "libgpiod";
/// The name of lines held through libgpiod 1.x.
const LINES_NAME_V1: &str = "libgpiod-v1";

/// A major version of libgpiod's API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LibgpiodVersion {
    /// libgpiod 1.x ([`SONAME_V1`]): speaks uAPI v1 only.
    V1,
    /// libgpiod 2.x ([`SONAME_V2`]): speaks uAPI v2 only.
    V2,
}

impl LibgpiodVersion {
    /// The soname of this version's library.
    pub fn soname(self) -> &'static str {
        match self {
            LibgpiodVersion::V1 => SONAME_V1,
            LibgpiodVersion::V2 => SONAME_V2,
        }
    }

    /// The backend's name for this version: `libgpiod-v1` or `libgpiod-v2`.
    pub fn backend_name(self) -> &'static str {
        match self {
            LibgpiodVersion::V1 => LINES_NAME_V1,
            LibgpiodVersion::V2 => v2::LINES_NAME,
        }
    }
}

impl std::fmt::Display for LibgpiodVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LibgpiodVersion::V1 => "libgpiod 1.x",
            LibgpiodVersion::V2 => "libgpiod 2.x",
        })
    }
}

// `GPIOD_LINE_REQUEST_FLAG_*` of gpiod.h (libgpiod 1.6).
const FLAG_OPEN_DRAIN: i32 = 1 << 0;
const FLAG_OPEN_SOURCE: i32 = 1 << 1;
const FLAG_ACTIVE_LOW: i32 = 1 << 2;
const FLAG_BIAS_DISABLE: i32 = 1 << 3;
const FLAG_BIAS_PULL_DOWN: i32 = 1 << 4;
const FLAG_BIAS_PULL_UP: i32 = 1 << 5;
// `GPIOD_LINE_REQUEST_DIRECTION_*` for gpiod_line_set_config.
const DIRECTION_INPUT: i32 = 2;
const DIRECTION_OUTPUT: i32 = 3;

/// Decodes one uAPI v1 event record (`struct gpioevent_data`) read from a libgpiod line's
/// event fd: its edge and its timestamp in nanoseconds. `None` for a short record.
fn decode_event(record: &[u8]) -> Option<(EdgeKind, u64)> {
    let raw = v1::EventData::from_bytes(record)?;
    let kind = if raw.id == v1::EVENT_FALLING_EDGE {
        EdgeKind::Falling
    } else {
        EdgeKind::Rising
    };
    Some((kind, raw.timestamp))
}

/// libgpiod 1.x's functions, declared once.
struct Api {
    lib_name: String,
    version: String,
    chip_open: Function,
    chip_close: Function,
    chip_get_line: Function,
    chip_find_line: Function,
    request_input: Function,
    request_output: Function,
    request_rising: Function,
    request_falling: Function,
    request_both: Function,
    set_config: Function,
    get_value: Function,
    set_value: Function,
    event_get_fd: Function,
    release: Function,
}

/// Declares `name` from `lib`, which should be libgpiod `major`.x: a function it lacks says
/// the library is not that.
fn declare(lib: &Library, major: u8, ret: &str, name: &str, args: &str) -> Result<Function> {
    lib.func(ret, name, args).map_err(|e| Error::Io {
        action: format!(
            "declaring {name} from {}: the library is not libgpiod {major}.x",
            lib.name()
        ),
        source: io::Error::other(e.to_string()),
    })
}

/// What a C function without arguments that returns a string says (empty for NULL).
///
/// # Safety
/// `f` must be declared as such a function (`"s"`, no arguments) and return a static
/// NUL-terminated string or NULL.
unsafe fn static_string(f: &Function) -> String {
    // SAFETY: the caller's contract.
    unsafe { f.call(&[]) }
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Api {
    fn load(lib: &Library) -> Result<Api> {
        let f = |ret: &str, name: &str, args: &str| declare(lib, 1, ret, name, args);
        let version_string = f("s", "gpiod_version_string", "")?;
        // SAFETY: `lib` is libgpiod 1.x (`open_library`'s contract), whose
        // `const char *gpiod_version_string(void)` returns a static string.
        let version = unsafe { static_string(&version_string) };
        Ok(Api {
            lib_name: lib.name().to_owned(),
            version,
            chip_open: f("p", "gpiod_chip_open", "s")?,
            chip_close: f("v", "gpiod_chip_close", "p")?,
            chip_get_line: f("p", "gpiod_chip_get_line", "pI")?,
            chip_find_line: f("p", "gpiod_chip_find_line", "ps")?,
            request_input: f("i", "gpiod_line_request_input_flags", "psi")?,
            request_output: f("i", "gpiod_line_request_output_flags", "psii")?,
            request_rising: f("i", "gpiod_line_request_rising_edge_events_flags", "psi")?,
            request_falling: f("i", "gpiod_line_request_falling_edge_events_flags", "psi")?,
            request_both: f("i", "gpiod_line_request_both_edges_events_flags", "psi")?,
            set_config: f("i", "gpiod_line_set_config", "piii")?,
            get_value: f("i", "gpiod_line_get_value", "p")?,
            set_value: f("i", "gpiod_line_set_value", "pi")?,
            event_get_fd: f("i", "gpiod_line_event_get_fd", "p")?,
            release: f("v", "gpiod_line_release", "p")?,
        })
    }
}

/// Requests lines through libgpiod (1.x or 2.x), loaded at run time.
#[derive(Clone)]
pub struct LibgpiodBackend {
    api: Loaded,
}

/// The declared functions of the library that was loaded.
#[derive(Clone)]
enum Loaded {
    V1(Arc<Api>),
    V2(Arc<v2::Api>),
}

impl std::fmt::Debug for LibgpiodBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (library, version) = match &self.api {
            Loaded::V1(a) => (&a.lib_name, &a.version),
            Loaded::V2(a) => (&a.lib_name, &a.version),
        };
        f.debug_struct("LibgpiodBackend")
            .field("library", library)
            .field("version", version)
            .finish()
    }
}

impl LibgpiodBackend {
    /// Loads the system's libgpiod: 2.x ([`SONAME_V2`]) where it is installed, else 1.x
    /// ([`SONAME_V1`]), and declares its functions.
    ///
    /// Safe, unlike [`open_library`](Self::open_library): the sonames are the system's
    /// libgpiod, whose initialisers are sound and whose API is the one declared for it.
    ///
    /// # Errors
    /// When neither library is installed, an error naming the packages to install; when a
    /// function is missing, an error naming it.
    pub fn open() -> Result<Self> {
        match Self::open_version(LibgpiodVersion::V2) {
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Self::open_version(LibgpiodVersion::V1).map_err(|e| match e {
                    Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                        neither_library(&source.to_string())
                    }
                    e => e,
                })
            }
            other => other,
        }
    }

    /// Loads the system's libgpiod of major version `version` (its soname) and declares its
    /// functions.
    ///
    /// # Errors
    /// As [`open`](Self::open); a missing library names the package that provides it (and
    /// says when only the other version is installed).
    pub fn open_version(version: LibgpiodVersion) -> Result<Self> {
        let name = version.soname();
        // SAFETY: the soname is the system's libgpiod of that version (Debian's
        // `libgpiod2`/`libgpiod2t64` or `libgpiod3`), a library with sound initialisers and
        // exactly the API `load_as` declares for it.
        let lib = match unsafe { Library::open(name) } {
            Ok(lib) => lib,
            Err(e) => {
                let other = match version {
                    LibgpiodVersion::V1 => LibgpiodVersion::V2,
                    LibgpiodVersion::V2 => LibgpiodVersion::V1,
                };
                // SAFETY: as above, for the other version; loaded only to tell the user
                // which version is installed.
                let only_other = unsafe { Library::open(other.soname()) }.is_ok();
                return Err(missing_library(name, version, &e.to_string(), only_other));
            }
        };
        Self::load_as(&lib, version)
    }

    /// Loads libgpiod from `name` (a soname or a path, e.g. another distribution's build)
    /// and declares its functions; the version is told from what the library exports
    /// (`gpiod_line_settings_new` exists only in 2.x, `gpiod_line_request_input_flags` only
    /// in 1.x).
    ///
    /// # Errors
    /// As [`open`](Self::open), and an error when the library exports neither API.
    ///
    /// # Safety
    /// As [`ffi_core::Library::open`]: loading `name` runs its initialisers, which must be
    /// sound. And `name` must be libgpiod 1.x or 2.x: every call this backend makes trusts
    /// the signatures it declares for that version (a library exporting the same names
    /// with other types would be called wrongly).
    pub unsafe fn open_library(name: &str) -> Result<Self> {
        // SAFETY: loading `name` is sound (forwarded from the caller).
        let lib = match unsafe { Library::open(name) } {
            Ok(lib) => lib,
            Err(e) => return Err(missing_file(name, &e.to_string())),
        };
        let version = if lib.func("p", "gpiod_line_settings_new", "").is_ok() {
            LibgpiodVersion::V2
        } else if lib
            .func("i", "gpiod_line_request_input_flags", "psi")
            .is_ok()
        {
            LibgpiodVersion::V1
        } else {
            return Err(Error::Io {
                action: format!(
                    "loading {name}: it is not libgpiod (it exports neither libgpiod 1.x's \
                     gpiod_line_request_input_flags nor 2.x's gpiod_line_settings_new); give \
                     the path of {SONAME_V1} or {SONAME_V2}"
                ),
                source: io::Error::from(io::ErrorKind::InvalidData),
            });
        };
        Self::load_as(&lib, version)
    }

    fn load_as(lib: &Library, version: LibgpiodVersion) -> Result<Self> {
        let api = match version {
            LibgpiodVersion::V1 => Loaded::V1(Arc::new(Api::load(lib)?)),
            LibgpiodVersion::V2 => Loaded::V2(Arc::new(v2::Api::load(lib)?)),
        };
        Ok(LibgpiodBackend { api })
    }

    /// libgpiod's own version string, e.g. `1.6.3` or `2.2.1`.
    pub fn version(&self) -> &str {
        match &self.api {
            Loaded::V1(a) => &a.version,
            Loaded::V2(a) => &a.version,
        }
    }

    /// The major version of the API this backend drives.
    pub fn api_version(&self) -> LibgpiodVersion {
        match self.api {
            Loaded::V1(_) => LibgpiodVersion::V1,
            Loaded::V2(_) => LibgpiodVersion::V2,
        }
    }

    /// The library as it was loaded: a soname or a path.
    pub fn library(&self) -> &str {
        match &self.api {
            Loaded::V1(a) => &a.lib_name,
            Loaded::V2(a) => &a.lib_name,
        }
    }
}

/// Neither version of the system's libgpiod could be loaded.
fn neither_library(why: &str) -> Error {
    Error::Io {
        action: format!(
            "loading libgpiod: neither {SONAME_V2} (libgpiod 2.x) nor {SONAME_V1} (libgpiod \
             1.x) is installed; install one (`apt-get install {PACKAGE_V2}` on Debian 13 and \
             later, `apt-get install {PACKAGE}` on Debian 12), or use the built-in \
             character-device backend"
        ),
        source: io::Error::new(io::ErrorKind::NotFound, why.to_owned()),
    }
}

/// A library given by path or name that could not be loaded.
fn missing_file(name: &str, why: &str) -> Error {
    Error::Io {
        action: format!(
            "loading {name}: no such libgpiod could be loaded; give an existing \
             {SONAME_V1} or {SONAME_V2}, or use the system's (LibgpiodBackend::open)"
        ),
        source: io::Error::new(io::ErrorKind::NotFound, why.to_owned()),
    }
}

/// Why the system's library of `version` could not be loaded, and what to install.
fn missing_library(name: &str, version: LibgpiodVersion, why: &str, only_other: bool) -> Error {
    let install = match version {
        LibgpiodVersion::V1 => format!(
            "install it with `apt-get install {PACKAGE}` (`apt-get install {PACKAGE_T64}` on \
             Debian 13 and later)"
        ),
        LibgpiodVersion::V2 => format!(
            "install it with `apt-get install {PACKAGE_V2}` (Debian 13 and later; Debian 12 \
             has only libgpiod 1.x)"
        ),
    };
    let action = if only_other {
        let (other, other_so) = match version {
            LibgpiodVersion::V1 => ("2.x", SONAME_V2),
            LibgpiodVersion::V2 => ("1.x", SONAME_V1),
        };
        format!(
            "loading {name}: only {other_so} (libgpiod {other}) is installed, and {version} \
             was asked for; {install}, or let the backend take the installed one (backend \
             libgpiod)"
        )
    } else {
        format!(
            "loading {name}: {version} is not installed; {install}, or use the built-in \
             character-device backend"
        )
    };
    Error::Io {
        action,
        source: io::Error::new(io::ErrorKind::NotFound, why.to_owned()),
    }
}

impl Backend for LibgpiodBackend {
    fn name(&self) -> &str {
        self.api_version().backend_name()
    }

    fn request(&self, spec: &RequestSpec) -> Result<Box<dyn Lines>> {
        match &self.api {
            Loaded::V1(api) => Ok(Box::new(LibgpiodLines::request(api, spec)?)),
            Loaded::V2(api) => {
                if spec.lines.is_empty() {
                    return Err(no_lines());
                }
                let chip = find_chip(spec)?;
                Ok(Box::new(v2::Libgpiod2Lines::request(api, chip, spec)?))
            }
        }
    }
}

fn no_lines() -> Error {
    Error::InvalidConfig(
        "no lines to request: add lines with with_lines() or with_named_lines()".into(),
    )
}

/// The request flags for the settings, or what libgpiod 1.x cannot do.
fn request_flags(offset: Offset, s: &LineSettings) -> Result<i32> {
    let refuse = |what: String| {
        Err(Error::Unsupported {
            backend: NAME.into(),
            what: format!("{what} (line {offset}; libgpiod 1.x has no such setting)"),
        })
    };
    if s.direction == Direction::AsIs {
        return refuse("an as-is direction".into());
    }
    if s.debounce_us() != 0 {
        return refuse("debounce".into());
    }
    if s.event_clock != EventClock::Monotonic {
        return refuse(format!("event clock {}", s.event_clock));
    }
    let mut f = 0;
    if s.active_low {
        f |= FLAG_ACTIVE_LOW;
    }
    f |= match s.drive {
        Drive::PushPull => 0,
        Drive::OpenDrain => FLAG_OPEN_DRAIN,
        Drive::OpenSource => FLAG_OPEN_SOURCE,
    };
    f |= match s.bias {
        Bias::AsIs => 0,
        Bias::PullUp => FLAG_BIAS_PULL_UP,
        Bias::PullDown => FLAG_BIAS_PULL_DOWN,
        Bias::Disabled => FLAG_BIAS_DISABLE,
    };
    Ok(f)
}

/// One requested line: libgpiod's line object (owned by the chip object).
#[derive(Debug)]
struct Held {
    offset: Offset,
    line: *mut c_void,
    requested: bool,
    /// The line's event fd, owned by libgpiod's line object, for lines with edge detection.
    event_fd: Option<RawFd>,
}

/// Lines held through libgpiod.
pub(crate) struct LibgpiodLines {
    api: Arc<Api>,
    chip_ptr: *mut c_void,
    chip: ChipInfo,
    /// The chip through the character device while lines are being requested: a refusal
    /// (EBUSY) is explained from it at once, before the holder may let go (opening the chip
    /// again first made that window wide enough to miss the holder's name often).
    explainer: Option<Chip>,
    lines: Vec<(Offset, LineSettings)>,
    held: Vec<Held>,
    events: EventFds,
}

// SAFETY: the chip and line objects are owned by this value alone (libgpiod 1.x keeps no
// global state about them), so moving them to another thread is moving plain heap memory and
// fds; every use goes through `&self`/`&mut self` of this one owner.
unsafe impl Send for LibgpiodLines {}

impl std::fmt::Debug for LibgpiodLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibgpiodLines")
            .field("chip", &self.chip)
            .field("lines", &self.lines)
            .finish()
    }
}

fn ptr_of(v: &ffi_core::Value) -> *mut c_void {
    v.as_ptr().unwrap_or(std::ptr::null_mut())
}

fn int_of(v: &ffi_core::Value) -> i64 {
    v.as_i64().unwrap_or(-1)
}

fn ffi_err(e: ffi_core::Error, action: &str) -> Error {
    Error::Io {
        action: format!("{action} through libgpiod"),
        source: io::Error::other(e.to_string()),
    }
}

impl LibgpiodLines {
    fn request(api: &Arc<Api>, spec: &RequestSpec) -> Result<LibgpiodLines> {
        if spec.lines.is_empty() {
            return Err(no_lines());
        }
        if spec.event_buffer_size.is_some() {
            return Err(Error::Unsupported {
                backend: NAME.into(),
                what: "setting the kernel event-buffer size (libgpiod 1.x has no such setting)"
                    .into(),
            });
        }
        let mut flags = Vec::with_capacity(spec.lines.len());
        for (id, s) in &spec.lines {
            s.validate(&id.to_string()).map_err(Error::InvalidConfig)?;
            let offset = match id {
                LineId::Offset(o) => *o,
                LineId::Name(_) => 0,
            };
            flags.push(request_flags(offset, s)?);
        }
        let (chip_ptr, explainer) = open_chip(api, spec)?;
        let chip = explainer.info().clone();
        let events = match EventFds::new() {
            Ok(e) => e,
            Err(e) => {
                // SAFETY: `void gpiod_chip_close(struct gpiod_chip *)`; chip_ptr came from
                // gpiod_chip_open* and nothing else holds it, so it is closed exactly once.
                let _ = unsafe { api.chip_close.call(&[Arg::Ptr(chip_ptr)]) };
                return Err(Error::from_errno(e, &chip.name, "creating an epoll fd"));
            }
        };
        // From here on, dropping `me` releases what was requested and closes the chip.
        let mut me = LibgpiodLines {
            api: api.clone(),
            chip_ptr,
            chip,
            explainer: Some(explainer),
            lines: Vec::with_capacity(spec.lines.len()),
            held: Vec::with_capacity(spec.lines.len()),
            events,
        };
        for ((id, s), f) in spec.lines.iter().zip(flags) {
            let (offset, line) = me.get_line(id)?;
            if me.held.iter().any(|h| h.offset == offset) {
                return Err(Error::InvalidConfig(format!(
                    "line {offset} of {} appears twice in the request (as '{id}')",
                    me.chip.name
                )));
            }
            me.held.push(Held {
                offset,
                line,
                requested: false,
                event_fd: None,
            });
            me.request_one(me.held.len() - 1, s, f, &spec.consumer)?;
            me.lines.push((offset, *s));
        }
        me.explainer = None;
        Ok(me)
    }

    /// libgpiod's line object for `id`, checked against the chip.
    fn get_line(&self, id: &LineId) -> Result<(Offset, *mut c_void)> {
        let api = &self.api;
        match id {
            LineId::Offset(o) => {
                if *o >= self.chip.num_lines {
                    return Err(Error::OffsetOutOfRange {
                        chip: self.chip.describe(),
                        offset: *o,
                        num_lines: self.chip.num_lines,
                    });
                }
                // SAFETY: `gpiod_chip_get_line(struct gpiod_chip *, unsigned int)`; chip_ptr is
                // the open chip this object owns, and the offset was checked against it above.
                let (v, errno) = unsafe {
                    api.chip_get_line
                        .call_with_errno(&[Arg::Ptr(self.chip_ptr), (*o).into()])
                }
                .map_err(|e| ffi_err(e, "gpiod_chip_get_line"))?;
                let p = ptr_of(&v);
                if p.is_null() {
                    return Err(self.errno(errno, &format!("getting line {o}")));
                }
                Ok((*o, p))
            }
            LineId::Name(n) => {
                // SAFETY: `gpiod_chip_find_line(struct gpiod_chip *, const char *)`; chip_ptr is
                // the open chip this object owns, the name a NUL-terminated copy.
                let (v, errno) = unsafe {
                    api.chip_find_line
                        .call_with_errno(&[Arg::Ptr(self.chip_ptr), n.as_str().into()])
                }
                .map_err(|e| ffi_err(e, "gpiod_chip_find_line"))?;
                let p = ptr_of(&v);
                if p.is_null() {
                    if errno == libc::ENOENT || errno == 0 {
                        let names = Chip::open(&self.chip.path)
                            .and_then(|c| c.line_infos())
                            .map(|infos| infos.into_iter().map(|i| i.name).collect::<Vec<_>>())
                            .unwrap_or_default();
                        return Err(Error::LineNotFound {
                            name: n.clone(),
                            chip: Some(self.chip.describe()),
                            suggestions: crate::error::nearest_names(
                                n,
                                names.iter().map(String::as_str),
                            ),
                        });
                    }
                    return Err(self.errno(errno, &format!("finding line '{n}'")));
                }
                let offset = (0..self.chip.num_lines)
                    .find(|&o| {
                        // SAFETY: as for an offset above; `o` is below the chip's line count.
                        unsafe { api.chip_get_line.call(&[Arg::Ptr(self.chip_ptr), o.into()]) }
                            .is_ok_and(|v| ptr_of(&v) == p)
                    })
                    .unwrap_or(0);
                Ok((offset, p))
            }
        }
    }

    /// Requests held line `i` with settings `s` and flags `f`.
    fn request_one(&mut self, i: usize, s: &LineSettings, f: i32, consumer: &str) -> Result<()> {
        let api = self.api.clone();
        let line = Arg::Ptr(self.held[i].line);
        let offset = self.held[i].offset;
        let call = |func: &Function, args: &[Arg<'_>]| {
            // SAFETY: every `func` below is a `gpiod_line_request_*_flags(struct gpiod_line *,
            // const char *consumer, int flags[, int default_val])` declared with those codes;
            // `line` is a line object of the chip this object owns, the consumer a
            // NUL-terminated copy that libgpiod copies into the request.
            unsafe { func.call_with_errno(args) }.map_err(|e| ffi_err(e, "requesting a line"))
        };
        let (rc, errno) = match (s.direction, s.edge) {
            (Direction::Output, _) => call(
                &api.request_output,
                &[
                    line,
                    consumer.into(),
                    f.into(),
                    i32::from(u8::from(s.output_value)).into(),
                ],
            )?,
            (_, Edge::None) => call(&api.request_input, &[line, consumer.into(), f.into()])?,
            (_, Edge::Rising) => call(&api.request_rising, &[line, consumer.into(), f.into()])?,
            (_, Edge::Falling) => call(&api.request_falling, &[line, consumer.into(), f.into()])?,
            (_, Edge::Both) => call(&api.request_both, &[line, consumer.into(), f.into()])?,
        };
        if int_of(&rc) != 0 {
            return Err(self.request_error(offset, errno));
        }
        self.held[i].requested = true;
        if s.edge != Edge::None {
            // SAFETY: `int gpiod_line_event_get_fd(struct gpiod_line *)` on a line this object
            // holds and has just requested.
            let fd = unsafe { api.event_get_fd.call(&[Arg::Ptr(self.held[i].line)]) }
                .map_err(|e| ffi_err(e, "gpiod_line_event_get_fd"))?;
            let fd = int_of(&fd);
            if fd < 0 {
                return Err(Error::InvalidConfig(format!(
                    "libgpiod gave no event fd for line {offset}"
                )));
            }
            self.held[i].event_fd = Some(fd as RawFd);
            // SAFETY: the fd belongs to libgpiod's line object, which stays requested (and so
            // the fd open) until it is released in Drop, after the epoll fd stops being used.
            let bfd = unsafe { BorrowedFd::borrow_raw(fd as RawFd) };
            self.events.watch(
                bfd,
                EpollFlags::EPOLLIN,
                i,
                &self.chip.name,
                "watching an event fd",
            )?;
        }
        Ok(())
    }

    fn request_error(&self, offset: Offset, errno: i32) -> Error {
        let e = Errno::from_raw(errno);
        match e {
            Errno::EBUSY => {
                let reopened;
                let chip = match &self.explainer {
                    Some(c) => Some(c),
                    None => {
                        reopened = Chip::open(&self.chip.path).ok();
                        reopened.as_ref()
                    }
                };
                match chip {
                    Some(chip) => super::busy_error(chip, &[offset]),
                    None => Error::Busy {
                        chip: self.chip.describe(),
                        offset,
                        name: String::new(),
                        consumer: String::new(),
                    },
                }
            }
            Errno::EINVAL => Error::InvalidConfig(format!(
                "the kernel rejected the settings for line {offset} on {} (EINVAL)",
                self.chip.describe()
            )),
            e if e == Errno::EOPNOTSUPP || errno == 524 => Error::Unsupported {
                backend: format!("{NAME} ({} driver)", self.chip.label),
                what: "a requested setting (bias or drive)".into(),
            },
            _ => self.errno(errno, &format!("requesting line {offset}")),
        }
    }

    fn errno(&self, errno: i32, action: &str) -> Error {
        Error::from_errno(
            Errno::from_raw(errno),
            &self.chip.name,
            format!("{action} on {} through libgpiod", self.chip.name),
        )
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

    fn get_one(&self, i: usize) -> Result<Value> {
        // SAFETY: `int gpiod_line_get_value(struct gpiod_line *)` on a line this object holds
        // (its chip stays open until Drop).
        let (v, errno) = unsafe {
            self.api
                .get_value
                .call_with_errno(&[Arg::Ptr(self.held[i].line)])
        }
        .map_err(|e| ffi_err(e, "gpiod_line_get_value"))?;
        match int_of(&v) {
            0 => Ok(Value::Inactive),
            1 => Ok(Value::Active),
            _ => Err(self.errno(
                errno,
                &format!("reading the value of line {}", self.held[i].offset),
            )),
        }
    }

    /// Reads one event record of held line `i` from its event fd (ready, per epoll):
    /// `None` if there was none after all or it was short.
    fn read_event(&self, i: usize) -> Result<Option<(EdgeKind, u64)>> {
        let held = &self.held[i];
        let Some(fd) = held.event_fd else {
            return Ok(None);
        };
        // SAFETY: the fd belongs to libgpiod's line object, requested with edge detection
        // and not released before Drop; the borrow ends within this call.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let mut record = [0u8; v1::EventData::SIZE];
        match nix::unistd::read(fd, &mut record) {
            Ok(0) => Err(Error::ChipGone {
                chip: self.chip.name.clone(),
            }),
            Ok(got) => Ok(decode_event(&record[..got])),
            Err(Errno::EAGAIN | Errno::EINTR) => Ok(None),
            Err(e) => Err(self.errno(
                e as i32,
                &format!("reading an edge event of line {}", held.offset),
            )),
        }
    }

    fn alive(&self) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        self.get_one(0).map(drop)
    }
}

/// The chip of `spec`, found through the character device.
fn find_chip(spec: &RequestSpec) -> Result<Chip> {
    // The character device finds the chip (by path, label, name, or the chip of the first
    // line name) and says what it is; libgpiod then opens that path. libgpiod 1.x's own
    // lookups open every chip first and give up if any of them vanishes meanwhile (a
    // hot-unplugged expander, another test's simulated chip).
    match &spec.chip {
        Some(ChipSelector::Path(p)) => Chip::open(p),
        Some(ChipSelector::Label(l)) => Chip::open_by_label(l),
        Some(ChipSelector::Name(n) | ChipSelector::Any(n)) => Chip::find(n),
        None => {
            let first = spec.lines.iter().find_map(|(id, _)| match id {
                LineId::Name(n) => Some(n.clone()),
                LineId::Offset(_) => None,
            });
            let Some(name) = first.filter(|_| {
                spec.lines
                    .iter()
                    .all(|(id, _)| matches!(id, LineId::Name(_)))
            }) else {
                return Err(Error::InvalidConfig(
                    "line offsets need a chip: call on_chip(), on_chip_named() or \
                     on_chip_labelled()"
                        .into(),
                ));
            };
            Chip::open(&find_line(&name)?.chip.path)
        }
    }
}

/// Opens the chip of `spec` with libgpiod 1.x; returns its object and the chip as the
/// character device opened it.
fn open_chip(api: &Api, spec: &RequestSpec) -> Result<(*mut c_void, Chip)> {
    let chip = find_chip(spec)?;
    if !chip.speaks_uapi_v1() {
        return Err(Error::UapiUnavailable {
            version: "v1",
            chip: chip.info().name.clone(),
            hint: NEEDS_UAPI_V1,
        });
    }
    let info = chip.info().clone();
    let path = info.path.to_string_lossy().into_owned();
    // SAFETY: `struct gpiod_chip *gpiod_chip_open(const char *path)`; the argument is a
    // NUL-terminated copy.
    let (v, errno) = unsafe { api.chip_open.call_with_errno(&[path.as_str().into()]) }
        .map_err(|e| ffi_err(e, "opening the chip"))?;
    let p = ptr_of(&v);
    if p.is_null() && chip_removed_on_open(errno, &info.name) {
        return Err(Error::ChipGone { chip: info.name });
    }
    if p.is_null() {
        return Err(Error::from_errno(
            Errno::from_raw(errno),
            &info.name,
            format!("opening chip {path} through libgpiod"),
        ));
    }
    Ok((p, chip))
}

/// Where the kernel lists GPIO devices; libgpiod checks a chip's node against it on open.
const GPIO_BUS_DEVICES: &str = "/sys/bus/gpio/devices";

/// [`open_failed_because_gone`] against the system's GPIO bus: what both libgpiod versions'
/// chip opens ask when `gpiod_chip_open` returns NULL.
pub(crate) fn chip_removed_on_open(errno: i32, name: &str) -> bool {
    open_failed_because_gone(errno, Path::new(GPIO_BUS_DEVICES), name)
}

/// Whether libgpiod's failure (`errno`) to open chip `name`, which the character device
/// opened a moment ago, means the chip was removed meanwhile: its node is gone (`ENOENT`), its
/// device is (`ENODEV`), or libgpiod's own check that the node is a GPIO chip failed
/// (`ENOTTY`) because the chip's entry under `bus` (`/sys/bus/gpio/devices`) is gone.
fn open_failed_because_gone(errno: i32, bus: &Path, name: &str) -> bool {
    match errno {
        libc::ENOENT | libc::ENODEV => true,
        libc::ENOTTY => bus.is_dir() && !bus.join(name).exists(),
        _ => false,
    }
}

/// Why libgpiod 1.x cannot work on a kernel without uAPI v1, and what to use instead.
pub const NEEDS_UAPI_V1: &str = "libgpiod 1.x speaks only uAPI v1, and this kernel is built \
     without it (CONFIG_GPIO_CDEV_V1 is not set, as in Debian's 7.x kernels); use the \
     character-device backend (uAPI v2, hw's default), or libgpiod 2.x (backend libgpiod-v2, \
     `apt-get install libgpiod3`)";

impl Drop for LibgpiodLines {
    fn drop(&mut self) {
        for h in &self.held {
            if h.requested {
                // Errors cannot be reported from drop; release returns nothing anyway.
                // SAFETY: `void gpiod_line_release(struct gpiod_line *)` on a line this object
                // requested, released once here, before its chip is closed below.
                let _ = unsafe { self.api.release.call(&[Arg::Ptr(h.line)]) };
            }
        }
        // The line objects belong to the chip object and go with it.
        // SAFETY: `void gpiod_chip_close(struct gpiod_chip *)` on the chip this object owns,
        // closed once, here; nothing uses its line objects afterwards.
        let _ = unsafe { self.api.chip_close.call(&[Arg::Ptr(self.chip_ptr)]) };
    }
}

impl Lines for LibgpiodLines {
    fn backend(&self) -> &str {
        LINES_NAME_V1
    }

    fn chip(&self) -> &ChipInfo {
        &self.chip
    }

    fn lines(&self) -> &[(Offset, LineSettings)] {
        &self.lines
    }

    fn get_values(&self, offsets: &[Offset], out: &mut [Value]) -> Result<()> {
        for (slot, &o) in out.iter_mut().zip(offsets) {
            *slot = self.get_one(self.index_of(o)?)?;
        }
        Ok(())
    }

    fn set_values(&mut self, values: &[(Offset, Value)]) -> Result<()> {
        super::check_every_pair_first(values, |o| super::output_index(&self.lines, o))?;
        for &(o, v) in values {
            let i = super::output_index(&self.lines, o)?;
            // SAFETY: `int gpiod_line_set_value(struct gpiod_line *, int)` on a line this
            // object holds, requested as an output (checked above).
            let (rc, errno) = unsafe {
                self.api
                    .set_value
                    .call_with_errno(&[Arg::Ptr(self.held[i].line), Arg::Int(v.is_active() as i64)])
            }
            .map_err(|e| ffi_err(e, "gpiod_line_set_value"))?;
            if int_of(&rc) != 0 {
                return Err(self.errno(errno, &format!("setting line {o}")));
            }
            self.lines[i].1.output_value = v;
        }
        Ok(())
    }

    fn reconfigure(&mut self, lines: &[(Offset, LineSettings)]) -> Result<()> {
        let mut flags = Vec::with_capacity(lines.len());
        for ((o, new), (_, old)) in lines.iter().zip(&self.lines) {
            new.validate(&o.to_string()).map_err(Error::InvalidConfig)?;
            let f = request_flags(*o, new)?;
            if (new.edge != Edge::None || old.edge != Edge::None) && new != old {
                return Err(Error::Unsupported {
                    backend: NAME.into(),
                    what: format!(
                        "reconfiguring line {o}, which has or gets edge detection \
                             (libgpiod 1.x can only reconfigure lines without events)"
                    ),
                });
            }
            flags.push(f);
        }
        for ((o, new), f) in lines.iter().zip(flags) {
            let i = self.index_of(*o)?;
            if new.edge != Edge::None {
                continue;
            }
            let direction = match new.direction {
                Direction::Output => DIRECTION_OUTPUT,
                _ => DIRECTION_INPUT,
            };
            // SAFETY: `int gpiod_line_set_config(struct gpiod_line *, int direction, int flags,
            // int value)` on a line this object holds and has requested.
            let (rc, errno) = unsafe {
                self.api.set_config.call_with_errno(&[
                    Arg::Ptr(self.held[i].line),
                    direction.into(),
                    f.into(),
                    Arg::Int(new.output_value.is_active() as i64),
                ])
            }
            .map_err(|e| ffi_err(e, "gpiod_line_set_config"))?;
            if int_of(&rc) != 0 {
                return Err(self.request_error(*o, errno));
            }
            self.lines[i].1 = *new;
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
                let Some((kind, timestamp_ns)) = self.read_event(i)? else {
                    continue;
                };
                out[count] = self
                    .events
                    .edge_event(i, self.held[i].offset, kind, timestamp_ns);
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

    #[test]
    fn a_chip_open_failure_is_a_removal_only_when_the_chip_is_gone() {
        let gone = open_failed_because_gone;
        let bus = std::env::temp_dir().join(format!("hwkit-gpio-bus-{}", std::process::id()));
        std::fs::create_dir_all(bus.join("gpiochip3")).unwrap();
        assert!(gone(libc::ENOENT, &bus, "gpiochip3"));
        assert!(gone(libc::ENODEV, &bus, "gpiochip3"));
        // libgpiod 1.x's "not a GPIO chip": the chip's bus entry went with the removal...
        assert!(gone(libc::ENOTTY, &bus, "gpiochip7"));
        // ... but with the entry there (or no bus to look in) it is what libgpiod says.
        assert!(!gone(libc::ENOTTY, &bus, "gpiochip3"));
        assert!(!gone(libc::ENOTTY, &bus.join("absent"), "gpiochip7"));
        assert!(!gone(libc::EACCES, &bus, "gpiochip7"));
        std::fs::remove_dir_all(&bus).unwrap();
    }

    fn spec(lines: Vec<(LineId, LineSettings)>) -> RequestSpec {
        RequestSpec {
            chip: Some(ChipSelector::Path("/dev/null-chip".into())),
            consumer: "t".into(),
            lines,
            event_buffer_size: None,
        }
    }

    #[test]
    fn loads_libgpiod_and_declares_everything() {
        let b = LibgpiodBackend::open_version(LibgpiodVersion::V1)
            .expect("libgpiod2 is installed by scripts/install-deps.sh");
        assert!(b.version().starts_with("1."), "{}", b.version());
        assert_eq!(b.name(), "libgpiod-v1");
        assert_eq!(b.api_version(), LibgpiodVersion::V1);
        assert_eq!(b.library(), SONAME_V1);
        assert!(format!("{b:?}").contains(SONAME_V1));
    }

    #[test]
    fn the_system_library_is_2x_where_installed_else_1x() {
        // SAFETY: the system's libgpiod 2.x, if any; its initialisers are sound.
        let has_v2 = unsafe { Library::open(SONAME_V2) }.is_ok();
        let b = LibgpiodBackend::open().unwrap();
        let want = if has_v2 {
            LibgpiodVersion::V2
        } else {
            LibgpiodVersion::V1
        };
        assert_eq!(b.api_version(), want, "{b:?}");
        assert_eq!(b.library(), want.soname());
    }

    #[test]
    fn a_library_given_by_path_is_recognised_by_its_functions() {
        // The same library by path rather than soname, as ctypes' CDLL(path) takes it.
        let sys = LibgpiodBackend::open_version(LibgpiodVersion::V1).unwrap();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let path = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .find(|p| p.contains("/libgpiod.so.2"))
            .expect("libgpiod.so.2 is mapped once loaded")
            .to_owned();
        drop(sys);
        // SAFETY: the system's libgpiod 1.x, by its path.
        let b = unsafe { LibgpiodBackend::open_library(&path) }.unwrap();
        assert_eq!(b.api_version(), LibgpiodVersion::V1);
        assert_eq!(b.library(), path);
    }

    #[test]
    fn a_missing_library_names_the_package() {
        // SAFETY: no such file exists, so nothing is loaded.
        let e = unsafe { LibgpiodBackend::open_library("/no/libgpiod-not-here.so.3") }.unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("loading /no/libgpiod-not-here.so.3"), "{msg}");
        assert!(
            msg.contains("give an existing libgpiod.so.2 or libgpiod.so.3"),
            "{msg}"
        );
        let msg = missing_library(SONAME_V1, LibgpiodVersion::V1, "not found", false).to_string();
        assert!(msg.contains("libgpiod 1.x is not installed"), "{msg}");
        assert!(msg.contains("apt-get install libgpiod2`"), "{msg}");
        assert!(
            msg.contains("apt-get install libgpiod2t64` on Debian 13"),
            "{msg}"
        );
        // Only the other version present: the message says so.
        let msg = missing_library(SONAME_V1, LibgpiodVersion::V1, "not found", true).to_string();
        assert!(
            msg.contains("only libgpiod.so.3 (libgpiod 2.x) is installed"),
            "{msg}"
        );
        let msg = missing_library(SONAME_V2, LibgpiodVersion::V2, "not found", true).to_string();
        assert!(
            msg.contains("only libgpiod.so.2 (libgpiod 1.x) is installed"),
            "{msg}"
        );
        assert!(msg.contains("apt-get install libgpiod3`"), "{msg}");
        let msg = neither_library("not found").to_string();
        assert!(
            msg.contains("neither libgpiod.so.3 (libgpiod 2.x) nor libgpiod.so.2"),
            "{msg}"
        );
    }

    #[test]
    fn asking_for_2x_where_only_1x_is_installed_says_so() {
        // SAFETY: the system's libgpiod 2.x, if any; its initialisers are sound.
        if unsafe { Library::open(SONAME_V2) }.is_ok() {
            // This machine has both: asking for either works.
            LibgpiodBackend::open_version(LibgpiodVersion::V2).unwrap();
            return;
        }
        let e = LibgpiodBackend::open_version(LibgpiodVersion::V2).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("loading libgpiod.so.3"), "{msg}");
        assert!(
            msg.contains("only libgpiod.so.2 (libgpiod 1.x) is installed"),
            "{msg}"
        );
        assert!(msg.contains("apt-get install libgpiod3`"), "{msg}");
    }

    #[test]
    fn a_library_without_the_functions_is_refused() {
        // SAFETY: libm's initialisers are sound; it is not libgpiod, and only lookups are
        // made in it.
        let e = unsafe { LibgpiodBackend::open_library("libm.so.6") }.unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("loading libm.so.6: it is not libgpiod"),
            "{msg}"
        );
        assert!(msg.contains("libgpiod.so.2 or libgpiod.so.3"), "{msg}");
    }

    #[test]
    fn unsupported_settings_name_the_setting_and_the_backend() {
        let b = LibgpiodBackend::open_version(LibgpiodVersion::V1).unwrap();
        let cases: [(LineSettings, &str); 3] = [
            (
                LineSettings {
                    debounce: Some(Duration::from_millis(2)),
                    ..LineSettings::input()
                },
                "debounce (line 4; libgpiod 1.x has no such setting) is not supported by the libgpiod backend",
            ),
            (
                LineSettings {
                    edge: Edge::Rising,
                    event_clock: EventClock::Realtime,
                    ..LineSettings::input()
                },
                "event clock realtime (line 4",
            ),
            (LineSettings::default(), "an as-is direction (line 4"),
        ];
        for (s, want) in cases {
            let e = b.request(&spec(vec![(LineId::Offset(4), s)])).unwrap_err();
            assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
            assert!(e.to_string().contains(want), "{e} lacks {want}");
        }
        let mut s = spec(vec![(LineId::Offset(0), LineSettings::input())]);
        s.event_buffer_size = Some(32);
        let e = b.request(&s).unwrap_err();
        assert!(e.to_string().contains("event-buffer size"), "{e}");
        assert!(e.to_string().contains("libgpiod backend"), "{e}");
    }

    #[test]
    fn bad_requests_are_explained() {
        let b = LibgpiodBackend::open_version(LibgpiodVersion::V1).unwrap();
        let e = b.request(&spec(vec![])).unwrap_err();
        assert!(e.to_string().contains("no lines to request"), "{e}");
        let mut s = spec(vec![(LineId::Offset(0), LineSettings::input())]);
        s.chip = None;
        let e = b.request(&s).unwrap_err();
        assert!(e.to_string().contains("line offsets need a chip"), "{e}");
        // A chip that does not exist.
        let e = b
            .request(&spec(vec![(LineId::Offset(0), LineSettings::input())]))
            .unwrap_err();
        assert!(matches!(e, Error::ChipNotFound { .. }), "{e:?}");
        assert!(e.to_string().contains("/dev/null-chip"), "{e}");
        let mut s = spec(vec![(LineId::Offset(0), LineSettings::input())]);
        s.chip = Some(ChipSelector::Label("no-such-label".into()));
        let e = b.request(&s).unwrap_err();
        assert!(e.to_string().contains("'no-such-label' not found"), "{e}");
    }

    #[test]
    fn events_decode_from_the_kernel_record_whatever_the_width_of_time_t() {
        // A timestamp past 2038 (2^31 s and more): it does not fit a 32-bit time_t, so a
        // decoding through `struct timespec` would mangle it where time_t is 32 bits, and
        // read the edge at the wrong offset where libgpiod's time_t differs from libc's.
        let ns = ((1u64 << 31) + 5) * 1_000_000_000 + 123_456_789;
        for (id, kind) in [
            (v1::EVENT_RISING_EDGE, EdgeKind::Rising),
            (v1::EVENT_FALLING_EDGE, EdgeKind::Falling),
        ] {
            let mut record = [0u8; v1::EventData::SIZE];
            record[..8].copy_from_slice(&ns.to_ne_bytes());
            record[8..12].copy_from_slice(&id.to_ne_bytes());
            assert_eq!(decode_event(&record), Some((kind, ns)));
            assert_eq!(decode_event(&record[..11]), None);
        }
        // The record's size is the kernel's, never the size of libc's timespec.
        #[cfg(not(target_arch = "x86"))]
        assert_eq!(v1::EventData::SIZE, 16);
    }

    #[test]
    fn flags_match_gpiod_h() {
        let s = LineSettings {
            active_low: true,
            bias: Bias::PullUp,
            ..LineSettings::input()
        };
        assert_eq!(request_flags(0, &s).unwrap(), 4 | 32);
        let o = LineSettings {
            drive: Drive::OpenSource,
            bias: Bias::Disabled,
            ..LineSettings::output(Value::Active)
        };
        assert_eq!(request_flags(0, &o).unwrap(), 2 | 8);
        let d = LineSettings {
            drive: Drive::OpenDrain,
            bias: Bias::PullDown,
            ..LineSettings::output(Value::Active)
        };
        assert_eq!(request_flags(0, &d).unwrap(), 1 | 16);
    }
}
