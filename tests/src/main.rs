//! `testbed`: runs hwkit's GPIO tests against the real kernel (gpio-sim in a QEMU VM).
//!
//! ```text
//! cargo run --release -p hwkit-testbed -- test [--kernel K|all] [-p PKG]... [--test NAME]... [-- LIBTEST_ARGS]
//! cargo run --release -p hwkit-testbed -- vm [--kernel K] [--chips SPEC] [--bin PATH]... -- CMD [ARG]...
//! cargo run --release -p hwkit-testbed -- prepare [--kernel K|all] | clean
//! cargo run --release -p hwkit-testbed -- without-syscall membarrier -- CMD [ARG]...
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hwkit_testbed::build::{workspace_root, BuildRequest};
use hwkit_testbed::cli_args::MachineArgs;
use hwkit_testbed::syscall_filter::{self, Syscall};
use hwkit_testbed::{cache, parse_chips, run, ChipSpec, KernelSelection};

#[derive(Parser)]
#[command(
    name = "testbed",
    version,
    about = "hwkit's real-kernel GPIO test bed: gpio-sim chips in a QEMU VM"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the workspace's `vm_*` tests, run them in the VM as root, report (with
    /// `--kernel all`: on each kernel in turn, and a table per kernel).
    Test(TestArgs),
    /// Boot the VM with simulated chips and run a command inside as root.
    Vm(VmArgs),
    /// Install what is missing and prepare the kernel(s) and gpio-sim in the cache; no boot.
    Prepare(MachineArgs),
    /// Empty the cache directory.
    Clean,
    /// Cross-build for ARM and run tests under QEMU user-mode emulation (Debian sid build root).
    #[command(subcommand)]
    Cross(CrossCommand),
    /// Run a command as if the kernel lacked a system call (it answers ENOSYS to the command
    /// and everything it runs), e.g. ffi-core's tests without membarrier:
    /// `testbed without-syscall membarrier -- cargo test -p ffi-core`.
    WithoutSyscall {
        /// The system call to take away.
        #[arg(value_enum)]
        syscall: Syscall,
        /// The command to run, and its arguments.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
}

#[derive(Subcommand)]
enum CrossCommand {
    /// Build the release `hwkit` and `hwkitd` binaries for each architecture (and with `--tests` the host
    /// test executables, as `cross test` runs them); prints the binaries' paths.
    Build {
        #[command(flatten)]
        archs: CrossArchs,
        /// Also build the test executables of ffi-core, boards, sysfs-gpio, hw and hwkit.
        #[arg(long)]
        tests: bool,
    },
    /// Run the host test suite of ffi-core, boards, sysfs-gpio, hw and hwkit for each
    /// architecture under qemu-user (`cargo test --no-fail-fast`).
    Test {
        #[command(flatten)]
        archs: CrossArchs,
        /// Arguments after `cargo test --target T -p ...` (e.g. `--test features`, `-- FILTER`).
        #[arg(last = true, value_name = "CARGO_TEST_ARGS")]
        args: Vec<String>,
    },
    /// Run any cargo command in the build root for one architecture, e.g. to build your
    /// own daemon: `testbed cross cargo --arch aarch64 -- build --release`.
    Cargo {
        /// The target architecture.
        #[arg(long, value_name = "ARCH")]
        arch: hwkit_testbed::Arch,
        /// cargo's arguments.
        #[arg(last = true, required = true, value_name = "CARGO_ARGS")]
        args: Vec<String>,
    },
}

#[derive(Args)]
struct CrossArchs {
    /// Architectures, comma-separated: aarch64 (arm64), armv7 (armhf), x86_64 (amd64).
    #[arg(long = "arch", value_name = "ARCH,...", value_delimiter = ',', default_values_t = [hwkit_testbed::Arch::Aarch64, hwkit_testbed::Arch::Armv7])]
    archs: Vec<hwkit_testbed::Arch>,
}

#[derive(Args)]
struct TestArgs {
    #[command(flatten)]
    machine: MachineArgs,
    /// Only this package's VM tests (repeatable).
    #[arg(short = 'p', long = "package", value_name = "PKG")]
    packages: Vec<String>,
    /// Only this `vm_*` test target (repeatable).
    #[arg(long = "test", value_name = "NAME")]
    tests: Vec<String>,
    /// Build the tests with `--release` (default: the `test` profile, as `cargo test`).
    #[arg(long)]
    release: bool,
    /// Kill a test binary that runs longer than this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = run::DEFAULT_BINARY_TIMEOUT.as_secs())]
    binary_timeout: u64,
    /// Show the kernel's boot messages and the whole console.
    #[arg(short, long)]
    verbose: bool,
    /// Arguments for every test binary (libtest's: a filter, `--nocapture`, ...).
    #[arg(last = true, value_name = "LIBTEST_ARGS")]
    libtest_args: Vec<String>,
}

#[derive(Args)]
struct VmArgs {
    #[command(flatten)]
    machine: MachineArgs,
    /// The simulated chips, e.g. `label=pinctrl-bcm2711,lines=58,names=GPIO0..GPIO57;label=aux,lines=8`
    /// (presets: `default`, `pi4`, `hwkit-sim`). Default: `default` (pi4 + an 8-line hwkit-sim; on raspi3b only hwkit-sim).
    #[arg(long, value_name = "SPEC")]
    chips: Option<String>,
    /// Put this host executable (and its libraries) on the guest's PATH, /usr/local/bin (repeatable).
    #[arg(long = "bin", value_name = "PATH")]
    bins: Vec<PathBuf>,
    /// Put this host file or directory in the guest at the same path, e.g. a library the
    /// command loads with dlopen (repeatable).
    #[arg(long, value_name = "PATH")]
    include: Vec<PathBuf>,
    /// Kill the VM if the command runs longer than this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = run::DEFAULT_COMMAND_TIMEOUT.as_secs())]
    timeout: u64,
    /// Seconds the VM gets on top of --timeout to boot and power off before it is killed.
    #[arg(long, value_name = "SECS", default_value_t = run::BOOT_ALLOWANCE.as_secs())]
    boot_timeout: u64,
    /// Show the kernel's boot messages too.
    #[arg(short, long)]
    verbose: bool,
    /// Do not list the chips created.
    #[arg(short, long)]
    quiet: bool,
    /// The command to run in the guest, and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("testbed: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace() -> hwkit_testbed::Result<PathBuf> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    workspace_root(&cwd).or_else(|e| {
        // Run from outside the workspace: use the one this binary was built from.
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        here.parent()
            .filter(|p| p.join("Cargo.toml").is_file())
            .map(PathBuf::from)
            .ok_or(e)
    })
}

fn dispatch(command: Command) -> hwkit_testbed::Result<ExitCode> {
    match command {
        Command::Test(a) => {
            let (machine, kernels) = a.machine.kernels()?;
            let opts = run::TestOptions {
                build: BuildRequest {
                    workspace: workspace()?,
                    packages: a.packages,
                    tests: a.tests,
                    release: a.release,
                    machine,
                },
                libtest_args: a.libtest_args,
                binary_timeout: Duration::from_secs(a.binary_timeout),
                verbose: a.verbose,
                kernel: kernels[0],
            };
            let success = if a.machine.kernel == Some(KernelSelection::All) {
                let report = run::run_matrix(&opts, &kernels)?;
                println!("testbed: the VM tests per kernel\n{}", report.table());
                println!("{}", report.summary_line());
                report.success()
            } else {
                let report = run::run_tests(&opts)?;
                println!("{}", report.summary_line());
                report.success()
            };
            Ok(if success {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Vm(a) => {
            let (machine, kernel) = a.machine.kernel()?;
            let chips = match &a.chips {
                Some(s) => parse_chips(s)?,
                None => ChipSpec::default_for(machine),
            };
            let opts = run::VmOptions {
                chips,
                binaries: a.bins.into_iter().map(run::GuestBinary::new).collect(),
                include: a.include,
                command: a.command,
                timeout: Duration::from_secs(a.timeout.max(1)),
                boot_timeout: Duration::from_secs(a.boot_timeout),
                verbose: a.verbose,
                show_chips: !a.quiet,
                machine,
                kernel,
            };
            let code = run::run_command(&opts)?;
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        Command::Prepare(m) => {
            let (machine, kernels) = m.kernels()?;
            for suite in kernels {
                let k = run::prepare(machine, suite)?;
                eprintln!(
                    "testbed: ready: Debian {suite}'s kernel {} ({}), gpio-sim {}, boot image {}, cache {} ({:.1} MiB)",
                    k.info.abi,
                    k.info.version,
                    if k.info.distro_gpio_sim {
                        "from the distro"
                    } else {
                        "built out of tree"
                    },
                    k.boot_image().display(),
                    cache::cache_dir().display(),
                    cache::dir_size(&cache::cache_dir()) as f64 / (1 << 20) as f64
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Cross(c) => cross(c),
        Command::WithoutSyscall { syscall, command } => {
            use std::os::unix::process::CommandExt;
            syscall_filter::refuse(syscall)?;
            let mut cmd = std::process::Command::new(&command[0]);
            cmd.args(&command[1..]);
            let e = cmd.exec();
            Err(hwkit_testbed::Error::Command {
                command: hwkit_testbed::host::show(&cmd),
                detail: format!("cannot run it: {e}"),
            })
        }
        Command::Clean => {
            let dir = cache::cache_dir();
            let freed = cache::clean(&dir)?;
            eprintln!(
                "testbed: removed {:.1} MiB from {}",
                freed as f64 / (1 << 20) as f64,
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The packages whose host tests run on every architecture (the test bed's own boot a
/// VM with the host's QEMU, and the benchmarks are measured, not tested).
const CROSS_TESTED: [&str; 5] = ["ffi-core", "boards", "sysfs-gpio", "hw", "hwkit"];

/// `cargo test --no-fail-fast -p ...` of [`CROSS_TESTED`] for `arch`: the host's cargo for
/// the host's architecture, the build root's for the others.
fn cross_tests(
    ws: &std::path::Path,
    arch: hwkit_testbed::Arch,
) -> hwkit_testbed::Result<std::process::Command> {
    let mut cmd = if arch == hwkit_testbed::Arch::host() {
        let mut c = std::process::Command::new("cargo");
        c.current_dir(ws);
        c
    } else {
        hwkit_testbed::buildroot::BuildRoot::ensure()?.cargo(ws, arch)
    };
    cmd.args(["test", "--no-fail-fast"]);
    for p in CROSS_TESTED {
        cmd.args(["-p", p]);
    }
    Ok(cmd)
}

fn cross(command: CrossCommand) -> hwkit_testbed::Result<ExitCode> {
    use hwkit_testbed::buildroot::{build_release, BuildRoot, PACKAGED_BINARIES};
    use hwkit_testbed::host;
    let ws = workspace()?;
    match command {
        CrossCommand::Build { archs, tests } => {
            for arch in archs.archs {
                for bin in build_release(&ws, arch, &PACKAGED_BINARIES)? {
                    println!("{}", bin.display());
                }
                if tests {
                    host::run(cross_tests(&ws, arch)?.arg("--no-run"))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CrossCommand::Test { archs, args } => {
            let root = BuildRoot::ensure()?;
            root.register_binfmt()?;
            let mut failed = Vec::new();
            for arch in archs.archs {
                eprintln!("testbed: host tests for {arch} under qemu-user");
                let mut cmd = cross_tests(&ws, arch)?;
                cmd.args(&args);
                let status = cmd.status().map_err(|e| hwkit_testbed::Error::Command {
                    command: host::show(&cmd),
                    detail: e.to_string(),
                })?;
                if !status.success() {
                    failed.push(arch.name());
                }
            }
            if failed.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("testbed: host tests failed on {}", failed.join(", "));
                Ok(ExitCode::FAILURE)
            }
        }
        CrossCommand::Cargo { arch, args } => {
            let root = BuildRoot::ensure()?;
            // `cargo test` and `cargo run` start ARM programs, and tests that start their own
            // executable again (fault children, hwkit's) do so outside cargo's runner.
            root.register_binfmt()?;
            // A project outside this tree may take hw, ffi-core, ... from it by path.
            let hwkit_tree = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap_or(std::path::Path::new("/"))
                .to_path_buf();
            let mut cmd = root.cargo_with(&ws, arch, &[&hwkit_tree]);
            let status = cmd
                .args(&args)
                .status()
                .map_err(|e| hwkit_testbed::Error::Command {
                    command: host::show(&cmd),
                    detail: e.to_string(),
                })?;
            Ok(if status.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
