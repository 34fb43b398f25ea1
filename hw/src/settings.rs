//! The settings of one requested line: direction, output value, polarity, bias, drive, edge
//! detection, debounce and event clock; and their encoding as uAPI v2 flags.

use std::fmt;
use std::time::Duration;

use crate::uapi::v2::flag;

/// A line's offset on its chip (0-based hardware number).
pub type Offset = u32;

/// A logical line value. With active-low, `Active` is the physical low level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Value {
    /// Logical 0.
    #[default]
    Inactive,
    /// Logical 1.
    Active,
}

impl Value {
    /// `true` for [`Value::Active`].
    pub fn is_active(self) -> bool {
        self == Value::Active
    }

    /// The other value.
    #[must_use]
    pub fn toggled(self) -> Value {
        match self {
            Value::Active => Value::Inactive,
            Value::Inactive => Value::Active,
        }
    }

    /// Parses `0`/`1`, `active`/`inactive`, `on`/`off`, `high`/`low`, `true`/`false`.
    pub fn parse(s: &str) -> Option<Value> {
        match s.to_ascii_lowercase().as_str() {
            "1" | "active" | "on" | "high" | "true" => Some(Value::Active),
            "0" | "inactive" | "off" | "low" | "false" => Some(Value::Inactive),
            _ => None,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        if b {
            Value::Active
        } else {
            Value::Inactive
        }
    }
}

impl From<Value> for bool {
    fn from(v: Value) -> bool {
        v.is_active()
    }
}

impl From<Value> for u8 {
    fn from(v: Value) -> u8 {
        v.is_active() as u8
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Value::Active => "active",
            Value::Inactive => "inactive",
        })
    }
}

/// Line direction. `AsIs` leaves the line as it is (only valid in a request).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Leave the direction unchanged.
    #[default]
    AsIs,
    /// Input.
    Input,
    /// Output.
    Output,
}

/// Internal bias.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Bias {
    /// Leave the bias unchanged (in line info: unknown or not set through the uAPI).
    #[default]
    AsIs,
    /// Pull-up.
    PullUp,
    /// Pull-down.
    PullDown,
    /// No pull at all.
    Disabled,
}

/// Output drive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Drive {
    /// Drives both levels.
    #[default]
    PushPull,
    /// Drives low only; high is left floating.
    OpenDrain,
    /// Drives high only; low is left floating.
    OpenSource,
}

/// Edge detection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Edge {
    /// No edge events.
    #[default]
    None,
    /// Inactive to active transitions.
    Rising,
    /// Active to inactive transitions.
    Falling,
    /// Both.
    Both,
}

impl Edge {
    /// Whether rising edges are reported.
    pub fn rising(self) -> bool {
        matches!(self, Edge::Rising | Edge::Both)
    }

    /// Whether falling edges are reported.
    pub fn falling(self) -> bool {
        matches!(self, Edge::Falling | Edge::Both)
    }
}

/// The clock edge-event timestamps come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EventClock {
    /// `CLOCK_MONOTONIC` (the kernel's default).
    #[default]
    Monotonic,
    /// `CLOCK_REALTIME`.
    Realtime,
    /// The hardware timestamp engine, where the platform has one.
    Hte,
}

macro_rules! names {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $(<$t>::$v => $s),* })
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok(<$t>::$v),)*
                    _ => Err(format!(
                        "unknown {} '{}': expected one of {}",
                        stringify!($t).to_lowercase(), s, [$($s),*].join(", ")
                    )),
                }
            }
        }
    };
}
names!(Direction { AsIs => "as-is", Input => "input", Output => "output" });
names!(Bias { AsIs => "as-is", PullUp => "pull-up", PullDown => "pull-down", Disabled => "disabled" });
names!(Drive { PushPull => "push-pull", OpenDrain => "open-drain", OpenSource => "open-source" });
names!(Edge { None => "none", Rising => "rising", Falling => "falling", Both => "both" });
names!(EventClock { Monotonic => "monotonic", Realtime => "realtime", Hte => "hte" });

/// Everything that can be configured for one requested line.
///
/// Setting edge detection or debounce makes the line an input; setting an output value makes
/// it an output, as the kernel would otherwise reject the combination.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LineSettings {
    /// Direction.
    pub direction: Direction,
    /// Value driven when `direction` is `Output`.
    pub output_value: Value,
    /// Whether the logical value is the inverse of the physical level.
    pub active_low: bool,
    /// Internal bias.
    pub bias: Bias,
    /// Output drive.
    pub drive: Drive,
    /// Edge detection.
    pub edge: Edge,
    /// Debounce period; `None` or zero for none.
    pub debounce: Option<Duration>,
    /// Clock for edge-event timestamps.
    pub event_clock: EventClock,
}

impl LineSettings {
    /// Input settings.
    pub fn input() -> Self {
        LineSettings {
            direction: Direction::Input,
            ..Default::default()
        }
    }

    /// Output settings driving `value`.
    pub fn output(value: Value) -> Self {
        LineSettings {
            direction: Direction::Output,
            output_value: value,
            ..Default::default()
        }
    }

    /// The debounce period in whole microseconds, if any.
    pub fn debounce_us(&self) -> u32 {
        self.debounce
            .map(|d| d.as_micros().min(u32::MAX as u128) as u32)
            .unwrap_or(0)
    }

    /// Checks the combination the way the kernel does, naming the line and the fix.
    pub fn validate(&self, line: &str) -> Result<(), String> {
        let dir = self.direction;
        if self.edge != Edge::None && dir != Direction::Input {
            return Err(format!(
                "line {line}: edge detection needs the line to be an input"
            ));
        }
        if self.debounce_us() != 0 && dir != Direction::Input {
            return Err(format!(
                "line {line}: debounce needs the line to be an input"
            ));
        }
        if self.drive != Drive::PushPull && dir != Direction::Output {
            return Err(format!(
                "line {line}: {} drive needs the line to be an output",
                self.drive
            ));
        }
        if self.bias != Bias::AsIs && dir == Direction::AsIs {
            return Err(format!(
                "line {line}: setting the bias needs a direction (input or output)"
            ));
        }
        Ok(())
    }

    /// The uAPI v2 flags for these settings.
    pub fn v2_flags(&self) -> u64 {
        let mut f = 0;
        match self.direction {
            Direction::AsIs => {}
            Direction::Input => f |= flag::INPUT,
            Direction::Output => f |= flag::OUTPUT,
        }
        if self.active_low {
            f |= flag::ACTIVE_LOW;
        }
        if self.edge.rising() {
            f |= flag::EDGE_RISING;
        }
        if self.edge.falling() {
            f |= flag::EDGE_FALLING;
        }
        match self.drive {
            Drive::PushPull => {}
            Drive::OpenDrain => f |= flag::OPEN_DRAIN,
            Drive::OpenSource => f |= flag::OPEN_SOURCE,
        }
        match self.bias {
            Bias::AsIs => {}
            Bias::PullUp => f |= flag::BIAS_PULL_UP,
            Bias::PullDown => f |= flag::BIAS_PULL_DOWN,
            Bias::Disabled => f |= flag::BIAS_DISABLED,
        }
        // The event clock only matters with edge detection; the kernel accepts it either way.
        match self.event_clock {
            EventClock::Monotonic => {}
            EventClock::Realtime => f |= flag::EVENT_CLOCK_REALTIME,
            EventClock::Hte => f |= flag::EVENT_CLOCK_HTE,
        }
        f
    }

    /// Decodes uAPI v2 flags (as found in line info) back into settings.
    pub fn from_v2_flags(f: u64) -> Self {
        let direction = if f & flag::OUTPUT != 0 {
            Direction::Output
        } else if f & flag::INPUT != 0 {
            Direction::Input
        } else {
            Direction::AsIs
        };
        let edge = match (f & flag::EDGE_RISING != 0, f & flag::EDGE_FALLING != 0) {
            (true, true) => Edge::Both,
            (true, false) => Edge::Rising,
            (false, true) => Edge::Falling,
            (false, false) => Edge::None,
        };
        let drive = if f & flag::OPEN_DRAIN != 0 {
            Drive::OpenDrain
        } else if f & flag::OPEN_SOURCE != 0 {
            Drive::OpenSource
        } else {
            Drive::PushPull
        };
        let bias = if f & flag::BIAS_PULL_UP != 0 {
            Bias::PullUp
        } else if f & flag::BIAS_PULL_DOWN != 0 {
            Bias::PullDown
        } else if f & flag::BIAS_DISABLED != 0 {
            Bias::Disabled
        } else {
            Bias::AsIs
        };
        let event_clock = if f & flag::EVENT_CLOCK_REALTIME != 0 {
            EventClock::Realtime
        } else if f & flag::EVENT_CLOCK_HTE != 0 {
            EventClock::Hte
        } else {
            EventClock::Monotonic
        };
        LineSettings {
            direction,
            output_value: Value::Inactive,
            active_low: f & flag::ACTIVE_LOW != 0,
            bias,
            drive,
            edge,
            debounce: None,
            event_clock,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_encode_each_setting() {
        let s = LineSettings {
            direction: Direction::Input,
            active_low: true,
            bias: Bias::PullUp,
            edge: Edge::Both,
            event_clock: EventClock::Realtime,
            ..Default::default()
        };
        assert_eq!(
            s.v2_flags(),
            flag::INPUT
                | flag::ACTIVE_LOW
                | flag::BIAS_PULL_UP
                | flag::EDGE_RISING
                | flag::EDGE_FALLING
                | flag::EVENT_CLOCK_REALTIME
        );
        let o = LineSettings {
            drive: Drive::OpenDrain,
            bias: Bias::Disabled,
            ..LineSettings::output(Value::Active)
        };
        assert_eq!(
            o.v2_flags(),
            flag::OUTPUT | flag::OPEN_DRAIN | flag::BIAS_DISABLED
        );
        assert_eq!(LineSettings::default().v2_flags(), 0);
    }

    #[test]
    fn flags_round_trip() {
        for dir in [Direction::AsIs, Direction::Input, Direction::Output] {
            for bias in [Bias::AsIs, Bias::PullUp, Bias::PullDown, Bias::Disabled] {
                for edge in [Edge::None, Edge::Rising, Edge::Falling, Edge::Both] {
                    for drive in [Drive::PushPull, Drive::OpenDrain, Drive::OpenSource] {
                        for clock in [EventClock::Monotonic, EventClock::Realtime, EventClock::Hte]
                        {
                            let s = LineSettings {
                                direction: dir,
                                bias,
                                edge,
                                drive,
                                event_clock: clock,
                                active_low: edge == Edge::Rising,
                                ..Default::default()
                            };
                            assert_eq!(LineSettings::from_v2_flags(s.v2_flags()), s);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn validation_names_the_line_and_the_fix() {
        let e = LineSettings {
            edge: Edge::Both,
            ..LineSettings::output(Value::Active)
        };
        assert_eq!(
            e.validate("17").unwrap_err(),
            "line 17: edge detection needs the line to be an input"
        );
        let d = LineSettings {
            drive: Drive::OpenSource,
            ..LineSettings::input()
        };
        assert!(d
            .validate("GPIO4")
            .unwrap_err()
            .contains("open-source drive needs"));
        let b = LineSettings {
            bias: Bias::PullUp,
            ..Default::default()
        };
        assert!(b
            .validate("3")
            .unwrap_err()
            .contains("bias needs a direction"));
        let db = LineSettings {
            debounce: Some(Duration::from_millis(1)),
            ..Default::default()
        };
        assert!(db.validate("3").unwrap_err().contains("debounce needs"));
        assert!(LineSettings::input().validate("1").is_ok());
    }

    #[test]
    fn names_parse_and_print() {
        assert_eq!("pull-down".parse::<Bias>().unwrap(), Bias::PullDown);
        assert_eq!(Edge::Both.to_string(), "both");
        let err = "sideways".parse::<Edge>().unwrap_err();
        assert_eq!(
            err,
            "unknown edge 'sideways': expected one of none, rising, falling, both"
        );
        assert_eq!(Value::parse("HIGH"), Some(Value::Active));
        assert_eq!(Value::parse("2"), None);
        assert_eq!(Value::Active.toggled(), Value::Inactive);
    }

    #[test]
    fn debounce_is_whole_microseconds() {
        let s = LineSettings {
            debounce: Some(Duration::from_nanos(1_500_900)),
            ..LineSettings::input()
        };
        assert_eq!(s.debounce_us(), 1500);
        assert_eq!(LineSettings::input().debounce_us(), 0);
    }
}
