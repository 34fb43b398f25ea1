//! `hwkit gpio` by header pin on a simulated Raspberry Pi 4: a gpio-sim chip labelled
//! `pinctrl-bcm2711` with the Pi 4's 58 line names. What the simulator sees (levels driven,
//! pulls read) and what the kernel reports (line info, sysfs exports) are the truth.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use common::{
    err, eventually, finish, gpio as hwkit, info, ok, one_pi4, pi4, spawn_gpio as spawn, unique,
    wait_requested,
};
use gpiosim::{Bank, Level, Sim};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn sysfs_line(sim: &Sim, offset: u32) -> PathBuf {
    let base = hwkit_testbed::sim::sysfs_base(&sim.chips()[0]).unwrap();
    PathBuf::from(format!("/sys/class/gpio/gpio{}", base + offset))
}

fn terminate(child: &Child) {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
}

#[test]
fn set_pin11_drives_line_17_through_the_character_device() {
    let _g = one_pi4();
    let s = pi4(None);
    let c = &s.chips()[0];
    let child = spawn(&["set", "--board", "pi4", "pin11=1"]);
    eventually("pin 11 to be requested", || info(&s, 0, 17).used);
    assert_eq!(c.get_level(17).unwrap(), Level::High);
    let i = info(&s, 0, 17);
    assert_eq!(
        (i.consumer.as_str(), i.direction),
        ("hwkit", hw::Direction::Output)
    );
    // Only line 17 moved: its neighbours on the header and on the chip are untouched.
    for other in [16, 18, 11] {
        assert!(!info(&s, 0, other).used, "line {other}");
    }
    // SIGTERM is Ctrl-C's twin: hwkit releases the line and exits successfully.
    terminate(&child);
    let (status, _, stderr) = finish(child, "gpio");
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("SIGTERM: releasing the lines"), "{stderr}");
    assert!(!info(&s, 0, 17).used);

    // The --board flag works before the subcommand too, and other spellings of the same pin.
    for (spelling, level) in [
        ("P1-11", "0"),
        ("J8:11", "1"),
        ("BCM17", "0"),
        ("GPIO17", "1"),
    ] {
        let want = if level == "1" {
            Level::High
        } else {
            Level::Low
        };
        // The line rests at the other level, so only hwkit's drive can make it `want`.
        let other = if want == Level::High {
            Level::Low
        } else {
            Level::High
        };
        c.set_pull(17, other).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_hwkit"))
            .args(["gpio", "--board", "pi4", "set", "--hold", "1"])
            .arg(format!("{spelling}={level}"))
            .spawn()
            .unwrap();
        // The kernel marks the line used before it applies the direction and value: wait
        // for both (a level never reached fails after 10 s).
        eventually(spelling, || {
            info(&s, 0, 17).used && c.get_level(17).unwrap() == want
        });
        let (status, _, stderr) = finish(out, "gpio");
        assert!(status.success(), "{spelling}: {stderr}");
    }
}

#[test]
fn set_pin11_drives_line_17_through_sysfs() {
    let _g = one_pi4();
    let s = pi4(None);
    let c = &s.chips()[0];
    let gpio = sysfs_line(&s, 17);
    let child = spawn(&["set", "--board", "pi4", "--sysfs", "pin11=1"]);
    eventually("pin 11 to be driven high", || {
        c.get_level(17).unwrap() == Level::High
    });
    assert_eq!(
        std::fs::read_to_string(gpio.join("direction")).unwrap(),
        "out\n"
    );
    let i = info(&s, 0, 17);
    assert_eq!(i.consumer, "sysfs", "exported through sysfs, not requested");
    // Kernels with the per-chip export (6.17+: sid's in the bed) show the line as
    // chipN/gpioOFFSET too, driven the same, and released the same.
    let chip_dir = PathBuf::from(format!(
        "/sys/class/gpio/{}",
        c.chip_name.trim_start_matches("gpio")
    ));
    let per_chip = chip_dir.join("gpio17");
    if chip_dir.join("export").exists() {
        assert_eq!(
            std::fs::read_to_string(per_chip.join("value")).unwrap(),
            "1\n"
        );
    } else {
        assert!(!chip_dir.exists(), "no per-chip sysfs before 6.17");
    }
    terminate(&child);
    let (status, _, stderr) = finish(child, "gpio");
    assert!(status.success(), "{stderr}");
    assert!(!gpio.exists(), "unexported when hwkit ended");
    assert!(!per_chip.exists(), "unexported when hwkit ended");
    assert!(!info(&s, 0, 17).used);

    // --hold: exported, driven, unexported after.
    let child = spawn(&["set", "--board", "pi4", "--sysfs", "--hold", "1", "J8-11=1"]);
    eventually("the export", || c.get_level(17).unwrap() == Level::High);
    assert!(gpio.exists());
    let (status, _, stderr) = finish(child, "gpio");
    assert!(status.success(), "{stderr}");
    assert!(!gpio.exists());
}

#[test]
fn get_bcm27_reads_the_simulator_pull_through_both_interfaces() {
    let _g = one_pi4();
    let s = pi4(None);
    let c = &s.chips()[0];
    for iface in [None, Some("--sysfs")] {
        for (level, word) in [(Level::High, "active"), (Level::Low, "inactive")] {
            c.set_pull(27, level).unwrap();
            let mut args = vec!["get", "--board", "pi4"];
            args.extend(iface);
            args.push("BCM27");
            let out = ok(&hwkit(&args));
            assert_eq!(out.trim(), format!("\"BCM27\"={word}"), "{iface:?}");
        }
        // Several spellings in one request, printed in the order given.
        c.set_pull(22, Level::High).unwrap();
        c.set_pull(27, Level::Low).unwrap();
        c.set_pull(17, Level::High).unwrap();
        let mut args = vec!["get", "--board", "pi4", "--numeric"];
        args.extend(iface);
        args.extend(["pin15", "pin13", "gpiochip0:17"]);
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("gpiochip0", &c.chip_name))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(ok(&hwkit(&args)).trim(), "1 0 1", "{iface:?}");
        assert!(!info(&s, 0, 22).used && !info(&s, 0, 27).used);
        assert!(!sysfs_line(&s, 27).exists(), "sysfs get unexports");
    }
    // Without --board (no device tree in the VM): labels and line names still work.
    c.set_pull(4, Level::High).unwrap();
    for arg in ["pinctrl-bcm2711:4", "GPIO4"] {
        let out = ok(&hwkit(&["get", arg]));
        assert_eq!(out.trim(), format!("\"{arg}\"=active"));
    }
    let e = err(&hwkit(&["get", "pinctrl-bcm2711:4", "GPIO4"]));
    assert!(e.contains("are the same line"), "{e}");
}

#[test]
fn lines_on_two_chips_are_requested_and_watched_per_chip() {
    let _g = one_pi4();
    let aux = unique("aux");
    let led = unique("LED");
    let mut bank = Bank::new(4, &aux);
    bank.name(2, &led)
        .hog(3, "someone-else", gpiosim::Direction::Input);
    let s = pi4(Some(&bank));
    let (pi, ax) = (&s.chips()[0], &s.chips()[1]);
    pi.set_pull(27, Level::High).unwrap();
    ax.set_pull(1, Level::High).unwrap();
    let aux1 = format!("{aux}:1");
    let out = ok(&hwkit(&["get", "--board", "pi4", "pin11", &aux1, "BCM27"]));
    assert_eq!(
        out.trim(),
        format!("\"pin11\"=inactive \"{aux1}\"=active \"BCM27\"=active")
    );
    // set holds both chips' lines at once.
    let child = spawn(&[
        "set",
        "--board",
        "pi4",
        "--hold",
        "2",
        "pin11=1",
        &format!("{led}=1"),
    ]);
    eventually("both lines", || info(&s, 0, 17).used && info(&s, 1, 2).used);
    assert_eq!(
        (pi.get_level(17).unwrap(), ax.get_level(2).unwrap()),
        (Level::High, Level::High)
    );
    let (status, _, stderr) = finish(child, "gpio");
    assert!(status.success(), "{stderr}");
    // mon watches both chips at once, one request each, lines named as the user named them.
    let watchers: Vec<hw::Chip> = [(0, 17), (1, 1)]
        .iter()
        .map(|&(chip, offset)| {
            let w = hw::Chip::open(s.chips()[chip].dev_path()).unwrap();
            w.watch_line_info(offset).unwrap();
            w
        })
        .collect();
    let child = spawn(&["mon", "--board", "pi4", "-n", "2", "pin11", &aux1]);
    // The kernel tells watchers about a v2 request once its edge detection is set up.
    for w in &watchers {
        wait_requested(w, "hwkit requested the line");
    }
    pi.set_pull(17, Level::High).unwrap();
    ax.set_pull(1, Level::Low).unwrap();
    let (status, stdout, stderr) = finish(child, "gpio");
    assert!(status.success(), "{stderr}");
    // As gpiomon: `<sec.nsec>\t<edge>\t<line>`, a line by its name, an unnamed one by chip
    // and offset.
    let mut seen: Vec<(String, String)> = stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[2].to_owned(), f[1].to_owned())
        })
        .collect();
    seen.sort();
    let mut want = vec![
        ("\"GPIO17\"".to_owned(), "rising".to_owned()),
        (format!("{} 1", ax.chip_name), "falling".to_owned()),
    ];
    want.sort();
    assert_eq!(seen, want, "{stdout}");

    // A busy line on the second chip: the first chip's line is released, nothing is held.
    let e = err(&hwkit(&[
        "set",
        "--board",
        "pi4",
        "--hold",
        "30",
        "pin11=1",
        &format!("{aux}:3=1"),
    ]));
    assert!(e.contains("busy") && e.contains("'someone-else'"), "{e}");
    assert!(!info(&s, 0, 17).used);
}

#[test]
fn mon_and_info_take_header_pins() {
    let _g = one_pi4();
    let s = pi4(None);
    let c = &s.chips()[0];
    c.set_pull(22, Level::Low).unwrap();
    let watcher = hw::Chip::open(c.dev_path()).unwrap();
    watcher.watch_line_info(22).unwrap();
    let child = spawn(&["mon", "--board", "pi4", "--num-events", "2", "pin15"]);
    wait_requested(&watcher, "hwkit requested pin 15");
    c.set_pull(22, Level::High).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    c.set_pull(22, Level::Low).unwrap();
    let (status, stdout, stderr) = finish(child, "gpio");
    assert!(status.success(), "{stderr}");
    let kinds: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split('\t').skip(1).collect())
        .collect();
    assert_eq!(
        kinds,
        [["rising", "\"GPIO22\""], ["falling", "\"GPIO22\""]],
        "{stdout}"
    );

    let out = ok(&hwkit(&["info", "--board", "pi4", "pin11", "BCM23"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with(&format!("{} 17\t\"GPIO17\"", c.chip_name)),
        "{out}"
    );
    assert!(
        lines[1].starts_with(&format!("{} 23\t\"GPIO23\"", c.chip_name)),
        "{out}"
    );
}

#[test]
fn header_pins_work_without_board_where_the_pi4_soc_chip_is() {
    let _g = one_pi4();
    let s = pi4(None);
    let c = &s.chips()[0];
    c.set_pull(17, Level::High).unwrap();
    assert_eq!(ok(&hwkit(&["get", "pin11"])), "\"pin11\"=active\n");
    c.set_pull(17, Level::Low).unwrap();
    assert_eq!(ok(&hwkit(&["get", "--numeric", "GPIO17"])), "0\n");
    // Set through the guessed profile: line 17 of the SoC chip, nothing else.
    let out = hwkit(&["set", "--hold", "0.2", "pin11=1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!info(&s, 0, 17).used);
}

#[test]
fn bad_pins_are_one_clear_line() {
    let _g = one_pi4();
    // No Pi 4 chip yet: the profile's chip is missing, and without a device tree or a known
    // SoC's chip the board is not recognised.
    let e = err(&hwkit(&["get", "--board", "pi4", "pin11"]));
    assert!(
        e.contains("chip `pinctrl-bcm2711` is not present on this system"),
        "{e}"
    );
    let e = err(&hwkit(&["get", "pin11"]));
    assert!(e.contains("this board was not recognised"), "{e}");
    let s = pi4(None);
    let cases: &[(&[&str], &str)] = &[
        (
            &["get", "--board", "pi4", "pin6"],
            "pin 6 is GND (ground), not a GPIO",
        ),
        (&["set", "--board", "pi4", "pin1=1"], "pin 1 is 3V3"),
        (
            &["get", "--board", "pi4", "pin41"],
            "header J8 has pins 1-40, not 41",
        ),
        (
            &["get", "--board", "pi4", "BCM77"],
            "77 is not a GPIO number of",
        ),
        (
            &["get", "--board", "pi4", "NOSUCHPIN"],
            "unknown pin `NOSUCHPIN`",
        ),
        (&["info", "--board", "pi4", "pin9"], "pin 9 is GND"),
        (
            &["mon", "--board", "pi4", "-n", "1", "pin14"],
            "pin 14 is GND",
        ),
        (
            &["get", "--board", "pi9", "pin11"],
            "unknown board `pi9`; known boards:",
        ),
        (
            &["get", "17"],
            "needs a chip: give --chip CHIP, or name a header pin (pin17)",
        ),
        (
            &["get", "--board", "pi4", "pin11", "GPIO17"],
            "'pin11' and 'GPIO17' are the same line",
        ),
        (
            &["get", "--board", "pi4", "pinctrl-bcm2711:58"],
            "offset 58 is out of range",
        ),
        (
            &[
                "set",
                "--sysfs",
                "--backend",
                "v1",
                "--board",
                "pi4",
                "pin11=1",
            ],
            "--sysfs and --backend v1 choose two different interfaces",
        ),
        (
            &[
                "get", "--sysfs", "--bias", "pull-up", "--board", "pi4", "pin11",
            ],
            "sysfs has no bias attribute",
        ),
        (&["set", "--board", "pi4", "pin11"], "is not LINE=VALUE"),
    ];
    for (args, want) in cases {
        let e = err(&hwkit(args));
        assert!(e.contains(want), "{args:?}: {e}");
    }
    // Nothing was left requested or exported by the refusals.
    for offset in 0..58 {
        assert!(!info(&s, 0, offset).used, "line {offset}");
    }
}

#[test]
fn mon_ends_with_an_error_when_the_chip_goes_away() {
    let label = unique("gone");
    let sim = gpiosim::builder()
        .with_bank(&Bank::new(2, &label))
        .live()
        .unwrap();
    let w = hw::Chip::open(sim.chips()[0].dev_path()).unwrap();
    w.watch_line_info(1).unwrap();
    let child = spawn(&["mon", &format!("{label}:1")]);
    wait_requested(&w, "hwkit requested the line");
    drop(w);
    drop(sim);
    let (status, stdout, stderr) = finish(child, "gpio");
    assert!(!status.success(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("hwkit: ") && stderr.contains("gone"),
        "{stderr}"
    );
}
