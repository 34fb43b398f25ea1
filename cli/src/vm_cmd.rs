//! `hwkit vm`: try hwkit on a machine without GPIO hardware.
//!
//! Boots the test bed's VM (Debian's kernel with gpio-sim, in QEMU) with simulated chips,
//! puts this very `hwkit` executable on the guest's PATH as `/usr/local/bin/hwkit`, runs
//! the command as root, prints its output and exits with its status. The first run
//! prepares the kernel in the cache (`$HWKIT_TESTBED_CACHE`, default
//! `/var/cache/hwkit-testbed`), which needs root and Debian's package mirror; later runs
//! boot in a few seconds.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use hwkit_testbed::{parse_chips, run, ChipSpec, GuestBinary, VmOptions};

use crate::CmdResult;

/// Arguments of `hwkit vm`.
#[derive(Args, Debug)]
#[command(after_help = "\
Chips (--chips): chips separated by `;`, fields by `,`:
  label=TEXT     the chip's label (required)
  lines=COUNT    number of lines, 1-512 (default: the number of names)
  names=LIST     line names separated by `:`; `GPIO0..GPIO57` is a range; an empty
                 entry leaves a line unnamed
  presets: `default` (= `pi4;hwkit-sim`), `pi4` (pinctrl-bcm2711, 58 lines, the Pi 4's
  line names), `hwkit-sim` (8 unnamed lines)

Examples:
  hwkit vm -- hwkit gpio list
  hwkit vm --chips 'label=pinctrl-bcm2711,lines=58,names=GPIO0..GPIO57;label=aux,lines=8' -- hwkit gpio list
  hwkit vm -- sh -c 'ls /dev/gpiochip*; cat /sys/class/gpio/gpiochip*/label'")]
pub struct VmArgs {
    /// The simulated chips to create (see below). Default: a Raspberry Pi 4
    /// `pinctrl-bcm2711` chip and an 8-line `hwkit-sim` chip.
    #[arg(long, value_name = "SPEC")]
    pub chips: Option<String>,
    /// Kill the VM if the command runs longer than this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = run::DEFAULT_COMMAND_TIMEOUT.as_secs())]
    pub timeout: u64,
    /// Show the guest kernel's boot messages too.
    #[arg(short, long)]
    pub verbose: bool,
    /// Do not list the chips created.
    #[arg(short, long)]
    pub quiet: bool,
    /// The command to run as root in the VM, and its arguments (`hwkit` is on its PATH).
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Turns the arguments into the test bed's options (no VM yet).
fn options(args: VmArgs) -> Result<VmOptions, Box<dyn std::error::Error>> {
    let chips = match &args.chips {
        Some(spec) => parse_chips(spec)?,
        None => ChipSpec::default_set(),
    };
    if args.timeout == 0 {
        return Err("--timeout must be at least 1 second".into());
    }
    let exe = std::env::current_exe().map_err(|e| {
        format!("cannot find the running hwkit executable to copy into the VM: {e}")
    })?;
    Ok(VmOptions {
        chips,
        binaries: vec![GuestBinary::named(exe, "hwkit")],
        include: Vec::new(),
        command: args.command,
        timeout: Duration::from_secs(args.timeout),
        boot_timeout: run::BOOT_ALLOWANCE,
        verbose: args.verbose,
        show_chips: !args.quiet,
    })
}

/// Runs `hwkit vm`.
pub fn run(args: VmArgs) -> CmdResult {
    let opts = options(args)?;
    let code = run::run_command(&opts)?;
    // Shell convention: statuses above 255 do not exist; a signal death shows as 128+N.
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: VmArgs,
    }

    fn parse(argv: &[&str]) -> Result<VmArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("vm").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn defaults_are_the_pi4_and_a_small_chip_with_hwkit_on_path() {
        let opts = options(parse(&["--", "hwkit", "gpio", "list"]).unwrap()).unwrap();
        assert_eq!(opts.chips, ChipSpec::default_set());
        assert_eq!(opts.chips[0].label, "pinctrl-bcm2711");
        assert_eq!(opts.chips[0].lines, 58);
        assert_eq!(opts.command, ["hwkit", "gpio", "list"]);
        assert_eq!(opts.binaries.len(), 1);
        assert_eq!(opts.binaries[0].name, "hwkit");
        assert_eq!(opts.binaries[0].host, std::env::current_exe().unwrap());
        assert_eq!(opts.timeout, run::DEFAULT_COMMAND_TIMEOUT);
        assert!(opts.show_chips);
    }

    #[test]
    fn chips_and_flags_are_taken() {
        let args = parse(&[
            "--chips",
            "label=aux,lines=4",
            "--timeout",
            "9",
            "-q",
            "-v",
            "--",
            "true",
        ])
        .unwrap();
        let opts = options(args).unwrap();
        assert_eq!(opts.chips.len(), 1);
        assert_eq!(opts.chips[0].label, "aux");
        assert_eq!(opts.timeout, Duration::from_secs(9));
        assert!(!opts.show_chips && opts.verbose);
    }

    #[test]
    fn a_bad_chip_spec_is_refused_before_any_vm_starts() {
        let err = run(parse(&["--chips", "label=aux,lines=0", "--", "true"]).unwrap()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("bad chip spec") && msg.contains("lines must be from 1 to 512, got 0"),
            "{msg}"
        );
    }

    #[test]
    fn boots_with_this_executable_as_hwkit_and_returns_the_status() {
        // Boots the real VM (root, QEMU and the kernel cache, as `testbed test` needs); an
        // ARM build of hwkit refuses with the reason instead.
        // The running executable is this test binary; it must land on the guest's PATH.
        let script =
            "test -x /usr/local/bin/hwkit && [ \"$(command -v hwkit)\" = /usr/local/bin/hwkit ] \
                      && grep -q pinctrl-bcm2711 /sys/class/gpio/gpiochip*/label && exit 42";
        let result = run(parse(&["-q", "--", "sh", "-c", script]).unwrap());
        if cfg!(target_arch = "x86_64") {
            assert_eq!(result.unwrap(), ExitCode::from(42));
        } else {
            // On a board (or under qemu-user), before anything is installed or booted.
            let e = result.unwrap_err().to_string();
            assert!(e.contains("run on an x86-64 Debian machine"), "{e}");
        }
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let err = options(parse(&["--timeout", "0", "--", "true"]).unwrap()).unwrap_err();
        assert!(err
            .to_string()
            .contains("--timeout must be at least 1 second"));
    }

    #[test]
    fn a_command_is_required() {
        let err = parse(&[]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}
