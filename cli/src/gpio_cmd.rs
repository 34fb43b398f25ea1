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
pub(crate) mod lines;
mod mon;
mod notify;
pub(crate) mod output;
pub(crate) mod period;
mod request;
pub(crate) mod set;
mod watch;

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
            let lookup = a.lookup;
            match &a.chip {
                Some(_) => Ok(()),
                // The first argument may be a chip (hwkit's `info CHIP [LINE]...`).
                None => lines(None, &a.args, lookup).or_else(|e| match a.args.split_first() {
                    Some((first, rest))
                        if lines::BoardLines::load(root, args.board.as_deref())?
                            .has_chip(first) =>
                    {
                        lines(None, rest, lookup)
                    }
                    _ => Err(e),
                }),
            }
        }
        GpioCommand::Get(a) => {
            check_interface(a.sysfs, args.backend)?;
            a.hold_period
                .as_deref()
                .map(period::parse_period)
                .transpose()?;
            lines(a.opts.chip.as_deref(), &a.lines, a.opts.lookup)
        }
        GpioCommand::Set(a) => {
            check_interface(a.sysfs, args.backend)?;
            set::check_persist(a, args.backend)?;
            let names = a
                .values
                .iter()
                .map(|s| parse_assignment(s).map(|(line, _)| line))
                .collect::<Result<Vec<_>, _>>()?;
            a.hold.map(|h| seconds("--hold", h)).transpose()?;
            set::periods(a)?;
            lines(a.opts.chip.as_deref(), &names, a.opts.lookup)
        }
        GpioCommand::Notify(a) => {
            notify::limits(a)?;
            let lookup = a.lookup;
            lines(a.chip.as_deref(), &a.lines, lookup)
        }
        GpioCommand::Mon(a) => {
            mon::limits(a)?;
            lines(a.opts.chip.as_deref(), &a.lines, a.opts.lookup)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::PathBuf;

    use crate::fuzzing::{check_argv, Checked};

    /// What `hwkit gpio ARGS` is told before it acts, against a captured Pi 4.
    fn refusal(args: &[&str]) -> String {
        let root =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../boards/tests/fixtures/rpi4-6.6");
        let argv: Vec<OsString> = std::iter::once("gpio")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        match check_argv(&argv, &root) {
            Checked::Refused(e) => e,
            Checked::Usage(u) => panic!("{args:?}: usage: {u}"),
            Checked::Accepted => panic!("{args:?} was accepted"),
        }
    }

    #[test]
    fn periods_and_limits_are_checked_before_anything_is_requested() {
        let e = refusal(&["get", "-c", "0", "-p", "5x", "1"]);
        assert!(
            e.starts_with("invalid period '5x': unknown unit 'x'"),
            "{e}"
        );
        let e = refusal(&["set", "-c", "0", "-t", "1s,soon", "1=1"]);
        assert!(e.starts_with("invalid period 'soon'"), "{e}");
        let e = refusal(&["set", "-c", "0", "--hold-period=-1", "1=1"]);
        assert!(e.starts_with("invalid period '-1'"), "{e}");
        let e = refusal(&["mon", "-c", "0", "-p", "2h", "1"]);
        assert!(e.starts_with("invalid period '2h'"), "{e}");
        let e = refusal(&["mon", "-c", "0", "-p", "5000s", "1"]);
        assert!(
            e.contains(
                "debounce period 5000000000us is too long: the kernel takes at most 4294967295us"
            ),
            "{e}"
        );
        let e = refusal(&["mon", "-c", "0", "--idle-timeout", "x", "1"]);
        assert!(e.starts_with("invalid period 'x'"), "{e}");
        let e = refusal(&["mon", "-c", "0", "-e", "none", "1"]);
        assert!(e.contains("--edges none would report nothing"), "{e}");
        let e = refusal(&["notify", "-c", "0", "--idle-timeout", "1.5s", "1"]);
        assert!(e.starts_with("invalid period '1.5s'"), "{e}");
        let e = refusal(&["notify", "-c", "0", "--timeout=-2", "1"]);
        assert!(e.contains("--timeout -2"), "{e}");
    }

    #[test]
    fn persist_is_the_daemons_request_and_takes_no_other_way() {
        let e = refusal(&["--backend", "v2", "set", "--persist", "pin11=1"]);
        assert!(
            e.contains("--persist and --backend v2") && e.contains("drop one of them"),
            "{e}"
        );
        let e = refusal(&["set", "--persist", "pin6=1"]);
        assert!(e.contains("pin 6 is GND"), "{e}");
        // What --persist cannot do is clap's to refuse.
        let argv: Vec<OsString> = ["gpio", "set", "--persist", "--hold", "1", "pin11=1"]
            .into_iter()
            .map(OsString::from)
            .collect();
        let root = PathBuf::from("/nonexistent");
        assert!(matches!(check_argv(&argv, &root), Checked::Usage(u) if u.contains("--hold")));
        let argv: Vec<OsString> = ["gpio", "set", "--bus-address", "unix:path=/x", "pin11=1"]
            .into_iter()
            .map(OsString::from)
            .collect();
        assert!(matches!(check_argv(&argv, &root), Checked::Usage(u) if u.contains("--persist")));
    }

    #[test]
    fn board_lines_are_checked_for_every_command() {
        for sub in ["get", "mon", "notify", "info"] {
            let e = refusal(&[sub, "pin6"]);
            assert!(e.contains("pin 6 is GND"), "{sub}: {e}");
        }
        let e = refusal(&["set", "pin6=1"]);
        assert!(e.contains("pin 6 is GND"), "{e}");
        let e = refusal(&["set", "pin11"]);
        assert!(e.contains("not LINE=VALUE"), "{e}");
        // `info CHIP LINE...`: a first argument that names a chip is one.
        let e = refusal(&["info", "gpiochip0", "pin6"]);
        assert!(e.contains("pin 6 is GND"), "{e}");
        let e = refusal(&["info", "pinctrl-bcm2711", "pin6"]);
        assert!(e.contains("pin 6 is GND"), "{e}");
    }
}
