//! `hwkit bench`: how fast one line (or a few) toggles through every GPIO backend this machine
//! has, each measured against the cheapest system call under it, in one run.
//!
//! Every backend holds the line in turn, in [`ROUNDS`] interleaved slices so that a machine that
//! slows down part-way through slows every backend alike. Each toggle is timed on its own
//! (two `clock_gettime` calls through the vDSO, the same cost for every backend) into a
//! preallocated histogram, so the loop allocates nothing.
//!
//! The line is checked free before anything is touched, and left as it was found: released,
//! with the direction and (for an output) the level it had. Ctrl-C, SIGTERM and SIGHUP stop
//! the run between two toggles; what was measured so far is still reported.

mod backends;
mod floor;
mod host;
mod line_state;
mod loopback;
mod measure;
mod plot;
mod report;
mod rt;
mod stop;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::gpio_cmd::lines::{LineResolver, Lookup};
use crate::CmdResult;
use backends::{BackendList, BenchLines};
use report::{Format, Report};

/// How many interleaved slices each backend's measuring time is cut into.
pub const ROUNDS: u32 = 5;

/// The longest `--duration` or `--warmup` taken, in seconds (a day: a typo, not a benchmark).
const MAX_SECONDS: f64 = 86_400.0;

/// The most lines `--lines` toggles at once (uAPI v2's limit per request).
const MAX_LINES: u32 = 64;

/// Arguments of `hwkit bench`.
#[derive(Args)]
#[command(after_help = "Examples:
  hwkit bench GPIO17
  hwkit bench --backend v2,sysfs --duration 5 pin11
  hwkit bench --chip gpiochip0 --lines 4 --json 17
  hwkit bench --rt --cpu 3 --plot toggles.svg GPIO17
  hwkit bench --loopback pin11,pin13")]
pub struct BenchArgs {
    /// The line to toggle: a header pin (pin11), a GPIO number (GPIO17, BCM17), a line name or
    /// chip:offset; with --chip, an offset or a line name of that chip.
    #[arg(value_name = "LINE", required_unless_present = "loopback")]
    line: Option<String>,

    /// Edge latency over a jumper wire from OUT to IN (two LINEs): set OUT, time the edge on
    /// IN (on gpio-sim, hwkit simulates the wire and says so).
    #[arg(long, value_name = "OUT,IN", conflicts_with_all = ["line", "lines", "backend", "plot"])]
    loopback: Option<String>,

    /// The chip (path, name, number or label); LINE is then its offset or line name.
    #[arg(long, short)]
    chip: Option<String>,

    /// Board profile for header pin names (default: detected).
    #[arg(long, value_name = "NAME")]
    board: Option<String>,

    /// The backends to measure, comma-separated, or `all` (every one this machine has): v2, v1,
    /// libgpiod, register, sysfs, sysfs-ffi, sysfs-naive. Each one's floor is measured with it.
    #[arg(long, value_name = "LIST", default_value = "all")]
    backend: BackendList,

    /// Seconds of measured toggling per backend.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    duration: f64,

    /// Seconds of unmeasured toggling before each backend's measuring.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.5)]
    warmup: f64,

    /// Toggle this many lines at once: LINE and the lines after it on its chip.
    #[arg(long, value_name = "N", default_value_t = 1)]
    lines: u32,

    /// Real-time: SCHED_FIFO, memory locked (mlockall); needs root or CAP_SYS_NICE and
    /// CAP_IPC_LOCK.
    #[arg(long)]
    rt: bool,

    /// Run on this CPU only.
    #[arg(long, value_name = "N")]
    cpu: Option<usize>,

    /// Print the report as one JSON document (fields in cli/README.md).
    #[arg(long, conflicts_with = "csv")]
    json: bool,

    /// Print one CSV row per backend, with a header row.
    #[arg(long)]
    csv: bool,

    /// Also draw the latency distributions, side by side, into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,

    /// Consumer label the lines are requested with.
    #[arg(long, default_value = "hwkit-bench")]
    consumer: String,
}

impl BenchArgs {
    fn format(&self) -> Format {
        match (self.json, self.csv) {
            (true, _) => Format::Json,
            (_, true) => Format::Csv,
            _ => Format::Text,
        }
    }
}

/// Checks a number of seconds from the command line.
fn seconds(what: &str, value: f64, may_be_zero: bool) -> Result<Duration, String> {
    let ok =
        value.is_finite() && value <= MAX_SECONDS && (value > 0.0 || may_be_zero && value == 0.0);
    if !ok {
        return Err(format!(
            "{what} {value} is not a usable number of seconds: give a number {} {MAX_SECONDS}",
            if may_be_zero {
                "from 0 to"
            } else {
                "above 0, up to"
            }
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

/// The LINE arguments: LINE, or OUT and IN of `--loopback`.
fn line_args(args: &BenchArgs) -> Result<Vec<&str>, String> {
    match (&args.loopback, &args.line) {
        (Some(pair), _) => match pair.split(',').map(str::trim).collect::<Vec<_>>()[..] {
            [out, input] if !out.is_empty() && !input.is_empty() => Ok(vec![out, input]),
            _ => Err(format!(
                "--loopback '{pair}' is not OUT,IN: give two lines separated by a comma, the \
                 output first (e.g. pin11,pin13)"
            )),
        },
        (None, Some(line)) => Ok(vec![line.as_str()]),
        (None, None) => Err("give a LINE to toggle, or --loopback OUT,IN".into()),
    }
}

/// Everything `run` checks before it touches a line, against the system under `root`.
pub(crate) fn check(args: &BenchArgs, root: &Path) -> Result<(), Box<dyn std::error::Error>> {
    check_numbers(args)?;
    let lines = line_args(args)?;
    if args.chip.is_none() {
        let owned: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        LineResolver::Board(
            crate::gpio_cmd::lines::BoardLines::load(root, args.board.as_deref())?,
            Lookup::default(),
        )
        .resolve_all(&owned)?;
    }
    if let Some(p) = &args.plot {
        plot::check_path(p)?;
    }
    Ok(())
}

fn check_numbers(args: &BenchArgs) -> Result<(), String> {
    seconds("--duration", args.duration, false)?;
    seconds("--warmup", args.warmup, true)?;
    if !(1..=MAX_LINES).contains(&args.lines) {
        return Err(format!(
            "--lines {} is out of range: give 1 to {MAX_LINES} (the lines toggled at once)",
            args.lines
        ));
    }
    Ok(())
}

/// Runs `hwkit bench`.
pub fn run(args: BenchArgs) -> CmdResult {
    check_numbers(&args)?;
    let duration = seconds("--duration", args.duration, false)?;
    let warmup = seconds("--warmup", args.warmup, true)?;
    if let Some(p) = &args.plot {
        plot::check_path(p)?;
    }
    // Before any thread exists, so that every thread inherits the blocked signals.
    let stop = stop::StopOnSignal::install()?;
    // Before any line is touched: a refusal leaves nothing to undo.
    let tuning = rt::apply(args.rt, args.cpu)?;
    let resolver = LineResolver::new(
        args.chip.as_deref(),
        args.board.as_deref(),
        Path::new("/"),
        None,
        Lookup::default(),
    )?;
    let names: Vec<String> = line_args(&args)?.iter().map(|l| l.to_string()).collect();
    let targets = resolver.resolve_all(&names)?;
    if args.loopback.is_some() {
        return run_loopback(&args, &targets, warmup, duration, &stop, &tuning);
    }
    let lines = BenchLines::new(&targets[0], args.lines)?;
    // Refuses lines someone holds, and restores the rest when dropped, errors included.
    let guard = line_state::LineGuard::take(&lines, &args.consumer)?;
    let facts = host::Facts::gather(&lines, &tuning, args.board.as_deref());
    let plan = measure::Plan {
        warmup,
        duration,
        rounds: ROUNDS,
    };
    let results = measure::run_all(&args.backend, &lines, &args.consumer, &plan, stop.flag())?;
    let restored = guard.restore();
    let report = Report::new(facts, &lines, &plan, results, stop.stopped());
    print!("{}", report.render(args.format())?);
    if let Some(p) = &args.plot {
        plot::draw(&report, p)?;
        if args.format() == Format::Text {
            println!("plot: {}", p.display());
        }
    }
    restored?;
    Ok(exit_code(&stop))
}

/// 130 (as a shell reports SIGINT) when a signal ended the run.
fn exit_code(stop: &stop::StopOnSignal) -> ExitCode {
    if stop.stopped() {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    }
}

/// `--loopback OUT,IN`.
fn run_loopback(
    args: &BenchArgs,
    targets: &[crate::gpio_cmd::lines::Target],
    warmup: Duration,
    duration: Duration,
    stop: &stop::StopOnSignal,
    tuning: &rt::Tuning,
) -> CmdResult {
    let out = BenchLines::new(&targets[0], 1)?;
    let input = BenchLines::new(&targets[1], 1)?;
    let out_guard = line_state::LineGuard::take(&out, &args.consumer)?;
    let in_guard = line_state::LineGuard::take(&input, &args.consumer)?;
    let facts = host::Facts::gather(&out, tuning, args.board.as_deref());
    let report = loopback::run(
        &out,
        &input,
        &args.consumer,
        warmup,
        duration,
        stop.flag(),
        facts,
    );
    let restored = out_guard.restore().and(in_guard.restore());
    let report = report?;
    let text = match args.format() {
        Format::Text => report.text(),
        Format::Json => serde_json::to_string_pretty(&report)
            .map(|s| s + "\n")
            .map_err(|e| format!("writing the JSON report: {e}"))?,
        Format::Csv => report.csv()?,
    };
    print!("{text}");
    restored?;
    Ok(exit_code(stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(argv: &[&str]) -> BenchArgs {
        use clap::Parser;
        match crate::Cli::try_parse_from(argv).unwrap().command {
            crate::Command::Bench(a) => a,
            _ => unreachable!("not hwkit bench: {argv:?}"),
        }
    }

    #[test]
    fn loopback_takes_two_lines_output_first() {
        let a = parsed(&["hwkit", "bench", "--loopback", "pin11, pin13"]);
        assert_eq!(line_args(&a).unwrap(), ["pin11", "pin13"]);
        for bad in ["pin11", "pin11,", ",pin13", "pin11,pin13,pin15"] {
            let a = parsed(&["hwkit", "bench", "--loopback", bad]);
            let e = line_args(&a).unwrap_err();
            assert!(
                e.contains(&format!("--loopback '{bad}' is not OUT,IN")),
                "{e}"
            );
        }
        let a = parsed(&["hwkit", "bench", "GPIO17"]);
        assert_eq!(line_args(&a).unwrap(), ["GPIO17"]);
        // A LINE and --loopback together, or neither, is clap's refusal.
        use clap::Parser;
        assert!(crate::Cli::try_parse_from(["hwkit", "bench", "--loopback", "a,b", "c"]).is_err());
        assert!(crate::Cli::try_parse_from(["hwkit", "bench"]).is_err());
    }

    #[test]
    fn seconds_refuse_what_is_not_a_duration() {
        assert_eq!(
            seconds("--duration", 1.5, false).unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(seconds("--warmup", 0.0, true).unwrap(), Duration::ZERO);
        let e = seconds("--duration", 0.0, false).unwrap_err();
        assert!(
            e.contains("--duration 0 is not a usable number of seconds"),
            "{e}"
        );
        assert!(e.contains("above 0"), "{e}");
        for bad in [f64::NAN, f64::INFINITY, -1.0, 1e9] {
            let e = seconds("--warmup", bad, true).unwrap_err();
            assert!(e.contains("from 0 to 86400"), "{e}");
        }
    }
}
