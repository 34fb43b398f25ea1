//! Helpers shared by the VM tests: one fresh gpio-sim chip per test, with a unique label.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use gpiosim::{Bank, Level};
use sysfs_gpio::{LineAddress, Sysfs};

/// Runs each named `fn case(io: IoPath)` once per I/O path, as `native::case` and `ffi::case`.
#[macro_export]
macro_rules! both_paths {
    ($($case:ident),* $(,)?) => {
        mod native {
            $( #[test] fn $case() { super::$case(sysfs_gpio::IoPath::Native) } )*
        }
        mod ffi {
            $( #[test] fn $case() { super::$case(sysfs_gpio::IoPath::Ffi) } )*
        }
    };
}

/// A simulated chip that lives as long as the test.
pub struct SimChip {
    pub sim: gpiosim::Sim,
    pub label: String,
}

/// A label no other chip in this VM has (labels are at most 31 bytes).
pub fn unique_label() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "sysfs-t{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl SimChip {
    /// A chip of `lines` lines.
    pub fn new(lines: u32) -> SimChip {
        Self::build(Bank::new(lines, unique_label()))
    }

    /// A chip whose line `offset` is hogged (held by the kernel) as an output by `consumer`.
    pub fn with_hog(lines: u32, offset: u32, consumer: &str) -> SimChip {
        let mut bank = Bank::new(lines, unique_label());
        bank.hog(offset, consumer, gpiosim::Direction::OutputHigh);
        Self::build(bank)
    }

    fn build(bank: Bank) -> SimChip {
        let label = bank.label.clone();
        let sim = gpiosim::builder()
            .with_bank(&bank)
            .live()
            .expect("gpio-sim chip goes live");
        SimChip { sim, label }
    }

    pub fn chip(&self) -> &gpiosim::Chip {
        &self.sim.chips()[0]
    }

    /// What the simulator sees the line driven to.
    pub fn level(&self, offset: u32) -> bool {
        self.chip().get_level(offset).expect("read simulated level") == Level::High
    }

    /// Drives an input from the outside, as a button or sensor would.
    pub fn pull(&self, offset: u32, high: bool) {
        let level = if high { Level::High } else { Level::Low };
        self.chip()
            .set_pull(offset, level)
            .expect("set simulated pull");
    }

    /// The per-chip export file (`/sys/class/gpio/chipN/export`, kernels 6.17+), if this
    /// kernel has one for the chip: where exports go then.
    pub fn per_chip_export(&self) -> Option<std::path::PathBuf> {
        let f = std::path::PathBuf::from(format!(
            "/sys/class/gpio/chip{}/export",
            self.device_number()
        ));
        f.exists().then_some(f)
    }

    /// `N` of `/dev/gpiochipN`.
    pub fn device_number(&self) -> u32 {
        self.chip()
            .chip_name
            .strip_prefix("gpiochip")
            .and_then(|n| n.parse().ok())
            .expect("gpio-sim chip name is gpiochipN")
    }

    pub fn address(&self, offset: u32) -> LineAddress {
        Sysfs::new()
            .resolve(self.label.as_str(), offset)
            .expect("resolve the simulated line")
    }

    /// The legacy sysfs directory of line `offset`.
    pub fn line_dir(&self, offset: u32) -> PathBuf {
        let n = self
            .address(offset)
            .global()
            .expect("6.1 has global numbers");
        PathBuf::from(format!("/sys/class/gpio/gpio{n}"))
    }
}
