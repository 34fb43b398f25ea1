//! Lines are released when their request goes away, however it goes; and a chip that
//! disappears under a held request gives errors, never a hang or a panic.

mod common;

use std::time::{Duration, Instant};

use common::*;
use gpiosim::Level;
use hw::{Edge, Error, Request, Value};

#[test]
fn dropping_a_request_releases_its_lines() {
    for uapi in both() {
        let s = sim(4);
        let req = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_lines(&[0, 3])
            .as_output(Value::Active)
            .request()
            .unwrap();
        assert!(info(&s, 0).used && info(&s, 3).used, "{uapi}");
        drop(req);
        assert!(!info(&s, 0).used && !info(&s, 3).used, "{uapi}");
        // And they can be requested again at once.
        Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_lines(&[0, 3])
            .as_input()
            .request()
            .unwrap();
    }
}

#[test]
fn a_panicking_thread_releases_its_lines() {
    for uapi in both() {
        let s = sim(4);
        let p = path(&s);
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            let _req = Request::builder()
                .on_chip(&p)
                .with_uapi(uapi)
                .consumer("doomed")
                .with_lines(&[1, 2])
                .with_edge_detection(Edge::Both)
                .request()
                .unwrap();
            tx.send(()).unwrap();
            panic!("worker dies holding lines");
        });
        rx.recv().unwrap();
        assert!(worker.join().is_err(), "the thread panicked");
        let i = info(&s, 1);
        assert!(!i.used, "{uapi}: line 1 still used by '{}'", i.consumer);
        assert!(!info(&s, 2).used, "{uapi}");
        let again = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_lines(&[1, 2])
            .as_input()
            .request();
        assert!(
            again.is_ok(),
            "{uapi}: re-request failed: {:?}",
            again.err()
        );
    }
}

#[test]
fn chip_removed_under_a_request_gives_errors_not_hangs() {
    for uapi in both() {
        let s = sim(4);
        let mut out = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_line(0)
            .as_output(Value::Active)
            .request()
            .unwrap();
        let mut ev = Request::builder()
            .on_chip(path(&s))
            .with_uapi(uapi)
            .with_line(1)
            .with_edge_detection(Edge::Both)
            .request()
            .unwrap();
        assert_eq!(level(&s, 0), Level::High);

        // A thread blocked in an unbounded wait must come back with an error.
        let waiter = std::thread::spawn(move || {
            let start = Instant::now();
            let r = ev.read_edge_event();
            (r, start.elapsed())
        });
        std::thread::sleep(Duration::from_millis(100));
        drop(s);

        let (r, _took) = waiter.join().expect("waiter did not panic");
        let e = r.expect_err("reading events from a removed chip");
        assert!(matches!(e, Error::ChipGone { .. }), "{uapi}: {e}");
        let e = out.set_value(0, Value::Inactive).unwrap_err();
        assert!(matches!(e, Error::ChipGone { .. }), "{uapi}: {e}");
        assert!(e.to_string().contains("is gone"), "{e}");
        assert!(
            matches!(out.value(0).unwrap_err(), Error::ChipGone { .. }),
            "{uapi}"
        );
        let e = out.wait_edge_event(Duration::from_millis(50));
        // Either an error or "nothing", never a hang.
        if let Err(e) = e {
            assert!(matches!(e, Error::ChipGone { .. }), "{uapi}: {e}");
        }
        let e = out.reconfigure(&hw::LineConfig::new().with_line(0).as_input());
        assert!(e.is_err(), "{uapi}: reconfiguring a removed chip");
        drop(out);
    }
}

#[test]
fn a_watch_on_a_removed_chip_ends_with_an_error() {
    let s = sim(2);
    let chip = hw::Chip::open(path(&s)).unwrap();
    chip.watch_line_info(0).unwrap();
    let waiter = std::thread::spawn(move || chip.read_info_event());
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    let r = waiter.join().expect("no panic");
    assert!(
        r.is_err(),
        "read_info_event on a removed chip returned {r:?}"
    );
}

#[test]
fn the_event_iterator_ends_after_the_chip_goes() {
    let s = sim(2);
    let mut req = Request::builder()
        .on_chip(path(&s))
        .with_line(0)
        .with_edge_detection(Edge::Both)
        .request()
        .unwrap();
    drop(s);
    let items: Vec<_> = req.edge_events().collect();
    assert_eq!(items.len(), 1, "one error, then the end: {items:?}");
    assert!(matches!(items[0], Err(Error::ChipGone { .. })), "{items:?}");
}
