//! The guest kernel: Debian's `linux-image-amd64`, with gpio-sim built out of tree when the
//! distro kernel lacks it, prepared once per kernel ABI and version in the cache.
//!
//! Bookworm's (the host's release) comes through the host's apt and its gpio-sim is built
//! with the host's compiler. Trixie's comes through a private apt configuration
//! ([`ForeignApt`]) and is built in a root of trixie's own compiler and kbuild tools (gcc 12
//! refuses the flags the kernel was configured with, and trixie's `modpost` needs glibc
//! 2.38): `chroot` into the unpacked packages, no installation. Sid's kernels are in
//! `sid_kernel.rs`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::arch::Arch;
use crate::cache::{CacheLock, PREPARE_LOCK};
use crate::error::{io_err, Error, Result};
use crate::foreign_apt::ForeignApt;
use crate::host::{self, run, run_text};
use crate::suite::Suite;

/// What `kernel.json` in a prepared kernel directory records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KernelInfo {
    /// Kernel ABI, e.g. `6.1.0-56-amd64`.
    pub abi: String,
    /// Debian package version, e.g. `6.1.192-2`.
    pub version: String,
    /// File name of the boot image in the directory (`vmlinux`, or `vmlinuz` as fallback).
    pub boot_file: String,
    /// Module file names under `modules/`, in the order to load them.
    pub modules: Vec<String>,
    /// Whether gpio-sim came with the distro kernel (`false`: built out of tree here).
    pub distro_gpio_sim: bool,
    /// Debian's name of the kernel's architecture (`amd64`, `arm64`).
    #[serde(default = "amd64")]
    pub arch: String,
    /// Module file names under `modules/` that some boards load first (the Pi's watchdog).
    #[serde(default)]
    pub board_modules: Vec<String>,
    /// File name of the guest's static busybox in the directory; `None`: the host's
    /// (`/bin/busybox`, when the kernel is the host's architecture).
    #[serde(default)]
    pub busybox: Option<String>,
    /// The Debian suite it comes from (`bookworm`, `trixie`, `sid`); `None` in
    /// directories of older beds: see [`KernelInfo::suite`].
    #[serde(default)]
    pub suite: Option<String>,
}

impl KernelInfo {
    /// The Debian suite it comes from. Older beds prepared bookworm's amd64 kernel and
    /// sid's arm64 kernel only, and did not record it.
    pub fn suite(&self) -> &str {
        match (&self.suite, self.arch.as_str()) {
            (Some(s), _) => s,
            (None, "amd64") => Suite::Bookworm.name(),
            (None, _) => Suite::Sid.name(),
        }
    }
}

/// Kernels prepared before the bed knew other architectures are amd64 ones.
fn amd64() -> String {
    "amd64".into()
}

/// A prepared kernel in the cache.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// Its cache directory.
    pub dir: PathBuf,
    /// Its description.
    pub info: KernelInfo,
}

impl Kernel {
    /// The file QEMU boots.
    pub fn boot_image(&self) -> PathBuf {
        self.dir.join(&self.info.boot_file)
    }

    /// The modules to load, in order.
    pub fn module_paths(&self) -> Vec<PathBuf> {
        self.info
            .modules
            .iter()
            .map(|m| self.dir.join("modules").join(m))
            .collect()
    }

    /// The board module `name` (`bcm2835_wdt`), if the kernel has it prepared.
    pub fn board_module(&self, name: &str) -> Option<PathBuf> {
        let file = format!("{name}.ko");
        self.info
            .board_modules
            .contains(&file)
            .then(|| self.dir.join("modules").join(file))
    }

    /// The guest's static busybox: the kernel's own, or the host's for a host-arch kernel.
    pub fn busybox(&self) -> PathBuf {
        match &self.info.busybox {
            Some(b) => self.dir.join(b),
            None => PathBuf::from(crate::initramfs::BUSYBOX),
        }
    }

    /// A device tree of the kernel package, by its path under `dtb/`.
    pub fn device_tree(&self, rel: &str) -> PathBuf {
        self.dir.join("dtb").join(rel)
    }

    /// The prepared kernel in `dir`, if it is complete.
    pub fn load(dir: &Path) -> Option<Kernel> {
        let text = fs::read_to_string(dir.join("kernel.json")).ok()?;
        let info: KernelInfo = serde_json::from_str(&text).ok()?;
        let k = Kernel {
            dir: dir.to_path_buf(),
            info,
        };
        let board = k
            .info
            .board_modules
            .iter()
            .map(|m| k.dir.join("modules").join(m));
        let complete = k.boot_image().is_file()
            && k.module_paths()
                .into_iter()
                .chain(board)
                .all(|p| p.is_file())
            && (k.info.busybox.is_none() || k.busybox().is_file());
        complete.then_some(k)
    }
}

/// The Debian packages of one kernel version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelChoice {
    /// ABI, e.g. `6.1.0-56-amd64`.
    pub abi: String,
    /// Exact package version shared by all the packages below.
    pub version: String,
    /// `linux-image-<abi>`.
    pub image: String,
    /// `linux-headers-<abi>`.
    pub headers: String,
    /// `linux-headers-<abi base>-common`.
    pub headers_common: String,
    /// `linux-kbuild-<major.minor>`.
    pub kbuild: String,
    /// `linux-source-<major.minor>`.
    pub source: String,
    /// The compiler package the headers name (`gcc-14`), for a build in the release's
    /// own root; `None`: the host's compiler (bookworm's headers name it by alternatives).
    #[serde(default)]
    pub compiler: Option<String>,
}

impl KernelChoice {
    /// Cache directory name: `<abi>_<version>`.
    pub fn key(&self) -> String {
        format!("{}_{}", self.abi, self.version)
    }
}

/// Parses `apt-cache madison` output into (version, suite line) pairs, in its order
/// (newest first).
pub fn parse_madison(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split('|').map(str::trim);
            let _pkg = parts.next()?;
            let version = parts.next()?;
            let origin = parts.next()?;
            (!version.is_empty()).then(|| (version.to_string(), origin.to_string()))
        })
        .collect()
}

/// Orders meta-package versions: the release's own suites (including -security and
/// -updates) before backports, newest first within each, duplicates removed.
pub fn order_candidates(madison: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for pass in [false, true] {
        for (v, origin) in madison {
            if origin.contains("-backports") == pass && !out.contains(v) {
                out.push(v.clone());
            }
        }
    }
    out
}

/// The package names of a `Depends:` field, alternatives and version constraints dropped,
/// paired with the version of an `(= X)` constraint.
pub fn parse_depends(control: &str) -> Vec<(String, Option<String>)> {
    let Some(line) = control.lines().find_map(|l| l.strip_prefix("Depends:")) else {
        return Vec::new();
    };
    line.split(',')
        .filter_map(|dep| {
            let first = dep.split('|').next()?.trim();
            let name = first.split_whitespace().next()?.to_string();
            let exact = first
                .split_once("(=")
                .and_then(|(_, rest)| rest.split(')').next())
                .map(|v| v.trim().to_string());
            Some((name, exact))
        })
        .collect()
}

/// Where a kernel's packages come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Archive<'a> {
    /// The host's own apt sources (bookworm, the release the bed runs on).
    Host,
    /// Another suite, through a private apt configuration.
    Foreign(&'a ForeignApt),
}

impl Archive<'_> {
    /// `apt-get` or `apt-cache` on this archive.
    fn command(self, tool: &str) -> Command {
        match self {
            Archive::Host => {
                let mut c = Command::new(tool);
                c.args(["-q", "-o", "APT::Sandbox::User=root"]);
                c
            }
            Archive::Foreign(apt) => apt.command(tool),
        }
    }

    /// `apt-get update` of its lists.
    fn update(self) -> Result<()> {
        match self {
            Archive::Host => host::apt_update(),
            Archive::Foreign(apt) => apt.update(),
        }
    }

    /// The Debian suite its kernels come from.
    fn suite(self) -> String {
        match self {
            Archive::Host => Suite::Bookworm.name().into(),
            Archive::Foreign(apt) => apt.suite().into(),
        }
    }

    /// What to call it in messages.
    fn name(self) -> String {
        match self {
            Archive::Host => "the host's apt sources".into(),
            Archive::Foreign(apt) => format!("Debian {}", apt.suite()),
        }
    }

    fn madison(self, pkg: &str) -> Vec<(String, String)> {
        self.command("apt-cache")
            .args(["madison", pkg])
            .output()
            .map(|o| parse_madison(&String::from_utf8_lossy(&o.stdout)))
            .unwrap_or_default()
    }

    fn show(self, pkg: &str, version: &str) -> Result<String> {
        run_text(
            self.command("apt-cache")
                .arg("show")
                .arg(format!("{pkg}={version}")),
        )
    }

    /// The packages of `pkgs` that apt cannot download at exactly `version` (one apt-cache
    /// call: each costs about a second).
    fn unavailable(self, pkgs: &[&String], version: &str) -> Vec<String> {
        let text = self
            .command("apt-cache")
            .arg("madison")
            .args(pkgs)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        pkgs.iter()
            .filter(|p| {
                !text.lines().any(|l| {
                    let mut f = l.split('|').map(str::trim);
                    f.next() == Some(p.as_str()) && f.next() == Some(version)
                })
            })
            .map(|p| p.to_string())
            .collect()
    }
}

/// `linux-source-<major.minor>` for a kernel package version (`6.12.117-1` ->
/// `linux-source-6.12`): kbuild's name no longer says it since trixie
/// (`linux-kbuild-6.12.117+deb13`).
pub fn source_package(version: &str) -> Option<String> {
    let mut parts = version.split(['.', '-', '+', '~']);
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some(format!("linux-source-{major}.{minor}"))
}

/// Works out the packages of one meta-package version, if all of them are downloadable.
fn resolve(archive: Archive<'_>, meta_version: &str) -> Result<KernelChoice, String> {
    let control = archive
        .show("linux-image-amd64", meta_version)
        .map_err(|e| e.to_string())?;
    let (image, image_version) = parse_depends(&control)
        .into_iter()
        .find(|(n, _)| n.starts_with("linux-image-") && n != "linux-image-amd64")
        .ok_or("its Depends names no linux-image-<abi> package")?;
    let abi = image
        .trim_start_matches("linux-image-")
        .trim_end_matches("-unsigned")
        .to_string();
    let version = image_version.unwrap_or_else(|| meta_version.to_string());
    let headers = format!("linux-headers-{abi}");
    let hcontrol = archive
        .show(&headers, &version)
        .map_err(|_| format!("no {headers} {version}"))?;
    let hdeps = parse_depends(&hcontrol);
    let headers_common = hdeps
        .iter()
        .find(|(n, _)| n.starts_with("linux-headers-") && n.ends_with("-common"))
        .map(|(n, _)| n.clone())
        .ok_or_else(|| format!("{headers} depends on no -common headers"))?;
    let kbuild = hdeps
        .iter()
        .find(|(n, _)| n.starts_with("linux-kbuild-"))
        .map(|(n, _)| n.clone())
        .ok_or_else(|| format!("{headers} depends on no linux-kbuild"))?;
    let compiler = hdeps
        .iter()
        .find(|(n, _)| n.starts_with("gcc-"))
        .map(|(n, _)| n.clone());
    let source =
        source_package(&version).ok_or_else(|| format!("{version} names no kernel series"))?;
    let missing = archive.unavailable(
        &[&image, &headers, &headers_common, &kbuild, &source],
        &version,
    );
    if !missing.is_empty() {
        return Err(format!("{} {version} not downloadable", missing.join(", ")));
    }
    Ok(KernelChoice {
        abi,
        version,
        image,
        headers,
        headers_common,
        kbuild,
        source,
        compiler,
    })
}

/// Chooses the newest `linux-image-amd64` of the archive's release (backports only as a
/// last resort) whose image, headers, kbuild and source packages all exist at one version.
pub(crate) fn choose_kernel(archive: Archive<'_>) -> Result<KernelChoice> {
    let mut list = archive.madison("linux-image-amd64");
    if list.is_empty() {
        archive.update()?;
        list = archive.madison("linux-image-amd64");
    }
    let mut why = Vec::new();
    for v in order_candidates(&list) {
        match resolve(archive, &v) {
            Ok(c) => return Ok(c),
            Err(e) => why.push(format!("linux-image-amd64 {v}: {e}")),
        }
    }
    if why.is_empty() {
        why.push(match archive {
            Archive::Host => {
                "apt knows no linux-image-amd64 (is a Debian mirror in /etc/apt/sources.list*?)"
                    .into()
            }
            a => format!("{} offers no linux-image-amd64", a.name()),
        });
    }
    Err(Error::Kernel(why.join("; ")))
}

/// What apt's view of the archive depends on: the sources, preferences and downloaded
/// lists (names, sizes, modification times). When it is unchanged, so is the kernel choice.
pub fn apt_fingerprint() -> String {
    let mut parts = Vec::new();
    for dir in [
        "/etc/apt",
        "/etc/apt/sources.list.d",
        "/etc/apt/preferences.d",
        "/var/lib/apt/lists",
    ] {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                let name = e.file_name().to_string_lossy().into_owned();
                let keep = m.is_file()
                    && name != "lock"
                    && (dir != "/etc/apt"
                        || name.starts_with("sources.list")
                        || name == "preferences");
                let mtime = m
                    .modified()
                    .ok()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()?
                    .as_nanos();
                keep.then(|| format!("{dir}/{name}:{}:{mtime}", m.len()))
            })
            .collect();
        files.sort();
        parts.extend(files);
    }
    parts.join("\n")
}

#[derive(Serialize, Deserialize)]
struct SavedChoice {
    fingerprint: String,
    choice: KernelChoice,
}

/// The newest usable bookworm kernel of the host's apt (`choose_kernel`), remembered in
/// `<cache>/choice.json` while apt's lists and sources do not change (asking apt-cache
/// costs about a second per question here).
pub fn choose_kernel_cached(cache: &Path) -> Result<KernelChoice> {
    let path = cache.join("choice.json");
    let fingerprint = apt_fingerprint();
    if let Ok(text) = fs::read_to_string(&path) {
        if let Ok(saved) = serde_json::from_str::<SavedChoice>(&text) {
            if saved.fingerprint == fingerprint {
                return Ok(saved.choice);
            }
        }
    }
    let choice = choose_kernel(Archive::Host)?;
    // An apt-get update during the choice changes the lists: fingerprint them afterwards.
    let saved = SavedChoice {
        fingerprint: apt_fingerprint(),
        choice: choice.clone(),
    };
    if let Ok(json) = serde_json::to_string(&saved) {
        // Atomic replace: concurrent runs may write it at the same time.
        let tmp = cache.join(format!(".choice-{}.json", std::process::id()));
        if fs::write(&tmp, json).is_ok() {
            let _ = fs::rename(&tmp, &path);
        }
    }
    Ok(choice)
}

/// Reads and parses a kernel config file.
pub(crate) fn read_config(path: &Path) -> Result<BTreeMap<String, String>> {
    Ok(parse_config(
        &fs::read_to_string(path).map_err(io_err("cannot read", path))?,
    ))
}

/// Parses a kernel `.config` into option -> value (`y`, `m`, strings).
pub fn parse_config(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("CONFIG_")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Options gpio-sim and the smoke tests need, and the values that will do.
const PREREQUISITES: &[(&str, &[&str])] = &[
    ("GPIOLIB", &["y"]),
    ("GPIO_CDEV", &["y"]),
    ("GPIO_SYSFS", &["y"]),
    ("CONFIGFS_FS", &["y", "m"]),
    ("IRQ_DOMAIN", &["y"]),
    ("DEVTMPFS", &["y"]),
    ("BLK_DEV_INITRD", &["y"]),
    ("SERIAL_8250_CONSOLE", &["y"]),
];

/// Names the prerequisites `config` lacks.
pub fn missing_prerequisites(config: &BTreeMap<String, String>) -> Vec<String> {
    PREREQUISITES
        .iter()
        .filter(|(opt, ok)| !config.get(*opt).is_some_and(|v| ok.contains(&v.as_str())))
        .map(|(opt, ok)| format!("CONFIG_{opt}={}", ok.join("|")))
        .collect()
}

/// The `depends=` list of a module's `.modinfo` section (module names, comma-separated
/// in the file). Debian's image packages ship no `modules.dep`: depmod makes it at install.
pub fn modinfo_depends(ko: &[u8]) -> Vec<String> {
    const KEY: &[u8] = b"\0depends=";
    let Some(at) = ko.windows(KEY.len()).position(|w| w == KEY) else {
        return Vec::new();
    };
    let value = &ko[at + KEY.len()..];
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    String::from_utf8_lossy(&value[..end])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `gpio_sim` and `gpio-sim` are the same module.
fn norm(name: &str) -> String {
    name.replace('-', "_")
}

/// Indexes the `.ko` files under `dir` by normalized module name.
pub(crate) fn module_index(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(name) = p.file_name().map(|n| n.to_string_lossy().into_owned()) {
                if name.contains(".ko") {
                    out.insert(norm(module_name(&name)), p);
                }
            }
        }
    }
    out
}

/// The modules `module` needs, dependencies first, ending with `module`, as paths in
/// `index`; `read` gives a module's (uncompressed) bytes.
pub fn load_order(
    index: &BTreeMap<String, PathBuf>,
    module: &str,
    read: &dyn Fn(&Path) -> Result<Vec<u8>>,
) -> Result<Vec<PathBuf>> {
    fn visit(
        name: &str,
        index: &BTreeMap<String, PathBuf>,
        read: &dyn Fn(&Path) -> Result<Vec<u8>>,
        order: &mut Vec<PathBuf>,
        depth: usize,
    ) -> Result<()> {
        let path = index
            .get(&norm(name))
            .ok_or_else(|| Error::Kernel(format!("module {name} is not in the kernel package")))?;
        if order.contains(path) || depth > 32 {
            return Ok(());
        }
        for dep in modinfo_depends(&read(path)?) {
            visit(&dep, index, read, order, depth + 1)?;
        }
        order.push(path.clone());
        Ok(())
    }
    let mut order = Vec::new();
    visit(module, index, read, &mut order, 0)?;
    Ok(order)
}

/// `kernel/drivers/gpio/gpio-sim.ko.xz` -> `gpio-sim`.
pub(crate) fn module_name(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split(".ko").next().unwrap_or(file)
}

/// Returns the cached bookworm kernel for the host's apt sources, preparing it if needed.
/// The caller holds `use_lock` (`<cache>/lock`) shared and still does on success.
pub fn prepare(cache: &Path, use_lock: &CacheLock) -> Result<Kernel> {
    let kernels = cache.join("kernels");
    let choice = match choose_kernel_cached(cache) {
        Ok(c) => c,
        Err(e) => return newest_cached(&kernels, "amd64", Suite::Bookworm).ok_or(e),
    };
    let label = format!("{} ({})", choice.abi, choice.version);
    prepare_key(
        cache,
        use_lock,
        &choice.key(),
        ("amd64", Suite::Bookworm),
        &label,
        |work| build(Archive::Host, &choice, work),
    )
}

/// Returns the cached trixie amd64 kernel, preparing it if needed (gpio-sim built in a
/// root of trixie's compiler). The caller holds `use_lock` shared and still does.
pub fn prepare_trixie(cache: &Path, use_lock: &CacheLock) -> Result<Kernel> {
    let apt = ForeignApt::new(cache, Suite::Trixie.name(), Arch::X86_64);
    prepare_foreign(
        cache,
        &apt,
        Arch::X86_64,
        Suite::Trixie,
        || choose_kernel(Archive::Foreign(&apt)),
        |choice: &KernelChoice| {
            let label = format!("{} ({}) from Debian trixie", choice.abi, choice.version);
            prepare_key(
                cache,
                use_lock,
                &choice.key(),
                ("amd64", Suite::Trixie),
                &label,
                |work| build(Archive::Foreign(&apt), choice, work),
            )
        },
    )
}

/// The kernel of a suite the host's apt does not carry: `choose` (remembered while the
/// private lists are unchanged), then `prepare` it; with no choice, the newest cached
/// kernel of `arch` and `suite`. The mirror keeps only the newest build: if preparing
/// fails on lists older than ten minutes, they are refreshed and the choice made again.
pub(crate) fn prepare_foreign<C>(
    cache: &Path,
    apt: &ForeignApt,
    arch: Arch,
    suite: Suite,
    choose: impl Fn() -> Result<C>,
    prepare: impl Fn(&C) -> Result<Kernel>,
) -> Result<Kernel>
where
    C: serde::Serialize + serde::de::DeserializeOwned,
{
    let choice = match apt.remembered(cache, &choose) {
        Ok(c) => c,
        Err(e) => return newest_cached(&cache.join("kernels"), arch.debian(), suite).ok_or(e),
    };
    match prepare(&choice) {
        Err(e)
            if apt
                .lists_age()
                .is_some_and(|a| a > std::time::Duration::from_secs(600)) =>
        {
            eprintln!("testbed: preparing Debian {suite}'s kernel failed ({e}); refreshing the package lists");
            apt.update()?;
            prepare(&apt.remembered(cache, &choose)?)
        }
        other => other,
    }
}

/// The prepared kernel of `suite` for the machine's architecture `arch`, preparing it if
/// needed: bookworm's and trixie's amd64 kernels (gpio-sim built out of tree), sid's
/// amd64 and arm64 kernels (gpio-sim in tree).
pub fn prepare_for(arch: Arch, suite: Suite, cache: &Path, use_lock: &CacheLock) -> Result<Kernel> {
    match (arch, suite) {
        (Arch::X86_64, Suite::Bookworm) => prepare(cache, use_lock),
        (Arch::X86_64, Suite::Trixie) => prepare_trixie(cache, use_lock),
        (Arch::X86_64 | Arch::Aarch64, Suite::Sid) => {
            crate::sid_kernel::prepare(cache, use_lock, arch)
        }
        (Arch::Armv7, _) => Err(Error::Usage(format!(
            "the test bed has no {arch} kernel: boot aarch64 (virt, raspi3b) or x86_64"
        ))),
        (Arch::Aarch64, _) => Err(Error::Usage(format!(
            "the test bed has no Debian {suite} {} kernel: the ARM machines boot sid's",
            arch.debian()
        ))),
    }
}

/// Returns the kernel of cache key `key`, made by `build` under the preparation lock if it
/// is not there yet; other kernels of the same `(Debian architecture, suite)` are pruned
/// afterwards when nobody uses the cache. `build` fills a work directory and returns the
/// directory to move into place.
pub(crate) fn prepare_key(
    cache: &Path,
    use_lock: &CacheLock,
    key: &str,
    kind: (&str, Suite),
    label: &str,
    build: impl FnOnce(&Path) -> Result<PathBuf>,
) -> Result<Kernel> {
    let kernels = cache.join("kernels");
    let dir = kernels.join(key);
    if let Some(k) = Kernel::load(&dir) {
        return Ok(k);
    }
    let prep = CacheLock::exclusive(cache, PREPARE_LOCK, "another run is preparing the kernel")?;
    let kernel = prepare_locked(cache, &dir, label, build)?;
    drop(prep);
    prune_old_kernels(&kernels, &dir, kind, use_lock)?;
    Kernel::load(&dir).ok_or_else(|| {
        Error::Kernel(format!(
            "{} vanished (was the cache cleaned?); run again",
            dir.display()
        ))
    })?;
    Ok(kernel)
}

/// The Debian architecture and suite of a kernel directory.
fn dir_kind(dir: &Path) -> Option<(String, String)> {
    let text = fs::read_to_string(dir.join("kernel.json")).ok()?;
    let info = serde_json::from_str::<KernelInfo>(&text).ok()?;
    Some((info.arch.clone(), info.suite().to_string()))
}

/// Removes other kernels of the same architecture and suite if no other run is using the
/// cache right now (else a later preparation will); leaves `use_lock` shared. Kernels of
/// other architectures or suites stay: each keeps its newest.
fn prune_old_kernels(
    kernels: &Path,
    keep: &Path,
    (arch, suite): (&str, Suite),
    use_lock: &CacheLock,
) -> Result<()> {
    if use_lock.try_exclusive()? {
        if let Ok(entries) = fs::read_dir(kernels) {
            for e in entries.flatten() {
                let same = dir_kind(&e.path()).is_some_and(|(a, s)| a == arch && s == suite.name());
                if e.path() != keep && same {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
    }
    use_lock.downgrade()
}

fn prepare_locked(
    cache: &Path,
    dir: &Path,
    label: &str,
    build: impl FnOnce(&Path) -> Result<PathBuf>,
) -> Result<Kernel> {
    // Another run may have prepared it while this one waited for the lock.
    if let Some(k) = Kernel::load(dir) {
        return Ok(k);
    }
    // Scratch of preparations that died (nobody else prepares while we hold the lock).
    if let Ok(entries) = fs::read_dir(cache) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(".work-") {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    eprintln!("testbed: preparing kernel {label} in {}", dir.display());
    let start = std::time::Instant::now();
    let kernels = dir.parent().unwrap_or(cache);
    fs::create_dir_all(kernels).map_err(io_err("cannot create", kernels))?;
    let work = tempfile::Builder::new()
        .prefix(".work-")
        .tempdir_in(cache)
        .map_err(io_err("cannot create a work directory in", cache))?;
    let staged = build(work.path())?;
    if dir.exists() {
        // An incomplete directory (files deleted by hand): replace it.
        fs::remove_dir_all(dir).map_err(io_err("cannot remove", dir))?;
    }
    fs::rename(&staged, dir).map_err(io_err("cannot move the prepared kernel to", dir))?;
    eprintln!(
        "testbed: kernel prepared in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Kernel::load(dir).ok_or_else(|| {
        Error::Kernel(format!(
            "{} is incomplete after preparing it",
            dir.display()
        ))
    })
}

/// The newest complete kernel of Debian architecture `arch` and `suite` in the cache, with
/// a warning.
pub(crate) fn newest_cached(kernels: &Path, arch: &str, suite: Suite) -> Option<Kernel> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(kernels)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|d| dir_kind(d).is_some_and(|(a, s)| a == arch && s == suite.name()))
        .collect();
    dirs.sort();
    let k = dirs.iter().rev().find_map(|d| Kernel::load(d))?;
    eprintln!(
        "testbed: warning: apt offers no usable {suite} kernel now; using the cached {} ({})",
        k.info.abi, k.info.version
    );
    Some(k)
}

fn download(
    archive: Archive<'_>,
    pkgs: &[&str],
    version: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut cmd = archive.command("apt-get");
    cmd.current_dir(dir)
        .arg("download")
        .args(pkgs.iter().map(|p| format!("{p}={version}")));
    if run(&mut cmd).is_err() {
        // The lists may be older than the mirror, which keeps only the newest build.
        archive.update()?;
        run(&mut cmd)?;
    }
    downloaded(dir, pkgs)
}

/// The `.deb` files `apt-get download` left in `dir`, one per package of `pkgs`, in order.
pub(crate) fn downloaded<S: AsRef<str>>(dir: &Path, pkgs: &[S]) -> Result<Vec<PathBuf>> {
    pkgs.iter()
        .map(|p| {
            let prefix = format!("{}_", p.as_ref());
            fs::read_dir(dir)
                .map_err(io_err("cannot read", dir))?
                .flatten()
                .map(|e| e.path())
                .find(|f| {
                    let n = f.file_name().unwrap_or_default().to_string_lossy();
                    n.starts_with(&prefix) && n.ends_with(".deb")
                })
                .ok_or_else(|| {
                    Error::Kernel(format!("apt-get download left no {} package", p.as_ref()))
                })
        })
        .collect()
}

pub(crate) fn unpack(deb: &Path, root: &Path) -> Result<()> {
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(root))?;
    Ok(())
}

/// Downloads, unpacks and builds everything for `choice` into `work/out`; returns it.
fn build(archive: Archive<'_>, choice: &KernelChoice, work: &Path) -> Result<PathBuf> {
    let root = work.join("root");
    let out = work.join("out");
    let mods_out = out.join("modules");
    fs::create_dir_all(&mods_out).map_err(io_err("cannot create", &mods_out))?;
    fs::create_dir_all(&root).map_err(io_err("cannot create", &root))?;

    let debs = download(archive, &[&choice.image], &choice.version, work)?;
    unpack(&debs[0], &root)?;
    let config_path = root.join(format!("boot/config-{}", choice.abi));
    let config = read_config(&config_path)?;
    let missing = missing_prerequisites(&config);
    if !missing.is_empty() {
        return Err(Error::Kernel(format!(
            "{} {} lacks {}",
            choice.image,
            choice.version,
            missing.join(", ")
        )));
    }
    // Trixie's packages put the modules under /usr (merged /usr), bookworm's under /lib.
    let moddir = ["usr/lib/modules", "lib/modules"]
        .map(|d| root.join(d).join(&choice.abi))
        .into_iter()
        .find(|d| d.is_dir())
        .ok_or_else(|| Error::Kernel(format!("{} holds no module directory", choice.image)))?;
    let index = module_index(&moddir);
    let mut order: Vec<String> = Vec::new();
    let add_distro = |name: &str, order: &mut Vec<String>| -> Result<()> {
        for path in load_order(&index, name, &read_module)? {
            let file = format!("{}.ko", module_name(&path.to_string_lossy()));
            if !order.contains(&file) {
                fs::write(mods_out.join(&file), read_module(&path)?)
                    .map_err(io_err("cannot write", &mods_out))?;
                order.push(file);
            }
        }
        Ok(())
    };
    if config.get("CONFIGFS_FS").map(String::as_str) == Some("m") {
        add_distro("configfs", &mut order)?;
    }
    let distro_gpio_sim = matches!(config.get("GPIO_SIM").map(String::as_str), Some("y" | "m"));
    if config.get("GPIO_SIM").map(String::as_str) == Some("m") {
        add_distro("gpio-sim", &mut order)?;
    } else if !distro_gpio_sim {
        let irq_sim = config.get("IRQ_SIM").map(String::as_str);
        if irq_sim == Some("m") {
            add_distro("irq_sim", &mut order)?;
        }
        let with_irq_sim = !matches!(irq_sim, Some("y" | "m"));
        let built = build_gpio_sim(archive, choice, work, &root, with_irq_sim)?;
        for ko in built {
            let file = ko
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            fs::copy(&ko, mods_out.join(&file)).map_err(io_err("cannot copy", &ko))?;
            order.push(file);
        }
    }

    let vmlinuz = root.join(format!("boot/vmlinuz-{}", choice.abi));
    let boot_file = x86_boot_image(&vmlinuz, &config, &out)?;
    let info = KernelInfo {
        abi: choice.abi.clone(),
        version: choice.version.clone(),
        boot_file: boot_file.into(),
        modules: order,
        distro_gpio_sim,
        arch: amd64(),
        board_modules: Vec::new(),
        busybox: None,
        suite: Some(archive.suite()),
    };
    let json = serde_json::to_string_pretty(&info).map_err(|e| Error::Kernel(e.to_string()))?;
    fs::write(out.join("kernel.json"), json)
        .map_err(io_err("cannot write", out.join("kernel.json")))?;
    Ok(out)
}

/// Puts the boot image of x86 kernel `vmlinuz` in `out` and returns its file name: the
/// uncompressed ELF `vmlinux` when the kernel has a PVH entry (QEMU boots it 2-3 times
/// faster), else `vmlinuz` itself, with a warning.
pub(crate) fn x86_boot_image(
    vmlinuz: &Path,
    config: &BTreeMap<String, String>,
    out: &Path,
) -> Result<&'static str> {
    match extract_vmlinux(vmlinuz, &out.join("vmlinux")) {
        Ok(()) if config.get("PVH").map(String::as_str) == Some("y") => Ok("vmlinux"),
        other => {
            if let Err(e) = other {
                eprintln!("testbed: warning: booting the compressed kernel (slower): {e}");
            }
            let _ = fs::remove_file(out.join("vmlinux"));
            fs::copy(vmlinuz, out.join("vmlinuz")).map_err(io_err("cannot copy", vmlinuz))?;
            Ok("vmlinuz")
        }
    }
}

/// A module's bytes, decompressed if the distro compresses modules.
pub(crate) fn read_module(src: &Path) -> Result<Vec<u8>> {
    let name = src.to_string_lossy();
    let tool = if name.ends_with(".ko.xz") {
        "xz"
    } else if name.ends_with(".ko.zst") {
        "zstd"
    } else if name.ends_with(".ko.gz") {
        "gzip"
    } else {
        return fs::read(src).map_err(io_err("cannot read", src));
    };
    Ok(run(Command::new(tool).arg("-dc").arg(src))?.stdout)
}

/// Tools kbuild runs besides the compiler and its own programs, for a root of another
/// release (`chroot` into unpacked packages: nothing is installed, so no maintainer
/// script makes the usual links; see [`link_alternatives`]).
const ROOT_TOOLS: &[&str] = &[
    "make",
    "dash",
    "bash",
    "coreutils",
    "sed",
    "grep",
    "mawk",
    "findutils",
    "diffutils",
];

/// The command links that maintainer scripts (`update-alternatives`) would make in a
/// root of unpacked packages: (link, target) under `usr/bin`.
const ALTERNATIVES: &[(&str, &str)] = &[("awk", "mawk")];

/// Makes [`ALTERNATIVES`]' links in the unpacked root `root` where they are missing.
fn link_alternatives(root: &Path) -> Result<()> {
    for (link, target) in ALTERNATIVES {
        let path = root.join("usr/bin").join(link);
        if path.symlink_metadata().is_err() && root.join("usr/bin").join(target).is_file() {
            std::os::unix::fs::symlink(target, &path).map_err(io_err("cannot create", &path))?;
        }
    }
    Ok(())
}

/// Builds gpio-sim (and irq_sim, which Debian does not enable) against the kernel's own
/// headers, unpacked under `root`. Returns the modules in load order.
///
/// The host's release (bookworm) builds with the host's compiler. Another release builds
/// in `root` itself, made a root of its compiler, kbuild's dependencies and the tools
/// above (trixie's kernel was configured with gcc 14, whose flags gcc 12 refuses, and its
/// `modpost` needs a newer glibc than the host's).
fn build_gpio_sim(
    archive: Archive<'_>,
    choice: &KernelChoice,
    work: &Path,
    root: &Path,
    with_irq_sim: bool,
) -> Result<Vec<PathBuf>> {
    let debs = download(
        archive,
        &[
            &choice.headers,
            &choice.headers_common,
            &choice.kbuild,
            &choice.source,
        ],
        &choice.version,
        work,
    )?;
    for d in &debs {
        unpack(d, root)?;
    }
    let in_root = match archive {
        Archive::Host => false,
        Archive::Foreign(apt) => {
            let mut wanted = vec![
                choice.kbuild.clone(),
                choice.compiler.clone().unwrap_or_else(|| "gcc".into()),
            ];
            wanted.extend(ROOT_TOOLS.iter().map(|t| t.to_string()));
            eprintln!(
                "testbed: downloading Debian {}'s {} and its tools for the module build",
                apt.suite(),
                wanted[1]
            );
            for d in apt.download_with_dependencies(&wanted, &work.join("toolchain"))? {
                unpack(&d, root)?;
            }
            link_alternatives(root)?;
            true
        }
    };
    let abi_headers = format!(
        "usr/src/{}",
        choice.headers.trim_start_matches("linux-headers-")
    );
    let headers_rel = if root.join(&abi_headers).is_dir() {
        abi_headers
    } else {
        format!("usr/src/{}", choice.headers)
    };
    let hdir = root.join(&headers_rel);
    if !in_root {
        // Snag 1: the headers' Makefile includes the common headers by absolute /usr/src
        // path (right as it is inside the root).
        let makefile = hdir.join("Makefile");
        let text = fs::read_to_string(&makefile).map_err(io_err("cannot read", &makefile))?;
        let usr_src = format!("{}/usr/src/", root.display());
        fs::write(&makefile, text.replace("/usr/src/", &usr_src))
            .map_err(io_err("cannot write", &makefile))?;
    }

    let tarball = fs::read_dir(root.join("usr/src"))
        .map_err(io_err("cannot read", root.join("usr/src")))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .starts_with("linux-source-")
                && p.is_file()
        })
        .ok_or_else(|| Error::Kernel(format!("{} holds no source tarball", choice.source)))?;
    let src = work.join("src");
    fs::create_dir_all(&src).map_err(io_err("cannot create", &src))?;
    let mut wanted = vec!["*/drivers/gpio/gpio-sim.c", "*/drivers/gpio/gpiolib.h"];
    if with_irq_sim {
        wanted.push("*/kernel/irq/irq_sim.c");
    }
    run(Command::new("tar")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(&src)
        .args(["--wildcards", "--no-anchored"])
        .args(&wanted))?;
    let find = |rel: &str| -> Result<PathBuf> {
        fs::read_dir(&src)
            .map_err(io_err("cannot read", &src))?
            .flatten()
            .map(|e| e.path().join(rel))
            .find(|p| p.is_file())
            .ok_or_else(|| Error::Kernel(format!("{} has no {rel}", choice.source)))
    };
    // Inside the root, so that a build in it sees the sources at /hwkit-gpio-sim.
    const MODULE_DIR: &str = "hwkit-gpio-sim";
    let mdir = root.join(MODULE_DIR);
    fs::create_dir_all(&mdir).map_err(io_err("cannot create", &mdir))?;
    for rel in ["drivers/gpio/gpio-sim.c", "drivers/gpio/gpiolib.h"] {
        let from = find(rel)?;
        let name = from.file_name().unwrap_or_default().to_owned();
        fs::copy(&from, mdir.join(name)).map_err(io_err("cannot copy", &from))?;
    }
    let mut objs = Vec::new();
    if with_irq_sim {
        let from = find("kernel/irq/irq_sim.c")?;
        let text = fs::read_to_string(&from).map_err(io_err("cannot read", &from))?;
        fs::write(mdir.join("irq_sim.c"), patch_irq_sim(&text))
            .map_err(io_err("cannot write", &mdir))?;
        objs.push("irq_sim");
    }
    objs.push("gpio-sim");
    let kbuild: String = format!(
        "obj-m := {}\n",
        objs.iter()
            .map(|o| format!("{o}.o"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    fs::write(mdir.join("Kbuild"), kbuild).map_err(io_err("cannot write", &mdir))?;
    eprintln!(
        "testbed: building {} against {}{}",
        objs.join(" + "),
        choice.headers,
        if in_root {
            format!(" in a root of {}", archive.name())
        } else {
            String::new()
        }
    );
    let jobs = format!(
        "-j{}",
        std::thread::available_parallelism().map_or(2, |n| n.get())
    );
    let mut make = if in_root {
        let mut c = Command::new("chroot");
        c.arg(root)
            .arg("/usr/bin/make")
            .arg("-C")
            .arg(format!("/{headers_rel}"))
            .arg(format!("M=/{MODULE_DIR}"))
            // The host's environment names host paths (cargo's, rustup's): not the root's.
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/")
            .env("LC_ALL", "C");
        c
    } else {
        let mut c = Command::new("make");
        c.arg("-C").arg(&hdir).arg(format!("M={}", mdir.display()));
        c
    };
    run(make.arg(jobs).arg("modules"))?;
    objs.iter()
        .map(|o| {
            let ko = mdir.join(format!("{o}.ko"));
            ko.is_file()
                .then_some(ko.clone())
                .ok_or_else(|| Error::Kernel(format!("the module build made no {}", ko.display())))
        })
        .collect()
}

/// Makes `kernel/irq/irq_sim.c` buildable as a module.
///
/// Snag 2: it calls `irq_to_desc`, which is not exported to modules;
/// `generic_handle_irq(irq)` does the same job through an exported function. Built-in code
/// also has no `MODULE_LICENSE`, without which the GPL-only symbols it uses are refused.
pub fn patch_irq_sim(src: &str) -> String {
    let mut out = src.replace(
        "handle_simple_irq(irq_to_desc(irqnum));",
        "generic_handle_irq(irqnum);",
    );
    if !out.contains("MODULE_LICENSE") {
        out.push_str("\n#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\n");
    }
    out
}

/// The compressed payload formats of x86 bzImages the bed unpacks: (name, magic, the
/// command that decompresses one stream from stdin). Debian 12 and 13 use xz, sid's 7.x
/// kernels zstd.
const PAYLOADS: &[(&str, &[u8], &[&str])] = &[
    ("xz", b"\xfd7zXZ\x00", &["xz", "-dc", "--single-stream"]),
    ("zstd", b"\x28\xb5\x2f\xfd", &["zstd", "-dcq"]),
];

/// Where each known payload format's magic first appears in `image`, in file order.
pub fn payload_candidates(image: &[u8]) -> Vec<(usize, &'static str)> {
    let mut found: Vec<(usize, &'static str)> = PAYLOADS
        .iter()
        .filter_map(|(name, magic, _)| {
            image
                .windows(magic.len())
                .position(|w| w == *magic)
                .map(|at| (at, *name))
        })
        .collect();
    found.sort();
    found
}

/// Decompresses `data` with `argv`; what it wrote to stdout and how it ended.
fn decompress(argv: &[&str], data: Vec<u8>) -> Result<std::process::Output> {
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Command {
            command: argv.join(" "),
            detail: e.to_string(),
        })?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let output = child.wait_with_output().map_err(|e| Error::Command {
        command: argv.join(" "),
        detail: e.to_string(),
    })?;
    let _ = writer.join();
    Ok(output)
}

/// Extracts the uncompressed ELF kernel from a bzImage whose payload is xz- or
/// zstd-compressed (the first candidate, in file order, that decompresses to ELF: the
/// bytes after the payload make the tools complain, so only the output counts).
pub fn extract_vmlinux(vmlinuz: &Path, out: &Path) -> Result<()> {
    let data = fs::read(vmlinuz).map_err(io_err("cannot read", vmlinuz))?;
    let candidates = payload_candidates(&data);
    if candidates.is_empty() {
        return Err(Error::Kernel(format!(
            "{} has no xz or zstd payload",
            vmlinuz.display()
        )));
    }
    let mut why = Vec::new();
    for (at, name) in candidates {
        let argv = PAYLOADS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, argv)| *argv)
            .unwrap_or_default();
        let output = decompress(argv, data[at..].to_vec())?;
        if output.stdout.starts_with(b"\x7fELF") {
            return fs::write(out, &output.stdout).map_err(io_err("cannot write", out));
        }
        why.push(format!(
            "the {name} payload at {at} is not an ELF kernel ({})",
            host::failure_detail(&output)
        ));
    }
    Err(Error::Kernel(format!(
        "{}: {}",
        vmlinuz.display(),
        why.join("; ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MADISON: &str = "\
linux-image-amd64 | 6.12.30-1~bpo12+1 | http://deb.debian.org/debian bookworm-backports/main amd64 Packages
linux-image-amd64 |  6.1.192-2 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
linux-image-amd64 |  6.1.176-1 | http://deb.debian.org/debian bookworm/main amd64 Packages
";

    #[test]
    fn backports_come_last() {
        let m = parse_madison(MADISON);
        assert_eq!(m.len(), 3);
        assert_eq!(
            order_candidates(&m),
            vec!["6.1.192-2", "6.1.176-1", "6.12.30-1~bpo12+1"]
        );
    }

    #[test]
    fn the_apt_fingerprint_is_stable_and_covers_the_sources() {
        let a = apt_fingerprint();
        assert_eq!(a, apt_fingerprint());
        if std::path::Path::new("/etc/apt/sources.list.d").is_dir()
            || std::path::Path::new("/etc/apt/sources.list").is_file()
        {
            assert!(a.contains("/etc/apt/sources.list"), "{a}");
        }
    }

    #[test]
    fn depends_are_parsed_with_exact_versions() {
        let control = "Package: linux-headers-6.1.0-56-amd64\nDepends: linux-headers-6.1.0-56-common (= 6.1.192-2), linux-kbuild-6.1 (>= 6.1.192-2), linux-compiler-gcc-12-x86 | gcc-12\nDescription: x\n";
        let d = parse_depends(control);
        assert_eq!(
            d[0],
            (
                "linux-headers-6.1.0-56-common".into(),
                Some("6.1.192-2".into())
            )
        );
        assert_eq!(d[1], ("linux-kbuild-6.1".into(), None));
        assert_eq!(d[2], ("linux-compiler-gcc-12-x86".into(), None));
        assert!(parse_depends("Package: x\n").is_empty());
    }

    #[test]
    fn prerequisites_are_checked() {
        let config = parse_config(
            "CONFIG_GPIOLIB=y\nCONFIG_GPIO_CDEV=y\n# CONFIG_GPIO_SIM is not set\nCONFIG_GPIO_SYSFS=y\n\
             CONFIG_CONFIGFS_FS=m\nCONFIG_IRQ_DOMAIN=y\nCONFIG_DEVTMPFS=y\nCONFIG_BLK_DEV_INITRD=y\n\
             CONFIG_SERIAL_8250_CONSOLE=y\n",
        );
        assert!(missing_prerequisites(&config).is_empty());
        assert!(!config.contains_key("GPIO_SIM"));
        let mut no_sysfs = config.clone();
        no_sysfs.remove("GPIO_SYSFS");
        no_sysfs.insert("CONFIGFS_FS".into(), "n".into());
        assert_eq!(
            missing_prerequisites(&no_sysfs),
            vec!["CONFIG_GPIO_SYSFS=y", "CONFIG_CONFIGFS_FS=y|m"]
        );
    }

    #[test]
    fn module_dependencies_come_from_modinfo() {
        let gpio_sim =
            b"\x7fELF junk\0license=GPL\0depends=configfs,irq_sim\0retpoline=Y\0".to_vec();
        assert_eq!(modinfo_depends(&gpio_sim), vec!["configfs", "irq_sim"]);
        assert!(modinfo_depends(b"\0depends=\0name=configfs\0").is_empty());
        let index: BTreeMap<String, PathBuf> = [
            ("gpio_sim", "/m/gpio/gpio-sim.ko.xz"),
            ("irq_sim", "/m/irq/irq_sim.ko"),
            ("configfs", "/m/fs/configfs.ko"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
        .collect();
        let read = |p: &Path| -> Result<Vec<u8>> {
            Ok(if p.ends_with("gpio-sim.ko.xz") {
                gpio_sim.clone()
            } else {
                b"\0depends=\0".to_vec()
            })
        };
        let order = load_order(&index, "gpio-sim", &read).unwrap();
        assert_eq!(
            order,
            vec![
                PathBuf::from("/m/fs/configfs.ko"),
                PathBuf::from("/m/irq/irq_sim.ko"),
                PathBuf::from("/m/gpio/gpio-sim.ko.xz")
            ]
        );
        let e = load_order(&index, "nope", &read).unwrap_err().to_string();
        assert!(
            e.contains("module nope is not in the kernel package"),
            "{e}"
        );
    }

    fn fake_kernel(dir: &Path, arch: Option<&str>, suite: Option<&str>) {
        fs::create_dir_all(dir.join("modules")).unwrap();
        fs::write(dir.join("vmlinux"), b"k").unwrap();
        let mut json = serde_json::json!({
            "abi": dir.file_name().unwrap().to_string_lossy(),
            "version": "1", "boot_file": "vmlinux", "modules": [], "distro_gpio_sim": true,
        });
        if let Some(a) = arch {
            json["arch"] = a.into();
        }
        if let Some(s) = suite {
            json["suite"] = s.into();
        }
        fs::write(dir.join("kernel.json"), json.to_string()).unwrap();
    }

    #[test]
    fn each_architecture_and_suite_keeps_its_newest_kernel() {
        let cache = tempfile::tempdir().unwrap();
        let kernels = cache.path().join("kernels");
        // An older bed's kernel.json has no arch (amd64) and no suite (bookworm for amd64,
        // sid for arm64).
        fake_kernel(&kernels.join("6.1.0-56-amd64_1"), None, None);
        fake_kernel(
            &kernels.join("6.1.0-57-amd64_1"),
            Some("amd64"),
            Some("bookworm"),
        );
        fake_kernel(
            &kernels.join("6.12.116+deb13-amd64_1"),
            Some("amd64"),
            Some("trixie"),
        );
        fake_kernel(
            &kernels.join("6.12.117+deb13-amd64_1"),
            Some("amd64"),
            Some("trixie"),
        );
        fake_kernel(
            &kernels.join("7.2.13+deb14-amd64_1"),
            Some("amd64"),
            Some("sid"),
        );
        fake_kernel(&kernels.join("7.2.13+deb14-arm64_1"), Some("arm64"), None);
        let newest = |arch, suite| newest_cached(&kernels, arch, suite).unwrap().info.abi;
        assert_eq!(newest("arm64", Suite::Sid), "7.2.13+deb14-arm64_1");
        assert_eq!(newest("amd64", Suite::Bookworm), "6.1.0-57-amd64_1");
        assert_eq!(newest("amd64", Suite::Trixie), "6.12.117+deb13-amd64_1");
        assert_eq!(newest("amd64", Suite::Sid), "7.2.13+deb14-amd64_1");
        assert!(newest_cached(&kernels, "arm64", Suite::Trixie).is_none());
        let lock = CacheLock::shared(cache.path(), crate::cache::USE_LOCK, "test").unwrap();
        let keep = |name: &str| kernels.join(name);
        prune_old_kernels(
            &kernels,
            &keep("6.1.0-57-amd64_1"),
            ("amd64", Suite::Bookworm),
            &lock,
        )
        .unwrap();
        prune_old_kernels(
            &kernels,
            &keep("6.12.117+deb13-amd64_1"),
            ("amd64", Suite::Trixie),
            &lock,
        )
        .unwrap();
        let mut left: Vec<String> = fs::read_dir(&kernels)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "6.1.0-57-amd64_1",
                "6.12.117+deb13-amd64_1",
                "7.2.13+deb14-amd64_1",
                "7.2.13+deb14-arm64_1"
            ]
        );
    }

    #[test]
    fn unpacked_roots_get_the_links_maintainer_scripts_would_make() {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("usr/bin");
        fs::create_dir_all(&bin).unwrap();
        // No mawk: no dangling link.
        link_alternatives(root.path()).unwrap();
        assert!(bin.join("awk").symlink_metadata().is_err());
        fs::write(bin.join("mawk"), b"").unwrap();
        link_alternatives(root.path()).unwrap();
        assert_eq!(fs::read_link(bin.join("awk")).unwrap(), Path::new("mawk"));
        // An existing awk (gawk's, say) is left alone, and a second pass changes nothing.
        link_alternatives(root.path()).unwrap();
        assert_eq!(fs::read_link(bin.join("awk")).unwrap(), Path::new("mawk"));
    }

    #[test]
    fn the_source_package_is_named_by_the_kernel_series() {
        assert_eq!(
            source_package("6.1.192-3").as_deref(),
            Some("linux-source-6.1")
        );
        assert_eq!(
            source_package("6.12.117-1").as_deref(),
            Some("linux-source-6.12")
        );
        assert_eq!(
            source_package("6.12.30-1~bpo12+1").as_deref(),
            Some("linux-source-6.12")
        );
        assert_eq!(source_package("7.2-1").as_deref(), Some("linux-source-7.2"));
        assert_eq!(source_package("x"), None);
    }

    #[test]
    fn bzimage_payloads_are_found_in_file_order() {
        let mut image = b"MZ setup code ".to_vec();
        image.extend(b"\x28\xb5\x2f\xfd zstd frame ");
        image.extend(b"\xfd7zXZ\x00 not really xz");
        assert_eq!(payload_candidates(&image), [(14, "zstd"), (30, "xz")]);
        assert!(payload_candidates(b"MZ nothing here").is_empty());
    }

    #[test]
    fn a_kernel_without_a_known_payload_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let vmlinuz = dir.path().join("vmlinuz");
        fs::write(&vmlinuz, b"MZ no payload").unwrap();
        let e = extract_vmlinux(&vmlinuz, &dir.path().join("vmlinux"))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("vmlinuz has no xz or zstd payload"), "{e}");
        // A payload that does not decompress to ELF is reported with its format.
        fs::write(&vmlinuz, b"MZ \x28\xb5\x2f\xfd garbage").unwrap();
        let e = extract_vmlinux(&vmlinuz, &dir.path().join("vmlinux"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the zstd payload at 3 is not an ELF kernel"),
            "{e}"
        );
    }

    #[test]
    fn older_kernel_directories_name_their_suite_by_architecture() {
        let info = |arch: &str, suite: Option<&str>| KernelInfo {
            abi: "a".into(),
            version: "1".into(),
            boot_file: "vmlinux".into(),
            modules: vec![],
            distro_gpio_sim: false,
            arch: arch.into(),
            board_modules: vec![],
            busybox: None,
            suite: suite.map(String::from),
        };
        assert_eq!(info("amd64", None).suite(), "bookworm");
        assert_eq!(info("arm64", None).suite(), "sid");
        assert_eq!(info("amd64", Some("trixie")).suite(), "trixie");
    }

    #[test]
    fn irq_sim_patch_removes_the_unexported_call() {
        let src = "static void f(void) {\n\t\thandle_simple_irq(irq_to_desc(irqnum));\n}\n";
        let out = patch_irq_sim(src);
        assert!(!out.contains("irq_to_desc"));
        assert!(out.contains("generic_handle_irq(irqnum);"));
        assert!(out.contains("MODULE_LICENSE(\"GPL\")"));
        assert_eq!(patch_irq_sim(&out), out, "patching twice changes nothing");
    }
}
