//! The line settings `request` and `reconfigure` take, as hw's `LineSettings`.

use clap::Args;
use hw::{Bias, Direction, Drive, Edge, LineSettings, Value};

use crate::gpio_cmd::period::parse_period;

/// Settings for every line named.
#[derive(Args)]
pub(super) struct SettingsArgs {
    /// input or output (default: output if any LINE has a value, else input).
    #[arg(long, short = 'd', value_name = "DIRECTION")]
    pub direction: Option<Direction>,
    /// Bias: pull-up, pull-down or disabled (default: as it is).
    #[arg(long, short, value_name = "BIAS")]
    pub bias: Option<Bias>,
    /// Drive of outputs: push-pull, open-drain or open-source.
    #[arg(long, value_name = "DRIVE")]
    pub drive: Option<Drive>,
    /// Treat the lines as active-low.
    #[arg(long, short = 'l')]
    pub active_low: bool,
    /// Edge detection of inputs: rising, falling or both (the daemon signals the edges).
    #[arg(long, short = 'e', value_name = "EDGES")]
    pub edges: Option<Edge>,
    /// Debounce period of inputs (PERIOD: a whole number with unit us, ms, s or m; a bare
    /// number is milliseconds).
    #[arg(long, value_name = "PERIOD")]
    pub debounce: Option<String>,
}

impl SettingsArgs {
    /// The direction for lines of which some have values (`any_value`), or why none fits.
    pub fn direction(&self, any_value: bool) -> Direction {
        self.direction.unwrap_or(if any_value {
            Direction::Output
        } else {
            Direction::Input
        })
    }

    /// Each `LINE[=VALUE]` argument as its line name and settings: the direction chosen for
    /// all of them (output if any has a value), every value and setting checked.
    pub fn for_lines(&self, args: &[String]) -> Result<Vec<(String, LineSettings)>, String> {
        let pairs = args
            .iter()
            .map(|l| line_and_value(l))
            .collect::<Result<Vec<_>, _>>()?;
        let direction = self.direction(pairs.iter().any(|p| p.1.is_some()));
        pairs
            .into_iter()
            .map(|(line, v)| {
                let s = self.for_line(&line, direction, v)?;
                Ok((line, s))
            })
            .collect()
    }

    /// The settings of line `line` (the user's name for it) with output value `value`.
    pub fn for_line(
        &self,
        line: &str,
        direction: Direction,
        value: Option<Value>,
    ) -> Result<LineSettings, String> {
        if let (Some(v), Direction::Input | Direction::AsIs) = (value, direction) {
            return Err(format!(
                "line '{line}' is given a value ({v}) but is requested as {}: an input takes no \
                 value; drop '={}' or make the lines outputs (--direction output)",
                if direction == Direction::Input {
                    "an input"
                } else {
                    "as-is"
                },
                u8::from(v)
            ));
        }
        let s = LineSettings {
            direction,
            output_value: value.unwrap_or_default(),
            active_low: self.active_low,
            bias: self.bias.unwrap_or_default(),
            drive: self.drive.unwrap_or_default(),
            edge: self.edges.unwrap_or_default(),
            debounce: self.debounce.as_deref().map(parse_period).transpose()?,
            ..LineSettings::default()
        };
        s.validate(&format!("'{line}'"))?;
        Ok(s)
    }
}

/// `LINE` or `LINE=VALUE`: the line and its value, if any.
pub(super) fn line_and_value(arg: &str) -> Result<(String, Option<Value>), String> {
    if arg.contains('=') {
        let (line, v) = crate::gpio_cmd::set::parse_assignment(arg)?;
        Ok((line, Some(v)))
    } else {
        Ok((arg.to_owned(), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(direction: Option<Direction>) -> SettingsArgs {
        SettingsArgs {
            direction,
            bias: None,
            drive: None,
            active_low: false,
            edges: None,
            debounce: None,
        }
    }

    #[test]
    fn an_input_takes_no_value() {
        let a = args(Some(Direction::Input));
        let e = a
            .for_line("pin11", Direction::Input, Some(Value::Active))
            .unwrap_err();
        assert!(e.contains("line 'pin11' is given a value"), "{e}");
        assert!(e.contains("--direction output"), "{e}");
        assert_eq!(args(None).direction(true), Direction::Output);
        assert_eq!(args(None).direction(false), Direction::Input);
    }

    #[test]
    fn contradictions_are_named() {
        let mut a = args(Some(Direction::Output));
        a.edges = Some(Edge::Both);
        let e = a
            .for_line("pin11", Direction::Output, Some(Value::Active))
            .unwrap_err();
        assert!(
            e.contains("edge detection needs the line to be an input"),
            "{e}"
        );
        let mut a = args(None);
        a.debounce = Some("5xs".into());
        assert!(a
            .for_line("pin11", Direction::Input, None)
            .unwrap_err()
            .contains("invalid period"));
    }

    #[test]
    fn values_are_optional() {
        assert_eq!(line_and_value("pin11").unwrap(), ("pin11".into(), None));
        assert_eq!(
            line_and_value("pin11=on").unwrap(),
            ("pin11".into(), Some(Value::Active))
        );
        assert!(line_and_value("pin11=7").is_err());
    }
}
