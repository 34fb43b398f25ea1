//! `hwkit gpio mon`: print edge events as they happen, as `gpiomon` does: its options, its
//! default line (`<sec.nsec>\trising\t"GPIO22"`) and its `-F` formats; `--json` prints one
//! JSON object per event instead, flushed as it comes.

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use clap::Args;
use hw::{Chip, Edge, EdgeKind, EventClock, Value};
use serde::{Deserialize, Serialize};

use super::lines::{group_by_chip, Target};
use super::output::{quoted, values_line};
use super::period::parse_period;
use super::request::{group_builder, send, LineOpts};
use super::watch::{self, WatchOpts};
use super::Ctx;
use crate::CmdResult;

/// Arguments of `hwkit gpio mon`.
#[derive(Args)]
pub(super) struct MonArgs {
    #[command(flatten)]
    pub opts: LineOpts,
    /// Edges to report: rising, falling or both.
    #[arg(
        long = "edges",
        short,
        alias = "edge",
        default_value = "both",
        value_name = "EDGES"
    )]
    pub edge: Edge,
    /// The clock of event timestamps: monotonic, realtime or hte (default: monotonic, or
    /// realtime with --utc or --localtime).
    #[arg(long, short = 'E', value_name = "CLOCK")]
    pub event_clock: Option<EventClock>,
    /// Debounce the lines with this period (PERIOD: a whole number with unit us, ms, s or m;
    /// a bare number is milliseconds).
    #[arg(
        long,
        short = 'p',
        value_name = "PERIOD",
        conflicts_with = "debounce_us"
    )]
    pub debounce_period: Option<String>,
    /// hwkit: the debounce period in microseconds.
    #[arg(long, value_name = "US")]
    pub debounce_us: Option<u64>,
    /// Print each event in this format: %o offset, %l line name, %c chip, %e edge as 1
    /// (rising) or 2 (falling), %E edge as rising or falling, %S timestamp in seconds, %U as
    /// UTC, %L as local time, %% a percent sign.
    #[arg(long, short = 'F', value_name = "FMT")]
    pub format: Option<String>,
    #[command(flatten)]
    pub watch: WatchOpts,
    /// Print the lines' values once they are requested, as get prints them.
    #[arg(long, short = 'I')]
    pub initial_state: bool,
    /// With --initial-state: 1 and 0 instead of "LINE"=value.
    #[arg(long, short = 'N')]
    pub numeric: bool,
    /// Print line names without quotes.
    #[arg(long)]
    pub unquoted: bool,
    /// Print "Monitoring line 'LINE'..." once the lines are requested.
    #[arg(long)]
    pub banner: bool,
    /// Print one JSON object per event: {"timestamp_ns","chip","offset","name","edge",
    /// "seqno","line_seqno"}.
    #[arg(long, conflicts_with_all = ["format", "quiet"])]
    pub json: bool,
    /// The lines: line names; with --chip, offsets and names of that chip; or hwkit's board
    /// forms: header pins (pin11, J8:11), GPIO numbers (GPIO17, BCM17), chip:offset.
    #[arg(required = true, value_name = "LINE")]
    pub lines: Vec<String>,
}

/// How timestamps are written: gpiomon's raw seconds, UTC or local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TimeFormat {
    /// `sec.nsec`.
    Seconds,
    /// `2026-11-30T20:00:00.123456789Z`.
    Utc,
    /// `2026-11-30T21:00:00.123456789`.
    Local,
}

/// One event in `--json` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventJson {
    /// Nanoseconds of the event clock.
    pub timestamp_ns: u64,
    /// The chip's kernel name.
    pub chip: String,
    /// Offset on the chip.
    pub offset: u32,
    /// The line's name, `null` if unnamed.
    pub name: Option<String>,
    /// `rising` or `falling`.
    pub edge: String,
    /// Position among the events of the chip's request, from 1.
    pub seqno: u32,
    /// Position among the events of the line, from 1.
    pub line_seqno: u32,
}

/// What the options say, checked: `(debounce, idle timeout, total timeout)`.
type MonLimits = (Option<Duration>, Option<Duration>, Option<Duration>);

/// Checks the options that need more than clap: periods, `--edges none`.
pub(super) fn limits(a: &MonArgs) -> Result<MonLimits, String> {
    if a.edge == Edge::None {
        return Err("--edges none would report nothing: use rising, falling or both".into());
    }
    let debounce = match (&a.debounce_period, a.debounce_us) {
        (Some(p), _) => Some(parse_period(p)?),
        (None, Some(us)) => Some(Duration::from_micros(us)),
        (None, None) => None,
    };
    if let Some(d) = debounce.filter(|d| d.as_micros() > u128::from(u32::MAX)) {
        return Err(format!(
            "debounce period {}us is too long: the kernel takes at most {}us",
            d.as_micros(),
            u32::MAX
        ));
    }
    let (idle, timeout) = a.watch.limits()?;
    Ok((debounce, idle, timeout))
}

/// A line being watched: its chip's name, its name, how the user named it.
struct Watched {
    chip: String,
    name: String,
}

/// Runs `hwkit gpio mon`.
pub(super) fn run(a: MonArgs, ctx: &Ctx) -> CmdResult {
    let (debounce, idle, timeout) = limits(&a)?;
    // As gpiomon: --utc or --localtime alone means the realtime clock; the realtime clock
    // alone is printed as UTC.
    let clock = a
        .event_clock
        .unwrap_or(if a.watch.utc || a.watch.localtime {
            EventClock::Realtime
        } else {
            EventClock::Monotonic
        });
    let time_format = if a.watch.localtime {
        TimeFormat::Local
    } else if a.watch.utc || clock == EventClock::Realtime {
        TimeFormat::Utc
    } else {
        TimeFormat::Seconds
    };
    let targets = ctx
        .resolver(a.opts.chip.as_deref(), a.opts.lookup)?
        .resolve_all(&a.lines)?;
    let mut values = vec![Value::Inactive; targets.len()];
    let mut initial = Vec::new();
    // All requested before any is watched: a busy line fails the command with nothing printed.
    let mut watched = Vec::new();
    for g in group_by_chip(&targets) {
        let chip = Chip::open_with(g.dev_path, ctx.uapi)?;
        let mut lines = Vec::new();
        for (_, t) in &g.targets {
            lines.push((
                t.offset,
                Watched {
                    chip: t.chip.clone(),
                    name: chip.line_info(t.offset)?.name,
                },
            ));
        }
        let mut b = group_builder(&a.opts, ctx.uapi, &g, false)
            .with_lines(&g.offsets())
            .with_edge_detection(a.edge);
        if clock != EventClock::Monotonic {
            b = b.with_event_clock(clock);
        }
        if let Some(d) = debounce {
            b = b.with_debounce(d);
        }
        let req = send(b, false, ctx)?;
        if a.initial_state {
            for ((i, _), v) in g.targets.iter().zip(req.values()?) {
                values[*i] = v;
            }
            // gpiomon prints every line's value after each chip's request.
            initial.push(initial_line(&targets, &values, a.unquoted, a.numeric));
        }
        watched.push((req, lines));
    }
    let mut out = std::io::stdout().lock();
    let write_err = |e: std::io::Error| format!("writing to stdout: {e}");
    if !a.watch.quiet {
        for l in &initial {
            writeln!(out, "{l}").map_err(write_err)?;
        }
        if a.banner {
            writeln!(out, "{}", banner("Monitoring", &a.lines)).map_err(write_err)?;
        }
        out.flush().map_err(write_err)?;
    }
    // Each chip's lines are one request with its own event queue: a reader thread per request
    // feeds this thread, which prints, counts and keeps the deadlines.
    type Item = hw::Result<(hw::EdgeEvent, usize)>;
    let (tx, rx) = mpsc::channel::<Item>();
    let mut lines_of: Vec<Vec<(u32, Watched)>> = Vec::new();
    for (i, (mut req, lines)) in watched.into_iter().enumerate() {
        lines_of.push(lines);
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = vec![hw::EdgeEvent::default(); 32];
            loop {
                let n = match req.read_edge_events(&mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                for e in &buf[..n] {
                    if tx.send(Ok((*e, i))).is_err() {
                        return;
                    }
                }
            }
        });
    }
    drop(tx);
    let deadline = watch::deadline(timeout);
    let mut seen = 0u64;
    while a.watch.num_events.is_none_or(|n| seen < n) {
        let Some(next) = watch::next(&rx, deadline, idle) else {
            break;
        };
        let (e, chip) = next?;
        let line = lines_of[chip]
            .iter()
            .find(|(o, _)| *o == e.offset)
            .map(|(_, w)| w);
        let (chip_name, name) = line.map_or(("", ""), |w| (w.chip.as_str(), w.name.as_str()));
        let text = if a.json {
            serde_json::to_string(&EventJson {
                timestamp_ns: e.timestamp_ns,
                chip: chip_name.to_owned(),
                offset: e.offset,
                name: (!name.is_empty()).then(|| name.to_owned()),
                edge: edge_name(e.kind).to_owned(),
                seqno: e.seqno,
                line_seqno: e.line_seqno,
            })
            .map_err(|e| format!("writing JSON: {e}"))?
        } else if let Some(f) = &a.format {
            formatted(f, &e, chip_name, name)
        } else {
            format!(
                "{}\t{}\t{}",
                timestamp(e.timestamp_ns, time_format),
                edge_name(e.kind),
                line_id(chip_name, e.offset, name, a.opts.chip.is_some(), a.unquoted)
            )
        };
        if !a.watch.quiet {
            writeln!(out, "{text}").map_err(write_err)?;
            out.flush().map_err(write_err)?;
        }
        seen += 1;
    }
    Ok(ExitCode::SUCCESS)
}

fn edge_name(k: EdgeKind) -> &'static str {
    match k {
        EdgeKind::Rising => "rising",
        _ => "falling",
    }
}

/// `--initial-state`'s line, as gpioget prints values (lines not read yet are inactive).
fn initial_line(targets: &[Target], values: &[Value], unquoted: bool, numeric: bool) -> String {
    let ids = targets.iter().map(|t| t.arg.as_str());
    values_line(ids.zip(values.iter().copied()), unquoted, numeric)
}

/// A `--banner` line as libgpiod's tools print it: `Monitoring line 'A'...`,
/// `Monitoring lines 'A', and 'B'...` (`verb`: `Monitoring`, `Watching`).
pub(super) fn banner(verb: &str, ids: &[String]) -> String {
    match ids {
        [one] => format!("{verb} line '{one}'..."),
        [first @ .., last] => {
            let list: String = first.iter().map(|i| format!("'{i}', ")).collect();
            format!("{verb} lines {list}and '{last}'...")
        }
        [] => String::new(),
    }
}

/// The line as gpiomon names it: its name (quoted unless `unquoted`), after the chip and
/// offset if a chip was named; chip and offset alone if unnamed.
pub(super) fn line_id(
    chip: &str,
    offset: u32,
    name: &str,
    chip_named: bool,
    unquoted: bool,
) -> String {
    if name.is_empty() {
        format!("{chip} {offset}")
    } else if chip_named {
        format!("{chip} {offset} {}", quoted(name, unquoted))
    } else {
        quoted(name, unquoted)
    }
}

/// An event written in a `-F` format, as gpiomon writes it: an unknown `%x` is kept as it
/// is, a `%` at the end printed.
fn formatted(fmt: &str, e: &hw::EdgeEvent, chip: &str, name: &str) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => {
                out.push('%');
                break;
            }
            Some('c') => out.push_str(chip),
            Some('e') => out.push_str(if e.kind == EdgeKind::Rising { "1" } else { "2" }),
            Some('E') => out.push_str(edge_name(e.kind)),
            Some('l') => out.push_str(if name.is_empty() { "unnamed" } else { name }),
            Some('o') => out.push_str(&e.offset.to_string()),
            Some('S') => out.push_str(&timestamp(e.timestamp_ns, TimeFormat::Seconds)),
            Some('U') => out.push_str(&timestamp(e.timestamp_ns, TimeFormat::Utc)),
            Some('L') => out.push_str(&timestamp(e.timestamp_ns, TimeFormat::Local)),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
        }
    }
    out
}

/// A timestamp as gpiomon prints it: `sec.nsec`, or `YYYY-MM-DDTHH:MM:SS.nsec` in UTC (with
/// a `Z`) or local time.
pub(super) fn timestamp(ns: u64, f: TimeFormat) -> String {
    let (secs, nsec) = (ns / 1_000_000_000, ns % 1_000_000_000);
    let t = match f {
        TimeFormat::Seconds => return format!("{secs}.{nsec:09}"),
        TimeFormat::Utc => broken_down(secs, false),
        TimeFormat::Local => broken_down(secs, true),
    };
    let Some(t) = t else {
        return format!("{secs}.{nsec:09}");
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{nsec:09}{}",
        i64::from(t.tm_year) + 1900,
        t.tm_mon + 1,
        t.tm_mday,
        t.tm_hour,
        t.tm_min,
        t.tm_sec,
        if f == TimeFormat::Utc { "Z" } else { "" }
    )
}

/// The calendar time of `secs` since the epoch, in UTC or the local time zone.
fn broken_down(secs: u64, local: bool) -> Option<libc::tm> {
    let t = libc::time_t::try_from(secs).ok()?;
    // SAFETY: `tm` is plain old data, for which all zeroes is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; the re-entrant variants write only `tm`.
    let r = unsafe {
        if local {
            libc::localtime_r(&t, &mut tm)
        } else {
            libc::gmtime_r(&t, &mut tm)
        }
    };
    (!r.is_null()).then_some(tm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EdgeKind) -> hw::EdgeEvent {
        hw::EdgeEvent {
            timestamp_ns: 1_700_000_000_123_456_789,
            offset: 22,
            kind,
            seqno: 1,
            line_seqno: 1,
        }
    }

    #[test]
    fn default_lines_are_gpiomons() {
        assert_eq!(
            timestamp(12_000_000_345, TimeFormat::Seconds),
            "12.000000345"
        );
        assert_eq!(
            timestamp(1_700_000_000_123_456_789, TimeFormat::Utc),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(
            line_id("gpiochip0", 22, "GPIO22", false, false),
            "\"GPIO22\""
        );
        assert_eq!(
            line_id("gpiochip0", 22, "GPIO22", true, true),
            "gpiochip0 22 GPIO22"
        );
        assert_eq!(line_id("gpiochip0", 3, "", false, false), "gpiochip0 3");
        assert_eq!(
            banner("Monitoring", &["A".into()]),
            "Monitoring line 'A'..."
        );
        assert_eq!(
            banner("Monitoring", &["A".into(), "B".into()]),
            "Monitoring lines 'A', and 'B'..."
        );
    }

    #[test]
    fn formats_are_gpiomons() {
        let e = event(EdgeKind::Falling);
        assert_eq!(
            formatted("%c %o %l %e %E %% %x 100%", &e, "gpiochip0", "GPIO22"),
            "gpiochip0 22 GPIO22 2 falling % %x 100%"
        );
        assert_eq!(formatted("%l", &e, "gpiochip0", ""), "unnamed");
        assert_eq!(
            formatted("%S|%U", &event(EdgeKind::Rising), "", ""),
            "1700000000.123456789|2023-11-14T22:13:20.123456789Z"
        );
    }
}
