//! `hwkit gpio notify`: print changes to lines' info (requested, released, reconfigured) as
//! they happen, without requesting the lines, as `gpionotify` does: its options, its default
//! line (`<sec.nsec>\trequested\t"GPIO22"`) and its `-F` formats; `--json` prints one JSON
//! object per event instead, flushed as it comes.

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc;

use clap::{Args, ValueEnum};
use hw::{Chip, InfoChangeEvent, InfoChangeKind};
use serde::{Deserialize, Serialize};

use super::lines::{group_by_chip, Lookup};
use super::mon::{banner, line_id, timestamp, TimeFormat};
use super::output::{attributes, LineJson};
use super::watch::{self, WatchOpts};
use super::Ctx;
use crate::CmdResult;

/// Which changes to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum EventKind {
    /// A process or the kernel requested the line.
    Requested,
    /// It was released.
    Released,
    /// Its request was reconfigured.
    Reconfigured,
}

impl EventKind {
    fn kind(self) -> InfoChangeKind {
        match self {
            EventKind::Requested => InfoChangeKind::Requested,
            EventKind::Released => InfoChangeKind::Released,
            EventKind::Reconfigured => InfoChangeKind::Reconfigured,
        }
    }
}

/// Arguments of `hwkit gpio notify`.
#[derive(Args)]
pub(super) struct NotifyArgs {
    /// Restrict the lines to this chip (`0`, `gpiochip0`, `/dev/gpiochip0` or a label): LINEs
    /// are then its offsets and line names.
    #[arg(long, short, value_name = "CHIP")]
    pub chip: Option<String>,
    #[command(flatten)]
    pub lookup: Lookup,
    /// Report only this kind of change (default: all).
    #[arg(long, short, value_name = "EVENT")]
    pub event: Option<EventKind>,
    /// Print each change in this format: %o offset, %l line name, %c chip, %e change as 1
    /// (requested), 2 (released) or 3 (reconfigured), %E change as a word, %a the line's
    /// attributes, %C its consumer, %S timestamp in seconds, %U as UTC, %L as local time,
    /// %% a percent sign.
    #[arg(long, short = 'F', value_name = "FMT")]
    pub format: Option<String>,
    #[command(flatten)]
    pub watch: WatchOpts,
    /// Print line and consumer names without quotes.
    #[arg(long)]
    pub unquoted: bool,
    /// Print "Watching line 'LINE'..." once the lines are watched.
    #[arg(long)]
    pub banner: bool,
    /// Print one JSON object per change: {"timestamp_ns","event","line":{...}} with the
    /// line's info as `info --json` prints it.
    #[arg(long, conflicts_with_all = ["format", "quiet"])]
    pub json: bool,
    /// The lines: line names; with --chip, offsets and names of that chip; or hwkit's board
    /// forms: header pins (pin11, J8:11), GPIO numbers (GPIO17, BCM17), chip:offset.
    #[arg(required = true, value_name = "LINE")]
    pub lines: Vec<String>,
}

/// One change in `--json` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyJson {
    /// `CLOCK_MONOTONIC` time of the change, in nanoseconds.
    pub timestamp_ns: u64,
    /// `requested`, `released` or `reconfigured`.
    pub event: String,
    /// The line's info just after the change.
    pub line: LineJson,
}

/// Checks the periods: `(idle timeout, total timeout)`.
pub(super) fn limits(
    a: &NotifyArgs,
) -> Result<(Option<std::time::Duration>, Option<std::time::Duration>), String> {
    a.watch.limits()
}

fn kind_name(k: InfoChangeKind) -> &'static str {
    match k {
        InfoChangeKind::Requested => "requested",
        InfoChangeKind::Released => "released",
        InfoChangeKind::Reconfigured => "reconfigured",
    }
}

fn kind_number(k: InfoChangeKind) -> u8 {
    match k {
        InfoChangeKind::Requested => 1,
        InfoChangeKind::Released => 2,
        InfoChangeKind::Reconfigured => 3,
    }
}

/// Runs `hwkit gpio notify`.
pub(super) fn run(a: NotifyArgs, ctx: &Ctx) -> CmdResult {
    let (idle, timeout) = limits(&a)?;
    let lookup = a.lookup;
    let targets = ctx
        .resolver(a.chip.as_deref(), lookup)?
        .resolve_all(&a.lines)?;
    // Every line watched before anything is printed: a bad line fails with nothing printed.
    let mut chips = Vec::new();
    for g in group_by_chip(&targets) {
        let chip = Chip::open_with(g.dev_path, ctx.uapi)?;
        for o in g.offsets() {
            chip.watch_line_info(o)?;
        }
        chips.push((chip, g.chip.to_owned()));
    }
    let mut out = std::io::stdout().lock();
    let write_err = |e: std::io::Error| format!("writing to stdout: {e}");
    if a.banner && !a.watch.quiet {
        writeln!(out, "{}", banner("Watching", &a.lines)).map_err(write_err)?;
        out.flush().map_err(write_err)?;
    }
    let (tx, rx) = mpsc::channel::<hw::Result<(InfoChangeEvent, String)>>();
    for (chip, name) in chips {
        let tx = tx.clone();
        std::thread::spawn(move || loop {
            let e = chip.read_info_event().map(|e| (e, name.clone()));
            let stop = e.is_err();
            if tx.send(e).is_err() || stop {
                return;
            }
        });
    }
    drop(tx);
    let time_format = if a.watch.localtime {
        TimeFormat::Local
    } else if a.watch.utc {
        TimeFormat::Utc
    } else {
        TimeFormat::Seconds
    };
    let deadline = watch::deadline(timeout);
    let mut seen = 0u64;
    while a.watch.num_events.is_none_or(|n| seen < n) {
        let Some(next) = watch::next(&rx, deadline, idle) else {
            break;
        };
        let (e, chip) = next?;
        if a.event.is_some_and(|k| k.kind() != e.kind) {
            continue;
        }
        seen += 1;
        if a.watch.quiet {
            continue;
        }
        let text = if a.json {
            serde_json::to_string(&NotifyJson {
                timestamp_ns: e.timestamp_ns,
                event: kind_name(e.kind).to_owned(),
                line: LineJson::new(&chip, &e.info),
            })
            .map_err(|e| format!("writing JSON: {e}"))?
        } else if let Some(f) = &a.format {
            formatted(f, &e, &chip, a.unquoted)
        } else {
            let ts = match time_format {
                TimeFormat::Seconds => e.timestamp_ns,
                _ => monotonic_to_realtime(e.timestamp_ns),
            };
            format!(
                "{}\t{}\t{}",
                timestamp(ts, time_format),
                kind_name(e.kind),
                line_id(
                    &chip,
                    e.info.offset,
                    &e.info.name,
                    a.chip.is_some(),
                    a.unquoted
                )
            )
        };
        writeln!(out, "{text}").map_err(write_err)?;
        out.flush().map_err(write_err)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A change written in a `-F` format, as gpionotify writes it.
fn formatted(fmt: &str, e: &InfoChangeEvent, chip: &str, unquoted: bool) -> String {
    let l = &e.info;
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
            Some('a') => out.push_str(&attributes(l, unquoted)),
            Some('c') => out.push_str(chip),
            Some('C') => out.push_str(match (l.used, l.consumer.as_str()) {
                (false, _) => "unused",
                (true, "") => "kernel",
                (true, c) => c,
            }),
            Some('e') => out.push_str(&kind_number(e.kind).to_string()),
            Some('E') => out.push_str(kind_name(e.kind)),
            Some('l') => out.push_str(if l.name.is_empty() {
                "unnamed"
            } else {
                &l.name
            }),
            Some('o') => out.push_str(&l.offset.to_string()),
            Some('S') => out.push_str(&timestamp(e.timestamp_ns, TimeFormat::Seconds)),
            Some('U') => out.push_str(&timestamp(
                monotonic_to_realtime(e.timestamp_ns),
                TimeFormat::Utc,
            )),
            Some('L') => out.push_str(&timestamp(
                monotonic_to_realtime(e.timestamp_ns),
                TimeFormat::Local,
            )),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
        }
    }
    out
}

/// `CLOCK_MONOTONIC` nanoseconds as `CLOCK_REALTIME` ones: the kernel stamps info changes
/// with the monotonic clock only, so gpionotify maps them by the offset between the clocks,
/// read around one monotonic reading.
fn monotonic_to_realtime(ns: u64) -> u64 {
    let now = |clock| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec for the call to fill; both clocks always exist.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        (ts.tv_sec as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(ts.tv_nsec as u64)
    };
    let before = now(libc::CLOCK_REALTIME);
    let mono = now(libc::CLOCK_MONOTONIC);
    let after = now(libc::CLOCK_REALTIME);
    ns.wrapping_add(after / 2)
        .wrapping_sub(mono)
        .wrapping_add(before / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hw::{Bias, Direction, Drive, Edge, EventClock, LineInfo};

    fn change(kind: InfoChangeKind, used: bool) -> InfoChangeEvent {
        InfoChangeEvent {
            info: LineInfo {
                offset: 5,
                name: "LED".into(),
                consumer: if used { "me".into() } else { String::new() },
                used,
                direction: Direction::Output,
                active_low: false,
                bias: Bias::AsIs,
                drive: Drive::PushPull,
                edge: Edge::None,
                debounce: None,
                event_clock: EventClock::Monotonic,
            },
            timestamp_ns: 3_000_000_001,
            kind,
        }
    }

    #[test]
    fn formats_are_gpionotifys() {
        let e = change(InfoChangeKind::Requested, true);
        assert_eq!(
            formatted("%c %o %l %e %E [%a] %C %S %%", &e, "gpiochip1", false),
            "gpiochip1 5 LED 1 requested [output consumer=\"me\"] me 3.000000001 %"
        );
        let e = change(InfoChangeKind::Released, false);
        assert_eq!(
            formatted("%e %E %C %a", &e, "c", true),
            "2 released unused output"
        );
    }

    #[test]
    fn realtime_is_monotonic_plus_the_clocks_offset() {
        let r = monotonic_to_realtime(0);
        // Some time after 2020 and before 2200, whatever the machine's uptime.
        assert!(
            r > 1_577_836_800_000_000_000 && r < 7_258_118_400_000_000_000,
            "{r}"
        );
    }
}
