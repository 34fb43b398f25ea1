//! `hwkit`: call C functions from the shell, drive GPIO lines, show a board's pinout,
//! and try all of it in a gpio-sim VM.
//!
//! Each area of the command lives in its own module; `main` only parses and dispatches,
//! and turns any error into one line on stderr and a non-zero exit status.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod docs_cmd;
mod ffi_cmd;
mod gpio_cmd;
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
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call C functions, read C globals and look up symbols at run time.
    Ffi(ffi_cmd::FfiArgs),
    /// Drive GPIO lines through the kernel character device or sysfs.
    Gpio(gpio_cmd::GpioArgs),
    /// Show the board's header: pin numbers, names, roles and live line state.
    Pinout(pinout_cmd::PinoutArgs),
    /// Boot a QEMU VM with simulated GPIO chips and run a command inside it.
    Vm(vm_cmd::VmArgs),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions(docs_cmd::CompletionsArgs),
    /// Print a manual page (`hwkit man gpio get`), or write them all with --out-dir.
    Man(docs_cmd::ManArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ffi(args) => ffi_cmd::run(args),
        Command::Gpio(args) => gpio_cmd::run(args),
        Command::Pinout(args) => pinout_cmd::run(args),
        Command::Vm(args) => vm_cmd::run(args),
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
