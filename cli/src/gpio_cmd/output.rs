//! What `hwkit gpio` prints: libgpiod 2.2's tools' default formats, byte for byte (a script
//! that parses `gpioinfo` or `gpioget` output reads hwkit's the same way), and the `--json`
//! documents, whose field names are documented in cli/README.md and stay stable.

use std::fmt::Write as _;
use std::time::Duration;

use hw::{Bias, ChipInfo, Direction, Drive, Edge, EventClock, LineInfo, Value};
use serde::{Deserialize, Serialize};

use super::lines::Target;

/// `"name"`, or `name` with `--unquoted`.
pub(crate) fn quoted(s: &str, unquoted: bool) -> String {
    if unquoted {
        s.to_owned()
    } else {
        format!("\"{s}\"")
    }
}

/// `gpiochip0 [label] (N lines)`: `gpiodetect`'s line.
pub(super) fn chip_line(i: &ChipInfo) -> String {
    format!("{} [{}] ({} lines)", i.name, i.label, i.num_lines)
}

/// `gpiochip0 - N lines:`: the head of a chip in `gpioinfo`.
pub(super) fn chip_header(i: &ChipInfo) -> String {
    format!("{} - {} lines:", i.name, i.num_lines)
}

/// The line's name in a 16-column field and a tab, as `gpioinfo` prints it: quoted unless
/// `unquoted`; an unnamed line is `unnamed`, never quoted; a quoted name longer than 14
/// bytes is not padded.
fn name_field(name: &str, unquoted: bool) -> String {
    if name.is_empty() || unquoted {
        let n = if name.is_empty() { "unnamed" } else { name };
        format!("{n:<16}\t")
    } else if name.len() <= 14 {
        format!("{:<16}\t", format!("\"{name}\""))
    } else {
        format!("\"{name}\"\t")
    }
}

/// A debounce period as libgpiod writes one: in the largest of s, ms and us that divides it.
fn debounce(d: Duration) -> String {
    let us = d.as_micros();
    if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us.is_multiple_of(1000) {
        format!("{}ms", us / 1000)
    } else {
        format!("{us}us")
    }
}

/// The direction and the attributes that differ from the defaults, in libgpiod 2.2's order:
/// `input active-low drive=open-drain bias=pull-up edges=both event-clock=realtime
/// debounce-period=10ms consumer="NAME"` (`unquoted`: `consumer=NAME`). A used line without
/// a consumer is held by the kernel.
pub(super) fn attributes(l: &LineInfo, unquoted: bool) -> String {
    let mut s = String::from(match l.direction {
        Direction::Output => "output",
        _ => "input",
    });
    if l.active_low {
        s.push_str(" active-low");
    }
    match l.drive {
        Drive::OpenDrain => s.push_str(" drive=open-drain"),
        Drive::OpenSource => s.push_str(" drive=open-source"),
        _ => {}
    }
    match l.bias {
        Bias::PullUp => s.push_str(" bias=pull-up"),
        Bias::PullDown => s.push_str(" bias=pull-down"),
        Bias::Disabled => s.push_str(" bias=disabled"),
        _ => {}
    }
    match l.edge {
        Edge::Rising => s.push_str(" edges=rising"),
        Edge::Falling => s.push_str(" edges=falling"),
        Edge::Both => s.push_str(" edges=both"),
        _ => {}
    }
    match l.event_clock {
        EventClock::Realtime => s.push_str(" event-clock=realtime"),
        EventClock::Hte => s.push_str(" event-clock=hte"),
        _ => {}
    }
    if let Some(d) = l.debounce.filter(|d| !d.is_zero()) {
        let _ = write!(s, " debounce-period={}", debounce(d));
    }
    if l.used {
        let c = if l.consumer.is_empty() {
            "kernel"
        } else {
            &l.consumer
        };
        let _ = write!(s, " consumer={}", quoted(c, unquoted));
    }
    s
}

/// gpioinfo's attributes: gpioinfo 2.2.1 quotes the consumer of a named line only (it passes
/// its unnamed-line flag on as the consumer's `--unquoted`), and so does hwkit, byte for byte.
fn info_attributes(l: &LineInfo, unquoted: bool) -> String {
    attributes(l, unquoted || l.name.is_empty())
}

/// A line in a chip's listing: `\tline  17:\t"GPIO17"        \tinput`.
pub(super) fn info_row(l: &LineInfo, unquoted: bool) -> String {
    format!(
        "\tline {:>3}:\t{}{}",
        l.offset,
        name_field(&l.name, unquoted),
        info_attributes(l, unquoted)
    )
}

/// A line asked for by name or offset: `gpiochip0 17\t"GPIO17"        \tinput`.
pub(super) fn info_line(chip: &str, l: &LineInfo, unquoted: bool) -> String {
    format!(
        "{chip} {}\t{}{}",
        l.offset,
        name_field(&l.name, unquoted),
        info_attributes(l, unquoted)
    )
}

/// `gpioget`'s output: `"GPIO17"=active "GPIO27"=inactive`, or `1 0` with `--numeric`.
pub(crate) fn values_line<'a>(
    values: impl IntoIterator<Item = (&'a str, Value)>,
    unquoted: bool,
    numeric: bool,
) -> String {
    values
        .into_iter()
        .map(|(id, v)| {
            if numeric {
                u8::from(v).to_string()
            } else {
                format!("{}={v}", quoted(id, unquoted))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One chip in `--json` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChipJson {
    /// Kernel name, `gpiochip0`.
    pub name: String,
    /// Label, `pinctrl-bcm2711`.
    pub label: String,
    /// Number of lines.
    pub num_lines: u32,
    /// Character device.
    pub path: String,
}

impl ChipJson {
    /// From the chip's info.
    pub fn new(i: &ChipInfo) -> ChipJson {
        ChipJson {
            name: i.name.clone(),
            label: i.label.clone(),
            num_lines: i.num_lines,
            path: i.path.display().to_string(),
        }
    }
}

/// One line's info in `--json` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineJson {
    /// The chip's kernel name.
    pub chip: String,
    /// Offset on the chip.
    pub offset: u32,
    /// The line's name, `null` if unnamed.
    pub name: Option<String>,
    /// `input` or `output`.
    pub direction: String,
    /// Active-low.
    pub active_low: bool,
    /// `push-pull`, `open-drain` or `open-source`.
    pub drive: String,
    /// `pull-up`, `pull-down`, `disabled`, or `null` when the kernel does not say.
    pub bias: Option<String>,
    /// `rising`, `falling`, `both`, or `null` without edge detection.
    pub edges: Option<String>,
    /// `monotonic`, `realtime` or `hte`.
    pub event_clock: String,
    /// Debounce period in microseconds, 0 for none.
    pub debounce_period_us: u64,
    /// Whether the line is held by a process or the kernel.
    pub used: bool,
    /// The holder's consumer label, `null` if unused (`kernel` for a nameless kernel user).
    pub consumer: Option<String>,
}

impl LineJson {
    /// From a line's info on chip `chip`.
    pub fn new(chip: &str, l: &LineInfo) -> LineJson {
        let name = |s: &str| Some(s.to_owned());
        LineJson {
            chip: chip.to_owned(),
            offset: l.offset,
            name: (!l.name.is_empty()).then(|| l.name.clone()),
            direction: match l.direction {
                Direction::Output => "output",
                _ => "input",
            }
            .into(),
            active_low: l.active_low,
            drive: match l.drive {
                Drive::OpenDrain => "open-drain",
                Drive::OpenSource => "open-source",
                _ => "push-pull",
            }
            .into(),
            bias: match l.bias {
                Bias::PullUp => name("pull-up"),
                Bias::PullDown => name("pull-down"),
                Bias::Disabled => name("disabled"),
                _ => None,
            },
            edges: match l.edge {
                Edge::Rising => name("rising"),
                Edge::Falling => name("falling"),
                Edge::Both => name("both"),
                _ => None,
            },
            event_clock: match l.event_clock {
                EventClock::Realtime => "realtime",
                EventClock::Hte => "hte",
                _ => "monotonic",
            }
            .into(),
            debounce_period_us: l
                .debounce
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            used: l.used,
            consumer: l.used.then(|| {
                if l.consumer.is_empty() {
                    "kernel".to_owned()
                } else {
                    l.consumer.clone()
                }
            }),
        }
    }
}

/// `info --json`: the chips listed, each with its lines (all of them, or those asked for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoJson {
    /// One entry per chip, in chip-number order.
    pub chips: Vec<ChipLinesJson>,
}

/// A chip and lines of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChipLinesJson {
    /// The chip.
    #[serde(flatten)]
    pub chip: ChipJson,
    /// Its lines, by offset.
    pub lines: Vec<LineJson>,
}

/// One value in `get --json` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueJson {
    /// The LINE argument as given.
    pub line: String,
    /// The chip's kernel name.
    pub chip: String,
    /// Offset on the chip.
    pub offset: u32,
    /// `true` if active (the logical value, after `--active-low`).
    pub active: bool,
}

/// `get --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetJson {
    /// In the order given.
    pub values: Vec<ValueJson>,
}

/// `detect --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectJson {
    /// In chip-number order.
    pub chips: Vec<ChipJson>,
}

/// `find --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindJson {
    /// The name looked for.
    pub name: String,
    /// The chip's kernel name.
    pub chip: String,
    /// Offset on the chip.
    pub offset: u32,
}

/// Prints the values read for `targets` (in their order) as `get` prints them: one JSON
/// document with `--json`, else `values_line`. Shared by `hwkit gpio get` and
/// `hwkit managed get`, whose outputs scripts read the same way.
pub(crate) fn print_values(
    targets: &[Target],
    values: &[Value],
    json: bool,
    unquoted: bool,
    numeric: bool,
) -> Result<(), String> {
    if json {
        let values = targets
            .iter()
            .zip(values)
            .map(|(t, v)| ValueJson {
                line: t.arg.clone(),
                chip: t.chip.clone(),
                offset: t.offset,
                active: v.is_active(),
            })
            .collect();
        print_json(&GetJson { values })
    } else {
        let ids = targets.iter().map(|t| t.arg.as_str());
        println!(
            "{}",
            values_line(ids.zip(values.iter().copied()), unquoted, numeric)
        );
        Ok(())
    }
}

/// Prints `doc` as one line of JSON.
pub(crate) fn print_json(doc: &impl Serialize) -> Result<(), String> {
    let text = serde_json::to_string(doc).map_err(|e| format!("writing JSON: {e}"))?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(offset: u32, name: &str) -> LineInfo {
        LineInfo {
            offset,
            name: name.into(),
            consumer: String::new(),
            used: false,
            direction: Direction::Input,
            active_low: false,
            bias: Bias::AsIs,
            drive: Drive::PushPull,
            edge: Edge::None,
            debounce: None,
            event_clock: EventClock::Monotonic,
        }
    }

    #[test]
    fn info_rows_are_gpioinfos() {
        // As gpioinfo 2.2.1 printed them in the test bed's VM.
        assert_eq!(
            info_row(&line(0, ""), false),
            "\tline   0:\tunnamed         \tinput"
        );
        assert_eq!(
            info_line("gpiochip0", &line(17, "GPIO17"), false),
            "gpiochip0 17\t\"GPIO17\"        \tinput"
        );
        assert_eq!(
            info_line("gpiochip0", &line(3, "GPIO3"), true),
            "gpiochip0 3\tGPIO3           \tinput"
        );
        let mut l = line(3, "");
        l.direction = Direction::Output;
        l.active_low = true;
        l.drive = Drive::OpenDrain;
        l.bias = Bias::PullUp;
        l.used = true;
        l.consumer = "gpioset".into();
        assert_eq!(
            info_line("gpiochip1", &l, false),
            "gpiochip1 3\tunnamed         \toutput active-low drive=open-drain bias=pull-up consumer=gpioset"
        );
        // A named line's consumer is quoted, unless --unquoted.
        l.name = "LED".into();
        assert!(info_line("gpiochip1", &l, false).ends_with(" consumer=\"gpioset\""));
        assert!(info_line("gpiochip1", &l, true).ends_with(" consumer=gpioset"));
        // A quoted name past 14 bytes overflows its column; unquoted, past 16.
        assert_eq!(
            name_field("ABCDEFGHIJKLMNO", false),
            "\"ABCDEFGHIJKLMNO\"\t"
        );
        assert_eq!(name_field("ABCDEFGHIJKLMN", false), "\"ABCDEFGHIJKLMN\"\t");
        assert_eq!(name_field("ABCDEFGHIJKLMNOPQ", true), "ABCDEFGHIJKLMNOPQ\t");
    }

    #[test]
    fn attributes_come_in_libgpiods_order() {
        let mut l = line(1, "X");
        l.edge = Edge::Both;
        l.event_clock = EventClock::Realtime;
        l.debounce = Some(Duration::from_millis(10));
        l.bias = Bias::PullDown;
        l.used = true;
        assert_eq!(
            attributes(&l, false),
            "input bias=pull-down edges=both event-clock=realtime debounce-period=10ms consumer=\"kernel\""
        );
        assert_eq!(debounce(Duration::from_micros(1500)), "1500us");
        assert_eq!(debounce(Duration::from_secs(2)), "2s");
    }

    #[test]
    fn values_print_as_gpioget_prints_them() {
        let v = [("GPIO17", Value::Active), ("5", Value::Inactive)];
        assert_eq!(
            values_line(v, false, false),
            "\"GPIO17\"=active \"5\"=inactive"
        );
        assert_eq!(values_line(v, true, false), "GPIO17=active 5=inactive");
        assert_eq!(values_line(v, false, true), "1 0");
    }

    #[test]
    fn json_round_trips() {
        let mut l = line(4, "");
        l.used = true;
        let j = LineJson::new("gpiochip2", &l);
        let text = serde_json::to_string(&j).unwrap();
        assert_eq!(
            text,
            r#"{"chip":"gpiochip2","offset":4,"name":null,"direction":"input","active_low":false,"drive":"push-pull","bias":null,"edges":null,"event_clock":"monotonic","debounce_period_us":0,"used":true,"consumer":"kernel"}"#
        );
        assert_eq!(serde_json::from_str::<LineJson>(&text).unwrap(), j);
    }
}
