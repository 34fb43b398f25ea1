//! `hwkit gpio find`: a line by name, as its chip and offset.

use std::process::ExitCode;

use clap::Args;
use hw::{Chip, Uapi};

use crate::CmdResult;

#[derive(Args)]
pub(super) struct FindArgs {
    /// The line name.
    pub name: String,
}
/// Runs `hwkit gpio find`.
pub(super) fn run(a: FindArgs, uapi: Option<Uapi>) -> CmdResult {
    let found = hw::find_line(&a.name)?;
    // Respect a forced uAPI: re-read the info through it (fails clearly if unavailable).
    let chip = Chip::open_with(&found.chip.path, uapi)?;
    chip.line_info(found.offset)?;
    println!("{} {}", found.chip.name, found.offset);
    Ok(ExitCode::SUCCESS)
}
