//! Which SoC a GPIO chip is, and where its registers are, from the device tree the kernel
//! booted with: the chip's platform device links to its node (`of_node`); the node's
//! `compatible` names the block and its `reg`, translated through every parent's `ranges`,
//! is the block's physical address. Nothing is guessed: no node, no register backend.

use std::fs;
use std::path::{Path, PathBuf};

use super::soc::Soc;

/// A chip's GPIO block as the device tree describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The SoC, from the node's `compatible`.
    pub soc: Soc,
    /// The node, for messages.
    pub node: PathBuf,
    /// The block's CPU physical address, `None` where it cannot be translated (RP1 sits
    /// behind PCIe: only `/dev/gpiomem0` maps it).
    pub phys: Option<u64>,
}

/// Why a chip has no block the register backend can use.
#[derive(Debug, PartialEq, Eq)]
pub enum NoBlock {
    /// The chip has no device-tree node (x86 machines, gpio-sim, ...).
    NoNode,
    /// Its node is not a GPIO block the backend knows; its `compatible` entries.
    Unknown(Vec<String>),
}

fn cells(raw: &[u8]) -> Vec<u64> {
    raw.chunks_exact(4)
        .map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect()
}

/// A number of `n` cells (big-endian u32s) from the front of `c`.
fn number(c: &[u64], n: usize) -> Option<u64> {
    if n == 0 || n > 2 || c.len() < n {
        return None;
    }
    Some(c[..n].iter().fold(0, |acc, &x| (acc << 32) | x))
}

/// `#address-cells` / `#size-cells` of `node`, with the device-tree spec's defaults.
fn cell_count(node: &Path, prop: &str, default: usize) -> usize {
    fs::read(node.join(prop))
        .ok()
        .and_then(|r| cells(&r).first().copied())
        .map_or(default, |n| n as usize)
}

/// Translates `addr`, an address on `node`'s bus (`node` being the parent of the device),
/// up to the root's, through each level's `ranges`. `None` where a level has no `ranges`
/// (not memory-mapped) or no range covers the address.
fn translate(mut addr: u64, mut node: PathBuf, root: &Path) -> Option<u64> {
    while node != root {
        let parent = node.parent()?.to_owned();
        let raw = fs::read(node.join("ranges")).ok()?;
        if !raw.is_empty() {
            let child_cells = cell_count(&node, "#address-cells", 2);
            let parent_cells = cell_count(&parent, "#address-cells", 2);
            let size_cells = cell_count(&node, "#size-cells", 1);
            let entry = child_cells + parent_cells + size_cells;
            let c = cells(&raw);
            addr = c.chunks_exact(entry).find_map(|e| {
                let child = number(e, child_cells)?;
                let to = number(&e[child_cells..], parent_cells)?;
                let len = number(&e[child_cells + parent_cells..], size_cells)?;
                (addr >= child && addr - child < len).then(|| to + (addr - child))
            })?;
        }
        node = parent;
    }
    Some(addr)
}

/// The block of chip `gpiochipN`, read under `sys` (`/sys` outside tests).
pub fn block_of(chip: &str, sys: &Path) -> Result<Block, NoBlock> {
    let dev =
        fs::canonicalize(sys.join("bus/gpio/devices").join(chip)).map_err(|_| NoBlock::NoNode)?;
    let node = dev
        .parent()
        .and_then(|p| fs::canonicalize(p.join("of_node")).ok())
        .ok_or(NoBlock::NoNode)?;
    let compatible: Vec<String> = fs::read(node.join("compatible"))
        .map_err(|_| NoBlock::NoNode)?
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    let soc = Soc::from_compatible(compatible.iter().map(String::as_str))
        .ok_or(NoBlock::Unknown(compatible))?;
    let root = fs::canonicalize(sys.join("firmware/devicetree/base")).unwrap_or_default();
    let phys = node.parent().and_then(|bus| {
        let reg = cells(&fs::read(node.join("reg")).ok()?);
        let addr = number(&reg, cell_count(bus, "#address-cells", 2))?;
        translate(addr, bus.to_owned(), &root)
    });
    Ok(Block { soc, node, phys })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn be(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    /// A sysfs tree with one chip whose node is `base/soc/gpio@7e200000`, its bus `soc`
    /// mapping `0x7e000000` to `soc_to` with `root_cells` address cells at the root.
    pub(in crate::backend::register) fn tree(
        compatible: &[u8],
        root_cells: u32,
        ranges: &[u32],
    ) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path();
        let base = sys.join("firmware/devicetree/base");
        let node = base.join("soc/gpio@7e200000");
        fs::create_dir_all(&node).unwrap();
        fs::write(base.join("#address-cells"), be(&[root_cells])).unwrap();
        fs::write(base.join("soc/#address-cells"), be(&[1])).unwrap();
        fs::write(base.join("soc/#size-cells"), be(&[1])).unwrap();
        fs::write(base.join("soc/ranges"), be(ranges)).unwrap();
        fs::write(node.join("compatible"), compatible).unwrap();
        fs::write(node.join("reg"), be(&[0x7e20_0000, 0xb4])).unwrap();
        let plat = sys.join("devices/platform/soc/3f200000.gpio");
        fs::create_dir_all(plat.join("gpiochip0")).unwrap();
        symlink(&node, plat.join("of_node")).unwrap();
        fs::create_dir_all(sys.join("bus/gpio/devices")).unwrap();
        symlink(
            plat.join("gpiochip0"),
            sys.join("bus/gpio/devices/gpiochip0"),
        )
        .unwrap();
        dir
    }

    #[test]
    fn a_pi3s_block_is_translated_through_the_soc_ranges() {
        // bcm2837: soc ranges = <0x7e000000 0x3f000000 0x1000000>, one root address cell.
        let t = tree(
            b"brcm,bcm2835-gpio\0",
            1,
            &[
                0x7e00_0000,
                0x3f00_0000,
                0x0100_0000,
                0x4000_0000,
                0x4000_0000,
                0x1000,
            ],
        );
        let b = block_of("gpiochip0", t.path()).unwrap();
        assert_eq!(b.soc, Soc::Bcm2835);
        assert_eq!(b.phys, Some(0x3f20_0000));
    }

    #[test]
    fn a_pi4s_block_has_two_root_address_cells() {
        // bcm2711: soc ranges = <0x7e000000 0x0 0xfe000000 0x1800000>.
        let t = tree(
            b"brcm,bcm2711-gpio\0",
            2,
            &[0x7e00_0000, 0x0, 0xfe00_0000, 0x0180_0000],
        );
        let b = block_of("gpiochip0", t.path()).unwrap();
        assert_eq!((b.soc, b.phys), (Soc::Bcm2711, Some(0xfe20_0000)));
    }

    #[test]
    fn an_address_no_range_covers_has_no_physical_address() {
        let t = tree(
            b"brcm,bcm2835-gpio\0",
            1,
            &[0x1000_0000, 0x2000_0000, 0x1000],
        );
        assert_eq!(block_of("gpiochip0", t.path()).unwrap().phys, None);
    }

    #[test]
    fn chips_without_a_known_node_are_told_apart() {
        let t = tree(b"arm,pl061\0arm,primecell\0", 1, &[]);
        assert_eq!(
            block_of("gpiochip0", t.path()),
            Err(NoBlock::Unknown(vec![
                "arm,pl061".into(),
                "arm,primecell".into()
            ]))
        );
        assert_eq!(block_of("gpiochip7", t.path()), Err(NoBlock::NoNode));
    }
}
