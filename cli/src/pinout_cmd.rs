//! `hwkit pinout`: filled by its issue.

use clap::Args;

use crate::CmdResult;

/// Arguments of `hwkit pinout`.
#[derive(Args)]
pub struct PinoutArgs {}

/// Runs `hwkit pinout`.
pub fn run(_args: PinoutArgs) -> CmdResult {
    Err("`hwkit pinout` is not built yet".into())
}
