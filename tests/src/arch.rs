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

/// A machine QEMU emulates for the bed's VMs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Machine {
    /// QEMU's x86-64 `pc`: gpio-sim chips only.
    Pc,
    /// QEMU's arm64 `virt`: gpio-sim chips (and the board's PL061).
    Virt,
    /// QEMU's Raspberry Pi 3 Model B: the kernel's real `pinctrl-bcm2835` driver with the
    /// Pi's 54 lines and its device tree, and gpio-sim chips beside it.
    Raspi3b,
}

impl Machine {
    /// Every machine, in the order help texts list them.
    pub const ALL: [Machine; 3] = [Machine::Pc, Machine::Virt, Machine::Raspi3b];

    /// The name used on command lines (QEMU's own: `pc`, `virt`, `raspi3b`).
    pub const fn name(self) -> &'static str {
        match self {
            Machine::Pc => "pc",
            Machine::Virt => "virt",
            Machine::Raspi3b => "raspi3b",
        }
    }

    /// The architecture of its CPU (and so of every binary the guest runs).
    pub const fn arch(self) -> Arch {
        match self {
            Machine::Pc => Arch::X86_64,
            Machine::Virt | Machine::Raspi3b => Arch::Aarch64,
        }
    }

    /// The machine `--arch` alone boots, if any.
    pub const fn default_for(arch: Arch) -> Option<Machine> {
        match arch {
            Arch::X86_64 => Some(Machine::Pc),
            Arch::Aarch64 => Some(Machine::Virt),
            Arch::Armv7 => None,
        }
    }

    /// Whether it is a Raspberry Pi with the real Pi GPIO driver (it runs the `vm_pi_*`
    /// test targets, and only those).
    pub const fn is_raspberry_pi(self) -> bool {
        matches!(self, Machine::Raspi3b)
    }

    /// The machines and their architectures, for error messages.
    pub fn accepted() -> String {
        Machine::ALL
            .iter()
            .map(|m| format!("{} ({})", m.name(), m.arch()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The machine for `--arch` and `--machine` as given: `--machine` implies its
    /// architecture, `--arch` alone its default machine, neither the host's. A machine of
    /// another architecture than `--arch` is refused, naming what would work.
    pub fn select(arch: Option<Arch>, machine: Option<Machine>) -> Result<Machine, String> {
        match (arch, machine) {
            (_, None) => {
                let arch = arch.unwrap_or(Arch::host());
                Machine::default_for(arch).ok_or_else(|| {
                    let bootable: Vec<String> = Arch::ALL
                        .iter()
                        .filter(|a| Machine::default_for(**a).is_some())
                        .map(|a| a.to_string())
                        .collect();
                    format!(
                        "no VM machine boots {arch} yet: --arch takes {}",
                        bootable.join(" or ")
                    )
                })
            }
            (Some(a), Some(m)) if m.arch() != a => Err(format!(
                "--machine {m} is an {} machine, not {a}: use --arch {} or leave --arch out",
                m.arch(),
                m.arch()
            )),
            (_, Some(m)) => Ok(m),
        }
    }
}

impl Default for Machine {
    /// The host architecture's machine: the x86-64 `pc` on the project's machines.
    fn default() -> Self {
        Machine::default_for(Arch::host()).unwrap_or(Machine::Pc)
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Machine {
    type Err = String;

    fn from_str(s: &str) -> Result<Machine, String> {
        Machine::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown machine {s:?}: supported are {}",
                    Machine::accepted()
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

    #[test]
    fn machines_parse_and_name_their_arch() {
        for m in Machine::ALL {
            assert_eq!(m.name().parse::<Machine>(), Ok(m));
        }
        assert_eq!(Machine::Raspi3b.arch(), Arch::Aarch64);
        let e = "raspi4b".parse::<Machine>().unwrap_err();
        assert_eq!(
            e,
            "unknown machine \"raspi4b\": supported are pc (x86_64), virt (aarch64), raspi3b (aarch64)"
        );
    }

    #[test]
    fn machine_selection_follows_arch_and_refuses_contradictions() {
        assert_eq!(Machine::select(None, None), Ok(Machine::default()));
        assert_eq!(
            Machine::select(Some(Arch::Aarch64), None),
            Ok(Machine::Virt)
        );
        assert_eq!(Machine::select(Some(Arch::X86_64), None), Ok(Machine::Pc));
        assert_eq!(
            Machine::select(None, Some(Machine::Raspi3b)),
            Ok(Machine::Raspi3b)
        );
        assert_eq!(
            Machine::select(Some(Arch::Aarch64), Some(Machine::Raspi3b)),
            Ok(Machine::Raspi3b)
        );
        let e = Machine::select(Some(Arch::X86_64), Some(Machine::Raspi3b)).unwrap_err();
        assert_eq!(
            e,
            "--machine raspi3b is an aarch64 machine, not x86_64: use --arch aarch64 or leave --arch out"
        );
        let e = Machine::select(Some(Arch::Armv7), None).unwrap_err();
        assert_eq!(
            e,
            "no VM machine boots armv7 yet: --arch takes x86_64 or aarch64"
        );
    }
}
