//! `hwkit pinout`: the board's header as a picture, or what a pin name resolves to.
//!
//! The board comes from `--board` or from detection under `--root`; the chips from the same
//! root (`/dev`, `/sys`). On the board itself each line's direction and consumer come from the
//! character device's line-info ioctl (through `hw`), values from sysfs for exported lines.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use boards::{
    detect, find_profile, profiles, sysfs_line_states, BareNumber, ChipInfo, ChipInventory,
    Direction, LineState, LineStates, Pinout, Profile, Resolver,
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
}

/// Runs `hwkit pinout`.
pub fn run(args: PinoutArgs) -> CmdResult {
    match run_inner(args) {
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

fn run_inner(args: PinoutArgs) -> CmdResult {
    let mut stdout = std::io::stdout().lock();
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
    let (profile, title) = choose_profile(&args)?;
    let live = read_live_state(&args.root, &mut inventory);

    if !args.resolve.is_empty() {
        let bare = match args.numbers {
            Numbers::Physical => BareNumber::Physical,
            Numbers::Gpio => BareNumber::Gpio,
        };
        let resolver = Resolver::new(profile)
            .with_inventory(&inventory)
            .bare_numbers(bare);
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
        ColorChoice::Auto => std::io::stdout().is_terminal(),
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
) -> Result<(&'static Profile, String), Box<dyn std::error::Error>> {
    match &args.board {
        Some(name) => {
            let p = find_profile(name)?;
            Ok((p, format!("{} (chosen with --board {name})", p.name)))
        }
        None => {
            let d = detect(&args.root);
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

/// Fills line names and states from the character devices (line-info ioctl through `hw`), then
/// values of sysfs-exported lines. Devices that cannot be opened are named in the note.
fn read_live_state(root: &Path, inventory: &mut ChipInventory) -> LiveState {
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
                    value: None,
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
    let mut note = if read_any {
        "Line state: direction and consumer from the GPIO character device; values only for lines \
         exported through sysfs (reading others would mean requesting them)."
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
