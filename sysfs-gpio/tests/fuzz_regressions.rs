//! Inputs the fuzz targets in `fuzz/` found (each also in `fuzz/corpus/<target>/`), kept as
//! ordinary tests of the fixed behaviour.

use std::fs;

use sysfs_gpio::Sysfs;

/// sysfs_attrs: a chip whose `base` file says 4294967200 with 200 lines has lines past the
/// number space; they have no global number (instead of an overflow) and exporting one is a
/// clear error.
#[test]
fn a_base_near_the_top_of_the_number_space_has_no_global_number_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let chip = dir.path().join("gpiochip4294967200");
    fs::create_dir_all(&chip).unwrap();
    fs::write(chip.join("base"), "4294967200\n").unwrap();
    fs::write(chip.join("ngpio"), "200\n").unwrap();
    fs::write(chip.join("label"), "big\n").unwrap();
    let sysfs = Sysfs::with_root(dir.path());
    let inside = sysfs.resolve("big", 95).unwrap();
    assert_eq!(inside.global(), Some(u32::MAX));
    let past = sysfs.resolve("big", 100).unwrap();
    assert_eq!(past.global(), None);
    assert_eq!(past.to_string(), "chip \"big\" offset 100");
    let e = sysfs.export_plan(&past).unwrap_err().to_string();
    assert!(
        e.contains("has neither a global number nor a per-chip export file") && !e.contains('\n'),
        "{e}"
    );
}
