//! `hwkit vm`: try hwkit on a machine without GPIO hardware.
//!
//! Boots the test bed's VM (Debian's kernel with gpio-sim, in QEMU) with simulated chips,
//! puts a `hwkit` executable on the guest's PATH as `/usr/local/bin/hwkit`, runs the
//! command as root, prints its output and exits with its status. The first run prepares
//! the kernel in the cache (`$HWKIT_TESTBED_CACHE`, default `/var/cache/hwkit-testbed`),
//! which needs root and Debian's package mirror; later runs boot in a few seconds.
//!
//! On the host's architecture the guest's `hwkit` is this very executable. An ARM machine
//! (`--arch aarch64`, `--machine raspi3b`) needs an aarch64 one: `--hwkit PATH`, or the
//! release build of the workspace this `hwkit` was built from, cross-built in the test
//! bed's build root when it is missing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use hwkit_testbed::buildroot::{build_hwkit, TARGET_SUBDIR};
use hwkit_testbed::cli_args::MachineArgs;
use hwkit_testbed::{parse_chips, run, Arch, ChipSpec, GuestBinary, VmOptions};

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

Machines (--arch, --machine): pc (x86_64, the default), virt (aarch64, what --arch
  aarch64 boots), raspi3b (aarch64: a Raspberry Pi 3 Model B whose 54 header lines are the
  kernel's real pinctrl-bcm2835 driver; its default chips are only the 8-line hwkit-sim).

Kernels (--kernel, pc only; the ARM machines boot sid's): bookworm (Debian 12's 6.1, the
  default), trixie (Debian 13's 6.12, what Raspberry Pi OS trixie runs), sid (Debian
  unstable's newest, 7.x: no uAPI v1, per-chip sysfs export). The first use of each
  downloads and prepares it (about a minute), later runs boot in seconds.

Examples:
  hwkit vm -- hwkit gpio detect
  hwkit vm -- hwkit gpio get pin11
  hwkit vm --machine raspi3b -- hwkit pinout
  hwkit vm --kernel sid -- hwkit gpio detect
  hwkit vm --chips 'label=pinctrl-bcm2711,lines=58,names=GPIO0..GPIO57;label=aux,lines=8' -- hwkit gpio info
  hwkit vm -- sh -c 'ls /dev/gpiochip*; cat /sys/class/gpio/gpiochip*/label'")]
pub struct VmArgs {
    #[command(flatten)]
    pub machine: MachineArgs,
    /// The hwkit executable to put on the guest's PATH (default: this one on the host's
    /// architecture; on ARM machines the workspace's aarch64 release build, built if missing).
    #[arg(long = "hwkit", value_name = "PATH")]
    pub hwkit: Option<PathBuf>,
    /// The simulated chips to create (see below). Default: a Raspberry Pi 4
    /// `pinctrl-bcm2711` chip and an 8-line `hwkit-sim` chip (on raspi3b: hwkit-sim only).
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

/// The `hwkit` for a guest of `arch`: `given`, else this executable on the host's
/// architecture, else the workspace's release build for `arch` (built when missing).
fn guest_hwkit(arch: Arch, given: Option<PathBuf>) -> Result<PathBuf, Box<dyn std::error::Error>> {
    if let Some(p) = given {
        if !p.is_file() {
            return Err(format!("--hwkit `{}` is not a file", p.display()).into());
        }
        return Ok(p);
    }
    if arch == Arch::host() {
        return std::env::current_exe().map_err(|e| {
            format!("cannot find the running hwkit executable to copy into the VM: {e}").into()
        });
    }
    // The workspace this hwkit was built from (the cli package's parent).
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .filter(|w| w.join("Cargo.toml").is_file())
        .ok_or_else(|| {
            format!(
                "no {arch} hwkit to put in the VM: give one with --hwkit PATH (the workspace \
                 this hwkit was built from, which would build it, is gone)"
            )
        })?;
    let built = cross_hwkit_path(workspace, arch);
    if built.is_file() {
        return Ok(built);
    }
    Ok(build_hwkit(workspace, arch)?)
}

/// Where the build root puts the release `hwkit` for `arch`.
fn cross_hwkit_path(workspace: &Path, arch: Arch) -> PathBuf {
    workspace
        .join(TARGET_SUBDIR)
        .join(arch.triple())
        .join("release/hwkit")
}

/// The host's libgpiod, which `hwkit gpio --backend libgpiod` and `hwkit bench` open with
/// dlopen (so `ldd` does not bring it), when the guest runs the host's architecture.
fn dlopened_libraries(guest: Arch) -> Vec<PathBuf> {
    if guest != Arch::host() {
        return Vec::new();
    }
    let dir = Path::new("/usr/lib").join(guest.gnu());
    [
        hw::backend::libgpiod::SONAME_V1,
        hw::backend::libgpiod::SONAME_V2,
    ]
    .iter()
    .map(|so| dir.join(so))
    .filter(|p| p.exists())
    .collect()
}

/// Turns the arguments into the test bed's options (no VM yet).
fn options(args: VmArgs) -> Result<VmOptions, Box<dyn std::error::Error>> {
    // On a board there is real GPIO, and the bed's QEMU and kernels are x86-64 hosts' tools:
    // say so before anything else (a default machine is worked out from the host).
    hwkit_testbed::host::supported_host(hwkit_testbed::Arch::host())?;
    let (machine, kernel) = args.machine.kernel()?;
    let chips = match &args.chips {
        Some(spec) => parse_chips(spec)?,
        None => ChipSpec::default_for(machine),
    };
    if args.timeout == 0 {
        return Err("--timeout must be at least 1 second".into());
    }
    let exe = guest_hwkit(machine.arch(), args.hwkit)?;
    Ok(VmOptions {
        machine,
        chips,
        binaries: vec![GuestBinary::named(exe, "hwkit")],
        include: dlopened_libraries(machine.arch()),
        command: args.command,
        timeout: Duration::from_secs(args.timeout),
        boot_timeout: run::BOOT_ALLOWANCE,
        verbose: args.verbose,
        show_chips: !args.quiet,
        kernel,
    })
}

/// Everything `options` checks, in its order, but the guest's `hwkit` (which may build
/// one): the host, the machine, `--chips` and `--timeout`. Nothing is built or booted.
pub(crate) fn check(args: &VmArgs) -> Result<(), Box<dyn std::error::Error>> {
    hwkit_testbed::host::supported_host(hwkit_testbed::Arch::host())?;
    args.machine.machine()?;
    if let Some(spec) = &args.chips {
        parse_chips(spec)?;
    }
    if args.timeout == 0 {
        return Err("--timeout must be at least 1 second".into());
    }
    Ok(())
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
    // The tests that name machines run on the x86-64 hosts `hwkit vm` supports.
    #[cfg(target_arch = "x86_64")]
    use hwkit_testbed::Machine;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: VmArgs,
    }

    fn parse(argv: &[&str]) -> Result<VmArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("vm").chain(argv.iter().copied())).map(|c| c.args)
    }

    // How options are worked out on the x86-64 hosts `hwkit vm` runs on; elsewhere it
    // refuses first (`boots_with_this_executable_as_hwkit_and_returns_the_status`).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn defaults_are_the_pi4_and_a_small_chip_with_hwkit_on_path() {
        let opts = options(parse(&["--", "hwkit", "gpio", "detect"]).unwrap()).unwrap();
        assert_eq!(opts.chips, ChipSpec::default_set());
        assert_eq!(opts.chips[0].label, "pinctrl-bcm2711");
        assert_eq!(opts.chips[0].lines, 58);
        assert_eq!(opts.command, ["hwkit", "gpio", "detect"]);
        assert_eq!(opts.binaries.len(), 1);
        assert_eq!(opts.binaries[0].name, "hwkit");
        assert_eq!(opts.binaries[0].host, std::env::current_exe().unwrap());
        assert_eq!(opts.timeout, run::DEFAULT_COMMAND_TIMEOUT);
        assert!(opts.show_chips);
    }

    // How options are worked out on the x86-64 hosts `hwkit vm` runs on; elsewhere it
    // refuses first (`boots_with_this_executable_as_hwkit_and_returns_the_status`).
    #[cfg(target_arch = "x86_64")]
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

    // How options are worked out on the x86-64 hosts `hwkit vm` runs on; elsewhere it
    // refuses first (`boots_with_this_executable_as_hwkit_and_returns_the_status`).
    #[cfg(target_arch = "x86_64")]
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

    // How options are worked out on the x86-64 hosts `hwkit vm` runs on; elsewhere it
    // refuses first (`boots_with_this_executable_as_hwkit_and_returns_the_status`).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn arm_machines_take_an_arm_hwkit_and_refuse_contradictions() {
        // Here only the file's existence is checked; its architecture is checked before
        // booting (the next test).
        let exe = std::env::current_exe().unwrap();
        let exe = exe.to_str().unwrap();
        let opts = options(parse(&["--machine", "raspi3b", "--hwkit", exe, "--", "true"]).unwrap())
            .unwrap();
        assert_eq!(opts.machine, Machine::Raspi3b);
        assert_eq!(opts.binaries[0].host, Path::new(exe));
        assert_eq!(opts.chips, ChipSpec::default_for(Machine::Raspi3b));
        assert!(opts.chips.iter().all(|c| c.label != "pinctrl-bcm2711"));
        let opts =
            options(parse(&["--arch", "aarch64", "--hwkit", exe, "--", "true"]).unwrap()).unwrap();
        assert_eq!(opts.machine, Machine::Virt);
        assert_eq!(opts.chips, ChipSpec::default_set());

        let err =
            options(parse(&["--arch", "x86_64", "--machine", "raspi3b", "--", "true"]).unwrap())
                .unwrap_err()
                .to_string();
        assert_eq!(
            err,
            "--machine raspi3b is an aarch64 machine, not x86_64: use --arch aarch64 or leave --arch out"
        );
        let err = options(parse(&["--arch", "armv7", "--", "true"]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no VM machine boots armv7 yet"), "{err}");
        let err = options(
            parse(&[
                "--machine",
                "raspi3b",
                "--hwkit",
                "/no/such/hwkit",
                "--",
                "true",
            ])
            .unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "--hwkit `/no/such/hwkit` is not a file");
    }

    #[test]
    fn unknown_arch_and_machine_values_name_the_supported_ones() {
        let e = parse(&["--machine", "raspi4b", "--", "true"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown machine \"raspi4b\": supported are pc (x86_64), virt (aarch64), raspi3b (aarch64)"),
            "{e}"
        );
        let e = parse(&["--arch", "sparc", "--", "true"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown architecture \"sparc\""), "{e}");
    }

    // How options are worked out on the x86-64 hosts `hwkit vm` runs on; elsewhere it
    // refuses first (`boots_with_this_executable_as_hwkit_and_returns_the_status`).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn an_x86_hwkit_is_refused_for_an_arm_guest_before_booting() {
        // This test binary is an x86-64 program: the aarch64 guest cannot run it.
        let exe = std::env::current_exe().unwrap();
        let err = run(parse(&[
            "--arch",
            "aarch64",
            "--hwkit",
            exe.to_str().unwrap(),
            "--",
            "true",
        ])
        .unwrap())
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("is built for x86_64, but the guest runs aarch64 programs"),
            "{err}"
        );
    }

    // How options are worked out on the x86-64 hosts `hwkit vm` runs on; elsewhere it
    // refuses first (`boots_with_this_executable_as_hwkit_and_returns_the_status`).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_zero_timeout_is_refused() {
        let err = options(parse(&["--timeout", "0", "--", "true"]).unwrap()).unwrap_err();
        assert!(err
            .to_string()
            .contains("--timeout must be at least 1 second"));
    }

    // How options are worked out on the x86-64 hosts `hwkit vm` runs on; elsewhere it
    // refuses first (`boots_with_this_executable_as_hwkit_and_returns_the_status`).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_kernel_is_taken_and_contradictions_are_refused() {
        use hwkit_testbed::Suite;
        let opts = options(parse(&["--", "true"]).unwrap()).unwrap();
        assert_eq!(opts.kernel, Suite::Bookworm);
        for k in Suite::ALL {
            let opts = options(parse(&["--kernel", k.name(), "--", "true"]).unwrap()).unwrap();
            assert_eq!((opts.machine, opts.kernel), (Machine::Pc, k));
        }
        let exe = std::env::current_exe().unwrap();
        let exe = exe.to_str().unwrap();
        let opts = options(parse(&["--machine", "raspi3b", "--hwkit", exe, "--", "true"]).unwrap())
            .unwrap();
        assert_eq!(opts.kernel, Suite::Sid);
        let err = options(parse(&["--kernel", "all", "--", "true"]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("a command boots one VM: choose one of bookworm, trixie, sid"),
            "{err}"
        );
        let err = options(
            parse(&[
                "--arch", "aarch64", "--kernel", "trixie", "--hwkit", exe, "--", "true",
            ])
            .unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "--kernel trixie: the virt machine boots Debian sid's arm64 kernel only"
            ),
            "{err}"
        );
        let err = parse(&["--kernel", "stretch", "--", "true"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown kernel \"stretch\": supported are bookworm"),
            "{err}"
        );
    }

    #[test]
    fn a_command_is_required() {
        let err = parse(&[]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_hosts_libgpiod_goes_to_guests_of_its_architecture_only() {
        // The host has libgpiod 1.x (scripts/install-deps.sh).
        let libs = dlopened_libraries(Arch::X86_64);
        assert!(
            libs.iter()
                .any(|p| p.ends_with(hw::backend::libgpiod::SONAME_V1)),
            "{libs:?}"
        );
        assert!(dlopened_libraries(Arch::Aarch64).is_empty());
    }
}
