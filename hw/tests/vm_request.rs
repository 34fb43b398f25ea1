//! Requests: values seen by the simulator, inputs driven by it, live reconfiguration, busy and
//! other errors; through uAPI v2 and v1.

mod common;

use common::*;
use gpiosim::{Bank, Direction as HogDir, Level};
use hw::{Bias, Direction, Edge, Error, LineConfig, Request, Uapi, Value};

#[test]
fn outputs_drive_what_the_simulator_reads() {
    for uapi in both() {
        let s = sim(8);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .consumer("out-test")
            .with_lines(&[1, 4])
            .as_output(Value::Active)
            .with_line(6)
            .as_output(Value::Inactive)
            .request()
            .unwrap();
        assert_eq!(req.backend(), format!("cdev-{uapi}"));
        assert_eq!(
            (level(&s, 1), level(&s, 4), level(&s, 6)),
            (Level::High, Level::High, Level::Low),
            "{uapi}"
        );
        req.set_value(4, Value::Inactive).unwrap();
        assert_eq!(level(&s, 4), Level::Low, "{uapi}");
        assert_eq!(
            level(&s, 1),
            Level::High,
            "{uapi}: setting one line left the other alone"
        );
        req.set_values(&[(1, Value::Inactive), (6, Value::Active)])
            .unwrap();
        assert_eq!(
            (level(&s, 1), level(&s, 6)),
            (Level::Low, Level::High),
            "{uapi}"
        );
        req.set_all(&[Value::Active, Value::Active, Value::Inactive])
            .unwrap();
        assert_eq!(
            (level(&s, 1), level(&s, 4), level(&s, 6)),
            (Level::High, Level::High, Level::Low),
            "{uapi}"
        );
        // Reading outputs back gives what is driven.
        assert_eq!(
            req.values().unwrap(),
            vec![Value::Active, Value::Active, Value::Inactive]
        );
        assert_eq!(
            req.values_of(&[6, 1]).unwrap(),
            vec![Value::Inactive, Value::Active]
        );
        // A line given twice: the last value wins, on the wire and in the request's record.
        for (first, last, wire) in [
            (Value::Active, Value::Inactive, Level::Low),
            (Value::Inactive, Value::Active, Level::High),
        ] {
            req.set_values(&[(4, first), (4, last)]).unwrap();
            assert_eq!(level(&s, 4), wire, "{uapi}");
            assert_eq!(req.settings(4).unwrap().output_value, last, "{uapi}");
        }
        let i = info(&s, 4);
        assert!(i.used);
        assert_eq!(i.consumer, "out-test");
        assert_eq!(i.direction, Direction::Output);
    }
}

#[test]
fn active_low_inverts_outputs_and_inputs() {
    for uapi in both() {
        let s = sim(4);
        let mut out = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_line(0)
            .as_output(Value::Active)
            .as_active_low()
            .request()
            .unwrap();
        assert_eq!(
            level(&s, 0),
            Level::Low,
            "{uapi}: active on an active-low line is low"
        );
        out.set_value(0, Value::Inactive).unwrap();
        assert_eq!(level(&s, 0), Level::High, "{uapi}");
        assert!(info(&s, 0).active_low, "{uapi}");

        pull(&s, 2, Level::High);
        let inp = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_line(2)
            .as_input()
            .as_active_low()
            .request()
            .unwrap();
        assert_eq!(inp.value(2).unwrap(), Value::Inactive, "{uapi}");
        pull(&s, 2, Level::Low);
        assert_eq!(inp.value(2).unwrap(), Value::Active, "{uapi}");
    }
}

#[test]
fn inputs_read_the_simulator_pulls() {
    for uapi in both() {
        let s = sim(4);
        pull(&s, 1, Level::High);
        pull(&s, 3, Level::Low);
        let req = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_lines(&[1, 3])
            .as_input()
            .request()
            .unwrap();
        assert_eq!(
            req.values().unwrap(),
            vec![Value::Active, Value::Inactive],
            "{uapi}"
        );
        pull(&s, 1, Level::Low);
        pull(&s, 3, Level::High);
        assert_eq!(req.value(1).unwrap(), Value::Inactive, "{uapi}");
        assert_eq!(req.value(3).unwrap(), Value::Active, "{uapi}");
        assert_eq!(info(&s, 1).direction, Direction::Input);
    }
}

#[test]
fn bias_pulls_an_unconnected_input() {
    // gpio-sim applies a requested bias as the line's pull.
    for uapi in both() {
        let s = sim(4);
        let req = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_line(0)
            .as_input()
            .with_bias(Bias::PullUp)
            .with_line(1)
            .as_input()
            .with_bias(Bias::PullDown)
            .request()
            .unwrap();
        assert_eq!(
            req.values().unwrap(),
            vec![Value::Active, Value::Inactive],
            "{uapi}"
        );
        if uapi == Uapi::V2 {
            assert_eq!(info(&s, 0).bias, Bias::PullUp);
            assert_eq!(info(&s, 1).bias, Bias::PullDown);
        }
    }
}

#[test]
fn named_lines_in_one_expression() {
    let a = unique("GPIO17");
    let b = unique("GPIO27");
    let s = sim_bank(Bank::new(8, unique("named")).name(2, &a).name(5, &b));
    // No chip given: the chip holding both names is found.
    let mut req = Request::builder()
        .consumer("my-daemon")
        .with_named_lines([&a, &b])
        .as_output(Value::Inactive)
        .request()
        .unwrap();
    assert_eq!(req.offsets(), &[2, 5]);
    assert_eq!(req.offset_of(&b), Some(5));
    assert_eq!(req.chip().name, s.chips()[0].chip_name);
    req.set_value(5, Value::Active).unwrap();
    assert_eq!((level(&s, 2), level(&s, 5)), (Level::Low, Level::High));
    assert_eq!(info(&s, 2).consumer, "my-daemon");
    // Reconfigure by name.
    req.reconfigure(&LineConfig::new().with_named_line(&a).as_input())
        .unwrap();
    assert_eq!(info(&s, 2).direction, Direction::Input);
    assert_eq!(level(&s, 5), Level::High, "the other line kept its value");
}

#[test]
fn named_lines_on_two_chips_are_refused() {
    let a = unique("LEFT");
    let b = unique("RIGHT");
    let _s = gpiosim::builder()
        .with_bank(Bank::new(2, unique("l")).name(0, &a))
        .with_bank(Bank::new(2, unique("r")).name(0, &b))
        .live()
        .unwrap();
    let e = Request::builder()
        .with_named_lines([&a, &b])
        .as_input()
        .request()
        .unwrap_err();
    assert!(e.to_string().contains("different chips"), "{e}");
}

#[test]
fn reconfigure_keeps_lines_held_and_changes_what_the_kernel_reports() {
    for uapi in both() {
        let s = sim(4);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_lines(&[0, 1])
            .as_input()
            .request()
            .unwrap();
        assert_eq!(info(&s, 0).direction, Direction::Input);
        req.reconfigure(
            &LineConfig::new()
                .with_lines(&[0, 1])
                .as_output(Value::Active),
        )
        .unwrap();
        assert_eq!(info(&s, 0).direction, Direction::Output, "{uapi}");
        assert_eq!(
            (level(&s, 0), level(&s, 1)),
            (Level::High, Level::High),
            "{uapi}"
        );
        assert!(info(&s, 0).used);
        req.set_value(1, Value::Inactive).unwrap();
        assert_eq!(level(&s, 1), Level::Low);
        req.reconfigure(
            &LineConfig::new()
                .with_lines(&[0, 1])
                .as_output(Value::Inactive)
                .as_active_low(),
        )
        .unwrap();
        assert!(info(&s, 1).active_low, "{uapi}");
        assert_eq!(
            level(&s, 0),
            Level::High,
            "{uapi}: inactive on active-low is high"
        );
        req.reconfigure(&LineConfig::new().with_lines(&[0, 1]).as_input())
            .unwrap();
        assert_eq!(info(&s, 0).direction, Direction::Input, "{uapi}");
        if uapi == Uapi::V1 {
            // One v1 handle has one flag set for all its lines.
            let e = req.set_as_output(0, Value::Active).unwrap_err();
            assert!(matches!(e, Error::UnsupportedByV1 { .. }), "{e}");
        }
    }
    // v2 only: per-line different settings, edge detection on and off.
    let s = sim(4);
    let mut req = Request::builder()
        .on_chip(path(&s))
        .with_lines(&[0, 1])
        .as_input()
        .request()
        .unwrap();
    req.reconfigure(
        &LineConfig::new()
            .with_line(0)
            .with_edge_detection(Edge::Falling)
            .with_line(1)
            .as_output(Value::Active),
    )
    .unwrap();
    assert_eq!(info(&s, 0).edge, Edge::Falling);
    assert_eq!(level(&s, 1), Level::High);
    req.reconfigure(&LineConfig::new().with_line(0).as_input())
        .unwrap();
    assert_eq!(info(&s, 0).edge, Edge::None);
    assert_eq!(level(&s, 1), Level::High, "untouched line kept its value");
}

#[test]
fn busy_names_the_line_chip_and_consumer() {
    for uapi in both() {
        let s = sim_bank(Bank::new(4, unique("busy")).name(2, "BUSYLINE").hog(
            3,
            "kernel-hog",
            HogDir::OutputLow,
        ));
        let _held = Request::builder()
            .on_chip(path(&s))
            .consumer("first-owner")
            .with_line(2)
            .as_input()
            .request()
            .unwrap();
        let e = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_lines(&[1, 2])
            .as_input()
            .request()
            .unwrap_err();
        match &e {
            Error::Busy {
                offset,
                name,
                consumer,
                chip,
            } => {
                assert_eq!(*offset, 2);
                assert_eq!(name, "BUSYLINE");
                assert_eq!(consumer, "first-owner");
                assert!(chip.contains(&s.chips()[0].chip_name), "{chip}");
            }
            other => panic!("{uapi}: expected Busy, got {other}"),
        }
        assert!(
            e.to_string().contains("in use by consumer 'first-owner'"),
            "{e}"
        );
        let e = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_line(3)
            .as_input()
            .request()
            .unwrap_err();
        assert!(e.to_string().contains("'kernel-hog'"), "{uapi}: {e}");
        // Nothing was left half-requested: line 1 is free.
        assert!(!info(&s, 1).used, "{uapi}");
    }
}

#[test]
fn bad_requests_are_refused_with_the_reason() {
    let s = sim(4);
    let p = path(&s);
    let e = Request::builder().on_chip(&p).request().unwrap_err();
    assert!(e.to_string().contains("no lines to request"), "{e}");
    let e = Request::builder()
        .on_chip(&p)
        .with_line(1)
        .as_output(Value::Active)
        .with_edge_detection(Edge::Both)
        .request();
    // with_edge_detection turns the line into an input, so this is valid...
    drop(e.unwrap());
    // ...but a hand-made contradictory setting is refused before the kernel sees it.
    let bad = hw::LineSettings {
        edge: Edge::Both,
        ..hw::LineSettings::output(Value::Active)
    };
    let e = Request::builder()
        .on_chip(&p)
        .with_line(1)
        .with_settings(bad)
        .request()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("edge detection needs the line to be an input"),
        "{e}"
    );
    let name = info(&s, 0).name;
    assert_eq!(name, "");
    let e = Request::builder()
        .on_chip(&p)
        .with_lines(&[1, 1, 2])
        .as_input()
        .request();
    // Duplicates in one call collapse to one line.
    assert_eq!(e.unwrap().offsets(), &[1, 2]);
    let mut req = Request::builder()
        .on_chip(&p)
        .with_line(0)
        .as_input()
        .request()
        .unwrap();
    let e = req.set_value(0, Value::Active).unwrap_err();
    assert!(e.to_string().contains("line 0 is an input"), "{e}");
    let e = req.value(3).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3 is not part of this request (it holds 0)"
    );
    let e = req.set_all(&[Value::Active, Value::Active]).unwrap_err();
    assert!(
        e.to_string()
            .contains("2 values given for 1 requested lines"),
        "{e}"
    );
    let e = Request::builder()
        .on_chip(&p)
        .with_line(0)
        .as_input()
        .request_line()
        .unwrap_err();
    assert!(matches!(e, Error::Busy { .. }), "{e}");
    let e = req
        .reconfigure(&LineConfig::new().with_line(2).as_input())
        .unwrap_err();
    assert!(matches!(e, Error::NotRequested { offset: 2, .. }), "{e}");
    let e = Request::builder()
        .on_chip(&p)
        .with_lines(&[1, 2])
        .as_input()
        .request()
        .unwrap()
        .into_line()
        .unwrap_err();
    assert!(e.to_string().contains("exactly one line"), "{e}");
    let e = req
        .reconfigure(&LineConfig::new().with_named_line("NOPE").as_input())
        .unwrap_err();
    assert!(matches!(e, Error::LineNotFound { .. }), "{e}");
    // The hardware timestamp engine: gpio-sim has none, and the kernel says so.
    let e = Request::builder()
        .on_chip(&p)
        .with_line(3)
        .with_edge_detection(Edge::Both)
        .with_event_clock(hw::EventClock::Hte)
        .request()
        .unwrap_err();
    assert!(
        matches!(e, Error::Unsupported { .. } | Error::InvalidConfig(_)),
        "{e}"
    );
    assert!(!info(&s, 3).used);
}

#[test]
fn one_line_named_twice_is_refused() {
    let name = unique("TWICE");
    let s = sim_bank(Bank::new(4, unique("twice")).name(2, &name));
    let e = Request::builder()
        .on_chip(path(&s))
        .with_line(2)
        .with_named_line(&name)
        .as_input()
        .request()
        .unwrap_err();
    assert!(
        e.to_string().contains("appears twice in the request"),
        "{e}"
    );
    assert!(!info(&s, 2).used);
}

#[test]
fn uapi_v1_refuses_what_it_cannot_do() {
    if !v1_or_refused() {
        return;
    }
    let s = sim(4);
    let p = path(&s);
    let v1 = || Request::builder().on_chip(&p).with_uapi(Uapi::V1);
    let e = v1()
        .with_line(0)
        .as_input()
        .with_bias(Bias::Disabled)
        .request()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "bias disabled is not supported by GPIO uAPI v1; use uAPI v2 (kernel 5.10+)"
    );
    let e = v1()
        .with_line(0)
        .with_debounce(std::time::Duration::from_millis(2))
        .request()
        .unwrap_err();
    assert!(matches!(e, Error::UnsupportedByV1 { .. }), "{e}");
    let e = v1()
        .with_line(0)
        .as_input()
        .event_buffer_size(4)
        .request()
        .unwrap_err();
    assert!(matches!(e, Error::UnsupportedByV1 { .. }), "{e}");
    let mut req = v1()
        .with_line(0)
        .with_edge_detection(Edge::Rising)
        .with_line(1)
        .as_input()
        .request()
        .unwrap();
    let e = req
        .reconfigure(
            &LineConfig::new()
                .with_line(1)
                .with_edge_detection(Edge::Both),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "reconfiguring edge detection is not supported by GPIO uAPI v1; use uAPI v2 (kernel 5.10+)"
    );
    // Nothing of that reached the kernel.
    assert_eq!(info(&s, 1).edge, Edge::None);
    for o in [0, 1] {
        assert!(info(&s, o).used);
    }
    drop(req);
    assert!(!info(&s, 0).used);
}

#[test]
fn a_refused_pair_drives_no_line() {
    for uapi in both() {
        refused_pair_drives_nothing(&uapi.to_string(), |b| b.with_uapi(uapi).request());
    }
}
