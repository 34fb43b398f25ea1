//! hw's register backend on a Raspberry Pi 3 Model B (QEMU `raspi3b`, which models the
//! BCM2835 GPIO registers, with Debian's kernel and its real `pinctrl-bcm2835` driver, booted
//! with `iomem=relaxed` so `/dev/mem` may map the registers the driver claimed). Levels written
//! through the registers are what the kernel reads back (its driver reads the same GPLEV
//! registers), the line is held through the character device meanwhile, and every refusal is
//! clear. A `vm_pi_*` target: the test bed runs it on `--machine raspi3b` only.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use hw::backend::register::{RegisterBackend, Soc};
use hw::{Chip, Direction, Drive, Request, Value};

const LABEL: &str = "pinctrl-bcm2835";
const GPIO17: u32 = 17;
const GPIO27: u32 = 27;

/// The tests drive the same real lines: one at a time.
static PI_LINES: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    PI_LINES.lock().unwrap_or_else(|e| e.into_inner())
}

fn pi_chip() -> hw::ChipInfo {
    hw::chips()
        .unwrap()
        .into_iter()
        .find(|c| c.label == LABEL)
        .expect("the Pi's header chip")
}

/// The driver's view of `offset` in `/sys/kernel/debug/gpio` (it reads GPLEV itself).
fn debugfs_line(offset: u32) -> String {
    let text = std::fs::read_to_string("/sys/kernel/debug/gpio").expect("debugfs is mounted");
    let section = text
        .split("\ngpiochip")
        .find(|s| s.contains(&format!("{LABEL}:")))
        .unwrap_or_else(|| panic!("no {LABEL} section in {text}"));
    let name = format!("(GPIO{offset} ");
    section
        .lines()
        .find(|l| l.contains(&name))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("GPIO{offset} not listed:\n{section}"))
}

fn request(offsets: &[u32]) -> hw::Result<Request> {
    Request::builder()
        .on_chip(pi_chip().path)
        .consumer("hwkit-register-test")
        .with_lines(offsets)
        .as_output(Value::Inactive)
        .request_with(&RegisterBackend::new())
}

#[test]
fn levels_written_through_the_registers_are_what_the_kernel_reads() {
    let _one = one_at_a_time();
    let mut req = request(&[GPIO17, GPIO27]).unwrap();
    assert_eq!(req.backend(), "register");
    // Held through the character device, with our consumer, as any other request.
    let info = Chip::open(pi_chip().path)
        .unwrap()
        .line_info(GPIO17)
        .unwrap();
    assert!(
        info.used && info.consumer == "hwkit-register-test",
        "{info:?}"
    );
    assert_eq!(info.direction, Direction::Output);
    for (v17, v27) in [(true, false), (false, true), (true, true), (false, false)] {
        req.set_values(&[(GPIO17, v17.into()), (GPIO27, v27.into())])
            .unwrap();
        let d17 = debugfs_line(GPIO17);
        let d27 = debugfs_line(GPIO27);
        assert!(d17.contains(if v17 { "out hi" } else { "out lo" }), "{d17}");
        assert!(d27.contains(if v27 { "out hi" } else { "out lo" }), "{d27}");
        // And the backend reads the same registers back.
        assert_eq!(req.values().unwrap(), [v17.into(), v27.into()]);
    }
    // Another request is refused while we hold it: the kernel knows it is used.
    let e = Request::builder()
        .on_chip(pi_chip().path)
        .with_line(GPIO17)
        .as_input()
        .request()
        .unwrap_err();
    assert!(matches!(e, hw::Error::Busy { .. }), "{e}");
    // Released high, it stays high: the kernel reads the level from the same register.
    req.set_value(GPIO17, Value::Active).unwrap();
    drop(req);
    let after = Request::builder()
        .on_chip(pi_chip().path)
        .with_line(GPIO17)
        .as_is()
        .request()
        .unwrap();
    assert_eq!(after.value(GPIO17).unwrap(), Value::Active);
}

#[test]
fn active_low_lines_are_inverted_on_the_way_to_the_registers() {
    let _one = one_at_a_time();
    let mut req = Request::builder()
        .on_chip(pi_chip().path)
        .with_line(GPIO17)
        .as_output(Value::Inactive)
        .as_active_low()
        .request_with(&RegisterBackend::new())
        .unwrap();
    req.set_value(GPIO17, Value::Active).unwrap();
    assert!(
        debugfs_line(GPIO17).contains("out lo"),
        "{}",
        debugfs_line(GPIO17)
    );
    assert_eq!(req.value(GPIO17).unwrap(), Value::Active);
    req.set_value(GPIO17, Value::Inactive).unwrap();
    assert!(
        debugfs_line(GPIO17).contains("out hi"),
        "{}",
        debugfs_line(GPIO17)
    );
}

#[test]
fn what_the_registers_cannot_do_is_refused_with_the_reason() {
    let _one = one_at_a_time();
    // Open drain is the kernel's emulation by direction: registers would bypass it.
    let e = Request::builder()
        .on_chip(pi_chip().path)
        .with_line(GPIO17)
        .with_drive(Drive::OpenDrain)
        .request_with(&RegisterBackend::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("open-drain") && e.contains("use push-pull"),
        "{e}"
    );
    // A line requested as it is (not made an output) is not driven.
    let mut req = Request::builder()
        .on_chip(pi_chip().path)
        .with_line(GPIO27)
        .as_is()
        .request_with(&RegisterBackend::new())
        .unwrap();
    let e = req
        .set_value(GPIO27, Value::Active)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not an output"), "{e}");
    drop(req);
    // A call with one refused pair drives no line (GPIO17 stays low).
    let mut req = Request::builder()
        .on_chip(pi_chip().path)
        .with_line(GPIO17)
        .as_output(Value::Inactive)
        .with_line(GPIO27)
        .as_is()
        .request_with(&RegisterBackend::new())
        .unwrap();
    let e = req
        .set_values(&[(GPIO17, Value::Active), (GPIO27, Value::Active)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 27 is not an output"), "{e}");
    assert!(
        debugfs_line(GPIO17).contains("out lo"),
        "{}",
        debugfs_line(GPIO17)
    );
    drop(req);
    // The firmware's expander chip is not the SoC's block.
    let exp = hw::chips()
        .unwrap()
        .into_iter()
        .find(|c| c.label == "raspberrypi-exp-gpio")
        .expect("the firmware GPIO expander");
    let e = Request::builder()
        .on_chip(&exp.path)
        .with_line(2)
        .as_output(Value::Inactive)
        .request_with(&RegisterBackend::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not one the register backend knows"), "{e}");
    assert!(e.contains("use the character device"), "{e}");
}

#[test]
fn the_block_is_read_from_the_device_tree() {
    let chip = pi_chip();
    let block = hw::backend::register::block_of_chip(&chip.name, &chip.label).unwrap();
    assert_eq!(block.soc, Soc::Bcm2835);
    // bcm2837: the bus address 0x7e200000 through the soc's ranges.
    assert_eq!(block.phys, Some(0x3f20_0000));
}

#[test]
fn without_root_dev_mem_is_refused_with_what_to_do() {
    let _one = one_at_a_time();
    // The chip made reachable, so that only the registers stand in the way.
    use std::os::unix::fs::PermissionsExt;
    let path = pi_chip().path;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    std::fs::set_permissions(&path, PermissionsExt::from_mode(0o666)).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "as_nobody_request_gpio17",
            "--nocapture",
            "--include-ignored",
        ])
        .env("HWKIT_PI_CHIP", &path)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    std::fs::set_permissions(&path, PermissionsExt::from_mode(mode)).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{stderr}");
    assert!(text.contains("REFUSED: register backend: "), "{text}");
    assert!(text.contains("/dev/mem cannot be opened"), "{text}");
    assert!(text.contains("run as root"), "{text}");
    // Nothing stays held.
    let info = Chip::open(&path).unwrap().line_info(GPIO17).unwrap();
    assert!(!info.used, "{info:?}");
}

/// Run by the test above as user nobody.
#[test]
#[ignore = "run as nobody by without_root_dev_mem_is_refused_with_what_to_do"]
fn as_nobody_request_gpio17() {
    // Not pi_chip(): listing every chip needs them all readable, and only this one is.
    let chip = std::env::var("HWKIT_PI_CHIP").expect("run by the test above");
    let req = Request::builder()
        .on_chip(chip)
        .with_line(GPIO17)
        .as_output(Value::Inactive)
        .request_with(&RegisterBackend::new());
    match req {
        Ok(_) => println!("MAPPED"),
        Err(e) => println!("REFUSED: {e}"),
    }
}
