//! Pin names to lines: `pin 11` / `J8-11` / `GPIO17` / `BCM17` / a line name / `chip:offset`
//! -> chip (found by label, never by number), offset, character device and sysfs number.

use std::path::Path;

use crate::inventory::{Chip, ChipInventory};
use crate::profile::{Header, Pin, PinRole, Profile};
use crate::query::{parse, BareNumber, Query};

/// Which chip a location is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChipRef {
    /// By label, as profiles name chips (`pinctrl-bcm2711`).
    Label(String),
    /// By kernel name or `/dev` path, as in `gpiochip0:17`; needs an inventory to bind.
    Name(String),
}

impl std::fmt::Display for ChipRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChipRef::Label(l) | ChipRef::Name(l) => f.write_str(l),
        }
    }
}

/// A physical pin: header and number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRef {
    /// Header name (`J8`, `P9`).
    pub header: String,
    /// Pin number on it.
    pub number: u32,
}

impl std::fmt::Display for PinRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.header, self.number)
    }
}

/// Where a query points, from the profile alone: chip and offset, and the header pin if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The chip.
    pub chip: ChipRef,
    /// Line offset on the chip.
    pub offset: u32,
    /// The header pin carrying this line, if one does.
    pub pin: Option<PinRef>,
    /// The pin's or line's name (`GPIO17`).
    pub name: Option<String>,
    /// The board's GPIO number (`17` for GPIO17, `60` for gpio1_28), if the board numbers it.
    pub board_number: Option<u32>,
}

/// A query bound to a chip of the running system (or captured tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// What the profile says.
    pub location: Location,
    /// The chip found for it.
    pub chip: Chip,
}

impl Resolution {
    /// Line offset on the chip.
    pub fn offset(&self) -> u32 {
        self.location.offset
    }

    /// The character device to open, if the system has one for this chip.
    pub fn dev_path(&self) -> Option<&Path> {
        self.chip.dev_path.as_deref()
    }

    /// The chip's kernel name (`gpiochip0`).
    pub fn chip_name(&self) -> &str {
        &self.chip.name
    }

    /// The global number for `/sys/class/gpio/export`: the chip's sysfs base plus the offset;
    /// `None` when the chip has no legacy sysfs directory, or when the sum is past the
    /// number space (a base no kernel gives: sysfs bases are read, not trusted).
    pub fn sysfs_number(&self) -> Option<u32> {
        self.chip
            .sysfs_base
            .and_then(|b| b.checked_add(self.location.offset))
    }

    /// A multi-line human description.
    pub fn describe(&self) -> String {
        let mut lines = Vec::new();
        let what = match (&self.location.pin, &self.location.name) {
            (Some(p), Some(n)) => format!("pin {p} ({n})"),
            (Some(p), None) => format!("pin {p}"),
            (None, Some(n)) => n.clone(),
            (None, None) => format!("{}:{}", self.chip.name, self.location.offset),
        };
        lines.push(what);
        lines.push(format!("  chip:   {}", self.chip.describe()));
        lines.push(format!(
            "  device: {}",
            self.dev_path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "none (no character device for this chip)".into())
        ));
        lines.push(format!("  offset: {}", self.location.offset));
        lines.push(match (self.sysfs_number(), self.chip.sysfs_base) {
            (Some(n), Some(b)) => {
                format!("  sysfs:  {n} (base {b} + offset {})", self.location.offset)
            }
            _ => "  sysfs:  none (the chip has no /sys/class/gpio/gpiochipBASE directory)".into(),
        });
        if let Some(dir) = &self.chip.sysfs_chip_dir {
            lines.push(format!(
                "  sysfs per-chip: {} (export takes offset {})",
                dir.display(),
                self.location.offset
            ));
        }
        if let Some(n) = self.location.board_number {
            lines.push(format!("  board number: {n}"));
        }
        lines.join("\n")
    }
}

/// Why a query could not be resolved. Each message names what is wrong and what would be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// Nothing on the board is called that.
    #[error(
        "unknown pin `{query}` on {board}{}; valid forms: {forms}",
        suggest(nearest)
    )]
    UnknownPin {
        /// What was asked.
        query: String,
        /// The board's name.
        board: String,
        /// Names close to the query.
        nearest: Vec<String>,
        /// The forms this board accepts, with examples.
        forms: String,
    },
    /// The header has no such pin number.
    #[error("`{query}`: header {header} has pins 1-{count}, not {pin}")]
    NoSuchPin {
        /// What was asked.
        query: String,
        /// The header.
        header: String,
        /// The pin number asked for.
        pin: u32,
        /// How many pins the header has.
        count: u32,
    },
    /// The header pin is power, ground or another non-GPIO signal.
    #[error(
        "`{query}`: pin {pin} is {name} ({role}), not a GPIO; GPIO pins of {header}: {gpio_pins}"
    )]
    NotGpio {
        /// What was asked.
        query: String,
        /// The header.
        header: String,
        /// The pin.
        pin: u32,
        /// Its name (`GND`, `3V3`).
        name: String,
        /// `power`, `ground` or `other`.
        role: String,
        /// The header's GPIO pin numbers.
        gpio_pins: String,
    },
    /// The board has several headers and the query did not say which.
    #[error("`{query}`: {board} has headers {headers}; say which, e.g. `{example}`")]
    WhichHeader {
        /// What was asked.
        query: String,
        /// The board's name.
        board: String,
        /// Its headers.
        headers: String,
        /// A query naming a header.
        example: String,
    },
    /// A header name the board does not have (`P3-1`).
    #[error("`{query}`: {board} has no header `{header}`; its headers: {headers}")]
    NoSuchHeader {
        /// What was asked.
        query: String,
        /// The board's name.
        board: String,
        /// The header asked for.
        header: String,
        /// Its headers.
        headers: String,
    },
    /// A GPIO number outside the board's numbering.
    #[error("`{query}`: {number} is not a GPIO number of {board}; {valid}")]
    NoSuchNumber {
        /// What was asked.
        query: String,
        /// The number.
        number: u32,
        /// The board's name.
        board: String,
        /// The valid numbers, or why there are none.
        valid: String,
    },
    /// A name that fits several lines.
    #[error("`{query}` is ambiguous: it names {}; use chip:offset", candidates.join(", "))]
    Ambiguous {
        /// What was asked.
        query: String,
        /// The lines it could mean.
        candidates: Vec<String>,
    },
    /// The chip is not on this system.
    #[error(
        "{what}: chip `{chip}` is not present on this system; chips present: {}",
        present_list(present)
    )]
    ChipNotPresent {
        /// The located line, as words.
        what: String,
        /// The chip label or name asked for.
        chip: String,
        /// The chips this system has.
        present: Vec<String>,
    },
    /// Several chips carry the label (two gpio-sim chips with one label, say).
    #[error("chip label `{label}` is ambiguous on this system: {}; use gpiochipN:offset", chips.join(", "))]
    AmbiguousChip {
        /// The label.
        label: String,
        /// The chips with it.
        chips: Vec<String>,
    },
    /// The offset is not below the chip's line count.
    #[error("offset {offset} is out of range for chip `{chip}`: it has {lines} lines (0-{})", lines.saturating_sub(1))]
    OffsetOutOfRange {
        /// The chip.
        chip: String,
        /// The offset asked for.
        offset: u32,
        /// Its line count.
        lines: u32,
    },
}

fn suggest(nearest: &[String]) -> String {
    if nearest.is_empty() {
        String::new()
    } else {
        format!("; nearest names: {}", nearest.join(", "))
    }
}

fn present_list(present: &[String]) -> String {
    if present.is_empty() {
        "none".into()
    } else {
        present.join(", ")
    }
}

/// Resolves pin queries for one board, optionally against the chips of a system.
#[derive(Debug, Clone, Copy)]
pub struct Resolver<'a> {
    profile: &'a Profile,
    inventory: Option<&'a ChipInventory>,
    bare: BareNumber,
}

impl<'a> Resolver<'a> {
    /// A resolver for `profile`, without a system: [`Resolver::locate`] only.
    pub fn new(profile: &'a Profile) -> Resolver<'a> {
        Resolver {
            profile,
            inventory: None,
            bare: BareNumber::Physical,
        }
    }

    /// Binds locations to the chips of this inventory.
    pub fn with_inventory(mut self, inventory: &'a ChipInventory) -> Resolver<'a> {
        self.inventory = Some(inventory);
        self
    }

    /// How to read bare numbers (`11`): physical pin (the default) or GPIO number.
    pub fn bare_numbers(mut self, bare: BareNumber) -> Resolver<'a> {
        self.bare = bare;
        self
    }

    /// The profile.
    pub fn profile(&self) -> &'a Profile {
        self.profile
    }

    /// Where `query` points according to the profile (and the inventory's line names, if any).
    pub fn locate(&self, query: &str) -> Result<Location, ResolveError> {
        let p = self.profile;
        match parse(query, p, self.bare) {
            Query::Physical { header, pin } => {
                let h = self.header_for(query, header.as_deref(), pin)?;
                self.pin_location(query, h, pin)
            }
            Query::Number { number } => {
                let numbering = p.numbering.as_ref().ok_or_else(|| ResolveError::NoSuchNumber {
                    query: query.into(),
                    number,
                    board: p.name.clone(),
                    valid: "this board has no GPIO numbering; name the line as chip:offset or by its line name".into(),
                })?;
                let (chip, offset) =
                    numbering
                        .locate(number)
                        .ok_or_else(|| ResolveError::NoSuchNumber {
                            query: query.into(),
                            number,
                            board: p.name.clone(),
                            valid: format!("valid numbers are {}", numbering.describe_ranges()),
                        })?;
                Ok(self.label_location(chip.to_string(), offset, None))
            }
            Query::ChipOffset { chip, offset } => {
                if let Some(spec) = p.chip(&chip) {
                    if offset >= spec.lines {
                        return Err(ResolveError::OffsetOutOfRange {
                            chip,
                            offset,
                            lines: spec.lines,
                        });
                    }
                    return Ok(self.label_location(chip, offset, None));
                }
                // Not a chip of the profile: the system decides whether it is a label or a name.
                let by_label = self.inventory.is_some_and(|inv| {
                    !inv.by_label(&chip).is_empty() && inv.by_name(&chip).is_none()
                });
                if by_label {
                    Ok(self.label_location(chip, offset, None))
                } else {
                    Ok(Location {
                        chip: ChipRef::Name(chip),
                        offset,
                        pin: None,
                        name: None,
                        board_number: None,
                    })
                }
            }
            Query::Name(name) => self.locate_name(query, &name),
        }
    }

    /// Locates `query` and binds it to a chip of the inventory: character device, sysfs number.
    /// Without an inventory every chip counts as absent.
    pub fn resolve(&self, query: &str) -> Result<Resolution, ResolveError> {
        let location = self.locate(query)?;
        self.bind(location)
    }

    /// Binds a location to the inventory's chip (by label, or by name for `gpiochipN:offset`).
    pub fn bind(&self, mut location: Location) -> Result<Resolution, ResolveError> {
        let empty = ChipInventory::default();
        let inv = self.inventory.unwrap_or(&empty);
        let chip = match &location.chip {
            ChipRef::Label(label) => match inv.by_label(label).as_slice() {
                [one] => (*one).clone(),
                [] => {
                    return Err(ResolveError::ChipNotPresent {
                        what: describe_location(&location),
                        chip: label.clone(),
                        present: inv.describe(),
                    })
                }
                many => {
                    return Err(ResolveError::AmbiguousChip {
                        label: label.clone(),
                        chips: many.iter().map(|c| c.name.clone()).collect(),
                    })
                }
            },
            ChipRef::Name(name) => {
                inv.by_name(name)
                    .cloned()
                    .ok_or_else(|| ResolveError::ChipNotPresent {
                        what: describe_location(&location),
                        chip: name.clone(),
                        present: inv.describe(),
                    })?
            }
        };
        let lines = chip.num_lines.or_else(|| {
            chip.label
                .as_deref()
                .and_then(|l| self.profile.chip(l))
                .map(|s| s.lines)
        });
        if let Some(lines) = lines {
            if location.offset >= lines {
                return Err(ResolveError::OffsetOutOfRange {
                    chip: chip.describe(),
                    offset: location.offset,
                    lines,
                });
            }
        }
        // `gpiochip0:17`: now that the label is known, say which header pin it is; from here
        // on the chip is named by label, as every location bound to it is.
        if let (ChipRef::Name(_), Some(label)) = (&location.chip, &chip.label) {
            location = self.label_location(label.clone(), location.offset, location.name.clone());
        }
        if location.name.is_none() {
            location.name = chip
                .line_names
                .get(location.offset as usize)
                .cloned()
                .flatten();
        }
        Ok(Resolution { location, chip })
    }

    /// The header meant by a physical-pin query.
    fn header_for(
        &self,
        query: &str,
        named: Option<&str>,
        pin: u32,
    ) -> Result<&'a Header, ResolveError> {
        let p = self.profile;
        let headers = || {
            p.headers
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(n) = named {
            return p.header(n).ok_or_else(|| ResolveError::NoSuchHeader {
                query: query.into(),
                board: p.name.clone(),
                header: n.into(),
                headers: headers(),
            });
        }
        default_header(p).ok_or_else(|| {
            if p.headers.is_empty() {
                ResolveError::UnknownPin {
                    query: query.into(),
                    board: p.name.clone(),
                    nearest: Vec::new(),
                    forms: format!(
                        "{} has no header map: use chip:offset (`gpiochip0:17`) or a line name",
                        p.name
                    ),
                }
            } else {
                ResolveError::WhichHeader {
                    query: query.into(),
                    board: p.name.clone(),
                    headers: headers(),
                    example: format!("{}-{pin}", p.headers[0].name),
                }
            }
        })
    }

    fn pin_location(&self, query: &str, h: &Header, number: u32) -> Result<Location, ResolveError> {
        let pin = h.pin(number).ok_or_else(|| ResolveError::NoSuchPin {
            query: query.into(),
            header: h.name.clone(),
            pin: number,
            count: h.pins.len() as u32,
        })?;
        match &pin.role {
            PinRole::Gpio { chip, line } => Ok(Location {
                chip: ChipRef::Label(chip.clone()),
                offset: *line,
                pin: Some(PinRef {
                    header: h.name.clone(),
                    number,
                }),
                name: Some(pin.name.clone()),
                board_number: self
                    .profile
                    .numbering
                    .as_ref()
                    .and_then(|n| n.number_of(chip, *line)),
            }),
            _ => Err(not_gpio(query, h, pin)),
        }
    }

    /// A location on a labelled chip, with the header pin filled in when one carries the line.
    fn label_location(&self, chip: String, offset: u32, name: Option<String>) -> Location {
        let p = self.profile;
        let on_header = p.headers.iter().find_map(|h| {
            h.pins
                .iter()
                .find(|pin| pin.gpio() == Some((chip.as_str(), offset)))
                .map(|pin| (h, pin))
        });
        Location {
            board_number: p
                .numbering
                .as_ref()
                .and_then(|n| n.number_of(&chip, offset)),
            pin: on_header.map(|(h, pin)| PinRef {
                header: h.name.clone(),
                number: pin.number,
            }),
            name: name.or_else(|| on_header.map(|(_, pin)| pin.name.clone())),
            chip: ChipRef::Label(chip),
            offset,
        }
    }

    fn locate_name(&self, query: &str, name: &str) -> Result<Location, ResolveError> {
        // 1. Line names the system reports (exact, then case-insensitive).
        if let Some(inv) = self.inventory {
            for exact in [true, false] {
                let hits: Vec<(&Chip, u32)> = inv
                    .chips()
                    .iter()
                    .flat_map(|c| {
                        c.line_names.iter().enumerate().filter_map(move |(i, n)| {
                            let n = n.as_deref()?;
                            let hit = if exact {
                                n == name
                            } else {
                                n.eq_ignore_ascii_case(name)
                            };
                            hit.then_some((c, i as u32))
                        })
                    })
                    .collect();
                match hits.as_slice() {
                    [] => {}
                    [(chip, offset)] => {
                        let loc = match &chip.label {
                            Some(l) => {
                                self.label_location(l.clone(), *offset, Some(name.to_string()))
                            }
                            None => Location {
                                chip: ChipRef::Name(chip.name.clone()),
                                offset: *offset,
                                pin: None,
                                name: Some(name.to_string()),
                                board_number: None,
                            },
                        };
                        return Ok(loc);
                    }
                    many => {
                        return Err(ResolveError::Ambiguous {
                            query: query.into(),
                            candidates: many
                                .iter()
                                .map(|(c, o)| format!("{}:{o}", c.name))
                                .collect(),
                        })
                    }
                }
            }
        }
        // 2. The profile's pin names, 3. its function names.
        let pins: Vec<(&Header, &Pin)> = self
            .profile
            .headers
            .iter()
            .flat_map(|h| h.pins.iter().map(move |p| (h, p)))
            .collect();
        let by_name: Vec<_> = pins
            .iter()
            .filter(|(_, p)| p.name.eq_ignore_ascii_case(name))
            .collect();
        let by_function: Vec<_> = pins
            .iter()
            .filter(|(_, p)| p.functions.iter().any(|f| same_function(f, name)))
            .collect();
        for hits in [by_name, by_function] {
            match hits.as_slice() {
                [] => {}
                [(h, pin)] => return self.pin_location(query, h, pin.number),
                many => {
                    if let Some((h, pin)) = many.iter().find(|(_, p)| p.gpio().is_none()) {
                        if many.iter().all(|(_, p)| p.gpio().is_none()) {
                            return Err(not_gpio(query, h, pin));
                        }
                    }
                    return Err(ResolveError::Ambiguous {
                        query: query.into(),
                        candidates: many
                            .iter()
                            .map(|(h, p)| format!("pin {}-{} ({})", h.name, p.number, p.name))
                            .collect(),
                    });
                }
            }
        }
        Err(self.unknown(query, name))
    }

    fn unknown(&self, query: &str, name: &str) -> ResolveError {
        let p = self.profile;
        let mut names: Vec<String> = Vec::new();
        for h in &p.headers {
            for pin in &h.pins {
                names.push(pin.name.clone());
                names.extend(pin.functions.iter().cloned());
            }
        }
        if let Some(inv) = self.inventory {
            for c in inv.chips() {
                names.extend(c.line_names.iter().flatten().cloned());
            }
        }
        names.sort();
        names.dedup();
        let wanted = fold(name);
        let mut scored: Vec<(usize, String)> = names
            .into_iter()
            .map(|n| (strsim::levenshtein(&fold(&n), &wanted), n))
            .filter(|(d, n)| *d <= (n.len() / 3).max(2))
            .collect();
        scored.sort();
        ResolveError::UnknownPin {
            query: query.into(),
            board: p.name.clone(),
            nearest: scored.into_iter().take(4).map(|(_, n)| n).collect(),
            forms: forms(p),
        }
    }
}

/// The default header for bare pin numbers: the only one, or the first when the others are
/// smaller (the Pi 1's P1 over its 8-pin P5). None when it is a real choice (P8 and P9).
pub fn default_header(p: &Profile) -> Option<&Header> {
    let first = p.headers.first()?;
    p.headers[1..]
        .iter()
        .all(|h| h.pins.len() < first.pins.len())
        .then_some(first)
}

fn not_gpio(query: &str, h: &Header, pin: &Pin) -> ResolveError {
    ResolveError::NotGpio {
        query: query.into(),
        header: h.name.clone(),
        pin: pin.number,
        name: pin.name.clone(),
        role: pin.role_word().into(),
        gpio_pins: h
            .pins
            .iter()
            .filter(|p| p.gpio().is_some())
            .map(|p| p.number.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn describe_location(l: &Location) -> String {
    let at = format!("line {} of chip `{}`", l.offset, l.chip);
    match (&l.pin, &l.name) {
        (Some(p), Some(n)) => format!("pin {p} ({n}) is {at}, but that"),
        (Some(p), None) => format!("pin {p} is {at}, but that"),
        _ => format!("{}:{}", l.chip, l.offset),
    }
}

/// `I2C1 SDA` == `i2c1_sda` == `I2C1SDA`.
fn same_function(f: &str, name: &str) -> bool {
    fold(f) == fold(name)
}

fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The query forms this board accepts, with examples from its own data.
fn forms(p: &Profile) -> String {
    let mut forms = Vec::new();
    // Pin 11 is a GPIO on every 40-pin header; otherwise the first GPIO pin.
    let example_pin = p
        .gpio_pins()
        .find(|(_, pin)| pin.number == 11)
        .or_else(|| p.gpio_pins().next());
    if let Some((h, pin)) = example_pin {
        let mut f = format!(
            "a header pin (`pin {n}`, `{h}-{n}`",
            n = pin.number,
            h = h.name
        );
        if default_header(p).is_some() {
            f.push_str(&format!(", `{}` by default", pin.number));
        }
        f.push(')');
        forms.push(f);
    }
    if let Some(n) = &p.numbering {
        if let Some((_, pin)) = example_pin {
            if let Some((chip, line)) = pin.gpio() {
                if let Some(num) = n.number_of(chip, line) {
                    let ex: Vec<String> = n
                        .prefixes
                        .iter()
                        .map(|pre| format!("`{pre}{num}`"))
                        .collect();
                    forms.push(format!("a GPIO number ({})", ex.join(", ")));
                }
            }
        }
    }
    forms.push("a pin, line or function name (`GPIO17`, `I2C1 SDA`)".into());
    let label = p.chips.first().map(|c| c.label.as_str()).unwrap_or("LABEL");
    forms.push(format!("chip:offset (`gpiochip0:17`, `{label}:17`)"));
    forms.join(", ")
}
