//! `hwkit managed`: lines held by the GPIO daemon (`hwkitd`, or libgpiod's `gpio-manager`)
//! over D-Bus, in the manner of libgpiod's `gpiocli`: request lines, list the requests,
//! reconfigure, set, get and release them. The lines stay held, and outputs driven, after
//! `hwkit` exits.
//!
//! LINE arguments are read as `hwkit gpio` reads them (line names, header pins such as
//! `pin11`, board GPIO numbers, `chip:offset`, or offsets and names with `--chip`), on this
//! side, through the same resolver; the daemon is then asked by chip and offset through
//! `hw::managed`.

mod get;
mod held;
mod reconfigure;
mod release;
mod request;
mod requests;
mod set;
mod settings;

use std::error::Error;
use std::path::Path;

use clap::{Args, Subcommand};
use hw::managed::Client;

use crate::gpio_cmd::lines::{LineResolver, Lookup, Target};
use crate::CmdResult;

/// Arguments of `hwkit managed`.
#[derive(Args)]
#[command(after_help = "Examples:
  hwkit managed request --consumer relay pin11=1
  hwkit managed requests
  hwkit managed set pin11=0
  hwkit managed get pin11
  hwkit managed reconfigure request0 --direction input --bias pull-up
  hwkit managed release request0")]
pub struct ManagedArgs {
    /// The bus the daemon is on, e.g. unix:path=/run/my-bus (default: the system bus, or
    /// $DBUS_SYSTEM_BUS_ADDRESS).
    #[arg(long, global = true, value_name = "ADDRESS")]
    bus_address: Option<String>,

    /// Board profile for header pin names (`pin11`, `J8:11`, `BCM17`): an id or alias such as
    /// `pi4` (`hwkit pinout --list-boards`); default: detected from /proc/device-tree.
    #[arg(long, global = true, value_name = "NAME")]
    board: Option<String>,

    #[command(subcommand)]
    command: ManagedCommand,
}

#[derive(Subcommand)]
enum ManagedCommand {
    /// Ask the daemon to hold lines (inputs, or outputs at the values given); prints the
    /// request's name and returns.
    Request(request::RequestArgs),
    /// List the daemon's requests: chip, lines, consumer, direction, values.
    Requests(requests::RequestsArgs),
    /// Change the settings of a request's lines (all of them, or those named).
    Reconfigure(reconfigure::ReconfigureArgs),
    /// Drive lines the daemon holds.
    Set(set::SetArgs),
    /// Read lines the daemon holds.
    Get(get::GetArgs),
    /// Release requests, named or by one of their lines.
    Release(release::ReleaseArgs),
}

/// What the subcommands share: the bus and the board profile.
pub(crate) struct Ctx {
    bus_address: Option<String>,
    board: Option<String>,
}

impl Ctx {
    /// The daemon's bus.
    fn client(&self) -> Result<Client, hw::managed::Error> {
        connect(self.bus_address.as_deref())
    }

    /// How LINE arguments are read (`--chip`, `--board` or detection).
    fn resolver(&self, chip: Option<&str>, lookup: Lookup) -> Result<LineResolver, Box<dyn Error>> {
        LineResolver::new(chip, self.board.as_deref(), Path::new("/"), None, lookup)
    }
}

pub(crate) use request::hold;

/// Why `hwkit gpio` could not request lines that the daemon holds: a message naming the
/// request to release, if the daemon (on the system bus) holds one of `targets`; `None` if it
/// holds none of them or cannot be asked.
pub(crate) fn held_by_daemon(targets: &[&Target]) -> Option<String> {
    let client = Client::system().ok()?;
    targets.iter().find_map(|t| {
        let line = client.line(&t.chip, t.offset).ok()?;
        let request = line.request?;
        let name = request.rsplit('/').next().unwrap_or(&request).to_owned();
        Some(format!(
            "line '{}' ({} offset {}) is held by the GPIO daemon in {name} (consumer '{}'): \
             read it with `hwkit managed get {}`, or let it go with `hwkit managed release {name}`",
            t.arg, t.chip, t.offset, line.info.consumer, t.arg
        ))
    })
}

/// The bus at `address`, else the system bus.
pub(crate) fn connect(address: Option<&str>) -> Result<Client, hw::managed::Error> {
    match address {
        Some(a) => Client::at(a),
        None => Client::system(),
    }
}

/// Runs `hwkit managed`.
pub fn run(args: ManagedArgs) -> CmdResult {
    let ctx = Ctx {
        bus_address: args.bus_address,
        board: args.board,
    };
    match args.command {
        ManagedCommand::Request(a) => request::run(a, &ctx),
        ManagedCommand::Requests(a) => requests::run(a, &ctx),
        ManagedCommand::Reconfigure(a) => reconfigure::run(a, &ctx),
        ManagedCommand::Set(a) => set::run(a, &ctx),
        ManagedCommand::Get(a) => get::run(a, &ctx),
        ManagedCommand::Release(a) => release::run(a, &ctx),
    }
}

/// Everything `run` checks before it asks the daemon, against the system captured under
/// `root`, with no bus contacted: values and settings read, lines resolved through the board
/// profile when no `--chip` is given.
pub(crate) fn check(args: &ManagedArgs, root: &Path) -> Result<(), Box<dyn Error>> {
    let resolve =
        |chip: Option<&str>, lines: &[String], lookup: Lookup| -> Result<(), Box<dyn Error>> {
            if chip.is_none() {
                LineResolver::Board(
                    crate::gpio_cmd::lines::BoardLines::load(root, args.board.as_deref())?,
                    lookup,
                )
                .resolve_all(lines)?;
            }
            Ok(())
        };
    match &args.command {
        ManagedCommand::Request(a) => {
            let names = a.check()?;
            resolve(a.chip(), &names, a.lookup())
        }
        ManagedCommand::Set(a) => {
            let names = a.check()?;
            resolve(a.chip(), &names, a.lookup())
        }
        ManagedCommand::Get(a) => resolve(a.chip(), a.lines(), a.lookup()),
        ManagedCommand::Reconfigure(a) => {
            let names = a.check()?;
            resolve(a.chip(), &names, a.lookup())
        }
        ManagedCommand::Release(a) => {
            let lines: Vec<String> = a
                .what()
                .iter()
                .filter(|w| !held::is_request_name(w))
                .cloned()
                .collect();
            resolve(a.chip(), &lines, a.lookup())
        }
        ManagedCommand::Requests(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::PathBuf;

    use crate::fuzzing::{check_argv, Checked};

    /// What `hwkit managed ARGS` is told before it asks the daemon, against a captured Pi 4.
    fn checked(args: &[&str]) -> Checked {
        let root =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../boards/tests/fixtures/rpi4-6.6");
        let argv: Vec<OsString> = std::iter::once("managed")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        check_argv(&argv, &root)
    }

    fn refusal(args: &[&str]) -> String {
        match checked(args) {
            Checked::Refused(e) => e,
            Checked::Usage(u) => panic!("{args:?}: usage: {u}"),
            Checked::Accepted => panic!("{args:?} was accepted"),
        }
    }

    #[test]
    fn lines_values_and_settings_are_checked_before_the_daemon_is_asked() {
        let e = refusal(&["request", "pin6=1"]);
        assert!(e.contains("pin 6 is GND"), "{e}");
        let e = refusal(&["request", "-d", "input", "pin11=1"]);
        assert!(e.contains("an input takes no value"), "{e}");
        let e = refusal(&["request", "-e", "both", "pin11=1"]);
        assert!(
            e.contains("edge detection needs the line to be an input"),
            "{e}"
        );
        let e = refusal(&["request", "--debounce", "5x", "pin11"]);
        assert!(e.starts_with("invalid period '5x'"), "{e}");
        let e = refusal(&["set", "pin11"]);
        assert!(e.contains("not LINE=VALUE"), "{e}");
        let e = refusal(&["get", "pin6"]);
        assert!(e.contains("pin 6 is GND"), "{e}");
        let e = refusal(&["reconfigure", "request0", "-d", "input", "pin11=1"]);
        assert!(e.contains("an input takes no value"), "{e}");
        // Request names are not lines; lines beside them are checked.
        let e = refusal(&["release", "request0", "pin6"]);
        assert!(e.contains("pin 6 is GND"), "{e}");
        for ok in [
            &["release", "request0", "/io/gpiod1/requests/request1"][..],
            &["request", "pin11=1", "GPIO27"],
            &["set", "pin11=0"],
            &["requests", "--json"],
        ] {
            assert!(matches!(checked(ok), Checked::Accepted), "{ok:?}");
        }
    }
}
