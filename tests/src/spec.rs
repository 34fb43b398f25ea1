//! Descriptions of the simulated chips a VM boots with, and the `--chips` syntax.
//!
//! ```text
//! SPEC   = CHIP *( ";" CHIP )
//! CHIP   = PRESET | FIELD *( "," FIELD )
//! PRESET = "default" | "pi4" | "hwkit-sim"
//! FIELD  = "label=" TEXT | "lines=" COUNT | "names=" NAMES
//! NAMES  = ITEM *( ":" ITEM )            an empty ITEM leaves that line unnamed
//! ITEM   = NAME | PREFIX FIRST ".." PREFIX LAST      e.g. GPIO0..GPIO57
//! ```
//!
//! Examples: `label=pinctrl-bcm2711,lines=58,names=GPIO0..GPIO57;label=aux,lines=8`,
//! `pi4;label=leds,names=RED:GREEN:BLUE` (lines defaults to the number of names).
//!
//! Each chip becomes its own gpio-sim device with one bank, so its label is what
//! `GPIO_GET_CHIPINFO_IOCTL` and `/sys/class/gpio/gpiochipN/label` report.

use std::collections::BTreeSet;
use std::fmt;

/// Most lines one simulated chip may have. Kernel 6.1 hands out sysfs numbers below 1024
/// for every dynamic chip, so a few hundred lines per chip is the useful ceiling.
pub const MAX_LINES: u32 = 512;
/// Most lines of all chips together (the 6.1 kernel's dynamic sysfs number space).
pub const MAX_TOTAL_LINES: u32 = 1024;
/// Most chips one VM may boot with.
pub const MAX_CHIPS: usize = 16;
/// Longest label or line name in bytes: the uAPI's 32-byte fields keep 31 and a NUL.
pub const MAX_NAME_LEN: usize = 31;

/// The label of the default Raspberry Pi 4 chip.
pub const PI4_LABEL: &str = "pinctrl-bcm2711";
/// The label of the default small chip.
pub const SMALL_LABEL: &str = "hwkit-sim";

/// Line names of a Raspberry Pi 4's `pinctrl-bcm2711` chip, as Raspberry Pi OS's kernel
/// names them (`gpioinfo` on a real Pi 4).
pub const PI4_LINE_NAMES: [&str; 58] = [
    "ID_SDA",
    "ID_SCL",
    "GPIO2",
    "GPIO3",
    "GPIO4",
    "GPIO5",
    "GPIO6",
    "GPIO7",
    "GPIO8",
    "GPIO9",
    "GPIO10",
    "GPIO11",
    "GPIO12",
    "GPIO13",
    "GPIO14",
    "GPIO15",
    "GPIO16",
    "GPIO17",
    "GPIO18",
    "GPIO19",
    "GPIO20",
    "GPIO21",
    "GPIO22",
    "GPIO23",
    "GPIO24",
    "GPIO25",
    "GPIO26",
    "GPIO27",
    "RGMII_MDIO",
    "RGMIO_MDC",
    "CTS0",
    "RTS0",
    "TXD0",
    "RXD0",
    "SD1_CLK",
    "SD1_CMD",
    "SD1_DATA0",
    "SD1_DATA1",
    "SD1_DATA2",
    "SD1_DATA3",
    "PWM0_MISO",
    "PWM1_MOSI",
    "STATUS_LED_G_CLK",
    "SPIFLASH_CE_N",
    "SDA0",
    "SCL0",
    "RGMII_RXCLK",
    "RGMII_RXCTL",
    "RGMII_RXD0",
    "RGMII_RXD1",
    "RGMII_RXD2",
    "RGMII_RXD3",
    "RGMII_TXCLK",
    "RGMII_TXCTL",
    "RGMII_TXD0",
    "RGMII_TXD1",
    "RGMII_TXD2",
    "RGMII_TXD3",
];

/// One simulated chip: a label, a line count, and optional names for its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipSpec {
    /// The chip's label (what tools select chips by).
    pub label: String,
    /// Number of lines.
    pub lines: u32,
    /// Line names by offset; `None` leaves a line unnamed. Never longer than `lines`.
    pub names: Vec<Option<String>>,
}

impl ChipSpec {
    /// A Raspberry Pi 4 `pinctrl-bcm2711` chip: 58 lines with the Pi's line names.
    pub fn pi4() -> ChipSpec {
        ChipSpec {
            label: PI4_LABEL.to_string(),
            lines: 58,
            names: PI4_LINE_NAMES.iter().map(|n| Some(n.to_string())).collect(),
        }
    }

    /// A small chip: 8 unnamed lines labelled `hwkit-sim`.
    pub fn small() -> ChipSpec {
        ChipSpec {
            label: SMALL_LABEL.to_string(),
            lines: 8,
            names: Vec::new(),
        }
    }

    /// The chips `hwkit vm` boots with when no `--chips` is given: [`ChipSpec::pi4`] and
    /// [`ChipSpec::small`].
    pub fn default_set() -> Vec<ChipSpec> {
        vec![ChipSpec::pi4(), ChipSpec::small()]
    }

    /// The default chips on `machine`: [`ChipSpec::default_set`], but on the Raspberry Pi
    /// only [`ChipSpec::small`], since its header chip is the real one (a simulated Pi 4
    /// chip beside it would contradict the board's device tree).
    pub fn default_for(machine: crate::arch::Machine) -> Vec<ChipSpec> {
        if machine.is_raspberry_pi() {
            vec![ChipSpec::small()]
        } else {
            ChipSpec::default_set()
        }
    }
}

impl fmt::Display for ChipSpec {
    /// Writes the chip back in `--chips` syntax.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "label={},lines={}", self.label, self.lines)?;
        if !self.names.is_empty() {
            let names: Vec<&str> = self
                .names
                .iter()
                .map(|n| n.as_deref().unwrap_or(""))
                .collect();
            write!(f, ",names={}", names.join(":"))?;
        }
        Ok(())
    }
}

/// Why a `--chips` description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad chip spec: {place}: {reason}")]
pub struct SpecError {
    /// Which part of the spec is wrong, e.g. "chip 2 (`label=aux,lines=x`)".
    pub place: String,
    /// What is wrong and what would be right.
    pub reason: String,
}

fn err(place: &str, reason: impl Into<String>) -> SpecError {
    SpecError {
        place: place.to_string(),
        reason: reason.into(),
    }
}

/// Parses a `--chips` value (see the module docs for the syntax) into chips, checking
/// every limit the kernel would otherwise enforce with an obscure error.
pub fn parse_chips(spec: &str) -> Result<Vec<ChipSpec>, SpecError> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(err(
            "the spec",
            "it is empty; describe at least one chip, e.g. `label=aux,lines=8`, or use `default`",
        ));
    }
    let mut chips = Vec::new();
    for (i, part) in spec.split(';').enumerate() {
        let part = part.trim();
        let place = format!("chip {} (`{}`)", i + 1, part);
        if part.is_empty() {
            return Err(err(
                &place,
                "empty chip description (two `;` in a row, or a `;` at an end?)",
            ));
        }
        match part {
            "default" => chips.extend(ChipSpec::default_set()),
            "pi4" => chips.push(ChipSpec::pi4()),
            "hwkit-sim" => chips.push(ChipSpec::small()),
            _ => chips.push(parse_chip(part, &place)?),
        }
    }
    if chips.len() > MAX_CHIPS {
        return Err(err(
            "the spec",
            format!(
                "{} chips described, at most {MAX_CHIPS} are allowed",
                chips.len()
            ),
        ));
    }
    let total: u32 = chips.iter().map(|c| c.lines).sum();
    if total > MAX_TOTAL_LINES {
        return Err(err(
            "the spec",
            format!("{total} lines in all, at most {MAX_TOTAL_LINES} fit in the kernel's GPIO number space"),
        ));
    }
    let mut labels = BTreeSet::new();
    for c in &chips {
        if !labels.insert(c.label.as_str()) {
            return Err(err(
                "the spec",
                format!(
                    "label `{}` is used twice; tools select chips by label, so labels must differ",
                    c.label
                ),
            ));
        }
    }
    Ok(chips)
}

fn parse_chip(part: &str, place: &str) -> Result<ChipSpec, SpecError> {
    let mut label = None;
    let mut lines = None;
    let mut names: Option<Vec<Option<String>>> = None;
    for field in part.split(',') {
        let field = field.trim();
        let Some((key, value)) = field.split_once('=') else {
            return Err(err(
                place,
                format!(
                    "`{field}` is not a field; write `label=TEXT`, `lines=COUNT` or `names=A:B:C`, \
                     or use a preset (`default`, `pi4`, `hwkit-sim`)"
                ),
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        let dup = |seen: bool| {
            if seen {
                Err(err(place, format!("`{key}` is given twice")))
            } else {
                Ok(())
            }
        };
        match key {
            "label" => {
                dup(label.is_some())?;
                check_text(value, "label", place)?;
                label = Some(value.to_string());
            }
            "lines" => {
                dup(lines.is_some())?;
                let n: u32 = value.parse().map_err(|_| {
                    err(
                        place,
                        format!("lines must be a number from 1 to {MAX_LINES}, got `{value}`"),
                    )
                })?;
                if n == 0 || n > MAX_LINES {
                    return Err(err(
                        place,
                        format!("lines must be from 1 to {MAX_LINES}, got {n}"),
                    ));
                }
                lines = Some(n);
            }
            "names" => {
                dup(names.is_some())?;
                names = Some(parse_names(value, place)?);
            }
            other => {
                return Err(err(
                    place,
                    format!("unknown field `{other}`; the fields are `label`, `lines` and `names`"),
                ))
            }
        }
    }
    let Some(label) = label else {
        return Err(err(
            place,
            "no `label=`; every chip needs a label, e.g. `label=aux,lines=8`",
        ));
    };
    let names = names.unwrap_or_default();
    let lines = match lines {
        Some(n) => n,
        None if !names.is_empty() => {
            let n = u32::try_from(names.len()).unwrap_or(u32::MAX);
            if n > MAX_LINES {
                return Err(err(
                    place,
                    format!("{n} names, but a chip has at most {MAX_LINES} lines"),
                ));
            }
            n
        }
        None => {
            return Err(err(
                place,
                "no `lines=`; say how many lines the chip has, e.g. `lines=8`",
            ))
        }
    };
    if names.len() > lines as usize {
        return Err(err(
            place,
            format!(
                "{} names for {lines} lines; give at most one name per line",
                names.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for n in names.iter().flatten() {
        if !seen.insert(n.as_str()) {
            return Err(err(
                place,
                format!("line name `{n}` is used twice on this chip"),
            ));
        }
    }
    Ok(ChipSpec {
        label,
        lines,
        names,
    })
}

fn parse_names(value: &str, place: &str) -> Result<Vec<Option<String>>, SpecError> {
    if value.is_empty() {
        return Err(err(
            place,
            "`names=` is empty; write e.g. `names=SDA:SCL` or `names=GPIO0..GPIO7`",
        ));
    }
    let mut out = Vec::new();
    for item in value.split(':') {
        let item = item.trim();
        if item.is_empty() {
            out.push(None);
        } else if let Some((first, last)) = item.split_once("..") {
            out.extend(expand_range(first, last, place)?.into_iter().map(Some));
        } else {
            check_text(item, "line name", place)?;
            out.push(Some(item.to_string()));
        }
        if out.len() > MAX_LINES as usize {
            return Err(err(place, format!("more than {MAX_LINES} names")));
        }
    }
    Ok(out)
}

/// Expands `GPIO0..GPIO57` into `GPIO0`, `GPIO1`, ..., `GPIO57`.
fn expand_range(first: &str, last: &str, place: &str) -> Result<Vec<String>, SpecError> {
    let split = |s: &str| {
        let digits = s.len() - s.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, num) = s.split_at(s.len() - digits);
        (prefix.to_string(), num.parse::<u32>().ok())
    };
    let bad = || {
        err(
            place,
            format!(
                "`{first}..{last}` is not a name range; write the same prefix on both sides with \
                 ascending numbers, e.g. `GPIO0..GPIO57`"
            ),
        )
    };
    let (p1, n1) = split(first);
    let (p2, n2) = split(last);
    let (Some(n1), Some(n2)) = (n1, n2) else {
        return Err(bad());
    };
    if p1 != p2 || n1 > n2 {
        return Err(bad());
    }
    if n2 - n1 >= MAX_LINES {
        return Err(err(
            place,
            format!("range `{first}..{last}` has more than {MAX_LINES} names"),
        ));
    }
    let names: Vec<String> = (n1..=n2).map(|n| format!("{p1}{n}")).collect();
    for n in &names {
        check_text(n, "line name", place)?;
    }
    Ok(names)
}

/// Labels and names end up in configfs files written by the guest's shell and in 32-byte
/// uAPI fields: keep them short, printable and free of the spec's own separators.
fn check_text(text: &str, what: &str, place: &str) -> Result<(), SpecError> {
    if text.is_empty() {
        return Err(err(place, format!("the {what} is empty")));
    }
    if text.len() > MAX_NAME_LEN {
        return Err(err(
            place,
            format!(
                "{what} `{text}` is {} bytes long; the kernel keeps at most {MAX_NAME_LEN}",
                text.len()
            ),
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| !c.is_ascii_graphic() || ",;:='\"\\`$".contains(*c))
    {
        return Err(err(
            place,
            format!(
                "{what} `{text}` contains {c:?}; use letters, digits and punctuation other than \
                 , ; : = quotes \\ ` $"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<Option<String>> {
        list.iter().map(|n| Some(n.to_string())).collect()
    }

    #[test]
    fn parses_the_documented_example() {
        let chips =
            parse_chips("label=pinctrl-bcm2711,lines=58,names=GPIO0..GPIO57;label=aux,lines=8")
                .unwrap();
        assert_eq!(chips.len(), 2);
        assert_eq!(chips[0].label, "pinctrl-bcm2711");
        assert_eq!(chips[0].lines, 58);
        assert_eq!(chips[0].names.len(), 58);
        assert_eq!(chips[0].names[0].as_deref(), Some("GPIO0"));
        assert_eq!(chips[0].names[57].as_deref(), Some("GPIO57"));
        assert_eq!(
            chips[1],
            ChipSpec {
                label: "aux".into(),
                lines: 8,
                names: vec![]
            }
        );
    }

    #[test]
    fn lines_default_to_the_number_of_names_and_gaps_stay_unnamed() {
        let chips = parse_chips("label=leds,names=RED::BLUE").unwrap();
        assert_eq!(chips[0].lines, 3);
        assert_eq!(
            chips[0].names,
            vec![Some("RED".into()), None, Some("BLUE".into())]
        );
    }

    #[test]
    fn presets_expand() {
        assert_eq!(parse_chips("default").unwrap(), ChipSpec::default_set());
        let chips = parse_chips(" pi4 ; label=x,lines=1 ").unwrap();
        assert_eq!(chips[0], ChipSpec::pi4());
        assert_eq!(chips[0].names.len(), 58);
        assert_eq!(chips[0].names[17].as_deref(), Some("GPIO17"));
        assert_eq!(chips[1].label, "x");
    }

    #[test]
    fn display_round_trips() {
        for spec in ["label=a,lines=3,names=X::Z", "label=b,lines=2"] {
            let chips = parse_chips(spec).unwrap();
            assert_eq!(chips[0].to_string(), spec);
        }
        let pi = ChipSpec::pi4();
        assert_eq!(parse_chips(&pi.to_string()).unwrap(), vec![pi]);
    }

    #[test]
    fn names_mix_lists_and_ranges() {
        let chips = parse_chips("label=m,lines=6,names=SDA:SCL:P0..P2").unwrap();
        assert_eq!(chips[0].names, names(&["SDA", "SCL", "P0", "P1", "P2"]));
    }

    fn reason(spec: &str) -> String {
        let e = parse_chips(spec).unwrap_err();
        assert!(e.to_string().starts_with("bad chip spec: "), "{e}");
        e.to_string()
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("   ", "empty"),
            ("label=a,lines=1;", "empty chip description"),
            ("label=a,lines=1;;label=b,lines=1", "chip 2"),
            ("lines=8", "no `label=`"),
            ("label=a", "no `lines=`"),
            ("label=a,lines=x", "lines must be a number"),
            ("label=a,lines=-1", "lines must be a number"),
            ("label=a,lines=0", "from 1 to 512, got 0"),
            ("label=a,lines=513", "got 513"),
            ("label=a,lines=8,colour=red", "unknown field `colour`"),
            ("label=a,lines=8,label=b", "`label` is given twice"),
            ("label=a,lines=8,lines=9", "`lines` is given twice"),
            ("label=a,lines=8,names=A,names=B", "`names` is given twice"),
            ("label=a,8", "`8` is not a field"),
            ("bogus", "`bogus` is not a field"),
            ("label=,lines=1", "label is empty"),
            ("label=a b,lines=1", "contains ' '"),
            ("label=a'b,lines=1", "contains '\\''"),
            (
                "label=abcdefghijabcdefghijabcdefghij12,lines=1",
                "32 bytes long",
            ),
            ("label=a,lines=2,names=A:B:C", "3 names for 2 lines"),
            ("label=a,lines=2,names=", "`names=` is empty"),
            ("label=a,lines=2,names=A:A", "`A` is used twice"),
            ("label=a,lines=9,names=G3..G1", "not a name range"),
            ("label=a,lines=9,names=G1..H3", "not a name range"),
            ("label=a,lines=9,names=G..G3", "not a name range"),
            ("label=a,lines=9,names=G1..", "not a name range"),
            ("label=a,lines=9,names=G0..G600", "more than 512 names"),
            ("label=a,lines=1;label=a,lines=2", "label `a` is used twice"),
            ("pi4;pi4", "label `pinctrl-bcm2711` is used twice"),
            (
                "label=a,lines=512;label=b,lines=512;label=c,lines=1",
                "1025 lines in all",
            ),
        ];
        for (spec, want) in cases {
            let got = reason(spec);
            assert!(
                got.contains(want),
                "spec {spec:?}: error {got:?} should contain {want:?}"
            );
        }
    }

    #[test]
    fn too_many_chips_is_refused() {
        let spec: Vec<String> = (0..17).map(|i| format!("label=c{i},lines=1")).collect();
        assert!(reason(&spec.join(";")).contains("17 chips"));
    }

    #[test]
    fn pi4_names_fit_the_kernel() {
        assert_eq!(PI4_LINE_NAMES.len(), 58);
        for n in PI4_LINE_NAMES {
            check_text(n, "line name", "pi4").unwrap();
        }
    }
}
