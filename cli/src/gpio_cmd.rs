//! `hwkit gpio`: chips, line info, get, set, monitor and find, in the manner of libgpiod v2's
//! tools, over the `hw` crate's character-device backends.
//!
//! A LINE is a header pin (`pin11`, `P1-11`, `J8:11`), a board GPIO number (`GPIO17`,
//! `BCM17`), a line name or `chip:offset` (`pinctrl-bcm2711:17`, `gpiochip0:17`), read through
//! the board profile of `--board` or the detected one; with `--chip`, an offset or a line name
//! of that chip. A CHIP is a path, a name (`gpiochip0`), a number or a label.
//! `--backend libgpiod` (or `libgpiod-v1`, `libgpiod-v2`) requests lines through the libgpiod
//! C library instead of hw's own character-device code.

mod backend;
pub(crate) mod lines;

use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use hw::{Bias, Chip, Drive, Edge, LineId, Request, RequestBuilder, SysfsBackend, Uapi, Value};
use nix::sys::signal::{SigSet, Signal};

use crate::CmdResult;
use backend::BackendChoice;
use lines::{group_by_chip, ChipGroup, LineResolver};

/// Arguments of `hwkit gpio`.
#[derive(Args)]
pub struct GpioArgs {
    /// Force a GPIO uAPI version, v1 or v2 (default: v2 where the kernel has it), or request
    /// lines through libgpiod: libgpiod (2.x where installed, else 1.x), libgpiod-v1 or
    /// libgpiod-v2.
    #[arg(
        long,
        global = true,
        value_name = "v1|v2|libgpiod|libgpiod-v1|libgpiod-v2"
    )]
    backend: Option<BackendChoice>,

    /// Board profile for header pin names (`pin11`, `J8:11`, `BCM17`): an id or alias such as
    /// `pi4` (`hwkit pinout --list-boards`); default: detected from /proc/device-tree.
    #[arg(long, global = true, value_name = "NAME")]
    board: Option<String>,

    #[command(subcommand)]
    command: GpioCommand,
}

#[derive(Subcommand)]
enum GpioCommand {
    /// List the GPIO chips: name, label, number of lines.
    Detect,
    /// Show line info: of all chips, of one chip, or of some lines.
    Info(InfoArgs),
    /// Read line values.
    Get(GetArgs),
    /// Drive lines, holding them until Ctrl-C or for --hold seconds.
    Set(SetArgs),
    /// Print edge events as they happen.
    Mon(MonArgs),
    /// Find a line by name: prints its chip and offset.
    Find(FindArgs),
}

#[derive(Args)]
struct InfoArgs {
    /// The chip (path, name, number or label); without it, the first argument is tried as one.
    #[arg(long, short)]
    chip: Option<String>,
    /// An optional CHIP, then LINEs; without a chip, LINEs as for get (pin11, GPIO17, chip:offset).
    args: Vec<String>,
}

#[derive(Args)]
struct LineOpts {
    /// The chip (path, name, number or label); LINEs are then its offsets and line names.
    #[arg(long, short)]
    chip: Option<String>,
    /// Treat the lines as active-low.
    #[arg(long, short = 'l')]
    active_low: bool,
    /// Bias: as-is, pull-up, pull-down or disabled.
    #[arg(long, short)]
    bias: Option<Bias>,
    /// Consumer label shown in line info.
    #[arg(long, default_value = "hwkit")]
    consumer: String,
}

#[derive(Args)]
struct GetArgs {
    #[command(flatten)]
    opts: LineOpts,
    /// Request the lines as they are instead of as inputs.
    #[arg(long)]
    as_is: bool,
    /// Print 0/1 separated by spaces instead of "LINE"=value.
    #[arg(long)]
    numeric: bool,
    /// Through the legacy /sys/class/gpio interface instead of the character device.
    #[arg(long)]
    sysfs: bool,
    /// The lines: header pins (pin11, J8:11), GPIO numbers (GPIO17, BCM17), line names or
    /// chip:offset; with --chip, offsets and line names of that chip.
    #[arg(required = true, value_name = "LINE")]
    lines: Vec<String>,
}

#[derive(Args)]
struct SetArgs {
    #[command(flatten)]
    opts: LineOpts,
    /// Drive: push-pull, open-drain or open-source.
    #[arg(long, short)]
    drive: Option<Drive>,
    /// Hold the lines this many seconds, then release them and exit (default: until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    hold: Option<f64>,
    /// Through the legacy /sys/class/gpio interface instead of the character device (the
    /// lines are unexported on exit, Ctrl-C and SIGTERM included; not after SIGKILL).
    #[arg(long)]
    sysfs: bool,
    /// LINE=VALUE pairs (LINE as for get, e.g. pin11=1); VALUE is 1/0, active/inactive, on/off,
    /// high/low or true/false.
    #[arg(required = true, value_name = "LINE=VALUE")]
    values: Vec<String>,
}

#[derive(Args)]
struct MonArgs {
    #[command(flatten)]
    opts: LineOpts,
    /// Edges to report.
    #[arg(long, short, default_value = "both")]
    edge: Edge,
    /// Debounce period in microseconds (uAPI v2).
    #[arg(long, value_name = "US")]
    debounce_us: Option<u64>,
    /// Exit after this many events.
    #[arg(long, short, value_name = "N")]
    num_events: Option<u64>,
    /// Exit after this many seconds.
    #[arg(long, short, value_name = "SECS")]
    timeout: Option<f64>,
    /// The lines: header pins (pin11, J8:11), GPIO numbers (GPIO17, BCM17), line names or
    /// chip:offset; with --chip, offsets and line names of that chip.
    #[arg(required = true, value_name = "LINE")]
    lines: Vec<String>,
}

#[derive(Args)]
struct FindArgs {
    /// The line name.
    name: String,
}

/// What the line commands share: the forced uAPI and the board profile for LINE arguments.
struct Ctx {
    uapi: Option<Uapi>,
    backend: Option<BackendChoice>,
    board: Option<String>,
}

impl Ctx {
    /// How LINE arguments are read with these options (`--chip`, `--board`, or detection).
    fn resolver(&self, chip: Option<&str>) -> Result<LineResolver, Box<dyn std::error::Error>> {
        LineResolver::new(chip, self.board.as_deref(), Path::new("/"), self.uapi)
    }
}

/// Runs `hwkit gpio`.
pub fn run(args: GpioArgs) -> CmdResult {
    let ctx = Ctx {
        uapi: args.backend.and_then(BackendChoice::uapi),
        backend: args.backend,
        board: args.board,
    };
    match args.command {
        GpioCommand::Detect => detect(ctx.uapi),
        GpioCommand::Info(a) => info(a, &ctx),
        GpioCommand::Get(a) => get(a, &ctx),
        GpioCommand::Set(a) => set(a, &ctx),
        GpioCommand::Mon(a) => mon(a, &ctx),
        GpioCommand::Find(a) => find(a, ctx.uapi),
    }
}

/// Everything `run` checks before it requests a line, against the system captured under
/// `root`, with no chip opened by a name or path from the arguments: `--chip`'s lines are
/// only read as offsets or names, the other lines resolved through the board profile and
/// `root`'s chips; values, `--hold`, `--timeout`, `--edge` and the interface checked.
pub(crate) fn check(args: &GpioArgs, root: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let lines = |chip: Option<&str>, lines: &[String]| -> Result<(), Box<dyn std::error::Error>> {
        match chip {
            Some(_) => {
                if let Some(b) = &args.board {
                    boards::find_profile(b)?;
                }
                for l in lines {
                    LineId::parse(l);
                }
                Ok(())
            }
            None => LineResolver::Board(lines::BoardLines::load(root, args.board.as_deref())?)
                .resolve_all(lines)
                .map(drop),
        }
    };
    match &args.command {
        GpioCommand::Detect | GpioCommand::Find(_) => Ok(()),
        GpioCommand::Info(a) => match &a.chip {
            Some(_) => Ok(()),
            None => lines(None, &a.args),
        },
        GpioCommand::Get(a) => {
            check_interface(a.sysfs, args.backend)?;
            lines(a.opts.chip.as_deref(), &a.lines)
        }
        GpioCommand::Set(a) => {
            check_interface(a.sysfs, args.backend)?;
            let names = a
                .values
                .iter()
                .map(|s| parse_assignment(s).map(|(line, _)| line))
                .collect::<Result<Vec<_>, _>>()?;
            a.hold.map(|h| seconds("--hold", h)).transpose()?;
            lines(a.opts.chip.as_deref(), &names)
        }
        GpioCommand::Mon(a) => {
            a.timeout.map(|t| seconds("--timeout", t)).transpose()?;
            if a.edge == Edge::None {
                return Err("--edge none would report nothing: use rising, falling or both".into());
            }
            lines(a.opts.chip.as_deref(), &a.lines)
        }
    }
}

fn detect(uapi: Option<Uapi>) -> CmdResult {
    let paths = hw::chip_paths()?;
    if paths.is_empty() {
        eprintln!("hwkit: no GPIO chips found under /dev");
    }
    for path in paths {
        let chip = Chip::open_with(&path, uapi)?;
        let i = chip.info();
        println!("{} [{}] ({} lines)", i.name, i.label, i.num_lines);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_chip_header(chip: &Chip) {
    let i = chip.info();
    println!(
        "{} - {} lines [{}] (uAPI {}):",
        i.name,
        i.num_lines,
        i.label,
        chip.uapi()
    );
}

fn info(a: InfoArgs, ctx: &Ctx) -> CmdResult {
    let uapi = ctx.uapi;
    let mut args = a.args.as_slice();
    let chip = match a.chip {
        Some(c) => Some(Chip::find_with(&c, uapi)?),
        None => match args.first().map(|first| Chip::find_with(first, uapi)) {
            Some(Ok(chip)) => {
                args = &args[1..];
                Some(chip)
            }
            _ => None,
        },
    };
    match chip {
        Some(chip) => {
            print_chip_header(&chip);
            if args.is_empty() {
                for info in chip.line_infos()? {
                    println!("\t{info}");
                }
            }
            for arg in args {
                let offset = match LineId::parse(arg) {
                    LineId::Offset(o) => o,
                    LineId::Name(n) => chip.line_offset(&n)?,
                };
                println!("\t{}", chip.line_info(offset)?);
            }
        }
        None if args.is_empty() => {
            for path in hw::chip_paths()? {
                let chip = Chip::open_with(&path, uapi)?;
                print_chip_header(&chip);
                for info in chip.line_infos()? {
                    println!("\t{info}");
                }
            }
        }
        None => {
            let resolver = ctx.resolver(None)?;
            // All resolved first: a bad argument prints nothing.
            let targets = args
                .iter()
                .map(|arg| resolver.resolve(arg))
                .collect::<Result<Vec<_>, _>>()?;
            for t in targets {
                let chip = Chip::open_with(&t.dev_path, uapi)?;
                println!("{} {}", t.chip, chip.line_info(t.offset)?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--sysfs` and `--backend` choose different interfaces.
fn check_interface(sysfs: bool, backend: Option<BackendChoice>) -> Result<(), String> {
    match backend {
        Some(b) if sysfs => Err(format!(
            "--sysfs and --backend {b} choose two different interfaces (sysfs, {}): give one \
             of them",
            match b {
                BackendChoice::Cdev(_) => "character device",
                BackendChoice::Libgpiod(_) => "libgpiod",
            }
        )),
        _ => Ok(()),
    }
}

/// A builder for one chip's lines with the options every line command shares; lines added
/// afterwards start from these settings.
fn group_builder(
    opts: &LineOpts,
    uapi: Option<Uapi>,
    g: &ChipGroup,
    sysfs: bool,
) -> RequestBuilder {
    let mut b = Request::builder()
        .consumer(opts.consumer.clone())
        .with_uapi_choice(uapi);
    // sysfs finds the chip by kernel name (its legacy directory is named by base, not number).
    b = if sysfs {
        b.on_chip_named(g.chip)
    } else {
        b.on_chip(g.dev_path)
    };
    if opts.active_low {
        b = b.as_active_low();
    }
    if let Some(bias) = opts.bias {
        b = b.with_bias(bias);
    }
    b
}

/// Requests through sysfs, libgpiod or the character device.
fn send(b: RequestBuilder, sysfs: bool, ctx: &Ctx) -> hw::Result<Request> {
    if sysfs {
        return b.request_with(&SysfsBackend::native());
    }
    match ctx
        .backend
        .map(BackendChoice::libgpiod)
        .transpose()?
        .flatten()
    {
        Some(gpiod) => b.request_with(&gpiod),
        None => b.request(),
    }
}

fn get(a: GetArgs, ctx: &Ctx) -> CmdResult {
    check_interface(a.sysfs, ctx.backend)?;
    let targets = ctx
        .resolver(a.opts.chip.as_deref())?
        .resolve_all(&a.lines)?;
    let mut values = vec![Value::Inactive; targets.len()];
    // One request per chip, each released before the next: values are read chip by chip.
    for g in group_by_chip(&targets) {
        let mut b = group_builder(&a.opts, ctx.uapi, &g, a.sysfs).with_lines(&g.offsets());
        if !a.as_is {
            b = b.as_input();
        }
        let req = send(b, a.sysfs, ctx)?;
        for ((i, _), v) in g.targets.iter().zip(req.values()?) {
            values[*i] = v;
        }
    }
    let out: Vec<String> = targets
        .iter()
        .zip(&values)
        .map(|(t, v)| {
            if a.numeric {
                u8::from(*v).to_string()
            } else {
                format!("\"{}\"={v}", t.arg)
            }
        })
        .collect();
    println!("{}", out.join(" "));
    Ok(ExitCode::SUCCESS)
}

/// A non-negative, representable number of seconds.
fn seconds(flag: &str, secs: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{flag} {secs}: give a number of seconds, 0 or more"))
}

fn parse_assignment(s: &str) -> Result<(String, Value), String> {
    let (line, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not LINE=VALUE (e.g. GPIO17=1)"))?;
    let v = Value::parse(value).ok_or_else(|| {
        format!("'{value}' in '{s}' is not a value: use 1/0, active/inactive, on/off, high/low or true/false")
    })?;
    if line.is_empty() {
        return Err(format!("'{s}' has no line before '='"));
    }
    Ok((line.to_owned(), v))
}

fn set(a: SetArgs, ctx: &Ctx) -> CmdResult {
    check_interface(a.sysfs, ctx.backend)?;
    let pairs: Vec<(String, Value)> = a
        .values
        .iter()
        .map(|s| parse_assignment(s))
        .collect::<Result<_, _>>()?;
    let hold = a.hold.map(|h| seconds("--hold", h)).transpose()?;
    let names: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect();
    let targets = ctx.resolver(a.opts.chip.as_deref())?.resolve_all(&names)?;
    // Blocked before any line is driven, so Ctrl-C or SIGTERM at any moment ends in the release
    // below (which matters for sysfs: the kernel keeps sysfs exports after the process dies).
    let signals = match hold {
        Some(_) => None,
        None => Some(block_exit_signals()?),
    };
    let mut held = Vec::new();
    for g in group_by_chip(&targets) {
        let mut b = group_builder(&a.opts, ctx.uapi, &g, a.sysfs);
        if let Some(drive) = a.drive {
            b = b.with_drive(drive);
        }
        // Each line starts as an output at its own value.
        for (i, t) in &g.targets {
            b = b.with_line(t.offset).as_output(pairs[*i].1);
        }
        held.push(send(b, a.sysfs, ctx)?);
    }
    match (hold, signals) {
        (Some(d), _) => std::thread::sleep(d),
        (None, Some(signals)) => {
            let chips: Vec<&str> = held.iter().map(|r| r.chip().name.as_str()).collect();
            eprintln!(
                "hwkit: holding {} line(s) on {}; press Ctrl-C to release",
                targets.len(),
                chips.join(", ")
            );
            let sig = signals
                .wait()
                .map_err(|e| format!("waiting for Ctrl-C: {e}"))?;
            eprintln!("hwkit: {sig}: releasing the lines");
        }
        (None, None) => unreachable!("signals are blocked whenever there is no --hold"),
    }
    drop(held);
    Ok(ExitCode::SUCCESS)
}

/// Blocks SIGINT, SIGTERM and SIGHUP so they can be waited for instead of killing the process
/// (hwkit is single-threaded, so no other thread receives them).
fn block_exit_signals() -> Result<SigSet, String> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block()
        .map_err(|e| format!("blocking Ctrl-C until the lines are held: {e}"))?;
    Ok(set)
}

fn mon(a: MonArgs, ctx: &Ctx) -> CmdResult {
    let timeout = a.timeout.map(|t| seconds("--timeout", t)).transpose()?;
    if a.edge == Edge::None {
        return Err("--edge none would report nothing: use rising, falling or both".into());
    }
    let targets = ctx
        .resolver(a.opts.chip.as_deref())?
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

fn find(a: FindArgs, uapi: Option<Uapi>) -> CmdResult {
    let found = hw::find_line(&a.name)?;
    // Respect a forced uAPI: re-read the info through it (fails clearly if unavailable).
    let chip = Chip::open_with(&found.chip.path, uapi)?;
    chip.line_info(found.offset)?;
    println!("{} {}", found.chip.name, found.offset);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_parse() {
        assert_eq!(
            parse_assignment("GPIO17=1").unwrap(),
            ("GPIO17".into(), Value::Active)
        );
        assert_eq!(
            parse_assignment("3=off").unwrap(),
            ("3".into(), Value::Inactive)
        );
        assert!(parse_assignment("GPIO17")
            .unwrap_err()
            .contains("not LINE=VALUE"));
        assert!(parse_assignment("GPIO17=2")
            .unwrap_err()
            .contains("is not a value"));
        assert!(parse_assignment("=1").unwrap_err().contains("no line"));
    }

    #[test]
    fn sysfs_and_a_uapi_are_exclusive() {
        assert!(check_interface(true, None).is_ok());
        let v2 = Some(BackendChoice::Cdev(Uapi::V2));
        assert!(check_interface(false, v2).is_ok());
        let e = check_interface(true, v2).unwrap_err();
        assert!(e.contains("--sysfs and --backend v2"), "{e}");
        assert!(e.contains("(sysfs, character device)"), "{e}");
        let e = check_interface(true, Some(BackendChoice::Libgpiod(None))).unwrap_err();
        assert!(e.contains("--sysfs and --backend libgpiod"), "{e}");
        assert!(e.contains("(sysfs, libgpiod)"), "{e}");
    }

    #[test]
    fn seconds_are_checked() {
        assert_eq!(seconds("--hold", 1.5).unwrap(), Duration::from_millis(1500));
        assert!(seconds("--hold", -1.0).unwrap_err().contains("--hold -1"));
        assert!(seconds("--timeout", f64::NAN).is_err());
        assert!(seconds("--timeout", 1e300).is_err());
    }
}
