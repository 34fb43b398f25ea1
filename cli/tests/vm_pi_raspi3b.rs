//! hwkit on a Raspberry Pi 3 Model B: QEMU's `raspi3b` with Debian's kernel, the Pi's own
//! device tree and the kernel's real `pinctrl-bcm2835` driver (no gpio-sim). The board is
//! detected from the real `/proc/device-tree`, header pin 11 resolves to GPIO17 on the real
//! chip, and it is driven and read back through the character device and through sysfs, with
//! the driver's own view in `/sys/kernel/debug/gpio` to confirm. A `vm_pi_*` target: the test
//! bed runs it on `--machine raspi3b` only.

mod common;

use std::path::PathBuf;
use std::process::Child;
use std::sync::{Mutex, MutexGuard};

use common::{eventually, finish, gpio, ok, pinout, wait_requested};
use hw::{Direction, Request, Value};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The Pi 3's header chip: the kernel's BCM2835 pin controller driver.
const LABEL: &str = "pinctrl-bcm2835";
/// Header pin 11 is BCM GPIO17.
const GPIO17: u32 = 17;

/// The tests drive the same real line: one at a time.
static LINE17: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    LINE17.lock().unwrap_or_else(|e| e.into_inner())
}

/// The real header chip: its `/dev` node, `gpiochipN` name and sysfs base, found by label.
struct PiChip {
    dev: PathBuf,
    name: String,
    base: u32,
}

fn pi_chip() -> PiChip {
    let chips: Vec<hw::ChipInfo> = hw::chips()
        .unwrap()
        .into_iter()
        .filter(|c| c.label == LABEL)
        .collect();
    assert_eq!(chips.len(), 1, "one {LABEL} chip: {chips:?}");
    let info = &chips[0];
    assert_eq!(info.num_lines, 54, "the BCM2835 has 54 GPIOs");
    let base = std::fs::read_dir("/sys/class/gpio")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("gpiochip")
        })
        .find(|p| std::fs::read_to_string(p.join("label")).unwrap().trim() == LABEL)
        .map(|p| {
            std::fs::read_to_string(p.join("base"))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .expect("the chip in /sys/class/gpio");
    PiChip {
        dev: info.path.clone(),
        name: info.name.clone(),
        base,
    }
}

/// The driver's own line in `/sys/kernel/debug/gpio` for `offset` of the Pi chip, e.g.
/// ` gpio-17   (GPIO17              |hwkit               ) out hi`.
fn debugfs_line(offset: u32) -> String {
    let text = std::fs::read_to_string("/sys/kernel/debug/gpio")
        .expect("debugfs is mounted at /sys/kernel/debug");
    let section = text
        .split("\ngpiochip")
        .find(|s| s.contains(&format!("{LABEL}:")))
        .unwrap_or_else(|| panic!("no {LABEL} section in {text}"));
    // Older kernels number lines globally (gpio-529), newer ones per chip (gpio-17).
    let base = pi_chip().base;
    section
        .lines()
        .find(|l| {
            let l = l.trim_start();
            l.starts_with(&format!("gpio-{offset} "))
                || l.starts_with(&format!("gpio-{} ", base + offset))
        })
        .map(str::to_string)
        .unwrap_or_else(|| format!("(line {offset} not listed: nobody holds it)\n{section}"))
}

/// Stops a `hwkit gpio set` that holds lines (SIGTERM: it releases them and exits 0).
fn stop(child: Child, what: &str) {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let (status, _, stderr) = finish(child, what);
    assert!(status.success(), "{what}: {stderr}");
}

/// Starts `hwkit gpio ARGS` and returns once it holds GPIO17 (the kernel says so).
fn spawn_holding_17(args: &[&str]) -> Child {
    let chip = hw::Chip::open(pi_chip().dev).unwrap();
    chip.watch_line_info(GPIO17).unwrap();
    let child = common::spawn_gpio(args);
    wait_requested(&chip, "hwkit requested GPIO17");
    child
}

#[test]
fn the_real_driver_serves_the_pis_54_named_lines() {
    let chip = pi_chip();
    let dev = hw::Chip::open(&chip.dev).unwrap();
    let names: Vec<String> = dev
        .line_infos()
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(&names[..4], ["ID_SDA", "ID_SCL", "SDA1", "SCL1"]);
    assert_eq!(names[17], "GPIO17");
    assert_eq!(names[27], "GPIO27");
    // The device behind it is the SoC's GPIO block, not a simulator.
    let device = std::fs::canonicalize(format!("/sys/bus/gpio/devices/{}", chip.name)).unwrap();
    assert!(
        device.to_string_lossy().contains("3f200000.gpio"),
        "{}",
        device.display()
    );
    assert!(
        chip.base >= 512,
        "dynamic GPIO bases start at 512: {}",
        chip.base
    );
}

#[test]
fn the_board_is_detected_from_the_real_device_tree() {
    let model = std::fs::read_to_string("/proc/device-tree/model").unwrap();
    assert_eq!(model.trim_end_matches('\0'), "Raspberry Pi 3 Model B");
    let out = ok(&pinout(&["--color", "never"]));
    assert!(
        out.contains("Raspberry Pi 3 Model B (detected from compatible \"raspberrypi,3-model-b\")"),
        "{out}"
    );
    let chip = pi_chip();
    assert!(
        out.contains(&format!(
            "chip {LABEL} = {} ({}), sysfs base {}",
            chip.name,
            chip.dev.display(),
            chip.base
        )),
        "{out}"
    );
}

#[test]
fn the_pinout_shows_the_live_state_of_the_real_lines() {
    let _one = one_at_a_time();
    let chip = pi_chip();
    let _led = Request::builder()
        .on_chip(&chip.dev)
        .consumer("led-daemon")
        .with_line(GPIO17)
        .as_output(Value::Active)
        .request()
        .unwrap();
    let out = ok(&pinout(&["--color", "never"]));
    let row = out
        .lines()
        .find(|l| l.contains("(11) (12)"))
        .unwrap_or_else(|| panic!("no row of pin 11 in {out}"));
    assert!(
        row.starts_with("out [led-daemon]") && row.contains("GPIO17"),
        "{row}"
    );
    drop(_led);
    let out = ok(&pinout(&["--color", "never"]));
    let row = out.lines().find(|l| l.contains("(11) (12)")).unwrap();
    assert!(!row.contains("led-daemon"), "released: {row}");
}

#[test]
fn header_pin_11_resolves_to_gpio17_of_the_real_chip() {
    let chip = pi_chip();
    let out = ok(&pinout(&["--resolve", "11"]));
    for want in [
        "pin J8-11 (GPIO17)".to_string(),
        format!("chip:   {} [{LABEL}] (54 lines)", chip.name),
        format!("device: {}", chip.dev.display()),
        "offset: 17".to_string(),
        format!(
            "sysfs:  {} (base {} + offset 17)",
            chip.base + GPIO17,
            chip.base
        ),
    ] {
        assert!(out.contains(&want), "{want:?} not in {out}");
    }
}

#[test]
fn pin_11_is_driven_and_read_back_through_the_character_device() {
    let _one = one_at_a_time();
    for (value, level, debug) in [("1", "active", "out hi"), ("0", "inactive", "out lo")] {
        let set = format!("pin11={value}");
        let child = spawn_holding_17(&["set", &set]);
        let info = hw::Chip::open(pi_chip().dev)
            .unwrap()
            .line_info(GPIO17)
            .unwrap();
        assert!(info.used && info.consumer == "hwkit", "{info:?}");
        assert_eq!(info.direction, Direction::Output);
        let line = debugfs_line(GPIO17);
        assert!(
            line.contains("GPIO17") && line.contains("|hwkit") && line.contains(debug),
            "the driver's view while hwkit drives {value}: {line}"
        );
        stop(child, &set);
        // Released, the BCM2835 keeps the level in its registers: read it as it is.
        let out = ok(&gpio(&["get", "--as-is", "pin11"]));
        assert_eq!(out.trim(), format!("\"pin11\"={level}"));
    }
    // Read back through the request itself: the level register follows the output.
    let mut req = Request::builder()
        .on_chip(pi_chip().dev)
        .with_line(GPIO17)
        .as_output(Value::Inactive)
        .request()
        .unwrap();
    for v in [Value::Active, Value::Inactive, Value::Active] {
        req.set_value(GPIO17, v).unwrap();
        assert_eq!(req.value(GPIO17).unwrap(), v);
    }
}

#[test]
fn pin_11_is_driven_and_read_back_through_sysfs() {
    let _one = one_at_a_time();
    let chip = pi_chip();
    let number = chip.base + GPIO17;
    let dir = PathBuf::from(format!("/sys/class/gpio/gpio{number}"));
    for (value, level, debug) in [("1", "active", "out hi"), ("0", "inactive", "out lo")] {
        let set = format!("pin11={value}");
        let child = common::spawn_gpio(&["set", "--sysfs", &set]);
        eventually("hwkit exported GPIO17 through sysfs as an output", || {
            std::fs::read_to_string(dir.join("direction")).is_ok_and(|d| d.trim() == "out")
                && std::fs::read_to_string(dir.join("value")).is_ok_and(|v| v.trim() == value)
        });
        let line = debugfs_line(GPIO17);
        assert!(
            line.contains("GPIO17") && line.contains("|sysfs") && line.contains(debug),
            "the driver's view while hwkit drives {value} through sysfs: {line}"
        );
        stop(child, &set);
        assert!(!dir.exists(), "hwkit unexported gpio{number} on SIGTERM");
        let out = ok(&gpio(&["get", "--sysfs", "pin11"]));
        assert_eq!(out.trim(), format!("\"pin11\"={level}"));
        assert!(!dir.exists(), "get --sysfs unexports what it exported");
    }
}

#[test]
fn bench_toggles_pin_11_through_the_registers_and_the_kernel() {
    let _one = one_at_a_time();
    let out = common::hwkit(&[
        "bench",
        "--backend",
        "v2,register",
        "--duration",
        "0.2",
        "--warmup",
        "0.02",
        "--json",
        "pin11",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(doc["lines"]["offsets"], serde_json::json!([GPIO17]));
    assert!(
        doc["host"]["board"]
            .as_str()
            .unwrap()
            .contains("Raspberry Pi 3"),
        "{doc}"
    );
    assert_eq!(doc["host"]["soc"], "brcm,bcm2837");
    let backends = doc["backends"].as_array().unwrap();
    let names: Vec<&str> = backends
        .iter()
        .map(|b| b["backend"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["floor-ioctl", "v2", "register"]);
    for b in backends {
        assert_eq!(b["available"], true, "{b}");
        assert!(b["toggles"].as_u64().unwrap() > 0, "{b}");
    }
    // Put back as found: free, and an input as the Pi's GPIO17 starts.
    let info = hw::Chip::open(pi_chip().dev)
        .unwrap()
        .line_info(GPIO17)
        .unwrap();
    assert!(!info.used, "{info:?}");
}
