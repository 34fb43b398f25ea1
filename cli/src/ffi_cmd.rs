//! `hwkit ffi`: filled by its issue.

use clap::Args;

use crate::CmdResult;

/// Arguments of `hwkit ffi`.
#[derive(Args)]
pub struct FfiArgs {}

/// Runs `hwkit ffi`.
pub fn run(_args: FfiArgs) -> CmdResult {
    Err("`hwkit ffi` is not built yet".into())
}
