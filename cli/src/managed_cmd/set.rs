//! `hwkit managed set`: drive lines the daemon holds, found by the lines themselves.

use std::process::ExitCode;

use clap::Args;
use hw::{Direction, Value};

use super::held::by_request;
use super::Ctx;
use crate::gpio_cmd::lines::Lookup;
use crate::gpio_cmd::set::parse_assignment;
use crate::CmdResult;

/// Arguments of `hwkit managed set`.
#[derive(Args)]
pub(super) struct SetArgs {
    /// Restrict the lines to this chip: LINEs are then its offsets and line names.
    #[arg(long, short, value_name = "CHIP")]
    chip: Option<String>,
    #[command(flatten)]
    lookup: Lookup,
    /// LINE=VALUE pairs (LINE as for `hwkit gpio`); VALUE is 1/0, active/inactive, on/off,
    /// high/low or true/false.
    #[arg(required = true, value_name = "LINE=VALUE")]
    values: Vec<String>,
}

impl SetArgs {
    /// The LINE=VALUE pairs, read.
    fn pairs(&self) -> Result<Vec<(String, Value)>, String> {
        self.values.iter().map(|s| parse_assignment(s)).collect()
    }

    /// The LINE names, once every value is checked.
    pub fn check(&self) -> Result<Vec<String>, String> {
        Ok(self.pairs()?.into_iter().map(|p| p.0).collect())
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

/// Runs `hwkit managed set`.
pub(super) fn run(a: SetArgs, ctx: &Ctx) -> CmdResult {
    let pairs = a.pairs()?;
    let names: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect();
    let targets = ctx
        .resolver(a.chip.as_deref(), a.lookup)?
        .resolve_all(&names)?;
    let client = ctx.client()?;
    let groups = by_request(&client, &targets)?;
    // Every line checked before any is driven.
    for g in &groups {
        for (_, t, line) in &g.lines {
            if line.info.direction != Direction::Output {
                return Err(format!(
                    "line '{}' is an input in {}: an input takes no value; make it an output \
                     first (`hwkit managed reconfigure {} --direction output`)",
                    t.arg,
                    g.request.name(),
                    g.request.name()
                )
                .into());
            }
        }
    }
    for g in &groups {
        let values: Vec<_> = g
            .lines
            .iter()
            .map(|(i, t, _)| (t.offset, pairs[*i].1))
            .collect();
        g.request.set_values(&values)?;
    }
    Ok(ExitCode::SUCCESS)
}
