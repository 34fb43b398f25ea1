//! `hwkit managed get`: read lines the daemon holds, printed as `hwkit gpio get` prints.

use std::process::ExitCode;

use clap::Args;
use hw::Value;

use super::held::by_request;
use super::Ctx;
use crate::gpio_cmd::lines::Lookup;
use crate::gpio_cmd::output::print_values;
use crate::CmdResult;

/// Arguments of `hwkit managed get`.
#[derive(Args)]
pub(super) struct GetArgs {
    /// Restrict the lines to this chip: LINEs are then its offsets and line names.
    #[arg(long, short, value_name = "CHIP")]
    chip: Option<String>,
    #[command(flatten)]
    lookup: Lookup,
    /// Print 1 (active) or 0 (inactive), separated by spaces, instead of "LINE"=value.
    #[arg(long)]
    numeric: bool,
    /// Print line names without quotes.
    #[arg(long)]
    unquoted: bool,
    /// Print one JSON document: {"values":[{"line","chip","offset","active"}]}.
    #[arg(long, conflicts_with_all = ["numeric", "unquoted"])]
    json: bool,
    /// The lines, as `hwkit gpio get` reads them.
    #[arg(required = true, value_name = "LINE")]
    lines: Vec<String>,
}

impl GetArgs {
    /// The LINE arguments.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// `--chip`.
    pub fn chip(&self) -> Option<&str> {
        self.chip.as_deref()
    }

    /// `--strict`, `--by-name`.
    pub fn lookup(&self) -> Lookup {
        self.lookup
    }
}

/// Runs `hwkit managed get`.
pub(super) fn run(a: GetArgs, ctx: &Ctx) -> CmdResult {
    let targets = ctx
        .resolver(a.chip.as_deref(), a.lookup)?
        .resolve_all(&a.lines)?;
    let client = ctx.client()?;
    let mut values = vec![Value::Inactive; targets.len()];
    for g in by_request(&client, &targets)? {
        let offsets: Vec<u32> = g.lines.iter().map(|(_, t, _)| t.offset).collect();
        let got = g.request.get_values(&offsets)?;
        for ((i, _, _), v) in g.lines.iter().zip(got) {
            values[*i] = v;
        }
    }
    print_values(&targets, &values, a.json, a.unquoted, a.numeric)?;
    Ok(ExitCode::SUCCESS)
}
