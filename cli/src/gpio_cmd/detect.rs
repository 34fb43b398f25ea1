//! `hwkit gpio detect`: the chips, one line each.

use std::process::ExitCode;

use hw::{Chip, Uapi};

use crate::CmdResult;

/// Runs `hwkit gpio detect`.
pub(super) fn run(uapi: Option<Uapi>) -> CmdResult {
    let paths = hw::chip_paths()?;
    if paths.is_empty() {
        eprintln!("hwkit: no GPIO chips found under /dev");
    }
    for path in paths {
        let chip = Chip::open_with(&path, uapi)?;
        let i = chip.info();
        println!("{} [{}] ({} lines)", i.name, i.label, i.num_lines);
    }
    Ok(ExitCode::SUCCESS)
}
