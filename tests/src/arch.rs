//! The architectures hwkit is built and tested for, and the machines the bed can boot.
//!
//! One table of names per architecture, so that Rust's target triple, Debian's
//! architecture, the GNU multiarch triplet (cross compiler prefix, library directory) and
//! QEMU's user-mode emulator are never spelled in two places.

use std::fmt;
use std::str::FromStr;

/// A CPU architecture hwkit ships for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// 64-bit x86 PCs (the development machines and CI).
    X86_64,
    /// 64-bit ARM: Raspberry Pi 3/4/5, Zero 2 W and CM on a 64-bit OS.
    Aarch64,
    /// 32-bit ARM hard-float: 32-bit Raspberry Pi OS and Debian armhf on Pi 2/3/4.
    Armv7,
}

impl Arch {
    /// Every architecture, in the order reports list them.
    pub const ALL: [Arch; 3] = [Arch::X86_64, Arch::Aarch64, Arch::Armv7];

    /// The architecture this program was compiled for.
    pub const fn host() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else if cfg!(target_arch = "arm") {
            Arch::Armv7
        } else {
            Arch::X86_64
        }
    }

    /// The short name used on command lines (`x86_64`, `aarch64`, `armv7`).
    pub const fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Armv7 => "armv7",
        }
    }

    /// Rust's target triple.
    pub const fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
            Arch::Armv7 => "armv7-unknown-linux-gnueabihf",
        }
    }

    /// Debian's name for the architecture (`dpkg --print-architecture`).
    pub const fn debian(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
            Arch::Armv7 => "armhf",
        }
    }

    /// The GNU multiarch triplet: the cross compiler's prefix and `/usr/lib/<triplet>`.
    pub const fn gnu(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-linux-gnu",
            Arch::Aarch64 => "aarch64-linux-gnu",
            Arch::Armv7 => "arm-linux-gnueabihf",
        }
    }

    /// QEMU's user-mode emulator for the architecture.
    pub const fn qemu_user(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-x86_64",
            Arch::Aarch64 => "qemu-aarch64",
            Arch::Armv7 => "qemu-arm",
        }
    }

    /// The dynamic loader's path that binaries of this architecture name (`PT_INTERP`).
    pub const fn interpreter(self) -> &'static str {
        match self {
            Arch::X86_64 => "/lib64/ld-linux-x86-64.so.2",
            Arch::Aarch64 => "/lib/ld-linux-aarch64.so.1",
            Arch::Armv7 => "/lib/ld-linux-armhf.so.3",
        }
    }

    /// The ELF `e_machine` value of the architecture's binaries.
    pub const fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Aarch64 => 183,
            Arch::Armv7 => 40,
        }
    }

    /// The names accepted for the architecture, for error messages.
    pub fn accepted() -> &'static str {
        "x86_64 (amd64), aarch64 (arm64), armv7 (armhf)"
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = String;

    /// Takes Rust's, Debian's and the triple's names: `aarch64`, `arm64`,
    /// `aarch64-unknown-linux-gnu`, `armv7`, `armhf`, `x86_64`, `amd64`, ...
    fn from_str(s: &str) -> Result<Arch, String> {
        Arch::ALL
            .into_iter()
            .find(|a| [a.name(), a.debian(), a.triple(), a.gnu()].contains(&s))
            .ok_or_else(|| {
                format!(
                    "unknown architecture {s:?}: supported are {}",
                    Arch::accepted()
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses_to_its_arch() {
        for a in Arch::ALL {
            for s in [a.name(), a.debian(), a.triple(), a.gnu()] {
                assert_eq!(s.parse::<Arch>(), Ok(a), "{s}");
            }
        }
    }

    #[test]
    fn unknown_arch_names_the_supported_ones() {
        let e = "riscv64".parse::<Arch>().unwrap_err();
        assert!(e.contains("\"riscv64\""), "{e}");
        assert!(e.contains("aarch64 (arm64)"), "{e}");
    }

    #[test]
    fn host_is_one_of_them() {
        assert!(Arch::ALL.contains(&Arch::host()));
    }
}
