//! Every way a pin query can be wrong, and what the message says.

use std::path::PathBuf;

use boards::{find_profile, generic, Chip, ChipInventory, ResolveError, Resolver};

fn pi4() -> Resolver<'static> {
    Resolver::new(find_profile("pi4").unwrap())
}

fn chip(name: &str, label: &str, lines: u32, base: u32) -> Chip {
    Chip {
        dev_path: Some(PathBuf::from("/dev").join(name)),
        label: Some(label.into()),
        num_lines: Some(lines),
        sysfs_base: Some(base),
        ..Chip::named(name)
    }
}

#[test]
fn ground_and_power_pins_are_not_gpios() {
    let err = pi4().locate("pin 6").unwrap_err();
    assert!(matches!(err, ResolveError::NotGpio { pin: 6, .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("pin 6 is GND (ground), not a GPIO"), "{msg}");
    assert!(msg.contains("GPIO pins of J8: 3, 5, 7, 8, 10, 11"), "{msg}");
    let err = pi4().locate("J8-1").unwrap_err();
    assert!(err.to_string().contains("pin 1 is 3V3 (power)"), "{err}");
    // By name: every GND pin is ground, so the answer is still "not a GPIO".
    let err = pi4().locate("GND").unwrap_err();
    assert!(matches!(err, ResolveError::NotGpio { .. }), "{err}");
}

#[test]
fn unknown_names_list_the_forms_and_the_nearest_names() {
    let err = pi4().locate("GPI017").unwrap_err();
    let ResolveError::UnknownPin { nearest, forms, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(nearest.first().map(String::as_str), Some("GPIO17"), "{err}");
    assert!(
        forms.contains("`pin 11`, `J8-11`, `11` by default"),
        "{err}"
    );
    assert!(forms.contains("`GPIO17`, `BCM17`"), "{err}");
    assert!(
        forms.contains("`gpiochip0:17`, `pinctrl-bcm2711:17`"),
        "{err}"
    );
    let err = pi4().locate("I2C1 SDX").unwrap_err();
    assert!(err.to_string().contains("nearest names: I2C1 SDA"), "{err}");
    let err = pi4().locate("frobnicate").unwrap_err();
    assert!(!err.to_string().contains("nearest"), "{err}");
}

#[test]
fn pins_headers_and_numbers_out_of_range() {
    let err = pi4().locate("pin 41").unwrap_err();
    assert_eq!(err.to_string(), "`pin 41`: header J8 has pins 1-40, not 41");
    let err = pi4().locate("pin 0").unwrap_err();
    assert!(
        matches!(err, ResolveError::NoSuchPin { pin: 0, .. }),
        "{err}"
    );
    for q in ["P3-1", "P3:1", "p3_1"] {
        let err = pi4().locate(q).unwrap_err();
        assert!(matches!(err, ResolveError::NoSuchHeader { .. }), "{err}");
        assert!(err.to_string().contains("has no header `"), "{err}");
        assert!(err.to_string().contains("its headers: J8"), "{err}");
    }
    let err = pi4().locate("GPIO60").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`GPIO60`: 60 is not a GPIO number of Raspberry Pi 4 Model B; valid numbers are 0-57"
    );
    let err = Resolver::new(generic()).locate("GPIO17").unwrap_err();
    assert!(err.to_string().contains("unknown pin `GPIO17`"), "{err}");
}

#[test]
fn unknown_header_name_on_a_multi_header_board() {
    let bbb = Resolver::new(find_profile("bbb").unwrap());
    let err = bbb.locate("P7_3").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`P7_3`: BeagleBone Black has no header `P7`; its headers: P8, P9"
    );
    // A chip:offset whose chip the system lacks is reported with the chips present.
    let msg = bbb.resolve("gpio-7-9:3").unwrap_err().to_string();
    assert!(
        msg.contains("chip `gpio-7-9` is not present on this system; chips present: none"),
        "{msg}"
    );
}

#[test]
fn without_an_inventory_every_chip_is_absent() {
    let err = pi4().resolve("pin 11").unwrap_err();
    assert!(err.to_string().contains("chips present: none"), "{err}");
}

#[test]
fn a_label_on_two_chips_is_ambiguous() {
    let inv = ChipInventory::new(vec![
        chip("gpiochip0", "pinctrl-bcm2711", 58, 512),
        chip("gpiochip2", "pinctrl-bcm2711", 58, 600),
    ]);
    let err = pi4().with_inventory(&inv).resolve("pin 11").unwrap_err();
    assert_eq!(
        err.to_string(),
        "chip label `pinctrl-bcm2711` is ambiguous on this system: gpiochip0, gpiochip2; use gpiochipN:offset"
    );
    // The way out the message names works.
    let r = pi4().with_inventory(&inv).resolve("gpiochip2:17").unwrap();
    assert_eq!(
        (r.sysfs_number(), r.location.pin.as_ref().map(|p| p.number)),
        (Some(617), Some(11))
    );
}

#[test]
fn a_line_name_on_two_chips_is_ambiguous() {
    let mut a = chip("gpiochip0", "a", 4, 0);
    a.line_names = vec![None, Some("LED".into()), None, None];
    let mut b = chip("gpiochip1", "b", 4, 4);
    b.line_names = vec![Some("LED".into()), None, None, None];
    let inv = ChipInventory::new(vec![a, b]);
    let err = Resolver::new(generic())
        .with_inventory(&inv)
        .resolve("LED")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`LED` is ambiguous: it names gpiochip0:1, gpiochip1:0; use chip:offset"
    );
}

#[test]
fn a_chip_without_sysfs_has_no_sysfs_number() {
    let mut c = chip("gpiochip0", "pinctrl-bcm2711", 58, 0);
    c.sysfs_base = None;
    let inv = ChipInventory::new(vec![c]);
    let r = pi4().with_inventory(&inv).resolve("pin 11").unwrap();
    assert_eq!(r.sysfs_number(), None);
    assert!(r.describe().contains("sysfs:  none"), "{}", r.describe());
}

#[test]
fn a_function_on_two_pins_is_ambiguous_and_a_unique_one_resolves() {
    let bbb = Resolver::new(find_profile("bbb").unwrap());
    let err = bbb.locate("EHRPWM2A").unwrap_err();
    assert_eq!(
        err.to_string(),
        "`EHRPWM2A` is ambiguous: it names pin P8-19 (gpio0_22), pin P8-45 (gpio2_6); use chip:offset"
    );
    let uart = bbb.locate("uart1_tx").unwrap();
    assert_eq!(
        (uart.pin.unwrap().to_string(), uart.offset),
        ("P9-24".to_string(), 15)
    );
}
