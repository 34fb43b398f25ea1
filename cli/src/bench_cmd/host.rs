//! What a benchmark's figures depend on, for the report's header: board and SoC, kernel, uAPI,
//! CPU frequency governor and frequency, virtualisation, real-time settings.

use std::fs;
use std::path::Path;

use serde::Serialize;

use super::backends::BenchLines;
use super::rt::Tuning;

/// The facts, as read on this machine; `None` where the system does not say.
#[derive(Clone, Debug, Serialize)]
pub struct Facts {
    /// The board profile's name, and how it was chosen (detected, or the generic profile).
    pub board: String,
    /// The device tree's `compatible` SoC entry or model, if there is a device tree.
    pub soc: Option<String>,
    /// `uname -r`.
    pub kernel: String,
    /// The CPU architecture hwkit was built for.
    pub arch: &'static str,
    /// The chip's uAPI (`v2`, or `v1` on kernels without v2).
    pub uapi: Option<String>,
    /// The chip's label.
    pub chip_label: Option<String>,
    /// The CPU the run was on (the `--cpu` one, else CPU 0 for the governor and frequency).
    pub cpu: usize,
    /// Its cpufreq governor.
    pub governor: Option<String>,
    /// Its current frequency, MHz.
    pub cpu_mhz: Option<u64>,
    /// The hypervisor, if one shows itself (`none` if nothing says there is one: QEMU's
    /// emulated Raspberry Pi boards do not).
    pub virtualization: String,
    /// SCHED_FIFO with memory locked (`--rt`).
    pub realtime: bool,
    /// `--cpu`.
    pub pinned_cpu: Option<usize>,
}

fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!text.is_empty()).then(|| text.to_owned())
}

impl Facts {
    /// Reads the facts of this machine for a run on `lines`; `board` is `--board`.
    pub fn gather(lines: &BenchLines, tuning: &Tuning, board: Option<&str>) -> Facts {
        let chip = hw::Chip::open(&lines.dev_path).ok();
        // With the chips, as `hwkit gpio` detects: their labels are evidence without a device
        // tree (a VM's simulated header).
        let detection = match boards::ChipInventory::from_root(Path::new("/")) {
            Ok(chips) => boards::detect_with_chips(Path::new("/"), &chips),
            Err(_) => boards::detect(Path::new("/")),
        };
        let cpu = tuning.cpu.unwrap_or(0);
        let cpufreq = format!("/sys/devices/system/cpu/cpu{cpu}/cpufreq");
        Facts {
            board: match board.map(boards::find_profile) {
                Some(Ok(p)) => format!("{} (--board)", p.name),
                _ => detection.message(),
            },
            // The last `compatible` entry is the SoC's (`brcm,bcm2711`).
            soc: detection.info.compatible.last().cloned(),
            kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
            arch: std::env::consts::ARCH,
            uapi: chip.as_ref().map(|c| c.uapi().to_string()),
            chip_label: chip.as_ref().map(|c| c.info().label.clone()),
            cpu,
            governor: read_trimmed(format!("{cpufreq}/scaling_governor")),
            cpu_mhz: read_trimmed(format!("{cpufreq}/scaling_cur_freq"))
                .and_then(|k| k.parse::<u64>().ok())
                .map(|khz| khz / 1000),
            virtualization: virtualization(Path::new("/")),
            realtime: tuning.realtime,
            pinned_cpu: tuning.cpu,
        }
    }
}

/// Signs of a hypervisor: systemd's and the kernel's own, in the order of how much they say.
pub(super) fn virtualization(root: &Path) -> String {
    if let Some(t) = read_trimmed(root.join("sys/hypervisor/type")) {
        return t;
    }
    for dmi in [
        "sys/class/dmi/id/sys_vendor",
        "sys/class/dmi/id/product_name",
    ] {
        if let Some(v) = read_trimmed(root.join(dmi)) {
            for known in [
                "QEMU",
                "KVM",
                "VMware",
                "VirtualBox",
                "Xen",
                "Microsoft",
                "Bochs",
            ] {
                if v.contains(known) {
                    return known.to_lowercase();
                }
            }
        }
    }
    if let Ok(raw) = fs::read(root.join("proc/device-tree/compatible")) {
        if raw.split(|&b| b == 0).any(|s| s == b"linux,dummy-virt") {
            return "qemu".into();
        }
    }
    if let Some(info) = read_trimmed(root.join("proc/cpuinfo")) {
        let flagged = info
            .lines()
            .filter(|l| l.starts_with("flags"))
            .any(|l| l.split_whitespace().any(|w| w == "hypervisor"));
        if flagged {
            return "unknown hypervisor".into();
        }
    }
    "none detected".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypervisors_are_told_by_dmi_device_tree_and_cpu_flags() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(virtualization(root), "none detected");
        fs::create_dir_all(root.join("proc")).unwrap();
        fs::write(root.join("proc/cpuinfo"), "flags\t: fpu sse hypervisor\n").unwrap();
        assert_eq!(virtualization(root), "unknown hypervisor");
        fs::create_dir_all(root.join("proc/device-tree")).unwrap();
        fs::write(
            root.join("proc/device-tree/compatible"),
            b"linux,dummy-virt\0",
        )
        .unwrap();
        assert_eq!(virtualization(root), "qemu");
        fs::create_dir_all(root.join("sys/class/dmi/id")).unwrap();
        fs::write(root.join("sys/class/dmi/id/sys_vendor"), "QEMU\n").unwrap();
        assert_eq!(virtualization(root), "qemu");
        fs::create_dir_all(root.join("sys/hypervisor")).unwrap();
        fs::write(root.join("sys/hypervisor/type"), "xen\n").unwrap();
        assert_eq!(virtualization(root), "xen");
    }
}
