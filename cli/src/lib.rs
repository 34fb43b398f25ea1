//! `hwkit`: call C functions from the shell, drive GPIO lines, show a board's pinout,
//! and try all of it in a gpio-sim VM.
//!
//! Each area of the command lives in its own module; [`main`] only parses and dispatches,
//! and turns any error into one line on stderr and a non-zero exit status. The binary is
//! a one-line wrapper around [`main`]; the library exists so that the fuzz targets in
//! `fuzz/` can run the command's argument checks ([`fuzzing`]) without running it.

#![warn(missing_docs)]

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench_cmd;
mod docs_cmd;
mod ffi_cmd;
mod gpio_cmd;
mod managed_cmd;
mod pinout_cmd;
mod vm_cmd;

/// The result every subcommand returns: an exit status, or an error printed as one line.
pub type CmdResult = Result<ExitCode, Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(
    name = "hwkit",
    version,
    about = "Embedded Linux hardware toolkit: dynamic FFI and GPIO"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Call C functions, read C globals and look up symbols at run time.
    Ffi(ffi_cmd::FfiArgs),
    /// Drive GPIO lines through the kernel character device or sysfs.
    Gpio(gpio_cmd::GpioArgs),
    /// Lines held by the GPIO daemon (hwkitd) over D-Bus: request, list, reconfigure, set, get
    /// and release them; they stay held after hwkit exits.
    Managed(managed_cmd::ManagedArgs),
    /// Show the board's header: pin numbers, names, roles and live line state.
    Pinout(pinout_cmd::PinoutArgs),
    /// Measure how fast a line toggles through every GPIO backend, against each one's floor.
    Bench(bench_cmd::BenchArgs),
    /// Boot a QEMU VM with simulated GPIO chips and run a command inside it.
    Vm(vm_cmd::VmArgs),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions(docs_cmd::CompletionsArgs),
    /// Print a manual page (`hwkit man gpio get`), or write them all with --out-dir.
    Man(docs_cmd::ManArgs),
}

/// Runs `hwkit` with the process's arguments: what the binary does.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ffi(args) => ffi_cmd::run(args),
        Command::Gpio(args) => gpio_cmd::run(args),
        Command::Managed(args) => managed_cmd::run(args),
        Command::Pinout(args) => pinout_cmd::run(args),
        Command::Vm(args) => vm_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(args),
        Command::Completions(args) => docs_cmd::completions(args),
        Command::Man(args) => docs_cmd::man(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("hwkit: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Entry points for the fuzz targets in `fuzz/`: not a stable API.
///
/// Nothing here touches hardware, opens a library or calls C: see [`fuzzing::check_argv`].
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// What [`check_argv`] made of an argument list.
    #[derive(Debug)]
    pub enum Checked {
        /// clap refused it or printed help/version: its own (multi-line) message.
        Usage(String),
        /// hwkit's checks refused it: the one-line message `hwkit` would print.
        Refused(String),
        /// Every check passed: `hwkit` would go on to run the command.
        Accepted,
    }

    /// Parses `argv` (without the program name) exactly as `hwkit` does, then runs every
    /// check the command makes before it acts, with nothing acted on: `ffi` parses the type
    /// codes and each argument for its slot but opens no library and calls nothing; `gpio`
    /// and `pinout` resolve lines against the system captured under `root` (no chip is
    /// opened by a path from `argv`, `--root` is replaced by `root`, `--values` is not
    /// read); `vm` parses `--chips` and the machine but boots and builds nothing.
    pub fn check_argv(argv: &[OsString], root: &std::path::Path) -> Checked {
        let cli = match Cli::try_parse_from(
            std::iter::once(OsString::from("hwkit")).chain(argv.iter().cloned()),
        ) {
            Ok(cli) => cli,
            Err(e) => return Checked::Usage(e.to_string()),
        };
        let result = match cli.command {
            Command::Ffi(args) => ffi_cmd::check(&args),
            Command::Gpio(args) => gpio_cmd::check(&args, root),
            Command::Managed(args) => managed_cmd::check(&args, root),
            Command::Pinout(args) => pinout_cmd::check(&args, root),
            Command::Vm(args) => vm_cmd::check(&args),
            Command::Bench(args) => bench_cmd::check(&args, root),
            // Both only print or write text made from the command definitions.
            Command::Completions(_) => Ok(()),
            Command::Man(args) => docs_cmd::check(&args),
        };
        match result {
            Ok(()) => Checked::Accepted,
            Err(e) => Checked::Refused(e.to_string()),
        }
    }

    /// `hwkit ffi call`'s reading of one argument `text` for type code `code` (`None`: a
    /// surplus argument), as `Debug` text or the one-line error.
    pub fn parse_ffi_arg(text: &str, code: Option<ffi_core::TypeCode>) -> Result<String, String> {
        ffi_cmd::parse_arg(text, code, 0)
            .map(|p| format!("{p:?}"))
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The `Examples:` lines of every command's help, as shell words.
    fn help_examples() -> Vec<Vec<String>> {
        let mut examples = Vec::new();
        let mut pending = vec![Cli::command()];
        while let Some(cmd) = pending.pop() {
            for text in [cmd.get_after_help(), cmd.get_after_long_help()]
                .into_iter()
                .flatten()
            {
                let text = text.to_string();
                let Some((_, section)) = text.split_once("Examples:") else {
                    continue;
                };
                for line in section.lines().map(str::trim) {
                    if line.starts_with("hwkit ") {
                        let words = shlex::split(line).unwrap_or_else(|| panic!("{line}"));
                        examples.push(words);
                    }
                }
            }
            pending.extend(cmd.get_subcommands().cloned());
        }
        examples
    }

    #[test]
    fn every_example_in_the_help_is_a_command_hwkit_accepts() {
        let examples = help_examples();
        assert!(examples.len() >= 4, "{examples:?}");
        for words in examples {
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("{words:?}: {e}");
            }
            // The command a VM example runs inside the guest is an hwkit command too.
            if let Some(i) = words.iter().position(|w| w == "--") {
                let inner = &words[i + 1..];
                if inner.first().map(String::as_str) == Some("hwkit") {
                    if let Err(e) = Cli::try_parse_from(inner) {
                        panic!("{inner:?} (in {words:?}): {e}");
                    }
                }
            }
        }
    }
}
