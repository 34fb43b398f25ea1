//! The libgpiod backend against gpio-sim, with each distribution's own library: Debian 12's
//! libgpiod 1.6 (the system's `libgpiod.so.2`), Debian 13's 2.2.1 and sid's 2.2.5 (their
//! `libgpiod3` packages, which the test bed packs from `debian-libs` in hw's Cargo.toml) —
//! the same user code as for the character device, with only the backend changed.

mod common;

use std::time::Duration;

use common::{eventually, info, level, path, pull, sim, sim_bank, unique};
use gpiosim::{Bank, Level};
use hw::backend::libgpiod::{LibgpiodBackend, LibgpiodVersion};
use hw::{Bias, Direction, Drive, Edge, EdgeKind, Error, EventClock, LineConfig, Request, Value};

/// The Debian suites whose `libgpiod3` (libgpiod 2.x) the test bed packs.
#[cfg(target_arch = "x86_64")]
const SUITES_2X: &[&str] = &["trixie", "sid"];
/// On the ARM VM (TCG with one CPU, several times slower) one suite keeps CI's cost down:
/// trixie's, the one Raspberry Pi OS trixie ships (sid's is the same code, tested on x86-64).
#[cfg(not(target_arch = "x86_64"))]
const SUITES_2X: &[&str] = &["trixie"];

/// One distribution's libgpiod, loaded.
struct Lib {
    /// Where it comes from, e.g. `trixie libgpiod 2.2.1`.
    label: String,
    backend: LibgpiodBackend,
}

impl Lib {
    fn v2(&self) -> bool {
        self.backend.api_version() == LibgpiodVersion::V2
    }
}

/// Every libgpiod to run a check with: bookworm's 1.x where the kernel has the uAPI v1 it
/// speaks (on a kernel without it, Debian's 7.x, checks instead that a request is refused
/// with the reason and the way out, holding nothing), then trixie's and sid's 2.x. Each
/// check prints which one it runs with, so a failure names the library.
fn libraries() -> Vec<Lib> {
    let mut libs = Vec::new();
    let b = LibgpiodBackend::open_version(LibgpiodVersion::V1)
        .expect("libgpiod.so.2 (packed into the VM by the test bed)");
    if has_uapi_v1() {
        libs.push(Lib {
            label: format!("bookworm libgpiod {}", b.version()),
            backend: b,
        });
    } else {
        // Once per process: each check would otherwise pay for another simulated chip.
        static REFUSED: std::sync::Once = std::sync::Once::new();
        REFUSED.call_once(|| assert_v1_refused(&b));
    }
    for &suite in SUITES_2X {
        let path = hwkit_testbed::debian_libs::guest_path(suite, "libgpiod.so.3");
        // SAFETY: Debian's own libgpiod 2.x build of that suite, which the test bed packed
        // at this path; its initialisers are sound and its API is libgpiod 2.x's.
        let b = unsafe { LibgpiodBackend::open_library(&path.to_string_lossy()) }
            .unwrap_or_else(|e| panic!("{suite}'s libgpiod.so.3 at {}: {e}", path.display()));
        assert_eq!(b.api_version(), LibgpiodVersion::V2, "{}", path.display());
        assert!(b.version().starts_with("2."), "{}", b.version());
        libs.push(Lib {
            label: format!("{suite} libgpiod {}", b.version()),
            backend: b,
        });
    }
    libs
}

/// Whether the kernel has uAPI v1, read once: its symbol table is slow to read under TCG
/// (seconds on the ARM VM), and every check asks.
fn has_uapi_v1() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(hwkit_testbed::sim::kernel_has_uapi_v1)
}

/// Runs `check` with every library of [`libraries`].
fn with_each(mut check: impl FnMut(&Lib)) {
    for lib in libraries() {
        eprintln!("-- with {}", lib.label);
        check(&lib);
    }
}

/// On a kernel without uAPI v1: libgpiod 1.x is refused with the reason and the way out.
fn assert_v1_refused(b: &LibgpiodBackend) {
    let s = sim(2);
    let e = Request::builder()
        .on_chip(path(&s))
        .with_line(1)
        .as_output(Value::Active)
        .request_with(b)
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(e, Error::UapiUnavailable { version: "v1", .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("libgpiod 1.x speaks only uAPI v1"), "{msg}");
    assert!(msg.contains("use the character-device backend"), "{msg}");
    assert!(msg.contains("libgpiod 2.x (backend libgpiod-v2"), "{msg}");
    assert!(!info(&s, 1).used, "the refused line stays free");
}

#[test]
fn outputs_are_seen_by_the_simulator() {
    with_each(|lib| {
        let b = &lib.backend;
        let s = sim(4);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .consumer("gpiod-out")
            .with_line(0)
            .as_output(Value::Active)
            .with_line(1)
            .as_output(Value::Inactive)
            .request_with(b)
            .unwrap();
        let name = if lib.v2() {
            "libgpiod-v2"
        } else {
            "libgpiod-v1"
        };
        assert_eq!(req.backend(), name);
        assert_eq!(level(&s, 0), Level::High);
        assert_eq!(level(&s, 1), Level::Low);
        assert_eq!(info(&s, 0).consumer, "gpiod-out");
        req.set_values(&[(0, Value::Inactive), (1, Value::Active)])
            .unwrap();
        assert_eq!(level(&s, 0), Level::Low);
        assert_eq!(level(&s, 1), Level::High);
        assert_eq!(req.values().unwrap(), vec![Value::Inactive, Value::Active]);
        assert_eq!(req.chip().path, path(&s));
        assert_eq!(req.chip().num_lines, 4);
    });
}

#[test]
fn drive_and_active_low_reach_the_kernel() {
    with_each(|lib| {
        let b = &lib.backend;
        let s = sim(2);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .with_line(1)
            .as_output(Value::Active)
            .as_active_low()
            .with_drive(Drive::OpenDrain)
            .request_with(b)
            .unwrap();
        let i = info(&s, 1);
        assert!(i.active_low);
        assert_eq!(i.drive, Drive::OpenDrain);
        assert_eq!(level(&s, 1), Level::Low);
        req.set_value(1, Value::Inactive).unwrap();
        // Open drain released: the simulator's own pull (down by default) decides.
        assert_eq!(req.value(1).unwrap(), Value::Active);
    });
}

#[test]
fn pulls_and_bias_are_seen_as_inputs() {
    with_each(|lib| {
        let b = &lib.backend;
        let s = sim(4);
        let label = s.chips()[0].config().label.clone();
        let req = Request::builder()
            .on_chip_labelled(label)
            .with_lines(&[2, 3])
            .as_input()
            .with_line(3)
            .with_bias(Bias::PullUp)
            .request_with(b)
            .unwrap();
        assert_eq!(info(&s, 3).bias, Bias::PullUp);
        pull(&s, 2, Level::High);
        eventually("pull up seen", || req.value(2).unwrap() == Value::Active);
        pull(&s, 2, Level::Low);
        pull(&s, 3, Level::Low);
        eventually("pulls seen", || {
            req.values().unwrap() == vec![Value::Inactive, Value::Inactive]
        });
    });
}

#[test]
fn edges_are_read_with_kernel_timestamps() {
    with_each(|lib| {
        let b = &lib.backend;
        let s = sim(4);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .with_line(1)
            .as_input()
            .with_edge_detection(Edge::Both)
            .with_line(2)
            .with_edge_detection(Edge::Falling)
            .request_with(b)
            .unwrap();
        assert!(!req.wait_edge_event(Duration::from_millis(50)).unwrap());
        pull(&s, 1, Level::High);
        let ev = req
            .read_edge_event_timeout(Duration::from_secs(5))
            .unwrap()
            .expect("rising edge");
        assert_eq!((ev.offset, ev.kind, ev.seqno), (1, EdgeKind::Rising, 1));
        pull(&s, 1, Level::Low);
        let ev2 = req.read_edge_event().unwrap();
        assert_eq!((ev2.offset, ev2.kind, ev2.seqno), (1, EdgeKind::Falling, 2));
        assert!(ev2.timestamp_ns >= ev.timestamp_ns && ev.timestamp_ns > 0);
        pull(&s, 2, Level::High);
        assert!(!req.wait_edge_event(Duration::from_millis(100)).unwrap());
        pull(&s, 2, Level::Low);
        let ev = req.read_edge_event().unwrap();
        assert_eq!(
            (ev.offset, ev.kind, ev.line_seqno),
            (2, EdgeKind::Falling, 1)
        );
    });
}

#[test]
fn dropping_the_request_releases_the_lines() {
    with_each(|lib| {
        let b = &lib.backend;
        let s = sim(3);
        let req = Request::builder()
            .on_chip(path(&s))
            .with_lines(&[0, 2])
            .as_output(Value::Active)
            .request_with(b)
            .unwrap();
        assert!(info(&s, 0).used && info(&s, 2).used);
        drop(req);
        assert!(!info(&s, 0).used && !info(&s, 2).used);
        // Both the character device and libgpiod can take them again.
        drop(
            Request::builder()
                .on_chip(path(&s))
                .with_line(0)
                .as_input()
                .request()
                .unwrap(),
        );
        drop(
            Request::builder()
                .on_chip(path(&s))
                .with_line(2)
                .as_input()
                .request_with(b)
                .unwrap(),
        );
    });
}

#[test]
fn a_busy_line_names_its_consumer_and_nothing_stays_held() {
    with_each(|lib| {
        let b = &lib.backend;
        let s = sim(3);
        let held = Request::builder()
            .on_chip(path(&s))
            .consumer("the-holder")
            .with_line(2)
            .as_input()
            .request()
            .unwrap();
        let e = Request::builder()
            .on_chip(path(&s))
            .with_lines(&[0, 2])
            .as_input()
            .request_with(b)
            .unwrap_err();
        assert!(matches!(e, Error::Busy { offset: 2, .. }), "{e:?}");
        assert!(e.to_string().contains("the-holder"), "{e}");
        assert!(!info(&s, 0).used, "line 0 must be released again");
        drop(held);
    });
}

#[test]
fn named_lines_resolve_with_and_without_a_chip() {
    with_each(|lib| {
        let b = &lib.backend;
        let led = unique("LED");
        let s = sim_bank(Bank::new(4, unique("gpiod-named")).name(3, led.as_str()));
        let req = Request::builder()
            .on_chip(path(&s))
            .with_named_line(led.as_str())
            .as_output(Value::Active)
            .request_with(b)
            .unwrap();
        assert_eq!(req.offsets(), &[3]);
        assert_eq!(level(&s, 3), Level::High);
        drop(req);
        let req = Request::builder()
            .with_named_line(led.as_str())
            .as_output(Value::Inactive)
            .request_with(b)
            .unwrap();
        assert_eq!(req.offsets(), &[3]);
        drop(req);
        let e = Request::builder()
            .on_chip(path(&s))
            .with_named_line(format!("{led}X"))
            .as_input()
            .request_with(b)
            .unwrap_err();
        assert!(matches!(e, Error::LineNotFound { .. }), "{e:?}");
        assert!(e.to_string().contains(&led), "suggests the real name: {e}");
    });
}

#[test]
fn reconfigure_switches_direction_and_on_2x_edges() {
    with_each(|lib| {
        let b = &lib.backend;
        let s = sim(2);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .with_line(0)
            .as_output(Value::Active)
            .request_with(b)
            .unwrap();
        req.set_as_input(0).unwrap();
        assert_eq!(info(&s, 0).direction, Direction::Input);
        let e = req.set_value(0, Value::Active).unwrap_err();
        assert!(e.to_string().contains("reconfigure it as an output"), "{e}");
        req.set_as_output(0, Value::Inactive).unwrap();
        assert_eq!(info(&s, 0).direction, Direction::Output);
        assert_eq!(level(&s, 0), Level::Low);
        let edges = LineConfig::new()
            .with_line(0)
            .as_input()
            .with_edge_detection(Edge::Rising);
        if !lib.v2() {
            let e = req.reconfigure(&edges).unwrap_err();
            assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
            assert!(e.to_string().contains("libgpiod backend"), "{e}");
            return;
        }
        // libgpiod 2.x reconfigures edge detection in place, the line held throughout.
        req.reconfigure(&edges).unwrap();
        assert_eq!(info(&s, 0).edge, Edge::Rising);
        pull(&s, 0, Level::High);
        let ev = req
            .read_edge_event_timeout(Duration::from_secs(5))
            .unwrap()
            .expect("a rising edge after the reconfiguration");
        assert_eq!((ev.offset, ev.kind), (0, EdgeKind::Rising));
        // And back to an output without events.
        req.set_as_output(0, Value::Inactive).unwrap();
        assert_eq!(info(&s, 0).edge, Edge::None);
        assert_eq!(level(&s, 0), Level::Low);
    });
}

#[test]
fn unsupported_settings_and_bad_offsets_are_refused_on_a_real_chip() {
    with_each(|lib| {
        let b = &lib.backend;
        let s = sim(2);
        // What 1.x cannot do; 2.x can (see `libgpiod_2_does_what_1_cannot`).
        let refused = if lib.v2() { vec![] } else { vec![0, 1] };
        for (cfg, what) in [
            (
                LineConfig::new()
                    .with_line(0)
                    .with_debounce(Duration::from_millis(1)),
                "debounce",
            ),
            (
                LineConfig::new()
                    .with_line(0)
                    .with_edge_detection(Edge::Both)
                    .with_event_clock(EventClock::Realtime),
                "event clock realtime",
            ),
        ]
        .into_iter()
        .enumerate()
        .filter(|(i, _)| refused.contains(i))
        .map(|(_, c)| c)
        {
            let e = Request::builder()
                .on_chip(path(&s))
                .with_config(cfg)
                .request_with(b)
                .unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
            assert!(e.to_string().contains("libgpiod backend"), "{e}");
        }
        let e = Request::builder()
            .on_chip(path(&s))
            .with_line(2)
            .as_input()
            .request_with(b)
            .unwrap_err();
        assert!(
            e.to_string().contains("line offset 2 is out of range")
                && e.to_string().contains("it has 2 lines"),
            "{e}"
        );
        assert!(!info(&s, 0).used);
    });
}

#[test]
fn reading_events_without_edge_detection_is_refused() {
    with_each(|lib| {
        let b = &lib.backend;
        let s = sim(1);
        let mut req = Request::builder()
            .on_chip(path(&s))
            .with_line(0)
            .as_input()
            .request_with(b)
            .unwrap();
        let e = req.read_edge_event().unwrap_err();
        assert!(
            e.to_string()
                .contains("no line of this request has edge detection"),
            "{e}"
        );
    });
}

#[test]
fn chip_removed_under_a_request_gives_errors_not_hangs() {
    with_each(|lib| {
        let b = &lib.backend;
        let s = sim(4);
        let mut out = Request::builder()
            .on_chip(path(&s))
            .with_line(0)
            .as_output(Value::Active)
            .request_with(b)
            .unwrap();
        let mut ev = Request::builder()
            .on_chip(path(&s))
            .with_line(1)
            .as_input()
            .with_edge_detection(Edge::Both)
            .request_with(b)
            .unwrap();
        let waiter = std::thread::spawn(move || ev.read_edge_event().map(drop));
        std::thread::sleep(Duration::from_millis(100));
        drop(s);
        let e = waiter
            .join()
            .expect("waiter did not panic")
            .expect_err("reading events from a removed chip");
        assert!(matches!(e, Error::ChipGone { .. }), "{e:?}");
        let e = out.set_value(0, Value::Inactive).unwrap_err();
        assert!(matches!(e, Error::ChipGone { .. }), "{e:?}");
        assert!(e.to_string().contains("is gone"), "{e}");
        assert!(out.value(0).is_err());
        drop(out);
    });
}

#[test]
fn the_lines_object_refuses_inputs_and_foreign_offsets() {
    use hw::line::{Backend, ChipSelector, RequestSpec};
    use hw::{LineId, LineSettings};
    with_each(|lib| {
        let b = &lib.backend;
        let s = sim(2);
        let spec = RequestSpec {
            chip: Some(ChipSelector::Path(path(&s))),
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
    });
}

/// One piece of user code, written once against the line API and embedded-hal, run on every
/// backend: only the backend argument changes.
fn blink_and_watch(backend: &dyn hw::line::Backend, s: &gpiosim::Sim) {
    use embedded_hal::digital::{InputPin, OutputPin, StatefulOutputPin};
    let mut led = Request::builder()
        .on_chip(path(s))
        .with_line(0)
        .as_output(Value::Inactive)
        .request_with(backend)
        .unwrap()
        .into_line()
        .unwrap();
    led.set_high().unwrap();
    assert_eq!(level(s, 0), Level::High, "{}", backend.name());
    assert!(led.is_set_high().unwrap());
    led.set_low().unwrap();
    assert_eq!(level(s, 0), Level::Low, "{}", backend.name());

    let mut button = Request::builder()
        .on_chip(path(s))
        .with_line(1)
        .as_input()
        .with_edge_detection(Edge::Both)
        .request_with(backend)
        .unwrap()
        .into_line()
        .unwrap();
    pull(s, 1, Level::High);
    let ev = button
        .read_edge_event_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("an edge");
    assert_eq!(ev.kind, EdgeKind::Rising, "{}", backend.name());
    assert!(button.is_high().unwrap());
}

#[test]
fn the_same_code_runs_on_every_backend() {
    use hw::backend::sysfs::SysfsBackend;
    use hw::{CdevBackend, Uapi};
    // Where the kernel lacks uAPI v1, its two users here (cdev v1, libgpiod 1.x) are checked
    // to refuse clearly instead (see `libraries`).
    let gpiod = libraries();
    let v1 = common::both()
        .contains(&Uapi::V1)
        .then(|| CdevBackend::forced(Uapi::V1));
    let (v2, native, ffi) = (
        CdevBackend::forced(Uapi::V2),
        SysfsBackend::native(),
        SysfsBackend::ffi(),
    );
    let mut backends: Vec<&dyn hw::line::Backend> = vec![&v2];
    backends.extend(v1.as_ref().map(|b| b as &dyn hw::line::Backend));
    backends.push(&native);
    backends.push(&ffi);
    backends.extend(gpiod.iter().map(|l| &l.backend as &dyn hw::line::Backend));
    for b in backends {
        let s = sim(2);
        blink_and_watch(b, &s);
    }
}

#[test]
fn libgpiod_2_does_what_1_cannot() {
    with_each(|lib| {
        if !lib.v2() {
            return;
        }
        let b = &lib.backend;
        let s = sim(4);
        // Debounce, an event-buffer size and the realtime clock reach the kernel.
        let mut req = Request::builder()
            .on_chip(path(&s))
            .consumer("gpiod2-extras")
            .with_line(1)
            .as_input()
            .with_edge_detection(Edge::Both)
            .with_debounce(Duration::from_micros(50))
            .with_line(2)
            .as_input()
            .with_edge_detection(Edge::Rising)
            .with_event_clock(EventClock::Realtime)
            .event_buffer_size(32)
            .request_with(b)
            .unwrap();
        let i = info(&s, 1);
        assert_eq!(i.debounce, Some(Duration::from_micros(50)));
        assert_eq!(i.consumer, "gpiod2-extras");
        assert_eq!(info(&s, 2).event_clock, EventClock::Realtime);
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        pull(&s, 2, Level::High);
        let ev = req
            .read_edge_event_timeout(Duration::from_secs(5))
            .unwrap()
            .expect("a rising edge");
        assert_eq!((ev.offset, ev.kind), (2, EdgeKind::Rising));
        // A realtime timestamp, not a monotonic one (which counts from boot).
        assert!(
            ev.timestamp_ns + 60_000_000_000 > now_ns,
            "{ev:?} vs {now_ns}"
        );
        // The kernel's sequence numbers: request-wide and per line.
        pull(&s, 1, Level::High);
        eventually("debounced edge on line 1", || {
            req.wait_edge_event(Duration::from_millis(100)).unwrap()
        });
        let ev = req.read_edge_event().unwrap();
        assert_eq!((ev.offset, ev.seqno, ev.line_seqno), (1, 2, 1), "{ev:?}");
        drop(req);

        // An as-is direction keeps what the line was: an output stays one, driving on.
        let out = Request::builder()
            .on_chip(path(&s))
            .with_line(0)
            .as_output(Value::Active)
            .request_with(b)
            .unwrap();
        drop(out);
        let mut asis = Request::builder()
            .on_chip(path(&s))
            .with_config(LineConfig::new().with_line(0))
            .request_with(b)
            .unwrap();
        assert_eq!(info(&s, 0).direction, Direction::Output);
        asis.set_value(0, Value::Inactive).unwrap();
        assert_eq!(level(&s, 0), Level::Low);
    });
}

#[test]
fn libgpiod_2_reports_kernel_refusals_clearly() {
    with_each(|lib| {
        if !lib.v2() {
            return;
        }
        let b = &lib.backend;
        let s = sim(3);
        // A request of two lines is one kernel request: the busy one fails it whole, and
        // the other is not left held.
        let held = Request::builder()
            .on_chip(path(&s))
            .consumer("holder-2x")
            .with_line(1)
            .as_input()
            .request_with(b)
            .unwrap();
        let e = Request::builder()
            .on_chip(path(&s))
            .with_lines(&[0, 1])
            .as_input()
            .request_with(b)
            .unwrap_err();
        assert!(matches!(e, Error::Busy { offset: 1, .. }), "{e:?}");
        assert!(e.to_string().contains("holder-2x"), "{e}");
        assert!(!info(&s, 0).used);
        drop(held);
        // Lines named twice (once by name, once by offset) are refused before the kernel.
        let named = unique("TWICE");
        let s = sim_bank(Bank::new(2, unique("gpiod2-twice")).name(1, named.as_str()));
        let e = Request::builder()
            .on_chip(path(&s))
            .with_line(1)
            .as_input()
            .with_named_line(named.as_str())
            .as_input()
            .request_with(b)
            .unwrap_err();
        assert!(e.to_string().contains("appears twice"), "{e}");
        // More lines than the kernel allows in one request.
        let e = Request::builder()
            .on_chip(path(&s))
            .with_lines(&(0..65).collect::<Vec<_>>())
            .as_input()
            .request_with(b)
            .unwrap_err();
        assert!(e.to_string().contains("65 lines in one request"), "{e}");
    });
}

#[test]
fn a_refused_pair_drives_no_line() {
    for lib in libraries() {
        common::refused_pair_drives_nothing(&lib.label, |r| r.request_with(&lib.backend));
    }
}
