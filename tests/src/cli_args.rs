//! Command-line arguments shared by `testbed` and `hwkit vm`: which machine and kernel to
//! boot.

use clap::Args;

use crate::arch::{Arch, Machine};
use crate::error::{Error, Result};
use crate::suite::{self, KernelSelection, Suite};

/// `--arch`, `--machine` and `--kernel`.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineArgs {
    /// The guest's architecture: x86_64 (boots the pc machine) or aarch64 (boots virt).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<Arch>,
    /// The emulated machine: pc (x86_64), virt (aarch64) or raspi3b (aarch64: a Raspberry
    /// Pi 3 Model B with the kernel's real Pi GPIO driver; runs the vm_pi_* tests).
    #[arg(long, value_name = "MACHINE")]
    pub machine: Option<Machine>,
    /// The guest kernel: bookworm (Debian 12's 6.1, the default on x86_64), trixie
    /// (Debian 13's 6.12), sid (Debian unstable's newest; the ARM machines boot only it),
    /// or all (x86_64: each in turn, `test` and `prepare` only).
    #[arg(long, value_name = "KERNEL")]
    pub kernel: Option<KernelSelection>,
}

impl MachineArgs {
    /// The machine they select ([`Machine::select`]); a contradiction is a usage error.
    pub fn machine(&self) -> Result<Machine> {
        Machine::select(self.arch, self.machine).map_err(Error::Usage)
    }

    /// The machine and the kernels to boot on it in turn ([`suite::select`]); a kernel the
    /// machine cannot boot is a usage error.
    pub fn kernels(&self) -> Result<(Machine, Vec<Suite>)> {
        let machine = self.machine()?;
        let kernels = suite::select(machine, self.kernel).map_err(Error::Usage)?;
        Ok((machine, kernels))
    }

    /// The machine and the one kernel to boot ([`suite::select_one`]: `all` is refused).
    pub fn kernel(&self) -> Result<(Machine, Suite)> {
        let machine = self.machine()?;
        let kernel = suite::select_one(machine, self.kernel).map_err(Error::Usage)?;
        Ok((machine, kernel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        m: MachineArgs,
    }

    fn parse(argv: &[&str]) -> std::result::Result<MachineArgs, String> {
        Cli::try_parse_from(std::iter::once("x").chain(argv.iter().copied()))
            .map(|c| c.m)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn arch_and_machine_are_parsed_and_combined() {
        assert_eq!(
            parse(&["--arch", "arm64"]).unwrap().machine().unwrap(),
            Machine::Virt
        );
        assert_eq!(
            parse(&["--machine", "raspi3b"]).unwrap().machine().unwrap(),
            Machine::Raspi3b
        );
        assert_eq!(parse(&[]).unwrap().machine().unwrap(), Machine::default());
        let e = parse(&["--arch", "x86_64", "--machine", "virt"])
            .unwrap()
            .machine()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--machine virt is an aarch64 machine, not x86_64"),
            "{e}"
        );
    }

    #[test]
    fn kernels_follow_the_machine_and_contradictions_are_usage_errors() {
        let (m, k) = parse(&["--kernel", "all"]).unwrap().kernels().unwrap();
        assert_eq!((m, k), (Machine::Pc, Suite::ALL.to_vec()));
        assert_eq!(
            parse(&["--kernel", "trixie"]).unwrap().kernel().unwrap(),
            (Machine::Pc, Suite::Trixie)
        );
        assert_eq!(
            parse(&["--machine", "raspi3b"]).unwrap().kernel().unwrap(),
            (Machine::Raspi3b, Suite::Sid)
        );
        let e = parse(&["--arch", "aarch64", "--kernel", "bookworm"])
            .unwrap()
            .kernels()
            .unwrap_err();
        assert!(matches!(e, Error::Usage(_)), "{e:?}");
        assert!(
            e.to_string()
                .contains("the virt machine boots Debian sid's arm64 kernel only"),
            "{e}"
        );
        let e = parse(&["--kernel", "all"]).unwrap().kernel().unwrap_err();
        assert!(e.to_string().contains("a command boots one VM"), "{e}");
    }

    #[test]
    fn unknown_values_name_the_supported_ones() {
        let e = parse(&["--arch", "mips"]).unwrap_err();
        assert!(
            e.contains("supported are x86_64 (amd64), aarch64 (arm64)"),
            "{e}"
        );
        let e = parse(&["--machine", "raspi5"]).unwrap_err();
        assert!(
            e.contains("supported are pc (x86_64), virt (aarch64), raspi3b (aarch64)"),
            "{e}"
        );
        let e = parse(&["--kernel", "jessie"]).unwrap_err();
        assert!(
            e.contains(
                "unknown kernel \"jessie\": supported are bookworm (Debian 12, Linux 6.1), trixie"
            ),
            "{e}"
        );
    }
}
