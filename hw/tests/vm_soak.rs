//! Soak (issue 14 §4): many toggles and edges through every backend's `Lines` API against
//! gpio-sim, with the process's fd count and memory flat from start to end and every edge the
//! simulator made accounted for by sequence numbers.
//!
//! The test bed runs a scaled-down soak in CI (`ci_soak`, sized for TCG, where a toggle costs
//! far more than on hardware). The full counts, 10 million toggles and 100,000 edges per
//! backend, are the ignored `full_soak_*` tests, one per backend:
//! `cargo run --release -p hwkit-testbed -- test --release --binary-timeout 21600 -p hw --test vm_soak -- --ignored --nocapture full_soak`
//! (or `full_soak_cdev_v2` and so on for one backend).

mod common;
mod fault_kit;

use std::time::{Duration, Instant};

use common::{path, sim};
use fault_kit::*;
use gpiosim::Level;
use hw::{Edge, EdgeEvent, EdgeKind, Request, Value};

/// How much VmRSS may grow from the end of the warm-up to the end: allocator noise, not a
/// leak (a leak of even one byte per toggle is megabytes over a soak).
const RSS_SLACK_KIB: u64 = 256;

/// What the process holds, sampled through a soak.
#[derive(Debug, Clone, Copy)]
struct Sample {
    fds: usize,
    rss_kib: u64,
}

fn sample() -> Sample {
    Sample {
        fds: fd_count(),
        rss_kib: status_kib("VmRSS"),
    }
}

/// Checks a soak's samples: the fd count never moves, memory is flat after the warm-up.
fn assert_flat(name: &str, what: &str, warm: Sample, samples: &[Sample]) {
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(
            s.fds, warm.fds,
            "{name} {what}: fd count moved at sample {i}: {samples:?}"
        );
    }
    let last = samples.last().copied().unwrap_or(warm);
    assert!(
        last.rss_kib <= warm.rss_kib + RSS_SLACK_KIB,
        "{name} {what}: VmRSS grew from {} KiB to {} KiB: {samples:?}",
        warm.rss_kib,
        last.rss_kib
    );
}

/// `toggles` sets of one output, alternating, each checked by the simulator every so often.
fn toggle_soak(subject: Subject, toggles: u64) {
    let name = subject.name;
    let s = sim(2);
    let mut req = Request::builder()
        .on_chip(path(&s))
        .consumer("soak")
        .with_line(0)
        .as_output(Value::Inactive)
        .request_with(subject.backend().as_ref())
        .unwrap();
    let warmup = (toggles / 10).max(1);
    let every = (toggles / 20).max(1);
    let mut warm = sample();
    let mut samples = Vec::with_capacity(32);
    let started = Instant::now();
    for i in 0..toggles {
        let v = Value::from(i.is_multiple_of(2));
        req.set_value(0, v)
            .unwrap_or_else(|e| panic!("{name}: toggle {i}: {e}"));
        if i + 1 == warmup {
            warm = sample();
        } else if (i + 1).is_multiple_of(every) {
            let level = s.chips()[0].get_level(0).unwrap();
            assert_eq!(level == Level::High, v.is_active(), "{name}: toggle {i}");
            samples.push(sample());
        }
    }
    let took = started.elapsed();
    println!(
        "SOAK {name}: {toggles} toggles in {:.1} s ({:.0}/s), VmRSS {} -> {} KiB, VmHWM {} KiB, {} fds",
        took.as_secs_f64(),
        toggles as f64 / took.as_secs_f64(),
        warm.rss_kib,
        samples.last().map_or(warm.rss_kib, |s| s.rss_kib),
        status_kib("VmHWM"),
        warm.fds
    );
    assert_flat(name, "toggles", warm, &samples);
}

/// `edges` edges made by the simulator one at a time, each read before the next: every one
/// must arrive, in order, numbered without a gap.
fn edge_soak(subject: Subject, edges: u32) {
    let name = subject.name;
    let s = sim(2);
    let mut req = Request::builder()
        .on_chip(path(&s))
        .consumer("soak")
        .with_line(1)
        .as_input()
        .with_edge_detection(Edge::Both)
        .request_with(subject.backend().as_ref())
        .unwrap();
    let warmup = (edges / 10).max(1);
    let every = (edges / 20).max(1);
    let mut warm = sample();
    let mut samples = Vec::with_capacity(32);
    let mut buf = [EdgeEvent::default(); 4];
    let started = Instant::now();
    for i in 1..=edges {
        let rising = i % 2 == 1;
        s.chips()[0]
            .set_pull(1, if rising { Level::High } else { Level::Low })
            .unwrap();
        assert!(
            req.wait_edge_event(Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("{name}: edge {i}: {e}")),
            "{name}: edge {i} never came"
        );
        let n = req.read_edge_events(&mut buf).unwrap();
        assert_eq!(n, 1, "{name}: edge {i}: {:?}", &buf[..n]);
        let kind = if rising {
            EdgeKind::Rising
        } else {
            EdgeKind::Falling
        };
        assert_eq!(
            (buf[0].kind, buf[0].seqno, buf[0].line_seqno),
            (kind, i, i),
            "{name}: edge {i}"
        );
        if i == warmup {
            warm = sample();
        } else if i.is_multiple_of(every) {
            samples.push(sample());
        }
    }
    let took = started.elapsed();
    assert_eq!(req.lost_edge_events(), 0, "{name}");
    println!(
        "SOAK {name}: {edges} edges in {:.1} s ({:.0}/s), VmRSS {} -> {} KiB, {} fds",
        took.as_secs_f64(),
        f64::from(edges) / took.as_secs_f64(),
        warm.rss_kib,
        samples.last().map_or(warm.rss_kib, |s| s.rss_kib),
        warm.fds
    );
    assert_flat(name, "edges", warm, &samples);
}

/// The soak of every backend whose name `pick` accepts.
fn soak(toggles: u64, edges: u32, pick: impl Fn(&str) -> bool) {
    let _one = serial();
    let subjects: Vec<Subject> = subjects().into_iter().filter(|s| pick(s.name)).collect();
    assert!(!subjects.is_empty(), "no such backend on this kernel");
    for subject in subjects {
        let before = fd_count();
        toggle_soak(subject, toggles);
        edge_soak(subject, edges);
        assert_eq!(fd_count(), before, "{}: {:#?}", subject.name, fd_list());
    }
}

/// Every backend, scaled to about a minute under TCG.
#[test]
fn ci_soak() {
    soak(50_000, 500, |_| true);
}

// The full counts, one backend per test so that a run can be split. Under TCG they take
// from about 20 minutes (cdev-v2) to about an hour (sysfs-ffi) each.

#[test]
#[ignore = "about 20 minutes under TCG: run on purpose (see the module's docs)"]
fn full_soak_cdev_v2() {
    soak(10_000_000, 100_000, |n| n == "cdev-v2");
}

#[test]
#[ignore = "about an hour under TCG: run on purpose (see the module's docs)"]
fn full_soak_cdev_v1() {
    soak(10_000_000, 100_000, |n| n == "cdev-v1");
}

#[test]
#[ignore = "about 40 minutes under TCG: run on purpose (see the module's docs)"]
fn full_soak_sysfs_native() {
    soak(10_000_000, 100_000, |n| n == "sysfs-native");
}

#[test]
#[ignore = "about an hour under TCG: run on purpose (see the module's docs)"]
fn full_soak_sysfs_ffi() {
    soak(10_000_000, 100_000, |n| n == "sysfs-ffi");
}

#[test]
#[ignore = "about 40 minutes under TCG: run on purpose (see the module's docs)"]
fn full_soak_libgpiod() {
    soak(10_000_000, 100_000, |n| n.starts_with("libgpiod"));
}
