//! Debian sid's kernels: the ARM guests' (arm64, with gpio-sim, the Raspberry Pi's pin
//! controller and watchdog and the Pi's device trees all in tree) and the x86-64 guest's
//! with `--kernel sid` (amd64), downloaded through a private apt configuration
//! ([`ForeignApt`]) and prepared once per kernel ABI and version in the cache, like
//! bookworm's and trixie's (`kernel.rs`).
//!
//! sid's kernels are what the newest distros ship, and the only Debian ones that build
//! `gpio-sim` (`CONFIG_GPIO_SIM=m`), so no module is built here. Since 7.x the
//! `linux-image-<abi>` package is a metapackage: the kernel is in `linux-binary-<abi>`
//! (`usr/lib/modules/<abi>/vmlinuz`: a raw arm64 `Image`, or an x86 bzImage whose
//! payload is zstd-compressed), the modules (`.ko.xz`, no `modules.dep`) in
//! `linux-modules-<abi>`, the config and device trees in `linux-base-<abi>`. Older
//! layouts (everything in `linux-image-<abi>`, `/boot`) work too. A guest of another
//! architecture than the host's boots sid's `busybox-static` of its architecture.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::arch::{Arch, Machine};
use crate::cache::CacheLock;
use crate::error::{io_err, Error, Result};
use crate::foreign_apt::{version_of, ForeignApt};
use crate::kernel::{
    load_order, missing_prerequisites, module_index, module_name, parse_depends, prepare_foreign,
    prepare_key, read_module, unpack, Kernel, KernelInfo,
};
use crate::qemu;
use crate::suite::Suite;

/// The suite these kernels come from.
pub const SUITE: &str = "sid";

/// Kernel options the ARM machines need on top of the x86-64 list: gpio-sim in tree, and
/// for the Pi its pin controller (built in, so the 54 lines exist at boot) and watchdog
/// (the only way the board ends the VM).
const ARM_PREREQUISITES: &[(&str, &[&str])] = &[
    ("GPIO_SIM", &["y", "m"]),
    ("PINCTRL_BCM2835", &["y"]),
    ("BCM2835_WDT", &["y", "m"]),
];

/// Names the options the ARM machines need that `config` lacks (the x86-64 list, then
/// `ARM_PREREQUISITES`).
pub fn missing_arm_prerequisites(config: &BTreeMap<String, String>) -> Vec<String> {
    let mut missing = missing_prerequisites(config);
    missing.extend(
        ARM_PREREQUISITES
            .iter()
            .filter(|(opt, ok)| !config.get(*opt).is_some_and(|v| ok.contains(&v.as_str())))
            .map(|(opt, ok)| format!("CONFIG_{opt}={}", ok.join("|"))),
    );
    missing
}

/// Names the options a sid kernel for `arch` lacks: gpio-sim (it is used in tree) on top
/// of the x86-64 list, and for arm64 the Pi's drivers too.
pub fn missing_sid_prerequisites(arch: Arch, config: &BTreeMap<String, String>) -> Vec<String> {
    if arch != Arch::X86_64 {
        return missing_arm_prerequisites(config);
    }
    let mut missing = missing_prerequisites(config);
    if !config.get("GPIO_SIM").is_some_and(|v| v == "y" || v == "m") {
        missing.push("CONFIG_GPIO_SIM=y|m".into());
    }
    missing
}

/// The packages of one sid kernel version, and the busybox to boot it with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidChoice {
    /// ABI, e.g. `7.2.13+deb14-arm64`.
    pub abi: String,
    /// The kernel packages' exact version, e.g. `7.2.13-1`.
    pub version: String,
    /// The packages holding the kernel, its modules, config and device trees.
    pub packages: Vec<String>,
    /// The version of `busybox-static` to take.
    pub busybox_version: String,
}

impl SidChoice {
    /// Cache directory name: `<abi>_<version>` (the ABI names the architecture).
    pub fn key(&self) -> String {
        format!("{}_{}", self.abi, self.version)
    }
}

/// The kernel packages of a `linux-image-<abi>` record: its `linux-binary-`,
/// `linux-modules-` and `linux-base-` dependencies of the same version, or the image
/// package itself where it holds the kernel (before 7.x).
pub fn kernel_packages(image: &str, image_control: &str, version: &str) -> Vec<String> {
    let parts: Vec<String> = parse_depends(image_control)
        .into_iter()
        .filter(|(n, v)| {
            ["linux-binary-", "linux-modules-", "linux-base-"]
                .iter()
                .any(|p| n.starts_with(p))
                && v.as_deref() == Some(version)
        })
        .map(|(n, _)| n)
        .collect();
    if parts.is_empty() {
        vec![image.to_string()]
    } else {
        parts
    }
}

/// Asks apt which kernel `linux-image-<arch>` names now.
fn choose(apt: &ForeignApt, arch: Arch) -> Result<SidChoice> {
    let meta = format!("linux-image-{}", arch.debian());
    let control = apt.show(&meta, None).map_err(|e| {
        Error::Kernel(format!(
            "Debian {SUITE} offers no {meta}:{} ({e})",
            arch.debian()
        ))
    })?;
    let (image, image_version) = parse_depends(&control)
        .into_iter()
        .find(|(n, _)| n.starts_with("linux-image-") && *n != meta)
        .ok_or_else(|| Error::Kernel(format!("{meta} depends on no linux-image-<abi>")))?;
    let version = image_version
        .or_else(|| version_of(&control))
        .ok_or_else(|| Error::Kernel(format!("{meta} has no version")))?;
    let abi = image
        .trim_start_matches("linux-image-")
        .trim_end_matches("-unsigned")
        .to_string();
    let image_control = apt.show(&image, Some(&version))?;
    // A guest of the host's architecture boots the host's static busybox.
    let busybox_version = if arch == Arch::host() {
        String::new()
    } else {
        version_of(&apt.show("busybox-static", None)?)
            .ok_or_else(|| Error::Kernel("busybox-static has no version".into()))?
    };
    Ok(SidChoice {
        packages: kernel_packages(&image, &image_control, &version),
        abi,
        version,
        busybox_version,
    })
}

/// Returns the cached sid kernel for `arch`, preparing it if needed. The caller holds
/// `use_lock` shared and still does on success.
pub fn prepare(cache: &Path, use_lock: &CacheLock, arch: Arch) -> Result<Kernel> {
    let apt = ForeignApt::new(cache, SUITE, arch);
    prepare_foreign(
        cache,
        &apt,
        arch,
        Suite::Sid,
        || choose(&apt, arch),
        |choice: &SidChoice| prepare_choice(cache, use_lock, &apt, choice, arch),
    )
}

fn prepare_choice(
    cache: &Path,
    use_lock: &CacheLock,
    apt: &ForeignApt,
    choice: &SidChoice,
    arch: Arch,
) -> Result<Kernel> {
    let label = format!("{} ({}) from Debian {SUITE}", choice.abi, choice.version);
    prepare_key(
        cache,
        use_lock,
        &choice.key(),
        (arch.debian(), Suite::Sid),
        &label,
        |work| build(apt, choice, arch, work),
    )
}

/// The first of `candidates` (paths under `root`) that exists.
fn first_existing(root: &Path, candidates: &[String]) -> Option<PathBuf> {
    candidates.iter().map(|c| root.join(c)).find(|p| p.exists())
}

/// Downloads and unpacks `choice` and busybox, and lays out the kernel directory in
/// `work/out`; returns it.
fn build(apt: &ForeignApt, choice: &SidChoice, arch: Arch, work: &Path) -> Result<PathBuf> {
    let downloads = work.join("debs");
    let root = work.join("root");
    let out = work.join("out");
    let mods_out = out.join("modules");
    for d in [&downloads, &root, &mods_out] {
        fs::create_dir_all(d).map_err(io_err("cannot create", d))?;
    }
    let mut wanted: Vec<(String, String)> = choice
        .packages
        .iter()
        .map(|p| (p.clone(), choice.version.clone()))
        .collect();
    let own_busybox = arch != Arch::host();
    if own_busybox {
        wanted.push(("busybox-static".into(), choice.busybox_version.clone()));
    }
    for deb in apt.download(&wanted, &downloads)? {
        unpack(&deb, &root)?;
    }
    let abi = &choice.abi;
    let missing_file = |what: &str| {
        Error::Kernel(format!(
            "the {SUITE} packages of {abi} ({}) hold no {what}",
            choice.packages.join(", ")
        ))
    };
    let config_path = first_existing(
        &root,
        &[
            format!("usr/lib/modules/{abi}/config"),
            format!("boot/config-{abi}"),
        ],
    )
    .ok_or_else(|| missing_file("kernel config"))?;
    let config = crate::kernel::read_config(&config_path)?;
    let missing = missing_sid_prerequisites(arch, &config);
    if !missing.is_empty() {
        return Err(Error::Kernel(format!(
            "Debian {SUITE}'s {abi} {} lacks {}",
            choice.version,
            missing.join(", ")
        )));
    }

    let moddir = first_existing(
        &root,
        &[
            format!("usr/lib/modules/{abi}"),
            format!("lib/modules/{abi}"),
        ],
    )
    .ok_or_else(|| missing_file("module directory"))?;
    let index = module_index(&moddir);
    let copy_modules = |name: &str, order: &mut Vec<String>| -> Result<()> {
        for path in load_order(&index, name, &read_module)? {
            let file = format!("{}.ko", module_name(&path.to_string_lossy()));
            if !order.contains(&file) {
                let dest = mods_out.join(&file);
                fs::write(&dest, read_module(&path)?).map_err(io_err("cannot write", &dest))?;
                order.push(file);
            }
        }
        Ok(())
    };
    let is_module = |opt: &str| config.get(opt).map(String::as_str) == Some("m");
    let mut modules = Vec::new();
    if is_module("CONFIGFS_FS") {
        copy_modules("configfs", &mut modules)?;
    }
    if is_module("GPIO_SIM") {
        copy_modules("gpio-sim", &mut modules)?;
    }
    let mut board_modules = Vec::new();
    for m in Machine::ALL.iter().filter(|m| m.arch() == arch) {
        for name in qemu::board_modules(*m) {
            copy_modules(name, &mut board_modules)?;
        }
    }
    board_modules.retain(|m| !modules.contains(m));

    for m in Machine::ALL.iter().filter(|m| m.arch() == arch) {
        let Some(rel) = qemu::device_tree(*m) else {
            continue;
        };
        let from = first_existing(
            &root,
            &[
                format!("usr/lib/linux-image-{abi}/{rel}"),
                format!("usr/lib/modules/{abi}/dtb/{rel}"),
            ],
        )
        .ok_or_else(|| missing_file(&format!("device tree {rel}")))?;
        let dest = out.join("dtb").join(rel);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
        }
        fs::copy(&from, &dest).map_err(io_err("cannot copy", &from))?;
    }

    let image = first_existing(
        &root,
        &[
            format!("usr/lib/modules/{abi}/vmlinuz"),
            format!("boot/vmlinuz-{abi}"),
        ],
    )
    .ok_or_else(|| missing_file("kernel image (vmlinuz)"))?;
    let boot_file = if arch == Arch::X86_64 {
        crate::kernel::x86_boot_image(&image, &config, &out)?
    } else {
        let bytes = fs::read(&image).map_err(io_err("cannot read", &image))?;
        // QEMU boots a raw arm64 Image directly; older packages gzip it.
        let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
            crate::host::run(std::process::Command::new("gzip").arg("-dc").arg(&image))?.stdout
        } else {
            bytes
        };
        fs::write(out.join("Image"), bytes).map_err(io_err("cannot write", out.join("Image")))?;
        "Image"
    };

    let busybox = if own_busybox {
        let from = first_existing(&root, &["usr/bin/busybox".into(), "bin/busybox".into()])
            .ok_or_else(|| Error::Kernel("busybox-static holds no busybox".into()))?;
        fs::copy(&from, out.join("busybox")).map_err(io_err("cannot copy", &from))?;
        Some("busybox".into())
    } else {
        None
    };

    let info = KernelInfo {
        abi: abi.clone(),
        version: choice.version.clone(),
        boot_file: boot_file.into(),
        modules,
        distro_gpio_sim: true,
        arch: arch.debian().into(),
        board_modules,
        busybox,
        suite: Some(SUITE.into()),
    };
    let json = serde_json::to_string_pretty(&info).map_err(|e| Error::Kernel(e.to_string()))?;
    fs::write(out.join("kernel.json"), json)
        .map_err(io_err("cannot write", out.join("kernel.json")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::parse_config;

    #[test]
    fn the_arm_machines_need_gpio_sim_and_the_pis_drivers() {
        let sid = parse_config(
            "CONFIG_GPIOLIB=y\nCONFIG_GPIO_CDEV=y\nCONFIG_GPIO_SYSFS=y\nCONFIG_CONFIGFS_FS=m\n\
             CONFIG_IRQ_DOMAIN=y\nCONFIG_DEVTMPFS=y\nCONFIG_BLK_DEV_INITRD=y\n\
             CONFIG_SERIAL_8250_CONSOLE=y\nCONFIG_GPIO_SIM=m\nCONFIG_PINCTRL_BCM2835=y\n\
             CONFIG_BCM2835_WDT=m\n",
        );
        assert!(missing_arm_prerequisites(&sid).is_empty());
        let mut trixie = sid.clone();
        trixie.remove("GPIO_SIM");
        trixie.insert("PINCTRL_BCM2835".into(), "m".into());
        assert_eq!(
            missing_arm_prerequisites(&trixie),
            ["CONFIG_GPIO_SIM=y|m", "CONFIG_PINCTRL_BCM2835=y"]
        );
    }

    #[test]
    fn the_kernel_is_in_the_binary_modules_and_base_packages() {
        let control = "Package: linux-image-7.2.13+deb14-arm64\nVersion: 7.2.13-1\n\
            Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, \
            linux-base-7.2.13+deb14-arm64 (= 7.2.13-1), linux-binary-7.2.13+deb14-arm64 (= 7.2.13-1), \
            linux-modules-7.2.13+deb14-arm64 (= 7.2.13-1)\n";
        assert_eq!(
            kernel_packages("linux-image-7.2.13+deb14-arm64", control, "7.2.13-1"),
            [
                "linux-base-7.2.13+deb14-arm64",
                "linux-binary-7.2.13+deb14-arm64",
                "linux-modules-7.2.13+deb14-arm64"
            ]
        );
        // Before 7.x the image package held everything.
        let old = "Package: linux-image-6.12.9-arm64\nDepends: kmod, linux-base (>= 4.3~)\n";
        assert_eq!(
            kernel_packages("linux-image-6.12.9-arm64", old, "6.12.9-1"),
            ["linux-image-6.12.9-arm64"]
        );
    }
}
