//! `hwkit gpio detect`: the chips, one line each, as `gpiodetect` prints them.

use std::process::ExitCode;

use clap::Args;
use hw::{Chip, Uapi};

use super::output::{chip_line, print_json, ChipJson, DetectJson};
use crate::CmdResult;

/// Arguments of `hwkit gpio detect`.
#[derive(Args)]
pub(super) struct DetectArgs {
    /// Print one JSON document: {"chips":[{"name","label","num_lines","path"}]}.
    #[arg(long)]
    pub json: bool,
}

/// Runs `hwkit gpio detect`: a chip that cannot be opened is reported on stderr and the
/// others are listed, with a failure status at the end (as `gpiodetect` does).
pub(super) fn run(a: DetectArgs, uapi: Option<Uapi>) -> CmdResult {
    let paths = hw::chip_paths()?;
    if paths.is_empty() {
        eprintln!("hwkit: no GPIO chips found under /dev");
    }
    let mut status = ExitCode::SUCCESS;
    let mut chips = Vec::new();
    for path in paths {
        match Chip::open_with(&path, uapi) {
            Ok(chip) if a.json => chips.push(ChipJson::new(chip.info())),
            Ok(chip) => println!("{}", chip_line(chip.info())),
            Err(e) => {
                eprintln!("hwkit: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    if a.json {
        print_json(&DetectJson { chips })?;
    }
    Ok(status)
}
