//! LINE arguments of `hwkit gpio` to (chip, offset), as libgpiod 2's tools read them first:
//! without `--chip` every LINE is a line name, looked up on every chip in number order (chips
//! that cannot be opened, e.g. for EACCES, are skipped); with `--chip`, a whole number below
//! the chip's line count is an offset (unless `--by-name`), anything else a name on that chip;
//! `--strict` checks every line for a second one of the same name. What is not a line name
//! then gets hwkit's board forms through the `boards` crate's [`Resolver`]: header pins
//! (`pin11`, `P1-11`, `J8:11`), board numbers (`BCM17`, `GPIO17`) and `chip:offset`.
//!
//! Everything is resolved before any line is requested, so a bad argument fails the whole
//! command with nothing touched.

use std::cell::OnceCell;
use std::error::Error;
use std::path::{Path, PathBuf};

use boards::{
    detect_with_chips, find_profile, ChipInfo, ChipInventory, MatchedBy, Profile, ResolveError,
    Resolver,
};
use hw::{Chip, Uapi};

/// How LINE arguments are read: libgpiod's `--strict` and `--by-name`, the options of every
/// command that names lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::Args)]
pub struct Lookup {
    /// Search every line of the chips for each name and refuse a name two lines share
    /// (default: the first line of that name, in chip order).
    #[arg(long, short)]
    pub strict: bool,
    /// Read LINEs as names even where they are numbers (they are offsets only with --chip).
    #[arg(long)]
    pub by_name: bool,
}

/// One LINE argument bound to a chip and an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The argument as the user typed it (without `=VALUE`).
    pub arg: String,
    /// The chip's kernel name, `gpiochipN`.
    pub chip: String,
    /// Its character device.
    pub dev_path: PathBuf,
    /// The line's offset on it.
    pub offset: u32,
}

/// Targets of one chip, in the order the user named them, with their argument positions.
#[derive(Debug)]
pub struct ChipGroup<'a> {
    /// The chip's kernel name.
    pub chip: &'a str,
    /// Its character device.
    pub dev_path: &'a Path,
    /// `(position in the argument list, target)`.
    pub targets: Vec<(usize, &'a Target)>,
}

impl ChipGroup<'_> {
    /// The offsets, in request order.
    pub fn offsets(&self) -> Vec<u32> {
        self.targets.iter().map(|(_, t)| t.offset).collect()
    }
}

/// How LINE arguments are read: on the chip of `--chip`, or on every chip and through the
/// board profile.
pub enum LineResolver {
    /// `--chip` given: offsets and line names of that chip, as libgpiod's tools read them.
    OnChip {
        /// The chip.
        chip: Chip,
        /// Its line names by offset (empty: unnamed), read when a LINE is not an offset.
        names: OnceCell<Vec<String>>,
        /// `--strict`, `--by-name`.
        lookup: Lookup,
    },
    /// No `--chip`: line names on every chip, then every form the board profile knows.
    Board(BoardLines, Lookup),
}

impl LineResolver {
    /// The resolver for these options: `chip` from `--chip`, `board` from `--board`, the
    /// system under `root` (`/` outside tests).
    pub fn new(
        chip: Option<&str>,
        board: Option<&str>,
        root: &Path,
        uapi: Option<Uapi>,
        lookup: Lookup,
    ) -> Result<LineResolver, Box<dyn Error>> {
        match chip {
            Some(spec) => {
                if let Some(b) = board {
                    // Checked anyway, so a typo is not silently ignored.
                    find_profile(b)?;
                }
                Ok(LineResolver::OnChip {
                    chip: Chip::find_with(spec, uapi)?,
                    names: OnceCell::new(),
                    lookup,
                })
            }
            None => Ok(LineResolver::Board(BoardLines::load(root, board)?, lookup)),
        }
    }

    /// Resolves every argument, all or nothing; the same line named twice is refused.
    pub fn resolve_all(&self, args: &[String]) -> Result<Vec<Target>, Box<dyn Error>> {
        let mut targets: Vec<Target> = Vec::with_capacity(args.len());
        for arg in args {
            let t = self.resolve(arg)?;
            if let Some(first) = targets
                .iter()
                .find(|o| o.dev_path == t.dev_path && o.offset == t.offset)
            {
                return Err(format!(
                    "'{}' and '{}' are the same line ({} offset {}): name each line once",
                    first.arg, t.arg, t.chip, t.offset
                )
                .into());
            }
            targets.push(t);
        }
        Ok(targets)
    }

    /// Resolves one argument.
    pub fn resolve(&self, arg: &str) -> Result<Target, Box<dyn Error>> {
        match self {
            LineResolver::OnChip {
                chip,
                names,
                lookup,
            } => {
                let info = chip.info();
                let target = |offset| Target {
                    arg: arg.to_owned(),
                    chip: info.name.clone(),
                    dev_path: chip.path().to_owned(),
                    offset,
                };
                let as_offset = (!lookup.by_name).then(|| as_offset(arg)).flatten();
                if let Some(o) = as_offset.filter(|o| *o < info.num_lines) {
                    return Ok(target(o));
                }
                let names = match names.get() {
                    Some(n) => n,
                    None => {
                        let read = chip.line_infos()?.into_iter().map(|l| l.name).collect();
                        names.get_or_init(|| read)
                    }
                };
                let found = by_name(arg, lookup.strict, [(info.name.as_str(), names.as_slice())])?;
                match (found, as_offset) {
                    (Some((_, o)), _) => Ok(target(o)),
                    (None, Some(o)) => Err(format!(
                        "offset {o} is out of range on {}: it has {} lines (0-{})",
                        info.describe(),
                        info.num_lines,
                        info.num_lines.saturating_sub(1)
                    )
                    .into()),
                    (None, None) => Err(format!(
                        "cannot find line '{arg}' on {}: give one of its line names, or an \
                         offset (0-{})",
                        info.describe(),
                        info.num_lines.saturating_sub(1)
                    )
                    .into()),
                }
            }
            LineResolver::Board(b, lookup) => match b.by_name(arg, lookup.strict)? {
                Some(t) => Ok(t),
                None => b.resolve(arg),
            },
        }
    }
}

/// A LINE read as an offset, as libgpiod reads one: digits only, at most `i32::MAX`.
fn as_offset(arg: &str) -> Option<u32> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    arg.parse::<u32>().ok().filter(|o| *o <= i32::MAX as u32)
}

/// The first line named `name` on `chips` (in order) as `(chip index, offset)`; with
/// `strict`, a second line of that name anywhere is an error.
fn by_name<'a>(
    name: &str,
    strict: bool,
    chips: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Result<Option<(usize, u32)>, String> {
    let mut first: Option<(usize, &str, u32)> = None;
    for (i, (chip, names)) in chips.into_iter().enumerate() {
        for (o, n) in names.iter().enumerate() {
            // An unnamed line has no name to match (its empty one included).
            if n.is_empty() || n != name {
                continue;
            }
            let o = o as u32;
            match first {
                None if !strict => return Ok(Some((i, o))),
                None => first = Some((i, chip, o)),
                Some((_, c, o1)) => {
                    return Err(format!(
                        "line '{name}' is not unique: {c} offset {o1} and {chip} offset {o} \
                         both have that name (--strict); give --chip CHIP and an offset"
                    ))
                }
            }
        }
    }
    Ok(first.map(|(i, _, o)| (i, o)))
}

/// Groups targets by chip, chips in order of first mention.
pub fn group_by_chip(targets: &[Target]) -> Vec<ChipGroup<'_>> {
    let mut groups: Vec<ChipGroup<'_>> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        match groups.iter_mut().find(|g| g.dev_path == t.dev_path) {
            Some(g) => g.targets.push((i, t)),
            None => groups.push(ChipGroup {
                chip: &t.chip,
                dev_path: &t.dev_path,
                targets: vec![(i, t)],
            }),
        }
    }
    groups
}

/// `gpiochipN`'s N, for ordering chips as libgpiod does (`gpiochip10` after `gpiochip9`).
pub fn chip_number(name: &str) -> u64 {
    name.strip_prefix("gpiochip")
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// The board profile and the system's chips, for resolving pin names.
pub struct BoardLines {
    profile: &'static Profile,
    inventory: ChipInventory,
    /// Detection found no board: the generic profile is in use.
    unrecognised: bool,
    /// Chips whose line names could not be read (name lookups may miss them).
    unreadable: Vec<String>,
}

impl BoardLines {
    /// The profile named by `board`, or detected under `root`, and the chips under `root` with
    /// their line names (from the chip-info ioctl where the device can be opened).
    pub fn load(root: &Path, board: Option<&str>) -> Result<BoardLines, Box<dyn Error>> {
        let mut inventory = ChipInventory::from_root(root)?;
        let forced = board.map(find_profile).transpose()?;
        let mut unreadable = Vec::new();
        let chips: Vec<(String, PathBuf)> = inventory
            .chips()
            .iter()
            .filter_map(|c| c.dev_path.clone().map(|p| (c.name.clone(), p)))
            .collect();
        for (name, path) in chips {
            match Chip::open(&path).and_then(|c| Ok((c.line_infos()?, c))) {
                Ok((infos, chip)) => inventory.supplement(ChipInfo {
                    name,
                    label: chip.info().label.clone(),
                    num_lines: chip.info().num_lines,
                    line_names: infos.into_iter().map(|l| l.name).collect(),
                }),
                Err(e) => unreadable.push(format!("{}: {e}", path.display())),
            }
        }
        // Detection after the chips are known: without a device tree, their labels are the
        // evidence (a VM's simulated Pi 4 header chip, an x86 board).
        let (profile, unrecognised) = match forced {
            Some(p) => (p, false),
            None => {
                let d = detect_with_chips(root, &inventory);
                (d.profile, d.matched_by == MatchedBy::Fallback)
            }
        };
        Ok(BoardLines {
            profile,
            inventory,
            unrecognised,
            unreadable,
        })
    }

    /// The line named `arg` on the chips that could be read, in chip-number order, as
    /// libgpiod's tools find it (`strict`: a second line of the name is an error).
    pub fn by_name(&self, arg: &str, strict: bool) -> Result<Option<Target>, String> {
        let mut chips: Vec<(&boards::Chip, &Path, Vec<String>)> = self
            .inventory
            .chips()
            .iter()
            .filter_map(|c| {
                let names = c
                    .line_names
                    .iter()
                    .map(|n| n.clone().unwrap_or_default())
                    .collect();
                c.dev_path.as_deref().map(|p| (c, p, names))
            })
            .collect();
        chips.sort_by_key(|(c, _, _)| chip_number(&c.name));
        let found = by_name(
            arg,
            strict,
            chips
                .iter()
                .map(|(c, _, n)| (c.name.as_str(), n.as_slice())),
        )?;
        Ok(found.map(|(i, offset)| Target {
            arg: arg.to_owned(),
            chip: chips[i].0.name.clone(),
            dev_path: chips[i].1.to_owned(),
            offset,
        }))
    }

    /// Whether `spec` names one of the chips (`0`, `gpiochip0`, a path under /dev, a label).
    pub fn has_chip(&self, spec: &str) -> bool {
        let name = spec.rsplit('/').next().unwrap_or(spec);
        let numbered = format!("gpiochip{spec}");
        self.inventory.chips().iter().any(|c| {
            c.name == name
                || c.name == numbered
                || c.aliases.iter().any(|a| a == name)
                || c.label.as_deref() == Some(spec)
        })
    }

    /// Resolves one argument through the profile and the inventory.
    pub fn resolve(&self, arg: &str) -> Result<Target, Box<dyn Error>> {
        if let Some(o) = as_offset(arg) {
            return Err(format!(
                "line '{o}' is an offset, which needs a chip: give --chip CHIP, or name a \
                 header pin (pin{o}) or a GPIO (GPIO{o})"
            )
            .into());
        }
        let r = Resolver::new(self.profile)
            .with_inventory(&self.inventory)
            .resolve(arg)
            .map_err(|e| self.explain(e))?;
        let dev_path = r.dev_path().map(Path::to_owned).ok_or_else(|| {
            format!(
                "'{arg}' is line {} of {}, which has no character device under /dev",
                r.offset(),
                r.chip.describe()
            )
        })?;
        Ok(Target {
            arg: arg.to_owned(),
            chip: r.chip_name().to_owned(),
            dev_path,
            offset: r.offset(),
        })
    }

    /// The resolver's error, plus what would help: the undetected board, unreadable chips.
    fn explain(&self, e: ResolveError) -> String {
        let mut msg = e.to_string();
        let about_names = matches!(
            e,
            ResolveError::UnknownPin { .. } | ResolveError::WhichHeader { .. }
        );
        if about_names {
            if self.unrecognised {
                msg.push_str(
                    "; this board was not recognised, so header pins mean nothing here: choose \
                     a profile with --board NAME (`hwkit pinout --list-boards` lists them)",
                );
            }
            if !self.unreadable.is_empty() {
                msg.push_str(&format!(
                    " (line names not read from {})",
                    self.unreadable.join("; ")
                ));
            }
        }
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../boards/tests/fixtures")
            .join(name)
    }

    fn board(fixture_name: &str, board: Option<&str>) -> BoardLines {
        BoardLines::load(&fixture(fixture_name), board).unwrap()
    }

    fn err(b: &BoardLines, arg: &str) -> String {
        b.resolve(arg).unwrap_err().to_string()
    }

    #[test]
    fn header_pins_numbers_and_chip_offsets_meet_on_one_line() {
        let root = fixture("rpi4-6.6");
        let b = board("rpi4-6.6", None);
        for arg in [
            "pin11",
            "pin 11",
            "P1-11",
            "J8:11",
            "J8-11",
            "BCM17",
            "GPIO17",
            "gpio17",
            "pinctrl-bcm2711:17",
            "gpiochip0:17",
        ] {
            let t = b.resolve(arg).unwrap_or_else(|e| panic!("{arg}: {e}"));
            assert_eq!(
                (t.chip.as_str(), t.dev_path.clone(), t.offset),
                ("gpiochip0", root.join("dev/gpiochip0"), 17),
                "{arg}"
            );
            assert_eq!(t.arg, arg);
        }
        // The Pi 5 keeps its header on the RP1 chip whatever gpiochip number it has.
        let b = board("rpi5-gpiochip4", None);
        let t = b.resolve("pin13").unwrap();
        assert_eq!((t.chip.as_str(), t.offset), ("gpiochip4", 27));
    }

    #[test]
    fn a_forced_board_wins_over_detection() {
        // A Pi 3's tree read as a Pi 4: its chip is the wrong one for the profile.
        let b = board("rpi3-6.1", Some("pi4"));
        let e = err(&b, "pin11");
        assert!(
            e.contains("chip `pinctrl-bcm2711` is not present on this system"),
            "{e}"
        );
        let e = BoardLines::load(&fixture("rpi4-6.6"), Some("pi9"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unknown board `pi9`; known boards:"), "{e}");
    }

    #[test]
    fn power_pins_unknown_pins_and_bare_offsets_are_refused() {
        let b = board("rpi4-6.6", None);
        let e = err(&b, "pin6");
        assert!(e.contains("pin 6 is GND (ground), not a GPIO"), "{e}");
        let e = err(&b, "pin41");
        assert!(e.contains("header J8 has pins 1-40, not 41"), "{e}");
        let e = err(&b, "BCM99");
        assert!(e.contains("99 is not a GPIO number of"), "{e}");
        let e = err(&b, "NOSUCHLINE");
        assert!(e.contains("unknown pin `NOSUCHLINE`"), "{e}");
        // A captured tree has no device nodes: the message says whose line names are missing.
        assert!(
            e.contains(&format!(
                "line names not read from {}",
                fixture("rpi4-6.6").join("dev/gpiochip0").display()
            )),
            "{e}"
        );
        let e = err(&b, "17");
        assert!(
            e.contains("needs a chip: give --chip") && e.contains("pin17") && e.contains("GPIO17"),
            "{e}"
        );
        let e = err(&b, "gpiochip7:1");
        assert!(e.contains("chip `gpiochip7` is not present"), "{e}");
        let e = err(&b, "pinctrl-bcm2711:58");
        assert!(e.contains("offset 58 is out of range"), "{e}");
    }

    #[test]
    fn an_unknown_board_takes_chip_offsets_and_explains_pin_forms() {
        let b = board("unknown-x86", None);
        let e = err(&b, "pin11");
        assert!(e.contains("this board was not recognised"), "{e}");
        assert!(e.contains("--list-boards"), "{e}");
        let inv = ChipInventory::from_root(&fixture("unknown-x86")).unwrap();
        let chip = &inv.chips()[0];
        let t = b.resolve(&format!("{}:1", chip.name)).unwrap();
        assert_eq!((t.chip.as_str(), t.offset), (chip.name.as_str(), 1));
    }

    #[test]
    fn a_chip_without_a_character_device_is_named() {
        let mut chip = boards::Chip::named("gpiochip0");
        chip.label = Some("pinctrl-bcm2711".into());
        chip.num_lines = Some(58);
        chip.sysfs_base = Some(512);
        let b = BoardLines {
            profile: find_profile("pi4").unwrap(),
            inventory: ChipInventory::new(vec![chip]),
            unrecognised: false,
            unreadable: Vec::new(),
        };
        let e = err(&b, "pin11");
        assert!(
            e.contains("'pin11' is line 17 of gpiochip0 [pinctrl-bcm2711] (58 lines), which has no character device"),
            "{e}"
        );
    }

    #[test]
    fn a_mistyped_board_is_refused_even_with_a_chip() {
        let e = LineResolver::new(
            Some("gpiochip0"),
            Some("pi9"),
            Path::new("/"),
            None,
            Lookup::default(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(e.contains("unknown board `pi9`"), "{e}");
    }

    #[test]
    fn the_same_line_twice_is_refused_and_chips_are_grouped() {
        let r = LineResolver::Board(board("rpi4-6.6", None), Lookup::default());
        let e = r
            .resolve_all(&["pin11".into(), "GPIO17".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'pin11' and 'GPIO17' are the same line (gpiochip0 offset 17)"),
            "{e}"
        );
        let targets = r
            .resolve_all(&[
                "pin11".into(),
                "gpiochip1:2".into(),
                "BCM27".into(),
                "gpiochip1:0".into(),
            ])
            .unwrap();
        let groups = group_by_chip(&targets);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].chip, "gpiochip0");
        assert_eq!(groups[0].offsets(), [17, 27]);
        assert_eq!(
            groups[0]
                .targets
                .iter()
                .map(|(i, _)| *i)
                .collect::<Vec<_>>(),
            [0, 2]
        );
        assert_eq!(groups[1].chip, "gpiochip1");
        assert_eq!(groups[1].offsets(), [2, 0]);
    }

    #[test]
    fn names_are_found_as_libgpiod_finds_them() {
        let a: Vec<String> = ["", "LED", "BTN", "LED"].map(String::from).to_vec();
        let b: Vec<String> = ["BTN", "X"].map(String::from).to_vec();
        let chips = || [("gpiochip0", a.as_slice()), ("gpiochip1", b.as_slice())];
        // The first in chip order, then offset order.
        assert_eq!(by_name("BTN", false, chips()).unwrap(), Some((0, 2)));
        assert_eq!(by_name("X", false, chips()).unwrap(), Some((1, 1)));
        assert_eq!(by_name("Y", true, chips()).unwrap(), None);
        assert_eq!(by_name("X", true, chips()).unwrap(), Some((1, 1)));
        // --strict: a name two lines share is refused, on one chip or across chips.
        let e = by_name("LED", true, chips()).unwrap_err();
        assert!(
            e.starts_with("line 'LED' is not unique: gpiochip0 offset 1 and gpiochip0 offset 3"),
            "{e}"
        );
        let e = by_name("BTN", true, chips()).unwrap_err();
        assert!(
            e.contains("gpiochip0 offset 2 and gpiochip1 offset 0"),
            "{e}"
        );
        // Unnamed lines have no name, not an empty one.
        assert_eq!(by_name("", false, chips()).unwrap(), None);
    }

    #[test]
    fn offsets_are_whole_numbers_as_libgpiod_reads_them() {
        assert_eq!(as_offset("17"), Some(17));
        assert_eq!(as_offset("007"), Some(7));
        for bad in ["", "-1", "+1", "1.0", "0x1", " 1", "GPIO17", "2147483648"] {
            assert_eq!(as_offset(bad), None, "{bad}");
        }
        assert_eq!(chip_number("gpiochip10"), 10);
        assert!(chip_number("gpiochip9") < chip_number("gpiochip10"));
    }
}
