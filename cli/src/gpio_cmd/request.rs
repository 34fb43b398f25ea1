//! Requesting lines the way every line command does: the options they share (`--chip`,
//! `--active-low`, `--bias`, `--consumer`), one builder per chip, and the interface
//! (`--sysfs`, `--backend`) the request goes through.

use clap::Args;
use hw::{Bias, Request, RequestBuilder, SysfsBackend, Uapi};

use super::backend::BackendChoice;
use super::lines::{ChipGroup, Lookup};
use super::Ctx;

/// The options every line command shares, named as libgpiod's tools name them.
#[derive(Args)]
pub(super) struct LineOpts {
    /// Restrict the lines to this chip (`0`, `gpiochip0`, `/dev/gpiochip0` or a label): LINEs
    /// are then its offsets and line names.
    #[arg(long, short, value_name = "CHIP")]
    pub chip: Option<String>,
    /// Treat the lines as active-low.
    #[arg(long, short = 'l')]
    pub active_low: bool,
    /// Bias: pull-up, pull-down or disabled (default: as it is).
    #[arg(long, short, value_name = "BIAS")]
    pub bias: Option<Bias>,
    /// Consumer label of the requested lines, shown in line info.
    #[arg(long, short = 'C', value_name = "NAME", default_value = "hwkit")]
    pub consumer: String,
    #[command(flatten)]
    pub lookup: Lookup,
}

impl LineOpts {}

/// `--sysfs` and `--backend` choose different interfaces.
pub(super) fn check_interface(sysfs: bool, backend: Option<BackendChoice>) -> Result<(), String> {
    match backend {
        Some(b) if sysfs => Err(format!(
            "--sysfs and --backend {b} choose two different interfaces (sysfs, {}): give one \
             of them",
            match b {
                BackendChoice::Cdev(_) => "character device",
                BackendChoice::Libgpiod(_) => "libgpiod",
            }
        )),
        _ => Ok(()),
    }
}
/// A builder for one chip's lines with the options every line command shares; lines added
/// afterwards start from these settings.
pub(super) fn group_builder(
    opts: &LineOpts,
    uapi: Option<Uapi>,
    g: &ChipGroup,
    sysfs: bool,
) -> RequestBuilder {
    let mut b = Request::builder()
        .consumer(opts.consumer.clone())
        .with_uapi_choice(uapi);
    // sysfs finds the chip by kernel name (its legacy directory is named by base, not number).
    b = if sysfs {
        b.on_chip_named(g.chip)
    } else {
        b.on_chip(g.dev_path)
    };
    if opts.active_low {
        b = b.as_active_low();
    }
    if let Some(bias) = opts.bias {
        b = b.with_bias(bias);
    }
    b
}

/// Requests through sysfs, libgpiod or the character device.
pub(super) fn send(b: RequestBuilder, sysfs: bool, ctx: &Ctx) -> hw::Result<Request> {
    if sysfs {
        return b.request_with(&SysfsBackend::native());
    }
    match ctx
        .backend
        .map(BackendChoice::libgpiod)
        .transpose()?
        .flatten()
    {
        Some(gpiod) => b.request_with(&gpiod),
        None => b.request(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hw::Uapi;

    #[test]
    fn sysfs_and_a_uapi_are_exclusive() {
        assert!(check_interface(true, None).is_ok());
        let v2 = Some(BackendChoice::Cdev(Uapi::V2));
        assert!(check_interface(false, v2).is_ok());
        let e = check_interface(true, v2).unwrap_err();
        assert!(e.contains("--sysfs and --backend v2"), "{e}");
        assert!(e.contains("(sysfs, character device)"), "{e}");
        let e = check_interface(true, Some(BackendChoice::Libgpiod(None))).unwrap_err();
        assert!(e.contains("--sysfs and --backend libgpiod"), "{e}");
        assert!(e.contains("(sysfs, libgpiod)"), "{e}");
    }
}
