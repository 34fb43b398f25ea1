//! `hwkit bench --loopback OUT,IN`: edge latency over a jumper wire between two lines. Each
//! round sets OUT and waits for the edge on IN; the report gives the time from just before the
//! set call to the kernel's edge timestamp, and to the moment user space has the event.
//!
//! On gpio-sim there is no wire: hwkit stands one in (a thread that copies the simulator's
//! output level of OUT to the pull of IN) and the report says so, since that thread's polling
//! is then part of what is measured.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hw::{Edge, EdgeKind, Request, Value};
use nix::time::{clock_gettime, ClockId};
use serde::Serialize;

use super::backends::BenchLines;
use super::host::Facts;
use super::report::{latency, nanos, Latency};

/// How long IN may take to show an edge before the wire is declared missing.
const EDGE_TIMEOUT: Duration = Duration::from_secs(1);

/// What connects OUT to IN.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Wire {
    /// A jumper wire, as the user said.
    Physical,
    /// gpio-sim: hwkit's thread copying OUT's level to IN's pull.
    Simulated,
}

/// The loopback report: the JSON document's shape.
#[derive(Clone, Debug, Serialize)]
pub struct LoopbackReport {
    /// `hwkit-bench-loopback/1`.
    pub schema: &'static str,
    /// What the figures depend on.
    pub host: Facts,
    /// The output line: argument, chip, offset.
    pub out: (String, String, u32),
    /// The input line.
    pub input: (String, String, u32),
    /// What connects them.
    pub wire: Wire,
    /// Edges measured.
    pub edges: u64,
    /// From just before the set call to the kernel's timestamp of the edge.
    pub set_to_kernel_ns: Option<Latency>,
    /// From just before the set call to user space holding the event.
    pub set_to_user_ns: Option<Latency>,
    /// A signal ended the run early.
    pub interrupted: bool,
}

/// gpio-sim's attribute directory of `line` of `chip` (`gpiochipN`), if it is a sim chip.
fn sim_line_dir(chip: &str, offset: u32) -> Option<PathBuf> {
    let dev = std::fs::canonicalize(Path::new("/sys/bus/gpio/devices").join(chip)).ok()?;
    let dir = dev.join(format!("sim_gpio{offset}"));
    dir.join("pull").exists().then_some(dir)
}

/// The stand-in wire: polls OUT's level and writes it to IN's pull until stopped.
struct SimWire {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SimWire {
    fn start(out_dir: PathBuf, in_dir: PathBuf) -> SimWire {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            // Both attributes held open and read or written at offset 0 (as sysfs wants):
            // the wire's polling is in the figures, so it opens and allocates nothing per look.
            let open = |p: PathBuf, write: bool| {
                std::fs::OpenOptions::new()
                    .read(!write)
                    .write(write)
                    .open(p)
            };
            let (Ok(value), Ok(pull)) = (
                open(out_dir.join("value"), false),
                open(in_dir.join("pull"), true),
            ) else {
                return;
            };
            let mut level = [0u8; 2];
            let mut last = None;
            while !flag.load(Ordering::Relaxed) {
                if value.read_at(&mut level, 0).is_err() {
                    return;
                }
                let high = level[0] == b'1';
                if last != Some(high) {
                    let wanted: &[u8] = if high { b"pull-up" } else { b"pull-down" };
                    if pull.write_at(wanted, 0).is_err() {
                        return;
                    }
                    last = Some(high);
                }
            }
        });
        SimWire {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SimWire {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn monotonic_ns() -> Result<u64, String> {
    let t = clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map_err(|e| format!("reading CLOCK_MONOTONIC: {e}"))?;
    Ok(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
}

/// Measures edges from `out` to `input` for `duration` after `warmup`.
pub fn run(
    out: &BenchLines,
    input: &BenchLines,
    consumer: &str,
    warmup: Duration,
    duration: Duration,
    stop: &AtomicBool,
    host: Facts,
) -> Result<LoopbackReport, String> {
    let (o, i) = (out.offsets[0], input.offsets[0]);
    let mut input_req = Request::builder()
        .on_chip(&input.dev_path)
        .consumer(consumer)
        .with_line(i)
        .with_edge_detection(Edge::Both)
        .request()
        .map_err(|e| format!("requesting {} for edges: {e}", input.arg))?;
    let mut out_req = Request::builder()
        .on_chip(&out.dev_path)
        .consumer(consumer)
        .with_line(o)
        .as_output(Value::Inactive)
        .request()
        .map_err(|e| format!("requesting {} as an output: {e}", out.arg))?;
    let sim = sim_line_dir(&out.chip, o).zip(sim_line_dir(&input.chip, i));
    let wire = if sim.is_some() {
        Wire::Simulated
    } else {
        Wire::Physical
    };
    let _sim_wire = sim.map(|(a, b)| SimWire::start(a, b));
    // Settle: IN follows OUT's low level before the first measured edge.
    std::thread::sleep(Duration::from_millis(50));
    while input_req
        .try_read_edge_event()
        .map_err(|e| e.to_string())?
        .is_some()
    {}

    let mut kernel =
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| e.to_string())?;
    let mut user = kernel.clone();
    let mut high = false;
    let warm_end = Instant::now() + warmup;
    let end = warm_end + duration;
    loop {
        let now = Instant::now();
        if now >= end || stop.load(Ordering::Relaxed) {
            break;
        }
        high = !high;
        let t_set = monotonic_ns()?;
        out_req
            .set_value(o, Value::from(high))
            .map_err(|e| format!("setting {}: {e}", out.arg))?;
        let ev = loop {
            let ev = input_req
                .read_edge_event_timeout(EDGE_TIMEOUT)
                .map_err(|e| format!("waiting for an edge on {}: {e}", input.arg))?
                .ok_or_else(|| missing_edge(out, input, &wire))?;
            // An edge the wire bounced or an old one: wait for the one this set made.
            let want = if high {
                EdgeKind::Rising
            } else {
                EdgeKind::Falling
            };
            if ev.kind == want && ev.timestamp_ns >= t_set {
                break ev;
            }
        };
        let t_user = monotonic_ns()?;
        if now >= warm_end {
            kernel.saturating_record((ev.timestamp_ns - t_set).max(1));
            user.saturating_record((t_user - t_set).max(1));
        }
    }
    // Leave OUT low and IN quiet.
    let _ = out_req.set_value(o, Value::Inactive);
    Ok(LoopbackReport {
        schema: "hwkit-bench-loopback/1",
        host,
        out: (out.arg.clone(), out.chip.clone(), o),
        input: (input.arg.clone(), input.chip.clone(), i),
        wire,
        edges: kernel.len(),
        set_to_kernel_ns: (!kernel.is_empty()).then(|| latency(&kernel)),
        set_to_user_ns: (!user.is_empty()).then(|| latency(&user)),
        interrupted: stop.load(Ordering::Relaxed),
    })
}

fn missing_edge(out: &BenchLines, input: &BenchLines, wire: &Wire) -> String {
    match wire {
        Wire::Physical => format!(
            "no edge on {} within {} s of setting {}: is a jumper wire connecting the two \
             pins, and is nothing else driving {}?",
            input.arg,
            EDGE_TIMEOUT.as_secs(),
            out.arg,
            input.arg
        ),
        Wire::Simulated => format!(
            "no edge on {} within {} s of setting {}, with the simulated wire running",
            input.arg,
            EDGE_TIMEOUT.as_secs(),
            out.arg
        ),
    }
}

impl LoopbackReport {
    /// CSV: one row per measure, with a header row.
    pub fn csv(&self) -> Result<String, String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let fail = |e: csv::Error| format!("writing the CSV report: {e}");
        w.write_record([
            "measure", "wire", "edges", "min_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns",
            "max_ns", "mean_ns",
        ])
        .map_err(fail)?;
        let wire = match self.wire {
            Wire::Physical => "physical",
            Wire::Simulated => "simulated",
        };
        for (what, l) in [
            ("set_to_kernel", self.set_to_kernel_ns),
            ("set_to_user", self.set_to_user_ns),
        ] {
            let mut row = vec![what.to_owned(), wire.to_owned(), self.edges.to_string()];
            match l {
                Some(l) => row.extend(
                    [l.min, l.p50, l.p90, l.p99, l.p999, l.max]
                        .iter()
                        .map(u64::to_string)
                        .chain([format!("{:.1}", l.mean)]),
                ),
                None => row.extend(std::iter::repeat_n(String::new(), 7)),
            }
            w.write_record(&row).map_err(fail)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| format!("writing the CSV report: {e}"))?;
        String::from_utf8(bytes).map_err(|e| format!("writing the CSV report: {e}"))
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut s = format!(
            "hwkit bench --loopback: {} ({} line {}) -> {} ({} line {}), {} edges\n",
            self.out.0,
            self.out.1,
            self.out.2,
            self.input.0,
            self.input.1,
            self.input.2,
            self.edges
        );
        s.push_str(&format!(
            "system:  kernel {} ({}), board {}, hypervisor: {}\n",
            self.host.kernel, self.host.arch, self.host.board, self.host.virtualization
        ));
        s.push_str(match self.wire {
            Wire::Physical => "wire:    a jumper wire between the two pins\n",
            Wire::Simulated => {
                "wire:    SIMULATED: gpio-sim has no wires, so hwkit runs a thread that copies \
                 OUT's level to IN's pull; its polling is part of these figures\n"
            }
        });
        if self.interrupted {
            s.push_str("interrupted: the figures cover the part of the run that happened\n");
        }
        s.push_str(&format!(
            "\n{:<26} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "", "p50", "p90", "p99", "p99.9", "max"
        ));
        for (what, l) in [
            ("set -> kernel timestamp", self.set_to_kernel_ns),
            ("set -> user space wakes", self.set_to_user_ns),
        ] {
            match l {
                Some(l) => s.push_str(&format!(
                    "{what:<26} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                    nanos(l.p50),
                    nanos(l.p90),
                    nanos(l.p99),
                    nanos(l.p999),
                    nanos(l.max)
                )),
                None => s.push_str(&format!("{what:<26} no edge measured\n")),
            }
        }
        s
    }
}
