//! The legacy `/sys/class/gpio` interface, done right.
//!
//! - **Numbering** by chip label and offset, checked against `ngpio`, never assuming base 0
//!   ([`Sysfs::resolve`]); per-chip `chipN/export` where the kernel has it.
//! - **Idempotent export**: an already exported line is used as is and never unexported by us;
//!   after our own export we wait (bounded) for udev to fix permissions.
//! - **Held file descriptors**: `value` is opened once; reads and writes are `pread`/`pwrite` at
//!   offset 0.
//! - **Edge events**: `poll` for `POLLPRI|POLLERR`, re-read from offset 0; a blocking iterator;
//!   the raw fd for epoll users.
//! - **Two I/O paths** ([`IoPath`]): direct system calls, or the same libc calls through
//!   `ffi-core`'s dynamic FFI.
//! - **embedded-hal 1.0** `InputPin`, `OutputPin`, `StatefulOutputPin`.
//! - **Errors that explain**: the 6.6 renumbering on `EINVAL`, who holds a line on `EBUSY`,
//!   missing `CONFIG_GPIO_SYSFS`, the udev rule on `EACCES`.
//!
//! ```no_run
//! use sysfs_gpio::{Edge, IoPath, Sysfs};
//!
//! # fn main() -> sysfs_gpio::Result<()> {
//! let gpio = Sysfs::new();
//! // Header pin 11 of a Raspberry Pi 4: BCM line 17, whatever base the kernel chose.
//! let mut led = gpio.open_line("pinctrl-bcm2711", 17, IoPath::Native)?;
//! led.set_output(false)?;
//! led.set_value(true)?;
//!
//! let mut button = gpio.open_line("pinctrl-bcm2711", 27, IoPath::Native)?;
//! button.set_input()?;
//! button.set_edge(Edge::Falling)?;
//! if let Some(event) = button.wait_for_edge(Some(std::time::Duration::from_secs(5)))? {
//!     println!("pressed: {event:?}");
//! }
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod error;
mod events;
mod export;
mod ffi_libc;
mod hal;
mod io;
mod line;
mod numbering;

pub use error::{Error, Result};
pub use events::{EdgeEvent, EdgeKind, Events};
pub use export::SETTLE_TIMEOUT;
pub use io::IoPath;
pub use line::{Direction, Edge, SysfsLine};
pub use numbering::{ChipInfo, ChipSelector, ExportPlan, LineAddress, Sysfs, DEFAULT_ROOT};

/// Entry points for the fuzz targets in `fuzz/`: not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::numbering::{ChipInfo, LineAddress};

    /// The consumer that debugfs text `text` names for line `offset` of the chip labelled
    /// `label` (with `base` and device number `device`), as an `EBUSY` export error reads it.
    pub fn debugfs_holder(
        text: &str,
        label: &str,
        base: Option<u32>,
        device: Option<u32>,
        offset: u32,
    ) -> Option<String> {
        let line = LineAddress {
            chip: ChipInfo {
                label: label.to_owned(),
                ngpio: offset.saturating_add(1),
                base,
                device,
                legacy_dir: None,
                chip_dir: None,
            },
            offset,
        };
        crate::error::parse_debugfs_holder(text, &line)
    }
}

/// The README's example, compiled as a doctest so it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
