//! `hwkit managed request`: the daemon requests the lines and holds them; hwkit prints the
//! request's name and returns.

use std::process::ExitCode;

use clap::Args;
use hw::managed::{Client, ManagedLines, ManagedRequest};
use hw::LineSettings;

use super::settings::SettingsArgs;
use super::Ctx;
use crate::gpio_cmd::lines::{group_by_chip, Lookup, Target};
use crate::CmdResult;

/// Arguments of `hwkit managed request`.
#[derive(Args)]
pub(super) struct RequestArgs {
    /// Restrict the lines to this chip (`0`, `gpiochip0`, `/dev/gpiochip0` or a label): LINEs
    /// are then its offsets and line names.
    #[arg(long, short, value_name = "CHIP")]
    chip: Option<String>,
    /// Consumer label of the requested lines, shown in line info.
    #[arg(long, short = 'C', value_name = "NAME", default_value = "hwkit")]
    consumer: String,
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(flatten)]
    lookup: Lookup,
    /// The lines, as `hwkit gpio` reads them (pin11, GPIO17, names, chip:offset), each with
    /// its output value (LINE=1) for outputs.
    #[arg(required = true, value_name = "LINE[=VALUE]")]
    lines: Vec<String>,
}

impl RequestArgs {
    /// The lines' names and settings, read and checked.
    fn parsed(&self) -> Result<(Vec<String>, Vec<LineSettings>), String> {
        Ok(self.settings.for_lines(&self.lines)?.into_iter().unzip())
    }

    /// The LINE names, once every value and setting is checked.
    pub fn check(&self) -> Result<Vec<String>, String> {
        self.parsed().map(|p| p.0)
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

/// Runs `hwkit managed request`.
pub(super) fn run(a: RequestArgs, ctx: &Ctx) -> CmdResult {
    let (names, settings) = a.parsed()?;
    let targets = ctx
        .resolver(a.chip.as_deref(), a.lookup)?
        .resolve_all(&names)?;
    let client = ctx.client()?;
    for r in hold(&client, &targets, &settings, &a.consumer)? {
        println!("{}", r.name());
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks the daemon for `targets` with `settings` (one per target), one request per chip,
/// all or nothing: if a chip's request fails, the ones made before it are released.
pub(crate) fn hold(
    client: &Client,
    targets: &[Target],
    settings: &[LineSettings],
    consumer: &str,
) -> Result<Vec<ManagedRequest>, hw::managed::Error> {
    let mut made: Vec<ManagedRequest> = Vec::new();
    for g in group_by_chip(targets) {
        let lines = g
            .targets
            .iter()
            .fold(ManagedLines::new().consumer(consumer), |l, (i, t)| {
                l.with_line(t.offset, settings[*i])
            });
        match client.request(g.chip, &lines) {
            Ok(r) => made.push(r),
            Err(e) => {
                for r in made {
                    // Best effort: the error that matters is the one being returned.
                    let _ = r.release();
                }
                return Err(e);
            }
        }
    }
    Ok(made)
}
