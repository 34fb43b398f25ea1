//! `hwkit gpio`: chips, line info, get, set, monitor and find, in the manner of libgpiod v2's
//! tools, over the `hw` crate's character-device backends.
//!
//! A LINE is a header pin (`pin11`, `P1-11`, `J8:11`), a board GPIO number (`GPIO17`,
//! `BCM17`), a line name or `chip:offset` (`pinctrl-bcm2711:17`, `gpiochip0:17`), read through
//! the board profile of `--board` or the detected one; with `--chip`, an offset or a line name
//! of that chip. A CHIP is a path, a name (`gpiochip0`), a number or a label.
//! `--backend libgpiod` (or `libgpiod-v1`, `libgpiod-v2`) requests lines through the libgpiod
//! C library instead of hw's own character-device code.

mod backend;
mod detect;
mod find;
mod get;
mod info;
mod interactive;
mod lines;
mod mon;
mod notify;
mod output;
mod period;
mod request;
mod set;

use std::path::Path;

use clap::{Args, Subcommand};
use hw::Uapi;

use crate::CmdResult;
use backend::BackendChoice;
use lines::{LineResolver, Lookup};
use period::seconds;
use request::check_interface;
use set::parse_assignment;

/// Arguments of `hwkit gpio`.
#[derive(Args)]
pub struct GpioArgs {
    /// Force a GPIO uAPI version, v1 or v2 (default: v2 where the kernel has it), or request
    /// lines through libgpiod: libgpiod (2.x where installed, else 1.x), libgpiod-v1 or
    /// libgpiod-v2.
    #[arg(
        long,
        global = true,
        value_name = "v1|v2|libgpiod|libgpiod-v1|libgpiod-v2"
    )]
    pub backend: Option<BackendChoice>,

    /// Board profile for header pin names (`pin11`, `J8:11`, `BCM17`): an id or alias such as
    /// `pi4` (`hwkit pinout --list-boards`); default: detected from /proc/device-tree.
    #[arg(long, global = true, value_name = "NAME")]
    board: Option<String>,

    #[command(subcommand)]
    command: GpioCommand,
}

#[derive(Subcommand)]
enum GpioCommand {
    /// List the GPIO chips: name, label, number of lines.
    Detect(detect::DetectArgs),
    /// Show line info: of all chips, of one chip, or of some lines.
    Info(info::InfoArgs),
    /// Read line values.
    Get(get::GetArgs),
    /// Drive lines, holding them until Ctrl-C or for --hold seconds.
    Set(set::SetArgs),
    /// Print edge events as they happen.
    Mon(mon::MonArgs),
    /// Print changes to lines' info (requested, released, reconfigured) without requesting
    /// them.
    Notify(notify::NotifyArgs),
    /// Find a line by name: prints its chip and offset.
    Find(find::FindArgs),
}
/// What the line commands share: the forced uAPI and the board profile for LINE arguments.
pub(crate) struct Ctx {
    pub uapi: Option<Uapi>,
    pub backend: Option<BackendChoice>,
    board: Option<String>,
}

impl Ctx {
    /// How LINE arguments are read with these options (`--chip`, `--board`, or detection).
    pub fn resolver(
        &self,
        chip: Option<&str>,
        lookup: Lookup,
    ) -> Result<LineResolver, Box<dyn std::error::Error>> {
        LineResolver::new(
            chip,
            self.board.as_deref(),
            Path::new("/"),
            self.uapi,
            lookup,
        )
    }
}

/// Runs `hwkit gpio`.
pub fn run(args: GpioArgs) -> CmdResult {
    let ctx = Ctx {
        uapi: args.backend.and_then(BackendChoice::uapi),
        backend: args.backend,
        board: args.board,
    };
    match args.command {
        GpioCommand::Detect(a) => detect::run(a, ctx.uapi),
        GpioCommand::Info(a) => info::run(a, &ctx),
        GpioCommand::Get(a) => get::run(a, &ctx),
        GpioCommand::Set(a) => set::run(a, &ctx),
        GpioCommand::Mon(a) => mon::run(a, &ctx),
        GpioCommand::Notify(a) => notify::run(a, &ctx),
        GpioCommand::Find(a) => find::run(a, ctx.uapi),
    }
}

/// Everything `run` checks before it requests a line, against the system captured under
/// `root`, with no chip opened by a name or path from the arguments: `--chip`'s lines are
/// only read as offsets or names, the other lines resolved through the board profile and
/// `root`'s chips; values, `--hold`, `--timeout`, `--edge` and the interface checked.
pub(crate) fn check(args: &GpioArgs, root: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let lines = |chip: Option<&str>,
                 lines: &[String],
                 lookup: Lookup|
     -> Result<(), Box<dyn std::error::Error>> {
        match chip {
            Some(_) => {
                if let Some(b) = &args.board {
                    boards::find_profile(b)?;
                }
                Ok(())
            }
            None => LineResolver::Board(
                lines::BoardLines::load(root, args.board.as_deref())?,
                lookup,
            )
            .resolve_all(lines)
            .map(drop),
        }
    };
    match &args.command {
        GpioCommand::Detect(_) | GpioCommand::Find(_) => Ok(()),
        GpioCommand::Info(a) => {
            let lookup = Lookup {
                strict: a.strict,
                by_name: a.by_name,
            };
            match &a.chip {
                Some(_) => Ok(()),
                // The first argument may be a chip (hwkit's `info CHIP [LINE]...`).
                None => lines(None, &a.args, lookup).or_else(|e| match a.args.get(1..) {
                    Some(rest) => lines(None, rest, lookup),
                    None => Err(e),
                }),
            }
        }
        GpioCommand::Get(a) => {
            check_interface(a.sysfs, args.backend)?;
            a.hold_period
                .as_deref()
                .map(period::parse_period)
                .transpose()?;
            lines(a.opts.chip.as_deref(), &a.lines, a.opts.lookup())
        }
        GpioCommand::Set(a) => {
            check_interface(a.sysfs, args.backend)?;
            let names = a
                .values
                .iter()
                .map(|s| parse_assignment(s).map(|(line, _)| line))
                .collect::<Result<Vec<_>, _>>()?;
            a.hold.map(|h| seconds("--hold", h)).transpose()?;
            set::periods(a)?;
            lines(a.opts.chip.as_deref(), &names, a.opts.lookup())
        }
        GpioCommand::Notify(a) => {
            notify::limits(a)?;
            let lookup = Lookup {
                strict: a.strict,
                by_name: a.by_name,
            };
            lines(a.chip.as_deref(), &a.lines, lookup)
        }
        GpioCommand::Mon(a) => {
            mon::limits(a)?;
            lines(a.opts.chip.as_deref(), &a.lines, a.opts.lookup())
        }
    }
}
