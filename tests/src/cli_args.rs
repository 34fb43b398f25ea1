//! Command-line arguments shared by `testbed` and `hwkit vm`: which machine to boot.

use clap::Args;

use crate::arch::{Arch, Machine};
use crate::error::{Error, Result};

/// `--arch` and `--machine`.
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineArgs {
    /// The guest's architecture: x86_64 (boots the pc machine) or aarch64 (boots virt).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<Arch>,
    /// The emulated machine: pc (x86_64), virt (aarch64) or raspi3b (aarch64: a Raspberry
    /// Pi 3 Model B with the kernel's real Pi GPIO driver; runs the vm_pi_* tests).
    #[arg(long, value_name = "MACHINE")]
    pub machine: Option<Machine>,
}

impl MachineArgs {
    /// The machine they select ([`Machine::select`]); a contradiction is a usage error.
    pub fn machine(&self) -> Result<Machine> {
        Machine::select(self.arch, self.machine).map_err(Error::Usage)
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
    }
}
