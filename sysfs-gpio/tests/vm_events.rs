//! Edge events through sysfs on gpio-sim chips: the simulator's pulls raise real interrupts.
//! Every case runs through both I/O paths.

mod common;

use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::SimChip;
use sysfs_gpio::{Edge, EdgeKind, Error, IoPath, Sysfs, SysfsLine};

both_paths!(
    rising_edges_are_counted,
    falling_edges_are_counted,
    both_edges_are_counted_with_their_direction,
    active_low_swaps_the_edges,
    wait_times_out_without_an_edge,
    edge_none_stops_events,
    wait_without_edge_detection_is_refused,
    blocking_iterator_yields_each_edge,
    raw_fd_wakes_an_external_poll,
);

const SHORT: Option<Duration> = Some(Duration::from_millis(200));
const LONG: Option<Duration> = Some(Duration::from_secs(5));

fn input(sim: &SimChip, offset: u32, io: IoPath, edge: Edge) -> SysfsLine {
    sim.pull(offset, false);
    let mut line = Sysfs::new()
        .open_line(sim.label.as_str(), offset, io)
        .unwrap();
    line.set_input().unwrap();
    line.set_edge(edge).unwrap();
    assert_eq!(line.edge(), edge);
    line
}

/// Pulls the line high, low, high, ... once per entry of `expected`, waiting after each pull
/// (long when an edge is expected, short when none may come), and compares what was seen.
fn expect_edges(sim: &SimChip, line: &mut SysfsLine, offset: u32, expected: &[Option<EdgeKind>]) {
    let mut seen = Vec::new();
    for (i, want) in expected.iter().enumerate() {
        let high = i % 2 == 0;
        sim.pull(offset, high);
        let ev = line
            .wait_for_edge(if want.is_some() { LONG } else { SHORT })
            .unwrap();
        if let Some(ev) = ev {
            assert_eq!(ev.value, high, "value read after the edge");
        }
        seen.push(ev.map(|e| e.kind));
    }
    assert_eq!(seen, expected);
}

fn rising_edges_are_counted(io: IoPath) {
    let sim = SimChip::new(4);
    let mut line = input(&sim, 1, io, Edge::Rising);
    expect_edges(
        &sim,
        &mut line,
        1,
        &[Some(EdgeKind::Rising), None].repeat(3),
    );
}

fn falling_edges_are_counted(io: IoPath) {
    let sim = SimChip::new(4);
    let mut line = input(&sim, 2, io, Edge::Falling);
    expect_edges(
        &sim,
        &mut line,
        2,
        &[None, Some(EdgeKind::Falling)].repeat(3),
    );
}

fn both_edges_are_counted_with_their_direction(io: IoPath) {
    let sim = SimChip::new(4);
    let mut line = input(&sim, 3, io, Edge::Both);
    expect_edges(
        &sim,
        &mut line,
        3,
        &[Some(EdgeKind::Rising), Some(EdgeKind::Falling)].repeat(4),
    );
}

fn active_low_swaps_the_edges(io: IoPath) {
    let sim = SimChip::new(4);
    sim.pull(0, false);
    let mut line = Sysfs::new().open_line(sim.label.as_str(), 0, io).unwrap();
    line.set_input().unwrap();
    line.set_active_low(true).unwrap();
    line.set_edge(Edge::Rising).unwrap();
    // Physically falling is logically rising.
    sim.pull(0, true);
    assert_eq!(line.wait_for_edge(SHORT).unwrap(), None);
    sim.pull(0, false);
    let ev = line
        .wait_for_edge(LONG)
        .unwrap()
        .expect("logical rising edge");
    assert_eq!(ev.kind, EdgeKind::Rising);
    assert!(ev.value);
}

fn wait_times_out_without_an_edge(io: IoPath) {
    let sim = SimChip::new(4);
    let mut line = input(&sim, 1, io, Edge::Both);
    let timeout = Duration::from_millis(150);
    let started = Instant::now();
    assert_eq!(line.wait_for_edge(Some(timeout)).unwrap(), None);
    assert!(started.elapsed() >= timeout, "returned before the timeout");
    // A zero timeout polls once and returns.
    assert_eq!(line.wait_for_edge(Some(Duration::ZERO)).unwrap(), None);
    // ... and still sees an edge that is already there.
    sim.pull(1, true);
    let deadline = Instant::now() + Duration::from_secs(5);
    let ev = loop {
        if let Some(ev) = line.wait_for_edge(Some(Duration::ZERO)).unwrap() {
            break ev;
        }
        assert!(Instant::now() < deadline, "edge never became visible");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(ev.kind, EdgeKind::Rising);
}

fn edge_none_stops_events(io: IoPath) {
    let sim = SimChip::new(4);
    let mut line = input(&sim, 2, io, Edge::Both);
    sim.pull(2, true);
    assert!(line.wait_for_edge(LONG).unwrap().is_some());
    line.set_edge(Edge::None).unwrap();
    sim.pull(2, false);
    let err = line.wait_for_edge(SHORT).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert_eq!(
        std::fs::read_to_string(line.dir().join("edge"))
            .unwrap()
            .trim(),
        "none"
    );
}

fn wait_without_edge_detection_is_refused(io: IoPath) {
    let sim = SimChip::new(4);
    let mut line = Sysfs::new().open_line(sim.label.as_str(), 0, io).unwrap();
    line.set_input().unwrap();
    let err = line.wait_for_edge(SHORT).unwrap_err();
    assert!(err.to_string().contains("set_edge"), "{err}");
    // The iterator reports the error once and ends instead of spinning.
    let mut events = line.events();
    assert!(matches!(
        events.next(),
        Some(Err(Error::InvalidArgument(_)))
    ));
    assert!(events.next().is_none());
}

fn blocking_iterator_yields_each_edge(io: IoPath) {
    let sim = SimChip::new(4);
    let mut line = input(&sim, 3, io, Edge::Both);
    let (ack_tx, ack_rx) = mpsc::channel::<()>();
    let sim = &sim;
    std::thread::scope(|s| {
        // The driver pulls the next edge only after the consumer saw the previous one: sysfs
        // does not queue events, so this is what "every edge" means here.
        s.spawn(move || {
            for i in 0..6 {
                sim.pull(3, i % 2 == 0);
                if ack_rx.recv().is_err() {
                    return;
                }
            }
        });
        let mut kinds = Vec::new();
        for event in line.events().take(6) {
            kinds.push(event.unwrap().kind);
            let _ = ack_tx.send(());
        }
        drop(ack_tx);
        assert_eq!(
            kinds,
            [EdgeKind::Rising, EdgeKind::Falling].repeat(3),
            "one event per edge, in order"
        );
    });
}

fn raw_fd_wakes_an_external_poll(io: IoPath) {
    let sim = SimChip::new(4);
    let mut line = input(&sim, 1, io, Edge::Rising);
    let fd = line.as_raw_fd();
    let poll = |timeout_ms: i32| {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLPRI | libc::POLLERR,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid pollfd array of length 1 for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
        n == 1 && pfd.revents & libc::POLLPRI != 0
    };
    assert!(!poll(100), "no edge yet");
    sim.pull(1, true);
    assert!(poll(5000), "the edge wakes a poll on the raw fd");
    // The epoll user re-reads through the line, which also acknowledges the event.
    assert!(line.get_value().unwrap());
    assert!(!poll(100), "acknowledged");
    // And the line's own wait works on the same fd afterwards.
    sim.pull(1, false);
    sim.pull(1, true);
    assert!(line.wait_for_edge(LONG).unwrap().is_some());
}
