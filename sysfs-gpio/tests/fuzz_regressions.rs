//! Inputs the fuzz targets in `fuzz/` found (each also in `fuzz/corpus/<target>/`), kept as
//! ordinary tests of the fixed behaviour.

use std::fs;

use sysfs_gpio::Sysfs;

/// A sysfs tree in a temporary directory with one chip directory `gpiochip<dir_number>`
/// holding `base`, `ngpio` and `label`.
fn tree_with_chip(dir_number: u64, base: u64, ngpio: u32, label: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let chip = dir.path().join(format!("gpiochip{dir_number}"));
    fs::create_dir_all(&chip).unwrap();
    fs::write(chip.join("base"), format!("{base}\n")).unwrap();
    fs::write(chip.join("ngpio"), format!("{ngpio}\n")).unwrap();
    fs::write(chip.join("label"), format!("{label}\n")).unwrap();
    dir
}

/// sysfs_attrs: a chip whose `base` file says 4294967200 with 200 lines has lines past the
/// number space; they have no global number (instead of an overflow) and exporting one is a
/// clear error.
#[test]
fn a_base_near_the_top_of_the_number_space_has_no_global_number_past_it() {
    let dir = tree_with_chip(4294967200, 4294967200, 200, "big");
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

/// sysfs_attrs: a `gpiochipN` directory whose `base` file says another number (no kernel
/// does that, but a tree is read, not trusted) is read by its `base` file; debug builds
/// asserted the two were equal.
#[test]
fn a_chip_directory_named_after_another_base_is_read_by_its_base_file() {
    let dir = tree_with_chip(10, 3, 8, "odd");
    let sysfs = Sysfs::with_root(dir.path());
    let line = sysfs.resolve("odd", 2).unwrap();
    assert_eq!(line.chip.base, Some(3));
    assert_eq!(line.global(), Some(5));
    assert_eq!(sysfs.resolve_global(10).unwrap().offset, 7);
}

/// sysfs_attrs: a global number no chip covers is explained from the chips present; a chip
/// whose base would put that line past 2**32 is not offered as the one meant (the hint
/// added the two and overflowed).
#[test]
fn the_hint_for_an_unknown_number_skips_a_base_that_would_overflow() {
    let dir = tree_with_chip(4294967200, 4294967200, 200, "big");
    let sysfs = Sysfs::with_root(dir.path());
    let e = sysfs.resolve_global(100).unwrap_err().to_string();
    assert!(
        e.contains("no chip has a line 100; chips present:")
            && e.contains("big")
            && !e.contains('\n'),
        "{e}"
    );
    let e = sysfs.resolve_global(10).unwrap_err().to_string();
    assert!(
        e.contains("chip big has base 4294967200, so line 10 is 4294967210"),
        "{e}"
    );
}
