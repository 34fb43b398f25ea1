//! Reading io.gpiod1's line configuration `(a(aua{sv})ai)` and request configuration `a{sv}`
//! into hw's settings, with an error naming the key, the value and what is accepted.
//!
//! The keys and values are libgpiod's (`dbus/lib/io.gpiod1.xml`). Output values are taken
//! in the order the offsets appear across the mappings; values for lines that are not
//! outputs are ignored, as libgpiod does.

use std::collections::HashMap;
use std::time::Duration;

use hw::{Bias, Direction, Drive, Edge, EventClock, LineSettings, Offset, Value};
use zbus::zvariant::{OwnedValue, Value as Variant};

/// The line configuration argument: (offsets, settings) mappings and the output values.
pub type DbusLineConfig = (Vec<(Vec<u32>, HashMap<String, OwnedValue>)>, Vec<i32>);

/// The request configuration argument.
pub type DbusRequestConfig = HashMap<String, OwnedValue>;

/// What a request configuration says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestOptions {
    /// The consumer label the kernel shows for the lines.
    pub consumer: String,
    /// The in-kernel edge-event buffer size, if one was asked for.
    pub event_buffer_size: Option<u32>,
}

/// The consumer label when the client gives none.
pub const DEFAULT_CONSUMER: &str = "hwkitd";

/// Reads a line configuration into (offset, settings) pairs in the order given.
pub fn parse_line_config(config: &DbusLineConfig) -> Result<Vec<(Offset, LineSettings)>, String> {
    let (mappings, values) = config;
    let mut lines: Vec<(Offset, LineSettings)> = Vec::new();
    for (offsets, dict) in mappings {
        if offsets.is_empty() {
            return Err("a line settings mapping has no offsets: list at least one".into());
        }
        let settings = parse_settings(offsets, dict)?;
        for &o in offsets {
            if lines.iter().any(|l| l.0 == o) {
                return Err(format!(
                    "offset {o} appears twice in the line configuration: give each line once"
                ));
            }
            lines.push((o, settings));
        }
    }
    if lines.is_empty() {
        return Err(
            "the line configuration lists no lines: give at least one (offsets, settings) mapping"
                .into(),
        );
    }
    if values.len() > lines.len() {
        return Err(format!(
            "{} output values given for {} lines: give at most one per line, in offset order",
            values.len(),
            lines.len()
        ));
    }
    for ((offset, settings), &v) in lines.iter_mut().zip(values) {
        let value = match v {
            0 => Value::Inactive,
            1 => Value::Active,
            v => {
                return Err(format!(
                    "output value {v} for line {offset}: expected 0 (inactive) or 1 (active)"
                ))
            }
        };
        settings.output_value = value;
    }
    for (offset, settings) in &lines {
        settings.validate(&offset.to_string())?;
    }
    Ok(lines)
}

fn parse_settings(
    offsets: &[u32],
    dict: &HashMap<String, OwnedValue>,
) -> Result<LineSettings, String> {
    let mut s = LineSettings::default();
    let at = || format!("lines {offsets:?}");
    // Sorted, so that the first error reported does not depend on the hash order.
    let mut keys: Vec<&String> = dict.keys().collect();
    keys.sort();
    for key in keys {
        let v: &Variant<'_> = &dict[key];
        match key.as_str() {
            "direction" => s.direction = parse_named::<Direction>(key, v, &at)?,
            "edge" => {
                s.edge = parse_named::<Edge>(key, v, &at)?;
                if s.edge == Edge::None {
                    return Err(format!(
                        "setting 'edge' of {}: 'none' is not accepted: leave the key out for no edge detection (falling, rising, both)",
                        at()
                    ));
                }
            }
            "bias" => s.bias = parse_named::<Bias>(key, v, &at)?,
            "drive" => s.drive = parse_named::<Drive>(key, v, &at)?,
            "event-clock" => s.event_clock = parse_named::<EventClock>(key, v, &at)?,
            "active-low" => match v {
                Variant::Bool(b) => s.active_low = *b,
                other => return Err(wrong_type(key, other, "a boolean (b)", &at)),
            },
            "debounce-period" => match v {
                Variant::I64(us) if *us >= 0 => {
                    s.debounce = (*us > 0).then(|| Duration::from_micros(*us as u64))
                }
                Variant::I64(us) => {
                    return Err(format!(
                        "setting 'debounce-period' of {}: {us} is negative: give microseconds, 0 or more",
                        at()
                    ))
                }
                other => {
                    return Err(wrong_type(
                        key,
                        other,
                        "a signed 64-bit integer of microseconds (x)",
                        &at,
                    ))
                }
            },
            other => {
                return Err(format!(
                    "unknown line setting '{other}' for {}: expected direction, edge, active-low, drive, bias, debounce-period or event-clock",
                    at()
                ))
            }
        }
    }
    Ok(s)
}

fn parse_named<T>(key: &str, v: &Variant<'_>, at: &dyn Fn() -> String) -> Result<T, String>
where
    T: std::str::FromStr<Err = String>,
{
    match v {
        Variant::Str(s) => s
            .as_str()
            .parse::<T>()
            .map_err(|e| format!("setting '{key}' of {}: {e}", at())),
        other => Err(wrong_type(key, other, "a string (s)", at)),
    }
}

fn wrong_type(key: &str, v: &Variant<'_>, expected: &str, at: &dyn Fn() -> String) -> String {
    format!(
        "setting '{key}' of {} must be {expected}, not a value of type '{}'",
        at(),
        v.value_signature()
    )
}

/// Reads a request configuration.
pub fn parse_request_config(config: &DbusRequestConfig) -> Result<RequestOptions, String> {
    let mut out = RequestOptions {
        consumer: DEFAULT_CONSUMER.to_owned(),
        event_buffer_size: None,
    };
    let mut keys: Vec<&String> = config.keys().collect();
    keys.sort();
    for key in keys {
        let v: &Variant<'_> = &config[key];
        match (key.as_str(), v) {
            ("consumer", Variant::Str(s)) => out.consumer = s.as_str().to_owned(),
            ("consumer", other) => {
                return Err(format!(
                    "request setting 'consumer' must be a string (s), not a value of type '{}'",
                    other.value_signature()
                ))
            }
            ("event-buffer-size", Variant::U32(n)) => out.event_buffer_size = Some(*n),
            ("event-buffer-size", other) => {
                return Err(format!(
                    "request setting 'event-buffer-size' must be an unsigned 32-bit integer (u), not a value of type '{}'",
                    other.value_signature()
                ))
            }
            (other, _) => {
                return Err(format!(
                    "unknown request setting '{other}': expected consumer or event-buffer-size"
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict(entries: &[(&str, Variant<'static>)]) -> HashMap<String, OwnedValue> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), OwnedValue::try_from(v.clone()).unwrap()))
            .collect()
    }

    #[test]
    fn outputs_take_their_values_in_offset_order() {
        let cfg = (
            vec![
                (vec![1, 5], dict(&[("direction", "output".into())])),
                (
                    vec![11],
                    dict(&[
                        ("direction", "output".into()),
                        ("active-low", true.into()),
                        ("drive", "open-drain".into()),
                    ]),
                ),
            ],
            vec![1, 0, 1],
        );
        let lines = parse_line_config(&cfg).unwrap();
        assert_eq!(
            lines
                .iter()
                .map(|l| (l.0, l.1.output_value))
                .collect::<Vec<_>>(),
            [
                (1, Value::Active),
                (5, Value::Inactive),
                (11, Value::Active)
            ]
        );
        assert!(lines[2].1.active_low);
        assert_eq!(lines[2].1.drive, Drive::OpenDrain);
        assert_eq!(lines[0].1.direction, Direction::Output);
    }

    #[test]
    fn every_key_is_read() {
        let cfg = (
            vec![(
                vec![2],
                dict(&[
                    ("direction", "input".into()),
                    ("edge", "both".into()),
                    ("bias", "pull-up".into()),
                    ("debounce-period", 1500i64.into()),
                    ("event-clock", "realtime".into()),
                ]),
            )],
            vec![],
        );
        let s = parse_line_config(&cfg).unwrap()[0].1;
        assert_eq!(s.edge, Edge::Both);
        assert_eq!(s.bias, Bias::PullUp);
        assert_eq!(s.debounce, Some(Duration::from_micros(1500)));
        assert_eq!(s.event_clock, EventClock::Realtime);
    }

    fn err(cfg: DbusLineConfig) -> String {
        parse_line_config(&cfg).unwrap_err()
    }

    #[test]
    fn malformed_line_configs_say_what_is_wrong() {
        let e = err((
            vec![(vec![1], dict(&[("direction", "sideways".into())]))],
            vec![],
        ));
        assert!(
            e.contains("'direction'") && e.contains("sideways") && e.contains("input"),
            "{e}"
        );
        let e = err((
            vec![(vec![1], dict(&[("active-low", "yes".into())]))],
            vec![],
        ));
        assert!(
            e.contains("must be a boolean (b)") && e.contains("type 's'"),
            "{e}"
        );
        let e = err((vec![(vec![1], dict(&[("colour", "red".into())]))], vec![]));
        assert!(
            e.contains("unknown line setting 'colour'") && e.contains("debounce-period"),
            "{e}"
        );
        let e = err((
            vec![(vec![1], dict(&[("debounce-period", (-5i64).into())]))],
            vec![],
        ));
        assert!(e.contains("negative"), "{e}");
        let e = err((
            vec![(vec![1], dict(&[("debounce-period", 5u32.into())]))],
            vec![],
        ));
        assert!(e.contains("(x)") && e.contains("type 'u'"), "{e}");
        let e = err((vec![(vec![1], dict(&[("edge", "none".into())]))], vec![]));
        assert!(e.contains("'none' is not accepted"), "{e}");
        let e = err((vec![], vec![]));
        assert!(e.contains("lists no lines"), "{e}");
        let e = err((vec![(vec![], dict(&[]))], vec![]));
        assert!(e.contains("no offsets"), "{e}");
        let e = err((vec![(vec![3, 3], dict(&[]))], vec![]));
        assert!(e.contains("offset 3 appears twice"), "{e}");
        let e = err((
            vec![(vec![3], dict(&[("direction", "output".into())]))],
            vec![1, 1],
        ));
        assert!(e.contains("2 output values given for 1 lines"), "{e}");
        let e = err((
            vec![(vec![3], dict(&[("direction", "output".into())]))],
            vec![7],
        ));
        assert!(e.contains("output value 7 for line 3"), "{e}");
        let e = err((
            vec![(
                vec![3],
                dict(&[("direction", "output".into()), ("edge", "rising".into())]),
            )],
            vec![],
        ));
        assert!(
            e.contains("edge detection needs the line to be an input"),
            "{e}"
        );
    }

    #[test]
    fn request_configs() {
        let o = parse_request_config(&dict(&[
            ("consumer", "relay".into()),
            ("event-buffer-size", 64u32.into()),
        ]))
        .unwrap();
        assert_eq!(o.consumer, "relay");
        assert_eq!(o.event_buffer_size, Some(64));
        assert_eq!(
            parse_request_config(&dict(&[])).unwrap().consumer,
            DEFAULT_CONSUMER
        );
        let e = parse_request_config(&dict(&[("consumer", 5u32.into())])).unwrap_err();
        assert!(e.contains("'consumer' must be a string (s)"), "{e}");
        let e = parse_request_config(&dict(&[("event-buffer-size", 5i64.into())])).unwrap_err();
        assert!(e.contains("(u)") && e.contains("type 'x'"), "{e}");
        let e = parse_request_config(&dict(&[("owner", "me".into())])).unwrap_err();
        assert!(e.contains("unknown request setting 'owner'"), "{e}");
    }
}
