//! The board profile model: headers, pins and their roles, as loaded from the JSON data files.
//!
//! The files under `boards/profiles/` are parsed into raw serde structs first, then checked and
//! turned into the public types here, so a mistake in a data file is reported with the file, the
//! header and the pin it concerns instead of surfacing later as a wrong pin.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

/// What a header pin carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinRole {
    /// A GPIO line: the SoC chip (by label) and the line offset on it.
    Gpio {
        /// Label of the GPIO chip, e.g. `pinctrl-bcm2711`.
        chip: String,
        /// Line offset on that chip.
        line: u32,
    },
    /// A supply pin (`3V3`, `5V`, ...); the pin's name says which.
    Power,
    /// A ground pin.
    Ground,
    /// Anything else that is not a GPIO: analog inputs, reset, power button, ...
    Other,
}

/// One pin of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Physical pin number on the header, from 1.
    pub number: u32,
    /// The board's name for the pin (`GPIO17`, `3V3`, `GND`, `gpio1_28`, `PA12`).
    pub name: String,
    /// What the pin carries.
    pub role: PinRole,
    /// Alternate functions where known, e.g. `I2C1 SDA`, `SPI0 MOSI`, `UART0 TX`, `PWM0`.
    pub functions: Vec<String>,
    /// A remark about the pin (board pull-ups, shared balls), if any.
    pub note: Option<String>,
}

impl Pin {
    /// The chip label and line offset when the pin is a GPIO.
    pub fn gpio(&self) -> Option<(&str, u32)> {
        match &self.role {
            PinRole::Gpio { chip, line } => Some((chip.as_str(), *line)),
            _ => None,
        }
    }

    /// A short word for the role: `GPIO`, `power`, `ground` or `other`.
    pub fn role_word(&self) -> &'static str {
        match self.role {
            PinRole::Gpio { .. } => "GPIO",
            PinRole::Power => "power",
            PinRole::Ground => "ground",
            PinRole::Other => "other",
        }
    }
}

/// A pin header of a board (`J8`, `P1`, `P8`, `P9`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header's name as printed on the board.
    pub name: String,
    /// Other names users know it by (`P1` for `J8`).
    pub aliases: Vec<String>,
    /// The pins, in order, numbered 1..=N without gaps.
    pub pins: Vec<Pin>,
}

impl Header {
    /// The pin with physical number `number`.
    pub fn pin(&self, number: u32) -> Option<&Pin> {
        let index = usize::try_from(number.checked_sub(1)?).ok()?;
        self.pins.get(index)
    }

    /// Whether `name` names this header (its name or an alias, case-insensitive).
    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// A GPIO chip a profile uses, by label, and how many lines it has.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChipSpec {
    /// The chip's label as the kernel reports it.
    pub label: String,
    /// Its number of lines.
    pub lines: u32,
}

/// How a board spells a GPIO line other than by header pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NameScheme {
    /// Only `<prefix><number>` (Raspberry Pi: `GPIO17`, `BCM17`).
    Plain,
    /// TI style `gpio<bank>_<bit>` = 32 x bank + bit (BeagleBone: `gpio1_28` = 60).
    Bank,
    /// Allwinner `P<X><n>` = (X - 'A') x 32 + n (`PH8` = 232).
    Sunxi,
    /// Rockchip `GPIO<b>_<P><n>` = 32 x b + 8 x P + n (`GPIO1_C4` = 52).
    Rockchip,
    /// NVIDIA Tegra `P<port>.<n>` = port x 8 + n, ports A..Z then AA..FF (`PBB.00` = 216).
    Tegra,
}

/// A run of board GPIO numbers that maps onto one chip.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberRange {
    /// First board GPIO number of the run; it is line 0 of the chip.
    pub first: u32,
    /// How many numbers the run has.
    pub count: u32,
    /// Label of the chip the run maps to.
    pub chip: String,
}

/// The board's GPIO numbering (`GPIO17` on a Pi, `GPIO60` on a BeagleBone).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Numbering {
    /// Prefixes accepted before a number (`GPIO`, `BCM`).
    pub prefixes: Vec<String>,
    /// The board's own spelling of line names, if any.
    #[serde(default = "plain_scheme")]
    pub names: NameScheme,
    /// Number ranges, each on one chip.
    pub ranges: Vec<NumberRange>,
}

fn plain_scheme() -> NameScheme {
    NameScheme::Plain
}

impl Numbering {
    /// The chip label and line offset of board GPIO number `number`.
    pub fn locate(&self, number: u32) -> Option<(&str, u32)> {
        self.ranges
            .iter()
            .find(|r| number >= r.first && number - r.first < r.count)
            .map(|r| (r.chip.as_str(), number - r.first))
    }

    /// The board GPIO number of `line` on the chip labelled `chip`, if the numbering covers it.
    pub fn number_of(&self, chip: &str, line: u32) -> Option<u32> {
        self.ranges
            .iter()
            .find(|r| r.chip == chip && line < r.count)
            .map(|r| r.first + line)
    }

    /// The valid numbers, for error messages: `0-53` or `0-223, 352-383`.
    pub fn describe_ranges(&self) -> String {
        self.ranges
            .iter()
            .map(|r| format!("{}-{}", r.first, r.first + r.count.saturating_sub(1)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What identifies a board in the device tree and `/proc/cpuinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DetectRules {
    /// Board-specific `compatible` strings (never the SoC's own).
    pub compatible: Vec<String>,
    /// Prefixes of `/proc/device-tree/model`.
    pub models: Vec<String>,
    /// New-style Raspberry Pi revision type codes (bits 4-11 of `Revision`).
    pub revision_types: Vec<u8>,
    /// Old-style Raspberry Pi revision codes (`0002` ... `0015`).
    pub revision_codes: Vec<u32>,
    /// Match only when the revision is known and listed (to tell Pi 1 rev 1 from rev 2).
    pub requires_revision: bool,
    /// Without a device tree, a system whose GPIO chips are this profile's (labels and line
    /// counts) is taken for this board: set on one profile per SoC (the Pi 4 for
    /// `pinctrl-bcm2711`, which the Pi 400 and CM4 share), and reported as a guess.
    pub by_chips: bool,
}

/// A board: its headers, the chips they use and how to recognise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Short identifier, e.g. `rpi-4b`.
    pub id: String,
    /// Human name, e.g. `Raspberry Pi 4 Model B`.
    pub name: String,
    /// Other names accepted by `--board` (`pi4`, `rpi4`).
    pub aliases: Vec<String>,
    /// Assumptions and remarks stated in the data file.
    pub notes: Vec<String>,
    /// Detection rules.
    pub detect: DetectRules,
    /// GPIO chips the headers use.
    pub chips: Vec<ChipSpec>,
    /// The board's GPIO numbering, if it has one.
    pub numbering: Option<Numbering>,
    /// The headers; empty for the generic profile.
    pub headers: Vec<Header>,
}

impl Profile {
    /// Whether this is the fallback profile for unknown boards.
    pub fn is_generic(&self) -> bool {
        self.headers.is_empty()
    }

    /// The header named `name` (or with that alias), case-insensitive.
    pub fn header(&self, name: &str) -> Option<&Header> {
        self.headers.iter().find(|h| h.is_named(name))
    }

    /// The chip specification with `label`.
    pub fn chip(&self, label: &str) -> Option<&ChipSpec> {
        self.chips.iter().find(|c| c.label == label)
    }

    /// Whether `name` is this profile's id or one of its aliases (case and `-`/`_`/space-insensitive).
    pub fn is_named(&self, name: &str) -> bool {
        let wanted = normalize_board_name(name);
        normalize_board_name(&self.id) == wanted
            || self
                .aliases
                .iter()
                .any(|a| normalize_board_name(a) == wanted)
    }

    /// Every header pin that is a GPIO, with its header.
    pub fn gpio_pins(&self) -> impl Iterator<Item = (&Header, &Pin)> {
        self.headers
            .iter()
            .flat_map(|h| h.pins.iter().map(move |p| (h, p)))
            .filter(|(_, p)| p.gpio().is_some())
    }
}

/// Lower-cases and drops `-`, `_`, spaces and dots so `Pi-4`, `pi_4` and `PI4` compare equal.
pub(crate) fn normalize_board_name(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A data file that does not describe a valid profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("board data `{file}`: {message}")]
pub struct ProfileDataError {
    /// The data file, relative to `boards/profiles/`.
    pub file: String,
    /// What is wrong, naming the header and pin.
    pub message: String,
}

// ---- raw serde shapes of the data files ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLayout {
    pub id: String,
    #[allow(dead_code)] // documentation for readers of the data file
    #[serde(default)]
    pub description: String,
    pub pins: Vec<RawPin>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPin {
    pin: u32,
    role: RawRole,
    name: String,
    #[serde(default)]
    line: Option<u32>,
    #[serde(default)]
    chip: Option<String>,
    #[serde(default)]
    functions: Vec<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawRole {
    Gpio,
    Power,
    Ground,
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDetect {
    #[serde(default)]
    compatible: Vec<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    revision_types: Vec<String>,
    #[serde(default)]
    revision_codes: Vec<String>,
    #[serde(default)]
    requires_revision: bool,
    #[serde(default)]
    by_chips: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    /// A shared layout by id (`rpi-40`), instead of `pins`.
    #[serde(default)]
    layout: Option<String>,
    /// Use only the first `count` pins of the layout (26-pin Pi 1 headers).
    #[serde(default)]
    count: Option<u32>,
    /// Default chip label for GPIO pins that name none.
    #[serde(default)]
    chip: Option<String>,
    #[serde(default)]
    pins: Option<Vec<RawPin>>,
    /// Pins replacing the layout's pins of the same number.
    #[serde(default)]
    overrides: Vec<RawPin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    id: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    notes: Vec<String>,
    detect: RawDetect,
    chips: Vec<ChipSpec>,
    #[serde(default)]
    numbering: Option<Numbering>,
    headers: Vec<RawHeader>,
}

pub(crate) fn parse_layout(file: &str, text: &str) -> Result<RawLayout, ProfileDataError> {
    serde_json::from_str(text).map_err(|e| ProfileDataError {
        file: file.to_string(),
        message: format!("not a valid layout: {e}"),
    })
}

/// Parses and checks one profile file against the shared layouts.
pub(crate) fn parse_profile(
    file: &str,
    text: &str,
    layouts: &BTreeMap<String, RawLayout>,
) -> Result<Profile, ProfileDataError> {
    let err = |message: String| ProfileDataError {
        file: file.to_string(),
        message,
    };
    let raw: RawProfile =
        serde_json::from_str(text).map_err(|e| err(format!("not a valid profile: {e}")))?;
    let detect = RawDetect::convert(raw.detect).map_err(&err)?;
    let mut headers = Vec::new();
    for h in raw.headers {
        headers.push(build_header(h, layouts).map_err(&err)?);
    }
    let profile = Profile {
        id: raw.id,
        name: raw.name,
        aliases: raw.aliases,
        notes: raw.notes,
        detect,
        chips: raw.chips,
        numbering: raw.numbering,
        headers,
    };
    check_profile(&profile).map_err(err)?;
    Ok(profile)
}

impl RawDetect {
    fn convert(self) -> Result<DetectRules, String> {
        let revision_types = self
            .revision_types
            .iter()
            .map(|t| {
                t.strip_prefix("0x")
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("revision type `{t}` is not a hex byte like `0x11`"))
            })
            .collect::<Result<_, _>>()?;
        let revision_codes = self
            .revision_codes
            .iter()
            .map(|c| {
                u32::from_str_radix(c, 16)
                    .map_err(|_| format!("revision code `{c}` is not hex like `000e`"))
            })
            .collect::<Result<_, _>>()?;
        Ok(DetectRules {
            compatible: self.compatible,
            models: self.models,
            revision_types,
            revision_codes,
            requires_revision: self.requires_revision,
            by_chips: self.by_chips,
        })
    }
}

fn build_header(raw: RawHeader, layouts: &BTreeMap<String, RawLayout>) -> Result<Header, String> {
    let name = raw.name;
    let mut pins: Vec<RawPin> = match (&raw.layout, raw.pins) {
        (Some(id), None) => {
            let layout = layouts.get(id).ok_or_else(|| {
                format!(
                    "header {name}: unknown layout `{id}` (known: {})",
                    join(layouts.keys())
                )
            })?;
            layout.pins.clone()
        }
        (None, Some(pins)) => pins,
        (Some(_), Some(_)) => {
            return Err(format!(
                "header {name}: give either `layout` or `pins`, not both"
            ))
        }
        (None, None) => return Err(format!("header {name}: needs `layout` or `pins`")),
    };
    if let Some(count) = raw.count {
        pins.retain(|p| p.pin <= count);
    }
    for o in raw.overrides {
        match pins.iter_mut().find(|p| p.pin == o.pin) {
            Some(slot) => *slot = o,
            None => {
                return Err(format!(
                    "header {name}: override of pin {} that the header does not have",
                    o.pin
                ))
            }
        }
    }
    pins.sort_by_key(|p| p.pin);
    let mut out = Vec::with_capacity(pins.len());
    for p in pins {
        let role = match p.role {
            RawRole::Gpio => {
                let line = p.line.ok_or_else(|| {
                    format!("header {name} pin {}: a GPIO pin needs `line`", p.pin)
                })?;
                let chip = p.chip.or_else(|| raw.chip.clone()).ok_or_else(|| {
                    format!(
                        "header {name} pin {}: no `chip` on the pin or the header",
                        p.pin
                    )
                })?;
                PinRole::Gpio { chip, line }
            }
            other => {
                if p.line.is_some() || p.chip.is_some() {
                    return Err(format!(
                        "header {name} pin {}: only GPIO pins have `line`/`chip`",
                        p.pin
                    ));
                }
                match other {
                    RawRole::Power => PinRole::Power,
                    RawRole::Ground => PinRole::Ground,
                    _ => PinRole::Other,
                }
            }
        };
        out.push(Pin {
            number: p.pin,
            name: p.name,
            role,
            functions: p.functions,
            note: p.note,
        });
    }
    Ok(Header {
        name,
        aliases: raw.aliases,
        pins: out,
    })
}

/// The invariants every profile keeps: pins 1..N once each, GPIO pins on a declared chip with
/// an offset below its line count, no line used twice on one header, a numbering that agrees.
pub(crate) fn check_profile(p: &Profile) -> Result<(), String> {
    let mut chip_labels = HashSet::new();
    for c in &p.chips {
        if !chip_labels.insert(c.label.as_str()) {
            return Err(format!("chip `{}` declared twice", c.label));
        }
        if c.lines == 0 {
            return Err(format!("chip `{}` has no lines", c.label));
        }
    }
    let mut header_names = HashSet::new();
    for h in &p.headers {
        for n in std::iter::once(&h.name).chain(&h.aliases) {
            if !header_names.insert(n.to_ascii_lowercase()) {
                return Err(format!("header name `{n}` used twice"));
            }
        }
        if h.pins.is_empty() {
            return Err(format!("header {} has no pins", h.name));
        }
        for (i, pin) in h.pins.iter().enumerate() {
            let expected = u32::try_from(i + 1).unwrap_or(u32::MAX);
            if pin.number != expected {
                return Err(format!(
                    "header {}: pin {} where pin {expected} was expected (pins must be 1..={} once each)",
                    h.name,
                    pin.number,
                    h.pins.len()
                ));
            }
            if pin.name.trim().is_empty() {
                return Err(format!("header {} pin {}: empty name", h.name, pin.number));
            }
        }
        let mut used = HashSet::new();
        for pin in &h.pins {
            if let Some((chip, line)) = pin.gpio() {
                let spec = p.chip(chip).ok_or_else(|| {
                    format!(
                        "header {} pin {}: chip `{chip}` is not among the profile's chips ({})",
                        h.name,
                        pin.number,
                        join(p.chips.iter().map(|c| &c.label))
                    )
                })?;
                if line >= spec.lines {
                    return Err(format!(
                        "header {} pin {}: line {line} is out of range for `{chip}` ({} lines)",
                        h.name, pin.number, spec.lines
                    ));
                }
                if !used.insert((chip, line)) {
                    return Err(format!(
                        "header {} pin {}: line {chip}:{line} is already on another pin",
                        h.name, pin.number
                    ));
                }
            }
        }
    }
    if let Some(n) = &p.numbering {
        for r in &n.ranges {
            let spec = p.chip(&r.chip).ok_or_else(|| {
                format!(
                    "numbering range at {} names unknown chip `{}`",
                    r.first, r.chip
                )
            })?;
            if r.count > spec.lines {
                return Err(format!(
                    "numbering range at {} is longer than chip `{}`",
                    r.first, r.chip
                ));
            }
        }
        let mut sorted: Vec<_> = n.ranges.iter().collect();
        sorted.sort_by_key(|r| r.first);
        for w in sorted.windows(2) {
            if w[0].first + w[0].count > w[1].first {
                return Err(format!(
                    "numbering ranges at {} and {} overlap",
                    w[0].first, w[1].first
                ));
            }
        }
    }
    Ok(())
}

fn join<I, S>(items: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    items
        .into_iter()
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layouts() -> BTreeMap<String, RawLayout> {
        let mut m = BTreeMap::new();
        for (file, text) in crate::registry::LAYOUT_SOURCES {
            let l = parse_layout(file, text).unwrap();
            m.insert(l.id.clone(), l);
        }
        m
    }

    fn board(headers: &str) -> String {
        format!(
            r#"{{"id": "t", "name": "T", "detect": {{}}, "chips": [{{"label": "c", "lines": 4}}], "headers": [{headers}]}}"#
        )
    }

    fn error_of(headers: &str) -> String {
        parse_profile("t.json", &board(headers), &layouts())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_small_valid_board_parses() {
        let p = parse_profile(
            "t.json",
            &board(r#"{"name": "H", "chip": "c", "pins": [{"pin": 1, "role": "gpio", "line": 3, "name": "A"}, {"pin": 2, "role": "ground", "name": "GND"}]}"#),
            &layouts(),
        )
        .unwrap();
        assert_eq!(p.headers[0].pin(1).unwrap().gpio(), Some(("c", 3)));
    }

    #[test]
    fn broken_data_is_reported_with_file_header_and_pin() {
        let gpio = |pin: u32, line: u32| {
            format!(r#"{{"pin": {pin}, "role": "gpio", "line": {line}, "name": "L{pin}"}}"#)
        };
        let cases = [
            (format!(r#"{{"name": "H", "chip": "c", "pins": [{}, {}]}}"#, gpio(1, 0), gpio(3, 1)), "pin 3 where pin 2 was expected"),
            (format!(r#"{{"name": "H", "chip": "c", "pins": [{}, {}]}}"#, gpio(1, 0), gpio(1, 1)), "pin 1 where pin 2 was expected"),
            (format!(r#"{{"name": "H", "chip": "c", "pins": [{}]}}"#, gpio(1, 4)), "line 4 is out of range for `c` (4 lines)"),
            (format!(r#"{{"name": "H", "chip": "c", "pins": [{}, {}]}}"#, gpio(1, 2), gpio(2, 2)), "line c:2 is already on another pin"),
            (format!(r#"{{"name": "H", "chip": "x", "pins": [{}]}}"#, gpio(1, 0)), "chip `x` is not among the profile's chips (c)"),
            (format!(r#"{{"name": "H", "pins": [{}]}}"#, gpio(1, 0)), "header H pin 1: no `chip` on the pin or the header"),
            (r#"{"name": "H", "chip": "c", "pins": [{"pin": 1, "role": "gpio", "name": "A"}]}"#.into(), "a GPIO pin needs `line`"),
            (r#"{"name": "H", "chip": "c", "pins": [{"pin": 1, "role": "ground", "line": 1, "name": "GND"}]}"#.into(), "only GPIO pins have `line`/`chip`"),
            (r#"{"name": "H", "layout": "nope"}"#.into(), "unknown layout `nope` (known: rpi-40)"),
            (r#"{"name": "H"}"#.into(), "needs `layout` or `pins`"),
            (r#"{"name": "H", "layout": "rpi-40", "chip": "c", "overrides": [{"pin": 41, "role": "ground", "name": "GND"}]}"#.into(), "override of pin 41"),
            (r#"{"name": "H", "chip": "c", "pins": [{"pin": 1, "role": "sideways", "name": "A"}]}"#.into(), "not a valid profile"),
        ];
        for (header, expected) in cases {
            let msg = error_of(&header);
            assert!(msg.starts_with("board data `t.json`: "), "{msg}");
            assert!(msg.contains(expected), "expected `{expected}` in: {msg}");
        }
    }

    #[test]
    fn layout_lines_beyond_the_chip_are_caught() {
        // The 40-pin layout uses BCM lines up to 27: a 4-line chip cannot carry it.
        let msg = error_of(r#"{"name": "J8", "layout": "rpi-40", "chip": "c"}"#);
        assert!(msg.contains("out of range for `c` (4 lines)"), "{msg}");
    }

    #[test]
    fn bad_detect_and_numbering_values_are_caught() {
        let text = r#"{"id": "t", "name": "T", "detect": {"revision_types": ["17"]}, "chips": [], "headers": []}"#;
        let msg = parse_profile("t.json", text, &layouts())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("revision type `17` is not a hex byte like `0x11`"),
            "{msg}"
        );
        let text = r#"{"id": "t", "name": "T", "detect": {}, "chips": [{"label": "c", "lines": 4}], "headers": [],
            "numbering": {"prefixes": ["GPIO"], "ranges": [{"first": 0, "count": 4, "chip": "c"}, {"first": 2, "count": 2, "chip": "c"}]}}"#;
        let msg = parse_profile("t.json", text, &layouts())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("numbering ranges at 0 and 2 overlap"), "{msg}");
        let text = r#"{"id": "t", "name": "T", "detect": {}, "chips": [{"label": "c", "lines": 4}], "headers": [],
            "numbering": {"prefixes": ["GPIO"], "ranges": [{"first": 0, "count": 8, "chip": "c"}]}}"#;
        let msg = parse_profile("t.json", text, &layouts())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("longer than chip `c`"), "{msg}");
    }
}
