//! `hwkit gpio get`: read line values, as `gpioget` does.

use std::process::ExitCode;

use clap::Args;
use hw::Value;

use super::lines::group_by_chip;
use super::output::print_values;
use super::period::parse_period;
use super::request::{check_interface, group_builder, send, LineOpts};
use super::Ctx;
use crate::CmdResult;

/// Arguments of `hwkit gpio get`.
#[derive(Args)]
pub(super) struct GetArgs {
    #[command(flatten)]
    pub opts: LineOpts,
    /// Leave the lines' direction as it is instead of making them inputs.
    #[arg(long, short = 'a')]
    pub as_is: bool,
    /// Wait this long between requesting the lines and reading them (PERIOD: a whole number
    /// with unit us, ms, s or m; a bare number is milliseconds).
    #[arg(long, short = 'p', value_name = "PERIOD")]
    pub hold_period: Option<String>,
    /// Print 1 (active) or 0 (inactive), separated by spaces, instead of "LINE"=value.
    #[arg(long)]
    pub numeric: bool,
    /// Print line names without quotes.
    #[arg(long)]
    pub unquoted: bool,
    /// Print one JSON document: {"values":[{"line","chip","offset","active"}]}.
    #[arg(long, conflicts_with_all = ["numeric", "unquoted"])]
    pub json: bool,
    /// hwkit: through the legacy /sys/class/gpio interface instead of the character device.
    #[arg(long)]
    pub sysfs: bool,
    /// The lines: line names; with --chip, offsets and names of that chip; or hwkit's board
    /// forms: header pins (pin11, J8:11), GPIO numbers (GPIO17, BCM17), chip:offset.
    #[arg(required = true, value_name = "LINE")]
    pub lines: Vec<String>,
}

/// Runs `hwkit gpio get`.
pub(super) fn run(a: GetArgs, ctx: &Ctx) -> CmdResult {
    check_interface(a.sysfs, ctx.backend)?;
    let hold_period = a.hold_period.as_deref().map(parse_period).transpose()?;
    let targets = ctx
        .resolver(a.opts.chip.as_deref(), a.opts.lookup)?
        .resolve_all(&a.lines)?;
    let mut values = vec![Value::Inactive; targets.len()];
    // One request per chip, each released before the next: values are read chip by chip.
    for g in group_by_chip(&targets) {
        let mut b = group_builder(&a.opts, ctx.uapi, &g, a.sysfs).with_lines(&g.offsets());
        if !a.as_is {
            b = b.as_input();
        }
        let req = send(b, a.sysfs, ctx).map_err(|e| -> Box<dyn std::error::Error> {
            // A line the daemon holds: say so, and which request to release.
            let busy = matches!(e, hw::Error::Busy { .. });
            let targets: Vec<_> = g.targets.iter().map(|(_, t)| *t).collect();
            match busy
                .then(|| crate::managed_cmd::held_by_daemon(&targets))
                .flatten()
            {
                Some(why) => why.into(),
                None => e.into(),
            }
        })?;
        if let Some(p) = hold_period {
            std::thread::sleep(p);
        }
        for ((i, _), v) in g.targets.iter().zip(req.values()?) {
            values[*i] = v;
        }
    }
    print_values(&targets, &values, a.json, a.unquoted, a.numeric)?;
    Ok(ExitCode::SUCCESS)
}
