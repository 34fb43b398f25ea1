//! `hwkit pinout` on a simulated Raspberry Pi 4 (a gpio-sim chip labelled `pinctrl-bcm2711`
//! with the Pi 4's line names): the picture shows what the kernel says about lines held by other
//! programs, and `--resolve` reports the live chip, device and sysfs number.

mod common;

use common::{err, ok, one_pi4, pi4, pinout, unique};
use gpiosim::{Bank, Level};
use hw::{Request, Value};

/// The picture's row holding physical pin `pin` (`(11) (12)`).
fn row(picture: &str, pin: u32) -> &str {
    let (left, right) = if pin % 2 == 1 {
        (pin, pin + 1)
    } else {
        (pin - 1, pin)
    };
    let key = format!("({left}) ({right})");
    picture
        .lines()
        .find(|l| l.contains(&key))
        .unwrap_or_else(|| panic!("no row {key} in {picture}"))
}

#[test]
fn the_picture_shows_lines_held_by_other_programs() {
    let _g = one_pi4();
    let s = pi4(None);
    let dev = s.chips()[0].dev_path();
    // Pin 11 (line 17) driven by one program, pin 16 (line 23) read by another.
    let _led = Request::builder()
        .on_chip(dev)
        .consumer("led-daemon")
        .with_line(17)
        .as_output(Value::Active)
        .request()
        .unwrap();
    let _button = Request::builder()
        .on_chip(dev)
        .consumer("button-reader")
        .with_line(23)
        .as_input()
        .request()
        .unwrap();
    let out = ok(&pinout(&["--board", "pi4", "--color", "never"]));
    assert!(
        out.starts_with("Raspberry Pi 4 Model B (chosen with --board pi4)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "chip pinctrl-bcm2711 = {} ({})",
            s.chips()[0].chip_name,
            dev.display()
        )),
        "{out}"
    );
    let r11 = row(&out, 11);
    assert!(
        r11.starts_with("out [led-daemon]") && r11.contains("GPIO17"),
        "{r11}"
    );
    let r16 = row(&out, 16);
    assert!(
        r16.contains("GPIO23") && r16.trim_end().ends_with("in [button-reader]"),
        "{r16}"
    );
    // Lines nobody holds show no consumer.
    assert!(
        row(&out, 13).trim_start().starts_with("in "),
        "{}",
        row(&out, 13)
    );
    assert!(!row(&out, 13).contains('['), "{}", row(&out, 13));
    assert!(
        out.contains("Line state: direction and consumer from the GPIO character device"),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "--color never");
}

#[test]
fn values_show_simulator_pulls_without_disturbing_lines() {
    let _g = one_pi4();
    let s = pi4(None);
    let c = &s.chips()[0];
    c.set_pull(27, Level::High).unwrap();
    c.set_pull(22, Level::Low).unwrap();
    let out = ok(&pinout(&["--board", "pi4", "--values", "--color", "never"]));
    let r13 = row(&out, 13);
    assert!(r13.trim_start().starts_with("in 1"), "{r13}");
    let r15 = row(&out, 15);
    assert!(r15.trim_start().starts_with("in 0"), "{r15}");
    // The momentary as-is requests were released.
    let chip = hw::Chip::open(c.dev_path()).unwrap();
    assert!(chip.line_infos().unwrap().iter().all(|l| !l.used));
}

#[test]
fn resolve_reports_the_live_chip_device_and_sysfs_number() {
    let _g = one_pi4();
    let s = pi4(None);
    let c = &s.chips()[0];
    let base = hwkit_testbed::sim::sysfs_base(c).unwrap();
    let out = ok(&pinout(&["--board", "pi4", "--resolve", "pin11"]));
    let want = format!(
        "pin J8-11 (GPIO17)\n  chip:   {} [pinctrl-bcm2711] (58 lines)\n  device: {}\n  offset: 17\n  sysfs:  {} (base {base} + offset 17)\n",
        c.chip_name,
        c.dev_path().display(),
        base + 17
    );
    assert!(out.starts_with(&want), "{out:?}\nwant {want:?}");
    // The sysfs number is the one the kernel uses: exporting it gives the simulator's line 17.
    let n = (base + 17).to_string();
    std::fs::write("/sys/class/gpio/export", &n).unwrap();
    let gpio = format!("/sys/class/gpio/gpio{n}");
    std::fs::write(format!("{gpio}/direction"), "high").unwrap();
    let level = c.get_level(17).unwrap();
    std::fs::write("/sys/class/gpio/unexport", &n).unwrap();
    assert_eq!(level, Level::High);

    // Other spellings name the same line; a GPIO number finds its header pin.
    for q in ["BCM27", "J8:13", "GPIO27", "pinctrl-bcm2711:27"] {
        let out = ok(&pinout(&["--board", "pi4", "--resolve", q]));
        assert!(out.starts_with("pin J8-13 (GPIO27)"), "{q}: {out}");
        assert!(
            out.contains(&format!("sysfs:  {} (base {base}", base + 27)),
            "{q}: {out}"
        );
    }
    let out = ok(&pinout(&[
        "--board",
        "pi4",
        "--numbers",
        "gpio",
        "--resolve",
        "17",
    ]));
    assert!(out.starts_with("pin J8-11 (GPIO17)"), "{out}");
}

#[test]
fn resolve_refuses_power_unknown_and_missing_pins() {
    let _g = one_pi4();
    let e = err(&pinout(&["--board", "pi4", "--resolve", "pin11"]));
    assert!(
        e.contains("chip `pinctrl-bcm2711` is not present on this system"),
        "{e}"
    );
    let _s = pi4(None);
    let cases: &[(&str, &str)] = &[
        ("pin6", "pin 6 is GND (ground), not a GPIO"),
        ("pin 2", "pin 2 is 5V"),
        ("pin41", "header J8 has pins 1-40, not 41"),
        ("NOSUCHPIN", "unknown pin `NOSUCHPIN`"),
        ("P3-1", "has no header `P3`"),
        ("pinctrl-bcm2711:60", "offset 60 is out of range"),
    ];
    for (q, want) in cases {
        let e = err(&pinout(&["--board", "pi4", "--resolve", q]));
        assert!(e.contains(want), "{q}: {e}");
    }
    let e = err(&pinout(&["--board", "pi9"]));
    assert!(e.contains("unknown board `pi9`"), "{e}");
}

#[test]
fn without_a_device_tree_the_pi4_soc_chip_is_taken_for_a_pi4() {
    let _g = one_pi4();
    let s = pi4(None);
    let out = ok(&pinout(&["--color", "never"]));
    assert!(
        out.contains(
            "Raspberry Pi 4 Model B (guessed from GPIO chip \"pinctrl-bcm2711\": no device tree"
        ),
        "{out}"
    );
    assert!(out.contains("pick yours with --board"), "{out}");
    assert!(out.contains("GPIO17"), "{out}");
    let out = ok(&pinout(&["--resolve", "pin11"]));
    assert!(out.contains("offset: 17"), "{out}");
    assert!(out.contains(&s.chips()[0].chip_name), "{out}");
}

#[test]
fn without_a_device_tree_or_a_known_chip_the_generic_profile_lists_the_chips() {
    let _g = one_pi4();
    let label = unique("generic");
    let s = gpiosim::builder()
        .with_bank(Bank::new(4, &label).name(1, "LED"))
        .live()
        .unwrap();
    let out = ok(&pinout(&["--color", "never"]));
    assert!(out.contains("unknown board ("), "{out}");
    assert!(out.contains("pick a board with --board"), "{out}");
    assert!(out.contains(&s.chips()[0].chip_name), "{out}");
    // Chip and line names still resolve.
    let out = ok(&pinout(&["--resolve", "LED"]));
    assert!(out.contains("offset: 1"), "{out}");
    let e = err(&pinout(&["--resolve", "pin11"]));
    assert!(e.contains("has no header map"), "{e}");
}
