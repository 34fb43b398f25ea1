//! Drive a line through /sys/class/gpio from the command line.
//!
//! ```text
//! sysfs_line chips
//! sysfs_line get    CHIP OFFSET [native|ffi]
//! sysfs_line set    CHIP OFFSET 0|1 [native|ffi]
//! sysfs_line toggle CHIP OFFSET COUNT [native|ffi]
//! sysfs_line watch  CHIP OFFSET rising|falling|both SECONDS [native|ffi]
//! ```
//! CHIP is a label (`pinctrl-bcm2711`), `gpiochipN` (/dev/gpiochipN) or a label of a gpio-sim
//! chip. The line is exported for the run and unexported at the end unless it already was
//! (`set` leaves it exported, so the level stays).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use sysfs_gpio::{Edge, IoPath, Sysfs};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn io_path(arg: Option<&String>) -> Result<IoPath, String> {
    match arg.map(String::as_str) {
        None | Some("native") => Ok(IoPath::Native),
        Some("ffi") => Ok(IoPath::Ffi),
        Some(other) => Err(format!("unknown I/O path {other:?}: use native or ffi")),
    }
}

fn number<T: std::str::FromStr>(arg: Option<&String>, what: &str) -> Result<T, String> {
    let text = arg.ok_or_else(|| format!("missing {what}"))?;
    text.parse()
        .map_err(|_| format!("{what} must be a number, not {text:?}"))
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let sysfs = Sysfs::new();
    let usage = "usage: sysfs_line chips | get CHIP OFFSET | set CHIP OFFSET 0|1 | \
                 toggle CHIP OFFSET COUNT | watch CHIP OFFSET EDGE SECONDS  [native|ffi]";
    let cmd = args.first().ok_or(usage)?;
    if cmd == "chips" {
        for chip in sysfs.chips()? {
            let base = chip.base.map_or("-".to_string(), |b| b.to_string());
            println!("{:<24} base {base:>5}  {:>3} lines", chip.label, chip.ngpio);
        }
        return Ok(());
    }
    let chip = args.get(1).ok_or(usage)?;
    let offset: u32 = number(args.get(2), "OFFSET")?;
    match cmd.as_str() {
        "get" => {
            let line = sysfs.open_line(chip.as_str(), offset, io_path(args.get(3))?)?;
            println!("{}", u8::from(line.get_value()?));
        }
        "set" => {
            let value: u8 = number(args.get(3), "VALUE")?;
            let mut line = sysfs.open_line(chip.as_str(), offset, io_path(args.get(4))?)?;
            line.set_output(value != 0)?;
            // Like `echo`, leave the line exported so the level stays where it was put.
            line.set_unexport_on_drop(false);
            println!("{} = {value} (left exported)", line.address());
        }
        "toggle" => {
            let count: u32 = number(args.get(3), "COUNT")?;
            let mut line = sysfs.open_line(chip.as_str(), offset, io_path(args.get(4))?)?;
            line.set_output(false)?;
            let started = Instant::now();
            for i in 0..count {
                line.set_value(i % 2 == 0)?;
            }
            let per = started.elapsed() / count.max(1);
            println!(
                "{} toggles of {} through {:?}: {per:?} per write",
                count,
                line.address(),
                line.io_path()
            );
        }
        "watch" => {
            let edge = match args.get(3).map(String::as_str) {
                Some("rising") => Edge::Rising,
                Some("falling") => Edge::Falling,
                Some("both") => Edge::Both,
                _ => return Err("EDGE must be rising, falling or both".into()),
            };
            let seconds: u64 = number(args.get(4), "SECONDS")?;
            let mut line = sysfs.open_line(chip.as_str(), offset, io_path(args.get(5))?)?;
            line.set_input()?;
            line.set_edge(edge)?;
            let deadline = Instant::now() + Duration::from_secs(seconds);
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                match line.wait_for_edge(Some(left))? {
                    Some(ev) => println!("{:?} -> {}", ev.kind, u8::from(ev.value)),
                    None => break,
                }
            }
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}
