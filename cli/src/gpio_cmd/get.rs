//! `hwkit gpio get`: read line values.

use std::process::ExitCode;

use clap::Args;
use hw::Value;

use super::lines::group_by_chip;
use super::request::{check_interface, group_builder, send, LineOpts};
use super::Ctx;
use crate::CmdResult;

#[derive(Args)]
pub(super) struct GetArgs {
    #[command(flatten)]
    pub opts: LineOpts,
    /// Request the lines as they are instead of as inputs.
    #[arg(long)]
    pub as_is: bool,
    /// Print 0/1 separated by spaces instead of "LINE"=value.
    #[arg(long)]
    pub numeric: bool,
    /// Through the legacy /sys/class/gpio interface instead of the character device.
    #[arg(long)]
    pub sysfs: bool,
    /// The lines: header pins (pin11, J8:11), GPIO numbers (GPIO17, BCM17), line names or
    /// chip:offset; with --chip, offsets and line names of that chip.
    #[arg(required = true, value_name = "LINE")]
    pub lines: Vec<String>,
}
/// Runs `hwkit gpio get`.
pub(super) fn run(a: GetArgs, ctx: &Ctx) -> CmdResult {
    check_interface(a.sysfs, ctx.backend)?;
    let targets = ctx
        .resolver(a.opts.chip.as_deref())?
        .resolve_all(&a.lines)?;
    let mut values = vec![Value::Inactive; targets.len()];
    // One request per chip, each released before the next: values are read chip by chip.
    for g in group_by_chip(&targets) {
        let mut b = group_builder(&a.opts, ctx.uapi, &g, a.sysfs).with_lines(&g.offsets());
        if !a.as_is {
            b = b.as_input();
        }
        let req = send(b, a.sysfs, ctx)?;
        for ((i, _), v) in g.targets.iter().zip(req.values()?) {
            values[*i] = v;
        }
    }
    let out: Vec<String> = targets
        .iter()
        .zip(&values)
        .map(|(t, v)| {
            if a.numeric {
                u8::from(*v).to_string()
            } else {
                format!("\"{}\"={v}", t.arg)
            }
        })
        .collect();
    println!("{}", out.join(" "));
    Ok(ExitCode::SUCCESS)
}
