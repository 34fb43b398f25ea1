//! `io.hwkit1.Board` at `/io/hwkit1/board`: the board's header, and lines by board pin
//! (`pin11`, `GPIO17`, `J8-11`, a line name, `chip:offset`), read by the `boards` crate's
//! resolver as `hwkit gpio` reads them. hwkit's own interface beside io.gpiod1, which it
//! leaves as libgpiod defines it: a pin request is an ordinary io.gpiod1 request.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use boards::{detect_with_chips, Chip as BoardChip, ChipInventory, PinRole, Profile, Resolver};
use zbus::interface;
use zbus::message::Header;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::Connection;

use crate::caller;
use crate::chip_object::hold_lines;
use crate::daemon::Daemon;
use crate::error::Failure;
use crate::line_config::{parse_line_config, parse_request_config, DbusRequestConfig};
use crate::paths;

/// The object path of the board.
pub const PATH: &str = "/io/hwkit1/board";

/// One header pin as the `Pins` property lists it: header, number, name, role (`gpio`,
/// `power`, `ground`, `other`), and for a GPIO pin its chip's label, the io.gpiod1 object
/// of that chip (`/` when no such chip is present) and the line offset.
pub type PinEntry = (String, u32, String, String, String, OwnedObjectPath, u32);

/// The board object.
pub struct BoardObject {
    /// The chips served, to resolve against and request from.
    pub daemon: Arc<Daemon>,
    /// The profile given with `--board`, and the name it was given by; detected (from the
    /// device tree, else the chips) when `None`.
    pub forced: Option<(&'static Profile, String)>,
}

/// The board in use, how it was chosen, and the chips served when it was looked at.
struct Board {
    profile: &'static Profile,
    how: String,
    inventory: ChipInventory,
    chips: Vec<Arc<hw::Chip>>,
}

impl BoardObject {
    /// The profile and the chips as they are now (chips come and go; detection by chips
    /// follows them).
    fn board(&self) -> Board {
        let chips = self.daemon.chips_served();
        let inventory = inventory(&chips);
        let (profile, how) = match &self.forced {
            Some((profile, given)) => (
                *profile,
                format!("{} (given with --board {given})", profile.name),
            ),
            None => {
                let d = detect_with_chips(Path::new("/"), &inventory);
                (d.profile, d.message())
            }
        };
        Board {
            profile,
            how,
            inventory,
            chips,
        }
    }
}

/// The chips served, as the resolver's inventory: name, device, label, lines, line names.
fn inventory(chips: &[Arc<hw::Chip>]) -> ChipInventory {
    ChipInventory::new(
        chips
            .iter()
            .map(|c| {
                let info = c.info();
                let mut chip = BoardChip::named(info.name.clone());
                chip.dev_path = Some(c.path().to_owned());
                chip.label = Some(info.label.clone());
                chip.num_lines = Some(info.num_lines);
                // Unreadable names only cost the name lookups; pins still resolve.
                chip.line_names = c
                    .line_infos()
                    .map(|infos| {
                        infos
                            .into_iter()
                            .map(|l| Some(l.name).filter(|n| !n.is_empty()))
                            .collect()
                    })
                    .unwrap_or_default();
                chip
            })
            .collect(),
    )
}

/// Every header pin of `profile`, GPIO pins bound to the chips of `inventory`.
fn pin_entries(profile: &Profile, inventory: &ChipInventory) -> Vec<PinEntry> {
    let mut out = Vec::new();
    for header in &profile.headers {
        for pin in &header.pins {
            let (role, label, path, offset) = match &pin.role {
                PinRole::Gpio { chip, line } => {
                    let path = match inventory.by_label(chip).as_slice() {
                        [one] => paths::chip(&one.name),
                        _ => paths::none(),
                    };
                    ("gpio", chip.clone(), path, *line)
                }
                PinRole::Power => ("power", String::new(), paths::none(), 0),
                PinRole::Ground => ("ground", String::new(), paths::none(), 0),
                PinRole::Other => ("other", String::new(), paths::none(), 0),
            };
            out.push((
                header.name.clone(),
                pin.number,
                pin.name.clone(),
                role.to_owned(),
                label,
                path,
                offset,
            ));
        }
    }
    out
}

/// A pin spec resolved to a served chip: the chip's kernel name and the offset.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PinLine {
    spec: String,
    chip: String,
    offset: u32,
}

/// Resolves `specs`, all or nothing, refusing an empty list and the same line named twice.
fn resolve_pins(
    profile: &Profile,
    inventory: &ChipInventory,
    specs: &[String],
) -> Result<Vec<PinLine>, String> {
    if specs.is_empty() {
        return Err("no pins given: name at least one, e.g. 'pin11' or 'GPIO17'".into());
    }
    let resolver = Resolver::new(profile).with_inventory(inventory);
    let mut out: Vec<PinLine> = Vec::with_capacity(specs.len());
    for spec in specs {
        let r = resolver
            .resolve(spec)
            .map_err(|e| format!("{e} (board {})", profile.name))?;
        let line = PinLine {
            spec: spec.clone(),
            chip: r.chip_name().to_owned(),
            offset: r.offset(),
        };
        if let Some(first) = out
            .iter()
            .find(|l| l.chip == line.chip && l.offset == line.offset)
        {
            return Err(format!(
                "'{}' and '{}' are the same line ({} offset {}): name each line once",
                first.spec, line.spec, line.chip, line.offset
            ));
        }
        out.push(line);
    }
    Ok(out)
}

/// The chip every line is on; an error naming two pins on different chips otherwise.
fn one_chip(lines: &[PinLine]) -> Result<String, String> {
    let first = lines.first().ok_or("no pins given")?;
    match lines.iter().find(|l| l.chip != first.chip) {
        None => Ok(first.chip.clone()),
        Some(other) => Err(format!(
            "'{}' is on {} and '{}' on {}: one request holds lines of one chip; request each \
             chip's pins separately",
            first.spec, first.chip, other.spec, other.chip
        )),
    }
}

#[interface(name = "io.hwkit1.Board")]
impl BoardObject {
    /// The board's name, e.g. `Raspberry Pi 4 Model B` (`Generic` when none is recognised).
    #[zbus(property)]
    fn name(&self) -> String {
        self.board().profile.name.clone()
    }

    /// The profile's identifier, e.g. `rpi-4b`, as `--board` takes it.
    #[zbus(property)]
    fn id(&self) -> String {
        self.board().profile.id.clone()
    }

    /// How the board was chosen: `--board`, the device tree, or a guess from the chips.
    #[zbus(property)]
    fn detected_by(&self) -> String {
        self.board().how
    }

    /// Every header pin: (header, number, name, role, chip label, chip object, offset).
    #[zbus(property)]
    fn pins(&self) -> Vec<PinEntry> {
        let b = self.board();
        pin_entries(b.profile, &b.inventory)
    }

    /// The io.gpiod1 chip object and line offset of each pin, in order.
    fn resolve_pins(&self, pins: Vec<String>) -> Result<Vec<(OwnedObjectPath, u32)>, Failure> {
        let b = self.board();
        let lines = resolve_pins(b.profile, &b.inventory, &pins).map_err(Failure::invalid_args)?;
        Ok(lines
            .into_iter()
            .map(|l| (paths::chip(&l.chip), l.offset))
            .collect())
    }

    /// Requests the lines of `pins` (all on one chip) with the same settings (io.gpiod1's
    /// keys), output values in pin order, and request config (`consumer`, ...), as
    /// `io.gpiod1.Chip.RequestLines` does; the io.gpiod1 request object, the caller's.
    async fn request_pins(
        &self,
        pins: Vec<String>,
        settings: HashMap<String, OwnedValue>,
        output_values: Vec<i32>,
        request_config: DbusRequestConfig,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<OwnedObjectPath, Failure> {
        let b = self.board();
        let lines = resolve_pins(b.profile, &b.inventory, &pins).map_err(Failure::invalid_args)?;
        let chip_name = one_chip(&lines).map_err(Failure::invalid_args)?;
        let offsets: Vec<u32> = lines.iter().map(|l| l.offset).collect();
        let line_config = (vec![(offsets, settings)], output_values);
        let parsed = parse_line_config(&line_config).map_err(Failure::invalid_args)?;
        let options = parse_request_config(&request_config).map_err(Failure::invalid_args)?;
        // The inventory resolved against was made of these chips, so the chip is among them.
        let chip = b
            .chips
            .iter()
            .find(|c| c.info().name == chip_name)
            .ok_or_else(|| Failure::invalid_args(format!("{chip_name} is not served")))?;
        let owner = caller::uid(connection, &header).await?;
        hold_lines(
            connection,
            &self.daemon.registry,
            chip,
            &parsed,
            &options,
            owner,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boards::find_profile;

    /// A Pi 4's GPIO chip as gpio-sim makes one (`gpiochip3`, unnamed lines) and another chip.
    fn chips() -> ChipInventory {
        let mut pi = BoardChip::named("gpiochip3");
        pi.label = Some("pinctrl-bcm2711".into());
        pi.num_lines = Some(58);
        pi.dev_path = Some("/dev/gpiochip3".into());
        let mut other = BoardChip::named("gpiochip4");
        other.label = Some("leds".into());
        other.num_lines = Some(3);
        other.dev_path = Some("/dev/gpiochip4".into());
        other.line_names = vec![Some("RED".into()), Some("GREEN".into()), None];
        ChipInventory::new(vec![pi, other])
    }

    fn specs(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pins_and_gpio_names_meet_on_one_line() {
        let pi4 = find_profile("pi4").unwrap();
        let lines = resolve_pins(pi4, &chips(), &specs(&["pin11", "GPIO27", "J8-12"])).unwrap();
        let got: Vec<(&str, u32)> = lines.iter().map(|l| (l.chip.as_str(), l.offset)).collect();
        assert_eq!(
            got,
            [("gpiochip3", 17), ("gpiochip3", 27), ("gpiochip3", 18)]
        );
        let red = resolve_pins(pi4, &chips(), &specs(&["GREEN"])).unwrap();
        assert_eq!((red[0].chip.as_str(), red[0].offset), ("gpiochip4", 1));
    }

    #[test]
    fn pins_that_are_no_line_are_refused_saying_why() {
        let pi4 = find_profile("pi4").unwrap();
        let e = resolve_pins(pi4, &chips(), &specs(&["pin6"])).unwrap_err();
        assert!(
            e.contains("pin 6 is GND (ground), not a GPIO") && e.contains("GPIO pins of J8"),
            "{e}"
        );
        let e = resolve_pins(pi4, &chips(), &specs(&["pin1"])).unwrap_err();
        assert!(e.contains("(power), not a GPIO"), "{e}");
        let e = resolve_pins(pi4, &chips(), &specs(&["pin99"])).unwrap_err();
        assert!(e.contains("has pins 1-40, not 99"), "{e}");
        let e = resolve_pins(pi4, &chips(), &specs(&["frobnicate"])).unwrap_err();
        assert!(e.contains("unknown pin `frobnicate`"), "{e}");
        let e = resolve_pins(pi4, &chips(), &specs(&["pin11", "GPIO17"])).unwrap_err();
        assert!(
            e.contains("'pin11' and 'GPIO17' are the same line (gpiochip3 offset 17)"),
            "{e}"
        );
        let both = resolve_pins(pi4, &chips(), &specs(&["pin11", "RED"])).unwrap();
        let e = one_chip(&both).unwrap_err();
        assert_eq!(
            e,
            "'pin11' is on gpiochip3 and 'RED' on gpiochip4: one request holds lines of one \
             chip; request each chip's pins separately"
        );
        assert_eq!(one_chip(&both[..1]).unwrap(), "gpiochip3");
        let e = resolve_pins(pi4, &chips(), &[]).unwrap_err();
        assert!(e.contains("no pins given"), "{e}");
        // The board's chip missing: said, with the chips there are.
        let e = resolve_pins(pi4, &ChipInventory::default(), &specs(&["pin11"])).unwrap_err();
        assert!(e.contains("not present on this system"), "{e}");
    }

    #[test]
    fn the_header_lists_every_pin_with_its_line() {
        let pi4 = find_profile("pi4").unwrap();
        let pins = pin_entries(pi4, &chips());
        assert_eq!(pins.len(), 40);
        let p11 = &pins[10];
        assert_eq!(
            (
                p11.0.as_str(),
                p11.1,
                p11.2.as_str(),
                p11.3.as_str(),
                p11.4.as_str()
            ),
            ("J8", 11, "GPIO17", "gpio", "pinctrl-bcm2711")
        );
        assert_eq!((p11.5.as_str(), p11.6), ("/io/gpiod1/chips/gpiochip3", 17));
        let p6 = &pins[5];
        assert_eq!((p6.3.as_str(), p6.5.as_str()), ("ground", "/"));
        assert_eq!(pins[0].3, "power");
        // No chip of that label: the pin is listed, with no chip object.
        let none = pin_entries(pi4, &ChipInventory::default());
        assert_eq!(none[10].5.as_str(), "/");
    }
}
