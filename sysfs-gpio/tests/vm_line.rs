//! Lines through /sys/class/gpio on gpio-sim chips: export, values both ways, direction,
//! active_low, idempotent export. Every case runs through both I/O paths.

mod common;

use std::fs;

use common::SimChip;
use embedded_hal::digital::{InputPin, OutputPin, StatefulOutputPin};
use sysfs_gpio::{ChipSelector, Direction, Error, IoPath, Sysfs, SysfsLine};

both_paths!(
    export_by_label_and_offset_and_unexport_on_drop,
    chip_selected_by_device_number_and_base,
    simulator_pull_is_seen_as_input_value,
    output_is_seen_by_simulator,
    high_and_low_directions_set_the_level_with_the_direction,
    active_low_inverts_values_both_ways,
    pre_exported_line_is_used_and_left_exported,
    unexport_on_drop_can_be_turned_off,
    close_reports_and_unexports,
    set_value_on_an_input_explains_itself,
    edge_on_an_output_is_refused_clearly,
    offset_past_the_chip_is_refused_before_export,
    number_no_chip_covers_gets_the_renumbering_error,
    the_sysfs_layout_is_the_one_the_kernel_version_has,
);

fn export_by_label_and_offset_and_unexport_on_drop(io: IoPath) {
    let sim = SimChip::new(8);
    let sysfs = Sysfs::new();
    let chip = sysfs.find_chip(sim.label.as_str()).unwrap();
    assert_eq!(chip.ngpio, 8);
    let base = chip.base.expect("6.1 has the legacy ABI");
    let base_attr = fs::read_to_string(format!("/sys/class/gpio/gpiochip{base}/base")).unwrap();
    assert_eq!(base_attr.trim(), base.to_string());

    let dir = sim.line_dir(3);
    assert!(!dir.exists());
    let line = sysfs.open_line(sim.label.as_str(), 3, io).unwrap();
    assert_eq!(line.io_path(), io);
    assert!(line.exported_by_us());
    assert_eq!(line.dir(), dir);
    assert_eq!(line.address().global(), Some(base + 3));
    assert!(dir.join("value").exists());
    drop(line);
    assert!(!dir.exists(), "{} still exported after drop", dir.display());
}

fn chip_selected_by_device_number_and_base(io: IoPath) {
    let sim = SimChip::new(4);
    let sysfs = Sysfs::new();
    let by_label = sysfs.find_chip(sim.label.as_str()).unwrap();
    let dev = sim.device_number();
    assert_eq!(by_label.device, Some(dev));
    let line = sysfs
        .open_line(format!("gpiochip{dev}").as_str(), 1, io)
        .unwrap();
    assert_eq!(line.address().chip.label, sim.label);
    drop(line);
    let line = sysfs
        .open_line(ChipSelector::Base(by_label.base.unwrap()), 2, io)
        .unwrap();
    assert_eq!(line.address().chip.label, sim.label);
}

fn simulator_pull_is_seen_as_input_value(io: IoPath) {
    let sim = SimChip::new(8);
    let mut line = Sysfs::new().open_line(sim.label.as_str(), 5, io).unwrap();
    line.set_input().unwrap();
    assert_eq!(line.direction().unwrap(), Direction::Input);
    for high in [true, false, true, true, false] {
        sim.pull(5, high);
        assert_eq!(line.get_value().unwrap(), high);
        assert_eq!(line.is_high().unwrap(), high);
        assert_eq!(line.is_low().unwrap(), !high);
    }
}

fn output_is_seen_by_simulator(io: IoPath) {
    let sim = SimChip::new(8);
    let mut line = Sysfs::new().open_line(sim.label.as_str(), 2, io).unwrap();
    line.set_output(false).unwrap();
    assert!(!sim.level(2));
    for high in [true, false, false, true] {
        line.set_value(high).unwrap();
        assert_eq!(sim.level(2), high);
        assert_eq!(line.get_value().unwrap(), high);
    }
    line.set_high().unwrap();
    assert!(sim.level(2));
    assert!(line.is_set_high().unwrap());
    line.set_low().unwrap();
    assert!(!sim.level(2));
    assert!(line.is_set_low().unwrap());
    line.toggle().unwrap();
    assert!(sim.level(2));
}

fn high_and_low_directions_set_the_level_with_the_direction(io: IoPath) {
    let sim = SimChip::new(8);
    let mut line = Sysfs::new().open_line(sim.label.as_str(), 4, io).unwrap();
    line.set_input().unwrap();
    line.set_output(true).unwrap();
    assert_eq!(line.direction().unwrap(), Direction::Output);
    assert!(sim.level(4));
    line.set_input().unwrap();
    line.set_output(false).unwrap();
    assert_eq!(line.direction().unwrap(), Direction::Output);
    assert!(!sim.level(4));
}

fn active_low_inverts_values_both_ways(io: IoPath) {
    let sim = SimChip::new(8);
    let mut line = Sysfs::new().open_line(sim.label.as_str(), 6, io).unwrap();
    assert!(!line.active_low());
    line.set_active_low(true).unwrap();
    assert!(line.active_low());
    assert_eq!(
        fs::read_to_string(line.dir().join("active_low"))
            .unwrap()
            .trim(),
        "1"
    );
    line.set_input().unwrap();
    sim.pull(6, true);
    assert!(!line.get_value().unwrap());
    sim.pull(6, false);
    assert!(line.get_value().unwrap());

    // Logical true on an active-low output is a physically low line, from the first instant.
    line.set_output(true).unwrap();
    assert!(!sim.level(6));
    line.set_value(false).unwrap();
    assert!(sim.level(6));
    line.set_active_low(false).unwrap();
    assert!(line.get_value().unwrap());
}

fn pre_exported_line_is_used_and_left_exported(io: IoPath) {
    let sim = SimChip::new(8);
    let number = sim.address(1).global().unwrap();
    fs::write("/sys/class/gpio/export", number.to_string()).unwrap();
    let dir = sim.line_dir(1);
    assert!(dir.exists());

    let mut line = Sysfs::new().open_line(sim.label.as_str(), 1, io).unwrap();
    assert!(!line.exported_by_us());
    line.set_output(true).unwrap();
    assert!(sim.level(1));
    drop(line);
    assert!(dir.exists(), "a line someone else exported was unexported");

    // Opening it again is as fine as the first time.
    let line = Sysfs::new().open_line(sim.label.as_str(), 1, io).unwrap();
    assert!(!line.exported_by_us());
    assert!(line.get_value().unwrap());
    drop(line);
    fs::write("/sys/class/gpio/unexport", number.to_string()).unwrap();
}

fn unexport_on_drop_can_be_turned_off(io: IoPath) {
    let sim = SimChip::new(8);
    let mut line = Sysfs::new().open_line(sim.label.as_str(), 7, io).unwrap();
    let number = line.address().global().unwrap();
    line.set_unexport_on_drop(false);
    let dir = line.dir().to_path_buf();
    drop(line);
    assert!(dir.exists());
    fs::write("/sys/class/gpio/unexport", number.to_string()).unwrap();
    assert!(!dir.exists());
}

fn close_reports_and_unexports(io: IoPath) {
    let sim = SimChip::new(8);
    let line = Sysfs::new().open_line(sim.label.as_str(), 0, io).unwrap();
    let dir = line.dir().to_path_buf();
    line.close().unwrap();
    assert!(!dir.exists());
}

fn set_value_on_an_input_explains_itself(io: IoPath) {
    let sim = SimChip::new(8);
    let mut line = Sysfs::new().open_line(sim.label.as_str(), 3, io).unwrap();
    line.set_input().unwrap();
    let err = line.set_value(true).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(err.to_string().contains("set_output"), "{err}");
}

fn edge_on_an_output_is_refused_clearly(io: IoPath) {
    let sim = SimChip::new(8);
    let mut line = Sysfs::new().open_line(sim.label.as_str(), 3, io).unwrap();
    line.set_output(false).unwrap();
    let err = line.set_edge(sysfs_gpio::Edge::Rising).unwrap_err();
    assert!(
        matches!(err, Error::Unsupported { attr: "edge", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("output"), "{err}");
}

fn offset_past_the_chip_is_refused_before_export(io: IoPath) {
    let sim = SimChip::new(8);
    let err = Sysfs::new()
        .open_line(sim.label.as_str(), 8, io)
        .unwrap_err();
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
    assert!(err.to_string().contains("0 to 7"), "{err}");
}

fn number_no_chip_covers_gets_the_renumbering_error(io: IoPath) {
    let sim = SimChip::new(8);
    // An address gone stale (as after a reboot onto a kernel with other bases): 6.1's dynamic
    // numbers end at 1023, so no chip covers this one and the kernel itself says EINVAL.
    let mut addr = sim.address(2);
    addr.offset = 4000;
    let number = addr.global().unwrap();
    let err = SysfsLine::open(&Sysfs::new(), &addr, io).unwrap_err();
    if sim.per_chip_export().is_some() {
        // Kernels with per-chip export (6.17+) are given the offset, which the chip refuses.
        assert!(
            matches!(
                err,
                Error::OffsetOutOfRange {
                    offset: 4000,
                    ngpio: 8,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("0 to 7"), "{err}");
        return;
    }
    assert!(
        matches!(err, Error::InvalidNumber { number: n, .. } if n == number),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "export {number} failed: {number} is not a valid GPIO number on this kernel"
        )),
        "{msg}"
    );
    assert!(msg.contains("6.6"), "{msg}");
    assert!(
        msg.contains(&sim.label),
        "the chips present are listed: {msg}"
    );
}

/// The running kernel's (major, minor), from `/proc/sys/kernel/osrelease`.
fn kernel_version() -> (u32, u32) {
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release.trim().split(['.', '-', '+']);
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap();
    (next(), next())
}

/// Kernels since 6.17 (Debian sid's 7.x in the bed) add the per-chip `chipN/export` and
/// show an exported line as `chipN/gpioOFFSET` (`direction` and `value` only) beside the
/// legacy `gpioN`; 6.1 and 6.12 (bookworm, trixie) have only the legacy layout. The line
/// must be driven and released through whichever the kernel has, and the tests that pick
/// the per-chip branch by the file's presence must not take it by mistake.
fn the_sysfs_layout_is_the_one_the_kernel_version_has(io: IoPath) {
    let sim = SimChip::new(4);
    let per_chip = sim.per_chip_export();
    let version = kernel_version();
    assert_eq!(
        per_chip.is_some(),
        version >= (6, 17),
        "{version:?}: {per_chip:?}"
    );
    let chip_dir = format!("/sys/class/gpio/chip{}", sim.device_number());
    let per_chip_line = std::path::PathBuf::from(format!("{chip_dir}/gpio2"));
    let mut line = Sysfs::new().open_line(sim.label.as_str(), 2, io).unwrap();
    line.set_output(false).unwrap();
    assert!(
        sim.line_dir(2).join("value").exists(),
        "the legacy gpioN is there too"
    );
    if per_chip.is_some() {
        assert_eq!(
            fs::read_to_string(per_chip_line.join("direction")).unwrap(),
            "out\n"
        );
        line.set_value(true).unwrap();
        assert!(sim.level(2));
        assert_eq!(
            fs::read_to_string(per_chip_line.join("value")).unwrap(),
            "1\n",
            "the per-chip view of the same line"
        );
        // Only direction and value: edges and active_low are the legacy directory's.
        assert!(!per_chip_line.join("edge").exists());
        assert!(!per_chip_line.join("active_low").exists());
    } else {
        assert!(
            !std::path::Path::new(&chip_dir).exists(),
            "{chip_dir} on a kernel before 6.17"
        );
    }
    drop(line);
    assert!(!sim.line_dir(2).exists(), "unexported on drop");
    assert!(!per_chip_line.exists(), "unexported on drop");
}
