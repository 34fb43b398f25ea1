//! `hwkit gpio info`: line info of every chip, of one chip, or of some lines.

use std::process::ExitCode;

use clap::Args;
use hw::{Chip, LineId};

use super::Ctx;
use crate::CmdResult;

#[derive(Args)]
pub(super) struct InfoArgs {
    /// The chip (path, name, number or label); without it, the first argument is tried as one.
    #[arg(long, short)]
    pub chip: Option<String>,
    /// An optional CHIP, then LINEs; without a chip, LINEs as for get (pin11, GPIO17, chip:offset).
    pub args: Vec<String>,
}
fn print_chip_header(chip: &Chip) {
    let i = chip.info();
    println!(
        "{} - {} lines [{}] (uAPI {}):",
        i.name,
        i.num_lines,
        i.label,
        chip.uapi()
    );
}

/// Runs `hwkit gpio info`.
pub(super) fn run(a: InfoArgs, ctx: &Ctx) -> CmdResult {
    let uapi = ctx.uapi;
    let mut args = a.args.as_slice();
    let chip = match a.chip {
        Some(c) => Some(Chip::find_with(&c, uapi)?),
        None => match args.first().map(|first| Chip::find_with(first, uapi)) {
            Some(Ok(chip)) => {
                args = &args[1..];
                Some(chip)
            }
            _ => None,
        },
    };
    match chip {
        Some(chip) => {
            print_chip_header(&chip);
            if args.is_empty() {
                for info in chip.line_infos()? {
                    println!("\t{info}");
                }
            }
            for arg in args {
                let offset = match LineId::parse(arg) {
                    LineId::Offset(o) => o,
                    LineId::Name(n) => chip.line_offset(&n)?,
                };
                println!("\t{}", chip.line_info(offset)?);
            }
        }
        None if args.is_empty() => {
            for path in hw::chip_paths()? {
                let chip = Chip::open_with(&path, uapi)?;
                print_chip_header(&chip);
                for info in chip.line_infos()? {
                    println!("\t{info}");
                }
            }
        }
        None => {
            let resolver = ctx.resolver(None)?;
            // All resolved first: a bad argument prints nothing.
            let targets = args
                .iter()
                .map(|arg| resolver.resolve(arg))
                .collect::<Result<Vec<_>, _>>()?;
            for t in targets {
                let chip = Chip::open_with(&t.dev_path, uapi)?;
                println!("{} {}", t.chip, chip.line_info(t.offset)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
