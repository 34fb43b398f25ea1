//! In the VM: a gpio-sim chip labelled `pinctrl-bcm2711` with the Pi 4's 58 line names stands
//! in for a Raspberry Pi 4. Header pins are resolved against the live /dev and /sys, then driven
//! through the character device (with `hw`) and through sysfs (plain writes), and the simulator
//! says whether the right line moved.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use boards::{
    find_profile, sysfs_line_states, ChipInfo, ChipInventory, Pinout, Resolution, Resolver,
};
use gpiosim::{Bank, Level, Sim};
use hw::{Request, Value};
// The test bed's Pi 4 preset: the same names `hwkit-testbed vm --chips pi4` boots with.
use hwkit_testbed::spec::PI4_LINE_NAMES;

/// One chip with a given label at a time: two would make the label ambiguous (by design).
static ONE_SIM: Mutex<()> = Mutex::new(());

fn sim(label: &str, lines: u32) -> Sim {
    let mut bank = Bank::new(lines, label);
    if lines == 58 {
        for (i, n) in PI4_LINE_NAMES.iter().enumerate() {
            bank.name(i as u32, *n);
        }
    }
    gpiosim::builder()
        .with_bank(&bank)
        .live()
        .expect("gpio-sim chip")
}

/// The sysfs base of the chip labelled `label`, read straight from /sys/class/gpio: the oracle
/// the resolver's sysfs numbers are checked against.
fn sysfs_base_of(label: &str) -> u32 {
    for e in fs::read_dir("/sys/class/gpio").unwrap().flatten() {
        let p = e.path();
        if fs::read_to_string(p.join("label"))
            .map(|l| l.trim() == label)
            .unwrap_or(false)
        {
            return fs::read_to_string(p.join("base"))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
        }
    }
    panic!("no /sys/class/gpio/gpiochip* labelled {label}");
}

/// The live inventory, completed with labels and line names from the chip-info ioctl.
fn live_inventory(root: &Path) -> ChipInventory {
    let mut inv = ChipInventory::from_root(root).unwrap();
    let paths: Vec<(String, PathBuf)> = inv
        .chips()
        .iter()
        .filter_map(|c| c.dev_path.clone().map(|p| (c.name.clone(), p)))
        .collect();
    for (name, path) in paths {
        let chip = hw::Chip::open(&path).unwrap();
        let names = chip
            .line_infos()
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        inv.supplement(ChipInfo {
            name,
            label: chip.info().label.clone(),
            num_lines: chip.info().num_lines,
            line_names: names,
        });
    }
    inv
}

fn level(s: &Sim, offset: u32) -> Level {
    s.chips()[0].get_level(offset).unwrap()
}

fn resolve(inv: &ChipInventory, query: &str) -> Resolution {
    Resolver::new(find_profile("pi4").unwrap())
        .with_inventory(inv)
        .resolve(query)
        .unwrap_or_else(|e| panic!("`{query}`: {e}"))
}

#[test]
fn pi4_header_pins_resolve_to_the_simulated_chip() {
    let _one = ONE_SIM.lock().unwrap_or_else(|e| e.into_inner());
    let s = sim("pinctrl-bcm2711", 58);
    let chip = &s.chips()[0];
    let inv = live_inventory(Path::new("/"));
    let base = sysfs_base_of("pinctrl-bcm2711");
    for (query, offset) in [
        ("pin 11", 17),
        ("J8-12", 18),
        ("P1:40", 21),
        ("GPIO4", 4),
        ("BCM27", 27),
        ("11", 17),
    ] {
        let r = resolve(&inv, query);
        assert_eq!(r.chip_name(), chip.chip_name, "`{query}`");
        assert_eq!(r.dev_path(), Some(chip.dev_path().as_path()), "`{query}`");
        assert_eq!(r.offset(), offset, "`{query}`");
        assert_eq!(r.sysfs_number(), Some(base + offset), "`{query}`");
    }
    // Line names come from the kernel (through the chip-info ioctl).
    let id_sda = resolve(&inv, "ID_SDA");
    assert_eq!(
        (
            id_sda.offset(),
            id_sda.location.pin.as_ref().map(|p| p.number)
        ),
        (0, Some(27))
    );
    let led = resolve(&inv, "STATUS_LED_G_CLK");
    assert_eq!((led.offset(), led.location.pin.clone()), (42, None));
    // chip:offset by label and by kernel name agree.
    let by_label = resolve(&inv, "pinctrl-bcm2711:17");
    let by_name = resolve(&inv, &format!("{}:17", chip.chip_name));
    assert_eq!(by_label, by_name);
    assert_eq!(by_name.location.pin.as_ref().map(|p| p.number), Some(11));
    // And the errors name what exists.
    let err = Resolver::new(find_profile("pi4").unwrap())
        .with_inventory(&inv)
        .resolve("pinctrl-bcm2711:58")
        .unwrap_err();
    assert!(err.to_string().contains("it has 58 lines"), "{err}");
    let err = Resolver::new(find_profile("pi5").unwrap())
        .with_inventory(&inv)
        .resolve("pin 11")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("{} [pinctrl-bcm2711] (58 lines)", chip.chip_name)),
        "{err}"
    );
}

#[test]
fn header_pins_drive_the_simulator_through_the_character_device() {
    let _one = ONE_SIM.lock().unwrap_or_else(|e| e.into_inner());
    let s = sim("pinctrl-bcm2711", 58);
    let inv = live_inventory(Path::new("/"));
    for pin in ["pin 11", "pin 12", "pin 40", "pin 27"] {
        let r = resolve(&inv, pin);
        let mut req = Request::builder()
            .on_chip(r.dev_path().unwrap())
            .consumer("boards-vm")
            .with_line(r.offset())
            .as_output(Value::Active)
            .request()
            .unwrap();
        assert_eq!(level(&s, r.offset()), Level::High, "{pin}");
        req.set_value(r.offset(), Value::Inactive).unwrap();
        assert_eq!(level(&s, r.offset()), Level::Low, "{pin}");
        // Only that line moved: its neighbours on the chip are still inputs at their pull.
        for other in [r.offset().wrapping_sub(1), r.offset() + 1] {
            if other < 58 {
                assert_eq!(level(&s, other), Level::Low, "{pin}: line {other}");
            }
        }
        req.set_value(r.offset(), Value::Active).unwrap();
        assert_eq!(level(&s, r.offset()), Level::High, "{pin}");
    }
    // An input: the simulator pulls, the resolved line reads it.
    let r = resolve(&inv, "pin 13");
    assert_eq!(r.offset(), 27);
    let req = Request::builder()
        .on_chip(r.dev_path().unwrap())
        .with_line(r.offset())
        .as_input()
        .request()
        .unwrap();
    s.chips()[0].pullup(27).unwrap();
    assert_eq!(req.value(27).unwrap(), Value::Active);
    s.chips()[0].pulldown(27).unwrap();
    assert_eq!(req.value(27).unwrap(), Value::Inactive);
}

#[test]
fn header_pins_drive_the_simulator_through_sysfs() {
    let _one = ONE_SIM.lock().unwrap_or_else(|e| e.into_inner());
    let s = sim("pinctrl-bcm2711", 58);
    let inv = live_inventory(Path::new("/"));
    let r = resolve(&inv, "pin 16");
    assert_eq!(r.offset(), 23);
    let number = r
        .sysfs_number()
        .expect("gpio-sim chips appear under /sys/class/gpio");
    let dir = PathBuf::from(format!("/sys/class/gpio/gpio{number}"));
    fs::write("/sys/class/gpio/export", number.to_string()).unwrap();
    let result = std::panic::catch_unwind(|| {
        fs::write(dir.join("direction"), "out").unwrap();
        fs::write(dir.join("value"), "1").unwrap();
        assert_eq!(level(&s, 23), Level::High);
        // The pinout shows the exported line's state at pin 16.
        let states = sysfs_line_states(Path::new("/"), &inv);
        let picture = Pinout::new(find_profile("pi4").unwrap())
            .inventory(&inv)
            .states(&states)
            .render(false);
        let row = picture.lines().find(|l| l.contains("(15) (16)")).unwrap();
        assert!(
            row.contains("GPIO23") && row.trim_end().ends_with("out 1 [sysfs]"),
            "{row}"
        );
        fs::write(dir.join("value"), "0").unwrap();
        assert_eq!(level(&s, 23), Level::Low);
        fs::write(dir.join("direction"), "in").unwrap();
        s.chips()[0].pullup(23).unwrap();
        assert_eq!(fs::read_to_string(dir.join("value")).unwrap().trim(), "1");
        s.chips()[0].pulldown(23).unwrap();
        assert_eq!(fs::read_to_string(dir.join("value")).unwrap().trim(), "0");
    });
    fs::write("/sys/class/gpio/unexport", number.to_string()).unwrap();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn a_symlinked_second_name_is_the_same_chip() {
    // The Pi 5 case with real device nodes: a root whose dev/ has the chip under its own name and
    // under an extra symlink (as Raspberry Pi OS's gpiochip4 -> gpiochip0), sys/ being the real one.
    let _one = ONE_SIM.lock().unwrap_or_else(|e| e.into_inner());
    let s = sim("pinctrl-rp1", 54);
    let chip = &s.chips()[0];
    let root = std::env::temp_dir().join(format!("boards-vm-root-{}", std::process::id()));
    fs::create_dir_all(root.join("dev")).unwrap();
    std::os::unix::fs::symlink("/sys", root.join("sys")).unwrap();
    let alias = if chip.chip_name == "gpiochip4" {
        "gpiochip99"
    } else {
        "gpiochip4"
    };
    std::os::unix::fs::symlink(chip.dev_path(), root.join("dev").join(&chip.chip_name)).unwrap();
    std::os::unix::fs::symlink(&chip.chip_name, root.join("dev").join(alias)).unwrap();
    let inv = live_inventory(&root);
    let found = inv.by_label("pinctrl-rp1");
    assert_eq!(found.len(), 1, "{:?}", inv.describe());
    assert_eq!(found[0].name, chip.chip_name);
    assert!(
        found[0].aliases.iter().any(|a| a == alias),
        "{:?}",
        found[0]
    );
    let r = Resolver::new(find_profile("pi5").unwrap()).with_inventory(&inv);
    let a = r.resolve("pin 11").unwrap();
    let b = r.resolve(&format!("{alias}:17")).unwrap();
    fs::remove_dir_all(&root).unwrap();
    assert_eq!(a, b);
    // The device path is the chip's own node, not the extra name.
    assert_eq!(
        a.dev_path(),
        Some(root.join("dev").join(&chip.chip_name).as_path())
    );
    assert_eq!(a.sysfs_number(), Some(sysfs_base_of("pinctrl-rp1") + 17));
}
