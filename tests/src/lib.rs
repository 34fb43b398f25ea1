//! hwkit's real-kernel test bed.
//!
//! GPIO code is tested against the Linux kernel's own drivers: the bed boots Debian's
//! kernel (bookworm's, trixie's or sid's: [`suite`]) in QEMU with the `gpio-sim` driver
//! (built out of tree when the distro lacks it),
//! runs the workspace's `vm_*` test binaries inside as root, and reports their results.
//! The same machinery backs `hwkit vm`, which runs any command next to simulated chips.
//!
//! * [`run::run_tests`]: build the VM tests, boot, run them, report (`testbed test`).
//! * [`run::run_command`]: boot with chips from a [`spec::ChipSpec`] list and run a command
//!   (`testbed vm`, `hwkit vm`).
//! * [`run::prepare`]: warm the cache only. [`cache::clean`]: empty it.
//! * [`sim`]: helpers for tests on top of the `gpiosim` crate.
//! * [`syscall_filter`]: run a program as if the kernel lacked a system call
//!   (`testbed without-syscall`), for the fallbacks taken on such kernels.
//! * [`dbus`]: a private system bus (`dbus-daemon`) with `hwkitd` on it, for the daemon's
//!   tests and its clients'.
//!
//! See `tests/README.md` for the cache layout and how runs work.

#![deny(missing_docs)]

pub mod arch;
pub mod build;
pub mod buildroot;
pub mod cache;
pub mod cli_args;
pub mod cpio;
pub mod dbus;
pub mod debian_bins;
pub mod debian_libs;
pub mod error;
pub mod foreign_apt;
pub mod host;
pub mod initramfs;
pub mod kernel;
pub mod package_cache;
pub mod qemu;
pub mod run;
pub mod sid_kernel;
pub mod sim;
pub mod spec;
pub mod suite;
pub mod syscall_filter;
pub mod vm;

pub use arch::{Arch, Machine};
pub use error::{Error, Result};
pub use run::{run_command, run_tests, GuestBinary, TestOptions, TestReport, VmOptions};
pub use spec::{parse_chips, ChipSpec, SpecError};
pub use suite::{KernelSelection, Suite};
