//! Edge events driven by simulator pulls: kinds, sequence numbers, timeouts, non-blocking and
//! batched reads, the raw fd for poll, event clocks, and overflow seen as a seqno gap.

mod common;

use std::os::fd::AsFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use gpiosim::Level;
use hw::{Edge, EdgeEvent, EdgeKind, EventClock, Request, Uapi};

const WAIT: Duration = Duration::from_secs(2);

fn edge_request(s: &gpiosim::Sim, uapi: Uapi, offsets: &[u32], edge: Edge) -> Request {
    Request::builder()
        .on_chip(path(s))
        .with_uapi(uapi)
        .with_lines(offsets)
        .with_edge_detection(edge)
        .request()
        .unwrap()
}

#[test]
fn rising_and_falling_edges_with_sequence_numbers() {
    for uapi in both() {
        let s = sim(4);
        pull(&s, 1, Level::Low);
        let mut req = edge_request(&s, uapi, &[1], Edge::Both);
        pull(&s, 1, Level::High);
        let e1 = req
            .read_edge_event_timeout(WAIT)
            .unwrap()
            .expect("rising edge");
        pull(&s, 1, Level::Low);
        let e2 = req.read_edge_event().unwrap();
        assert_eq!(
            (e1.offset, e1.kind, e1.seqno, e1.line_seqno),
            (1, EdgeKind::Rising, 1, 1),
            "{uapi}"
        );
        assert_eq!(
            (e2.offset, e2.kind, e2.seqno, e2.line_seqno),
            (1, EdgeKind::Falling, 2, 2),
            "{uapi}"
        );
        assert!(e2.timestamp_ns >= e1.timestamp_ns, "{uapi}");
        assert!(
            req.try_read_edge_event().unwrap().is_none(),
            "{uapi}: no more events"
        );
        assert_eq!(req.lost_edge_events(), 0);
    }
}

#[test]
fn only_the_requested_edge_is_reported() {
    for uapi in both() {
        for (edge, want) in [
            (Edge::Rising, EdgeKind::Rising),
            (Edge::Falling, EdgeKind::Falling),
        ] {
            let s = sim(2);
            pull(&s, 0, Level::Low);
            let mut req = edge_request(&s, uapi, &[0], edge);
            for _ in 0..2 {
                pull(&s, 0, Level::High);
                pull(&s, 0, Level::Low);
            }
            let mut got = Vec::new();
            while let Some(e) = req
                .read_edge_event_timeout(Duration::from_millis(200))
                .unwrap()
            {
                got.push(e);
            }
            assert_eq!(got.len(), 2, "{uapi} {edge}: {got:?}");
            assert!(got.iter().all(|e| e.kind == want), "{uapi} {edge}: {got:?}");
            if uapi == Uapi::V2 {
                // The kernel records edge flags in line info for v2 requests only.
                assert_eq!(info(&s, 0).edge, edge);
            }
        }
    }
}

#[test]
fn events_of_several_lines_carry_per_line_sequence_numbers() {
    for uapi in both() {
        let s = sim(4);
        let mut req = edge_request(&s, uapi, &[0, 2], Edge::Rising);
        pull(&s, 0, Level::High);
        pull(&s, 2, Level::High);
        pull(&s, 0, Level::Low);
        pull(&s, 0, Level::High);
        let mut buf = [EdgeEvent::default(); 8];
        let mut got = Vec::new();
        while got.len() < 3 {
            assert!(
                req.wait_edge_event(WAIT).unwrap(),
                "{uapi}: events expected"
            );
            let n = req.read_edge_events(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        let mut by_line: Vec<(u32, u32)> = got.iter().map(|e| (e.offset, e.line_seqno)).collect();
        by_line.sort();
        assert_eq!(by_line, vec![(0, 1), (0, 2), (2, 1)], "{uapi}: {got:?}");
        let mut seqnos: Vec<u32> = got.iter().map(|e| e.seqno).collect();
        seqnos.sort();
        assert_eq!(seqnos, vec![1, 2, 3], "{uapi}");
    }
}

#[test]
fn many_events_are_read_at_once_into_a_buffer() {
    let s = sim(2);
    let mut req = edge_request(&s, Uapi::V2, &[0], Edge::Both);
    for _ in 0..5 {
        pull(&s, 0, Level::High);
        pull(&s, 0, Level::Low);
    }
    let mut buf = [EdgeEvent::default(); 32];
    // Let the simulator's interrupts run before reading.
    std::thread::sleep(Duration::from_millis(50));
    let n = req.read_edge_events(&mut buf).unwrap();
    assert_eq!(n, 10, "one read returned every pending event");
    for (i, e) in buf[..n].iter().enumerate() {
        assert_eq!(e.seqno as usize, i + 1);
        assert_eq!(
            e.kind,
            if i % 2 == 0 {
                EdgeKind::Rising
            } else {
                EdgeKind::Falling
            }
        );
    }
}

#[test]
fn timeouts_and_non_blocking_reads_return_nothing_when_idle() {
    for uapi in both() {
        let s = sim(2);
        let mut req = edge_request(&s, uapi, &[0], Edge::Both);
        assert!(
            !req.wait_edge_event(Duration::from_millis(30)).unwrap(),
            "{uapi}"
        );
        assert!(
            req.read_edge_event_timeout(Duration::from_millis(30))
                .unwrap()
                .is_none(),
            "{uapi}"
        );
        assert!(req.try_read_edge_event().unwrap().is_none(), "{uapi}");
        pull(&s, 0, Level::High);
        eventually("a pending event", || {
            req.wait_edge_event(Duration::ZERO).unwrap()
        });
        assert_eq!(
            req.try_read_edge_event().unwrap().unwrap().kind,
            EdgeKind::Rising,
            "{uapi}"
        );
    }
}

#[test]
fn the_raw_fd_polls_readable_when_events_are_pending() {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    for uapi in both() {
        let s = sim(2);
        let mut req = edge_request(&s, uapi, &[1], Edge::Rising);
        let ready = |req: &Request, ms: u16| {
            let mut fds = [PollFd::new(req.as_fd(), PollFlags::POLLIN)];
            poll(&mut fds, PollTimeout::from(ms)).unwrap() == 1
        };
        assert!(!ready(&req, 20), "{uapi}");
        pull(&s, 1, Level::High);
        assert!(ready(&req, 2000), "{uapi}");
        req.read_edge_event().unwrap();
        assert!(!ready(&req, 20), "{uapi}: read drained it");
    }
}

#[test]
fn realtime_event_clock_stamps_wall_clock_time() {
    let s = sim(2);
    let mut req = Request::builder()
        .on_chip(path(&s))
        .with_line(0)
        .with_edge_detection(Edge::Rising)
        .with_event_clock(EventClock::Realtime)
        .request()
        .unwrap();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    pull(&s, 0, Level::High);
    let e = req.read_edge_event_timeout(WAIT).unwrap().unwrap();
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(
        before <= e.timestamp_ns && e.timestamp_ns <= after,
        "{before} <= {} <= {after}",
        e.timestamp_ns
    );
    // The default monotonic clock is far from the wall clock.
    let mut mono = edge_request(&s, Uapi::V2, &[1], Edge::Rising);
    pull(&s, 1, Level::High);
    let m = mono.read_edge_event_timeout(WAIT).unwrap().unwrap();
    assert!(
        m.timestamp_ns < before / 2,
        "monotonic stamp {} looks like wall time",
        m.timestamp_ns
    );
}

#[test]
fn debounce_filters_a_quick_pulse_and_is_reported() {
    let s = sim(2);
    pull(&s, 0, Level::Low);
    let mut req = Request::builder()
        .on_chip(path(&s))
        .with_line(0)
        .with_edge_detection(Edge::Both)
        .with_debounce(Duration::from_millis(100))
        .request()
        .unwrap();
    assert_eq!(info(&s, 0).debounce, Some(Duration::from_millis(100)));
    // A pulse much shorter than the period is swallowed... A loaded machine can stretch the
    // pulse past the period; such a pulse proves nothing, so it is made again (up to five
    // times), and each one that stayed short must have been swallowed.
    let made_a_short_pulse = (0..5).any(|_| {
        let start = Instant::now();
        pull(&s, 0, Level::High);
        pull(&s, 0, Level::Low);
        let took = start.elapsed();
        let events = std::iter::from_fn(|| {
            req.read_edge_event_timeout(Duration::from_millis(300))
                .unwrap()
        })
        .count();
        let short = took < Duration::from_millis(50);
        assert!(!short || events == 0, "a {took:?} pulse got through");
        short
    });
    assert!(made_a_short_pulse, "no pulse under 50 ms in five tries");
    // ...a level held past it is reported once.
    pull(&s, 0, Level::High);
    let e = req
        .read_edge_event_timeout(WAIT)
        .unwrap()
        .expect("debounced edge");
    assert_eq!(e.kind, EdgeKind::Rising);
    assert!(req
        .read_edge_event_timeout(Duration::from_millis(300))
        .unwrap()
        .is_none());
}

#[test]
fn buffer_overflow_shows_as_a_sequence_number_gap() {
    let s = sim(2);
    pull(&s, 0, Level::Low);
    let mut req = Request::builder()
        .on_chip(path(&s))
        .with_line(0)
        .with_edge_detection(Edge::Both)
        .event_buffer_size(2)
        .request()
        .unwrap();
    // 20 edges, none read: the kernel keeps the newest that fit and drops the oldest.
    for _ in 0..10 {
        pull(&s, 0, Level::High);
        pull(&s, 0, Level::Low);
    }
    std::thread::sleep(Duration::from_millis(50));
    let mut buf = [EdgeEvent::default(); 64];
    let n = req.read_edge_events(&mut buf).unwrap();
    assert!(n < 20, "the buffer of 2 cannot hold 20 events (got {n})");
    let first = buf[0];
    assert!(
        first.seqno > 1,
        "the oldest events were dropped: first seqno {}",
        first.seqno
    );
    assert_eq!(buf[n - 1].seqno, 20, "the newest event survives");
    assert_eq!(req.lost_edge_events(), u64::from(first.seqno - 1));
    assert_eq!(req.lost_edge_events() + n as u64, 20);
}

#[test]
fn edge_events_iterator_yields_in_order() {
    let s = sim(2);
    let mut req = edge_request(&s, Uapi::V2, &[0], Edge::Both);
    pull(&s, 0, Level::High);
    pull(&s, 0, Level::Low);
    pull(&s, 0, Level::High);
    assert!(req.wait_edge_event(WAIT).unwrap());
    let kinds: Vec<EdgeKind> = req.edge_events().take(3).map(|e| e.unwrap().kind).collect();
    assert_eq!(
        kinds,
        vec![EdgeKind::Rising, EdgeKind::Falling, EdgeKind::Rising]
    );
}
