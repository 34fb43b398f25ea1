//! Which Debian release's kernel a guest boots (`--kernel`), and which machines can boot it.
//!
//! The x86-64 `pc` boots any of three: Debian 12's 6.1 (the default, gpio-sim built out of
//! tree), Debian 13's 6.12 (Raspberry Pi OS trixie's series; gpio-sim built out of tree with
//! trixie's own compiler) and sid's newest (7.x: gpio-sim in tree, no uAPI v1, the per-chip
//! sysfs export). The ARM machines boot sid's arm64 kernel only: it is the only Debian arm64
//! kernel with gpio-sim and the Pi's pin controller built in.

use std::fmt;
use std::str::FromStr;

use crate::arch::{Arch, Machine};

/// A Debian release whose kernel the bed boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Suite {
    /// Debian 12: Linux 6.1; gpio-sim is built out of tree with the host's compiler.
    Bookworm,
    /// Debian 13: Linux 6.12; gpio-sim is built out of tree in a root of trixie's compiler.
    Trixie,
    /// Debian unstable: the newest kernel, with gpio-sim in tree.
    Sid,
}

impl Suite {
    /// Every suite, in the order the matrix runs and reports them.
    pub const ALL: [Suite; 3] = [Suite::Bookworm, Suite::Trixie, Suite::Sid];

    /// The suite's name (`--kernel`'s value and apt's suite).
    pub const fn name(self) -> &'static str {
        match self {
            Suite::Bookworm => "bookworm",
            Suite::Trixie => "trixie",
            Suite::Sid => "sid",
        }
    }

    /// What it is, for help and error texts.
    pub const fn describe(self) -> &'static str {
        match self {
            Suite::Bookworm => "Debian 12, Linux 6.1",
            Suite::Trixie => "Debian 13, Linux 6.12",
            Suite::Sid => "Debian unstable, the newest Linux",
        }
    }

    /// The kernel `machine` boots when `--kernel` is not given: bookworm's on `pc` (what
    /// the bed always booted), sid's on the ARM machines (the only one they boot).
    pub const fn default_for(machine: Machine) -> Suite {
        match machine.arch() {
            Arch::X86_64 => Suite::Bookworm,
            Arch::Aarch64 | Arch::Armv7 => Suite::Sid,
        }
    }

    /// The suites whose kernels `machine` boots.
    pub fn for_machine(machine: Machine) -> &'static [Suite] {
        match machine.arch() {
            Arch::X86_64 => &Suite::ALL,
            Arch::Aarch64 | Arch::Armv7 => &[Suite::Sid],
        }
    }

    /// The values `--kernel` takes, for error messages.
    pub fn accepted() -> String {
        let mut s: Vec<String> = Suite::ALL
            .iter()
            .map(|k| format!("{} ({})", k.name(), k.describe()))
            .collect();
        s.push("all (the three, one after another; `test` and `prepare` only)".into());
        s.join(", ")
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `--kernel`: one suite's kernel, or all of them in turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelSelection {
    /// One kernel.
    One(Suite),
    /// Every kernel the machine boots, one run each (the x86-64 matrix).
    All,
}

impl FromStr for KernelSelection {
    type Err = String;

    fn from_str(s: &str) -> Result<KernelSelection, String> {
        if s == "all" {
            return Ok(KernelSelection::All);
        }
        Suite::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .map(KernelSelection::One)
            .ok_or_else(|| format!("unknown kernel {s:?}: supported are {}", Suite::accepted()))
    }
}

/// The suites to boot on `machine` for `--kernel` as given (`None`: not given). A kernel
/// the machine cannot boot is refused, naming what it can; `all` on a machine that boots
/// one kernel only is refused too (it would silently mean that one).
pub fn select(machine: Machine, kernel: Option<KernelSelection>) -> Result<Vec<Suite>, String> {
    let bootable = Suite::for_machine(machine);
    match kernel {
        None => Ok(vec![Suite::default_for(machine)]),
        Some(KernelSelection::All) if bootable.len() > 1 => Ok(bootable.to_vec()),
        Some(KernelSelection::All) => Err(format!(
            "--kernel all is the x86-64 matrix ({}); the {machine} machine boots Debian {}'s \
             {} kernel only: leave --kernel out",
            Suite::ALL.map(Suite::name).join(", "),
            bootable[0],
            machine.arch().debian()
        )),
        Some(KernelSelection::One(k)) if bootable.contains(&k) => Ok(vec![k]),
        Some(KernelSelection::One(k)) => Err(format!(
            "--kernel {k}: the {machine} machine boots Debian {}'s {} kernel only (the only \
             Debian {} kernel with gpio-sim): leave --kernel out, or boot {k}'s kernel on the \
             x86-64 pc machine",
            bootable[0],
            machine.arch().debian(),
            machine.arch().debian(),
        )),
    }
}

/// The one suite to boot on `machine` (`vm`, `hwkit vm`): [`select`], with `all` refused
/// because one command runs in one VM.
pub fn select_one(machine: Machine, kernel: Option<KernelSelection>) -> Result<Suite, String> {
    if kernel == Some(KernelSelection::All) {
        return Err(format!(
            "--kernel all runs the tests on each kernel (`testbed test`); a command boots one \
             VM: choose one of {}",
            Suite::ALL.map(Suite::name).join(", ")
        ));
    }
    Ok(select(machine, kernel)?[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_unknown_ones_name_the_supported_ones() {
        for k in Suite::ALL {
            assert_eq!(
                k.name().parse::<KernelSelection>(),
                Ok(KernelSelection::One(k))
            );
        }
        assert_eq!("all".parse::<KernelSelection>(), Ok(KernelSelection::All));
        let e = "bullseye".parse::<KernelSelection>().unwrap_err();
        assert_eq!(
            e,
            "unknown kernel \"bullseye\": supported are bookworm (Debian 12, Linux 6.1), \
             trixie (Debian 13, Linux 6.12), sid (Debian unstable, the newest Linux), all (the \
             three, one after another; `test` and `prepare` only)"
        );
    }

    #[test]
    fn pc_boots_all_three_and_defaults_to_bookworm() {
        assert_eq!(select(Machine::Pc, None), Ok(vec![Suite::Bookworm]));
        assert_eq!(
            select(Machine::Pc, Some(KernelSelection::All)),
            Ok(Suite::ALL.to_vec())
        );
        for k in Suite::ALL {
            assert_eq!(
                select(Machine::Pc, Some(KernelSelection::One(k))),
                Ok(vec![k])
            );
            assert_eq!(
                select_one(Machine::Pc, Some(KernelSelection::One(k))),
                Ok(k)
            );
        }
    }

    #[test]
    fn arm_machines_boot_sid_only_and_contradictions_are_refused() {
        for m in [Machine::Virt, Machine::Raspi3b] {
            assert_eq!(select(m, None), Ok(vec![Suite::Sid]));
            assert_eq!(
                select(m, Some(KernelSelection::One(Suite::Sid))),
                Ok(vec![Suite::Sid])
            );
        }
        let e = select(Machine::Raspi3b, Some(KernelSelection::One(Suite::Trixie))).unwrap_err();
        assert_eq!(
            e,
            "--kernel trixie: the raspi3b machine boots Debian sid's arm64 kernel only (the \
             only Debian arm64 kernel with gpio-sim): leave --kernel out, or boot trixie's \
             kernel on the x86-64 pc machine"
        );
        let e = select(Machine::Virt, Some(KernelSelection::All)).unwrap_err();
        assert_eq!(
            e,
            "--kernel all is the x86-64 matrix (bookworm, trixie, sid); the virt machine boots \
             Debian sid's arm64 kernel only: leave --kernel out"
        );
    }

    #[test]
    fn a_command_boots_one_kernel() {
        let e = select_one(Machine::Pc, Some(KernelSelection::All)).unwrap_err();
        assert_eq!(
            e,
            "--kernel all runs the tests on each kernel (`testbed test`); a command boots one \
             VM: choose one of bookworm, trixie, sid"
        );
        assert_eq!(select_one(Machine::Virt, None), Ok(Suite::Sid));
    }
}
