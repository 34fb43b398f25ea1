//! libgpiod 2.x (`libgpiod.so.3`): an object API of opaque pointers (chip, line settings,
//! line config, request config, line request, edge-event buffer), over uAPI v2.
//!
//! Every value crosses the boundary through a function (`gpiod_edge_event_get_*`,
//! `gpiod_line_settings_set_*`), never through a struct layout, so nothing here depends on
//! how the library was built (`time_t`, padding). Everything the line API offers exists in
//! 2.x: debounce, the event clock, the kernel event-buffer size, an as-is direction,
//! reconfiguring edge detection, and the kernel's own sequence numbers.

use std::ffi::c_void;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use ffi_core::{Arg, Function, Library};
use nix::errno::Errno;

use super::{ffi_err, int_of, ptr_of, NAME};
use crate::backend::event_fds::require_edge_detection;
use crate::chip::{Chip, ChipInfo};
use crate::config::LineId;
use crate::error::{nearest_names, Error, Result};
use crate::event::{EdgeEvent, EdgeKind};
use crate::line::{Lines, RequestSpec};
use crate::settings::{Bias, Direction, Drive, Edge, EventClock, LineSettings, Offset, Value};
use crate::uapi::v2 as uv2;
use crate::wait;

/// The name of the held lines' backend.
pub(super) const LINES_NAME: &str = "libgpiod-v2";

// The enums of gpiod.h (libgpiod 2.0 to 2.2: unchanged since 2.0).
const DIRECTION_AS_IS: i32 = 1;
const DIRECTION_INPUT: i32 = 2;
const DIRECTION_OUTPUT: i32 = 3;
const EDGE_NONE: i32 = 1;
const EDGE_RISING: i32 = 2;
const EDGE_FALLING: i32 = 3;
const EDGE_BOTH: i32 = 4;
const BIAS_AS_IS: i32 = 1;
const BIAS_DISABLED: i32 = 3;
const BIAS_PULL_UP: i32 = 4;
const BIAS_PULL_DOWN: i32 = 5;
const DRIVE_PUSH_PULL: i32 = 1;
const DRIVE_OPEN_DRAIN: i32 = 2;
const DRIVE_OPEN_SOURCE: i32 = 3;
const CLOCK_MONOTONIC: i32 = 1;
const CLOCK_REALTIME: i32 = 2;
const CLOCK_HTE: i32 = 3;
const EVENT_FALLING_EDGE: i32 = 2;

/// Events one `gpiod_line_request_read_edge_events` call may return (libgpiod's default
/// buffer capacity).
const EVENT_BUFFER_CAPACITY: usize = 64;

/// Why libgpiod 2.x cannot work on a kernel without uAPI v2, and what to use instead.
const NEEDS_UAPI_V2: &str = "libgpiod 2.x speaks only uAPI v2, which kernels before 5.10 lack; \
     use libgpiod 1.x (backend libgpiod-v1) or the character-device backend with uAPI v1";

/// libgpiod 2.x's functions, declared once.
pub(super) struct Api {
    pub(super) lib_name: String,
    pub(super) version: String,
    chip_open: Function,
    chip_close: Function,
    chip_offset_from_name: Function,
    chip_request_lines: Function,
    settings_new: Function,
    settings_free: Function,
    settings_direction: Function,
    settings_edge: Function,
    settings_bias: Function,
    settings_drive: Function,
    settings_active_low: Function,
    settings_debounce: Function,
    settings_clock: Function,
    settings_output: Function,
    line_config_new: Function,
    line_config_free: Function,
    line_config_add: Function,
    req_config_new: Function,
    req_config_free: Function,
    req_config_consumer: Function,
    req_config_buffer_size: Function,
    request_release: Function,
    request_get_values: Function,
    request_set_values: Function,
    request_reconfigure: Function,
    request_fd: Function,
    request_read_events: Function,
    buffer_new: Function,
    buffer_free: Function,
    buffer_event: Function,
    event_type: Function,
    event_timestamp: Function,
    event_offset: Function,
    event_seqno: Function,
    event_line_seqno: Function,
}

impl Api {
    /// Declares the functions of libgpiod 2.x from `lib` (which the caller vouches is it).
    pub(super) fn load(lib: &Library) -> Result<Api> {
        let f = |ret: &str, name: &str, args: &str| super::declare(lib, 2, ret, name, args);
        let api_version = f("s", "gpiod_api_version", "")?;
        // SAFETY: `lib` is libgpiod 2.x (the caller's contract), whose
        // `const char *gpiod_api_version(void)` returns a static string.
        let version = unsafe { super::static_string(&api_version) };
        Ok(Api {
            lib_name: lib.name().to_owned(),
            version,
            chip_open: f("p", "gpiod_chip_open", "s")?,
            chip_close: f("v", "gpiod_chip_close", "p")?,
            chip_offset_from_name: f("i", "gpiod_chip_get_line_offset_from_name", "ps")?,
            chip_request_lines: f("p", "gpiod_chip_request_lines", "ppp")?,
            settings_new: f("p", "gpiod_line_settings_new", "")?,
            settings_free: f("v", "gpiod_line_settings_free", "p")?,
            settings_direction: f("i", "gpiod_line_settings_set_direction", "pi")?,
            settings_edge: f("i", "gpiod_line_settings_set_edge_detection", "pi")?,
            settings_bias: f("i", "gpiod_line_settings_set_bias", "pi")?,
            settings_drive: f("i", "gpiod_line_settings_set_drive", "pi")?,
            settings_active_low: f("v", "gpiod_line_settings_set_active_low", "pB")?,
            settings_debounce: f("v", "gpiod_line_settings_set_debounce_period_us", "pL")?,
            settings_clock: f("i", "gpiod_line_settings_set_event_clock", "pi")?,
            settings_output: f("i", "gpiod_line_settings_set_output_value", "pi")?,
            line_config_new: f("p", "gpiod_line_config_new", "")?,
            line_config_free: f("v", "gpiod_line_config_free", "p")?,
            line_config_add: f("i", "gpiod_line_config_add_line_settings", "pPLp")?,
            req_config_new: f("p", "gpiod_request_config_new", "")?,
            req_config_free: f("v", "gpiod_request_config_free", "p")?,
            req_config_consumer: f("v", "gpiod_request_config_set_consumer", "ps")?,
            req_config_buffer_size: f("v", "gpiod_request_config_set_event_buffer_size", "pL")?,
            request_release: f("v", "gpiod_line_request_release", "p")?,
            request_get_values: f("i", "gpiod_line_request_get_values_subset", "pLPp")?,
            request_set_values: f("i", "gpiod_line_request_set_values_subset", "pLPP")?,
            request_reconfigure: f("i", "gpiod_line_request_reconfigure_lines", "pp")?,
            request_fd: f("i", "gpiod_line_request_get_fd", "p")?,
            request_read_events: f("i", "gpiod_line_request_read_edge_events", "ppL")?,
            buffer_new: f("p", "gpiod_edge_event_buffer_new", "L")?,
            buffer_free: f("v", "gpiod_edge_event_buffer_free", "p")?,
            buffer_event: f("p", "gpiod_edge_event_buffer_get_event", "pL")?,
            event_type: f("i", "gpiod_edge_event_get_event_type", "p")?,
            event_timestamp: f("Q", "gpiod_edge_event_get_timestamp_ns", "p")?,
            event_offset: f("I", "gpiod_edge_event_get_line_offset", "p")?,
            event_seqno: f("L", "gpiod_edge_event_get_global_seqno", "p")?,
            event_line_seqno: f("L", "gpiod_edge_event_get_line_seqno", "p")?,
        })
    }

    /// A new object from a `*_new` constructor, freed by `free` when dropped; `None` when
    /// libgpiod is out of memory.
    fn new_object<'a>(&self, new: &Function, free: &'a Function, what: &str) -> Result<Owned<'a>> {
        // SAFETY: every constructor passed here is a `struct gpiod_X *gpiod_X_new(void)`.
        let v = unsafe { new.call(&[]) }.map_err(|e| ffi_err(e, what))?;
        let ptr = ptr_of(&v);
        if ptr.is_null() {
            return Err(Error::Io {
                action: format!("{what} through libgpiod 2.x"),
                source: io::Error::from(io::ErrorKind::OutOfMemory),
            });
        }
        Ok(Owned { ptr, free })
    }

    /// A line config holding `lines`, each with its settings.
    fn line_config(&self, lines: &[(Offset, LineSettings)]) -> Result<Owned<'_>> {
        let config = self.new_object(
            &self.line_config_new,
            &self.line_config_free,
            "creating a line config",
        )?;
        for (offset, s) in lines {
            let settings = self.line_settings(*offset, s)?;
            let offsets = [*offset];
            // SAFETY: `int gpiod_line_config_add_line_settings(struct gpiod_line_config *,
            // const unsigned int *offsets, size_t num_offsets, struct gpiod_line_settings *)`;
            // both objects are live, the array holds one offset; libgpiod copies the settings.
            let (rc, errno) = unsafe {
                self.line_config_add.call_with_errno(&[
                    Arg::Ptr(config.ptr),
                    (&offsets).into(),
                    Arg::UInt(1),
                    Arg::Ptr(settings.ptr),
                ])
            }
            .map_err(|e| ffi_err(e, "gpiod_line_config_add_line_settings"))?;
            if int_of(&rc) != 0 {
                return Err(Error::from_errno(
                    Errno::from_raw(errno),
                    "",
                    format!("adding line {offset} to a line config through libgpiod 2.x"),
                ));
            }
        }
        Ok(config)
    }

    /// libgpiod's settings object for `s`.
    fn line_settings(&self, offset: Offset, s: &LineSettings) -> Result<Owned<'_>> {
        let settings = self.new_object(
            &self.settings_new,
            &self.settings_free,
            "creating line settings",
        )?;
        let p = Arg::Ptr(settings.ptr);
        let direction = match s.direction {
            Direction::AsIs => DIRECTION_AS_IS,
            Direction::Input => DIRECTION_INPUT,
            Direction::Output => DIRECTION_OUTPUT,
        };
        let edge = match s.edge {
            Edge::None => EDGE_NONE,
            Edge::Rising => EDGE_RISING,
            Edge::Falling => EDGE_FALLING,
            Edge::Both => EDGE_BOTH,
        };
        let bias = match s.bias {
            Bias::AsIs => BIAS_AS_IS,
            Bias::Disabled => BIAS_DISABLED,
            Bias::PullUp => BIAS_PULL_UP,
            Bias::PullDown => BIAS_PULL_DOWN,
        };
        let drive = match s.drive {
            Drive::PushPull => DRIVE_PUSH_PULL,
            Drive::OpenDrain => DRIVE_OPEN_DRAIN,
            Drive::OpenSource => DRIVE_OPEN_SOURCE,
        };
        let clock = match s.event_clock {
            EventClock::Monotonic => CLOCK_MONOTONIC,
            EventClock::Realtime => CLOCK_REALTIME,
            EventClock::Hte => CLOCK_HTE,
        };
        let output = i32::from(s.output_value.is_active());
        for (func, value, what) in [
            (&self.settings_direction, direction, "direction"),
            (&self.settings_edge, edge, "edge detection"),
            (&self.settings_bias, bias, "bias"),
            (&self.settings_drive, drive, "drive"),
            (&self.settings_clock, clock, "event clock"),
            (&self.settings_output, output, "output value"),
        ] {
            // SAFETY: each `func` is an `int gpiod_line_settings_set_X(struct
            // gpiod_line_settings *, enum ...)` on the live settings object; the value is
            // one of gpiod.h's enumerators (an int).
            let rc = unsafe { func.call(&[p.clone_ptr(), value.into()]) }
                .map_err(|e| ffi_err(e, "setting line settings"))?;
            if int_of(&rc) != 0 {
                return Err(Error::InvalidConfig(format!(
                    "libgpiod 2.x refused the {what} of line {offset}"
                )));
            }
        }
        // SAFETY: `void gpiod_line_settings_set_active_low(struct gpiod_line_settings *,
        // bool)` and `void gpiod_line_settings_set_debounce_period_us(struct
        // gpiod_line_settings *, unsigned long)` on the live settings object.
        unsafe {
            self.settings_active_low
                .call(&[p.clone_ptr(), Arg::Bool(s.active_low)])
                .map_err(|e| ffi_err(e, "setting active-low"))?;
            self.settings_debounce
                .call(&[p, Arg::UInt(u64::from(s.debounce_us()))])
                .map_err(|e| ffi_err(e, "setting the debounce period"))?;
        }
        Ok(settings)
    }
}

/// Copies a pointer argument (an `Arg` is not `Clone`: it may borrow writable memory).
trait ClonePtr {
    fn clone_ptr(&self) -> Self;
}

impl ClonePtr for Arg<'_> {
    fn clone_ptr(&self) -> Self {
        match self {
            Arg::Ptr(p) => Arg::Ptr(*p),
            _ => Arg::Null,
        }
    }
}

/// A libgpiod object, freed by its `free` function when dropped.
struct Owned<'a> {
    ptr: *mut c_void,
    free: &'a Function,
}

impl Drop for Owned<'_> {
    fn drop(&mut self) {
        // SAFETY: `free` is the `void gpiod_X_free(struct gpiod_X *)` (or
        // `gpiod_chip_close`) matching the constructor that made `ptr`; it is called once.
        let _ = unsafe { self.free.call(&[Arg::Ptr(self.ptr)]) };
    }
}

/// Lines held through one libgpiod 2.x line request.
pub(crate) struct Libgpiod2Lines {
    api: Arc<Api>,
    request: *mut c_void,
    buffer: *mut c_void,
    /// The request's fd (the kernel's uAPI v2 line-request fd), owned by `request`.
    fd: RawFd,
    chip: ChipInfo,
    lines: Vec<(Offset, LineSettings)>,
}

// SAFETY: the request and the event buffer are owned by this value alone (libgpiod 2.x keeps
// no global state about them, and a request does not refer to the chip object it came from),
// so moving them to another thread moves plain heap memory and a fd; every use goes through
// `&self`/`&mut self` of this one owner.
unsafe impl Send for Libgpiod2Lines {}

impl std::fmt::Debug for Libgpiod2Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Libgpiod2Lines")
            .field("chip", &self.chip)
            .field("lines", &self.lines)
            .finish()
    }
}

impl Libgpiod2Lines {
    /// Requests the lines of `spec` on `chip` (found by the caller through the character
    /// device): all of them in one kernel request, or none.
    pub(super) fn request(api: &Arc<Api>, chip: Chip, spec: &RequestSpec) -> Result<Self> {
        if spec.lines.len() > uv2::LINES_MAX {
            return Err(Error::InvalidConfig(format!(
                "{} lines in one request; the kernel allows at most {}",
                spec.lines.len(),
                uv2::LINES_MAX
            )));
        }
        let info = chip.info().clone();
        let path = info.path.to_string_lossy().into_owned();
        // SAFETY: `struct gpiod_chip *gpiod_chip_open(const char *path)`; the argument is a
        // NUL-terminated copy.
        let (v, errno) = unsafe { api.chip_open.call_with_errno(&[path.as_str().into()]) }
            .map_err(|e| ffi_err(e, "opening the chip"))?;
        if ptr_of(&v).is_null() && super::chip_removed_on_open(errno, &info.name) {
            return Err(Error::ChipGone { chip: info.name });
        }
        if ptr_of(&v).is_null() {
            return Err(Error::from_errno(
                Errno::from_raw(errno),
                &info.name,
                format!("opening chip {path} through libgpiod 2.x"),
            ));
        }
        // Closing the chip after the request is fine: a 2.x request stands on its own.
        let gchip = Owned {
            ptr: ptr_of(&v),
            free: &api.chip_close,
        };
        let mut lines: Vec<(Offset, LineSettings)> = Vec::with_capacity(spec.lines.len());
        for (id, s) in &spec.lines {
            let offset = match id {
                LineId::Offset(o) => {
                    chip.check_offset(*o)?;
                    *o
                }
                LineId::Name(n) => offset_of_name(api, &gchip, &chip, n)?,
            };
            if let Some((_, _)) = lines.iter().find(|(o, _)| *o == offset) {
                return Err(Error::InvalidConfig(format!(
                    "line {offset} of {} appears twice in the request (as '{id}')",
                    info.name
                )));
            }
            s.validate(&id.to_string()).map_err(Error::InvalidConfig)?;
            lines.push((offset, *s));
        }
        let line_config = api.line_config(&lines)?;
        let req_config = api.new_object(
            &api.req_config_new,
            &api.req_config_free,
            "creating a request config",
        )?;
        // SAFETY: `void gpiod_request_config_set_consumer(struct gpiod_request_config *,
        // const char *)` (libgpiod copies the string) and `void
        // gpiod_request_config_set_event_buffer_size(struct gpiod_request_config *, size_t)`
        // on the live request config.
        unsafe {
            api.req_config_consumer
                .call(&[Arg::Ptr(req_config.ptr), spec.consumer.as_str().into()])
                .map_err(|e| ffi_err(e, "setting the consumer"))?;
            api.req_config_buffer_size
                .call(&[
                    Arg::Ptr(req_config.ptr),
                    Arg::UInt(u64::from(spec.event_buffer_size.unwrap_or(0))),
                ])
                .map_err(|e| ffi_err(e, "setting the event-buffer size"))?;
        }
        let buffer = api.new_object_sized(EVENT_BUFFER_CAPACITY)?;
        // SAFETY: `struct gpiod_line_request *gpiod_chip_request_lines(struct gpiod_chip *,
        // struct gpiod_request_config *, struct gpiod_line_config *)` with the three live
        // objects made above; the request it returns is owned by the caller.
        let (v, errno) = unsafe {
            api.chip_request_lines.call_with_errno(&[
                Arg::Ptr(gchip.ptr),
                Arg::Ptr(req_config.ptr),
                Arg::Ptr(line_config.ptr),
            ])
        }
        .map_err(|e| ffi_err(e, "gpiod_chip_request_lines"))?;
        let request = ptr_of(&v);
        if request.is_null() {
            let offsets: Vec<Offset> = lines.iter().map(|l| l.0).collect();
            return Err(request_error(&chip, &offsets, errno));
        }
        // SAFETY: `int gpiod_line_request_get_fd(struct gpiod_line_request *)` on the request
        // just made.
        let fd = unsafe { api.request_fd.call(&[Arg::Ptr(request)]) }
            .map(|v| int_of(&v))
            .unwrap_or(-1);
        // From here on, Drop releases the request and frees the buffer.
        let me = Libgpiod2Lines {
            api: api.clone(),
            request,
            buffer: buffer.into_raw(),
            fd: fd as RawFd,
            chip: info,
            lines,
        };
        if fd < 0 {
            return Err(Error::InvalidConfig(format!(
                "libgpiod 2.x gave no fd for the request on {}",
                me.chip.name
            )));
        }
        drop(gchip);
        Ok(me)
    }

    fn index(&self, offset: Offset) -> Result<usize> {
        crate::backend::index_in(&self.lines, offset)
    }

    fn errno(&self, errno: i32, action: &str) -> Error {
        let e = Errno::from_raw(errno);
        if e == Errno::ENOTTY {
            return Error::UapiUnavailable {
                version: "v2",
                chip: self.chip.name.clone(),
                hint: NEEDS_UAPI_V2,
            };
        }
        Error::from_errno(
            e,
            &self.chip.name,
            format!("{action} on {} through libgpiod 2.x", self.chip.name),
        )
    }

    fn alive(&self) -> Result<()> {
        let mut out = [Value::Inactive];
        self.get_values(&[self.lines[0].0], &mut out)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the fd belongs to the request this object owns, open until Drop releases
        // it; the borrow cannot outlive `self`.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }

    /// The `index`th event of the buffer, filled by the last read.
    fn event(&self, index: usize) -> Result<EdgeEvent> {
        let api = &self.api;
        // SAFETY: `struct gpiod_edge_event *gpiod_edge_event_buffer_get_event(struct
        // gpiod_edge_event_buffer *, unsigned long index)`; `index` is below the count the
        // read returned. The event belongs to the buffer and is only read here.
        let ev = unsafe {
            api.buffer_event
                .call(&[Arg::Ptr(self.buffer), Arg::UInt(index as u64)])
        }
        .map_err(|e| ffi_err(e, "gpiod_edge_event_buffer_get_event"))?;
        let ev = Arg::Ptr(ptr_of(&ev));
        let get = |f: &Function, what: &str| {
            // SAFETY: each `f` is a `gpiod_edge_event_get_X(struct gpiod_edge_event *)`
            // getter returning a scalar, on a live event of the buffer.
            unsafe { f.call(&[ev.clone_ptr()]) }.map_err(|e| ffi_err(e, what))
        };
        let kind = int_of(&get(&api.event_type, "gpiod_edge_event_get_event_type")?);
        let timestamp = get(&api.event_timestamp, "gpiod_edge_event_get_timestamp_ns")?;
        let offset = get(&api.event_offset, "gpiod_edge_event_get_line_offset")?;
        let seqno = get(&api.event_seqno, "gpiod_edge_event_get_global_seqno")?;
        let line_seqno = get(&api.event_line_seqno, "gpiod_edge_event_get_line_seqno")?;
        Ok(EdgeEvent {
            timestamp_ns: timestamp.as_u64().unwrap_or(0),
            offset: offset.as_u64().unwrap_or(0) as Offset,
            kind: if kind == i64::from(EVENT_FALLING_EDGE) {
                EdgeKind::Falling
            } else {
                EdgeKind::Rising
            },
            // The kernel's numbers are 32 bits; `unsigned long` only widens them.
            seqno: seqno.as_u64().unwrap_or(0) as u32,
            line_seqno: line_seqno.as_u64().unwrap_or(0) as u32,
        })
    }
}

/// The offset of line `name` on the chip, looked up by libgpiod; a clear error with the
/// nearest names when it has no such line.
fn offset_of_name(api: &Api, gchip: &Owned<'_>, chip: &Chip, name: &str) -> Result<Offset> {
    // SAFETY: `int gpiod_chip_get_line_offset_from_name(struct gpiod_chip *, const char *)`
    // on the live chip object; the name is a NUL-terminated copy.
    let (rc, errno) = unsafe {
        api.chip_offset_from_name
            .call_with_errno(&[Arg::Ptr(gchip.ptr), name.into()])
    }
    .map_err(|e| ffi_err(e, "gpiod_chip_get_line_offset_from_name"))?;
    let rc = int_of(&rc);
    if rc >= 0 {
        return Ok(rc as Offset);
    }
    if errno != libc::ENOENT {
        return Err(Error::from_errno(
            Errno::from_raw(errno),
            &chip.info().name,
            format!("finding line '{name}' through libgpiod 2.x"),
        ));
    }
    let names: Vec<String> = chip
        .line_infos()
        .map(|infos| infos.into_iter().map(|i| i.name).collect())
        .unwrap_or_default();
    Err(Error::LineNotFound {
        name: name.to_owned(),
        chip: Some(chip.info().describe()),
        suggestions: nearest_names(name, names.iter().map(String::as_str)),
    })
}

/// Maps the errno of a failed `gpiod_chip_request_lines`.
fn request_error(chip: &Chip, offsets: &[Offset], errno: i32) -> Error {
    match Errno::from_raw(errno) {
        Errno::EBUSY => crate::backend::busy_error(chip, offsets),
        Errno::EINVAL => Error::InvalidConfig(format!(
            "the kernel rejected the settings for lines {offsets:?} on {} (EINVAL)",
            chip.info().describe()
        )),
        Errno::ENOTTY => Error::UapiUnavailable {
            version: "v2",
            chip: chip.info().name.clone(),
            hint: NEEDS_UAPI_V2,
        },
        // EOPNOTSUPP, or the kernel-internal ENOTSUPP (524) some drivers leak.
        e if e == Errno::EOPNOTSUPP || errno == 524 => Error::Unsupported {
            backend: format!("{NAME} ({} driver)", chip.info().label),
            what: "a requested setting (bias, drive, debounce or event clock)".into(),
        },
        e => Error::from_errno(
            e,
            &chip.info().name,
            format!(
                "requesting lines {offsets:?} on {} through libgpiod 2.x",
                chip.info().name
            ),
        ),
    }
}

impl Api {
    /// An edge-event buffer of `capacity` events.
    fn new_object_sized(&self, capacity: usize) -> Result<Owned<'_>> {
        // SAFETY: `struct gpiod_edge_event_buffer *gpiod_edge_event_buffer_new(size_t
        // capacity)`; any capacity is valid (libgpiod caps it).
        let v = unsafe { self.buffer_new.call(&[Arg::UInt(capacity as u64)]) }
            .map_err(|e| ffi_err(e, "gpiod_edge_event_buffer_new"))?;
        let ptr = ptr_of(&v);
        if ptr.is_null() {
            return Err(Error::Io {
                action: "creating an edge-event buffer through libgpiod 2.x".into(),
                source: io::Error::from(io::ErrorKind::OutOfMemory),
            });
        }
        Ok(Owned {
            ptr,
            free: &self.buffer_free,
        })
    }
}

impl Owned<'_> {
    /// Gives up ownership: the caller frees the object.
    fn into_raw(self) -> *mut c_void {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }
}

impl Drop for Libgpiod2Lines {
    fn drop(&mut self) {
        // SAFETY: `void gpiod_line_request_release(struct gpiod_line_request *)` and `void
        // gpiod_edge_event_buffer_free(struct gpiod_edge_event_buffer *)` on the objects
        // this value owns, each freed once, here; nothing uses them afterwards.
        unsafe {
            let _ = self.api.request_release.call(&[Arg::Ptr(self.request)]);
            let _ = self.api.buffer_free.call(&[Arg::Ptr(self.buffer)]);
        }
    }
}

impl Lines for Libgpiod2Lines {
    fn backend(&self) -> &str {
        LINES_NAME
    }

    fn chip(&self) -> &ChipInfo {
        &self.chip
    }

    fn lines(&self) -> &[(Offset, LineSettings)] {
        &self.lines
    }

    fn get_values(&self, offsets: &[Offset], out: &mut [Value]) -> Result<()> {
        for &o in offsets {
            self.index(o)?;
        }
        let mut values = vec![-1i32; offsets.len()];
        // SAFETY: `int gpiod_line_request_get_values_subset(struct gpiod_line_request *,
        // size_t num_values, const unsigned int *offsets, enum gpiod_line_value *values)`
        // on the live request; both arrays hold `offsets.len()` elements.
        let (rc, errno) = unsafe {
            self.api.request_get_values.call_with_errno(&[
                Arg::Ptr(self.request),
                Arg::UInt(offsets.len() as u64),
                offsets.into(),
                (&mut values[..]).into(),
            ])
        }
        .map_err(|e| ffi_err(e, "gpiod_line_request_get_values_subset"))?;
        if int_of(&rc) != 0 {
            return Err(self.errno(errno, &format!("reading lines {offsets:?}")));
        }
        for (slot, v) in out.iter_mut().zip(values) {
            *slot = Value::from(v == 1);
        }
        Ok(())
    }

    fn set_values(&mut self, values: &[(Offset, Value)]) -> Result<()> {
        // A request holds at most LINES_MAX lines, each named once: the arrays live on the
        // stack, so that a toggle allocates nothing.
        let n = values.len();
        if n > uv2::LINES_MAX {
            return Err(Error::InvalidConfig(format!(
                "{n} values given; a request holds at most {} lines",
                uv2::LINES_MAX
            )));
        }
        let mut offsets: [Offset; uv2::LINES_MAX] = [0; uv2::LINES_MAX];
        let mut levels = [0i32; uv2::LINES_MAX];
        for (k, &(o, v)) in values.iter().enumerate() {
            let i = self.index(o)?;
            if self.lines[i].1.direction == Direction::Input {
                return Err(super::super::not_an_output(o));
            }
            offsets[k] = o;
            levels[k] = i32::from(v.is_active());
        }
        let (offsets, levels) = (&offsets[..n], &levels[..n]);
        // SAFETY: `int gpiod_line_request_set_values_subset(struct gpiod_line_request *,
        // size_t num_values, const unsigned int *offsets, const enum gpiod_line_value *)`
        // on the live request; both arrays hold `values.len()` elements.
        let (rc, errno) = unsafe {
            self.api.request_set_values.call_with_errno(&[
                Arg::Ptr(self.request),
                Arg::UInt(values.len() as u64),
                offsets.into(),
                levels.into(),
            ])
        }
        .map_err(|e| ffi_err(e, "gpiod_line_request_set_values_subset"))?;
        if int_of(&rc) != 0 {
            // The kernel answers EPERM for lines that are not outputs (e.g. requested as-is).
            if errno == libc::EPERM {
                return Err(Error::InvalidConfig(format!(
                    "lines {offsets:?} are not all outputs; reconfigure them as outputs before \
                     setting values"
                )));
            }
            return Err(self.errno(errno, &format!("setting lines {offsets:?}")));
        }
        for &(o, v) in values {
            let i = self.index(o)?;
            self.lines[i].1.output_value = v;
        }
        Ok(())
    }

    fn reconfigure(&mut self, lines: &[(Offset, LineSettings)]) -> Result<()> {
        crate::backend::same_lines(&self.lines, lines)?;
        for (o, s) in lines {
            s.validate(&o.to_string()).map_err(Error::InvalidConfig)?;
        }
        let config = self.api.line_config(lines)?;
        // SAFETY: `int gpiod_line_request_reconfigure_lines(struct gpiod_line_request *,
        // struct gpiod_line_config *)` on the live request and config.
        let (rc, errno) = unsafe {
            self.api
                .request_reconfigure
                .call_with_errno(&[Arg::Ptr(self.request), Arg::Ptr(config.ptr)])
        }
        .map_err(|e| ffi_err(e, "gpiod_line_request_reconfigure_lines"))?;
        if int_of(&rc) != 0 {
            if errno == libc::EINVAL {
                return Err(Error::InvalidConfig(format!(
                    "the kernel rejected the new settings for lines {:?} on {} (EINVAL)",
                    lines.iter().map(|l| l.0).collect::<Vec<_>>(),
                    self.chip.describe()
                )));
            }
            return Err(self.errno(errno, "reconfiguring lines"));
        }
        self.lines = lines.to_vec();
        Ok(())
    }

    fn wait_edge_events(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let this = &*self;
        wait::readable(
            this.fd(),
            timeout,
            || this.alive(),
            |e| this.errno(e as i32, "waiting for edge events"),
        )
    }

    fn read_edge_events(&mut self, out: &mut [EdgeEvent]) -> Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        require_edge_detection(&self.lines)?;
        let n = loop {
            self.wait_edge_events(None)?;
            let max = out.len().min(EVENT_BUFFER_CAPACITY);
            // SAFETY: `int gpiod_line_request_read_edge_events(struct gpiod_line_request *,
            // struct gpiod_edge_event_buffer *, size_t max_events)` on the live request and
            // buffer; `max` is within the buffer's capacity. The fd is readable, so the
            // read does not block.
            let (rc, errno) = unsafe {
                self.api.request_read_events.call_with_errno(&[
                    Arg::Ptr(self.request),
                    Arg::Ptr(self.buffer),
                    Arg::UInt(max as u64),
                ])
            }
            .map_err(|e| ffi_err(e, "gpiod_line_request_read_edge_events"))?;
            match int_of(&rc) {
                n if n > 0 => break n as usize,
                0 => continue,
                _ if errno == libc::EINTR || errno == libc::EAGAIN => continue,
                // A short read (the chip went away under the request) is EIO in libgpiod.
                _ => {
                    self.alive()?;
                    return Err(self.errno(errno, "reading edge events"));
                }
            }
        };
        for (i, slot) in out.iter_mut().enumerate().take(n) {
            *slot = self.event(i)?;
        }
        Ok(n)
    }

    fn event_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}
