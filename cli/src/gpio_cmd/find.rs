//! `hwkit gpio find`: a line by name, as its chip and offset (libgpiod 1's `gpiofind`).

use std::process::ExitCode;

use clap::Args;
use hw::{Chip, Uapi};

use super::output::{print_json, FindJson};
use crate::CmdResult;

/// Arguments of `hwkit gpio find`.
#[derive(Args)]
pub(super) struct FindArgs {
    /// The line name.
    pub name: String,
    /// Print one JSON document: {"name","chip","offset"}.
    #[arg(long)]
    pub json: bool,
}

/// Runs `hwkit gpio find`.
pub(super) fn run(a: FindArgs, uapi: Option<Uapi>) -> CmdResult {
    let found = hw::find_line(&a.name)?;
    // Respect a forced uAPI: re-read the info through it (fails clearly if unavailable).
    let chip = Chip::open_with(&found.chip.path, uapi)?;
    chip.line_info(found.offset)?;
    if a.json {
        print_json(&FindJson {
            name: a.name,
            chip: found.chip.name,
            offset: found.offset,
        })?;
    } else {
        println!("{} {}", found.chip.name, found.offset);
    }
    Ok(ExitCode::SUCCESS)
}
