//! [`Request`]: lines held by one request, through whichever backend; [`RequestBuilder`] to make
//! one; [`Line`], a request of exactly one line.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use crate::backend::{CdevBackend, Uapi};
use crate::chip::ChipInfo;
use crate::config::{LineConfig, LineId};
use crate::error::{Error, Result};
use crate::event::{EdgeEvent, SeqnoTracker};
use crate::line::{Backend, ChipSelector, Lines, RequestSpec};
use crate::settings::{Bias, Direction, Drive, Edge, EventClock, LineSettings, Offset, Value};

/// Builds a [`Request`]: choose the chip, the consumer, the lines and their settings.
///
/// ```no_run
/// use hw::{Request, Value};
/// let mut leds = Request::builder()
///     .on_chip_labelled("pinctrl-bcm2711")
///     .consumer("my-daemon")
///     .with_lines(&[17, 27])
///     .as_output(Value::Inactive)
///     .request()?;
/// leds.set_value(17, Value::Active)?;
/// # Ok::<(), hw::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct RequestBuilder {
    chip: Option<ChipSelector>,
    consumer: Option<String>,
    config: LineConfig,
    event_buffer_size: Option<u32>,
    uapi: Option<Uapi>,
}

macro_rules! forward {
    ($(#[$m:meta])* $name:ident($($arg:ident: $t:ty),*)) => {
        $(#[$m])*
        pub fn $name(mut self, $($arg: $t),*) -> Self {
            self.config = self.config.$name($($arg),*);
            self
        }
    };
}

impl RequestBuilder {
    /// The chip at a device path, e.g. `/dev/gpiochip0`.
    pub fn on_chip(mut self, path: impl AsRef<Path>) -> Self {
        self.chip = Some(ChipSelector::Path(path.as_ref().to_owned()));
        self
    }

    /// The chip with a kernel name, e.g. `gpiochip0`.
    pub fn on_chip_named(mut self, name: impl Into<String>) -> Self {
        self.chip = Some(ChipSelector::Name(name.into()));
        self
    }

    /// The first chip with this label, e.g. `pinctrl-bcm2711`: stable across kernels.
    pub fn on_chip_labelled(mut self, label: impl Into<String>) -> Self {
        self.chip = Some(ChipSelector::Label(label.into()));
        self
    }

    /// The chip as a user typed it: path, name, number or label.
    pub fn on_chip_spec(mut self, spec: impl Into<String>) -> Self {
        self.chip = Some(ChipSelector::Any(spec.into()));
        self
    }

    /// The consumer label others see in line info (default: this program's name).
    pub fn consumer(mut self, consumer: impl Into<String>) -> Self {
        self.consumer = Some(consumer.into());
        self
    }

    /// Kernel event-buffer size in events (uAPI v2; default 16 per line).
    pub fn event_buffer_size(mut self, events: u32) -> Self {
        self.event_buffer_size = Some(events);
        self
    }

    /// Forces a uAPI version instead of detecting it.
    pub fn with_uapi(mut self, uapi: Uapi) -> Self {
        self.uapi = Some(uapi);
        self
    }

    /// Forces a uAPI version, or detects with `None`.
    pub fn with_uapi_choice(mut self, uapi: Option<Uapi>) -> Self {
        self.uapi = uapi;
        self
    }

    /// Replaces the lines and settings with `config`.
    pub fn with_config(mut self, config: LineConfig) -> Self {
        self.config = config;
        self
    }

    forward!(
        /// Adds one line by offset and selects it.
        with_line(offset: Offset)
    );
    forward!(
        /// Adds lines by offset and selects them.
        with_lines(offsets: &[Offset])
    );
    /// Adds one line by name and selects it.
    pub fn with_named_line(mut self, name: impl Into<String>) -> Self {
        self.config = self.config.with_named_line(name);
        self
    }
    /// Adds lines by name and selects them. Without a chip, the chip that has them is used.
    pub fn with_named_lines<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config = self.config.with_named_lines(names);
        self
    }
    /// Adds one line as a user typed it and selects it: `CHIP:OFFSET` (CHIP as in
    /// [`on_chip_spec`](Self::on_chip_spec)) or a line name, found on whichever chip has it.
    ///
    /// ```
    /// use hw::line::ChipSelector;
    /// use hw::{LineId, Request};
    ///
    /// let spec = Request::builder().with_line_spec("pinctrl-bcm2711:17").spec();
    /// assert_eq!(spec.chip, Some(ChipSelector::Any("pinctrl-bcm2711".into())));
    /// assert_eq!(spec.lines[0].0, LineId::Offset(17));
    ///
    /// let spec = Request::builder().with_line_spec("GPIO17").spec();
    /// assert_eq!((spec.chip, &spec.lines[0].0), (None, &LineId::Name("GPIO17".into())));
    ///
    /// // A colon without an offset after it is part of a name.
    /// let spec = Request::builder().with_line_spec("led:status").spec();
    /// assert_eq!(spec.lines[0].0, LineId::Name("led:status".into()));
    /// ```
    pub fn with_line_spec(self, spec: &str) -> Self {
        match spec.rsplit_once(':') {
            Some((chip, offset)) => match offset.parse::<Offset>() {
                Ok(offset) => self.on_chip_spec(chip).with_line(offset),
                Err(_) => self.with_named_line(spec),
            },
            None => self.with_named_line(spec),
        }
    }
    /// Adds lines given as [`LineId`]s and selects them.
    pub fn with_ids<I: IntoIterator<Item = LineId>>(mut self, ids: I) -> Self {
        self.config = self.config.with_ids(ids);
        self
    }
    forward!(
        /// Replaces the selected lines' settings.
        with_settings(settings: LineSettings)
    );
    forward!(
        /// Input.
        as_input()
    );
    forward!(
        /// Output driving `value`.
        as_output(value: Value)
    );
    forward!(
        /// Leave the direction as it is.
        as_is()
    );
    forward!(
        /// Active-low.
        as_active_low()
    );
    forward!(
        /// Active-high.
        as_active_high()
    );
    forward!(
        /// Bias.
        with_bias(bias: Bias)
    );
    forward!(
        /// Drive (makes the line an output).
        with_drive(drive: Drive)
    );
    forward!(
        /// Edge detection (makes the line an input).
        with_edge_detection(edge: Edge)
    );
    forward!(
        /// Debounce period (uAPI v2; makes the line an input).
        with_debounce(period: Duration)
    );
    forward!(
        /// Event clock.
        with_event_clock(clock: EventClock)
    );
    forward!(
        /// Output value, keeping the direction.
        with_output_value(value: Value)
    );

    /// What a backend receives.
    pub fn spec(&self) -> RequestSpec {
        RequestSpec {
            chip: self.chip.clone(),
            consumer: self.consumer.clone().unwrap_or_else(default_consumer),
            lines: self.config.lines().to_vec(),
            event_buffer_size: self.event_buffer_size,
        }
    }

    /// Requests the lines through the character device.
    pub fn request(self) -> Result<Request> {
        let backend = CdevBackend { uapi: self.uapi };
        self.request_with(&backend)
    }

    /// Requests the lines through `backend`.
    pub fn request_with(self, backend: &dyn Backend) -> Result<Request> {
        let spec = self.spec();
        if spec.lines.is_empty() {
            return Err(Error::InvalidConfig(
                "no lines to request: add lines with with_lines() or with_named_lines()".into(),
            ));
        }
        for (id, s) in &spec.lines {
            s.validate(&id.to_string()).map_err(Error::InvalidConfig)?;
        }
        let lines = backend.request(&spec)?;
        Request::from_lines(lines, &spec)
    }

    /// Requests exactly one line and returns it as a [`Line`].
    pub fn request_line(self) -> Result<Line> {
        self.request()?.into_line()
    }
}

/// The program's file name, the consumer label when none is given.
fn default_consumer() -> String {
    std::env::args_os()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "hw".to_owned())
}

/// Lines held by one request. Dropping it releases them.
pub struct Request {
    lines: Box<dyn Lines>,
    consumer: String,
    names: Vec<(String, Offset)>,
    offsets: Vec<Offset>,
    seqno: SeqnoTracker,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("backend", &self.lines.backend())
            .field("chip", &self.lines.chip().name)
            .field("consumer", &self.consumer)
            .field("lines", &self.lines.lines())
            .finish()
    }
}

impl Request {
    /// Starts building a request.
    pub fn builder() -> RequestBuilder {
        RequestBuilder::default()
    }

    /// Wraps lines a backend returned for `spec`.
    pub fn from_lines(lines: Box<dyn Lines>, spec: &RequestSpec) -> Result<Request> {
        let offsets: Vec<Offset> = lines.lines().iter().map(|l| l.0).collect();
        if offsets.len() != spec.lines.len() {
            return Err(Error::InvalidConfig(format!(
                "the {} backend returned {} lines for {} requested",
                lines.backend(),
                offsets.len(),
                spec.lines.len()
            )));
        }
        let names = spec
            .lines
            .iter()
            .zip(&offsets)
            .filter_map(|((id, _), &o)| match id {
                LineId::Name(n) => Some((n.clone(), o)),
                LineId::Offset(_) => None,
            })
            .collect();
        Ok(Request {
            lines,
            consumer: spec.consumer.clone(),
            names,
            offsets,
            seqno: SeqnoTracker::default(),
        })
    }

    /// The backend serving this request, e.g. `cdev-v2`.
    pub fn backend(&self) -> &str {
        self.lines.backend()
    }

    /// The chip the lines are on.
    pub fn chip(&self) -> &ChipInfo {
        self.lines.chip()
    }

    /// The consumer label.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The offsets, in request order.
    pub fn offsets(&self) -> &[Offset] {
        &self.offsets
    }

    /// The offset of a line requested by name.
    pub fn offset_of(&self, name: &str) -> Option<Offset> {
        self.names.iter().find(|n| n.0 == name).map(|n| n.1)
    }

    /// The current settings of every line, in request order.
    pub fn config(&self) -> &[(Offset, LineSettings)] {
        self.lines.lines()
    }

    /// The current settings of one line.
    pub fn settings(&self, offset: Offset) -> Result<LineSettings> {
        self.check(offset)?;
        Ok(self
            .config()
            .iter()
            .find(|l| l.0 == offset)
            .map(|l| l.1)
            .unwrap_or_default())
    }

    fn check(&self, offset: Offset) -> Result<()> {
        if self.offsets.contains(&offset) {
            Ok(())
        } else {
            Err(Error::NotRequested {
                offset,
                requested: self.offsets.clone(),
            })
        }
    }

    /// The logical value of one line.
    pub fn value(&self, offset: Offset) -> Result<Value> {
        self.check(offset)?;
        let mut v = [Value::Inactive];
        self.lines.get_values(&[offset], &mut v)?;
        Ok(v[0])
    }

    /// The logical values of all lines, in request order.
    pub fn values(&self) -> Result<Vec<Value>> {
        let mut out = vec![Value::Inactive; self.offsets.len()];
        self.lines.get_values(&self.offsets, &mut out)?;
        Ok(out)
    }

    /// The logical values of some lines, in the order given.
    pub fn values_of(&self, offsets: &[Offset]) -> Result<Vec<Value>> {
        for &o in offsets {
            self.check(o)?;
        }
        let mut out = vec![Value::Inactive; offsets.len()];
        self.lines.get_values(offsets, &mut out)?;
        Ok(out)
    }

    /// Drives one output line.
    pub fn set_value(&mut self, offset: Offset, value: Value) -> Result<()> {
        self.set_values(&[(offset, value)])
    }

    /// Drives some output lines at once: all or nothing (every backend checks every pair, a
    /// line requested and an output, before it drives any).
    pub fn set_values(&mut self, values: &[(Offset, Value)]) -> Result<()> {
        // No check here: the backend's own is the one on the toggle path, where each
        // structure touched after the system call costs more than the call's own code.
        self.lines.set_values(values)
    }

    /// Drives every line, values in request order.
    pub fn set_all(&mut self, values: &[Value]) -> Result<()> {
        if values.len() != self.offsets.len() {
            return Err(Error::InvalidConfig(format!(
                "{} values given for {} requested lines",
                values.len(),
                self.offsets.len()
            )));
        }
        // Pairs on the stack for every request the character device can make (at most 64
        // lines; a small buffer for the usual few), so that toggling allocates nothing;
        // larger sysfs requests use the heap.
        match values.len() {
            0..=4 => self.set_pairs::<4>(values),
            5..=64 => self.set_pairs::<64>(values),
            _ => {
                let pairs: Vec<_> = self
                    .offsets
                    .iter()
                    .copied()
                    .zip(values.iter().copied())
                    .collect();
                self.set_values(&pairs)
            }
        }
    }

    /// `set_all` through a stack buffer of `N >= values.len()` pairs.
    fn set_pairs<const N: usize>(&mut self, values: &[Value]) -> Result<()> {
        let mut buf = [(0, Value::Inactive); N];
        let pairs = self.offsets.iter().copied().zip(values.iter().copied());
        for (slot, pair) in buf.iter_mut().zip(pairs) {
            *slot = pair;
        }
        self.set_values(&buf[..values.len()])
    }

    /// Changes the settings of some lines while keeping them all held. Lines not in `config`
    /// keep their settings; lines may be named by offset or by the name they were requested by.
    pub fn reconfigure(&mut self, config: &LineConfig) -> Result<()> {
        let mut next: Vec<(Offset, LineSettings)> = self.config().to_vec();
        for (id, s) in config.lines() {
            let offset = match id {
                LineId::Offset(o) => *o,
                LineId::Name(n) => self.offset_of(n).ok_or_else(|| Error::LineNotFound {
                    name: n.clone(),
                    chip: Some(format!("{} (in this request)", self.chip().describe())),
                    suggestions: crate::error::nearest_names(
                        n,
                        self.names.iter().map(|x| x.0.as_str()),
                    ),
                })?,
            };
            self.check(offset)?;
            s.validate(&id.to_string()).map_err(Error::InvalidConfig)?;
            if let Some(slot) = next.iter_mut().find(|l| l.0 == offset) {
                slot.1 = *s;
            }
        }
        self.lines.reconfigure(&next)
    }

    /// Makes one line an input.
    pub fn set_as_input(&mut self, offset: Offset) -> Result<()> {
        let s = LineSettings {
            direction: Direction::Input,
            drive: Drive::PushPull,
            ..self.settings(offset)?
        };
        self.reconfigure(&LineConfig::new().with_line(offset).with_settings(s))
    }

    /// Makes one line an output driving `value`.
    pub fn set_as_output(&mut self, offset: Offset, value: Value) -> Result<()> {
        let s = LineSettings {
            direction: Direction::Output,
            output_value: value,
            edge: Edge::None,
            debounce: None,
            ..self.settings(offset)?
        };
        self.reconfigure(&LineConfig::new().with_line(offset).with_settings(s))
    }

    /// Waits up to `timeout` for edge events; `true` if at least one can be read now.
    pub fn wait_edge_event(&mut self, timeout: Duration) -> Result<bool> {
        self.lines.wait_edge_events(Some(timeout))
    }

    /// Reads the next edge event, blocking until there is one.
    pub fn read_edge_event(&mut self) -> Result<EdgeEvent> {
        let mut one = [EdgeEvent::default()];
        self.read_edge_events(&mut one)?;
        Ok(one[0])
    }

    /// Reads the next edge event if one arrives within `timeout`.
    pub fn read_edge_event_timeout(&mut self, timeout: Duration) -> Result<Option<EdgeEvent>> {
        if !self.lines.wait_edge_events(Some(timeout))? {
            return Ok(None);
        }
        self.read_edge_event().map(Some)
    }

    /// Reads an edge event only if one is pending now.
    pub fn try_read_edge_event(&mut self) -> Result<Option<EdgeEvent>> {
        self.read_edge_event_timeout(Duration::ZERO)
    }

    /// Reads as many pending edge events as fit in `buf` (blocking until there is at least
    /// one); returns how many were read.
    pub fn read_edge_events(&mut self, buf: &mut [EdgeEvent]) -> Result<usize> {
        let n = self.lines.read_edge_events(buf)?;
        for e in &buf[..n] {
            self.seqno.observe(e);
        }
        Ok(n)
    }

    /// Events the kernel dropped on buffer overflow so far, as seen from gaps in the sequence
    /// numbers of the events read (always 0 on uAPI v1, whose events carry none).
    pub fn lost_edge_events(&self) -> u64 {
        self.seqno.lost()
    }

    /// A blocking iterator over edge events; it yields the first error, then ends.
    pub fn edge_events(&mut self) -> impl Iterator<Item = Result<EdgeEvent>> + '_ {
        let mut failed = false;
        std::iter::from_fn(move || {
            if failed {
                return None;
            }
            let next = self.read_edge_event();
            failed = next.is_err();
            Some(next)
        })
    }

    /// Turns a one-line request into a [`Line`].
    pub fn into_line(self) -> Result<Line> {
        match self.offsets.as_slice() {
            [o] => Ok(Line {
                offset: *o,
                request: self,
            }),
            other => Err(Error::InvalidConfig(format!(
                "a Line holds exactly one line; this request holds {}",
                other.len()
            ))),
        }
    }

    /// The backend's lines (for backends' own extensions).
    pub fn lines(&self) -> &dyn Lines {
        &*self.lines
    }

    /// Releases the lines now (the same as dropping the request).
    pub fn release(self) {}
}

impl AsFd for Request {
    /// Readable while edge events are pending.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.lines.event_fd()
    }
}

impl AsRawFd for Request {
    fn as_raw_fd(&self) -> RawFd {
        self.lines.event_fd().as_raw_fd()
    }
}

/// A request of exactly one line: what the embedded-hal traits are implemented on.
#[derive(Debug)]
pub struct Line {
    request: Request,
    offset: Offset,
}

impl Line {
    /// The line's offset.
    pub fn offset(&self) -> Offset {
        self.offset
    }

    /// Its logical value.
    pub fn get(&self) -> Result<Value> {
        self.request.value(self.offset)
    }

    /// Drives it (it must be an output).
    pub fn set(&mut self, value: Value) -> Result<()> {
        let o = self.offset;
        self.request.set_value(o, value)
    }

    /// Its current settings.
    pub fn line_settings(&self) -> LineSettings {
        self.request.config()[0].1
    }

    /// Makes it an input.
    pub fn make_input(&mut self) -> Result<()> {
        let o = self.offset;
        self.request.set_as_input(o)
    }

    /// Makes it an output driving `value`.
    pub fn make_output(&mut self, value: Value) -> Result<()> {
        let o = self.offset;
        self.request.set_as_output(o, value)
    }

    /// Gives the request back.
    pub fn into_request(self) -> Request {
        self.request
    }
}

impl Deref for Line {
    type Target = Request;
    fn deref(&self) -> &Request {
        &self.request
    }
}

impl DerefMut for Line {
    fn deref_mut(&mut self) -> &mut Request {
        &mut self.request
    }
}

impl AsFd for Line {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.request.as_fd()
    }
}

impl AsRawFd for Line {
    fn as_raw_fd(&self) -> RawFd {
        self.request.as_raw_fd()
    }
}
