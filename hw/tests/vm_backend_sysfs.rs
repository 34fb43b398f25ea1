//! The sysfs backend against gpio-sim, through both I/O paths: the same user code as for the
//! character device, with only the backend changed.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{eventually, info, level, path, pull, refused_pair_drives_nothing, sim};
use gpiosim::Level;
use hw::backend::sysfs::SysfsBackend;
use hw::line::Backend;
use hw::{Bias, Drive, Edge, EdgeKind, Error, LineConfig, Request, Value};
use sysfs_gpio::IoPath;

fn backends() -> [SysfsBackend; 2] {
    [SysfsBackend::native(), SysfsBackend::ffi()]
}

/// The sysfs directory of line `offset` of the sim's chip, if exported.
fn exported(sim: &gpiosim::Sim, offset: u32) -> bool {
    let label = sim.chips()[0].config().label.clone();
    let addr = sysfs_gpio::Sysfs::new()
        .resolve(label.as_str(), offset)
        .unwrap();
    let n = addr.global().unwrap();
    Path::new(&format!("/sys/class/gpio/gpio{n}")).exists()
}

#[test]
fn outputs_are_seen_by_the_simulator() {
    for b in backends() {
        let s = sim(4);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .consumer("sysfs-out")
            .with_line(0)
            .as_output(Value::Active)
            .with_line(1)
            .as_output(Value::Inactive)
            .request_with(&b)
            .unwrap();
        assert_eq!(req.backend(), b.name());
        assert_eq!(level(&s, 0), Level::High, "{}", b.name());
        assert_eq!(level(&s, 1), Level::Low, "{}", b.name());
        req.set_value(0, Value::Inactive).unwrap();
        req.set_value(1, Value::Active).unwrap();
        assert_eq!(level(&s, 0), Level::Low);
        assert_eq!(level(&s, 1), Level::High);
        req.set_values(&[(0, Value::Active), (1, Value::Inactive)])
            .unwrap();
        assert_eq!(level(&s, 0), Level::High);
        assert_eq!(level(&s, 1), Level::Low);
        assert_eq!(req.value(0).unwrap(), Value::Active);
        assert_eq!(req.chip().num_lines, 4);
        assert_eq!(req.chip().path, path(&s));
    }
}

#[test]
fn active_low_outputs_invert_the_level() {
    for b in backends() {
        let s = sim(2);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .with_line(1)
            .as_output(Value::Active)
            .as_active_low()
            .request_with(&b)
            .unwrap();
        assert_eq!(level(&s, 1), Level::Low, "{}", b.name());
        req.set_value(1, Value::Inactive).unwrap();
        assert_eq!(level(&s, 1), Level::High);
    }
}

#[test]
fn pulls_are_seen_as_inputs() {
    for b in backends() {
        let s = sim(4);
        let label = s.chips()[0].config().label.clone();
        let req = Request::builder()
            .on_chip_labelled(label)
            .with_lines(&[2, 3])
            .as_input()
            .request_with(&b)
            .unwrap();
        pull(&s, 2, Level::High);
        pull(&s, 3, Level::Low);
        eventually("pulls seen", || {
            req.values().unwrap() == vec![Value::Active, Value::Inactive]
        });
        pull(&s, 2, Level::Low);
        pull(&s, 3, Level::High);
        eventually("pulls seen", || {
            req.values().unwrap() == vec![Value::Inactive, Value::Active]
        });
    }
}

#[test]
fn edges_are_read_through_the_line_api() {
    for b in backends() {
        let s = sim(4);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .with_line(1)
            .as_input()
            .with_edge_detection(Edge::Both)
            .with_line(2)
            .as_input()
            .with_edge_detection(Edge::Rising)
            .request_with(&b)
            .unwrap();
        assert!(!req.wait_edge_event(Duration::from_millis(50)).unwrap());
        pull(&s, 1, Level::High);
        let ev = req
            .read_edge_event_timeout(Duration::from_secs(5))
            .unwrap()
            .expect("rising edge on line 1");
        assert_eq!((ev.offset, ev.kind), (1, EdgeKind::Rising), "{}", b.name());
        assert_eq!(ev.seqno, 1);
        pull(&s, 1, Level::Low);
        let ev = req.read_edge_event().unwrap();
        assert_eq!((ev.offset, ev.kind), (1, EdgeKind::Falling));
        assert!(ev.timestamp_ns > 0);
        pull(&s, 2, Level::High);
        let ev = req.read_edge_event().unwrap();
        assert_eq!((ev.offset, ev.kind), (2, EdgeKind::Rising));
        // Falling edges on a rising-only line wake nothing.
        pull(&s, 2, Level::Low);
        assert!(!req.wait_edge_event(Duration::from_millis(100)).unwrap());
        assert_eq!(req.lost_edge_events(), 0);
    }
}

#[test]
fn dropping_the_request_unexports_and_frees_the_lines() {
    for b in backends() {
        let s = sim(2);
        let req = Request::builder()
            .on_chip(path(&s))
            .with_line(0)
            .as_output(Value::Active)
            .request_with(&b)
            .unwrap();
        assert!(exported(&s, 0));
        assert!(info(&s, 0).used, "sysfs holds the line");
        drop(req);
        assert!(!exported(&s, 0), "{}: still exported after drop", b.name());
        assert!(!info(&s, 0).used);
        // The character device can take it now.
        let cdev = Request::builder()
            .on_chip(path(&s))
            .with_line(0)
            .as_input()
            .request()
            .unwrap();
        drop(cdev);
    }
}

#[test]
fn a_failed_request_leaves_nothing_exported() {
    for b in backends() {
        let s = sim(3);
        let held = Request::builder()
            .on_chip(path(&s))
            .consumer("holder")
            .with_line(2)
            .as_input()
            .request()
            .unwrap();
        let e = Request::builder()
            .on_chip(path(&s))
            .with_lines(&[0, 2])
            .as_input()
            .request_with(&b)
            .unwrap_err();
        assert!(matches!(e, Error::Busy { offset: 2, .. }), "{e:?}");
        assert!(e.to_string().contains("busy"), "{e}");
        assert!(!exported(&s, 0), "line 0 must be unexported again");
        drop(held);
    }
}

#[test]
fn unsupported_settings_are_refused_on_a_real_chip() {
    for b in backends() {
        let s = sim(2);
        let cases = [
            (
                LineConfig::new()
                    .with_line(0)
                    .as_input()
                    .with_bias(Bias::PullUp),
                "bias pull-up",
            ),
            (
                LineConfig::new()
                    .with_line(0)
                    .as_output(Value::Active)
                    .with_drive(Drive::OpenDrain),
                "open-drain drive",
            ),
            (
                LineConfig::new()
                    .with_line(0)
                    .with_debounce(Duration::from_millis(1)),
                "debounce",
            ),
        ];
        for (cfg, what) in cases {
            let e = Request::builder()
                .on_chip(path(&s))
                .with_config(cfg)
                .request_with(&b)
                .unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(what) && msg.contains(b.name()), "{msg}");
        }
        let e = Request::builder()
            .on_chip(path(&s))
            .with_line(0)
            .as_input()
            .event_buffer_size(8)
            .request_with(&b)
            .unwrap_err();
        assert!(e.to_string().contains("kernel event buffer"), "{e}");
        assert!(!exported(&s, 0));
    }
}

#[test]
fn reconfigure_turns_an_output_into_an_input_and_back() {
    for b in backends() {
        let s = sim(2);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .with_line(0)
            .as_output(Value::Active)
            .request_with(&b)
            .unwrap();
        assert_eq!(level(&s, 0), Level::High);
        req.set_as_input(0).unwrap();
        assert_eq!(info(&s, 0).direction, hw::Direction::Input);
        let e = req.set_value(0, Value::Active).unwrap_err();
        assert!(e.to_string().contains("reconfigure it as an output"), "{e}");
        req.set_as_output(0, Value::Inactive).unwrap();
        assert_eq!(level(&s, 0), Level::Low);
        let e = req
            .reconfigure(
                &LineConfig::new()
                    .with_line(0)
                    .as_input()
                    .with_bias(Bias::PullDown),
            )
            .unwrap_err();
        assert!(e.to_string().contains("bias pull-down"), "{e}");
        let e = req.value(5).unwrap_err();
        assert!(matches!(e, Error::NotRequested { .. }), "{e:?}");
    }
}

#[test]
fn offsets_past_the_chip_and_unknown_chips_are_explained() {
    let s = sim(2);
    let e = Request::builder()
        .on_chip(path(&s))
        .with_line(2)
        .as_input()
        .request_with(&SysfsBackend::new(IoPath::Native))
        .unwrap_err();
    assert!(
        e.to_string().contains("line offset 2 is out of range")
            && e.to_string().contains("it has 2 lines"),
        "{e}"
    );
    let e = Request::builder()
        .on_chip_labelled("no-such-chip-label")
        .with_line(0)
        .as_input()
        .request_with(&SysfsBackend::ffi())
        .unwrap_err();
    assert!(matches!(e, Error::ChipNotFound { .. }), "{e:?}");
}

#[test]
fn reading_events_without_edge_detection_is_refused() {
    for b in backends() {
        let s = sim(1);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .with_line(0)
            .as_input()
            .request_with(&b)
            .unwrap();
        let e = req.read_edge_event().unwrap_err();
        assert!(
            e.to_string()
                .contains("no line of this request has edge detection"),
            "{e}"
        );
    }
}

#[test]
fn chip_removed_under_a_request_gives_errors_not_hangs() {
    for b in backends() {
        let s = sim(4);
        let mut out = Request::builder()
            .on_chip(path(&s))
            .with_line(0)
            .as_output(Value::Active)
            .request_with(&b)
            .unwrap();
        let mut ev = Request::builder()
            .on_chip(path(&s))
            .with_line(1)
            .as_input()
            .with_edge_detection(Edge::Both)
            .request_with(&b)
            .unwrap();
        let waiter = std::thread::spawn(move || ev.read_edge_event().map(drop));
        std::thread::sleep(Duration::from_millis(100));
        drop(s);
        let r = waiter.join().expect("waiter did not panic");
        let e = r.expect_err("reading events from a removed chip");
        assert!(matches!(e, Error::ChipGone { .. }), "{}: {e:?}", b.name());
        let e = out.set_value(0, Value::Inactive).unwrap_err();
        assert!(matches!(e, Error::ChipGone { .. }), "{}: {e:?}", b.name());
        assert!(out.value(0).is_err());
        drop(out);
    }
}

#[test]
fn the_lines_object_refuses_inputs_and_foreign_offsets() {
    use hw::line::RequestSpec;
    use hw::{LineId, LineSettings};
    for b in backends() {
        let s = sim(2);
        let spec = RequestSpec {
            chip: Some(hw::line::ChipSelector::Path(path(&s))),
            consumer: "direct".into(),
            lines: vec![(LineId::Offset(0), LineSettings::input())],
            event_buffer_size: None,
        };
        let mut lines = b.request(&spec).unwrap();
        let e = lines.set_values(&[(0, Value::Active)]).unwrap_err();
        assert!(e.to_string().contains("line 0 is not an output"), "{e}");
        let e = lines.set_values(&[(1, Value::Active)]).unwrap_err();
        assert!(matches!(e, Error::NotRequested { offset: 1, .. }), "{e:?}");
        let mut out = [Value::Inactive];
        let e = lines.get_values(&[1], &mut out).unwrap_err();
        assert!(matches!(e, Error::NotRequested { .. }), "{e:?}");
    }
}

#[test]
fn a_refused_pair_drives_no_line() {
    for b in backends() {
        refused_pair_drives_nothing(&format!("{b:?}"), |r| r.request_with(&b));
    }
}
