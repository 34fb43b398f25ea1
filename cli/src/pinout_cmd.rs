//! `hwkit pinout`: the board's header as a picture, or what a pin name resolves to.
//!
//! The board comes from `--board` or from detection under `--root`; the chips from the same
//! root (`/dev`, `/sys`). On the board itself each line's direction and consumer come from the
//! character device's line-info ioctl (through `hw`), values from sysfs for exported lines.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use boards::{
    detect_with_chips, find_profile, profiles, sysfs_line_states, BareNumber, ChipInfo,
    ChipInventory, Direction, LineState, LineStates, Pinout, Profile, Resolver,
};
use clap::{Args, ValueEnum};

use crate::CmdResult;

/// When to colour the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How bare numbers such as `11` are read by `--resolve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Numbers {
    /// As physical header pins (`11` = pin 11).
    Physical,
    /// As the board's GPIO numbers (`17` = GPIO17), like gpiozero.
    Gpio,
}

/// Arguments of `hwkit pinout`.
#[derive(Args, Debug)]
pub struct PinoutArgs {
    /// Board profile by id or alias (`pi4`, `rpi-5`, `bbb`); default: detect it under --root.
    #[arg(long, value_name = "NAME")]
    pub board: Option<String>,
    /// Root of the system to inspect (a captured tree for testing).
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub root: PathBuf,
    /// Colour the picture.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// Print what PIN resolves to (chip, device, offset, sysfs number) instead of the picture;
    /// PIN is `pin 11`, `J8-11`, `11`, `GPIO17`, `BCM17`, a line name or `chip:offset`.
    #[arg(long, value_name = "PIN")]
    pub resolve: Vec<String>,
    /// How --resolve reads a bare number.
    #[arg(long, value_enum, default_value = "physical")]
    pub numbers: Numbers,
    /// List the known boards and exit.
    #[arg(long)]
    pub list_boards: bool,
    /// Also show the values of lines nobody holds, by requesting them "as is" for a moment
    /// (direction and value untouched; a program requesting one at that instant gets EBUSY).
    #[arg(long)]
    pub values: bool,
}

/// Runs `hwkit pinout`.
pub fn run(args: PinoutArgs) -> CmdResult {
    let tty = std::io::stdout().is_terminal();
    match run_to(args, &mut std::io::stdout().lock(), tty) {
        // `hwkit pinout | head` closing the pipe early is not a failure.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        other => other,
    }
}

/// Everything `run` checks before it prints, against the system captured under `root`
/// (`--root` is not read, `--values` requests nothing): the board and each `--resolve` PIN.
pub(crate) fn check(args: &PinoutArgs, root: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if args.list_boards {
        return Ok(());
    }
    let inventory = ChipInventory::from_root(root)?;
    let args = PinoutArgs {
        root: root.to_owned(),
        board: args.board.clone(),
        resolve: args.resolve.clone(),
        ..*args
    };
    let (profile, _title) = choose_profile(&args, &inventory)?;
    let resolver = resolver(profile, &inventory, args.numbers);
    for query in &args.resolve {
        resolver.resolve(query)?;
    }
    Ok(())
}

/// The resolver `--resolve` uses: the profile, the chips, and how bare numbers read.
fn resolver<'a>(
    profile: &'a Profile,
    inventory: &'a ChipInventory,
    numbers: Numbers,
) -> Resolver<'a> {
    let bare = match numbers {
        Numbers::Physical => BareNumber::Physical,
        Numbers::Gpio => BareNumber::Gpio,
    };
    Resolver::new(profile)
        .with_inventory(inventory)
        .bare_numbers(bare)
}

/// Runs `hwkit pinout`, writing to `stdout`; `tty` says whether that is a terminal.
fn run_to(args: PinoutArgs, stdout: &mut dyn Write, tty: bool) -> CmdResult {
    if args.list_boards {
        for p in profiles() {
            writeln!(
                stdout,
                "{:<18} {:<28} {}",
                p.id,
                p.aliases.join(", "),
                p.name
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut inventory = ChipInventory::from_root(&args.root)?;
    let live = read_live_state(&args.root, &mut inventory, args.values);
    let (profile, title) = choose_profile(&args, &inventory)?;

    if !args.resolve.is_empty() {
        let resolver = resolver(profile, &inventory, args.numbers);
        for (i, query) in args.resolve.iter().enumerate() {
            let r = resolver.resolve(query)?;
            if i > 0 {
                writeln!(stdout)?;
            }
            writeln!(stdout, "{}", r.describe())?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => tty,
    };
    let present = profile
        .chips
        .iter()
        .any(|c| !inventory.by_label(&c.label).is_empty());
    let mut pinout = Pinout::new(profile).title(title);
    if present || profile.is_generic() {
        pinout = pinout.inventory(&inventory).states(&live.states);
    }
    write!(stdout, "{}", pinout.render(color))?;
    writeln!(stdout)?;
    if profile.is_generic() {
        // The generic picture already lists the chips.
    } else if !present {
        writeln!(
            stdout,
            "Static view: none of this board's GPIO chips ({}) is present under {}.",
            profile
                .chips
                .iter()
                .map(|c| c.label.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            args.root.display()
        )?;
    } else {
        writeln!(stdout, "{}", live.note)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn choose_profile(
    args: &PinoutArgs,
    inventory: &ChipInventory,
) -> Result<(&'static Profile, String), Box<dyn std::error::Error>> {
    match &args.board {
        Some(name) => {
            let p = find_profile(name)?;
            Ok((p, format!("{} (chosen with --board {name})", p.name)))
        }
        None => {
            let d = detect_with_chips(&args.root, inventory);
            let mut title = d.message();
            if let Some(model) = &d.info.model {
                title = format!("{model}\n{title}");
            }
            Ok((d.profile, title))
        }
    }
}

/// Line states and a sentence saying where they came from.
struct LiveState {
    states: LineStates,
    note: String,
}

/// Fills line names and states from the character devices (line-info ioctl through `hw`), the
/// values of unused lines when asked (`values`), then values of sysfs-exported lines. Devices
/// that cannot be opened are named in the note.
fn read_live_state(root: &Path, inventory: &mut ChipInventory, values: bool) -> LiveState {
    let mut states = LineStates::new();
    let mut unreadable = Vec::new();
    let mut read_any = false;
    let chips: Vec<(String, PathBuf)> = inventory
        .chips()
        .iter()
        .filter_map(|c| c.dev_path.clone().map(|p| (c.name.clone(), p)))
        .collect();
    for (name, path) in chips {
        let chip = match hw::Chip::open(&path) {
            Ok(c) => c,
            Err(e) => {
                unreadable.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let infos = match chip.line_infos() {
            Ok(i) => i,
            Err(e) => {
                unreadable.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        read_any = true;
        let info = chip.info();
        inventory.supplement(ChipInfo {
            name: name.clone(),
            label: info.label.clone(),
            num_lines: info.num_lines,
            line_names: infos.iter().map(|l| l.name.clone()).collect(),
        });
        let unused: Vec<u32> = infos.iter().filter(|l| !l.used).map(|l| l.offset).collect();
        let mut read = std::collections::HashMap::new();
        if values {
            match read_unused_values(&path, &unused) {
                Ok(v) => read = v,
                Err(e) => unreadable.push(format!("values of {}: {e}", path.display())),
            }
        }
        for l in infos {
            let direction = match l.direction {
                hw::Direction::Input => Some(Direction::Input),
                hw::Direction::Output => Some(Direction::Output),
                hw::Direction::AsIs => None,
            };
            states.insert(
                (name.clone(), l.offset),
                LineState {
                    direction,
                    value: read.get(&l.offset).copied(),
                    consumer: (!l.consumer.is_empty()).then(|| l.consumer.clone()),
                    used: l.used,
                },
            );
        }
    }
    for (key, sysfs) in sysfs_line_states(root, inventory) {
        let entry = states.entry(key).or_default();
        entry.value = sysfs.value;
        entry.direction = entry.direction.or(sysfs.direction);
        entry.used = true;
        if entry.consumer.is_none() {
            entry.consumer = sysfs.consumer;
        }
    }
    let mut note = if read_any && values {
        "Line state: direction, consumer and value from the GPIO character device (unused lines \
         read by a momentary as-is request)."
            .to_string()
    } else if read_any {
        "Line state: direction and consumer from the GPIO character device; values only for lines \
         exported through sysfs (--values reads the others by requesting them as-is for a moment)."
            .to_string()
    } else {
        "Line state: only lines exported through sysfs (the character devices could not be read)."
            .to_string()
    };
    if !unreadable.is_empty() {
        note.push_str(&format!("\nNot readable: {}", unreadable.join("; ")));
    }
    LiveState { states, note }
}

/// Values of lines nobody holds: requested "as is" (no direction change), read, released.
/// At most 64 lines per request (the uAPI's limit).
fn read_unused_values(
    path: &Path,
    offsets: &[u32],
) -> hw::Result<std::collections::HashMap<u32, bool>> {
    let mut out = std::collections::HashMap::new();
    for chunk in offsets.chunks(64) {
        let req = hw::Request::builder()
            .on_chip(path)
            .consumer("hwkit-pinout")
            .with_lines(chunk)
            .as_is()
            .request()?;
        for (offset, v) in chunk.iter().zip(req.values()?) {
            out.insert(*offset, v.is_active());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../boards/tests/fixtures")
            .join(name)
    }

    fn args(root: PathBuf) -> PinoutArgs {
        PinoutArgs {
            board: None,
            root,
            color: ColorChoice::Auto,
            resolve: Vec::new(),
            numbers: Numbers::Physical,
            list_boards: false,
            values: false,
        }
    }

    fn output(a: PinoutArgs, tty: bool) -> Result<String, String> {
        let mut out = Vec::new();
        run_to(a, &mut out, tty).map_err(|e| e.to_string())?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn resolve_prints_device_offset_and_sysfs_number() {
        let root = fixture("rpi5-gpiochip0");
        let a = PinoutArgs {
            resolve: vec!["pin 11".into(), "gpiochip4:18".into()],
            ..args(root.clone())
        };
        let out = output(a, false).unwrap();
        assert!(out.contains("pin J8-11 (GPIO17)"), "{out}");
        assert!(
            out.contains(&format!("device: {}", root.join("dev/gpiochip0").display())),
            "{out}"
        );
        assert!(out.contains("sysfs:  588 (base 571 + offset 17)"), "{out}");
        assert!(out.contains("pin J8-12 (GPIO18)"), "{out}");
        assert!(out.contains("sysfs:  589 (base 571 + offset 18)"), "{out}");
    }

    #[test]
    fn bare_numbers_follow_the_numbers_option() {
        let a = PinoutArgs {
            resolve: vec!["17".into()],
            numbers: Numbers::Gpio,
            ..args(fixture("rpi4-6.6"))
        };
        let out = output(a, false).unwrap();
        assert!(
            out.contains("pin J8-11 (GPIO17)") && out.contains("sysfs:  529"),
            "{out}"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let a = PinoutArgs {
            resolve: vec!["pin 6".into()],
            ..args(fixture("rpi4-6.6"))
        };
        assert!(output(a, false)
            .unwrap_err()
            .contains("pin 6 is GND (ground), not a GPIO"));
        let a = PinoutArgs {
            board: Some("pi9".into()),
            ..args(fixture("rpi4-6.6"))
        };
        assert!(output(a, false)
            .unwrap_err()
            .contains("unknown board `pi9`"));
        let err = output(args(PathBuf::from("/nonexistent/root")), false).unwrap_err();
        assert!(
            err.contains("/nonexistent/root is not a directory"),
            "{err}"
        );
    }

    #[test]
    fn picture_is_plain_unless_a_terminal_or_asked() {
        let root = fixture("rpi4-6.6");
        let plain = output(args(root.clone()), false).unwrap();
        assert!(!plain.contains('\x1b'));
        assert!(
            plain.starts_with(
                "Raspberry Pi 4 Model B Rev 1.5\nRaspberry Pi 4 Model B (detected from compatible"
            ),
            "{plain}"
        );
        let row = plain.lines().find(|l| l.contains("(11) (12)")).unwrap();
        assert!(row.starts_with("out 1 [sysfs]"), "{row}");
        assert!(
            plain.contains("Line state: only lines exported through sysfs"),
            "{plain}"
        );
        assert!(output(args(root.clone()), true).unwrap().contains('\x1b'));
        let never = PinoutArgs {
            color: ColorChoice::Never,
            ..args(root.clone())
        };
        assert!(!output(never, true).unwrap().contains('\x1b'));
        let always = PinoutArgs {
            color: ColorChoice::Always,
            ..args(root)
        };
        assert!(output(always, false).unwrap().contains('\x1b'));
    }

    #[test]
    fn a_board_whose_chips_are_absent_gets_the_static_view() {
        let a = PinoutArgs {
            board: Some("pi4".into()),
            ..args(fixture("bbb-5.10"))
        };
        let out = output(a, false).unwrap();
        assert!(out.contains("(chosen with --board pi4)"), "{out}");
        assert!(
            out.contains(
                "Static view: none of this board's GPIO chips (pinctrl-bcm2711) is present"
            ),
            "{out}"
        );
    }

    #[test]
    fn list_boards_names_every_profile() {
        let a = PinoutArgs {
            list_boards: true,
            ..args(PathBuf::from("/"))
        };
        let out = output(a, false).unwrap();
        for p in profiles() {
            assert!(out.contains(&p.id), "{} missing from {out}", p.id);
        }
    }
}
