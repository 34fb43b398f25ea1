//! `hwkit gpio`: chips, line info, get, set, monitor and find, in the manner of libgpiod v2's
//! tools, over the `hw` crate's character-device backends.
//!
//! A LINE is a name (`GPIO17`) or an offset (`17`, which needs `--chip`). A CHIP is a path,
//! a name (`gpiochip0`), a number or a label.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use hw::{Bias, Chip, Drive, Edge, LineId, Request, RequestBuilder, Uapi, Value};

use crate::CmdResult;

/// Arguments of `hwkit gpio`.
#[derive(Args)]
pub struct GpioArgs {
    /// Force a GPIO uAPI version: v1 or v2 (default: v2 where the kernel has it).
    #[arg(long, global = true, value_name = "v1|v2")]
    backend: Option<Uapi>,

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
    /// [CHIP] [LINE...]
    args: Vec<String>,
}

#[derive(Args)]
struct LineOpts {
    /// The chip (path, name, number or label); needed for lines given by offset.
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
    /// The lines.
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
    /// LINE=VALUE pairs; VALUE is 1/0, active/inactive, on/off, high/low or true/false.
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
    /// The lines.
    #[arg(required = true, value_name = "LINE")]
    lines: Vec<String>,
}

#[derive(Args)]
struct FindArgs {
    /// The line name.
    name: String,
}

/// Runs `hwkit gpio`.
pub fn run(args: GpioArgs) -> CmdResult {
    let uapi = args.backend;
    match args.command {
        GpioCommand::Detect => detect(uapi),
        GpioCommand::Info(a) => info(a, uapi),
        GpioCommand::Get(a) => get(a, uapi),
        GpioCommand::Set(a) => set(a, uapi),
        GpioCommand::Mon(a) => mon(a, uapi),
        GpioCommand::Find(a) => find(a, uapi),
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

fn info(a: InfoArgs, uapi: Option<Uapi>) -> CmdResult {
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
            for arg in args {
                if let LineId::Offset(o) = LineId::parse(arg) {
                    return Err(format!(
                        "'{o}' is not a chip, and a line offset needs a chip: give --chip"
                    )
                    .into());
                }
                let found = hw::find_line(arg)?;
                println!("{} {}", found.chip.name, found.info);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A builder on the chosen chip with the lines (by name or offset) added and selected.
fn builder(
    opts: &LineOpts,
    lines: &[String],
    uapi: Option<Uapi>,
) -> Result<RequestBuilder, Box<dyn std::error::Error>> {
    let ids: Vec<LineId> = lines.iter().map(|l| LineId::parse(l)).collect();
    let mut b = Request::builder()
        .consumer(opts.consumer.clone())
        .with_uapi_choice(uapi);
    match &opts.chip {
        Some(c) => b = b.on_chip_spec(c.clone()),
        None => {
            if let Some(LineId::Offset(o)) = ids.iter().find(|i| matches!(i, LineId::Offset(_))) {
                return Err(format!(
                    "line '{o}' is an offset, which needs a chip: give --chip CHIP"
                )
                .into());
            }
        }
    }
    if opts.active_low {
        b = b.as_active_low();
    }
    Ok((b, ids)).map(|(b, ids)| b.with_ids(ids))
}

fn get(a: GetArgs, uapi: Option<Uapi>) -> CmdResult {
    let mut b = builder(&a.opts, &a.lines, uapi)?;
    if !a.as_is {
        b = b.as_input();
    }
    if let Some(bias) = a.opts.bias {
        b = b.with_bias(bias);
    }
    let req = b.request()?;
    let values = req.values()?;
    let out: Vec<String> = a
        .lines
        .iter()
        .zip(&values)
        .map(|(l, v)| {
            if a.numeric {
                u8::from(*v).to_string()
            } else {
                format!("\"{l}\"={v}")
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

fn set(a: SetArgs, uapi: Option<Uapi>) -> CmdResult {
    let pairs: Vec<(String, Value)> = a
        .values
        .iter()
        .map(|s| parse_assignment(s))
        .collect::<Result<_, _>>()?;
    let hold = a.hold.map(|h| seconds("--hold", h)).transpose()?;
    let names: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect();
    let mut b = builder(&a.opts, &names, uapi)?;
    // Each line starts as an output at its own value.
    for (line, value) in &pairs {
        b = b.with_ids([LineId::parse(line)]).as_output(*value);
        if let Some(bias) = a.opts.bias {
            b = b.with_bias(bias);
        }
        if let Some(drive) = a.drive {
            b = b.with_drive(drive);
        }
    }
    let req = b.request()?;
    match hold {
        Some(d) => std::thread::sleep(d),
        None => {
            eprintln!(
                "hwkit: holding {} line(s) on {}; press Ctrl-C to release",
                pairs.len(),
                req.chip().name
            );
            // The kernel releases the lines when the process ends, however it ends.
            loop {
                std::thread::park();
            }
        }
    }
    drop(req);
    Ok(ExitCode::SUCCESS)
}

fn mon(a: MonArgs, uapi: Option<Uapi>) -> CmdResult {
    let timeout = a.timeout.map(|t| seconds("--timeout", t)).transpose()?;
    if a.edge == Edge::None {
        return Err("--edge none would report nothing: use rising, falling or both".into());
    }
    let mut b = builder(&a.opts, &a.lines, uapi)?.with_edge_detection(a.edge);
    if let Some(bias) = a.opts.bias {
        b = b.with_bias(bias);
    }
    if let Some(us) = a.debounce_us {
        b = b.with_debounce(Duration::from_micros(us));
    }
    let mut req = b.request()?;
    // Print lines as the user named them.
    let label = |req: &Request, offset: u32| -> String {
        a.lines
            .iter()
            .find(|l| req.offset_of(l) == Some(offset) || l.parse::<u32>().ok() == Some(offset))
            .cloned()
            .unwrap_or_else(|| offset.to_string())
    };
    // A deadline too far to represent is no deadline.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut seen = 0u64;
    let mut buf = vec![hw::EdgeEvent::default(); 16];
    while a.num_events.is_none_or(|n| seen < n) {
        let ready = match deadline {
            Some(d) => req.wait_edge_event(d.saturating_duration_since(Instant::now()))?,
            None => true,
        };
        if !ready {
            break;
        }
        let n = req.read_edge_events(&mut buf)?;
        for e in &buf[..n] {
            if a.num_events.is_some_and(|max| seen >= max) {
                break;
            }
            println!(
                "{}.{:09} {} {} seqno={} line_seqno={}",
                e.timestamp_ns / 1_000_000_000,
                e.timestamp_ns % 1_000_000_000,
                label(&req, e.offset),
                e.kind,
                e.seqno,
                e.line_seqno
            );
            seen += 1;
        }
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
    fn seconds_are_checked() {
        assert_eq!(seconds("--hold", 1.5).unwrap(), Duration::from_millis(1500));
        assert!(seconds("--hold", -1.0).unwrap_err().contains("--hold -1"));
        assert!(seconds("--timeout", f64::NAN).is_err());
        assert!(seconds("--timeout", 1e300).is_err());
    }

    #[test]
    fn offsets_need_a_chip() {
        let opts = LineOpts {
            chip: None,
            active_low: false,
            bias: None,
            consumer: "t".into(),
        };
        let e = builder(&opts, &["3".into()], None).err().unwrap();
        assert!(e.to_string().contains("needs a chip: give --chip"), "{e}");
    }
}
