//! `hwkit completions` and `hwkit man`: shell completions and manual pages, generated from
//! the command definitions themselves so they can never disagree with what `hwkit` accepts.
//!
//! The packages install both (`scripts/package.sh` runs these commands on the build host:
//! the output is the same on every architecture).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Command, CommandFactory};
use clap_complete::Shell;

use crate::CmdResult;

/// Arguments of `hwkit completions`.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: Shell,
}

/// Arguments of `hwkit man`.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write every page (hwkit.1, hwkit-gpio.1, hwkit-gpio-get.1, ...) into this directory
    /// instead of printing one page.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// The command whose page to print, e.g. `gpio get`; default: hwkit's own page.
    #[arg(value_name = "COMMAND", conflicts_with = "out_dir")]
    pub command: Vec<String>,
}

/// Prints the completion script for one shell.
pub fn completions(args: CompletionsArgs) -> CmdResult {
    let mut cmd = crate::Cli::command();
    // Into memory first: clap_complete panics when its writer fails (stdout closed early).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "hwkit", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints one manual page, or writes all of them.
pub fn man(args: ManArgs) -> CmdResult {
    let mut root = crate::Cli::command();
    root.build();
    if let Some(dir) = args.out_dir {
        let written = write_all(&root, &dir)?;
        eprintln!("hwkit: wrote {written} manual pages to {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let cmd = find(&root, &args.command)?;
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(cmd.clone()).render(&mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// What `hwkit man` checks before it writes or prints anything: that the command exists.
pub fn check(args: &ManArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut root = crate::Cli::command();
    root.build();
    find(&root, &args.command)?;
    Ok(())
}

/// The (sub)command a path of names leads to.
fn find<'a>(root: &'a Command, path: &[String]) -> Result<&'a Command, String> {
    let mut cmd = root;
    for word in path {
        let name = page_name(cmd).replace('-', " ");
        cmd = cmd.find_subcommand(word).ok_or_else(|| {
            let known: Vec<_> = cmd
                .get_subcommands()
                .filter(|c| !c.is_hide_set() && c.get_name() != "help")
                .map(|c| c.get_name())
                .collect();
            if known.is_empty() {
                format!("`{name}` has no subcommands, so no page for `{word}`")
            } else {
                format!(
                    "`{name}` has no subcommand `{word}`; its subcommands are: {}",
                    known.join(", ")
                )
            }
        })?;
    }
    Ok(cmd)
}

/// A built command's page name: `hwkit`, `hwkit-gpio`, `hwkit-gpio-get` (clap's display
/// name, which `Command::build` sets from the path of subcommands).
fn page_name(cmd: &Command) -> String {
    cmd.get_display_name().unwrap_or(cmd.get_name()).to_owned()
}

/// Writes `<name>.1` for `cmd` and every visible subcommand below it; returns how many.
fn write_all(root: &Command, dir: &Path) -> std::io::Result<usize> {
    fs::create_dir_all(dir).map_err(|e| annotate(e, "cannot create", dir))?;
    let mut count = 0;
    let mut pending = vec![root];
    while let Some(cmd) = pending.pop() {
        // clap's implicit `help` subcommand has no page of its own.
        pending.extend(
            cmd.get_subcommands()
                .filter(|c| !c.is_hide_set() && c.get_name() != "help"),
        );
        let path = dir.join(format!("{}.1", page_name(cmd)));
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
        fs::write(&path, page).map_err(|e| annotate(e, "cannot write", &path))?;
        count += 1;
    }
    Ok(count)
}

fn annotate(e: std::io::Error, what: &str, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}
