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
