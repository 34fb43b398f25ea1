//! The GPIO chips a system has: character device, kernel name, label, line count, sysfs base.
//!
//! An explicit input to resolution, built from a live system (or a captured tree) by
//! [`ChipInventory::from_root`], completed by what only the chip-info ioctl knows
//! ([`ChipInventory::supplement`]), or made by hand with [`ChipInventory::new`].
//!
//! Sources, all under `root`:
//! - `dev/gpiochip*`: character devices; symlinks (Raspberry Pi OS's `gpiochip4 -> gpiochip0`)
//!   and duplicate nodes are folded into one chip by device number.
//! - `sys/bus/gpio/devices/gpiochipN/dev`: `major:minor`, tells which `gpiochipN` a node is.
//! - `sys/class/gpio/gpiochipBASE/{base,label,ngpio,device}`: the legacy sysfs view;
//!   `device` links to the `gpiochipN` it belongs to.
//! - `sys/class/gpio/chipN/{label,ngpio}`: the newer per-chip sysfs view (hardware offsets).
//!
//! Device nodes cannot be stored in git, so a captured tree may describe `dev/` with a manifest,
//! `dev/hwkit-devices.json`: a JSON array of `{"name": "gpiochip0", "char": "254:0"}` (a character
//! device with its `major:minor`) and `{"name": "gpiochip4", "symlink": "gpiochip0"}` entries.
//! It is read only when `dev/` holds no `gpiochip*` entry of its own.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Name prefix of a legacy sysfs chip directory that could not be tied to a `gpiochipN`
/// (`sysfs:gpiochip512`); [`ChipInventory::supplement`] merges it once the label is known.
pub const UNMATCHED_PREFIX: &str = "sysfs:";

/// File name of the device-node manifest of captured trees, inside `dev/`.
pub const DEV_MANIFEST: &str = "hwkit-devices.json";

/// One GPIO chip of a system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chip {
    /// Kernel name, `gpiochipN`.
    pub name: String,
    /// The character device to open (under the inventory's root), if the system has one.
    pub dev_path: Option<PathBuf>,
    /// Other `/dev` names of the same device (symlinks such as `gpiochip4`).
    pub aliases: Vec<String>,
    /// Device number `(major, minor)`.
    pub device_number: Option<(u32, u32)>,
    /// The chip's label, e.g. `pinctrl-bcm2711`.
    pub label: Option<String>,
    /// Number of lines.
    pub num_lines: Option<u32>,
    /// Base of its global numbers in the legacy sysfs interface.
    pub sysfs_base: Option<u32>,
    /// The per-chip sysfs directory of newer kernels (`/sys/class/gpio/chipN`), whose
    /// `export` takes hardware offsets; present even where the global numbers are gone.
    pub sysfs_chip_dir: Option<PathBuf>,
    /// Line names by offset, when the caller supplied them (chip-info ioctl).
    pub line_names: Vec<Option<String>>,
}

impl Chip {
    /// A chip known only by name.
    pub fn named(name: impl Into<String>) -> Chip {
        Chip {
            name: name.into(),
            dev_path: None,
            aliases: Vec::new(),
            device_number: None,
            label: None,
            num_lines: None,
            sysfs_base: None,
            sysfs_chip_dir: None,
            line_names: Vec::new(),
        }
    }

    /// `N` of `gpiochipN`.
    pub fn number(&self) -> Option<u32> {
        chip_number(&self.name)
    }

    /// `gpiochip0 [pinctrl-bcm2711] (58 lines)`, as gpiodetect prints it.
    pub fn describe(&self) -> String {
        let mut s = self.name.clone();
        if let Some(l) = &self.label {
            s.push_str(&format!(" [{l}]"));
        }
        if let Some(n) = self.num_lines {
            s.push_str(&format!(" ({n} lines)"));
        }
        s
    }

    /// Whether `name` is this chip's name, one of its `/dev` aliases, or its device path.
    pub fn answers_to(&self, name: &str) -> bool {
        let bare = name.strip_prefix("/dev/").unwrap_or(name);
        self.name == bare
            || self.aliases.iter().any(|a| a == bare)
            || self
                .dev_path
                .as_deref()
                .is_some_and(|p| p == Path::new(name))
    }
}

/// What the chip-info ioctl (e.g. the `hw` crate's chip enumeration) says about a chip, for
/// systems where sysfs does not (no `CONFIG_GPIO_SYSFS`), and for line names, which sysfs never has.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChipInfo {
    /// `gpiochipN`.
    pub name: String,
    /// The chip's label.
    pub label: String,
    /// Number of lines.
    pub num_lines: u32,
    /// Line names by offset; empty strings for unnamed lines.
    #[serde(default)]
    pub line_names: Vec<String>,
}

/// The GPIO chips of a system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChipInventory {
    chips: Vec<Chip>,
}

impl ChipInventory {
    /// An inventory of exactly these chips.
    pub fn new(mut chips: Vec<Chip>) -> ChipInventory {
        sort_chips(&mut chips);
        ChipInventory { chips }
    }

    /// Reads the chips of the system (or captured tree) at `root`. Missing directories mean
    /// "no chips of that kind"; other I/O errors are returned with the path.
    pub fn from_root(root: &Path) -> io::Result<ChipInventory> {
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("root {} is not a directory", root.display()),
            ));
        }
        let nodes = read_dev_nodes(&root.join("dev"))?;
        let bus = read_bus_devices(&root.join("sys/bus/gpio/devices"))?;
        let mut chips: BTreeMap<String, Chip> = BTreeMap::new();

        // Group the nodes by device number: one device, one chip, however many names it has.
        let mut groups: BTreeMap<(u32, u32), Vec<&DevNode>> = BTreeMap::new();
        for node in &nodes {
            if let Some(r) = node.rdev {
                groups.entry(r).or_default().push(node);
            }
        }
        for (rdev, group) in &groups {
            // The canonical node: a real node, else a link pointing outside the group
            // (`gpiochip0 -> /dev/...`), else the first name.
            let canonical = group
                .iter()
                .find(|n| n.link.is_none())
                .or_else(|| {
                    group.iter().find(|n| {
                        !group
                            .iter()
                            .any(|m| m.name != n.name && n.link.as_deref() == Some(m.name.as_str()))
                    })
                })
                .unwrap_or(&group[0]);
            let name = bus
                .get(rdev)
                .cloned()
                .unwrap_or_else(|| canonical.name.clone());
            let chip = chips
                .entry(name.clone())
                .or_insert_with(|| Chip::named(&name));
            chip.dev_path = Some(root.join("dev").join(&canonical.name));
            chip.device_number = Some(*rdev);
            for n in group.iter() {
                push_alias(chip, &n.name);
            }
        }
        // Manifest symlinks carry no device number: follow the target's name.
        for node in nodes.iter().filter(|n| n.rdev.is_none()) {
            let Some(target) = node
                .link
                .as_deref()
                .and_then(|t| Path::new(t).file_name())
                .map(|t| t.to_string_lossy().into_owned())
            else {
                continue;
            };
            let target = target.as_str();
            if let Some(chip) = chips
                .values_mut()
                .find(|c| c.name == target || c.aliases.iter().any(|a| a == target))
            {
                push_alias(chip, &node.name);
            }
        }
        // Chips the bus knows without a node in /dev (a container without device nodes).
        for (rdev, name) in &bus.by_rdev {
            let chip = chips
                .entry(name.clone())
                .or_insert_with(|| Chip::named(name));
            chip.device_number.get_or_insert(*rdev);
        }
        read_sysfs_class(&root.join("sys/class/gpio"), &bus, &mut chips)?;
        let mut list: Vec<Chip> = chips.into_values().collect();
        sort_chips(&mut list);
        Ok(ChipInventory { chips: list })
    }

    /// Adds what the chip-info ioctl knows: label and line count where sysfs gave none, and
    /// line names. A chip not yet listed is added.
    pub fn supplement(&mut self, info: ChipInfo) {
        let idx = match self.chips.iter().position(|c| c.answers_to(&info.name)) {
            Some(i) => i,
            None => {
                self.chips.push(Chip::named(&info.name));
                self.chips.len() - 1
            }
        };
        let chip = &mut self.chips[idx];
        chip.label.get_or_insert(info.label.clone());
        chip.num_lines.get_or_insert(info.num_lines);
        if chip.sysfs_base.is_none() {
            // A sysfs directory that could not be tied to a chip: the only one with this
            // label and size is this chip's.
            let same: Vec<usize> = self
                .chips
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.name.starts_with(UNMATCHED_PREFIX)
                        && c.label.as_deref() == Some(info.label.as_str())
                        && c.num_lines == Some(info.num_lines)
                })
                .map(|(i, _)| i)
                .collect();
            if let [j] = same.as_slice() {
                self.chips[idx].sysfs_base = self.chips[*j].sysfs_base;
                self.chips.remove(*j);
            }
        }
        let idx = self
            .chips
            .iter()
            .position(|c| c.answers_to(&info.name))
            .unwrap_or(idx);
        let chip = &mut self.chips[idx];
        if !info.line_names.is_empty() {
            chip.line_names = info
                .line_names
                .into_iter()
                .map(|n| if n.is_empty() { None } else { Some(n) })
                .collect();
        }
        sort_chips(&mut self.chips);
    }

    /// The chips, by kernel number.
    pub fn chips(&self) -> &[Chip] {
        &self.chips
    }

    /// Whether there are no chips.
    pub fn is_empty(&self) -> bool {
        self.chips.is_empty()
    }

    /// Chips with this label (more than one means the label alone is ambiguous).
    pub fn by_label(&self, label: &str) -> Vec<&Chip> {
        self.chips
            .iter()
            .filter(|c| c.label.as_deref() == Some(label))
            .collect()
    }

    /// The chip called `name`: `gpiochipN`, a `/dev` alias such as `gpiochip4`, or `/dev/gpiochipN`.
    pub fn by_name(&self, name: &str) -> Option<&Chip> {
        self.chips.iter().find(|c| c.answers_to(name))
    }

    /// `gpiochip0 [pinctrl-bcm2711] (58 lines)` for each chip, for error messages.
    pub fn describe(&self) -> Vec<String> {
        self.chips.iter().map(Chip::describe).collect()
    }
}

fn push_alias(chip: &mut Chip, alias: &str) {
    if chip.name != alias && !chip.aliases.iter().any(|a| a == alias) {
        chip.aliases.push(alias.to_string());
    }
}

fn sort_chips(chips: &mut [Chip]) {
    // Kernel chips by number first, unmatched sysfs directories last.
    chips.sort_by_key(|c| (c.number().is_none(), c.number(), c.name.clone()));
}

fn chip_number(name: &str) -> Option<u32> {
    name.strip_prefix("gpiochip")?.parse().ok()
}

/// A `/dev/gpiochip*` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DevNode {
    name: String,
    /// Device number of the node (of its target, for a symlink on a live system).
    rdev: Option<(u32, u32)>,
    /// Target as written, for a symlink (`gpiochip0`, `/dev/gpiochip0`).
    link: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestEntry {
    name: String,
    #[serde(default)]
    char: Option<String>,
    #[serde(default)]
    symlink: Option<String>,
}

fn read_dev_nodes(dev: &Path) -> io::Result<Vec<DevNode>> {
    let mut nodes = Vec::new();
    match fs::read_dir(dev) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(|e| with_path(e, dev))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if chip_number(&name).is_none() {
                    continue;
                }
                let path = entry.path();
                // A chip removed since the directory was listed is not an error: skipped.
                let Some(meta) = unless_vanished(fs::symlink_metadata(&path), &path)? else {
                    continue;
                };
                let link = if meta.file_type().is_symlink() {
                    let Some(target) = unless_vanished(fs::read_link(&path), &path)? else {
                        continue;
                    };
                    Some(target.to_string_lossy().into_owned())
                } else {
                    None
                };
                // Follow links for the device number; a dangling link has none.
                let rdev = fs::metadata(&path)
                    .ok()
                    .filter(|m| m.file_type().is_char_device())
                    .map(|m| split_rdev(m.rdev()));
                if link.is_none() && rdev.is_none() {
                    continue; // a plain file named gpiochipN is not a chip
                }
                nodes.push(DevNode { name, rdev, link });
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(with_path(e, dev)),
    }
    if nodes.is_empty() {
        let manifest = dev.join(DEV_MANIFEST);
        if manifest.exists() {
            return read_manifest(&manifest);
        }
    }
    Ok(nodes)
}

fn read_manifest(path: &Path) -> io::Result<Vec<DevNode>> {
    let text = fs::read_to_string(path).map_err(|e| with_path(e, path))?;
    let entries: Vec<ManifestEntry> = serde_json::from_str(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a device manifest: {e}", path.display()),
        )
    })?;
    entries
        .into_iter()
        .map(|e| match (e.char, e.symlink) {
            (Some(c), None) => parse_rdev(&c)
                .map(|r| DevNode {
                    name: e.name.clone(),
                    rdev: Some(r),
                    link: None,
                })
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{}: `{}`: char wants `major:minor`, got `{c}`",
                            path.display(),
                            e.name
                        ),
                    )
                }),
            (None, Some(t)) => Ok(DevNode {
                name: e.name,
                rdev: None,
                link: Some(t),
            }),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: `{}` needs exactly one of `char` or `symlink`",
                    path.display(),
                    e.name
                ),
            )),
        })
        .collect()
}

/// What `sys/bus/gpio/devices` says: device number -> `gpiochipN`, and the parent device
/// directory (canonical path) -> the `gpiochipN`s under it.
#[derive(Debug, Default)]
struct BusDevices {
    by_rdev: BTreeMap<(u32, u32), String>,
    by_parent: BTreeMap<PathBuf, Vec<String>>,
}

impl BusDevices {
    fn get(&self, rdev: &(u32, u32)) -> Option<&String> {
        self.by_rdev.get(rdev)
    }
}

fn read_bus_devices(dir: &Path) -> io::Result<BusDevices> {
    let mut bus = BusDevices::default();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(bus),
        Err(e) => return Err(with_path(e, dir)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| with_path(e, dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if chip_number(&name).is_none() {
            continue;
        }
        if let Some(rdev) = read_trimmed(&entry.path().join("dev"))?
            .as_deref()
            .and_then(parse_rdev)
        {
            bus.by_rdev.insert(rdev, name.clone());
        }
        if let Some(parent) = fs::canonicalize(entry.path())
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
        {
            bus.by_parent.entry(parent).or_default().push(name);
        }
    }
    Ok(bus)
}

/// The `gpiochipN` a legacy `gpiochipBASE` class directory belongs to. Kernels put the class
/// device under the chip's parent device (`.../fe200000.gpio/gpio/gpiochip512`, its `device`
/// linking to `fe200000.gpio`, whose child `gpiochip0` is the chip) or under the gpio device
/// itself (`device` linking to `gpiochip0`). With several chips under one parent sysfs cannot
/// tell them apart: `None`, and [`ChipInventory::supplement`] matches by label later.
fn sysfs_owner(class_dir: &Path, bus: &BusDevices) -> Option<String> {
    let named = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| chip_number(n).is_some())
    };
    if let Some(n) = fs::read_link(class_dir.join("device"))
        .ok()
        .as_deref()
        .and_then(named)
    {
        return Some(n);
    }
    let parent = fs::canonicalize(class_dir.join("device")).ok()?;
    match bus.by_parent.get(&parent).map(Vec::as_slice) {
        Some([one]) => Some(one.clone()),
        _ => None,
    }
}

fn read_sysfs_class(
    dir: &Path,
    bus: &BusDevices,
    chips: &mut BTreeMap<String, Chip>,
) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(with_path(e, dir)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| with_path(e, dir))?;
        let dir_name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let per_chip = dir_name
            .strip_prefix("chip")
            .and_then(|n| n.parse::<u32>().ok());
        if per_chip.is_none() && chip_number(&dir_name).is_none() {
            continue; // gpioN line directories, the export and unexport files
        }
        let label = read_trimmed(&path.join("label"))?;
        let ngpio = read_trimmed(&path.join("ngpio"))?.and_then(|s| s.parse::<u32>().ok());
        if let Some(n) = per_chip {
            // Per-chip directory of newer kernels: chipN belongs to gpiochipN.
            let name = format!("gpiochip{n}");
            let chip = chips
                .entry(name.clone())
                .or_insert_with(|| Chip::named(&name));
            fill(chip, label, ngpio);
            chip.sysfs_chip_dir = Some(path.clone());
            continue;
        }
        let Some(base_from_name) = chip_number(&dir_name) else {
            continue; // unreachable: filtered above
        };
        let base = read_trimmed(&path.join("base"))?
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(base_from_name);
        let key =
            sysfs_owner(&path, bus).unwrap_or_else(|| format!("{UNMATCHED_PREFIX}{dir_name}"));
        let chip = chips
            .entry(key.clone())
            .or_insert_with(|| Chip::named(&key));
        fill(chip, label, ngpio);
        chip.sysfs_base = Some(base);
    }
    Ok(())
}

fn fill(chip: &mut Chip, label: Option<String>, ngpio: Option<u32>) {
    if chip.label.is_none() {
        chip.label = label;
    }
    if chip.num_lines.is_none() {
        chip.num_lines = ngpio;
    }
}

fn read_trimmed(path: &Path) -> io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(with_path(e, path)),
    }
}

/// `Ok(None)` for an entry that vanished after its directory was listed (a chip removed
/// meanwhile), any other error with its path.
fn unless_vanished<T>(r: io::Result<T>, path: &Path) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(with_path(e, path)),
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn parse_rdev(s: &str) -> Option<(u32, u32)> {
    let (major, minor) = s.trim().split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn split_rdev(rdev: u64) -> (u32, u32) {
    // The glibc encoding of dev_t (what libc::major/minor compute).
    let major = ((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0x0000_0fff);
    let minor = ((rdev >> 12) & 0xffff_ff00) | (rdev & 0x0000_00ff);
    (major as u32, minor as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_that_vanished_is_skipped_and_other_errors_name_their_path() {
        let gone = Path::new("/nonexistent/gpiochip7");
        assert!(unless_vanished(fs::symlink_metadata(gone), gone)
            .unwrap()
            .is_none());
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let e = unless_vanished::<()>(Err(denied), Path::new("/dev/gpiochip7")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(e.to_string().starts_with("/dev/gpiochip7: "), "{e}");
        assert_eq!(unless_vanished(Ok(3), gone).unwrap(), Some(3));
    }

    #[test]
    fn rdev_split_matches_the_kernel_encoding() {
        // 254:0 and 254:4 as stat() reports them.
        assert_eq!(split_rdev(0xfe00), (254, 0));
        assert_eq!(split_rdev(0xfe04), (254, 4));
        // makedev(259, 300): the minor's high bits sit above the major's.
        assert_eq!(split_rdev(0x0011_032c), (259, 300));
        assert_eq!(parse_rdev("254:12\n"), Some((254, 12)));
        assert_eq!(parse_rdev("254"), None);
    }
}
