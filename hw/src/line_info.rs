//! What the kernel reports about a line, and the changes reported to a chip fd that watches it.

use std::fmt;
use std::time::Duration;

use crate::settings::{Bias, Direction, Drive, Edge, EventClock, LineSettings, Offset};
use crate::uapi::{v1, v2};

/// A snapshot of one line as the kernel sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// Offset on the chip.
    pub offset: Offset,
    /// The line's name (empty if the chip names none).
    pub name: String,
    /// The holder's consumer label (empty if unused or unnamed).
    pub consumer: String,
    /// Whether the line is in use, by the kernel or a request.
    pub used: bool,
    /// Input or output (`AsIs` never appears here).
    pub direction: Direction,
    /// Active-low.
    pub active_low: bool,
    /// Bias; `AsIs` when unknown (uAPI v1 through `gpio-cdev` cannot tell).
    pub bias: Bias,
    /// Drive.
    pub drive: Drive,
    /// Edge detection.
    pub edge: Edge,
    /// Debounce period, if one is set.
    pub debounce: Option<Duration>,
    /// Event clock.
    pub event_clock: EventClock,
}

impl LineInfo {
    pub(crate) fn from_v2(raw: &v2::LineInfo) -> LineInfo {
        let s = LineSettings::from_v2_flags(raw.flags);
        let debounce = raw.attrs[..(raw.num_attrs as usize).min(v2::NUM_ATTRS_MAX)]
            .iter()
            .find(|a| a.id == v2::ATTR_ID_DEBOUNCE)
            .map(|a| Duration::from_micros(a.debounce_period_us().into()))
            .filter(|d| !d.is_zero());
        LineInfo {
            offset: raw.offset,
            name: v2::buf_str(&raw.name),
            consumer: v2::buf_str(&raw.consumer),
            used: raw.flags & v2::flag::USED != 0,
            // The kernel always reports one of the two; input is its fallback too.
            direction: if s.direction == Direction::Output {
                Direction::Output
            } else {
                Direction::Input
            },
            active_low: s.active_low,
            bias: s.bias,
            drive: s.drive,
            edge: s.edge,
            debounce,
            event_clock: s.event_clock,
        }
    }

    pub(crate) fn from_v1(offset: Offset, raw: &gpio_cdev::LineInfo) -> LineInfo {
        let drive = if raw.is_open_drain() {
            Drive::OpenDrain
        } else if raw.is_open_source() {
            Drive::OpenSource
        } else {
            Drive::PushPull
        };
        LineInfo {
            offset,
            name: raw.name().unwrap_or_default().to_owned(),
            consumer: raw.consumer().unwrap_or_default().to_owned(),
            used: raw.is_kernel(),
            direction: match raw.direction() {
                v1::LineDirection::Out => Direction::Output,
                _ => Direction::Input,
            },
            active_low: raw.is_active_low(),
            bias: Bias::AsIs,
            drive,
            edge: Edge::None,
            debounce: None,
            event_clock: EventClock::Monotonic,
        }
    }
}

impl fmt::Display for LineInfo {
    /// One line in the style of `gpioinfo`: offset, name, consumer and the flags that differ
    /// from the defaults.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() {
            "unnamed"
        } else {
            &self.name
        };
        write!(
            f,
            "line {:>3}: {:<16} {}",
            self.offset, name, self.direction
        )?;
        if self.used {
            if self.consumer.is_empty() {
                write!(f, " used")?;
            } else {
                write!(f, " consumer={}", self.consumer)?;
            }
        }
        if self.active_low {
            write!(f, " active-low")?;
        }
        if self.bias != Bias::AsIs {
            write!(f, " bias={}", self.bias)?;
        }
        if self.drive != Drive::PushPull {
            write!(f, " drive={}", self.drive)?;
        }
        if self.edge != Edge::None {
            write!(f, " edges={}", self.edge)?;
            if self.event_clock != EventClock::Monotonic {
                write!(f, " event-clock={}", self.event_clock)?;
            }
        }
        if let Some(d) = self.debounce {
            write!(f, " debounce-period={}us", d.as_micros())?;
        }
        Ok(())
    }
}

/// What happened to a watched line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InfoChangeKind {
    /// Someone requested it.
    Requested,
    /// It was released.
    Released,
    /// Its request was reconfigured.
    Reconfigured,
}

impl fmt::Display for InfoChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InfoChangeKind::Requested => "requested",
            InfoChangeKind::Released => "released",
            InfoChangeKind::Reconfigured => "reconfigured",
        })
    }
}

/// A change to a watched line, read from the chip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoChangeEvent {
    /// The line's info just after the change.
    pub info: LineInfo,
    /// `CLOCK_MONOTONIC` time of the change, in nanoseconds.
    pub timestamp_ns: u64,
    /// What changed.
    pub kind: InfoChangeKind,
}

impl InfoChangeEvent {
    pub(crate) fn from_v2(raw: &v2::LineInfoChanged) -> Option<InfoChangeEvent> {
        let kind = match raw.event_type {
            v2::CHANGED_REQUESTED => InfoChangeKind::Requested,
            v2::CHANGED_RELEASED => InfoChangeKind::Released,
            v2::CHANGED_CONFIG => InfoChangeKind::Reconfigured,
            _ => return None,
        };
        Some(InfoChangeEvent {
            info: LineInfo::from_v2(&raw.info),
            timestamp_ns: raw.timestamp_ns,
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_v2_info_with_debounce() {
        let mut raw = v2::LineInfo::for_offset(4);
        raw.name = v2::name_buf("BUTTON");
        raw.consumer = v2::name_buf("door");
        raw.flags =
            v2::flag::USED | v2::flag::INPUT | v2::flag::EDGE_FALLING | v2::flag::BIAS_PULL_UP;
        raw.num_attrs = 1;
        raw.attrs[0] = v2::LineAttribute::debounce(5000);
        let i = LineInfo::from_v2(&raw);
        assert_eq!(i.offset, 4);
        assert_eq!(i.name, "BUTTON");
        assert_eq!(i.consumer, "door");
        assert!(i.used);
        assert_eq!(i.direction, Direction::Input);
        assert_eq!(i.edge, Edge::Falling);
        assert_eq!(i.bias, Bias::PullUp);
        assert_eq!(i.debounce, Some(Duration::from_millis(5)));
        assert_eq!(
            i.to_string(),
            "line   4: BUTTON           input consumer=door bias=pull-up edges=falling debounce-period=5000us"
        );
    }

    #[test]
    fn decodes_info_changed_kinds() {
        let mut raw = v2::LineInfoChanged {
            info: v2::LineInfo::for_offset(1),
            timestamp_ns: 99,
            event_type: v2::CHANGED_RELEASED,
            padding: [0; 5],
        };
        let e = InfoChangeEvent::from_v2(&raw).unwrap();
        assert_eq!(
            (e.kind, e.timestamp_ns, e.info.offset),
            (InfoChangeKind::Released, 99, 1)
        );
        raw.event_type = 42;
        assert!(InfoChangeEvent::from_v2(&raw).is_none());
    }
}
