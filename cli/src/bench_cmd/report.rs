//! A benchmark's report: figures per backend, as text for people, one JSON document or CSV
//! rows for scripts. The JSON and CSV field names are documented in cli/README.md and stable.

use std::fmt::Write as _;

use serde::Serialize;

use super::backends::{BenchLines, Kind};
use super::host::Facts;
use super::measure::{Measured, Outcome, Plan};

/// The `schema` field of the JSON document; bumped when a field changes meaning or goes away.
pub const SCHEMA: &str = "hwkit-bench/1";

/// How to print the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A table and histograms.
    Text,
    /// One JSON document.
    Json,
    /// CSV, one row per backend.
    Csv,
}

/// Per-toggle latency, nanoseconds.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Latency {
    /// Fastest toggle.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Slowest toggle.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// Toggles whose latency was in `[from_ns, to_ns)`.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct Bucket {
    /// Lower bound, inclusive.
    pub from_ns: u64,
    /// Upper bound, exclusive.
    pub to_ns: u64,
    /// Toggles in the range.
    pub count: u64,
}

/// One backend's figures.
#[derive(Clone, Debug, Serialize)]
pub struct BackendFigures {
    /// The backend's name, as `--backend` takes it (`floor-ioctl`, `v2`, ...).
    pub backend: &'static str,
    /// The floor its ratio is to (absent for the floors).
    pub floor: Option<&'static str>,
    /// What the name does not say: the libgpiod version and library, the I/O path.
    pub detail: Option<String>,
    /// Whether this machine has it.
    pub available: bool,
    /// Why not, when it has not.
    pub unavailable_reason: Option<String>,
    /// Measured toggles.
    pub toggles: u64,
    /// Wall-clock seconds they took, timing included.
    pub seconds: f64,
    /// Toggles per second.
    pub toggles_per_s: f64,
    /// The square wave those toggles make: half the toggle rate.
    pub square_wave_hz: f64,
    /// Per-toggle latency.
    pub latency_ns: Option<Latency>,
    /// Median latency over the floor's median.
    pub ratio_to_floor: Option<f64>,
    /// Power-of-two latency ranges with their counts, empty ranges left out.
    pub histogram: Vec<Bucket>,
}

/// The lines a report is about.
#[derive(Clone, Debug, Serialize)]
pub struct LinesDoc {
    /// The LINE argument.
    pub arg: String,
    /// The chip.
    pub chip: String,
    /// The offsets toggled at once.
    pub offsets: Vec<u32>,
    /// `gpiochip0 line 17`, for the text report.
    #[serde(skip)]
    pub described: String,
}

/// The run's length.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct PlanDoc {
    /// Warm-up seconds per backend.
    pub warmup_s: f64,
    /// Measured seconds per backend.
    pub duration_s: f64,
    /// Interleaved rounds.
    pub rounds: u32,
}

/// The whole report: the JSON document's shape.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// What the figures depend on.
    pub host: Facts,
    /// The lines.
    pub lines: LinesDoc,
    /// The run's length.
    pub plan: PlanDoc,
    /// A signal ended the run early: the figures cover what ran.
    pub interrupted: bool,
    /// Per backend, in run order.
    pub backends: Vec<BackendFigures>,
}

/// The percentiles of a latency histogram.
pub fn latency(h: &hdrhistogram::Histogram<u64>) -> Latency {
    Latency {
        min: h.min(),
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        mean: h.mean(),
    }
}

fn buckets(h: &hdrhistogram::Histogram<u64>) -> Vec<Bucket> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut from = 1u64 << (63 - h.min().max(1).leading_zeros());
    while from <= h.max() {
        let to = from.saturating_mul(2);
        let count = h.count_between(from, to - 1);
        if count > 0 {
            out.push(Bucket {
                from_ns: from,
                to_ns: to,
                count,
            });
        }
        if to == u64::MAX {
            break;
        }
        from = to;
    }
    out
}

fn figures(m: &Measured) -> BackendFigures {
    let mut f = BackendFigures {
        backend: m.kind.name(),
        floor: m.kind.floor().map(Kind::name),
        detail: m.detail.clone(),
        available: false,
        unavailable_reason: None,
        toggles: 0,
        seconds: 0.0,
        toggles_per_s: 0.0,
        square_wave_hz: 0.0,
        latency_ns: None,
        ratio_to_floor: None,
        histogram: Vec::new(),
    };
    match &m.outcome {
        Outcome::Unavailable(why) => f.unavailable_reason = Some(why.clone()),
        Outcome::Measured {
            latency: h,
            elapsed,
        } => {
            f.available = true;
            f.toggles = h.len();
            f.seconds = elapsed.as_secs_f64();
            if f.seconds > 0.0 {
                f.toggles_per_s = f.toggles as f64 / f.seconds;
                f.square_wave_hz = f.toggles_per_s / 2.0;
            }
            if !h.is_empty() {
                f.latency_ns = Some(latency(h));
                f.histogram = buckets(h);
            }
        }
    }
    f
}

impl Report {
    /// The report of a run.
    pub fn new(
        host: Facts,
        lines: &BenchLines,
        plan: &Plan,
        results: Vec<Measured>,
        interrupted: bool,
    ) -> Report {
        let mut backends: Vec<BackendFigures> = results.iter().map(figures).collect();
        let medians: Vec<(&'static str, u64)> = backends
            .iter()
            .filter_map(|b| Some((b.backend, b.latency_ns?.p50)))
            .collect();
        for b in &mut backends {
            let floor = b
                .floor
                .and_then(|f| medians.iter().find(|(n, _)| *n == f))
                .map(|(_, m)| *m);
            if let (Some(l), Some(floor)) = (b.latency_ns, floor) {
                b.ratio_to_floor = Some(l.p50 as f64 / floor.max(1) as f64);
            }
        }
        Report {
            schema: SCHEMA,
            host,
            lines: LinesDoc {
                arg: lines.arg.clone(),
                chip: lines.chip.clone(),
                offsets: lines.offsets.clone(),
                described: lines.describe(),
            },
            plan: PlanDoc {
                warmup_s: plan.warmup.as_secs_f64(),
                duration_s: plan.duration.as_secs_f64(),
                rounds: plan.rounds,
            },
            interrupted,
            backends,
        }
    }

    /// The report in `format`.
    pub fn render(&self, format: Format) -> Result<String, String> {
        match format {
            Format::Text => Ok(self.text()),
            Format::Json => serde_json::to_string_pretty(self)
                .map(|s| s + "\n")
                .map_err(|e| format!("writing the JSON report: {e}")),
            Format::Csv => self.csv(),
        }
    }

    fn text(&self) -> String {
        let h = &self.host;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "hwkit bench: {} ({}), {} s measured per backend in {} rounds after {} s of warm-up",
            self.lines.arg,
            self.lines.described,
            self.plan.duration_s,
            self.plan.rounds,
            self.plan.warmup_s
        );
        let _ = writeln!(s, "board:   {}", h.board);
        let _ = writeln!(
            s,
            "system:  kernel {} ({}), SoC {}, uAPI {} on chip '{}', hypervisor: {}",
            h.kernel,
            h.arch,
            h.soc.as_deref().unwrap_or("unknown (no device tree)"),
            h.uapi.as_deref().unwrap_or("unknown"),
            h.chip_label.as_deref().unwrap_or("?"),
            h.virtualization
        );
        let _ = writeln!(
            s,
            "cpu:     {}{}, governor {}, {}; real-time {}",
            h.cpu,
            if h.pinned_cpu.is_some() {
                " (pinned)"
            } else {
                ""
            },
            h.governor.as_deref().unwrap_or("none (no cpufreq)"),
            h.cpu_mhz
                .map(|m| format!("{m} MHz"))
                .unwrap_or_else(|| "frequency unknown".into()),
            if h.realtime {
                "SCHED_FIFO, memory locked"
            } else {
                "no (--rt)"
            }
        );
        if self.interrupted {
            s.push_str("interrupted: the figures cover the part of the run that happened\n");
        }
        let _ = writeln!(
            s,
            "\n{:<13} {:>11} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
            "backend", "toggles/s", "square wave", "p50", "p90", "p99", "p99.9", "max", "x floor"
        );
        for b in &self.backends {
            let Some(l) = b.latency_ns else {
                let why = b
                    .unavailable_reason
                    .as_deref()
                    .unwrap_or("no toggle measured");
                let _ = writeln!(s, "{:<13} unavailable: {why}", b.backend);
                continue;
            };
            let _ = writeln!(
                s,
                "{:<13} {:>11} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
                b.backend,
                format!("{:.0}", b.toggles_per_s),
                hertz(b.square_wave_hz),
                nanos(l.p50),
                nanos(l.p90),
                nanos(l.p99),
                nanos(l.p999),
                nanos(l.max),
                b.ratio_to_floor
                    .map(|r| format!("{r:.2}"))
                    .unwrap_or_else(|| "floor".into())
            );
        }
        for b in self.backends.iter().filter(|b| b.available) {
            if let Some(d) = &b.detail {
                let _ = writeln!(s, "  {}: {d}", b.backend);
            }
        }
        s.push_str(
            "\nLatency per toggle (each toggle timed with two clock reads, alike for every \
             backend):\n",
        );
        for b in self.backends.iter().filter(|b| !b.histogram.is_empty()) {
            let _ = writeln!(s, "{} ({} toggles)", b.backend, b.toggles);
            let most = b.histogram.iter().map(|k| k.count).max().unwrap_or(1);
            for k in &b.histogram {
                let width = ((k.count as f64 / most as f64) * 40.0).ceil() as usize;
                let _ = writeln!(
                    s,
                    "  {:>8} - {:<8} {:<40} {}",
                    nanos(k.from_ns),
                    nanos(k.to_ns),
                    "#".repeat(width.max(1)),
                    k.count
                );
            }
        }
        s
    }

    fn csv(&self) -> Result<String, String> {
        #[derive(Serialize)]
        struct Row<'a> {
            backend: &'a str,
            floor: Option<&'a str>,
            available: bool,
            toggles: u64,
            seconds: f64,
            toggles_per_s: f64,
            square_wave_hz: f64,
            min_ns: Option<u64>,
            p50_ns: Option<u64>,
            p90_ns: Option<u64>,
            p99_ns: Option<u64>,
            p999_ns: Option<u64>,
            max_ns: Option<u64>,
            mean_ns: Option<f64>,
            ratio_to_floor: Option<f64>,
            unavailable_reason: Option<&'a str>,
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        for b in &self.backends {
            let l = b.latency_ns;
            w.serialize(Row {
                backend: b.backend,
                floor: b.floor,
                available: b.available,
                toggles: b.toggles,
                seconds: b.seconds,
                toggles_per_s: b.toggles_per_s,
                square_wave_hz: b.square_wave_hz,
                min_ns: l.map(|l| l.min),
                p50_ns: l.map(|l| l.p50),
                p90_ns: l.map(|l| l.p90),
                p99_ns: l.map(|l| l.p99),
                p999_ns: l.map(|l| l.p999),
                max_ns: l.map(|l| l.max),
                mean_ns: l.map(|l| l.mean),
                ratio_to_floor: b.ratio_to_floor,
                unavailable_reason: b.unavailable_reason.as_deref(),
            })
            .map_err(|e| format!("writing the CSV report: {e}"))?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| format!("writing the CSV report: {e}"))?;
        String::from_utf8(bytes).map_err(|e| format!("writing the CSV report: {e}"))
    }
}

/// `850ns`, `1.19us`, `12.3ms`, `1.20s`.
pub fn nanos(ns: u64) -> String {
    let n = ns as f64;
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{:.2}us", n / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2}ms", n / 1e6)
    } else {
        format!("{:.2}s", n / 1e9)
    }
}

/// `406.2 kHz`, `1.21 MHz`, `12 Hz`.
fn hertz(hz: f64) -> String {
    if hz >= 1e6 {
        format!("{:.2} MHz", hz / 1e6)
    } else if hz >= 1e3 {
        format!("{:.1} kHz", hz / 1e3)
    } else {
        format!("{hz:.0} Hz")
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use hdrhistogram::Histogram;
    use std::time::Duration;

    fn facts() -> Facts {
        Facts {
            board: "generic (test)".into(),
            soc: None,
            kernel: "6.1.0-test".into(),
            arch: "x86_64",
            uapi: Some("v2".into()),
            chip_label: Some("sim".into()),
            cpu: 0,
            governor: None,
            cpu_mhz: None,
            virtualization: "none".into(),
            realtime: false,
            pinned_cpu: None,
        }
    }

    fn measured(kind: Kind, values: &[u64]) -> Measured {
        let mut h = Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for v in values {
            h.record(*v).unwrap();
        }
        Measured {
            kind,
            detail: None,
            outcome: Outcome::Measured {
                latency: Box::new(h),
                elapsed: Duration::from_millis(2),
            },
        }
    }

    /// A report of three backends, one unavailable (for the plot's tests too).
    pub(in crate::bench_cmd) fn report() -> Report {
        let lines = BenchLines {
            arg: "GPIO17".into(),
            chip: "gpiochip0".into(),
            dev_path: "/dev/gpiochip0".into(),
            offsets: vec![17],
        };
        let plan = Plan {
            warmup: Duration::from_millis(500),
            duration: Duration::from_secs(2),
            rounds: 5,
        };
        let results = vec![
            measured(Kind::FloorIoctl, &[1000, 1000, 1000, 3000]),
            Measured {
                detail: Some("bare GPIO_V2_LINE_SET_VALUES_IOCTL".into()),
                ..measured(Kind::V2, &[1100, 1100, 1100, 9000])
            },
            Measured {
                kind: Kind::V1,
                detail: None,
                outcome: Outcome::Unavailable("no uAPI v1 in this kernel".into()),
            },
        ];
        Report::new(facts(), &lines, &plan, results, false)
    }

    #[test]
    fn figures_are_per_backend_with_ratios_to_their_floor() {
        let r = report();
        let floor = &r.backends[0];
        assert_eq!(floor.toggles, 4);
        assert_eq!(floor.ratio_to_floor, None);
        assert!((floor.toggles_per_s - 2000.0).abs() < 1e-6);
        assert!((floor.square_wave_hz - 1000.0).abs() < 1e-6);
        let v2 = &r.backends[1];
        let l = v2.latency_ns.unwrap();
        assert_eq!(l.min, 1100);
        assert!((9000..9010).contains(&l.max), "{l:?}");
        assert!((1100..=1101).contains(&l.p50), "{l:?}");
        let ratio = v2.ratio_to_floor.unwrap();
        assert!((ratio - 1.1).abs() < 0.01, "{ratio}");
        let v1 = &r.backends[2];
        assert!(!v1.available);
        assert_eq!(
            v1.unavailable_reason.as_deref(),
            Some("no uAPI v1 in this kernel")
        );
    }

    #[test]
    fn histograms_are_power_of_two_ranges_without_empty_ones() {
        let r = report();
        let v2 = &r.backends[1];
        assert_eq!(
            v2.histogram,
            [
                Bucket {
                    from_ns: 1024,
                    to_ns: 2048,
                    count: 3
                },
                Bucket {
                    from_ns: 8192,
                    to_ns: 16384,
                    count: 1
                },
            ]
        );
    }

    #[test]
    fn json_parses_back_with_the_documented_fields() {
        let r = report();
        let doc: serde_json::Value =
            serde_json::from_str(&r.render(Format::Json).unwrap()).unwrap();
        assert_eq!(doc["schema"], SCHEMA);
        assert_eq!(doc["lines"]["offsets"][0], 17);
        assert_eq!(doc["backends"][1]["backend"], "v2");
        assert_eq!(doc["backends"][1]["floor"], "floor-ioctl");
        assert!(doc["backends"][1]["latency_ns"]["p999"].is_u64());
        assert_eq!(doc["backends"][2]["available"], false);
        assert_eq!(doc["host"]["kernel"], "6.1.0-test");
        assert_eq!(doc["plan"]["rounds"], 5);
    }

    #[test]
    fn csv_has_a_header_and_a_row_per_backend() {
        let text = report().render(Format::Csv).unwrap();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        let header = rows.headers().unwrap().clone();
        assert_eq!(&header[0], "backend");
        assert!(header.iter().any(|h| h == "p999_ns"));
        let records: Vec<_> = rows.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 3);
        assert_eq!(&records[2][0], "v1");
        assert_eq!(
            records[2].get(header.len() - 1),
            Some("no uAPI v1 in this kernel")
        );
    }

    #[test]
    fn text_has_the_header_the_table_and_the_histograms() {
        let text = report().render(Format::Text).unwrap();
        assert!(
            text.starts_with("hwkit bench: GPIO17 (gpiochip0 line 17), 2 s measured"),
            "{text}"
        );
        assert!(text.contains("kernel 6.1.0-test (x86_64)"), "{text}");
        assert!(
            text.contains("v1            unavailable: no uAPI v1 in this kernel"),
            "{text}"
        );
        assert!(text.contains("floor-ioctl"), "{text}");
        assert!(text.contains("1.10"), "{text}");
        assert!(text.contains("v2 (4 toggles)"), "{text}");
        assert!(
            text.contains("  v2: bare GPIO_V2_LINE_SET_VALUES_IOCTL\n"),
            "{text}"
        );
    }

    #[test]
    fn units_read_naturally() {
        assert_eq!(nanos(850), "850ns");
        assert_eq!(nanos(1190), "1.19us");
        assert_eq!(nanos(12_300_000), "12.30ms");
        assert_eq!(nanos(1_200_000_000), "1.20s");
        assert_eq!(hertz(406_200.0), "406.2 kHz");
        assert_eq!(hertz(1_210_000.0), "1.21 MHz");
        assert_eq!(hertz(12.0), "12 Hz");
    }
}
