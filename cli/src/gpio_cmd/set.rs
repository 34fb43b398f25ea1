//! `hwkit gpio set`: drive lines and hold them, as `gpioset` does: until killed, for a
//! `--hold-period`, through a `--toggle` sequence, in the background (`--daemonize`) or
//! under interactive commands (`--interactive`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use hw::{Drive, LineSettings, Request, Value};
use nix::sys::signal::{SigSet, Signal};

use super::backend::BackendChoice;
use super::lines::{group_by_chip, Target};
use super::period::{parse_period, parse_periods, seconds};
use super::request::{check_interface, group_builder, send, LineOpts};
use super::{interactive, Ctx};
use crate::CmdResult;

/// Arguments of `hwkit gpio set`.
#[derive(Args)]
pub(super) struct SetArgs {
    #[command(flatten)]
    pub opts: LineOpts,
    /// Drive: push-pull, open-drain or open-source.
    #[arg(long, short, value_name = "DRIVE")]
    pub drive: Option<Drive>,
    /// The least time to hold the lines at each value, before the first toggle or exit
    /// (PERIOD: a whole number with unit us, ms, s or m; a bare number is milliseconds).
    #[arg(long, short = 'p', value_name = "PERIOD")]
    pub hold_period: Option<String>,
    /// Toggle the lines after each period in turn, repeating the sequence; if the last period
    /// is 0, exit after the toggles before it (`-t 0`: set and exit).
    #[arg(long, short = 't', value_name = "PERIOD[,PERIOD]...")]
    pub toggle: Option<String>,
    /// Set the values, then go on in the background, detached from the terminal, holding them.
    #[arg(long, short = 'z')]
    pub daemonize: bool,
    /// Print "Setting line 'LINE'..." once the lines are held.
    #[arg(long)]
    pub banner: bool,
    /// Set the values, then take commands at a `gpioset> ` prompt: get, set, toggle, sleep,
    /// help, exit (with line editing, history and tab completion).
    #[arg(long, short = 'i', conflicts_with = "toggle")]
    pub interactive: bool,
    /// Print line names without quotes (interactive `get`).
    #[arg(long)]
    pub unquoted: bool,
    /// hwkit: hold the lines this many seconds, then release them and exit (default: until
    /// Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECS", conflicts_with_all = ["toggle", "interactive", "daemonize"])]
    pub hold: Option<f64>,
    /// hwkit: through the legacy /sys/class/gpio interface instead of the character device (the
    /// lines are unexported on exit, Ctrl-C and SIGTERM included; not after SIGKILL).
    #[arg(long)]
    pub sysfs: bool,
    /// hwkit: hand the lines to the GPIO daemon (hwkitd, over D-Bus) and return at once: they
    /// stay driven after hwkit exits, until `hwkit managed release` (prints the request's name).
    #[arg(long, conflicts_with_all = ["hold", "toggle", "interactive", "daemonize", "sysfs", "hold_period", "banner"])]
    pub persist: bool,
    /// With --persist: the bus the daemon is on (default: the system bus, or
    /// $DBUS_SYSTEM_BUS_ADDRESS).
    #[arg(long, value_name = "ADDRESS", requires = "persist")]
    pub bus_address: Option<String>,
    /// LINE=VALUE pairs (LINE as for get, e.g. GPIO17=1 or "GPIO17"=1); VALUE is 1/0,
    /// active/inactive, on/off, high/low or true/false.
    #[arg(required = true, value_name = "LINE=VALUE")]
    pub values: Vec<String>,
}

/// `LINE=VALUE`, or `"LINE"=VALUE` as gpioget prints it.
pub(crate) fn parse_assignment(s: &str) -> Result<(String, Value), String> {
    let split = match s.strip_prefix('"') {
        Some(rest) => rest.split_once("\"="),
        None => s.split_once('='),
    };
    let (line, value) = split.ok_or_else(|| format!("'{s}' is not LINE=VALUE (e.g. GPIO17=1)"))?;
    let v = Value::parse(value).ok_or_else(|| {
        format!("'{value}' in '{s}' is not a value: use 1/0, active/inactive, on/off, high/low or true/false")
    })?;
    if line.is_empty() {
        return Err(format!("'{s}' has no line before '='"));
    }
    Ok((line.to_owned(), v))
}

/// The requested lines and the values they are driven to, by the user's names for them.
pub(super) struct Held {
    /// One request per chip, with the argument positions of its lines.
    requests: Vec<(Request, Vec<(usize, u32)>)>,
    /// The LINE arguments, in order.
    pub ids: Vec<String>,
    /// Their values.
    pub values: Vec<Value>,
}

impl Held {
    /// Drives every request to the values held.
    pub fn apply(&mut self) -> hw::Result<()> {
        for (req, lines) in &mut self.requests {
            let v: Vec<(u32, Value)> = lines.iter().map(|(i, o)| (*o, self.values[*i])).collect();
            req.set_values(&v)?;
        }
        Ok(())
    }

    /// The position of the line the user called `id`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// Flips every value held.
    pub fn toggle_all(&mut self) {
        for v in &mut self.values {
            *v = if *v == Value::Active {
                Value::Inactive
            } else {
                Value::Active
            };
        }
    }
}

/// `--hold-period` and `--toggle`, read (`None` where not given).
pub(super) type SetPeriods = (Option<Duration>, Option<Vec<Duration>>);

/// Reads `--hold-period` and `--toggle`.
pub(super) fn periods(a: &SetArgs) -> Result<SetPeriods, String> {
    Ok((
        a.hold_period.as_deref().map(parse_period).transpose()?,
        a.toggle.as_deref().map(parse_periods).transpose()?,
    ))
}

/// Runs `hwkit gpio set`.
pub(super) fn run(a: SetArgs, ctx: &Ctx) -> CmdResult {
    check_interface(a.sysfs, ctx.backend)?;
    check_persist(&a, ctx.backend)?;
    let (hold_period, toggle) = periods(&a)?;
    let pairs: Vec<(String, Value)> = a
        .values
        .iter()
        .map(|s| parse_assignment(s))
        .collect::<Result<_, _>>()?;
    let hold = a.hold.map(|h| seconds("--hold", h)).transpose()?;
    let names: Vec<String> = pairs.iter().map(|p| p.0.clone()).collect();
    let targets = ctx
        .resolver(a.opts.chip.as_deref(), a.opts.lookup)?
        .resolve_all(&names)?;
    if a.persist {
        return persist(&a, &targets, &pairs);
    }
    // Blocked before any line is driven, so Ctrl-C or SIGTERM at any moment ends in the release
    // below (which matters for sysfs: the kernel keeps sysfs exports after the process dies).
    // The interactive prompt reads Ctrl-C as a key and leaves SIGTERM its default action.
    let signals = if a.interactive {
        None
    } else {
        Some(block_exit_signals()?)
    };
    let mut held = request(&a, ctx, &targets, &pairs)?;
    if a.banner {
        println!("{}", banner(&held.ids));
    }
    if a.daemonize {
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        // The child holds the requests' file descriptors; the parent exits at once.
        nix::unistd::daemon(false, a.interactive)
            .map_err(|e| format!("unable to daemonize: {e}"))?;
    }
    let wait = |d: Option<Duration>| -> Result<Option<Signal>, String> {
        match &signals {
            Some(s) => wait_signal(s, d),
            None => {
                std::thread::sleep(d.unwrap_or(Duration::MAX));
                Ok(None)
            }
        }
    };
    if let Some(d) = hold {
        // hwkit's --hold: a set time, then release, unless a signal comes first.
        if let Some(sig) = wait(Some(d))? {
            eprintln!("hwkit: {sig}: releasing the lines");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(mut periods) = toggle {
        // As gpioset: no toggle comes sooner than the hold period (but a final 0 stays 0).
        let last = periods.len() - 1;
        for (i, p) in periods.iter_mut().enumerate() {
            if let Some(h) = hold_period.filter(|h| *h > *p && (i != last || !p.is_zero())) {
                *p = h;
            }
        }
        if periods.len() == 1 && periods[0].is_zero() {
            return Ok(ExitCode::SUCCESS);
        }
        let mut i = 0;
        loop {
            if wait(Some(periods[i]))?.is_some() {
                return Ok(ExitCode::SUCCESS);
            }
            held.toggle_all();
            held.apply()?;
            i += 1;
            if i == last && periods[i].is_zero() {
                return Ok(ExitCode::SUCCESS);
            }
            if i == periods.len() {
                i = 0;
            }
        }
    }
    if let Some(p) = hold_period {
        if wait(Some(p))?.is_some() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if a.interactive {
        return interactive::run(&mut held, a.unquoted);
    }
    if !a.daemonize {
        let chips: Vec<&str> = held
            .requests
            .iter()
            .map(|(r, _)| r.chip().name.as_str())
            .collect();
        eprintln!(
            "hwkit: holding {} line(s) on {}; press Ctrl-C to release",
            targets.len(),
            chips.join(", ")
        );
    }
    if let Some(sig) = wait(None)? {
        if !a.daemonize {
            eprintln!("hwkit: {sig}: releasing the lines");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--persist` hands the lines to the daemon, which requests them its own way: no
/// `--backend` to choose.
pub(super) fn check_persist(a: &SetArgs, backend: Option<BackendChoice>) -> Result<(), String> {
    match backend {
        Some(b) if a.persist => Err(format!(
            "--persist and --backend {b}: the daemon requests the lines through its own \
             backend; drop one of them"
        )),
        _ => Ok(()),
    }
}

/// `--persist`: the daemon requests the lines, one request per chip, and holds them.
fn persist(a: &SetArgs, targets: &[Target], pairs: &[(String, Value)]) -> CmdResult {
    let settings: Vec<LineSettings> = pairs
        .iter()
        .map(|(_, v)| LineSettings {
            active_low: a.opts.active_low,
            bias: a.opts.bias.unwrap_or_default(),
            drive: a.drive.unwrap_or_default(),
            ..LineSettings::output(*v)
        })
        .collect();
    let client = crate::managed_cmd::connect(a.bus_address.as_deref())?;
    let made = crate::managed_cmd::hold(&client, targets, &settings, &a.opts.consumer)?;
    let names: Vec<&str> = made.iter().map(|r| r.name()).collect();
    for n in &names {
        println!("{n}");
    }
    eprintln!(
        "hwkit: the GPIO daemon holds the line(s) as {}; `hwkit managed release {}` lets them go",
        names.join(", "),
        names.join(" ")
    );
    Ok(ExitCode::SUCCESS)
}

/// One request per chip, each line an output at its value.
fn request(
    a: &SetArgs,
    ctx: &Ctx,
    targets: &[Target],
    pairs: &[(String, Value)],
) -> Result<Held, Box<dyn std::error::Error>> {
    let mut requests = Vec::new();
    for g in group_by_chip(targets) {
        let mut b = group_builder(&a.opts, ctx.uapi, &g, a.sysfs);
        if let Some(drive) = a.drive {
            b = b.with_drive(drive);
        }
        // Each line starts as an output at its own value.
        for (i, t) in &g.targets {
            b = b.with_line(t.offset).as_output(pairs[*i].1);
        }
        let lines = g.targets.iter().map(|(i, t)| (*i, t.offset)).collect();
        requests.push((send(b, a.sysfs, ctx)?, lines));
    }
    Ok(Held {
        requests,
        ids: pairs.iter().map(|p| p.0.clone()).collect(),
        values: pairs.iter().map(|p| p.1).collect(),
    })
}

/// `gpioset --banner`'s line: `Setting line 'A'...`, `Setting lines 'A', and 'B'...`.
fn banner(ids: &[String]) -> String {
    match ids {
        [one] => format!("Setting line '{one}'..."),
        [first @ .., last] => {
            let list: String = first.iter().map(|i| format!("'{i}', ")).collect();
            format!("Setting lines {list}and '{last}'...")
        }
        [] => String::new(),
    }
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

/// Waits up to `timeout` (`None`: for ever) for one of the blocked signals `set`: the signal,
/// or `None` when the time is up.
fn wait_signal(set: &SigSet, timeout: Option<Duration>) -> Result<Option<Signal>, String> {
    let Some(t) = timeout else {
        return set
            .wait()
            .map(Some)
            .map_err(|e| format!("waiting for Ctrl-C: {e}"));
    };
    let deadline = std::time::Instant::now() + t;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ts = libc::timespec {
            tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
        };
        let raw: &libc::sigset_t = set.as_ref();
        // SAFETY: `raw` is a valid, initialised signal set borrowed for the call, `ts` a valid
        // timespec on the stack, and a null siginfo pointer is allowed.
        let n = unsafe { libc::sigtimedwait(raw, std::ptr::null_mut(), &ts) };
        if n >= 0 {
            return Ok(Signal::try_from(n).ok());
        }
        match nix::errno::Errno::last() {
            nix::errno::Errno::EAGAIN => return Ok(None),
            nix::errno::Errno::EINTR => continue,
            e => return Err(format!("waiting for Ctrl-C: {e}")),
        }
    }
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
        // gpioget's output form, quotes and all.
        assert_eq!(
            parse_assignment("\"GPIO 17\"=active").unwrap(),
            ("GPIO 17".into(), Value::Active)
        );
        assert!(parse_assignment("GPIO17")
            .unwrap_err()
            .contains("not LINE=VALUE"));
        assert!(parse_assignment("\"GPIO17=1")
            .unwrap_err()
            .contains("not LINE=VALUE"));
        assert!(parse_assignment("GPIO17=2")
            .unwrap_err()
            .contains("is not a value"));
        assert!(parse_assignment("=1").unwrap_err().contains("no line"));
    }

    #[test]
    fn banners_are_gpiosets() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(banner(&ids(&["GPIO22"])), "Setting line 'GPIO22'...");
        assert_eq!(
            banner(&ids(&["GPIO22", "GPIO23", "GPIO24"])),
            "Setting lines 'GPIO22', 'GPIO23', and 'GPIO24'..."
        );
        assert_eq!(banner(&ids(&["A", "B"])), "Setting lines 'A', and 'B'...");
    }

    #[test]
    fn a_signal_wait_times_out() {
        let mut set = SigSet::empty();
        set.add(Signal::SIGUSR2);
        set.thread_block().unwrap();
        assert_eq!(
            wait_signal(&set, Some(Duration::from_millis(20))).unwrap(),
            None
        );
        nix::sys::signal::raise(Signal::SIGUSR2).unwrap();
        assert_eq!(
            wait_signal(&set, Some(Duration::from_secs(5))).unwrap(),
            Some(Signal::SIGUSR2)
        );
        set.thread_unblock().unwrap();
    }
}
