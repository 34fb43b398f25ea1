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
/// others are listed, with a failure status at the end (as `gpiodetect` does). Chips refused
/// for want of permission are named together in one line, so the long remedy is printed once
/// rather than once per chip.
pub(super) fn run(a: DetectArgs, uapi: Option<Uapi>) -> CmdResult {
    let paths = hw::chip_paths()?;
    if paths.is_empty() {
        eprintln!("hwkit: no GPIO chips found under /dev");
    }
    let mut status = ExitCode::SUCCESS;
    let mut chips = Vec::new();
    let mut denied = Vec::new();
    for path in paths {
        match Chip::open_with(&path, uapi) {
            Ok(chip) if a.json => chips.push(ChipJson::new(chip.info())),
            Ok(chip) => println!("{}", chip_line(chip.info())),
            Err(hw::Error::PermissionDenied { .. }) => {
                denied.push(path.display().to_string());
                status = ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("hwkit: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    if !denied.is_empty() {
        let action = format!("opening {}", join_names(&denied));
        eprintln!("hwkit: {}", hw::Error::PermissionDenied { action });
    }
    if a.json {
        print_json(&DetectJson { chips })?;
    }
    Ok(status)
}

/// `a`, `a and b`, `a, b and c`: the chips a refusal names.
fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::join_names;

    #[test]
    fn refused_chips_are_named_in_one_phrase() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(join_names(&names(&[])), "");
        assert_eq!(join_names(&names(&["/dev/gpiochip0"])), "/dev/gpiochip0");
        assert_eq!(
            join_names(&names(&[
                "/dev/gpiochip0",
                "/dev/gpiochip1",
                "/dev/gpiochip2"
            ])),
            "/dev/gpiochip0, /dev/gpiochip1 and /dev/gpiochip2"
        );
    }
}
