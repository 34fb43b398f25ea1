//! `hwkit gpio` beside libgpiod 2.2's own tools (Debian 13's `gpiod` 2.2.1, packed by the
//! test bed with its own glibc and loader: `debian-bins` in Cargo.toml): for the same lines
//! and state, `detect`, `info`, `get` and `set --banner` print the same bytes as
//! `gpiodetect`, `gpioinfo`, `gpioget` and `gpioset`; a line held by one is refused to the
//! other; `--toggle` and `--daemonize` behave as gpioset's; the interactive prompt is driven
//! through a pseudo-terminal (Debian builds gpioset without it, so it is checked against
//! gpioset's documented answers); `--json` is parsed back.
//!
//! `detect` and `info` without a chip list every chip of the system, so the tests of this
//! file run one at a time (`serial`).

mod common;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{eventually, finish, gpio as hwkit, unique};
use gpiosim::{Bank, Direction as HogDir, Level, Sim};
use hw::{Bias, Drive, Edge, EventClock, Request, Value};
use serde::Deserialize;

/// One test at a time: the listings of every chip must see the same chips.
fn serial() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs libgpiod's `tool ARGS` (trixie's build) to the end.
fn gpiod(tool: &str, args: &[&str]) -> Output {
    hwkit_testbed::debian_bins::command("trixie", "gpiod", tool)
        .args(args)
        .output()
        .expect("run a libgpiod tool")
}

fn text(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Both succeed and print the same bytes; returns them.
fn same(tool: &str, args: &[&str], sub: &str, hwkit_args: &[&str]) -> String {
    let theirs = gpiod(tool, args);
    let mut all = vec![sub];
    all.extend_from_slice(hwkit_args);
    let ours = hwkit(&all);
    assert!(
        theirs.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    assert!(
        ours.status.success(),
        "hwkit gpio {all:?}: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_eq!(
        text(&ours),
        text(&theirs),
        "hwkit gpio {all:?} vs {tool} {args:?}"
    );
    text(&ours)
}

/// `same` with the same arguments on both sides.
fn same_args(tool: &str, sub: &str, args: &[&str]) -> String {
    same(tool, args, sub, args)
}

fn chip_path(sim: &Sim, i: usize) -> String {
    sim.chips()[i].dev_path().display().to_string()
}

fn chip_name(sim: &Sim, i: usize) -> String {
    sim.chips()[i].chip_name.clone()
}

/// Two chips: names of every length around gpioinfo's 16-column field, an unnamed line, a
/// name both chips have, a hog.
fn two_chips(tag: &str) -> (Sim, Vec<String>) {
    let n = |s: &str| format!("{s}{tag}");
    let names = vec![
        n("A"),                      // short
        n("ABCDEFGHIJ"),             // about 14 with the tag
        n("ABCDEFGHIJKLMNOPQRSTUV"), // past the column
        n("SHARED"),
    ];
    let mut a = Bank::new(8, unique("parity-a"));
    a.name(0, &names[0])
        .name(1, &names[1])
        .name(2, &names[2])
        .name(5, &names[3])
        .hog(7, "a-hog", HogDir::OutputHigh);
    let mut b = Bank::new(4, unique("parity-b"));
    b.name(1, &names[3]).name(2, "3");
    let sim = gpiosim::builder()
        .with_bank(&a)
        .with_bank(&b)
        .live()
        .unwrap();
    (sim, names)
}

#[test]
fn detect_prints_gpiodetects_bytes_and_json() {
    let _g = serial();
    let (s, _) = two_chips("d");
    let out = same_args("gpiodetect", "detect", &[]);
    let want = format!(
        "{} [{}] (8 lines)",
        chip_name(&s, 0),
        s.chips()[0].config().label
    );
    assert!(out.lines().any(|l| l == want), "{want} not in {out}");

    #[derive(Deserialize)]
    struct Doc {
        chips: Vec<ChipDoc>,
    }
    #[derive(Deserialize)]
    struct ChipDoc {
        name: String,
        label: String,
        num_lines: u32,
        path: String,
    }
    let doc: Doc = serde_json::from_slice(&hwkit(&["detect", "--json"]).stdout).unwrap();
    assert_eq!(doc.chips.len(), out.lines().count());
    let b = doc
        .chips
        .iter()
        .find(|c| c.name == chip_name(&s, 1))
        .unwrap();
    assert_eq!(
        (b.label.as_str(), b.num_lines, b.path.as_str()),
        (
            s.chips()[1].config().label.as_str(),
            4,
            chip_path(&s, 1).as_str()
        )
    );
}

#[test]
fn info_prints_gpioinfos_bytes_for_every_attribute() {
    let _g = serial();
    let (s, names) = two_chips("i");
    let chip = chip_path(&s, 0);
    // Held by this process with each attribute gpioinfo prints.
    let _out = Request::builder()
        .on_chip(&chip)
        .consumer("parity-out")
        .with_line(1)
        .as_output(Value::Active)
        .as_active_low()
        .with_drive(Drive::OpenDrain)
        .with_bias(Bias::PullUp)
        .request()
        .unwrap();
    let _edges = Request::builder()
        .on_chip(&chip)
        .consumer("parity-edges")
        .with_line(3)
        .as_input()
        .with_bias(Bias::PullDown)
        .with_edge_detection(Edge::Both)
        .with_event_clock(EventClock::Realtime)
        .with_debounce(Duration::from_millis(10))
        .with_line(4)
        .as_input()
        .with_bias(Bias::Disabled)
        .with_edge_detection(Edge::Rising)
        .with_debounce(Duration::from_micros(1500))
        .request()
        .unwrap();
    let all = same_args("gpioinfo", "info", &[]);
    assert!(all.contains("consumer=parity-edges"), "{all}");
    same_args("gpioinfo", "info", &["--unquoted"]);
    let rows = same_args("gpioinfo", "info", &["-c", &chip]);
    assert!(
        rows.contains("edges=both event-clock=realtime debounce-period=10ms"),
        "{rows}"
    );
    same_args("gpioinfo", "info", &["--unquoted", "-c", &chip]);
    // Lines by name (printed in chip and offset order, whatever the order asked), by offset.
    same_args("gpioinfo", "info", &[&names[2], &names[0], &names[1]]);
    same_args("gpioinfo", "info", &["-c", &chip, "7", &names[0], "3", "4"]);
    same_args("gpioinfo", "info", &["--unquoted", &names[3]]);
    // Chips as a number, a name and a path; a number read as a name with --by-name.
    let num = chip_name(&s, 1).trim_start_matches("gpiochip").to_string();
    for c in [num.as_str(), &chip_name(&s, 1), &chip_path(&s, 1)] {
        same_args("gpioinfo", "info", &["-c", c]);
        same_args("gpioinfo", "info", &["-c", c, "3"]);
        same_args("gpioinfo", "info", &["-c", c, "--by-name", "3"]);
    }

    #[derive(Deserialize)]
    struct Doc {
        chips: Vec<ChipDoc>,
    }
    #[derive(Deserialize)]
    struct ChipDoc {
        name: String,
        lines: Vec<LineDoc>,
    }
    #[derive(Deserialize)]
    struct LineDoc {
        offset: u32,
        name: Option<String>,
        direction: String,
        active_low: bool,
        drive: String,
        bias: Option<String>,
        edges: Option<String>,
        event_clock: String,
        debounce_period_us: u64,
        used: bool,
        consumer: Option<String>,
    }
    let doc: Doc = serde_json::from_slice(&hwkit(&["info", "--json", "-c", &chip]).stdout).unwrap();
    assert_eq!(doc.chips.len(), 1);
    assert_eq!(doc.chips[0].name, chip_name(&s, 0));
    let l = &doc.chips[0].lines;
    assert_eq!(l.len(), 8);
    assert_eq!(l[0].name.as_deref(), Some(names[0].as_str()));
    assert_eq!(l[6].name, None);
    assert!(!l[6].used && l[6].consumer.is_none());
    assert_eq!(
        (
            l[1].direction.as_str(),
            l[1].active_low,
            l[1].drive.as_str(),
            l[1].bias.as_deref(),
            l[1].consumer.as_deref()
        ),
        (
            "output",
            true,
            "open-drain",
            Some("pull-up"),
            Some("parity-out")
        )
    );
    assert_eq!(
        (
            l[3].edges.as_deref(),
            l[3].event_clock.as_str(),
            l[3].debounce_period_us,
            l[3].bias.as_deref()
        ),
        (Some("both"), "realtime", 10_000, Some("pull-down"))
    );
    assert_eq!((l[4].offset, l[4].debounce_period_us), (4, 1500));
    assert_eq!(l[7].consumer.as_deref(), Some("a-hog"));
}

#[test]
fn lines_are_found_as_libgpiod_finds_them() {
    let _g = serial();
    let (s, names) = two_chips("n");
    let shared = names[3].as_str();
    // Not strict: the first chip's line of that name, for both.
    let out = same_args("gpioinfo", "info", &[shared]);
    assert!(
        out.starts_with(&format!("{} 5\t", chip_name(&s, 0))),
        "{out}"
    );
    same_args("gpioget", "get", &[shared]);
    // Strict: both refuse the name two lines share.
    assert!(!gpiod("gpioget", &["-s", shared]).status.success());
    let e = common::err(&hwkit(&["get", "-s", shared]));
    assert!(e.contains(&format!("line '{shared}' is not unique")), "{e}");
    // A line given twice, as a name and as an offset: both refuse.
    let c = chip_path(&s, 0);
    assert!(!gpiod("gpioget", &["-c", &c, &names[0], "0"])
        .status
        .success());
    let e = common::err(&hwkit(&["get", "-c", &c, &names[0], "0"]));
    assert!(e.contains("are the same line"), "{e}");
    // Without --chip a number is a name, which no line has here.
    assert!(!gpiod("gpioget", &["5"]).status.success());
    common::err(&hwkit(&["get", "5"]));
    // Offsets past the chip, names it lacks: both refuse.
    for bad in ["8", "NOPE"] {
        assert!(!gpiod("gpioget", &["-c", &c, bad]).status.success());
        let e = common::err(&hwkit(&["get", "-c", &c, bad]));
        assert!(e.contains(bad), "{e}");
    }
}

#[test]
fn get_prints_gpiogets_bytes_and_json() {
    let _g = serial();
    let (s, names) = two_chips("g");
    let c = &s.chips()[0];
    c.set_pull(0, Level::High).unwrap();
    c.set_pull(2, Level::Low).unwrap();
    s.chips()[1].set_pull(2, Level::High).unwrap();
    let chip = chip_path(&s, 0);
    let chip1 = chip_path(&s, 1);
    let n: Vec<&str> = names.iter().map(String::as_str).collect();
    for args in [
        vec![n[0]],
        vec![n[2], n[0], n[1]],
        vec!["--numeric", n[0], n[2]],
        vec!["--unquoted", n[0], n[2]],
        vec!["-l", n[0], n[2]],
        vec!["-a", n[1]],
        vec!["-b", "pull-up", n[1]],
        vec!["-p", "10ms", "-C", "parity", n[0]],
        vec!["-c", &chip, "0", "2", n[1]],
        vec!["--by-name", "-c", &chip1, "3"],
        vec![n[0], n[3], "3"],
    ] {
        same_args("gpioget", "get", &args);
    }

    #[derive(Deserialize)]
    struct Doc {
        values: Vec<ValueDoc>,
    }
    #[derive(Deserialize)]
    struct ValueDoc {
        line: String,
        chip: String,
        offset: u32,
        active: bool,
    }
    let doc: Doc =
        serde_json::from_slice(&hwkit(&["get", "--json", &names[0], "3"]).stdout).unwrap();
    let v: Vec<(&str, &str, u32, bool)> = doc
        .values
        .iter()
        .map(|v| (v.line.as_str(), v.chip.as_str(), v.offset, v.active))
        .collect();
    let (a, b) = (chip_name(&s, 0), chip_name(&s, 1));
    assert_eq!(
        v,
        [
            (names[0].as_str(), a.as_str(), 0, true),
            ("3", b.as_str(), 2, true)
        ]
    );
}

/// Waits until line `offset` of `sim`'s chip `chip` is requested (or released).
fn wait_used(sim: &Sim, chip: usize, offset: u32, used: bool) {
    eventually("the line's use to change", || {
        common::info(sim, chip, offset).used == used
    });
}

#[test]
fn a_line_held_by_one_is_refused_to_the_other() {
    let _g = serial();
    let (s, names) = two_chips("h");
    let c = &s.chips()[0];
    // hwkit holds it: gpioget is refused, gpioinfo shows hwkit's consumer.
    let child = common::spawn_gpio(&["set", "-C", "parity-hwkit", &format!("{}=1", names[0])]);
    wait_used(&s, 0, 0, true);
    assert_eq!(c.get_level(0).unwrap(), Level::High);
    let theirs = gpiod("gpioget", &[&names[0]]);
    assert!(!theirs.status.success());
    let e = String::from_utf8_lossy(&theirs.stderr);
    assert!(e.contains("Device or resource busy"), "{e}");
    let info = same_args("gpioinfo", "info", &[&names[0]]);
    assert!(
        info.ends_with("output consumer=\"parity-hwkit\"\n"),
        "{info}"
    );
    stop(child);
    wait_used(&s, 0, 0, false);
    // gpioset holds it: hwkit is refused, naming the holder.
    let mut theirs = hwkit_testbed::debian_bins::command("trixie", "gpiod", "gpioset")
        .args(["-C", "parity-gpioset", &format!("{}=0", names[1])])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_used(&s, 0, 1, true);
    assert_eq!(c.get_level(1).unwrap(), Level::Low);
    let e = common::err(&hwkit(&["get", &names[1]]));
    assert!(e.contains("busy") && e.contains("parity-gpioset"), "{e}");
    same_args("gpioinfo", "info", &[&names[1]]);
    theirs.kill().unwrap();
    theirs.wait().unwrap();
}

/// Stops a holding `hwkit gpio set` as Ctrl-C would.
fn stop(child: std::process::Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let (status, _, stderr) = finish(child, "set");
    assert!(status.success(), "{stderr}");
}

/// The toggle period of the sampled runs below.
const TOGGLE: Duration = Duration::from_millis(300);

/// The first three levels line `offset` is driven to by the program `spawn` starts, as the
/// simulator sees them while the line is requested; the program is then killed.
///
/// A level counts once two samples in a row read it: the kernel marks a line used a moment
/// before it drives the requested value, and one sample can fall in between. Each level
/// lasts at least one [`TOGGLE`] period, so samples less than half a period apart read
/// every level at least twice. A loaded machine can stall the sampler for longer (CI once
/// saw the first level vanish); such a run proves nothing and is made again, up to five
/// times, so a tool that starts on the wrong level or skips one still fails.
fn three_levels(sim: &Sim, offset: u32, spawn: impl Fn() -> std::process::Child) -> Vec<Level> {
    for _ in 0..5 {
        if let Some(levels) = sample_three_levels(sim, offset, spawn()) {
            return levels;
        }
        wait_used(sim, 0, offset, false);
    }
    panic!("the sampler was stalled for half a {TOGGLE:?} period in five runs");
}

/// One run of [`three_levels`]: `None` when two samples were half a period apart or more.
fn sample_three_levels(
    sim: &Sim,
    offset: u32,
    mut child: std::process::Child,
) -> Option<Vec<Level>> {
    let mut seen: Vec<Level> = Vec::new();
    let mut previous: Option<Level> = None;
    let mut stalled = false;
    let end = Instant::now() + Duration::from_secs(20);
    let mut last = Instant::now();
    while seen.len() < 3 && Instant::now() < end {
        let sample = common::info(sim, 0, offset)
            .used
            .then(|| sim.chips()[0].get_level(offset).unwrap());
        if let Some(l) = sample {
            if previous == Some(l) && seen.last() != Some(&l) {
                seen.push(l);
            }
        }
        previous = sample;
        stalled |= last.elapsed() >= TOGGLE / 2;
        last = Instant::now();
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    (!stalled).then_some(seen)
}

#[test]
fn banner_and_toggle_match_gpioset() {
    let _g = serial();
    let (s, names) = two_chips("t");
    let assignments = [
        format!("{}=1", names[0]),
        format!("{}=0", names[1]),
        format!("{}=active", names[2]),
    ];
    let a: Vec<&str> = assignments.iter().map(String::as_str).collect();
    for banner in [&a[..1], &a[..]] {
        let mut args = vec!["--banner", "-t", "0"];
        args.extend_from_slice(banner);
        let out = same_args("gpioset", "set", &args);
        assert!(out.starts_with("Setting line"), "{out}");
    }
    // Toggled every period: the same levels in the same order, as the simulator sees them.
    let period = format!("{}ms", TOGGLE.as_millis());
    let toggles = ["-t", &period, a[0]];
    let mut ours = vec!["set"];
    ours.extend_from_slice(&toggles);
    let ours = three_levels(&s, 0, || common::spawn_gpio(&ours));
    wait_used(&s, 0, 0, false);
    let theirs = three_levels(&s, 0, || {
        hwkit_testbed::debian_bins::command("trixie", "gpiod", "gpioset")
            .args(toggles)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    });
    assert_eq!(ours, [Level::High, Level::Low, Level::High]);
    assert_eq!(ours, theirs);
    wait_used(&s, 0, 0, false);
    // A last period of 0: the toggles before it, then exit (both tools).
    for out in [
        hwkit(&["set", "-t", "50ms,50ms,0", a[0]]),
        gpiod("gpioset", &["-t", "50ms,50ms,0", a[0]]),
    ] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // -p makes the shorter toggle periods as long as itself.
    let start = Instant::now();
    let out = hwkit(&["set", "-p", "400ms", "-t", "10ms,0", a[0]]);
    assert!(out.status.success());
    assert!(start.elapsed() >= Duration::from_millis(400));
    // Bad periods: one line naming the period.
    let e = common::err(&hwkit(&["set", "-t", "1s,x", a[0]]));
    assert!(e.contains("invalid period 'x'"), "{e}");
}

/// The pids of processes whose command line holds `word`.
fn pids_with(word: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(word))
        })
        .collect()
}

#[test]
fn daemonize_leaves_the_line_held() {
    let _g = serial();
    let (s, names) = two_chips("z");
    let c = &s.chips()[0];
    for (who, consumer, offset) in [("hwkit", unique("zh"), 0u32), ("gpioset", unique("zg"), 1)] {
        let assignment = format!("{}=1", names[offset as usize]);
        let args = ["-z", "-C", consumer.as_str(), assignment.as_str()];
        let out = if who == "hwkit" {
            let mut v = vec!["set"];
            v.extend_from_slice(&args);
            hwkit(&v)
        } else {
            gpiod("gpioset", &args)
        };
        // The parent is gone, with nothing printed; the line stays held by the daemon.
        assert!(
            out.status.success(),
            "{who}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{who}");
        let info = common::info(&s, 0, offset);
        assert!(info.used && info.consumer == consumer, "{who}: {info:?}");
        assert_eq!(c.get_level(offset).unwrap(), Level::High, "{who}");
        let pids = pids_with(&consumer);
        assert_eq!(pids.len(), 1, "{who}: one daemon");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pids[0]),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        wait_used(&s, 0, offset, false);
    }
}

#[test]
fn interactive_commands_answer_as_gpiosets_without_a_terminal() {
    let _g = serial();
    let (s, names) = two_chips("p");
    let (a, b) = (&names[0], &names[1]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args(["gpio", "set", "-i", &format!("{a}=1"), &format!("{b}=0")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let script = format!(
        "get\nset {b}=1\nget {b}\ntoggle\nget\nset {b}=2\nsleep\nsleep 1x\nsleep 1 2\nfrob\nget NOPE\nset\n\
         toggle \"{a}\"\nget \"{a}\"\nget \"{a}\ntoggle {a} {b} {a}\nexit\n"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let (status, out, err) = finish(child, "set -i");
    assert!(status.success(), "{err}");
    let p = "gpioset> ";
    assert_eq!(
        out,
        format!(
            "{p}\"{a}\"=active \"{b}\"=inactive\n{p}{p}\"{b}\"=active\n{p}{p}\"{a}\"=inactive \"{b}\"=inactive\n\
             {p}invalid line value: '2'\n{p}a period must be specified\n{p}invalid period: '1x'\n\
             {p}only one period can be specified\n{p}unknown command: 'frob'\nTry the 'help' command\n\
             {p}unknown line: 'NOPE'\n{p}at least one GPIO line value must be specified\n\
             {p}{p}\"{a}\"=active\n{p}invalid line id: '\"{a}'\n\
             {p}too many command parameters provided\n{p}"
        )
    );
    wait_used(&s, 0, 0, false);
}

/// Reads what `master` prints, in the background, answering cursor-position queries as a
/// terminal would (line editors ask where the prompt starts).
fn reader(master: &OwnedFd) -> mpsc::Receiver<u8> {
    let mut f = std::fs::File::from(master.try_clone().unwrap());
    let mut answer = std::fs::File::from(master.try_clone().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut recent: Vec<u8> = Vec::new();
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                return;
            }
            for b in &buf[..n] {
                recent.push(*b);
                if recent.ends_with(b"\x1b[6n") {
                    let _ = answer.write_all(b"\x1b[1;1R");
                    recent.clear();
                }
                if tx.send(*b).is_err() {
                    return;
                }
            }
            let keep = recent.len().saturating_sub(4);
            recent.drain(..keep);
        }
    });
    rx
}

/// Reads from `rx` until `want` has been seen (10 s at most); returns what came.
fn expect(rx: &mpsc::Receiver<u8>, want: &str) -> String {
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&got).contains(want) {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(b) => got.push(b),
            Err(_) => panic!(
                "{want:?} never came; got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Polls `f` for up to 10 s; fails showing `out`, what the terminal showed.
fn until(out: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(
            Instant::now() < end,
            "the line did not change; the terminal showed {out:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn interactive_mode_edits_completes_and_recalls_on_a_terminal() {
    let _g = serial();
    let mut a = Bank::new(2, unique("parity-pty"));
    a.name(0, "alpha").name(1, "beta");
    let s = gpiosim::builder().with_bank(&a).live().unwrap();
    let c = &s.chips()[0];
    // A terminal of the usual size: line editing needs columns.
    let size = nix::pty::Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).unwrap();
    let slave = || Stdio::from(pty.slave.try_clone().unwrap());
    let chip = chip_path(&s, 0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hwkit"))
        .args(["gpio", "set", "-i", "-c", &chip, "alpha=0", "beta=0"])
        // The guest's TERM is dumb, for which line editors edit nothing.
        .env("TERM", "xterm")
        .stdin(slave())
        .stdout(slave())
        .stderr(slave())
        .spawn()
        .unwrap();
    let rx = reader(&pty.master);
    let mut m = std::fs::File::from(pty.master.try_clone().unwrap());
    expect(&rx, "gpioset> ");
    // Tab completes the command and the line name.
    m.write_all(b"tog\tal\t\r").unwrap();
    let out = expect(&rx, "gpioset> ");
    until(&out, || c.get_level(0).unwrap() == Level::High);
    // Up arrow recalls the last command.
    m.write_all(b"\x1b[A\r").unwrap();
    let out = expect(&rx, "gpioset> ");
    until(&out, || c.get_level(0).unwrap() == Level::Low);
    // set completes names with '=' and values.
    m.write_all(b"set be\tac\t\r").unwrap();
    let out = expect(&rx, "gpioset> ");
    until(&out, || c.get_level(1).unwrap() == Level::High);
    m.write_all(b"get\r").unwrap();
    let out = expect(&rx, "\"alpha\"=inactive \"beta\"=active");
    assert!(out.contains("get"), "{out}");
    m.write_all(b"help\r").unwrap();
    expect(&rx, "Toggle the output values of the given requested lines");
    m.write_all(b"exit\r").unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < end, "exit did not end the prompt");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    assert!(!common::info(&s, 0, 0).used, "released after exit");
}

#[test]
fn chips_refusing_access_are_skipped_when_no_chip_is_named() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let _g = serial();
    let name = unique("DUP");
    let mut a = Bank::new(4, unique("parity-noaccess"));
    a.name(1, &name);
    let mut b = Bank::new(4, unique("parity-open"));
    b.name(2, &name);
    let s = gpiosim::builder()
        .with_bank(&a)
        .with_bank(&b)
        .live()
        .unwrap();
    let mode = |i: usize, m: u32| {
        std::fs::set_permissions(s.chips()[i].dev_path(), std::fs::Permissions::from_mode(m))
            .unwrap()
    };
    // The first chip is root's only; the second anyone's.
    mode(0, 0o600);
    mode(1, 0o666);
    // An unprivileged user, running a copy of hwkit it can execute.
    let dir = std::env::temp_dir().join(unique("hwkit-eacces"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.join("hwkit");
    std::fs::copy(env!("CARGO_BIN_EXE_hwkit"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let nobody = |mut c: Command| c.uid(65534).gid(65534).output().unwrap();
    let mut ours = Command::new(&exe);
    ours.args(["gpio", "get", &name]);
    let ours = nobody(ours);
    let mut theirs = hwkit_testbed::debian_bins::command("trixie", "gpiod", "gpioget");
    theirs.arg(&name);
    let theirs = nobody(theirs);
    // Named: the chip's refusal is the error.
    let mut named = Command::new(&exe);
    named.args(["gpio", "get", "-c", &chip_path(&s, 0), "1"]);
    let named = nobody(named);
    // Listings: the chips that open are listed, the other is reported, and the status fails.
    let mut listings = Vec::new();
    for (sub, tool) in [("detect", "gpiodetect"), ("info", "gpioinfo")] {
        let mut ours = Command::new(&exe);
        ours.args(["gpio", sub]);
        let theirs = hwkit_testbed::debian_bins::command("trixie", "gpiod", tool);
        listings.push((sub, nobody(ours), nobody(theirs)));
    }
    std::fs::remove_dir_all(&dir).unwrap();
    for (sub, ours, theirs) in &listings {
        assert!(!theirs.status.success(), "{sub}");
        let e = common::err(ours);
        assert!(e.contains("permission denied"), "{sub}: {e}");
        assert_eq!(text(ours), text(theirs), "{sub}");
        let listed = |i: usize| {
            let head = format!("{} ", chip_name(&s, i));
            text(ours).lines().any(|l| l.starts_with(&head))
        };
        assert!(listed(1) && !listed(0), "{sub}: {}", text(ours));
    }
    assert!(
        theirs.status.success(),
        "gpioget as nobody: {}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    assert!(
        ours.status.success(),
        "hwkit as nobody: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_eq!(text(&ours), format!("\"{name}\"=inactive\n"));
    assert_eq!(text(&ours), text(&theirs));
    let e = common::err(&named);
    assert!(e.contains("permission denied"), "{e}");
}

/// Runs a monitor (`cmd`, which exits by itself after its events) on lines `watch` of the
/// first chip, pulling `pulls` in turn once they are requested; returns its stdout.
fn monitor(sim: &Sim, mut cmd: Command, watch: &[u32], pulls: &[(u32, Level)]) -> String {
    let c = &sim.chips()[0];
    // The kernel tells line watchers about a request once its edge detection is set up.
    let watcher = hw::Chip::open(c.dev_path()).unwrap();
    for &o in watch {
        c.set_pull(o, Level::Low).unwrap();
        watcher.watch_line_info(o).unwrap();
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in watch {
        common::wait_requested(&watcher, "the monitor requested its lines");
    }
    for &(o, l) in pulls {
        c.set_pull(o, l).unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    let (status, out, err) = finish(child, "a monitor");
    assert!(status.success(), "{err}");
    for &o in watch {
        wait_used(sim, 0, o, false);
    }
    out
}

fn hwkit_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hwkit"));
    c.arg("gpio").arg("mon").args(args);
    c
}

fn gpiomon_cmd(args: &[&str]) -> Command {
    let mut c = hwkit_testbed::debian_bins::command("trixie", "gpiod", "gpiomon");
    c.args(args);
    c
}

#[test]
fn mon_prints_gpiomons_lines() {
    let _g = serial();
    let (s, names) = two_chips("m");
    let chip = chip_path(&s, 0);
    let (a, b) = (names[0].as_str(), names[1].as_str());
    let pulls = [
        (0, Level::High),
        (1, Level::High),
        (0, Level::Low),
        (1, Level::Low),
    ];
    let both = |args: &[&str], watch: &[u32], pulls: &[(u32, Level)]| {
        (
            monitor(&s, hwkit_cmd(args), watch, pulls),
            monitor(&s, gpiomon_cmd(args), watch, pulls),
        )
    };
    // Formats without timestamps: the same bytes, events in the same order.
    for args in [
        vec!["-n", "4", "-F", "%c %o %l %e %E %% %x [%l]", a, b],
        vec!["-n", "2", "-e", "falling", "-F", "%o:%E", a, b],
        vec!["-n", "4", "-c", &chip, "--banner", "-F", "%l %E", "0", "1"],
        vec!["-n", "2", "-c", &chip, "-F", "%l %E %", "6"],
    ] {
        let watch: Vec<u32> = if args.contains(&"6") {
            vec![6]
        } else {
            vec![0, 1]
        };
        let pulls: Vec<(u32, Level)> = if watch == [6] {
            vec![(6, Level::High), (6, Level::Low)]
        } else {
            pulls.to_vec()
        };
        let (ours, theirs) = both(&args, &watch, &pulls);
        assert_eq!(ours, theirs, "{args:?}");
        assert!(!ours.is_empty());
    }
    // The default line: the same but for the timestamp, which is each run's own.
    let tail = |out: &str| -> Vec<String> {
        out.lines()
            .map(|l| l.split_once('\t').map_or(l, |(_, t)| t).to_owned())
            .collect()
    };
    for args in [
        vec!["-n", "4", a, b],
        vec!["-n", "4", "--unquoted", a, b],
        vec!["-n", "4", "-c", &chip, "0", b],
        vec!["-n", "2", "-c", &chip, "6"],
    ] {
        let watch: Vec<u32> = if args.contains(&"6") {
            vec![6]
        } else {
            vec![0, 1]
        };
        let pulls: Vec<(u32, Level)> = if watch == [6] {
            vec![(6, Level::High), (6, Level::Low)]
        } else {
            pulls.to_vec()
        };
        let (ours, theirs) = both(&args, &watch, &pulls);
        assert_eq!(tail(&ours), tail(&theirs), "{args:?}");
        // `<sec>.<9 digits>` before the tab, as gpiomon's.
        let ts = ours.lines().next().unwrap().split('\t').next().unwrap();
        let (sec, nsec) = ts.split_once('.').unwrap();
        assert!(sec.parse::<u64>().is_ok() && nsec.len() == 9, "{ours}");
    }
    // UTC timestamps: the same shape (`2026-11-30T20:00:00.123456789Z`).
    let (ours, theirs) = both(&["-n", "1", "--utc", a], &[0], &[(0, Level::High)]);
    let shape = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { c })
            .collect()
    };
    assert_eq!(shape(&ours), shape(&theirs));
    assert!(ours.contains("T") && ours.contains("Z\trising\t"), "{ours}");
    // Quiet prints nothing; an idle timeout ends both.
    let (ours, theirs) = both(
        &["-q", "--idle-timeout", "300ms", a],
        &[0],
        &[(0, Level::High)],
    );
    assert_eq!((ours.as_str(), theirs.as_str()), ("", ""));
    // Debounce: both set it, as line info shows (while they hold the line: the idle timeout
    // leaves a stalled test time to read it).
    for cmd in [
        hwkit_cmd(&["-p", "5ms", "--idle-timeout", "3s", a]),
        gpiomon_cmd(&["-p", "5ms", "--idle-timeout", "3s", a]),
    ] {
        let mut cmd = cmd;
        let child = cmd.stdout(Stdio::null()).spawn().unwrap();
        wait_used(&s, 0, 0, true);
        eventually("the debounce period", || {
            common::info(&s, 0, 0).debounce == Some(Duration::from_millis(5))
        });
        let (status, _, _) = finish(child, "mon -p");
        assert!(status.success());
        wait_used(&s, 0, 0, false);
    }
}

/// Runs a notifier (`cmd`, with `--banner` and an idle timeout among its arguments) on line 0
/// of the first chip while this process requests it, reconfigures it and releases it;
/// returns its stdout after the banner.
fn notifier(sim: &Sim, mut cmd: Command) -> String {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    out.read_line(&mut banner).unwrap();
    assert!(banner.starts_with("Watching line"), "{banner:?}");
    let mut req = Request::builder()
        .on_chip(sim.chips()[0].dev_path())
        .consumer("parity-n")
        .with_line(0)
        .as_output(Value::Active)
        .request()
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    req.set_as_input(0).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    drop(req);
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let (status, _, err) = finish(child, "a notifier");
    assert!(status.success(), "{err}");
    rest
}

#[test]
fn notify_prints_gpionotifys_lines_and_json() {
    let _g = serial();
    let (s, names) = two_chips("w");
    let a = names[0].as_str();
    let chip = chip_path(&s, 0);
    let both = |args: &[&str]| {
        let mut ours = Command::new(env!("CARGO_BIN_EXE_hwkit"));
        ours.args(["gpio", "notify", "--banner", "--idle-timeout", "5s"])
            .args(args);
        let mut theirs = hwkit_testbed::debian_bins::command("trixie", "gpiod", "gpionotify");
        theirs.args(["--banner", "--idle-timeout", "5s"]).args(args);
        (notifier(&s, ours), notifier(&s, theirs))
    };
    for args in [
        vec!["-n", "3", "-F", "%c %o %l %e %E [%a] %C %% %x", a],
        vec!["-n", "3", "--unquoted", "-F", "%a|%C", a],
        vec!["-n", "1", "-e", "released", "-F", "%E %l", a],
        vec![
            "-n",
            "1",
            "-e",
            "reconfigured",
            "-c",
            &chip,
            "-F",
            "%E %o",
            "0",
        ],
    ] {
        let (ours, theirs) = both(&args);
        assert_eq!(ours, theirs, "{args:?}");
        assert!(!ours.is_empty());
    }
    let tail = |out: &str| -> Vec<String> {
        out.lines()
            .map(|l| l.split_once('\t').map_or(l, |(_, t)| t).to_owned())
            .collect()
    };
    for args in [
        vec!["-n", "3", a],
        vec!["-n", "3", "-c", &chip, "0"],
        vec!["-n", "3", "--unquoted", a],
    ] {
        let (ours, theirs) = both(&args);
        assert_eq!(tail(&ours), tail(&theirs), "{args:?}");
        assert_eq!(
            tail(&ours)
                .iter()
                .map(|t| t.split('\t').next().unwrap().to_owned())
                .collect::<Vec<_>>(),
            ["requested", "reconfigured", "released"]
        );
    }

    #[derive(Deserialize)]
    struct Change {
        timestamp_ns: u64,
        event: String,
        line: LineDoc,
    }
    #[derive(Deserialize)]
    struct LineDoc {
        chip: String,
        offset: u32,
        name: Option<String>,
        direction: String,
        used: bool,
        consumer: Option<String>,
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hwkit"));
    cmd.args([
        "gpio",
        "notify",
        "--banner",
        "--idle-timeout",
        "5s",
        "-n",
        "3",
        "--json",
        a,
    ]);
    let out = notifier(&s, cmd);
    let changes: Vec<Change> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, &str, bool, Option<&str>)> = changes
        .iter()
        .map(|c| {
            assert_eq!(
                (c.line.chip.as_str(), c.line.offset, c.line.name.as_deref()),
                (chip_name(&s, 0).as_str(), 0, Some(a))
            );
            (
                c.event.as_str(),
                c.line.direction.as_str(),
                c.line.used,
                c.line.consumer.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("requested", "output", true, Some("parity-n")),
            ("reconfigured", "input", true, Some("parity-n")),
            ("released", "input", false, None),
        ]
    );
    assert!(changes[0].timestamp_ns <= changes[2].timestamp_ns);
}
