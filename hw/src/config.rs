//! [`LineConfig`]: which lines, each with its own [`LineSettings`]; and its encoding into a
//! uAPI v2 `gpio_v2_line_config`.
//!
//! Settings methods apply to the lines selected by the most recent `with_line*` call. Called
//! before any line is selected, they set the defaults that lines added later start from, so both
//! `with_lines(&[17, 27]).as_output(Value::Inactive)` and
//! `as_input().with_edge_detection(Edge::Both).with_lines(&[5, 6])` read naturally.

use std::fmt;
use std::ops::Range;
use std::time::Duration;

use crate::settings::{Bias, Direction, Drive, Edge, EventClock, LineSettings, Offset, Value};
use crate::uapi::v2;

/// A line as the caller names it: by offset, or by the name the kernel gives it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LineId {
    /// Offset on the chip.
    Offset(Offset),
    /// Line name, as in line info (`GPIO17`).
    Name(String),
}

impl fmt::Display for LineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineId::Offset(o) => write!(f, "{o}"),
            LineId::Name(n) => write!(f, "{n}"),
        }
    }
}

impl From<Offset> for LineId {
    fn from(o: Offset) -> Self {
        LineId::Offset(o)
    }
}

impl From<&str> for LineId {
    fn from(s: &str) -> Self {
        LineId::Name(s.to_owned())
    }
}

impl From<String> for LineId {
    fn from(s: String) -> Self {
        LineId::Name(s)
    }
}

impl LineId {
    /// A command-line style argument: a number is an offset, anything else a name.
    pub fn parse(s: &str) -> LineId {
        match s.parse::<Offset>() {
            Ok(o) => LineId::Offset(o),
            Err(_) => LineId::Name(s.to_owned()),
        }
    }
}

/// Lines and their settings, in the order they were added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineConfig {
    base: LineSettings,
    lines: Vec<(LineId, LineSettings)>,
    selected: Range<usize>,
}

macro_rules! setter {
    ($(#[$m:meta])* $name:ident($($arg:ident: $t:ty),*) => |$s:ident| $body:expr) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(mut self, $($arg: $t),*) -> Self {
            self.update(|$s| $body);
            self
        }
    };
}

impl LineConfig {
    /// An empty config.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or re-selects) one line by offset and selects it.
    #[must_use]
    pub fn with_line(self, offset: Offset) -> Self {
        self.with_ids([LineId::Offset(offset)])
    }

    /// Adds (or re-selects) lines by offset and selects them.
    #[must_use]
    pub fn with_lines(self, offsets: &[Offset]) -> Self {
        self.with_ids(offsets.iter().map(|&o| LineId::Offset(o)))
    }

    /// Adds (or re-selects) one line by name and selects it.
    #[must_use]
    pub fn with_named_line(self, name: impl Into<String>) -> Self {
        self.with_ids([LineId::Name(name.into())])
    }

    /// Adds (or re-selects) lines by name and selects them.
    #[must_use]
    pub fn with_named_lines<I, S>(self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with_ids(names.into_iter().map(|n| LineId::Name(n.into())))
    }

    /// Adds (or re-selects) lines given as [`LineId`]s and selects them. Lines already present
    /// keep their settings and move to the end of the selection order.
    #[must_use]
    pub fn with_ids<I: IntoIterator<Item = LineId>>(mut self, ids: I) -> Self {
        let mut picked = Vec::new();
        for id in ids {
            if picked.contains(&id) {
                continue;
            }
            let settings = match self.lines.iter().position(|(i, _)| *i == id) {
                Some(pos) => self.lines.remove(pos).1,
                None => self.base,
            };
            picked.push(id.clone());
            self.lines.push((id, settings));
        }
        let end = self.lines.len();
        self.selected = end - picked.len()..end;
        self
    }

    /// Replaces the settings of the selected lines (or the defaults) with `settings`.
    #[must_use]
    pub fn with_settings(mut self, settings: LineSettings) -> Self {
        self.update(|s| *s = settings);
        self
    }

    setter!(
        /// Input.
        as_input() => |s| s.direction = Direction::Input
    );
    setter!(
        /// Output driving `value` (logical).
        as_output(value: Value) => |s| { s.direction = Direction::Output; s.output_value = value; }
    );
    setter!(
        /// Leave the direction as it is.
        as_is() => |s| s.direction = Direction::AsIs
    );
    setter!(
        /// Active-low: logical active is the physical low level.
        as_active_low() => |s| s.active_low = true
    );
    setter!(
        /// Active-high (the default).
        as_active_high() => |s| s.active_low = false
    );
    setter!(
        /// Bias.
        with_bias(bias: Bias) => |s| s.bias = bias
    );
    setter!(
        /// Drive; open-drain and open-source make the line an output.
        with_drive(drive: Drive) => |s| {
            s.drive = drive;
            if drive != Drive::PushPull { s.direction = Direction::Output; }
        }
    );
    setter!(
        /// Edge detection; anything but `Edge::None` makes the line an input.
        with_edge_detection(edge: Edge) => |s| {
            s.edge = edge;
            if edge != Edge::None { s.direction = Direction::Input; }
        }
    );
    setter!(
        /// Debounce period (uAPI v2 only); a non-zero period makes the line an input.
        with_debounce(period: Duration) => |s| {
            s.debounce = (!period.is_zero()).then_some(period);
            if !period.is_zero() { s.direction = Direction::Input; }
        }
    );
    setter!(
        /// Clock for edge-event timestamps.
        with_event_clock(clock: EventClock) => |s| s.event_clock = clock
    );
    setter!(
        /// The value an output drives (keeps the direction).
        with_output_value(value: Value) => |s| s.output_value = value
    );

    fn update(&mut self, f: impl Fn(&mut LineSettings)) {
        if self.selected.is_empty() {
            f(&mut self.base);
        } else {
            for (_, s) in &mut self.lines[self.selected.clone()] {
                f(s);
            }
        }
    }

    /// The lines and their settings, in the order added.
    pub fn lines(&self) -> &[(LineId, LineSettings)] {
        &self.lines
    }

    /// The settings new lines start from.
    pub fn defaults(&self) -> &LineSettings {
        &self.base
    }

    /// Whether no line was added.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Builds the uAPI v2 config for resolved lines (in request order): the most common flags are
/// the default, other flag sets, the output values and each debounce period become attributes
/// masked by line index.
pub(crate) fn encode_v2(lines: &[(Offset, LineSettings)]) -> Result<v2::LineConfig, String> {
    let mut cfg = v2::LineConfig::default();
    if lines.len() > v2::LINES_MAX {
        return Err(format!(
            "{} lines in one request; the kernel allows at most {}",
            lines.len(),
            v2::LINES_MAX
        ));
    }
    // Distinct flag sets with the mask of line indexes using each.
    let mut flag_sets: Vec<(u64, u64)> = Vec::new();
    let mut debounces: Vec<(u32, u64)> = Vec::new();
    let mut out_mask = 0u64;
    let mut out_bits = 0u64;
    for (i, (_, s)) in lines.iter().enumerate() {
        let bit = 1u64 << i;
        let f = s.v2_flags();
        match flag_sets.iter_mut().find(|(fl, _)| *fl == f) {
            Some((_, m)) => *m |= bit,
            None => flag_sets.push((f, bit)),
        }
        if s.direction == Direction::Output {
            out_mask |= bit;
            if s.output_value.is_active() {
                out_bits |= bit;
            }
        }
        let us = s.debounce_us();
        if us != 0 {
            match debounces.iter_mut().find(|(p, _)| *p == us) {
                Some((_, m)) => *m |= bit,
                None => debounces.push((us, bit)),
            }
        }
    }
    // The most used flag set costs no attribute.
    flag_sets.sort_by_key(|(_, m)| std::cmp::Reverse(m.count_ones()));
    let mut attrs = Vec::new();
    if let Some(((default, _), rest)) = flag_sets.split_first() {
        cfg.flags = *default;
        for (f, m) in rest {
            attrs.push(v2::LineConfigAttribute {
                attr: v2::LineAttribute {
                    id: v2::ATTR_ID_FLAGS,
                    padding: 0,
                    value: *f,
                },
                mask: *m,
            });
        }
    }
    if out_mask != 0 {
        attrs.push(v2::LineConfigAttribute {
            attr: v2::LineAttribute {
                id: v2::ATTR_ID_OUTPUT_VALUES,
                padding: 0,
                value: out_bits,
            },
            mask: out_mask,
        });
    }
    for (us, m) in debounces {
        attrs.push(v2::LineConfigAttribute {
            attr: v2::LineAttribute::debounce(us),
            mask: m,
        });
    }
    if attrs.len() > v2::NUM_ATTRS_MAX {
        return Err(format!(
            "the lines need {} different settings attributes; one uAPI v2 request holds at most {} \
             (group lines with equal settings, or split the request)",
            attrs.len(),
            v2::NUM_ATTRS_MAX
        ));
    }
    cfg.num_attrs = attrs.len() as u32;
    cfg.attrs[..attrs.len()].copy_from_slice(&attrs);
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uapi::v2::flag;

    #[test]
    fn settings_apply_to_the_selection_or_the_defaults() {
        let c = LineConfig::new()
            .as_input()
            .with_lines(&[5, 6])
            .with_edge_detection(Edge::Both)
            .with_line(7)
            .as_output(Value::Active);
        let l = c.lines();
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].1.edge, Edge::Both);
        assert_eq!(l[1].1.direction, Direction::Input);
        assert_eq!(l[2].1.direction, Direction::Output);
        assert_eq!(l[2].1.output_value, Value::Active);
        assert_eq!(l[2].1.edge, Edge::None);
    }

    #[test]
    fn reselecting_keeps_settings_and_moves_the_line() {
        let c = LineConfig::new()
            .with_lines(&[1, 2])
            .as_output(Value::Active)
            .with_line(1)
            .as_active_low();
        assert_eq!(c.lines()[0].0, LineId::Offset(2));
        assert_eq!(c.lines()[1].0, LineId::Offset(1));
        assert!(c.lines()[1].1.active_low);
        assert_eq!(c.lines()[1].1.direction, Direction::Output);
        assert!(!c.lines()[0].1.active_low);
    }

    #[test]
    fn names_and_offsets_mix() {
        let c = LineConfig::new()
            .with_named_lines(["GPIO17", "GPIO27"])
            .as_output(Value::Inactive);
        assert_eq!(c.lines()[0].0, LineId::Name("GPIO17".into()));
        assert_eq!(LineId::parse("12"), LineId::Offset(12));
        assert_eq!(LineId::parse("LED"), LineId::Name("LED".into()));
    }

    #[test]
    fn v2_encoding_uses_default_flags_and_masked_attributes() {
        let lines = vec![
            (3, LineSettings::output(Value::Active)),
            (4, LineSettings::output(Value::Inactive)),
            (
                9,
                LineSettings {
                    edge: Edge::Rising,
                    debounce: Some(Duration::from_micros(250)),
                    ..LineSettings::input()
                },
            ),
        ];
        let cfg = encode_v2(&lines).unwrap();
        assert_eq!(cfg.flags, flag::OUTPUT);
        assert_eq!(cfg.num_attrs, 3);
        let a = &cfg.attrs;
        assert_eq!(a[0].attr.id, v2::ATTR_ID_FLAGS);
        assert_eq!(a[0].attr.value, flag::INPUT | flag::EDGE_RISING);
        assert_eq!(a[0].mask, 0b100);
        assert_eq!(a[1].attr.id, v2::ATTR_ID_OUTPUT_VALUES);
        assert_eq!((a[1].attr.value, a[1].mask), (0b001, 0b011));
        assert_eq!(a[2].attr.id, v2::ATTR_ID_DEBOUNCE);
        assert_eq!(a[2].attr.debounce_period_us(), 250);
        assert_eq!(a[2].mask, 0b100);
    }

    #[test]
    fn v2_encoding_refuses_too_many_attributes() {
        let lines: Vec<_> = (0..12u32)
            .map(|i| {
                (
                    i,
                    LineSettings {
                        debounce: Some(Duration::from_micros(u64::from(i) + 1)),
                        ..LineSettings::input()
                    },
                )
            })
            .collect();
        let e = encode_v2(&lines).unwrap_err();
        assert!(e.contains("at most 10"), "{e}");
        let many: Vec<_> = (0..65u32).map(|i| (i, LineSettings::input())).collect();
        assert!(encode_v2(&many).unwrap_err().contains("at most 64"));
    }
}
