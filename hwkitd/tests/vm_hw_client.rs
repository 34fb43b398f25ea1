//! `hw::managed`, the client API for Rust daemons, against hwkitd on a private bus in the
//! VM, with gpio-sim chips: what the client asks is what the simulator sees, and every error
//! the client maps says what it should.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use gpiosim::{Bank, Level, Sim};
use hw::managed::{Client, Error, ManagedLines};
use hw::{Bias, Direction, Edge, LineSettings, Value};
use hwkit_testbed::dbus::{Access, PrivateBus};

fn sim(lines: u32) -> (Sim, String) {
    static N: AtomicU32 = AtomicU32::new(0);
    let label = format!(
        "client-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let s = gpiosim::builder()
        .with_bank(&Bank::new(lines, &label))
        .live()
        .expect("gpio-sim chip");
    (s, label)
}

fn level(sim: &Sim, offset: u32) -> Level {
    sim.chips()[0].get_level(offset).expect("sim level")
}

fn kernel_info(sim: &Sim, offset: u32) -> hw::LineInfo {
    hw::Chip::open(sim.chips()[0].dev_path())
        .and_then(|c| c.line_info(offset))
        .expect("line info")
}

fn with_daemon() -> PrivateBus {
    let mut bus = PrivateBus::start(&Access::Open);
    bus.start_daemon(Path::new(env!("CARGO_BIN_EXE_hwkitd")), &[]);
    bus
}

#[test]
fn a_client_requests_finds_drives_reconfigures_and_releases() {
    let (s, label) = sim(4);
    let bus = with_daemon();
    let chip_name = s.chips()[0].chip_name.clone();

    let client = Client::at(&bus.address).expect("connect");
    let chip = client.chip(&label).expect("the sim's chip, by label");
    assert_eq!(chip.info.name, chip_name);
    assert_eq!(chip.info.num_lines, 4);
    assert_eq!(chip.info.path, PathBuf::from(s.chips()[0].dev_path()));
    assert!(client.chips().unwrap().contains(&chip));

    let req = client
        .request(
            &label,
            &ManagedLines::new()
                .consumer("hw-client")
                .with_line(1, LineSettings::output(Value::Active))
                .with_line(
                    2,
                    LineSettings {
                        active_low: true,
                        ..LineSettings::output(Value::Active)
                    },
                )
                .with_line(
                    3,
                    LineSettings {
                        bias: Bias::PullUp,
                        edge: Edge::Both,
                        ..LineSettings::input()
                    },
                ),
        )
        .unwrap_or_else(|e| panic!("request: {e}\n{}", bus.log()));
    let path = req.path().to_owned();
    assert!(path.starts_with("/io/gpiod1/requests/request"), "{path}");
    // Active-low active is a low level.
    assert_eq!((level(&s, 1), level(&s, 2)), (Level::High, Level::Low));
    let info = kernel_info(&s, 3);
    assert!(info.used && info.consumer == "hw-client", "{info:?}");
    assert_eq!((info.bias, info.edge), (Bias::PullUp, Edge::Both));

    // The handle and its connection go; the daemon keeps the lines.
    drop(req);
    drop(client);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(level(&s, 1), Level::High);

    // Another client finds the request and works it.
    let client = Client::at(&bus.address).expect("connect");
    let listed = client.requests().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].path, path);
    assert_eq!(listed[0].offsets, [1, 2, 3]);
    assert_eq!(listed[0].chip, chip.object);
    let line = client.line(&chip_name, 1).unwrap();
    assert!(line.managed, "{line:?}");
    assert_eq!(line.request.as_deref(), Some(path.as_str()));
    assert_eq!(line.info.direction, Direction::Output);
    assert_eq!(line.info.consumer, "hw-client");

    let req = client.open(listed[0].name()).expect("open by name");
    assert_eq!(req.path(), path);
    assert_eq!(
        req.get_values(&[]).unwrap(),
        [Value::Active, Value::Active, Value::Active],
        "line 3 is pulled up"
    );
    req.set_values(&[(1, Value::Inactive), (2, Value::Inactive)])
        .unwrap();
    assert_eq!((level(&s, 1), level(&s, 2)), (Level::Low, Level::High));
    assert_eq!(
        req.get_values(&[2, 1]).unwrap(),
        [Value::Inactive, Value::Inactive]
    );

    req.reconfigure(&[(3, LineSettings::output(Value::Inactive))])
        .unwrap();
    assert_eq!(level(&s, 3), Level::Low);
    assert_eq!(kernel_info(&s, 3).direction, Direction::Output);

    req.clone().release().unwrap();
    for o in 1..=3 {
        assert!(!kernel_info(&s, o).used, "line {o} released");
    }
    assert!(client.requests().unwrap().is_empty());
    assert!(!client.line(&chip_name, 1).unwrap().managed);
    // The released request is gone, and each call on it says so.
    for e in [
        client.open(&path).unwrap_err(),
        req.get_values(&[]).unwrap_err(),
        req.clone().release().unwrap_err(),
    ] {
        assert!(
            matches!(&e, Error::UnknownRequest { path: p } if *p == path),
            "{e:?}"
        );
        assert!(e.to_string().contains("released or never made"), "{e}");
    }
}

#[test]
fn client_errors_name_the_cause_and_the_way_out() {
    let (s, label) = sim(4);

    // A bus without the daemon: not running, and how to start it.
    let mut bus = PrivateBus::start(&Access::Open);
    let client = Client::at(&bus.address).expect("connect");
    let e = client.chips().unwrap_err();
    assert!(matches!(e, Error::DaemonNotRunning { .. }), "{e:?}");
    assert!(e.to_string().contains("systemctl start hwkitd"), "{e}");
    // No bus at all.
    let e = Client::at("unix:path=/nonexistent/bus").unwrap_err();
    assert!(matches!(e, Error::NoBus { .. }), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/bus"), "{e}");

    bus.start_daemon(Path::new(env!("CARGO_BIN_EXE_hwkitd")), &[]);
    let client = Client::at(&bus.address).expect("connect");
    let output = |v| ManagedLines::new().with_line(0, LineSettings::output(v));

    // An unknown chip: the chips the daemon serves are listed.
    let e = client
        .request("no-such-chip", &output(Value::Active))
        .unwrap_err();
    assert!(
        e.to_string().contains("no GPIO chip 'no-such-chip'") && e.to_string().contains(&label),
        "{e}"
    );

    // A line someone else holds: the daemon's error, with its name and the consumer.
    let other = hw::Request::builder()
        .on_chip(s.chips()[0].dev_path())
        .consumer("someone-else")
        .with_line(0)
        .as_input()
        .request()
        .expect("a request of the test's own");
    let e = client.request(&label, &output(Value::Active)).unwrap_err();
    assert_eq!(e.dbus_name(), Some("io.gpiod1.RequestFailed"), "{e}");
    assert!(e.to_string().contains("someone-else"), "{e}");
    drop(other);

    // A value for an input: the daemon refuses it.
    let input = client
        .request(
            &label,
            &ManagedLines::new().with_line(1, LineSettings::input()),
        )
        .unwrap();
    let e = input.set_values(&[(1, Value::Active)]).unwrap_err();
    assert_eq!(e.dbus_name(), Some("io.gpiod1.SetValuesFailed"), "{e}");
    // Settings that contradict each other are refused before asking.
    let e = client
        .request(
            &label,
            &ManagedLines::new().with_line(
                2,
                LineSettings {
                    edge: Edge::Rising,
                    ..LineSettings::output(Value::Active)
                },
            ),
        )
        .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e:?}");
    assert!(!kernel_info(&s, 2).used);
    input.release().unwrap();
    assert!(bus.daemon_alive(), "{}", bus.log());
}
