//! The uAPI selection: detection, forcing a version, and the same code through both.

mod common;

use common::*;
use gpiosim::Level;
use hw::{CdevBackend, Chip, Edge, Request, Uapi, Value};

#[test]
fn detection_prefers_v2_and_v1_can_be_forced() {
    let s = sim(4);
    assert_eq!(hw::detect_uapi(path(&s)).unwrap(), Uapi::V2);
    let auto = Request::builder()
        .on_chip(path(&s))
        .with_line(0)
        .as_input()
        .request()
        .unwrap();
    assert_eq!(auto.backend(), "cdev-v2");
    if !v1_or_refused() {
        return;
    }
    assert_eq!(
        Chip::open_with(path(&s), Some(Uapi::V1)).unwrap().uapi(),
        Uapi::V1
    );
    let v1 = Request::builder()
        .on_chip(path(&s))
        .with_uapi(Uapi::V1)
        .with_line(1)
        .as_input()
        .request()
        .unwrap();
    assert_eq!(v1.backend(), "cdev-v1");
}

/// User code that never names a backend.
fn blink_and_watch(mut out: Request, mut input: Request, expected: usize) -> Vec<hw::EdgeKind> {
    let o = out.offsets()[0];
    out.set_value(o, Value::Active).unwrap();
    out.set_value(o, Value::Inactive).unwrap();
    let mut kinds = Vec::new();
    // The expected edges come from another thread's pulls, which a loaded TCG guest may
    // run seconds late: wait long for them, then briefly for any that should not come.
    let mut wait = std::time::Duration::from_secs(20);
    while let Some(e) = input.read_edge_event_timeout(wait).unwrap() {
        kinds.push(e.kind);
        if kinds.len() >= expected {
            wait = std::time::Duration::from_millis(300);
        }
    }
    kinds
}

#[test]
fn the_same_user_code_runs_on_either_backend() {
    let forced = both().into_iter().map(CdevBackend::forced);
    for backend in forced.chain([CdevBackend::auto()]) {
        let s = sim(4);
        let out = Request::builder()
            .on_chip(path(&s))
            .with_line(0)
            .as_output(Value::Inactive)
            .request_with(&backend)
            .unwrap();
        let input = Request::builder()
            .on_chip(path(&s))
            .with_line(1)
            .with_edge_detection(Edge::Both)
            .request_with(&backend)
            .unwrap();
        // The simulator links nothing; drive the input from its side while the output toggles.
        let s2 = &s;
        let h = std::thread::scope(|sc| {
            let t = sc.spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                pull(s2, 1, Level::High);
                pull(s2, 1, Level::Low);
            });
            let kinds = blink_and_watch(out, input, 2);
            t.join().unwrap();
            kinds
        });
        assert_eq!(
            h,
            vec![hw::EdgeKind::Rising, hw::EdgeKind::Falling],
            "{backend:?}"
        );
        assert_eq!(level(&s, 0), Level::Low);
    }
}
