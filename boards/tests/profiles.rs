//! The profile data files, checked against the board facts and against their own invariants.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use boards::{
    detect_from, find_profile, profiles, scheme_number, BoardInfo, MatchedBy, PinRole, Profile,
    Revision,
};

/// Raspberry Pi 40-pin header, physical pin -> BCM GPIO (gpio-facts.md, "Board facts").
const PI_40: &[(u32, u32)] = &[
    (3, 2),
    (5, 3),
    (7, 4),
    (8, 14),
    (10, 15),
    (11, 17),
    (12, 18),
    (13, 27),
    (15, 22),
    (16, 23),
    (18, 24),
    (19, 10),
    (21, 9),
    (22, 25),
    (23, 11),
    (24, 8),
    (26, 7),
    (27, 0),
    (28, 1),
    (29, 5),
    (31, 6),
    (32, 12),
    (33, 13),
    (35, 19),
    (36, 16),
    (37, 26),
    (38, 20),
    (40, 21),
];
const PI_3V3: &[u32] = &[1, 17];
const PI_5V: &[u32] = &[2, 4];
const PI_GND: &[u32] = &[6, 9, 14, 20, 25, 30, 34, 39];

fn pi_profiles() -> Vec<(&'static str, &'static str)> {
    vec![
        ("rpi-1-plus", "pinctrl-bcm2835"),
        ("rpi-2b", "pinctrl-bcm2835"),
        ("rpi-3b", "pinctrl-bcm2835"),
        ("rpi-3-plus", "pinctrl-bcm2835"),
        ("rpi-zero", "pinctrl-bcm2835"),
        ("rpi-zero-2-w", "pinctrl-bcm2835"),
        ("rpi-4b", "pinctrl-bcm2711"),
        ("rpi-400", "pinctrl-bcm2711"),
        ("rpi-cm4-io", "pinctrl-bcm2711"),
        ("rpi-5", "pinctrl-rp1"),
        ("rpi-500", "pinctrl-rp1"),
        ("rpi-cm5-io", "pinctrl-rp1"),
    ]
}

fn by_id(id: &str) -> &'static Profile {
    profiles()
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no profile `{id}`"))
}

#[test]
fn every_data_file_is_embedded_under_its_id() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .map(|n| n.trim_end_matches(".json").to_string())
        .collect();
    files.sort();
    let mut ids: Vec<String> = profiles().iter().map(|p| p.id.clone()).collect();
    ids.sort();
    assert_eq!(
        files, ids,
        "each profiles/<id>.json must be listed in registry.rs"
    );
}

#[test]
fn headers_are_complete_and_lines_exist_and_are_unique() {
    for p in profiles() {
        let chips: BTreeMap<&str, u32> = p
            .chips
            .iter()
            .map(|c| (c.label.as_str(), c.lines))
            .collect();
        for h in &p.headers {
            let numbers: Vec<u32> = h.pins.iter().map(|pin| pin.number).collect();
            let expected: Vec<u32> = (1..=h.pins.len() as u32).collect();
            assert_eq!(
                numbers, expected,
                "{} {}: pins 1..N once each",
                p.id, h.name
            );
            let mut used = HashSet::new();
            for pin in &h.pins {
                if let PinRole::Gpio { chip, line } = &pin.role {
                    let lines = chips.get(chip.as_str()).unwrap_or_else(|| {
                        panic!(
                            "{} {}-{}: chip `{chip}` not declared",
                            p.id, h.name, pin.number
                        )
                    });
                    assert!(
                        line < lines,
                        "{} {}-{}: line {line} >= {lines}",
                        p.id,
                        h.name,
                        pin.number
                    );
                    assert!(
                        used.insert((chip.clone(), *line)),
                        "{} {}-{}: line used twice",
                        p.id,
                        h.name,
                        pin.number
                    );
                }
            }
        }
    }
}

#[test]
fn pi_40_pin_headers_match_the_facts() {
    for (id, label) in pi_profiles() {
        let p = by_id(id);
        assert_eq!(p.chips.len(), 1, "{id}");
        let lines = if label == "pinctrl-bcm2711" { 58 } else { 54 };
        assert_eq!(
            (p.chips[0].label.as_str(), p.chips[0].lines),
            (label, lines),
            "{id}"
        );
        let h = &p.headers[0];
        assert_eq!(h.pins.len(), 40, "{id}");
        for (pin, bcm) in PI_40 {
            assert_eq!(
                h.pin(*pin).unwrap().role,
                PinRole::Gpio {
                    chip: label.into(),
                    line: *bcm
                },
                "{id} pin {pin}"
            );
            assert_eq!(
                h.pin(*pin).unwrap().name,
                format!("GPIO{bcm}"),
                "{id} pin {pin}"
            );
        }
        for (pins, name, role) in [
            (PI_3V3, "3V3", PinRole::Power),
            (PI_5V, "5V", PinRole::Power),
            (PI_GND, "GND", PinRole::Ground),
        ] {
            for pin in pins {
                let got = h.pin(*pin).unwrap();
                assert_eq!(
                    (got.name.as_str(), &got.role),
                    (name, &role),
                    "{id} pin {pin}"
                );
            }
        }
        // I2C1 on GPIO2/3, SPI0 on 19/21/23/24/26, UART0 on 8/10.
        for (pin, f) in [
            (3, "I2C1 SDA"),
            (5, "I2C1 SCL"),
            (19, "SPI0 MOSI"),
            (21, "SPI0 MISO"),
            (23, "SPI0 SCLK"),
            (24, "SPI0 CE0"),
            (26, "SPI0 CE1"),
            (8, "UART0 TX"),
            (10, "UART0 RX"),
            (12, "PWM0"),
        ] {
            assert!(
                h.pin(pin).unwrap().functions.iter().any(|x| x == f),
                "{id} pin {pin} lacks {f}"
            );
        }
    }
}

#[test]
fn pi_1_rev_1_differs_on_pins_3_5_13() {
    let rev1 = by_id("rpi-1-rev1");
    let rev2 = by_id("rpi-1-rev2");
    for p in [rev1, rev2] {
        assert_eq!(p.headers[0].pins.len(), 26, "{}", p.id);
    }
    let line = |p: &Profile, pin: u32| p.headers[0].pin(pin).unwrap().gpio().map(|(_, l)| l);
    assert_eq!(
        (line(rev1, 3), line(rev1, 5), line(rev1, 13)),
        (Some(0), Some(1), Some(21))
    );
    assert_eq!(
        (line(rev2, 3), line(rev2, 5), line(rev2, 13)),
        (Some(2), Some(3), Some(27))
    );
    for pin in 1..=26 {
        if ![3, 5, 13].contains(&pin) {
            assert_eq!(
                rev1.headers[0].pin(pin),
                rev2.headers[0].pin(pin),
                "pin {pin}"
            );
        }
    }
    // Rev 2's P5: GPIO28-31.
    let p5 = rev2.header("P5").unwrap();
    let lines: Vec<_> = (3..=6)
        .map(|n| p5.pin(n).unwrap().gpio().unwrap().1)
        .collect();
    assert_eq!(lines, [28, 29, 30, 31]);
}

#[test]
fn jetson_nano_j41_matches_the_facts() {
    let p = by_id("jetson-nano");
    let h = &p.headers[0];
    for (pin, n) in [
        (7, 216),
        (11, 50),
        (12, 79),
        (13, 14),
        (15, 194),
        (16, 232),
        (18, 15),
    ] {
        assert_eq!(
            h.pin(pin).unwrap().gpio(),
            Some(("tegra-gpio", n)),
            "pin {pin}"
        );
    }
    for pin in PI_GND {
        assert_eq!(h.pin(*pin).unwrap().role, PinRole::Ground);
    }
}

#[test]
fn scheme_names_agree_with_the_lines() {
    // The pin names spell the line in the SoC's own scheme; parsed independently, the number
    // must map back through the numbering to exactly the pin's chip and line.
    for id in [
        "beaglebone-black",
        "orangepi-pc",
        "rockpi-4b",
        "jetson-nano",
    ] {
        let p = by_id(id);
        let numbering = p.numbering.as_ref().unwrap();
        for (h, pin) in p.gpio_pins() {
            let n = scheme_number(numbering.names, &pin.name).unwrap_or_else(|| {
                panic!(
                    "{id} {}-{}: `{}` is not a scheme name",
                    h.name, pin.number, pin.name
                )
            });
            assert_eq!(
                numbering.locate(n),
                pin.gpio(),
                "{id} {}-{} {}",
                h.name,
                pin.number,
                pin.name
            );
        }
    }
    assert_eq!(
        by_id("beaglebone-black")
            .header("P9")
            .unwrap()
            .pin(12)
            .unwrap()
            .name,
        "gpio1_28"
    );
    assert_eq!(
        by_id("rockpi-4b").numbering.as_ref().unwrap().locate(52),
        Some(("gpio1", 20))
    );
    assert_eq!(
        by_id("orangepi-pc").numbering.as_ref().unwrap().locate(232),
        None,
        "the H3 has no port H"
    );
}

fn info(model: Option<&str>, compatible: &[&str], revision: Option<&str>) -> BoardInfo {
    BoardInfo {
        model: model.map(String::from),
        compatible: compatible.iter().map(|s| s.to_string()).collect(),
        revision: revision.and_then(Revision::parse),
    }
}

#[test]
fn detection_by_compatible_revision_and_model() {
    let cases: &[(BoardInfo, &str)] = &[
        (
            info(None, &["raspberrypi,4-model-b", "brcm,bcm2711"], None),
            "rpi-4b",
        ),
        (
            info(None, &["raspberrypi,5-model-b", "brcm,bcm2712"], None),
            "rpi-5",
        ),
        (
            info(None, &["raspberrypi,model-zero-2-w", "brcm,bcm2837"], None),
            "rpi-zero-2-w",
        ),
        (
            info(None, &["raspberrypi,model-zero-w", "brcm,bcm2835"], None),
            "rpi-zero",
        ),
        (
            info(None, &["raspberrypi,400", "brcm,bcm2711"], None),
            "rpi-400",
        ),
        (
            info(
                None,
                &["raspberrypi,4-compute-module", "brcm,bcm2711"],
                None,
            ),
            "rpi-cm4-io",
        ),
        (
            info(None, &["raspberrypi,3-model-b-plus", "brcm,bcm2837"], None),
            "rpi-3-plus",
        ),
        (
            info(
                None,
                &["ti,am335x-bone-black", "ti,am335x-bone", "ti,am33xx"],
                None,
            ),
            "beaglebone-black",
        ),
        (
            info(
                None,
                &["nvidia,p3450-0000", "nvidia,jetson-nano", "nvidia,tegra210"],
                None,
            ),
            "jetson-nano",
        ),
        (
            info(None, &["xunlong,orangepi-pc", "allwinner,sun8i-h3"], None),
            "orangepi-pc",
        ),
        (
            info(
                None,
                &["radxa,rockpi4b", "radxa,rockpi4", "rockchip,rk3399"],
                None,
            ),
            "rockpi-4b",
        ),
        // Pi 1 Model B: the same compatible, told apart by the old-style revision.
        (
            info(None, &["raspberrypi,model-b", "brcm,bcm2835"], Some("0002")),
            "rpi-1-rev1",
        ),
        (
            info(
                None,
                &["raspberrypi,model-b", "brcm,bcm2835"],
                Some("1000003"),
            ),
            "rpi-1-rev1",
        ),
        (
            info(None, &["raspberrypi,model-b", "brcm,bcm2835"], Some("000e")),
            "rpi-1-rev2",
        ),
        (
            info(None, &["raspberrypi,model-b", "brcm,bcm2835"], None),
            "rpi-1-rev2",
        ),
        // No device tree: the revision's type code alone.
        (info(None, &[], Some("c03114")), "rpi-4b"),
        (info(None, &[], Some("902120")), "rpi-zero-2-w"),
        (info(None, &[], Some("d04170")), "rpi-5"),
        (info(None, &[], Some("d04180")), "rpi-cm5-io"),
        (info(None, &[], Some("d04190")), "rpi-500"),
        (info(None, &[], Some("0010")), "rpi-1-plus"),
        // Only a model string: the longest prefix wins.
        (
            info(Some("Raspberry Pi Zero 2 W Rev 1.0"), &[], None),
            "rpi-zero-2-w",
        ),
        (
            info(Some("Raspberry Pi Zero W Rev 1.1"), &[], None),
            "rpi-zero",
        ),
        (
            info(Some("Raspberry Pi 3 Model B Plus Rev 1.3"), &[], None),
            "rpi-3-plus",
        ),
        (
            info(Some("Raspberry Pi 3 Model B Rev 1.2"), &[], None),
            "rpi-3b",
        ),
    ];
    for (i, expected) in cases {
        let d = detect_from(i.clone());
        assert_eq!(d.profile.id, *expected, "{i:?}: {}", d.message());
        assert_ne!(d.matched_by, MatchedBy::Fallback);
    }
    // A future Pi: unknown board compatible, known SoC, the revision decides.
    let d = detect_from(info(
        None,
        &["raspberrypi,4-model-z", "brcm,bcm2711"],
        Some("c03114"),
    ));
    assert_eq!(d.profile.id, "rpi-4b");
    // Another vendor's board with a Pi-looking Revision line is not a Pi.
    let d = detect_from(info(None, &["vendor,thing"], Some("c03114")));
    assert_eq!(d.profile.id, "generic");
    let d = detect_from(info(Some("Some Board"), &["vendor,thing"], None));
    assert_eq!(d.profile.id, "generic");
    assert!(
        d.message().contains("model \"Some Board\""),
        "{}",
        d.message()
    );
}

#[test]
fn board_names_and_aliases() {
    assert_eq!(find_profile("pi4").unwrap().id, "rpi-4b");
    assert_eq!(find_profile("RPi-4B").unwrap().id, "rpi-4b");
    assert_eq!(find_profile("Pi 5").unwrap().id, "rpi-5");
    assert_eq!(find_profile("bbb").unwrap().id, "beaglebone-black");
    let err = find_profile("pi9").unwrap_err();
    assert!(err.to_string().contains("unknown board `pi9`"), "{err}");
    assert!(err.to_string().contains("rpi-4b (pi4)"), "{err}");
}
