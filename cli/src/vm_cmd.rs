//! `hwkit vm`: filled by its issue.

use clap::Args;

use crate::CmdResult;

/// Arguments of `hwkit vm`.
#[derive(Args)]
pub struct VmArgs {}

/// Runs `hwkit vm`.
pub fn run(_args: VmArgs) -> CmdResult {
    Err("`hwkit vm` is not built yet".into())
}
