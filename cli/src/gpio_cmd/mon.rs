//! `hwkit gpio mon`: print edge events as they happen.

use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;
use hw::Edge;

use super::lines::group_by_chip;
use super::period::seconds;
use super::request::{group_builder, send, LineOpts};
use super::Ctx;
use crate::CmdResult;

#[derive(Args)]
pub(super) struct MonArgs {
    #[command(flatten)]
    pub opts: LineOpts,
    /// Edges to report.
    #[arg(long, short, default_value = "both")]
    pub edge: Edge,
    /// Debounce period in microseconds (uAPI v2).
    #[arg(long, value_name = "US")]
    pub debounce_us: Option<u64>,
    /// Exit after this many events.
    #[arg(long, short, value_name = "N")]
    pub num_events: Option<u64>,
    /// Exit after this many seconds.
    #[arg(long, short, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// The lines: header pins (pin11, J8:11), GPIO numbers (GPIO17, BCM17), line names or
    /// chip:offset; with --chip, offsets and line names of that chip.
    #[arg(required = true, value_name = "LINE")]
    pub lines: Vec<String>,
}
/// Runs `hwkit gpio mon`.
pub(super) fn run(a: MonArgs, ctx: &Ctx) -> CmdResult {
    let timeout = a.timeout.map(|t| seconds("--timeout", t)).transpose()?;
    if a.edge == Edge::None {
        return Err("--edge none would report nothing: use rising, falling or both".into());
    }
    let targets = ctx
        .resolver(a.opts.chip.as_deref(), a.opts.lookup())?
        .resolve_all(&a.lines)?;
    // All requested before any is watched: a busy line fails the command with nothing printed.
    let mut watched = Vec::new();
    for g in group_by_chip(&targets) {
        let mut b = group_builder(&a.opts, ctx.uapi, &g, false)
            .with_lines(&g.offsets())
            .with_edge_detection(a.edge);
        if let Some(us) = a.debounce_us {
            b = b.with_debounce(Duration::from_micros(us));
        }
        // Events are printed with the line as the user named it.
        let labels: Vec<(u32, String)> = g
            .targets
            .iter()
            .map(|(_, t)| (t.offset, t.arg.clone()))
            .collect();
        watched.push((send(b, false, ctx)?, labels));
    }
    // Each chip's lines are one request with its own event queue: a reader thread per request
    // feeds this thread, which prints, counts and keeps the deadline.
    let (tx, rx) = mpsc::channel::<hw::Result<(hw::EdgeEvent, String)>>();
    for (mut req, labels) in watched {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = vec![hw::EdgeEvent::default(); 16];
            loop {
                let n = match req.read_edge_events(&mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                for e in &buf[..n] {
                    let label = labels
                        .iter()
                        .find(|(o, _)| *o == e.offset)
                        .map_or_else(|| e.offset.to_string(), |(_, l)| l.clone());
                    if tx.send(Ok((*e, label))).is_err() {
                        return;
                    }
                }
            }
        });
    }
    drop(tx);
    // A deadline too far to represent is no deadline.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut seen = 0u64;
    while a.num_events.is_none_or(|n| seen < n) {
        let next = match deadline {
            Some(d) => match rx.recv_timeout(d.saturating_duration_since(Instant::now())) {
                Ok(next) => next,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                // Every reader stopped, and each sends its error before it stops.
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(next) => next,
                Err(mpsc::RecvError) => break,
            },
        };
        let (e, label) = next?;
        println!(
            "{}.{:09} {label} {} seqno={} line_seqno={}",
            e.timestamp_ns / 1_000_000_000,
            e.timestamp_ns % 1_000_000_000,
            e.kind,
            e.seqno,
            e.line_seqno
        );
        seen += 1;
    }
    Ok(ExitCode::SUCCESS)
}
