//! `hwkit gpio`: filled by its issue.

use clap::Args;

use crate::CmdResult;

/// Arguments of `hwkit gpio`.
#[derive(Args)]
pub struct GpioArgs {}

/// Runs `hwkit gpio`.
pub fn run(_args: GpioArgs) -> CmdResult {
    Err("`hwkit gpio` is not built yet".into())
}
