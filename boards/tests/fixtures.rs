//! Captured board trees (tests/fixtures/<board>/): detection, chip inventory and pin resolution.
//! Every expected chip, offset and sysfs number below is written from the published board facts
//! (header pin -> BCM GPIO, sysfs bases 0 / 512 / 571, 32 x bank + bit), not computed by the crate.

use std::path::{Path, PathBuf};

use boards::{detect, BareNumber, ChipInfo, ChipInventory, MatchedBy, ResolveError, Resolver};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn inventory(name: &str) -> ChipInventory {
    ChipInventory::from_root(&fixture(name)).expect("fixture inventory")
}

/// (query, chip name, offset, sysfs number) resolved on the detected board of `name`.
fn check(name: &str, profile_id: &str, cases: &[(&str, &str, u32, u32)]) {
    let root = fixture(name);
    let detection = detect(&root);
    assert_eq!(
        detection.profile.id,
        profile_id,
        "{name}: {}",
        detection.message()
    );
    let inv = inventory(name);
    let resolver = Resolver::new(detection.profile).with_inventory(&inv);
    for (query, chip, offset, sysfs) in cases {
        let r = resolver
            .resolve(query)
            .unwrap_or_else(|e| panic!("{name}: `{query}` did not resolve: {e}"));
        assert_eq!(r.chip_name(), *chip, "{name}: `{query}` chip");
        assert_eq!(r.offset(), *offset, "{name}: `{query}` offset");
        assert_eq!(
            r.sysfs_number(),
            Some(*sysfs),
            "{name}: `{query}` sysfs number"
        );
        assert_eq!(
            r.dev_path(),
            Some(root.join("dev").join(chip).as_path()),
            "{name}: `{query}` device"
        );
    }
}

#[test]
fn pi3_kernel_6_1_base_0() {
    check(
        "rpi3-6.1",
        "rpi-3b",
        &[
            ("pin 11", "gpiochip0", 17, 17),
            ("11", "gpiochip0", 17, 17),
            ("P1-3", "gpiochip0", 2, 2),
            ("J8:40", "gpiochip0", 21, 21),
            ("GPIO4", "gpiochip0", 4, 4),
            ("BCM27", "gpiochip0", 27, 27),
            ("pinctrl-bcm2835:10", "gpiochip0", 10, 10),
            ("gpiochip0:9", "gpiochip0", 9, 9),
            ("gpiochip1:3", "gpiochip1", 3, 507),
        ],
    );
}

#[test]
fn pi4_kernel_6_1_base_0() {
    check(
        "rpi4-6.1",
        "rpi-4b",
        &[
            ("pin 11", "gpiochip0", 17, 17),
            ("pin 12", "gpiochip0", 18, 18),
            ("J8-38", "gpiochip0", 20, 20),
            ("pin 27", "gpiochip0", 0, 0),
            ("BCM21", "gpiochip0", 21, 21),
            ("pinctrl-bcm2711:57", "gpiochip0", 57, 57),
        ],
    );
}

#[test]
fn pi4_kernel_6_6_base_512() {
    check(
        "rpi4-6.6",
        "rpi-4b",
        &[
            ("pin 11", "gpiochip0", 17, 529),
            ("pin 12", "gpiochip0", 18, 530),
            ("pin 40", "gpiochip0", 21, 533),
            ("GPIO2", "gpiochip0", 2, 514),
            ("P1-24", "gpiochip0", 8, 520),
            ("SPI0 MOSI", "gpiochip0", 10, 522),
            ("gpiochip1:2", "gpiochip1", 2, 572),
        ],
    );
}

#[test]
fn pi4_line_names_come_from_the_supplied_chip_info() {
    let root = fixture("rpi4-6.6");
    let mut inv = inventory("rpi4-6.6");
    let infos: Vec<ChipInfo> =
        serde_json::from_str(&std::fs::read_to_string(root.join("hwkit-chipinfo.json")).unwrap())
            .unwrap();
    for info in infos {
        inv.supplement(info);
    }
    let profile = detect(&root).profile;
    let resolver = Resolver::new(profile).with_inventory(&inv);
    let id_sda = resolver.resolve("ID_SDA").unwrap();
    assert_eq!(
        (id_sda.chip_name(), id_sda.offset(), id_sda.sysfs_number()),
        ("gpiochip0", 0, Some(512))
    );
    assert_eq!(id_sda.location.pin.as_ref().map(|p| p.number), Some(27));
    // A line that is on no header pin still resolves, by name.
    let led = resolver.resolve("STATUS_LED_G_CLK").unwrap();
    assert_eq!(
        (led.chip_name(), led.offset(), led.sysfs_number()),
        ("gpiochip0", 42, Some(554))
    );
    assert_eq!(led.location.pin, None);
    let bt = resolver.resolve("BT_ON").unwrap();
    assert_eq!(
        (bt.chip_name(), bt.offset(), bt.sysfs_number()),
        ("gpiochip1", 0, Some(570))
    );
    // Case-insensitive when nothing matches exactly.
    assert_eq!(resolver.resolve("id_scl").unwrap().offset(), 1);
    // A physical pin picks up the kernel's line name where the profile has one too.
    assert_eq!(
        resolver.resolve("pin 3").unwrap().location.name.as_deref(),
        Some("GPIO2")
    );
}

#[test]
fn pi5_header_chip_gpiochip4_on_early_kernels() {
    check(
        "rpi5-gpiochip4",
        "rpi-5",
        &[
            ("pin 11", "gpiochip4", 17, 588),
            ("pin 3", "gpiochip4", 2, 573),
            ("pin 40", "gpiochip4", 21, 592),
            ("GPIO26", "gpiochip4", 26, 597),
            ("pinctrl-rp1:0", "gpiochip4", 0, 571),
        ],
    );
}

#[test]
fn pi5_header_chip_gpiochip0_with_gpiochip4_symlink() {
    check(
        "rpi5-gpiochip0",
        "rpi-5",
        &[
            ("pin 11", "gpiochip0", 17, 588),
            ("pin 3", "gpiochip0", 2, 573),
            ("pin 40", "gpiochip0", 21, 592),
            // The old name still works, and is the same chip.
            ("gpiochip4:17", "gpiochip0", 17, 588),
            ("/dev/gpiochip4:17", "gpiochip0", 17, 588),
        ],
    );
    let inv = inventory("rpi5-gpiochip0");
    let rp1 = inv.by_label("pinctrl-rp1");
    assert_eq!(
        rp1.len(),
        1,
        "the symlink must not make a second chip: {:?}",
        inv.describe()
    );
    assert_eq!(rp1[0].aliases, vec!["gpiochip4".to_string()]);
    let names: Vec<&str> = inv
        .chips()
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| !n.starts_with(boards::UNMATCHED_PREFIX))
        .collect();
    assert_eq!(
        names,
        [
            "gpiochip0",
            "gpiochip10",
            "gpiochip11",
            "gpiochip12",
            "gpiochip13"
        ]
    );
}

#[test]
fn zero_2_w_kernel_6_6() {
    check(
        "zero2w-6.6",
        "rpi-zero-2-w",
        &[
            ("pin 11", "gpiochip0", 17, 529),
            ("pin 7", "gpiochip0", 4, 516),
            ("pin 29", "gpiochip0", 5, 517),
            ("pin 35", "gpiochip0", 19, 531),
        ],
    );
}

#[test]
fn beaglebone_black_banks() {
    check(
        "bbb-5.10",
        "beaglebone-black",
        &[
            ("P9_12", "gpiochip1", 28, 60),
            ("P9-12", "gpiochip1", 28, 60),
            ("gpio1_28", "gpiochip1", 28, 60),
            ("GPIO60", "gpiochip1", 28, 60),
            ("P8_3", "gpiochip1", 6, 38),
            ("P9.11", "gpiochip0", 30, 30),
            ("P9_25", "gpiochip3", 21, 117),
            ("P8_7", "gpiochip2", 2, 66),
            ("P8_46", "gpiochip2", 7, 71),
            ("gpio-96-127:21", "gpiochip3", 21, 117),
        ],
    );
}

#[test]
fn beaglebone_needs_a_header_for_bare_pins() {
    let profile = detect(&fixture("bbb-5.10")).profile;
    let err = Resolver::new(profile).locate("pin 12").unwrap_err();
    assert!(matches!(err, ResolveError::WhichHeader { .. }), "{err}");
    assert!(err.to_string().contains("P8, P9"), "{err}");
    let err = Resolver::new(profile).locate("P9_33").unwrap_err();
    assert!(
        err.to_string()
            .contains("pin 33 is AIN4 (other), not a GPIO"),
        "{err}"
    );
}

#[test]
fn unknown_board_falls_back_to_generic_and_says_so() {
    let root = fixture("unknown-x86");
    let d = detect(&root);
    assert_eq!(d.profile.id, "generic");
    assert_eq!(d.matched_by, MatchedBy::Fallback);
    let msg = d.message();
    assert!(msg.contains("unknown board"), "{msg}");
    assert!(msg.contains("generic profile"), "{msg}");
    let inv = inventory("unknown-x86");
    let r = Resolver::new(d.profile).with_inventory(&inv);
    let line = r.resolve("INT34C5:00:7").unwrap();
    assert_eq!(
        (line.chip_name(), line.offset(), line.sysfs_number()),
        ("gpiochip0", 7, Some(519))
    );
    let err = r.resolve("pin 11").unwrap_err();
    assert!(err.to_string().contains("no header map"), "{err}");
    let err = r.resolve("GPIO17").unwrap_err();
    assert!(err.to_string().contains("unknown pin"), "{err}");
}

#[test]
fn bare_numbers_can_mean_gpio_numbers() {
    let root = fixture("rpi4-6.6");
    let inv = inventory("rpi4-6.6");
    let r = Resolver::new(detect(&root).profile)
        .with_inventory(&inv)
        .bare_numbers(BareNumber::Gpio);
    let res = r.resolve("17").unwrap();
    assert_eq!((res.offset(), res.sysfs_number()), (17, Some(529)));
    assert_eq!(res.location.pin.as_ref().map(|p| p.number), Some(11));
}

#[test]
fn chip_of_another_board_is_reported_with_the_chips_present() {
    let inv = inventory("rpi3-6.1");
    let pi4 = boards::find_profile("pi4").unwrap();
    let err = Resolver::new(pi4)
        .with_inventory(&inv)
        .resolve("pin 11")
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ResolveError::ChipNotPresent { .. }), "{msg}");
    assert!(
        msg.contains("pin J8-11 (GPIO17) is line 17 of chip `pinctrl-bcm2711`"),
        "{msg}"
    );
    assert!(
        msg.contains("gpiochip0 [pinctrl-bcm2835] (54 lines)"),
        "{msg}"
    );
    assert!(
        msg.contains("gpiochip1 [raspberrypi-exp-gpio] (8 lines)"),
        "{msg}"
    );
    let err = Resolver::new(pi4)
        .with_inventory(&inv)
        .resolve("gpiochip7:1")
        .unwrap_err();
    assert!(
        err.to_string().contains("chip `gpiochip7` is not present"),
        "{err}"
    );
}

#[test]
fn offsets_beyond_the_chip_are_refused() {
    let inv = inventory("rpi4-6.6");
    let pi4 = boards::find_profile("pi4").unwrap();
    let r = Resolver::new(pi4).with_inventory(&inv);
    let err = r.resolve("gpiochip1:8").unwrap_err();
    assert!(
        matches!(
            err,
            ResolveError::OffsetOutOfRange {
                offset: 8,
                lines: 8,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("it has 8 lines (0-7)"), "{err}");
    let err = r.resolve("pinctrl-bcm2711:58").unwrap_err();
    assert!(
        matches!(
            err,
            ResolveError::OffsetOutOfRange {
                offset: 58,
                lines: 58,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn sysfs_exported_lines_show_their_state() {
    let root = fixture("rpi4-6.6");
    let inv = inventory("rpi4-6.6");
    let states = boards::sysfs_line_states(&root, &inv);
    let gpio17 = &states[&("gpiochip0".to_string(), 17)];
    assert_eq!(gpio17.summary(), "out 1 [sysfs]");
    let gpio22 = &states[&("gpiochip0".to_string(), 22)];
    assert_eq!(gpio22.summary(), "in 0 [sysfs]");
    assert_eq!(states.len(), 2);
}

#[test]
fn missing_root_and_bad_manifest_are_errors() {
    let err = ChipInventory::from_root(Path::new("/nonexistent/hwkit-root")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/hwkit-root"), "{err}");
    let dir = std::env::temp_dir().join(format!("boards-bad-manifest-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    std::fs::write(
        dir.join("dev/hwkit-devices.json"),
        r#"[{"name": "gpiochip0", "char": "x"}]"#,
    )
    .unwrap();
    let err = ChipInventory::from_root(&dir).unwrap_err();
    assert!(
        err.to_string().contains("char wants `major:minor`"),
        "{err}"
    );
    std::fs::write(
        dir.join("dev/hwkit-devices.json"),
        r#"[{"name": "gpiochip0"}]"#,
    )
    .unwrap();
    let err = ChipInventory::from_root(&dir).unwrap_err();
    assert!(
        err.to_string()
            .contains("exactly one of `char` or `symlink`"),
        "{err}"
    );
    std::fs::write(dir.join("dev/hwkit-devices.json"), "not json").unwrap();
    let err = ChipInventory::from_root(&dir).unwrap_err();
    assert!(err.to_string().contains("not a device manifest"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn live_dev_nodes_are_deduplicated_by_device_number() {
    // Real character devices cannot be made without privileges everywhere, but /dev/null is a
    // character device on every Linux system: two names for it must become one chip.
    let dir = std::env::temp_dir().join(format!("boards-live-dev-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    std::os::unix::fs::symlink("/dev/null", dir.join("dev/gpiochip0")).unwrap();
    std::os::unix::fs::symlink("gpiochip0", dir.join("dev/gpiochip4")).unwrap();
    let inv = ChipInventory::from_root(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(inv.chips().len(), 1, "{:?}", inv.chips());
    let chip = &inv.chips()[0];
    assert_eq!(chip.device_number, Some((1, 3)), "/dev/null is 1:3");
    assert!(
        chip.answers_to("gpiochip4") && chip.answers_to("gpiochip0"),
        "{chip:?}"
    );
}

#[test]
fn chips_sharing_a_parent_are_tied_to_sysfs_by_label_once_known() {
    // Each gpio-brcmstb controller of the Pi 5 has two banks: sysfs cannot say which
    // gpiochipBASE directory is which gpiochipN until the labels come from the chip-info ioctl.
    let root = fixture("rpi5-gpiochip4");
    let mut inv = inventory("rpi5-gpiochip4");
    let unmatched: Vec<String> = inv
        .chips()
        .iter()
        .filter(|c| c.name.starts_with(boards::UNMATCHED_PREFIX))
        .map(|c| c.describe())
        .collect();
    assert_eq!(
        unmatched,
        [
            "sysfs:gpiochip512 [gpio-brcmstb@107d508500] (32 lines)",
            "sysfs:gpiochip544 [gpio-brcmstb@107d508520] (4 lines)",
            "sysfs:gpiochip548 [gpio-brcmstb@107d517c00] (17 lines)",
            "sysfs:gpiochip565 [gpio-brcmstb@107d517c20] (6 lines)",
        ]
    );
    let infos: Vec<ChipInfo> =
        serde_json::from_str(&std::fs::read_to_string(root.join("hwkit-chipinfo.json")).unwrap())
            .unwrap();
    for info in infos {
        inv.supplement(info);
    }
    let bases: Vec<(String, Option<u32>)> = inv
        .chips()
        .iter()
        .map(|c| (c.name.clone(), c.sysfs_base))
        .collect();
    assert_eq!(
        bases,
        [
            ("gpiochip0".to_string(), Some(512)),
            ("gpiochip1".to_string(), Some(544)),
            ("gpiochip2".to_string(), Some(548)),
            ("gpiochip3".to_string(), Some(565)),
            ("gpiochip4".to_string(), Some(571)),
        ]
    );
    let r = Resolver::new(detect(&root).profile)
        .with_inventory(&inv)
        .resolve("pin 11")
        .unwrap();
    assert_eq!((r.chip_name(), r.sysfs_number()), ("gpiochip4", Some(588)));
}

#[test]
fn per_chip_sysfs_directories_without_global_numbers() {
    // CONFIG_GPIO_SYSFS_LEGACY=n: /sys/class/gpio/chipN only, no gpiochipBASE, no numbers.
    let dir = std::env::temp_dir().join(format!("boards-per-chip-{}", std::process::id()));
    let class = dir.join("sys/class/gpio/chip0");
    std::fs::create_dir_all(&class).unwrap();
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    std::fs::write(class.join("label"), "pinctrl-bcm2711\n").unwrap();
    std::fs::write(class.join("ngpio"), "58\n").unwrap();
    std::fs::write(class.join("export"), "").unwrap();
    std::fs::write(
        dir.join("dev/hwkit-devices.json"),
        r#"[{"name": "gpiochip0", "char": "254:0"}]"#,
    )
    .unwrap();
    let inv = ChipInventory::from_root(&dir).unwrap();
    let pi4 = boards::find_profile("pi4").unwrap();
    let r = Resolver::new(pi4)
        .with_inventory(&inv)
        .resolve("pin 11")
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        (r.chip_name(), r.offset(), r.sysfs_number()),
        ("gpiochip0", 17, None)
    );
    assert_eq!(r.chip.sysfs_chip_dir.as_deref(), Some(class.as_path()));
    let text = r.describe();
    assert!(text.contains("sysfs:  none"), "{text}");
    assert!(text.contains("chip0 (export takes offset 17)"), "{text}");
}
