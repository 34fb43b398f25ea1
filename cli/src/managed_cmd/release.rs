//! `hwkit managed release`: release requests, by name (`request0`), object path, or any of
//! their lines.

use std::process::ExitCode;

use clap::Args;
use hw::managed::ManagedRequest;

use super::held::{by_request, is_request_name};
use super::Ctx;
use crate::gpio_cmd::lines::Lookup;
use crate::CmdResult;

/// Arguments of `hwkit managed release`.
#[derive(Args)]
pub(super) struct ReleaseArgs {
    /// Restrict the LINEs to this chip: they are then its offsets and line names.
    #[arg(long, short, value_name = "CHIP")]
    chip: Option<String>,
    #[command(flatten)]
    lookup: Lookup,
    /// Requests (`request0`, `/io/gpiod1/requests/request0`) or lines they hold (as for
    /// `hwkit gpio`: pin11, GPIO17, names, chip:offset).
    #[arg(required = true, value_name = "REQUEST|LINE")]
    what: Vec<String>,
}

impl ReleaseArgs {
    /// The REQUEST|LINE arguments.
    pub fn what(&self) -> &[String] {
        &self.what
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

/// Runs `hwkit managed release`.
pub(super) fn run(a: ReleaseArgs, ctx: &Ctx) -> CmdResult {
    let client = ctx.client()?;
    let (named, lines): (Vec<String>, Vec<String>) =
        a.what.into_iter().partition(|w| is_request_name(w));
    // Every argument is found before anything is released.
    let mut requests: Vec<ManagedRequest> = named
        .iter()
        .map(|n| client.open(n))
        .collect::<Result<_, _>>()?;
    if !lines.is_empty() {
        let targets = ctx
            .resolver(a.chip.as_deref(), a.lookup)?
            .resolve_all(&lines)?;
        for g in by_request(&client, &targets)? {
            requests.push(g.request);
        }
    }
    let mut done: Vec<String> = Vec::new();
    for r in requests {
        if done.iter().any(|d| d == r.path()) {
            continue;
        }
        done.push(r.path().to_owned());
        r.release()?;
    }
    Ok(ExitCode::SUCCESS)
}
