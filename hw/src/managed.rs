//! Lines held by a daemon (feature `managed`): a client of libgpiod's D-Bus interface,
//! `io.gpiod1`, as `hwkitd` (or libgpiod's `gpio-manager`) serves it.
//!
//! A [`Request`](crate::Request) holds its lines only as long as the process that made it: the
//! kernel releases them when the file descriptor closes. A daemon that would rather leave
//! its lines to a system service asks that service instead: the lines stay requested, and
//! outputs driven, after the client exits, until someone releases them. [`Client`] connects
//! to the system bus (or a given address), lists the daemon's chips and requests, requests
//! lines with hw's own [`LineSettings`], and hands out [`ManagedRequest`]s: handles on the
//! daemon's request objects (`/io/gpiod1/requests/requestN`) that get and set values,
//! reconfigure and release. A handle is only a name: dropping it leaves the lines held.
//!
//! The calls block (zbus's blocking API on a runtime of its own): call them from an ordinary
//! thread, not from inside an async runtime's task (use `spawn_blocking` there).
//!
//! ```no_run
//! use hw::managed::{Client, ManagedLines};
//! use hw::{LineSettings, Value};
//!
//! fn main() -> hw::managed::Result<()> {
//!     let daemon = Client::system()?;
//!     // Line 17 of the SoC's chip (by label: chip numbers change between kernels), driven
//!     // high, held by the daemon for consumer "relay".
//!     let relay = daemon.request(
//!         "pinctrl-bcm2711",
//!         &ManagedLines::new()
//!             .consumer("relay")
//!             .with_line(17, LineSettings::output(Value::Active)),
//!     )?;
//!     println!("held as {}", relay.path());
//!     // Later, maybe from another process: find it again, switch it off, let it go.
//!     let relay = daemon.open(relay.path())?;
//!     relay.set_values(&[(17, Value::Inactive)])?;
//!     relay.release()?;
//!     Ok(())
//! }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use zbus::blocking::Connection;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value as Variant};

use crate::settings::{Bias, Direction, Drive, Edge, EventClock, LineSettings, Offset, Value};
use crate::{ChipInfo, LineInfo};

/// The daemon's well-known name on the bus.
pub const BUS_NAME: &str = "io.gpiod1";
/// The object manager of the chips.
pub const CHIPS_PATH: &str = "/io/gpiod1/chips";
/// The object manager of the requests.
pub const REQUESTS_PATH: &str = "/io/gpiod1/requests";
/// How to start the daemon, as the errors say.
pub const START_HINT: &str = "start it with `systemctl start hwkitd` (or run `hwkitd` as root)";

const CHIP_IFACE: &str = "io.gpiod1.Chip";
const LINE_IFACE: &str = "io.gpiod1.Line";
const REQUEST_IFACE: &str = "io.gpiod1.Request";
const OBJECT_MANAGER: &str = "org.freedesktop.DBus.ObjectManager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// The result of every client call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong talking to the daemon; each says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bus itself cannot be reached.
    #[error("cannot connect to {bus}: {reason} (is dbus running?)")]
    NoBus {
        /// `the system bus`, or `the bus at ADDRESS`.
        bus: String,
        /// What the connection attempt said.
        reason: String,
    },

    /// Nobody serves `io.gpiod1` on the bus.
    #[error("the GPIO daemon is not running: nobody serves io.gpiod1 on {bus}; {START_HINT}")]
    DaemonNotRunning {
        /// `the system bus`, or `the bus at ADDRESS`.
        bus: String,
    },

    /// The daemon (or the bus's policy) refused the call: its error name and message.
    #[error("{message} ({name})")]
    Refused {
        /// The D-Bus error name, e.g. `io.gpiod1.RequestFailed`.
        name: String,
        /// The daemon's message.
        message: String,
    },

    /// The bus's policy refused the call (methods are for root and group `gpio`). The
    /// daemon's own refusals (a request that is another user's) are [`Error::Refused`].
    #[error(
        "the bus refused the call: {message}; calls to io.gpiod1's methods are for root and \
        group gpio (`sudo usermod -aG gpio $USER`, then log in again)"
    )]
    AccessDenied {
        /// The bus's message.
        message: String,
    },

    /// No request has this object path (released, or never made).
    #[error("no managed request {path}: it was released or never made (`hwkit managed requests` lists them)")]
    UnknownRequest {
        /// The path asked for.
        path: String,
    },

    /// The daemon serves no chip of that path, name, number or label.
    #[error("the daemon has no GPIO chip '{wanted}'; {}", chips_present(.available))]
    ChipNotFound {
        /// What was asked for.
        wanted: String,
        /// `name [label] (N lines)` for every chip the daemon serves.
        available: Vec<String>,
    },

    /// Settings that cannot be sent, caught before asking.
    #[error("invalid managed request: {0}")]
    InvalidConfig(String),

    /// A reply that is not what io.gpiod1 defines.
    #[error("unexpected reply from the daemon: {0}")]
    Reply(String),
}

impl Error {
    /// The D-Bus error name of a refusal (`io.gpiod1.RequestFailed`, ...), if this is one.
    pub fn dbus_name(&self) -> Option<&str> {
        match self {
            Error::Refused { name, .. } => Some(name),
            _ => None,
        }
    }
}

fn chips_present(chips: &[String]) -> String {
    if chips.is_empty() {
        "it serves no chips".to_owned()
    } else {
        format!("chips it serves: {}", chips.join(", "))
    }
}

/// A connection to the bus the daemon is on.
#[derive(Clone)]
pub struct Client {
    conn: Connection,
    bus: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("bus", &self.bus).finish()
    }
}

/// A chip the daemon serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedChip {
    /// Its object path, `/io/gpiod1/chips/gpiochipN`.
    pub object: String,
    /// What the chip says about itself (its device path as the daemon opened it).
    pub info: ChipInfo,
}

/// A line as the daemon reports it: the kernel's line info, and whether the daemon holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedLineInfo {
    /// The kernel's view of the line.
    pub info: LineInfo,
    /// Whether the daemon holds the line.
    pub managed: bool,
    /// The request that holds it, if the daemon does.
    pub request: Option<String>,
}

/// A request the daemon holds, as its object manager lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestEntry {
    /// Its object path, `/io/gpiod1/requests/requestN`.
    pub path: String,
    /// Its chip's object path.
    pub chip: String,
    /// The offsets of its lines, in request order.
    pub offsets: Vec<Offset>,
}

impl RequestEntry {
    /// The last part of the path, `requestN`.
    pub fn name(&self) -> &str {
        last_segment(&self.path)
    }
}

/// Lines to request from the daemon: each offset with its settings, and the consumer label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManagedLines {
    consumer: Option<String>,
    event_buffer_size: Option<u32>,
    lines: Vec<(Offset, LineSettings)>,
}

impl ManagedLines {
    /// No lines yet; the daemon's default consumer.
    pub fn new() -> ManagedLines {
        ManagedLines::default()
    }

    /// The consumer label the kernel shows for the lines.
    #[must_use]
    pub fn consumer(mut self, consumer: impl Into<String>) -> ManagedLines {
        self.consumer = Some(consumer.into());
        self
    }

    /// The kernel's edge-event buffer size for the request.
    #[must_use]
    pub fn event_buffer_size(mut self, size: u32) -> ManagedLines {
        self.event_buffer_size = Some(size);
        self
    }

    /// Adds a line with its settings (an output drives `settings.output_value`).
    #[must_use]
    pub fn with_line(mut self, offset: Offset, settings: LineSettings) -> ManagedLines {
        self.lines.push((offset, settings));
        self
    }

    /// Adds lines that share settings.
    #[must_use]
    pub fn with_lines(mut self, offsets: &[Offset], settings: LineSettings) -> ManagedLines {
        self.lines.extend(offsets.iter().map(|o| (*o, settings)));
        self
    }

    /// The lines and their settings, in the order added.
    pub fn lines(&self) -> &[(Offset, LineSettings)] {
        &self.lines
    }
}

/// A handle on one request the daemon holds. Dropping it leaves the lines held; only
/// [`ManagedRequest::release`] (by anyone) lets them go.
#[derive(Clone)]
pub struct ManagedRequest {
    client: Client,
    path: OwnedObjectPath,
}

impl fmt::Debug for ManagedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedRequest")
            .field("path", &self.path.as_str())
            .finish()
    }
}

type LineConfigArg = (Vec<(Vec<u32>, HashMap<String, OwnedValue>)>, Vec<i32>);
type Properties = HashMap<String, OwnedValue>;
type ManagedObjects = HashMap<OwnedObjectPath, HashMap<String, Properties>>;

impl Client {
    /// Connects to the system bus, where the daemon serves.
    pub fn system() -> Result<Client> {
        let bus = "the system bus".to_owned();
        let conn = Connection::system().map_err(|e| Error::NoBus {
            bus: bus.clone(),
            reason: e.to_string(),
        })?;
        Ok(Client { conn, bus })
    }

    /// Connects to the bus at `address` (`unix:path=/run/...`), e.g. a test's own.
    pub fn at(address: &str) -> Result<Client> {
        let bus = format!("the bus at {address}");
        let conn = zbus::blocking::connection::Builder::address(address)
            .and_then(|b| b.build())
            .map_err(|e| Error::NoBus {
                bus: bus.clone(),
                reason: e.to_string(),
            })?;
        Ok(Client { conn, bus })
    }

    /// The chips the daemon serves, in chip-number order.
    pub fn chips(&self) -> Result<Vec<ManagedChip>> {
        let objects = self.managed_objects(CHIPS_PATH)?;
        let mut chips: Vec<ManagedChip> = objects
            .iter()
            .filter_map(|(path, ifaces)| Some((path, ifaces.get(CHIP_IFACE)?)))
            .map(|(path, props)| {
                let dev: Vec<u8> = prop(props, "Path").unwrap_or_default();
                // `ay`, the path's bytes, maybe with a NUL at the end.
                let dev = dev.split(|b| *b == 0).next().unwrap_or_default();
                Ok(ManagedChip {
                    object: path.to_string(),
                    info: ChipInfo {
                        path: PathBuf::from(String::from_utf8_lossy(dev).into_owned()),
                        name: prop(props, "Name")?,
                        label: prop(props, "Label")?,
                        num_lines: prop(props, "NumLines")?,
                    },
                })
            })
            .collect::<Result<_>>()?;
        chips.sort_by_key(|c| chip_number(&c.info.name));
        Ok(chips)
    }

    /// The chip that `spec` names: a device path, a name (`gpiochip0`), a number or a label.
    pub fn chip(&self, spec: &str) -> Result<ManagedChip> {
        let chips = self.chips()?;
        let by_number = |c: &ManagedChip| {
            spec.bytes().all(|b| b.is_ascii_digit())
                && c.info.name.strip_prefix("gpiochip") == Some(spec)
        };
        let found = chips
            .iter()
            .find(|c| c.info.path.as_os_str() == spec || c.info.name == spec || by_number(c))
            .or_else(|| chips.iter().find(|c| c.info.label == spec));
        match found {
            Some(c) => Ok(c.clone()),
            None => Err(Error::ChipNotFound {
                wanted: spec.to_owned(),
                available: chips.iter().map(|c| c.info.to_string()).collect(),
            }),
        }
    }

    /// One line of a chip (`spec` as for [`Client::chip`]), with whether the daemon holds it.
    pub fn line(&self, spec: &str, offset: Offset) -> Result<ManagedLineInfo> {
        let chip = self.chip(spec)?;
        if offset >= chip.info.num_lines {
            return Err(Error::InvalidConfig(format!(
                "line offset {offset} is out of range for {}: it has {} lines",
                chip.info.describe(),
                chip.info.num_lines
            )));
        }
        self.line_at(&format!("{}/line{offset}", chip.object))
    }

    /// The line at object path `object` (`/io/gpiod1/chips/gpiochipN/lineM`).
    pub fn line_at(&self, object: &str) -> Result<ManagedLineInfo> {
        let props = self.properties(object, LINE_IFACE)?;
        line_info(&props)
    }

    /// Requests lines on the chip `chip` names (a path, name, number or label); the daemon
    /// holds them until someone releases the request.
    pub fn request(&self, chip: &str, lines: &ManagedLines) -> Result<ManagedRequest> {
        let chip = self.chip(chip)?;
        let line_config = line_config(&lines.lines)?;
        let mut request_config: HashMap<&str, Variant<'_>> = HashMap::new();
        if let Some(c) = &lines.consumer {
            request_config.insert("consumer", Variant::from(c.as_str()));
        }
        if let Some(n) = lines.event_buffer_size {
            request_config.insert("event-buffer-size", Variant::from(n));
        }
        let path: OwnedObjectPath = self.call(
            &chip.object,
            CHIP_IFACE,
            "RequestLines",
            &(line_config, request_config),
        )?;
        Ok(ManagedRequest {
            client: self.clone(),
            path,
        })
    }

    /// The requests the daemon holds, in request-number order.
    pub fn requests(&self) -> Result<Vec<RequestEntry>> {
        let objects = self.managed_objects(REQUESTS_PATH)?;
        let mut requests: Vec<RequestEntry> = objects
            .iter()
            .filter_map(|(path, ifaces)| Some((path, ifaces.get(REQUEST_IFACE)?)))
            .map(|(path, props)| request_entry(path.as_str(), props))
            .collect::<Result<_>>()?;
        requests.sort_by_key(|r| trailing_number(&r.path));
        Ok(requests)
    }

    /// A handle on the request at `path` (`/io/gpiod1/requests/requestN`, or `requestN`);
    /// [`Error::UnknownRequest`] if the daemon has none there.
    pub fn open(&self, path: &str) -> Result<ManagedRequest> {
        let full = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("{REQUESTS_PATH}/{path}")
        };
        let object =
            OwnedObjectPath::try_from(full.as_str()).map_err(|_| Error::UnknownRequest {
                path: path.to_owned(),
            })?;
        let request = ManagedRequest {
            client: self.clone(),
            path: object,
        };
        // Asked now, so that a wrong path fails here rather than at the first use.
        request.entry()?;
        Ok(request)
    }

    fn managed_objects(&self, path: &str) -> Result<ManagedObjects> {
        self.call(path, OBJECT_MANAGER, "GetManagedObjects", &())
    }

    fn properties(&self, object: &str, iface: &str) -> Result<Properties> {
        self.call(object, PROPERTIES, "GetAll", &(iface,))
    }

    /// Calls `method` on the daemon's `object`, reading the reply's body as `R`.
    fn call<B, R>(&self, object: &str, iface: &str, method: &str, body: &B) -> Result<R>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
        R: for<'d> zbus::zvariant::DynamicDeserialize<'d>,
    {
        let reply = self
            .conn
            .call_method(Some(BUS_NAME), object, Some(iface), method, body)
            .map_err(|e| self.error(e))?;
        reply
            .body()
            .deserialize()
            .map_err(|e| Error::Reply(format!("{iface}.{method} on {object}: {e}")))
    }

    /// A zbus error as the user should read it.
    fn error(&self, e: zbus::Error) -> Error {
        let (name, message) = match e {
            zbus::Error::MethodError(name, message, _) => {
                (name.to_string(), message.unwrap_or_default())
            }
            zbus::Error::FDO(e) => {
                use zbus::DBusError;
                (
                    e.name().to_string(),
                    e.description().unwrap_or_default().to_owned(),
                )
            }
            other => {
                return Error::NoBus {
                    bus: self.bus.clone(),
                    reason: other.to_string(),
                }
            }
        };
        dbus_error(name, message, &self.bus)
    }
}

/// A D-Bus error reply `name` saying `message`, from a call on `bus`, as the user should
/// read it.
fn dbus_error(name: String, message: String, bus: &str) -> Error {
    match name.as_str() {
        "org.freedesktop.DBus.Error.ServiceUnknown"
        | "org.freedesktop.DBus.Error.NameHasNoOwner" => Error::DaemonNotRunning {
            bus: bus.to_owned(),
        },
        // The bus's own refusal ("Rejected send message, ..."); the daemon's AccessDenied
        // (another user's request) says itself what is wrong.
        "org.freedesktop.DBus.Error.AccessDenied"
            if message.starts_with("Rejected send message") =>
        {
            Error::AccessDenied { message }
        }
        _ => Error::Refused { name, message },
    }
}

impl ManagedRequest {
    /// The request's object path, `/io/gpiod1/requests/requestN`.
    pub fn path(&self) -> &str {
        self.path.as_str()
    }

    /// The last part of the path, `requestN`.
    pub fn name(&self) -> &str {
        last_segment(self.path.as_str())
    }

    /// Its chip and lines, read from the daemon now.
    pub fn entry(&self) -> Result<RequestEntry> {
        let props = self
            .client
            .properties(self.path(), REQUEST_IFACE)
            .map_err(|e| self.unknown(e))?;
        request_entry(self.path(), &props)
    }

    /// The logical values of `offsets`, in that order; of every line (in request order) if
    /// `offsets` is empty.
    pub fn get_values(&self, offsets: &[Offset]) -> Result<Vec<Value>> {
        let raw: Vec<i32> = self
            .client
            .call(self.path(), REQUEST_IFACE, "GetValues", &(offsets,))
            .map_err(|e| self.unknown(e))?;
        Ok(raw.into_iter().map(|v| Value::from(v != 0)).collect())
    }

    /// Drives output lines to logical values.
    pub fn set_values(&self, values: &[(Offset, Value)]) -> Result<()> {
        let map: HashMap<u32, i32> = values
            .iter()
            .map(|(o, v)| (*o, i32::from(v.is_active())))
            .collect();
        self.client
            .call::<_, ()>(self.path(), REQUEST_IFACE, "SetValues", &(map,))
            .map_err(|e| self.unknown(e))
    }

    /// Changes the settings of some of the lines, which stay held.
    pub fn reconfigure(&self, lines: &[(Offset, LineSettings)]) -> Result<()> {
        let config = line_config(lines)?;
        self.client
            .call::<_, ()>(self.path(), REQUEST_IFACE, "ReconfigureLines", &(config,))
            .map_err(|e| self.unknown(e))
    }

    /// Releases the lines; the daemon removes the request.
    pub fn release(self) -> Result<()> {
        self.client
            .call::<_, ()>(self.path(), REQUEST_IFACE, "Release", &())
            .map_err(|e| self.unknown(e))
    }

    /// The daemon's "no such object" for this request, as [`Error::UnknownRequest`].
    fn unknown(&self, e: Error) -> Error {
        match &e {
            Error::Refused { name, .. }
                if name == "org.freedesktop.DBus.Error.UnknownObject"
                    || name == "org.freedesktop.DBus.Error.UnknownMethod"
                    || name == "org.freedesktop.DBus.Error.UnknownInterface" =>
            {
                Error::UnknownRequest {
                    path: self.path().to_owned(),
                }
            }
            _ => e,
        }
    }
}

/// io.gpiod1's line configuration `(a(aua{sv})ai)`: one mapping per line, the output values
/// in the same order (0 for lines that are not outputs, which the daemon ignores).
fn line_config(lines: &[(Offset, LineSettings)]) -> Result<LineConfigArg> {
    if lines.is_empty() {
        return Err(Error::InvalidConfig(
            "no lines given: name at least one line, with its settings".into(),
        ));
    }
    let mut mappings = Vec::with_capacity(lines.len());
    let mut values = Vec::with_capacity(lines.len());
    for (offset, s) in lines {
        s.validate(&offset.to_string())
            .map_err(Error::InvalidConfig)?;
        mappings.push((vec![*offset], settings_dict(s)?));
        values.push(i32::from(
            s.direction == Direction::Output && s.output_value.is_active(),
        ));
    }
    Ok((mappings, values))
}

/// The settings dictionary io.gpiod1 reads: only what differs from "leave it as it is",
/// since the daemon refuses `edge: none`.
fn settings_dict(s: &LineSettings) -> Result<HashMap<String, OwnedValue>> {
    let mut d: HashMap<String, OwnedValue> = HashMap::new();
    let mut put = |key: &str, v: Variant<'_>| -> Result<()> {
        let owned = OwnedValue::try_from(v).map_err(|e| Error::InvalidConfig(e.to_string()))?;
        d.insert(key.to_owned(), owned);
        Ok(())
    };
    if s.direction != Direction::AsIs {
        put("direction", Variant::from(s.direction.to_string()))?;
    }
    if s.bias != Bias::AsIs {
        put("bias", Variant::from(s.bias.to_string()))?;
    }
    if s.direction == Direction::Output {
        put("drive", Variant::from(s.drive.to_string()))?;
    }
    put("active-low", Variant::from(s.active_low))?;
    if s.edge != Edge::None {
        put("edge", Variant::from(s.edge.to_string()))?;
        put("event-clock", Variant::from(s.event_clock.to_string()))?;
    }
    if let Some(d) = s.debounce.filter(|d| !d.is_zero()) {
        let us = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        put("debounce-period", Variant::from(us))?;
    }
    Ok(d)
}

fn request_entry(path: &str, props: &Properties) -> Result<RequestEntry> {
    let chip: OwnedObjectPath = prop(props, "ChipPath")?;
    let lines: Vec<OwnedObjectPath> = prop(props, "LinePaths")?;
    let offsets = lines
        .iter()
        .map(|l| {
            last_segment(l.as_str())
                .strip_prefix("line")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Error::Reply(format!("line path {} has no offset", l.as_str())))
        })
        .collect::<Result<_>>()?;
    Ok(RequestEntry {
        path: path.to_owned(),
        chip: chip.to_string(),
        offsets,
    })
}

fn line_info(props: &Properties) -> Result<ManagedLineInfo> {
    let named = |key: &str| -> Result<String> { prop(props, key) };
    let parse = named;
    let direction = match parse("Direction")?.as_str() {
        "output" => Direction::Output,
        _ => Direction::Input,
    };
    let bias = parse("Bias")?.parse::<Bias>().unwrap_or_default();
    let drive = parse("Drive")?.parse::<Drive>().unwrap_or_default();
    let edge = parse("EdgeDetection")?.parse::<Edge>().unwrap_or_default();
    let event_clock = parse("EventClock")?
        .parse::<EventClock>()
        .unwrap_or_default();
    let debounce_us: u64 = prop(props, "DebouncePeriodUs").unwrap_or(0);
    let request: OwnedObjectPath = prop(props, "RequestPath")?;
    let managed: bool = prop(props, "Managed")?;
    Ok(ManagedLineInfo {
        info: LineInfo {
            offset: prop(props, "Offset")?,
            name: named("Name")?,
            consumer: named("Consumer")?,
            used: prop(props, "Used")?,
            direction,
            active_low: prop(props, "ActiveLow")?,
            bias,
            drive,
            edge,
            debounce: (debounce_us > 0).then(|| Duration::from_micros(debounce_us)),
            event_clock,
        },
        managed,
        // gpio-manager's "no request" is `/`.
        request: (managed && request.as_str() != "/").then(|| request.to_string()),
    })
}

/// Property `key` of `props` as `T`.
fn prop<T>(props: &Properties, key: &str) -> Result<T>
where
    T: TryFrom<OwnedValue>,
    T::Error: fmt::Display,
{
    let v = props
        .get(key)
        .ok_or_else(|| Error::Reply(format!("property {key} is missing")))?;
    let v = v
        .try_clone()
        .map_err(|e| Error::Reply(format!("property {key}: {e}")))?;
    T::try_from(v).map_err(|e| Error::Reply(format!("property {key}: {e}")))
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The number at the end of `gpiochipN` or `requestN`, for sorting (none sorts last).
fn trailing_number(s: &str) -> u64 {
    let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    s[s.len() - digits..].parse().unwrap_or(u64::MAX)
}

fn chip_number(name: &str) -> u64 {
    trailing_number(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_sent_as_io_gpiod1_reads_them() {
        let out = settings_dict(&LineSettings {
            drive: Drive::OpenDrain,
            active_low: true,
            ..LineSettings::output(Value::Active)
        })
        .unwrap();
        let s = |k: &str| String::try_from(out[k].try_clone().unwrap()).unwrap();
        assert_eq!(s("direction"), "output");
        assert_eq!(s("drive"), "open-drain");
        assert!(bool::try_from(out["active-low"].try_clone().unwrap()).unwrap());
        // "Leave it as it is" is left out: the daemon refuses edge 'none'.
        assert!(!out.contains_key("edge") && !out.contains_key("bias"));

        let input = LineSettings {
            bias: Bias::PullUp,
            edge: Edge::Both,
            debounce: Some(Duration::from_millis(5)),
            ..LineSettings::input()
        };
        let out = settings_dict(&input).unwrap();
        assert_eq!(
            String::try_from(out["edge"].try_clone().unwrap()).unwrap(),
            "both"
        );
        assert_eq!(
            i64::try_from(out["debounce-period"].try_clone().unwrap()).unwrap(),
            5000
        );
        assert!(!out.contains_key("drive"));
    }

    #[test]
    fn output_values_follow_the_lines() {
        let (mappings, values) = line_config(&[
            (3, LineSettings::output(Value::Active)),
            (1, LineSettings::input()),
            (2, LineSettings::output(Value::Inactive)),
        ])
        .unwrap();
        let offsets: Vec<Vec<u32>> = mappings.into_iter().map(|m| m.0).collect();
        assert_eq!(offsets, [vec![3], vec![1], vec![2]]);
        assert_eq!(values, [1, 0, 0]);
    }

    #[test]
    fn impossible_settings_are_refused_before_asking() {
        let e = line_config(&[]).unwrap_err();
        assert!(e.to_string().contains("no lines given"), "{e}");
        let e = line_config(&[(
            4,
            LineSettings {
                edge: Edge::Rising,
                ..LineSettings::output(Value::Active)
            },
        )])
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("line 4: edge detection needs the line to be an input"),
            "{e}"
        );
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = Error::DaemonNotRunning {
            bus: "the system bus".into(),
        };
        assert!(e.to_string().contains("systemctl start hwkitd"), "{e}");
        let e = Error::AccessDenied {
            message: "Rejected send message".into(),
        };
        assert!(
            e.to_string().contains("group gpio") && e.to_string().contains("usermod"),
            "{e}"
        );
        let e = Error::Refused {
            name: "io.gpiod1.RequestFailed".into(),
            message: "line 3 is busy".into(),
        };
        assert_eq!(e.to_string(), "line 3 is busy (io.gpiod1.RequestFailed)");
        assert_eq!(e.dbus_name(), Some("io.gpiod1.RequestFailed"));
        let e = Error::ChipNotFound {
            wanted: "nope".into(),
            available: vec!["gpiochip0 [a] (8 lines)".into()],
        };
        assert_eq!(
            e.to_string(),
            "the daemon has no GPIO chip 'nope'; chips it serves: gpiochip0 [a] (8 lines)"
        );
    }

    #[test]
    fn replies_io_gpiod1_does_not_define_are_named() {
        let owned = |v: zbus::zvariant::Value| OwnedValue::try_from(v).unwrap();
        let path = |p: &str| owned(OwnedObjectPath::try_from(p).unwrap().into());
        let mut props = Properties::new();
        props.insert("ChipPath".into(), path("/io/gpiod1/chips/gpiochip0"));
        let e = request_entry("/io/gpiod1/requests/request0", &props).unwrap_err();
        assert!(matches!(e, Error::Reply(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "unexpected reply from the daemon: property LinePaths is missing"
        );
        props.insert("LinePaths".into(), OwnedValue::from(7u32));
        let e = request_entry("/io/gpiod1/requests/request0", &props).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("unexpected reply from the daemon: property LinePaths: "),
            "{e}"
        );
        let lines = vec![
            OwnedObjectPath::try_from("/io/gpiod1/chips/gpiochip0/line3").unwrap(),
            OwnedObjectPath::try_from("/io/gpiod1/chips/gpiochip0/led").unwrap(),
        ];
        props.insert("LinePaths".into(), owned(lines.into()));
        let e = request_entry("/io/gpiod1/requests/request0", &props).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unexpected reply from the daemon: line path /io/gpiod1/chips/gpiochip0/led has no offset"
        );
        let e = line_info(&props).unwrap_err();
        assert!(
            e.to_string().contains("property Direction is missing"),
            "{e}"
        );
    }

    #[test]
    fn dbus_errors_are_told_apart() {
        let err = |name: &str, message: &str| dbus_error(name.into(), message.into(), "the bus");
        assert!(matches!(
            err(
                "org.freedesktop.DBus.Error.ServiceUnknown",
                "The name is not activatable"
            ),
            Error::DaemonNotRunning { .. }
        ));
        assert!(matches!(
            err(
                "org.freedesktop.DBus.Error.AccessDenied",
                "Rejected send message, 1 matched rules"
            ),
            Error::AccessDenied { .. }
        ));
        // The daemon's own refusal keeps its words.
        let e = err(
            "org.freedesktop.DBus.Error.AccessDenied",
            "request0 belongs to user a (uid 1000): only its owner or root may release it",
        );
        assert_eq!(
            e.dbus_name(),
            Some("org.freedesktop.DBus.Error.AccessDenied")
        );
        assert!(
            e.to_string().starts_with("request0 belongs to user a"),
            "{e}"
        );
        assert!(matches!(
            err("io.gpiod1.RequestFailed", "busy"),
            Error::Refused { .. }
        ));
    }

    #[test]
    fn names_sort_by_their_numbers() {
        assert_eq!(trailing_number("/io/gpiod1/requests/request12"), 12);
        assert_eq!(trailing_number("gpiochip3"), 3);
        assert_eq!(trailing_number("x"), u64::MAX);
        assert_eq!(last_segment("/io/gpiod1/requests/request2"), "request2");
    }
}
