//! `hwkit gpio --backend libgpiod|libgpiod-v1|libgpiod-v2` in the VM, with each
//! distribution's own libgpiod: the system's 1.x (Debian 12's `libgpiod.so.2`), and Debian
//! 13's and sid's 2.x, which the test bed packs (`debian-libs` in Cargo.toml) and hwkit finds
//! as a system would, by soname through `LD_LIBRARY_PATH`.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{err, finish, info, ok, unique, wait_requested};
use gpiosim::{Bank, Level, Sim};

/// The Debian suites whose `libgpiod3` (libgpiod 2.x) the test bed packs.
#[cfg(target_arch = "x86_64")]
const SUITES_2X: &[&str] = &["trixie", "sid"];
/// On the ARM VM (TCG with one CPU, several times slower) one suite keeps CI's cost down:
/// trixie's, the one Raspberry Pi OS trixie ships (sid's is the same code, tested on x86-64).
#[cfg(not(target_arch = "x86_64"))]
const SUITES_2X: &[&str] = &["trixie"];

/// `hwkit gpio ARGS` with `suite`'s libgpiod.so.3 findable (`None`: the system's libraries).
fn hwkit(suite: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hwkit"));
    cmd.arg("gpio").args(args);
    if let Some(suite) = suite {
        let lib = hwkit_testbed::debian_libs::guest_path(suite, "libgpiod.so.3");
        assert!(lib.exists(), "{} (packed by the test bed)", lib.display());
        cmd.env("LD_LIBRARY_PATH", lib.parent().unwrap());
    }
    cmd
}

fn run(suite: Option<&str>, args: &[&str]) -> Output {
    hwkit(suite, args).output().expect("run hwkit")
}

fn sim() -> Sim {
    gpiosim::builder()
        .with_bank(&Bank::new(8, unique("gpiod-cli")))
        .live()
        .unwrap()
}

fn chip(s: &Sim) -> String {
    s.chips()[0].dev_path().display().to_string()
}

/// A watcher of line `offset`'s info: [`wait_requested`] returns once a request of it is
/// complete (a debug hwkit under TCG beside other tests can take seconds to start).
fn watch(s: &Sim, offset: u32) -> hw::Chip {
    let watcher = hw::Chip::open(s.chips()[0].dev_path()).unwrap();
    watcher.watch_line_info(offset).unwrap();
    watcher
}

/// Whether the kernel has uAPI v1, read once: its symbol table is slow to read under TCG.
fn has_uapi_v1() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(hwkit_testbed::sim::kernel_has_uapi_v1)
}

/// Every (library, backend) pair to run a check with: the system's 1.x where the kernel has
/// the uAPI v1 it speaks, then each suite's 2.x, asked for by version and found by soname.
fn choices() -> Vec<(Option<&'static str>, &'static str)> {
    let mut out = Vec::new();
    if has_uapi_v1() {
        out.push((None, "libgpiod-v1"));
    }
    for &suite in SUITES_2X {
        out.push((Some(suite), "libgpiod-v2"));
    }
    out
}

#[test]
fn get_and_set_go_through_each_libgpiod() {
    for (suite, backend) in choices() {
        let s = sim();
        let c = &s.chips()[0];
        c.set_pull(2, Level::High).unwrap();
        let out = ok(&run(
            suite,
            &["--backend", backend, "get", "-c", &chip(&s), "2", "3"],
        ));
        assert_eq!(
            out.trim(),
            "\"2\"=active \"3\"=inactive",
            "{suite:?} {backend}"
        );
        let watcher = watch(&s, 6);
        let child = hwkit(
            suite,
            &[
                "--backend",
                backend,
                "set",
                "-c",
                &chip(&s),
                "--hold",
                "3",
                "5=1",
                "6=0",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        wait_requested(&watcher, "hwkit set requested the lines");
        assert_eq!(c.get_level(5).unwrap(), Level::High, "{suite:?} {backend}");
        assert_eq!(info(&s, 0, 5).consumer, "hwkit");
        let (status, _, stderr) = finish(child, "hwkit gpio set --hold");
        assert!(status.success(), "{suite:?} {backend}: {stderr}");
        assert!(!info(&s, 0, 5).used, "released after --hold");
    }
}

#[test]
fn mon_reports_edges_through_libgpiod_2_with_debounce() {
    for &suite in SUITES_2X {
        let s = sim();
        let watcher = watch(&s, 4);
        let child = hwkit(
            Some(suite),
            &[
                "--backend",
                "libgpiod-v2",
                "mon",
                "-c",
                &chip(&s),
                "--debounce-us",
                "10",
                "--num-events",
                "1",
                "--timeout",
                "20",
                "4",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        wait_requested(&watcher, "hwkit mon requested the line");
        assert_eq!(info(&s, 0, 4).debounce, Some(Duration::from_micros(10)));
        s.chips()[0].set_pull(4, Level::High).unwrap();
        let (status, out, stderr) = finish(child, "mon");
        assert!(status.success(), "{suite}: {stderr}");
        assert!(out.contains("rising"), "{suite}: {out}");
    }
}

#[test]
fn plain_libgpiod_takes_2x_where_the_system_has_it_else_1x() {
    // Debounce tells them apart: libgpiod 1.x has no such setting and says so.
    let s = sim();
    let args = [
        "--backend",
        "libgpiod",
        "get",
        "-c",
        &chip(&s),
        "--bias",
        "pull-up",
        "1",
    ];
    for &suite in SUITES_2X {
        let out = ok(&run(Some(suite), &args));
        assert_eq!(out.trim(), "\"1\"=active", "{suite}");
    }
    let mon = |suite: Option<&str>| {
        let child = hwkit(
            suite,
            &[
                "--backend",
                "libgpiod",
                "mon",
                "-c",
                &chip(&s),
                "--debounce-us",
                "10",
                "--timeout",
                "0.2",
                "2",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        finish(child, "mon")
    };
    // With trixie's libgpiod.so.3 findable, `libgpiod` is 2.x: debounce is accepted.
    let (status, _, stderr) = mon(Some("trixie"));
    assert!(status.success(), "{stderr}");
    // With only the system's 1.x, it is 1.x: debounce is refused, naming the setting (the
    // settings are checked before the chip, so on kernels without uAPI v1 as well).
    let (status, _, stderr) = mon(None);
    assert!(!status.success());
    assert!(stderr.contains("debounce"), "{stderr}");
    assert!(
        stderr.contains("libgpiod 1.x has no such setting"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
}

#[test]
fn a_missing_libgpiod_and_a_contradiction_are_clear_errors() {
    let s = sim();
    // Only 1.x on the system: asking for 2.x names the package to install.
    let e = err(&run(
        None,
        &["--backend", "libgpiod-v2", "get", "-c", &chip(&s), "0"],
    ));
    assert!(e.contains("loading libgpiod.so.3"), "{e}");
    assert!(
        e.contains("only libgpiod.so.2 (libgpiod 1.x) is installed"),
        "{e}"
    );
    assert!(e.contains("apt-get install libgpiod3"), "{e}");
    assert!(!info(&s, 0, 0).used);
    let e = err(&run(
        Some("sid"),
        &[
            "--backend",
            "libgpiod",
            "get",
            "--sysfs",
            "-c",
            &chip(&s),
            "0",
        ],
    ));
    assert!(e.contains("--sysfs and --backend libgpiod"), "{e}");
}
