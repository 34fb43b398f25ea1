//! `hwkit managed` and `hwkit gpio set --persist` against hwkitd on a private bus
//! (`hwkit_testbed::dbus`), with gpio-sim chips: a line handed to the daemon stays driven
//! after hwkit exits (the simulator says so), the daemon's requests are listed, set, read,
//! reconfigured and released by hwkit, and every error names the cause and the way out.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::{err, hold, info, ok, one_pi4, pi4, unique};
use gpiosim::{Bank, Level, Sim};
use hwkit_testbed::dbus::{hwkitd_beside_test, Access, PrivateBus};

/// One test at a time: each test's hwkitd watches every line of every chip in the VM, and
/// Linux 6.1's GPIO core corrupts memory when a chip goes away while another process watches
/// or holds its lines (see hwkitd's README); serially, every daemon has stopped before its
/// test's chips are removed, and no daemon sees another test's chips come and go.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Held for the whole of a test (taken before its chips are made, so dropped after them).
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A bus with hwkitd on it.
fn with_daemon() -> PrivateBus {
    let mut bus = PrivateBus::start(&Access::Open);
    bus.start_daemon(&hwkitd_beside_test(), &[]);
    bus
}

/// Runs `hwkit ARGS` with the system bus pointed at `bus` (for the commands that have no
/// `--bus-address`, and to show both ways work).
fn hwkit_on(bus: &PrivateBus, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args(args)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .output()
        .expect("run hwkit")
}

/// Runs `hwkit managed SUB --bus-address ADDRESS ARGS`.
fn managed(bus: &PrivateBus, sub: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args(["managed", sub, "--bus-address", &bus.address])
        .args(args)
        .output()
        .expect("run hwkit")
}

fn level(sim: &Sim, offset: u32) -> Level {
    sim.chips()[0].get_level(offset).expect("sim level")
}

fn plain_sim(lines: u32) -> (Sim, String) {
    let label = unique("managed");
    let s = gpiosim::builder()
        .with_bank(&Bank::new(lines, &label))
        .live()
        .expect("gpio-sim chip");
    (s, label)
}

#[test]
fn set_persist_keeps_pin11_driven_after_hwkit_exits_and_managed_works_it() {
    let _serial = one_at_a_time();
    let _g = one_pi4();
    let s = pi4(None);
    let bus = with_daemon();
    let chip = s.chips()[0].chip_name.clone();

    let out = Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args(["gpio", "set", "--board", "pi4", "--persist", "-C", "relay"])
        .args(["--bus-address", &bus.address, "pin11=1"])
        .output()
        .unwrap();
    let name = ok(&out).trim().to_owned();
    assert!(name.starts_with("request"), "{name}");
    // hwkit has exited; the daemon drives pin 11 (GPIO17, offset 17).
    assert_eq!(level(&s, 17), Level::High);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(level(&s, 17), Level::High);
    let l = info(&s, 0, 17);
    assert!(l.used && l.consumer == "relay", "{l:?}");

    // hwkit gpio cannot take the line, and says who holds it and how to let it go.
    let e = err(&hwkit_on(&bus, &["gpio", "get", "--board", "pi4", "pin11"]));
    assert!(
        e.contains("'pin11'")
            && e.contains(&format!("held by the GPIO daemon in {name}"))
            && e.contains(&format!("hwkit managed release {name}")),
        "{e}"
    );

    // Listed, with chip, line, consumer, direction and value.
    let table = ok(&managed(&bus, "requests", &[]));
    let row = table
        .lines()
        .find(|l| l.starts_with(&name))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells, [&name, &chip, "17[GPIO17]", "relay", "output", "1"]);
    let json: serde_json::Value =
        serde_json::from_str(&ok(&managed(&bus, "requests", &["--json"]))).unwrap();
    let r = &json["requests"][0];
    assert_eq!(r["request"], name.as_str());
    assert_eq!(r["chip"], chip.as_str());
    assert_eq!(r["consumer"], "relay");
    assert_eq!(r["lines"][0]["offset"], 17);
    assert_eq!(r["lines"][0]["value"], 1);

    // set and get by pin, through the request that holds it.
    ok(&managed(&bus, "set", &["--board", "pi4", "pin11=0"]));
    assert_eq!(level(&s, 17), Level::Low);
    assert_eq!(
        ok(&managed(&bus, "get", &["--board", "pi4", "pin11"])).trim(),
        "\"pin11\"=inactive"
    );

    // reconfigure: an input, pulled up, still held.
    ok(&managed(
        &bus,
        "reconfigure",
        &[&name, "--direction", "input", "--bias", "pull-up"],
    ));
    let l = info(&s, 0, 17);
    assert_eq!(
        (l.used, l.direction, l.bias),
        (true, hw::Direction::Input, hw::Bias::PullUp)
    );
    assert_eq!(
        ok(&managed(
            &bus,
            "get",
            &["--board", "pi4", "--numeric", "GPIO17"]
        ))
        .trim(),
        "1"
    );
    // An input given a value.
    let e = err(&managed(&bus, "set", &["--board", "pi4", "pin11=1"]));
    assert!(
        e.contains(&format!("line 'pin11' is an input in {name}"))
            && e.contains("--direction output"),
        "{e}"
    );
    // And back to an output, by line, with its value.
    ok(&managed(
        &bus,
        "reconfigure",
        &[&name, "--board", "pi4", "--direction", "output", "pin11=1"],
    ));
    assert_eq!(level(&s, 17), Level::High);

    // Released by one of its lines; then the request is unknown.
    ok(&managed(&bus, "release", &["--board", "pi4", "pin11"]));
    assert!(!info(&s, 0, 17).used);
    let e = err(&managed(&bus, "release", &[&name]));
    assert!(
        e.contains(&format!("no managed request /io/gpiod1/requests/{name}"))
            && e.contains("hwkit managed requests"),
        "{e}"
    );
    assert!(ok(&managed(&bus, "requests", &["--json"])).contains("\"requests\":[]"));
}

#[test]
fn managed_request_by_chip_and_its_errors() {
    let _serial = one_at_a_time();
    let (s, label) = plain_sim(4);

    // No daemon on the bus: said so, with how to start it, by every command.
    let bus = PrivateBus::start(&Access::Open);
    for out in [
        managed(&bus, "requests", &[]),
        managed(&bus, "request", &["--chip", &label, "0=1"]),
        hwkit_on(&bus, &["gpio", "set", "--persist", "--chip", &label, "0=1"]),
    ] {
        let e = err(&out);
        assert!(
            e.contains("the GPIO daemon is not running") && e.contains("systemctl start hwkitd"),
            "{e}"
        );
    }
    assert!(!info(&s, 0, 0).used);
    drop(bus);

    let bus = with_daemon();
    // Outputs by offset, one with a value and one without (inactive), as one request.
    let name = ok(&managed(
        &bus,
        "request",
        &["--chip", &label, "-C", "two", "0=1", "1"],
    ))
    .trim()
    .to_owned();
    assert_eq!((level(&s, 0), level(&s, 1)), (Level::High, Level::Low));
    assert_eq!(info(&s, 0, 1).direction, hw::Direction::Output);

    // An input given a value is refused before anything is asked.
    let e = err(&managed(
        &bus,
        "request",
        &["--chip", &label, "--direction", "input", "2=1"],
    ));
    assert!(
        e.contains("line '2' is given a value") && e.contains("an input takes no value"),
        "{e}"
    );
    assert!(!info(&s, 0, 2).used);

    // A busy line: the daemon's message names the holder.
    let other = hold(&s, 0, 3, "other-owner");
    let e = err(&managed(&bus, "request", &["--chip", &label, "3=1"]));
    assert!(
        e.contains("busy") && e.contains("other-owner") && e.contains("io.gpiod1.RequestFailed"),
        "{e}"
    );
    // Lines the daemon does not hold: who does, and what to do.
    let e = err(&managed(&bus, "set", &["--chip", &label, "3=1"]));
    assert!(
        e.contains("line '3'")
            && e.contains("not held by the GPIO daemon")
            && e.contains("consumer 'other-owner'"),
        "{e}"
    );
    let e = err(&managed(&bus, "get", &["--chip", &label, "2"]));
    assert!(
        e.contains("(it is free)") && e.contains("hwkit managed request 2"),
        "{e}"
    );
    drop(other);

    // A line that is not the request's.
    let e = err(&managed(
        &bus,
        "reconfigure",
        &[&name, "--chip", &label, "--direction", "input", "2"],
    ));
    assert!(
        e.contains("line '2'") && e.contains(&format!("is not in {name}")),
        "{e}"
    );
    // Unknown requests.
    for out in [
        managed(&bus, "release", &["request4242"]),
        managed(
            &bus,
            "reconfigure",
            &["request4242", "--direction", "input"],
        ),
    ] {
        let e = err(&out);
        assert!(
            e.contains("no managed request /io/gpiod1/requests/request4242"),
            "{e}"
        );
    }
    // Everything refused, nothing changed: the request still drives its lines.
    assert_eq!(level(&s, 0), Level::High);
    ok(&managed(&bus, "release", &[&name]));
    assert!(!info(&s, 0, 0).used && !info(&s, 0, 1).used);
    assert!(bus.log().contains("hwkitd: released"), "{}", bus.log());
}

/// A user outside group gpio (the VM's root file system is this run's own).
const OUTSIDER: u32 = 4545;

/// Runs `hwkit managed SUB --bus-address ADDRESS ARGS` as user [`OUTSIDER`], with no groups.
fn managed_as_outsider(bus: &PrivateBus, sub: &str, args: &[&str]) -> Output {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open("/etc/passwd")
            .and_then(|mut f| {
                f.write_all(
                    format!("managed-outsider:x:{OUTSIDER}:{OUTSIDER}::/:/bin/sh\n").as_bytes(),
                )
            })
            .expect("/etc/passwd");
    });
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hwkit"));
    // SAFETY: setgroups, setgid and setuid are async-signal-safe, as pre_exec needs; the
    // group list is a local array that outlives the call.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            let groups = [OUTSIDER as libc::gid_t];
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(OUTSIDER) != 0
                || libc::setuid(OUTSIDER) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.args(["managed", sub, "--bus-address", &bus.address])
        .args(args)
        .env("HOME", "/")
        .output()
        .expect("run hwkit as the outsider")
}

#[test]
fn outside_group_gpio_hwkit_lists_requests_but_may_not_act() {
    let _serial = one_at_a_time();
    let (s, label) = plain_sim(2);
    // hwkitd's shipped policy: everyone reads, root and group gpio call methods.
    let policy =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../hwkitd/data/io.gpiod1.conf");
    let mut bus = PrivateBus::start(&Access::Policy(policy));
    bus.start_daemon(&hwkitd_beside_test(), &[]);
    let name = ok(&managed(
        &bus,
        "request",
        &["--chip", &label, "-C", "kept", "0=1"],
    ))
    .trim()
    .to_owned();

    // Listed for anyone; the values, a method call, are not read for the outsider.
    let table = ok(&managed_as_outsider(&bus, "requests", &[]));
    let row = table
        .lines()
        .find(|l| l.starts_with(&name))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("kept") && row.trim_end().ends_with('?'),
        "{row}"
    );
    let json = ok(&managed_as_outsider(&bus, "requests", &["--json"]));
    assert!(json.contains("\"value\":null"), "{json}");

    // Acting is refused, naming the group.
    let e = err(&managed_as_outsider(&bus, "release", &[&name]));
    assert!(
        e.contains("the bus refused the call") && e.contains("group gpio"),
        "{e}"
    );
    assert_eq!(level(&s, 0), Level::High, "still held");
    ok(&managed(&bus, "release", &[&name]));
    assert!(!info(&s, 0, 0).used);
}

#[test]
fn a_request_over_two_chips_is_all_or_nothing() {
    let _serial = one_at_a_time();
    let (first, second) = (unique("mA"), unique("mB"));
    let mut a = Bank::new(2, unique("managed"));
    a.name(0, &first);
    let mut b = Bank::new(2, unique("managed"));
    b.name(0, &second);
    let s = gpiosim::builder()
        .with_bank(&a)
        .with_bank(&b)
        .live()
        .expect("gpio-sim chips");
    let bus = with_daemon();
    let other = hold(&s, 1, 0, "second-owner");
    // By line name, one on each chip: the second chip's line is busy, so the first chip's
    // request, already made, is released again.
    let e = err(&managed(
        &bus,
        "request",
        &[&format!("{first}=1"), &format!("{second}=1")],
    ));
    assert!(e.contains("busy") && e.contains("second-owner"), "{e}");
    assert!(!info(&s, 0, 0).used, "the first chip's line was let go");
    assert!(ok(&managed(&bus, "requests", &["--json"])).contains("\"requests\":[]"));
    drop(other);
    // Both free: one request per chip, each printed.
    let out = ok(&managed(
        &bus,
        "request",
        &[&format!("{first}=1"), &format!("{second}=1")],
    ));
    let names: Vec<&str> = out.lines().collect();
    assert_eq!(names.len(), 2, "{out}");
    assert_eq!(
        (
            s.chips()[0].get_level(0).unwrap(),
            s.chips()[1].get_level(0).unwrap()
        ),
        (Level::High, Level::High)
    );
    ok(&managed(&bus, "release", &names));
    assert!(!info(&s, 0, 0).used && !info(&s, 1, 0).used);
}
