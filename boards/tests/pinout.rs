//! Snapshot tests of the plain-text pinout. The snapshots under tests/snapshots/ are reviewed
//! by eye; set `UPDATE_SNAPSHOTS=1` to rewrite them after an intended change.

use std::path::{Path, PathBuf};

use boards::{detect, find_profile, sysfs_line_states, ChipInventory, Pinout};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn snapshot(name: &str, actual: &str) {
    let path = dir().join("snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        expected == actual,
        "pinout differs from {}:\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

#[test]
fn static_pi4_pinout() {
    let out = Pinout::new(find_profile("pi4").unwrap()).render(false);
    snapshot("rpi-4b-static.txt", &out);
}

#[test]
fn pi4_pinout_with_chips_and_exported_lines() {
    let root = dir().join("fixtures/rpi4-6.6");
    let d = detect(&root);
    let inv = ChipInventory::from_root(&root).unwrap();
    let states = sysfs_line_states(&root, &inv);
    let out = Pinout::new(d.profile)
        .title(d.message())
        .inventory(&inv)
        .states(&states)
        .render(false)
        // The fixture's absolute path depends on the checkout.
        .replace(&root.display().to_string(), "<root>");
    snapshot("rpi4-6.6-live.txt", &out);
    let row = out.lines().find(|l| l.contains("(11) (12)")).unwrap();
    assert!(
        row.starts_with("out 1 [sysfs]") && row.contains("GPIO17  (11) (12)  GPIO18"),
        "{row}"
    );
}

#[test]
fn beaglebone_pinout_shows_both_headers_and_all_banks() {
    let root = dir().join("fixtures/bbb-5.10");
    let inv = ChipInventory::from_root(&root).unwrap();
    let out = Pinout::new(find_profile("bbb").unwrap())
        .inventory(&inv)
        .render(false)
        .replace(&root.display().to_string(), "<root>");
    snapshot("bbb-5.10-live.txt", &out);
}

#[test]
fn pi1_rev2_pinout_has_26_pins_and_p5() {
    let out = Pinout::new(find_profile("pi1rev2").unwrap()).render(false);
    snapshot("rpi-1-rev2-static.txt", &out);
}

#[test]
fn generic_pinout_lists_chips() {
    let root = dir().join("fixtures/unknown-x86");
    let inv = ChipInventory::from_root(&root).unwrap();
    let out = Pinout::new(boards::generic()).inventory(&inv).render(false);
    assert!(out.contains("No header map for this board"), "{out}");
    assert!(
        out.contains("gpiochip0 [INT34C5:00] (360 lines), sysfs base 512"),
        "{out}"
    );
}

#[test]
fn colour_only_when_asked() {
    let profile = find_profile("pi5").unwrap();
    let plain = Pinout::new(profile).render(false);
    let coloured = Pinout::new(profile).render(true);
    assert!(!plain.contains('\x1b'));
    assert!(coloured.contains("\x1b[1;31m5V\x1b[0m"), "{coloured}");
    assert!(coloured.contains("\x1b[90mGND\x1b[0m"), "{coloured}");
    // Same text once the escapes are removed.
    let mut stripped = String::new();
    let mut chars = coloured.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            stripped.push(c);
        }
    }
    assert_eq!(stripped, plain);
}
