//! `hwkit gpio info`: line info of every chip, of one chip, or of some lines, in `gpioinfo`'s
//! layout.

use std::process::ExitCode;

use clap::Args;
use hw::Chip;

use super::lines::{chip_number, Lookup, Target};
use super::output::{
    chip_header, info_line, info_row, print_json, ChipJson, ChipLinesJson, InfoJson, LineJson,
};
use super::Ctx;
use crate::CmdResult;

/// Arguments of `hwkit gpio info`.
#[derive(Args)]
pub(super) struct InfoArgs {
    /// Restrict the lines to this chip (`0`, `gpiochip0`, `/dev/gpiochip0` or a label): LINEs
    /// are then its offsets and line names.
    #[arg(long, short, value_name = "CHIP")]
    pub chip: Option<String>,
    #[command(flatten)]
    pub lookup: Lookup,
    /// Print line names without quotes.
    #[arg(long)]
    pub unquoted: bool,
    /// Print one JSON document: {"chips":[{"name","label","num_lines","path","lines":[...]}]}.
    #[arg(long, conflicts_with = "unquoted")]
    pub json: bool,
    /// The lines (default: every line): line names; with --chip, offsets and names of that
    /// chip; or hwkit's board forms (pin11, GPIO17, chip:offset). hwkit: without --chip, a
    /// first argument that is no line but a chip is read as --chip.
    #[arg(value_name = "LINE")]
    pub args: Vec<String>,
}

/// Runs `hwkit gpio info`.
pub(super) fn run(a: InfoArgs, ctx: &Ctx) -> CmdResult {
    let lookup = a.lookup;
    let mut chip = a.chip.clone();
    let mut lines = a.args.as_slice();
    if chip.is_none() {
        if let Some(first) = lines.first() {
            let is_line = ctx.resolver(None, lookup)?.resolve(first).is_ok();
            if !is_line && Chip::find_with(first, ctx.uapi).is_ok() {
                chip = Some(first.clone());
                lines = &lines[1..];
            }
        }
    }
    if lines.is_empty() {
        return all_lines(chip.as_deref(), &a, ctx);
    }
    let mut targets = ctx.resolver(chip.as_deref(), lookup)?.resolve_all(lines)?;
    // gpioinfo prints the lines as it finds them: chip by chip, offset by offset.
    targets.sort_by_key(|t| (chip_number(&t.chip), t.offset));
    some_lines(&targets, &a, ctx)
}

/// Every line of one chip (`chip`), or of every chip.
fn all_lines(chip: Option<&str>, a: &InfoArgs, ctx: &Ctx) -> CmdResult {
    let chips: Vec<hw::Result<Chip>> = match chip {
        Some(c) => vec![Ok(Chip::find_with(c, ctx.uapi)?)],
        None => hw::chip_paths()?
            .iter()
            .map(|p| Chip::open_with(p, ctx.uapi))
            .collect(),
    };
    let mut status = ExitCode::SUCCESS;
    let mut doc = InfoJson { chips: Vec::new() };
    for chip in chips {
        // As gpioinfo: a chip that cannot be read is reported, and the others listed.
        let (chip, infos) = match chip.and_then(|c| Ok((c.line_infos()?, c))) {
            Ok((infos, c)) => (c, infos),
            Err(e) => {
                eprintln!("hwkit: {e}");
                status = ExitCode::FAILURE;
                continue;
            }
        };
        let i = chip.info();
        if a.json {
            doc.chips.push(ChipLinesJson {
                chip: ChipJson::new(i),
                lines: infos.iter().map(|l| LineJson::new(&i.name, l)).collect(),
            });
        } else {
            println!("{}", chip_header(i));
            for l in &infos {
                println!("{}", info_row(l, a.unquoted));
            }
        }
    }
    if a.json {
        print_json(&doc)?;
    }
    Ok(status)
}

/// The lines of `targets`, in order.
fn some_lines(targets: &[Target], a: &InfoArgs, ctx: &Ctx) -> CmdResult {
    let mut doc = InfoJson { chips: Vec::new() };
    // Read first: a line that cannot be read prints nothing.
    let mut rows = Vec::new();
    let mut open: Option<Chip> = None;
    for t in targets {
        if open.as_ref().is_none_or(|c| c.path() != t.dev_path) {
            open = Some(Chip::open_with(&t.dev_path, ctx.uapi)?);
        }
        let chip = open.as_ref().expect("opened above");
        let l = chip.line_info(t.offset)?;
        if a.json {
            match doc.chips.last_mut() {
                Some(c) if c.chip.name == t.chip => {}
                _ => doc.chips.push(ChipLinesJson {
                    chip: ChipJson::new(chip.info()),
                    lines: Vec::new(),
                }),
            }
            let last = doc.chips.last_mut().expect("pushed above");
            last.lines.push(LineJson::new(&t.chip, &l));
        } else {
            rows.push(info_line(&t.chip, &l, a.unquoted));
        }
    }
    if a.json {
        print_json(&doc)?;
    } else {
        for r in rows {
            println!("{r}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
