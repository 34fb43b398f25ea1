//! QEMU's command line for each machine the bed boots: the emulator, the board, its CPU
//! and accelerator, the serial console, the device tree, and how the guest ends the VM.
//!
//! The recipes are the proven ones of the project's ARM notes: the arm64 `virt` board
//! with a Cortex-A72 (`-cpu max` is twice as slow under TCG: pointer authentication), and
//! the Raspberry Pi 3 Model B, whose four CPUs must run in one TCG thread
//! (`thread=single`): multi-threaded TCG stalls for 7-80 s while the kernel patches its
//! ftrace call sites.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::arch::Machine;

/// The accelerator of the ARM machines (and of sid's kernel on `pc`, [`pc_accel`]): TCG
/// in one thread (see the module's note).
pub const ARM_ACCEL: &str = "tcg,thread=single";

/// The `pc` machine's accelerators for a kernel of `suite`: as chosen, except that sid's
/// kernel runs TCG in one host thread. Its 7.x text patching (`smp_text_poke_batch_finish`,
/// enabling a static key while the timer interrupt runs on the other CPU) met a stale
/// `int3` under multi-threaded TCG and oopsed at boot ("Oops: int3" in
/// `__hrtimer_start_range_ns`, seen once in about ten boots); 6.1 and 6.12 never did.
pub fn pc_accel(accel: Vec<String>, suite: crate::suite::Suite) -> Vec<String> {
    if suite != crate::suite::Suite::Sid {
        return accel;
    }
    accel
        .into_iter()
        .map(|a| if a == "tcg" { ARM_ACCEL.to_string() } else { a })
        .collect()
}

/// The QEMU system emulator for `machine`.
pub const fn program(machine: Machine) -> &'static str {
    match machine {
        Machine::Pc => "qemu-system-x86_64",
        Machine::Virt | Machine::Raspi3b => "qemu-system-aarch64",
    }
}

/// The Debian package that has [`program`], and the file that shows it is installed.
pub const fn host_package(machine: Machine) -> (&'static str, &'static str) {
    match machine {
        Machine::Pc => ("qemu-system-x86", "/usr/bin/qemu-system-x86_64"),
        Machine::Virt | Machine::Raspi3b => ("qemu-system-arm", "/usr/bin/qemu-system-aarch64"),
    }
}

/// The kernel's console arguments: the serial port QEMU connects to stdio. On the Pi,
/// `ttyS1` (the mini UART) with `earlycon` prints from the first kernel line; the PL011
/// stays silent until its driver loads, 5-8 s in.
pub const fn console(machine: Machine) -> &'static str {
    match machine {
        Machine::Pc => "console=ttyS0",
        Machine::Virt => "console=ttyAMA0 earlycon",
        Machine::Raspi3b => "console=ttyS1,115200 earlycon",
    }
}

/// The guest memory the board requires, if it fixes it (the Pi 3 has 1 GiB, no more).
pub const fn fixed_memory_mib(machine: Machine) -> Option<u64> {
    match machine {
        Machine::Raspi3b => Some(1024),
        Machine::Pc | Machine::Virt => None,
    }
}

/// Virtual CPUs to give the guest, `None` where the board fixes them (the Pi 3: four).
/// One on `virt`: in a single TCG thread more CPUs only slow the boot down.
pub const fn cpus(machine: Machine) -> Option<u32> {
    match machine {
        Machine::Pc => Some(2),
        Machine::Virt => Some(1),
        Machine::Raspi3b => None,
    }
}

/// Modules the guest loads before anything else, for the board itself. The Pi cannot
/// power off: it ends the VM by a watchdog reset (`reboot -f` with QEMU's `-no-reboot`),
/// which needs `bcm2835_wdt`; loaded first, it also lets a kernel panic end the VM.
pub const fn board_modules(machine: Machine) -> &'static [&'static str] {
    match machine {
        Machine::Raspi3b => &["bcm2835_wdt"],
        Machine::Pc | Machine::Virt => &[],
    }
}

/// The guest's shell command that ends the VM (QEMU then exits with status 0).
pub const fn power_off(machine: Machine) -> &'static str {
    match machine {
        Machine::Raspi3b => "reboot -f",
        Machine::Pc | Machine::Virt => "poweroff -f",
    }
}

/// The device tree the board boots with, as a path inside the kernel's `dtb/` directory.
pub const fn device_tree(machine: Machine) -> Option<&'static str> {
    match machine {
        Machine::Raspi3b => Some("broadcom/bcm2837-rpi-3-b.dtb"),
        Machine::Pc | Machine::Virt => None,
    }
}

/// Everything a boot needs that is not the machine itself.
#[derive(Debug, Clone)]
pub struct QemuArgs<'a> {
    /// The kernel image.
    pub kernel: &'a Path,
    /// The initramfs.
    pub initrd: &'a Path,
    /// The device tree blob, for boards that need one.
    pub dtb: Option<PathBuf>,
    /// Guest memory in MiB (ignored where the board fixes it).
    pub memory_mib: u64,
    /// Virtual CPUs (ignored where the board fixes them).
    pub cpus: u32,
    /// `-accel` values in order (QEMU falls back to the next when one fails).
    pub accel: &'a [String],
    /// The kernel command line after the console.
    pub append: &'a str,
}

/// The QEMU command that boots `machine`; its serial console is on stdout.
pub fn command(machine: Machine, a: &QemuArgs<'_>) -> Command {
    let mut cmd = Command::new(program(machine));
    for acc in a.accel {
        cmd.arg("-accel").arg(acc);
    }
    match machine {
        Machine::Pc => {
            cmd.args(["-machine", "pc", "-cpu", "max"]);
        }
        Machine::Virt => {
            cmd.args(["-machine", "virt", "-cpu", "cortex-a72"]);
        }
        Machine::Raspi3b => {
            cmd.args(["-machine", "raspi3b"]);
        }
    }
    cmd.args(["-nographic", "-no-reboot"]);
    match machine {
        // The Pi's first serial port is the PL011 (silent until its driver loads); the
        // console is the mini UART, QEMU's second serial port.
        Machine::Raspi3b => {
            cmd.args(["-serial", "null", "-serial", "mon:stdio"]);
        }
        // Without a network card QEMU looks for no option ROM (`efi-virtio.rom`).
        Machine::Pc | Machine::Virt => {
            cmd.args(["-nic", "none"]);
        }
    }
    let memory = fixed_memory_mib(machine).unwrap_or(a.memory_mib);
    cmd.arg("-m").arg(memory.to_string());
    if cpus(machine).is_some() {
        cmd.arg("-smp").arg(a.cpus.to_string());
    }
    if let Some(dtb) = &a.dtb {
        cmd.arg("-dtb").arg(dtb);
    }
    cmd.arg("-kernel")
        .arg(a.kernel)
        .arg("-initrd")
        .arg(a.initrd)
        .arg("-append")
        .arg(format!("{} {}", console(machine), a.append));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(machine: Machine, dtb: Option<&str>) -> String {
        let accel = vec![ARM_ACCEL.to_string()];
        let a = QemuArgs {
            kernel: Path::new("/k/Image"),
            initrd: Path::new("/t/initrd.cpio"),
            dtb: dtb.map(PathBuf::from),
            memory_mib: 2048,
            cpus: 1,
            accel: &accel,
            append: "rdinit=/init",
        };
        let cmd = command(machine, &a);
        let mut s = cmd.get_program().to_string_lossy().into_owned();
        for x in cmd.get_args() {
            s.push(' ');
            s.push_str(&x.to_string_lossy());
        }
        s
    }

    #[test]
    fn virt_is_the_proven_recipe() {
        assert_eq!(
            args_of(Machine::Virt, None),
            "qemu-system-aarch64 -accel tcg,thread=single -machine virt -cpu cortex-a72 \
             -nographic -no-reboot -nic none -m 2048 -smp 1 -kernel /k/Image -initrd \
             /t/initrd.cpio -append console=ttyAMA0 earlycon rdinit=/init"
        );
    }

    #[test]
    fn the_pi_has_its_memory_its_dtb_and_its_console_on_the_second_port() {
        assert_eq!(
            args_of(Machine::Raspi3b, Some("/k/dtb/bcm2837-rpi-3-b.dtb")),
            "qemu-system-aarch64 -accel tcg,thread=single -machine raspi3b -nographic \
             -no-reboot -serial null -serial mon:stdio -m 1024 -dtb /k/dtb/bcm2837-rpi-3-b.dtb \
             -kernel /k/Image -initrd /t/initrd.cpio -append console=ttyS1,115200 earlycon \
             rdinit=/init"
        );
        assert_eq!(board_modules(Machine::Raspi3b), ["bcm2835_wdt"]);
        assert_eq!(power_off(Machine::Raspi3b), "reboot -f");
    }

    #[test]
    fn the_pc_is_unchanged() {
        let accel = vec!["tcg".to_string()];
        let a = QemuArgs {
            kernel: Path::new("/k/vmlinux"),
            initrd: Path::new("/t/i"),
            dtb: None,
            memory_mib: 1024,
            cpus: 2,
            accel: &accel,
            append: "panic=-1",
        };
        let args = crate::host::args_of(&command(Machine::Pc, &a));
        assert_eq!(
            args.join(" "),
            "-accel tcg -machine pc -cpu max -nographic -no-reboot -nic none -m 1024 -smp 2 \
             -kernel /k/vmlinux -initrd /t/i -append console=ttyS0 panic=-1"
        );
    }

    #[test]
    fn sids_kernel_runs_tcg_in_one_thread_on_pc() {
        use crate::suite::Suite;
        let chosen = || vec!["kvm".to_string(), "tcg".to_string()];
        assert_eq!(pc_accel(chosen(), Suite::Bookworm), chosen());
        assert_eq!(pc_accel(chosen(), Suite::Trixie), chosen());
        assert_eq!(pc_accel(chosen(), Suite::Sid), ["kvm", "tcg,thread=single"]);
    }
}
