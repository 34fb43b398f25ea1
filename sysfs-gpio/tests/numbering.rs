//! Numbering and error messages against fixture sysfs trees laid out as the kernel lays them out:
//! class entries under `class/gpio` are symlinks to `<parent device>/gpio/<name>`, next to the
//! GPIO device `gpiochipN` itself.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use sysfs_gpio::{ChipSelector, Error, IoPath, Sysfs};
use tempfile::TempDir;

struct Fixture {
    dir: TempDir,
}

impl Fixture {
    /// A tree with the global `export`/`unexport` files (CONFIG_GPIO_SYSFS_LEGACY=y).
    fn legacy() -> Fixture {
        let f = Fixture::bare();
        fs::write(f.root().join("export"), "").unwrap();
        fs::write(f.root().join("unexport"), "").unwrap();
        f
    }

    /// A tree with only the class directory.
    fn bare() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("class/gpio")).unwrap();
        fs::create_dir_all(dir.path().join("devices")).unwrap();
        Fixture { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("class/gpio")
    }

    fn sysfs(&self) -> Sysfs {
        Sysfs::with_root(self.root())
    }

    fn parent(&self, parent: &str) -> PathBuf {
        let p = self.dir.path().join("devices").join(parent);
        fs::create_dir_all(p.join("gpio")).unwrap();
        p
    }

    /// A chip as every kernel with the legacy ABI shows it: `gpiochipBASE`, plus the GPIO
    /// device `gpiochipID` under the same parent.
    fn add_legacy(&self, parent: &str, id: u32, base: u32, label: &str, ngpio: u32) -> &Self {
        let p = self.parent(parent);
        fs::create_dir_all(p.join(format!("gpiochip{id}"))).unwrap();
        let class_dev = p.join("gpio").join(format!("gpiochip{base}"));
        write_attrs(
            &class_dev,
            &[
                ("base", &format!("{base}\n")),
                ("label", &format!("{label}\n")),
                ("ngpio", &format!("{ngpio}\n")),
            ],
        );
        symlink(&class_dev, self.root().join(format!("gpiochip{base}"))).unwrap();
        self
    }

    /// The per-chip `chipID` class device of kernels 6.17+.
    fn add_per_chip(&self, parent: &str, id: u32, label: &str, ngpio: u32) -> &Self {
        let p = self.parent(parent);
        fs::create_dir_all(p.join(format!("gpiochip{id}"))).unwrap();
        let class_dev = p.join("gpio").join(format!("chip{id}"));
        write_attrs(
            &class_dev,
            &[
                ("label", &format!("{label}\n")),
                ("ngpio", &format!("{ngpio}\n")),
                ("export", ""),
                ("unexport", ""),
            ],
        );
        symlink(&class_dev, self.root().join(format!("chip{id}"))).unwrap();
        self
    }
}

fn write_attrs(dir: &Path, attrs: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (name, value) in attrs {
        fs::write(dir.join(name), value).unwrap();
    }
}

/// Raspberry Pi 4 on a kernel before 6.6: the SoC chip at base 0.
fn pi4_before_6_6() -> Fixture {
    let f = Fixture::legacy();
    f.add_legacy("platform/soc/fe200000.gpio", 0, 0, "pinctrl-bcm2711", 58)
        .add_legacy(
            "platform/soc/soc:firmware/soc:firmware:gpio",
            1,
            504,
            "raspberrypi-exp-gpio",
            8,
        );
    f
}

/// Raspberry Pi 4 on 6.6+: dynamic bases from 512.
fn pi4_6_6() -> Fixture {
    let f = Fixture::legacy();
    f.add_legacy("platform/soc/fe200000.gpio", 0, 512, "pinctrl-bcm2711", 58)
        .add_legacy(
            "platform/soc/soc:firmware/soc:firmware:gpio",
            1,
            570,
            "raspberrypi-exp-gpio",
            8,
        );
    f
}

/// Raspberry Pi 5 on 6.6: the header chip (RP1) at 571, other chips below it.
fn pi5_6_6() -> Fixture {
    let f = Fixture::legacy();
    f.add_legacy(
        "platform/axi/1000120000.pcie/1f000d0000.gpio",
        0,
        571,
        "pinctrl-rp1",
        54,
    )
    .add_legacy(
        "platform/soc/107d508500.gpio",
        10,
        512,
        "gpio-brcmstb@107d508500",
        32,
    )
    .add_legacy(
        "platform/soc/107d517c00.gpio",
        11,
        544,
        "gpio-brcmstb@107d517c00",
        15,
    );
    f
}

/// A gpio-sim chip on Debian 12's 6.1 kernel: bases allocated downward from 1024.
fn gpio_sim_6_1() -> Fixture {
    let f = Fixture::legacy();
    f.add_legacy("platform/gpio-sim.0", 3, 1016, "sim-a", 8);
    f
}

#[test]
fn base_0_chip_resolves_by_label_to_its_own_number() {
    let f = pi4_before_6_6();
    let line = f.sysfs().resolve("pinctrl-bcm2711", 17).unwrap();
    assert_eq!(line.global(), Some(17));
    assert_eq!(line.chip.base, Some(0));
    let plan = f.sysfs().export_plan(&line).unwrap();
    assert_eq!(plan.export_file, f.root().join("export"));
    assert_eq!(plan.unexport_file, f.root().join("unexport"));
    assert_eq!(plan.token, "17");
    assert_eq!(plan.line_dirs, vec![f.root().join("gpio17")]);
}

#[test]
fn base_512_chip_resolves_line_17_to_529() {
    let f = pi4_6_6();
    let line = f.sysfs().resolve("pinctrl-bcm2711", 17).unwrap();
    assert_eq!(line.global(), Some(529));
    assert_eq!(f.sysfs().export_plan(&line).unwrap().token, "529");
    assert_eq!(
        line.to_string(),
        "GPIO 529 (chip \"pinctrl-bcm2711\", offset 17)"
    );
}

#[test]
fn old_number_17_on_a_6_6_pi4_explains_the_renumbering_and_gives_529() {
    let f = pi4_6_6();
    let err = f.sysfs().resolve_global(17).unwrap_err();
    assert!(
        matches!(err, Error::InvalidNumber { number: 17, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "export 17 failed: 17 is not a valid GPIO number on this kernel; chip \
             pinctrl-bcm2711 has base 512, so line 17 is 529"
        ),
        "{msg}"
    );
    assert!(msg.contains("6.6"), "{msg}");
    assert!(msg.contains("512"), "{msg}");
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
}

#[test]
fn open_global_refuses_an_old_number_before_touching_export() {
    let f = pi4_6_6();
    let err = f.sysfs().open_global(17, IoPath::Native).unwrap_err();
    assert!(err.to_string().contains("so line 17 is 529"), "{err}");
    assert_eq!(fs::read_to_string(f.root().join("export")).unwrap(), "");
}

#[test]
fn base_571_header_chip_is_preferred_in_the_hint_over_lower_bases() {
    let f = pi5_6_6();
    let line = f.sysfs().resolve("pinctrl-rp1", 17).unwrap();
    assert_eq!(line.global(), Some(588));
    let msg = f.sysfs().resolve_global(17).unwrap_err().to_string();
    assert!(
        msg.contains("chip pinctrl-rp1 has base 571, so line 17 is 588"),
        "{msg}"
    );
}

#[test]
fn global_numbers_inside_a_chip_resolve_to_chip_and_offset() {
    let f = pi5_6_6();
    let line = f.sysfs().resolve_global(588).unwrap();
    assert_eq!(line.chip.label, "pinctrl-rp1");
    assert_eq!(line.offset, 17);
    let line = f.sysfs().resolve_global(512).unwrap();
    assert_eq!(line.chip.label, "gpio-brcmstb@107d508500");
    assert_eq!(line.offset, 0);
}

#[test]
fn base_1016_gpio_sim_chip_resolves_and_checks_ngpio() {
    let f = gpio_sim_6_1();
    let line = f.sysfs().resolve("sim-a", 7).unwrap();
    assert_eq!(line.global(), Some(1023));
    let err = f.sysfs().resolve("sim-a", 8).unwrap_err();
    assert!(
        matches!(
            err,
            Error::OffsetOutOfRange {
                offset: 8,
                ngpio: 8,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("has 8 lines"), "{msg}");
    assert!(msg.contains("0 to 7"), "{msg}");
    assert!(msg.contains("\"sim-a\""), "{msg}");
}

#[test]
fn number_past_every_chip_lists_the_chips_present() {
    let f = gpio_sim_6_1();
    let msg = f.sysfs().resolve_global(1024).unwrap_err().to_string();
    assert!(msg.contains("no chip has a line 1024"), "{msg}");
    assert!(
        msg.contains("\"sim-a\" (gpiochip1016 in sysfs, 8 lines)"),
        "{msg}"
    );
}

#[test]
fn several_non_header_chips_are_all_offered() {
    let f = Fixture::legacy();
    f.add_legacy("platform/a", 0, 512, "expander-a", 32)
        .add_legacy("platform/b", 1, 600, "expander-b", 32);
    let msg = f.sysfs().resolve_global(17).unwrap_err().to_string();
    assert!(
        msg.contains("chip expander-a has base 512, so line 17 is 529"),
        "{msg}"
    );
    assert!(
        msg.contains("chip expander-b has base 600, so line 17 is 617"),
        "{msg}"
    );
}

#[test]
fn no_chips_at_all_says_so() {
    let f = Fixture::legacy();
    assert!(f.sysfs().chips().unwrap().is_empty());
    let msg = f.sysfs().resolve_global(17).unwrap_err().to_string();
    assert!(msg.contains("no GPIO chips are registered"), "{msg}");
}

#[test]
fn unknown_label_lists_the_chips_present() {
    let f = pi4_6_6();
    let err = f.sysfs().resolve("pinctrl-bcm2835", 17).unwrap_err();
    assert!(matches!(err, Error::ChipNotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("labelled \"pinctrl-bcm2835\""), "{msg}");
    assert!(
        msg.contains("\"pinctrl-bcm2711\" (gpiochip512 in sysfs, 58 lines)"),
        "{msg}"
    );
    assert!(msg.contains("\"raspberrypi-exp-gpio\""), "{msg}");
}

#[test]
fn chips_are_listed_by_base_with_device_numbers() {
    let f = pi5_6_6();
    let chips = f.sysfs().chips().unwrap();
    let summary: Vec<(Option<u32>, Option<u32>, &str)> = chips
        .iter()
        .map(|c| (c.base, c.device, c.label.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Some(512), Some(10), "gpio-brcmstb@107d508500"),
            (Some(544), Some(11), "gpio-brcmstb@107d517c00"),
            (Some(571), Some(0), "pinctrl-rp1"),
        ]
    );
}

#[test]
fn chip_selected_by_device_name_and_by_base() {
    let f = pi5_6_6();
    let by_dev = f.sysfs().resolve("gpiochip0", 17).unwrap();
    assert_eq!(by_dev.chip.label, "pinctrl-rp1");
    assert_eq!(by_dev.global(), Some(588));
    let by_base = f.sysfs().resolve(ChipSelector::Base(544), 2).unwrap();
    assert_eq!(by_base.chip.label, "gpio-brcmstb@107d517c00");
    assert_eq!(by_base.global(), Some(546));
    let err = f.sysfs().resolve("gpiochip7", 0).unwrap_err();
    assert!(
        err.to_string().contains("gpiochip7 (/dev/gpiochip7)"),
        "{err}"
    );
}

#[test]
fn selector_parsing() {
    assert_eq!(ChipSelector::from("gpiochip3"), ChipSelector::Device(3));
    assert_eq!(
        ChipSelector::from("/dev/gpiochip12"),
        ChipSelector::Device(12)
    );
    assert_eq!(
        ChipSelector::from("pinctrl-rp1"),
        ChipSelector::Label("pinctrl-rp1".into())
    );
    assert_eq!(
        ChipSelector::from("gpiochip"),
        ChipSelector::Label("gpiochip".into())
    );
    assert_eq!(
        ChipSelector::from("gpiochip1x"),
        ChipSelector::Label("gpiochip1x".into())
    );
}

#[test]
fn two_chips_with_one_label_are_ambiguous() {
    let f = Fixture::legacy();
    f.add_legacy("platform/a", 0, 512, "twin", 8)
        .add_legacy("platform/b", 1, 520, "twin", 8);
    let err = f.sysfs().resolve("twin", 0).unwrap_err();
    assert!(matches!(err, Error::AmbiguousChip { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("gpiochip512") && msg.contains("gpiochip520"),
        "{msg}"
    );
    // ... and the base still picks exactly one.
    let line = f.sysfs().resolve(ChipSelector::Base(520), 1).unwrap();
    assert_eq!(line.global(), Some(521));
}

#[test]
fn per_chip_export_is_used_where_the_kernel_has_it() {
    let f = Fixture::legacy();
    let parent = "platform/soc/fe200000.gpio";
    f.add_legacy(parent, 0, 512, "pinctrl-bcm2711", 58)
        .add_per_chip(parent, 0, "pinctrl-bcm2711", 58);
    let chips = f.sysfs().chips().unwrap();
    assert_eq!(chips.len(), 1, "{chips:?}");
    assert_eq!(chips[0].device, Some(0));
    assert_eq!(chips[0].chip_dir, Some(f.root().join("chip0")));

    let line = f.sysfs().resolve("pinctrl-bcm2711", 17).unwrap();
    let plan = f.sysfs().export_plan(&line).unwrap();
    assert_eq!(plan.export_file, f.root().join("chip0/export"));
    assert_eq!(plan.unexport_file, f.root().join("chip0/unexport"));
    assert_eq!(plan.token, "17");
    assert_eq!(
        plan.line_dirs,
        vec![f.root().join("gpio529"), f.root().join("chip0/gpio17")]
    );
}

#[test]
fn kernel_without_legacy_abi_exports_by_offset_only() {
    let f = Fixture::bare();
    f.add_per_chip("platform/soc/fe200000.gpio", 0, "pinctrl-bcm2711", 58);
    let line = f.sysfs().resolve("pinctrl-bcm2711", 17).unwrap();
    assert_eq!(line.global(), None);
    assert_eq!(line.to_string(), "chip \"pinctrl-bcm2711\" offset 17");
    let plan = f.sysfs().export_plan(&line).unwrap();
    assert_eq!(plan.export_file, f.root().join("chip0/export"));
    assert_eq!(plan.token, "17");
    assert_eq!(plan.line_dirs, vec![f.root().join("chip0/gpio17")]);

    let msg = f.sysfs().resolve_global(529).unwrap_err().to_string();
    assert!(msg.contains("CONFIG_GPIO_SYSFS_LEGACY is off"), "{msg}");
}

#[test]
fn missing_class_directory_names_the_kernel_option() {
    let dir = tempfile::tempdir().unwrap();
    let sysfs = Sysfs::with_root(dir.path().join("class/gpio"));
    for err in [
        sysfs.chips().unwrap_err(),
        sysfs.resolve("pinctrl-bcm2711", 17).unwrap_err(),
        sysfs
            .open_line("pinctrl-bcm2711", 17, IoPath::Native)
            .unwrap_err(),
        sysfs.open_global(17, IoPath::Native).unwrap_err(),
    ] {
        assert!(matches!(err, Error::NoSysfs { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("CONFIG_GPIO_SYSFS"), "{msg}");
        assert!(msg.contains("CONFIG_GPIO_SYSFS_LEGACY"), "{msg}");
        assert!(msg.contains("/dev/gpiochipN"), "{msg}");
    }
}

#[test]
fn garbage_in_ngpio_is_a_parse_error_naming_the_file() {
    let f = gpio_sim_6_1();
    let ngpio = f.root().join("gpiochip1016/ngpio");
    fs::write(&ngpio, "eight\n").unwrap();
    let err = f.sysfs().chips().unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("\"eight\""), "{msg}");
    assert!(msg.contains("gpiochip1016/ngpio"), "{msg}");
}

#[test]
fn default_root_is_the_kernel_one() {
    assert_eq!(Sysfs::new().root(), Path::new("/sys/class/gpio"));
    assert_eq!(Sysfs::default(), Sysfs::new());
}

// Error paths a healthy kernel never takes, exercised on fixture trees: a kernel that does not
// create the line directory, and attribute files holding what no kernel writes.

#[test]
fn export_whose_directory_never_appears_times_out_and_is_undone() {
    let f = gpio_sim_6_1();
    let started = std::time::Instant::now();
    let err = f.sysfs().open_line("sim-a", 2, IoPath::Native).unwrap_err();
    assert!(matches!(err, Error::ExportTimeout { .. }), "{err:?}");
    assert!(started.elapsed() >= sysfs_gpio::SETTLE_TIMEOUT);
    let msg = err.to_string();
    assert!(msg.contains("gpio1018"), "{msg}");
    assert!(msg.contains("1018 to"), "{msg}");
    assert_eq!(fs::read_to_string(f.root().join("export")).unwrap(), "1018");
    assert_eq!(
        fs::read_to_string(f.root().join("unexport")).unwrap(),
        "1018",
        "our half-made export is undone"
    );
}

/// A line that someone else exported, as plain files.
fn pre_exported(f: &Fixture, number: u32, attrs: &[(&str, &str)]) {
    write_attrs(&f.root().join(format!("gpio{number}")), attrs);
}

#[test]
fn unreadable_attribute_contents_are_parse_errors_naming_the_file() {
    for io in IoPath::ALL {
        let f = gpio_sim_6_1();
        pre_exported(
            &f,
            1017,
            &[
                ("value", "x\n"),
                ("direction", "sideways\n"),
                ("edge", "none\n"),
                ("active_low", "0\n"),
            ],
        );
        let line = f.sysfs().open_line("sim-a", 1, io).unwrap();
        assert!(!line.exported_by_us());
        let err = line.get_value().unwrap_err();
        assert!(matches!(err, Error::Parse { .. }), "{err:?}");
        assert!(err.to_string().contains("gpio1017/value"), "{err}");
        assert!(err.to_string().contains("0 or 1"), "{err}");
        let err = line.direction().unwrap_err();
        assert!(err.to_string().contains("\"sideways\""), "{err}");
        assert!(err.to_string().contains("in or out"), "{err}");
        drop(line);
        assert!(f.root().join("gpio1017").exists(), "not ours: left alone");

        pre_exported(&f, 1018, &[("value", "0\n"), ("edge", "sometimes\n")]);
        let err = f.sysfs().open_line("sim-a", 2, io).unwrap_err();
        assert!(err.to_string().contains("\"sometimes\""), "{err}");
        assert!(err.to_string().contains("rising"), "{err}");
    }
}

#[test]
fn missing_attributes_are_unsupported_with_the_reason() {
    for io in IoPath::ALL {
        let f = gpio_sim_6_1();
        // What a line whose direction is fixed and that has no IRQ looks like.
        pre_exported(&f, 1019, &[("value", "1\n")]);
        let mut line = f.sysfs().open_line("sim-a", 3, io).unwrap();
        assert!(line.get_value().unwrap());
        for (err, attr) in [
            (line.set_output(true).unwrap_err(), "direction"),
            (line.set_edge(sysfs_gpio::Edge::Both).unwrap_err(), "edge"),
            (line.set_active_low(true).unwrap_err(), "active_low"),
        ] {
            assert!(
                matches!(err, Error::Unsupported { attr: a, .. } if a == attr),
                "{err:?}"
            );
            assert!(err.to_string().contains(attr), "{err}");
        }
    }
}
