//! Inputs the fuzz targets in `fuzz/` found (each also in `fuzz/corpus/<target>/`), kept as
//! ordinary tests of the fixed behaviour.

use boards::{find_profile, Chip, ChipInventory, Resolver};

/// board_resolve: a chip whose sysfs base is near 2**32 has no global number for a line past
/// the end of the number space (instead of an overflow), and its description says so.
#[test]
fn a_sysfs_base_at_the_top_of_the_number_space_gives_no_number() {
    let profile = find_profile("pi4").unwrap();
    let mut chip = Chip::named("gpiochip0");
    chip.label = Some("pinctrl-bcm2711".into());
    chip.num_lines = Some(58);
    chip.sysfs_base = Some(u32::MAX - 3);
    let inventory = ChipInventory::new(vec![chip]);
    let resolver = Resolver::new(profile).with_inventory(&inventory);
    let r = resolver.resolve("GPIO17").unwrap();
    assert_eq!(r.sysfs_number(), None);
    assert!(r.describe().contains("sysfs:  none"), "{}", r.describe());
    let r = resolver.resolve("GPIO3").unwrap();
    assert_eq!(r.sysfs_number(), Some(u32::MAX));
}
