//! `hwkit gpio set`: drive lines and hold them.

use std::process::ExitCode;

use clap::Args;
use hw::{Drive, Value};
use nix::sys::signal::{SigSet, Signal};

use super::lines::group_by_chip;
use super::period::seconds;
use super::request::{check_interface, group_builder, send, LineOpts};
use super::Ctx;
use crate::CmdResult;

#[derive(Args)]
pub(super) struct SetArgs {
    #[command(flatten)]
    pub opts: LineOpts,
    /// Drive: push-pull, open-drain or open-source.
    #[arg(long, short)]
    pub drive: Option<Drive>,
    /// Hold the lines this many seconds, then release them and exit (default: until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub hold: Option<f64>,
    /// Through the legacy /sys/class/gpio interface instead of the character device (the
    /// lines are unexported on exit, Ctrl-C and SIGTERM included; not after SIGKILL).
    #[arg(long)]
    pub sysfs: bool,
    /// LINE=VALUE pairs (LINE as for get, e.g. pin11=1); VALUE is 1/0, active/inactive, on/off,
    /// high/low or true/false.
    #[arg(required = true, value_name = "LINE=VALUE")]
    pub values: Vec<String>,
}
pub(super) fn parse_assignment(s: &str) -> Result<(String, Value), String> {
    let (line, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not LINE=VALUE (e.g. GPIO17=1)"))?;
    let v = Value::parse(value).ok_or_else(|| {
        format!("'{value}' in '{s}' is not a value: use 1/0, active/inactive, on/off, high/low or true/false")
    })?;
    if line.is_empty() {
        return Err(format!("'{s}' has no line before '='"));
    }
    Ok((line.to_owned(), v))
}
/// Runs `hwkit gpio set`.
pub(super) fn run(a: SetArgs, ctx: &Ctx) -> CmdResult {
    check_interface(a.sysfs, ctx.backend)?;
    let pairs: Vec<(String, Value)> = a
        .values
        .iter()
        .map(|s| parse_assignment(s))
        .collect::<Result<_, _>>()?;
    let hold = a.hold.map(|h| seconds("--hold", h)).transpose()?;
    let names: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect();
    let targets = ctx.resolver(a.opts.chip.as_deref())?.resolve_all(&names)?;
    // Blocked before any line is driven, so Ctrl-C or SIGTERM at any moment ends in the release
    // below (which matters for sysfs: the kernel keeps sysfs exports after the process dies).
    let signals = match hold {
        Some(_) => None,
        None => Some(block_exit_signals()?),
    };
    let mut held = Vec::new();
    for g in group_by_chip(&targets) {
        let mut b = group_builder(&a.opts, ctx.uapi, &g, a.sysfs);
        if let Some(drive) = a.drive {
            b = b.with_drive(drive);
        }
        // Each line starts as an output at its own value.
        for (i, t) in &g.targets {
            b = b.with_line(t.offset).as_output(pairs[*i].1);
        }
        held.push(send(b, a.sysfs, ctx)?);
    }
    match (hold, signals) {
        (Some(d), _) => std::thread::sleep(d),
        (None, Some(signals)) => {
            let chips: Vec<&str> = held.iter().map(|r| r.chip().name.as_str()).collect();
            eprintln!(
                "hwkit: holding {} line(s) on {}; press Ctrl-C to release",
                targets.len(),
                chips.join(", ")
            );
            let sig = signals
                .wait()
                .map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
            eprintln!("hwkit: {sig}: releasing the lines");
        }
        (None, None) => unreachable!("signals are blocked whenever there is no --hold"),
    }
    drop(held);
    Ok(ExitCode::SUCCESS)
}

/// Blocks SIGINT, SIGTERM and SIGHUP so they can be waited for instead of killing the process
/// (hwkit is single-threaded, so no other thread receives them).
fn block_exit_signals() -> Result<SigSet, String> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block()
        .map_err(|e| format!("blocking Ctrl-C until the lines are held: {e}"))?;
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_parse() {
        assert_eq!(
            parse_assignment("GPIO17=1").unwrap(),
            ("GPIO17".into(), Value::Active)
        );
        assert_eq!(
            parse_assignment("3=off").unwrap(),
            ("3".into(), Value::Inactive)
        );
        assert!(parse_assignment("GPIO17")
            .unwrap_err()
            .contains("not LINE=VALUE"));
        assert!(parse_assignment("GPIO17=2")
            .unwrap_err()
            .contains("is not a value"));
        assert!(parse_assignment("=1").unwrap_err().contains("no line"));
    }
}
