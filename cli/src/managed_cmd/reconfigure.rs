//! `hwkit managed reconfigure`: new settings for a request's lines, which stay held.

use std::process::ExitCode;

use clap::Args;
use hw::{Direction, Value};

use super::settings::{line_and_value, SettingsArgs};
use super::Ctx;
use crate::gpio_cmd::lines::Lookup;
use crate::CmdResult;

/// Arguments of `hwkit managed reconfigure`.
#[derive(Args)]
pub(super) struct ReconfigureArgs {
    /// Restrict the LINEs to this chip: they are then its offsets and line names.
    #[arg(long, short, value_name = "CHIP")]
    chip: Option<String>,
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(flatten)]
    lookup: Lookup,
    /// The request: `request0` or `/io/gpiod1/requests/request0`.
    #[arg(value_name = "REQUEST")]
    request: String,
    /// Lines of the request to change (default: all of them), each with its output value
    /// (LINE=1) for outputs; an output without one keeps the value it drives.
    #[arg(value_name = "LINE[=VALUE]")]
    lines: Vec<String>,
}

impl ReconfigureArgs {
    /// The LINE names, once every value and the settings are checked.
    pub fn check(&self) -> Result<Vec<String>, String> {
        let lines = self.settings.for_lines(&self.lines)?;
        Ok(lines.into_iter().map(|(line, _)| line).collect())
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

/// Runs `hwkit managed reconfigure`.
pub(super) fn run(a: ReconfigureArgs, ctx: &Ctx) -> CmdResult {
    let client = ctx.client()?;
    let request = client.open(&a.request)?;
    let entry = request.entry()?;
    let chip = entry.chip.rsplit('/').next().unwrap_or_default().to_owned();
    // (the user's name for the line, offset, value given)
    let mut lines: Vec<(String, u32, Option<Value>)> = Vec::new();
    if a.lines.is_empty() {
        lines.extend(entry.offsets.iter().map(|o| (o.to_string(), *o, None)));
    } else {
        let pairs = a
            .lines
            .iter()
            .map(|l| line_and_value(l))
            .collect::<Result<Vec<_>, _>>()?;
        let names: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect();
        let targets = ctx
            .resolver(a.chip.as_deref(), a.lookup)?
            .resolve_all(&names)?;
        for (t, (_, v)) in targets.iter().zip(pairs) {
            if t.chip != chip || !entry.offsets.contains(&t.offset) {
                return Err(format!(
                    "line '{}' ({} offset {}) is not in {}, which holds offsets {:?} of {chip}",
                    t.arg,
                    t.chip,
                    t.offset,
                    request.name(),
                    entry.offsets
                )
                .into());
            }
            lines.push((t.arg.clone(), t.offset, v));
        }
    }
    let direction = a.settings.direction(lines.iter().any(|l| l.2.is_some()));
    // An output named without a value keeps the value it drives now.
    let now = request.get_values(&[])?;
    let current = |offset: u32| {
        entry
            .offsets
            .iter()
            .position(|o| *o == offset)
            .and_then(|i| now.get(i).copied())
    };
    let settings = lines
        .iter()
        .map(|(name, offset, v)| {
            let value = match (v, direction) {
                (None, Direction::Output) => current(*offset),
                _ => *v,
            };
            a.settings
                .for_line(name, direction, value)
                .map(|s| (*offset, s))
        })
        .collect::<Result<Vec<_>, _>>()?;
    request.reconfigure(&settings)?;
    Ok(ExitCode::SUCCESS)
}
