//! The toggle loop: each backend in turn, in interleaved rounds, every toggle timed into a
//! histogram made before the loop starts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::backends::{self, BackendList, BenchLines, Kind, SetupError, Toggle};

/// The slowest toggle a histogram tells apart from "that slow or slower": 60 s.
const MAX_TRACKED_NS: u64 = 60_000_000_000;

/// How long a run is.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Unmeasured toggling per backend (spread over the rounds).
    pub warmup: Duration,
    /// Measured toggling per backend (spread over the rounds).
    pub duration: Duration,
    /// Interleaved slices per backend.
    pub rounds: u32,
}

/// One backend's outcome.
pub enum Outcome {
    /// Measured: every toggle's latency in nanoseconds, and the wall-clock time they took.
    Measured {
        /// Per-toggle latency, ns.
        latency: Box<Histogram<u64>>,
        /// Wall-clock time of the measured slices.
        elapsed: Duration,
    },
    /// This machine does not have it.
    Unavailable(String),
}

/// A backend and its outcome.
pub struct Measured {
    /// The backend.
    pub kind: Kind,
    /// What its name does not say ([`backends::detail`]).
    pub detail: Option<String>,
    /// What came of it.
    pub outcome: Outcome,
}

fn new_histogram() -> Result<Histogram<u64>, String> {
    Histogram::new_with_bounds(1, MAX_TRACKED_NS, 3)
        .map_err(|e| format!("cannot make a latency histogram: {e}"))
}

/// Toggles `toggle` until `until`, timing each toggle into `latency` when given. Returns the
/// toggles made; ends early, between two toggles, when `stop` is raised.
fn toggle_until(
    toggle: &mut Toggle,
    until: Instant,
    mut latency: Option<&mut Histogram<u64>>,
    stop: &AtomicBool,
) -> Result<u64, String> {
    let mut high = true;
    let mut count = 0u64;
    loop {
        let start = Instant::now();
        if start >= until || stop.load(Ordering::Relaxed) {
            return Ok(count);
        }
        toggle(high)?;
        if let Some(h) = latency.as_deref_mut() {
            let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            h.saturating_record(ns.max(1));
        }
        high = !high;
        count += 1;
    }
}

/// Measures every backend of `list` on `lines`.
pub fn run_all(
    list: &BackendList,
    lines: &BenchLines,
    consumer: &str,
    plan: &Plan,
    stop: &AtomicBool,
) -> Result<Vec<Measured>, String> {
    let kinds = list.kinds();
    let mut results: Vec<Measured> = Vec::with_capacity(kinds.len());
    let mut live: Vec<(Kind, Histogram<u64>, Duration)> = Vec::new();
    // Which backends this machine has: taken hold of once and let go.
    for (kind, named) in kinds {
        match backends::setup(kind, lines, consumer) {
            Ok(t) => {
                drop(t);
                live.push((kind, new_histogram()?, Duration::ZERO));
            }
            Err(SetupError::Unavailable(why)) if !named => results.push(Measured {
                kind,
                detail: None,
                outcome: Outcome::Unavailable(why),
            }),
            Err(e) => return Err(format!("backend {kind}: {e}")),
        }
    }
    let rounds = plan.rounds.max(1);
    let warmup = plan.warmup / rounds;
    let slice = plan.duration / rounds;
    'rounds: for _ in 0..rounds {
        for (kind, latency, elapsed) in &mut live {
            if stop.load(Ordering::Relaxed) {
                break 'rounds;
            }
            let mut toggle = backends::setup(*kind, lines, consumer)
                .map_err(|e| format!("backend {kind}: {e}"))?;
            toggle_until(&mut toggle, Instant::now() + warmup, None, stop)
                .map_err(|e| format!("backend {kind}: {e}"))?;
            let start = Instant::now();
            toggle_until(&mut toggle, start + slice, Some(latency), stop)
                .map_err(|e| format!("backend {kind}: {e}"))?;
            *elapsed += start.elapsed();
        }
    }
    for (kind, latency, elapsed) in live {
        results.push(Measured {
            kind,
            detail: backends::detail(kind),
            outcome: Outcome::Measured {
                latency: Box::new(latency),
                elapsed,
            },
        });
    }
    // Report order is run order, unavailable ones in their places.
    results.sort_by_key(|m| Kind::ALL.iter().position(|k| *k == m.kind));
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn the_loop_alternates_levels_counts_toggles_and_stops_on_the_flag() {
        let seen = Rc::new(Cell::new((0u32, 0u32)));
        let s = Rc::clone(&seen);
        let stop = AtomicBool::new(false);
        let mut toggle: Toggle = Box::new(move |up| {
            let (hi, lo) = s.get();
            s.set(if up { (hi + 1, lo) } else { (hi, lo + 1) });
            Ok(())
        });
        let mut h = new_histogram().unwrap();
        let until = Instant::now() + Duration::from_millis(20);
        let n = toggle_until(&mut toggle, until, Some(&mut h), &stop).unwrap();
        let (hi, lo) = seen.get();
        assert_eq!(u64::from(hi + lo), n);
        assert!(hi == lo || hi == lo + 1, "{hi} {lo}");
        assert_eq!(h.len(), n);
        stop.store(true, Ordering::Relaxed);
        let far = Instant::now() + Duration::from_secs(3600);
        assert_eq!(toggle_until(&mut toggle, far, None, &stop).unwrap(), 0);
    }

    #[test]
    fn a_failing_toggle_ends_the_loop_with_its_error() {
        let stop = AtomicBool::new(false);
        let mut toggle: Toggle = Box::new(|_| Err("the chip is gone".into()));
        let far = Instant::now() + Duration::from_secs(3600);
        let e = toggle_until(&mut toggle, far, None, &stop).unwrap_err();
        assert_eq!(e, "the chip is gone");
    }
}
